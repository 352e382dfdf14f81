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
 * columns without an input column get their defaults.  A value goes into
 * its column through the column's assignment coercion, as in INSERT: length
 * and precision (varchar(n), numeric(p,s), bit(n), timestamp(p)) and
 * domains with their constraints; a value already of the column's type and
 * typmod is copied as is.  With BEFORE ROW triggers rows are inserted one
 * at a time (as COPY does: such a trigger may look at the rows inserted
 * before it).  Errors name the Kafka record whose row failed.
 *
 * A row is prepared (coerced, defaults, generated columns, constraints)
 * before anything is written.  When the caller asks for it
 * (stream_sink_on_reject), a row whose values fail there (SQLSTATE class 22
 * or 23) is handed back with its error instead of failing the batch: a
 * buffer of rows is prepared in one subtransaction, and only when that fails
 * again in halves down to the rows that fail alone, so good batches pay one
 * subtransaction per buffer and a few bad rows a few each.  Errors raised
 * when the rows are written (unique and foreign keys, triggers) are the
 * caller's to attribute (ingest.c writes a failed batch again in halves).
 *
 * A partitioned target routes each prepared row to its leaf partition the
 * way COPY FROM does (ExecFindPartition: range, list, hash, several
 * levels, a default partition), converts it to the partition's row type
 * and checks it against the partition's constraints; a row with no
 * partition is its record's error like any constraint.  Rows are written
 * with one table_multi_insert per partition per buffer; partitions with
 * BEFORE ROW triggers and foreign partitions take them one at a time.
 * Partitions are opened (and locked) under the resource owner of the sink,
 * not of the subtransaction that prepares a row, so that a rolled-back
 * preparation cannot close what the routing keeps.
 *
 * Keyed targets (keyed.c) also update and delete through the sink: an
 * updated row is buffered like an inserted one with the stored row it
 * replaces, takes the stored value for the target columns without input
 * (and for the input columns the caller marks "keep"), gets its generated
 * columns and constraints like an inserted row, and is written with
 * table_tuple_update plus new index entries when the update was not HOT.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "foreign/fdwapi.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "stream/stream.h"

#define SINK_BUFFER_ROWS 1000

/* A leaf partition of a partitioned target, once a row went there. */
typedef struct SinkPartition
{
	ResultRelInfo *rri;
	bool		one_at_a_time;	/* BEFORE ROW triggers, or a foreign table */
	bool		before_row;
	TupleDesc	desc;			/* the partition's row type, for slots */
	TupleTableSlot **slots;		/* rows in the partition's shape */
	int			nslots;			/* created */
	int			size;			/* of slots[] */
	int			used;			/* taken by the buffered rows */
	TupleTableSlot **kept;		/* written by the next multi insert */
	int		   *kept_rows;		/* their buffered rows */
	int			nkept;
	BulkInsertState bistate;
} SinkPartition;

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
	TupleDesc	input_desc;
	int		   *input_index;	/* per target attribute: input column or -1 */
	bool	   *input_used;		/* per input column: does a target take it? */
	ExprState **coercions;		/* per target attribute with input, or NULL:
								 * the value is copied as is */
	ExprState **defaults;		/* per target attribute without input */
	bool		any_coercion;
	bool		has_generated;
	bool		row_triggers_before;
	bool		fallible;		/* can a row's values fail preparation? */
	TupleTableSlot *input_slot; /* a buffered input row, for the coercions */
	Datum	   *input_values;	/* capacity x input columns */
	bool	   *input_nulls;
	TupleTableSlot **slots;		/* target rows */
	TupleTableSlot **kept;		/* the ones to insert */
	bool	   *rejected;
	SinkCoordinates *coordinates;
	HeapTuple  *old_rows;		/* per buffered row: the stored row an update
								 * replaces, or NULL for an insert */
	ItemPointerData *old_tids;
	bool	   *keep;			/* capacity x input columns: take the stored
								 * value */
	Snapshot	snapshot;		/* updates and deletes crosscheck nothing;
								 * given for the table AM */
	int64		updated;
	int64		deleted;
	Oid			key_index;		/* an index updates never change, or
								 * InvalidOid */
	bool		row_triggers;	/* updates and deletes fire row triggers */
	EPQState	epqstate;
	TupleTableSlot *old_slot;	/* the stored row, for the triggers */
	int			capacity;
	int			buffered;
	MemoryContext rowcxt;		/* buffered rows' values; reset per flush */
	int64		rows;
	SinkCoordinates *current;	/* for the error context */
	int			current_column; /* target attribute being coerced, or -1 */
	StreamSinkRejectCallback reject;
	void	   *reject_arg;
	ErrorContextCallback errcallback;

	/* a partitioned target: the routing, as COPY FROM sets it up */
	ModifyTableState *mtstate;
	PartitionTupleRouting *proute;
	ResourceOwner owner;		/* the partitions are opened under it */
	List	   *partitions;		/* SinkPartition */
	SinkPartition *last_partition;
	SinkPartition **routed;		/* per buffered row: where it goes */
	TupleTableSlot **routed_slots;	/* per buffered row: in that shape */
};

