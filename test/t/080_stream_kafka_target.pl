# Streams that end in Kafka: a kafka foreign table as a streaming table's
# target.  Each batch's rows (after a transform joining a dimension table)
# are produced in one Kafka transaction with the batch's input offsets, each
# record carrying its input record's coordinates in the kafka_fdw.source
# header.  Checked with an independent reader (kcat):
#   - available_now with a stream-static join: the output equals the input
#     joined, record for record, by source header;
#   - continuous, the dimension updated while the stream runs: records
#     consumed after the update carry the new values;
#   - continuous under three SIGKILLs of the worker: every input record is
#     in the output (by source header), none is lost; the test broker does
#     not filter aborted transactions for read_committed readers, so a
#     record of a batch a kill interrupted may show twice here;
#   - what cannot work is refused: keyed modes, mismatched types.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('kafka_target', broker => $broker, conf => "restart_after_crash = on");
$broker->create_topic($_, 4) for qw(orders live);
# the test broker keeps ~100000 records per partition: enough partitions
$broker->create_topic($_, 8) for qw(enriched live_out);

sub send_records
{
	my ($topic, @lines) = @_;
	kcat_produce_keyed($bs, $topic, \@lines, '-Z');
	return;
}

# the output topic read back: source header => [values...]
sub read_output
{
	my ($topic) = @_;
	my ($ok, $out, $err) = run_cmd([ 'kcat', '-C', '-b', $bs, '-t', $topic, '-e', '-q',
		'-o', 'beginning', '-f', '%h\t%s\n' ], 300);
	die "kcat -C failed: $err" unless $ok;
	my %by_source;
	for my $line (split /\n/, $out)
	{
		my ($headers, $value) = split /\t/, $line, 2;
		my ($source) = ($headers // '') =~ /(?:^|,)kafka_fdw\.source=([^,]*)/;
		push @{ $by_source{ $source // '' } }, $value;
	}
	return \%by_source;
}

sub query { return query_retrying($node, @_); }

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE TABLE customers (customer int PRIMARY KEY, name text);
	INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 5) g;
	CREATE FOREIGN TABLE orders (id int, customer int, amount int,
		_topic text OPTIONS (kafka 'topic'), _partition int OPTIONS (kafka 'partition'),
		_offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'orders', format 'json');
	CREATE FOREIGN TABLE enriched (id int, customer int, amount int, name text)
	  SERVER k OPTIONS (topic 'enriched', format 'json');});

# --- available_now, a stream-static join
my @orders = map { sprintf('o%d|{"id":%d,"customer":%d,"amount":%d}', $_, $_, 1 + $_ % 5, $_ * 3) } 1 .. 500;
send_records('orders', @orders);
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('enriched', source => 'orders', trigger => 'available_now',
	  max_offsets_per_trigger => 120,
	  transform => 'SELECT o.id, o.customer, o.amount, c.name, o._topic, o._partition, o._offset
	                  FROM batch o JOIN customers c USING (customer)');
	CALL kafka.refresh_streaming_table('enriched');});
my $out = read_output('enriched');
my $input = $node->safe_psql('postgres', q{
	SELECT string_agg(_topic || '/' || _partition || '/' || _offset || ' ' ||
	                  format('{"id":%s,"customer":%s,"amount":%s,"name":"c%s"}',
	                         id, customer, amount, customer), E'\n' ORDER BY id)
	  FROM orders});
