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
