/*-------------------------------------------------------------------------
 *
 * type_map.c
 *	  PostgreSQL types to Delta Lake / Parquet columns, and per-value
 *	  conversion.
 *
 * Mapping (Delta type / Parquet physical + logical type):
 *	 boolean			boolean / BOOLEAN
 *	 smallint			short / INT32 INTEGER(16)
 *	 integer			integer / INT32
 *	 bigint				long / INT64
 *	 real, double		float / FLOAT, double / DOUBLE
 *	 numeric(p,s)		decimal(p,s) / INT32, INT64 or FIXED_LEN_BYTE_ARRAY DECIMAL
 *	 numeric			decimal(38,9) (or string with numeric_as => 'string')
 *	 text, varchar, char, json and anything else
 *						string / BYTE_ARRAY STRING (the type's text form)
 *	 bytea				binary / BYTE_ARRAY
 *	 date				date / INT32 DATE (days since 1970)
 *	 timestamptz		timestamp / INT64 TIMESTAMP(UTC, MICROS)
 *	 timestamp			timestamp (wall clock read as UTC), or timestamp_ntz
 *						/ INT64 TIMESTAMP(not UTC, MICROS) with timestamp_ntz
 *	 arrays, composites string (JSON text)
 *
 * PostgreSQL counts dates and timestamps from 2000-01-01, Parquet from
 * 1970-01-01: values are shifted, and infinities refused (Delta has none).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/formatting.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "delta/type_map.h"

/* The widest Delta decimal, and what unconstrained numeric becomes. */
#define DELTA_MAX_PRECISION		38
#define UNCONSTRAINED_PRECISION 38
#define UNCONSTRAINED_SCALE		9

/* Days and microseconds between the PostgreSQL and Unix epochs. */
#define EPOCH_SHIFT_DAYS		(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)
#define EPOCH_SHIFT_MICROS		((int64) EPOCH_SHIFT_DAYS * USECS_PER_DAY)

/* Characters Delta refuses in column names without column mapping. */
#define INVALID_NAME_CHARACTERS " ,;{}()\n\t="

static bool database_is_utf8;
static uint128 power_of_ten[DELTA_MAX_PRECISION + 1];

static void
init_powers_of_ten(void)
{
	if (power_of_ten[0] != 0)
		return;
	power_of_ten[0] = 1;
	for (int i = 1; i <= DELTA_MAX_PRECISION; i++)
		power_of_ten[i] = power_of_ten[i - 1] * 10;
}

/* ----------------------------------------------------------------
 * Column mapping
 * ----------------------------------------------------------------
 */

/* Fills the Parquet side of a column from its Delta type. */
static void
set_delta_type(DeltaColumn *column, DeltaType type, int precision, int scale)
{
	ParquetColumnSpec *spec = &column->parquet;

	column->type = type;
	column->precision = precision;
	column->scale = scale;

	memset(spec, 0, sizeof(*spec));
	spec->name = column->name;
	spec->try_dictionary = true;
	switch (type)
	{
		case DELTA_TYPE_BOOLEAN:
			spec->physical = PARQUET_BOOLEAN;
			spec->try_dictionary = false;
			break;
		case DELTA_TYPE_SHORT:
			spec->physical = PARQUET_INT32;
			spec->logical = PARQUET_LOGICAL_INTEGER;
			spec->integer_bits = 16;
			break;
		case DELTA_TYPE_INTEGER:
			spec->physical = PARQUET_INT32;
			break;
		case DELTA_TYPE_LONG:
			spec->physical = PARQUET_INT64;
			break;
		case DELTA_TYPE_FLOAT:
			spec->physical = PARQUET_FLOAT;
			break;
		case DELTA_TYPE_DOUBLE:
			spec->physical = PARQUET_DOUBLE;
			break;
		case DELTA_TYPE_DECIMAL:
			/* the sizes Spark writes: int32 up to 9 digits, int64 up to 18 */
			if (precision <= 9)
				spec->physical = PARQUET_INT32;
			else if (precision <= 18)
				spec->physical = PARQUET_INT64;
			else
			{
				spec->physical = PARQUET_FIXED_LEN_BYTE_ARRAY;
				spec->type_length = parquet_decimal_byte_length(precision);
			}
			spec->logical = PARQUET_LOGICAL_DECIMAL;
			spec->precision = precision;
			spec->scale = scale;
			break;
		case DELTA_TYPE_STRING:
			spec->physical = PARQUET_BYTE_ARRAY;
			spec->logical = PARQUET_LOGICAL_STRING;
			break;
		case DELTA_TYPE_BINARY:
			spec->physical = PARQUET_BYTE_ARRAY;
			break;
		case DELTA_TYPE_DATE:
			spec->physical = PARQUET_INT32;
			spec->logical = PARQUET_LOGICAL_DATE;
			break;
		case DELTA_TYPE_TIMESTAMP:
		case DELTA_TYPE_TIMESTAMP_NTZ:
			spec->physical = PARQUET_INT64;
			spec->logical = PARQUET_LOGICAL_TIMESTAMP;
			spec->utc_adjusted = (type == DELTA_TYPE_TIMESTAMP);
			break;
	}
}

