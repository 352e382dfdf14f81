--
-- delta_export: the SQL surface of kafka.delta_export() and the Delta log it
-- writes.  Reading the Parquet files back with independent readers is done
-- by the TAP tests (test/t/06*_delta_*.pl); here the log is read with
-- pg_read_file() and checked as JSON.
--
CREATE EXTENSION kafka_fdw;
CREATE SCHEMA delta_test;
SET search_path = delta_test, public;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET extra_float_digits = 1;
SET intervalstyle = 'postgres';

-- Tables go under the data directory; its absolute path is never printed.
SELECT current_setting('data_directory') || '/delta_regress' AS dir \gset
SELECT set_config('delta_test.data_directory', current_setting('data_directory'), false) IS NOT NULL AS saved;

-- Error text and detail (with the data directory masked), or 'ok'.
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  detail text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RETURN replace(SQLSTATE || ': ' || SQLERRM || coalesce(' DETAIL: ' || nullif(detail, ''), ''),
                 current_setting('delta_test.data_directory'), '$PGDATA');
END $$;
GRANT USAGE ON SCHEMA delta_test TO PUBLIC;

-- The actions of one commit, one row per action.
CREATE FUNCTION log_actions(table_path text, version int)
RETURNS TABLE (action text, body jsonb) LANGUAGE sql AS $$
  SELECT k, l.j -> k
  FROM regexp_split_to_table(
         pg_read_file(format('%s/_delta_log/%s.json', table_path, lpad(version::text, 20, '0'))),
         E'\n') AS line,
       LATERAL (SELECT line::jsonb AS j) l,
       LATERAL jsonb_object_keys(l.j) AS k
  WHERE line <> ''
$$;

-- Data files on disk (live or not).
CREATE FUNCTION parquet_files(table_path text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_ls_dir(table_path) f WHERE f LIKE '%.parquet'
$$;

-- Rows of the snapshot according to the log (adds minus removes).
CREATE FUNCTION snapshot_rows(table_path text) RETURNS numeric LANGUAGE sql AS $$
  WITH actions AS (
    SELECT v, a.action, a.body
    FROM generate_series(0, (SELECT count(*)::int - 1 FROM pg_ls_dir(table_path || '/_delta_log') f
                             WHERE f ~ '^\d{20}\.json$')) v,
         LATERAL log_actions(table_path, v) a)
  SELECT coalesce(sum(((body ->> 'stats')::jsonb ->> 'numRecords')::numeric), 0)
  FROM actions add
  WHERE action = 'add'
    AND NOT EXISTS (SELECT 1 FROM actions rm
                    WHERE rm.action = 'remove' AND rm.body ->> 'path' = add.body ->> 'path')
$$;

SET client_min_messages = warning;

--
-- Parameters
--
SELECT try($$SELECT kafka.delta_export('SELECT 1 AS a', 'relative/path')$$);
SELECT try($$SELECT kafka.delta_export('SELECT 1 AS a', '/tmp/a/../b')$$);
SELECT try($$SELECT kafka.delta_export('SELECT 1 AS a', 's3://bucket/table')$$);
SELECT try($$SELECT kafka.delta_export('SELECT 1 AS a', '/')$$);
SELECT try($$SELECT kafka.delta_export(NULL, '/tmp/x')$$);
SELECT try($$SELECT kafka.delta_export('SELECT 1 AS a', NULL)$$);
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, mode => 'upsert')$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, compression => 'lz4')$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, compression => 'snappy', compression_level => 5)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, compression_level => 23)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, target_file_size => 0)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, page_size => 0)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, row_group_size => -1)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, app_id => 'job')$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, txn_version => 3)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, app_id => '', txn_version => 3)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, app_id => 'job', txn_version => -1)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, numeric_as => 'float')$$, :'dir' || '/p'));

