/*-------------------------------------------------------------------------
 *
 * thrift_compact.c
 *	  Thrift compact protocol serialization for Parquet metadata.
 *
 * Parquet stores its page headers and footer as Thrift structs in the
 * compact protocol.  We only ever write, and only the handful of shapes
 * Parquet uses (structs, lists, integers, binaries, booleans), so a small
 * hand-written encoder is simpler and faster than a generated one.
 *
 * Wire format recap: a field header is one byte (id delta << 4 | type) when
 * the id grows by 1..15 over the previous field of the same struct, else the
 * type byte followed by the zigzag varint id; integers are zigzag varints;
 * binaries are a varint length and the bytes; a struct ends with a zero byte;
 * booleans in fields are carried by the type nibble itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "delta/thrift_compact.h"

static void
put_varint(StringInfo out, uint64 value)
{
	char		buf[10];
	int			n = 0;

	while (value >= 0x80)
	{
		buf[n++] = (char) ((value & 0x7F) | 0x80);
		value >>= 7;
	}
	buf[n++] = (char) value;
	appendBinaryStringInfo(out, buf, n);
}

static inline uint64
zigzag64(int64 value)
{
	return ((uint64) value << 1) ^ (uint64) (value >> 63);
}

static void
field_header(ThriftWriter *writer, int16 id, ThriftType type)
{
	int16		last = writer->last_field[writer->depth];
	int			delta = id - last;

	if (delta > 0 && delta <= 15)
		appendStringInfoChar(writer->out, (char) ((delta << 4) | type));
	else
	{
		appendStringInfoChar(writer->out, (char) type);
		put_varint(writer->out, zigzag64(id));
	}
	writer->last_field[writer->depth] = id;
}

void
thrift_writer_init(ThriftWriter *writer, StringInfo out)
{
	writer->out = out;
	writer->depth = 0;
	writer->last_field[0] = 0;
}

void
thrift_struct_begin(ThriftWriter *writer)
{
	if (writer->depth + 1 >= THRIFT_MAX_DEPTH)
		elog(ERROR, "thrift structs nested too deeply");
	writer->depth++;
	writer->last_field[writer->depth] = 0;
}

void
thrift_struct_end(ThriftWriter *writer)
{
	Assert(writer->depth > 0);
	appendStringInfoChar(writer->out, 0);
	writer->depth--;
}

void
thrift_field_bool(ThriftWriter *writer, int16 id, bool value)
{
	field_header(writer, id, value ? THRIFT_BOOL_TRUE : THRIFT_BOOL_FALSE);
}

void
thrift_field_byte(ThriftWriter *writer, int16 id, int8 value)
{
	field_header(writer, id, THRIFT_BYTE);
	appendStringInfoChar(writer->out, (char) value);
}

void
thrift_field_i16(ThriftWriter *writer, int16 id, int16 value)
{
	field_header(writer, id, THRIFT_I16);
	put_varint(writer->out, zigzag64(value));
}

void
thrift_field_i32(ThriftWriter *writer, int16 id, int32 value)
{
	field_header(writer, id, THRIFT_I32);
	put_varint(writer->out, zigzag64(value));
}

void
thrift_field_i64(ThriftWriter *writer, int16 id, int64 value)
{
	field_header(writer, id, THRIFT_I64);
	put_varint(writer->out, zigzag64(value));
}

void
thrift_field_binary(ThriftWriter *writer, int16 id, const void *data, int len)
{
	field_header(writer, id, THRIFT_BINARY);
	thrift_write_binary(writer, data, len);
}

void
thrift_field_string(ThriftWriter *writer, int16 id, const char *value)
{
	thrift_field_binary(writer, id, value, strlen(value));
}

void
thrift_field_struct_begin(ThriftWriter *writer, int16 id)
{
	field_header(writer, id, THRIFT_STRUCT);
	thrift_struct_begin(writer);
}

/* Unions such as LogicalType and TimeUnit select a member by an empty struct. */
void
thrift_field_empty_struct(ThriftWriter *writer, int16 id)
{
	thrift_field_struct_begin(writer, id);
	thrift_struct_end(writer);
}

void
thrift_field_list_begin(ThriftWriter *writer, int16 id,
						ThriftType element_type, int count)
{
	field_header(writer, id, THRIFT_LIST);
	if (count < 15)
		appendStringInfoChar(writer->out, (char) ((count << 4) | element_type));
	else
	{
		appendStringInfoChar(writer->out, (char) (0xF0 | element_type));
		put_varint(writer->out, (uint64) count);
	}
}

void
thrift_write_i32(ThriftWriter *writer, int32 value)
{
	put_varint(writer->out, zigzag64(value));
}

void
thrift_write_binary(ThriftWriter *writer, const void *data, int len)
{
	put_varint(writer->out, (uint64) len);
	appendBinaryStringInfo(writer->out, data, len);
}