static void
map_numeric(DeltaColumn *column, const DeltaTypeOptions *options)
{
	int32		typmod = column->source_typmod;
	int			precision;
	int			scale;

	column->kind = DELTA_VALUE_NUMERIC;
	if (typmod < (int32) VARHDRSZ)
	{
		if (options->numeric_as_string)
			set_delta_type(column, DELTA_TYPE_STRING, 0, 0);
		else
			set_delta_type(column, DELTA_TYPE_DECIMAL,
						   UNCONSTRAINED_PRECISION, UNCONSTRAINED_SCALE);
		return;
	}

	precision = ((typmod - VARHDRSZ) >> 16) & 0xffff;
	scale = (((typmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024;

	/*
	 * PostgreSQL allows a negative scale (rounding to tens, hundreds...) and a
	 * scale above the precision; Parquet wants 0 <= scale <= precision, so
	 * widen to a decimal that holds every value of the column.
	 */
	if (scale < 0)
	{
		precision -= scale;
		scale = 0;
	}
	else if (scale > precision)
		precision = scale;

	if (precision > DELTA_MAX_PRECISION)
	{
		if (!options->numeric_as_string)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of type numeric(%d,%d) does not fit a Delta decimal",
							column->source_name,
							((typmod - VARHDRSZ) >> 16) & 0xffff,
							(((typmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024),
					 errdetail("Delta decimals have at most %d digits.",
							   DELTA_MAX_PRECISION),
					 errhint("Cast the column to a narrower numeric, or pass numeric_as => 'string'.")));
		set_delta_type(column, DELTA_TYPE_STRING, 0, 0);
		return;
	}
	column->source_scale_known = true;
	set_delta_type(column, DELTA_TYPE_DECIMAL, precision, scale);
}

static void
map_type(DeltaColumn *column, const DeltaTypeOptions *options)
{
	Oid			type = column->source_type;

	switch (type)
	{
		case BOOLOID:
			column->kind = DELTA_VALUE_BOOL;
			set_delta_type(column, DELTA_TYPE_BOOLEAN, 0, 0);
			return;
		case INT2OID:
			column->kind = DELTA_VALUE_INT2;
			set_delta_type(column, DELTA_TYPE_SHORT, 0, 0);
			return;
		case INT4OID:
			column->kind = DELTA_VALUE_INT4;
			set_delta_type(column, DELTA_TYPE_INTEGER, 0, 0);
			return;
		case INT8OID:
			column->kind = DELTA_VALUE_INT8;
			set_delta_type(column, DELTA_TYPE_LONG, 0, 0);
			return;
		case FLOAT4OID:
			column->kind = DELTA_VALUE_FLOAT4;
			set_delta_type(column, DELTA_TYPE_FLOAT, 0, 0);
			return;
		case FLOAT8OID:
			column->kind = DELTA_VALUE_FLOAT8;
			set_delta_type(column, DELTA_TYPE_DOUBLE, 0, 0);
			return;
		case NUMERICOID:
			map_numeric(column, options);
			if (column->type == DELTA_TYPE_STRING)
			{
				Oid			output;
				bool		varlena;

				getTypeOutputInfo(NUMERICOID, &output, &varlena);
				fmgr_info(output, &column->output);
			}
			return;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case JSONOID:
			column->kind = DELTA_VALUE_TEXT;
			set_delta_type(column, DELTA_TYPE_STRING, 0, 0);
			return;
		case BYTEAOID:
			column->kind = DELTA_VALUE_BYTEA;
			set_delta_type(column, DELTA_TYPE_BINARY, 0, 0);
			return;
		case DATEOID:
			column->kind = DELTA_VALUE_DATE;
			set_delta_type(column, DELTA_TYPE_DATE, 0, 0);
			return;
		case TIMESTAMPTZOID:
			column->kind = DELTA_VALUE_TIMESTAMP;
			set_delta_type(column, DELTA_TYPE_TIMESTAMP, 0, 0);
			return;
		case TIMESTAMPOID:
			column->kind = DELTA_VALUE_TIMESTAMP;
			set_delta_type(column, options->timestamp_ntz ?
						   DELTA_TYPE_TIMESTAMP_NTZ : DELTA_TYPE_TIMESTAMP, 0, 0);
			return;
		case UUIDOID:
			column->kind = DELTA_VALUE_UUID;
			set_delta_type(column, DELTA_TYPE_STRING, 0, 0);
			return;
		default:
			break;
	}

	set_delta_type(column, DELTA_TYPE_STRING, 0, 0);
	if (type_is_array(type))
		column->kind = DELTA_VALUE_ARRAY;
	else if (type_is_rowtype(type))
		column->kind = DELTA_VALUE_COMPOSITE;
	else
	{
		Oid			output;
		bool		varlena;

		/* enum, interval, time, jsonb, inet, ...: their text form */
		column->kind = DELTA_VALUE_OUTPUT;
		getTypeOutputInfo(type, &output, &varlena);
		fmgr_info(output, &column->output);
	}
}

static void
check_column_name(const char *name)
{
	if (strpbrk(name, INVALID_NAME_CHARACTERS) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("column name \"%s\" is not valid in a Delta table", name),
				 errdetail("Delta tables without column mapping do not allow spaces or any of \",;{}()=\", tabs or newlines in column names."),
				 errhint("Rename the column in the source, for example with a query and AS.")));
}

DeltaColumn *
delta_columns_from_tupdesc(TupleDesc tupdesc, const DeltaTypeOptions *options,
						   int *ncolumns)
{
	DeltaColumn *columns = palloc0(sizeof(DeltaColumn) * Max(tupdesc->natts, 1));
	char	  **folded = palloc0(sizeof(char *) * Max(tupdesc->natts, 1));
	int			n = 0;

	database_is_utf8 = (GetDatabaseEncoding() == PG_UTF8);
	init_powers_of_ten();

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		DeltaColumn *column = &columns[n];
		const char *name = NameStr(attr->attname);

		if (attr->attisdropped)
			continue;

		check_column_name(name);
		folded[n] = str_tolower(name, strlen(name), DEFAULT_COLLATION_OID);
		for (int j = 0; j < n; j++)
		{
			if (strcmp(folded[j], folded[n]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column names \"%s\" and \"%s\" clash in a Delta table",
								columns[j].source_name, name),
						 errdetail("Delta column names are case-insensitive."),
						 errhint("Rename one of the columns in the source, for example with a query and AS.")));
		}

		column->source_name = pstrdup(name);
		column->name = pg_server_to_any(name, strlen(name), PG_UTF8);
		if (column->name == name)
			column->name = pstrdup(name);
		column->source_index = i;
		column->source_typmod = attr->atttypmod;
		column->source_type = getBaseTypeAndTypmod(attr->atttypid,
												   &column->source_typmod);
		map_type(column, options);
		n++;
	}

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source of a Delta export must have at least one column")));

	*ncolumns = n;
	return columns;
}

