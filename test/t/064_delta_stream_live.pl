# kafka.delta_export() of real streaming tables, fed from the test broker:
#
#  - refresh batches (trigger available_now): each append exports the rows
#    not exported yet, and an append with nothing new adds no version;
#  - a continuous stream whose worker ingests while records are produced:
#    appends run concurrently with the batches, and every version is exactly
#    the rows below the offsets it records;
#  - a backend killed in the middle of an export (data files written, no
#    commit): no version appears, and the re-run exports the rows once.
#
# Every snapshot is read back with DuckDB and hyparquet
# (test/verify/delta_verify.mjs) and compared with the table.

use strict;
use warnings;

use JSON::PP;
use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $verify = "$srcdir/test/verify/delta_verify.mjs";
my $expected_sql = "$srcdir/test/verify/canonical_rows.sql";
BAIL_OUT("the npm test tools are missing: run npm ci in $srcdir/test")
  unless -d "$srcdir/test/node_modules/\@duckdb/node-api";

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('delta_live', broker => $broker, conf => 'restart_after_crash = on');
my $lake = $node->data_dir . '/lake';
my $scratch = PostgreSQL::Test::Utils::tempdir('delta_live');
my $expected_count = 0;

# The Delta snapshot at $table_path, read by independent readers, equals the
# rows of $pg_table (a table or a view); returns the verifier's summary.
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

# version|files|rows of one export, or the error.
sub export
{
	my ($args, $user) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET client_min_messages = warning; SELECT version, files, rows FROM kafka.delta_export($args)",
		$user ? (extra_params => [ '-U', $user ]) : ());
	return $ret == 0 ? $out : "ERROR: $err";
}

sub log_versions
{
	my ($table_path) = @_;
	opendir(my $dh, "$table_path/_delta_log") or return 0;
	my $n = grep { /^\d{20}\.json$/ } readdir($dh);
	closedir($dh);
	return $n;
}

sub data_files
{
	my ($table_path) = @_;
	opendir(my $dh, $table_path) or return 0;
	my $n = grep { /\.parquet$/ } readdir($dh);
	closedir($dh);
	return $n;
}

# The commitInfo.kafkaOffsets and the txn version of one commit.
sub commit_position
{
	my ($table_path, $version) = @_;
	my $file = sprintf('%s/_delta_log/%020d.json', $table_path, $version);
	my ($offsets, $txn);
	foreach my $line (split /\n/, slurp_file($file))
	{
		my $action = decode_json($line);
		$offsets = $action->{commitInfo}{kafkaOffsets} if $action->{commitInfo};
		$txn = $action->{txn} if $action->{txn};
	}
	return ($offsets, $txn);
}

# A view of the rows of $table below the offsets $offsets records (its one
# topic): what a commit recording them must hold.
sub rows_below_view
{
	my ($table, $offsets, $view) = @_;
	my $json = encode_json($offsets);
	$node->safe_psql('postgres', qq{
		CREATE OR REPLACE VIEW $view AS
		SELECT t.* FROM $table t
		 WHERE t._offset < ((SELECT o.value FROM jsonb_each('$json'::jsonb) o) ->> t._partition::text)::bigint});
	return $view;
}

sub wait_for { return wait_for_value($node, 'postgres', @_, 120); }

$broker->create_topic('events', 3);
$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE FOREIGN TABLE events_topic (
		event_id bigint, user_id int, type text, amount numeric(12,2), ts timestamptz,
		_partition int OPTIONS (kafka 'partition'),
		_offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'events', format 'json');
});

sub stream_table
{
	my ($name) = @_;
	return "CREATE TABLE $name (event_id bigint, user_id int, type text, amount numeric(12,2),
	                            ts timestamptz, _partition int, _offset bigint);";
}

# --- 1. refresh batches: each append exports the new rows once
my $path = "$lake/events";
my $app = 'kafka_fdw.stream:public.events';
produce(broker => $broker, topic => 'events', count => 1000, json => 1, partitions => 3);
$node->safe_psql('postgres', stream_table('events') . q{
	SELECT kafka.create_streaming_table('events', source => 'events_topic',
	  trigger => 'available_now', max_offsets_per_trigger => 300);});
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('events')}),
	qr/1000 rows from 1000 records in 4 batches/, 'refresh loads the first 1000 records');
is(export("'events', '$path', mode => 'append'"), '0|1|1000', 'first append exports 1000 rows');
my ($offsets, $txn) = commit_position($path, 0);
is_deeply([ $txn->{appId}, $txn->{version} ], [ $app, 4 ], 'txn version = batch_id 4');
is($node->safe_psql('postgres', q{SELECT batch_id FROM kafka.streaming_tables WHERE target = 'events'::regclass}),
	'4', 'the stream is at batch 4');
