/*-------------------------------------------------------------------------
 *
 * pb_decode.c
 *	  Format "protobuf" of the codec: Protobuf binary into columns, through
 *	  plans compiled per (message type, column set).
 *
 * A plan maps the message's fields to columns by name (exact match, else
 * the one column equal ignoring ASCII case, as for Avro and JSON); fields
 * without a column are skipped, columns without a field are NULL.  It is
 * compiled once per message type and column set (nested messages into
 * composite columns get their own) and checked then: a field whose type
 * cannot fill its column makes every message fail, naming both.
 *
 * Type mapping: integers into int2/int4/int8/numeric/float (range
 * checked), float/double into float4/float8/numeric, bool, string into
 * text (or any type through its input function), bytes into bytea, enums
 * into text by name (integer columns take the number), repeated fields
 * into arrays, maps into jsonb, nested messages into composites or jsonb,
 * Timestamp into timestamptz/timestamp/date, Duration into interval, the
 * wrappers into their value's type (NULL when the wrapper is absent),
 * Struct/Value/ListValue/Any into jsonb.  json, jsonb and text columns
 * take any field as its JSON (pb_wire.c).  Fields absent from the payload
 * are NULL, proto3 scalars included (Spark's from_protobuf default): the
 * wire cannot tell a zero from a value never set.
 *
 * IDENTIFICATION
 *	  src/protobuf/pb_decode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "codec/codec_internal.h"
#include "options.h"
#include "protobuf/protobuf.h"
#include "registry/schema_registry.h"

/* The columns one message fills: a table's payload columns or a composite. */
typedef KafkaColumnSet PbColumnSet;

typedef struct PbPlan
{
	const PbMessage *message;
	int		   *column_fields;	/* per column: field index, or -1 */
	bool	   *field_taken;	/* per field: a column takes it */
	char	   *incompatible;	/* the fields cannot fill the columns */
} PbPlan;

typedef struct PbDecodeState
{
	PbSchema   *schema;
	PbMessage  *message;
	PbColumnSet top;
	PbPlan	   *plan;
	PbJsonOptions json;
	StringInfoData scratch;
	PbOccurrence *occurrences;	/* the top message's, reused */
	int			capacity;
	bool		emit_defaults;	/* absent fields without presence: zero */
	int		   *top_last;		/* read_columns' arrays for the top message */
	int		   *top_oneof_last;
	bool	   *top_rescued;	/* per field: its value went to 'rescued' */
	KafkaDecoder *report_unknown;	/* report fields without a column */
	int			top_size;		/* room in top_last, top_oneof_last */
	int			top_oneof_size;
	struct PbRegistrySource *registry;	/* the Confluent framing, or NULL */
} PbDecodeState;

/*
 * Schemas from the Schema Registry: each record names its schema id and
 * message; plans are per message of each id's schema (PbColumnSet.plans),
 * the last framing seen is remembered so a run of records of one message
 * reads its framing with one comparison.
 */
typedef struct PbIdEntry
{
	int32		id;
	PbSchema   *schema;			/* NULL: error */
	char	   *error;
} PbIdEntry;

typedef struct PbRegistrySource
{
	KafkaRegistry *registry;
	const char *required;		/* protobuf_message (protobuf_key_message) */
	List	   *ids;			/* PbIdEntry *, this decoder's */
	bool		have_last;
	uint8		last_frame[KAFKA_CONFLUENT_HEADER_SIZE + 16];
	int			last_frame_len; /* its message is state->message */
} PbRegistrySource;

static PbPlan *get_plan(PbColumnSet *set, const PbMessage *message, int depth);
static bool read_message_into(PbDecodeState *state, KafkaConvertState *convert,
							  const PbMessage *message, const uint8 *data,
							  size_t len, KafkaValueInput *input, Datum *value,
							  bool *isnull, int depth);

/* ---- loading a schema from the codec options ---------------------------- */

PbMessage *
pb_message_from_options(const KafkaCodecOptions *options, PbSchema **schema_out,
						MemoryContext mcxt)
{
	PbSchema   *schema;
	PbMessage  *message;
	char	   *error;
	KafkaCodecOptions from_table;

	/* a table's: its options name the message type and the file */
	if (options != NULL && options->protobuf_descriptor == NULL &&
		options->format_options != NULL)
	{
		List	   *table_options = options->format_options;
		char	   *file = kafka_option_value(table_options, "protobuf_descriptor_file");

		from_table = *options;
		from_table.protobuf_message = options->key ?
			kafka_option_value(table_options, "protobuf_key_message") : NULL;
		if (from_table.protobuf_message == NULL)
			from_table.protobuf_message = kafka_option_value(table_options,
															 "protobuf_message");
		if (file != NULL)
		{
			char	   *data;

			pb_read_server_descriptor_file(file, &data,
										   &from_table.protobuf_descriptor_len);
			from_table.protobuf_descriptor = data;
		}
		options = &from_table;
	}
	if (options == NULL || options->protobuf_descriptor == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("format 'protobuf' needs a descriptor set"),
				 errhint("Set the table option \"protobuf_descriptor_file\" to a file written by protoc --descriptor_set_out --include_imports.")));
	if (options->protobuf_message == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("format 'protobuf' needs the message type"),
				 errhint("Set the table option \"protobuf_message\" to the message's full name, e.g. 'shop.Order'.")));
	schema = pb_schema_from_descriptor_set((const uint8 *) options->protobuf_descriptor,
										   options->protobuf_descriptor_len,
										   mcxt, &error);
	if (schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Protobuf descriptor set: %s", error)));
	message = pb_schema_message(schema, options->protobuf_message);
	if (message == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message type \"%s\" is not in the Protobuf descriptor set",
						options->protobuf_message),
				 errhint("Give the full name with its package, e.g. 'shop.Order'.")));
	if (message->map_entry)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message type \"%s\" is a map entry, not a message of its own",
						options->protobuf_message)));
	*schema_out = schema;
	return message;
}

/*
 * Schemas from the Schema Registry: no descriptor set given (as an argument
 * or the table's protobuf_descriptor_file) and a server to ask.
 */
