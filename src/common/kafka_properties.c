/*-------------------------------------------------------------------------
 *
 * kafka_properties.c
 *	  The librdkafka property policy and the JAAS parser.
 *
 * The extension runs inside the database server, so every property a user
 * can pass to librdkafka is a possible way into the server process: some load
 * code (plugins, OpenSSL engines), run shell commands (kinit), read or write
 * files, or exhaust memory.  Only properties on the allowlist below pass, and
 * each says where it may be written and who may write it.
 *
 *-------------------------------------------------------------------------
 */
#include "common/kafka_properties.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#define SRV		KAFKA_CTX_SERVER
#define UM		KAFKA_CTX_USER_MAPPING
#define CALL	KAFKA_CTX_CALL

typedef enum RuleKind
{
	RULE_ALLOWED,
	RULE_SECRET,				/* allowed, but only in a user mapping */
	RULE_OWNED,
	RULE_REFUSED,
	RULE_SUPERUSER
} RuleKind;

typedef struct PropertyRule
{
	const char *name;
	RuleKind	kind;
	unsigned	contexts;
	int64_t		nonsuperuser_max;	/* 0: no bound */
	/* value that needs superuser (case-insensitive), for value rules */
	const char *superuser_value;
	const char *why;
} PropertyRule;

static const PropertyRule property_rules[] = {
	/* Owned by the extension: it sets them and nobody may change them. */
	{"enable.auto.commit", RULE_OWNED, 0, 0, NULL, "offsets are tracked by the extension"},
	{"enable.auto.offset.store", RULE_OWNED, 0, 0, NULL, "offsets are tracked by the extension"},
	{"auto.offset.reset", RULE_OWNED, 0, 0, NULL, "use startingOffsets and failOnDataLoss instead"},
	{"isolation.level", RULE_OWNED, 0, 0, NULL, "consumers always read committed records only"},
	{"group.id", RULE_OWNED, 0, 0, NULL, "reads join no consumer group; a streaming table names its group with group_id"},
	{"group.instance.id", RULE_OWNED, 0, 0, NULL, "reads join no consumer group; a streaming table names its group with group_id"},
	{"enable.partition.eof", RULE_OWNED, 0, 0, NULL, "bounded reads depend on it"},
	{"allow.auto.create.topics", RULE_OWNED, 0, 0, NULL, "reading never creates topics"},
	{"enable.idempotence", RULE_OWNED, 0, 0, NULL, "the producer is always idempotent"},
	{"log.queue", RULE_OWNED, 0, 0, NULL, "logs are routed through the database server"},
	{"log_cb", RULE_OWNED, 0, 0, NULL, "logs are routed through the database server"},
	{"bootstrap.servers", RULE_OWNED, 0, 0, NULL, "use the bootstrap_servers server option"},
	{"metadata.broker.list", RULE_OWNED, 0, 0, NULL, "use the bootstrap_servers server option"},
	{"transactional.id", RULE_OWNED, 0, 0, NULL, "the extension manages transactions itself"},

	/* Refused for everyone: they load code, run commands or write files. */
	{"plugin.library.paths", RULE_REFUSED, 0, 0, NULL, "it loads shared libraries into the database server"},
	{"ssl.engine.location", RULE_REFUSED, 0, 0, NULL, "it loads an OpenSSL engine into the database server"},
	{"ssl.engine.id", RULE_REFUSED, 0, 0, NULL, "it loads an OpenSSL engine into the database server"},
	{"ssl.providers", RULE_REFUSED, 0, 0, NULL, "it loads OpenSSL providers into the database server"},
	{"sasl.kerberos.kinit.cmd", RULE_REFUSED, 0, 0, NULL, "it runs a shell command in the database server"},
	{"internal.termination.signal", RULE_REFUSED, 0, 0, NULL, "it replaces the database server's signal handling"},
	{"offset.store.method", RULE_REFUSED, 0, 0, NULL, "it writes files in the database server"},
	{"offset.store.path", RULE_REFUSED, 0, 0, NULL, "it writes files in the database server"},
	{"offset.store.sync.interval.ms", RULE_REFUSED, 0, 0, NULL, "it writes files in the database server"},

	/* Superuser only: server-side files, weakened TLS, debugging output. */
	{"ssl.key.location", RULE_SUPERUSER, SRV | UM, 0, NULL, "it reads a file on the database server"},
	{"ssl.certificate.location", RULE_SUPERUSER, SRV | UM, 0, NULL, "it reads a file on the database server"},
	{"ssl.ca.location", RULE_SUPERUSER, SRV, 0, NULL, "it reads a file on the database server"},
	{"ssl.crl.location", RULE_SUPERUSER, SRV, 0, NULL, "it reads a file on the database server"},
	{"ssl.keystore.location", RULE_SUPERUSER, SRV | UM, 0, NULL, "it reads a file on the database server"},
	{"sasl.kerberos.keytab", RULE_SUPERUSER, SRV | UM, 0, NULL, "it reads a file on the database server"},
	{"sasl.kerberos.principal", RULE_SUPERUSER, SRV | UM, 0, NULL, "it selects the database server's Kerberos identity"},
	{"sasl.oauthbearer.token.endpoint.url", RULE_SUPERUSER, SRV, 0, NULL, "it makes the database server fetch a URL"},
	{"debug", RULE_SUPERUSER, SRV | CALL, 0, NULL, "debug output can reveal configuration"},
	{"log_level", RULE_SUPERUSER, SRV | CALL, 0, NULL, "debug output can reveal configuration"},
	{"enable.ssl.certificate.verification", RULE_ALLOWED, SRV, 0, "false", "it turns off TLS certificate verification"},
	{"ssl.endpoint.identification.algorithm", RULE_ALLOWED, SRV, 0, "none", "it turns off TLS host name verification"},
	{"enable.sasl.oauthbearer.unsecure.jwt", RULE_ALLOWED, SRV, 0, "true", "it accepts unsigned tokens"},

	/* Secrets: user mappings only, masked in dumps, never in a message. */
	{"sasl.username", RULE_ALLOWED, UM, 0, NULL, NULL},
	{"sasl.password", RULE_SECRET, UM, 0, NULL, NULL},
	{"ssl.key.password", RULE_SECRET, UM, 0, NULL, NULL},
	{"ssl.key.pem", RULE_SECRET, UM, 0, NULL, NULL},
	{"ssl.keystore.password", RULE_SECRET, UM, 0, NULL, NULL},
	{"sasl.oauthbearer.client.secret", RULE_SECRET, UM, 0, NULL, NULL},
	{"sasl.oauthbearer.config", RULE_SECRET, UM, 0, NULL, NULL},
	{"ssl.certificate.pem", RULE_ALLOWED, SRV | UM, 0, NULL, NULL},

	/* Connection and security settings of a server. */
	{"security.protocol", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"sasl.mechanisms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"sasl.mechanism", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"ssl.ca.pem", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"ssl.cipher.suites", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"ssl.curves.list", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"ssl.sigalgs.list", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"sasl.kerberos.service.name", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"sasl.kerberos.min.time.before.relogin", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"sasl.oauthbearer.method", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"sasl.oauthbearer.client.id", RULE_ALLOWED, SRV | UM, 0, NULL, NULL},
	{"sasl.oauthbearer.scope", RULE_ALLOWED, SRV | UM, 0, NULL, NULL},
	{"sasl.oauthbearer.extensions", RULE_ALLOWED, SRV | UM, 0, NULL, NULL},
	{"client.id", RULE_ALLOWED, SRV | CALL, 0, NULL, NULL},
	{"client.rack", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"client.dns.lookup", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"broker.address.family", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"broker.address.ttl", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"broker.version.fallback", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"api.version.request", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"api.version.request.timeout.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"api.version.fallback.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"socket.timeout.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"socket.keepalive.enable", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"socket.nagle.disable", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"socket.send.buffer.bytes", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"socket.receive.buffer.bytes", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"socket.connection.setup.timeout.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"connections.max.idle.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"reconnect.backoff.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"reconnect.backoff.max.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"retry.backoff.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"metadata.max.age.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"topic.metadata.refresh.interval.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"topic.metadata.refresh.fast.interval.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"topic.metadata.propagation.max.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"message.max.bytes", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"message.copy.max.bytes", RULE_ALLOWED, SRV, 0, NULL, NULL},

	/* Producer tuning (server level). */
	{"acks", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"request.required.acks", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"request.timeout.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"message.timeout.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"delivery.timeout.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"linger.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"queue.buffering.max.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"queue.buffering.max.messages", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"queue.buffering.max.kbytes", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"batch.num.messages", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"batch.size", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"compression.type", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"compression.codec", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"compression.level", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"partitioner", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"sticky.partitioning.linger.ms", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"max.in.flight.requests.per.connection", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"max.in.flight", RULE_ALLOWED, SRV, 0, NULL, NULL},
	{"message.send.max.retries", RULE_ALLOWED, SRV, 0, NULL, NULL},

	/* Fetch tuning: the only kind a single call may change. */
	{"fetch.wait.max.ms", RULE_ALLOWED, SRV | CALL, 0, NULL, NULL},
	{"fetch.min.bytes", RULE_ALLOWED, SRV | CALL, 0, NULL, NULL},
	{"fetch.message.max.bytes", RULE_ALLOWED, SRV | CALL, 0, NULL, NULL},
	{"max.partition.fetch.bytes", RULE_ALLOWED, SRV | CALL, 0, NULL, NULL},
	{"fetch.error.backoff.ms", RULE_ALLOWED, SRV | CALL, 0, NULL, NULL},
	{"check.crcs", RULE_ALLOWED, SRV | CALL, 0, NULL, NULL},
	{"fetch.max.bytes", RULE_ALLOWED, SRV | CALL, 64 * 1024 * 1024, NULL, NULL},
	{"receive.message.max.bytes", RULE_ALLOWED, SRV | CALL, 128 * 1024 * 1024, NULL, NULL},
	{"queued.max.messages.kbytes", RULE_ALLOWED, SRV | CALL, 65536, NULL, NULL},
	{"queued.min.messages", RULE_ALLOWED, SRV | CALL, 100000, NULL, NULL},
};

/*
 * Java client properties as Spark users paste them after "kafka." (Spark
 * hands its kafka.* options to the Java client).  Most share librdkafka's
 * names and meaning and need no entry; these are spelled differently,
 * measured in other units, always what kafka_fdw does, or have no
 * equivalent.  A renamed property is then checked under librdkafka's name
 * by the rules above, exactly as if the user had written that name: a
 * mapping can never reach a property the policy would refuse.
 */
typedef enum JavaKind
{
	JAVA_RENAMED,				/* librdkafka's name; value as given */
	JAVA_BYTES_TO_KIB,			/* librdkafka's name counts KiB */
	JAVA_FORCED,				/* kafka_fdw always does what value says */
	JAVA_NONE					/* no equivalent: hint says what to use */
} JavaKind;

typedef struct JavaProperty
{
	const char *name;			/* the Java client's name */
	JavaKind	kind;
	const char *property;		/* librdkafka's name (renamed, KiB) */
	const char *value;			/* forced: the only value accepted */
	/* renamed: a value librdkafka spells differently, and its spelling */
	const char *java_value;
	const char *librdkafka_value;
	const char *hint;			/* none: what to use instead; forced: why */
} JavaProperty;

#define NO_GROUP_HINT "kafka_fdw assigns partitions itself and joins no consumer group."
#define SERDE_HINT "kafka_fdw reads and writes records as bytes: decode and encode them with the format and key_format table options, or with kafka.from_json, kafka.from_avro, kafka.to_json and kafka.to_avro."
#define TRUSTSTORE_HINT "librdkafka reads no Java trust store: give the CA certificates in PEM with kafka.ssl.ca.pem (or, as a superuser, a PEM file with kafka.ssl.ca.location)."
#define NO_CLASSES_HINT "Java classes cannot be loaded into the database server."

static const JavaProperty java_properties[] = {
	/* spelled differently */
	{"max.request.size", JAVA_RENAMED, "message.max.bytes", NULL, NULL, NULL, NULL},
	{"fetch.max.wait.ms", JAVA_RENAMED, "fetch.wait.max.ms", NULL, NULL, NULL, NULL},
	{"retries", JAVA_RENAMED, "message.send.max.retries", NULL, NULL, NULL, NULL},
	/* Java's -1 (the operating system's default) is librdkafka's 0 */
	{"send.buffer.bytes", JAVA_RENAMED, "socket.send.buffer.bytes", NULL, "-1", "0", NULL},
	{"receive.buffer.bytes", JAVA_RENAMED, "socket.receive.buffer.bytes", NULL, "-1", "0", NULL},
	/* Java's empty algorithm turns host name verification off: "none" */
	{"ssl.endpoint.identification.algorithm", JAVA_RENAMED, "ssl.endpoint.identification.algorithm",
	NULL, "", "none", NULL},
	/* other units */
	{"buffer.memory", JAVA_BYTES_TO_KIB, "queue.buffering.max.kbytes", NULL, NULL, NULL, NULL},
	/* what kafka_fdw always does */
	{"enable.idempotence", JAVA_FORCED, NULL, "true", NULL, NULL,
	"the producer is always idempotent"},
	{"isolation.level", JAVA_FORCED, NULL, "read_committed", NULL, NULL,
	"consumers always read committed records only"},
	/* no equivalent */
	{"max.poll.records", JAVA_NONE, NULL, NULL, NULL, NULL,
	"kafka_fdw has no poll loop to size: a streaming table's batches are sized by max_offsets_per_trigger (maxOffsetsPerTrigger), and read_kafka reads the offsets it is given (endingOffsets)."},
	{"max.poll.interval.ms", JAVA_NONE, NULL, NULL, NULL, NULL, NO_GROUP_HINT},
	{"session.timeout.ms", JAVA_NONE, NULL, NULL, NULL, NULL, NO_GROUP_HINT},
	{"heartbeat.interval.ms", JAVA_NONE, NULL, NULL, NULL, NULL, NO_GROUP_HINT},
	{"partition.assignment.strategy", JAVA_NONE, NULL, NULL, NULL, NULL, NO_GROUP_HINT},
	{"auto.commit.interval.ms", JAVA_NONE, NULL, NULL, NULL, NULL,
	"kafka_fdw keeps offsets itself and never commits them automatically."},
	{"key.deserializer", JAVA_NONE, NULL, NULL, NULL, NULL, SERDE_HINT},
	{"value.deserializer", JAVA_NONE, NULL, NULL, NULL, NULL, SERDE_HINT},
	{"key.serializer", JAVA_NONE, NULL, NULL, NULL, NULL, SERDE_HINT},
	{"value.serializer", JAVA_NONE, NULL, NULL, NULL, NULL, SERDE_HINT},
	{"interceptor.classes", JAVA_NONE, NULL, NULL, NULL, NULL, NO_CLASSES_HINT},
	{"metric.reporters", JAVA_NONE, NULL, NULL, NULL, NULL, NO_CLASSES_HINT},
	{"partitioner.class", JAVA_NONE, NULL, NULL, NULL, NULL,
	"Java classes cannot be loaded into the database server; librdkafka's kafka.partitioner chooses among its built-in partitioners."},
	{"sasl.login.callback.handler.class", JAVA_NONE, NULL, NULL, NULL, NULL, NO_CLASSES_HINT},
	{"sasl.client.callback.handler.class", JAVA_NONE, NULL, NULL, NULL, NULL, NO_CLASSES_HINT},
	{"ssl.truststore.location", JAVA_NONE, NULL, NULL, NULL, NULL, TRUSTSTORE_HINT},
	{"ssl.truststore.password", JAVA_NONE, NULL, NULL, NULL, NULL, TRUSTSTORE_HINT},
	{"ssl.truststore.type", JAVA_NONE, NULL, NULL, NULL, NULL, TRUSTSTORE_HINT},
	{"ssl.truststore.certificates", JAVA_NONE, NULL, NULL, NULL, NULL,
	"Give the CA certificates (PEM) with kafka.ssl.ca.pem."},
	{"ssl.keystore.type", JAVA_NONE, NULL, NULL, NULL, NULL,
	"librdkafka reads PKCS#12 key stores (kafka.ssl.keystore.location) or PEM (kafka.ssl.certificate.pem, with kafka.ssl.key.pem in the user mapping)."},
	{"ssl.keystore.key", JAVA_NONE, NULL, NULL, NULL, NULL,
	"Give the private key (PEM) with kafka.ssl.key.pem in the user mapping."},
	{"ssl.keystore.certificate.chain", JAVA_NONE, NULL, NULL, NULL, NULL,
	"Give the certificate (PEM) with kafka.ssl.certificate.pem."},
	{"ssl.protocol", JAVA_NONE, NULL, NULL, NULL, NULL,
	"librdkafka negotiates the TLS version with OpenSSL and has no such setting."},
	{"ssl.enabled.protocols", JAVA_NONE, NULL, NULL, NULL, NULL,
	"librdkafka negotiates the TLS version with OpenSSL and has no such setting."},
};

static const JavaProperty *
find_java_property(const char *name)
{
	size_t		i;

	for (i = 0; i < sizeof(java_properties) / sizeof(java_properties[0]); i++)
		if (strcmp(java_properties[i].name, name) == 0)
			return &java_properties[i];
	return NULL;
}

static const PropertyRule *
find_rule(const char *name)
{
	size_t		i;

	for (i = 0; i < sizeof(property_rules) / sizeof(property_rules[0]); i++)
		if (strcmp(property_rules[i].name, name) == 0)
			return &property_rules[i];
	return NULL;
}

bool
kafka_property_is_secret(const char *name)
{
	const JavaProperty *java = find_java_property(name);
	const PropertyRule *rule = find_rule(java && java->property ? java->property : name);

	return rule != NULL && rule->kind == RULE_SECRET;
}

const char *
kafka_context_names(unsigned contexts)
{
	static char buf[128];
	const char *parts[5];
	int			n = 0;
	int			i;

	if (contexts & KAFKA_CTX_SERVER)
		parts[n++] = "server";
	if (contexts & KAFKA_CTX_USER_MAPPING)
		parts[n++] = "user mapping";
	if (contexts & KAFKA_CTX_TABLE)
		parts[n++] = "foreign table";
	if (contexts & KAFKA_CTX_COLUMN)
		parts[n++] = "column";
	if (contexts & KAFKA_CTX_CALL)
		parts[n++] = "per-call options";
	buf[0] = '\0';
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			strcat(buf, i == n - 1 ? " or " : ", ");
		strcat(buf, parts[i]);
	}
	if (n == 0)
		strcpy(buf, "nowhere");
	return buf;
}

/* strtoll that accepts only a whole non-negative number */
static bool
parse_count(const char *value, int64_t *out)
{
	char	   *end;
	long long	v;

	if (value == NULL || *value == '\0' || !isdigit((unsigned char) *value))
		return false;
	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

KafkaPropertyTranslation
kafka_property_translate(const char *name, const char *value,
						 char *buf, size_t bufsize)
{
	KafkaPropertyTranslation t;
	const JavaProperty *java = find_java_property(name);

	t.kind = KAFKA_TRANSLATION_SAME;
	t.property = name;
	t.value = value;
	t.note = NULL;
	if (java == NULL)
		return t;

	switch (java->kind)
	{
		case JAVA_RENAMED:
			t.property = java->property;
			if (value != NULL && java->java_value != NULL &&
				strcmp(value, java->java_value) == 0)
				t.value = java->librdkafka_value;
			break;
		case JAVA_BYTES_TO_KIB:
			{
				int64_t		bytes;

				t.property = java->property;
				t.note = "in KiB, rounded up";
				if (value == NULL)
					break;
				if (!parse_count(value, &bytes))
				{
					t.kind = KAFKA_TRANSLATION_BAD_VALUE;
					return t;
				}
				snprintf(buf, bufsize, "%lld", (long long) (bytes / 1024 + (bytes % 1024 != 0)));
				t.value = buf;
			}
			break;
		case JAVA_FORCED:
			t.property = NULL;
			t.note = java->hint;
			t.kind = value != NULL && strcasecmp(value, java->value) == 0 ?
				KAFKA_TRANSLATION_NO_OP : KAFKA_TRANSLATION_FORCED;
			return t;
		case JAVA_NONE:
			t.property = NULL;
			t.note = java->hint;
			t.kind = KAFKA_TRANSLATION_NO_EQUIVALENT;
			return t;
	}
	if (strcmp(t.property, name) != 0)
		t.kind = KAFKA_TRANSLATION_RENAMED;
	return t;
}

/* librdkafka's message without its trailing newline or period */
static void
copy_detail(char *detail, size_t size, const char *text)
{
	size_t		len;

	snprintf(detail, size, "%s", text);
	len = strlen(detail);
	while (len > 0 && (isspace((unsigned char) detail[len - 1]) || detail[len - 1] == '.'))
		detail[--len] = '\0';
}

/*
 * Try the value on a throwaway configuration, as the connection will.
 * librdkafka's message may quote the value: for a secret it is dropped,
 * unless a harmless stand-in value fails the same way (the property itself
 * is missing from this build), when the stand-in's message is safe to show.
 */
static void
check_librdkafka_value(const char *name, const char *value, bool secret,
					   KafkaPropertyCheck *result)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char		errstr[512];
	rd_kafka_conf_res_t res;

	/*
	 * Consumer-only and producer-only properties are both accepted by a
	 * generic configuration; topic-level ones (acks, compression.*) go to its
	 * default topic configuration and succeed with errstr still holding the
	 * global lookup's "No such configuration property": only the result
	 * counts.
	 */
	errstr[0] = '\0';
	res = rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr));
	rd_kafka_conf_destroy(conf);
	if (res == RD_KAFKA_CONF_OK)
		return;
	result->verdict = res == RD_KAFKA_CONF_UNKNOWN ?
		KAFKA_PROPERTY_UNSUPPORTED : KAFKA_PROPERTY_INVALID;
	result->detail[0] = '\0';
	if (!secret)
	{
		copy_detail(result->detail, sizeof(result->detail), errstr);
		return;
	}
	conf = rd_kafka_conf_new();
	errstr[0] = '\0';
	res = rd_kafka_conf_set(conf, name, "x", errstr, sizeof(errstr));
	rd_kafka_conf_destroy(conf);
	if (res != RD_KAFKA_CONF_OK)
	{
		result->verdict = KAFKA_PROPERTY_UNSUPPORTED;
		copy_detail(result->detail, sizeof(result->detail), errstr);
	}
}

