/*-------------------------------------------------------------------------
 *
 * delta_stream.c
 *	  kafka.delta_export() of a streaming table: export only the rows not
 *	  exported yet, exactly once.
 *
 * A streaming table (kafka.streaming_tables, one row per stream, naming its
 * target table) numbers its committed batches (batch_id) and records the
 * next offset to ingest per topic partition (kafka.stream_offsets); both
 * change in the same transaction as the batch's rows, and the target keeps
 * each row's _partition and _offset.  The Delta table records, in the txn
 * action of our application id, the batch_id it was exported up to, and in
 * the same commit's commitInfo (member kafkaOffsets) the offsets.  An append
 * exports the target's rows between those offsets and the stream's current
 * ones and commits them with txn version = the stream's batch_id:
 *
 *	 - the catalog and the rows are read in one snapshot (the caller's: both
 *	   queries are read-only SPI), so the rows are exactly those below the
 *	   offsets read;
 *	 - the commit carries the new position, so a crash before it exports
 *	   nothing, and a re-run starts again from the table's own record; a
 *	   re-run after it finds batch_id already recorded and adds nothing.
 *
 * The catalog belongs to the streaming-table feature (40_stream.sql); we
 * only read it, as its owner (as RI triggers read a referenced table), so
 * that exporting an ordinary table never depends on the caller's rights on
 * the catalog; and only for a target the caller may SELECT from, so the
 * catalog tells nothing about tables the caller cannot read anyway.  The
 * rows themselves are read with the caller's privileges.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "delta/delta_stream.h"

#define STREAM_APP_ID_PREFIX "kafka_fdw.stream:"

typedef struct StreamSource
{
	Oid			relid;
	Oid			catalog_owner;	/* owner of kafka.streaming_tables */
	char	   *target;			/* quoted, schema-qualified name */
	bool		has_topic;		/* the target has a _topic column */
} StreamSource;

static Oid
catalog_relid(const char *name)
{
	Oid			namespace = get_namespace_oid("kafka", true);

	return OidIsValid(namespace) ? get_relname_relid(name, namespace) : InvalidOid;
}

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * Runs a read-only query as the catalog's owner.  An ERROR restores the
 * user at (sub)transaction abort, as for RI triggers.
 */
static void
catalog_query(Oid owner, const char *sql, int nargs, Oid *types, Datum *values,
			  const char *nulls, long count, const char *what)
{
	Oid			saved_user;
	int			saved_context;
	int			result;

	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_NOFORCE_RLS);
	result = SPI_execute_with_args(sql, nargs, types, values, nulls, true, count);
	SetUserIdAndSecContext(saved_user, saved_context);
	if (result < 0)
		elog(ERROR, "%s failed: %s", what, SPI_result_code_string(result));
}

/* Appends the key of a JSON object member. */
static void
append_json_key(StringInfo out, bool *first, const char *key)
{
	if (!*first)
		appendStringInfoChar(out, ',');
	*first = false;
	escape_json(out, key);
	appendStringInfoChar(out, ':');
}

/*
 * The callback of delta_export_incremental(): the rows after the exported
 * offsets, up to the stream's current ones.
 */
