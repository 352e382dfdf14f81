/*-------------------------------------------------------------------------
 *
 * pb_encode.c
 *	  Format "protobuf" of the codec, encoding: a row into the Protobuf
 *	  binary of a message type (INSERT into a foreign table of format
 *	  protobuf, kafka.to_protobuf).
 *
 * Columns map to the message's fields by name (exact, else ignoring ASCII
 * case); a payload column without a field is an error when the encoder is
 * made, not a value silently dropped.  NULL columns are left out of the
 * message; other values are written whatever proto2/proto3 would elide,
 * so a zero set on purpose reads back as present.  Repeated scalars are
 * packed when the field is (proto3's default).
 *
 * Values convert from the column's type: integers, floats, numeric and
 * bool directly; any other type through its text (an enum field takes the
 * value's name, or its number); composites into nested messages;
 * timestamptz/timestamp/date into google.protobuf.Timestamp, interval into
 * Duration (a month as 30 days, as EXTRACT(epoch) counts it), scalars into
 * the wrappers; json and jsonb into messages, maps, repeated fields,
 * Struct, Value, ListValue and Any, following the JSON that
 * kafka.from_protobuf gives (field names of the .proto, enums by name or
 * number, bytes as base64, Timestamp as RFC 3339 text, Duration as "1.5s").
 *
 * IDENTIFICATION
 *	  src/protobuf/pb_encode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "codec/codec_internal.h"
#include "protobuf/protobuf.h"
#include "registry/schema_registry.h"

/*
 * jansson, after PostgreSQL's headers: both declare a json_object(), and
 * only PostgreSQL's is needed by name here.
 */
#define json_object jansson_json_object_unused
#include <jansson.h>
#undef json_object

typedef struct PbEncodePlan PbEncodePlan;

typedef struct PbEncodeColumn
{
	int			attnum;
	char	   *name;
	const PbField *field;
	Oid			typid;
} PbEncodeColumn;

struct PbEncodePlan
{
	const PbMessage *message;
	Oid			typid;			/* composite type, or InvalidOid (the row) */
	int			ncolumns;
	PbEncodeColumn *columns;
};

typedef struct PbEncodeState
{
	PbSchema   *schema;
	PbMessage  *message;
	PbEncodePlan *top;
	List	   *plans;			/* PbEncodePlan * of composite types */
	bool		single_value;
	MemoryContext mcxt;
	/* with the Schema Registry: the Confluent framing written first */
	bool		framed;
	int32		schema_id;
	int32		indexes[PB_MAX_MESSAGE_INDEXES];
	int			nindexes;
} PbEncodeState;

static void encode_field_value(PbEncodeState *state, const PbField *field,
							   Datum value, Oid typid, StringInfo out,
							   int depth);
static void encode_json_field(PbEncodeState *state, const PbField *field,
							  json_t *json, StringInfo out, int depth);
static void encode_json_message(PbEncodeState *state, const PbMessage *message,
								json_t *json, StringInfo out, int depth);

/* ---- the wire ----------------------------------------------------------- */

static void
append_varint(StringInfo out, uint64 v)
{
	char		buffer[10];
	int			n = 0;

	do
	{
		buffer[n] = (char) (v & 0x7f);
		v >>= 7;
		if (v != 0)
			buffer[n] |= (char) 0x80;
		n++;
	} while (v != 0);
	appendBinaryStringInfo(out, buffer, n);
}

static void
append_tag(StringInfo out, int32 number, int wire_type)
{
	append_varint(out, ((uint64) number << 3) | (uint64) wire_type);
}

static void
append_fixed(StringInfo out, uint64 v, int bytes)
{
	char		buffer[8];

	for (int i = 0; i < bytes; i++)
		buffer[i] = (char) ((v >> (8 * i)) & 0xff);
	appendBinaryStringInfo(out, buffer, bytes);
}

static void
append_length_delimited(StringInfo out, const char *data, int len)
{
	append_varint(out, (uint64) len);
	appendBinaryStringInfo(out, data, len);
}

/* A scalar's bits on the wire (no tag). */
static void
append_scalar_bits(StringInfo out, PbType type, uint64 bits)
{
	switch (pb_wire_type(type))
	{
		case PB_WIRE_FIXED64:
			append_fixed(out, bits, 8);
			break;
		case PB_WIRE_FIXED32:
			append_fixed(out, bits, 4);
			break;
		default:
			append_varint(out, bits);
	}
}

/* ---- scalars from values ------------------------------------------------ */

static void
cannot_encode(const PbField *field, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("cannot encode Protobuf field \"%s\" (%s): %s", field->name,
					pb_type_name(field->type), why)));
}

