/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The streaming-table SQL API (create, pause, resume, drop, reset
 *	  offsets) and access to the catalog rows in kafka.streaming_tables and
 *	  kafka.stream_offsets.
 *
 * The catalog tables belong to the extension (a superuser); the functions
 * check that the caller owns the stream (has the privileges of its owner
 * role) and then write the catalog as the bootstrap superuser, with fixed
 * statements only.  Data work (decoding, transform, insert) always runs as
 * the stream's owner.
 *
 * The library may be newer than the extension's catalog (until ALTER
 * EXTENSION kafka_fdw UPDATE runs): columns added by later versions are
 * read and written only when the catalog has them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "client.h"
#include "options.h"
#include "stream/kafka_target.h"
#include "stream/stream.h"
#include "stream/target.h"
#include "stream/keyed.h"

PG_FUNCTION_INFO_V1(kafka_create_streaming_table);
PG_FUNCTION_INFO_V1(kafka_alter_streaming_table);
PG_FUNCTION_INFO_V1(kafka_pause_streaming_table);
PG_FUNCTION_INFO_V1(kafka_resume_streaming_table);
PG_FUNCTION_INFO_V1(kafka_drop_streaming_table);
PG_FUNCTION_INFO_V1(kafka_reset_offsets);
PG_FUNCTION_INFO_V1(kafka_stream_workers_visible);

/* launcher.c: every slot of this database, unfiltered */
extern Datum kafka_stream_workers(PG_FUNCTION_ARGS);

static const char *const on_error_names[] = {"fail", "dead_letter", "skip", "null"};

/*
 * Run one fixed catalog statement as the bootstrap superuser.  Returns
 * SPI_processed; rows are left in SPI_tuptable for the caller, which must
 * call SPI_finish.
 */
uint64
stream_catalog_exec(const char *sql, int nargs, Oid *types, Datum *values,
			 const char *nulls, bool read_only)
{
	Oid			save_user;
	int			save_sec;
	volatile int rc = 0;

	volatile int nest_level;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	/* operators and functions of these statements come from pg_catalog only */
	nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, 0);
	}
	PG_FINALLY();
	{
		AtEOXact_GUC(false, nest_level);
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	if (rc < 0)
		elog(ERROR, "catalog statement failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * Has kafka.streaming_tables this column?  An older catalog under this
 * library (until ALTER EXTENSION kafka_fdw UPDATE) lacks the later ones:
 * search_path (0.2), mode and the keyed-stream columns (0.3).
 */
static bool
catalog_has_column(const char *column)
{
	Oid			nsp = get_namespace_oid("kafka", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("streaming_tables", nsp) : InvalidOid;

	return OidIsValid(relid) && get_attnum(relid, column) != InvalidAttrNumber;
}

/* A text[]'s elements as a List of C strings (NIL for NULL). */
static List *
text_array_list(Datum array, bool isnull)
{
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	int			i;
	List	   *list = NIL;

	if (isnull)
		return NIL;
	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &elem_nulls, &n);
	for (i = 0; i < n; i++)
		if (!elem_nulls[i])
			list = lappend(list, TextDatumGetCString(elems[i]));
	return list;
}

/* A text[] column of a catalog row as a List. */
static List *
text_array_column(HeapTuple tup, TupleDesc desc, int attno)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, attno, &isnull);

	return text_array_list(d, isnull);
}

StreamDef *
stream_def_load(Oid target, bool missing_ok)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(target)};
	StreamDef  *def = NULL;
	MemoryContext caller = CurrentMemoryContext;

	SPI_connect();
	if (stream_catalog_exec(psprintf("SELECT source::oid, owner::oid, trigger, "
									 "(extract(epoch FROM trigger_interval) * 1000)::bigint, "
									 "max_offsets_per_trigger, on_error, fail_on_data_loss, transform, "
									 "timezone, datestyle, state, batch_id, %s, %s, %s, %s, "
									 "(extract(epoch FROM created_at) * 1000000)::bigint, %s "
									 "FROM kafka.streaming_tables WHERE target = $1",
									 catalog_has_column("search_path") ? "search_path" : "NULL::text",
									 catalog_has_column("mode") ?
									 "mode, keys, sequence_by, apply_as_deletes, apply_as_truncates, "
									 "ignore_null_updates, except_columns, stored_as_scd_type, "
									 "track_history_columns, "
									 "(extract(epoch FROM tombstone_retention) * 1000)::bigint" :
									 "'append', NULL::text[], NULL, NULL, NULL, false, NULL::text[], 1, "
									 "NULL::text[], 0::bigint",
									 catalog_has_column("schema_evolution") ?
									 "schema_evolution, altered_at" : "'none', NULL::timestamptz",
									 catalog_has_column("dead_letter_topic") ?
									 "dead_letter_topic, transactional_id, group_id, source_header" :
									 "NULL::text, NULL::text, NULL::text, true",
									 catalog_has_column("commit_offsets_to_group") ?
									 "commit_offsets_to_group" : "false"),
							1, types, values, NULL, true) == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(caller);
		char	   *v;
		int			i;

		def = palloc0(sizeof(StreamDef));
		def->target = target;
		def->source = (Oid) strtoul(SPI_getvalue(tup, desc, 1), NULL, 10);
		def->owner = (Oid) strtoul(SPI_getvalue(tup, desc, 2), NULL, 10);
		v = SPI_getvalue(tup, desc, 3);
		def->trigger = strcmp(v, "continuous") == 0 ? STREAM_TRIGGER_CONTINUOUS :
			strcmp(v, "interval") == 0 ? STREAM_TRIGGER_INTERVAL : STREAM_TRIGGER_AVAILABLE_NOW;
		v = SPI_getvalue(tup, desc, 4);
		def->interval_ms = v ? strtoll(v, NULL, 10) : 0;
		v = SPI_getvalue(tup, desc, 5);
		def->max_offsets = v ? strtoll(v, NULL, 10) : 0;
		v = SPI_getvalue(tup, desc, 6);
		for (i = 0; i < lengthof(on_error_names); i++)
			if (strcmp(v, on_error_names[i]) == 0)
				def->on_error = (StreamOnError) i;
		v = SPI_getvalue(tup, desc, 7);
		def->fail_on_data_loss = v[0] == 't';
		def->transform = SPI_getvalue(tup, desc, 8);
		def->timezone = SPI_getvalue(tup, desc, 9);
		def->datestyle = SPI_getvalue(tup, desc, 10);
		def->state = SPI_getvalue(tup, desc, 11);
		def->batch_id = strtoll(SPI_getvalue(tup, desc, 12), NULL, 10);
		def->search_path = SPI_getvalue(tup, desc, 13);
		v = SPI_getvalue(tup, desc, 14);
		def->mode = strcmp(v, "upsert") == 0 ? STREAM_MODE_UPSERT :
			strcmp(v, "cdc") == 0 ? STREAM_MODE_CDC : STREAM_MODE_APPEND;
		def->keys = text_array_column(tup, desc, 15);
		def->sequence_by = SPI_getvalue(tup, desc, 16);
		def->apply_as_deletes = SPI_getvalue(tup, desc, 17);
		def->apply_as_truncates = SPI_getvalue(tup, desc, 18);
		def->ignore_null_updates = SPI_getvalue(tup, desc, 19)[0] == 't';
		def->except_columns = text_array_column(tup, desc, 20);
		def->scd_type = atoi(SPI_getvalue(tup, desc, 21));
		def->track_history_columns = text_array_column(tup, desc, 22);
		def->tombstone_retention_ms = strtoll(SPI_getvalue(tup, desc, 23), NULL, 10);
		def->add_columns = strcmp(SPI_getvalue(tup, desc, 24), "add_columns") == 0;
		{
			bool		isnull;
			Datum		at = SPI_getbinval(tup, desc, 25, &isnull);

			def->altered_at = isnull ? 0 : DatumGetTimestampTz(at);
		}
		def->dead_letter_topic = SPI_getvalue(tup, desc, 26);
		def->transactional_id = SPI_getvalue(tup, desc, 27);
		def->group_id = SPI_getvalue(tup, desc, 28);
		def->source_header = SPI_getvalue(tup, desc, 29)[0] == 't';
		def->created_us = strtoll(SPI_getvalue(tup, desc, 30), NULL, 10);
		def->commit_offsets_to_group = SPI_getvalue(tup, desc, 31)[0] == 't';
		def->target_name = get_rel_name(target) ?
			quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)),
									   get_rel_name(target)) :
			psprintf("%u", target);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (def == NULL && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("\"%s\" is not a streaming table",
						get_rel_name(target) ? get_rel_name(target) : psprintf("%u", target)),
				 errhint("Create one with kafka.create_streaming_table().")));
	return def;
}

