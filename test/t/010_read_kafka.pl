# read_kafka under faults: aged-out offsets (failOnDataLoss), cancel while
# the broker is down, connect timeouts, SASL failing fast, bounded memory on
# a large compressed topic, librdkafka handles freed on ERROR, and secrets
# kept out of the server log even with librdkafka debugging on.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 3);
my $bs = $broker->bootstrap;
my $node = new_node('read', broker => $broker,
	conf => "log_min_messages = debug1\nstatement_timeout = '120s'");

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE SERVER slow FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', connect_timeout '30');
});

# pid of the backend running a query matching $pattern (waits for it).
sub backend_running
{
	my ($pattern) = @_;
	for (1 .. 200)
	{
		my $pid = $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE query LIKE '$pattern' AND pid <> pg_backend_pid() AND state = 'active' LIMIT 1");
		return $pid if $pid;
		usleep(50_000);
	}
	return undef;
}

###########################################################################
# Offsets that aged out.  The broker keeps about 5 MiB per partition: 12 MB
# of records moves the low watermark.
create_topic($broker, 'aged', 1);
produce(broker => $broker, topic => 'aged', count => 12000, value_size => 1000,
	partition => 0, compression => 'none');
my ($low, $high) = split /\|/, $node->safe_psql('postgres',
	"SELECT min(\"offset\"), max(\"offset\") + 1 FROM kafka.read_kafka(server => 'k', subscribe => 'aged')");
cmp_ok($low, '>', 0, "retention moved the low watermark to $low");
is($high, 12000, 'high watermark is the record count');

my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'aged', startingOffsets => '{"aged":{"0":100}}')});
isnt($ret, 0, 'failOnDataLoss (default true) refuses aged-out offsets');
like($err, qr/offsets 100 to \d+ of aged\[0\] are no longer available/, 'error names the lost range');
like($err, qr/failOnDataLoss => false/, 'hint says how to skip');

($ret, $out, $err) = $node->psql('postgres',
	q{SELECT count(*), min("offset") FROM kafka.read_kafka(server => 'k', subscribe => 'aged', startingOffsets => '{"aged":{"0":100}}', failOnDataLoss => false)});
is($ret, 0, 'failOnDataLoss => false reads');
is($out, ($high - $low) . "|$low", 'it starts at the low watermark and reads the rest');
like($err, qr/WARNING:  skipped offsets 100 to @{[ $low - 1 ]} of aged\[0\]: no longer available/,
	'the skipped range is reported');

###########################################################################
# Cancel while the brokers are down: during the metadata wait, and in the
# middle of consuming.
create_topic($broker, 'midread', 4);
produce(broker => $broker, topic => 'midread', count => 40000, partitions => 4, value_size => 200);

for my $id (1 .. 3) { $broker->ctl("broker_down $id"); }
my ($h, $hout, $herr) = start_psql($node,
	"SELECT count(*) FROM kafka.read_kafka(server => 'slow', subscribe => 'midread')");
my $pid = backend_running('%read_kafka%midread%');
ok($pid, 'read is waiting for the (down) brokers');
usleep(500_000);
my $t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$h->finish;
my $elapsed = time - $t0;
cmp_ok($elapsed, '<', 1.0, sprintf('cancel during connect returned in %.2f s', $elapsed));
like($$herr, qr/canceling statement due to user request/, 'cancelled, not failed');
for my $id (1 .. 3) { $broker->ctl("broker_up $id"); }

# Mid-read: small fetch queues and a slow consumer so the reader runs dry
# once the brokers go away, then waits for records it was promised.
($h, $hout, $herr) = start_psql($node, q{SELECT count(pg_sleep(0.0002)) FROM kafka.read_kafka(server => 'slow', subscribe => 'midread', options => '{"queued.min.messages": 1000, "queued.max.messages.kbytes": 256, "fetch.message.max.bytes": 20000}')});
$pid = backend_running('%pg_sleep%midread%');
ok($pid, 'slow read is running');
usleep(700_000);
for my $id (1 .. 3) { $broker->ctl("broker_down $id"); }
usleep(1_500_000);
ok($h->pumpable, 'the read does not end on a timeout while the brokers are down');
$t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$h->finish;
$elapsed = time - $t0;
cmp_ok($elapsed, '<', 1.0, sprintf('cancel mid-read with brokers down returned in %.2f s', $elapsed));
like($$herr, qr/canceling statement due to user request/, 'mid-read cancel');
for my $id (1 .. 3) { $broker->ctl("broker_up $id"); }

# statement_timeout works the same way.
for my $id (1 .. 3) { $broker->ctl("broker_down $id"); }
my $ok;
($elapsed, $ok, $out, $err) = timed_psql($node,
	"SET statement_timeout = '1s'; SELECT count(*) FROM kafka.read_kafka(server => 'slow', subscribe => 'midread')");
ok(!$ok, 'statement_timeout stops a read against down brokers');
like($err, qr/canceling statement due to statement timeout/, 'statement timeout message');
cmp_ok($elapsed, '<', 2.0, sprintf('statement_timeout of 1 s took %.2f s', $elapsed));
for my $id (1 .. 3) { $broker->ctl("broker_up $id"); }

# After the brokers return, the same read completes with every record.
is($node->safe_psql('postgres',
	"SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'midread')"),
	'40000', 'read after brokers came back is complete');

###########################################################################
# Unreachable brokers: an error after connect_timeout naming the servers.
$node->safe_psql('postgres', q{CREATE SERVER nowhere FOREIGN DATA WRAPPER kafka_fdw
	OPTIONS (bootstrap_servers '127.0.0.1:1,127.0.0.1:2', connect_timeout '2')});
