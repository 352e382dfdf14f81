/*-------------------------------------------------------------------------
 *
 * options.h
 *	  The one option parser: server, user mapping, foreign table, column and
 *	  per-call options, their validation, and the connection spec built from
 *	  them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_OPTIONS_H
#define KAFKA_OPTIONS_H

#include "postgres.h"

#include "foreign/foreign.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "common/kafka_properties.h"

/* What a connection needs, resolved from the catalogs for the current user. */
typedef struct KafkaConnectionSpec
{
	char	   *server_name;	/* NULL when bootstrapServers was given */
	char	   *bootstrap_servers;
	char	   *security_protocol;	/* lower case; NULL = plaintext */
	char	   *sasl_mechanism; /* upper case; NULL = none */
	char	   *sasl_username;
	char	   *sasl_password;	/* secret */
	char	   *schema_registry_url;
	char	   *schema_registry_ca_location;	/* CA bundle for https, or NULL */
	char	   *schema_registry_user;
	char	   *schema_registry_password;	/* secret */
	int			connect_timeout_ms;
	int			message_timeout_ms; /* producers: delivery deadline */
	char	   *transactional_id;	/* producers: set by the extension only */
	int			transaction_timeout_ms;
	List	   *properties;		/* DefElem list of librdkafka name -> value */
	List	   *secrets;		/* every secret value, to scrub from logs */
} KafkaConnectionSpec;

/* Context bit for a catalog OID given to the validator. */
extern unsigned kafka_context_for_catalog(Oid catalog);

/* Validate an option list for one context; ereports on the first problem. */
extern void kafka_validate_options(List *options, unsigned context);

/* ereport naming the option when value is empty. */
extern void kafka_check_nonempty(const char *name, const char *value);

/* Look up an option by name (or Spark alias) in a DefElem list. */
extern char *kafka_option_value(List *options, const char *name);

/*
 * ereport (22023, naming what: "dead_letter_topic", "topic column \"x\"")
 * unless name is a topic name Kafka accepts.
 */
extern void kafka_check_topic_name(const char *name, const char *what);

/* Connection spec for a kafka_fdw server as used by userid. */
extern KafkaConnectionSpec *kafka_connection_for_server(ForeignServer *server,
														Oid userid);

/* Connection spec for a bootstrap server list given directly to a call. */
extern KafkaConnectionSpec *kafka_connection_for_bootstrap(const char *servers);

/* Apply read_kafka(options => jsonb) to a spec, after the per-call checks. */
extern void kafka_connection_apply_call_options(KafkaConnectionSpec *spec,
												Jsonb *options);

/* Set (or replace) one librdkafka property in a spec. */
extern void kafka_spec_set_property(KafkaConnectionSpec *spec,
									const char *name, const char *value);
extern const char *kafka_spec_get_property(KafkaConnectionSpec *spec,
										   const char *name);

/* GUC: role whose members may give bootstrapServers directly. */
extern char *kafka_direct_connect_role;

#endif							/* KAFKA_OPTIONS_H */
