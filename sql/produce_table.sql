--
-- produce_table: INSERT and COPY into kafka foreign tables.  Each row is one
-- message held by the transaction and delivered at commit: the payload
-- columns encoded in the table's format (or a kafka 'value' column as it
-- is), the key column in key_format, and the partition, timestamp, headers
-- and header:<name> columns as message metadata.  Read back with read_kafka
-- and with the table itself.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', message_timeout '10');
SET timezone = 'UTC';

CREATE FUNCTION pg_temp.topic(t text) RETURNS TABLE (k text, v text, p int, ts timestamptz, h text)
LANGUAGE sql AS $$
  SELECT convert_from(key, 'UTF8'), convert_from(value, 'UTF8'), "partition", "timestamp",
         (SELECT string_agg(x.key || '=' || coalesce(encode(x.value, 'escape'), 'NULL'), ',' ORDER BY o)
          FROM unnest(headers) WITH ORDINALITY AS x(key, value, o))
  FROM kafka.read_kafka(server => 'k', subscribe => t, includeHeaders => true)
  ORDER BY 2, 1
$$;

CREATE FOREIGN TABLE orders_topic (
    order_id bigint, customer text, amount numeric, ts timestamptz,
    _key text OPTIONS (kafka 'key'), _partition int OPTIONS (kafka 'partition'),
    _offset bigint OPTIONS (kafka 'offset'), _ts timestamptz OPTIONS (kafka 'timestamp'),
    _headers kafka.header[] OPTIONS (kafka 'headers'),
    _source text OPTIONS (kafka 'header:source'),
    _topic text OPTIONS (kafka 'topic'))
  SERVER k OPTIONS (topic 'pt_orders', format 'json');

-- INSERT: JSON of the payload columns; key, partition, timestamp, headers
-- and header:<name> honoured; offset and topic columns ignored.  RETURNING
-- gives the rows as inserted.
INSERT INTO orders_topic (order_id, customer, amount, ts, _key, _partition, _ts, _headers, _source, _offset, _topic)
VALUES (1, 'alice', 12.50, '2024-05-01 10:00:00+02', 'o-1', 1, '2024-01-01 00:00:00.5+00',
        ARRAY[('trace', 'abc')]::kafka.header[], 'pg', 999, 'elsewhere'),
       (2, 'bob "the builder"', NULL, NULL, 'o-2', 0, NULL, NULL, NULL, NULL, NULL)
RETURNING order_id, _key, _partition;
-- (a message without a timestamp gets the time it is produced)
SELECT k, v, p, CASE WHEN ts > now() - interval '1 hour' THEN 'now' ELSE ts::text END AS ts, h
FROM pg_temp.topic('pt_orders');
-- the foreign table reads back what it wrote
SELECT order_id, customer, amount, ts, _key, _partition,
       CASE WHEN _ts > now() - interval '1 hour' THEN 'now' ELSE _ts::text END AS _ts, _source, _topic
FROM orders_topic ORDER BY order_id;

-- Nothing before commit; ROLLBACK and ROLLBACK TO SAVEPOINT drop rows.
BEGIN;
INSERT INTO orders_topic (order_id, _key) VALUES (3, 'o-3');
SELECT count(*) FROM orders_topic;
SAVEPOINT s;
INSERT INTO orders_topic (order_id, _key) SELECT i, 'o-' || i FROM generate_series(4, 100) i;
ROLLBACK TO s;
INSERT INTO orders_topic (order_id, _key) VALUES (101, 'o-101');
COMMIT;
BEGIN;
INSERT INTO orders_topic (order_id, _key) VALUES (102, 'o-102');
ROLLBACK;
SELECT order_id, _key FROM orders_topic ORDER BY order_id;

-- COPY FROM into the table.
COPY orders_topic (order_id, customer, _key) FROM stdin;
200	copied one	c-200
201	copied two	c-201
\.
SELECT order_id, customer, _key FROM orders_topic WHERE order_id >= 200 ORDER BY 1;

-- Bulk: INSERT ... SELECT of many rows arrives complete.
INSERT INTO orders_topic (order_id, customer, amount, _key)
SELECT i, 'c' || (i % 7), i / 100.0, 'bulk-' || i FROM generate_series(1000, 5999) i;
SELECT count(*), count(DISTINCT _key), sum(amount) FROM orders_topic WHERE order_id >= 1000;

