# The consumer-group mirror: after each committed batch a stream into a
# table commits its offsets (the catalog's, just committed) to its consumer
# group, asynchronously, so that lag tools see it.  Checked with an
# independent client (confluent-kafka: the group's committed offsets and the
# high watermarks, lag = high - committed):
#   - a continuous stream, an interval stream and a refresh: the group equals
#     the catalog once the stream catches up, and the lag is what waits;
#   - a refresh inside a transaction block leaves the group alone;
#   - a worker SIGKILLed mid-stream (the postmaster restarts): the group
#     catches up, and is never ahead of the catalog at any observation;
#   - group_id given, altered (the new group gets the offsets),
#     commit_offsets_to_group => false (no offsets at all);
#   - streams with a Kafka transaction: what would break it is refused;
#   - a failing group commit (the broker refuses OffsetCommit) is a warning
#     in kafka.stream_progress, the stream keeps ingesting, and the warning
#     clears once commits work again;
#   - kafka.drop_streaming_table leaves the group.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('group_mirror', broker => $broker, conf => "restart_after_crash = on");
my $partitions = 3;
$broker->create_topic($_, $partitions) for qw(m_cont m_int m_ref m_off m_out);

sub query { return query_retrying($node, @_); }

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
});
for my $t (qw(m_cont m_int m_ref m_off))
{
	$node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE ${t}_topic (event_id bigint, type text,
			_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
		  SERVER k OPTIONS (topic '$t', format 'json');});
}

my %produced;
sub produce_to
{
	my ($topic, $n) = @_;
	$produced{$topic} //= 0;
	produce(broker => $broker, topic => $topic, count => $n, start => $produced{$topic},
		json => 1, partitions => $partitions);
	$produced{$topic} += $n;
	return;
}

sub group_state
{
	my ($group, $topic) = @_;
	return consumer_group_offsets($bs, $group, $topic, $partitions);
}

# "partition:offset,..." of the group (none: -1001) and of the catalog
sub group_offsets
{
	my ($group, $topic) = @_;
	return join ',', map { "$_->[0]:$_->[1]" } @{ group_state($group, $topic) };
}

sub catalog_offsets
{
	my ($stream) = @_;
	return query(qq{SELECT string_agg("partition" || ':' || next_offset, ',' ORDER BY "partition")
		FROM kafka.stream_offsets WHERE stream = '$stream'::regclass});
}

sub group_lag
{
	my ($group, $topic) = @_;
	my $lag = 0;
	$lag += $_->[2] - $_->[1] for @{ group_state($group, $topic) };
	return $lag;
}

# Wait until the stream has consumed everything produced to its topic and
# its group holds the catalog's offsets.
sub wait_mirrored
{
	my ($stream, $group, $topic, $what) = @_;
	my ($catalog, $mirror) = ('', '');
	for (1 .. 600)
	{
		if (stream_consumed($node, $stream) == $produced{$topic})
		{
			$catalog = catalog_offsets($stream);
			$mirror = group_offsets($group, $topic);
			return 1 if $mirror eq $catalog;
		}
		usleep(200_000);
	}
	diag("$what: group $mirror, catalog $catalog");
	return 0;
}

# Is the group at or behind the catalog on every partition?  The group is
# read first: the catalog only moves forward here.
sub group_not_ahead
{
	my ($stream, $group, $topic) = @_;
	my %mirror = map { $_->[0] => $_->[1] } @{ group_state($group, $topic) };
	my %catalog = map { split /:/ } split /,/, catalog_offsets($stream);
	for my $p (keys %mirror)
	{
		next if $mirror{$p} < 0;
		if (!defined $catalog{$p} || $mirror{$p} > $catalog{$p})
		{
			diag("group $group ahead on partition $p: $mirror{$p} > " . ($catalog{$p} // 'none'));
			return 0;
		}
	}
	return 1;
}

# --- a continuous stream, its default group
produce_to('m_cont', 3000);
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('m_cont', source => 'm_cont_topic',
	  max_offsets_per_trigger => 200);});
