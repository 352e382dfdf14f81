# IMPORT FOREIGN SCHEMA from a kafka server: "registry" makes one typed
# foreign table per topic with a <topic>-value subject (Avro of every shape,
# JSON Schema, Protobuf with every type mapping), keyed by the <topic>-key
# subject; the tables read back exactly what independent encoders
# (python3-avro with the Confluent framing, Python's json, python3-protobuf
# with message indexes) wrote.  Topics without a subject, subjects without
# a topic and schemas that cannot be imported are skipped with a NOTICE; LIMIT TO / EXCEPT name topics; "topics" makes raw tables of every
# topic but internal ones; the options format, key_format, metadata_prefix
# and include_metadata; the importing user's user mapping is used and its
# secrets stay out of messages.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $broker = start_broker(brokers => 1,
	topics => [ 'imp_orders:1', 'imp_payments:1', 'imp_events:1', 'imp_clash:1',
		'imp_proto:1', 'imp_prim:1', 'imp_bad:1', 'imp_badjson:1', 'imp_raw:1', 'imp.dotted-name:1', '_imp_internal:1' ]);
my $registry = start_schema_registry(user => 'sr-user', password => 'sr-secret-pw');
my $bs = $broker->bootstrap;
my $url = $registry->url;
my $node = new_node('import', broker => $broker, schema_registry => $registry,
	conf => "statement_timeout = '120s'\ntimezone = 'UTC'\ndatestyle = 'ISO, YMD'");

my ($ok, $out, $err) = run_cmd([ $ENV{KT_PYTHON} // '/usr/bin/python3',
	"$srcdir/test/fixtures/produce_import.py", '--bootstrap', $bs,
	'--registry', $url, '--user', 'sr-user', '--password', 'sr-secret-pw' ]);
ok($ok, 'fixture topics and subjects written') or diag($err);

# imp_proto: a Protobuf schema of every type mapping, registered as .proto
# text by python3-protobuf's producer, with two records
my $protos = PostgreSQL::Test::Utils::tempdir('protos');
open(my $pfh, '>', "$protos/reading.proto") or die "reading.proto: $!";
print $pfh <<'EOF';
syntax = "proto3";
package imp;

import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";

enum Kind {
  K_NONE = 0;
  K_ONE = 1;
}

message Reading {
  int32 i32 = 1;
  int64 i64 = 2;
  uint32 u32 = 3;
  uint64 u64 = 4;
  sint32 s32 = 5;
  fixed64 f64 = 6;
  float fl = 7;
  double db = 8;
  bool ok = 9;
  string s = 10;
  bytes raw = 11;
  Kind kind = 12;
  repeated int32 nums = 13;
  repeated string tags = 14;
  message Inner {
    string a = 1;
    int32 b = 2;
  }
  Inner inner = 15;
  map<string, int32> counts = 16;
  google.protobuf.Timestamp at = 17;
  google.protobuf.Duration took = 18;
  google.protobuf.Int64Value maybe = 19;
  google.protobuf.StringValue note = 20;
  google.protobuf.Struct extra = 21;
  repeated Inner inners = 22;
}

message Other {
  string unused = 1;
}
EOF
close($pfh);
($ok, $out, $err) = run_cmd([ $ENV{KT_PYTHON} // '/usr/bin/python3',
	"$srcdir/test/fixtures/confluent_protobuf.py", '--proto', "$protos/reading.proto",
	'--produce', '--bootstrap', $bs, '--topic', 'imp_proto', '--registry', $url,
	'--user', 'sr-user', '--password', 'sr-secret-pw',
	'--json', '{"i32": -5, "i64": "9007199254740993", "u32": 4294967295,'
	  . ' "u64": "18446744073709551615", "s32": -7, "f64": "12345678901234567890",'
	  . ' "fl": 1.5, "db": 2.25, "ok": true, "s": "h\\u00e9llo", "raw": "AP8=",'
	  . ' "kind": "K_ONE", "nums": [1, 2, 3], "tags": ["x"], "inner": {"a": "q", "b": 2},'
	  . ' "counts": {"c": 3}, "at": "2024-01-02T03:04:05.123456Z", "took": "90.5s",'
	  . ' "maybe": "-3", "note": "n", "extra": {"k": [1, "two", null]},'
	  . ' "inners": [{"a": "r"}, {"b": 4}]}',
	'--json', '{"i32": 1}' ]);