my %want = map { split / /, $_, 2 } split /\n/, $input;
is(scalar(keys %$out), 500, 'every input record has its record in the output');
is(scalar(grep { @{ $out->{$_} } != 1 } keys %$out), 0, 'each exactly once');
is(scalar(grep { ($out->{$_}[0] // '') ne ($want{$_} // 'missing') } keys %want), 0,
	'each equals its input record joined with the dimension');
is(query(q{SELECT last_batch_rows || ' ' || batch_id FROM kafka.streaming_tables
	WHERE target = 'enriched'::regclass}), '20 5', 'batches and rows counted');
is(query(q{SELECT count(*), min(batch_id), max(batch_id), sum(records), sum(rows_inserted), min(lag)
	FROM kafka.stream_history WHERE stream = 'enriched'::regclass}), '5|1|5|500|500|0',
	'each batch of the Kafka target has its row of kafka.stream_history');
is(query(q{SELECT total_records, total_rows, total_bytes > 0 FROM kafka.streaming_tables
	WHERE target = 'enriched'::regclass}), '500|500|t', 'and its totals');

# --- continuous, the dimension updated while the stream runs
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE live (id int, customer int, amount int,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'live', format 'json');
	CREATE FOREIGN TABLE live_out (id int, name text) SERVER k OPTIONS (topic 'live_out', format 'json');
	SELECT kafka.create_streaming_table('live_out', source => 'live', max_offsets_per_trigger => 500,
	  transform => 'SELECT o.id, c.name, o._partition, o._offset FROM batch o JOIN customers c USING (customer)');});

sub wait_consumed
{
	my ($stream, $count) = @_;
	my $seen = 0;
	for (1 .. 1200)
	{
		$seen = stream_consumed($node, $stream);
		return $seen if $seen >= $count;
		my $state = query(qq{SELECT state || ' ' || coalesce(last_error, '') FROM kafka.streaming_tables
			WHERE target = '$stream'::regclass});
		die "stream $stream: $state" if $state =~ /^failed/;
		usleep(100_000);
	}
	return $seen;
}

send_records('live', map { sprintf('l%d|{"id":%d,"customer":%d,"amount":1}', $_, $_, 1 + $_ % 5) } 1 .. 100);
is(wait_consumed('live_out', 100), 100, 'the worker consumed the first records');
$node->safe_psql('postgres', q{UPDATE customers SET name = 'new ' || name});
send_records('live', map { sprintf('l%d|{"id":%d,"customer":%d,"amount":1}', $_, $_, 1 + $_ % 5) } 101 .. 200);
is(wait_consumed('live_out', 200), 200, 'and those produced after the update');
$out = read_output('live_out');
my @values = map { @$_ } values %$out;
is(scalar(@values), 200, 'one output record per input record');
is(scalar(grep { /"id":(\d+)/ && $1 <= 100 && /"name":"c\d"/ } @values), 100,
	'records consumed before the update carry the old names');
is(scalar(grep { /"id":(\d+)/ && $1 > 100 && /"name":"new c\d"/ } @values), 100,
	'records consumed after it the new ones');
is(query(q{SELECT s.total_records, (SELECT sum(records) FROM kafka.stream_history h WHERE h.stream = s.target)
	FROM kafka.streaming_tables s WHERE target = 'live_out'::regclass}), '200|200',
	'the worker\'s batches into Kafka have their history and totals');

# --- three SIGKILLs while the worker produces
my $total = 200 + 100000;
send_records('live', map { sprintf('l%d|{"id":%d,"customer":%d,"amount":1}', $_, $_, 1 + $_ % 5) } 201 .. $total);
my $last = 200;
for my $round (1 .. 3)
{
	my $pid = stream_worker_pid($node, 'live_out');
	ok($pid, "round $round: worker running");
	my $now = $last;
	for (1 .. 1000)
	{
		$now = stream_consumed($node, 'live_out');
		last if $now >= $last + 2000;
		usleep(10_000);
	}
	kill 'KILL', $pid;
	note "round $round: killed worker $pid with $now of $total consumed";
	cmp_ok($now, '<', $total, "round $round: killed before the end of the topic");
	$last = $now;
	usleep(300_000);
	query('SELECT 1');
}
is(wait_consumed('live_out', $total), $total, 'after the kills the stream consumed every record');
$out = read_output('live_out');
my $sources = $node->safe_psql('postgres', q{
	SELECT string_agg('live/' || _partition || '/' || _offset || ' ' || id, E'\n') FROM live});
my %live = map { split / /, $_, 2 } split /\n/, $sources;
is(scalar(keys %live), $total, 'the input read back');
is(scalar(grep { !$out->{$_} } keys %live), 0, 'no input record is missing from the output');
is(scalar(grep { !$live{$_} } grep { $_ ne '' } keys %$out), 0, 'no output record without its input');
is(scalar(grep { my $id = $live{$_}; grep { !/"id":$id,/ } @{ $out->{$_} } } keys %live), 0,
	'every output record is its input record');
note 'records shown more than once (aborted transactions the test broker serves): '
  . scalar(grep { @{ $out->{$_} } > 1 } keys %$out);

# --- what a DBA does to the target of a non-superuser's stream while it
# runs: its topic changed, its server's user mapping dropped and created
# again, its server dropped
$broker->create_topic($_, 8) for qw(ops_out ops_out2);
$node->safe_psql('postgres', qq{
	CREATE SERVER k2 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE ROLE streamer NOLOGIN;
	GRANT USAGE ON SCHEMA kafka TO streamer;
	GRANT USAGE ON FOREIGN SERVER k, k2 TO streamer;
	CREATE USER MAPPING FOR streamer SERVER k OPTIONS (password_required 'false');
	CREATE USER MAPPING FOR streamer SERVER k2 OPTIONS (password_required 'false');
	GRANT SELECT ON live TO streamer;
	CREATE FOREIGN TABLE ops_out (id int, _partition int, _offset bigint)
	  SERVER k2 OPTIONS (topic 'ops_out', format 'json');
	ALTER FOREIGN TABLE ops_out OWNER TO streamer;
	SET ROLE streamer;
	SELECT kafka.create_streaming_table('ops_out', source => 'live', starting_offsets => 'latest',
	  transform => 'SELECT id, _partition, _offset FROM batch');
	RESET ROLE;});
my $ops_base = stream_consumed($node, 'ops_out');
send_records('live', map { sprintf('x%d|{"id":%d,"customer":1,"amount":1}', $_, $_) } 1 .. 100);
is(wait_consumed('ops_out', $ops_base + 100), $ops_base + 100, 'a stream into a second server runs');
$node->safe_psql('postgres', q{ALTER FOREIGN TABLE ops_out OPTIONS (SET topic 'ops_out2')});
send_records('live', map { sprintf('x%d|{"id":%d,"customer":1,"amount":1}', $_, $_) } 101 .. 200);
is(wait_consumed('ops_out', $ops_base + 200), $ops_base + 200, 'it goes on after its target moves to another topic');
is(scalar(keys %{ read_output('ops_out') }) . ' ' . scalar(keys %{ read_output('ops_out2') }), '100 100',
	'the records before in the old topic, those after in the new one');
$node->safe_psql('postgres', q{DROP USER MAPPING FOR streamer SERVER k2});
send_records('live', map { sprintf('x%d|{"id":%d,"customer":1,"amount":1}', $_, $_) } 201 .. 210);
my $ops_state = '';
for (1 .. 600)
{
	$ops_state = query(q{SELECT state || ': ' || coalesce(last_error, '') FROM kafka.streaming_tables
		WHERE target = 'ops_out'::regclass});
	last if $ops_state =~ /^failed/;
	usleep(100_000);
}
like($ops_state, qr/^failed: .*user mapping/, 'without a user mapping for its target the stream stops, saying why');
$node->safe_psql('postgres', q{CREATE USER MAPPING FOR streamer SERVER k2 OPTIONS (password_required 'false');
	SELECT kafka.resume_streaming_table('ops_out')});
is(wait_consumed('ops_out', $ops_base + 210), $ops_base + 210, 'resumed, it produces what arrived meanwhile');
my $ops2 = read_output('ops_out2');
is(scalar(keys %$ops2) . ' ' . scalar(grep { @{ $ops2->{$_} } != 1 } keys %$ops2), '110 0',
	'each record once');
$node->safe_psql('postgres', q{DROP SERVER k2 CASCADE});
is(query(q{SELECT count(*) FROM kafka.streaming_tables WHERE target::text = 'ops_out'}), '0',
	'dropping the target server drops the stream');
my $ops_workers = 1;
for (1 .. 600)
{
	$ops_workers = query(q{SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'kafka_fdw stream public.ops_out'});
	last if $ops_workers == 0;
	usleep(100_000);
}
is($ops_workers, '0', 'and its worker leaves');

# --- dead-letter topics: bad records with their key, value and headers,
# and headers naming the error and the record, inside the batch's
# transaction (a kafka target) or next to the table's rows
$broker->create_topic($_, 2) for qw(mixed mixed_out mixed_dlq table_dlq);
my @mixed = map { $_ % 10 == 0 ? "m$_|not json $_" : sprintf('m%d|{"id":%d,"customer":%d,"amount":1}', $_, $_, 1 + $_ % 5) } 1 .. 300;
kcat_produce_keyed($bs, 'mixed', \@mixed, '-Z', '-H', 'origin=test');
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE mixed (id int, customer int, amount int) SERVER k OPTIONS (topic 'mixed', format 'json');
	CREATE FOREIGN TABLE mixed_out (id int, amount int) SERVER k OPTIONS (topic 'mixed_out', format 'json');
	SELECT kafka.create_streaming_table('mixed_out', source => 'mixed', trigger => 'available_now',
	  dead_letter_topic => 'mixed_dlq', max_offsets_per_trigger => 70);
	CREATE TABLE mixed_rows (id int, customer int, amount int);
	SELECT kafka.create_streaming_table('mixed_rows', source => 'mixed', trigger => 'available_now',
	  dead_letter_topic => 'table_dlq', max_offsets_per_trigger => 70);
	CALL kafka.refresh_streaming_table('mixed_out');
	CALL kafka.refresh_streaming_table('mixed_rows');});

