/*-------------------------------------------------------------------------
 *
 * avro_encode.c
 *	  Format "avro" for produce: rows to Avro binary, Confluent-framed with
 *	  the id of the schema derived from the columns (registered under the
 *	  caller's subject, TopicNameStrategy for tables), or plain Avro with
 *	  the table's avro_schema.
 *
 * The schema derived from columns is a record of nullable fields
 * (["null", T], default null) named after the columns: boolean, int
 * (smallint, integer), long (bigint), float, double, string (text,
 * varchar, json, jsonb, numeric without a declared precision, and any
 * other type through its text output), bytes (bytea), decimal
 * (numeric(p,s)), date, time-micros, timestamp-micros (timestamptz),
 * local-timestamp-micros (timestamp), uuid, arrays of those, and nested
 * records for composite types.  Reading it back through format avro gives
 * the same values.
 *
 * IDENTIFICATION
 *	  src/avro/avro_encode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "avro/avro_values.h"
#include "codec/codec.h"

/* How one PostgreSQL value is written as one Avro type. */
typedef struct AvroWriter
{
	const AvroNode *node;		/* the Avro type, unions resolved below */
	Oid			typid;
	int			null_branch;	/* union branch for NULL, or -1 */
	int			value_branch;	/* union branch for values, or -1 */
	const AvroNode *value_node; /* node, or its value branch */
	FmgrInfo	output;			/* text output, for strings */
	/* arrays */
	struct AvroWriter *element;
	int16		element_length;
	bool		element_byval;
	char		element_align;
	/* records */
	TupleDesc	desc;
	int			nfields;
	int		   *field_attnums;	/* -1: no column, write null */
	struct AvroWriter *fields;
} AvroWriter;

typedef struct AvroEncodeState
{
	AvroWriter	row;
	bool		confluent;
	int32		schema_id;
} AvroEncodeState;

/* ---- deriving a schema from columns ------------------------------------ */

static void append_type_for(StringInfo out, Oid typid, int32 typmod,
							int depth);

static void
append_record_for(StringInfo out, TupleDesc desc, const int *attnums, int natts,
				  const char *name, int depth)
{
	appendStringInfoString(out, "{\"type\":\"record\",\"name\":");
	kafka_append_json_string(out, name, strlen(name));
	appendStringInfoString(out, ",\"fields\":[");
	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, attnums ? attnums[i] : i);
		const char *attname = NameStr(attr->attname);

		if (attr->attisdropped)
			continue;
		for (const char *p = attname; *p; p++)
		{
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_' ||
				  (p > attname && *p >= '0' && *p <= '9')))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_NAME),
						 errmsg("column name \"%s\" is not a valid Avro field name", attname),
						 errhint("Avro names start with a letter or underscore and contain only letters, digits and underscores.")));
		}
		if (out->data[out->len - 1] != '[')
			appendStringInfoChar(out, ',');
		appendStringInfoString(out, "{\"name\":");
		kafka_append_json_string(out, attname, strlen(attname));
		appendStringInfoString(out, ",\"type\":[\"null\",");
		append_type_for(out, attr->atttypid, attr->atttypmod, depth + 1);
		appendStringInfoString(out, "],\"default\":null}");
	}
	appendStringInfoString(out, "]}");
}

