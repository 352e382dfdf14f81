/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  One streaming table's batches: exactly-once ingest of Kafka records.
 *
 * A batch is fetched outside any transaction (the reader hands over up to
 * max_offsets_per_trigger messages, which we hold), then applied in one
 * transaction: decode with the source foreign table's decoders, run the
 * transform over the batch (an ephemeral named relation "batch", as trigger
 * transition tables are), bulk insert into the target, write dead letters
 * and lost ranges, advance kafka.stream_offsets with a conditional update
 * (WHERE next_offset = what we started from, exactly one row) and increment
 * batch_id.  If anything fails the transaction rolls back and the reader is
 * ahead of the catalog: the caller closes the ingest and reopens it, which
 * seeks to the catalog offsets again.  Concurrent writers are fenced by the
 * conditional update (and kept apart by an advisory lock in the first
 * place).
 *
 * Memory is bounded by the batch: held messages, one row at a time decoded,
 * the sink's buffer; a transform's input spills to disk beyond work_mem.
 *
 * The target may change between batches (ALTER TABLE under a running
 * stream): each batch maps its columns again, under the lock it holds to
 * its end, so rows are always built for the layout they are written into.
 * Added columns take their defaults (or their input column, by name), a
 * retyped column its assignment coercion; a column the previous batch wrote
 * that was dropped or renamed since stops the stream before anything is
 * written (check_written_columns), rather than losing its values.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_index.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

#include "client.h"
#include "options.h"
#include "read/read_kafka.h"
#include "stream/stream.h"
#include "stream/kafka_target.h"
#include "stream/target.h"

/*
 * What the decoder says of a record beyond its values (kafka_table.h, with
 * envelope 'debezium'): drop it silently (Debezium's tombstone), and which
 * columns it did not carry (the unchanged-TOAST placeholder).
 */
#define record_skipped(table) ((table)->skip_record)
#define record_unavailable(table) ((table)->any_unavailable ? (table)->unavailable : NULL)

/*
 * After the first record of a continuous batch, wait this long for more; a
 * stream into a kafka foreign table, whose consumers wait for its records,
 * half as long.
 */
#define LINGER_MS 100
#define KAFKA_TARGET_LINGER_MS 50
/* a table target's group commits while batches keep coming: at most one per */
#define MIRROR_INTERVAL_MS 1000
/* An idle continuous stream wakes its fetchers this often (see reader.h). */
#define STREAM_IDLE_WAKE_MS 1000
/* How long the periodic partition count may wait for the brokers. */
#define PARTITION_COUNT_TIMEOUT_MS 1000

typedef struct HeldMessage
{
	rd_kafka_message_t *msg;
	KafkaPartitionRange *range;
} HeldMessage;

/*
 * A bad record to keep in kafka.dead_letters, copied: a batch that spans
 * several fills of held[] (extend_batch) has let its message go by then.
 */
typedef struct DeadLetter
{
	Datum		topic;
	int32		partition;
	int64		offset;
	Datum		key;			/* bytea, or 0: none */
	Datum		value;			/* bytea, or 0: none (a tombstone) */
	char	   *error;
	/* for a dead-letter topic: the record's headers */
	int			nheaders;
	char	  **header_names;
	char	  **header_values;
	int		   *header_lens;
} DeadLetter;

/*
 * What a held message costs beyond its key and value (librdkafka's message
 * and op), counted in the batch's bytes so that many small records cannot
 * hold far more memory than the bytes say.
 */
#define MESSAGE_OVERHEAD_BYTES 256

struct StreamIngest
{
	MemoryContext cxt;
	MemoryContextCallback callback; /* frees held messages */
	StreamDef  *def;
	KafkaTable *source;
	KafkaClient *client;
	List	   *ranges;
	int			nranges;
	KafkaPartitionRange **range_array;
	int64	   *committed;		/* per range: next_offset in the catalog */
	int64	   *records;		/* per range: records in the fetched batch */
	bool		bounded;
	KafkaReader *reader;
	HeldMessage *held;
	int			nheld;
	int			capacity;		/* records held at once */
	int64		batch_records;	/* records per batch (see extend_batch) */
	int64		held_bytes;
	int64		chunk_bytes;	/* a fill of held[] stops there */
	int			partition_count;	/* of the topic when opened */
	char	   *dependencies;	/* what it was opened with (see check_dependencies) */
	rd_kafka_topic_t *topic_handle; /* for partition counts */
	TimestampTz batch_start;
	MemoryContext batchcxt;		/* per apply */
	int64		dead_bytes;		/* of the batch's dead letters so far */
	bool		catalog_has_counters;	/* streaming_tables.last_batch_inserted... */
	bool		catalog_has_schema_change;	/* ...last_schema_change (0.4) */
	bool		catalog_has_totals; /* ...total_records, kafka.stream_history (0.6) */
	int64		batch_bytes;	/* keys and values of the batch's records */
	StreamWrittenColumns *written;	/* what the committed batches wrote */
	List	   *batch_written;	/* WrittenColumn: what this batch writes */
	bool		batch_mapped;	/* batch_written is set */
	StreamOutput *output;		/* the stream produces (kafka_target.h), or NULL */
	StreamOutput *target_output;	/* output, when it is the target too */
	char	   *mirror_group;	/* committed offsets go there too, or NULL */
	TimestampTz mirror_posted_at;	/* the last group commit posted, or 0 */
	bool		mirror_due;		/* committed offsets not posted yet */
};

/*
 * The commits of a table target's consumer group nobody waits for (see
 * stream_ingest_mirror_offsets): one committer per process, for the stream
 * it runs (a worker runs one, a session refreshes one at a time).
 */
static KafkaGroupCommitter *group_mirror = NULL;
static Oid	group_mirror_target = InvalidOid;

static void post_mirror_offsets(StreamIngest *ingest);

/*
 * A target column a batch wrote, named by the input column (the source's
 * or the transform's) whose values it took.
 */
typedef struct WrittenColumn
{
	char	   *input;
	AttrNumber	attnum;			/* in the target */
	char	   *name;			/* the target column's name then */
} WrittenColumn;

struct StreamWrittenColumns
{
	MemoryContext cxt;
	List	   *columns;		/* WrittenColumn; NIL before the first batch */
	bool		loaded;			/* read from the catalog (0.4) */
};

StreamWrittenColumns *
stream_written_columns_create(MemoryContext parent)
{
	StreamWrittenColumns *written = MemoryContextAllocZero(parent, sizeof(StreamWrittenColumns));

	written->cxt = AllocSetContextCreate(parent, "kafka stream written columns",
										 ALLOCSET_SMALL_SIZES);
	return written;
}

static void
free_held(StreamIngest *ingest)
{
	int			i;

	for (i = 0; i < ingest->nheld; i++)
		rd_kafka_message_destroy(ingest->held[i].msg);
	ingest->nheld = 0;
	ingest->held_bytes = 0;
}

static void
ingest_context_callback(void *arg)
{
	free_held((StreamIngest *) arg);
}

/* Says, in an error's context, what the failed check was for (arg: text or NULL). */
static void
dependency_error_context(void *arg)
{
	const char **what = (const char **) arg;

	if (*what)
		errcontext("%s", *what);
}

/*
 * What a batch read or produced with depends on in a kafka foreign table:
 * its server's and its own options, the user mapping the owner uses, its
 * columns (appended to buf).
 */
static void
describe_foreign_table(StringInfo buf, Oid relid, Oid owner)
{
	ForeignTable *ft = GetForeignTable(relid);
	ForeignServer *server = GetForeignServer(ft->serverid);
	HeapTuple	tup;
	Relation	rel;
	TupleDesc	desc;
	int			i;

	appendStringInfo(buf, "server %u %s\ntable %s\n", ft->serverid,
					 nodeToString(server->options), nodeToString(ft->options));
	/* the mapping kafka_connection_for_server used: the owner's, else PUBLIC's */
	tup = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(owner),
						  ObjectIdGetDatum(ft->serverid));
	if (!HeapTupleIsValid(tup))
		tup = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							  ObjectIdGetDatum(ft->serverid));
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		options = SysCacheGetAttr(USERMAPPINGUSERSERVER, tup,
											  Anum_pg_user_mapping_umoptions, &isnull);

		appendStringInfo(buf, "user mapping %u %s\n",
						 ((Form_pg_user_mapping) GETSTRUCT(tup))->oid,
						 isnull ? "" : TextDatumGetCString(options));
		ReleaseSysCache(tup);
	}
	rel = relation_open(relid, NoLock);
	desc = RelationGetDescr(rel);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		appendStringInfo(buf, "column %s %u %d %d %s\n", NameStr(att->attname),
						 att->atttypid, att->atttypmod, (int) att->attisdropped,
						 nodeToString(GetForeignColumnOptions(relid, i + 1)));
	}
	relation_close(rel, NoLock);
}

/*
 * What an ingest depends on, checked when it opens and before each batch,
 * under the locks the batch then holds (the source first, then the target,
 * always in this order): the source foreign table and its server exist, and
 * the stream's owner still has USAGE on the server and a user mapping (the
 * checks of kafka_connection_for_server), SELECT on the source and INSERT on
 * the target.  Whatever vanished or was revoked raises an error of class 42,
 * which stops the stream (stream_classify_error): retrying cannot bring it
 * back, and the batch writes nothing and advances no offset.
 *
 * Returns a description of everything an open ingest caches from these
 * objects -- the source's columns (names, types, typmods, dropped, column
 * options), its table options (topic, format, key_format, avro_schema,
 * on_error...), its server and the server's and user mapping's options --
 * so that a batch can tell whether the ingest still matches the catalog.
 */