is_deeply($offsets,
	decode_json($node->safe_psql('postgres', q{SELECT jsonb_build_object('events', jsonb_object_agg("partition"::text, next_offset))
	FROM kafka.stream_offsets WHERE stream = 'events'::regclass})),
	'commit records the stream\'s offsets');
my $summary = verify_table($path, 'events', 'after the first append');
is($summary->{rows}, 1000, 'snapshot has 1000 rows');

produce(broker => $broker, topic => 'events', count => 700, start => 1000, json => 1, partitions => 3);
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('events')}),
	qr/700 rows from 700 records in 3 batches/, 'refresh loads 700 more');
is(export("'events', '$path', mode => 'append'"), '1|1|700', 'second append exports only the 700 new rows');
($offsets, $txn) = commit_position($path, 1);
is($txn->{version}, 7, 'txn version = batch_id 7');
$summary = verify_table($path, 'events', 'after the second append');
is($summary->{rows}, 1700, 'snapshot has 1700 rows, none twice');
is_deeply($summary->{txns}, { $app => 7 }, 'the snapshot records batch 7');

is(export("'events', '$path', mode => 'append'"), '1|0|0', 'an append with nothing new adds nothing');
is(log_versions($path), 2, 'and writes no version');
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('events')}),
	qr/0 rows from 0 records in 0 batches/, 'a refresh with nothing new');
is(export("'events', '$path', mode => 'append'"), '1|0|0', 'still nothing to export');
is(log_versions($path), 2, 'still two versions');

# --- 2. a continuous stream: appends while the worker ingests
$broker->create_topic('live_events', 3);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE live_topic (
		event_id bigint, user_id int, type text, amount numeric(12,2), ts timestamptz,
		_partition int OPTIONS (kafka 'partition'),
		_offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'live_events', format 'json');
} . stream_table('live') . q{
	SELECT kafka.create_streaming_table('live', source => 'live_topic',
	  trigger => 'continuous', max_offsets_per_trigger => 150);});
my $live_path = "$lake/live";
my $chunks = 24;
my $chunk = 500;
my $total = $chunks * $chunk;

# the producer runs in a child while this process exports
my $producer = fork();
die "fork: $!" unless defined $producer;
if ($producer == 0)
{
	my $status = 0;
	eval {
		produce(broker => $broker, topic => 'live_events', count => $chunk,
			start => $_ * $chunk, json => 1, partitions => 3)
		  for 0 .. $chunks - 1;
		1;
	} or do { print STDERR $@; $status = 1; };
	POSIX::_exit($status);
}

my @appends;
my $producer_status;
while (1)
{
	my $done = waitpid($producer, POSIX::WNOHANG()) == $producer;
	$producer_status = $? if $done;
	my $out = export("'live', '$live_path', mode => 'append'");
	push @appends, $out;
	last if $done;
}
is($producer_status, 0, 'the producer produced every record');
my @failed = grep { /ERROR/ } @appends;
is(scalar(@failed), 0, 'no append failed while the stream ingested') or diag(join("\n", @failed));
my @versions = grep { !/ERROR/ && !/\|0\|0$/ } @appends;
note(scalar(@appends) . ' appends ran during ingestion, ' . scalar(@versions) . ' of them wrote a version');

# every version written during ingestion holds exactly the rows below the
# offsets it records (checked for the versions written so far)
# each version adds exactly the rows between the offsets of the previous
# version and its own
my $written = log_versions($live_path);
my $previous_batch = -1;
my $previous_offsets = {};
my $monotonic = 1;
my @mismatch;
for my $v (0 .. $written - 1)
{
	my ($o, $t) = commit_position($live_path, $v);
	$monotonic = 0 unless $t->{version} > $previous_batch;
	$previous_batch = $t->{version};
	my $added = 0;
	my $file = sprintf('%s/_delta_log/%020d.json', $live_path, $v);
	foreach my $line (split /\n/, slurp_file($file))
	{
		my $action = decode_json($line);
		$added += decode_json($action->{add}{stats})->{numRecords} if $action->{add};
	}
	my ($from, $to) = (encode_json($previous_offsets), encode_json($o));
	my $expected = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM live t
		 WHERE t._offset >= coalesce(((SELECT o.value FROM jsonb_each('$from'::jsonb) o) ->> t._partition::text)::bigint, 0)
		   AND t._offset < ((SELECT o.value FROM jsonb_each('$to'::jsonb) o) ->> t._partition::text)::bigint});
	push @mismatch, "version $v adds $added rows, $expected between its offsets" if $added != $expected;
	$previous_offsets = $o;
}
ok($monotonic, "the $written versions record increasing batch ids");
is(join("\n", @mismatch), '', 'each version adds exactly the rows between its offsets and the previous ones');
if ($written > 0)
{
	# the snapshot of the last version so far equals the rows below its offsets
	my ($o, $t) = commit_position($live_path, $written - 1);
	my $view = rows_below_view('live', $o, 'live_exported');
	$summary = verify_table($live_path, $view, 'while ingesting');
	is($summary->{txns}{'kafka_fdw.stream:public.live'}, $t->{version},
		'the snapshot records the batch of its offsets');
}