static char *
stream_rows_after(void *arg, int64 exported, const char *exported_offsets,
				  int64 *position, char **position_offsets)
{
	StreamSource *stream = (StreamSource *) arg;
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	StringInfoData conditions;
	StringInfoData offsets;
	char	   *query;
	char	   *previous_topic = NULL;
	bool		first_topic = true;
	bool		first_partition = true;
	int			topics = 0;
	int64		batch_id;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* read-only: the caller's snapshot, the one the rows are read in too */
	values[0] = ObjectIdGetDatum(stream->relid);
	values[1] = (Datum) 0;
	catalog_query(stream->catalog_owner,
				  "SELECT batch_id::bigint FROM kafka.streaming_tables WHERE target = $1",
				  1, types, values, NULL, 2, "reading kafka.streaming_tables");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("\"%s\" is no longer a streaming table", stream->target)));
	batch_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		batch_id = 0;
	if (exported >= 0 && batch_id < exported)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the streaming table \"%s\" is at batch " INT64_FORMAT ", behind batch " INT64_FORMAT " recorded in the Delta table",
						stream->target, batch_id, exported),
				 errdetail("The stream was probably created anew."),
				 errhint("Export it with mode => 'overwrite' to start the Delta table over.")));

	if (exported_offsets != NULL)
		values[1] = CStringGetTextDatum(exported_offsets);
	else
		nulls[1] = 'n';
	catalog_query(stream->catalog_owner,
				  "WITH exported AS ("
				  "  SELECT t.key AS topic, p.key::int AS partition, p.value::text::bigint AS next_offset"
				  "    FROM pg_catalog.jsonb_each(coalesce($2::jsonb, '{}')) t,"
				  "         pg_catalog.jsonb_each(t.value) p),"
				  " current AS ("
				  "  SELECT o.topic::text AS topic, o.partition::int AS partition, o.next_offset::bigint AS next_offset"
				  "    FROM kafka.stream_offsets o WHERE o.stream = $1)"
				  " SELECT coalesce(c.topic, e.topic), coalesce(c.partition, e.partition),"
				  "        c.next_offset, e.next_offset"
				  "   FROM current c FULL JOIN exported e ON e.topic = c.topic AND e.partition = c.partition"
				  "  ORDER BY 1, 2",
				  2, types, values, nulls, 0, "reading kafka.stream_offsets");

	MemoryContextSwitchTo(caller);
	initStringInfo(&conditions);
	initStringInfo(&offsets);
	appendStringInfoChar(&offsets, '{');
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		char	   *topic = SPI_getvalue(tuple, tupdesc, 1);
		int32		partition = DatumGetInt32(SPI_getbinval(tuple, tupdesc, 2, &isnull));
		bool		has_current;
		bool		has_exported;
		int64		current = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 3, &has_current));
		int64		done = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 4, &has_exported));

		has_current = !has_current;
		has_exported = !has_exported;

		if (previous_topic == NULL || strcmp(previous_topic, topic) != 0)
		{
			if (previous_topic != NULL)
				appendStringInfoChar(&offsets, '}');
			append_json_key(&offsets, &first_topic, topic);
			appendStringInfoChar(&offsets, '{');
			first_partition = true;
			previous_topic = topic;
			topics++;
		}
		{
			char		key[16];

			snprintf(key, sizeof(key), "%d", partition);
			append_json_key(&offsets, &first_partition, key);
			appendStringInfo(&offsets, INT64_FORMAT, has_current ? current : done);
		}

		if (!has_current)
			continue;			/* a partition the stream no longer lists */
		if (has_exported && current < done)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the streaming table \"%s\" is at offset " INT64_FORMAT " of topic \"%s\" partition %d, behind offset " INT64_FORMAT " recorded in the Delta table",
							stream->target, current, topic, partition, done),
					 errhint("Export it with mode => 'overwrite' to start the Delta table over.")));
		if (has_exported && current == done)
			continue;

		appendStringInfoString(&conditions, conditions.len > 0 ? "\n   OR " : "\n WHERE ");
		appendStringInfoChar(&conditions, '(');
		if (stream->has_topic)
			appendStringInfo(&conditions, "_topic = %s AND ", quote_literal_cstr(topic));
		appendStringInfo(&conditions, "_partition = %d", partition);
		if (has_exported)
			appendStringInfo(&conditions, " AND _offset >= " INT64_FORMAT, done);
		appendStringInfo(&conditions, " AND _offset < " INT64_FORMAT ")", current);
	}
	if (previous_topic != NULL)
		appendStringInfoChar(&offsets, '}');
	appendStringInfoChar(&offsets, '}');

	if (topics > 1 && !stream->has_topic)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot export the streaming table \"%s\" incrementally: it reads %d topics and has no _topic column",
						stream->target, topics),
				 errhint("Add the _topic metadata column to the streaming table, or export a query with explicit app_id and txn_version.")));

	SPI_finish();

	if (conditions.len == 0)
		return NULL;			/* nothing after the exported offsets */
	if (batch_id <= exported)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the streaming table \"%s\" has new offsets but no new batch_id", stream->target),
				 errdetail("Its batch_id " INT64_FORMAT " is already recorded in the Delta table.", batch_id)));

	*position = batch_id;
	*position_offsets = offsets.data;
	query = psprintf("SELECT * FROM %s%s", stream->target, conditions.data);
	pfree(conditions.data);
	return query;
}

bool
delta_stream_source(Oid relid, DeltaIncrementalSource *source, bool *keyed)
{
	Oid			streams = catalog_relid("streaming_tables");
	Oid			offsets = catalog_relid("stream_offsets");
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	StreamSource *stream;

	Oid			owner;

	if (!OidIsValid(streams) || !OidIsValid(offsets))
		return false;			/* no streaming tables in this database */
	/* the export of a table the caller cannot read fails on its own */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return false;
	owner = relation_owner(streams);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	*keyed = false;
	catalog_query(owner, get_attnum(streams, "mode") != InvalidAttrNumber ?
				  "SELECT mode <> 'append' FROM kafka.streaming_tables WHERE target = $1" :
				  "SELECT false FROM kafka.streaming_tables WHERE target = $1",
				  1, types, values, NULL, 1, "reading kafka.streaming_tables");
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}
	/* rows of a keyed stream change in place: no offset marks what is new */
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0)
	{
		*keyed = true;
		SPI_finish();
		return false;
	}
	MemoryContextSwitchTo(caller);
	stream = palloc0(sizeof(StreamSource));
	stream->relid = relid;
	stream->catalog_owner = owner;
	stream->target = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid));
	SPI_finish();

	if (get_attnum(relid, "_partition") == InvalidAttrNumber ||
		get_attnum(relid, "_offset") == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot export the streaming table \"%s\" incrementally: it has no _partition and _offset columns",
						stream->target),
				 errdetail("An append exports the rows after the Kafka offsets of the last export, which needs each row's partition and offset."),
				 errhint("Keep the _partition and _offset metadata columns in the streaming table, or export a query over it with app_id and txn_version.")));
	stream->has_topic = get_attnum(relid, "_topic") != InvalidAttrNumber;

	source->app_id = psprintf(STREAM_APP_ID_PREFIX "%s", stream->target);
	source->rows_after = stream_rows_after;
	source->arg = stream;
	return true;
}