static char *
check_dependencies(StreamDef *def, LOCKMODE target_lock)
{
	ErrorContextCallback errcallback;
	const char *what = NULL;
	StringInfoData buf;
	HeapTuple	tup;
	Oid			serverid;
	ForeignServer *server;
	AclResult	aclresult;
	char	   *owner;

	owner = GetUserNameFromId(def->owner, true);
	owner = owner ? pstrdup(quote_identifier(owner)) : psprintf("%u", def->owner);
	errcallback.callback = dependency_error_context;
	errcallback.arg = &what;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	/* taking the lock reads the invalidations: the syscache is current */
	LockRelationOid(def->source, AccessShareLock);
	tup = SearchSysCache1(FOREIGNTABLEREL, ObjectIdGetDatum(def->source));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the source foreign table of streaming table %s no longer exists",
						def->target_name),
				 errhint("Drop the streaming table, or re-create its source and then the stream.")));
	serverid = ((Form_pg_foreign_table) GETSTRUCT(tup))->ftserver;
	ReleaseSysCache(tup);
	if (!SearchSysCacheExists1(FOREIGNSERVEROID, ObjectIdGetDatum(serverid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the foreign server of the source of streaming table %s no longer exists",
						def->target_name)));
	server = GetForeignServer(serverid);

	what = psprintf("streaming table %s needs USAGE on foreign server %s and a user mapping there for its owner %s",
					def->target_name, quote_identifier(server->servername), owner);
	(void) kafka_connection_for_server(server, def->owner);
	what = psprintf("streaming table %s needs SELECT on its source for its owner %s",
					def->target_name, owner);
	aclresult = pg_class_aclcheck(def->source, def->owner, ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_TABLE, get_rel_name(def->source));

	what = NULL;
	LockRelationOid(def->target, target_lock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(def->target)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the target table of streaming table %s no longer exists",
						def->target_name)));
	what = psprintf("streaming table %s needs INSERT on it for its owner %s",
					def->target_name, owner);
	aclresult = pg_class_aclcheck(def->target, def->owner, ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(def->target));
	error_context_stack = errcallback.previous;

	initStringInfo(&buf);
	describe_foreign_table(&buf, def->source, def->owner);

	/* a kafka foreign table target: its producer's server, mapping and columns */
	if (stream_target_is_kafka(def->target))
	{
		ForeignTable *target_ft = GetForeignTable(def->target);
		ForeignServer *target_server = GetForeignServer(target_ft->serverid);

		error_context_stack = &errcallback;
		what = psprintf("streaming table %s needs USAGE on foreign server %s and a user mapping there for its owner %s",
						def->target_name, quote_identifier(target_server->servername), owner);
		(void) kafka_connection_for_server(target_server, def->owner);
		error_context_stack = errcallback.previous;
		appendStringInfoString(&buf, "target\n");
		describe_foreign_table(&buf, def->target, def->owner);
	}
	return buf.data;
}

StreamIngest *
stream_ingest_open(StreamDef *def, bool bounded, MemoryContext parent,
				   StreamWrittenColumns *written)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "kafka stream ingest",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	StreamIngest *ingest = palloc0(sizeof(StreamIngest));
	KafkaConnectionSpec *spec;
	List	   *ranges;
	ListCell   *lc;
	List	   *new_ranges = NIL;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(def->target)};
	int			i;

	ingest->cxt = cxt;
	ingest->def = def = stream_def_copy(def);
	ingest->bounded = bounded;
	ingest->written = written ? written : stream_written_columns_create(cxt);
	{
		Oid			nsp = get_namespace_oid("kafka", true);
		Oid			catalog = OidIsValid(nsp) ?
			get_relname_relid("streaming_tables", nsp) : InvalidOid;

		ingest->catalog_has_counters = OidIsValid(catalog) &&
			get_attnum(catalog, "last_batch_inserted") != InvalidAttrNumber;
		ingest->catalog_has_schema_change = OidIsValid(catalog) &&
			get_attnum(catalog, "last_schema_change") != InvalidAttrNumber;
		ingest->catalog_has_totals = OidIsValid(catalog) &&
			get_attnum(catalog, "total_records") != InvalidAttrNumber &&
			OidIsValid(get_relname_relid("stream_history", nsp));
	}
	ingest->callback.func = ingest_context_callback;
	ingest->callback.arg = ingest;
	ingest->dependencies = check_dependencies(def, AccessShareLock);
	ingest->source = kafka_table_open(def->source, cxt);
	if (def->add_columns)
		kafka_table_report_unknown_fields(ingest->source);
	ingest->capacity = def->max_offsets > 0 ?
		(int) Min(def->max_offsets, 10000000) : STREAM_DEFAULT_BATCH_RECORDS;
	ingest->batch_records = ingest->capacity;
	ingest->chunk_bytes = STREAM_BATCH_BYTES;

	/*
	 * A keyed stream of SCD type 1 without a transform reads its batch in
	 * smaller fills (extend_batch): its memory is then the keys it collapsed
	 * plus one fill, whatever the batch's records, so that without
	 * max_offsets_per_trigger a bounded batch (refresh, interval) takes all
	 * of its range.  A continuous one keeps the default, or a steady flow
	 * over few keys would never end its batch.
	 */
	if (def->mode != STREAM_MODE_APPEND && def->scd_type != 2 && def->transform == NULL)
	{
		ingest->chunk_bytes = STREAM_BATCH_BYTES / 4;
		if (def->max_offsets <= 0 && bounded)
			ingest->batch_records = PG_INT64_MAX;
		ingest->capacity = Min(ingest->capacity, STREAM_DEFAULT_BATCH_RECORDS);
	}
	ingest->held = MemoryContextAllocHuge(cxt, sizeof(HeldMessage) * ingest->capacity);
	ingest->batchcxt = AllocSetContextCreate(cxt, "kafka stream batch",
											 ALLOCSET_DEFAULT_SIZES);

	spec = kafka_connection_for_server(ingest->source->server, def->owner);

	/*
	 * A batch holds its messages (and the fetch buffers they point into)
	 * while librdkafka prefetches the next: a smaller prefetch than a scan's
	 * keeps the two together well under 128 MiB.
	 */
	if (kafka_spec_get_property(spec, "queued.max.messages.kbytes") == NULL)
		kafka_spec_set_property(spec, "queued.max.messages.kbytes", "16384");
	if (kafka_spec_get_property(spec, "queued.min.messages") == NULL)
		kafka_spec_set_property(spec, "queued.min.messages", "50000");
	kafka_spec_bound_fetch_memory(spec, 0);
	ingest->client = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	ingest->topic_handle = kafka_client_topic(ingest->client, ingest->source->topic);
	ranges = kafka_source_partitions(ingest->client, KAFKA_SOURCE_SUBSCRIBE,
									 ingest->source->topic, "topic");
	ingest->partition_count = list_length(ranges);

	/* messages pin the client: free them first (callbacks run LIFO) */
	MemoryContextRegisterResetCallback(cxt, &ingest->callback);

	ingest->nranges = list_length(ranges);
	ingest->range_array = palloc0(sizeof(KafkaPartitionRange *) * Max(ingest->nranges, 1));
	ingest->committed = palloc(sizeof(int64) * Max(ingest->nranges, 1));
	ingest->records = palloc0(sizeof(int64) * Max(ingest->nranges, 1));
	i = 0;
	foreach(lc, ranges)
	{
		ingest->range_array[i] = lfirst(lc);
		ingest->committed[i] = -1;
		i++;
	}

	/* where the catalog says we are */
	SPI_connect();
	stream_catalog_exec("SELECT topic, \"partition\", next_offset FROM kafka.stream_offsets WHERE stream = $1",
						1, types, values, NULL, true);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		char	   *topic = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
		int32		partition = atoi(SPI_getvalue(tup, SPI_tuptable->tupdesc, 2));
		int64		next = strtoll(SPI_getvalue(tup, SPI_tuptable->tupdesc, 3), NULL, 10);
		int			j;

		for (j = 0; j < ingest->nranges; j++)
		{
			KafkaPartitionRange *r = ingest->range_array[j];

			if (r->partition == partition && strcmp(r->topic, topic) == 0)
			{
				r->start_offset = next;
				ingest->committed[j] = next;
			}
		}
	}
	SPI_finish();

	/*
	 * A stream that produces (into a kafka foreign table, or dead letters to
	 * a topic): its producer, fencing an earlier one.  Where a kafka
	 * target's output is ahead of the catalog, the catalog moves up to it.
	 */
	if (stream_target_is_kafka(def->target) || def->dead_letter_topic)
	{
		int64	   *group = palloc(sizeof(int64) * Max(ingest->nranges, 1));
		bool		ahead;

		ingest->output = stream_output_open(def, ingest->source);
		memcpy(group, ingest->committed, sizeof(int64) * ingest->nranges);
		ahead = stream_output_resume(ingest->output, ingest->range_array, ingest->nranges,
									 def->batch_id, group);

		/*
		 * A table's rows are in PostgreSQL's transaction only: its batch is
		 * written again, without producing its dead letters twice
		 * (stream_output_dead_letter).  A kafka target's batch is in Kafka:
		 * the catalog catches up, and that batch counts as committed.
		 */
		if (stream_target_is_kafka(def->target))
		{
			ingest->target_output = ingest->output;
			SPI_connect();
			for (i = 0; i < ingest->nranges; i++)
			{
				KafkaPartitionRange *r = ingest->range_array[i];
				Oid			utypes[5] = {OIDOID, TEXTOID, INT4OID, INT8OID, INT8OID};
				Datum		uvalues[5];

				if (ingest->committed[i] < 0 || group[i] <= ingest->committed[i])
					continue;
				uvalues[0] = ObjectIdGetDatum(def->target);
				uvalues[1] = CStringGetTextDatum(r->topic);
				uvalues[2] = Int32GetDatum(r->partition);
				uvalues[3] = Int64GetDatum(group[i]);
				uvalues[4] = Int64GetDatum(ingest->committed[i]);
				if (stream_catalog_exec("UPDATE kafka.stream_offsets SET next_offset = $4 "
										"WHERE stream = $1 AND topic = $2 AND \"partition\" = $3 AND next_offset = $5",
										5, utypes, uvalues, NULL, false) == 1)
				{
					r->start_offset = group[i];
					ingest->committed[i] = group[i];
				}
			}
			if (ahead)
			{
				Oid			btypes[2] = {OIDOID, INT8OID};
				Datum		bvalues[2] = {ObjectIdGetDatum(def->target), Int64GetDatum(def->batch_id)};

				if (stream_catalog_exec("UPDATE kafka.streaming_tables SET batch_id = batch_id + 1 "
										"WHERE target = $1 AND batch_id = $2",
										2, btypes, bvalues, NULL, false) == 1)
					def->batch_id++;
			}
			SPI_finish();
		}
	}

	/*
	 * A table target mirrors its committed offsets to its consumer group; a
	 * stream with a Kafka transaction commits them there itself.
	 */
	if (ingest->output == NULL && def->commit_offsets_to_group && def->group_id)
		ingest->mirror_group = def->group_id;

	for (i = 0; i < ingest->nranges; i++)
	{
		/* partitions added to the topic since: from their beginning */
		if (ingest->committed[i] < 0)
		{
			ingest->range_array[i]->start_offset = KAFKA_OFFSET_EARLIEST;
			new_ranges = lappend(new_ranges, ingest->range_array[i]);
		}
		if (!bounded)
			ingest->range_array[i]->end_offset = KAFKA_OFFSET_LATEST;
	}

	kafka_resolve_ranges(ingest->client, ranges, def->fail_on_data_loss);

	/* new partitions get their catalog row now, in this transaction */
	if (new_ranges != NIL)
	{
		SPI_connect();
		foreach(lc, new_ranges)
		{
			KafkaPartitionRange *r = lfirst(lc);
			Oid			itypes[4] = {OIDOID, TEXTOID, INT4OID, INT8OID};
			Datum		ivalues[4] = {ObjectIdGetDatum(def->target), CStringGetTextDatum(r->topic),
			Int32GetDatum(r->partition), Int64GetDatum(r->start_offset)};

			stream_catalog_exec("INSERT INTO kafka.stream_offsets (stream, topic, \"partition\", next_offset) "
								"VALUES ($1, $2, $3, $4)", 4, itypes, ivalues, NULL, false);
			for (i = 0; i < ingest->nranges; i++)
				if (ingest->range_array[i] == r)
					ingest->committed[i] = r->start_offset;
		}
		SPI_finish();
	}

	if (!bounded)
	{
		foreach(lc, ranges)
		{
			KafkaPartitionRange *r = lfirst(lc);

			r->end_offset = PG_INT64_MAX;
			r->done = false;
		}
	}
	ingest->ranges = ranges;
	ingest->reader = kafka_reader_start(ingest->client, ranges, def->fail_on_data_loss);
	if (!bounded)
		kafka_reader_set_wake_interval(ingest->reader, STREAM_IDLE_WAKE_MS);
	MemoryContextSwitchTo(old);
	return ingest;
}

