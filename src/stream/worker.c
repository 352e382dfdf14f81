/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The worker that runs one continuous or interval stream (the
 *	  transaction loop of worker_spi: fetch outside a transaction, apply and
 *	  commit in one).
 *
 * Workers connect as the bootstrap superuser and do the stream's data work
 * as its owner (SetUserIdAndSecContext, as REFRESH MATERIALIZED VIEW
 * does): PG15 background workers cannot log in as NOLOGIN roles.  SIGTERM
 * stops a worker at its next interrupt check (every Kafka wait is sliced to
 * 100 ms); postmaster death ends every wait.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "registry/schema_registry.h"
#include "stream/stream.h"
#include "stream/stream_shmem.h"

#define PARTITION_CHECK_MS 10000

/* ---------------------------------------------------------------------
 * Stream worker
 * --------------------------------------------------------------------- */

void
stream_worker_report(const char *state, double rows_per_second, const char *error)
{
	StreamSlot *slot;

	if (stream_my_slot < 0)
		return;
	slot = &stream_shared->slots[stream_my_slot];
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	if (state)
		stream_slot_set_state(slot, state, 0);
	if (rows_per_second >= 0)
		slot->rows_per_second = rows_per_second;
	if (error)
		strlcpy(slot->last_error, error, sizeof(slot->last_error));
	/* an empty error is reported after a committed batch: the streak of failures is over */
	if (error && error[0] == '\0')
		slot->restarts = 0;
	LWLockRelease(stream_shared->lock);
}

void
stream_worker_report_until(const char *state, TimestampTz until)
{
	if (stream_my_slot < 0)
		return;
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	stream_slot_set_state(&stream_shared->slots[stream_my_slot], state, until);
	LWLockRelease(stream_shared->lock);
}

/*
 * Something the owner of the stream should know while it runs, shown in
 * kafka.stream_progress.warning until replaced (NULL clears it).  Outside a
 * worker (a refresh) it is a WARNING, raised when it changes.
 */
static bool slot_has_warning = false;	/* this worker's slot shows one */

void
stream_report_warning(const char *msg)
{
	static char *last = NULL;	/* outside a worker: the last one raised */
	StreamSlot *slot;

	if (stream_my_slot < 0)
	{
		if (msg && (last == NULL || strcmp(last, msg) != 0))
			ereport(WARNING, (errmsg("%s", msg)));
		if (last)
			pfree(last);
		last = msg ? MemoryContextStrdup(TopMemoryContext, msg) : NULL;
		return;
	}
	/* clearing a warning never set: no lock (a worker's every batch) */
	if (msg == NULL && !slot_has_warning)
		return;
	slot = &stream_shared->slots[stream_my_slot];
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	strlcpy(slot->warning, msg ? msg : "", sizeof(slot->warning));
	LWLockRelease(stream_shared->lock);
	slot_has_warning = (msg != NULL);
}

/*
 * While a batch waits for an unavailable schema registry: say so in
 * kafka.stream_progress (cleared when a batch commits).
 */
static void
report_registry_retry(const char *message)
{
	stream_worker_report("waiting for schema registry", -1, message);
}

/* However the worker ends (FATAL on SIGTERM too), its slot forgets it. */
static void
worker_shmem_exit(int code, Datum arg)
{
	if (stream_my_slot < 0)
		return;
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	if (stream_shared->slots[stream_my_slot].pid == MyProcPid)
		stream_shared->slots[stream_my_slot].pid = 0;
	LWLockRelease(stream_shared->lock);
}

static void
worker_exit(bool clean)
{
	if (stream_my_slot >= 0)
	{
		StreamSlot *slot = &stream_shared->slots[stream_my_slot];

		LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
		slot->clean_exit = clean;
		/*
		 * One that gave way to a waiting stream keeps the state it set;
		 * otherwise the launcher starts it again if it is still wanted.
		 */
		if (clean && !slot->yielding)
			stream_slot_set_state(slot, "starting", 0);
		LWLockRelease(stream_shared->lock);
	}
	proc_exit(clean ? 0 : 1);
}

/*
 * In a transaction: the stream's current definition, or NULL when it should
 * not run here any more (dropped, paused, failed, extension gone).
 */
static StreamDef *
current_def(Oid target)
{
	StreamDef  *def;

	if (!stream_extension_present())
		return NULL;
	def = stream_def_load(target, true);
	if (def == NULL || strcmp(def->state, "active") != 0 ||
		def->trigger == STREAM_TRIGGER_AVAILABLE_NOW)
		return NULL;
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(def->owner)))
	{
		stream_mark_failed(target, "the owner role of the stream no longer exists");
		return NULL;
	}
	return def;
}

