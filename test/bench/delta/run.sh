#!/usr/bin/env bash
# run.sh — kafka.delta_export() against DuckDB writing the same rows.
#
#   bash test/bench/delta/run.sh [--rows N] [--runs N] [--rss-rows N]
#
# Starts a throwaway PostgreSQL (test/harness/common.sh), fills an 8-column
# table (integers, numeric, text, timestamptz), then alternates, N runs each:
# kafka.delta_export() of the table to a new Delta table, and DuckDB
# (threads = 1) writing the same rows from its own table to zstd Parquet.
# Prints the medians and their ratios, then the backend's RssAnon growth
# during one export of --rss-rows rows.  Needs `make install` and `npm ci`
# in test/.  Not part of the test suite: machines are noisy, so it reports
# ratios against a baseline measured in the same run.

set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
KT_SRCDIR=$srcdir
. "$srcdir/test/harness/common.sh"
kt_drop_root "${BASH_SOURCE[0]}" "$@"

[ -d "$srcdir/test/node_modules/@duckdb/node-api" ] ||
	kt_die "the npm test tools are missing: run npm ci in $srcdir/test"

tmp=${KT_TMPDIR:-$(mktemp -d "${TMPDIR:-/tmp}/delta_bench.XXXXXX")}
mkdir -p "$tmp"
[ -n "${KT_TMPDIR:-}" ] || kt_on_exit rm -rf "$tmp"

kt_start_postgres "$tmp/pgdata" "shared_buffers = 1GB" "max_wal_size = 4GB" \
	"checkpoint_timeout = 30min" "autovacuum = off"
psql -qX -c "CREATE EXTENSION kafka_fdw"

node "$srcdir/test/bench/delta/bench.mjs" --dir "$tmp/lake" "$@"
