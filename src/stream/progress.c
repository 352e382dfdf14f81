/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  kafka.stream_watermarks(): the high watermarks of the partitions the
 *	  streams read, asked of Kafka when kafka.stream_progress is queried, so
 *	  that lag is live for every trigger (an interval stream asleep, an
 *	  available_now stream between refreshes), not as of the last batch.
 *
 * Only the streams the caller may see progress of (the view's rule: the
 * owner and its members, superusers, pg_read_all_stats) are looked at.
 * Their partitions are grouped by source server and owner, and each group
 * is asked with one ListOffsets request per leader, connecting as the
 * stream does (kafka_connection_for_server with the owner's user mapping).
 * A group is asked at most once every CACHE_MS, by whichever session
 * queries first, answered or not; the answers are kept in shared memory
 * for every session (a fixed number of them: the oldest make room).  Every attempt is
 * bounded (ATTEMPT_TIMEOUT_MS, all of them by QUERY_BUDGET_MS) and
 * cancellable; a group that does not answer keeps its last answer (with
 * its time) or none, and the view falls back to the watermarks of the last
 * batch.  Nothing of a failure is shown: errors would come from another
 * owner's connection.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "client.h"
#include "options.h"
#include "stream/stream.h"
#include "stream/stream_shmem.h"

PG_FUNCTION_INFO_V1(kafka_stream_watermarks);

/* An answer is reused this long. */
#define CACHE_MS 3000
/* One group's request waits at most this long... */
#define ATTEMPT_TIMEOUT_MS 1000
/* ...and the requests of one query at most this long together. */
#define QUERY_BUDGET_MS 2000

/* Kafka's limit on topic names is 249 bytes. */
#define TOPIC_MAX 256

/* The last answer for one partition of one stream. */
typedef struct CachedWatermark
{
	Oid			dboid;			/* InvalidOid: free */
	Oid			stream;
	int32		partition;
	int64		high;
	TimestampTz as_of;
	char		topic[TOPIC_MAX];
} CachedWatermark;

/* When the partitions of one source server read as one owner were asked. */
typedef struct CachedAsk
{
	Oid			dboid;			/* InvalidOid: free */
	Oid			server;
	Oid			owner;
	TimestampTz asked_at;
} CachedAsk;

/*
 * The cache, in shared memory when kafka_fdw is preloaded (every session
 * sees the answers another one got: monitoring that connects anew for each
 * poll asks Kafka once every CACHE_MS too), else in this backend.  Bounded:
 * when full, the oldest answer or ask makes room.
 */
typedef struct WatermarkCache
{
	int			nmarks;
	int			nasks;
	CachedWatermark *marks;
	CachedAsk  *asks;
} WatermarkCache;

static WatermarkCache *cache = NULL;
static LWLock *cache_lock = NULL;	/* NULL: the cache is this backend's */

#define CACHE_MARKS (stream_max_streams * 16)
#define CACHE_ASKS (stream_max_streams)

Size
stream_watermarks_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(WatermarkCache)),
					add_size(mul_size(sizeof(CachedWatermark), CACHE_MARKS),
							 mul_size(sizeof(CachedAsk), CACHE_ASKS)));
}

/* From the shared memory startup hook (AddinShmemInitLock held). */
void
stream_watermarks_shmem_init(LWLock *lock)
{
	bool		found;
	char	   *base = ShmemInitStruct("kafka_fdw stream watermarks",
									   stream_watermarks_shmem_size(), &found);

	cache = (WatermarkCache *) base;
	if (!found)
	{
		memset(base, 0, stream_watermarks_shmem_size());
		cache->nmarks = CACHE_MARKS;
		cache->nasks = CACHE_ASKS;
	}
	cache->marks = (CachedWatermark *) (base + MAXALIGN(sizeof(WatermarkCache)));
	cache->asks = (CachedAsk *) (cache->marks + cache->nmarks);
	cache_lock = lock;
}

