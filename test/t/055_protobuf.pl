# Protobuf against an independent implementation (python3-protobuf, its
# classes built at run time from the descriptor sets protoc writes from
# test/fixtures/protobuf): payloads it wrote -- every scalar type, enums,
# nested and repeated messages (packed and not), maps, a oneof, proto2 and
# proto3, the well-known types -- decode through kafka.from_protobuf and
# its typed form exactly as it renders them; rows INSERTed into a foreign
# table of format protobuf decode in python3-protobuf as inserted and read
# back through the table and a streaming table; schema evolution (a field
# added, one removed, an enum renumbered); 3000 mutated payloads
# (truncation, bit flips, huge varints and lengths, deep nesting) through
# from_protobuf in FAILFAST and PERMISSIVE mode and a foreign table scan:
# clean errors, no crash.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $python = $ENV{KT_PYTHON} // '/usr/bin/python3';
my $fixture = "$KafkaFdwTest::srcdir/test/fixtures/produce_protobuf.py";
my $broker = start_broker(brokers => 1,
	topics => ['pb_cases:3', 'pb_evo:1', 'pb_insert:2', 'pb_fuzz:1']);
my $bs = $broker->bootstrap;
my $node = new_node('protobuf', broker => $broker,
	conf => "statement_timeout = '300s'\ntimezone = 'UTC'");
my $dir = PostgreSQL::Test::Utils::tempdir;

my ($ok, $out, $err) = run_cmd([ "$KafkaFdwTest::srcdir/test/fixtures/protobuf/build.sh", "$dir/desc" ]);
ok($ok, 'protoc builds the descriptor sets') or diag($err);

sub python
{
	my (@args) = @_;
	my ($ok, $out, $err) = run_cmd([ $python, $fixture, @args, '--bootstrap', $bs,
		'--descriptors', "$dir/desc" ], 300);
	die "produce_protobuf.py @args failed: $err" unless $ok;
	return $out;
}

sub query { return $node->safe_psql('postgres', $_[0]); }

python('produce', '--topic', 'pb_cases', '--out', "$dir/cases.jsonl");
python('evolution', '--topic', 'pb_evo');

query(qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE TABLE descs AS
	  SELECT name, pg_read_binary_file('$dir/desc/' || name || '.desc') AS d
	    FROM unnest(ARRAY['shop', 'legacy', 'evolution_v1', 'evolution_v2']) name;
	CREATE TABLE expected (doc jsonb);
	COPY expected FROM '$dir/cases.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02');
	CREATE TABLE cases AS
	  SELECT e.doc->>'case' AS name, e.doc->>'message' AS message,
	         decode(e.doc->>'hex', 'hex') AS payload, e.doc->'json' AS json,
	         (SELECT d FROM descs WHERE name = CASE WHEN e.doc->>'message' LIKE 'legacy.%'
	                                           THEN 'legacy' ELSE 'shop' END) AS d
	    FROM expected e;
});
my $ncases = query('SELECT count(*) FROM cases');
cmp_ok($ncases, '>=', 11, "$ncases cases written by python3-protobuf");

# ---- JSON: exactly what python3-protobuf renders
query(q{
	CREATE TABLE got AS
	  SELECT convert_from(r.key, 'UTF8') AS name, r.value, c.message, c.json, c.d,
	         kafka.from_protobuf(r.value, c.message, c.d) AS decoded
	    FROM kafka.read_kafka(server => 'k', subscribe => 'pb_cases') r
	    JOIN cases c ON c.name = convert_from(r.key, 'UTF8');
});
is(query('SELECT count(*) FROM got'), $ncases, 'every case read back from the topic');
is(query('SELECT string_agg(name, \',\') FROM got g JOIN cases c USING (name) WHERE g.value <> c.payload'),
	'', 'the payloads are the bytes written');
is(query(q{SELECT string_agg(name || ': ' || decoded::text || ' <> ' || json::text, E'\n' ORDER BY name)
	FROM got WHERE decoded IS DISTINCT FROM json}), '',
	'kafka.from_protobuf gives what python3-protobuf renders, for every case');
is(query(q{SELECT decoded->>'f_string' = E'h\u00e9llo "q" \\\\ \n\u2603\U0001F600' FROM got WHERE name = 'scalars_max'}),
	't', 'strings keep every character');
is(query(q{SELECT decoded FROM got WHERE name = 'scalars_nonfinite'}),
	'{"f_float": "-Infinity", "f_double": "NaN"}', 'NaN and infinities as JSON strings');