--
-- Sources
--
SELECT try(format($$SELECT kafka.delta_export('no_such_table', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('no_such_schema.t', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT FROM nowhere', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('CREATE TABLE x (a int)', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a; SELECT 2 AS a', %L)$$, :'dir' || '/p'));
CREATE TABLE victim (a int);
SELECT try(format($$SELECT kafka.delta_export('WITH d AS (DELETE FROM victim RETURNING a) SELECT a FROM d', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS "a b"', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS "a,b"', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS "x=1"', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS id, 2 AS "ID"', %L)$$, :'dir' || '/p'));
SELECT try(format($$SELECT kafka.delta_export('SELECT 1::numeric(40,2) AS n', %L)$$, :'dir' || '/p'));
CREATE SEQUENCE not_a_table;
SELECT try(format($$SELECT kafka.delta_export('not_a_table', %L)$$, :'dir' || '/p'));
-- none of the refused exports created anything
SELECT pg_stat_file(:'dir' || '/p', true) IS NULL AS nothing_created;

--
-- Privileges: superuser or pg_write_server_files, like COPY TO a file
--
CREATE ROLE regress_delta_user;
CREATE ROLE regress_delta_writer IN ROLE pg_write_server_files;
GRANT USAGE ON SCHEMA kafka TO regress_delta_user, regress_delta_writer;
SET ROLE regress_delta_user;
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L)$$, :'dir' || '/role'));
RESET ROLE;
SET ROLE regress_delta_writer;
SELECT version, files, rows FROM kafka.delta_export('SELECT 1 AS a', :'dir' || '/role');
RESET ROLE;
REVOKE USAGE ON SCHEMA kafka FROM regress_delta_user, regress_delta_writer;
DROP ROLE regress_delta_user;
DROP ROLE regress_delta_writer;

--
-- Append, append, overwrite, append
--
CREATE TABLE orders (id bigint, customer text, amount numeric(12,2), ts timestamptz, paid boolean);
INSERT INTO orders
SELECT g, 'customer ' || (g % 7), g * 1.25, timestamptz '2024-01-01' + g * interval '1 minute', g % 2 = 0
FROM generate_series(1, 1000) g;
SELECT :'dir' || '/orders' AS orders_dir \gset

SELECT version, files, rows, bytes > 0 AS has_bytes FROM kafka.delta_export('orders', :'orders_dir');
SELECT snapshot_rows(:'orders_dir');
SELECT version, files, rows FROM kafka.delta_export('delta_test.orders', :'orders_dir', mode => 'append');
SELECT snapshot_rows(:'orders_dir');
-- overwrite removes the files of versions 0 and 1, they stay on disk
SELECT version, files, rows FROM kafka.delta_export('SELECT * FROM orders WHERE id <= 100', :'orders_dir', mode => 'overwrite');
SELECT snapshot_rows(:'orders_dir'), parquet_files(:'orders_dir');
SELECT version, files, rows FROM kafka.delta_export('SELECT * FROM orders WHERE id > 990', :'orders_dir');
SELECT snapshot_rows(:'orders_dir'), parquet_files(:'orders_dir');

-- version 0: commitInfo, protocol, metaData, add
SELECT action FROM log_actions(:'orders_dir', 0);
SELECT body FROM log_actions(:'orders_dir', 0) WHERE action = 'protocol';
SELECT body - 'id' - 'createdTime' - 'schemaString' AS metadata,
       body ->> 'id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid_id,
       body ->> 'schemaString' AS schema
FROM log_actions(:'orders_dir', 0) WHERE action = 'metaData';
SELECT body -> 'operation' AS operation, body -> 'operationParameters' AS parameters,
       body -> 'readVersion' AS read_version, body -> 'isBlindAppend' AS blind,
       (body -> 'operationMetrics') - 'numOutputBytes' AS metrics, body -> 'engineInfo' AS engine
