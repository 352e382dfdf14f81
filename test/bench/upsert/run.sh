#!/usr/bin/env bash
# run.sh — keyed (upsert) streaming-table ingest against the hand-written path.
#
# Starts its own loopback test broker and throwaway PostgreSQL server (as
# root it re-runs itself as the postgres user), produces CHANGES (default
# 1000000) JSON changes {"id", "v", "amount", "seq"} over KEYS (default
# 100000) keys, keyed by id over PARTITIONS (default 32) partitions, then
# times, RUNS times each (default 3, alternating, both from an empty table):
#
#   refresh: CALL kafka.refresh_streaming_table(...) into a table with a
#            primary key, mode 'upsert', keys id, sequence_by seq
#            (max_offsets_per_trigger BATCH when set; by default a keyed
#            batch takes every record, holding one change per key)
#   manual:  COPY FROM a file of the same typed changes into a staging table,
#            then INSERT ... SELECT DISTINCT ON (id) ... ORDER BY id, seq DESC
#            ON CONFLICT (id) DO UPDATE ... WHERE the stored seq is older
#            (what users write by hand), in one transaction
#
# checks both tables are equal, and prints medians and the ratio (acceptance
# >= 1.0x, goal 1.5x) and the refreshing backend's RssAnon growth
# (acceptance < 128 MiB).  FILLFACTOR (default 100) sets both tables'
# fillfactor: room on the pages makes the updates of later batches HOT (no
# new index entries), as for any update-heavy table.  Not part of the test
# suite.
#
#   bash test/bench/upsert/run.sh

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../harness/common.sh"
kt_drop_root "$here/run.sh" "$@"

changes=${CHANGES:-1000000}
keys=${KEYS:-100000}
partitions=${PARTITIONS:-32}
runs=${RUNS:-3}
batch=${BATCH:-}
fillfactor=${FILLFACTOR:-100}
tmp=${KT_TMPDIR:-$(mktemp -d)}

kt_start_broker "$tmp/broker" --topic "changes:$partitions"
kt_start_postgres "$tmp/pgdata" "max_wal_size = '4GB'" "shared_buffers = '256MB'"
bs=$KAFKA_TEST_BOOTSTRAP

echo "producing $changes JSON changes over $keys keys, $partitions partitions (lz4)..."
"$KT_PYTHON" - "$bs" "$changes" "$keys" <<'PY'
import json, sys
from confluent_kafka import Producer
bs, changes, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
p = Producer({"bootstrap.servers": bs, "compression.type": "lz4",
              "linger.ms": 50, "batch.num.messages": 10000})
for i in range(changes):
    key = (i * 7919) % keys
    p.produce("changes", key=str(key).encode(),
              value=json.dumps({"id": key, "v": "value %d of %d" % (i, key),
                                "amount": round((i * 31 % 100000) / 100, 2),
                                "seq": i}).encode())
    if i % 10000 == 0:
        p.poll(0)
p.flush(120)
PY

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION kafka_fdw;
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER k;
CREATE FOREIGN TABLE changes_topic (id int, v text, amount numeric, seq bigint)
  SERVER k OPTIONS (topic 'changes', format 'json');
CREATE TABLE items (id int PRIMARY KEY, v text, amount numeric, seq bigint) WITH (fillfactor = $fillfactor);
CREATE TABLE items_manual (LIKE items INCLUDING ALL) WITH (fillfactor = $fillfactor);
CREATE TABLE staging (id int, v text, amount numeric, seq bigint);
SELECT kafka.create_streaming_table('items', source => 'changes_topic',
  trigger => 'available_now', ${batch:+max_offsets_per_trigger => $batch,}
  mode => 'upsert', keys => ARRAY['id'], sequence_by => 'seq');
SQL
kt_check_topic k changes "$changes"

rss_anon() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

copy_file="$tmp/changes.copy"
psql -X -q -c "COPY (SELECT id, v, amount, seq FROM changes_topic) TO '$copy_file'"
refresh_times=() manual_times=() rss_growth=()
for i in $(seq 1 "$runs"); do
	psql -X -q -c "TRUNCATE items" -c "SELECT kafka.reset_offsets('items', 'earliest')" >/dev/null
	psql -X -q -c CHECKPOINT
	t0=$(kt_now)
	PGAPPNAME=bench_refresh psql -X -qAt -c "CALL kafka.refresh_streaming_table('items')" \
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
	refresh_times+=("$(echo "$t1 - $t0" | bc -l)")
	rss_growth+=("$(( (peak - base) / 1024 ))")

	psql -X -q -c "TRUNCATE items_manual" -c "TRUNCATE staging" -c CHECKPOINT
	t0=$(kt_now)
	psql -X -q -v ON_ERROR_STOP=1 <<SQL
BEGIN;
COPY staging FROM '$copy_file';
INSERT INTO items_manual
SELECT DISTINCT ON (id) id, v, amount, seq FROM staging ORDER BY id, seq DESC
ON CONFLICT (id) DO UPDATE SET v = excluded.v, amount = excluded.amount, seq = excluded.seq
  WHERE items_manual.seq < excluded.seq;
TRUNCATE staging;
COMMIT;
SQL
	t1=$(kt_now)
	manual_times+=("$(echo "$t1 - $t0" | bc -l)")
	diff=$(psql -X -qAt -c "SELECT count(*) FROM (SELECT * FROM items EXCEPT SELECT * FROM items_manual) a" \
		-c "SELECT count(*) FROM items" -c "SELECT count(*) FROM items_manual" | tr '\n' ' ')
	[ "$diff" = "0 $keys $keys " ] || kt_die "tables differ (different rows, rows, rows by hand): $diff"
	printf 'run %d: refresh %.3f s (%s, RssAnon +%d MiB), COPY + INSERT ON CONFLICT %.3f s\n' "$i" \
		"${refresh_times[-1]}" "$(grep -o '[0-9]* batches' "$tmp/refresh.out" | head -1)" \
		"${rss_growth[-1]}" "${manual_times[-1]}"
done

rf=$(printf '%s\n' "${refresh_times[@]}" | kt_median)
mn=$(printf '%s\n' "${manual_times[@]}" | kt_median)
rss=$(printf '%s\n' "${rss_growth[@]}" | sort -g | tail -1)
printf '\nmedian of %d runs, %d changes over %d keys, %d partitions, max_offsets_per_trigger %s, fillfactor %d:\n' \
	"$runs" "$changes" "$keys" "$partitions" "${batch:-unset}" "$fillfactor"
printf '  refresh_streaming_table (upsert)      %.3f s  %10.0f changes/s\n' "$rf" "$(echo "$changes / $rf" | bc -l)"
printf '  COPY + INSERT DISTINCT ON ON CONFLICT %.3f s  %10.0f changes/s\n' "$mn" "$(echo "$changes / $mn" | bc -l)"
printf '  ratio refresh / hand-written: %.2fx (acceptance >= 1.0x, goal 1.5x)\n' "$(echo "$mn / $rf" | bc -l)"
printf '  refreshing backend RssAnon growth, max over runs: %d MiB (acceptance < 128 MiB)\n' "$rss"
