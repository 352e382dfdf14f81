# common.sh — shell functions shared by the test runner, the demo and the
# benchmarks: a loopback Kafka test broker and a throwaway PostgreSQL server,
# both torn down by an EXIT trap whatever happens.
#
# Source it from bash:
#
#   . "$srcdir/test/harness/common.sh"
#   kt_start_broker "$tmp/broker" --topic events:3
#   kt_broker_ctl broker_down 2
#   kt_start_postgres "$tmp/pgdata" "log_min_messages = debug1"
#   psql -c 'SELECT 1'          # PGHOST, PGPORT, PGUSER point at it
#
# The trap installed here stops Postgres, then the broker, then runs the
# commands registered with kt_on_exit (last registered first).  Scripts that
# need an EXIT trap of their own use kt_on_exit instead of `trap`.
#
# Variables (exported once set):
#   KT_SRCDIR             source tree (derived from this file's location)
#   KAFKA_TEST_BROKER_BIN the test broker program
#   KAFKA_TEST_PRODUCE    test/fixtures/produce.py
#   KT_PYTHON             python with confluent_kafka (/usr/bin/python3)
#   KT_PG_BINDIR          PostgreSQL binaries (pg_config --bindir)
#   KAFKA_TEST_BOOTSTRAP  bootstrap servers of the running test broker
#   KAFKA_TEST_STATE_DIR  its state directory (for kt_broker_ctl)
#   KAFKA_TEST_SCHEMA_REGISTRY_URL  the fixture Schema Registry (basic auth
#                         as KAFKA_TEST_SCHEMA_REGISTRY_USER / _PASSWORD)
#   KAFKA_TEST_SCHEMA_REGISTRY_DIR  its state directory (touch down = 503)
#   PGHOST PGPORT PGUSER PGDATABASE KT_PG_DATADIR KT_PG_LOG   the server