static List *
copy_string_list(List *list)
{
	List	   *copy = NIL;
	ListCell   *lc;

	foreach(lc, list)
		copy = lappend(copy, pstrdup(lfirst(lc)));
	return copy;
}

StreamDef *
stream_def_copy(StreamDef *def)
{
	StreamDef  *copy = palloc(sizeof(StreamDef));

	*copy = *def;
	copy->target_name = pstrdup(def->target_name);
	copy->transform = def->transform ? pstrdup(def->transform) : NULL;
	copy->timezone = pstrdup(def->timezone);
	copy->datestyle = pstrdup(def->datestyle);
	copy->search_path = def->search_path ? pstrdup(def->search_path) : NULL;
	copy->state = pstrdup(def->state);
	copy->keys = copy_string_list(def->keys);
	copy->sequence_by = def->sequence_by ? pstrdup(def->sequence_by) : NULL;
	copy->apply_as_deletes = def->apply_as_deletes ? pstrdup(def->apply_as_deletes) : NULL;
	copy->apply_as_truncates = def->apply_as_truncates ? pstrdup(def->apply_as_truncates) : NULL;
	copy->except_columns = copy_string_list(def->except_columns);
	copy->track_history_columns = copy_string_list(def->track_history_columns);
	copy->dead_letter_topic = def->dead_letter_topic ? pstrdup(def->dead_letter_topic) : NULL;
	copy->transactional_id = def->transactional_id ? pstrdup(def->transactional_id) : NULL;
	copy->group_id = def->group_id ? pstrdup(def->group_id) : NULL;
	return copy;
}

/* The caller must be able to act as the stream's owner. */
void
stream_check_owner(StreamDef *def)
{
	if (!has_privs_of_role(GetUserId(), def->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of streaming table %s", def->target_name)));
}

/* Is relid a foreign table of kafka_fdw (its relkind checked by the caller)? */
static bool
is_kafka_foreign_table(Oid relid)
{
	ForeignTable *ft = GetForeignTable(relid);

	return strcmp(GetForeignDataWrapper(GetForeignServer(ft->serverid)->fdwid)->fdwname,
				  "kafka_fdw") == 0;
}

/* A target must be a permanent heap table (a crash would empty an unlogged
 * one while its offsets survive), or a kafka foreign table. */
void
stream_check_target(Relation rel)
{
	const char *name = RelationGetRelationName(rel);

	/* a kafka foreign table: the stream produces (kafka_target.c) */
	if (rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
	{
		if (!is_kafka_foreign_table(RelationGetRelid(rel)))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a kafka_fdw foreign table", name),
					 errhint("A streaming table is a table, or a kafka foreign table to produce to.")));
		return;
	}
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", name)));
	if (rel->rd_rel->relpersistence != RELPERSISTENCE_PERMANENT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("streaming table \"%s\" must be a logged table", name),
				 errdetail("After a crash an unlogged or temporary table is emptied while the stream's offsets survive, so records would be lost."),
				 errhint("ALTER TABLE %s SET LOGGED.", quote_identifier(name))));
}

/* Record a permanent failure: the stream stops until resumed. */
void
stream_mark_failed(Oid target, const char *error)
{
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2] = {ObjectIdGetDatum(target), CStringGetTextDatum(error)};

	SPI_connect();
	stream_catalog_exec("UPDATE kafka.streaming_tables SET state = 'failed', last_error = $2 "
						"WHERE target = $1", 2, types, values, NULL, false);
	SPI_finish();
}

static StreamTrigger
parse_trigger(const char *text, Interval **interval)
{
	Interval   *iv;
	Interval	zero = {0};

	*interval = NULL;
	if (pg_strcasecmp(text, "continuous") == 0)
		return STREAM_TRIGGER_CONTINUOUS;
	if (pg_strcasecmp(text, "available_now") == 0 || pg_strcasecmp(text, "availableNow") == 0 ||
		pg_strcasecmp(text, "once") == 0)
		return STREAM_TRIGGER_AVAILABLE_NOW;
	PG_TRY();
	{
		iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(text),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		FlushErrorState();
		iv = NULL;
	}
	PG_END_TRY();
	if (iv == NULL || DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(iv),
														IntervalPGetDatum(&zero))) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for trigger: \"%s\"", text),
				 errhint("Use 'continuous', 'available_now' or a positive interval such as '30 seconds'.")));
	*interval = iv;
	return STREAM_TRIGGER_INTERVAL;
}

static StreamOnError
parse_on_error(const char *text, KafkaTable *source)
{
	int			i;

	if (text == NULL)
	{
		switch (source->on_error)
		{
			case KAFKA_ON_ERROR_FAIL:
				return STREAM_ON_ERROR_FAIL;
			case KAFKA_ON_ERROR_SKIP:
				return STREAM_ON_ERROR_SKIP;
			case KAFKA_ON_ERROR_NULL:
				return STREAM_ON_ERROR_NULL;
		}
	}
	for (i = 0; i < lengthof(on_error_names); i++)
		if (pg_strcasecmp(text, on_error_names[i]) == 0)
			return (StreamOnError) i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for on_error: \"%s\"", text),
			 errhint("Use 'fail', 'dead_letter', 'skip' or 'null'.")));
	return STREAM_ON_ERROR_FAIL;
}

/*
 * What a query, or any query inside it (WITH, subqueries, sublinks), would
 * change: "data" (INSERT, UPDATE, DELETE, MERGE, SELECT INTO), "locks" (FOR
 * UPDATE/SHARE) or NULL.  Data-modifying WITH is only allowed at the top
 * level, but the walk does not depend on that.
 */
static bool
query_writes_walker(Node *node, const char **writes)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;

		if (query->commandType != CMD_SELECT || query->utilityStmt != NULL ||
			query->hasModifyingCTE)
		{
			*writes = "data";
			return true;
		}
		if (query->rowMarks != NIL)
		{
			*writes = "locks";
			return true;
		}
		return query_tree_walker(query, query_writes_walker, writes, 0);
	}
	return expression_tree_walker(node, query_writes_walker, writes);
}

/*
 * Check a transform: one SELECT over the relation "batch" (the source's
 * columns), stateless, writing nothing.  Returns its result columns.
 */
static TupleDesc
check_transform(const char *sql, Oid source)
{
	List	   *raw = pg_parse_query(sql);
	QueryEnvironment *env = create_queryEnv();
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));
	Query	   *query;
	const char *refused = NULL;
	const char *writes = NULL;
	List	   *tlist;
	ListCell   *lc;
	TupleDesc	desc;
	int			n = 0;

	if (list_length(raw) != 1 || !IsA(((RawStmt *) linitial(raw))->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("transform must be a single SELECT statement"),
				 errhint("For example: SELECT b.*, c.segment FROM batch b LEFT JOIN customers c USING (customer)")));
	enr->md.name = "batch";
	enr->md.reliddesc = source;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	register_ENR(env, enr);
	query = parse_analyze_fixedparams(linitial(raw), sql, NULL, 0, env);

	if (query_writes_walker((Node *) query, &writes) && strcmp(writes, "data") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("transform of a streaming table must not modify data"),
				 errdetail("The transform contains INSERT, UPDATE, DELETE, MERGE or SELECT INTO; it runs once per batch and again record by record when a record fails, so its writes would repeat."),
				 errhint("Write to other tables from a trigger on the streaming table.")));
	if (query->hasAggs || query->groupClause || query->groupingSets || query->havingQual)
		refused = "aggregates";
	else if (query->distinctClause)
		refused = "DISTINCT";
	else if (query->hasWindowFuncs)
		refused = "window functions";
	else if (query->limitCount || query->limitOffset)
		refused = "LIMIT and OFFSET";
	else if (query->hasTargetSRFs)
		refused = "set-returning functions in the select list";
	else if (query->setOperations)
	{
		SetOperationStmt *op = (SetOperationStmt *) query->setOperations;

		if (!op->all)
			refused = "UNION, INTERSECT and EXCEPT without ALL";
	}
	else if (writes != NULL)
		refused = "FOR UPDATE/SHARE";
	if (refused)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("transform of a streaming table cannot use %s", refused),
				 errdetail("A transform sees one micro-batch at a time, so only stateless queries give the same result however the stream is split into batches."),
				 errhint("Join or filter the relation \"batch\"; aggregate later over the streaming table.")));

	tlist = query->targetList;
	foreach(lc, tlist)
		if (!((TargetEntry *) lfirst(lc))->resjunk)
			n++;
	desc = CreateTemplateTupleDesc(n);
	n = 0;
	foreach(lc, tlist)
	{
		TargetEntry *te = lfirst(lc);

		if (te->resjunk)
			continue;
		n++;
		TupleDescInitEntry(desc, n, te->resname ? te->resname : "?column?",
						   exprType((Node *) te->expr), exprTypmod((Node *) te->expr), 0);
	}
	return desc;
}

