/*-------------------------------------------------------------------------
 *
 * delta_stats.c
 *	  Per-file statistics of the Delta log's "add" actions.
 *
 * Readers skip files with these bounds, so a bound must never exclude a
 * value the file holds; when a bound cannot be written exactly in the form
 * readers parse, it is left out (which only costs skipping), never guessed:
 *  - timestamps are written in milliseconds, the minimum rounded down and the
 *	  maximum rounded up; dates and timestamps outside years 1..9999 are left
 *	  out (readers parse four-digit years only);
 *  - floating point bounds are left out when the file holds NaN or an
 *	  infinity;
 *  - strings are cut to 32 characters: a cut minimum is still a lower bound,
 *	  a cut maximum gets U+10FFFF appended, which sorts after any character
 *	  it replaced (and the maximum is left out in the one case it would not);
 *  - decimals are exact JSON numbers;
 *  - booleans and binaries get no bounds (Delta readers expect none).
 * nullCount is always written for every column, and numRecords exactly.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/json.h"

#include "delta/delta_stats.h"

#define STRING_PREFIX_CHARACTERS 32

/* UTF-8 of U+10FFFF, the largest code point */
#define MAX_CHARACTER_UTF8 "\xF4\x8F\xBF\xBF"

typedef enum Bound
{
	BOUND_MIN,
	BOUND_MAX
} Bound;

/* yyyy-mm-dd of days since 1970; false outside years 1..9999 */
static bool
format_date(char *out, int64 days)
{
	int			year;
	int			month;
	int			day;

	if (days < -719162 || days > 2932896)	/* 0001-01-01 .. 9999-12-31 */
		return false;
	j2date((int) (days + UNIX_EPOCH_JDATE), &year, &month, &day);
	sprintf(out, "%04d-%02d-%02d", year, month, day);
	return true;
}

static bool
append_timestamp(StringInfo out, int64 micros, Bound bound, bool utc)
{
	int64		millis;
	int64		days;
	int64		ms_of_day;
	char		date[16];

	/* milliseconds, rounded outwards so the bound still holds */
	millis = micros / 1000;
	if (bound == BOUND_MIN && micros % 1000 < 0)
		millis--;
	if (bound == BOUND_MAX && micros % 1000 > 0)
		millis++;

	days = millis / 86400000;
	ms_of_day = millis % 86400000;
	if (ms_of_day < 0)
	{
		ms_of_day += 86400000;
		days--;
	}
	if (!format_date(date, days))
		return false;
	appendStringInfo(out, "\"%sT%02d:%02d:%02d.%03d%s\"", date,
					 (int) (ms_of_day / 3600000),
					 (int) (ms_of_day / 60000 % 60),
					 (int) (ms_of_day / 1000 % 60),
					 (int) (ms_of_day % 1000),
					 utc ? "Z" : "");
	return true;
}

/* Byte length of the first n characters of a UTF-8 string. */
static int
utf8_prefix_length(const char *data, int len, int characters, bool *cut)
{
	int			pos = 0;

	for (int i = 0; i < characters && pos < len; i++)
		pos += pg_utf_mblen((const unsigned char *) data + pos);
	if (pos > len)
		pos = len;
	*cut = pos < len;
	return pos;
}

static bool
append_string(StringInfo out, const StringInfoData *value, Bound bound)
{
	bool		cut;
	int			length = utf8_prefix_length(value->data, value->len,
											STRING_PREFIX_CHARACTERS, &cut);
	StringInfoData text;

	initStringInfo(&text);
	appendBinaryStringInfo(&text, value->data, length);
	if (cut && bound == BOUND_MAX)
	{
		/* a cut max must still sort after the value it stands for */
		if (value->len - length >= 4 &&
			memcmp(value->data + length, MAX_CHARACTER_UTF8, 4) == 0)
			return false;
		appendStringInfoString(&text, MAX_CHARACTER_UTF8);
	}
	escape_json(out, text.data);
	pfree(text.data);
	return true;
}

