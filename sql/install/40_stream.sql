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
    created_at timestamptz NOT NULL DEFAULT now()
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

SELECT pg_catalog.pg_extension_config_dump('kafka.streaming_tables', '');
SELECT pg_catalog.pg_extension_config_dump('kafka.stream_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('kafka.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('kafka.stream_lost_offsets', '');

COMMENT ON TABLE kafka.streaming_tables IS
    'streaming tables: target, source foreign table, trigger, error policy, committed batch count';
COMMENT ON TABLE kafka.stream_offsets IS
    'per stream and partition, the next Kafka offset to ingest; advanced in the same transaction as the rows';
COMMENT ON TABLE kafka.dead_letters IS
    'records a streaming table could not decode or transform (on_error => ''dead_letter'')';
COMMENT ON TABLE kafka.stream_lost_offsets IS
    'offset ranges skipped because they aged out of Kafka (fail_on_data_loss => false)';
