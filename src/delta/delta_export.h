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
 * Incremental export, for streaming tables.
 *
 * The stream numbers its committed batches (or any monotonic position) and
 * the Delta table remembers, in its txn action for app_id, the position of
 * the last exported batch.  delta_export_incremental() reads that position
 * from the table's log and calls rows_after(arg, exported, &position) with
 * it (-1 if the table has none for app_id); the callback returns the SQL of
 * the rows after 'exported' up to the stream's current committed position,
 * and sets *position to that position; or returns NULL when there is
 * nothing new.  The rows are exported and committed together with txn
 * (app_id, position), atomically, so a crash at any point either exports
 * the whole range once or not at all, and the next run picks up from the
 * table's own record.  The query must bound the rows by both positions
 * explicitly (e.g. "WHERE batch > 41 AND batch <= 57"), because it runs
 * after the callback, in a possibly newer snapshot.
 *
 * In overwrite mode the callback is called with exported = -1 (all rows).
 */
typedef struct DeltaIncrementalSource
{
	const char *app_id;			/* stable per stream and table */
	char	   *(*rows_after) (void *arg, int64 exported, int64 *position);
	void	   *arg;
} DeltaIncrementalSource;

extern void delta_export_incremental(const DeltaIncrementalSource *source,
									 const char *path,
									 const DeltaExportOptions *options,
									 DeltaExportResult *result);

/*
 * kafka.delta_export(source => 'some_table', mode => 'append') asks this
 * hook whether the table is a streaming table; the streaming module sets it
 * at load time and fills *source for its tables.  Streaming tables are then
 * exported incrementally, without app_id/txn_version from the caller.
 */
typedef bool (*delta_streaming_source_hook_type) (Oid relid,
												  DeltaIncrementalSource *source);
extern PGDLLIMPORT delta_streaming_source_hook_type delta_streaming_source_hook;

#endif							/* KAFKA_DELTA_EXPORT_H */
