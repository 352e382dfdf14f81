/*-------------------------------------------------------------------------
 *
 * keyed.c
 *	  The keyed target of streaming tables (modes upsert and cdc, SCD type
 *	  1): each key of the target holds the latest change of that key.
 *
 * A batch's changes are first collapsed in memory, per key, to the winning
 * one (greatest sequence, ties to the earliest put; with the Kafka-position
 * default simply the last put), in a hash table bounded by the batch.  Then
 * each surviving key is looked up in the target's unique index on the keys,
 * and the change applied with the table and index access methods, in the
 * batch's transaction: an update of the stored row through the sink
 * (table_tuple_update, index entries when not HOT), a delete
 * (table_tuple_delete), or an insert of a new key through the sink's
 * multi-insert, so defaults, constraints and insert triggers behave as for
 * an append stream.  No SPI per row, no subtransaction per row on the happy
 * path (the sink prepares its buffer of rows in one).
 *
 * With a sequence (sequence_by, or a Debezium source's LSN column), the
 * stored value in the target's column of that name is compared with the
 * type's btree comparison: a change applies only when strictly greater.
 * Deletes are remembered in kafka.stream_tombstones (key and sequence in
 * their text forms) so a late older change cannot bring a key back; an
 * insert of a new key checks them first, in one statement per batch.
 * Tombstones older than tombstone_retention are ignored and purged (at most
 * once a minute per stream and backend).
 *
 * Changes are applied in key order (the index and the heap are walked in
 * order, not at random).  An update that keeps the key adds the new
 * version's entry to a target's only index, the key's, without the
 * uniqueness check (the stored version already holds the key).
 *
 * Triggers fire as for SQL: insert triggers through the sink's insert
 * path; when the target has UPDATE or DELETE triggers (foreign keys have
 * some), updates and deletes go row by row through the executor's
 * simple-relation update and delete, as logical replication applies them,
 * which fire them.  Transition tables of UPDATE and DELETE triggers are
 * refused.
 *
 * stored_as_scd_type 2 collects every change per key instead of collapsing
 * and hands the batch to scd2.c (see there); keyed.h has what both share.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "common/hashfn.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_coerce.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/sortsupport.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "options.h"
#include "stream/keyed.h"



bool
stream_keyed_keys_equal(KeyedTarget *keyed, KeyedChange *a, KeyedChange *b)
{
	int			k;

	for (k = 0; k < keyed->nkeys; k++)
	{
		KeyColumn  *key = &keyed->keys[k];

		if (!DatumGetBool(FunctionCall2Coll(&key->equal, key->collation,
											a->values[key->input],
											b->values[key->input])))
			return false;
	}
	return true;
}

/* The column of relid whose option kafka is role ('key', 'op', ...), or NULL. */
static char *
source_role_column(Oid relid, const char *role)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *name = NULL;
	int			i;

	for (i = 0; i < desc->natts && name == NULL; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		char	   *kind;

		if (att->attisdropped)
			continue;
		kind = kafka_option_value(GetForeignColumnOptions(relid, att->attnum), "kafka");
		if (kind && strcmp(kind, role) == 0)
			name = pstrdup(NameStr(att->attname));
	}
	relation_close(rel, AccessShareLock);
	return name;
}

static int
input_column(TupleDesc input, const char *name)
{
	int			j;

	for (j = 0; j < input->natts; j++)
		if (!TupleDescAttr(input, j)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(input, j)->attname), name) == 0)
			return j;
	return -1;
}

static bool
name_in_list(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

List *
stream_keyed_keys(StreamDef *def, Relation target)
{
	if (def->keys != NIL)
		return def->keys;
	if (def->mode == STREAM_MODE_UPSERT)
	{
		char	   *key = source_role_column(def->source, "key");

		if (key)
			return list_make1(key);
	}
	else if (OidIsValid(RelationGetPrimaryKeyIndex(target)))
	{
		Relation	index = index_open(RelationGetPrimaryKeyIndex(target), AccessShareLock);
		List	   *keys = NIL;
		int			i;

		for (i = 0; i < index->rd_index->indnkeyatts; i++)
			keys = lappend(keys, pstrdup(get_attname(RelationGetRelid(target),
													 index->rd_index->indkey.values[i],
													 false)));
		index_close(index, AccessShareLock);
		return keys;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("streaming table %s in mode '%s' needs keys",
					def->target_name, def->mode == STREAM_MODE_UPSERT ? "upsert" : "cdc"),
			 errhint(def->mode == STREAM_MODE_UPSERT ?
					 "Give keys => ARRAY['column'], or a kafka 'key' column to the source." :
					 "Give keys => ARRAY['column'], or the target a primary key.")));
	return NIL;
}

char *
stream_keyed_sequence(StreamDef *def)
{
	if (def->sequence_by)
		return def->sequence_by;
	return source_role_column(def->source, "source_lsn");
}

/*
 * The btree unique index of target on exactly the key columns (in any
 * order), or InvalidOid.
 */
static Oid
find_key_index(Relation target, List *keys)
{
	List	   *indexes = RelationGetIndexList(target);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;
		bool		match = form->indisunique && form->indisvalid &&
			form->indnkeyatts == list_length(keys) &&
			index->rd_rel->relam == BTREE_AM_OID &&
			RelationGetIndexExpressions(index) == NIL &&
			RelationGetIndexPredicate(index) == NIL;
		int			i;

		for (i = 0; match && i < form->indnkeyatts; i++)
		{
			AttrNumber	attnum = form->indkey.values[i];

			match = attnum > 0 &&
				name_in_list(keys, NameStr(TupleDescAttr(RelationGetDescr(target), attnum - 1)->attname));
		}
		index_close(index, AccessShareLock);
		if (match)
		{
			found = lfirst_oid(lc);
			break;
		}
	}
	list_free(indexes);
	return found;
}

