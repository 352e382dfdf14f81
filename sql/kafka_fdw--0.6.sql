-- kafka_fdw: base objects (schema "kafka" is created by CREATE EXTENSION).
-- Every name is schema-qualified: the script must not depend on search_path.

\echo Use "CREATE EXTENSION kafka_fdw" to load this file. \quit

CREATE FUNCTION kafka.kafka_fdw_handler()
    RETURNS fdw_handler
    AS 'MODULE_PATHNAME', 'kafka_fdw_handler'
    LANGUAGE C STRICT;

CREATE FUNCTION kafka.kafka_fdw_validator(text[], oid)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_fdw_validator'
    LANGUAGE C STRICT;

COMMENT ON FUNCTION kafka.kafka_fdw_handler() IS
    'foreign-data wrapper handler of kafka_fdw: scans of and inserts into kafka foreign tables';
COMMENT ON FUNCTION kafka.kafka_fdw_validator(text[], oid) IS
    'checks the options of kafka_fdw servers, user mappings, foreign tables and columns';

CREATE FOREIGN DATA WRAPPER kafka_fdw
    HANDLER kafka.kafka_fdw_handler
    VALIDATOR kafka.kafka_fdw_validator;

-- One Kafka record header (a record may repeat a key).
CREATE TYPE kafka.header AS (key text, value bytea);
-- kafka_fdw: batch reads (read_kafka) and configuration introspection.

CREATE FUNCTION kafka.read_kafka_support(internal)
    RETURNS internal
    AS 'MODULE_PATHNAME', 'read_kafka_support'
    LANGUAGE C STRICT;

-- Spark's batch Kafka source.  Parameter names are Spark's, folded to lower
-- case by PostgreSQL, so startingOffsets => ... and startingoffsets => ...
-- both work.  startingTimestamp and endingTimestamp take milliseconds since
-- 1970 (as in Spark: any integer type) or a point in time (timestamptz,
-- timestamp in the session time zone, date, or text holding either): they
-- are "any" rather than one more overload, which would make calls with an
-- untyped literal, or without them, ambiguous.
CREATE FUNCTION kafka.read_kafka(
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

COMMENT ON FUNCTION kafka.read_kafka_support(internal) IS
    'planner support for kafka.read_kafka: its row estimate';
COMMENT ON FUNCTION kafka.read_kafka(text, text, text, text, text, text, text, "any", "any", text, text, boolean, boolean, jsonb) IS
    'read the records of Kafka topics between starting and ending offsets or timestamps (Spark''s batch Kafka source)';

-- The librdkafka configuration a read through this server uses (secrets
-- masked).
CREATE FUNCTION kafka.client_config(server text, options jsonb DEFAULT NULL)
    RETURNS TABLE (property text, value text)
    AS 'MODULE_PATHNAME', 'kafka_client_config'
    LANGUAGE C VOLATILE;

COMMENT ON FUNCTION kafka.client_config(text, jsonb) IS
    'the librdkafka configuration a read through this server uses, secrets masked';
-- kafka_fdw: payload decoding and encoding functions (Spark's from_json and
-- to_json), over the same codec foreign tables and streaming tables use.

-- A row of rowtype's type from a JSON object payload (UTF-8 bytes, e.g. the
-- value column of read_kafka).  NULL gives NULL; bad input raises an ERROR
-- naming the field and column.  STABLE: timestamptz fields without an
-- offset are read in the session time zone.
CREATE FUNCTION kafka.from_json(value bytea, rowtype anyelement)
    RETURNS anyelement
    AS 'MODULE_PATHNAME', 'kafka_from_json_bytea'
    LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION kafka.from_json(value text, rowtype anyelement)
    RETURNS anyelement
    AS 'MODULE_PATHNAME', 'kafka_from_json_text'
    LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION kafka.from_json(bytea, anyelement) IS
    'decode a JSON object payload into a row of the type of the second argument, e.g. kafka.from_json(value, NULL::my_table)';
COMMENT ON FUNCTION kafka.from_json(text, anyelement) IS
    'decode a JSON object into a row of the type of the second argument, e.g. kafka.from_json(value::text, NULL::my_table)';

