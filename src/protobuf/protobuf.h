/*-------------------------------------------------------------------------
 *
 * protobuf.h
 *	  Protobuf for kafka_fdw: a schema model built from descriptor sets, the
 *	  wire-format reader and JSON renderer, and the decoder and encoder that
 *	  plug into the codec interface (format "protobuf").
 *
 * Descriptor sets (protoc --descriptor_set_out --include_imports) are
 * parsed with protobuf-c into a PbSchema: messages and enums by full name,
 * fields with their number, type, label, packing and oneof.  The
 * well-known types (google.protobuf.Timestamp, Duration, the wrappers,
 * Struct, Value, ListValue, Any, Empty) are bundled: a set that refers to
 * them without carrying them still resolves.  Decoding compiles a plan per
 * (message type, tuple descriptor), as Avro does, and reads the wire format
 * itself.
 *
 * Payloads are hostile: every varint, length and nesting level is checked
 * against the bytes left (KAFKA_MAX_NESTING_DEPTH), nothing is allocated
 * with a size read from the payload before it was checked against the
 * payload, and a malformed payload is the record's error, never an ERROR.
 *
 * IDENTIFICATION
 *	  src/protobuf/protobuf.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_PROTOBUF_H
#define KAFKA_PROTOBUF_H

#include "postgres.h"

#include "codec/codec.h"
#include "lib/stringinfo.h"
#include "protobuf/pb_message_indexes.h"

#define PB_MAX_DEPTH KAFKA_MAX_NESTING_DEPTH

/* Field types, numbered as in descriptor.proto's FieldDescriptorProto.Type */
typedef enum PbType
{
	PB_DOUBLE = 1,
	PB_FLOAT = 2,
	PB_INT64 = 3,
	PB_UINT64 = 4,
	PB_INT32 = 5,
	PB_FIXED64 = 6,
	PB_FIXED32 = 7,
	PB_BOOL = 8,
	PB_STRING = 9,
	PB_GROUP = 10,
	PB_MESSAGE = 11,
	PB_BYTES = 12,
	PB_UINT32 = 13,
	PB_ENUM = 14,
	PB_SFIXED32 = 15,
	PB_SFIXED64 = 16,
	PB_SINT32 = 17,
	PB_SINT64 = 18
} PbType;

/* Wire types */
#define PB_WIRE_VARINT 0
#define PB_WIRE_FIXED64 1
#define PB_WIRE_LEN 2
#define PB_WIRE_START_GROUP 3
#define PB_WIRE_END_GROUP 4
#define PB_WIRE_FIXED32 5

/* Well-known types, which map to PostgreSQL types of their own */
typedef enum PbWellKnown
{
	PB_WKT_NONE,
	PB_WKT_TIMESTAMP,			/* timestamptz */
	PB_WKT_DURATION,			/* interval */
	PB_WKT_WRAPPER,				/* its one "value" field, NULL when absent */
	PB_WKT_STRUCT,				/* jsonb object */
	PB_WKT_VALUE,				/* jsonb value */
	PB_WKT_LIST_VALUE,			/* jsonb array */
	PB_WKT_ANY,					/* jsonb object with "@type" */
	PB_WKT_EMPTY				/* jsonb {} */
} PbWellKnown;

typedef struct PbMessage PbMessage;

typedef struct PbEnum
{
	char	   *full_name;		/* without the leading dot */
	int			nvalues;
	char	  **names;
	int32	   *numbers;
	bool		closed;			/* proto2: unknown numbers are unknown fields */
} PbEnum;

typedef struct PbField
{
	char	   *name;
	int			name_length;
	int32		number;
	PbType		type;
	bool		repeated;
	bool		packed;			/* repeated scalars written packed */
	bool		has_presence;	/* proto2 optional, proto3 optional, oneof,
								 * messages */
	int			oneof_index;	/* -1: none (proto3 optional's synthetic
								 * oneof is not a oneof here) */
	char	   *default_value;	/* proto2 [default = ...] as text, or NULL */
	char	   *type_name;		/* messages and enums, as written */
	PbMessage  *message;		/* PB_MESSAGE, PB_GROUP */
	PbEnum	   *enumeration;	/* PB_ENUM */
} PbField;