static char *
value_text(Datum value, Oid typid)
{
	Oid			output;
	bool		varlena;

	getTypeOutputInfo(typid, &output, &varlena);
	return OidOutputFunctionCall(output, value);
}

/* The bits of an integer field's value, range checked against its type. */
static uint64
integer_bits(const PbField *field, int64 v, bool is_unsigned_big)
{
	switch (field->type)
	{
		case PB_INT32:
		case PB_SFIXED32:
		case PB_SINT32:
			if (is_unsigned_big || v < PG_INT32_MIN || v > PG_INT32_MAX)
				cannot_encode(field, "value out of range");
			if (field->type == PB_SINT32)
				return (uint32) (((uint32) v << 1) ^ (uint32) ((int32) v >> 31));
			if (field->type == PB_SFIXED32)
				return (uint32) (int32) v;
			return (uint64) v;	/* negative int32: ten bytes, as protobuf does */
		case PB_UINT32:
		case PB_FIXED32:
			if (is_unsigned_big || v < 0 || v > PG_UINT32_MAX)
				cannot_encode(field, "value out of range");
			return (uint64) v;
		case PB_UINT64:
		case PB_FIXED64:
			if (!is_unsigned_big && v < 0)
				cannot_encode(field, "value out of range");
			return (uint64) v;
		case PB_SINT64:
			if (is_unsigned_big)
				cannot_encode(field, "value out of range");
			return ((uint64) v << 1) ^ (uint64) (v >> 63);
		default:
			if (is_unsigned_big)
				cannot_encode(field, "value out of range");
			return (uint64) v;
	}
}

/* An integer from text: int64, or beyond it for unsigned 64-bit fields. */
static uint64
integer_bits_from_text(const PbField *field, const char *text)
{
	char	   *end;
	int64		v;

	errno = 0;
	while (*text == ' ')
		text++;
	if ((field->type == PB_UINT64 || field->type == PB_FIXED64) && *text != '-')
	{
		uint64		u = strtou64(text, &end, 10);

		if (errno == 0 && end != text && *end == '\0')
			return u;
	}
	else
	{
		v = strtoi64(text, &end, 10);
		if (errno == 0 && end != text && *end == '\0')
			return integer_bits(field, v, false);
	}
	cannot_encode(field, psprintf("invalid integer \"%s\"", text));
	return 0;
}

static int32
enum_number(const PbField *field, const char *name)
{
	const PbEnum *en = field->enumeration;
	char	   *end;
	long		number;

	for (int i = 0; i < en->nvalues; i++)
		if (strcmp(en->names[i], name) == 0)
			return en->numbers[i];
	errno = 0;
	number = strtol(name, &end, 10);
	if (errno == 0 && end != name && *end == '\0' && number >= PG_INT32_MIN &&
		number <= PG_INT32_MAX)
		return (int32) number;
	cannot_encode(field, psprintf("\"%s\" is not a value of enum %s", name,
								  en->full_name));
	return 0;
}

static uint64
double_bits(const PbField *field, double d)
{
	if (field->type == PB_FLOAT)
	{
		float		f = (float) d;
		uint32		bits;

		memcpy(&bits, &f, sizeof(bits));
		return bits;
	}
	else
	{
		uint64		bits;

		memcpy(&bits, &d, sizeof(bits));
		return bits;
	}
}

/* The wire bits of a scalar (numeric, bool or enum) field's value. */
static uint64
scalar_bits(const PbField *field, Datum value, Oid typid)
{
	switch (field->type)
	{
		case PB_DOUBLE:
		case PB_FLOAT:
			switch (typid)
			{
				case FLOAT8OID:
					return double_bits(field, DatumGetFloat8(value));
				case FLOAT4OID:
					return double_bits(field, DatumGetFloat4(value));
				case INT2OID:
				case INT4OID:
				case INT8OID:
					return double_bits(field, (double) kafka_integer_datum(value, typid));
				case NUMERICOID:
					return double_bits(field,
									   DatumGetFloat8(DirectFunctionCall1(numeric_float8, value)));
				default:
					return double_bits(field,
									   DatumGetFloat8(DirectFunctionCall1(float8in,
																		  CStringGetDatum(value_text(value, typid)))));
			}
		case PB_BOOL:
			if (typid == BOOLOID)
				return DatumGetBool(value) ? 1 : 0;
			return DatumGetBool(DirectFunctionCall1(boolin,
													CStringGetDatum(value_text(value, typid)))) ? 1 : 0;
		case PB_ENUM:
			if (typid == INT2OID || typid == INT4OID || typid == INT8OID)
			{
				int64		v = kafka_integer_datum(value, typid);

				if (v < PG_INT32_MIN || v > PG_INT32_MAX)
					cannot_encode(field, "value out of range");
				return (uint64) v;
			}
			return (uint64) (int64) enum_number(field, value_text(value, typid));
		default:
			switch (typid)
			{
				case INT2OID:
				case INT4OID:
				case INT8OID:
					return integer_bits(field, kafka_integer_datum(value, typid), false);
				case BOOLOID:
					return integer_bits(field, DatumGetBool(value) ? 1 : 0, false);
				default:
					return integer_bits_from_text(field, value_text(value, typid));
			}
	}
}

