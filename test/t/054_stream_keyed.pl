# Keyed streaming tables (modes upsert and cdc, SCD type 1): changes
# collapse per key within a batch and apply across batches by sequence;
# deletes by tombstone or apply_as_deletes are remembered so a late older
# change cannot bring a key back (until tombstone_retention); TRUNCATE,
# ignore_null_updates, except_columns; a NULL key or sequence is a bad
# record; the batch counters; clear errors for targets that cannot work.
# Batches are driven by kafka.refresh_streaming_table, so each assertion
# sees exactly the records produced before it.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('keyed', broker => $broker);

# records as key|value lines into partition 0; an empty value is a
# tombstone (NULL value)
sub send_records
{
	my ($topic, @lines) = @_;
	kcat_produce_keyed($bs, $topic, \@lines, '-p', '0', '-Z');
	return;
}

sub refresh
{
	my ($stream) = @_;
	return $node->safe_psql('postgres', "CALL kafka.refresh_streaming_table('$stream')");
}

sub rows
{
	my ($table, $columns) = @_;
	return $node->safe_psql('postgres', "SELECT $columns FROM $table ORDER BY 1");
}

sub counters
{
	my ($stream) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT last_batch_rows || ' ' || last_batch_inserted || ' ' || last_batch_updated
		       || ' ' || last_batch_deleted
		  FROM kafka.streaming_tables WHERE target = '$stream'::regclass});
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;});
for my $topic (qw(up many seq ret trunc nulls bad refuse))
{
	$broker->create_topic($topic, 1);
}

# --- mode upsert: the Kafka key is the key, a tombstone deletes
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE up_topic (k text OPTIONS (kafka 'key'), v int)
	  SERVER k OPTIONS (topic 'up', format 'json');
	CREATE TABLE up (k text PRIMARY KEY, v int, note text DEFAULT 'new');
	SELECT kafka.create_streaming_table('up', source => 'up_topic', trigger => 'available_now',
	  mode => 'upsert', keys => ARRAY['k']);});
send_records('up', 'a|{"v":1}', 'b|{"v":2}', 'a|{"v":3}', 'c|{"v":4}', 'c|');
like(refresh('up'), qr/2 rows from 5 records in 1 batches/, 'upsert: 5 records, 2 rows');
is(rows('up', 'k, v, note'), "a|3|new\nb|2|new", 'repeated keys collapse to the last, a tombstone deletes');
is(counters('up'), '2 2 0 0', 'counters: 2 inserted');
$node->safe_psql('postgres', q{UPDATE up SET note = 'kept'});
send_records('up', 'a|{"v":5}', 'b|', 'd|{"v":6}', 'a|{"v":7}');
refresh('up');
is(rows('up', 'k, v, note'), "a|7|kept\nd|6|new", 'across batches: update keeps unwritten columns, tombstone deletes');
is(counters('up'), '2 1 1 1', 'counters: 1 inserted, 1 updated, 1 deleted');
is($node->safe_psql('postgres', q{
	SELECT rows_inserted || ' ' || rows_updated || ' ' || rows_deleted
	  FROM kafka.stream_progress WHERE stream = 'up'::regclass}),
	'1 1 1', 'kafka.stream_progress shows the counters');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.stream_tombstones}), '0',
	'the Kafka-position default remembers no deletes');

# --- many batches over few keys: each batch finds what the ones before wrote
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE many_topic (id int, v int, seq bigint)
	  SERVER k OPTIONS (topic 'many', format 'json');
	CREATE TABLE many (id int PRIMARY KEY, v int, seq bigint);
	SELECT kafka.create_streaming_table('many', source => 'many_topic', trigger => 'available_now',
	  mode => 'upsert', keys => ARRAY['id'], sequence_by => 'seq', max_offsets_per_trigger => 170);});