const char *
delta_type_name(const DeltaColumn *column)
{
	switch (column->type)
	{
		case DELTA_TYPE_BOOLEAN:
			return "boolean";
		case DELTA_TYPE_SHORT:
			return "short";
		case DELTA_TYPE_INTEGER:
			return "integer";
		case DELTA_TYPE_LONG:
			return "long";
		case DELTA_TYPE_FLOAT:
			return "float";
		case DELTA_TYPE_DOUBLE:
			return "double";
		case DELTA_TYPE_DECIMAL:
			return psprintf("decimal(%d,%d)", column->precision, column->scale);
		case DELTA_TYPE_STRING:
			return "string";
		case DELTA_TYPE_BINARY:
			return "binary";
		case DELTA_TYPE_DATE:
			return "date";
		case DELTA_TYPE_TIMESTAMP:
			return "timestamp";
		case DELTA_TYPE_TIMESTAMP_NTZ:
			return "timestamp_ntz";
	}
	return "?";
}

bool
delta_columns_need_timestamp_ntz(const DeltaColumn *columns, int ncolumns)
{
	for (int i = 0; i < ncolumns; i++)
		if (columns[i].type == DELTA_TYPE_TIMESTAMP_NTZ)
			return true;
	return false;
}

/* "decimal(10, 2)" and "DECIMAL(10,2)" are the same type. */
static char *
normalize_type_name(const char *type)
{
	StringInfoData out;

	initStringInfo(&out);
	for (const char *p = type; *p; p++)
		if (*p != ' ')
			appendStringInfoChar(&out, pg_ascii_tolower((unsigned char) *p));
	return out.data;
}