Oid
stream_keyed_validate(StreamDef *def, Relation target, TupleDesc input)
{
	TupleDesc	desc = RelationGetDescr(target);
	List	   *keys = stream_keyed_keys(def, target);
	char	   *sequence = stream_keyed_sequence(def);
	TriggerDesc *trig = target->trigdesc;
	ListCell   *lc;
	Oid			index;

	if (target->rd_rel->relkind == RELKIND_PARTITIONED_TABLE && def->scd_type == 2)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("streaming table %s stored as SCD type 2 cannot be a partitioned table",
						def->target_name),
				 errhint("Partitioned tables take modes 'append', and 'upsert' and 'cdc' of SCD type 1.")));
	if (def->mode == STREAM_MODE_UPSERT &&
		kafka_envelope_from_name(kafka_option_value(GetForeignTable(def->source)->options,
													"envelope")) != KAFKA_ENVELOPE_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("streaming table %s in mode 'upsert' cannot read change events (envelope 'debezium')",
						def->target_name),
				 errdetail("A Debezium delete is a record with a value, which mode 'upsert' would store as a row."),
				 errhint("Use mode => 'cdc': its deletes default to op = 'd' for a kafka 'op' column.")));
	if (def->mode == STREAM_MODE_UPSERT && def->transform)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("streaming table %s in mode 'upsert' cannot have a transform",
						def->target_name),
				 errdetail("A Kafka tombstone has no value for the transform to carry."),
				 errhint("Use mode 'cdc' with apply_as_deletes over a kafka 'value' column the transform passes through, e.g. 'value IS NULL'.")));
	if (def->apply_as_truncates && def->scd_type == 2)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("apply_as_truncates is not supported with stored_as_scd_type 2")));
	foreach(lc, keys)
	{
		char	   *key = lfirst(lc);
		int			j = input_column(input, key);

		if (j < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key column \"%s\" of streaming table %s is not a column of its input",
							key, def->target_name),
					 errhint("The source (or the transform) must have a column of that name.")));
		if (name_in_list(def->except_columns, key))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key column \"%s\" of streaming table %s is in except_columns",
							key, def->target_name)));
		if (get_attnum(RelationGetRelid(target), key) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key column \"%s\" is not a column of streaming table %s",
							key, def->target_name)));
	}
	if (def->scd_type == 2)
	{
		static const char *const columns[] = {"__start_at", "__end_at"};
		int			c;

		if (sequence == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("streaming table %s stored as SCD type 2 needs sequence_by",
							def->target_name),
					 errdetail("The versions of a key start and end at sequence values.")));
		for (c = 0; c < 2; c++)
		{
			AttrNumber	attnum = get_attnum(RelationGetRelid(target), columns[c]);
			int			j = input_column(input, sequence);

			if (attnum == InvalidAttrNumber || TupleDescAttr(desc, attnum - 1)->attisdropped ||
				(j >= 0 && getBaseType(TupleDescAttr(desc, attnum - 1)->atttypid) !=
				 getBaseType(TupleDescAttr(input, j)->atttypid)))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("streaming table %s stored as SCD type 2 needs a column \"%s\" of the type of its sequence",
								def->target_name, columns[c]),
						 errhint("ALTER TABLE %s ADD COLUMN __start_at %s, ADD COLUMN __end_at %s.",
								 def->target_name,
								 j >= 0 ? format_type_be(TupleDescAttr(input, j)->atttypid) : "bigint",
								 j >= 0 ? format_type_be(TupleDescAttr(input, j)->atttypid) : "bigint")));
		}
		keys = lappend(list_copy(keys), "__start_at");
	}
	index = find_key_index(target, keys);
	if (!OidIsValid(index))
	{
		StringInfoData names;

		initStringInfo(&names);
		foreach(lc, keys)
			appendStringInfo(&names, "%s%s", names.len ? ", " : "",
							 quote_identifier((char *) lfirst(lc)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("streaming table %s has no unique index on its keys (%s)",
						def->target_name, names.data),
				 target->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ?
				 errhint("CREATE UNIQUE INDEX ON %s (%s); a unique index of a partitioned table must include its partition key columns.",
						 def->target_name, names.data) :
				 errhint("CREATE UNIQUE INDEX ON %s (%s), or make them the primary key.",
						 def->target_name, names.data)));
	}
	if (sequence)
	{
		int			j = input_column(input, sequence);
		AttrNumber	attnum = get_attnum(RelationGetRelid(target), sequence);

		if (j < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("sequence_by column \"%s\" of streaming table %s is not a column of its input",
							sequence, def->target_name)));
		if (def->scd_type != 2)
		{
			if (attnum == InvalidAttrNumber || TupleDescAttr(desc, attnum - 1)->attisdropped)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("streaming table %s has no column \"%s\" to store its sequence",
								def->target_name, sequence),
						 errdetail("A keyed stream with sequence_by keeps each key's sequence in the target's column of that name."),
						 errhint("ALTER TABLE %s ADD COLUMN %s %s.", def->target_name,
								 quote_identifier(sequence),
								 format_type_be(TupleDescAttr(input, j)->atttypid))));
			if (name_in_list(def->except_columns, sequence))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("sequence_by column \"%s\" of streaming table %s is in except_columns",
								sequence, def->target_name),
						 errdetail("A keyed stream keeps each key's sequence in the target.")));
			if (getBaseType(TupleDescAttr(desc, attnum - 1)->atttypid) !=
				getBaseType(TupleDescAttr(input, j)->atttypid))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of streaming table %s has type %s but the sequence has type %s",
								sequence, def->target_name,
								format_type_be(TupleDescAttr(desc, attnum - 1)->atttypid),
								format_type_be(TupleDescAttr(input, j)->atttypid))));
		}
		if (!OidIsValid(lookup_type_cache(TupleDescAttr(input, j)->atttypid,
										  TYPECACHE_CMP_PROC)->cmp_proc))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("sequence_by column \"%s\" of streaming table %s has type %s, which has no ordering",
							sequence, def->target_name,
							format_type_be(TupleDescAttr(input, j)->atttypid))));
	}
	if (trig && (trig->trig_update_old_table || trig->trig_update_new_table ||
				 trig->trig_delete_old_table))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("streaming table %s in a keyed mode cannot have UPDATE or DELETE triggers with transition tables",
						def->target_name),
				 errdetail("A keyed batch fires row and statement triggers of UPDATE and DELETE, but captures no transition tables for them."),
				 errhint("Use FOR EACH ROW triggers, or mode 'append' and merge with triggers or SQL.")));
	return index;
}

/*
 * Compile a boolean SQL expression over the row (columns of input, as the
 * relation "batch") for evaluation with the row in ecxt_scantuple.
 */
static ExprState *
compile_row_expression(KeyedTarget *keyed, const char *text, const char *option)
{
	StreamDef  *def = keyed->base.def;
	QueryEnvironment *env = create_queryEnv();
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));
	char	   *sql = psprintf("SELECT (%s)::boolean FROM batch", text);
	List	   *raw;
	Query	   *query;
	Expr	   *expr;

	enr->md.name = "batch";
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = keyed->base.input;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	register_ENR(env, enr);
	raw = pg_parse_query(sql);
	if (list_length(raw) == 1)
		query = parse_analyze_fixedparams(linitial(raw), sql, NULL, 0, env);
	else
		query = NULL;
	if (query == NULL || query->commandType != CMD_SELECT ||
		list_length(query->targetList) != 1 || list_length(query->rtable) != 1 ||
		query->jointree->quals != NULL || query->setOperations || query->cteList ||
		query->groupClause || query->havingQual || query->sortClause ||
		query->limitCount || query->limitOffset || query->distinctClause ||
		query->hasAggs || query->hasWindowFuncs || query->hasTargetSRFs ||
		query->hasSubLinks)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("%s of streaming table %s must be one boolean expression over the row",
						option, def->target_name),
				 errdetail("Subqueries, aggregates and set-returning functions are not allowed.")));
	expr = ((TargetEntry *) linitial(query->targetList))->expr;
	return ExecInitExpr(expression_planner(expr), NULL);
}

