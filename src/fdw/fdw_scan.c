/*-------------------------------------------------------------------------
 *
 * fdw_scan.c
 *	  SELECT from kafka foreign tables: planning, the scan, EXPLAIN and
 *	  ANALYZE.
 *
 * Planning asks the broker for the partitions' watermarks, so row estimates
 * follow the topic (and the seek ranges of constant WHERE clauses).  A scan
 * fixes its ranges when it starts (parameters and InitPlans are known by
 * then): the table's starting_offsets/ending_offsets, narrowed by the seek
 * ranges of the pushed-down clauses (pushdown.c).  Records come from the
 * shared partition-range reader (read/reader.c) and are decoded by the
 * table's codec decoders (kafka_table.c).
 *
 * on_error: 'fail' decodes with kafka_decoder_allow_throw (no
 * subtransaction ever, which also makes the scan parallel safe).  'null' and
 * 'skip' decode without throwing; the codec's fast paths need nothing for
 * that.  Only when a needed column has a type without a fast path
 * (interval, inet, enums, domains...) would each such value need a
 * subtransaction of its own: instead, the scan decodes batches of records
 * optimistically with throwing decoders inside one subtransaction, and only
 * a batch that hits an error is decoded again, record by record, with the
 * non-throwing decoders.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/xact.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "fdw/fdw_scan.h"
#include "fdw/kafka_table.h"
#include "fdw/pushdown.h"
#include "options.h"

/* Planner state of a kafka foreign table (baserel->fdw_private). */
typedef struct KafkaRelInfo
{
	KafkaTable *table;
	double		records;		/* records the seeks leave to read */
} KafkaRelInfo;

typedef struct KafkaScanState
{
	MemoryContext scan_context; /* table, pushdown; the scan's lifetime */
	MemoryContext read_context; /* clients, ranges; one read (rescans) */
	MemoryContext record_context;	/* one record's values */
	KafkaTable *table;
	KafkaPushdown *pushdown;	/* NULL without pushed-down clauses */
	Oid			userid;
	bool		started;
	bool		beyond_end_noticed; /* said once per scan, not per rescan */
	List	   *boxes;
	List	   *ranges;
	KafkaClient *client;
	KafkaReader *reader;
	int64		records;		/* read (all loops), for EXPLAIN ANALYZE */
	int64		errors;			/* malformed (all loops) */
	/* optimistic batches (on_error null/skip with slow-path types) */
	KafkaTable *throwing_table; /* NULL: decode record by record */
	MemoryContext batch_context;
	rd_kafka_message_t **batch_records;
	KafkaPartitionRange **batch_ranges;
	HeapTuple  *batch_tuples;
	int			batch_count;
	int			batch_pos;
	int64		batches_redone; /* for EXPLAIN ANALYZE */
} KafkaScanState;

/* Records decoded optimistically in one subtransaction. */
#define KAFKA_DECODE_BATCH 1024

/* Fixed cost of a scan: connecting and looking up offsets. */
#define KAFKA_STARTUP_COST 100.0

/* The user whose user mapping a scan of this relation uses. */
static Oid
scan_user(EState *estate, Index scanrelid)
{
	RangeTblEntry *rte = exec_rt_fetch(scanrelid, estate);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
}

/*
 * The table's partitions with the table's starting/ending offsets resolved
 * against the watermarks, using (and keeping open) a client.
 */
static List *
table_ranges(KafkaTable *table, KafkaClient *client, bool fail_on_data_loss)
{
	List	   *ranges = kafka_source_partitions(client, KAFKA_SOURCE_SUBSCRIBE,
												 table->topic, "topic");

	if (table->starting_offsets)
		kafka_ranges_apply_offsets(ranges, table->starting_offsets, true, "starting_offsets");
	if (table->ending_offsets)
		kafka_ranges_apply_offsets(ranges, table->ending_offsets, false, "ending_offsets");
	kafka_resolve_ranges(client, ranges, fail_on_data_loss);
	return ranges;
}