bool
pb_uses_registry(const KafkaCodecOptions *options)
{
	return options != NULL && options->protobuf_descriptor == NULL &&
		options->server_name != NULL &&
		kafka_option_value(options->format_options,
						   "protobuf_descriptor_file") == NULL;
}

/* With the registry: the message type the table's options name, or NULL. */
const char *
pb_registry_message_option(const KafkaCodecOptions *options)
{
	return kafka_option_value(options->format_options,
							  options->key ? "protobuf_key_message" :
							  "protobuf_message");
}

/* ---- plans -------------------------------------------------------------- */

static bool
is_textual(KafkaValueInput *input)
{
	switch (input->kind)
	{
		case KAFKA_VALUE_TEXT:
		case KAFKA_VALUE_BOUNDED_TEXT:
		case KAFKA_VALUE_TOTAL_INPUT:
		case KAFKA_VALUE_JSON:
		case KAFKA_VALUE_JSONB:
			return true;
		case KAFKA_VALUE_GENERIC:
			return input->typid != BYTEAOID && input->typid != INTERVALOID;
		default:
			return false;
	}
}

static bool
is_integer_type(PbType type)
{
	switch (type)
	{
		case PB_INT32:
		case PB_INT64:
		case PB_UINT32:
		case PB_UINT64:
		case PB_SINT32:
		case PB_SINT64:
		case PB_FIXED32:
		case PB_FIXED64:
		case PB_SFIXED32:
		case PB_SFIXED64:
			return true;
		default:
			return false;
	}
}

/* NULL when one value of the field's type (not repeated) fills input. */
static char *
value_incompatibility(const PbField *field, KafkaValueInput *input,
					  MemoryContext mcxt, int depth)
{
	bool		ok = false;
	PbType		type = field->type;
	PbWellKnown wkt = field->message ? field->message->well_known : PB_WKT_NONE;

	if (depth > PB_MAX_DEPTH)
		return pstrdup("nested too deeply");
	if (is_textual(input))
		return NULL;
	if (wkt == PB_WKT_WRAPPER)
		return value_incompatibility(&field->message->fields[0], input, mcxt,
									 depth + 1);
	switch (input->kind)
	{
		case KAFKA_VALUE_INT2:
		case KAFKA_VALUE_INT4:
		case KAFKA_VALUE_INT8:
			ok = is_integer_type(type) || type == PB_ENUM;
			break;
		case KAFKA_VALUE_FLOAT4:
		case KAFKA_VALUE_FLOAT8:
		case KAFKA_VALUE_NUMERIC:
			ok = is_integer_type(type) || type == PB_FLOAT || type == PB_DOUBLE;
			break;
		case KAFKA_VALUE_BOOL:
			ok = type == PB_BOOL;
			break;
		case KAFKA_VALUE_UUID:
			ok = type == PB_STRING || type == PB_BYTES;
			break;
		case KAFKA_VALUE_DATE:
		case KAFKA_VALUE_TIMESTAMP:
		case KAFKA_VALUE_TIMESTAMPTZ:
			ok = type == PB_STRING || wkt == PB_WKT_TIMESTAMP;
			break;
		case KAFKA_VALUE_COMPOSITE:
			if (type == PB_MESSAGE && wkt == PB_WKT_NONE)
				return get_plan(kafka_composite_columns(input, mcxt), field->message,
								depth + 1)->incompatible;
			break;
		case KAFKA_VALUE_GENERIC:
			if (input->typid == BYTEAOID)
				ok = type == PB_BYTES || type == PB_STRING;
			else if (input->typid == INTERVALOID)
				ok = wkt == PB_WKT_DURATION || type == PB_STRING;
			break;
		default:
			break;
	}
	if (ok)
		return NULL;
	return psprintf("Protobuf type %s cannot be read into type %s",
					type == PB_MESSAGE ? field->message->full_name :
					type == PB_ENUM ? field->enumeration->full_name :
					pb_type_name(type), input->type_name);
}

static char *
field_incompatibility(const PbField *field, KafkaValueInput *input,
					  MemoryContext mcxt, int depth)
{
	bool		is_map = field->message != NULL && field->message->map_entry;

	if (field->type == PB_GROUP)
		return pstrdup("groups are not supported");
	if (field->repeated)
	{
		if (input->kind == KAFKA_VALUE_JSON || input->kind == KAFKA_VALUE_JSONB ||
			input->kind == KAFKA_VALUE_TEXT)
			return NULL;
		if (input->kind == KAFKA_VALUE_ARRAY && !is_map)
			return value_incompatibility(field, input->element, mcxt, depth + 1);
		return psprintf("a %s field cannot be read into type %s (use %s)",
						is_map ? "map" : "repeated", input->type_name,
						is_map ? "jsonb" : "an array or jsonb");
	}
	if (input->kind == KAFKA_VALUE_ARRAY)
		return psprintf("a single %s cannot be read into array type %s",
						pb_type_name(field->type), input->type_name);
	return value_incompatibility(field, input, mcxt, depth);
}

static PbPlan *
get_plan(PbColumnSet *set, const PbMessage *message, int depth)
{
	ListCell   *lc;
	PbPlan	   *plan;
	MemoryContext oldcontext;
	bool	   *taken;

	foreach(lc, set->plans)
	{
		plan = lfirst(lc);
		if (plan->message == message)
			return plan;
	}
	oldcontext = MemoryContextSwitchTo(set->mcxt);
	plan = palloc0(sizeof(PbPlan));
	plan->message = message;
	/* registered before compiling: a recursive message finds it */
	set->plans = lappend(set->plans, plan);
	plan->column_fields = palloc(sizeof(int) * Max(set->ncolumns, 1));
	for (int i = 0; i < set->ncolumns; i++)
		plan->column_fields[i] = -1;
	plan->field_taken = palloc0(sizeof(bool) * Max(message->nfields, 1));
	if (set->single_value)
	{
		MemoryContextSwitchTo(oldcontext);
		return plan;
	}
	taken = palloc0(sizeof(bool) * Max(set->ncolumns, 1));
	for (int f = 0; f < message->nfields; f++)
	{
		const PbField *field = &message->fields[f];
		int			column = kafka_column_set_match(set, field->name, taken);

		if (column < 0)
			continue;
		taken[column] = true;
		plan->column_fields[column] = f;
		plan->field_taken[f] = true;
		if (plan->incompatible == NULL)
		{
			char	   *why = field_incompatibility(field, &set->inputs[column],
													set->mcxt, depth + 1);

			if (why != NULL)
				plan->incompatible = psprintf("field \"%s\" cannot be read into column \"%s\": %s",
											  field->name, set->names[column], why);
		}
	}
	pfree(taken);
	MemoryContextSwitchTo(oldcontext);
	return plan;
}

