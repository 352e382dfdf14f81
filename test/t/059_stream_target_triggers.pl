# Triggers on streaming-table targets, under a continuous stream and under
# CALL kafka.refresh_streaming_table: BEFORE ROW triggers that change the row
# and that skip it (RETURN NULL), an AFTER ROW trigger writing a table, one
# producing to Kafka through a kafka foreign table, BEFORE and AFTER
# STATEMENT triggers, and an AFTER STATEMENT trigger with a transition table
# (REFERENCING NEW TABLE) producing with kafka.produce.  Row counts are
# exact: each batch fires the statement triggers once, each stored row the
# row triggers once, and the topics the triggers produce to hold every row.
# A trigger's error stops a stream under on_error 'fail' (and fails the
# refresh) without writing or producing anything of the batch; a SIGKILL of
# the worker in the batch right after a trigger is replaced loses and
# repeats nothing.  No relcache reference leak, no WARNING.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('target_triggers', broker => $broker, conf => 'restart_after_crash = on');

$broker->create_topic('trig', 2);
$broker->create_topic('echo', 2);
$broker->create_topic('echo_stmt', 1);

sub query { return query_retrying($node, @_); }
sub wait_for { return wait_for_value($node, 'postgres', @_, 120); }

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE trig_topic (event_id bigint, user_id int, type text, amount numeric,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'trig', format 'json');
	-- what the triggers produce: a row per stored row, by INSERT and by kafka.produce
	CREATE FOREIGN TABLE echo_topic (event_id bigint, tbl text)
	  SERVER k OPTIONS (topic 'echo', format 'json');
	CREATE FOREIGN TABLE echo_stmt_topic (tbl text OPTIONS (kafka 'key'), event_id bigint)
	  SERVER k OPTIONS (topic 'echo_stmt', format 'text');
	CREATE TABLE row_log (tbl text, event_id bigint, _partition int, _offset bigint);
	CREATE TABLE stmt_log (tbl text, kind text, rows bigint);

	CREATE FUNCTION tag_row() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN NEW.note := 'tagged ' || NEW.event_id; RETURN NEW; END\$\$;
	CREATE FUNCTION skip_views() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN IF NEW.type = 'view' THEN RETURN NULL; END IF; RETURN NEW; END\$\$;
	CREATE FUNCTION log_row() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN INSERT INTO row_log VALUES (TG_TABLE_NAME, NEW.event_id, NEW._partition, NEW._offset);
	  RETURN NULL; END\$\$;
	CREATE FUNCTION echo_row() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN INSERT INTO echo_topic VALUES (NEW.event_id, TG_TABLE_NAME); RETURN NULL; END\$\$;
	CREATE FUNCTION log_statement() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN INSERT INTO stmt_log VALUES (TG_TABLE_NAME, TG_WHEN, NULL); RETURN NULL; END\$\$;
	CREATE FUNCTION log_new_rows() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN
	    INSERT INTO stmt_log SELECT TG_TABLE_NAME, 'new rows', count(*) FROM new_rows;
	    PERFORM kafka.produce('k', 'echo_stmt', TG_TABLE_NAME::text, event_id::text) FROM new_rows;
	    RETURN NULL;
	  END\$\$;

	CREATE PROCEDURE add_triggers(target regclass) LANGUAGE plpgsql AS \$\$BEGIN
	  EXECUTE format('CREATE TRIGGER a_tag BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION tag_row()', target);
	  EXECUTE format('CREATE TRIGGER b_skip BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION skip_views()', target);
	  EXECUTE format('CREATE TRIGGER c_log AFTER INSERT ON %s FOR EACH ROW EXECUTE FUNCTION log_row()', target);
	  EXECUTE format('CREATE TRIGGER d_echo AFTER INSERT ON %s FOR EACH ROW EXECUTE FUNCTION echo_row()', target);
	  EXECUTE format('CREATE TRIGGER e_before BEFORE INSERT ON %s FOR EACH STATEMENT EXECUTE FUNCTION log_statement()', target);
	  EXECUTE format('CREATE TRIGGER f_after AFTER INSERT ON %s FOR EACH STATEMENT EXECUTE FUNCTION log_statement()', target);
	  EXECUTE format('CREATE TRIGGER g_new_rows AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
	                 'FOR EACH STATEMENT EXECUTE FUNCTION log_new_rows()', target);
	END\$\$;

	CREATE TABLE trig_cont (event_id bigint, user_id int, type text, amount numeric, note text,
		_partition int, _offset bigint);
	CREATE TABLE trig_refresh (LIKE trig_cont);
	CALL add_triggers('trig_cont');
	CALL add_triggers('trig_refresh');
	SELECT kafka.create_streaming_table('trig_cont', source => 'trig_topic', on_error => 'fail',
	  max_offsets_per_trigger => 300);
	SELECT kafka.create_streaming_table('trig_refresh', source => 'trig_topic', on_error => 'fail',
	  trigger => 'available_now', max_offsets_per_trigger => 300);
});

