-- kafka_fdw 0.6 -> 0.7 (ALTER EXTENSION kafka_fdw UPDATE): Protobuf.
-- Only new functions: streams keep running across the update.

\echo Use "ALTER EXTENSION kafka_fdw UPDATE TO '0.7'" to load this file. \quit

-- The message as jsonb (field names of the .proto).
CREATE FUNCTION kafka.from_protobuf(value bytea, message text, descriptor bytea,
                                    options jsonb DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'kafka_from_protobuf_jsonb'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- A row of rowtype's type, fields mapped to columns by name as foreign
-- tables of format protobuf do.
CREATE FUNCTION kafka.from_protobuf(value bytea, rowtype anyelement,
                                    message text, descriptor bytea,
                                    options jsonb DEFAULT NULL)
    RETURNS anyelement
    AS 'MODULE_PATHNAME', 'kafka_from_protobuf_row'
    LANGUAGE C STABLE PARALLEL SAFE;

-- A row (or a json/jsonb value) encoded as the message.
CREATE FUNCTION kafka.to_protobuf(record anyelement, message text, descriptor bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'kafka_to_protobuf'
    LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION kafka.from_protobuf(bytea, text, bytea, jsonb) IS
    'decode a Protobuf payload into jsonb, given the message type and a descriptor set (protoc --descriptor_set_out --include_imports)';
COMMENT ON FUNCTION kafka.from_protobuf(bytea, anyelement, text, bytea, jsonb) IS
    'decode a Protobuf payload into a row of the type of the second argument, e.g. kafka.from_protobuf(value, NULL::my_table, ''shop.Order'', descriptor)';
COMMENT ON FUNCTION kafka.to_protobuf(anyelement, text, bytea) IS
    'encode a row (or a json/jsonb value) as a Protobuf message of the type named, given a descriptor set';
