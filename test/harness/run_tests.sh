#!/usr/bin/env bash
# run_tests.sh — the whole kafka_fdw test suite; `make installcheck` runs it.
#
# Starts a loopback Kafka test broker and fills the regression fixture topics,
# runs the unit tests, starts a throwaway PostgreSQL server and runs the
# pg_regress tests (sql/ + expected/) against it, then the TAP tests
# (test/t/*.pl).  It never touches a running server, and the source tree is
# only read: everything is written into a fresh temporary directory, removed
# on success and kept (and named) on failure.
#
# PostgreSQL refuses to run as root, so as root the suite re-runs itself as
# the postgres OS user (KT_TEST_USER), on a copy of the tree if that user
# cannot read this one.
#
# With KT_SANITIZE=1 (scripts/test.sh sets it) all of it runs a second time
# against an extension and unit tests built with AddressSanitizer and UBSan
# (see "sanitizer pass" below).
#
# The last line of output is always "N passed, N failed" (pg_regress tests,
# TAP test files and unit tests, of both passes, plus one item for "no
# sanitizer reports").
#
# Environment: PG_CONFIG (default pg_config), KT_TEST_USER (default postgres),
# KT_KEEP_TMP=1 keeps the temporary directory even on success,
# KT_TAP_TIMEOUT / KT_REGRESS_TIMEOUT (seconds, per TAP file / for pg_regress),
# KT_TESTS (space separated pg_regress tests to run instead of the schedule),
# KT_TAP (space separated TAP files, e.g. "001_harness.pl", to run instead of all),
# KT_TAP_JOBS (TAP files run at a time, default 3),
# KT_SANITIZE=1 adds the sanitizer pass (the same KT_TESTS / KT_TAP selection;
# KT_SANITIZE_TAP, if set, is its TAP selection instead; KT_SANITIZE_TIMEOUT,
# seconds, bounds the whole pass).

set -uo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pg_config=${PG_CONFIG:-pg_config}
command -v "$pg_config" >/dev/null || { echo "error: $pg_config not found" >&2; exit 2; }

KT_SRCDIR=$srcdir
. "$srcdir/test/harness/common.sh"
kt_drop_root "${BASH_SOURCE[0]}" "$@"

tmp=${KT_TMPDIR:-}
if [ -z "$tmp" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/kafka_fdw_test.XXXXXX") || exit 2
fi
mkdir -p "$tmp"
tmp=$(cd "$tmp" && pwd)

# ---------------------------------------------------------------------------
# The suite proper.

pkglibdir=$("$pg_config" --pkglibdir)
pg_regress=$pkglibdir/pgxs/src/test/regress/pg_regress

passed=0
failed=0
failures=()

banner() {
	printf '\n=== %s\n' "$*"
}

pass() {
	passed=$((passed + $1))
}

fail() {
	failed=$((failed + 1))
	failures+=("$1")
}

# A TAP test killed by its timeout cannot run its END blocks: stop whatever
# server it left in the temporary directory.
stop_leftover_servers() {
	local pidfile
	while IFS= read -r pidfile; do
		"$KT_PG_BINDIR/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w -t 10 stop \
			>/dev/null 2>&1 || true
	done < <(find "$tmp" -name postmaster.pid 2>/dev/null)
}
kt_on_exit stop_leftover_servers

# The failed assertions of the failed TAP files (of both passes) once more,
# next to the summary: the full output is further up.
failed_assertions() {
	local name prove
	for name in "${failures[@]}"; do
		case $name in
		sanitized:*.pl) prove=$tmp/sanitize/run/tap/$(basename "${name#sanitized:}" .pl).prove ;;
		*.pl) prove=$tmp/tap/$(basename "$name" .pl).prove ;;
		*) continue ;;
		esac
		[ -f "$prove" ] || continue
		banner "$name: failed assertions"
		grep -E '^#' "$prove" | grep -v '^# Looks like' | head -n 30
		[ "$(cat "${prove%.prove}.status" 2>/dev/null)" = 124 ] &&
			echo "timed out after ${KT_TAP_TIMEOUT:-900} s"
	done
}