/*
 * Values librdkafka accepts on their own but not together with what the
 * extension forces: its producer is always idempotent, which librdkafka
 * refuses to start with acks other than all or more than 5 requests in
 * flight.  Returns why, or NULL.
 */
static const char *
forced_setting_conflict(const char *name, const char *value)
{
	if (strcmp(name, "acks") == 0 || strcmp(name, "request.required.acks") == 0)
	{
		if (strcasecmp(value, "all") != 0 && strcmp(value, "-1") != 0)
			return "the producer is always idempotent, which needs acks=all (or -1)";
	}
	else if (strcmp(name, "max.in.flight") == 0 ||
			 strcmp(name, "max.in.flight.requests.per.connection") == 0)
	{
		int64_t		n;

		if (parse_count(value, &n) && n > 5)
			return "the producer is always idempotent, which allows at most 5 requests in flight";
	}
	else if (strcmp(name, "message.send.max.retries") == 0 || strcmp(name, "retries") == 0)
	{
		int64_t		n;

		if (parse_count(value, &n) && n == 0)
			return "the producer is always idempotent, which needs at least 1 retry";
	}
	return NULL;
}

KafkaPropertyCheck
kafka_property_check(const char *name, const char *value,
					 unsigned context, bool privileged)
{
	KafkaPropertyCheck result;
	const PropertyRule *rule;
	KafkaPropertyTranslation translation;
	char		converted[32];

	memset(&result, 0, sizeof(result));
	result.verdict = KAFKA_PROPERTY_OK;

	/* test.mock.* turns the client into an in-process fake cluster */
	if (strncmp(name, "test.mock.", 10) == 0)
	{
		result.verdict = KAFKA_PROPERTY_OWNED;
		result.why = "it replaces the real cluster with an in-process fake";
		return result;
	}

	/* a Java client name: what it means to librdkafka, if anything */
	translation = kafka_property_translate(name, value, converted, sizeof(converted));
	result.property = translation.property;
	switch (translation.kind)
	{
		case KAFKA_TRANSLATION_SAME:
			break;
		case KAFKA_TRANSLATION_RENAMED:
			result.unit = translation.note;
			break;
		case KAFKA_TRANSLATION_NO_OP:
			return result;
		case KAFKA_TRANSLATION_FORCED:
			result.verdict = KAFKA_PROPERTY_OWNED;
			result.why = translation.note;
			return result;
		case KAFKA_TRANSLATION_NO_EQUIVALENT:
			result.verdict = KAFKA_PROPERTY_NO_EQUIVALENT;
			result.why = translation.note;
			return result;
		case KAFKA_TRANSLATION_BAD_VALUE:
			result.verdict = KAFKA_PROPERTY_BAD_VALUE;
			result.unit = translation.note;
			return result;
	}
	name = translation.property;
	value = translation.value;

	rule = find_rule(name);
	if (rule == NULL)
	{
		result.verdict = KAFKA_PROPERTY_UNKNOWN;
		return result;
	}
	result.why = rule->why;
	result.allowed_contexts = rule->contexts;

	switch (rule->kind)
	{
		case RULE_OWNED:
			result.verdict = KAFKA_PROPERTY_OWNED;
			return result;
		case RULE_REFUSED:
			result.verdict = KAFKA_PROPERTY_REFUSED;
			return result;
		case RULE_SECRET:
			if (context != KAFKA_CTX_USER_MAPPING)
			{
				result.verdict = KAFKA_PROPERTY_SECRET_PLACE;
				return result;
			}
			break;
		case RULE_SUPERUSER:
			if (!privileged)
			{
				result.verdict = KAFKA_PROPERTY_SUPERUSER;
				return result;
			}
			break;
		case RULE_ALLOWED:
			break;
	}

	if ((rule->contexts & context) == 0)
	{
		result.verdict = KAFKA_PROPERTY_WRONG_PLACE;
		return result;
	}

	if (rule->superuser_value != NULL && value != NULL &&
		strcasecmp(value, rule->superuser_value) == 0 && !privileged)
	{
		result.verdict = KAFKA_PROPERTY_SUPERUSER;
		result.value_rule = true;
		return result;
	}

	if (rule->nonsuperuser_max > 0)
	{
		int64_t		n;

		if (!parse_count(value, &n))
		{
			result.verdict = KAFKA_PROPERTY_BAD_VALUE;
			return result;
		}
		if (!privileged && n > rule->nonsuperuser_max)
		{
			result.verdict = KAFKA_PROPERTY_TOO_LARGE;
			result.bound = rule->nonsuperuser_max;
			return result;
		}
	}

	/* only now: the policy decided that librdkafka may see the value */
	if (value != NULL)
		check_librdkafka_value(name, value, rule->kind == RULE_SECRET, &result);
	if (result.verdict == KAFKA_PROPERTY_OK && value != NULL)
	{
		const char *conflict = forced_setting_conflict(name, value);

		if (conflict != NULL)
		{
			result.verdict = KAFKA_PROPERTY_CONFLICT;
			result.why = conflict;
		}
	}
	return result;
}