static void
sink_error_context(void *arg)
{
	StreamSink *sink = arg;

	if (sink->current && sink->current->topic)
	{
		if (sink->current_column >= 0)
			errcontext("kafka record %s[%d] at offset " INT64_FORMAT " into column \"%s\" of streaming table \"%s\"",
					   sink->current->topic, sink->current->partition,
					   sink->current->offset,
					   NameStr(TupleDescAttr(RelationGetDescr(sink->rel), sink->current_column)->attname),
					   RelationGetRelationName(sink->rel));
		else
			errcontext("kafka record %s[%d] at offset " INT64_FORMAT " into streaming table \"%s\"",
					   sink->current->topic, sink->current->partition,
					   sink->current->offset, RelationGetRelationName(sink->rel));
	}
	else if (sink->current && sink->current_column >= 0)
		errcontext("column \"%s\" of streaming table \"%s\"",
				   NameStr(TupleDescAttr(RelationGetDescr(sink->rel), sink->current_column)->attname),
				   RelationGetRelationName(sink->rel));
}

/* Errors of a row's values, not of the batch: data exceptions, constraints. */
static bool
is_value_error(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION;
}

TupleDesc
stream_sink_written_columns(StreamDef *def, TupleDesc input)
{
	TupleDesc	written;
	ListCell   *lc;
	int			j;

	if (def->except_columns == NIL)
		return input;
	written = CreateTupleDescCopy(input);
	for (j = 0; j < written->natts; j++)
	{
		Form_pg_attribute att = TupleDescAttr(written, j);

		foreach(lc, def->except_columns)
			if (strcmp(NameStr(att->attname), (char *) lfirst(lc)) == 0)
				att->attisdropped = true;
	}
	return written;
}

/*
 * Per target attribute, the input column of the same name, or -1.  The
 * input type must be the column's type or its base type (for a domain), or
 * convert to it implicitly (binary coercible, or a widening such as int to
 * bigint: a target column retyped so under a running stream keeps its
 * values); typmods and domain constraints are applied to each value
 * (stream_sink_begin).
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
			Oid			base = getBaseType(att->atttypid);

			if (in->attisdropped || strcmp(NameStr(in->attname), NameStr(att->attname)) != 0)
				continue;
			if (in->atttypid != att->atttypid && in->atttypid != base &&
				!IsBinaryCoercible(in->atttypid, base) &&
				!can_coerce_type(1, &in->atttypid, &base, COERCION_IMPLICIT))
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

/*
 * The assignment coercion of an input column into a target column, as
 * INSERT builds it, over the input row in the scan slot; NULL when the
 * value can be copied as is (same type and typmod, no domain).
 */
static ExprState *
build_coercion(Form_pg_attribute in, int input_attno, Form_pg_attribute att)
{
	Var		   *var = makeVar(1, input_attno, in->atttypid, in->atttypmod,
							  in->attcollation, 0);
	Node	   *expr;
	Node	   *inner;

	expr = coerce_to_target_type(NULL, (Node *) var, in->atttypid,
								 att->atttypid, att->atttypmod,
								 COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST, -1);
	if (expr == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of type %s cannot be assigned to a column of type %s",
						NameStr(att->attname), format_type_be(in->atttypid),
						format_type_with_typemod(att->atttypid, att->atttypmod))));
	for (inner = expr; IsA(inner, RelabelType); inner = (Node *) ((RelabelType *) inner)->arg)
		;
	if (inner == (Node *) var)
		return NULL;
	return ExecInitExpr(expression_planner((Expr *) expr), NULL);
}

