/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The streaming-table launcher: a background worker (registered from
 *	  shared_preload_libraries) that runs the continuous and interval
 *	  streams of every database where the extension exists, on a bounded
 *	  pool of dynamic workers.
 *
 * The launcher connects to no database.  Every few seconds, or when a
 * backend pokes it (create/pause/resume/drop commit), it starts a short
 * "probe" worker per database that lists the database's runnable streams
 * into shared memory; then it gives each wanted stream a worker while the
 * pool (kafka_fdw.max_stream_workers) has room, and restarts workers that
 * died with exponential backoff.  Everything it knows is rebuilt from the
 * catalogs, so a crash or an immediate restart loses nothing.  It starts
 * only once recovery has finished: nothing runs on a standby.
 *
 * Streams beyond the pool queue for a worker (state "waiting for a
 * worker", logged once per stream), longest waiting first.  While some
 * wait, a worker that has run kafka_fdw.stream_time_slice gives way after
 * its next commit (an interval stream idle between ticks at once) and its
 * stream queues again at the back: every stream gets its turn.
 *
 * DROP EXTENSION kafka_fdw and DROP DATABASE go through a utility hook
 * that holds the database (no new workers until the dropping transaction
 * ends: committed, the probe finds nothing; rolled back, work resumes),
 * stops its workers and waits for them to exit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "stream/kafka_target.h"
#include "stream/stream.h"
#include "stream/stream_shmem.h"

#define PROBE_INTERVAL_MS 10000
#define MAX_BACKOFF_S 60

PG_FUNCTION_INFO_V1(kafka_stream_workers);
PGDLLEXPORT void kafka_stream_probe_main(Datum arg);

int			stream_max_workers = 4;
int			stream_max_streams = 256;
int			stream_time_slice = 10000;

/* in a stream worker, its slot; -1 elsewhere */
int			stream_my_slot = -1;

StreamShared *stream_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;
static bool xact_callback_registered = false;
static bool poke_at_commit = false;
static Oid	held_database = InvalidOid;

static Size
stream_shmem_size(void)
{
	return add_size(offsetof(StreamShared, slots),
					mul_size(sizeof(StreamSlot), stream_max_streams));
}

static void
stream_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(stream_shmem_size());
	RequestNamedLWLockTranche("kafka_fdw_streams", 1);
}

static void
stream_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	stream_shared = ShmemInitStruct("kafka_fdw streams", stream_shmem_size(), &found);
	if (!found)
	{
		memset(stream_shared, 0, stream_shmem_size());
		stream_shared->lock = &(GetNamedLWLockTranche("kafka_fdw_streams"))->lock;
		stream_shared->nslots = stream_max_streams;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Wake the launcher: something changed in some database's streams. */
void
stream_poke_launcher(void)
{
	int			pid;

	if (stream_shared == NULL)
		return;
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	stream_shared->probe_requested = true;
	pid = stream_shared->launcher_pid;
	LWLockRelease(stream_shared->lock);
	if (pid > 0)
		kill(pid, SIGUSR1);
}

static void
stream_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	if (OidIsValid(held_database) && stream_shared)
	{
		int			i;

		LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
		for (i = 0; i < STREAM_MAX_HOLDS; i++)
			if (stream_shared->holds[i].holder_pid == MyProcPid)
				stream_shared->holds[i].holder_pid = 0;
		LWLockRelease(stream_shared->lock);
		held_database = InvalidOid;
		poke_at_commit = true;
	}
	if (poke_at_commit)
	{
		poke_at_commit = false;
		stream_poke_launcher();
	}
}

static void
ensure_xact_callback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(stream_xact_callback, NULL);
		xact_callback_registered = true;
	}
}

void
stream_notify_launcher_at_commit(void)
{
	ensure_xact_callback();
	poke_at_commit = true;
}

/*
 * Hold a database: the launcher starts nothing there until our transaction
 * ends; stop its stream workers and wait (up to 10 s) until they are gone.
 */
