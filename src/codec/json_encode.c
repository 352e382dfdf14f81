/*-------------------------------------------------------------------------
 *
 * json_encode.c
 *	  Rows to compact JSON (UTF-8): the produce path of format 'json' and
 *	  kafka.to_json.
 *
 * The output is what PostgreSQL's to_json writes, without blanks, with
 * these choices for the wire:
 *	- every payload column is written, NULL as null, in column order;
 *	- numbers are JSON numbers; NaN and infinities are strings, as in to_json;
 *	- timestamptz is written in UTC ("2024-05-01T12:00:00+00:00") so the
 *	  payload does not depend on the session's TimeZone; timestamp and date
 *	  are ISO 8601 without an offset;
 *	- json is written as stored, jsonb compactly, arrays as (nested) JSON
 *	  arrays, composites as objects;
 *	- any other type is a JSON string of its text output (bytea gives
 *	  "\\x..." as to_json does).
 *
 * What to write for each type is worked out once, when the encoder is
 * created, not per value.
 *
 * IDENTIFICATION
 *	  src/codec/json_encode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "codec/codec_internal.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

typedef enum JsonWriterKind
{
	WRITE_INT2,
	WRITE_INT4,
	WRITE_INT8,
	WRITE_FLOAT8,
	WRITE_NUMBER_TEXT,			/* float4: output text, a number unless NaN
								 * or infinite */
	WRITE_NUMERIC,				/* digits read from the datum; else as float4 */
	WRITE_BOOL,
	WRITE_STRING,				/* text, varchar, bpchar */
	WRITE_JSON,
	WRITE_JSONB,
	WRITE_DATETIME,
	WRITE_ARRAY,
	WRITE_COMPOSITE,
	WRITE_RECORD,				/* anonymous record: row type per value */
	WRITE_OTHER					/* output function text as a JSON string */
} JsonWriterKind;

struct KafkaJsonWriter
{
	JsonWriterKind kind;
	Oid			typid;			/* after domains */
	FmgrInfo	output_function;

	/* arrays */
	KafkaJsonWriter *element;
	int16		element_length;
	bool		element_byval;
	char		element_align;

	/* composites */
	TupleDesc	desc;
	KafkaJsonWriter **fields;	/* NULL for dropped columns */
	char	  **keys;			/* "name": ready to append */
	int		   *key_lengths;
	Datum	   *values;
	bool	   *nulls;
};

typedef struct JsonEncoderState
{
	KafkaJsonWriter **writers;
	char	  **prefixes;		/* '{' or ',' and "name": ready to append */
	int		   *prefix_lengths;
} JsonEncoderState;

static void write_value(StringInfo out, KafkaJsonWriter *writer, Datum value);

/*
 * enlargeStringInfo's test, inline: the writers append a few bytes at a
 * time, and the calls cost more than the copies.
 */
static inline void
reserve(StringInfo out, int needed)
{
	if (unlikely(needed >= out->maxlen - out->len))
		enlargeStringInfo(out, needed);
}

static inline void
append_bytes(StringInfo out, const char *data, int len)
{
	reserve(out, len);
	memcpy(out->data + out->len, data, len);
	out->len += len;
	out->data[out->len] = '\0';
}

