--
-- protobuf: format 'protobuf' and kafka.from_protobuf / kafka.to_protobuf,
-- with descriptor sets built by protoc from test/fixtures/protobuf at test
-- time.  Payloads written by an independent encoder are in the TAP test
-- (055_protobuf.pl); here: hand-written wire bytes, errors and options.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs,
       current_setting('kafka_fdw_test.protobuf_descriptors') AS pbdir \gset
SELECT :'pbdir' || '/shop.desc' AS shop_file, :'pbdir' || '/legacy.desc' AS legacy_file \gset
SELECT pg_read_binary_file(:'shop_file') AS shop,
       pg_read_binary_file(:'legacy_file') AS legacy \gset
CREATE SERVER pb_k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER pb_k;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

-- Error text with the fixture directory masked.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || replace(SQLERRM, current_setting('kafka_fdw_test.protobuf_descriptors'), 'DIR');
END $$;

-- Every scalar type (hand-written wire bytes): varints, zigzag, fixed32/64,
-- length-delimited; the extremes of each.
SELECT jsonb_pretty(kafka.from_protobuf(
  '\x09000000000000f83f150000803e18fbffffffffffffffff01208080808080808080800128ffffffff0f30ffffffffffffffffff0138ffffffff0f40feffffffffffffffff014d0700000051feffffffffffffff5df9ffffff61f8ffffffffffffff6801720668c3a96c6c6f7a0200ff',
  'shop.Scalars', :'shop'));
-- An empty message: nothing set; with emit.default.values proto3's zeros.
SELECT kafka.from_protobuf('\x', 'shop.Scalars', :'shop');
SELECT kafka.from_protobuf('\x', 'shop.Scalars', :'shop', '{"emit.default.values": true}'::jsonb);
-- Enums by name, by number with enums.as.ints, an unknown number as is.
SELECT kafka.from_protobuf('\x1802', 'shop.Order', :'shop'),
       kafka.from_protobuf('\x1802', 'shop.Order', :'shop', '{"enums.as.ints": "true"}'::jsonb),
       kafka.from_protobuf('\x1863', 'shop.Order', :'shop');
-- Packed (quantities) and unpacked (legacy_codes) repeated, a map, a oneof
-- whose last member set wins, a non-repeated field given twice (last wins),
-- an unknown field skipped.
SELECT kafka.from_protobuf('\x2a03010203300730084205 0a01611001 4205 0a01621002 4a0131 5201 32 0801 0802 f80601'::bytea,
  'shop.Order', :'shop');
-- Well-known types: Timestamp, Duration, wrappers (present but empty is the
-- zero), Struct, Value, ListValue, Any of a type the set defines.
SELECT kafka.from_protobuf(kafka.to_protobuf(
  '{"created": "2024-02-29T12:34:56.789Z", "ttl": "-1.5s", "priority": 0, "note": "n",
    "attributes": {"a": [1, "x", null, true], "b": {}}, "extra": null, "history": [2.5],
    "detail": {"@type": "type.googleapis.com/shop.Address", "city": "Oslo"}}'::jsonb,
  'shop.Order', :'shop'), 'shop.Order', :'shop');
-- proto2: defaults of absent optional fields with emit.default.values;
-- a group (deprecated) is skipped.
SELECT kafka.from_protobuf('\x0801', 'legacy.Item', :'legacy', '{"emit.default.values": true}'::jsonb);
SELECT kafka.from_protobuf('\x08013308013420022a020102', 'legacy.Item', :'legacy');
-- recursive.fields.max.depth: a type may appear that many times on a path.
SELECT kafka.from_protobuf('\x0a01611a050a01621a00', 'shop.Node', :'shop'),
       kafka.from_protobuf('\x0a01611a050a01621a00', 'shop.Node', :'shop', '{"recursive.fields.max.depth": 1}'::jsonb),
       kafka.from_protobuf('\x0a01611a050a01621a00', 'shop.Node', :'shop', '{"recursive.fields.max.depth": 2}'::jsonb);
SELECT kafka.from_protobuf(NULL, 'shop.Node', :'shop') IS NULL AS null_is_null;

-- Malformed payloads: FAILFAST (default) errors, PERMISSIVE gives NULL.
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x0a05', 'shop.Order', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x120561', 'shop.Order', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x08ffffffffffffffffffff01', 'shop.Order', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x0aff', 'shop.Order', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x0d01000000', 'shop.Order', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x1202ff00', 'shop.Order', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x0f', 'shop.Order', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x5a0408ffffff', 'shop.Order', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x5a0b0880808080808080808001', 'shop.Order', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x1a02', 'shop.Node', '$$ || :'shop'::text || $$')$$);
SELECT kafka.from_protobuf('\x0a05', 'shop.Order', :'shop', '{"mode": "PERMISSIVE"}'::jsonb) IS NULL AS permissive;
-- Deep nesting: n levels of Node.next (each length-prefixed).
CREATE FUNCTION pg_temp.ld(tag bytea, b bytea) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
  len int := length(b);
  v bytea := '\x';
