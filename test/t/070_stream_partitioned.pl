# Streaming tables into partitioned targets, and records whose rows the
# target refuses when they are written.  Events come from an independent
# producer (test/fixtures/partitioned_events.py), 1% of them each breaking
# one rule of the target: a unique index, a foreign key, NOT NULL, an AFTER
# ROW trigger that raises, and a time with no partition.
#   - a target range-partitioned by day, one day sub-partitioned by list,
#     one partition attached with its columns in another order and a BEFORE
#     ROW trigger of its own: a continuous stream (on_error 'dead_letter')
#     whose worker is SIGKILLed twice mid-stream; every record ends up a row
#     (in its day's partition) or a dead letter naming the rule, once;
#     DETACH / ATTACH PARTITION under the running stream, then a default
#     partition takes the rows that had none;
#   - pg_partman (run_maintenance_proc) creating the next days' partitions
#     and detaching old ones while a stream ingests;
#   - a hash-partitioned target and a foreign (Kafka) partition;
#   - upsert into a hash-partitioned table (the key is its partition key)
#     equals the reference replay of independent changes after a SIGKILL;
#   - on_error 'fail' still stops at the first refused row; SCD type 2 and
#     keys without the partition key are refused.

use strict;
use warnings;

use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $python = $ENV{KT_PYTHON} // '/usr/bin/python3';
my $fixture = "$srcdir/test/fixtures/partitioned_events.py";

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('partitioned', broker => $broker, conf => "restart_after_crash = on");
$broker->create_topic($_, 4) for qw(ev pm hashed fp fp_out strict excl);

sub produce_events
{
	my (@args) = @_;
	my ($ok, $out, $err) = run_cmd([ $python, $fixture, '--bootstrap', $bs, '--partitions', 4,
		@args ], 300);
	die "partitioned_events.py failed: $err$out" unless $ok;
	my ($line) = grep { /^\{/ } split /\n/, $out;
	return decode_json($line);
}

sub query { return query_retrying($node, @_); }
sub wait_for { return wait_for_value($node, 'postgres', @_, 60); }
sub consumed { return stream_consumed($node, @_); }
sub worker_pid { return stream_worker_pid($node, @_); }

# rows and dead letters of a stream: every offset once, in one of the two
sub accounted
{
	my ($stream, $rows_sql) = @_;
	return query(qq{
		WITH r AS ($rows_sql),
		     d AS (SELECT "partition" AS p, "offset" AS o FROM kafka.dead_letters
		            WHERE stream = '$stream'::regclass),
		     a AS (SELECT p, o FROM r UNION ALL SELECT p, o FROM d)
		SELECT (SELECT count(*) FROM r) || ' rows, ' || (SELECT count(*) FROM d)
		       || ' dead letters, ' || count(*) - count(DISTINCT (p, o)) || ' repeated'
		  FROM a});
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE TABLE amounts (amount int PRIMARY KEY);
	INSERT INTO amounts SELECT generate_series(0, 99);
	CREATE FUNCTION no_bad_note() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN IF NEW.note LIKE 'bad%' THEN RAISE EXCEPTION 'event % has a bad note', NEW.id; END IF;
	       RETURN NULL; END\$\$;
	CREATE FUNCTION mark_day3() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN NEW.note := NEW.note || ' day3'; RETURN NEW; END\$\$;
});

sub topic_table
{
	my ($table, $topic) = @_;
	return qq{CREATE FOREIGN TABLE $table (id int, ts timestamptz, amount int, note text,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic '$topic', format 'json');};
}

