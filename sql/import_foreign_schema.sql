--
-- import_foreign_schema: what IMPORT FOREIGN SCHEMA refuses before it asks
-- any broker or registry (unknown remote schema, options, a server without
-- a registry).  Importing itself is tested against a broker and a registry
-- in test/t/056_import_foreign_schema.pl.
--
CREATE EXTENSION kafka_fdw;
-- nothing listens there: every statement below must fail before connecting
CREATE SERVER nowhere FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers '127.0.0.1:9');
CREATE USER MAPPING FOR CURRENT_USER SERVER nowhere;
CREATE SCHEMA imported;
\set VERBOSITY default

-- the remote schema is "registry" or "topics"
IMPORT FOREIGN SCHEMA public FROM SERVER nowhere INTO imported;
IMPORT FOREIGN SCHEMA "Registry" FROM SERVER nowhere INTO imported;

-- options
IMPORT FOREIGN SCHEMA topics FROM SERVER nowhere INTO imported
  OPTIONS (prefix '_');
IMPORT FOREIGN SCHEMA topics FROM SERVER nowhere INTO imported
  OPTIONS (format 'avro');
IMPORT FOREIGN SCHEMA registry FROM SERVER nowhere INTO imported
  OPTIONS (format 'raw');
IMPORT FOREIGN SCHEMA topics FROM SERVER nowhere INTO imported
  OPTIONS (key_format 'csv');
IMPORT FOREIGN SCHEMA topics FROM SERVER nowhere INTO imported
  OPTIONS (include_metadata 'sometimes');

-- "registry" needs a schema registry
IMPORT FOREIGN SCHEMA registry FROM SERVER nowhere INTO imported;
IMPORT FOREIGN SCHEMA registry LIMIT TO (orders) FROM SERVER nowhere INTO imported
  OPTIONS (key_format 'text');

-- PostgreSQL's own checks come first
IMPORT FOREIGN SCHEMA registry FROM SERVER nowhere INTO no_such_schema;

-- the SQLSTATEs
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
SELECT q, pg_temp.try(q) FROM (VALUES
  ('IMPORT FOREIGN SCHEMA public FROM SERVER nowhere INTO imported'),
  ('IMPORT FOREIGN SCHEMA topics FROM SERVER nowhere INTO imported OPTIONS (prefix ''_'')'),
  ('IMPORT FOREIGN SCHEMA topics FROM SERVER nowhere INTO imported OPTIONS (format ''avro'')'),
  ('IMPORT FOREIGN SCHEMA registry FROM SERVER nowhere INTO imported')) v(q);

SELECT count(*) FROM pg_foreign_table;
DROP SCHEMA imported;
DROP SERVER nowhere CASCADE;
DROP EXTENSION kafka_fdw;
