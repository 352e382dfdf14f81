/*-------------------------------------------------------------------------
 *
 * kafka_target.c
 *	  Streams that end in Kafka: the target is a kafka foreign table, each
 *	  batch's rows are encoded as INSERT encodes them (produce/row_encoder.c)
 *	  and produced in one Kafka transaction together with the batch's input
 *	  offsets.
 *
 * The output (StreamOutput) lives as long as the ingest: one transactional
 * producer per stream, its transactional.id stable for the stream (the
 * cluster, the database and the target), so that initializing it at open
 * fences a previous incarnation (a killed worker) and aborts the
 * transaction it left open.  A batch:
 *
 *	 stream_output_begin   abort what a failed batch left, begin
 *	 put (target)		   encode, add the source header, produce
 *	 stream_output_commit  send the input offsets to the transaction (the
 *						   stream's consumer group), commit: the rows and
 *						   the offsets become visible together
 *	 then the PostgreSQL transaction commits the catalog's offsets.
 *
 * A crash between the two commits leaves the group ahead of the catalog:
 * stream_output_resume, at open, moves the catalog up to the group, so
 * nothing is produced twice.  The offsets carry the stream's creation and
 * the batch's number as metadata, so that only the batch after the
 * catalog's last counts (not offsets kafka.reset_offsets moved the catalog
 * away from, nor those of an earlier stream of the same name).  A crash
 * before the Kafka commit leaves an open transaction that the next open
 * aborts: read_committed consumers never see its records.
 *
 * A stream into a table with a dead-letter topic has an output too, for its
 * dead letters only: their transaction commits just before PostgreSQL's,
 * and a batch redone after a crash between the two does not produce them
 * again (stream_output_dead_letter).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "client.h"
#include "fdw/kafka_table.h"
#include "produce/row_encoder.h"
#include "stream/kafka_target.h"

/* The header naming each produced record's input record. */
#define SOURCE_HEADER "kafka_fdw.source"

/* Records produced between two servings of the delivery reports. */
#define POLL_EVERY_RECORDS 1000

/* Kafka's limit on a transaction's duration (the broker may cap it lower). */
#define TRANSACTION_TIMEOUT_MS 60000

/*
 * GUC kafka_fdw.test_faults, for the test suite only: a comma-separated
 * list of
 *	 mirror_group_offsets	 after each Kafka commit, commit the same group
 *							 offsets outside the transaction too (the test
 *							 broker acknowledges TxnOffsetCommit without
 *							 storing it; a real broker stores it)
 *	 crash_between_commits=FILE  if FILE exists and names the stream
 *							 (schema-qualified), remove it and SIGKILL the
 *							 process after the Kafka commit, before
 *							 PostgreSQL's
 */
static char *test_faults = "";

struct StreamOutput
{
	KafkaClient *client;
	KafkaTable *table;			/* the target foreign table, or NULL */
	KafkaTable *source;			/* for the source coordinates of transform rows */
	rd_kafka_topic_t *topic;	/* the target's, or NULL */
	rd_kafka_topic_t *dead_letter_topic;	/* or NULL */
	char	   *transactional_id;
	char	   *group;
	char	   *target_name;
	char	   *stamp;			/* offsets' metadata: the stream's creation */
	bool		source_header;
	bool		in_transaction;
	int			timeout_ms;
	/* per partition of the source: the offset committed with the output */
	int			ndone;
	char	  **done_topics;
	int32	   *done_partitions;
	int64	   *done_offsets;
	int			produced_since_poll;
	/* delivery reports of the current transaction (no palloc there) */
	int64		failed;
	rd_kafka_resp_err_t first_error;
};

typedef struct KafkaTarget
{
	StreamTarget base;
	StreamOutput *output;
	KafkaRowEncoder *encoder;
	int		   *map;			/* per target attribute: input column or -1 */
	Datum	   *values;			/* shaped like the target */
	bool	   *nulls;
	int			topic_in;		/* transform rows: the input columns named */
	int			partition_in;	/* like the source's topic, partition and */
	int			offset_in;		/* offset columns, or -1 */
	FmgrInfo	partition_out;	/* their output functions */
	FmgrInfo	offset_out;
	StringInfoData source;		/* the source header's value */
	MemoryContext rowcxt;
	int64		produced;
} KafkaTarget;

static void
output_delivery_report(const rd_kafka_message_t *message, void *arg)
{
	StreamOutput *output = arg;

	if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR && output->failed++ == 0)
		output->first_error = message->err;
}

