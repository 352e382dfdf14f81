-- kafka_fdw 0.5 -> 0.6 (ALTER EXTENSION kafka_fdw UPDATE): operating streams.
-- Streams keep running across the update.
-- Every name is schema-qualified: the script must not depend on search_path.

\echo Use "ALTER EXTENSION kafka_fdw UPDATE TO '0.6'" to load this file. \quit

-- read_kafka's startingTimestamp and endingTimestamp become "any" (integers
-- are milliseconds since 1970 as before; timestamptz, timestamp, date and
-- text are accepted too).  Changing a parameter's type takes DROP FUNCTION
-- and CREATE FUNCTION, and DROP fails while a user's view calls read_kafka
-- (CASCADE would drop the view).  So the new definition is created under a
-- scratch name, and the existing function takes over its parameter types
-- and defaults in place: it keeps its OID, privileges and the views that
-- call it, whose bigint arguments the library still reads as milliseconds.
CREATE FUNCTION kafka.read_kafka_0_6(
        server text DEFAULT NULL,
        bootstrapServers text DEFAULT NULL,
        subscribe text DEFAULT NULL,
        subscribePattern text DEFAULT NULL,
        assign text DEFAULT NULL,
        startingOffsets text DEFAULT 'earliest',
        endingOffsets text DEFAULT 'latest',
        startingTimestamp "any" DEFAULT NULL,
        endingTimestamp "any" DEFAULT NULL,
        startingOffsetsByTimestamp text DEFAULT NULL,
        endingOffsetsByTimestamp text DEFAULT NULL,
        includeHeaders boolean DEFAULT false,
        failOnDataLoss boolean DEFAULT true,
        options jsonb DEFAULT NULL)
    RETURNS TABLE (key bytea, value bytea, topic text, "partition" int,
                   "offset" bigint, "timestamp" timestamptz,
                   timestampType int, headers kafka.header[])
    AS 'MODULE_PATHNAME', 'read_kafka'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED
    SUPPORT kafka.read_kafka_support
    ROWS 10000;
UPDATE pg_catalog.pg_proc p
   SET proargtypes = n.proargtypes,
       proallargtypes = n.proallargtypes,
       proargdefaults = n.proargdefaults
  FROM pg_catalog.pg_proc n
 WHERE p.oid OPERATOR(pg_catalog.=) 'kafka.read_kafka(text, text, text, text, text, text, text, bigint, bigint, text, text, boolean, boolean, jsonb)'::pg_catalog.regprocedure
   AND n.oid OPERATOR(pg_catalog.=) 'kafka.read_kafka_0_6(text, text, text, text, text, text, text, "any", "any", text, text, boolean, boolean, jsonb)'::pg_catalog.regprocedure;
DROP FUNCTION kafka.read_kafka_0_6(text, text, text, text, text, text, text, "any", "any", text, text, boolean, boolean, jsonb);

-- every function, procedure and view says what it does (\df+, \dv+)
COMMENT ON FUNCTION kafka.kafka_fdw_handler() IS
    'foreign-data wrapper handler of kafka_fdw: scans of and inserts into kafka foreign tables';
COMMENT ON FUNCTION kafka.kafka_fdw_validator(text[], oid) IS
    'checks the options of kafka_fdw servers, user mappings, foreign tables and columns';
COMMENT ON FUNCTION kafka.read_kafka_support(internal) IS
    'planner support for kafka.read_kafka: its row estimate';
COMMENT ON FUNCTION kafka.read_kafka(text, text, text, text, text, text, text, "any", "any", text, text, boolean, boolean, jsonb) IS
    'read the records of Kafka topics between starting and ending offsets or timestamps (Spark''s batch Kafka source)';
COMMENT ON FUNCTION kafka.client_config(text, jsonb) IS
    'the librdkafka configuration a read through this server uses, secrets masked';
COMMENT ON FUNCTION kafka.streaming_objects_dropped() IS
    'event trigger: forgets the streams of dropped tables, fails those whose source or user mapping was dropped';
COMMENT ON FUNCTION kafka.pause_streaming_table(regclass) IS
    'stop a streaming table''s ingestion, keeping its offsets';