-- text and raw formats, a bytea key, a kafka 'value' column, a bigint
-- timestamp (ms since 1970), NULL value = tombstone.
CREATE FOREIGN TABLE text_topic (k bytea OPTIONS (kafka 'key'), body text,
    at bigint OPTIONS (kafka 'timestamp'))
  SERVER k OPTIONS (topic 'pt_text', format 'text');
INSERT INTO text_topic VALUES ('\x0102', 'héllo wörld', 1700000000123), ('\x03', NULL, NULL);
SELECT encode(key, 'hex') AS key, convert_from(value, 'UTF8') AS value,
       extract(epoch FROM "timestamp") * 1000 = 1700000000123 AS given_timestamp
FROM kafka.read_kafka(server => 'k', subscribe => 'pt_text') ORDER BY 1;

CREATE FOREIGN TABLE raw_topic (v bytea) SERVER k OPTIONS (topic 'pt_raw', format 'raw');
INSERT INTO raw_topic VALUES ('\x00ff10');
SELECT encode(value, 'hex') FROM kafka.read_kafka(server => 'k', subscribe => 'pt_raw');

CREATE FOREIGN TABLE value_topic (id int, doc jsonb OPTIONS (kafka 'value'),
    _key int OPTIONS (kafka 'key'))
  SERVER k OPTIONS (topic 'pt_value', format 'json');
INSERT INTO value_topic VALUES (1, '{"kept": "as is"}', 7), (2, NULL, 8);
SELECT convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
FROM kafka.read_kafka(server => 'k', subscribe => 'pt_value') ORDER BY 1;

-- Bad values fail the INSERT, naming the column.
INSERT INTO orders_topic (order_id, _partition) VALUES (1, -1);
INSERT INTO orders_topic (order_id, _ts) VALUES (1, '1960-01-01');
INSERT INTO orders_topic (order_id, _ts) VALUES (1, 'infinity');
INSERT INTO text_topic VALUES ('\x01', 'x', -5);
INSERT INTO orders_topic (order_id, _headers) VALUES (1, ARRAY[(NULL, 'x')]::kafka.header[]);
-- a partition the topic does not have fails the commit
INSERT INTO orders_topic (order_id, _partition) VALUES (1, 99);

-- Topics are append-only.
UPDATE orders_topic SET amount = 0;
DELETE FROM orders_topic;
INSERT INTO orders_topic (order_id) VALUES (1) ON CONFLICT DO NOTHING;
SELECT pg_catalog.pg_relation_is_updatable('orders_topic'::regclass, false) = 8 AS insert_only;

-- message_timeout as a table option; EXPLAIN does not produce.
ALTER FOREIGN TABLE orders_topic OPTIONS (ADD message_timeout '5');
EXPLAIN (COSTS OFF) INSERT INTO orders_topic (order_id) VALUES (7777);
INSERT INTO orders_topic (order_id, _key) VALUES (7778, 'timeout-option');
SELECT order_id FROM orders_topic WHERE order_id > 7000;

-- PREPARE TRANSACTION with inserted rows is refused.
BEGIN;
INSERT INTO orders_topic (order_id) VALUES (8888);
PREPARE TRANSACTION 'kafka_insert';
SELECT count(*) FROM orders_topic WHERE order_id = 8888;

-- Privileges: INSERT on the table, USAGE on the server, a user mapping.
CREATE ROLE kafka_writer;
GRANT USAGE ON SCHEMA kafka TO kafka_writer;
SET ROLE kafka_writer;
INSERT INTO orders_topic (order_id) VALUES (9999);
RESET ROLE;
GRANT INSERT ON orders_topic TO kafka_writer;
SET ROLE kafka_writer;
INSERT INTO orders_topic (order_id) VALUES (9999);
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER k TO kafka_writer;
CREATE USER MAPPING FOR kafka_writer SERVER k OPTIONS (password_required 'false');
SET ROLE kafka_writer;
INSERT INTO orders_topic (order_id, _key) VALUES (9999, 'by a writer');
RESET ROLE;
SELECT order_id, _key FROM orders_topic WHERE order_id = 9999;

DROP USER MAPPING FOR kafka_writer SERVER k;
DROP OWNED BY kafka_writer;
DROP ROLE kafka_writer;
DROP EXTENSION kafka_fdw CASCADE;
