#!/usr/bin/env bash
# demo.sh — kafka_fdw in five minutes, with nothing to set up: builds and
# installs the extension, starts a loopback Kafka cluster and a throwaway
# PostgreSQL server, produces sample events and queries them with SQL.
# Everything is stopped and removed at the end.  Run as root on Debian
# bookworm (the servers run as the postgres user).
set -euo pipefail
cd "$(dirname "$0")/.."
srcdir=$(pwd)

if [ -z "${KT_DEMO_INSTALLED:-}" ]; then
	bash scripts/install.sh
	export KT_DEMO_INSTALLED=1
fi

. test/harness/common.sh
kt_drop_root "$srcdir/scripts/demo.sh" "$@"

tmp=${KT_TMPDIR:-$(mktemp -d "${TMPDIR:-/tmp}/kafka_fdw_demo.XXXXXX")}
mkdir -p "$tmp"
[ -n "${KT_TMPDIR:-}" ] || kt_on_exit rm -rf "$tmp"

step=0
banner() {
	step=$((step + 1))
	printf '\n==================================================================\n'
	printf ' %d. %s\n' "$step" "$*"
	printf '==================================================================\n'
}

# sql "SQL" — runs it in the demo database, echoing the statement.
sql() {
	psql -X -v ON_ERROR_STOP=1 --echo-queries -P pager=off -c "$1"
}

banner "Start a loopback Kafka cluster (3 brokers on 127.0.0.1)"
kt_start_broker "$tmp/broker" --brokers 3
echo "bootstrap servers: $KAFKA_TEST_BOOTSTRAP"

banner "Create topic 'events' (3 partitions) and produce 1000 JSON events"
kt_create_topic events 3
kt_produce --topic events --count 1000 --json --timestamp-base 1700000000000
echo "a sample, read back with kcat:"
kcat -C -b "$KAFKA_TEST_BOOTSTRAP" -t events -p 0 -c 2 -e -q -f '  partition %p offset %o key %k: %s\n'

banner "Start PostgreSQL 15 with kafka_fdw in shared_preload_libraries"
kt_start_postgres "$tmp/pgdata"

banner "Install the extension and describe the Kafka cluster as a server"
sql "CREATE EXTENSION kafka_fdw"
sql "CREATE SERVER demo FOREIGN DATA WRAPPER kafka_fdw
       OPTIONS (bootstrap_servers '$KAFKA_TEST_BOOTSTRAP')"
sql "CREATE USER MAPPING FOR CURRENT_USER SERVER demo"

banner "Batch read: how many records does the topic hold?"
sql "SELECT count(*) FROM kafka.read_kafka(server => 'demo', subscribe => 'events')"

banner "Records per partition"
sql "SELECT partition, count(*)
       FROM kafka.read_kafka(server => 'demo', subscribe => 'events')
      GROUP BY 1 ORDER BY 1"

banner "The payload is bytea: decode it like Databricks' value::string"
sql "SELECT partition, \"offset\", convert_from(key, 'UTF8') AS key,
            convert_from(value, 'UTF8') AS value
       FROM kafka.read_kafka(server => 'demo', subscribe => 'events')
      ORDER BY partition, \"offset\"
      LIMIT 5"

banner "JSON fields are a cast away"
sql "SELECT convert_from(value, 'UTF8')::jsonb ->> 'type' AS type,
            count(*), sum((convert_from(value, 'UTF8')::jsonb ->> 'amount')::numeric)
       FROM kafka.read_kafka(server => 'demo', subscribe => 'events')
      GROUP BY 1 ORDER BY 1"

# --- DEMO EXTENSION POINT: streaming table ---------------------------------
banner "A foreign table over the topic: typed columns, Kafka metadata columns"
sql "CREATE FOREIGN TABLE events_topic (
       event_id bigint, user_id int, type text, amount numeric, ts timestamptz,
       _partition int OPTIONS (kafka 'partition'),
       _offset bigint OPTIONS (kafka 'offset'))
     SERVER demo OPTIONS (topic 'events', format 'json')"

banner "A streaming table: a background worker keeps it filled, exactly once"
sql "CREATE TABLE events (event_id bigint PRIMARY KEY, user_id int, type text,
       amount numeric, ts timestamptz, _partition int, _offset bigint)"
sql "SELECT kafka.create_streaming_table('public.events', source => 'events_topic',
       starting_offsets => 'earliest', trigger => 'continuous',
       on_error => 'dead_letter')"
for _ in $(seq 1 100); do
	[ "$(psql -X -qAt -c 'SELECT count(*) FROM events')" = 1000 ] && break
	sleep 0.1
done
sql "SELECT count(*) AS rows FROM events"

banner "Produce 5000 more events while the stream runs, and one bad record"
for k in $(seq 0 9); do
	kt_produce --topic events --count 500 --start $((1000 + k * 500)) --json \
		--timestamp-base 1700000000000 >/dev/null
	psql -X -qAt -c "SELECT 'rows in events: ' || count(*) FROM events"
done
echo 'not json' | kcat -q -P -b "$KAFKA_TEST_BOOTSTRAP" -t events -p 0
for _ in $(seq 1 100); do
	[ "$(psql -X -qAt -c 'SELECT count(*) FROM kafka.dead_letters')" = 1 ] && break
	sleep 0.1
done
sql "SELECT count(*) AS rows, count(DISTINCT (_partition, _offset)) AS distinct_records FROM events"

banner "kafka.stream_progress: per partition, committed offset, lag, rows/s"
sql "SELECT stream, \"partition\", state, last_batch_id, committed_offset,
            high_watermark, lag, round(rows_per_second) AS rows_per_second
       FROM kafka.stream_progress ORDER BY \"partition\""