/* CREATE TABLE target from a column list (the source's or the transform's). */
static void
create_target(RangeVar *rv, TupleDesc desc, StreamDef *keyed)
{
	StringInfoData sql;
	int			i;
	bool		first = true;
	char	   *sequence = NULL;
	Form_pg_attribute sequence_att = NULL;
	ListCell   *lc;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (",
					 rv->schemaname ? quote_qualified_identifier(rv->schemaname, rv->relname) :
					 quote_identifier(rv->relname));
	if (keyed->mode != STREAM_MODE_APPEND && keyed->scd_type == 2)
		sequence = stream_keyed_sequence(keyed);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		excepted = false;

		if (att->attisdropped)
			continue;
		if (sequence && strcmp(NameStr(att->attname), sequence) == 0)
			sequence_att = att;
		foreach(lc, keyed->except_columns)
			excepted |= strcmp(NameStr(att->attname), (char *) lfirst(lc)) == 0;
		if (excepted)
			continue;
		appendStringInfo(&sql, "%s%s %s", first ? "" : ", ",
						 quote_identifier(NameStr(att->attname)),
						 format_type_with_typemod(att->atttypid, att->atttypmod));
		first = false;
	}

	/*
	 * A keyed stream's table gets what stream_keyed_validate asks for: the
	 * primary key on the keys (SCD 2: keys and __start_at, with __start_at
	 * and __end_at typed like the sequence).
	 */
	if (keyed->mode != STREAM_MODE_APPEND)
	{
		const char *sep = "";

		if (sequence_att)
		{
			const char *type = format_type_with_typemod(sequence_att->atttypid,
														sequence_att->atttypmod);

			appendStringInfo(&sql, ", __start_at %s NOT NULL, __end_at %s", type, type);
		}
		appendStringInfoString(&sql, ", PRIMARY KEY (");
		foreach(lc, keyed->keys)
		{
			appendStringInfo(&sql, "%s%s", sep, quote_identifier((char *) lfirst(lc)));
			sep = ", ";
		}
		if (sequence_att)
			appendStringInfoString(&sql, ", __start_at");
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfoChar(&sql, ')');
	SPI_connect();
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create streaming table");
	SPI_finish();
	CommandCounterIncrement();
}

/* Does any target column take a value from the input? */
static void
check_columns_overlap(Relation rel, TupleDesc input, const char *input_name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i,
				j;

	for (i = 0; i < desc->natts; i++)
		for (j = 0; j < input->natts; j++)
			if (!TupleDescAttr(desc, i)->attisdropped && !TupleDescAttr(input, j)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(desc, i)->attname),
					   NameStr(TupleDescAttr(input, j)->attname)) == 0)
				return;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("no column of streaming table \"%s\" has the name of a column of %s",
					RelationGetRelationName(rel), input_name),
			 errhint("Columns map by name.")));
}

/*
 * A starting offset beyond a partition's high watermark would wait for
 * records that may never come and skip the ones that do: refuse it, with
 * every partition's watermarks to choose from.
 */
static void
check_offsets_within_topic(List *ranges)
{
	KafkaPartitionRange *beyond = NULL;
	StringInfoData detail;
	ListCell   *lc;

	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		if (r->start_offset > r->high_watermark)
		{
			beyond = r;
			break;
		}
	}
	if (beyond == NULL)
		return;
	initStringInfo(&detail);
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		appendStringInfo(&detail, "%s%s[%d]: low " INT64_FORMAT ", high " INT64_FORMAT,
						 detail.len > 0 ? "; " : "Watermarks ", r->topic, r->partition,
						 r->low_watermark, r->high_watermark);
	}
	appendStringInfoChar(&detail, '.');
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("starting offset " INT64_FORMAT " of %s[%d] is beyond the partition's high watermark " INT64_FORMAT,
					beyond->start_offset, beyond->topic, beyond->partition,
					beyond->high_watermark),
			 errdetail_internal("%s", detail.data),
			 errhint("The next record written to a partition gets its high watermark as offset: give an offset up to it, or 'latest'.")));
}

/*
 * Partitions of a source's topic with starting offsets resolved now
 * (earliest / latest / Spark JSON).  Connects as userid.
 */
static List *
resolve_starting_offsets(KafkaTable *source, Oid userid, const char *spec_text,
						 bool fail_on_data_loss, bool named_only)
{
	KafkaConnectionSpec *spec = kafka_connection_for_server(source->server, userid);
	KafkaClient *client = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	List	   *ranges = kafka_source_partitions(client, KAFKA_SOURCE_SUBSCRIBE,
												 source->topic, "topic");
	List	   *result = NIL;
	KafkaOffsetSpec parsed;
	char		err[256];
	ListCell   *lc;

	if (!kafka_parse_offset_spec(spec_text, true, false, &parsed, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for starting_offsets: %s", err),
				 errhint("Use 'earliest', 'latest' or {\"topic\":{\"0\":42}} (-2 earliest, -1 latest).")));
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);

		if (parsed.kind == KAFKA_SPEC_LATEST)
			r->start_offset = KAFKA_OFFSET_LATEST;
		else if (parsed.kind == KAFKA_SPEC_EARLIEST)
			r->start_offset = KAFKA_OFFSET_EARLIEST;
		else
		{
			const KafkaOffsetSpecEntry *e = kafka_offset_spec_find(&parsed, r->topic, r->partition);

			if (e == NULL && named_only)
				continue;
			r->start_offset = e ? e->value : KAFKA_OFFSET_EARLIEST;
		}
		result = lappend(result, r);
	}
	kafka_offset_spec_free(&parsed);
	kafka_resolve_ranges(client, result, fail_on_data_loss);
	kafka_client_close(client);
	check_offsets_within_topic(result);
	return result;
}

static void
upsert_offsets(Oid target, List *ranges)
{
	ListCell   *lc;

	SPI_connect();
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);
		Oid			types[5] = {OIDOID, TEXTOID, INT4OID, INT8OID, INT8OID};
		Datum		values[5] = {ObjectIdGetDatum(target), CStringGetTextDatum(r->topic),
			Int32GetDatum(r->partition), Int64GetDatum(r->start_offset),
		Int64GetDatum(r->high_watermark)};

		stream_catalog_exec("INSERT INTO kafka.stream_offsets AS o "
							"(stream, topic, \"partition\", next_offset, high_watermark) "
							"VALUES ($1, $2, $3, $4, $5) "
							"ON CONFLICT (stream, topic, \"partition\") DO UPDATE "
							"SET next_offset = excluded.next_offset, high_watermark = excluded.high_watermark",
							5, types, values, NULL, false);
	}
	SPI_finish();
}

/* A text[] argument as a List (NIL for NULL or not given). */
static List *
text_array_argument(FunctionCallInfo fcinfo, int arg)
{
	if (arg >= PG_NARGS())
		return NIL;
	return text_array_list(PG_GETARG_DATUM(arg), PG_ARGISNULL(arg));
}

/* A keyed-stream argument given where it cannot be used. */
static void
refuse_argument(const char *argument, const char *why, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s cannot be used %s", argument, why),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * The keyed-stream arguments of kafka.create_streaming_table (8..17) into
 * def, refusing combinations that cannot work; what depends on the target
 * and the input is checked by stream_keyed_validate once both exist.
 */
static void check_keyed_definition(StreamDef *def, StreamOnError on_error);
static void check_evolution_owner(Oid source, Oid owner);
static void check_retention(Interval *retention);

static void
parse_keyed_arguments(FunctionCallInfo fcinfo, StreamDef *def, StreamOnError on_error)
{
#define GIVEN(a) ((a) < PG_NARGS() && !PG_ARGISNULL(a))
	char	   *mode = GIVEN(8) ? text_to_cstring(PG_GETARG_TEXT_PP(8)) : "append";

	if (strcmp(mode, "append") == 0)
		def->mode = STREAM_MODE_APPEND;
	else if (strcmp(mode, "upsert") == 0)
		def->mode = STREAM_MODE_UPSERT;
	else if (strcmp(mode, "cdc") == 0)
		def->mode = STREAM_MODE_CDC;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for mode: \"%s\"", mode),
				 errhint("Use 'append', 'upsert' or 'cdc'.")));
	def->keys = text_array_argument(fcinfo, 9);
	def->sequence_by = GIVEN(10) ? text_to_cstring(PG_GETARG_TEXT_PP(10)) : NULL;
	def->apply_as_deletes = GIVEN(11) ? text_to_cstring(PG_GETARG_TEXT_PP(11)) : NULL;
	def->apply_as_truncates = GIVEN(12) ? text_to_cstring(PG_GETARG_TEXT_PP(12)) : NULL;
	def->ignore_null_updates = GIVEN(13) && PG_GETARG_BOOL(13);
	def->except_columns = text_array_argument(fcinfo, 14);
	def->scd_type = GIVEN(15) ? PG_GETARG_INT32(15) : 1;
	def->track_history_columns = text_array_argument(fcinfo, 16);
	check_keyed_definition(def, on_error);
	/* it has a default: given with mode 'append' it is simply unused */
	if (GIVEN(17))
		check_retention(PG_GETARG_INTERVAL_P(17));
