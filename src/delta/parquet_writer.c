/*-------------------------------------------------------------------------
 *
 * parquet_writer.c
 *	  Streaming Parquet file writer for Delta Lake export.
 *
 * The file is a flat schema of OPTIONAL leaf columns.  Values are buffered
 * per column as data pages (v1: RLE definition levels, then PLAIN or
 * RLE_DICTIONARY values, the whole body compressed) until a row group is
 * full; then each column chunk is written contiguously, as Parquet requires,
 * and the row group's memory context is reset.  So memory is bounded by one
 * row group, whatever the size of the export, and the footer only keeps a
 * few numbers per column chunk.
 *
 * Dictionary encoding is tried on the first page of each column chunk: the
 * page is encoded both ways and the dictionary is kept only if it clearly
 * pays.  If a dictionary later outgrows its limit (high cardinality after
 * all), the rest of the chunk falls back to PLAIN; readers handle chunks with
 * both kinds of pages.  A column whose dictionary failed is not tried again
 * in the same file, which keeps unique-valued columns cheap.
 *
 * Statistics are kept per column chunk (for the footer, in the column's type
 * order) and merged into per-file statistics that the Delta log uses.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <unistd.h>

#include <snappy-c.h>
#include <zstd.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"
#include "utils/memutils.h"

#include "delta/delta_fs.h"
#include "delta/parquet_writer.h"
#include "delta/thrift_compact.h"

/*
 * Pages also end after this many values, so that pages of tiny values
 * (booleans, dictionary indices, nulls) stay a reasonable size for readers.
 */
#define PAGE_MAX_VALUES			(128 * 1024)

/* A dictionary larger than this is not worth it (and slows readers). */
#define DICTIONARY_MAX_BYTES	(1024 * 1024)
#define DICTIONARY_MAX_ENTRIES	(1 << 18)

/* Longer string bounds are left out of the footer rather than truncated. */
#define FOOTER_STATS_MAX_BYTES	64

#define PARQUET_CREATED_BY		"kafka_fdw version 0.1"

/* parquet.thrift enumerations */
#define ENCODING_PLAIN			0
#define ENCODING_RLE			3
#define ENCODING_RLE_DICTIONARY 8
#define PAGE_TYPE_DATA			0
#define PAGE_TYPE_DICTIONARY	2
#define REPETITION_OPTIONAL		1
#define CONVERTED_UTF8			0
#define CONVERTED_DECIMAL		5
#define CONVERTED_DATE			6
#define CONVERTED_TIMESTAMP_MICROS 10
#define CONVERTED_INT_8			15
#define CONVERTED_INT_16		16

typedef enum DictionaryState
{
	DICTIONARY_OFF,				/* PLAIN pages only */
	DICTIONARY_TRIAL,			/* first page: both encodings kept */
	DICTIONARY_ON				/* dictionary indices only */
} DictionaryState;

typedef struct DictionaryEntry
{
	uint32		hash;
	uint32		offset;			/* of the value bytes in dictionary_data */
	uint32		length;
} DictionaryEntry;

/* What the footer needs to know about one written column chunk. */
typedef struct ChunkMeta
{
	int64		num_values;
	int64		uncompressed_size;
	int64		compressed_size;
	int64		data_page_offset;
	int64		dictionary_page_offset; /* -1 if none */
	bool		has_plain_pages;
	bool		has_dictionary_pages;
	int64		null_count;
	int64		nan_count;
	char	   *min_value;		/* PLAIN-encoded bound, NULL if not written */
	char	   *max_value;
	int			min_length;
	int			max_length;
} ChunkMeta;

typedef struct RowGroupMeta
{
	int64		num_rows;
	int64		file_offset;
	int64		total_byte_size;
	int64		total_compressed_size;
	ChunkMeta  *chunks;
} RowGroupMeta;

typedef struct ColumnWriter
{
	ParquetColumnSpec spec;
	bool		is_decimal;

	/* Current page; its buffers live in the row group context. */
	int			page_values;	/* including nulls */
	int			page_nulls;
	uint8	   *definition_levels;	/* NULL until the page's first null */
	uint8	   *level_buffer;	/* allocated at the chunk's first null */
	StringInfoData plain;		/* PLAIN values (not kept when DICTIONARY_ON) */
	int64		page_raw_bytes; /* PLAIN size of the page, kept or not */
	uint32	   *indices;
	int			index_count;

	/* Dictionary of the current chunk (row group context). */
	DictionaryState dictionary_state;
	bool		dictionary_failed;	/* in an earlier chunk of this file */
	bool		dictionary_pages;	/* a page of this chunk used it */
	StringInfoData dictionary_data; /* PLAIN-encoded dictionary page body */
	DictionaryEntry *entries;
	int			entry_count;
	int			entry_capacity;
	int32	   *slots;
	int			slot_count;		/* power of two */

	/* The chunk's data pages, header + (compressed) body each. */
	StringInfoData chunk;
	int64		chunk_values;
	int64		chunk_uncompressed;
	bool		chunk_plain_pages;
	ParquetColumnStats chunk_stats;

	ParquetColumnStats file_stats;	/* writer context */
} ColumnWriter;

struct ParquetWriter
{
	MemoryContext context;		/* lifetime of the file */
	MemoryContext rowgroup_context; /* reset after each row group */
	int			fd;
	char	   *display_name;
	ParquetWriterOptions options;
	int			ncolumns;
	ColumnWriter *columns;
	int64		file_offset;
	int64		num_rows;
	int64		rowgroup_rows;
	int64		rowgroup_raw_bytes;
	int64		rowgroup_buffered_bytes;
	RowGroupMeta *rowgroups;
	int			rowgroup_count;
	int			rowgroup_capacity;
	StringInfoData body;		/* scratch: page body before compression */
	StringInfoData compressed;	/* scratch: compressed page body */
	StringInfoData header;		/* scratch: serialized page header */
	uint32	   *level_scratch;	/* scratch: definition levels widened */
	ZSTD_CCtx  *zstd;
};

