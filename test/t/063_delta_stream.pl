# kafka.delta_export() of a streaming table: an append exports only the rows
# not exported yet, between the Kafka offsets recorded in the Delta table's
# last commit (commitInfo.kafkaOffsets, with txn version = the stream's
# batch_id) and the stream's current kafka.stream_offsets.
#
# Streams are registered in the streaming-table catalog
# (kafka.streaming_tables, kafka.stream_offsets) by hand, and batches are
# "ingested" the way a stream commits them: rows, offsets and batch_id in one
# transaction.  No worker runs: this tests the export side of the contract.  The snapshot is checked with DuckDB and hyparquet after each
# step; a killed export is re-run and lands once.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $verify = "$srcdir/test/verify/delta_verify.mjs";
my $expected_sql = "$srcdir/test/verify/canonical_rows.sql";
BAIL_OUT("the npm test tools are missing: run npm ci in $srcdir/test")
  unless -d "$srcdir/test/node_modules/\@duckdb/node-api";

my $node = new_node('delta_stream', conf => 'restart_after_crash = on');
my $lake = $node->data_dir . '/lake';
my $scratch = PostgreSQL::Test::Utils::tempdir('delta_stream');
my $expected_count = 0;

sub verify_table
{
	my ($table_path, $pg_table, $what) = @_;
	my $json = $node->safe_psql('postgres',
		"\\i $expected_sql\nSELECT pg_temp.delta_expected_rows('$pg_table', '_partition, _offset');");
	my $file = "$scratch/expected" . $expected_count++ . '.json';
	PostgreSQL::Test::Utils::append_to_file($file, $json);
	my ($ok, $out, $err) = run_cmd(
		[
			'node', $verify, '--table', $table_path, '--expected', $file,
			'--key', '_partition,_offset'
		],
		600);
	ok($ok, "$what: the Delta snapshot equals $pg_table") or diag("$err\n$out");
	my ($summary) = grep { /^\{/ } split /\n/, $out;
	return $summary ? decode_json($summary) : {};
}

sub export
{
	my ($args, $user) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET client_min_messages = warning; SELECT version, files, rows FROM kafka.delta_export($args)",
		$user ? (extra_params => [ '-U', $user ]) : ());
	return $ret == 0 ? $out : "ERROR: $err";
}

# The commitInfo.kafkaOffsets and txn of one commit.
sub commit_position
{
	my ($table_path, $version) = @_;
	return $node->safe_psql('postgres', qq{
		WITH lines AS (
		  SELECT line::jsonb AS a
		  FROM regexp_split_to_table(pg_read_file('$table_path/_delta_log/' || lpad('$version', 20, '0') || '.json'), E'\\n') line
		  WHERE line <> '')
		SELECT (SELECT a -> 'commitInfo' -> 'kafkaOffsets' FROM lines WHERE a ? 'commitInfo')::text || '|' ||
		       (SELECT (a -> 'txn' ->> 'appId') || '=' || (a -> 'txn' ->> 'version') FROM lines WHERE a ? 'txn')});
}

$node->safe_psql('postgres', q{
	-- the foreign table a stream reads (never read here: no worker runs)
	CREATE SERVER kafka_server FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '127.0.0.1:9');
	CREATE FOREIGN TABLE events_source (value bytea) SERVER kafka_server
	  OPTIONS (topic 'events');

	CREATE TABLE events (_partition int, _offset bigint, payload text, amount numeric(12,2),
	                     ts timestamptz);
	INSERT INTO kafka.streaming_tables (target, source, owner)
	VALUES ('events', 'events_source', current_user::regrole);
	INSERT INTO kafka.stream_offsets (stream, topic, partition, next_offset)
	SELECT 'events', 'events', p, 0 FROM generate_series(0, 2) p;

	-- one batch, committed the way a stream commits it: the rows, the next
	-- offsets and batch_id in one transaction
	CREATE FUNCTION ingest(stream_name regclass, per_partition int) RETURNS void LANGUAGE plpgsql AS $$
	DECLARE
	  s record;
	  o record;
	BEGIN
	  SELECT * INTO s FROM kafka.streaming_tables WHERE target = stream_name FOR UPDATE;
	  FOR o IN SELECT * FROM kafka.stream_offsets WHERE stream = s.target ORDER BY topic, partition LOOP
	    IF s.target = 'events'::regclass THEN
	      INSERT INTO events
	      SELECT o.partition, g, format('p%s o%s é', o.partition, g), g * 0.5 - 100,
	             timestamptz '2024-01-01' + g * interval '1 second'
	      FROM generate_series(o.next_offset, o.next_offset + per_partition - 1) g;
	    ELSE
	      EXECUTE format('INSERT INTO %s (_topic, _partition, _offset, payload) '
	                     'SELECT $1, $2, g, $1 || g FROM generate_series($3, $3 + $4 - 1) g', s.target)
	        USING o.topic, o.partition, o.next_offset, per_partition;
	    END IF;
	    UPDATE kafka.stream_offsets SET next_offset = next_offset + per_partition
	     WHERE stream = s.target AND topic = o.topic AND partition = o.partition;
	  END LOOP;
	  UPDATE kafka.streaming_tables SET batch_id = batch_id + 1 WHERE target = s.target;
	END $$;
});

