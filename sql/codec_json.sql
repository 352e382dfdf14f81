--
-- codec_json: kafka.from_json / kafka.to_json, the JSON codec that foreign
-- tables and streaming tables decode with.  No broker needed.
--
CREATE EXTENSION kafka_fdw;
CREATE SCHEMA codec_test;
SET search_path = codec_test, public;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET extra_float_digits = 1;

CREATE TYPE orders AS (id bigint, customer text, amount numeric, qty int, paid boolean);

-- Error text and SQLSTATE of a decode, as a value.
CREATE FUNCTION try_decode(payload bytea, rowtype anyelement) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  RETURN kafka.from_json(payload, rowtype)::text;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Typed sums over many generated payloads, against values computed in SQL.
SELECT sum(r.id) AS ids, sum(r.amount) AS amount, sum(r.qty) AS qty,
       count(*) FILTER (WHERE r.paid) AS paid, count(DISTINCT r.customer) AS customers
FROM (SELECT (kafka.from_json(convert_to(format(
          '{"id":%s,"customer":"c%s","amount":%s,"qty":%s,"paid":%s}',
          g, g % 10, g * 1.5, g % 7, (g % 3 = 0)::text), 'UTF8'), NULL::orders)).*
      FROM generate_series(1, 10000) g) r;
SELECT sum(g) AS ids, sum(g * 1.5) AS amount, sum(g % 7) AS qty,
       count(*) FILTER (WHERE g % 3 = 0) AS paid
FROM generate_series(1, 10000) g;

-- The bytea and text forms agree, and agree with json_populate_record.
SELECT count(*) AS rows,
       bool_and(kafka.from_json(convert_to(doc, 'UTF8'), NULL::orders) IS NOT DISTINCT FROM kafka.from_json(doc, NULL::orders)) AS bytea_is_text,
       bool_and(kafka.from_json(doc, NULL::orders) IS NOT DISTINCT FROM json_populate_record(NULL::orders, doc::json)) AS same_as_core
FROM (SELECT format('{"paid":%s,"qty":%s,"amount":%s,"customer":"%s","id":%s}',
                    CASE WHEN g % 5 = 0 THEN 'null' ELSE (g % 2 = 0)::text END,
                    -g, (g / 7.0)::numeric(20, 6), repeat('x', g % 40), g::bigint * 1000003) AS doc
      FROM generate_series(1, 5000) g) s;

-- Every type with a fast path, and two without (interval, inet).
CREATE TYPE point2 AS (x float8, y float8);
CREATE TYPE every_type AS (
    i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
    n numeric, n52 numeric(5,2), b boolean, t text, vc varchar(5), c char(4),
    nm name, u uuid, d date, ts timestamp, ts0 timestamp(0), tz timestamptz,
    j json, jb jsonb, ia integer[], ta text[], ma integer[], ja jsonb[],
    pt point2, pts point2[], iv interval, ip inet);
\x on
SELECT * FROM kafka.from_json(
'{"i2": -32768, "i4": 2147483647, "i8": -9223372036854775808,
  "f4": 1.5e10, "f8": -2.5e-300, "n": 123456789012345678901234567890.123456789,
  "n52": 123.456, "b": false, "t": "caf\u00e9 \"quoted\"\nline", "vc": "abc",
  "c": "ab", "nm": "a name", "u": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
  "d": "2024-02-29", "ts": "2024-02-29T23:59:59.123456+05:00",
  "ts0": "2024-02-29T23:59:59.5", "tz": "2024-02-29T23:59:59.5-05:30",
  "j": {"a": [1, 2]}, "jb": {"b": [1, {"c": null}]}, "ia": [1, null, 3],
  "ta": ["a", "b\"c", null], "ma": [[1, 2], [3, 4]], "ja": [{"k": 1}, [1, 2], "s"],
  "pt": {"x": 1.5, "y": -2}, "pts": [{"x": 1}, null, {"y": 2}],
  "iv": "1 day 02:00:00", "ip": "10.0.0.1/8"}', NULL::every_type);
\x off