send_records('many', map { my $id = ($_ * 7919) % 300; qq{|{"id":$id,"v":$_,"seq":$_}} } 0 .. 2999);
like(refresh('many'), qr/from 3000 records in 18 batches/, 'many batches');
is($node->safe_psql('postgres', q{SELECT count(*), sum(v), bool_and(v = seq) FROM many}),
	'300|' . eval { my $s = 0; $s += $_ for 2700 .. 2999; $s } . '|t', 'the last change of each key');

# --- mode cdc with sequence_by: out of order, ties, late changes after a delete
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE seq_topic (id int, v text, seq bigint, op text)
	  SERVER k OPTIONS (topic 'seq', format 'json');
	CREATE TABLE seq (id int PRIMARY KEY, v text, seq bigint);
	SELECT kafka.create_streaming_table('seq', source => 'seq_topic', trigger => 'available_now',
	  mode => 'cdc', keys => ARRAY['id'], sequence_by => 'seq', apply_as_deletes => 'op = ''d''');});
send_records('seq',
	'|{"id":1,"v":"one@5","seq":5,"op":"u"}',
	'|{"id":1,"v":"one@3","seq":3,"op":"u"}',
	'|{"id":2,"v":"two first","seq":1,"op":"c"}',
	'|{"id":2,"v":"two tie","seq":1,"op":"u"}',
	'|{"id":3,"v":"three","seq":1,"op":"c"}');
refresh('seq');
is(rows('seq', 'id, v, seq'), "1|one\@5|5\n2|two first|1\n3|three|1",
	'within a batch: the greatest sequence wins, ties go to the earliest');
send_records('seq',
	'|{"id":1,"v":"one@4","seq":4,"op":"u"}',
	'|{"id":2,"v":"two tie again","seq":1,"op":"u"}',
	'|{"id":3,"seq":10,"op":"d"}',
	'|{"id":4,"seq":7,"op":"d"}');
refresh('seq');
is(rows('seq', 'id, v, seq'), "1|one\@5|5\n2|two first|1",
	'across batches: older and equal sequences are ignored; a delete deletes');
is(counters('seq'), '0 0 0 1', 'counters: 1 deleted');
is($node->safe_psql('postgres', q{SELECT key::text || ' ' || sequence FROM kafka.stream_tombstones
	WHERE stream = 'seq'::regclass ORDER BY 1}),
	"{3} 10\n{4} 7", 'deletes are remembered, also of absent keys');
send_records('seq',
	'|{"id":3,"v":"three late","seq":8,"op":"u"}',
	'|{"id":4,"v":"four late","seq":7,"op":"c"}',
	'|{"id":5,"v":"five","seq":1,"op":"c"}');
refresh('seq');
is(rows('seq', 'id, v, seq'), "1|one\@5|5\n2|two first|1\n5|five|1",
	'a late older change after a delete does not bring the key back');
send_records('seq', '|{"id":3,"v":"three again","seq":11,"op":"u"}');
refresh('seq');
is(rows('seq', 'id, v, seq'), "1|one\@5|5\n2|two first|1\n3|three again|11\n5|five|1",
	'a newer change after the delete inserts the key again');
is($node->safe_psql('postgres', q{SELECT key::text FROM kafka.stream_tombstones
	WHERE stream = 'seq'::regclass ORDER BY 1}),
	"{4}", 'and its tombstone is forgotten');
send_records('seq',
	'|{"id":1,"seq":20,"op":"d"}',
	'|{"id":1,"v":"one@21","seq":21,"op":"u"}',
	'|{"id":2,"v":"two@2","seq":2,"op":"u"}',
	'|{"id":2,"seq":3,"op":"d"}');
refresh('seq');
is(rows('seq', 'id, v, seq'), "1|one\@21|21\n3|three again|11\n5|five|1",
	'a delete then an upsert of a key in one batch, and an upsert then a delete');
