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
# A foreign table over 'events' (format 'json') and
# kafka.create_streaming_table(...) filling a heap table; produce more events
# with kt_produce --start 1000 and show the rows and kafka.stream_progress.

# --- DEMO EXTENSION POINT: Delta export ------------------------------------
# kafka.delta_export() of the streaming table into "$tmp/lake/events", then
# read it back with an independent reader (DuckDB from test/node_modules).

banner "Done: stopping PostgreSQL and the Kafka cluster"
