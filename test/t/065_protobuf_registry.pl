# Format protobuf through the Confluent Schema Registry: records framed by
# an independent encoder (confluent_protobuf.py: python3-protobuf with
# protoc's descriptors, registered as .proto text) are read by message
# index ([0], [1], [1,0], map entries not counted), with schemas importing
# another subject by reference and google/protobuf/timestamp.proto; two
# schema versions (a field added and one removed, an enum renumbered) read
# by one table, each record with its own writer schema; a Protobuf key;
# framing errors (unknown schema id, bad magic byte, truncated indexes, an
# index out of range) under on_error fail, skip and null; protobuf_message
# with the registry; INSERT writes the subject's latest schema id and the
# message's indexes (checked by protoc); a streaming table from a
# registry-backed table; mutated framed payloads never crash.

use strict;
use warnings;

use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $python = $ENV{KT_PYTHON} // '/usr/bin/python3';
my $producer = "$srcdir/test/fixtures/confluent_protobuf.py";
my $broker = start_broker(brokers => 1,
	topics => [ 'pbr_mix:1', 'pbr_evo:1', 'pbr_keyed:1', 'pbr_bad:1', 'pbr_ins:1',
		'pbr_nosubj:1', 'pbr_fuzz:1', 'pbr_unusable:1' ]);
my $registry = start_schema_registry(user => 'sr-user', password => 'sr-pb-pw');
my $bs = $broker->bootstrap;
my $url = $registry->url;
my $node = new_node('pbreg', broker => $broker, schema_registry => $registry,
	conf => "timezone = 'UTC'\nstatement_timeout = '120s'");

my $dir = PostgreSQL::Test::Utils::tempdir('protos');
my %proto = (
	'common.proto' => <<'EOF',
syntax = "proto3";
package shop.common;

enum Currency {
  CURRENCY_UNSPECIFIED = 0;
  EUR = 1;
  USD = 2;
}

message Money {
  int64 units = 1;
  Currency currency = 2;
}
EOF
	'order.proto' => <<'EOF');
syntax = "proto3";
package shop;

import "common.proto";
import "google/protobuf/timestamp.proto";

message Order {
  int64 id = 1;
  string name = 2;
  shop.common.Money total = 3;
  google.protobuf.Timestamp at = 4;
  repeated string tags = 5;
}

enum Status {
  NEW = 0;
  SENT = 1;
}

message Shipment {
  // protoc adds the map entry AttrsEntry first: indexes do not count it
  map<string, int64> attrs = 1;
  message Parcel {
    int32 weight = 1;
    Status status = 2;
  }
  repeated Parcel parcels = 2;
  string carrier = 3;
}
EOF
foreach my $name (keys %proto)
{
	open(my $fh, '>', "$dir/$name") or die "$dir/$name: $!";
	print $fh $proto{$name};
	close($fh) or die "$dir/$name: $!";
}
my @order_protos = ('--proto', "$dir/order.proto", '--proto', "$dir/common.proto");
my @auth = ('--registry', $url, '--user', 'sr-user', '--password', 'sr-pb-pw');

