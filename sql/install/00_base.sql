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
