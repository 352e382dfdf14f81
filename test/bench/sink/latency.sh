#!/usr/bin/env bash
# latency.sh — how long a record takes to come out of a continuous stream
# into a kafka foreign table, against the same records read straight from
# their topic, same run.
#
# Starts its own loopback test broker and throwaway PostgreSQL server (as
# root it re-runs itself as the postgres user), then a continuous stream
# from topic live into topic live_out (PARTITIONS each, default 4) whose
# transform joins each order with its customer (a 1000-row dimension
# table).  A producer (confluent-kafka, linger.ms 0) sends RATE (default
# 1000) JSON orders a second for LATENCY_SECONDS (default 30), each stamped with
# its send time (sent_ms); one consumer (confluent-kafka, read_committed)
# reads both topics and notes when each record arrives.  Prints median and
# p95 of:
#
#   direct:    sent -> received from live (the broker and clients alone:
#              the baseline)
#   visible:   sent -> its output record received from live_out (targets:
#              median < 100 ms, p95 < 300 ms)
#   committed: sent -> commit of the batch that moved the stream's catalog
#              offsets past it (the commit timestamp of a row a trigger on
#              kafka.stream_offsets logs)
#
# The test broker serves a transaction's records to read_committed
# consumers before it commits (its log has no control records), so
# "visible" is what the mock allows; a real broker shows them once the
# Kafka transaction commits, which is just before the catalog's commit:
# "committed" bounds that from above.  Checks that every order came out
# once (by its kafka_fdw.source header).  Not part of the test suite.
#
#   bash test/bench/sink/latency.sh

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../harness/common.sh"
kt_drop_root "$here/latency.sh" "$@"

partitions=${PARTITIONS:-4}
rate=${RATE:-1000}
seconds=${LATENCY_SECONDS:-30}
tmp=${KT_TMPDIR:-$(mktemp -d)}
total=$((rate * seconds))

kt_start_broker "$tmp/broker" --topic "live:$partitions" --topic "live_out:$partitions"
kt_start_postgres "$tmp/pgdata" "track_commit_timestamp = on" "shared_buffers = '256MB'"
bs=$KAFKA_TEST_BOOTSTRAP

psql -X -q -v ON_ERROR_STOP=1 -o /dev/null <<SQL
CREATE EXTENSION kafka_fdw;
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER k;
CREATE TABLE customers (customer int PRIMARY KEY, name text, segment text);
INSERT INTO customers
SELECT c, 'customer ' || c, (ARRAY['retail', 'wholesale', 'online'])[1 + c % 3]
  FROM generate_series(0, 999) c;
