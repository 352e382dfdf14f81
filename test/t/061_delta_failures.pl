# kafka.delta_export() interrupted and raced: a cancelled, terminated or
# killed export leaves no visible version and no stray data in the snapshot
# (cancel and terminate remove its files too); a re-run with the same txn
# version exports the batch exactly once; concurrent writers all commit,
# each at its own version, and a batch raced by several sessions lands once.

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

# the SIGKILL test needs the postmaster to restart the other backends
my $node = new_node('delta_failures', conf => 'restart_after_crash = on');
my $lake = $node->data_dir . '/lake';
my $scratch = PostgreSQL::Test::Utils::tempdir('delta_failures');
my $expected_count = 0;

sub verify_table
{
	my ($table_path, $pg_table, $what) = @_;
	my $json = $node->safe_psql('postgres',
		"\\i $expected_sql\nSELECT pg_temp.delta_expected_rows('$pg_table', 'id');");
	my $file = "$scratch/expected" . $expected_count++ . '.json';
	PostgreSQL::Test::Utils::append_to_file($file, $json);
	my ($ok, $out, $err) = run_cmd(
		[ 'node', $verify, '--table', $table_path, '--expected', $file, '--key', 'id' ], 600);
	ok($ok, "$what: the snapshot read by DuckDB and hyparquet equals $pg_table")
	  or diag("$err\n$out");
	my ($summary) = grep { /^\{/ } split /\n/, $out;
	return $summary ? decode_json($summary) : {};
}

sub list_dir
{
	my ($dir, $pattern) = @_;
	opendir(my $dh, $dir) or return ();
	my @names = sort grep { /$pattern/ } readdir($dh);
	closedir($dh);
	return @names;
}

$node->safe_psql('postgres', q{
	CREATE FUNCTION nap(seconds float8, v int) RETURNS int LANGUAGE plpgsql AS
	  $$ BEGIN PERFORM pg_sleep(seconds); RETURN v; END $$;
	-- waits until the test releases advisory lock 4242
	CREATE FUNCTION gate(v int) RETURNS int LANGUAGE plpgsql AS
	  $$ BEGIN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); RETURN v; END $$;
	CREATE TABLE baseline AS SELECT g AS id, md5(g::text) AS payload, g AS marker
	  FROM generate_series(1, 100) g;
	CREATE TABLE full_batch AS SELECT g AS id, md5(g::text) AS payload, g AS marker
	  FROM generate_series(1, 60000) g;
});

# The batch sleeps at row 40000, after several ~50 kB files are written.
my $slow_batch = q{SELECT g AS id, md5(g::text) AS payload,
	CASE WHEN g = 40000 THEN nap(600, g) ELSE g END AS marker
	FROM generate_series(1, 60000) g};

my $path = "$lake/interrupted";
is($node->safe_psql('postgres',
	"SET client_min_messages = warning; SELECT version, rows FROM kafka.delta_export('baseline', '$path')"),
	'0|100', 'baseline version 0');
my @baseline_files = list_dir($path, qr/\.parquet$/);
is(scalar(@baseline_files), 1, 'one data file');

# Starts the slow export in a session of its own; returns (session, pid)
# once the export has written at least two files of its own.
sub start_slow_export
{
	my ($app) = @_;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->query_until(qr/started/, "\\echo started\n"
		  . "SET client_min_messages = warning;\n"
		  . "SELECT version, rows FROM kafka.delta_export(\$q\$$slow_batch\$q\$, '$path', "
		  . "target_file_size => 50000, app_id => '$app', txn_version => 1);\n");
	$node->poll_query_until('postgres',
		"SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = $pid")
	  or die 'the export did not reach its pause';
	cmp_ok(scalar(list_dir($path, qr/\.parquet$/)), '>=', 3,
		'the export wrote data files before its pause');
	return ($session, $pid);
}

sub check_untouched
{
	my ($what, $files_must_be_gone) = @_;
	is_deeply([ list_dir("$path/_delta_log", qr/^\d{20}\.json$/) ],
		['00000000000000000000.json'], "$what: no new version");
	is_deeply([ list_dir("$path/_delta_log", qr/^_commit_/) ], [],
		"$what: no temporary commit file");
	if ($files_must_be_gone)
	{
		is_deeply([ list_dir($path, qr/\.parquet$/) ], \@baseline_files,
			"$what: the files it wrote are removed");
	}
	my $summary = verify_table($path, 'baseline', $what);
	is($summary->{rows}, 100, "$what: the snapshot still has the baseline rows only");
}

# Cancel (pg_cancel_backend, like Ctrl-C or statement_timeout).
{
	my ($session, $pid) = start_slow_export('cancelled');
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	my $result = $session->query('SELECT 1');
	like($session->{stderr}, qr/canceling statement due to user request/, 'export cancelled');
	$session->quit;
	check_untouched('after cancel', 1);
}

# Termination (pg_terminate_backend: FATAL, the backend exits).
{
	my ($session, $pid) = start_slow_export('terminated');
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
	  or die 'terminated backend did not exit';
	eval { $session->quit };
	check_untouched('after termination', 1);
}

