# The Protobuf test fixtures check themselves: the fixture Schema Registry
# stores PROTOBUF (and JSON) schemas with references and serves them as
# Confluent does (schemaType and references, left out for AVRO and when
# empty; format=serialized gives the FileDescriptorProto of the one file,
# decoded here by python3-protobuf; an invalid .proto or a missing reference
# is error 42201), and confluent_protobuf.py frames messages with the message
# indexes [0], [1] and [1,0] byte for byte, read back by an independent
# consumer and decoded by protoc.

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
my $broker = start_broker(brokers => 1, topics => [ 'pb_fx:1', 'pb_plain:1', 'pb_keys:1' ]);
my $registry = start_schema_registry(user => 'sr-user', password => 'sr-pb-pw');
my $bs = $broker->bootstrap;
my $url = $registry->url;

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
	'order.proto' => <<'EOF',
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
  // a map field before the nested message: protoc adds a map entry
  // message, AttrsEntry, that message indexes do not count
  map<string, int64> attrs = 1;
  message Parcel {
    int32 weight = 1;
    Status status = 2;
  }
  repeated Parcel parcels = 2;
  string carrier = 3;
}
EOF
	'bad.proto' => "syntax = \"proto3\";\nmessage Broken { int32 a = 1 }\n");
foreach my $name (keys %proto)
{
	open(my $fh, '>', "$dir/$name") or die "$dir/$name: $!";
	print $fh $proto{$name};
	close($fh) or die "$dir/$name: $!";
}

###########################################################################
# The registry, over its REST API.
my $http = HTTP::Tiny->new(timeout => 30,
	default_headers => {
		Authorization => 'Basic ' . encode_base64('sr-user:sr-pb-pw', ''),
		'Content-Type' => 'application/vnd.schemaregistry.v1+json' });

sub call
{
	my ($method, $path, $body) = @_;
	my $response = $http->request($method, "$url$path",
		defined $body ? { content => encode_json($body) } : {});
	my $decoded = eval { JSON::PP->new->allow_nonref->decode($response->{content}) };
	return ($response->{status}, $decoded);
}

my ($status, $answer) = call('POST', '/subjects/common.proto/versions',
	{ schemaType => 'PROTOBUF', schema => $proto{'common.proto'} });
is($status, 200, 'a .proto without references registers');
my $common_id = $answer->{id};

my $references = [ { name => 'common.proto', subject => 'common.proto', version => 1 } ];
($status, $answer) = call('POST', '/subjects/pb_fx-value/versions',
	{ schemaType => 'PROTOBUF', schema => $proto{'order.proto'}, references => $references });
is($status, 200, 'a .proto importing another subject registers with a reference');
my $order_id = $answer->{id};
isnt($order_id, $common_id, 'it has an id of its own');

(my $reformatted = $proto{'order.proto'}) =~ s/\n\n/\n\n\/\/ only a comment\n/g;
($status, $answer) = call('POST', '/subjects/pb_other-value/versions',
	{ schemaType => 'PROTOBUF', schema => $reformatted, references => $references });
is($answer->{id}, $order_id,
	'the same schema with comments added, under another subject, has the same id');
($status, $answer) = call('POST', '/subjects/pb_fx-value',
	{ schemaType => 'PROTOBUF', schema => $proto{'order.proto'}, references => $references });
is_deeply([ $status, $answer->{id}, $answer->{version}, $answer->{schemaType} ],
	[ 200, $order_id, 1, 'PROTOBUF' ], 'a lookup finds it under its subject');

($status, $answer) = call('GET', "/schemas/ids/$common_id");
is_deeply($answer, { schemaType => 'PROTOBUF', schema => $proto{'common.proto'} },
	'by id: schemaType PROTOBUF, no references when there are none');
($status, $answer) = call('GET', "/schemas/ids/$order_id");
is_deeply($answer,
	{ schemaType => 'PROTOBUF', schema => $proto{'order.proto'}, references => $references },
	'by id: the .proto text as registered and its references');

($status, $answer) = call('GET', "/schemas/ids/$order_id?format=serialized");
is($status, 200, 'format=serialized answers');
is_deeply($answer->{references}, $references, 'with the references');
my $serialized = $answer->{schema};
($status, $answer) = call('GET', '/subjects/pb_fx-value/versions/latest?format=serialized');
is_deeply([ $answer->{subject}, $answer->{version}, $answer->{id}, $answer->{schemaType},
		$answer->{schema} ],
	[ 'pb_fx-value', 1, $order_id, 'PROTOBUF', $serialized ],
	'a subject version with format=serialized: the same FileDescriptorProto');
