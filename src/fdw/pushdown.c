/*-------------------------------------------------------------------------
 *
 * pushdown.c
 *	  WHERE clauses on partition, offset and timestamp columns of a kafka
 *	  foreign table as per-partition seek ranges.
 *
 * A usable clause compares a partition, offset or timestamp column with an
 * expression that does not depend on the row (constants, parameters of
 * PREPARE, InitPlan results, stable functions): =, <, <=, >, >=, BETWEEN
 * (which the parser turns into two comparisons), IN (...) / = ANY(array),
 * and AND/OR of such clauses.  Its value is a union of boxes (partition
 * interval x offset interval x lower timestamp bound), evaluated when the
 * scan starts, so parameters and InitPlans work.
 *
 * Boxes only ever grow beyond what the clause selects (an unusable part of
 * an AND is dropped, too many boxes merge into one), never shrink, and every
 * clause is still checked as a filter: the seeks only skip records that
 * cannot match.  Timestamps give lower bounds only, through offsets-for-
 * times (the first offset with a timestamp at or after the bound): Kafka
 * timestamps are not monotonic within a partition, so an upper bound says
 * nothing about where to stop.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "datatype/timestamp.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "codec/codec.h"
#include "fdw/pushdown.h"

/* Beyond this many boxes, a union becomes its bounding box. */
#define MAX_BOXES 256
/* Beyond this many distinct timestamp bounds, the lowest one is used. */
#define MAX_TIMESTAMPS 16

bool		kafka_enable_pushdown = true;

typedef struct SeekLeaf
{
	KafkaColumnRole role;
	Oid			column_type;
	int			strategy;		/* BTLessStrategyNumber... */
	Expr	   *operand;
	bool		is_array;		/* column = ANY(operand) */
} SeekLeaf;

typedef struct OperandState
{
	Expr	   *operand;
	ExprState  *state;
} OperandState;

struct KafkaPushdown
{
	KafkaTable *table;
	Index		relid;
	List	   *clauses;
	List	   *operands;		/* OperandState */
};

typedef struct EvalContext
{
	KafkaTable *table;
	Index		relid;
	KafkaPushdown *pushdown;	/* NULL: planner, constants only */
	ExprContext *econtext;
	bool		exact;
	bool		constant;		/* every operand was a constant */
} EvalContext;

static bool
is_int_type(Oid typid)
{
	return typid == INT2OID || typid == INT4OID || typid == INT8OID;
}

static Var *
strip_to_var(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return (node && IsA(node, Var)) ? (Var *) node : NULL;
}

/* A seek column of this table: returns its role, or PAYLOAD if not. */
static KafkaColumnRole
seek_column(KafkaTable *table, Index relid, Var *var)
{
	KafkaColumnRole role;
	Oid			typid;

	if (var == NULL || var->varno != relid || var->varlevelsup != 0 ||
		var->varattno <= 0 || var->varattno > table->desc->natts)
		return KAFKA_COLUMN_PAYLOAD;
	role = table->roles[var->varattno - 1];
	typid = TupleDescAttr(table->desc, var->varattno - 1)->atttypid;
	if ((role == KAFKA_COLUMN_PARTITION || role == KAFKA_COLUMN_OFFSET) && is_int_type(typid))
		return role;
	if (role == KAFKA_COLUMN_TIMESTAMP &&
		(typid == INT8OID || typid == TIMESTAMPTZOID || typid == TIMESTAMPOID))
		return role;
	return KAFKA_COLUMN_PAYLOAD;
}

static bool
references_relation(Node *node, void *relid)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
		return ((Var *) node)->varno == *(Index *) relid &&
			((Var *) node)->varlevelsup == 0;
	if (IsA(node, PlaceHolderVar))
		return true;			/* could hide anything */
	return expression_tree_walker(node, references_relation, relid);
}

/*
 * The operand must not depend on the scanned row: constants, parameters,
 * stable functions, or (in a parameterized path) the outer relation's
 * columns, which become parameters of the nested loop.
 */
static bool
operand_is_row_independent(Node *operand, Index relid)
{
	return !references_relation(operand, &relid) &&
		!contain_volatile_functions(operand) &&
		!contain_subplans(operand);
}

