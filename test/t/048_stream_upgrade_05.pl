# ALTER EXTENSION kafka_fdw UPDATE from 0.4 (the released version, installed
# from its frozen script) to the current version, with streams running
# while records keep arriving: an append stream (with dead letters in
# kafka.dead_letters), a keyed stream (mode 'cdc', its deletes remembered
# in kafka.stream_tombstones) and a stream with schema_evolution
# 'add_columns'.
#   - Before the update (the 0.4 catalog under the new library) the 0.4
#     functions work (alter, pause, resume, create), a stream into a kafka
#     foreign table can be created with them, and the 0.5 options cannot be
#     given: they are not in the 0.4 signatures, and alter_streaming_table's
#     reset refuses them, asking for the update.
#   - Across the update every record lands exactly once (in the tables, and
#     in the output topic by its kafka_fdw.source header); streams, offsets,
#     dead letters and tombstones are kept.
#   - On the updated catalog the 0.5 options work: a stream into a kafka
#     foreign table with a dead_letter_topic, a dead_letter_topic given by
#     alter_streaming_table to a stream created on 0.4, source_header and
#     dead_letter_topic set and reset each on its own; the output checked
#     with an independent reader (kcat).
#   - A view calling read_kafka with a bigint timestamp survives the update
#     (0.6 makes the timestamps "any"), and so does its dump.
#   - The streams get their consumer groups (0.6): the stream into kafka the
#     one it used, the others one named after them, which then holds the
#     catalog's offsets.
#   - Its objects are those of a fresh install, and the updated database
#     dumps and restores.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
# a worker for every stream: none waits for one
my $node = new_node('upgrade05', broker => $broker, create_extension => 0,
	conf => 'kafka_fdw.max_stream_workers = 8');
$broker->create_topic('up', 2);
$broker->create_topic('keyed', 1);
$broker->create_topic('evo', 1);
$broker->create_topic($_, 2) for qw(relay relay_new relay_dlq up_dlq);

$node->safe_psql('postgres', q{CREATE EXTENSION kafka_fdw VERSION '0.4'});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	'0.4', 'the released version installs');

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	-- read_kafka's timestamps become "any" in 0.6: a view calling it with
	-- a bigint must survive the update
	CREATE VIEW up_until_2100 AS SELECT "partition", "offset"
	  FROM kafka.read_kafka(server => 'k', subscribe => 'up', endingTimestamp => 4102444800000);
	CREATE FOREIGN TABLE up_topic (event_id bigint, user_id int,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'up', format 'json');
	SELECT kafka.create_streaming_table('up_events', source => 'up_topic',
	  on_error => 'dead_letter', max_offsets_per_trigger => 1000);
	CREATE FOREIGN TABLE keyed_topic (id text, v int, seq bigint, op text)
	  SERVER k OPTIONS (topic 'keyed', format 'json');
	CREATE TABLE keyed_state (id text PRIMARY KEY, v int, seq bigint);
	SELECT kafka.create_streaming_table('keyed_state', source => 'keyed_topic',
	  mode => 'cdc', keys => ARRAY['id'], sequence_by => 'seq', apply_as_deletes => 'op = ''d''',
	  max_offsets_per_trigger => 2);
	CREATE FOREIGN TABLE evo_topic (id int, a int,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'evo', format 'json');
	SELECT kafka.create_streaming_table('evo_events', source => 'evo_topic',
	  schema_evolution => 'add_columns', max_offsets_per_trigger => 100);
});

sub wait_for { return wait_for_value($node, 'postgres', @_, 60); }