COMMENT ON FUNCTION kafka.resume_streaming_table(regclass) IS
    'restart a paused or failed streaming table from its committed offsets';
COMMENT ON FUNCTION kafka.drop_streaming_table(regclass, boolean) IS
    'forget a stream (its catalog rows and dead letters); the table stays unless drop_table => true';
COMMENT ON FUNCTION kafka.reset_offsets(regclass, text) IS
    'move a streaming table''s next offsets to earliest, latest or given offsets per partition';
COMMENT ON PROCEDURE kafka.refresh_streaming_table(regclass, text) IS
    'ingest what the source topic holds now into a streaming table, batch by batch (Spark''s availableNow)';
-- what the last batch read and totals since the update (earlier batches
-- were not counted)
ALTER TABLE kafka.streaming_tables
    ADD COLUMN last_batch_bytes bigint,
    ADD COLUMN last_batch_dead_letters bigint,
    ADD COLUMN total_records bigint NOT NULL DEFAULT 0,
    ADD COLUMN total_rows bigint NOT NULL DEFAULT 0,
    ADD COLUMN total_bytes bigint NOT NULL DEFAULT 0,
    ADD COLUMN total_dead_letters bigint NOT NULL DEFAULT 0;
GRANT SELECT (last_batch_bytes, last_batch_dead_letters, total_records, total_rows,
              total_bytes, total_dead_letters)
    ON kafka.streaming_tables TO PUBLIC;

