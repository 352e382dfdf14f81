--
-- options: what CREATE/ALTER can check before any connection (librdkafka
-- property values, avro_schema), and password_required for non-superusers.
--
CREATE EXTENSION kafka_fdw;
SELECT current_setting('kafka_fdw_test.bootstrap_servers') AS bs \gset

--
-- librdkafka property values are tried on a throwaway librdkafka
-- configuration at CREATE/ALTER, not first at use.
--
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.socket.timeout.ms" '-5');
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.compression.type" 'zip');
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.check.crcs" 'maybe');
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.message.max.bytes" '10');
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.acks" 'some');
-- values librdkafka takes alone but not with the always-idempotent producer
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.acks" '0');
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.request.required.acks" '1');
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.max.in.flight" '6');
-- valid values pass, including acks=all, a topic-level property
CREATE SERVER good FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs',
  "kafka.acks" 'all', "kafka.compression.type" 'zstd', "kafka.socket.timeout.ms" '30000',
  "kafka.linger.ms" '5', "kafka.max.in.flight" '5', "kafka.check.crcs" 'true');
SELECT property, value FROM kafka.client_config('good')
WHERE property IN ('compression.codec', 'socket.timeout.ms', 'queue.buffering.max.ms', 'check.crcs') ORDER BY 1;
-- ALTER SERVER is checked the same way
ALTER SERVER good OPTIONS (SET "kafka.linger.ms" '-1');
ALTER SERVER good OPTIONS (ADD "kafka.partitioner" 'nearest');
ALTER SERVER good OPTIONS (ADD "kafka.partitioner" 'murmur2');
-- per-call options too, before anything connects
SELECT * FROM kafka.read_kafka(server => 'good', subscribe => 'fx_basic', options => '{"fetch.wait.max.ms": -5}');
SELECT * FROM kafka.read_kafka(server => 'good', subscribe => 'fx_basic', options => '{"check.crcs": "sometimes"}');
SELECT count(*) FROM kafka.read_kafka(server => 'good', subscribe => 'fx_basic', options => '{"fetch.wait.max.ms": 10}');

--
-- Java client property names, as Spark users paste them with the "kafka."
-- prefix: mapped to librdkafka's name and unit, then checked under that name.
--
CREATE SERVER spark FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs',
  "kafka.max.request.size" '2097152', "kafka.fetch.max.wait.ms" '250', "kafka.retries" '10',
  "kafka.buffer.memory" '33554433', "kafka.send.buffer.bytes" '-1', "kafka.receive.buffer.bytes" '65536',
  "kafka.enable.idempotence" 'true', "kafka.isolation.level" 'read_committed',
  "kafka.batch.size" '16384', "kafka.linger.ms" '20', "kafka.delivery.timeout.ms" '120000',
  "kafka.request.timeout.ms" '30000', "kafka.compression.type" 'lz4', "kafka.acks" 'all',
  "kafka.client.id" 'spark-job', "kafka.fetch.min.bytes" '1', "kafka.fetch.max.bytes" '4194304',
  "kafka.max.partition.fetch.bytes" '524288', "kafka.security.protocol" 'PLAINTEXT');
-- librdkafka's names and units (buffer.memory: bytes to KiB, rounded up;
-- send.buffer.bytes -1: the system default, librdkafka's 0)
SELECT property, value FROM kafka.client_config('spark')
WHERE property IN ('message.max.bytes', 'fetch.wait.max.ms', 'message.send.max.retries',
                   'queue.buffering.max.kbytes', 'socket.send.buffer.bytes',
                   'socket.receive.buffer.bytes', 'isolation.level',
                   'batch.size', 'queue.buffering.max.ms', 'compression.codec', 'client.id',
                   'fetch.min.bytes', 'fetch.max.bytes', 'fetch.message.max.bytes', 'security.protocol')
