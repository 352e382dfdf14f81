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
# copy, >= 2x kcat).  The events' ts spans 32 days, and the same rows go
# into a table range-partitioned by day (32 partitions):
#
#   partitioned:     refresh into it vs COPY FROM the file into a copy of it
#                    (acceptance >= 0.5x, goal >= 0.9x)
#   1% bad rows:     refresh (on_error 'dead_letter') into a table whose NOT
#                    NULL generated column is NULL for 1% of the rows, vs the
#                    same table where it never is (acceptance <= 3x)
#  It also samples the refreshing backend's RssAnon with
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
# ts from 2026-01-01 over 32 days, whatever the count
"$KT_PYTHON" "$KAFKA_TEST_PRODUCE" --bootstrap "$bs" --topic bench --count "$messages" \
	--partitions "$partitions" --compression lz4 --json --quiet \
	--timestamp-base 1767225600000 --timestamp-step $((32 * 86400000 / messages))

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
CREATE TABLE events_part (LIKE events) PARTITION BY RANGE (ts);
SELECT format('CREATE TABLE events_part_%s PARTITION OF events_part FOR VALUES FROM (%L) TO (%L)',
              to_char(d, 'MMDD'), d, d + interval '1 day')
  FROM generate_series(timestamptz '2026-01-01', '2026-02-01', interval '1 day') d \gexec
CREATE TABLE events_part_copy (LIKE events) PARTITION BY RANGE (ts);
SELECT format('CREATE TABLE events_part_copy_%s PARTITION OF events_part_copy FOR VALUES FROM (%L) TO (%L)',
              to_char(d, 'MMDD'), d, d + interval '1 day')
  FROM generate_series(timestamptz '2026-01-01', '2026-02-01', interval '1 day') d \gexec
SELECT kafka.create_streaming_table('events_part', source => 'bench_topic',
  trigger => 'available_now');
-- amount < 1 for 1% of the events: NULL, which NOT NULL refuses
CREATE TABLE events_bad (LIKE events, checked numeric NOT NULL
    GENERATED ALWAYS AS (CASE WHEN amount >= 1 THEN amount END) STORED);
CREATE TABLE events_clean (LIKE events, checked numeric NOT NULL
    GENERATED ALWAYS AS (CASE WHEN amount >= 0 THEN amount END) STORED);
SELECT kafka.create_streaming_table('events_bad', source => 'bench_topic',
  trigger => 'available_now', on_error => 'dead_letter');
SELECT kafka.create_streaming_table('events_clean', source => 'bench_topic',
  trigger => 'available_now', on_error => 'dead_letter');
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

# a timed refresh of stream $1 from the earliest offsets into its emptied table
timed_refresh() {
	psql -X -q -c "TRUNCATE $1" -c "SELECT kafka.reset_offsets('$1', 'earliest')" \
		-c "DELETE FROM kafka.dead_letters" -c CHECKPOINT >/dev/null
	t0=$(kt_now)
	psql -X -qAt -c "CALL kafka.refresh_streaming_table('$1')" >/dev/null
	t1=$(kt_now)
	echo "$t1 - $t0" | bc -l
}

part_times=() part_copy_times=() bad_times=() clean_times=()
for i in $(seq 1 "$runs"); do
	part_times+=("$(timed_refresh events_part)")
	out=$(psql -X -qAt -c "SELECT count(*), count(DISTINCT (_partition, _offset)), count(DISTINCT tableoid) FROM events_part")
	[ "$out" = "$messages|$messages|32" ] || kt_die "partitioned refresh loaded $out"
	psql -X -q -c "TRUNCATE events_part_copy" -c CHECKPOINT
	t0=$(kt_now)
	psql -X -q -c "COPY events_part_copy FROM '$copy_file'"
	t1=$(kt_now)
	part_copy_times+=("$(echo "$t1 - $t0" | bc -l)")
	clean_times+=("$(timed_refresh events_clean)")
	bad_times+=("$(timed_refresh events_bad)")
	out=$(psql -X -qAt -c "SELECT (SELECT count(*) FROM events_bad) + (SELECT count(*) FROM kafka.dead_letters), (SELECT count(*) FROM kafka.dead_letters)")
	[ "${out%%|*}" = "$messages" ] || kt_die "1% bad: rows + dead letters = ${out%%|*}"
	printf 'run %d: partitioned refresh %.3f s, COPY %.3f s; clean batch %.3f s, 1%% bad %.3f s (%s dead letters)\n' \
		"$i" "${part_times[-1]}" "${part_copy_times[-1]}" "${clean_times[-1]}" "${bad_times[-1]}" "${out##*|}"
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
pr=$(printf '%s\n' "${part_times[@]}" | kt_median)
pc=$(printf '%s\n' "${part_copy_times[@]}" | kt_median)
cb=$(printf '%s\n' "${clean_times[@]}" | kt_median)
bb=$(printf '%s\n' "${bad_times[@]}" | kt_median)
printf '  partitioned target (32 daily partitions): refresh %.3f s, COPY FROM file %.3f s\n' "$pr" "$pc"
printf '  ratio partitioned refresh / COPY: %.2fx (acceptance >= 0.5x, goal >= 0.9x)\n' "$(echo "$pc / $pr" | bc -l)"
printf '  1%% NOT NULL violations (dead letters): %.3f s vs clean %.3f s: %.2fx the clean batch (acceptance <= 3x)\n' \
	"$bb" "$cb" "$(echo "$bb / $cb" | bc -l)"
printf '  continuous latency at %d msg/s, produce -> visible: median %s ms, p95 %s ms (acceptance < 1000 ms)\n' \
	"$rate" "$lat_median" "$lat_p95"