static bool
is_one_of(const char *value, const char *const *names, int count)
{
	int			i;

	if (value == NULL)
		return false;
	for (i = 0; i < count; i++)
		if (strcasecmp(value, names[i]) == 0)
			return true;
	return false;
}

static bool
nonempty(const char *value)
{
	return value != NULL && value[0] != '\0';
}

bool
kafka_connection_uses_credential(const KafkaCredentialFacts *facts)
{
	static const char *const sasl_protocols[] = {"sasl_plaintext", "sasl_ssl"};
	static const char *const tls_protocols[] = {"ssl", "sasl_ssl"};
	static const char *const password_mechanisms[] = {
		"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"
	};
	bool		sasl = is_one_of(facts->security_protocol, sasl_protocols, 2);
	bool		tls = is_one_of(facts->security_protocol, tls_protocols, 2);

	/* without a mechanism librdkafka uses GSSAPI: the server's Kerberos */
	if (sasl && is_one_of(facts->sasl_mechanism, password_mechanisms, 3) &&
		nonempty(facts->sasl_username) && nonempty(facts->sasl_password))
		return true;
	if (sasl && facts->sasl_mechanism != NULL &&
		strcasecmp(facts->sasl_mechanism, "OAUTHBEARER") == 0 &&
		facts->oauthbearer_method != NULL &&
		strcasecmp(facts->oauthbearer_method, "oidc") == 0 &&
		nonempty(facts->oauthbearer_client_secret))
		return true;
	/* a key sends nothing without the certificate that goes with it */
	if (tls && ((facts->mapping_has_key && facts->has_certificate) ||
				facts->mapping_has_keystore))
		return true;
	return false;
}

