--
-- read_kafka: bounded batch reads, checked against what an independent
-- producer (python3-confluent-kafka, test/fixtures/produce.py) wrote.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset
CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');

-- Error text with the test broker's random ports masked.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '127\.0\.0\.1:[0-9]+', 'BROKER', 'g');
END $$;

-- The canonical text the producer hashed: one line per record in
-- (partition, offset) order.
CREATE FUNCTION pg_temp.fingerprint(t text) RETURNS text LANGUAGE sql AS $$
  SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s|%s|%s', "partition", "offset",
      coalesce(encode(key, 'hex'), 'N'), coalesce(encode(value, 'hex'), 'N'),
      (extract(epoch FROM "timestamp") * 1000)::bigint,
      coalesce((SELECT string_agg(h.key || '=' || coalesce(encode(h.value, 'hex'), 'N'), ',' ORDER BY o)
                FROM unnest(headers) WITH ORDINALITY AS h(key, value, o)), '')),
    E'\n' ORDER BY "partition", "offset"), ''))
  FROM kafka.read_kafka(server => 'k', subscribe => t, includeHeaders => true)
$$;

-- Every record of every fixture, byte for byte: null keys and values, empty
-- and binary values, invalid UTF-8, repeated and null headers, and batches
-- compressed with gzip, snappy, lz4 and zstd.
SELECT t AS topic,
       (SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => t)) AS records,
       (SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => t))
         = current_setting('kafka_fdw_test.' || t || '_count')::bigint AS count_matches,
       pg_temp.fingerprint(t) = current_setting('kafka_fdw_test.' || t || '_md5') AS bytes_match
FROM unnest(ARRAY['fx_basic', 'fx_gzip', 'fx_snappy', 'fx_lz4', 'fx_zstd', 'fx_empty']) AS t;

-- Column types and a few records in full.
SELECT key, value, topic, "partition", "offset", "timestamp", timestamptype, headers
FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', includeHeaders => true)
WHERE "partition" = 1 ORDER BY "offset" LIMIT 10;
SELECT pg_typeof(key), pg_typeof(value), pg_typeof(topic), pg_typeof("partition"),
       pg_typeof("offset"), pg_typeof("timestamp"), pg_typeof(timestamptype), pg_typeof(headers)
FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic') LIMIT 1;
-- headers are NULL unless asked for
SELECT count(*) FILTER (WHERE headers IS NULL) AS without_headers
FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic');
SELECT sum(length(value)) AS value_bytes, count(*) FILTER (WHERE key IS NULL) AS null_keys,
       count(*) FILTER (WHERE value IS NULL) AS null_values,
       count(*) FILTER (WHERE value = '') AS empty_values
FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic');

-- Spark's parameter names, in either case; offsets per partition
-- (-2 earliest, -1 latest); partitions not named read everything.
SELECT "partition", count(*), min("offset"), max("offset")
FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                      startingOffsets => '{"fx_basic":{"0":5,"1":-2,"2":-1}}',
                      endingoffsets => '{"fx_basic":{"1":3}}')
GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingOffsets => 'latest');
SELECT "partition", count(*) FROM kafka.read_kafka(server => 'k', assign => '{"fx_basic":[0,2]}')
GROUP BY 1 ORDER BY 1;
SELECT topic, count(*) FROM kafka.read_kafka(server => 'k', subscribePattern => 'fx_(gzip|lz4)')
GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribePattern => 'no_such_.*');
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => ' fx_basic , fx_empty ');
-- an ending offset past the end is capped: the read stays bounded
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      endingOffsets => '{"fx_basic":{"0":1000}}');
-- a starting offset past the end reads nothing, and says so once per read,
-- naming each such partition with its high watermark (the end itself, 10,
-- is no more than "latest")
SELECT "partition", count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                      startingOffsets => '{"fx_basic":{"0":1000000,"1":10,"2":11}}')
GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM kafka.read_kafka(server => 'k', assign => '{"fx_basic":[1]}',
                                      startingOffsets => '{"fx_basic":{"1":25}}');
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      startingOffsets => '{"fx_basic":{"0":10,"1":9}}');

