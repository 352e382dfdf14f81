/*-------------------------------------------------------------------------
 *
 * delta_log.c
 *	  The Delta Lake transaction log: replay into a snapshot, writer
 *	  checks, commit rendering.
 *
 * A table's state is the replay of _delta_log/<version>.json, version 0
 * upwards: the newest protocol and metaData, the newest txn version per
 * application, and the data files added and not removed since.  We read
 * every JSON commit; a table whose early commits were replaced by a Parquet
 * checkpoint is refused until a checkpoint reader exists (the replay below
 * is organized as "start state + commits after it", so that reader only has
 * to produce the start state).  For the same reason every action we write
 * is complete enough for a checkpoint writer: adds carry size, stats and
 * partitionValues, removes carry extendedFileMetadata and size, and
 * versions have no gaps.
 *
 * Each line is parsed with the jsonb input function: decimals and 64-bit
 * integers survive exactly, and errors come out as ordinary ereports, with
 * the file named in the context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "delta/delta_log.h"

#define DELTA_ENGINE_INFO "kafka_fdw/0.1"

/* Writer features of protocol 7 that we honour (reader: timestampNtz). */
static const char *const supported_writer_features[] = {
	"appendOnly", "invariants", "timestampNtz", NULL
};

typedef struct LogPosition
{
	const char *path;
	const char *file;
} LogPosition;

int64
delta_now_ms(void)
{
	return GetCurrentTimestamp() / 1000 +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * 86400000;
}

static void
log_error_context(void *arg)
{
	LogPosition *position = (LogPosition *) arg;

	errcontext("Delta log file \"%s/_delta_log/%s\"", position->path,
			   position->file);
}

/* ----------------------------------------------------------------
 * jsonb access
 * ----------------------------------------------------------------
 */

static bool
json_member(JsonbContainer *container, const char *key, JsonbValue *value)
{
	if (container == NULL || !JsonContainerIsObject(container))
		return false;
	return getKeyJsonValueFromContainer(container, key, strlen(key), value) != NULL;
}

static JsonbContainer *
json_member_object(JsonbContainer *container, const char *key)
{
	JsonbValue	value;

	if (!json_member(container, key, &value) || value.type != jbvBinary ||
		!JsonContainerIsObject(value.val.binary.data))
		return NULL;
	return value.val.binary.data;
}

static char *
json_string(JsonbContainer *container, const char *key)
{
	JsonbValue	value;

	if (!json_member(container, key, &value) || value.type != jbvString)
		return NULL;
	return pnstrdup(value.val.string.val, value.val.string.len);
}

static bool
json_int64(JsonbContainer *container, const char *key, int64 *result)
{
	JsonbValue	value;

	if (!json_member(container, key, &value) || value.type != jbvNumeric)
		return false;
	*result = DatumGetInt64(DirectFunctionCall1(numeric_int8,
												NumericGetDatum(value.val.numeric)));
	return true;
}

static bool
json_bool(JsonbContainer *container, const char *key, bool missing)
{
	JsonbValue	value;

	if (!json_member(container, key, &value) || value.type != jbvBool)
		return missing;
	return value.val.boolean;
}

/* Any member as JSON text (objects and arrays included), or NULL. */
static char *
json_text(JsonbContainer *container, const char *key)
{
	JsonbValue	value;

	if (!json_member(container, key, &value))
		return NULL;
	if (value.type == jbvBinary)
		return JsonbToCString(NULL, value.val.binary.data,
							  value.val.binary.len);
	if (value.type == jbvString)
	{
		StringInfoData out;
		char	   *text = pnstrdup(value.val.string.val, value.val.string.len);

		initStringInfo(&out);
		escape_json(&out, text);
		return out.data;
	}
	if (value.type == jbvNull)
		return pstrdup("null");
	/* a scalar number or boolean: render through a one-element jsonb */
	return JsonbToCString(NULL, &JsonbValueToJsonb(&value)->root, 0);
}

/* Elements of an array member that are strings. */
static List *
json_string_array(JsonbContainer *container, const char *key)
{
	JsonbValue	value;
	JsonbIterator *iterator;
	JsonbValue	element;
	JsonbIteratorToken token;
	List	   *result = NIL;

	if (!json_member(container, key, &value) || value.type != jbvBinary)
		return NIL;
	iterator = JsonbIteratorInit(value.val.binary.data);
	while ((token = JsonbIteratorNext(&iterator, &element, true)) != WJB_DONE)
	{
		if (token == WJB_ELEM && element.type == jbvString)
			result = lappend(result, pnstrdup(element.val.string.val,
											  element.val.string.len));
	}
	return result;
}