/*
 * Whether a column converts losslessly to a table type; if so, *adopted gets
 * the column as it must be written.
 */
static bool
column_fits_type(const DeltaColumn *column, const char *table_type,
				 bool timestamp_ntz_given, DeltaColumn *adopted)
{
	int			precision;
	int			scale;
	char		extra;

	*adopted = *column;
	if (strcmp(delta_type_name(column), table_type) == 0)
		return true;

	if ((column->kind == DELTA_VALUE_INT2 &&
		 (strcmp(table_type, "integer") == 0 || strcmp(table_type, "long") == 0)) ||
		(column->kind == DELTA_VALUE_INT4 && strcmp(table_type, "long") == 0))
	{
		set_delta_type(adopted, strcmp(table_type, "long") == 0 ?
					   DELTA_TYPE_LONG : DELTA_TYPE_INTEGER, 0, 0);
		return true;
	}
	if (column->kind == DELTA_VALUE_FLOAT4 && strcmp(table_type, "double") == 0)
	{
		set_delta_type(adopted, DELTA_TYPE_DOUBLE, 0, 0);
		return true;
	}
	if (column->kind == DELTA_VALUE_NUMERIC && column->type == DELTA_TYPE_DECIMAL &&
		sscanf(table_type, "decimal(%d,%d%c", &precision, &scale, &extra) == 3 &&
		extra == ')' && precision >= 1 && precision <= DELTA_MAX_PRECISION &&
		scale >= 0 && scale <= precision)
	{
		/* unconstrained numeric is rounded and range-checked like a cast */
		if (!column->source_scale_known ||
			(column->scale <= scale &&
			 column->precision - column->scale <= precision - scale))
		{
			set_delta_type(adopted, DELTA_TYPE_DECIMAL, precision, scale);
			return true;
		}
	}
	if (column->source_type == TIMESTAMPOID && !timestamp_ntz_given &&
		strcmp(table_type, "timestamp_ntz") == 0)
	{
		set_delta_type(adopted, DELTA_TYPE_TIMESTAMP_NTZ, 0, 0);
		return true;
	}
	return false;
}