StreamSink *
stream_sink_begin(Relation rel, TupleDesc input, const char *input_name)
{
	StreamSink *sink = palloc0(sizeof(StreamSink));
	TupleDesc	desc = RelationGetDescr(rel);
	TupleDesc	slot_desc;
	RangeTblEntry *rte;
	MemoryContext old;
	int			i;

	stream_check_target(rel);
	sink->rel = rel;
	sink->natts = desc->natts;
	sink->current_column = -1;
	sink->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(sink->estate, list_make1(rte));

	/*
	 * As COPY FROM: the executor opens and closes the result relation, so
	 * AFTER ROW triggers find it among the opened ones and open no second
	 * reference of their own.
	 */
	sink->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(sink->estate, sink->rri, 1);
	sink->estate->es_output_cid = GetCurrentCommandId(true);
	sink->cid = sink->estate->es_output_cid;
	CheckValidResultRel(sink->rri, CMD_INSERT);
	ExecOpenIndices(sink->rri, false);
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		/* as COPY FROM: a ModifyTableState for the routing to refer to */
		ModifyTableState *mtstate = makeNode(ModifyTableState);

		mtstate->ps.plan = NULL;
		mtstate->ps.state = sink->estate;
		mtstate->operation = CMD_INSERT;
		mtstate->mt_nrels = 1;
		mtstate->resultRelInfo = sink->rri;
		mtstate->rootResultRelInfo = sink->rri;
		sink->mtstate = mtstate;
		sink->proute = ExecSetupPartitionTupleRouting(sink->estate, rel);
		sink->owner = CurrentResourceOwner;
	}
	/* a partition's BEFORE ROW triggers fire for it, not for the root */
	sink->row_triggers_before = sink->proute == NULL && rel->trigdesc &&
		rel->trigdesc->trig_insert_before_row;
	sink->has_generated = desc->constr && desc->constr->has_generated_stored;

	sink->input_desc = CreateTupleDescCopy(input);
	sink->input_index = stream_sink_map_columns(rel, input, input_name);
	sink->input_used = palloc0(sizeof(bool) * Max(input->natts, 1));
	sink->coercions = palloc0(sizeof(ExprState *) * Max(desc->natts, 1));
	sink->defaults = palloc0(sizeof(ExprState *) * Max(desc->natts, 1));
	old = MemoryContextSwitchTo(sink->estate->es_query_cxt);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			in = sink->input_index[i];

		if (in >= 0)
		{
			sink->input_used[in] = true;
			sink->coercions[i] = build_coercion(TupleDescAttr(input, in), in + 1, att);
			sink->any_coercion |= sink->coercions[i] != NULL;
		}
		else if (!att->attisdropped && !att->attgenerated)
		{
			Node	   *expr = build_column_default(rel, i + 1);

			if (expr)
				sink->defaults[i] = ExecInitExpr(expression_planner((Expr *) expr), NULL);
		}
	}
	MemoryContextSwitchTo(old);

	/*
	 * With BEFORE ROW triggers, constraints are checked after them,
	 * unguarded; a row may find no partition.
	 */
	sink->fallible = sink->any_coercion || sink->proute != NULL ||
		(!sink->row_triggers_before &&
		 (sink->has_generated ||
		  (desc->constr && (desc->constr->has_not_null || desc->constr->num_check > 0))));

	sink->capacity = sink->row_triggers_before ? 1 : SINK_BUFFER_ROWS;
	sink->slots = palloc0(sizeof(TupleTableSlot *) * sink->capacity);
	sink->kept = palloc0(sizeof(TupleTableSlot *) * sink->capacity);
	sink->rejected = palloc0(sizeof(bool) * sink->capacity);
	sink->coordinates = palloc0(sizeof(SinkCoordinates) * sink->capacity);
	sink->old_rows = palloc0(sizeof(HeapTuple) * sink->capacity);
	sink->old_tids = palloc0(sizeof(ItemPointerData) * sink->capacity);
	sink->keep = palloc0(sizeof(bool) * sink->capacity * Max(input->natts, 1));
	sink->routed = palloc0(sizeof(SinkPartition *) * sink->capacity);
	sink->routed_slots = palloc0(sizeof(TupleTableSlot *) * sink->capacity);
	sink->input_values = palloc0(sizeof(Datum) * sink->capacity * Max(input->natts, 1));
	sink->input_nulls = palloc0(sizeof(bool) * sink->capacity * Max(input->natts, 1));
	/*
	 * The slots share an unpinned copy of the row type: a thousand pins of
	 * the relation's own would each be forgotten, one linear search of the
	 * resource owner at a time, when the sink ends.
	 */
	slot_desc = CreateTupleDescCopy(desc);
	for (i = 0; i < sink->capacity; i++)
		sink->slots[i] = ExecInitExtraTupleSlot(sink->estate, slot_desc,
												table_slot_callbacks(rel));
	sink->input_slot = ExecInitExtraTupleSlot(sink->estate, sink->input_desc,
											  &TTSOpsVirtual);
	sink->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "stream sink rows",
										 ALLOCSET_DEFAULT_SIZES);
	sink->bistate = GetBulkInsertState();

	/* transition tables (REFERENCING NEW TABLE) belong to the query level */
	AfterTriggerBeginQuery();
	if (rel->trigdesc)
		sink->transition = MakeTransitionCaptureState(rel->trigdesc,
													  RelationGetRelid(rel),
													  CMD_INSERT);
	ExecBSInsertTriggers(sink->estate, sink->rri);

	sink->errcallback.callback = sink_error_context;
	sink->errcallback.arg = sink;
	sink->errcallback.previous = error_context_stack;
	error_context_stack = &sink->errcallback;
	return sink;
}

void
stream_sink_on_reject(StreamSink *sink, StreamSinkRejectCallback callback, void *arg)
{
	sink->reject = callback;
	sink->reject_arg = arg;
}

/* Copy an input row into the buffer (which has room). */
static void
buffer_row(StreamSink *sink, Datum *values, bool *nulls,
		   const char *topic, int32 partition, int64 offset)
{
	int			ninput = sink->input_desc->natts;
	Datum	   *in_values = sink->input_values + (Size) sink->buffered * ninput;
	bool	   *in_nulls = sink->input_nulls + (Size) sink->buffered * ninput;
	SinkCoordinates *coordinates = &sink->coordinates[sink->buffered];
	MemoryContext old = MemoryContextSwitchTo(sink->rowcxt);
	int			j;

	coordinates->topic = topic;
	coordinates->partition = partition;
	coordinates->offset = offset;
	for (j = 0; j < ninput; j++)
	{
		Form_pg_attribute in = TupleDescAttr(sink->input_desc, j);

		in_nulls[j] = nulls[j] || !sink->input_used[j];
		in_values[j] = in_nulls[j] ? (Datum) 0 :
			datumCopy(values[j], in->attbyval, in->attlen);
	}
	MemoryContextSwitchTo(old);
	sink->rejected[sink->buffered] = false;
	sink->old_rows[sink->buffered] = NULL;
	sink->buffered++;
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
	buffer_row(sink, values, nulls, topic, partition, offset);
	if (sink->buffered == sink->capacity)
		stream_sink_flush(sink);
}