/* ---- values ------------------------------------------------------------- */

static bool
malformed(KafkaConvertState *convert, const PbMessage *message)
{
	return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
							 "truncated or malformed Protobuf data (message \"%s\")",
							 message->full_name);
}

static bool
nested_too_deeply(KafkaConvertState *convert)
{
	return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
							 "Protobuf message nested too deeply (more than %d levels)",
							 PB_MAX_DEPTH);
}

static bool
out_of_range(KafkaConvertState *convert, int code, const char *what,
			 KafkaValueInput *input)
{
	return kafka_decode_fail(convert, code, "%s is out of range for type %s",
							 what, input->type_name);
}

static bool
from_scratch(PbDecodeState *state, KafkaConvertState *convert,
			 KafkaValueInput *input, KafkaTextOrigin origin, Datum *value)
{
	return kafka_value_from_text(convert, input, state->scratch.data,
								 state->scratch.len, origin, value);
}

/* JSON of a value (rendered by pb_wire.c) into a textual column. */
static bool
json_into(PbDecodeState *state, KafkaConvertState *convert,
		  KafkaValueInput *input, Datum *value)
{
	const char *converted;
	int			converted_length;

	if (input->kind == KAFKA_VALUE_JSONB || input->kind == KAFKA_VALUE_JSON)
	{
		if (!kafka_utf8_to_server(convert, state->scratch.data, state->scratch.len,
								  &converted, &converted_length))
			return false;
		if (input->kind == KAFKA_VALUE_JSON)
			*value = PointerGetDatum(cstring_to_text_with_len(converted,
															  converted_length));
		else
			/* our own JSON text, no \u0000: jsonb_in cannot fail */
			*value = DirectFunctionCall1(jsonb_in,
										 CStringGetDatum(pnstrdup(converted,
																  converted_length)));
		return true;
	}
	/* a string without escapes (base64, a timestamp) stays bare text */
	if (state->scratch.len >= 2 && state->scratch.data[0] == '"' &&
		state->scratch.data[state->scratch.len - 1] == '"' &&
		memchr(state->scratch.data, '\\', state->scratch.len) == NULL)
		return kafka_value_from_text(convert, input, state->scratch.data + 1,
									 state->scratch.len - 2, KAFKA_TEXT_STRING,
									 value);
	return from_scratch(state, convert, input, KAFKA_TEXT_STRING, value);
}

static bool
integer_into(PbDecodeState *state, KafkaConvertState *convert, int64 v,
			 bool is_unsigned, KafkaValueInput *input, Datum *value)
{
	bool		big = is_unsigned && v < 0;	/* beyond int64 */

	switch (input->kind)
	{
		case KAFKA_VALUE_INT2:
			if (big || v < PG_INT16_MIN || v > PG_INT16_MAX)
				return out_of_range(convert, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									"value", input);
			*value = Int16GetDatum((int16) v);
			return true;
		case KAFKA_VALUE_INT4:
			if (big || v < PG_INT32_MIN || v > PG_INT32_MAX)
				return out_of_range(convert, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									"value", input);
			*value = Int32GetDatum((int32) v);
			return true;
		case KAFKA_VALUE_INT8:
			if (big)
				return out_of_range(convert, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									"value", input);
			*value = Int64GetDatum(v);
			return true;
		case KAFKA_VALUE_FLOAT4:
			*value = Float4GetDatum(big ? (float4) (uint64) v : (float4) v);
			return true;
		case KAFKA_VALUE_FLOAT8:
			*value = Float8GetDatum(big ? (float8) (uint64) v : (float8) v);
			return true;
		case KAFKA_VALUE_NUMERIC:
			if (input->typmod < 0 && !big)
			{
				*value = NumericGetDatum(int64_to_numeric(v));
				return true;
			}
			break;
		default:
			break;
	}
	resetStringInfo(&state->scratch);
	if (is_unsigned)
		appendStringInfo(&state->scratch, UINT64_FORMAT, (uint64) v);
	else
		appendStringInfo(&state->scratch, INT64_FORMAT, v);
	return from_scratch(state, convert, input, KAFKA_TEXT_NUMBER, value);
}

/*
 * d as the numeric of its shortest round-trip decimal without rendering
 * it, when that decimal has at most 14 significant digits: the first k
 * with m = rint(d * 10^k) and m / 10^k == d (both exact and correctly
 * rounded, so m * 10^-k reads back as d).  Below 10^14 the round-trip
 * interval of d is narrower than a tenth of 10^-k, so no other decimal of
 * k or fewer fraction digits reads back as d, nor one of as many
 * significant digits: it is the decimal the text path would have written
 * (same value, same display scale).  False: take the text path.
 */
static bool
double_to_numeric_fast(double d, Datum *value)
{
	static const double powers[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
	};

	if (!(fabs(d) < 1e14))		/* also NaN and the infinities */
		return false;
	for (int k = 0; k < lengthof(powers); k++)
	{
		double		scaled = rint(d * powers[k]);

		if (!(fabs(scaled) < 1e14))
			return false;
		if (scaled / powers[k] == d)
		{
			int64		m = (int64) scaled;

			*value = NumericGetDatum(k == 0 ? int64_to_numeric(m) :
									 int64_div_fast_to_numeric(m, k));
			return true;
		}
	}
	return false;
}