# produces envelope records (confluent_protobuf.py --envelope) to a topic
sub produce_pb
{
	my ($topic, $args, @records) = @_;
	my ($ok, $out, $err) = run_cmd([ $python, $producer, @$args, '--produce', '--envelope',
		'--bootstrap', $bs, '--topic', $topic, map { ('--json', $_) } @records ]);
	ok($ok, "records produced to $topic") or diag($err);
	return decode_json((grep { /^\{/ } split /\n/, $out)[-1] // '{}');
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url');
	SET log_statement = 'none';
	CREATE USER MAPPING FOR CURRENT_USER SERVER k
	  OPTIONS (schema_registry_user 'sr-user', schema_registry_password 'sr-pb-pw');
	RESET log_statement;
});

###########################################################################
# Message indexes [0], [1], [1,0] of a schema with a reference and an
# import of a well-known type.
my $mix = produce_pb('pbr_mix', [ @order_protos, @auth ],
	'{"message": "shop.Order", "value": {"id": "42", "name": "first order",'
	  . ' "total": {"units": "1999", "currency": "EUR"}, "at": "2024-01-01T00:00:00.250Z",'
	  . ' "tags": ["a", "b"]}}',
	'{"message": "shop.Shipment", "value": {"attrs": {"x": "7"}, "carrier": "post",'
	  . ' "parcels": [{"weight": 3, "status": "SENT"}]}}',
	'{"message": "shop.Shipment.Parcel", "value": {"weight": 12, "status": "SENT"}}',
	'{"value": null}');
my $order_id = $mix->{schema_ids}{value};
my $header = sprintf('00%08x', $order_id);
is_deeply([ map { substr($mix->{records}[$_][2] // '', 0, 12 + 2 * $_) } 0 .. 2 ],
	[ "${header}00", "${header}0202", "${header}040200" ],
	'the producer framed indexes [0], [1] and [1,0]');

$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_mix (id bigint, name text, total jsonb, at timestamptz,
	  tags text[], attrs jsonb, parcels jsonb, carrier text, weight int, status text,
	  _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'pbr_mix', format 'protobuf');
});
is($node->safe_psql('postgres', q{SELECT * FROM pbr_mix ORDER BY _offset}),
	qq{42|first order|{"units": 1999, "currency": "EUR"}|2024-01-01 00:00:00.25+00|{a,b}||||||0\n}
	  . qq{|||||{"x": 7}|[{"status": "SENT", "weight": 3}]|post|||1\n}
	  . qq{||||||||12|SENT|2\n}
	  . qq{||||||||||3},
	'each record read as the message its indexes name; a tombstone gives NULLs');
my @requests = $registry->requests;
ok((grep { $_ eq "GET /schemas/ids/$order_id?format=serialized 200" } @requests),
	'the schema fetched by id with format=serialized');
ok((grep { $_ eq 'GET /subjects/common.proto/versions/1?format=serialized 200' } @requests),
	'its reference fetched as a subject version with format=serialized');
my $asked = grep { m{^GET /schemas/ids/} } @requests;
$node->safe_psql('postgres', 'SELECT count(*) FROM pbr_mix; SELECT count(*) FROM pbr_mix');
is(scalar(grep { m{^GET /schemas/ids/} } $registry->requests), $asked + 1,
	'the schema is cached in the backend: two scans ask once');

# protobuf_message: the record's message must be that one
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_orders (id bigint, name text, at timestamptz,
	  _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'pbr_mix', format 'protobuf', protobuf_message 'shop.Order',
	    on_error 'skip');
});
is($node->safe_psql('postgres', q{SELECT id, name, _offset FROM pbr_orders}),
	"42|first order|0\n||3",
	'protobuf_message: records of other messages are errors (skipped); a tombstone is NULLs');
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
	ALTER FOREIGN TABLE pbr_orders OPTIONS (SET on_error 'fail');
	SELECT * FROM pbr_orders});
like($stderr, qr/record of Protobuf message "shop.Shipment" \(schema id $order_id\), not of message "shop.Order"/,
	'on_error fail: the error names both messages');

###########################################################################
# Schema evolution: two versions of one subject, each record read with its
# writer's schema (an enum read by its writer's numbering).
my $v1 = produce_pb('pbr_evo',
	[ '--proto', "$srcdir/test/fixtures/protobuf/evolution_v1.proto", @auth ],
	'{"value": {"id": "1", "name": "a", "color": "GREEN", "removed": 5}}');
my $v2 = produce_pb('pbr_evo',
	[ '--proto', "$srcdir/test/fixtures/protobuf/evolution_v2.proto", @auth ],
	'{"value": {"id": "2", "name": "b", "color": "GREEN", "added": "new"}}',
	'{"value": {"id": "3", "color": "PURPLE"}}');
isnt($v1->{schema_ids}{value}, $v2->{schema_ids}{value}, 'two schema ids');
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_evo (id bigint, name text, color text, removed int, added text)
	  SERVER k OPTIONS (topic 'pbr_evo', format 'protobuf');
	CREATE FOREIGN TABLE pbr_evo_numbers (id bigint, color int)
	  SERVER k OPTIONS (topic 'pbr_evo', format 'protobuf');
});
is($node->safe_psql('postgres', q{SELECT * FROM pbr_evo ORDER BY id}),
	"1|a|GREEN|5|\n2|b|GREEN||new\n3||PURPLE||",
	'added and removed fields; enums by the name of their writer schema');
is($node->safe_psql('postgres', q{SELECT * FROM pbr_evo_numbers ORDER BY id}),
	"1|1\n2|2\n3|3", 'the renumbered enum as written');