static int
json_member_array_length(JsonbContainer *container, const char *key)
{
	JsonbValue	value;

	if (!json_member(container, key, &value) || value.type != jbvBinary ||
		!JsonContainerIsArray(value.val.binary.data))
		return 0;
	return JsonContainerSize(value.val.binary.data);
}

static Jsonb *
parse_json(const char *text)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

/* ----------------------------------------------------------------
 * Replay
 * ----------------------------------------------------------------
 */

static uint32
path_hash(const void *key, Size keysize)
{
	const char *path = *(const char *const *) key;

	return hash_bytes((const unsigned char *) path, strlen(path));
}

static int
path_match(const void *left, const void *right, Size keysize)
{
	return strcmp(*(const char *const *) left, *(const char *const *) right);
}

static void
parse_schema(DeltaSnapshot *snapshot)
{
	Jsonb	   *schema = parse_json(snapshot->schema_string);
	JsonbValue	fields;
	JsonbIterator *iterator;
	JsonbValue	element;
	JsonbIteratorToken token;
	int			n = 0;

	snapshot->nfields = 0;
	snapshot->fields = NULL;
	if (!json_member(&schema->root, "fields", &fields) || fields.type != jbvBinary ||
		!JsonContainerIsArray(fields.val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the Delta table schema has no field list")));

	snapshot->fields = palloc0(sizeof(DeltaField) *
							   Max(JsonContainerSize(fields.val.binary.data), 1));
	iterator = JsonbIteratorInit(fields.val.binary.data);
	while ((token = JsonbIteratorNext(&iterator, &element, true)) != WJB_DONE)
	{
		DeltaField *field;
		JsonbContainer *object;
		JsonbContainer *metadata;

		if (token != WJB_ELEM || element.type != jbvBinary)
			continue;
		object = element.val.binary.data;
		field = &snapshot->fields[n++];
		field->name = json_string(object, "name");
		if (field->name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the Delta table schema has a field without a name")));
		field->type = json_string(object, "type");	/* NULL if nested */
		field->nullable = json_bool(object, "nullable", true);
		metadata = json_member_object(object, "metadata");
		field->has_invariants = json_member_object(metadata, "delta.invariants") != NULL ||
			json_string(metadata, "delta.invariants") != NULL;
	}
	snapshot->nfields = n;
}

static void
apply_metadata(DeltaSnapshot *snapshot, JsonbContainer *metadata)
{
	JsonbContainer *configuration;
	char	   *value;

	snapshot->has_metadata = true;
	snapshot->table_id = json_string(metadata, "id");
	snapshot->name_json = json_text(metadata, "name");
	snapshot->description_json = json_text(metadata, "description");
	snapshot->format_json = json_text(metadata, "format");
	snapshot->configuration_json = json_text(metadata, "configuration");
	snapshot->schema_string = json_string(metadata, "schemaString");
	if (!json_int64(metadata, "createdTime", &snapshot->created_time))
		snapshot->created_time = -1;
	snapshot->partitioned = json_member_array_length(metadata, "partitionColumns") > 0;

	configuration = json_member_object(metadata, "configuration");
	value = json_string(configuration, "delta.appendOnly");
	snapshot->append_only = value && pg_strcasecmp(value, "true") == 0;
	value = json_string(configuration, "delta.columnMapping.mode");
	snapshot->column_mapping = value && pg_strcasecmp(value, "none") != 0;

	if (snapshot->table_id == NULL || snapshot->schema_string == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a Delta metaData action lacks its id or schemaString")));
	parse_schema(snapshot);
}

/* Returns the entry updated, so the commit's offsets can be attached. */
static DeltaTxn *
apply_txn(DeltaSnapshot *snapshot, JsonbContainer *txn)
{
	char	   *app_id = json_string(txn, "appId");
	int64		version;
	ListCell   *cell;
	DeltaTxn   *entry;

	if (app_id == NULL || !json_int64(txn, "version", &version))
		return NULL;
	foreach(cell, snapshot->txns)
	{
		entry = lfirst(cell);
		if (strcmp(entry->app_id, app_id) == 0)
		{
			entry->version = version;
			return entry;
		}
	}
	entry = palloc0(sizeof(DeltaTxn));
	entry->app_id = app_id;
	entry->version = version;
	snapshot->txns = lappend(snapshot->txns, entry);
	return entry;
}

static void
apply_file(DeltaSnapshot *snapshot, JsonbContainer *action, bool add)
{
	char	   *path = json_string(action, "path");
	DeltaLiveFile *file;
	bool		found;

	if (path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a Delta %s action has no path", add ? "add" : "remove")));
	if (!add)
	{
		hash_search(snapshot->live_files, &path, HASH_REMOVE, NULL);
		return;
	}
	file = hash_search(snapshot->live_files, &path, HASH_ENTER, &found);
	if (!found)
		file->path = path;
	if (!json_int64(action, "size", &file->size))
		file->size = -1;
}

/*
 * Applies one commit's text.  Parse results are made in a scratch context;
 * what the snapshot keeps is copied into the snapshot's context.
 */
static void
apply_commit(DeltaSnapshot *snapshot, char *text, MemoryContext scratch,
			 bool catching_up)
{
	char	   *line = text;
	List	   *txns = NIL;		/* DeltaTxn * recorded by this commit */
	char	   *kafka_offsets = NULL;
	ListCell   *cell;

	while (line != NULL && *line != '\0')
	{
		char	   *end = strchr(line, '\n');
		Jsonb	   *action;
		JsonbContainer *body;
		MemoryContext old;

		if (end)
			*end = '\0';
		if (strspn(line, " \t\r") == strlen(line))
		{
			line = end ? end + 1 : NULL;
			continue;
		}

		old = MemoryContextSwitchTo(scratch);
		action = parse_json(line);
		MemoryContextSwitchTo(snapshot->context);

		if ((body = json_member_object(&action->root, "add")) != NULL)
		{
			if (snapshot->track_files)
				apply_file(snapshot, body, true);
		}
		else if ((body = json_member_object(&action->root, "remove")) != NULL)
		{
			if (snapshot->track_files)
				apply_file(snapshot, body, false);
		}
		else if ((body = json_member_object(&action->root, "txn")) != NULL)
		{
			DeltaTxn   *txn = apply_txn(snapshot, body);

			if (txn != NULL)
				txns = lappend(txns, txn);
		}
		else if ((body = json_member_object(&action->root, "commitInfo")) != NULL)
		{
			/* where a streaming-table export stopped (delta_stream.c) */
			kafka_offsets = json_text(body, "kafkaOffsets");
		}
		else if ((body = json_member_object(&action->root, "protocol")) != NULL)
		{
			int64		reader = 0;
			int64		writer = 0;

			(void) json_int64(body, "minReaderVersion", &reader);
			(void) json_int64(body, "minWriterVersion", &writer);
			snapshot->min_reader_version = (int) reader;
			snapshot->min_writer_version = (int) writer;
			snapshot->reader_features = json_string_array(body, "readerFeatures");
			snapshot->writer_features = json_string_array(body, "writerFeatures");
			if (catching_up)
				snapshot->protocol_changed = true;
		}
		else if ((body = json_member_object(&action->root, "metaData")) != NULL)
		{
			apply_metadata(snapshot, body);
			if (catching_up)
				snapshot->metadata_changed = true;
		}
		/* cdc, domainMetadata...: nothing we need */

		MemoryContextSwitchTo(old);
		MemoryContextReset(scratch);
		line = end ? end + 1 : NULL;
	}

	/* the offsets belong to the txn versions of the same commit */
	foreach(cell, txns)
		((DeltaTxn *) lfirst(cell))->kafka_offsets = kafka_offsets;
	list_free(txns);
}

static void
read_commit(DeltaTableDir *dir, DeltaSnapshot *snapshot, int64 version,
			MemoryContext scratch, bool catching_up, bool *missing)
{
	char		name[32];
	char	   *text;
	size_t		length;
	LogPosition position;
	ErrorContextCallback callback;

	snprintf(name, sizeof(name), "%020lld.json", (long long) version);
	text = delta_dir_read_log(dir, name, missing != NULL, &length);
	if (text == NULL)
	{
		*missing = true;
		return;
	}
	if (missing)
		*missing = false;
	if (strlen(text) != length)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the Delta log file \"%s/_delta_log/%s\" contains a zero byte",
						delta_dir_path(dir), name)));

	position.path = delta_dir_path(dir);
	position.file = name;
	callback.callback = log_error_context;
	callback.arg = &position;
	callback.previous = error_context_stack;
	error_context_stack = &callback;

	apply_commit(snapshot, text, scratch, catching_up);

	error_context_stack = callback.previous;
	pfree(text);
	snapshot->version = version;
}

static bool
is_commit_name(const char *name, int64 *version)
{
	char	   *end;

	if (strlen(name) != 25 || strcmp(name + 20, ".json") != 0 ||
		strspn(name, "0123456789") != 20)
		return false;
	errno = 0;
	*version = strtoll(name, &end, 10);
	return errno == 0 && end == name + 20;
}

static bool
is_checkpoint_name(const char *name)
{
	return strcmp(name, "_last_checkpoint") == 0 ||
		(strstr(name, ".checkpoint") != NULL &&
		 (strstr(name, ".parquet") != NULL || strstr(name, ".json") != NULL));
}

static int
compare_versions(const ListCell *a, const ListCell *b)
{
	int64		left = *(int64 *) lfirst(a);
	int64		right = *(int64 *) lfirst(b);

	return (left > right) - (left < right);
}

DeltaSnapshot *
delta_log_load(DeltaTableDir *dir, bool has_log, bool track_files)
{
	DeltaSnapshot *snapshot = palloc0(sizeof(DeltaSnapshot));
	MemoryContext scratch;
	List	   *versions = NIL;
	ListCell   *cell;
	int64		expected = 0;

	snapshot->context = CurrentMemoryContext;
	snapshot->version = -1;
	snapshot->created_time = -1;
	snapshot->track_files = track_files;
	if (track_files)
	{
		HASHCTL		control;

		control.keysize = sizeof(char *);
		control.entrysize = sizeof(DeltaLiveFile);
		control.hash = path_hash;
		control.match = path_match;
		control.hcxt = CurrentMemoryContext;
		snapshot->live_files = hash_create("Delta live files", 256, &control,
										   HASH_ELEM | HASH_FUNCTION |
										   HASH_COMPARE | HASH_CONTEXT);
	}
	if (!has_log)
		return snapshot;

	foreach(cell, delta_dir_list_log(dir))
	{
		const char *name = lfirst(cell);
		int64		version;

		if (is_checkpoint_name(name))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write to the Delta table at \"%s\": it has a checkpoint",
							delta_dir_path(dir)),
					 errdetail("Found \"_delta_log/%s\"; reading Delta checkpoints is not supported yet.",
							   name),
					 errhint("Export to a new path.")));
		if (is_commit_name(name, &version))
		{
			int64	   *entry = palloc(sizeof(int64));

			*entry = version;
			versions = lappend(versions, entry);
		}
	}
	list_sort(versions, compare_versions);

	scratch = AllocSetContextCreate(CurrentMemoryContext, "Delta log line",
									ALLOCSET_DEFAULT_SIZES);
	foreach(cell, versions)
	{
		int64		version = *(int64 *) lfirst(cell);

		CHECK_FOR_INTERRUPTS();
		if (version != expected)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the Delta log of \"%s\" has no version %lld",
							delta_dir_path(dir), (long long) expected),
					 errdetail("The commits must be numbered from 0 without gaps unless a checkpoint replaces the early ones.")));
		read_commit(dir, snapshot, version, scratch, false, NULL);
		expected++;
	}
	MemoryContextDelete(scratch);
	return snapshot;
}