ok($ok, 'Protobuf records of imp_proto written') or diag($err);

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url');
	SET log_statement = 'none';
	CREATE USER MAPPING FOR CURRENT_USER SERVER k
	  OPTIONS (schema_registry_user 'sr-user', schema_registry_password 'sr-secret-pw');
	RESET log_statement;
	CREATE SCHEMA staging;
	CREATE SCHEMA raw;
	CREATE SCHEMA limited;
	CREATE SCHEMA excepted;
	CREATE SCHEMA opts;
});

# Columns as "name type [options]", in order.
sub columns_of
{
	my ($table) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod)
		    || coalesce(' (' || array_to_string(attfdwoptions, ',') || ')', ''),
		  ', ' ORDER BY attnum)
		  FROM pg_attribute WHERE attrelid = '$table'::regclass AND attnum > 0});
}

sub table_options
{
	my ($table) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT array_to_string(ftoptions, ',') FROM pg_foreign_table
		 WHERE ftrelid = '$table'::regclass});
}

sub tables_in
{
	my ($schema) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c
		  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$schema'});
}

###########################################################################
# "registry": every topic with a value subject.
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	'IMPORT FOREIGN SCHEMA registry FROM SERVER k INTO staging');
is($ret, 0, 'IMPORT FOREIGN SCHEMA registry succeeds') or diag($stderr);
is(tables_in('staging'), 'imp_events,imp_orders,imp_payments,imp_prim,imp_proto',
	'one table per topic with an importable value subject');
like($stderr, qr/NOTICE:  topic "imp_raw" skipped: the schema registry has no subject "imp_raw-value"/,
	'a topic without a subject is skipped with a NOTICE');
like($stderr, qr/NOTICE:  topic "imp.dotted-name" skipped/, 'so is the dotted one');
like($stderr, qr/NOTICE:  subject "ghost-value" skipped: server "k" has no topic "ghost"/,
	'a subject without a topic is skipped with a NOTICE');
unlike($stderr, qr/imp_proto/, 'a PROTOBUF subject is imported');
like($stderr, qr/NOTICE:  topic "imp_clash" skipped: column "_partition" would be declared twice/,
	'a field named like a metadata column skips its topic with a NOTICE');
like($stderr, qr/NOTICE:  topic "imp_bad" skipped: subject "imp_bad-value" cannot be imported\n.*DETAIL:  its latest schema is not a valid Avro schema: /,
	'a schema that does not parse is skipped with a NOTICE saying why');
like($stderr, qr/NOTICE:  topic "imp_badjson" skipped: a field has an empty name/,
	'so is a field name no column can have');
unlike($stderr, qr/_imp_internal/, 'internal topics are not considered');
unlike($stderr, qr/sr-secret-pw/, 'no secret in the messages');

is(columns_of('staging.imp_orders'),
	'id bigint, i integer, f real, d double precision, b boolean, s text, raw bytea, '
	  . 'fx bytea, dec numeric(12,2), fdec numeric(20,4), day date, '
	  . 't_ms time without time zone, t_us time without time zone, '
	  . 'ts_ms timestamp with time zone, ts_us timestamp with time zone, '
	  . 'lts timestamp without time zone, uid uuid, status text, tags text[], '
	  . 'nums integer[], matrix jsonb, attrs jsonb, address jsonb, note text, '
	  . 'either text, CamelCase integer, _key bigint (kafka=key), '
	  . '_partition integer (kafka=partition), _offset bigint (kafka=offset), '
	  . '_timestamp timestamp with time zone (kafka=timestamp)',
	'Avro: a column per field, typed as the decoder reads it, and the metadata columns');
is(table_options('staging.imp_orders'), 'topic=imp_orders,format=avro,key_format=avro',
	'Avro: table options, key_format from the key subject');