###########################################################################
# key_format 'protobuf': the key's schema under <topic>-key.
produce_pb('pbr_keyed', [ @order_protos, @auth, '--key-message', 'shop.common.Money' ],
	'{"key": {"units": 5, "currency": "USD"}, "value": {"id": "1", "name": "k"}}',
	'{"key": {"units": 6}, "value": {"id": "2"}}');
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_keyed (id bigint, name text, k jsonb OPTIONS (kafka 'key'))
	  SERVER k OPTIONS (topic 'pbr_keyed', format 'protobuf', key_format 'protobuf');
});
is($node->safe_psql('postgres', q{SELECT * FROM pbr_keyed ORDER BY id}),
	qq{1|k|{"units": 5, "currency": "USD"}\n2||{"units": 6}},
	'a Protobuf key read as jsonb');

###########################################################################
# Framing errors, the record's error under each on_error.
my $bad = produce_pb('pbr_bad', [ @order_protos, @auth ],
	'{"message": "shop.Order", "value": {"id": "1", "name": "good"}}');
my $id_hex = sprintf('%08x', $bad->{schema_ids}{value});
my %bad_payloads = (
	1 => [ '007ffffff0000801', qr/schema id 2147483632 is not in the schema registry/ ],
	2 => [ "01${id_hex}000801", qr/starts with byte 0x01, not the Confluent magic byte 0x00/ ],
	3 => [ "00${id_hex}0402", qr/malformed message-index array/ ],
	4 => [ "00${id_hex}020a0801", qr/message indexes \[5\] are out of range/ ],
	5 => [ '0000', qr/too short for the 5-byte Confluent header/ ],
	7 => [ '00ff00000000', qr/names schema id -16777216, which is not a schema registry id/ ],
	6 => [ "00${id_hex}0604020008", qr/message indexes \[2, 1, 0\] are out of range/ ]);
produce_pb('pbr_bad', [ @order_protos ],
	map { qq({"value_hex": "$bad_payloads{$_}[0]"}) } sort keys %bad_payloads);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_bad (id bigint, name text, _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'pbr_bad', format 'protobuf');
});
foreach my $offset (sort keys %bad_payloads)
{
	($ret, $stdout, $stderr) = $node->psql('postgres',
		"SELECT * FROM pbr_bad WHERE _offset = $offset");
	like($stderr, $bad_payloads{$offset}[1], "on_error fail, bad record $offset: its error");
}
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE pbr_bad OPTIONS (ADD on_error 'skip')});
is($node->safe_psql('postgres', q{SELECT id, name, _offset FROM pbr_bad}), '1|good|0',
	'on_error skip: only the good record');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE pbr_bad OPTIONS (SET on_error 'null')});
is($node->safe_psql('postgres',
		q{SELECT count(*), count(id), string_agg(_offset::text, ',' ORDER BY _offset) FROM pbr_bad}),
	'8|1|0,1,2,3,4,5,6,7', 'on_error null: every record, the bad ones with NULL columns');

my $http = HTTP::Tiny->new(timeout => 30,
	default_headers => {
		Authorization => 'Basic ' . encode_base64('sr-user:sr-pb-pw', ''),
		'Content-Type' => 'application/vnd.schemaregistry.v1+json' });
sub register
{
	my ($subject, $body) = @_;
	my $response = $http->request('POST', "$url/subjects/$subject/versions",
		{ content => encode_json($body) });
	is($response->{status}, 200, "registered under $subject") or diag($response->{content});
	return decode_json($response->{content})->{id};
}

###########################################################################
# Schemas that cannot be had: the record's error (answers the registry
# gives for made-up ids, through its raw overrides).
my $common = decode_json($http->request('GET',
		"$url/schemas/ids/$mix->{schema_ids}{value}?format=serialized")->{content});
my $avro_id = register('pbr_avro-value', { schema => '"string"' });
mkdir($registry->state_dir . '/raw');
my %unusable = (
	9001 => [ { schemaType => 'PROTOBUF', schema => '!!not base64' },
		qr/gave the file of schema id 9001 not as base64/ ],
	9002 => [ { schemaType => 'PROTOBUF', schema => $common->{schema},
			references => [ { name => 'common.proto', subject => 'gone', version => 1 } ] },
		qr/reference "common.proto" of schema id 9002 names version 1 of subject "gone", which is not in the schema registry/ ],
	9003 => [ { schemaType => 'PROTOBUF', schema => encode_base64("\xff\xff\xff", '') },
		qr/schema id 9003 is not a valid Protobuf schema/ ],
	9004 => [ { schemaType => 'PROTOBUF', schema => $common->{schema} },
		qr/schema id 9004 is not a valid Protobuf schema: field "total" of message "shop.Order" has type "shop.common.Money", which the descriptor set does not define/ ]);