static Oid
btree_family(Oid typid)
{
	Oid			opclass;

	if (is_int_type(typid))
		return INTEGER_BTREE_FAM_OID;
	opclass = GetDefaultOpClass(typid, BTREE_AM_OID);
	return OidIsValid(opclass) ? get_opclass_family(opclass) : InvalidOid;
}

/* Does the operand's type compare with the column without conversion? */
static bool
operand_type_ok(Oid column_type, Oid operand_type)
{
	if (is_int_type(column_type))
		return is_int_type(operand_type);
	return operand_type == column_type;
}

static int
commute_strategy(int strategy)
{
	switch (strategy)
	{
		case BTLessStrategyNumber:
			return BTGreaterStrategyNumber;
		case BTLessEqualStrategyNumber:
			return BTGreaterEqualStrategyNumber;
		case BTGreaterEqualStrategyNumber:
			return BTLessEqualStrategyNumber;
		case BTGreaterStrategyNumber:
			return BTLessStrategyNumber;
		default:
			return strategy;
	}
}

static bool
parse_leaf(KafkaTable *table, Index relid, Expr *clause, SeekLeaf *leaf)
{
	Var		   *var;
	Node	   *other;
	Oid			opno;
	bool		commuted = false;
	Oid			family;

	memset(leaf, 0, sizeof(SeekLeaf));
	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;

		if (list_length(op->args) != 2)
			return false;
		opno = op->opno;
		var = strip_to_var(linitial(op->args));
		other = lsecond(op->args);
		if (seek_column(table, relid, var) == KAFKA_COLUMN_PAYLOAD)
		{
			var = strip_to_var(lsecond(op->args));
			other = linitial(op->args);
			commuted = true;
		}
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;

		if (!saop->useOr || list_length(saop->args) != 2)
			return false;
		opno = saop->opno;
		var = strip_to_var(linitial(saop->args));
		other = lsecond(saop->args);
		leaf->is_array = true;
	}
	else
		return false;

	leaf->role = seek_column(table, relid, var);
	if (leaf->role == KAFKA_COLUMN_PAYLOAD)
		return false;
	leaf->column_type = TupleDescAttr(table->desc, var->varattno - 1)->atttypid;
	if (!operand_is_row_independent(other, relid))
		return false;
	if (leaf->is_array)
	{
		Oid			elem = get_element_type(exprType(other));

		if (!OidIsValid(elem) || !operand_type_ok(leaf->column_type, elem))
			return false;
	}
	else if (!operand_type_ok(leaf->column_type, exprType(other)))
		return false;

	family = btree_family(leaf->column_type);
	if (!OidIsValid(family))
		return false;
	leaf->strategy = get_op_opfamily_strategy(opno, family);
	if (leaf->strategy == 0)
		return false;
	if (leaf->is_array && leaf->strategy != BTEqualStrategyNumber)
		return false;
	if (commuted)
		leaf->strategy = commute_strategy(leaf->strategy);
	leaf->operand = (Expr *) other;
	return true;
}

bool
kafka_pushdown_usable(KafkaTable *table, Index relid, Expr *clause)
{
	SeekLeaf	leaf;
	ListCell   *lc;

	if (IsA(clause, BoolExpr))
	{
		BoolExpr   *b = (BoolExpr *) clause;

		if (b->boolop == AND_EXPR)
		{
			foreach(lc, b->args)
				if (kafka_pushdown_usable(table, relid, lfirst(lc)))
					return true;
			return false;
		}
		if (b->boolop == OR_EXPR)
		{
			foreach(lc, b->args)
				if (!kafka_pushdown_usable(table, relid, lfirst(lc)))
					return false;
			return true;
		}
		return false;
	}
	return parse_leaf(table, relid, clause, &leaf);
}

/* Boxes */

static KafkaSeekBox *
new_box(void)
{
	KafkaSeekBox *box = palloc(sizeof(KafkaSeekBox));

	box->partition_min = 0;
	box->partition_max = PG_INT32_MAX;
	box->offset_min = 0;
	box->offset_max = PG_INT64_MAX;
	box->timestamp_min = -1;
	return box;
}

