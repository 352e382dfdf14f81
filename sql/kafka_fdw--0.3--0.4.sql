-- kafka_fdw 0.3 -> 0.4 (ALTER EXTENSION kafka_fdw UPDATE): warehouse
-- streaming tables.  kafka.alter_streaming_table, schema evolution, Spark's
-- option names in create.  Streams keep running across the update: the new
-- columns take their defaults ('none': no schema evolution), offsets, dead
-- letters and tombstones are kept as they are.
-- Every name is schema-qualified: the script must not depend on search_path.

\echo Use "ALTER EXTENSION kafka_fdw UPDATE TO '0.4'" to load this file. \quit

ALTER TABLE kafka.streaming_tables
    ADD COLUMN schema_evolution text NOT NULL DEFAULT 'none'
        CHECK (schema_evolution IN ('none', 'add_columns')),
    ADD COLUMN altered_at timestamptz,
    ADD COLUMN last_schema_change text,
    ADD COLUMN last_schema_change_at timestamptz,
    ADD COLUMN written_columns text[];

DROP FUNCTION kafka.create_streaming_table(text, regclass, text, text, bigint, text, boolean,
    text, text, text[], text, text, text, boolean, text[], int, text[], interval);
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
        failOnDataLoss boolean DEFAULT NULL)
    RETURNS regclass
    AS 'MODULE_PATHNAME', 'kafka_create_streaming_table'
    LANGUAGE C VOLATILE;

-- Changes a stream's options; NULL (not given) keeps an option as it is,
-- reset => ARRAY['option', ...] puts options back to their defaults.  Takes
-- effect at the stream's next batch; offsets are kept.  The options that
-- make the stream what it is (source, mode, keys, sequence_by,
-- stored_as_scd_type, starting_offsets) are refused: drop and recreate the
-- stream, or kafka.reset_offsets().  Spark's names as in create.
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
        startingOffsets text DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_alter_streaming_table'
    LANGUAGE C VOLATILE;

CREATE OR REPLACE VIEW kafka.stream_progress WITH (security_barrier) AS
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
       s.last_schema_change_at AS schema_changed_at
  FROM kafka.streaming_tables s
  JOIN kafka.stream_offsets o ON o.stream = s.target
  LEFT JOIN kafka.stream_workers() w ON w.stream = s.target
 WHERE pg_catalog.pg_has_role(s.owner::pg_catalog.oid, 'USAGE')
    OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE');

GRANT SELECT (target, source, owner, trigger, trigger_interval, max_offsets_per_trigger,
              on_error, fail_on_data_loss, transform, timezone, datestyle, state, batch_id,
              last_batch_at, last_batch_rows, last_batch_records, rows_per_second,
              created_at, search_path, mode, keys, sequence_by, apply_as_deletes,
              apply_as_truncates, ignore_null_updates, except_columns, stored_as_scd_type,
              track_history_columns, tombstone_retention, last_batch_inserted,
              last_batch_updated, last_batch_deleted, schema_evolution, altered_at,
              last_schema_change, last_schema_change_at)
    ON kafka.streaming_tables TO PUBLIC;