my $good = 0;
my $bad = 0;
my @bad_lines;
sub produce_good
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'up', count => $n, start => $good, json => 1, partitions => 2);
	$good += $n;
}
sub kcat_produce
{
	my ($topic, @lines) = @_;
	open(my $fh, '|-', 'kcat', '-q', '-P', '-b', $bs, '-t', $topic, '-p', '0') or die "kcat: $!";
	print $fh join("\n", @lines) . "\n";
	close($fh) or die "kcat failed";
	return scalar(@lines);
}
sub produce_bad { push @bad_lines, @_; $bad += kcat_produce('up', @_); }
my $keyed = 0;
# changes: id=v@seq, or id=d@seq for a delete
sub produce_keyed
{
	$keyed += kcat_produce('keyed', map {
		my ($id, $v, $seq) = /^(\w+)=(\w+)\@(\d+)$/ or die "bad change $_";
		$v eq 'd' ? qq({"id": "$id", "seq": $seq, "op": "d"}) : qq({"id": "$id", "v": $v, "seq": $seq})
	} @_);
}
my $evo = 0;
sub produce_evo { $evo += kcat_produce('evo', @_); }

# a topic read back by kcat: [ [ headers, value ], ... ]
sub read_topic
{
	my ($topic) = @_;
	my ($ok, $out, $err) = run_cmd([ 'kcat', '-C', '-b', $bs, '-t', $topic, '-e', '-q',
		'-o', 'beginning', '-f', '%h\t%s\n' ], 300);
	die "kcat -C failed: $err" unless $ok;
	return [ map { [ split /\t/, $_, 2 ] } split /\n/, $out ];
}

sub query { return $node->safe_psql('postgres', @_); }

# the output topic of a stream from up_topic holds each good record of up
# exactly once, named by its source header: '' when it does, else what is wrong
sub check_output
{
	my ($topic) = @_;
	my %want = map { split / /, $_, 2 } split /\n/, query(q{
		SELECT string_agg(format('up/%s/%s {"event_id":%s,"user_id":%s}', _partition, _offset,
		                         event_id, user_id), E'\n') FROM up_events});
	my %got;
	for my $record (@{ read_topic($topic) })
	{
		my ($source) = ($record->[0] // '') =~ m{(?:^|,)kafka_fdw\.source=(up/\d+/\d+)(?:,|$)};
		push @{ $got{ $source // 'none' } }, $record->[1];
	}
	my @problems;
	for my $case ([ 'missing', grep { !$got{$_} } keys %want ], [ 'without its input', grep { !$want{$_} } keys %got ],
		[ 'more than once', grep { @{ $got{$_} } > 1 } keys %got ],
		[ 'different', grep { $got{$_} && $want{$_} && $got{$_}[0] ne $want{$_} } keys %want ])
	{
		my ($what, @sources) = @$case;
		push @problems, scalar(@sources) . " $what (such as $sources[0])" if @sources;
	}
	push @problems, 'up_events has ' . scalar(keys %want) . " rows, not $good" if keys %want != $good;
	return join('; ', @problems);
}

my $offsets = q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = '%s'::regclass};
my $rows = q{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) FROM up_events};
my $state = q{SELECT string_agg(format('%s=%s', id, v), ',' ORDER BY id) FROM keyed_state};
my $tombstones = q{SELECT string_agg(key[1] || '@' || sequence, ',' ORDER BY key) FROM kafka.stream_tombstones};
my $workers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'};

produce_good(3000);
produce_bad('not json', '{"event_id": "x"');
produce_good(2000);
produce_keyed('a=1@1', 'b=2@1', 'c=3@1', 'b=d@3');
produce_evo(map { qq({"id": $_, "a": $_}) } 1 .. 300);
my $total = $good + $bad;
ok(wait_for(sprintf($offsets, 'up_events'), "$total", 'before'), 'the append stream runs on 0.4');
ok(wait_for(sprintf($offsets, 'keyed_state'), "$keyed", 'keyed before'), 'the keyed stream runs on 0.4');
ok(wait_for(sprintf($offsets, 'evo_events'), "$evo", 'evo before'), 'the evolving stream runs on 0.4');
is(query($state), 'a=1,c=3', 'upserts and a delete applied on 0.4');
is(query($tombstones), 'b@3', 'the delete remembered');
is(query(q{SELECT count(*) FROM kafka.dead_letters}), "$bad", 'dead letters before the update');

# the 0.4 catalog under the new library: its functions work ...
query(q{SELECT kafka.alter_streaming_table('evo_events', maxOffsetsPerTrigger => 50);
	SELECT kafka.pause_streaming_table('evo_events');});
ok(wait_for($workers, '2', 'paused'), 'a paused stream stops on 0.4');
produce_evo(map { qq({"id": $_, "a": $_}) } 301 .. 400);
query(q{SELECT kafka.resume_streaming_table('evo_events')});
ok(wait_for(sprintf($offsets, 'evo_events'), "$evo", 'evo resumed'), 'and resumes');
is(query(q{SELECT max_offsets_per_trigger || ' ' || state || ' ' || (altered_at IS NOT NULL)
	FROM kafka.streaming_tables WHERE target = 'evo_events'::regclass}), '50 active true',
	'alter_streaming_table works on the 0.4 catalog');
# ... also to create a stream into a kafka foreign table (it needs no
# column of 0.5: its transaction's names are derived from the stream) ...
query(q{CREATE FOREIGN TABLE relay (event_id bigint, user_id int) SERVER k OPTIONS (topic 'relay', format 'json');
	SELECT kafka.create_streaming_table('relay', source => 'up_topic', on_error => 'dead_letter',
	  max_offsets_per_trigger => 3000);});
ok(wait_for(sprintf($offsets, 'relay'), "$total", 'relay before'), 'a stream into a kafka foreign table runs on 0.4');
is(check_output('relay'), '', 'every good record in its output once, named by its source header');
is(query(q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'relay'::regclass}), "$bad",
	'the bad ones in kafka.dead_letters');
