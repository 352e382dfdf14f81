-- Helper for the Delta export tests: a table's rows as JSON, every value in
-- the canonical text form test/verify/delta_verify.mjs compares against
-- (exact integers and decimals, days and microseconds since 1970, hex for
-- binary, the type's own text form for everything exported as a string).
CREATE FUNCTION pg_temp.delta_expected_rows(rel regclass, order_by text)
RETURNS json
LANGUAGE plpgsql AS $fn$
DECLARE
    columns text[] := '{}';
    expressions text[] := '{}';
    attribute record;
    result json;
BEGIN
    FOR attribute IN
        SELECT a.attname,
               coalesce(nullif(t.typbasetype, 0), t.oid)::regtype::text AS type_name,
               bt.typcategory,
               bt.typtype
          FROM pg_attribute a
          JOIN pg_type t ON t.oid = a.atttypid
          JOIN pg_type bt ON bt.oid = coalesce(nullif(t.typbasetype, 0), t.oid)
         WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum
    LOOP
        columns := columns || attribute.attname::text;
        expressions := expressions || (format('CASE WHEN num_nulls(%I) = 1 THEN NULL ELSE ', attribute.attname) || CASE
            WHEN attribute.type_name = 'boolean' THEN format('%I::text', attribute.attname)
            WHEN attribute.type_name = 'bytea' THEN format('encode(%I, ''hex'')', attribute.attname)
            WHEN attribute.type_name = 'date' THEN format('(%I - date ''1970-01-01'')::text', attribute.attname)
            WHEN attribute.type_name IN ('timestamp without time zone', 'timestamp with time zone')
                THEN format('(extract(epoch from %I) * 1000000)::numeric(40,0)::text', attribute.attname)
            WHEN attribute.typcategory = 'A' THEN format('array_to_json(%I)::text', attribute.attname)
            WHEN attribute.typtype = 'c' THEN format('row_to_json(%I)::text', attribute.attname)
            ELSE format('format(''%%s'', %I)', attribute.attname)
        END || ' END');
    END LOOP;
    EXECUTE format('SELECT json_build_object(''columns'', %L::text[], ''rows'', coalesce(json_agg(json_build_array(%s) ORDER BY %s), ''[]''::json)) FROM %s',
                   columns, array_to_string(expressions, ', '), order_by, rel)
       INTO result;
    RETURN result;
END
$fn$;