# --- a target partitioned by day, continuous, with refused rows and crashes
$node->safe_psql('postgres', topic_table('ev_topic', 'ev') . q{
	CREATE TABLE ev (id int, ts timestamptz, amount int NOT NULL REFERENCES amounts,
		note text, _partition int, _offset bigint) PARTITION BY RANGE (ts);
	CREATE UNIQUE INDEX ON ev (id, ts, _partition);
	CREATE TRIGGER no_bad_note AFTER INSERT ON ev FOR EACH ROW EXECUTE FUNCTION no_bad_note();
	CREATE TABLE ev_d0 PARTITION OF ev FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
	CREATE TABLE ev_d1 PARTITION OF ev FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');
	CREATE TABLE ev_d2 PARTITION OF ev FOR VALUES FROM ('2026-01-03') TO ('2026-01-04')
	  PARTITION BY LIST (_partition);
	CREATE TABLE ev_d2_low PARTITION OF ev_d2 FOR VALUES IN (0, 1);
	CREATE TABLE ev_d2_high PARTITION OF ev_d2 FOR VALUES IN (2, 3);
	-- its own column order (and a dropped column), and a BEFORE ROW trigger
	CREATE TABLE ev_d3 (gone int, _offset bigint, note text, amount int NOT NULL, id int,
		_partition int, ts timestamptz);
	ALTER TABLE ev_d3 DROP COLUMN gone;
	CREATE TRIGGER mark_day3 BEFORE INSERT ON ev_d3 FOR EACH ROW EXECUTE FUNCTION mark_day3();
	ALTER TABLE ev ATTACH PARTITION ev_d3 FOR VALUES FROM ('2026-01-04') TO ('2026-01-05');
	CREATE TABLE ev_d4 PARTITION OF ev FOR VALUES FROM ('2026-01-05') TO ('2026-01-06');
	CREATE TABLE ev_d5 PARTITION OF ev FOR VALUES FROM ('2026-01-06') TO ('2026-01-07');
	CREATE TABLE ev_d6 PARTITION OF ev FOR VALUES FROM ('2026-01-07') TO ('2026-01-08');
	SELECT kafka.create_streaming_table('ev', source => 'ev_topic', on_error => 'dead_letter',
	  max_offsets_per_trigger => 700);
});

my $sent = produce_events('--topic', 'ev', '--count', 20000, '--bad');
my $bad = 0;
$bad += $sent->{$_} for qw(duplicate foreign_key not_null trigger no_partition);
is($bad, 1000, 'the producer sent 1% of each kind of bad event');

my $last = 0;
for my $round (1 .. 2)
{
	my $pid = worker_pid('ev');
	ok($pid, "round $round: the stream's worker runs");
	my $now = $last;
	for (1 .. 3000)
	{
		$now = consumed('ev');
		last if $now >= $last + 1400;
		usleep(5_000);
	}
	kill 'KILL', $pid;
	note "round $round: killed worker $pid with $now of 20000 records consumed";
	cmp_ok($now, '<', 20000, "round $round: killed before the end of the topic");
	$last = $now;
	usleep(300_000);
	query('SELECT 1');
}
ok(wait_for("SELECT coalesce(sum(next_offset), 0) FROM kafka.stream_offsets WHERE stream = 'ev'::regclass",
	'20000', 'ev consumed'), 'the stream consumed the topic after two crashes');
my $ev_rows = q{SELECT _partition AS p, _offset AS o FROM ev};
is(accounted('ev', $ev_rows), '19000 rows, 1000 dead letters, 0 repeated',
	'every record is a row or a dead letter, exactly once');
is(query(q{SELECT string_agg(kind || ' ' || n, ', ' ORDER BY kind) FROM (
	SELECT CASE WHEN error LIKE 'duplicate key value violates unique constraint%: Key (id, ts, _partition)=%' THEN 'duplicate'
	            WHEN error LIKE 'insert or update on table "ev_d%" violates foreign key constraint "ev_amount_fkey": Key (amount)=(1000)%' THEN 'foreign_key'
	            WHEN error LIKE 'null value in column "amount" of relation "ev_d%" violates not-null constraint%' THEN 'not_null'
	            WHEN error LIKE 'event % has a bad note%' THEN 'trigger'
	            WHEN error LIKE 'no partition of relation "ev" found for row%' THEN 'no_partition'
	            ELSE error END AS kind, count(*) AS n
	  FROM kafka.dead_letters WHERE stream = 'ev'::regclass GROUP BY 1) s}),
	join(', ', map { "$_ $sent->{$_}" } sort qw(duplicate foreign_key not_null trigger no_partition)),
	'each dead letter names the rule its record broke');
is(query(q{SELECT count(*) FROM kafka.dead_letters d WHERE stream = 'ev'::regclass
	AND convert_from(value, 'UTF8')::jsonb->>'note' IS NULL}), '0',
	'dead letters keep the record');
is(query(q{SELECT count(*) FROM ev
	WHERE tableoid <> ('ev_d' || extract(day FROM ts AT TIME ZONE 'UTC')::int - 1)::regclass
	  AND tableoid NOT IN ('ev_d2_low'::regclass, 'ev_d2_high'::regclass)}), '0',
	'each row is in its day\'s partition');
