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
 * A group's answer is kept in this backend for CACHE_MS, a failed attempt
 * too, so repeated queries do not ask again at once.  Every attempt is
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
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "client.h"
#include "options.h"
#include "stream/stream.h"

PG_FUNCTION_INFO_V1(kafka_stream_watermarks);

/* An answer is reused this long. */
#define CACHE_MS 3000
/* One group's request waits at most this long... */
#define ATTEMPT_TIMEOUT_MS 1000
/* ...and the requests of one query at most this long together. */
#define QUERY_BUDGET_MS 2000

typedef struct CachedWatermark
{
	char	   *topic;
	int32		partition;
	int64		high;
	TimestampTz as_of;
} CachedWatermark;

/* The partitions of one source server read as one owner. */
typedef struct WatermarkGroup
{
	Oid			server;
	Oid			owner;
	TimestampTz asked_at;		/* last attempt, answered or not */
	int			n;
	CachedWatermark *marks;		/* the last answers */
} WatermarkGroup;

static MemoryContext cache_cxt = NULL;
static List *cache_groups = NIL;	/* WatermarkGroup */

/* One partition of one visible stream, as the catalog lists it. */
typedef struct StreamPartition
{
	Oid			stream;
	Oid			server;
	Oid			owner;
	char	   *topic;
	int32		partition;
} StreamPartition;

static WatermarkGroup *
find_group(Oid server, Oid owner, bool create)
{
	ListCell   *lc;
	WatermarkGroup *group;
	MemoryContext old;

	foreach(lc, cache_groups)
	{
		group = lfirst(lc);
		if (group->server == server && group->owner == owner)
			return group;
	}
	if (!create)
		return NULL;
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "kafka stream watermarks",
										  ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cache_cxt);
	group = palloc0(sizeof(WatermarkGroup));
	group->server = server;
	group->owner = owner;
	cache_groups = lappend(cache_groups, group);
	MemoryContextSwitchTo(old);
	return group;
}

static CachedWatermark *
find_mark(WatermarkGroup *group, const char *topic, int32 partition)
{
	int			i;

	for (i = 0; i < group->n; i++)
		if (group->marks[i].partition == partition &&
			strcmp(group->marks[i].topic, topic) == 0)
			return &group->marks[i];
	return NULL;
}

/* What one attempt asks and gets back. */
typedef struct WatermarkAsk
{
	WatermarkGroup *group;
	List	   *partitions;		/* StreamPartition of the group */
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

	spec = kafka_connection_for_server(GetForeignServer(ask->group->server),
									   ask->group->owner);
	client = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	ask->answered = kafka_client_high_watermarks(client, ask->list, ask->timeout_ms);
	kafka_client_close(client);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Ask Kafka for the group's partitions; keep what it answered.  Errors
 * (no user mapping, options, the brokers) leave the last answers as they
 * are; only a cancel or a shutdown goes on to the caller.
 */
static void
ask_group(WatermarkGroup *group, List *partitions, int timeout_ms)
{
	WatermarkAsk ask;
	ErrorData  *edata = NULL;
	ListCell   *lc;
	TimestampTz now;
	int			i;

	memset(&ask, 0, sizeof(ask));
	ask.group = group;
	ask.partitions = partitions;
	ask.timeout_ms = timeout_ms;
	ask.list = rd_kafka_topic_partition_list_new(list_length(partitions));
	foreach(lc, partitions)
	{
		StreamPartition *p = lfirst(lc);

		if (rd_kafka_topic_partition_list_find(ask.list, p->topic, p->partition) == NULL)
			rd_kafka_topic_partition_list_add(ask.list, p->topic, p->partition);
	}
	group->asked_at = GetCurrentTimestamp();
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
		MemoryContext old = MemoryContextSwitchTo(cache_cxt);
		CachedWatermark *marks = palloc0(sizeof(CachedWatermark) * Max(ask.list->cnt, 1));
		int			n = 0;

		now = GetCurrentTimestamp();
		for (i = 0; i < ask.list->cnt; i++)
		{
			rd_kafka_topic_partition_t *e = &ask.list->elems[i];
			CachedWatermark *previous = find_mark(group, e->topic, e->partition);

			marks[n].topic = pstrdup(e->topic);
			marks[n].partition = e->partition;
			if (e->err == RD_KAFKA_RESP_ERR_NO_ERROR && e->offset >= 0)
			{
				marks[n].high = e->offset;
				marks[n].as_of = now;
			}
			else if (previous)
			{
				marks[n].high = previous->high;
				marks[n].as_of = previous->as_of;
			}
			else
				continue;
			n++;
		}
		for (i = 0; i < group->n; i++)
			pfree(group->marks[i].topic);
		if (group->marks)
			pfree(group->marks);
		group->marks = marks;
		group->n = n;
		MemoryContextSwitchTo(old);
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

	/* ask the groups whose answer is older than CACHE_MS, within the budget */
	for (i = 0; i < list_length(partitions); i++)
	{
		StreamPartition *p = list_nth(partitions, i);
		StreamPartition *next = i + 1 < list_length(partitions) ?
			list_nth(partitions, i + 1) : NULL;

		group_partitions = lappend(group_partitions, p);
		if (next == NULL || next->server != p->server || next->owner != p->owner)
		{
			WatermarkGroup *group = find_group(p->server, p->owner, true);
			long		spent = (long) ((GetCurrentTimestamp() - started) / 1000);

			/* not when asked a moment ago */
			if (TimestampDifferenceExceeds(group->asked_at, GetCurrentTimestamp(), CACHE_MS) &&
				spent < QUERY_BUDGET_MS)
				ask_group(group, group_partitions,
						  (int) Min(ATTEMPT_TIMEOUT_MS, QUERY_BUDGET_MS - spent));
			list_free(group_partitions);
			group_partitions = NIL;
		}
	}

	foreach(lc, partitions)
	{
		StreamPartition *p = lfirst(lc);
		WatermarkGroup *group = find_group(p->server, p->owner, false);
		CachedWatermark *mark = group ? find_mark(group, p->topic, p->partition) : NULL;
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (mark == NULL)
			continue;
		values[0] = ObjectIdGetDatum(p->stream);
		values[1] = CStringGetTextDatum(p->topic);
		values[2] = Int32GetDatum(p->partition);
		values[3] = Int64GetDatum(mark->high);
		values[4] = TimestampTzGetDatum(mark->as_of);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