# ... but the 0.5 options are not in their signatures
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('nope', source => 'up_topic', dead_letter_topic => 'up_dlq')});
like($stderr, qr/function kafka\.create_streaming_table\(.*dead_letter_topic => unknown\) does not exist/,
	'create takes no dead_letter_topic on 0.4');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SELECT kafka.alter_streaming_table('up_events', dead_letter_topic => 'up_dlq')});
like($stderr, qr/function kafka\.alter_streaming_table\(.*dead_letter_topic => unknown\) does not exist/,
	'alter takes no dead_letter_topic on 0.4');
# reset names options: those of 0.5 are refused on the 0.4 catalog
for my $option (qw(dead_letter_topic source_header))
{
	($ret, $stdout, $stderr) = $node->psql('postgres', qq{
		SELECT kafka.alter_streaming_table('relay', reset => ARRAY['$option'])});
	like($stderr, qr/dead_letter_topic and source_header need the 0\.5 catalog of kafka_fdw/,
		"alter refuses to reset $option on 0.4");
}
is(query(q{SELECT string_agg(target::text, ',' ORDER BY target::text) FROM kafka.streaming_tables}),
	'evo_events,keyed_state,relay,up_events', 'and nothing was created');

# update while the workers ingest what keeps coming
my $bg = start_produce(broker => $broker, topic => 'up', count => 20000, start => $good, json => 1,
	partitions => 2);
$good += 20000;
produce_keyed('a=10@4', 'd=4@1');
query(q{ALTER EXTENSION kafka_fdw UPDATE});
is(query(q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	query(q{SELECT default_version FROM pg_available_extensions WHERE name = 'kafka_fdw'}),
	'updated to the current version');
finish_produce($bg);
produce_bad('still not json');
produce_good(5000);
# b's late older change must not bring it back: its tombstone is kept
produce_keyed('c=d@5', 'e=5@1', 'b=9@2');
# a new field: a new column
produce_evo(map { qq({"id": $_, "a": $_, "b": "b$_"}) } 401 .. 500);
$total = $good + $bad;
ok(wait_for(sprintf($offsets, 'up_events'), "$total", 'after'), 'the append stream runs on after the update');
ok(wait_for(sprintf($offsets, 'keyed_state'), "$keyed", 'keyed after'), 'the keyed stream runs on after the update');
ok(wait_for(sprintf($offsets, 'evo_events'), "$evo", 'evo after'), 'the evolving stream runs on after the update');
ok(wait_for(sprintf($offsets, 'relay'), "$total", 'relay after'), 'the stream into kafka runs on after the update');
is(query($rows), "$good $good", 'every record exactly once across the update');
is(query(q{SELECT count(*) FROM up_until_2100}), "$total",
	'a view calling read_kafka with a bigint timestamp works after the update');
is(query(q{SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'up',
	endingTimestamp => '2100-01-01 00:00:00+00')}), "$total", 'and read_kafka takes a timestamptz literal');