static void
cache_acquire(void)
{
	if (cache == NULL)
	{
		/* not preloaded: a cache of this backend */
		cache = MemoryContextAllocZero(TopMemoryContext, sizeof(WatermarkCache));
		cache->nmarks = 1024;
		cache->nasks = 64;
		cache->marks = MemoryContextAllocZero(TopMemoryContext,
											  sizeof(CachedWatermark) * cache->nmarks);
		cache->asks = MemoryContextAllocZero(TopMemoryContext,
											 sizeof(CachedAsk) * cache->nasks);
	}
	if (cache_lock)
		LWLockAcquire(cache_lock, LW_EXCLUSIVE);
}

static void
cache_release(void)
{
	if (cache_lock)
		LWLockRelease(cache_lock);
}

/*
 * Lock held: should this backend ask Kafka about a group now?  Yes when
 * nobody did within CACHE_MS; the ask is then claimed (other sessions use
 * the answers it stores).
 */
static bool
claim_ask(Oid server, Oid owner, TimestampTz now)
{
	CachedAsk  *oldest = NULL;
	int			i;

	for (i = 0; i < cache->nasks; i++)
	{
		CachedAsk  *a = &cache->asks[i];

		if (a->dboid == MyDatabaseId && a->server == server && a->owner == owner)
		{
			if (!TimestampDifferenceExceeds(a->asked_at, now, CACHE_MS))
				return false;
			a->asked_at = now;
			return true;
		}
		if (oldest == NULL || a->dboid == InvalidOid ||
			(oldest->dboid != InvalidOid && a->asked_at < oldest->asked_at))
			oldest = a;
	}
	oldest->dboid = MyDatabaseId;
	oldest->server = server;
	oldest->owner = owner;
	oldest->asked_at = now;
	return true;
}

/* Lock held: the last answer for a partition of a stream, or NULL. */
static CachedWatermark *
find_mark(Oid stream, const char *topic, int32 partition)
{
	int			i;

	for (i = 0; i < cache->nmarks; i++)
	{
		CachedWatermark *m = &cache->marks[i];

		if (m->dboid == MyDatabaseId && m->stream == stream &&
			m->partition == partition && strcmp(m->topic, topic) == 0)
			return m;
	}
	return NULL;
}

/* Lock held: keep an answer (in place of the oldest when full). */
static void
store_mark(Oid stream, const char *topic, int32 partition, int64 high, TimestampTz as_of)
{
	CachedWatermark *m = find_mark(stream, topic, partition);
	int			i;

	if (m == NULL)
	{
		for (i = 0; i < cache->nmarks; i++)
		{
			CachedWatermark *c = &cache->marks[i];

			if (m == NULL || c->dboid == InvalidOid ||
				(m->dboid != InvalidOid && c->as_of < m->as_of))
				m = c;
			if (m->dboid == InvalidOid)
				break;
		}
		m->dboid = MyDatabaseId;
		m->stream = stream;
		m->partition = partition;
		strlcpy(m->topic, topic, sizeof(m->topic));
	}
	m->high = high;
	m->as_of = as_of;
}

/* One partition of one visible stream, as the catalog lists it. */
typedef struct StreamPartition
{
	Oid			stream;
	Oid			server;
	Oid			owner;
	char	   *topic;
	int32		partition;
} StreamPartition;

/* What one attempt asks and gets back. */
typedef struct WatermarkAsk
{
	Oid			server;
	Oid			owner;
	int			timeout_ms;
	rd_kafka_topic_partition_list_t *list;
	bool		answered;
} WatermarkAsk;

static void
ask_attempt(void *arg)
{
	WatermarkAsk *ask = arg;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "kafka stream watermark client",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	KafkaConnectionSpec *spec;
	KafkaClient *client;

	spec = kafka_connection_for_server(GetForeignServer(ask->server), ask->owner);
	client = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	ask->answered = kafka_client_high_watermarks(client, ask->list, ask->timeout_ms);
	kafka_client_close(client);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Ask Kafka for the high watermarks of a group's partitions (those of one
 * source server read as one owner); keep what it answered for each of the
 * group's streams.  Errors (no user mapping, options, the brokers) keep
 * the last answers as they are; only a cancel or a shutdown goes on to
 * the caller.
 */