sub read_dead_letters
{
	my ($topic) = @_;
	my ($ok, $o, $e) = run_cmd([ 'kcat', '-C', '-b', $bs, '-t', $topic, '-e', '-q',
		'-o', 'beginning', '-f', '%k\t%s\t%h\n' ], 300);
	die "kcat -C failed: $e" unless $ok;
	return [ split /\n/, $o ];
}
for my $case ([ 'mixed_out', 'mixed_dlq' ], [ 'mixed_rows', 'table_dlq' ])
{
	my ($stream, $topic) = @$case;
	my $letters = read_dead_letters($topic);
	is(scalar(@$letters), 30, "$stream: every bad record is in dead-letter topic $topic");
	is(scalar(grep { /^m(\d+)\tnot json \1\t/ } @$letters), 30, "$stream: with its key and value");
	is(scalar(grep { /origin=test/ && /kafka_fdw\.error=[^,]*JSON/ && /kafka_fdw\.topic=mixed,/
			&& /kafka_fdw\.partition=\d/ && /kafka_fdw\.offset=\d/ && /kafka_fdw\.stream=public\.$stream/
			&& m{kafka_fdw\.source=mixed/\d/\d+} } @$letters), 30,
		"$stream: with its headers and headers naming the error, the record and the stream");
	is(query(qq{SELECT count(*) FROM kafka.dead_letters WHERE stream = '$stream'::regclass}), '0',
		"$stream: the dead-letter topic instead of kafka.dead_letters");
}
is(scalar(map { @$_ } values %{ read_output('mixed_out') }), 270, 'the good records produced');
is(query('SELECT count(*) FROM mixed_rows'), '270', 'the good records written');
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('bad_dlq', source => 'mixed', dead_letter_topic => 'a/b')});
like($stderr, qr/invalid kafka topic name for dead_letter_topic: "a\/b"/, 'a dead-letter topic must be a topic name');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SELECT kafka.create_streaming_table('bad_dlq', source => 'mixed', dead_letter_topic => 'x', on_error => 'skip')});
like($stderr, qr/dead_letter_topic needs on_error 'dead_letter', not 'skip'/, 'and goes with on_error dead_letter');

