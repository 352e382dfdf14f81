/*-------------------------------------------------------------------------
 *
 * producer.c
 *	  Transactional produce: held messages, delivery at pre-commit, the
 *	  transaction callbacks, and one cached producer per server and user.
 *
 * A transaction's messages go to a message buffer (memory, then a temporary
 * file) and nowhere else until XACT_EVENT_PRE_COMMIT.  There every message is
 * handed to librdkafka (idempotent producer, forced by the client wrapper)
 * and the backend waits, in short cancellable slices, until each one has a
 * delivery report.  Any failed report, or none within the message timeout,
 * raises an ERROR, so the transaction aborts.  Delivery reports arrive as
 * events on the client's queue and are counted by a handler that runs in the
 * backend while the queue is drained; it only touches plain counters.
 *
 * Producers are cached per backend by (server, user, message timeout), so
 * consecutive transactions reuse their connections.  A producer that still
 * holds undelivered messages when its transaction aborts (cancel, timeout,
 * a failed delivery) is purged and destroyed: nothing of an aborted
 * transaction may be sent later by a producer that outlives it.
 *
 * What this cannot promise (doc/producing.md, "What cannot be taken
 * back"): Kafka has no rollback for a non-transactional producer, so
 * messages acknowledged before a failure later in the flush, or before a
 * failure after it (a serialization failure at commit, a crash), stay in
 * Kafka although the transaction aborted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "client.h"
#include "options.h"
#include "produce/producer.h"

/* How long past the message timeout we wait for librdkafka to report. */
#define DELIVERY_GRACE_MS	5000

int			kafka_produce_buffer_size = 16384;	/* kB */

typedef struct TopicHandle
{
	char	   *name;
	rd_kafka_topic_t *rkt;
} TopicHandle;

/* librdkafka's partitioners by key, as it exports them */
typedef int32_t (*KeyPartitioner) (const rd_kafka_topic_t *rkt, const void *key,
								   size_t keylen, int32_t partition_cnt,
								   void *rkt_opaque, void *msg_opaque);

/* A cached producer: lives in its own context under TopMemoryContext. */
typedef struct ProducerEntry
{
	Oid			serverid;
	Oid			userid;
	int			timeout_ms;		/* message_timeout it was built with */
	int			effective_timeout_ms;	/* librdkafka's, 0: none */
	MemoryContext mcxt;
	KafkaClient *client;
	List	   *topics;			/* of TopicHandle */
	int64		outstanding;	/* handed to librdkafka, not yet reported */
	KeyPartitioner partitioner; /* librdkafka's for keyed messages, or NULL */
	bool		in_use;			/* by the current transaction */
	bool		invalid;		/* catalogs changed: rebuild when idle */
} ProducerEntry;

struct KafkaProduceTarget
{
	uint16		index;
	uint64		generation;
	int			requested_timeout_ms;	/* 0: the server's */
	ProducerEntry *producer;
	char	   *topic;
	rd_kafka_topic_t *rkt;
	int64		appended;		/* messages held, savepoints aside */
	int32		partition_count;	/* learned at delivery, or 0 */
	int		   *partition_ends; /* group_by_partition's, partition_count + 1 */
	int64		produced;
	int64		delivered;
	int64		failed;
	rd_kafka_resp_err_t first_error;
	int32		error_partition;
};

/* State of the current transaction; xact_cxt is under TopTransactionContext. */
static MemoryContext xact_cxt = NULL;
static KafkaMessageBuffer *xact_buffer = NULL;
static KafkaProduceTarget **xact_targets = NULL;
static int	xact_ntargets = 0;
static int	xact_maxtargets = 0;
static uint64 xact_generation = 1;

static List *producers = NIL;	/* of ProducerEntry, in TopMemoryContext */

static void producer_xact_callback(XactEvent event, void *arg);
static void producer_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									  SubTransactionId parentSubid, void *arg);
static void producer_invalidate(Datum arg, int cacheid, uint32 hashvalue);