my $path = "$lake/events";
my $app = 'kafka_fdw.stream:public.events';

# First export creates the table with every row so far.
$node->safe_psql('postgres', "SELECT ingest('events', 100)");
is(export("'events', '$path'"), '0|1|300', 'first append: the 300 rows of batch 1');
is(commit_position($path, 0), qq({"events": {"0": 100, "1": 100, "2": 100}}|$app=1),
	'commit records the offsets and batch 1');
verify_table($path, 'events', 'after batch 1');

is(export("'events', '$path'"), '0|0|0', 're-run with no new batch adds nothing');
is(export("'events', '$path', app_id => 'x', txn_version => 1"),
	q{ERROR: psql:<stdin>:1: ERROR:  parameters "app_id" and "txn_version" cannot be given for a streaming table
DETAIL:  A streaming table records its own export position.}, 'app_id is refused for a streaming table');

# Two more batches: only their rows are exported.
$node->safe_psql('postgres', "SELECT ingest('events', 50)");
$node->safe_psql('postgres', "SELECT ingest('events', 7)");
is(export("'events', '$path'"), '1|1|171', 'second append: the 171 rows of batches 2 and 3');
is(commit_position($path, 1), qq({"events": {"0": 157, "1": 157, "2": 157}}|$app=3),
	'commit records the offsets and batch 3');
my $summary = verify_table($path, 'events', 'after batch 3');
is($summary->{rows}, 471, 'snapshot has 471 rows');

# A query over the streaming table is a plain export (no stream position).
is(export("'SELECT * FROM events WHERE false', '$lake/plain'"), '0|0|0',
	'a query over a streaming table is exported as a query');

# Killed mid-export: no version, and the re-run exports the batch once.  A
# row-level security policy makes the export wait at a chosen row.
$node->safe_psql('postgres', q{
	CREATE TABLE gate_at (o bigint);
	INSERT INTO gate_at VALUES (160);
	CREATE FUNCTION gate(o bigint) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
	  IF o = (SELECT gate_at.o FROM gate_at) THEN
	    PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242);
	  END IF;
	  RETURN true;
	END $$;
	CREATE ROLE exporter LOGIN IN ROLE pg_write_server_files;
	GRANT USAGE ON SCHEMA kafka TO exporter;
	-- no rights on the catalog: it is read as its owner
	GRANT SELECT ON events, gate_at TO exporter;
	CREATE POLICY slow ON events FOR SELECT USING (gate(_offset));
	ALTER TABLE events ENABLE ROW LEVEL SECURITY;
});
$node->safe_psql('postgres', "SELECT ingest('events', 40)");

sub start_gated_export
{
	my $holder = $node->background_psql('postgres');
	$holder->query_safe('SELECT pg_advisory_lock(4242)');
	my $session = $node->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-U', 'exporter' ]);
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->query_until(qr/started/, "\\echo started\n"
		  . "SET client_min_messages = warning;\n"
		  . "SELECT version, files, rows FROM kafka.delta_export('events', '$path', target_file_size => 2000);\n");
	$node->poll_query_until('postgres',
		"SELECT wait_event = 'advisory' FROM pg_stat_activity WHERE pid = $pid")
	  or die 'the export did not reach its gate';
	return ($holder, $session, $pid);
}

{
	my ($holder, $session, $pid) = start_gated_export();
	kill 'KILL', $pid;
	eval { $session->quit };
	eval { $holder->quit };
	$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_ls_dir('$path/_delta_log') f WHERE f ~ '^\\d{20}\\.json\$'"),
		'2', 'the killed export published no version');
	$node->safe_psql('postgres', 'CREATE TABLE events_before AS SELECT * FROM events WHERE _offset < 157');
	verify_table($path, 'events_before', 'after the kill, the snapshot is unchanged');
}
is(export("'events', '$path'", 'exporter'), '2|1|120', 're-run after the kill exports batch 4 once');
is(export("'events', '$path'", 'exporter'), '2|0|0', 'and a second re-run adds nothing');
verify_table($path, 'events', 'after batch 4');

# A batch committed while an export runs is left for the next export: the
# export reads the offsets and the rows in one snapshot.
$node->safe_psql('postgres', "SELECT ingest('events', 3); UPDATE gate_at SET o = 198");
{
	my ($holder, $session, $pid) = start_gated_export();
	$node->safe_psql('postgres', "SELECT ingest('events', 1)");
	$holder->query_safe('SELECT pg_advisory_unlock(4242)');
	$holder->quit;
	my $out = $session->query('SELECT 1');
	$session->quit;
	is($out, "3|1|9\n1", 'the export running while batch 6 commits exports batch 5 only');
}
is(commit_position($path, 3), qq({"events": {"0": 200, "1": 200, "2": 200}}|$app=5),
	'commit records the offsets and batch 5');