char *
delta_columns_bind(DeltaColumn *columns, int ncolumns,
				   const DeltaField *fields, int nfields,
				   bool timestamp_ntz_given)
{
	DeltaColumn *bound = palloc0(sizeof(DeltaColumn) * Max(nfields, 1));
	bool	   *used = palloc0(sizeof(bool) * ncolumns);

	for (int f = 0; f < nfields; f++)
	{
		const DeltaField *field = &fields[f];
		int			match = -1;
		char	   *table_type;

		for (int c = 0; c < ncolumns && match < 0; c++)
			if (!used[c] && strcmp(columns[c].name, field->name) == 0)
				match = c;
		for (int c = 0; c < ncolumns && match < 0; c++)
			if (!used[c] && pg_strcasecmp(columns[c].name, field->name) == 0)
				match = c;
		if (match < 0)
			return psprintf("Column \"%s\" of the Delta table is missing from the source.",
							field->name);
		if (field->type == NULL)
			return psprintf("Column \"%s\" has a nested type in the Delta table.",
							field->name);

		table_type = normalize_type_name(field->type);
		if (!column_fits_type(&columns[match], table_type, timestamp_ntz_given,
							  &bound[f]))
			return psprintf("Column \"%s\" is %s in the source but %s in the Delta table.",
							columns[match].name, delta_type_name(&columns[match]),
							field->type);

		/* write the table's spelling of the name */
		bound[f].name = pstrdup(field->name);
		bound[f].parquet.name = bound[f].name;
		bound[f].required = !field->nullable;
		used[match] = true;
	}
	for (int c = 0; c < ncolumns; c++)
		if (!used[c])
			return psprintf("Column \"%s\" does not exist in the Delta table.",
							columns[c].name);

	Assert(nfields == ncolumns);
	memcpy(columns, bound, sizeof(DeltaColumn) * ncolumns);
	return NULL;
}

char *
delta_schema_string(const DeltaColumn *columns, int ncolumns)
{
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"type\":\"struct\",\"fields\":[");
	for (int i = 0; i < ncolumns; i++)
	{
		if (i > 0)
			appendStringInfoChar(&out, ',');
		appendStringInfoString(&out, "{\"name\":");
		escape_json(&out, columns[i].name);
		appendStringInfo(&out, ",\"type\":\"%s\",\"nullable\":%s,\"metadata\":{}}",
						 delta_type_name(&columns[i]),
						 columns[i].required ? "false" : "true");
	}
	appendStringInfoString(&out, "]}");
	return out.data;
}

/* ----------------------------------------------------------------
 * Value conversion
 * ----------------------------------------------------------------
 */

typedef enum NumericConversion
{
	NUMERIC_CONVERTED,
	NUMERIC_OUT_OF_RANGE,
	NUMERIC_NOT_A_NUMBER,
	NUMERIC_INFINITE
} NumericConversion;

/*
 * Reads a numeric's stored form directly into an unscaled integer at the
 * target scale, rounding half away from zero like a cast to numeric(p,s).
 *
 * The layout (16-bit header, a 16-bit weight unless the header is the short
 * kind, then base-10000 digits, most significant first) is the on-disk
 * format, which pg_upgrade keeps stable across major versions; decoding it
 * here saves a text round trip per value.
 */
static NumericConversion
numeric_to_unscaled(Datum datum, int precision, int scale, int128 *result)
{
	struct varlena *value = (struct varlena *) DatumGetPointer(datum);
	const char *data;
	int			length;
	uint16		header;
	int			weight;
	bool		negative;
	const char *digits;
	int			ndigits;
	uint128		limit = power_of_ten[precision];
	uint128		magnitude = 0;
	bool		round_up = false;

	if (VARATT_IS_EXTENDED(value))
		value = pg_detoast_datum_packed(value);
	data = VARDATA_ANY(value);
	length = VARSIZE_ANY_EXHDR(value);

	memcpy(&header, data, sizeof(uint16));
	if ((header & 0xC000) == 0xC000)
		return header == 0xC000 ? NUMERIC_NOT_A_NUMBER : NUMERIC_INFINITE;

	if (header & 0x8000)
	{
		/* short format: sign, display scale and a 7-bit weight in the header */
		negative = (header & 0x2000) != 0;
		weight = (header & 0x0040) ? (int) (header & 0x003F) - 64 : (int) (header & 0x003F);
		digits = data + sizeof(uint16);
	}
	else
	{
		int16		long_weight;

		negative = (header & 0xC000) == 0x4000;
		memcpy(&long_weight, data + sizeof(uint16), sizeof(int16));
		weight = long_weight;
		digits = data + 2 * sizeof(uint16);
	}
	ndigits = (length - (digits - data)) / (int) sizeof(int16);

	for (int i = 0; i < ndigits; i++)
	{
		int16		digit;
		int			exponent = 4 * (weight - i) + scale;

		memcpy(&digit, digits + i * sizeof(int16), sizeof(int16));

		if (exponent < 0)
		{
			/* this digit crosses or passes the scale: it decides rounding */
			if (exponent > -4)
			{
				int			dropped = -exponent;

				magnitude += (uint128) (digit / (int) power_of_ten[dropped]);
				round_up = (digit / (int) power_of_ten[dropped - 1]) % 10 >= 5;
			}
			else if (exponent == -4)
				round_up = digit >= 5000;
			break;
		}
		if (digit == 0)
			continue;
		if (exponent >= precision ||
			(precision - exponent <= 4 &&
			 (uint128) digit >= power_of_ten[precision - exponent]))
			return NUMERIC_OUT_OF_RANGE;
		magnitude += (uint128) digit * power_of_ten[exponent];
		if (magnitude >= limit)
			return NUMERIC_OUT_OF_RANGE;
	}
	if (round_up)
		magnitude++;
	if (magnitude >= limit)
		return NUMERIC_OUT_OF_RANGE;

	*result = negative ? -(int128) magnitude : (int128) magnitude;
	return NUMERIC_CONVERTED;
}

