# Operating streams: kafka.stream_progress shows live lag (high watermarks
# asked of Kafka when it is queried, for every trigger), one documented set
# of states, rounded rates and totals since creation; kafka.stream_history
# keeps the last kafka_fdw.stream_history_size batches of each stream,
# written and trimmed in the batch's transaction; a second owner sees only
# its own streams in both; CALL kafka.refresh_streaming_table returns one
# summary and no NOTICE; a bad record's error names that record only.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('progress', broker => $broker);

for my $t (qw(iv an live hist bad al slow))
{
	$broker->create_topic($t, 1);
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE FOREIGN TABLE iv_topic (event_id bigint, _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'iv', format 'json');
	CREATE FOREIGN TABLE an_topic (event_id bigint, _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'an', format 'json');
	CREATE FOREIGN TABLE live_topic (event_id bigint, _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'live', format 'json');
	CREATE FOREIGN TABLE hist_topic (event_id bigint, _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'hist', format 'json');
	CREATE FOREIGN TABLE bad_topic (event_id bigint, _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'bad', format 'json');
	CREATE FOREIGN TABLE slow_topic (event_id bigint, _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'slow', format 'json');
});

sub wait_for { return wait_for_value($node, 'postgres', @_, 60); }
sub query { return $node->safe_psql('postgres', $_[0]); }
sub state_of
{
	my ($stream) = @_;
	return query(qq{SELECT string_agg(DISTINCT state, ',') FROM kafka.stream_progress
		WHERE stream = '$stream'::regclass});
}
sub lag_of
{
	my ($stream) = @_;
	return query(qq{SELECT sum(lag) FROM kafka.stream_progress WHERE stream = '$stream'::regclass});
}

# --- an interval stream: asleep until its next tick, its lag live
query(q{INSERT INTO iv_topic (event_id) SELECT g FROM generate_series(1, 10) g;
	SELECT kafka.create_streaming_table('iv', source => 'iv_topic', trigger => '1 hour');});
ok(wait_for('SELECT count(*) FROM iv', '10', 'interval batch'), 'the interval stream loaded its first batch');
ok(wait_for(q{SELECT state ~ '^sleeping until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d' FROM kafka.stream_progress WHERE stream = 'iv'::regclass},
	't', 'sleeping'), "an interval stream between batches is 'sleeping until <time>'");
like(query(q{SELECT state FROM kafka.stream_progress WHERE stream = 'iv'::regclass}),
	qr/^sleeping until (\S+ \S+)$/, 'the state names the next tick');
ok(query(q{SELECT (substr(state, 16)::timestamptz - last_batch_at) > '50 minutes' FROM kafka.stream_progress WHERE stream = 'iv'::regclass}) eq 't',
	'the next tick is an hour after the batch');
query(q{INSERT INTO iv_topic (event_id) SELECT g FROM generate_series(11, 35) g});
ok(wait_for(q{SELECT lag FROM kafka.stream_progress WHERE stream = 'iv'::regclass}, '25', 'interval lag'),
	'records produced after the batch show as lag without waiting for a batch');
is(query(q{SELECT high_watermark, committed_offset, last_batch_id, lag_as_of >= last_batch_at FROM kafka.stream_progress WHERE stream = 'iv'::regclass}),
	'35|10|1|t', 'the high watermark is live, asked after the last batch (lag_as_of)');
is(query('SELECT count(*) FROM iv'), '10', 'and no batch ran');

# --- an available_now stream: never refreshed, then refreshed, then behind again
query(q{INSERT INTO an_topic (event_id) SELECT g FROM generate_series(1, 40) g;
	SELECT kafka.create_streaming_table('an', source => 'an_topic', trigger => 'available_now');});
is(state_of('an'), 'waiting for refresh', "an available_now stream not being refreshed: 'waiting for refresh'");
ok(wait_for(q{SELECT lag FROM kafka.stream_progress WHERE stream = 'an'::regclass}, '40', 'an lag'),
	'never refreshed: its lag is what the topic holds');
my ($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('an')});
is($out, 'refreshed public.an: 40 rows from 40 records in 1 batches, 0 dead letters, 0 skipped, lag 0',
	'the refresh returns its summary');
is($err, '', 'and no NOTICE repeats it');
is(lag_of('an'), '0', 'refreshed: no lag');
query(q{INSERT INTO an_topic (event_id) SELECT g FROM generate_series(41, 47) g});
ok(wait_for(q{SELECT lag FROM kafka.stream_progress WHERE stream = 'an'::regclass}, '7', 'an lag after'),
	'records produced after the refresh show as lag');