/* Text of a value in UTF-8, for string fields. */
static void
append_utf8_text(StringInfo out, Datum value, Oid typid)
{
	const char *text;
	int			len;
	char	   *converted;

	if (typid == TEXTOID || typid == VARCHAROID || typid == BPCHAROID)
	{
		struct varlena *t = PG_DETOAST_DATUM_PACKED(value);

		text = VARDATA_ANY(t);
		len = VARSIZE_ANY_EXHDR(t);
	}
	else
	{
		text = value_text(value, typid);
		len = strlen(text);
	}
	converted = pg_server_to_any(text, len, PG_UTF8);
	if (converted != text)
		len = strlen(converted);
	append_length_delimited(out, converted, len);
}

/* ---- plans -------------------------------------------------------------- */

static int
match_field(const PbMessage *message, const char *name, const bool *taken)
{
	int			found = -1;

	for (int f = 0; f < message->nfields; f++)
		if (!taken[f] && strcmp(message->fields[f].name, name) == 0)
			return f;
	for (int f = 0; f < message->nfields; f++)
	{
		if (!taken[f] && pg_strcasecmp(message->fields[f].name, name) == 0)
		{
			if (found >= 0)
				return -1;
			found = f;
		}
	}
	return found;
}

static PbEncodePlan *
make_plan(PbEncodeState *state, const PbMessage *message, TupleDesc desc,
		  const int *attnums, int natts, Oid typid)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(state->mcxt);
	PbEncodePlan *plan = palloc0(sizeof(PbEncodePlan));
	bool	   *taken = palloc0(sizeof(bool) * Max(message->nfields, 1));

	plan->message = message;
	plan->typid = typid;
	plan->columns = palloc0(sizeof(PbEncodeColumn) * Max(natts, 1));
	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, attnums[i]);
		PbEncodeColumn *column = &plan->columns[plan->ncolumns];
		int			f;

		if (attr->attisdropped)
			continue;
		f = match_field(message, NameStr(attr->attname), taken);
		if (f < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" has no field in Protobuf message \"%s\"",
							NameStr(attr->attname), message->full_name),
					 errhint("Columns map to the message's fields by name.")));
		if (message->fields[f].type == PB_GROUP)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("field \"%s\" of Protobuf message \"%s\" is a group, which is not supported",
							message->fields[f].name, message->full_name)));
		taken[f] = true;
		column->attnum = attnums[i];
		column->name = pstrdup(NameStr(attr->attname));
		column->field = &message->fields[f];
		column->typid = attr->atttypid;
		plan->ncolumns++;
	}
	state->plans = lappend(state->plans, plan);
	MemoryContextSwitchTo(oldcontext);
	return plan;
}