# --- routing: a kafka 'topic' column (the target has no topic option)
# picks each row's topic: by a CASE in the transform, or from the record;
# a record without one is a bad record
$broker->create_topic($_, 2) for qw(route_src r_a r_b r_c route_dlq case_a case_b case_c);
send_records('route_src', map {
	my $dest = $_ % 10 == 0 ? '' : sprintf(',"dest":"r_%s"', (qw(a b c))[ $_ % 3 ]);
	qq(k$_|{"id":$_$dest})
} 1 .. 300);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE route_src (id int, dest text) SERVER k OPTIONS (topic 'route_src', format 'json');
	CREATE FOREIGN TABLE routed (id int, dest text OPTIONS (kafka 'topic')) SERVER k OPTIONS (format 'json');
	SELECT kafka.create_streaming_table('routed', source => 'route_src', trigger => 'available_now',
	  dead_letter_topic => 'route_dlq', max_offsets_per_trigger => 100);
	CALL kafka.refresh_streaming_table('routed');
	CREATE FOREIGN TABLE by_case (id int, amount int, dest text OPTIONS (kafka 'topic'))
	  SERVER k OPTIONS (format 'json');
	SELECT kafka.create_streaming_table('by_case', source => 'orders', trigger => 'available_now',
	  transform => 'SELECT id, amount, CASE WHEN amount < 300 THEN ''case_a'' WHEN amount < 900 THEN ''case_b''
	                ELSE ''case_c'' END AS dest, _topic, _partition, _offset FROM batch');
	CALL kafka.refresh_streaming_table('by_case');});
