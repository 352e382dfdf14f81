# kafka.alter_streaming_table on a running stream: max_offsets_per_trigger
# (with a SIGKILL of the worker right after), on_error 'fail' -> 'dead_letter'
# while a bad record holds the stream, a transform, and the trigger from
# continuous to an interval to available_now and back.  Every phase ends
# with every record a row (or a dead letter) exactly once: count = produced
# and unique (_partition, _offset).

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('alter', broker => $broker, conf => 'restart_after_crash = on');
$broker->create_topic('alt', 2);

sub query { return query_retrying($node, @_); }
sub wait_for { return wait_for_value($node, 'postgres', @_, 120); }

my $good = 0;
my $bad = 0;
sub produce_good
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'alt', count => $n, start => $good, json => 1, partitions => 2);
	$good += $n;
}
sub produce_bad
{
	open(my $fh, '|-', 'kcat', '-q', '-P', '-b', $bs, '-t', 'alt', '-p', '1') or die "kcat: $!";
	print $fh "not json at all\n";
	close($fh) or die "kcat failed";
	$bad++;
}
sub all_consumed
{
	my ($what) = @_;
	my $total = $good + $bad;
	return wait_for(q{SELECT coalesce(sum(next_offset), 0) FROM kafka.stream_offsets
		WHERE stream = 'alt_events'::regclass}, "$total", $what);
}
sub exactly_once
{
	my ($what) = @_;
	is(query(q{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) FROM alt_events}),
		"$good $good", "$what: every record once");
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE alt_topic (event_id bigint, user_id int,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'alt', format 'json');
	CREATE TABLE alt_events (event_id bigint, user_id int, doubled int,
		_partition int, _offset bigint);
	SELECT kafka.create_streaming_table('alt_events', source => 'alt_topic',
	  maxOffsetsPerTrigger => 1000);
});

produce_good(3000);
ok(all_consumed('first load'), 'the stream loads');
exactly_once('first load');

# --- smaller batches, and a SIGKILL right after the change
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('alt_events', max_offsets_per_trigger => 100)});
# produced while the stream is paused, so that the kill falls a few batches
# into them however fast a continuous stream drains a backlog
$node->safe_psql('postgres', q{SELECT kafka.pause_streaming_table('alt_events')});
for (1 .. 600)
{
	last if query(q{SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'kafka_fdw stream public.alt_events'}) == 0;
	usleep(100_000);
}
produce_good(40000);
$node->safe_psql('postgres', q{SELECT kafka.resume_streaming_table('alt_events')});
my $pid = stream_worker_pid($node, 'alt_events');
my $consumed = 0;
for (1 .. 20000)
{
	$consumed = stream_consumed($node, 'alt_events');
	last if $consumed >= 3500;
	usleep(1_000);
}
kill 'KILL', $pid;
cmp_ok($consumed, '<', $good, "killed the worker mid-stream ($consumed of $good consumed)");
usleep(300_000);
query('SELECT 1');
ok(all_consumed('after the kill'), 'the altered stream consumed everything after a SIGKILL');
exactly_once('batches of 100 across a SIGKILL');
cmp_ok(query(q{SELECT last_batch_records FROM kafka.streaming_tables WHERE target = 'alt_events'::regclass}),
	'<=', 100, 'batches take at most the new max_offsets_per_trigger');

# --- on_error 'fail' holds the stream at a bad record; altered, it goes on
produce_bad();
produce_good(500);
ok(wait_for(q{SELECT state FROM kafka.stream_progress WHERE stream = 'alt_events'::regclass LIMIT 1},
	'failed', 'failed'), "on_error 'fail': the bad record stops the stream");
like(query(q{SELECT last_error FROM kafka.streaming_tables WHERE target = 'alt_events'::regclass}),
	qr/invalid JSON/, 'the error names the record\'s fault');
$node->safe_psql('postgres', q{
	SELECT kafka.alter_streaming_table('alt_events', on_error => 'dead_letter');
	SELECT kafka.resume_streaming_table('alt_events');});
ok(all_consumed('after on_error'), 'with on_error dead_letter the stream goes past it');
exactly_once('on_error altered');
is(query(q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'alt_events'::regclass}), '1',
	'the bad record is a dead letter');

# --- a transform, from the next batch on
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('alt_events',
	transform => 'SELECT event_id, user_id, user_id * 2 AS doubled, _partition, _offset FROM batch')});
my $before = $good;
produce_good(1000);
ok(all_consumed('transform'), 'the stream runs with the transform');
exactly_once('transform added');
is(query(qq{SELECT count(*) FILTER (WHERE doubled = user_id * 2) || ' ' || count(*) FILTER (WHERE doubled IS NULL)
	FROM alt_events WHERE event_id >= $before}), '1000 0', 'rows after the alter went through the transform');

# --- the trigger: an interval, available_now (no worker), continuous again
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('alt_events', trigger => '1 second')});
produce_good(700);
ok(all_consumed('interval'), 'an interval trigger takes over');
exactly_once('interval');
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('alt_events', trigger => 'available_now')});
ok(wait_for(q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kafka_fdw stream public.alt_events'},
	'0', 'worker gone'), 'available_now: the worker leaves');
produce_good(400);
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('alt_events')}),
	qr/400 rows from 400 records/, 'a refresh loads what came meanwhile');
exactly_once('available_now');
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('alt_events', reset => ARRAY['trigger', 'transform'])});
ok(stream_worker_pid($node, 'alt_events'), 'continuous again: a worker runs it');
produce_good(300);
ok(all_consumed('continuous again'), 'and consumes');
exactly_once('continuous again');
is(query(qq{SELECT count(*) FROM alt_events WHERE event_id >= $good - 300 AND doubled IS NOT NULL}), '0',
	'without the transform again');

my $log = slurp_file($node->logfile);
my @crashes = $log =~ /was terminated by signal (\d+)/g;
is(join(',', grep { $_ != 9 } @crashes), '', 'no process crashed but the killed worker');

done_testing();