/*
 * Has the topic more partitions than when we opened it?  Unknown while the
 * brokers cannot be reached: the ingest then keeps waiting for them (see
 * stream_ingest_trouble) rather than failing.
 */
bool
stream_ingest_partitions_changed(StreamIngest *ingest)
{
	int			count = kafka_client_partition_count(ingest->client, ingest->topic_handle,
													 PARTITION_COUNT_TIMEOUT_MS);

	if (count < 0)
		return false;
	/* the brokers answered */
	ingest->client->brokers_down = false;
	return count != ingest->partition_count;
}

/*
 * Why a continuous ingest receives nothing, for kafka.stream_progress: the
 * brokers are all down (librdkafka said so) and we have not heard from them
 * since.  NULL when there is nothing to say.
 */
char *
stream_ingest_trouble(StreamIngest *ingest)
{
	if (!ingest->client->brokers_down)
		return NULL;
	return psprintf("all brokers down (bootstrap_servers \"%s\"): %s",
					ingest->client->spec->bootstrap_servers,
					ingest->client->last_error);
}

static void
hold(StreamIngest *ingest, rd_kafka_message_t *msg, KafkaPartitionRange *range)
{
	kafka_reader_take(ingest->reader);
	ingest->client->brokers_down = false;
	ingest->held[ingest->nheld].msg = msg;
	ingest->held[ingest->nheld].range = range;
	ingest->nheld++;
	ingest->held_bytes += msg->len + msg->key_len + MESSAGE_OVERHEAD_BYTES;
	ingest->batch_bytes += msg->len + msg->key_len;
}

static bool
batch_full(StreamIngest *ingest, int limit)
{
	return ingest->nheld >= limit || ingest->held_bytes >= ingest->chunk_bytes;
}

bool
stream_ingest_fetch(StreamIngest *ingest, int wait_ms)
{
	MemoryContext old = MemoryContextSwitchTo(ingest->cxt);
	rd_kafka_message_t *msg;
	KafkaPartitionRange *range;
	bool		timed_out;

	Assert(ingest->nheld == 0);
	ingest->batch_start = GetCurrentTimestamp();
	ingest->batch_bytes = 0;
	if (ingest->bounded)
	{
		while (!batch_full(ingest, ingest->capacity) &&
			   (msg = kafka_reader_next(ingest->reader, &range)) != NULL)
			hold(ingest, msg, range);
	}
	else
	{
		msg = kafka_reader_next_wait(ingest->reader, &range, wait_ms, &timed_out);
		if (msg != NULL)
		{
			TimestampTz first = GetCurrentTimestamp();

			ingest->batch_start = first;
			hold(ingest, msg, range);
			while (!batch_full(ingest, ingest->capacity) &&
				   !TimestampDifferenceExceeds(first, GetCurrentTimestamp(),
											   ingest->target_output ? KAFKA_TARGET_LINGER_MS : LINGER_MS))
			{
				msg = kafka_reader_next_wait(ingest->reader, &range, 10, &timed_out);
				if (msg == NULL)
					break;
				hold(ingest, msg, range);
			}
		}
	}
	MemoryContextSwitchTo(old);
	return stream_ingest_pending(ingest);
}

bool
stream_ingest_pending(StreamIngest *ingest)
{
	int			i;

	if (ingest->nheld > 0)
		return true;
	for (i = 0; i < ingest->nranges; i++)
		if (ingest->range_array[i]->next_offset != ingest->committed[i])
			return true;
	return false;
}