is(query(q{SELECT count(*) || ' ' || count(DISTINCT ("partition", "offset")) FROM kafka.dead_letters
	WHERE stream = 'up_events'::regclass}), "$bad $bad", 'dead letters kept and added once');
is(query($state), 'a=10,d=4,e=5', 'the keyed table holds the last change per key');
is(query($tombstones), 'b@3,c@5', 'tombstones kept and added');
is(query(q{SELECT count(*) || ' ' || count(DISTINCT _offset) || ' ' || sum(a) || ' '
	|| count(b) || ' ' || count(*) FILTER (WHERE b = 'b' || id) FROM evo_events}),
	"500 500 125250 100 100", 'the evolving stream: every record once, the new field a new column');
# the stream into kafka keeps the consumer group it used (derived from the
# cluster, the database and the target), the others get one named after them
my $relay_group = query(q{SELECT format('kafka_fdw-%s-%s-%s', (SELECT system_identifier FROM pg_control_system()),
	(SELECT oid FROM pg_database WHERE datname = current_database()), 'relay'::regclass::oid)});
is(query(q{SELECT string_agg(format('%s %s %s %s %s %s %s %s %s', target, state, mode, schema_evolution,
	coalesce(dead_letter_topic, '-'), coalesce(transactional_id, '-'), coalesce(group_id, '-'), source_header,
	commit_offsets_to_group), ',' ORDER BY target::text) FROM kafka.streaming_tables}),
	'evo_events active append add_columns - - kafka_fdw.postgres.public.evo_events t t,'
	  . 'keyed_state active cdc none - - kafka_fdw.postgres.public.keyed_state t t,'
	  . "relay active append none - - $relay_group t t,"
	  . 'up_events active append none - - kafka_fdw.postgres.public.up_events t t',
	'streams kept, with the new options at their defaults');
# the streams into tables mirror their offsets to their groups from now on
{
	my ($catalog, $group) = ('', '');
	for (1 .. 600)
	{
		$catalog = query(q{SELECT string_agg("partition" || ':' || next_offset, ',' ORDER BY "partition")
			FROM kafka.stream_offsets WHERE stream = 'up_events'::regclass});
		$group = join ',', map { "$_->[0]:$_->[1]" }
		  @{ consumer_group_offsets($bs, 'kafka_fdw.postgres.public.up_events', 'up', 2) };
		last if $group eq $catalog;
		usleep(100_000);
	}
	is($group, $catalog, 'after the update the consumer group holds the catalog\'s offsets');
}
is(query($workers), '4', 'the workers still running');

# the 0.5 options on the updated catalog: a stream into a kafka foreign
# table with a dead-letter topic ...
query(q{CREATE FOREIGN TABLE relay_new (event_id bigint, user_id int)
	  SERVER k OPTIONS (topic 'relay_new', format 'json');
	SELECT kafka.create_streaming_table('relay_new', source => 'up_topic', max_offsets_per_trigger => 4000,
	  dead_letter_topic => 'relay_dlq');});
ok(wait_for(sprintf($offsets, 'relay_new'), "$total", 'relay_new'), 'a stream with a dead_letter_topic runs');

# ... and a dead-letter topic given by alter_streaming_table to a stream
# created on 0.4
query(q{SELECT kafka.alter_streaming_table('up_events', dead_letter_topic => 'up_dlq', maxOffsetsPerTrigger => 300)});
produce_bad('to the topic now', 'and this');
produce_good(2000);
$total = $good + $bad;
ok(wait_for(sprintf($offsets, 'up_events'), "$total", 'altered'), 'the altered stream runs on');
is(query($rows), "$good $good", 'every record exactly once across the alter');
is(query(q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'up_events'::regclass}), $bad - 2,
	'the bad records after the alter are not in kafka.dead_letters');