static bool
append_float(StringInfo out, const DeltaColumn *column,
			 const ParquetColumnStats *stats, Bound bound)
{
	double		value = bound == BOUND_MIN ? stats->min_float : stats->max_float;
	char		buffer[64];

	if (stats->nan_count > 0 || isinf(stats->min_float) || isinf(stats->max_float))
		return false;
	if (column->type == DELTA_TYPE_FLOAT)
		float_to_shortest_decimal_buf((float) value, buffer);
	else
		double_to_shortest_decimal_buf(value, buffer);
	appendStringInfoString(out, buffer);
	return true;
}

/* Appends the JSON value of a bound; false if it must be left out. */
static bool
append_bound(StringInfo out, const DeltaColumn *column,
			 const ParquetColumnStats *stats, Bound bound)
{
	int64		integer = bound == BOUND_MIN ? stats->min_int : stats->max_int;

	switch (column->type)
	{
		case DELTA_TYPE_BOOLEAN:
		case DELTA_TYPE_BINARY:
			return false;
		case DELTA_TYPE_SHORT:
		case DELTA_TYPE_INTEGER:
		case DELTA_TYPE_LONG:
			appendStringInfo(out, INT64_FORMAT, integer);
			return true;
		case DELTA_TYPE_FLOAT:
		case DELTA_TYPE_DOUBLE:
			return append_float(out, column, stats, bound);
		case DELTA_TYPE_DECIMAL:
			delta_append_decimal(out, bound == BOUND_MIN ?
								 stats->min_decimal : stats->max_decimal,
								 column->scale);
			return true;
		case DELTA_TYPE_STRING:
			return append_string(out, bound == BOUND_MIN ?
								 &stats->min_bytes : &stats->max_bytes, bound);
		case DELTA_TYPE_DATE:
			{
				char		date[16];

				if (!format_date(date, integer))
					return false;
				appendStringInfo(out, "\"%s\"", date);
				return true;
			}
		case DELTA_TYPE_TIMESTAMP:
		case DELTA_TYPE_TIMESTAMP_NTZ:
			return append_timestamp(out, integer, bound,
									column->type == DELTA_TYPE_TIMESTAMP);
	}
	return false;
}

static void
append_bounds(StringInfo out, const DeltaColumn *columns, int ncolumns,
			  ParquetWriter *writer, Bound bound)
{
	bool		first = true;

	appendStringInfoChar(out, '{');
	for (int c = 0; c < ncolumns; c++)
	{
		const ParquetColumnStats *stats = parquet_writer_column_stats(writer, c);
		StringInfoData value;

		if (!stats->has_bounds)
			continue;
		initStringInfo(&value);
		if (append_bound(&value, &columns[c], stats, bound))
		{
			if (!first)
				appendStringInfoChar(out, ',');
			escape_json(out, columns[c].name);
			appendStringInfoChar(out, ':');
			appendBinaryStringInfo(out, value.data, value.len);
			first = false;
		}
		pfree(value.data);
	}
	appendStringInfoChar(out, '}');
}

char *
delta_file_stats(const DeltaColumn *columns, int ncolumns,
				 ParquetWriter *writer, int64 num_records)
{
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfo(&out, "{\"numRecords\":" INT64_FORMAT ",\"minValues\":",
					 num_records);
	append_bounds(&out, columns, ncolumns, writer, BOUND_MIN);
	appendStringInfoString(&out, ",\"maxValues\":");
	append_bounds(&out, columns, ncolumns, writer, BOUND_MAX);
	appendStringInfoString(&out, ",\"nullCount\":{");
	for (int c = 0; c < ncolumns; c++)
	{
		if (c > 0)
			appendStringInfoChar(&out, ',');
		escape_json(&out, columns[c].name);
		appendStringInfo(&out, ":" INT64_FORMAT,
						 parquet_writer_column_stats(writer, c)->null_count);
	}
	appendStringInfoString(&out, "}}");
	return out.data;
}
