/*-------------------------------------------------------------------------
 *
 * stream.h
 *	  Streaming tables: a heap table kept filled from a kafka foreign table,
 *	  exactly once, by background workers or kafka.refresh_streaming_table.
 *
 * Files: catalog.c (the SQL API and the catalog rows), ingest.c (one batch:
 * fetch outside the transaction, then decode + transform + bulk insert +
 * conditional offset update in one), target.c / target.h (where a batch's
 * rows go, per mode: append, or keyed in keyed.c and scd2.c), sink.c (bulk
 * insert into the target),
 * refresh.c (the availableNow procedure), launcher.c (launcher, worker
 * slots in shared memory, DROP EXTENSION / DROP DATABASE hook), worker.c
 * (one stream's worker), progress.c (the live high watermarks of
 * kafka.stream_progress).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_STREAM_H
#define KAFKA_STREAM_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

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

/* How a batch's rows reach the target (streaming_tables.mode). */
typedef enum StreamMode
{
	STREAM_MODE_APPEND,			/* every row inserted */
	STREAM_MODE_UPSERT,			/* by keys; a tombstone (NULL value) deletes */
	STREAM_MODE_CDC				/* by keys; apply_as_deletes / _truncates */
} StreamMode;

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
	char	   *search_path;	/* the creator's; NULL: the database's default */
	char	   *state;			/* active | paused | failed */
	int64		batch_id;
	/* keyed targets (mode upsert / cdc); catalogs before 0.3: append */
	StreamMode	mode;
	List	   *keys;			/* target key column names (char *) */
	char	   *sequence_by;	/* source column, or NULL: the Kafka position */
	char	   *apply_as_deletes;	/* boolean SQL over the batch row, or NULL */
	char	   *apply_as_truncates; /* likewise */
	bool		ignore_null_updates;
	List	   *except_columns; /* source column names (char *) not written */
	int			scd_type;		/* 1, or 2: history in __start_at/__end_at */
	List	   *track_history_columns;	/* SCD 2: NIL = every column */
	int64		tombstone_retention_ms;
	/* catalogs before 0.4: no schema evolution, never altered */
	bool		add_columns;	/* schema_evolution 'add_columns' */
	TimestampTz altered_at;		/* last alter_streaming_table, or 0 */
	/* catalogs before 0.5: none of these */
	char	   *dead_letter_topic;	/* bad records go there, or NULL */
	char	   *transactional_id;	/* NULL: derived (kafka_target.c) */
	char	   *group_id;		/* NULL: derived */
	bool		source_header;	/* kafka_fdw.source on records produced */
	int64		created_us;		/* created_at, microseconds since 1970 */
	/* catalogs before 0.6: false */
	bool		commit_offsets_to_group;	/* mirror committed offsets to group_id */
} StreamDef;

/* Records per batch when max_offsets_per_trigger is not set. */
#define STREAM_DEFAULT_BATCH_RECORDS 50000
/* A batch also closes when its payloads (keys and values) reach this size. */
#define STREAM_BATCH_BYTES (32 * 1024 * 1024)
/*
 * A keyed batch of SCD type 1 reads on while what it collapsed (one change
 * per key) and its dead letters stay under this size (ingest.c,
 * extend_batch).
 */
#define STREAM_KEYED_BATCH_BYTES (64 * 1024 * 1024)

/* keyed.c: a text[] of C strings (for catalog statements) */
extern Datum stream_keyed_text_array(List *strings);

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
	int64		rows;			/* written to the target: inserted + updated */
	int64		inserted;
	int64		updated;
	int64		deleted;
	int64		dead_letters;
	int64		skipped;
} StreamBatchResult;

/*
 * The target columns written by the last committed batch of a worker or of
 * a refresh, kept across the ingests it opens (a worker reopens one when
 * the source changes, an interval worker at every tick): a column written
 * before that a later batch finds dropped or renamed stops the stream
 * rather than losing its values (ingest.c, check_written_columns).
 */
typedef struct StreamWrittenColumns StreamWrittenColumns;

extern StreamWrittenColumns *stream_written_columns_create(MemoryContext parent);

/*
 * Open a stream for ingest (in a transaction): read its offsets, add new
 * partitions, connect, start reading.  bounded: end offsets are the high
 * watermarks now (availableNow); otherwise the read never ends.  written:
 * the caller's (NULL: this ingest's batches only).
 */
extern StreamIngest *stream_ingest_open(StreamDef *def, bool bounded,
										MemoryContext parent,
										StreamWrittenColumns *written);

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
 * close the ingest (its position is ahead of the catalog).  Returns false,
 * having written nothing, when the source, its server or user mapping
 * changed since the ingest opened: close it and open it again.  Raises the
 * error that stops the stream when something it needs vanished or a
 * privilege of the owner was revoked.
 */
