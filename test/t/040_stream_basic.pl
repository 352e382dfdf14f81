# Streaming tables: the SQL API, exactly-once refresh batches, a continuous
# worker, pause/resume/drop, reset_offsets, a transform joining a static
# table, refused transforms and targets, dead letters with coordinates, and
# kafka.stream_progress.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('stream', broker => $broker);

$broker->create_topic('events', 3);
produce(broker => $broker, topic => 'events', count => 1000, json => 1, partitions => 3);

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE FOREIGN TABLE events_topic (
		event_id bigint, user_id int, type text, amount numeric, ts timestamptz,
		_key text OPTIONS (kafka 'key'),
		_partition int OPTIONS (kafka 'partition'),
		_offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'events', format 'json');
	CREATE TABLE events (event_id bigint, user_id int, type text, amount numeric,
	                     _partition int, _offset bigint,
	                     loaded_at timestamptz DEFAULT now());
});

# wait until $sql returns $expected (polls; the suite asserts values, not time)
sub wait_for { return wait_for_value($node, 'postgres', @_, 60); }

# --- refused configurations
my ($ret, $out, $err) = $node->psql('postgres', q{
	CREATE UNLOGGED TABLE u (event_id bigint);
	SELECT kafka.create_streaming_table('u', source => 'events_topic');});
like($err, qr/must be a logged table/, 'unlogged target refused');
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('t_agg', source => 'events_topic',
	  transform => 'SELECT user_id, count(*) FROM batch GROUP BY user_id');});
like($err, qr/cannot use aggregates/, 'aggregate transform refused');
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('t_lim', source => 'events_topic',
	  transform => 'SELECT * FROM batch LIMIT 3');});
like($err, qr/cannot use LIMIT/, 'LIMIT transform refused');
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('t_d', source => 'events_topic',
	  transform => 'SELECT DISTINCT type FROM batch');});
like($err, qr/cannot use DISTINCT/, 'DISTINCT transform refused');
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('t_w', source => 'events_topic',
	  transform => 'SELECT event_id, row_number() OVER () FROM batch');});
like($err, qr/cannot use window functions/, 'window transform refused');
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('events', source => 'events_topic', trigger => 'sometimes');});
like($err, qr/invalid value for trigger/, 'bad trigger refused');

# --- availableNow refresh in batches
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('events', source => 'events_topic',
	  trigger => 'available_now', max_offsets_per_trigger => 300);});
is($node->safe_psql('postgres', 'SELECT sum(next_offset) FROM kafka.stream_offsets'),
	'0', 'earliest resolved at creation');
my $summary = $node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('events')});
like($summary, qr/1000 rows from 1000 records in 4 batches, 0 dead letters, 0 skipped, lag 0/,
	'refresh summary');
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT (_partition, _offset)), count(loaded_at) FROM events'),
	'1000|1000|1000', 'refresh loaded every record once, defaults applied');
is($node->safe_psql('postgres', q{SELECT batch_id FROM kafka.streaming_tables}), '4', 'batch_id counts batches');
is($node->safe_psql('postgres', q{SELECT sum(event_id), sum(amount), sum(user_id), count(*) FILTER (WHERE type = 'view'), min(_offset), max(_offset) FROM events}),
	$node->safe_psql('postgres', q{SELECT sum(i), sum(round((i * 7919 % 10000) / 100.0, 2)), sum(i % 97), count(*) FILTER (WHERE i % 4 = 0), 0, 333 FROM generate_series(0, 999) i}),
	'typed values decoded as produced');
is($node->safe_psql('postgres', q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = 'events'::regclass}),
	'1000', 'offsets advanced');

# a second refresh finds nothing; inside a transaction block it rolls back
$summary = $node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('events')});
like($summary, qr/0 rows from 0 records in 0 batches/, 'nothing new');
produce(broker => $broker, topic => 'events', count => 100, start => 1000, json => 1, partitions => 3);
$node->safe_psql('postgres', q{BEGIN; CALL kafka.refresh_streaming_table('events'); ROLLBACK;});
is($node->safe_psql('postgres', 'SELECT count(*) FROM events'), '1000', 'rolled-back refresh left nothing');
$node->safe_psql('postgres', q{BEGIN; CALL kafka.refresh_streaming_table('events'); COMMIT;});
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT (_partition, _offset)) FROM events'),
	'1100|1100', 'refresh in a transaction block committed with it');

# reset_offsets rewinds one partition: its records come again
$node->safe_psql('postgres', q{SELECT kafka.reset_offsets('events', '{"events":{"0":0}}')});
is($node->safe_psql('postgres', q{SELECT next_offset FROM kafka.stream_offsets WHERE "partition" = 0}),
	'0', 'rewound');
$node->safe_psql('postgres', q{SELECT kafka.reset_offsets('events', 'latest')});
is($node->safe_psql('postgres', 'SELECT sum(next_offset) FROM kafka.stream_offsets'),
	'1100', 'skipped to latest');