FROM log_actions(:'orders_dir', 0) WHERE action = 'commitInfo';
SELECT body ->> 'path' ~ '^part-00000-[0-9a-f-]{36}-c000\.zstd\.parquet$' AS path_ok,
       body -> 'partitionValues' AS partition_values, body -> 'dataChange' AS data_change,
       (body ->> 'size')::bigint = (pg_stat_file(:'orders_dir' || '/' || (body ->> 'path'))).size AS size_ok,
       jsonb_pretty((body ->> 'stats')::jsonb) AS stats
FROM log_actions(:'orders_dir', 0) WHERE action = 'add';
-- version 2 (overwrite) removes both earlier files and adds one
SELECT action, count(*) FROM log_actions(:'orders_dir', 2) GROUP BY action ORDER BY action;
SELECT body - 'path' - 'deletionTimestamp' - 'size' AS remove FROM log_actions(:'orders_dir', 2)
WHERE action = 'remove' LIMIT 1;
SELECT body -> 'operationParameters' AS parameters, body -> 'readVersion' AS read_version,
       body -> 'isBlindAppend' AS blind, (body -> 'operationMetrics') - 'numOutputBytes' AS metrics
FROM log_actions(:'orders_dir', 2) WHERE action = 'commitInfo';

-- an append of no rows commits nothing
SELECT version, files, rows FROM kafka.delta_export('SELECT * FROM orders WHERE false', :'orders_dir');
SELECT count(*) AS commits FROM pg_ls_dir(:'orders_dir' || '/_delta_log') f WHERE f ~ '^\d{20}\.json$';

-- a source with other types or names is refused on append...
SELECT try(format($$SELECT kafka.delta_export('SELECT id, customer FROM orders', %L)$$, :'orders_dir'));
SELECT try(format($$SELECT kafka.delta_export('SELECT id, customer, amount, ts, paid, 1 AS extra FROM orders', %L)$$, :'orders_dir'));
SELECT try(format($$SELECT kafka.delta_export('SELECT id, customer, amount::text AS amount, ts, paid FROM orders', %L)$$, :'orders_dir'));
SELECT try(format($$SELECT kafka.delta_export('SELECT id, customer, amount * 1000000000 AS amount, ts, paid FROM orders', %L)$$, :'orders_dir'));
-- ...but lossless conversions are fine: narrower ints, other column order,
-- unconstrained numeric rounded into the table's decimal(12,2)
SELECT version, files, rows FROM kafka.delta_export(
  'SELECT paid, ts, 1.005::numeric AS amount, ''x''::text AS customer, 7::int2 AS id FROM orders WHERE id = 1', :'orders_dir');
SELECT (body ->> 'stats')::jsonb -> 'minValues' AS min_values
FROM log_actions(:'orders_dir', 4) WHERE action = 'add';
-- overwrite may replace the schema; the table keeps its id
SELECT version, files, rows FROM kafka.delta_export('SELECT id, customer FROM orders WHERE id < 10', :'orders_dir', mode => 'overwrite');
SELECT (SELECT body ->> 'id' FROM log_actions(:'orders_dir', 0) WHERE action = 'metaData') =
       (SELECT body ->> 'id' FROM log_actions(:'orders_dir', 5) WHERE action = 'metaData') AS same_table_id,
       (SELECT body ->> 'schemaString' FROM log_actions(:'orders_dir', 5) WHERE action = 'metaData') AS schema;
SELECT snapshot_rows(:'orders_dir');

-- modes errorifexists and ignore
SELECT try(format($$SELECT kafka.delta_export('orders', %L, mode => 'errorifexists')$$, :'orders_dir'));
SELECT version, files, rows FROM kafka.delta_export('orders', :'orders_dir', mode => 'ignore');
SELECT version, files, rows FROM kafka.delta_export('orders', :'dir' || '/created', mode => 'errorifexists');
SELECT version, files, rows FROM kafka.delta_export('orders', :'dir' || '/ignored', mode => 'ignore');

-- a new table from an empty source: version 0 with the schema, no files
SELECT version, files, rows FROM kafka.delta_export('SELECT 1::int AS a WHERE false', :'dir' || '/empty');
SELECT action FROM log_actions(:'dir' || '/empty', 0);