ok(grep({ $_ eq "GET /schemas/ids/$order_id?format=serialized 200" } $registry->requests),
	'the request log keeps the query');

# python3-protobuf reads what format=serialized gave
my $describe = q{
import base64, json, sys
from google.protobuf import descriptor_pb2
f = descriptor_pb2.FileDescriptorProto()
f.ParseFromString(base64.b64decode(sys.argv[1], validate=True))
print(json.dumps({"name": f.name, "package": f.package, "syntax": f.syntax,
                  "dependency": list(f.dependency),
                  "messages": [m.name for m in f.message_type],
                  "enums": [e.name for e in f.enum_type],
                  "nested": {m.name: [n.name for n in m.nested_type] for m in f.message_type},
                  "fields": {m.name: [[x.name, x.number, x.type_name] for x in m.field]
                             for m in f.message_type}}, sort_keys=True))
};
my ($ok, $out, $err) = run_cmd([ $python, '-c', $describe, $serialized ]);
ok($ok, 'python3-protobuf parses the serialized schema') or diag($err);
my $file = decode_json($out || '{}');
is_deeply(
	[ $file->{name}, $file->{package}, $file->{syntax}, $file->{dependency} ],
	[ 'default', 'shop', 'proto3', [ 'common.proto', 'google/protobuf/timestamp.proto' ] ],
	'one FileDescriptorProto named "default" (as Confluent names it), importing the reference by its name');
is_deeply([ $file->{messages}, $file->{enums}, $file->{nested}{Shipment} ],
	[ [ 'Order', 'Shipment' ], ['Status'], [ 'AttrsEntry', 'Parcel' ] ],
	'its messages, enums and nested messages');
is_deeply($file->{fields}{Order},
	[ [ 'id', 1, '' ], [ 'name', 2, '' ], [ 'total', 3, '.shop.common.Money' ],
	  [ 'at', 4, '.google.protobuf.Timestamp' ], [ 'tags', 5, '' ] ],
	'its fields, with types resolved through the reference');
($status, $answer) = call('GET', "/schemas/ids/$common_id?format=serialized");
($ok, $out, $err) = run_cmd([ $python, '-c', $describe, $answer->{schema} ]);
$file = decode_json($out || '{}');
is_deeply([ $file->{name}, $file->{package}, $file->{messages}, $file->{dependency} ],
	[ 'default', 'shop.common', ['Money'], [] ],
	'a referenced schema serialized alone is named "default" too');

($status, $answer) = call('GET', "/schemas/ids/$order_id/versions");
is_deeply($answer,
	[ { subject => 'pb_fx-value', version => 1 }, { subject => 'pb_other-value', version => 1 } ],
	'the subject versions of an id');
($status, $answer) = call('GET', '/subjects/common.proto/versions/1/referencedby');
is_deeply($answer, [$order_id], 'the schemas referring to a subject version');
($status, $answer) = call('GET', "/schemas/ids/$order_id/schema");
is($answer, $proto{'order.proto'}, 'the schema text alone');

# Avro and JSON schemas beside them
($status, $answer) = call('POST', '/subjects/pb_avro-value/versions',
	{ schema => '{"type": "string"}' });
my $avro_id = $answer->{id};
($status, $answer) = call('GET', "/schemas/ids/$avro_id?format=serialized");
is_deeply($answer, { schema => '{"type": "string"}' },
	'an Avro schema: no schemaType, no references, any format as registered');
($status, $answer) = call('POST', '/subjects/pb_json-value/versions',
	{ schemaType => 'JSON', schema => '{"type": "string"}' });
isnt($answer->{id}, $avro_id, 'the same text as a JSON schema is another schema');
($status, $answer) = call('GET', "/schemas/ids/$answer->{id}");
is_deeply($answer, { schemaType => 'JSON', schema => '{"type": "string"}' },
	'a JSON schema says its schemaType');
($status, $answer) = call('GET', '/subjects');
is_deeply($answer,
	[ 'common.proto', 'pb_avro-value', 'pb_fx-value', 'pb_json-value', 'pb_other-value' ],
	'every subject is listed');

# what Confluent refuses
($status, $answer) = call('POST', '/subjects/pb_bad-value/versions',
	{ schemaType => 'PROTOBUF', schema => $proto{'bad.proto'} });
is_deeply([ $status, $answer->{error_code} ], [ 422, 42201 ],
	'a .proto that does not compile: 422, error 42201');
