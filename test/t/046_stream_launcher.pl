# The streaming-table launcher survives configuration reloads and DROP
# DATABASE of a database with running streams (its database list used to
# outlive the transaction it was built in), and stream workers apply a
# configuration reload.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('launcher', broker => $broker);

sub wait_for { return wait_for_value($node, @_, 60); }

sub stream_sql
{
	my ($name) = @_;
	return qq{
	CREATE FOREIGN TABLE ${name}_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic '$name', format 'json');
	CREATE TABLE $name (event_id bigint, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('$name', source => '${name}_topic');
	};
}

my %produced;
sub produce_more
{
	my ($topic, $n) = @_;
	$produced{$topic} //= 0;
	produce(broker => $broker, topic => $topic, count => $n, start => $produced{$topic}, json => 1);
	$produced{$topic} += $n;
}

my $server = qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
};
for my $t (qw(keep1 keep2 doomed))
{
	$broker->create_topic($t, 1);
	produce_more($t, 100);
}
$node->safe_psql('postgres', $server . stream_sql('keep1') . stream_sql('keep2'));
$node->safe_psql('postgres', 'CREATE DATABASE doomed');
$node->safe_psql('doomed', 'CREATE EXTENSION kafka_fdw');
$node->safe_psql('doomed', $server . stream_sql('doomed'));

ok(wait_for('postgres', 'SELECT (SELECT count(*) FROM keep1) + (SELECT count(*) FROM keep2)', '200', 'keep'),
	'two streams ingest in postgres');
ok(wait_for('doomed', 'SELECT count(*) FROM doomed', '100', 'doomed'), 'a stream ingests in doomed');

my $launcher_sql = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream launcher'};
my $launcher = $node->safe_psql('postgres', $launcher_sql);
ok($launcher, 'launcher running');

sub no_crash
{
	my ($what) = @_;
	my @crashes = grep { /terminated by signal/ } split /\n/, slurp_file($node->logfile);
	is(scalar(@crashes), 0, "$what: no process terminated by a signal") or diag(join("\n", @crashes));
	my ($ret, $pid) = $node->psql('postgres', $launcher_sql);
	is($pid, $launcher, "$what: the same launcher runs");
}

# Reloads after the launcher's periodic probe round (every 10 s) rebuilt its
# database list.
for my $round (1 .. 3)
{
	sleep 11;
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	sleep 1;
	no_crash("reload $round");
}

# Stream workers apply a reload: at log_min_messages debug5 each logs the
# start of its next transaction.
my @workers = split /\n/, $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker' ORDER BY pid});
is(scalar(@workers), 3, 'three stream workers');
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET log_min_messages = debug5; SELECT pg_reload_conf();});
my %seen;
for (1 .. 300)
{
	my $log = substr(slurp_file($node->logfile), $log_offset);
	$seen{$_} = 1 for grep { $log =~ /\[$_\] .*DEBUG:  StartTransaction/ } @workers;
	last if keys %seen == @workers;
	usleep(100_000);
}
$node->safe_psql('postgres', q{ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf();});
ok($seen{$_}, "worker $_ applied the reload") for @workers;

# DROP DATABASE with a running stream, while the streams of postgres go on
for my $t (qw(keep1 keep2 doomed))
{
	produce_more($t, 100);
}
ok(wait_for('doomed', 'SELECT count(*) FROM doomed', '200', 'doomed again'), 'doomed ingests');
my $doomed_oid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'doomed'});
my ($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE doomed');
is($ret, 0, 'DROP DATABASE with a running stream') or diag($err);
sleep 11;
for my $t (qw(keep1 keep2))
{
	produce_more($t, 100);
}
ok(wait_for('postgres', 'SELECT (SELECT count(*) FROM keep1) + (SELECT count(*) FROM keep2)', '600', 'keep after drop'),
	'the streams of postgres keep ingesting');
ok(wait_for('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'}, '2',
	'workers after drop'), 'two stream workers left');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
sleep 1;
no_crash('DROP DATABASE');
# the launcher forgets the streams of the dropped database (at most one
# worker may have tried before it noticed)
my @tries = grep { /FATAL:  database $doomed_oid does not exist/ } split /\n/, slurp_file($node->logfile);
ok(@tries <= 1, 'no worker started again and again for the dropped database') or diag(join("\n", @tries));

done_testing();
