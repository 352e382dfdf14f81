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
-- a transform writes nothing: not in WITH, not by SELECT INTO, locks nowhere
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'WITH d AS (DELETE FROM plain RETURNING x) SELECT b.* FROM batch b');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'WITH i AS (INSERT INTO plain SELECT qty FROM batch RETURNING x) SELECT b.* FROM batch b, i');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'SELECT * INTO copied FROM batch');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'SELECT b.* FROM batch b WHERE qty IN (SELECT x FROM plain FOR UPDATE)');
SELECT kafka.create_streaming_table('s1', source => 'orders_topic',
  transform => 'WITH p AS (SELECT x FROM plain FOR SHARE) SELECT b.* FROM batch b, p');
SELECT count(*) AS no_streams_created FROM kafka.streaming_tables;
CREATE UNLOGGED TABLE unlogged_orders (order_id bigint);
SELECT kafka.create_streaming_table('unlogged_orders', source => 'orders_topic');
CREATE TABLE wrong_types (order_id text);
SELECT kafka.create_streaming_table('wrong_types', source => 'orders_topic');
CREATE TABLE unrelated (foo int);
SELECT kafka.create_streaming_table('unrelated', source => 'orders_topic');
CREATE TABLE parted (order_id bigint) PARTITION BY RANGE (order_id);
SELECT kafka.create_streaming_table('parted', source => 'orders_topic', mode => 'upsert', keys => ARRAY['order_id']);
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
-- totals since creation, a rounded rate, one history row per batch
SELECT DISTINCT total_records = current_setting('kafka_fdw_test.fdw_orders_count')::bigint AS all_counted,
       total_rows = total_records AS rows_counted, total_bytes > 0 AS bytes,
       total_dead_letters, pg_typeof(rows_per_second),
       rows_per_second = round(rows_per_second, 1) AS rounded
  FROM kafka.stream_progress;
SELECT batch_id, records, rows_inserted, rows_updated, rows_deleted, bytes > 0 AS bytes,
       dead_letters, skipped, duration >= '0' AS duration,
       (SELECT sum((r->>1)::bigint - (r->>0)::bigint) FROM jsonb_each(offsets) t,
               jsonb_each(t.value) p(k, r)) AS offsets_span,
       lag = current_setting('kafka_fdw_test.fdw_orders_count')::bigint - 1000 * batch_id AS lag_after
  FROM kafka.stream_history ORDER BY batch_id;
CALL kafka.refresh_streaming_table('orders');
SELECT count(*) AS history_rows FROM kafka.stream_history;

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

-- beyond the end: refused, with the watermarks to choose from
DO $$
DECLARE
    message text;
    detail text;
    high bigint := (SELECT high_watermark FROM kafka.stream_offsets WHERE "partition" = 0);
BEGIN
    PERFORM kafka.reset_offsets('orders', format('{"fdw_orders":{"0":%s}}', high + 1));
    RAISE NOTICE 'accepted';
EXCEPTION WHEN invalid_parameter_value THEN
    GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'refused: %; detail: %',
        replace(replace(message, (high + 1)::text, 'HIGH + 1'), high::text, 'HIGH'),
        replace(detail, high::text, 'HIGH');
END
$$;
-- up to the high watermark is fine (the next record written gets it)
SELECT kafka.reset_offsets('orders', format('{"fdw_orders":{"0":%s}}',
    (SELECT high_watermark FROM kafka.stream_offsets WHERE "partition" = 0)));
SELECT next_offset = high_watermark AS at_the_end FROM kafka.stream_offsets WHERE "partition" = 0;

-- the creator's search_path is pinned with TimeZone and DateStyle
SELECT search_path = current_setting('search_path') AS search_path_pinned
  FROM kafka.streaming_tables;

-- progress and errors (which may quote records) only for the owner, its
-- members, superusers and pg_read_all_stats
UPDATE kafka.streaming_tables SET state = 'failed',
    last_error = 'invalid input syntax for type bigint: "SSN 123-45-6789"';
CREATE ROLE stream_onlooker;
CREATE ROLE stream_monitor IN ROLE pg_read_all_stats;
GRANT USAGE ON SCHEMA kafka TO stream_onlooker, stream_monitor;
SET ROLE stream_onlooker;
SELECT target, state FROM kafka.streaming_tables;
SELECT last_error FROM kafka.streaming_tables;
SELECT count(*) AS progress_rows FROM kafka.stream_progress;
SELECT count(*) AS worker_rows FROM kafka.stream_workers();
SELECT count(*) AS history_rows FROM kafka.stream_history;
SELECT count(*) AS watermark_rows FROM kafka.stream_watermarks();
SET ROLE stream_monitor;
SELECT DISTINCT state, last_error FROM kafka.stream_progress;
SELECT count(*) AS history_rows FROM kafka.stream_history;
SELECT last_error FROM kafka.streaming_tables;
RESET ROLE;
REVOKE USAGE ON SCHEMA kafka FROM stream_onlooker, stream_monitor;
SELECT kafka.resume_streaming_table('orders');

-- DROP SERVER ... CASCADE: the stream fails and cannot be resumed
CREATE SERVER k2 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER k2;
CREATE FOREIGN TABLE orders_topic2 (order_id bigint, _partition int OPTIONS (kafka 'partition'),
    _offset bigint OPTIONS (kafka 'offset'))
  SERVER k2 OPTIONS (topic 'fdw_orders', format 'json');
SELECT kafka.create_streaming_table('orders2', source => 'orders_topic2', trigger => 'available_now');
SET client_min_messages = warning;
DROP SERVER k2 CASCADE;
RESET client_min_messages;
SELECT state, last_error FROM kafka.streaming_tables WHERE target = 'orders2'::regclass;
SELECT kafka.resume_streaming_table('orders2');
SELECT kafka.drop_streaming_table('orders2', drop_table => true);

SELECT kafka.drop_streaming_table('orders', drop_table => true);
SELECT count(*) FROM kafka.streaming_tables;
SELECT count(*) FROM kafka.stream_offsets;

SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
DROP TABLE plain, unlogged_orders, wrong_types, unrelated, parted;
DROP ROLE stream_onlooker, stream_monitor;
