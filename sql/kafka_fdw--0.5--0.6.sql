-- kafka_fdw 0.5 -> 0.6 (ALTER EXTENSION kafka_fdw UPDATE): operating streams.
-- Streams keep running across the update.
-- Every name is schema-qualified: the script must not depend on search_path.

\echo Use "ALTER EXTENSION kafka_fdw UPDATE TO '0.6'" to load this file. \quit
