#!/usr/bin/env bash
# run.sh — continuous streams from one topic into another (a kafka foreign
# table as the streaming table) against kcat -C | kcat -P copying the same
# topic, same run.
#
# Starts its own loopback test broker and throwaway PostgreSQL server (as
# root it re-runs itself as the postgres user), produces MESSAGES (default
# 1000000) small JSON orders {"id", "customer", "amount"} (1000 customers)
# over PARTITIONS (default 32) partitions, lz4-compressed, and a dimension
# table of the 1000 customers.  Then, RUNS times (default 3), each into
# fresh output topics of OUT_PARTITIONS (default 32) partitions (the test
# broker cannot delete topics, and keeps only ~5 MiB per partition), in an
# order that rotates from run to run:
#
#   join:  a continuous stream whose transform joins each order with its
#          customer (name, segment): SELECT ... FROM batch b JOIN customers
#   copy:  a continuous stream without a transform (the same three fields)
#   kcat:  kcat -C -e -o beginning | kcat -P -z lz4 (idempotent), the values
#          copied as they are (the baseline)
#
# and, for scale, the join stream's backlog loaded by
#
#   refresh: CALL kafka.refresh_streaming_table(...) of the same join
#            stream created with trigger 'available_now'
#
# A stream's time runs from create_streaming_table (starting_offsets
# 'earliest'; the launcher starts its worker) until its committed offsets
# (sum of kafka.stream_offsets.next_offset) reach the end of the topic, the
# refresh's until the CALL returns, kcat's until kcat -P has flushed.  Every
# output topic is then read back with kcat: MESSAGES records (so none aged
# out), each input record once (by the kafka_fdw.source header), each
# joined record with its customer's name.  Prints medians, records/s and
# the ratios continuous stream / kcat (acceptance >= 0.5x, goal >= 1.0x).
# BATCH sets max_offsets_per_trigger (default: the streams' default).  Not
# part of the test suite.
#
#   bash test/bench/sink/run.sh

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../harness/common.sh"
kt_drop_root "$here/run.sh" "$@"

messages=${MESSAGES:-1000000}
partitions=${PARTITIONS:-32}
out_partitions=${OUT_PARTITIONS:-32}
runs=${RUNS:-3}
batch=${BATCH:-}
tmp=${KT_TMPDIR:-$(mktemp -d)}

kt_start_broker "$tmp/broker" --topic "orders:$partitions"
kt_start_postgres "$tmp/pgdata" "max_wal_size = '4GB'" "shared_buffers = '256MB'"
bs=$KAFKA_TEST_BOOTSTRAP

echo "producing $messages JSON orders over $partitions partitions (lz4)..."
"$KT_PYTHON" - "$bs" "$messages" "$partitions" <<'PY'
import json, sys
from confluent_kafka import Producer
bs, messages, partitions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
p = Producer({"bootstrap.servers": bs, "compression.type": "lz4",
              "linger.ms": 50, "batch.num.messages": 10000})
for i in range(messages):
    p.produce("orders", partition=i % partitions,
              value=json.dumps({"id": i, "customer": i % 1000,
                                "amount": round((i * 37 % 100000) / 100, 2)},
                               separators=(",", ":")).encode())
    if i % 10000 == 0:
        p.poll(0)
if p.flush(120):
    sys.exit("not every order was delivered")
PY

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION kafka_fdw;
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers '$bs', "kafka.compression.type" 'lz4');
CREATE USER MAPPING FOR CURRENT_USER SERVER k;
CREATE FOREIGN TABLE orders_topic (id bigint, customer int, amount numeric,
    _partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'orders', format 'json');
CREATE TABLE customers (customer int PRIMARY KEY, name text, segment text);
INSERT INTO customers
SELECT c, 'customer ' || c, (ARRAY['retail', 'wholesale', 'online'])[1 + c % 3]
  FROM generate_series(0, 999) c;
ANALYZE customers;
SQL
kt_check_topic k orders "$messages"

join_transform='SELECT b.id, b.customer, b.amount, c.name, c.segment, b._partition, b._offset
                  FROM batch b JOIN customers c USING (customer)'

# run_stream KIND RUN — a stream into a fresh topic KIND_RUN (join and
# copy: continuous; refresh: the join stream, available_now), timed from its
# creation until its offsets reach the end of orders.
run_stream() {
	local kind=$1 run=$2 target=$1_$2 columns transform trigger=continuous t0 t1
	kt_create_topic "$target" "$out_partitions"
	if [ "$kind" = refresh ]; then
		trigger=available_now
	fi
	if [ "$kind" != copy ]; then
		columns='id bigint, customer int, amount numeric, name text, segment text'
		transform="'$join_transform'"
	else
		columns='id bigint, customer int, amount numeric'
		transform=NULL
	fi
	psql -X -q -v ON_ERROR_STOP=1 -c "CREATE FOREIGN TABLE $target ($columns)
	  SERVER k OPTIONS (topic '$target', format 'json')"
	psql -X -q -c CHECKPOINT
	t0=$(kt_now)
	psql -X -q -v ON_ERROR_STOP=1 -c "SELECT kafka.create_streaming_table('$target',
	  source => 'orders_topic', starting_offsets => 'earliest', transform => $transform,
	  trigger => '$trigger' ${batch:+, max_offsets_per_trigger => $batch})" >/dev/null
	if [ "$kind" = refresh ]; then
		PGOPTIONS='-c client_min_messages=warning' \
			psql -X -q -v ON_ERROR_STOP=1 -c "CALL kafka.refresh_streaming_table('$target')" >/dev/null
	fi
	# one backend polls the catalog, stopping at a failed stream
	psql -X -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$
