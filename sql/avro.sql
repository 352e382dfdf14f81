--
-- avro: Confluent-framed Avro written by an independent implementation
-- (python3-avro, test/fixtures/produce_avro.py) through a fixture Schema
-- Registry with basic auth; kafka.from_avro / kafka.to_avro.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs,
       current_setting('kafka_fdw_test.schema_registry_url') AS sr,
       current_setting('kafka_fdw_test.schema_registry_user') AS sr_user,
       current_setting('kafka_fdw_test.schema_registry_password') AS sr_password \gset
CREATE SERVER avro_k FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', schema_registry_url :'sr');
CREATE USER MAPPING FOR CURRENT_USER SERVER avro_k
  OPTIONS (schema_registry_user :'sr_user', schema_registry_password :'sr_password');
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- Error text with the fixture's random ports masked.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '127\.0\.0\.1:[0-9]+', 'HOST', 'g');
END $$;

CREATE TEMP TABLE fx AS
  SELECT "offset", value FROM kafka.read_kafka(server => 'avro_k', subscribe => 'avro_fx');
SELECT count(*) FROM fx;

-- The whole value as jsonb: every logical type, nulls, nested record,
-- arrays, maps, enum, fixed, bytes; offsets 3-4 use schema version 2.
SELECT "offset", jsonb_pretty(kafka.from_avro(value, server => 'avro_k'))
  FROM fx WHERE "offset" IN (0, 3) ORDER BY 1;
SELECT "offset", kafka.from_avro(value, server => 'avro_k') ->> 'qty' AS qty,
       kafka.from_avro(value, server => 'avro_k') ? 'price' AS has_price,
       kafka.from_avro(value, server => 'avro_k') ->> 'extra' AS extra
  FROM fx WHERE "offset" < 5 ORDER BY 1;

-- Into typed columns by field name, whichever schema version wrote them:
-- removed fields (price) and added ones (extra) are NULL, int widened to
-- long fits bigint.
CREATE TYPE avro_address AS (street text, zip int);
CREATE TYPE avro_order AS (
  id bigint, name text, qty bigint, price float8, ratio real, ok boolean,
  amount numeric(12,2), big numeric, day date, t_ms time, t_us time,
  ts_ms timestamptz, ts_us timestamptz, uid uuid, status text, raw bytea,
  tag4 bytea, tags text[], nums int[], attrs jsonb, address avro_address,
  note text, extra text, missing text);
SELECT "offset", (kafka.from_avro(value, NULL::avro_order, server => 'avro_k')).*
  FROM fx WHERE "offset" < 5 ORDER BY 1 \gx
-- records, arrays and maps into jsonb; enum into a PostgreSQL enum;
-- case-insensitive field names
CREATE TYPE avro_status AS ENUM ('NEW', 'PAID', 'SHIPPED');
CREATE TYPE avro_json AS ("ID" int, status avro_status, tags jsonb, address jsonb, nums jsonb, day text, ts_us text, amount text);
SELECT "offset", (kafka.from_avro(value, NULL::avro_json, server => 'avro_k')).*
  FROM fx WHERE "offset" < 3 ORDER BY 1;

-- Bad messages: clear errors, never a crash.
SELECT "offset", pg_temp.try(format('SELECT kafka.from_avro(%L::bytea, server => %L)', value, 'avro_k'))
  FROM fx WHERE "offset" BETWEEN 5 AND 7 ORDER BY 1;
SELECT "offset", pg_temp.try(format('SELECT kafka.from_avro(%L::bytea, NULL::avro_order, server => %L)', value, 'avro_k'))
  FROM fx WHERE "offset" BETWEEN 5 AND 7 ORDER BY 1;
SELECT pg_temp.try($$SELECT kafka.from_avro('\x'::bytea, server => 'avro_k')$$);
SELECT pg_temp.try($$SELECT kafka.from_avro('\x0000000001'::bytea, server => 'avro_k')$$);
-- varints and lengths are bounds-checked: a string length beyond the payload
SELECT pg_temp.try($$SELECT kafka.from_avro('\xfeffffff0f41'::bytea, schema => '"string"')$$);
SELECT pg_temp.try($$SELECT kafka.from_avro('\x02ff'::bytea, schema => '"string"')$$);
SELECT pg_temp.try($$SELECT kafka.from_avro('\xffffffffffffffffffff01'::bytea, schema => '"long"')$$);
SELECT pg_temp.try($$SELECT kafka.from_avro('\xffffffff0f'::bytea, schema => '{"type":"array","items":"null"}')$$);
-- a tombstone is NULL
SELECT kafka.from_avro(value, server => 'avro_k') IS NULL AS tombstone FROM fx WHERE "offset" = 8;
-- a field that cannot fill its column: the schema id and both types are named
CREATE TYPE avro_wrong AS (id bigint, ok int);
SELECT pg_temp.try(format('SELECT kafka.from_avro(%L::bytea, NULL::avro_wrong, server => %L)', value, 'avro_k'))
  FROM fx WHERE "offset" = 0;
