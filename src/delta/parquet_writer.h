/*-------------------------------------------------------------------------
 *
 * parquet_writer.h
 *	  Streaming Parquet file writer: flat schema of optional columns, data
 *	  page v1, PLAIN or dictionary values, RLE definition levels, zstd /
 *	  snappy / no compression, memory bounded by one row group.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_DELTA_PARQUET_WRITER_H
#define KAFKA_DELTA_PARQUET_WRITER_H

#include "postgres.h"

#include "lib/stringinfo.h"

#ifndef HAVE_INT128
#error "kafka_fdw's Parquet writer needs a 128-bit integer type for decimals"
#endif

/* Physical types, numbered as in parquet.thrift. */
typedef enum ParquetPhysicalType
{
	PARQUET_BOOLEAN = 0,
	PARQUET_INT32 = 1,
	PARQUET_INT64 = 2,
	PARQUET_FLOAT = 4,
	PARQUET_DOUBLE = 5,
	PARQUET_BYTE_ARRAY = 6,
	PARQUET_FIXED_LEN_BYTE_ARRAY = 7
} ParquetPhysicalType;

/* The logical annotations we write (each maps to one LogicalType member). */
typedef enum ParquetLogicalKind
{
	PARQUET_LOGICAL_NONE,
	PARQUET_LOGICAL_STRING,
	PARQUET_LOGICAL_INTEGER,
	PARQUET_LOGICAL_DECIMAL,
	PARQUET_LOGICAL_DATE,
	PARQUET_LOGICAL_TIMESTAMP
} ParquetLogicalKind;

/* Compression codecs, numbered as in parquet.thrift. */
typedef enum ParquetCodec
{
	PARQUET_CODEC_UNCOMPRESSED = 0,
	PARQUET_CODEC_SNAPPY = 1,
	PARQUET_CODEC_ZSTD = 6
} ParquetCodec;

typedef struct ParquetColumnSpec
{
	const char *name;			/* UTF-8 */
	ParquetPhysicalType physical;
	ParquetLogicalKind logical;
	int			type_length;	/* FIXED_LEN_BYTE_ARRAY: bytes per value */
	int			precision;		/* DECIMAL */
	int			scale;			/* DECIMAL */
	int			integer_bits;	/* INTEGER: 8 or 16 */
	bool		utc_adjusted;	/* TIMESTAMP: isAdjustedToUTC */
	bool		try_dictionary; /* worth trying dictionary encoding */
} ParquetColumnSpec;

typedef struct ParquetWriterOptions
{
	ParquetCodec codec;
	int			compression_level;	/* zstd only */
	int64		row_group_size; /* bytes of encoded, uncompressed values */
	int			page_size;		/* bytes of encoded, uncompressed values */
	bool		write_statistics;	/* column chunk min/max in the footer */
} ParquetWriterOptions;

/*
 * Per-column statistics over everything written to the file so far; the
 * Delta log's per-file stats are derived from these.  Which bound fields are
 * meaningful depends on the column's physical type: int for BOOLEAN, INT32,
 * INT64 (unless decimal); floating for FLOAT and DOUBLE (NaN excluded);
 * decimal for DECIMAL columns whatever their physical type; bytes for
 * BYTE_ARRAY (unsigned byte-wise order).
 */
typedef struct ParquetColumnStats
{
	int64		null_count;
	int64		value_count;	/* non-null values */
	int64		nan_count;
	bool		has_bounds;		/* min/max hold at least one value */
	int64		min_int;
	int64		max_int;
	double		min_float;
	double		max_float;
	int128		min_decimal;
	int128		max_decimal;
	StringInfoData min_bytes;
	StringInfoData max_bytes;
} ParquetColumnStats;

typedef struct ParquetWriter ParquetWriter;

/*
 * The writer appends to fd (already open, positioned at 0) and never closes
 * it; display_name is only used in error messages.  All memory lives in a
 * child of CurrentMemoryContext, released by parquet_writer_free().
 */
extern ParquetWriter *parquet_writer_create(int fd, const char *display_name,
											int ncolumns,
											const ParquetColumnSpec *columns,
											const ParquetWriterOptions *options);

/* One call per column per row, then parquet_end_row(). */
extern void parquet_put_null(ParquetWriter *writer, int column);
extern void parquet_put_bool(ParquetWriter *writer, int column, bool value);
extern void parquet_put_int32(ParquetWriter *writer, int column, int32 value);
extern void parquet_put_int64(ParquetWriter *writer, int column, int64 value);
extern void parquet_put_float(ParquetWriter *writer, int column, float4 value);
extern void parquet_put_double(ParquetWriter *writer, int column, float8 value);
extern void parquet_put_bytes(ParquetWriter *writer, int column,
							  const char *data, int len);
extern void parquet_put_decimal(ParquetWriter *writer, int column,
								int128 unscaled);
extern void parquet_end_row(ParquetWriter *writer);

/* Bytes written to the file plus compressed bytes buffered for it. */
extern int64 parquet_writer_estimated_size(ParquetWriter *writer);
extern int64 parquet_writer_num_rows(ParquetWriter *writer);

/* Flushes the last row group and the footer; returns the file size. */
extern int64 parquet_writer_finish(ParquetWriter *writer);

extern const ParquetColumnStats *parquet_writer_column_stats(ParquetWriter *writer,
															 int column);
extern void parquet_writer_free(ParquetWriter *writer);

/* Smallest FIXED_LEN_BYTE_ARRAY length holding any decimal of a precision. */
extern int	parquet_decimal_byte_length(int precision);

#endif							/* KAFKA_DELTA_PARQUET_WRITER_H */
