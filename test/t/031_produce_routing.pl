# Routing by a topic column: a kafka foreign table without a topic option
# sends each inserted row to the topic its kafka 'topic' column names.
# Checked with an independent consumer (kcat) and read back through
# per-topic foreign tables: an INSERT ... SELECT routing rows to three topics
# by a CASE expression delivers exactly the right rows to each; a bad topic
# anywhere in a statement produces nothing of it; ROLLBACK TO SAVEPOINT
# drops the rows it undoes whatever their topic; one statement to many
# topics delivers to every one; Avro through the Schema Registry registers
# <topic>-value and <topic>-key for each topic a row goes to.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $broker = start_broker(brokers => 3);
my $bs = $broker->bootstrap;
my $registry = start_schema_registry(user => 'sr-user', password => 'sr-secret-pw');
my $url = $registry->url;
my $node = new_node('routing', broker => $broker, schema_registry => $registry,
	conf => "statement_timeout = '120s'");

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', message_timeout '10', schema_registry_url '$url');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k
	  OPTIONS (schema_registry_user 'sr-user', schema_registry_password 'sr-secret-pw');
});

# Every message of a topic as kcat sees it, one line each, sorted.
sub consume
{
	my ($topic) = @_;
	my ($ok, $out, $err) = run_cmd([ 'kcat', '-C', '-b', $bs, '-t', $topic, '-e', '-q',
		'-o', 'beginning', '-f', "%k %s %h\n" ], 120);
	die "kcat failed: $err" unless $ok;
	return join("\n", sort split /\n/, $out);
}

sub expected_lines
{
	return join("\n", sort map {
		sprintf('o%d {"order_id":%d,"customer":"c%d","amount":%.1f} source=pg',
			$_, $_, $_ % 7, $_ / 2)
	} @_);
}

###########################################################################
# Three topics by a CASE expression in INSERT ... SELECT.
my @topics = qw(route_small route_medium route_large);
create_topic($broker, $_, 3) for @topics;
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE orders_out (
	    order_id int, customer text, amount numeric,
	    _key text OPTIONS (kafka 'key'),
	    _source text OPTIONS (kafka 'header:source'),
	    _topic text OPTIONS (kafka 'topic'))
	  SERVER k OPTIONS (format 'json');
	CREATE TABLE orders AS
	  SELECT i AS order_id, 'c' || (i % 7) AS customer, i * 0.5 AS amount
	  FROM generate_series(1, 3000) i;
	INSERT INTO orders_out
	SELECT order_id, customer, amount, 'o' || order_id, 'pg',
	       CASE WHEN amount < 100 THEN 'route_small'
	            WHEN amount < 1000 THEN 'route_medium'
	            ELSE 'route_large' END
	FROM orders;
});
my %expected = (
	route_small => [ 1 .. 199 ],
	route_medium => [ 200 .. 1999 ],
	route_large => [ 2000 .. 3000 ]);
is(consume($_), expected_lines(@{ $expected{$_} }),
	"kcat reads exactly the rows routed to $_ (" . scalar(@{ $expected{$_} }) . ')')
  for @topics;

$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE small (order_id int, customer text, amount numeric,
	    _key text OPTIONS (kafka 'key'), _topic text OPTIONS (kafka 'topic'))
	  SERVER k OPTIONS (topic 'route_small', format 'json');
	CREATE FOREIGN TABLE medium (order_id int, customer text, amount numeric,
	    _key text OPTIONS (kafka 'key'), _topic text OPTIONS (kafka 'topic'))
	  SERVER k OPTIONS (topic 'route_medium', format 'json');
	CREATE FOREIGN TABLE large (order_id int, customer text, amount numeric,
	    _key text OPTIONS (kafka 'key'), _topic text OPTIONS (kafka 'topic'))
	  SERVER k OPTIONS (topic 'route_large', format 'json');
	CREATE VIEW routed_back AS
	  SELECT * FROM small UNION ALL SELECT * FROM medium UNION ALL SELECT * FROM large;
});
is($node->safe_psql('postgres', q{
	SELECT _topic, count(*), min(order_id), max(order_id), sum(amount)
	FROM routed_back GROUP BY 1 ORDER BY 1}),
	"route_large|1001|2000|3000|1251250.0\n"
	  . "route_medium|1800|200|1999|989550.0\n"
	  . "route_small|199|1|199|9950.0",
	'the per-topic foreign tables read back each topic\'s rows');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM orders o JOIN routed_back r USING (order_id)
	WHERE r.customer = o.customer AND r.amount = o.amount AND r._key = 'o' || o.order_id}),
	'3000', 'every row comes back once, as inserted');

