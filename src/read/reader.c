/*-------------------------------------------------------------------------
 *
 * reader.c
 *	  Bounded, repeatable reads of Kafka partition ranges.
 *
 * End offsets are fixed when a read starts, from the partitions' last stable
 * offsets (consumers read committed records only, so librdkafka's ListOffsets
 * answers the LSO).  A partition is finished by its position, not by the last
 * record seen: records a real broker filters out (aborted transactions) and
 * transaction markers leave gaps, so a partition also ends when librdkafka
 * reports end-of-partition at or past the end offset.  A read never ends on
 * a timeout; it waits (cancellably) for the records it promised to return.
 *
 * The consumer is librdkafka's simple (partition-assigned) consumer: no
 * consumer group, no offset commits; offsets are ours.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "miscadmin.h"
#include "regex/regex.h"
#include "storage/pmsignal.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "read/reader.h"

#define READER_BATCH_SIZE 4096
/* Between wakes of idle fetchers while records flow (see reader.h). */
#define READER_WAKE_MS 50

/*
 * A gap between seek ranges at least this long is skipped with a seek; a
 * shorter one is cheaper to fetch through than to refetch after a seek.
 */
#define READER_SEEK_GAP 2048

/* Per topic: its ranges indexed by partition number. */
typedef struct TopicRanges
{
	const char *name;
	rd_kafka_topic_t *rkt;
	int			partition_count;	/* size of by_partition */
	KafkaPartitionRange **by_partition;
} TopicRanges;

struct KafkaReader
{
	MemoryContextCallback callback; /* frees unreturned messages on ERROR */
	KafkaClient *client;
	rd_kafka_queue_t *queue;
	List	   *ranges;
	TopicRanges *topics;
	int			topic_count;
	int			remaining;		/* ranges not done */
	bool		fail_on_data_loss;
	rd_kafka_message_t **batch;
	int			batch_count;
	int			batch_pos;
	rd_kafka_topic_partition_list_t *started;	/* for waking fetchers */
	TimestampTz last_wake;
	int			wake_interval_ms;	/* between wakes of idle fetchers */
	TimestampTz last_full;		/* the last pull that filled a batch */
	/* kafka_reader_retain: used fetch batches kept until released */
	bool		retain;
	rd_kafka_message_t **retained;
	int			retained_count;
	int			retained_size;
};

static int
compare_ranges(const ListCell *a, const ListCell *b)
{
	KafkaPartitionRange *ra = lfirst(a);
	KafkaPartitionRange *rb = lfirst(b);
	int			c = strcmp(ra->topic, rb->topic);

	if (c != 0)
		return c;
	return (ra->partition > rb->partition) - (ra->partition < rb->partition);
}

static KafkaPartitionRange *
new_range(const char *topic, int32 partition)
{
	KafkaPartitionRange *r = palloc0(sizeof(KafkaPartitionRange));

	r->topic = pstrdup(topic);
	r->partition = partition;
	r->start_offset = KAFKA_OFFSET_EARLIEST;
	r->end_offset = KAFKA_OFFSET_LATEST;
	r->start_timestamp = -1;
	r->end_timestamp = -1;
	r->topic_datum = CStringGetTextDatum(topic);
	r->lost_from = -1;
	r->lost_to = -1;
	return r;
}

static const struct rd_kafka_metadata_topic *
find_topic(const struct rd_kafka_metadata *md, const char *topic)
{
	int			i;

	for (i = 0; i < md->topic_cnt; i++)
		if (strcmp(md->topics[i].topic, topic) == 0)
			return &md->topics[i];
	return NULL;
}

static const struct rd_kafka_metadata_topic *
require_topic(const struct rd_kafka_metadata *md, const char *topic,
			  const char *option_name)
{
	const struct rd_kafka_metadata_topic *t = find_topic(md, topic);

	if (t == NULL || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
		t->partition_cnt == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", topic),
				 errcontext("%s", option_name)));
	return t;
}