/*
 * Start a transaction with a snapshot and load the stream's definition into
 * cxt.  When the stream should not run here any more, end the transaction
 * (aborted if asked: a fetched batch is then not applied) and exit.
 */
static StreamDef *
begin_with_def(Oid target, MemoryContext cxt, bool abort_if_gone)
{
	MemoryContext old;
	StreamDef  *def;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	old = MemoryContextSwitchTo(cxt);
	def = current_def(target);
	MemoryContextSwitchTo(old);
	if (def == NULL)
	{
		PopActiveSnapshot();
		if (abort_if_gone)
			AbortCurrentTransaction();
		else
			CommitTransactionCommand();
		worker_exit(true);
	}
	return def;
}

/*
 * The source (its columns, options, server or user mapping) or the stream's
 * options (kafka.alter_streaming_table) changed under an open ingest: close it; the next loop opens it again as the catalog now
 * says, from the committed offsets.  Returns NULL, the ingest to keep.
 */
static StreamIngest *
reopen_later(StreamDef *def, StreamIngest *ingest)
{
	ereport(LOG,
			(errmsg("the source or the options of streaming table %s changed: reading again from the committed offsets",
					def->target_name)));
	stream_ingest_close(ingest);
	return NULL;
}

static void
run_stream(Oid target, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "kafka stream definition",
											  ALLOCSET_SMALL_SIZES);
	StreamDef  *def;
	StreamIngest *ingest = NULL;
	StreamWrittenColumns *written = stream_written_columns_create(parent);
	TimestampTz last_partition_check = GetCurrentTimestamp();
	TimestampTz window_start = GetCurrentTimestamp();
	int64		window_rows = 0;
	bool		trouble_shown = false;

	for (;;)
	{
		TimestampTz tick_start = GetCurrentTimestamp();
		bool		pending;
		char	   *trouble;

		CHECK_FOR_INTERRUPTS();
		if (!PostmasterIsAlive())
			proc_exit(1);
		stream_reload_config();
		if (stream_worker_should_yield(0))
			worker_exit(true);
		MemoryContextReset(cxt);
		def = begin_with_def(target, cxt, false);

		/*
		 * Even with nothing to fetch, notice at once what changed under the
		 * open ingest (ALTER FOREIGN TABLE ... SET topic: read the new
		 * topic) or vanished (DROP SERVER ... CASCADE, a revoked privilege:
		 * that error stops the stream).
		 */
		if (ingest != NULL && !stream_ingest_is_current(ingest, def))
			ingest = reopen_later(def, ingest);
		if (ingest == NULL)
		{
			stream_worker_report("starting", -1, NULL);
			ingest = stream_ingest_open(def, def->trigger == STREAM_TRIGGER_INTERVAL, parent,
										written);
			PopActiveSnapshot();
			CommitTransactionCommand();
			/* the offsets it starts from are committed: the group catches up */
			stream_ingest_mirror_offsets(ingest);
		}
		else
		{
			PopActiveSnapshot();
			CommitTransactionCommand();
		}

		stream_worker_report(def->trigger == STREAM_TRIGGER_INTERVAL ? "running" : "waiting for records",
							 -1, NULL);
		pgstat_report_activity(STATE_IDLE, NULL);
		/* fetch outside any transaction */
		pending = stream_ingest_fetch(ingest, 1000);

		/* nothing comes while all brokers are down: say so until they answer */
		MemoryContextSwitchTo(cxt);
		trouble = pending ? NULL : stream_ingest_trouble(ingest);
		if (trouble || trouble_shown)
			stream_worker_report(NULL, -1, trouble ? trouble : "");
		trouble_shown = trouble != NULL;
		/* the group commit of the last batch may have failed since */
		if (!pending)
			stream_ingest_mirror_report(ingest);

		if (pending)
		{
			StreamBatchResult result;
			double		seconds;

			stream_worker_report("running", -1, NULL);
			pgstat_report_activity(STATE_RUNNING, psprintf("kafka_fdw stream %s: batch " INT64_FORMAT,
														   def->target_name, def->batch_id + 1));
			SetCurrentStatementStartTimestamp();
			/* the stream may have been paused or dropped while we fetched */
			def = begin_with_def(target, cxt, true);
			/* or altered: its next batch is read with the new options */
			if (!stream_ingest_same_definition(ingest, def) ||
				!stream_ingest_apply(ingest, &result))
			{
				/*
				 * The source changed while we fetched: the batch was read
				 * for the old one.  Nothing was written; read it again.
				 */
				PopActiveSnapshot();
				AbortCurrentTransaction();
				ingest = reopen_later(def, ingest);
				continue;
			}
			PopActiveSnapshot();
			CommitTransactionCommand();
			stream_ingest_committed(ingest);
			stream_ingest_mirror_offsets(ingest);
			/* rows/s over a window of about ten seconds, not one batch */
			window_rows += result.rows;
			seconds = (double) (GetCurrentTimestamp() - window_start) / 1000000.0;
			stream_worker_report(NULL, seconds >= 1 ? window_rows / seconds : -1, "");
			if (seconds >= 10)
			{
				window_start = GetCurrentTimestamp();
				window_rows = 0;
			}
			pgstat_report_stat(false);
			continue;
		}

		if (def->trigger == STREAM_TRIGGER_INTERVAL)
		{
			/* drained: wait for the next tick, watching for pause/drop */
			TimestampTz next = TimestampTzPlusMilliseconds(tick_start, def->interval_ms);

			stream_ingest_close(ingest);
			ingest = NULL;
			stream_worker_report_until("sleeping", next);
			while (GetCurrentTimestamp() < next)
			{
				long		ms = Min(1000, (next - GetCurrentTimestamp()) / 1000 + 1);

				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 ms, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
				stream_reload_config();
				if (stream_worker_should_yield(next))
					worker_exit(true);
				MemoryContextReset(cxt);
				def = begin_with_def(target, cxt, false);
				PopActiveSnapshot();
				CommitTransactionCommand();
			}
		}
		else if (TimestampDifferenceExceeds(last_partition_check, GetCurrentTimestamp(),
											PARTITION_CHECK_MS))
		{
			last_partition_check = GetCurrentTimestamp();
			if (stream_ingest_partitions_changed(ingest))
			{
				/* reopen: new partitions get catalog rows and a reader */
				stream_ingest_close(ingest);
				ingest = NULL;
			}
		}
	}
}

