/*-------------------------------------------------------------------------
 *
 * scan_node.c
 *	  The streaming scan for kafka.read_kafka() in FROM.
 *
 * PostgreSQL's FunctionScan materializes a set-returning function into a
 * tuplestore before returning the first row, so "LIMIT 10" would read the
 * whole topic.  A set_rel_pathlist hook replaces the function scan of
 * read_kafka with a CustomScan that evaluates the arguments and then returns
 * records one at a time from the reader.
 *
 * The scan uses scanrelid = 0 and a custom_scan_tlist of the function's
 * columns: a function RTE has no relation to open.  Whole-row references and
 * LATERAL arguments keep the ordinary function scan.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "read/read_kafka.h"

typedef struct KafkaScanState
{
	CustomScanState css;
	List	   *arg_states;		/* ExprState per function argument */
	ReadKafkaState *read;
	bool		started;
} KafkaScanState;

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;

static Plan *plan_kafka_path(PlannerInfo *root, RelOptInfo *rel,
							 CustomPath *best_path, List *tlist,
							 List *clauses, List *custom_plans);
static Node *create_kafka_scan_state(CustomScan *cscan);
static void begin_kafka_scan(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *exec_kafka_scan(CustomScanState *node);
static void end_kafka_scan(CustomScanState *node);
static void rescan_kafka_scan(CustomScanState *node);
static void explain_kafka_scan(CustomScanState *node, List *ancestors,
							   ExplainState *es);

static const CustomPathMethods kafka_path_methods = {
	.CustomName = "KafkaRead",
	.PlanCustomPath = plan_kafka_path,
};

static const CustomScanMethods kafka_scan_methods = {
	.CustomName = "KafkaRead",
	.CreateCustomScanState = create_kafka_scan_state,
};

static const CustomExecMethods kafka_exec_methods = {
	.CustomName = "KafkaRead",
	.BeginCustomScan = begin_kafka_scan,
	.ExecCustomScan = exec_kafka_scan,
	.EndCustomScan = end_kafka_scan,
	.ReScanCustomScan = rescan_kafka_scan,
	.ExplainCustomScan = explain_kafka_scan,
};

static bool
is_read_kafka(Oid funcid)
{
	char	   *name = get_func_name(funcid);
	Oid			nsp;

	if (name == NULL || strcmp(name, "read_kafka") != 0)
		return false;
	nsp = get_func_namespace(funcid);
	return nsp == get_namespace_oid("kafka", true);
}

static bool
has_whole_row_var(List *exprs, Index relid)
{
	List	   *vars = pull_var_clause((Node *) exprs, PVC_RECURSE_PLACEHOLDERS |
									   PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS);
	ListCell   *lc;

	foreach(lc, vars)
	{
		Var		   *var = lfirst(lc);

		if (IsA(var, Var) && var->varno == relid && var->varattno == 0)
			return true;
	}
	return false;
}

static void
kafka_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti,
					   RangeTblEntry *rte)
{
	RangeTblFunction *rtfunc;
	FuncExpr   *func;
	CustomPath *path;
	List	   *quals = NIL;
	ListCell   *lc;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);

	if (rte->rtekind != RTE_FUNCTION || list_length(rte->functions) != 1 ||
		rte->funcordinality || rel->reloptkind != RELOPT_BASEREL)
		return;
	rtfunc = linitial(rte->functions);
	if (!IsA(rtfunc->funcexpr, FuncExpr))
		return;
	func = (FuncExpr *) rtfunc->funcexpr;
	if (!is_read_kafka(func->funcid) || !bms_is_empty(rel->lateral_relids))
		return;
	foreach(lc, rel->baserestrictinfo)
		quals = lappend(quals, ((RestrictInfo *) lfirst(lc))->clause);
	if (has_whole_row_var(rel->reltarget->exprs, rel->relid) ||
		has_whole_row_var(quals, rel->relid))
		return;

	path = makeNode(CustomPath);
	path->path.pathtype = T_CustomScan;
	path->path.parent = rel;
	path->path.pathtarget = rel->reltarget;
	path->path.param_info = NULL;
	path->path.rows = rel->rows;
	path->path.startup_cost = 100;	/* connecting and looking up offsets */
	path->path.total_cost = path->path.startup_cost +
		rel->tuples * (cpu_tuple_cost + cpu_operator_cost);
	path->methods = &kafka_path_methods;

	/* the streaming scan is the only way this relation is read */
	rel->pathlist = NIL;
	rel->partial_pathlist = NIL;
	add_path(rel, &path->path);
}

