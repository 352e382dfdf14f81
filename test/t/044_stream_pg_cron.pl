# A streaming table refreshed by the real pg_cron extension: a scheduled
# CALL kafka.refresh_streaming_table(...) loads new messages with nobody
# calling it.  The pg_cron available here (1.4) schedules by the minute (the
# '5 seconds' syntax needs 1.5), so this test waits for up to two runs.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('cron', broker => $broker, conf => join("\n",
	"shared_preload_libraries = 'kafka_fdw,pg_cron'",
	"cron.database_name = 'postgres'",
	"cron.use_background_workers = on"));
$broker->create_topic('orders', 2);

$node->safe_psql('postgres', qq{
	CREATE EXTENSION pg_cron;
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE orders_topic (event_id bigint, type text, amount numeric,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'orders', format 'json');
	CREATE TABLE orders (event_id bigint, type text, amount numeric, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('public.orders', source => 'orders_topic',
	  trigger => 'available_now', max_offsets_per_trigger => 1000);
	SELECT cron.schedule('refresh-orders', '* * * * *',
	  \$\$CALL kafka.refresh_streaming_table('public.orders')\$\$);
});

sub wait_for { return wait_for_value($node, 'postgres', @_, 150); }

produce(broker => $broker, topic => 'orders', count => 2500, json => 1, partitions => 2);
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM orders', '2500|2500', 'first run'),
	'a scheduled refresh loaded the messages');
produce(broker => $broker, topic => 'orders', count => 500, start => 2500, json => 1, partitions => 2);
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM orders', '3000|3000', 'second run'),
	'the next scheduled refresh loaded the new messages');
# the run that loaded them commits before it returns: wait for it to end
ok(wait_for(q{SELECT count(*) FROM cron.job_run_details WHERE status IN ('starting', 'running')}, '0',
	'runs ended'), 'no run in progress');
like($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT status, ',') FROM cron.job_run_details}),
	qr/^succeeded$/, 'pg_cron recorded successful runs');
like($node->safe_psql('postgres', q{SELECT return_message FROM cron.job_run_details ORDER BY runid LIMIT 1}),
	qr/CALL|refreshed/, 'run details');
is($node->safe_psql('postgres', q{SELECT sum(lag) FROM kafka.stream_progress}), '0', 'no lag');

done_testing();