static void pg_attribute_noreturn()
output_error(StreamOutput *output, const char *what, KafkaTxnResult *result)
{
	ereport(ERROR,
			(errcode(result->fatal ? ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE :
					 ERRCODE_CONNECTION_FAILURE),
			 errmsg("streaming table %s could not %s its Kafka transaction: %s",
					output->target_name, what, result->message),
			 result->code == RD_KAFKA_RESP_ERR__FENCED ||
			 result->code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ?
			 errdetail("Another producer with transactional.id \"%s\" started: only one may write the stream's output.",
					   output->transactional_id) : 0));
}

void
stream_output_init(void)
{
	DefineCustomStringVariable("kafka_fdw.test_faults",
							   "Faults the test suite injects into streams that produce (never set it otherwise).",
							   NULL, &test_faults, "", PGC_SIGHUP,
							   GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL | GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}

/* Is fault in kafka_fdw.test_faults?  *arg: its "=value", or NULL. */
static bool
test_fault(const char *fault, char **arg)
{
	char	   *copy;
	char	   *item;
	char	   *save = NULL;

	if (test_faults == NULL || test_faults[0] == '\0')
		return false;
	copy = pstrdup(test_faults);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		char	   *eq = strchr(item, '=');

		if (eq)
			*eq = '\0';
		if (strcmp(item, fault) == 0)
		{
			if (arg)
				*arg = eq ? eq + 1 : NULL;
			return true;
		}
	}
	return false;
}