static void
append_type_for(StringInfo out, Oid typid, int32 typmod, int depth)
{
	Oid			element;

	if (depth > AVRO_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("row type is nested more than %d levels deep", AVRO_MAX_DEPTH)));
	typid = getBaseTypeAndTypmod(typid, &typmod);
	switch (typid)
	{
		case BOOLOID:
			appendStringInfoString(out, "\"boolean\"");
			return;
		case INT2OID:
		case INT4OID:
			appendStringInfoString(out, "\"int\"");
			return;
		case INT8OID:
			appendStringInfoString(out, "\"long\"");
			return;
		case FLOAT4OID:
			appendStringInfoString(out, "\"float\"");
			return;
		case FLOAT8OID:
			appendStringInfoString(out, "\"double\"");
			return;
		case BYTEAOID:
			appendStringInfoString(out, "\"bytes\"");
			return;
		case NUMERICOID:
			if (typmod >= (int32) VARHDRSZ)
			{
				int			precision = ((typmod - VARHDRSZ) >> 16) & 0xffff;
				int			scale = (((typmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024;

				if (scale >= 0 && scale <= precision)
				{
					appendStringInfo(out, "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":%d,\"scale\":%d}",
									 precision, scale);
					return;
				}
			}
			appendStringInfoString(out, "\"string\"");
			return;
		case DATEOID:
			appendStringInfoString(out, "{\"type\":\"int\",\"logicalType\":\"date\"}");
			return;
		case TIMEOID:
			appendStringInfoString(out, "{\"type\":\"long\",\"logicalType\":\"time-micros\"}");
			return;
		case TIMESTAMPTZOID:
			appendStringInfoString(out, "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}");
			return;
		case TIMESTAMPOID:
			appendStringInfoString(out, "{\"type\":\"long\",\"logicalType\":\"local-timestamp-micros\"}");
			return;
		case UUIDOID:
			appendStringInfoString(out, "{\"type\":\"string\",\"logicalType\":\"uuid\"}");
			return;
		default:
			break;
	}
	element = get_element_type(typid);
	if (OidIsValid(element))
	{
		appendStringInfoString(out, "{\"type\":\"array\",\"items\":[\"null\",");
		append_type_for(out, element, typmod, depth + 1);
		appendStringInfoString(out, "]}");
		return;
	}
	if (type_is_rowtype(typid))
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(typid, typmod);
		char	   *name = get_typ_typrelid(typid) != InvalidOid || typid != RECORDOID ?
			format_type_be(typid) : pstrdup("record");
		char	   *avro_name = pstrdup(name);

		for (char *p = avro_name; *p; p++)
		{
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
				  (*p >= '0' && *p <= '9')))
				*p = '_';
		}
		if (avro_name[0] >= '0' && avro_name[0] <= '9')
			avro_name[0] = '_';
		append_record_for(out, desc, NULL, desc->natts, avro_name, depth + 1);
		ReleaseTupleDesc(desc);
		return;
	}
	appendStringInfoString(out, "\"string\"");
}

/*
 * The Avro schema (JSON) that format avro writes for the given columns of
 * desc (attnums 0-based; NULL: all).
 */
char *
avro_schema_for_tupdesc(TupleDesc desc, const int *attnums, int natts,
						const char *record_name)
{
	StringInfoData out;

	initStringInfo(&out);
	append_record_for(&out, desc, attnums, natts, record_name, 0);
	return out.data;
}

/* ---- writers ------------------------------------------------------------ */

static bool
writer_accepts(const AvroNode *node, Oid typid)
{
	switch (node->type)
	{
		case AVRO_NULL:
			return false;
		case AVRO_BOOLEAN:
			return typid == BOOLOID;
		case AVRO_INT:
			if (node->logical == AVRO_LOGICAL_DATE)
				return typid == DATEOID;
			if (node->logical == AVRO_LOGICAL_TIME_MILLIS)
				return typid == TIMEOID;
			return typid == INT2OID || typid == INT4OID || typid == INT8OID;
		case AVRO_LONG:
			switch (node->logical)
			{
				case AVRO_LOGICAL_TIME_MICROS:
					return typid == TIMEOID;
				case AVRO_LOGICAL_TIMESTAMP_MILLIS:
				case AVRO_LOGICAL_TIMESTAMP_MICROS:
				case AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
				case AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
					return typid == TIMESTAMPTZOID || typid == TIMESTAMPOID;
				default:
					return typid == INT2OID || typid == INT4OID || typid == INT8OID;
			}
		case AVRO_FLOAT:
		case AVRO_DOUBLE:
			return typid == FLOAT4OID || typid == FLOAT8OID || typid == NUMERICOID ||
				typid == INT2OID || typid == INT4OID || typid == INT8OID;
		case AVRO_STRING:
			return true;		/* any type's text */
		case AVRO_BYTES:
		case AVRO_FIXED:
			if (node->logical == AVRO_LOGICAL_DECIMAL)
				return typid == NUMERICOID || typid == INT2OID ||
					typid == INT4OID || typid == INT8OID;
			return typid == BYTEAOID || (node->type == AVRO_FIXED &&
										 node->fixed_size == 16 && typid == UUIDOID);
		case AVRO_ENUM:
			return true;		/* by the value's text */
		case AVRO_ARRAY:
			return OidIsValid(get_element_type(typid));
		case AVRO_RECORD:
			return type_is_rowtype(typid);
		case AVRO_MAP:
		case AVRO_UNION:
			return false;
	}
	return false;
}

