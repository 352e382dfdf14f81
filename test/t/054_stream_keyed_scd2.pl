# Keyed streaming tables stored as SCD type 2: each key's versions
# [__start_at, __end_at) equal the replay of all its changes by sequence,
# whatever order and batches they arrive in; tracked columns open versions,
# untracked ones change in place; deletes close versions and are remembered.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('scd2', broker => $broker);
$broker->create_topic('h', 1);

sub send_records
{
	my ($topic, @lines) = @_;
	kcat_produce_keyed($bs, $topic, \@lines, '-p', '0', '-Z');
	return;
}

sub history
{
	$node->safe_psql('postgres', "CALL kafka.refresh_streaming_table('h')");
	return $node->safe_psql('postgres', q{
		SELECT id || ' [' || __start_at || ',' || coalesce(__end_at::text, '') || ') ' || v
		       || coalesce(' ' || note, '')
		  FROM h ORDER BY id, __start_at});
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE FOREIGN TABLE h_topic (id int, v text, note text, seq bigint, op text)
	  SERVER k OPTIONS (topic 'h', format 'json');
	CREATE TABLE h (id int, v text, note text, __start_at bigint, __end_at bigint,
	  PRIMARY KEY (id, __start_at));
	SELECT kafka.create_streaming_table('h', source => 'h_topic', trigger => 'available_now',
	  mode => 'cdc', keys => ARRAY['id'], sequence_by => 'seq', apply_as_deletes => 'op = ''d''',
	  stored_as_scd_type => 2, track_history_columns => ARRAY['v'],
	  except_columns => ARRAY['seq', 'op']);});

send_records('h', '|{"id":1,"v":"a","seq":1}', '|{"id":1,"v":"b","seq":3}', '|{"id":2,"v":"x","seq":2}');
is(history(), "1 [1,3) a\n1 [3,) b\n2 [2,) x", 'an update closes the version and opens the next');
is($node->safe_psql('postgres', q{SELECT last_batch_inserted || ' ' || last_batch_updated || ' ' || last_batch_deleted
	FROM kafka.streaming_tables WHERE target = 'h'::regclass}), '3 0 0', 'counters: versions inserted');

send_records('h', '|{"id":1,"v":"c","seq":2}', '|{"id":2,"v":"x","note":"n2","seq":4}',
	'|{"id":2,"v":"y","seq":2}', '|{"id":1,"seq":5,"op":"d"}');
is(history(), "1 [1,2) a\n1 [2,3) c\n1 [3,5) b\n2 [2,) x n2",
	'a late change splits the history; an untracked column changes in place; a delete closes; a change at an existing start is ignored');

send_records('h', '|{"id":1,"v":"d","seq":4}', '|{"id":3,"seq":9,"op":"d"}');
is(history(), "1 [1,2) a\n1 [2,3) c\n1 [3,4) b\n1 [4,5) d\n2 [2,) x n2",
	'a change older than a delete goes before it');
send_records('h', '|{"id":3,"v":"z","seq":8}', '|{"id":1,"v":"e","seq":7}');
is(history(), "1 [1,2) a\n1 [2,3) c\n1 [3,4) b\n1 [4,5) d\n1 [7,) e\n2 [2,) x n2\n3 [8,9) z",
	'a remembered delete closes a version that arrives after it');
is($node->safe_psql('postgres', q{SELECT key::text || ' ' || sequence FROM kafka.stream_tombstones
	WHERE cardinality(key) = 1 ORDER BY 1}),
	"{1} 5\n{3} 9", 'every delete is remembered');
is($node->safe_psql('postgres', q{SELECT key::text || ' ' || sequence FROM kafka.stream_tombstones
	WHERE cardinality(key) = 2 ORDER BY 1}),
	'{2,"absorbed upsert"} 4', 'and every upsert that opened no version');

# a stored version absorbed by a late change with its values is remembered
# as well: a delete arriving later between the two reopens it at its start
send_records('h', '|{"id":4,"v":"p","seq":10}', '|{"id":4,"v":"q","seq":20}', '|{"id":4,"v":"q","seq":30}');
like(history(), qr/^4 \[10,20\) p\n4 \[20,\) q$/m, 'a change with the values of the version before it opens none');
send_records('h', '|{"id":4,"v":"q","seq":15}');
like(history(), qr/^4 \[10,15\) p\n4 \[15,\) q$/m, 'a late change with the values of the next version absorbs it');
send_records('h', '|{"id":4,"seq":18,"op":"d"}');
like(history(), qr/^4 \[10,15\) p\n4 \[15,18\) q\n4 \[20,\) q$/m,
	'a delete between them reopens the absorbed version at its own start');

# the same changes in another order, in one batch, give the same history
$node->safe_psql('postgres', q{
	CREATE TABLE h2 (LIKE h INCLUDING INDEXES);
	SELECT kafka.create_streaming_table('h2', source => 'h_topic', trigger => 'available_now',
	  mode => 'cdc', keys => ARRAY['id'], sequence_by => 'seq', apply_as_deletes => 'op = ''d''',
	  stored_as_scd_type => 2, track_history_columns => ARRAY['v'],
	  except_columns => ARRAY['seq', 'op']);
	CALL kafka.refresh_streaming_table('h2');});
is($node->safe_psql('postgres', q{SELECT count(*) FROM (SELECT * FROM h EXCEPT SELECT * FROM h2) a}) . ' '
	. $node->safe_psql('postgres', q{SELECT count(*) FROM h2}), '0 10', 'in one batch: the same history');