--
-- Idempotent exports: app_id and txn_version
--
SELECT :'dir' || '/txn' AS txn_dir \gset
SELECT version, files, rows FROM kafka.delta_export('SELECT 1 AS a', :'txn_dir', app_id => 'nightly', txn_version => 5);
SELECT body - 'lastUpdated' AS txn FROM log_actions(:'txn_dir', 0) WHERE action = 'txn';
SET client_min_messages = notice;
-- the same or an older version again: nothing written
SELECT version, files, rows FROM kafka.delta_export('SELECT 1 AS a', :'txn_dir', app_id => 'nightly', txn_version => 5);
SELECT version, files, rows FROM kafka.delta_export('SELECT 1 AS a', :'txn_dir', app_id => 'nightly', txn_version => 4);
SET client_min_messages = warning;
SELECT version, files, rows FROM kafka.delta_export('SELECT 2 AS a', :'txn_dir', app_id => 'nightly', txn_version => 6);
-- another application has its own position; an empty batch still records it
SELECT version, files, rows FROM kafka.delta_export('SELECT 3 AS a WHERE false', :'txn_dir', app_id => 'hourly', txn_version => 1);
SELECT v, body ->> 'appId' AS app_id, body -> 'version' AS txn_version
FROM generate_series(0, 2) v, log_actions(:'txn_dir', v) WHERE action = 'txn' ORDER BY v;
SELECT snapshot_rows(:'txn_dir'), parquet_files(:'txn_dir');

--
-- Values: Delta types and stats precision
--
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE typed (
  id int, b bool, i2 int2, i8 int8, f4 float4, f8 float8, n numeric(20,4), nf numeric,
  t text, c char(3), by bytea, d date, ts timestamp, tstz timestamptz, u uuid,
  jb jsonb, e mood, iv interval, arr int[], rec orders);
INSERT INTO typed VALUES
  (1, true, -32768, 9223372036854775807, 1.5, -0.25, -1234567890123456.7890, 12.5,
   'été', 'ab', '\x01ff', '1969-07-20', '2024-02-29 23:59:59.999001', '1900-01-01 00:00:00.0005+00',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, null]}', 'happy', '1 day 02:00', '{1,NULL}',
   ROW(1, 'x', 1.5, NULL, true)),
  (2, NULL, 7, NULL, NULL, 'NaN', NULL, NULL,
   repeat('ü', 40), NULL, NULL, NULL, '0001-01-01 00:00:00', NULL, NULL,
   NULL, NULL, NULL, NULL, NULL);
SELECT version, files, rows FROM kafka.delta_export('typed', :'dir' || '/typed');
SELECT f ->> 'name' AS name, f ->> 'type' AS type, f -> 'nullable' AS nullable, f -> 'metadata' AS metadata
FROM log_actions(:'dir' || '/typed', 0), jsonb_array_elements((body ->> 'schemaString')::jsonb -> 'fields') f
WHERE action = 'metaData';
-- bounds per column (U+10FFFF, appended to cut maxima, shown as <max>)
SELECT c.name, replace(s -> 'minValues' ->> c.name, chr(1114111), '<max>') AS min,
       replace(s -> 'maxValues' ->> c.name, chr(1114111), '<max>') AS max,
       s -> 'nullCount' -> c.name AS nulls
FROM (SELECT (body ->> 'stats')::jsonb AS s FROM log_actions(:'dir' || '/typed', 0) WHERE action = 'add') stats,
     (SELECT attname::text AS name, attnum FROM pg_attribute
      WHERE attrelid = 'typed'::regclass AND attnum > 0) c
ORDER BY c.attnum;
SELECT ((body ->> 'stats')::jsonb ->> 'numRecords') AS records
FROM log_actions(:'dir' || '/typed', 0) WHERE action = 'add';