int
delta_log_catch_up(DeltaTableDir *dir, DeltaSnapshot *snapshot)
{
	MemoryContext scratch;
	MemoryContext old = MemoryContextSwitchTo(snapshot->context);
	int			count = 0;

	scratch = AllocSetContextCreate(snapshot->context, "Delta log line",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		bool		missing;

		CHECK_FOR_INTERRUPTS();
		read_commit(dir, snapshot, snapshot->version + 1, scratch, true, &missing);
		if (missing)
			break;
		count++;
	}
	MemoryContextDelete(scratch);
	MemoryContextSwitchTo(old);
	return count;
}

static bool
feature_supported(const char *feature, const char *const *supported)
{
	for (int i = 0; supported[i] != NULL; i++)
		if (strcmp(feature, supported[i]) == 0)
			return true;
	return false;
}

void
delta_log_check_writable(const DeltaSnapshot *snapshot, const char *path,
						 bool overwrite)
{
	static const char *const reader_features[] = {"timestampNtz", NULL};
	ListCell   *cell;

	if (snapshot->version < 0)
		return;

	if (!snapshot->has_metadata)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the Delta table at \"%s\" has no metaData action", path)));

	if (snapshot->min_writer_version > 7 ||
		(snapshot->min_writer_version > 2 && snapshot->min_writer_version < 7))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write to the Delta table at \"%s\": it requires writer version %d",
						path, snapshot->min_writer_version),
				 errdetail("delta_export writes tables of writer version 2, or 7 with the features appendOnly, invariants and timestampNtz.")));
	if (snapshot->min_reader_version > 3 || snapshot->min_reader_version == 2)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write to the Delta table at \"%s\": it requires reader version %d",
						path, snapshot->min_reader_version),
				 errdetail("delta_export reads tables of reader version 1, or 3 with the feature timestampNtz.")));
	foreach(cell, snapshot->writer_features)
	{
		if (!feature_supported(lfirst(cell), supported_writer_features))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write to the Delta table at \"%s\": it uses the writer feature \"%s\"",
							path, (char *) lfirst(cell))));
	}
	foreach(cell, snapshot->reader_features)
	{
		if (!feature_supported(lfirst(cell), reader_features))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write to the Delta table at \"%s\": it uses the reader feature \"%s\"",
							path, (char *) lfirst(cell))));
	}
	if (snapshot->column_mapping)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write to the Delta table at \"%s\": it uses column mapping", path)));
	if (snapshot->partitioned)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write to the Delta table at \"%s\": it is partitioned", path),
				 errdetail("delta_export writes unpartitioned tables only.")));
	for (int f = 0; f < snapshot->nfields; f++)
	{
		if (snapshot->fields[f].has_invariants)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write to the Delta table at \"%s\": column \"%s\" has an invariant",
							path, snapshot->fields[f].name),
					 errdetail("delta_export cannot check Delta column invariants.")));
	}
	if (overwrite && snapshot->append_only)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot overwrite the Delta table at \"%s\": it is append-only", path),
				 errdetail("The table property delta.appendOnly is true.")));
}