static void flush_page(ParquetWriter *writer, ColumnWriter *column);

/* ----------------------------------------------------------------
 * Little helpers
 * ----------------------------------------------------------------
 */

static inline void
store_le32(char *out, uint32 value)
{
#ifdef WORDS_BIGENDIAN
	value = pg_bswap32(value);
#endif
	memcpy(out, &value, 4);
}

static inline void
store_le64(char *out, uint64 value)
{
#ifdef WORDS_BIGENDIAN
	value = pg_bswap64(value);
#endif
	memcpy(out, &value, 8);
}

static void
put_uleb128(StringInfo out, uint64 value)
{
	while (value >= 0x80)
	{
		appendStringInfoChar(out, (char) ((value & 0x7F) | 0x80));
		value >>= 7;
	}
	appendStringInfoChar(out, (char) value);
}

/* Bits needed to hold values 0..max_value; at least 1 (some readers insist). */
static int
bits_for(uint32 max_value)
{
	if (max_value <= 1)
		return 1;
	return pg_leftmost_one_pos32(max_value) + 1;
}

static int
compare_bytes(const char *a, int alen, const char *b, int blen)
{
	int			cmp = memcmp(a, b, Min(alen, blen));

	if (cmp != 0)
		return cmp;
	return (alen > blen) - (alen < blen);
}

static void
encode_decimal_fixed(char *out, int length, int128 value)
{
	for (int i = length - 1; i >= 0; i--)
	{
		out[i] = (char) (value & 0xFF);
		value >>= 8;
	}
}

int
parquet_decimal_byte_length(int precision)
{
	uint128		limit = 1;

	for (int i = 0; i < precision; i++)
		limit *= 10;
	for (int length = 1; length < 16; length++)
	{
		/* two's complement: 8 * length - 1 bits of magnitude */
		if (limit <= ((uint128) 1 << (8 * length - 1)))
			return length;
	}
	return 16;
}

static void
write_all(ParquetWriter *writer, const char *data, size_t len)
{
	delta_write_fully(writer->fd, data, len, writer->display_name);
	writer->file_offset += len;
}

/* ----------------------------------------------------------------
 * RLE / bit-packing hybrid encoding (definition levels, dictionary indices)
 * ----------------------------------------------------------------
 */

static void
pack_group(StringInfo out, const uint32 *values, int count, int available,
		   int width)
{
	uint64		accumulator = 0;
	int			bits = 0;

	/* count is a multiple of 8; positions past 'available' are padding */
	for (int i = 0; i < count; i++)
	{
		uint64		value = i < available ? values[i] : 0;

		accumulator |= value << bits;
		bits += width;
		while (bits >= 8)
		{
			appendStringInfoChar(out, (char) (accumulator & 0xFF));
			accumulator >>= 8;
			bits -= 8;
		}
	}
}

static inline int
run_length_at(const uint32 *values, int n, int start)
{
	int			run = 1;

	while (start + run < n && values[start + run] == values[start])
		run++;
	return run;
}

/*
 * Runs of 8 or more equal values become RLE runs; everything else goes into
 * bit-packed groups of 8 (the last group zero-padded, which readers ignore
 * because they know the value count).
 */
static void
encode_hybrid(StringInfo out, const uint32 *values, int n, int width)
{
	int			value_bytes = (width + 7) / 8;
	int			i = 0;

	while (i < n)
	{
		int			run = run_length_at(values, n, i);

		if (run >= 8)
		{
			uint32		value = values[i];

			put_uleb128(out, (uint64) run << 1);
			for (int b = 0; b < value_bytes; b++)
				appendStringInfoChar(out, (char) ((value >> (8 * b)) & 0xFF));
			i += run;
		}
		else
		{
			int			start = i;
			int			groups = 0;

			for (;;)
			{
				i += 8;
				groups++;
				if (i >= n || run_length_at(values, n, i) >= 8)
					break;
			}
			put_uleb128(out, ((uint64) groups << 1) | 1);
			pack_group(out, values + start, groups * 8, Min(n, i) - start,
					   width);
			if (i > n)
				i = n;
		}
	}
}

/* ----------------------------------------------------------------
 * Statistics
 * ----------------------------------------------------------------
 */

static void
stats_init(ParquetColumnStats *stats)
{
	memset(stats, 0, sizeof(*stats));
	initStringInfo(&stats->min_bytes);
	initStringInfo(&stats->max_bytes);
}

static inline void
stats_int(ParquetColumnStats *stats, int64 value)
{
	if (!stats->has_bounds)
	{
		stats->min_int = stats->max_int = value;
		stats->has_bounds = true;
	}
	else if (value < stats->min_int)
		stats->min_int = value;
	else if (value > stats->max_int)
		stats->max_int = value;
}

static inline void
stats_float(ParquetColumnStats *stats, double value)
{
	if (isnan(value))
	{
		stats->nan_count++;
		return;
	}
	if (!stats->has_bounds)
	{
		stats->min_float = stats->max_float = value;
		stats->has_bounds = true;
	}
	else if (value < stats->min_float)
		stats->min_float = value;
	else if (value > stats->max_float)
		stats->max_float = value;
}

static inline void
stats_decimal(ParquetColumnStats *stats, int128 value)
{
	if (!stats->has_bounds)
	{
		stats->min_decimal = stats->max_decimal = value;
		stats->has_bounds = true;
	}
	else if (value < stats->min_decimal)
		stats->min_decimal = value;
	else if (value > stats->max_decimal)
		stats->max_decimal = value;
}

static inline void
stats_bytes(ParquetColumnStats *stats, const char *data, int len)
{
	if (!stats->has_bounds)
	{
		appendBinaryStringInfo(&stats->min_bytes, data, len);
		appendBinaryStringInfo(&stats->max_bytes, data, len);
		stats->has_bounds = true;
		return;
	}
	if (compare_bytes(data, len, stats->min_bytes.data, stats->min_bytes.len) < 0)
	{
		resetStringInfo(&stats->min_bytes);
		appendBinaryStringInfo(&stats->min_bytes, data, len);
	}
	else if (compare_bytes(data, len, stats->max_bytes.data, stats->max_bytes.len) > 0)
	{
		resetStringInfo(&stats->max_bytes);
		appendBinaryStringInfo(&stats->max_bytes, data, len);
	}
}

