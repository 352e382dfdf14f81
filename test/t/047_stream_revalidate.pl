# A stream worker re-validates what it cached before each batch:
# ALTER FOREIGN TABLE ... SET topic (the running worker reads the new topic)
# and a source column retyped under a running stream with a transform (the
# batch read with the old layout is read again with the new one: every row
# keeps its own values).  Revoked privileges and vanished objects: 049.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('revalidate', broker => $broker);

$broker->create_topic($_, 2) for qw(first second retype);

# wait until $sql returns $expected (polls; the suite asserts values, not time)
sub wait_for { return wait_for_value($node, 'postgres', @_, 30); }

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE FOREIGN TABLE switch_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'first', format 'json');
	CREATE TABLE switched (event_id bigint, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('switched', source => 'switch_topic');
	CREATE FOREIGN TABLE retype_topic (event_id bigint, user_id int, type text, amount numeric,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'retype', format 'json');
	CREATE TABLE retyped (event_id bigint, user_id text, type text, amount numeric,
		_partition int, _offset bigint);
	SELECT kafka.create_streaming_table('retyped', source => 'retype_topic', max_offsets_per_trigger => 50,
	  transform => 'SELECT event_id, user_id::text AS user_id, type, amount, _partition, _offset FROM batch');
});

# --- ALTER FOREIGN TABLE ... SET topic: the running worker reads the new topic
produce(broker => $broker, topic => 'first', count => 200, json => 1, partitions => 2);
ok(wait_for('SELECT count(*) FROM switched', '200', 'first load'), 'the stream loads');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE switch_topic OPTIONS (SET topic 'second')});
produce(broker => $broker, topic => 'second', count => 30, start => 1000, json => 1, partitions => 2);
ok(wait_for('SELECT count(*) FROM switched WHERE event_id >= 1000', '30', 'new topic'),
	'the worker reads the new topic, from its beginning');
produce(broker => $broker, topic => 'first', count => 10, start => 2000, json => 1, partitions => 2);
produce(broker => $broker, topic => 'second', count => 10, start => 1100, json => 1, partitions => 2);
ok(wait_for('SELECT count(*) FROM switched WHERE event_id >= 1000', '40', 'new topic 2'),
	'and keeps reading it');
is($node->safe_psql('postgres', 'SELECT count(*) FROM switched WHERE event_id >= 2000'), '0',
	'the old topic is no longer read');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s', topic, next_offset_sum), ',' ORDER BY topic)
	  FROM (SELECT topic, sum(next_offset) AS next_offset_sum FROM kafka.stream_offsets
	         WHERE stream = 'switched'::regclass GROUP BY topic) o}),
	'first 200,second 40', 'each topic keeps its own offsets');

# --- a source column retyped under the running stream
produce(broker => $broker, topic => 'retype', count => 200, json => 1, partitions => 2);
ok(wait_for('SELECT count(*) FROM retyped', '200', 'retype load'), 'the stream with a transform loads');
$node->safe_psql('postgres', 'ALTER FOREIGN TABLE retype_topic ALTER COLUMN user_id TYPE text');
produce(broker => $broker, topic => 'retype', count => 200, start => 200, json => 1, partitions => 2);
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM retyped', '400|400', 'after retype'),
	'records after the ALTER are loaded exactly once');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM retyped r
	  WHERE r.user_id IS DISTINCT FROM (r.event_id % 97)::text OR r._offset NOT BETWEEN 0 AND 199}),
	'0', 'every row holds its own values (no other layout read into them)');
is($node->safe_psql('postgres', q{
	SELECT (SELECT md5(string_agg(format('%s %s %s %s', event_id, user_id, type, amount), ',' ORDER BY event_id)) FROM retyped) =
	       (SELECT md5(string_agg(format('%s %s %s %s', event_id, user_id, type, amount), ',' ORDER BY event_id)) FROM retype_topic)}),
	't', 'the target reads back as the topic');
is($node->safe_psql('postgres', q{SELECT string_agg(state, ',' ORDER BY target::text) FROM kafka.streaming_tables}),
	'active,active', 'both streams keep running');

unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no process crashed');

done_testing();