static bool
topic_has_partition(const struct rd_kafka_metadata_topic *t, int32 partition)
{
	int			i;

	for (i = 0; i < t->partition_cnt; i++)
		if (t->partitions[i].id == partition)
			return true;
	return false;
}

static List *
add_topic_ranges(List *ranges, const struct rd_kafka_metadata_topic *t)
{
	int			i;

	for (i = 0; i < t->partition_cnt; i++)
		ranges = lappend(ranges, new_range(t->topic, t->partitions[i].id));
	return ranges;
}

List *
kafka_source_partitions(KafkaClient *client, KafkaSourceKind kind,
						const char *source_text, const char *option_name)
{
	const struct rd_kafka_metadata *md = kafka_client_metadata(client);
	List	   *ranges = NIL;

	PG_TRY();
	{
		switch (kind)
		{
			case KAFKA_SOURCE_SUBSCRIBE:
				{
					char	   *copy = pstrdup(source_text);
					char	   *item = copy;
					List	   *seen = NIL;

					for (;;)
					{
						char	   *comma = strchr(item, ',');
						char	   *topic = item;
						char	   *end;

						if (comma)
							*comma = '\0';
						while (*topic == ' ')
							topic++;
						end = topic + strlen(topic);
						while (end > topic && end[-1] == ' ')
							*--end = '\0';
						if (*topic == '\0')
							ereport(ERROR,
									(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
									 errmsg("invalid value for %s: empty topic name", option_name),
									 errhint("Give a comma-separated list of topic names.")));
						if (!list_member(seen, makeString(topic)))
						{
							seen = lappend(seen, makeString(topic));
							ranges = add_topic_ranges(ranges, require_topic(md, topic, option_name));
						}
						if (comma == NULL)
							break;
						item = comma + 1;
					}
					break;
				}
			case KAFKA_SOURCE_PATTERN:
				{
					text	   *pattern = cstring_to_text(psprintf("^(?:%s)$", source_text));
					int			i;

					for (i = 0; i < md->topic_cnt; i++)
					{
						const char *name = md->topics[i].topic;

						/* internal topics, as Kafka's pattern subscriptions do */
						if (strncmp(name, "__", 2) == 0 || md->topics[i].partition_cnt == 0)
							continue;
						if (RE_compile_and_execute(pattern, (char *) name, strlen(name),
												   REG_ADVANCED, C_COLLATION_OID, 0, NULL))
							ranges = add_topic_ranges(ranges, &md->topics[i]);
					}
					if (ranges == NIL)
						ereport(NOTICE,
								(errmsg("no topic matches %s \"%s\"", option_name, source_text)));
					break;
				}
			case KAFKA_SOURCE_ASSIGN:
				{
					KafkaOffsetSpec spec;
					char		err[256];
					size_t		i;

					if (!kafka_parse_assign_spec(source_text, &spec, err, sizeof(err)))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid value for %s: %s", option_name, err),
								 errhint("Expected a JSON object such as {\"topic\":[0,1]}.")));
					for (i = 0; i < spec.count; i++)
					{
						const struct rd_kafka_metadata_topic *t =
							require_topic(md, spec.entries[i].topic, option_name);

						if (!topic_has_partition(t, spec.entries[i].partition))
						{
							int32		p = spec.entries[i].partition;
							char	   *name = pstrdup(t->topic);
							int			count = t->partition_cnt;

							kafka_offset_spec_free(&spec);
							ereport(ERROR,
									(errcode(ERRCODE_UNDEFINED_OBJECT),
									 errmsg("partition %d of topic \"%s\" does not exist", p, name),
									 errdetail("The topic has %d partitions.", count),
									 errcontext("%s", option_name)));
						}
						ranges = lappend(ranges, new_range(t->topic, spec.entries[i].partition));
					}
					kafka_offset_spec_free(&spec);
					break;
				}
		}
	}
	PG_FINALLY();
	{
		rd_kafka_metadata_destroy(md);
	}
	PG_END_TRY();

	list_sort(ranges, compare_ranges);
	return ranges;
}