void
delta_append_decimal(StringInfo out, int128 unscaled, int scale)
{
	char		buffer[64];
	int			pos = sizeof(buffer);
	uint128		magnitude = unscaled < 0 ? -(uint128) unscaled : (uint128) unscaled;
	int			produced = 0;

	buffer[--pos] = '\0';
	while (magnitude > 0 || produced <= scale)
	{
		if (produced == scale && scale > 0)
			buffer[--pos] = '.';
		buffer[--pos] = (char) ('0' + (int) (magnitude % 10));
		magnitude /= 10;
		produced++;
	}
	if (unscaled < 0)
		buffer[--pos] = '-';
	appendStringInfoString(out, buffer + pos);
}

static void
put_server_string(ParquetWriter *writer, int column_number,
				  const char *data, int len)
{
	if (!database_is_utf8)
	{
		char	   *converted = pg_server_to_any(data, len, PG_UTF8);

		if (converted != data)
		{
			len = strlen(converted);
			data = converted;
		}
	}
	parquet_put_bytes(writer, column_number, data, len);
}

static void
put_text_datum(ParquetWriter *writer, int column_number, Datum datum)
{
	struct varlena *text = (struct varlena *) DatumGetPointer(datum);

	if (VARATT_IS_EXTENDED(text))
		text = pg_detoast_datum_packed(text);
	put_server_string(writer, column_number, VARDATA_ANY(text),
					  VARSIZE_ANY_EXHDR(text));
}

static void
put_uuid(ParquetWriter *writer, int column_number, pg_uuid_t *uuid)
{
	static const char hex[] = "0123456789abcdef";
	char		text[36];
	int			pos = 0;

	for (int i = 0; i < UUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			text[pos++] = '-';
		text[pos++] = hex[uuid->data[i] >> 4];
		text[pos++] = hex[uuid->data[i] & 0x0F];
	}
	parquet_put_bytes(writer, column_number, text, sizeof(text));
}

static void
put_numeric(ParquetWriter *writer, int column_number, DeltaColumn *column,
			Datum value)
{
	int128		unscaled = 0;

	if (column->type == DELTA_TYPE_STRING)
	{
		char	   *text = OutputFunctionCall(&column->output, value);

		parquet_put_bytes(writer, column_number, text, strlen(text));
		return;
	}

	switch (numeric_to_unscaled(value, column->precision, column->scale, &unscaled))
	{
		case NUMERIC_CONVERTED:
			break;
		case NUMERIC_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value %s of column \"%s\" does not fit the Delta type decimal(%d,%d)",
							DatumGetCString(DirectFunctionCall1(numeric_out, value)),
							column->source_name, column->precision, column->scale),
					 column->source_scale_known ? 0 :
					 errhint("Cast the column to numeric(p,s) in a query, or pass numeric_as => 'string'.")));
			break;
		case NUMERIC_NOT_A_NUMBER:
		case NUMERIC_INFINITE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value %s of column \"%s\" cannot be exported as a Delta decimal",
							DatumGetCString(DirectFunctionCall1(numeric_out, value)),
							column->source_name),
					 errdetail("Delta decimals have no NaN or infinity."),
					 errhint("Filter or replace these values in a query, or pass numeric_as => 'string' for unconstrained numeric columns.")));
			break;
	}
	parquet_put_decimal(writer, column_number, unscaled);
}