BEGIN
  LOOP
    IF len < 128 THEN
      RETURN tag || v || set_byte('\x00', 0, len) || b;
    END IF;
    v := v || set_byte('\x00', 0, (len & 127) | 128);
    len := len >> 7;
  END LOOP;
END $$;
CREATE FUNCTION pg_temp.nest(n int, tag bytea DEFAULT '\x1a') RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
  b bytea := '\x';
BEGIN
  FOR i IN 1..n LOOP
    b := pg_temp.ld(tag, b);
  END LOOP;
  RETURN b;
END $$;
SELECT length(kafka.from_protobuf(pg_temp.nest(900), 'shop.Node', :'shop')::text) AS nested_900;
SELECT pg_temp.try(format('SELECT kafka.from_protobuf(%L::bytea, %L, %L::bytea)',
  pg_temp.nest(2000), 'shop.Node', :'shop'));
-- A descriptor set nesting message types (DescriptorProto.nested_type)
-- too deeply, a query's argument: refused before it is unpacked.
SELECT pg_temp.try(format('SELECT kafka.from_protobuf(%L::bytea, %L, %L::bytea)', '\x', 'x',
  pg_temp.ld('\x0a', pg_temp.ld('\x22', pg_temp.nest(50)))));
SELECT pg_temp.try(format('SELECT kafka.from_protobuf(%L::bytea, %L, %L::bytea)', '\x', 'x',
  pg_temp.ld('\x0a', pg_temp.ld('\x22', pg_temp.nest(5000)))));
-- ... and unknown groups nested past the limit.
SELECT pg_temp.try(format('SELECT kafka.from_protobuf(%L::bytea, %L, %L::bytea)',
  decode(repeat('7b', 5000), 'hex'), 'shop.Node', :'shop'));

-- Bad arguments.
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Nope', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Order', '\x0102')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Order', '\x0a03666f6f')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Order.CountsEntry', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Order', '$$ || :'shop'::text || $$', '{"bogus": 1}'::jsonb)$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Order', '$$ || :'shop'::text || $$', '{"mode": "LAX"}'::jsonb)$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Order', '$$ || :'shop'::text || $$', '{"recursive.fields.max.depth": 0}'::jsonb)$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Order', '$$ || :'shop'::text || $$', '{"emit.default.values": "maybe"}'::jsonb)$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Order', '$$ || :'shop'::text || $$', '[]'::jsonb)$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x', 'shop.Order', NULL::bytea)$$);

-- The typed form: fields into columns by name, nested messages into
-- composites, repeated into arrays, maps and Struct into jsonb.
CREATE TYPE pb_address AS (street text, city text, zip int);
CREATE TYPE pb_order AS (id bigint, customer text, status text, ship_to pb_address,
  quantities int[], legacy_codes bigint[], tags text[], counts jsonb, card text, iban text,
  created timestamptz, ttl interval, priority int, note text, attributes jsonb,
  detail jsonb, stops pb_address[], discount int, total numeric, not_a_field text);
SELECT kafka.to_protobuf(
  '{"id": 42, "customer": "Ann", "status": "PAID", "ship_to": {"street": "Main 1", "city": "Oslo", "zip": 1234},
    "quantities": [1, 2, 300], "legacy_codes": [7], "tags": ["a", "b"], "counts": {"x": 1},
    "card": "4111", "created": "2023-11-14T22:13:20.123Z", "ttl": "90.5s", "priority": 0,
    "note": "hi", "attributes": {"k": "v"}, "stops": [{"city": "A"}, {"city": "B"}],
    "discount": 0, "total": 12.5}'::jsonb, 'shop.Order', :'shop') AS order_bytes \gset
SELECT * FROM kafka.from_protobuf(:'order_bytes', NULL::pb_order, 'shop.Order', :'shop');
SELECT (kafka.from_protobuf('\x', NULL::pb_order, 'shop.Order', :'shop',
        '{"emit.default.values": true}'::jsonb)).*;
-- Enums into integer columns take the number; a field its column cannot
-- take is refused when the decoder is made.
CREATE TYPE pb_status AS (status int, customer int);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x1802', NULL::pb_status, 'shop.Order', '$$ || :'shop'::text || $$')$$);
CREATE TYPE pb_status_only AS (status smallint);
SELECT * FROM kafka.from_protobuf('\x1802', NULL::pb_status_only, 'shop.Order', :'shop');
CREATE TYPE pb_wide AS (f_uint64 bigint, f_int32 smallint);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x30ffffffffffffffffff01', NULL::pb_wide, 'shop.Scalars', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.from_protobuf('\x18ffff03', NULL::pb_wide, 'shop.Scalars', '$$ || :'shop'::text || $$')$$);
SELECT kafka.from_protobuf('\x18ffff03', NULL::pb_wide, 'shop.Scalars', :'shop',
  '{"mode": "PERMISSIVE"}'::jsonb) IS NULL AS permissive;

