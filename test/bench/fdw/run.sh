#!/usr/bin/env bash
# run.sh — SELECT sum(amount) over a kafka foreign table (typed JSON decoding
# in the scan) against the same sum through read_kafka and
# json_populate_record, same topic, same run.
#
# Starts its own loopback test broker and throwaway PostgreSQL server (as
# root it re-runs itself as the postgres user), produces MESSAGES (default
# 1000000) five-field JSON records, lz4-compressed, over PARTITIONS (default
# 64) partitions so that each stays inside the test broker's ~5 MiB
# retention (checked: every low watermark must be 0), then times, RUNS times
# each (default 5, alternating so both see the same load):
#
#   foreign table: SELECT sum(amount) FROM orders_topic
#   read_kafka:    SELECT sum((json_populate_record(NULL::t,
#                      convert_from(value, 'UTF8')::json)).amount)
#                  FROM kafka.read_kafka(server => 'k', subscribe => 'bench')
#
# checks that both sums are equal, and prints medians and the ratio.  Not
# part of the test suite.
#
#   bash test/bench/fdw/run.sh

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../harness/common.sh"
kt_drop_root "$here/run.sh" "$@"

messages=${MESSAGES:-1000000}
partitions=${PARTITIONS:-64}
runs=${RUNS:-5}
tmp=${KT_TMPDIR:-$(mktemp -d)}

kt_start_broker "$tmp/broker" --topic "bench:$partitions"
kt_start_postgres "$tmp/pgdata"
bs=$KAFKA_TEST_BOOTSTRAP

echo "producing $messages JSON records over $partitions partitions (lz4)..."
"$KT_PYTHON" "$KAFKA_TEST_PRODUCE" --bootstrap "$bs" --topic bench --count "$messages" \
	--partitions "$partitions" --compression lz4 --json --quiet

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION kafka_fdw;
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
CREATE FOREIGN TABLE orders_topic (event_id bigint, user_id int, type text,
    amount numeric, ts timestamptz)
  SERVER k OPTIONS (topic 'bench', format 'json');
CREATE TYPE t AS (event_id bigint, user_id int, type text, amount numeric, ts timestamptz);
SQL
kt_check_topic k bench "$messages"


fdw_sql="SELECT sum(amount) FROM orders_topic"
base_sql="SELECT sum((json_populate_record(NULL::t, convert_from(value, 'UTF8')::json)).amount) FROM kafka.read_kafka(server => 'k', subscribe => 'bench')"

fdw_times=() base_times=()
for i in $(seq 1 "$runs"); do
	t0=$(kt_now)
	fdw_sum=$(psql -X -qAt -c "$fdw_sql")
	t1=$(kt_now)
	fdw_times+=("$(echo "$t1 - $t0" | bc -l)")

	t0=$(kt_now)
	base_sum=$(psql -X -qAt -c "$base_sql")
	t1=$(kt_now)
	base_times+=("$(echo "$t1 - $t0" | bc -l)")
	[ "$fdw_sum" = "$base_sum" ] || kt_die "sums differ: foreign table $fdw_sum, read_kafka $base_sum"
	printf 'run %d: foreign table %.3f s, read_kafka + json_populate_record %.3f s (sum %s)\n' \
		"$i" "${fdw_times[-1]}" "${base_times[-1]}" "$fdw_sum"
done

fdw=$(printf '%s\n' "${fdw_times[@]}" | kt_median)
base=$(printf '%s\n' "${base_times[@]}" | kt_median)
printf '\nmedian of %d runs, %d JSON records over %d partitions:\n' "$runs" "$messages" "$partitions"
printf '  foreign table                          %.3f s  %10.0f rows/s\n' "$fdw" "$(echo "$messages / $fdw" | bc -l)"
printf '  read_kafka + json_populate_record      %.3f s  %10.0f rows/s\n' "$base" "$(echo "$messages / $base" | bc -l)"
printf '  ratio (read_kafka + json_populate_record) / foreign table: %.2fx\n' "$(echo "$base / $fdw" | bc -l)"