foreach my $id (keys %unusable)
{
	open(my $fh, '>', $registry->state_dir . "/raw/$id") or die "raw/$id: $!";
	print $fh "200\n" . encode_json($unusable{$id}[0]);
	close($fh);
}
my @unusable_ids = ((sort keys %unusable), $avro_id);
produce_pb('pbr_unusable', [@order_protos],
	map { sprintf('{"value_hex": "00%08x000801"}', $_) } @unusable_ids);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_unusable (id bigint, _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'pbr_unusable', format 'protobuf');
});
foreach my $offset (0 .. $#unusable_ids)
{
	my $id = $unusable_ids[$offset];
	($ret, $stdout, $stderr) = $node->psql('postgres',
		"SELECT * FROM pbr_unusable WHERE _offset = $offset");
	like($stderr, $id == $avro_id ? qr/schema id $avro_id is a AVRO schema, not PROTOBUF/
		  : $unusable{$id}[1], "schema id $id: the record's error");
}
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE pbr_unusable OPTIONS (ADD on_error 'null')});
is($node->safe_psql('postgres', q{SELECT count(*), count(id) FROM pbr_unusable}), '5|0',
	'on_error null: a row of NULLs each');

###########################################################################
# INSERT: the subject's latest schema and the message's indexes.
my $ins_id = register('pbr_ins-value', { schemaType => 'PROTOBUF', schema => $proto{'order.proto'},
		references => [ { name => 'common.proto', subject => 'common.proto', version => 1 } ] });
my $key_id = register('pbr_ins-key', { schemaType => 'PROTOBUF', schema => $proto{'common.proto'} });
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_ins (id bigint, name text, total jsonb, at timestamptz, tags text[],
	  k jsonb OPTIONS (kafka 'key'))
	  SERVER k OPTIONS (topic 'pbr_ins', format 'protobuf', key_format 'protobuf');
	CREATE FOREIGN TABLE pbr_ins_parcel (weight int, status text)
	  SERVER k OPTIONS (topic 'pbr_ins', format 'protobuf',
	    protobuf_message 'shop.Shipment.Parcel', on_error 'skip');
	INSERT INTO pbr_ins VALUES (7, 'seven', '{"units": 3, "currency": "USD"}',
	  '2024-05-01 12:00:00+00', '{x,y}', '{"units": 1, "currency": "EUR"}');
	INSERT INTO pbr_ins_parcel VALUES (5, 'SENT');
});
my $consume = q{
import json, sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic = sys.argv[1], sys.argv[2]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "pbr_check",
              "enable.auto.commit": False})
low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
c.assign([TopicPartition(topic, 0, low)])
seen = low
while seen < high:
    m = c.poll(10)
    if m is None:
        sys.exit("timed out reading " + topic)
    if m.error():
        continue
    seen = m.offset() + 1
    print(json.dumps([m.key().hex() if m.key() is not None else None,
                      m.value().hex() if m.value() is not None else None]))
