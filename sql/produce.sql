--
-- produce: kafka.produce() and the transaction rules of producing.  Messages
-- are held by the transaction and delivered at commit; they are read back
-- here with read_kafka (test/t/030_produce.pl checks them with independent
-- consumers, and the failure cases: brokers down, missing topic, cancel).
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', message_timeout '10');
SET timezone = 'UTC';

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '127\.0\.0\.1:[0-9]+', 'BROKER', 'g');
END $$;

CREATE FUNCTION pg_temp.topic(t text) RETURNS TABLE (k text, v text, p int, ts timestamptz, h text)
LANGUAGE sql AS $$
  SELECT convert_from(key, 'UTF8'), convert_from(value, 'UTF8'), "partition", "timestamp",
         (SELECT string_agg(x.key || '=' || coalesce(convert_from(x.value, 'UTF8'), 'NULL'), ',' ORDER BY o)
          FROM unnest(headers) WITH ORDINALITY AS x(key, value, o))
  FROM kafka.read_kafka(server => 'k', subscribe => t, includeHeaders => true)
  ORDER BY 2, 1
$$;

-- The SQL surface: volatile and parallel unsafe (the messages belong to the
-- backend's transaction).
SELECT p.oid::regprocedure, provolatile, proparallel, proisstrict
FROM pg_proc p JOIN pg_namespace n ON n.oid = pronamespace
WHERE nspname = 'kafka' AND proname = 'produce' ORDER BY 1::text;

-- Commit delivers: text and bytea signatures, NULL key, NULL value (a
-- tombstone), headers (repeated names, NULL value), partition, timestamp.
BEGIN;
SELECT kafka.produce('k', 'pr_basic', 'k1', 'text value');
SELECT kafka.produce('k', 'pr_bytes', '\x6b32'::bytea, '\x0001ff'::bytea);
SELECT kafka.produce('k', 'pr_basic', NULL, 'no key', "partition" => 2);
SELECT kafka.produce('k', 'pr_basic', 'k4', NULL);
SELECT kafka.produce(server => 'k', topic => 'pr_basic', key => 'k5', value => 'with headers',
    headers => ARRAY[('a', 'one'), ('a', 'two'), ('n', NULL)]::kafka.header[],
    "partition" => 1, "timestamp" => '2024-05-01 12:00:00.123+00');
SELECT kafka.produce('k', 'pr_basic', 'k6', 'ünïcødé');
-- nothing is sent before commit
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'pr_basic');
COMMIT;
SELECT k, v, h FROM pg_temp.topic('pr_basic') WHERE v IS NOT NULL AND v <> 'no key';
SELECT encode(key, 'escape') AS k, encode(value, 'hex') AS v
FROM kafka.read_kafka(server => 'k', subscribe => 'pr_bytes');
SELECT k, v, p FROM pg_temp.topic('pr_basic') WHERE k IS NULL OR v IS NULL OR k = 'k5';
SELECT ts FROM pg_temp.topic('pr_basic') WHERE k = 'k5';
SELECT count(*) FROM pg_temp.topic('pr_basic') WHERE k <> 'k5' AND ts > now() - interval '1 hour';

-- ROLLBACK, an error before commit and ROLLBACK TO SAVEPOINT produce nothing
-- of what they undo; RELEASE keeps a subtransaction's messages.
BEGIN;
SELECT kafka.produce('k', 'pr_tx', 'a', 'rolled back');
ROLLBACK;
BEGIN;
SELECT kafka.produce('k', 'pr_tx', 'b', 'error before commit');
SELECT 1 / 0;
COMMIT;
BEGIN;
SELECT kafka.produce('k', 'pr_tx', 'c', 'kept 1');
SAVEPOINT s1;
SELECT kafka.produce('k', 'pr_tx', 'd', 'undone by s1');
SAVEPOINT s2;
SELECT kafka.produce('k', 'pr_tx', 'e', 'undone by s1 after release');
RELEASE s2;
ROLLBACK TO s1;
SELECT kafka.produce('k', 'pr_tx', 'f', 'kept 2');
SAVEPOINT s3;
SELECT kafka.produce('k', 'pr_tx', 'g', 'kept 3');
RELEASE s3;
SAVEPOINT s4;
SAVEPOINT s5;
SELECT kafka.produce('k', 'pr_tx', 'h', 'undone by s4');
RELEASE s5;
ROLLBACK TO s4;
COMMIT;
-- a PL/pgSQL exception block is a subtransaction too
DO $$
BEGIN
  PERFORM kafka.produce('k', 'pr_tx', 'i', 'kept 4');
  BEGIN
    PERFORM kafka.produce('k', 'pr_tx', 'j', 'undone by the exception');
    PERFORM 1 / 0;
  EXCEPTION WHEN division_by_zero THEN
    NULL;
  END;
