/*
 * unit_tests.c
 *	  Unit tests of the PostgreSQL-free rules: the librdkafka property policy,
 *	  the JAAS parser, offset specifications and their resolution, and
 *	  fuzzing of the parsers (fuzz_parsers.c).
 *
 * Prints TAP ("ok N - ...", "not ok N - ...", then "1..N"); exits 1 on any
 * failure.  The mock broker can't answer offsets-for-times, so the timestamp
 * resolution rules are proven here.
 */
#include "common/kafka_properties.h"
#include "common/offset_spec.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	tests = 0;
static int	failures = 0;

void
check(int condition, const char *what)
{
	tests++;
	if (!condition)
		failures++;
	printf("%sok %d - %s\n", condition ? "" : "not ", tests, what);
}

static KafkaPropertyVerdict
verdict(const char *name, const char *value, unsigned ctx, int privileged)
{
	return kafka_property_check(name, value, ctx, privileged).verdict;
}

static void
test_properties(void)
{
	check(verdict("plugin.library.paths", "x.so", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_REFUSED,
		  "plugin.library.paths refused even for superusers");
	check(verdict("sasl.kerberos.kinit.cmd", "sh", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_REFUSED,
		  "kinit command refused");
	check(verdict("ssl.engine.location", "/x", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_REFUSED,
		  "ssl engine refused");
	check(verdict("internal.termination.signal", "2", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_REFUSED,
		  "termination signal refused");
	check(verdict("isolation.level", "read_uncommitted", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_OWNED,
		  "isolation.level owned by the extension");
	check(verdict("enable.auto.commit", "true", KAFKA_CTX_CALL, 1) == KAFKA_PROPERTY_OWNED,
		  "enable.auto.commit owned");
	check(verdict("test.mock.num.brokers", "3", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_OWNED,
		  "test.mock.* owned");
	check(verdict("ssl.ca.location", "/etc/ssl/ca.pem", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_SUPERUSER,
		  "ssl.ca.location superuser-only");
	check(verdict("ssl.ca.location", "/etc/ssl/ca.pem", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_OK,
		  "ssl.ca.location ok for superuser");
	check(verdict("enable.ssl.certificate.verification", "false", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_SUPERUSER,
		  "turning off certificate verification is superuser-only");
	check(verdict("enable.ssl.certificate.verification", "true", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK,
		  "keeping certificate verification is fine");
	check(verdict("ssl.endpoint.identification.algorithm", "NONE", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_SUPERUSER,
		  "endpoint identification none is superuser-only (any case)");
	check(verdict("debug", "all", KAFKA_CTX_CALL, 0) == KAFKA_PROPERTY_SUPERUSER,
		  "debug superuser-only");
	check(verdict("sasl.password", "s3cret", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_SECRET_PLACE,
		  "secret refused in server options");
	check(verdict("sasl.password", "s3cret", KAFKA_CTX_USER_MAPPING, 0) == KAFKA_PROPERTY_OK,
		  "secret allowed in user mapping");
	check(verdict("sasl.password", "s3cret", KAFKA_CTX_CALL, 1) == KAFKA_PROPERTY_SECRET_PLACE,
		  "secret refused in per-call options");
	check(verdict("security.protocol", "plaintext", KAFKA_CTX_CALL, 1) == KAFKA_PROPERTY_WRONG_PLACE,
		  "per-call options cannot set the security protocol");
	check(verdict("fetch.max.bytes", "1048576", KAFKA_CTX_CALL, 0) == KAFKA_PROPERTY_OK,
		  "fetch.max.bytes within bound");
	check(verdict("fetch.max.bytes", "1073741824", KAFKA_CTX_CALL, 0) == KAFKA_PROPERTY_TOO_LARGE,
		  "fetch.max.bytes bounded for non-superusers");
	check(verdict("fetch.max.bytes", "1073741824", KAFKA_CTX_CALL, 1) == KAFKA_PROPERTY_OK,
		  "fetch.max.bytes unbounded for superusers");
	check(verdict("queued.max.messages.kbytes", "lots", KAFKA_CTX_CALL, 0) == KAFKA_PROPERTY_BAD_VALUE,
		  "bounded property needs a number");
	check(verdict("no.such.property", "1", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_UNKNOWN,
		  "unknown property not passed through");
	check(kafka_property_is_secret("ssl.key.password") && !kafka_property_is_secret("sasl.username"),
		  "secret classification");
	check(kafka_topic_name_valid("orders_dlq") && kafka_topic_name_valid("a.b-c_D9") &&
		  !kafka_topic_name_valid("") && !kafka_topic_name_valid(".") &&
		  !kafka_topic_name_valid("..") && !kafka_topic_name_valid("a b") &&
		  !kafka_topic_name_valid("a/b") && !kafka_topic_name_valid("caf\xc3\xa9"),
		  "topic names as Kafka accepts them");
	{
		char		long_name[251];

		memset(long_name, 'x', 250);
		long_name[250] = '\0';
		check(!kafka_topic_name_valid(long_name) && kafka_topic_name_valid(long_name + 1),
			  "topic names up to 249 characters");
	}
}

/* librdkafka's own value rules and the ones the extension's settings impose */
static void
test_property_values(void)
{
	KafkaPropertyCheck c;

	c = kafka_property_check("socket.timeout.ms", "-5", KAFKA_CTX_SERVER, 1);
	check(c.verdict == KAFKA_PROPERTY_INVALID && strstr(c.detail, "10..300000") != NULL &&
		  c.detail[strlen(c.detail) - 1] != '\n',
		  "values: out-of-range number refused with librdkafka's range");
	check(verdict("compression.type", "zip", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_INVALID,
		  "values: unknown enum value refused");
	check(verdict("check.crcs", "maybe", KAFKA_CTX_CALL, 0) == KAFKA_PROPERTY_INVALID,
		  "values: bad Boolean refused in per-call options");
	check(verdict("compression.type", "zstd", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK &&
		  verdict("socket.timeout.ms", "30000", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK &&
		  verdict("linger.ms", "5", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK,
		  "values: valid values accepted");
	check(verdict("acks", "all", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK &&
		  verdict("acks", "-1", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK,
		  "values: acks=all accepted (a topic-level property on the global configuration)");
	c = kafka_property_check("acks", "0", KAFKA_CTX_SERVER, 0);
	check(c.verdict == KAFKA_PROPERTY_CONFLICT && c.why != NULL && strstr(c.why, "idempotent") != NULL,
		  "values: acks=0 refused, the producer is idempotent");
	check(verdict("request.required.acks", "1", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_CONFLICT,
		  "values: request.required.acks=1 refused");
	check(verdict("acks", "bogus", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_INVALID,
		  "values: acks checked by librdkafka first");
	check(verdict("max.in.flight", "6", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_CONFLICT &&
		  verdict("max.in.flight.requests.per.connection", "5", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK,
		  "values: at most 5 requests in flight");
	c = kafka_property_check("plugin.library.paths", "zz", KAFKA_CTX_SERVER, 1);
	check(c.verdict == KAFKA_PROPERTY_REFUSED && c.detail[0] == '\0',
		  "values: refused properties never reach librdkafka (it would dlopen)");
	c = kafka_property_check("ssl.key.password", "s3cret", KAFKA_CTX_USER_MAPPING, 0);
	check(c.verdict == KAFKA_PROPERTY_OK, "values: a secret string is accepted");
	c = kafka_property_check("sasl.oauthbearer.client.secret", "s3cret-value", KAFKA_CTX_USER_MAPPING, 0);
	check((c.verdict == KAFKA_PROPERTY_OK && c.detail[0] == '\0') ||
		  (c.verdict == KAFKA_PROPERTY_UNSUPPORTED && strstr(c.detail, "s3cret-value") == NULL),
		  "values: a secret's refusal never quotes it");
}

static int
uses_credential(const char *protocol, const char *mechanism, const char *user,
				const char *password)
{
	KafkaCredentialFacts f = {0};

	f.security_protocol = protocol;
	f.sasl_mechanism = mechanism;
	f.sasl_username = user;
	f.sasl_password = password;
	return kafka_connection_uses_credential(&f);
}

/* password_required: only credentials the connection presents count */
static void
test_credentials(void)
{
	KafkaCredentialFacts f = {0};

	check(uses_credential("sasl_ssl", "PLAIN", "u", "p") &&
		  uses_credential("SASL_PLAINTEXT", "scram-sha-512", "u", "p") &&
		  uses_credential("sasl_plaintext", "SCRAM-SHA-256", "u", "p"),
		  "credentials: PLAIN/SCRAM username and password over sasl_*");
	check(!uses_credential(NULL, "PLAIN", "u", "p") && !uses_credential("ssl", "PLAIN", "u", "p"),
		  "credentials: a password without a SASL protocol is not used");
	check(!uses_credential("sasl_ssl", NULL, "u", "p") && !uses_credential("sasl_ssl", "GSSAPI", "u", "p"),
		  "credentials: GSSAPI (librdkafka's default) ignores the password");
	check(!uses_credential("sasl_ssl", "PLAIN", "u", "") && !uses_credential("sasl_ssl", "PLAIN", NULL, "p"),
		  "credentials: empty password or no username does not count");

	f.security_protocol = "plaintext";
	f.mapping_has_key = 1;
	f.has_certificate = 1;
	check(!kafka_connection_uses_credential(&f), "credentials: a TLS key over plaintext is not used");
	f.security_protocol = NULL;
	check(!kafka_connection_uses_credential(&f), "credentials: a TLS key without a protocol is not used");
	f.security_protocol = "sasl_plaintext";
	check(!kafka_connection_uses_credential(&f), "credentials: a TLS key over sasl_plaintext is not used");
	f.security_protocol = "ssl";
	check(kafka_connection_uses_credential(&f), "credentials: key and certificate over ssl");
	f.security_protocol = "SASL_SSL";
	check(kafka_connection_uses_credential(&f), "credentials: key and certificate over sasl_ssl");
	f.has_certificate = 0;
	check(!kafka_connection_uses_credential(&f), "credentials: a key without its certificate is not used");
	f.mapping_has_key = 0;
	f.mapping_has_keystore = 1;
	check(kafka_connection_uses_credential(&f), "credentials: a keystore holds key and certificate");
	f.security_protocol = "plaintext";
	check(!kafka_connection_uses_credential(&f), "credentials: a keystore over plaintext is not used");

	memset(&f, 0, sizeof(f));
	f.security_protocol = "sasl_ssl";
	f.sasl_mechanism = "OAUTHBEARER";
	f.oauthbearer_client_secret = "s";
	check(!kafka_connection_uses_credential(&f),
		  "credentials: an OAUTHBEARER client secret without the oidc method is not used");
	f.oauthbearer_method = "OIDC";
	check(kafka_connection_uses_credential(&f), "credentials: OAUTHBEARER oidc client secret");
	f.security_protocol = "ssl";
	check(!kafka_connection_uses_credential(&f), "credentials: OAUTHBEARER needs a SASL protocol");
	f.security_protocol = "sasl_ssl";
	f.sasl_mechanism = "PLAIN";
	check(!kafka_connection_uses_credential(&f), "credentials: a client secret is not used by PLAIN");
}

static void
test_jaas(void)
{
	KafkaJaasModule module;
	char	   *user,
			   *pass;
	const char *err = NULL;

	check(kafka_parse_jaas_config("kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" password=\"pa\\\"ss\";",
								  &module, &user, &pass, &err) &&
		  module == KAFKA_JAAS_PLAIN && strcmp(user, "alice") == 0 && strcmp(pass, "pa\"ss") == 0,
		  "jaas: shaded PlainLoginModule with escaped quote");
	free(user);
	free(pass);
	check(kafka_parse_jaas_config("org.apache.kafka.common.security.scram.ScramLoginModule required username='bob' password='x y';",
								  &module, &user, &pass, &err) &&
		  module == KAFKA_JAAS_SCRAM && strcmp(user, "bob") == 0 && strcmp(pass, "x y") == 0,
		  "jaas: ScramLoginModule with single quotes");
	free(user);
	free(pass);
	check(!kafka_parse_jaas_config("com.sun.security.auth.module.Krb5LoginModule required;",
								   &module, &user, &pass, &err),
		  "jaas: other modules refused");
	err = NULL;
	check(!kafka_parse_jaas_config("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"topsecret\"",
								   &module, &user, &pass, &err) &&
		  err != NULL && strstr(err, "topsecret") == NULL,
		  "jaas: missing semicolon refused without echoing the secret");
	check(!kafka_parse_jaas_config("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";",
								   &module, &user, &pass, &err),
		  "jaas: password required");
}

static void
test_offset_specs(void)
{
	KafkaOffsetSpec spec;
	char		err[256];
	const KafkaOffsetSpecEntry *e;
	bool		loss;

	check(kafka_parse_offset_spec("earliest", true, false, &spec, err, sizeof err) &&
		  spec.kind == KAFKA_SPEC_EARLIEST, "offsets: earliest keyword");
	check(kafka_parse_offset_spec("latest", true, false, &spec, err, sizeof err) &&
		  spec.kind == KAFKA_SPEC_LATEST, "offsets: latest keyword");
	check(kafka_parse_offset_spec("{\"t\":{\"0\":23,\"1\":-2}}", true, false, &spec, err, sizeof err) &&
		  spec.count == 2 && (e = kafka_offset_spec_find(&spec, "t", 1)) != NULL && e->value == -2,
		  "offsets: per-partition JSON");
	kafka_offset_spec_free(&spec);
	check(!kafka_parse_offset_spec("{\"t\":{\"0\":-3}}", true, false, &spec, err, sizeof err),
		  "offsets: -3 refused");
	check(!kafka_parse_offset_spec("{\"t\":{\"x\":1}}", true, false, &spec, err, sizeof err),
		  "offsets: non-numeric partition refused");
	check(!kafka_parse_offset_spec("{\"t\":{\"0\":1}", true, false, &spec, err, sizeof err),
		  "offsets: truncated JSON refused");
	check(!kafka_parse_offset_spec("soonest", true, false, &spec, err, sizeof err) &&
		  strstr(err, "earliest") != NULL, "offsets: unknown keyword refused with hint");
	check(!kafka_parse_offset_spec("{\"t\":{\"0\":-1}}", false, true, &spec, err, sizeof err),
		  "timestamps: negative refused");
	check(kafka_parse_assign_spec("{\"a\":[0,2],\"b\":[1]}", &spec, err, sizeof err) && spec.count == 3 &&
		  kafka_offset_spec_find(&spec, "a", 2) != NULL && kafka_offset_spec_find(&spec, "a", 1) == NULL,
		  "assign: topics and partitions");
	kafka_offset_spec_free(&spec);
	check(!kafka_parse_assign_spec("{\"a\":[0,0]}", &spec, err, sizeof err), "assign: duplicate refused");
	check(!kafka_parse_assign_spec("{\"a\":[]}", &spec, err, sizeof err), "assign: empty refused");
	check(!kafka_parse_assign_spec("[1]", &spec, err, sizeof err), "assign: array refused");

	check(kafka_resolve_start_offset(KAFKA_OFFSET_EARLIEST, 5, 10, &loss) == 5 && !loss, "start: earliest is low");
	check(kafka_resolve_start_offset(KAFKA_OFFSET_LATEST, 5, 10, &loss) == 10 && !loss, "start: latest is high");
	check(kafka_resolve_start_offset(2, 5, 10, &loss) == 5 && loss, "start: aged-out offset is data loss");
	check(kafka_resolve_start_offset(7, 5, 10, &loss) == 7 && !loss, "start: offset in range kept");
	check(kafka_resolve_end_offset(KAFKA_OFFSET_LATEST, 5, 10) == 10, "end: latest is high");
	check(kafka_resolve_end_offset(50, 5, 10) == 10, "end: capped at high (bounded read)");
	check(kafka_resolve_end_offset(8, 5, 10) == 8, "end: explicit kept");
	check(kafka_resolve_timestamp_offset(-1, 5, 10) == 10, "timestamp: not found means latest");
	check(kafka_resolve_timestamp_offset(7, 5, 10) == 7, "timestamp: found offset used");
	check(kafka_resolve_timestamp_offset(3, 5, 10) == 5, "timestamp: clamped to low watermark");
}

/*
 * Java client names (Spark's kafka.* options): renamed and converted to
 * librdkafka's, always-true ones accepted as no-ops, the rest refused with a
 * hint, and never a way around the rules librdkafka's name is under.
 */
static void
test_java_names(void)
{
	static const struct
	{
		const char *java;
		const char *java_value;
		const char *property;
		const char *value;
	}			renames[] = {
		{"max.request.size", "2000000", "message.max.bytes", "2000000"},
		{"fetch.max.wait.ms", "250", "fetch.wait.max.ms", "250"},
		{"retries", "3", "message.send.max.retries", "3"},
		{"send.buffer.bytes", "-1", "socket.send.buffer.bytes", "0"},
		{"receive.buffer.bytes", "65536", "socket.receive.buffer.bytes", "65536"},
		{"buffer.memory", "33554432", "queue.buffering.max.kbytes", "32768"},
		{"buffer.memory", "1025", "queue.buffering.max.kbytes", "2"},
		{"ssl.endpoint.identification.algorithm", "", "ssl.endpoint.identification.algorithm", "none"},
	};
	static const unsigned contexts[] = {
		KAFKA_CTX_SERVER, KAFKA_CTX_USER_MAPPING, KAFKA_CTX_CALL
	};
	KafkaPropertyCheck c;
	KafkaPropertyTranslation t;
	char		buf[32];
	char		what[160];
	size_t		i;
	int			same = 1;

	for (i = 0; i < sizeof(renames) / sizeof(renames[0]); i++)
	{
		t = kafka_property_translate(renames[i].java, renames[i].java_value, buf, sizeof(buf));
		snprintf(what, sizeof(what), "java names: %s=%s is librdkafka's %s=%s",
				 renames[i].java, renames[i].java_value, renames[i].property, renames[i].value);
		check(t.property != NULL && strcmp(t.property, renames[i].property) == 0 &&
			  t.value != NULL && strcmp(t.value, renames[i].value) == 0, what);
	}

	/* the same verdict as librdkafka's name, wherever and by whomever */
	for (i = 0; i < sizeof(renames) / sizeof(renames[0]); i++)
	{
		size_t		j;
		int			privileged;

		for (j = 0; j < sizeof(contexts) / sizeof(contexts[0]); j++)
			for (privileged = 0; privileged <= 1; privileged++)
			{
				KafkaPropertyCheck java = kafka_property_check(renames[i].java, renames[i].java_value,
															   contexts[j], privileged);
				KafkaPropertyCheck native = kafka_property_check(renames[i].property, renames[i].value,
																 contexts[j], privileged);

				if (java.verdict != native.verdict)
					same = 0;
			}
	}
	check(same, "java names: every rename has the verdict of librdkafka's name in every context");
	check(verdict("ssl.endpoint.identification.algorithm", "", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_SUPERUSER &&
		  verdict("ssl.endpoint.identification.algorithm", "", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_OK,
		  "java names: Java's empty endpoint algorithm is none, superuser-only");
	check(verdict("fetch.max.wait.ms", "250", KAFKA_CTX_CALL, 0) == KAFKA_PROPERTY_OK &&
		  verdict("max.request.size", "2000000", KAFKA_CTX_CALL, 1) == KAFKA_PROPERTY_WRONG_PLACE,
		  "java names: per-call options take only what librdkafka's name may");
	c = kafka_property_check("max.request.size", "10", KAFKA_CTX_SERVER, 1);
	check(c.verdict == KAFKA_PROPERTY_INVALID && strstr(c.detail, "message.max.bytes") != NULL &&
		  strcmp(c.property, "message.max.bytes") == 0,
		  "java names: a renamed value is checked by librdkafka under its name");
	c = kafka_property_check("buffer.memory", "33554432", KAFKA_CTX_SERVER, 0);
	check(c.verdict == KAFKA_PROPERTY_OK && strcmp(c.property, "queue.buffering.max.kbytes") == 0 &&
		  c.unit != NULL && strstr(c.unit, "KiB") != NULL,
		  "java names: buffer.memory is librdkafka's queue.buffering.max.kbytes, in KiB");
	check(verdict("buffer.memory", "0", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_INVALID &&
		  verdict("buffer.memory", "32MB", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_BAD_VALUE,
		  "java names: buffer.memory needs a number of bytes that is at least 1 KiB");
	check(verdict("retries", "0", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_CONFLICT &&
		  verdict("message.send.max.retries", "0", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_CONFLICT,
		  "java names: no retries contradicts the idempotent producer");

	/* what kafka_fdw always does: a no-op; anything else is refused */
	c = kafka_property_check("enable.idempotence", "true", KAFKA_CTX_SERVER, 0);
	check(c.verdict == KAFKA_PROPERTY_OK && c.property == NULL,
		  "java names: enable.idempotence=true accepted, nothing to set");
	check(verdict("isolation.level", "READ_COMMITTED", KAFKA_CTX_CALL, 0) == KAFKA_PROPERTY_OK,
		  "java names: isolation.level=read_committed accepted");
	c = kafka_property_check("enable.idempotence", "false", KAFKA_CTX_SERVER, 1);
	check(c.verdict == KAFKA_PROPERTY_OWNED && strstr(c.why, "idempotent") != NULL,
		  "java names: enable.idempotence=false refused with why");
	t = kafka_property_translate("enable.idempotence", "true", buf, sizeof(buf));
	check(t.kind == KAFKA_TRANSLATION_NO_OP && t.property == NULL,
		  "java names: a no-op translates to nothing to set");

	/* no equivalent: refused, with what to use instead */
	c = kafka_property_check("max.poll.records", "500", KAFKA_CTX_SERVER, 1);
	check(c.verdict == KAFKA_PROPERTY_NO_EQUIVALENT && strstr(c.why, "max_offsets_per_trigger") != NULL,
		  "java names: max.poll.records refused, batches are sized by max_offsets_per_trigger");
	c = kafka_property_check("ssl.truststore.location", "/x.jks", KAFKA_CTX_SERVER, 1);
	check(c.verdict == KAFKA_PROPERTY_NO_EQUIVALENT && strstr(c.why, "ssl.ca.pem") != NULL,
		  "java names: a Java trust store refused with the PEM properties to use");
	check(verdict("session.timeout.ms", "30000", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_NO_EQUIVALENT &&
		  verdict("key.deserializer", "x", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_NO_EQUIVALENT,
		  "java names: group and deserializer settings refused");
	check(!kafka_property_is_secret("ssl.keystore.key") &&
		  verdict("ssl.keystore.key", "k", KAFKA_CTX_USER_MAPPING, 1) == KAFKA_PROPERTY_NO_EQUIVALENT,
		  "java names: the Java key property is refused, not mapped to a secret");

	/* the names Java and librdkafka share keep their rules */
	check(verdict("linger.ms", "5", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK &&
		  verdict("batch.size", "16384", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK &&
		  verdict("delivery.timeout.ms", "120000", KAFKA_CTX_SERVER, 0) == KAFKA_PROPERTY_OK &&
		  verdict("max.partition.fetch.bytes", "1048576", KAFKA_CTX_CALL, 0) == KAFKA_PROPERTY_OK &&
		  verdict("auto.offset.reset", "earliest", KAFKA_CTX_SERVER, 1) == KAFKA_PROPERTY_OWNED &&
		  verdict("fetch.max.bytes", "1073741824", KAFKA_CTX_CALL, 0) == KAFKA_PROPERTY_TOO_LARGE,
		  "java names: shared names pass through under the same rules");
	t = kafka_property_translate("linger.ms", "5", buf, sizeof(buf));
	check(t.kind == KAFKA_TRANSLATION_SAME && strcmp(t.property, "linger.ms") == 0 &&
		  strcmp(t.value, "5") == 0,
		  "java names: librdkafka's own names are left alone");
}

/* a stand-in for the server's timestamptz parser: "T<ms>" only */
static bool
parse_test_timestamp(const char *text, int64_t *ms, char *errbuf, size_t errlen)
{
	if (text[0] != 'T' || text[1] < '0' || text[1] > '9')
	{
		snprintf(errbuf, errlen, "\"%s\" is no timestamp", text);
		return false;
	}
	*ms = strtoll(text + 1, NULL, 10);
	return true;
}

/* timestamps by partition may be strings, which the caller's parser reads */
static void
test_timestamp_specs(void)
{
	KafkaOffsetSpec spec;
	char		err[256];
	const KafkaOffsetSpecEntry *e0;
	const KafkaOffsetSpecEntry *e1;

	check(kafka_parse_timestamp_spec("{\"t\":{\"0\":\"T1700000000000\",\"1\":5}}",
									 parse_test_timestamp, &spec, err, sizeof(err)) &&
		  (e0 = kafka_offset_spec_find(&spec, "t", 0)) != NULL && e0->value == 1700000000000LL &&
		  (e1 = kafka_offset_spec_find(&spec, "t", 1)) != NULL && e1->value == 5,
		  "timestamp specs: strings through the parser, numbers as milliseconds");
	kafka_offset_spec_free(&spec);
	check(!kafka_parse_timestamp_spec("{\"t\":{\"0\":\"soon\"}}", parse_test_timestamp,
									  &spec, err, sizeof(err)) &&
		  strstr(err, "t[0]") != NULL && strstr(err, "no timestamp") != NULL,
		  "timestamp specs: the parser's refusal, with the partition");
	check(!kafka_parse_timestamp_spec("{\"t\":{\"0\":true}}", parse_test_timestamp,
									  &spec, err, sizeof(err)) &&
		  strstr(err, "or a string") != NULL,
		  "timestamp specs: neither number nor string refused");
	check(!kafka_parse_timestamp_spec("{\"t\":{\"0\":-1}}", parse_test_timestamp,
									  &spec, err, sizeof(err)),
		  "timestamp specs: negative milliseconds refused");
	check(!kafka_parse_offset_spec("{\"t\":{\"0\":\"T5\"}}", false, true, &spec, err, sizeof(err)),
		  "timestamp specs: without a parser, strings are refused");
}

int
main(void)
{
	test_properties();
	test_property_values();
	test_java_names();
	test_credentials();
	test_jaas();
	test_offset_specs();
	test_timestamp_specs();
	test_parser_fuzz();
	test_protobuf_indexes();
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
