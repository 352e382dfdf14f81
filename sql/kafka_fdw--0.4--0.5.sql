-- kafka_fdw 0.4 -> 0.5 (ALTER EXTENSION kafka_fdw UPDATE): streams that end
-- in Kafka and dead-letter topics.  Streams keep running across the update:
-- the new columns take their defaults (no dead-letter topic, derived
-- transaction names, the source header on); offsets, dead letters and
-- tombstones are kept as they are.
-- Every name is schema-qualified: the script must not depend on search_path.

\echo Use "ALTER EXTENSION kafka_fdw UPDATE TO '0.5'" to load this file. \quit

ALTER TABLE kafka.streaming_tables
    ADD COLUMN dead_letter_topic text,
    ADD COLUMN transactional_id text,
    ADD COLUMN group_id text,
    ADD COLUMN source_header boolean NOT NULL DEFAULT true;
GRANT SELECT (dead_letter_topic, transactional_id, group_id, source_header)
    ON kafka.streaming_tables TO PUBLIC;

DROP FUNCTION kafka.create_streaming_table(text, regclass, text, text, bigint, text, boolean,
    text, text, text[], text, text, text, boolean, text[], int, text[], interval, text,
    text, bigint, boolean);
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
-- transaction (transactional_id and group_id override the names derived
-- from the stream; source_header: the kafka_fdw.source header).
-- dead_letter_topic: bad records go to this topic (on_error 'dead_letter').
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
        source_header boolean DEFAULT true)
    RETURNS regclass
    AS 'MODULE_PATHNAME', 'kafka_create_streaming_table'
    LANGUAGE C VOLATILE;

DROP FUNCTION kafka.alter_streaming_table(regclass, text, bigint, text, boolean, text, text,
    text, text, boolean, text[], text[], interval, text[], bigint, boolean, regclass, text,
    text[], text, int, text, text);
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
        startingOffsets text DEFAULT NULL,
        dead_letter_topic text DEFAULT NULL,
        source_header boolean DEFAULT NULL,
        transactional_id text DEFAULT NULL,
        group_id text DEFAULT NULL)
    RETURNS void
    AS 'MODULE_PATHNAME', 'kafka_alter_streaming_table'
    LANGUAGE C VOLATILE;