-- The compact JSON text format json produces for a row (timestamptz in
-- UTC).  Always call it schema-qualified: pg_catalog.to_json(anyelement)
-- comes first in the search path.
CREATE FUNCTION kafka.to_json(value anyelement)
    RETURNS text
    AS 'MODULE_PATHNAME', 'kafka_to_json'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION kafka.to_json(anyelement) IS
    'encode a row as the compact JSON payload that format json produces';
-- kafka_fdw: producing (INSERT into a kafka foreign table, kafka.produce).
-- Messages are held by the transaction and delivered when it commits; a
-- delivery failure fails the COMMIT.  Both functions write (VOLATILE) and
-- must run in the leader (PARALLEL UNSAFE): the held messages belong to the
-- backend's transaction.

CREATE FUNCTION kafka.produce(server text, topic text, key bytea, value bytea,
        headers kafka.header[] DEFAULT NULL,
        "partition" int DEFAULT NULL,
        "timestamp" timestamptz DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_produce_bytea'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION kafka.produce(server text, topic text, key text, value text,
        headers kafka.header[] DEFAULT NULL,
        "partition" int DEFAULT NULL,
        "timestamp" timestamptz DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_produce_text'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION kafka.produce(text, text, bytea, bytea, kafka.header[], int, timestamptz) IS
    'hold a message (key and value as bytes; NULL value: a tombstone) for delivery to the topic when the transaction commits';
COMMENT ON FUNCTION kafka.produce(text, text, text, text, kafka.header[], int, timestamptz) IS
    'hold a message (key and value as UTF-8 text) for delivery to the topic when the transaction commits';
-- kafka_fdw: streaming tables.  A streaming table is a heap table kept
-- filled from a kafka foreign table by background workers (or by
-- kafka.refresh_streaming_table), exactly once: each batch's rows, its
-- dead letters and the advance of its offsets commit in one transaction.

-- One row per stream.  The catalog is dumped by pg_dump (see
-- pg_extension_config_dump below), so a restored database resumes where it
-- stopped.
CREATE TABLE kafka.streaming_tables (
    target regclass PRIMARY KEY,          -- the streaming table (unique, not null)
    source regclass NOT NULL,             -- the kafka foreign table read
    owner regrole NOT NULL,               -- work runs with this role's privileges
    trigger text NOT NULL DEFAULT 'continuous'
        CHECK (trigger IN ('continuous', 'interval', 'available_now')),
    trigger_interval interval,            -- for trigger 'interval'
    max_offsets_per_trigger bigint CHECK (max_offsets_per_trigger > 0),
    on_error text NOT NULL DEFAULT 'fail'
        CHECK (on_error IN ('fail', 'dead_letter', 'skip', 'null')),
    fail_on_data_loss boolean NOT NULL DEFAULT true,
    transform text,                       -- SELECT over the relation "batch"
    timezone text NOT NULL DEFAULT 'UTC', -- pinned for decoding
    datestyle text NOT NULL DEFAULT 'ISO, MDY',
    state text NOT NULL DEFAULT 'active'
        CHECK (state IN ('active', 'paused', 'failed')),
    batch_id bigint NOT NULL DEFAULT 0,   -- committed batches
    last_batch_at timestamptz,
    last_batch_rows bigint,               -- rows written by the last batch
    last_batch_records bigint,            -- records consumed by the last batch
    rows_per_second double precision,     -- of the last batch
    last_error text,                      -- why the stream failed (state 'failed')
    created_at timestamptz NOT NULL DEFAULT now(),
    -- the creator's search_path, pinned for the transform and defaults like
    -- timezone and datestyle; NULL (streams created before 0.2): the
    -- database's default
    search_path text,
    -- keyed targets (0.3): how a batch's rows are applied
    mode text NOT NULL DEFAULT 'append'
        CHECK (mode IN ('append', 'upsert', 'cdc')),
    keys text[],                          -- the target's key columns
    sequence_by text,                     -- source column; NULL: the Kafka position
    apply_as_deletes text,                -- boolean SQL over the batch row (cdc)
    apply_as_truncates text,              -- boolean SQL over the batch row (cdc)
    ignore_null_updates boolean NOT NULL DEFAULT false,
    except_columns text[],                -- source columns not written
    stored_as_scd_type int NOT NULL DEFAULT 1
        CHECK (stored_as_scd_type IN (1, 2)),
    track_history_columns text[],         -- SCD type 2; NULL: every column
    tombstone_retention interval NOT NULL DEFAULT '7 days',
    last_batch_inserted bigint,           -- the last batch's rows inserted,
    last_batch_updated bigint,            -- updated (versions closed for SCD 2)
    last_batch_deleted bigint,            -- and deleted
    -- 0.4: fields without a column become columns ('add_columns')
    schema_evolution text NOT NULL DEFAULT 'none'
        CHECK (schema_evolution IN ('none', 'add_columns')),
    altered_at timestamptz,               -- last kafka.alter_streaming_table()
    last_schema_change text,              -- the columns schema evolution added last
    last_schema_change_at timestamptz,
    -- the target columns the last batch wrote (input, attnum, name, ...):
    -- one dropped or renamed since stops the stream; NULL after a resume
    written_columns text[],
    -- 0.5: streams that end in Kafka, dead-letter topics
    dead_letter_topic text,               -- bad records go to this topic
    transactional_id text,                -- NULL: derived from the stream
    group_id text,                        -- the stream's consumer group
    source_header boolean NOT NULL DEFAULT true, -- kafka_fdw.source on records produced
    -- 0.6: what the last batch read, and totals since the stream was created
    -- (committed with each batch, exactly once like the offsets)
    last_batch_bytes bigint,              -- keys and values of the last batch's records
    last_batch_dead_letters bigint,
    total_records bigint NOT NULL DEFAULT 0,
    total_rows bigint NOT NULL DEFAULT 0, -- inserted + updated
    total_bytes bigint NOT NULL DEFAULT 0,
    total_dead_letters bigint NOT NULL DEFAULT 0,
    -- 0.6: a table target commits its offsets to group_id after each batch
    commit_offsets_to_group boolean NOT NULL DEFAULT true
);

-- The next offset to ingest, per partition of the source topic.
CREATE TABLE kafka.stream_offsets (
    stream regclass NOT NULL
        REFERENCES kafka.streaming_tables (target) ON DELETE CASCADE,
    topic text NOT NULL,
    "partition" int NOT NULL,
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    high_watermark bigint,                -- as seen by the last batch
    records bigint NOT NULL DEFAULT 0,    -- records consumed by the last batch
    PRIMARY KEY (stream, topic, "partition")
);

-- Keys a keyed stream (mode 'upsert' or 'cdc' with sequence_by) deleted,
-- with the delete's sequence, so a late older change cannot bring them back;
-- forgotten after the stream's tombstone_retention.  key and sequence are
-- the text forms of the key columns and of the sequence value (written with
-- the stream's pinned TimeZone and DateStyle).
CREATE TABLE kafka.stream_tombstones (
    stream regclass NOT NULL
        REFERENCES kafka.streaming_tables (target) ON DELETE CASCADE,
    key text[] NOT NULL,
    sequence text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, key, sequence)
);
CREATE INDEX ON kafka.stream_tombstones (stream, deleted_at);

-- Records that could not be decoded or transformed (on_error 'dead_letter'),
-- written in the transaction of their batch.
CREATE TABLE kafka.dead_letters (
    stream regclass NOT NULL,
    topic text NOT NULL,
    "partition" int NOT NULL,
    "offset" bigint NOT NULL,
    key bytea,
    value bytea,
    error text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON kafka.dead_letters (stream, topic, "partition", "offset");

-- Offset ranges that aged out of Kafka before they were ingested and were
-- skipped (fail_on_data_loss => false).
CREATE TABLE kafka.stream_lost_offsets (
    stream regclass NOT NULL,
    topic text NOT NULL,
    "partition" int NOT NULL,
    from_offset bigint NOT NULL,
    to_offset bigint NOT NULL,            -- inclusive
    at timestamptz NOT NULL DEFAULT now()
);

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

SELECT pg_catalog.pg_extension_config_dump('kafka.streaming_tables', '');
SELECT pg_catalog.pg_extension_config_dump('kafka.stream_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('kafka.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('kafka.stream_lost_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('kafka.stream_tombstones', '');

COMMENT ON TABLE kafka.streaming_tables IS
    'streaming tables: target, source foreign table, trigger, error policy, committed batch count';
COMMENT ON TABLE kafka.stream_offsets IS
    'per stream and partition, the next Kafka offset to ingest; advanced in the same transaction as the rows';
COMMENT ON TABLE kafka.dead_letters IS
    'records a streaming table could not decode or transform (on_error => ''dead_letter'')';
COMMENT ON TABLE kafka.stream_tombstones IS
    'keys deleted by keyed streams, with the delete''s sequence, kept for tombstone_retention';
COMMENT ON TABLE kafka.stream_lost_offsets IS
    'offset ranges skipped because they aged out of Kafka (fail_on_data_loss => false)';
COMMENT ON TABLE kafka.stream_history IS
    'the last batches of each streaming table (kafka_fdw.stream_history_size): duration, records, rows, bytes, dead letters, offset ranges, lag after';

-- Dropping a streaming table forgets its stream; dropping a source (also
-- by DROP SERVER or DROP FOREIGN DATA WRAPPER ... CASCADE) stops the streams
-- that read it, as does dropping the user mapping a non-superuser owner's
-- stream connects with (they show why in kafka.stream_progress).
CREATE FUNCTION kafka.streaming_objects_dropped()
    RETURNS event_trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    DELETE FROM kafka.dead_letters d USING pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0
       AND d.stream OPERATOR(pg_catalog.=) o.objid;
    DELETE FROM kafka.stream_lost_offsets l USING pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0
       AND l.stream OPERATOR(pg_catalog.=) o.objid;
    DELETE FROM kafka.streaming_tables s USING pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0
       AND s.target OPERATOR(pg_catalog.=) o.objid;
    UPDATE kafka.streaming_tables s
       SET state = 'failed',
           last_error = pg_catalog.format('source foreign table %s was dropped (%s)',
                                          o.object_identity, TG_TAG)
      FROM pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0
       AND s.source OPERATOR(pg_catalog.=) o.objid;
    -- the mapping is gone from the catalog by now: which owners have none left
    UPDATE kafka.streaming_tables s
       SET state = 'failed',
           last_error = pg_catalog.format('user mapping for %s was dropped', o.object_identity)
      FROM pg_catalog.pg_event_trigger_dropped_objects() o,
           pg_catalog.pg_foreign_table ft, pg_catalog.pg_foreign_server srv
     WHERE o.object_type OPERATOR(pg_catalog.=) 'user mapping'
       AND ft.ftrelid OPERATOR(pg_catalog.=) s.source
       AND srv.oid OPERATOR(pg_catalog.=) ft.ftserver
       AND srv.srvname OPERATOR(pg_catalog.=) o.address_args[1]
       AND s.state OPERATOR(pg_catalog.<>) 'failed'
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_authid a
                        WHERE a.oid OPERATOR(pg_catalog.=) s.owner AND a.rolsuper)
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_user_mapping m
                        WHERE m.umserver OPERATOR(pg_catalog.=) srv.oid
                          AND m.umuser OPERATOR(pg_catalog.=) ANY (ARRAY[s.owner::pg_catalog.oid, 0::pg_catalog.oid]));
END
$$;

CREATE EVENT TRIGGER kafka_streaming_objects_dropped ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'DROP FOREIGN TABLE', 'DROP SCHEMA', 'DROP OWNED',
                 'DROP SERVER', 'DROP FOREIGN DATA WRAPPER', 'DROP USER MAPPING')
    EXECUTE FUNCTION kafka.streaming_objects_dropped();
COMMENT ON FUNCTION kafka.streaming_objects_dropped() IS
    'event trigger: forgets the streams of dropped tables, fails those whose source or user mapping was dropped';

-- target: the streaming table, created from the source's columns when it
-- does not exist.  trigger: 'continuous', an interval such as '30 seconds',
-- or 'available_now' (only kafka.refresh_streaming_table loads it).
-- starting_offsets: 'earliest', 'latest' (resolved now) or Spark's JSON.
-- on_error: default from the source table's on_error; 'fail', 'dead_letter',
-- 'skip' or 'null'.
-- mode: 'append' (every row inserted), 'upsert' or 'cdc' (rows applied by
-- keys in sequence_by order; see doc/streaming-tables.md, "Keyed streaming tables").
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
COMMENT ON FUNCTION kafka.create_streaming_table(text, regclass, text, text, bigint, text, boolean, text, text, text[], text, text, text, boolean, text[], integer, text[], interval, text, text, bigint, boolean, text, text, text, boolean, boolean) IS
    'create a streaming table, kept filled from a kafka foreign table exactly once by a background worker or kafka.refresh_streaming_table';

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
COMMENT ON FUNCTION kafka.alter_streaming_table(regclass, text, bigint, text, boolean, text, text, text, text, boolean, text[], text[], interval, text[], bigint, boolean, regclass, text, text[], text, integer, text, text, text, boolean, text, text, boolean) IS
    'change a streaming table''s options from its next batch; reset => ARRAY[...] puts options back to their defaults';

CREATE FUNCTION kafka.pause_streaming_table(target regclass)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_pause_streaming_table'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION kafka.pause_streaming_table(regclass) IS
    'stop a streaming table''s ingestion, keeping its offsets';

-- Also restarts a failed stream (clears its error).
CREATE FUNCTION kafka.resume_streaming_table(target regclass)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_resume_streaming_table'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION kafka.resume_streaming_table(regclass) IS
    'restart a paused or failed streaming table from its committed offsets';

-- Forgets the stream (catalog rows, dead letters); the table stays unless
-- drop_table => true.  Its consumer group stays in Kafka.
CREATE FUNCTION kafka.drop_streaming_table(target regclass,
                                           drop_table boolean DEFAULT false)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_drop_streaming_table'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION kafka.drop_streaming_table(regclass, boolean) IS
    'forget a stream (its catalog rows and dead letters); the table stays unless drop_table => true';

-- Rewind or skip: 'earliest', 'latest' or {"topic":{"0":42}} (partitions
-- not named keep their offsets).  Rows already ingested stay.
CREATE FUNCTION kafka.reset_offsets(target regclass, starting_offsets text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_reset_offsets'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION kafka.reset_offsets(regclass, text) IS
    'move a streaming table''s next offsets to earliest, latest or given offsets per partition';

-- availableNow: ingests what the topic holds when the call starts, batch by
-- batch (max_offsets_per_trigger), committing each batch when called on its
-- own; inside a transaction block everything is part of the caller's
-- transaction.  Returns at once when the stream's worker or another
-- refresh is running.  summary: rows, batches, lag left (or why nothing
-- was done).
CREATE PROCEDURE kafka.refresh_streaming_table(target regclass,
                                               INOUT summary text DEFAULT NULL)
    AS 'MODULE_PATHNAME', 'kafka_refresh_streaming_table'
    LANGUAGE C;
COMMENT ON PROCEDURE kafka.refresh_streaming_table(regclass, text) IS
    'ingest what the source topic holds now into a streaming table, batch by batch (Spark''s availableNow)';

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

-- Everyone may see the streams (like pg_class) but not why they failed (an
-- error may quote a record); a stream's dead letters hold its payloads, so
-- only roles with the privileges of its owner see them.
GRANT SELECT ON kafka.stream_offsets, kafka.stream_lost_offsets,
    kafka.stream_progress TO PUBLIC;
GRANT SELECT (target, source, owner, trigger, trigger_interval, max_offsets_per_trigger,
              on_error, fail_on_data_loss, transform, timezone, datestyle, state, batch_id,
              last_batch_at, last_batch_rows, last_batch_records, rows_per_second,
              created_at, search_path, mode, keys, sequence_by, apply_as_deletes,
              apply_as_truncates, ignore_null_updates, except_columns, stored_as_scd_type,
              track_history_columns, tombstone_retention, last_batch_inserted,
              last_batch_updated, last_batch_deleted, schema_evolution, altered_at,
              last_schema_change, last_schema_change_at, dead_letter_topic,
              transactional_id, group_id, source_header, last_batch_bytes,
              last_batch_dead_letters, total_records, total_rows, total_bytes,
              total_dead_letters, commit_offsets_to_group)
    ON kafka.streaming_tables TO PUBLIC;
GRANT SELECT ON kafka.streaming_tables TO pg_read_all_stats;
GRANT SELECT ON kafka.dead_letters TO PUBLIC;
ALTER TABLE kafka.dead_letters ENABLE ROW LEVEL SECURITY;
CREATE POLICY dead_letters_of_own_streams ON kafka.dead_letters FOR SELECT
    USING (pg_catalog.pg_has_role(
        (SELECT s.owner FROM kafka.streaming_tables s WHERE s.target OPERATOR(pg_catalog.=) stream),
        'USAGE'));
-- a stream's tombstones hold its keys: the same rule as its dead letters
GRANT SELECT ON kafka.stream_tombstones TO PUBLIC;
ALTER TABLE kafka.stream_tombstones ENABLE ROW LEVEL SECURITY;
CREATE POLICY stream_tombstones_of_own_streams ON kafka.stream_tombstones FOR SELECT
    USING (pg_catalog.pg_has_role(
        (SELECT s.owner FROM kafka.streaming_tables s WHERE s.target OPERATOR(pg_catalog.=) stream),
        'USAGE'));

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
-- kafka_fdw: Avro with Confluent Schema Registry (Spark's from_avro and
-- to_avro), over the same codec as foreign tables of format avro.

-- The Avro value of a payload as jsonb.  server: a kafka_fdw server with
-- schema_registry_url (Confluent wire format: magic byte 0, 4-byte schema
-- id); schema: an Avro schema (JSON) for plain Avro without that header.
-- STABLE: schemas are cached per backend; the registry is asked once per id.
CREATE FUNCTION kafka.from_avro(value bytea, server text DEFAULT NULL,
                                schema text DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'kafka_from_avro_jsonb'
    LANGUAGE C STABLE PARALLEL RESTRICTED;

-- A row of rowtype's type, fields mapped to columns by name as foreign
-- tables of format avro do.
CREATE FUNCTION kafka.from_avro(value bytea, rowtype anyelement,
                                server text DEFAULT NULL,
                                schema text DEFAULT NULL)
    RETURNS anyelement
    AS 'MODULE_PATHNAME', 'kafka_from_avro_row'
    LANGUAGE C STABLE PARALLEL RESTRICTED;

-- A row (or scalar) in the Confluent wire format, with the schema derived
-- from its columns registered under subject (or found there).  VOLATILE:
-- it may register a schema.
CREATE FUNCTION kafka.to_avro(record anyelement, server text, subject text)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'kafka_to_avro'
    LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION kafka.from_avro(bytea, text, text) IS
    'decode an Avro payload (Confluent wire format with server => ..., plain Avro with schema => ...) into jsonb';
COMMENT ON FUNCTION kafka.from_avro(bytea, anyelement, text, text) IS
    'decode an Avro payload into a row of the type of the second argument, e.g. kafka.from_avro(value, NULL::my_table, server => ''k'')';
COMMENT ON FUNCTION kafka.to_avro(anyelement, text, text) IS
    'encode a row in the Confluent wire format, registering the schema derived from its columns under subject';
-- kafka_fdw: Delta Lake export.

-- Writes the rows of a table, view or SELECT query as one commit of the Delta
-- table at path: Parquet data files plus a _delta_log entry, published
-- atomically.  Needs superuser or pg_write_server_files (checked inside, like
-- COPY TO a file).  Returns the table version now, and the files, rows and
-- bytes written (all zero when nothing was exported).  When source names the
-- target of a streaming table, an append exports only the rows not exported
-- yet (the Delta txn version is the stream's batch_id).
CREATE FUNCTION kafka.delta_export(
    source text,
    path text,
    mode text DEFAULT 'append',
    compression text DEFAULT 'zstd',
    target_file_size bigint DEFAULT 134217728,
    app_id text DEFAULT NULL,
    txn_version bigint DEFAULT NULL,
    timestamp_ntz boolean DEFAULT NULL,
    numeric_as text DEFAULT 'decimal',
    compression_level integer DEFAULT NULL,
    row_group_size bigint DEFAULT NULL,
    page_size integer DEFAULT NULL,
    OUT version bigint,
    OUT files integer,
    OUT rows bigint,
    OUT bytes bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'kafka_delta_export'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION kafka.delta_export(text, text, text, text, bigint, text, bigint, boolean, text, integer, bigint, integer)
    IS 'export a table or query to a Delta Lake table (Parquet files and an atomic _delta_log commit); a streaming table appends only its rows not exported yet';
