/*-------------------------------------------------------------------------
 *
 * thrift_compact.h
 *	  A minimal writer for the Thrift compact protocol, enough to serialize
 *	  the Parquet page headers and file footer.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_DELTA_THRIFT_COMPACT_H
#define KAFKA_DELTA_THRIFT_COMPACT_H

#include "postgres.h"

#include "lib/stringinfo.h"

/* Compact protocol type codes, as they appear on the wire. */
typedef enum ThriftType
{
	THRIFT_BOOL_TRUE = 1,
	THRIFT_BOOL_FALSE = 2,
	THRIFT_BYTE = 3,
	THRIFT_I16 = 4,
	THRIFT_I32 = 5,
	THRIFT_I64 = 6,
	THRIFT_DOUBLE = 7,
	THRIFT_BINARY = 8,
	THRIFT_LIST = 9,
	THRIFT_SET = 10,
	THRIFT_MAP = 11,
	THRIFT_STRUCT = 12
} ThriftType;

/* Deep enough for FileMetaData > RowGroup > ColumnChunk > ... > TimeUnit. */
#define THRIFT_MAX_DEPTH 16

typedef struct ThriftWriter
{
	StringInfo	out;
	int			depth;
	int16		last_field[THRIFT_MAX_DEPTH];
} ThriftWriter;

extern void thrift_writer_init(ThriftWriter *writer, StringInfo out);

/* Structs: begin opens a field-id scope, end writes the stop byte. */
extern void thrift_struct_begin(ThriftWriter *writer);
extern void thrift_struct_end(ThriftWriter *writer);

/* Fields of the struct being written (ids must increase). */
extern void thrift_field_bool(ThriftWriter *writer, int16 id, bool value);
extern void thrift_field_byte(ThriftWriter *writer, int16 id, int8 value);
extern void thrift_field_i16(ThriftWriter *writer, int16 id, int16 value);
extern void thrift_field_i32(ThriftWriter *writer, int16 id, int32 value);
extern void thrift_field_i64(ThriftWriter *writer, int16 id, int64 value);
extern void thrift_field_binary(ThriftWriter *writer, int16 id,
								const void *data, int len);
extern void thrift_field_string(ThriftWriter *writer, int16 id,
								const char *value);
extern void thrift_field_struct_begin(ThriftWriter *writer, int16 id);
extern void thrift_field_empty_struct(ThriftWriter *writer, int16 id);
extern void thrift_field_list_begin(ThriftWriter *writer, int16 id,
									ThriftType element_type, int count);

/* List elements (no field header). */
extern void thrift_write_i32(ThriftWriter *writer, int32 value);
extern void thrift_write_binary(ThriftWriter *writer, const void *data,
								int len);

#endif							/* KAFKA_DELTA_THRIFT_COMPACT_H */
