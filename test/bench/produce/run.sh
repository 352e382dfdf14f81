#!/usr/bin/env bash
# run.sh — INSERT into a kafka foreign table against kcat -P, same messages,
# same run.
#
# Starts its own loopback test broker and throwaway PostgreSQL server (as
# root it re-runs itself as the postgres user).  Each run produces MESSAGES
# (default 1000000) JSON orders over PARTITIONS (default 32) partitions of a
# fresh topic, lz4-compressed and with the idempotent producer on both sides:
#
#   INSERT:  BEGIN; INSERT INTO orders_topic SELECT ... FROM
#            generate_series(1, N); COMMIT (the time includes the COMMIT that
#            delivers them; the statement and the COMMIT are also shown apart)
#   kcat:    kcat -P -K '\t' -z lz4 -X enable.idempotence=true < the same
#            key<TAB>value lines, written once beforehand by kafka.to_json
#
# RUNS times each (default 5), which one goes first alternating, checks that
# every topic received exactly N messages, and prints medians, rows/s and the
# ratio.  For scale it also times the same rows generated alone and inserted
# into an unlogged PostgreSQL table.  Not part of the test suite.
#
#   bash test/bench/produce/run.sh

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../harness/common.sh"
kt_drop_root "$here/run.sh" "$@"

messages=${MESSAGES:-1000000}
partitions=${PARTITIONS:-32}
runs=${RUNS:-5}
tmp=${KT_TMPDIR:-$(mktemp -d)}

kt_start_broker "$tmp/broker"
kt_start_postgres "$tmp/pgdata"
bs=$KAFKA_TEST_BOOTSTRAP

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION kafka_fdw;
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers '$bs', "kafka.compression.type" 'lz4');
CREATE TYPE order_row AS (order_id bigint, customer text, amount numeric, ts timestamptz);
SQL

rows_sql="SELECT i, 'customer-' || (i % 1000), (i % 100000) / 100.0,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', 'order-' || i
FROM generate_series(1, $messages) i"

# the same messages as key<TAB>value lines for kcat
psql -X -qAt -v ON_ERROR_STOP=1 -F $'\t' -o "$tmp/orders.tsv" -c \
	"SELECT key, kafka.to_json(ROW(order_id, customer, amount, ts)::order_row)
	 FROM ($rows_sql) s(order_id, customer, amount, ts, key)"
[ "$(wc -l <"$tmp/orders.tsv")" = "$messages" ] || kt_die "could not write the kcat input"

count_topic() {
	kcat -C -b "$bs" -t "$1" -e -q -o beginning -f '\n' | wc -l
}


# For scale, not in the ratio: the same rows generated and thrown away, and
# inserted into an unlogged PostgreSQL table (psql's \timing, median).
psql -X -q -v ON_ERROR_STOP=1 -c \
	"CREATE UNLOGGED TABLE orders_local (order_id bigint, customer text, amount numeric, ts timestamptz, _key text)"
gen_times=() local_times=()
for i in $(seq 1 "$runs"); do
	timings=$(psql -X -q -v ON_ERROR_STOP=1 <<SQL
\\timing on
SELECT count(*) FROM ($rows_sql OFFSET 0) s(a, b, c, d, e)
 WHERE a IS NOT NULL AND b IS NOT NULL AND c IS NOT NULL AND d IS NOT NULL AND e IS NOT NULL;
INSERT INTO orders_local $rows_sql;
SQL
)
	gen_times+=("$(grep -o 'Time: [0-9.]*' <<<"$timings" | sed -n 1p | cut -d' ' -f2)")
	local_times+=("$(grep -o 'Time: [0-9.]*' <<<"$timings" | sed -n 2p | cut -d' ' -f2)")
	psql -X -q -c "TRUNCATE orders_local"
done

fdw_times=() kcat_times=() stmt_times=() commit_times=()