is(state_of('an'), 'waiting for refresh', 'still waiting for a refresh');
is(query(q{SELECT rows_per_second = round(rows_per_second, 1), pg_typeof(rows_per_second), total_records, total_rows, last_batch_bytes > 0, total_bytes = last_batch_bytes, total_dead_letters FROM kafka.stream_progress WHERE stream = 'an'::regclass}),
	't|numeric|40|40|t|t|0', 'rows_per_second is rounded; totals since creation');

# bytes: the keys and values of the batch's records, as Kafka holds them
is(query(q{SELECT bytes, records, rows_inserted, offsets, lag FROM kafka.stream_history WHERE stream = 'an'::regclass}),
	query(q{SELECT sum(coalesce(octet_length(key), 0) + coalesce(octet_length(value), 0)) FROM kafka.read_kafka(server => 'k', subscribe => 'an', endingOffsets => '{"an":{"0":40}}')})
	. '|40|40|{"an": {"0": [0, 40]}}|0',
	'the history row of the refresh: bytes, records, rows, offsets [start, end), lag after');

# --- refreshing: a refresh waits on a lock held on its target
query(q{INSERT INTO an_topic (event_id) VALUES (48)});
my ($locker, $lock_out, $lock_err) = start_psql($node, q{BEGIN; LOCK TABLE an IN SHARE MODE; SELECT pg_sleep(3600);});
ok(wait_for(q{SELECT count(*) FROM pg_locks WHERE relation = 'an'::regclass AND mode = 'ShareLock' AND granted}, '1', 'locked'),
	'the target is locked');
my ($refresher, $refresh_out, $refresh_err) = start_psql($node, q{CALL kafka.refresh_streaming_table('an')});
ok(wait_for(q{SELECT state FROM kafka.stream_progress WHERE stream = 'an'::regclass}, 'refreshing', 'refreshing'),
	"a refresh in progress: 'refreshing'");