static void writer_init(AvroWriter *writer, const AvroNode *node, Oid typid,
						int32 typmod, const char *what, int depth);

static void
record_writer_init(AvroWriter *writer, const AvroNode *record, TupleDesc desc,
				   const int *attnums, int natts, int depth)
{
	writer->desc = desc;
	writer->nfields = record->nchildren;
	writer->field_attnums = palloc(sizeof(int) * Max(record->nchildren, 1));
	writer->fields = palloc0(sizeof(AvroWriter) * Max(record->nchildren, 1));
	for (int f = 0; f < record->nchildren; f++)
	{
		int			found = -1;

		for (int i = 0; i < natts && found < 0; i++)
		{
			int			attnum = attnums ? attnums[i] : i;
			Form_pg_attribute attr = TupleDescAttr(desc, attnum);

			if (!attr->attisdropped &&
				strcmp(NameStr(attr->attname), record->field_names[f]) == 0)
				found = attnum;
		}
		for (int i = 0; i < natts && found < 0; i++)
		{
			int			attnum = attnums ? attnums[i] : i;
			Form_pg_attribute attr = TupleDescAttr(desc, attnum);

			if (!attr->attisdropped &&
				pg_strcasecmp(NameStr(attr->attname), record->field_names[f]) == 0)
				found = attnum;
		}
		writer->field_attnums[f] = found;
		if (found >= 0)
		{
			Form_pg_attribute attr = TupleDescAttr(desc, found);

			writer_init(&writer->fields[f], record->children[f], attr->atttypid,
						attr->atttypmod, record->field_names[f], depth + 1);
		}
		else
		{
			writer_init(&writer->fields[f], record->children[f], InvalidOid, -1,
						record->field_names[f], depth + 1);
			if (writer->fields[f].null_branch < 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("Avro field \"%s\" has no column and cannot be null",
								record->field_names[f])));
		}
	}
}