is(query(q{SELECT group_id || ' ' || commit_offsets_to_group FROM kafka.streaming_tables
	WHERE target = 'm_cont'::regclass}), 'kafka_fdw.postgres.public.m_cont true',
	'the default group is named after the database, schema and table');
ok(wait_mirrored('m_cont', 'kafka_fdw.postgres.public.m_cont', 'm_cont', 'continuous'),
	'continuous: the group holds the catalog\'s offsets');
is(group_lag('kafka_fdw.postgres.public.m_cont', 'm_cont'), 0, 'continuous: lag 0 once caught up');

# paused: what is produced waits, and lag tools see it waiting
$node->safe_psql('postgres', q{SELECT kafka.pause_streaming_table('m_cont')});
ok(wait_for_value($node, 'postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE application_name = 'kafka_fdw stream public.m_cont'}, '0', 'worker stopped', 60),
	'paused: the worker stopped');
produce_to('m_cont', 500);
is(group_lag('kafka_fdw.postgres.public.m_cont', 'm_cont'), 500, 'paused: the group\'s lag is the records waiting');
$node->safe_psql('postgres', q{SELECT kafka.resume_streaming_table('m_cont')});
ok(wait_mirrored('m_cont', 'kafka_fdw.postgres.public.m_cont', 'm_cont', 'resumed'),
	'resumed: the group catches up');

# --- an interval stream with a group of its own
produce_to('m_int', 1200);
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('m_int', source => 'm_int_topic', trigger => '1 second',
	  group_id => 'custom_int');});
ok(wait_mirrored('m_int', 'custom_int', 'm_int', 'interval'), 'interval: group_id given is used');
is(group_offsets('kafka_fdw.postgres.public.m_int', 'm_int'), '0:-1001,1:-1001,2:-1001',
	'interval: the default name is not used');
produce_to('m_int', 300);
ok(wait_mirrored('m_int', 'custom_int', 'm_int', 'interval, next tick'), 'interval: the next tick mirrors too');
is(group_lag('custom_int', 'm_int'), 0, 'interval: lag 0');

# --- a refresh
produce_to('m_ref', 900);
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('m_ref', source => 'm_ref_topic', trigger => 'available_now',
	  max_offsets_per_trigger => 100);});
$node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('m_ref')});
ok(wait_mirrored('m_ref', 'kafka_fdw.postgres.public.m_ref', 'm_ref', 'refresh'),
	'refresh: the group holds the catalog\'s offsets');
is(group_lag('kafka_fdw.postgres.public.m_ref', 'm_ref'), 0, 'refresh: lag 0');

# inside a transaction block nothing is committed before the caller: the
# group stays where it was, behind the catalog
my $before = group_offsets('kafka_fdw.postgres.public.m_ref', 'm_ref');
produce_to('m_ref', 300);
$node->safe_psql('postgres', q{BEGIN; CALL kafka.refresh_streaming_table('m_ref'); COMMIT;});
is(stream_consumed($node, 'm_ref'), $produced{m_ref}, 'refresh in a transaction block: ingested');
usleep(1_000_000);
is(group_offsets('kafka_fdw.postgres.public.m_ref', 'm_ref'), $before,
	'refresh in a transaction block: the group is left alone');
is(group_lag('kafka_fdw.postgres.public.m_ref', 'm_ref'), 300, 'and lag tools see it behind');
# the next refresh on its own catches it up
produce_to('m_ref', 10);
$node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('m_ref')});
ok(wait_mirrored('m_ref', 'kafka_fdw.postgres.public.m_ref', 'm_ref', 'refresh after a block'),
	'the next refresh catches the group up');