is(query(q{SELECT count(*) FILTER (WHERE tableoid = 'ev_d2_low'::regclass) > 0
	          AND count(*) FILTER (WHERE tableoid = 'ev_d2_high'::regclass) > 0
	          AND bool_and(CASE WHEN tableoid = 'ev_d2_low'::regclass THEN _partition IN (0, 1)
	                            ELSE _partition IN (2, 3) END)
	  FROM ev WHERE ts >= '2026-01-03' AND ts < '2026-01-04'}), 't',
	'the sub-partitioned day is split by Kafka partition');
is(query(q{SELECT count(*) = count(*) FILTER (WHERE note = 'n' || id || ' day3')
	              AND count(*) > 0 FROM ev_d3}), 't',
	'the partition with its own column order and BEFORE ROW trigger got whole rows');
is(query(q{SELECT count(*) FROM ev
	WHERE note IS DISTINCT FROM 'n' || id AND note IS DISTINCT FROM 'n' || id || ' day3'}),
	'0', 'no row has another record\'s values');

# --- DETACH / ATTACH PARTITION under the running stream, then a default
my $before = query('SELECT count(*) FROM ev_d5');
$node->safe_psql('postgres', 'ALTER TABLE ev DETACH PARTITION ev_d5');
# events of days 0..4 only (no bad ones) while day 5 is detached
produce_events('--topic', 'ev', '--start', 20000, '--count', 500, '--days', 5);
ok(wait_for(q{SELECT coalesce(sum(next_offset), 0) FROM kafka.stream_offsets WHERE stream = 'ev'::regclass},
	'20500', 'ev while detached'), 'the stream goes on while a partition is detached');
$node->safe_psql('postgres',
	q{ALTER TABLE ev ATTACH PARTITION ev_d5 FOR VALUES FROM ('2026-01-06') TO ('2026-01-07')});
produce_events('--topic', 'ev', '--start', 20500, '--count', 700);
ok(wait_for(q{SELECT coalesce(sum(next_offset), 0) FROM kafka.stream_offsets WHERE stream = 'ev'::regclass},
	'21200', 'ev attached again'), 'and after it is attached again');
cmp_ok(query('SELECT count(*) FROM ev_d5'), '>', $before,
	'the attached partition takes its rows again');
is(accounted('ev', $ev_rows), '20200 rows, 1000 dead letters, 0 repeated',
	'nothing lost or repeated across DETACH / ATTACH');

$node->safe_psql('postgres', 'CREATE TABLE ev_other PARTITION OF ev DEFAULT');
produce_events('--topic', 'ev', '--start', 21200, '--count', 1000, '--bad');
ok(wait_for(q{SELECT coalesce(sum(next_offset), 0) FROM kafka.stream_offsets WHERE stream = 'ev'::regclass},
	'22200', 'ev with a default partition'), 'the stream ingests with a default partition');
is(query(q{SELECT count(*) FROM ev_other}), '10',
	'the default partition takes the rows that had no partition');
is(accounted('ev', $ev_rows), '21160 rows, 1040 dead letters, 0 repeated',
	'every record once, with the default partition');

# --- pg_partman: maintenance creates and detaches partitions under ingest
my $today = query(q{SELECT to_char(current_date, 'YYYY-MM-DD')});
my $from = query(q{SELECT to_char(current_date - 2, 'YYYY-MM-DD')});
$node->safe_psql('postgres', topic_table('pm_topic', 'pm') . qq{
	CREATE SCHEMA partman;
	CREATE EXTENSION pg_partman SCHEMA partman;
	CREATE TABLE pm (id int, ts timestamptz NOT NULL, amount int, note text,
		_partition int, _offset bigint) PARTITION BY RANGE (ts);
	SELECT partman.create_parent(p_parent_table => 'public.pm', p_control => 'ts',
		p_type => 'native', p_interval => 'daily', p_premake => 2,
		p_start_partition => '$from');
	SELECT kafka.create_streaming_table('pm', source => 'pm_topic', max_offsets_per_trigger => 300);
});
my $partitions = q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'pm'::regclass};
my $made = query($partitions);
# days -2 .. +2 around today: in the partitions partman made
produce_events('--topic', 'pm', '--count', 2000, '--base-date', $from, '--days', 5);
ok(wait_for("SELECT count(*) FROM pm", '2000', 'pm first days'), 'the stream fills partman\'s partitions');
is(query('SELECT count(*) FROM pm_default'), '0', 'nothing in the default partition');
# more days ahead and one day of retention, detaching (keeping) older tables
$node->safe_psql('postgres', q{
	UPDATE partman.part_config SET premake = 6, retention = '1 day', retention_keep_table = true,
		infinite_time_partitions = true WHERE parent_table = 'public.pm'});