($elapsed, $ok, $out, $err) = timed_psql($node,
	"SELECT count(*) FROM kafka.read_kafka(server => 'nowhere', subscribe => 't')");
ok(!$ok, 'unreachable brokers fail');
like($err, qr/could not reach kafka brokers "127\.0\.0\.1:1,127\.0\.0\.1:2"/, 'error names the servers');
cmp_ok($elapsed, '>=', 1.9, sprintf('waited for connect_timeout (%.2f s)', $elapsed));
cmp_ok($elapsed, '<', 4.0, 'and not much longer');

# A SASL server against a broker without SASL fails at once.
# (the test framework logs every statement; the one that creates the mapping
# is kept out so that any occurrence in the log could only come from us)
$node->safe_psql('postgres', qq{
	SET log_statement = 'none';
	CREATE SERVER sasl FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs',
	  security_protocol 'sasl_plaintext', sasl_mechanism 'SCRAM-SHA-256', "kafka.debug" 'all');
	CREATE USER MAPPING FOR CURRENT_USER SERVER sasl OPTIONS (sasl_username 'u', sasl_password 'Zebra-Pw-8472');
});
($elapsed, $ok, $out, $err) = timed_psql($node,
	"SET client_min_messages = debug1; SELECT count(*) FROM kafka.read_kafka(server => 'sasl', subscribe => 'midread')");
ok(!$ok, 'SASL against a broker without SASL fails');
like($err, qr/kafka authentication with mechanism SCRAM-SHA-256 failed/, 'error names the mechanism');
cmp_ok($elapsed, '<', 3.0, sprintf('and fails fast (%.2f s, connect_timeout 10 s)', $elapsed));
unlike($err, qr/Zebra-Pw-8472/, 'the password is not in the client messages, even with debug on');
($ret, $out, $err) = $node->psql('postgres',
	"EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM kafka.read_kafka(server => 'sasl', subscribe => 'midread')");
unlike($out . $err, qr/Zebra-Pw-8472/, 'nor in EXPLAIN');
unlike(slurp_file($node->logfile), qr/Zebra-Pw-8472/, 'nor in the server log (librdkafka debug logging on)');
like(slurp_file($node->logfile), qr/librdkafka/, 'while librdkafka logs did reach the server log');

###########################################################################
# Handles are freed on ERROR and cancel: no librdkafka threads stay behind.
my $session = $node->background_psql('postgres', on_error_stop => 0);
my $backend = $session->query_safe('SELECT pg_backend_pid()');
$backend =~ s/\s+//g;
is(proc_status($backend, 'Threads'), 1, 'a fresh backend has one thread');
$session->query(q{SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'no_such_topic')});
$session->query(q{SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'aged', startingOffsets => '{"aged":{"0":1}}')});
$session->query(q{SELECT 1/0 FROM kafka.read_kafka(server => 'k', subscribe => 'midread')});
is($session->query(q{SELECT count(*) FROM (SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'midread') LIMIT 5) s}),
	'5', 'LIMIT stops early');
# teardown runs on a detached thread so a backend never blocks on it; give
# it a moment
my $threads;
for (1 .. 100)
{
	$threads = proc_status($backend, 'Threads');
	last if $threads == 1;
	usleep(50_000);
}
is($threads, 1, 'after errors and an early LIMIT, no librdkafka threads remain');

###########################################################################
# Memory is bounded by the fetch settings, not the topic: read a large topic
# of compressed batches (about 1 GB once decompressed) and watch RssAnon.
create_topic($broker, 'large', 16);
produce(broker => $broker, topic => 'large', count => 400000, partitions => 16,
	value_size => 2500, compression => 'lz4');
my $lows = $node->safe_psql('postgres',
	"SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'large') WHERE \"offset\" = 0");
is($lows, 16, 'every partition of the large topic still starts at offset 0');

my ($growth_mib, $polls) = rss_anon_growth($node, $session, $backend,
	q{SELECT count(*), sum(length(value)) FROM kafka.read_kafka(server => 'k', subscribe => 'large');},
	10_000);
my $bound = 128 + sanitizer_allowance_mib();
cmp_ok($growth_mib, '<', $bound,
	sprintf('RssAnon grew by %.0f MiB (peak of %d samples, bound %d MiB) reading the large topic', $growth_mib, $polls, $bound));
cmp_ok($polls, '>', 5, 'sampled during the read');
$session->quit;

is($node->safe_psql('postgres',
	"SELECT count(*), sum(length(value)) FROM kafka.read_kafka(server => 'k', subscribe => 'large')"),
	'400000|1000000000', 'the large topic is read completely');

###########################################################################
# Starting offsets beyond the end of many partitions: the read returns
# nothing and says so in one NOTICE of bounded length, naming the first
# partitions with their offsets and high watermarks.
{
	my $starts = join(',', map { qq{"$_":1000000000} } 0 .. 15);
	my ($ret, $out, $err) = $node->psql('postgres',
		qq{SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'large', startingOffsets => '{"large":{$starts}}')});
	is($out, '0', 'a start beyond the end reads nothing');
	my @notices = grep { /NOTICE:/ } split /\n/, $err;
	is(scalar @notices, 1, 'one NOTICE for the read');
	like($notices[0] // '',
		qr/startingOffsets starts beyond the end of 16 partitions, which return no records: large\[0\] \(offset 1000000000, high watermark 25000\), large\[1\] .* and 11 more$/,
		'the NOTICE names partition, offset and watermark, and counts the rest');
	cmp_ok(length($notices[0] // ''), '<', 600, 'the NOTICE stays short');
}

$node->stop;
done_testing();