-- Scalars are read through their text, as json_populate_record does:
-- numbers and booleans into text, numeric strings into numbers.
CREATE TYPE loose AS (i int, n numeric, f float8, b1 boolean, b2 boolean, t1 text, t2 text, t3 text);
SELECT * FROM kafka.from_json('{"i": " 42 ", "n": "12.50", "f": "NaN", "b1": "yes", "b2": 0,
                               "t1": 12.50, "t2": true, "t3": {"nested": [1, 2]}}', NULL::loose);

-- Date and time strings: ISO 8601 with T or a blank, Z or an offset; no
-- offset means the session time zone; timestamp and date ignore offsets.
CREATE TYPE times AS (tz timestamptz, ts timestamp, d date);
SELECT v, r.* FROM (VALUES ('2024-05-01T12:00:00Z'), ('2024-05-01 12:00:00+02'), ('2024-05-01t12:00+0530'),
                           ('2024-05-01T12:00:00.25-03:00'), ('2024-05-01T12:00:00'), ('2024-05-01'),
                           ('2024-05-01T12:00:00.1234567Z'), ('infinity')) v(v),
     LATERAL kafka.from_json(format('{"tz":"%s","ts":"%s","d":"%s"}', v, v, v), NULL::times) r;
SET timezone = 'America/New_York';
SELECT r.tz, r.tz AT TIME ZONE 'UTC' AS utc
FROM kafka.from_json('{"tz":"2024-01-15T12:00:00"}', NULL::times) r;
SELECT r.tz, r.tz AT TIME ZONE 'UTC' AS utc
FROM kafka.from_json('{"tz":"2024-07-15T12:00:00"}', NULL::times) r;
SET timezone = 'UTC';

-- Missing fields and JSON null give NULL; unknown fields are skipped, however
-- nested up to the limit of 1000 levels for the whole payload (deeper is
-- malformed: see hostile_records); a repeated key's last value wins.
SELECT * FROM kafka.from_json('{"id": 7, "extra": {"deep": [[[{"x": "}"}]]], "more": [1, "]"]},
                               "customer": null, "id": 8}', NULL::orders);
SELECT (kafka.from_json('{"x":' || repeat('[', 999) || repeat(']', 999) || ', "id": 1}', NULL::orders)).id;
SELECT * FROM kafka.from_json('{}', NULL::orders);

-- Keys match exactly, else case-insensitively (ASCII) when only one column
-- fits; an exact match wins over a case-insensitive one in any order.
CREATE TYPE cased AS (orderid int, amount int, "Mixed" int, "Dup" int, "dup" int);
SELECT * FROM kafka.from_json('{"OrderId": 1, "AMOUNT": 2, "amount": 3, "Amount": 4, "mixed": 5, "DUP": 6}', NULL::cased);

-- NULL in, NULL out.
SELECT kafka.from_json(NULL::bytea, NULL::orders) IS NULL AS null_bytea,
       kafka.from_json(NULL::text, NULL::orders) IS NULL AS null_text;

-- Malformed payloads and values that do not fit: an ERROR naming the problem.
SELECT encode(payload, 'escape') AS payload, try_decode(payload, NULL::orders) FROM (VALUES
    (convert_to('{"id": 1, "amount": 2', 'UTF8')),
    (convert_to('{"id": 1,', 'UTF8')),
    (convert_to('', 'UTF8')),
    (convert_to('  ', 'UTF8')),
    (convert_to('[{"id": 1}]', 'UTF8')),
    (convert_to('"id"', 'UTF8')),
    (convert_to('42', 'UTF8')),
    (convert_to('{"id": 1} {"id": 2}', 'UTF8')),
    (convert_to('{"id": 1,}', 'UTF8')),
    (convert_to('{id: 1}', 'UTF8')),
    (convert_to('{"id" 1}', 'UTF8')),
    (convert_to('{"id": 01}', 'UTF8')),
    (convert_to('{"id": 1.}', 'UTF8')),
    (convert_to('{"id": tru}', 'UTF8')),
    (convert_to('{"customer": "a\qb"}', 'UTF8')),
    (convert_to('{"customer": "\ud800"}', 'UTF8')),
    (convert_to('{"customer": "\udc00x"}', 'UTF8')),
    (convert_to(E'{"customer": "tab\there"}', 'UTF8')),
    ('\x7b22637573746f6d6572223a20226fff227d'::bytea),
    ('\x7b22637573746f6d6572223a2022c0af227d'::bytea),
    ('\x7b22637573746f6d6572223a2022eda080227d'::bytea),
    ('\x7b22637573746f6d6572223a2022e282'::bytea),
    ('\x7b22657874726122ff3a20317d'::bytea),
    (convert_to('{"customer": "\u0000"}', 'UTF8')),
    (convert_to('{"id": {"a": 1}}', 'UTF8')),
    (convert_to('{"id": [1]}', 'UTF8')),
    (convert_to('{"id": "abc"}', 'UTF8')),
    (convert_to('{"id": 1.5}', 'UTF8')),
    (convert_to('{"id": true}', 'UTF8')),
    (convert_to('{"qty": 2147483648}', 'UTF8')),
    (convert_to('{"qty": -2147483649}', 'UTF8')),
    (convert_to('{"id": 99999999999999999999}', 'UTF8')),
    (convert_to('{"amount": "12,5"}', 'UTF8')),
    (convert_to('{"paid": "maybe"}', 'UTF8')),
    (convert_to('{"paid": 2}', 'UTF8'))) v(payload);

