/*-------------------------------------------------------------------------
 *
 * avro_values.h
 *	  What the Avro files share beyond avro.h: limits, reading fixed-size
 *	  values, and text renderings of logical types.
 *
 * IDENTIFICATION
 *	  src/avro/avro_values.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_AVRO_VALUES_H
#define KAFKA_AVRO_VALUES_H

#include "avro/avro.h"
#include "codec/codec_internal.h"
#include "datatype/timestamp.h"

/* Items in one array or map: a zero-sized item type costs no bytes. */
#define AVRO_MAX_ITEMS (16 * 1024 * 1024)
/* Items a block may have beyond the bytes left (zero-sized items: nulls). */
#define AVRO_ZERO_SIZE_SLACK 64
/* Decimal unscaled values: numeric's 1000 digits fit in 416 bytes. */
#define AVRO_MAX_DECIMAL_BYTES 420

extern const AvroNode avro_string_node;

static inline bool
avro_read_float(AvroCursor *cursor, float4 *value)
{
	uint32		bits;

	if (cursor->end - cursor->p < 4)
		return false;
	bits = (uint32) cursor->p[0] | ((uint32) cursor->p[1] << 8) |
		((uint32) cursor->p[2] << 16) | ((uint32) cursor->p[3] << 24);
	memcpy(value, &bits, 4);
	cursor->p += 4;
	return true;
}

static inline bool
avro_read_double(AvroCursor *cursor, float8 *value)
{
	uint64		bits = 0;

	if (cursor->end - cursor->p < 8)
		return false;
	for (int i = 7; i >= 0; i--)
		bits = (bits << 8) | cursor->p[i];
	memcpy(value, &bits, 8);
	cursor->p += 8;
	return true;
}

extern bool avro_read_length(AvroCursor *cursor, size_t *length);
extern bool avro_read_block_count(AvroCursor *cursor, int64 *count);
extern void avro_append_hex(StringInfo out, const uint8 *data, size_t len);
extern void avro_append_decimal(StringInfo out, const uint8 *data, size_t len,
								int scale);
extern void avro_append_double(StringInfo out, double value, bool json);
extern bool avro_unix_micros_to_timestamp(int64 micros, Timestamp *result);
extern bool avro_append_timestamp(StringInfo out, Timestamp timestamp,
								  bool with_zone);
extern bool avro_append_date(StringInfo out, int64 days);
extern bool avro_append_time(StringInfo out, int64 micros);
extern bool avro_logical_micros(const AvroNode *node, int64 value,
								int64 *micros);
extern bool avro_scalar_text(AvroCursor *cursor, const AvroNode *node,
							 StringInfo out, bool *is_string, char **error);

/* avro_decode.c */
typedef struct AvroSource
{
	KafkaRegistry *registry;	/* Confluent framing, or NULL */
	AvroNode   *plain_schema;	/* no header: this writer schema */
} AvroSource;

extern void avro_source_init(AvroSource *source,
							 const KafkaCodecOptions *options);
extern bool avro_source_writer_schema(AvroSource *source, const char **data,
									  size_t *len, AvroNode **schema,
									  int32 *schema_id, char **error);

#endif							/* KAFKA_AVRO_VALUES_H */
