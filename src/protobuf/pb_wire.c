/*-------------------------------------------------------------------------
 *
 * pb_wire.c
 *	  Reading the Protobuf wire format, and rendering messages as JSON
 *	  (kafka.from_protobuf's result, and jsonb columns).
 *
 * A message is first split into its field occurrences (pb_scan_message):
 * one pass that checks every tag, varint and length against the bytes
 * left and skips unknown fields, so what follows works on checked spans.
 * Groups (deprecated proto2) are skipped when unknown, with their nesting
 * counted, and refused when a field of the schema is one.
 *
 * JSON follows Protobuf's JSON mapping with the field names of the .proto
 * (as Spark's from_protobuf names struct fields), except that 64-bit
 * integers are JSON numbers (jsonb keeps them exactly): enums by name (or
 * number with enums.as.ints, and when the number has no name), bytes as
 * base64, maps as objects, Timestamp as RFC 3339 text in UTC, Duration as
 * seconds with an "s", the wrappers as their value, Struct, Value and
 * ListValue as the JSON they hold, Any as an object with "@type".  Absent
 * fields are left out unless emit_defaults asks for their default value.
 * A non-repeated field given several times takes its last occurrence, a
 * oneof its last member set.
 *
 * IDENTIFICATION
 *	  src/protobuf/pb_wire.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/base64.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "miscadmin.h"
#include "utils/datetime.h"

#include "codec/codec_internal.h"
#include "protobuf/protobuf.h"

/* protobuf's Timestamp range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z */
#define PB_MIN_TIMESTAMP_SECONDS INT64CONST(-62135596800)
#define PB_MAX_TIMESTAMP_SECONDS INT64CONST(253402300799)
#define PB_MAX_DURATION_SECONDS INT64CONST(315576000000)

/* ---- the wire ----------------------------------------------------------- */

/*
 * A varint: at most ten bytes, the tenth carrying only the top bit.  Inline
 * for the loops of this file, exported as pb_read_varint.
 */
static inline bool
read_varint_inline(PbCursor *cursor, uint64 *value)
{
	const uint8 *p = cursor->p;
	uint64		result = 0;

	/* most varints (tags, small numbers, lengths) are one byte */
	if (likely(p < cursor->end && *p < 0x80))
	{
		*value = *p;
		cursor->p = p + 1;
		return true;
	}
	for (int shift = 0; shift <= 63; shift += 7)
	{
		uint8		byte;

		if (p >= cursor->end)
			return false;
		byte = *p++;
		/* the tenth byte may only carry the top bit */
		if (shift == 63 && (byte & 0x7e) != 0)
			return false;
		result |= (uint64) (byte & 0x7f) << shift;
		if ((byte & 0x80) == 0)
		{
			*value = result;
			cursor->p = p;
			return true;
		}
	}
	return false;
}

bool
pb_read_varint(PbCursor *cursor, uint64 *value)
{
	return read_varint_inline(cursor, value);
}

static inline bool
read_tag_inline(PbCursor *cursor, int32 *number, int *wire_type)
{
	uint64		tag;

	if (!read_varint_inline(cursor, &tag) || tag > PG_UINT32_MAX)
		return false;
	*number = (int32) (tag >> 3);
	*wire_type = (int) (tag & 7);
	return *number > 0 && *wire_type != 6 && *wire_type != 7;
}

bool
pb_read_tag(PbCursor *cursor, int32 *number, int *wire_type)
{
	return read_tag_inline(cursor, number, wire_type);
}

static inline bool
read_length(PbCursor *cursor, const uint8 **data, size_t *len)
{
	uint64		length;

	if (!read_varint_inline(cursor, &length) ||
		length > (uint64) (cursor->end - cursor->p))
		return false;
	*data = cursor->p;
	*len = (size_t) length;
	cursor->p += length;
	return true;
}

/*
 * Skips one value of wire_type (its tag read).  A group ends at the
 * END_GROUP of the same number; groups nest, each level counted.
 */
