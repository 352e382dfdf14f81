#!/usr/bin/env bash
# test.sh — install dependencies, build, install and run the whole test suite
# (pg_regress, TAP and unit tests against a throwaway PostgreSQL server and a
# loopback Kafka test broker), then all of it again with the extension and
# the unit tests built with AddressSanitizer and UBSan (KT_SANITIZE=0 skips
# that pass).  Run as root on Debian bookworm; the servers themselves run as
# the postgres user.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
KT_SANITIZE=${KT_SANITIZE:-1} make installcheck