# Read back exactly what python3-avro wrote.
is($node->safe_psql('postgres', q{
	SELECT concat_ws(' | ', id, i, f, d, b, encode(convert_to(s, 'UTF8'), 'hex'), raw, fx, dec, fdec, day, t_ms, t_us,
	    ts_ms, ts_us, lts, uid, status, tags, nums, matrix, attrs, coalesce(address::text, 'NULL'),
	    coalesce(note, 'NULL'), either, "CamelCase", _key, _partition, _offset)
	  FROM staging.imp_orders ORDER BY _offset}),
	qq{1 | -2147483648 | 0.5 | 1e+300 | t | 636166c3a920e29895 | \\x00ff | \\x41424344 | 1234.50 | -12345678.9012 | 2024-02-29 | 13:14:15.123 | 23:59:59.999999 | 2024-05-01 12:00:00.25+00 | 1969-12-31 23:59:59.999999+00 | 2024-01-02 03:04:05.000006 | 6f1c2a3e-0d4b-4c5a-9e8f-112233445566 | PAID | {a,"b \\"q\\""} | {1,NULL,-3} | [[1, 2], []] | {"x": 1, "y": -9007199254740993} | {"zip": 12345, "street": "1 Main St"} | first | 7 | 1 | 100 | 0 | 0\n}
	  . qq{2 | 2147483647 | -1.25 | -0 | f |  | \\x | \\x00000000 | -0.05 | 0.0001 | 1970-01-01 | 00:00:00 | 00:00:00.000001 | 1970-01-01 00:00:00+00 | 2038-01-19 03:14:08.000001+00 | 1999-12-31 23:59:59 | 00000000-0000-0000-0000-000000000000 | NEW | {} | {} | [] | {} | NULL | NULL | seven | 2 | 101 | 0 | 1},
	'Avro: every value read back exactly through the imported table');
is($node->safe_psql('postgres', q{SELECT count(_timestamp) FROM staging.imp_orders}),
	'2', 'the timestamp column holds the records\' timestamps');

is(columns_of('staging.imp_payments'),
	'order_id bigint, amount numeric(10,2), _key bytea (kafka=key), '
	  . '_partition integer (kafka=partition), _offset bigint (kafka=offset), '
	  . '_timestamp timestamp with time zone (kafka=timestamp)',
	'no key subject: the key is raw bytes');
is(table_options('staging.imp_payments'), 'topic=imp_payments,format=avro', 'and no key_format');
is($node->safe_psql('postgres', q{
	SELECT string_agg(concat_ws(' ', order_id, amount, _key), ', ' ORDER BY _offset)
	  FROM staging.imp_payments}),
	'1 9.99 \x7031, 2 -1.00 \xff', 'payments read back, keys as bytes');

is(columns_of('staging.imp_events'),
	'id bigint, name text, amount numeric, ok boolean, at timestamp with time zone, '
	  . 'day date, uid uuid, tags text[], meta jsonb, kind text, anything jsonb, '
	  . '_key bytea (kafka=key), _partition integer (kafka=partition), '
	  . '_offset bigint (kafka=offset), _timestamp timestamp with time zone (kafka=timestamp)',
	'JSON Schema: a column per property, in order');
is(table_options('staging.imp_events'), 'topic=imp_events,format=json',
	'JSON Schema: format json');
is($node->safe_psql('postgres', q{
	SELECT string_agg(concat_ws(' | ', id, coalesce(name, 'NULL'), amount, ok, at, day,
	    uid, tags, meta, kind, coalesce(anything::text, 'NULL')), E'\n' ORDER BY _offset)
	  FROM staging.imp_events}),
	qq{1 | one | 12.345678901234567 | t | 2024-05-01 12:00:00.123456+00 | 2024-02-29 | 6f1c2a3e-0d4b-4c5a-9e8f-112233445566 | {x,y} | {"k": [1, 2]} | a | [1, "two"]\n}
	  . qq{9007199254740993 | NULL | -0.5 | f | 1970-01-01 00:00:00+00 | 1970-01-01 | 00000000-0000-0000-0000-000000000000 | {} | {} | b | NULL},
	'JSON Schema: every value read back exactly');

is(columns_of('staging.imp_prim'),
	'value text, _key bytea (kafka=key), _partition integer (kafka=partition), '
	  . '_offset bigint (kafka=offset), _timestamp timestamp with time zone (kafka=timestamp)',
	'Avro that is no record: one column "value"');
is($node->safe_psql('postgres', q{SELECT string_agg(encode(convert_to(value, 'UTF8'), 'hex'), ',' ORDER BY _offset) FROM staging.imp_prim}),
	'78,c3bc', 'and it reads the values');