my $produced = 0;

sub produce_more
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'trig', count => $n, start => $produced,
		json => 1, partitions => 2);
	$produced += $n;
	return;
}

# records of type 'view' (event_id % 4 = 0) are skipped by a trigger
sub kept
{
	return scalar(grep { $_ % 4 } 0 .. $produced - 1);
}

sub consumed
{
	my ($t) = @_;
	return qq{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = '$t'::regclass};
}

sub refresh
{
	return query(q{CALL kafka.refresh_streaming_table('trig_refresh')});
}

# every count the triggers keep agrees with the rows and the batches
sub check_target
{
	my ($t, $what) = @_;
	my $kept = kept();

	is(query(qq{SELECT count(*) || '|' || count(DISTINCT (_partition, _offset)) FROM $t}),
		"$kept|$kept", "$what: every record not skipped stored once");
	is(query(qq{SELECT count(*) FROM trig_topic s FULL JOIN $t t USING (_partition, _offset)
			WHERE (s.type IS DISTINCT FROM 'view') IS DISTINCT FROM (t._offset IS NOT NULL)
			   OR (t._offset IS NOT NULL
			       AND (t.event_id, t.user_id, t.type, t.amount, t.note) IS DISTINCT FROM
			           (s.event_id, s.user_id, s.type, s.amount, 'tagged ' || s.event_id))}),
		'0', "$what: the rows are the records not skipped, changed by the BEFORE ROW trigger");
	is(query(qq{SELECT count(*) || '|' || count(DISTINCT (_partition, _offset)) FROM row_log WHERE tbl = '$t'}),
		"$kept|$kept", "$what: the AFTER ROW trigger ran once per stored row");
	my $batches = query(qq{SELECT batch_id FROM kafka.streaming_tables WHERE target = '$t'::regclass});
	is(query(qq{SELECT count(*) FILTER (WHERE kind = 'BEFORE') || '|' || count(*) FILTER (WHERE kind = 'AFTER')
			|| '|' || count(*) FILTER (WHERE kind = 'new rows') || '|' || coalesce(sum(rows), 0)
			FROM stmt_log WHERE tbl = '$t'}),
		"$batches|$batches|$batches|$kept",
		"$what: statement triggers once per batch ($batches), the transition tables held every row");
	is(query(qq{SELECT count(DISTINCT event_id) || '|' || count(*) FILTER (WHERE event_id NOT IN (SELECT event_id FROM $t))
			FROM echo_topic WHERE tbl = '$t'}),
		"$kept|0", "$what: the row trigger produced every row to Kafka, nothing else");
	is(query(qq{SELECT count(DISTINCT event_id) || '|' || count(*) FILTER (WHERE event_id NOT IN (SELECT event_id FROM $t))
			FROM echo_stmt_topic WHERE tbl = '$t'}),
		"$kept|0", "$what: kafka.produce over the transition table produced every row, nothing else");
	return;
}

# --- both streams, with every kind of trigger
produce_more(2000);
ok(wait_for(consumed('trig_cont'), $produced, 'continuous'), 'continuous stream consumed the topic');
like(refresh(), qr/refreshed public\.trig_refresh: 1500 rows from 2000 records in \d+ batches/,
	'refresh: the rows the triggers kept');
check_target('trig_cont', 'continuous');
check_target('trig_refresh', 'refresh');

produce_more(1000);
ok(wait_for(consumed('trig_cont'), $produced, 'continuous 2'), 'more records');
refresh();
check_target('trig_cont', 'continuous, more');
check_target('trig_refresh', 'refresh, more');

