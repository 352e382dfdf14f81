#!/usr/bin/env bash
# run.sh — streaming-table ingest throughput, memory and latency.
#
# Starts its own loopback test broker and throwaway PostgreSQL server (as
# root it re-runs itself as the postgres user), produces MESSAGES (default
# 1000000) JSON events of 5 fields, lz4-compressed, over PARTITIONS (default
# 32) partitions (each within the broker's ~5 MiB retention: checked), then
# times, RUNS times each (default 3, alternating, same table shape):
#
#   refresh: CALL kafka.refresh_streaming_table(...) into a typed table
#            (offsets reset to earliest and the table truncated each run)
#   copy:    COPY FROM a file holding the same typed rows (the baseline)
#   kcat:    kcat -C -e ... | psql -c 'COPY raw (doc) FROM STDIN' into jsonb
#
# and prints medians, rows/s and the ratios (acceptance: refresh >= 0.5x
# copy, >= 2x kcat).  It also samples the refreshing backend's RssAnon with
# the whole backlog waiting (acceptance: growth < 128 MiB), and measures a
# continuous stream's latency from produce to visible (commit timestamp) at
# RATE (default 1000) msg/s for LATENCY_SECONDS (default 15): median / p95.
# Not part of the test suite.
#
#   bash test/bench/ingest/run.sh

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../harness/common.sh"
kt_drop_root "$here/run.sh" "$@"

messages=${MESSAGES:-1000000}
partitions=${PARTITIONS:-32}
runs=${RUNS:-3}
rate=${RATE:-1000}
latency_seconds=${LATENCY_SECONDS:-15}
tmp=${KT_TMPDIR:-$(mktemp -d)}

kt_start_broker "$tmp/broker" --topic "bench:$partitions" --topic "latency:1"
kt_start_postgres "$tmp/pgdata" "track_commit_timestamp = on" "max_wal_size = '4GB'" \
	"shared_buffers = '256MB'"
bs=$KAFKA_TEST_BOOTSTRAP

echo "producing $messages JSON events over $partitions partitions (lz4)..."
"$KT_PYTHON" "$KAFKA_TEST_PRODUCE" --bootstrap "$bs" --topic bench --count "$messages" \
	--partitions "$partitions" --compression lz4 --json --quiet

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION kafka_fdw;
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER k;
CREATE FOREIGN TABLE bench_topic (event_id bigint, user_id int, type text, amount numeric,
    ts timestamptz, _partition int OPTIONS (kafka 'partition'),
    _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'bench', format 'json');
CREATE TABLE events (event_id bigint, user_id int, type text, amount numeric,
    ts timestamptz, _partition int, _offset bigint);
CREATE TABLE events_copy (LIKE events);
CREATE TABLE raw (doc jsonb);
SELECT kafka.create_streaming_table('events', source => 'bench_topic',
  trigger => 'available_now');
SQL
kt_check_topic k bench

rss_anon() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