# SIGKILL: no cleanup can run, the server restarts; files written so far may
# stay on disk, but nothing references them.
{
	my ($session, $pid) = start_slow_export('job');
	kill 'KILL', $pid;
	eval { $session->quit };
	$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
	check_untouched('after SIGKILL', 0);
	my @stray = grep { my $f = $_; !grep { $_ eq $f } @baseline_files }
	  list_dir($path, qr/\.parquet$/);
	note scalar(@stray) . ' unreferenced data files left by the killed export';

	# Re-running the batch exports it once; a further re-run adds nothing.
	my $batch = $slow_batch =~ s/nap\(600, g\)/g/r;
	is($node->safe_psql('postgres',
		"SET client_min_messages = warning; SELECT version, rows FROM kafka.delta_export(\$q\$$batch\$q\$, '$path', "
		  . "target_file_size => 50000, app_id => 'job', txn_version => 1)"),
		'1|60000', 're-run after the kill commits the batch as version 1');
	is($node->safe_psql('postgres',
		"SET client_min_messages = warning; SELECT version, rows FROM kafka.delta_export(\$q\$$batch\$q\$, '$path', "
		  . "target_file_size => 50000, app_id => 'job', txn_version => 1)"),
		'1|0', 'a second re-run exports nothing');
	$node->safe_psql('postgres', 'CREATE TABLE after_kill AS SELECT * FROM baseline UNION ALL SELECT * FROM full_batch');
	my $summary = verify_table($path, 'after_kill', 'after the re-run');
	is($summary->{rows}, 60100, 'baseline plus the batch, once');
}

# Concurrent appends: four sessions, five commits each, all land.
{
	my $concurrent = "$lake/concurrent";
	my @sessions;
	foreach my $s (0 .. 3)
	{
		my $session = $node->background_psql('postgres');
		$session->query_safe('SET client_min_messages = warning');
		push @sessions, $session;
	}
	foreach my $round (0 .. 4)
	{
		foreach my $s (0 .. 3)
		{
			my $from = ($round * 4 + $s) * 200 + 1;
			my $to = $from + 199;
			$sessions[$s]->{stdin} .=
			  "SELECT version FROM kafka.delta_export('SELECT g AS id, md5(g::text) AS payload, $s AS marker "
			  . "FROM generate_series($from, $to) g', '$concurrent');\n";
		}
	}
	foreach my $session (@sessions)
	{
		$session->query_safe('SELECT 1');
		$session->quit;
	}
	my @versions = list_dir("$concurrent/_delta_log", qr/^\d{20}\.json$/);
	is(scalar(@versions), 20, 'twenty commits from four concurrent writers');
	$node->safe_psql('postgres', q{
		CREATE TABLE concurrent_rows AS
		SELECT g AS id, md5(g::text) AS payload, ((g - 1) / 200 % 4)::int AS marker
		FROM generate_series(1, 4000) g;
	});
	my $summary = verify_table($concurrent, 'concurrent_rows', 'concurrent appends');
	is($summary->{version}, 19, 'versions 0..19 without gaps');
}

# The same batch exported by three sessions at once lands once.
{
	my $raced = "$lake/raced";
	is($node->safe_psql('postgres',
		"SET client_min_messages = warning; SELECT version FROM kafka.delta_export('baseline', '$raced')"),
		'0', 'raced table created');
	my @sessions;
	foreach my $s (0 .. 2)
	{
		my $session = $node->background_psql('postgres');
		$session->query_safe('SET client_min_messages = warning');
		push @sessions, $session;
	}
	foreach my $session (@sessions)
	{
		$session->{stdin} .=
		  "SELECT files FROM kafka.delta_export('SELECT g AS id, md5(g::text) AS payload, g AS marker "
		  . "FROM generate_series(101, 5000) g', '$raced', app_id => 'raced', txn_version => 7);\n";
	}
	foreach my $session (@sessions)
	{
		$session->query_safe('SELECT 1');
		$session->quit;
	}
	$node->safe_psql('postgres',
		'CREATE TABLE raced_rows AS SELECT g AS id, md5(g::text) AS payload, g AS marker FROM generate_series(1, 5000) g');
	my $summary = verify_table($raced, 'raced_rows', 'raced batch');
	is($summary->{txns}{raced}, 7, 'txn version 7 recorded');
	is($summary->{version}, 1, 'exactly one commit for the batch');
}

# Commit conflicts, made deterministic: export A reads the log, then waits
# at its last row (gate) while B commits; then A publishes.
sub conflict
{
	my ($what, $table_path, $a_args, $b_sql) = @_;
	my $holder = $node->background_psql('postgres');
	$holder->query_safe('SELECT pg_advisory_lock(4242)');
	my $a = $node->background_psql('postgres', on_error_stop => 0);
	my $a_pid = $a->query_safe('SELECT pg_backend_pid()');
	$a->query_until(qr/started/, "\\echo started\n"
		  . "SET client_min_messages = warning;\n"
		  . "SELECT version, files, rows FROM kafka.delta_export(\$q\$SELECT g AS id, md5(g::text) AS payload, "
		  . "CASE WHEN g = 1500 THEN gate(g) ELSE g END AS marker FROM generate_series(1001, 1500) g\$q\$, "
		  . "'$table_path'$a_args);\n");
	$node->poll_query_until('postgres',
		"SELECT wait_event = 'advisory' FROM pg_stat_activity WHERE pid = $a_pid")
	  or die 'export A did not reach the gate';
	my $b = $node->safe_psql('postgres', "SET client_min_messages = warning; $b_sql");
	$holder->query_safe('SELECT pg_advisory_unlock(4242)');
	$holder->quit;
	my $a_out = $a->query('SELECT 1');
	my $a_err = $a->{stderr};
	$a->quit;
	$a_out =~ s/\n1$//;
	return ($a_out, $a_err, $b);
}