# --- a trigger's error under on_error 'fail': the stream stops, the refresh
# fails, nothing of the batch is written or produced
$node->safe_psql('postgres', q{
	CREATE OR REPLACE FUNCTION skip_views() RETURNS trigger LANGUAGE plpgsql AS
	  $$BEGIN
	    IF NEW.event_id = 3333 THEN RAISE EXCEPTION 'event % rejected by a trigger', NEW.event_id; END IF;
	    IF NEW.type = 'view' THEN RETURN NULL; END IF;
	    RETURN NEW;
	  END$$;});
produce_more(500);
my $poison = query(q{SELECT _partition || ' ' || _offset FROM trig_topic WHERE event_id = 3333});
my ($poison_partition, $poison_offset) = split / /, $poison;
ok(wait_for(q{SELECT state FROM kafka.streaming_tables WHERE target = 'trig_cont'::regclass}, 'failed', 'poison'),
	'a trigger error stops the continuous stream');
like(query(q{SELECT DISTINCT last_error FROM kafka.stream_progress WHERE stream = 'trig_cont'::regclass}),
	qr/^event 3333 rejected by a trigger .*kafka record trig\[$poison_partition\] at offset $poison_offset into streaming table "trig_cont"/s,
	'kafka.stream_progress shows the error and its record');
is(query(qq{SELECT next_offset <= $poison_offset FROM kafka.stream_offsets
		WHERE stream = 'trig_cont'::regclass AND "partition" = $poison_partition}),
	't', 'the batch with the record did not commit');
is(query(q{SELECT count(*) FROM trig_cont WHERE event_id = 3333}) . ' '
	  . query(q{SELECT count(*) FROM echo_topic WHERE event_id = 3333}),
	'0 0', 'nothing of it stored or produced');
my ($ret, $out, $err) = $node->psql('postgres', q{CALL kafka.refresh_streaming_table('trig_refresh')});
like($err, qr/ERROR:  event 3333 rejected by a trigger/, 'the refresh fails with the trigger\'s error');
is(query(q{SELECT state FROM kafka.streaming_tables WHERE target = 'trig_refresh'::regclass}), 'failed',
	'and marks its stream failed');
$node->safe_psql('postgres', q{
	CREATE OR REPLACE FUNCTION skip_views() RETURNS trigger LANGUAGE plpgsql AS
	  $$BEGIN IF NEW.type = 'view' THEN RETURN NULL; END IF; RETURN NEW; END$$;
	SELECT kafka.resume_streaming_table('trig_cont');
	SELECT kafka.resume_streaming_table('trig_refresh');});
ok(wait_for(consumed('trig_cont'), $produced, 'resumed'), 'the fixed trigger lets the stream go on');
refresh();
check_target('trig_cont', 'after the trigger error');
check_target('trig_refresh', 'refresh after the trigger error');

# --- SIGKILL of the worker in the batch right after a trigger is replaced
my $session = $node->background_psql('postgres');
$session->query_safe('BEGIN; LOCK TABLE trig_cont IN ACCESS EXCLUSIVE MODE');
produce_more(3000);
my $worker = query(q{SELECT DISTINCT worker_pid FROM kafka.stream_progress WHERE stream = 'trig_cont'::regclass});
ok($worker, 'a worker runs the stream');
$session->query_safe(q{CREATE OR REPLACE TRIGGER d_echo AFTER INSERT ON trig_cont
	FOR EACH ROW EXECUTE FUNCTION echo_row(); COMMIT});
$session->quit;
wait_for_active($node, $worker, 10);
kill 'KILL', $worker;
note 'killed worker ' . $worker . ' with ' . query('SELECT count(*) FROM trig_cont') . ' rows stored';
usleep(500_000);
query('SELECT 1');
ok(wait_for(consumed('trig_cont'), $produced, 'after SIGKILL'), 'the stream comes back after the SIGKILL');
refresh();
check_target('trig_cont', 'after SIGKILL');
check_target('trig_refresh', 'refresh after SIGKILL');

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal (?!9\b)/, 'no process crashed (but the worker killed on purpose)');
unlike($log, qr/relcache reference leak|TRAP:/, 'no relcache reference leak');
my @warnings = grep { !/terminating connection because of crash of another server process/ }
  grep { /WARNING:/ } split /\n/, $log;
is(join("\n", @warnings), '', 'no WARNING in the server log');

done_testing();