bool
delta_log_txn_version(const DeltaSnapshot *snapshot, const char *app_id,
					  int64 *version)
{
	ListCell   *cell;

	foreach(cell, snapshot->txns)
	{
		DeltaTxn   *txn = lfirst(cell);

		if (strcmp(txn->app_id, app_id) == 0)
		{
			*version = txn->version;
			return true;
		}
	}
	return false;
}

const char *
delta_log_txn_offsets(const DeltaSnapshot *snapshot, const char *app_id)
{
	ListCell   *cell;

	foreach(cell, snapshot->txns)
	{
		DeltaTxn   *txn = lfirst(cell);

		if (strcmp(txn->app_id, app_id) == 0)
			return txn->kafka_offsets;
	}
	return NULL;
}

/* ----------------------------------------------------------------
 * Rendering
 * ----------------------------------------------------------------
 */

static void
append_string_list(StringInfo out, List *strings)
{
	ListCell   *cell;

	appendStringInfoChar(out, '[');
	foreach(cell, strings)
	{
		if (cell != list_head(strings))
			appendStringInfoChar(out, ',');
		escape_json(out, lfirst(cell));
	}
	appendStringInfoChar(out, ']');
}

static void
render_metadata(StringInfo out, const DeltaCommit *commit,
				const DeltaSnapshot *snapshot, int64 now)
{
	char		uuid[DELTA_UUID_LENGTH + 1];

	/* a new schema for an existing table keeps its identity and settings */
	appendStringInfoString(out, "{\"metaData\":{\"id\":");
	if (snapshot->has_metadata)
		escape_json(out, snapshot->table_id);
	else
	{
		delta_random_uuid(uuid);
		escape_json(out, uuid);
	}
	if (snapshot->has_metadata && snapshot->name_json)
		appendStringInfo(out, ",\"name\":%s", snapshot->name_json);
	if (snapshot->has_metadata && snapshot->description_json)
		appendStringInfo(out, ",\"description\":%s", snapshot->description_json);
	appendStringInfo(out, ",\"format\":%s,\"schemaString\":",
					 snapshot->has_metadata && snapshot->format_json ?
					 snapshot->format_json :
					 "{\"provider\":\"parquet\",\"options\":{}}");
	escape_json(out, commit->schema_string);
	appendStringInfo(out, ",\"partitionColumns\":[],\"configuration\":%s,\"createdTime\":" INT64_FORMAT "}}\n",
					 snapshot->has_metadata && snapshot->configuration_json ?
					 snapshot->configuration_json : "{}",
					 snapshot->has_metadata && snapshot->created_time >= 0 ?
					 snapshot->created_time : now);
}

