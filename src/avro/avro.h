/*-------------------------------------------------------------------------
 *
 * avro.h
 *	  Avro for kafka_fdw: schemas parsed from their JSON (those of the
 *	  Confluent Schema Registry once per backend), and the decoder and
 *	  encoder that plug into the codec interface (format "avro").
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
#include "registry/schema_registry.h"

/*
 * Deepest nesting of schemas and of values inside one payload: the codec's
 * one limit.  Unions count as a level.
 */
#define AVRO_MAX_DEPTH KAFKA_MAX_NESTING_DEPTH

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

/* The table option avro_schema: its check, and its value or NULL. */
extern void kafka_avro_check_schema_option(const char *name,
										   const char *value);
extern const char *avro_schema_option(const KafkaCodecOptions *options);

/*
 * Writer schemas by id and the latest schema of a subject from the Schema
 * Registry, parsed once per backend.  By id: NULL with *error when the
 * registry does not know the id or the schema is not usable Avro (a fault
 * of the message).  Latest: NULL when there is none or it is not Avro.
 */
extern AvroNode *avro_registry_schema(KafkaRegistry *registry, int32 id,
									  char **error);
extern AvroNode *avro_registry_latest_schema(KafkaRegistry *registry,
											 const char *subject);

/* avro_import.c: IMPORT FOREIGN SCHEMA of Avro subjects (format table) */
extern bool kafka_avro_schema_columns(struct KafkaRegistry *registry,
									  const struct KafkaRegistrySchema *schema,
									  List **columns,
									  char **why);
extern const char *kafka_avro_schema_value_type(struct KafkaRegistry *registry,
												const struct KafkaRegistrySchema *schema);

/* The entries of format avro in the format table (options may be NULL). */
extern void kafka_avro_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
									const KafkaCodecOptions *options);
extern void kafka_avro_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
									const KafkaCodecOptions *options);

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

/* avro_decode.c */
extern const char *avro_pg_type_name(const AvroNode *node);

/* avro_encode.c */
extern char *avro_schema_for_tupdesc(TupleDesc desc, const int *attnums,
									 int natts, const char *record_name);

#endif							/* KAFKA_AVRO_H */