/* Folds a chunk's statistics into the file's. */
static void
stats_merge(ColumnWriter *column, ParquetColumnStats *into,
			const ParquetColumnStats *from)
{
	into->null_count += from->null_count;
	into->value_count += from->value_count;
	into->nan_count += from->nan_count;
	if (!from->has_bounds)
		return;

	if (column->is_decimal)
	{
		stats_decimal(into, from->min_decimal);
		stats_decimal(into, from->max_decimal);
	}
	else
	{
		switch (column->spec.physical)
		{
			case PARQUET_BOOLEAN:
			case PARQUET_INT32:
			case PARQUET_INT64:
				stats_int(into, from->min_int);
				stats_int(into, from->max_int);
				break;
			case PARQUET_FLOAT:
			case PARQUET_DOUBLE:
				stats_float(into, from->min_float);
				stats_float(into, from->max_float);
				break;
			case PARQUET_BYTE_ARRAY:
			case PARQUET_FIXED_LEN_BYTE_ARRAY:
				stats_bytes(into, from->min_bytes.data, from->min_bytes.len);
				stats_bytes(into, from->max_bytes.data, from->max_bytes.len);
				break;
		}
	}
}

/* PLAIN encoding of a bound, as the footer's Statistics want it. */
static char *
encode_bound(ParquetWriter *writer, ColumnWriter *column,
			 const ParquetColumnStats *stats, bool is_min, int *length)
{
	char	   *out;
	MemoryContext old = MemoryContextSwitchTo(writer->context);

	out = palloc(Max(16, FOOTER_STATS_MAX_BYTES));
	MemoryContextSwitchTo(old);

	if (column->is_decimal)
	{
		int128		value = is_min ? stats->min_decimal : stats->max_decimal;

		switch (column->spec.physical)
		{
			case PARQUET_INT32:
				store_le32(out, (uint32) (int32) value);
				*length = 4;
				break;
			case PARQUET_INT64:
				store_le64(out, (uint64) (int64) value);
				*length = 8;
				break;
			default:
				encode_decimal_fixed(out, column->spec.type_length, value);
				*length = column->spec.type_length;
				break;
		}
		return out;
	}

	switch (column->spec.physical)
	{
		case PARQUET_BOOLEAN:
			out[0] = (char) (is_min ? stats->min_int : stats->max_int);
			*length = 1;
			break;
		case PARQUET_INT32:
			store_le32(out, (uint32) (int32) (is_min ? stats->min_int : stats->max_int));
			*length = 4;
			break;
		case PARQUET_INT64:
			store_le64(out, (uint64) (is_min ? stats->min_int : stats->max_int));
			*length = 8;
			break;
		case PARQUET_FLOAT:
		case PARQUET_DOUBLE:
			{
				double		value = is_min ? stats->min_float : stats->max_float;

				/* the format asks for -0.0 as a zero minimum, +0.0 as maximum */
				if (value == 0)
					value = is_min ? -0.0 : 0.0;
				if (column->spec.physical == PARQUET_FLOAT)
				{
					float4		f = (float4) value;
					uint32		bits;

					memcpy(&bits, &f, 4);
					store_le32(out, bits);
					*length = 4;
				}
				else
				{
					uint64		bits;

					memcpy(&bits, &value, 8);
					store_le64(out, bits);
					*length = 8;
				}
			}
			break;
		case PARQUET_BYTE_ARRAY:
		case PARQUET_FIXED_LEN_BYTE_ARRAY:
			{
				const StringInfoData *bound = is_min ? &stats->min_bytes : &stats->max_bytes;

				if (bound->len > FOOTER_STATS_MAX_BYTES)
					return NULL;
				memcpy(out, bound->data, bound->len);
				*length = bound->len;
			}
			break;
	}
	return out;
}

/* ----------------------------------------------------------------
 * Per-row-group column state
 * ----------------------------------------------------------------
 */

static void
column_start_chunk(ParquetWriter *writer, ColumnWriter *column)
{
	MemoryContext old = MemoryContextSwitchTo(writer->rowgroup_context);

	column->page_values = 0;
	column->page_nulls = 0;
	column->definition_levels = NULL;
	column->level_buffer = NULL;
	initStringInfo(&column->plain);
	column->page_raw_bytes = 0;
	column->indices = NULL;
	column->index_count = 0;

	column->dictionary_state = DICTIONARY_OFF;
	if (column->spec.try_dictionary && !column->dictionary_failed)
	{
		column->dictionary_state = DICTIONARY_TRIAL;
		column->indices = palloc(sizeof(uint32) * PAGE_MAX_VALUES);
		initStringInfo(&column->dictionary_data);
		column->entry_capacity = 1024;
		column->entries = palloc(sizeof(DictionaryEntry) * column->entry_capacity);
		column->slot_count = 2048;
		column->slots = palloc(sizeof(int32) * column->slot_count);
		memset(column->slots, 0xFF, sizeof(int32) * column->slot_count);
	}
	column->dictionary_pages = false;
	column->entry_count = 0;

	initStringInfo(&column->chunk);
	column->chunk_values = 0;
	column->chunk_uncompressed = 0;
	column->chunk_plain_pages = false;
	stats_init(&column->chunk_stats);

	MemoryContextSwitchTo(old);
}

static void
dictionary_grow_slots(ColumnWriter *column)
{
	int			new_count = column->slot_count * 2;
	int32	   *slots = palloc(sizeof(int32) * new_count);

	memset(slots, 0xFF, sizeof(int32) * new_count);
	for (int e = 0; e < column->entry_count; e++)
	{
		uint32		slot = column->entries[e].hash & (new_count - 1);

		while (slots[slot] >= 0)
			slot = (slot + 1) & (new_count - 1);
		slots[slot] = e;
	}
	pfree(column->slots);
	column->slots = slots;
	column->slot_count = new_count;
}