static List *
all_boxes(void)
{
	return list_make1(new_box());
}

static bool
box_intersect(const KafkaSeekBox *a, const KafkaSeekBox *b, KafkaSeekBox *out)
{
	out->partition_min = Max(a->partition_min, b->partition_min);
	out->partition_max = Min(a->partition_max, b->partition_max);
	out->offset_min = Max(a->offset_min, b->offset_min);
	out->offset_max = Min(a->offset_max, b->offset_max);
	out->timestamp_min = Max(a->timestamp_min, b->timestamp_min);
	return out->partition_min <= out->partition_max && out->offset_min <= out->offset_max;
}

static List *
boxes_and(List *a, List *b)
{
	List	   *result = NIL;
	ListCell   *la;
	ListCell   *lb;

	if ((double) list_length(a) * list_length(b) > MAX_BOXES)
		return list_length(a) <= list_length(b) ? a : b;	/* a superset */
	foreach(la, a)
	{
		foreach(lb, b)
		{
			KafkaSeekBox *box = palloc(sizeof(KafkaSeekBox));

			if (box_intersect(lfirst(la), lfirst(lb), box))
				result = lappend(result, box);
			else
				pfree(box);
		}
	}
	return result;
}

static List *
boxes_or(List *a, List *b)
{
	List	   *result = list_concat(a, b);

	if (list_length(result) > MAX_BOXES)
	{
		KafkaSeekBox *hull = palloc(sizeof(KafkaSeekBox));
		ListCell   *lc;
		bool		first = true;

		foreach(lc, result)
		{
			KafkaSeekBox *box = lfirst(lc);

			if (first)
				*hull = *box;
			else
			{
				hull->partition_min = Min(hull->partition_min, box->partition_min);
				hull->partition_max = Max(hull->partition_max, box->partition_max);
				hull->offset_min = Min(hull->offset_min, box->offset_min);
				hull->offset_max = Max(hull->offset_max, box->offset_max);
				hull->timestamp_min = Min(hull->timestamp_min, box->timestamp_min);
			}
			first = false;
		}
		result = list_make1(hull);
	}
	return result;
}

/* Evaluation */

static bool
eval_operand(EvalContext *cxt, Expr *operand, Datum *value, bool *isnull)
{
	ListCell   *lc;

	if (IsA(operand, Const))
	{
		*value = ((Const *) operand)->constvalue;
		*isnull = ((Const *) operand)->constisnull;
		return true;
	}
	cxt->constant = false;
	if (cxt->pushdown == NULL)
		return false;
	foreach(lc, cxt->pushdown->operands)
	{
		OperandState *os = lfirst(lc);

		if (os->operand == operand)
		{
			*value = ExecEvalExpr(os->state, cxt->econtext, isnull);
			return true;
		}
	}
	elog(ERROR, "kafka_fdw pushdown operand was not prepared");
	return false;
}

