# Fuzzing the decoders that read what the network sends: JSON payloads
# (kafka.from_json, foreign table scans in formats json and text), Avro values against several
# writer schemas (kafka.from_avro, plain and in the Confluent wire format,
# foreign table scans), Avro schema JSON, and Schema Registry answers
# (garbage served by the fixture registry).
#
# Inputs are valid seeds mutated with a fixed seed (bit flips, truncation,
# splices, repeated chunks, huge lengths and numbers, deep nesting, invalid
# UTF-8, NUL bytes), so a failure reproduces.  Every input must decode or
# fail with an ordinary error carrying its SQLSTATE: never a crash, never an
# internal error (XX000: an elog, or a memory allocation refused), never the
# statement's stack depth error, and all within statement_timeout, answered
# by the same backend.

use strict;
use warnings;

use Encode ();
use HTTP::Tiny;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $broker = start_broker(brokers => 1,
	topics => ['fuzz_json:1', 'fuzz_avro:1', 'fuzz_dbz_json:1', 'fuzz_dbz_avro:1']);
my $registry = start_schema_registry();
my $bs = $broker->bootstrap;
my $url = $registry->url;
my $node = new_node('fuzz', broker => $broker,
	conf => "statement_timeout = '120s'\ntimezone = 'UTC'");

# ---- a deterministic random generator (the same inputs on every run)
my $rng = 0x6b61666b;
sub rnd
{
	my ($n) = @_;
	# 32-bit xorshift
	$rng ^= ($rng << 13) & 0xffffffff;
	$rng ^= $rng >> 17;
	$rng ^= ($rng << 5) & 0xffffffff;
	return $n ? $rng % $n : 0;
}

my @tokens = (
	'99999999999999999999999999', '-9223372036854775809', '1e999999', '-0',
	'"', '\\', '{', '}', '[', ']', ',', ':', 'null', 'true', '"\\u0000"',
	'"\\ud800"', "\xff", "\xc3\x28", "\xed\xa0\x80", "\x00", '"2024-02-30T25:61:00Z"',
	'"NaN"', '"infinity"', '{"a":1}', '[[1],[2,3]]');

# One random change; $seeds are spliced from.
sub mutate_once
{
	my ($s, $seeds, $binary) = @_;
	my $len = length($s);
	my $at = rnd($len + 1);
	my $op = rnd(10);
	if ($op == 0 && $len)
	{
		my $i = rnd($len);
		substr($s, $i, 1) = chr(ord(substr($s, $i, 1)) ^ (1 << rnd(8)));
	}
	elsif ($op == 1 && $len) { substr($s, rnd($len), 1) = chr(rnd(256)); }
	elsif ($op == 2 && $len) { substr($s, rnd($len), 1 + rnd(16)) = ''; }
	elsif ($op == 3) { $s = substr($s, 0, $at); }
	elsif ($op == 4) { substr($s, $at, 0) = join('', map { chr(rnd(256)) } 1 .. 1 + rnd(8)); }
	elsif ($op == 5)
	{
		my $other = $seeds->[ rnd(scalar @$seeds) ];
		$s = substr($s, 0, $at) . substr($other, rnd(length($other) + 1));
	}
	elsif ($op == 6 && $len)
	{
		my $start = rnd($len);
		my $chunk = substr($s, $start, 1 + rnd(32));
		substr($s, $start, 0) = $chunk x (1 + rnd(rnd(2) ? 8 : 500));
	}
	elsif ($op == 7 && $binary)
	{
		# a huge varint (length, count, index) or a long one
		my @huge = ("\xfe\xff\xff\xff\x0f", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
			"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "\x01", "\x7f", "\x81\x80\x80\x80\x10");
		substr($s, $at, rnd(3)) = $huge[ rnd(scalar @huge) ];
	}
	elsif ($op == 7 || $op == 8) { substr($s, $at, 0) = $tokens[ rnd(scalar @tokens) ]; }
	elsif ($op == 9)
	{
		my $depth = 1 + (rnd(4) ? rnd(50) : rnd(30000));
		if ($binary)
		{
			# array blocks (count 1) opening level after level
			substr($s, $at, 0) = "\x02" x $depth;
		}
		else
		{
			my $open = rnd(2) ? '[' : '{"a":';
			my $close = $open eq '[' ? ']' : '}';
			$s = substr($s, 0, $at) . ($open x $depth) . substr($s, $at) . ($close x $depth);
		}
	}
	return $s;
}

sub mutate
{
	my ($seeds, $binary) = @_;
	my $s = $seeds->[ rnd(scalar @$seeds) ];
	$s = mutate_once($s, $seeds, $binary) for 1 .. 1 + rnd(5);
	return $s;
}

# Text for a text argument: valid UTF-8 without NUL (what PostgreSQL can hold).
sub as_text
{
	my ($s) = @_;
	$s =~ s/\x00//g;
	my $copy = $s;
	return $s if eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK); 1 };
	$s =~ s/[\x80-\xff]//g;
	return $s;
}

