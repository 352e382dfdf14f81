# Targets that change under a running stream.  ALTER TABLE ... ADD COLUMN
# (nullable, named like a source column, with a default, NOT NULL with a
# volatile default that rewrites the table), DROP COLUMN (one the stream does
# not write, one it writes), RENAME COLUMN, ALTER COLUMN ... TYPE (int to
# bigint, text to varchar(5) with values that no longer fit, a type the
# source column cannot be assigned to), TRUNCATE while batches commit,
# RENAME TO and SET SCHEMA, a SIGKILL of the worker in the batch right after
# a DDL, DROP TABLE rolled back and committed, a column a transform fills
# renamed between two ticks of an interval stream; keyed targets losing
# their unique index or their key column.  The worker remaps at its next
# batch, or stops with the error in kafka.stream_progress before writing
# anything; after each phase every record is stored (or dead-lettered, or
# was truncated away) exactly once, with its own values.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('target_ddl', broker => $broker, conf => 'restart_after_crash = on');

$broker->create_topic('ddl', 2);
$broker->create_topic('keyed', 2);

sub query { return query_retrying($node, @_); }
sub wait_for { return wait_for_value($node, 'postgres', @_, 120); }

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE ddl_topic (event_id bigint, user_id int, type text, amount numeric,
		ts timestamptz,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'ddl', format 'json');
	CREATE TABLE events (event_id bigint, user_id int, type text, amount numeric,
		_partition int, _offset bigint);
	-- where TRUNCATE puts the coordinates of the rows it takes away
	CREATE TABLE truncated (_partition int, _offset bigint);
	SELECT kafka.create_streaming_table('events', source => 'ddl_topic',
	  on_error => 'dead_letter', max_offsets_per_trigger => 500);
});

my $t = 'events';
my $produced = 0;

sub produce_more
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'ddl', count => $n, start => $produced,
		json => 1, partitions => 2);
	$produced += $n;
	return;
}

# every record once: in the target, dead-lettered, or taken away by TRUNCATE
sub exactly_once
{
	return qq{SELECT count(*), count(DISTINCT (p, o)) FROM (
		SELECT _partition AS p, _offset AS o FROM $t
		UNION ALL SELECT _partition, _offset FROM truncated
		UNION ALL SELECT "partition", "offset" FROM kafka.dead_letters WHERE stream = '$t'::regclass) x};
}

sub all_once
{
	my ($what) = @_;
	return wait_for(exactly_once(), "$produced|$produced", $what);
}

# rows whose columns do not hold their own record's values
sub wrong_values
{
	my ($where, @columns) = @_;
	my $differs = join(' OR ', map { "e.$_ IS DISTINCT FROM s.$_" } @columns);
	return query(qq{SELECT count(*) FROM $t e JOIN ddl_topic s USING (_partition, _offset)
		WHERE ($where) AND ($differs)});
}

sub state
{
	return query(qq{SELECT state FROM kafka.streaming_tables WHERE target = '$t'::regclass});
}

sub progress_error
{
	return query(qq{SELECT DISTINCT state || ': ' || last_error FROM kafka.stream_progress
		WHERE stream = '$t'::regclass});
}

sub consumed
{
	return query(qq{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = '$t'::regclass});
}

sub stored
{
	return query("SELECT count(*) FROM $t");
}

# --- the stream runs
produce_more(1000);
ok(all_once('initial load'), 'initial load: every record once');
is(wrong_values('true', qw(event_id user_id type amount)), '0', 'initial rows hold their values');