static rd_kafka_topic_partition_list_t *
partition_list(List *ranges)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(list_length(ranges));
	ListCell   *lc;

	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		rd_kafka_topic_partition_list_add(list, r->topic, r->partition);
	}
	return list;
}

void
kafka_ranges_apply_offsets(List *ranges, const char *text, bool is_start, const char *option_name)
{
	KafkaOffsetSpec spec;
	char		err[256];
	ListCell   *lc;
	size_t		i;

	if (!kafka_parse_offset_spec(text, true, false, &spec, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for %s: %s", option_name, err),
				 errhint("Use \"earliest\", \"latest\" or JSON such as {\"topic\":{\"0\":23,\"1\":-2}} (-2 earliest, -1 latest).")));

	/* every named partition must be part of the read */
	for (i = 0; i < spec.count; i++)
	{
		bool		found = false;

		foreach(lc, ranges)
		{
			KafkaPartitionRange *r = lfirst(lc);

			if (r->partition == spec.entries[i].partition &&
				strcmp(r->topic, spec.entries[i].topic) == 0)
				found = true;
		}
		if (!found)
		{
			char	   *topic = pstrdup(spec.entries[i].topic);
			int32		partition = spec.entries[i].partition;

			kafka_offset_spec_free(&spec);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s names %s[%d], which is not being read", option_name, topic, partition)));
		}
	}

	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);
		int64		value;

		if (spec.kind == KAFKA_SPEC_EARLIEST)
			value = KAFKA_OFFSET_EARLIEST;
		else if (spec.kind == KAFKA_SPEC_LATEST)
			value = KAFKA_OFFSET_LATEST;
		else
		{
			const KafkaOffsetSpecEntry *e = kafka_offset_spec_find(&spec, r->topic, r->partition);

			if (e == NULL)
				value = is_start ? KAFKA_OFFSET_EARLIEST : KAFKA_OFFSET_LATEST;
			else
				value = e->value;
		}
		if (is_start)
			r->start_offset = value;
		else
		{
			if (value == KAFKA_OFFSET_EARLIEST)
			{
				kafka_offset_spec_free(&spec);
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for %s: earliest (-2) cannot be an ending offset", option_name)));
			}
			r->end_offset = value;
		}
	}
	kafka_offset_spec_free(&spec);
}

/*
 * offsets-for-times over every range; "when" gives each range's timestamp
 * (-2 earliest, -1 latest, or ms).  Results land in out[].
 */
static void
lookup_offsets(KafkaClient *client, List *ranges, int64 (*when) (KafkaPartitionRange *),
			   int64 *out)
{
	rd_kafka_topic_partition_list_t *volatile list = partition_list(ranges);
	ListCell   *lc;
	int			i = 0;

	PG_TRY();
	{
		foreach(lc, ranges)
			list->elems[i++].offset = when(lfirst(lc));
		kafka_client_offsets_for_times(client, list);
		for (i = 0; i < list->cnt; i++)
		{
			if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("could not look up offsets of %s[%d]: %s",
								list->elems[i].topic, list->elems[i].partition,
								rd_kafka_err2str(list->elems[i].err))));
			out[i] = list->elems[i].offset;
		}
	}
	PG_FINALLY();
	{
		rd_kafka_topic_partition_list_destroy(list);
	}
	PG_END_TRY();
}

static int64
when_earliest(KafkaPartitionRange *r)
{
	return KAFKA_OFFSET_EARLIEST;
}

static int64
when_latest(KafkaPartitionRange *r)
{
	return KAFKA_OFFSET_LATEST;
}

static int64
when_start(KafkaPartitionRange *r)
{
	return r->start_timestamp >= 0 ? r->start_timestamp : KAFKA_OFFSET_LATEST;
}

static int64
when_end(KafkaPartitionRange *r)
{
	return r->end_timestamp >= 0 ? r->end_timestamp : KAFKA_OFFSET_LATEST;
}