static bool
floating_into(PbDecodeState *state, KafkaConvertState *convert, double d,
			  bool is_float, KafkaValueInput *input, Datum *value)
{
	switch (input->kind)
	{
		case KAFKA_VALUE_NUMERIC:
			/* typmods keep the text path, which rounds and checks them */
			if (!is_float && input->typmod < 0 &&
				double_to_numeric_fast(d, value))
				return true;
			break;
		case KAFKA_VALUE_FLOAT8:
			*value = Float8GetDatum(d);
			return true;
		case KAFKA_VALUE_FLOAT4:
			{
				float4		narrowed = (float4) d;

				if (isinf(narrowed) && !isinf(d))
					return out_of_range(convert, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
										"value", input);
				*value = Float4GetDatum(narrowed);
				return true;
			}
		default:
			break;
	}
	resetStringInfo(&state->scratch);
	if (isnan(d))
		appendStringInfoString(&state->scratch, "NaN");
	else if (isinf(d))
		appendStringInfoString(&state->scratch, d > 0 ? "Infinity" : "-Infinity");
	else
	{
		char		buffer[DOUBLE_SHORTEST_DECIMAL_LEN];

		if (is_float)
			float_to_shortest_decimal_buf((float) d, buffer);
		else
			double_to_shortest_decimal_buf(d, buffer);
		appendStringInfoString(&state->scratch, buffer);
	}
	return from_scratch(state, convert, input, KAFKA_TEXT_STRING, value);
}

static bool
timestamp_into(PbDecodeState *state, KafkaConvertState *convert,
			   const PbMessage *message, const uint8 *data, size_t len,
			   KafkaValueInput *input, Datum *value)
{
	int64		seconds;
	int32		nanos;
	Timestamp	timestamp;

	if (!pb_timestamp_parts(data, len, &seconds, &nanos))
		return malformed(convert, message);
	if (nanos < 0 || nanos > 999999999 ||
		seconds < INT64CONST(-62135596800) || seconds > INT64CONST(253402300799))
		return out_of_range(convert, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
							"google.protobuf.Timestamp", input);
	timestamp = (seconds - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY) *
		USECS_PER_SEC + nanos / 1000;
	switch (input->kind)
	{
		case KAFKA_VALUE_TIMESTAMPTZ:
		case KAFKA_VALUE_TIMESTAMP:
			*value = TimestampGetDatum(timestamp);
			return true;
		case KAFKA_VALUE_DATE:
			{
				int64		days = timestamp / USECS_PER_DAY;

				if (timestamp < 0 && timestamp % USECS_PER_DAY != 0)
					days--;
				*value = DateADTGetDatum((DateADT) days);
				return true;
			}
		default:
			break;
	}
	return false;				/* the caller renders JSON */
}

static bool
duration_into(KafkaConvertState *convert, const PbMessage *message,
			  const uint8 *data, size_t len, KafkaValueInput *input,
			  Datum *value)
{
	int64		seconds;
	int32		nanos;
	Interval   *interval;

	if (!pb_timestamp_parts(data, len, &seconds, &nanos))
		return malformed(convert, message);
	if (seconds < INT64CONST(-315576000000) || seconds > INT64CONST(315576000000) ||
		nanos < -999999999 || nanos > 999999999)
		return out_of_range(convert, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
							"google.protobuf.Duration", input);
	interval = palloc0(sizeof(Interval));
	interval->time = seconds * USECS_PER_SEC + nanos / 1000;
	*value = IntervalPGetDatum(interval);
	return true;
}

/* One scalar value of a field (not a message) into input. */
static bool
scalar_into(PbDecodeState *state, KafkaConvertState *convert,
			const PbField *field, uint64 v, const uint8 *data, size_t len,
			KafkaValueInput *input, Datum *value)
{
	switch (field->type)
	{
		case PB_INT32:
			return integer_into(state, convert, (int32) v, false, input, value);
		case PB_SFIXED32:
			return integer_into(state, convert, (int32) (uint32) v, false, input, value);
		case PB_INT64:
		case PB_SFIXED64:
			return integer_into(state, convert, (int64) v, false, input, value);
		case PB_UINT32:
		case PB_FIXED32:
			return integer_into(state, convert, (uint32) v, false, input, value);
		case PB_UINT64:
		case PB_FIXED64:
			return integer_into(state, convert, (int64) v, true, input, value);
		case PB_SINT32:
			return integer_into(state, convert,
								(int32) ((uint32) (v >> 1) ^ -(uint32) (v & 1)),
								false, input, value);
		case PB_SINT64:
			return integer_into(state, convert, (int64) ((v >> 1) ^ -(v & 1)),
								false, input, value);
		case PB_BOOL:
			if (input->kind == KAFKA_VALUE_BOOL)
			{
				*value = BoolGetDatum(v != 0);
				return true;
			}
			return kafka_value_from_text(convert, input, v ? "true" : "false",
										 v ? 4 : 5, KAFKA_TEXT_LITERAL, value);
		case PB_FLOAT:
			{
				uint32		bits = (uint32) v;
				float		f;

				memcpy(&f, &bits, sizeof(f));
				if (input->kind == KAFKA_VALUE_FLOAT4)
				{
					*value = Float4GetDatum(f);
					return true;
				}
				return floating_into(state, convert, f, true, input, value);
			}
		case PB_DOUBLE:
			{
				double		d;

				memcpy(&d, &v, sizeof(d));
				return floating_into(state, convert, d, false, input, value);
			}
		case PB_ENUM:
			{
				const PbEnum *en = field->enumeration;

				if (input->kind == KAFKA_VALUE_INT2 || input->kind == KAFKA_VALUE_INT4 ||
					input->kind == KAFKA_VALUE_INT8 || input->kind == KAFKA_VALUE_NUMERIC ||
					input->kind == KAFKA_VALUE_FLOAT4 || input->kind == KAFKA_VALUE_FLOAT8)
					return integer_into(state, convert, (int32) v, false, input, value);
				for (int i = 0; i < en->nvalues; i++)
					if (en->numbers[i] == (int32) v)
						return kafka_value_from_text(convert, input, en->names[i],
													 strlen(en->names[i]),
													 KAFKA_TEXT_STRING, value);
				/* an open enum's number without a name */
				resetStringInfo(&state->scratch);
				appendStringInfo(&state->scratch, "%d", (int32) v);
				return from_scratch(state, convert, input, KAFKA_TEXT_STRING, value);
			}
		case PB_STRING:
			if (input->typid == BYTEAOID)
				break;
			if (kafka_utf8_invalid_offset((const char *) data, len, true) >= 0)
				return kafka_decode_fail(convert, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
										 "Protobuf string is not valid UTF-8 or contains a zero byte");
			if (len > PG_INT32_MAX / 2)
				return out_of_range(convert, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
									"string", input);
			return kafka_value_from_text(convert, input, (const char *) data,
										 (int) len, KAFKA_TEXT_STRING, value);
		case PB_BYTES:
			if (input->kind == KAFKA_VALUE_UUID && len == UUID_LEN)
			{
				pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));

				memcpy(uuid->data, data, UUID_LEN);
				*value = UUIDPGetDatum(uuid);
				return true;
			}
			if (input->typid == BYTEAOID)
				break;
			resetStringInfo(&state->scratch);
			{
				char	   *error;
				PbJsonOptions options = state->json;

				if (!pb_field_value_to_json(field, PB_WIRE_LEN, 0, data, len,
											&options, &state->scratch, 0, &error))
					return malformed(convert, field->message);
			}
			return json_into(state, convert, input, value);
		default:
			break;
	}
	if (input->typid == BYTEAOID && (field->type == PB_BYTES || field->type == PB_STRING))
	{
		bytea	   *result = palloc(len + VARHDRSZ);

		SET_VARSIZE(result, len + VARHDRSZ);
		memcpy(VARDATA(result), data, len);
		*value = PointerGetDatum(result);
		return true;
	}
	return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
							 "Protobuf type %s cannot be read into type %s",
							 pb_type_name(field->type), input->type_name);
}

