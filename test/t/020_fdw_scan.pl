# Foreign-table scans on larger topics and under faults: LIMIT stops early,
# seek ranges read only what they select, pushdown below the low watermark
# is not data loss while a table's starting_offsets is, cancel while the
# brokers are down, and the scan finishing complete once they are back.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 3);
my $bs = $broker->bootstrap;
my $node = new_node('fdw', broker => $broker, conf => "statement_timeout = '120s'");

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE SERVER slow FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', connect_timeout '30');
});

# The "Kafka Records" figure of EXPLAIN ANALYZE.
sub records_read
{
	my ($sql) = @_;
	my $plan = $node->safe_psql('postgres',
		"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $sql");
	return $plan =~ /Kafka Records: (\d+)/ ? $1 : undef;
}

###########################################################################
# 200k JSON events over 8 partitions (25k each).
create_topic($broker, 'events', 8);
produce(broker => $broker, topic => 'events', count => 200000, partitions => 8,
	json => 1, compression => 'lz4');
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE events (event_id bigint, user_id int, type text, amount numeric,
	    ts timestamptz, p int OPTIONS (kafka 'partition'), o bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'events');
	CREATE FOREIGN TABLE events_slow (event_id bigint, o bigint OPTIONS (kafka 'offset'))
	  SERVER slow OPTIONS (topic 'events');
});

# record i (event_id i) is in partition i % 8 at offset i / 8
is($node->safe_psql('postgres',
	'SELECT count(*), sum(event_id), count(DISTINCT p) FROM events'),
	'200000|19999900000|8', 'every record, decoded');
is($node->safe_psql('postgres',
	'SELECT count(*) FROM events WHERE event_id <> o * 8 + p'),
	'0', 'event_id, partition and offset agree');

my $limited = records_read('SELECT * FROM events LIMIT 10');
cmp_ok($limited, '<', 200000, "LIMIT 10 stopped after $limited of 200000 records");

# seek ranges: a run at each end of every partition, nothing in between
is(records_read('SELECT count(*) FROM events WHERE o < 5 OR o >= 24995'), 80,
	'two seek ranges per partition read 80 records');
is($node->safe_psql('postgres',
	'SELECT count(*), sum(event_id) FROM events WHERE o < 5 OR o >= 24995'),
	$node->safe_psql('postgres', q{
		SET kafka_fdw.enable_pushdown = off;
		SELECT count(*), sum(event_id) FROM events WHERE o < 5 OR o >= 24995}),
	'the same records as a full scan');
is(records_read('SELECT count(*) FROM events WHERE p = 3 AND o BETWEEN 1000 AND 1999'), 1000,
	'one partition, one range');
is(records_read(
	'SELECT count(*) FROM events WHERE p = 5 AND o = ANY (ARRAY[1, 100, 10000, 20000, 24999])'),
	5, 'an IN list on offsets reads one record per value');

###########################################################################
# Aged-out records.  The broker keeps about 5 MiB per partition.
create_topic($broker, 'aged', 1);
produce(broker => $broker, topic => 'aged', count => 12000, value_size => 1000,
	partition => 0, compression => 'none');
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE aged (v bytea, o bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'aged', format 'raw');
	CREATE FOREIGN TABLE aged_from_100 (v bytea, o bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'aged', format 'raw', starting_offsets '{"aged":{"0":100}}');
});
my ($count, $low) = split /\|/, $node->safe_psql('postgres', 'SELECT count(*), min(o) FROM aged');
cmp_ok($low, '>', 0, "retention moved the low watermark to $low");
is($count, 12000 - $low, 'the table reads from the low watermark');
is($node->safe_psql('postgres', 'SELECT count(*) FROM aged WHERE o >= 50'), 12000 - $low,
	'a pushed-down bound below the low watermark is not data loss');
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM aged_from_100');
isnt($ret, 0, 'starting_offsets below the low watermark fails');
like($err, qr/offsets 100 to \d+ of aged\[0\] are no longer available/, 'naming the lost range');

###########################################################################
# Cancel a foreign scan while the brokers are down, then read again.
for my $id (1 .. 3) { $broker->ctl("broker_down $id"); }
my ($h, $sout, $serr) = start_psql($node, 'SELECT count(*) FROM events_slow');
my $pid;
for (1 .. 200)
{
	$pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE query LIKE '%events_slow%' AND pid <> pg_backend_pid() AND state = 'active' LIMIT 1");
	last if $pid;
	usleep(50_000);
}
ok($pid, 'the scan waits for the (down) brokers');
usleep(300_000);
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$h->finish;
like($$serr, qr/canceling statement due to user request/, 'cancelled, not failed');
for my $id (1 .. 3) { $broker->ctl("broker_up $id"); }
is($node->safe_psql('postgres', 'SELECT count(*), sum(event_id) FROM events_slow'),
	'200000|19999900000', 'the scan after the brokers came back is complete');

$node->stop;
$broker->stop;
done_testing();