void
kafka_produce_init(void)
{
	DefineCustomIntVariable("kafka_fdw.produce_buffer_size",
							"Memory a transaction may use to hold the kafka messages it produces.",
							"Past this size, held messages spill to a temporary file until commit.",
							&kafka_produce_buffer_size,
							16384,
							64,
							MaxAllocSize / 2 / 1024,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	RegisterXactCallback(producer_xact_callback, NULL);
	RegisterSubXactCallback(producer_subxact_callback, NULL);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, producer_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, producer_invalidate, (Datum) 0);
}

static void
producer_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	ListCell   *lc;

	foreach(lc, producers)
		((ProducerEntry *) lfirst(lc))->invalid = true;
}

/* Delivery reports: in the backend, no palloc, no ereport. */
static void
delivery_report(const rd_kafka_message_t *message, void *arg)
{
	ProducerEntry *entry = arg;
	KafkaProduceTarget *target = message->_private;

	entry->outstanding--;
	if (target == NULL)
		return;
	if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		target->delivered++;
	else
	{
		if (target->failed++ == 0)
		{
			target->first_error = message->err;
			target->error_partition = message->partition;
		}
	}
}

static void
producer_destroy(ProducerEntry *entry)
{
	producers = list_delete_ptr(producers, entry);
	if (entry->client)
	{
		kafka_client_purge(entry->client);
		kafka_client_close(entry->client);
	}
	MemoryContextDelete(entry->mcxt);
	pfree(entry);
}

static int
effective_timeout(KafkaConnectionSpec *spec)
{
	const char *value = kafka_spec_get_property(spec, "message.timeout.ms");

	if (value == NULL)
		value = kafka_spec_get_property(spec, "delivery.timeout.ms");
	return value ? atoi(value) : spec->message_timeout_ms;
}

/*
 * The function librdkafka's partitioner property names, for messages with a
 * key: each maps a key to the same partition librdkafka's would.  Messages
 * without a key, and the "random" partitioner, are left to librdkafka.
 */
static KeyPartitioner
key_partitioner(const char *name)
{
	static const struct
	{
		const char *name;
		KeyPartitioner fn;
	}			partitioners[] =
	{
		{"consistent_random", rd_kafka_msg_partitioner_consistent_random},
		{"consistent", rd_kafka_msg_partitioner_consistent},
		{"murmur2_random", rd_kafka_msg_partitioner_murmur2_random},
		{"murmur2", rd_kafka_msg_partitioner_murmur2},
		{"fnv1a_random", rd_kafka_msg_partitioner_fnv1a_random},
		{"fnv1a", rd_kafka_msg_partitioner_fnv1a},
	};
	int			i;

	if (name == NULL)
		name = "consistent_random"; /* librdkafka's default */
	for (i = 0; i < lengthof(partitioners); i++)
		if (strcmp(name, partitioners[i].name) == 0)
			return partitioners[i].fn;
	return NULL;
}

/* The entry's librdkafka producer, everything in the entry's context. */
static void
create_client(ProducerEntry *entry, ForeignServer *server)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(entry->mcxt);
	KafkaConnectionSpec *spec = kafka_connection_for_server(server, entry->userid);

	spec->message_timeout_ms = entry->timeout_ms;
	entry->effective_timeout_ms = effective_timeout(spec);
	entry->partitioner = key_partitioner(kafka_spec_get_property(spec, "partitioner"));
	entry->client = kafka_client_create(spec, KAFKA_CLIENT_PRODUCER);
	entry->client->delivery_report = delivery_report;
	entry->client->delivery_report_arg = entry;
	MemoryContextSwitchTo(oldcontext);
}