#undef GIVEN
}

/*
 * The options of a stream being created or altered that cannot work
 * together (keyed options without a keyed mode, cdc-only options, SCD type
 * 2 combinations, on_error 'null' with keys).
 */
static void
check_keyed_definition(StreamDef *def, StreamOnError on_error)
{
	bool		keyed = def->mode != STREAM_MODE_APPEND;

	if (def->scd_type != 1 && def->scd_type != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for stored_as_scd_type: %d", def->scd_type),
				 errhint("Use 1 (the latest row per key) or 2 (every version, in __start_at and __end_at).")));
	if (!keyed)
	{
		const char *hint = "Give mode => 'upsert' or mode => 'cdc'.";

		if (def->keys)
			refuse_argument("keys", "with mode 'append'", hint);
		if (def->sequence_by)
			refuse_argument("sequence_by", "with mode 'append'", hint);
		if (def->apply_as_deletes)
			refuse_argument("apply_as_deletes", "with mode 'append'", hint);
		if (def->apply_as_truncates)
			refuse_argument("apply_as_truncates", "with mode 'append'", hint);
		if (def->ignore_null_updates)
			refuse_argument("ignore_null_updates", "with mode 'append'", hint);
		if (def->except_columns)
			refuse_argument("except_columns", "with mode 'append'", hint);
		if (def->scd_type != 1)
			refuse_argument("stored_as_scd_type", "with mode 'append'", hint);
		if (def->track_history_columns)
			refuse_argument("track_history_columns", "with mode 'append'", hint);
	}
	if (def->mode != STREAM_MODE_CDC && def->apply_as_deletes)
		refuse_argument("apply_as_deletes", "without mode 'cdc'",
						"In mode 'upsert' a Kafka tombstone (a record without a value) deletes its key.");
	if (def->mode != STREAM_MODE_CDC && def->apply_as_truncates)
		refuse_argument("apply_as_truncates", "without mode 'cdc'", NULL);
	if (def->scd_type == 2 && def->apply_as_truncates)
		refuse_argument("apply_as_truncates", "with stored_as_scd_type 2",
						"A history is not truncated; use stored_as_scd_type 1.");
	if (def->scd_type != 2 && def->track_history_columns)
		refuse_argument("track_history_columns", "without stored_as_scd_type 2", NULL);
	if (keyed && on_error == STREAM_ON_ERROR_NULL)
		refuse_argument("on_error 'null'", "with a keyed mode",
						"A record that does not decode has no key: use 'dead_letter', 'skip' or 'fail'.");
}

static void
check_retention(Interval *retention)
{
	if (retention->month < 0 || retention->day < 0 || retention->time < 0 ||
		(retention->month == 0 && retention->day == 0 && retention->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for tombstone_retention: it must be positive")));
}

static bool
parse_schema_evolution(const char *text)
{
	if (strcmp(text, "none") == 0)
		return false;
	if (strcmp(text, "add_columns") == 0)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for schema_evolution: \"%s\"", text),
			 errhint("Use 'none' or 'add_columns'.")));
	return false;
}

/* An argument in its text form (NULL for NULL, or missing: an older catalog). */
static char *
argument_text(FunctionCallInfo fcinfo, int arg)
{
	Oid			output;
	bool		varlena;

	if (arg >= PG_NARGS() || PG_ARGISNULL(arg))
		return NULL;
	getTypeOutputInfo(get_fn_expr_argtype(fcinfo->flinfo, arg), &output, &varlena);
	return OidOutputFunctionCall(output, PG_GETARG_DATUM(arg));
}

/*
 * Argument snake of a function that also takes Spark's name for it as
 * argument camel (kafka.create_streaming_table, alter_streaming_table):
 * which one to read.  snake_default: the text of snake's SQL default, or
 * NULL (a snake argument equal to it was not given).  Both given with
 * different values is an error.
 */
static int
spark_alias(FunctionCallInfo fcinfo, int snake, int camel, const char *snake_name,
			const char *camel_name, const char *snake_default)
{
	char	   *snake_text;
	char	   *camel_text;

	if (camel >= PG_NARGS() || PG_ARGISNULL(camel))
		return snake;
	snake_text = argument_text(fcinfo, snake);
	camel_text = argument_text(fcinfo, camel);
	if (snake_text != NULL && strcmp(snake_text, camel_text) != 0 &&
		(snake_default == NULL || strcmp(snake_text, snake_default) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s and %s are the same option, given different values",
						snake_name, camel_name),
				 errhint("Give one of them.")));
	return camel;
}

/* Types must match by name: a table's as the sink writes, a kafka foreign table's as its encoder reads. */
static void
check_target_columns(Relation rel, TupleDesc input, const char *input_name)
{
	if (rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
		pfree(stream_kafka_target_map(rel, input, input_name));
	else
		pfree(stream_sink_map_columns(rel, input, input_name));
}

/* Schema evolution adds columns to a table, not to a topic's records. */
static void
refuse_evolution_into_kafka(const char *stream)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("schema_evolution 'add_columns' is not supported for streaming table %s into a kafka foreign table",
					stream)));
}

/* A transactional.id or group.id: printable ASCII, at most 249 bytes. */
static void
check_kafka_name(const char *name, const char *what)
{
	const char *c;

	for (c = name; *c; c++)
		if (*c < 0x21 || *c > 0x7e)
			break;
	if (*name == '\0' || *c != '\0' || c - name > 249)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for %s", what),
				 errhint("Give 1 to 249 printable ASCII characters without spaces.")));
}

/*
 * The consumer group a new stream commits its offsets to, unless given:
 * kafka_fdw.<database>.<schema>.<table>, named as the target is at creation.
 */
static char *
stream_default_group_id(Relation rel)
{
	return psprintf("kafka_fdw.%s.%s.%s", get_database_name(MyDatabaseId),
					get_namespace_name(RelationGetNamespace(rel)),
					RelationGetRelationName(rel));
}

/*
 * A stream with a Kafka transaction (into a kafka foreign table, or with a
 * dead-letter topic) commits its offsets to its consumer group in that
 * transaction, and reads them back after a crash: it cannot do without.
 */
static void pg_attribute_noreturn()
refuse_no_group_commit(const char *stream, bool kafka_target)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("streaming table %s %s cannot have commit_offsets_to_group false", stream,
					kafka_target ? "into a kafka foreign table" : "with a dead_letter_topic"),
			 errdetail("Its Kafka transaction commits the input offsets to its consumer group, which it reads back after a crash to produce nothing twice.")));
}

/*
 * The options of streams that produce: a dead-letter topic (whose records
 * need on_error 'dead_letter', the default with one) and the names of the
 * Kafka transaction.
 */
static void
check_produce_options(const char *dead_letter_topic, const char *transactional_id,
					  const char *group_id, char **on_error_text)
{
	if (dead_letter_topic)
	{
		kafka_check_topic_name(dead_letter_topic, "dead_letter_topic");
		if (*on_error_text == NULL)
			*on_error_text = "dead_letter";
		else if (strcmp(*on_error_text, "dead_letter") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("dead_letter_topic needs on_error 'dead_letter', not '%s'", *on_error_text),
					 errhint("Leave on_error out, or give 'dead_letter'.")));
	}
	if (transactional_id)
		check_kafka_name(transactional_id, "transactional_id");
	if (group_id)
		check_kafka_name(group_id, "group_id");
}