# --- ADD COLUMN: a nullable one, and one named like a source column the
# stream then starts to fill
$node->safe_psql('postgres', "ALTER TABLE $t ADD COLUMN note text, ADD COLUMN ts timestamptz");
produce_more(1000);
ok(all_once('after ADD COLUMN'), 'ADD COLUMN: every record once');
is(query("SELECT count(*) FILTER (WHERE ts IS NULL AND event_id < 1000) || ' '
		|| count(*) FILTER (WHERE ts IS NOT NULL AND event_id >= 1000) || ' ' || count(note) FROM $t"),
	'1000 1000 0', 'the added source-named column is filled from the next batch on, the other left NULL');
is(wrong_values('e.event_id >= 1000', qw(event_id user_id type amount ts)), '0',
	'rows written after ADD COLUMN hold their values in the right columns');

# --- ADD COLUMN with a default, NOT NULL with a default, a volatile
# default (a table rewrite under the stream), a generated column and an
# identity column
$node->safe_psql('postgres', qq{ALTER TABLE $t ADD COLUMN loaded_by text DEFAULT 'stream',
	ADD COLUMN version int NOT NULL DEFAULT 2,
	ADD COLUMN loaded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	ADD COLUMN event_key text GENERATED ALWAYS AS ('e' || event_id) STORED,
	ADD COLUMN row_id bigint GENERATED ALWAYS AS IDENTITY});
produce_more(1000);
ok(all_once('after ADD COLUMN DEFAULT'), 'ADD COLUMN with defaults: every record once');
is(query("SELECT count(*) FROM $t WHERE loaded_by = 'stream' AND version = 2 AND loaded_at IS NOT NULL"),
	stored(), 'new rows get the added columns\' defaults');
is(query("SELECT count(*) || ' ' || count(DISTINCT row_id) FROM $t WHERE event_key = 'e' || event_id"),
	stored() . ' ' . stored(), 'and the generated and identity columns\' values');
is(wrong_values('e.event_id >= 2000', qw(event_id user_id type amount ts)), '0', 'and their own values');

# --- DROP COLUMN the stream does not write
$node->safe_psql('postgres', "ALTER TABLE $t DROP COLUMN note");
produce_more(1000);
ok(all_once('after DROP COLUMN note'), 'DROP COLUMN of a column not written: every record once');
is(state(), 'active', 'the stream runs on');

# --- DROP COLUMN the stream writes: it stops before writing anything
my ($rows_before, $consumed_before) = (stored(), consumed());
$node->safe_psql('postgres', "ALTER TABLE $t DROP COLUMN amount");
produce_more(500);
ok(wait_for(qq{SELECT state FROM kafka.streaming_tables WHERE target = '$t'::regclass}, 'failed', 'drop written'),
	'DROP COLUMN of a written column stops the stream');
like(progress_error(),
	qr/^failed: column "amount" of streaming table public\.events was dropped, but its stream writes it/,
	'kafka.stream_progress says which column went');
is(stored() . ' ' . consumed(), "$rows_before $consumed_before", 'nothing written, no offset advanced');
my $log = slurp_file($node->logfile);
like($log, qr/HINT:  To keep the column, add it back \(or rename it back\), then call kafka\.resume_streaming_table\(\)/,
	'the log has the hint');
# going on without it
$node->safe_psql('postgres', "SELECT kafka.resume_streaming_table('$t')");
ok(all_once('resumed after DROP COLUMN'), 'resumed without the column: every record once');
is(wrong_values('e.event_id >= 4000', qw(event_id user_id type ts)), '0', 'rows after it hold their values');

# --- RENAME COLUMN the stream writes: stops; renamed back, goes on
($rows_before, $consumed_before) = (stored(), consumed());
$node->safe_psql('postgres', "ALTER TABLE $t RENAME COLUMN type TO kind");
produce_more(500);
ok(wait_for(qq{SELECT state FROM kafka.streaming_tables WHERE target = '$t'::regclass}, 'failed', 'rename written'),
	'RENAME COLUMN of a written column stops the stream');
like(progress_error(),
	qr/^failed: column "type" of streaming table public\.events was renamed to "kind", but its stream writes it by name/,
	'kafka.stream_progress names the old and new name');
is(stored() . ' ' . consumed(), "$rows_before $consumed_before", 'nothing written, no offset advanced');
$node->safe_psql('postgres', "ALTER TABLE $t RENAME COLUMN kind TO type");
$node->safe_psql('postgres', "SELECT kafka.resume_streaming_table('$t')");
ok(all_once('resumed after RENAME COLUMN'), 'renamed back and resumed: every record once');
is(wrong_values('true', qw(event_id user_id type)), '0', 'no row lost its type on the way');

# --- ALTER COLUMN TYPE int -> bigint: the stream writes the new type
$node->safe_psql('postgres', "ALTER TABLE $t ALTER COLUMN user_id TYPE bigint");
produce_more(1000);
ok(all_once('after int -> bigint'), 'int -> bigint: every record once');
is(wrong_values('true', qw(event_id user_id type)), '0', 'user_id widened with its values');
is(state(), 'active', 'the stream runs on');

# --- ALTER COLUMN TYPE text -> varchar(5): values too long are bad records
my $dead_before = query(qq{SELECT count(*) FROM kafka.dead_letters WHERE stream = '$t'::regclass});
is($dead_before, '0', 'no dead letter so far');
$node->safe_psql('postgres', "ALTER TABLE $t ALTER COLUMN type TYPE varchar(5) USING left(type, 5)");
my $first = $produced;
produce_more(1000);
ok(all_once('after varchar(5)'), 'text -> varchar(5): every record stored or dead-lettered once');
is(query(qq{SELECT count(*) || ' ' || count(*) FILTER (WHERE convert_from(value, 'UTF8')::jsonb->>'type' = 'purchase'
		AND error LIKE 'value too long for type character varying(5)%') FROM kafka.dead_letters WHERE stream = '$t'::regclass}),
	'250 250', 'the records whose type no longer fits are dead-lettered with the error');
is(query("SELECT count(*) FROM $t WHERE event_id >= $first"), '750', 'the others are stored');
is(wrong_values("e.event_id >= $first", qw(event_id user_id type ts)), '0', 'with their values');

# --- ALTER COLUMN TYPE to a type the source column cannot be assigned to
($rows_before, $consumed_before) = (stored(), consumed());
$node->safe_psql('postgres', "ALTER TABLE $t ALTER COLUMN user_id TYPE text");
produce_more(500);
ok(wait_for(qq{SELECT state FROM kafka.streaming_tables WHERE target = '$t'::regclass}, 'failed', 'incompatible'),
	'an incompatible type stops the stream');
like(progress_error(),
	qr/^failed: column "user_id" of foreign table "ddl_topic" has type integer but column "user_id" of streaming table "events" has type text/,
	'kafka.stream_progress names both types');
is(stored() . ' ' . consumed(), "$rows_before $consumed_before", 'nothing written, no offset advanced');
$node->safe_psql('postgres', "ALTER TABLE $t ALTER COLUMN user_id TYPE bigint USING user_id::bigint");
$node->safe_psql('postgres', "SELECT kafka.resume_streaming_table('$t')");
ok(all_once('resumed after the type fix'), 'type fixed and resumed: every record once');
is(wrong_values("e.event_id >= $first", qw(event_id user_id ts)), '0', 'rows hold their values');

# --- TRUNCATE while batches commit: the rows taken away are kept aside in
# the same transaction, the stream goes on with the records after them
my $producer = start_produce(broker => $broker, topic => 'ddl', count => 4000, start => $produced,
	json => 1, partitions => 2);
my $grow = stored();
for (1 .. 600)
{
	last if stored() > $grow + 500;
	usleep(20_000);
}
$node->safe_psql('postgres', qq{
	BEGIN;
	LOCK TABLE $t IN ACCESS EXCLUSIVE MODE;
	INSERT INTO truncated SELECT _partition, _offset FROM $t;
	TRUNCATE $t;
	COMMIT;});
finish_produce($producer);
$produced += 4000;
produce_more(500);
ok(all_once('after TRUNCATE'), 'TRUNCATE under a running stream: every record once');
ok(query('SELECT count(*) FROM truncated') > 0 && stored() > 0, 'rows on both sides of the TRUNCATE');
is(wrong_values('true', qw(event_id user_id ts)), '0', 'rows after it hold their values');

# --- RENAME TO and SET SCHEMA: the stream follows its table
$node->safe_psql('postgres', "ALTER TABLE $t RENAME TO events_v2");
$t = 'events_v2';
produce_more(1000);
ok(all_once('after RENAME TO'), 'RENAME TO: every record once');
is(query(q{SELECT target::text FROM kafka.streaming_tables WHERE source = 'ddl_topic'::regclass}),
	'events_v2', 'the catalog shows the new name');
$node->safe_psql('postgres', "CREATE SCHEMA warehouse; ALTER TABLE $t SET SCHEMA warehouse");
$t = 'warehouse.events_v2';
produce_more(500);
ok(all_once('after SET SCHEMA'), 'SET SCHEMA: every record once');
is(query(q{SELECT target::text FROM kafka.streaming_tables WHERE source = 'ddl_topic'::regclass}),
	'warehouse.events_v2', 'the catalog shows the new schema');
is(state(), 'active', 'the stream runs on');

# --- SIGKILL of the worker in the batch right after a DDL: the worker is
# held at its next batch by a lock while records arrive, the DDL commits,
# and the worker dies while it applies that batch
my $session = $node->background_psql('postgres');
$session->query_safe("BEGIN; LOCK TABLE $t IN ACCESS EXCLUSIVE MODE");
produce_more(5000);
my $worker = query(qq{SELECT DISTINCT worker_pid FROM kafka.stream_progress WHERE stream = '$t'::regclass});
ok($worker, 'a worker runs the stream');
$session->query_safe("ALTER TABLE $t ADD COLUMN late text DEFAULT 'late'; COMMIT");
$session->quit;
wait_for_active($node, $worker, 10);
kill 'KILL', $worker;
note "killed worker $worker with " . stored() . " rows stored";
usleep(500_000);
query('SELECT 1');
ok(all_once('after SIGKILL'), 'SIGKILL after a DDL: every record once');
is(wrong_values('true', qw(event_id user_id ts)), '0', 'rows hold their values');
is(query("SELECT count(*) FROM $t WHERE late IS DISTINCT FROM 'late'"), '0', 'the added column has its default');
isnt(query(qq{SELECT DISTINCT worker_pid FROM kafka.stream_progress WHERE stream = '$t'::regclass}), $worker,
	'a new worker runs the stream');

# --- DROP TABLE rolled back: the stream goes on
$node->safe_psql('postgres', "BEGIN; DROP TABLE $t; ROLLBACK");
produce_more(500);
ok(all_once('after DROP TABLE rolled back'), 'DROP TABLE rolled back: every record once');
is(state(), 'active', 'the stream runs on');

# --- DROP TABLE: the stream goes with it, its worker stops
$session = $node->background_psql('postgres');
$session->query_safe("BEGIN; LOCK TABLE $t IN ACCESS EXCLUSIVE MODE");
produce_more(500);
$session->query_safe("DROP TABLE $t; COMMIT");
$session->quit;
ok(wait_for(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'kafka_fdw stream worker'
		AND application_name LIKE 'kafka_fdw stream %events%'}, '0', 'worker gone'),
	'the worker of the dropped table stops');