void
stream_sink_put_update(StreamSink *sink, Datum *values, bool *nulls,
					   const bool *keep, TupleTableSlot *stored,
					   const char *topic, int32 partition, int64 offset)
{
	int			n = sink->buffered;
	int			ninput = sink->input_desc->natts;
	MemoryContext old;

	buffer_row(sink, values, nulls, topic, partition, offset);
	old = MemoryContextSwitchTo(sink->rowcxt);
	sink->old_rows[n] = ExecCopySlotHeapTuple(stored);
	MemoryContextSwitchTo(old);
	sink->old_tids[n] = stored->tts_tid;
	if (keep)
		memcpy(sink->keep + (Size) n * ninput, keep, sizeof(bool) * ninput);
	else
		memset(sink->keep + (Size) n * ninput, 0, sizeof(bool) * ninput);
	if (sink->buffered == sink->capacity)
		stream_sink_flush(sink);
}

void
stream_sink_delete(StreamSink *sink, ResultRelInfo *partition, TupleTableSlot *stored)
{
	ResultRelInfo *rri = partition ? partition : sink->rri;
	TM_FailureData tmfd;
	TM_Result	result;

	if (sink->row_triggers)
	{
		/* as logical replication applies a delete: its row triggers fire */
		ExecSimpleRelationDelete(rri, sink->estate, &sink->epqstate, stored);
		ResetPerTupleExprContext(sink->estate);
		sink->deleted++;
		return;
	}
	result = table_tuple_delete(rri->ri_RelationDesc, &stored->tts_tid, sink->cid,
								sink->snapshot, InvalidSnapshot, true, &tmfd, false);
	if (result != TM_Ok)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not delete a row of streaming table \"%s\": it was changed concurrently",
						RelationGetRelationName(sink->rel)),
				 errdetail("The batch is rolled back and applied again.")));
	sink->deleted++;
}

void
stream_sink_set_snapshot(StreamSink *sink, Snapshot snapshot)
{
	sink->snapshot = snapshot;
}

void
stream_sink_set_key_index(StreamSink *sink, Oid index)
{
	sink->key_index = index;
}

void
stream_sink_fire_row_triggers(StreamSink *sink)
{
	RangeTblEntry *rte = linitial(sink->estate->es_range_table);
	TupleDesc	desc = RelationGetDescr(sink->rel);
	int			a;

	/* every column with an input counts as updated (UPDATE OF triggers) */
	for (a = 0; a < sink->natts; a++)
		if (sink->input_index[a] >= 0)
			rte->updatedCols = bms_add_member(rte->updatedCols,
											  a + 1 - FirstLowInvalidHeapAttributeNumber);
	sink->row_triggers = true;
	EvalPlanQualInit(&sink->epqstate, sink->estate, NULL, NIL, -1);
	sink->old_slot = ExecInitExtraTupleSlot(sink->estate, desc, &TTSOpsHeapTuple);
	ExecBSUpdateTriggers(sink->estate, sink->rri);
	ExecBSDeleteTriggers(sink->estate, sink->rri);
}

bool
stream_sink_fallible(StreamSink *sink)
{
	return sink->fallible;
}

void
stream_sink_counts(StreamSink *sink, int64 *updated, int64 *deleted)
{
	*updated = sink->updated;
	*deleted = sink->deleted;
}

static void check_partition_row(StreamSink *sink, ResultRelInfo *rri,
								TupleTableSlot *slot, bool after_triggers);

/* The partition rri leads to, set up for writing the first time. */
static SinkPartition *
sink_partition(StreamSink *sink, ResultRelInfo *rri)
{
	MemoryContext old;
	SinkPartition *part;
	ListCell   *lc;

	if (sink->last_partition && sink->last_partition->rri == rri)
		return sink->last_partition;
	foreach(lc, sink->partitions)
	{
		part = lfirst(lc);
		if (part->rri == rri)
			return sink->last_partition = part;
	}
	/* as for the target (stream_check_target): a crash must not empty it */
	if (rri->ri_RelationDesc->rd_rel->relpersistence != RELPERSISTENCE_PERMANENT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("partition \"%s\" of streaming table \"%s\" must be a logged table",
						RelationGetRelationName(rri->ri_RelationDesc),
						RelationGetRelationName(sink->rel)),
				 errdetail("After a crash an unlogged table is emptied while the stream's offsets survive, so records would be lost."),
				 errhint("ALTER TABLE %s SET LOGGED.",
						 quote_identifier(RelationGetRelationName(rri->ri_RelationDesc)))));
	old = MemoryContextSwitchTo(sink->estate->es_query_cxt);
	part = palloc0(sizeof(SinkPartition));
	part->rri = rri;
	part->before_row = rri->ri_TrigDesc && rri->ri_TrigDesc->trig_insert_before_row;
	part->one_at_a_time = part->before_row || rri->ri_FdwRoutine != NULL;
	part->kept = palloc(sizeof(TupleTableSlot *) * sink->capacity);
	part->kept_rows = palloc(sizeof(int) * sink->capacity);
	sink->partitions = lappend(sink->partitions, part);
	MemoryContextSwitchTo(old);
	return sink->last_partition = part;
}