Datum
kafka_create_streaming_table(PG_FUNCTION_ARGS)
{
	char	   *target_text;
	Oid			source;
	int			starting_arg = spark_alias(fcinfo, 2, 19, "starting_offsets", "startingOffsets",
										   "earliest");
	int			max_arg = spark_alias(fcinfo, 4, 20, "max_offsets_per_trigger",
									  "maxOffsetsPerTrigger", NULL);
	int			loss_arg = spark_alias(fcinfo, 6, 21, "fail_on_data_loss", "failOnDataLoss", "t");
	char	   *starting = PG_ARGISNULL(starting_arg) ? "earliest" :
		text_to_cstring(PG_GETARG_TEXT_PP(starting_arg));
	char	   *trigger_text = PG_ARGISNULL(3) ? "continuous" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *on_error_text = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	bool		fail_on_data_loss = PG_ARGISNULL(loss_arg) ? true : PG_GETARG_BOOL(loss_arg);
	char	   *transform = PG_ARGISNULL(7) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(7));
	bool		add_columns = PG_NARGS() > 18 && !PG_ARGISNULL(18) &&
		parse_schema_evolution(text_to_cstring(PG_GETARG_TEXT_PP(18)));
	char	   *dead_letter_topic = argument_text(fcinfo, 22);
	char	   *transactional_id = argument_text(fcinfo, 23);
	char	   *group_id = argument_text(fcinfo, 24);
	bool		source_header = PG_NARGS() <= 25 || PG_ARGISNULL(25) || PG_GETARG_BOOL(25);
	bool		commit_given = PG_NARGS() > 26 && !PG_ARGISNULL(26);
	bool		commit_offsets_to_group = !commit_given || PG_GETARG_BOOL(26);
	bool		mirror_catalog = catalog_has_column("commit_offsets_to_group");
	Interval   *interval;
	StreamTrigger trigger;
	StreamOnError on_error;
	KafkaTable *table;
	TupleDesc	input;
	const char *input_name;
	RangeVar   *rv;
	Oid			target;
	Relation	rel;
	List	   *ranges;
	AclResult	aclresult;
	static const char *const trigger_names[] = {"continuous", "interval", "available_now"};
	StreamDef	keyed;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target and source must not be null")));
	target_text = text_to_cstring(PG_GETARG_TEXT_PP(0));
	source = PG_GETARG_OID(1);
	if (!PG_ARGISNULL(max_arg) && PG_GETARG_INT64(max_arg) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for max_offsets_per_trigger: " INT64_FORMAT,
						PG_GETARG_INT64(max_arg)),
				 errhint("Give a positive number of records per batch.")));

	/* the source: a kafka foreign table the caller may read */
	if (get_rel_relkind(source) != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source \"%s\" is not a foreign table", get_rel_name(source)),
				 errhint("Give a kafka_fdw foreign table over the topic.")));
	if (!is_kafka_foreign_table(source))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source \"%s\" is not a kafka_fdw foreign table", get_rel_name(source))));
	aclresult = pg_class_aclcheck(source, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_TABLE, get_rel_name(source));
	table = kafka_table_open(source, CurrentMemoryContext);

	trigger = parse_trigger(trigger_text, &interval);
	check_produce_options(dead_letter_topic, transactional_id, group_id, &on_error_text);
	on_error = parse_on_error(on_error_text, table);
	if (add_columns)
		check_evolution_owner(source, GetUserId());
	memset(&keyed, 0, sizeof(keyed));
	keyed.source = source;
	keyed.target_name = target_text;
	parse_keyed_arguments(fcinfo, &keyed, on_error);
	if (transform)
	{
		input = check_transform(transform, source);
		input_name = "the transform";
	}
	else
	{
		input = table->desc;
		input_name = psprintf("foreign table \"%s\"", table->relname);
	}

	/* the target: an existing table we own, or a new one */
	rv = makeRangeVarFromNameList(stringToQualifiedNameList(target_text));
	target = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(target))
	{
		if (keyed.mode == STREAM_MODE_CDC && keyed.keys == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("streaming table %s in mode 'cdc' needs keys", target_text),
					 errhint("Give keys => ARRAY['column'], or create the table with a primary key first.")));
		if (keyed.mode != STREAM_MODE_APPEND)
			keyed.keys = stream_keyed_keys(&keyed, NULL);
		create_target(rv, input, &keyed);
		target = RangeVarGetRelid(rv, NoLock, false);
	}
	rel = table_open(target, ShareRowExclusiveLock);
	stream_check_target(rel);
	if (!pg_class_ownercheck(target, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
	if (rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
	{
		if (keyed.mode != STREAM_MODE_APPEND)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("streaming table %s into a kafka foreign table must be in mode 'append'",
							target_text),
					 errdetail("A topic is append-only: records are produced, not updated."),
					 errhint("Produce the changes as they are, keyed by the table's key column, and let consumers compact them.")));
		if (add_columns)
			refuse_evolution_into_kafka(target_text);
	}
	else if (transactional_id && dead_letter_topic == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("transactional_id applies only to streams that produce to Kafka"),
				 errhint("Give a kafka foreign table as the target, or a dead_letter_topic.")));
	if (!commit_offsets_to_group &&
		(rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE || dead_letter_topic))
		refuse_no_group_commit(target_text, rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE);
	if ((commit_given || (group_id && rel->rd_rel->relkind != RELKIND_FOREIGN_TABLE &&
						  dead_letter_topic == NULL)) && !mirror_catalog)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("commit_offsets_to_group, and group_id for a stream into a table, need the 0.6 catalog of kafka_fdw"),
				 errhint("ALTER EXTENSION kafka_fdw UPDATE.")));
	/* the consumer group, named after the stream as created */
	if (group_id == NULL && mirror_catalog)
		group_id = stream_default_group_id(rel);
	if ((dead_letter_topic || transactional_id || group_id || !source_header) &&
		!catalog_has_column("dead_letter_topic"))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dead_letter_topic, transactional_id, group_id and source_header need the 0.5 catalog of kafka_fdw"),
				 errhint("ALTER EXTENSION kafka_fdw UPDATE.")));

	check_columns_overlap(rel, input, input_name);
	/* keys and sequence are stored resolved (defaults: see keyed.c) */
	if (keyed.mode != STREAM_MODE_APPEND)
	{
		keyed.keys = stream_keyed_keys(&keyed, rel);
		keyed.sequence_by = stream_keyed_sequence(&keyed);
	}
	if (stream_def_load(target, true) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("\"%s\" is already a streaming table", RelationGetRelationName(rel)),
				 errhint("Drop it first with kafka.drop_streaming_table().")));
	/* types must match by name now, not at the first batch */
	check_target_columns(rel, input, input_name);
	if (rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
	{
		/* the producer's server: USAGE and a user mapping, now */
		(void) kafka_connection_for_server(GetForeignServer(GetForeignTable(target)->serverid),
										   GetUserId());
	}

	/* 'latest' is resolved now, so nothing produced from here on is missed */
	ranges = resolve_starting_offsets(table, GetUserId(), starting, fail_on_data_loss, false);

	{
		Oid			types[28] = {OIDOID, OIDOID, OIDOID, TEXTOID, INTERVALOID, INT8OID,
			TEXTOID, BOOLOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
			TEXTOID, TEXTARRAYOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, TEXTARRAYOID,
		INT4OID, TEXTARRAYOID, INTERVALOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, BOOLOID};
		Datum		values[28];
		char		nulls[28];
		bool		produce_catalog = catalog_has_column("dead_letter_topic");
		bool		pin_search_path = catalog_has_column("search_path");
		bool		keyed_catalog = catalog_has_column("mode");
		bool		evolution_catalog = catalog_has_column("schema_evolution");
		int			a;

		memset(nulls, ' ', sizeof(nulls));
		values[0] = ObjectIdGetDatum(target);
		values[1] = ObjectIdGetDatum(source);
		values[2] = ObjectIdGetDatum(GetUserId());
		values[3] = CStringGetTextDatum(trigger_names[trigger]);
		values[4] = interval ? IntervalPGetDatum(interval) : (Datum) 0;
		nulls[4] = interval ? ' ' : 'n';
		values[5] = PG_ARGISNULL(max_arg) ? (Datum) 0 : PG_GETARG_DATUM(max_arg);
		nulls[5] = PG_ARGISNULL(max_arg) ? 'n' : ' ';
		values[6] = CStringGetTextDatum(on_error_names[on_error]);
		values[7] = BoolGetDatum(fail_on_data_loss);
		values[8] = transform ? CStringGetTextDatum(transform) : (Datum) 0;
		nulls[8] = transform ? ' ' : 'n';
		values[9] = CStringGetTextDatum(GetConfigOption("TimeZone", false, false));
		values[10] = CStringGetTextDatum(GetConfigOption("DateStyle", false, false));
		/* the transform and defaults resolve names as they did here */
		values[11] = CStringGetTextDatum(GetConfigOption("search_path", false, false));
		/* the keyed-stream arguments (8..17) as given; NULL: the column default */
		for (a = 8; a <= 17; a++)
		{
			bool		given = keyed_catalog && a < PG_NARGS() && !PG_ARGISNULL(a);

			values[a + 4] = given ? PG_GETARG_DATUM(a) : (Datum) 0;
			nulls[a + 4] = given ? ' ' : 'n';
		}
		if (keyed_catalog && keyed.mode != STREAM_MODE_APPEND)
		{
			values[13] = stream_keyed_text_array(keyed.keys);
			nulls[13] = ' ';
			values[14] = keyed.sequence_by ? CStringGetTextDatum(keyed.sequence_by) : (Datum) 0;
			nulls[14] = keyed.sequence_by ? ' ' : 'n';
		}
		values[22] = CStringGetTextDatum(add_columns ? "add_columns" : "none");
		values[23] = dead_letter_topic ? CStringGetTextDatum(dead_letter_topic) : (Datum) 0;
		nulls[23] = dead_letter_topic ? ' ' : 'n';
		values[24] = transactional_id ? CStringGetTextDatum(transactional_id) : (Datum) 0;
		nulls[24] = transactional_id ? ' ' : 'n';
		values[25] = group_id ? CStringGetTextDatum(group_id) : (Datum) 0;
		nulls[25] = group_id ? ' ' : 'n';
		values[26] = BoolGetDatum(source_header);
		values[27] = BoolGetDatum(commit_offsets_to_group);
		if (add_columns && !evolution_catalog)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("schema_evolution needs the 0.4 catalog of kafka_fdw"),
					 errhint("ALTER EXTENSION kafka_fdw UPDATE.")));
		SPI_connect();
		stream_catalog_exec(psprintf("INSERT INTO kafka.streaming_tables (target, source, owner, trigger, "
									 "trigger_interval, max_offsets_per_trigger, on_error, fail_on_data_loss, "
									 "transform, timezone, datestyle%s%s%s%s%s) "
									 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11%s%s%s%s%s)",
									 pin_search_path ? ", search_path" : "",
									 keyed_catalog ? ", mode, keys, sequence_by, apply_as_deletes, "
									 "apply_as_truncates, ignore_null_updates, except_columns, "
									 "stored_as_scd_type, track_history_columns, tombstone_retention" : "",
									 evolution_catalog ? ", schema_evolution" : "",
									 produce_catalog ? ", dead_letter_topic, transactional_id, group_id, "
									 "source_header" : "",
									 mirror_catalog ? ", commit_offsets_to_group" : "",
									 pin_search_path ? ", $12" : "",
									 keyed_catalog ? ", coalesce($13, 'append'), $14, $15, $16, $17, "
									 "coalesce($18, false), $19, coalesce($20, 1), $21, "
									 "coalesce($22, '7 days')" : "",
									 evolution_catalog ? ", $23" : "",
									 produce_catalog ? ", $24, $25, $26, $27" : "",
									 mirror_catalog ? ", $28" : ""),
							mirror_catalog ? 28 : produce_catalog ? 27 :
							evolution_catalog ? 23 : keyed_catalog ? 22 :
							pin_search_path ? 12 : 11,
							types, values, nulls, false);
		SPI_finish();
	}
	/* what depends on the target and the input, as each batch checks it */
	if (keyed.mode != STREAM_MODE_APPEND)
	{
		keyed.target = target;
		keyed.owner = GetUserId();
		keyed.transform = transform;
		keyed.on_error = on_error;
		keyed.target_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													  RelationGetRelationName(rel));
		stream_keyed_validate(&keyed, rel, input);
	}
	upsert_offsets(target, ranges);
	table_close(rel, NoLock);
	stream_notify_launcher_at_commit();
	if (trigger != STREAM_TRIGGER_AVAILABLE_NOW && !stream_launcher_available())
		ereport(WARNING,
				(errmsg("kafka_fdw is not in shared_preload_libraries: no worker will run streaming table \"%s\"",
						RelationGetRelationName(rel)),
				 errhint("Add kafka_fdw to shared_preload_libraries and restart, or load it with CALL kafka.refresh_streaming_table().")));
	PG_RETURN_OID(target);
}