# ---- the fuzz inputs, loaded with COPY
my @rows;    # [kind, payload bytes, aux text]

sub add_input
{
	my ($kind, $payload, $aux) = @_;
	push @rows, [ $kind, $payload, $aux ];
}

sub copy_escape
{
	my ($s) = @_;
	$s =~ s/\\/\\\\/g;
	$s =~ s/\t/\\t/g;
	$s =~ s/\n/\\n/g;
	$s =~ s/\r/\\r/g;
	return $s;
}

# JSON: seeds for the row type below, and random JSON documents
my @json_seeds = (
	'{"id": 1, "name": "caf\u00e9", "amount": "12.50", "qty": 3, "price": 1.5e3, "ok": true,'
	  . ' "ts": "2024-05-01T12:00:00.123456+02:00", "d": "2024-02-29",'
	  . ' "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "tags": ["a", null, "c"],'
	  . ' "matrix": [[1, 2], [3, 4]], "attrs": {"k": [1, {"x": null}]}, "doc": [true, "s"],'
	  . ' "nest": {"x": 7, "y": ["p"], "z": {"deep": [[[]]]}}, "iv": "1 day 02:00",'
	  . ' "code": "abcde", "small": -32768, "ip": "10.0.0.1/8"}',
	'{"id": "9223372036854775807", "amount": -0.000001, "qty": "42", "ok": "yes",'
	  . ' "ts": "2024-01-01 00:00:00Z", "tags": [], "matrix": [], "nest": null, "extra": {"a": [1, 2]}}',
	'{"ID": 2, "Name": "x\"y\\\\z\n\u2603", "price": -1E-5, "attrs": "str", "doc": 12.5e10}',
	'{}',
	' {"id":3} ',
);
sub random_json
{
	my ($depth) = @_;
	my $k = rnd($depth > 4 ? 4 : 6);
	return (rnd(2) ? '-' : '') . rnd(1_000_000) . (rnd(2) ? '.' . rnd(1000) : '') if $k == 0;
	return '"' . join('', map { ('a' .. 'z', ' ', '\\n', '\\u00e9')[ rnd(29) ] } 1 .. rnd(8)) . '"' if $k == 1;
	return ('true', 'false', 'null')[ rnd(3) ] if $k == 2;
	return '"2024-0' . (1 + rnd(9)) . '-1' . rnd(10) . 'T1' . rnd(10) . ':00:00Z"' if $k == 3;
	return '[' . join(',', map { random_json($depth + 1) } 1 .. rnd(4)) . ']' if $k == 4;
	my @keys = qw(id name amount qty price ok ts d u tags matrix attrs doc nest iv code small ip x y z);
	return '{' . join(',', map { '"' . $keys[ rnd(scalar @keys) ] . '":' . random_json($depth + 1) } 1 .. rnd(6)) . '}';
}
push @json_seeds, '{"id":1,"nest":' . random_json(1) . ',"attrs":' . random_json(1) . '}' for 1 .. 20;
push @json_seeds, random_json(0) for 1 .. 10;
add_input('json', mutate(\@json_seeds, 0), undef) for 1 .. 3000;
add_input('json', $_, undef) for @json_seeds;

# Avro: writer schemas, random valid values encoded by a small writer here,
# then mutated
my %schemas = (
	all => '{"type": "record", "name": "All", "fields": ['
	  . '{"name": "b", "type": "boolean"}, {"name": "i", "type": "int"}, {"name": "l", "type": "long"},'
	  . '{"name": "f", "type": "float"}, {"name": "d", "type": "double"}, {"name": "s", "type": "string"},'
	  . '{"name": "by", "type": "bytes"},'
	  . '{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}},'
	  . '{"name": "fx", "type": {"type": "fixed", "name": "F", "size": 4}},'
	  . '{"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},'
	  . '{"name": "u", "type": {"type": "string", "logicalType": "uuid"}},'
	  . '{"name": "dt", "type": {"type": "int", "logicalType": "date"}},'
	  . '{"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},'
	  . '{"name": "tm", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},'
	  . '{"name": "n", "type": ["null", "string"]}]}',
	containers => '{"type": "record", "name": "C", "fields": ['
	  . '{"name": "arr", "type": {"type": "array", "items": "int"}},'
	  . '{"name": "m", "type": {"type": "map", "values": {"type": "array", "items": "string"}}},'
	  . '{"name": "u", "type": ["null", "int", "string", {"type": "record", "name": "In", "fields": [{"name": "x", "type": "long"}]}]},'
	  . '{"name": "nested", "type": {"type": "array", "items": {"type": "map", "values": "double"}}},'
	  . '{"name": "rec", "type": "In"}]}',
	list => '{"type": "record", "name": "Node", "fields": [{"name": "id", "type": "int"},'
	  . ' {"name": "next", "type": ["null", "Node"]}]}',
	single => '{"type": "array", "items": ["null", "long", {"type": "array", "items": "null"}]}',
);
my %row_types = (
	all => 'fz_all', containers => 'fz_containers', list => 'fz_list', single => 'fz_single');