static void
keyed_put(StreamTarget *target, Datum *values, bool *nulls,
		  const bool *unavailable, StreamChangeKind kind,
		  const StreamRecord *record);
static void keyed_end(StreamTarget *target, StreamTargetCounts *counts);
static int64 keyed_collapsed_bytes(StreamTarget *target);
static bool keyed_record(StreamTarget *target, const char *topic, int32 partition,
						 int64 offset, StreamRecord *record);

static const StreamTargetMethods keyed_methods = {
	keyed_put,
	keyed_end,
	keyed_collapsed_bytes,
	keyed_record
};

StreamTarget *
stream_keyed_target_begin(StreamDef *def, Relation rel, TupleDesc input,
						  const char *input_name,
						  StreamSinkRejectCallback reject, void *reject_arg)
{
	KeyedTarget *keyed;
	TupleDesc	written;
	List	   *keys;
	Relation	index;
	ListCell   *lc;
	char	   *deletes = def->apply_as_deletes;
	char	   *truncates = def->apply_as_truncates;
	int			k;
	int			j;

	keyed = palloc0(sizeof(KeyedTarget));
	keyed->base.methods = &keyed_methods;
	keyed->base.def = def;
	keyed->base.rel = rel;
	keyed->base.input = input;
	keyed->base.input_name = input_name;
	keyed->base.reject = reject;
	keyed->base.reject_arg = reject_arg;
	keyed->index = stream_keyed_validate(def, rel, input);
	if (pg_class_aclmask(RelationGetRelid(rel), GetUserId(),
						 ACL_SELECT | ACL_UPDATE | ACL_DELETE, ACLMASK_ALL) !=
		(ACL_SELECT | ACL_UPDATE | ACL_DELETE))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("owner of streaming table %s lacks SELECT, UPDATE or DELETE on it",
						def->target_name),
				 errdetail("A keyed stream updates and deletes rows of its target.")));
	keyed->cxt = AllocSetContextCreate(CurrentMemoryContext, "kafka keyed batch",
									   ALLOCSET_DEFAULT_SIZES);
	keyed->ninput = input->natts;
	keyed->sortable = true;
	keyed->scd2 = def->scd_type == 2;

	/* the keys as given, each with its column of the index */
	keys = stream_keyed_keys(def, rel);
	keyed->nkeys = list_length(keys);
	keyed->keys = palloc0(sizeof(KeyColumn) * keyed->nkeys);
	index = index_open(keyed->index, AccessShareLock);
	for (k = 0; k < keyed->nkeys; k++)
	{
		KeyColumn  *key = &keyed->keys[k];
		Form_pg_attribute att;
		TypeCacheEntry *type;
		AttrNumber	attnum;
		Oid			opfamily;
		Oid			opcintype;
		Oid			op;
		Oid			output;
		bool		varlena;
		int			i;

		key->name = pstrdup(list_nth(keys, k));
		key->input = input_column(input, key->name);
		attnum = get_attnum(RelationGetRelid(rel), key->name);
		key->target = attnum - 1;
		for (i = 0; i < index->rd_index->indnkeyatts; i++)
			if (index->rd_index->indkey.values[i] == attnum)
				key->index_column = i;
		opfamily = index->rd_opfamily[key->index_column];
		opcintype = index->rd_opcintype[key->index_column];
		att = TupleDescAttr(input, key->input);
		key->collation = att->attcollation;
		type = lookup_type_cache(att->atttypid, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
		if (!OidIsValid(type->hash_proc) || !OidIsValid(type->eq_opr))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("key column \"%s\" of streaming table %s has type %s, which cannot be hashed",
							key->name, def->target_name, format_type_be(att->atttypid))));
		fmgr_info_copy(&key->hash, &type->hash_proc_finfo, CurrentMemoryContext);
		type = lookup_type_cache(att->atttypid, TYPECACHE_LT_OPR);
		if (OidIsValid(type->lt_opr))
		{
			key->sort.ssup_cxt = CurrentMemoryContext;
			key->sort.ssup_collation = att->attcollation;
			key->sort.ssup_nulls_first = false;
			PrepareSortSupportFromOrderingOp(type->lt_opr, &key->sort);
		}
		else
			keyed->sortable = false;
		fmgr_info_copy(&key->equal, &type->eq_opr_finfo, CurrentMemoryContext);
		getTypeOutputInfo(att->atttypid, &output, &varlena);
		fmgr_info(output, &key->output);
		op = get_opfamily_member(opfamily, opcintype, att->atttypid, BTEqualStrategyNumber);
		key->scan_subtype = att->atttypid;
		if (!OidIsValid(op) && IsBinaryCoercible(att->atttypid, opcintype))
		{
			op = get_opfamily_member(opfamily, opcintype, opcintype, BTEqualStrategyNumber);
			key->scan_subtype = opcintype;
		}
		if (!OidIsValid(op))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("key column \"%s\" of %s has type %s, which the unique index of streaming table %s cannot look up",
							key->name, input_name, format_type_be(att->atttypid),
							def->target_name),
					 errhint("Give both columns the same type, or cast in the transform.")));
		key->scan_procedure = get_opcode(op);
	}
	index_close(index, AccessShareLock);

	keyed->sequence_name = stream_keyed_sequence(def);
	if (keyed->sequence_name)
	{
		Form_pg_attribute att;
		TypeCacheEntry *type;
		Oid			output;
		bool		varlena;

		keyed->sequence_input = input_column(input, keyed->sequence_name);
		keyed->sequence_target = get_attnum(RelationGetRelid(rel), keyed->sequence_name) - 1;
		att = TupleDescAttr(input, keyed->sequence_input);
		keyed->sequence_type = att->atttypid;
		keyed->sequence_typlen = att->attlen;
		keyed->sequence_byval = att->attbyval;
		keyed->sequence_collation = att->attcollation;
		type = lookup_type_cache(att->atttypid, TYPECACHE_CMP_PROC_FINFO);
		fmgr_info_copy(&keyed->sequence_cmp, &type->cmp_proc_finfo, CurrentMemoryContext);
		getTypeOutputInfo(att->atttypid, &output, &varlena);
		fmgr_info(output, &keyed->sequence_output);
		getTypeInputInfo(att->atttypid, &keyed->sequence_input_function,
						 &keyed->sequence_ioparam);
	}

	/* mode cdc: the deletes and truncates; Debezium's by default */
	if (def->mode == STREAM_MODE_CDC && (deletes == NULL || truncates == NULL))
	{
		char	   *op = source_role_column(def->source, "op");

		if (op && input_column(input, op) >= 0)
		{
			if (deletes == NULL)
				deletes = psprintf("%s = 'd'", quote_identifier(op));
			if (truncates == NULL && !keyed->scd2)
				truncates = psprintf("%s = 't'", quote_identifier(op));
		}
	}
	if (def->mode == STREAM_MODE_CDC && (deletes || truncates))
	{
		if (deletes)
			keyed->delete_expr = compile_row_expression(keyed, deletes, "apply_as_deletes");
		if (truncates)
			keyed->truncate_expr = compile_row_expression(keyed, truncates, "apply_as_truncates");
		keyed->econtext = CreateStandaloneExprContext();
		keyed->expr_slot = MakeSingleTupleTableSlot(input, &TTSOpsVirtual);
	}

	written = stream_sink_written_columns(def, input);
	keyed->writable = palloc0(sizeof(bool) * Max(input->natts, 1));
	{
		int		   *map = stream_sink_map_columns(rel, written, input_name);

		for (j = 0; j < RelationGetDescr(rel)->natts; j++)
			if (map[j] >= 0)
				keyed->writable[map[j]] = true;
	}
	foreach(lc, keys)
		keyed->writable[input_column(input, lfirst(lc))] = false;
	if (keyed->scd2)
		stream_scd2_begin(keyed, written);
	else
	{
		keyed->sink = stream_sink_begin(rel, written, input_name);
		stream_sink_set_key_index(keyed->sink, keyed->index);
	}
	if (reject)
		stream_sink_on_reject(keyed->sink, reject, reject_arg);
	/*
	 * A dead letter for a row refused when written needs its record, which
	 * the ingest has let go of by then (SCD type 2 holds every record).
	 */
	keyed->keep_records = reject && def->on_error == STREAM_ON_ERROR_DEAD_LETTER &&
		!keyed->scd2 && stream_sink_fallible(keyed->sink);
	if (rel->trigdesc &&
		(rel->trigdesc->trig_update_before_row || rel->trigdesc->trig_update_after_row ||
		 rel->trigdesc->trig_update_before_statement || rel->trigdesc->trig_update_after_statement ||
		 rel->trigdesc->trig_delete_before_row || rel->trigdesc->trig_delete_after_row ||
		 rel->trigdesc->trig_delete_before_statement || rel->trigdesc->trig_delete_after_statement))
		stream_sink_fire_row_triggers(keyed->sink);
	keyed->changes = keyed_create(keyed->cxt, 1024, keyed);
	return &keyed->base;
}

