# Chaos: streaming tables in two databases while records are produced, and
# meanwhile everything an operator may do, in a fixed order: configuration
# reloads, ADD/DROP/RENAME/retype of target and source columns, pause,
# resume, reset_offsets, REVOKE and GRANT for a non-superuser owner, workers
# and the launcher terminated, an immediate restart during a refresh,
# brokers down and up, DROP DATABASE of a database with running streams and
# its re-creation.
#
# At the end: the postmaster never restarted on its own (no "terminated by
# signal", no "reinitializing" in the log) and no resource leaked (no leak
# warning, with an AFTER ROW trigger on one target), every target reads back
# completely with the values as produced, pg_dump | pg_restore of both
# databases succeeds, every stream is active again and holds each produced
# record exactly once (count = distinct (_partition, _offset) = produced),
# and every stream that stopped on the way said why in
# kafka.stream_progress.
#
# Records are produced with the idempotent producer, one run at a time per
# topic, record i to partition i % P: so the record at (_partition, _offset)
# has event_id = _offset * P + _partition, and user_id = event_id % 97.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KafkaFdwTest;

my $t0 = time;
my $broker = start_broker(brokers => 3);
my $bs = $broker->bootstrap;
my %partitions = (chaos_a => 4, chaos_b => 2);
$broker->create_topic($_, $partitions{$_}) foreach sort keys %partitions;

my $node = new_node('chaos', broker => $broker,
	conf => "restart_after_crash = on\nkafka_fdw.max_stream_workers = 8\n");

# ---------------------------------------------------------------------------
# Queries that may meet a restarting server or a database being dropped:
# connection failures are retried (bounded), any other error is returned.

my $retryable = qr/could not connect|connection to server|server closed the connection|terminating connection|the database system is (?:starting up|shutting down|in recovery mode)|no connection to the server|Connection refused/;

sub try_sql
{
	my ($db, $sql) = @_;
	my ($ret, $out, $err);
	for (1 .. 300)
	{
		($ret, $out, $err) = $node->psql($db, $sql);
		return (1, $out, $err) if $ret == 0;
		return (0, $out, $err)
		  if $err !~ $retryable || $err =~ /database "[^"]*" does not exist/;
		usleep(200_000);
	}
	BAIL_OUT("the server did not come back within a minute: $err");
}

sub sql
{
	my ($db, $sql) = @_;
	my ($ok, $out, $err) = try_sql($db, $sql);
	die "query failed in $db: $sql\n$err" unless $ok;
	return $out;
}

# polls $sql until it returns $expected, at most $seconds
sub wait_for
{
	my ($db, $sql, $expected, $seconds, $what) = @_;
	my $deadline = time + $seconds;
	my $got = '';
	while (time < $deadline)
	{
		my ($ok, $out) = try_sql($db, $sql);
		$got = $out;
		return 1 if $ok && $got eq $expected;
		usleep(250_000);
	}
	diag("$what: got '$got', expected '$expected' after $seconds s");
	return 0;
}

# ---------------------------------------------------------------------------
# The databases and their streams.

my $common = qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE FOREIGN TABLE src_a (event_id bigint, user_id int, type text, amount numeric, ts timestamptz,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'chaos_a', format 'json');
};