my $dead = read_topic('up_dlq');
is(join(',', map { $_->[1] } @$dead), 'to the topic now,and this', 'but in the dead-letter topic');
is(scalar(grep { $_->[0] =~ /kafka_fdw\.stream=public\.up_events(?:,|$)/ && $_->[0] =~ /kafka_fdw\.error=/ } @$dead),
	2, 'with headers naming the stream and the error');
is(query(q{SELECT max_offsets_per_trigger || ' ' || on_error || ' ' || dead_letter_topic
	FROM kafka.streaming_tables WHERE target = 'up_events'::regclass}), '300 dead_letter up_dlq', 'the catalog says so');
# and source_header, set and reset (on a stream whose output is not read
# again: relay_new's output is read back below)
my $relay_options = q{SELECT coalesce(dead_letter_topic, '-') || ' ' || source_header
	FROM kafka.streaming_tables WHERE target = 'relay'::regclass};
query(q{SELECT kafka.alter_streaming_table('relay', source_header => false, dead_letter_topic => 'relay_dlq2')});
is(query($relay_options), 'relay_dlq2 false', 'alter sets dead_letter_topic and source_header');
query(q{SELECT kafka.alter_streaming_table('relay', reset => ARRAY['source_header'])});
is(query($relay_options), 'relay_dlq2 true', 'resets source_header');
query(q{SELECT kafka.alter_streaming_table('relay', reset => ARRAY['dead_letter_topic'])});
is(query($relay_options), '- true', 'and dead_letter_topic');

# the streams into kafka, read back
ok(wait_for(sprintf($offsets, 'relay'), "$total", 'relay again'), 'the streams into kafka follow');
ok(wait_for(sprintf($offsets, 'relay_new'), "$total", 'relay_new again'), 'both');
is(check_output('relay'), '',
	'the one created on 0.4: every good record once across the update, named by its source header');
is(query(q{SELECT count(*) || ' ' || count(DISTINCT ("partition", "offset")) FROM kafka.dead_letters
	WHERE stream = 'relay'::regclass}), "$bad $bad", 'its dead letters once in kafka.dead_letters');
is(check_output('relay_new'), '', 'the one created on the updated catalog: every good record once');
$dead = read_topic('relay_dlq');
is(join('|', sort map { $_->[1] } @$dead), join('|', sort @bad_lines), 'every bad record once in its dead-letter topic');
is(scalar(grep { $_->[0] =~ /(?:^|,)kafka_fdw\.stream=public\.relay_new(?:,|$)/ } @$dead), $bad,
	'with headers naming the stream');
is(query(q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'relay_new'::regclass}), '0',
	'not in kafka.dead_letters');
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no server process crashed');

ok(extension_equals_fresh_install($node, 'postgres', undef), 'updated extension objects equal a fresh install');

# the updated database dumps and restores
my $dumpfile = PostgreSQL::Test::Utils::tempdir() . '/upgraded.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dumpfile, '-d', $node->connstr('postgres') ], 'pg_dump');
query('CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dumpfile ], 'pg_restore');
my $catalog = q{SELECT string_agg(format('%s %s %s %s %s %s %s %s', target, state, mode, max_offsets_per_trigger,
	on_error, schema_evolution, dead_letter_topic, source_header), ',' ORDER BY target::text),
	(SELECT sum(next_offset) FROM kafka.stream_offsets), (SELECT count(*) FROM kafka.dead_letters),
	(SELECT string_agg(key[1] || '@' || sequence, ',' ORDER BY key) FROM kafka.stream_tombstones)
	FROM kafka.streaming_tables};
is($node->safe_psql('restored', $catalog), query($catalog), 'catalog restored');
is($node->safe_psql('restored', q{SELECT count(*) FROM up_until_2100}), "$total",
	'the view calling read_kafka restored');
$node->safe_psql('restored', q{SELECT kafka.pause_streaming_table(target) FROM kafka.streaming_tables});
query('DROP DATABASE restored');

done_testing();
