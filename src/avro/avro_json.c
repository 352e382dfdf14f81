/*-------------------------------------------------------------------------
 *
 * avro_json.c
 *	  Reading Avro binary: varints, skipping values, and rendering a value
 *	  as JSON text (for jsonb/json/text columns and kafka.from_avro).
 *
 * Every read checks the bytes left first.  Rendering: records and maps as
 * objects, arrays as arrays, unions as their branch's value (not wrapped
 * in an object), bytes and fixed as "\\x..." hex strings (PostgreSQL's
 * to_json of bytea), enums as their symbol, decimals as JSON numbers,
 * date/time/timestamp logical types as ISO 8601 strings (timestamps in
 * UTC), NaN and infinities as strings.
 *
 * IDENTIFICATION
 *	  src/avro/avro_json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "miscadmin.h"
#include "datatype/timestamp.h"
#include "utils/datetime.h"

#include "avro/avro.h"
#include "avro/avro_values.h"

bool
avro_read_long(AvroCursor *cursor, int64 *value)
{
	uint64		result = 0;
	int			shift = 0;

	while (cursor->p < cursor->end)
	{
		uint8		byte = *cursor->p++;

		if (shift == 63 && (byte & 0x7e) != 0)
			return false;		/* more than 64 bits */
		result |= (uint64) (byte & 0x7f) << shift;
		if ((byte & 0x80) == 0)
		{
			*value = (int64) (result >> 1) ^ -(int64) (result & 1);
			return true;
		}
		shift += 7;
		if (shift > 63)
			return false;
	}
	return false;
}

bool
avro_read_length(AvroCursor *cursor, size_t *length)
{
	int64		value;

	if (!avro_read_long(cursor, &value) || value < 0 ||
		(uint64) value > (uint64) (cursor->end - cursor->p))
		return false;
	*length = (size_t) value;
	return true;
}

/*
 * Block count of an array or map; a negative count is followed by the
 * block's size in bytes.  Counts are bounded by the bytes left and by
 * AVRO_MAX_ITEMS.
 */
bool
avro_read_block_count(AvroCursor *cursor, int64 *count)
{
	int64		value;

	if (!avro_read_long(cursor, &value))
		return false;
	if (value < 0)
	{
		int64		size;

		if (value == PG_INT64_MIN || !avro_read_long(cursor, &size) || size < 0)
			return false;
		value = -value;
	}
	/*
	 * Every item but a zero-sized one takes a byte; a little slack lets a
	 * few nulls through at the very end, but a count can never make the
	 * work much larger than the payload.
	 */
	if (value > AVRO_MAX_ITEMS ||
		value > (int64) (cursor->end - cursor->p) + AVRO_ZERO_SIZE_SLACK)
		return false;
	*count = value;
	return true;
}

bool
avro_skip_value(AvroCursor *cursor, const AvroNode *node, int depth)
{
	int64		value;
	size_t		length;

	/* recursive schemas can describe values of any depth */
	if (depth > AVRO_MAX_DEPTH || stack_is_too_deep())
	{
		cursor->too_deep = true;
		return false;
	}
	switch (node->type)
	{
		case AVRO_NULL:
			return true;
		case AVRO_BOOLEAN:
			if (cursor->p >= cursor->end || *cursor->p > 1)
				return false;
			cursor->p++;
			return true;
		case AVRO_INT:
		case AVRO_LONG:
		case AVRO_ENUM:
			return avro_read_long(cursor, &value);
		case AVRO_FLOAT:
		case AVRO_DOUBLE:
			length = node->type == AVRO_FLOAT ? 4 : 8;
			if ((size_t) (cursor->end - cursor->p) < length)
				return false;
			cursor->p += length;
			return true;
		case AVRO_BYTES:
		case AVRO_STRING:
			if (!avro_read_length(cursor, &length))
				return false;
			cursor->p += length;
			return true;
		case AVRO_FIXED:
			if ((size_t) (cursor->end - cursor->p) < (size_t) node->fixed_size)
				return false;
			cursor->p += node->fixed_size;
			return true;
		case AVRO_RECORD:
			for (int i = 0; i < node->nchildren; i++)
			{
				if (!avro_skip_value(cursor, node->children[i], depth + 1))
					return false;
			}
			return true;
		case AVRO_UNION:
			if (!avro_read_long(cursor, &value) || value < 0 ||
				value >= node->nchildren)
				return false;
			return avro_skip_value(cursor, node->children[value], depth + 1);
		case AVRO_ARRAY:
		case AVRO_MAP:
			for (;;)
			{
				int64		count;

				if (!avro_read_block_count(cursor, &count))
					return false;
				if (count == 0)
					return true;
				for (int64 i = 0; i < count; i++)
				{
					CHECK_FOR_INTERRUPTS();
					if (node->type == AVRO_MAP &&
						!avro_skip_value(cursor, &avro_string_node, depth + 1))
						return false;
					if (!avro_skip_value(cursor, node->children[0], depth + 1))
						return false;
				}
			}
	}
	return false;
}