/* Does file exist and hold name (a trailing newline aside)? */
static bool
fault_file_names(const char *file, const char *name)
{
	char		buf[NAMEDATALEN * 2 + 8];
	FILE	   *f = AllocateFile(file, "r");
	size_t		n;

	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	FreeFile(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return strcmp(buf, name) == 0;
}

/* The stream's transactional.id and consumer group (the same name). */
static char *
output_name(StreamDef *def)
{
	return psprintf("kafka_fdw-" UINT64_FORMAT "-%u-%u", GetSystemIdentifier(),
					MyDatabaseId, def->target);
}

bool
stream_target_is_kafka(Oid target)
{
	return get_rel_relkind(target) == RELKIND_FOREIGN_TABLE;
}

StreamOutput *
stream_output_open(StreamDef *def, KafkaTable *source)
{
	StreamOutput *output = palloc0(sizeof(StreamOutput));
	ForeignServer *server = source->server;
	KafkaConnectionSpec *spec;
	KafkaTxnResult result;

	if (stream_target_is_kafka(def->target))
	{
		output->table = kafka_table_open_to_produce(def->target, CurrentMemoryContext);
		server = output->table->server;
	}
	output->source = source;
	output->target_name = def->target_name;
	output->transactional_id = def->transactional_id ? def->transactional_id : output_name(def);
	output->group = def->group_id ? def->group_id : output_name(def);
	output->source_header = def->source_header;
	output->stamp = psprintf("kafka_fdw stream " INT64_FORMAT, def->created_us);
	spec = kafka_connection_for_server(server, def->owner);
	spec->transactional_id = output->transactional_id;
	spec->transaction_timeout_ms = TRANSACTION_TIMEOUT_MS;
	output->timeout_ms = Max(spec->message_timeout_ms, spec->connect_timeout_ms);
	output->client = kafka_client_create(spec, KAFKA_CLIENT_PRODUCER);
	output->client->delivery_report = output_delivery_report;
	output->client->delivery_report_arg = output;
	/* NULL: the table routes each row by its kafka 'topic' column */
	if (output->table && output->table->topic)
		output->topic = kafka_client_topic(output->client, output->table->topic);
	if (def->dead_letter_topic)
		output->dead_letter_topic = kafka_client_topic(output->client, def->dead_letter_topic);

	/* fences an earlier producer of the stream, aborts what it left open */
	if (!kafka_client_init_transactions(output->client, output->timeout_ms, &result))
		output_error(output, "initialize", &result);
	return output;
}

/*
 * The offset up to which partition's records are in Kafka already (the batch
 * stream_output_resume found committed there), or -1.
 */
static int64
done_offset(StreamOutput *output, const char *topic, int32 partition)
{
	int			i;

	for (i = 0; i < output->ndone; i++)
		if (output->done_partitions[i] == partition &&
			strcmp(output->done_topics[i], topic) == 0)
			return output->done_offsets[i];
	return -1;
}

/* The metadata of the offsets batch batch_id commits (librdkafka copies it). */
static char *
batch_metadata(StreamOutput *output, int64 batch_id)
{
	return psprintf("%s batch " INT64_FORMAT, output->stamp, batch_id);
}

bool
stream_output_resume(StreamOutput *output, KafkaPartitionRange **ranges, int nranges,
					 int64 batch_id, int64 *committed)
{
	rd_kafka_topic_partition_list_t *partitions = rd_kafka_topic_partition_list_new(Max(nranges, 1));
	char	   *next = batch_metadata(output, batch_id + 1);
	bool		ahead = false;
	int			i;

	for (i = 0; i < nranges; i++)
		rd_kafka_topic_partition_list_add(partitions, ranges[i]->topic, ranges[i]->partition);
	PG_TRY();
	{
		kafka_client_group_offsets(output->client, output->group, partitions);
	}
	PG_CATCH();
	{
		rd_kafka_topic_partition_list_destroy(partitions);
		PG_RE_THROW();
	}
	PG_END_TRY();
	output->ndone = 0;
	output->done_topics = palloc(sizeof(char *) * Max(nranges, 1));
	output->done_partitions = palloc(sizeof(int32) * Max(nranges, 1));
	output->done_offsets = palloc(sizeof(int64) * Max(nranges, 1));
	for (i = 0; i < nranges; i++)
	{
		rd_kafka_topic_partition_t *p = &partitions->elems[i];

		/*
		 * Only the batch after the catalog's last, committed by this stream
		 * (not offsets an earlier stream of the same name left, nor those
		 * kafka.reset_offsets() moved the catalog away from).
		 */
		if (p->offset < 0 || p->metadata_size != strlen(next) ||
			memcmp(p->metadata, next, p->metadata_size) != 0)
			continue;
		output->done_topics[output->ndone] = pstrdup(ranges[i]->topic);
		output->done_partitions[output->ndone] = ranges[i]->partition;
		output->done_offsets[output->ndone] = p->offset;
		output->ndone++;
		ahead = true;
		if (p->offset <= committed[i])
			continue;
		/* the Kafka transaction committed, the catalog did not */
		ereport(LOG,
				(errmsg("streaming table %s: %s[%d] was committed with its Kafka output up to offset " INT64_FORMAT ", the catalog up to " INT64_FORMAT,
						output->target_name, ranges[i]->topic, ranges[i]->partition,
						p->offset, committed[i])));
		committed[i] = p->offset;
	}
	rd_kafka_topic_partition_list_destroy(partitions);
	return ahead;
}

void
stream_output_begin(StreamOutput *output)
{
	KafkaTxnResult result;

	if (output->in_transaction)
	{
		/* a batch that failed: its records are never committed */
		kafka_client_purge(output->client);
		if (!kafka_client_abort_transaction(output->client, output->timeout_ms, &result))
			output_error(output, "abort", &result);
		output->in_transaction = false;
	}
	output->failed = 0;
	if (!kafka_client_begin_transaction(output->client, &result))
		output_error(output, "begin", &result);
	output->in_transaction = true;
}

void
stream_output_commit(StreamOutput *output, KafkaPartitionRange **ranges, int nranges,
					 int64 batch_id)
{
	rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(Max(nranges, 1));
	char	   *metadata = batch_metadata(output, batch_id);
	KafkaTxnResult result;
	bool		ok;
	int			i;

	for (i = 0; i < nranges; i++)
	{
		rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_add(offsets, ranges[i]->topic,
																		   ranges[i]->partition);

		/*
		 * A batch redone after a crash between the two commits may end
		 * before the one Kafka committed: the group keeps that one's
		 * offsets (what Kafka holds), or a second crash would forget which
		 * dead letters are already there.
		 */
		p->offset = Max(ranges[i]->next_offset,
						done_offset(output, ranges[i]->topic, ranges[i]->partition));
		p->metadata = strdup(metadata);
		p->metadata_size = p->metadata ? strlen(metadata) : 0;
	}
	ok = kafka_client_send_offsets(output->client, output->group, offsets,
								   output->timeout_ms, &result);
	if (!ok)
	{
		rd_kafka_topic_partition_list_destroy(offsets);
		output_error(output, "add the input offsets to", &result);
	}
	if (!kafka_client_commit_transaction(output->client, output->timeout_ms, &result))
	{
		rd_kafka_topic_partition_list_destroy(offsets);
		if (output->failed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("streaming table %s could not produce " INT64_FORMAT " records: %s",
							output->target_name, output->failed,
							rd_kafka_err2str(output->first_error))));
		output_error(output, "commit", &result);
	}
	output->in_transaction = false;
	if (test_fault("mirror_group_offsets", NULL))
		kafka_client_commit_group_offsets(output->client, output->group, offsets);
	rd_kafka_topic_partition_list_destroy(offsets);
	{
		char	   *file;

		if (test_fault("crash_between_commits", &file) && file &&
			fault_file_names(file, output->target_name) && unlink(file) == 0)
		{
			ereport(LOG,
					(errmsg("streaming table %s: test fault crash_between_commits", output->target_name)));
			kill(MyProcPid, SIGKILL);
			pg_usleep(10000000L);
		}
	}
}

