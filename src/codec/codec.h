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
 * Envelopes (KafkaCodecOptions.envelope, formats json and avro): the payload
 * wraps the row.  With KAFKA_ENVELOPE_DEBEZIUM it is a Debezium change
 * event; the payload columns come from its row image and what the event
 * says beyond the row (the operation, source.lsn, the source timestamp,
 * columns it did not carry, a tombstone that is no change at all) is read
 * with kafka_decoder_change() after each decode.  A malformed event is a
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

#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"

typedef enum KafkaFormat
{
	KAFKA_FORMAT_RAW,
	KAFKA_FORMAT_TEXT,
	KAFKA_FORMAT_JSON,
	KAFKA_FORMAT_AVRO,
	KAFKA_FORMAT_PROTOBUF
} KafkaFormat;

/* Format option values ('json', 'text', ...), case-insensitive. */
extern KafkaFormat kafka_format_from_name(const char *name);
extern const char *kafka_format_name(KafkaFormat format);

/*
 * Deepest nesting (objects, arrays, records, maps, unions...) a payload or a
 * schema may have, in every format.  Deeper payloads are that record's
 * error ("nested too deeply"), never a stack depth ERROR of the statement:
 * one hostile record must not stop a scan or a stream.
 */
#define KAFKA_MAX_NESTING_DEPTH 1000

typedef struct KafkaDecoder KafkaDecoder;

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

/*
 * What a format may need beyond the tuple descriptor (format avro): the
 * kafka_fdw server whose schema_registry_url and user mapping give the
 * Schema Registry, or a writer schema for Avro without the Confluent header
 * (table option avro_schema, which wins when both are given), and for
 * encoders the registry subject to register the derived schema under.
 * Formats that need none of it ignore it; kafka_decoder_create() and
 * kafka_encoder_create() are these with no options.
 */
/* How a payload wraps its row (table option envelope). */
typedef enum KafkaEnvelope
{
	KAFKA_ENVELOPE_NONE,		/* the payload is the row */
	KAFKA_ENVELOPE_DEBEZIUM		/* a Debezium change event */
} KafkaEnvelope;

/* Envelope option values ('none', 'debezium'). */
extern KafkaEnvelope kafka_envelope_from_name(const char *name);

typedef struct KafkaCodecOptions
{
	const char *server_name;	/* NULL: no schema registry */
	Oid			userid;			/* whose user mapping; InvalidOid: current */
	const char *avro_schema;	/* Avro schema JSON, or NULL */
	const char *subject;		/* encoders: registry subject to register
								 * under; decoders: subject whose latest
								 * schema gives defaults for fields older
								 * writer schemas lack */
	bool		single_value;	/* the one payload column is the whole value
								 * (a key), not a field of a record */
	KafkaEnvelope envelope;		/* decoders of formats json and avro */
	bool		unknown_fields; /* decoders of formats json, avro and
								 * protobuf: report the fields no column
								 * takes */
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
} KafkaCodecOptions;

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
typedef struct KafkaEncoder KafkaEncoder;

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

#endif							/* KAFKA_CODEC_H */
