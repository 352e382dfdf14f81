# A stream into a kafka foreign table of format 'avro' through the Schema
# Registry: JSON orders enriched with a dimension table are produced as
# Confluent-framed Avro, the writer schema registered under
# <topic>-value, and read back by an independent decoder (the Apache Avro
# Python library, test/fixtures/produce_avro.py --decode, which reads one
# partition) record for record.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $broker = start_broker(brokers => 1, topics => [ 'orders_json:2', 'orders_avro:1' ]);
my $registry = start_schema_registry();
my $bs = $broker->bootstrap;
my $url = $registry->url;
my $node = new_node('kafka_avro', broker => $broker, schema_registry => $registry);

kcat_produce_keyed($bs, 'orders_json',
	[ map { sprintf(q(o%d|{"id":%d,"customer":%d,"amount":%d.25}), $_, $_, 1 + $_ % 3, $_) } 1 .. 400 ]);
my ($out, $err);

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE TABLE customers (customer int PRIMARY KEY, name text);
	INSERT INTO customers VALUES (1, 'ada'), (2, 'bob'), (3, 'cy');
	CREATE FOREIGN TABLE orders_json (id int, customer int, amount numeric(10,2),
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'orders_json', format 'json');
	CREATE FOREIGN TABLE orders_avro (id int OPTIONS (kafka 'key'), customer_name text,
		amount numeric(10,2), at timestamptz)
	  SERVER k OPTIONS (topic 'orders_avro', format 'avro', key_format 'avro');
	SELECT kafka.create_streaming_table('orders_avro', source => 'orders_json',
	  trigger => 'available_now', max_offsets_per_trigger => 150,
	  transform => 'SELECT o.id, c.name AS customer_name, o.amount,
	                       timestamptz ''2026-01-01 00:00:00+00'' + o.id * interval ''1 minute'' AS at,
	                       o._partition, o._offset
	                  FROM batch o JOIN customers c USING (customer)');
	CALL kafka.refresh_streaming_table('orders_avro');});

my ($ok, $decoded, $derr) = run_cmd([ $ENV{KT_PYTHON} // '/usr/bin/python3',
	"$srcdir/test/fixtures/produce_avro.py", '--decode', '--bootstrap', $bs,
	'--registry', $url, '--topic', 'orders_avro' ]);
ok($ok, 'the independent decoder reads the topic') or diag($derr);
my @values = map { decode_json($_) } grep { /^\{/ } split /\n/, $decoded;
is(scalar(@values), 400, 'one Avro record per input record');
is(scalar(grep { exists $_->{error} } @values), 0, 'every record decodes with its writer schema');
my %by_id = map { $_->{id} => $_ } grep { defined $_->{id} } @values;
is(scalar(keys %by_id), 0, 'the key column is not in the value');
my @names = sort map { $_->{customer_name} } @values;
is(scalar(grep { $_ eq 'ada' } @names) . ' ' . scalar(grep { $_ eq 'bob' } @names) . ' '
	. scalar(grep { $_ eq 'cy' } @names), '133 134 133', 'enriched with the dimension');

# the rows read back through the same table's Avro decoder equal the input
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM orders_avro a JOIN orders_json j USING (id)
	 WHERE a.amount = j.amount
	   AND a.customer_name = (SELECT name FROM customers c WHERE c.customer = j.customer)
	   AND a.at = timestamptz '2026-01-01 00:00:00+00' + j.id * interval '1 minute'}),
	'400', 'read back as Avro, every row equals its input row');
my @requests = $registry->requests;
ok((grep { m{^POST /subjects/orders_avro-value/versions 200$} } @requests), 'the value schema registered');
ok((grep { m{^POST /subjects/orders_avro-key/versions 200$} } @requests), 'and the key schema');

($ok, $out, $err) = run_cmd([ 'kcat', '-C', '-b', $bs, '-t', 'orders_avro', '-e', '-q',
	'-o', 'beginning', '-f', '%h\n' ]);
my %sources = map { m{kafka_fdw\.source=(orders_json/\d+/\d+)} ? ($1 => 1) : () } split /\n/, $out;
is(scalar(keys %sources), 400, 'each record names its input record');

done_testing();