finish() {
	stop_leftover_servers
	kt_stop_postgres
	kt_stop_broker
	kt_stop_schema_registry
	if [ "$failed" -gt 0 ]; then
		failed_assertions
		banner "failed: ${failures[*]}"
		echo "logs and results kept in ${KT_WORKDIR:-$tmp}"
	elif [ -n "${KT_KEEP_TMP:-}" ]; then
		echo "logs and results kept in $tmp"
	elif [ -z "${KT_TMPDIR:-}" ]; then
		rm -rf "$tmp"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# ---- broker and fixtures --------------------------------------------------

banner "test broker and fixture topics"
if ! kt_start_broker "$tmp/broker"; then
	fail "broker"
	finish
fi
if ! "$KT_PYTHON" "$KAFKA_TEST_PRODUCE" --fixtures --bootstrap "$KAFKA_TEST_BOOTSTRAP" \
	--state-dir "$KAFKA_TEST_STATE_DIR" --out "$tmp/fixtures.conf"; then
	fail "fixtures"
	finish
fi
# Foreign-table fixtures from a second, independent client (kafkajs).
if ! node "$srcdir/test/fixtures/produce_kafkajs.mjs" --bootstrap "$KAFKA_TEST_BOOTSTRAP" \
	--state-dir "$KAFKA_TEST_STATE_DIR" --out "$tmp/fixtures_kafkajs.conf" ||
	! cat "$tmp/fixtures_kafkajs.conf" >>"$tmp/fixtures.conf"; then
	fail "fixtures (kafkajs)"
	finish
fi
if ! kt_start_schema_registry "$tmp/schema_registry" fixture-user fixture-secret ||
	! "$KT_PYTHON" "$srcdir/test/fixtures/produce_avro.py" --fixtures \
		--bootstrap "$KAFKA_TEST_BOOTSTRAP" --registry "$KAFKA_TEST_SCHEMA_REGISTRY_URL" \
		--user fixture-user --password fixture-secret --out "$tmp/fixtures.conf"; then
	fail "avro fixtures"
	finish
fi
# Protobuf descriptor sets, built from test/fixtures/protobuf/*.proto by protoc.
if ! "$srcdir/test/fixtures/protobuf/build.sh" "$tmp/protobuf" ||
	! echo "kafka_fdw_test.protobuf_descriptors = '$tmp/protobuf'" >>"$tmp/fixtures.conf"; then
	fail "protobuf fixtures"
	finish
fi

# ---- unit tests -----------------------------------------------------------

unit=$srcdir/test/unit/unit_tests
if [ -x "$unit" ]; then
	banner "unit tests"
	timeout 300 "$unit" >"$tmp/unit_tests.out" 2>&1
	status=$?
	unit_ok=$(grep -c '^ok ' "$tmp/unit_tests.out")
	unit_failed=$(grep -c '^not ok ' "$tmp/unit_tests.out")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$tmp/unit_tests.out" | tail -n 1)
	pass "$unit_ok"
	if [ "$unit_failed" -gt 0 ]; then
		failed=$((failed + unit_failed - 1))
		fail "unit($unit_failed)"
	fi
	if [ "$status" -ne 0 ] && [ "$unit_failed" -eq 0 ]; then
		fail "unit(exit $status)"
	elif [ -n "$plan" ] && [ "$plan" -ne $((unit_ok + unit_failed)) ]; then
		fail "unit(planned $plan, ran $((unit_ok + unit_failed)))"
	fi
	if [ "$status" -ne 0 ] || [ "$unit_failed" -gt 0 ]; then
		cat "$tmp/unit_tests.out"
	else
		echo "$unit_ok unit tests ok"
	fi
fi

# ---- pg_regress -----------------------------------------------------------

regress_args=()
if [ -n "${KT_TESTS:-}" ]; then
	read -r -a regress_args <<<"$KT_TESTS"
elif [ -f "$srcdir/test/regress_schedule" ]; then
	regress_args=(--schedule="$srcdir/test/regress_schedule")
else
	# sql/ also keeps the extension's released and upgrade scripts
	while IFS= read -r f; do
		case "$(basename "$f")" in kafka_fdw--*) continue ;; esac
		regress_args+=("$(basename "$f" .sql)")
	done < <(LC_ALL=C ls "$srcdir"/sql/*.sql 2>/dev/null | LC_ALL=C sort)
fi

banner "pg_regress (${#regress_args[@]} tests or schedules)"
if [ "${#regress_args[@]}" -eq 0 ]; then
	echo "no pg_regress tests"
elif ! kt_start_postgres "$tmp/pgdata" "include '$tmp/fixtures.conf'"; then
	fail "postgres"
else
	mkdir -p "$tmp/regress"
	timeout "${KT_REGRESS_TIMEOUT:-1800}" "$pg_regress" \
		--bindir="$KT_PG_BINDIR" \
		--host="$PGHOST" --port="$PGPORT" \
		--inputdir="$srcdir" --outputdir="$tmp/regress" \
		--dbname=contrib_regression "${regress_args[@]}" 2>&1 |
		tee "$tmp/regress/pg_regress.out"
	status=${PIPESTATUS[0]}
	regress_ok=$(grep -Ec '\.\.\. ok|\.\.\. failed \(ignored\)' "$tmp/regress/pg_regress.out")
	regress_failed=0
	pass "$regress_ok"
	while read -r name; do
		regress_failed=$((regress_failed + 1))
		fail "$name"
	done < <(sed -n 's/^\(test \)\{0,1\} *\([^ ]*\) *\.\.\. FAILED.*/\2/p' "$tmp/regress/pg_regress.out")
	if [ "$status" -ne 0 ] && [ "$regress_failed" -eq 0 ]; then
		fail "pg_regress(exit $status)"
	fi
	if [ -s "$tmp/regress/regression.diffs" ]; then
		banner "regression.diffs"
		cat "$tmp/regress/regression.diffs"
	fi
	if [ "$status" -ne 0 ]; then
		banner "end of the server log"
		tail -n 40 "$KT_PG_LOG"
	fi
	kt_stop_postgres
fi

# ---- TAP ------------------------------------------------------------------

tap_files=()
if [ -n "${KT_TAP:-}" ]; then
	for f in $KT_TAP; do
		tap_files+=("$srcdir/test/t/$(basename "$f")")
	done
else
	while IFS= read -r f; do
		tap_files+=("$f")
	done < <(LC_ALL=C ls "$srcdir"/test/t/*.pl 2>/dev/null | LC_ALL=C sort)
fi

# The files that take longest start first, so that the last minutes do not
# run one long file alone (in both passes these took a minute or more; the
# rest follow in name order).
tap_slow_first="044_stream_pg_cron 056_stream_keyed_exactly_once 083_stream_progress
	080_stream_kafka_target 082_stream_group_mirror 070_stream_partitioned
	059_stream_target_ddl 090_stream_chaos 064_delta_stream_live 046_stream_launcher
	060_delta_readers 030_produce"
ordered=()
for slow in $tap_slow_first; do
	for f in "${tap_files[@]}"; do
		[ "$(basename "$f" .pl)" = "$slow" ] && ordered+=("$f")
	done
done
for f in "${tap_files[@]}"; do
	case " $(echo $tap_slow_first) " in
	*" $(basename "$f" .pl) "*) ;;
	*) ordered+=("$f") ;;
	esac
done
tap_files=("${ordered[@]}")

# run_tap_file FILE — one TAP file under prove, its output in
# $tmp/tap/NAME.prove and prove's exit status in $tmp/tap/NAME.status.
run_tap_file() {
	local f=$1 name status
	name=$(basename "$f" .pl)
	mkdir -p "$tmp/tap/$name"
	(
		cd "$tmp/tap/$name" || exit 1
		unset PGHOST PGPORT PGUSER PGDATABASE KAFKA_TEST_BOOTSTRAP KAFKA_TEST_STATE_DIR \
			KAFKA_TEST_SCHEMA_REGISTRY_URL KAFKA_TEST_SCHEMA_REGISTRY_DIR
		export PATH="$KT_PG_BINDIR:$PATH"
		export PERL5LIB="$pkglibdir/pgxs/src/test/perl:$srcdir/test/perl${PERL5LIB:+:$PERL5LIB}"
		export TESTDIR="$tmp/tap/$name"
		export PG_REGRESS="$pg_regress"
		export PG_TEST_PORT_DIR="$tmp/tap/portlock"
		export SRCDIR="$srcdir"
		export KAFKA_TEST_BROKER_BIN KAFKA_TEST_PRODUCE KT_PYTHON KAFKA_TEST_SCHEMA_REGISTRY_BIN
		timeout -k 30 "${KT_TAP_TIMEOUT:-900}" prove --timer "$f"
	) >"$tmp/tap/$name.prove" 2>&1
	status=$?
	echo "$status" >"$tmp/tap/$name.status"
}

# A TAP test killed by its timeout cannot run its END blocks: stop the
# servers it left in its own directory (other files may be running).
stop_tap_servers() {
	local name=$1 pidfile
	while IFS= read -r pidfile; do
		"$KT_PG_BINDIR/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w -t 10 stop \
			>/dev/null 2>&1 || true
	done < <(find "$tmp/tap/$name" -name postmaster.pid 2>/dev/null)
}

# report_tap_file NAME — counts a finished file and prints its result (all
# of its output and the end of its log when it failed).
report_tap_file() {
	local name=$1 status log
	status=$(cat "$tmp/tap/$name.status" 2>/dev/null || echo 1)
	if [ "$status" -eq 0 ]; then
		pass 1
		grep -E '\.\. ok' "$tmp/tap/$name.prove" || echo "$name ok"
	else
		fail "$name.pl"
		cat "$tmp/tap/$name.prove"
		[ "$status" -eq 124 ] && echo "$name: timed out after ${KT_TAP_TIMEOUT:-900} s"
		log=$tmp/tap/$name/tmp_check/log/regress_log_$name
		if [ -f "$log" ]; then
			banner "end of $log"
			tail -n 60 "$log"
		fi
	fi
	stop_tap_servers "$name"
}

# The files run KT_TAP_JOBS at a time (default 3): each starts its own
# brokers, registries and servers on ports of its own, and most of a file's
# time is spent waiting for them, not computing.
tap_jobs=${KT_TAP_JOBS:-3}
banner "TAP (${#tap_files[@]} files, $tap_jobs at a time)"
if [ "${#tap_files[@]}" -gt 0 ]; then
	kt_stop_broker		# each TAP file starts the brokers it needs
	kt_stop_schema_registry
	mkdir -p "$tmp/tap"
	declare -A tap_running=()
	# wait_tap_file — waits for one running file to end and reports it.
	wait_tap_file() {
		local pid
		while :; do
			wait -n -p pid "${!tap_running[@]}"
			[ -n "${pid:-}" ] || return 1
			if [ -n "${tap_running[$pid]:-}" ]; then
				report_tap_file "${tap_running[$pid]}"
				unset "tap_running[$pid]"
				return 0
			fi
		done
	}
	for f in "${tap_files[@]}"; do
		while [ "${#tap_running[@]}" -ge "$tap_jobs" ]; do
			wait_tap_file || break
		done
		run_tap_file "$f" &
		tap_running[$!]=$(basename "$f" .pl)
	done
	while [ "${#tap_running[@]}" -gt 0 ]; do
		wait_tap_file || break
	done
fi

# ---- sanitizer pass -------------------------------------------------------
#
# The whole run once more, from a copy of the tree built with `make
# SANITIZE=1` (extension, unit tests).  Debian's PostgreSQL is not built
# with the sanitizers, so only the extension is instrumented and the server
# runs with the ASan runtime preloaded.  The preload must reach
# the server and nothing else (psql, perl, python, node and kcat run as
# usual), so the pass uses a relocated copy of the PostgreSQL installation
# (its binaries find share/ and lib/ relative to themselves, and its
# pg_config reports the copy) with the sanitized extension installed into it
# and bin/postgres replaced by a wrapper that sets LD_PRELOAD and execs the
# real binary (pg_ctl and initdb find "postgres" next to themselves and run
# `postgres -V`, which the wrapper passes through).
#
# Reports go to stderr, which is the server log for every backend and
# background worker (ASan's log_path is not reliable in the server's
# children), the unit tests' output file, the TAP logs: after the run every
# log of the pass is searched, and any report fails it.

# ASan: no leak checks (PostgreSQL releases memory by resetting contexts
# and by exiting, which LeakSanitizer would report by the thousand); a
# smaller quarantine than the 256 MB default, as every backend and worker
# has its own; a failed malloc returns NULL, which PostgreSQL reports as
# "out of memory", instead of aborting; freed memory is kept rather than
# returned to the system and new blocks are not filled (both cost page
# faults and time in every server process, and neither finds anything).
# UBSan: print the stack and go on
# (the same as asan_preload.c gives the server).
sanitizer_asan_options="detect_leaks=0:quarantine_size_mb=64:allocator_may_return_null=1:allocator_release_to_os_interval_ms=-1:max_malloc_fill_size=0"
sanitizer_ubsan_options="print_stacktrace=1"
sanitizer_report_re='^==[0-9]+==ERROR: [A-Za-z]+Sanitizer|: runtime error: |^SUMMARY: [A-Za-z]+Sanitizer'

# sanitizer_postgres DIR — a relocated copy of the installation $pg_config
# describes, under DIR (at DIR/<its own paths>), with a preloading
# bin/postgres; prints the copy's pg_config.
sanitizer_postgres() {
	local dir=$1 bindir d real libasan
	libasan=$(${CC:-gcc} -print-file-name=libasan.so)
	if [ ! -f "$libasan" ]; then
		kt_log "error: no AddressSanitizer runtime ($libasan)"
		return 1
	fi
	bindir=$("$pg_config" --bindir) || return 1
	# bin/.., which holds lib/ (pkglibdir) on Debian, then share/.
	for d in "$(dirname "$bindir")" "$("$pg_config" --sharedir)" "$("$pg_config" --pkglibdir)"; do
		[ -e "$dir$d" ] && continue
		mkdir -p "$dir$(dirname "$d")" && cp -a "$d" "$dir$d" || return 1
	done
	# Headers are only read: links to the real ones.
	for d in "$("$pg_config" --includedir)" "$("$pg_config" --includedir-server)" \
		"$("$pg_config" --pkgincludedir)"; do
		[ -e "$dir$d" ] && continue
		real=$(cd "$d" && pwd -P) || return 1
		mkdir -p "$dir$(dirname "$d")" && ln -s "$real" "$dir$d" || return 1
	done
	if [ "$("$dir$bindir/pg_config" --bindir)" != "$dir$bindir" ]; then
		kt_log "error: the PostgreSQL installation in $bindir is not relocatable"
		return 1
	fi
	# See asan_preload.c: without it the preloaded runtime hangs the server.
	${CC:-gcc} -shared -fPIC -o "$dir$bindir/asan_preload.so" \
		"$srcdir/test/harness/asan_preload.c" || return 1
	mv "$dir$bindir/postgres" "$dir$bindir/postgres.bin" || return 1
	# UBSan's runtime comes with the extension (and its options from
	# asan_preload.c).
	{
		echo '#!/bin/sh'
		echo '# The server with the ASan runtime preloaded (run_tests.sh).'
		printf 'LD_PRELOAD=%q${LD_PRELOAD:+:$LD_PRELOAD}\n' \
			"$libasan:$dir$bindir/asan_preload.so"
		printf 'ASAN_OPTIONS=%q\n' "$sanitizer_asan_options"
		echo 'export LD_PRELOAD ASAN_OPTIONS'
		printf 'exec %q "$@"\n' "$dir$bindir/postgres.bin"
	} >"$dir$bindir/postgres" && chmod 755 "$dir$bindir/postgres" || return 1
	if ! timeout 60 "$dir$bindir/postgres" -V >&2; then
		kt_log "error: postgres -V with the AddressSanitizer runtime preloaded failed"
		return 1
	fi
	echo "$dir$bindir/pg_config"
}

sanitizer_pass() {
	local san=$tmp/sanitize copy_config tree status summary names name
	local -a files
	mkdir -p "$san"
	if ! copy_config=$(sanitizer_postgres "$san/pg"); then
		fail "sanitizer(postgres copy)"
		return
	fi
	# A copy of the tree, so the regular build stays as it is; the test
	# dependencies in node_modules are only read.
	tree=$san/src
	mkdir -p "$tree"
	tar -C "$srcdir" --exclude=./.git --exclude=./test/node_modules -cf - . | tar -C "$tree" -xf -
	[ -e "$srcdir/test/node_modules" ] && ln -s "$srcdir/test/node_modules" "$tree/test/node_modules"
	echo "building with SANITIZE=1 (log: $san/build.log)"
	if ! (cd "$tree" && make clean PG_CONFIG="$copy_config" &&
		make -j"$(nproc)" SANITIZE=1 PG_CONFIG="$copy_config" &&
		make install SANITIZE=1 PG_CONFIG="$copy_config" &&
		make testtools SANITIZE=1 PG_CONFIG="$copy_config") >"$san/build.log" 2>&1; then
		tail -n 40 "$san/build.log"
		fail "sanitizer(build)"
		return
	fi
	# The inner run sets everything up for itself (common.sh exports what it
	# derives; none of the outer run's values may leak in).  The options
	# reach the unit tests; only the wrapper preloads anything.
	env -u KT_PG_BINDIR -u KAFKA_TEST_BROKER_BIN -u KAFKA_TEST_PRODUCE \
		-u KAFKA_TEST_SCHEMA_REGISTRY_BIN -u KT_SRCDIR \
		-u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u KT_PG_DATADIR -u KT_PG_LOG \
		PG_CONFIG="$copy_config" KT_TMPDIR="$san/run" KT_SANITIZE=0 \
		KT_TAP="${KT_SANITIZE_TAP-${KT_TAP:-}}" \
		ASAN_OPTIONS="$sanitizer_asan_options" UBSAN_OPTIONS="$sanitizer_ubsan_options" \
		timeout -k 30 "${KT_SANITIZE_TIMEOUT:-3600}" \
		bash "$tree/test/harness/run_tests.sh" 2>&1 | tee "$san/run_tests.out"
	status=${PIPESTATUS[0]}
	summary=$(tail -n 1 "$san/run_tests.out")
	if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		names=$(sed -n 's/^=== failed: //p' "$san/run_tests.out" | tail -n 1)
		for name in $names; do
			failures+=("sanitized:$name")
		done
		if [ "$status" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
			fail "sanitized(exit $status)"
		fi
	else
		fail "sanitized(exit $status)"
	fi

	banner "sanitizer reports"
	files=()
	while IFS= read -r name; do
		files+=("$name")
	done < <(grep -rlE "$sanitizer_report_re" "$san/run" "$san/run_tests.out" \
		--include='*.log' --include='*.out' --include='*.prove' \
		--include='regress_log_*' 2>/dev/null | LC_ALL=C sort)
	if [ "${#files[@]}" -eq 0 ]; then
		echo "none"
		pass 1
	else
		for name in "${files[@]}"; do
			banner "$name"
			grep -nE -A 40 "$sanitizer_report_re" "$name" | head -n 200
		done
		fail "sanitizer-reports(${#files[@]} files)"
	fi
}

if [ "${KT_SANITIZE:-0}" = 1 ]; then
	banner "sanitizer pass (AddressSanitizer, UndefinedBehaviorSanitizer)"
	sanitizer_pass
fi

finish
