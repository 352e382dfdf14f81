/*-------------------------------------------------------------------------
 *
 * fdw_modify.c
 *	  INSERT and COPY FROM into a kafka foreign table.
 *
 * A row becomes one message: the payload columns encoded in the table's
 * format by the codec (or a kafka 'value' column taken as it is), the key
 * column in key_format, and the partition, timestamp, headers and
 * header:<name> columns as message metadata.  offset, timestamp_type, topic
 * and error columns describe consumed records and are ignored (the table's
 * topic always wins, as Spark's topic option overrides a topic column).
 * Messages are held by the transaction (produce/producer.c) and delivered
 * at commit.  Topics are append-only: UPDATE and DELETE are refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "codec/codec.h"
#include "fdw/fdw_modify.h"
#include "fdw/kafka_table.h"
#include "options.h"
#include "produce/producer.h"

/* Rows per ExecForeignBatchInsert call (the executor copies each one). */
#define KAFKA_INSERT_BATCH_SIZE 100

/*
 * The row context is reset after this many rows, or as soon as it holds
 * more than ROW_CONTEXT_LIMIT bytes: a reset per row costs more than the
 * little most rows leave there.
 */
#define ROW_CONTEXT_ROWS	64
#define ROW_CONTEXT_LIMIT	(1024 * 1024)

typedef struct KafkaModifyState
{
	MemoryContext row_cxt;		/* reset every few rows */
	int			rows_in_cxt;
	KafkaTable *table;
	Oid			userid;
	int			message_timeout_ms; /* table option, or 0 */
	KafkaProduceTarget *target;
	KafkaEncoder *value_encoder;	/* payload columns; NULL if none */
	KafkaEncoder **column_encoders; /* key, value, header:<name> columns */
	int			key_attnum;		/* 0-based, or -1 */
	int			value_attnum;
	int			partition_attnum;
	int			timestamp_attnum;
	int			headers_attnum;
	int			nheader_columns;
	StringInfoData key;
	StringInfoData value;
	StringInfoData *header_values;	/* per attribute, header:<name> only */
} KafkaModifyState;

/*
 * Avro: the Schema Registry of the table's server, the schema registered
 * under TopicNameStrategy's subject (<topic>-value, <topic>-key), or the
 * table's avro_schema for plain Avro values.
 */
static KafkaEncoder *
avro_encoder(KafkaTable *table, TupleDesc desc, const bool *mask, bool key,
			 MemoryContext mcxt)
{
	KafkaCodecOptions options = {0};

	options.server_name = table->server->servername;
	options.subject = psprintf("%s-%s", table->topic, key ? "key" : "value");
	options.single_value = key;
	if (!key)
		options.avro_schema = table->avro_schema;
	return kafka_encoder_create_with(KAFKA_FORMAT_AVRO, desc, mask, mcxt,
									 &options);
}

static KafkaEncoder *
single_column_encoder(TupleDesc desc, int attnum, KafkaFormat format,
					  MemoryContext mcxt)
{
	bool	   *mask = palloc0(sizeof(bool) * desc->natts);
	KafkaEncoder *encoder;

	/* a JSON key column holds the document itself */
	if (format == KAFKA_FORMAT_JSON)
		format = KAFKA_FORMAT_TEXT;
	if (format == KAFKA_FORMAT_TEXT && TupleDescAttr(desc, attnum)->atttypid == BYTEAOID)
		format = KAFKA_FORMAT_RAW;
	mask[attnum] = true;
	encoder = kafka_encoder_create(format, desc, mask, mcxt);
	pfree(mask);
	return encoder;
}

