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