static void
hold_database(Oid dboid)
{
	int			i;
	TimestampTz deadline;

	if (stream_shared == NULL || !OidIsValid(dboid))
		return;
	ensure_xact_callback();
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < STREAM_MAX_HOLDS; i++)
	{
		if (stream_shared->holds[i].holder_pid == 0 ||
			BackendPidGetProc(stream_shared->holds[i].holder_pid) == NULL)
		{
			stream_shared->holds[i].dboid = dboid;
			stream_shared->holds[i].holder_pid = MyProcPid;
			break;
		}
	}
	LWLockRelease(stream_shared->lock);
	held_database = dboid;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
	while (GetCurrentTimestamp() < deadline)
	{
		bool		any = false;

		LWLockAcquire(stream_shared->lock, LW_SHARED);
		for (i = 0; i < stream_shared->nslots; i++)
		{
			StreamSlot *slot = &stream_shared->slots[i];

			if (slot->in_use && slot->dboid == dboid && slot->pid > 0 &&
				slot->pid != MyProcPid)
			{
				any = true;
				kill(slot->pid, SIGTERM);
			}
		}
		if (stream_shared->probe_pid > 0 && stream_shared->probe_dboid == dboid)
		{
			any = true;
			kill(stream_shared->probe_pid, SIGTERM);
		}
		LWLockRelease(stream_shared->lock);
		if (!any)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

bool
stream_database_held(Oid dboid)
{
	int			i;

	for (i = 0; i < STREAM_MAX_HOLDS; i++)
		if (stream_shared->holds[i].holder_pid != 0 &&
			stream_shared->holds[i].dboid == dboid)
			return true;
	return false;
}

static bool
names_our_extension(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, stmt->objects)
	{
		Node	   *obj = lfirst(lc);

		if (IsA(obj, String) && strcmp(strVal(obj), "kafka_fdw") == 0)
			return true;
	}
	return false;
}

static void
stream_process_utility(PlannedStmt *pstmt, const char *queryString,
					   bool readOnlyTree, ProcessUtilityContext context,
					   ParamListInfo params, QueryEnvironment *queryEnv,
					   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropStmt) && names_our_extension((DropStmt *) parsetree))
		hold_database(MyDatabaseId);
	else if (IsA(parsetree, DropdbStmt))
		hold_database(get_database_oid(((DropdbStmt *) parsetree)->dbname, true));

	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params,
								  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
kafka_stream_init(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("kafka_fdw.max_stream_workers",
							"Background workers that run streaming tables, over all databases.",
							"They come out of max_worker_processes, which parallel query shares.",
							&stream_max_workers, 4, 0, 64,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kafka_fdw.stream_time_slice",
							"How long a stream worker runs before it gives way to a stream waiting for a worker.",
							"Only while streams wait: with a worker for every stream, workers run on.",
							&stream_time_slice, 10000, 100, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kafka_fdw.max_streams",
							"Streaming tables the launcher can track, over all databases.",
							NULL, &stream_max_streams, 256, 1, 10000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);

	stream_output_init();

	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = stream_process_utility;

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stream_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stream_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "kafka_fdw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "kafka_stream_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "kafka_fdw stream launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "kafka_fdw stream launcher");
	RegisterBackgroundWorker(&worker);
}

/* Is the launcher there (kafka_fdw in shared_preload_libraries)? */
bool
stream_launcher_available(void)
{
	return stream_shared != NULL;
}

/*
 * kafka.stream_workers(): the launcher's view of this database's streams,
 * for kafka.stream_progress.
 */
