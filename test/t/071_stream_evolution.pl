# Payload fields without a column under running streams, from an
# independent producer (confluent-kafka): a stream with schema_evolution
# 'add_columns' into a partitioned target grows columns on the source, the
# target and its partitions as new fields appear, with the worker SIGKILLed
# while it evolves; a stream whose source has a kafka 'rescued' column keeps
# every unknown field in it.  Both end with every record once (count =
# produced, unique (_partition, _offset)) and every value where the
# producer put it.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $python = $ENV{KT_PYTHON} // '/usr/bin/python3';
my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('evolution', broker => $broker, conf => 'restart_after_crash = on');
$broker->create_topic('evo', 2);

sub query { return query_retrying($node, @_); }
sub wait_for { return wait_for_value($node, 'postgres', @_, 120); }

# events i in [start, start + count): id, v, and from "extra_from" on the
# fields color (string), size (integer), price (number), ok (boolean),
# tags (array), and from "late_from" on the field late (string)
my $produced = 0;
sub produce_events
{
	my ($count, %opts) = @_;
	my $script = q{
import json, sys
from confluent_kafka import Producer
bs, start, count, extra_from, late_from = sys.argv[1], *map(int, sys.argv[2:6])
p = Producer({"bootstrap.servers": bs, "linger.ms": 10})
for i in range(start, start + count):
    e = {"id": i, "v": "v%d" % i}
    if i >= extra_from:
        e.update(color="c%d" % (i % 7), size=i % 10, price=i / 4, ok=i % 2 == 0, tags=["t", i])
    if i >= late_from:
        e["late"] = "late%d" % i
    p.produce("evo", key=str(i).encode(), value=json.dumps(e).encode(), partition=i % 2)
    p.poll(0)
if p.flush(60) > 0:
    sys.exit("not delivered")
};
	my ($ok, $out, $err) = run_cmd([ $python, '-c', $script, $bs, $produced, $count,
		$opts{extra_from} // 1e9, $opts{late_from} // 1e9 ], 300);
	die "producer failed: $err$out" unless $ok;
	$produced += $count;
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE evo_topic (id bigint, v text,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'evo', format 'json');
	CREATE TABLE evo (id bigint, v text, _partition int, _offset bigint) PARTITION BY RANGE (id);
	CREATE TABLE evo_low PARTITION OF evo FOR VALUES FROM (0) TO (5000);
	CREATE TABLE evo_high PARTITION OF evo FOR VALUES FROM (5000) TO (1000000);
	SELECT kafka.create_streaming_table('evo', source => 'evo_topic',
	  schema_evolution => 'add_columns', max_offsets_per_trigger => 500);
	CREATE FOREIGN TABLE kept_topic (id bigint, v text, rest jsonb OPTIONS (kafka 'rescued'),
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'evo', format 'json');
	CREATE TABLE kept (id bigint, v text, rest jsonb, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('kept', source => 'kept_topic', max_offsets_per_trigger => 700);
});

sub consumed_all
{
	my ($stream, $what) = @_;
	return wait_for(qq{SELECT coalesce(sum(next_offset), 0) FROM kafka.stream_offsets
		WHERE stream = '$stream'::regclass}, "$produced", $what);
}
sub exactly_once
{
	my ($table, $what) = @_;
	is(query(qq{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) FROM $table}),
		"$produced $produced", "$what: every record once");
}
sub columns
{
	my ($rel) = @_;
	return query(qq{SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = '$rel'::regclass AND attnum > 0 AND NOT attisdropped});
}

# --- no new field: nothing changes
produce_events(2000);
ok(consumed_all('evo', 'plain'), 'the evolving stream loads');
ok(consumed_all('kept', 'plain kept'), 'the rescuing stream loads');
is(columns('evo'), 'id bigint, v text, _partition integer, _offset bigint', 'no field, no column');
is(query(q{SELECT count(*) FROM kept WHERE rest IS NOT NULL}), '0', 'nothing to rescue: NULL');

# --- new fields while the worker runs; it is killed in the middle of the
# evolution: a session's lock on a partition holds its ALTER TABLE
my ($locker) = start_psql($node, q{BEGIN; LOCK TABLE evo_high IN ACCESS SHARE MODE; SELECT pg_sleep(60); COMMIT;});
ok(wait_for(q{SELECT count(*) FROM pg_locks WHERE relation = 'evo_high'::regclass AND granted}, '1', 'locked'),
	'a session holds a lock on a partition');
produce_events(6000, extra_from => 2000);
my $pid = stream_worker_pid($node, 'evo');
ok(wait_for(qq{SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid}, 'Lock', 'evolving'),
	'the worker waits in the evolution (its ALTER TABLE)');
is(query(q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'evo_topic'::regclass AND attname = 'color'}), '0',
	'nothing of it is committed yet');