static void
writer_init(AvroWriter *writer, const AvroNode *node, Oid typid, int32 typmod,
			const char *what, int depth)
{
	if (depth > AVRO_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Avro schema is nested more than %d levels deep", AVRO_MAX_DEPTH)));
	memset(writer, 0, sizeof(AvroWriter));
	writer->node = node;
	writer->null_branch = -1;
	writer->value_branch = -1;
	writer->value_node = node;
	if (OidIsValid(typid))
		typid = getBaseTypeAndTypmod(typid, &typmod);
	writer->typid = typid;

	if (node->type == AVRO_UNION)
	{
		for (int i = 0; i < node->nchildren; i++)
		{
			if (node->children[i]->type == AVRO_NULL && writer->null_branch < 0)
				writer->null_branch = i;
			else if (OidIsValid(typid) && writer->value_branch < 0 &&
					 writer_accepts(node->children[i], typid))
				writer->value_branch = i;
		}
		/* prefer an exact type over the catch-all string */
		if (writer->value_branch >= 0 &&
			node->children[writer->value_branch]->type == AVRO_STRING)
		{
			for (int i = writer->value_branch + 1; i < node->nchildren; i++)
			{
				if (node->children[i]->type != AVRO_STRING &&
					node->children[i]->type != AVRO_ENUM &&
					node->children[i]->type != AVRO_NULL &&
					writer_accepts(node->children[i], typid))
				{
					writer->value_branch = i;
					break;
				}
			}
		}
		if (!OidIsValid(typid))
			return;
		if (writer->value_branch < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of type %s cannot be written as Avro %s",
							what, format_type_be(typid), avro_type_name(node))));
		writer->value_node = node->children[writer->value_branch];
	}
	else if (node->type == AVRO_NULL)
	{
		writer->null_branch = 0;
		return;
	}
	else if (!OidIsValid(typid))
		return;
	else if (!writer_accepts(node, typid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of type %s cannot be written as Avro %s",
						what, format_type_be(typid), avro_type_name(node))));

	node = writer->value_node;
	if (node->type == AVRO_STRING || node->type == AVRO_ENUM)
	{
		Oid			output;
		bool		varlena;

		getTypeOutputInfo(typid, &output, &varlena);
		fmgr_info(output, &writer->output);
	}
	else if (node->type == AVRO_ARRAY)
	{
		Oid			element = get_element_type(typid);

		writer->element = palloc(sizeof(AvroWriter));
		writer_init(writer->element, node->children[0], element, typmod, what,
					depth + 1);
		get_typlenbyvalalign(element, &writer->element_length,
							 &writer->element_byval, &writer->element_align);
	}
	else if (node->type == AVRO_RECORD)
	{
		TupleDesc	desc = lookup_rowtype_tupdesc_copy(typid, typmod);

		record_writer_init(writer, node, desc, NULL, desc->natts, depth + 1);
	}
}

static void
write_long(StringInfo out, int64 value)
{
	uint64		zigzag = ((uint64) value << 1) ^ (uint64) (value >> 63);

	enlargeStringInfo(out, 10);
	while (zigzag >= 0x80)
	{
		out->data[out->len++] = (char) ((zigzag & 0x7f) | 0x80);
		zigzag >>= 7;
	}
	out->data[out->len++] = (char) zigzag;
	out->data[out->len] = '\0';
}

static void
write_bytes(StringInfo out, const char *data, int len)
{
	write_long(out, len);
	appendBinaryStringInfo(out, data, len);
}

/* Unscaled two's complement big-endian bytes of a numeric at scale. */
static void
write_decimal(StringInfo out, const AvroNode *node, Oid typid, Datum value,
			  const char *what)
{
	Numeric		number;
	char	   *text;
	uint8		bytes[AVRO_MAX_DECIMAL_BYTES + 1];
	int			nbytes = 0;
	int			start;
	bool		negative = false;
	int			digits = 0;

	if (typid == NUMERICOID)
		number = DatumGetNumeric(value);
	else
		number = int64_to_numeric(kafka_integer_datum(value, typid));
	if (numeric_is_nan(number) || numeric_is_inf(number))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value of column \"%s\" cannot be written as an Avro decimal: it is not finite",
						what)));
	number = DatumGetNumeric(DirectFunctionCall2(numeric_round,
												 NumericGetDatum(number),
												 Int32GetDatum(node->scale)));
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(number)));

	memset(bytes, 0, sizeof(bytes));
	for (const char *p = text; *p; p++)
	{
		int			carry;

		if (*p == '-')
		{
			negative = true;
			continue;
		}
		if (*p == '.')
			continue;
		digits++;
		/* bytes = bytes * 10 + digit, little-endian */
		carry = *p - '0';
		for (int i = 0; i < nbytes || carry; i++)
		{
			int			v;

			if (i >= AVRO_MAX_DECIMAL_BYTES)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("value of column \"%s\" is too large for an Avro decimal",
								what)));
			v = (i < nbytes ? bytes[i] * 10 : 0) + carry;
			bytes[i] = (uint8) (v & 0xff);
			carry = v >> 8;
			if (i >= nbytes)
				nbytes = i + 1;
		}
	}
	{
		const char *point = strchr(text, '.');
		int			integer_digits = digits - (point ? (int) strlen(point + 1) : 0);

		/* leading zeros of "0.5" do not count against the precision */
		if (integer_digits > node->precision - node->scale &&
			!(integer_digits == 1 && (text[0] == '0' || (text[0] == '-' && text[1] == '0'))))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value of column \"%s\" does not fit Avro decimal(%d,%d)",
							what, node->precision, node->scale)));
	}
	/* one more byte for the sign bit */
	if (nbytes == 0 || (bytes[nbytes - 1] & 0x80))
		nbytes++;
	if (negative)
	{
		int			carry = 1;

		for (int i = 0; i < nbytes; i++)
		{
			int			v = (uint8) ~bytes[i] + carry;

			bytes[i] = (uint8) v;
			carry = v >> 8;
		}
	}
	if (node->type == AVRO_FIXED)
	{
		if (nbytes > node->fixed_size)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value of column \"%s\" does not fit Avro fixed(%d) decimal",
							what, node->fixed_size)));
		start = node->fixed_size;
		for (int i = start - 1; i >= 0; i--)
			appendStringInfoChar(out, (char) (i < nbytes ? bytes[i] : (negative ? 0xff : 0)));
		return;
	}
	write_long(out, nbytes);
	for (int i = nbytes - 1; i >= 0; i--)
		appendStringInfoChar(out, (char) bytes[i]);
}