void
stream_become_owner(StreamDef *def, StreamUserContext *ctx)
{
	GetUserIdAndSecContext(&ctx->saved_user, &ctx->saved_sec_context);
	SetUserIdAndSecContext(def->owner,
						   ctx->saved_sec_context | SECURITY_RESTRICTED_OPERATION);
	ctx->guc_nest_level = NewGUCNestLevel();
	(void) set_config_option("TimeZone", def->timezone, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("DateStyle", def->datestyle, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* the transform and the target's defaults see the creator's schemas */
	if (def->search_path)
		(void) set_config_option("search_path", def->search_path, PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
}

void
stream_restore_user(StreamUserContext *ctx)
{
	AtEOXact_GUC(false, ctx->guc_nest_level);
	SetUserIdAndSecContext(ctx->saved_user, ctx->saved_sec_context);
}

bool		stream_record_error_raised = false;

/*
 * The one rule for errors met while a batch is applied.  Only an error
 * proven to be a record's fault is the record's: a data exception (class
 * 22) or a value breaking a constraint (class 23, e.g. a domain's CHECK),
 * raised by the transform run over that record alone, or the decoder's
 * verdict on its bytes.  on_error decides what becomes of such a record.
 * Every other error is the batch's, and applying no part of it is the only
 * safe answer: retried later from the same offsets when it may pass
 * (serialization failures and deadlocks, out of memory and other
 * resources, operator intervention and query cancel, lost connections,
 * the brokers or the schema registry unreachable, lock timeouts, I/O
 * errors), otherwise the stream stops (missing relations and functions,
 * revoked privileges, syntax, program limits such as the stack depth,
 * unsupported features, corrupt data).
 */
StreamErrorKind
stream_classify_error(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_DATA_EXCEPTION:
		case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION:
			return STREAM_ERROR_RECORD;
		case ERRCODE_TRANSACTION_ROLLBACK:
		case ERRCODE_INSUFFICIENT_RESOURCES:
		case ERRCODE_OPERATOR_INTERVENTION:
		case ERRCODE_CONNECTION_EXCEPTION:
		case ERRCODE_FDW_ERROR:
		case ERRCODE_SYSTEM_ERROR:
			return STREAM_ERROR_RETRY;
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
			return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
				sqlerrcode == ERRCODE_OBJECT_IN_USE ?
				STREAM_ERROR_RETRY : STREAM_ERROR_STOP;
		case ERRCODE_INTERNAL_ERROR:
			return sqlerrcode == ERRCODE_INTERNAL_ERROR ?
				STREAM_ERROR_RETRY : STREAM_ERROR_STOP;
		default:
			return STREAM_ERROR_STOP;
	}
}

/*
 * An error that reached the top of a batch: does it stop the stream (a
 * record's error under on_error 'fail', or a permanent error of the batch)?
 */
bool
stream_error_is_permanent(ErrorData *edata)
{
	return stream_record_error_raised ||
		stream_classify_error(edata->sqlerrcode) != STREAM_ERROR_RETRY;
}

bool
stream_in_subtransaction(void (*fn) (void *arg), void *arg, ErrorData **edata)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		*edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
}

/* A held message as the record a target is given. */
static void
held_record(HeldMessage *h, StreamRecord *record)
{
	record->topic = h->range->topic;
	record->partition = h->range->partition;
	record->offset = h->msg->offset;
	record->key = h->msg->key;
	record->key_len = h->msg->key_len;
	record->value = h->msg->payload;
	record->value_len = h->msg->len;
	{
		rd_kafka_headers_t *headers = NULL;

		record->headers = rd_kafka_message_headers(h->msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR ?
			headers : NULL;
	}
}

/* Keep a copy of a bad record and its error for kafka.dead_letters. */
static void
keep_dead_letter(StreamIngest *ingest, List **dead, const StreamRecord *record,
				 const char *error)
{
	MemoryContext old = MemoryContextSwitchTo(ingest->batchcxt);
	DeadLetter *d = palloc(sizeof(DeadLetter));

	d->topic = CStringGetTextDatum(record->topic);
	d->partition = record->partition;
	d->offset = record->offset;
	d->key = record->key ? kafka_bytes_datum(record->key, record->key_len) : (Datum) 0;
	d->value = record->value ? kafka_bytes_datum(record->value, record->value_len) : (Datum) 0;
	d->error = pstrdup(error);
	d->nheaders = 0;
	if (stream_output_has_dead_letter_topic(ingest->output) && record->headers)
	{
		rd_kafka_headers_t *headers = (rd_kafka_headers_t *) record->headers;
		size_t		n = rd_kafka_header_cnt(headers);
		const char *name;
		const void *value;
		size_t		size;
		size_t		i;

		d->header_names = palloc(sizeof(char *) * Max(n, 1));
		d->header_values = palloc(sizeof(char *) * Max(n, 1));
		d->header_lens = palloc(sizeof(int) * Max(n, 1));
		for (i = 0; i < n &&
			 rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
		{
			d->header_names[i] = pstrdup(name);
			d->header_values[i] = value ? pnstrdup(value, size) : NULL;
			d->header_lens[i] = value ? (int) size : -1;
			ingest->dead_bytes += strlen(name) + size;
		}
		d->nheaders = (int) i;
	}
	ingest->dead_bytes += sizeof(DeadLetter) + record->key_len + record->value_len +
		strlen(error);
	*dead = lappend(*dead, d);
	MemoryContextSwitchTo(old);
}

/* Where the sink's rejected rows go (on_error 'dead_letter' or 'skip'). */
typedef struct SinkRejects
{
	StreamIngest *ingest;
	StreamTarget *target;		/* keeps the records it may still reject */
	List	  **dead;
	StreamBatchResult *result;
	int			next;			/* where to look first: rows come in order */
} SinkRejects;

/*
 * A row whose values do not fit the target (too long, out of range, a
 * domain's check) is its record's error: dead-lettered or skipped like a
 * record that does not decode.  Rows without a record fail the batch.
 */
static void
sink_reject(void *arg, const char *topic, int32 partition, int64 offset, ErrorData *edata)
{
	SinkRejects *rejects = arg;
	StreamIngest *ingest = rejects->ingest;
	StreamRecord record;
	char	   *error;
	int			n;

	if (topic != NULL && ingest->def->on_error == STREAM_ON_ERROR_SKIP)
	{
		rejects->result->skipped++;
		return;
	}

	if (topic == NULL)
		ReThrowError(edata);
	error = edata->context ?
		psprintf("%s (%s)", edata->message, edata->context) : edata->message;

	/*
	 * The sink hands rows over in the order they were put, which is the
	 * order of held[]: start after the last reject, so a batch of rejects
	 * costs one pass, not one per reject.
	 */
	for (n = 0; n < ingest->nheld; n++)
	{
		int			i = (rejects->next + n) % ingest->nheld;
		HeldMessage *h = &ingest->held[i];

		if (h->msg->offset != offset || h->range->partition != partition ||
			strcmp(h->range->topic, topic) != 0)
			continue;
		rejects->next = i + 1;
		held_record(h, &record);
		keep_dead_letter(ingest, rejects->dead, &record, error);
		return;
	}
	/* let go of (extend_batch): the target kept it */
	if (rejects->target &&
		stream_target_record(rejects->target, topic, partition, offset, &record))
	{
		keep_dead_letter(ingest, rejects->dead, &record, error);
		return;
	}
	ReThrowError(edata);
}

/* The error for a bad record under on_error 'fail', with its coordinates. */
static void
report_record_error(StreamIngest *ingest, HeldMessage *h, const char *error, int code)
{
	stream_record_error_raised = true;
	ereport(ERROR,
			(errcode(code ? code : ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("%s", error),
			 errcontext("kafka record %s[%d] at offset " INT64_FORMAT " of streaming table %s",
						h->range->topic, h->range->partition, h->msg->offset,
						ingest->def->target_name),
			 errhint("To keep the stream going past bad records: SELECT kafka.alter_streaming_table('%s', on_error => 'dead_letter') (or 'skip'), then kafka.resume_streaming_table('%s').",
					 ingest->def->target_name, ingest->def->target_name)));
}

/*
 * What the stream's last committed batch wrote, as the catalog keeps it
 * (streaming_tables.written_columns: input, attnum and name per column), so
 * that a column dropped or renamed while no batch ran (between refreshes,
 * while paused, across a restart) is noticed too.  NULL there (a new
 * stream, a resumed one, a catalog before 0.4): nothing to compare with.
 */
static void
load_written_columns(StreamIngest *ingest)
{
	StreamWrittenColumns *written = ingest->written;
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(ingest->def->target)};

	written->loaded = true;
	if (!ingest->catalog_has_schema_change)
		return;
	SPI_connect();
	if (stream_catalog_exec("SELECT written_columns FROM kafka.streaming_tables WHERE target = $1",
							1, types, args, NULL, true) == 1)
	{
		bool		isnull;
		Datum		array = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										  &isnull);

		if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(written->cxt);
			Datum	   *elems;
			bool	   *nulls;
			int			n;
			int			e;

			deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &n);
			written->columns = NIL;
			for (e = 0; e + 2 < n; e += 3)
			{
				WrittenColumn *column = palloc(sizeof(WrittenColumn));

				if (nulls[e] || nulls[e + 1] || nulls[e + 2])
					continue;
				column->input = TextDatumGetCString(elems[e]);
				column->attnum = (AttrNumber) atoi(TextDatumGetCString(elems[e + 1]));
				column->name = TextDatumGetCString(elems[e + 2]);
				written->columns = lappend(written->columns, column);
			}
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
}

/* Did this batch write other columns than the last one (as remembered)? */
static bool
written_columns_changed(StreamIngest *ingest)
{
	ListCell   *a;
	ListCell   *b;

	if (list_length(ingest->batch_written) != list_length(ingest->written->columns))
		return true;
	forboth(a, ingest->batch_written, b, ingest->written->columns)
	{
		WrittenColumn *x = lfirst(a);
		WrittenColumn *y = lfirst(b);

		if (x->attnum != y->attnum || strcmp(x->input, y->input) != 0 ||
			strcmp(x->name, y->name) != 0)
			return true;
	}
	return false;
}

/*
 * A batch is about to write rows shaped like input into rel (locked until
 * the batch ends): does every target column the previous batch wrote still
 * take its input column?  The columns map by name anew each batch, so a
 * column dropped or renamed since would silently stop receiving its values;
 * the batch raises an error instead, before anything is written, which
 * stops the stream (class 42) with the offsets where they were.  Resuming
 * it starts from the target as it is then.  Input columns that are gone
 * (the source changed, except_columns) are not the target's doing and are
 * not checked.  Remembers what this batch writes for the next one
 * (stream_ingest_committed).
 */
static void
check_written_columns(StreamIngest *ingest, Relation rel, TupleDesc input,
					  const char *input_name)
{
	StreamDef  *def = ingest->def;
	TupleDesc	desc = RelationGetDescr(rel);
	TupleDesc	written = stream_sink_written_columns(def, input);
	int		   *map = stream_sink_map_columns(rel, written, input_name);
	MemoryContext old = MemoryContextSwitchTo(ingest->batchcxt);
	ListCell   *lc;
	int			i;
	int			j;

	if (!ingest->written->loaded)
		load_written_columns(ingest);
	foreach(lc, ingest->written->columns)
	{
		WrittenColumn *column = lfirst(lc);
		Form_pg_attribute att;

		for (j = 0; j < written->natts; j++)
			if (!TupleDescAttr(written, j)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(written, j)->attname), column->input) == 0)
				break;
		if (j == written->natts)
			continue;
		for (i = 0; i < desc->natts; i++)
			if (map[i] == j)
				break;
		if (i < desc->natts)
			continue;
		att = column->attnum <= desc->natts ? TupleDescAttr(desc, column->attnum - 1) : NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 att == NULL || att->attisdropped ?
				 errmsg("column \"%s\" of streaming table %s was dropped, but its stream writes it",
						column->name, def->target_name) :
				 strcmp(NameStr(att->attname), column->name) != 0 ?
				 errmsg("column \"%s\" of streaming table %s was renamed to \"%s\", but its stream writes it by name",
						column->name, def->target_name, NameStr(att->attname)) :
				 errmsg("column \"%s\" of streaming table %s no longer takes the values its stream writes",
						column->name, def->target_name),
				 errdetail("It holds column \"%s\" of %s. The batch was not applied: no record is lost and no offset advanced.",
						   column->input, input_name),
				 errhint("To keep the column, add it back (or rename it back), then call kafka.resume_streaming_table(). "
						 "To go on without it, just call kafka.resume_streaming_table(): the stream then writes the columns the table has.")));
	}

	ingest->batch_written = NIL;
	for (i = 0; i < desc->natts; i++)
	{
		WrittenColumn *column;

		if (map[i] < 0)
			continue;
		column = palloc(sizeof(WrittenColumn));
		column->input = pstrdup(NameStr(TupleDescAttr(written, map[i])->attname));
		column->attnum = i + 1;
		column->name = pstrdup(NameStr(TupleDescAttr(desc, i)->attname));
		ingest->batch_written = lappend(ingest->batch_written, column);
	}
	ingest->batch_mapped = true;
	pfree(map);
	MemoryContextSwitchTo(old);
}

/*
 * Run the transform over rows (a tuplestore shaped like the source) and
 * return its result rows (heap tuples in the current context).
 */
static List *
run_transform(StreamIngest *ingest, Tuplestorestate *rows, int64 count,
			  TupleDesc *result_desc)
{
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));
	MemoryContext caller = CurrentMemoryContext;
	List	   *result = NIL;
	uint64		i;
	int			rc;

	enr->md.name = "batch";

	/*
	 * The rows were built with the source's layout as the ingest opened it:
	 * "batch" must have that layout, not the one the catalog may have now
	 * (a batch is applied only if the two agree, but the planner must never
	 * read these rows with another tuple descriptor).
	 */
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = ingest->source->desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = count;
	enr->reldata = rows;
	tuplestore_rescan(rows);
	SPI_connect();
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "could not register the batch relation");
	rc = SPI_execute(ingest->def->transform, true, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("transform of streaming table %s did not return rows", ingest->def->target_name)));
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		*result_desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
		for (i = 0; i < SPI_processed; i++)
			result = lappend(result, heap_copytuple(SPI_tuptable->vals[i]));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

/* What transform_batch hands the subtransaction. */
typedef struct TransformAttempt
{
	StreamIngest *ingest;
	Tuplestorestate *rows;
	int64		count;
	List	   *results;		/* out */
	TupleDesc	desc;			/* out */
} TransformAttempt;

static void
transform_attempt(void *arg)
{
	TransformAttempt *a = arg;

	a->results = run_transform(a->ingest, a->rows, a->count, &a->desc);
}