# --- progress view
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s %s %s', "partition", state, lag), ',' ORDER BY "partition") FROM kafka.stream_progress}),
	'0 waiting for refresh 0,1 waiting for refresh 0,2 waiting for refresh 0', 'stream_progress per partition');

# --- continuous worker
$node->safe_psql('postgres', q{
	CREATE TABLE live (event_id bigint, type text, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('live', source => 'events_topic', starting_offsets => 'latest');});
produce(broker => $broker, topic => 'events', count => 500, start => 2000, json => 1, partitions => 3);
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM live', '500|500', 'continuous'),
	'continuous worker loads records produced after creation (latest resolved at creation)');
ok(wait_for(q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kafka_fdw stream public.live'}, '1', 'activity'),
	'worker visible in pg_stat_activity');
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('live')}),
	qr/being loaded by its worker/, 'refresh does not overlap the worker');

$node->safe_psql('postgres', q{SELECT kafka.pause_streaming_table('live')});
ok(wait_for(q{SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'kafka_fdw stream public.live'}, '0', 'paused'),
	'pause stops the worker');
produce(broker => $broker, topic => 'events', count => 30, start => 3000, json => 1, partitions => 3);
is($node->safe_psql('postgres', q{SELECT state FROM kafka.stream_progress WHERE stream = 'live'::regclass LIMIT 1}),
	'paused', 'progress shows paused');
$node->safe_psql('postgres', q{SELECT kafka.resume_streaming_table('live')});
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM live', '530|530', 'resumed'),
	'resume picks up where it stopped');


$node->safe_psql('postgres', q{SELECT kafka.drop_streaming_table('live')});
ok(wait_for(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'}, '0', 'dropped'),
	'drop stops the worker');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.stream_offsets WHERE stream = 'live'::regclass}),
	'0', 'drop forgets the offsets');

# --- a NOLOGIN owner: the worker works with its privileges, checked each batch
$node->safe_psql('postgres', q{
	CREATE ROLE streamer NOLOGIN;
	GRANT USAGE ON SCHEMA kafka TO streamer;
	GRANT USAGE ON FOREIGN SERVER k TO streamer;
	CREATE USER MAPPING FOR streamer SERVER k OPTIONS (password_required 'false');
	GRANT SELECT ON events_topic TO streamer;
	CREATE TABLE owned (event_id bigint, _partition int, _offset bigint, who text DEFAULT current_user);
	ALTER TABLE owned OWNER TO streamer;
	SET ROLE streamer;
	SELECT kafka.create_streaming_table('owned', source => 'events_topic', max_offsets_per_trigger => 1000);
	RESET ROLE;});
my $total = $node->safe_psql('postgres', q{SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'events')});
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM owned', "$total|$total", 'owned'),
	'a NOLOGIN owner\'s stream runs');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT who, ',') FROM owned}), 'streamer',
	'rows are written as the owner');
$node->safe_psql('postgres', q{REVOKE SELECT ON events_topic FROM streamer});
produce(broker => $broker, topic => 'events', count => 10, start => 4000, json => 1, partitions => 3);
ok(wait_for(q{SELECT state FROM kafka.streaming_tables WHERE target = 'owned'::regclass}, 'failed', 'revoked'),
	'privileges are checked each batch: the stream stops');
like($node->safe_psql('postgres', q{SELECT DISTINCT last_error FROM kafka.stream_progress WHERE stream = 'owned'::regclass}),
	qr/permission denied for foreign table events_topic/, 'progress shows why');
is($node->safe_psql('postgres', 'SELECT count(*) FROM owned'), $total, 'nothing written without the privilege');
$node->safe_psql('postgres', q{SELECT kafka.drop_streaming_table('owned')});

# --- transform: stream-static join; dead letters with coordinates
$broker->create_topic('orders', 1);
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE orders_topic (order_id bigint, customer text, amount numeric,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'orders', format 'json');
	CREATE TABLE customers (customer text PRIMARY KEY, segment text);
	INSERT INTO customers VALUES ('alice', 'gold'), ('bob', 'silver');
	SELECT kafka.create_streaming_table('enriched', source => 'orders_topic',
	  trigger => 'available_now', on_error => 'dead_letter',
	  transform => 'SELECT b.order_id, b.customer, c.segment, 100 / b.amount AS ratio, b._partition, b._offset
	                FROM batch b LEFT JOIN customers c USING (customer)');
});
my $orders = join("\n",
	'{"order_id":1,"customer":"alice","amount":10}',
	'{"order_id":2,"customer":"bob","amount":20}',
	'not json',
	'{"order_id":4,"customer":"carol","amount":0}',
	'{"order_id":5,"customer":"alice","amount":50}');