/*
 * Produce one record in the batch's transaction (copied; headers are
 * handed over).  Waits while librdkafka's queue is full.
 */
static void
output_produce(StreamOutput *output, rd_kafka_topic_t *topic, const char *topic_name,
			   int32 partition, const char *key, size_t key_len, const char *value,
			   size_t value_len, int64 timestamp_ms, rd_kafka_headers_t *headers)
{
	rd_kafka_resp_err_t err;
	rd_kafka_vu_t vus[7];

	/* the target's topic handle, or a routed row's topic by name */
	if (topic)
	{
		vus[0].vtype = RD_KAFKA_VTYPE_RKT;
		vus[0].u.rkt = topic;
	}
	else
	{
		vus[0].vtype = RD_KAFKA_VTYPE_TOPIC;
		vus[0].u.cstr = topic_name;
	}
	vus[1].vtype = RD_KAFKA_VTYPE_PARTITION;
	vus[1].u.i32 = partition >= 0 ? partition : RD_KAFKA_PARTITION_UA;
	vus[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
	vus[2].u.i = RD_KAFKA_MSG_F_COPY;
	vus[3].vtype = RD_KAFKA_VTYPE_KEY;
	vus[3].u.mem.ptr = (void *) key;
	vus[3].u.mem.size = key ? key_len : 0;
	vus[4].vtype = RD_KAFKA_VTYPE_VALUE;
	vus[4].u.mem.ptr = (void *) value;
	vus[4].u.mem.size = value ? value_len : 0;
	vus[5].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
	vus[5].u.i64 = timestamp_ms;
	vus[6].vtype = RD_KAFKA_VTYPE_HEADERS;
	vus[6].u.headers = headers;

	for (;;)
	{
		rd_kafka_error_t *error = rd_kafka_produceva(output->client->rk, vus, lengthof(vus));

		err = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
		if (error)
			rd_kafka_error_destroy(error);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		/* librdkafka's queue is full: let deliveries make room */
		kafka_client_wait_events(output->client, 100);
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		rd_kafka_headers_destroy(headers);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("streaming table %s could not produce to topic \"%s\": %s",
						output->target_name, topic ? rd_kafka_topic_name(topic) : topic_name,
						rd_kafka_err2str(err))));
	}
	/* serve delivery reports as we go (the queue's waits serve them too) */
	if (++output->produced_since_poll >= POLL_EVERY_RECORDS)
	{
		kafka_client_poll_events(output->client);
		output->produced_since_poll = 0;
	}
}

bool
stream_output_has_dead_letter_topic(StreamOutput *output)
{
	return output != NULL && output->dead_letter_topic != NULL;
}

void
stream_output_dead_letter(StreamOutput *output, const StreamDeadLetter *dead)
{
	rd_kafka_headers_t *headers;
	char	   *text;
	int			i;

	/* committed with an earlier transaction whose batch PostgreSQL redoes */
	if (dead->offset < done_offset(output, dead->topic, dead->partition))
		return;

	headers = rd_kafka_headers_new(dead->nheaders + 6);
	for (i = 0; i < dead->nheaders; i++)
		rd_kafka_header_add(headers, dead->header_names[i], -1, dead->header_values[i],
							dead->header_lens[i]);
	rd_kafka_header_add(headers, "kafka_fdw.error", -1, dead->error, -1);
	rd_kafka_header_add(headers, "kafka_fdw.topic", -1, dead->topic, -1);
	text = psprintf("%d", dead->partition);
	rd_kafka_header_add(headers, "kafka_fdw.partition", -1, text, -1);
	text = psprintf(INT64_FORMAT, dead->offset);
	rd_kafka_header_add(headers, "kafka_fdw.offset", -1, text, -1);
	rd_kafka_header_add(headers, "kafka_fdw.stream", -1, output->target_name, -1);
	if (output->source_header)
	{
		text = psprintf("%s/%d/" INT64_FORMAT, dead->topic, dead->partition, dead->offset);
		rd_kafka_header_add(headers, SOURCE_HEADER, -1, text, -1);
	}
	output_produce(output, output->dead_letter_topic, NULL, -1, dead->key, dead->key_len,
				   dead->value, dead->value_len, 0, headers);
}