DECLARE
  deadline timestamptz := clock_timestamp() + interval '10 minutes';
  failure text;
BEGIN
  LOOP
    EXIT WHEN (SELECT coalesce(sum(next_offset), 0) FROM kafka.stream_offsets
               WHERE stream = '$target'::regclass) >= $messages;
    SELECT last_error INTO failure FROM kafka.streaming_tables
     WHERE target = '$target'::regclass AND state = 'failed';
    IF FOUND THEN
      RAISE EXCEPTION 'stream $target failed: %', failure;
    END IF;
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'stream $target did not reach the end of the topic';
    END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
END
\$\$;
SQL
	t1=$(kt_now)
	echo "$t1 - $t0" | bc -l >"$tmp/time"
	psql -X -qAt -c "SELECT batch_id FROM kafka.streaming_tables WHERE target = '$target'::regclass" \
		>"$tmp/batches"
	psql -X -q -c "SELECT kafka.drop_streaming_table('$target')" >/dev/null
}

run_kcat() {
	local t0 t1
	kt_create_topic "kcat_$1" "$out_partitions"
	t0=$(kt_now)
	kcat -C -b "$bs" -t orders -e -q -o beginning -f '%s\n' |
		kcat -P -b "$bs" -t "kcat_$1" -z lz4 -X enable.idempotence=true
	t1=$(kt_now)
	echo "$t1 - $t0" | bc -l >"$tmp/time"
}

# check_output TOPIC — kcat reads TOPIC back: MESSAGES records (so nothing
# aged out), each input record once by its source header, joined records
# with their customer's name
check_output() {
	local out
	out=$(kcat -C -b "$bs" -t "$1" -e -q -o beginning -f '%h\t%s\n' | awk -F '\t' '
		{ n++ }
		match($1, /kafka_fdw\.source=[^,]*/) { seen[substr($1, RSTART, RLENGTH)]++ }
		/"name":/ {
			match($2, /"customer":[0-9]+/); c = substr($2, RSTART + 11, RLENGTH - 11)
			if (index($2, "\"name\":\"customer " c "\"") == 0) wrong++
		}
		END { printf "%d %d %d\n", n, length(seen), wrong }')
	case "$1" in
	kcat_*) [ "${out%% *}" = "$messages" ] || kt_die "$1 holds ${out%% *} records, not $messages" ;;
	*) [ "$out" = "$messages $messages 0" ] ||
		kt_die "$1: records, distinct source headers, wrongly joined: $out (want $messages $messages 0)" ;;
	esac
}

join_times=() copy_times=() kcat_times=() refresh_times=() join_batches=() copy_batches=()
for i in $(seq 1 "$runs"); do
	# who goes first rotates from run to run
	case $((i % 3)) in
	1) order="join copy kcat refresh" ;;
	2) order="copy kcat join refresh" ;;
	0) order="kcat join copy refresh" ;;
	esac
	for what in $order; do
		case $what in
		join) run_stream join "$i"; join_times+=("$(cat "$tmp/time")"); join_batches+=("$(cat "$tmp/batches")") ;;
		copy) run_stream copy "$i"; copy_times+=("$(cat "$tmp/time")"); copy_batches+=("$(cat "$tmp/batches")") ;;
		kcat) run_kcat "$i"; kcat_times+=("$(cat "$tmp/time")") ;;
		refresh) run_stream refresh "$i"; refresh_times+=("$(cat "$tmp/time")") ;;
		esac
	done
	check_output "join_$i"
	check_output "copy_$i"
	check_output "kcat_$i"
	check_output "refresh_$i"
	printf 'run %d: join stream %.3f s (%s batches), copy stream %.3f s (%s batches), kcat|kcat %.3f s, refresh %.3f s\n' \
		"$i" "${join_times[-1]}" "${join_batches[-1]}" "${copy_times[-1]}" \
		"${copy_batches[-1]}" "${kcat_times[-1]}" "${refresh_times[-1]}"
done

jn=$(printf '%s\n' "${join_times[@]}" | kt_median)
cp=$(printf '%s\n' "${copy_times[@]}" | kt_median)
kc=$(printf '%s\n' "${kcat_times[@]}" | kt_median)
printf '\nmedian of %d runs, %d JSON orders over %d partitions into %d-partition topics (lz4):\n' \
	"$runs" "$messages" "$partitions" "$out_partitions"
printf '  stream, transform joins customers   %.3f s  %10.0f records/s\n' "$jn" "$(echo "$messages / $jn" | bc -l)"
printf '  stream, no transform                %.3f s  %10.0f records/s\n' "$cp" "$(echo "$messages / $cp" | bc -l)"
printf '  kcat -C | kcat -P                   %.3f s  %10.0f records/s\n' "$kc" "$(echo "$messages / $kc" | bc -l)"
rf=$(printf '%s\n' "${refresh_times[@]}" | kt_median)
printf '  for scale: refresh (available_now)  %.3f s  %10.0f records/s  (the join stream)\n' \
	"$rf" "$(echo "$messages / $rf" | bc -l)"
printf '  ratio join stream / kcat: %.2fx, no-transform stream / kcat: %.2fx (acceptance >= 0.5x, goal >= 1.0x)\n' \
	"$(echo "$kc / $jn" | bc -l)" "$(echo "$kc / $cp" | bc -l)"
# the same ratios run by run: kcat's own speed moves the most between runs
ratios=()
for i in "${!join_times[@]}"; do
	ratios+=("$(printf '%.2f/%.2f' "$(echo "${kcat_times[i]} / ${join_times[i]}" | bc -l)" \
		"$(echo "${kcat_times[i]} / ${copy_times[i]}" | bc -l)")")
done
printf '  run by run (join/no transform): %s\n' "${ratios[*]}"
