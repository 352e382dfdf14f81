-- kafka_fdw 0.5 -> 0.6 (ALTER EXTENSION kafka_fdw UPDATE): operating streams.
-- Streams keep running across the update.
-- Every name is schema-qualified: the script must not depend on search_path.

\echo Use "ALTER EXTENSION kafka_fdw UPDATE TO '0.6'" to load this file. \quit

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

-- kafka.stream_workers() and kafka.stream_progress gain warning: a trouble
-- that does not stop the stream (its consumer group could not be committed).
DROP VIEW kafka.stream_progress;
DROP FUNCTION kafka.stream_workers();
-- The launcher's view of this database's streams: only those the caller may
-- see progress of (see kafka.stream_progress).
CREATE FUNCTION kafka.stream_workers(
        OUT stream regclass, OUT pid int, OUT state text,
        OUT rows_per_second double precision, OUT last_error text,
        OUT restarts int, OUT warning text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'kafka_stream_workers_visible'
    LANGUAGE C VOLATILE;

CREATE VIEW kafka.stream_progress WITH (security_barrier) AS
SELECT s.target AS stream,
       o.topic,
       o."partition",
       CASE WHEN s.state <> 'active' THEN s.state
            ELSE coalesce(w.state,
                          CASE WHEN s.trigger = 'available_now' THEN 'idle'
                               ELSE 'starting' END)
       END AS state,
       s.batch_id AS last_batch_id,
       s.last_batch_at,
       s.last_batch_rows,
       o.records AS last_batch_records,
       coalesce(w.rows_per_second, s.rows_per_second) AS rows_per_second,
       o.next_offset AS committed_offset,
       o.high_watermark,
       greatest(o.high_watermark - o.next_offset, 0) AS lag,
       coalesce(s.last_error, w.last_error) AS last_error,
       w.pid AS worker_pid,
       s.last_batch_inserted AS rows_inserted,
       s.last_batch_updated AS rows_updated,
       s.last_batch_deleted AS rows_deleted,
       s.last_schema_change AS schema_change,
       s.last_schema_change_at AS schema_changed_at,
       w.warning
  FROM kafka.streaming_tables s
  JOIN kafka.stream_offsets o ON o.stream = s.target
  LEFT JOIN kafka.stream_workers() w ON w.stream = s.target
 WHERE pg_catalog.pg_has_role(s.owner::pg_catalog.oid, 'USAGE')
    OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE');

GRANT SELECT ON kafka.stream_progress TO PUBLIC;
COMMENT ON VIEW kafka.stream_progress IS
    'per streaming table and partition: state, last batch, rows/s, committed offset, high watermark, lag, last error';