/* The JSON rendering of one occurrence into input. */
static bool
field_json_into(PbDecodeState *state, KafkaConvertState *convert,
				const PbField *field, const PbOccurrence *occurrence,
				KafkaValueInput *input, Datum *value, int depth)
{
	char	   *error;

	resetStringInfo(&state->scratch);
	if (!pb_field_value_to_json(field, occurrence->wire_type, occurrence->scalar,
								occurrence->data, occurrence->len, &state->json,
								&state->scratch, depth, &error))
	{
		if (error != NULL)
			return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
									 "%s", error);
		return malformed(convert, field->message ? field->message : state->message);
	}
	return json_into(state, convert, input, value);
}

/* One value of a field (one occurrence, or one packed element) into input. */
static bool
value_into(PbDecodeState *state, KafkaConvertState *convert,
		   const PbField *field, int wire_type, uint64 scalar,
		   const uint8 *data, size_t len, KafkaValueInput *input,
		   Datum *value, bool *isnull, int depth)
{
	*isnull = false;
	if (field->type == PB_MESSAGE)
		return read_message_into(state, convert, field->message, data, len,
								 input, value, isnull, depth + 1);
	if (input->kind == KAFKA_VALUE_JSON || input->kind == KAFKA_VALUE_JSONB)
	{
		PbOccurrence occurrence = {0};

		occurrence.wire_type = wire_type;
		occurrence.scalar = scalar;
		occurrence.data = data;
		occurrence.len = len;
		return field_json_into(state, convert, field, &occurrence, input, value,
							   depth);
	}
	return scalar_into(state, convert, field, scalar, data, len, input, value);
}

static bool read_columns(PbDecodeState *state, KafkaConvertState *convert,
						 PbPlan *plan, PbColumnSet *set, const uint8 *data,
						 size_t len, Datum *values, bool *nulls, int depth);

/* A message (a field's, or the payload) into input. */
static bool
read_message_into(PbDecodeState *state, KafkaConvertState *convert,
				  const PbMessage *message, const uint8 *data, size_t len,
				  KafkaValueInput *input, Datum *value, bool *isnull, int depth)
{
	char	   *error;

	*isnull = false;
	if (depth > PB_MAX_DEPTH || stack_is_too_deep())
		return nested_too_deeply(convert);
	switch (message->well_known)
	{
		case PB_WKT_WRAPPER:
			{
				PbOccurrence *parts = NULL;
				int			capacity = 0;
				int			count = 0;
				bool		too_deep = false;
				int			last = -1;

				if (!pb_scan_message(message, data, len, &parts, &capacity,
									 &count, depth, &too_deep))
					return malformed(convert, message);
				for (int i = 0; i < count; i++)
					last = i;
				if (last < 0)
				{
					/* present but empty: the value's default */
					static const uint8 empty[1] = {0};

					return value_into(state, convert, &message->fields[0],
									  PB_WIRE_VARINT, 0, empty, 0, input, value,
									  isnull, depth);
				}
				return value_into(state, convert, &message->fields[0],
								  parts[last].wire_type, parts[last].scalar,
								  parts[last].data, parts[last].len, input,
								  value, isnull, depth);
			}
		case PB_WKT_TIMESTAMP:
			if (input->kind == KAFKA_VALUE_TIMESTAMPTZ ||
				input->kind == KAFKA_VALUE_TIMESTAMP || input->kind == KAFKA_VALUE_DATE)
				return timestamp_into(state, convert, message, data, len, input, value);
			break;
		case PB_WKT_DURATION:
			if (input->typid == INTERVALOID)
				return duration_into(convert, message, data, len, input, value);
			break;
		case PB_WKT_NONE:
			if (input->kind == KAFKA_VALUE_COMPOSITE)
			{
				PbColumnSet *set = kafka_composite_columns(input, state->top.mcxt);
				PbPlan	   *plan = get_plan(set, message, depth);
				TupleDesc	desc = input->composite_desc;
				Datum	   *values;
				bool	   *nulls;

				if (plan->incompatible)
					return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
											 "%s", plan->incompatible);
				values = palloc0(sizeof(Datum) * Max(desc->natts, 1));
				nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
				memset(nulls, true, sizeof(bool) * Max(desc->natts, 1));
				if (!read_columns(state, convert, plan, set, data, len, values,
								  nulls, depth + 1))
					return false;
				*value = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
				return true;
			}
			break;
		default:
			break;
	}
	if (!is_textual(input))
		return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
								 "Protobuf message %s cannot be read into type %s",
								 message->full_name, input->type_name);
	resetStringInfo(&state->scratch);
	if (!pb_message_to_json(message, data, len, &state->json, &state->scratch,
							depth, &error))
		return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								 "%s", error);
	return json_into(state, convert, input, value);
}

