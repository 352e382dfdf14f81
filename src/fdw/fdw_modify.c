/*-------------------------------------------------------------------------
 *
 * fdw_modify.c
 *	  INSERT and COPY FROM into a kafka foreign table.
 *
 * A row becomes one message (produce/row_encoder.c; the table's topic
 * always wins, as Spark's topic option overrides a topic column).
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

typedef struct KafkaModifyState
{
	MemoryContext row_cxt;		/* reset every few rows */
	int			rows_in_cxt;
	KafkaTable *table;
	Oid			userid;
	int			message_timeout_ms; /* table option, or 0 */
	KafkaProduceTarget *target;
	KafkaRowEncoder *encoder;
} KafkaModifyState;

static KafkaModifyState *
begin_insert(Relation rel, Oid userid, MemoryContext parent)
{
	KafkaModifyState *state = palloc0(sizeof(KafkaModifyState));
	char	   *timeout;

	state->table = kafka_table_open(RelationGetRelid(rel), CurrentMemoryContext);
	state->encoder = kafka_row_encoder_create(state->table);
	state->userid = userid;
	state->row_cxt = AllocSetContextCreate(parent, "kafka_fdw insert row",
										   ALLOCSET_DEFAULT_SIZES);
	timeout = kafka_option_value(GetForeignTable(RelationGetRelid(rel))->options,
								 "message_timeout");
	state->message_timeout_ms = timeout ? atoi(timeout) * 1000 : 0;
	return state;
}

static void
insert_row(KafkaModifyState *state, TupleTableSlot *slot)
{
	KafkaTable *table = state->table;
	MemoryContext oldcontext;
	KafkaMessageData message;

	if (!kafka_produce_target_is_current(state->target))
		state->target = kafka_produce_target(table->server, state->userid, table->topic,
											 state->message_timeout_ms);

	slot_getallattrs(slot);
	oldcontext = MemoryContextSwitchTo(state->row_cxt);
	kafka_row_encoder_encode(state->encoder, slot->tts_values, slot->tts_isnull, &message);
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
