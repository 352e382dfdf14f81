# ALTER EXTENSION kafka_fdw UPDATE from 0.5 (installed from its frozen
# script) to the current version with streams running: a stream into a
# table, one into a table with a dead-letter topic, and two into kafka
# foreign tables (one with its group_id given).
#   - Before the update (the 0.5 catalog under the new library) the streams
#     run, a stream into a table commits no consumer group, and what needs
#     0.6 is refused: commit_offsets_to_group is not in the signatures, a
#     group_id for a stream into a table asks for the update.
#   - The update fills group_id: the streams with a Kafka transaction get
#     exactly the name they have used (their offsets there tell them, after
#     a crash, what Kafka already holds), the stream into a table one named
#     after it; a given group_id is kept.
#   - After it every stream runs on, every record lands once in the table,
#     and the stream into a table mirrors its offsets to its new group (read
#     by an independent client); the objects are those of a fresh install.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('upgrade06', broker => $broker, create_extension => 0,
	conf => 'kafka_fdw.max_stream_workers = 8');
$broker->create_topic($_, 2) for qw(src out_a out_b dlq);

$node->safe_psql('postgres', q{CREATE EXTENSION kafka_fdw VERSION '0.5'});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	'0.5', 'the released version installs');

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE src_topic (event_id bigint, user_id int,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'src', format 'json');
	CREATE FOREIGN TABLE out_a (event_id bigint, user_id int) SERVER k OPTIONS (topic 'out_a', format 'json');
	CREATE FOREIGN TABLE out_b (event_id bigint, user_id int) SERVER k OPTIONS (topic 'out_b', format 'json');
	SELECT kafka.create_streaming_table('t_plain', source => 'src_topic', max_offsets_per_trigger => 500);
	SELECT kafka.create_streaming_table('t_dlt', source => 'src_topic', dead_letter_topic => 'dlq',
	  max_offsets_per_trigger => 500);
	SELECT kafka.create_streaming_table('out_a', source => 'src_topic', max_offsets_per_trigger => 500);
	SELECT kafka.create_streaming_table('out_b', source => 'src_topic', group_id => 'named_group',
	  max_offsets_per_trigger => 500);
});

sub query { return $node->safe_psql('postgres', @_); }
sub wait_for { return wait_for_value($node, 'postgres', @_, 120); }

my $produced = 0;
sub produce_more
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'src', count => $n, start => $produced, json => 1, partitions => 2);
	$produced += $n;
	return;
}

my $offsets = q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = '%s'::regclass};
my @streams = qw(t_plain t_dlt out_a out_b);
sub all_consumed
{
	my ($what) = @_;
	my $ok = 1;
	$ok &&= wait_for(sprintf($offsets, $_), "$produced", "$_ $what") for @streams;
	return $ok;
}

sub group_offsets
{
	my ($group) = @_;
	return join ',', map { "$_->[0]:$_->[1]" } @{ consumer_group_offsets($bs, $group, 'src', 2) };
}
sub catalog_offsets
{
	my ($stream) = @_;
	return query(qq{SELECT string_agg("partition" || ':' || next_offset, ',' ORDER BY "partition")
		FROM kafka.stream_offsets WHERE stream = '$stream'::regclass});
}

produce_more(3000);
ok(all_consumed('before'), 'the streams run on 0.5');
is(group_offsets('kafka_fdw.postgres.public.t_plain'), '0:-1001,1:-1001',
	'on 0.5 a stream into a table commits no consumer group');
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('nope', source => 'src_topic', commit_offsets_to_group => false)});
like($stderr, qr/function kafka\.create_streaming_table\(.*commit_offsets_to_group => boolean\) does not exist/,
	'create takes no commit_offsets_to_group on 0.5');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SELECT kafka.alter_streaming_table('t_plain', group_id => 'other')});
like($stderr, qr/group_id and commit_offsets_to_group need the 0\.6 catalog of kafka_fdw/,
	'alter asks for the update to give a stream into a table a group_id');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('nope', source => 'src_topic', group_id => 'other')});
like($stderr, qr/group_id for a stream into a table, need the 0\.6 catalog of kafka_fdw/,
	'so does create');
is(query(q{SELECT string_agg(coalesce(group_id, '-'), ',' ORDER BY target::text) FROM kafka.streaming_tables}),
	'-,named_group,-,-', 'on 0.5 only the given group_id is stored');

# the names the streams with a Kafka transaction use on 0.5
sub derived_group
{
	my ($target) = @_;
	return query(qq{SELECT format('kafka_fdw-%s-%s-%s', (SELECT system_identifier FROM pg_control_system()),
		(SELECT oid FROM pg_database WHERE datname = current_database()), '$target'::regclass::oid)});
}
my $out_a_group = derived_group('out_a');
my $t_dlt_group = derived_group('t_dlt');

# update while the workers ingest what keeps coming
my $bg = start_produce(broker => $broker, topic => 'src', count => 10000, start => $produced, json => 1,
	partitions => 2);
$produced += 10000;
query(q{ALTER EXTENSION kafka_fdw UPDATE});
is(query(q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	query(q{SELECT default_version FROM pg_available_extensions WHERE name = 'kafka_fdw'}),
	'updated to the current version');
finish_produce($bg);
is(query(q{SELECT string_agg(target || ' ' || group_id || ' ' || commit_offsets_to_group, ',' ORDER BY target::text)
	FROM kafka.streaming_tables}),
	"out_a $out_a_group true,out_b named_group true,t_dlt $t_dlt_group true,t_plain kafka_fdw.postgres.public.t_plain true",
	'group_id filled: the names in use for streams with a Kafka transaction, a new one for the table');

produce_more(2000);
ok(all_consumed('after'), 'every stream runs on after the update');
is(query(q{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) FROM t_plain}), "$produced $produced",
	'every record once in the table across the update');
is(query(q{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) FROM t_dlt}), "$produced $produced",
	'and in the one with a dead-letter topic');
{
	my ($catalog, $group) = ('', '');
	for (1 .. 600)
	{
		$catalog = catalog_offsets('t_plain');
		$group = group_offsets('kafka_fdw.postgres.public.t_plain');
		last if $group eq $catalog;
		usleep(100_000);
	}
	is($group, $catalog, 'the stream into a table mirrors its offsets to its group after the update');
}
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no server process crashed');
ok(extension_equals_fresh_install($node, 'postgres', undef), 'updated extension objects equal a fresh install');

done_testing();
