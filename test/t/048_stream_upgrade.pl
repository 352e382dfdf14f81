# ALTER EXTENSION kafka_fdw UPDATE from 0.1 to 0.2, then to the current
# version, with continuous streams running
# (dead letters, offsets): every record lands exactly once across the
# update, the streams, offsets and dead letters are kept, and the updated
# extension's objects are those of a fresh install of the new version.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('upgrade', broker => $broker, create_extension => 0);
$broker->create_topic('up', 2);

$node->safe_psql('postgres', q{CREATE EXTENSION kafka_fdw VERSION '0.1'});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	'0.1', 'the released version installs');

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE up_topic (event_id bigint, user_id int,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'up', format 'json');
	SELECT kafka.create_streaming_table('up_events', source => 'up_topic',
	  on_error => 'dead_letter', max_offsets_per_trigger => 1000);
	SELECT kafka.create_streaming_table('up_transformed', source => 'up_topic',
	  on_error => 'skip', max_offsets_per_trigger => 700,
	  transform => 'SELECT b.event_id, b.user_id * 2 AS doubled, b._partition, b._offset FROM batch b');
});

sub wait_for { return wait_for_value($node, @_, 60); }

my $good = 0;
my $bad = 0;
sub produce_good
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'up', count => $n, start => $good, json => 1, partitions => 2);
	$good += $n;
}
sub produce_bad
{
	my (@lines) = @_;
	open(my $fh, '|-', 'kcat', '-q', '-P', '-b', $bs, '-t', 'up', '-p', '0') or die "kcat: $!";
	print $fh join("\n", @lines) . "\n";
	close($fh) or die "kcat failed";
	$bad += @lines;
}

my $offsets = q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = '%s'::regclass};
my $rows = q{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) FROM %s};

produce_good(3000);
produce_bad('not json', '{"event_id": "x"');
produce_good(2000);
my $total = $good + $bad;
ok(wait_for('postgres', sprintf($offsets, 'up_events'), "$total", 'before'), 'dead_letter stream runs on 0.1');
ok(wait_for('postgres', sprintf($offsets, 'up_transformed'), "$total", 'before'), 'transform stream runs on 0.1');
is($node->safe_psql('postgres', sprintf($rows, 'up_events')), "$good $good", 'every record once before the update');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters}), "$bad", 'dead letters before the update');
my $workers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'};
is($node->safe_psql('postgres', $workers), '2', 'both workers running');

# update while the workers ingest what keeps coming
produce_good(5000);
$node->safe_psql('postgres', q{ALTER EXTENSION kafka_fdw UPDATE TO '0.2'});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	'0.2', 'updated to 0.2');
produce_bad('still not json');
produce_good(5000);
$total = $good + $bad;
ok(wait_for('postgres', sprintf($offsets, 'up_events'), "$total", 'after'), 'dead_letter stream runs on after the update');
ok(wait_for('postgres', sprintf($offsets, 'up_transformed'), "$total", 'after'), 'transform stream runs on after the update');
is($node->safe_psql('postgres', sprintf($rows, 'up_events')), "$good $good", 'every record exactly once across the update');
is($node->safe_psql('postgres', sprintf($rows, 'up_transformed')), "$good $good", 'transform: every record exactly once');
is($node->safe_psql('postgres', q{SELECT count(*) FROM up_transformed WHERE doubled <> (event_id % 97) * 2}), '0',
	'transform applied');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || count(DISTINCT ("partition", "offset")) FROM kafka.dead_letters WHERE stream = 'up_events'::regclass}),
	"$bad $bad", 'dead letters kept and added once');
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s %s %s', target, state, search_path IS NULL), ',' ORDER BY target::text) FROM kafka.streaming_tables}),
	'up_events active t,up_transformed active t', 'streams kept, still active, search_path unpinned (the database default) as before');
is($node->safe_psql('postgres', $workers), '2', 'both workers still running');
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no server process crashed');

# a stream created now pins the creator's search_path
$node->safe_psql('postgres', q{
	SET search_path = public, kafka;
	SELECT kafka.create_streaming_table('up_later', source => 'up_topic', trigger => 'available_now');});
is($node->safe_psql('postgres', q{SELECT search_path FROM kafka.streaming_tables WHERE target = 'up_later'::regclass}),
	'public, kafka', 'new streams pin search_path');

# the updated extension equals a fresh install of 0.2
ok(extension_equals_fresh_install($node, 'postgres', '0.2'), 'updated extension objects equal a fresh 0.2 install');

# and on to the current version, the streams still running
produce_good(3000);
$node->safe_psql('postgres', q{ALTER EXTENSION kafka_fdw UPDATE});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	$node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'kafka_fdw'}),
	'updated to the current version');
produce_good(3000);
$total = $good + $bad;
ok(wait_for('postgres', sprintf($offsets, 'up_events'), "$total", 'after the second update'), 'streams run on after the second update');
ok(wait_for('postgres', sprintf($offsets, 'up_transformed'), "$total", 'after the second update'), 'transform stream too');
is($node->safe_psql('postgres', sprintf($rows, 'up_events')), "$good $good", 'every record exactly once across both updates');
is($node->safe_psql('postgres', sprintf($rows, 'up_transformed')), "$good $good", 'transform: every record exactly once across both updates');
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s %s', target, mode), ',' ORDER BY target::text) FROM kafka.streaming_tables}),
	'up_events append,up_later append,up_transformed append', 'existing streams are append streams');
ok(extension_equals_fresh_install($node, 'postgres', undef), 'updated extension objects equal a fresh install of the current version');

# the updated database dumps and restores
my $dumpfile = PostgreSQL::Test::Utils::tempdir() . '/upgraded.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dumpfile, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dumpfile ], 'pg_restore');
my $catalog = q{SELECT string_agg(format('%s %s %s', target, state, search_path), ',' ORDER BY target::text),
	(SELECT sum(next_offset) FROM kafka.stream_offsets), (SELECT count(*) FROM kafka.dead_letters)
	FROM kafka.streaming_tables};
is($node->safe_psql('restored', $catalog), $node->safe_psql('postgres', $catalog), 'catalog restored');
$node->safe_psql('restored', q{SELECT kafka.pause_streaming_table(target) FROM kafka.streaming_tables});
$node->safe_psql('postgres', 'DROP DATABASE restored');

done_testing();