static void
get_foreign_rel_size(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	KafkaRelInfo *info = palloc0(sizeof(KafkaRelInfo));
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	KafkaConnectionSpec *spec;
	KafkaClient *probe;
	List	   *ranges;
	List	   *clauses = NIL;
	List	   *other_clauses = NIL;
	List	   *boxes;
	bool		exact;
	bool		constant;
	double		total = 0;
	ListCell   *lc;

	info->table = kafka_table_open(foreigntableid, CurrentMemoryContext);
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst(lc);

		if (kafka_enable_pushdown &&
			kafka_pushdown_usable(info->table, baserel->relid, rinfo->clause))
			clauses = lappend(clauses, rinfo->clause);
		else
			other_clauses = lappend(other_clauses, rinfo);
	}

	/* the watermarks say how many records there are */
	spec = kafka_connection_for_server(info->table->server, userid);
	probe = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	ranges = table_ranges(info->table, probe, false);
	kafka_client_close(probe);
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		total += Max(r->end_offset - r->start_offset, 0);
	}
	boxes = kafka_pushdown_const_boxes(info->table, baserel->relid, clauses, &exact,
									   &constant);
	info->records = kafka_pushdown_count(ranges, boxes);

	baserel->tuples = total;
	baserel->rows = clamp_row_est(info->records *
								  clauselist_selectivity(root,
														 exact ? other_clauses : baserel->baserestrictinfo,
														 baserel->relid, JOIN_INNER, NULL));
	baserel->fdw_private = info;
}

/* generate_implied_equalities_for_column: is em our seek column var? */
static bool
ec_member_is_var(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
				 EquivalenceMember *em, void *arg)
{
	return equal(em->em_expr, arg);
}

/* Join clauses that would give seek ranges, with the outer rels they need. */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel,
						double per_record)
{
	KafkaRelInfo *info = baserel->fdw_private;
	List	   *candidates = NIL;
	List	   *param_infos = NIL;
	ListCell   *lc;
	int			i;

	foreach(lc, baserel->joininfo)
		candidates = lappend(candidates, lfirst(lc));
	if (baserel->has_eclass_joins)
	{
		for (i = 0; i < info->table->desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(info->table->desc, i);
			Var		   *var;

			if (info->table->roles[i] != KAFKA_COLUMN_PARTITION &&
				info->table->roles[i] != KAFKA_COLUMN_OFFSET)
				continue;
			var = makeVar(baserel->relid, i + 1, att->atttypid, att->atttypmod,
						  att->attcollation, 0);
			candidates = list_concat(candidates,
									 generate_implied_equalities_for_column(root, baserel,
																			ec_member_is_var, var,
																			baserel->lateral_referencers));
		}
	}
	foreach(lc, candidates)
	{
		RestrictInfo *rinfo = lfirst(lc);
		Relids		required_outer;

		if (!join_clause_is_movable_to(rinfo, baserel) ||
			!kafka_pushdown_usable(info->table, baserel->relid, rinfo->clause))
			continue;
		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		param_infos = list_append_unique_ptr(param_infos,
											 get_baserel_parampathinfo(root, baserel, required_outer));
	}

	foreach(lc, param_infos)
	{
		ParamPathInfo *param_info = lfirst(lc);
		List	   *seek = NIL;
		ListCell   *lc2;
		double		records;

		foreach(lc2, param_info->ppi_clauses)
		{
			RestrictInfo *rinfo = lfirst(lc2);

			if (kafka_pushdown_usable(info->table, baserel->relid, rinfo->clause))
				seek = lappend(seek, rinfo);
		}
		if (seek == NIL)
			continue;
		/* each loop reads what the seeks select: estimate it like a filter */
		records = clamp_row_est(info->records *
								clauselist_selectivity(root, seek, baserel->relid,
													   JOIN_INNER, NULL));
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, param_info->ppi_rows,
										 KAFKA_STARTUP_COST,
										 KAFKA_STARTUP_COST + records * per_record +
										 param_info->ppi_rows * cpu_tuple_cost,
										 NIL, param_info->ppi_req_outer, NULL, NIL));
	}
}