is(query(q{SELECT (SELECT count(*) FROM kafka.streaming_tables WHERE source = 'ddl_topic'::regclass)
		|| ' ' || (SELECT count(*) FROM kafka.stream_offsets o WHERE NOT EXISTS
		  (SELECT FROM kafka.streaming_tables s WHERE s.target = o.stream))}),
	'0 0', 'the stream and its offsets are gone with the table');

# --- an interval stream with a transform: a column the transform fills,
# renamed between two ticks (each tick opens the source anew)
$node->safe_psql('postgres', q{
	CREATE TABLE enriched (event_id bigint, kind text, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('enriched', source => 'ddl_topic', trigger => '1 second',
	  transform => 'SELECT event_id, upper(type) AS kind, _partition, _offset FROM batch');});
my $enriched_once = 'SELECT count(*), count(DISTINCT (_partition, _offset)) FROM enriched';
my $enriched_state = q{SELECT state FROM kafka.streaming_tables WHERE target = 'enriched'::regclass};
ok(wait_for($enriched_once, "$produced|$produced", 'enriched'), 'the interval stream loads the topic');
$node->safe_psql('postgres', 'ALTER TABLE enriched RENAME COLUMN kind TO category');
produce_more(300);
ok(wait_for($enriched_state, 'failed', 'enriched renamed'), 'a renamed column the transform fills stops the stream');
like(query(q{SELECT DISTINCT last_error FROM kafka.stream_progress WHERE stream = 'enriched'::regclass}),
	qr/^column "kind" of streaming table public\.enriched was renamed to "category", but its stream writes it by name/,
	'and says so');
like(slurp_file($node->logfile), qr/DETAIL:  It holds column "kind" of the transform\./, 'naming the transform\'s column');
is(query('SELECT count(*) FROM enriched'), $produced - 300, 'nothing of the batch written');
$node->safe_psql('postgres', q{ALTER TABLE enriched RENAME COLUMN category TO kind;
	SELECT kafka.resume_streaming_table('enriched');});
ok(wait_for($enriched_once, "$produced|$produced", 'enriched resumed'), 'renamed back and resumed: every record once');
is(query(q{SELECT count(*) FROM enriched e JOIN ddl_topic s USING (_partition, _offset)
		WHERE e.kind IS DISTINCT FROM upper(s.type) OR e.event_id IS DISTINCT FROM s.event_id}),
	'0', 'every row holds its transformed values');

# --- SET UNLOGGED: a crash would empty the table while the offsets stay
$node->safe_psql('postgres', 'ALTER TABLE enriched SET UNLOGGED');
produce_more(300);
ok(wait_for($enriched_state, 'failed', 'enriched unlogged'), 'an unlogged target stops the stream');
like(query(q{SELECT DISTINCT last_error FROM kafka.stream_progress WHERE stream = 'enriched'::regclass}),
	qr/^streaming table "enriched" must be a logged table/, 'and says why');
is(query('SELECT count(*) FROM enriched'), $produced - 300, 'nothing of the batch written');
$node->safe_psql('postgres', q{ALTER TABLE enriched SET LOGGED;
	SELECT kafka.resume_streaming_table('enriched');});
ok(wait_for($enriched_once, "$produced|$produced", 'enriched logged'), 'logged again and resumed: every record once');

# --- keyed target (mode upsert): its unique index, then its key column
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE keyed_topic (user_key text OPTIONS (kafka 'key'), event_id bigint,
		amount numeric,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'keyed', format 'json');
	CREATE TABLE latest (user_key text PRIMARY KEY, event_id bigint, amount numeric,
		_partition int, _offset bigint);
	SELECT kafka.create_streaming_table('latest', source => 'keyed_topic', mode => 'upsert',
	  sequence_by => 'event_id', max_offsets_per_trigger => 500);});
