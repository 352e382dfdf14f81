# kafka.delta_export() read back by independent readers: the Delta log is
# replayed by test/verify/delta_verify.mjs (adds minus removes) and the live
# Parquet files are read with DuckDB and hyparquet, which must both return
# exactly the PostgreSQL rows; every add action's size and stats must agree
# with the file.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $verify = "$srcdir/test/verify/delta_verify.mjs";
my $expected_sql = "$srcdir/test/verify/canonical_rows.sql";
BAIL_OUT("the npm test tools are missing: run npm ci in $srcdir/test")
  unless -d "$srcdir/test/node_modules/\@duckdb/node-api"
  && -d "$srcdir/test/node_modules/hyparquet";

my $node = new_node('delta_readers');
my $lake = $node->data_dir . '/lake';
my $scratch = PostgreSQL::Test::Utils::tempdir('delta_readers');
my $expected_count = 0;

# Runs the verifier on a Delta table against the rows of a PostgreSQL table
# (or, without one, checks the files and the readers against each other).
# Returns the verifier's summary.
sub verify_table
{
	my ($table_path, $pg_table, $key, $what) = @_;
	my @cmd = ('node', $verify, '--table', $table_path);
	if (defined $pg_table)
	{
		my $json = $node->safe_psql('postgres',
			"\\i $expected_sql\nSELECT pg_temp.delta_expected_rows('$pg_table', '$key');");
		my $file = "$scratch/expected" . $expected_count++ . '.json';
		PostgreSQL::Test::Utils::append_to_file($file, $json);
		push @cmd, '--expected', $file, '--key', $key;
	}
	my ($ok, $out, $err) = run_cmd(\@cmd, 600);
	ok($ok, "$what: DuckDB and hyparquet read exactly the expected rows, stats agree")
	  or diag("$err\n$out");
	my ($summary) = grep { /^\{/ } split /\n/, $out;
	return $summary ? JSON::PP::decode_json($summary) : {};
}

sub export
{
	my ($sql) = @_;
	return $node->safe_psql('postgres',
		"SET client_min_messages = warning; SELECT version, files, rows FROM kafka.delta_export($sql)");
}

$node->safe_psql('postgres', q{
	SET timezone = 'UTC';
	CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
	CREATE TYPE pair AS (a int, b text);
	CREATE TABLE all_types (
	  id int, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
	  n_small numeric(5,2), n_mid numeric(18,6), n_big numeric(38,10), n_free numeric,
	  n_neg_scale numeric(5,-2), n_wide_scale numeric(3,5),
	  t text, vc varchar(20), c char(5), by bytea, d date, ts timestamp, tstz timestamptz,
	  u uuid, j json, jb jsonb, e mood, iv interval, tm time, arr int[], tarr text[], comp pair);
	INSERT INTO all_types VALUES
	 (1, true, 32767, 2147483647, 9223372036854775807, 3.14, 2.718281828459045,
	  999.99, 123456789012.123456, 1234567890123456789012345678.0123456789, 1.5, 12300, 0.00123,
	  'hello', 'világ', 'ab', '\x00ff10', '2024-02-29', '2024-02-29 12:34:56.789012',
	  '2024-02-29 12:34:56.789012+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}',
	  '{"b": {"c": null}}', 'happy', '1 year 2 mons 3 days 04:05:06.7', '23:59:59.999999',
	  '{1,NULL,3}', '{"x","y z"}', ROW(1, 'one')),
	 (2, false, -32768, -2147483648, -9223372036854775808, -1.5e-30, -1e300,
	  -999.99, -999999999999.999999, -9999999999999999999999999999.9999999999,
	  -123456789012345678901234567.123456789, -99900, -0.00999,
	  '', '日本語テキスト', 'xyz  ', '\x', '1969-12-31', '1900-01-01 00:00:00',
	  '0001-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', '[]', '[]', 'sad',
	  '-1 days', '00:00:00', '{}', '{}', ROW(NULL, NULL)),
	 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	 (4, true, 0, 0, 0, 'NaN', 'Infinity', 0, 0, 0, 0, 0, 0,
	  E'emoji 😀, quote ", backslash \\\\ and a newline\n end', 'a', '', '\xdeadbeef',
	  '9999-12-31', '9999-12-31 23:59:59.999999', '200000-06-15 12:00:00+00',
	  'ffffffff-ffff-ffff-ffff-ffffffffffff', '"str"', '123', 'ok', '0', '12:00',
	  '{{1,2},{3,4}}', '{NULL}', ROW(-5, 'é')),
	 (5, false, 1, 1, 1, '-Infinity', '-0', 0.01, 0.000001, 0.0000000001, 0.000000001, -100,
	  0.00001, repeat('long string ', 100), 'x', 'q', decode(repeat('ab', 1000), 'hex'),
	  '0001-01-01', '4713-01-01 00:00:00 BC', '1970-01-01 00:00:00.000001+00',
	  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'null', 'null', 'happy', '00:00:00.000001',
	  '00:00:00.000001', '{-1}', ARRAY['"q"'], NULL),
	 (6, true, -1, -1, -1, 1e30, 1e-300, -0.01, -0.000001, -0.0000000001, -0.000000001, 100,
	  -0.00001, repeat('ü', 33), repeat('ß', 20), 'ééééé', '\x00', '1582-10-15',
	  '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999+00',
	  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13', '{"deep": {"x": [true, false]}}', '{"a": 1e-3}',
	  'sad', '-178000000 years', '24:00:00', '{2147483647}', '{"tab\there"}', ROW(0, ''));
});

# Every mapped type, three codecs, exactly.
foreach my $codec ('zstd', 'snappy', 'uncompressed')
{
	my $path = "$lake/types_$codec";
	is(export("'all_types', '$path', compression => '$codec'"), '0|1|6',
		"all types exported with $codec");
	my $summary = verify_table($path, 'all_types', 'id', "all types, $codec");
	is_deeply($summary->{protocol}, { minReaderVersion => 1, minWriterVersion => 2 },
		'protocol 1/2');
}

# timestamp without time zone as timestamp_ntz: protocol 3/7, values as is.
{
	my $path = "$lake/types_ntz";
	is(export("'all_types', '$path', timestamp_ntz => true"), '0|1|6', 'timestamp_ntz export');
	my $summary = verify_table($path, 'all_types', 'id', 'all types, timestamp_ntz');
	is_deeply(
		$summary->{protocol},
		{
			minReaderVersion => 3, minWriterVersion => 7,
			readerFeatures => ['timestampNtz'], writerFeatures => ['timestampNtz']
		},
		'protocol 3/7 with timestampNtz');
	ok((grep { $_ eq 'ts:timestamp_ntz' } @{ $summary->{schema} }), 'ts is timestamp_ntz');
	ok((grep { $_ eq 'tstz:timestamp' } @{ $summary->{schema} }), 'tstz is timestamp');
}

# Many pages, row groups and files; dictionary and plain pages mixed in one
# column chunk; nulls in some pages only.
$node->safe_psql('postgres', q{
	CREATE TABLE layout AS
	SELECT g AS id,
	       (g % 7)::int2 AS small,
	       CASE WHEN g % 11 = 0 THEN NULL ELSE g::int8 * 1000003 END AS maybe,
	       (g % 5 = 0) AS flag,
	       CASE WHEN g % 3 = 0 THEN NULL ELSE 'cat_' || (g % 13) END AS category,
	       md5(g::text) AS hash,
	       (g / 7.0)::numeric(12,4) AS amount,
	       (g * 1.5)::numeric(30,3) AS wide,
	       CASE WHEN g % 17 = 0 THEN NULL ELSE g * 0.25 END::float8 AS ratio,
	       (g % 100)::float4 AS f4,
	       timestamptz '2021-01-01' + g * interval '1 second' AS ts,
	       date '2000-01-01' + (g % 1000) AS day,
	       CASE WHEN g < 20000 THEN 'low' ELSE md5(g::text || 'x') END AS switches,
	       CASE WHEN g > 40000 THEN NULL ELSE g END AS nulls_late
	FROM generate_series(1, 50000) g;
});
{
	my $path = "$lake/layout_small";
	my ($version, $files, $rows) = split /\|/,
	  export("'layout', '$path', target_file_size => 200000, row_group_size => 60000, page_size => 8000");
	is($rows, 50000, 'layout: all rows exported');
	cmp_ok($files, '>', 5, "layout: small target size gives several files ($files)");
	my $summary = verify_table($path, 'layout', 'id', 'layout, small pages and files');
	is($summary->{files}, $files, 'snapshot has every file');
	is($summary->{stats_rows}, 50000, 'numRecords add up');
}
{
	my $path = "$lake/layout_default";
	is(export("'layout', '$path'"), '0|1|50000', 'layout: one file by default');
	verify_table($path, 'layout', 'id', 'layout, default sizes');
}

# Append twice, overwrite, append again: the snapshot equals the table.
{
	my $path = "$lake/orders";
	$node->safe_psql('postgres', q{
		CREATE TABLE orders (id bigint, customer text, amount numeric(12,2), ts timestamptz);
		INSERT INTO orders SELECT g, 'c' || (g % 10), g * 0.5, '2024-01-01'::timestamptz + g * interval '1 min'
		FROM generate_series(1, 3000) g;
		CREATE TABLE orders_seen (LIKE orders);
	});
	my $out = export("\$\$SELECT * FROM orders WHERE id <= 1000\$\$, '$path', mode => 'append', target_file_size => 20000");
	my ($v0, $f0, $r0) = split /\|/, $out;
	is("$v0|$r0", '0|1000', 'first append: version 0, 1000 rows');
	$node->safe_psql('postgres', "INSERT INTO orders_seen SELECT * FROM orders WHERE id <= 1000");
	verify_table($path, 'orders_seen', 'id', 'after the first append');

	$out = export("\$\$SELECT * FROM orders WHERE id > 1000 AND id <= 2000\$\$, '$path', target_file_size => 20000");
	like($out, qr/^1\|\d+\|1000$/, 'second append: version 1');
	$node->safe_psql('postgres', "INSERT INTO orders_seen SELECT * FROM orders WHERE id > 1000 AND id <= 2000");
	my $summary = verify_table($path, 'orders_seen', 'id', 'after the second append');
	is($summary->{rows}, 2000, 'two appends: 2000 rows');

	$out = export("\$\$SELECT * FROM orders WHERE id % 2 = 0\$\$, '$path', mode => 'overwrite', target_file_size => 20000");
	like($out, qr/^2\|\d+\|1500$/, 'overwrite: version 2');
	$node->safe_psql('postgres', "TRUNCATE orders_seen; INSERT INTO orders_seen SELECT * FROM orders WHERE id % 2 = 0");
	$summary = verify_table($path, 'orders_seen', 'id', 'after the overwrite');
	is($summary->{rows}, 1500, 'overwrite: 1500 rows');

	$out = export("\$\$SELECT * FROM orders WHERE id % 2 = 1 AND id > 2500\$\$, '$path', target_file_size => 20000");
	like($out, qr/^3\|\d+\|250$/, 'append after overwrite: version 3');
	$node->safe_psql('postgres', "INSERT INTO orders_seen SELECT * FROM orders WHERE id % 2 = 1 AND id > 2500");
	$summary = verify_table($path, 'orders_seen', 'id', 'after the last append');
	is($summary->{rows}, 1750, 'final snapshot: 1750 rows');
	is($summary->{version}, 3, 'four commits');
}

# Idempotence: a re-run with the same txn version adds nothing.
{
	my $path = "$lake/txn";
	$node->safe_psql('postgres', 'CREATE TABLE batch_seen (id int, payload text)');
	foreach my $batch (1 .. 3)
	{
		my $sql = "SELECT g AS id, md5(g::text) AS payload FROM generate_series(($batch - 1) * 100 + 1, $batch * 100) g";
		is(export("\$\$$sql\$\$, '$path', app_id => 'loader', txn_version => $batch"),
			($batch - 1) . '|1|100', "batch $batch exported");
		is(export("\$\$$sql\$\$, '$path', app_id => 'loader', txn_version => $batch"),
			($batch - 1) . '|0|0', "batch $batch again: nothing exported");
		$node->safe_psql('postgres', "INSERT INTO batch_seen $sql");
	}
	my $summary = verify_table($path, 'batch_seen', 'id', 'batches exported once each');
	is($summary->{txns}{loader}, 3, 'txn records batch 3 for the loader');
}

# A long log, as frequent scheduled exports make it: every export replays
# all commits (there is no checkpoint yet), and so do the readers here.
{
	my $path = "$lake/long_log";
	my $commits = 400;
	is($node->safe_psql('postgres', qq{
		SET client_min_messages = warning;
		SELECT count(*), max((e).version), sum((e).rows)
		FROM (SELECT kafka.delta_export(format('SELECT %s::int AS id, %L::text AS payload', g, md5(g::text)),
		                                '$path', app_id => 'scheduler', txn_version => g) AS e
		      FROM generate_series(1, $commits) g) s}),
		"$commits|" . ($commits - 1) . "|$commits", "$commits scheduled exports, one commit each");
	$node->safe_psql('postgres',
		"CREATE TABLE long_log_rows AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, $commits) g");
	my $summary = verify_table($path, 'long_log_rows', 'id', "a log of $commits commits");
	is($summary->{version}, $commits - 1, "readers replayed $commits commits");
	is($summary->{txns}{scheduler}, $commits, 'txn holds the last scheduled batch');
}

$node->stop;
done_testing();