# a second refresh returns at once, saying why, without a NOTICE
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('an')});
like($out, qr/^public\.an is being loaded by its worker or another refresh: nothing done$/, 'a second refresh returns at once');
is($err, '', 'its summary is its result only');
query(q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE an%'});
$locker->finish;
$refresher->finish;
like($$refresh_out, qr/^refreshed public\.an: 8 rows from 8 records in 1 batches/, 'the refresh went on once the lock was gone');
is(state_of('an'), 'waiting for refresh', 'and the stream waits for the next refresh');

# --- a continuous stream: waiting for records, running, paused, starting
query(q{CREATE TABLE live (event_id bigint, _offset bigint);
	SELECT kafka.create_streaming_table('live', source => 'live_topic');});
ok(wait_for(q{SELECT state FROM kafka.stream_progress WHERE stream = 'live'::regclass}, 'waiting for records', 'waiting'),
	"an idle continuous stream: 'waiting for records'");
($locker, $lock_out, $lock_err) = start_psql($node, q{BEGIN; LOCK TABLE live IN SHARE MODE; SELECT pg_sleep(3600);});
ok(wait_for(q{SELECT count(*) FROM pg_locks WHERE relation = 'live'::regclass AND mode = 'ShareLock' AND granted}, '1', 'locked'),
	'the target is locked');
query(q{INSERT INTO live_topic (event_id) SELECT g FROM generate_series(1, 5) g});
ok(wait_for(q{SELECT state FROM kafka.stream_progress WHERE stream = 'live'::regclass}, 'running', 'running'),
	"a batch being applied: 'running'");
query(q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE live%'});
$locker->finish;
ok(wait_for('SELECT count(*) FROM live', '5', 'live rows'), 'the batch went on once the lock was gone');
ok(wait_for(q{SELECT state FROM kafka.stream_progress WHERE stream = 'live'::regclass}, 'waiting for records', 'waiting again'),
	'and the stream waits for records again');
query(q{SELECT kafka.pause_streaming_table('live')});
ok(wait_for(q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kafka_fdw stream public.live'}, '0', 'paused'),
	'pause stops the worker');
is(state_of('live'), 'paused', "'paused'");
query(q{INSERT INTO live_topic (event_id) SELECT g FROM generate_series(6, 8) g});
ok(wait_for(q{SELECT lag FROM kafka.stream_progress WHERE stream = 'live'::regclass}, '3', 'paused lag'),
	'a paused stream shows what waits for it');

# a refresh of the paused stream holds it; resumed meanwhile, the worker
# starts and waits for the refresh: the stream is 'refreshing', its worker 'starting'
($locker, $lock_out, $lock_err) = start_psql($node, q{BEGIN; LOCK TABLE live IN SHARE MODE; SELECT pg_sleep(3600);});
ok(wait_for(q{SELECT count(*) FROM pg_locks WHERE relation = 'live'::regclass AND mode = 'ShareLock' AND granted}, '1', 'locked'),
	'the target is locked');
($refresher, $refresh_out, $refresh_err) = start_psql($node, q{CALL kafka.refresh_streaming_table('live')});
ok(wait_for(q{SELECT state FROM kafka.stream_progress WHERE stream = 'live'::regclass}, 'refreshing', 'refreshing paused'),
	"a paused stream being refreshed: 'refreshing'");
query(q{SELECT kafka.resume_streaming_table('live')});
ok(wait_for(q{SELECT state, pid IS NOT NULL FROM kafka.stream_workers() WHERE stream = 'live'::regclass}, 'starting|t', 'starting'),
	"its worker, started, waits for the refresh: 'starting'");
is(state_of('live'), 'refreshing', 'while the refresh runs the stream shows it');
query(q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE live%'});
$locker->finish;
$refresher->finish;
ok(wait_for(q{SELECT state FROM kafka.stream_progress WHERE stream = 'live'::regclass}, 'waiting for records', 'after refresh'),
	'then the worker takes over');
is(query('SELECT count(*), count(DISTINCT _offset) FROM live'), '8|8', 'every record once');

# --- backoff: a transform failing with an error retrying may fix
query(q{
	CREATE TABLE luck (broken boolean);
	INSERT INTO luck VALUES (true);
	CREATE FUNCTION lucky() RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		IF (SELECT broken FROM public.luck) THEN
			RAISE EXCEPTION 'out of luck' USING ERRCODE = '53000';
		END IF;
		RETURN true;
	END $$;
	CREATE TABLE slow (event_id bigint, _offset bigint);
	INSERT INTO slow_topic (event_id) VALUES (1);
	SELECT kafka.create_streaming_table('slow', source => 'slow_topic',
		transform => 'SELECT * FROM batch WHERE public.lucky()');});
ok(wait_for(q{SELECT state ~ '^backoff until \d{4}-' FROM kafka.stream_progress WHERE stream = 'slow'::regclass}, 't', 'backoff'),
	"a worker that failed with an error retrying may fix: 'backoff until <time>'");
like(query(q{SELECT last_error FROM kafka.stream_progress WHERE stream = 'slow'::regclass}), qr/out of luck/,
	'with the error');
query(q{UPDATE luck SET broken = false});
ok(wait_for('SELECT count(*) FROM slow', '1', 'slow recovered'), 'then it runs again');

# --- waiting for a worker: the pool made empty
query(q{ALTER SYSTEM SET kafka_fdw.max_stream_workers = 0; SELECT pg_reload_conf();});
ok(wait_for(q{SELECT string_agg(DISTINCT state, ',') FROM kafka.stream_progress WHERE stream IN ('live'::regclass, 'slow'::regclass)},
	'waiting for a worker', 'no workers'), "without a worker: 'waiting for a worker'");
query(q{ALTER SYSTEM RESET kafka_fdw.max_stream_workers; SELECT pg_reload_conf();});
ok(wait_for(q{SELECT state FROM kafka.stream_progress WHERE stream = 'live'::regclass}, 'waiting for records', 'workers back'),
	'workers again');

# --- a bad record under on_error 'fail': the error names that record only
query(q{INSERT INTO bad_topic (event_id) SELECT g FROM generate_series(1, 3) g;
	CREATE TABLE bad (event_id bigint, _offset bigint);
	SELECT kafka.create_streaming_table('bad', source => 'bad_topic', trigger => 'available_now');});
run_log([ 'kcat', '-P', '-b', $bs, '-t', 'bad', '-p', '0' ], '<', \"not json at all\n");
query(q{INSERT INTO bad_topic (event_id) SELECT g FROM generate_series(5, 6) g});
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('bad')},
	extra_params => [ '-v', 'VERBOSITY=default' ]);
isnt($ret, 0, 'the refresh fails at the bad record');
my @context = ($err =~ /kafka record/g);
is(scalar @context, 1, 'one record is named') or diag($err);
like($err, qr/kafka record bad\[0\] at offset 3 of streaming table public\.bad/, 'the bad one');
is(state_of('bad'), 'failed', "the stream is 'failed'");
is(query(q{SELECT count(*) FROM bad}), '0', 'nothing of the batch was written');

# a value the target refuses (a domain's check) and a transform failing on
# one record: each error names that record, not a good one written before
query(q{INSERT INTO bad_topic (event_id) VALUES (7), (-8), (9);
	CREATE DOMAIN positive AS bigint CHECK (VALUE > 0);
	CREATE TABLE bad_value (event_id positive, _offset bigint);
	SELECT kafka.create_streaming_table('bad_value', source => 'bad_topic', trigger => 'available_now',
		starting_offsets => '{"bad":{"0":4}}');
	CREATE TABLE bad_transform (event_id bigint, _offset bigint);
	SELECT kafka.create_streaming_table('bad_transform', source => 'bad_topic', trigger => 'available_now',
		starting_offsets => '{"bad":{"0":4}}',
		transform => 'SELECT 100 / (event_id - 9) AS event_id, _offset FROM batch');});
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('bad_value')});
@context = ($err =~ /kafka record/g);
is(scalar @context, 1, 'a value the target refuses: one record is named') or diag($err);
like($err, qr/kafka record bad\[0\] at offset 7 /, 'the one with the bad value') or diag($err);
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('bad_transform')});
@context = ($err =~ /kafka record/g);
is(scalar @context, 1, 'a transform failing on a record: one record is named') or diag($err);
like($err, qr/kafka record bad\[0\] at offset 8 /, 'the one it failed on') or diag($err);
query(q{CREATE TABLE bad_keyed (event_id positive PRIMARY KEY, _offset bigint);
	SELECT kafka.create_streaming_table('bad_keyed', source => 'bad_topic', trigger => 'available_now',
		starting_offsets => '{"bad":{"0":4}}', mode => 'upsert', keys => ARRAY['event_id']);});
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('bad_keyed')});
@context = ($err =~ /kafka record/g);
is(scalar @context, 1, 'a keyed target refusing a value: one record is named') or diag($err);
like($err, qr/kafka record bad\[0\] at offset 7 /, 'the one with the bad value') or diag($err);