my $keyed_produced = 0;

sub produce_keyed
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'keyed', count => $n, start => $keyed_produced,
		json => 1, partitions => 2);
	$keyed_produced += $n;
	return;
}

# the upsert reference: the latest event of each key, from the topic
my $latest_equal = q{
	SELECT (SELECT md5(string_agg(format('%s %s %s %s %s', user_key, event_id, amount, _partition, _offset),
	                              ',' ORDER BY user_key))
	          FROM (SELECT DISTINCT ON (user_key) * FROM keyed_topic ORDER BY user_key, event_id DESC) r)
	     IS NOT DISTINCT FROM
	       (SELECT md5(string_agg(format('%s %s %s %s %s', user_key, event_id, amount, _partition, _offset),
	                              ',' ORDER BY user_key)) FROM latest)};
my $keyed_consumed = q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = 'latest'::regclass};
my $keyed_state = q{SELECT state FROM kafka.streaming_tables WHERE target = 'latest'::regclass};

produce_keyed(2000);
ok(wait_for($keyed_consumed, $keyed_produced, 'keyed load'), 'the keyed stream loads');
ok(wait_for($latest_equal, 't', 'keyed reference'), 'the keyed target equals the latest event per key');

# its unique index dropped: stops before writing; recreated: goes on
my $latest_before = query('SELECT md5(string_agg(latest::text, \',\' ORDER BY user_key)) FROM latest');
$node->safe_psql('postgres', 'ALTER TABLE latest DROP CONSTRAINT latest_pkey');
produce_keyed(500);
ok(wait_for($keyed_state, 'failed', 'keyed index dropped'), 'dropping the key\'s unique index stops the stream');
like(query(q{SELECT DISTINCT last_error FROM kafka.stream_progress WHERE stream = 'latest'::regclass}),
	qr/^streaming table public\.latest has no unique index on its keys \(user_key\)/, 'and says why');