is(counters('seq'), '1 0 1 1', 'counters: 1 updated, 1 deleted');
send_records('seq', '|{"id":6,"seq":10,"op":"d"}');
refresh('seq');
send_records('seq', '|{"id":6,"seq":7,"op":"d"}');
refresh('seq');
send_records('seq', '|{"id":6,"v":"six","seq":8,"op":"u"}');
refresh('seq');
is(rows('seq', 'count(*)') . ' ' . $node->safe_psql('postgres', q{SELECT string_agg(sequence, ',' ORDER BY sequence)
	FROM kafka.stream_tombstones WHERE stream = 'seq'::regclass AND key = '{6}'}),
	'3 10,7', 'a late older delete does not replace a newer remembered one');

# --- tombstone_retention: after it, an older change is treated as new
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE ret_topic (id int, v text, seq bigint, op text)
	  SERVER k OPTIONS (topic 'ret', format 'json');
	CREATE TABLE ret (id int PRIMARY KEY, v text, seq bigint);
	SELECT kafka.create_streaming_table('ret', source => 'ret_topic', trigger => 'available_now',
	  mode => 'cdc', keys => ARRAY['id'], sequence_by => 'seq', apply_as_deletes => 'op = ''d''',
	  tombstone_retention => '1 second');});
send_records('ret', '|{"id":1,"v":"one","seq":5,"op":"c"}', '|{"id":1,"seq":10,"op":"d"}');
refresh('ret');
is(rows('ret', 'count(*)'), '0', 'retention: deleted');
# wait until the tombstone is older than the retention, as the server sees it
$node->poll_query_until('postgres', q{SELECT bool_and(deleted_at < now() - interval '1 second')
	FROM kafka.stream_tombstones WHERE stream = 'ret'::regclass}) or die 'tombstone never aged';
send_records('ret', '|{"id":1,"v":"one late","seq":8,"op":"u"}');
refresh('ret');
is(rows('ret', 'id, v, seq'), '1|one late|8', 'after tombstone_retention an older change is new again');

# --- apply_as_truncates, ignore_null_updates, except_columns
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE trunc_topic (id int, a int, b int, secret text, op text)
	  SERVER k OPTIONS (topic 'trunc', format 'json');
	CREATE TABLE trunc (id int PRIMARY KEY, a int, b int, secret text DEFAULT 'hidden');
	SELECT kafka.create_streaming_table('trunc', source => 'trunc_topic', trigger => 'available_now',
	  mode => 'cdc', keys => ARRAY['id'], apply_as_deletes => 'op = ''d''',
	  apply_as_truncates => 'op = ''t''', ignore_null_updates => true,
	  except_columns => ARRAY['secret', 'op']);});
send_records('trunc',
	'|{"id":1,"a":1,"b":1,"secret":"s1","op":"c"}',
	'|{"id":2,"a":2,"b":2,"op":"c"}',
	'|{"id":2,"a":null,"b":20,"op":"u"}');
refresh('trunc');
is(rows('trunc', 'id, a, b, secret'), "1|1|1|hidden\n2|2|20|hidden",
	'ignore_null_updates folds a batch; except_columns are not written');
send_records('trunc', '|{"id":1,"a":null,"b":10,"op":"u"}', '|{"id":2,"a":5,"b":null,"op":"u"}');
refresh('trunc');
is(rows('trunc', 'id, a, b'), "1|1|10\n2|5|20", 'ignore_null_updates keeps the stored values');
send_records('trunc',
	'|{"id":3,"a":3,"b":3,"op":"c"}',
	'|{"op":"t"}',
	'|{"id":4,"a":4,"b":4,"op":"c"}');
refresh('trunc');
is(rows('trunc', 'id, a, b'), "4|4|4", 'a truncate empties the table and drops the changes before it');
is(counters('trunc'), '1 1 0 2', 'counters: the truncated rows count as deleted');