/*
 * Returns the dictionary index of a value, adding it if new; -1 when the
 * dictionary is full.  data is the PLAIN form without the BYTE_ARRAY length
 * prefix.
 */
static int32
dictionary_index(ParquetWriter *writer, ColumnWriter *column,
				 const char *data, int len)
{
	bool		byte_array = column->spec.physical == PARQUET_BYTE_ARRAY;
	uint32		hash;
	uint32		slot;
	DictionaryEntry *entry;
	MemoryContext old;

	if (len == 4)
	{
		uint32		word;

		memcpy(&word, data, 4);
		hash = murmurhash32(word);
	}
	else
		hash = hash_bytes((const unsigned char *) data, len);

	slot = hash & (column->slot_count - 1);
	while (column->slots[slot] >= 0)
	{
		entry = &column->entries[column->slots[slot]];
		if (entry->hash == hash && entry->length == len &&
			memcmp(column->dictionary_data.data + entry->offset, data, len) == 0)
			return column->slots[slot];
		slot = (slot + 1) & (column->slot_count - 1);
	}

	if (column->entry_count >= DICTIONARY_MAX_ENTRIES ||
		column->dictionary_data.len + len + 4 > DICTIONARY_MAX_BYTES)
		return -1;

	old = MemoryContextSwitchTo(writer->rowgroup_context);
	if (column->entry_count == column->entry_capacity)
	{
		column->entry_capacity *= 2;
		column->entries = repalloc(column->entries,
								   sizeof(DictionaryEntry) * column->entry_capacity);
	}
	entry = &column->entries[column->entry_count];
	entry->hash = hash;
	entry->length = len;
	if (byte_array)
	{
		char		prefix[4];

		store_le32(prefix, (uint32) len);
		appendBinaryStringInfo(&column->dictionary_data, prefix, 4);
	}
	entry->offset = column->dictionary_data.len;
	appendBinaryStringInfo(&column->dictionary_data, data, len);
	column->slots[slot] = column->entry_count;
	column->entry_count++;
	if (column->entry_count * 2 > column->slot_count)
		dictionary_grow_slots(column);
	MemoryContextSwitchTo(old);

	return column->entry_count - 1;
}

/*
 * Stops dictionary encoding for the rest of the chunk.  Pages already written
 * with the dictionary keep it (it is written at the chunk's start); a trial
 * dictionary is simply dropped.
 */
static void
dictionary_give_up(ColumnWriter *column)
{
	column->dictionary_state = DICTIONARY_OFF;
	column->dictionary_failed = true;
	column->index_count = 0;
	if (!column->dictionary_pages)
		column->entry_count = 0;
}

/* Adds one non-null value in PLAIN form (no BYTE_ARRAY length prefix). */
static void
column_add_value(ParquetWriter *writer, ColumnWriter *column,
				 const char *data, int len)
{
	int			plain_len = len;

	if (column->spec.physical == PARQUET_BYTE_ARRAY)
		plain_len += 4;

	if (column->dictionary_state != DICTIONARY_OFF)
	{
		int32		index = dictionary_index(writer, column, data, len);

		if (index >= 0)
			column->indices[column->index_count++] = (uint32) index;
		else
		{
			/* pages so far keep the dictionary; the rest is PLAIN */
			if (column->dictionary_state == DICTIONARY_ON)
				flush_page(writer, column);
			dictionary_give_up(column);
		}
	}

	if (column->dictionary_state != DICTIONARY_ON)
	{
		if (column->spec.physical == PARQUET_BYTE_ARRAY)
		{
			char		prefix[4];

			store_le32(prefix, (uint32) len);
			appendBinaryStringInfo(&column->plain, prefix, 4);
		}
		appendBinaryStringInfo(&column->plain, data, len);
	}

	if (column->definition_levels)
		column->definition_levels[column->page_values] = 1;
	column->page_values++;
	column->page_raw_bytes += plain_len;
	writer->rowgroup_raw_bytes += plain_len;
	column->chunk_stats.value_count++;

	if (column->page_raw_bytes >= writer->options.page_size ||
		column->page_values >= PAGE_MAX_VALUES)
		flush_page(writer, column);
}

/* ----------------------------------------------------------------
 * Pages
 * ----------------------------------------------------------------
 */

/* Compresses writer->body into writer->compressed; returns its length. */
static int
compress_body(ParquetWriter *writer)
{
	StringInfo	body = &writer->body;
	StringInfo	out = &writer->compressed;

	resetStringInfo(out);
	switch (writer->options.codec)
	{
		case PARQUET_CODEC_UNCOMPRESSED:
			appendBinaryStringInfo(out, body->data, body->len);
			break;
		case PARQUET_CODEC_SNAPPY:
			{
				size_t		bound = snappy_max_compressed_length(body->len);
				size_t		length = bound;

				enlargeStringInfo(out, (int) bound);
				if (snappy_compress(body->data, body->len, out->data, &length) != SNAPPY_OK)
					elog(ERROR, "snappy compression of a Parquet page failed");
				out->len = (int) length;
			}
			break;
		case PARQUET_CODEC_ZSTD:
			{
				size_t		bound = ZSTD_compressBound(body->len);
				size_t		length;

				enlargeStringInfo(out, (int) bound);
				length = ZSTD_compressCCtx(writer->zstd, out->data, bound,
										   body->data, body->len,
										   writer->options.compression_level);
				if (ZSTD_isError(length))
					elog(ERROR, "zstd compression of a Parquet page failed: %s",
						 ZSTD_getErrorName(length));
				out->len = (int) length;
			}
			break;
	}
	return out->len;
}

/*
 * Compresses writer->body and appends header + body to 'into'; returns the
 * uncompressed size including the header.
 */
