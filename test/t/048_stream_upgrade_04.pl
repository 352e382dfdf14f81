# ALTER EXTENSION kafka_fdw UPDATE from 0.3 (the released version, installed
# from its frozen script) to the current version, with an append stream
# (with dead letters) and a keyed stream (with tombstones) running: every
# record lands exactly once across the update, streams, offsets, dead
# letters and tombstones are kept, the new options (alter_streaming_table,
# schema_evolution) work on the updated catalog, its objects are those of a
# fresh install, and the updated database dumps and restores.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('upgrade04', broker => $broker, create_extension => 0);
$broker->create_topic('up', 2);
$broker->create_topic('keyed', 1);

$node->safe_psql('postgres', q{CREATE EXTENSION kafka_fdw VERSION '0.3'});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	'0.3', 'the released version installs');

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE up_topic (event_id bigint, user_id int,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'up', format 'json');
	SELECT kafka.create_streaming_table('up_events', source => 'up_topic',
	  on_error => 'dead_letter', max_offsets_per_trigger => 1000);
	CREATE FOREIGN TABLE keyed_topic (id text OPTIONS (kafka 'key'), v int, seq bigint)
	  SERVER k OPTIONS (topic 'keyed', format 'json');
	CREATE TABLE keyed_state (id text PRIMARY KEY, v int, seq bigint);
	SELECT kafka.create_streaming_table('keyed_state', source => 'keyed_topic',
	  mode => 'upsert', keys => ARRAY['id'], max_offsets_per_trigger => 2);
});

sub wait_for { return wait_for_value($node, 'postgres', @_, 60); }

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
my $keyed = 0;
# key|value lines; an empty value is a tombstone (kcat -Z)
sub produce_keyed
{
	my (@lines) = @_;
	open(my $fh, '|-', 'kcat', '-q', '-P', '-Z', '-b', $bs, '-t', 'keyed', '-p', '0', '-K', '|')
	  or die "kcat: $!";
	print $fh join("\n", @lines) . "\n";
	close($fh) or die "kcat failed";
	$keyed += @lines;
}

my $offsets = q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = '%s'::regclass};
my $rows = q{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) FROM up_events};
my $state = q{SELECT string_agg(format('%s=%s', id, v), ',' ORDER BY id) FROM keyed_state};

produce_good(3000);
produce_bad('not json', '{"event_id": "x"');
produce_good(2000);
produce_keyed('a|{"v": 1}', 'b|{"v": 2}', 'c|{"v": 3}', 'b|');
my $total = $good + $bad;
ok(wait_for(sprintf($offsets, 'up_events'), "$total", 'before'), 'the append stream runs on 0.3');
ok(wait_for(sprintf($offsets, 'keyed_state'), "$keyed", 'keyed before'), 'the keyed stream runs on 0.3');
is($node->safe_psql('postgres', $state), 'a=1,c=3', 'upserts and a tombstone applied on 0.3');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters}), "$bad", 'dead letters before the update');

# update while the workers ingest what keeps coming
produce_good(5000);
produce_keyed('a|{"v": 10}', 'd|{"v": 4}');
$node->safe_psql('postgres', q{ALTER EXTENSION kafka_fdw UPDATE});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	$node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'kafka_fdw'}),
	'updated to the current version');
produce_bad('still not json');
produce_good(5000);
produce_keyed('c|', 'e|{"v": 5}');
$total = $good + $bad;
ok(wait_for(sprintf($offsets, 'up_events'), "$total", 'after'), 'the append stream runs on after the update');
ok(wait_for(sprintf($offsets, 'keyed_state'), "$keyed", 'keyed after'), 'the keyed stream runs on after the update');
is($node->safe_psql('postgres', $rows), "$good $good", 'every record exactly once across the update');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || count(DISTINCT ("partition", "offset")) FROM kafka.dead_letters}),
	"$bad $bad", 'dead letters kept and added once');
is($node->safe_psql('postgres', $state), 'a=10,d=4,e=5', 'the keyed table holds the last change per key');
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s %s %s %s', target, state, mode, schema_evolution), ',' ORDER BY target::text) FROM kafka.streaming_tables}),
	'keyed_state active upsert none,up_events active append none', 'streams kept, with the new options at their defaults');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'}),
	'2', 'both workers still running');

# the new function on the updated catalog: a running stream altered
$node->safe_psql('postgres', q{SELECT kafka.alter_streaming_table('up_events', maxOffsetsPerTrigger => 300, on_error => 'skip')});
produce_bad('skipped now');
produce_good(2000);
$total = $good + $bad;
ok(wait_for(sprintf($offsets, 'up_events'), "$total", 'altered'), 'the altered stream runs on');
is($node->safe_psql('postgres', $rows), "$good $good", 'every record exactly once across the alter');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters}), $bad - 1,
	'the bad record after the alter is skipped, not dead-lettered');
is($node->safe_psql('postgres', q{SELECT max_offsets_per_trigger || ' ' || on_error || ' ' || (altered_at IS NOT NULL)
	FROM kafka.streaming_tables WHERE target = 'up_events'::regclass}), '300 skip true', 'the catalog says so');
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no server process crashed');

ok(extension_equals_fresh_install($node, 'postgres', undef), 'updated extension objects equal a fresh install');

# the updated database dumps and restores
my $dumpfile = PostgreSQL::Test::Utils::tempdir() . '/upgraded.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dumpfile, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dumpfile ], 'pg_restore');
my $catalog = q{SELECT string_agg(format('%s %s %s %s %s %s', target, state, mode, max_offsets_per_trigger,
	on_error, schema_evolution), ',' ORDER BY target::text),
	(SELECT sum(next_offset) FROM kafka.stream_offsets), (SELECT count(*) FROM kafka.dead_letters),
	(SELECT count(*) FROM kafka.stream_tombstones)
	FROM kafka.streaming_tables};
is($node->safe_psql('restored', $catalog), $node->safe_psql('postgres', $catalog), 'catalog restored');
$node->safe_psql('restored', q{SELECT kafka.pause_streaming_table(target) FROM kafka.streaming_tables});
$node->safe_psql('postgres', 'DROP DATABASE restored');

done_testing();