# ---- typed: the codec path of foreign tables, against the same JSON
query(q{
	CREATE TYPE address AS (street text, city text, zip int);
	CREATE TYPE order_text AS (id bigint, customer text, status jsonb, ship_to address,
	  quantities int[], legacy_codes int[], tags text[], counts jsonb, card text, iban text,
	  created text, ttl text, priority int, note text, attributes jsonb, extra jsonb,
	  history jsonb, detail jsonb, stops address[], discount int, total numeric);
	CREATE TYPE scalars AS (f_double float8, f_float real, f_int32 int, f_int64 bigint,
	  f_uint32 bigint, f_uint64 numeric, f_sint32 int, f_sint64 bigint, f_fixed32 bigint,
	  f_fixed64 numeric, f_sfixed32 int, f_sfixed64 bigint, f_bool boolean, f_string text,
	  f_bytes text);
	CREATE TYPE item AS (id int, name text, kind text, "values" bigint[],
	  packed_values bigint[], weight float8);
	CREATE TABLE typed AS
	  SELECT name, json,
	         CASE message
	           WHEN 'shop.Order' THEN to_jsonb(kafka.from_protobuf(value, NULL::order_text, message, d))
	           WHEN 'shop.Scalars' THEN to_jsonb(kafka.from_protobuf(value, NULL::scalars, message, d))
	           WHEN 'legacy.Item' THEN to_jsonb(kafka.from_protobuf(value, NULL::item, message, d))
	         END AS row_json
	    FROM got WHERE message <> 'shop.Node';
});
is(query(q{SELECT string_agg(name || ': ' || jsonb_strip_nulls(row_json)::text || ' <> ' || json::text,
	E'\n' ORDER BY name) FROM typed WHERE jsonb_strip_nulls(row_json) <> jsonb_strip_nulls(json)}), '',
	'typed rows (columns by field name, composites, arrays, jsonb) hold the same values');
query(q{CREATE TYPE order_typed AS (created timestamptz, ttl interval, status int, total float8,
	  priority bigint)});
is(query(q{SELECT (r).created || '|' || (r).ttl || '|' || (r).status || '|' || (r).total || '|' || (r).priority
	FROM (SELECT kafka.from_protobuf(value, NULL::order_typed, message, d) r FROM got WHERE name = 'order_full') s}),
	'2023-11-14 22:13:20.123+00|00:01:30.5|2|12.5|0',
	'Timestamp into timestamptz, Duration into interval, an enum into an integer, a wrapper into bigint');
is(query(q{SELECT (r).created || '|' || (r).ttl || '|' || coalesce((r).priority::text, 'null')
	FROM (SELECT kafka.from_protobuf(value, NULL::order_typed, message, d) r FROM got WHERE name = 'order_iban') s}),
	'0001-01-01 00:00:00+00|-00:00:01|null', 'the earliest Timestamp; an absent wrapper is NULL');

# ---- INSERT: python3-protobuf decodes what the foreign table produced
# (it leaves out proto3 scalars equal to their default, as it always does)
query(q{
	CREATE FOREIGN TABLE pb_insert (id bigint, customer text, status text, ship_to address,
	    quantities int[], tags text[], counts jsonb, created timestamptz, ttl interval,
	    priority int, note text, attributes jsonb, stops address[], total float8, card text)
	  SERVER k OPTIONS (topic 'pb_insert', format 'protobuf', protobuf_message 'shop.Order',
	    protobuf_descriptor_file '} . "$dir/desc/shop.desc" . q{');
	INSERT INTO pb_insert VALUES
	  (1, 'Ann', 'PAID', ROW('Main 1', 'Oslo', 1234), ARRAY[1, -2, 300], ARRAY['a', ''],
	   '{"x": 1, "y": -5}', '2024-02-29 12:34:56.789+00', '1 minute 30.5 seconds', 7, 'n',
	   '{"k": [1, "v", null, true], "o": {"p": 2.5}}', ARRAY[ROW('s', 'c', 1)::address, ROW(NULL, NULL, NULL)::address],
	   -0.25, '4111'),
	  (2, 'Bø', '3', NULL, '{}', NULL, NULL, '1969-12-31 23:59:59.5+00', '-2 seconds', 0, '', '{}', NULL, 0, NULL);
});
my %decoded;
for my $line (split /\n/, python('consume', '--topic', 'pb_insert'))
{
	my $rec = decode_json($line);
	$decoded{ $rec->{json}{id} } = $rec->{json};
}
is_deeply(\%decoded, {
		1 => {
			id => 1, customer => 'Ann', status => 'PAID',
			ship_to => { street => 'Main 1', city => 'Oslo', zip => 1234 },
			quantities => [ 1, -2, 300 ], tags => [ 'a', '' ], counts => { x => 1, y => -5 },
			created => '2024-02-29T12:34:56.789Z', ttl => '90.500s', priority => 7, note => 'n',
			attributes => { k => [ 1, 'v', undef, JSON::PP::true ], o => { p => 2.5 } },
			stops => [ { street => 's', city => 'c', zip => 1 }, {} ], total => -0.25, card => '4111'
		},
		2 => {
			id => 2, customer => "B\x{f8}", status => 'SHIPPED', created => '1969-12-31T23:59:59.500Z',
			ttl => '-2s', priority => 0, note => '', attributes => {}
		},
	}, 'python3-protobuf decodes the inserted rows as inserted');