static int64
emit_page(ParquetWriter *writer, StringInfo into, int page_type,
		  int num_values, int encoding)
{
	ThriftWriter thrift;
	int			uncompressed = writer->body.len;
	int			compressed = compress_body(writer);

	resetStringInfo(&writer->header);
	thrift_writer_init(&thrift, &writer->header);
	thrift_struct_begin(&thrift);
	thrift_field_i32(&thrift, 1, page_type);
	thrift_field_i32(&thrift, 2, uncompressed);
	thrift_field_i32(&thrift, 3, compressed);
	if (page_type == PAGE_TYPE_DATA)
	{
		thrift_field_struct_begin(&thrift, 5);
		thrift_field_i32(&thrift, 1, num_values);
		thrift_field_i32(&thrift, 2, encoding);
		thrift_field_i32(&thrift, 3, ENCODING_RLE);
		thrift_field_i32(&thrift, 4, ENCODING_RLE);
		thrift_struct_end(&thrift);
	}
	else
	{
		thrift_field_struct_begin(&thrift, 7);
		thrift_field_i32(&thrift, 1, num_values);
		thrift_field_i32(&thrift, 2, encoding);
		thrift_struct_end(&thrift);
	}
	thrift_struct_end(&thrift);

	appendBinaryStringInfo(into, writer->header.data, writer->header.len);
	appendBinaryStringInfo(into, writer->compressed.data, writer->compressed.len);
	return (int64) writer->header.len + uncompressed;
}

static void
encode_definition_levels(ParquetWriter *writer, ColumnWriter *column)
{
	StringInfo	body = &writer->body;
	int			length_at = body->len;
	char		length[4] = {0};

	appendBinaryStringInfo(body, length, 4);
	if (column->page_nulls == 0)
	{
		/* the common case: one run of "present" */
		put_uleb128(body, (uint64) column->page_values << 1);
		appendStringInfoChar(body, 1);
	}
	else
	{
		for (int i = 0; i < column->page_values; i++)
			writer->level_scratch[i] = column->definition_levels[i];
		encode_hybrid(body, writer->level_scratch, column->page_values, 1);
	}
	store_le32(body->data + length_at, (uint32) (body->len - length_at - 4));
}

static void
encode_plain_booleans(ParquetWriter *writer, ColumnWriter *column)
{
	const char *flags = column->plain.data;
	int			count = column->plain.len;

	for (int i = 0; i < count; i += 8)
	{
		uint8		byte = 0;

		for (int bit = 0; bit < 8 && i + bit < count; bit++)
			if (flags[i + bit])
				byte |= (uint8) (1 << bit);
		appendStringInfoChar(&writer->body, (char) byte);
	}
}

static void
decide_dictionary(ColumnWriter *column)
{
	int64		plain_cost = column->plain.len;
	int			width = bits_for(column->entry_count > 0 ? column->entry_count - 1 : 0);
	int64		dictionary_cost = column->dictionary_data.len +
		((int64) column->index_count * width + 7) / 8 + 16;

	if (dictionary_cost * 4 < plain_cost * 3)
		column->dictionary_state = DICTIONARY_ON;
	else
		dictionary_give_up(column);
}

static void
flush_page(ParquetWriter *writer, ColumnWriter *column)
{
	bool		as_dictionary;
	int			encoding;
	int64		uncompressed;
	int			chunk_before = column->chunk.len;
	MemoryContext old;

	if (column->page_values == 0)
		return;

	/* a page of nulls tells nothing about the values: keep trying */
	if (column->dictionary_state == DICTIONARY_TRIAL && column->index_count > 0)
		decide_dictionary(column);
	as_dictionary = column->dictionary_state == DICTIONARY_ON;

	resetStringInfo(&writer->body);
	encode_definition_levels(writer, column);
	if (as_dictionary)
	{
		int			width = bits_for(column->entry_count - 1);

		appendStringInfoChar(&writer->body, (char) width);
		encode_hybrid(&writer->body, column->indices, column->index_count, width);
		encoding = ENCODING_RLE_DICTIONARY;
		column->dictionary_pages = true;
	}
	else
	{
		if (column->spec.physical == PARQUET_BOOLEAN)
			encode_plain_booleans(writer, column);
		else
			appendBinaryStringInfo(&writer->body, column->plain.data, column->plain.len);
		encoding = ENCODING_PLAIN;
		column->chunk_plain_pages = true;
	}

	old = MemoryContextSwitchTo(writer->rowgroup_context);
	uncompressed = emit_page(writer, &column->chunk, PAGE_TYPE_DATA,
							 column->page_values, encoding);
	MemoryContextSwitchTo(old);

	column->chunk_uncompressed += uncompressed;
	column->chunk_values += column->page_values;
	writer->rowgroup_buffered_bytes += column->chunk.len - chunk_before;

	column->page_values = 0;
	column->page_nulls = 0;
	column->page_raw_bytes = 0;
	column->index_count = 0;
	resetStringInfo(&column->plain);
	/* pages without nulls need no level array: it is filled from the first */
	column->definition_levels = NULL;
}

/* ----------------------------------------------------------------
 * Row groups and footer
 * ----------------------------------------------------------------
 */

