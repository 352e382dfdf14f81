/*-------------------------------------------------------------------------
 *
 * stream.h
 *	  Streaming tables: a heap table kept filled from a kafka foreign table,
 *	  exactly once, by background workers or kafka.refresh_streaming_table.
 *
 * Files: catalog.c (the SQL API and the catalog rows), ingest.c (one batch:
 * fetch outside the transaction, then decode + transform + bulk insert +
 * conditional offset update in one), sink.c (bulk insert into the target),
 * refresh.c (the availableNow procedure), launcher.c (launcher, worker
 * slots in shared memory, DROP EXTENSION / DROP DATABASE hook), worker.c
 * (one stream's worker).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_STREAM_H
#define KAFKA_STREAM_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "utils/relcache.h"

#include "fdw/kafka_table.h"

typedef enum StreamTrigger
{
	STREAM_TRIGGER_CONTINUOUS,
	STREAM_TRIGGER_INTERVAL,
	STREAM_TRIGGER_AVAILABLE_NOW
} StreamTrigger;

typedef enum StreamOnError
{
	STREAM_ON_ERROR_FAIL,
	STREAM_ON_ERROR_DEAD_LETTER,
	STREAM_ON_ERROR_SKIP,
	STREAM_ON_ERROR_NULL
} StreamOnError;

/* One row of kafka.streaming_tables. */
typedef struct StreamDef
{
	Oid			target;
	Oid			source;
	Oid			owner;
	char	   *target_name;	/* qualified, for messages */
	StreamTrigger trigger;
	int64		interval_ms;
	int64		max_offsets;	/* per batch; 0 = the default cap */
	StreamOnError on_error;
	bool		fail_on_data_loss;
	char	   *transform;		/* or NULL */
	char	   *timezone;
	char	   *datestyle;
	char	   *state;			/* active | paused | failed */
	int64		batch_id;
} StreamDef;

/* Records per batch when max_offsets_per_trigger is not set. */
#define STREAM_DEFAULT_BATCH_RECORDS 50000
/* A batch also closes when its payloads (keys and values) reach this size. */
#define STREAM_BATCH_BYTES (32 * 1024 * 1024)

/* catalog.c */
extern StreamDef *stream_def_load(Oid target, bool missing_ok);
extern StreamDef *stream_def_copy(StreamDef *def);
extern void stream_check_target(Relation rel);
extern void stream_mark_failed(Oid target, const char *error);
extern void stream_check_owner(StreamDef *def);
extern void stream_notify_launcher_at_commit(void);

/*
 * Run one fixed catalog statement (inside SPI_connect) as the bootstrap
 * superuser; returns SPI_processed.
 */
extern uint64 stream_catalog_exec(const char *sql, int nargs, Oid *types,
								  Datum *values, const char *nulls,
								  bool read_only);

/* ingest.c */
typedef struct StreamIngest StreamIngest;

typedef struct StreamBatchResult
{
	int64		records;		/* consumed (offsets advanced over) */
	int64		rows;			/* written to the target */
	int64		dead_letters;
	int64		skipped;
} StreamBatchResult;

/*
 * Open a stream for ingest (in a transaction): read its offsets, add new
 * partitions, connect, start reading.  bounded: end offsets are the high
 * watermarks now (availableNow); otherwise the read never ends.
 */
extern StreamIngest *stream_ingest_open(StreamDef *def, bool bounded,
										MemoryContext parent);

/*
 * Fetch the next batch (no transaction needed).  Bounded reads fill until
 * the batch cap or the end; unbounded ones wait up to wait_ms for a first
 * record, then take what arrives within a short linger.  Returns whether
 * there is anything to apply (stream_ingest_pending).
 */
extern bool stream_ingest_fetch(StreamIngest *ingest, int wait_ms);

/* Does the fetched batch hold anything to commit (records or moved offsets)? */
extern bool stream_ingest_pending(StreamIngest *ingest);

/*
 * Apply the fetched batch in the current transaction: rows, dead letters,
 * offsets (conditional update: a concurrent writer makes it fail), batch_id.
 * After the transaction commits call stream_ingest_committed; if it aborts,
 * close the ingest (its position is ahead of the catalog).
 */
extern void stream_ingest_apply(StreamIngest *ingest, StreamBatchResult *result);
extern void stream_ingest_committed(StreamIngest *ingest);

/* Records left below the end offsets (bounded) / high watermarks. */
extern int64 stream_ingest_lag(StreamIngest *ingest);
extern bool stream_ingest_partitions_changed(StreamIngest *ingest);
extern void stream_ingest_close(StreamIngest *ingest);

/* Set when the last error was a record's (decode/transform, on_error fail). */
extern bool stream_record_error_raised;

/* Errors that retrying cannot fix: the stream is marked failed. */
extern bool stream_error_is_permanent(ErrorData *edata);

/* sink.c: bulk insert into the target, with its indexes, constraints,
 * defaults and triggers. */
typedef struct StreamSink StreamSink;

extern StreamSink *stream_sink_begin(Relation rel, TupleDesc input,
									 const char *input_name);
extern int *stream_sink_map_columns(Relation rel, TupleDesc input,
									const char *input_name);
extern void stream_sink_put(StreamSink *sink, Datum *values, bool *nulls,
							const char *topic, int32 partition, int64 offset);
extern void stream_sink_flush(StreamSink *sink);
extern int64 stream_sink_end(StreamSink *sink);

/* launcher.c: GUCs, shared memory, hooks, the launcher and its probe */
extern void kafka_stream_init(void);
extern bool stream_launcher_available(void);
extern PGDLLEXPORT void kafka_stream_launcher_main(Datum arg);
extern bool stream_extension_present(void);

/* worker.c: the stream worker */
extern PGDLLEXPORT void kafka_stream_worker_main(Datum arg);
/* A worker's state for kafka.stream_progress (NULL / -1: unchanged). */
extern void stream_worker_report(const char *state, double rows_per_second,
								 const char *error);

/* refresh.c: advisory lock that keeps one writer per stream (a worker or
 * a refresh) */
extern bool stream_lock_acquire(Oid target, bool session, bool wait);
extern void stream_lock_release(Oid target);

/* ingest.c: run as the stream's owner with its TimeZone/DateStyle pinned */
typedef struct StreamUserContext
{
	Oid			saved_user;
	int			saved_sec_context;
	int			guc_nest_level;
} StreamUserContext;
extern void stream_become_owner(StreamDef *def, StreamUserContext *ctx);
extern void stream_restore_user(StreamUserContext *ctx);

#endif							/* KAFKA_STREAM_H */