-- The last batches of each stream (kafka_fdw.stream_history_size of them),
-- written in the batch's transaction; older rows are deleted in the same
-- transaction.  History, like the statistics views: not dumped by pg_dump.
-- offsets: {"topic": {"partition": [start, end]}}, the batch's first offset
-- and the next one after it (Spark's startOffset / endOffset).  lag: the
-- records left after the batch, from the high watermarks it saw.
CREATE TABLE kafka.stream_history (
    stream regclass NOT NULL
        REFERENCES kafka.streaming_tables (target) ON DELETE CASCADE,
    batch_id bigint NOT NULL,
    started_at timestamptz NOT NULL,
    duration interval NOT NULL,
    records bigint NOT NULL,
    rows_inserted bigint NOT NULL,
    rows_updated bigint NOT NULL,
    rows_deleted bigint NOT NULL,
    bytes bigint NOT NULL,                -- keys and values of the records
    dead_letters bigint NOT NULL,
    skipped bigint NOT NULL,
    offsets jsonb NOT NULL,
    lag bigint NOT NULL,
    PRIMARY KEY (stream, batch_id)
);

COMMENT ON TABLE kafka.stream_history IS
    'the last batches of each streaming table (kafka_fdw.stream_history_size): duration, records, rows, bytes, dead letters, offset ranges, lag after';

-- The consumer-group mirror: a stream into a table commits its offsets to
-- its consumer group after each batch (commit_offsets_to_group).  Streams
-- without a group get one: a stream with a Kafka transaction (into a kafka
-- foreign table, or with a dead-letter topic) exactly the name it has used
-- so far (its offsets there tell it, after a crash, what Kafka already
-- holds), the others kafka_fdw.<database>.<schema>.<table>.
ALTER TABLE kafka.streaming_tables
    ADD COLUMN commit_offsets_to_group boolean NOT NULL DEFAULT true;
GRANT SELECT (commit_offsets_to_group) ON kafka.streaming_tables TO PUBLIC;

UPDATE kafka.streaming_tables s
   SET group_id = CASE
       WHEN c.relkind OPERATOR(pg_catalog.=) 'f' OR s.dead_letter_topic IS NOT NULL THEN
           pg_catalog.format('kafka_fdw-%s-%s-%s',
               (SELECT CASE WHEN cs.system_identifier OPERATOR(pg_catalog.<) 0
                            THEN cs.system_identifier::pg_catalog.numeric
                                 OPERATOR(pg_catalog.+) 18446744073709551616::pg_catalog.numeric
                            ELSE cs.system_identifier::pg_catalog.numeric END
                  FROM pg_catalog.pg_control_system() cs),
               d.oid, c.oid)
       ELSE pg_catalog.format('kafka_fdw.%s.%s.%s', d.datname, n.nspname, c.relname)
       END
  FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n, pg_catalog.pg_database d
 WHERE s.group_id IS NULL
   AND c.oid OPERATOR(pg_catalog.=) s.target
   AND n.oid OPERATOR(pg_catalog.=) c.relnamespace
   AND d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database();

DROP FUNCTION kafka.create_streaming_table(text, regclass, text, text, bigint, text, boolean,
    text, text, text[], text, text, text, boolean, text[], int, text[], interval, text,
    text, bigint, boolean, text, text, text, boolean);
-- target: the streaming table, created from the source's columns when it
-- does not exist.  trigger: 'continuous', an interval such as '30 seconds',
-- or 'available_now' (only kafka.refresh_streaming_table loads it).
-- starting_offsets: 'earliest', 'latest' (resolved now) or Spark's JSON.
-- on_error: default from the source table's on_error; 'fail', 'dead_letter',
-- 'skip' or 'null'.
-- mode: 'append' (every row inserted), 'upsert' or 'cdc' (rows applied by
-- keys in sequence_by order; see the README, "Keyed streaming tables").
-- schema_evolution: 'none' or 'add_columns' (a payload field without a
-- column adds one to the source and the target).  Spark's names
-- startingOffsets, maxOffsetsPerTrigger and failOnDataLoss (folded to lower
-- case by PostgreSQL, so written either way unquoted) stand for
-- starting_offsets, max_offsets_per_trigger and fail_on_data_loss.
-- target may be a kafka foreign table: each batch is produced in one Kafka
-- transaction (transactional_id overrides the name derived from the stream;
-- source_header: the kafka_fdw.source header).
-- dead_letter_topic: bad records go to this topic (on_error 'dead_letter').
-- group_id: the consumer group the stream's offsets are committed to
-- (default kafka_fdw.<database>.<schema>.<table>); commit_offsets_to_group
-- => false: none (streams into a table only).
CREATE FUNCTION kafka.create_streaming_table(
        target text,
        source regclass,
        starting_offsets text DEFAULT 'earliest',
        trigger text DEFAULT 'continuous',
        max_offsets_per_trigger bigint DEFAULT NULL,
        on_error text DEFAULT NULL,
        fail_on_data_loss boolean DEFAULT true,
        transform text DEFAULT NULL,
        mode text DEFAULT 'append',
        keys text[] DEFAULT NULL,
        sequence_by text DEFAULT NULL,
        apply_as_deletes text DEFAULT NULL,
        apply_as_truncates text DEFAULT NULL,
        ignore_null_updates boolean DEFAULT false,
        except_columns text[] DEFAULT NULL,
        stored_as_scd_type int DEFAULT 1,
        track_history_columns text[] DEFAULT NULL,
        tombstone_retention interval DEFAULT '7 days',
        schema_evolution text DEFAULT 'none',
        startingOffsets text DEFAULT NULL,
        maxOffsetsPerTrigger bigint DEFAULT NULL,
        failOnDataLoss boolean DEFAULT NULL,
        dead_letter_topic text DEFAULT NULL,
        transactional_id text DEFAULT NULL,
        group_id text DEFAULT NULL,
        source_header boolean DEFAULT true,
        commit_offsets_to_group boolean DEFAULT true)
    RETURNS regclass
    AS 'MODULE_PATHNAME', 'kafka_create_streaming_table'
    LANGUAGE C VOLATILE;

DROP FUNCTION kafka.alter_streaming_table(regclass, text, bigint, text, boolean, text, text,
    text, text, boolean, text[], text[], interval, text[], bigint, boolean, regclass, text,
    text[], text, int, text, text, text, boolean, text, text);
-- Changes a stream's options; NULL (not given) keeps an option as it is,
-- reset => ARRAY['option', ...] puts options back to their defaults.  Takes
-- effect at the stream's next batch; offsets are kept.  The options that
-- make the stream what it is (source, mode, keys, sequence_by,
-- stored_as_scd_type, starting_offsets) are refused: drop and recreate the
-- stream, or kafka.reset_offsets().  Spark's names as in create.  group_id
-- and commit_offsets_to_group: only for streams into a table without a
-- dead-letter topic (the others commit their group in their Kafka
-- transaction).
CREATE FUNCTION kafka.alter_streaming_table(
        target regclass,
        trigger text DEFAULT NULL,
        max_offsets_per_trigger bigint DEFAULT NULL,
        on_error text DEFAULT NULL,
        fail_on_data_loss boolean DEFAULT NULL,
        transform text DEFAULT NULL,
        schema_evolution text DEFAULT NULL,
        apply_as_deletes text DEFAULT NULL,
        apply_as_truncates text DEFAULT NULL,
        ignore_null_updates boolean DEFAULT NULL,
        except_columns text[] DEFAULT NULL,
        track_history_columns text[] DEFAULT NULL,
        tombstone_retention interval DEFAULT NULL,
        reset text[] DEFAULT NULL,
        maxOffsetsPerTrigger bigint DEFAULT NULL,
        failOnDataLoss boolean DEFAULT NULL,
        source regclass DEFAULT NULL,
        mode text DEFAULT NULL,
        keys text[] DEFAULT NULL,
        sequence_by text DEFAULT NULL,
        stored_as_scd_type int DEFAULT NULL,
        starting_offsets text DEFAULT NULL,
        startingOffsets text DEFAULT NULL,
        dead_letter_topic text DEFAULT NULL,
        source_header boolean DEFAULT NULL,
        transactional_id text DEFAULT NULL,
        group_id text DEFAULT NULL,
        commit_offsets_to_group boolean DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_alter_streaming_table'
    LANGUAGE C VOLATILE;

COMMENT ON FUNCTION kafka.create_streaming_table(text, regclass, text, text, bigint, text, boolean, text, text, text[], text, text, text, boolean, text[], integer, text[], interval, text, text, bigint, boolean, text, text, text, boolean, boolean) IS
    'create a streaming table, kept filled from a kafka foreign table exactly once by a background worker or kafka.refresh_streaming_table';
COMMENT ON FUNCTION kafka.alter_streaming_table(regclass, text, bigint, text, boolean, text, text, text, text, boolean, text[], text[], interval, text[], bigint, boolean, regclass, text, text[], text, integer, text, text, text, boolean, text, text, boolean) IS
    'change a streaming table''s options from its next batch; reset => ARRAY[...] puts options back to their defaults';

-- live lag, documented states, rounded rates, totals: the view and the
-- function it reads the launcher's slots with change their columns
DROP VIEW kafka.stream_progress;
DROP FUNCTION kafka.stream_workers();
-- The launcher's view of this database's streams: only those the caller may
-- see progress of (see kafka.stream_progress).  state_until: the end of
-- state 'sleeping' or 'backoff'; warning: what the stream wants its owner
-- to know while it runs.
CREATE FUNCTION kafka.stream_workers(
        OUT stream regclass, OUT pid int, OUT state text,
        OUT rows_per_second double precision, OUT last_error text,
        OUT restarts int, OUT warning text, OUT state_until timestamptz)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'kafka_stream_workers_visible'
    LANGUAGE C VOLATILE;

-- The high watermarks of the partitions of the streams the caller may see
-- progress of, asked of Kafka now (at most once every few seconds per
-- server and owner, within a second or two; connecting as each stream
-- does); as_of: when Kafka answered.  A partition Kafka did not answer for
-- keeps the last answer or none.
CREATE FUNCTION kafka.stream_watermarks(
        OUT stream regclass, OUT topic text, OUT "partition" int,
        OUT high_watermark bigint, OUT as_of timestamptz)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'kafka_stream_watermarks'
    LANGUAGE C VOLATILE;

-- Per stream and partition: what runs, what was committed, how far behind
-- (lag from the high watermarks of kafka.stream_watermarks(), or of the last
-- batch when Kafka does not answer: lag_as_of says when they were seen).
-- Errors quote record contents, so progress is shown only to the stream's
-- owner and its members, superusers and pg_read_all_stats (security_barrier:
-- no function of the caller's sees the other rows).  A refresh in progress
-- holds the stream's advisory lock (see refresh.c): 'refreshing'.
CREATE VIEW kafka.stream_progress WITH (security_barrier) AS
SELECT s.target AS stream,
       o.topic,
       o."partition",
       CASE WHEN s.state = 'failed' THEN s.state
            WHEN r.pid IS NOT NULL THEN 'refreshing'
            WHEN s.state <> 'active' THEN s.state
            WHEN s.trigger = 'available_now' THEN 'waiting for refresh'
            WHEN w.state_until IS NOT NULL
                THEN w.state || ' until ' || pg_catalog.date_trunc('second', w.state_until)
            ELSE coalesce(w.state, 'starting')
       END AS state,
       s.batch_id AS last_batch_id,
       s.last_batch_at,
       s.last_batch_rows,
       o.records AS last_batch_records,
       pg_catalog.round(coalesce(w.rows_per_second, s.rows_per_second)::pg_catalog.numeric, 1)
           AS rows_per_second,
       o.next_offset AS committed_offset,
       coalesce(h.high_watermark, o.high_watermark) AS high_watermark,
       greatest(coalesce(h.high_watermark, o.high_watermark) - o.next_offset, 0) AS lag,
       coalesce(s.last_error, w.last_error) AS last_error,
       w.pid AS worker_pid,
       s.last_batch_inserted AS rows_inserted,
       s.last_batch_updated AS rows_updated,
       s.last_batch_deleted AS rows_deleted,
       s.last_schema_change AS schema_change,
       s.last_schema_change_at AS schema_changed_at,
       CASE WHEN h.high_watermark IS NOT NULL THEN h.as_of
            WHEN o.high_watermark IS NOT NULL THEN s.last_batch_at
       END AS lag_as_of,
       s.last_batch_bytes,
       s.last_batch_dead_letters,
       s.total_records,
       s.total_rows,
       s.total_bytes,
       s.total_dead_letters,
       w.warning
  FROM kafka.streaming_tables s
  JOIN kafka.stream_offsets o ON o.stream = s.target
  LEFT JOIN kafka.stream_workers() w ON w.stream = s.target
  LEFT JOIN kafka.stream_watermarks() h
         ON h.stream = s.target AND h.topic = o.topic AND h."partition" = o."partition"
        AND (s.last_batch_at IS NULL OR o.high_watermark IS NULL OR h.as_of >= s.last_batch_at)
  LEFT JOIN (SELECT l.classid AS target, l.pid
               FROM pg_catalog.pg_locks l
              WHERE l.locktype = 'advisory' AND l.objsubid = 19270 AND l.objid = 0
                AND l.granted
                AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                   WHERE d.datname = pg_catalog.current_database())) r
         ON r.target = s.target::pg_catalog.oid AND r.pid IS DISTINCT FROM w.pid
 WHERE pg_catalog.pg_has_role(s.owner::pg_catalog.oid, 'USAGE')
    OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE');

GRANT SELECT ON kafka.stream_progress TO PUBLIC;
-- a stream's history holds no payloads: the rule of its progress
GRANT SELECT ON kafka.stream_history TO PUBLIC;
ALTER TABLE kafka.stream_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY stream_history_of_own_streams ON kafka.stream_history FOR SELECT
    USING (pg_catalog.pg_has_role(
        (SELECT s.owner FROM kafka.streaming_tables s WHERE s.target OPERATOR(pg_catalog.=) stream),
        'USAGE') OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'));

COMMENT ON FUNCTION kafka.stream_workers() IS
    'the launcher''s slots of this database''s streams the caller may see: worker pid, state, rows/s, error, restarts, warning';
COMMENT ON FUNCTION kafka.stream_watermarks() IS
    'high watermarks of the partitions of the streams the caller may see, asked of Kafka (cached a few seconds)';
COMMENT ON VIEW kafka.stream_progress IS
    'per streaming table and partition: state, last batch, rows/s, committed offset, live high watermark and lag, last error, totals';