# --- SIGKILL of the worker: the group catches up, never ahead
for my $round (1 .. 2)
{
	my $pid = stream_worker_pid($node, 'm_cont');
	my $from = stream_consumed($node, 'm_cont');
	my $ahead = 0;

	produce_to('m_cont', 6000);
	for (1 .. 600)
	{
		$ahead++ unless group_not_ahead('m_cont', 'kafka_fdw.postgres.public.m_cont', 'm_cont');
		last if stream_consumed($node, 'm_cont') > $from + 1000;
		usleep(20_000);
	}
	kill 'KILL', $pid;
	note "round $round: killed worker $pid";
	for (1 .. 20)
	{
		$ahead++ unless group_not_ahead('m_cont', 'kafka_fdw.postgres.public.m_cont', 'm_cont');
		usleep(100_000);
	}
	ok(wait_mirrored('m_cont', 'kafka_fdw.postgres.public.m_cont', 'm_cont', "crash $round"),
		"crash $round: the group catches up with the catalog");
	is($ahead, 0, "crash $round: the group was never ahead of the catalog");
}
is(query('SELECT count(*) FROM m_cont'), $produced{m_cont}, 'every record ingested');

# --- group_id altered: the new group gets the offsets
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('m_cont', group_id => 'm_cont_other')});
is(query(q{SELECT group_id FROM kafka.streaming_tables WHERE target = 'm_cont'::regclass}),
	'm_cont_other', 'group_id altered');
produce_to('m_cont', 400);
ok(wait_mirrored('m_cont', 'm_cont_other', 'm_cont', 'altered group'), 'the altered group gets the offsets');
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT kafka.alter_streaming_table('m_cont', group_id => 'bad group')});
like($err, qr/invalid value for group_id/, 'an invalid group_id is refused');

# --- commit_offsets_to_group => false: no commits at all
produce_to('m_off', 600);
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('m_off', source => 'm_off_topic',
	  commit_offsets_to_group => false);});
ok(wait_for_value($node, 'postgres', q{SELECT coalesce(sum(next_offset), 0)
	FROM kafka.stream_offsets WHERE stream = 'm_off'::regclass}, $produced{m_off}, 'm_off', 120),
	'commit_offsets_to_group false: ingested');
# the worker has committed its batches; a commit would have been posted then
usleep(1_000_000);
is(group_offsets('kafka_fdw.postgres.public.m_off', 'm_off'), '0:-1001,1:-1001,2:-1001',
	'commit_offsets_to_group false: the group has no offsets');
# switched on: the group catches up
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('m_off', commit_offsets_to_group => true)});
ok(wait_mirrored('m_off', 'kafka_fdw.postgres.public.m_off', 'm_off', 'switched on'),
	'commit_offsets_to_group switched on: the group catches up');

# --- streams with a Kafka transaction
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE m_out (event_id bigint, type text) SERVER k OPTIONS (topic 'm_out', format 'json');
	CREATE TABLE m_dlt (event_id bigint, type text);});
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('m_out', source => 'm_off_topic', commit_offsets_to_group => false)});
like($err, qr/streaming table m_out into a kafka foreign table cannot have commit_offsets_to_group false/,
	'a kafka target cannot do without its group');
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('m_dlt', source => 'm_off_topic', dead_letter_topic => 'm_out',
	  commit_offsets_to_group => false)});
like($err, qr/with a dead_letter_topic cannot have commit_offsets_to_group false/,
	'nor a stream with a dead-letter topic');
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('m_out', source => 'm_off_topic', trigger => 'available_now');
	SELECT kafka.create_streaming_table('m_dlt', source => 'm_off_topic', trigger => 'available_now',
	  dead_letter_topic => 'm_out');});
is(query(q{SELECT string_agg(group_id, ' ' ORDER BY target::text) FROM kafka.streaming_tables
	WHERE target IN ('m_out'::regclass, 'm_dlt'::regclass)}),
	'kafka_fdw.postgres.public.m_dlt kafka_fdw.postgres.public.m_out',
	'new streams with a Kafka transaction get the name-based group');
