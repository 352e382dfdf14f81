# Streaming-table workers and DROP: DROP EXTENSION rolled back (the workers
# come back and carry on exactly once) and committed (they stop, nothing
# hangs), DROP DATABASE with a running stream.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('drop', broker => $broker, init => { allows_streaming => 1 });
$broker->create_topic('drops', 2);

my $setup = qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE drops_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'drops', format 'json');
	CREATE TABLE drops (event_id bigint, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('drops', source => 'drops_topic', max_offsets_per_trigger => 2000);
};
$node->safe_psql('postgres', $setup);

sub wait_for { return wait_for_value($node, @_, 120); }

my $workers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'};
my $produced = 0;
sub produce_more
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'drops', count => $n, start => $produced, json => 1, partitions => 2);
	$produced += $n;
}

produce_more(20000);
ok(wait_for('postgres', 'SELECT count(*) FROM drops', '20000', 'initial'), 'stream running');
ok(wait_for('postgres', $workers, '1', 'worker'), 'one worker');

# the launcher terminated: it comes back, adopts the running worker, starts no second one
my $launcher = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream launcher'};
my $launcher_pid = $node->safe_psql('postgres', $launcher);
ok($launcher_pid, 'launcher running');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher_pid)");
my $new_launcher = '';
for (1 .. 300)
{
	$new_launcher = $node->safe_psql('postgres', $launcher);
	last if $new_launcher ne '' && $new_launcher ne $launcher_pid;
	usleep(100_000);
}
isnt($new_launcher, $launcher_pid, 'launcher restarted after pg_terminate_backend');
produce_more(5000);
ok(wait_for('postgres', 'SELECT count(*), count(DISTINCT (_partition, _offset)) FROM drops', "$produced|$produced", 'after launcher restart'),
	'stream carries on');
sleep 2;
is($node->safe_psql('postgres', $workers), '1', 'still one worker for the stream');

# a streaming replica runs no stream (the launcher waits for promotion)
$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;
produce_more(1000);
ok(wait_for('postgres', 'SELECT count(*) FROM drops', "$produced", 'primary goes on'), 'primary ingests');
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM drops'), "$produced", 'replica has the rows');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'kafka_fdw stream%'}),
	'0', 'no launcher and no stream worker on the standby');
$standby->stop;

# rolled back: the worker stops for the drop, then comes back
produce_more(50000);
my ($ret, $out, $err) = $node->psql('postgres', q{BEGIN; DROP EXTENSION kafka_fdw CASCADE; ROLLBACK;});
is($ret, 0, 'DROP EXTENSION with a running worker, rolled back');
ok(wait_for('postgres', 'SELECT count(*), count(DISTINCT (_partition, _offset)) FROM drops', "$produced|$produced", 'after rollback'),
	'worker back after the rollback: every record exactly once');
ok(wait_for('postgres', $workers, '1', 'worker back'), 'worker running again');

# committed: the workers stop and stay stopped
produce_more(30000);
($ret, $out, $err) = $node->psql('postgres', q{DROP EXTENSION kafka_fdw CASCADE});
is($ret, 0, 'DROP EXTENSION with a running worker') or diag($err);
ok(wait_for('postgres', $workers, '0', 'dropped'), 'no worker after DROP EXTENSION');
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM drops');
sleep 2;
is($node->safe_psql('postgres', $workers), '0', 'no worker restarted');
is($node->safe_psql('postgres', 'SELECT count(*) FROM drops'), $rows, 'nothing written after the drop');
is($node->safe_psql('postgres', 'SELECT count(*) - count(DISTINCT (_partition, _offset)) FROM drops'), '0',
	'no duplicates');

# DROP DATABASE with a running stream
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION kafka_fdw');
$node->safe_psql('other', $setup);
ok(wait_for('other', 'SELECT count(*) > 0 FROM drops', 't', 'other db'), 'stream in a second database');
ok(wait_for('postgres', $workers, '1', 'other worker'), 'its worker runs');
($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE other');
is($ret, 0, 'DROP DATABASE with a running stream') or diag($err);
ok(wait_for('postgres', $workers, '0', 'db dropped'), 'no worker after DROP DATABASE');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'other'}), '0', 'database gone');

done_testing();