extern bool stream_ingest_apply(StreamIngest *ingest, StreamBatchResult *result);
extern void stream_ingest_committed(StreamIngest *ingest);

/*
 * Once the catalog's offsets the ingest knows are committed (after the
 * open's transaction, after stream_ingest_committed, never inside a
 * transaction that may still roll back): commit them to the stream's
 * consumer group too, asynchronously, when the stream mirrors them (a table
 * target with commit_offsets_to_group; a stream with a Kafka transaction
 * commits its group there).  The group may lag the catalog, never lead it.
 * At most one commit a second is posted while batches keep coming (a fetch
 * waits behind a commit on the same connection); the offsets in between
 * are posted by the next batch past that second, by
 * stream_ingest_mirror_report or by stream_ingest_mirror_flush.  Reports
 * how the previous such commit went (stream_report_warning).
 */
extern void stream_ingest_mirror_offsets(StreamIngest *ingest);

/*
 * Post the offsets still due, wait (cancellably, bounded by the connect
 * timeout) for the last of those commits to end, and report how it went:
 * for a refresh, whose session may end as soon as it returns.
 */
extern void stream_ingest_mirror_flush(StreamIngest *ingest);

/* An idle worker: post the offsets still due, or report how the last commit went. */
extern void stream_ingest_mirror_report(StreamIngest *ingest);

/* Records left below the end offsets (bounded) / high watermarks. */
extern int64 stream_ingest_lag(StreamIngest *ingest);
extern bool stream_ingest_partitions_changed(StreamIngest *ingest);

/*
 * In a transaction: the checks of stream_ingest_apply without a batch, and
 * has the stream been altered (def: as the catalog says now) since the
 * ingest opened?  false: close it and open it again.
 */
extern bool stream_ingest_is_current(StreamIngest *ingest, StreamDef *def);
/* Only the last: was the stream altered (or given a consumer group to mirror
 * its offsets to) since the ingest opened? */
extern bool stream_ingest_same_definition(StreamIngest *ingest, StreamDef *def);

/* Why a continuous ingest receives nothing (all brokers down), or NULL. */
extern char *stream_ingest_trouble(StreamIngest *ingest);
extern void stream_ingest_close(StreamIngest *ingest);

/* Set when the last error was a record's (decode/transform, on_error fail). */
extern bool stream_record_error_raised;

/* Whose fault an error met while applying a batch is (see ingest.c). */
typedef enum StreamErrorKind
{
	STREAM_ERROR_RECORD,		/* the record's: on_error decides */
	STREAM_ERROR_RETRY,			/* the batch's, transient: retried later */
	STREAM_ERROR_STOP			/* the batch's, permanent: the stream fails */
} StreamErrorKind;

extern StreamErrorKind stream_classify_error(int sqlerrcode);

/*
 * Errors that retrying cannot fix (a record's under on_error 'fail', or a
 * permanent error of the batch): the stream is marked failed.
 */
extern bool stream_error_is_permanent(ErrorData *edata);

/*
 * Run fn(arg) in an internal subtransaction: true when it returned (the
 * subtransaction committed), false with its error in *edata (allocated in
 * the caller's memory context) when it raised one, everything it did
 * rolled back.  The caller's memory context and resource owner are as
 * before either way.
 */
extern bool stream_in_subtransaction(void (*fn) (void *arg), void *arg,
									 ErrorData **edata);

/* sink.c: bulk insert into the target, with its indexes, constraints,
 * defaults and triggers. */
typedef struct StreamSink StreamSink;

extern StreamSink *stream_sink_begin(Relation rel, TupleDesc input,
									 const char *input_name);

/*
 * The input as the target sees it: input itself, or without the stream's
 * except_columns (a copy where they are dropped columns, which map to
 * nothing).
 */
extern TupleDesc stream_sink_written_columns(StreamDef *def, TupleDesc input);
extern int *stream_sink_map_columns(Relation rel, TupleDesc input,
									const char *input_name);
extern void stream_sink_put(StreamSink *sink, Datum *values, bool *nulls,
							const char *topic, int32 partition, int64 offset);

/*
 * A row whose values do not fit the target (SQLSTATE class 22: too long,
 * out of range, invalid for the column's type; class 23: a domain's or the
 * table's NOT NULL / CHECK constraint) is by default an error of the batch,
 * raised with the record's coordinates in the context and
 * stream_record_error_raised set.  With a reject callback the row is left
 * out instead and the callback gets its coordinates (as given to
 * stream_sink_put; topic NULL for rows without one) and the error, during
 * stream_sink_put / flush / end; the callback may itself throw (e.g.
 * ReThrowError) to fail the batch after all.  Errors of other classes
 * always fail the batch.
 */
