# Streams beyond the worker pool: 20 continuous streams on 4 workers.  The
# streams without a worker show 'waiting for a worker' (logged once per
# stream); the workers give way after kafka_fdw.stream_time_slice (read again
# on a configuration reload) so that every stream gets its turn; a smaller
# pool takes effect on reload.  Every record lands exactly once.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $streams = 20;
my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
# a time slice no test waits for: at first the pool runs the first streams only
my $node = new_node('sched', broker => $broker, conf => qq{
max_worker_processes = 16
kafka_fdw.max_stream_workers = 4
kafka_fdw.stream_time_slice = '1h'
});

# the settings of postgresql.conf hold from the start
unlike(slurp_file($node->logfile), qr/invalid configuration parameter name "kafka_fdw\./,
	'the kafka_fdw settings of postgresql.conf are kept');
is($node->safe_psql('postgres', 'SHOW kafka_fdw.stream_time_slice'), '1h', 'time slice from postgresql.conf');

my @names = map { sprintf('s%02d', $_) } 1 .. $streams;
my $setup = qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
};
for my $name (@names)
{
	$broker->create_topic($name, 1);
	$setup .= qq{
	CREATE FOREIGN TABLE ${name}_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic '$name', format 'json');
	CREATE TABLE $name (event_id bigint, _partition int, _offset bigint);
	};
}
$node->safe_psql('postgres', $setup);

# each topic gets 5 more records, produced through the foreign tables
my $produced = 0;
sub produce_round
{
	my $sql = '';
	$sql .= "INSERT INTO ${_}_topic (event_id) SELECT g FROM generate_series($produced + 1, $produced + 5) g;\n"
	  for @names;
	$node->safe_psql('postgres', $sql);
	$produced += 5;
}
produce_round();
$node->safe_psql('postgres',
	join('', map { "SELECT kafka.create_streaming_table('$_', source => '${_}_topic');\n" } @names));

my $workers_sql = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'};
# how many streams hold every record produced so far, each exactly once
sub complete_sql
{
	return 'SELECT ' . join(' + ',
		map { "(SELECT (count(*) = $produced AND count(DISTINCT _offset) = $produced)::int FROM $_)" } @names);
}
my $max_workers = 0;

# poll $sql until it returns $expected; track the largest pool seen
sub wait_for
{
	my ($sql, $expected, $what) = @_;
	my $got;
	for (1 .. 1800)
	{
		$got = $node->safe_psql('postgres', $sql);
		my $w = $node->safe_psql('postgres', $workers_sql);
		$max_workers = $w if $w > $max_workers;
		return 1 if $got eq $expected;
		usleep(100_000);
	}
	diag("$what: got '$got', expected '$expected'");
	return 0;
}

sub waits_logged
{
	my %count;
	my $log = slurp_file($node->logfile);
	$count{$1}++ while $log =~
	  /LOG:  streaming table public\.(s\d+) of database "postgres" waits for a worker/g;
	return \%count;
}

# With the slice out of reach, 4 streams run and 16 wait, visibly.
ok(wait_for(q{SELECT count(*) FILTER (WHERE state = 'waiting for a worker') || ' '
	|| count(*) FILTER (WHERE worker_pid IS NOT NULL) FROM kafka.stream_progress},
	'16 4', 'waiting'), '16 streams wait for a worker while 4 run');
ok(wait_for('SELECT ' . join(' + ', map { "(SELECT count(*) FROM $_)" } @names), 20, 'first four'),
	'the four running streams ingested their records');
my $waits = waits_logged();
is(scalar(keys %$waits), 16, 'each waiting stream was logged');
is(scalar(grep { $_ != 1 } values %$waits), 0, 'once');
like(slurp_file($node->logfile),
	qr/DETAIL:  All 4 workers of kafka_fdw.max_stream_workers are busy/, 'the log says why');

# A shorter slice, applied by the running workers on reload: they give
# way, the waiting streams get their turn, and none starves.
$node->safe_psql('postgres', q{ALTER SYSTEM SET kafka_fdw.stream_time_slice = '1s'; SELECT pg_reload_conf()});
ok(wait_for(complete_sql(), $streams, 'all streams'), 'every stream ingested all its records');
produce_round();
ok(wait_for(complete_sql(), $streams, 'second round'), 'and the next records, in turn');
ok($max_workers <= 4, "never more than 4 workers (saw $max_workers)");
$waits = waits_logged();
is(scalar(keys %$waits), $streams, 'every stream waited at some point');
is(scalar(grep { $_ != 1 } values %$waits), 0, 'each was logged once');

# A smaller pool on reload: workers beyond it give way at their next commit.
$node->safe_psql('postgres', q{ALTER SYSTEM SET kafka_fdw.max_stream_workers = 2; SELECT pg_reload_conf()});
ok(wait_for($workers_sql, 2, 'pool of 2'), 'the pool shrinks to 2 workers');
$max_workers = 0;
produce_round();
ok(wait_for(complete_sql(), $streams, 'third round'), 'every stream ingests on 2 workers');
ok($max_workers <= 2, "never more than 2 workers then (saw $max_workers)");

# An interval stream between ticks gives its worker away at once while
# others wait, and keeps its place for the next tick.
$broker->create_topic('iv', 1);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE iv_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'iv', format 'json');
	CREATE TABLE iv (event_id bigint, _partition int, _offset bigint);
	INSERT INTO iv_topic (event_id) SELECT g FROM generate_series(1, 5) g;
	SELECT kafka.create_streaming_table('iv', source => 'iv_topic', trigger => '1 hour');
});
ok(wait_for('SELECT count(*), count(DISTINCT _offset) FROM iv', '5|5', 'interval stream'),
	'the interval stream got its turn');
ok(wait_for(q{SELECT (state LIKE 'sleeping until %') || ' ' || (worker_pid IS NULL) FROM kafka.stream_progress WHERE stream = 'iv'::regclass},
	'true true', 'interval sleeping'), 'sleeping until its next tick, without a worker');

done_testing();
