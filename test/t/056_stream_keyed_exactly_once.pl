# Keyed streaming tables exactly once under crashes: 200k changes over 20k
# keys, written by an independent producer (test/fixtures/keyed_changes.py:
# updates, deletes as tombstones, out-of-order sequences, late changes after
# a delete, exact replays, hot keys touched several times per batch), are
# ingested by two continuous streams in small batches while the worker is
# SIGKILLed three times mid-batch.  Afterwards
#   - the upsert table (SCD type 1) equals, row for row, the reference the
#     fixture computes by reading the topic back and replaying it: per key
#     the change with the greatest sequence (ties to the earliest offset),
#     no row when that is a delete;
#   - the SCD type 2 table equals the reference history (the replay of every
#     change of a key sorted by (sequence, offset)).
# The sequence is the bigint in each record's "seq" header: a tombstone has
# no value, so a delete's sequence must come from the record's metadata.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $python = $ENV{KT_PYTHON} // '/usr/bin/python3';
my $fixture = "$srcdir/test/fixtures/keyed_changes.py";
my $changes = 200000;
my $partitions = 8;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('keyed_once', broker => $broker, conf => "restart_after_crash = on");
$broker->create_topic('changes', $partitions);

# the reference itself first: on the generated changes (no broker) it must
# agree with an arrival-order simulation of the stored-sequence rule in
# random batches, and with the SCD 2 history's current versions
my ($ok, $out, $err) = run_cmd([ $python, $fixture, 'self-check', '--count', $changes,
	'--keys', 20000, '--partitions', $partitions ], 300);
ok($ok && $out =~ /"ok": true/, 'the reference passes its self-check') or diag("$err$out");

($ok, $out, $err) = run_cmd([ $python, $fixture, 'produce', '--bootstrap', $bs,
	'--topic', 'changes', '--count', $changes, '--keys', 20000,
	'--partitions', $partitions ], 300);
die "keyed_changes.py produce failed: $err$out" unless $ok;
note "produced: $out";

sub query { return query_retrying($node, @_); }
sub worker_pid { return stream_worker_pid($node, @_); }
sub consumed { return stream_consumed($node, @_); }

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE changes_topic (id text OPTIONS (kafka 'key'),
		seq bigint OPTIONS (kafka 'header:seq'), a int, b text, d int)
	  SERVER k OPTIONS (topic 'changes', format 'json');
	CREATE TABLE cur (id text PRIMARY KEY, seq bigint, a int, b text, d int);
	CREATE TABLE hist (id text, a int, b text, d int, __start_at bigint, __end_at bigint,
		PRIMARY KEY (id, __start_at));
	SELECT kafka.create_streaming_table('cur', source => 'changes_topic',
	  max_offsets_per_trigger => 4000, mode => 'upsert', sequence_by => 'seq');
	SELECT kafka.create_streaming_table('hist', source => 'changes_topic',
	  max_offsets_per_trigger => 4000, mode => 'upsert', sequence_by => 'seq',
	  stored_as_scd_type => 2, except_columns => ARRAY['seq']);});

# --- SIGKILL the upsert stream's worker mid-batch, three times; each crash
# restarts the cluster, so the SCD 2 stream's worker dies with it
my $last = 0;
for my $round (1 .. 3)
{
	my $pid = worker_pid('cur');
	ok($pid, "round $round: worker running");
	# let a few batches commit, then kill while it is working
	my $now = $last;
	for (1 .. 1000)
	{
		$now = consumed('cur');
		last if $now >= $last + 12000;
		usleep(10_000);
	}
	kill 'KILL', $pid;
	note "round $round: killed worker $pid with $now of $changes changes consumed";
	cmp_ok($now, '<', $changes, "round $round: killed before the end of the topic");
	$last = $now;
	usleep(300_000);
	query('SELECT 1');
}

# wait until both streams have consumed the topic, or one has failed
my $progress = q{SELECT string_agg(t || ' ' || s.state || ' ' || coalesce(o.sum, 0), ', ' ORDER BY t)
	  FROM unnest(ARRAY['cur', 'hist']) t
	  JOIN kafka.streaming_tables s ON s.target = t::regclass
	  LEFT JOIN LATERAL (SELECT sum(next_offset) FROM kafka.stream_offsets o
	                      WHERE o.stream = t::regclass) o ON true};
my $seen;
for (1 .. 2400)
{
	$seen = query($progress);
	last if $seen eq "cur active $changes, hist active $changes" || $seen =~ /failed/;
	usleep(100_000);
}
is($seen, "cur active $changes, hist active $changes", 'both streams consumed every change')
  or diag(query(q{SELECT string_agg(target || ': ' || last_error, '; ') FROM kafka.streaming_tables
	WHERE state = 'failed'}));

# --- the reference: the topic read back and replayed by the fixture
my $dir = PostgreSQL::Test::Utils::tempdir('reference');
($ok, $out, $err) = run_cmd([ $python, $fixture, 'reference', '--bootstrap', $bs,
	'--topic', 'changes', '--scd1', "$dir/scd1", '--scd2', "$dir/scd2" ], 300);
die "keyed_changes.py reference failed: $err$out" unless $ok;
my ($summary_line) = grep { /^\{/ } split /\n/, $out;
my $summary = decode_json($summary_line);
note "reference: $summary_line";
is($summary->{records}, $changes, 'the reference read every change back');
for my $what (qw(out_of_order late_after_delete keys_repeated_in_first_5000 tombstones))
{
	cmp_ok($summary->{$what}, '>', 0, "the changes include $what");
}

# equal line for line; on a difference show the first few differing lines
sub same_lines
{
	my ($got, $file, $what) = @_;
	my @got = split /\n/, $got, -1;
	my @want = split /\n/, PostgreSQL::Test::Utils::slurp_file($file), -1;
	@got = () if $got eq '';
	@want = () if !@want || (@want == 1 && $want[0] eq '');
	my $shown = 0;
	for my $i (0 .. ($#got > $#want ? $#got : $#want))
	{
		my ($g, $w) = ($got[$i] // '(none)', $want[$i] // '(none)');
		next if $g eq $w;
		diag("$what line " . ($i + 1) . ": got '$g', reference '$w'") if $shown++ < 10;
	}
	diag("$what: $shown lines differ; " . scalar(@got) . ' rows, reference ' . scalar(@want))
	  if $shown;
	return ok($shown == 0, $what);
}

same_lines($node->safe_psql('postgres', q{
	SELECT concat_ws('|', id, seq, a, b, coalesce(d::text, '')) FROM cur ORDER BY id COLLATE "C"}),
	"$dir/scd1", 'SCD 1 target equals the reference (last change per key by sequence, deletes applied)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM cur'), $summary->{scd1_rows},
	'SCD 1 row count');
same_lines($node->safe_psql('postgres', q{
	SELECT concat_ws('|', id, coalesce(a::text, ''), coalesce(b, ''), coalesce(d::text, ''),
	                 __start_at, coalesce(__end_at::text, ''))
	  FROM hist ORDER BY id COLLATE "C", __start_at}),
	"$dir/scd2", 'SCD 2 target equals the reference history row for row');

is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters}), '0',
	'no dead letters');

done_testing();