/* A JSON string from server-encoded text; escapes as escape_json does. */
static void
append_json_string(StringInfo out, const char *text, int len)
{
	const char *p = text;
	const char *end = text + len;

	appendStringInfoCharMacro(out, '"');
	while (p < end)
	{
		const char *run = p;

		while (p < end && (unsigned char) *p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			append_bytes(out, run, (int) (p - run));
		if (p >= end)
			break;
		switch (*p)
		{
			case '"':
				appendStringInfoString(out, "\\\"");
				break;
			case '\\':
				appendStringInfoString(out, "\\\\");
				break;
			case '\b':
				appendStringInfoString(out, "\\b");
				break;
			case '\f':
				appendStringInfoString(out, "\\f");
				break;
			case '\n':
				appendStringInfoString(out, "\\n");
				break;
			case '\r':
				appendStringInfoString(out, "\\r");
				break;
			case '\t':
				appendStringInfoString(out, "\\t");
				break;
			default:
				appendStringInfo(out, "\\u%04x", (unsigned char) *p);
				break;
		}
		p++;
	}
	appendStringInfoCharMacro(out, '"');
}

/* "name": after separator (if not '\0'); its length in *length */
static char *
json_key(char separator, const char *name, int *length)
{
	StringInfoData key;

	initStringInfo(&key);
	if (separator != '\0')
		appendStringInfoChar(&key, separator);
	append_json_string(&key, name, strlen(name));
	appendStringInfoChar(&key, ':');
	*length = key.len;
	return key.data;
}

static void prepare_composite(KafkaJsonWriter *writer, TupleDesc desc,
							  MemoryContext mcxt);

KafkaJsonWriter *
kafka_json_writer_create(Oid typid, int32 typmod, MemoryContext mcxt)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(mcxt);
	KafkaJsonWriter *writer = palloc0(sizeof(KafkaJsonWriter));
	Oid			base_type = getBaseType(typid);
	Oid			output_function;
	bool		is_varlena;
	Oid			element_type;

	writer->typid = base_type;
	getTypeOutputInfo(base_type, &output_function, &is_varlena);
	fmgr_info_cxt(output_function, &writer->output_function, mcxt);

	switch (base_type)
	{
		case INT2OID:
			writer->kind = WRITE_INT2;
			break;
		case INT4OID:
			writer->kind = WRITE_INT4;
			break;
		case INT8OID:
			writer->kind = WRITE_INT8;
			break;
		case FLOAT8OID:
			writer->kind = WRITE_FLOAT8;
			break;
		case FLOAT4OID:
			writer->kind = WRITE_NUMBER_TEXT;
			break;
		case NUMERICOID:
			writer->kind = WRITE_NUMERIC;
			break;
		case BOOLOID:
			writer->kind = WRITE_BOOL;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			writer->kind = WRITE_STRING;
			break;
		case JSONOID:
			writer->kind = WRITE_JSON;
			break;
		case JSONBOID:
			writer->kind = WRITE_JSONB;
			break;
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			writer->kind = WRITE_DATETIME;
			break;
		case RECORDOID:
			if (typmod >= 0)
			{
				writer->kind = WRITE_COMPOSITE;
				prepare_composite(writer,
								  lookup_rowtype_tupdesc_copy(RECORDOID, typmod),
								  mcxt);
			}
			else
				writer->kind = WRITE_RECORD;
			break;
		default:
			element_type = get_element_type(base_type);
			if (OidIsValid(element_type))
			{
				writer->kind = WRITE_ARRAY;
				writer->element = kafka_json_writer_create(element_type, -1,
														   mcxt);
				get_typlenbyvalalign(element_type, &writer->element_length,
									 &writer->element_byval,
									 &writer->element_align);
			}
			else if (get_typtype(base_type) == TYPTYPE_COMPOSITE)
			{
				writer->kind = WRITE_COMPOSITE;
				prepare_composite(writer,
								  lookup_rowtype_tupdesc_copy(base_type, -1),
								  mcxt);
			}
			else
				writer->kind = WRITE_OTHER;
			break;
	}
	MemoryContextSwitchTo(oldcontext);
	return writer;
}

static void
prepare_composite(KafkaJsonWriter *writer, TupleDesc desc, MemoryContext mcxt)
{
	int			natts = Max(desc->natts, 1);

	writer->desc = desc;
	writer->fields = palloc0(sizeof(KafkaJsonWriter *) * natts);
	writer->keys = palloc0(sizeof(char *) * natts);
	writer->key_lengths = palloc0(sizeof(int) * natts);
	writer->values = palloc(sizeof(Datum) * natts);
	writer->nulls = palloc(sizeof(bool) * natts);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);

		if (attr->attisdropped)
			continue;
		writer->fields[i] = kafka_json_writer_create(attr->atttypid,
													 attr->atttypmod, mcxt);
		writer->keys[i] = json_key('\0', NameStr(attr->attname),
								   &writer->key_lengths[i]);
	}
}

/* A number from its text output, or a string for NaN and infinities. */
static void
append_number_text(StringInfo out, const char *text)
{
	const char *digits = (*text == '-') ? text + 1 : text;
	int			length = strlen(text);

	if (*digits >= '0' && *digits <= '9')
		append_bytes(out, text, length);
	else
		append_json_string(out, text, length);
}

/*
 * numeric_out's text for a finite numeric, read straight from PostgreSQL's
 * on-disk numeric format (fixed since 9.1, as pg_upgrade requires): a uint16
 * header (short form: sign, display scale, weight in one; long form: sign
 * and display scale, then an int16 weight), then base-10000 digits, the
 * first of weight + 1 of them before the decimal point.  false for NaN and
 * the infinities, left to numeric_out.
 */