static int64 lookup_timestamp;

static int64
when_lookup_timestamp(KafkaPartitionRange *r)
{
	return lookup_timestamp;
}

void
kafka_ranges_offsets_for_time(KafkaClient *client, List *ranges,
							  int64 timestamp_ms, int64 *out)
{
	ListCell   *lc;
	int			i = 0;

	if (ranges == NIL)
		return;
	lookup_timestamp = timestamp_ms;
	lookup_offsets(client, ranges, when_lookup_timestamp, out);
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		out[i] = kafka_resolve_timestamp_offset(out[i], r->low_watermark,
												r->high_watermark);
		i++;
	}
}

static void
report_data_loss(KafkaPartitionRange *r, int64 from, int64 low, bool fail)
{
	if (!fail)
	{
		/* remember the skipped range for callers that record it */
		if (r->lost_from < 0 || from < r->lost_from)
			r->lost_from = from;
		if (low - 1 > r->lost_to)
			r->lost_to = low - 1;
	}
	if (fail)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("offsets " INT64_FORMAT " to " INT64_FORMAT " of %s[%d] are no longer available",
						from, low - 1, r->topic, r->partition),
				 errdetail("The earliest available offset is " INT64_FORMAT "; older records were deleted by retention.", low),
				 errhint("Use failOnDataLoss => false to skip the lost records and continue from the earliest available offset; for a streaming table: SELECT kafka.alter_streaming_table('<table>', fail_on_data_loss => false), then kafka.resume_streaming_table('<table>').")));
	ereport(WARNING,
			(errmsg("skipped offsets " INT64_FORMAT " to " INT64_FORMAT " of %s[%d]: no longer available",
					from, low - 1, r->topic, r->partition)));
}

void
kafka_resolve_ranges(KafkaClient *client, List *ranges, bool fail_on_data_loss)
{
	int			n = list_length(ranges);
	int64	   *low;
	int64	   *high;
	int64	   *by_time = NULL;
	bool		any_start_time = false;
	bool		any_end_time = false;
	ListCell   *lc;
	int			i;

	if (n == 0)
		return;
	low = palloc(sizeof(int64) * n);
	high = palloc(sizeof(int64) * n);
	lookup_offsets(client, ranges, when_earliest, low);
	lookup_offsets(client, ranges, when_latest, high);

	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		any_start_time |= r->start_timestamp >= 0;
		any_end_time |= r->end_timestamp >= 0;
	}

	i = 0;
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);
		bool		loss;

		r->low_watermark = low[i];
		r->high_watermark = high[i];
		if (r->start_timestamp < 0)
		{
			int64		requested = r->start_offset;

			r->start_offset = kafka_resolve_start_offset(requested, low[i], high[i], &loss);
			if (loss)
				report_data_loss(r, requested, low[i], fail_on_data_loss);
			r->start_beyond_end = requested > high[i];
			r->requested_start = requested;
		}
		if (r->end_timestamp < 0)
			r->end_offset = kafka_resolve_end_offset(r->end_offset, low[i], high[i]);
		i++;
	}

	if (any_start_time || any_end_time)
		by_time = palloc(sizeof(int64) * n);
	if (any_start_time)
	{
		lookup_offsets(client, ranges, when_start, by_time);
		i = 0;
		foreach(lc, ranges)
		{
			KafkaPartitionRange *r = lfirst(lc);

			if (r->start_timestamp >= 0)
				r->start_offset = kafka_resolve_timestamp_offset(by_time[i], low[i], high[i]);
			i++;
		}
	}
	if (any_end_time)
	{
		lookup_offsets(client, ranges, when_end, by_time);
		i = 0;
		foreach(lc, ranges)
		{
			KafkaPartitionRange *r = lfirst(lc);

			if (r->end_timestamp >= 0)
				r->end_offset = kafka_resolve_timestamp_offset(by_time[i], low[i], high[i]);
			i++;
		}
	}

	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		r->next_offset = r->start_offset;
		r->done = r->start_offset >= r->end_offset;
	}
}

