/*-------------------------------------------------------------------------
 *
 * codec.h
 *	  The one payload decoder/encoder interface of kafka_fdw.
 *
 * Foreign tables, read_kafka, streaming tables and the SQL functions
 * kafka.from_json / kafka.to_json all turn Kafka payloads into columns (and
 * back) through this interface, whatever the format, so a payload decodes the
 * same way everywhere.
 *
 * Decoding contract
 * -----------------
 * A decoder is prepared once per scan for a tuple descriptor.  Columns marked
 * in is_payload_column take their values from the payload; the others
 * (metadata such as _partition or _offset) are left alone for the caller.
 * Passing is_payload_column = NULL marks every non-dropped column.  Callers may
 * leave out payload columns a query does not read; the payload is still
 * checked as a whole, so a malformed message is reported whichever columns
 * are read.
 *
 * kafka_decoder_decode() fills values[]/nulls[] of the payload columns (the
 * arrays are indexed like the tuple descriptor) and returns true, or returns
 * false with *error set to a palloc'd message when the payload is malformed
 * or a value does not fit its column; kafka_decoder_error_code() then gives
 * the SQLSTATE.  On failure every payload column is set to NULL, so on_error
 * 'null' can use the row as it is.  Errors that are not about the data (out
 * of memory, query cancel) are thrown as usual.
 *
 * A NULL payload (data == NULL, a Kafka tombstone) decodes to all payload
 * columns NULL in every format and is not an error.  An empty payload is an
 * empty string for "text", an empty bytea for "raw" and malformed for "json".
 *
 * Envelopes (KafkaCodecOptions.envelope, formats with
 * KAFKA_FORMAT_ENVELOPES such as json and avro): the payload wraps the row.
 * With KAFKA_ENVELOPE_DEBEZIUM it is a Debezium change event; the payload
 * columns come from its row image and what the event says beyond the row
 * (the operation, source.lsn, the source timestamp, columns it did not
 * carry, a tombstone that is no change at all) is read with
 * kafka_decoder_change() after each decode.  A malformed event is a
 * malformed payload like any other: false, with a message.
 *
 * Memory: decoder state lives in the mcxt given at creation (delete or reset
 * that context to free it).  Decoded values and error messages are allocated
 * in CurrentMemoryContext at the time of the call, so callers decode into a
 * per-tuple or per-batch context that they reset.
 *
 * Speed and subtransactions: int2/4/8, float4/8, numeric, bool, text,
 * varchar, bpchar, name, uuid, json, jsonb, date, timestamp and timestamptz
 * (ISO 8601), and arrays and composites of them, are built by code that
 * cannot throw on bad data.  Other types (interval, inet, enums, domains...)
 * and text those fast paths do not recognise (say 'infinity' for a
 * timestamp) go through the type's input function, inside a subtransaction
 * (about a microsecond) so that a bad value still comes back as false.  That
 * needs a transaction in progress.  Subtransactions are impossible in
 * parallel mode, and unneeded after kafka_decoder_allow_throw(): there a bad
 * value of that kind makes kafka_decoder_decode() raise the ERROR itself,
 * with the same message, the input function's SQLSTATE and its DETAIL.
 * Malformed payloads always come back as false.
 *
 * Decoders and encoders use palloc, catalog lookups and ereport: call them
 * only from the backend's main thread, never from librdkafka callbacks or
 * threads.
 *
 * IDENTIFICATION
 *	  src/codec/codec.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_CODEC_H
#define KAFKA_CODEC_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

/*
 * The keys of the format table's entries; callers get them from the table
 * (kafka_format_by_name(...)->id) and never compare them.
 */
typedef enum KafkaFormat
{
	KAFKA_FORMAT_RAW,
	KAFKA_FORMAT_TEXT,
	KAFKA_FORMAT_JSON,
	KAFKA_FORMAT_AVRO,
	KAFKA_FORMAT_PROTOBUF
} KafkaFormat;

/*
 * The format table (format_table.c)
 * ---------------------------------
 * Every format is one entry: its name, its decoder and encoder, the table
 * options it reads and what it is, as flags.  Callers never compare formats;
 * they look a format up and test its flags, so a new format is one folder
 * plus one entry.
 */
