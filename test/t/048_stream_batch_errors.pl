# Errors of a batch are not blamed on its records: a transform whose joined
# table was dropped fails as a statement, so under on_error 'skip' and
# 'dead_letter' nothing is skipped or dead-lettered, no offset advances and
# the stream stops with the error.  A full broker outage is shown in
# kafka.stream_progress while it lasts, and nothing is lost after it.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('batch_errors', broker => $broker);

$broker->create_topic('d', 2);
$broker->create_topic('outage', 2);

sub wait_for { return wait_for_value($node, 'postgres', @_, 30); }

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE FOREIGN TABLE d_topic (event_id bigint, user_id int, type text, amount numeric,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'd', format 'json');
	CREATE SCHEMA lookups;
	CREATE TABLE lookups.labels (type text PRIMARY KEY, label text);
	INSERT INTO lookups.labels VALUES ('click', 'CLICK'), ('view', 'VIEW');
	CREATE TABLE d_skip (event_id bigint, label text, ratio bigint, _partition int, _offset bigint);
	CREATE TABLE d_dead (LIKE d_skip);
	CREATE TABLE d_refresh (LIKE d_skip);
});
for my $stream (['d_skip', 'skip', 'continuous'], ['d_dead', 'dead_letter', 'continuous'],
	['d_refresh', 'skip', 'available_now'])
{
	$node->safe_psql('postgres', qq{
		SELECT kafka.create_streaming_table('$stream->[0]', source => 'd_topic',
		  on_error => '$stream->[1]', trigger => '$stream->[2]', max_offsets_per_trigger => 20,
		  transform => 'SELECT b.event_id, l.label, 100 / (b.event_id - 7) AS ratio, b._partition, b._offset
		                FROM batch b LEFT JOIN lookups.labels l USING (type)');});
}

# a record's own error (division by zero for event 7) is still the record's
produce(broker => $broker, topic => 'd', count => 50, json => 1, partitions => 2);
ok(wait_for('SELECT count(*) FROM d_skip', '49', 'skip load'), 'skip: the bad record is skipped');
ok(wait_for('SELECT count(*) FROM d_dead', '49', 'dead load'), 'dead_letter: the bad record is set aside');
ok(wait_for(q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'd_dead'::regclass AND "partition" = 1 AND "offset" = 3 AND error LIKE '%division by zero%'},
	'1', 'dead letter'), 'with its error');
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('d_refresh')}),
	qr/49 rows from 50 records in 3 batches, 0 dead letters, 1 skipped/, 'refresh: the bad record is skipped');

# the joined table vanishes: an error of the statement, not of any record
$node->safe_psql('postgres', 'DROP TABLE lookups.labels');
produce(broker => $broker, topic => 'd', count => 50, start => 50, json => 1, partitions => 2);
for my $stream (qw(d_skip d_dead))
{
	ok(wait_for(qq{SELECT state FROM kafka.streaming_tables WHERE target = '$stream'::regclass}, 'failed', "$stream failed"),
		"$stream: the stream stops");
	like($node->safe_psql('postgres', qq{SELECT last_error FROM kafka.streaming_tables WHERE target = '$stream'::regclass}),
		qr/relation "lookups.labels" does not exist/, "$stream: with the error of the batch");
	is($node->safe_psql('postgres', qq{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = '$stream'::regclass}),
		'50', "$stream: no offset advanced");
	is($node->safe_psql('postgres', "SELECT count(*) FROM $stream"), '49', "$stream: no row written");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'd_dead'::regclass}),
	'1', 'no record blamed for the missing table');

# the same in a refresh: it raises the error and the stream is marked failed
my ($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('d_refresh')});
like($err, qr/relation "lookups.labels" does not exist/, 'refresh: the error of the batch is raised');
is($node->safe_psql('postgres', q{
	SELECT state || ' ' || (SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = 'd_refresh'::regclass)
	       || ' ' || (SELECT count(*) FROM d_refresh)
	  FROM kafka.streaming_tables WHERE target = 'd_refresh'::regclass}),
	'failed 50 49', 'refresh: the stream is failed, nothing skipped, written or advanced');

# restored: resumed streams take the records they did not take
$node->safe_psql('postgres', q{
	CREATE TABLE lookups.labels (type text PRIMARY KEY, label text);
	SELECT kafka.resume_streaming_table('d_skip');
	SELECT kafka.resume_streaming_table('d_dead');
	SELECT kafka.resume_streaming_table('d_refresh');});
ok(wait_for('SELECT count(*) FROM d_skip', '99', 'skip resumed'), 'skip: resumed, every record is there');
ok(wait_for('SELECT count(*) FROM d_dead', '99', 'dead resumed'), 'dead_letter: resumed, every record is there');
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('d_refresh')}),
	qr/50 rows from 50 records/, 'refresh: resumed, every record is there');

# --- all brokers down: kafka.stream_progress says so, and nothing is lost
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE outage_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'outage', format 'json');
	CREATE TABLE outage (event_id bigint, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('outage', source => 'outage_topic');});
produce(broker => $broker, topic => 'outage', count => 100, json => 1, partitions => 2);
ok(wait_for('SELECT count(*) FROM outage', '100', 'outage load'), 'the stream loads');
$broker->ctl('broker_down all');
ok(wait_for(q{SELECT DISTINCT state || ': ' || (last_error LIKE 'all brokers down (bootstrap_servers "127.0.0.1:%')::text
	  FROM kafka.stream_progress WHERE stream = 'outage'::regclass}, 'waiting for records: true', 'outage shown'),
	'kafka.stream_progress says that all brokers are down');
note $node->safe_psql('postgres', q{SELECT DISTINCT last_error FROM kafka.stream_progress WHERE stream = 'outage'::regclass});
$broker->ctl('broker_up all');
produce(broker => $broker, topic => 'outage', count => 100, start => 100, json => 1, partitions => 2);
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM outage', '200|200', 'after outage'),
	'after the outage every record is there exactly once');
ok(wait_for(q{SELECT DISTINCT coalesce(last_error, '') FROM kafka.stream_progress WHERE stream = 'outage'::regclass}, '', 'cleared'),
	'and the error is cleared');

unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no process crashed');

done_testing();