sub zigzag
{
	my ($v) = @_;
	my $z = $v < 0 ? ((-$v) * 2 - 1) : $v * 2;
	my $out = '';
	while ($z >= 0x80)
	{
		$out .= chr(($z & 0x7f) | 0x80);
		$z >>= 7;
	}
	return $out . chr($z);
}

my %named;
sub register_names
{
	my ($schema) = @_;
	if (ref($schema) eq 'ARRAY') { register_names($_) for @$schema; }
	elsif (ref($schema) eq 'HASH')
	{
		$named{ $schema->{name} } = $schema if defined $schema->{name};
		register_names($_->{type}) for @{ $schema->{fields} // [] };
		register_names($schema->{items}) if $schema->{items};
		register_names($schema->{values}) if $schema->{values};
	}
}

sub avro_value
{
	my ($schema, $depth) = @_;
	$schema = $named{$schema} if !ref($schema) && exists $named{$schema};
	if (ref($schema) eq 'ARRAY')
	{
		my $branch = $depth > 6 ? 0 : rnd(scalar @$schema);
		return zigzag($branch) . avro_value($schema->[$branch], $depth + 1);
	}
	if (ref($schema) eq 'HASH')
	{
		my $type = $schema->{type};
		if ($type eq 'record')
		{
			$named{ $schema->{name} } = $schema;
			return join('', map { avro_value($_->{type}, $depth + 1) } @{ $schema->{fields} });
		}
		if ($type eq 'enum')
		{
			$named{ $schema->{name} } = $schema;
			return zigzag(rnd(scalar @{ $schema->{symbols} }));
		}
		if ($type eq 'fixed')
		{
			$named{ $schema->{name} } = $schema;
			return join('', map { chr(rnd(256)) } 1 .. $schema->{size});
		}
		if ($type eq 'array' || $type eq 'map')
		{
			my $n = $depth > 6 ? 0 : rnd(4);
			my $out = '';
			if ($n)
			{
				$out .= zigzag(rnd(2) ? $n : -$n);
				my $items = '';
				for (1 .. $n)
				{
					$items .= avro_value('string', $depth + 1) if $type eq 'map';
					$items .= avro_value($type eq 'map' ? $schema->{values} : $schema->{items}, $depth + 1);
				}
				# a negative count is followed by the block's size in bytes
				$out .= zigzag(length($items)) if ord(substr($out, 0, 1)) & 1;
				$out .= $items;
			}
			return $out . "\x00";
		}
		if (($schema->{logicalType} // '') eq 'uuid')
		{
			my $u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
			return zigzag(length($u)) . $u;
		}
		return avro_value($type, $depth);
	}
	return '' if $schema eq 'null';
	return chr(rnd(2)) if $schema eq 'boolean';
	if ($schema eq 'int' || $schema eq 'long')
	{
		my @edge = (0, -1, 1, 2147483647, -2147483648, 1700000000000000, -62135596800000000);
		return zigzag(rnd(3) ? rnd(100000) - 50000 : $edge[ rnd(scalar @edge) ]);
	}
	return pack('f<', rnd(100000) / 7) if $schema eq 'float';
	return pack('d<', rnd(2) ? rnd(100000) / 7 : 9**9**9) if $schema eq 'double';
	if ($schema eq 'string' || $schema eq 'bytes')
	{
		my $s = join('', map { ('a' .. 'z', "\xc3\xa9")[ rnd(27) ] } 1 .. rnd(10));
		return zigzag(length($s)) . $s;
	}
	die "unknown Avro type $schema";
}

my $json = JSON::PP->new;
for my $name (sort keys %schemas)
{
	my $schema = $json->decode($schemas{$name});
	register_names($schema);
	my @seeds = map { avro_value($schema, 0) } 1 .. 20;
	# the linked list, also long
	push @seeds, ("\x02\x02" x 200) . "\x02\x00" if $name eq 'list';
	add_input("avro:$name", $_, $schemas{$name}) for @seeds;
	add_input("avro:$name", mutate(\@seeds, 1), $schemas{$name}) for 1 .. 600;
}

# Avro in the Confluent wire format, the schema from the registry
my $http = HTTP::Tiny->new(timeout => 30);
my $registered = $http->post("$url/subjects/fuzz-value/versions", {
	headers => { 'Content-Type' => 'application/vnd.schemaregistry.v1+json' },
	content => $json->encode({ schema => $schemas{all} }) });
ok($registered->{success}, 'schema registered in the fixture registry')
  or diag("$registered->{status} $registered->{content}");
my $schema_id = $json->decode($registered->{content})->{id};
{
	my $schema = $json->decode($schemas{all});
	register_names($schema);
	my @seeds = map { "\x00" . pack('N', $schema_id) . avro_value($schema, 0) } 1 .. 20;
	add_input('confluent', $_, undef) for @seeds;
	# keep the header's id mostly intact: every unknown id is a registry request
	for (1 .. 600)
	{
		my $s = mutate(\@seeds, 1);
		substr($s, 1, 4) = pack('N', $schema_id) if rnd(10) && length($s) >= 5;
		add_input('confluent', $s, undef);
	}
}

# Debezium change events (envelope 'debezium'), scanned below: JSON, bare
# and wrapped, and Avro of a small Envelope schema written here
my $dbz_placeholder = '__debezium_unavailable_value';
{
	my @seeds = (
		'{"before":null,"after":{"id":1,"name":"a","tags":["x"]},"source":{"lsn":10,"ts_ms":1700000000000},"op":"c","ts_ms":1700000000001}',
		'{"op":"u","after":{"id":1,"name":"' . $dbz_placeholder . '","tags":["' . $dbz_placeholder . '"]},"source":{"lsn":11}}',
		'{"before":{"id":1,"name":null},"after":null,"source":{"lsn":12,"ts_ms":1},"op":"d"}',
		'{"before":null,"after":null,"source":{"file":"b","pos":4},"op":"t","ts_ms":5}',
		'{"schema":{"type":"struct","fields":[{"field":"before"}]},"payload":{"before":null,"after":{"id":2,"name":"b","tags":[]},"source":{"lsn":13},"op":"r","transaction":{"id":"1"}}}',
		'{"schema":null,"payload":{"op":"c","after":{"id":3}}}');
	add_input('dbz_json', $_, undef) for @seeds;
	add_input('dbz_json', mutate(\@seeds, 0), undef) for 1 .. 500;
}
my $dbz_schema = '{"type": "record", "name": "Envelope", "fields": ['
  . '{"name": "before", "type": ["null", {"type": "record", "name": "Value", "fields": ['
  . '{"name": "id", "type": "int"}, {"name": "name", "type": ["null", "string"]},'
  . '{"name": "tags", "type": {"type": "array", "items": "string"}}]}]},'
  . '{"name": "after", "type": ["null", "Value"]},'
  . '{"name": "source", "type": {"type": "record", "name": "Source", "fields": ['
  . '{"name": "name", "type": "string"}, {"name": "lsn", "type": ["null", "long"]},'
  . '{"name": "ts_ms", "type": "long"}]}},'
  . '{"name": "op", "type": "string"}, {"name": "ts_ms", "type": ["null", "long"]}]}';
{
	my $string = sub { return zigzag(length($_[0])) . $_[0]; };
	my $value = sub {
		my ($id, $name, @tags) = @_;
		return zigzag($id) . (defined $name ? "\x02" . $string->($name) : "\x00")
		  . (@tags ? zigzag(scalar @tags) . join('', map { $string->($_) } @tags) : '') . "\x00";
	};
	my $event = sub {
		my ($op, $before, $after, $lsn) = @_;
		return (defined $before ? "\x02$before" : "\x00") . (defined $after ? "\x02$after" : "\x00")
		  . $string->('pg') . (defined $lsn ? "\x02" . zigzag($lsn) : "\x00") . zigzag(1700000000000)
		  . $string->($op) . "\x02" . zigzag(1700000000001);
	};
	my @seeds = (
		$event->('c', undef, $value->(1, 'a', 'x'), 10),
		$event->('u', undef, $value->(1, $dbz_placeholder, $dbz_placeholder), 11),
		$event->('d', $value->(1, undef), undef, 12),
		$event->('t', undef, undef, undef),
		$event->('r', undef, $value->(2, 'b'), 13));
	add_input('dbz_avro', $_, undef) for @seeds;
	add_input('dbz_avro', mutate(\@seeds, 1), undef) for 1 .. 500;
}

# Avro schema JSON (the table option avro_schema, registry answers)
{
	my @seeds = (values(%schemas), '"string"', '["null", "int"]',
		'{"type": "map", "values": {"type": "enum", "name": "x.y.E", "symbols": ["A"], "default": "A"}}',
		'{"type": "record", "name": "R", "namespace": "n", "fields": [{"name": "a", "type": "int", "default": 1},'
		  . ' {"name": "b", "type": {"type": "fixed", "name": "F", "size": 16, "logicalType": "decimal", "precision": 38, "scale": 4}}]}');
	@seeds = sort @seeds;
	add_input('schema', "\x00\x02\x02\x00", as_text(mutate(\@seeds, 0))) for 1 .. 1500;
}

# Schema Registry answers: garbage served for ids 1000 and up
my $registry_inputs = 0;
{
	my $dir = $registry->state_dir . '/raw';
	mkdir $dir or die "mkdir $dir: $!";
	my $envelope = '{"schema": ' . $json->encode($schemas{all}) . '}';
	my @seeds = ($envelope, '{"schema": "\"int\""}', '{"schema": "\"int\"", "schemaType": "AVRO"}',
		'{"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"}',
		'{"error_code": 40403, "message": "Schema not found"}', '[]', '{"schema": 12}');
	for my $i (0 .. 199)
	{
		my $status = $i < scalar(@seeds) ? 200 : (200, 200, 200, 200, 404, 404, 400, 401, 403, 302)[ rnd(10) ];
		my $body = $i < scalar(@seeds) ? $seeds[$i] : mutate(\@seeds, 0);
		$body = 'x' x (9 * 1024 * 1024) if $i == 199;    # beyond the response limit
		open(my $fh, '>', "$dir/" . (1000 + $i)) or die "$dir: $!";
		binmode $fh;
		print $fh "$status\n$body";
		close $fh;
		add_input('registry', "\x00" . pack('N', 1000 + $i) . "\x02", undef);
		$registry_inputs++;
	}
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE TYPE fz_inner AS (x int, y text[], z jsonb);
	CREATE TYPE fz_order AS (id bigint, name text, amount numeric, qty int, price float8,
		ok bool, ts timestamptz, d date, u uuid, tags text[], matrix int[], attrs jsonb,
		doc json, nest fz_inner, iv interval, code varchar(5), small int2, ip inet);
	CREATE TYPE fz_all AS (b bool, i int, l bigint, f real, d float8, s text, by bytea,
		e text, fx bytea, dec numeric(10,2), u uuid, dt date, ts timestamptz, tm timestamp, n text);
	CREATE TYPE fz_in AS (x bigint);
	CREATE TYPE fz_containers AS (arr int[], m jsonb, u text, nested jsonb, rec fz_in);
	CREATE TYPE fz_list AS (id int, next jsonb);
	CREATE TYPE fz_single AS (v jsonb);
	CREATE TABLE fuzz_inputs (id serial, kind text, payload bytea, aux text);
	CREATE TABLE fuzz_outcomes (kind text, id int, call int, sqlstate text, message text);

	-- one decoding call of one input, by number
	CREATE FUNCTION fuzz_call(which text, nth int, payload bytea, aux text) RETURNS void
	LANGUAGE plpgsql AS \$\$
	BEGIN
		IF which = 'json' THEN
			PERFORM kafka.from_json(payload, NULL::fz_order);
		ELSIF which LIKE 'avro:%' AND nth = 1 THEN
			PERFORM kafka.from_avro(payload, schema => aux);
		ELSIF which = 'avro:all' THEN
			PERFORM kafka.from_avro(payload, NULL::fz_all, schema => aux);
		ELSIF which = 'avro:containers' THEN
			PERFORM kafka.from_avro(payload, NULL::fz_containers, schema => aux);
		ELSIF which = 'avro:list' THEN
			PERFORM kafka.from_avro(payload, NULL::fz_list, schema => aux);
		ELSIF which = 'avro:single' THEN
			PERFORM kafka.from_avro(payload, NULL::fz_single, schema => aux);
		ELSIF which IN ('confluent', 'registry') AND nth = 1 THEN
			PERFORM kafka.from_avro(payload, server => 'k');
		ELSIF which IN ('confluent', 'registry') THEN
			PERFORM kafka.from_avro(payload, NULL::fz_all, server => 'k');
		ELSIF which = 'schema' AND nth = 1 THEN
			PERFORM kafka.from_avro(payload, schema => aux);
		ELSE
			PERFORM kafka.from_avro(payload, NULL::fz_list, schema => aux);
		END IF;
	END \$\$;

	-- every input of one kind, each call in its own exception block
	CREATE FUNCTION fuzz_run(which text) RETURNS void LANGUAGE plpgsql AS \$\$
	DECLARE
		r record;
		state text;
		message text;
	BEGIN
		FOR r IN SELECT * FROM fuzz_inputs WHERE kind = which ORDER BY id LOOP
			FOR n IN 1 .. CASE WHEN which = 'json' THEN 1 ELSE 2 END LOOP
				BEGIN
					PERFORM fuzz_call(which, n, r.payload, r.aux);
					INSERT INTO fuzz_outcomes VALUES (which, r.id, n, 'ok', NULL);
				EXCEPTION WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
					INSERT INTO fuzz_outcomes VALUES (which, r.id, n, state, message);
				END;
			END LOOP;
		END LOOP;
	END \$\$;
});

my $copy = "COPY fuzz_inputs (kind, payload, aux) FROM STDIN;\n";
for my $row (@rows)
{
	$copy .= join("\t", $row->[0], '\\\\x' . unpack('H*', $row->[1]),
		defined $row->[2] ? copy_escape($row->[2]) : '\\N') . "\n";
}
$copy .= "\\.\n";
$node->safe_psql('postgres', $copy);
is($node->safe_psql('postgres', 'SELECT count(*) FROM fuzz_inputs'), scalar(@rows), 'fuzz inputs loaded');

# One session for everything: the same backend answers before and after.
my @kinds = ('json', 'avro:all', 'avro:containers', 'avro:list', 'avro:single',
	'confluent', 'schema', 'registry');
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT pg_backend_pid();\n"
	  . join('', map { "SELECT fuzz_run('$_');\n" } @kinds)
	  . "SELECT pg_backend_pid();\n");
is($ret, 0, 'every input decoded or failed cleanly in one session') or diag($err);
my @pids = grep { /^\d+$/ } split /\n/, $out;
ok(@pids == 2 && $pids[0] == $pids[1], 'the same backend answered throughout');

for my $kind (@kinds)
{
	my $summary = $node->safe_psql('postgres', qq{
		SELECT count(*), count(*) FILTER (WHERE sqlstate = 'ok'),
		       count(*) FILTER (WHERE sqlstate <> 'ok')
		FROM fuzz_outcomes WHERE kind = '$kind'});
	my ($total, $good, $bad) = split /\|/, $summary;
	my $inputs = grep { $_->[0] eq $kind } @rows;
	is($total, $inputs * ($kind eq 'json' ? 1 : 2), "$kind: every input has an outcome");
	ok($good > 0 && $bad > 0, "$kind: some inputs decode, some fail ($good ok, $bad errors)");
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(DISTINCT sqlstate || ' ' || left(message, 200), E'\n')
		FROM fuzz_outcomes
		WHERE kind = '$kind' AND (sqlstate LIKE 'XX%' OR sqlstate IN ('54001', '57014'))}),
		'', "$kind: no internal error, stack overflow or timeout");
	note($node->safe_psql('postgres', qq{
		SELECT string_agg(sqlstate || ' x' || n, ', ' ORDER BY n DESC)
		FROM (SELECT sqlstate, count(*) AS n FROM fuzz_outcomes WHERE kind = '$kind' GROUP BY 1) s}));
}
# the answer beyond the response size limit is refused at once, not
# retried as if the registry were down
is($node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT message, ', ') FROM fuzz_outcomes o JOIN fuzz_inputs i USING (id)
	WHERE o.kind = 'registry' AND i.payload = '\x00000004af02'}),
	qq{schema registry response from "$url" is larger than 8388608 bytes},
	'registry: an oversized answer is an error at once');