/* The boxes of "column <strategy> value" for one value. */
static List *
leaf_value_boxes(SeekLeaf *leaf, Datum datum, Oid typid)
{
	KafkaSeekBox *box = new_box();
	int64		v;

	if (leaf->role == KAFKA_COLUMN_TIMESTAMP)
	{
		int64		ms;

		/* only lower bounds: everything else selects the whole range */
		if (leaf->strategy == BTLessStrategyNumber ||
			leaf->strategy == BTLessEqualStrategyNumber)
			return list_make1(box);
		if (typid == INT8OID)
		{
			v = DatumGetInt64(datum);
			if (leaf->strategy == BTGreaterStrategyNumber)
			{
				if (v == PG_INT64_MAX)
					return NIL;
				v++;
			}
			box->timestamp_min = Max(v, 0);
			return list_make1(box);
		}
		v = DatumGetTimestampTz(datum);
		if (TIMESTAMP_IS_NOBEGIN(v))
			return list_make1(box);
		if (TIMESTAMP_IS_NOEND(v))
			return NIL;
		/* records hold whole milliseconds since 1970 */
		v += KAFKA_UNIX_TO_POSTGRES_USECS;
		if (leaf->strategy == BTGreaterStrategyNumber)
			ms = (v >= 0 ? v / 1000 : -((-v + 999) / 1000)) + 1;
		else
			ms = v >= 0 ? (v + 999) / 1000 : -((-v) / 1000);
		box->timestamp_min = Max(ms, 0);
		return list_make1(box);
	}

	v = kafka_integer_datum(datum, typid);
	{
		int64		lo = 0;
		int64		hi = PG_INT64_MAX;

		switch (leaf->strategy)
		{
			case BTLessStrategyNumber:
				if (v <= 0)
					return NIL;
				hi = v - 1;
				break;
			case BTLessEqualStrategyNumber:
				if (v < 0)
					return NIL;
				hi = v;
				break;
			case BTEqualStrategyNumber:
				if (v < 0)
					return NIL;
				lo = hi = v;
				break;
			case BTGreaterEqualStrategyNumber:
				lo = Max(v, 0);
				break;
			case BTGreaterStrategyNumber:
				if (v == PG_INT64_MAX)
					return NIL;
				lo = Max(v + 1, 0);
				break;
		}
		if (leaf->role == KAFKA_COLUMN_PARTITION)
		{
			if (lo > PG_INT32_MAX)
				return NIL;
			box->partition_min = (int32) lo;
			box->partition_max = (int32) Min(hi, PG_INT32_MAX);
		}
		else
		{
			box->offset_min = lo;
			box->offset_max = hi;
		}
	}
	return list_make1(box);
}

static List *
eval_clause(EvalContext *cxt, Expr *clause)
{
	SeekLeaf	leaf;
	ListCell   *lc;
	Datum		value;
	bool		isnull;

	if (IsA(clause, BoolExpr))
	{
		BoolExpr   *b = (BoolExpr *) clause;
		List	   *result;

		if (b->boolop == AND_EXPR)
		{
			result = all_boxes();
			foreach(lc, b->args)
			{
				if (kafka_pushdown_usable(cxt->table, cxt->relid, lfirst(lc)))
					result = boxes_and(result, eval_clause(cxt, lfirst(lc)));
				else
					cxt->exact = false;
			}
			return result;
		}
		if (b->boolop == OR_EXPR && kafka_pushdown_usable(cxt->table, cxt->relid, clause))
		{
			result = NIL;
			foreach(lc, b->args)
				result = boxes_or(result, eval_clause(cxt, lfirst(lc)));
			return result;
		}
		cxt->exact = false;
		return all_boxes();
	}
	if (!parse_leaf(cxt->table, cxt->relid, clause, &leaf))
	{
		cxt->exact = false;
		return all_boxes();
	}
	if (leaf.role == KAFKA_COLUMN_TIMESTAMP)
		cxt->exact = false;
	if (!eval_operand(cxt, leaf.operand, &value, &isnull))
	{
		cxt->exact = false;
		return all_boxes();
	}
	if (isnull)
		return NIL;				/* a strict comparison with NULL selects nothing */
	if (leaf.is_array)
	{
		ArrayType  *array = DatumGetArrayTypeP(value);
		Oid			elemtype = ARR_ELEMTYPE(array);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *elemnulls;
		int			n;
		int			i;
		List	   *result = NIL;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(array, elemtype, typlen, typbyval, typalign,
						  &elems, &elemnulls, &n);
		for (i = 0; i < n; i++)
			if (!elemnulls[i])
				result = boxes_or(result, leaf_value_boxes(&leaf, elems[i], elemtype));
		return result;
	}
	return leaf_value_boxes(&leaf, value, exprType((Node *) leaf.operand));
}

static List *
eval_clauses(EvalContext *cxt, List *clauses)
{
	List	   *result = all_boxes();
	ListCell   *lc;

	foreach(lc, clauses)
		result = boxes_and(result, eval_clause(cxt, lfirst(lc)));
	return result;
}

List *
kafka_pushdown_const_boxes(KafkaTable *table, Index relid, List *clauses,
						   bool *exact, bool *constant)
{
	EvalContext cxt = {table, relid, NULL, NULL, true, true};
	List	   *boxes = eval_clauses(&cxt, clauses);

	*exact = cxt.exact;
	*constant = cxt.constant;
	return boxes;
}

