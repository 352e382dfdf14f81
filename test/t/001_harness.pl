# The test harness itself: the loopback broker serves real Kafka clients,
# produce.py writes what it claims, and broker_down/broker_up really cut and
# restore the cluster.  If this fails, no other TAP result means anything.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $broker = start_broker(brokers => 3);
my $bootstrap = $broker->bootstrap;
like($bootstrap, qr/^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}$/,
	'three brokers on loopback');
is($broker->ctl('ping'), 'ok pong', 'control port answers');

create_topic($broker, 'harness', 4);
like($broker->ctl_reply('create_topic harness 4'), qr/^error TOPIC_ALREADY_EXISTS/,
	'creating an existing topic is refused');
like($broker->ctl_reply('no_such_command'), qr/^error unknown command/,
	'unknown control command is refused');
ok(!eval { $broker->ctl('broker_down 9'); 1 }, 'ctl dies on an error reply');

# kcat sees the topic with its four partitions.
my ($ok, $out, $err) = run_cmd([ 'kcat', '-L', '-b', $bootstrap, '-t', 'harness', '-m', '5' ]);
ok($ok, 'kcat reads metadata') or diag $err;
like($out, qr/topic "harness" with 4 partitions/, 'topic has 4 partitions');

# produce.py writes 1000 records, 250 per partition.
my $sent = produce(broker => $broker, topic => 'harness', count => 1000,
	partitions => 4, md5 => 1, timestamp_base => 1700000000000);
is($sent->{count}, 1000, 'produce.py delivered 1000 records');
is_deeply($sent->{partitions}, { 0 => 250, 1 => 250, 2 => 250, 3 => 250 },
	'records spread over the four partitions');

# kcat, an independent consumer, reads exactly those records back.
($ok, $out, $err) = run_cmd(
	[ 'kcat', '-C', '-b', $bootstrap, '-t', 'harness', '-e', '-q', '-f', '%p %o\n' ]);
ok($ok, 'kcat consumed the topic') or diag $err;
my @lines = split /\n/, $out;
is(scalar(@lines), 1000, 'kcat read 1000 records');
my %per_partition;
my %max_offset;
foreach (@lines)
{
	my ($p, $o) = split / /;
	$per_partition{$p}++;
	$max_offset{$p} = $o if !defined $max_offset{$p} || $o > $max_offset{$p};
}
is_deeply(\%per_partition, { 0 => 250, 1 => 250, 2 => 250, 3 => 250 },
	'kcat sees 250 records per partition');
is_deeply(\%max_offset, { 0 => 249, 1 => 249, 2 => 249, 3 => 249 },
	'offsets run from 0 to 249 in each partition');

# The canonical checksum computed by the producer matches a read-back.
my $read = topic_checksum(broker => $broker, topic => 'harness');
is($read->{count}, 1000, 'checksum read saw 1000 records');
is($read->{md5}, $sent->{md5}, 'read-back checksum equals the produced one');

# Payloads survive: key and value of record 7 (partition 3, offset 1).
($ok, $out, $err) = run_cmd(
	[ 'kcat', '-C', '-b', $bootstrap, '-t', 'harness', '-p', '3', '-o', '1',
	  '-c', '1', '-e', '-q', '-f', '%k|%s|%T\n' ]);
is($out, "key-7|message-7|1700000007000\n", 'key, value and timestamp as produced');

# broker_down on every broker makes the cluster unreachable ...
$broker->ctl('broker_down all');
($ok, $out, $err) = run_cmd([ 'kcat', '-L', '-b', $bootstrap, '-m', '2' ], 60);
ok(!$ok, 'kcat -L fails with all brokers down');
like($err, qr/Connection refused|transport failure|Failed to acquire metadata/i,
	'kcat reports the brokers as unreachable');

# ... and broker_up brings it back.
$broker->ctl('broker_up all');
($ok, $out, $err) = run_cmd([ 'kcat', '-L', '-b', $bootstrap, '-t', 'harness', '-m', '10' ]);
ok($ok, 'kcat -L works again after broker_up') or diag $err;
like($out, qr/topic "harness" with 4 partitions/, 'metadata is back');

# One broker down: its partitions keep their leader (the mock does not fail
# over), so a consumer still reaches the others.
$broker->ctl('broker_down 1');
($ok, $out, $err) = run_cmd([ 'kcat', '-L', '-b', $bootstrap, '-m', '10' ]);
ok($ok, 'metadata still served with one broker down') or diag $err;
$broker->ctl('broker_up 1');

# A PostgreSQL node with kafka_fdw, once the extension is installed.
my $libdir = `pg_config --pkglibdir`;
chomp $libdir;
SKIP:
{
	skip 'kafka_fdw is not installed (make install)', 2
	  unless -f "$libdir/kafka_fdw.so";
	my $node = new_node('harness', broker => $broker);
	is($node->safe_psql('postgres',
			"SELECT extname FROM pg_extension WHERE extname = 'kafka_fdw'"),
		'kafka_fdw', 'CREATE EXTENSION kafka_fdw on a preloaded node');
	is($node->safe_psql('postgres', 'SHOW kafka_fdw_test.bootstrap_servers'),
		$bootstrap, 'node knows the broker address');
	$node->stop;
}

$broker->stop;
done_testing();