# ---- foreign table scans of the same payloads, through a topic (the
# small ones: the test broker keeps a few megabytes per partition)
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE json_out (v bytea, p int OPTIONS (kafka 'partition'))
	  SERVER k OPTIONS (topic 'fuzz_json', format 'raw');
	CREATE FOREIGN TABLE avro_out (v bytea, p int OPTIONS (kafka 'partition'))
	  SERVER k OPTIONS (topic 'fuzz_avro', format 'raw');
	CREATE TABLE scanned AS SELECT * FROM fuzz_inputs
	  WHERE kind IN ('json', 'avro:all') AND length(payload) <= 2000;
	INSERT INTO json_out SELECT payload, 0 FROM scanned WHERE kind = 'json' ORDER BY id;
	INSERT INTO avro_out SELECT payload, 0 FROM scanned WHERE kind = 'avro:all' ORDER BY id;
});
my $all_schema = $schemas{all};
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE json_in (id bigint, name text, amount numeric, qty int, price float8,
		ok bool, ts timestamptz, d date, u uuid, tags text[], matrix int[], attrs jsonb,
		doc json, nest fz_inner, iv interval, code varchar(5), small int2, ip inet,
		err text OPTIONS (kafka 'error'))
	  SERVER k OPTIONS (topic 'fuzz_json', format 'json', on_error 'null');
	CREATE FOREIGN TABLE avro_in (b bool, i int, l bigint, f real, d float8, s text, by bytea,
		e text, fx bytea, dec numeric(10,2), u uuid, dt date, ts timestamptz, tm timestamp, n text,
		err text OPTIONS (kafka 'error'))
	  SERVER k OPTIONS (topic 'fuzz_avro', format 'avro', avro_schema '$all_schema', on_error 'null');
});
sub scanned
{
	my ($kind, $call) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*), count(*) FILTER (WHERE o.sqlstate = 'ok')
		FROM scanned s JOIN fuzz_outcomes o USING (id) WHERE s.kind = '$kind' AND o.call = $call});
}
my ($json_count, $json_good) = split /\|/, scanned('json', 1);
my ($avro_count, $avro_good) = split /\|/, scanned('avro:all', 2);
# (every column read, by the whole-row reference: a column no query reads
# is not converted)
is($node->safe_psql('postgres', q{SELECT count(*), count(*) FILTER (WHERE err IS NULL) FROM json_in j WHERE j::text <> ''}),
	"$json_count|$json_good", 'json scan, on_error null: a row per record, the same ones decode as with kafka.from_json');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE json_in OPTIONS (SET on_error 'skip')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM json_in j WHERE j::text <> ''}), $json_good,
	'json scan, on_error skip: the good records');