static PbEncodePlan *
composite_plan(PbEncodeState *state, const PbMessage *message, Oid typid,
			   int32 typmod, TupleDesc *desc_out)
{
	TupleDesc	desc = lookup_rowtype_tupdesc(typid, typmod);
	ListCell   *lc;
	PbEncodePlan *plan = NULL;
	int		   *attnums;

	*desc_out = desc;
	foreach(lc, state->plans)
	{
		PbEncodePlan *candidate = lfirst(lc);

		if (candidate->message == message && candidate->typid == typid &&
			typid != RECORDOID)
			return candidate;
	}
	attnums = palloc(sizeof(int) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
		attnums[i] = i;
	plan = make_plan(state, message, desc, attnums, desc->natts, typid);
	pfree(attnums);
	return plan;
}

static void
encode_columns(PbEncodeState *state, PbEncodePlan *plan, Datum *values,
			   bool *nulls, StringInfo out, int depth)
{
	for (int i = 0; i < plan->ncolumns; i++)
	{
		PbEncodeColumn *column = &plan->columns[i];

		if (nulls[column->attnum])
			continue;
		encode_field_value(state, column->field, values[column->attnum],
						   column->typid, out, depth);
	}
}

/* ---- messages from values ----------------------------------------------- */

static void
append_seconds_nanos(StringInfo out, int64 seconds, int32 nanos)
{
	if (seconds != 0)
	{
		append_tag(out, 1, PB_WIRE_VARINT);
		append_varint(out, (uint64) seconds);
	}
	if (nanos != 0)
	{
		append_tag(out, 2, PB_WIRE_VARINT);
		append_varint(out, (uint64) (int64) nanos);
	}
}

static void
timestamp_message(StringInfo out, Timestamp ts)
{
	int64		micros = ts + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
	int64		seconds = micros / USECS_PER_SEC;
	int64		rest = micros % USECS_PER_SEC;

	if (rest < 0)
	{
		rest += USECS_PER_SEC;
		seconds--;
	}
	append_seconds_nanos(out, seconds, (int32) (rest * 1000));
}

static void
duration_message(StringInfo out, const Interval *interval)
{
	int64		micros = interval->time;
	int64		seconds;
	int64		rest;

	seconds = micros / USECS_PER_SEC + (int64) interval->day * SECS_PER_DAY +
		(int64) interval->month * DAYS_PER_MONTH * SECS_PER_DAY;
	rest = micros % USECS_PER_SEC;
	/* seconds and nanos share their sign */
	if (seconds > 0 && rest < 0)
	{
		seconds--;
		rest += USECS_PER_SEC;
	}
	else if (seconds < 0 && rest > 0)
	{
		seconds++;
		rest -= USECS_PER_SEC;
	}
	append_seconds_nanos(out, seconds, (int32) (rest * 1000));
}

/* The body of a message-typed field from a value of typid. */
static void
encode_message_body(PbEncodeState *state, const PbMessage *message,
					Datum value, Oid typid, StringInfo out, int depth)
{
	if (depth > PB_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value nested too deeply for Protobuf (more than %d levels)",
						PB_MAX_DEPTH)));
	check_stack_depth();
	if (typid == JSONBOID || typid == JSONOID)
	{
		char	   *text = value_text(value, typid);
		char	   *utf8 = pg_server_to_any(text, strlen(text), PG_UTF8);
		json_error_t json_error;
		json_t	   *json = json_loads(utf8, JSON_DECODE_ANY | JSON_ALLOW_NUL,
									  &json_error);

		if (json == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("cannot encode JSON as Protobuf message \"%s\": %s",
							message->full_name, json_error.text)));
		PG_TRY();
		{
			encode_json_message(state, message, json, out, depth);
		}
		PG_FINALLY();
		{
			json_decref(json);
		}
		PG_END_TRY();
		return;
	}
	switch (message->well_known)
	{
		case PB_WKT_TIMESTAMP:
			if (typid == TIMESTAMPTZOID || typid == TIMESTAMPOID)
			{
				Timestamp	ts = DatumGetTimestamp(value);

				if (TIMESTAMP_NOT_FINITE(ts))
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("cannot encode an infinite timestamp as google.protobuf.Timestamp")));
				timestamp_message(out, ts);
				return;
			}
			if (typid == DATEOID)
			{
				DateADT		date = DatumGetDateADT(value);

				if (DATE_NOT_FINITE(date))
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("cannot encode an infinite date as google.protobuf.Timestamp")));
				timestamp_message(out, (Timestamp) date * USECS_PER_DAY);
				return;
			}
			timestamp_message(out,
							  DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																	  CStringGetDatum(value_text(value, typid)),
																	  ObjectIdGetDatum(InvalidOid),
																	  Int32GetDatum(-1))));
			return;
		case PB_WKT_DURATION:
			if (typid == INTERVALOID)
				duration_message(out, DatumGetIntervalP(value));
			else
				duration_message(out,
								 DatumGetIntervalP(DirectFunctionCall3(interval_in,
																	   CStringGetDatum(value_text(value, typid)),
																	   ObjectIdGetDatum(InvalidOid),
																	   Int32GetDatum(-1))));
			return;
		case PB_WKT_WRAPPER:
			encode_field_value(state, &message->fields[0], value, typid, out,
							   depth + 1);
			return;
		default:
			break;
	}
	if (type_is_rowtype(typid))
	{
		HeapTupleHeader header = DatumGetHeapTupleHeader(value);
		TupleDesc	desc;
		PbEncodePlan *plan = composite_plan(state, message,
											HeapTupleHeaderGetTypeId(header),
											HeapTupleHeaderGetTypMod(header),
											&desc);
		Datum	   *values = palloc(sizeof(Datum) * Max(desc->natts, 1));
		bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, 1));

		kafka_deform_composite(header, desc, values, nulls);
		ReleaseTupleDesc(desc);
		encode_columns(state, plan, values, nulls, out, depth + 1);
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("cannot encode a value of type %s as Protobuf message \"%s\"",
					format_type_be(typid), message->full_name),
			 errhint("Use a composite type with the message's fields, or jsonb.")));
}

