/*-------------------------------------------------------------------------
 *
 * codec_internal.h
 *	  Shared internals of the payload codecs: the decoder/encoder headers
 *	  every format fills in, and the typed value conversion they all use.
 *
 * Only the formats (src/codec and each format's folder, such as src/avro)
 * include this; everyone else uses codec.h.
 *
 * IDENTIFICATION
 *	  src/codec/codec_internal.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_CODEC_INTERNAL_H
#define KAFKA_CODEC_INTERNAL_H

#include "codec/codec.h"
#include "fmgr.h"

/*
 * How a value of a column type is built.  The kinds with a fast path are
 * converted without any call that can throw on bad data; the rest go
 * through the type's input function (see kafka_value_from_text).
 */
typedef enum KafkaValueKind
{
	KAFKA_VALUE_INT2,
	KAFKA_VALUE_INT4,
	KAFKA_VALUE_INT8,
	KAFKA_VALUE_FLOAT4,
	KAFKA_VALUE_FLOAT8,
	KAFKA_VALUE_NUMERIC,
	KAFKA_VALUE_BOOL,
	KAFKA_VALUE_TEXT,			/* text, and varchar/bpchar without a length */
	KAFKA_VALUE_BOUNDED_TEXT,	/* varchar(n), bpchar(n) */
	KAFKA_VALUE_TOTAL_INPUT,	/* name, "char": input never fails */
	KAFKA_VALUE_UUID,
	KAFKA_VALUE_DATE,
	KAFKA_VALUE_TIMESTAMP,
	KAFKA_VALUE_TIMESTAMPTZ,
	KAFKA_VALUE_JSON,
	KAFKA_VALUE_JSONB,
	KAFKA_VALUE_ARRAY,
	KAFKA_VALUE_COMPOSITE,
	KAFKA_VALUE_GENERIC			/* anything else: the type's input function */
} KafkaValueKind;

/* Everything needed to build values of one column (or array element) type. */
typedef struct KafkaValueInput
{
	Oid			typid;
	int32		typmod;
	KafkaValueKind kind;
	char	   *type_name;		/* as in PostgreSQL's own messages */
	FmgrInfo	input_function;
	Oid			typioparam;

	/* arrays */
	struct KafkaValueInput *element;
	int16		element_length;
	bool		element_byval;
	char		element_align;

	/* composites: the row type, and format-specific state to decode it */
	TupleDesc	composite_desc;
	void	   *composite_state;
} KafkaValueInput;

/* Where the text handed to kafka_value_from_text came from. */
typedef enum KafkaTextOrigin
{
	KAFKA_TEXT_STRING,			/* string content or a whole text payload */
	KAFKA_TEXT_NUMBER,			/* a syntactically valid JSON number */
	KAFKA_TEXT_LITERAL			/* JSON true or false */
} KafkaTextOrigin;

/*
 * Conversion state shared by one decoder and everything nested in it.  The
 * buffers are reused for every message so the happy path does not allocate
 * scratch memory.
 */
typedef struct KafkaConvertState
{
	bool		allow_throw;
	int			server_encoding;
	Oid			utf8_to_server_proc;	/* InvalidOid: no conversion needed */
	StringInfoData unescaped;	/* JSON string contents, escapes resolved */
	StringInfoData cstring;		/* NUL-terminated copies for input functions */
	StringInfoData converted;	/* text converted to the server encoding */

	/* the last failure, message palloc'd in the caller's context */
	int			error_code;
	char	   *error;
	ErrorData  *pending_error;	/* caught, to be thrown again (allow_throw) */

	/* what is being decoded, for the context of errors thrown through */
	const char *context_field;
	int			context_field_length;
	const char *context_column;
	bool		context_in_message; /* the message will name them anyway */
} KafkaConvertState;

/* Facts about a JSON number gathered while checking its syntax. */
typedef struct KafkaJsonNumber
{
	bool		negative;
	bool		has_fraction;
	bool		has_exponent;
	int			integer_digits;		/* digits before the point */
	int			significant_integer_digits; /* same without leading zeros */
	int			fraction_digits;
	int			exponent;		/* clamped to +-1000000 */
} KafkaJsonNumber;

/*
 * Common head of every decoder.  A format sets decode and keeps its own
 * state in format_state.
 */
struct KafkaDecoder
{
	const KafkaFormatDef *format;
	MemoryContext mcxt;
	int			natts;
	KafkaConvertState convert;
	bool		(*decode) (KafkaDecoder *decoder, const char *data, size_t len,
						   Datum *values, bool *nulls);
	void	   *format_state;
	/* payload columns as 0-based attribute numbers */
	int			npayload;
	int		   *payload_attnums;
	/* envelope 'debezium' (set before the format's init), else NULL */
	KafkaChangeEvent *change;
	/* KafkaCodecOptions.unknown_fields (set before the format's init) */
	KafkaUnknownFields *unknown;
	bool		rescue_mismatches;
	KafkaValueInput *rescued_input; /* jsonb, made at first use */
};

struct KafkaEncoder
{
	const KafkaFormatDef *format;
	MemoryContext mcxt;
	bool		(*encode) (KafkaEncoder *encoder, Datum *values, bool *nulls,
						   StringInfo out);
	void	   *format_state;
	int			npayload;
	int		   *payload_attnums;
};