static void
prepare_operands(KafkaPushdown *pushdown, Expr *clause, PlanState *parent)
{
	SeekLeaf	leaf;

	if (IsA(clause, BoolExpr))
	{
		ListCell   *lc;

		foreach(lc, ((BoolExpr *) clause)->args)
			prepare_operands(pushdown, lfirst(lc), parent);
		return;
	}
	if (parse_leaf(pushdown->table, pushdown->relid, clause, &leaf) &&
		!IsA(leaf.operand, Const))
	{
		OperandState *os = palloc(sizeof(OperandState));

		os->operand = leaf.operand;
		os->state = ExecInitExpr(leaf.operand, parent);
		pushdown->operands = lappend(pushdown->operands, os);
	}
}

KafkaPushdown *
kafka_pushdown_init(KafkaTable *table, Index relid, List *clauses,
					PlanState *parent)
{
	KafkaPushdown *pushdown = palloc0(sizeof(KafkaPushdown));
	ListCell   *lc;

	pushdown->table = table;
	pushdown->relid = relid;
	pushdown->clauses = clauses;
	foreach(lc, clauses)
		prepare_operands(pushdown, lfirst(lc), parent);
	return pushdown;
}

List *
kafka_pushdown_boxes(KafkaPushdown *pushdown, ExprContext *econtext)
{
	EvalContext cxt = {pushdown->table, pushdown->relid, pushdown, econtext, true, true};

	return eval_clauses(&cxt, pushdown->clauses);
}

/* Applying boxes to ranges */

static int
compare_segments(const void *a, const void *b)
{
	const KafkaOffsetSegment *sa = a;
	const KafkaOffsetSegment *sb = b;

	return (sa->start > sb->start) - (sa->start < sb->start);
}

/*
 * The sorted, merged segments of range r that the boxes select; box_start[i]
 * (or NULL) is a further lower bound for box i (from its timestamp).
 */
static int
range_segments(KafkaPartitionRange *r, List *boxes, const int64 *box_start,
			   KafkaOffsetSegment **out)
{
	KafkaOffsetSegment *segs = palloc(sizeof(KafkaOffsetSegment) * Max(list_length(boxes), 1));
	int			n = 0;
	int			merged = 0;
	int			i = 0;
	ListCell   *lc;

	foreach(lc, boxes)
	{
		KafkaSeekBox *box = lfirst(lc);
		int64		start;
		int64		end;

		if (r->partition >= box->partition_min && r->partition <= box->partition_max)
		{
			start = Max(r->start_offset, box->offset_min);
			if (box_start)
				start = Max(start, box_start[i]);
			end = box->offset_max == PG_INT64_MAX ? r->end_offset :
				Min(r->end_offset, box->offset_max + 1);
			if (start < end)
			{
				segs[n].start = start;
				segs[n].end = end;
				n++;
			}
		}
		i++;
	}
	if (n > 1)
		qsort(segs, n, sizeof(KafkaOffsetSegment), compare_segments);
	for (i = 0; i < n; i++)
	{
		if (merged > 0 && segs[i].start <= segs[merged - 1].end)
			segs[merged - 1].end = Max(segs[merged - 1].end, segs[i].end);
		else
			segs[merged++] = segs[i];
	}
	*out = segs;
	return merged;
}

double
kafka_pushdown_count(List *ranges, List *boxes)
{
	double		total = 0;
	ListCell   *lc;

	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);
		KafkaOffsetSegment *segs;
		int			n = range_segments(r, boxes, NULL, &segs);
		int			i;

		for (i = 0; i < n; i++)
			total += segs[i].end - segs[i].start;
		pfree(segs);
	}
	return total;
}