/* Apply the transform; on error find the bad records one by one. */
static void
transform_batch(StreamIngest *ingest, Tuplestorestate *rows, int64 count,
				int *row_index, List **dead, int64 *skipped, StreamTarget **target,
				Relation rel)
{
	TransformAttempt attempt = {ingest, rows, count, NIL, NULL};
	List	   *results;
	TupleDesc	desc;
	ErrorData  *edata;
	ListCell   *lc;

	if (stream_in_subtransaction(transform_attempt, &attempt, &edata))
	{
		results = attempt.results;
		desc = attempt.desc;
	}
	else
	{
		/* one record at a time, to give each error its coordinates */
		TupleDesc	source_desc = ingest->source->desc;
		TupleTableSlot *slot = MakeSingleTupleTableSlot(source_desc, &TTSOpsMinimalTuple);
		int64		n = 0;

		/* a failure of the statement, not of a record: the batch's error */
		if (stream_classify_error(edata->sqlerrcode) != STREAM_ERROR_RECORD)
			ReThrowError(edata);
		results = NIL;
		desc = NULL;
		tuplestore_rescan(rows);
		while (tuplestore_gettupleslot(rows, true, true, slot))
		{
			HeldMessage *h = &ingest->held[row_index[n++]];

			attempt.rows = tuplestore_begin_heap(false, false, work_mem);
			attempt.count = 1;
			tuplestore_puttupleslot(attempt.rows, slot);
			if (stream_in_subtransaction(transform_attempt, &attempt, &edata))
			{
				results = list_concat(results, attempt.results);
				desc = attempt.desc;
				tuplestore_end(attempt.rows);
				continue;
			}
			tuplestore_end(attempt.rows);
			/* not this record's fault: the whole batch fails */
			if (stream_classify_error(edata->sqlerrcode) != STREAM_ERROR_RECORD)
				ReThrowError(edata);
			switch (ingest->def->on_error)
			{
				case STREAM_ON_ERROR_FAIL:
					report_record_error(ingest, h, psprintf("transform failed: %s", edata->message),
										edata->sqlerrcode);
					break;
				case STREAM_ON_ERROR_DEAD_LETTER:
					{
						StreamRecord record;

						held_record(h, &record);
						keep_dead_letter(ingest, dead, &record,
										 psprintf("transform failed: %s", edata->message));
						break;
					}
				default:
					(*skipped)++;
					break;
			}
		}
		ExecDropSingleTupleTableSlot(slot);
	}

	if (desc != NULL)
	{
		*target = stream_target_begin(ingest->def, rel, desc, "the transform", NULL, NULL,
									  ingest->target_output);
		check_written_columns(ingest, rel, desc, "the transform");
		{
			Datum	   *values = palloc(sizeof(Datum) * desc->natts);
			bool	   *nulls = palloc(sizeof(bool) * desc->natts);

			foreach(lc, results)
			{
				heap_deform_tuple(lfirst(lc), desc, values, nulls);
				stream_target_put(*target, values, nulls, NULL, STREAM_CHANGE_UPSERT, NULL);
			}
		}
	}
}

/*
 * Decode the held records [from, to) and put them into the target (or,
 * with a transform, into rows, remembering each row's record in
 * row_index).  Bad records go by on_error.
 */
static void
put_held(StreamIngest *ingest, StreamTarget *target, Tuplestorestate *rows,
		 int *row_index, int64 *nrows, int from, int to, Datum *values,
		 bool *nulls, MemoryContext rowcxt, List **dead, StreamBatchResult *result)
{
	StreamDef  *def = ingest->def;
	KafkaTable *source = ingest->source;
	int			i;

	for (i = from; i < to; i++)
	{
		HeldMessage *h = &ingest->held[i];
		StreamRecord record;
		char	   *error;
		bool		ok;

		MemoryContextReset(rowcxt);
		MemoryContextSwitchTo(rowcxt);
		ok = kafka_table_decode(source, h->msg, h->range, values, nulls, &error);
		MemoryContextSwitchTo(ingest->batchcxt);
		held_record(h, &record);
		if (!ok)
		{
			switch (def->on_error)
			{
				case STREAM_ON_ERROR_FAIL:
					report_record_error(ingest, h, error, source->error_code);
					break;
				case STREAM_ON_ERROR_DEAD_LETTER:
					keep_dead_letter(ingest, dead, &record, error);
					continue;
				case STREAM_ON_ERROR_SKIP:
					result->skipped++;
					continue;
				case STREAM_ON_ERROR_NULL:
					break;		/* the row, payload NULL, error column set */
			}
		}
		if (record_skipped(source))
			continue;
		if (rows)
		{
			tuplestore_putvalues(rows, source->desc, values, nulls);
			row_index[(*nrows)++] = i;
		}
		else
			stream_target_put(target, values, nulls, record_unavailable(source),
							  def->mode == STREAM_MODE_UPSERT && h->msg->payload == NULL ?
							  STREAM_CHANGE_DELETE : STREAM_CHANGE_UPSERT,
							  &record);
	}
	MemoryContextReset(rowcxt);
}

/* Count the held records per range, for kafka.stream_offsets.records. */
static void
count_held(StreamIngest *ingest)
{
	int			i;
	int			j = 0;

	for (i = 0; i < ingest->nheld; i++)
	{
		KafkaPartitionRange *range = ingest->held[i].range;
		int			n;

		/* records come in runs of one partition: try the last one first */
		for (n = 0; n < ingest->nranges && ingest->range_array[j] != range; n++)
			j = (j + 1) % ingest->nranges;
		if (ingest->range_array[j] == range)
			ingest->records[j]++;
	}
}

/*
 * Go on with the same batch?  A target that collapses what it is given
 * (a keyed target of SCD type 1, stream_target_collapsed_bytes) holds its
 * keys, not the records: the records put so far can go and more can be
 * read into the batch, in its transaction, until it has
 * max_offsets_per_trigger records, the target and the dead letters hold
 * STREAM_KEYED_BATCH_BYTES, or nothing more is ready.  Each key is then written
 * once per batch, not once per fill, and memory stays bounded by the keys
 * and one fill.  Not with a transform (it runs over the whole batch), nor
 * when a reject still to come would need a record let go (dead letters of
 * values the target refuses when written).
 */
static bool
extend_batch(StreamIngest *ingest, StreamTarget *target, int64 records)
{
	MemoryContext old;
	rd_kafka_message_t *msg;
	KafkaPartitionRange *range;
	bool		timed_out;
	int64		bytes;
	int			limit;

	if (target == NULL || records >= ingest->batch_records)
		return false;
	bytes = stream_target_collapsed_bytes(target);
	if (bytes < 0 || bytes + ingest->dead_bytes >= STREAM_KEYED_BATCH_BYTES)
		return false;
	free_held(ingest);
	limit = (int) Min(ingest->capacity, ingest->batch_records - records);
	old = MemoryContextSwitchTo(ingest->cxt);
	while (!batch_full(ingest, limit))
	{
		/* only what is ready: a continuous batch does not wait for more */
		msg = ingest->bounded ?
			kafka_reader_next(ingest->reader, &range) :
			kafka_reader_next_wait(ingest->reader, &range, 0, &timed_out);
		if (msg == NULL)
			break;
		hold(ingest, msg, range);
	}
	MemoryContextSwitchTo(old);
	return ingest->nheld > 0;
}

/*
 * An error writing rows that some record may have caused: a data
 * exception or a constraint (NOT NULL, CHECK, unique, foreign key,
 * exclusion, no partition for the row), or an error a trigger of the
 * target raised (PL/pgSQL's RAISE).
 */
static bool
is_write_record_error(int sqlerrcode)
{
	return stream_classify_error(sqlerrcode) == STREAM_ERROR_RECORD ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_PLPGSQL_ERROR;
}

/* What try_write hands the subtransaction. */
typedef struct WriteAttempt
{
	StreamIngest *ingest;
	Relation	rel;
	const char *input_name;
	SinkRejects *rejects;
	int			from;
	int			to;
	Datum	   *values;
	bool	   *nulls;
	MemoryContext rowcxt;
	StreamBatchResult *result;
	MemoryContext cxt;			/* the attempt's memory */
} WriteAttempt;

static void
write_attempt(void *arg)
{
	WriteAttempt *a = arg;
	StreamTarget *target;
	StreamTargetCounts counts;

	MemoryContextSwitchTo(a->cxt);
	target = stream_target_begin(a->ingest->def, a->rel, a->ingest->source->desc,
								 a->input_name, sink_reject, a->rejects, NULL);
	a->rejects->target = target;
	a->rejects->next = a->from;
	put_held(a->ingest, target, NULL, NULL, NULL, a->from, a->to, a->values, a->nulls,
			 a->rowcxt, a->rejects->dead, a->result);
	MemoryContextSwitchTo(a->cxt);
	stream_target_end(target, &counts);
	a->result->inserted += counts.inserted;
	a->result->updated += counts.updated;
	a->result->deleted += counts.deleted;
}

/*
 * Write the held records [from, to) into the append target in a statement
 * of their own, in a subtransaction: false, with the error, and nothing of
 * the attempt kept (rows, dead letters, skips) when it failed.
 */
static bool
try_write(StreamIngest *ingest, Relation rel, const char *input_name,
		  SinkRejects *rejects, int from, int to, Datum *values, bool *nulls,
		  MemoryContext rowcxt, StreamBatchResult *result, ErrorData **edata)
{
	WriteAttempt attempt = {ingest, rel, input_name, rejects, from, to, values, nulls,
	rowcxt, result, NULL};
	List	  **dead = rejects->dead;
	int			ndead = list_length(*dead);
	int64		skipped = result->skipped;
	int64		inserted = result->inserted;
	int64		updated = result->updated;
	int64		deleted = result->deleted;
	int64		dead_bytes = ingest->dead_bytes;
	bool		ok;

	attempt.cxt = AllocSetContextCreate(ingest->batchcxt, "kafka stream write",
										ALLOCSET_DEFAULT_SIZES);
	ok = stream_in_subtransaction(write_attempt, &attempt, edata);
	MemoryContextDelete(attempt.cxt);
	rejects->target = NULL;
	if (!ok)
	{
		*dead = list_truncate(*dead, ndead);
		result->skipped = skipped;
		result->inserted = inserted;
		result->updated = updated;
		result->deleted = deleted;
		ingest->dead_bytes = dead_bytes;
		stream_record_error_raised = false;
	}
	return ok;
}

/*
 * Find the records of [from, to) that cannot be written: halves in
 * statements of their own, down to the one record that fails alone, which
 * goes by on_error.  The others are written.
 */