/* The occurrences of a repeated field into an array column. */
static bool
repeated_into_array(PbDecodeState *state, KafkaConvertState *convert,
					const PbField *field, PbOccurrence *parts, int count,
					int field_index, KafkaValueInput *input, Datum *value,
					int depth)
{
	KafkaValueInput *element = input->element;
	int			capacity = 8;
	int			n = 0;
	Datum	   *elements = palloc(sizeof(Datum) * capacity);
	bool	   *element_nulls = palloc(sizeof(bool) * capacity);
	int			dims[1];
	int			lbs[1] = {1};

	for (int i = 0; i < count; i++)
	{
		PbCursor	cursor;

		if (parts[i].field != field_index)
			continue;
		if (parts[i].wire_type == PB_WIRE_LEN && pb_type_is_packable(field->type))
		{
			cursor.p = parts[i].data;
			cursor.end = cursor.p + parts[i].len;
			while (cursor.p < cursor.end)
			{
				uint64		v = 0;
				bool		ok;

				switch (field->type)
				{
					case PB_DOUBLE:
					case PB_FIXED64:
					case PB_SFIXED64:
						ok = cursor.end - cursor.p >= 8;
						if (ok)
						{
							for (int b = 7; b >= 0; b--)
								v = (v << 8) | cursor.p[b];
							cursor.p += 8;
						}
						break;
					case PB_FLOAT:
					case PB_FIXED32:
					case PB_SFIXED32:
						ok = cursor.end - cursor.p >= 4;
						if (ok)
						{
							for (int b = 3; b >= 0; b--)
								v = (v << 8) | cursor.p[b];
							cursor.p += 4;
						}
						break;
					default:
						ok = pb_read_varint(&cursor, &v);
				}
				if (!ok)
					return malformed(convert, state->message);
				if (n == capacity)
				{
					capacity *= 2;
					elements = repalloc(elements, sizeof(Datum) * capacity);
					element_nulls = repalloc(element_nulls, sizeof(bool) * capacity);
				}
				if (!value_into(state, convert, field, PB_WIRE_VARINT,
								v, NULL, 0, element, &elements[n],
								&element_nulls[n], depth))
					return false;
				n++;
			}
			continue;
		}
		if (n == capacity)
		{
			capacity *= 2;
			elements = repalloc(elements, sizeof(Datum) * capacity);
			element_nulls = repalloc(element_nulls, sizeof(bool) * capacity);
		}
		if (!value_into(state, convert, field, parts[i].wire_type, parts[i].scalar,
						parts[i].data, parts[i].len, element, &elements[n],
						&element_nulls[n], depth))
			return false;
		n++;
	}
	if (n == 0)
	{
		*value = PointerGetDatum(construct_empty_array(element->typid));
		return true;
	}
	dims[0] = n;
	*value = PointerGetDatum(construct_md_array(elements, element_nulls, 1, dims,
												lbs, element->typid,
												input->element_length,
												input->element_byval,
												input->element_align));
	return true;
}

/* The PostgreSQL type that takes a field's values as the decoder reads them. */
static const char *
type_for_unknown(const PbField *field)
{
	const char *type = field->repeated ? NULL : pb_value_pg_type(field, 0);

	return type ? type : "jsonb";
}

/*
 * The fields of the top message present in the payload that no column
 * takes, as JSON (kafka 'rescued', schema evolution), and those whose
 * column could not take their value (rescued, when not NULL).
 */
static bool
report_unknown_fields(PbDecodeState *state, KafkaConvertState *convert,
					  PbPlan *plan, PbOccurrence *parts, int count,
					  const int *last, const int *oneof_last,
					  const bool *rescued)
{
	const PbMessage *message = plan->message;

	for (int f = 0; f < message->nfields; f++)
	{
		const PbField *field = &message->fields[f];
		bool		ok;
		char	   *error;

		if ((plan->field_taken[f] && (rescued == NULL || !rescued[f])) ||
			last[f] < 0 || field->type == PB_GROUP ||
			(field->oneof_index >= 0 && oneof_last[field->oneof_index] != last[f]))
			continue;
		resetStringInfo(&state->scratch);
		if (field->repeated)
			ok = pb_repeated_field_to_json(message, f, parts, count, &state->json,
										   &state->scratch, 0, &error);
		else
			ok = pb_field_value_to_json(field, parts[last[f]].wire_type,
										parts[last[f]].scalar, parts[last[f]].data,
										parts[last[f]].len, &state->json,
										&state->scratch, 0, &error);
		if (!ok)
		{
			if (error != NULL)
				return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
										 "%s", error);
			return malformed(convert, message);
		}
		kafka_unknown_field_add(state->report_unknown, field->name,
								field->name_length, state->scratch.data,
								state->scratch.len,
								strcmp(state->scratch.data, "null") == 0 ?
								NULL : type_for_unknown(field));
	}
	return true;
}

/*
 * A message's fields into the columns of set: the last occurrence of each
 * field (a oneof: its last member set), every occurrence of a repeated one.
 */