-- to_protobuf: a row's columns by name; NULL columns left out.
CREATE TYPE pb_addr_row AS (city text, zip bigint, street text);
SELECT encode(kafka.to_protobuf(ROW('Oslo', 1234, NULL)::pb_addr_row, 'shop.Address', :'shop'), 'hex');
SELECT kafka.from_protobuf(kafka.to_protobuf(ROW('Oslo', 1234, NULL)::pb_addr_row, 'shop.Address', :'shop'),
  'shop.Address', :'shop');
SELECT pg_temp.try($$SELECT kafka.to_protobuf(ROW(1)::pb_status_only, 'shop.Address', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.to_protobuf('{"nope": 1}'::jsonb, 'shop.Address', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.to_protobuf('{"zip": 5000000000}'::jsonb, 'shop.Address', '$$ || :'shop'::text || $$')$$);
SELECT pg_temp.try($$SELECT kafka.to_protobuf('{"status": "LOST"}'::jsonb, 'shop.Order', '$$ || :'shop'::text || $$')$$);

-- Foreign tables: options checked when set.
SELECT pg_temp.try(format($$CREATE FOREIGN TABLE pb_bad (id bigint) SERVER pb_k
  OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message 'shop.Nope', protobuf_descriptor_file %L)$$, :'shop_file'));
SELECT pg_temp.try($$CREATE FOREIGN TABLE pb_bad (id bigint) SERVER pb_k
  OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message 'shop.Order', protobuf_descriptor_file 'shop.desc')$$);
SELECT pg_temp.try(format($$CREATE FOREIGN TABLE pb_bad (id bigint) SERVER pb_k
  OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message 'shop.Order', protobuf_descriptor_file %L)$$, :'pbdir' || '/none.desc'));
SELECT pg_temp.try(format($$CREATE FOREIGN TABLE pb_bad (id bigint) SERVER pb_k
  OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message 'shop.Order', protobuf_descriptor_file %L)$$, :'pbdir' || '/../fixtures.conf'));
SELECT pg_temp.try($$CREATE FOREIGN TABLE pb_bad (id bigint) SERVER pb_k
  OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message '')$$);
-- Only superusers and pg_read_server_files members name a server file.
CREATE ROLE pb_user;
GRANT USAGE ON FOREIGN SERVER pb_k TO pb_user;
GRANT CREATE ON SCHEMA public TO pb_user;
SET ROLE pb_user;
SELECT pg_temp.try(format($$CREATE FOREIGN TABLE pb_bad (id bigint) SERVER pb_k
  OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message 'shop.Order', protobuf_descriptor_file %L)$$, :'shop_file'));
RESET ROLE;
GRANT pg_read_server_files TO pb_user;
SET ROLE pb_user;
SELECT pg_temp.try(format($$CREATE FOREIGN TABLE pb_allowed (id bigint) SERVER pb_k
  OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message 'shop.Order', protobuf_descriptor_file %L)$$, :'shop_file'));
DROP FOREIGN TABLE pb_allowed;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM pb_user;
DROP OWNED BY pb_user;
DROP ROLE pb_user;

-- INSERT produces Protobuf; SELECT decodes it, key and value.
CREATE FOREIGN TABLE pb_orders (
    id bigint, customer text, status text, ship_to pb_address, quantities int[],
    counts jsonb, created timestamptz, ttl interval, priority int, total float8,
    _key pb_address OPTIONS (kafka 'key'), _offset bigint OPTIONS (kafka 'offset'))
  SERVER pb_k OPTIONS (topic 'pb_orders', format 'protobuf', key_format 'protobuf',
    protobuf_message 'shop.Order', protobuf_key_message 'shop.Address',
    protobuf_descriptor_file :'shop_file');
INSERT INTO pb_orders (id, customer, status, ship_to, quantities, counts, created, ttl, priority, total, _key)
VALUES (1, 'Ann', 'PAID', ROW('Main 1', 'Oslo', 1234), ARRAY[1, 2], '{"a": 1}', '2024-01-01 10:00:00+00', '1 day 2 hours', 0, 9.75, ROW('k', 'K', 1)),
       (2, NULL, 'NEW', NULL, '{}', NULL, NULL, NULL, NULL, NULL, NULL),
       (3, 'Åsa', '3', NULL, ARRAY[-1], '{}', 'epoch', '-0.5 seconds', -7, -0.5, ROW(NULL, NULL, 0));
