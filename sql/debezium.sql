--
-- debezium: the foreign-table option envelope 'debezium' and its metadata
-- columns (kafka 'op', 'source_ts', 'source_lsn') -- what is refused, and
-- that a keyed stream over such a source needs mode 'cdc'.  Decoding
-- change events is tested by the TAP test 055_stream_debezium.pl.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER k;

-- option values
CREATE FOREIGN TABLE bad_envelope (id int) SERVER k
  OPTIONS (topic 'fdw_orders', envelope 'maxwell');
CREATE FOREIGN TABLE bad_envelope (id int) SERVER k
  OPTIONS (topic 'fdw_orders', envelope 'Debezium');
CREATE FOREIGN TABLE no_envelope (id int, op text OPTIONS (kafka 'opp')) SERVER k
  OPTIONS (topic 'fdw_orders');

-- metadata columns need the envelope, and their types
CREATE FOREIGN TABLE no_envelope (id int, op text OPTIONS (kafka 'op')) SERVER k
  OPTIONS (topic 'fdw_orders');
SELECT * FROM no_envelope;
DROP FOREIGN TABLE no_envelope;
CREATE FOREIGN TABLE cdc_topic (id int, op int OPTIONS (kafka 'op')) SERVER k
  OPTIONS (topic 'fdw_orders', envelope 'debezium');
SELECT * FROM cdc_topic;
ALTER FOREIGN TABLE cdc_topic ALTER COLUMN op TYPE text;
ALTER FOREIGN TABLE cdc_topic ADD COLUMN lsn text OPTIONS (kafka 'source_lsn');
SELECT * FROM cdc_topic;
ALTER FOREIGN TABLE cdc_topic ALTER COLUMN lsn TYPE bigint;
ALTER FOREIGN TABLE cdc_topic ADD COLUMN ts date OPTIONS (kafka 'source_ts');
SELECT * FROM cdc_topic;
ALTER FOREIGN TABLE cdc_topic ALTER COLUMN ts TYPE timestamptz;

-- only formats json and avro carry an envelope
CREATE FOREIGN TABLE text_cdc (line text) SERVER k
  OPTIONS (topic 'fdw_orders', format 'text', envelope 'debezium');
SELECT * FROM text_cdc;
DROP FOREIGN TABLE text_cdc;

-- a keyed stream over a Debezium source: mode 'cdc', not 'upsert'
CREATE TABLE customers (id int PRIMARY KEY, op text, lsn bigint, ts timestamptz);
SELECT kafka.create_streaming_table('customers', source => 'cdc_topic', mode => 'upsert',
  keys => ARRAY['id']);
SELECT kafka.create_streaming_table('customers', source => 'cdc_topic', mode => 'cdc',
  keys => ARRAY['id']);
-- sequence_by defaults to the source_lsn column (deletes to op = 'd' when applied)
SELECT mode, keys, sequence_by, apply_as_deletes FROM kafka.streaming_tables;

SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
DROP TABLE customers;
