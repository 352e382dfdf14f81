--
-- rescued: a kafka 'rescued' column holds the payload's fields no column
-- takes (JSON keys, Avro writer fields; NULL when there are none), and
-- schema_evolution 'add_columns' makes such fields columns of a stream's
-- source and target, typed by their JSON or Avro types.  Payloads from
-- independent producers: the fdw_orders fixture (kafkajs) and the Avro
-- fixtures (python3-avro, through the fixture registry and plain).
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs,
       current_setting('kafka_fdw_test.schema_registry_url') AS sr,
       current_setting('kafka_fdw_test.schema_registry_user') AS sr_user,
       current_setting('kafka_fdw_test.schema_registry_password') AS sr_password,
       current_setting('kafka_fdw_test.avro_plain_schema') AS plain_schema \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', schema_registry_url :'sr');
CREATE USER MAPPING FOR CURRENT_USER SERVER k
  OPTIONS (schema_registry_user :'sr_user', schema_registry_password :'sr_password');
SET timezone = 'UTC';

-- JSON: the keys without a column, as written
CREATE FOREIGN TABLE orders_rescued (order_id bigint, customer text,
    rest jsonb OPTIONS (kafka 'rescued'), _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');
SELECT jsonb_object_keys(rest) AS key, count(*) FROM orders_rescued GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE (rest ->> 'amount')::numeric IS NOT NULL) AS amounts,
       count(*) FILTER (WHERE rest IS NULL) AS nothing_rescued
  FROM orders_rescued;
-- a column for every field but one: only that one is rescued
CREATE FOREIGN TABLE orders_whole (order_id bigint, customer text, amount numeric, qty int,
    ts timestamptz, rest jsonb OPTIONS (kafka 'rescued'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');
SELECT count(*) AS rows, count(rest) AS rescued,
       count(*) FILTER (WHERE rest - 'extra' = '{}') AS only_extra
  FROM orders_whole;
SELECT count(*) AS nothing_rescued FROM orders_whole WHERE rest IS NULL;
-- under on_error 'null' a value its column cannot take is rescued (the
-- column NULL, the record not malformed); otherwise the record is malformed
CREATE FOREIGN TABLE orders_mistyped (order_id bigint, customer int, qty int,
    rest jsonb OPTIONS (kafka 'rescued'), error text OPTIONS (kafka 'error'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'json', on_error 'null');
SELECT count(*) AS rows, count(customer) AS customers, count(error) AS errors,
       count(*) FILTER (WHERE rest ? 'customer' AND rest ? 'amount') AS rescued_customers
  FROM orders_mistyped;
ALTER FOREIGN TABLE orders_mistyped OPTIONS (SET on_error 'skip');
SELECT count(*) AS rows_left FROM orders_mistyped;
CREATE FOREIGN TABLE avro_mistyped (id bigint, name int, rest jsonb OPTIONS (kafka 'rescued'),
    _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'avro_fx', format 'avro', on_error 'null');
SELECT _offset, name, rest -> 'name' AS rescued_name FROM avro_mistyped WHERE _offset < 3 ORDER BY _offset;

-- only jsonb, only formats with fields
CREATE FOREIGN TABLE rescued_text (order_id bigint, rest text OPTIONS (kafka 'rescued'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');
SELECT * FROM rescued_text LIMIT 1;
CREATE FOREIGN TABLE rescued_raw (v bytea, rest jsonb OPTIONS (kafka 'rescued'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'raw');
SELECT * FROM rescued_raw LIMIT 1;

-- Avro through the registry: the writer fields without a column, rendered
-- as kafka.from_avro renders them; schema version 2's extra field too
CREATE FOREIGN TABLE avro_rescued (id bigint, rest jsonb OPTIONS (kafka 'rescued'),
    _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'avro_fx', format 'avro', on_error 'skip');
SELECT _offset, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(rest) k) AS rescued_fields
  FROM avro_rescued WHERE _offset < 5 ORDER BY _offset;
SELECT count(*) AS rows_whose_rescued_matches_from_avro
  FROM avro_rescued r
  JOIN kafka.read_kafka(server => 'k', subscribe => 'avro_fx') v ON v."offset" = r._offset
 WHERE v."offset" < 5 AND r.rest = kafka.from_avro(v.value, server => 'k') - 'id';
-- plain Avro with the table's schema
CREATE FOREIGN TABLE avro_plain_rescued (sensor text, rest jsonb OPTIONS (kafka 'rescued'))
  SERVER k OPTIONS (topic 'avro_plain_fx', format 'avro', avro_schema :'plain_schema');
SELECT sensor, rest FROM avro_plain_rescued ORDER BY sensor;

-- schema_evolution 'add_columns': JSON fields become columns of the source
-- and the target, typed by their JSON types
CREATE FOREIGN TABLE orders_evolving (order_id bigint,
    _partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');
SELECT kafka.create_streaming_table('orders_evolved', source => 'orders_evolving',
  trigger => 'available_now', schema_evolution => 'add_columns');
CALL kafka.refresh_streaming_table('orders_evolved');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'orders_evolving'::regclass AND attnum > 0 ORDER BY attnum;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'orders_evolved'::regclass AND attnum > 0 ORDER BY attnum;
SELECT count(*) AS rows, count(DISTINCT (_partition, _offset)) AS distinct_records,
       count(customer) AS with_customer, count(amount) AS with_amount
  FROM orders_evolved;
SELECT schema_change FROM kafka.stream_progress WHERE stream = 'orders_evolved'::regclass LIMIT 1;
-- Avro fields typed by the writer's types (logical types included)
CREATE FOREIGN TABLE avro_plain_evolving (sensor text)
  SERVER k OPTIONS (topic 'avro_plain_fx', format 'avro', avro_schema :'plain_schema');
SELECT kafka.create_streaming_table('avro_plain_evolved', source => 'avro_plain_evolving',
  trigger => 'available_now', schema_evolution => 'add_columns');
CALL kafka.refresh_streaming_table('avro_plain_evolved');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'avro_plain_evolved'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM avro_plain_evolved ORDER BY sensor;
-- the owner of the stream must own its source
CREATE ROLE evolver;
GRANT USAGE ON SCHEMA kafka TO evolver;
GRANT SELECT ON orders_evolving TO evolver;
CREATE TABLE evolver_target (order_id bigint);
ALTER TABLE evolver_target OWNER TO evolver;
SET ROLE evolver;
SELECT kafka.create_streaming_table('evolver_target', source => 'orders_evolving',
  trigger => 'available_now', schema_evolution => 'add_columns');
RESET ROLE;

SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
DROP TABLE orders_evolved, avro_plain_evolved, evolver_target;
REVOKE USAGE ON SCHEMA kafka FROM evolver;
DROP ROLE evolver;