ANALYZE customers;
CREATE FOREIGN TABLE live (seq bigint, customer int, amount numeric, sent_ms bigint,
    _partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
  SERVER k OPTIONS (topic 'live', format 'json');
CREATE FOREIGN TABLE live_out (seq bigint, customer int, amount numeric, sent_ms bigint,
    name text, segment text)
  SERVER k OPTIONS (topic 'live_out', format 'json');

-- when the catalog's offsets moved: the commit timestamps of these rows
CREATE TABLE offsets_moved ("partition" int, next_offset bigint);
CREATE FUNCTION log_offsets() RETURNS trigger LANGUAGE plpgsql AS
\$\$BEGIN INSERT INTO public.offsets_moved VALUES (NEW."partition", NEW.next_offset); RETURN NULL; END\$\$;
CREATE TRIGGER log_offsets AFTER UPDATE ON kafka.stream_offsets
  FOR EACH ROW WHEN (NEW.next_offset <> OLD.next_offset) EXECUTE FUNCTION log_offsets();

SELECT kafka.create_streaming_table('live_out', source => 'live', starting_offsets => 'latest',
  transform => 'SELECT b.seq, b.customer, b.amount, b.sent_ms, c.name, c.segment, b._partition, b._offset
                  FROM batch b JOIN customers c USING (customer)');
SQL

# the worker is up and reading before anything is sent
for _ in $(seq 1 300); do
	state=$(psql -X -qAt -c "SELECT string_agg(DISTINCT state, ',') FROM kafka.stream_progress
		WHERE stream = 'live_out'::regclass AND worker_pid IS NOT NULL")
	[ "$state" = running ] || [ "$state" = waiting ] && break
	sleep 0.1
done
[ "$state" = running ] || [ "$state" = waiting ] || kt_die "the stream's worker is not running: $state"

# the consumer: one line per record, topic partition offset sent_ms received_ms source
"$KT_PYTHON" - "$bs" "$partitions" "$total" "$tmp/seen" <<'PY' &
import json, os, sys, time
from confluent_kafka import Consumer, TopicPartition
bs, partitions, total, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
give_up = time.time() + 30 + total / 100     # whatever happens to the producer
c = Consumer({"bootstrap.servers": bs, "group.id": "latency", "enable.auto.commit": False,
              "isolation.level": "read_committed", "fetch.wait.max.ms": 10,
              "enable.partition.eof": False})
c.assign([TopicPartition(t, p, 0) for t in ("live", "live_out") for p in range(partitions)])
seen = {"live": 0, "live_out": 0}
deadline = None
with open(path + ".tmp", "w") as out:
    with open(path + ".ready", "w") as ready:
        ready.write("ready\n")
    while seen["live"] < total or seen["live_out"] < total:
        msg = c.poll(0.1)
        now = time.time()
        if seen["live"] >= total and deadline is None:
            deadline = now + 60         # the stream gets a minute to catch up
        if now > give_up or (deadline is not None and now > deadline):
            break
        if msg is None:
            continue
        if msg.error():
            if msg.error().fatal():
                sys.exit("consumer: %s" % msg.error())
            continue
        value = json.loads(msg.value())
        source = dict(msg.headers() or []).get("kafka_fdw.source", b"").decode()
        out.write("%s\t%d\t%d\t%d\t%d\t%s\n" % (msg.topic(), msg.partition(), msg.offset(),
                  value["sent_ms"], int(now * 1000), source))
        seen[msg.topic()] += 1
c.close()
os.rename(path + ".tmp", path)
PY
consumer=$!
stop_consumer() { kill "$consumer" 2>/dev/null || true; }
kt_on_exit stop_consumer
kt_wait_for_file "$tmp/seen.ready" 30 "$consumer" || kt_die "the consumer did not start"
sleep 1		# its partitions are assigned and fetching

echo "producing $total orders at $rate/s into live ($partitions partitions)..."
"$KT_PYTHON" - "$bs" "$rate" "$total" <<'PY'
import json, sys, time
from confluent_kafka import Producer
bs, rate, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
p = Producer({"bootstrap.servers": bs, "linger.ms": 0})
start = time.time()
for i in range(total):
    delay = start + i / rate - time.time()
    if delay > 0:
        time.sleep(delay)
    p.produce("live", json.dumps({"seq": i, "customer": i % 1000, "amount": i % 10000 / 100,
                                  "sent_ms": int(time.time() * 1000)}).encode())
    p.poll(0)
if p.flush(30):
    sys.exit("not every order was delivered")
PY
wait "$consumer" || kt_die "the consumer failed"
failure=$(psql -X -qAt -c "SELECT last_error FROM kafka.streaming_tables
	WHERE target = 'live_out'::regclass AND state = 'failed'")
[ -z "$failure" ] || kt_die "the stream failed: $failure"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE seen (topic text, "partition" int, "offset" bigint, sent_ms bigint,
    received_ms bigint, source text);
\\copy seen FROM '$tmp/seen'
SQL
read -r direct out sources <<<"$(psql -X -qAt -F ' ' -c "
	SELECT count(*) FILTER (WHERE topic = 'live'), count(*) FILTER (WHERE topic = 'live_out'),
	       count(DISTINCT source) FILTER (WHERE topic = 'live_out') FROM seen")"
[ "$direct" = "$total" ] || kt_die "the consumer read $direct of $total orders from live"
[ "$out" = "$total" ] && [ "$sources" = "$total" ] ||
	kt_die "live_out: $out records from $sources distinct sources, not $total"

latencies() {
	psql -X -qAt -F ' ' -c "
		SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
		       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 1),
		       round(max(ms)::numeric, 1)
		FROM ($1) s(ms)"
}
read -r d50 d95 dmax <<<"$(latencies "SELECT received_ms - sent_ms FROM seen WHERE topic = 'live'")"
read -r v50 v95 vmax <<<"$(latencies "SELECT received_ms - sent_ms FROM seen WHERE topic = 'live_out'")"
read -r c50 c95 cmax <<<"$(latencies "
	SELECT extract(epoch FROM (SELECT min(pg_xact_commit_timestamp(m.xmin)) FROM offsets_moved m
	                           WHERE m."partition" = split_part(s.source, '/', 2)::int
	                             AND m.next_offset > split_part(s.source, '/', 3)::bigint)) * 1000
	       - s.sent_ms
	FROM seen s WHERE s.topic = 'live_out'")"
batches=$(psql -X -qAt -c "SELECT batch_id FROM kafka.streaming_tables WHERE target = 'live_out'::regclass")

printf '\n%d orders at %d/s over %d partitions, continuous stream joining customers (%s batches):\n' \
	"$total" "$rate" "$partitions" "$batches"
printf '  direct     sent -> read from live:       median %6s ms, p95 %6s ms, max %6s ms\n' "$d50" "$d95" "$dmax"
printf '  visible    sent -> read from live_out:   median %6s ms, p95 %6s ms, max %6s ms (targets: < 100 ms, < 300 ms)\n' \
	"$v50" "$v95" "$vmax"
printf '  committed  sent -> its batch committed:  median %6s ms, p95 %6s ms, max %6s ms\n' "$c50" "$c95" "$cmax"
printf '  the stream adds (visible - direct): median %.1f ms, p95 %.1f ms\n' \
	"$(echo "$v50 - $d50" | bc -l)" "$(echo "$v95 - $d95" | bc -l)"