/* A slot of the partition's row type for buffered row i. */
static TupleTableSlot *
partition_slot(StreamSink *sink, SinkPartition *part, int i)
{
	Relation	rel = part->rri->ri_RelationDesc;
	MemoryContext old;

	/* prepared again (a retry after another row's error): same place */
	if (sink->routed[i] == part && sink->routed_slots[i] != NULL)
		return sink->routed_slots[i];
	if (part->used == part->nslots)
	{
		old = MemoryContextSwitchTo(sink->estate->es_query_cxt);
		if (part->nslots == part->size)
		{
			part->size = part->size ? part->size * 2 : 16;
			part->slots = part->slots ?
				repalloc(part->slots, sizeof(TupleTableSlot *) * part->size) :
				palloc(sizeof(TupleTableSlot *) * part->size);
		}
		/* unpinned, as the sink's own slots */
		if (part->desc == NULL)
			part->desc = CreateTupleDescCopy(RelationGetDescr(rel));
		part->slots[part->nslots++] =
			ExecInitExtraTupleSlot(sink->estate, part->desc, table_slot_callbacks(rel));
		MemoryContextSwitchTo(old);
	}
	return part->slots[part->used++];
}

/*
 * Route prepared row i of a partitioned target to its leaf partition, in
 * that partition's row type, with its generated columns and constraints
 * (after the BEFORE ROW triggers if it has some).  No partition for the
 * row is a check violation, the record's error.
 */
static void
route_row(StreamSink *sink, int i)
{
	TupleTableSlot *slot = sink->slots[i];
	ResourceOwner owner = CurrentResourceOwner;
	ResultRelInfo *rri;
	SinkPartition *part;
	TupleTableSlot *routed;
	TupleConversionMap *map;

	/*
	 * What the routing opens (partitions, their indexes, slots pinning
	 * their row types) outlives the subtransaction of try_prepare.
	 */
	CurrentResourceOwner = sink->owner;
	PG_TRY();
	{
		rri = ExecFindPartition(sink->mtstate, sink->rri, sink->proute, slot,
								sink->estate);
		part = sink_partition(sink, rri);
		routed = partition_slot(sink, part, i);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();

	sink->routed[i] = part;
	sink->routed_slots[i] = routed;
	map = rri->ri_RootToPartitionMap;
	if (map != NULL)
		execute_attr_map_slot(map->attrMap, slot, routed);
	else
	{
		/* the same row type: the values as they are */
		ExecClearTuple(routed);
		memcpy(routed->tts_values, slot->tts_values, sizeof(Datum) * sink->natts);
		memcpy(routed->tts_isnull, slot->tts_isnull, sizeof(bool) * sink->natts);
		ExecStoreVirtualTuple(routed);
	}
	routed->tts_tableOid = RelationGetRelid(rri->ri_RelationDesc);
	if (!part->before_row)
		check_partition_row(sink, rri, routed, false);
}

ResultRelInfo *
stream_sink_route_key(StreamSink *sink, TupleTableSlot *slot)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ResultRelInfo *volatile rri = NULL;

	Assert(sink->proute != NULL);

	/*
	 * "No partition for the row" is caught here without a subtransaction.
	 * The keyed target's unique index on its keys includes every column of
	 * the partition key at every level (PostgreSQL requires it of unique
	 * indexes of partitioned tables, and forbids expressions in their
	 * partition keys), so routing evaluates nothing of the user's: that
	 * error is raised after the routing's work is done, with nothing
	 * half-acquired to release.  Any other error is rethrown.
	 */
	CurrentResourceOwner = sink->owner;
	PG_TRY();
	{
		rri = ExecFindPartition(sink->mtstate, sink->rri, sink->proute, slot,
								sink->estate);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		CurrentResourceOwner = owner;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_CHECK_VIOLATION)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		rri = NULL;
	}
	PG_END_TRY();
	CurrentResourceOwner = owner;
	MemoryContextSwitchTo(cxt);
	ResetPerTupleExprContext(sink->estate);
	return rri;
}

/*
 * Generated columns and constraints of a row of a partition; after BEFORE
 * ROW triggers also the partition's bounds, which the trigger may have
 * left.
 */
static void
check_partition_row(StreamSink *sink, ResultRelInfo *rri, TupleTableSlot *slot,
					bool after_triggers)
{
	TupleDesc	desc = RelationGetDescr(rri->ri_RelationDesc);

	if (desc->constr && desc->constr->has_generated_stored)
		ExecComputeStoredGenerated(rri, sink->estate, slot, CMD_INSERT);
	if (desc->constr)
		ExecConstraints(rri, slot, sink->estate);
	if (after_triggers)
		ExecPartitionCheck(rri, slot, sink->estate, true);
}

/*
 * Build buffered row i in the target's shape: coerced values, defaults and,
 * without BEFORE ROW triggers, generated columns and constraints.
 */