/* A record that cannot be a change (NULL key or sequence): on_error decides. */
static void
bad_record(KeyedTarget *keyed, const char *message, const char *topic,
		   int32 partition, int64 offset)
{
	StreamTarget *target = &keyed->base;

	if (target->reject && topic)
	{
		ErrorData  *edata = palloc0(sizeof(ErrorData));

		edata->elevel = ERROR;
		edata->sqlerrcode = ERRCODE_NOT_NULL_VIOLATION;
		edata->message = pstrdup(message);
		target->reject(target->reject_arg, topic, partition, offset, edata);
		return;
	}
	stream_record_error_raised = true;
	if (topic)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("%s", message),
				 errcontext("kafka record %s[%d] at offset " INT64_FORMAT " of streaming table %s",
							topic, partition, offset, target->def->target_name),
				 errhint("To keep the stream going past bad records: SELECT kafka.alter_streaming_table('%s', on_error => 'dead_letter') (or 'skip'), then kafka.resume_streaming_table('%s').",
						 keyed->base.def->target_name, keyed->base.def->target_name)));
	ereport(ERROR,
			(errcode(ERRCODE_NOT_NULL_VIOLATION),
			 errmsg("%s", message),
			 errcontext("a row of the transform of streaming table %s", target->def->target_name)));
}

static bool
evaluate(KeyedTarget *keyed, ExprState *expr)
{
	bool		isnull;
	Datum		d;

	d = ExecEvalExprSwitchContext(expr, keyed->econtext, &isnull);
	return !isnull && DatumGetBool(d);
}

int
stream_keyed_compare_sequences(KeyedTarget *keyed, Datum a, Datum b)
{
	return DatumGetInt32(FunctionCall2Coll(&keyed->sequence_cmp, keyed->sequence_collation,
										   a, b));
}

/*
 * Fold the columns that older does not give to newer (ignore_null_updates,
 * unavailable columns): newer keeps the value of older where it has none.
 */
static void
fold_older(KeyedTarget *keyed, KeyedChange *newer, KeyedChange *older)
{
	MemoryContext old = MemoryContextSwitchTo(keyed->cxt);
	int			j;

	newer->any_keep = false;
	for (j = 0; j < keyed->ninput; j++)
	{
		if (newer->keep[j] && !older->keep[j])
		{
			Form_pg_attribute att = TupleDescAttr(keyed->base.input, j);

			newer->keep[j] = false;
			newer->nulls[j] = older->nulls[j];
			newer->values[j] = older->nulls[j] ? (Datum) 0 :
				datumCopy(older->values[j], att->attbyval, att->attlen);
		}
		newer->any_keep |= newer->keep[j];
	}
	MemoryContextSwitchTo(old);
}

/*
 * A change that lost to another of its key: its memory goes back to the
 * batch's context, so a batch touching few keys many times stays small.
 */
static void
free_change(KeyedTarget *keyed, KeyedChange *change)
{
	int			j;

	for (j = 0; j < keyed->ninput; j++)
		if (!change->nulls[j] && !TupleDescAttr(keyed->base.input, j)->attbyval)
			pfree(DatumGetPointer(change->values[j]));
	pfree(change);
}