ORDER BY 1;
-- the idempotent producer and the consumer start with them
SELECT kafka.produce('spark', 'opt_spark', 'key', 'produced with Spark''s names');
SELECT convert_from(key, 'UTF8') AS key, convert_from(value, 'UTF8') AS value
FROM kafka.read_kafka(server => 'spark', subscribe => 'opt_spark');
-- a Java name and librdkafka's name for the same property are one option
ALTER SERVER spark OPTIONS (ADD "kafka.message.max.bytes" '3000000');
ALTER SERVER spark OPTIONS (ADD "kafka.fetch.wait.max.ms" '100');
-- the mapped value is checked as librdkafka's, and the message names both
ALTER SERVER spark OPTIONS (SET "kafka.max.request.size" '10');
ALTER SERVER spark OPTIONS (SET "kafka.buffer.memory" '0');
ALTER SERVER spark OPTIONS (SET "kafka.buffer.memory" '32MB');
ALTER SERVER spark OPTIONS (SET "kafka.retries" '0');
-- what kafka_fdw always does is accepted; the opposite is refused
ALTER SERVER spark OPTIONS (SET "kafka.enable.idempotence" 'false');
ALTER SERVER spark OPTIONS (SET "kafka.isolation.level" 'read_uncommitted');
ALTER SERVER spark OPTIONS (ADD "kafka.auto.offset.reset" 'earliest');
-- names without an equivalent are refused with what to use instead
ALTER SERVER spark OPTIONS (ADD "kafka.max.poll.records" '500');
ALTER SERVER spark OPTIONS (ADD "kafka.session.timeout.ms" '30000');
ALTER SERVER spark OPTIONS (ADD "kafka.key.deserializer" 'org.apache.kafka.common.serialization.StringDeserializer');
ALTER SERVER spark OPTIONS (ADD "kafka.ssl.truststore.location" '/etc/kafka/truststore.jks');
ALTER SERVER spark OPTIONS (ADD "kafka.ssl.keystore.key" 'a key');
-- the security rules apply to the mapped name: Java's empty algorithm is
-- librdkafka's none, which turns off host name verification
CREATE ROLE kafka_opt_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER kafka_fdw TO kafka_opt_owner;
SET ROLE kafka_opt_owner;
CREATE SERVER spark_user FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs',
  "kafka.ssl.endpoint.identification.algorithm" '');
CREATE SERVER spark_user FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs',
  "kafka.fetch.max.bytes" '1073741824');
RESET ROLE;
DROP OWNED BY kafka_opt_owner;
DROP ROLE kafka_opt_owner;
CREATE SERVER spark_tls FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs',
  "kafka.ssl.endpoint.identification.algorithm" '');
SELECT property, value FROM kafka.client_config('spark_tls')
WHERE property = 'ssl.endpoint.identification.algorithm';
-- per call, as librdkafka's name may be
SELECT count(*) FROM kafka.read_kafka(server => 'good', subscribe => 'fx_basic',
  options => '{"kafka.fetch.max.wait.ms": 50, "kafka.max.partition.fetch.bytes": 65536, "kafka.isolation.level": "read_committed"}');
SELECT property, value FROM kafka.client_config('good', '{"kafka.fetch.max.wait.ms": 50}')
WHERE property = 'fetch.wait.max.ms';
SELECT count(*) FROM kafka.read_kafka(server => 'good', subscribe => 'fx_basic', options => '{"kafka.max.request.size": 2097152}');
SELECT count(*) FROM kafka.read_kafka(server => 'good', subscribe => 'fx_basic', options => '{"kafka.max.poll.records": 500}');
-- properties on no list point to the list
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.no.such.property" '1');