static StreamDef *
owned_stream(Oid target)
{
	StreamDef  *def = stream_def_load(target, false);

	stream_check_owner(def);
	return def;
}

static void
set_state(Oid target, const char *state)
{
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2] = {ObjectIdGetDatum(target), CStringGetTextDatum(state)};

	SPI_connect();
	/*
	 * A failed stream resumed goes on with the target's columns as they are
	 * (a column it wrote may be gone); a paused one still compares.
	 */
	stream_catalog_exec(psprintf("UPDATE kafka.streaming_tables SET state = $2, "
								 "last_error = CASE WHEN $2 = 'active' THEN NULL ELSE last_error END%s "
								 "WHERE target = $1",
								 catalog_has_column("written_columns") ?
								 ", written_columns = CASE WHEN $2 = 'active' AND state = 'failed' "
								 "THEN NULL ELSE written_columns END" : ""),
						2, types, values, NULL, false);
	SPI_finish();
	stream_notify_launcher_at_commit();
}

Datum
kafka_pause_streaming_table(PG_FUNCTION_ARGS)
{
	owned_stream(PG_GETARG_OID(0));
	set_state(PG_GETARG_OID(0), "paused");
	PG_RETURN_VOID();
}

/*
 * Resuming a stream whose source, server or user mapping is gone would only
 * fail again in its worker: say so now.
 */
static void
check_source_usable(StreamDef *def)
{
	KafkaTable *table;

	if (get_rel_relkind(def->source) != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source foreign table of streaming table %s no longer exists",
						def->target_name),
				 errdetail("It was dropped, or its foreign server was dropped with CASCADE."),
				 errhint("Drop the stream with kafka.drop_streaming_table() and create it again over an existing kafka_fdw foreign table.")));
	if (!is_kafka_foreign_table(def->source))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source \"%s\" of streaming table %s is not a kafka_fdw foreign table",
						get_rel_name(def->source), def->target_name)));
	/* the owner's user mapping (no network: only the options are read) */
	table = kafka_table_open(def->source, CurrentMemoryContext);
	(void) kafka_connection_for_server(table->server, def->owner);
}

/* A SET item of kafka.alter_streaming_table's UPDATE. */
typedef struct AlterSet
{
	StringInfoData sql;
	Oid			types[24];
	Datum		values[24];
	char		nulls[24];
	int			n;
} AlterSet;

static void
alter_set(AlterSet *set, const char *column, Oid type, Datum value, bool isnull)
{
	set->n++;
	appendStringInfo(&set->sql, ", %s = $%d", column, set->n);
	set->types[set->n - 1] = type;
	set->values[set->n - 1] = value;
	set->nulls[set->n - 1] = isnull ? 'n' : ' ';
}

/*
 * schema_evolution 'add_columns' adds columns to the source and the target
 * as the stream's owner: it must own both (the target it owns already).
 */
static void
check_evolution_owner(Oid source, Oid owner)
{
	if (!pg_class_ownercheck(source, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema_evolution 'add_columns' needs the stream's owner to own its source foreign table \"%s\"",
						get_rel_name(source)),
				 errdetail("New fields become columns of the source and of the target.")));
}

/* The options kafka.alter_streaming_table can reset, with their defaults. */
static const char *const alterable[] = {
	"trigger", "max_offsets_per_trigger", "on_error", "fail_on_data_loss", "transform",
	"schema_evolution", "apply_as_deletes", "apply_as_truncates", "ignore_null_updates",
	"except_columns", "track_history_columns", "tombstone_retention"
};

/*
 * kafka.alter_streaming_table(target, option => value, ..., reset =>
 * ARRAY[option, ...]): the stream's options as create_streaming_table
 * takes them, checked the same way against the source, the transform and
 * the target before anything is stored.  altered_at tells the stream's
 * worker to reopen (stream_ingest_is_current): the next batch is read from
 * the committed offsets with the new options.
 */
