# Hostile records in streams: one record nested 50,000 deep (JSON, and Avro
# through a recursive schema) among good ones is that record's error.  A
# dead_letter stream dead-letters it with "nested too deeply", ingests every
# other record and keeps running; nothing raises "stack depth limit
# exceeded" and the stream never backs off.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('hostile', broker => $broker);

$broker->create_topic('hostile_json', 1);
$broker->create_topic('hostile_avro', 1);

my $node_schema = '{"type": "record", "name": "Node", "fields": ['
  . '{"name": "id", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]}';

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	-- producing sides: payloads as they are
	CREATE FOREIGN TABLE json_out (v text, p int OPTIONS (kafka 'partition'))
	  SERVER k OPTIONS (topic 'hostile_json', format 'text');
	CREATE FOREIGN TABLE avro_out (v bytea, p int OPTIONS (kafka 'partition'))
	  SERVER k OPTIONS (topic 'hostile_avro', format 'raw');
	-- the streams' sources
	CREATE FOREIGN TABLE json_topic (id int, a jsonb,
		_offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'hostile_json', format 'json');
	CREATE FOREIGN TABLE avro_topic (id int, next jsonb,
		_offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'hostile_avro', format 'avro', avro_schema '$node_schema');
	CREATE TABLE json_target (id int, a jsonb, _offset bigint);
	CREATE TABLE avro_target (id int, next jsonb, _offset bigint);
	CREATE TABLE json_refreshed (id int, a jsonb, _offset bigint);
});

# good records $from..$to, with the hostile one (id 0) after $hostile_after
sub produce_json
{
	my ($from, $to, $hostile_after) = @_;
	my @values;
	for my $i ($from .. $to)
	{
		push @values, qq{('{"id": $i, "a": [$i]}', 0)};
		push @values, q{('{"id": 0, "a": ' || repeat('[', 50000) || repeat(']', 50000) || '}', 0)}
		  if defined $hostile_after && $i == $hostile_after;
	}
	# one statement per record: the messages keep this order in the partition
	$node->safe_psql('postgres', join('', map { "INSERT INTO json_out VALUES $_;\n" } @values));
}

# Avro linked list: id $i, then one "next" node (id 1) or 50,000 of them
sub produce_avro
{
	my ($from, $to, $hostile_after) = @_;
	my $sql = '';
	for my $i ($from .. $to)
	{
		my $zigzag = sprintf('%02x', 2 * $i);
		$sql .= "INSERT INTO avro_out VALUES (decode('${zigzag}020200', 'hex'), 0);\n";
		$sql .= "INSERT INTO avro_out VALUES (decode('00' || repeat('0202', 50000) || '00', 'hex'), 0);\n"
		  if defined $hostile_after && $i == $hostile_after;
	}
	$node->safe_psql('postgres', $sql);
}

# wait until $sql returns $expected (polls; the suite asserts values, not time)
sub wait_for { return wait_for_value($node, 'postgres', @_, 60); }

# --- a refresh (available_now) with dead_letter
produce_json(1, 10, 5);
produce_avro(1, 10, 5);
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('json_refreshed', source => 'json_topic',
	  trigger => 'available_now', on_error => 'dead_letter');});
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('json_refreshed')}),
	qr/10 rows from 11 records in 1 batches, 1 dead letters/, 'refresh: the deep record is one dead letter');
is($node->safe_psql('postgres', q{SELECT count(*), sum(id), max(_offset) FROM json_refreshed}),
	'10|55|10', 'refresh: every other record ingested');
like($node->safe_psql('postgres', q{SELECT "offset" || ' ' || error FROM kafka.dead_letters WHERE stream = 'json_refreshed'::regclass}),
	qr/^5 .*nested too deeply \(more than 1000 levels\)/, 'refresh: dead letter says nested too deeply');

# --- continuous streams with dead_letter, JSON and Avro
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('json_target', source => 'json_topic',
	  on_error => 'dead_letter');
	SELECT kafka.create_streaming_table('avro_target', source => 'avro_topic',
	  on_error => 'dead_letter');});
ok(wait_for(q{SELECT count(*), sum(id) FROM json_target}, '10|55', 'json stream'),
	'json stream: every good record ingested');
ok(wait_for(q{SELECT count(*), sum(id) FROM avro_target}, '10|55', 'avro stream'),
	'avro stream: every good record ingested');
is($node->safe_psql('postgres', q{SELECT next->>'id' FROM avro_target WHERE id = 3}), '1',
	'avro stream: the nested value as jsonb');
like($node->safe_psql('postgres', q{SELECT "offset" || ' ' || error FROM kafka.dead_letters WHERE stream = 'json_target'::regclass}),
	qr/^5 .*invalid JSON payload at byte offset \d+: nested too deeply \(more than 1000 levels\)/,
	'json stream: the deep record dead-lettered as nested too deeply');
like($node->safe_psql('postgres', q{SELECT "offset" || ' ' || error FROM kafka.dead_letters WHERE stream = 'avro_target'::regclass}),
	qr/^5 .*Avro value nested too deeply \(more than 1000 levels\)/,
	'avro stream: the deep record dead-lettered as nested too deeply');

# the streams keep running: later records, another deep one among them
produce_json(11, 20, 15);
produce_avro(11, 20, 15);
ok(wait_for(q{SELECT count(*), sum(id) FROM json_target}, '20|210', 'json stream later'),
	'json stream keeps running after a deep record');
ok(wait_for(q{SELECT count(*), sum(id) FROM avro_target}, '20|210', 'avro stream later'),
	'avro stream keeps running after a deep record');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters WHERE stream IN ('json_target'::regclass, 'avro_target'::regclass)}),
	'4', 'two dead letters per stream');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT state, ',') FROM kafka.streaming_tables WHERE target IN ('json_target'::regclass, 'avro_target'::regclass)}),
	'active', 'both streams still active');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.stream_progress WHERE stream IN ('json_target'::regclass, 'avro_target'::regclass) AND (state LIKE 'backoff%' OR state = 'failed' OR last_error IS NOT NULL)}),
	'0', 'no stream backs off or reports an error');
is($node->safe_psql('postgres', q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream IN ('json_target'::regclass, 'avro_target'::regclass)}),
	'44', 'offsets past every record');

my $log = slurp_file($node->logfile);
unlike($log, qr/stack depth limit exceeded/, 'no stack depth error in the server log');
unlike($log, qr/terminated by signal/, 'no backend crashed');

$node->stop;
done_testing();