struct PbMessage
{
	char	   *full_name;		/* without the leading dot */
	int			nfields;
	PbField    *fields;			/* in declaration order */
	bool		map_entry;		/* fields[0] key (1), fields[1] value (2) */
	PbWellKnown well_known;
	bool		proto3;
	int			noneofs;
	char	  **oneof_names;
	/* field index by number: direct below by_number_size, else search */
	int			by_number_size;
	int		   *by_number;		/* -1: no such field */
	int		   *sorted;			/* field indexes sorted by number */
};

/*
 * The messages of a file in declaration order, nested ones under theirs,
 * without map entries: what Confluent's message indexes count.
 */
typedef struct PbFileMessage
{
	PbMessage  *message;
	int			nnested;
	struct PbFileMessage *nested;
} PbFileMessage;

typedef struct PbSchema
{
	int			nmessages;
	PbMessage **messages;
	int			nenums;
	PbEnum	  **enums;
	/* the first file's messages, for message indexes */
	int			nfile_messages;
	PbFileMessage *file_messages;
} PbSchema;

/* pb_schema.c */
extern PbSchema *pb_schema_from_descriptor_set(const uint8 *data, size_t len,
											   MemoryContext mcxt,
											   char **error);
/*
 * Several serialized FileDescriptorProtos (a registry schema and the files
 * it imports, the main one first) as one schema.
 */
extern PbSchema *pb_schema_from_files(const uint8 *const *data,
									  const size_t *lens, int nfiles,
									  MemoryContext mcxt, char **error);
extern PbMessage *pb_schema_message(PbSchema *schema, const char *name);

/*
 * The message of the first file that Confluent's message indexes name
 * (NULL: out of range), and the other way round (false: not in the file).
 */
extern PbMessage *pb_schema_message_by_indexes(const PbSchema *schema,
											   const int32 *indexes,
											   int count);
extern bool pb_schema_message_indexes(const PbSchema *schema,
									  const PbMessage *message,
									  int32 *indexes, int max_indexes,
									  int *count);
extern const PbField *pb_message_field(const PbMessage *message, int32 number);
extern const char *pb_type_name(PbType type);
extern bool pb_type_is_packable(PbType type);
extern bool pb_read_server_descriptor_file(const char *path, char **data,
										   size_t *len);


/* pb_wire.c: reading the wire format */
typedef struct PbCursor
{
	const uint8 *p;
	const uint8 *end;
} PbCursor;

/* The wire type a value of the type is written with (not packed). */
extern int	pb_wire_type(PbType type);
extern bool pb_read_varint(PbCursor *cursor, uint64 *value);
extern bool pb_read_tag(PbCursor *cursor, int32 *number, int *wire_type);
extern bool pb_skip_value(PbCursor *cursor, int wire_type, int32 number,
						  int depth, bool *too_deep);

/* How messages render as JSON (kafka.from_protobuf, jsonb columns) */
typedef struct PbJsonOptions
{
	bool		emit_defaults;	/* absent fields with their default */
	bool		enums_as_ints;
	int			max_recursion;	/* recursive.fields.max.depth; -1: any */
	PbSchema   *schema;			/* for Any's types, or NULL */
	const PbMessage **path;		/* with max_recursion: the message types
								 * being rendered, PB_MAX_DEPTH + 2 slots */
} PbJsonOptions;

extern bool pb_message_to_json(const PbMessage *message, const uint8 *data,
							   size_t len, const PbJsonOptions *options,
							   StringInfo out, int depth, char **error);
extern bool pb_field_value_to_json(const PbField *field, int wire_type,
								   uint64 scalar, const uint8 *data,
								   size_t len, const PbJsonOptions *options,
								   StringInfo out, int depth, char **error);
extern void pb_append_default_json(const PbField *field,
								   const PbJsonOptions *options,
								   StringInfo out);
extern bool pb_timestamp_parts(const uint8 *data, size_t len, int64 *seconds,
							   int32 *nanos);