Datum
kafka_alter_streaming_table(PG_FUNCTION_ARGS)
{
#define GIVEN(a) ((a) < PG_NARGS() && !PG_ARGISNULL(a))
	static const char *const fixed[] = {"source", "mode", "keys", "sequence_by",
	"stored_as_scd_type", "starting_offsets", "startingOffsets"};
	static const char *const trigger_names[] = {"continuous", "interval", "available_now"};
	int			max_arg = spark_alias(fcinfo, 2, 14, "max_offsets_per_trigger",
									  "maxOffsetsPerTrigger", NULL);
	int			loss_arg = spark_alias(fcinfo, 4, 15, "fail_on_data_loss", "failOnDataLoss", NULL);
	List	   *reset = text_array_argument(fcinfo, 13);
	StreamDef  *def;
	KafkaTable *table;
	Relation	rel;
	TupleDesc	input;
	const char *input_name;
	Interval   *interval = NULL;
	Interval   *retention = NULL;
	bool		trigger_set = false;
	bool		transform_set = false;
	bool		reset_dead_letter_topic = false;
	bool		reset_source_header = false;
	bool		produce_set = false;
	bool		mirror_set = false;
	bool		group_changed = false;
	AlterSet	set;
	ListCell   *lc;
	int			a;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target must not be null")));
	for (a = 16; a <= 22; a++)
		if (GIVEN(a))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s of a streaming table cannot be altered", fixed[a - 16]),
					 a >= 21 ?
					 errhint("Move its offsets with kafka.reset_offsets().") :
					 errhint("Drop the stream with kafka.drop_streaming_table() and create it again (its table and rows stay).")));
	/* the name that fences a zombie */
	if (GIVEN(25))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("transactional_id of a streaming table cannot be altered"),
				 errdetail("A producer under the old name could still commit, and the offsets committed with the output would be lost."),
				 errhint("Drop the stream with kafka.drop_streaming_table() and create it again.")));
	if (!catalog_has_column("schema_evolution"))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("kafka.alter_streaming_table needs the 0.4 catalog of kafka_fdw"),
				 errhint("ALTER EXTENSION kafka_fdw UPDATE.")));
	def = owned_stream(PG_GETARG_OID(0));
	check_source_usable(def);
	table = kafka_table_open(def->source, CurrentMemoryContext);

	/* reset => ARRAY[...]: back to the defaults of create_streaming_table */
	foreach(lc, reset)
	{
		char	   *name = lfirst(lc);
		int			i;

		if (strcmp(name, "dead_letter_topic") == 0 || strcmp(name, "source_header") == 0)
		{
			bool		topic = name[0] == 'd';

			if (GIVEN(topic ? 23 : 24))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" is both given and reset", name)));
			if (topic)
				reset_dead_letter_topic = true;
			else
				reset_source_header = true;
			continue;
		}
		if (pg_strcasecmp(name, "maxOffsetsPerTrigger") == 0)
			name = "max_offsets_per_trigger";
		else if (pg_strcasecmp(name, "failOnDataLoss") == 0)
			name = "fail_on_data_loss";
		for (i = 0; i < lengthof(alterable); i++)
			if (strcmp(name, alterable[i]) == 0)
				break;
		if (i == lengthof(alterable))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid option in reset: \"%s\"", name),
					 errhint("Options that can be reset: trigger, max_offsets_per_trigger, on_error, fail_on_data_loss, transform, schema_evolution, apply_as_deletes, apply_as_truncates, ignore_null_updates, except_columns, track_history_columns, tombstone_retention, dead_letter_topic, source_header.")));
		/* argument i + 1 is the option itself (the order of alterable[]) */
		if (GIVEN(i + 1) || (i == 1 && GIVEN(14)) || (i == 3 && GIVEN(15)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" is both given and reset", name)));
		switch (i)
		{
			case 0:
				def->trigger = STREAM_TRIGGER_CONTINUOUS;
				trigger_set = true;
				break;
			case 1:
				def->max_offsets = 0;
				break;
			case 2:
				def->on_error = parse_on_error(NULL, table);
				break;
			case 3:
				def->fail_on_data_loss = true;
				break;
			case 4:
				def->transform = NULL;
				transform_set = true;
				break;
			case 5:
				def->add_columns = false;
				break;
			case 6:
				def->apply_as_deletes = NULL;
				break;
			case 7:
				def->apply_as_truncates = NULL;
				break;
			case 8:
				def->ignore_null_updates = false;
				break;
			case 9:
				def->except_columns = NIL;
				break;
			case 10:
				def->track_history_columns = NIL;
				break;
			case 11:
				retention = DatumGetIntervalP(DirectFunctionCall3(interval_in,
																  CStringGetDatum("7 days"),
																  ObjectIdGetDatum(InvalidOid),
																  Int32GetDatum(-1)));
				break;
		}
	}

	/* the options given */
	if (GIVEN(1))
	{
		def->trigger = parse_trigger(text_to_cstring(PG_GETARG_TEXT_PP(1)), &interval);
		trigger_set = true;
	}
	if (!PG_ARGISNULL(max_arg))
	{
		if (PG_GETARG_INT64(max_arg) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for max_offsets_per_trigger: " INT64_FORMAT,
							PG_GETARG_INT64(max_arg)),
					 errhint("Give a positive number of records per batch.")));
		def->max_offsets = PG_GETARG_INT64(max_arg);
	}
	if (GIVEN(3))
		def->on_error = parse_on_error(text_to_cstring(PG_GETARG_TEXT_PP(3)), table);
	if (!PG_ARGISNULL(loss_arg))
		def->fail_on_data_loss = PG_GETARG_BOOL(loss_arg);
	if (GIVEN(5))
	{
		def->transform = text_to_cstring(PG_GETARG_TEXT_PP(5));
		transform_set = true;
	}
	if (GIVEN(6))
		def->add_columns = parse_schema_evolution(text_to_cstring(PG_GETARG_TEXT_PP(6)));
	if (GIVEN(7))
		def->apply_as_deletes = text_to_cstring(PG_GETARG_TEXT_PP(7));
	if (GIVEN(8))
		def->apply_as_truncates = text_to_cstring(PG_GETARG_TEXT_PP(8));
	if (GIVEN(9))
		def->ignore_null_updates = PG_GETARG_BOOL(9);
	if (GIVEN(10))
		def->except_columns = text_array_argument(fcinfo, 10);
	if (GIVEN(11))
		def->track_history_columns = text_array_argument(fcinfo, 11);
	if (GIVEN(12))
	{
		retention = PG_GETARG_INTERVAL_P(12);
		check_retention(retention);
	}
	if (GIVEN(23) || GIVEN(24) || reset_dead_letter_topic || reset_source_header)
	{
		if (!catalog_has_column("dead_letter_topic"))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("dead_letter_topic and source_header need the 0.5 catalog of kafka_fdw"),
					 errhint("ALTER EXTENSION kafka_fdw UPDATE.")));
		produce_set = true;
	}
	if (reset_dead_letter_topic)
		def->dead_letter_topic = NULL;
	if (reset_source_header)
		def->source_header = true;
	if (GIVEN(23))
	{
		char	   *on_error_text = (char *) on_error_names[def->on_error];

		def->dead_letter_topic = text_to_cstring(PG_GETARG_TEXT_PP(23));
		/* on_error follows unless given otherwise */
		if (!GIVEN(3))
			on_error_text = NULL;
		check_produce_options(def->dead_letter_topic, NULL, NULL, &on_error_text);
		def->on_error = parse_on_error(on_error_text, table);
	}
	if (GIVEN(24))
		def->source_header = PG_GETARG_BOOL(24);
	if (GIVEN(26) || GIVEN(27))
	{
		if (!catalog_has_column("commit_offsets_to_group"))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("group_id and commit_offsets_to_group need the 0.6 catalog of kafka_fdw"),
					 errhint("ALTER EXTENSION kafka_fdw UPDATE.")));
		mirror_set = true;
	}
	if (GIVEN(26))
	{
		char	   *group_id = text_to_cstring(PG_GETARG_TEXT_PP(26));

		check_kafka_name(group_id, "group_id");
		group_changed = def->group_id == NULL || strcmp(def->group_id, group_id) != 0;
		def->group_id = group_id;
	}
	if (GIVEN(27))
		def->commit_offsets_to_group = PG_GETARG_BOOL(27);
	/* a stream with a Kafka transaction commits its group there */
	if (stream_target_is_kafka(def->target) || def->dead_letter_topic)
	{
		bool		kafka_target = stream_target_is_kafka(def->target);

		if (group_changed)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("group_id of streaming table %s %s cannot be altered", def->target_name,
							kafka_target ? "into a kafka foreign table" : "with a dead_letter_topic"),
					 errdetail("Its Kafka transaction commits the input offsets to its consumer group, which it reads back after a crash to produce nothing twice."),
					 kafka_target ?
					 errhint("Drop the stream with kafka.drop_streaming_table() and create it again.") :
					 errhint("Reset dead_letter_topic in the same call: reset => ARRAY['dead_letter_topic'].")));
		if (!def->commit_offsets_to_group && mirror_set)
			refuse_no_group_commit(def->target_name, kafka_target);
		if (!def->commit_offsets_to_group && GIVEN(23))
			refuse_no_group_commit(def->target_name, kafka_target);
	}
	check_keyed_definition(def, def->on_error);
	if (def->add_columns)
		check_evolution_owner(def->source, def->owner);
	if (def->dead_letter_topic && def->on_error != STREAM_ON_ERROR_DEAD_LETTER)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dead_letter_topic needs on_error 'dead_letter', not '%s'",
						on_error_names[def->on_error]),
				 errhint("Reset dead_letter_topic first: reset => ARRAY['dead_letter_topic'].")));
	if (def->add_columns && stream_target_is_kafka(def->target))
		refuse_evolution_into_kafka(def->target_name);

	/* checked against the source, the transform and the target as created */
	if (def->transform)
	{
		input = check_transform(def->transform, def->source);
		input_name = "the transform";
	}
	else
	{
		input = table->desc;
		input_name = psprintf("foreign table \"%s\"", table->relname);
	}
	rel = table_open(def->target, ShareRowExclusiveLock);
	stream_check_target(rel);
	check_columns_overlap(rel, input, input_name);
	check_target_columns(rel, input, input_name);
	if (def->mode != STREAM_MODE_APPEND)
		stream_keyed_validate(def, rel, input);
	table_close(rel, NoLock);

	initStringInfo(&set.sql);
	set.n = 1;					/* $1: the target */
	set.types[0] = OIDOID;
	set.values[0] = ObjectIdGetDatum(def->target);
	set.nulls[0] = ' ';
	if (trigger_set)
	{
		alter_set(&set, "trigger", TEXTOID, CStringGetTextDatum(trigger_names[def->trigger]), false);
		alter_set(&set, "trigger_interval", INTERVALOID, PointerGetDatum(interval),
				  interval == NULL);
	}
	alter_set(&set, "max_offsets_per_trigger", INT8OID, Int64GetDatum(def->max_offsets),
			  def->max_offsets == 0);
	alter_set(&set, "on_error", TEXTOID, CStringGetTextDatum(on_error_names[def->on_error]), false);
	alter_set(&set, "fail_on_data_loss", BOOLOID, BoolGetDatum(def->fail_on_data_loss), false);
	if (transform_set)
	{
		/* the transform resolves names as in the session that set it */
		alter_set(&set, "transform", TEXTOID,
				  def->transform ? CStringGetTextDatum(def->transform) : (Datum) 0,
				  def->transform == NULL);
		alter_set(&set, "timezone", TEXTOID,
				  CStringGetTextDatum(GetConfigOption("TimeZone", false, false)), false);
		alter_set(&set, "datestyle", TEXTOID,
				  CStringGetTextDatum(GetConfigOption("DateStyle", false, false)), false);
		alter_set(&set, "search_path", TEXTOID,
				  CStringGetTextDatum(GetConfigOption("search_path", false, false)), false);
	}
	alter_set(&set, "schema_evolution", TEXTOID,
			  CStringGetTextDatum(def->add_columns ? "add_columns" : "none"), false);
	alter_set(&set, "apply_as_deletes", TEXTOID,
			  def->apply_as_deletes ? CStringGetTextDatum(def->apply_as_deletes) : (Datum) 0,
			  def->apply_as_deletes == NULL);
	alter_set(&set, "apply_as_truncates", TEXTOID,
			  def->apply_as_truncates ? CStringGetTextDatum(def->apply_as_truncates) : (Datum) 0,
			  def->apply_as_truncates == NULL);
	alter_set(&set, "ignore_null_updates", BOOLOID, BoolGetDatum(def->ignore_null_updates), false);
	alter_set(&set, "except_columns", TEXTARRAYOID,
			  def->except_columns ? stream_keyed_text_array(def->except_columns) : (Datum) 0,
			  def->except_columns == NIL);
	alter_set(&set, "track_history_columns", TEXTARRAYOID,
			  def->track_history_columns ? stream_keyed_text_array(def->track_history_columns) : (Datum) 0,
			  def->track_history_columns == NIL);
	if (retention)
		alter_set(&set, "tombstone_retention", INTERVALOID, IntervalPGetDatum(retention), false);
	if (produce_set)
	{
		alter_set(&set, "dead_letter_topic", TEXTOID,
				  def->dead_letter_topic ? CStringGetTextDatum(def->dead_letter_topic) : (Datum) 0,
				  def->dead_letter_topic == NULL);
		alter_set(&set, "source_header", BOOLOID, BoolGetDatum(def->source_header), false);
	}
	if (mirror_set)
	{
		alter_set(&set, "group_id", TEXTOID,
				  def->group_id ? CStringGetTextDatum(def->group_id) : (Datum) 0,
				  def->group_id == NULL);
		alter_set(&set, "commit_offsets_to_group", BOOLOID,
				  BoolGetDatum(def->commit_offsets_to_group), false);
	}
	SPI_connect();
	stream_catalog_exec(psprintf("UPDATE kafka.streaming_tables SET altered_at = clock_timestamp()%s "
								 "WHERE target = $1", set.sql.data),
						set.n, set.types, set.values, set.nulls, false);
	SPI_finish();
	stream_notify_launcher_at_commit();
	PG_RETURN_VOID();
