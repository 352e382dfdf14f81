# Avro through the Schema Registry: rows INSERTed into a foreign table of
# format avro read back identically through the foreign table,
# kafka.from_avro and an independent decoder (python3-avro); a registry that is down (503) or not
# listening at all is waited for and retried within statement_timeout, then
# it is an error naming it; cancel works while waiting; credentials stay out
# of errors and the server log.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1, topics => ['avro_rt:1']);
my $registry = start_schema_registry(user => 'sr-user', password => 'sr-secret-pw');
my $bs = $broker->bootstrap;
my $url = $registry->url;
my $node = new_node('avro', broker => $broker, schema_registry => $registry,
	conf => "log_min_messages = debug1\nstatement_timeout = '120s'\ntimezone = 'UTC'");

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url');
	-- the statement itself would be logged (log_statement = all)
	SET log_statement = 'none';
	CREATE USER MAPPING FOR CURRENT_USER SERVER k
	  OPTIONS (schema_registry_user 'sr-user', schema_registry_password 'sr-secret-pw');
	RESET log_statement;
	CREATE TYPE addr AS (street text, zip int);
	CREATE TABLE src (id int, name text, amount numeric(10,2), at timestamptz,
	  d date, tags text[], u uuid, b bytea, f double precision, address addr);
	INSERT INTO src VALUES
	  (1, 'café', 12.50, '2024-01-01 10:00:00.123456+00', '2024-02-29', '{a,NULL}',
	   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff', 1.5, ROW('Main St', 1234)),
	  (2, NULL, -0.01, NULL, NULL, '{}', NULL, '\\x', NULL, NULL),
	  (3, '', 99999999.99, '1969-12-31 23:59:59.999999+00', '1970-01-01', NULL, NULL, NULL, '-0', ROW(NULL, NULL));
});

###########################################################################
# Round trip through Kafka: rows INSERTed into a foreign table of format
# avro (value and key), checked by an independent decoder.
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE avro_rt (id int, name text, amount numeric(10,2),
	  at timestamptz, d date, tags text[], u uuid, b bytea, f double precision,
	  address addr, k int OPTIONS (kafka 'key'), p int OPTIONS (kafka 'partition'))
	  SERVER k OPTIONS (topic 'avro_rt', format 'avro', key_format 'avro');
	INSERT INTO avro_rt SELECT s.*, s.id, 0 FROM src s ORDER BY id;
});
my ($ok, $out, $err) = run_cmd([ $ENV{KT_PYTHON} // '/usr/bin/python3',
	"$srcdir/test/fixtures/produce_avro.py", '--decode', '--bootstrap', $bs,
	'--registry', $url, '--user', 'sr-user', '--password', 'sr-secret-pw',
	'--topic', 'avro_rt' ]);
ok($ok, 'independent decoder read the topic') or diag($err);
my @decoded = split /\n/, $out;
is(scalar(@decoded), 3, 'three messages decoded by python3-avro');
is($decoded[0],
	'{"address": {"street": "Main St", "zip": 1234}, "amount": "12.50", "at": "2024-01-01 10:00:00.123456+00:00", "b": "\\\\x00ff", "d": "2024-02-29", "f": 1.5, "id": 1, "name": "café", "tags": ["a", null], "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}',
	'row 1 as python3-avro decodes it');
is($decoded[1],
	'{"address": null, "amount": "-0.01", "at": null, "b": "\\\\x", "d": null, "f": null, "id": 2, "name": null, "tags": [], "u": null}',
	'row 2 (nulls) as python3-avro decodes it');
is($decoded[2],
	'{"address": {"street": null, "zip": null}, "amount": "99999999.99", "at": "1969-12-31 23:59:59.999999+00:00", "b": null, "d": "1970-01-01", "f": -0.0, "id": 3, "name": "", "tags": null, "u": null}',
	'row 3 (edge values) as python3-avro decodes it');

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	  SELECT * FROM src
	  EXCEPT
	  SELECT (kafka.from_avro(value, NULL::src, server => 'k')).*
	    FROM kafka.read_kafka(server => 'k', subscribe => 'avro_rt')) d}),
	'0', 'rows read back through from_avro are identical');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	  (SELECT * FROM src EXCEPT SELECT id, name, amount, at, d, tags, u, b, f, address FROM avro_rt)
	  UNION ALL
	  (SELECT id, name, amount, at, d, tags, u, b, f, address FROM avro_rt EXCEPT SELECT * FROM src)) d}),
	'0', 'rows read back through the foreign table are identical');
is($node->safe_psql('postgres', q{SELECT count(*) FROM avro_rt WHERE k = id}), '3',
	'keys read back through key_format avro');
is($node->safe_psql('postgres', q{
	SELECT string_agg(kafka.from_avro(key, server => 'k')::text, ',' ORDER BY "offset")
	  FROM kafka.read_kafka(server => 'k', subscribe => 'avro_rt')}),
	'1,2,3', 'keys are bare Avro ints under avro_rt-key');

###########################################################################
# Registry answering 503 for a while: a fresh backend (cold cache) waits and
# retries, and gets its answer once the registry is back.
my $decode_all = q{SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'avro_rt')
	WHERE (kafka.from_avro(value, NULL::src, server => 'k')).id IS NOT NULL};

