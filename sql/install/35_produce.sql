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