/* Tag and value of one (non-repeated) value of field. */
static void
encode_single(PbEncodeState *state, const PbField *field, Datum value,
			  Oid typid, StringInfo out, int depth)
{
	switch (field->type)
	{
		case PB_STRING:
			append_tag(out, field->number, PB_WIRE_LEN);
			append_utf8_text(out, value, typid);
			return;
		case PB_BYTES:
			append_tag(out, field->number, PB_WIRE_LEN);
			if (typid == BYTEAOID)
			{
				bytea	   *b = DatumGetByteaPP(value);

				append_length_delimited(out, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			}
			else
				append_utf8_text(out, value, typid);
			return;
		case PB_MESSAGE:
			{
				StringInfoData body;

				initStringInfo(&body);
				encode_message_body(state, field->message, value, typid, &body,
									depth + 1);
				append_tag(out, field->number, PB_WIRE_LEN);
				append_length_delimited(out, body.data, body.len);
				pfree(body.data);
				return;
			}
		default:
			append_tag(out, field->number, pb_wire_type(field->type));
			append_scalar_bits(out, field->type, scalar_bits(field, value, typid));
	}
}

static void
encode_field_value(PbEncodeState *state, const PbField *field, Datum value,
				   Oid typid, StringInfo out, int depth)
{
	Oid			element_type;

	if (!field->repeated)
	{
		encode_single(state, field, value, typid, out, depth);
		return;
	}
	if (typid == JSONBOID || typid == JSONOID)
	{
		char	   *text = value_text(value, typid);
		char	   *utf8 = pg_server_to_any(text, strlen(text), PG_UTF8);
		json_error_t json_error;
		json_t	   *json = json_loads(utf8, JSON_DECODE_ANY | JSON_ALLOW_NUL,
									  &json_error);

		if (json == NULL)
			cannot_encode(field, json_error.text);
		PG_TRY();
		{
			encode_json_field(state, field, json, out, depth);
		}
		PG_FINALLY();
		{
			json_decref(json);
		}
		PG_END_TRY();
		return;
	}
	element_type = get_element_type(typid);
	if (!OidIsValid(element_type) || (field->message && field->message->map_entry))
		cannot_encode(field, psprintf("a repeated field needs an array or jsonb, not %s",
									  format_type_be(typid)));
	{
		ArrayType  *array = DatumGetArrayTypeP(value);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elements;
		bool	   *element_nulls;
		int			n;
		StringInfoData packed;

		get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
		deconstruct_array(array, element_type, typlen, typbyval, typalign,
						  &elements, &element_nulls, &n);
		if (field->packed)
			initStringInfo(&packed);
		for (int i = 0; i < n; i++)
		{
			if (element_nulls[i])
				cannot_encode(field, "a repeated field cannot hold NULL");
			if (field->packed)
				append_scalar_bits(&packed, field->type,
								   scalar_bits(field, elements[i], element_type));
			else
				encode_single(state, field, elements[i], element_type, out, depth);
		}
		if (field->packed && n > 0)
		{
			append_tag(out, field->number, PB_WIRE_LEN);
			append_length_delimited(out, packed.data, packed.len);
		}
	}
}

/* ---- messages from JSON ------------------------------------------------- */

static const char *
json_kind(json_t *json)
{
	switch (json_typeof(json))
	{
		case JSON_OBJECT:
			return "an object";
		case JSON_ARRAY:
			return "an array";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
		case JSON_REAL:
			return "a number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		default:
			return "null";
	}
}

static void
json_mismatch(const PbField *field, json_t *json)
{
	cannot_encode(field, psprintf("JSON %s does not fit", json_kind(json)));
}

/* A JSON scalar as the wire bits of a scalar field. */
static uint64
json_scalar_bits(const PbField *field, json_t *json)
{
	switch (field->type)
	{
		case PB_DOUBLE:
		case PB_FLOAT:
			if (json_is_number(json))
				return double_bits(field, json_number_value(json));
			if (json_is_string(json))
				return double_bits(field,
								   DatumGetFloat8(DirectFunctionCall1(float8in,
																	  CStringGetDatum(json_string_value(json)))));
			break;
		case PB_BOOL:
			if (json_is_boolean(json))
				return json_is_true(json) ? 1 : 0;
			break;
		case PB_ENUM:
			if (json_is_integer(json))
			{
				json_int_t v = json_integer_value(json);

				if (v < PG_INT32_MIN || v > PG_INT32_MAX)
					cannot_encode(field, "value out of range");
				return (uint64) (int64) v;
			}
			if (json_is_string(json))
				return (uint64) (int64) enum_number(field, json_string_value(json));
			break;
		default:
			if (json_is_integer(json))
				return integer_bits(field, json_integer_value(json), false);
			if (json_is_real(json))
			{
				double		d = json_real_value(json);

				if (d != floor(d) || d < -9.3e18 || d > 1.85e19)
					cannot_encode(field, "not an integer");
				if (d >= 9.2e18)
					return integer_bits(field, (int64) (uint64) d, true);
				return integer_bits(field, (int64) d, false);
			}
			if (json_is_string(json))
				return integer_bits_from_text(field, json_string_value(json));
			break;
	}
	json_mismatch(field, json);
	return 0;
}

static void
append_json_string_bytes(const PbField *field, json_t *json, StringInfo out)
{
	if (!json_is_string(json))
		json_mismatch(field, json);
	if (field->type == PB_BYTES)
	{
		const char *text = json_string_value(json);
		int			len = (int) json_string_length(json);
		int			decoded_len = pg_b64_dec_len(len);
		char	   *decoded = palloc(decoded_len + 1);

		decoded_len = pg_b64_decode(text, len, decoded, decoded_len);
		if (decoded_len < 0)
			cannot_encode(field, "invalid base64");
		append_length_delimited(out, decoded, decoded_len);
		return;
	}
	append_length_delimited(out, json_string_value(json),
							(int) json_string_length(json));
}

/* One JSON value of field (one element of a repeated one), with its tag. */
static void
encode_json_single(PbEncodeState *state, const PbField *field, json_t *json,
				   StringInfo out, int depth)
{
	if (field->type == PB_MESSAGE)
	{
		StringInfoData body;

		initStringInfo(&body);
		encode_json_message(state, field->message, json, &body, depth + 1);
		append_tag(out, field->number, PB_WIRE_LEN);
		append_length_delimited(out, body.data, body.len);
		pfree(body.data);
		return;
	}
	if (field->type == PB_STRING || field->type == PB_BYTES)
	{
		append_tag(out, field->number, PB_WIRE_LEN);
		append_json_string_bytes(field, json, out);
		return;
	}
	append_tag(out, field->number, pb_wire_type(field->type));
	append_scalar_bits(out, field->type, json_scalar_bits(field, json));
}

static void
encode_json_field(PbEncodeState *state, const PbField *field, json_t *json,
				  StringInfo out, int depth)
{
	if (json_is_null(json) &&
		!(field->type == PB_MESSAGE && field->message->well_known == PB_WKT_VALUE))
		return;
	if (field->repeated && field->message && field->message->map_entry)
	{
		const PbMessage *entry = field->message;
		const char *key;
		json_t	   *member;

		if (!json_is_object(json))
			json_mismatch(field, json);
		json_object_foreach(json, key, member)
		{
			StringInfoData body;
			json_t	   *key_json;

			initStringInfo(&body);
			/* keys are strings in JSON, whatever the key type */
			if (entry->fields[0].type == PB_STRING)
				key_json = json_string(key);
			else if (entry->fields[0].type == PB_BOOL)
				key_json = strcmp(key, "true") == 0 ? json_true() : json_false();
			else
				key_json = json_string(key);
			encode_json_single(state, &entry->fields[0], key_json, &body, depth + 1);
			json_decref(key_json);
			encode_json_field(state, &entry->fields[1], member, &body, depth + 1);
			append_tag(out, field->number, PB_WIRE_LEN);
			append_length_delimited(out, body.data, body.len);
			pfree(body.data);
		}
		return;
	}
	if (field->repeated)
	{
		size_t		index;
		json_t	   *element;
		StringInfoData packed;

		if (!json_is_array(json))
			json_mismatch(field, json);
		if (field->packed)
			initStringInfo(&packed);
		json_array_foreach(json, index, element)
		{
			if (field->packed)
				append_scalar_bits(&packed, field->type,
								   json_scalar_bits(field, element));
			else
				encode_json_single(state, field, element, out, depth);
		}
		if (field->packed && json_array_size(json) > 0)
		{
			append_tag(out, field->number, PB_WIRE_LEN);
			append_length_delimited(out, packed.data, packed.len);
		}
		return;
	}
	encode_json_single(state, field, json, out, depth);
}

/* "1.5s" */
static void
duration_from_json(const PbMessage *message, json_t *json, StringInfo out)
{
	const char *text;
	char	   *end;
	double		seconds;

	if (!json_is_string(json))
		json_mismatch(&message->fields[0], json);
	text = json_string_value(json);
	errno = 0;
	seconds = strtod(text, &end);
	if (errno != 0 || end == text || strcmp(end, "s") != 0 ||
		fabs(seconds) > 315576000000.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid google.protobuf.Duration \"%s\"", text),
				 errhint("Write seconds with an \"s\", e.g. \"1.5s\".")));
	{
		int64		whole = (int64) seconds;
		int32		nanos = (int32) llround((seconds - (double) whole) * 1e9);

		append_seconds_nanos(out, whole, nanos);
	}
}