Datum
kafka_stream_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (stream_shared == NULL)
		PG_RETURN_VOID();
	LWLockAcquire(stream_shared->lock, LW_SHARED);
	for (i = 0; i < stream_shared->nslots; i++)
	{
		StreamSlot *slot = &stream_shared->slots[i];
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};

		if (!slot->in_use || slot->dboid != MyDatabaseId)
			continue;
		values[0] = ObjectIdGetDatum(slot->target);
		values[1] = Int32GetDatum(slot->pid);
		nulls[1] = slot->pid <= 0;
		values[2] = CStringGetTextDatum(slot->state[0] ? slot->state : "waiting");
		values[3] = Float8GetDatum(slot->rows_per_second);
		values[4] = CStringGetTextDatum(slot->last_error);
		nulls[4] = slot->last_error[0] == '\0';
		values[5] = Int32GetDatum(slot->restarts);
		/* kafka.stream_workers() of catalogs before 0.6 ends at restarts */
		values[6] = CStringGetTextDatum(slot->warning);
		nulls[6] = slot->warning[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(stream_shared->lock);
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * Launcher
 *
 * Memory: the launcher allocates in its own context, launcher_cxt.  What a
 * transaction allocates is gone at its commit, and CommitTransactionCommand
 * leaves CurrentMemoryContext at TopMemoryContext; so whatever must outlive
 * a transaction is built in launcher_cxt explicitly, and each round starts
 * by switching back to it.
 * --------------------------------------------------------------------- */

/* Apply a configuration reload (SIGHUP), at a point where that is safe. */
void
stream_reload_config(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* The databases a probe may visit, as a list allocated in cxt. */
static List *
list_databases(MemoryContext cxt)
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
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			result = lappend_oid(result, db->oid);
			MemoryContextSwitchTo(old);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
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

/* A stream that waits for a worker, to be logged once the lock is released */
typedef struct WaitNote
{
	char		name[sizeof(((StreamSlot *) 0)->name)];
	char		dbname[NAMEDATALEN];
} WaitNote;

/* The queue for workers: longest waiting first, then in slot order. */
static int
queue_order(const void *a, const void *b)
{
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;
	TimestampTz wa = stream_shared->slots[ia].waiting_since;
	TimestampTz wb = stream_shared->slots[ib].waiting_since;

	if (wa != wb)
		return wa < wb ? -1 : 1;
	return ia - ib;
}

void
kafka_stream_launcher_main(Datum arg)
{
	MemoryContext launcher_cxt;
	BackgroundWorkerHandle **handles;
	BackgroundWorkerHandle *probe = NULL;
	List	   *databases = NIL;
	int		   *queue;
	TimestampTz last_round = 0;
	bool		warned_no_slot = false;
	int			i;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("kafka_fdw stream launcher");

	launcher_cxt = AllocSetContextCreate(TopMemoryContext, "kafka_fdw stream launcher",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(launcher_cxt);
	handles = palloc0(sizeof(BackgroundWorkerHandle *) * stream_shared->nslots);
	queue = palloc(sizeof(int) * stream_shared->nslots);
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	stream_shared->launcher_pid = MyProcPid;
	stream_shared->probe_requested = true;
	stream_shared->probe_pid = 0;
	stream_shared->streams_waiting = 0;
	stream_shared->workers_over = 0;
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
		TimestampTz now;
		int			running = 0;
		int			yielding = 0;
		int			nqueued = 0;
		int			nwaiting = 0;
		int			over;
		bool		no_slot = false;
		List	   *wait_notes = NIL;
		ListCell   *lc;
		pid_t		pid;

		MemoryContextSwitchTo(launcher_cxt);
		CHECK_FOR_INTERRUPTS();
		stream_reload_config();
		now = GetCurrentTimestamp();

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
				continue;
			pfree(handles[i]);
			handles[i] = NULL;
			slot->pid = 0;
			/* a stream that gave way queues again, behind those waiting */
			slot->waiting_since = 0;
			slot->yielding = false;
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
				list_free(databases);
				databases = list_databases(launcher_cxt);
				last_round = now;
				/* streams of a dropped database: no worker could connect */
				LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
				for (i = 0; i < stream_shared->nslots; i++)
					if (stream_shared->slots[i].in_use &&
						!list_member_oid(databases, stream_shared->slots[i].dboid))
						stream_shared->slots[i].wanted = false;
				LWLockRelease(stream_shared->lock);
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

		/*
		 * Queue the streams that are due and have no worker, longest waiting
		 * first, and give workers to the head of the queue while the pool
		 * has room.  The rest wait; the workers give way to them in turn
		 * (stream_worker_should_yield), so none starves.
		 */
		LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
		for (i = 0; i < stream_shared->nslots; i++)
		{
			StreamSlot *slot = &stream_shared->slots[i];

			if (!slot->in_use)
				continue;
			if (handles[i] != NULL)
			{
				running++;
				if (slot->yielding)
					yielding++;
				continue;
			}
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
			if (slot->next_start > now || stream_database_held(slot->dboid))
				continue;
			if (slot->waiting_since == 0)
				slot->waiting_since = now;
			queue[nqueued++] = i;
		}
		qsort(queue, nqueued, sizeof(int), queue_order);
		for (i = 0; i < nqueued; i++)
		{
			StreamSlot *slot = &stream_shared->slots[queue[i]];

			if (running < stream_max_workers && !no_slot)
			{
				handles[queue[i]] = start_worker("kafka_stream_worker_main", "kafka_fdw stream worker",
												 Int32GetDatum(queue[i]), slot->dboid, slot->target);
				if (handles[queue[i]] != NULL)
				{
					warned_no_slot = false;
					slot->clean_exit = false;
					slot->yielding = false;
					slot->waiting_since = 0;
					slot->started_at = now;
					strlcpy(slot->state, "starting", sizeof(slot->state));
					running++;
					continue;
				}
				if (!warned_no_slot)
					ereport(WARNING,
							(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
							 errmsg("no background worker slot free for a streaming table worker"),
							 errhint("Raise max_worker_processes (it counts kafka_fdw.max_stream_workers + 2 for the launcher and its probe).")));
				warned_no_slot = true;
				no_slot = true;
				slot->next_start = TimestampTzPlusMilliseconds(now, 5000);
			}
			strlcpy(slot->state, "waiting for a worker", sizeof(slot->state));
			nwaiting++;
			if (!slot->wait_logged)
			{
				WaitNote   *note = palloc(sizeof(WaitNote));

				slot->wait_logged = true;
				strlcpy(note->name, slot->name, sizeof(note->name));
				strlcpy(note->dbname, slot->dbname, sizeof(note->dbname));
				wait_notes = lappend(wait_notes, note);
			}
		}

		/*
		 * How many workers should give way: those beyond the pool (it was
		 * made smaller) at once, and one per waiting stream after its time
		 * slice; the workers already on their way out count.
		 */
		over = Max(running - stream_max_workers, 0);
		stream_shared->workers_over = Max(over - yielding, 0);
		stream_shared->streams_waiting = no_slot ? 0 :
			Max(nwaiting - Max(yielding - over, 0), 0);
		LWLockRelease(stream_shared->lock);

		/* logged once per stream, not while holding the lock */
		foreach(lc, wait_notes)
		{
			WaitNote   *note = lfirst(lc);

			ereport(LOG,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("streaming table %s of database \"%s\" waits for a worker",
							note->name, note->dbname),
					 errdetail("All %d workers of kafka_fdw.max_stream_workers are busy; streams beyond them take turns of kafka_fdw.stream_time_slice.",
							   stream_max_workers)));
		}
		list_free_deep(wait_notes);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 probe ? 100 : 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * In a stream worker, at a point where nothing is fetched and uncommitted
 * (after a commit, or idle): should it give its worker to a waiting stream?
 * Workers beyond kafka_fdw.max_stream_workers (lowered by a reload) give
 * way at once; while streams wait, a worker that has run for
 * kafka_fdw.stream_time_slice gives way, and an interval stream idle until
 * its next tick (idle_until, else 0) at once.  True is a promise: the caller
 * exits cleanly at once, and its stream queues again behind those waiting
 * (an idle one when its tick is due).
 */
bool
stream_worker_should_yield(TimestampTz idle_until)
{
	StreamSlot *slot;
	bool		yield = false;

	if (stream_my_slot < 0)
		return false;
	slot = &stream_shared->slots[stream_my_slot];
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	if (slot->pid == MyProcPid && !slot->yielding)
	{
		if (stream_shared->workers_over > 0)
		{
			stream_shared->workers_over--;
			yield = true;
		}
		else if (stream_shared->streams_waiting > 0 &&
				 (idle_until != 0 ||
				  TimestampDifferenceExceeds(slot->started_at, GetCurrentTimestamp(),
											 stream_time_slice)))
		{
			stream_shared->streams_waiting--;
			yield = true;
		}
	}
	if (yield)
	{
		slot->yielding = true;
		slot->next_start = idle_until;
		strlcpy(slot->state, idle_until != 0 ? "idle" : "waiting for a worker",
				sizeof(slot->state));
	}
	LWLockRelease(stream_shared->lock);
	return yield;
}

/* ---------------------------------------------------------------------
 * Probe: list a database's runnable streams into shared memory.
 * --------------------------------------------------------------------- */

/* In a transaction: does this database have the extension's catalogs? */
bool
stream_extension_present(void)
{
	return OidIsValid(get_extension_oid("kafka_fdw", true)) &&
		OidIsValid(get_relname_relid("streaming_tables", get_namespace_oid("kafka", true)));
}

void
kafka_stream_probe_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	MemoryContext cxt;
	int			ntargets = 0;
	Oid		   *targets = NULL;
	char	  **names = NULL;
	char	   *dbname = NULL;
	int			i;
	int			t;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	stream_shared->probe_pid = MyProcPid;
	LWLockRelease(stream_shared->lock);
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	stream_reload_config();
	/* names come out schema-qualified */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);

	/* what the transaction finds is copied here: its own memory ends with it */
	cxt = AllocSetContextCreate(TopMemoryContext, "kafka_fdw stream probe",
								ALLOCSET_SMALL_SIZES);
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!RecoveryInProgress() && stream_extension_present())
	{
		char	   *name = get_database_name(dboid);

		if (name)
			dbname = MemoryContextStrdup(cxt, name);
		SPI_connect();
		if (SPI_execute("SELECT target::oid, target::regclass::text FROM kafka.streaming_tables "
						"WHERE state = 'active' AND trigger <> 'available_now'",
						true, 0) == SPI_OK_SELECT && SPI_processed > 0)
		{
			targets = MemoryContextAlloc(cxt, sizeof(Oid) * SPI_processed);
			names = MemoryContextAlloc(cxt, sizeof(char *) * SPI_processed);
			for (i = 0; i < (int) SPI_processed; i++)
			{
				bool		isnull;
				Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

				targets[ntargets] = DatumGetObjectId(d);
				names[ntargets] = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[i],
																		SPI_tuptable->tupdesc, 2));
				ntargets++;
			}
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	LWLockAcquire(stream_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < stream_shared->nslots; i++)
	{
		StreamSlot *slot = &stream_shared->slots[i];

		if (!slot->in_use || slot->dboid != dboid)
			continue;
		slot->wanted = false;
		for (t = 0; t < ntargets; t++)
			if (targets[t] == slot->target)
			{
				slot->wanted = true;
				/* renamed since? */
				strlcpy(slot->name, names[t], sizeof(slot->name));
			}
	}
	for (t = 0; t < ntargets; t++)
	{
		int			free_slot = -1;
		bool		found = false;

		for (i = 0; i < stream_shared->nslots; i++)
		{
			StreamSlot *slot = &stream_shared->slots[i];

			if (slot->in_use && slot->dboid == dboid && slot->target == targets[t])
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
			slot->target = targets[t];
			strlcpy(slot->name, names[t], sizeof(slot->name));
			if (dbname)
				strlcpy(slot->dbname, dbname, sizeof(slot->dbname));
			strlcpy(slot->state, "starting", sizeof(slot->state));
		}
		else if (!found)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many streaming tables: kafka_fdw.max_streams is %d", stream_shared->nslots)));
	}
	stream_shared->probe_pid = 0;
	LWLockRelease(stream_shared->lock);
	proc_exit(0);
}