void
kafka_pushdown_apply(KafkaClient *client, List *ranges, List *boxes)
{
	int64		timestamps[MAX_TIMESTAMPS];
	int			ntimestamps = 0;
	int			nboxes = list_length(boxes);
	int			nranges = list_length(ranges);
	int64	  **offset_at;		/* [timestamp][range] */
	int64	   *box_start = palloc(sizeof(int64) * Max(nboxes, 1));
	ListCell   *lc;
	ListCell   *lb;
	int			t;
	int			ri;

	/* the distinct timestamp bounds; too many fold into the lowest */
	foreach(lb, boxes)
	{
		KafkaSeekBox *box = lfirst(lb);

		if (box->timestamp_min < 0)
			continue;
		for (t = 0; t < ntimestamps; t++)
			if (timestamps[t] == box->timestamp_min)
				break;
		if (t == ntimestamps)
		{
			if (ntimestamps == MAX_TIMESTAMPS)
			{
				int64		lowest = box->timestamp_min;

				foreach(lc, boxes)
					if (((KafkaSeekBox *) lfirst(lc))->timestamp_min >= 0)
						lowest = Min(lowest, ((KafkaSeekBox *) lfirst(lc))->timestamp_min);
				foreach(lc, boxes)
					if (((KafkaSeekBox *) lfirst(lc))->timestamp_min >= 0)
						((KafkaSeekBox *) lfirst(lc))->timestamp_min = lowest;
				timestamps[0] = lowest;
				ntimestamps = 1;
				break;
			}
			timestamps[ntimestamps++] = box->timestamp_min;
		}
	}
	offset_at = palloc(sizeof(int64 *) * Max(ntimestamps, 1));
	for (t = 0; t < ntimestamps; t++)
	{
		offset_at[t] = palloc(sizeof(int64) * Max(nranges, 1));
		kafka_ranges_offsets_for_time(client, ranges, timestamps[t], offset_at[t]);
	}

	ri = 0;
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);
		KafkaOffsetSegment *segs;
		int			n;
		int			bi = 0;

		foreach(lb, boxes)
		{
			KafkaSeekBox *box = lfirst(lb);

			box_start[bi] = 0;
			for (t = 0; t < ntimestamps; t++)
				if (box->timestamp_min >= 0 && timestamps[t] == box->timestamp_min)
					box_start[bi] = offset_at[t][ri];
			bi++;
		}
		n = range_segments(r, boxes, box_start, &segs);
		if (n == 0)
		{
			r->start_offset = r->end_offset = r->next_offset = r->start_offset;
			r->done = true;
		}
		else
		{
			r->start_offset = segs[0].start;
			r->end_offset = segs[n - 1].end;
			r->next_offset = r->start_offset;
			r->done = false;
			if (n > 1)
			{
				r->segments = segs;
				r->nsegments = n;
			}
		}
		ri++;
	}
}

char *
kafka_seek_boxes_describe(List *boxes)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	if (boxes == NIL)
		return "none";
	foreach(lc, boxes)
	{
		KafkaSeekBox *box = lfirst(lc);
		int			parts = 0;

		if (buf.len > 0)
			appendStringInfoString(&buf, "; ");
		if (box->partition_min == box->partition_max)
			appendStringInfo(&buf, "%spartition %d", parts++ ? ", " : "", box->partition_min);
		else if (box->partition_min > 0 || box->partition_max < PG_INT32_MAX)
		{
			if (box->partition_max == PG_INT32_MAX)
				appendStringInfo(&buf, "%spartitions >= %d", parts++ ? ", " : "", box->partition_min);
			else
				appendStringInfo(&buf, "%spartitions %d to %d", parts++ ? ", " : "",
								 box->partition_min, box->partition_max);
		}
		if (box->offset_min == box->offset_max)
			appendStringInfo(&buf, "%soffset " INT64_FORMAT, parts++ ? ", " : "", box->offset_min);
		else if (box->offset_max == PG_INT64_MAX)
		{
			if (box->offset_min > 0)
				appendStringInfo(&buf, "%soffsets >= " INT64_FORMAT, parts++ ? ", " : "", box->offset_min);
		}
		else
			appendStringInfo(&buf, "%soffsets " INT64_FORMAT " to " INT64_FORMAT, parts++ ? ", " : "",
							 box->offset_min, box->offset_max);
		if (box->timestamp_min >= 0)
			appendStringInfo(&buf, "%stimestamp >= " INT64_FORMAT " ms", parts++ ? ", " : "",
							 box->timestamp_min);
		if (parts == 0)
			appendStringInfoString(&buf, "all");
	}
	return buf.data;
}