/* Find the input column named like the source's column of role. */
static int
source_column(KafkaTarget *target, KafkaColumnRole role)
{
	KafkaTable *source = target->output->source;
	TupleDesc	input = target->base.input;
	int			i;
	int			j;

	for (i = 0; i < source->desc->natts; i++)
	{
		if (source->roles[i] != role)
			continue;
		for (j = 0; j < input->natts; j++)
			if (!TupleDescAttr(input, j)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(input, j)->attname),
					   NameStr(TupleDescAttr(source->desc, i)->attname)) == 0)
				return j;
	}
	return -1;
}

/* What kafka_target_put hands a subtransaction: the row's topic. */
typedef struct RouteAttempt
{
	KafkaRowEncoder *encoder;
	Datum	   *values;
	bool	   *nulls;
	const char *topic;			/* out */
} RouteAttempt;

static void
record_context(void *arg)
{
	const StreamRecord *record = arg;

	errcontext("kafka record %s[%d] at offset " INT64_FORMAT,
			   record->topic, record->partition, record->offset);
}

static void
route_attempt(void *arg)
{
	RouteAttempt *attempt = arg;

	attempt->topic = kafka_row_encoder_topic(attempt->encoder, attempt->values,
											 attempt->nulls);
}

/* The row's topic, an error naming record (or NULL) stopping the stream. */
static void
route_record(RouteAttempt *attempt, const StreamRecord *record)
{
	ErrorContextCallback context;

	context.callback = record_context;
	context.arg = (void *) record;
	context.previous = error_context_stack;
	if (record)
		error_context_stack = &context;
	PG_TRY();
	{
		route_attempt(attempt);
	}
	PG_CATCH();
	{
		/* a record's fault: it stops the stream (on_error 'fail') */
		if (record)
			stream_record_error_raised = true;
		PG_RE_THROW();
	}
	PG_END_TRY();
	error_context_stack = context.previous;
}

/* Append an integer column's value (any other type by its output function). */
static void
append_number(StringInfo buf, TupleDesc desc, int column, Datum value, FmgrInfo *output)
{
	switch (TupleDescAttr(desc, column)->atttypid)
	{
		case INT2OID:
			appendStringInfo(buf, "%d", (int) DatumGetInt16(value));
			break;
		case INT4OID:
			appendStringInfo(buf, "%d", DatumGetInt32(value));
			break;
		case INT8OID:
			appendStringInfo(buf, INT64_FORMAT, DatumGetInt64(value));
			break;
		default:
			appendStringInfoString(buf, OutputFunctionCall(output, value));
			break;
	}
}