/* An Any's members but "@type", as the message they are. */
static void
encode_any_members(PbEncodeState *state, const PbMessage *inner, json_t *json,
				   StringInfo out, int depth)
{
	json_t	   *copy = json_copy(json);

	json_object_del(copy, "@type");
	PG_TRY();
	{
		encode_json_message(state, inner, copy, out, depth);
	}
	PG_FINALLY();
	{
		json_decref(copy);
	}
	PG_END_TRY();
}

static void
encode_json_message(PbEncodeState *state, const PbMessage *message,
					json_t *json, StringInfo out, int depth)
{
	const char *key;
	json_t	   *member;

	if (depth > PB_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value nested too deeply for Protobuf (more than %d levels)",
						PB_MAX_DEPTH)));
	check_stack_depth();
	switch (message->well_known)
	{
		case PB_WKT_TIMESTAMP:
			if (!json_is_string(json))
				json_mismatch(&message->fields[0], json);
			timestamp_message(out,
							  DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																	  CStringGetDatum(json_string_value(json)),
																	  ObjectIdGetDatum(InvalidOid),
																	  Int32GetDatum(-1))));
			return;
		case PB_WKT_DURATION:
			duration_from_json(message, json, out);
			return;
		case PB_WKT_WRAPPER:
			encode_json_field(state, &message->fields[0], json, out, depth + 1);
			return;
		case PB_WKT_STRUCT:
			if (!json_is_object(json))
				json_mismatch(&message->fields[0], json);
			encode_json_field(state, &message->fields[0], json, out, depth + 1);
			return;
		case PB_WKT_LIST_VALUE:
			if (!json_is_array(json))
				json_mismatch(&message->fields[0], json);
			encode_json_field(state, &message->fields[0], json, out, depth + 1);
			return;
		case PB_WKT_VALUE:
			switch (json_typeof(json))
			{
				case JSON_NULL:
					append_tag(out, 1, PB_WIRE_VARINT);
					append_varint(out, 0);
					return;
				case JSON_INTEGER:
				case JSON_REAL:
					append_tag(out, 2, PB_WIRE_FIXED64);
					append_scalar_bits(out, PB_DOUBLE,
									   double_bits(&message->fields[1],
												   json_number_value(json)));
					return;
				case JSON_STRING:
					append_tag(out, 3, PB_WIRE_LEN);
					append_length_delimited(out, json_string_value(json),
											(int) json_string_length(json));
					return;
				case JSON_TRUE:
				case JSON_FALSE:
					append_tag(out, 4, PB_WIRE_VARINT);
					append_varint(out, json_is_true(json) ? 1 : 0);
					return;
				case JSON_OBJECT:
					encode_json_single(state, &message->fields[4], json, out, depth);
					return;
				case JSON_ARRAY:
					encode_json_single(state, &message->fields[5], json, out, depth);
					return;
			}
			return;
		case PB_WKT_ANY:
			{
				json_t	   *type = json_is_object(json) ?
					json_object_get(json, "@type") : NULL;
				const char *url;
				const char *slash;
				PbMessage  *inner;
				StringInfoData body;

				if (type == NULL || !json_is_string(type))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("google.protobuf.Any needs a JSON object with \"@type\"")));
				url = json_string_value(type);
				slash = strrchr(url, '/');
				inner = pb_schema_message(state->schema, slash ? slash + 1 : url);
				if (inner == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("google.protobuf.Any of type \"%s\", which the descriptor set does not define",
									url)));
				initStringInfo(&body);
				if (inner->well_known != PB_WKT_NONE)
				{
					json_t	   *value = json_object_get(json, "value");

					if (value != NULL)
						encode_json_message(state, inner, value, &body, depth + 1);
				}
				else
				{
					encode_any_members(state, inner, json, &body, depth + 1);
				}
				append_tag(out, 1, PB_WIRE_LEN);
				append_length_delimited(out, url, strlen(url));
				append_tag(out, 2, PB_WIRE_LEN);
				append_length_delimited(out, body.data, body.len);
				return;
			}
		default:
			break;
	}
	if (!json_is_object(json))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot encode JSON %s as Protobuf message \"%s\"",
						json_kind(json), message->full_name),
				 errhint("A message is written as a JSON object.")));
	json_object_foreach(json, key, member)
	{
		const PbField *field = NULL;

		for (int f = 0; f < message->nfields; f++)
			if (strcmp(message->fields[f].name, key) == 0)
				field = &message->fields[f];
		if (field == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("Protobuf message \"%s\" has no field \"%s\"",
							message->full_name, key)));
		if (field->type == PB_GROUP)
			cannot_encode(field, "groups are not supported");
		encode_json_field(state, field, member, out, depth + 1);
	}
}

