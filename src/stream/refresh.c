/*-------------------------------------------------------------------------
 *
 * refresh.c
 *	  CALL kafka.refresh_streaming_table(target): Spark's availableNow
 *	  trigger, what pg_cron schedules.
 *
 * End offsets are fixed when the call starts (the high watermarks then);
 * the backlog is split into batches of max_offsets_per_trigger records.
 * Called on its own (non-atomic CALL) each batch commits before the next
 * is fetched; inside a transaction block every batch is part of the
 * caller's transaction (still exactly once: offsets and rows commit or roll
 * back together).  A refresh never overlaps another refresh or the stream's
 * worker: it takes the stream's lock without waiting and returns at once,
 * saying so in its summary, when someone else holds it.  The summary is the
 * procedure's result, nothing else: no NOTICE repeats it.  While the call
 * holds the lock, kafka.stream_progress shows the stream 'refreshing' (the
 * lock goes with the call, however it ends).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "stream/stream.h"

PG_FUNCTION_INFO_V1(kafka_refresh_streaming_table);

/* Lock tag of a stream: advisory, with a class of our own. */
#define STREAM_LOCK_CLASS 0x4b46

static void
stream_lock_tag(LOCKTAG *tag, Oid target)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) target, 0, STREAM_LOCK_CLASS);
}

bool
stream_lock_acquire(Oid target, bool session, bool wait)
{
	LOCKTAG		tag;

	stream_lock_tag(&tag, target);
	return LockAcquire(&tag, ExclusiveLock, session, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

void
stream_lock_release(Oid target)
{
	LOCKTAG		tag;

	stream_lock_tag(&tag, target);
	LockRelease(&tag, ExclusiveLock, true);
}

/* A procedure's INOUT arguments come back as a one-row record. */
static Datum
summary_result(const char *summary)
{
	TupleDesc	desc = CreateTemplateTupleDesc(1);
	Datum		value = CStringGetTextDatum(summary);
	bool		isnull = false;

	TupleDescInitEntry(desc, 1, "summary", TEXTOID, -1, 0);
	desc = BlessTupleDesc(desc);
	return HeapTupleGetDatum(heap_form_tuple(desc, &value, &isnull));
}

typedef struct RefreshStep
{
	StreamDef  *def;
	MemoryContext cxt;
	StreamIngest *ingest;
	StreamWrittenColumns *written;	/* across the ingests of the call */
	bool		applied;
	bool		reopen;			/* the source changed: open the ingest again */
	StreamBatchResult result;
} RefreshStep;

static void
open_step(RefreshStep *step)
{
	step->ingest = stream_ingest_open(step->def, true, step->cxt, step->written);
}

static void
batch_step(RefreshStep *step)
{
	step->applied = false;
	step->reopen = false;
	if (!stream_ingest_fetch(step->ingest, 0))
		return;
	PushActiveSnapshot(GetTransactionSnapshot());
	if (stream_ingest_apply(step->ingest, &step->result))
		step->applied = true;
	else
		step->reopen = true;	/* nothing was written */
	PopActiveSnapshot();
}

/*
 * Run a step.  Called on its own (non-atomic), the step runs in a
 * subtransaction so that an error retrying cannot fix (a bad record under
 * on_error 'fail', lost offsets) can be recorded: the stream is marked
 * failed and committed before the error goes to the caller, as a worker
 * does.  Inside a transaction block the caller's transaction is all there
 * is, and the error just aborts it.
 */
static void
run_step(void (*fn) (RefreshStep *), RefreshStep *step, bool atomic, Oid target)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	stream_record_error_raised = false;
	if (atomic)
	{
		fn(step);
		return;
	}
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(step);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (stream_error_is_permanent(edata))
		{
			stream_mark_failed(target, edata->context ?
							   psprintf("%s (%s)", edata->message, edata->context) :
							   edata->message);
			SPI_commit();
		}
		ReThrowError(edata);
	}
	PG_END_TRY();
}

Datum
kafka_refresh_streaming_table(PG_FUNCTION_ARGS)
{
	Oid			target;
	volatile bool atomic = true;
	StreamDef  *def;
	StreamIngest *volatile ingest = NULL;
	MemoryContext cxt;
	MemoryContext caller = CurrentMemoryContext;
	volatile int64 rows = 0,
				records = 0,
				dead = 0,
				skipped = 0,
				lag = 0;
	volatile int batches = 0;
	char	   *summary;
	char	   *target_name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target must not be null")));
	target = PG_GETARG_OID(0);
	if (fcinfo->context && IsA(fcinfo->context, CallContext))
		atomic = castNode(CallContext, fcinfo->context)->atomic;

	def = stream_def_load(target, false);
	stream_check_owner(def);
	if (strcmp(def->state, "failed") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming table %s has failed and is stopped", def->target_name),
				 errhint("See kafka.stream_progress for the error, then call kafka.resume_streaming_table().")));

	/* inside a transaction block the lock lasts as long as the transaction */
	if (!stream_lock_acquire(target, !atomic, false))
	{
		summary = psprintf("%s is being loaded by its worker or another refresh: nothing done",
						   def->target_name);
		PG_RETURN_DATUM(summary_result(summary));
	}

	cxt = AllocSetContextCreate(TopMemoryContext, "kafka refresh", ALLOCSET_DEFAULT_SIZES);
	def = stream_def_load(target, false);	/* after the lock: current batch_id */
	target_name = pstrdup(def->target_name);

	PG_TRY();
	{
		RefreshStep step;

		if (!atomic)
			SPI_connect_ext(SPI_OPT_NONATOMIC);
		memset(&step, 0, sizeof(step));
		step.def = def;
		step.cxt = cxt;
		step.written = stream_written_columns_create(cxt);
		run_step(open_step, &step, atomic, target);
		ingest = step.ingest;
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			run_step(batch_step, &step, atomic, target);
			if (step.reopen)
			{
				/*
				 * The source changed since the batch was read (ALTER FOREIGN
				 * TABLE between two batches): read it again, as it is now,
				 * from the committed offsets.
				 */
				stream_ingest_close(ingest);
				ingest = step.ingest = NULL;
				run_step(open_step, &step, atomic, target);
				ingest = step.ingest;
				continue;
			}
			if (!step.applied)
				break;
			if (!atomic)
				SPI_commit();
			else
				CommandCounterIncrement();
			stream_ingest_committed(ingest);
			/* inside a transaction block nothing is committed before the caller's */
			if (!atomic)
				stream_ingest_mirror_offsets(ingest);
			batches++;
			rows += step.result.rows;
			records += step.result.records;
			dead += step.result.dead_letters;
			skipped += step.result.skipped;
		}
		lag = stream_ingest_lag(ingest);
		if (!atomic && batches > 0)
			stream_ingest_mirror_flush(ingest);
		stream_ingest_close(ingest);
		ingest = NULL;
		if (!atomic)
		{
			SPI_commit();		/* new partitions' rows even without a batch */
			SPI_finish();
		}
	}
	PG_FINALLY();
	{
		if (ingest)
			stream_ingest_close(ingest);
		MemoryContextDelete(cxt);
		if (!atomic)
			stream_lock_release(target);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(caller);
	summary = psprintf("refreshed %s: " INT64_FORMAT " rows from " INT64_FORMAT " records in %d batches, "
					   INT64_FORMAT " dead letters, " INT64_FORMAT " skipped, lag " INT64_FORMAT,
					   target_name, rows, records, batches, dead, skipped, lag);
	PG_RETURN_DATUM(summary_result(summary));
}
