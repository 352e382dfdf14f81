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
COMMENT ON FUNCTION kafka.create_streaming_table(text, regclass, text, text, bigint, text, boolean, text, text, text[], text, text, text, boolean, text[], integer, text[], interval, text, text, bigint, boolean, text, text, text, boolean) IS
    'create a streaming table, kept filled from a kafka foreign table exactly once by a background worker or kafka.refresh_streaming_table';
COMMENT ON FUNCTION kafka.alter_streaming_table(regclass, text, bigint, text, boolean, text, text, text, text, boolean, text[], text[], interval, text[], bigint, boolean, regclass, text, text[], text, integer, text, text, text, boolean, text, text) IS
    'change a streaming table''s options from its next batch; reset => ARRAY[...] puts options back to their defaults';
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
COMMENT ON FUNCTION kafka.stream_workers() IS
    'the stream workers of this database the caller may see: pid, state, rows/s, last error, restarts';