CREATE TYPE avro_wrong2 AS (id bigint, address int);
SELECT pg_temp.try(format('SELECT kafka.from_avro(%L::bytea, NULL::avro_wrong2, server => %L)', value, 'avro_k'))
  FROM fx WHERE "offset" = 0;

-- Plain Avro without the Confluent header, given the writer schema.
SELECT kafka.from_avro(value, schema => current_setting('kafka_fdw_test.avro_plain_schema'))
  FROM kafka.read_kafka(server => 'avro_k', subscribe => 'avro_plain_fx');
SELECT pg_temp.try($$SELECT kafka.from_avro('\x00'::bytea, schema => '{"type":"record"}')$$);
SELECT pg_temp.try($$SELECT kafka.from_avro('\x00'::bytea)$$);

-- to_avro: the schema derived from the columns is registered under the
-- subject; decoding gives the same row back.
CREATE TABLE avro_rt (id int, name text, amount numeric(10,2), price numeric,
  at timestamptz, lt timestamp, d date, t time, tags text[], u uuid, b bytea,
  j jsonb, f4 real, f8 double precision, ok boolean, big bigint, small smallint,
  address avro_address);
INSERT INTO avro_rt VALUES
  (1, 'x ☕', 12.5, 3.14159, '2024-01-01 10:00:00.123456+00', '1999-12-31 23:59:59',
   '2020-02-29', '12:34:56.789', '{a,NULL,"c d"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '\x00ff', '{"a": [1, 2]}', 1.5, -2.25e-300, true, 9223372036854775807, -32768,
   ROW('Main St', 1234)),
  (2, NULL, -0.01, NULL, NULL, NULL, NULL, NULL, '{}', NULL, '\x', NULL, NULL,
   'NaN', false, NULL, NULL, ROW(NULL, NULL)),
  (3, '', 99999999.99, -1e-20, '0001-01-01 00:00:00+00', NULL, '4713-11-24 BC', '24:00', NULL, NULL,
   NULL, '[]', '-Infinity', 'Infinity', NULL, -9223372036854775808, 0, NULL);
SELECT id, encode(substr(kafka.to_avro(r, 'avro_k', 'avro_rt-value'), 1, 1), 'hex') AS magic
  FROM avro_rt r ORDER BY id;
SELECT count(*) AS differing FROM (
  SELECT * FROM avro_rt
  EXCEPT
  SELECT (kafka.from_avro(kafka.to_avro(r, 'avro_k', 'avro_rt-value'), NULL::avro_rt, server => 'avro_k')).*
    FROM avro_rt r) d;
SELECT (kafka.from_avro(kafka.to_avro(r, 'avro_k', 'avro_rt-value'), NULL::avro_rt, server => 'avro_k')).*
  FROM avro_rt r ORDER BY id \gx
-- the same schema is registered once: every row carries the same id
SELECT count(DISTINCT substr(kafka.to_avro(r, 'avro_k', 'avro_rt-value'), 2, 4)) FROM avro_rt r;
-- scalars (keys) are bare Avro values
SELECT kafka.from_avro(kafka.to_avro(42::bigint, 'avro_k', 'avro_rt-key'), server => 'avro_k'),
       kafka.from_avro(kafka.to_avro('k-1'::text, 'avro_k', 'avro_rt-key'), server => 'avro_k');
SELECT pg_temp.try($$SELECT kafka.to_avro(ROW('a', 1)::avro_address, 'avro_k', '')$$);
CREATE TYPE avro_badname AS ("bad name" int);
SELECT pg_temp.try($$SELECT kafka.to_avro(ROW(1)::avro_badname, 'avro_k', 's-value')$$);

-- Options: http/https only; credentials only in user mappings.
SELECT pg_temp.try($$CREATE SERVER avro_bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers 'x:1', schema_registry_url 'file:///etc/passwd')$$);
SELECT pg_temp.try($$CREATE SERVER avro_bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers 'x:1', schema_registry_url 'https://user:secret@sr.example:8081')$$);
SELECT pg_temp.try($$CREATE SERVER avro_bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers 'x:1', schema_registry_password 'secret')$$);
SELECT pg_temp.try($$CREATE SERVER avro_bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers 'x:1', schema_registry_url 'https://sr.example', schema_registry_ca_location 'ca.pem')$$);
CREATE ROLE avro_user;
GRANT USAGE ON FOREIGN DATA WRAPPER kafka_fdw TO avro_user;
SET ROLE avro_user;
SELECT pg_temp.try($$CREATE SERVER avro_bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers 'x:1', schema_registry_ca_location '/etc/ssl/certs/ca-certificates.crt')$$);
RESET ROLE;
SELECT pg_temp.try($$SELECT kafka.from_avro('\x00'::bytea, server => 'k_does_not_exist')$$);
CREATE SERVER avro_noreg FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
SELECT pg_temp.try($$SELECT kafka.from_avro('\x0000000001'::bytea, server => 'avro_noreg')$$);