static void
flush_row_group(ParquetWriter *writer)
{
	RowGroupMeta *rowgroup;
	MemoryContext old;

	if (writer->rowgroup_rows == 0)
		return;

	old = MemoryContextSwitchTo(writer->context);
	if (writer->rowgroup_count == writer->rowgroup_capacity)
	{
		writer->rowgroup_capacity *= 2;
		writer->rowgroups = repalloc(writer->rowgroups,
									 sizeof(RowGroupMeta) * writer->rowgroup_capacity);
	}
	rowgroup = &writer->rowgroups[writer->rowgroup_count++];
	rowgroup->num_rows = writer->rowgroup_rows;
	rowgroup->file_offset = writer->file_offset;
	rowgroup->total_byte_size = 0;
	rowgroup->total_compressed_size = 0;
	rowgroup->chunks = palloc0(sizeof(ChunkMeta) * writer->ncolumns);
	MemoryContextSwitchTo(old);

	for (int c = 0; c < writer->ncolumns; c++)
	{
		ColumnWriter *column = &writer->columns[c];
		ChunkMeta  *meta = &rowgroup->chunks[c];
		int64		start = writer->file_offset;
		int64		uncompressed = 0;

		CHECK_FOR_INTERRUPTS();
		flush_page(writer, column);

		meta->dictionary_page_offset = -1;
		if (column->dictionary_pages)
		{
			StringInfoData page;

			old = MemoryContextSwitchTo(writer->rowgroup_context);
			initStringInfo(&page);
			resetStringInfo(&writer->body);
			appendBinaryStringInfo(&writer->body, column->dictionary_data.data,
								   column->dictionary_data.len);
			uncompressed += emit_page(writer, &page, PAGE_TYPE_DICTIONARY,
									  column->entry_count, ENCODING_PLAIN);
			MemoryContextSwitchTo(old);
			meta->dictionary_page_offset = writer->file_offset;
			write_all(writer, page.data, page.len);
		}
		meta->data_page_offset = writer->file_offset;
		write_all(writer, column->chunk.data, column->chunk.len);

		meta->num_values = column->chunk_values;
		meta->uncompressed_size = uncompressed + column->chunk_uncompressed;
		meta->compressed_size = writer->file_offset - start;
		meta->has_plain_pages = column->chunk_plain_pages ||
			column->dictionary_pages;	/* the dictionary page is PLAIN */
		meta->has_dictionary_pages = column->dictionary_pages;
		meta->null_count = column->chunk_stats.null_count;
		meta->nan_count = column->chunk_stats.nan_count;
		if (writer->options.write_statistics && column->chunk_stats.has_bounds)
		{
			meta->min_value = encode_bound(writer, column, &column->chunk_stats,
										   true, &meta->min_length);
			meta->max_value = encode_bound(writer, column, &column->chunk_stats,
										   false, &meta->max_length);
			if (meta->min_value == NULL || meta->max_value == NULL)
				meta->min_value = meta->max_value = NULL;
		}

		rowgroup->total_byte_size += meta->uncompressed_size;
		rowgroup->total_compressed_size += meta->compressed_size;

		old = MemoryContextSwitchTo(writer->context);
		stats_merge(column, &column->file_stats, &column->chunk_stats);
		MemoryContextSwitchTo(old);
	}

	MemoryContextReset(writer->rowgroup_context);
	writer->rowgroup_rows = 0;
	writer->rowgroup_raw_bytes = 0;
	writer->rowgroup_buffered_bytes = 0;
	for (int c = 0; c < writer->ncolumns; c++)
		column_start_chunk(writer, &writer->columns[c]);
}

static void
write_schema_element(ThriftWriter *thrift, const ParquetColumnSpec *spec)
{
	thrift_struct_begin(thrift);
	thrift_field_i32(thrift, 1, spec->physical);
	if (spec->physical == PARQUET_FIXED_LEN_BYTE_ARRAY)
		thrift_field_i32(thrift, 2, spec->type_length);
	thrift_field_i32(thrift, 3, REPETITION_OPTIONAL);
	thrift_field_string(thrift, 4, spec->name);

	/* ConvertedType as well as LogicalType, for older readers */
	switch (spec->logical)
	{
		case PARQUET_LOGICAL_NONE:
			break;
		case PARQUET_LOGICAL_STRING:
			thrift_field_i32(thrift, 6, CONVERTED_UTF8);
			break;
		case PARQUET_LOGICAL_INTEGER:
			thrift_field_i32(thrift, 6, spec->integer_bits == 8 ?
							 CONVERTED_INT_8 : CONVERTED_INT_16);
			break;
		case PARQUET_LOGICAL_DECIMAL:
			thrift_field_i32(thrift, 6, CONVERTED_DECIMAL);
			thrift_field_i32(thrift, 7, spec->scale);
			thrift_field_i32(thrift, 8, spec->precision);
			break;
		case PARQUET_LOGICAL_DATE:
			thrift_field_i32(thrift, 6, CONVERTED_DATE);
			break;
		case PARQUET_LOGICAL_TIMESTAMP:
			thrift_field_i32(thrift, 6, CONVERTED_TIMESTAMP_MICROS);
			break;
	}

	switch (spec->logical)
	{
		case PARQUET_LOGICAL_NONE:
			break;
		case PARQUET_LOGICAL_STRING:
			thrift_field_struct_begin(thrift, 10);
			thrift_field_empty_struct(thrift, 1);
			thrift_struct_end(thrift);
			break;
		case PARQUET_LOGICAL_INTEGER:
			thrift_field_struct_begin(thrift, 10);
			thrift_field_struct_begin(thrift, 10);
			thrift_field_byte(thrift, 1, (int8) spec->integer_bits);
			thrift_field_bool(thrift, 2, true);
			thrift_struct_end(thrift);
			thrift_struct_end(thrift);
			break;
		case PARQUET_LOGICAL_DECIMAL:
			thrift_field_struct_begin(thrift, 10);
			thrift_field_struct_begin(thrift, 5);
			thrift_field_i32(thrift, 1, spec->scale);
			thrift_field_i32(thrift, 2, spec->precision);
			thrift_struct_end(thrift);
			thrift_struct_end(thrift);
			break;
		case PARQUET_LOGICAL_DATE:
			thrift_field_struct_begin(thrift, 10);
			thrift_field_empty_struct(thrift, 6);
			thrift_struct_end(thrift);
			break;
		case PARQUET_LOGICAL_TIMESTAMP:
			thrift_field_struct_begin(thrift, 10);
			thrift_field_struct_begin(thrift, 8);
			thrift_field_bool(thrift, 1, spec->utc_adjusted);
			thrift_field_struct_begin(thrift, 2);
			thrift_field_empty_struct(thrift, 2);	/* MICROS */
			thrift_struct_end(thrift);
			thrift_struct_end(thrift);
			thrift_struct_end(thrift);
			break;
	}
	thrift_struct_end(thrift);
}