static void
get_foreign_paths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	KafkaRelInfo *info = baserel->fdw_private;
	int			columns = 0;
	double		per_record;
	int			i;

	for (i = 0; i < info->table->desc->natts; i++)
		if (info->table->roles[i] != KAFKA_COLUMN_DROPPED)
			columns++;
	/* fetching and decoding a record costs a few operators per column */
	per_record = cpu_tuple_cost + cpu_operator_cost * (2 + columns);

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 KAFKA_STARTUP_COST,
									 KAFKA_STARTUP_COST + info->records * per_record +
									 baserel->rows * cpu_tuple_cost,
									 NIL, NULL, NULL, NIL));

	/*
	 * Nested loops whose outer side gives partitions or offsets: each loop
	 * seeks to what it needs (every rescan starts a new read).
	 */
	if (kafka_enable_pushdown)
		add_parameterized_paths(root, baserel, per_record);
}

static ForeignScan *
get_foreign_plan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	KafkaRelInfo *info = baserel->fdw_private;
	List	   *seek = NIL;
	List	   *local;
	Bitmapset  *attrs = NULL;
	List	   *used = NIL;
	int			attno;
	ListCell   *lc;

	/*
	 * Every clause stays a filter: seeks only skip what cannot match.  In a
	 * parameterized path scan_clauses also holds the join clauses, whose
	 * outer columns become parameters.
	 */
	local = extract_actual_clauses(scan_clauses, false);
	if (kafka_enable_pushdown)
	{
		foreach(lc, scan_clauses)
		{
			RestrictInfo *rinfo = lfirst(lc);

			if (!rinfo->pseudoconstant &&
				kafka_pushdown_usable(info->table, baserel->relid, rinfo->clause))
				seek = lappend(seek, rinfo->clause);
		}
	}

	/* the columns the scan must fill */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	pull_varattnos((Node *) local, baserel->relid, &attrs);
	attno = -1;
	while ((attno = bms_next_member(attrs, attno)) >= 0)
	{
		/* system columns (tableoid...) are not ours to fill */
		if (attno + FirstLowInvalidHeapAttributeNumber >= 0)
			used = lappend_int(used, attno + FirstLowInvalidHeapAttributeNumber);
	}

	return make_foreignscan(tlist, local, baserel->relid, seek,
							list_make1(used), NIL, NIL, outer_plan);
}

static void
begin_foreign_scan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	KafkaScanState *state = palloc0(sizeof(KafkaScanState));
	List	   *used = linitial(plan->fdw_private);
	Bitmapset  *attrs = NULL;
	MemoryContext old;
	ListCell   *lc;

	state->scan_context = AllocSetContextCreate(estate->es_query_cxt, "kafka foreign scan",
												ALLOCSET_DEFAULT_SIZES);
	state->record_context = AllocSetContextCreate(state->scan_context, "kafka record",
												  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(state->scan_context);
	state->table = kafka_table_open(RelationGetRelid(node->ss.ss_currentRelation),
									state->scan_context);
	foreach(lc, used)
		attrs = bms_add_member(attrs, lfirst_int(lc));
	kafka_table_set_needed(state->table, attrs, 0);
	if (state->table->on_error == KAFKA_ON_ERROR_FAIL)
		kafka_table_allow_throw(state->table);
	if (state->table->on_error != KAFKA_ON_ERROR_FAIL &&
		kafka_table_needs_subtransactions(state->table))
	{
		state->throwing_table = kafka_table_open(RelationGetRelid(node->ss.ss_currentRelation),
												 state->scan_context);
		kafka_table_set_needed(state->throwing_table, attrs, 0);
		kafka_table_allow_throw(state->throwing_table);
		state->batch_context = AllocSetContextCreate(state->scan_context, "kafka decode batch",
													 ALLOCSET_DEFAULT_SIZES);
		state->batch_records = palloc(sizeof(rd_kafka_message_t *) * KAFKA_DECODE_BATCH);
		state->batch_ranges = palloc(sizeof(KafkaPartitionRange *) * KAFKA_DECODE_BATCH);
		state->batch_tuples = palloc(sizeof(HeapTuple) * KAFKA_DECODE_BATCH);
	}
	if (plan->fdw_exprs != NIL)
		state->pushdown = kafka_pushdown_init(state->table, plan->scan.scanrelid,
											  plan->fdw_exprs, &node->ss.ps);
	state->userid = scan_user(estate, plan->scan.scanrelid);
	MemoryContextSwitchTo(old);
	node->fdw_state = state;
}

