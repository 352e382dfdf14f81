--
-- stream_alter: kafka.alter_streaming_table and Spark's option names in
-- create -- what can be changed, what is refused and why (each error names
-- its option), resets to the defaults, and a refresh after an alter reading
-- on from the committed offsets with the new options.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
CREATE USER MAPPING FOR PUBLIC SERVER k;
SET timezone = 'UTC';

CREATE FOREIGN TABLE orders_topic (
    order_id bigint, customer text, amount numeric(10,2), qty int, ts timestamptz,
    _partition int OPTIONS (kafka 'partition'),
    _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');

-- Spark's names in create (unquoted: folded to lower case)
SELECT kafka.create_streaming_table('orders', source => 'orders_topic',
  trigger => 'available_now', maxOffsetsPerTrigger => 7, failOnDataLoss => false,
  startingOffsets => 'earliest');
SELECT max_offsets_per_trigger, fail_on_data_loss, schema_evolution, altered_at IS NULL AS never_altered
  FROM kafka.streaming_tables WHERE target = 'orders'::regclass;
SELECT kafka.create_streaming_table('other', source => 'orders_topic',
  max_offsets_per_trigger => 5, maxOffsetsPerTrigger => 6);
SELECT kafka.create_streaming_table('other', source => 'orders_topic',
  schema_evolution => 'all_of_it');

-- batches of 7; altered, read again from the start: batches of 500 through
-- the transform (which leaves qty out)
CALL kafka.refresh_streaming_table('orders');
SELECT kafka.alter_streaming_table('orders', max_offsets_per_trigger => 500,
  on_error => 'dead_letter', transform => 'SELECT order_id, customer, amount, _partition, _offset FROM batch');
SELECT trigger, max_offsets_per_trigger, on_error, transform IS NOT NULL AS transformed,
       altered_at IS NOT NULL AS altered
  FROM kafka.streaming_tables WHERE target = 'orders'::regclass;
TRUNCATE orders;
SELECT kafka.reset_offsets('orders', 'earliest');
CALL kafka.refresh_streaming_table('orders');
SELECT count(*) = count(DISTINCT (_partition, _offset)) AS each_once,
       count(*) FILTER (WHERE qty IS NOT NULL) AS rows_with_qty
  FROM orders;
SELECT sum(next_offset) = (SELECT count(*) FROM orders) AS offsets_kept FROM kafka.stream_offsets;

-- refused, each naming its option
SELECT kafka.alter_streaming_table('orders', mode => 'upsert');
SELECT kafka.alter_streaming_table('orders', keys => ARRAY['order_id']);
SELECT kafka.alter_streaming_table('orders', source => 'orders_topic');
SELECT kafka.alter_streaming_table('orders', starting_offsets => 'latest');
SELECT kafka.alter_streaming_table('orders', trigger => 'whenever');
SELECT kafka.alter_streaming_table('orders', max_offsets_per_trigger => -1);
SELECT kafka.alter_streaming_table('orders', on_error => 'ignore');
SELECT kafka.alter_streaming_table('orders', maxOffsetsPerTrigger => 1, max_offsets_per_trigger => 2);
SELECT kafka.alter_streaming_table('orders', transform => 'SELECT customer, count(*) FROM batch GROUP BY 1');
SELECT kafka.alter_streaming_table('orders', transform => 'SELECT customer AS nothing_like_the_table FROM batch');
SELECT kafka.alter_streaming_table('orders', except_columns => ARRAY['qty']);
SELECT kafka.alter_streaming_table('orders', tombstone_retention => '-1 day');
SELECT kafka.alter_streaming_table('orders', reset => ARRAY['mode']);
SELECT kafka.alter_streaming_table('orders', reset => ARRAY['on_error'], on_error => 'skip');
SELECT kafka.alter_streaming_table('plain_not_a_stream', trigger => 'continuous');

-- back to the defaults
SELECT kafka.alter_streaming_table('orders',
  reset => ARRAY['maxOffsetsPerTrigger', 'on_error', 'transform', 'fail_on_data_loss']);
SELECT trigger, max_offsets_per_trigger, on_error, transform, fail_on_data_loss
  FROM kafka.streaming_tables WHERE target = 'orders'::regclass;

-- only the owner
CREATE ROLE stream_stranger;
GRANT USAGE ON SCHEMA kafka TO stream_stranger;
SET ROLE stream_stranger;
SELECT kafka.alter_streaming_table('orders', max_offsets_per_trigger => 1);
RESET ROLE;
REVOKE USAGE ON SCHEMA kafka FROM stream_stranger;
DROP ROLE stream_stranger;

SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
DROP TABLE orders;