char *
delta_commit_render(const DeltaCommit *commit, const DeltaSnapshot *snapshot,
					size_t *length)
{
	StringInfoData out;
	int64		now = delta_now_ms();
	char		uuid[DELTA_UUID_LENGTH + 1];
	ListCell   *cell;
	int64		removed = 0;

	initStringInfo(&out);

	/* commitInfo first: readers look there for in-commit timestamps */
	delta_random_uuid(uuid);
	appendStringInfo(&out,
					 "{\"commitInfo\":{\"timestamp\":" INT64_FORMAT
					 ",\"operation\":\"WRITE\",\"operationParameters\":{\"mode\":\"%s\",\"partitionBy\":\"[]\"}",
					 now, commit->overwrite ? "Overwrite" : "Append");
	if (snapshot->version >= 0)
		appendStringInfo(&out, ",\"readVersion\":" INT64_FORMAT, snapshot->version);
	if (commit->overwrite && snapshot->track_files)
		removed = hash_get_num_entries(snapshot->live_files);
	appendStringInfo(&out,
					 ",\"isolationLevel\":\"Serializable\",\"isBlindAppend\":%s"
					 ",\"operationMetrics\":{\"numFiles\":\"%d\",\"numOutputRows\":\"" INT64_FORMAT
					 "\",\"numOutputBytes\":\"" INT64_FORMAT "\"",
					 commit->overwrite ? "false" : "true",
					 list_length(commit->added_files), commit->rows, commit->bytes);
	if (commit->overwrite)
		appendStringInfo(&out, ",\"numRemovedFiles\":\"" INT64_FORMAT "\"", removed);
	appendStringInfoChar(&out, '}');
	if (commit->kafka_offsets != NULL)
		appendStringInfo(&out, ",\"kafkaOffsets\":%s", commit->kafka_offsets);
	appendStringInfo(&out, ",\"engineInfo\":\"%s\",\"txnId\":\"%s\"}}\n",
					 DELTA_ENGINE_INFO, uuid);

	if (commit->write_protocol)
	{
		appendStringInfo(&out,
						 "{\"protocol\":{\"minReaderVersion\":%d,\"minWriterVersion\":%d",
						 commit->min_reader_version, commit->min_writer_version);
		if (commit->min_reader_version >= 3)
		{
			appendStringInfoString(&out, ",\"readerFeatures\":");
			append_string_list(&out, commit->reader_features);
		}
		if (commit->min_writer_version >= 7)
		{
			appendStringInfoString(&out, ",\"writerFeatures\":");
			append_string_list(&out, commit->writer_features);
		}
		appendStringInfoString(&out, "}}\n");
	}

	if (commit->write_metadata)
		render_metadata(&out, commit, snapshot, now);

	if (commit->app_id)
	{
		appendStringInfoString(&out, "{\"txn\":{\"appId\":");
		escape_json(&out, commit->app_id);
		appendStringInfo(&out, ",\"version\":" INT64_FORMAT ",\"lastUpdated\":" INT64_FORMAT "}}\n",
						 commit->txn_version, now);
	}

	if (commit->overwrite && snapshot->track_files)
	{
		HASH_SEQ_STATUS status;
		DeltaLiveFile *file;

		hash_seq_init(&status, snapshot->live_files);
		while ((file = hash_seq_search(&status)) != NULL)
		{
			appendStringInfoString(&out, "{\"remove\":{\"path\":");
			escape_json(&out, file->path);
			appendStringInfo(&out,
							 ",\"deletionTimestamp\":" INT64_FORMAT
							 ",\"dataChange\":true,\"extendedFileMetadata\":true,\"partitionValues\":{}",
							 now);
			if (file->size >= 0)
				appendStringInfo(&out, ",\"size\":" INT64_FORMAT, file->size);
			appendStringInfoString(&out, "}}\n");
		}
	}

	foreach(cell, commit->added_files)
	{
		DeltaAddedFile *file = lfirst(cell);

		/* our file names need no percent-encoding: [a-z0-9.-] only */
		appendStringInfoString(&out, "{\"add\":{\"path\":");
		escape_json(&out, file->path);
		appendStringInfo(&out,
						 ",\"partitionValues\":{},\"size\":" INT64_FORMAT
						 ",\"modificationTime\":" INT64_FORMAT
						 ",\"dataChange\":true,\"stats\":",
						 file->size, file->modification_time);
		escape_json(&out, file->stats);
		appendStringInfoString(&out, "}}\n");
	}

	*length = out.len;
	return out.data;
}
