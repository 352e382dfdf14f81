/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The launcher's main loop, the per-database probe, and the worker that
 *	  runs one continuous or interval stream (the transaction loop of
 *	  worker_spi: fetch outside a transaction, apply and commit in one).
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

#include "avro/avro.h"
#include "stream/stream.h"
#include "stream/stream_shmem.h"

#define PROBE_INTERVAL_MS 10000
#define PARTITION_CHECK_MS 10000
#define MAX_BACKOFF_S 60

PGDLLEXPORT void kafka_stream_probe_main(Datum arg);

static int	my_slot = -1;

/* ---------------------------------------------------------------------
 * Launcher
 * --------------------------------------------------------------------- */

static List *
list_databases(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datallowconn && !db->datistemplate && db->datconnlimit != -2)
			result = lappend_oid(result, db->oid);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

static BackgroundWorkerHandle *
start_worker(const char *function, const char *name, Datum arg, Oid dboid, Oid target)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "kafka_fdw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", name);
	worker.bgw_main_arg = arg;
	memcpy(worker.bgw_extra, &dboid, sizeof(Oid));
	memcpy(worker.bgw_extra + sizeof(Oid), &target, sizeof(Oid));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

void
kafka_stream_launcher_main(Datum arg)
{
	BackgroundWorkerHandle **handles;
	BackgroundWorkerHandle *probe = NULL;
	List	   *databases = NIL;
	TimestampTz last_round = 0;
	bool		warned_no_slot = false;
	int			i;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("kafka_fdw stream launcher");

	handles = palloc0(sizeof(BackgroundWorkerHandle *) * stream_shared->nslots);
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	stream_shared->launcher_pid = MyProcPid;
	stream_shared->probe_requested = true;
	stream_shared->probe_pid = 0;
	/*
	 * After a launcher restart (not a cluster restart, which empties shared
	 * memory) the workers of the previous launcher may still run: keep
	 * their slots, and start no second worker while they live.
	 */
	for (i = 0; i < stream_shared->nslots; i++)
	{
		StreamSlot *slot = &stream_shared->slots[i];

		if (slot->in_use && slot->pid > 0 && BackendPidGetProc(slot->pid) != NULL)
			continue;
		slot->in_use = false;
		slot->pid = 0;
	}
	LWLockRelease(stream_shared->lock);

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		int			running = 0;
		pid_t		pid;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* reap */
		if (probe && GetBackgroundWorkerPid(probe, &pid) == BGWH_STOPPED)
		{
			pfree(probe);
			probe = NULL;
			LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
			stream_shared->probe_pid = 0;
			LWLockRelease(stream_shared->lock);
		}
		LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
		for (i = 0; i < stream_shared->nslots; i++)
		{
			StreamSlot *slot = &stream_shared->slots[i];

			if (handles[i] == NULL)
				continue;
			if (GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
			{
				running++;
				continue;
			}
			pfree(handles[i]);
			handles[i] = NULL;
			slot->pid = 0;
			if (slot->clean_exit)
				slot->restarts = 0;
			else
			{
				int			backoff = Min(1 << Min(slot->restarts, 6), MAX_BACKOFF_S);

				slot->restarts++;
				slot->next_start = TimestampTzPlusMilliseconds(now, backoff * 1000);
				strlcpy(slot->state, "backoff", sizeof(slot->state));
			}
		}
		LWLockRelease(stream_shared->lock);

		/* probe the databases, one at a time */
		if (probe == NULL)
		{
			bool		requested;

			LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
			requested = stream_shared->probe_requested;
			stream_shared->probe_requested = false;
			LWLockRelease(stream_shared->lock);
			if (requested || (databases == NIL &&
							  TimestampDifferenceExceeds(last_round, now, PROBE_INTERVAL_MS)))
			{
				databases = list_databases();
				last_round = now;
			}
			while (databases != NIL && probe == NULL)
			{
				Oid			dboid = linitial_oid(databases);
				bool		held;

				databases = list_delete_first(databases);
				LWLockAcquire(stream_shared->lock, LW_SHARED);
				held = stream_database_held(dboid);
				LWLockRelease(stream_shared->lock);
				if (held)
					continue;
				probe = start_worker("kafka_stream_probe_main", "kafka_fdw stream probe",
									 ObjectIdGetDatum(dboid), dboid, InvalidOid);
				if (probe == NULL)
				{
					databases = lcons_oid(dboid, databases);
					break;
				}
				LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
				stream_shared->probe_dboid = dboid;
				LWLockRelease(stream_shared->lock);
			}
		}

		/* give wanted streams a worker while the pool has room */
		LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
		for (i = 0; i < stream_shared->nslots; i++)
		{
			StreamSlot *slot = &stream_shared->slots[i];

			if (!slot->in_use || handles[i] != NULL)
				continue;
			if (slot->pid > 0)
			{
				/* a previous launcher's worker: wait until it is gone */
				if (BackendPidGetProc(slot->pid) != NULL)
				{
					running++;
					continue;
				}
				slot->pid = 0;
			}
			if (!slot->wanted)
			{
				slot->in_use = false;
				continue;
			}
			if (running >= stream_max_workers || slot->next_start > now ||
				stream_database_held(slot->dboid))
				continue;
			slot->clean_exit = false;
			handles[i] = start_worker("kafka_stream_worker_main", "kafka_fdw stream worker",
									  Int32GetDatum(i), slot->dboid, slot->target);
			if (handles[i] == NULL)
			{
				if (!warned_no_slot)
					ereport(WARNING,
							(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
							 errmsg("no background worker slot free for a streaming table worker"),
							 errhint("Raise max_worker_processes (it counts kafka_fdw.max_stream_workers + 2 for the launcher and its probe).")));
				warned_no_slot = true;
				slot->next_start = TimestampTzPlusMilliseconds(now, 5000);
				break;
			}
			warned_no_slot = false;
			strlcpy(slot->state, "starting", sizeof(slot->state));
			running++;
		}
		LWLockRelease(stream_shared->lock);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 probe ? 100 : 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------------
 * Probe: list a database's runnable streams into shared memory.
 * --------------------------------------------------------------------- */

static bool
extension_present(void)
{
	return OidIsValid(get_extension_oid("kafka_fdw", true)) &&
		OidIsValid(get_relname_relid("streaming_tables", get_namespace_oid("kafka", true)));
}

void
kafka_stream_probe_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	List	   *targets = NIL;
	ListCell   *lc;
	int			i;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	stream_shared->probe_pid = MyProcPid;
	LWLockRelease(stream_shared->lock);
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!RecoveryInProgress() && extension_present())
	{
		SPI_connect();
		if (SPI_execute("SELECT target::oid FROM kafka.streaming_tables "
						"WHERE state = 'active' AND trigger <> 'available_now'",
						true, 0) == SPI_OK_SELECT)
		{
			for (i = 0; i < (int) SPI_processed; i++)
			{
				bool		isnull;
				Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
				MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

				targets = lappend_oid(targets, DatumGetObjectId(d));
				MemoryContextSwitchTo(old);
			}
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();

	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < stream_shared->nslots; i++)
		if (stream_shared->slots[i].in_use && stream_shared->slots[i].dboid == dboid)
			stream_shared->slots[i].wanted = list_member_oid(targets, stream_shared->slots[i].target);
	foreach(lc, targets)
	{
		Oid			target = lfirst_oid(lc);
		int			free_slot = -1;
		bool		found = false;

		for (i = 0; i < stream_shared->nslots; i++)
		{
			StreamSlot *slot = &stream_shared->slots[i];

			if (slot->in_use && slot->dboid == dboid && slot->target == target)
				found = true;
			else if (!slot->in_use && free_slot < 0)
				free_slot = i;
		}
		if (!found && free_slot >= 0)
		{
			StreamSlot *slot = &stream_shared->slots[free_slot];

			memset(slot, 0, sizeof(StreamSlot));
			slot->in_use = true;
			slot->wanted = true;
			slot->dboid = dboid;
			slot->target = target;
			strlcpy(slot->state, "starting", sizeof(slot->state));
		}
		else if (!found)
			ereport(WARNING,
					(errmsg("too many streaming tables: kafka_fdw.max_streams is %d", stream_shared->nslots)));
	}
	stream_shared->probe_pid = 0;
	LWLockRelease(stream_shared->lock);
	proc_exit(0);
}

/* ---------------------------------------------------------------------
 * Stream worker
 * --------------------------------------------------------------------- */

void
stream_worker_report(const char *state, double rows_per_second, const char *error)
{
	StreamSlot *slot;

	if (my_slot < 0)
		return;
	slot = &stream_shared->slots[my_slot];
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	if (state)
		strlcpy(slot->state, state, sizeof(slot->state));
	if (rows_per_second >= 0)
		slot->rows_per_second = rows_per_second;
	if (error)
		strlcpy(slot->last_error, error, sizeof(slot->last_error));
	/* an empty error is reported after a committed batch: the streak of failures is over */
	if (error && error[0] == '\0')
		slot->restarts = 0;
	LWLockRelease(stream_shared->lock);
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
	if (my_slot < 0)
		return;
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	if (stream_shared->slots[my_slot].pid == MyProcPid)
		stream_shared->slots[my_slot].pid = 0;
	LWLockRelease(stream_shared->lock);
}

static void
worker_exit(bool clean)
{
	if (my_slot >= 0)
	{
		LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
		stream_shared->slots[my_slot].clean_exit = clean;
		if (clean)
			strlcpy(stream_shared->slots[my_slot].state, "stopped",
					sizeof(stream_shared->slots[my_slot].state));
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

	if (!extension_present())
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
 * The source (its columns, options, server or user mapping) changed under
 * an open ingest: close it; the next loop opens it again as the catalog now
 * says, from the committed offsets.  Returns NULL, the ingest to keep.
 */
static StreamIngest *
reopen_later(StreamDef *def, StreamIngest *ingest)
{
	ereport(LOG,
			(errmsg("the source of streaming table %s changed: reading again from the committed offsets",
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
		MemoryContextReset(cxt);
		def = begin_with_def(target, cxt, false);

		/*
		 * Even with nothing to fetch, notice at once what changed under the
		 * open ingest (ALTER FOREIGN TABLE ... SET topic: read the new
		 * topic) or vanished (DROP SERVER ... CASCADE, a revoked privilege:
		 * that error stops the stream).
		 */
		if (ingest != NULL && !stream_ingest_is_current(ingest))
			ingest = reopen_later(def, ingest);
		if (ingest == NULL)
		{
			stream_worker_report("connecting", -1, NULL);
			ingest = stream_ingest_open(def, def->trigger == STREAM_TRIGGER_INTERVAL, parent);
		}
		PopActiveSnapshot();
		CommitTransactionCommand();

		stream_worker_report(def->trigger == STREAM_TRIGGER_INTERVAL ? "running" : "waiting", -1, NULL);
		pgstat_report_activity(STATE_IDLE, NULL);
		/* fetch outside any transaction */
		pending = stream_ingest_fetch(ingest, 1000);

		/* nothing comes while all brokers are down: say so until they answer */
		MemoryContextSwitchTo(cxt);
		trouble = pending ? NULL : stream_ingest_trouble(ingest);
		if (trouble || trouble_shown)
			stream_worker_report(NULL, -1, trouble ? trouble : "");
		trouble_shown = trouble != NULL;

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
			if (!stream_ingest_apply(ingest, &result))
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
			stream_worker_report("idle", -1, NULL);
			while (GetCurrentTimestamp() < next)
			{
				long		ms = Min(1000, (next - GetCurrentTimestamp()) / 1000 + 1);

				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 ms, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
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

	my_slot = DatumGetInt32(arg);
	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	memcpy(&target, MyBgworkerEntry->bgw_extra + sizeof(Oid), sizeof(Oid));

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	if (stream_shared->slots[my_slot].target != target ||
		stream_shared->slots[my_slot].dboid != dboid)
	{
		LWLockRelease(stream_shared->lock);
		my_slot = -1;
		proc_exit(0);
	}
	stream_shared->slots[my_slot].pid = MyProcPid;
	stream_shared->slots[my_slot].last_error[0] = '\0';
	LWLockRelease(stream_shared->lock);
	before_shmem_exit(worker_shmem_exit, 0);
	avro_registry_retry_hook = report_registry_retry;

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	cxt = AllocSetContextCreate(TopMemoryContext, "kafka stream worker", ALLOCSET_DEFAULT_SIZES);

	/* who we are, in pg_stat_activity */
	StartTransactionCommand();
	name = get_rel_name(target);
	name = name ? MemoryContextStrdup(cxt, quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)), name)) :
		MemoryContextStrdup(cxt, "?");
	CommitTransactionCommand();
	SetConfigOption("application_name", psprintf("kafka_fdw stream %s", name),
					PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname(psprintf("kafka_fdw stream %s", name));

	/* one writer per stream: wait while a refresh holds it */
	for (;;)
	{
		bool		got;

		StartTransactionCommand();
		got = stream_lock_acquire(target, true, false);
		if (!got && current_def(target) == NULL)
		{
			CommitTransactionCommand();
			worker_exit(true);
		}
		CommitTransactionCommand();
		if (got)
			break;
		stream_worker_report("waiting for refresh", -1, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
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
		stream_worker_report(permanent ? "failed" : "error", -1, edata->message);
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