for my $d (qw(a b c))
{
	my $got = read_output("r_$d");
	my @ids = sort { $a <=> $b } map { /"id":(\d+)/ ? $1 : () } map { @$_ } values %$got;
	my @want = grep { $_ % 10 != 0 && (qw(a b c))[ $_ % 3 ] eq $d } 1 .. 300;
	is("@ids", "@want", "records routed to r_$d by their topic column");
}
is(scalar(@{ read_dead_letters('route_dlq') }), 30, 'records without a topic are dead letters');
like(read_dead_letters('route_dlq')->[0], qr/kafka_fdw\.error=null kafka topic in column "dest" of foreign table "routed"/,
	'naming the column');
my %case_count = map { my $t = $_; ($t => scalar(map { @$_ } values %{ read_output($t) })) } qw(case_a case_b case_c);
is(join(' ', map { $case_count{$_} } qw(case_a case_b case_c)), '99 200 201',
	'a CASE in the transform routes rows to three topics');
($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT * FROM routed');
like($stderr, qr/cannot read from foreign table "routed"/, 'a table that routes is produce-only');

# --- a crash between the Kafka commit and PostgreSQL's: the stream resumes
# from the offsets committed with its output, so nothing is produced twice.
# The test broker acknowledges the offsets sent to a transaction without
# storing them; mirror_group_offsets stores them as a real broker would.
$broker->create_topic($_, 4) for qw(exact exact_out exact_dlq exact2 exact_rows_dlq);
my $flag = $node->basedir . '/crash_between_commits';
$node->append_conf('postgresql.conf', "kafka_fdw.test_faults = 'mirror_group_offsets,crash_between_commits=$flag'");
$node->reload;
my $exact_total = 20000;
my @exact = map { $_ % 100 == 0 ? "e$_|bad $_" : sprintf('e%d|{"id":%d,"customer":%d,"amount":1}', $_, $_, 1 + $_ % 5) } 1 .. $exact_total;
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE exact (id int, customer int, amount int) SERVER k OPTIONS (topic 'exact', format 'json');
	CREATE FOREIGN TABLE exact2 (id int, customer int, amount int) SERVER k OPTIONS (topic 'exact2', format 'json');
	CREATE FOREIGN TABLE exact_out (id int, amount int) SERVER k OPTIONS (topic 'exact_out', format 'json');
	SELECT kafka.create_streaming_table('exact_out', source => 'exact', max_offsets_per_trigger => 300,
	  dead_letter_topic => 'exact_dlq');
	CREATE TABLE exact_rows (id int, customer int, amount int);
	SELECT kafka.create_streaming_table('exact_rows', source => 'exact2', max_offsets_per_trigger => 300,
	  dead_letter_topic => 'exact_rows_dlq');});

