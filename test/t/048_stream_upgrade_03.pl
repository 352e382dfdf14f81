# ALTER EXTENSION kafka_fdw UPDATE from 0.2 (the released version, installed
# from its frozen script) to the current version, with continuous streams
# running: every record lands exactly once across the update, streams,
# offsets and dead letters are kept, keyed streams work on the updated
# catalog, and its objects are those of a fresh install.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('upgrade03', broker => $broker, create_extension => 0);
$broker->create_topic('up', 2);
$broker->create_topic('keyed', 2);

$node->safe_psql('postgres', q{CREATE EXTENSION kafka_fdw VERSION '0.2'});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	'0.2', 'the released version installs');

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
ok(wait_for('postgres', sprintf($offsets, 'up_events'), "$total", 'before'), 'dead_letter stream runs on 0.2');
ok(wait_for('postgres', sprintf($offsets, 'up_transformed'), "$total", 'before'), 'transform stream runs on 0.2');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters}), "$bad", 'dead letters before the update');

# update while the workers ingest what keeps coming
produce_good(5000);
$node->safe_psql('postgres', q{ALTER EXTENSION kafka_fdw UPDATE});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	$node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'kafka_fdw'}),
	'updated to the current version');
produce_bad('still not json');
produce_good(5000);
$total = $good + $bad;
ok(wait_for('postgres', sprintf($offsets, 'up_events'), "$total", 'after'), 'dead_letter stream runs on after the update');
ok(wait_for('postgres', sprintf($offsets, 'up_transformed'), "$total", 'after'), 'transform stream runs on after the update');
is($node->safe_psql('postgres', sprintf($rows, 'up_events')), "$good $good", 'every record exactly once across the update');
is($node->safe_psql('postgres', sprintf($rows, 'up_transformed')), "$good $good", 'transform: every record exactly once');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || count(DISTINCT ("partition", "offset")) FROM kafka.dead_letters WHERE stream = 'up_events'::regclass}),
	"$bad $bad", 'dead letters kept and added once');
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s %s %s', target, state, mode), ',' ORDER BY target::text) FROM kafka.streaming_tables}),
	'up_events active append,up_transformed active append', 'streams kept, active, append streams');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'}),
	'2', 'both workers still running');
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no server process crashed');

# a keyed stream on the updated catalog: last change per key, deletes applied
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE keyed_topic (id text OPTIONS (kafka 'key'), v int, seq bigint)
	  SERVER k OPTIONS (topic 'keyed', format 'json');
	CREATE TABLE keyed_state (id text PRIMARY KEY, v int, seq bigint);
	SELECT kafka.create_streaming_table('keyed_state', source => 'keyed_topic',
	  trigger => 'available_now', mode => 'upsert', keys => ARRAY['id'], sequence_by => 'seq');});
open(my $fh, '|-', 'kcat', '-q', '-P', '-b', $bs, '-t', 'keyed', '-p', '0', '-K', '|') or die "kcat: $!";
print $fh join("\n", 'a|{"v": 1, "seq": 1}', 'b|{"v": 2, "seq": 1}', 'a|{"v": 3, "seq": 3}',
	'a|{"v": 9, "seq": 2}', 'c|{"v": 5, "seq": 1}') . "\n";
close($fh) or die "kcat failed";
$node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('keyed_state')});
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s=%s@%s', id, v, seq), ',' ORDER BY id) FROM keyed_state}),
	'a=3@3,b=2@1,c=5@1', 'an upsert stream works on the updated catalog');

ok(extension_equals_fresh_install($node, 'postgres', undef), 'updated extension objects equal a fresh install');

done_testing();