# --- a NULL key or sequence is a bad record
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE nulls_topic (id int, v text, seq bigint)
	  SERVER k OPTIONS (topic 'nulls', format 'json');
	CREATE TABLE nulls (id int PRIMARY KEY, v text, seq bigint);
	CREATE TABLE nulls_fail (LIKE nulls INCLUDING INDEXES);
	SELECT kafka.create_streaming_table('nulls', source => 'nulls_topic', trigger => 'available_now',
	  mode => 'upsert', keys => ARRAY['id'], sequence_by => 'seq', on_error => 'dead_letter');
	SELECT kafka.create_streaming_table('nulls_fail', source => 'nulls_topic', trigger => 'available_now',
	  mode => 'upsert', keys => ARRAY['id'], sequence_by => 'seq');});
send_records('nulls',
	'|{"id":1,"v":"one","seq":1}',
	'|{"id":null,"v":"no key","seq":2}',
	'|{"id":2,"v":"no sequence","seq":null}',
	'|{"id":3,"v":"three","seq":1}');
like(refresh('nulls'), qr/2 rows from 4 records in 1 batches, 2 dead letters/, 'two dead letters');
is(rows('nulls', 'id, v'), "1|one\n3|three", 'the good records are applied');
is($node->safe_psql('postgres', q{SELECT "offset" || ' ' || error FROM kafka.dead_letters
	WHERE stream = 'nulls'::regclass ORDER BY "offset"}),
	qq{1 key column "id" is null\n2 sequence column "seq" is null}, 'each naming its column');
my ($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('nulls_fail')});
like($err, qr/key column "id" is null/, 'on_error fail: the error names the column');
like($err, qr/kafka record nulls\[0\] at offset 1/, 'and the record');
is(rows('nulls_fail', 'count(*)'), '0', 'and nothing is written');

# --- a batch bigger than what it holds at once: SCD type 1 collapses as it
# reads and lets the records go, so without max_offsets_per_trigger one
# batch takes every record (each key written once); a record the target
# refuses only when written (a CHECK) is a dead letter with its bytes even
# though its message was let go long before
$broker->create_topic('wide', 1);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE wide_topic (id int, v int, seq bigint)
	  SERVER k OPTIONS (topic 'wide', format 'json');
	CREATE TABLE wide (id int PRIMARY KEY, v int CHECK (v >= 0), seq bigint);
	SELECT kafka.create_streaming_table('wide', source => 'wide_topic', trigger => 'available_now',
	  mode => 'upsert', keys => ARRAY['id'], sequence_by => 'seq', on_error => 'dead_letter');});
send_records('wide', '|{"id":5000,"v":-1,"seq":0}', '|{"id":', '|{"id":null,"v":1,"seq":0}',
	map { my $id = $_ % 1000; qq{|{"id":$id,"v":$_,"seq":$_}} } 1 .. 120000);
like(refresh('wide'), qr/1000 rows from 120003 records in 1 batches, 3 dead letters/,
	'one batch over 120003 records, three dead letters');
is($node->safe_psql('postgres', q{SELECT count(*), min(v), max(v), bool_and(v = seq AND v > 119000) FROM wide}),
	'1000|119001|120000|t', 'the last change of each key');
is(counters('wide'), '1000 1000 0 0', 'each key written once');
is($node->safe_psql('postgres', q{SELECT "offset" || ' ' || convert_from(value, 'UTF8') || ' '
	|| (error LIKE '%violates check constraint%')::text FROM kafka.dead_letters
	WHERE stream = 'wide'::regclass AND "offset" = 0}),
	'0 {"id":5000,"v":-1,"seq":0} true', 'a row refused when written keeps its record');
is($node->safe_psql('postgres', q{SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM kafka.dead_letters
	WHERE stream = 'wide'::regclass}), '0,1,2', 'the malformed record and the NULL key too');

# --- targets that cannot work are refused at creation, and stop the stream
# at the next batch when they are made so afterwards
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE refuse_topic (id int, v text, seq bigint)
	  SERVER k OPTIONS (topic 'refuse', format 'json');
	CREATE TABLE no_index (id int, v text);
	CREATE TABLE no_seq (id int PRIMARY KEY, v text);});
