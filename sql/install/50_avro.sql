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