/* How many partitions the NOTICE names before "and N more". */
#define BEYOND_END_LISTED 5

void
kafka_ranges_notice_beyond_end(List *ranges, const char *option_name)
{
	StringInfoData list;
	ListCell   *lc;
	int			count = 0;

	initStringInfo(&list);
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		if (!r->start_beyond_end)
			continue;
		if (++count <= BEYOND_END_LISTED)
			appendStringInfo(&list, "%s%s[%d] (offset " INT64_FORMAT ", high watermark " INT64_FORMAT ")",
							 count == 1 ? "" : ", ", r->topic, r->partition,
							 r->requested_start, r->high_watermark);
	}
	if (count == 0)
		return;
	if (count > BEYOND_END_LISTED)
		appendStringInfo(&list, " and %d more", count - BEYOND_END_LISTED);
	ereport(NOTICE,
			(errmsg_plural("%s starts beyond the end of %d partition, which returns no records: %s",
						   "%s starts beyond the end of %d partitions, which return no records: %s",
						   count, option_name, count, list.data),
			 errhint("The high watermark is the offset the next record written to the partition will get.")));
	pfree(list.data);
}

/*
 * Every partition's fetch queue is forwarded into the reader's one queue, and
 * librdkafka applies the queued.* thresholds to the queue a partition forwards
 * to: so these bound the whole read, whatever the number of partitions.  The
 * message count matters as much as the bytes: each queued record costs a few
 * hundred bytes of bookkeeping beyond its payload.  Measured on the loopback
 * broker, 1M 80-byte records: 16k records queued -> 16 s, 200k -> 1.1 s,
 * 1M -> 0.4 s at twice the memory.
 */
void
kafka_spec_bound_fetch_memory(KafkaConnectionSpec *spec, int partitions)
{
	/* what the user set wins; the policy already bounded it */
	if (kafka_spec_get_property(spec, "queued.max.messages.kbytes") == NULL)
		kafka_spec_set_property(spec, "queued.max.messages.kbytes", "32768");
	if (kafka_spec_get_property(spec, "queued.min.messages") == NULL)
		kafka_spec_set_property(spec, "queued.min.messages", "200000");
	if (kafka_spec_get_property(spec, "fetch.message.max.bytes") == NULL &&
		kafka_spec_get_property(spec, "max.partition.fetch.bytes") == NULL)
		kafka_spec_set_property(spec, "fetch.message.max.bytes", "1048576");
	if (kafka_spec_get_property(spec, "fetch.max.bytes") == NULL)
		kafka_spec_set_property(spec, "fetch.max.bytes", "16777216");
}

static KafkaPartitionRange *
lookup_range(KafkaReader *reader, rd_kafka_message_t *msg)
{
	const char *name = rd_kafka_topic_name(msg->rkt);
	int			i;

	for (i = 0; i < reader->topic_count; i++)
	{
		TopicRanges *t = &reader->topics[i];

		if (t->rkt == msg->rkt || strcmp(t->name, name) == 0)
		{
			if (msg->partition < 0 || msg->partition >= t->partition_count)
				return NULL;
			return t->by_partition[msg->partition];
		}
	}
	return NULL;
}

static void
mark_done(KafkaReader *reader, KafkaPartitionRange *range)
{
	if (!range->done)
	{
		range->done = true;
		reader->remaining--;
	}
}

static void free_batch(KafkaReader *reader);
static void free_retained(KafkaReader *reader);

static void
reader_context_callback(void *arg)
{
	KafkaReader *reader = (KafkaReader *) arg;

	reader->retain = false;
	free_batch(reader);
	free_retained(reader);
	if (reader->started)
		rd_kafka_topic_partition_list_destroy(reader->started);
	reader->started = NULL;
}