END $$;
SELECT k, v FROM pg_temp.topic('pr_tx');

-- PREPARE TRANSACTION with held messages is refused (and rolls back).
BEGIN;
SELECT kafka.produce('k', 'pr_tx', 'p', 'prepared');
PREPARE TRANSACTION 'kafka_produce_test';
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'pr_tx');

-- Bad arguments.
SELECT pg_temp.try($$SELECT kafka.produce(NULL, 'pr_err', 'k', 'v')$$);
SELECT pg_temp.try($$SELECT kafka.produce('k', NULL, 'k', 'v')$$);
SELECT pg_temp.try($$SELECT kafka.produce('k', '', 'k', 'v')$$);
SELECT pg_temp.try($$SELECT kafka.produce('nope', 'pr_err', 'k', 'v')$$);
SELECT pg_temp.try($$SELECT kafka.produce('k', 'pr_err', 'k', 'v', "partition" => -1)$$);
SELECT pg_temp.try($$SELECT kafka.produce('k', 'pr_err', 'k', 'v', "timestamp" => 'infinity')$$);
SELECT pg_temp.try($$SELECT kafka.produce('k', 'pr_err', 'k', 'v', "timestamp" => '1969-12-31 23:59:59+00')$$);
SELECT pg_temp.try($$SELECT kafka.produce('k', 'pr_err', 'k', 'v', headers => ARRAY[(NULL, 'x')]::kafka.header[])$$);
SELECT pg_temp.try($$SELECT kafka.produce('k', 'pr_err', 'k', 'v', headers => ARRAY[NULL]::kafka.header[])$$);
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'pr_err');

-- A partition the topic does not have fails the commit, naming the topic.
SELECT kafka.produce('k', 'pr_part', 'warm', 'up', "partition" => 0);
BEGIN;
SELECT kafka.produce('k', 'pr_part', 'k', 'v', "partition" => 99);
COMMIT;
SELECT k, v, p FROM pg_temp.topic('pr_part');

-- message_timeout: server and table option, whole seconds, 1 to 3600.
CREATE SERVER bad1 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', message_timeout '0');
CREATE SERVER bad2 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', message_timeout '3601');
CREATE SERVER bad3 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', message_timeout '5s');
CREATE FOREIGN TABLE pr_table (v text) SERVER k OPTIONS (topic 'pr_table', message_timeout '2');
ALTER FOREIGN TABLE pr_table OPTIONS (SET message_timeout 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER k OPTIONS (message_timeout '5');
DROP FOREIGN TABLE pr_table;

-- The producer settings: idempotent, the message timeout, bounded queue.
SELECT kafka.produce('k', 'pr_tx', 'q', 'again');  -- reuses the cached producer

-- The buffer size setting.
SHOW kafka_fdw.produce_buffer_size;
SET kafka_fdw.produce_buffer_size = '10';
SET kafka_fdw.produce_buffer_size = '256kB';
RESET kafka_fdw.produce_buffer_size;

-- Privileges: USAGE on the server and a user mapping, as for reading.
CREATE ROLE kafka_producer;
GRANT USAGE ON SCHEMA kafka TO kafka_producer;
SET ROLE kafka_producer;
SELECT pg_temp.try($$SELECT kafka.produce('k', 'pr_err', 'k', 'v')$$);
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER k TO kafka_producer;
SET ROLE kafka_producer;
SELECT pg_temp.try($$SELECT kafka.produce('k', 'pr_err', 'k', 'v')$$);
RESET ROLE;
CREATE USER MAPPING FOR kafka_producer SERVER k OPTIONS (password_required 'false');
SET ROLE kafka_producer;
BEGIN;
SELECT kafka.produce('k', 'pr_priv', 'k', 'by a plain user');
COMMIT;
RESET ROLE;
SELECT k, v FROM pg_temp.topic('pr_priv');

-- Not in parallel workers: the function is parallel unsafe, so a parallel
-- plan keeps it in the leader.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
CREATE TABLE pr_source AS SELECT i FROM generate_series(1, 1000) i;
ANALYZE pr_source;
EXPLAIN (COSTS OFF) SELECT count(kafka.produce('k', 'pr_par', i::text, 'v')) FROM pr_source;
SELECT count(kafka.produce('k', 'pr_par', i::text, 'v')) FROM pr_source;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SELECT count(*), count(DISTINCT k) FROM pg_temp.topic('pr_par');
DROP TABLE pr_source;

DROP USER MAPPING FOR kafka_producer SERVER k;
DROP OWNED BY kafka_producer;
DROP ROLE kafka_producer;
DROP EXTENSION kafka_fdw CASCADE;
