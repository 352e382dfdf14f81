--
-- debezium: the foreign-table option envelope 'debezium' and its metadata
-- columns (kafka 'op', 'source_ts', 'source_lsn'): what is refused, how a
-- scan reads change events (both JSON shapes, deletes, truncates, the
-- unchanged-TOAST placeholder, Debezium's tombstones, malformed events),
-- and what a keyed stream over such a source defaults to.  Streams applying
-- change events (JSON and Avro) are tested by 055_stream_debezium.pl.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER k;
SET timezone = 'UTC';

-- option values: our own keywords, like format and on_error
CREATE FOREIGN TABLE bad (id int) SERVER k OPTIONS (topic 'dbz', envelope 'maxwell');
CREATE FOREIGN TABLE bad (id int) SERVER k OPTIONS (topic 'dbz', envelope 'Debezium');
CREATE FOREIGN TABLE bad (id int, op text OPTIONS (kafka 'opp')) SERVER k OPTIONS (topic 'dbz');
-- a change event is a record: formats json and avro only
CREATE FOREIGN TABLE bad (line text) SERVER k
  OPTIONS (topic 'dbz', format 'text', envelope 'debezium');
CREATE FOREIGN TABLE bad (line bytea) SERVER k OPTIONS (topic 'dbz', format 'raw');
ALTER FOREIGN TABLE bad OPTIONS (ADD envelope 'debezium');
ALTER FOREIGN TABLE bad OPTIONS (ADD envelope 'none');
DROP FOREIGN TABLE bad;

-- the metadata columns need the envelope, and types that hold them
CREATE FOREIGN TABLE plain_topic (id int, op text OPTIONS (kafka 'op')) SERVER k
  OPTIONS (topic 'dbz');
SELECT * FROM plain_topic;
DROP FOREIGN TABLE plain_topic;
CREATE FOREIGN TABLE typed (id int, op int OPTIONS (kafka 'op')) SERVER k
  OPTIONS (topic 'dbz', envelope 'debezium');
SELECT * FROM typed;
ALTER FOREIGN TABLE typed ALTER COLUMN op TYPE char(1);
ALTER FOREIGN TABLE typed ADD COLUMN ts date OPTIONS (kafka 'source_ts');
SELECT * FROM typed;
ALTER FOREIGN TABLE typed ALTER COLUMN ts TYPE timestamptz;
ALTER FOREIGN TABLE typed ADD COLUMN lsn text OPTIONS (kafka 'source_lsn');
SELECT * FROM typed;
DROP FOREIGN TABLE typed;

-- change events, written as they are (partition 0: in this order)
CREATE FOREIGN TABLE dbz_out (v text, p int OPTIONS (kafka 'partition'))
  SERVER k OPTIONS (topic 'dbz', format 'text');
INSERT INTO dbz_out VALUES
  -- a snapshot read, bare; fields in any order
  ('{"op":"r","after":{"id":1,"name":"one","qty":10},"before":null,"source":{"lsn":100,"ts_ms":1700000000000},"ts_ms":1700000000500}', 0),
  -- a create inside the JSON converter's {"schema", "payload"}
  ('{"schema":{"type":"struct","fields":[]},"payload":{"before":null,"after":{"id":2,"name":"two","qty":20,"extra":[1,{"x":null}]},"source":{"version":"2.5","lsn":101,"ts_ms":1700000001000},"op":"c","ts_ms":1700000001500,"transaction":null}}', 0),
  -- an update with an unchanged TOASTed column, and an array one
  ('{"before":null,"after":{"id":1,"name":"__debezium_unavailable_value","qty":11,"tags":["__debezium_unavailable_value"]},"source":{"lsn":102,"ts_ms":1700000002000},"op":"u"}', 0),
  -- a delete: the columns from before; then Debezium's tombstone
  ('{"before":{"id":2,"name":null,"qty":null},"after":null,"source":{"lsn":103},"op":"d","ts_ms":1700000003500}', 0),
  (NULL, 0),
  -- a truncate: no row image; no LSN (a MySQL source has none)
  ('{"before":null,"after":null,"source":{"file":"binlog.000003","pos":154,"ts_ms":1700000004000},"op":"t"}', 0),
  -- malformed events
  ('{"before":null,"after":{"id":3},"source":{"lsn":104}}', 0),
  ('{"before":null,"after":{"id":3},"op":"x"}', 0),
  ('{"before":null,"after":{"id":3},"op":5}', 0),
  ('{"before":null,"after":[3],"op":"c"}', 0),
  ('{"after":{"id":3},"op":"c","source":{"lsn":"104"}}', 0),
  ('{"after":{"id":3},"op":"c","source":{"lsn":1.5}}', 0),
  ('{"after":{"id":3},"op":"c","ts_ms":99999999999999999999}', 0),
  ('{"after":{"id":"three"},"op":"c"}', 0),
  ('{"schema":{},"payload":"c"}', 0),
  ('[1]', 0),
  ('{"after":{"id":3},"op":"c"', 0),
  -- and a good one after them
  ('{"after":{"id":4,"name":"four","qty":40},"op":"c","source":{"lsn":105,"ts_ms":1700000005000}}', 0);
CREATE FOREIGN TABLE dbz (id int, name text, qty int, tags text[],
    op text OPTIONS (kafka 'op'), ts timestamptz OPTIONS (kafka 'source_ts'),
    lsn bigint OPTIONS (kafka 'source_lsn'), _offset bigint OPTIONS (kafka 'offset'),
    err text OPTIONS (kafka 'error'))
  SERVER k OPTIONS (topic 'dbz', format 'json', envelope 'debezium', on_error 'null');
-- (offset 4, the tombstone, is no row)
SELECT _offset, op, id, name, qty, tags, lsn, ts, err FROM dbz ORDER BY _offset;
SELECT count(*) FROM dbz;
-- other metadata types
CREATE FOREIGN TABLE dbz_types (id int, op char(1) OPTIONS (kafka 'op'),
    ts bigint OPTIONS (kafka 'source_ts'), lsn pg_lsn OPTIONS (kafka 'source_lsn'),
    lsn_n numeric OPTIONS (kafka 'source_lsn'))
  SERVER k OPTIONS (topic 'dbz', envelope 'debezium', on_error 'skip');
SELECT * FROM dbz_types;
-- only the metadata read: the payload is still checked whole
SELECT op, count(*) FROM dbz_types GROUP BY op ORDER BY op;
ALTER FOREIGN TABLE dbz_types OPTIONS (SET on_error 'fail');
SELECT count(*) FROM dbz_types;
-- writing change events is not supported
INSERT INTO dbz (id) VALUES (1);

-- a keyed stream over a Debezium source: mode 'cdc', not 'upsert'
CREATE TABLE customers (id int PRIMARY KEY, name text, qty int, lsn bigint);
SELECT kafka.create_streaming_table('customers', source => 'dbz', mode => 'upsert',
  keys => ARRAY['id'], on_error => 'skip');
SELECT kafka.create_streaming_table('customers', source => 'dbz', mode => 'cdc',
  keys => ARRAY['id'], on_error => 'skip', trigger => 'available_now');
-- sequence_by is stored resolved: the source_lsn column (deletes and
-- truncates default to op = 'd' / 't' when the stream runs)
SELECT target, mode, keys, sequence_by FROM kafka.streaming_tables;
-- the events above: the truncate empties the table, id 4 comes after it;
-- the malformed ones are skipped, the tombstone is no record's row
CALL kafka.refresh_streaming_table('customers');
SELECT * FROM customers;

SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
DROP TABLE customers;