static void
start_read(ForeignScanState *node, KafkaScanState *state)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext old;
	KafkaConnectionSpec *spec;
	KafkaClient *probe;

	state->read_context = AllocSetContextCreate(state->scan_context, "kafka read",
												ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(state->read_context);
	state->boxes = state->pushdown ? kafka_pushdown_boxes(state->pushdown, econtext) : NIL;
	spec = kafka_connection_for_server(state->table->server, state->userid);
	probe = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	state->ranges = table_ranges(state->table, probe, true);
	if (!state->beyond_end_noticed)
	{
		kafka_ranges_notice_beyond_end(state->ranges, "starting_offsets");
		state->beyond_end_noticed = true;
	}
	if (state->pushdown)
		kafka_pushdown_apply(probe, state->ranges, state->boxes);
	kafka_client_close(probe);

	kafka_spec_bound_fetch_memory(spec, list_length(state->ranges));
	state->client = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	state->reader = kafka_reader_start(state->client, state->ranges, true);
	state->batch_count = state->batch_pos = 0;
	state->started = true;
	MemoryContextSwitchTo(old);
}

static void
end_read(KafkaScanState *state)
{
	if (state->reader)
		kafka_reader_stop(state->reader);
	state->reader = NULL;
	state->client = NULL;
	state->ranges = NIL;
	state->boxes = NIL;
	state->batch_count = state->batch_pos = 0;
	if (state->batch_context)
		MemoryContextReset(state->batch_context);
	/* deleting the context closes the clients (memory-context callbacks) */
	if (state->read_context)
		MemoryContextDelete(state->read_context);
	state->read_context = NULL;
	state->started = false;
}

/*
 * Decode the batch's records into tuples with table's decoders: the
 * malformed ones per on_error (null or skip).  Returns the malformed count.
 */
static int
decode_batch(KafkaScanState *state, KafkaTable *table)
{
	TupleDesc	desc = table->desc;
	Datum	   *values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	int			malformed = 0;
	int			i;

	state->batch_count = 0;
	for (i = 0; i < state->batch_pos; i++)
	{
		char	   *error;
		bool		ok;

		MemoryContextReset(state->record_context);
		MemoryContextSwitchTo(state->record_context);
		ok = kafka_table_decode(table, state->batch_records[i], state->batch_ranges[i],
								values, nulls, &error);
		MemoryContextSwitchTo(state->batch_context);
		if (table->skip_record)
			continue;
		if (!ok)
		{
			malformed++;
			if (table->on_error == KAFKA_ON_ERROR_SKIP)
				continue;
		}
		state->batch_tuples[state->batch_count++] = heap_form_tuple(desc, values, nulls);
	}
	return malformed;
}

/* Errors a bad value gives (data exceptions, domain checks), not others. */
static bool
is_data_error(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION;
}

/*
 * The next batch of tuples: read up to KAFKA_DECODE_BATCH records (kept
 * valid by the reader), decode them with throwing decoders in one
 * subtransaction and, if a value fails, decode them again without throwing.
 */
static bool
fill_batch(KafkaScanState *state)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile int malformed = 0;
	volatile bool redo = false;
	int			n = 0;

	MemoryContextReset(state->batch_context);
	kafka_reader_release(state->reader);
	kafka_reader_retain(state->reader, true);
	while (n < KAFKA_DECODE_BATCH)
	{
		rd_kafka_message_t *msg = kafka_reader_next(state->reader, &state->batch_ranges[n]);

		if (msg == NULL)
			break;
		state->batch_records[n++] = msg;
	}
	state->records += n;
	state->batch_count = 0;
	state->batch_pos = n;		/* records to decode, for decode_batch */
	if (n == 0)
		return false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(state->batch_context);
	PG_TRY();
	{
		malformed = decode_batch(state, state->throwing_table);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		if (!is_data_error(edata->sqlerrcode))
			ReThrowError(edata);
		FreeErrorData(edata);
		redo = true;
	}
	PG_END_TRY();

	if (redo)
	{
		/* a value failed: again, one record at a time, without throwing */
		MemoryContextReset(state->batch_context);
		MemoryContextSwitchTo(state->batch_context);
		malformed = decode_batch(state, state->table);
		MemoryContextSwitchTo(caller);
		state->batches_redone++;
	}
	state->errors += malformed;
	state->batch_pos = 0;
	kafka_reader_release(state->reader);
	kafka_reader_retain(state->reader, false);
	return true;
}

