# A streaming-table worker exits when the postmaster dies, even while it
# waits on Kafka (the broker is down, so no record will ever wake it).

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('pmdeath', broker => $broker);
$broker->create_topic('pm', 1);
produce(broker => $broker, topic => 'pm', count => 10, json => 1);

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE pm_topic (event_id bigint, _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'pm', format 'json');
	CREATE TABLE pm (event_id bigint, _offset bigint);
	SELECT kafka.create_streaming_table('pm', source => 'pm_topic');
});
my $pid;
for (1 .. 600)
{
	$pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'});
	last if $pid && $node->safe_psql('postgres', 'SELECT count(*) FROM pm') eq '10';
	usleep(100_000);
}
ok($pid, 'worker running');
$broker->ctl('broker_down all');
sleep 1;

my $postmaster = $node->{_pid};
kill 'KILL', $postmaster;
my $gone = 0;
for (1 .. 300)
{
	if (!kill(0, $pid))
	{
		$gone = 1;
		last;
	}
	usleep(100_000);
}
ok($gone, 'the worker exited after the postmaster died');

# start the node again (its children must all be gone first)
$broker->ctl('broker_up all');
unlink($node->data_dir . '/postmaster.pid');
$node->{_pid} = undef;
my $started = 0;
for (1 .. 50)
{
	last if ($started = $node->start(fail_ok => 1));
	usleep(200_000);
}
ok($started, 'node restarts');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pm'), '10', 'restarted, rows intact');

done_testing();