static void
write_halves(StreamIngest *ingest, Relation rel, const char *input_name,
			 SinkRejects *rejects, int from, int to, Datum *values, bool *nulls,
			 MemoryContext rowcxt, StreamBatchResult *result)
{
	ErrorData  *edata;
	int			middle;

	if (from >= to ||
		try_write(ingest, rel, input_name, rejects, from, to, values, nulls,
				  rowcxt, result, &edata))
		return;
	if (!is_write_record_error(edata->sqlerrcode))
		ReThrowError(edata);
	if (to - from > 1)
	{
		middle = from + (to - from) / 2;
		FreeErrorData(edata);
		write_halves(ingest, rel, input_name, rejects, from, middle, values, nulls,
					 rowcxt, result);
		write_halves(ingest, rel, input_name, rejects, middle, to, values, nulls,
					 rowcxt, result);
		return;
	}
	if (ingest->def->on_error == STREAM_ON_ERROR_SKIP)
		result->skipped++;
	else
	{
		StreamRecord record;

		StringInfoData error;

		/* the detail names the key of a unique or foreign key violation */
		initStringInfo(&error);
		appendStringInfoString(&error, edata->message);
		if (edata->detail)
			appendStringInfo(&error, ": %s", edata->detail);
		if (edata->context)
			appendStringInfo(&error, " (%s)", edata->context);
		held_record(&ingest->held[from], &record);
		keep_dead_letter(ingest, rejects->dead, &record, error.data);
	}
	FreeErrorData(edata);
}

/*
 * Can a keyed target refuse a row when it writes it, for a reason a record
 * holds, beyond its values (which the sink checks row by row)?  Its
 * triggers (a foreign key's too) may raise, an exclusion constraint or a
 * unique index other than the keys' may be violated.  Such a keyed target
 * is written as an append target is under 'dead_letter' and 'skip'
 * (write_held): one fill a batch, written again in halves when it fails;
 * others collapse across fills (extend_batch).
 */
static bool
refuses_when_written(Relation rel)
{
	List	   *indexes;
	ListCell   *lc;
	int			unique = 0;
	bool		exclusion = false;

	if (rel->rd_rel->relhastriggers || rel->trigdesc != NULL)
		return true;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(tup))
			continue;
		unique += ((Form_pg_index) GETSTRUCT(tup))->indisunique;
		exclusion |= ((Form_pg_index) GETSTRUCT(tup))->indisexclusion;
		ReleaseSysCache(tup);
	}
	list_free(indexes);
	return exclusion || unique > 1;
}

/*
 * The held records into an append target (or a keyed one that may refuse
 * rows when written), under on_error 'dead_letter' or 'skip'.  The batch is one statement in one subtransaction.  When it
 * fails because of what a record holds (a constraint of the target, a
 * trigger's error: raised when rows are written, after the checks of
 * values the sink makes row by row), the batch is written again in halves
 * to find the records that fail alone; they are dead-lettered or skipped
 * like records that do not decode.  Only failing batches pay for more than
 * one statement.  An error that does not depend on the records (the
 * statement fails without any) is the batch's.
 */
static void
write_held(StreamIngest *ingest, Relation rel, const char *input_name,
		   SinkRejects *rejects, Datum *values, bool *nulls,
		   MemoryContext rowcxt, StreamBatchResult *result)
{
	ErrorData  *edata;

	if (try_write(ingest, rel, input_name, rejects, 0, ingest->nheld, values, nulls,
				  rowcxt, result, &edata))
		return;
	if (!is_write_record_error(edata->sqlerrcode))
		ReThrowError(edata);
	FreeErrorData(edata);
	if (!try_write(ingest, rel, input_name, rejects, 0, 0, values, nulls, rowcxt,
				   result, &edata))
		ReThrowError(edata);
	write_halves(ingest, rel, input_name, rejects, 0, ingest->nheld, values, nulls,
				 rowcxt, result);
}

/* A field schema evolution makes a column of. */
typedef struct NewColumn
{
	char	   *name;
	const char *type_name;
} NewColumn;

/*
 * schema_evolution 'add_columns': the fields of the held records that no
 * column of the source takes become nullable columns of the source and,
 * when it has none of that name, of the target (its partitions with it),
 * typed as the codec says (kafka_decoder_unknown_fields), in the batch's
 * transaction, before the batch is decoded for good.  A field seen with
 * several types in the batch gets one that takes them all (bigint and
 * numeric: numeric; others: jsonb).  Columns are only added: a later value
 * the column's type cannot take is a bad record.  A field only ever null has no type yet and waits.  At most
 * STREAM_EVOLUTION_MAX_COLUMNS a batch, names that fit an identifier only,
 * so that hostile payloads cannot flood the tables with columns.  Runs as
 * the stream's owner, who must own both tables.  True when columns were
 * added: the ingest then reads the source as it is now.
 */
#define STREAM_EVOLUTION_MAX_COLUMNS 50

static bool
evolve_schema(StreamIngest *ingest, MemoryContext rowcxt, Datum *values, bool *nulls)
{
	StreamDef  *def = ingest->def;
	KafkaTable *source = ingest->source;
	List	   *found = NIL;
	StringInfoData source_sql;
	StringInfoData target_sql;
	StringInfoData change;
	ListCell   *lc;
	int			target_added = 0;
	int			i;

	for (i = 0; i < ingest->nheld; i++)
	{
		HeldMessage *h = &ingest->held[i];
		char	   *error;
		int			f;

		MemoryContextReset(rowcxt);
		MemoryContextSwitchTo(rowcxt);
		(void) kafka_table_decode(source, h->msg, h->range, values, nulls, &error);
		MemoryContextSwitchTo(ingest->batchcxt);
		if (source->unknown == NULL)
			break;
		for (f = 0; f < source->unknown->count; f++)
		{
			KafkaUnknownField *field = &source->unknown->fields[f];
			bool		seen = false;

			if (field->type_name == NULL || strlen(field->name) >= NAMEDATALEN ||
				field->name[0] == '\0')
				continue;
			foreach(lc, found)
			{
				NewColumn  *column = lfirst(lc);

				if (strcmp(column->name, field->name) != 0)
					continue;
				/* seen with another type: one that takes both */
				if (strcmp(column->type_name, field->type_name) != 0)
					column->type_name =
						(strcmp(column->type_name, "bigint") == 0 ||
						 strcmp(column->type_name, "numeric") == 0) &&
						(strcmp(field->type_name, "bigint") == 0 ||
						 strcmp(field->type_name, "numeric") == 0) ?
						"numeric" : "jsonb";
				seen = true;
			}
			if (seen)
				continue;
			if (list_length(found) == STREAM_EVOLUTION_MAX_COLUMNS)
			{
				ereport(LOG,
						(errmsg("streaming table %s: schema evolution adds at most %d columns a batch; field \"%s\" waits for the next",
								def->target_name, STREAM_EVOLUTION_MAX_COLUMNS, field->name)));
				continue;
			}
			{
				NewColumn  *column = palloc(sizeof(NewColumn));

				column->name = pstrdup(field->name);
				column->type_name = pstrdup(field->type_name);
				found = lappend(found, column);
			}
		}
	}
	MemoryContextReset(rowcxt);
	if (found == NIL)
		return false;

	initStringInfo(&source_sql);
	initStringInfo(&target_sql);
	initStringInfo(&change);
	appendStringInfo(&source_sql, "ALTER FOREIGN TABLE %s",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(def->source)),
												get_rel_name(def->source)));
	appendStringInfo(&target_sql, "ALTER TABLE %s", def->target_name);
	foreach(lc, found)
	{
		NewColumn  *column = lfirst(lc);
		const char *item = psprintf(" ADD COLUMN IF NOT EXISTS %s %s",
									quote_identifier(column->name), column->type_name);

		appendStringInfo(&source_sql, "%s%s", foreach_current_index(lc) ? "," : "", item);
		appendStringInfo(&change, "%s%s %s", change.len ? ", " : "",
						 quote_identifier(column->name), column->type_name);
		if (get_attnum(def->target, column->name) == InvalidAttrNumber)
			appendStringInfo(&target_sql, "%s%s", target_added++ ? "," : "", item);
	}
	SPI_connect();
	if (SPI_execute(source_sql.data, false, 0) != SPI_OK_UTILITY ||
		(target_added > 0 && SPI_execute(target_sql.data, false, 0) != SPI_OK_UTILITY))
		elog(ERROR, "schema evolution of streaming table %s failed", def->target_name);
	if (ingest->catalog_has_schema_change)
	{
		Oid			types[2] = {OIDOID, TEXTOID};
		Datum		args[2] = {ObjectIdGetDatum(def->target), CStringGetTextDatum(change.data)};

		stream_catalog_exec("UPDATE kafka.streaming_tables SET last_schema_change = 'added ' || $2, "
							"last_schema_change_at = now() WHERE target = $1",
							2, types, args, NULL, false);
	}
	SPI_finish();
	CommandCounterIncrement();
	ereport(LOG,
			(errmsg("streaming table %s: schema evolution added %s", def->target_name,
					change.data)));

	/* the source as it is now, for this batch and the next */
	{
		MemoryContext old = MemoryContextSwitchTo(ingest->cxt);

		ingest->source = kafka_table_open(def->source, ingest->cxt);
		kafka_table_report_unknown_fields(ingest->source);
		ingest->dependencies = check_dependencies(def, AccessShareLock);
		MemoryContextSwitchTo(old);
	}
	return true;
}

/*
 * In a transaction: does the open ingest still match the catalog?  Raises
 * the error that stops the stream when something it depends on vanished or
 * a privilege was revoked (see check_dependencies).
 */
bool
stream_ingest_same_definition(StreamIngest *ingest, StreamDef *def)
{
	/* the group it mirrors to: also set by ALTER EXTENSION UPDATE (0.6) */
	const char *group = ingest->output == NULL && def->commit_offsets_to_group ?
		def->group_id : NULL;

	if (ingest->def->altered_at != def->altered_at)
		return false;
	if (group == NULL || ingest->mirror_group == NULL)
		return group == ingest->mirror_group;
	return strcmp(group, ingest->mirror_group) == 0;
}

bool
stream_ingest_is_current(StreamIngest *ingest, StreamDef *def)
{
	return stream_ingest_same_definition(ingest, def) &&
		strcmp(check_dependencies(ingest->def, AccessShareLock),
			   ingest->dependencies) == 0;
}

/*
 * kafka.stream_history's offsets of a batch: {"topic": {"partition": [start,
 * end]}}, ranges of one topic together (the ranges come topic by topic).
 */
static void
append_offset_range(StringInfo buf, const char **last_topic, const char *topic,
					int32 partition, int64 start, int64 end)
{
	if (*last_topic == NULL || strcmp(*last_topic, topic) != 0)
	{
		if (*last_topic)
			appendStringInfoString(buf, "}, ");
		escape_json(buf, topic);
		appendStringInfoString(buf, ": {");
		*last_topic = topic;
	}
	else
		appendStringInfoString(buf, ", ");
	appendStringInfo(buf, "\"%d\": [" INT64_FORMAT ", " INT64_FORMAT "]", partition, start, end);
}