my $writer = IPC::Run::start([ $python, $fixture, '--bootstrap', $bs, '--partitions', 4,
	'--topic', 'pm', '--start', 2000, '--count', 3000, '--base-date', $from, '--days', 5 ],
	'>', \my $writer_out, '2>', \my $writer_err);
$node->safe_psql('postgres', 'CALL partman.run_maintenance_proc()');
$writer->finish;
cmp_ok(query($partitions), '>', $made, 'maintenance made new partitions');
my $detached = query(q{SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c
	WHERE c.relname LIKE 'pm_p%' AND c.relkind = 'r' AND NOT c.relispartition});
ok($detached ne '', "maintenance detached old partitions ($detached)");
# days +1 .. +5: two of them only exist since the maintenance
my $ahead = query(q{SELECT to_char(current_date + 1, 'YYYY-MM-DD')});
produce_events('--topic', 'pm', '--start', 5000, '--count', 1000, '--base-date', $ahead, '--days', 5);
ok(wait_for(q{SELECT coalesce(sum(next_offset), 0) FROM kafka.stream_offsets WHERE stream = 'pm'::regclass},
	'6000', 'pm after maintenance'), 'the stream consumed every event');
my $all_pm = 'SELECT _partition AS p, _offset AS o, ts FROM pm'
	. join('', map { " UNION ALL SELECT _partition, _offset, ts FROM $_" } split /,/, $detached);
is(query("SELECT count(*) || ' ' || count(DISTINCT (p, o)) FROM ($all_pm) a"), '6000 6000',
	'every event once, in the table or in a table maintenance detached');
is(query(q{SELECT count(*) FROM pm_default WHERE ts >= current_date + 3}), '0',
	'events of the days made by maintenance are in their own partitions');
is(query(q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'pm'::regclass}), '0',
	'no dead letters');

# --- hash partitions; a foreign partition produces its rows to a topic
produce_events('--topic', 'hashed', '--count', 1000);
produce_events('--topic', 'fp', '--count', 1000);
$node->safe_psql('postgres', topic_table('hashed_topic', 'hashed') . topic_table('fp_topic', 'fp') . qq{
	CREATE TABLE hashed (id int, ts timestamptz, amount int, note text, _partition int, _offset bigint)
	  PARTITION BY HASH (id);
	CREATE TABLE hashed_0 PARTITION OF hashed FOR VALUES WITH (MODULUS 3, REMAINDER 0);
	CREATE TABLE hashed_1 PARTITION OF hashed FOR VALUES WITH (MODULUS 3, REMAINDER 1);
	CREATE TABLE hashed_2 PARTITION OF hashed FOR VALUES WITH (MODULUS 3, REMAINDER 2);
	SELECT kafka.create_streaming_table('hashed', source => 'hashed_topic', trigger => 'available_now');
	CREATE TABLE fp (id int, ts timestamptz, amount int, note text, _partition int, _offset bigint)
	  PARTITION BY LIST (_partition);
	CREATE TABLE fp_local PARTITION OF fp FOR VALUES IN (0, 1, 2);
	CREATE FOREIGN TABLE fp_remote PARTITION OF fp FOR VALUES IN (3)
	  SERVER k OPTIONS (topic 'fp_out', format 'json');
	SELECT kafka.create_streaming_table('fp', source => 'fp_topic', trigger => 'available_now');
});
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('hashed')}),
	qr/1000 rows from 1000 records/, 'a hash-partitioned target');
is(query(q{SELECT count(DISTINCT tableoid) || ' ' || count(DISTINCT (_partition, _offset)) FROM hashed}),
	'3 1000', 'rows in all three hash partitions, each once');
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('fp')}),
	qr/1000 rows from 1000 records/, 'a target with a foreign partition');
is(query(q{SELECT count(*) FROM fp_local}), '800', 'the local partition has its rows');
$node->safe_psql('postgres', q{CREATE FOREIGN TABLE fp_out_topic (id int, _partition int)
	SERVER k OPTIONS (topic 'fp_out', format 'json')});