like($answer->{message}, qr/Expected ";"/, 'with protoc\'s message');
($status, $answer) = call('POST', '/subjects/pb_bad-value/versions',
	{ schemaType => 'PROTOBUF', schema => $proto{'order.proto'} });
is_deeply([ $status, $answer->{error_code} ], [ 422, 42201 ],
	'an import without its reference: 422, error 42201');
($status, $answer) = call('POST', '/subjects/pb_bad-value/versions',
	{ schemaType => 'PROTOBUF', schema => $proto{'order.proto'},
	  references => [ { name => 'common.proto', subject => 'common.proto', version => 2 } ] });
is_deeply([ $status, $answer->{error_code} ], [ 422, 42201 ],
	'a reference to a version that does not exist: 422, error 42201');
($status, $answer) = call('POST', '/subjects/pb_bad-value/versions',
	{ schemaType => 'XML', schema => '<a/>' });
is_deeply([ $status, $answer->{error_code} ], [ 422, 42201 ], 'an unknown schemaType: 422');
($status, $answer) = call('GET', '/subjects/pb_bad-value/versions');
is($status, 404, 'nothing refused was registered');

###########################################################################
# confluent_protobuf.py: Confluent framing with message indexes [0], [1],
# [1,0], read back by an independent consumer.
my @records = (
	'{"message": "shop.Order", "key": "o1", "value": {"id": "42", "name": "first order",'
	  . ' "total": {"units": "1999", "currency": "EUR"}, "at": "2024-01-01T00:00:00Z",'
	  . ' "tags": ["a", "b"]}}',
	'{"message": "shop.Shipment", "value": {"attrs": {"x": "7"}, "carrier": "post",'
	  . ' "parcels": [{"weight": 3, "status": "SENT"}]}}',
	'{"message": "shop.Shipment.Parcel", "value": {"weight": 12, "status": "SENT"}}',
	'{"key": "gone", "value": null}');
my @proto_args = ('--proto', "$dir/order.proto", '--proto', "$dir/common.proto");
($ok, $out, $err) = run_cmd([ $python, $producer, @proto_args, '--produce', '--envelope',
		'--bootstrap', $bs, '--topic', 'pb_fx', '--registry', $url, '--user', 'sr-user',
		'--password', 'sr-pb-pw', map { ('--json', $_) } @records ]);