SELECT v, try_decode(convert_to(v, 'UTF8'), NULL::every_type) FROM (VALUES
    ('{"i2": 32768}'), ('{"n52": 999.995}'), ('{"n52": 999.994}'), ('{"vc": "abcdef"}'),
    ('{"vc": "abc     "}'), ('{"c": "abcde"}'), ('{"u": "not-a-uuid"}'), ('{"d": "2023-02-29"}'),
    ('{"ts": "2024-01-01T25:00:00"}'), ('{"tz": "yesterday-ish"}'), ('{"ia": [1, "x"]}'),
    ('{"ia": [[1, 2], [3]]}'), ('{"ia": [1, [2]]}'), ('{"ia": {"a": 1}}'), ('{"pt": {"x": "left"}}'),
    ('{"pt": [1, 2]}'), ('{"iv": "3 fortnights"}'), ('{"ip": "10.0.0.256"}'), ('{"jb": {"a": "\u0000"}}'),
    ('{"f8": 1e400}'), ('{"f4": 1e39}'), ('{"b": "yes please"}')) v(v);

-- The row type must be a composite type.
SELECT kafka.from_json('{"a": 1}', NULL::int);
SELECT kafka.from_json('{"a": 1}', NULL::record);

-- to_json: compact JSON as format json produces it; timestamptz in UTC
-- whatever the session time zone; NaN and infinities as strings.
SELECT kafka.to_json(ROW(1, 'c1', 2.50, NULL, true)::orders);
SET timezone = 'Asia/Tokyo';
SELECT kafka.to_json(r) FROM kafka.from_json(
'{"i2": 1, "i4": 2, "i8": 3, "f4": 0.1, "f8": 0.1, "n": "NaN", "n52": 1.5, "b": true,
  "t": "tab\tquote\"back\\slash\u0001", "vc": "x", "c": "y", "nm": "z",
  "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "d": "2024-01-02", "ts": "2024-01-02T03:04:05.678",
  "ts0": "2024-01-02T03:04:05", "tz": "2024-01-02T03:04:05+09:00", "j": {"a" : 1},
  "jb": {"b": [1, 2.50, "x", null]}, "ia": [1, null], "ta": [], "ma": [[1], [2]],
  "ja": [{"k": 1}], "pt": {"x": 1, "y": "-Infinity"}, "pts": [{"x": 1, "y": 2}],
  "iv": "1 day", "ip": "::1"}', NULL::every_type) r;
SELECT kafka.to_json(42) AS int, kafka.to_json('a"b'::text) AS text,
       kafka.to_json(ARRAY[[1, 2], [3, 4]]) AS matrix, kafka.to_json(ROW(1, 'x')) AS record,
       kafka.to_json(NULL::orders) IS NULL AS null_row;