static TupleTableSlot *
iterate_foreign_scan(ForeignScanState *node)
{
	KafkaScanState *state = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	if (!state->started)
		start_read(node, state);
	if (state->throwing_table)
	{
		while (state->batch_pos >= state->batch_count)
		{
			if (!fill_batch(state))
				return slot;
		}
		return ExecStoreHeapTuple(state->batch_tuples[state->batch_pos++], slot, false);
	}
	for (;;)
	{
		KafkaPartitionRange *range;
		rd_kafka_message_t *msg = kafka_reader_next(state->reader, &range);
		MemoryContext old;
		char	   *error;
		bool		ok;

		if (msg == NULL)
			return slot;
		state->records++;
		MemoryContextReset(state->record_context);
		old = MemoryContextSwitchTo(state->record_context);
		ok = kafka_table_decode(state->table, msg, range, slot->tts_values,
								slot->tts_isnull, &error);
		MemoryContextSwitchTo(old);
		if (state->table->skip_record)
			continue;
		if (!ok)
		{
			state->errors++;
			if (state->table->on_error == KAFKA_ON_ERROR_FAIL)
				kafka_table_report_error(state->table, msg, error);
			if (state->table->on_error == KAFKA_ON_ERROR_SKIP)
				continue;
		}
		return ExecStoreVirtualTuple(slot);
	}
}

static void
rescan_foreign_scan(ForeignScanState *node)
{
	/* parameters may have changed: the next fetch starts a new read */
	end_read(node->fdw_state);
}

static void
end_foreign_scan(ForeignScanState *node)
{
	KafkaScanState *state = node->fdw_state;

	if (state == NULL)
		return;
	end_read(state);
	MemoryContextDelete(state->scan_context);
	node->fdw_state = NULL;
}

static void
explain_foreign_scan(ForeignScanState *node, ExplainState *es)
{
	KafkaScanState *state = node->fdw_state;
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;

	ExplainPropertyText("Kafka Topic", state->table->topic, es);
	if (es->verbose)
		ExplainPropertyText("Kafka Format", state->table->format->name, es);
	if (es->verbose && state->table->on_error != KAFKA_ON_ERROR_FAIL)
		ExplainPropertyText("Kafka On Error", kafka_on_error_name(state->table->on_error), es);
	if (plan->fdw_exprs != NIL)
	{
		if (state->started)
			ExplainPropertyText("Kafka Seek", kafka_seek_boxes_describe(state->boxes), es);
		else
		{
			bool		exact;
			bool		constant;
			List	   *boxes = kafka_pushdown_const_boxes(state->table, plan->scan.scanrelid,
														   plan->fdw_exprs, &exact, &constant);

			/* parameters are only known when the scan starts */
			if (constant)
				ExplainPropertyText("Kafka Seek", kafka_seek_boxes_describe(boxes), es);
			else
				ExplainPropertyText("Kafka Seek", "computed from parameters when the scan starts", es);
		}
	}
	if (es->analyze)
	{
		/* the ranges of the last loop; the counts of all loops */
		if (state->started)
			ExplainPropertyText("Kafka Ranges", kafka_ranges_describe(state->ranges, 32), es);
		ExplainPropertyInteger("Kafka Records", NULL, state->records, es);
		if (state->errors > 0)
			ExplainPropertyInteger("Kafka Malformed Records", NULL, state->errors, es);
		if (state->batches_redone > 0)
			ExplainPropertyInteger("Kafka Batches Decoded Again", NULL, state->batches_redone, es);
	}
}

static bool
is_foreign_scan_parallel_safe(PlannerInfo *root, RelOptInfo *rel,
							  RangeTblEntry *rte)
{
	char	   *on_error = kafka_option_value(GetForeignTable(rte->relid)->options, "on_error");

	/*
	 * Called before GetForeignRelSize.  on_error null/skip may need
	 * subtransactions, impossible in parallel mode; 'fail' never does.
	 */
	return on_error == NULL || strcmp(on_error, "fail") == 0;
}

/* ANALYZE */