static ProducerEntry *
get_producer(ForeignServer *server, Oid userid, int timeout_ms)
{
	KafkaConnectionSpec *spec;
	ProducerEntry *entry;
	MemoryContext oldcontext;
	ListCell   *lc;

	/* permissions and the user mapping, checked for every transaction */
	spec = kafka_connection_for_server(server, userid);
	if (timeout_ms <= 0)
		timeout_ms = spec->message_timeout_ms;

	foreach(lc, producers)
	{
		entry = lfirst(lc);
		if (entry->serverid == server->serverid && entry->userid == userid &&
			entry->timeout_ms == timeout_ms)
		{
			if (!entry->invalid || entry->in_use)
				return entry;
			if (entry->outstanding == 0)
			{
				producer_destroy(entry);
				break;
			}
			return entry;
		}
	}

	entry = MemoryContextAllocZero(TopMemoryContext, sizeof(ProducerEntry));
	entry->serverid = server->serverid;
	entry->userid = userid;
	entry->timeout_ms = timeout_ms;
	entry->mcxt = AllocSetContextCreate(TopMemoryContext, "kafka_fdw producer",
										ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		create_client(entry, server);
	}
	PG_CATCH();
	{
		MemoryContextDelete(entry->mcxt);
		pfree(entry);
		PG_RE_THROW();
	}
	PG_END_TRY();
	oldcontext = MemoryContextSwitchTo(TopMemoryContext);
	producers = lappend(producers, entry);
	MemoryContextSwitchTo(oldcontext);
	return entry;
}

static rd_kafka_topic_t *
producer_topic(ProducerEntry *entry, const char *topic)
{
	ListCell   *lc;
	TopicHandle *handle;
	MemoryContext oldcontext;

	foreach(lc, entry->topics)
	{
		handle = lfirst(lc);
		if (strcmp(handle->name, topic) == 0)
			return handle->rkt;
	}
	oldcontext = MemoryContextSwitchTo(entry->mcxt);
	handle = palloc(sizeof(TopicHandle));
	handle->name = pstrdup(topic);
	handle->rkt = kafka_client_topic(entry->client, topic);
	entry->topics = lappend(entry->topics, handle);
	MemoryContextSwitchTo(oldcontext);
	return handle->rkt;
}

KafkaProduceTarget *
kafka_produce_target(ForeignServer *server, Oid userid, const char *topic,
					 int message_timeout_ms)
{
	KafkaProduceTarget *target;
	ProducerEntry *entry;
	int			i;

	if (topic == NULL || topic[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kafka topic name must not be empty")));
	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot produce kafka messages during a parallel operation")));

	for (i = 0; i < xact_ntargets; i++)
	{
		target = xact_targets[i];
		if (target->producer->serverid == server->serverid &&
			target->producer->userid == userid &&
			target->requested_timeout_ms == Max(message_timeout_ms, 0) &&
			strcmp(target->topic, topic) == 0)
			return target;
	}
	if (xact_ntargets >= PG_UINT16_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a transaction can produce to at most %d kafka topics", PG_UINT16_MAX)));

	entry = get_producer(server, userid, message_timeout_ms);

	if (xact_cxt == NULL)
	{
		xact_cxt = AllocSetContextCreate(TopTransactionContext, "kafka_fdw produced messages",
										 ALLOCSET_DEFAULT_SIZES);
		xact_buffer = kafka_message_buffer_create(xact_cxt, kafka_produce_buffer_size * 1024);
		xact_maxtargets = 4;
		xact_targets = MemoryContextAlloc(xact_cxt, xact_maxtargets * sizeof(KafkaProduceTarget *));
	}
	if (xact_ntargets == xact_maxtargets)
	{
		xact_maxtargets *= 2;
		xact_targets = repalloc(xact_targets, xact_maxtargets * sizeof(KafkaProduceTarget *));
	}
	target = MemoryContextAllocZero(xact_cxt, sizeof(KafkaProduceTarget));
	target->index = xact_ntargets;
	target->generation = xact_generation;
	target->requested_timeout_ms = Max(message_timeout_ms, 0);
	target->producer = entry;
	target->topic = MemoryContextStrdup(xact_cxt, topic);
	target->rkt = producer_topic(entry, topic);
	entry->in_use = true;
	xact_targets[xact_ntargets++] = target;
	return target;
}

bool
kafka_produce_target_is_current(KafkaProduceTarget *target)
{
	return target != NULL && target->generation == xact_generation &&
		xact_cxt != NULL;
}

void
kafka_produce_message(KafkaProduceTarget *target, KafkaMessageData *message)
{
	if (!kafka_produce_target_is_current(target))
		elog(ERROR, "kafka produce target used outside its transaction");
	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot produce kafka messages during a parallel operation")));
	message->target = target->index;
	kafka_message_buffer_append(xact_buffer, message);
	target->appended++;
}

int64
kafka_produce_timestamp_ms(TimestampTz timestamp)
{
	int64		ms;

	if (TIMESTAMP_NOT_FINITE(timestamp))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("kafka message timestamp must be finite")));
	/* microseconds since 2000 to milliseconds since 1970, floored */
	ms = timestamp / 1000 - (timestamp % 1000 < 0 ? 1 : 0);
	ms += (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("kafka message timestamp must not be before 1970-01-01 00:00:00+00")));
	return ms;
}