static bool
read_columns(PbDecodeState *state, KafkaConvertState *convert, PbPlan *plan,
			 PbColumnSet *set, const uint8 *data, size_t len, Datum *values,
			 bool *nulls, int depth)
{
	const PbMessage *message = plan->message;
	PbOccurrence *parts;
	int			count;
	bool		too_deep = false;
	int		   *last;
	int		   *oneof_last;
	bool		rescue = false;

	if (depth > PB_MAX_DEPTH || stack_is_too_deep())
		return nested_too_deeply(convert);
	if (depth == 0)
	{
		/* the top message's buffers live in the decoder's context */
		bool		ok;

		parts = state->occurrences;
		ok = pb_scan_message(message, data, len, &parts, &state->capacity,
							 &count, depth, &too_deep);
		state->occurrences = parts;
		if (!ok)
		{
			if (too_deep)
				return nested_too_deeply(convert);
			return malformed(convert, message);
		}
	}
	else
	{
		int			capacity = 0;

		parts = NULL;
		if (!pb_scan_message(message, data, len, &parts, &capacity, &count,
							 depth, &too_deep))
		{
			if (too_deep)
				return nested_too_deeply(convert);
			return malformed(convert, message);
		}
	}

	if (depth == 0)
	{
		last = state->top_last;
		oneof_last = state->top_oneof_last;
		/* under on_error 'null', values their columns cannot take */
		rescue = state->report_unknown != NULL &&
			state->report_unknown->rescue_mismatches;
		if (rescue)
			memset(state->top_rescued, 0, sizeof(bool) * message->nfields);
	}
	else
	{
		last = palloc(sizeof(int) * Max(message->nfields, 1));
		oneof_last = palloc(sizeof(int) * Max(message->noneofs, 1));
	}
	for (int f = 0; f < message->nfields; f++)
		last[f] = -1;
	for (int o = 0; o < message->noneofs; o++)
		oneof_last[o] = -1;
	for (int i = 0; i < count; i++)
	{
		last[parts[i].field] = i;
		if (message->fields[parts[i].field].oneof_index >= 0)
			oneof_last[message->fields[parts[i].field].oneof_index] = i;
	}

	for (int column = 0; column < set->ncolumns; column++)
	{
		int			f = plan->column_fields[column];
		const PbField *field;
		KafkaValueInput *input = &set->inputs[column];
		int			attnum = set->attnums[column];
		bool		ok;

		if (f < 0)
			continue;
		field = &message->fields[f];
		if (last[f] < 0 && state->emit_defaults && !field->has_presence)
		{
			/* proto3's implicit zero: "", 0, false, the first enum value */
			static const uint8 empty[1] = {0};

			if (field->repeated && input->kind == KAFKA_VALUE_ARRAY)
			{
				values[attnum] = PointerGetDatum(construct_empty_array(input->element->typid));
				nulls[attnum] = false;
				continue;
			}
			resetStringInfo(&state->scratch);
			if (field->repeated ||
				input->kind == KAFKA_VALUE_JSON || input->kind == KAFKA_VALUE_JSONB)
			{
				pb_append_default_json(field, &state->json, &state->scratch);
				ok = json_into(state, convert, input, &values[attnum]);
			}
			else
				ok = scalar_into(state, convert, field, 0, empty, 0, input,
								 &values[attnum]);
			nulls[attnum] = !ok;
			if (!ok)
				return kafka_decode_fail(convert, convert->error_code,
										 "cannot decode field \"%s\" into column \"%s\": %s",
										 field->name, set->names[column],
										 convert->error);
			continue;
		}
		if (last[f] < 0 ||
			(field->oneof_index >= 0 && oneof_last[field->oneof_index] != last[f]))
			continue;
		convert->context_field = field->name;
		convert->context_field_length = field->name_length;
		convert->context_column = set->names[column];
		if (field->repeated && input->kind == KAFKA_VALUE_ARRAY)
			ok = repeated_into_array(state, convert, field, parts, count, f,
									 input, &values[attnum], depth);
		else if (field->repeated)
		{
			char	   *error;

			resetStringInfo(&state->scratch);
			ok = pb_repeated_field_to_json(message, f, parts, count, &state->json,
										   &state->scratch, depth, &error);
			if (!ok && error != NULL)
				kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								  "%s", error);
			else if (!ok)
				malformed(convert, message);
			else
				ok = json_into(state, convert, input, &values[attnum]);
		}
		else
			ok = value_into(state, convert, field, parts[last[f]].wire_type,
							parts[last[f]].scalar, parts[last[f]].data,
							parts[last[f]].len, input, &values[attnum],
							&nulls[attnum], depth);
		if (!ok && rescue)
		{
			/* the value its column cannot take is rescued instead */
			values[attnum] = (Datum) 0;
			nulls[attnum] = true;
			kafka_convert_forget_error(convert);
			state->top_rescued[f] = true;
			continue;
		}
		if (!ok)
		{
			convert->context_in_message = true;
			return kafka_decode_fail(convert, convert->error_code,
									 "cannot decode field \"%s\" into column \"%s\": %s",
									 field->name, set->names[column],
									 convert->error);
		}
		if (field->repeated)
			nulls[attnum] = false;
	}
	convert->context_field = NULL;
	convert->context_column = NULL;
	if (depth == 0 && state->report_unknown != NULL)
		return report_unknown_fields(state, convert, plan, parts, count, last,
									 oneof_last, rescue ? state->top_rescued : NULL);
	return true;
}

/* The schema of id for this decoder; NULL with *error. */
static PbSchema *
schema_for_id(PbDecodeState *state, KafkaDecoder *decoder, int32 id,
			  char **error)
{
	PbRegistrySource *source = state->registry;
	ListCell   *lc;
	PbIdEntry  *entry;
	MemoryContext oldcontext;
	char	   *why = NULL;
	PbSchema   *schema;

	foreach(lc, source->ids)
	{
		entry = lfirst(lc);
		if (entry->id == id)
		{
			*error = entry->error;
			return entry->schema;
		}
	}
	schema = pb_registry_schema_by_id(source->registry, id, &why);
	oldcontext = MemoryContextSwitchTo(decoder->mcxt);
	entry = palloc0(sizeof(PbIdEntry));
	entry->id = id;
	entry->schema = schema;
	/* kept for this decoder: a topic full of such records asks once */
	if (schema == NULL)
		entry->error = pstrdup(why);
	source->ids = lappend(source->ids, entry);
	MemoryContextSwitchTo(oldcontext);
	*error = entry->error;
	return schema;
}