# four chunks; the first batch of each of the first three crashes after its
# Kafka commit.  One stream at a time: a crash restarts every process, and
# a stream killed inside its Kafka transaction shows that transaction's
# records on the test broker (which serves aborted records).
sub crash_rounds
{
	my ($stream, $topic) = @_;
	for my $round (1 .. 4)
	{
		ok(stream_worker_pid($node, $stream), "$stream, crash round $round: worker running");
		PostgreSQL::Test::Utils::append_to_file($flag, "public.$stream") if $round <= 3;
		send_records($topic, @exact[ ($round - 1) * 5000 .. $round * 5000 - 1 ]);
		next if $round > 3;
		my $gone = 0;
		for (1 .. 600)
		{
			if (!-e $flag) { $gone = 1; last; }
			usleep(50_000);
		}
		ok($gone, "$stream, crash round $round: the worker crashed between the two commits");
		usleep(300_000);
		query('SELECT 1');
	}
	is(wait_consumed($stream, $exact_total), $exact_total, "$stream: after the crashes every record consumed");
}

crash_rounds('exact_rows', 'exact2');
is(query('SELECT count(*) || \' \' || count(DISTINCT id) FROM exact_rows'),
	($exact_total - $exact_total / 100) . ' ' . ($exact_total - $exact_total / 100),
	'every good record in the table once');
like(slurp_file($node->logfile), qr/streaming table public\.exact_rows: exact2\[\d\] was committed with its Kafka output/,
	'the table target found dead letters committed with a batch PostgreSQL lost');
my $row_letters = read_dead_letters('exact_rows_dlq');
my %row_dead = map { m{kafka_fdw\.source=([^,\s]+)} ? ($1 => 1) : () } @$row_letters;
is(scalar(@$row_letters) . ' ' . scalar(keys %row_dead), ($exact_total / 100) . ' ' . ($exact_total / 100),
	'every bad record in its dead-letter topic, exactly once')
  or do
{
	my %n;
	$n{$_}++ for map { m{kafka_fdw\.source=([^,\s]+)} ? $1 : () } @$row_letters;
	diag('repeated: ' . join(' ', grep { $n{$_} > 1 } sort keys %n));
	my ($ok2, $o2) = run_cmd([ 'kcat', '-C', '-b', $bs, '-t', 'exact_rows_dlq', '-e', '-q',
		'-o', 'beginning', '-f', '%p %o %h\n' ]);
	diag(join("\n", grep { my $l = $_; grep { index($l, "kafka_fdw.source=$_") >= 0 } grep { $n{$_} > 1 } keys %n } split /\n/, $o2));
};

crash_rounds('exact_out', 'exact');

# a batch redone after such a crash may end before the one Kafka committed
# (here: a smaller max_offsets_per_trigger), and crash again: the dead
# letters between the two ends are not produced a third time
$broker->create_topic($_, 1) for qw(redo redo_dlq);
send_records('redo', map { $_ % 50 == 0 ? "r$_|bad $_" : sprintf('r%d|{"id":%d,"customer":1,"amount":1}', $_, $_) } 1 .. 600);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE redo (id int, customer int, amount int) SERVER k OPTIONS (topic 'redo', format 'json');
	CREATE TABLE redo_rows (id int, customer int, amount int);
	SELECT kafka.create_streaming_table('redo_rows', source => 'redo', trigger => 'available_now',
	  max_offsets_per_trigger => 300, dead_letter_topic => 'redo_dlq');});
PostgreSQL::Test::Utils::append_to_file($flag, 'public.redo_rows');
my ($redo_ret) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('redo_rows')});
ok($redo_ret != 0 && !-e $flag, 'a refresh crashes after its first Kafka commit (300 records)');
query(q{SELECT kafka.alter_streaming_table('redo_rows', max_offsets_per_trigger => 100)});
PostgreSQL::Test::Utils::append_to_file($flag, 'public.redo_rows');
($redo_ret) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('redo_rows')});
ok($redo_ret != 0 && !-e $flag, 'the next one redoes 100 of them and crashes after its Kafka commit too');
query(q{CALL kafka.refresh_streaming_table('redo_rows')});
is(query('SELECT count(*) || \' \' || count(DISTINCT id) FROM redo_rows'), '588 588',
	'the third loads every good record once');
