--
-- fdw_scan: SELECT from kafka foreign tables, checked against what an
-- independent producer (kafkajs, test/fixtures/produce_kafkajs.mjs) wrote
-- and published as kafka_fdw_test.fdw_orders_* settings; pushdown checked
-- against the same query over kafka.read_kafka (no pushdown there).
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
SET timezone = 'UTC';

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '127\.0\.0\.1:[0-9]+', 'BROKER', 'g');
END $$;

CREATE FOREIGN TABLE orders (
    order_id bigint, customer text, amount numeric(10,2), qty int, ts timestamptz,
    cust text OPTIONS (kafka 'key'),
    p int OPTIONS (kafka 'partition'),
    o bigint OPTIONS (kafka 'offset'),
    kts timestamptz OPTIONS (kafka 'timestamp'),
    region text OPTIONS (kafka 'header:region'),
    src bytea OPTIONS (kafka 'header:source'),
    hdrs kafka.header[] OPTIONS (kafka 'headers'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');

-- typed sums over every record equal what the producer sent
SELECT count(*) = current_setting('kafka_fdw_test.fdw_orders_count')::bigint AS count_ok,
       sum(amount) = current_setting('kafka_fdw_test.fdw_orders_amount_sum')::numeric AS amount_ok,
       sum(qty) = current_setting('kafka_fdw_test.fdw_orders_qty_sum')::bigint AS qty_ok,
       count(*), sum(amount), sum(qty)
FROM orders;
-- header and key columns
SELECT count(*) = current_setting('kafka_fdw_test.fdw_orders_eu_count')::bigint AS eu_count_ok,
       sum(amount) = current_setting('kafka_fdw_test.fdw_orders_eu_amount_sum')::numeric AS eu_amount_ok
FROM orders WHERE region = 'eu';
SELECT sum(qty) = current_setting('kafka_fdw_test.fdw_orders_cust3_qty_sum')::bigint AS cust3_ok
FROM orders WHERE cust = 'cust-3';
SELECT region, count(*), count(DISTINCT src) AS sources, min(convert_from(src, 'UTF8')) AS source
FROM orders GROUP BY region ORDER BY region;
-- one record, every column
SELECT * FROM orders WHERE p = 1 AND o = 5;
SELECT h.key, convert_from(h.value, 'UTF8') AS value
FROM orders, unnest(hdrs) AS h WHERE p = 2 AND o = 0;
-- the decoded row equals from_json over read_kafka's value
SELECT count(*) AS differences FROM (
  SELECT order_id, customer, amount, qty, ts FROM orders
  EXCEPT ALL
  SELECT (r).order_id, (r).customer, (r).amount, (r).qty, (r).ts
  FROM (SELECT kafka.from_json(value, NULL::orders) AS r
        FROM kafka.read_kafka(server => 'k', subscribe => 'fdw_orders')) s) d;

-- other metadata column types
CREATE FOREIGN TABLE orders_meta (
    order_id bigint,
    p bigint OPTIONS (kafka 'partition'),
    o bigint OPTIONS (kafka 'offset'),
    ms bigint OPTIONS (kafka 'timestamp'),
    local_ts timestamp OPTIONS (kafka 'timestamp'),
    tstype text OPTIONS (kafka 'timestamp_type'),
    tstype_n smallint OPTIONS (kafka 'timestamp_type'),
    topic text OPTIONS (kafka 'topic'),
    k bytea OPTIONS (kafka 'key'),
    raw bytea OPTIONS (kafka 'value'),
    missing text OPTIONS (kafka 'header:nope'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');
SELECT order_id, p, o, ms, local_ts, tstype, tstype_n, topic, convert_from(k, 'UTF8') AS k,
       length(raw) > 0 AS has_raw, missing
FROM orders_meta WHERE p = 0 AND o < 2 ORDER BY o;

-- format text (a json column) and raw (bytea) over the same topic
CREATE FOREIGN TABLE orders_text (doc json, p int OPTIONS (kafka 'partition'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'text');
SELECT sum((doc->>'qty')::int) = current_setting('kafka_fdw_test.fdw_orders_qty_sum')::bigint AS text_ok
FROM orders_text;
CREATE FOREIGN TABLE orders_raw (payload bytea, o bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'raw');
SELECT (SELECT md5(string_agg(encode(payload, 'hex'), ',' ORDER BY md5(payload))) FROM orders_raw) =
       (SELECT md5(string_agg(encode(value, 'hex'), ',' ORDER BY md5(value)))
        FROM kafka.read_kafka(server => 'k', subscribe => 'fdw_orders')) AS raw_ok;

-- table options: a fixed read range
CREATE FOREIGN TABLE orders_window (order_id bigint, p int OPTIONS (kafka 'partition'),
    o bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'fdw_orders',
    starting_offsets '{"fdw_orders":{"0":10,"1":-1,"2":-2}}',
    ending_offsets '{"fdw_orders":{"0":12,"2":1}}');
SELECT p, o, order_id FROM orders_window ORDER BY p, o;
-- a starting offset past the end (fx_basic has 10 records a partition)
-- reads nothing there and the scan says so, once: not when planning, not
-- again on a rescan
CREATE FOREIGN TABLE basic_beyond (v bytea, p int OPTIONS (kafka 'partition'))
  SERVER k OPTIONS (topic 'fx_basic', format 'raw', starting_offsets '{"fx_basic":{"1":50}}');
EXPLAIN (COSTS OFF) SELECT p, count(*) FROM basic_beyond GROUP BY 1;
SELECT p, count(*) FROM basic_beyond GROUP BY 1 ORDER BY 1;
SELECT x, (SELECT count(*) FROM basic_beyond b WHERE b.p = v.x) FROM (VALUES (0), (1), (2)) v(x) ORDER BY 1;

-- definitions that cannot work are refused when used, naming the column
CREATE FOREIGN TABLE bad1 (a int) SERVER k;
SELECT pg_temp.try('SELECT * FROM bad1');
CREATE FOREIGN TABLE bad2 (a int, p text OPTIONS (kafka 'partition')) SERVER k OPTIONS (topic 'fdw_orders');
SELECT pg_temp.try('SELECT * FROM bad2');
CREATE FOREIGN TABLE bad3 (a text, b text) SERVER k OPTIONS (topic 'fdw_orders', format 'text');
SELECT pg_temp.try('SELECT * FROM bad3');
CREATE FOREIGN TABLE bad4 (a int, k int OPTIONS (kafka 'key')) SERVER k OPTIONS (topic 'fdw_orders', key_format 'raw');
SELECT pg_temp.try('SELECT * FROM bad4');
CREATE FOREIGN TABLE bad5 (a int OPTIONS (kafka 'partitions')) SERVER k OPTIONS (topic 'fdw_orders');
CREATE FOREIGN TABLE bad6 (a int) SERVER k OPTIONS (topic 'fdw_orders', on_error 'ignore');

--
-- Pushdown.  Each condition is evaluated over the foreign table (with seeks)
-- and over read_kafka (without); the records selected must be the same.
--
CREATE FUNCTION pg_temp.pushdown(cond text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  pushed text;
  reference text;
BEGIN
  EXECUTE format('SELECT count(*), md5(string_agg(p || '':'' || o || '':'' || order_id, '','' ORDER BY p, o))
                  FROM orders WHERE %s', cond) INTO n, pushed;
  EXECUTE format('SELECT md5(string_agg(p || '':'' || o || '':'' || order_id, '','' ORDER BY p, o))
                  FROM (SELECT "partition" AS p, "offset" AS o, "timestamp" AS kts,
                               (j).order_id, (j).amount
                        FROM kafka.read_kafka(server => ''k'', subscribe => ''fdw_orders''),
                             kafka.from_json(value, NULL::orders) AS j) r
                  WHERE %s', cond) INTO reference;
  RETURN n || CASE WHEN pushed IS NOT DISTINCT FROM reference THEN ' same' ELSE ' DIFFERENT' END;
END $$;

SELECT cond, pg_temp.pushdown(cond) FROM (VALUES
  ('p = 1'),
  ('o < 10'),
  ('o <= 10 AND p >= 1'),
  ('o BETWEEN 100 AND 199'),
  ('p IN (0, 2) AND o > 995'),
  ('o = ANY (ARRAY[1, 5, 900, 5000])'),
  ('o IN (1, NULL)'),
  ('(p = 0 AND o < 3) OR (p = 2 AND o >= 998)'),
  ('p = 1 OR o = 7'),
  ('(o >= 500 AND o < 510) OR o BETWEEN 990 AND 1200'),
  ('o > 999999'),
  ('p = 7'),
  ('o < 0'),
  ('p = NULL::int'),
  ('10 > o AND 1 = p'),
  ('o > 3::smallint AND o < 6::int'),
  ('NOT (o < 998)'),
  ('o::int < 5'),
  ('amount > 500 AND p = 0 AND o < 100'),
  ('kts < ''2023-11-14 22:14:00+00'''),
  ('kts > ''2100-01-01+00'''),
  ('kts >= ''-infinity'''),
  ('o >= 990 AND kts < ''2100-01-01+00''')
) AS c(cond);

-- EXPLAIN (VERBOSE) shows the seek ranges
EXPLAIN (VERBOSE, COSTS OFF) SELECT order_id FROM orders WHERE p = 1 AND o BETWEEN 10 AND 19;
EXPLAIN (VERBOSE, COSTS OFF) SELECT order_id FROM orders WHERE p IN (0, 2) AND (o < 5 OR o >= 990);
EXPLAIN (VERBOSE, COSTS OFF) SELECT order_id FROM orders WHERE kts >= '2023-11-14 22:13:25.0005+00' AND kts < '2024-01-01';
EXPLAIN (VERBOSE, COSTS OFF) SELECT order_id FROM orders WHERE amount > 5;
-- and, once run, the offsets read
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*) FROM orders WHERE p IN (0, 2) AND (o < 5 OR o >= 990);
-- PREPARE: parameters become ranges when the scan starts
PREPARE q(int, bigint) AS SELECT count(*), min(o), max(o) FROM orders WHERE p = $1 AND o >= $2;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q(2, 990);
EXECUTE q(2, 990);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE q(1, 995);
RESET plan_cache_mode;
-- an InitPlan
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(*) FROM orders WHERE o > (SELECT max(o) - 3 FROM orders_window);
SELECT count(*), min(o) FROM orders WHERE o > (SELECT max(o) - 3 FROM orders_window);
-- correlated parameters: the scan restarts with new ranges on each rescan
SELECT w.p, w.o, (SELECT order_id FROM orders WHERE p = w.p AND o = w.o) AS order_id
FROM (VALUES (0, 3::bigint), (1, 7), (2, 999), (2, 1000)) AS w(p, o);
-- a nested loop whose outer side gives partitions and offsets seeks on
-- every loop (parameterized path)
CREATE TEMP TABLE wanted (p int, o bigint);
INSERT INTO wanted VALUES (0, 3), (1, 7), (2, 999), (2, 1000);
ANALYZE wanted;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (COSTS OFF)
  SELECT wanted.*, orders.order_id FROM wanted JOIN orders ON orders.p = wanted.p AND orders.o = wanted.o;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT wanted.*, orders.order_id FROM wanted JOIN orders ON orders.p = wanted.p AND orders.o = wanted.o;
SELECT wanted.*, orders.order_id FROM wanted JOIN orders ON orders.p = wanted.p AND orders.o = wanted.o
ORDER BY 1, 2;
SELECT count(*), sum(x.order_id) FROM wanted,
  LATERAL (SELECT * FROM orders WHERE orders.p = wanted.p AND orders.o BETWEEN wanted.o - 2 AND wanted.o) x;
SET kafka_fdw.enable_pushdown = off;
SELECT count(*), sum(x.order_id) FROM wanted,
  LATERAL (SELECT * FROM orders WHERE orders.p = wanted.p AND orders.o BETWEEN wanted.o - 2 AND wanted.o) x;
RESET kafka_fdw.enable_pushdown;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
-- pushdown off: the same rows, no seeks
SET kafka_fdw.enable_pushdown = off;
EXPLAIN (COSTS OFF) SELECT order_id FROM orders WHERE p = 1 AND o < 3;
SELECT count(*) FROM orders WHERE p = 1 AND o < 3;
RESET kafka_fdw.enable_pushdown;

-- row estimates come from the watermarks and the seek ranges
CREATE FUNCTION pg_temp.estimate(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
  RETURN plan->0->'Plan'->>'Plan Rows';
END $$;
SELECT pg_temp.estimate('SELECT * FROM orders') AS all_rows,
       pg_temp.estimate('SELECT * FROM orders WHERE p = 1') AS one_partition,
       pg_temp.estimate('SELECT * FROM orders WHERE p = 1 AND o < 100') AS hundred;

-- ANALYZE samples a bounded number of records
ANALYZE orders;
SELECT reltuples FROM pg_class WHERE relname = 'orders';
SELECT attname, n_distinct FROM pg_stats WHERE tablename = 'orders' AND attname IN ('p', 'customer', 'qty') ORDER BY 1;

-- parallel workers can run the scan (on_error 'fail')
SET force_parallel_mode = on;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT sum(amount) FROM orders;
SELECT sum(amount) = current_setting('kafka_fdw_test.fdw_orders_amount_sum')::numeric AS parallel_ok FROM orders;
RESET force_parallel_mode;
RESET parallel_leader_participation;

--
-- on_error with malformed payloads: truncated, not an object, wrong type,
-- invalid UTF-8, out of range, a tombstone and an empty payload.
--
CREATE FOREIGN TABLE mal (order_id bigint, customer text, amount numeric, qty int,
    k text OPTIONS (kafka 'key'), o bigint OPTIONS (kafka 'offset'),
    err text OPTIONS (kafka 'error'))
  SERVER k OPTIONS (topic 'fdw_malformed', format 'json');
\set VERBOSITY default
SELECT * FROM mal;
SELECT order_id FROM mal WHERE o = 0;
SELECT count(*) FROM mal WHERE o < 1;
ALTER FOREIGN TABLE mal OPTIONS (ADD on_error 'null');
SELECT * FROM mal;
SELECT count(*), count(err), count(order_id) FROM mal;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM mal;
-- not parallel safe: null and skip may need subtransactions
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM mal;
RESET force_parallel_mode;
ALTER FOREIGN TABLE mal OPTIONS (SET on_error 'skip');
SELECT * FROM mal;
SELECT count(*), sum(amount), sum(qty) FROM mal;
-- types without a fast path (interval, domains) are decoded optimistically
-- in batches; a batch with a bad value is decoded again record by record
CREATE FOREIGN TABLE mal_interval (customer interval, o bigint OPTIONS (kafka 'offset'),
    err text OPTIONS (kafka 'error'))
  SERVER k OPTIONS (topic 'fdw_malformed', on_error 'null');
SELECT o, customer, err FROM mal_interval WHERE o IN (0, 5);
CREATE DOMAIN cust_name AS text CHECK (VALUE <> 'ok2');
CREATE FOREIGN TABLE mal_domain (order_id bigint, customer cust_name,
    o bigint OPTIONS (kafka 'offset'), err text OPTIONS (kafka 'error'))
  SERVER k OPTIONS (topic 'fdw_malformed', on_error 'null');
SELECT * FROM mal_domain;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM mal_domain;
ALTER FOREIGN TABLE mal_domain OPTIONS (SET on_error 'skip');
SELECT * FROM mal_domain;
-- every batch good: no second pass
CREATE FOREIGN TABLE orders_domain (order_id bigint, customer cust_name, amount numeric)
  SERVER k OPTIONS (topic 'fdw_orders', on_error 'skip');
SELECT count(customer) = current_setting('kafka_fdw_test.fdw_orders_count')::bigint AS count_ok,
       sum(amount) = current_setting('kafka_fdw_test.fdw_orders_amount_sum')::numeric AS amount_ok
FROM orders_domain;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(customer) FROM orders_domain;
SELECT order_id, customer FROM orders_domain WHERE order_id < 4 ORDER BY order_id;
-- format text: invalid UTF-8 is an error, an empty payload is ''
CREATE FOREIGN TABLE mal_text (t text, o bigint OPTIONS (kafka 'offset'),
    err text OPTIONS (kafka 'error'))
  SERVER k OPTIONS (topic 'fdw_malformed', format 'text', on_error 'null');
SELECT o, t IS NULL AS t_null, length(t), err FROM mal_text WHERE o >= 3 ORDER BY o;

SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