/*
 * In the batch's transaction (SPI connected): the catalog's counters of the
 * stream (its last batch and its totals) and batch_id move on, the batch's
 * row of kafka.stream_history is written and the rows beyond
 * kafka_fdw.stream_history_size deleted.
 */
static void
record_batch(StreamIngest *ingest, StreamBatchResult *result, int64 records,
			 const char *offsets, int64 lag_after)
{
	StreamDef  *def = ingest->def;
	double		seconds = (double) (GetCurrentTimestamp() - ingest->batch_start) / 1000000.0;
	Oid			types[10] = {OIDOID, INT8OID, INT8OID, FLOAT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		sv[10] = {ObjectIdGetDatum(def->target), Int64GetDatum(result->rows),
		Int64GetDatum(records),
		Float8GetDatum(seconds > 0 ? result->rows / seconds : 0),
		Int64GetDatum(def->batch_id), Int64GetDatum(result->inserted),
		Int64GetDatum(result->updated), Int64GetDatum(result->deleted),
	Int64GetDatum(ingest->batch_bytes), Int64GetDatum(result->dead_letters)};

	if (stream_catalog_exec("UPDATE kafka.streaming_tables SET batch_id = batch_id + 1, "
							"last_batch_at = now(), last_batch_rows = $2, last_batch_records = $3, "
							"rows_per_second = $4, last_batch_inserted = $6, "
							"last_batch_updated = $7, last_batch_deleted = $8, "
							"last_batch_bytes = $9, last_batch_dead_letters = $10, "
							"total_records = total_records + $3, total_rows = total_rows + $2, "
							"total_bytes = total_bytes + $9, "
							"total_dead_letters = total_dead_letters + $10 "
							"WHERE target = $1 AND batch_id = $5",
							10, types, sv, NULL, false) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("streaming table %s was changed or dropped during the batch",
						def->target_name)));
	if (stream_history_size > 0)
	{
		Oid			htypes[13] = {OIDOID, INT8OID, TIMESTAMPTZOID, INT8OID, INT8OID,
		INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, INT8OID, INT8OID};
		Datum		hv[13] = {ObjectIdGetDatum(def->target), Int64GetDatum(def->batch_id + 1),
			TimestampTzGetDatum(ingest->batch_start), Int64GetDatum(records),
			Int64GetDatum(result->inserted), Int64GetDatum(result->updated),
			Int64GetDatum(result->deleted), Int64GetDatum(ingest->batch_bytes),
			Int64GetDatum(result->dead_letters), Int64GetDatum(result->skipped),
			CStringGetTextDatum(offsets), Int64GetDatum(lag_after),
		Int64GetDatum(def->batch_id + 1 - stream_history_size)};

		stream_catalog_exec("INSERT INTO kafka.stream_history (stream, batch_id, started_at, duration, "
							"records, rows_inserted, rows_updated, rows_deleted, bytes, dead_letters, "
							"skipped, offsets, lag) "
							"VALUES ($1, $2, $3, clock_timestamp() - $3, $4, $5, $6, $7, $8, $9, "
							"$10, $11::jsonb, $12)",
							12, htypes, hv, NULL, false);
		/* the PRIMARY KEY's index finds the older rows */
		stream_catalog_exec("DELETE FROM kafka.stream_history WHERE stream = $1 AND batch_id <= $13",
							13, htypes, hv, NULL, false);
	}
}

bool
stream_ingest_apply(StreamIngest *ingest, StreamBatchResult *result)
{
	StreamDef  *def = ingest->def;
	KafkaTable *source = ingest->source;
	TupleDesc	source_desc = source->desc;
	MemoryContext old = MemoryContextSwitchTo(ingest->batchcxt);
	MemoryContext rowcxt = AllocSetContextCreate(ingest->batchcxt, "kafka stream row",
												 ALLOCSET_SMALL_SIZES);
	StreamUserContext user;
	Relation	rel;
	StreamTarget *target = NULL;
	StreamTargetCounts counts;
	Tuplestorestate *rows = NULL;
	SinkRejects *rejects = NULL;
	const char *input_name = NULL;
	int		   *row_index = NULL;
	int64		nrows = 0;
	int64		records = 0;
	Datum	   *values = palloc(sizeof(Datum) * Max(source_desc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(source_desc->natts, 1));
	List	   *dead = NIL;
	ListCell   *lc;
	int			i;
	double		seconds;
	StringInfoData offsets;		/* for kafka.stream_history */
	const char *offsets_topic = NULL;
	int64		lag_after = 0;

	memset(result, 0, sizeof(*result));
	stream_record_error_raised = false;

	/*
	 * Privileges and dependencies are checked each batch, under the locks it
	 * holds to its end.  The rows were fetched for the source as it was when
	 * the ingest opened: if the source, its server or its user mapping
	 * changed since, apply nothing; the caller reopens the ingest, which
	 * reads the batch again from the committed offsets.
	 */
	if (strcmp(check_dependencies(def, RowExclusiveLock), ingest->dependencies) != 0)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(rowcxt);
		return false;
	}

	/* a stream into Kafka: the batch's Kafka transaction */
	if (ingest->output)
		stream_output_begin(ingest->output);

	/* the data part runs as the owner */
	stream_become_owner(def, &user);
	if (def->add_columns && evolve_schema(ingest, rowcxt, values, nulls))
	{
		/* the decode below fills the new columns */
		source = ingest->source;
		source_desc = source->desc;
		values = repalloc(values, sizeof(Datum) * Max(source_desc->natts, 1));
		nulls = repalloc(nulls, sizeof(bool) * Max(source_desc->natts, 1));
	}
	rel = table_open(def->target, NoLock);

	if (def->transform)
	{
		rows = tuplestore_begin_heap(false, false, work_mem);
		row_index = palloc(sizeof(int) * Max(ingest->nheld, 1));
	}
	else
	{
		if (def->on_error == STREAM_ON_ERROR_DEAD_LETTER || def->on_error == STREAM_ON_ERROR_SKIP)
		{
			rejects = palloc(sizeof(SinkRejects));
			rejects->ingest = ingest;
			rejects->dead = &dead;
			rejects->result = result;
			rejects->next = 0;
			rejects->target = NULL;
		}
		input_name = psprintf("foreign table \"%s\"", source->relname);
		/* with rejects, appends and keyed targets that may refuse: write_held */
		if (rejects == NULL || ingest->target_output ||
			(def->mode != STREAM_MODE_APPEND && !refuses_when_written(rel)))
		{
			target = stream_target_begin(def, rel, source_desc, input_name,
										 rejects ? sink_reject : NULL, rejects,
										 ingest->target_output);
			if (rejects)
				rejects->target = target;
		}
		check_written_columns(ingest, rel, source_desc, input_name);
	}

	for (i = 0; i < ingest->nranges; i++)
		ingest->records[i] = 0;
	ingest->dead_bytes = 0;
	if (rows == NULL && target == NULL)
	{
		write_held(ingest, rel, input_name, rejects, values, nulls, rowcxt, result);
		count_held(ingest);
		records = ingest->nheld;
		result->rows = result->inserted + result->updated;
	}
	else
	{
		for (;;)
		{
			put_held(ingest, target, rows, row_index, &nrows, 0, ingest->nheld,
					 values, nulls, rowcxt, &dead, result);
			count_held(ingest);
			records += ingest->nheld;
			if (!extend_batch(ingest, target, records))
				break;
		}
	}
	MemoryContextReset(rowcxt);

	if (rows)
	{
		transform_batch(ingest, rows, nrows, row_index, &dead, &result->skipped, &target, rel);
		tuplestore_end(rows);
	}
	if (target)
	{
		stream_target_end(target, &counts);
		result->inserted = counts.inserted;
		result->updated = counts.updated;
		result->deleted = counts.deleted;
		result->rows = counts.inserted + counts.updated;
	}
	table_close(rel, NoLock);
	stream_restore_user(&user);

	/* the catalog: dead letters, lost ranges, offsets, batch id */
	SPI_connect();
	if (ingest->batch_mapped && ingest->catalog_has_schema_change &&
		written_columns_changed(ingest))
	{
		List	   *items = NIL;
		Oid			types[2] = {OIDOID, TEXTARRAYOID};
		Datum		args[2];

		foreach(lc, ingest->batch_written)
		{
			WrittenColumn *column = lfirst(lc);

			items = lappend(items, column->input);
			items = lappend(items, psprintf("%d", column->attnum));
			items = lappend(items, column->name);
		}
		args[0] = ObjectIdGetDatum(def->target);
		args[1] = stream_keyed_text_array(items);
		stream_catalog_exec("UPDATE kafka.streaming_tables SET written_columns = $2 WHERE target = $1",
							2, types, args, NULL, false);
	}
	foreach(lc, dead)
	{
		DeadLetter *d = lfirst(lc);
		Oid			types[7] = {OIDOID, TEXTOID, INT4OID, INT8OID, BYTEAOID, BYTEAOID, TEXTOID};
		Datum		dv[7];
		char		dn[8] = "       ";

		/* to the dead-letter topic, in the batch's Kafka transaction */
		if (stream_output_has_dead_letter_topic(ingest->output))
		{
			StreamDeadLetter letter;

			letter.topic = TextDatumGetCString(d->topic);
			letter.partition = d->partition;
			letter.offset = d->offset;
			letter.key = d->key ? VARDATA_ANY(DatumGetPointer(d->key)) : NULL;
			letter.key_len = d->key ? VARSIZE_ANY_EXHDR(DatumGetPointer(d->key)) : 0;
			letter.value = d->value ? VARDATA_ANY(DatumGetPointer(d->value)) : NULL;
			letter.value_len = d->value ? VARSIZE_ANY_EXHDR(DatumGetPointer(d->value)) : 0;
			letter.nheaders = d->nheaders;
			letter.header_names = d->header_names;
			letter.header_values = d->header_values;
			letter.header_lens = d->header_lens;
			letter.error = d->error;
			stream_output_dead_letter(ingest->output, &letter);
			result->dead_letters++;
			continue;
		}

		dv[0] = ObjectIdGetDatum(def->target);
		dv[1] = d->topic;
		dv[2] = Int32GetDatum(d->partition);
		dv[3] = Int64GetDatum(d->offset);
		dv[4] = d->key;
		dn[4] = d->key ? ' ' : 'n';
		dv[5] = d->value;
		dn[5] = d->value ? ' ' : 'n';
		dv[6] = CStringGetTextDatum(d->error);
		stream_catalog_exec("INSERT INTO kafka.dead_letters (stream, topic, \"partition\", \"offset\", key, value, error) "
							"VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, types, dv, dn, false);
		result->dead_letters++;
	}
	initStringInfo(&offsets);
	appendStringInfoChar(&offsets, '{');
	for (i = 0; i < ingest->nranges; i++)
	{
		KafkaPartitionRange *r = ingest->range_array[i];
		int64		low,
					high = r->high_watermark;

		/* the watermark librdkafka saw in the last fetch response */
		if (rd_kafka_get_watermark_offsets(ingest->client->rk, r->topic, r->partition,
										   &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
			high < r->high_watermark)
			high = r->high_watermark;
		if (high > r->next_offset)
			lag_after += high - r->next_offset;
		if (r->lost_from >= 0)
		{
			Oid			types[5] = {OIDOID, TEXTOID, INT4OID, INT8OID, INT8OID};
			Datum		lv[5] = {ObjectIdGetDatum(def->target), r->topic_datum,
				Int32GetDatum(r->partition), Int64GetDatum(r->lost_from),
			Int64GetDatum(r->lost_to)};

			stream_catalog_exec("INSERT INTO kafka.stream_lost_offsets (stream, topic, \"partition\", from_offset, to_offset) "
								"VALUES ($1, $2, $3, $4, $5)", 5, types, lv, NULL, false);
		}
		if (r->next_offset == ingest->committed[i])
			continue;
		append_offset_range(&offsets, &offsets_topic, r->topic, r->partition,
							ingest->committed[i], r->next_offset);
		{
			Oid			types[7] = {OIDOID, TEXTOID, INT4OID, INT8OID, INT8OID, INT8OID, INT8OID};
			Datum		ov[7] = {ObjectIdGetDatum(def->target), r->topic_datum,
				Int32GetDatum(r->partition), Int64GetDatum(r->next_offset),
				Int64GetDatum(Max(high, r->next_offset)), Int64GetDatum(ingest->records[i]),
			Int64GetDatum(ingest->committed[i])};

			if (stream_catalog_exec("UPDATE kafka.stream_offsets SET next_offset = $4, high_watermark = $5, records = $6 "
									"WHERE stream = $1 AND topic = $2 AND \"partition\" = $3 AND next_offset = $7",
									7, types, ov, NULL, false) != 1)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("offsets of streaming table %s for %s[%d] changed during the batch",
								def->target_name, r->topic, r->partition),
						 errdetail("Another refresh, a worker or kafka.reset_offsets() advanced them; this batch is rolled back and nothing is written twice.")));
		}
	}
	if (offsets_topic)
		appendStringInfoChar(&offsets, '}');
	appendStringInfoChar(&offsets, '}');
	seconds = (double) (GetCurrentTimestamp() - ingest->batch_start) / 1000000.0;
	if (ingest->catalog_has_totals)
		record_batch(ingest, result, records, offsets.data, lag_after);
	else
	{
		Oid			types[8] = {OIDOID, INT8OID, INT8OID, FLOAT8OID, INT8OID,
		INT8OID, INT8OID, INT8OID};
		Datum		sv[8] = {ObjectIdGetDatum(def->target), Int64GetDatum(result->rows),
			Int64GetDatum(records),
			Float8GetDatum(seconds > 0 ? result->rows / seconds : 0),
			Int64GetDatum(def->batch_id), Int64GetDatum(result->inserted),
		Int64GetDatum(result->updated), Int64GetDatum(result->deleted)};

		/* an older catalog (before ALTER EXTENSION UPDATE) has no counters */
		if (stream_catalog_exec(ingest->catalog_has_counters ?
								"UPDATE kafka.streaming_tables SET batch_id = batch_id + 1, "
								"last_batch_at = now(), last_batch_rows = $2, last_batch_records = $3, "
								"rows_per_second = $4, last_batch_inserted = $6, "
								"last_batch_updated = $7, last_batch_deleted = $8 "
								"WHERE target = $1 AND batch_id = $5" :
								"UPDATE kafka.streaming_tables SET batch_id = batch_id + 1, "
								"last_batch_at = now(), last_batch_rows = $2, last_batch_records = $3, "
								"rows_per_second = $4 WHERE target = $1 AND batch_id = $5",
								8, types, sv, NULL, false) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("streaming table %s was changed or dropped during the batch",
							def->target_name)));
	}
	SPI_finish();

	/*
	 * Last, the Kafka transaction: its records and the input offsets become
	 * visible together, just before the catalog's (see kafka_target.c).
	 */
	if (ingest->output)
		stream_output_commit(ingest->output, ingest->range_array, ingest->nranges,
							 def->batch_id + 1);
	result->records = records;
	MemoryContextSwitchTo(old);
	return true;
}