static void
kafka_target_put(StreamTarget *base, Datum *values, bool *nulls,
				 const bool *unavailable, StreamChangeKind kind,
				 const StreamRecord *record)
{
	KafkaTarget *target = (KafkaTarget *) base;
	StreamOutput *output = target->output;
	TupleDesc	desc = output->table->desc;
	KafkaMessageData message;
	MemoryContext old = MemoryContextSwitchTo(target->rowcxt);
	rd_kafka_headers_t *headers;
	const char *topic = NULL;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		int			j = target->map[i];

		target->values[i] = j >= 0 ? values[j] : (Datum) 0;
		target->nulls[i] = j >= 0 ? nulls[j] : true;
	}

	/* a table that routes: the row's topic, a bad record when it has none */
	if (kafka_row_encoder_routes(target->encoder))
	{
		RouteAttempt attempt = {target->encoder, target->values, target->nulls, NULL};
		ErrorData  *edata;

		if (base->reject && record)
		{
			if (!stream_in_subtransaction(route_attempt, &attempt, &edata))
			{
				MemoryContextSwitchTo(old);
				base->reject(base->reject_arg, record->topic, record->partition,
							 record->offset, edata);
				MemoryContextReset(target->rowcxt);
				return;
			}
		}
		else
			route_record(&attempt, record);
		topic = attempt.topic;
	}
	kafka_row_encoder_encode(target->encoder, target->values, target->nulls, &message);

	/* the input record's coordinates, or those the transform carried */
	resetStringInfo(&target->source);
	if (output->source_header && record)
		appendStringInfo(&target->source, "%s/%d/" INT64_FORMAT, record->topic,
						 record->partition, record->offset);
	else if (output->source_header && target->partition_in >= 0 && target->offset_in >= 0 &&
			 !nulls[target->partition_in] && !nulls[target->offset_in])
	{
		if (target->topic_in >= 0 && !nulls[target->topic_in])
			appendStringInfoString(&target->source, TextDatumGetCString(values[target->topic_in]));
		else
			appendStringInfoString(&target->source, output->source->topic);
		appendStringInfoChar(&target->source, '/');
		append_number(&target->source, base->input, target->partition_in,
					  values[target->partition_in], &target->partition_out);
		appendStringInfoChar(&target->source, '/');
		append_number(&target->source, base->input, target->offset_in,
					  values[target->offset_in], &target->offset_out);
	}

	headers = rd_kafka_headers_new(message.nheaders + 1);
	for (i = 0; i < message.nheaders; i++)
		rd_kafka_header_add(headers, message.headers[i].name, message.headers[i].name_len,
							message.headers[i].value, message.headers[i].value_len);
	if (target->source.len > 0)
		rd_kafka_header_add(headers, SOURCE_HEADER, -1, target->source.data, target->source.len);

	output_produce(output, output->topic, topic, message.partition, message.key,
				   message.key_len, message.value, message.value_len, message.timestamp_ms,
				   headers);
	target->produced++;
	MemoryContextSwitchTo(old);
	MemoryContextReset(target->rowcxt);
}

static void
kafka_target_end(StreamTarget *base, StreamTargetCounts *counts)
{
	KafkaTarget *target = (KafkaTarget *) base;

	counts->inserted = target->produced;
	MemoryContextDelete(target->rowcxt);
}

static const StreamTargetMethods kafka_methods = {
	kafka_target_put,
	kafka_target_end,
	NULL,						/* holds nothing: rows go to librdkafka */
	NULL
};

StreamTarget *
stream_kafka_target_begin(StreamDef *def, Relation rel, TupleDesc input,
						  const char *input_name, StreamOutput *output)
{
	KafkaTarget *target = palloc0(sizeof(KafkaTarget));
	TupleDesc	desc = output->table->desc;

	target->base.methods = &kafka_methods;
	target->base.input = input;
	target->output = output;
	target->encoder = kafka_row_encoder_create(output->table);
	target->map = stream_kafka_target_map(rel, input, input_name);
	target->values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	target->nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	target->topic_in = source_column(target, KAFKA_COLUMN_TOPIC);
	target->partition_in = source_column(target, KAFKA_COLUMN_PARTITION);
	target->offset_in = source_column(target, KAFKA_COLUMN_OFFSET);
	if (target->partition_in >= 0 && target->offset_in >= 0)
	{
		Oid			function;
		bool		varlena;

		getTypeOutputInfo(TupleDescAttr(input, target->partition_in)->atttypid, &function, &varlena);
		fmgr_info(function, &target->partition_out);
		getTypeOutputInfo(TupleDescAttr(input, target->offset_in)->atttypid, &function, &varlena);
		fmgr_info(function, &target->offset_out);
	}
	initStringInfo(&target->source);
	target->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "kafka stream output row",
										   ALLOCSET_DEFAULT_SIZES);
	return &target->base;
}

int *
stream_kafka_target_map(Relation rel, TupleDesc input, const char *input_name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int		   *map = stream_sink_map_columns(rel, input, input_name);
	int			i;

	/* the encoder reads the values with the table's types */
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Form_pg_attribute in;

		if (map[i] < 0)
			continue;
		in = TupleDescAttr(input, map[i]);
		if (in->atttypid != att->atttypid && !IsBinaryCoercible(in->atttypid, att->atttypid))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of %s has type %s but column \"%s\" of foreign table \"%s\" has type %s",
							NameStr(in->attname), input_name, format_type_be(in->atttypid),
							NameStr(att->attname), RelationGetRelationName(rel),
							format_type_be(att->atttypid)),
					 errhint("Give both columns the same type, or cast in the transform.")));
	}
	return map;
}