-- unconstrained numeric: decimal(38,9), rounded like a cast; out of range and
-- NaN are errors (the hint names the way out), or strings on request
SELECT version, files, rows FROM kafka.delta_export('SELECT 0.1234567894::numeric AS n UNION ALL SELECT -0.0000000005', :'dir' || '/rounded');
SELECT (body ->> 'stats')::jsonb -> 'minValues' AS min, (body ->> 'stats')::jsonb -> 'maxValues' AS max
FROM log_actions(:'dir' || '/rounded', 0) WHERE action = 'add';
SELECT try(format($$SELECT kafka.delta_export('SELECT 1e30::numeric AS n', %L)$$, :'dir' || '/bad'));
SELECT try(format($$SELECT kafka.delta_export('SELECT ''NaN''::numeric AS n', %L)$$, :'dir' || '/bad'));
SELECT try(format($$SELECT kafka.delta_export('SELECT ''infinity''::timestamptz AS t', %L)$$, :'dir' || '/bad'));
SELECT try(format($$SELECT kafka.delta_export('SELECT ''-infinity''::date AS d', %L)$$, :'dir' || '/bad'));
SELECT try(format($$SELECT kafka.delta_export('SELECT ''294270-01-01''::timestamp AS t', %L)$$, :'dir' || '/bad'));
SELECT version, files, rows FROM kafka.delta_export('SELECT 1e30::numeric AS n, ''NaN''::numeric AS m', :'dir' || '/strings', numeric_as => 'string');
SELECT (body ->> 'schemaString')::jsonb -> 'fields' -> 0 ->> 'type' AS type
FROM log_actions(:'dir' || '/strings', 0) WHERE action = 'metaData';

-- a failing export removes the files it wrote: 3000 rows in files of ~4 kB,
-- then an error on the last row
SELECT version FROM kafka.delta_export('SELECT g::numeric AS n FROM generate_series(1, 10) g', :'dir' || '/cleanup');
SELECT try(format($$SELECT kafka.delta_export('SELECT CASE WHEN g < 3000 THEN g::numeric ELSE 1e40 END AS n FROM generate_series(1, 3000) g', %L, target_file_size => 4000)$$, :'dir' || '/cleanup'));
SELECT parquet_files(:'dir' || '/cleanup'), snapshot_rows(:'dir' || '/cleanup');
SELECT count(*) AS leftovers FROM pg_ls_dir(:'dir' || '/cleanup/_delta_log') f WHERE f !~ '^\d{20}\.json$';

-- several files, row groups and pages per export
SELECT version, files, rows FROM kafka.delta_export(
  'SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 20000) g', :'dir' || '/split',
  target_file_size => 100000, row_group_size => 40000, page_size => 4096, compression => 'snappy');
SELECT count(*) AS adds, sum(((body ->> 'stats')::jsonb ->> 'numRecords')::int) AS rows,
       bool_and(body ->> 'path' LIKE '%.snappy.parquet') AS snappy_names
FROM log_actions(:'dir' || '/split', 0) WHERE action = 'add';

--
-- timestamp without time zone: timestamp (UTC) by default, timestamp_ntz on request
--
SELECT version FROM kafka.delta_export('SELECT ''2024-01-01 12:00''::timestamp AS ts', :'dir' || '/ntz', timestamp_ntz => true);
SELECT body FROM log_actions(:'dir' || '/ntz', 0) WHERE action = 'protocol';
SELECT (body ->> 'schemaString')::jsonb -> 'fields' -> 0 ->> 'type' AS type
FROM log_actions(:'dir' || '/ntz', 0) WHERE action = 'metaData';
SELECT (body ->> 'stats')::jsonb -> 'minValues' AS min FROM log_actions(:'dir' || '/ntz', 0) WHERE action = 'add';
-- an append follows the table's choice unless told otherwise
SELECT version FROM kafka.delta_export('SELECT ''2024-01-02 12:00''::timestamp AS ts', :'dir' || '/ntz');
SELECT try(format($$SELECT kafka.delta_export('SELECT ''2024-01-02''::timestamp AS ts', %L, timestamp_ntz => false)$$, :'dir' || '/ntz'));
-- overwriting a protocol 1/2 table with a timestamp_ntz column upgrades its protocol
SELECT version FROM kafka.delta_export('SELECT 1 AS a', :'dir' || '/upgrade');
SELECT version FROM kafka.delta_export('SELECT ''2024-01-01''::timestamp AS ts', :'dir' || '/upgrade', mode => 'overwrite', timestamp_ntz => true);
SELECT body FROM log_actions(:'dir' || '/upgrade', 1) WHERE action = 'protocol';