is(query(q{SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || bool_and(_partition = 3)
	FROM fp_out_topic}), '200 200 true',
	'the foreign partition produced its rows to its topic');

# --- upsert into a hash-partitioned table (the key is the partition key):
# equal to the reference replay of test/fixtures/keyed_changes.py, after a
# SIGKILL mid-stream
my $keyed = "$srcdir/test/fixtures/keyed_changes.py";
$broker->create_topic('kchanges', 4);
my ($ok, $kout, $kerr) = run_cmd([ $python, $keyed, 'produce', '--bootstrap', $bs,
	'--topic', 'kchanges', '--count', 30000, '--keys', 3000, '--partitions', 4 ], 300);
die "keyed_changes.py produce failed: $kerr$kout" unless $ok;
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE kchanges_topic (id text OPTIONS (kafka 'key'),
		seq bigint OPTIONS (kafka 'header:seq'), a int, b text, d int)
	  SERVER k OPTIONS (topic 'kchanges', format 'json');
	CREATE TABLE kcur (id text PRIMARY KEY, seq bigint, a int, b text, d int)
	  PARTITION BY HASH (id);
	CREATE TABLE kcur_0 PARTITION OF kcur FOR VALUES WITH (MODULUS 4, REMAINDER 0);
	CREATE TABLE kcur_1 PARTITION OF kcur FOR VALUES WITH (MODULUS 4, REMAINDER 1);
	CREATE TABLE kcur_2 PARTITION OF kcur FOR VALUES WITH (MODULUS 4, REMAINDER 2);
	CREATE TABLE kcur_3 (d int, b text, gone int, a int, seq bigint, id text NOT NULL);
	ALTER TABLE kcur_3 DROP COLUMN gone;
	ALTER TABLE kcur ATTACH PARTITION kcur_3 FOR VALUES WITH (MODULUS 4, REMAINDER 3);
	SELECT kafka.create_streaming_table('kcur', source => 'kchanges_topic',
	  max_offsets_per_trigger => 1500, mode => 'upsert', sequence_by => 'seq');
});
{
	my $pid = worker_pid('kcur');
	my $now = 0;
	for (1 .. 3000)
	{
		$now = consumed('kcur');
		last if $now >= 8000;
		usleep(5_000);
	}
	kill 'KILL', $pid;
	note "killed the upsert stream's worker $pid with $now of 30000 changes consumed";
	usleep(300_000);
	query('SELECT 1');
}
ok(wait_for(q{SELECT coalesce(sum(next_offset), 0) FROM kafka.stream_offsets WHERE stream = 'kcur'::regclass},
	'30000', 'kcur consumed'), 'the upsert stream consumed every change');
my $dir = PostgreSQL::Test::Utils::tempdir('reference');
($ok, $kout, $kerr) = run_cmd([ $python, $keyed, 'reference', '--bootstrap', $bs,
	'--topic', 'kchanges', '--scd1', "$dir/scd1", '--scd2', "$dir/scd2" ], 300);
die "keyed_changes.py reference failed: $kerr$kout" unless $ok;
my $reference = slurp_file("$dir/scd1");
chomp $reference;
my $got = query(q{SELECT concat_ws('|', id, seq, a, b, coalesce(d::text, ''))
	FROM kcur ORDER BY id COLLATE "C"});
is(scalar(() = $got =~ /\n/g), scalar(() = $reference =~ /\n/g), 'as many keys as the reference');
ok($got eq $reference, 'the partitioned upsert target equals the reference (updates, deletes, late changes)');
is(query(q{SELECT count(DISTINCT tableoid) FROM kcur}), '4', 'in all four hash partitions');

# --- an exclusion constraint refuses rows as they are written: dead letters
produce_events('--topic', 'excl', '--count', 300);
$node->safe_psql('postgres', topic_table('excl_topic', 'excl') . q{
	CREATE TABLE excl (id int, ts timestamptz, amount int, note text, _partition int, _offset bigint,
		span int4range GENERATED ALWAYS AS (int4range(id % 100, id % 100 + 1)) STORED,
		EXCLUDE USING gist (span WITH &&));
	SELECT kafka.create_streaming_table('excl', source => 'excl_topic', trigger => 'available_now',
	  on_error => 'dead_letter');
});
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('excl')}),
	qr/100 rows from 300 records in 1 batches, 200 dead letters/, 'exclusion violations are dead letters');