const char *
kafka_produce_utf8(const char *text, int len, int32 *utf8_len)
{
	char	   *utf8 = pg_server_to_any(text, len, PG_UTF8);

	/* unconverted text comes back as is, not terminated */
	*utf8_len = utf8 == text ? len : strlen(utf8);
	return utf8;
}

int32
kafka_produce_partition(int32 partition)
{
	if (partition < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kafka partition must not be negative: %d", partition),
				 errhint("Give NULL to let the partitioner choose.")));
	return partition;
}

KafkaHeaderData *
kafka_produce_headers_from_array(Datum array_datum, int *nheaders)
{
	ArrayType  *array = DatumGetArrayTypeP(array_datum);
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	KafkaHeaderData *headers;
	int			i;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("kafka headers must be a one-dimensional array of kafka.header")));
	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	deconstruct_array(array, ARR_ELEMTYPE(array), typlen, typbyval, typalign,
					  &elems, &elem_nulls, &nelems);
	headers = palloc0(Max(nelems, 1) * sizeof(KafkaHeaderData));
	for (i = 0; i < nelems; i++)
	{
		HeapTupleHeader tuple;
		bool		isnull;
		Datum		name;
		Datum		value;
		text	   *name_text;

		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("kafka headers must not contain NULL elements")));
		tuple = DatumGetHeapTupleHeader(elems[i]);
		name = GetAttributeByNum(tuple, 1, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("kafka header key must not be NULL")));
		name_text = DatumGetTextPP(name);
		headers[i].name = kafka_produce_utf8(VARDATA_ANY(name_text),
											 VARSIZE_ANY_EXHDR(name_text),
											 &headers[i].name_len);
		value = GetAttributeByNum(tuple, 2, &isnull);
		if (isnull)
		{
			headers[i].value = NULL;
			headers[i].value_len = -1;
		}
		else
		{
			bytea	   *bytes = DatumGetByteaPP(value);

			headers[i].value = VARDATA_ANY(bytes);
			headers[i].value_len = VARSIZE_ANY_EXHDR(bytes);
		}
	}
	*nheaders = nelems;
	return headers;
}

/*
 * Delivery.
 */

static bool
is_connection_error(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ||
		err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
		err == RD_KAFKA_RESP_ERR__TRANSPORT ||
		err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
		err == RD_KAFKA_RESP_ERR__RESOLVE;
}

static void
report_failure(KafkaProduceTarget *target)
{
	KafkaClient *client = target->producer->client;
	rd_kafka_resp_err_t err = target->first_error;
	bool		connection = is_connection_error(err);

	ereport(ERROR,
			(errcode(connection ? ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION : ERRCODE_FDW_ERROR),
			 errmsg("could not deliver messages to kafka topic \"%s\": %s",
					target->topic, rd_kafka_err2str(err)),
			 errdetail("The transaction is rolled back; %lld of the %lld messages sent to this topic so far had been acknowledged.%s%s",
					   (long long) target->delivered, (long long) target->produced,
					   client->last_error[0] ? " Last client error: " : "",
					   client->last_error),
			 connection ?
			 errhint("Messages must be acknowledged within message_timeout (%d s) of brokers \"%s\".",
					 target->producer->effective_timeout_ms / 1000,
					 client->spec->bootstrap_servers) :
			 (err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
			  err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) ?
			 errhint("Create the topic first, or check its name.") : 0));
}

