-- kafka_fdw 0.2 -> 0.3 (ALTER EXTENSION kafka_fdw UPDATE): keyed streaming
-- tables.  Streams keep running across the update: existing streams are
-- append streams (the new columns' defaults), their offsets, dead letters and
-- lost ranges are kept as they are.
-- Every name is schema-qualified: the script must not depend on search_path.

\echo Use "ALTER EXTENSION kafka_fdw UPDATE TO '0.3'" to load this file. \quit

ALTER TABLE kafka.streaming_tables
    ADD COLUMN mode text NOT NULL DEFAULT 'append'
        CHECK (mode IN ('append', 'upsert', 'cdc')),
    ADD COLUMN keys text[],
    ADD COLUMN sequence_by text,
    ADD COLUMN apply_as_deletes text,
    ADD COLUMN apply_as_truncates text,
    ADD COLUMN ignore_null_updates boolean NOT NULL DEFAULT false,
    ADD COLUMN except_columns text[],
    ADD COLUMN stored_as_scd_type int NOT NULL DEFAULT 1
        CHECK (stored_as_scd_type IN (1, 2)),
    ADD COLUMN track_history_columns text[],
    ADD COLUMN tombstone_retention interval NOT NULL DEFAULT '7 days',
    ADD COLUMN last_batch_inserted bigint,
    ADD COLUMN last_batch_updated bigint,
    ADD COLUMN last_batch_deleted bigint;

CREATE TABLE kafka.stream_tombstones (
    stream regclass NOT NULL
        REFERENCES kafka.streaming_tables (target) ON DELETE CASCADE,
    key text[] NOT NULL,
    sequence text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, key, sequence)
);
CREATE INDEX ON kafka.stream_tombstones (stream, deleted_at);
SELECT pg_catalog.pg_extension_config_dump('kafka.stream_tombstones', '');
COMMENT ON TABLE kafka.stream_tombstones IS
    'keys deleted by keyed streams, with the delete''s sequence, kept for tombstone_retention';
GRANT SELECT ON kafka.stream_tombstones TO PUBLIC;
ALTER TABLE kafka.stream_tombstones ENABLE ROW LEVEL SECURITY;
CREATE POLICY stream_tombstones_of_own_streams ON kafka.stream_tombstones FOR SELECT
    USING (pg_catalog.pg_has_role(
        (SELECT s.owner FROM kafka.streaming_tables s WHERE s.target OPERATOR(pg_catalog.=) stream),
        'USAGE'));

DROP FUNCTION kafka.create_streaming_table(text, regclass, text, text, bigint, text, boolean, text);
-- target: the streaming table, created from the source's columns when it
-- does not exist.  trigger: 'continuous', an interval such as '30 seconds',
-- or 'available_now' (only kafka.refresh_streaming_table loads it).
-- starting_offsets: 'earliest', 'latest' (resolved now) or Spark's JSON.
-- on_error: default from the source table's on_error; 'fail', 'dead_letter',
-- 'skip' or 'null'.
-- mode: 'append' (every row inserted), 'upsert' or 'cdc' (rows applied by
-- keys in sequence_by order; see the README, "Keyed streaming tables").
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
        tombstone_retention interval DEFAULT '7 days')
    RETURNS regclass
    AS 'MODULE_PATHNAME', 'kafka_create_streaming_table'
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
       s.last_batch_deleted AS rows_deleted
  FROM kafka.streaming_tables s
  JOIN kafka.stream_offsets o ON o.stream = s.target
  LEFT JOIN kafka.stream_workers() w ON w.stream = s.target
 WHERE pg_catalog.pg_has_role(s.owner::pg_catalog.oid, 'USAGE')
    OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE');

GRANT SELECT (mode, keys, sequence_by, apply_as_deletes, apply_as_truncates,
              ignore_null_updates, except_columns, stored_as_scd_type,
              track_history_columns, tombstone_retention, last_batch_inserted,
              last_batch_updated, last_batch_deleted)
    ON kafka.streaming_tables TO PUBLIC;