KafkaReader *
kafka_reader_start(KafkaClient *client, List *ranges, bool fail_on_data_loss)
{
	KafkaReader *reader = palloc0(sizeof(KafkaReader));
	ListCell   *lc;
	int			i;

	reader->client = client;
	reader->ranges = ranges;
	reader->fail_on_data_loss = fail_on_data_loss;
	reader->wake_interval_ms = READER_WAKE_MS;
	reader->batch = palloc(sizeof(rd_kafka_message_t *) * READER_BATCH_SIZE);

	/*
	 * Messages pin their broker: they must be freed before the client is
	 * torn down.  Context callbacks run last-registered first, and the
	 * client was created before us in the same or an outer context.
	 */
	reader->callback.func = reader_context_callback;
	reader->callback.arg = reader;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &reader->callback);
	reader->topics = palloc0(sizeof(TopicRanges) * Max(list_length(ranges), 1));

	/* index ranges by topic and partition */
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);
		TopicRanges *t = NULL;

		for (i = 0; i < reader->topic_count; i++)
			if (strcmp(reader->topics[i].name, r->topic) == 0)
				t = &reader->topics[i];
		if (t == NULL)
		{
			t = &reader->topics[reader->topic_count++];
			t->name = r->topic;
		}
		if (r->partition >= t->partition_count)
		{
			int			newcount = r->partition + 1;

			if (t->by_partition == NULL)
				t->by_partition = palloc0(sizeof(KafkaPartitionRange *) * newcount);
			else
			{
				t->by_partition = repalloc(t->by_partition, sizeof(KafkaPartitionRange *) * newcount);
				memset(t->by_partition + t->partition_count, 0,
					   sizeof(KafkaPartitionRange *) * (newcount - t->partition_count));
			}
			t->partition_count = newcount;
		}
		t->by_partition[r->partition] = r;
		if (!r->done)
			reader->remaining++;
	}
	if (reader->remaining == 0)
		return reader;

	reader->queue = kafka_client_new_queue(client);
	for (i = 0; i < reader->topic_count; i++)
		reader->topics[i].rkt = kafka_client_topic(client, reader->topics[i].name);

	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		if (r->done)
			continue;
		for (i = 0; i < reader->topic_count; i++)
			if (strcmp(reader->topics[i].name, r->topic) == 0)
				r->rkt = reader->topics[i].rkt;
		kafka_client_consume_start(client, r->rkt, r->partition, r->next_offset,
								   reader->queue);
		r->started = true;
		if (reader->started == NULL)
			reader->started = rd_kafka_topic_partition_list_new(reader->remaining);
		rd_kafka_topic_partition_list_add(reader->started, r->topic, r->partition);
	}
	return reader;
}

static void
free_batch(KafkaReader *reader)
{
	int			i;

	if (reader->retain && reader->batch_count > 0)
	{
		/* keep them: the caller still holds some (kafka_reader_retain) */
		if (reader->retained_count + reader->batch_count > reader->retained_size)
		{
			int			size = Max(reader->retained_size * 2,
								   reader->retained_count + reader->batch_count);

			if (reader->retained == NULL)
				reader->retained = MemoryContextAlloc(GetMemoryChunkContext(reader),
													  sizeof(rd_kafka_message_t *) * size);
			else
				reader->retained = repalloc(reader->retained, sizeof(rd_kafka_message_t *) * size);
			reader->retained_size = size;
		}
		/* messages taken by the caller (kafka_reader_take) are theirs */
		for (i = 0; i < reader->batch_count; i++)
			if (reader->batch[i] != NULL)
				reader->retained[reader->retained_count++] = reader->batch[i];
	}
	else
	{
		for (i = 0; i < reader->batch_count; i++)
			if (reader->batch[i] != NULL)
				rd_kafka_message_destroy(reader->batch[i]);
	}
	reader->batch_count = 0;
	reader->batch_pos = 0;
}

static void
free_retained(KafkaReader *reader)
{
	int			i;

	for (i = 0; i < reader->retained_count; i++)
		rd_kafka_message_destroy(reader->retained[i]);
	reader->retained_count = 0;
}