static Plan *
plan_kafka_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
				List *tlist, List *clauses, List *custom_plans)
{
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	RangeTblFunction *rtfunc = linitial(rte->functions);
	FuncExpr   *func = (FuncExpr *) rtfunc->funcexpr;
	TupleDesc	desc = get_expr_result_tupdesc((Node *) func, false);
	CustomScan *cscan = makeNode(CustomScan);
	List	   *scan_tlist = NIL;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Var		   *var = makeVar(rel->relid, i + 1, att->atttypid, att->atttypmod,
								  att->attcollation, 0);

		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry((Expr *) var, i + 1,
											 pstrdup(NameStr(att->attname)), false));
	}

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = extract_actual_clauses(clauses, false);
	cscan->scan.scanrelid = 0;
	cscan->custom_scan_tlist = scan_tlist;
	cscan->custom_exprs = copyObject(func->args);
	cscan->custom_private = NIL;
	cscan->flags = best_path->flags;
	cscan->methods = &kafka_scan_methods;
	return &cscan->scan.plan;
}

static Node *
create_kafka_scan_state(CustomScan *cscan)
{
	KafkaScanState *state = palloc0(sizeof(KafkaScanState));

	NodeSetTag(state, T_CustomScanState);
	state->css.methods = &kafka_exec_methods;
	return (Node *) state;
}

static void
begin_kafka_scan(CustomScanState *node, EState *estate, int eflags)
{
	KafkaScanState *state = (KafkaScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;

	state->arg_states = ExecInitExprList(cscan->custom_exprs, &node->ss.ps);
}

static void
start_read(KafkaScanState *state)
{
	ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
	CustomScan *cscan = (CustomScan *) state->css.ss.ps.plan;
	Datum		args[RK_NARGS];
	bool		argnulls[RK_NARGS];
	Oid			argtypes[RK_NARGS];
	ListCell   *lc;
	int			i = 0;
	MemoryContext old;

	if (list_length(state->arg_states) != RK_NARGS)
		elog(ERROR, "read_kafka called with %d arguments", list_length(state->arg_states));

	old = MemoryContextSwitchTo(econtext->ecxt_per_query_memory);
	foreach(lc, state->arg_states)
	{
		args[i] = ExecEvalExpr((ExprState *) lfirst(lc), econtext, &argnulls[i]);
		argtypes[i] = exprType((Node *) list_nth(cscan->custom_exprs, i));
		i++;
	}
	state->read = read_kafka_begin(args, argnulls, argtypes,
								   state->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor,
								   econtext->ecxt_per_query_memory);
	MemoryContextSwitchTo(old);
	state->started = true;
}

static TupleTableSlot *
kafka_scan_next(ScanState *ss)
{
	KafkaScanState *state = (KafkaScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;
	MemoryContext old;
	bool		found;

	ExecClearTuple(slot);
	/* per-tuple memory: ExecScan resets it for every row */
	old = MemoryContextSwitchTo(ss->ps.ps_ExprContext->ecxt_per_tuple_memory);
	found = read_kafka_next(state->read, slot->tts_values, slot->tts_isnull);
	MemoryContextSwitchTo(old);
	if (!found)
		return slot;
	return ExecStoreVirtualTuple(slot);
}

static bool
kafka_scan_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
exec_kafka_scan(CustomScanState *node)
{
	KafkaScanState *state = (KafkaScanState *) node;

	if (!state->started)
		start_read(state);
	return ExecScan(&node->ss, kafka_scan_next, kafka_scan_recheck);
}

static void
end_kafka_scan(CustomScanState *node)
{
	KafkaScanState *state = (KafkaScanState *) node;

	read_kafka_end(state->read);
	state->read = NULL;
	state->started = false;
}

static void
rescan_kafka_scan(CustomScanState *node)
{
	/* arguments may depend on parameters: start over on the next fetch */
	end_kafka_scan(node);
}

static void
explain_kafka_scan(CustomScanState *node, List *ancestors, ExplainState *es)
{
	KafkaScanState *state = (KafkaScanState *) node;

	if (state->read != NULL)
	{
		if (state->read->spec->server_name)
			ExplainPropertyText("Kafka Server", state->read->spec->server_name, es);
		ExplainPropertyText("Kafka Ranges", kafka_ranges_describe(state->read->ranges, 16), es);
		ExplainPropertyInteger("Kafka Records", NULL, state->read->rows, es);
	}
	else
		ExplainPropertyText("Kafka Read", "streaming (offsets fixed when the scan starts)", es);
}

void
kafka_scan_node_init(void)
{
	RegisterCustomScanMethods(&kafka_scan_methods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = kafka_set_rel_pathlist;
}