#define NUMERIC_BASE_DIGITS	4
#define NUMERIC_FORM_MASK	0xC000
#define NUMERIC_FORM_NEG	0x4000
#define NUMERIC_FORM_SHORT	0x8000
#define NUMERIC_FORM_SPECIAL 0xC000
#define NUMERIC_SHORT_NEG	0x2000
#define NUMERIC_SHORT_DSCALE_MASK 0x1F80
#define NUMERIC_SHORT_DSCALE_SHIFT 7
#define NUMERIC_SHORT_WEIGHT_NEG 0x0040
#define NUMERIC_SHORT_WEIGHT_MASK 0x003F
#define NUMERIC_LONG_DSCALE_MASK 0x3FFF

static inline int
numeric_digit(const char *digits, int i)
{
	int16		digit;

	memcpy(&digit, digits + i * sizeof(int16), sizeof(int16));
	return digit;
}

static bool
append_fast_numeric(StringInfo out, Datum value)
{
	struct varlena *num = PG_DETOAST_DATUM_PACKED(value);
	const char *data = VARDATA_ANY(num);
	int			size = VARSIZE_ANY_EXHDR(num);
	uint16		header;
	int16		weight;
	int			dscale;
	bool		negative;
	const char *digits;
	int			ndigits;
	int			d;
	char	   *p;

	if (size < (int) sizeof(uint16))
		return false;
	memcpy(&header, data, sizeof(uint16));
	if ((header & NUMERIC_FORM_MASK) == NUMERIC_FORM_SPECIAL)
		return false;
	if ((header & NUMERIC_FORM_MASK) == NUMERIC_FORM_SHORT)
	{
		negative = (header & NUMERIC_SHORT_NEG) != 0;
		dscale = (header & NUMERIC_SHORT_DSCALE_MASK) >> NUMERIC_SHORT_DSCALE_SHIFT;
		weight = (header & NUMERIC_SHORT_WEIGHT_MASK);
		if (header & NUMERIC_SHORT_WEIGHT_NEG)
			weight |= ~NUMERIC_SHORT_WEIGHT_MASK;
		data += sizeof(uint16);
		size -= sizeof(uint16);
	}
	else
	{
		if (size < (int) (sizeof(uint16) + sizeof(int16)))
			return false;
		negative = (header & NUMERIC_FORM_MASK) == NUMERIC_FORM_NEG;
		dscale = header & NUMERIC_LONG_DSCALE_MASK;
		memcpy(&weight, data + sizeof(uint16), sizeof(int16));
		data += sizeof(uint16) + sizeof(int16);
		size -= sizeof(uint16) + sizeof(int16);
	}
	if (size % sizeof(int16) != 0)
		return false;
	digits = data;				/* unaligned in a packed (1-byte header) datum */
	ndigits = size / sizeof(int16);

	reserve(out, (Max(weight, 0) + 1) * NUMERIC_BASE_DIGITS + dscale + NUMERIC_BASE_DIGITS + 2);
	p = out->data + out->len;
	if (negative)
		*p++ = '-';
	if (weight < 0)
	{
		d = weight + 1;
		*p++ = '0';
	}
	else
	{
		for (d = 0; d <= weight; d++)
		{
			int			digit = d < ndigits ? numeric_digit(digits, d) : 0;

			if (digit < 0 || digit > 9999)
				return false;
			/* no leading zeros in the first group */
			if (d > 0 || digit >= 1000)
				*p++ = '0' + digit / 1000;
			if (d > 0 || digit >= 100)
				*p++ = '0' + digit / 100 % 10;
			if (d > 0 || digit >= 10)
				*p++ = '0' + digit / 10 % 10;
			*p++ = '0' + digit % 10;
		}
	}
	if (dscale > 0)
	{
		char	   *end;
		int			i;

		*p++ = '.';
		end = p + dscale;
		for (i = 0; i < dscale; d++, i += NUMERIC_BASE_DIGITS)
		{
			int			digit = (d >= 0 && d < ndigits) ? numeric_digit(digits, d) : 0;

			if (digit < 0 || digit > 9999)
				return false;
			p[0] = '0' + digit / 1000;
			p[1] = '0' + digit / 100 % 10;
			p[2] = '0' + digit / 10 % 10;
			p[3] = '0' + digit % 10;
			p += NUMERIC_BASE_DIGITS;
		}
		p = end;
	}
	out->len = p - out->data;
	out->data[out->len] = '\0';
	return true;
}

