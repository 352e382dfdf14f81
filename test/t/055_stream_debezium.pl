# Debezium change streams: change events written by an independent producer
# (test/fixtures/debezium_changes.py: python3-confluent-kafka, python3-avro
# and the fixture Schema Registry) in the three encodings Debezium's
# converters give -- JSON with the {"schema", "payload"} wrapper, bare JSON,
# and Avro through the registry -- are read by foreign tables with envelope
# 'debezium' and applied by keyed streams in mode 'cdc' whose sequence
# defaults to the source LSN.  The events hold a snapshot ('r'), creates,
# updates with the unchanged-TOAST placeholder, deletes each followed by
# Debezium's tombstone, a truncate (one topic), and a tail sent twice.
# Each target must equal the table the events came from, row for row; an
# SCD type 2 target must equal its history.  A scan of the foreign tables
# shows op, source_lsn and source_ts and no tombstones; malformed events
# are dead-lettered with their coordinates.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $python = $ENV{KT_PYTHON} // '/usr/bin/python3';
my $fixture = "$srcdir/test/fixtures/debezium_changes.py";

my $broker = start_broker(brokers => 1,
	topics => [ 'dbz_schema:1', 'dbz_json:3', 'dbz_avro:3' ]);
my $registry = start_schema_registry();
my $bs = $broker->bootstrap;
my $url = $registry->url;
my $node = new_node('debezium', broker => $broker, schema_registry => $registry,
	conf => "timezone = 'UTC'");

# the events, and what the producer says the tables must be
sub produce_events
{
	my ($topic, $encoding, @options) = @_;
	my ($ok, $out, $err) = run_cmd([ $python, $fixture, 'produce', '--bootstrap', $bs,
		'--topic', $topic, '--encoding', $encoding, '--registry', $url, @options ], 300);
	die "debezium_changes.py failed: $err$out" unless $ok;
	my ($line) = grep { /^\{/ } split /\n/, $out;
	my $summary = decode_json($line);
	note "$topic: " . join(', ', map { "$_ $summary->{$_}" }
		grep { !ref $summary->{$_} } sort keys %$summary);
	return $summary;
}

my %sent = (
	dbz_schema => produce_events('dbz_schema', 'json-schema', '--truncate'),
	dbz_json => produce_events('dbz_json', 'json', '--partitions', 3, '--poison', '--seed', 56),
	dbz_avro => produce_events('dbz_avro', 'avro', '--partitions', 3, '--poison', '--seed', 57));
for my $topic (sort keys %sent)
{
	for my $what (qw(snapshot creates updates unchanged_updates placeholders deletes tombstones replays))
	{
		cmp_ok($sent{$topic}{$what}, '>', 0, "$topic: the events include $what");
	}
}
is($sent{dbz_schema}{truncates}, 1, 'dbz_schema: the events include a truncate');

# equal line for line; on a difference show the first few differing lines
sub same_lines
{
	my ($got, $want, $what) = @_;
	my @got = $got eq '' ? () : split /\n/, $got;
	my @want = @$want;
	my $shown = 0;
	for my $i (0 .. ($#got > $#want ? $#got : $#want))
	{
		my ($g, $w) = ($got[$i] // '(none)', $want[$i] // '(none)');
		next if $g eq $w;
		diag("$what line " . ($i + 1) . ": got '$g', expected '$w'") if $shown++ < 10;
	}
	diag("$what: $shown lines differ; " . scalar(@got) . ' rows, expected ' . scalar(@want))
	  if $shown;
	return ok($shown == 0, $what);
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;});

my %format = (dbz_schema => 'json', dbz_json => 'json', dbz_avro => 'avro');
for my $topic (sort keys %sent)
{
	my $key_format = $format{$topic} eq 'avro' ? ", key_format 'avro'" : '';
	$node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE ${topic}_src (id int, name text, big text, qty int,
			updated timestamptz, k jsonb OPTIONS (kafka 'key'),
			op text OPTIONS (kafka 'op'), ts timestamptz OPTIONS (kafka 'source_ts'),
			lsn bigint OPTIONS (kafka 'source_lsn'),
			_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'),
			err text OPTIONS (kafka 'error'))
		  SERVER k OPTIONS (topic '$topic', format '$format{$topic}', envelope 'debezium',
		    on_error 'null'$key_format);
		CREATE TABLE $topic (id int PRIMARY KEY, name text, big text, qty int,
			updated timestamptz, op text, ts timestamptz, lsn bigint);
		SELECT kafka.create_streaming_table('$topic', source => '${topic}_src',
		  trigger => 'available_now', mode => 'cdc', keys => ARRAY['id'],
		  on_error => 'dead_letter', max_offsets_per_trigger => 70);});
}

# --- the foreign tables: op, source_lsn and source_ts; no tombstones
for my $topic (sort keys %sent)
{
	my $s = $sent{$topic};
	my $poison = scalar @{ $s->{poison} };
	my $ops = join(',', map { "$_:$s->{ops}{$_}" } grep { $s->{ops}{$_} } qw(c d r t u));
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(op || ':' || n, ',' ORDER BY op)
		  FROM (SELECT op, count(*) n FROM ${topic}_src WHERE err IS NULL GROUP BY op) s}),
		$ops, "$topic scan: every change event once, by op");
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE err IS NOT NULL), sum(lsn),
		       count(*) FILTER (WHERE err IS NULL AND op <> 't' AND lsn IS NULL),
		       count(*) FILTER (WHERE err IS NULL AND (ts < '2024-03-01 08:00:00+00' OR ts > '2024-03-02'))
		  FROM ${topic}_src}),
		"$poison|$s->{lsn_sum}|0|0",
		"$topic scan: the tombstones are no rows, source_lsn and source_ts as sent");
}
is($node->safe_psql('postgres', q{
	SELECT k::text, op, lsn FROM dbz_json_src WHERE op = 'r' ORDER BY id LIMIT 1}),
	'{"id": 1}|r|23000000', 'dbz_json scan: the key as a document, the snapshot LSN');