#define KAFKA_FORMAT_RECORD			0x0001	/* a record of fields, one per
											 * payload column (else the whole
											 * payload fills one column) */
#define KAFKA_FORMAT_ENVELOPES		0x0002	/* reads envelope 'debezium' */
#define KAFKA_FORMAT_UNKNOWN_FIELDS 0x0004	/* reports fields no column
											 * takes (kafka 'rescued',
											 * schema evolution) */
#define KAFKA_FORMAT_REGISTRY		0x0008	/* schemas from the server's
											 * Schema Registry, registered
											 * under <topic>-value and
											 * <topic>-key, unless the table
											 * gives its schema_option */
#define KAFKA_FORMAT_BYTES			0x0010	/* the payload's bytes as they
											 * are (a bytea column) */

/* A table option a format reads, with its check (NULL: any value). */
typedef struct KafkaFormatOption
{
	const char *name;
	void		(*check) (const char *name, const char *value);
} KafkaFormatOption;

typedef struct KafkaDecoder KafkaDecoder;
typedef struct KafkaEncoder KafkaEncoder;

/* registry/schema_registry.h */
struct KafkaRegistry;
struct KafkaRegistrySchema;
typedef struct KafkaCodecOptions KafkaCodecOptions;

typedef struct KafkaFormatDef
{
	const char *name;			/* the format option's value */
	KafkaFormat id;
	uint32		flags;			/* KAFKA_FORMAT_* above */
	void		(*decoder_init) (KafkaDecoder *decoder, TupleDesc desc,
								 const KafkaCodecOptions *options);
	void		(*encoder_init) (KafkaEncoder *encoder, TupleDesc desc,
								 const KafkaCodecOptions *options);
	/* foreign-table options this format reads; ends with a NULL name */
	const KafkaFormatOption *table_options;
	/* with the registry: the table option giving the schema instead */
	const char *schema_option;

	/*
	 * A key column with this key_format, which holds the whole key: the
	 * types it may have (NULL: any; the hint names them) and the format
	 * that then decodes and encodes it (NULL: this one).
	 */
	bool		(*single_column_type_ok) (Oid typid);
	const char *single_column_types;
	const char *single_column_as;

	/*
	 * IMPORT FOREIGN SCHEMA: the Schema Registry's schemaType of this
	 * format's schemas (NULL: the format cannot be imported from it); the
	 * payload columns a registered schema gives (a List of
	 * KafkaSchemaColumn; a schema that is not a record gives one column
	 * "value"), or false with *why; and the type of a column holding a whole
	 * value of the schema (a key), or NULL.  The types are those the
	 * format's decoder reads every value of the schema into exactly.  They
	 * get the registry's answer for a subject version as it came (its text,
	 * id and references) and the registry, to ask for more (Protobuf asks
	 * for the schema's id with format=serialized and for its references).
	 */
	const char *registry_schema_type;
	bool		(*schema_columns) (struct KafkaRegistry *registry,
								   const struct KafkaRegistrySchema *schema,
								   List **columns, char **why);
	const char *(*schema_value_type) (struct KafkaRegistry *registry,
									  const struct KafkaRegistrySchema *schema);

	/*
	 * Checks of the format's table options taken together (NULL: none),
	 * called by the option validator with a foreign table's options
	 * whatever its format.
	 */
	void		(*check_table_options) (List *options);
} KafkaFormatDef;

/* A payload column of a registered schema, for IMPORT FOREIGN SCHEMA. */
typedef struct KafkaSchemaColumn
{
	char	   *name;
	const char *type;			/* SQL type name */
} KafkaSchemaColumn;

extern KafkaSchemaColumn *kafka_schema_column(const char *name,
											  const char *type);

/* The format whose registry_schema_type is schema_type, or NULL. */
extern const KafkaFormatDef *kafka_format_for_schema_type(const char *schema_type);
/* Those schema types, for messages: "AVRO and JSON". */
extern char *kafka_format_schema_types(void);

/*
 * The table options that give a schema instead of the registry, for
 * messages: "avro_schema for format avro or protobuf_descriptor_file for
 * format protobuf".
 */
extern char *kafka_format_schema_options(void);

