/*-------------------------------------------------------------------------
 *
 * schema_registry.h
 *	  The Confluent Schema Registry client of kafka_fdw, for every format
 *	  whose schemas live there (Avro, Protobuf, JSON Schema), and the
 *	  Confluent wire header that names a payload's schema.
 *
 * The registry of a kafka_fdw server is its schema_registry_url, with the
 * credentials of the user mapping and the server's CA bundle.  Schemas come
 * back as the registry gives them (text, type, references); parsing them is
 * the format's business.  Requests wait cancellably and retry a registry
 * that is unavailable (schema_registry.c has the rules); answers that say
 * the registry is not one, or refuses us, are ERRORs.
 *
 * Call only from the backend's main thread: palloc, ereport, latches.
 *
 * IDENTIFICATION
 *	  src/registry/schema_registry.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_SCHEMA_REGISTRY_H
#define KAFKA_SCHEMA_REGISTRY_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

/*
 * Confluent wire format: magic byte 0, then the schema id in 4 bytes, big
 * endian, then the payload (for Protobuf after its message indexes).
 */
#define KAFKA_CONFLUENT_MAGIC 0
#define KAFKA_CONFLUENT_HEADER_SIZE 5

/* The schema id of a header whose length and magic byte were checked. */
static inline int32
kafka_confluent_schema_id(const uint8 *header)
{
	return (int32) (((uint32) header[1] << 24) | ((uint32) header[2] << 16) |
					((uint32) header[3] << 8) | (uint32) header[4]);
}

static inline void
kafka_confluent_append_header(StringInfo out, int32 schema_id)
{
	appendStringInfoChar(out, KAFKA_CONFLUENT_MAGIC);
	appendStringInfoChar(out, (char) (schema_id >> 24));
	appendStringInfoChar(out, (char) (schema_id >> 16));
	appendStringInfoChar(out, (char) (schema_id >> 8));
	appendStringInfoChar(out, (char) schema_id);
}

typedef struct KafkaRegistry
{
	char	   *url;			/* without a trailing slash */
	char	   *user;
	char	   *password;		/* secret: never in messages */
	char	   *ca_location;	/* CA bundle file for https, or NULL */
	char	   *server_name;	/* for messages */
} KafkaRegistry;

/* A schema another one imports: "references" in the registry's answers. */
typedef struct KafkaSchemaReference
{
	char	   *name;			/* as the importing schema names it */
	char	   *subject;
	int32		version;
} KafkaSchemaReference;

/* A schema as the registry gives it. */
typedef struct KafkaRegistrySchema
{
	int32		id;				/* -1 when the answer did not say */
	int32		version;		/* of the subject; 0 when not asked by one */
	char	   *schema;			/* the text; NULL with error set */
	const char *schema_type;	/* "AVRO" (when the answer names none),
								 * "PROTOBUF", "JSON"... */
	int			nreferences;
	KafkaSchemaReference *references;
	char	   *error;			/* why there is no schema */
	void	   *parsed;			/* the format's reading of it, once made
								 * (kafka_registry_parsed) */
} KafkaRegistrySchema;

/*
 * The registry of a kafka_fdw server as userid (InvalidOid: the current
 * user) sees it; ERROR when the server has no schema_registry_url.
 */
extern KafkaRegistry *kafka_registry_for_server(const char *server_name,
												Oid userid);

/*
 * GET /schemas/ids/{id}[?query] (query NULL, or e.g. "format=serialized"),
 * cached per backend.  An id the registry does not know is a fault of the
 * message naming it: schema NULL with error set, not cached.  Other answers
 * without a schema are an ERROR.  Valid for the life of the backend.
 */
extern const KafkaRegistrySchema *kafka_registry_schema_by_id(KafkaRegistry *registry,
															  int32 id,
															  const char *query);

/*
 * The latest version of subject (asked once per backend; valid for its
 * life), with schema NULL when the subject does not exist or the answer
 * has none.
 */
extern const KafkaRegistrySchema *kafka_registry_latest(KafkaRegistry *registry,
														const char *subject,
														const char *query);

/*
 * A version of subject (not cached; version -1: the latest), or NULL when
 * there is no such.
 */
extern KafkaRegistrySchema *kafka_registry_subject_version(KafkaRegistry *registry,
														   const char *subject,
														   int32 version,
														   const char *query);

/*
 * The id of schema under subject: looked up first (enough with read-only
 * credentials when it is registered), registered otherwise.  schema_type
 * NULL or "AVRO" sends none, as the registry's default.  Cached per
 * backend.
 */
extern int32 kafka_registry_register(KafkaRegistry *registry,
									 const char *subject, const char *schema,
									 const char *schema_type,
									 const KafkaSchemaReference *references,
									 int nreferences);

/* GET /subjects: the names of the registry's subjects (a List of char *). */
extern List *kafka_registry_subjects(KafkaRegistry *registry);

/*
 * A format's reading of a registry schema (an Avro node tree, a Protobuf
 * schema), made by parse once and kept with the schema: for the life of the
 * backend when the registry's cache holds the schema.  parse is called in a
 * memory context that lives as long, and returns NULL with *error when the
 * schema cannot be used.  A schema whose schemaType is not schema_type, or
 * that the registry did not give, is NULL with *error too.
 */
typedef void *(*KafkaRegistryParse) (KafkaRegistry *registry,
									 const KafkaRegistrySchema *schema,
									 char **error);
extern void *kafka_registry_parsed(KafkaRegistry *registry,
								   const KafkaRegistrySchema *schema,
								   const char *schema_type,
								   KafkaRegistryParse parse, char **error);

/* The URL without the user information it may carry, for messages. */
extern char *kafka_registry_url_for_message(const char *url);

/*
 * Called in the backend before each wait for a registry that is
 * unavailable, with what the ERROR would say if the retries ran out now:
 * a streaming worker shows it in kafka.stream_progress while it waits.
 * NULL (the default) does nothing.
 */
typedef void (*KafkaRegistryRetryHook) (const char *message);
extern KafkaRegistryRetryHook kafka_registry_retry_hook;

#endif							/* KAFKA_SCHEMA_REGISTRY_H */