static void
refuse_infinite(DeltaColumn *column, const char *value)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("value %s of column \"%s\" cannot be exported to a Delta table",
					value, column->source_name),
			 errdetail("Delta dates and timestamps are finite."),
			 errhint("Filter or replace infinite values in a query.")));
}

void
delta_write_value(ParquetWriter *writer, int column_number,
				  DeltaColumn *column, Datum value, bool isnull)
{
	if (isnull)
	{
		if (column->required)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" violates the Delta table's not-null constraint",
							column->source_name)));
		parquet_put_null(writer, column_number);
		return;
	}

	switch (column->kind)
	{
		case DELTA_VALUE_BOOL:
			parquet_put_bool(writer, column_number, DatumGetBool(value));
			break;
		case DELTA_VALUE_INT2:
		case DELTA_VALUE_INT4:
		case DELTA_VALUE_INT8:
			{
				int64		integer;

				if (column->kind == DELTA_VALUE_INT2)
					integer = DatumGetInt16(value);
				else if (column->kind == DELTA_VALUE_INT4)
					integer = DatumGetInt32(value);
				else
					integer = DatumGetInt64(value);
				if (column->parquet.physical == PARQUET_INT32)
					parquet_put_int32(writer, column_number, (int32) integer);
				else
					parquet_put_int64(writer, column_number, integer);
			}
			break;
		case DELTA_VALUE_FLOAT4:
			if (column->parquet.physical == PARQUET_DOUBLE)
				parquet_put_double(writer, column_number, DatumGetFloat4(value));
			else
				parquet_put_float(writer, column_number, DatumGetFloat4(value));
			break;
		case DELTA_VALUE_FLOAT8:
			parquet_put_double(writer, column_number, DatumGetFloat8(value));
			break;
		case DELTA_VALUE_NUMERIC:
			put_numeric(writer, column_number, column, value);
			break;
		case DELTA_VALUE_TEXT:
			put_text_datum(writer, column_number, value);
			break;
		case DELTA_VALUE_BYTEA:
			{
				struct varlena *bytes = (struct varlena *) DatumGetPointer(value);

				if (VARATT_IS_EXTENDED(bytes))
					bytes = pg_detoast_datum_packed(bytes);
				parquet_put_bytes(writer, column_number, VARDATA_ANY(bytes),
								  VARSIZE_ANY_EXHDR(bytes));
			}
			break;
		case DELTA_VALUE_DATE:
			{
				DateADT		date = DatumGetDateADT(value);

				if (DATE_NOT_FINITE(date))
					refuse_infinite(column, DATE_IS_NOBEGIN(date) ? "-infinity" : "infinity");
				parquet_put_int32(writer, column_number, date + EPOCH_SHIFT_DAYS);
			}
			break;
		case DELTA_VALUE_TIMESTAMP:
			{
				Timestamp	timestamp = DatumGetTimestamp(value);
				int64		micros;

				if (TIMESTAMP_NOT_FINITE(timestamp))
					refuse_infinite(column, TIMESTAMP_IS_NOBEGIN(timestamp) ? "-infinity" : "infinity");
				if (pg_add_s64_overflow(timestamp, EPOCH_SHIFT_MICROS, &micros))
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("value of column \"%s\" is out of range for a Delta timestamp",
									column->source_name),
							 errdetail("Delta timestamps count 64-bit microseconds from 1970.")));
				parquet_put_int64(writer, column_number, micros);
			}
			break;
		case DELTA_VALUE_UUID:
			put_uuid(writer, column_number, DatumGetUUIDP(value));
			break;
		case DELTA_VALUE_ARRAY:
			put_text_datum(writer, column_number,
						   DirectFunctionCall1(array_to_json, value));
			break;
		case DELTA_VALUE_COMPOSITE:
			put_text_datum(writer, column_number,
						   DirectFunctionCall1(row_to_json, value));
			break;
		case DELTA_VALUE_OUTPUT:
			{
				char	   *text = OutputFunctionCall(&column->output, value);

				put_server_string(writer, column_number, text, strlen(text));
			}
			break;
	}
}