#undef GIVEN
}

Datum
kafka_resume_streaming_table(PG_FUNCTION_ARGS)
{
	StreamDef  *def = owned_stream(PG_GETARG_OID(0));

	check_source_usable(def);
	set_state(PG_GETARG_OID(0), "active");
	PG_RETURN_VOID();
}

Datum
kafka_drop_streaming_table(PG_FUNCTION_ARGS)
{
	Oid			target;
	StreamDef  *def;
	Oid			types[1] = {OIDOID};
	Datum		values[1];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target must not be null")));
	target = PG_GETARG_OID(0);
	def = owned_stream(target);
	values[0] = ObjectIdGetDatum(target);
	SPI_connect();
	stream_catalog_exec("DELETE FROM kafka.streaming_tables WHERE target = $1", 1, types, values, NULL, false);
	stream_catalog_exec("DELETE FROM kafka.dead_letters WHERE stream = $1", 1, types, values, NULL, false);
	stream_catalog_exec("DELETE FROM kafka.stream_lost_offsets WHERE stream = $1", 1, types, values, NULL, false);
	if (!PG_ARGISNULL(1) && PG_GETARG_BOOL(1))
	{
		if (SPI_execute(psprintf("DROP TABLE %s", def->target_name), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not drop streaming table");
	}
	SPI_finish();
	stream_notify_launcher_at_commit();
	PG_RETURN_VOID();
}

/*
 * Rewind or skip.  Takes the stream's lock when free; a running worker or
 * refresh is fenced anyway: its next offset update finds other offsets and
 * its batch rolls back, and it restarts from these.
 */
Datum
kafka_reset_offsets(PG_FUNCTION_ARGS)
{
	Oid			target = PG_GETARG_OID(0);
	char	   *spec = text_to_cstring(PG_GETARG_TEXT_PP(1));
	StreamDef  *def = owned_stream(target);
	KafkaTable *table = kafka_table_open(def->source, CurrentMemoryContext);
	List	   *ranges;

	ranges = resolve_starting_offsets(table, def->owner, spec, def->fail_on_data_loss, true);
	if (ranges == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("starting_offsets names no partition of topic \"%s\"", table->topic)));
	upsert_offsets(target, ranges);
	PG_RETURN_VOID();
}

/*
 * kafka.stream_workers(): the launcher's slots of this database's streams
 * that the caller may see progress of.  Worker errors quote records, so as
 * for pg_stat_activity's query text: the stream's owner and its members,
 * superusers and pg_read_all_stats.
 */
Datum
kafka_stream_workers_visible(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Tuplestorestate *all;
	Tuplestorestate *visible;
	TupleTableSlot *slot;
	MemoryContext old;
	List	   *visible_streams = NIL;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(GetUserId())};
	uint64		i;

	kafka_stream_workers(fcinfo);
	if (has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS) || rsinfo->setResult == NULL)
		return (Datum) 0;

	SPI_connect();
	stream_catalog_exec("SELECT target::oid FROM kafka.streaming_tables "
						"WHERE pg_has_role($1, owner::oid, 'USAGE')",
						1, types, values, NULL, true);
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		visible_streams = lappend_oid(visible_streams,
								DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull)));
	}
	MemoryContextSwitchTo(old);
	SPI_finish();

	all = rsinfo->setResult;
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	visible = tuplestore_begin_heap(true, false, work_mem);
	slot = MakeSingleTupleTableSlot(rsinfo->setDesc, &TTSOpsMinimalTuple);
	MemoryContextSwitchTo(old);
	while (tuplestore_gettupleslot(all, true, false, slot))
	{
		bool		isnull;
		Datum		stream = slot_getattr(slot, 1, &isnull);

		if (!isnull && list_member_oid(visible_streams, DatumGetObjectId(stream)))
			tuplestore_puttupleslot(visible, slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(all);
	rsinfo->setResult = visible;
	return (Datum) 0;
}