# a field of the wrong type: the decoder's error names the record
query(q{INSERT INTO bad_topic (event_id) VALUES (10)});
run_log([ 'kcat', '-P', '-b', $bs, '-t', 'bad', '-p', '0' ], '<', \"{\"event_id\": \"x1\"}\n");
query(q{INSERT INTO bad_topic (event_id) VALUES (11);
	CREATE TABLE bad_type (event_id bigint, _offset bigint);
	SELECT kafka.create_streaming_table('bad_type', source => 'bad_topic', trigger => 'available_now',
		starting_offsets => '{"bad":{"0":9}}');});
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('bad_type')});
@context = ($err =~ /kafka record/g);
is(scalar @context, 1, 'a field of the wrong type: one record is named') or diag($err);
like($err, qr/kafka record bad\[0\] at offset 10 /, 'the one with the bad field') or diag($err);

# --- history bounded after 10000 batches of one record
produce(broker => $broker, topic => 'hist', count => 10000, json => 1, partitions => 1);
query(q{CREATE TABLE hist (event_id bigint, _offset bigint);
	SELECT kafka.create_streaming_table('hist', source => 'hist_topic', trigger => 'available_now',
		max_offsets_per_trigger => 1);});
like(query(q{CALL kafka.refresh_streaming_table('hist')}),
	qr/^refreshed public\.hist: 10000 rows from 10000 records in 10000 batches/, '10000 batches');
is(query(q{SELECT count(*), min(batch_id), max(batch_id), count(DISTINCT batch_id), sum(records) FROM kafka.stream_history WHERE stream = 'hist'::regclass}),
	'100|9901|10000|100|100', 'exactly the last 100 batches remain, their ids consecutive');
is(query(q{SELECT offsets, lag FROM kafka.stream_history WHERE stream = 'hist'::regclass AND batch_id IN (9901, 10000) ORDER BY batch_id}),
	qq({"hist": {"0": [9900, 9901]}}|99\n{"hist": {"0": [9999, 10000]}}|0), 'each with its offsets and the lag after it');
is(query(q{SELECT last_batch_id, total_records, total_rows FROM kafka.stream_progress WHERE stream = 'hist'::regclass}),
	'10000|10000|10000', 'the totals count every batch');
is(query(q{SELECT count(*) FROM kafka.stream_history WHERE duration < '0' OR started_at > now()}), '0',
	'durations and start times are sane');