$registry->down;
my $start = time;
my ($h, $hout, $herr) = start_psql($node, $decode_all);
sleep 2;
$registry->up;
$h->finish;
is($$hout, "3\n", 'decoded after the registry came back') or diag($$herr);
cmp_ok(time - $start, '>=', 1.5, 'the read waited for the registry');
my @requests = $registry->requests;
ok((grep { m{^GET /schemas/ids/\d+ 503$} } @requests), 'registry answered 503 while down');
ok((grep { m{^GET /schemas/ids/\d+ 200$} } @requests), 'and 200 afterwards');

# Not listening at all (connection refused), then back on the same port.
$registry->stop;
($h, $hout, $herr) = start_psql($node, $decode_all);
sleep 2;
$registry->restart;
$h->finish;
is($$hout, "3\n", 'decoded after the registry process was restarted') or diag($$herr);

# Down for longer than statement_timeout allows: a clear error, in time.
$registry->down;
$start = time;
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET statement_timeout = '4s'; $decode_all");
my $elapsed = time - $start;
isnt($ret, 0, 'read fails while the registry stays down');
like($stderr, qr/schema registry "http:\/\/127\.0\.0\.1:\d+" of server "k" is unavailable/,
	'the error names the registry and the server');
like($stderr, qr/HTTP status 503/, 'and says what it answered');
cmp_ok($elapsed, '<', 4, 'given up before statement_timeout');
unlike($stderr, qr/sr-secret-pw/, 'no password in the error');

# Cancel while waiting for the registry.
($h, $hout, $herr) = start_psql($node, $decode_all);
my $pid;
for (1 .. 200)
{
	$pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE query LIKE '%from_avro%' AND pid <> pg_backend_pid() AND state = 'active' LIMIT 1");
	last if $pid;
	usleep(50_000);
}
ok($pid, 'query waiting on the registry is running');
usleep(500_000);
$start = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$h->finish;
cmp_ok(time - $start, '<', 2, 'cancel is honoured within a second or so');
like($$herr, qr/canceling statement due to user request/, 'and reported as a cancel');
$registry->up;

###########################################################################
# A registry URL that points somewhere else (a bare 404, not Confluent's
# "schema not found"): an ERROR for the statement, never a bad message that
# on_error would turn into NULLs, skip or dead-letter.
$node->safe_psql('postgres', qq{
	CREATE SERVER k_wrong FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url/not-a-registry');
	SET log_statement = 'none';
	CREATE USER MAPPING FOR CURRENT_USER SERVER k_wrong
	  OPTIONS (schema_registry_user 'sr-user', schema_registry_password 'sr-secret-pw');
	RESET log_statement;
	CREATE FOREIGN TABLE avro_wrong (id int, name text)
	  SERVER k_wrong OPTIONS (topic 'avro_rt', format 'avro', on_error 'null');
});
($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.from_avro(value, server => 'k_wrong')
	  FROM kafka.read_kafka(server => 'k', subscribe => 'avro_rt') LIMIT 1});
like($err, qr/schema registry ".*" of server "k_wrong" gave no schema for id \d+/,
	'a wrong registry URL is an error naming the registry and server');
like($err, qr/HINT:  Check schema_registry_url/, 'with a hint at the URL');
($ret, $out, $err) = $node->psql('postgres', q{SELECT count(*) FROM avro_wrong});
isnt($ret, 0, 'on_error null does not hide a wrong registry URL');
like($err, qr/gave no schema for id/, 'the scan fails with the same error');

###########################################################################
# Hostile payloads: thousands of mutated and truncated messages through the
# jsonb and the typed decoder, with a nested schema; every one is either
# decoded or a clean ERROR, and the server stays up.
$node->safe_psql('postgres', q{
	CREATE TABLE mutated_results (kind text, n bigint);
	DO $$
	DECLARE
	  base bytea;
	  m bytea;
	  ok int := 0;
	  failed int := 0;
	BEGIN
	  PERFORM setseed(0.42);
	  SELECT value INTO base FROM kafka.read_kafka(server => 'k', subscribe => 'avro_rt')
	    ORDER BY "offset" LIMIT 1;
	  FOR i IN 1..3000 LOOP
	    m := base;
	    IF i % 3 = 0 THEN
	      m := substr(m, 1, 6 + (random() * (length(m) - 6))::int);
	    END IF;
	    FOR j IN 1..1 + (i % 4) LOOP
	      m := set_byte(m, 5 + floor(random() * (length(m) - 5))::int, (random() * 255)::int);
	    END LOOP;
	    BEGIN
	      PERFORM kafka.from_avro(m, server => 'k');
	      PERFORM kafka.from_avro(m, NULL::src, server => 'k');
	      ok := ok + 1;
	    EXCEPTION WHEN OTHERS THEN
	      IF SQLSTATE NOT IN ('22P03', '22021', '22003', '22008', '22007', '22P02', '42804', '54000', '2200N') THEN
	        RAISE EXCEPTION 'unexpected % %', SQLSTATE, SQLERRM;
	      END IF;
	      failed := failed + 1;
	    END;
	  END LOOP;
	  INSERT INTO mutated_results VALUES ('ok', ok), ('failed', failed);
	END $$;
});
is($node->safe_psql('postgres', 'SELECT sum(n) FROM mutated_results'), '3000',
	'3000 mutated payloads: each decoded or refused cleanly');
cmp_ok($node->safe_psql('postgres', "SELECT n FROM mutated_results WHERE kind = 'failed'"),
	'>', 100, 'and many of them were refused');

my $log = slurp_file($node->logfile);
unlike($log, qr/sr-secret-pw/, 'the password never reaches the server log');

done_testing();