is(query($keyed_consumed) . ' ' . query('SELECT md5(string_agg(latest::text, \',\' ORDER BY user_key)) FROM latest'),
	'2000 ' . $latest_before, 'nothing written, no offset advanced');
$node->safe_psql('postgres', q{ALTER TABLE latest ADD PRIMARY KEY (user_key);
	SELECT kafka.resume_streaming_table('latest');});
ok(wait_for($keyed_consumed, $keyed_produced, 'keyed resumed'), 'index back and resumed: every record consumed');
ok(wait_for($latest_equal, 't', 'keyed reference after index'), 'the target equals the reference');

# its key column dropped: stops; rebuilt from the earliest offsets
$node->safe_psql('postgres', 'ALTER TABLE latest DROP COLUMN user_key');
produce_keyed(500);
ok(wait_for($keyed_state, 'failed', 'keyed column dropped'), 'dropping the key column stops the stream');
like(query(q{SELECT DISTINCT last_error FROM kafka.stream_progress WHERE stream = 'latest'::regclass}),
	qr/^key column "user_key" is not a column of streaming table public\.latest/, 'and says why');
is(query($keyed_consumed), '2500', 'no offset advanced');
$node->safe_psql('postgres', q{
	TRUNCATE latest;
	ALTER TABLE latest ADD COLUMN user_key text PRIMARY KEY;
	SELECT kafka.reset_offsets('latest', 'earliest');
	SELECT kafka.resume_streaming_table('latest');});
