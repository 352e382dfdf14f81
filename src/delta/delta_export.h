/*-------------------------------------------------------------------------
 *
 * delta_export.h
 *	  kafka.delta_export(): write the rows of a table or query as a Delta
 *	  Lake commit.  Also the internal entry points for other parts of
 *	  kafka_fdw (streaming tables export incrementally through them).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_DELTA_EXPORT_H
#define KAFKA_DELTA_EXPORT_H

#include "postgres.h"

#include "delta/parquet_writer.h"

typedef enum DeltaExportMode
{
	DELTA_EXPORT_APPEND,		/* add files (creating the table if needed) */
	DELTA_EXPORT_OVERWRITE,		/* replace all files (and the schema if needed) */
	DELTA_EXPORT_ERROR_IF_EXISTS,	/* create only */
	DELTA_EXPORT_IGNORE			/* create, or do nothing if the table exists */
} DeltaExportMode;

typedef struct DeltaExportOptions
{
	DeltaExportMode mode;
	ParquetCodec codec;
	int			compression_level;	/* zstd */
	int64		target_file_size;	/* bytes per data file, roughly */
	int64		row_group_size; /* bytes of encoded values per row group */
	int			page_size;		/* bytes of encoded values per page */
	bool		timestamp_ntz;	/* timestamp without time zone as timestamp_ntz */
	bool		timestamp_ntz_given;	/* else the table's choice wins */
	bool		numeric_as_string;
	const char *app_id;			/* with txn_version: idempotent export */
	int64		txn_version;
} DeltaExportOptions;

typedef struct DeltaExportResult
{
	int64		version;		/* table version now (-1: no table) */
	int32		files;
	int64		rows;
	int64		bytes;
	bool		skipped;		/* nothing done: txn already recorded, or ignore */
} DeltaExportResult;

/* Defaults of the SQL function's parameters. */
extern void delta_export_default_options(DeltaExportOptions *options);

/*
 * Exports the rows of a SELECT (run with the current user's privileges) to
 * the Delta table at path.  With options->app_id set, the commit records
 * txn (app_id, txn_version), and nothing is exported if the table already
 * records a version >= txn_version for app_id: re-running an export after
 * a crash never duplicates rows.
 */
extern void delta_export_query(const char *query, const char *path,
							   const DeltaExportOptions *options,
							   DeltaExportResult *result);

/*
 * Incremental export, for streaming tables (delta_stream.c).
 *
 * The source numbers its committed batches and knows its Kafka offsets; the
 * Delta table remembers, in its txn action for app_id, the number of the
 * last exported batch, and in the same commit's commitInfo (member
 * kafkaOffsets) the offsets it was exported up to.  delta_export_incremental()
 * reads both from the table's log and calls
 *	 rows_after(arg, exported, exported_offsets, &position, &position_offsets)
 * with them (-1 and NULL if the table has none for app_id, and always in
 * overwrite mode); the callback returns the SQL of the rows after those
 * offsets up to the source's current ones, and sets *position to its current
 * batch number and *position_offsets to the JSON of its current offsets; or
 * returns NULL when there is nothing new.  The rows are committed together
 * with txn (app_id, position) and the offsets, atomically, so a crash at any
 * point either exports the range once or not at all, and the next run picks
 * up from the table's own record.  The callback and the query it returns
 * run in the same snapshot (the caller's), so the rows match the offsets.
 */
typedef struct DeltaIncrementalSource
{
	const char *app_id;			/* stable per source and table */
	char	   *(*rows_after) (void *arg, int64 exported,
							   const char *exported_offsets,
							   int64 *position, char **position_offsets);
	void	   *arg;
} DeltaIncrementalSource;

extern void delta_export_incremental(const DeltaIncrementalSource *source,
									 const char *path,
									 const DeltaExportOptions *options,
									 DeltaExportResult *result);

#endif							/* KAFKA_DELTA_EXPORT_H */