void
avro_append_hex(StringInfo out, const uint8 *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	appendBinaryStringInfo(out, "\\x", 2);
	enlargeStringInfo(out, (int) (len * 2));
	for (size_t i = 0; i < len; i++)
	{
		out->data[out->len++] = hex[data[i] >> 4];
		out->data[out->len++] = hex[data[i] & 15];
	}
	out->data[out->len] = '\0';
}

/*
 * Decimal text of a big-endian two's complement unscaled value with scale
 * digits after the point.  Inputs are at most a few hundred bytes (checked
 * by the caller), so schoolbook division is fine.
 */
void
avro_append_decimal(StringInfo out, const uint8 *data, size_t len, int scale)
{
	uint8	   *magnitude = palloc(Max(len, 1));
	bool		negative = len > 0 && (data[0] & 0x80) != 0;
	char	   *digits = palloc(len * 3 + 2);
	int			ndigits = 0;
	size_t		start = 0;

	memcpy(magnitude, data, len);
	if (negative)
	{
		int			carry = 1;

		for (size_t i = len; i-- > 0;)
		{
			int			v = (uint8) ~magnitude[i] + carry;

			magnitude[i] = (uint8) v;
			carry = v >> 8;
		}
	}
	while (start < len && magnitude[start] == 0)
		start++;
	while (start < len)
	{
		int			remainder = 0;

		for (size_t i = start; i < len; i++)
		{
			int			v = (remainder << 8) | magnitude[i];

			magnitude[i] = (uint8) (v / 10);
			remainder = v % 10;
		}
		digits[ndigits++] = (char) ('0' + remainder);
		while (start < len && magnitude[start] == 0)
			start++;
	}
	if (negative && ndigits > 0)
		appendStringInfoChar(out, '-');
	/* digits are least significant first; pad to have one before the point */
	while (ndigits <= scale)
		digits[ndigits++] = '0';
	for (int i = ndigits; i-- > 0;)
	{
		appendStringInfoChar(out, digits[i]);
		if (i == scale && scale > 0)
			appendStringInfoChar(out, '.');
	}
	pfree(magnitude);
	pfree(digits);
}