copy_file="$tmp/events.copy"
refresh_times=() copy_times=() kcat_times=() rss_growth=()
for i in $(seq 1 "$runs"); do
	psql -X -q -c "TRUNCATE events" -c "SELECT kafka.reset_offsets('events', 'earliest')" >/dev/null
	psql -X -q -c CHECKPOINT
	# refresh, sampling the backend's anonymous memory while it works
	t0=$(kt_now)
	PGAPPNAME=bench_refresh psql -X -qAt -c "CALL kafka.refresh_streaming_table('events')" \
		>"$tmp/refresh.out" 2>&1 &
	psql_pid=$!
	pid=
	while [ -z "$pid" ] && kill -0 "$psql_pid" 2>/dev/null; do
		pid=$(psql -X -qAt -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_refresh'")
	done
	base=$( [ -n "$pid" ] && rss_anon "$pid" || echo 0) peak=$base
	while kill -0 "$psql_pid" 2>/dev/null; do
		r=$(rss_anon "$pid"); [ "${r:-0}" -gt "$peak" ] && peak=$r
		sleep 0.05
	done
	wait "$psql_pid" || { cat "$tmp/refresh.out"; kt_die "refresh failed"; }
	t1=$(kt_now)
	out=$(psql -X -qAt -c "SELECT count(*), count(DISTINCT (_partition, _offset)) FROM events")
	[ "$out" = "$messages|$messages" ] || kt_die "refresh loaded $out"
	refresh_times+=("$(echo "$t1 - $t0" | bc -l)")
	rss_growth+=("$(( (peak - base) / 1024 ))")

	[ -f "$copy_file" ] || psql -X -q -c "COPY events TO '$copy_file'"
	psql -X -q -c "TRUNCATE events_copy" -c CHECKPOINT
	t0=$(kt_now)
	psql -X -q -c "COPY events_copy FROM '$copy_file'"
	t1=$(kt_now)
	copy_times+=("$(echo "$t1 - $t0" | bc -l)")

	psql -X -q -c "TRUNCATE raw" -c CHECKPOINT
	t0=$(kt_now)
	kcat -C -b "$bs" -t bench -e -q -o beginning -f '%s\n' | psql -X -q -c "COPY raw (doc) FROM STDIN"
	t1=$(kt_now)
	n=$(psql -X -qAt -c "SELECT count(*) FROM raw")
	[ "$n" = "$messages" ] || kt_die "kcat pipeline loaded $n rows"
	kcat_times+=("$(echo "$t1 - $t0" | bc -l)")
	printf 'run %d: refresh %.3f s (RssAnon +%d MiB), copy %.3f s, kcat|psql %.3f s\n' "$i" \
		"${refresh_times[-1]}" "${rss_growth[-1]}" "${copy_times[-1]}" "${kcat_times[-1]}"
done

# continuous latency: produce at $rate msg/s, compare send time with commit time
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE FOREIGN TABLE latency_topic (seq bigint, sent_ms bigint,
    _partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'latency', format 'json');
CREATE TABLE latency (seq bigint, sent_ms bigint, _partition int, _offset bigint);
SELECT kafka.create_streaming_table('latency', source => 'latency_topic', starting_offsets => 'latest');
SQL
sleep 3	# the launcher starts the worker
total=$((rate * latency_seconds))
"$KT_PYTHON" - "$bs" "$rate" "$total" <<'PY'
import json, sys, time
from confluent_kafka import Producer
bs, rate, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
p = Producer({"bootstrap.servers": bs, "linger.ms": 0})
start = time.time()
for i in range(total):
    target = start + i / rate
    delay = target - time.time()
    if delay > 0:
        time.sleep(delay)
    p.produce("latency", json.dumps({"seq": i, "sent_ms": int(time.time() * 1000)}).encode())
    p.poll(0)
p.flush(30)
PY
for _ in $(seq 1 100); do
	n=$(psql -X -qAt -c "SELECT count(*) FROM latency")
	[ "$n" = "$total" ] && break
	sleep 0.2
done
[ "$n" = "$total" ] || kt_die "continuous stream loaded $n of $total"
read -r lat_median lat_p95 <<<"$(psql -X -qAt -F ' ' -c "
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 1)
	FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000 - sent_ms AS ms
	      FROM latency) s")"

rf=$(printf '%s\n' "${refresh_times[@]}" | kt_median)
cp=$(printf '%s\n' "${copy_times[@]}" | kt_median)
kc=$(printf '%s\n' "${kcat_times[@]}" | kt_median)
rss=$(printf '%s\n' "${rss_growth[@]}" | sort -g | tail -1)
printf '\nmedian of %d runs, %d JSON events (5 fields) over %d partitions:\n' "$runs" "$messages" "$partitions"
printf '  refresh_streaming_table  %.3f s  %10.0f rows/s\n' "$rf" "$(echo "$messages / $rf" | bc -l)"
printf '  COPY FROM file           %.3f s  %10.0f rows/s\n' "$cp" "$(echo "$messages / $cp" | bc -l)"
printf '  kcat | psql COPY jsonb   %.3f s  %10.0f rows/s\n' "$kc" "$(echo "$messages / $kc" | bc -l)"
printf '  ratio refresh / COPY file: %.2fx (acceptance >= 0.5x)\n' "$(echo "$cp / $rf" | bc -l)"
printf '  ratio refresh / kcat pipeline: %.2fx (acceptance >= 2x, goal 3x)\n' "$(echo "$kc / $rf" | bc -l)"
printf '  refreshing backend RssAnon growth, max over runs: %d MiB (acceptance < 128 MiB)\n' "$rss"
printf '  continuous latency at %d msg/s, produce -> visible: median %s ms, p95 %s ms (acceptance < 1000 ms)\n' \
	"$rate" "$lat_median" "$lat_p95"