-- Timestamps resolve through offsets-for-times.  The loopback test broker
-- answers "no such offset" to every timestamp lookup; by Spark's rule that
-- means "latest", so a start by timestamp reads nothing and an end by
-- timestamp reads everything.  (Real brokers answer; see doc/reading.md.)
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingTimestamp => 0);
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', endingTimestamp => 1700000005000);
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      startingOffsetsByTimestamp => '{"fx_basic":{"1":0}}');
-- a timestamp is milliseconds since 1970 (any integer type, or digits in
-- text) or a point in time: a timestamptz, a timestamp (session time zone),
-- a date, or a literal of either; JSON values may be strings too
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      startingTimestamp => '2023-11-14 22:13:20+00'::timestamptz);
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      startingTimestamp => '2023-11-14 22:13:20+00');
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      startingtimestamp => '1700000000000', endingtimestamp => now());
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      startingTimestamp => 1700000000000::bigint,
                                      endingTimestamp => '2100-01-01'::date);
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      startingTimestamp => '1970-01-01 00:00:00'::timestamp,
                                      endingTimestamp => 'epoch'::text);
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      startingOffsetsByTimestamp => '{"fx_basic":{"1":"2023-11-14 22:13:20+00","2":1700000000000}}');
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      endingOffsetsByTimestamp => '{"fx_basic":{"0":"1700000000000"}}');
-- positional, as before
SELECT count(*) FROM kafka.read_kafka('k', NULL, 'fx_basic', NULL, NULL, 'earliest', 'latest', 0);
-- a view calling read_kafka with a timestamp keeps working
CREATE VIEW pg_temp.since AS SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
                                      endingTimestamp => '2100-01-01 00:00:00+00');
SELECT count(*) FROM pg_temp.since;
DROP VIEW pg_temp.since;

-- Streaming: in FROM it is a custom scan that returns rows as they arrive,
-- so LIMIT stops the read after the rows it needs.
EXPLAIN (COSTS OFF) SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_lz4') LIMIT 10;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_lz4') LIMIT 10;
-- joins, subqueries and parameters work as with any function
SELECT a."partition", count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_gzip') a
JOIN kafka.read_kafka(server => 'k', subscribe => 'fx_zstd') b USING ("partition", "offset")
GROUP BY 1 ORDER BY 1;
PREPARE r(text) AS SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => $1);
EXECUTE r('fx_snappy');
EXECUTE r('fx_basic');
DEALLOCATE r;
-- outside FROM it is an ordinary set-returning function
SELECT count(*) FROM (SELECT kafka.read_kafka(server => 'k', subscribe => 'fx_gzip')) s;
-- LATERAL arguments fall back to the (materializing) function scan
SELECT t, (SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => t)) FROM
  (VALUES ('fx_lz4'), ('fx_basic')) v(t) ORDER BY 1;
SELECT v.t, count(r.*) FROM (VALUES ('fx_empty'), ('fx_basic')) v(t),
  LATERAL kafka.read_kafka(server => 'k', subscribe => v.t) r GROUP BY 1 ORDER BY 1;

-- Per-call options tune fetching only.
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic',
  options => '{"kafka.fetch.max.bytes": 1048576, "fetch.wait.max.ms": "50", "check.crcs": true}');

-- The configuration a read uses: the extension's own properties are forced.
SELECT property, value FROM kafka.client_config('k')
WHERE property IN ('isolation.level', 'enable.auto.commit', 'enable.auto.offset.store',
                   'enable.partition.eof', 'allow.auto.create.topics', 'client.id')
ORDER BY 1;