my $redo_letters = read_dead_letters('redo_dlq');
my %redo_dead = map { m{kafka_fdw\.source=([^,\s]+)} ? ($1 => 1) : () } @$redo_letters;
is(scalar(@$redo_letters) . ' ' . scalar(keys %redo_dead), '12 12',
	'and each dead letter is in the topic once');
like(slurp_file($node->logfile), qr/was committed with its Kafka output up to offset \d+, the catalog up to \d+/,
	'it resumed from the offsets committed with its output');
$out = read_output('exact_out');
is(scalar(keys %$out), $exact_total - $exact_total / 100, 'every good record in the output');
is(scalar(grep { @{ $out->{$_} } != 1 } keys %$out), 0, 'each exactly once');
my $letters = read_dead_letters('exact_dlq');
my %dead_sources = map { m{kafka_fdw\.source=([^,\s]+)} ? ($1 => 1) : () } @$letters;
is(scalar(@$letters), $exact_total / 100, 'every bad record in the dead-letter topic, exactly once');
is(scalar(keys %dead_sources), $exact_total / 100, 'each its own record');

# kafka.reset_offsets moves the stream back even though its consumer group
# is ahead (mirror_group_offsets still on): the offsets committed with the
# output count only for the batch after the catalog's last
$node->safe_psql('postgres', q{SELECT kafka.pause_streaming_table('exact_out')});
for (1 .. 600)
{
	last if query(q{SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'kafka_fdw stream public.exact_out'}) == 0;
	usleep(100_000);
}
$node->safe_psql('postgres', q{SELECT kafka.reset_offsets('exact_out', 'earliest')});
$node->safe_psql('postgres', q{SELECT kafka.resume_streaming_table('exact_out')});
my $again = 0;
for (1 .. 1200)
{
	$again = query(q{SELECT count(*) FROM kafka.stream_offsets WHERE stream = 'exact_out'::regclass
		AND next_offset = high_watermark});
	last if $again == 4 && stream_consumed($node, 'exact_out') == $exact_total;
	usleep(100_000);
}
$out = read_output('exact_out');
is(scalar(grep { @{ $out->{$_} } >= 2 } keys %$out), $exact_total - $exact_total / 100,
	'after kafka.reset_offsets every record is produced again')
  or diag(query(q{SELECT state || ' ' || batch_id || ' ' || coalesce(last_error, '') FROM kafka.streaming_tables
	WHERE target = 'exact_out'::regclass}) . "\n" . query(q{SELECT string_agg(partition || ':' || next_offset || '/' || high_watermark, ' ')
	FROM kafka.stream_offsets WHERE stream = 'exact_out'::regclass}));
$node->append_conf('postgresql.conf', "kafka_fdw.test_faults = ''");
$node->reload;

# --- refusals
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	CREATE FOREIGN TABLE keyed_out (id int, customer int) SERVER k OPTIONS (topic 'keyed_out', format 'json');
	SELECT kafka.create_streaming_table('keyed_out', source => 'orders', mode => 'upsert', keys => ARRAY['id']);});
like($stderr, qr/into a kafka foreign table must be in mode 'append'/, 'keyed modes are refused');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	CREATE FOREIGN TABLE typed_out (id bigint, amount int) SERVER k OPTIONS (topic 'typed_out', format 'json');
	SELECT kafka.create_streaming_table('typed_out', source => 'orders');});
like($stderr, qr/column "id" of foreign table "orders" has type integer but column "id" of foreign table "typed_out" has type bigint/,
	'mismatched types are refused at create');

my $log = slurp_file($node->logfile);
my @crashes = grep { !/signal 9/ } ($log =~ /(terminated by signal \d+)/g);
is(scalar(@crashes), 0, 'no process crashed but the killed workers');

done_testing();
