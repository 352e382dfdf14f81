--
-- produce_routing: a foreign table without a topic option routes each row
-- inserted into it to the topic its kafka 'topic' column names (Spark's
-- rule: a topic option wins over a topic column).  Such a table is
-- produce-only; a NULL, empty or invalid topic is a bad row (SQLSTATE class
-- 22) that fails the INSERT before anything reaches Kafka.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', message_timeout '10');

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Neither a topic option nor a topic column: refused when used.
CREATE FOREIGN TABLE nowhere (id int) SERVER k;
INSERT INTO nowhere VALUES (1);
SELECT * FROM nowhere;

CREATE FOREIGN TABLE routed (
    id int, note text,
    _key text OPTIONS (kafka 'key'),
    _topic text OPTIONS (kafka 'topic'))
  SERVER k OPTIONS (format 'json');

-- Produce-only: whatever would read it is refused; EXPLAIN of an INSERT is
-- not a read.
EXPLAIN (COSTS OFF) INSERT INTO routed VALUES (1, 'one', 'k1', 'rt_a');
SELECT * FROM routed;
SELECT pg_temp.try('SELECT count(*) FROM routed WHERE _key = ''k1''');
SELECT pg_temp.try('EXPLAIN SELECT * FROM routed');
SELECT pg_temp.try('ANALYZE routed');
SELECT pg_temp.try('UPDATE routed SET note = ''x''');
CREATE TABLE routed_copy (id int, note text);
SELECT pg_temp.try($$SELECT kafka.create_streaming_table('routed_copy', source => 'routed')$$);
SELECT count(*) FROM kafka.streaming_tables;

-- Each row to its topic: VALUES, INSERT ... SELECT, COPY.
INSERT INTO routed VALUES (1, 'one', 'k1', 'rt_a'), (2, 'two', 'k2', 'rt_b'),
                          (3, 'three', 'k3', 'rt_a');
INSERT INTO routed (id, _key, _topic)
SELECT i, 'k' || i, CASE i % 3 WHEN 0 THEN 'rt_a' WHEN 1 THEN 'rt_b' ELSE 'rt_c' END
FROM generate_series(10, 39) i;
COPY routed (id, note, _topic) FROM stdin;
100	copied	rt_c
101	copied too	rt.dotted-and_under
\.
-- RETURNING gives the rows as inserted
INSERT INTO routed VALUES (200, 'returned', 'k200', 'rt_b') RETURNING *;
-- ROLLBACK produces nothing, whichever topic
BEGIN;
INSERT INTO routed VALUES (300, 'rolled back', 'k300', 'rt_a'), (301, 'rolled back', 'k301', 'rt_c');
ROLLBACK;

-- Read back through per-topic foreign tables: the topic column is not part
-- of the payload.
CREATE FOREIGN TABLE rt_all (id int, note text,
    _key text OPTIONS (kafka 'key'), _topic text OPTIONS (kafka 'topic'))
  SERVER k OPTIONS (topic 'rt_a,rt_b,rt_c,rt.dotted-and_under', format 'json');
SELECT _topic, count(*), min(id), max(id), string_agg(note, ',' ORDER BY id) AS notes
FROM rt_all GROUP BY 1 ORDER BY 1;
SELECT _topic, id, _key FROM rt_all WHERE id < 10 OR id >= 100 ORDER BY id;
SELECT count(*) FILTER (WHERE _topic = CASE id % 3 WHEN 0 THEN 'rt_a' WHEN 1 THEN 'rt_b' ELSE 'rt_c' END) AS routed_right,
       count(*) AS routed
FROM rt_all WHERE id BETWEEN 10 AND 39;
SELECT topic, convert_from(value, 'UTF8') AS value
FROM kafka.read_kafka(server => 'k', subscribe => 'rt_a')
ORDER BY (convert_from(value, 'UTF8')::jsonb ->> 'id')::int;

-- Bad topics fail the whole INSERT (class 22), naming the column and the
-- table; nothing of the statement is produced.
INSERT INTO routed (id) VALUES (400);
INSERT INTO routed (id, _topic) VALUES (400, 'rt_a'), (401, '');
INSERT INTO routed (id, _topic) VALUES (400, 'two words');
INSERT INTO routed (id, _topic) VALUES (400, repeat('x', 250));
SELECT pg_temp.try(format('INSERT INTO routed (id, _topic) VALUES (400, %L)', t))
FROM unnest(ARRAY[NULL, '', '.', '..', 'a/b', 'a,b', 'a:b', ' lead', 'héllo',
                  repeat('x', 250), repeat('é', 200)]) t;
-- a long value is refused by its length, shown by its first characters
-- (stored compressed out of line, it is not read whole)
CREATE TEMP TABLE long_topic AS SELECT repeat('y', 1000000) AS t;
SELECT pg_column_size(t) < 100000 AS compressed FROM long_topic;
SELECT pg_temp.try('INSERT INTO routed (id, _topic) SELECT 400, t FROM long_topic');
-- names Kafka takes are taken (nothing produced: rolled back)
BEGIN;
INSERT INTO routed (id, _topic) VALUES (400, '...'), (401, repeat('z', 249)), (402, '_-.Az09');
ROLLBACK;
SELECT count(*) FROM rt_all WHERE id >= 300;

-- A topic option wins over the topic column (Spark's rule), and makes the
-- table readable again.
ALTER FOREIGN TABLE routed OPTIONS (ADD topic 'rt_c');
INSERT INTO routed VALUES (500, 'option wins', 'k500', 'rt_a'), (501, 'null column', 'k501', NULL);
SELECT _topic, id, note FROM routed WHERE id >= 500 ORDER BY id;
ALTER FOREIGN TABLE routed OPTIONS (DROP topic);
SELECT pg_temp.try('SELECT * FROM routed');

-- The topic column must be text; a second one is only read.
CREATE FOREIGN TABLE bad_topic_type (id int, t varchar OPTIONS (kafka 'topic')) SERVER k;
INSERT INTO bad_topic_type VALUES (1, 'rt_a');
CREATE FOREIGN TABLE two_topics (id int, t1 text OPTIONS (kafka 'topic'),
    t2 text OPTIONS (kafka 'topic')) SERVER k;
INSERT INTO two_topics VALUES (600, 'rt_b', 'rt_a');
SELECT _topic, id FROM rt_all WHERE id = 600;

DROP EXTENSION kafka_fdw CASCADE;