($ret, $out, $err) = $node->psql('postgres', q{SELECT kafka.create_streaming_table('no_index', source => 'refuse_topic',
	trigger => 'available_now', mode => 'upsert', keys => ARRAY['id'])});
like($err, qr/streaming table \S*no_index has no unique index on its keys \(id\)/, 'keys without a unique index are refused');
($ret, $out, $err) = $node->psql('postgres', q{SELECT kafka.create_streaming_table('no_seq', source => 'refuse_topic',
	trigger => 'available_now', mode => 'upsert', keys => ARRAY['id'], sequence_by => 'seq')});
like($err, qr/streaming table \S*no_seq has no column "seq" to store its sequence/, 'a missing sequence column is refused');
$node->safe_psql('postgres', q{
	CREATE UNIQUE INDEX no_index_id ON no_index (id);
	ALTER TABLE no_seq ADD COLUMN seq bigint;
	SELECT kafka.create_streaming_table('no_index', source => 'refuse_topic', trigger => 'available_now',
	  mode => 'upsert', keys => ARRAY['id']);
	SELECT kafka.create_streaming_table('no_seq', source => 'refuse_topic', trigger => 'available_now',
	  mode => 'upsert', keys => ARRAY['id'], sequence_by => 'seq');
	DROP INDEX no_index_id;
	ALTER TABLE no_seq DROP COLUMN seq;});
send_records('refuse', '|{"id":1,"v":"one","seq":1}');
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('no_index')});
like($err, qr/streaming table \S*no_index has no unique index on its keys \(id\)/, 'keys without a unique index at a batch');
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('no_seq')});
like($err, qr/streaming table \S*no_seq has no column "seq" to store its sequence/, 'sequence column missing at a batch');
is($node->safe_psql('postgres', q{SELECT string_agg(state, ' ' ORDER BY target::text) FROM kafka.streaming_tables
	WHERE target IN ('no_index'::regclass, 'no_seq'::regclass)}), 'failed failed', 'both streams stopped');

# --- mode cdc over a transform's rows; insert triggers fire, update triggers are refused
$broker->create_topic('xf', 1);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE xf_topic (id int, name text, op text)
	  SERVER k OPTIONS (topic 'xf', format 'json');
	CREATE TABLE xf (id int PRIMARY KEY, name text, kind text);
	CREATE TABLE xf_log (id int);
	CREATE FUNCTION xf_log() RETURNS trigger LANGUAGE plpgsql AS
	  $$BEGIN INSERT INTO xf_log VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
		  RETURN NEW; END$$;
	CREATE TRIGGER xf_insert AFTER INSERT ON xf FOR EACH ROW EXECUTE FUNCTION xf_log();
	SELECT kafka.create_streaming_table('xf', source => 'xf_topic', trigger => 'available_now',
	  mode => 'cdc', keys => ARRAY['id'],
	  transform => 'SELECT id, upper(name) AS name, op AS kind FROM batch WHERE id > 0',
	  apply_as_deletes => 'kind = ''d''', except_columns => ARRAY['kind']);});
send_records('xf', '|{"id":1,"name":"one","op":"c"}', '|{"id":2,"name":"two","op":"c"}',
	'|{"id":-1,"name":"filtered","op":"c"}', '|{"id":1,"name":"uno","op":"u"}');
refresh('xf');
is(rows('xf', 'id, name, kind'), "1|UNO|\n2|TWO|", 'cdc over the rows of the transform, except_columns not written');
is(rows('xf_log', 'id'), "1\n2", 'insert triggers fire for new keys');
send_records('xf', '|{"id":2,"op":"d"}');
refresh('xf');
is(rows('xf', 'id, name'), "1|UNO", 'apply_as_deletes over the output of the transform');
$node->safe_psql('postgres', q{
	CREATE TABLE xf_names (name text PRIMARY KEY);
	INSERT INTO xf_names VALUES ('UNO'), ('EINS');
	ALTER TABLE xf ADD FOREIGN KEY (name) REFERENCES xf_names;
	CREATE TRIGGER xf_update BEFORE UPDATE ON xf FOR EACH ROW EXECUTE FUNCTION xf_log();
	CREATE TRIGGER xf_delete AFTER DELETE ON xf FOR EACH ROW EXECUTE FUNCTION xf_log();
	TRUNCATE xf_log;});