is(accounted('excl', 'SELECT _partition AS p, _offset AS o FROM excl'), '100 rows, 200 dead letters, 0 repeated',
	'every record once, a row or a dead letter');
is(query(q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'excl'::regclass
	AND error LIKE 'conflicting key value violates exclusion constraint "excl_span_excl": Key (span)=%'}), '200',
	'each names the constraint and the conflicting key');

# --- a keyed target refuses rows when it writes them (a trigger raises):
# dead letters too, on inserts and on updates
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE excl_keyed (k text OPTIONS (kafka 'key'), id int, amount int, note text)
	  SERVER k OPTIONS (topic 'excl', format 'json');
	CREATE TABLE kex (k text PRIMARY KEY, id int, amount int REFERENCES amounts, note text);
	CREATE FUNCTION no_42() RETURNS trigger LANGUAGE plpgsql AS
	  $$BEGIN IF NEW.id % 100 = 42 THEN RAISE EXCEPTION 'event % refused', NEW.id; END IF;
	       RETURN NULL; END$$;
	CREATE TRIGGER no_42 AFTER INSERT OR UPDATE ON kex FOR EACH ROW EXECUTE FUNCTION no_42();
	SELECT kafka.create_streaming_table('kex', source => 'excl_keyed', trigger => 'available_now',
	  mode => 'upsert', on_error => 'dead_letter');
});
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('kex')}),
	qr/297 rows from 300 records in 1 batches, 3 dead letters/, 'keyed: rows a trigger refuses are dead letters');
$node->safe_psql('postgres', q{SELECT kafka.reset_offsets('kex', 'earliest')});
like($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('kex')}),
	qr/297 rows from 300 records in 1 batches, 3 dead letters/, 'and so are the updates it refuses');
is(query(q{SELECT count(*) || ' ' || count(*) FILTER (WHERE id % 100 = 42) FROM kex}), '297 0',
	'the keyed table holds every other key');
is(query(q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'kex'::regclass AND error LIKE 'event % refused%'}),
	'6', 'each dead letter says why');

# --- on_error 'fail' stops at a refused row; SCD type 2 is refused
produce_events('--topic', 'strict', '--count', 200, '--bad');
$node->safe_psql('postgres', topic_table('strict_topic', 'strict') . q{
	CREATE TABLE strict (LIKE ev) PARTITION BY RANGE (ts);
	CREATE TABLE strict_all PARTITION OF strict FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
	SELECT kafka.create_streaming_table('strict', source => 'strict_topic', trigger => 'available_now');
});
my ($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('strict')});
like($err, qr/null value in column "amount" of relation "strict_all"|no partition of relation "strict" found for row/,
	"on_error 'fail': the first refused row stops the stream");
is(query(q{SELECT state FROM kafka.streaming_tables WHERE target = 'strict'::regclass}), 'failed',
	'and the stream is failed');
is(query(q{SELECT count(*) FROM strict}), '0', 'nothing of the failed batch was written');
($ret, $out, $err) = $node->psql('postgres', q{
	CREATE TABLE keyed_part (id int, ts timestamptz, __start_at timestamptz, __end_at timestamptz,
		PRIMARY KEY (id, ts, __start_at)) PARTITION BY RANGE (ts);
	SELECT kafka.create_streaming_table('keyed_part', source => 'strict_topic', mode => 'upsert',
	  keys => ARRAY['id', 'ts'], sequence_by => 'ts', stored_as_scd_type => 2)});
like($err, qr/streaming table .*keyed_part stored as SCD type 2 cannot be a partitioned table/,
	'SCD type 2 over a partitioned table is refused');
($ret, $out, $err) = $node->psql('postgres', q{
	CREATE TABLE keyed_ts (id int, ts timestamptz, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts);
	SELECT kafka.create_streaming_table('keyed_ts', source => 'strict_topic', mode => 'upsert',
	  keys => ARRAY['id'])});
like($err, qr/has no unique index on its keys \(id\).*\nHINT:  CREATE UNIQUE INDEX ON .*; a unique index of a partitioned table must include its partition key columns/s,
	'keys without the partition key are refused, with a hint');

my $log = slurp_file($node->logfile);
unlike($log, qr/reference leak|still referenced|TRAP:/, 'no leaked references');
my @crashes = $log =~ /was terminated by signal (\d+)/g;
is(join(',', grep { $_ != 9 } @crashes), '', 'no process crashed but the two killed');

$node->stop;
$broker->stop;
done_testing();