void
avro_append_double(StringInfo out, double value, bool json)
{
	char		buffer[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(value) || isinf(value))
	{
		const char *text = isnan(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";

		if (json)
			appendStringInfo(out, "\"%s\"", text);
		else
			appendStringInfoString(out, text);
		return;
	}
	double_to_shortest_decimal_buf(value, buffer);
	appendStringInfoString(out, buffer);
}

/* PostgreSQL timestamp from Unix microseconds; false when out of range. */
bool
avro_unix_micros_to_timestamp(int64 micros, Timestamp *result)
{
	const int64 epoch_shift = (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

	if (micros < PG_INT64_MIN + epoch_shift)
		return false;
	*result = micros - epoch_shift;
	return IS_VALID_TIMESTAMP(*result);
}

bool
avro_append_timestamp(StringInfo out, Timestamp timestamp, bool with_zone)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(timestamp, NULL, &tm, &fsec, NULL, NULL) != 0)
		return false;
	appendStringInfo(out, "%04d-%02d-%02dT%02d:%02d:%02d",
					 tm.tm_year > 0 ? tm.tm_year : -(tm.tm_year - 1),
					 tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (fsec != 0)
		appendStringInfo(out, ".%06d", (int) fsec);
	if (with_zone)
		appendStringInfoString(out, "+00:00");
	if (tm.tm_year <= 0)
		appendStringInfoString(out, " BC");
	return true;
}

bool
avro_append_date(StringInfo out, int64 days)
{
	int			year,
				month,
				day;

	if (days < -(POSTGRES_EPOCH_JDATE) || days > 100000000)
		return false;
	j2date((int) (days + UNIX_EPOCH_JDATE), &year, &month, &day);
	if (year <= 0)
		appendStringInfo(out, "%04d-%02d-%02d BC", -(year - 1), month, day);
	else
		appendStringInfo(out, "%04d-%02d-%02d", year, month, day);
	return true;
}

bool
avro_append_time(StringInfo out, int64 micros)
{
	if (micros < 0 || micros > USECS_PER_DAY)
		return false;
	appendStringInfo(out, "%02d:%02d:%02d",
					 (int) (micros / USECS_PER_HOUR),
					 (int) (micros / USECS_PER_MINUTE % 60),
					 (int) (micros / USECS_PER_SEC % 60));
	if (micros % USECS_PER_SEC != 0)
		appendStringInfo(out, ".%06d", (int) (micros % USECS_PER_SEC));
	return true;
}

/* Microseconds of a time or timestamp logical type, false on overflow. */
bool
avro_logical_micros(const AvroNode *node, int64 value, int64 *micros)
{
	switch (node->logical)
	{
		case AVRO_LOGICAL_TIME_MILLIS:
		case AVRO_LOGICAL_TIMESTAMP_MILLIS:
		case AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
			if (value > PG_INT64_MAX / 1000 || value < PG_INT64_MIN / 1000)
				return false;
			*micros = value * 1000;
			return true;
		default:
			*micros = value;
			return true;
	}
}

static bool
json_fail(char **error, const char *message)
{
	*error = pstrdup(message);
	return false;
}

/*
 * Text of a scalar value (no quotes for strings), for columns and for the
 * JSON rendering.  Sets *is_string when JSON needs quotes around it.
 * String contents are checked for UTF-8 validity and zero bytes.
 */
bool
avro_scalar_text(AvroCursor *cursor, const AvroNode *node, StringInfo out,
				 bool *is_string, char **error)
{
	int64		value;
	size_t		length;
	int64		micros;
	Timestamp	timestamp;

	*is_string = false;
	switch (node->type)
	{
		case AVRO_NULL:
			appendStringInfoString(out, "null");
			return true;
		case AVRO_BOOLEAN:
			if (cursor->p >= cursor->end)
				return json_fail(error, "truncated Avro payload");
			if (*cursor->p > 1)
				return json_fail(error, "invalid Avro boolean");
			appendStringInfoString(out, *cursor->p++ ? "true" : "false");
			return true;
		case AVRO_INT:
		case AVRO_LONG:
			if (!avro_read_long(cursor, &value))
				return json_fail(error, "truncated or invalid Avro varint");
			if (node->type == AVRO_INT && (value < PG_INT32_MIN || value > PG_INT32_MAX))
				return json_fail(error, "Avro int out of range");
			switch (node->logical)
			{
				case AVRO_LOGICAL_DATE:
					*is_string = true;
					if (!avro_append_date(out, value))
						return json_fail(error, "Avro date out of range");
					return true;
				case AVRO_LOGICAL_TIME_MILLIS:
				case AVRO_LOGICAL_TIME_MICROS:
					*is_string = true;
					if (!avro_logical_micros(node, value, &micros) ||
						!avro_append_time(out, micros))
						return json_fail(error, "Avro time of day out of range");
					return true;
				case AVRO_LOGICAL_TIMESTAMP_MILLIS:
				case AVRO_LOGICAL_TIMESTAMP_MICROS:
				case AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
				case AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
					*is_string = true;
					if (!avro_logical_micros(node, value, &micros) ||
						!avro_unix_micros_to_timestamp(micros, &timestamp) ||
						!avro_append_timestamp(out, timestamp,
											   node->logical == AVRO_LOGICAL_TIMESTAMP_MILLIS ||
											   node->logical == AVRO_LOGICAL_TIMESTAMP_MICROS))
						return json_fail(error, "Avro timestamp out of range");
					return true;
				default:
					appendStringInfo(out, INT64_FORMAT, value);
					return true;
			}
		case AVRO_FLOAT:
		case AVRO_DOUBLE:
			{
				double		d;

				if (node->type == AVRO_FLOAT)
				{
					float4		f;

					if (!avro_read_float(cursor, &f))
						return json_fail(error, "truncated Avro payload");
					if (isnan(f) || isinf(f))
						d = f;
					else
					{
						char		buffer[FLOAT_SHORTEST_DECIMAL_LEN];

						float_to_shortest_decimal_buf(f, buffer);
						appendStringInfoString(out, buffer);
						return true;
					}
				}
				else if (!avro_read_double(cursor, &d))
					return json_fail(error, "truncated Avro payload");
				if (isnan(d) || isinf(d))
					*is_string = true;
				avro_append_double(out, d, false);
				return true;
			}
		case AVRO_STRING:
			if (!avro_read_length(cursor, &length))
				return json_fail(error, "truncated Avro payload");
			if (kafka_utf8_invalid_offset((const char *) cursor->p, length, true) >= 0)
				return json_fail(error, "invalid UTF-8 or zero byte in an Avro string");
			*is_string = true;
			appendBinaryStringInfo(out, (const char *) cursor->p, (int) length);
			cursor->p += length;
			return true;
		case AVRO_BYTES:
		case AVRO_FIXED:
			if (node->type == AVRO_BYTES)
			{
				if (!avro_read_length(cursor, &length))
					return json_fail(error, "truncated Avro payload");
			}
			else
			{
				length = node->fixed_size;
				if ((size_t) (cursor->end - cursor->p) < length)
					return json_fail(error, "truncated Avro payload");
			}
			if (node->logical == AVRO_LOGICAL_DECIMAL)
			{
				if (length > AVRO_MAX_DECIMAL_BYTES)
					return json_fail(error, "Avro decimal too large");
				avro_append_decimal(out, cursor->p, length, node->scale);
			}
			else
			{
				*is_string = true;
				avro_append_hex(out, cursor->p, length);
			}
			cursor->p += length;
			return true;
		case AVRO_ENUM:
			if (!avro_read_long(cursor, &value))
				return json_fail(error, "truncated or invalid Avro varint");
			if (value < 0 || value >= node->nsymbols)
				return json_fail(error, "Avro enum index out of range");
			*is_string = true;
			appendStringInfoString(out, node->symbols[value]);
			return true;
		default:
			break;
	}
	elog(ERROR, "not an Avro scalar type: %d", (int) node->type);
	return false;
}

bool
kafka_avro_value_to_json(AvroCursor *cursor, const AvroNode *node, StringInfo out,
				   int depth, char **error)
{
	int64		value;

	if (depth > AVRO_MAX_DEPTH || stack_is_too_deep())
	{
		*error = psprintf("Avro value nested too deeply (more than %d levels)",
						  AVRO_MAX_DEPTH);
		return false;
	}
	switch (node->type)
	{
		case AVRO_RECORD:
			appendStringInfoChar(out, '{');
			for (int i = 0; i < node->nchildren; i++)
			{
				if (i > 0)
					appendStringInfoChar(out, ',');
				kafka_append_json_string(out, node->field_names[i],
										 strlen(node->field_names[i]));
				appendStringInfoChar(out, ':');
				if (!kafka_avro_value_to_json(cursor, node->children[i], out,
										depth + 1, error))
					return false;
			}
			appendStringInfoChar(out, '}');
			return true;
		case AVRO_UNION:
			if (!avro_read_long(cursor, &value))
				return json_fail(error, "truncated or invalid Avro varint");
			if (value < 0 || value >= node->nchildren)
				return json_fail(error, "Avro union branch index out of range");
			return kafka_avro_value_to_json(cursor, node->children[value], out,
									  depth + 1, error);
		case AVRO_ARRAY:
		case AVRO_MAP:
			{
				bool		first = true;

				appendStringInfoChar(out, node->type == AVRO_ARRAY ? '[' : '{');
				for (;;)
				{
					int64		count;

					if (!avro_read_block_count(cursor, &count))
						return json_fail(error, "truncated or invalid Avro block count");
					if (count == 0)
						break;
					for (int64 i = 0; i < count; i++)
					{
						CHECK_FOR_INTERRUPTS();
						if (!first)
							appendStringInfoChar(out, ',');
						first = false;
						if (node->type == AVRO_MAP)
						{
							size_t		length;

							if (!avro_read_length(cursor, &length))
								return json_fail(error, "truncated Avro payload");
							if (kafka_utf8_invalid_offset((const char *) cursor->p, length, true) >= 0)
								return json_fail(error, "invalid UTF-8 or zero byte in an Avro map key");
							kafka_append_json_string(out, (const char *) cursor->p,
													 (int) length);
							cursor->p += length;
							appendStringInfoChar(out, ':');
						}
						if (!kafka_avro_value_to_json(cursor, node->children[0], out,
												depth + 1, error))
							return false;
					}
				}
				appendStringInfoChar(out, node->type == AVRO_ARRAY ? ']' : '}');
				return true;
			}
		default:
			{
				StringInfoData text;
				bool		is_string;

				if (node->type == AVRO_STRING)
				{
					size_t		length;

					/* straight from the payload, no copy */
					if (!avro_read_length(cursor, &length))
						return json_fail(error, "truncated Avro payload");
					if (kafka_utf8_invalid_offset((const char *) cursor->p, length, true) >= 0)
						return json_fail(error, "invalid UTF-8 or zero byte in an Avro string");
					kafka_append_json_string(out, (const char *) cursor->p, (int) length);
					cursor->p += length;
					return true;
				}
				initStringInfo(&text);
				if (!avro_scalar_text(cursor, node, &text, &is_string, error))
					return false;
				if (is_string)
					kafka_append_json_string(out, text.data, text.len);
				else
					appendBinaryStringInfo(out, text.data, text.len);
				pfree(text.data);
				return true;
			}
	}
}