--
-- Errors: each bad input names what is wrong.
--
\set VERBOSITY terse
SELECT * FROM kafka.read_kafka(server => 'k');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', assign => '{"fx_basic":[0]}');
SELECT * FROM kafka.read_kafka(subscribe => 'fx_basic');
SELECT * FROM kafka.read_kafka(server => 'k', bootstrapServers => :'bs', subscribe => 'fx_basic');
SELECT * FROM kafka.read_kafka(server => 'nosuch', subscribe => 'fx_basic');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingOffsets => 'soonest');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingOffsets => '{"fx_basic":{"0":5}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingOffsets => '{"fx_basic":{"0":-3}}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingOffsets => '{"fx_basic":{"zero":1}}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingOffsets => '{"fx_gzip":{"0":1}}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', endingOffsets => '{"fx_basic":{"0":-2}}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingTimestamp => -5);
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingTimestamp => 'yesterday-ish');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', endingTimestamp => '1969-12-31 23:59:59.999+00');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', endingTimestamp => 'infinity'::timestamptz);
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingTimestamp => '99999999999999999999');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingTimestamp => 1.5);
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingTimestamp => true);
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingOffsetsByTimestamp => '{"fx_basic":{"0":"soon"}}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', endingOffsetsByTimestamp => '{"fx_basic":{"0":true}}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', startingOffsetsByTimestamp => '[1]');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'no_such_topic');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic,,fx_lz4');
SELECT * FROM kafka.read_kafka(server => 'k', assign => '{"fx_basic":[0,7]}');
SELECT * FROM kafka.read_kafka(server => 'k', assign => '{"no_such_topic":[0]}');
SELECT * FROM kafka.read_kafka(server => 'k', assign => '{"fx_basic":[0,0]}');
SELECT * FROM kafka.read_kafka(server => 'k', assign => 'fx_basic');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"bootstrap_servers":"x:1"}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"kafka.bootstrap.servers":"x:1"}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"security.protocol":"ssl"}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"sasl.password":"pw"}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"ssl.ca.location":"/etc/passwd"}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"isolation.level":"read_uncommitted"}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"plugin.library.paths":"/tmp/x.so"}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"no.such.property":1}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '[1]');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"fetch.wait.max.ms":"soon"}');

-- An unreachable broker fails after the server's connect_timeout, naming it.
CREATE SERVER unreachable FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers '127.0.0.1:1', connect_timeout '1');
SELECT * FROM kafka.read_kafka(server => 'unreachable', subscribe => 'fx_basic');

-- A SASL server against the test broker (which has no SASL) fails at once,
-- naming the mechanism; the password appears nowhere.
CREATE SERVER sasl FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', security_protocol 'sasl_plaintext', sasl_mechanism 'SCRAM-SHA-512');
CREATE USER MAPPING FOR CURRENT_USER SERVER sasl
  OPTIONS (sasl_username 'alice', sasl_password 'Sup3r-Secret');
SELECT pg_temp.try($$SELECT count(*) FROM kafka.read_kafka(server => 'sasl', subscribe => 'fx_basic')$$);
SELECT property, value FROM kafka.client_config('sasl')
WHERE property IN ('security.protocol', 'sasl.mechanisms', 'sasl.username', 'sasl.password') ORDER BY 1;
-- credentials without a SASL protocol are a configuration mistake
CREATE SERVER nosasl FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER nosasl OPTIONS (sasl_username 'alice', sasl_password 'Sup3r-Secret');
SELECT * FROM kafka.read_kafka(server => 'nosasl', subscribe => 'fx_basic');

-- A pasted Databricks configuration works: Spark option names as aliases,
-- the JAAS line translated to a username and password.
CREATE SERVER databricks FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS ("kafka.bootstrap.servers" :'bs', "kafka.security.protocol" 'SASL_SSL', "kafka.sasl.mechanism" 'PLAIN');
CREATE USER MAPPING FOR CURRENT_USER SERVER databricks OPTIONS ("kafka.sasl.jaas.config"
  'kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule required username="key-123" password="Sup3r-Secret";');
SELECT property, value FROM kafka.client_config('databricks')
WHERE property IN ('bootstrap.servers', 'security.protocol', 'sasl.mechanisms', 'sasl.username', 'sasl.password')
  AND value !~ '127\.0\.0\.1' OR property = 'bootstrap.servers' AND value = :'bs' ORDER BY 1;
ALTER USER MAPPING FOR CURRENT_USER SERVER databricks OPTIONS (SET "kafka.sasl.jaas.config"
  'org.apache.kafka.common.security.scram.ScramLoginModule required username="key-123" password="Sup3r-Secret";');
SELECT * FROM kafka.client_config('databricks');
ALTER SERVER databricks OPTIONS (SET "kafka.sasl.mechanism" 'SCRAM-SHA-256');
SELECT property, value FROM kafka.client_config('databricks') WHERE property IN ('sasl.mechanisms', 'sasl.username') ORDER BY 1;