static void
prepare_row(StreamSink *sink, int i)
{
	TupleTableSlot *slot = sink->slots[i];
	TupleDesc	desc = slot->tts_tupleDescriptor;
	int			ninput = sink->input_desc->natts;
	Datum	   *in_values = sink->input_values + (Size) i * ninput;
	bool	   *in_nulls = sink->input_nulls + (Size) i * ninput;
	ExprContext *econtext = GetPerTupleExprContext(sink->estate);
	MemoryContext old;
	int			a = 0;

	sink->current = &sink->coordinates[i];
	ExecClearTuple(slot);
	if (sink->any_coercion)
	{
		TupleTableSlot *input = sink->input_slot;

		ExecClearTuple(input);
		memcpy(input->tts_values, in_values, sizeof(Datum) * ninput);
		memcpy(input->tts_isnull, in_nulls, sizeof(bool) * ninput);
		ExecStoreVirtualTuple(input);
	}
	old = MemoryContextSwitchTo(sink->rowcxt);
	if (sink->old_rows[i])
	{
		bool	   *keep = sink->keep + (Size) i * ninput;

		/* an update: the stored values where the input gives none */
		heap_deform_tuple(sink->old_rows[i], desc, slot->tts_values, slot->tts_isnull);
		for (a = 0; a < sink->natts; a++)
		{
			int			in = sink->input_index[a];

			if (in < 0 || keep[in])
				continue;
			if (sink->coercions[a] == NULL)
			{
				slot->tts_isnull[a] = in_nulls[in];
				slot->tts_values[a] = in_values[in];
				continue;
			}
			sink->current_column = a;
			econtext->ecxt_scantuple = sink->input_slot;
			{
				Form_pg_attribute att = TupleDescAttr(desc, a);
				Datum		d = ExecEvalExprSwitchContext(sink->coercions[a], econtext,
														  &slot->tts_isnull[a]);

				slot->tts_values[a] = slot->tts_isnull[a] ? (Datum) 0 :
					datumCopy(d, att->attbyval, att->attlen);
			}
		}
		a = sink->natts;		/* done */
	}
	for (; a < sink->natts; a++)
	{
		int			in = sink->input_index[a];
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (in >= 0 && sink->coercions[a] == NULL)
		{
			slot->tts_isnull[a] = in_nulls[in];
			slot->tts_values[a] = in_values[in];
			continue;
		}
		if (in >= 0 || sink->defaults[a])
		{
			ExprState  *state = in >= 0 ? sink->coercions[a] : sink->defaults[a];
			Datum		d;

			sink->current_column = a;
			/* generated columns' evaluation points it elsewhere */
			econtext->ecxt_scantuple = sink->input_slot;
			d = ExecEvalExprSwitchContext(state, econtext, &slot->tts_isnull[a]);
			slot->tts_values[a] = slot->tts_isnull[a] ? (Datum) 0 :
				datumCopy(d, att->attbyval, att->attlen);
			continue;
		}
		slot->tts_isnull[a] = true;
		slot->tts_values[a] = (Datum) 0;
	}
	sink->current_column = -1;
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);
	if (sink->proute)
		route_row(sink, i);
	else if (!sink->row_triggers_before)
	{
		if (sink->has_generated)
			ExecComputeStoredGenerated(sink->rri, sink->estate, slot, CMD_INSERT);
		if (sink->rel->rd_att->constr)
			ExecConstraints(sink->rri, slot, sink->estate);
	}
	ResetExprContext(econtext);
}

/*
 * Prepare rows [from, to) in a subtransaction; false with the error when
 * one failed (everything the attempt did is rolled back).
 */
typedef struct PrepareAttempt
{
	StreamSink *sink;
	int			from;
	int			to;
} PrepareAttempt;

static void
prepare_attempt(void *arg)
{
	PrepareAttempt *a = arg;
	int			i;

	for (i = a->from; i < a->to; i++)
		prepare_row(a->sink, i);
}

static bool
try_prepare(StreamSink *sink, int from, int to, ErrorData **edata)
{
	PrepareAttempt attempt = {sink, from, to};
	bool		ok = stream_in_subtransaction(prepare_attempt, &attempt, edata);

	sink->current_column = -1;
	ResetPerTupleExprContext(sink->estate);
	return ok;
}

/*
 * Prepare rows [from, to), rejecting those that fail alone: halves in
 * subtransactions of their own, so that a few bad rows in a buffer cost a
 * few subtransactions each, not one per row.
 */
static void
prepare_halves(StreamSink *sink, int from, int to)
{
	ErrorData  *edata;
	int			middle;

	if (from >= to || try_prepare(sink, from, to, &edata))
		return;
	if (!is_value_error(edata->sqlerrcode))
		ReThrowError(edata);
	if (to - from > 1)
	{
		FreeErrorData(edata);
		middle = from + (to - from) / 2;
		prepare_halves(sink, from, middle);
		prepare_halves(sink, middle, to);
		return;
	}
	sink->rejected[from] = true;
	ExecClearTuple(sink->slots[from]);
	sink->current = NULL;
	sink->reject(sink->reject_arg, sink->coordinates[from].topic,
				 sink->coordinates[from].partition, sink->coordinates[from].offset, edata);
	FreeErrorData(edata);
}

static void
prepare_buffered(StreamSink *sink)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *edata;
	int			i;

	if (!sink->fallible || sink->reject == NULL)
	{
		/* nothing to catch: a bad value fails the batch, naming its record */
		PG_TRY();
		{
			for (i = 0; i < sink->buffered; i++)
				prepare_row(sink, i);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			if (is_value_error(edata->sqlerrcode))
				stream_record_error_raised = true;
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		PG_END_TRY();
		return;
	}

	prepare_halves(sink, 0, sink->buffered);
}