# postgres: streams of every kind, on two topics
sql('postgres', $common . q{
	CREATE FOREIGN TABLE src_x (event_id bigint, user_id int, type text, amount numeric,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'chaos_a', format 'json');
	CREATE FOREIGN TABLE src_b (event_id bigint, user_id int, type text,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'chaos_b', format 'json');
	CREATE TABLE segments (id int PRIMARY KEY, segment text);
	INSERT INTO segments VALUES (0, 'gold'), (1, 'silver'), (2, 'bronze');

	CREATE TABLE t_cont (event_id bigint, user_id int, type text, amount numeric,
		_partition int, _offset bigint);
	SELECT kafka.create_streaming_table('t_cont', source => 'src_a',
	  max_offsets_per_trigger => 2000, on_error => 'fail');

	CREATE TABLE t_xform (event_id bigint, user_id bigint, segment text, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('t_xform', source => 'src_x', on_error => 'fail',
	  max_offsets_per_trigger => 1500,
	  transform => 'SELECT b.event_id, b.user_id::bigint AS user_id, s.segment, b._partition, b._offset
	                FROM batch b LEFT JOIN segments s ON s.id = b.user_id % 3');

	CREATE TABLE t_tick (event_id bigint, _partition int, _offset bigint);
	CREATE UNIQUE INDEX ON t_tick (_partition, _offset);
	CREATE FUNCTION tick_seen() RETURNS trigger LANGUAGE plpgsql AS
	  $$BEGIN IF NEW.event_id < 0 THEN RAISE EXCEPTION 'negative'; END IF; RETURN NULL; END$$;
	CREATE TRIGGER tick_seen AFTER INSERT ON t_tick FOR EACH ROW EXECUTE FUNCTION tick_seen();
	SELECT kafka.create_streaming_table('t_tick', source => 'src_a', trigger => '1 second',
	  max_offsets_per_trigger => 3000);

	CREATE TABLE t_now (event_id bigint, amount numeric, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('t_now', source => 'src_a', trigger => 'available_now',
	  max_offsets_per_trigger => 5000);

	CREATE TABLE t_reset (event_id bigint, user_id int, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('t_reset', source => 'src_b');

	CREATE ROLE chaos_owner NOLOGIN;
	GRANT USAGE ON SCHEMA kafka TO chaos_owner;
	GRANT USAGE ON FOREIGN SERVER k TO chaos_owner;
	CREATE USER MAPPING FOR chaos_owner SERVER k OPTIONS (password_required 'false');
	GRANT SELECT ON src_b TO chaos_owner;
	CREATE TABLE t_owned (event_id bigint, _partition int, _offset bigint, who text DEFAULT current_user);
	ALTER TABLE t_owned OWNER TO chaos_owner;
	SET ROLE chaos_owner;
	SELECT kafka.create_streaming_table('t_owned', source => 'src_b', on_error => 'fail');
	RESET ROLE;
});

# second: a continuous and an interval stream, dropped and re-created below
my $second_setup = q{
	CREATE EXTENSION kafka_fdw;
} . $common . q{
	CREATE TABLE t2_cont (event_id bigint, user_id int, type text, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('t2_cont', source => 'src_a', max_offsets_per_trigger => 2500);
	CREATE TABLE t2_tick (event_id bigint, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('t2_tick', source => 'src_a', trigger => '2 seconds');
};
sql('postgres', 'CREATE DATABASE second');
sql('second', $second_setup);

# target => [database, topic]
my %streams = (
	t_cont => [ 'postgres', 'chaos_a' ],
	t_xform => [ 'postgres', 'chaos_a' ],
	t_tick => [ 'postgres', 'chaos_a' ],
	t_now => [ 'postgres', 'chaos_a' ],
	t_reset => [ 'postgres', 'chaos_b' ],
	t_owned => [ 'postgres', 'chaos_b' ],
	t2_cont => [ 'second', 'chaos_a' ],
	t2_tick => [ 'second', 'chaos_a' ]);
my @targets = sort keys %streams;

# ---------------------------------------------------------------------------
# Production: each chaos step runs while a chunk per topic is produced.

my %produced = (chaos_a => 0, chaos_b => 0);
my %chunk = (chaos_a => 4000, chaos_b => 1000);

sub start_chunks
{
	my @running;
	foreach my $topic (sort keys %chunk)
	{
		push @running, [ $topic, start_produce(broker => $broker, topic => $topic,
			count => $chunk{$topic}, start => $produced{$topic}, json => 1,
			partitions => $partitions{$topic}, idempotent => 1, quiet => 1) ];
	}
	return @running;
}

sub finish_chunks
{
	foreach my $run (@_)
	{
		finish_produce($run->[1], 180);
		$produced{ $run->[0] } += $chunk{ $run->[0] };
	}
}

# stopped streams seen on the way: target => last_error
my %stopped;

sub record_stopped
{
	foreach my $db ('postgres', 'second')
	{
		my ($ok, $out) = try_sql($db, q{SELECT DISTINCT stream::text, state, coalesce(last_error, '')
			FROM kafka.stream_progress WHERE state = 'failed'});
		next unless $ok;
		foreach my $line (split /\n/, $out)
		{
			my ($target, $state, $error) = split /\|/, $line, 3;
			$stopped{"$db.$target"} //= "$state: $error";
		}
	}
	return;
}

sub worker_pids
{
	my ($db) = @_;
	my ($ok, $out) = try_sql($db, q{SELECT DISTINCT worker_pid FROM kafka.stream_progress
		WHERE worker_pid IS NOT NULL ORDER BY 1});
	return $ok ? split(/\n/, $out) : ();
}

sub no_worker
{
	my ($db, $target) = @_;
	return wait_for($db, qq{SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'kafka_fdw stream public.$target'}, '0', 30,
		"worker of $target gone");
}

sub state_of
{
	my ($db, $target) = @_;
	return sql($db, qq{SELECT state FROM kafka.streaming_tables WHERE target = '$target'::regclass});
}

# waits until the stream is stopped by a failure; returns its error
sub wait_failed
{
	my ($db, $target, $seconds) = @_;
	my $deadline = time + $seconds;
	while (time < $deadline)
	{
		my $row = sql($db, qq{SELECT DISTINCT state || '|' || coalesce(last_error, '')
			FROM kafka.stream_progress WHERE stream = '$target'::regclass});
		my ($state, $error) = split /\|/, $row, 2;
		return $error if $state eq 'failed';
		usleep(250_000);
	}
	return undef;
}

srand(90);

# [ what, action ] runs the action while the chunks are produced; [ what,
# action, check ] runs the action first, so that the chunks arrive after
# it, and the check once they are in the topics
my @steps = (
	[ 'configuration reload' => sub {
		sql('postgres', q{ALTER SYSTEM SET work_mem = '8MB'});
		sql('postgres', q{SELECT pg_reload_conf()});
	} ],
	[ 'target ADD COLUMN' => sub {
		sql('postgres', q{ALTER TABLE t_cont ADD COLUMN note text DEFAULT 'added';
			ALTER TABLE t_tick ADD COLUMN extra int});
		sql('second', q{ALTER TABLE t2_cont ADD COLUMN note text DEFAULT 'added'});
	} ],
	[ 'terminate two workers' => sub {
		my @pids = (worker_pids('postgres'), worker_pids('second'));
		for (1 .. 2)
		{
			last unless @pids;
			my ($pid) = splice(@pids, int(rand(@pids)), 1);
			sql('postgres', "SELECT pg_terminate_backend($pid)");
		}
	} ],
	[ 'source retype, with and without a transform' => sub {
		sql('postgres', q{ALTER FOREIGN TABLE src_x ALTER COLUMN user_id TYPE bigint;
			ALTER FOREIGN TABLE src_b ALTER COLUMN user_id TYPE bigint});
	}, sub { } ],
	[ 'pause, reset to the committed offsets, resume' => sub {
		sql('postgres', q{SELECT kafka.pause_streaming_table('t_tick')});
		ok(no_worker('postgres', 't_tick'), 'paused stream\'s worker stops');
		sql('postgres', q{SELECT kafka.reset_offsets('t_tick',
			(SELECT json_object_agg(topic, offsets)::text FROM
				(SELECT topic, json_object_agg("partition", next_offset) AS offsets
				   FROM kafka.stream_offsets WHERE stream = 't_tick'::regclass GROUP BY topic) o))});
		sql('postgres', q{SELECT kafka.resume_streaming_table('t_tick')});
	} ],
	[ 'REVOKE INSERT on the target from its owner' => sub {
		sql('postgres', q{REVOKE INSERT ON t_owned FROM chaos_owner});
	}, sub {
		my $error = wait_failed('postgres', 't_owned', 30);
		like($error // 'still running', qr/permission denied for table t_owned/,
			'REVOKE INSERT stops the owner\'s stream and says why');
	} ],
	[ 'broker 2 down and up' => sub {
		$broker->ctl('broker_down 2');
		sleep 3;
		$broker->ctl('broker_up 2');
	} ],
	[ 'target RENAME and retype' => sub {
		sql('postgres', q{ALTER TABLE t_cont RENAME COLUMN type TO kind;
			ALTER TABLE t_cont ALTER COLUMN amount TYPE numeric(12,2)});
		sql('second', q{ALTER TABLE t2_cont ALTER COLUMN type TYPE varchar(32)});
	} ],
	[ 'GRANT INSERT back, resume' => sub {
		sql('postgres', q{GRANT INSERT ON t_owned TO chaos_owner;
			SELECT kafka.resume_streaming_table('t_owned')});
	} ],
	[ 'reload and terminate the launcher' => sub {
		sql('postgres', q{ALTER SYSTEM SET kafka_fdw.max_stream_workers = 9});
		sql('postgres', q{SELECT pg_reload_conf()});
		sql('postgres', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE backend_type = 'kafka_fdw stream launcher'});
	} ],
	[ 'restart -m immediate during a refresh' => sub {
		my ($refresh) = start_psql($node, q{CALL kafka.refresh_streaming_table('t_now')});
		usleep(100_000);
		$node->stop('immediate');
		eval { $refresh->finish };    # it fails: the server went away
		$node->start;
	} ],
	[ 'source RENAME' => sub {
		sql('postgres', q{ALTER FOREIGN TABLE src_a RENAME COLUMN amount TO amt});
		sql('postgres', q{CALL kafka.refresh_streaming_table('t_now')});
	} ],
	[ 'DROP DATABASE with running streams' => sub {
		my ($ok, $out, $err) = try_sql('postgres', 'DROP DATABASE second');
		ok($ok, 'DROP DATABASE with running streams') or diag($err);
		sql('postgres', 'DROP DATABASE IF EXISTS second WITH (FORCE)') unless $ok;
		ok(wait_for('postgres', q{SELECT count(*) FROM pg_stat_activity
			WHERE application_name LIKE 'kafka_fdw stream public.t2%'}, '0', 30, 'workers of second'),
			'no worker left for the dropped database');
	} ],
	[ 'REVOKE USAGE on the server from the owner' => sub {
		sql('postgres', q{REVOKE USAGE ON FOREIGN SERVER k FROM chaos_owner});
	}, sub {
		my $error = wait_failed('postgres', 't_owned', 30);
		like($error // 'still running', qr/permission denied/,
			'REVOKE USAGE ON FOREIGN SERVER stops the owner\'s stream and says why');
	} ],
	[ 'pause, TRUNCATE, reset to earliest, resume' => sub {
		sql('postgres', q{SELECT kafka.pause_streaming_table('t_reset')});
		ok(no_worker('postgres', 't_reset'), 'paused stream\'s worker stops');
		sql('postgres', q{TRUNCATE t_reset;
			SELECT kafka.reset_offsets('t_reset', 'earliest');
			SELECT kafka.resume_streaming_table('t_reset')});
	} ],
	[ 'all brokers down and up' => sub {
		$broker->ctl('broker_down all');
		sleep 4;
		$broker->ctl('broker_up all');
	} ],
	[ 'CREATE DATABASE again with its streams' => sub {
		sql('postgres', 'CREATE DATABASE second');
		sql('second', $second_setup);
	} ],
	[ 'DROP/ADD COLUMN on target and source' => sub {
		sql('postgres', q{ALTER TABLE t_cont DROP COLUMN note;
			ALTER FOREIGN TABLE src_a DROP COLUMN ts;
			ALTER FOREIGN TABLE src_a ADD COLUMN extra text;
			ALTER TABLE t_tick DROP COLUMN extra});
	} ],
	[ 'GRANT USAGE back, resume' => sub {
		sql('postgres', q{GRANT USAGE ON FOREIGN SERVER k TO chaos_owner;
			SELECT kafka.resume_streaming_table('t_owned')});
	} ],
	[ 'columns restored' => sub {
		sql('postgres', q{ALTER FOREIGN TABLE src_x ALTER COLUMN user_id TYPE int;
			ALTER FOREIGN TABLE src_b ALTER COLUMN user_id TYPE int;
			ALTER FOREIGN TABLE src_a RENAME COLUMN amt TO amount;
			ALTER TABLE t_cont RENAME COLUMN kind TO type});
		sql('postgres', q{CALL kafka.refresh_streaming_table('t_now')});
	} ],
	[ 'terminate every worker, pause and resume at once, reload' => sub {
		foreach my $db ('postgres', 'second')
		{
			sql($db, "SELECT pg_terminate_backend($_)") foreach worker_pids($db);
		}
		sql('postgres', q{SELECT kafka.pause_streaming_table('t_cont');
			SELECT kafka.resume_streaming_table('t_cont')});
		sql('postgres', q{ALTER SYSTEM RESET work_mem; ALTER SYSTEM RESET kafka_fdw.max_stream_workers});
		sql('postgres', q{SELECT pg_reload_conf()});
	} ],
);

my $crash_pattern = qr/terminated by signal|all server processes terminated; reinitializing|was terminated by exception|PANIC:/;
foreach my $i (0 .. $#steps)
{
	my ($what, $action, $check) = @{ $steps[$i] };
	my $log_pos = -s $node->logfile;
	my @running;
	note sprintf('%5.1f s: step %d: %s', time - $t0, $i + 1, $what);
	@running = start_chunks() unless $check;
	eval { $action->(); 1 } or fail("step " . ($i + 1) . " ($what): $@");
	@running = start_chunks() if $check;
	finish_chunks(@running);
	eval { $check->(); 1 } or fail("step " . ($i + 1) . " ($what): $@") if $check;
	record_stopped();
	# name the step during which something crashed
	open(my $fh, '<', $node->logfile) or die $node->logfile . ": $!";
	seek($fh, $log_pos, 0);
	foreach my $line (grep { $_ =~ $crash_pattern } <$fh>)
	{
		chomp $line;
		diag("during step " . ($i + 1) . " ($what): $line");
	}
	close($fh);
}
note sprintf('%5.1f s: chaos over, %d records to chaos_a, %d to chaos_b',
	time - $t0, $produced{chaos_a}, $produced{chaos_b});

# ---------------------------------------------------------------------------
# Every stream that stopped on the way said why.

record_stopped();
foreach my $stream (sort keys %stopped)
{
	note "stopped on the way: $stream: $stopped{$stream}";
	like($stopped{$stream}, qr/^\w+: \S/, "$stream stopped and said why");
}

# Whatever is still stopped says why now; then it is resumed: everything the
# chaos broke was restored, so every stream must run to the end.
foreach my $target (@targets)
{
	my ($db) = @{ $streams{$target} };
	my $row = sql($db, qq{SELECT DISTINCT state || '|' || coalesce(last_error, '')
		FROM kafka.stream_progress WHERE stream = '$target'::regclass});
	my ($state, $error) = split /\|/, $row, 2;
	if ($state eq 'failed')
	{
		note "$target stopped at the end of the chaos: $error";
		isnt($error, '', "$target stopped and says why");
	}
	elsif ($state eq 'paused')
	{
		fail("$target is paused though every pause was followed by a resume");
	}
	else
	{
		next;
	}
	sql($db, qq{SELECT kafka.resume_streaming_table('$target')});
}

# the topics hold what was produced, once
foreach my $topic (sort keys %produced)
{
	is(sql('postgres', qq{SELECT count(*), count(DISTINCT ("partition", "offset"))
		FROM kafka.read_kafka(server => 'k', subscribe => '$topic')}),
		"$produced{$topic}|$produced{$topic}", "$topic holds every produced record once");
}

# ---------------------------------------------------------------------------
# Every stream catches up: exactly once.

sql('postgres', q{CALL kafka.refresh_streaming_table('t_now')});
# rows are never removed: once a target holds as many rows as were
# produced, it is final
sub wait_exactly_once
{
	my ($db, $target, $expected, $seconds) = @_;
	my $deadline = time + $seconds;
	my ($ok, $got, $err);
	while (1)
	{
		($ok, $got, $err) = try_sql($db,
			"SELECT count(*), count(DISTINCT (_partition, _offset)) FROM $target");
		last unless $ok;
		my ($rows) = split /\|/, $got;
		last if $rows >= $expected || time >= $deadline;
		usleep(250_000);
	}
	return is($ok ? $got : $err, "$expected|$expected",
		"$target holds each of the $expected records exactly once");
}

my $catch_up = time + 180;
foreach my $target (@targets)
{
	my ($db, $topic) = @{ $streams{$target} };
	wait_exactly_once($db, $target, $produced{$topic}, $catch_up - time);
}
foreach my $target (@targets)
{
	my ($db) = @{ $streams{$target} };
	is(state_of($db, $target), 'active', "$target is active at the end");
}

# values as produced: coordinates match the events, nothing corrupted, and
# every row reads back (detoasted); numeric arithmetic, as a corrupted
# offset may be any 64-bit value
sub check_values
{
	my ($db, $sql, $expected, $what) = @_;
	my ($ok, $out, $err) = try_sql($db, $sql);
	return is($ok ? $out : $err, $expected, $what);
}

foreach my $target (@targets)
{
	my ($db, $topic) = @{ $streams{$target} };
	my $p = $partitions{$topic};
	check_values($db, qq{SELECT count(*) FILTER (WHERE event_id IS DISTINCT FROM _offset::numeric * $p + _partition
			OR _partition NOT BETWEEN 0 AND $p - 1),
		sum(length(t::text)) > 0
		FROM $target t}, '0|t', "$target: rows read back, coordinates match the events");
}
check_values('postgres', q{SELECT count(*) FILTER (WHERE user_id IS DISTINCT FROM event_id % 97
		OR segment IS DISTINCT FROM (ARRAY['gold', 'silver', 'bronze'])[(event_id % 97 % 3)::int + 1])
	FROM t_xform}, '0', 't_xform: transformed values as produced across the source retype');
check_values('postgres', q{SELECT count(*) FILTER (WHERE user_id IS DISTINCT FROM event_id % 97) FROM t_reset},
	'0', 't_reset: values as produced across the source retype');
check_values('postgres', q{SELECT string_agg(DISTINCT who, ',') FROM t_owned}, 'chaos_owner',
	't_owned: rows written as the owner');

# ---------------------------------------------------------------------------
# pg_dump | pg_restore of both databases.

my $dumpdir = PostgreSQL::Test::Utils::tempdir();
foreach my $db ('postgres', 'second')
{
	my $dump = "$dumpdir/$db.dump";
	$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr($db) ],
		"pg_dump of $db");
	sql('postgres', "CREATE DATABASE restored_$db");
	$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr("restored_$db"), $dump ],
		"pg_restore of $db");
	foreach my $target (grep { $streams{$_}[0] eq $db } @targets)
	{
		my ($topic) = $streams{$target}[1];
		check_values("restored_$db", "SELECT count(*) FROM $target", $produced{$topic},
			"$target restored");
	}
	# the restored copies would ingest too: not part of this test
	try_sql("restored_$db", qq{SELECT kafka.pause_streaming_table(target) FROM kafka.streaming_tables
		WHERE trigger <> 'available_now'});
}

# ---------------------------------------------------------------------------
# The postmaster never restarted on its own (the immediate restart above was
# a stop and a start, not a crash).

my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
my @crashes = grep { $_ =~ $crash_pattern } split /\n/, $log;
is(scalar(@crashes), 0, 'no process crashed, the postmaster never reinitialized')
  or diag(join("\n", @crashes[ 0 .. ($#crashes < 19 ? $#crashes : 19) ]));
my @leaks = grep { /WARNING: .*(leak|not closed|still active|still referenced)/ } split /\n/, $log;
is(scalar(@leaks), 0, 'no resource leak warnings')
  or diag(join("\n", @leaks[ 0 .. ($#leaks < 9 ? $#leaks : 9) ]));
note sprintf('%.1f s in all', time - $t0);

done_testing();