/*
 * The columns a record format's decoder fills from a record's fields: a
 * decoder's payload columns, or the fields of a composite column.  Each
 * format compiles its plans (one per writer schema or message type: which
 * field fills which column) against a set and keeps them in plans.
 */
typedef struct KafkaColumnSet
{
	int			ncolumns;
	int		   *attnums;		/* per column: index into values/nulls */
	char	  **names;
	KafkaValueInput *inputs;
	List	   *plans;			/* the format's plans */
	MemoryContext mcxt;
	bool		single_value;	/* one column takes the whole value */
} KafkaColumnSet;

/* codec.c */

/*
 * Fills set with the columns attnums (0-based, n of them) of desc, or
 * every column that is not dropped when attnums is NULL.
 */
extern void kafka_column_set_init(KafkaColumnSet *set, TupleDesc desc,
								  int *attnums, int n, MemoryContext mcxt);

/* The column set of a composite column's fields, made at first use. */
extern KafkaColumnSet *kafka_composite_columns(KafkaValueInput *input,
											   MemoryContext mcxt);

/*
 * The column of set a field name fills, or -1: the one of that name not
 * taken yet, else the only one equal ignoring ASCII case.
 */
extern int	kafka_column_set_match(const KafkaColumnSet *set, const char *name,
								   const bool *taken);


/* Forget the last failure (a field's value rescued instead). */
extern void kafka_convert_forget_error(KafkaConvertState *state);

/* Note a field no column takes (copies name and json). */
extern void kafka_unknown_field_add(KafkaDecoder *decoder, const char *name,
									int name_len, const char *json, int json_len,
									const char *type_name);

extern bool kafka_decode_fail(KafkaConvertState *state, int error_code,
							  const char *fmt,...) pg_attribute_printf(3, 4);

/*
 * Debezium change events, for the formats that read them: the operation
 * from the text of "op" (false with the record's error when it is not one
 * of c, u, d, r, t), and a column marked as not carried (its value NULL).
 */
extern bool kafka_change_set_op(KafkaConvertState *state,
								KafkaChangeEvent *change, const char *op,
								size_t length);
extern bool kafka_change_event_error(KafkaConvertState *state,
									 const char *fmt,...) pg_attribute_printf(2, 3);

static inline void
kafka_change_mark_unavailable(KafkaChangeEvent *change, int attnum)
{
	change->unavailable[attnum] = true;
	change->any_unavailable = true;
}

#define KAFKA_DEBEZIUM_UNAVAILABLE_LENGTH \
	(sizeof(KAFKA_DEBEZIUM_UNAVAILABLE) - 1)

/* encoding.c */
extern void kafka_convert_state_init(KafkaConvertState *state,
									 MemoryContext mcxt);
extern int	kafka_utf8_invalid_offset(const char *data, size_t len,
									  bool nul_is_invalid);
extern bool kafka_utf8_to_server(KafkaConvertState *state, const char *text,
								 int len, const char **converted,
								 int *converted_length);
extern void kafka_append_server_text_as_utf8(StringInfo out, const char *text,
											 int len);
extern void kafka_append_json_string(StringInfo out, const char *text,
									 int len);
extern char *kafka_payload_text_for_message(KafkaConvertState *state,
											const char *text, int len);

/* value_input.c */
extern void kafka_value_input_init(KafkaValueInput *input, Oid typid,
								   int32 typmod, MemoryContext mcxt);
extern bool kafka_value_from_text(KafkaConvertState *state,
								  KafkaValueInput *input, const char *text,
								  int len, KafkaTextOrigin origin,
								  Datum *result);
extern bool kafka_value_from_number(KafkaConvertState *state,
									KafkaValueInput *input, const char *text,
									int len, const KafkaJsonNumber *number,
									Datum *result);
extern bool kafka_value_call_input(KafkaConvertState *state,
								   KafkaValueInput *input, const char *text,
								   int len, Datum *result);
extern int	kafka_scan_json_number(const char *start, const char *end,
								   KafkaJsonNumber *number);

/* json_decode.c */
extern void kafka_json_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
									const KafkaCodecOptions *options);
extern bool kafka_json_validate(KafkaConvertState *state, const char *data,
								size_t len, bool *jsonb_safe);

/* json_encode.c: JSON text of values of one type, for to_json */
typedef struct KafkaJsonWriter KafkaJsonWriter;

extern void kafka_json_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
									const KafkaCodecOptions *options);
extern KafkaJsonWriter *kafka_json_writer_create(Oid typid, int32 typmod,
												 MemoryContext mcxt);
extern void kafka_json_write(KafkaJsonWriter *writer, Datum value,
							 StringInfo out);

/* json_schema.c: IMPORT FOREIGN SCHEMA of JSON Schema subjects */
extern bool kafka_json_schema_columns(struct KafkaRegistry *registry,
									  const struct KafkaRegistrySchema *schema,
									  List **columns,
									  char **why);
extern const char *kafka_json_schema_value_type(struct KafkaRegistry *registry,
												const struct KafkaRegistrySchema *schema);

/* plain_formats.c */
extern void kafka_text_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
									const KafkaCodecOptions *options);
extern void kafka_raw_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
								   const KafkaCodecOptions *options);
extern void kafka_text_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
									const KafkaCodecOptions *options);
extern void kafka_raw_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
								   const KafkaCodecOptions *options);

#endif							/* KAFKA_CODEC_INTERNAL_H */