void
kafka_reader_retain(KafkaReader *reader, bool retain)
{
	reader->retain = retain;
}

void
kafka_reader_release(KafkaReader *reader)
{
	free_retained(reader);
}

/* Records of a range aged out while we were reading it. */
static void
handle_lost_records(KafkaReader *reader, KafkaPartitionRange *range)
{
	int64		low;
	List	   *one = list_make1(range);

	lookup_offsets(reader->client, one, when_earliest, &low);
	list_free(one);
	if (low <= range->next_offset)
		return;					/* a transient answer; the fetcher retries */
	report_data_loss(range, range->next_offset, low, reader->fail_on_data_loss);
	range->next_offset = low;
	if (range->next_offset >= range->end_offset)
	{
		mark_done(reader, range);
		return;
	}
	if (rd_kafka_seek(range->rkt, range->partition, low, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
		kafka_client_error(reader->client, rd_kafka_last_error(), "skipping lost records");
}

/*
 * With seek ranges: is offset inside the current segment?  Moving into a
 * gap, position at the next segment, seeking when the gap is long.
 */
static bool
in_segment(KafkaReader *reader, KafkaPartitionRange *range, int64 offset)
{
	KafkaOffsetSegment *seg;

	while (range->segment < range->nsegments - 1 &&
		   offset >= range->segments[range->segment].end)
		range->segment++;
	seg = &range->segments[range->segment];
	if (offset >= seg->start)
		return true;
	range->next_offset = seg->start;
	if (seg->start - offset >= READER_SEEK_GAP && range->sought_segment < range->segment)
	{
		range->sought_segment = range->segment;
		if (rd_kafka_seek(range->rkt, range->partition, seg->start, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
			kafka_client_error(reader->client, rd_kafka_last_error(), "seeking");
	}
	return false;
}

static void
handle_event(KafkaReader *reader, KafkaPartitionRange *range, rd_kafka_message_t *msg)
{
	switch (msg->err)
	{
		case RD_KAFKA_RESP_ERR__PARTITION_EOF:
			/* the fetch position passed the end: markers or filtered records */
			if (msg->offset >= range->end_offset)
				mark_done(reader, range);
			break;
		case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
		case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
			handle_lost_records(reader, range);
			break;
		case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
		case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
		case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("%s[%d] disappeared while it was being read: %s",
							range->topic, range->partition, rd_kafka_err2str(msg->err))));
			break;
		default:
			/* transient (broker down, leader change): librdkafka retries */
			strlcpy(reader->client->last_error, rd_kafka_err2str(msg->err),
					sizeof(reader->client->last_error));
			ereport(DEBUG1,
					(errmsg_internal("kafka fetch of %s[%d]: %s", range->topic, range->partition,
									 rd_kafka_err2str(msg->err))));
			break;
	}
}

rd_kafka_message_t *
kafka_reader_next(KafkaReader *reader, KafkaPartitionRange **range_out)
{
	return kafka_reader_next_wait(reader, range_out, -1, NULL);
}

void
kafka_reader_set_wake_interval(KafkaReader *reader, int interval_ms)
{
	reader->wake_interval_ms = interval_ms;
}

void
kafka_reader_take(KafkaReader *reader)
{
	Assert(reader->batch_pos > 0);
	reader->batch[reader->batch_pos - 1] = NULL;
}

rd_kafka_message_t *
kafka_reader_next_wait(KafkaReader *reader, KafkaPartitionRange **range_out,
					   int timeout_ms, bool *timed_out)
{
	TimestampTz wait_start = 0;

	if (timed_out)
		*timed_out = false;
	for (;;)
	{
		ssize_t		n;

		while (reader->batch_pos < reader->batch_count)
		{
			rd_kafka_message_t *msg = reader->batch[reader->batch_pos++];
			KafkaPartitionRange *range = msg ? lookup_range(reader, msg) : NULL;

			if (msg == NULL || range == NULL || range->done)
				continue;
			if (msg->err)
			{
				handle_event(reader, range, msg);
				continue;
			}
			if (msg->offset < range->next_offset)
				continue;		/* already returned (after a seek) */
			if (msg->offset >= range->end_offset)
			{
				mark_done(reader, range);
				continue;
			}
			if (range->nsegments > 1 && !in_segment(reader, range, msg->offset))
				continue;
			range->next_offset = msg->offset + 1;
			if (range->next_offset >= range->end_offset)
				mark_done(reader, range);
			*range_out = range;
			return msg;
		}
		free_batch(reader);
		if (reader->remaining == 0)
			return NULL;

		CHECK_FOR_INTERRUPTS();
		n = rd_kafka_consume_batch_queue(reader->queue, 0, reader->batch, READER_BATCH_SIZE);
		if (n == 0)
		{
			rd_kafka_message_t *msg;

			kafka_client_poll_events(reader->client);
			/* a wait that no latch covers: notice a dead postmaster here */
			if (!PostmasterIsAlive())
				ereport(FATAL,
						(errcode(ERRCODE_ADMIN_SHUTDOWN),
						 errmsg("terminating a kafka read because the postmaster died")));

			/*
			 * The queue ran dry: make sure the fetchers are not idling.  Soon
			 * after a pull that filled a whole batch (a backlog being
			 * drained, whose fetchers librdkafka parks whenever the queue is
			 * full) at the default pace; otherwise at the read's own (a wake
			 * costs a request per leader, which slows a steady trickle).
			 */
			if (reader->started &&
				TimestampDifferenceExceeds(reader->last_wake, GetCurrentTimestamp(),
										   TimestampDifferenceExceeds(reader->last_full,
																	  GetCurrentTimestamp(),
																	  reader->wake_interval_ms) ?
										   reader->wake_interval_ms : READER_WAKE_MS))
			{
				kafka_client_wake_fetchers(reader->client, reader->started);
				reader->last_wake = GetCurrentTimestamp();
			}
			if (timeout_ms >= 0)
			{
				if (wait_start == 0)
					wait_start = GetCurrentTimestamp();
				else if (TimestampDifferenceExceeds(wait_start, GetCurrentTimestamp(),
													timeout_ms))
				{
					*timed_out = true;
					return NULL;
				}
			}
			/* block at most one slice for the first record, then scoop */
			msg = rd_kafka_consume_queue(reader->queue,
										 timeout_ms >= 0 ? Min(timeout_ms, 100) : 100);
			if (msg == NULL)
				continue;
			reader->batch[0] = msg;
			n = 1 + rd_kafka_consume_batch_queue(reader->queue, 0, reader->batch + 1,
												 READER_BATCH_SIZE - 1);
			if (n < 1)
				n = 1;
		}
		else if (n < 0)
			kafka_client_error(reader->client, rd_kafka_last_error(), "consuming");
		reader->batch_count = (int) n;
		reader->batch_pos = 0;
		if (n >= READER_BATCH_SIZE)
			reader->last_full = GetCurrentTimestamp();
	}
}

void
kafka_reader_stop(KafkaReader *reader)
{
	reader->retain = false;
	free_batch(reader);
	free_retained(reader);
}

char *
kafka_ranges_describe(List *ranges, int max_items)
{
	StringInfoData buf;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&buf);
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		if (i == max_items)
		{
			appendStringInfo(&buf, ", ... (%d more)", list_length(ranges) - i);
			break;
		}
		if (i++ > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "%s[%d]", r->topic, r->partition);
		if (r->nsegments > 1)
		{
			int			s;

			for (s = 0; s < r->nsegments; s++)
				appendStringInfo(&buf, "%s" INT64_FORMAT ".." INT64_FORMAT, s == 0 ? ": " : " ",
								 r->segments[s].start, r->segments[s].end);
		}
		else if (r->start_offset >= 0 && r->end_offset >= 0)
			appendStringInfo(&buf, ": " INT64_FORMAT ".." INT64_FORMAT, r->start_offset, r->end_offset);
	}
	return buf.data;
}
