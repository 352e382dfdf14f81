#!/usr/bin/env bash
# run.sh — the same foreign-table scan over 1M Avro records (Confluent wire
# format, schema from the fixture Schema Registry) and over the same 1M
# records as JSON: Avro decode rows/s against JSON decode rows/s, same run.
#
# Starts its own loopback test broker, fixture Schema Registry and throwaway
# PostgreSQL server (as root it re-runs itself as the postgres user),
# produces MESSAGES (default 1000000) five-field records to topic bench_avro
# (Avro) and bench_json (JSON), lz4-compressed, over PARTITIONS (default 64)
# partitions so that each stays inside the test broker's ~5 MiB retention
# (checked), then times, RUNS times each (default 5, alternating so both see
# the same load):
#
#   avro: SELECT sum(amount), max(ts), count(type) FROM events_avro
#   json: SELECT sum(amount), max(ts), count(type) FROM events_json
#
# checks that both give the same answer, and prints medians and the ratio
# (target: Avro >= 1.0x JSON rows/s).  Not part of the test suite.
#
#   bash test/bench/avro/run.sh

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../harness/common.sh"
kt_drop_root "$here/run.sh" "$@"

messages=${MESSAGES:-1000000}
partitions=${PARTITIONS:-64}
runs=${RUNS:-5}
tmp=${KT_TMPDIR:-$(mktemp -d)}

kt_start_broker "$tmp/broker" --topic "bench_avro:$partitions" --topic "bench_json:$partitions"
kt_start_schema_registry "$tmp/schema_registry"
kt_start_postgres "$tmp/pgdata"
bs=$KAFKA_TEST_BOOTSTRAP
sr=$KAFKA_TEST_SCHEMA_REGISTRY_URL

echo "producing $messages Avro and $messages JSON records over $partitions partitions (lz4)..."
"$KT_PYTHON" "$KT_SRCDIR/test/fixtures/produce_avro.py" --bench "$messages" \
	--bootstrap "$bs" --registry "$sr" --topic bench_avro --json-topic bench_json \
	--partitions "$partitions"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION kafka_fdw;
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$sr');
CREATE FOREIGN TABLE events_avro (event_id bigint, user_id int, type text,
    amount numeric, ts timestamptz)
  SERVER k OPTIONS (topic 'bench_avro', format 'avro');
CREATE FOREIGN TABLE events_json (event_id bigint, user_id int, type text,
    amount numeric, ts timestamptz)
  SERVER k OPTIONS (topic 'bench_json', format 'json');
SQL
kt_check_topic k bench_avro "$messages"
kt_check_topic k bench_json "$messages"


avro_sql="SET timezone = 'UTC'; SELECT sum(amount), max(ts), count(type), sum(event_id) FROM events_avro"
json_sql="SET timezone = 'UTC'; SELECT sum(amount), max(ts), count(type), sum(event_id) FROM events_json"

avro_times=() json_times=()
for i in $(seq 1 "$runs"); do
	t0=$(kt_now)
	avro_answer=$(psql -X -qAt -c "$avro_sql")
	t1=$(kt_now)
	avro_times+=("$(echo "$t1 - $t0" | bc -l)")

	t0=$(kt_now)
	json_answer=$(psql -X -qAt -c "$json_sql")
	t1=$(kt_now)
	json_times+=("$(echo "$t1 - $t0" | bc -l)")
	[ "$avro_answer" = "$json_answer" ] ||
		kt_die "answers differ: avro $avro_answer, json $json_answer"
	printf 'run %d: avro %.3f s, json %.3f s (%s)\n' \
		"$i" "${avro_times[-1]}" "${json_times[-1]}" "$avro_answer"
done

avro=$(printf '%s\n' "${avro_times[@]}" | kt_median)
json=$(printf '%s\n' "${json_times[@]}" | kt_median)
printf '\nmedian of %d runs, %d records over %d partitions, same foreign-table scan:\n' \
	"$runs" "$messages" "$partitions"
printf '  format avro (Confluent, registry)   %.3f s  %10.0f rows/s\n' "$avro" "$(echo "$messages / $avro" | bc -l)"
printf '  format json                         %.3f s  %10.0f rows/s\n' "$json" "$(echo "$messages / $json" | bc -l)"
printf '  ratio avro rows/s / json rows/s: %.2fx\n' "$(echo "$json / $avro" | bc -l)"