is(query(q{SELECT count(*) FROM (
	  SELECT id, customer, status, ship_to, quantities, tags, counts, created, ttl, priority, note,
	         attributes, stops, total, card FROM pb_insert
	  EXCEPT
	  SELECT 1, 'Ann', 'PAID', ROW('Main 1', 'Oslo', 1234)::address, ARRAY[1, -2, 300], ARRAY['a', ''],
	   '{"x": 1, "y": -5}', '2024-02-29 12:34:56.789+00', '90.5 seconds', 7, 'n',
	   '{"k": [1, "v", null, true], "o": {"p": 2.5}}', ARRAY[ROW('s', 'c', 1)::address, ROW(NULL, NULL, NULL)::address],
	   -0.25, '4111'
	  EXCEPT
	  SELECT 2, 'Bø', 'SHIPPED', NULL, NULL, NULL, NULL, '1969-12-31 23:59:59.5+00', '-2 seconds', 0, '', '{}',
	   NULL, 0, NULL) d}), '0', 'and the foreign table reads them back');

# ---- a streaming table reads through the same foreign table options
query(q{
	CREATE TABLE pb_stream (id bigint, customer text, status text, ship_to address,
	    quantities int[], tags text[], counts jsonb, created timestamptz, ttl interval,
	    priority int, note text, attributes jsonb, stops address[], total float8, card text);
	SELECT kafka.create_streaming_table('pb_stream', source => 'pb_insert', trigger => 'available_now');
});
like(query(q{CALL kafka.refresh_streaming_table('pb_stream')}), qr/2 rows from 2 records/,
	'a refresh of a stream from the table loads both records');
is(query(q{SELECT count(*) FROM (SELECT * FROM pb_stream EXCEPT SELECT * FROM pb_insert) d}), '0',
	'with the values the foreign table reads');

# a stream with schema_evolution 'add_columns': fields without a column
# become columns of the types the codec reports (Timestamp timestamptz, a
# map jsonb...), on the target and the source
query(q{
	CREATE FOREIGN TABLE pb_narrow (id bigint) SERVER k OPTIONS (topic 'pb_insert', format 'protobuf',
	    protobuf_message 'shop.Order', protobuf_descriptor_file '} . "$dir/desc/shop.desc" . q{');
	CREATE TABLE pb_evolving (id bigint);
	SELECT kafka.create_streaming_table('pb_evolving', source => 'pb_narrow', trigger => 'available_now',
	  schema_evolution => 'add_columns');
});
like(query(q{CALL kafka.refresh_streaming_table('pb_evolving')}), qr/2 rows from 2 records/,
	'an evolving stream loads both records');
is(query(q{SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attname)
	FROM pg_attribute WHERE attrelid = 'pb_evolving'::regclass AND attnum > 1 AND NOT attisdropped}),
	'attributes jsonb, card text, counts jsonb, created timestamp with time zone, customer text, '
	  . 'note text, priority integer, quantities jsonb, ship_to jsonb, status text, stops jsonb, '
	  . 'tags jsonb, total double precision, ttl interval',
	'the fields became columns of their types');
is(query(q{SELECT created || ' ' || ttl || ' ' || status || ' ' || priority || ' ' || counts FROM pb_evolving WHERE id = 1}),
	'2024-02-29 12:34:56.789+00 00:01:30.5 PAID 7 {"x": 1, "y": -5}', 'with their values');

# ---- schema evolution: written with v1, read with v2
query(q{
	CREATE FOREIGN TABLE pb_evo (id bigint, name text, color text, added text)
	  SERVER k OPTIONS (topic 'pb_evo', format 'protobuf', protobuf_message 'evo.Event',
	    protobuf_descriptor_file '} . "$dir/desc/evolution_v2.desc" . q{');
});
is(query(q{SELECT string_agg(concat_ws(',', id, name, coalesce(color, '-'), coalesce(added, '-')), ';' ORDER BY id) FROM pb_evo}),
	'1,a,-,-;2,b,BLUE,-;3,c,GREEN,-',
	'a removed field is skipped, an added one NULL, enums read by number (v1 GREEN is v2 BLUE)');