open(my $fh, '|-', 'kcat', '-q', '-P', '-b', $bs, '-t', 'orders', '-p', '0') or die "kcat: $!";
print $fh "$orders\n";
close($fh) or die "kcat failed";
$summary = $node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('enriched')});
like($summary, qr/3 rows from 5 records in 1 batches, 2 dead letters/, 'transform summary');
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s %s %s %s', order_id, customer, segment, ratio), ',' ORDER BY order_id) FROM enriched}),
	'1 alice gold 10.0000000000000000,2 bob silver 5.0000000000000000,5 alice gold 2.0000000000000000',
	'stream-static join applied');
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s %s %s %s', topic, "partition", "offset", convert_from(value, 'UTF8')), ',' ORDER BY "offset") FROM kafka.dead_letters}),
	'orders 0 2 not json,orders 0 3 {"order_id":4,"customer":"carol","amount":0}',
	'dead letters carry their coordinates');
like($node->safe_psql('postgres', q{SELECT error FROM kafka.dead_letters WHERE "offset" = 3}),
	qr/transform failed: division by zero/, 'transform error recorded');

# dead letters are visible to the stream's owner only
$node->safe_psql('postgres', q{CREATE ROLE outsider; GRANT USAGE ON SCHEMA kafka TO outsider;});
is($node->safe_psql('postgres', q{SET ROLE outsider; SELECT count(*) FROM kafka.dead_letters}), '0',
	'another role sees no dead letters');
is($node->safe_psql('postgres', q{SET ROLE outsider; SELECT count(*) FROM kafka.stream_offsets WHERE stream = 'enriched'::regclass}), '1',
	'but may see the offsets');

# on_error fail: nothing advances and the error says where
$node->safe_psql('postgres', q{
	CREATE TABLE strict_orders (order_id bigint, customer text, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('strict_orders', source => 'orders_topic',
	  trigger => 'available_now', on_error => 'fail');});
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('strict_orders')});
like($err, qr/kafka record orders\[0\] at offset 2/, 'fail names the record');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || (SELECT next_offset FROM kafka.stream_offsets WHERE stream = 'strict_orders'::regclass) FROM strict_orders}),
	'0 0', 'fail advanced nothing');
like($node->safe_psql('postgres', q{SELECT DISTINCT state || ': ' || last_error FROM kafka.stream_progress WHERE stream = 'strict_orders'::regclass}),
	qr/^failed: invalid JSON payload.*kafka record orders\[0\] at offset 2/, 'the stream stops and progress shows the error');
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('strict_orders')});
like($err, qr/has failed and is stopped/, 'a failed stream refuses to refresh until resumed');

# an interval trigger: each tick loads what the topic holds then
$node->safe_psql('postgres', q{
	CREATE TABLE ticks (event_id bigint, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('ticks', source => 'events_topic', trigger => '1 second',
	  max_offsets_per_trigger => 700);});
$total = $node->safe_psql('postgres', q{SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'events')});
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM ticks', "$total|$total", 'interval'),
	'interval trigger loads the backlog');
produce(broker => $broker, topic => 'events', count => 20, start => 5000, json => 1, partitions => 3);
$total += 20;
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM ticks', "$total|$total", 'interval 2'),
	'and what arrives later, at the next tick');
$node->safe_psql('postgres', q{SELECT kafka.drop_streaming_table('ticks', drop_table => true)});
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'ticks'}), '0', 'drop_table => true drops it');

# dropping a target forgets its stream; dropping a source stops its streams
$node->safe_psql('postgres', q{DROP TABLE enriched});
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.streaming_tables WHERE target::oid NOT IN (SELECT oid FROM pg_class)}),
	'0', 'a dropped target leaves no stream behind');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters}), '0', 'nor its dead letters');
$node->safe_psql('postgres', q{DROP FOREIGN TABLE orders_topic});
like($node->safe_psql('postgres', q{SELECT state || ': ' || last_error FROM kafka.streaming_tables WHERE target = 'strict_orders'::regclass}),
	qr/^failed: source foreign table public.orders_topic was dropped/, 'a dropped source stops its stream');

# pg_dump keeps the catalog: a restored database resumes where it was
my $dumpfile = PostgreSQL::Test::Utils::tempdir() . '/stream.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dumpfile, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dumpfile ], 'pg_restore');
my $catalog = q{SELECT string_agg(format('%s %s %s %s', target, trigger, state, batch_id), ',' ORDER BY target::text),
	(SELECT string_agg(format('%s %s %s', stream, "partition", next_offset), ',' ORDER BY stream::text, "partition") FROM kafka.stream_offsets)
	FROM kafka.streaming_tables};
is($node->safe_psql('restored', $catalog), $node->safe_psql('postgres', $catalog), 'catalog restored');
is($node->safe_psql('restored', q{SELECT count(*) FROM events}), $node->safe_psql('postgres', q{SELECT count(*) FROM events}),
	'rows restored');

done_testing();