is($node->safe_psql('postgres', q{SELECT count(*), count(*) FILTER (WHERE err IS NULL) FROM avro_in a WHERE a::text <> ''}),
	"$avro_count|$avro_good", 'avro scan, on_error null: a row per record, the same ones decode as with kafka.from_avro');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE avro_in OPTIONS (SET on_error 'skip')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM avro_in a WHERE a::text <> ''}), $avro_good,
	'avro scan, on_error skip: the good records');
# a rescued column over the same mutated payloads: a few columns, the other
# fields and the values that do not convert rescued (on_error 'null'); every
# record a row, a rescued value that is valid jsonb or NULL, no crash
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE json_rescued (id bigint, qty int, rest jsonb OPTIONS (kafka 'rescued'),
		err text OPTIONS (kafka 'error'))
	  SERVER k OPTIONS (topic 'fuzz_json', format 'json', on_error 'null');
	CREATE FOREIGN TABLE avro_rescued (i int, s text, rest jsonb OPTIONS (kafka 'rescued'),
		err text OPTIONS (kafka 'error'))
	  SERVER k OPTIONS (topic 'fuzz_avro', format 'avro', avro_schema '$all_schema', on_error 'null');
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM json_rescued r WHERE r::text <> ''}), $json_count,
	'json scan with a rescued column: a row per record');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM json_rescued WHERE err IS NULL}), '>=', $json_good,
	'json scan with a rescued column: at least the records that decode with every column');