is(export("'events', '$path'"), '4|1|3', 'the next export takes batch 6');
verify_table($path, 'events', 'after batch 6');

# Overwrite: the whole table again, and the position is kept.
is(export("'events', '$path', mode => 'overwrite'"), '5|1|603', 'overwrite exports every row');
is(export("'events', '$path'"), '5|0|0', 'an append after it adds nothing');
$node->safe_psql('postgres', "SELECT ingest('events', 1)");
is(export("'events', '$path'"), '6|1|3', 'then the next batch only');
$summary = verify_table($path, 'events', 'after overwrite and batch 7');
is($summary->{txns}{$app}, 7, 'txn records batch 7');

# A stream created anew (batch_id behind the Delta table) is refused.
$node->safe_psql('postgres', "UPDATE kafka.streaming_tables SET batch_id = 2 WHERE target = 'events'::regclass");
like(export("'events', '$path'"), qr/is at batch 2, behind batch 7 recorded in the Delta table.*HINT:  Export it with mode => 'overwrite'/s,
	'a stream behind the Delta table is refused');
$node->safe_psql('postgres', "UPDATE kafka.streaming_tables SET batch_id = 7 WHERE target = 'events'::regclass");

# Several topics: rows are told apart by _topic.
$node->safe_psql('postgres', q{
	CREATE TABLE multi (_topic text, _partition int, _offset bigint, payload text);
	INSERT INTO kafka.streaming_tables (target, source, owner)
	VALUES ('multi', 'events_source', current_user::regrole);
	INSERT INTO kafka.stream_offsets (stream, topic, partition, next_offset)
	SELECT 'multi', t, p, 0 FROM unnest(ARRAY['a', 'b']) t, generate_series(0, 1) p;
	SELECT ingest('multi', 10);
});
is(export("'multi', '$lake/multi'"), '0|1|40', 'two topics: first append');
$node->safe_psql('postgres', "SELECT ingest('multi', 5)");
is(export("'multi', '$lake/multi'"), '1|1|20', 'two topics: second append');
is(commit_position("$lake/multi", 1),
	qq({"a": {"0": 15, "1": 15}, "b": {"0": 15, "1": 15}}|kafka_fdw.stream:public.multi=2),
	'offsets per topic');
is($node->safe_psql('postgres', "SET client_min_messages = warning; SELECT count(*) FROM (SELECT DISTINCT _topic, _partition, _offset FROM multi) d"),
	'60', 'the source has 60 distinct records');
{
	my $json = $node->safe_psql('postgres',
		"\\i $expected_sql\nSELECT pg_temp.delta_expected_rows('multi', '_topic, _partition, _offset');");
	my $file = "$scratch/multi.json";
	PostgreSQL::Test::Utils::append_to_file($file, $json);
	my ($ok, $out, $err) = run_cmd(
		[ 'node', $verify, '--table', "$lake/multi", '--expected', $file, '--key', '_topic,_partition,_offset' ], 600);
	ok($ok, 'two topics: the snapshot equals the table') or diag("$err\n$out");
}

like(export("'multi', '$lake/multi'", 'exporter'), qr/permission denied for table multi/,
	'a role that cannot read the target is refused by the table, not the catalog');

# Without _topic, two topics cannot be told apart; without _partition and
# _offset nothing can.
$node->safe_psql('postgres', q{
	CREATE TABLE multi_untagged (_partition int, _offset bigint);
	INSERT INTO kafka.streaming_tables (target, source, owner)
	VALUES ('multi_untagged', 'events_source', current_user::regrole);
	INSERT INTO kafka.stream_offsets (stream, topic, partition, next_offset)
	SELECT 'multi_untagged', t, 0, 5 FROM unnest(ARRAY['a', 'b']) t;
	CREATE TABLE bare (payload text);
	INSERT INTO kafka.streaming_tables (target, source, owner)
	VALUES ('bare', 'events_source', current_user::regrole);
});
like(export("'multi_untagged', '$lake/untagged'"),
	qr/it reads 2 topics and has no _topic column.*HINT:  Add the _topic metadata column/s,
	'two topics without _topic: clear error');
like(export("'bare', '$lake/bare'"),
	qr/cannot export the streaming table "public.bare" incrementally: it has no _partition and _offset columns.*HINT:  Keep the _partition and _offset/s,
	'a target without _partition/_offset: clear error with a hint');
ok(!-e "$lake/untagged" && !-e "$lake/bare", 'refused exports created nothing');

$node->stop;
done_testing();
