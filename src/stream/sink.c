/*-------------------------------------------------------------------------
 *
 * sink.c
 *	  Bulk insert of a streaming table's rows, the way COPY FROM does it:
 *	  buffered table_multi_insert with a BulkInsertState, then index entries,
 *	  constraints, defaults, stored generated columns and triggers, so the
 *	  target behaves as if the rows had been inserted by SQL.
 *
 * Input rows come in the shape of the source foreign table (or of the
 * transform's result); columns map to the target by name, and target
 * columns without an input column get their defaults.  With BEFORE ROW
 * triggers rows are inserted one at a time (as COPY does: such a trigger
 * may look at the rows inserted before it).  Errors name the Kafka record
 * whose row failed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "stream/stream.h"

#define SINK_BUFFER_ROWS 1000

typedef struct SinkCoordinates
{
	const char *topic;
	int32		partition;
	int64		offset;
} SinkCoordinates;

struct StreamSink
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TransitionCaptureState *transition;
	BulkInsertState bistate;
	CommandId	cid;
	int			natts;			/* of the target */
	int		   *input_index;	/* per target attribute: input column or -1 */
	ExprState **defaults;		/* per target attribute without input */
	bool		has_generated;
	bool		row_triggers_before;
	TupleTableSlot **slots;
	SinkCoordinates *coordinates;
	int			capacity;
	int			buffered;
	MemoryContext rowcxt;		/* buffered rows' values; reset per flush */
	int64		rows;
	SinkCoordinates *current;	/* for the error context */
	ErrorContextCallback errcallback;
};

static void
sink_error_context(void *arg)
{
	StreamSink *sink = arg;

	if (sink->current && sink->current->topic)
		errcontext("kafka record %s[%d] at offset " INT64_FORMAT " into streaming table \"%s\"",
				   sink->current->topic, sink->current->partition,
				   sink->current->offset, RelationGetRelationName(sink->rel));
}

/*
 * Per target attribute, the input column of the same name, or -1.  Types
 * must match (or be binary coercible).
 */
int *
stream_sink_map_columns(Relation rel, TupleDesc input, const char *input_name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int		   *map = palloc(sizeof(int) * Max(desc->natts, 1));
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			j;

		map[i] = -1;
		if (att->attisdropped || att->attgenerated)
			continue;
		for (j = 0; j < input->natts; j++)
		{
			Form_pg_attribute in = TupleDescAttr(input, j);

			if (in->attisdropped || strcmp(NameStr(in->attname), NameStr(att->attname)) != 0)
				continue;
			if (in->atttypid != att->atttypid &&
				!IsBinaryCoercible(in->atttypid, att->atttypid))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of %s has type %s but column \"%s\" of streaming table \"%s\" has type %s",
								NameStr(in->attname), input_name,
								format_type_be(in->atttypid), NameStr(att->attname),
								RelationGetRelationName(rel), format_type_be(att->atttypid)),
						 errhint("Give both columns the same type, or cast in the transform.")));
			map[i] = j;
			break;
		}
	}
	return map;
}

StreamSink *
stream_sink_begin(Relation rel, TupleDesc input, const char *input_name)
{
	StreamSink *sink = palloc0(sizeof(StreamSink));
	TupleDesc	desc = RelationGetDescr(rel);
	RangeTblEntry *rte;
	int			i;

	stream_check_target(rel);
	sink->rel = rel;
	sink->natts = desc->natts;
	sink->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(sink->estate, list_make1(rte));
	sink->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(sink->rri, rel, 1, NULL, 0);
	sink->estate->es_result_relations = palloc0(sizeof(ResultRelInfo *));
	sink->estate->es_result_relations[0] = sink->rri;
	sink->estate->es_output_cid = GetCurrentCommandId(true);
	sink->cid = sink->estate->es_output_cid;
	CheckValidResultRel(sink->rri, CMD_INSERT);
	ExecOpenIndices(sink->rri, false);
	if (rel->trigdesc)
		sink->transition = MakeTransitionCaptureState(rel->trigdesc,
													  RelationGetRelid(rel),
													  CMD_INSERT);
	sink->row_triggers_before = rel->trigdesc && rel->trigdesc->trig_insert_before_row;
	sink->has_generated = desc->constr && desc->constr->has_generated_stored;

	sink->input_index = stream_sink_map_columns(rel, input, input_name);
	sink->defaults = palloc0(sizeof(ExprState *) * Max(desc->natts, 1));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (sink->input_index[i] < 0 && !att->attisdropped && !att->attgenerated)
		{
			Node	   *expr = build_column_default(rel, i + 1);

			if (expr)
				sink->defaults[i] = ExecPrepareExpr((Expr *) expression_planner((Expr *) expr),
													sink->estate);
		}
	}

	sink->capacity = sink->row_triggers_before ? 1 : SINK_BUFFER_ROWS;
	sink->slots = palloc0(sizeof(TupleTableSlot *) * sink->capacity);
	sink->coordinates = palloc0(sizeof(SinkCoordinates) * sink->capacity);
	for (i = 0; i < sink->capacity; i++)
		sink->slots[i] = ExecInitExtraTupleSlot(sink->estate, desc,
												table_slot_callbacks(rel));
	sink->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "stream sink rows",
										 ALLOCSET_DEFAULT_SIZES);
	sink->bistate = GetBulkInsertState();

	AfterTriggerBeginQuery();
	ExecBSInsertTriggers(sink->estate, sink->rri);

	sink->errcallback.callback = sink_error_context;
	sink->errcallback.arg = sink;
	sink->errcallback.previous = error_context_stack;
	error_context_stack = &sink->errcallback;
	return sink;
}