void
stream_ingest_committed(StreamIngest *ingest)
{
	int			i;

	for (i = 0; i < ingest->nranges; i++)
	{
		ingest->committed[i] = ingest->range_array[i]->next_offset;
		ingest->range_array[i]->lost_from = -1;
		ingest->range_array[i]->lost_to = -1;
	}
	ingest->def->batch_id++;
	if (ingest->batch_mapped)
	{
		StreamWrittenColumns *written = ingest->written;
		MemoryContext old;
		ListCell   *lc;

		MemoryContextReset(written->cxt);
		old = MemoryContextSwitchTo(written->cxt);
		written->columns = NIL;
		foreach(lc, ingest->batch_written)
		{
			WrittenColumn *column = palloc(sizeof(WrittenColumn));

			*column = *(WrittenColumn *) lfirst(lc);
			column->input = pstrdup(column->input);
			column->name = pstrdup(column->name);
			written->columns = lappend(written->columns, column);
		}
		MemoryContextSwitchTo(old);
		ingest->batch_written = NIL;
		ingest->batch_mapped = false;
	}
	free_held(ingest);
	MemoryContextReset(ingest->batchcxt);
}

/*
 * How the previous commit went: a failure is a warning, not an error.  What
 * it allocates goes with the next batch (callers run between transactions).
 */
static void
report_mirror_outcome(StreamIngest *ingest)
{
	MemoryContext old = MemoryContextSwitchTo(ingest->batchcxt);
	char	   *message;
	int			outcome = kafka_group_committer_outcome(group_mirror, ingest->client, &message);

	if (outcome < 0)
		stream_report_warning(psprintf("streaming table %s could not commit its offsets to consumer group \"%s\": %s",
									   ingest->def->target_name, ingest->mirror_group, message));
	else if (outcome > 0)
		stream_report_warning(NULL);
	MemoryContextSwitchTo(old);
}

void
stream_ingest_mirror_report(StreamIngest *ingest)
{
	if (ingest->mirror_due)
		post_mirror_offsets(ingest);
	else if (ingest->mirror_group && group_mirror && group_mirror_target == ingest->def->target)
		report_mirror_outcome(ingest);
}

void
stream_ingest_mirror_flush(StreamIngest *ingest)
{
	TimestampTz deadline;

	if (ingest->mirror_due)
		post_mirror_offsets(ingest);
	if (ingest->mirror_group == NULL || group_mirror == NULL ||
		group_mirror_target != ingest->def->target)
		return;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   ingest->client->spec->connect_timeout_ms + 1000);
	while (kafka_group_committer_busy(group_mirror) && GetCurrentTimestamp() < deadline)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 5,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	report_mirror_outcome(ingest);
}

static void
post_mirror_offsets(StreamIngest *ingest)
{
	rd_kafka_topic_partition_list_t *offsets;
	int			i;

	if (ingest->mirror_group == NULL)
	{
		stream_report_warning(NULL);
		return;
	}
	if (group_mirror != NULL && group_mirror_target != ingest->def->target)
	{
		kafka_group_committer_release(group_mirror);
		group_mirror = NULL;
	}
	if (group_mirror == NULL)
	{
		group_mirror = kafka_group_committer_create();
		group_mirror_target = ingest->def->target;
	}

	report_mirror_outcome(ingest);
	ingest->mirror_posted_at = GetCurrentTimestamp();
	ingest->mirror_due = false;

	offsets = rd_kafka_topic_partition_list_new(Max(ingest->nranges, 1));
	for (i = 0; i < ingest->nranges; i++)
	{
		if (ingest->committed[i] < 0)
			continue;
		rd_kafka_topic_partition_list_add(offsets, ingest->range_array[i]->topic,
										  ingest->range_array[i]->partition)->offset =
			ingest->committed[i];
	}
	PG_TRY();
	{
		kafka_client_commit_group_offsets_async(ingest->client, group_mirror,
												ingest->mirror_group, offsets);
	}
	PG_FINALLY();
	{
		rd_kafka_topic_partition_list_destroy(offsets);
	}
	PG_END_TRY();
}

/*
 * A group commit goes through the connection the stream fetches on, and a
 * fetch waits behind it: a commit after every batch of a busy stream would
 * slow its fetching (with small batches, to one round trip per batch).  So
 * the offsets of a batch are posted at once only when the last commit was
 * posted at least MIRROR_INTERVAL_MS ago; otherwise they are due, and are
 * posted by the next batch past the interval, or when the stream has
 * nothing to fetch (stream_ingest_mirror_report), or by a refresh's flush.
 */
void
stream_ingest_mirror_offsets(StreamIngest *ingest)
{
	if (ingest->mirror_group != NULL && ingest->mirror_posted_at != 0 &&
		!TimestampDifferenceExceeds(ingest->mirror_posted_at, GetCurrentTimestamp(),
									MIRROR_INTERVAL_MS))
	{
		ingest->mirror_due = true;
		return;
	}
	post_mirror_offsets(ingest);
}

int64
stream_ingest_lag(StreamIngest *ingest)
{
	int64		lag = 0;
	int			i;

	for (i = 0; i < ingest->nranges; i++)
	{
		KafkaPartitionRange *r = ingest->range_array[i];
		int64		low,
					high = r->high_watermark;

		if (rd_kafka_get_watermark_offsets(ingest->client->rk, r->topic, r->partition,
										   &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
			high < r->high_watermark)
			high = r->high_watermark;
		if (high > ingest->committed[i])
			lag += high - ingest->committed[i];
	}
	return lag;
}

void
stream_ingest_close(StreamIngest *ingest)
{
	MemoryContextDelete(ingest->cxt);
}