static KafkaModifyState *
begin_insert(Relation rel, Oid userid, MemoryContext parent)
{
	KafkaModifyState *state = palloc0(sizeof(KafkaModifyState));
	MemoryContext cxt = CurrentMemoryContext;
	KafkaTable *table;
	TupleDesc	desc;
	bool	   *payload;
	bool		has_payload = false;
	char	   *timeout;
	int			i;

	state->table = table = kafka_table_open(RelationGetRelid(rel), cxt);
	if (table->envelope != KAFKA_ENVELOPE_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot insert into foreign table \"%s\": it reads change events (envelope 'debezium')",
						table->relname),
				 errhint("Produce through another foreign table on the topic, without the envelope option.")));
	desc = table->desc;
	state->userid = userid;
	state->row_cxt = AllocSetContextCreate(parent, "kafka_fdw insert row",
										   ALLOCSET_DEFAULT_SIZES);
	timeout = kafka_option_value(GetForeignTable(RelationGetRelid(rel))->options,
								 "message_timeout");
	state->message_timeout_ms = timeout ? atoi(timeout) * 1000 : 0;
	state->key_attnum = state->value_attnum = state->partition_attnum = -1;
	state->timestamp_attnum = state->headers_attnum = -1;
	state->column_encoders = palloc0(sizeof(KafkaEncoder *) * Max(desc->natts, 1));
	state->header_values = palloc0(sizeof(StringInfoData) * Max(desc->natts, 1));
	payload = palloc0(sizeof(bool) * Max(desc->natts, 1));

	for (i = 0; i < desc->natts; i++)
	{
		switch (table->roles[i])
		{
			case KAFKA_COLUMN_PAYLOAD:
				payload[i] = true;
				has_payload = true;
				break;
			case KAFKA_COLUMN_KEY:
				if (state->key_attnum < 0)
				{
					state->key_attnum = i;
					if (table->key_format == KAFKA_FORMAT_AVRO)
					{
						bool	   *mask = palloc0(sizeof(bool) * desc->natts);

						mask[i] = true;
						state->column_encoders[i] = avro_encoder(table, desc, mask,
																 true, cxt);
					}
					else
						state->column_encoders[i] = single_column_encoder(desc, i, table->key_format, cxt);
				}
				break;
			case KAFKA_COLUMN_VALUE:
				if (state->value_attnum < 0)
				{
					state->value_attnum = i;
					state->column_encoders[i] = single_column_encoder(desc, i, KAFKA_FORMAT_TEXT, cxt);
				}
				break;
			case KAFKA_COLUMN_HEADER:
				state->column_encoders[i] = single_column_encoder(desc, i, KAFKA_FORMAT_TEXT, cxt);
				initStringInfo(&state->header_values[i]);
				state->nheader_columns++;
				break;
			case KAFKA_COLUMN_PARTITION:
				if (state->partition_attnum < 0)
					state->partition_attnum = i;
				break;
			case KAFKA_COLUMN_TIMESTAMP:
				/* bigint: milliseconds since 1970, as the scan gives them */
				if (state->timestamp_attnum < 0)
					state->timestamp_attnum = i;
				break;
			case KAFKA_COLUMN_HEADERS:
				if (state->headers_attnum < 0)
					state->headers_attnum = i;
				break;
			default:
				break;
		}
	}
	if (has_payload && table->format == KAFKA_FORMAT_AVRO)
		state->value_encoder = avro_encoder(table, desc, payload, false, cxt);
	else if (has_payload)
		state->value_encoder = kafka_encoder_create(table->format, desc, payload, cxt);
	pfree(payload);
	initStringInfo(&state->key);
	initStringInfo(&state->value);
	return state;
}

static int32
partition_value(KafkaModifyState *state, Datum value)
{
	int			attnum = state->partition_attnum;
	int64		partition = TupleDescAttr(state->table->desc, attnum)->atttypid == INT8OID ?
		DatumGetInt64(value) : DatumGetInt32(value);

	if (partition < 0 || partition > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kafka partition " INT64_FORMAT " in column \"%s\" of foreign table \"%s\"",
						partition, NameStr(TupleDescAttr(state->table->desc, attnum)->attname),
						state->table->relname),
				 errhint("Give NULL to let the partitioner choose.")));
	return (int32) partition;
}

static int64
timestamp_value(KafkaModifyState *state, Datum value)
{
	int			attnum = state->timestamp_attnum;

	if (TupleDescAttr(state->table->desc, attnum)->atttypid == INT8OID)
	{
		int64		ms = DatumGetInt64(value);

		if (ms < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("kafka message timestamp must not be negative: " INT64_FORMAT, ms)));
		return ms;
	}
	/* timestamp without time zone is read as UTC, like the scan writes it */
	return kafka_produce_timestamp_ms(DatumGetTimestampTz(value));
}

static void
insert_row(KafkaModifyState *state, TupleTableSlot *slot)
{
	KafkaTable *table = state->table;
	TupleDesc	desc = table->desc;
	MemoryContext oldcontext;
	KafkaMessageData message;
	Datum	   *values;
	bool	   *nulls;
	KafkaHeaderData *headers = NULL;
	int			nheaders = 0;
	int			i;

	if (!kafka_produce_target_is_current(state->target))
		state->target = kafka_produce_target(table->server, state->userid, table->topic,
											 state->message_timeout_ms);

	slot_getallattrs(slot);
	values = slot->tts_values;
	nulls = slot->tts_isnull;
	oldcontext = MemoryContextSwitchTo(state->row_cxt);
	memset(&message, 0, sizeof(message));
	message.partition = -1;

	resetStringInfo(&state->value);
	if (state->value_attnum >= 0 && !nulls[state->value_attnum])
	{
		(void) kafka_encoder_encode(state->column_encoders[state->value_attnum],
									values, nulls, &state->value);
		message.value = state->value.data;
		message.value_len = state->value.len;
	}
	else if (state->value_encoder &&
			 kafka_encoder_encode(state->value_encoder, values, nulls, &state->value))
	{
		message.value = state->value.data;
		message.value_len = state->value.len;
	}

	resetStringInfo(&state->key);
	if (state->key_attnum >= 0 &&
		kafka_encoder_encode(state->column_encoders[state->key_attnum], values, nulls,
							 &state->key))
	{
		message.key = state->key.data;
		message.key_len = state->key.len;
	}

	if (state->partition_attnum >= 0 && !nulls[state->partition_attnum])
		message.partition = partition_value(state, values[state->partition_attnum]);
	if (state->timestamp_attnum >= 0 && !nulls[state->timestamp_attnum])
		message.timestamp_ms = timestamp_value(state, values[state->timestamp_attnum]);

	if (state->headers_attnum >= 0 && !nulls[state->headers_attnum])
		headers = kafka_produce_headers_from_array(values[state->headers_attnum], &nheaders);
	if (state->nheader_columns > 0)
	{
		KafkaHeaderData *all = palloc((nheaders + state->nheader_columns) * sizeof(KafkaHeaderData));

		if (nheaders > 0)
			memcpy(all, headers, nheaders * sizeof(KafkaHeaderData));
		for (i = 0; i < desc->natts; i++)
		{
			StringInfo	buf = &state->header_values[i];

			/* a NULL header:<name> column means no such header */
			if (table->roles[i] != KAFKA_COLUMN_HEADER || nulls[i])
				continue;
			resetStringInfo(buf);
			(void) kafka_encoder_encode(state->column_encoders[i], values, nulls, buf);
			all[nheaders].name = kafka_produce_utf8(table->header_names[i],
													strlen(table->header_names[i]),
													&all[nheaders].name_len);
			all[nheaders].value = buf->data;
			all[nheaders].value_len = buf->len;
			nheaders++;
		}
		headers = all;
	}
	message.headers = headers;
	message.nheaders = nheaders;

	kafka_produce_message(state->target, &message);
	MemoryContextSwitchTo(oldcontext);
	if (++state->rows_in_cxt >= ROW_CONTEXT_ROWS ||
		MemoryContextMemAllocated(state->row_cxt, false) > ROW_CONTEXT_LIMIT)
	{
		MemoryContextReset(state->row_cxt);
		state->rows_in_cxt = 0;
	}
}