/*
 * Write buffered update i (prepared): the new version, and its index
 * entries unless the update was HOT; with row triggers, through the
 * executor's simple-relation update, which fires them.
 */
static void
update_row(StreamSink *sink, int i, ResultRelInfo *rri, TupleTableSlot *slot)
{
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	bool		update_indexes;
	TM_Result	result;

	sink->current = &sink->coordinates[i];
	if (sink->row_triggers)
	{
		/*
		 * As logical replication applies an update: BEFORE and AFTER ROW
		 * UPDATE triggers (foreign keys' too), generated columns,
		 * constraints, index entries.
		 */
		/* the stored row is found by its tid (in a partition: there) */
		ExecStoreHeapTuple(sink->old_rows[i], sink->old_slot, false);
		sink->old_slot->tts_tid = sink->old_tids[i];
		ExecSimpleRelationUpdate(rri, sink->estate, &sink->epqstate,
								 sink->old_slot, slot);
		ExecClearTuple(sink->old_slot);
		ExecClearTuple(slot);
		ResetPerTupleExprContext(sink->estate);
		sink->updated++;
		return;
	}
	if (sink->proute != NULL && sink->routed[i]->before_row)
		check_partition_row(sink, rri, slot, false);	/* route_row left it */
	else if (sink->row_triggers_before)
	{
		/* prepare_row left these to after the (insert) triggers */
		if (sink->has_generated)
			ExecComputeStoredGenerated(sink->rri, sink->estate, slot, CMD_INSERT);
		if (sink->rel->rd_att->constr)
			ExecConstraints(sink->rri, slot, sink->estate);
	}
	result = table_tuple_update(rri->ri_RelationDesc, &sink->old_tids[i], slot, sink->cid,
								sink->snapshot, InvalidSnapshot, true, &tmfd,
								&lockmode, &update_indexes);
	if (result != TM_Ok)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not update a row of streaming table \"%s\": it was changed concurrently",
						RelationGetRelationName(sink->rel)),
				 errdetail("The batch is rolled back and applied again.")));
	if (update_indexes && rri->ri_NumIndices == 1 &&
		RelationGetRelid(rri->ri_IndexRelationDescs[0]) == sink->key_index &&
		rri->ri_IndexRelationInfo[0]->ii_Expressions == NIL &&
		rri->ri_IndexRelationInfo[0]->ii_Predicate == NIL &&
		rri->ri_IndexRelationInfo[0]->ii_ExclusionOps == NULL)
	{
		/*
		 * The only index is the key's, whose columns the update keeps: the
		 * stored version already holds the key, so the new entry needs no
		 * uniqueness check (which would visit that version again); a
		 * concurrent insert of the key still conflicts with it.
		 */
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		ExprContext *econtext = GetPerTupleExprContext(sink->estate);

		econtext->ecxt_scantuple = slot;
		FormIndexDatum(rri->ri_IndexRelationInfo[0], slot, sink->estate, values, isnull);
		index_insert(rri->ri_IndexRelationDescs[0], values, isnull, &slot->tts_tid,
					 rri->ri_RelationDesc, UNIQUE_CHECK_NO, true, rri->ri_IndexRelationInfo[0]);
	}
	else if (update_indexes && rri->ri_NumIndices > 0)
		list_free(ExecInsertIndexTuples(rri, slot, sink->estate,
										true, false, NULL, NIL));
	ExecClearTuple(slot);
	ResetPerTupleExprContext(sink->estate);
	sink->updated++;
}

/*
 * Index entries and AFTER ROW triggers of a row written into a partition
 * (or the target).
 */
static void
after_insert(StreamSink *sink, ResultRelInfo *rri, TupleTableSlot *slot)
{
	List	   *recheck = NIL;

	if (rri->ri_NumIndices > 0)
		recheck = ExecInsertIndexTuples(rri, slot, sink->estate, false, false,
										NULL, NIL);
	if ((rri->ri_TrigDesc && rri->ri_TrigDesc->trig_insert_after_row) ||
		(sink->transition && sink->transition->tcs_insert_new_table))
		ExecARInsertTriggers(sink->estate, rri, slot, recheck, sink->transition);
	list_free(recheck);
	ExecClearTuple(slot);
	ResetPerTupleExprContext(sink->estate);
}

/* A bulk-insert state for a partition, living as long as the sink. */
static BulkInsertState
partition_bistate(StreamSink *sink)
{
	MemoryContext old = MemoryContextSwitchTo(sink->estate->es_query_cxt);
	BulkInsertState bistate = GetBulkInsertState();

	MemoryContextSwitchTo(old);
	return bistate;
}

/*
 * Write the prepared rows of a partitioned target: each into its
 * partition, one multi insert per partition, but one at a time into
 * partitions with BEFORE ROW triggers and foreign partitions.
 */