is($node->safe_psql('postgres', q{
	SELECT k::text FROM dbz_schema_src WHERE op = 'r' ORDER BY id LIMIT 1}) =~ /"payload": \{"id": 1\}/ ? 1 : 0,
	1, 'dbz_schema scan: the wrapped key as a document');
is($node->safe_psql('postgres', q{
	SELECT k::text, op FROM dbz_avro_src WHERE op = 'r' ORDER BY id LIMIT 1}),
	'{"id": 1}|r', 'dbz_avro scan: the Avro key');
for my $topic (sort keys %sent)
{
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE big IS NULL AND op <> 'd' AND op <> 't'),
		       count(*) FILTER (WHERE big = '__debezium_unavailable_value')
		  FROM ${topic}_src WHERE err IS NULL}),
		"$sent{$topic}{placeholder_events}|0", "$topic scan: the placeholder reads as NULL");
}

# --- the streams: each target equals the table the events came from
for my $topic (sort keys %sent)
{
	my $s = $sent{$topic};
	my $poison = scalar @{ $s->{poison} };
	like($node->safe_psql('postgres', "CALL kafka.refresh_streaming_table('$topic')"),
		qr/from $s->{records} records in \d+ batches, $poison dead letters, 0 skipped, lag 0/,
		"$topic: refreshed to the end, the malformed events dead-lettered");
	same_lines($node->safe_psql('postgres', qq{
		SELECT concat_ws('|', id, op, coalesce(name, ''), coalesce(md5(big), ''),
		       coalesce(qty::text, ''),
		       coalesce((extract(epoch FROM updated) * 1000000)::bigint::text, ''), lsn,
		       (extract(epoch FROM ts) * 1000)::bigint)
		  FROM $topic ORDER BY id}),
		$s->{scd1}, "$topic: the target equals the source table, row for row");
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM $topic WHERE big IS NULL}), '0',
		"$topic: no placeholder overwrote a stored value");
}
is($node->safe_psql('postgres', q{SELECT sequence_by FROM kafka.streaming_tables
	WHERE target = 'dbz_avro'::regclass}), 'lsn', 'the sequence defaulted to the source_lsn column');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.stream_tombstones
	WHERE stream = 'dbz_json'::regclass}), '>', 0, 'the deletes are remembered by LSN');

# --- malformed events: dead letters with their coordinates and why
my %reason = (
	'no op' => qr/^invalid Debezium change event: no "op"$/,
	'op x' => qr/^invalid Debezium change event: "op" is "x", not one of c, u, d, r, t( \(schema id \d+\))?$/,
	'after not an object' => qr/^invalid Debezium change event: "after" is not an object$/,
	'not an envelope' => qr/^Avro schema id \d+ is not a Debezium change event the columns can take: no field "op"/);
for my $topic (qw(dbz_json dbz_avro))
{
	my %error_at = map { my ($p, $o, $e) = split /\|/, $_, 3; ("$p $o" => $e) }
	  split /\n/, $node->safe_psql('postgres', qq{
		SELECT "partition", "offset", error FROM kafka.dead_letters WHERE stream = '$topic'::regclass});
	is(join(',', sort keys %error_at), join(',', sort map { "$_->[0] $_->[1]" } @{ $sent{$topic}{poison} }),
		"$topic: exactly the malformed events are dead letters");
	for my $p (@{ $sent{$topic}{poison} })
	{
		like($error_at{"$p->[0] $p->[1]"} // '', $reason{ $p->[2] }, "$topic: dead letter says why ($p->[2])");
	}
}

# --- SCD type 2 over the bare JSON events: the history of every row
$node->safe_psql('postgres', q{
	CREATE TABLE dbz_hist (id int, name text, big text, qty int, updated timestamptz,
		__start_at bigint, __end_at bigint, PRIMARY KEY (id, __start_at));
	SELECT kafka.create_streaming_table('dbz_hist', source => 'dbz_json_src',
	  trigger => 'available_now', mode => 'cdc', keys => ARRAY['id'], stored_as_scd_type => 2,
	  on_error => 'dead_letter', max_offsets_per_trigger => 70);});
$node->safe_psql('postgres', "CALL kafka.refresh_streaming_table('dbz_hist')");
same_lines($node->safe_psql('postgres', q{
	SELECT concat_ws('|', id, coalesce(name, ''), coalesce(md5(big), ''), coalesce(qty::text, ''),
	       coalesce((extract(epoch FROM updated) * 1000000)::bigint::text, ''), __start_at,
	       coalesce(__end_at::text, ''))
	  FROM dbz_hist ORDER BY id, __start_at}),
	$sent{dbz_json}{scd2}, 'SCD 2: the history equals the source table\'s, version for version');

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|TRAP:/, 'no backend crashed');

$node->stop;
done_testing();