ok(wait_for(q{SELECT count(*), count(DISTINCT (_partition, _offset)) FROM live}, "$total|$total", 'caught up'),
	"the stream caught up: $total rows, none twice");
ok(wait_for(q{SELECT sum(lag) FROM kafka.stream_progress WHERE stream = 'live'::regclass}, '0', 'lag'),
	'its lag is 0');
like(export("'live', '$live_path', mode => 'append'"), qr/^\d+\|[01]\|\d+$/, 'a final append');
$summary = verify_table($live_path, 'live', 'after the stream caught up');
is($summary->{rows}, $total, "snapshot has the $total rows");
is($summary->{txns}{'kafka_fdw.stream:public.live'},
	$node->safe_psql('postgres', q{SELECT batch_id FROM kafka.streaming_tables WHERE target = 'live'::regclass}),
	'the snapshot records the stream\'s batch_id');
my $versions_now = log_versions($live_path);
like(export("'live', '$live_path', mode => 'append'"), qr/^\d+\|0\|0$/, 'nothing more to export');
is(log_versions($live_path), $versions_now, 'and no version was added');
$node->safe_psql('postgres', q{SELECT kafka.drop_streaming_table('live')});

# --- 3. a backend killed in the middle of an export
# A row-level security policy (applied to the exporting role, not to the
# stream's owner) stops the export at a chosen row, once data files are
# written; the backend is killed there.
$node->safe_psql('postgres', q{
	CREATE SEQUENCE rows_seen;
	CREATE TABLE gate_at (n bigint);
	INSERT INTO gate_at VALUES (0);
	CREATE FUNCTION gate() RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
	  IF nextval('rows_seen') = (SELECT n FROM gate_at) THEN
	    PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242);
	  END IF;
	  RETURN true;
	END $$;
	CREATE ROLE exporter LOGIN IN ROLE pg_write_server_files;
	GRANT USAGE ON SCHEMA kafka TO exporter;
	GRANT SELECT ON events, gate_at TO exporter;
	GRANT USAGE ON SEQUENCE rows_seen TO exporter;
	CREATE POLICY slow ON events FOR SELECT TO exporter USING (gate());
	ALTER TABLE events ENABLE ROW LEVEL SECURITY;
});
produce(broker => $broker, topic => 'events', count => 6000, start => 2000, json => 1, partitions => 3);
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('events')}),
	qr/6000 rows from 6000 records in 20 batches/, 'refresh loads 6000 more');
is($node->safe_psql('postgres', 'SELECT count(*) FROM events'), '7700', 'the streaming table has 7700 rows');
# stop near the end of the scan (the policy sees at least the 6000 new rows)
$node->safe_psql('postgres', q{SELECT setval('rows_seen', 1, false); UPDATE gate_at SET n = 5900});
my $files_before = data_files($path);
{
	my $holder = $node->background_psql('postgres');
	$holder->query_safe('SELECT pg_advisory_lock(4242)');
	my $session = $node->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-U', 'exporter' ]);
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->query_until(qr/started/, "\\echo started\n"
		  . "SET client_min_messages = warning;\n"
		  . "SELECT version, files, rows FROM kafka.delta_export('events', '$path', mode => 'append', target_file_size => 20000);\n");
	ok($node->poll_query_until('postgres',
		"SELECT wait_event = 'advisory' FROM pg_stat_activity WHERE pid = $pid"),
		'the export reached the gate');
	cmp_ok(data_files($path), '>', $files_before, 'the export has written data files');
	kill 'KILL', $pid;
	eval { $session->quit };
	eval { $holder->quit };
	$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
}
is(log_versions($path), 2, 'the killed export published no version');
$summary = verify_table($path, rows_below_view('events', (commit_position($path, 1))[0], 'events_exported'),
	'after the kill, the snapshot is unchanged');
is($summary->{rows}, 1700, 'it still has 1700 rows');

is(export("'events', '$path', mode => 'append'", 'exporter'), '2|1|6000',
	're-run after the crash exports the 6000 rows once');
is(export("'events', '$path', mode => 'append'", 'exporter'), '2|0|0', 'a second re-run adds nothing');
$node->safe_psql('postgres', 'ALTER TABLE events DISABLE ROW LEVEL SECURITY');
$summary = verify_table($path, 'events', 'after the re-run');
is($summary->{rows}, 7700, 'snapshot has 7700 rows, none twice');
is_deeply($summary->{txns}, { $app => 27 }, 'the snapshot records batch 27');

$node->stop;
done_testing();
