/*-------------------------------------------------------------------------
 *
 * kafka_properties.h
 *	  Which librdkafka properties a user may set, where, and who.
 *
 * This file and its .c are free of PostgreSQL headers so the rules can be
 * unit-tested on their own (test/unit).  The PostgreSQL side (options.c)
 * turns a verdict into an ereport.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_PROPERTIES_H
#define KAFKA_PROPERTIES_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Where an option or property may be written (bit mask). */
#define KAFKA_CTX_SERVER		0x01
#define KAFKA_CTX_USER_MAPPING	0x02
#define KAFKA_CTX_TABLE			0x04
#define KAFKA_CTX_COLUMN		0x08
#define KAFKA_CTX_CALL			0x10	/* read_kafka(options => ...) */

typedef enum KafkaPropertyVerdict
{
	KAFKA_PROPERTY_OK,
	KAFKA_PROPERTY_UNKNOWN,		/* not on the allowlist */
	KAFKA_PROPERTY_OWNED,		/* the extension sets it itself */
	KAFKA_PROPERTY_REFUSED,		/* code or file execution: nobody */
	KAFKA_PROPERTY_SUPERUSER,	/* needs superuser (or the stated role) */
	KAFKA_PROPERTY_WRONG_PLACE, /* not allowed in this context */
	KAFKA_PROPERTY_SECRET_PLACE,	/* a secret outside a user mapping */
	KAFKA_PROPERTY_TOO_LARGE,	/* above the bound for non-superusers */
	KAFKA_PROPERTY_BAD_VALUE,	/* not a valid value for the property */
	KAFKA_PROPERTY_INVALID,		/* librdkafka refuses the value (detail) */
	KAFKA_PROPERTY_UNSUPPORTED, /* this librdkafka build lacks it (detail) */
	KAFKA_PROPERTY_CONFLICT,	/* the value contradicts what the extension
								 * forces (why) */
	KAFKA_PROPERTY_NO_EQUIVALENT	/* a Java client property librdkafka or
									 * kafka_fdw has no use for (why: what
									 * to use instead, a sentence) */
} KafkaPropertyVerdict;

typedef struct KafkaPropertyCheck
{
	KafkaPropertyVerdict verdict;
	const char *why;			/* static text for REFUSED/SUPERUSER/OWNED */
	int64_t		bound;			/* for TOO_LARGE */
	unsigned	allowed_contexts;	/* for WRONG_PLACE */
	bool		value_rule;		/* SUPERUSER only because of this value */
	/* librdkafka's name the rules were applied to; NULL: nothing to set */
	const char *property;
	const char *unit;			/* a unit conversion on the way, or NULL */
	/* librdkafka's own words for INVALID/UNSUPPORTED; empty for secrets */
	char		detail[256];
} KafkaPropertyCheck;

/*
 * Check one librdkafka property (name without the "kafka." prefix) with its
 * value, written in context (one KAFKA_CTX_* bit) by a user who is or is not
 * privileged (superuser).  A Java client name is first translated (see
 * kafka_property_translate) and the rules applied to librdkafka's name and
 * value.  A property the policy lets through has its value tried on a
 * throwaway librdkafka configuration, so a value librdkafka would refuse at
 * connection time is refused now; the detail of a secret's refusal never
 * quotes the value.
 */
extern KafkaPropertyCheck kafka_property_check(const char *name,
											   const char *value,
											   unsigned context,
											   bool privileged);

/*
 * Java client property names (as Spark users write them after "kafka.")
 * translated to librdkafka's: one table drives the renames, the unit
 * conversions, the values kafka_fdw always uses and the refusals.
 */
typedef enum KafkaTranslationKind
{
	KAFKA_TRANSLATION_SAME,		/* librdkafka's own name: set as given */
	KAFKA_TRANSLATION_RENAMED,	/* set property = value instead */
	KAFKA_TRANSLATION_NO_OP,	/* kafka_fdw always does this: set nothing */
	KAFKA_TRANSLATION_FORCED,	/* contradicts what kafka_fdw always does
								 * (note: why) */
	KAFKA_TRANSLATION_NO_EQUIVALENT,	/* note: what to use instead */
	KAFKA_TRANSLATION_BAD_VALUE /* a unit conversion needs a whole number */
} KafkaTranslationKind;

typedef struct KafkaPropertyTranslation
{
	KafkaTranslationKind kind;
	const char *property;		/* librdkafka's name (SAME, RENAMED) */
	const char *value;			/* the value given, a static spelling, or buf */
	const char *note;			/* a unit ("in KiB, rounded up"), why or hint */
} KafkaPropertyTranslation;

/*
 * Translate name (without "kafka.") and value; a converted value is written
 * into buf.  Only names, units and spellings change: the result must still
 * pass kafka_property_check under librdkafka's name.
 */
extern KafkaPropertyTranslation kafka_property_translate(const char *name,
														 const char *value,
														 char *buf,
														 size_t bufsize);

/*
 * What password_required needs to know about a connection: the credentials
 * it would actually use.  Strings are NULL when not set; protocol and
 * mechanism as the server gives them (any case; NULL: plaintext, and
 * librdkafka's default mechanism GSSAPI).
 */
typedef struct KafkaCredentialFacts
{
	const char *security_protocol;
	const char *sasl_mechanism;
	const char *sasl_username;	/* user mapping (or its JAAS line) */
	const char *sasl_password;	/* user mapping (or its JAAS line) */
	const char *oauthbearer_method; /* sasl.oauthbearer.method */
	const char *oauthbearer_client_secret;	/* user mapping */
	bool		mapping_has_key;	/* ssl.key.pem/.location in the mapping */
	bool		mapping_has_keystore;	/* ssl.keystore.location in the mapping */
	bool		has_certificate;	/* ssl.certificate.pem/.location anywhere */
} KafkaCredentialFacts;

/*
 * Does the connection authenticate with a credential of the user mapping's
 * own?  A SASL username and password (PLAIN or SCRAM over sasl_*), an OIDC
 * client secret (OAUTHBEARER over sasl_*), or a TLS client key with its
 * certificate (over ssl or sasl_ssl).  Credentials the connection would not
 * use do not count.
 */
extern bool kafka_connection_uses_credential(const KafkaCredentialFacts *facts);

/*
 * Is this property (librdkafka's or a Java client name for it) a secret
 * (masked everywhere, user mappings only)?
 */
extern bool kafka_property_is_secret(const char *name);

/*
 * Is name a topic name Kafka accepts: 1 to 249 characters of [a-zA-Z0-9._-],
 * not "." or ".."?
 */
extern bool kafka_topic_name_valid(const char *name);

/* Human-readable list of contexts, e.g. "server or user mapping". */
extern const char *kafka_context_names(unsigned contexts);

/*
 * Parse a Java JAAS configuration as Spark users paste it into
 * kafka.sasl.jaas.config, e.g.
 *   kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule
 *     required username="u" password="p";
 * Only PlainLoginModule and ScramLoginModule are understood.  On success
 * returns true and fills the outputs (malloc'd; caller frees).  On failure
 * returns false and sets *error to a static message that never contains
 * any part of the input (it may hold a password).
 */
typedef enum KafkaJaasModule
{
	KAFKA_JAAS_PLAIN,
	KAFKA_JAAS_SCRAM
} KafkaJaasModule;

extern bool kafka_parse_jaas_config(const char *text,
									KafkaJaasModule *module,
									char **username,
									char **password,
									const char **error);

#endif							/* KAFKA_PROPERTIES_H */