is($node->safe_psql('postgres', q{SELECT count(*) FROM json_rescued WHERE rest IS NOT NULL AND jsonb_typeof(rest) <> 'object'}),
	'0', 'json rescued: always an object');
is($node->safe_psql('postgres', q{SELECT count(*) FROM avro_rescued r WHERE r::text <> ''}), $avro_count,
	'avro scan with a rescued column: a row per record');
is($node->safe_psql('postgres', q{SELECT count(*) FROM avro_rescued WHERE err IS NULL AND rest IS NULL}), '0',
	'avro rescued: the writer fields without a column are in every decoded row');

# format text into json and jsonb: the payload checked as one JSON value
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE text_jsonb (v jsonb, o bigint OPTIONS (kafka 'offset'),
		err text OPTIONS (kafka 'error'))
	  SERVER k OPTIONS (topic 'fuzz_json', format 'text', on_error 'null');
	CREATE FOREIGN TABLE text_json (v json, o bigint OPTIONS (kafka 'offset'),
		err text OPTIONS (kafka 'error'))
	  SERVER k OPTIONS (topic 'fuzz_json', format 'text', on_error 'null');
	CREATE TABLE text_scanned AS
	  SELECT b.o, b.v AS b, b.err AS b_err, j.v AS j, j.err AS j_err
	  FROM text_jsonb b FULL JOIN text_json j USING (o);});