###########################################################################
# A bad topic anywhere in the statement: the INSERT fails naming the column
# and the table, and nothing of it is produced.
my ($ret, $out, $err) = $node->psql('postgres', q{
	INSERT INTO orders_out
	SELECT order_id, customer, amount, 'o' || order_id, 'pg',
	       CASE WHEN order_id = 2500 THEN NULL ELSE 'route_small' END
	FROM orders});
isnt($ret, 0, 'an INSERT ... SELECT with a NULL topic fails');
like($err, qr/ERROR:  null kafka topic in column "_topic" of foreign table "orders_out"/,
	'naming the column and the table');
($ret, $out, $err) = $node->psql('postgres', q{
	INSERT INTO orders_out
	SELECT order_id, customer, amount, 'o' || order_id, 'pg',
	       CASE WHEN order_id = 2500 THEN 'route small' ELSE 'route_medium' END
	FROM orders});
like($err, qr/ERROR:  invalid kafka topic "route small" in column "_topic" of foreign table "orders_out"/,
	'an invalid topic name fails it too');
is(consume($_), expected_lines(@{ $expected{$_} }), "nothing more in $_") for @topics;

###########################################################################
# ROLLBACK TO SAVEPOINT drops the rows it undoes, whatever their topic.
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO orders_out VALUES (9001, 'c4', 1, 'o9001', 'pg', 'route_small');
	SAVEPOINT s;
	INSERT INTO orders_out VALUES (9002, 'c5', 1, 'o9002', 'pg', 'route_medium'),
	                              (9003, 'c6', 1, 'o9003', 'pg', 'route_large');
	ROLLBACK TO s;
	INSERT INTO orders_out VALUES (9004, 'c0', 1, 'o9004', 'pg', 'route_large');
	COMMIT;
});
is($node->safe_psql('postgres', q{
	SELECT _topic, string_agg(order_id::text, ',' ORDER BY order_id)
	FROM routed_back WHERE order_id > 9000 GROUP BY 1 ORDER BY 1}),
	"route_large|9004\nroute_small|9001",
	'only the rows outside the rolled back savepoint are delivered');

###########################################################################
# One statement to many topics (created by the broker on first use).
$node->safe_psql('postgres', q{
	INSERT INTO orders_out (order_id, customer, _key, _topic)
	SELECT order_id, customer, 'o' || order_id, 'route_many_' || (order_id % 300)
	FROM orders});
is($node->safe_psql('postgres', q{
	SELECT count(*), count(DISTINCT topic),
	       count(*) FILTER (WHERE topic = 'route_many_' || (convert_from(value, 'UTF8')::json ->> 'order_id')::int % 300)
	FROM kafka.read_kafka(server => 'k', subscribePattern => 'route_many_.*')}),
	'3000|300|3000', 'every row reaches its own one of 300 topics');

###########################################################################
# Avro through the Schema Registry: the subjects are per topic
# (<topic>-value, <topic>-key), registered when a row first goes there.
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE avro_out (id int, name text, at timestamptz,
	    _key bigint OPTIONS (kafka 'key'), _topic text OPTIONS (kafka 'topic'))
	  SERVER k OPTIONS (format 'avro', key_format 'avro');
	INSERT INTO avro_out
	SELECT i, 'n' || i, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute', i,
	       CASE WHEN i % 2 = 0 THEN 'route_avro_even' ELSE 'route_avro_odd' END
	FROM generate_series(1, 100) i;
	CREATE FOREIGN TABLE avro_even (id int, name text, at timestamptz,
	    _key bigint OPTIONS (kafka 'key'))
	  SERVER k OPTIONS (topic 'route_avro_even', format 'avro', key_format 'avro');
	CREATE FOREIGN TABLE avro_odd (id int, name text, at timestamptz,
	    _key bigint OPTIONS (kafka 'key'))
	  SERVER k OPTIONS (topic 'route_avro_odd', format 'avro', key_format 'avro');
});
my %subjects = map { m{^POST /subjects/([^/ ]+)} ? ($1 => 1) : () } $registry->requests;
is(join(',', sort grep { /^route_/ } keys %subjects),
	'route_avro_even-key,route_avro_even-value,route_avro_odd-key,route_avro_odd-value',
	'the value and key schemas are registered under each topic\'s subjects');
is($node->safe_psql('postgres', q{
	SELECT 'even', count(*), sum(id), bool_and(id % 2 = 0 AND _key = id AND name = 'n' || id
	                                           AND at = timestamptz '2024-01-01 00:00:00+00' + id * interval '1 minute')
	FROM avro_even
	UNION ALL
	SELECT 'odd', count(*), sum(id), bool_and(id % 2 = 1 AND _key = id AND name = 'n' || id
	                                          AND at = timestamptz '2024-01-01 00:00:00+00' + id * interval '1 minute')
	FROM avro_odd}),
	"even|50|2550|t\nodd|50|2500|t", 'each Avro topic reads back its rows');

done_testing();