-- Wrong credentials: refused, and the password is never in the message.
CREATE SERVER avro_badauth FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', schema_registry_url :'sr');
CREATE USER MAPPING FOR CURRENT_USER SERVER avro_badauth
  OPTIONS (schema_registry_user 'fixture-user', schema_registry_password 'not-the-password');
SELECT pg_temp.try(format('SELECT kafka.from_avro(%L::bytea, server => %L)', value, 'avro_badauth'))
  FROM fx WHERE "offset" = 0;

-- Registry unreachable: retried until shortly before statement_timeout,
-- then an error naming the registry.
CREATE SERVER avro_down FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', schema_registry_url 'http://127.0.0.1:9/');
SET statement_timeout = '3s';
SELECT pg_temp.try(format('SELECT kafka.from_avro(%L::bytea, server => %L)', value, 'avro_down'))
  FROM fx WHERE "offset" = 0;
RESET statement_timeout;

-- Foreign tables of format avro: typed columns by field name across schema
-- versions, key and metadata columns, on_error for bad messages.  Columns
-- an older writer schema lacks take the default of the latest schema under
-- avro_fx-value (channel: "web"), or NULL.
CREATE FOREIGN TABLE avro_ft (id bigint, name text, qty bigint, price float8,
  amount numeric(12,2), day date, ts_us timestamptz, uid uuid, status text,
  tags text[], attrs jsonb, address avro_address, extra text, channel text,
  _key text OPTIONS (kafka 'key'), _offset bigint OPTIONS (kafka 'offset'),
  error text OPTIONS (kafka 'error'))
  SERVER avro_k OPTIONS (topic 'avro_fx', format 'avro', on_error 'null');
SELECT * FROM avro_ft ORDER BY _offset;
SELECT _offset, error FROM avro_ft WHERE error IS NOT NULL ORDER BY _offset;
ALTER FOREIGN TABLE avro_ft OPTIONS (SET on_error 'skip');
SELECT _offset, id, qty, channel FROM avro_ft ORDER BY _offset;
ALTER FOREIGN TABLE avro_ft OPTIONS (SET on_error 'fail');
SELECT pg_temp.try('SELECT count(*) FROM avro_ft');
SELECT count(*) FROM avro_ft WHERE _offset < 5;
-- a column type no field version can fill follows on_error too
CREATE FOREIGN TABLE avro_ft_wrong (id bigint, ok date, _offset bigint OPTIONS (kafka 'offset'),
  error text OPTIONS (kafka 'error'))
  SERVER avro_k OPTIONS (topic 'avro_fx', format 'avro', on_error 'null');
SELECT _offset, id, ok, error FROM avro_ft_wrong WHERE _offset < 2 ORDER BY _offset;

-- Plain Avro with the table's avro_schema (Spark's from_avro(col, jsonSchema)).
SELECT current_setting('kafka_fdw_test.avro_plain_schema') AS plain_schema \gset
CREATE FOREIGN TABLE avro_plain (sensor text, value float8, at timestamptz)
  SERVER avro_k OPTIONS (topic 'avro_plain_fx', format 'avro', avro_schema :'plain_schema');
SELECT * FROM avro_plain;
SELECT pg_temp.try($$CREATE FOREIGN TABLE avro_plain_bad (sensor int)
  SERVER avro_k OPTIONS (topic 'avro_plain_fx', format 'avro', avro_schema '{"type":"record","name":"r","fields":[{"name":"sensor","type":"boolean"}]}');
  SELECT * FROM avro_plain_bad$$);
SELECT pg_temp.try($$CREATE FOREIGN TABLE avro_no_registry (x int)
  SERVER avro_noreg OPTIONS (topic 'avro_fx', format 'avro'); SELECT * FROM avro_no_registry$$);

-- INSERT as Avro: the value schema is registered under <topic>-value, the
-- key (key_format avro) under <topic>-key; the rows read back identical.
CREATE FOREIGN TABLE avro_out (id int, name text, amount numeric(10,2),
  at timestamptz, tags text[], address avro_address,
  k bigint OPTIONS (kafka 'key'), p int OPTIONS (kafka 'partition'))
  SERVER avro_k OPTIONS (topic 'avro_out', format 'avro', key_format 'avro');
INSERT INTO avro_out VALUES
  (1, 'a', 1.25, '2024-01-01 00:00:00+00', '{x,NULL}', ROW('Elm', 5), 10, 0),
  (2, NULL, NULL, NULL, NULL, NULL, 20, 0);
SELECT * FROM avro_out ORDER BY id;
SELECT kafka.from_avro(value, server => 'avro_k'), kafka.from_avro(key, server => 'avro_k')
  FROM kafka.read_kafka(server => 'avro_k', subscribe => 'avro_out') ORDER BY "offset";

DROP SERVER avro_k, avro_noreg, avro_badauth, avro_down CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER kafka_fdw FROM avro_user;
DROP ROLE avro_user;
DROP TABLE avro_rt;
DROP TYPE avro_order, avro_json, avro_status, avro_wrong, avro_wrong2, avro_badname, avro_address;
SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