/* Sample pieces per partition, spread over its records. */
#define SAMPLE_PIECES 8

static int
acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows,
					int targrows, double *totalrows, double *totaldeadrows)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "kafka analyze",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext record = AllocSetContextCreate(work, "kafka analyze record",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(work);
	KafkaTable *table = kafka_table_open(RelationGetRelid(relation), work);
	KafkaConnectionSpec *spec = kafka_connection_for_server(table->server, GetUserId());
	KafkaClient *probe = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	List	   *ranges = table_ranges(table, probe, false);
	KafkaClient *client;
	KafkaReader *reader;
	Datum	   *values = palloc(sizeof(Datum) * Max(table->desc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(table->desc->natts, 1));
	int			nonempty = 0;
	int64		per_partition;
	double		total = 0;
	int			count = 0;
	ListCell   *lc;

	kafka_client_close(probe);
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		total += Max(r->end_offset - r->start_offset, 0);
		if (r->end_offset > r->start_offset)
			nonempty++;
	}
	per_partition = nonempty > 0 ? (targrows + nonempty - 1) / nonempty : 0;

	/* a bounded sample: a few evenly spaced pieces of each partition */
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);
		int64		length = r->end_offset - r->start_offset;
		int64		piece = Max(per_partition / SAMPLE_PIECES, 1);
		int			p;

		if (length <= per_partition)
			continue;
		r->segments = palloc(sizeof(KafkaOffsetSegment) * SAMPLE_PIECES);
		r->nsegments = SAMPLE_PIECES;
		for (p = 0; p < SAMPLE_PIECES; p++)
		{
			r->segments[p].start = r->start_offset + (length / SAMPLE_PIECES) * p;
			r->segments[p].end = r->segments[p].start + piece;
		}
		r->start_offset = r->next_offset = r->segments[0].start;
		r->end_offset = r->segments[SAMPLE_PIECES - 1].end;
	}

	kafka_spec_bound_fetch_memory(spec, list_length(ranges));
	client = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	reader = kafka_reader_start(client, ranges, false);
	while (count < targrows)
	{
		KafkaPartitionRange *range;
		rd_kafka_message_t *msg = kafka_reader_next(reader, &range);
		char	   *error;
		bool		ok;

		if (msg == NULL)
			break;
		MemoryContextReset(record);
		MemoryContextSwitchTo(record);
		ok = kafka_table_decode(table, msg, range, values, nulls, &error);
		/* malformed records are only part of the table under on_error 'null' */
		if (table->skip_record || (!ok && table->on_error != KAFKA_ON_ERROR_NULL))
			continue;
		MemoryContextSwitchTo(caller);
		rows[count++] = heap_form_tuple(table->desc, values, nulls);
	}
	kafka_reader_stop(reader);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);

	*totalrows = total;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": sampled %d of %.0f kafka records",
					RelationGetRelationName(relation), count, total)));
	return count;
}

static bool
analyze_foreign_table(Relation relation, AcquireSampleRowsFunc *func,
					  BlockNumber *totalpages)
{
	*func = acquire_sample_rows;
	*totalpages = 1;
	return true;
}

void
kafka_fdw_set_scan_routines(FdwRoutine *routine)
{
	routine->GetForeignRelSize = get_foreign_rel_size;
	routine->GetForeignPaths = get_foreign_paths;
	routine->GetForeignPlan = get_foreign_plan;
	routine->BeginForeignScan = begin_foreign_scan;
	routine->IterateForeignScan = iterate_foreign_scan;
	routine->ReScanForeignScan = rescan_foreign_scan;
	routine->EndForeignScan = end_foreign_scan;
	routine->ExplainForeignScan = explain_foreign_scan;
	routine->AnalyzeForeignTable = analyze_foreign_table;
	routine->IsForeignScanParallelSafe = is_foreign_scan_parallel_safe;
}

void
kafka_fdw_scan_init(void)
{
	DefineCustomBoolVariable("kafka_fdw.enable_pushdown",
							 "Turns WHERE clauses on partition, offset and timestamp columns of kafka foreign tables into seeks.",
							 "Off: every scan reads the table's whole offset range (the clauses still filter).",
							 &kafka_enable_pushdown,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}