ok(wait_for($keyed_consumed, $keyed_produced, 'keyed rebuilt'), 'rebuilt: every record consumed');
ok(wait_for($latest_equal, 't', 'keyed reference after rebuild'), 'the rebuilt target equals the reference');
is(query('SELECT count(*) FROM latest'), '97', 'one row per key');

# --- between two refreshes (no worker, no batch in memory): the catalog
# remembers what the last batch wrote
$node->safe_psql('postgres', q{
	CREATE TABLE refreshed (event_id bigint, amount numeric, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('refreshed', source => 'ddl_topic', trigger => 'available_now');
	CALL kafka.refresh_streaming_table('refreshed');});
my $refreshed_offsets = q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = 'refreshed'::regclass};
is(query($refreshed_offsets), "$produced", 'a refresh loads the topic');
$node->safe_psql('postgres', 'ALTER TABLE refreshed RENAME COLUMN amount TO amount_usd');
produce_more(100);
my ($rret, $rout, $rerr) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('refreshed')});
like($rerr, qr/column "amount" of streaming table public\.refreshed was renamed to "amount_usd", but its stream writes it by name/,
	'a column renamed between two refreshes stops the next one');
is(query($refreshed_offsets), $produced - 100, 'nothing written, no offset advanced');
$node->safe_psql('postgres', q{SELECT kafka.resume_streaming_table('refreshed');
	CALL kafka.refresh_streaming_table('refreshed');});
is(query(qq{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) || ' ' || count(amount_usd)
	FROM refreshed}), "$produced $produced " . ($produced - 100),
	'resumed, the stream goes on with the columns the table has, every record once');

$log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal (?!9\b)/, 'no process crashed (but the worker killed on purpose)');
unlike($log, qr/relcache reference leak|cache lookup failed|TRAP:/, 'no leak, no stale cache, no assertion');
my @warnings = grep { !/terminating connection because of crash of another server process/ }
  grep { /WARNING:/ } split /\n/, $log;
is(join("\n", @warnings), '', 'no WARNING in the server log');

done_testing();
