--
-- hostile_records: payloads nested deeper than the codec's limit (1000
-- levels) are that record's error ("nested too deeply"), in every format
-- and whatever the column type, never the statement's "stack depth limit
-- exceeded": kafka.from_json / kafka.from_avro raise an ordinary data error,
-- foreign tables apply on_error to the one record.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', message_timeout '10');
CREATE SCHEMA hostile;
SET search_path = hostile, public;

-- SQLSTATE and message of a statement, or 'ok'
CREATE FUNCTION pg_temp.try(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- {"a": [[[...]]]} with n arrays: the object is level 1
CREATE FUNCTION pg_temp.deep_array(n int) RETURNS text LANGUAGE sql AS $$
  SELECT '{"id": 1, "a": ' || repeat('[', n) || repeat(']', n) || '}'
$$;
CREATE FUNCTION pg_temp.deep_object(n int) RETURNS text LANGUAGE sql AS $$
  SELECT '{"id": 1, "a": ' || repeat('{"x":', n) || '1' || repeat('}', n) || '}'
$$;

CREATE TYPE with_jsonb AS (id int, a jsonb);
CREATE TYPE with_json AS (id int, a json);
CREATE TYPE with_text AS (id int, a text);
CREATE TYPE inner_row AS (x int, y jsonb);
CREATE TYPE with_row AS (id int, a inner_row);
CREATE TYPE only_id AS (id int);

-- 50,000 levels: a data error of the record, not a stack overflow
SELECT pg_temp.try(format('SELECT kafka.from_json(%L::text, NULL::with_jsonb)', pg_temp.deep_array(50000)));
SELECT pg_temp.try(format('SELECT kafka.from_json(%L::text, NULL::with_jsonb)', pg_temp.deep_object(50000)));
SELECT pg_temp.try(format('SELECT kafka.from_json(convert_to(%L, ''UTF8''), NULL::with_json)', pg_temp.deep_array(50000)));
SELECT pg_temp.try(format('SELECT kafka.from_json(%L::text, NULL::with_text)', pg_temp.deep_array(50000)));
-- into a row type, and in a field no column reads (still checked)
SELECT pg_temp.try(format('SELECT kafka.from_json(%L::text, NULL::with_row)',
                          '{"a": {"x": 1, "y": ' || repeat('[', 50000) || repeat(']', 50000) || '}}'));
SELECT pg_temp.try(format('SELECT kafka.from_json(%L::text, NULL::only_id)', pg_temp.deep_object(50000)));

-- the limit itself: 1000 levels in all are fine, 1001 are not
SELECT jsonb_typeof((kafka.from_json(pg_temp.deep_array(999), NULL::with_jsonb)).a) AS depth_1000;
SELECT length((kafka.from_json(pg_temp.deep_array(999), NULL::with_text)).a) AS depth_1000_text;
SELECT pg_temp.try(format('SELECT kafka.from_json(%L::text, NULL::with_jsonb)', pg_temp.deep_array(1000)));
SELECT pg_temp.try(format('SELECT kafka.from_json(%L::text, NULL::with_row)',
                          '{"a": {"x": 1, "y": ' || repeat('[', 998) || repeat(']', 998) || '}}'));
SELECT pg_temp.try(format('SELECT kafka.from_json(%L::text, NULL::with_row)',
                          '{"a": {"x": 1, "y": ' || repeat('[', 999) || repeat(']', 999) || '}}'));

-- Avro: a recursive schema (a linked list) describes values of any depth;
-- each element is a union and a record
SELECT '{"type": "record", "name": "Node", "fields": [{"name": "id", "type": "int"},
         {"name": "next", "type": ["null", "Node"]}]}' AS node_schema \gset
SELECT pg_temp.try(format('SELECT kafka.from_avro(%L::bytea, schema => %L)',
                          decode(repeat('0202', 50000) || '0200', 'hex'), :'node_schema'));
SELECT pg_temp.try(format('SELECT kafka.from_avro(%L::bytea, NULL::with_jsonb, schema => %L)',
                          decode('02' || repeat('0202', 50000) || '0200', 'hex'),
                          '{"type": "record", "name": "Top", "fields": [{"name": "id", "type": "int"},
                            {"name": "a", "type": ' || :'node_schema' || '}]}'));
SELECT pg_temp.try(format('SELECT kafka.from_avro(%L::bytea, NULL::only_id, schema => %L)',
                          decode('02' || repeat('0202', 50000) || '0200', 'hex'),
                          '{"type": "record", "name": "Top", "fields": [{"name": "id", "type": "int"},
                            {"name": "a", "type": ' || :'node_schema' || '}]}'));
-- 300 elements (600 levels) are fine
SELECT jsonb_path_query(kafka.from_avro(decode(repeat('0202', 300) || '0200', 'hex'),
                                        schema => :'node_schema'),
                        'strict $.next.next.next.id') AS third_id;
-- a schema nested too deeply is refused as a schema
SELECT pg_temp.try(format('SELECT kafka.from_avro(''\x00''::bytea, schema => %L)',
                          repeat('{"type": "array", "items": ', 1100) || '"int"' || repeat('}', 1100)));

-- Foreign tables: the deep record is that record's error under on_error
-- 'null' and 'skip'; the records around it are read.
CREATE FOREIGN TABLE hostile_out (v text, p int OPTIONS (kafka 'partition'))
  SERVER k OPTIONS (topic 'hostile_json', format 'text');
INSERT INTO hostile_out VALUES ('{"id": 1, "a": [1]}', 0);
INSERT INTO hostile_out VALUES (pg_temp.deep_array(50000), 0);
INSERT INTO hostile_out VALUES ('{"id": 3, "a": {"b": [2]}}', 0);
CREATE FOREIGN TABLE hostile_in (id int, a jsonb, o bigint OPTIONS (kafka 'offset'),
    err text OPTIONS (kafka 'error'))
  SERVER k OPTIONS (topic 'hostile_json', format 'json', on_error 'null');
SELECT id, a, left(err, 100) AS err FROM hostile_in ORDER BY id NULLS LAST;
ALTER FOREIGN TABLE hostile_in OPTIONS (SET on_error 'skip');
SELECT id, a FROM hostile_in ORDER BY id;
SELECT count(*) FROM hostile_in;
ALTER FOREIGN TABLE hostile_in OPTIONS (SET on_error 'fail');
SELECT pg_temp.try('SELECT count(*) FROM hostile.hostile_in');
-- format text into a jsonb column: the same limit
CREATE FOREIGN TABLE hostile_text_in (v jsonb, err text OPTIONS (kafka 'error'))
  SERVER k OPTIONS (topic 'hostile_json', format 'text', on_error 'null');
SELECT v->'id' AS id, err FROM hostile_text_in ORDER BY 1 NULLS LAST;

SET client_min_messages = warning;
DROP SCHEMA hostile CASCADE;
DROP EXTENSION kafka_fdw CASCADE;