static void
write_column_chunk(ThriftWriter *thrift, const ParquetWriter *writer,
				   const ColumnWriter *column, const ChunkMeta *meta)
{
	int			encodings[3];
	int			nencodings = 0;
	bool		floating = !column->is_decimal &&
		(column->spec.physical == PARQUET_FLOAT ||
		 column->spec.physical == PARQUET_DOUBLE);

	if (meta->has_plain_pages)
		encodings[nencodings++] = ENCODING_PLAIN;
	encodings[nencodings++] = ENCODING_RLE;
	if (meta->has_dictionary_pages)
		encodings[nencodings++] = ENCODING_RLE_DICTIONARY;

	thrift_struct_begin(thrift);
	thrift_field_i64(thrift, 2, 0);		/* file_offset: deprecated, required */
	thrift_field_struct_begin(thrift, 3);
	thrift_field_i32(thrift, 1, column->spec.physical);
	thrift_field_list_begin(thrift, 2, THRIFT_I32, nencodings);
	for (int i = 0; i < nencodings; i++)
		thrift_write_i32(thrift, encodings[i]);
	thrift_field_list_begin(thrift, 3, THRIFT_BINARY, 1);
	thrift_write_binary(thrift, column->spec.name, strlen(column->spec.name));
	thrift_field_i32(thrift, 4, writer->options.codec);
	thrift_field_i64(thrift, 5, meta->num_values);
	thrift_field_i64(thrift, 6, meta->uncompressed_size);
	thrift_field_i64(thrift, 7, meta->compressed_size);
	thrift_field_i64(thrift, 9, meta->data_page_offset);
	if (meta->dictionary_page_offset >= 0)
		thrift_field_i64(thrift, 11, meta->dictionary_page_offset);
	if (writer->options.write_statistics)
	{
		thrift_field_struct_begin(thrift, 12);
		thrift_field_i64(thrift, 3, meta->null_count);
		if (meta->min_value)
		{
			thrift_field_binary(thrift, 5, meta->max_value, meta->max_length);
			thrift_field_binary(thrift, 6, meta->min_value, meta->min_length);
		}
		if (floating)
			thrift_field_i64(thrift, 9, meta->nan_count);
		thrift_struct_end(thrift);
	}
	thrift_struct_end(thrift);	/* ColumnMetaData */
	thrift_struct_end(thrift);	/* ColumnChunk */
}

static void
write_footer(ParquetWriter *writer)
{
	StringInfoData footer;
	ThriftWriter thrift;
	char		length[4];
	MemoryContext old = MemoryContextSwitchTo(writer->context);

	initStringInfo(&footer);
	thrift_writer_init(&thrift, &footer);
	thrift_struct_begin(&thrift);
	thrift_field_i32(&thrift, 1, 1);	/* version */

	thrift_field_list_begin(&thrift, 2, THRIFT_STRUCT, writer->ncolumns + 1);
	thrift_struct_begin(&thrift);
	thrift_field_string(&thrift, 4, "schema");
	thrift_field_i32(&thrift, 5, writer->ncolumns);
	thrift_struct_end(&thrift);
	for (int c = 0; c < writer->ncolumns; c++)
		write_schema_element(&thrift, &writer->columns[c].spec);

	thrift_field_i64(&thrift, 3, writer->num_rows);

	thrift_field_list_begin(&thrift, 4, THRIFT_STRUCT, writer->rowgroup_count);
	for (int r = 0; r < writer->rowgroup_count; r++)
	{
		RowGroupMeta *rowgroup = &writer->rowgroups[r];

		thrift_struct_begin(&thrift);
		thrift_field_list_begin(&thrift, 1, THRIFT_STRUCT, writer->ncolumns);
		for (int c = 0; c < writer->ncolumns; c++)
			write_column_chunk(&thrift, writer, &writer->columns[c],
							   &rowgroup->chunks[c]);
		thrift_field_i64(&thrift, 2, rowgroup->total_byte_size);
		thrift_field_i64(&thrift, 3, rowgroup->num_rows);
		thrift_field_i64(&thrift, 5, rowgroup->file_offset);
		thrift_field_i64(&thrift, 6, rowgroup->total_compressed_size);
		thrift_field_i16(&thrift, 7, (int16) r);
		thrift_struct_end(&thrift);
	}

	thrift_field_string(&thrift, 6, PARQUET_CREATED_BY);

	/* column_orders: without them readers must ignore min_value/max_value */
	thrift_field_list_begin(&thrift, 7, THRIFT_STRUCT, writer->ncolumns);
	for (int c = 0; c < writer->ncolumns; c++)
	{
		thrift_struct_begin(&thrift);
		thrift_field_empty_struct(&thrift, 1);	/* TYPE_ORDER */
		thrift_struct_end(&thrift);
	}
	thrift_struct_end(&thrift);

	write_all(writer, footer.data, footer.len);
	store_le32(length, (uint32) footer.len);
	write_all(writer, length, 4);
	write_all(writer, "PAR1", 4);
	pfree(footer.data);
	MemoryContextSwitchTo(old);
}

/* ----------------------------------------------------------------
 * Public interface
 * ----------------------------------------------------------------
 */

static void
free_zstd_context(void *arg)
{
	ParquetWriter *writer = (ParquetWriter *) arg;

	if (writer->zstd)
		ZSTD_freeCCtx(writer->zstd);
	writer->zstd = NULL;
}

