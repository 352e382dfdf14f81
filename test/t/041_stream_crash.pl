# Streaming tables under crashes and faults: a worker SIGKILLed mid-batch
# several times (the postmaster restarts the cluster), pg_ctl restart -m
# immediate during ingest, the broker down and back up, SIGTERM, refreshes
# racing each other and the worker.  After each, every record is in the
# target exactly once: count(*) = produced and (_partition, _offset) unique.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('crash', broker => $broker, conf => "restart_after_crash = on");

$broker->create_topic('crash', 3);
$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE crash_topic (event_id bigint, user_id int, type text, amount numeric,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'crash', format 'json');
	CREATE TABLE crash (event_id bigint, type text, _partition int, _offset bigint);
	CREATE UNIQUE INDEX ON crash (_partition, _offset);
});

sub query { return query_retrying($node, @_); }
sub wait_for { return wait_for_value($node, 'postgres', @_, 120); }

sub worker_pid { return stream_worker_pid($node, 'crash'); }

my $produced = 0;
sub produce_more
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'crash', count => $n, start => $produced,
		json => 1, partitions => 3, compression => 'lz4');
	$produced += $n;
}

produce_more(60000);
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('crash', source => 'crash_topic',
	  max_offsets_per_trigger => 1000);});

# --- SIGKILL mid-batch, three times
for my $round (1 .. 3)
{
	my $pid = worker_pid();
	my $before = query('SELECT count(*) FROM crash');
	my $now = $before;

	ok($pid, "round $round: worker running");
	produce_more(40000) if $round > 1;
	# let a few batches commit, then kill while it is working
	for (1 .. 500)
	{
		$now = query('SELECT count(*) FROM crash');
		last if $now > $before + 1000;
		usleep(10_000);
	}
	kill 'KILL', $pid;
	note "round $round: killed worker $pid with $now of $produced records loaded";
	# the postmaster restarts the cluster; the launcher restarts the stream
	usleep(500_000);
	query('SELECT 1');
}
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM crash',
	"$produced|$produced", 'after SIGKILL'), 'SIGKILLed worker: every record exactly once');

# --- pg_ctl restart -m immediate during ingest
produce_more(30000);
for (1 .. 200)
{
	last if query('SELECT count(*) FROM crash') > $produced - 29000;
	usleep(20_000);
}
$node->stop('immediate');
$node->start;
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM crash',
	"$produced|$produced", 'after immediate restart'), 'immediate restart: every record exactly once');
ok(worker_pid(), 'launcher restarted the worker after the restart');

# --- broker down and back up during ingest
produce_more(20000);
$broker->ctl('broker_down all');
sleep 3;
my $pid = worker_pid();
ok($pid, 'worker keeps running while the broker is down');
$broker->ctl('broker_up all');
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM crash',
	"$produced|$produced", 'after broker outage'), 'broker outage: every record exactly once');

# --- SIGTERM with the broker down: the worker stops promptly
$broker->ctl('broker_down all');
$pid = worker_pid();
my $start = time;
query("SELECT pg_terminate_backend($pid)");
ok(wait_for("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid", '0', 'sigterm'),
	'worker exits on SIGTERM while the broker is down');
note sprintf('worker exited %.2f s after SIGTERM', time - $start);
$broker->ctl('broker_up all');
produce_more(1000);
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM crash',
	"$produced|$produced", 'after sigterm'), 'terminated worker restarted, nothing lost');

# --- refreshes racing each other and the worker
$broker->create_topic('race', 2);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE race_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'race', format 'json');
	CREATE TABLE race (event_id bigint, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('race', source => 'race_topic',
	  trigger => 'available_now', max_offsets_per_trigger => 500);});
produce(broker => $broker, topic => 'race', count => 20000, json => 1, partitions => 2);
my @runs;
for (1 .. 3)
{
	push @runs, [ start_psql($node, q{CALL kafka.refresh_streaming_table('race')}) ];
}
# and one inside a transaction block (transaction-level lock)
my $in_block = $node->psql('postgres', q{BEGIN; CALL kafka.refresh_streaming_table('race'); COMMIT;});
$_->[0]->finish foreach @runs;
my $loaded = query('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM race');
my @busy = grep { ${ $_->[2] } =~ /being loaded/ } @runs;
note scalar(@busy) . ' of 3 concurrent refreshes returned at once';
$node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('race')});
is(query('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM race'), '20000|20000',
	'racing refreshes: every record exactly once');

# a refresh of the continuous stream returns at once while its worker runs
like(query(q{CALL kafka.refresh_streaming_table('crash')}), qr/being loaded by its worker/,
	'refresh never overlaps the worker');
is(query('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM crash'), "$produced|$produced",
	'final: every record exactly once');
like(query(q{SELECT string_agg(DISTINCT state, ',') FROM kafka.stream_progress WHERE stream = 'crash'::regclass}),
	qr/^(waiting for records|running|starting)$/, 'progress shows the worker');
is(query(q{SELECT sum(lag) FROM kafka.stream_progress WHERE stream = 'crash'::regclass}), '0', 'no lag left');

done_testing();