static void
keyed_put(StreamTarget *target, Datum *values, bool *nulls,
		  const bool *unavailable, StreamChangeKind kind,
		  const StreamRecord *record)
{
	const char *topic = record ? record->topic : NULL;
	int32		partition = record ? record->partition : 0;
	int64		offset = record ? record->offset : 0;
	size_t		record_bytes = 0;
	KeyedTarget *keyed = (KeyedTarget *) target;
	StreamDef  *def = target->def;
	TupleDesc	input = target->input;
	MemoryContext old;
	KeyedChange *change;
	KeyedEntry *entry;
	bool		found;
	uint32		hash = 0;
	int			k;
	int			j;

	if (keyed->econtext)
	{
		TupleTableSlot *slot = keyed->expr_slot;

		ExecClearTuple(slot);
		memcpy(slot->tts_values, values, sizeof(Datum) * keyed->ninput);
		memcpy(slot->tts_isnull, nulls, sizeof(bool) * keyed->ninput);
		ExecStoreVirtualTuple(slot);
		keyed->econtext->ecxt_scantuple = slot;
		if (keyed->truncate_expr && evaluate(keyed, keyed->truncate_expr))
			kind = STREAM_CHANGE_TRUNCATE;
		else if (keyed->delete_expr && evaluate(keyed, keyed->delete_expr))
			kind = STREAM_CHANGE_DELETE;
		ResetExprContext(keyed->econtext);
	}
	if (kind == STREAM_CHANGE_TRUNCATE && keyed->scd2)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("streaming table %s stored as SCD type 2 cannot apply a truncate",
						def->target_name)));
	if (kind == STREAM_CHANGE_TRUNCATE)
	{
		/* what came before is gone */
		keyed_reset(keyed->changes);
		keyed->truncate = true;
		return;
	}
	for (k = 0; k < keyed->nkeys; k++)
		if (nulls[keyed->keys[k].input])
		{
			bad_record(keyed, psprintf("key column \"%s\" is null", keyed->keys[k].name),
					   topic, partition, offset);
			return;
		}
	if (keyed->sequence_name && nulls[keyed->sequence_input])
	{
		bad_record(keyed, psprintf("sequence column \"%s\" is null", keyed->sequence_name),
				   topic, partition, offset);
		return;
	}

	old = MemoryContextSwitchTo(keyed->cxt);
	/* one chunk: the change, its values, nulls and keep flags, its record */
	if (keyed->keep_records && record)
		record_bytes = (record->key ? record->key_len : 0) +
			(record->value ? record->value_len : 0);
	change = palloc(MAXALIGN(sizeof(KeyedChange)) + sizeof(Datum) * keyed->ninput +
					2 * sizeof(bool) * keyed->ninput + record_bytes);
	change->kind = kind;
	change->values = (Datum *) ((char *) change + MAXALIGN(sizeof(KeyedChange)));
	change->nulls = (bool *) (change->values + keyed->ninput);
	change->keep = change->nulls + keyed->ninput;
	memset(change->keep, 0, sizeof(bool) * keyed->ninput);
	change->any_keep = false;
	change->after_delete = false;
	change->topic = topic;
	change->partition = partition;
	change->offset = offset;
	change->record_key = NULL;
	change->record_value = NULL;
	change->record_key_len = 0;
	change->record_value_len = 0;
	if (keyed->keep_records && record)
	{
		char	   *bytes = (char *) (change->keep + keyed->ninput);

		if (record->key)
		{
			change->record_key = memcpy(bytes, record->key, record->key_len);
			change->record_key_len = (int32) record->key_len;
			bytes += record->key_len;
		}
		if (record->value)
		{
			change->record_value = memcpy(bytes, record->value, record->value_len);
			change->record_value_len = (int32) record->value_len;
		}
	}
	change->ordinal = keyed->puts++;
	change->next = NULL;
	change->tail = change;
	for (j = 0; j < keyed->ninput; j++)
	{
		Form_pg_attribute att = TupleDescAttr(input, j);

		if (keyed->writable[j] && kind == STREAM_CHANGE_UPSERT &&
			((unavailable && unavailable[j]) || (def->ignore_null_updates && nulls[j])))
		{
			change->keep[j] = true;
			change->any_keep = true;
		}
		change->nulls[j] = nulls[j] || change->keep[j];
		change->values[j] = change->nulls[j] ? (Datum) 0 :
			datumCopy(values[j], att->attbyval, att->attlen);
	}
	if (keyed->sequence_name)
		change->sequence = change->values[keyed->sequence_input];
	MemoryContextSwitchTo(old);

	for (k = 0; k < keyed->nkeys; k++)
	{
		KeyColumn  *key = &keyed->keys[k];

		hash = hash_combine(hash, DatumGetUInt32(FunctionCall1Coll(&key->hash, key->collation,
																   change->values[key->input])));
	}
	change->hash = hash;

	entry = keyed_insert(keyed->changes, change, &found);
	if (!found)
	{
		entry->change = change;
		return;
	}
	if (keyed->scd2)
	{
		/* history needs every change: scd2.c replays them */
		entry->change->tail->next = change;
		entry->change->tail = change;
		return;
	}
	{
		KeyedChange *current = entry->change;
		bool		newer = keyed->sequence_name == NULL ||
			stream_keyed_compare_sequences(keyed, change->sequence, current->sequence) > 0;

		if (newer)
		{
			if (current->kind == STREAM_CHANGE_DELETE)
			{
				change->after_delete = true;
				if (keyed->sequence_name)
				{
					MemoryContext old = MemoryContextSwitchTo(keyed->cxt);

					change->delete_sequence = datumCopy(current->sequence,
														keyed->sequence_byval,
														keyed->sequence_typlen);
					MemoryContextSwitchTo(old);
				}
			}
			else
			{
				change->after_delete = current->after_delete;
				change->delete_sequence = current->delete_sequence;
				if (change->kind == STREAM_CHANGE_UPSERT && change->any_keep)
					fold_older(keyed, change, current);
			}
			entry->change = change;
			free_change(keyed, current);
		}
		else
		{
			/* an older change fills what the newer one leaves to it */
			if (current->kind == STREAM_CHANGE_UPSERT && current->any_keep &&
				change->kind == STREAM_CHANGE_UPSERT &&
				!(current->after_delete &&
				  stream_keyed_compare_sequences(keyed, change->sequence, current->delete_sequence) <= 0))
				fold_older(keyed, current, change);
			free_change(keyed, change);
		}
	}
}

/*
 * SCD type 1 keeps one change per key (losers are freed as they lose);
 * SCD type 2 keeps every change for its replay.
 */
static int64
keyed_collapsed_bytes(StreamTarget *target)
{
	KeyedTarget *keyed = (KeyedTarget *) target;

	if (keyed->scd2)
		return -1;
	return (int64) MemoryContextMemAllocated(keyed->cxt, true);
}

/*
 * The record of a change being written (SCD type 1 keeps the bytes of
 * every change it may reject when written: keep_records).  Rejects come in
 * the order the changes are written: look on from the last one found.
 */
static bool
keyed_record(StreamTarget *target, const char *topic, int32 partition,
			 int64 offset, StreamRecord *record)
{
	KeyedTarget *keyed = (KeyedTarget *) target;
	uint32		n;

	if (!keyed->keep_records || topic == NULL)
		return false;
	for (n = 0; n < keyed->nsorted; n++)
	{
		uint32		i = (keyed->find_next + n) % keyed->nsorted;
		KeyedChange *change = keyed->sorted[i];

		if (change->offset != offset || change->partition != partition ||
			change->topic == NULL || strcmp(change->topic, topic) != 0)
			continue;
		keyed->find_next = i + 1;
		record->topic = change->topic;
		record->partition = change->partition;
		record->offset = change->offset;
		record->key = change->record_key;
		record->key_len = change->record_key_len;
		record->value = change->record_value;
		record->value_len = change->record_value_len;
		record->headers = NULL;
		return true;
	}
	return false;
}