ok($ok, 'confluent_protobuf.py produced through the registry') or diag($err);
my $produced = decode_json((grep { /^\{/ } split /\n/, $out)[-1] // '{}');
is($produced->{schema_ids}{value}, $order_id,
	'it registered the same schema, so it got the same id');
is(scalar(@{ $produced->{records} // [] }), 4, 'four records');

my $consume = q{
import json, sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic = sys.argv[1], sys.argv[2]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "pb_fixture_check",
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
    print(json.dumps([m.offset(), m.key().decode() if m.key() is not None else None,
                      m.value().hex() if m.value() is not None else None]))
c.close()
};
($ok, $out, $err) = run_cmd([ $python, '-c', $consume, $bs, 'pb_fx' ]);
ok($ok, 'an independent consumer read pb_fx') or diag($err);
my @read = map { decode_json($_) } grep { /^\[/ } split /\n/, $out;
is(scalar(@read), 4, 'it read four records');
my $header = sprintf('00%08x', $order_id);
my @prefix = ("${header}00", "${header}0202", "${header}040200");
for my $i (0 .. 2)
{
	is(substr($read[$i][2] // '', 0, length($prefix[$i])), $prefix[$i],
		"record $i: magic byte 0, schema id $order_id, indexes "
		  . ('[0] as the single byte 0', '[1] as 02 02', '[1,0] as 04 02 00')[$i]);
	is($read[$i][2], $produced->{records}[$i][2], "record $i: the bytes the producer reported");
}
is_deeply([ $read[0][1], $read[3][1], $read[3][2] ], [ 'o1', 'gone', undef ],
	'keys as text; a null value is a tombstone');

# protoc decodes what follows the framing
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
is(protoc_decode('shop.Order', substr($read[0][2], length($prefix[0]))),
	'id: 42 name: "first order" total { units: 1999 currency: EUR } at { seconds: 1704067200 } tags: "a" tags: "b"',
	'record 0 decoded by protoc as shop.Order');
is(protoc_decode('shop.Shipment', substr($read[1][2], length($prefix[1]))),
	'attrs { key: "x" value: 7 } parcels { weight: 3 status: SENT } carrier: "post"',
	'record 1 decoded by protoc as shop.Shipment');
is(protoc_decode('shop.Shipment.Parcel', substr($read[2][2], length($prefix[2]))),
	'weight: 12 status: SENT', 'record 2 decoded by protoc as shop.Shipment.Parcel');

# the hex mode prints the same bytes, given the id
($ok, $out, $err) = run_cmd([ $python, $producer, @proto_args, '--encode', '--envelope',
		'--schema-id', $order_id, map { ('--json', $_) } @records[0 .. 2] ]);
is_deeply([ split /\n/, $out ], [ map { $_->[2] } @read[0 .. 2] ],
	'--encode --schema-id prints the produced payloads as hex') or diag($err);
($ok, $out, $err) = run_cmd([ $python, $producer, @proto_args, '--encode',
		'--schema-id', 300, '--message', 'shop.Shipment.Parcel', '--indexes', '5,1,0',
		'--json', '{"weight": 1}' ]);
is($out, "000000012c" . "06" . "0a0200" . "0801\n", '--indexes writes the indexes it is given');

# plain (no framing) to pb_plain, checked against protoc --encode
($ok, $out, $err) = run_cmd([ $python, $producer, @proto_args, '--produce',
		'--bootstrap', $bs, '--topic', 'pb_plain', '--message', 'shop.Shipment.Parcel',
		'--json', '{"weight": 300, "status": "SENT"}' ]);
ok($ok, 'a plain message produced') or diag($err);
($ok, $out, $err) = run_cmd([ $python, '-c', $consume, $bs, 'pb_plain' ]);
my ($plain) = map { decode_json($_) } grep { /^\[/ } split /\n/, $out;
my ($text, $expected, $stderr) = ("weight: 300 status: SENT\n", '', '');
IPC::Run::run([ 'protoc', "-I$dir", '--encode=shop.Shipment.Parcel', "$dir/order.proto" ],
	'<', \$text, '>', \$expected, '2>', \$stderr)
  or diag("protoc --encode: $stderr");
is($plain->[2], unpack('H*', $expected),
	'a plain message is the bytes alone, as protoc --encode writes them');

# a Protobuf key: the file defining its message is registered under
# <topic>-key (here common.proto, already registered: the same id)
($ok, $out, $err) = run_cmd([ $python, $producer, @proto_args, '--produce', '--envelope',
		'--bootstrap', $bs, '--topic', 'pb_keys', '--registry', $url, '--user', 'sr-user',
		'--password', 'sr-pb-pw', '--key-message', 'shop.common.Money',
		'--json', '{"key": {"units": 5, "currency": "USD"}, "value_hex": "00ff"}' ]);
ok($ok, 'a record with a Protobuf key produced') or diag($err);
$produced = decode_json((grep { /^\{/ } split /\n/, $out)[-1] // '{}');
is($produced->{schema_ids}{key}, $common_id, 'the key schema is common.proto');
my $keys_script = $consume =~ s/m\.key\(\)\.decode\(\)/m.key().hex()/r;
($ok, $out, $err) = run_cmd([ $python, '-c', $keys_script, $bs, 'pb_keys' ]);
my ($keyed) = map { decode_json($_) } grep { /^\[/ } split /\n/, $out;
is_deeply([ $keyed->[1], $keyed->[2] ],
	[ sprintf('00%08x', $common_id) . '00' . '08051002', '00ff' ],
	'the key framed with index [0] of common.proto; value_hex sent as it is');
($status, $answer) = call('GET', '/subjects/pb_keys-key/versions/1');
is($answer->{id}, $common_id, 'registered under pb_keys-key');

# the descriptor set for a file or bytea descriptor
my $desc = "$dir/order.desc";
($ok, $out, $err) = run_cmd([ $python, $producer, @proto_args, '--descriptor-out', $desc ]);
ok($ok && -s $desc, '--descriptor-out wrote a descriptor set') or diag($err);
($ok, $out, $err) = run_cmd([ $python, '-c', q{
import sys
from google.protobuf import descriptor_pb2
s = descriptor_pb2.FileDescriptorSet()
s.ParseFromString(open(sys.argv[1], "rb").read())
print(",".join(sorted(f.name for f in s.file)))
}, $desc ]);
is($out, "common.proto,google/protobuf/timestamp.proto,order.proto\n",
	'with every import included');
($ok, $out, $err) = run_cmd([ $python, $producer, @proto_args, '--descriptor-hex' ]);
chomp $out;
is($out, unpack('H*', slurp_file($desc)), '--descriptor-hex prints the same set as hex');

done_testing();
