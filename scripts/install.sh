#!/usr/bin/env bash
# install.sh — installs what kafka_fdw needs to build and test on Debian
# bookworm, then builds and installs the extension.
#
# Run as root.  apt is skipped when every package is already installed, so a
# rerun only rebuilds.  Packages:
#   build:   build-essential pkg-config postgresql-server-dev-15 librdkafka-dev
#            libjansson-dev libcurl4-openssl-dev libsnappy-dev
#            libzstd-dev libavro-dev (libavro-c: the second parser of
#            Avro schemas, and the reference decoder of the Avro tests)
#            libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev
#            (protoc-c compiles the descriptor.proto of libprotobuf-dev)
#   server:  postgresql-15 postgresql-15-cron postgresql-15-partman
#   tests:   kcat python3-confluent-kafka python3-avro libipc-run-perl
#            protobuf-compiler python3-protobuf
#            (PostgreSQL::Test::Cluster) nodejs npm (kafkajs, avsc, DuckDB,
#            hyparquet from test/package.json)

set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	build-essential pkg-config
	postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-partman
	librdkafka-dev libjansson-dev libcurl4-openssl-dev
	libsnappy-dev libzstd-dev libavro-dev
	libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev
	kcat python3-confluent-kafka python3-avro libipc-run-perl
	protobuf-compiler python3-protobuf
	nodejs npm
)

missing=()
for pkg in "${packages[@]}"; do
	# A nodejs build that bundles npm (NodeSource) conflicts with Debian's
	# npm package; any working npm will do.
	if [ "$pkg" = npm ] && command -v npm >/dev/null 2>&1; then
		continue
	fi
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]}; run this script as root" >&2
		exit 1
	fi
	echo "=== installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
else
	echo "=== all packages already installed"
fi

if [ -f test/package.json ]; then
	# Skip npm when node_modules already matches the lock file.
	if [ -f test/node_modules/.package-lock.json ] &&
		[ test/node_modules/.package-lock.json -nt test/package.json ] &&
		{ [ ! -f test/package-lock.json ] ||
			[ test/node_modules/.package-lock.json -nt test/package-lock.json ]; }; then
		echo "=== test/node_modules is up to date"
	else
		# npm install (not npm ci): the lock pins every version, but lists
		# only this platform's DuckDB binding, which npm ci would refuse.
		echo "=== npm install (test/)"
		(cd test && npm install --no-audit --no-fund --no-save)
	fi
fi

echo "=== building kafka_fdw"
export PG_CONFIG=${PG_CONFIG:-pg_config}
make -j"$(nproc)"
make install
make testtools