# Protobuf: the first message of the subject's file, typed as the decoder
# reads it, and read back exactly.
is(columns_of('staging.imp_proto'),
	'i32 integer, i64 bigint, u32 bigint, u64 numeric, s32 integer, f64 numeric, fl real, '
	  . 'db double precision, ok boolean, s text, raw bytea, kind text, nums integer[], '
	  . 'tags text[], inner jsonb, counts jsonb, at timestamp with time zone, took interval, '
	  . 'maybe bigint, note text, extra jsonb, inners jsonb, _key bytea (kafka=key), '
	  . '_partition integer (kafka=partition), _offset bigint (kafka=offset), '
	  . '_timestamp timestamp with time zone (kafka=timestamp)',
	'Protobuf: a column per field of the first message, typed as the decoder reads it');
is(table_options('staging.imp_proto'), 'topic=imp_proto,format=protobuf',
	'Protobuf: table options');
is($node->safe_psql('postgres', q{
	SELECT i32, i64, u32, u64, s32, f64, fl, db, ok, encode(convert_to(s, 'UTF8'), 'hex'), raw,
	  kind, nums, tags, "inner", counts, at, took, maybe, note, extra, inners
	  FROM staging.imp_proto ORDER BY _offset}),
	qq{-5|9007199254740993|4294967295|18446744073709551615|-7|12345678901234567890|1.5|2.25|t|68c3a96c6c6f|\\x00ff|K_ONE|{1,2,3}|{x}|{"a": "q", "b": 2}|{"c": 3}|2024-01-02 03:04:05.123456+00|00:01:30.5|-3|n|{"k": [1, "two", null]}|[{"a": "r"}, {"b": 4}]\n}
	  . qq{1|||||||||||||||||||||},
	'Protobuf: the records read back exactly');

###########################################################################
# LIMIT TO / EXCEPT name topics; only those are looked at.
($ret, $stdout, $stderr) = $node->psql('postgres',
	'IMPORT FOREIGN SCHEMA registry LIMIT TO (imp_payments, imp_raw, nosuch) FROM SERVER k INTO limited');
is($ret, 0, 'LIMIT TO succeeds') or diag($stderr);
is(tables_in('limited'), 'imp_payments', 'LIMIT TO imports only the topics named');
like($stderr, qr/topic "imp_raw" skipped/, 'a named topic without a subject gets its NOTICE');
like($stderr, qr/server "k" has no topic "nosuch"/, 'a name that is no topic gets a NOTICE');
unlike($stderr, qr/imp_proto|ghost|imp_clash|imp_bad/, 'topics not named are not looked at');

($ret, $stdout, $stderr) = $node->psql('postgres',
	'IMPORT FOREIGN SCHEMA registry EXCEPT (imp_orders, imp_events) FROM SERVER k INTO excepted');
is($ret, 0, 'EXCEPT succeeds') or diag($stderr);
is(tables_in('excepted'), 'imp_payments,imp_prim,imp_proto', 'EXCEPT leaves the topics named out');

###########################################################################
# Options.
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	IMPORT FOREIGN SCHEMA registry LIMIT TO (imp_clash, imp_payments) FROM SERVER k INTO opts
	  OPTIONS (metadata_prefix 'kafka_', key_format 'text')});
is($ret, 0, 'metadata_prefix and key_format') or diag($stderr);
is(columns_of('opts.imp_clash'),
	'n integer, _partition integer, kafka_key text (kafka=key), '
	  . 'kafka_partition integer (kafka=partition), kafka_offset bigint (kafka=offset), '
	  . 'kafka_timestamp timestamp with time zone (kafka=timestamp)',
	'another metadata_prefix imports the field that clashed');
is($node->safe_psql('postgres', q{SELECT n, _partition, kafka_partition FROM opts.imp_clash}),
	'5|6|0', 'the field and the metadata column are both read');
is(table_options('opts.imp_payments'), 'topic=imp_payments,format=avro,key_format=text',
	'key_format text');
$node->safe_psql('postgres', q{
	DROP FOREIGN TABLE opts.imp_clash, opts.imp_payments;
	IMPORT FOREIGN SCHEMA registry LIMIT TO (imp_orders) FROM SERVER k INTO opts
	  OPTIONS (include_metadata 'false')});