-- a secret's value is never quoted, whatever librdkafka says of it (this
-- build may lack OIDC altogether)
CREATE FUNCTION pg_temp.leaks(q text, secret text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  detail text;
  hint text;
BEGIN
  EXECUTE q;
  RETURN false;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN position(secret IN SQLERRM || coalesce(detail, '') || coalesce(hint, '')) > 0;
END $$;
SELECT pg_temp.leaks($$CREATE USER MAPPING FOR CURRENT_USER SERVER good
  OPTIONS ("kafka.sasl.oauthbearer.client.secret" 'Sup3r-Secret')$$, 'Sup3r') AS leaks;
-- the errors carry their SQLSTATE
\set VERBOSITY sqlstate
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.socket.timeout.ms" '-5');
CREATE SERVER bad FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', "kafka.acks" '0');
\set VERBOSITY default

--
-- avro_schema is parsed at CREATE/ALTER FOREIGN TABLE by the parser the
-- decoder and encoder use.
--
CREATE FOREIGN TABLE bad_avro (id int) SERVER good
  OPTIONS (topic 't', format 'avro', avro_schema '{"type": "record", "name": "r", "fields": [');
CREATE FOREIGN TABLE bad_avro (id int) SERVER good
  OPTIONS (topic 't', format 'avro', avro_schema '{"type": "record", "name": "r", "fields": [{"name": "id", "type": "integer"}]}');
CREATE FOREIGN TABLE bad_avro (id int) SERVER good
  OPTIONS (topic 't', format 'avro', avro_schema '{"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "long"}]}');
CREATE FOREIGN TABLE bad_avro (id int) SERVER good
  OPTIONS (topic 't', format 'avro', avro_schema '["null", ["int", "long"]]');
CREATE FOREIGN TABLE bad_avro (id int) SERVER good
  OPTIONS (topic 't', format 'avro', avro_schema '');
\set VERBOSITY sqlstate
CREATE FOREIGN TABLE bad_avro (id int) SERVER good
  OPTIONS (topic 't', format 'avro', avro_schema '{"type": "record"}');
\set VERBOSITY default
CREATE FOREIGN TABLE good_avro (id int, name text) SERVER good
  OPTIONS (topic 't', format 'avro', avro_schema '{"type": "record", "name": "r", "fields": [{"name": "id", "type": "int"}, {"name": "name", "type": ["null", "string"]}]}');
ALTER FOREIGN TABLE good_avro OPTIONS (SET avro_schema '{"type": "record", "name": "r", "fields": [{"name": "id"}]}');
ALTER FOREIGN TABLE good_avro OPTIONS (SET avro_schema '"long"');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'good_avro'::regclass;

--
-- password_required: a non-superuser's mapping must hold a credential the
-- connection presents.  kafka.client_config() resolves the connection as a
-- read would, without connecting.
--
CREATE ROLE kafka_opt_user LOGIN;
GRANT USAGE ON SCHEMA kafka TO kafka_opt_user;
CREATE SERVER plain FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs');
CREATE SERVER tls FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', security_protocol 'ssl', "kafka.ssl.certificate.pem" 'server-wide certificate');
CREATE SERVER sasl_plain FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', security_protocol 'sasl_plaintext', sasl_mechanism 'PLAIN');
CREATE SERVER sasl_scram FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', security_protocol 'SASL_SSL', sasl_mechanism 'scram-sha-512');
CREATE SERVER sasl_gssapi FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', security_protocol 'sasl_plaintext');
GRANT USAGE ON FOREIGN SERVER plain, tls, sasl_plain, sasl_scram, sasl_gssapi TO kafka_opt_user;

-- secret-looking properties the connection would not use do not count
CREATE USER MAPPING FOR kafka_opt_user SERVER plain
  OPTIONS ("kafka.ssl.key.pem" 'not a key', "kafka.ssl.certificate.pem" 'not a certificate',
           "kafka.ssl.key.password" 'Sup3r-Secret', "kafka.sasl.oauthbearer.config" 'principal=admin');
SET ROLE kafka_opt_user;
SELECT count(*) FROM kafka.read_kafka(server => 'plain', subscribe => 'fx_basic');
SELECT count(*) FROM kafka.client_config('plain');
RESET ROLE;
-- a password for GSSAPI (librdkafka's default mechanism) is not sent
CREATE USER MAPPING FOR kafka_opt_user SERVER sasl_gssapi OPTIONS (sasl_username 'opt', sasl_password 'Sup3r-Secret');
-- a TLS key without its certificate is not presented
CREATE SERVER tls_nocert FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers :'bs', security_protocol 'ssl');
GRANT USAGE ON FOREIGN SERVER tls_nocert TO kafka_opt_user;
CREATE USER MAPPING FOR kafka_opt_user SERVER tls_nocert OPTIONS ("kafka.ssl.key.pem" 'a key');
-- the certificate alone is no credential of the mapping's own
CREATE USER MAPPING FOR kafka_opt_user SERVER tls OPTIONS ("kafka.ssl.key.password" 'Sup3r-Secret');
\set VERBOSITY terse
SET ROLE kafka_opt_user;
SELECT count(*) FROM kafka.client_config('sasl_gssapi');
SELECT count(*) FROM kafka.client_config('tls_nocert');
SELECT count(*) FROM kafka.client_config('tls');
RESET ROLE;

-- credentials the connection uses pass (these connections would then
-- authenticate, which the loopback test broker cannot do)
ALTER USER MAPPING FOR kafka_opt_user SERVER tls OPTIONS (ADD "kafka.ssl.key.pem" 'the client key');
CREATE USER MAPPING FOR kafka_opt_user SERVER sasl_plain OPTIONS (sasl_username 'opt', sasl_password 'Sup3r-Secret');
CREATE USER MAPPING FOR kafka_opt_user SERVER sasl_scram OPTIONS ("kafka.sasl.jaas.config"
  'org.apache.kafka.common.security.scram.ScramLoginModule required username="opt" password="Sup3r-Secret";');
SET ROLE kafka_opt_user;
SELECT property, value FROM kafka.client_config('tls')
WHERE property IN ('security.protocol', 'ssl.key.pem', 'ssl.key.password') ORDER BY 1;
SELECT property, value FROM kafka.client_config('sasl_plain')
WHERE property IN ('security.protocol', 'sasl.mechanisms', 'sasl.username', 'sasl.password') ORDER BY 1;
SELECT property, value FROM kafka.client_config('sasl_scram')
WHERE property IN ('security.protocol', 'sasl.mechanisms', 'sasl.username', 'sasl.password') ORDER BY 1;
RESET ROLE;
-- a superuser-made keystore in the mapping is key and certificate in one
CREATE SERVER tls_keystore FOREIGN DATA WRAPPER kafka_fdw
  OPTIONS (bootstrap_servers :'bs', security_protocol 'sasl_ssl', sasl_mechanism 'OAUTHBEARER');
GRANT USAGE ON FOREIGN SERVER tls_keystore TO kafka_opt_user;
CREATE USER MAPPING FOR kafka_opt_user SERVER tls_keystore
  OPTIONS ("kafka.ssl.keystore.location" '/nonexistent/client.p12', "kafka.ssl.keystore.password" 'Sup3r-Secret');
SET ROLE kafka_opt_user;
SELECT property, value FROM kafka.client_config('tls_keystore')
WHERE property IN ('security.protocol', 'ssl.keystore.location', 'ssl.keystore.password') ORDER BY 1;
RESET ROLE;
-- switching the protocol off TLS makes the key unused again
ALTER SERVER tls OPTIONS (SET security_protocol 'plaintext');
SET ROLE kafka_opt_user;
SELECT count(*) FROM kafka.client_config('tls');
RESET ROLE;
-- and a superuser may still waive credentials for a broker that needs none
ALTER USER MAPPING FOR kafka_opt_user SERVER plain OPTIONS (ADD password_required 'false');
SET ROLE kafka_opt_user;
SELECT count(*) FROM kafka.read_kafka(server => 'plain', subscribe => 'fx_basic');
RESET ROLE;
\set VERBOSITY default

DROP OWNED BY kafka_opt_user;
DROP ROLE kafka_opt_user;
SET client_min_messages = warning;
DROP EXTENSION kafka_fdw CASCADE;