banner "The bad record went to kafka.dead_letters, with its coordinates"
sql "SELECT topic, \"partition\", \"offset\", convert_from(value, 'UTF8') AS value, error
       FROM kafka.dead_letters"

# --- DEMO EXTENSION POINT: Delta export ------------------------------------
# delta_snapshot DIR SQL — runs SQL with DuckDB over the Delta table at DIR
# (the view "snapshot": _delta_log replayed, adds minus removes, then the
# live Parquet files read); without node, lists the log and files instead.
delta_snapshot() {
	if ! command -v node >/dev/null || [ ! -d "$srcdir/test/node_modules/@duckdb/node-api" ]; then
		echo "(node or test/node_modules missing: the log and files instead)"
		ls -l "$1/_delta_log" "$1"
		return
	fi
	(cd "$srcdir/test" && node --input-type=module -e '
import fs from "node:fs";
import { DuckDBInstance } from "@duckdb/node-api";
const [table, query] = process.argv.slice(1);
const live = new Set();
for (const name of fs.readdirSync(`${table}/_delta_log`).filter((n) => /^\d{20}\.json$/.test(n)).sort())
  for (const line of fs.readFileSync(`${table}/_delta_log/${name}`, "utf8").split("\n").filter(Boolean)) {
    const action = JSON.parse(line);
    if (action.add) live.add(action.add.path);
    if (action.remove) live.delete(action.remove.path);
  }
const con = await (await DuckDBInstance.create(":memory:")).connect();
const files = [...live].map((p) => `'\''${table}/${p}'\''`).join(",");
await con.run(`CREATE VIEW snapshot AS SELECT * FROM read_parquet([${files}])`);
console.log(`DuckDB over ${live.size} live files of ${table}:`);
console.table((await con.runAndReadAll(query)).getRowObjectsJson());
' "$1" "$2")
}

banner "Delta Lake export: the events as a Delta table"
# the streaming table's rows (the bad record is a dead letter, not a row)
sql "CREATE TABLE events_lake AS
       SELECT _partition, _offset, event_id, user_id, type,
              amount::numeric(10,2) AS amount, ts
         FROM events"
mkdir -p "$tmp/lake"
sql "SELECT * FROM kafka.delta_export('events_lake', '$tmp/lake/events')"
echo "the Delta table on disk:"
(cd "$tmp/lake/events" && find . -type f | sort | sed 's/^/  /')

banner "Append a batch idempotently: a re-run with the same txn_version adds nothing"
kt_produce --topic events --count 200 --start 6000 --json --timestamp-base 1700006000000
for _ in $(seq 1 100); do
	[ "$(psql -X -qAt -c 'SELECT count(*) FROM events WHERE event_id >= 6000')" = 200 ] && break
	sleep 0.1
done
sql "INSERT INTO events_lake
       SELECT _partition, _offset, event_id, user_id, type, amount, ts
         FROM events
        WHERE event_id >= 6000"
sql "SELECT * FROM kafka.delta_export('SELECT * FROM events_lake WHERE event_id >= 6000',
                                     '$tmp/lake/events', app_id => 'demo', txn_version => 1)"
sql "SELECT * FROM kafka.delta_export('SELECT * FROM events_lake WHERE event_id >= 6000',
                                     '$tmp/lake/events', app_id => 'demo', txn_version => 1)"

banner "Read the Delta table back with DuckDB (an independent reader)"
delta_snapshot "$tmp/lake/events" \
	"SELECT type, count(*) AS events, sum(amount) AS amount FROM snapshot GROUP BY type ORDER BY type"
echo "the same in PostgreSQL:"
sql "SELECT type, count(*) AS events, sum(amount) AS amount FROM events_lake GROUP BY type ORDER BY type"

# A streaming table made above (if any): each append exports only its rows
# not exported yet, the stream's batch_id as the Delta txn version.
stream_target=$(psql -XAtq -c "SELECT s.target FROM kafka.streaming_tables s
	WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
	              WHERE a.attrelid = s.target AND a.attname = '_offset' AND NOT a.attisdropped)
	ORDER BY s.target::oid LIMIT 1")
if [ -n "$stream_target" ]; then
	banner "The streaming table $stream_target to Delta: appends export only new rows"
	sql "SELECT * FROM kafka.delta_export('$stream_target', '$tmp/lake/stream')"
	echo "300 more events arrive; the stream loads them, the next append exports only them:"
	rows=$(psql -X -qAt -c "SELECT count(*) FROM $stream_target")
	kt_produce --topic events --count 300 --start 6200 --json --timestamp-base 1700006200000
	for _ in $(seq 1 100); do
		[ "$(psql -X -qAt -c "SELECT count(*) FROM $stream_target")" = $((rows + 300)) ] && break
		sleep 0.1
	done
	sql "SELECT * FROM kafka.delta_export('$stream_target', '$tmp/lake/stream')"
	echo "nothing new: no version is added"
	sql "SELECT * FROM kafka.delta_export('$stream_target', '$tmp/lake/stream')"
	delta_snapshot "$tmp/lake/stream" \
		"SELECT count(*) AS rows, count(DISTINCT (_partition, _offset)) AS distinct_records FROM snapshot"
	echo "the same in PostgreSQL:"
	sql "SELECT count(*) AS rows, count(DISTINCT (_partition, _offset)) AS distinct_records FROM $stream_target"
fi

banner "Done: stopping PostgreSQL and the Kafka cluster"
