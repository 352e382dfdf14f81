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
	KAFKA_PROPERTY_BAD_VALUE	/* not a valid value for the property */
} KafkaPropertyVerdict;

typedef struct KafkaPropertyCheck
{
	KafkaPropertyVerdict verdict;
	const char *why;			/* static text for REFUSED/SUPERUSER/OWNED */
	int64_t		bound;			/* for TOO_LARGE */
	unsigned	allowed_contexts;	/* for WRONG_PLACE */
	bool		value_rule;		/* SUPERUSER only because of this value */
} KafkaPropertyCheck;

/*
 * Check one librdkafka property (name without the "kafka." prefix) with its
 * value, written in context (one KAFKA_CTX_* bit) by a user who is or is not
 * privileged (superuser).  Never looks at the value of a secret beyond
 * emptiness.
 */
extern KafkaPropertyCheck kafka_property_check(const char *name,
											   const char *value,
											   unsigned context,
											   bool privileged);

/* Is this property a secret (masked everywhere, user mappings only)? */
extern bool kafka_property_is_secret(const char *name);

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