/* The user whose server access and user mapping an INSERT uses. */
static Oid
modify_user(EState *estate, ResultRelInfo *rinfo)
{
	Index		rti = rinfo->ri_RangeTableIndex;
	RangeTblEntry *rte;

	if (rti == 0 && rinfo->ri_RootResultRelInfo)
		rti = rinfo->ri_RootResultRelInfo->ri_RangeTableIndex;
	if (rti == 0 || estate->es_range_table == NIL)
		return GetUserId();
	rte = exec_rt_fetch(rti, estate);
	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
}

static List *
plan_foreign_modify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);

	if (plan->operation != CMD_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("kafka foreign table \"%s\" only supports INSERT",
						get_rel_name(rte->relid)),
				 errdetail("Kafka topics are append-only: records cannot be updated or deleted.")));
	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT with ON CONFLICT is not supported on kafka foreign table \"%s\"",
						get_rel_name(rte->relid))));
	return NIL;
}

static void
begin_foreign_modify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					 List *fdw_private, int subplan_index, int eflags)
{
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	rinfo->ri_FdwState = begin_insert(rinfo->ri_RelationDesc,
									  modify_user(mtstate->ps.state, rinfo),
									  mtstate->ps.state->es_query_cxt);
}

static TupleTableSlot *
exec_foreign_insert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	insert_row(rinfo->ri_FdwState, slot);
	return slot;
}

static TupleTableSlot **
exec_foreign_batch_insert(EState *estate, ResultRelInfo *rinfo,
						  TupleTableSlot **slots, TupleTableSlot **planSlots,
						  int *numSlots)
{
	int			i;

	for (i = 0; i < *numSlots; i++)
		insert_row(rinfo->ri_FdwState, slots[i]);
	return slots;
}

static int
get_foreign_modify_batch_size(ResultRelInfo *rinfo)
{
	/* the executor passes RETURNING rows one by one */
	if (rinfo->ri_projectReturning != NULL)
		return 1;
	return KAFKA_INSERT_BATCH_SIZE;
}

static void
end_foreign_modify(EState *estate, ResultRelInfo *rinfo)
{
	KafkaModifyState *state = rinfo->ri_FdwState;

	if (state)
		MemoryContextDelete(state->row_cxt);
	rinfo->ri_FdwState = NULL;
}

static void
begin_foreign_insert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	EState	   *estate = mtstate ? mtstate->ps.state : NULL;

	rinfo->ri_FdwState = begin_insert(rinfo->ri_RelationDesc,
									  estate ? modify_user(estate, rinfo) : GetUserId(),
									  CurrentMemoryContext);
}

static int
is_foreign_rel_updatable(Relation rel)
{
	return 1 << CMD_INSERT;
}

void
kafka_fdw_set_modify_routines(FdwRoutine *routine)
{
	routine->PlanForeignModify = plan_foreign_modify;
	routine->BeginForeignModify = begin_foreign_modify;
	routine->ExecForeignInsert = exec_foreign_insert;
	routine->ExecForeignBatchInsert = exec_foreign_batch_insert;
	routine->GetForeignModifyBatchSize = get_foreign_modify_batch_size;
	routine->EndForeignModify = end_foreign_modify;
	routine->BeginForeignInsert = begin_foreign_insert;
	routine->EndForeignInsert = end_foreign_modify;
	routine->IsForeignRelUpdatable = is_foreign_rel_updatable;
}