/* ---- the codec interface ------------------------------------------------ */

static bool
pb_encode(KafkaEncoder *encoder, Datum *values, bool *nulls, StringInfo out)
{
	PbEncodeState *state = encoder->format_state;

	if (state->single_value)
	{
		int			attnum;

		if (encoder->npayload == 0)
			return true;
		attnum = encoder->payload_attnums[0];
		if (nulls[attnum])
			return false;		/* no value: a tombstone */
		if (state->framed)
			pb_append_frame(out, state->schema_id, state->indexes,
							state->nindexes);
		encode_message_body(state, state->message, values[attnum],
							state->top->columns[0].typid, out, 0);
		return true;
	}
	if (state->framed)
		pb_append_frame(out, state->schema_id, state->indexes, state->nindexes);
	encode_columns(state, state->top, values, nulls, out, 0);
	return true;
}

/*
 * With the Schema Registry: the latest schema of the subject and its
 * message protobuf_message (protobuf_key_message for keys; by default the
 * file's first), as Confluent's serializer with use.latest.version.  Nothing
 * is registered: a .proto text cannot be written from a descriptor.
 */
static void
registry_message(PbEncodeState *state, const KafkaCodecOptions *options)
{
	KafkaRegistry *registry;
	KafkaRegistrySchema *latest;
	const char *name = pb_registry_message_option(options);
	char	   *error;

	if (options->subject == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("format 'protobuf' with the schema registry needs a subject to write under"),
				 errhint("Set the table option \"protobuf_descriptor_file\", or give the table a topic.")));
	registry = kafka_registry_for_server(options->server_name,
										 OidIsValid(options->userid) ?
										 options->userid : GetUserId());
	latest = kafka_registry_subject_version(registry, options->subject, -1,
											"format=serialized");
	if (latest == NULL || latest->schema == NULL || latest->id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("subject \"%s\" is not in the schema registry of server \"%s\"",
						options->subject, registry->server_name),
				 errhint("Register the .proto of the %s under \"%s\" first: format 'protobuf' writes with the subject's latest schema and does not register one.",
						 options->key ? "keys" : "values", options->subject)));
	/* the cached answer of the id: its schema is loaded once per backend */
	state->schema = pb_registry_schema_by_id(registry, latest->id, &error);
	if (state->schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot write Protobuf under subject \"%s\": %s",
						options->subject, error)));
	if (name != NULL)
	{
		state->message = pb_schema_message(state->schema, name);
		if (state->message == NULL ||
			!pb_schema_message_indexes(state->schema, state->message,
									   state->indexes, PB_MAX_MESSAGE_INDEXES,
									   &state->nindexes))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("message type \"%s\" is not in the latest schema of subject \"%s\" (schema id %d)",
							name, options->subject, latest->id),
					 errhint("Give the full name with its package, e.g. 'shop.Order', of a message of that .proto file.")));
	}
	else
	{
		if (state->schema->nfile_messages == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the latest schema of subject \"%s\" (schema id %d) defines no message",
							options->subject, latest->id)));
		state->message = state->schema->file_messages[0].message;
		state->indexes[0] = 0;
		state->nindexes = 1;
	}
	state->framed = true;
	state->schema_id = latest->id;
}

void
kafka_protobuf_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
							const KafkaCodecOptions *options)
{
	PbEncodeState *state = palloc0(sizeof(PbEncodeState));

	state->mcxt = encoder->mcxt;
	if (pb_uses_registry(options))
		registry_message(state, options);
	else
		state->message = pb_message_from_options(options, &state->schema,
												 encoder->mcxt);
	state->single_value = options->single_value;
	if (state->single_value)
	{
		state->top = palloc0(sizeof(PbEncodePlan));
		state->top->message = state->message;
		state->top->columns = palloc0(sizeof(PbEncodeColumn));
		if (encoder->npayload > 0)
		{
			state->top->ncolumns = 1;
			state->top->columns[0].attnum = encoder->payload_attnums[0];
			state->top->columns[0].typid =
				TupleDescAttr(desc, encoder->payload_attnums[0])->atttypid;
		}
	}
	else
		state->top = make_plan(state, state->message, desc,
							   encoder->payload_attnums, encoder->npayload,
							   InvalidOid);
	encoder->format_state = state;
	encoder->encode = pb_encode;
}