/*
 * Reads a record's Confluent framing and makes its message (and plan) the
 * decoder's; false with the record's error.
 */
static bool
registry_message(PbDecodeState *state, KafkaDecoder *decoder,
				 const char **data, size_t *len)
{
	PbRegistrySource *source = state->registry;
	KafkaConvertState *convert = &decoder->convert;
	const uint8 *bytes = (const uint8 *) *data;
	int32		indexes[PB_MAX_MESSAGE_INDEXES];
	int			count;
	int32		id;
	int			framing;
	char	   *error;
	PbSchema   *schema;
	PbMessage  *message;

	if (source->have_last && *len >= (size_t) source->last_frame_len &&
		memcmp(bytes, source->last_frame, source->last_frame_len) == 0)
	{
		/* the same id and indexes as the last record: the same message */
		*data += source->last_frame_len;
		*len -= source->last_frame_len;
		return true;
	}
	framing = pb_frame(bytes, *len, &id, indexes, &count, &error);
	if (framing < 0)
		return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								 "%s", error);
	schema = schema_for_id(state, decoder, id, &error);
	if (schema == NULL)
		return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								 "%s", error);
	message = pb_schema_message_by_indexes(schema, indexes, count);
	if (message == NULL)
		return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								 "message indexes %s are out of range for the messages of schema id %d",
								 pb_indexes_text(indexes, count), id);
	if (source->required != NULL &&
		strcmp(message->full_name, source->required) != 0)
		return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
								 "record of Protobuf message \"%s\" (schema id %d), not of message \"%s\"",
								 message->full_name, id, source->required);
	if (message->nfields > state->top_size)
	{
		state->top_size = message->nfields;
		state->top_last = MemoryContextAlloc(decoder->mcxt,
											 sizeof(int) * state->top_size);
		state->top_rescued = MemoryContextAlloc(decoder->mcxt,
												sizeof(bool) * state->top_size);
	}
	if (message->noneofs > state->top_oneof_size)
	{
		state->top_oneof_size = message->noneofs;
		state->top_oneof_last = MemoryContextAlloc(decoder->mcxt,
												   sizeof(int) * state->top_oneof_size);
	}
	state->schema = schema;
	state->json.schema = schema;
	state->message = message;
	state->plan = get_plan(&state->top, message, 0);
	if (framing <= (int) sizeof(source->last_frame))
	{
		memcpy(source->last_frame, bytes, framing);
		source->last_frame_len = framing;
		source->have_last = true;
	}
	else
		source->have_last = false;
	*data += framing;
	*len -= framing;
	return true;
}

static bool
pb_decode(KafkaDecoder *decoder, const char *data, size_t len, Datum *values,
		  bool *nulls)
{
	PbDecodeState *state = decoder->format_state;
	KafkaConvertState *convert = &decoder->convert;
	PbColumnSet *set = &state->top;

	if (state->registry != NULL && data != NULL &&
		!registry_message(state, decoder, &data, &len))
		return false;
	if (state->plan->incompatible)
		return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
								 "Protobuf message \"%s\" does not fit the columns: %s",
								 state->message->full_name,
								 state->plan->incompatible);
	for (int i = 0; i < decoder->npayload; i++)
	{
		values[decoder->payload_attnums[i]] = (Datum) 0;
		nulls[decoder->payload_attnums[i]] = true;
	}
	if (set->single_value)
	{
		int			attnum;

		if (set->ncolumns == 0)
			return true;
		attnum = set->attnums[0];
		convert->context_column = set->names[0];
		if (!read_message_into(state, convert, state->message,
							   (const uint8 *) data, len, &set->inputs[0],
							   &values[attnum], &nulls[attnum], 0))
		{
			convert->context_in_message = true;
			return kafka_decode_fail(convert, convert->error_code,
									 "cannot decode the Protobuf message into column \"%s\": %s",
									 set->names[0], convert->error);
		}
		return true;
	}
	return read_columns(state, convert, state->plan, set, (const uint8 *) data,
						len, values, nulls, 0);
}

void
kafka_protobuf_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
							const KafkaCodecOptions *options)
{
	PbDecodeState *state = palloc0(sizeof(PbDecodeState));
	PbColumnSet *set = &state->top;

	if (pb_uses_registry(options))
	{
		state->registry = palloc0(sizeof(PbRegistrySource));
		state->registry->registry =
			kafka_registry_for_server(options->server_name,
									  OidIsValid(options->userid) ?
									  options->userid : GetUserId());
		state->registry->required = pb_registry_message_option(options);
	}
	else
		state->message = pb_message_from_options(options, &state->schema,
												 decoder->mcxt);
	state->json.schema = state->schema;
	state->json.max_recursion = -1;
	state->report_unknown = decoder->unknown ? decoder : NULL;
	state->json.emit_defaults = options->protobuf_emit_defaults;
	state->emit_defaults = options->protobuf_emit_defaults;
	initStringInfo(&state->scratch);
	set->single_value = options->single_value;
	kafka_column_set_init(set, desc, decoder->payload_attnums,
						  decoder->npayload, decoder->mcxt);
	state->capacity = 64;
	state->occurrences = palloc(sizeof(PbOccurrence) * state->capacity);
	if (state->registry != NULL)
	{
		/* each record names its message */
		decoder->format_state = state;
		decoder->decode = pb_decode;
		return;
	}
	state->top_size = Max(state->message->nfields, 1);
	state->top_oneof_size = Max(state->message->noneofs, 1);
	state->top_last = palloc(sizeof(int) * state->top_size);
	state->top_rescued = palloc(sizeof(bool) * state->top_size);
	state->top_oneof_last = palloc(sizeof(int) * state->top_oneof_size);
	state->plan = get_plan(set, state->message, 0);
	/* columns that cannot take their fields are a mistake of the table */
	if (state->plan->incompatible)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("Protobuf message \"%s\" does not fit the columns: %s",
						state->message->full_name, state->plan->incompatible)));
	decoder->format_state = state;
	decoder->decode = pb_decode;
}