send_records('xf', '|{"id":1,"name":"eins","op":"u"}', '|{"id":5,"name":"uno","op":"c"}');
refresh('xf');
send_records('xf', '|{"id":5,"op":"d"}');
refresh('xf');
is(rows('xf', 'id, name') . ' / ' . rows('xf_log', 'id'), "1|EINS / 1\n5\n5",
	'update and delete triggers fire (an insert, an update, a delete)');
send_records('xf', '|{"id":1,"name":"dos","op":"u"}');
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('xf')});
like($err, qr/violates foreign key constraint/, 'foreign keys are checked on update');
$node->safe_psql('postgres', q{
	CREATE TRIGGER xf_transition AFTER UPDATE ON xf REFERENCING NEW TABLE AS n
	  FOR EACH STATEMENT EXECUTE FUNCTION xf_log();
	SELECT kafka.resume_streaming_table('xf');});
($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('xf')});
like($err, qr/streaming table \S*xf in a keyed mode cannot have UPDATE or DELETE triggers with transition tables/,
	'transition tables of update triggers are refused');
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE up2_topic (k text OPTIONS (kafka 'key'), v int)
	  SERVER k OPTIONS (topic 'up', format 'json');
	CREATE TABLE up2 (k text PRIMARY KEY, v int);});
($ret, $out, $err) = $node->psql('postgres', q{SELECT kafka.create_streaming_table('up2', source => 'up2_topic',
	trigger => 'available_now', mode => 'upsert', transform => 'SELECT * FROM batch')});
like($err, qr/streaming table \S*up2 in mode 'upsert' cannot have a transform/, 'upsert with a transform is refused');

# --- a continuous keyed stream (its worker applies the same way); keys
# default to the kafka 'key' column
$broker->create_topic('live', 1);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE live_topic (k text OPTIONS (kafka 'key'), v int)
	  SERVER k OPTIONS (topic 'live', format 'json');
	CREATE TABLE live (k text PRIMARY KEY, v int);
	SELECT kafka.create_streaming_table('live', source => 'live_topic', mode => 'upsert');});
send_records('live', 'x|{"v":1}', 'y|{"v":2}', 'x|{"v":3}');
ok(wait_for_value($node, 'postgres', q{SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM live},
	'x=3,y=2', 'live', 30), 'a continuous upsert stream');
send_records('live', 'y|', 'z|{"v":5}');
ok(wait_for_value($node, 'postgres', q{SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM live},
	'x=3,z=5', 'live', 30), 'its tombstones delete');

# --- delta_export: a keyed stream's table is exported whole (overwrite);
# an append has no offsets to start from and is refused
my $lake = PostgreSQL::Test::Utils::tempdir() . '/live_lake';
($ret, $out, $err) = $node->psql('postgres', qq{SELECT rows FROM kafka.delta_export('live', '$lake', mode => 'append')});
like($err, qr/cannot append the keyed streaming table "live" to a Delta table/, 'delta_export append of a keyed stream is refused');
is($node->safe_psql('postgres', qq{SELECT version || ' ' || rows FROM kafka.delta_export('live', '$lake', mode => 'overwrite')}),
	'0 2', 'delta_export overwrite writes the current rows');
send_records('live', 'x|{"v":4}');
ok(wait_for_value($node, 'postgres', q{SELECT v FROM live WHERE k = 'x'}, '4', 'live', 30), 'the stream goes on');
is($node->safe_psql('postgres', qq{SELECT version || ' ' || rows FROM kafka.delta_export('live', '$lake', mode => 'overwrite')}),
	'1 2', 'a second overwrite replaces the snapshot');

unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no process crashed');

done_testing();