bool
pb_skip_value(PbCursor *cursor, int wire_type, int32 number, int depth,
			  bool *too_deep)
{
	uint64		ignored;
	const uint8 *data;
	size_t		len;

	switch (wire_type)
	{
		case PB_WIRE_VARINT:
			return pb_read_varint(cursor, &ignored);
		case PB_WIRE_FIXED64:
			if (cursor->end - cursor->p < 8)
				return false;
			cursor->p += 8;
			return true;
		case PB_WIRE_FIXED32:
			if (cursor->end - cursor->p < 4)
				return false;
			cursor->p += 4;
			return true;
		case PB_WIRE_LEN:
			return read_length(cursor, &data, &len);
		case PB_WIRE_START_GROUP:
			if (depth > PB_MAX_DEPTH)
			{
				*too_deep = true;
				return false;
			}
			for (;;)
			{
				int32		inner;
				int			inner_wire;

				if (!pb_read_tag(cursor, &inner, &inner_wire))
					return false;
				if (inner_wire == PB_WIRE_END_GROUP)
					return inner == number;
				if (!pb_skip_value(cursor, inner_wire, inner, depth + 1, too_deep))
					return false;
			}
		default:
			return false;
	}
}

/* The wire type a value of the field is written with (not packed). */
int
pb_wire_type(PbType type)
{
	switch (type)
	{
		case PB_DOUBLE:
		case PB_FIXED64:
		case PB_SFIXED64:
			return PB_WIRE_FIXED64;
		case PB_FLOAT:
		case PB_FIXED32:
		case PB_SFIXED32:
			return PB_WIRE_FIXED32;
		case PB_STRING:
		case PB_BYTES:
		case PB_MESSAGE:
			return PB_WIRE_LEN;
		case PB_GROUP:
			return PB_WIRE_START_GROUP;
		default:
			return PB_WIRE_VARINT;
	}
}

bool
pb_scan_message(const PbMessage *message, const uint8 *data, size_t len,
				PbOccurrence **occurrences, int *capacity, int *count,
				int depth, bool *too_deep)
{
	PbCursor	cursor = {data, data + len};
	int			n = 0;

	*count = 0;
	while (cursor.p < cursor.end)
	{
		int32		number;
		int			wire_type;
		const PbField *field;
		PbOccurrence *occurrence;
		const uint8 *start;

		if (!read_tag_inline(&cursor, &number, &wire_type) ||
			wire_type == PB_WIRE_END_GROUP)
			return false;
		if (number < message->by_number_size)
			field = message->by_number[number] >= 0 ?
				&message->fields[message->by_number[number]] : NULL;
		else
			field = pb_message_field(message, number);
		if (field == NULL || field->type == PB_GROUP)
		{
			/* unknown fields, and groups (never mapped), are skipped */
			if (!pb_skip_value(&cursor, wire_type, number, depth + 1, too_deep))
				return false;
			continue;
		}
		if (wire_type != pb_wire_type(field->type) &&
			!(wire_type == PB_WIRE_LEN && field->repeated &&
			  pb_type_is_packable(field->type)))
			return false;
		if (n == *capacity)
		{
			/* at most one occurrence per two bytes: bounded by the payload */
			int			grown = *capacity ? *capacity * 2 : 16;

			*occurrences = *occurrences ?
				repalloc_huge(*occurrences, sizeof(PbOccurrence) * grown) :
				palloc_extended(sizeof(PbOccurrence) * grown, MCXT_ALLOC_HUGE);
			*capacity = grown;
		}
		occurrence = &(*occurrences)[n++];
		occurrence->field = (int) (field - message->fields);
		occurrence->number = number;
		occurrence->wire_type = wire_type;
		occurrence->data = NULL;
		occurrence->len = 0;
		occurrence->scalar = 0;
		start = cursor.p;
		switch (wire_type)
		{
			case PB_WIRE_VARINT:
				if (!read_varint_inline(&cursor, &occurrence->scalar))
					return false;
				break;
			case PB_WIRE_FIXED64:
				if (cursor.end - cursor.p < 8)
					return false;
				for (int i = 7; i >= 0; i--)
					occurrence->scalar = (occurrence->scalar << 8) | start[i];
				cursor.p += 8;
				break;
			case PB_WIRE_FIXED32:
				if (cursor.end - cursor.p < 4)
					return false;
				for (int i = 3; i >= 0; i--)
					occurrence->scalar = (occurrence->scalar << 8) | start[i];
				cursor.p += 4;
				break;
			case PB_WIRE_LEN:
				if (!read_length(&cursor, &occurrence->data, &occurrence->len))
					return false;
				break;
		}
		*count = n;
	}
	return true;
}