SELECT id, customer, status, ship_to, quantities, counts, created, ttl, priority, total, _key FROM pb_orders ORDER BY id;
SELECT * FROM (
  SELECT kafka.from_protobuf(value, 'shop.Order', :'shop') AS decoded,
         kafka.from_protobuf(key, 'shop.Address', :'shop') AS decoded_key
    FROM kafka.read_kafka(server => 'pb_k', subscribe => 'pb_orders')) r
  ORDER BY decoded->>'id';
-- Fields no column takes, in a kafka 'rescued' column (as JSON).
CREATE FOREIGN TABLE pb_rescued (id bigint, rest jsonb OPTIONS (kafka 'rescued'))
  SERVER pb_k OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message 'shop.Order',
    protobuf_descriptor_file :'shop_file');
SELECT id, rest FROM pb_rescued ORDER BY id;
DROP FOREIGN TABLE pb_rescued;
-- Under on_error 'null' a value its column cannot take is rescued (the
-- column NULL, the record not an error); otherwise the record fails.
CREATE FOREIGN TABLE pb_mistyped (id bigint, customer date, priority int,
    rest jsonb OPTIONS (kafka 'rescued'), error text OPTIONS (kafka 'error'))
  SERVER pb_k OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message 'shop.Order',
    protobuf_descriptor_file :'shop_file', on_error 'null');
SELECT id, customer, priority, rest -> 'customer' AS rescued_customer, error
  FROM pb_mistyped ORDER BY id;
ALTER FOREIGN TABLE pb_mistyped OPTIONS (SET on_error 'skip');
SELECT id, customer FROM pb_mistyped ORDER BY id;
DROP FOREIGN TABLE pb_mistyped;
-- A malformed record with on_error 'null' and 'skip'.
CREATE FOREIGN TABLE pb_raw (v bytea) SERVER pb_k OPTIONS (topic 'pb_orders', format 'raw');
INSERT INTO pb_raw VALUES ('\x0a05');
SELECT pg_temp.try('SELECT * FROM pb_orders');
ALTER FOREIGN TABLE pb_orders OPTIONS (ADD on_error 'null');
SELECT id, customer FROM pb_orders ORDER BY id NULLS LAST;
ALTER FOREIGN TABLE pb_orders OPTIONS (SET on_error 'skip');
SELECT count(*) FROM pb_orders;
-- A column type the message cannot fill is the table's mistake.
CREATE FOREIGN TABLE pb_wrong (customer int) SERVER pb_k
  OPTIONS (topic 'pb_orders', format 'protobuf', protobuf_message 'shop.Order',
    protobuf_descriptor_file :'shop_file');
SELECT pg_temp.try('SELECT * FROM pb_wrong');
-- Without a descriptor set: the schema registry, which this server lacks;
-- with one, the message type.
CREATE FOREIGN TABLE pb_none (id bigint) SERVER pb_k OPTIONS (topic 'pb_orders', format 'protobuf');
SELECT pg_temp.try('SELECT * FROM pb_none');
ALTER FOREIGN TABLE pb_none OPTIONS (ADD protobuf_descriptor_file :'shop_file');
SELECT pg_temp.try('SELECT * FROM pb_none');

-- Doubles into numeric: the shortest decimal that reads back as the
-- double, with its scale, as float8's text gives it (short decimals take a
-- path that does not write the text).
CREATE TYPE pb_dbl AS (f_double float8);
CREATE TYPE pb_num AS (f_double numeric);
SELECT count(*) AS doubles,
       count(*) FILTER (WHERE (kafka.from_protobuf(kafka.to_protobuf(ROW(d)::pb_dbl, 'shop.Scalars', :'shop'),
                                                   NULL::pb_num, 'shop.Scalars', :'shop')).f_double::text
                              IS DISTINCT FROM d::text::numeric::text) AS differ
FROM (SELECT unnest(ARRAY[0.1, 0.3, 1.5, -2.25, 123456.789, 1e-7, 5e-324, 1.7976931348623157e308,
                          99999999999999.9, 99999999999999.99, 1e14, 1e15, 12345678.12345678,
                          0.1 + 0.2, 4503599627370497]::float8[]) AS d
      UNION ALL SELECT g * 0.01 FROM generate_series(-5000, 5000) g
      UNION ALL SELECT 1.0::float8 / g FROM generate_series(1, 5000) g
      UNION ALL SELECT g * 1234.5678::float8 FROM generate_series(1, 3000) g
      UNION ALL SELECT (g * 7919 % 1000003) * 10::float8 ^ (g % 31 - 15) FROM generate_series(1, 5000) g) v;
DROP TYPE pb_dbl, pb_num;

DROP SERVER pb_k CASCADE;
DROP EXTENSION kafka_fdw;