--
-- Tables this writer must refuse
--
-- Writes a file into a table's _delta_log, as another writer would.
CREATE FUNCTION put_log(table_path text, name text, content text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  lo oid := lo_from_bytea(0, convert_to(content, 'UTF8'));
BEGIN
  PERFORM lo_export(lo, table_path || '/_delta_log/' || name);
  PERFORM lo_unlink(lo);
END $$;
SELECT version FROM kafka.delta_export('SELECT 1 AS a', :'dir' || '/writer4');
SELECT put_log(:'dir' || '/writer4', '00000000000000000001.json',
               '{"protocol":{"minReaderVersion":1,"minWriterVersion":4}}' || E'\n');
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L)$$, :'dir' || '/writer4'));
SELECT version FROM kafka.delta_export('SELECT 1 AS a', :'dir' || '/feature');
SELECT put_log(:'dir' || '/feature', '00000000000000000001.json',
               '{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}}' || E'\n');
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L)$$, :'dir' || '/feature'));
SELECT version FROM kafka.delta_export('SELECT 1 AS a', :'dir' || '/checkpoint');
SELECT put_log(:'dir' || '/checkpoint', '00000000000000000000.checkpoint.parquet', '');
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L)$$, :'dir' || '/checkpoint'));
SELECT version FROM kafka.delta_export('SELECT 1 AS a', :'dir' || '/gap');
SELECT put_log(:'dir' || '/gap', '00000000000000000002.json', '{"commitInfo":{}}' || E'\n');
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L)$$, :'dir' || '/gap'));
SELECT version FROM kafka.delta_export('SELECT 1 AS a', :'dir' || '/appendonly');
SELECT put_log(:'dir' || '/appendonly', '00000000000000000001.json',
               (SELECT jsonb_build_object('metaData', jsonb_set(body, '{configuration}', '{"delta.appendOnly": "true"}'))::text
                FROM log_actions(:'dir' || '/appendonly', 0) WHERE action = 'metaData') || E'\n');
SELECT version FROM kafka.delta_export('SELECT 2 AS a', :'dir' || '/appendonly');
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L, mode => 'overwrite')$$, :'dir' || '/appendonly'));
SELECT version FROM kafka.delta_export('SELECT 1 AS a', :'dir' || '/partitioned');
SELECT put_log(:'dir' || '/partitioned', '00000000000000000001.json',
               (SELECT jsonb_build_object('metaData', jsonb_set(body, '{partitionColumns}', '["a"]'))::text
                FROM log_actions(:'dir' || '/partitioned', 0) WHERE action = 'metaData') || E'\n');
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L)$$, :'dir' || '/partitioned'));
SELECT version FROM kafka.delta_export('SELECT 1 AS a', :'dir' || '/garbage');
SELECT put_log(:'dir' || '/garbage', '00000000000000000001.json', '{"add": {"path": ' || E'\n');
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L)$$, :'dir' || '/garbage'));
-- a path that is a file, not a directory
SELECT try(format($$SELECT kafka.delta_export('SELECT 1 AS a', %L)$$, :'dir' || '/typed/_delta_log/00000000000000000000.json'));

DROP SCHEMA delta_test CASCADE;
DROP EXTENSION kafka_fdw CASCADE;