static void
ask_group(Oid server, Oid owner, List *partitions, int timeout_ms)
{
	WatermarkAsk ask;
	ErrorData  *edata = NULL;
	ListCell   *lc;
	TimestampTz now;

	memset(&ask, 0, sizeof(ask));
	ask.server = server;
	ask.owner = owner;
	ask.timeout_ms = timeout_ms;
	ask.list = rd_kafka_topic_partition_list_new(list_length(partitions));
	foreach(lc, partitions)
	{
		StreamPartition *p = lfirst(lc);

		if (strlen(p->topic) < TOPIC_MAX &&
			rd_kafka_topic_partition_list_find(ask.list, p->topic, p->partition) == NULL)
			rd_kafka_topic_partition_list_add(ask.list, p->topic, p->partition);
	}
	PG_TRY();
	{
		if (!stream_in_subtransaction(ask_attempt, &ask, &edata))
		{
			if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
				ReThrowError(edata);
			FreeErrorData(edata);
			ask.answered = false;
		}
	}
	PG_CATCH();
	{
		rd_kafka_topic_partition_list_destroy(ask.list);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (ask.answered)
	{
		now = GetCurrentTimestamp();
		cache_acquire();
		foreach(lc, partitions)
		{
			StreamPartition *p = lfirst(lc);
			rd_kafka_topic_partition_t *e =
				rd_kafka_topic_partition_list_find(ask.list, p->topic, p->partition);

			if (e && e->err == RD_KAFKA_RESP_ERR_NO_ERROR && e->offset >= 0)
				store_mark(p->stream, p->topic, p->partition, e->offset, now);
		}
		cache_release();
	}
	rd_kafka_topic_partition_list_destroy(ask.list);
}

/* The partitions of the streams the caller may see, by server and owner. */
static List *
visible_partitions(void)
{
	List	   *result = NIL;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(GetUserId())};
	MemoryContext caller = CurrentMemoryContext;
	uint64		i;

	SPI_connect();
	stream_catalog_exec("SELECT s.target::oid, ft.ftserver, s.owner::oid, o.topic, o.\"partition\" "
						"FROM kafka.streaming_tables s "
						"JOIN kafka.stream_offsets o ON o.stream = s.target "
						"JOIN pg_foreign_table ft ON ft.ftrelid = s.source "
						"WHERE pg_has_role($1, s.owner::oid, 'USAGE') "
						"OR pg_has_role($1, 'pg_read_all_stats', 'USAGE') "
						"ORDER BY 2, 3, 4, 5",
						1, types, values, NULL, true);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(caller);
		StreamPartition *p = palloc(sizeof(StreamPartition));

		p->stream = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		p->server = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		p->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		p->topic = SPI_getvalue(tup, desc, 4);
		p->partition = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
		result = lappend(result, p);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

Datum
kafka_stream_watermarks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *partitions;
	List	   *group_partitions = NIL;
	ListCell   *lc;
	TimestampTz started = GetCurrentTimestamp();
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	partitions = visible_partitions();

	/* ask about the groups nobody asked about lately, within the budget */
	for (i = 0; i < list_length(partitions); i++)
	{
		StreamPartition *p = list_nth(partitions, i);
		StreamPartition *next = i + 1 < list_length(partitions) ?
			list_nth(partitions, i + 1) : NULL;

		group_partitions = lappend(group_partitions, p);
		if (next == NULL || next->server != p->server || next->owner != p->owner)
		{
			TimestampTz now = GetCurrentTimestamp();
			long		spent = (long) ((now - started) / 1000);
			bool		ask;

			cache_acquire();
			ask = spent < QUERY_BUDGET_MS && claim_ask(p->server, p->owner, now);
			cache_release();
			if (ask)
				ask_group(p->server, p->owner, group_partitions,
						  (int) Min(ATTEMPT_TIMEOUT_MS, QUERY_BUDGET_MS - spent));
			list_free(group_partitions);
			group_partitions = NIL;
		}
	}

	foreach(lc, partitions)
	{
		StreamPartition *p = lfirst(lc);
		CachedWatermark *mark;
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		cache_acquire();
		mark = find_mark(p->stream, p->topic, p->partition);
		if (mark)
		{
			values[3] = Int64GetDatum(mark->high);
			values[4] = TimestampTzGetDatum(mark->as_of);
		}
		cache_release();
		if (mark == NULL)
			continue;
		values[0] = ObjectIdGetDatum(p->stream);
		values[1] = CStringGetTextDatum(p->topic);
		values[2] = Int32GetDatum(p->partition);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