is(query(q{SELECT string_agg(kafka.from_protobuf(value, 'evo.Event', (SELECT d FROM descs WHERE name = 'evolution_v2'),
	  '{"emit.default.values": true}')::text, ';' ORDER BY "offset")
	FROM kafka.read_kafka(server => 'k', subscribe => 'pb_evo')}),
	'{"id": 1, "name": "a", "added": "", "color": "RED"};{"id": 2, "name": "b", "added": "", "color": "BLUE"};'
	  . '{"id": 3, "name": "c", "added": "", "color": "GREEN"}',
	'kafka.from_protobuf with emit.default.values gives proto3 defaults for what v1 did not write');
is(query(q{SELECT string_agg(kafka.from_protobuf(value, 'evo.Event', (SELECT d FROM descs WHERE name = 'evolution_v1'))::text, ';' ORDER BY "offset")
	FROM kafka.read_kafka(server => 'k', subscribe => 'pb_evo')}),
	'{"id": 1, "name": "a", "removed": 5};{"id": 2, "name": "b", "color": "GREEN", "removed": 6};{"id": 3, "name": "c", "color": "BLUE"}',
	'the writer schema reads its own fields');

# ---- fuzzing: mutations of the valid payloads
my $rng = 0x70627566;
sub rnd
{
	my ($n) = @_;
	$rng ^= ($rng << 13) & 0xffffffff;
	$rng ^= $rng >> 17;
	$rng ^= ($rng << 5) & 0xffffffff;
	return $n ? $rng % $n : 0;
}

sub varint
{
	my ($v) = @_;
	my $s = '';
	while ($v >= 0x80) { $s .= chr(($v & 0x7f) | 0x80); $v >>= 7; }
	return $s . chr($v);
}

my @seeds = map { [ split /\|/ ] } split /\n/,
  query(q{SELECT message, encode(payload, 'hex') FROM cases ORDER BY name});
