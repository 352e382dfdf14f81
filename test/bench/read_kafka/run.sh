#!/usr/bin/env bash
# run.sh — read_kafka throughput against kcat, same topic, same run.
#
# Starts its own loopback test broker and throwaway PostgreSQL server (as
# root it re-runs itself as the postgres user), produces MESSAGES (default
# 1000000) records of about 80 bytes, lz4-compressed, over PARTITIONS
# (default 32) partitions so that each stays well inside the test broker's
# ~5 MiB retention (checked: every low watermark must be 0), then times,
# RUNS times each (default 5, alternating so both see the same load):
#
#   read_kafka: SELECT count(*), sum(length(value)) FROM kafka.read_kafka(...)
#   kcat:       kcat -C -e -q -o beginning  (to /dev/null)
#
# and prints medians, rows/s and the ratio.  Not part of the test suite.
#
#   bash test/bench/read_kafka/run.sh

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../harness/common.sh"
kt_drop_root "$here/run.sh" "$@"

messages=${MESSAGES:-1000000}
partitions=${PARTITIONS:-32}
runs=${RUNS:-5}
tmp=${KT_TMPDIR:-$(mktemp -d)}

kt_start_broker "$tmp/broker" --topic "bench:$partitions"
kt_start_postgres "$tmp/pgdata"
bs=$KAFKA_TEST_BOOTSTRAP

echo "producing $messages records over $partitions partitions (lz4)..."
"$KT_PYTHON" "$KAFKA_TEST_PRODUCE" --bootstrap "$bs" --topic bench --count "$messages" \
	--partitions "$partitions" --compression lz4 --value-size 80 --quiet

psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION kafka_fdw" \
	-c "CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs')"
kt_check_topic k bench "$messages"


fdw_times=() kcat_times=()
for i in $(seq 1 "$runs"); do
	t0=$(kt_now)
	out=$(psql -X -qAt -c "SELECT count(*), sum(length(value)) FROM kafka.read_kafka(server => 'k', subscribe => 'bench')")
	t1=$(kt_now)
	[ "$out" = "$messages|$((messages * 80))" ] || kt_die "read_kafka returned $out"
	fdw_times+=("$(echo "$t1 - $t0" | bc -l)")

	t0=$(kt_now)
	n=$(kcat -C -b "$bs" -t bench -e -q -o beginning -f '%o\n' | wc -l)
	t1=$(kt_now)
	[ "$n" = "$messages" ] || kt_die "kcat returned $n records"
	kcat_times+=("$(echo "$t1 - $t0" | bc -l)")
	printf 'run %d: read_kafka %.3f s, kcat %.3f s\n' "$i" "${fdw_times[-1]}" "${kcat_times[-1]}"
done

fdw=$(printf '%s\n' "${fdw_times[@]}" | kt_median)
kc=$(printf '%s\n' "${kcat_times[@]}" | kt_median)
printf '\nmedian of %d runs, %d records over %d partitions:\n' "$runs" "$messages" "$partitions"
printf '  read_kafka  %.3f s  %10.0f rows/s\n' "$fdw" "$(echo "$messages / $fdw" | bc -l)"
printf '  kcat -C -e  %.3f s  %10.0f rows/s\n' "$kc" "$(echo "$messages / $kc" | bc -l)"
printf '  ratio read_kafka / kcat: %.2fx\n' "$(echo "$kc / $fdw" | bc -l)"