/* value as width digits, zero-padded (value < 10^width) */
static inline char *
put_digits(char *p, int value, int width)
{
	int			i;

	for (i = width - 1; i >= 0; i--)
	{
		p[i] = '0' + value % 10;
		value /= 10;
	}
	return p + width;
}

/*
 * The ISO 8601 text JsonEncodeDateTime gives (XSD style, timestamptz in UTC)
 * for dates and timestamps of years 1 to 9999, the common case, without
 * going through struct pg_tm; false for anything else.
 */
static bool
append_fast_datetime(StringInfo out, Oid typid, Datum value)
{
	int64		days;
	int64		usecs = 0;
	int			year,
				month,
				day;
	char	   *p;

	if (typid == DATEOID)
	{
		DateADT		date = DatumGetDateADT(value);

		if (DATE_NOT_FINITE(date))
			return false;
		days = date;
	}
	else if (typid == TIMESTAMPOID || typid == TIMESTAMPTZOID)
	{
		Timestamp	timestamp = DatumGetTimestamp(value);

		if (TIMESTAMP_NOT_FINITE(timestamp))
			return false;
		days = timestamp / USECS_PER_DAY;
		usecs = timestamp % USECS_PER_DAY;
		if (usecs < 0)
		{
			usecs += USECS_PER_DAY;
			days--;
		}
	}
	else
		return false;
	/* years 1 to 9999: four digits, no BC */
	if (days < -730119 || days > 2921939)
		return false;
	j2date((int) (days + POSTGRES_EPOCH_JDATE), &year, &month, &day);
	if (year < 1 || year > 9999)
		return false;

	reserve(out, 40);
	p = out->data + out->len;
	*p++ = '"';
	p = put_digits(p, year, 4);
	*p++ = '-';
	p = put_digits(p, month, 2);
	*p++ = '-';
	p = put_digits(p, day, 2);
	if (typid != DATEOID)
	{
		int			seconds = (int) (usecs / USECS_PER_SEC);
		int			fraction = (int) (usecs % USECS_PER_SEC);

		*p++ = 'T';
		p = put_digits(p, seconds / 3600, 2);
		*p++ = ':';
		p = put_digits(p, seconds / 60 % 60, 2);
		*p++ = ':';
		p = put_digits(p, seconds % 60, 2);
		if (fraction != 0)
		{
			int			digits = 6;

			/* no trailing zeros */
			while (fraction % 10 == 0)
			{
				fraction /= 10;
				digits--;
			}
			*p++ = '.';
			p = put_digits(p, fraction, digits);
		}
		if (typid == TIMESTAMPTZOID)
		{
			memcpy(p, "+00:00", 6);
			p += 6;
		}
	}
	*p++ = '"';
	out->len = p - out->data;
	out->data[out->len] = '\0';
	return true;
}

static void
write_jsonb(StringInfo out, Jsonb *jsonb)
{
	JsonbIterator *iterator = JsonbIteratorInit(&jsonb->root);
	JsonbIteratorToken token;
	JsonbValue	value;
	bool		need_comma = false;
	bool		raw_scalar = false;
	int			depth = 0;

	while ((token = JsonbIteratorNext(&iterator, &value, false)) != WJB_DONE)
	{
		switch (token)
		{
			case WJB_BEGIN_ARRAY:
				if (depth++ == 0 && value.val.array.rawScalar)
				{
					raw_scalar = true;
					break;
				}
				if (need_comma)
					appendStringInfoCharMacro(out, ',');
				appendStringInfoCharMacro(out, '[');
				need_comma = false;
				break;
			case WJB_BEGIN_OBJECT:
				depth++;
				if (need_comma)
					appendStringInfoCharMacro(out, ',');
				appendStringInfoCharMacro(out, '{');
				need_comma = false;
				break;
			case WJB_END_ARRAY:
				if (--depth == 0 && raw_scalar)
					break;
				appendStringInfoCharMacro(out, ']');
				need_comma = true;
				break;
			case WJB_END_OBJECT:
				depth--;
				appendStringInfoCharMacro(out, '}');
				need_comma = true;
				break;
			case WJB_KEY:
				if (need_comma)
					appendStringInfoCharMacro(out, ',');
				append_json_string(out, value.val.string.val,
								   value.val.string.len);
				appendStringInfoCharMacro(out, ':');
				need_comma = false;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (need_comma)
					appendStringInfoCharMacro(out, ',');
				switch (value.type)
				{
					case jbvNull:
						appendStringInfoString(out, "null");
						break;
					case jbvString:
						append_json_string(out, value.val.string.val,
										   value.val.string.len);
						break;
					case jbvNumeric:
						append_number_text(out,
										   DatumGetCString(DirectFunctionCall1(numeric_out,
																			   NumericGetDatum(value.val.numeric))));
						break;
					case jbvBool:
						appendStringInfoString(out, value.val.boolean ? "true" : "false");
						break;
					default:
						elog(ERROR, "unexpected jsonb value type %d",
							 (int) value.type);
				}
				need_comma = true;
				break;
			case WJB_DONE:
				break;
		}
	}
}

