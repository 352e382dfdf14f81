/*-------------------------------------------------------------------------
 *
 * avro.h
 *	  Avro for kafka_fdw: schemas parsed from their JSON, a Confluent Schema
 *	  Registry client with a per-backend cache, and the decoder and encoder
 *	  that plug into the codec interface (format "avro").
 *
 * Schemas are parsed into AvroNode trees once per schema (per schema id for
 * registry schemas), checked by libavro-c's parser as well (avro_libavro.c),
 * and kept for the life of the backend; decoding compiles
 * a plan from a writer schema and a tuple descriptor (which field fills
 * which column, which fields are skipped) and then walks the binary payload
 * once, building Datums directly.
 *
 * Payloads are hostile: every varint and length is bounds-checked against
 * the payload before use, nesting is limited, and nothing is allocated
 * with a size read from the payload before that size was checked against
 * the bytes actually present.
 *
 * IDENTIFICATION
 *	  src/avro/avro.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_AVRO_H
#define KAFKA_AVRO_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "codec/codec.h"
#include "lib/stringinfo.h"

/*
 * Deepest nesting of schemas and of values inside one payload: the codec's
 * one limit.  Unions count as a level.
 */
#define AVRO_MAX_DEPTH KAFKA_MAX_NESTING_DEPTH

/* Confluent wire format: magic byte 0, 4-byte big-endian schema id. */
#define AVRO_CONFLUENT_MAGIC 0
#define AVRO_CONFLUENT_HEADER_SIZE 5

typedef enum AvroType
{
	AVRO_NULL,
	AVRO_BOOLEAN,
	AVRO_INT,
	AVRO_LONG,
	AVRO_FLOAT,
	AVRO_DOUBLE,
	AVRO_BYTES,
	AVRO_STRING,
	AVRO_RECORD,
	AVRO_ENUM,
	AVRO_ARRAY,
	AVRO_MAP,
	AVRO_UNION,
	AVRO_FIXED
} AvroType;

/* logicalType, read from the schema JSON (libavro-c ignores it). */
typedef enum AvroLogical
{
	AVRO_LOGICAL_NONE,
	AVRO_LOGICAL_DECIMAL,		/* bytes or fixed */
	AVRO_LOGICAL_UUID,			/* string */
	AVRO_LOGICAL_DATE,			/* int: days since 1970-01-01 */
	AVRO_LOGICAL_TIME_MILLIS,	/* int */
	AVRO_LOGICAL_TIME_MICROS,	/* long */
	AVRO_LOGICAL_TIMESTAMP_MILLIS,	/* long, UTC */
	AVRO_LOGICAL_TIMESTAMP_MICROS,	/* long, UTC */
	AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS,	/* long, no time zone */
	AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS /* long, no time zone */
} AvroLogical;

typedef struct AvroNode
{
	AvroType	type;
	AvroLogical logical;
	int			precision;		/* decimal */
	int			scale;			/* decimal */
	char	   *name;			/* full name of named types, else NULL */
	int			nchildren;		/* record fields, union branches, 1 for
								 * array items and map values */
	struct AvroNode **children;
	char	  **field_names;	/* record */
	char	  **field_defaults; /* record: "default" (string contents, or JSON
								 * text of other values), NULL for none/null */
	char	   *field_default_kinds;	/* 's' string, 'n' number, 'b' boolean,
										 * 'j' object or array */
	char	  **symbols;		/* enum */
	int			nsymbols;
	int			fixed_size;		/* fixed */
} AvroNode;

/* avro_schema.c */
extern AvroNode *avro_schema_parse(const char *json, size_t len,
								   char **error);
extern AvroNode *avro_schema_parse_detail(const char *json, size_t len,
										  char **error, char **detail);
extern const char *avro_type_name(const AvroNode *node);

/* avro_registry.c */
typedef struct AvroRegistry
{
	char	   *url;			/* without a trailing slash */
	char	   *user;
	char	   *password;		/* secret: never in messages */
	char	   *ca_location;	/* CA bundle file for https, or NULL */
	char	   *server_name;	/* for messages */
} AvroRegistry;

/* A registry schema: parsed once per backend and kept. */
typedef struct AvroRegistrySchema
{
	int32		id;
	AvroNode   *root;			/* NULL when the schema could not be used */
	char	   *error;			/* why, when root is NULL */
} AvroRegistrySchema;

extern AvroRegistry *avro_registry_for_server(const char *server_name,
											  Oid userid);
extern AvroRegistrySchema *avro_registry_schema_by_id(AvroRegistry *registry,
													  int32 id);
extern AvroNode *avro_registry_latest_schema(AvroRegistry *registry,
											 const char *subject);
extern int32 avro_registry_register(AvroRegistry *registry,
									const char *subject,
									const char *schema_json);
extern char *avro_registry_url_for_message(const char *url);

/*
 * Called in the backend before each wait for a registry that is
 * unavailable, with what the ERROR would say if the retries ran out now:
 * a streaming worker shows it in kafka.stream_progress while it waits.
 * NULL (the default) does nothing.
 */
typedef void (*AvroRegistryRetryHook) (const char *message);
extern AvroRegistryRetryHook avro_registry_retry_hook;

/* avro_json.c: an Avro value as JSON text (UTF-8) */
typedef struct AvroCursor
{
	const uint8 *p;
	const uint8 *end;
	bool		too_deep;		/* avro_skip_value failed on nesting */
} AvroCursor;

extern bool avro_read_long(AvroCursor *cursor, int64 *value);
extern bool avro_skip_value(AvroCursor *cursor, const AvroNode *node,
							int depth);
extern bool kafka_avro_value_to_json(AvroCursor *cursor, const AvroNode *node,
							   StringInfo out, int depth, char **error);
extern void avro_append_json_string(StringInfo out, const char *text,
									int len);

/* avro_encode.c */
extern char *avro_schema_for_tupdesc(TupleDesc desc, const int *attnums,
									 int natts, const char *record_name);

#endif							/* KAFKA_AVRO_H */