typedef void (*StreamSinkRejectCallback) (void *arg, const char *topic,
										  int32 partition, int64 offset,
										  ErrorData *edata);
extern void stream_sink_on_reject(StreamSink *sink,
								  StreamSinkRejectCallback callback, void *arg);
extern void stream_sink_flush(StreamSink *sink);

/*
 * Keyed targets: buffer an update of the stored row in slot stored (its
 * tts_tid and values, in the target's row type, are copied) to the input
 * row; input columns marked in keep (or none, keep NULL) take the stored
 * value.  Rejects work as for stream_sink_put.  Deletes are immediate.
 * Both use snapshot (set first).  In a partitioned target the stored row is
 * in the leaf partition stream_sink_route_key found for its key: an update
 * keeps the key, so its new version goes there too; a delete names it.
 */
extern void stream_sink_put_update(StreamSink *sink, Datum *values, bool *nulls,
								   const bool *keep, TupleTableSlot *stored,
								   const char *topic, int32 partition,
								   int64 offset);
extern void stream_sink_delete(StreamSink *sink, ResultRelInfo *partition,
							   TupleTableSlot *stored);

/*
 * A partitioned target: the leaf partition of the row in slot (the
 * target's row type; only the partition key columns are looked at), or
 * NULL when no partition takes it.
 */
extern ResultRelInfo *stream_sink_route_key(StreamSink *sink, TupleTableSlot *slot);

/*
 * Updates and deletes fire the target's UPDATE and DELETE triggers (row and
 * statement; not transition tables) as the executor's simple-relation
 * updates do.  Call right after stream_sink_begin.
 */
extern void stream_sink_fire_row_triggers(StreamSink *sink);
extern void stream_sink_set_snapshot(StreamSink *sink, Snapshot snapshot);
/* The unique index on the keys, whose columns updates never change. */
extern void stream_sink_set_key_index(StreamSink *sink, Oid index);
extern void stream_sink_counts(StreamSink *sink, int64 *updated, int64 *deleted);
/* Can a row's values still fail when written (coercions, constraints)? */
extern bool stream_sink_fallible(StreamSink *sink);
extern int64 stream_sink_end(StreamSink *sink);

/*
 * keyed.c: can a keyed stream (mode upsert or cdc) write into target from
 * rows shaped like input (the source's, or the transform's result)?
 * Checks what a batch needs: keys (given or defaulted) that are columns of
 * the input and of the target, not in except_columns, with a btree unique
 * index (or primary key) of the target on exactly them; the sequence column
 * (sequence_by or a Debezium LSN column) in the input with an ordering and,
 * for SCD type 1, in the target with the same type and not in
 * except_columns; no transform in mode upsert; no UPDATE / DELETE triggers
 * on the target.  Raises the error (class 42 or 0A) naming what is wrong;
 * returns the unique index.  Called when a stream is created and by the
 * first batch of each ingest.
 */
extern Oid	stream_keyed_validate(StreamDef *def, Relation target, TupleDesc input);

/* launcher.c: GUCs, shared memory, hooks, the launcher and its probe */
extern int	stream_history_size;	/* kafka_fdw.stream_history_size */
extern void kafka_stream_init(void);
extern bool stream_launcher_available(void);
extern PGDLLEXPORT void kafka_stream_launcher_main(Datum arg);
extern bool stream_extension_present(void);

/* worker.c: the stream worker */
extern PGDLLEXPORT void kafka_stream_worker_main(Datum arg);
/* A worker's state for kafka.stream_progress (NULL / -1: unchanged). */
extern void stream_worker_report(const char *state, double rows_per_second,
								 const char *error);
/* The same with an end: 'sleeping' until the next tick. */
extern void stream_worker_report_until(const char *state, TimestampTz until);
/*
 * A trouble that does not stop the stream (its consumer group could not be
 * committed), for kafka.stream_progress's warning; NULL clears it.  Outside
 * a worker (a refresh) a new one is a WARNING to the caller.
 */
extern void stream_report_warning(const char *msg);

/* refresh.c: advisory lock that keeps one writer per stream (a worker or
 * a refresh) */
extern bool stream_lock_acquire(Oid target, bool session, bool wait);
extern void stream_lock_release(Oid target);

/* ingest.c: run as the stream's owner with its TimeZone, DateStyle and
 * search_path pinned */
typedef struct StreamUserContext
{
	Oid			saved_user;
	int			saved_sec_context;
	int			guc_nest_level;
} StreamUserContext;
extern void stream_become_owner(StreamDef *def, StreamUserContext *ctx);
extern void stream_restore_user(StreamUserContext *ctx);

#endif							/* KAFKA_STREAM_H */
