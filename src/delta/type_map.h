/*-------------------------------------------------------------------------
 *
 * type_map.h
 *	  PostgreSQL types to Delta Lake / Parquet columns, and the per-value
 *	  conversion used while exporting.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_DELTA_TYPE_MAP_H
#define KAFKA_DELTA_TYPE_MAP_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"

#include "delta/parquet_writer.h"

/* How a source value is read (by PostgreSQL type). */
typedef enum DeltaValueKind
{
	DELTA_VALUE_BOOL,
	DELTA_VALUE_INT2,
	DELTA_VALUE_INT4,
	DELTA_VALUE_INT8,
	DELTA_VALUE_FLOAT4,
	DELTA_VALUE_FLOAT8,
	DELTA_VALUE_NUMERIC,		/* to a decimal, or text if the target is string */
	DELTA_VALUE_TEXT,			/* text-like varlena: text, varchar, bpchar, json */
	DELTA_VALUE_BYTEA,
	DELTA_VALUE_DATE,
	DELTA_VALUE_TIMESTAMP,		/* timestamp and timestamptz */
	DELTA_VALUE_UUID,
	DELTA_VALUE_ARRAY,			/* JSON text */
	DELTA_VALUE_COMPOSITE,		/* JSON text */
	DELTA_VALUE_OUTPUT			/* the type's output function */
} DeltaValueKind;

/* The Delta (Spark) primitive types we write. */
typedef enum DeltaType
{
	DELTA_TYPE_BOOLEAN,
	DELTA_TYPE_SHORT,
	DELTA_TYPE_INTEGER,
	DELTA_TYPE_LONG,
	DELTA_TYPE_FLOAT,
	DELTA_TYPE_DOUBLE,
	DELTA_TYPE_DECIMAL,
	DELTA_TYPE_STRING,
	DELTA_TYPE_BINARY,
	DELTA_TYPE_DATE,
	DELTA_TYPE_TIMESTAMP,
	DELTA_TYPE_TIMESTAMP_NTZ
} DeltaType;

typedef struct DeltaTypeOptions
{
	/* timestamp without time zone as timestamp_ntz (else timestamp, UTC) */
	bool		timestamp_ntz;
	/* unconstrained or too wide numeric as string (else decimal(38,9)) */
	bool		numeric_as_string;
} DeltaTypeOptions;

typedef struct DeltaColumn
{
	char	   *name;			/* UTF-8, as written to Parquet and the log */
	char	   *source_name;	/* as in the source, server encoding */
	int			source_index;	/* 0-based attribute of the source tuple */
	Oid			source_type;	/* base type (domains resolved) */
	int32		source_typmod;
	DeltaValueKind kind;
	DeltaType	type;
	int			precision;		/* DECIMAL */
	int			scale;			/* DECIMAL */
	bool		source_scale_known; /* numeric with a typmod */
	bool		required;		/* the Delta table says nullable = false */
	FmgrInfo	output;			/* DELTA_VALUE_OUTPUT, and NUMERIC to string */
	ParquetColumnSpec parquet;
} DeltaColumn;

/* A field of an existing Delta table's schema. */
typedef struct DeltaField
{
	char	   *name;
	char	   *type;			/* primitive type name; NULL for nested types */
	bool		nullable;
	bool		has_invariants; /* metadata carries delta.invariants */
} DeltaField;

/*
 * Maps a source tuple descriptor to columns, refusing names that Delta tables
 * without column mapping cannot hold.
 */
extern DeltaColumn *delta_columns_from_tupdesc(TupleDesc tupdesc,
											   const DeltaTypeOptions *options,
											   int *ncolumns);

/*
 * Aligns columns with an existing table's schema: reorders them to the
 * table's order and adopts the table's type where the source converts to it
 * without loss (int widening, decimal widening, timestamp_ntz).  Returns NULL
 * on success, else a sentence saying why the schemas differ; the columns are
 * then left untouched.  timestamp_ntz_given says whether the caller chose
 * the timestamp mapping explicitly.
 */
extern char *delta_columns_bind(DeltaColumn *columns, int ncolumns,
								const DeltaField *fields, int nfields,
								bool timestamp_ntz_given);

extern bool delta_columns_need_timestamp_ntz(const DeltaColumn *columns,
											 int ncolumns);

/* The Delta type name, e.g. "long" or "decimal(10,2)". */
extern const char *delta_type_name(const DeltaColumn *column);

/* The metaData schemaString (a JSON document, not yet escaped). */
extern char *delta_schema_string(const DeltaColumn *columns, int ncolumns);

/* Converts and writes one value of a row (the hot path). */
extern void delta_write_value(ParquetWriter *writer, int column_number,
							  DeltaColumn *column, Datum value, bool isnull);

/* Text of an unscaled decimal, e.g. -12345 at scale 2 -> "-123.45". */
extern void delta_append_decimal(StringInfo out, int128 unscaled, int scale);

#endif							/* KAFKA_DELTA_TYPE_MAP_H */