/* By name, case-insensitive: ERROR naming it and the valid names if none. */
extern const KafkaFormatDef *kafka_format_by_name(const char *name);
/* By name, exactly or ignoring case: NULL if none. */
extern const KafkaFormatDef *kafka_format_find(const char *name,
											   bool ignore_case);
extern const KafkaFormatDef *kafka_format_by_id(KafkaFormat format);

/*
 * The names of the formats that have every flag in flags (0: all), for
 * messages: quoted with quote and joined as "json, avro and text" (last
 * word "and" or "or").
 */
extern char *kafka_format_list(uint32 flags, const char *quote,
							   const char *last_word);
/* The same for the formats keep(format, arg) keeps. */
extern char *kafka_format_list_where(bool (*keep) (const KafkaFormatDef *format,
												   uint32 arg),
									 uint32 arg, const char *quote,
									 const char *last_word);

/* The table option of some format named name, or NULL. */
extern const KafkaFormatOption *kafka_format_table_option(const char *name);
/* Every format's check_table_options on a foreign table's options. */
extern void kafka_format_check_table_options(List *options);

/*
 * The format of a column that holds a whole key, value or header: format
 * (the key_format given; NULL: none) as such a column takes it, else raw
 * for a bytea column and text for the others.
 */
extern const KafkaFormatDef *kafka_format_for_column(const KafkaFormatDef *format,
													 Oid typid);

/*
 * Does a table with these options (DefElems) take the format's schemas
 * from the Schema Registry, by subject?
 */
extern bool kafka_format_uses_registry(const KafkaFormatDef *format,
									   List *table_options);

/*
 * Deepest nesting (objects, arrays, records, maps, unions...) a payload or a
 * schema may have, in every format.  Deeper payloads are that record's
 * error ("nested too deeply"), never a stack depth ERROR of the statement:
 * one hostile record must not stop a scan or a stream.
 */
#define KAFKA_MAX_NESTING_DEPTH 1000

extern KafkaDecoder *kafka_decoder_create(KafkaFormat format, TupleDesc desc,
										  const bool *is_payload_column,
										  MemoryContext mcxt);
extern bool kafka_decoder_decode(KafkaDecoder *decoder,
								 const char *data, size_t len,
								 Datum *values, bool *nulls, char **error);

/*
 * SQLSTATE of the last failed kafka_decoder_decode() (e.g.
 * ERRCODE_INVALID_TEXT_REPRESENTATION), for callers that turn the failure
 * into an ERROR.
 */
extern int	kafka_decoder_error_code(const KafkaDecoder *decoder);

/*
 * For callers that raise an ERROR on any decode failure anyway (on_error
 * 'fail', kafka.from_json): values of types without a fast path are then
 * converted by calling the type's input function directly, without a
 * subtransaction, and a bad one makes kafka_decoder_decode() raise the ERROR
 * (message as it would have returned it).  Other failures still return
 * false.  Cheaper, and the only way that works in parallel mode.
 */
extern void kafka_decoder_allow_throw(KafkaDecoder *decoder);

/*
 * Does every value of this type (elements and fields included) have a fast
 * path, so that decoding it never needs a subtransaction or the type's
 * input function (save for unusual text such as 'infinity')?  Lets callers
 * decide whether optimistic, throwing decoding is worth it.
 */
extern bool kafka_type_has_fast_path(Oid typid, int32 typmod);

/*
 * For SQL decoding functions taking the target row type as an argument
 * (kafka.from_json(value, NULL::t), kafka.from_avro): its type and typmod,
 * with a clear error naming funcname when it is not a row type.
 */
extern Oid	kafka_rowtype_argument(FunctionCallInfo fcinfo, int argno,
								   const char *funcname, int32 *typmod);

/* The value of an int2, int4 or int8 Datum of type typid, as int64. */
static inline int64
kafka_integer_datum(Datum value, Oid typid)
{
	switch (typid)
	{
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		default:
			return DatumGetInt64(value);
	}
}

/* How a payload wraps its row (table option envelope). */
typedef enum KafkaEnvelope
{
	KAFKA_ENVELOPE_NONE,		/* the payload is the row */
	KAFKA_ENVELOPE_DEBEZIUM		/* a Debezium change event */
} KafkaEnvelope;

