#!/usr/bin/env bash
# test.sh — install dependencies, build, install and run the whole test suite
# (pg_regress, TAP and unit tests against a throwaway PostgreSQL server and a
# loopback Kafka test broker).  Run as root on Debian bookworm; the servers
# themselves run as the postgres user.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
make installcheck