is(columns_of('opts.imp_orders') =~ /_key|_partition|_offset|_timestamp|kafka=/ ? 'metadata' : 'none',
	'none', 'include_metadata false: only the payload columns');
is($node->safe_psql('postgres', q{SELECT string_agg(id::text || ':' || status, ',' ORDER BY id) FROM opts.imp_orders}),
	'1:PAID,2:NEW', 'and they read');

###########################################################################
# "topics": every topic but internal ones, raw.
($ret, $stdout, $stderr) = $node->psql('postgres',
	'IMPORT FOREIGN SCHEMA topics FROM SERVER k INTO raw');
is($ret, 0, 'IMPORT FOREIGN SCHEMA topics succeeds') or diag($stderr);
is(tables_in('raw'),
	'imp.dotted-name,imp_bad,imp_badjson,imp_clash,imp_events,imp_orders,imp_payments,imp_prim,imp_proto,imp_raw',
	'every topic but the internal one');
is(columns_of('raw."imp.dotted-name"'),
	'key bytea (kafka=key), value bytea, _partition integer (kafka=partition), '
	  . '_offset bigint (kafka=offset), _timestamp timestamp with time zone (kafka=timestamp)',
	'raw columns: key and value bytea and the metadata');
is(table_options('raw."imp.dotted-name"'), 'topic=imp.dotted-name,format=raw', 'format raw');
is($node->safe_psql('postgres', q{SELECT key, value FROM raw."imp.dotted-name"}),
	'\x61|\x62', 'a dotted topic name reads through its quoted table');
is($node->safe_psql('postgres', q{
	SELECT string_agg(coalesce(key::text, 'NULL') || ' ' || coalesce(value::text, 'NULL'), ', ' ORDER BY _offset)
	  FROM raw.imp_raw}),
	'\x6b00 \x0102, NULL NULL', 'raw bytes and NULLs exactly');
is($node->safe_psql('postgres', q{SELECT count(*) FROM raw.imp_orders}), '2',
	'Avro topics are raw tables too');

$node->safe_psql('postgres', 'CREATE SCHEMA raw_text');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	IMPORT FOREIGN SCHEMA topics LIMIT TO ("imp.dotted-name") FROM SERVER k INTO raw_text
	  OPTIONS (format 'text', key_format 'text')});
is($ret, 0, 'topics with format text') or diag($stderr);
is($node->safe_psql('postgres', q{SELECT key || value FROM raw_text."imp.dotted-name"}),
	'ab', 'key and value as text');

###########################################################################
# Errors.
($ret, $stdout, $stderr) = $node->psql('postgres',
	'IMPORT FOREIGN SCHEMA nosuch FROM SERVER k INTO raw_text');
like($stderr, qr/ERROR:  kafka server "k" has no remote schema "nosuch"/,
	'an unknown remote schema is an error naming it');

# Without a user mapping the registry refuses: an error, no secret in it.
$node->safe_psql('postgres', q{
	CREATE ROLE importer LOGIN;
	GRANT USAGE ON FOREIGN SERVER k TO importer;
	CREATE SCHEMA imp_by_importer AUTHORIZATION importer;
	CREATE USER MAPPING FOR importer SERVER k OPTIONS (password_required 'false');
});
($ret, $stdout, $stderr) = $node->psql('postgres',
	'IMPORT FOREIGN SCHEMA registry FROM SERVER k INTO imp_by_importer',
	extra_params => [ '-U', 'importer' ]);
like($stderr, qr/ERROR:  schema registry "http:\/\/127\.0\.0\.1:\d+" of server "k" refused the request \(HTTP status 401\)/,
	'the importing user\'s user mapping is used for the registry');
unlike($stderr, qr/sr-secret-pw/, 'and no secret is in the error');
($ret, $stdout, $stderr) = $node->psql('postgres',
	'IMPORT FOREIGN SCHEMA topics LIMIT TO (imp_raw) FROM SERVER k INTO imp_by_importer',
	extra_params => [ '-U', 'importer' ]);
is($ret, 0, 'topics needs no registry') or diag($stderr);
is($node->safe_psql('postgres', q{SELECT count(*) FROM imp_by_importer.imp_raw}), '2',
	'the imported table reads');

done_testing();