static void write_value(StringInfo out, AvroWriter *writer, Datum value,
						bool isnull, const char *what);

static void
write_record(StringInfo out, AvroWriter *writer, Datum *values, bool *nulls)
{
	for (int f = 0; f < writer->nfields; f++)
	{
		int			attnum = writer->field_attnums[f];

		if (attnum < 0)
			write_value(out, &writer->fields[f], (Datum) 0, true,
						writer->value_node->field_names[f]);
		else
			write_value(out, &writer->fields[f], values[attnum], nulls[attnum],
						writer->value_node->field_names[f]);
	}
}

static void
write_value(StringInfo out, AvroWriter *writer, Datum value, bool isnull,
			const char *what)
{
	const AvroNode *node = writer->value_node;
	Oid			typid = writer->typid;

	if (isnull)
	{
		if (writer->null_branch < 0)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("column \"%s\" is null, but its Avro type %s is not nullable",
							what, avro_type_name(writer->node))));
		if (writer->node->type == AVRO_UNION)
			write_long(out, writer->null_branch);
		return;
	}
	if (writer->node->type == AVRO_UNION)
		write_long(out, writer->value_branch);

	switch (node->type)
	{
		case AVRO_NULL:
		case AVRO_UNION:
		case AVRO_MAP:
			break;
		case AVRO_BOOLEAN:
			appendStringInfoChar(out, DatumGetBool(value) ? 1 : 0);
			return;
		case AVRO_INT:
		case AVRO_LONG:
			switch (node->logical)
			{
				case AVRO_LOGICAL_DATE:
					{
						DateADT		date = DatumGetDateADT(value);

						if (DATE_NOT_FINITE(date))
							ereport(ERROR,
									(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
									 errmsg("value of column \"%s\" is an infinite date, which Avro cannot represent",
											what)));
						write_long(out, (int64) date + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE));
						return;
					}
				case AVRO_LOGICAL_TIME_MILLIS:
					write_long(out, DatumGetTimeADT(value) / 1000);
					return;
				case AVRO_LOGICAL_TIME_MICROS:
					write_long(out, DatumGetTimeADT(value));
					return;
				case AVRO_LOGICAL_TIMESTAMP_MILLIS:
				case AVRO_LOGICAL_TIMESTAMP_MICROS:
				case AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
				case AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
					{
						Timestamp	timestamp = DatumGetTimestamp(value);
						int64		micros;

						if (TIMESTAMP_NOT_FINITE(timestamp))
							ereport(ERROR,
									(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
									 errmsg("value of column \"%s\" is an infinite timestamp, which Avro cannot represent",
											what)));
						micros = timestamp + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
						if (node->logical == AVRO_LOGICAL_TIMESTAMP_MILLIS ||
							node->logical == AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS)
							micros = micros >= 0 ? micros / 1000 : -((-micros + 999) / 1000);
						write_long(out, micros);
						return;
					}
				default:
					{
						int64		v = kafka_integer_datum(value, typid);

						if (node->type == AVRO_INT && (v < PG_INT32_MIN || v > PG_INT32_MAX))
							ereport(ERROR,
									(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
									 errmsg("value of column \"%s\" is out of range for Avro int",
											what)));
						write_long(out, v);
						return;
					}
			}
		case AVRO_FLOAT:
		case AVRO_DOUBLE:
			{
				double		d;

				switch (typid)
				{
					case FLOAT4OID:
						d = DatumGetFloat4(value);
						break;
					case FLOAT8OID:
						d = DatumGetFloat8(value);
						break;
					case NUMERICOID:
						d = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
															   value));
						break;
					default:
						d = (double) kafka_integer_datum(value, typid);
						break;
				}
				if (node->type == AVRO_FLOAT)
				{
					float4		f = (float4) d;
					uint32		bits;

					memcpy(&bits, &f, 4);
					for (int i = 0; i < 4; i++)
						appendStringInfoChar(out, (char) (bits >> (8 * i)));
				}
				else
				{
					uint64		bits;

					memcpy(&bits, &d, 8);
					for (int i = 0; i < 8; i++)
						appendStringInfoChar(out, (char) (bits >> (8 * i)));
				}
				return;
			}
		case AVRO_STRING:
		case AVRO_ENUM:
			{
				char	   *string;
				char	   *utf8;

				if (typid == TEXTOID || typid == VARCHAROID || typid == BPCHAROID)
					string = TextDatumGetCString(value);
				else
					string = OutputFunctionCall(&writer->output, value);
				utf8 = pg_server_to_any(string, strlen(string), PG_UTF8);
				if (node->type == AVRO_STRING)
				{
					write_bytes(out, utf8, strlen(utf8));
					return;
				}
				for (int i = 0; i < node->nsymbols; i++)
				{
					if (strcmp(node->symbols[i], utf8) == 0)
					{
						write_long(out, i);
						return;
					}
				}
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("value of column \"%s\" is not a symbol of Avro enum \"%s\"",
								what, node->name)));
			}
			break;
		case AVRO_BYTES:
		case AVRO_FIXED:
			if (node->logical == AVRO_LOGICAL_DECIMAL)
			{
				write_decimal(out, node, typid, value, what);
				return;
			}
			if (typid == UUIDOID)
			{
				appendBinaryStringInfo(out, (char *) DatumGetUUIDP(value)->data, UUID_LEN);
				return;
			}
			{
				bytea	   *bytes = DatumGetByteaPP(value);
				int			len = VARSIZE_ANY_EXHDR(bytes);

				if (node->type == AVRO_FIXED)
				{
					if (len != node->fixed_size)
						ereport(ERROR,
								(errcode(ERRCODE_STRING_DATA_LENGTH_MISMATCH),
								 errmsg("value of column \"%s\" has %d bytes, but Avro fixed \"%s\" has %d",
										what, len, node->name, node->fixed_size)));
					appendBinaryStringInfo(out, VARDATA_ANY(bytes), len);
				}
				else
					write_bytes(out, VARDATA_ANY(bytes), len);
				return;
			}
		case AVRO_ARRAY:
			{
				ArrayType  *array = DatumGetArrayTypeP(value);
				Datum	   *elements;
				bool	   *element_nulls;
				int			count;

				deconstruct_array(array, ARR_ELEMTYPE(array),
								  writer->element_length, writer->element_byval,
								  writer->element_align,
								  &elements, &element_nulls, &count);
				if (count > 0)
				{
					write_long(out, count);
					for (int i = 0; i < count; i++)
						write_value(out, writer->element, elements[i],
									element_nulls[i], what);
				}
				write_long(out, 0);
				return;
			}
		case AVRO_RECORD:
			{
				Datum	   *values = palloc(sizeof(Datum) * Max(writer->desc->natts, 1));
				bool	   *nulls = palloc(sizeof(bool) * Max(writer->desc->natts, 1));

				kafka_deform_composite(DatumGetHeapTupleHeader(value), writer->desc,
									   values, nulls);
				write_record(out, writer, values, nulls);
				return;
			}
	}
	elog(ERROR, "unexpected Avro writer type %d", (int) node->type);
}