-- Round trip: to_json then from_json gives the row back, in any time zone.
CREATE TABLE round_trip AS
SELECT ROW(g::smallint, g * 1000, g * 100000000000, g / 3.0::real, g / 7.0::float8, g / 3.0,
           (g % 100)::numeric(5,2), g % 2 = 0, 'text "' || g || E'"\n', 'v' || g % 100, 'c',
           'n' || g, md5(g::text)::uuid, DATE '2024-01-01' + g,
           TIMESTAMP '2024-01-01 00:00:00.5' + g * INTERVAL '1 hour 1.25 second',
           TIMESTAMP '2024-01-01' + g * INTERVAL '1 minute',
           TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * INTERVAL '90 minutes 0.001 second',
           json_build_object('g', g), jsonb_build_object('g', g, 'a', ARRAY[g, NULL]),
           ARRAY[g, NULL, -g], ARRAY['a', NULL, g::text], ARRAY[[g, 1], [2, 3]],
           ARRAY[jsonb_build_object('k', g)], ROW(g / 2.0, -g)::point2,
           ARRAY[ROW(g, NULL)::point2, NULL], g * INTERVAL '1 minute',
           ('10.0.0.' || g % 256)::inet)::every_type AS r
FROM generate_series(1, 1000) g;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE kafka.from_json(kafka.to_json(r), NULL::every_type)::text = r::text) AS same
FROM round_trip;
SET timezone = 'America/Los_Angeles';
SELECT count(*) FILTER (WHERE kafka.from_json(kafka.to_json(r), NULL::every_type)::text = r::text) AS same
FROM round_trip;
SET timezone = 'UTC';

-- Dates and timestamps take a short path for years 1 to 9999: the same text
-- as PostgreSQL's own JSON (in UTC), at every point of the range and past it.
SELECT count(*) AS values,
       count(*) FILTER (WHERE kafka.to_json(ROW(t, t::timestamp, t::date)::times)::text =
                              to_json(ROW(t, t::timestamp, t::date)::times)::text) AS same
FROM (SELECT generate_series(timestamptz '0001-01-01 00:00:00+00', timestamptz '9999-12-31 23:59:59+00',
                             interval '7777 days 3 hours 17 minutes 29.123457 seconds') AS t
      UNION ALL
      SELECT unnest(ARRAY['infinity', '-infinity', '0001-01-01 00:00:00+00',
                          '0001-12-31 23:59:59.999999+00 BC', '0044-03-15 12:00:00+00 BC',
                          '9999-12-31 23:59:59.999999+00', '10000-01-01 00:00:00+00',
                          '1999-12-31 23:59:59.99+00', '2000-01-01 00:00:00+00',
                          '1969-12-31 23:59:59.000001+00', '2024-02-29 12:00:00.5+00']::timestamptz[])) s;

-- numeric digits are read from the datum: the same text as numeric_out, for
-- values stored in a table (short headers) and computed ones.
CREATE TABLE numerics AS
SELECT (i * 7919 % 1000003)::numeric * 10::numeric ^ (i % 41 - 20) * (1 - 2 * (i % 2)) AS n
FROM generate_series(1, 5000) i
UNION ALL
SELECT unnest(ARRAY['NaN', 'Infinity', '-Infinity', '0', '0.000', '-12.50', '9999.9999',
                    '10000', '0.0001', '1e-1000', '1e1000',
                    '123456789012345678901234567890.123456789']::numeric[]);
SELECT count(*) AS values,
       count(*) FILTER (WHERE kafka.to_json(ROW(n)) = to_json(ROW(n))::text) AS stored_same,
       count(*) FILTER (WHERE kafka.to_json(ROW(n + 0)) = to_json(ROW(n + 0))::text) AS computed_same
FROM numerics;
SELECT kafka.to_json(ROW(n)) FROM unnest(ARRAY['NaN', '-Infinity', '-12.50', '0.0001']::numeric[]) n;

-- Confluent's JSON Schema serializer: magic byte 0 and a schema id before
-- the JSON text, skipped; a zero byte with less than a header is malformed.
SELECT try_decode('\x000000002a'::bytea || convert_to('{"id": 7, "paid": true}', 'UTF8'), NULL::orders);
SELECT try_decode('\x000000002a'::bytea, NULL::orders);
SELECT try_decode('\x0000'::bytea, NULL::orders);

SET client_min_messages = warning;
DROP SCHEMA codec_test CASCADE;
DROP EXTENSION kafka_fdw CASCADE;
