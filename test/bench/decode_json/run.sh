#!/usr/bin/env bash
# run.sh — decoding speed of kafka.from_json against PostgreSQL's own
# json_populate_record, on the same payloads in the same session.
#
# Runs against the server the usual libpq variables name (PGHOST, PGPORT,
# PGDATABASE, PGUSER) with kafka_fdw installed; creates the extension if the
# database lacks it (that needs a superuser) and leaves nothing behind but
# the extension: everything else is temporary.
#
# It generates ROWS (default 1000000) five-field JSON payloads as bytea,
# the way read_kafka returns values, then times, RUNS times each (default 3)
# and alternating so both see the same machine load:
#
#   from_json:  sum((kafka.from_json(value, NULL::t)).amount)
#   baseline:   sum((json_populate_record(NULL::t,
#                        convert_from(value, 'UTF8')::json)).amount)
#
# and prints the median time of each and their ratio.  Parallel query and
# JIT are off so both run as one plain backend.  Not part of the test suite.

set -euo pipefail

rows=${ROWS:-1000000}
runs=${RUNS:-3}

psql -X -q -v ON_ERROR_STOP=1 -v rows="$rows" -v runs="$runs" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS kafka_fdw;
RESET client_min_messages;
SET max_parallel_workers_per_gather = 0;
SET jit = off;
SELECT set_config('bench.runs', :'runs', false) \gset

CREATE TYPE pg_temp.bench_order AS
    (id bigint, customer text, amount numeric, ts timestamptz, paid boolean);

CREATE TEMP TABLE bench_payloads AS
SELECT convert_to(format('{"id":%s,"customer":"customer-%s","amount":%s,"ts":"2024-05-01T12:%s:%s.%sZ","paid":%s}',
                         g, g % 1000, g * 1.5, lpad((g / 60 % 60)::text, 2, '0'),
                         lpad((g % 60)::text, 2, '0'), g % 1000, (g % 2 = 0)::text), 'UTF8') AS value
FROM generate_series(1, :rows) g;
VACUUM ANALYZE bench_payloads;

CREATE FUNCTION pg_temp.elapsed_ms(query text, OUT ms float8, OUT result numeric)
LANGUAGE plpgsql AS $$
DECLARE
  started timestamptz := clock_timestamp();
BEGIN
  EXECUTE query INTO result;
  ms := extract(epoch FROM clock_timestamp() - started) * 1000;
END $$;

CREATE TEMP TABLE bench_times (method text, run int, ms float8, result numeric);

DO $$
DECLARE
  queries CONSTANT text[][] := ARRAY[
    ['from_json', 'SELECT sum((kafka.from_json(value, NULL::pg_temp.bench_order)).amount) FROM bench_payloads'],
    ['json_populate_record', 'SELECT sum((json_populate_record(NULL::pg_temp.bench_order, convert_from(value, ''UTF8'')::json)).amount) FROM bench_payloads']];
  runs int := current_setting('bench.runs')::int;
  timing record;
BEGIN
  -- a warm-up of each, not counted: caches, the decoder's first allocations
  FOR q IN 1 .. 2 LOOP
    PERFORM pg_temp.elapsed_ms(queries[q][2]);
  END LOOP;
  FOR r IN 1 .. runs LOOP
    FOR q IN 1 .. 2 LOOP
      timing := pg_temp.elapsed_ms(queries[q][2]);
      INSERT INTO bench_times VALUES (queries[q][1], r, timing.ms, timing.result);
    END LOOP;
  END LOOP;
END $$;

SELECT method, count(*) AS runs,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS median_ms,
       round((SELECT count(*) FROM bench_payloads) /
             (percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) / 1000))::bigint AS rows_per_s,
       min(result) = max(result) AS same_sum_every_run
FROM bench_times GROUP BY method ORDER BY median_ms;

SELECT CASE WHEN count(DISTINCT result) = 1 THEN 'yes' ELSE 'NO' END AS both_sums_equal,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE method = 'json_populate_record') /
              percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE method = 'from_json'))::numeric, 2)
         AS speedup_over_json_populate_record
FROM bench_times;
SQL