void
kafka_stream_worker_main(Datum arg)
{
	Oid			dboid;
	Oid			target;
	MemoryContext cxt;
	char	   *name;

	stream_my_slot = DatumGetInt32(arg);
	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	memcpy(&target, MyBgworkerEntry->bgw_extra + sizeof(Oid), sizeof(Oid));

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	if (stream_shared->slots[stream_my_slot].target != target ||
		stream_shared->slots[stream_my_slot].dboid != dboid)
	{
		LWLockRelease(stream_shared->lock);
		stream_my_slot = -1;
		proc_exit(0);
	}
	stream_shared->slots[stream_my_slot].pid = MyProcPid;
	stream_shared->slots[stream_my_slot].last_error[0] = '\0';
	stream_shared->slots[stream_my_slot].warning[0] = '\0';
	LWLockRelease(stream_shared->lock);
	before_shmem_exit(worker_shmem_exit, 0);
	kafka_registry_retry_hook = report_registry_retry;

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	cxt = AllocSetContextCreate(TopMemoryContext, "kafka stream worker", ALLOCSET_DEFAULT_SIZES);

	/*
	 * Who we are, in pg_stat_activity.  The name is copied into cxt before
	 * the commit frees the transaction's memory.
	 */
	StartTransactionCommand();
	name = get_rel_name(target);
	name = MemoryContextStrdup(cxt, psprintf("kafka_fdw stream %s", name ?
											 quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)), name) :
											 "?"));
	CommitTransactionCommand();
	SetConfigOption("application_name", name, PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname(name);

	/* one writer per stream: wait while a refresh holds it */
	for (;;)
	{
		bool		got;

		StartTransactionCommand();
		got = stream_lock_acquire(target, true, false);
		if (!got)
		{
			bool		gone;

			/* the catalog is read with a snapshot, as everywhere else */
			PushActiveSnapshot(GetTransactionSnapshot());
			gone = current_def(target) == NULL;
			PopActiveSnapshot();
			if (gone)
			{
				CommitTransactionCommand();
				worker_exit(true);
			}
		}
		CommitTransactionCommand();
		if (got)
			break;
		/* kafka.stream_progress says 'refreshing' (the refresh holds the lock) */
		stream_worker_report("starting", -1, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		stream_reload_config();
		if (stream_worker_should_yield(0))
			worker_exit(true);
	}

	PG_TRY();
	{
		run_stream(target, cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		permanent;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		permanent = stream_error_is_permanent(edata);
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		/* the launcher sets when it starts the worker again */
		stream_worker_report(permanent ? "failed" : "backoff", -1, edata->message);
		if (permanent)
		{
			char	   *text = edata->context ?
				psprintf("%s (%s)", edata->message, edata->context) : edata->message;

			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			stream_mark_failed(target, text);
			PopActiveSnapshot();
			CommitTransactionCommand();
		}
		RESUME_INTERRUPTS();
		worker_exit(permanent);
	}
	PG_END_TRY();
	worker_exit(true);
}