run_insert() {
	local t0 t1 timings
	t0=$(kt_now)
	timings=$(psql -X -q -v ON_ERROR_STOP=1 <<SQL
\\timing on
BEGIN;
INSERT INTO orders_$1 $rows_sql;
COMMIT;
SQL
)
	t1=$(kt_now)
	fdw_times+=("$(echo "$t1 - $t0" | bc -l)")
	# psql's own timings: the INSERT statement, then the COMMIT that delivers
	insert_ms=$(grep -o 'Time: [0-9.]*' <<<"$timings" | sed -n 2p | cut -d' ' -f2)
	commit_ms=$(grep -o 'Time: [0-9.]*' <<<"$timings" | sed -n 3p | cut -d' ' -f2)
	stmt_times+=("$insert_ms") commit_times+=("$commit_ms")
}

run_kcat() {
	local t0 t1
	t0=$(kt_now)
	kcat -P -b "$bs" -t "kcat_$1" -K $'\t' -z lz4 -X enable.idempotence=true <"$tmp/orders.tsv"
	t1=$(kt_now)
	kcat_times+=("$(echo "$t1 - $t0" | bc -l)")
}

for i in $(seq 1 "$runs"); do
	kt_create_topic "fdw_$i" "$partitions"
	kt_create_topic "kcat_$i" "$partitions"
	psql -X -q -v ON_ERROR_STOP=1 -c "CREATE FOREIGN TABLE orders_$i (
	    order_id bigint, customer text, amount numeric, ts timestamptz,
	    _key text OPTIONS (kafka 'key'))
	  SERVER k OPTIONS (topic 'fdw_$i', format 'json')"

	# who goes first alternates from run to run
	if [ $((i % 2)) = 1 ]; then
		run_insert "$i"
		run_kcat "$i"
	else
		run_kcat "$i"
		run_insert "$i"
	fi

	n=$(count_topic "fdw_$i")
	[ "$n" = "$messages" ] || kt_die "INSERT delivered $n messages, not $messages"
	n=$(count_topic "kcat_$i")
	[ "$n" = "$messages" ] || kt_die "kcat delivered $n messages, not $messages"
	printf 'run %d: INSERT %.3f s (statement %.0f ms + COMMIT %.0f ms), kcat -P %.3f s (both delivered %d)\n' \
		"$i" "${fdw_times[-1]}" "$insert_ms" "$commit_ms" "${kcat_times[-1]}" "$messages"
done

fdw=$(printf '%s\n' "${fdw_times[@]}" | kt_median)
kc=$(printf '%s\n' "${kcat_times[@]}" | kt_median)
printf '\nmedian of %d runs, %d messages over %d partitions (lz4, idempotent):\n' "$runs" "$messages" "$partitions"
printf '  INSERT ... SELECT (with COMMIT)  %.3f s  %10.0f rows/s\n' "$fdw" "$(echo "$messages / $fdw" | bc -l)"
printf '    of which the statement         %.3f s  (rows generated and encoded, held)\n' \
	"$(printf '%s\n' "${stmt_times[@]}" | kt_median | awk '{print $1 / 1000}')"
printf '    of which the COMMIT            %.3f s  (delivered and acknowledged)\n' \
	"$(printf '%s\n' "${commit_times[@]}" | kt_median | awk '{print $1 / 1000}')"
printf '  kcat -P                          %.3f s  %10.0f rows/s\n' "$kc" "$(echo "$messages / $kc" | bc -l)"
printf '  for scale: generating the rows   %.3f s;  INSERT into an unlogged table %.3f s\n' \
	"$(printf '%s\n' "${gen_times[@]}" | kt_median | awk '{print $1 / 1000}')" \
	"$(printf '%s\n' "${local_times[@]}" | kt_median | awk '{print $1 / 1000}')"
printf '  ratio INSERT / kcat: %.2fx\n' "$(echo "$kc / $fdw" | bc -l)"
# the same ratio run by run: kcat's own speed moves the most between runs
ratios=()
for i in "${!fdw_times[@]}"; do
	ratios+=("$(printf '%.2f' "$(echo "${kcat_times[i]} / ${fdw_times[i]}" | bc -l)")")
done
printf '  run by run: %s (lowest %s)\n' "${ratios[*]}" "$(printf '%s\n' "${ratios[@]}" | sort -n | head -1)"