sub mutate
{
	my ($s) = @_;
	for (1 .. 1 + rnd(4))
	{
		my $len = length($s);
		my $at = rnd($len + 1);
		my $op = rnd(8);
		if ($op == 0 && $len)
		{
			my $i = rnd($len);
			substr($s, $i, 1) = chr(ord(substr($s, $i, 1)) ^ (1 << rnd(8)));
		}
		elsif ($op == 1) { $s = substr($s, 0, $at); }
		elsif ($op == 2 && $len) { substr($s, rnd($len), 1 + rnd(8)) = ''; }
		elsif ($op == 3)
		{
			# a huge length or varint
			my @huge = ("\xff\xff\xff\xff\x0f", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
				"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "\x7f", "\x0a\xff\xff\xff\xff\x07");
			substr($s, $at, rnd(3)) = $huge[ rnd(scalar @huge) ];
		}
		elsif ($op == 4) { substr($s, $at, 0) = join('', map { chr(rnd(256)) } 1 .. 1 + rnd(6)); }
		elsif ($op == 5)
		{
			# nested messages (Node.next, or unknown groups) deeper than the limit or not
			my $depth = 1 + (rnd(3) ? rnd(40) : rnd(3000));
			if (rnd(2))
			{
				my $inner = $s;
				$inner = "\x1a" . varint(length($inner)) . $inner for 1 .. $depth;
				$s = $inner;
			}
			else { substr($s, $at, 0) = "\x7b" x $depth; }
		}
		elsif ($op == 6 && $len)
		{
			my $start = rnd($len);
			substr($s, $start, 0) = substr($s, $start, 1 + rnd(16)) x (1 + rnd(50));
		}
		else { substr($s, $at, 0) = (("\x0a", "\x12", "\x1a", "\x2a", "\x42", "\x5a", "\x0d", "\x09", "\x0f"))[ rnd(9) ]; }
	}
	return $s;
}

open(my $fh, '>', "$dir/fuzz.tsv") or die;
for my $i (1 .. 3000)
{
	my ($message, $hex) = @{ $seeds[ rnd(scalar @seeds) ] };
	my $payload = mutate(pack('H*', $hex));
	print $fh "$i\t$message\t\\\\x" . unpack('H*', $payload) . "\n";
}
close($fh);
query(qq{CREATE TABLE fuzz (i int, message text, payload bytea);
	COPY fuzz FROM '$dir/fuzz.tsv';});
is(query('SELECT count(*) FROM fuzz'), '3000', '3000 mutated payloads');

query(q{
	CREATE TABLE fuzz_result (i int, mode text, sqlstate text, message text);
	DO $$
	DECLARE
	  r record;
	  d bytea;
	  st text;
	  msg text;
	  junk jsonb;
	BEGIN
	  FOR r IN SELECT f.*, CASE WHEN f.message LIKE 'legacy.%' THEN (SELECT descs.d FROM descs WHERE name = 'legacy')
	                          ELSE (SELECT descs.d FROM descs WHERE name = 'shop') END AS dd
	             FROM fuzz f ORDER BY i LOOP
	    BEGIN
	      junk := kafka.from_protobuf(r.payload, r.message, r.dd);
	      INSERT INTO fuzz_result VALUES (r.i, 'json', NULL, NULL);
	    EXCEPTION WHEN OTHERS THEN
	      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	      INSERT INTO fuzz_result VALUES (r.i, 'json', st, msg);
	    END;
	    IF r.message = 'shop.Order' THEN
	      BEGIN
	        junk := to_jsonb(kafka.from_protobuf(r.payload, NULL::order_text, r.message, r.dd));
	        INSERT INTO fuzz_result VALUES (r.i, 'typed', NULL, NULL);
	      EXCEPTION WHEN OTHERS THEN
	        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	        INSERT INTO fuzz_result VALUES (r.i, 'typed', st, msg);
	      END;
	    END IF;
	  END LOOP;
	END $$;
});
my $summary = query(q{SELECT mode, coalesce(sqlstate, 'ok'), count(*)
	FROM fuzz_result GROUP BY 1, 2 ORDER BY 1, 2});
note("fuzz results:\n$summary");
is(query(q{SELECT count(DISTINCT i) FROM fuzz_result WHERE mode = 'json'}), '3000', 'every input decoded or refused');
cmp_ok(query(q{SELECT count(*) FROM fuzz_result WHERE sqlstate IS NOT NULL}), '>', 100, 'many refused');
cmp_ok(query(q{SELECT count(*) FROM fuzz_result WHERE sqlstate IS NULL}), '>', 100, 'some still decode');
is(query(q{SELECT string_agg(DISTINCT sqlstate || ' ' || message, E'\n') FROM fuzz_result
	WHERE sqlstate NOT IN ('22P03', '22003', '22008', '22021', '42804', '22P02', '22007')}), '',
	'only data errors: no internal error, no stack depth error');
is(query(q{SELECT count(*) FROM fuzz_result WHERE message LIKE '%nested too deeply%'}) > 0 ? 1 : 0, 1,
	'deep nesting is refused as such');
is(query(q{SELECT count(*) FROM fuzz f
	WHERE kafka.from_protobuf(f.payload, f.message,
	        (SELECT d FROM descs WHERE name = CASE WHEN f.message LIKE 'legacy.%' THEN 'legacy' ELSE 'shop' END),
	        '{"mode": "PERMISSIVE"}') IS NULL}),
	query(q{SELECT count(*) FROM fuzz_result WHERE mode = 'json' AND sqlstate IS NOT NULL}),
	'PERMISSIVE: NULL for exactly the payloads FAILFAST refuses, no error');

# the same payloads through a foreign table scan, on_error 'null'
query(q{
	CREATE FOREIGN TABLE fuzz_raw (v bytea) SERVER k OPTIONS (topic 'pb_fuzz', format 'raw');
	INSERT INTO fuzz_raw SELECT payload FROM fuzz WHERE message = 'shop.Order' ORDER BY i;
	CREATE FOREIGN TABLE fuzz_orders (id bigint, customer text, status text, ship_to address,
	    quantities int[], counts jsonb, created timestamptz, ttl interval, stops address[],
	    attributes jsonb, detail jsonb, err text OPTIONS (kafka 'error'))
	  SERVER k OPTIONS (topic 'pb_fuzz', format 'protobuf', protobuf_message 'shop.Order',
	    protobuf_descriptor_file '} . "$dir/desc/shop.desc" . q{', on_error 'null');
});
is(query(q{SELECT count(*) FROM fuzz_orders}), query(q{SELECT count(*) FROM fuzz WHERE message = 'shop.Order'}),
	'a foreign table scan of the mutated payloads returns every record');
cmp_ok(query(q{SELECT count(*) FROM fuzz_orders WHERE err IS NOT NULL}), '>', 0,
	'with the malformed ones flagged in the error column');

is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server still answers');
unlike(slurp_file($node->logfile), qr/terminated by signal|TRAP:/, 'no server process crashed');

done_testing();
