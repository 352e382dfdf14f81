--
-- stream: the streaming-table SQL surface — creation checks and their
-- errors, an availableNow refresh of the fdw_orders fixture topic (written
-- by an independent producer, kafkajs) checked against its published
-- totals, the catalog and kafka.stream_progress.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER k;
SET timezone = 'UTC';

CREATE FOREIGN TABLE orders_topic (
    order_id bigint, customer text, amount numeric(10,2), qty int, ts timestamptz,
    _partition int OPTIONS (kafka 'partition'),
    _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');
CREATE TABLE plain (x int);

-- refused
SELECT kafka.create_streaming_table('s1', source => 'plain');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic', trigger => 'every now and then');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic', trigger => '-5 seconds');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic', on_error => 'ignore');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic', max_offsets_per_trigger => 0);
SELECT kafka.create_streaming_table('s1', source => 'orders_topic', starting_offsets => 'soon');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'SELECT customer, sum(amount) FROM batch GROUP BY customer');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'SELECT order_id FROM batch UNION SELECT 1');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'SELECT order_id FROM batch ORDER BY order_id OFFSET 5');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'DELETE FROM plain');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'SELECT 1; SELECT 2');
CREATE UNLOGGED TABLE unlogged_orders (order_id bigint);
SELECT kafka.create_streaming_table('unlogged_orders', source => 'orders_topic');
CREATE TABLE wrong_types (order_id text);
SELECT kafka.create_streaming_table('wrong_types', source => 'orders_topic');
CREATE TABLE unrelated (foo int);
SELECT kafka.create_streaming_table('unrelated', source => 'orders_topic');
CREATE TABLE parted (order_id bigint) PARTITION BY RANGE (order_id);
SELECT kafka.create_streaming_table('parted', source => 'orders_topic');
CALL kafka.refresh_streaming_table('plain');

-- created from the source's columns, loaded in batches of 1000
SELECT kafka.create_streaming_table('public.orders', source => 'orders_topic',
  trigger => 'available_now', max_offsets_per_trigger => 1000);
\d orders
SELECT kafka.create_streaming_table('orders', source => 'orders_topic');
SELECT target, source, owner = current_user::regrole AS mine, trigger, max_offsets_per_trigger,
       on_error, fail_on_data_loss, state, batch_id
  FROM kafka.streaming_tables;
SELECT count(*) AS partitions, sum(next_offset) AS offsets FROM kafka.stream_offsets;
CALL kafka.refresh_streaming_table('orders');
SELECT count(*) = current_setting('kafka_fdw_test.fdw_orders_count')::bigint AS all_records,
       count(DISTINCT (_partition, _offset)) = count(*) AS once,
       sum(amount) = current_setting('kafka_fdw_test.fdw_orders_amount_sum')::numeric AS amounts,
       sum(qty) = current_setting('kafka_fdw_test.fdw_orders_qty_sum')::bigint AS quantities
  FROM orders;
SELECT batch_id, last_batch_records > 0 AS recorded FROM kafka.streaming_tables;
SELECT sum(next_offset) = current_setting('kafka_fdw_test.fdw_orders_count')::bigint AS offsets_advanced
  FROM kafka.stream_offsets;
SELECT DISTINCT state, lag, last_error FROM kafka.stream_progress;
CALL kafka.refresh_streaming_table('orders');

-- pause / resume
SELECT kafka.pause_streaming_table('orders');
SELECT state FROM kafka.streaming_tables;
SELECT kafka.resume_streaming_table('orders');
SELECT state FROM kafka.streaming_tables;

-- rewind one partition by SQL: its records come again
SELECT kafka.reset_offsets('orders', '{"fdw_orders":{"0":0}}');
SELECT kafka.reset_offsets('orders', '{"other_topic":{"0":0}}');
SELECT (SELECT count(*) FROM orders WHERE _partition = 0) AS p0_rows,
       (SELECT next_offset FROM kafka.stream_offsets WHERE "partition" = 0) AS p0_offset;

SELECT kafka.drop_streaming_table('orders', drop_table => true);
SELECT count(*) FROM kafka.streaming_tables;
SELECT count(*) FROM kafka.stream_offsets;

SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
DROP TABLE plain, unlogged_orders, wrong_types, unrelated, parted;
