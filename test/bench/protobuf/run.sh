#!/usr/bin/env bash
# run.sh — the same foreign-table scan over 1M Protobuf records (plain
# Protobuf, descriptor set built by protoc from bench.proto) and over the
# same 1M records as JSON: Protobuf decode rows/s against JSON decode
# rows/s, same run.
#
# Starts its own loopback test broker and throwaway PostgreSQL server (as
# root it re-runs itself as the postgres user), produces MESSAGES (default
# 1000000) five-field records to topic bench_protobuf (Protobuf, written by
# test/fixtures/produce_protobuf.py and checked against python3-protobuf)
# and bench_json (JSON), lz4-compressed, over PARTITIONS (default 64)
# partitions, then times, RUNS times each (default 3, alternating so both
# see the same load):
#
#   protobuf: SELECT sum(amount), max(ts), count(type), sum(event_id) FROM events_protobuf
#   json:     SELECT sum(amount), max(ts), count(type), sum(event_id) FROM events_json
#
# checks that both give the same answer, and prints medians and the ratio
# (acceptance: Protobuf >= 1.0x JSON rows/s, goal 1.3x).  Not part of the
# test suite.
#
#   bash test/bench/protobuf/run.sh

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../harness/common.sh"
kt_drop_root "$here/run.sh" "$@"

messages=${MESSAGES:-1000000}
partitions=${PARTITIONS:-64}
runs=${RUNS:-3}
tmp=${KT_TMPDIR:-$(mktemp -d)}

kt_start_broker "$tmp/broker" --topic "bench_protobuf:$partitions" --topic "bench_json:$partitions"
kt_start_postgres "$tmp/pgdata"
bs=$KAFKA_TEST_BOOTSTRAP

mkdir -p "$tmp/desc"
protoc -I"$here" --include_imports --descriptor_set_out="$tmp/desc/bench.desc" "$here/bench.proto"

echo "producing $messages Protobuf and $messages JSON records over $partitions partitions (lz4)..."
"$KT_PYTHON" "$KT_SRCDIR/test/fixtures/produce_protobuf.py" bench --count "$messages" \
	--bootstrap "$bs" --topic bench_protobuf --json-topic bench_json \
	--partitions "$partitions" --descriptors "$tmp/desc"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION kafka_fdw;
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
CREATE FOREIGN TABLE events_protobuf (event_id bigint, user_id int, type text,
    amount numeric, ts timestamptz)
  SERVER k OPTIONS (topic 'bench_protobuf', format 'protobuf',
    protobuf_message 'bench.Event', protobuf_descriptor_file '$tmp/desc/bench.desc');
CREATE FOREIGN TABLE events_json (event_id bigint, user_id int, type text,
    amount numeric, ts timestamptz)
  SERVER k OPTIONS (topic 'bench_json', format 'json');
SQL
kt_check_topic k bench_protobuf "$messages"
kt_check_topic k bench_json "$messages"

pb_sql="SET timezone = 'UTC'; SELECT sum(amount), max(ts), count(type), sum(event_id) FROM events_protobuf"
json_sql="SET timezone = 'UTC'; SELECT sum(amount), max(ts), count(type), sum(event_id) FROM events_json"

pb_times=() json_times=()
for i in $(seq 1 "$runs"); do
	t0=$(kt_now)
	pb_answer=$(psql -X -qAt -c "$pb_sql")
	t1=$(kt_now)
	pb_times+=("$(echo "$t1 - $t0" | bc -l)")

	t0=$(kt_now)
	json_answer=$(psql -X -qAt -c "$json_sql")
	t1=$(kt_now)
	json_times+=("$(echo "$t1 - $t0" | bc -l)")
	[ "$pb_answer" = "$json_answer" ] ||
		kt_die "answers differ: protobuf $pb_answer, json $json_answer"
	printf 'run %d: protobuf %.3f s, json %.3f s (%s)\n' \
		"$i" "${pb_times[-1]}" "${json_times[-1]}" "$pb_answer"
done

pb=$(printf '%s\n' "${pb_times[@]}" | kt_median)
json=$(printf '%s\n' "${json_times[@]}" | kt_median)
printf '\nmedian of %d runs, %d records over %d partitions, same foreign-table scan:\n' \
	"$runs" "$messages" "$partitions"
printf '  format protobuf (descriptor set)    %.3f s  %10.0f rows/s\n' "$pb" "$(echo "$messages / $pb" | bc -l)"
printf '  format json                         %.3f s  %10.0f rows/s\n' "$json" "$(echo "$messages / $json" | bc -l)"
printf '  ratio protobuf rows/s / json rows/s: %.2fx\n' "$(echo "$json / $pb" | bc -l)"