ParquetWriter *
parquet_writer_create(int fd, const char *display_name, int ncolumns,
					  const ParquetColumnSpec *columns,
					  const ParquetWriterOptions *options)
{
	MemoryContext context;
	MemoryContext old;
	ParquetWriter *writer;

	context = AllocSetContextCreate(CurrentMemoryContext,
									"parquet file writer",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(context);

	writer = palloc0(sizeof(ParquetWriter));
	writer->context = context;
	writer->rowgroup_context = AllocSetContextCreate(context,
													 "parquet row group",
													 ALLOCSET_DEFAULT_SIZES);
	writer->fd = fd;
	writer->display_name = pstrdup(display_name);
	writer->options = *options;
	writer->ncolumns = ncolumns;
	writer->columns = palloc0(sizeof(ColumnWriter) * ncolumns);
	for (int c = 0; c < ncolumns; c++)
	{
		ColumnWriter *column = &writer->columns[c];

		column->spec = columns[c];
		column->spec.name = pstrdup(columns[c].name);
		column->is_decimal = columns[c].logical == PARQUET_LOGICAL_DECIMAL;
		if (column->spec.physical == PARQUET_BOOLEAN)
			column->spec.try_dictionary = false;
		stats_init(&column->file_stats);
	}
	writer->rowgroup_capacity = 8;
	writer->rowgroups = palloc(sizeof(RowGroupMeta) * writer->rowgroup_capacity);
	initStringInfo(&writer->body);
	initStringInfo(&writer->compressed);
	initStringInfo(&writer->header);
	writer->level_scratch = palloc(sizeof(uint32) * PAGE_MAX_VALUES);

	if (options->codec == PARQUET_CODEC_ZSTD)
	{
		MemoryContextCallback *callback = palloc0(sizeof(MemoryContextCallback));

		writer->zstd = ZSTD_createCCtx();
		if (writer->zstd == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not create a zstd compression context.")));
		callback->func = free_zstd_context;
		callback->arg = writer;
		MemoryContextRegisterResetCallback(context, callback);
	}

	for (int c = 0; c < ncolumns; c++)
		column_start_chunk(writer, &writer->columns[c]);
	MemoryContextSwitchTo(old);

	write_all(writer, "PAR1", 4);
	return writer;
}

void
parquet_put_null(ParquetWriter *writer, int column_number)
{
	ColumnWriter *column = &writer->columns[column_number];

	if (column->definition_levels == NULL)
	{
		if (column->level_buffer == NULL)
			column->level_buffer =
				MemoryContextAlloc(writer->rowgroup_context, PAGE_MAX_VALUES);
		column->definition_levels = column->level_buffer;
		memset(column->definition_levels, 1, column->page_values);
	}
	column->definition_levels[column->page_values++] = 0;
	column->page_nulls++;
	column->chunk_stats.null_count++;
	if (column->page_values >= PAGE_MAX_VALUES)
		flush_page(writer, column);
}

void
parquet_put_bool(ParquetWriter *writer, int column_number, bool value)
{
	ColumnWriter *column = &writer->columns[column_number];
	char		flag = value ? 1 : 0;

	stats_int(&column->chunk_stats, flag);
	column_add_value(writer, column, &flag, 1);
}

void
parquet_put_int32(ParquetWriter *writer, int column_number, int32 value)
{
	ColumnWriter *column = &writer->columns[column_number];
	char		plain[4];

	stats_int(&column->chunk_stats, value);
	store_le32(plain, (uint32) value);
	column_add_value(writer, column, plain, 4);
}

void
parquet_put_int64(ParquetWriter *writer, int column_number, int64 value)
{
	ColumnWriter *column = &writer->columns[column_number];
	char		plain[8];

	stats_int(&column->chunk_stats, value);
	store_le64(plain, (uint64) value);
	column_add_value(writer, column, plain, 8);
}

void
parquet_put_float(ParquetWriter *writer, int column_number, float4 value)
{
	ColumnWriter *column = &writer->columns[column_number];
	char		plain[4];
	uint32		bits;

	stats_float(&column->chunk_stats, value);
	memcpy(&bits, &value, 4);
	store_le32(plain, bits);
	column_add_value(writer, column, plain, 4);
}

void
parquet_put_double(ParquetWriter *writer, int column_number, float8 value)
{
	ColumnWriter *column = &writer->columns[column_number];
	char		plain[8];
	uint64		bits;

	stats_float(&column->chunk_stats, value);
	memcpy(&bits, &value, 8);
	store_le64(plain, bits);
	column_add_value(writer, column, plain, 8);
}

void
parquet_put_bytes(ParquetWriter *writer, int column_number,
				  const char *data, int len)
{
	ColumnWriter *column = &writer->columns[column_number];

	stats_bytes(&column->chunk_stats, data, len);
	column_add_value(writer, column, data, len);
}

void
parquet_put_decimal(ParquetWriter *writer, int column_number, int128 unscaled)
{
	ColumnWriter *column = &writer->columns[column_number];
	char		plain[16];

	stats_decimal(&column->chunk_stats, unscaled);
	switch (column->spec.physical)
	{
		case PARQUET_INT32:
			store_le32(plain, (uint32) (int32) unscaled);
			column_add_value(writer, column, plain, 4);
			break;
		case PARQUET_INT64:
			store_le64(plain, (uint64) (int64) unscaled);
			column_add_value(writer, column, plain, 8);
			break;
		default:
			encode_decimal_fixed(plain, column->spec.type_length, unscaled);
			column_add_value(writer, column, plain, column->spec.type_length);
			break;
	}
}

void
parquet_end_row(ParquetWriter *writer)
{
	writer->num_rows++;
	writer->rowgroup_rows++;
	if (writer->rowgroup_raw_bytes >= writer->options.row_group_size)
		flush_row_group(writer);
}

int64
parquet_writer_estimated_size(ParquetWriter *writer)
{
	return writer->file_offset + writer->rowgroup_buffered_bytes;
}

int64
parquet_writer_num_rows(ParquetWriter *writer)
{
	return writer->num_rows;
}

int64
parquet_writer_finish(ParquetWriter *writer)
{
	flush_row_group(writer);
	write_footer(writer);
	return writer->file_offset;
}

const ParquetColumnStats *
parquet_writer_column_stats(ParquetWriter *writer, int column_number)
{
	return &writer->columns[column_number].file_stats;
}

void
parquet_writer_free(ParquetWriter *writer)
{
	MemoryContextDelete(writer->context);
}