# a smaller size trims at the next batch; 0 writes none
query(q{INSERT INTO hist_topic (event_id) VALUES (10001)});
query(q{SET kafka_fdw.stream_history_size = 5; CALL kafka.refresh_streaming_table('hist')});
is(query(q{SELECT count(*), min(batch_id), max(batch_id) FROM kafka.stream_history WHERE stream = 'hist'::regclass}),
	'5|9997|10001', 'kafka_fdw.stream_history_size = 5: the last 5');
query(q{INSERT INTO hist_topic (event_id) VALUES (10002)});
query(q{SET kafka_fdw.stream_history_size = 0; CALL kafka.refresh_streaming_table('hist')});
is(query(q{SELECT count(*), max(batch_id) FROM kafka.stream_history WHERE stream = 'hist'::regclass}),
	'5|10001', 'kafka_fdw.stream_history_size = 0: no history written');

# --- a second owner sees its own streams only
query(qq{
	CREATE ROLE alice LOGIN;
	GRANT USAGE ON FOREIGN SERVER k TO alice;
	CREATE USER MAPPING FOR alice SERVER k OPTIONS (password_required 'false');
	GRANT CREATE ON SCHEMA public TO alice;
	GRANT USAGE ON SCHEMA kafka TO alice;
	SET ROLE alice;
	CREATE FOREIGN TABLE al_topic (event_id bigint) SERVER k OPTIONS (topic 'al', format 'json');
	INSERT INTO al_topic (event_id) SELECT g FROM generate_series(1, 4) g;
	CREATE TABLE al (event_id bigint);
	SELECT kafka.create_streaming_table('al', source => 'al_topic', trigger => 'available_now');
	CALL kafka.refresh_streaming_table('al');
	INSERT INTO al_topic (event_id) VALUES (5);
	RESET ROLE;
});
sub as_alice
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', "SET ROLE alice; $sql");
}
is(as_alice(q{SELECT string_agg(DISTINCT stream::text, ',') FROM kafka.stream_progress}), 'al',
	'progress: alice sees her stream only');
ok(wait_for_value($node, 'postgres', q{SET ROLE alice; SELECT lag FROM kafka.stream_progress}, '1', 'alice lag', 60),
	'with its live lag');
is(as_alice(q{SELECT string_agg(DISTINCT stream::text, ',') FROM kafka.stream_history}), 'al',
	'history: alice sees her stream only');
is(as_alice(q{SELECT string_agg(DISTINCT stream::text, ',') FROM kafka.stream_watermarks()}), 'al',
	'watermarks: alice is asked about her stream only');
is(as_alice(q{SELECT string_agg(DISTINCT stream::text, ',') FROM kafka.stream_workers()}), '',
	'workers: none of the others');
my $all = query(q{SELECT count(DISTINCT stream) FROM kafka.stream_history});
cmp_ok($all, '>=', 5, 'the superuser sees all histories');
query(q{GRANT pg_read_all_stats TO alice});
is(as_alice(q{SELECT count(DISTINCT stream) FROM kafka.stream_history}), $all, 'pg_read_all_stats sees all histories');
is(as_alice(q{SELECT count(DISTINCT stream) FROM kafka.stream_progress}),
	query(q{SELECT count(DISTINCT stream) FROM kafka.stream_progress}), 'and all progress');
query(q{REVOKE pg_read_all_stats FROM alice});

# --- dropping a stream drops its history
query(q{SELECT kafka.drop_streaming_table('hist')});
is(query(q{SELECT count(*) FROM kafka.stream_history WHERE stream = 'hist'::regclass}), '0',
	'kafka.drop_streaming_table removes the history');
query(q{DROP TABLE an});
is(query(q{SELECT count(*) FROM kafka.stream_history WHERE stream::oid NOT IN (SELECT target FROM kafka.streaming_tables)}), '0',
	'so does DROP TABLE');

# --- Kafka unreachable: the view answers with the last watermarks it was
# told, and says when that was
my $before = query(q{SELECT lag || ' ' || lag_as_of FROM kafka.stream_progress WHERE stream = 'iv'::regclass});
like($before, qr/^25 /, 'the interval stream\'s lag as Kafka told it');
$broker->ctl('broker_down all');
usleep(3_500_000);		# past the few seconds an answer is reused
is(query(q{SELECT lag || ' ' || lag_as_of FROM kafka.stream_progress WHERE stream = 'iv'::regclass}), $before,
	'brokers down: the last answer, with its time');
$broker->ctl('broker_up all');

done_testing();