c.close()
};
my ($ok, $out, $err) = run_cmd([ $python, '-c', $consume, $bs, 'pbr_ins' ]);
ok($ok, 'an independent consumer read pbr_ins') or diag($err);
my @read = map { decode_json($_) } grep { /^\[/ } split /\n/, $out;
is(scalar(@read), 2, 'two records written');

sub protoc_decode
{
	my ($type, $hex) = @_;
	my $bytes = pack('H*', $hex);
	my ($decoded, $stderr) = ('', '');
	IPC::Run::run([ 'protoc', "-I$dir", "--decode=$type", "$dir/order.proto" ],
		'<', \$bytes, '>', \$decoded, '2>', \$stderr)
	  or diag("protoc --decode: $stderr");
	$decoded =~ s/\s+/ /g;
	$decoded =~ s/^ | $//g;
	return $decoded;
}
my $ins_header = sprintf('00%08x', $ins_id);
my $key_header = sprintf('00%08x', $key_id);
is(substr($read[0][1], 0, 12), "${ins_header}00",
	'the value framed with the latest schema id of pbr_ins-value and index [0]');
is(protoc_decode('shop.Order', substr($read[0][1], 12)),
	'id: 7 name: "seven" total { units: 3 currency: USD } at { seconds: 1714564800 } tags: "x" tags: "y"',
	'protoc decodes the message');
is(substr($read[0][0], 0, 12), "${key_header}00",
	'the key framed with the schema id of pbr_ins-key');
is(protoc_decode('shop.common.Money', substr($read[0][0], 12)), 'units: 1 currency: EUR',
	'protoc decodes the key');
is(substr($read[1][1], 0, 16), "${ins_header}0402" . '00',
	'protobuf_message shop.Shipment.Parcel: indexes [1,0]');
is(protoc_decode('shop.Shipment.Parcel', substr($read[1][1], 16)), 'weight: 5 status: SENT',
	'protoc decodes the nested message');
is($node->safe_psql('postgres', q{SELECT id, name, total, at, tags, k FROM pbr_ins WHERE id IS NOT NULL}),
	qq{7|seven|{"units": 3, "currency": "USD"}|2024-05-01 12:00:00+00|{x,y}|{"units": 1, "currency": "EUR"}},
	'the rows read back through the foreign table');
is($node->safe_psql('postgres', q{SELECT * FROM pbr_ins_parcel}), '5|SENT',
	'and through the other message\'s table');

$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_nosubj (id bigint) SERVER k OPTIONS (topic 'pbr_nosubj', format 'protobuf');
});
($ret, $stdout, $stderr) = $node->psql('postgres', 'INSERT INTO pbr_nosubj VALUES (1)');
like($stderr, qr/subject "pbr_nosubj-value" is not in the schema registry of server "k"/,
	'INSERT without a subject: an error naming it');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	CREATE FOREIGN TABLE pbr_nomsg (id bigint) SERVER k
	  OPTIONS (topic 'pbr_ins', format 'protobuf', protobuf_message 'shop.Nope');
	INSERT INTO pbr_nomsg VALUES (1)});
like($stderr, qr/message type "shop.Nope" is not in the latest schema of subject "pbr_ins-value"/,
	'INSERT of a message the schema lacks: an error');

###########################################################################
# A streaming table from a registry-backed table: records of other
# messages are dead letters.
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_stream_src (id bigint, name text, tags text[],
	  _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'pbr_mix', format 'protobuf', protobuf_message 'shop.Order');
	CREATE TABLE pbr_stream (id bigint, name text, tags text[], _offset bigint);
	SELECT kafka.create_streaming_table('pbr_stream', source => 'pbr_stream_src',
	  trigger => 'available_now', on_error => 'dead_letter');
});
my $summary = $node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('pbr_stream')});
like($summary, qr/2 rows from 4 records in \d+ batches, 2 dead letters/,
	'refresh: the Order and the tombstone as rows, the other messages dead letters');
is($node->safe_psql('postgres', q{SELECT * FROM pbr_stream ORDER BY _offset}),
	"42|first order|{a,b}|0\n|||3", 'the rows');

###########################################################################
# Mutations of framed payloads: every one is a row or a clean error.
my @seeds = map { $_->[2] } @{ $mix->{records} }[0 .. 2];
srand(17);
my @mutants;
for my $i (1 .. 1500)
{
	my $bytes = pack('H*', $seeds[$i % 3]);
	my $edits = 1 + int(rand(3));
	for (1 .. $edits)
	{
		my $kind = int(rand(3));
		# the header mostly kept, so most mutants reach the message
		my $from = rand() < 0.9 ? 5 : 0;
		my $at = $from + int(rand(length($bytes) - $from));
		if ($kind == 0) { substr($bytes, $at, 1) = chr(int(rand(256))); }
		elsif ($kind == 1) { $bytes = substr($bytes, 0, $at); }
		else { substr($bytes, $at, 0) = chr(int(rand(256))); }
		last if length($bytes) <= 5;
	}
	push @mutants, qq({"value_hex": ") . unpack('H*', $bytes) . '"}';
}
produce_pb('pbr_fuzz', [ @order_protos ], @mutants);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pbr_fuzz (id bigint, name text, total jsonb, at timestamptz,
	  tags text[], attrs jsonb, parcels jsonb, carrier text, weight int, status text)
	  SERVER k OPTIONS (topic 'pbr_fuzz', format 'protobuf', on_error 'null');
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM pbr_fuzz}), '1500',
	'on_error null: every mutant a row');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE pbr_fuzz OPTIONS (SET on_error 'skip')});
ok($node->safe_psql('postgres', q{SELECT count(*) FROM pbr_fuzz}) < 1500,
	'on_error skip: some mutants are errors, skipped');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	ALTER FOREIGN TABLE pbr_fuzz OPTIONS (SET on_error 'fail');
	SELECT count(*) FROM pbr_fuzz});
like($stderr, qr/ERROR:  /, 'on_error fail: a clean error');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');

done_testing();
