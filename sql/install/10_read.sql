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