my ($text_rows, $text_good) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*), count(*) FILTER (WHERE b_err IS NULL) FROM text_scanned});
is($text_rows, $json_count, 'text scan into json and jsonb, on_error null: a row per record');
ok($text_good >= $json_good && $text_good < $json_count,
	"text scan: some payloads are JSON, some are not ($text_good of $text_rows)");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM text_scanned
	WHERE b_err IS NULL AND (j_err IS NOT NULL OR b::text IS DISTINCT FROM j::jsonb::text)}),
	'0', 'text scan: what jsonb accepts json accepts, with the same value');
# (json also keeps \u0000 and numbers beyond numeric's range, as PostgreSQL's
# json does)

($ret, $out, $err) = $node->psql('postgres', q{
	ALTER FOREIGN TABLE json_in OPTIONS (SET on_error 'fail');
	SET client_min_messages = error;
	SELECT count(*) FROM json_in;});
like($err, qr/ERROR:  /, 'json scan, on_error fail: an ERROR');
unlike($err, qr/stack depth|internal error|memory alloc/, 'json scan, on_error fail: an ordinary data error');

# ---- Debezium change events through foreign tables with envelope
# 'debezium': every record a row or a clean error, never a crash
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE dbz_json_out (v bytea, p int OPTIONS (kafka 'partition'))
	  SERVER k OPTIONS (topic 'fuzz_dbz_json', format 'raw');
	CREATE FOREIGN TABLE dbz_avro_out (v bytea, p int OPTIONS (kafka 'partition'))
	  SERVER k OPTIONS (topic 'fuzz_dbz_avro', format 'raw');
	INSERT INTO dbz_json_out SELECT payload, 0 FROM fuzz_inputs
	  WHERE kind = 'dbz_json' AND length(payload) <= 2000 ORDER BY id;
	INSERT INTO dbz_avro_out SELECT payload, 0 FROM fuzz_inputs
	  WHERE kind = 'dbz_avro' AND length(payload) <= 2000 ORDER BY id;
	CREATE FOREIGN TABLE dbz_json_in (id int, name text, tags text[],
		op text OPTIONS (kafka 'op'), ts timestamptz OPTIONS (kafka 'source_ts'),
		lsn bigint OPTIONS (kafka 'source_lsn'), err text OPTIONS (kafka 'error'))
	  SERVER k OPTIONS (topic 'fuzz_dbz_json', format 'json', envelope 'debezium', on_error 'null');
	CREATE FOREIGN TABLE dbz_avro_in (id int, name text, tags text[],
		op text OPTIONS (kafka 'op'), ts timestamptz OPTIONS (kafka 'source_ts'),
		lsn bigint OPTIONS (kafka 'source_lsn'), err text OPTIONS (kafka 'error'))
	  SERVER k OPTIONS (topic 'fuzz_dbz_avro', format 'avro', avro_schema '$dbz_schema',
	    envelope 'debezium', on_error 'null');
});
for my $format (qw(json avro))
{
	my $sent = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM fuzz_inputs WHERE kind = 'dbz_$format' AND length(payload) <= 2000});
	my ($rows, $good, $placeholders) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT count(*), count(*) FILTER (WHERE err IS NULL),
		       count(*) FILTER (WHERE err IS NULL AND op = 'u' AND name IS NULL)
		  FROM dbz_${format}_in t WHERE t::text <> ''});
	is($rows, $sent, "debezium $format scan, on_error null: a row per record");
	ok($good > 0 && $good < $rows, "debezium $format scan: some events decode, some fail ($good of $rows)");
	cmp_ok($placeholders, '>', 0, "debezium $format scan: placeholders read as NULL");
	$node->safe_psql('postgres', qq{ALTER FOREIGN TABLE dbz_${format}_in OPTIONS (SET on_error 'skip')});
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM dbz_${format}_in t WHERE t::text <> ''}),
		$good, "debezium $format scan, on_error skip: the good events");
	($ret, $out, $err) = $node->psql('postgres', qq{
		ALTER FOREIGN TABLE dbz_${format}_in OPTIONS (SET on_error 'fail');
		SET client_min_messages = error;
		SELECT count(*) FROM dbz_${format}_in;});
	like($err, qr/ERROR:  /, "debezium $format scan, on_error fail: an ERROR");
	unlike($err, qr/stack depth|internal error|memory alloc/,
		"debezium $format scan, on_error fail: an ordinary data error");
}

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated/, 'no backend crashed');
unlike($log, qr/stack depth limit exceeded/, 'no stack depth error');

$node->stop;
done_testing();