/*
 * JAAS parsing.  Grammar (what Spark users paste):
 *   [kafkashaded.]org.apache.kafka.common.security.(plain.PlainLoginModule |
 *       scram.ScramLoginModule) FLAG { key = value } ;
 * where FLAG is required | requisite | sufficient | optional and value is a
 * double- or single-quoted string (backslash escapes the next character) or a
 * bare word.
 */
static const char *
skip_space(const char *p)
{
	while (*p && isspace((unsigned char) *p))
		p++;
	return p;
}

static char *
copy_range(const char *start, size_t len)
{
	char	   *s = malloc(len + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, start, len);
	s[len] = '\0';
	return s;
}

bool
kafka_parse_jaas_config(const char *text, KafkaJaasModule *module,
						char **username, char **password, const char **error)
{
	const char *p = skip_space(text);
	const char *word;
	size_t		len;
	bool		have_terminator = false;

	*username = NULL;
	*password = NULL;

	/* login module class */
	word = p;
	while (*p && !isspace((unsigned char) *p))
		p++;
	len = p - word;
	if (len > 12 && strncmp(word, "kafkashaded.", 12) == 0)
	{
		word += 12;
		len -= 12;
	}
	if (len == strlen("org.apache.kafka.common.security.plain.PlainLoginModule") &&
		strncmp(word, "org.apache.kafka.common.security.plain.PlainLoginModule", len) == 0)
		*module = KAFKA_JAAS_PLAIN;
	else if (len == strlen("org.apache.kafka.common.security.scram.ScramLoginModule") &&
			 strncmp(word, "org.apache.kafka.common.security.scram.ScramLoginModule", len) == 0)
		*module = KAFKA_JAAS_SCRAM;
	else
	{
		*error = "only PlainLoginModule and ScramLoginModule are supported";
		return false;
	}

	/* control flag */
	p = skip_space(p);
	word = p;
	while (*p && isalpha((unsigned char) *p))
		p++;
	len = p - word;
	if (!((len == 8 && strncmp(word, "required", 8) == 0) ||
		  (len == 9 && strncmp(word, "requisite", 9) == 0) ||
		  (len == 10 && strncmp(word, "sufficient", 10) == 0) ||
		  (len == 8 && strncmp(word, "optional", 8) == 0)))
	{
		*error = "expected a control flag (required, requisite, sufficient or optional) after the login module";
		return false;
	}

	/* key = value pairs up to ';' */
	for (;;)
	{
		const char *key;
		size_t		keylen;
		char	   *value;

		p = skip_space(p);
		if (*p == ';')
		{
			have_terminator = true;
			p++;
			break;
		}
		if (*p == '\0')
			break;
		key = p;
		while (*p && (isalnum((unsigned char) *p) || *p == '_' || *p == '.' || *p == '-'))
			p++;
		keylen = p - key;
		if (keylen == 0)
		{
			*error = "expected a key = value pair";
			goto fail;
		}
		p = skip_space(p);
		if (*p != '=')
		{
			*error = "expected \"=\" after a key";
			goto fail;
		}
		p = skip_space(p + 1);
		if (*p == '"' || *p == '\'')
		{
			char		quote = *p++;
			const char *end = p;
			char	   *out;
			size_t		n = 0;

			/* sized to this value, not the rest of the text: linear overall */
			while (*end && *end != quote)
				end += (*end == '\\' && end[1] != '\0') ? 2 : 1;
			out = malloc(end - p + 1);

			if (out == NULL)
			{
				*error = "out of memory";
				goto fail;
			}
			while (*p && *p != quote)
			{
				if (*p == '\\' && p[1] != '\0')
					p++;
				out[n++] = *p++;
			}
			if (*p != quote)
			{
				free(out);
				*error = "unterminated quoted value";
				goto fail;
			}
			p++;
			out[n] = '\0';
			value = out;
		}
		else
		{
			const char *start = p;

			while (*p && !isspace((unsigned char) *p) && *p != ';')
				p++;
			value = copy_range(start, p - start);
		}

		if (keylen == 8 && strncmp(key, "username", 8) == 0)
		{
			free(*username);
			*username = value;
		}
		else if (keylen == 8 && strncmp(key, "password", 8) == 0)
		{
			free(*password);
			*password = value;
		}
		else
			free(value);		/* other keys (e.g. tokenauth) are ignored */
	}

	if (!have_terminator)
	{
		*error = "the configuration must end with \";\"";
		goto fail;
	}
	p = skip_space(p);
	if (*p != '\0')
	{
		*error = "only one login module may be given";
		goto fail;
	}
	if (*username == NULL || *password == NULL)
	{
		*error = "both username and password must be given";
		goto fail;
	}
	return true;

fail:
	free(*username);
	free(*password);
	*username = NULL;
	*password = NULL;
	return false;
}

bool
kafka_topic_name_valid(const char *name)
{
	size_t		len = strlen(name);
	size_t		i;

	if (len == 0 || len > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}