/*
 * Buffer one input row.  Values are copied, so the caller may reset its
 * memory.  topic may be NULL when the row has no single record (transform
 * output without coordinates).
 */
void
stream_sink_put(StreamSink *sink, Datum *values, bool *nulls,
				const char *topic, int32 partition, int64 offset)
{
	TupleTableSlot *slot = sink->slots[sink->buffered];
	TupleDesc	desc = slot->tts_tupleDescriptor;
	ExprContext *econtext = GetPerTupleExprContext(sink->estate);
	MemoryContext old = MemoryContextSwitchTo(sink->rowcxt);
	SinkCoordinates *coordinates = &sink->coordinates[sink->buffered];
	int			i;

	coordinates->topic = topic;
	coordinates->partition = partition;
	coordinates->offset = offset;
	sink->current = coordinates;

	ExecClearTuple(slot);
	for (i = 0; i < sink->natts; i++)
	{
		int			in = sink->input_index[i];
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (in >= 0)
		{
			slot->tts_isnull[i] = nulls[in];
			slot->tts_values[i] = nulls[in] ? (Datum) 0 :
				datumCopy(values[in], att->attbyval, att->attlen);
		}
		else if (sink->defaults[i])
		{
			Datum		d = ExecEvalExpr(sink->defaults[i], econtext, &slot->tts_isnull[i]);

			slot->tts_values[i] = slot->tts_isnull[i] ? (Datum) 0 :
				datumCopy(d, att->attbyval, att->attlen);
		}
		else
		{
			slot->tts_isnull[i] = true;
			slot->tts_values[i] = (Datum) 0;
		}
	}
	ExecStoreVirtualTuple(slot);
	ResetExprContext(econtext);
	MemoryContextSwitchTo(old);

	if (sink->row_triggers_before)
	{
		if (!ExecBRInsertTriggers(sink->estate, sink->rri, slot))
		{
			ExecClearTuple(slot);
			return;				/* the trigger skipped the row */
		}
	}
	if (sink->has_generated)
		ExecComputeStoredGenerated(sink->rri, sink->estate, slot, CMD_INSERT);
	if (sink->rel->rd_att->constr)
		ExecConstraints(sink->rri, slot, sink->estate);
	sink->buffered++;
	if (sink->buffered == sink->capacity)
		stream_sink_flush(sink);
}

void
stream_sink_flush(StreamSink *sink)
{
	int			i;

	if (sink->buffered == 0)
		return;
	sink->current = NULL;
	table_multi_insert(sink->rel, sink->slots, sink->buffered, sink->cid, 0,
					   sink->bistate);
	for (i = 0; i < sink->buffered; i++)
	{
		TupleTableSlot *slot = sink->slots[i];
		List	   *recheck = NIL;

		sink->current = &sink->coordinates[i];
		if (sink->rri->ri_NumIndices > 0)
			recheck = ExecInsertIndexTuples(sink->rri, slot, sink->estate,
											false, false, NULL, NIL);
		if (sink->rel->trigdesc &&
			(sink->rel->trigdesc->trig_insert_after_row ||
			 sink->rel->trigdesc->trig_insert_new_table))
			ExecARInsertTriggers(sink->estate, sink->rri, slot, recheck,
								 sink->transition);
		list_free(recheck);
		ExecClearTuple(slot);
		ResetPerTupleExprContext(sink->estate);
	}
	sink->current = NULL;
	sink->rows += sink->buffered;
	sink->buffered = 0;
	MemoryContextReset(sink->rowcxt);
}

/* Flush, fire the statement's AFTER triggers, close; returns rows written. */
int64
stream_sink_end(StreamSink *sink)
{
	int64		rows;

	stream_sink_flush(sink);
	error_context_stack = sink->errcallback.previous;
	ExecASInsertTriggers(sink->estate, sink->rri, sink->transition);
	AfterTriggerEndQuery(sink->estate);
	FreeBulkInsertState(sink->bistate);
	table_finish_bulk_insert(sink->rel, 0);
	ExecCloseIndices(sink->rri);
	ExecResetTupleTable(sink->estate->es_tupleTable, false);
	FreeExecutorState(sink->estate);
	MemoryContextDelete(sink->rowcxt);
	rows = sink->rows;
	pfree(sink);
	return rows;
}