static void
flush_partitioned(StreamSink *sink)
{
	ListCell   *lc;
	int			i;

	for (i = 0; i < sink->buffered; i++)
	{
		SinkPartition *part = sink->routed[i];
		ResultRelInfo *rri;
		TupleTableSlot *slot = sink->routed_slots[i];

		if (sink->rejected[i])
			continue;
		if (sink->old_rows[i])
		{
			update_row(sink, i, part->rri, slot);
			continue;
		}
		if (!part->one_at_a_time)
		{
			part->kept_rows[part->nkept] = i;
			part->kept[part->nkept++] = slot;
			continue;
		}
		rri = part->rri;
		sink->current = &sink->coordinates[i];
		if (part->before_row)
		{
			if (!ExecBRInsertTriggers(sink->estate, rri, slot))
			{
				ExecClearTuple(slot);
				continue;		/* the trigger skipped the row */
			}
			check_partition_row(sink, rri, slot, true);
		}
		if (rri->ri_FdwRoutine != NULL)
		{
			TupleTableSlot *inserted;

			inserted = rri->ri_FdwRoutine->ExecForeignInsert(sink->estate, rri, slot, NULL);
			if (inserted == NULL)
			{
				ExecClearTuple(slot);
				continue;		/* the foreign table took no row */
			}
			slot = inserted;
		}
		else
		{
			if (part->bistate == NULL)
				part->bistate = partition_bistate(sink);
			table_tuple_insert(rri->ri_RelationDesc, slot, sink->cid, 0, part->bistate);
		}
		after_insert(sink, rri, slot);
		sink->rows++;
	}
	foreach(lc, sink->partitions)
	{
		SinkPartition *part = lfirst(lc);

		if (part->nkept > 0)
		{
			sink->current = NULL;
			if (part->bistate == NULL)
				part->bistate = partition_bistate(sink);
			table_multi_insert(part->rri->ri_RelationDesc, part->kept, part->nkept,
							   sink->cid, 0, part->bistate);
			for (i = 0; i < part->nkept; i++)
			{
				sink->current = &sink->coordinates[part->kept_rows[i]];
				after_insert(sink, part->rri, part->kept[i]);
			}
			sink->rows += part->nkept;
		}
		part->nkept = 0;
		part->used = 0;
	}
	sink->current = NULL;
	memset(sink->routed, 0, sizeof(SinkPartition *) * sink->buffered);
	memset(sink->routed_slots, 0, sizeof(TupleTableSlot *) * sink->buffered);
	sink->buffered = 0;
	MemoryContextReset(sink->rowcxt);
}

void
stream_sink_flush(StreamSink *sink)
{
	int			nkept = 0;
	int			i;

	if (sink->buffered == 0)
		return;
	prepare_buffered(sink);
	if (sink->proute)
	{
		flush_partitioned(sink);
		return;
	}
	for (i = 0; i < sink->buffered; i++)
	{
		TupleTableSlot *slot = sink->slots[i];

		if (sink->rejected[i])
			continue;
		if (sink->old_rows[i])
		{
			update_row(sink, i, sink->rri, slot);
			continue;
		}
		if (sink->row_triggers_before)
		{
			sink->current = &sink->coordinates[i];
			if (!ExecBRInsertTriggers(sink->estate, sink->rri, slot))
			{
				ExecClearTuple(slot);
				continue;		/* the trigger skipped the row */
			}
			if (sink->has_generated)
				ExecComputeStoredGenerated(sink->rri, sink->estate, slot, CMD_INSERT);
			if (sink->rel->rd_att->constr)
				ExecConstraints(sink->rri, slot, sink->estate);
		}
		sink->kept[nkept++] = slot;
	}
	sink->current = NULL;
	if (nkept > 0)
		table_multi_insert(sink->rel, sink->kept, nkept, sink->cid, 0, sink->bistate);
	for (i = 0; i < sink->buffered; i++)
	{
		TupleTableSlot *slot = sink->slots[i];
		List	   *recheck = NIL;

		if (TTS_EMPTY(slot) || sink->old_rows[i])
			continue;
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
	sink->rows += nkept;
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
	if (sink->row_triggers)
	{
		ExecASUpdateTriggers(sink->estate, sink->rri, NULL);
		ExecASDeleteTriggers(sink->estate, sink->rri, NULL);
		EvalPlanQualEnd(&sink->epqstate);
	}
	ExecASInsertTriggers(sink->estate, sink->rri, sink->transition);
	AfterTriggerEndQuery(sink->estate);
	FreeBulkInsertState(sink->bistate);
	table_finish_bulk_insert(sink->rel, 0);
	if (sink->proute)
	{
		ListCell   *lc;

		foreach(lc, sink->partitions)
		{
			SinkPartition *part = lfirst(lc);

			if (part->bistate == NULL)
				continue;
			FreeBulkInsertState(part->bistate);
			table_finish_bulk_insert(part->rri->ri_RelationDesc, 0);
		}
		/* as COPY FROM: the partitions and their indexes, FDWs' end */
		ExecCleanupTupleRouting(sink->mtstate, sink->proute);
	}
	/* the indexes, and relations AFTER triggers opened, then ours */
	ExecCloseResultRelations(sink->estate);
	ExecCloseRangeTableRelations(sink->estate);
	ExecResetTupleTable(sink->estate->es_tupleTable, false);
	FreeExecutorState(sink->estate);
	MemoryContextDelete(sink->rowcxt);
	rows = sink->rows;
	pfree(sink);
	return rows;
}