/* The text form of a change's key, as an array literal of the key columns. */
char *
stream_keyed_key_text(KeyedTarget *keyed, KeyedChange *change)
{
	StringInfoData buf;
	int			k;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (k = 0; k < keyed->nkeys; k++)
	{
		KeyColumn  *key = &keyed->keys[k];
		char	   *text = OutputFunctionCall(&key->output, change->values[key->input]);
		char	   *p;

		if (k > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoChar(&buf, '"');
		for (p = text; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
		appendStringInfoChar(&buf, '"');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

Datum
stream_keyed_text_array(List *strings)
{
	int			n = list_length(strings);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, strings)
		elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Order of changes by key, for qsort_arg. */
static int
compare_changes(const void *a, const void *b, void *arg)
{
	KeyedTarget *keyed = arg;
	KeyedChange *x = *(KeyedChange *const *) a;
	KeyedChange *y = *(KeyedChange *const *) b;
	int			k;

	for (k = 0; k < keyed->nkeys; k++)
	{
		KeyColumn  *key = &keyed->keys[k];
		int			c = ApplySortComparator(x->values[key->input], false,
											y->values[key->input], false, &key->sort);

		if (c != 0)
			return c;
	}
	return 0;
}

/* Per stream, when this backend last purged its expired tombstones. */
/*
 * A partitioned target: a leaf partition's unique index on the keys (the
 * partition of the target's), opened for the batch's lookups.
 */
typedef struct LeafLookup
{
	ResultRelInfo *rri;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;		/* the partition's row type */
	int		   *index_columns;	/* per key: its column in the index */
	ScanKeyData *scankeys;
} LeafLookup;

static LeafLookup *
open_leaf_lookup(KeyedTarget *keyed, ResultRelInfo *rri, Snapshot snapshot)
{
	Relation	leaf = rri->ri_RelationDesc;
	LeafLookup *lookup = palloc0(sizeof(LeafLookup));
	List	   *names = NIL;
	Oid			index;
	int			k;

	for (k = 0; k < keyed->nkeys; k++)
		names = lappend(names, keyed->keys[k].name);
	index = find_key_index(leaf, names);
	if (!OidIsValid(index))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("partition \"%s\" of streaming table %s has no unique index on its keys",
						RelationGetRelationName(leaf), keyed->base.def->target_name)));
	lookup->rri = rri;
	lookup->index = index_open(index, AccessShareLock);
	lookup->index_columns = palloc(sizeof(int) * keyed->nkeys);
	for (k = 0; k < keyed->nkeys; k++)
	{
		AttrNumber	attnum = get_attnum(RelationGetRelid(leaf), keyed->keys[k].name);
		int			i;

		for (i = 0; i < lookup->index->rd_index->indnkeyatts; i++)
			if (lookup->index->rd_index->indkey.values[i] == attnum)
				lookup->index_columns[k] = i;
	}
	lookup->scankeys = palloc0(sizeof(ScanKeyData) * keyed->nkeys);
	lookup->scan = index_beginscan(leaf, lookup->index, snapshot, keyed->nkeys, 0);
	lookup->slot = table_slot_create(leaf, NULL);
	list_free(names);
	return lookup;
}

/*
 * A partitioned target: find the stored row of change's key in the leaf
 * partition the key routes to.  found gets it in the target's row type,
 * with the partition's tid; *leaf the partition (NULL: no partition takes
 * the key).
 */
static bool
find_in_partition(KeyedTarget *keyed, KeyedChange *change, TupleTableSlot *probe,
				  TupleTableSlot *found, List **lookups, Snapshot snapshot,
				  ResultRelInfo **leaf)
{
	int			natts = probe->tts_tupleDescriptor->natts;
	LeafLookup *lookup = NULL;
	TupleConversionMap *map;
	ResultRelInfo *rri;
	ListCell   *lc;
	int			k;

	ExecClearTuple(probe);
	memset(probe->tts_isnull, true, sizeof(bool) * natts);
	for (k = 0; k < keyed->nkeys; k++)
	{
		KeyColumn  *key = &keyed->keys[k];

		probe->tts_values[key->target] = change->values[key->input];
		probe->tts_isnull[key->target] = false;
	}
	ExecStoreVirtualTuple(probe);
	*leaf = rri = stream_sink_route_key(keyed->sink, probe);
	if (rri == NULL)
		return false;
	foreach(lc, *lookups)
	{
		if (((LeafLookup *) lfirst(lc))->rri == rri)
		{
			lookup = lfirst(lc);
			break;
		}
	}
	if (lookup == NULL)
	{
		lookup = open_leaf_lookup(keyed, rri, snapshot);
		*lookups = lappend(*lookups, lookup);
	}
	for (k = 0; k < keyed->nkeys; k++)
	{
		KeyColumn  *key = &keyed->keys[k];
		int			column = lookup->index_columns[k];

		ScanKeyEntryInitialize(&lookup->scankeys[column], 0, column + 1,
							   BTEqualStrategyNumber, key->scan_subtype,
							   lookup->index->rd_indcollation[column],
							   key->scan_procedure, change->values[key->input]);
	}
	index_rescan(lookup->scan, lookup->scankeys, keyed->nkeys, NULL, 0);
	if (!index_getnext_slot(lookup->scan, ForwardScanDirection, lookup->slot))
		return false;
	map = ExecGetChildToRootMap(rri);
	if (map != NULL)
		execute_attr_map_slot(map->attrMap, lookup->slot, found);
	else
	{
		slot_getallattrs(lookup->slot);
		ExecClearTuple(found);
		memcpy(found->tts_values, lookup->slot->tts_values, sizeof(Datum) * natts);
		memcpy(found->tts_isnull, lookup->slot->tts_isnull, sizeof(bool) * natts);
		ExecStoreVirtualTuple(found);
	}
	found->tts_tid = lookup->slot->tts_tid;
	return true;
}

static void
close_leaf_lookups(List *lookups)
{
	ListCell   *lc;

	foreach(lc, lookups)
	{
		LeafLookup *lookup = lfirst(lc);

		index_endscan(lookup->scan);
		index_close(lookup->index, AccessShareLock);
		ExecDropSingleTupleTableSlot(lookup->slot);
	}
}

static Oid	last_purge_stream = InvalidOid;
static TimestampTz last_purge_at = 0;

/* A new key waiting for the check of its tombstones. */
typedef struct PendingInsert
{
	KeyedChange *change;
	char	   *key;
} PendingInsert;

static void
insert_change(KeyedTarget *keyed, KeyedChange *change)
{
	stream_sink_put(keyed->sink, change->values, change->nulls,
					change->topic, change->partition, change->offset);
}

static void
keyed_end(StreamTarget *target, StreamTargetCounts *counts)
{
	KeyedTarget *keyed = (KeyedTarget *) target;
	StreamDef  *def = target->def;
	Relation	rel = target->rel;
	bool		sequenced = keyed->sequence_name != NULL;
	Snapshot	snapshot;
	Relation	index = NULL;
	IndexScanDesc scan = NULL;
	ScanKeyData *scankeys = NULL;
	TupleTableSlot *slot;
	bool		partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
	TupleTableSlot *probe = NULL;	/* partitioned: a key to route */
	List	   *lookups = NIL;	/* partitioned: LeafLookup */
	ResultRelInfo *leaf = NULL; /* partitioned: where the key routes */
	keyed_iterator it;
	KeyedEntry *entry;
	KeyedChange **sorted;
	uint32		nsorted = 0;
	uint32		n;
	List	   *pending = NIL;	/* PendingInsert * */
	List	   *tombstone_keys = NIL;	/* char *: deletes to remember */
	List	   *tombstone_sequences = NIL;
	List	   *revived_keys = NIL; /* char *: tombstones to forget */
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz live_after = now - def->tombstone_retention_ms * INT64CONST(1000);
	bool	   *keep_none = palloc0(sizeof(bool) * Max(keyed->ninput, 1));
	int64		truncated = 0;
	bool		any_tombstones = false;
	bool		empty;
	int			k;

	SPI_connect();
	if (keyed->truncate)
	{
		/* as the owner: a DELETE of every row, then no tombstone survives */
		Oid			types[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(RelationGetRelid(rel))};
		char	   *sql = psprintf("DELETE FROM %s",
								   quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
															  RelationGetRelationName(rel)));

		if (SPI_execute(sql, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not empty streaming table %s", def->target_name);
		truncated = SPI_processed;
		stream_catalog_exec("DELETE FROM kafka.stream_tombstones WHERE stream = $1",
							1, types, values, NULL, false);
	}
	if (sequenced && (last_purge_stream != def->target ||
					  TimestampDifferenceExceeds(last_purge_at, now, 60 * 1000)))
	{
		Oid			types[2] = {OIDOID, TIMESTAMPTZOID};
		Datum		values[2] = {ObjectIdGetDatum(def->target), TimestampTzGetDatum(live_after)};

		stream_catalog_exec("DELETE FROM kafka.stream_tombstones WHERE stream = $1 AND deleted_at < $2",
							2, types, values, NULL, false);
		last_purge_stream = def->target;
		last_purge_at = now;
	}

	/* new keys need a look at the tombstones only if the stream has some */
	if (sequenced && !keyed->truncate && !keyed->scd2)
	{
		Oid			types[2] = {OIDOID, TIMESTAMPTZOID};
		Datum		values[2] = {ObjectIdGetDatum(def->target), TimestampTzGetDatum(live_after)};

		any_tombstones = stream_catalog_exec("SELECT FROM kafka.stream_tombstones "
											 "WHERE stream = $1 AND deleted_at >= $2 LIMIT 1",
											 2, types, values, NULL, true) > 0;
	}

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	stream_sink_set_snapshot(keyed->sink, snapshot);
	if (keyed->scd2)
	{
		/* in the batch's context: rejects of the last flush, after SPI_finish, read it */
		sorted = MemoryContextAlloc(keyed->cxt, sizeof(KeyedChange *) * Max(keyed->changes->members, 1));
		keyed_start_iterate(keyed->changes, &it);
		while ((entry = keyed_iterate(keyed->changes, &it)) != NULL)
			sorted[nsorted++] = entry->change;
		if (keyed->sortable && keyed->nkeys > 0)
			qsort_arg(sorted, nsorted, sizeof(KeyedChange *), compare_changes, keyed);
		stream_scd2_apply(keyed, sorted, nsorted, snapshot, live_after, counts);
		SPI_finish();
		stream_sink_flush(keyed->sink);
		stream_sink_counts(keyed->sink, &counts->updated, &counts->deleted);
		counts->inserted = stream_sink_end(keyed->sink);
		UnregisterSnapshot(snapshot);
		if (keyed->econtext)
		{
			FreeExprContext(keyed->econtext, true);
			ExecDropSingleTupleTableSlot(keyed->expr_slot);
		}
		keyed_destroy(keyed->changes);
		MemoryContextDelete(keyed->cxt);
		return;
	}
	if (partitioned)
	{
		/* a leaf's index per partition the keys route to */
		probe = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
		slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
	}
	else
	{
		index = index_open(keyed->index, AccessShareLock);
		scankeys = palloc0(sizeof(ScanKeyData) * keyed->nkeys);
		scan = index_beginscan(rel, index, snapshot, keyed->nkeys, 0);
		slot = table_slot_create(rel, NULL);
	}

	/*
	 * In key order: the lookups, updates and index entries then walk the
	 * index (and the inserted rows land in the heap) in order, not at
	 * random.
	 */
	/* in the batch's context: rejects of the last flush, after SPI_finish, read it */
	sorted = MemoryContextAlloc(keyed->cxt, sizeof(KeyedChange *) * Max(keyed->changes->members, 1));
	keyed_start_iterate(keyed->changes, &it);
	while ((entry = keyed_iterate(keyed->changes, &it)) != NULL)
		sorted[nsorted++] = entry->change;
	if (keyed->sortable && keyed->nkeys > 0)
		qsort_arg(sorted, nsorted, sizeof(KeyedChange *), compare_changes, keyed);
	keyed->sorted = sorted;
	keyed->nsorted = nsorted;
	keyed->find_next = 0;

	/*
	 * A target without a single page (new, or truncated) has no row to
	 * look up: every key is new (the loop writes each key once).
	 */
	empty = !partitioned && RelationGetNumberOfBlocks(rel) == 0;
	for (n = 0; n < nsorted; n++)
	{
		KeyedChange *change = sorted[n];
		bool		found = false;

		CHECK_FOR_INTERRUPTS();
		if (partitioned)
			found = find_in_partition(keyed, change, probe, slot, &lookups, snapshot, &leaf);
		else if (!empty)
		{
			for (k = 0; k < keyed->nkeys; k++)
			{
				KeyColumn  *key = &keyed->keys[k];

				ScanKeyEntryInitialize(&scankeys[key->index_column], 0, key->index_column + 1,
									   BTEqualStrategyNumber, key->scan_subtype,
									   index->rd_indcollation[key->index_column],
									   key->scan_procedure, change->values[key->input]);
			}
			index_rescan(scan, scankeys, keyed->nkeys, NULL, 0);
			found = index_getnext_slot(scan, ForwardScanDirection, slot);
		}
		if (found)
		{
			bool		keep_stored = true;

			if (sequenced)
			{
				bool		isnull;
				Datum		stored = slot_getattr(slot, keyed->sequence_target + 1, &isnull);

				if (!isnull && stream_keyed_compare_sequences(keyed, change->sequence, stored) <= 0)
					continue;	/* the stored row is as new or newer */
				/* a delete of this batch came between: nothing to keep */
				if (change->after_delete &&
					(isnull || stream_keyed_compare_sequences(keyed, change->delete_sequence, stored) > 0))
					keep_stored = false;
			}
			else if (change->after_delete)
				keep_stored = false;
			if (change->kind == STREAM_CHANGE_DELETE)
			{
				stream_sink_delete(keyed->sink, leaf, slot);
				if (sequenced)
				{
					tombstone_keys = lappend(tombstone_keys, stream_keyed_key_text(keyed, change));
					tombstone_sequences = lappend(tombstone_sequences,
												  OutputFunctionCall(&keyed->sequence_output,
																	 change->sequence));
				}
			}
			else
				stream_sink_put_update(keyed->sink, change->values, change->nulls,
									   keep_stored && change->any_keep ? change->keep : keep_none,
									   slot, change->topic, change->partition, change->offset);
			ExecClearTuple(slot);
			continue;
		}
		if (change->kind == STREAM_CHANGE_DELETE)
		{
			/* remembered also when absent: an older upsert may come later */
			if (sequenced)
			{
				tombstone_keys = lappend(tombstone_keys, stream_keyed_key_text(keyed, change));
				tombstone_sequences = lappend(tombstone_sequences,
											  OutputFunctionCall(&keyed->sequence_output,
																 change->sequence));
			}
			continue;
		}
		if (any_tombstones)
		{
			PendingInsert *p = palloc(sizeof(PendingInsert));

			p->change = change;
			p->key = stream_keyed_key_text(keyed, change);
			pending = lappend(pending, p);
			continue;
		}
		insert_change(keyed, change);
	}
	if (partitioned)
	{
		close_leaf_lookups(lookups);
		ExecDropSingleTupleTableSlot(probe);
	}
	else
	{
		index_endscan(scan);
		index_close(index, AccessShareLock);
	}
	ExecDropSingleTupleTableSlot(slot);

	/* new keys of a sequenced stream: is there a newer remembered delete? */
	if (pending != NIL)
	{
		List	   *keys = NIL;
		Datum	   *newest;
		bool	   *has_tombstone;
		ListCell   *lc;
		int			n = list_length(pending);
		int			i;
		uint64		rows;

		foreach(lc, pending)
			keys = lappend(keys, ((PendingInsert *) lfirst(lc))->key);
		newest = palloc0(sizeof(Datum) * n);
		has_tombstone = palloc0(sizeof(bool) * n);
		{
			Oid			types[3] = {OIDOID, TEXTARRAYOID, TIMESTAMPTZOID};
			Datum		values[3] = {ObjectIdGetDatum(def->target), stream_keyed_text_array(keys),
			TimestampTzGetDatum(live_after)};

			rows = stream_catalog_exec("SELECT u.i, t.sequence FROM unnest($2::text[]) WITH ORDINALITY AS u(k, i) "
									   "JOIN kafka.stream_tombstones t ON t.stream = $1 AND t.key = u.k::text[] "
									   "WHERE t.deleted_at >= $3",
									   3, types, values, NULL, true);
		}
		for (i = 0; i < rows; i++)
		{
			bool		isnull;
			int64		ordinal = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc, 1, &isnull));
			char	   *text = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
			MemoryContext old = MemoryContextSwitchTo(keyed->cxt);
			Datum		sequence = OidInputFunctionCall(keyed->sequence_input_function, text,
														keyed->sequence_ioparam, -1);

			MemoryContextSwitchTo(old);
			if (!has_tombstone[ordinal - 1] ||
				stream_keyed_compare_sequences(keyed, sequence, newest[ordinal - 1]) > 0)
				newest[ordinal - 1] = sequence;
			has_tombstone[ordinal - 1] = true;
		}
		i = 0;
		foreach(lc, pending)
		{
			PendingInsert *p = lfirst(lc);

			if (has_tombstone[i])
			{
				if (stream_keyed_compare_sequences(keyed, newest[i], p->change->sequence) >= 0)
				{
					i++;
					continue;	/* deleted later than this change */
				}
				revived_keys = lappend(revived_keys, p->key);
			}
			insert_change(keyed, p->change);
			i++;
		}
	}

	/*
	 * Forget the tombstones of revived keys (the insert was newer than all
	 * of them) and remember this batch's deletes.  A key may keep several
	 * tombstones (a late delete older than one remembered must not replace
	 * it): lookups take the newest live one.
	 */
	if (revived_keys != NIL)
	{
		Oid			types[2] = {OIDOID, TEXTARRAYOID};
		Datum		values[2] = {ObjectIdGetDatum(def->target), stream_keyed_text_array(revived_keys)};

		stream_catalog_exec("DELETE FROM kafka.stream_tombstones t USING unnest($2::text[]) AS u(k) "
							"WHERE t.stream = $1 AND t.key = u.k::text[]",
							2, types, values, NULL, false);
	}
	if (tombstone_keys != NIL)
	{
		Oid			types[3] = {OIDOID, TEXTARRAYOID, TEXTARRAYOID};
		Datum		values[3] = {ObjectIdGetDatum(def->target), stream_keyed_text_array(tombstone_keys),
		stream_keyed_text_array(tombstone_sequences)};

		stream_catalog_exec("INSERT INTO kafka.stream_tombstones (stream, key, sequence, deleted_at) "
							"SELECT $1, u.k::text[], u.s, now() FROM unnest($2::text[], $3::text[]) AS u(k, s) "
							"ON CONFLICT (stream, key, sequence) DO UPDATE SET deleted_at = excluded.deleted_at",
							3, types, values, NULL, false);
	}
	SPI_finish();

	stream_sink_flush(keyed->sink);
	stream_sink_counts(keyed->sink, &counts->updated, &counts->deleted);
	counts->deleted += truncated;
	counts->inserted = stream_sink_end(keyed->sink);
	UnregisterSnapshot(snapshot);
	if (keyed->econtext)
	{
		FreeExprContext(keyed->econtext, true);
		ExecDropSingleTupleTableSlot(keyed->expr_slot);
	}
	keyed_destroy(keyed->changes);
	MemoryContextDelete(keyed->cxt);
}