static bool
avro_encode(KafkaEncoder *encoder, Datum *values, bool *nulls, StringInfo out)
{
	AvroEncodeState *state = encoder->format_state;

	if (state->confluent)
	{
		kafka_confluent_append_header(out, state->schema_id);
	}
	if (state->row.value_node->type == AVRO_RECORD)
		write_record(out, &state->row, values, nulls);
	else
	{
		/* a single column written as the whole value (keys, say) */
		int			attnum = encoder->payload_attnums[0];

		write_value(out, &state->row, values[attnum], nulls[attnum], "value");
	}
	return true;
}

void
kafka_avro_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
						const KafkaCodecOptions *options)
{
	AvroEncodeState *state = palloc0(sizeof(AvroEncodeState));
	const char *plain_schema = avro_schema_option(options);
	AvroNode   *schema;
	char	   *error;

	if (plain_schema != NULL)
	{
		char	   *detail;

		schema = avro_schema_parse_detail(plain_schema,
										  strlen(plain_schema),
										  &error, &detail);
		if (schema == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"avro_schema\": %s", error),
					 detail ? errdetail("libavro-c: %s.", detail) : 0));
	}
	else if (options != NULL && options->server_name != NULL && options->subject != NULL)
	{
		KafkaRegistry *registry = kafka_registry_for_server(options->server_name,
															OidIsValid(options->userid) ?
															options->userid : GetUserId());
		char	   *record_name = "record";
		char	   *json;

		if (OidIsValid(desc->tdtypeid) && desc->tdtypeid != RECORDOID)
		{
			record_name = pstrdup(get_typ_typrelid(desc->tdtypeid) != InvalidOid ?
								  get_rel_name(get_typ_typrelid(desc->tdtypeid)) :
								  format_type_be(desc->tdtypeid));
			for (char *p = record_name; *p; p++)
			{
				if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
					  (*p >= '0' && *p <= '9')))
					*p = '_';
			}
			if (record_name[0] >= '0' && record_name[0] <= '9')
				record_name[0] = '_';
		}
		if (options->single_value && encoder->npayload == 1)
		{
			/* a key column, say: its own type, not a record around it */
			StringInfoData out;
			Form_pg_attribute attr = TupleDescAttr(desc, encoder->payload_attnums[0]);

			initStringInfo(&out);
			append_type_for(&out, attr->atttypid, attr->atttypmod, 0);
			json = out.data;
		}
		else
			json = avro_schema_for_tupdesc(desc, encoder->payload_attnums,
										   encoder->npayload, record_name);
		schema = avro_schema_parse(json, strlen(json), &error);
		if (schema == NULL)
			elog(ERROR, "derived Avro schema is invalid: %s", error);
		state->schema_id = kafka_registry_register(registry, options->subject, json,
												   "AVRO", NULL, 0);
		state->confluent = true;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("format \"avro\" needs a schema registry and subject, or a writer schema, to encode"),
				 errhint("Give the server a schema_registry_url option, or the table an avro_schema option.")));

	if (schema->type == AVRO_RECORD)
	{
		state->row.node = schema;
		state->row.value_node = schema;
		state->row.null_branch = -1;
		state->row.value_branch = -1;
		record_writer_init(&state->row, schema, desc, encoder->payload_attnums,
						   encoder->npayload, 0);
	}
	else
	{
		Form_pg_attribute attr;

		if (encoder->npayload != 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("Avro schema of type %s encodes a single column, but there are %d",
							avro_type_name(schema), encoder->npayload)));
		attr = TupleDescAttr(desc, encoder->payload_attnums[0]);
		writer_init(&state->row, schema, attr->atttypid, attr->atttypmod,
					NameStr(attr->attname), 0);
	}
	encoder->format_state = state;
	encoder->encode = avro_encode;
}