static void
write_array_dimension(StringInfo out, KafkaJsonWriter *writer, int dimension,
					  int ndims, const int *dims, Datum *elements,
					  bool *nulls, int *position)
{
	appendStringInfoCharMacro(out, '[');
	for (int i = 0; i < dims[dimension]; i++)
	{
		if (i > 0)
			appendStringInfoCharMacro(out, ',');
		if (dimension + 1 < ndims)
			write_array_dimension(out, writer, dimension + 1, ndims, dims,
								  elements, nulls, position);
		else
		{
			if (nulls[*position])
				appendStringInfoString(out, "null");
			else
				write_value(out, writer->element, elements[*position]);
			(*position)++;
		}
	}
	appendStringInfoCharMacro(out, ']');
}

static void
write_array(StringInfo out, KafkaJsonWriter *writer, Datum value)
{
	ArrayType  *array = DatumGetArrayTypeP(value);
	Datum	   *elements;
	bool	   *nulls;
	int			count;
	int			position = 0;

	if (ARR_NDIM(array) == 0)
	{
		appendStringInfoString(out, "[]");
		return;
	}
	deconstruct_array(array, ARR_ELEMTYPE(array), writer->element_length,
					  writer->element_byval, writer->element_align,
					  &elements, &nulls, &count);
	write_array_dimension(out, writer, 0, ARR_NDIM(array), ARR_DIMS(array),
						  elements, nulls, &position);
}

static void
write_fields(StringInfo out, KafkaJsonWriter *writer, Datum *values,
			 bool *nulls)
{
	bool		first = true;

	appendStringInfoCharMacro(out, '{');
	for (int i = 0; i < writer->desc->natts; i++)
	{
		if (writer->fields[i] == NULL)
			continue;
		if (!first)
			appendStringInfoCharMacro(out, ',');
		first = false;
		append_bytes(out, writer->keys[i], writer->key_lengths[i]);
		if (nulls[i])
			appendStringInfoString(out, "null");
		else
			write_value(out, writer->fields[i], values[i]);
	}
	appendStringInfoCharMacro(out, '}');
}

static void
write_composite(StringInfo out, KafkaJsonWriter *writer, Datum value)
{
	/*
	 * The writer's buffers can be reused: a row type cannot contain itself,
	 * so this writer is never re-entered while they are in use.
	 */
	kafka_deform_composite(DatumGetHeapTupleHeader(value), writer->desc,
						   writer->values, writer->nulls);
	write_fields(out, writer, writer->values, writer->nulls);
}

/* Anonymous records carry their row type in each value. */
static void
write_record(StringInfo out, Datum value)
{
	HeapTupleHeader header = DatumGetHeapTupleHeader(value);
	KafkaJsonWriter *writer;

	writer = kafka_json_writer_create(HeapTupleHeaderGetTypeId(header),
									  HeapTupleHeaderGetTypMod(header),
									  CurrentMemoryContext);
	write_composite(out, writer, value);
}