KT_SRCDIR=${KT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KAFKA_TEST_BROKER_BIN=${KAFKA_TEST_BROKER_BIN:-$KT_SRCDIR/test/broker/kafka_test_broker}
KAFKA_TEST_PRODUCE=${KAFKA_TEST_PRODUCE:-$KT_SRCDIR/test/fixtures/produce.py}
KAFKA_TEST_SCHEMA_REGISTRY_BIN=${KAFKA_TEST_SCHEMA_REGISTRY_BIN:-$KT_SRCDIR/test/fixtures/schema_registry.py}
# The python3 on PATH may be a private interpreter without confluent_kafka;
# the Debian package installs it for the system one.
KT_PYTHON=${KT_PYTHON:-/usr/bin/python3}
KT_PG_BINDIR=${KT_PG_BINDIR:-$("${PG_CONFIG:-pg_config}" --bindir)}
export KT_SRCDIR KAFKA_TEST_BROKER_BIN KAFKA_TEST_PRODUCE KT_PYTHON KT_PG_BINDIR
export KAFKA_TEST_SCHEMA_REGISTRY_BIN

KT_BROKER_PID=
KT_REGISTRY_PID=
KT_PG_DATADIR=
KT_EXIT_HOOKS=()

kt_log() {
	printf '%s\n' "$*" >&2
}

kt_die() {
	kt_log "error: $*"
	exit 1
}

# kt_on_exit COMMAND... — run COMMAND (with its arguments) at exit.
kt_on_exit() {
	local quoted
	printf -v quoted '%q ' "$@"
	KT_EXIT_HOOKS+=("$quoted")
}

kt_cleanup() {
	local status=$?
	local i
	trap - EXIT INT TERM HUP
	kt_stop_postgres || true
	kt_stop_broker || true
	kt_stop_schema_registry || true
	for ((i = ${#KT_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${KT_EXIT_HOOKS[i]}" || true
	done
	return "$status"
}

trap kt_cleanup EXIT
# A signal ends the script through exit, so the EXIT trap does the cleanup.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# kt_drop_root SCRIPT [ARG...] — PostgreSQL refuses to run as root.  As
# root, re-runs SCRIPT (a file inside the source tree) as $KT_TEST_USER
# (default postgres) and exits with its status; does nothing otherwise.  The
# user gets a private work directory (KT_WORKDIR; KT_TMPDIR=$KT_WORKDIR/run),
# removed after success unless KT_KEEP_TMP is set, and a copy of the source
# tree there if it cannot read this one (a checkout under /root, say).
kt_drop_root() {
	local script=$1 user=${KT_TEST_USER:-postgres} work tree blocked rel status
	shift
	[ "$(id -u)" -eq 0 ] || return 0
	id "$user" >/dev/null 2>&1 ||
		kt_die "running as root and there is no \"$user\" user to run PostgreSQL as"
	script=$(cd "$(dirname "$script")" && pwd)/$(basename "$script")
	rel=${script#"$KT_SRCDIR"/}
	local parent=${TMPDIR:-/tmp}
	runuser -u "$user" -- test -w "$parent" -a -x "$parent" || parent=/tmp
	work=$(mktemp -d "$parent/kafka_fdw.XXXXXX") || kt_die "mktemp failed"
	tree=$KT_SRCDIR
	# The first file or directory below the tree the user cannot read or enter.
	blocked=$(runuser -u "$user" -- find "$KT_SRCDIR" -name .git -prune -o \
		\( ! -readable -o \( -type d ! -executable \) \) -print -quit 2>&1) ||
		blocked=${blocked:-$KT_SRCDIR}
	if [ -n "$blocked" ]; then
		kt_log "user $user cannot read $blocked; using a copy of the source tree"
		tree=$work/src
		mkdir "$tree"
		tar -C "$KT_SRCDIR" --exclude=./.git -cf - . | tar -C "$tree" -xf - ||
			kt_die "cannot copy the source tree to $tree"
	fi
	chown -R "$user" "$work"
	chmod 700 "$work"
	cd "$work" || kt_die "cannot enter $work"
	# Nothing to clean up on this side: the user's run has its own trap.
	trap - EXIT INT TERM HUP
	runuser -u "$user" -- env -u KAFKA_TEST_BROKER_BIN -u KAFKA_TEST_PRODUCE \
		TMPDIR="$parent" KT_WORKDIR="$work" KT_TMPDIR="$work/run" \
		PG_CONFIG="${PG_CONFIG:-pg_config}" KT_SRCDIR="$tree" \
		bash "$tree/$rel" "$@"
	status=$?
	if [ "$status" -eq 0 ] && [ -z "${KT_KEEP_TMP:-}" ]; then
		rm -rf "$work"
	fi
	exit "$status"
}

# kt_now — seconds since the epoch, with nanoseconds (for benchmarks).
kt_now() {
	date +%s.%N
}

# kt_median — the median of the numbers on stdin, one per line.
kt_median() {
	sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# kt_check_topic SERVER TOPIC [MESSAGES] — for benchmarks, through
# kafka.read_kafka on SERVER: fail unless every partition of TOPIC still
# starts at offset 0 (the test broker's retention dropped nothing) and, given
# MESSAGES, the topic holds exactly that many records.
kt_check_topic() {
	local count lowmax
	read -r count lowmax <<<"$(psql -X -qAt -F ' ' -c \
		"SELECT sum(n), max(lo) FROM (SELECT count(*) n, min(\"offset\") lo FROM kafka.read_kafka(server => '$1', subscribe => '$2') GROUP BY \"partition\") s")"
	[ "$lowmax" = 0 ] || kt_die "$2 lost records to retention (low watermark $lowmax): use more partitions"
	[ -z "${3:-}" ] || [ "$count" = "$3" ] || kt_die "$2 holds $count records, not $3"
}

# kt_free_port — prints a TCP port on 127.0.0.1 that nothing listens on now.
kt_free_port() {
	"$KT_PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# kt_wait_for_file FILE SECONDS [PID] — waits until FILE exists; gives up
# early if PID dies.
kt_wait_for_file() {
	local file=$1 seconds=$2 pid=${3:-}
	local tries=$((seconds * 10))
	while [ ! -s "$file" ]; do
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

# kt_start_broker DIR [broker options...] — starts the loopback test broker
# (3 brokers unless --brokers N is given) with DIR as its state directory.
kt_start_broker() {
	local dir=$1
	shift
	if [ ! -x "$KAFKA_TEST_BROKER_BIN" ]; then
		kt_log "error: test broker $KAFKA_TEST_BROKER_BIN is not built (make test/broker/kafka_test_broker)"
		return 1
	fi
	[ -z "$KT_BROKER_PID" ] || kt_die "a test broker is already running (pid $KT_BROKER_PID)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	rm -f "$dir/bootstrap" "$dir/control_port"
	# --exit-with-parent: even a SIGKILLed script does not leave it behind.
	"$KAFKA_TEST_BROKER_BIN" --state-dir "$dir" --exit-with-parent "$@" \
		>"$dir/broker.log" 2>&1 </dev/null &
	KT_BROKER_PID=$!
	if ! kt_wait_for_file "$dir/bootstrap" 30 "$KT_BROKER_PID"; then
		kt_log "test broker did not start; its log:"
		cat "$dir/broker.log" >&2
		kt_stop_broker
		return 1
	fi
	KAFKA_TEST_BOOTSTRAP=$(cat "$dir/bootstrap")
	KAFKA_TEST_STATE_DIR=$dir
	export KAFKA_TEST_BOOTSTRAP KAFKA_TEST_STATE_DIR
	kt_log "test broker (pid $KT_BROKER_PID) at $KAFKA_TEST_BOOTSTRAP"
}

# kt_broker_ctl COMMAND [ARG...] — one control command to the running broker;
# prints the reply, fails unless it is "ok ...".
kt_broker_ctl() {
	[ -n "${KAFKA_TEST_STATE_DIR:-}" ] || kt_die "no test broker running"
	"$KAFKA_TEST_BROKER_BIN" ctl "$KAFKA_TEST_STATE_DIR" "$@"
}

# kt_create_topic NAME PARTITIONS
kt_create_topic() {
	kt_broker_ctl create_topic "$1" "$2" >/dev/null
}

# kt_produce [produce.py options...] — produce.py against the running broker.
kt_produce() {
	"$KT_PYTHON" "$KAFKA_TEST_PRODUCE" --bootstrap "$KAFKA_TEST_BOOTSTRAP" \
		--state-dir "$KAFKA_TEST_STATE_DIR" "$@"
}

kt_stop_broker() {
	local pid=$KT_BROKER_PID i
	[ -n "$pid" ] || return 0
	KT_BROKER_PID=
KT_REGISTRY_PID=
	if kill -TERM "$pid" 2>/dev/null; then
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	unset KAFKA_TEST_BOOTSTRAP KAFKA_TEST_STATE_DIR
}

# kt_start_schema_registry DIR [USER PASSWORD] — starts the fixture Schema
# Registry (test/fixtures/schema_registry.py) on 127.0.0.1 with DIR as its
# state directory, requiring basic auth when USER is given.
kt_start_schema_registry() {
	local dir=$1 user=${2:-} password=${3:-}
	local args=()
	[ -z "$KT_REGISTRY_PID" ] || kt_die "a schema registry is already running (pid $KT_REGISTRY_PID)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	rm -f "$dir/url" "$dir/down"
	[ -n "$user" ] && args=(--user "$user" --password "$password")
	"$KT_PYTHON" "$KAFKA_TEST_SCHEMA_REGISTRY_BIN" --state-dir "$dir" "${args[@]}" \
		>"$dir/registry.log" 2>&1 </dev/null &
	KT_REGISTRY_PID=$!
	if ! kt_wait_for_file "$dir/url" 30 "$KT_REGISTRY_PID"; then
		kt_log "schema registry did not start; its log:"
		cat "$dir/registry.log" >&2
		kt_stop_schema_registry
		return 1
	fi
	KAFKA_TEST_SCHEMA_REGISTRY_URL=$(cat "$dir/url")
	KAFKA_TEST_SCHEMA_REGISTRY_DIR=$dir
	KAFKA_TEST_SCHEMA_REGISTRY_USER=$user
	KAFKA_TEST_SCHEMA_REGISTRY_PASSWORD=$password
	export KAFKA_TEST_SCHEMA_REGISTRY_URL KAFKA_TEST_SCHEMA_REGISTRY_DIR \
		KAFKA_TEST_SCHEMA_REGISTRY_USER KAFKA_TEST_SCHEMA_REGISTRY_PASSWORD
	kt_log "schema registry (pid $KT_REGISTRY_PID) at $KAFKA_TEST_SCHEMA_REGISTRY_URL"
}

kt_stop_schema_registry() {
	local pid=$KT_REGISTRY_PID
	[ -n "$pid" ] || return 0
	KT_REGISTRY_PID=
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset KAFKA_TEST_SCHEMA_REGISTRY_URL KAFKA_TEST_SCHEMA_REGISTRY_DIR \
		KAFKA_TEST_SCHEMA_REGISTRY_USER KAFKA_TEST_SCHEMA_REGISTRY_PASSWORD
}

# kt_start_postgres DATADIR [postgresql.conf line...] — initdb and start a
# private server: unix socket only, in a directory next to DATADIR, on a port
# nothing else uses.  Extra lines go last, so they override the defaults.
# KT_PRELOAD overrides shared_preload_libraries (default kafka_fdw).
kt_start_postgres() {
	local datadir=$1 line sockdir port
	shift
	[ -z "$KT_PG_DATADIR" ] || kt_die "a test server is already running ($KT_PG_DATADIR)"
	mkdir -p "$(dirname "$datadir")"
	datadir=$(cd "$(dirname "$datadir")" && pwd)/$(basename "$datadir")
	sockdir=$(dirname "$datadir")/sock
	mkdir -p "$sockdir"
	# Unix socket paths are limited to ~107 bytes.
	if [ ${#sockdir} -gt 90 ]; then
		sockdir=$(mktemp -d /tmp/kt_sock.XXXXXX)
		kt_on_exit rm -rf "$sockdir"
	fi
	port=$(kt_free_port)
	KT_PG_LOG=$(dirname "$datadir")/postgresql.log

	"$KT_PG_BINDIR/initdb" -D "$datadir" -A trust -N -E UTF8 --locale=C \
		>"$datadir.initdb.log" 2>&1 ||
		{ cat "$datadir.initdb.log" >&2; kt_log "error: initdb failed"; return 1; }

	{
		echo
		echo "# kafka_fdw test harness"
		echo "listen_addresses = ''"
		echo "port = $port"
		echo "unix_socket_directories = '$sockdir'"
		echo "shared_preload_libraries = '${KT_PRELOAD-kafka_fdw}'"
		echo "max_worker_processes = 16"
		echo "fsync = off"
		echo "lc_messages = 'C'"
		echo "log_line_prefix = '%m [%p] %q%a '"
		echo "log_min_messages = info"
		if [ -n "${KAFKA_TEST_BOOTSTRAP:-}" ]; then
			echo "kafka_fdw_test.bootstrap_servers = '$KAFKA_TEST_BOOTSTRAP'"
		fi
		if [ -n "${KAFKA_TEST_SCHEMA_REGISTRY_URL:-}" ]; then
			echo "kafka_fdw_test.schema_registry_url = '$KAFKA_TEST_SCHEMA_REGISTRY_URL'"
			echo "kafka_fdw_test.schema_registry_user = '${KAFKA_TEST_SCHEMA_REGISTRY_USER:-}'"
			echo "kafka_fdw_test.schema_registry_password = '${KAFKA_TEST_SCHEMA_REGISTRY_PASSWORD:-}'"
		fi
		for line in "$@"; do
			echo "$line"
		done
	} >>"$datadir/postgresql.conf"

	KT_PG_DATADIR=$datadir
	if ! "$KT_PG_BINDIR/pg_ctl" -D "$datadir" -l "$KT_PG_LOG" -w -t 60 start >/dev/null; then
		kt_log "PostgreSQL did not start; end of its log ($KT_PG_LOG):"
		tail -n 30 "$KT_PG_LOG" >&2
		kt_stop_postgres
		return 1
	fi
	PGHOST=$sockdir
	PGPORT=$port
	PGUSER=$(id -un)
	PGDATABASE=postgres
	export PGHOST PGPORT PGUSER PGDATABASE KT_PG_DATADIR KT_PG_LOG
	kt_log "PostgreSQL on port $port, socket in $sockdir, log $KT_PG_LOG"
}

kt_stop_postgres() {
	local datadir=$KT_PG_DATADIR pid
	[ -n "$datadir" ] || return 0
	KT_PG_DATADIR=
	[ -f "$datadir/postmaster.pid" ] || return 0
	if ! "$KT_PG_BINDIR/pg_ctl" -D "$datadir" -m fast -w -t 30 stop >/dev/null 2>&1; then
		"$KT_PG_BINDIR/pg_ctl" -D "$datadir" -m immediate -w -t 10 stop >/dev/null 2>&1 || {
			pid=$(head -n 1 "$datadir/postmaster.pid" 2>/dev/null)
			[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
		}
	fi
	return 0
}
