/*-------------------------------------------------------------------------
 *
 * fdw_modify.c
 *	  INSERT and COPY FROM into a kafka foreign table.
 *
 * A row becomes one message (produce/row_encoder.c) for the table's topic
 * or, in a table without a topic option, for the topic its kafka 'topic'
 * column names (Spark's rule: a topic option wins over a topic column).
 * Messages are held by the transaction (produce/producer.c) and delivered
 * at commit.  Topics are append-only: UPDATE and DELETE are refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "fdw/fdw_modify.h"
#include "fdw/kafka_table.h"
#include "options.h"
#include "produce/producer.h"
#include "produce/row_encoder.h"

/* Rows per ExecForeignBatchInsert call (the executor copies each one). */
#define KAFKA_INSERT_BATCH_SIZE 100

/*
 * The row context is reset after this many rows, or as soon as it holds
 * more than ROW_CONTEXT_LIMIT bytes: a reset per row costs more than the
 * little most rows leave there.
 */
#define ROW_CONTEXT_ROWS	64
#define ROW_CONTEXT_LIMIT	(1024 * 1024)

/* A routed table's target for one topic. */
typedef struct TopicTarget
{
	char		topic[KAFKA_TOPIC_NAME_MAX + 1];	/* hash key */
	KafkaProduceTarget *target;
} TopicTarget;

typedef struct KafkaModifyState
{
	MemoryContext row_cxt;		/* reset every few rows */
	int			rows_in_cxt;
	KafkaTable *table;
	Oid			userid;
	int			message_timeout_ms; /* table option, or 0 */
	KafkaProduceTarget *target; /* the table's topic's */
	HTAB	   *routed_targets; /* of TopicTarget, without a topic option */
	KafkaRowEncoder *encoder;
} KafkaModifyState;

static KafkaModifyState *
begin_insert(Relation rel, Oid userid, MemoryContext parent)
{
	KafkaModifyState *state = palloc0(sizeof(KafkaModifyState));
	char	   *timeout;

	state->table = kafka_table_open_to_produce(RelationGetRelid(rel), CurrentMemoryContext);
	state->encoder = kafka_row_encoder_create(state->table);
	if (state->table->topic == NULL)
	{
		HASHCTL		ctl = {0};

		/* many rows to few topics look up their target once per topic */
		ctl.keysize = KAFKA_TOPIC_NAME_MAX + 1;
		ctl.entrysize = sizeof(TopicTarget);
		ctl.hcxt = CurrentMemoryContext;
		state->routed_targets = hash_create("kafka_fdw insert targets", 16, &ctl,
											HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	state->userid = userid;
	state->row_cxt = AllocSetContextCreate(parent, "kafka_fdw insert row",
										   ALLOCSET_DEFAULT_SIZES);
	timeout = kafka_option_value(GetForeignTable(RelationGetRelid(rel))->options,
								 "message_timeout");
	state->message_timeout_ms = timeout ? atoi(timeout) * 1000 : 0;
	return state;
}

/* The target of topic in the current transaction. */
static KafkaProduceTarget *
topic_target(KafkaModifyState *state, const char *topic)
{
	KafkaProduceTarget **target = &state->target;

	if (state->routed_targets != NULL)
	{
		TopicTarget *entry;
		bool		found;

		entry = hash_search(state->routed_targets, topic, HASH_ENTER, &found);
		if (!found)
			entry->target = NULL;
		target = &entry->target;
	}
	if (!kafka_produce_target_is_current(*target))
		*target = kafka_produce_target(state->table->server, state->userid, topic,
									   state->message_timeout_ms);
	return *target;
}

static void
insert_row(KafkaModifyState *state, TupleTableSlot *slot)
{
	MemoryContext oldcontext;
	KafkaMessageData message;
	KafkaProduceTarget *target;

	slot_getallattrs(slot);
	oldcontext = MemoryContextSwitchTo(state->row_cxt);
	target = topic_target(state, kafka_row_encoder_topic(state->encoder, slot->tts_values,
														 slot->tts_isnull));
	kafka_row_encoder_encode(state->encoder, slot->tts_values, slot->tts_isnull, &message);
	kafka_produce_message(target, &message);
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