static void
check_failures(void)
{
	int			i;

	for (i = 0; i < xact_ntargets; i++)
		if (xact_targets[i]->failed > 0)
			report_failure(xact_targets[i]);
}

/* Poll every producer of the transaction once, without waiting. */
static void
poll_producers(void)
{
	int			i;

	for (i = 0; i < xact_ntargets; i++)
		kafka_client_poll_events(xact_targets[i]->producer->client);
	check_failures();
}

/* The backstop: librdkafka should have reported a timeout by now. */
static void
check_stalled(KafkaProduceTarget *target, TimestampTz last_progress)
{
	int			timeout_ms = target->producer->effective_timeout_ms;

	if (timeout_ms > 0 &&
		TimestampDifferenceExceeds(last_progress, GetCurrentTimestamp(),
								   timeout_ms + DELIVERY_GRACE_MS))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("timed out delivering messages to kafka topic \"%s\"", target->topic),
				 errdetail("The transaction is rolled back; %lld of the %lld messages sent to this topic so far had been acknowledged.",
						   (long long) target->delivered, (long long) target->produced),
				 errhint("Messages must be acknowledged within message_timeout (%d s) of brokers \"%s\".",
						 timeout_ms / 1000, target->producer->client->spec->bootstrap_servers)));
}

static int64
reports_received(void)
{
	int64		total = 0;
	int			i;

	for (i = 0; i < xact_ntargets; i++)
		total += xact_targets[i]->delivered + xact_targets[i]->failed;
	return total;
}

/* Wait for delivery reports to free space in librdkafka's queue. */
static void
wait_for_queue_space(KafkaProduceTarget *target, TimestampTz *last_progress,
					 int64 *last_reports)
{
	int64		reports;

	kafka_client_wait_events(target->producer->client, 100);
	check_failures();
	reports = reports_received();
	if (reports != *last_reports)
	{
		*last_reports = reports;
		*last_progress = GetCurrentTimestamp();
	}
	check_stalled(target, *last_progress);
}

static void
report_produce_error(KafkaProduceTarget *target, int32 partition,
					 rd_kafka_resp_err_t err)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("could not produce a message to kafka topic \"%s\"%s: %s",
					target->topic,
					partition >= 0 ? psprintf(" partition %d", partition) : "",
					rd_kafka_err2str(err))));
}

/*
 * Messages without headers or a timestamp of their own are handed over in
 * batches (rd_kafka_produce_batch): one topic lock and one clock reading per
 * batch instead of per message.  A batch points into the message buffer
 * (librdkafka copies at the hand-over), so it is flushed before the buffer
 * reads more of its file over the messages it points to.
 */
#define PRODUCE_BATCH_SIZE	1024

typedef struct ProduceBatch
{
	KafkaProduceTarget *target;
	int			count;
	rd_kafka_message_t messages[PRODUCE_BATCH_SIZE];
	/* group_by_partition's, when a target's partition count is known */
	int32	   *placed;			/* each message's partition */
	rd_kafka_message_t *grouped;	/* the messages by partition */
	int64		ngrouped;		/* messages handed over grouped, in all */
} ProduceBatch;

/*
 * Hand messages to librdkafka, all to one partition, or with
 * RD_KAFKA_PARTITION_UA each to its own (the message's, or librdkafka's
 * partitioner's), waiting for room in librdkafka's queue as needed.
 */