/* Envelope option values ('none', 'debezium'). */
extern KafkaEnvelope kafka_envelope_from_name(const char *name);

/*
 * What a format may need beyond the tuple descriptor: the kafka_fdw server
 * whose schema_registry_url and user mapping give the Schema Registry, the
 * format's own options (the foreign table's options, or a SQL function's
 * arguments as such: avro_schema, a writer schema for Avro without the
 * Confluent header, which wins over the registry), and for encoders the
 * registry subject to register the derived schema under.  Formats that need
 * none of it ignore it; kafka_decoder_create() and kafka_encoder_create()
 * are these with no options.
 */
struct KafkaCodecOptions
{
	const char *server_name;	/* NULL: no schema registry */
	Oid			userid;			/* whose user mapping; InvalidOid: current */
	List	   *format_options; /* the table's options (DefElems); each
								 * format reads its own */
	bool		key;			/* for the table's key: formats read their
								 * key's options (protobuf_key_message), not
								 * the value's (avro_schema) */
	const char *subject;		/* encoders: registry subject to register
								 * under; decoders: subject whose latest
								 * schema gives defaults for fields older
								 * writer schemas lack */
	bool		single_value;	/* the one payload column is the whole value
								 * (a key), not a field of a record */
	KafkaEnvelope envelope;		/* decoders of KAFKA_FORMAT_ENVELOPES */
	bool		unknown_fields; /* decoders of KAFKA_FORMAT_UNKNOWN_FIELDS:
								 * report the fields no column takes */
	bool		rescue_mismatches;	/* with unknown_fields: a field whose
									 * value its column's type cannot take
									 * is reported too (the column NULL)
									 * instead of failing the decode */
	/* format protobuf: the message type and the descriptor set holding it */
	const char *protobuf_message;
	const char *protobuf_descriptor;
	size_t		protobuf_descriptor_len;
	bool		protobuf_emit_defaults; /* absent proto3 fields: their zero
										 * value, not NULL */
};

extern KafkaDecoder *kafka_decoder_create_with(KafkaFormat format,
											   TupleDesc desc,
											   const bool *is_payload_column,
											   MemoryContext mcxt,
											   const KafkaCodecOptions *options);

/*
 * Envelope 'debezium'.  A change event is {"before", "after", "source",
 * "op", "ts_ms", ...} (JSON, bare or inside {"schema", "payload"}; Avro:
 * Debezium's Envelope record).  The payload columns come from "after" when
 * it is a row, else from "before" (a delete), else are NULL (a truncate);
 * fields of the row without a column are skipped, columns without a field
 * are NULL.  A column whose value is Debezium's placeholder for a value it
 * did not read (an unchanged TOASTed value: the string below, its bytes
 * for binary columns, an array of just it for array columns) is NULL and
 * marked unavailable.  A NULL payload is Debezium's tombstone after a
 * delete: skip is set and it should not become a row.
 */
#define KAFKA_DEBEZIUM_UNAVAILABLE "__debezium_unavailable_value"

typedef struct KafkaChangeEvent
{
	bool		skip;			/* a tombstone: no change, not a row */
	char		op;				/* 'c', 'u', 'd', 'r' or 't'; 0 when skipped
								 * or the decode failed */
	bool		has_lsn;
	int64		lsn;			/* source.lsn (absent for MySQL sources) */
	bool		has_ts;
	int64		ts_ms;			/* source.ts_ms, else the event's ts_ms:
								 * milliseconds since 1970 */
	bool		any_unavailable;	/* false: no column is marked below */
	bool	   *unavailable;	/* per attribute of the tuple descriptor */
} KafkaChangeEvent;

/*
 * What the envelope said of the record decoded last, or NULL for a decoder
 * without an envelope.  Valid until the next decode.
 */
extern const KafkaChangeEvent *kafka_decoder_change(const KafkaDecoder *decoder);