my $at = stream_consumed($node, 'evo');
kill 'KILL', $pid;
note "killed the evolving worker with $at of $produced records committed";
cmp_ok($at, '<', $produced, 'killed before the new fields were committed');
$locker->kill_kill;
usleep(300_000);
query('SELECT 1');
ok(consumed_all('evo', 'evolved'), 'the stream consumed the new fields after the SIGKILL');
exactly_once('evo', 'across the evolution and the kill');
is(columns('evo_topic'),
	'id bigint, v text, _partition integer, _offset bigint, color text, size bigint, price numeric, ok boolean, tags jsonb',
	'the source gained the fields, typed by their JSON types');
is(columns('evo'), 'id bigint, v text, _partition integer, _offset bigint, color text, size bigint, price numeric, ok boolean, tags jsonb',
	'the target gained them');
is(columns('evo_high'), columns('evo'), 'and its partitions');
is(query(q{SELECT count(*) FROM evo WHERE id >= 2000 AND (color IS DISTINCT FROM 'c' || id % 7
	OR size IS DISTINCT FROM id % 10 OR price IS DISTINCT FROM id / 4.0 OR ok IS DISTINCT FROM (id % 2 = 0)
	OR tags IS DISTINCT FROM jsonb_build_array('t', id))}), '0',
	'every new field in its column for every record that had it');
is(query(q{SELECT count(*) FROM evo WHERE id < 2000 AND (color IS NOT NULL OR size IS NOT NULL)}), '0',
	'older records keep NULL there');
like(query(q{SELECT schema_change FROM kafka.stream_progress WHERE stream = 'evo'::regclass LIMIT 1}),
	qr/^added color text, size bigint, price numeric, ok boolean, tags jsonb$/, 'the change is shown in stream_progress');

# --- one more field, later
produce_events(1000, extra_from => 0, late_from => 0);
ok(consumed_all('evo', 'late'), 'a later field');
exactly_once('evo', 'after the later field');
is(query(q{SELECT count(*) FROM evo WHERE id >= 8000 AND late = 'late' || id}), '1000', 'has its column too');

# --- the rescuing stream kept every unknown field
ok(consumed_all('kept', 'kept'), 'the rescuing stream consumed everything');
exactly_once('kept', 'rescued data');
is(query(q{SELECT count(*) FROM kept WHERE id >= 2000 AND id < 8000
	AND rest = jsonb_build_object('color', 'c' || id % 7, 'size', id % 10, 'price', id / 4.0,
	                              'ok', id % 2 = 0, 'tags', jsonb_build_array('t', id))}), '6000',
	'rescued: every field without a column, with its value');
is(query(q{SELECT count(*) FROM kept WHERE id >= 8000 AND rest ->> 'late' = 'late' || id}), '1000',
	'and the later one');
is(columns('kept_topic'), 'id bigint, v text, rest jsonb, _partition integer, _offset bigint',
	'without schema evolution the source keeps its columns');

my $log = slurp_file($node->logfile);
my @crashes = $log =~ /was terminated by signal (\d+)/g;
is(join(',', grep { $_ != 9 } @crashes), '', 'no process crashed but the killed worker');

done_testing();