static void
produce_run(KafkaProduceTarget *target, int32 partition, rd_kafka_message_t *messages,
			int count, TimestampTz *last_progress, int64 *last_reports)
{
	int			flags = RD_KAFKA_MSG_F_COPY;
	int			start = 0;
	int			i;

	if (partition == RD_KAFKA_PARTITION_UA)
		flags |= RD_KAFKA_MSG_F_PARTITION;
	while (start < count)
	{
		int			good;

		good = rd_kafka_produce_batch(target->rkt, partition, flags,
									  &messages[start], count - start);
		target->produced += good;
		target->producer->outstanding += good;
		if (start + good == count)
			break;
		for (i = start; i < count; i++)
			if (messages[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
				break;
		if (messages[i].err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			report_produce_error(target, messages[i].partition, messages[i].err);
		/* once the queue is full, every later message of the call fails too */
		start = i;
		wait_for_queue_space(target, last_progress, last_reports);
	}
}

/*
 * Group a batch by partition, each partition's messages in their order, and
 * place the keyed ones as librdkafka's partitioner would.  Then each group is
 * one call for a single partition, which librdkafka enqueues under one lock
 * instead of one per message: the per-message locking contended with the
 * broker threads and cost more than a third of a large COMMIT.  A batch
 * with a message only librdkafka can place (no key, a random partitioner,
 * an unknown partition) is not grouped.
 */
static bool
group_by_partition(ProduceBatch *batch)
{
	KafkaProduceTarget *target = batch->target;
	KeyPartitioner partitioner = target->producer->partitioner;
	int32		partition_count = target->partition_count;
	int		   *ends = target->partition_ends;
	int			i;

	if (partition_count <= 0 || batch->grouped == NULL)
		return false;
	memset(ends, 0, sizeof(int) * (partition_count + 1));
	for (i = 0; i < batch->count; i++)
	{
		rd_kafka_message_t *m = &batch->messages[i];
		int32		partition = m->partition;

		if (partition == RD_KAFKA_PARTITION_UA)
		{
			if (m->key_len == 0)
				return false;
			partition = partitioner(target->rkt, m->key, m->key_len,
									partition_count, NULL, NULL);
		}
		if (partition < 0 || partition >= partition_count)
			return false;
		batch->placed[i] = partition;
		ends[partition + 1]++;
	}
	/* counting sort: ends[p] is where partition p starts, then where it ends */
	for (i = 0; i < partition_count; i++)
		ends[i + 1] += ends[i];
	for (i = 0; i < batch->count; i++)
	{
		rd_kafka_message_t *m = &batch->grouped[ends[batch->placed[i]]++];

		*m = batch->messages[i];
		m->partition = batch->placed[i];
	}
	return true;
}

static void
flush_batch(ProduceBatch *batch, TimestampTz *last_progress, int64 *last_reports)
{
	KafkaProduceTarget *target = batch->target;

	if (batch->count == 0)
		return;
	if (group_by_partition(batch))
	{
		int			start = 0;
		int			p;

		batch->ngrouped += batch->count;
		for (p = 0; p < target->partition_count; p++)
		{
			int			end = target->partition_ends[p];

			if (end > start)
				produce_run(target, p, &batch->grouped[start], end - start,
							last_progress, last_reports);
			start = end;
		}
	}
	else
		produce_run(target, RD_KAFKA_PARTITION_UA, batch->messages, batch->count,
					last_progress, last_reports);
	batch->count = 0;
}

static void
add_to_batch(ProduceBatch *batch, KafkaProduceTarget *target,
			 const KafkaMessageData *message, TimestampTz *last_progress,
			 int64 *last_reports)
{
	rd_kafka_message_t *m;
	int			i;

	if (batch->target != target || batch->count == PRODUCE_BATCH_SIZE)
	{
		flush_batch(batch, last_progress, last_reports);
		batch->target = target;
	}
	i = batch->count++;
	m = &batch->messages[i];
	memset(m, 0, sizeof(rd_kafka_message_t));
	m->partition = message->partition >= 0 ? message->partition : RD_KAFKA_PARTITION_UA;
	m->_private = target;
	if (message->key)
	{
		m->key = (void *) message->key;
		m->key_len = message->key_len;
	}
	if (message->value)
	{
		m->payload = (void *) message->value;
		m->len = message->value_len;
	}
}

static void
produce_one(KafkaProduceTarget *target, const KafkaMessageData *message,
			TimestampTz *last_progress, int64 *last_reports)
{
	ProducerEntry *entry = target->producer;
	rd_kafka_headers_t *volatile headers = NULL;
	rd_kafka_resp_err_t err;
	int			i;

	if (message->nheaders > 0)
	{
		headers = rd_kafka_headers_new(message->nheaders);
		for (i = 0; i < message->nheaders; i++)
			rd_kafka_header_add(headers, message->headers[i].name,
								message->headers[i].name_len,
								message->headers[i].value,
								message->headers[i].value ? message->headers[i].value_len : 0);
	}
	for (;;)
	{
		err = rd_kafka_producev(entry->client->rk,
								RD_KAFKA_V_RKT(target->rkt),
								RD_KAFKA_V_PARTITION(message->partition >= 0 ? message->partition : RD_KAFKA_PARTITION_UA),
								RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
								RD_KAFKA_V_KEY(message->key, message->key ? message->key_len : 0),
								RD_KAFKA_V_VALUE((void *) message->value, message->value ? message->value_len : 0),
								RD_KAFKA_V_TIMESTAMP(message->timestamp_ms),
								RD_KAFKA_V_HEADERS(headers),
								RD_KAFKA_V_OPAQUE(target),
								RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;

		/* librdkafka's queue is full: wait for delivery reports to free it */
		PG_TRY();
		{
			wait_for_queue_space(target, last_progress, last_reports);
		}
		PG_CATCH();
		{
			if (headers)
				rd_kafka_headers_destroy(headers);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		if (headers)
			rd_kafka_headers_destroy(headers);
		report_produce_error(target, message->partition, err);
	}
	target->produced++;
	entry->outstanding++;
}

/*
 * The partition counts group_by_partition needs, for the topics with many
 * messages: one metadata request each.  Without an answer in time the
 * messages are handed over ungrouped, and librdkafka reports what is wrong.
 * true if any was learned.
 */
#define GROUPED_MESSAGES_MIN	4096
#define PARTITION_LOOKUP_TIMEOUT_MS 1000

static bool
learn_partition_counts(void)
{
	bool		learned = false;
	int			i;

	for (i = 0; i < xact_ntargets; i++)
	{
		KafkaProduceTarget *target = xact_targets[i];
		KafkaClient *client = target->producer->client;
		int			count;

		if (target->appended < GROUPED_MESSAGES_MIN || target->producer->partitioner == NULL)
			continue;
		count = kafka_client_partition_count(client, target->rkt,
											 Min(PARTITION_LOOKUP_TIMEOUT_MS,
												 client->spec->connect_timeout_ms));
		if (count <= 0)
			continue;
		target->partition_count = count;
		target->partition_ends = MemoryContextAlloc(xact_cxt, sizeof(int) * (count + 1));
		learned = true;
	}
	return learned;
}

/* Hand every held message to librdkafka and wait for all reports. */
static void
deliver_held_messages(void)
{
	KafkaMessageData message;
	ProduceBatch *batch = palloc0(sizeof(ProduceBatch));
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz last_progress = start;
	TimestampTz handed_over;
	int64		last_reports = 0;
	int64		n = 0;
	int64		grouped;
	int			i;

	if (learn_partition_counts())
	{
		batch->placed = palloc(sizeof(int32) * PRODUCE_BATCH_SIZE);
		batch->grouped = palloc(sizeof(rd_kafka_message_t) * PRODUCE_BATCH_SIZE);
	}
	kafka_message_buffer_rewind(xact_buffer);
	for (;;)
	{
		KafkaProduceTarget *target;

		/* the batch points into the buffer: hand it over before a refill */
		if (kafka_message_buffer_next_refills(xact_buffer))
			flush_batch(batch, &last_progress, &last_reports);
		if (!kafka_message_buffer_next(xact_buffer, &message))
			break;
		target = xact_targets[message.target];

		if (message.nheaders == 0 && message.timestamp_ms == 0)
			add_to_batch(batch, target, &message, &last_progress, &last_reports);
		else
		{
			/* keep the order: what is batched goes first */
			flush_batch(batch, &last_progress, &last_reports);
			produce_one(target, &message, &last_progress, &last_reports);
		}
		if ((++n & 4095) == 0)
		{
			poll_producers();
			CHECK_FOR_INTERRUPTS();
		}
	}
	flush_batch(batch, &last_progress, &last_reports);
	grouped = batch->ngrouped;
	if (batch->grouped)
	{
		pfree(batch->placed);
		pfree(batch->grouped);
	}
	pfree(batch);
	handed_over = GetCurrentTimestamp();

	for (;;)
	{
		KafkaProduceTarget *waiting = NULL;
		int64		reports;

		for (i = 0; i < xact_ntargets; i++)
		{
			KafkaProduceTarget *target = xact_targets[i];

			if (target->produced > target->delivered + target->failed)
			{
				waiting = target;
				break;
			}
		}
		if (waiting == NULL)
			break;
		kafka_client_wait_events(waiting->producer->client, xact_ntargets > 1 ? 10 : 100);
		poll_producers();
		reports = reports_received();
		if (reports != last_reports)
		{
			last_reports = reports;
			last_progress = GetCurrentTimestamp();
		}
		check_stalled(waiting, last_progress);
	}
	check_failures();
	ereport(DEBUG1,
			(errmsg_internal("delivered %lld kafka messages (%lld grouped by partition): %.1f ms to hand over, %.1f ms in all",
							 (long long) n, (long long) grouped,
							 (double) (handed_over - start) / 1000.0,
							 (double) (GetCurrentTimestamp() - start) / 1000.0)));
}

/* Forget the transaction's state; producers with undelivered messages go. */
static void
reset_transaction(bool discard_undelivered)
{
	ListCell   *lc;
	List	   *doomed = NIL;

	foreach(lc, producers)
	{
		ProducerEntry *entry = lfirst(lc);

		if (entry->in_use && entry->outstanding != 0 && discard_undelivered)
			doomed = lappend(doomed, entry);
		entry->in_use = false;
	}
	foreach(lc, doomed)
		producer_destroy(lfirst(lc));
	list_free(doomed);
	/* its writer thread stops before the memory it writes from goes */
	if (xact_buffer != NULL)
		kafka_message_buffer_discard(xact_buffer);
	/* xact_cxt goes with TopTransactionContext; the file with its owner */
	xact_cxt = NULL;
	xact_buffer = NULL;
	xact_targets = NULL;
	xact_ntargets = 0;
	xact_maxtargets = 0;
	xact_generation++;
}

static void
producer_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (xact_buffer != NULL)
			{
				if (kafka_message_buffer_count(xact_buffer) > 0)
					deliver_held_messages();
				/* also when a rollback to a savepoint emptied a spilled log */
				kafka_message_buffer_close(xact_buffer);
			}
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (xact_buffer != NULL && kafka_message_buffer_count(xact_buffer) > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that produced kafka messages"),
						 errdetail_plural("The transaction holds %lld message, which would only be delivered at commit.",
										  "The transaction holds %lld messages, which would only be delivered at commit.",
										  (unsigned long) kafka_message_buffer_count(xact_buffer),
										  (long long) kafka_message_buffer_count(xact_buffer)),
						 errhint("Commit the transaction instead, or produce the messages in a transaction that is not prepared.")));
			break;
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			reset_transaction(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			reset_transaction(true);
			break;
	}
}

static void
producer_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && xact_buffer != NULL)
		kafka_message_buffer_abort_sub(xact_buffer, mySubid);
}