($ret, $out, $err) = $node->psql('postgres', q{SELECT kafka.alter_streaming_table('m_out', group_id => 'other')});
like($err, qr/group_id of streaming table public\.m_out into a kafka foreign table cannot be altered/,
	'a kafka target\'s group_id cannot be altered');
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT kafka.alter_streaming_table('m_out', commit_offsets_to_group => false)});
like($err, qr/cannot have commit_offsets_to_group false/, 'nor switched off');
($ret, $out, $err) = $node->psql('postgres', q{SELECT kafka.alter_streaming_table('m_dlt', group_id => 'other')});
like($err, qr/group_id of streaming table public\.m_dlt with a dead_letter_topic cannot be altered/,
	'nor that of a stream with a dead-letter topic');
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('m_dlt', group_id => 'other',
	reset => ARRAY['dead_letter_topic'])});
is(query(q{SELECT group_id FROM kafka.streaming_tables WHERE target = 'm_dlt'::regclass}), 'other',
	'with the dead-letter topic reset in the same call it can');
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('m_off', commit_offsets_to_group => false)});
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT kafka.alter_streaming_table('m_off', dead_letter_topic => 'm_out')});
like($err, qr/with a dead_letter_topic cannot have commit_offsets_to_group false/,
	'a dead-letter topic needs the group commits');
$node->safe_psql('postgres', q{SELECT kafka.drop_streaming_table('m_out'); SELECT kafka.drop_streaming_table('m_dlt')});

# --- a failing group commit: a warning, the stream goes on.  The broker
# fails every OffsetCommit (API key 8) with GROUP_AUTHORIZATION_FAILED (30),
# as a broker whose ACLs do not let the stream's principal use the group.
$broker->ctl('request_errors 8 1000000 30');
produce_to('m_cont', 2000);
ok(wait_for_value($node, 'postgres', q{SELECT DISTINCT warning ~ '^streaming table public\.m_cont could not commit its offsets to consumer group "m_cont_other": m_cont\[\d\]: Broker: Group authorization failed$'
	FROM kafka.stream_progress WHERE stream = 'm_cont'::regclass}, 't', 'warning', 120),
	'a failing group commit is a warning in kafka.stream_progress');
is(query(q{SELECT DISTINCT state IN ('waiting for records', 'running') AND last_error IS NULL
	FROM kafka.stream_progress WHERE stream = 'm_cont'::regclass}), 't', 'the stream runs on, without an error');
produce_to('m_cont', 1000);
ok(wait_for_value($node, 'postgres', q{SELECT count(*) FROM m_cont}, $produced{m_cont}, 'ingest', 120),
	'the stream keeps ingesting');
ok(group_not_ahead('m_cont', 'm_cont_other', 'm_cont'), 'its group stays behind the catalog');
$broker->ctl('clear_errors 8');
produce_to('m_cont', 1000);
ok(wait_mirrored('m_cont', 'm_cont_other', 'm_cont', 'errors cleared'), 'commits work again: the group catches up');
produce_to('m_cont', 200);
ok(wait_for_value($node, 'postgres', q{SELECT count(*) FROM kafka.stream_progress
	WHERE stream = 'm_cont'::regclass AND warning IS NOT NULL}, '0', 'warning cleared', 120),
	'and the warning clears');

# --- dropping the stream leaves its group
$node->safe_psql('postgres', q{SELECT kafka.drop_streaming_table('m_int')});
ok(wait_for_value($node, 'postgres', q{SELECT count(*) FROM pg_stat_activity
	WHERE application_name = 'kafka_fdw stream public.m_int'}, '0', 'm_int worker gone', 60),
	'dropped: its worker stopped');
is(group_lag('custom_int', 'm_int'), 0, 'kafka.drop_streaming_table leaves the group and its offsets');

$node->stop;
$broker->stop;
done_testing();