/* One occurrence of a field in a message's bytes */
typedef struct PbOccurrence
{
	int			field;			/* index into message->fields, -1 unknown */
	int32		number;
	int			wire_type;
	uint64		scalar;			/* varint, fixed32, fixed64 */
	const uint8 *data;			/* length-delimited */
	size_t		len;
} PbOccurrence;

/*
 * Splits a message's bytes into its field occurrences, checking every tag,
 * varint and length; false when malformed (*too_deep for nesting).
 * *occurrences (room for *capacity, NULL and 0 for none yet) is grown in
 * its own memory context, or palloc'd in the current one.
 */
extern bool pb_scan_message(const PbMessage *message, const uint8 *data,
							size_t len, PbOccurrence **occurrences,
							int *capacity, int *count, int depth,
							bool *too_deep);

extern bool pb_repeated_field_to_json(const PbMessage *message,
									  int field_index,
									  const PbOccurrence *parts, int count,
									  const PbJsonOptions *options,
									  StringInfo out, int depth, char **error);

/*
 * pb_registry.c: schemas from the Confluent Schema Registry, and the
 * Confluent framing (magic byte, schema id, message indexes).
 */
#define PB_MAX_MESSAGE_INDEXES 128

struct KafkaRegistry;
struct KafkaRegistrySchema;

/*
 * The schema of a registry's answer asked with "format=serialized", its
 * references loaded; NULL with *error when it cannot be had (the record's
 * error).  Registry outages are ERRORs.  Kept for the backend's life.
 */
extern PbSchema *pb_registry_load(struct KafkaRegistry *registry,
								  const struct KafkaRegistrySchema *schema,
								  char **error);
extern PbSchema *pb_registry_schema_by_id(struct KafkaRegistry *registry,
										  int32 id, char **error);

/*
 * Reads the framing of a payload: the schema id and the message indexes
 * (room for PB_MAX_MESSAGE_INDEXES; the shorthand 0 gives [0]).  Returns
 * the bytes the framing takes, or -1 with *error.
 */
extern int	pb_frame(const uint8 *data, size_t len, int32 *schema_id,
					 int32 *indexes, int *count, char **error);
extern void pb_append_frame(StringInfo out, int32 schema_id,
							const int32 *indexes, int count);
extern char *pb_indexes_text(const int32 *indexes, int count);

/* pb_import.c: IMPORT FOREIGN SCHEMA of PROTOBUF subjects */
extern bool kafka_protobuf_schema_columns(struct KafkaRegistry *registry,
										  const struct KafkaRegistrySchema *schema,
										  List **columns, char **why);
extern const char *kafka_protobuf_schema_value_type(struct KafkaRegistry *registry,
													const struct KafkaRegistrySchema *schema);

/* pb_import.c: the SQL type one value of a field reads into, or NULL */
extern const char *pb_value_pg_type(const PbField *field, int depth);

/* pb_decode.c */
extern bool pb_uses_registry(const KafkaCodecOptions *options);
extern const char *pb_registry_message_option(const KafkaCodecOptions *options);
extern PbMessage *pb_message_from_options(const KafkaCodecOptions *options,
										  PbSchema **schema,
										  MemoryContext mcxt);

/*
 * For the option validator: reads and parses a descriptor set file and
 * checks that the message types given (NULL: none) are in it; errors name
 * option.
 */
extern void kafka_protobuf_check_descriptor_file(const char *option,
												 const char *path,
												 const char *message,
												 const char *key_message);

/*
 * The entries of format protobuf in the format table: the decoder and the
 * encoder (the message type and descriptor set from the options, else from
 * the table's options protobuf_message or protobuf_key_message and
 * protobuf_descriptor_file), and the checks of those table options.
 */
extern void kafka_protobuf_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
										const KafkaCodecOptions *options);
extern void kafka_protobuf_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
										const KafkaCodecOptions *options);
extern void kafka_protobuf_check_descriptor_file_option(const char *name,
														const char *value);
extern void kafka_protobuf_check_table_options(List *options);

/* pb_functions.c and the table options: decoding options from jsonb */
typedef struct PbFunctionOptions
{
	bool		permissive;		/* mode PERMISSIVE: NULL on malformed */
	PbJsonOptions json;
} PbFunctionOptions;

#endif							/* KAFKA_PROTOBUF_H */
