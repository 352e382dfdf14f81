--
-- stream_keyed: the keyed streaming-table arguments (mode upsert / cdc) --
-- what each refuses and why, the targets a keyed stream creates, and the
-- catalog rows valid combinations store.  Applying changes is tested by
-- the TAP tests (054_stream_keyed*.pl, 056_stream_keyed_exactly_once.pl).
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER k;
SET timezone = 'UTC';

CREATE FOREIGN TABLE customers_topic (
    customer_id text OPTIONS (kafka 'key'), name text, city text,
    updated_at timestamptz, seq bigint, op text, blob jsonb)
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');
CREATE FOREIGN TABLE no_key_topic (id int, name text)
  SERVER k OPTIONS (topic 'fdw_orders', format 'json');

-- refused combinations
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'merge');
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', keys => ARRAY['customer_id']);
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', sequence_by => 'seq');
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', except_columns => ARRAY['blob']);
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', ignore_null_updates => true);
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', stored_as_scd_type => 2);
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'upsert',
  apply_as_deletes => 'op = ''d''');
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'upsert',
  apply_as_truncates => 'op = ''t''');
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'cdc',
  sequence_by => 'seq', stored_as_scd_type => 2, apply_as_truncates => 'op = ''t''');
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'upsert',
  track_history_columns => ARRAY['city']);
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'upsert',
  stored_as_scd_type => 3);
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'upsert',
  tombstone_retention => '0 seconds');
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'upsert',
  on_error => 'null');
SELECT kafka.create_streaming_table('k1', source => 'no_key_topic', mode => 'upsert');
SELECT kafka.create_streaming_table('k1', source => 'no_key_topic', mode => 'cdc');
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'upsert',
  transform => 'SELECT * FROM batch');
-- SCD 2 needs a sequence: the Kafka position cannot bound a version
SELECT kafka.create_streaming_table('k1', source => 'customers_topic', mode => 'upsert',
  stored_as_scd_type => 2);
-- targets that do not fit
CREATE TABLE no_unique (customer_id text, name text, seq bigint);
SELECT kafka.create_streaming_table('no_unique', source => 'customers_topic', mode => 'upsert',
  sequence_by => 'seq');
CREATE TABLE no_seq_column (customer_id text PRIMARY KEY, name text);
SELECT kafka.create_streaming_table('no_seq_column', source => 'customers_topic', mode => 'upsert',
  sequence_by => 'seq');
SELECT kafka.create_streaming_table('no_seq_column', source => 'customers_topic', mode => 'upsert',
  sequence_by => 'nope');
CREATE TABLE history_without_columns (customer_id text PRIMARY KEY, name text);
SELECT kafka.create_streaming_table('history_without_columns', source => 'customers_topic',
  mode => 'upsert', sequence_by => 'seq', stored_as_scd_type => 2);
SELECT count(*) AS streams FROM kafka.streaming_tables;

-- created targets: the primary key on the keys (SCD 2: keys and __start_at)
SELECT kafka.create_streaming_table('customers', source => 'customers_topic', mode => 'upsert',
  sequence_by => 'seq', except_columns => ARRAY['blob'], trigger => 'available_now');
SELECT kafka.create_streaming_table('customers_history', source => 'customers_topic', mode => 'cdc',
  keys => ARRAY['customer_id'], sequence_by => 'updated_at', stored_as_scd_type => 2,
  track_history_columns => ARRAY['city'], apply_as_deletes => 'op = ''d''',
  except_columns => ARRAY['op', 'blob'], tombstone_retention => '1 day', trigger => 'available_now');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'customers_history'::regclass AND attnum > 0 ORDER BY attnum;
SELECT indexrelid::regclass, pg_get_indexdef(indexrelid) FROM pg_index
 WHERE indrelid IN ('customers'::regclass, 'customers_history'::regclass) ORDER BY 1;
-- an existing target with a unique index (not a primary key) on the keys
CREATE TABLE by_unique (customer_id text NOT NULL, name text, seq bigint);
CREATE UNIQUE INDEX ON by_unique (customer_id);
SELECT kafka.create_streaming_table('by_unique', source => 'customers_topic', mode => 'upsert',
  sequence_by => 'seq', ignore_null_updates => true, trigger => 'available_now');
SELECT target, mode, keys, sequence_by, apply_as_deletes, apply_as_truncates, ignore_null_updates,
       except_columns, stored_as_scd_type, track_history_columns, tombstone_retention
  FROM kafka.streaming_tables ORDER BY target::text;

SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
DROP TABLE no_unique, no_seq_column, history_without_columns, customers, customers_history, by_unique;
