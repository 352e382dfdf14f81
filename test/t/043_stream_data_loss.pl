# Offsets that aged out of Kafka before a streaming table ingested them: with
# fail_on_data_loss (the default) the stream stops loudly and advances
# nothing; with fail_on_data_loss => false it skips them and records the lost
# range in kafka.stream_lost_offsets.  The test broker drops a partition's
# oldest segments beyond ~5 MiB.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('loss', broker => $broker);
$broker->create_topic('aged', 1);

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE aged_topic (value text OPTIONS (kafka 'value'),
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'aged', format 'raw');
	CREATE TABLE strict (value text, _partition int, _offset bigint);
	CREATE TABLE lenient (value text, _partition int, _offset bigint);
	CREATE TABLE live (value text, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('strict', source => 'aged_topic', trigger => 'available_now');
	SELECT kafka.create_streaming_table('lenient', source => 'aged_topic', trigger => 'available_now',
	  fail_on_data_loss => false);
	SELECT kafka.create_streaming_table('live', source => 'aged_topic', trigger => '1 second');
	SELECT kafka.pause_streaming_table('live');
});

# 12 MB into one partition: the oldest segments go
produce(broker => $broker, topic => 'aged', count => 12000, value_size => 1000, batch => 500);
my $low = $node->safe_psql('postgres', q{SELECT min("offset") FROM kafka.read_kafka(server => 'k', subscribe => 'aged')});
cmp_ok($low, '>', 0, "retention moved the low watermark to $low");

my ($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('strict')});
like($err, qr/offsets 0 to \d+ of aged\[0\] are no longer available/, 'fail_on_data_loss: refresh fails loudly');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || (SELECT next_offset FROM kafka.stream_offsets WHERE stream = 'strict'::regclass) FROM strict}),
	'0 0', 'nothing ingested, nothing advanced');
like($node->safe_psql('postgres', q{SELECT state || ': ' || last_error FROM kafka.streaming_tables WHERE target = 'strict'::regclass}),
	qr/^failed: offsets 0 to \d+ of aged\[0\] are no longer available/, 'the stream is marked failed');

$node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('lenient')});
is($node->safe_psql('postgres', q{SELECT count(*), min(_offset), max(_offset), count(DISTINCT _offset) FROM lenient}),
	(12000 - $low) . "|$low|11999|" . (12000 - $low), 'skipped the lost records, loaded the rest once');
is($node->safe_psql('postgres', q{SELECT format('%s %s %s %s', topic, "partition", from_offset, to_offset) FROM kafka.stream_lost_offsets WHERE stream = 'lenient'::regclass}),
	"aged 0 0 " . ($low - 1), 'lost range recorded');

# a worker stops the stream and shows why
$node->safe_psql('postgres', q{SELECT kafka.resume_streaming_table('live')});
my $state = '';
for (1 .. 600)
{
	$state = $node->safe_psql('postgres', q{SELECT state FROM kafka.streaming_tables WHERE target = 'live'::regclass});
	last if $state eq 'failed';
	usleep(100_000);
}
is($state, 'failed', 'worker: the stream stops');
like($node->safe_psql('postgres', q{SELECT last_error FROM kafka.stream_progress WHERE stream = 'live'::regclass}),
	qr/no longer available/, 'progress shows the data loss');
is($node->safe_psql('postgres', q{SELECT count(*) FROM live}), '0', 'worker ingested nothing');

done_testing();