static void
write_value(StringInfo out, KafkaJsonWriter *writer, Datum value)
{
	char		buffer[MAXDATELEN + 1];

	switch (writer->kind)
	{
		case WRITE_INT2:
			reserve(out, 8);
			out->len += pg_itoa(DatumGetInt16(value), out->data + out->len);
			break;
		case WRITE_INT4:
			reserve(out, 12);
			out->len += pg_ltoa(DatumGetInt32(value), out->data + out->len);
			break;
		case WRITE_INT8:
			reserve(out, 21);
			out->len += pg_lltoa(DatumGetInt64(value), out->data + out->len);
			break;
		case WRITE_FLOAT8:
			append_number_text(out, float8out_internal(DatumGetFloat8(value)));
			break;
		case WRITE_NUMBER_TEXT:
			append_number_text(out, OutputFunctionCall(&writer->output_function,
													   value));
			break;
		case WRITE_NUMERIC:
			if (!append_fast_numeric(out, value))
				append_number_text(out, OutputFunctionCall(&writer->output_function,
														   value));
			break;
		case WRITE_BOOL:
			appendStringInfoString(out, DatumGetBool(value) ? "true" : "false");
			break;
		case WRITE_STRING:
			{
				text	   *string = DatumGetTextPP(value);

				append_json_string(out, VARDATA_ANY(string),
								   VARSIZE_ANY_EXHDR(string));
			}
			break;
		case WRITE_JSON:
			{
				text	   *json = DatumGetTextPP(value);

				append_bytes(out, VARDATA_ANY(json),
									   VARSIZE_ANY_EXHDR(json));
			}
			break;
		case WRITE_JSONB:
			write_jsonb(out, DatumGetJsonbP(value));
			break;
		case WRITE_DATETIME:
			{
				int			utc = 0;

				if (append_fast_datetime(out, writer->typid, value))
					break;
				appendStringInfoCharMacro(out, '"');
				appendStringInfoString(out,
									   JsonEncodeDateTime(buffer, value,
														  writer->typid,
														  writer->typid == TIMESTAMPTZOID ? &utc : NULL));
				appendStringInfoCharMacro(out, '"');
			}
			break;
		case WRITE_ARRAY:
			write_array(out, writer, value);
			break;
		case WRITE_COMPOSITE:
			write_composite(out, writer, value);
			break;
		case WRITE_RECORD:
			write_record(out, value);
			break;
		case WRITE_OTHER:
			{
				char	   *text = OutputFunctionCall(&writer->output_function,
													  value);

				append_json_string(out, text, strlen(text));
			}
			break;
	}
}

/*
 * JSON is written in the server encoding, then the whole of it converted:
 * escapes and punctuation are ASCII, so converting once at the end is
 * enough.
 */
static void
convert_to_utf8_since(StringInfo out, int start)
{
	int			server_encoding = GetDatabaseEncoding();
	char	   *utf8;

	if (server_encoding == PG_UTF8 || server_encoding == PG_SQL_ASCII ||
		out->len == start)
		return;
	utf8 = pg_server_to_any(out->data + start, out->len - start, PG_UTF8);
	if (utf8 != out->data + start)
	{
		out->len = start;
		out->data[start] = '\0';
		appendStringInfoString(out, utf8);
		pfree(utf8);
	}
}

void
kafka_json_write(KafkaJsonWriter *writer, Datum value, StringInfo out)
{
	int			start = out->len;

	write_value(out, writer, value);
	convert_to_utf8_since(out, start);
}

static bool
json_encode(KafkaEncoder *encoder, Datum *values, bool *nulls, StringInfo out)
{
	JsonEncoderState *json_encoder = encoder->format_state;
	int			start = out->len;

	if (encoder->npayload == 0)
		appendStringInfoCharMacro(out, '{');
	for (int i = 0; i < encoder->npayload; i++)
	{
		int			attnum = encoder->payload_attnums[i];

		append_bytes(out, json_encoder->prefixes[i],
							   json_encoder->prefix_lengths[i]);
		if (nulls[attnum])
			append_bytes(out, "null", 4);
		else
			write_value(out, json_encoder->writers[i], values[attnum]);
	}
	appendStringInfoCharMacro(out, '}');
	convert_to_utf8_since(out, start);
	return true;
}

void
kafka_json_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
						const KafkaCodecOptions *options)
{
	JsonEncoderState *json_encoder = palloc0(sizeof(JsonEncoderState));
	int			count = Max(encoder->npayload, 1);

	json_encoder->writers = palloc0(sizeof(KafkaJsonWriter *) * count);
	json_encoder->prefixes = palloc0(sizeof(char *) * count);
	json_encoder->prefix_lengths = palloc0(sizeof(int) * count);
	for (int i = 0; i < encoder->npayload; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, encoder->payload_attnums[i]);

		json_encoder->writers[i] = kafka_json_writer_create(attr->atttypid,
															attr->atttypmod,
															encoder->mcxt);
		json_encoder->prefixes[i] = json_key(i == 0 ? '{' : ',', NameStr(attr->attname),
											 &json_encoder->prefix_lengths[i]);
	}
	encoder->format_state = json_encoder;
	encoder->encode = json_encode;
}