-- Option validation, before any connection.
CREATE SERVER bad1 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', sasl_password 'Sup3r-Secret');
CREATE SERVER bad2 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.sasl.password" 'Sup3r-Secret');
CREATE SERVER bad3 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.sasl.jaas.config" 'x');
CREATE SERVER bad4 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.plugin.library.paths" '/tmp/evil.so');
CREATE SERVER bad5 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.sasl.kerberos.kinit.cmd" 'rm -rf /');
CREATE SERVER bad6 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.isolation.level" 'read_uncommitted');
CREATE SERVER bad7 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.test.mock.num.brokers" '3');
CREATE SERVER bad8 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers 'no-port');
CREATE SERVER bad9 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', security_protocol 'tls');
CREATE SERVER bad10 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', sasl_mechanism 'MD5');
CREATE SERVER bad11 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', connect_timeout '0');
CREATE SERVER bad12 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', schema_registry_url 'file:///etc/passwd');
CREATE SERVER bad13 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', topic 'x');
CREATE SERVER bad14 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', nonsense 'x');
CREATE SERVER bad15 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.no.such.property" 'x');
CREATE SERVER bad16 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.bootstrap.servers" :'bs');
CREATE USER MAPPING FOR CURRENT_USER SERVER k OPTIONS (bootstrap_servers 'x:1');
CREATE USER MAPPING FOR CURRENT_USER SERVER k OPTIONS ("kafka.sasl.jaas.config" 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="Sup3r-Secret"');
CREATE USER MAPPING FOR CURRENT_USER SERVER k OPTIONS ("kafka.sasl.jaas.config" 'com.example.Kerberos required;');
CREATE FOREIGN DATA WRAPPER kafka_fdw2 HANDLER kafka.kafka_fdw_handler VALIDATOR kafka.kafka_fdw_validator OPTIONS (x 'y');

--
-- Non-superusers.
--
CREATE ROLE kafka_reader LOGIN;
CREATE ROLE kafka_direct NOLOGIN;
GRANT USAGE ON SCHEMA kafka TO kafka_reader;
SET ROLE kafka_reader;
-- no USAGE on the server
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic');
-- bootstrapServers directly is not for everyone
SELECT * FROM kafka.read_kafka(bootstrapServers => :'bs', subscribe => 'fx_basic');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER k TO kafka_reader;
SET ROLE kafka_reader;
-- USAGE, but no user mapping
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic');
RESET ROLE;
CREATE USER MAPPING FOR kafka_reader SERVER k;
SET ROLE kafka_reader;
-- a mapping without credentials: the broker would be reached as the database server
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic');
-- only a superuser may waive that
ALTER USER MAPPING FOR kafka_reader SERVER k OPTIONS (ADD password_required 'false');
-- superuser-only and refused properties, and bounds on memory
CREATE SERVER mine FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.ssl.ca.location" '/etc/ssl/certs/ca.pem');
RESET ROLE;
GRANT USAGE ON FOREIGN DATA WRAPPER kafka_fdw TO kafka_reader;
SET ROLE kafka_reader;
CREATE SERVER mine FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.ssl.ca.location" '/etc/ssl/certs/ca.pem');
CREATE SERVER mine FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.enable.ssl.certificate.verification" 'false');
CREATE SERVER mine FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.debug" 'all');
CREATE SERVER mine FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.ssl.engine.location" '/tmp/e.so');
CREATE SERVER mine FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.fetch.max.bytes" '1073741824');
CREATE SERVER mine FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.client.id" 'reporting');
RESET ROLE;
ALTER USER MAPPING FOR kafka_reader SERVER k OPTIONS (ADD password_required 'false');
SET ROLE kafka_reader;
SELECT count(*) FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"queued.max.messages.kbytes": 10000000}');
SELECT * FROM kafka.read_kafka(server => 'k', subscribe => 'fx_basic', options => '{"debug": "all"}');
-- the user mapping's secrets are not theirs to read
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'sasl';
RESET ROLE;
-- the administrator names a role allowed to give brokers directly
SET kafka_fdw.direct_connect_role = 'kafka_direct';
GRANT kafka_direct TO kafka_reader;
SET ROLE kafka_reader;
SELECT count(*) FROM kafka.read_kafka(bootstrapServers => :'bs', subscribe => 'fx_basic');
SET kafka_fdw.direct_connect_role = 'kafka_reader';
RESET ROLE;
RESET kafka_fdw.direct_connect_role;
\set VERBOSITY default

DROP SERVER mine CASCADE;
DROP OWNED BY kafka_reader;
DROP ROLE kafka_reader;
DROP ROLE kafka_direct;
DROP EXTENSION kafka_fdw CASCADE;