sub live_and_on_disk
{
	my ($table_path) = @_;
	my $live = $node->safe_psql('postgres', qq{
		WITH actions AS (
		  SELECT v, line::jsonb AS a
		  FROM generate_series(0, (SELECT count(*)::int - 1 FROM pg_ls_dir('$table_path/_delta_log') f
		                           WHERE f ~ '^\\d{20}\\.json\$')) v,
		       regexp_split_to_table(pg_read_file(format('$table_path/_delta_log/%s.json', lpad(v::text, 20, '0'))), E'\\n') line
		  WHERE line <> '')
		SELECT count(*) FROM actions ad WHERE ad.a ? 'add'
		  AND NOT EXISTS (SELECT 1 FROM actions rm WHERE rm.a -> 'remove' ->> 'path' = ad.a -> 'add' ->> 'path')});
	return ($live, scalar(list_dir($table_path, qr/\.parquet$/)));
}

{
	my $t = "$lake/conflict_append";
	$node->safe_psql('postgres', "SET client_min_messages = warning; SELECT kafka.delta_export('baseline', '$t')");
	my ($a, $a_err, $b) = conflict('append', $t, '',
		"SELECT version FROM kafka.delta_export('SELECT g AS id, md5(g::text) AS payload, g AS marker FROM generate_series(101, 1000) g', '$t')");
	is($b, '1', 'B committed version 1 while A was writing');
	is($a, '2|1|500', 'A, an append, retried on top of B as version 2');
	$node->safe_psql('postgres',
		'CREATE TABLE conflict_append_rows AS SELECT g AS id, md5(g::text) AS payload, g AS marker FROM generate_series(1, 1500) g');
	verify_table($t, 'conflict_append_rows', 'appends racing at commit');
}

{
	my $t = "$lake/conflict_txn";
	$node->safe_psql('postgres', "SET client_min_messages = warning; SELECT kafka.delta_export('baseline', '$t')");
	my ($a, $a_err, $b) = conflict('txn', $t, ", app_id => 'etl', txn_version => 3",
		"SELECT version FROM kafka.delta_export('SELECT g AS id, md5(g::text) AS payload, g AS marker FROM generate_series(1001, 1500) g', '$t', app_id => 'etl', txn_version => 3)");
	is($b, '1', 'B committed batch 3 first');
	is($a, '1|0|0', 'A found batch 3 committed by B and dropped its own copy');
	my ($live, $on_disk) = live_and_on_disk($t);
	is($on_disk, $live, 'the dropped copy left no data file');
	$node->safe_psql('postgres',
		'CREATE TABLE conflict_txn_rows AS SELECT g AS id, md5(g::text) AS payload, g AS marker FROM generate_series(1, 100) g UNION ALL SELECT g, md5(g::text), g FROM generate_series(1001, 1500) g');
	verify_table($t, 'conflict_txn_rows', 'batch raced at commit');
}

{
	my $t = "$lake/conflict_overwrite";
	$node->safe_psql('postgres', "SET client_min_messages = warning; SELECT kafka.delta_export('baseline', '$t')");
	my ($a, $a_err, $b) = conflict('overwrite', $t, ", mode => 'overwrite'",
		"SELECT version FROM kafka.delta_export('SELECT g AS id, md5(g::text) AS payload, g AS marker FROM generate_series(101, 200) g', '$t')");
	is($a, '2|1|500', 'A, an overwrite, committed after B as version 2');
	$node->safe_psql('postgres',
		'CREATE TABLE conflict_overwrite_rows AS SELECT g AS id, md5(g::text) AS payload, g AS marker FROM generate_series(1001, 1500) g');
	verify_table($t, 'conflict_overwrite_rows', 'overwrite after a racing append removes it too');
}

{
	my $t = "$lake/conflict_schema";
	$node->safe_psql('postgres', "SET client_min_messages = warning; SELECT kafka.delta_export('baseline', '$t')");
	my ($a, $a_err, $b) = conflict('schema', $t, '',
		"SELECT version FROM kafka.delta_export('SELECT 1 AS other', '$t', mode => 'overwrite')");
	is($b, '1', 'B replaced the schema');
	like($a_err, qr/the Delta table at ".*" was changed concurrently/, 'A refused to commit on top of a new schema');
	my ($live, $on_disk) = live_and_on_disk($t);
	is("$live|$on_disk", '1|2', 'A left no data file (the baseline file stays, removed)');
}

$node->stop;
done_testing();