/* ---- JSON --------------------------------------------------------------- */

static void
append_base64(StringInfo out, const uint8 *data, size_t len)
{
	int			encoded_len = pg_b64_enc_len((int) len);

	appendStringInfoChar(out, '"');
	enlargeStringInfo(out, encoded_len + 1);
	encoded_len = pg_b64_encode((const char *) data, (int) len,
								out->data + out->len, encoded_len);
	out->len += Max(encoded_len, 0);
	out->data[out->len] = '\0';
	appendStringInfoChar(out, '"');
}

static void
append_double(StringInfo out, double d, bool is_float)
{
	char		buffer[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(d))
		appendStringInfoString(out, "\"NaN\"");
	else if (isinf(d))
		appendStringInfoString(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
	{
		if (is_float)
			float_to_shortest_decimal_buf((float) d, buffer);
		else
			double_to_shortest_decimal_buf(d, buffer);
		appendStringInfoString(out, buffer);
	}
}

bool
pb_timestamp_parts(const uint8 *data, size_t len, int64 *seconds, int32 *nanos)
{
	PbCursor	cursor = {data, data + len};

	*seconds = 0;
	*nanos = 0;
	while (cursor.p < cursor.end)
	{
		int32		number;
		int			wire_type;
		uint64		value;
		bool		too_deep = false;

		if (!read_tag_inline(&cursor, &number, &wire_type))
			return false;
		if ((number == 1 || number == 2) && wire_type == PB_WIRE_VARINT)
		{
			if (!read_varint_inline(&cursor, &value))
				return false;
			if (number == 1)
				*seconds = (int64) value;
			else
				*nanos = (int32) value;
		}
		else if (!pb_skip_value(&cursor, wire_type, number, 0, &too_deep))
			return false;
	}
	return true;
}

static bool
append_timestamp(StringInfo out, const uint8 *data, size_t len, char **error)
{
	int64		seconds;
	int32		nanos;
	int64		days;
	int64		rem;
	int			year,
				month,
				day;

	if (!pb_timestamp_parts(data, len, &seconds, &nanos))
		return false;
	if (seconds < PB_MIN_TIMESTAMP_SECONDS || seconds > PB_MAX_TIMESTAMP_SECONDS ||
		nanos < 0 || nanos > 999999999)
	{
		*error = psprintf("google.protobuf.Timestamp out of range (seconds " INT64_FORMAT ", nanos %d)",
						  seconds, nanos);
		return false;
	}
	days = seconds / SECS_PER_DAY;
	rem = seconds % SECS_PER_DAY;
	if (rem < 0)
	{
		rem += SECS_PER_DAY;
		days--;
	}
	j2date((int) (days + UNIX_EPOCH_JDATE), &year, &month, &day);
	appendStringInfo(out, "\"%04d-%02d-%02dT%02d:%02d:%02d", year, month, day,
					 (int) (rem / 3600), (int) (rem / 60 % 60), (int) (rem % 60));
	if (nanos % 1000000 == 0 && nanos != 0)
		appendStringInfo(out, ".%03d", nanos / 1000000);
	else if (nanos % 1000 == 0 && nanos != 0)
		appendStringInfo(out, ".%06d", nanos / 1000);
	else if (nanos != 0)
		appendStringInfo(out, ".%09d", nanos);
	appendStringInfoString(out, "Z\"");
	return true;
}

static bool
append_duration(StringInfo out, const uint8 *data, size_t len, char **error)
{
	int64		seconds;
	int32		nanos;

	if (!pb_timestamp_parts(data, len, &seconds, &nanos))
		return false;
	if (seconds < -PB_MAX_DURATION_SECONDS || seconds > PB_MAX_DURATION_SECONDS ||
		nanos < -999999999 || nanos > 999999999 ||
		(seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0))
	{
		*error = psprintf("google.protobuf.Duration out of range (seconds " INT64_FORMAT ", nanos %d)",
						  seconds, nanos);
		return false;
	}
	appendStringInfoChar(out, '"');
	if (seconds < 0 || nanos < 0)
		appendStringInfoChar(out, '-');
	appendStringInfo(out, INT64_FORMAT, seconds < 0 ? -seconds : seconds);
	if (nanos != 0)
	{
		int32		n = nanos < 0 ? -nanos : nanos;

		if (n % 1000000 == 0)
			appendStringInfo(out, ".%03d", n / 1000000);
		else if (n % 1000 == 0)
			appendStringInfo(out, ".%06d", n / 1000);
		else
			appendStringInfo(out, ".%09d", n);
	}
	appendStringInfoString(out, "s\"");
	return true;
}

static bool message_json(const PbMessage *message, const uint8 *data,
						 size_t len, const PbJsonOptions *options,
						 StringInfo out, int depth, char **error);

/* A scalar (or an enum) of a field as JSON. */
static bool
scalar_json(const PbField *field, uint64 v, const PbJsonOptions *options,
			StringInfo out)
{
	switch (field->type)
	{
		case PB_INT32:
		case PB_ENUM:
			if (field->type == PB_ENUM && !options->enums_as_ints)
			{
				const PbEnum *en = field->enumeration;

				for (int i = 0; i < en->nvalues; i++)
					if (en->numbers[i] == (int32) v)
					{
						kafka_append_json_string(out, en->names[i],
												 strlen(en->names[i]));
						return true;
					}
			}
			appendStringInfo(out, "%d", (int32) v);
			return true;
		case PB_SFIXED32:
			appendStringInfo(out, "%d", (int32) (uint32) v);
			return true;
		case PB_INT64:
		case PB_SFIXED64:
			appendStringInfo(out, INT64_FORMAT, (int64) v);
			return true;
		case PB_UINT32:
		case PB_FIXED32:
			appendStringInfo(out, "%u", (uint32) v);
			return true;
		case PB_UINT64:
		case PB_FIXED64:
			appendStringInfo(out, UINT64_FORMAT, v);
			return true;
		case PB_SINT32:
			appendStringInfo(out, "%d", (int32) ((uint32) (v >> 1) ^ -(uint32) (v & 1)));
			return true;
		case PB_SINT64:
			appendStringInfo(out, INT64_FORMAT, (int64) ((v >> 1) ^ -(v & 1)));
			return true;
		case PB_BOOL:
			appendStringInfoString(out, v ? "true" : "false");
			return true;
		case PB_FLOAT:
			{
				uint32		bits = (uint32) v;
				float		f;

				memcpy(&f, &bits, sizeof(f));
				append_double(out, f, true);
				return true;
			}
		case PB_DOUBLE:
			{
				double		d;

				memcpy(&d, &v, sizeof(d));
				append_double(out, d, false);
				return true;
			}
		default:
			return false;
	}
}

/* Reads one element of a packed run into *v. */
static bool
read_packed_element(PbCursor *cursor, PbType type, uint64 *v)
{
	int			wire = pb_wire_type(type);

	if (wire == PB_WIRE_VARINT)
		return pb_read_varint(cursor, v);
	*v = 0;
	if (wire == PB_WIRE_FIXED32)
	{
		if (cursor->end - cursor->p < 4)
			return false;
		for (int i = 3; i >= 0; i--)
			*v = (*v << 8) | cursor->p[i];
		cursor->p += 4;
		return true;
	}
	if (cursor->end - cursor->p < 8)
		return false;
	for (int i = 7; i >= 0; i--)
		*v = (*v << 8) | cursor->p[i];
	cursor->p += 8;
	return true;
}

bool
pb_field_value_to_json(const PbField *field, int wire_type, uint64 scalar,
					   const uint8 *data, size_t len,
					   const PbJsonOptions *options, StringInfo out,
					   int depth, char **error)
{
	switch (field->type)
	{
		case PB_STRING:
			if (kafka_utf8_invalid_offset((const char *) data, len, true) >= 0)
			{
				*error = psprintf("field \"%s\": string is not valid UTF-8 or contains a zero byte",
								  field->name);
				return false;
			}
			kafka_append_json_string(out, (const char *) data, (int) len);
			return true;
		case PB_BYTES:
			append_base64(out, data, len);
			return true;
		case PB_MESSAGE:
			return message_json(field->message, data, len, options, out,
								depth + 1, error);
		case PB_GROUP:
			*error = psprintf("field \"%s\" is a group, which is not supported",
							  field->name);
			return false;
		default:
			return scalar_json(field, scalar, options, out);
	}
}

void
pb_append_default_json(const PbField *field, const PbJsonOptions *options,
					   StringInfo out)
{
	if (field->repeated)
	{
		appendStringInfoString(out, field->message && field->message->map_entry ?
							   "{}" : "[]");
		return;
	}
	switch (field->type)
	{
		case PB_STRING:
			if (field->default_value)
				kafka_append_json_string(out, field->default_value,
										 strlen(field->default_value));
			else
				appendStringInfoString(out, "\"\"");
			return;
		case PB_BYTES:
			appendStringInfoString(out, "\"\"");
			return;
		case PB_MESSAGE:
		case PB_GROUP:
			appendStringInfoString(out, "null");
			return;
		case PB_BOOL:
			appendStringInfoString(out, field->default_value &&
								   strcmp(field->default_value, "true") == 0 ?
								   "true" : "false");
			return;
		case PB_ENUM:
			{
				const PbEnum *en = field->enumeration;
				int			index = 0;

				if (en->nvalues == 0)
				{
					appendStringInfoString(out, "0");
					return;
				}
				if (field->default_value)
					for (int i = 0; i < en->nvalues; i++)
						if (strcmp(en->names[i], field->default_value) == 0)
							index = i;
				if (options->enums_as_ints)
					appendStringInfo(out, "%d", en->numbers[index]);
				else
					kafka_append_json_string(out, en->names[index],
											 strlen(en->names[index]));
				return;
			}
		default:
			if (field->default_value && strspn(field->default_value, "0123456789.-+eE") ==
				strlen(field->default_value) && field->default_value[0] != '\0')
				appendStringInfoString(out, field->default_value);
			else if (field->default_value && (strcmp(field->default_value, "inf") == 0 ||
											  strcmp(field->default_value, "-inf") == 0 ||
											  strcmp(field->default_value, "nan") == 0))
				appendStringInfoString(out, field->default_value[0] == '-' ? "\"-Infinity\"" :
									   field->default_value[0] == 'i' ? "\"Infinity\"" : "\"NaN\"");
			else
				appendStringInfoString(out, "0");
	}
}

/* The elements of one occurrence of a repeated field, as JSON. */
static bool
repeated_occurrence_json(const PbField *field, const PbOccurrence *occurrence,
						 const PbJsonOptions *options, StringInfo out,
						 bool *first, int depth, char **error)
{
	if (occurrence->wire_type == PB_WIRE_LEN && pb_type_is_packable(field->type))
	{
		PbCursor	cursor = {occurrence->data, occurrence->data + occurrence->len};

		while (cursor.p < cursor.end)
		{
			uint64		v;

			if (!read_packed_element(&cursor, field->type, &v))
				return false;
			if (!*first)
				appendStringInfoChar(out, ',');
			*first = false;
			scalar_json(field, v, options, out);
		}
		return true;
	}
	if (!*first)
		appendStringInfoChar(out, ',');
	*first = false;
	return pb_field_value_to_json(field, occurrence->wire_type, occurrence->scalar,
								  occurrence->data, occurrence->len, options,
								  out, depth, error);
}

/* One map entry as "key": value. */
static bool
map_entry_json(const PbMessage *entry, const PbOccurrence *occurrence,
			   const PbJsonOptions *options, StringInfo out, int depth,
			   char **error)
{
	PbOccurrence *parts = NULL;
	int			capacity = 0;
	int			count = 0;
	bool		too_deep = false;
	int			key = -1;
	int			value = -1;
	StringInfoData key_json;

	if (depth + 1 > PB_MAX_DEPTH)
	{
		*error = psprintf("Protobuf message nested too deeply (more than %d levels)",
						  PB_MAX_DEPTH);
		return false;
	}
	if (!pb_scan_message(entry, occurrence->data, occurrence->len, &parts,
						 &capacity, &count, depth + 1, &too_deep))
		return false;
	if (options->path != NULL)
		options->path[depth + 1] = entry;
	for (int i = 0; i < count; i++)
	{
		if (parts[i].field == 0)
			key = i;
		else if (parts[i].field == 1)
			value = i;
	}
	initStringInfo(&key_json);
	if (key < 0)
		pb_append_default_json(&entry->fields[0], options, &key_json);
	else if (!pb_field_value_to_json(&entry->fields[0], parts[key].wire_type,
									 parts[key].scalar, parts[key].data,
									 parts[key].len, options, &key_json,
									 depth + 1, error))
		return false;
	/* keys are strings in JSON */
	if (key_json.data[0] == '"')
		appendBinaryStringInfo(out, key_json.data, key_json.len);
	else
		kafka_append_json_string(out, key_json.data, key_json.len);
	pfree(key_json.data);
	appendStringInfoChar(out, ':');
	if (value < 0)
	{
		if (entry->fields[1].type == PB_MESSAGE)
			return message_json(entry->fields[1].message, NULL, 0, options, out,
								depth + 1, error);
		pb_append_default_json(&entry->fields[1], options, out);
		return true;
	}
	return pb_field_value_to_json(&entry->fields[1], parts[value].wire_type,
								  parts[value].scalar, parts[value].data,
								  parts[value].len, options, out, depth + 1,
								  error);
}

/* A well-known type's own JSON; false with *error NULL when malformed. */
static bool
well_known_json(const PbMessage *message, const uint8 *data, size_t len,
				const PbJsonOptions *options, PbOccurrence *parts, int count,
				StringInfo out, int depth, char **error)
{
	int			last = -1;

	switch (message->well_known)
	{
		case PB_WKT_TIMESTAMP:
			return append_timestamp(out, data, len, error);
		case PB_WKT_DURATION:
			return append_duration(out, data, len, error);
		case PB_WKT_WRAPPER:
			for (int i = 0; i < count; i++)
				if (parts[i].field == 0)
					last = i;
			if (last < 0)
			{
				pb_append_default_json(&message->fields[0], options, out);
				return true;
			}
			return pb_field_value_to_json(&message->fields[0], parts[last].wire_type,
										  parts[last].scalar, parts[last].data,
										  parts[last].len, options, out, depth, error);
		case PB_WKT_EMPTY:
			appendStringInfoString(out, "{}");
			return true;
		case PB_WKT_STRUCT:
			{
				bool		first = true;

				appendStringInfoChar(out, '{');
				for (int i = 0; i < count; i++)
				{
					if (parts[i].field != 0)
						continue;
					if (!first)
						appendStringInfoChar(out, ',');
					first = false;
					if (!map_entry_json(message->fields[0].message, &parts[i],
										options, out, depth, error))
						return false;
				}
				appendStringInfoChar(out, '}');
				return true;
			}
		case PB_WKT_LIST_VALUE:
			{
				bool		first = true;

				appendStringInfoChar(out, '[');
				for (int i = 0; i < count; i++)
				{
					if (parts[i].field != 0)
						continue;
					if (!first)
						appendStringInfoChar(out, ',');
					first = false;
					if (!message_json(message->fields[0].message, parts[i].data,
									  parts[i].len, options, out, depth + 1, error))
						return false;
				}
				appendStringInfoChar(out, ']');
				return true;
			}
		case PB_WKT_VALUE:
			for (int i = 0; i < count; i++)
				last = i;
			if (last < 0 || parts[last].field == 0)
			{
				appendStringInfoString(out, "null");
				return true;
			}
			if (parts[last].field == 1)
			{
				double		d;

				memcpy(&d, &parts[last].scalar, sizeof(d));
				if (isnan(d) || isinf(d))
				{
					*error = pstrdup("google.protobuf.Value holds a number JSON cannot represent");
					return false;
				}
			}
			return pb_field_value_to_json(&message->fields[parts[last].field],
										  parts[last].wire_type, parts[last].scalar,
										  parts[last].data, parts[last].len,
										  options, out, depth, error);
		case PB_WKT_ANY:
			{
				const uint8 *url = NULL;
				size_t		url_len = 0;
				const uint8 *value = NULL;
				size_t		value_len = 0;
				const char *slash;
				char	   *type_name;
				PbMessage  *inner = NULL;

				for (int i = 0; i < count; i++)
				{
					if (parts[i].field == 0)
					{
						url = parts[i].data;
						url_len = parts[i].len;
					}
					else if (parts[i].field == 1)
					{
						value = parts[i].data;
						value_len = parts[i].len;
					}
				}
				if (url == NULL)
				{
					appendStringInfoString(out, "{}");
					return true;
				}
				if (kafka_utf8_invalid_offset((const char *) url, url_len, true) >= 0)
				{
					*error = pstrdup("google.protobuf.Any: type_url is not valid UTF-8");
					return false;
				}
				type_name = pnstrdup((const char *) url, url_len);
				slash = strrchr(type_name, '/');
				if (options->schema != NULL)
					inner = pb_schema_message(options->schema,
											  slash ? slash + 1 : type_name);
				appendStringInfoString(out, "{\"@type\":");
				kafka_append_json_string(out, type_name, (int) url_len);
				if (inner == NULL)
				{
					appendStringInfoString(out, ",\"value\":");
					append_base64(out, value, value_len);
					appendStringInfoChar(out, '}');
					return true;
				}
				if (inner->well_known != PB_WKT_NONE)
				{
					appendStringInfoString(out, ",\"value\":");
					if (!message_json(inner, value, value_len, options, out,
									  depth + 1, error))
						return false;
					appendStringInfoChar(out, '}');
					return true;
				}
				/* the inner message's members follow "@type" */
				{
					StringInfoData inner_json;

					initStringInfo(&inner_json);
					if (!message_json(inner, value, value_len, options,
									  &inner_json, depth + 1, error))
						return false;
					if (inner_json.len > 2)
					{
						appendStringInfoChar(out, ',');
						appendBinaryStringInfo(out, inner_json.data + 1,
											   inner_json.len - 1);
					}
					else
						appendStringInfoChar(out, '}');
				}
				return true;
			}
		default:
			return false;
	}
}

/*
 * Every occurrence of repeated field field_index of message: a JSON array,
 * or an object for a map.
 */
bool
pb_repeated_field_to_json(const PbMessage *message, int field_index,
						  const PbOccurrence *parts, int count,
						  const PbJsonOptions *options, StringInfo out,
						  int depth, char **error)
{
	const PbField *field = &message->fields[field_index];
	bool		first = true;

	*error = NULL;
	if (field->message && field->message->map_entry)
	{
		appendStringInfoChar(out, '{');
		for (int i = 0; i < count; i++)
		{
			if (parts[i].field != field_index)
				continue;
			if (!first)
				appendStringInfoChar(out, ',');
			first = false;
			if (!map_entry_json(field->message, &parts[i], options, out,
								depth, error))
				return false;
		}
		appendStringInfoChar(out, '}');
		return true;
	}
	appendStringInfoChar(out, '[');
	for (int i = 0; i < count; i++)
	{
		if (parts[i].field != field_index)
			continue;
		if (!repeated_occurrence_json(field, &parts[i], options, out,
									  &first, depth, error))
			return false;
	}
	appendStringInfoChar(out, ']');
	return true;
}

static bool
message_json(const PbMessage *message, const uint8 *data, size_t len,
			 const PbJsonOptions *options, StringInfo out, int depth,
			 char **error)
{
	PbOccurrence *parts = NULL;
	int			capacity = 0;
	int			count = 0;
	bool		too_deep = false;
	int		   *last;
	int		   *oneof_last;
	bool		first = true;

	*error = NULL;
	if (depth > PB_MAX_DEPTH || stack_is_too_deep())
	{
		*error = psprintf("Protobuf message nested too deeply (more than %d levels)",
						  PB_MAX_DEPTH);
		return false;
	}
	if (!pb_scan_message(message, data, len, &parts, &capacity, &count, depth,
						 &too_deep))
	{
		if (too_deep)
			*error = psprintf("Protobuf message nested too deeply (more than %d levels)",
							  PB_MAX_DEPTH);
		return false;
	}
	if (options->path != NULL)
		options->path[depth] = message;
	if (message->well_known != PB_WKT_NONE)
		return well_known_json(message, data, len, options, parts, count, out,
							   depth, error);

	last = palloc(sizeof(int) * Max(message->nfields, 1));
	for (int f = 0; f < message->nfields; f++)
		last[f] = -1;
	oneof_last = palloc(sizeof(int) * Max(message->noneofs, 1));
	for (int o = 0; o < message->noneofs; o++)
		oneof_last[o] = -1;
	for (int i = 0; i < count; i++)
	{
		const PbField *field = &message->fields[parts[i].field];

		last[parts[i].field] = i;
		if (field->oneof_index >= 0)
			oneof_last[field->oneof_index] = i;
	}

	appendStringInfoChar(out, '{');
	for (int f = 0; f < message->nfields; f++)
	{
		const PbField *field = &message->fields[f];

		if (field->type == PB_GROUP)
			continue;
		/* recursive.fields.max.depth: drop a type recursing too often */
		if (field->type == PB_MESSAGE && options->max_recursion > 0 &&
			options->path != NULL)
		{
			const PbMessage *type = field->message;
			int			seen = 0;

			if (type->map_entry && type->fields[1].type == PB_MESSAGE)
				type = type->fields[1].message;
			for (int d = 0; d <= depth; d++)
				if (options->path[d] == type)
					seen++;
			if (seen >= options->max_recursion)
				continue;
		}
		if (last[f] < 0)
		{
			if (!options->emit_defaults || field->oneof_index >= 0 ||
				(field->has_presence && field->default_value == NULL))
				continue;
			if (!first)
				appendStringInfoChar(out, ',');
			first = false;
			kafka_append_json_string(out, field->name, field->name_length);
			appendStringInfoChar(out, ':');
			pb_append_default_json(field, options, out);
			continue;
		}
		if (field->oneof_index >= 0 && oneof_last[field->oneof_index] != last[f])
			continue;
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		kafka_append_json_string(out, field->name, field->name_length);
		appendStringInfoChar(out, ':');
		if (field->repeated)
		{
			if (!pb_repeated_field_to_json(message, f, parts, count, options,
										   out, depth, error))
				return false;
		}
		else if (!pb_field_value_to_json(field, parts[last[f]].wire_type,
										 parts[last[f]].scalar,
										 parts[last[f]].data, parts[last[f]].len,
										 options, out, depth, error))
			return false;
	}
	appendStringInfoChar(out, '}');
	return true;
}

/*
 * The message as JSON text (UTF-8) appended to out; false when malformed,
 * with *error saying why (a generic message when the wire itself is
 * broken).
 */
bool
pb_message_to_json(const PbMessage *message, const uint8 *data, size_t len,
				   const PbJsonOptions *options, StringInfo out, int depth,
				   char **error)
{
	*error = NULL;
	if (message_json(message, data, len, options, out, depth, error))
		return true;
	if (*error == NULL)
		*error = psprintf("truncated or malformed Protobuf data (message \"%s\")",
						  message->full_name);
	return false;
}