/*
 * The fields of the last payload decoded that no column took (decoders
 * created with KafkaCodecOptions.unknown_fields; NULL for others), in the
 * order of the payload: JSON members whose key matches no column, Avro
 * writer fields without a column, the row image's under envelope
 * 'debezium'.  Each with its value as JSON text (Avro values rendered as
 * kafka.avro_to_json renders them) and the PostgreSQL type that takes such
 * a value as the decoder would decode it: JSON's string text, integer
 * bigint, other numbers numeric, true/false boolean, object and array
 * jsonb; Avro's writer type (int integer, long bigint, float real, double
 * double precision, bytes and fixed bytea, string and enum text, records,
 * maps, arrays and unions of several types jsonb, logical types date, time,
 * timestamptz, timestamp, numeric(p,s), uuid; a union with null as its
 * other branch).  type_name is NULL when the value is null: nothing to
 * type it by.  Rescued data (a kafka 'rescued' column) and schema evolution
 * (schema_evolution 'add_columns') are built on it.  Empty (count 0) after
 * a failed decode.  Valid until the next decode; the strings live in the
 * memory context current at the decode.
 */
typedef struct KafkaUnknownField
{
	char	   *name;
	char	   *json;
	const char *type_name;
} KafkaUnknownField;

typedef struct KafkaUnknownFields
{
	int			count;
	int			capacity;
	KafkaUnknownField *fields;
} KafkaUnknownFields;

extern const KafkaUnknownFields *kafka_decoder_unknown_fields(const KafkaDecoder *decoder);

/*
 * The unknown fields of the last decode as a jsonb object {"name": value,
 * ...} (a name given twice keeps its last value), for a kafka 'rescued'
 * column; false with the record's error when jsonb cannot hold a value
 * (\u0000 in a string, a number beyond numeric).  Call only when there is
 * at least one.
 */
extern bool kafka_decoder_rescued_jsonb(KafkaDecoder *decoder, Datum *result,
										char **error);

/*
 * Encoding for produce.  Appends the payload of one row to out (UTF-8 for
 * json and text) and returns true, or returns false when the message has no
 * value at all (a tombstone: the payload column of a text or raw row is NULL).
 * A json row always gives an object; NULL columns are written as null.
 */
extern KafkaEncoder *kafka_encoder_create(KafkaFormat format, TupleDesc desc,
										  const bool *is_payload_column,
										  MemoryContext mcxt);
extern KafkaEncoder *kafka_encoder_create_with(KafkaFormat format,
											   TupleDesc desc,
											   const bool *is_payload_column,
											   MemoryContext mcxt,
											   const KafkaCodecOptions *options);
extern bool kafka_encoder_encode(KafkaEncoder *encoder, Datum *values,
								 bool *nulls, StringInfo out);

/* The fields of a composite value (detoasted) of row type desc. */
extern void kafka_deform_composite(HeapTupleHeader header, TupleDesc desc,
								   Datum *values, bool *nulls);

/*
 * For kafka_rowtype_argument's callers: a decoder from a payload to one row
 * of the type (every field a payload column, dropped ones NULL), throwing on
 * any failure.
 */
typedef struct KafkaRowDecoder
{
	TupleDesc	desc;
	KafkaDecoder *decoder;
	Datum	   *values;
	bool	   *nulls;
} KafkaRowDecoder;

extern KafkaRowDecoder *kafka_row_decoder_create(KafkaFormat format, Oid typid,
												 int32 typmod, MemoryContext mcxt,
												 const KafkaCodecOptions *options);
extern Datum kafka_row_decoder_decode(KafkaRowDecoder *row, const char *data,
									  size_t len);

/*
 * For encoding SQL functions (kafka.to_avro, kafka.to_protobuf): an encoder
 * of values of a type, a row type's fields as the payload columns, any
 * other type as the whole value (single_value); encode gives the payload.
 */
typedef struct KafkaValueEncoder
{
	TupleDesc	desc;
	bool		scalar;
	KafkaEncoder *encoder;
} KafkaValueEncoder;

extern KafkaValueEncoder *kafka_value_encoder_create(KafkaFormat format,
													 Oid typid, int32 typmod,
													 MemoryContext mcxt,
													 const KafkaCodecOptions *options);
extern bytea *kafka_value_encoder_encode(KafkaValueEncoder *value, Datum datum);

#endif							/* KAFKA_CODEC_H */