# --- out of order over many batches: the tables equal a reference replay
# computed here (SCD 1: each key's change with the greatest sequence,
# deletes included; SCD 2: the history the replay rules give).  Two
# topics: many keys with changes moved a little, and few keys with two
# values and changes moved far (late changes absorbing stored versions,
# deletes arriving between them), each cut into small and larger batches.
sub random_changes
{
	my ($topic, $n, $keys, $values, $window) = @_;
	$broker->create_topic($topic, 1);
	my @seqs = (0 .. $n - 1);
	for my $i (0 .. $n - 1)
	{
		my $j = $i + int(rand($window));
		$j = $n - 1 if $j > $n - 1;
		@seqs[ $i, $j ] = @seqs[ $j, $i ] if rand() < 0.3;
	}
	my (@changes, @lines);
	for my $i (0 .. $n - 1)
	{
		my $c = { id => int(rand($keys)), seq => $seqs[$i], op => (rand() < 0.15 ? 'd' : 'u'),
			v => 'v' . int(rand($values)) };
		push @changes, $c;
		push @lines, $c->{op} eq 'd'
		  ? qq(|{"id":$c->{id},"seq":$c->{seq},"op":"d"})
		  : qq(|{"id":$c->{id},"v":"$c->{v}","seq":$c->{seq},"op":"u"});
	}
	send_records($topic, @lines);

	my (%last, %events);
	for my $c (@changes)
	{
		$last{ $c->{id} } = $c if !$last{ $c->{id} } || $c->{seq} > $last{ $c->{id} }{seq};
		push @{ $events{ $c->{id} } }, $c;
	}
	my @scd1 = map { "$_|$last{$_}{v}|$last{$_}{seq}" }
	  grep { $last{$_}{op} eq 'u' } sort { $a <=> $b } keys %last;
	my @scd2;
	for my $id (sort { $a <=> $b } keys %events)
	{
		my (@versions, $current);
		for my $e (sort { $a->{seq} <=> $b->{seq} } @{ $events{$id} })
		{
			if ($e->{op} eq 'd')
			{
				$current->{end} = $e->{seq} if $current;
				undef $current;
				next;
			}
			next if grep { $_->{start} == $e->{seq} } @versions;
			next if $current && $current->{v} eq $e->{v};
			$current->{end} = $e->{seq} if $current;
			$current = { start => $e->{seq}, end => '', v => $e->{v} };
			push @versions, $current;
		}
		push @scd2, map { "$id|$_->{start}|$_->{end}|$_->{v}" } @versions;
	}
	$node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE ${topic}_topic (id int, v text, seq bigint, op text)
		  SERVER k OPTIONS (topic '$topic', format 'json');});
	return (join("\n", @scd1), join("\n", @scd2));
}

# a stream of the topic into a new table, refreshed to the end: its rows
sub stream_over
{
	my ($topic, $table, $scd, $batch) = @_;
	my $columns = $scd == 1 ? 'id int PRIMARY KEY, v text, seq bigint'
	  : 'id int, v text, __start_at bigint, __end_at bigint, PRIMARY KEY (id, __start_at)';
	my $stored = $scd == 1 ? '' : q{stored_as_scd_type => 2, except_columns => ARRAY['seq', 'op'],};
	my $order = $scd == 1 ? 'id' : 'id, __start_at';
	my $select = $scd == 1 ? 'id, v, seq' : q{id, __start_at, coalesce(__end_at::text, ''), v};
	$node->safe_psql('postgres', qq{
		CREATE TABLE $table ($columns);
		SELECT kafka.create_streaming_table('$table', source => '${topic}_topic', trigger => 'available_now',
		  mode => 'cdc', keys => ARRAY['id'], sequence_by => 'seq', apply_as_deletes => 'op = ''d''',
		  $stored max_offsets_per_trigger => $batch);
		CALL kafka.refresh_streaming_table('$table');});
	return $node->safe_psql('postgres', "SELECT $select FROM $table ORDER BY $order");
}

srand(20261205);
my ($scd1, $scd2) = random_changes('r', 3000, 150, 3, 40);
is(stream_over('r', 'r1', 1, 170), $scd1, 'SCD 1 over 18 batches out of order equals the reference');
is(stream_over('r', 'r2', 2, 170), $scd2, 'SCD 2 over 18 batches out of order equals the reference history');
is(stream_over('r', 'r3', 2, 13), $scd2, 'SCD 2 over 231 batches out of order equals the reference history');
($scd1, $scd2) = random_changes('s', 3000, 40, 2, 400);
is(stream_over('s', 's1', 1, 7), $scd1, 'SCD 1 of few keys moved far, 429 batches');
is(stream_over('s', 's2', 2, 7), $scd2, 'SCD 2 of few keys moved far, 429 batches');
is(stream_over('s', 's3', 2, 97), $scd2, 'SCD 2 of few keys moved far, 31 batches');

# refusals
$node->safe_psql('postgres', q{
	CREATE TABLE h3 (id int PRIMARY KEY, v text);});
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT kafka.create_streaming_table('h3', source => 'h_topic',
	trigger => 'available_now', mode => 'cdc', keys => ARRAY['id'], sequence_by => 'seq', stored_as_scd_type => 2)});
like($err, qr/stored as SCD type 2 needs a column "__start_at" of the type of its sequence/, 'SCD 2 target without __start_at');

unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no process crashed');

done_testing();
