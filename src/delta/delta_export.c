/*-------------------------------------------------------------------------
 *
 * delta_export.c
 *	  kafka.delta_export(): a table or query to a Delta Lake table.
 *
 * One call is one Delta commit:
 *	1. open the table directory safely and replay its log (delta_log.c);
 *	2. refuse tables we must not write (protocol, schema, checkpoints);
 *	3. if the caller names an application and version (txn), stop when the
 *	   table already records that version: this is what makes a re-run
 *	   after a crash a no-op instead of a duplicate;
 *	4. read the rows through a cursor, fetched in chunks, into Parquet files
 *	   of about target_file_size bytes (parquet_writer.c), memory bounded by
 *	   one row group plus one chunk of rows;
 *	5. publish the commit with put-if-absent; if another writer took the
 *	   version, read its commit and retry on top of it, unless it changed
 *	   the schema or protocol or recorded our txn already.
 * Until step 5 succeeds nothing is visible to readers; an error or cancel
 * at any point removes the files written so far (delta_fs.c).
 *
 * The commit is made when the function runs, not when the calling
 * transaction commits (like COPY TO a file): a later ROLLBACK does not
 * undo it.  Idempotent pipelines therefore pass app_id and txn_version.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/varlena.h"

#include "delta/delta_export.h"
#include "delta/delta_fs.h"
#include "delta/delta_log.h"
#include "delta/delta_stats.h"
#include "delta/delta_stream.h"
#include "delta/type_map.h"

PG_FUNCTION_INFO_V1(kafka_delta_export);

#define DEFAULT_TARGET_FILE_SIZE	(INT64CONST(128) * 1024 * 1024)
#define DEFAULT_ROW_GROUP_SIZE		(INT64CONST(64) * 1024 * 1024)
#define DEFAULT_PAGE_SIZE			(1024 * 1024)
#define DEFAULT_ZSTD_LEVEL			3

/* Rows per cursor fetch: big enough to amortize, small enough not to matter. */
#define FETCH_ROWS					1000

/* Concurrent writers taking our version before we give up. */
#define MAX_COMMIT_ATTEMPTS			100

typedef struct ExportState
{
	MemoryContext context;		/* lives for the whole export */
	MemoryContext batch_context;	/* value conversions; reset per fetch */
	const char *path;
	DeltaTableDir *dir;
	const DeltaExportOptions *options;
	DeltaColumn *columns;
	int			ncolumns;
	ParquetColumnSpec *specs;
	ParquetWriterOptions writer_options;

	/* the data file being written */
	ParquetWriter *writer;
	int			fd;
	char	   *file_name;

	List	   *added_files;	/* DeltaAddedFile * */
	int64		rows;
	int64		bytes;
} ExportState;

void
delta_export_default_options(DeltaExportOptions *options)
{
	memset(options, 0, sizeof(*options));
	options->mode = DELTA_EXPORT_APPEND;
	options->codec = PARQUET_CODEC_ZSTD;
	options->compression_level = DEFAULT_ZSTD_LEVEL;
	options->target_file_size = DEFAULT_TARGET_FILE_SIZE;
	options->row_group_size = DEFAULT_ROW_GROUP_SIZE;
	options->page_size = DEFAULT_PAGE_SIZE;
}

static void
check_privileges(void)
{
	/* the same rule as COPY TO a file: this writes as the server's OS user */
	if (!superuser() && !has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to export to a Delta table"),
				 errdetail("Only roles with privileges of the \"%s\" role may write files on the server.",
						   "pg_write_server_files")));
}

/* ----------------------------------------------------------------
 * Data files
 * ----------------------------------------------------------------
 */

static const char *
codec_suffix(ParquetCodec codec)
{
	switch (codec)
	{
		case PARQUET_CODEC_ZSTD:
			return ".zstd";
		case PARQUET_CODEC_SNAPPY:
			return ".snappy";
		case PARQUET_CODEC_UNCOMPRESSED:
			break;
	}
	return "";
}

/*
 * Creates the table directory on first use, so that an export failing on
 * its source or options leaves no empty directory behind.
 */
static void
ensure_table_dir(ExportState *state)
{
	MemoryContext old;

	if (state->dir != NULL)
		return;
	old = MemoryContextSwitchTo(state->context);
	state->dir = delta_dir_open(state->path, true);
	MemoryContextSwitchTo(old);
}

static void
start_file(ExportState *state)
{
	char		uuid[DELTA_UUID_LENGTH + 1];
	MemoryContext old;

	ensure_table_dir(state);
	old = MemoryContextSwitchTo(state->context);
	delta_random_uuid(uuid);
	state->file_name = psprintf("part-%05d-%s-c000%s.parquet",
								list_length(state->added_files), uuid,
								codec_suffix(state->options->codec));
	state->fd = delta_dir_create_data_file(state->dir, state->file_name);
	state->writer = parquet_writer_create(state->fd,
										  psprintf("%s/%s", state->path, state->file_name),
										  state->ncolumns, state->specs,
										  &state->writer_options);
	MemoryContextSwitchTo(old);
}

static void
finish_file(ExportState *state)
{
	MemoryContext old = MemoryContextSwitchTo(state->context);
	DeltaAddedFile *file = palloc0(sizeof(DeltaAddedFile));

	file->path = state->file_name;
	file->size = parquet_writer_finish(state->writer);
	file->rows = parquet_writer_num_rows(state->writer);
	file->stats = delta_file_stats(state->columns, state->ncolumns,
								   state->writer, file->rows);
	file->modification_time = delta_dir_finish_data_file(state->dir, state->fd,
														  state->file_name);
	parquet_writer_free(state->writer);
	state->writer = NULL;
	state->fd = -1;

	state->added_files = lappend(state->added_files, file);
	state->bytes += file->size;
	MemoryContextSwitchTo(old);

	/* progress for long exports; the file name is what a user can look for */
	ereport(NOTICE,
			(errmsg("delta_export: wrote data file %d, " INT64_FORMAT " rows, " INT64_FORMAT " bytes",
					list_length(state->added_files), file->rows, file->size),
			 errdetail("File \"%s\".", file->path)));
}

/*
 * Runs the query through a cursor, fetched in chunks so memory does not grow
 * with the result, and writes every row.
 */
static void
write_rows(ExportState *state, Portal portal)
{
	TupleDesc	tupdesc = portal->tupDesc;
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);

	for (;;)
	{
		SPITupleTable *table;
		uint64		fetched;
		MemoryContext old;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		table = SPI_tuptable;
		fetched = SPI_processed;
		if (fetched == 0)
		{
			SPI_freetuptable(table);
			break;
		}

		old = MemoryContextSwitchTo(state->batch_context);
		for (uint64 i = 0; i < fetched; i++)
		{
			CHECK_FOR_INTERRUPTS();

			if (state->writer == NULL)
				start_file(state);

			heap_deform_tuple(table->vals[i], tupdesc, values, nulls);
			for (int c = 0; c < state->ncolumns; c++)
			{
				DeltaColumn *column = &state->columns[c];

				delta_write_value(state->writer, c, column,
								  values[column->source_index],
								  nulls[column->source_index]);
			}
			parquet_end_row(state->writer);
			state->rows++;

			if (parquet_writer_estimated_size(state->writer) >= state->options->target_file_size)
				finish_file(state);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(state->batch_context);
		SPI_freetuptable(table);
	}

	if (state->writer != NULL)
		finish_file(state);
}

/* ----------------------------------------------------------------
 * Protocol and schema of the commit
 * ----------------------------------------------------------------
 */

static bool
has_feature(List *features, const char *feature)
{
	ListCell   *cell;

	foreach(cell, features)
		if (strcmp(lfirst(cell), feature) == 0)
			return true;
	return false;
}

/*
 * Decides whether the commit carries protocol and metaData actions: always
 * for a new table; for a new schema; and a protocol upgrade when the schema
 * needs timestamp_ntz and the table does not support it yet.
 */
static void
plan_table_changes(ExportState *state, DeltaSnapshot *snapshot,
				   DeltaCommit *commit)
{
	bool		needs_ntz = delta_columns_need_timestamp_ntz(state->columns,
															 state->ncolumns);
	bool		new_schema = false;

	if (snapshot->version >= 0)
	{
		char	   *mismatch = delta_columns_bind(state->columns, state->ncolumns,
												  snapshot->fields, snapshot->nfields,
												  state->options->timestamp_ntz_given);

		if (mismatch != NULL)
		{
			if (!commit->overwrite)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("source does not match the schema of the Delta table at \"%s\"",
								state->path),
						 errdetail_internal("%s", mismatch),
						 errhint("Adjust the source with a query, or use mode => 'overwrite' to replace the table's schema.")));
			new_schema = true;
		}
		/* binding may adopt the table's timestamp_ntz */
		needs_ntz = delta_columns_need_timestamp_ntz(state->columns, state->ncolumns);
	}

	if (snapshot->version < 0 || new_schema)
	{
		commit->write_metadata = true;
		commit->schema_string = delta_schema_string(state->columns, state->ncolumns);
	}

	if (snapshot->version < 0)
	{
		commit->write_protocol = true;
		if (needs_ntz)
		{
			commit->min_reader_version = 3;
			commit->min_writer_version = 7;
			commit->reader_features = list_make1(pstrdup("timestampNtz"));
			commit->writer_features = list_make1(pstrdup("timestampNtz"));
		}
		else
		{
			commit->min_reader_version = 1;
			commit->min_writer_version = 2;
		}
	}
	else if (needs_ntz && !has_feature(snapshot->writer_features, "timestampNtz"))
	{
		commit->write_protocol = true;
		commit->min_reader_version = 3;
		commit->min_writer_version = 7;
		commit->reader_features = lappend(list_copy(snapshot->reader_features),
										  pstrdup("timestampNtz"));
		commit->writer_features = list_copy(snapshot->writer_features);
		/* writer version 2 implied appendOnly and invariants */
		if (snapshot->min_writer_version < 7)
		{
			commit->writer_features = lappend(commit->writer_features, pstrdup("appendOnly"));
			commit->writer_features = lappend(commit->writer_features, pstrdup("invariants"));
		}
		commit->writer_features = lappend(commit->writer_features, pstrdup("timestampNtz"));
	}
}

/* ----------------------------------------------------------------
 * The export
 * ----------------------------------------------------------------
 */

static void
skip_export(DeltaExportResult *result, const DeltaSnapshot *snapshot)
{
	result->version = snapshot->version;
	result->files = 0;
	result->rows = 0;
	result->bytes = 0;
	result->skipped = true;
}

/*
 * The common path of every export.  Exactly one of query and incremental is
 * given.
 */
static void
run_export(const char *query, const DeltaIncrementalSource *incremental,
		   const char *path, const DeltaExportOptions *options,
		   DeltaExportResult *result)
{
	ExportState state;
	MemoryContext caller = CurrentMemoryContext;
	DeltaSnapshot *snapshot;
	DeltaCommit commit;
	bool		has_log;
	bool		overwrite = options->mode == DELTA_EXPORT_OVERWRITE;
	const char *app_id = options->app_id;
	int64		txn_version = options->txn_version;
	int64		recorded = -1;
	int64		exported = -1;
	char	   *kafka_offsets = NULL;
	SPIPlanPtr	plan;
	Portal		portal;
	CachedPlanSource *source;
	ListCell   *cell;

	check_privileges();
	memset(result, 0, sizeof(*result));
	memset(&state, 0, sizeof(state));
	memset(&commit, 0, sizeof(commit));
	state.options = options;
	state.fd = -1;
	state.context = AllocSetContextCreate(CurrentMemoryContext, "Delta export",
										  ALLOCSET_DEFAULT_SIZES);
	state.batch_context = AllocSetContextCreate(state.context, "Delta export rows",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(state.context);

	state.path = delta_canonical_path(path);
	state.dir = delta_dir_open(state.path, false);
	has_log = state.dir != NULL && delta_dir_open_log(state.dir, false);
	snapshot = delta_log_load(state.dir, has_log, overwrite);

	if (snapshot->version >= 0 && options->mode == DELTA_EXPORT_ERROR_IF_EXISTS)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("a Delta table already exists at \"%s\"", state.path),
				 errhint("Use mode => 'append' or mode => 'overwrite'.")));
	if (snapshot->version >= 0 && options->mode == DELTA_EXPORT_IGNORE)
	{
		skip_export(result, snapshot);
		goto done;
	}
	delta_log_check_writable(snapshot, state.path, overwrite);

	/* has this batch been exported already? */
	if (incremental != NULL)
	{
		const char *exported_offsets = NULL;

		app_id = incremental->app_id;
		if (!overwrite && delta_log_txn_version(snapshot, app_id, &recorded))
		{
			exported = recorded;
			exported_offsets = delta_log_txn_offsets(snapshot, app_id);
		}
		query = incremental->rows_after(incremental->arg, exported,
										exported_offsets, &txn_version,
										&kafka_offsets);
		if (query == NULL || (!overwrite && txn_version <= exported))
		{
			ereport(NOTICE,
					(errmsg("delta_export: nothing new to export for \"%s\"", app_id)));
			skip_export(result, snapshot);
			goto done;
		}
	}
	else if (app_id != NULL && !overwrite &&
			 delta_log_txn_version(snapshot, app_id, &recorded) &&
			 recorded >= txn_version)
	{
		ereport(NOTICE,
				(errmsg("delta_export: version " INT64_FORMAT " of \"%s\" is already exported",
						txn_version, app_id),
				 errdetail("The Delta table records version " INT64_FORMAT " for this app_id.",
						   recorded)));
		skip_export(result, snapshot);
		goto done;
	}

	/* the rows */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare_cursor(query, 0, NULL, CURSOR_OPT_NO_SCROLL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_cursor failed: %s", SPI_result_code_string(SPI_result));
	source = list_length(SPI_plan_get_plan_sources(plan)) == 1 ?
		linitial(SPI_plan_get_plan_sources(plan)) : NULL;
	if (source == NULL || source->commandTag != CMDTAG_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the source of a Delta export must be a table or a single SELECT query")));
	foreach(cell, source->query_list)
	{
		Query	   *parsed = lfirst_node(Query, cell);

		/* an export must not change data: the commit cannot be rolled back */
		if (parsed->hasModifyingCTE || parsed->rowMarks != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("the source query of a Delta export must not modify or lock rows")));
	}
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	MemoryContextSwitchTo(state.context);
	{
		DeltaTypeOptions type_options;

		type_options.timestamp_ntz = options->timestamp_ntz;
		type_options.numeric_as_string = options->numeric_as_string;
		state.columns = delta_columns_from_tupdesc(portal->tupDesc, &type_options,
												   &state.ncolumns);
	}

	commit.overwrite = overwrite;
	plan_table_changes(&state, snapshot, &commit);

	state.specs = palloc(sizeof(ParquetColumnSpec) * state.ncolumns);
	for (int c = 0; c < state.ncolumns; c++)
		state.specs[c] = state.columns[c].parquet;
	state.writer_options.codec = options->codec;
	state.writer_options.compression_level = options->compression_level;
	state.writer_options.row_group_size = Min(options->row_group_size,
											  options->target_file_size);
	state.writer_options.page_size = (int) Min((int64) options->page_size,
											   state.writer_options.row_group_size);
	state.writer_options.write_statistics = true;

	write_rows(&state, portal);
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextSwitchTo(state.context);

	/* an append of nothing, without txn to record, changes nothing */
	if (state.rows == 0 && !overwrite && app_id == NULL && snapshot->version >= 0)
	{
		skip_export(result, snapshot);
		result->skipped = false;
		goto done;
	}

	ensure_table_dir(&state);
	(void) delta_dir_open_log(state.dir, true);
	commit.app_id = app_id;
	commit.txn_version = txn_version;
	commit.kafka_offsets = kafka_offsets;
	commit.added_files = state.added_files;
	commit.rows = state.rows;
	commit.bytes = state.bytes;

	for (int attempt = 0;; attempt++)
	{
		size_t		length;
		char	   *text = delta_commit_render(&commit, snapshot, &length);

		if (delta_dir_commit(state.dir, snapshot->version + 1, text, length))
		{
			result->version = snapshot->version + 1;
			result->files = list_length(state.added_files);
			result->rows = state.rows;
			result->bytes = state.bytes;
			break;
		}

		/* another writer took the version: look at what it did */
		delta_log_catch_up(state.dir, snapshot);
		if (snapshot->protocol_changed || snapshot->metadata_changed)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("the Delta table at \"%s\" was changed concurrently", state.path),
					 errdetail("Another writer changed the table's protocol or schema by version " INT64_FORMAT ".",
							   snapshot->version),
					 errhint("Run the export again.")));
		if (app_id != NULL && delta_log_txn_version(snapshot, app_id, &recorded) &&
			recorded >= txn_version)
		{
			/* a concurrent run exported this batch: ours is dropped */
			ereport(NOTICE,
					(errmsg("delta_export: version " INT64_FORMAT " of \"%s\" was exported concurrently",
							txn_version, app_id)));
			skip_export(result, snapshot);
			break;
		}

		/*
		 * Our rows start where the table's record stood when we read it; if a
		 * concurrent export of the same source moved that record (to a batch
		 * older than ours), committing would duplicate its rows.
		 */
		if (incremental != NULL && !overwrite &&
			(delta_log_txn_version(snapshot, app_id, &recorded) ? recorded : -1) != exported)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("the Delta table at \"%s\" was changed concurrently", state.path),
					 errdetail("Another export of \"%s\" committed batch " INT64_FORMAT " first.",
							   app_id, recorded),
					 errhint("Run the export again.")));
		if (attempt >= MAX_COMMIT_ATTEMPTS)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not commit to the Delta table at \"%s\" after %d attempts",
							state.path, MAX_COMMIT_ATTEMPTS),
					 errdetail("Other writers kept committing first.")));
	}

done:
	/* removes data files that did not make it into a commit */
	if (state.dir != NULL)
		delta_dir_close(state.dir);
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(state.context);
}

void
delta_export_query(const char *query, const char *path,
				   const DeltaExportOptions *options, DeltaExportResult *result)
{
	run_export(query, NULL, path, options, result);
}

void
delta_export_incremental(const DeltaIncrementalSource *source, const char *path,
						 const DeltaExportOptions *options,
						 DeltaExportResult *result)
{
	if (options->mode != DELTA_EXPORT_APPEND && options->mode != DELTA_EXPORT_OVERWRITE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a streaming table is exported with mode 'append' or 'overwrite'")));
	run_export(NULL, source, path, options, result);
}

/* ----------------------------------------------------------------
 * SQL interface
 * ----------------------------------------------------------------
 */

static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static DeltaExportMode
parse_mode(const char *value)
{
	if (pg_strcasecmp(value, "append") == 0)
		return DELTA_EXPORT_APPEND;
	if (pg_strcasecmp(value, "overwrite") == 0)
		return DELTA_EXPORT_OVERWRITE;
	if (pg_strcasecmp(value, "errorifexists") == 0 || pg_strcasecmp(value, "error") == 0)
		return DELTA_EXPORT_ERROR_IF_EXISTS;
	if (pg_strcasecmp(value, "ignore") == 0)
		return DELTA_EXPORT_IGNORE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for parameter \"mode\": \"%s\"", value),
			 errhint("Valid values are \"append\", \"overwrite\", \"errorifexists\" and \"ignore\".")));
	return DELTA_EXPORT_APPEND;
}

static ParquetCodec
parse_compression(const char *value)
{
	if (pg_strcasecmp(value, "zstd") == 0)
		return PARQUET_CODEC_ZSTD;
	if (pg_strcasecmp(value, "snappy") == 0)
		return PARQUET_CODEC_SNAPPY;
	if (pg_strcasecmp(value, "uncompressed") == 0 || pg_strcasecmp(value, "none") == 0)
		return PARQUET_CODEC_UNCOMPRESSED;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for parameter \"compression\": \"%s\"", value),
			 errhint("Valid values are \"zstd\", \"snappy\" and \"uncompressed\".")));
	return PARQUET_CODEC_ZSTD;
}

static int64
positive_arg(FunctionCallInfo fcinfo, int n, const char *name, int64 minimum,
			 int64 maximum, int64 fallback)
{
	int64		value;

	if (PG_ARGISNULL(n))
		return fallback;
	value = PG_GETARG_INT64(n);
	if (value < minimum || value > maximum)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for parameter \"%s\": " INT64_FORMAT, name, value),
				 errdetail("The value must be between " INT64_FORMAT " and " INT64_FORMAT ".",
						   minimum, maximum)));
	return value;
}

/*
 * A table name (schema-qualified or not, quoted or not) or a query: the
 * source is a name when it parses as one.
 */
static char *
source_query(const char *source, Oid *relid)
{
	char	   *copy = pstrdup(source);
	List	   *names = NIL;
	List	   *name_list = NIL;
	ListCell   *cell;
	RangeVar   *range;
	char		relkind;

	*relid = InvalidOid;
	if (!SplitIdentifierString(copy, '.', &names) ||
		list_length(names) < 1 || list_length(names) > 3)
		return pstrdup(source);

	foreach(cell, names)
		name_list = lappend(name_list, makeString(lfirst(cell)));
	range = makeRangeVarFromNameList(name_list);
	*relid = RangeVarGetRelid(range, AccessShareLock, false);
	relkind = get_rel_relkind(*relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot export \"%s\": it is not a table, view or materialized view",
						source)));
	return psprintf("SELECT * FROM %s",
					quote_qualified_identifier(get_namespace_name(get_rel_namespace(*relid)),
											   get_rel_name(*relid)));
}

/*
 * kafka.delta_export(source, path, mode, compression, target_file_size,
 *					  app_id, txn_version, timestamp_ntz, numeric_as,
 *					  compression_level, row_group_size, page_size)
 * returns (version, files, rows, bytes)
 */
Datum
kafka_delta_export(PG_FUNCTION_ARGS)
{
	char	   *source = text_arg(fcinfo, 0);
	char	   *path = text_arg(fcinfo, 1);
	char	   *value;
	DeltaExportOptions options;
	DeltaExportResult result;
	DeltaIncrementalSource incremental;
	Oid			relid;
	bool		keyed;
	char	   *query;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	check_privileges();
	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parameter \"source\" must not be null")));
	if (path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parameter \"path\" must not be null")));

	delta_export_default_options(&options);
	if ((value = text_arg(fcinfo, 2)) != NULL)
		options.mode = parse_mode(value);
	if ((value = text_arg(fcinfo, 3)) != NULL)
		options.codec = parse_compression(value);
	options.target_file_size = positive_arg(fcinfo, 4, "target_file_size", 1,
											PG_INT64_MAX, options.target_file_size);
	options.app_id = text_arg(fcinfo, 5);
	if (options.app_id != NULL && options.app_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for parameter \"app_id\": \"\"")));
	if ((options.app_id != NULL) != !PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameters \"app_id\" and \"txn_version\" must be given together")));
	options.txn_version = positive_arg(fcinfo, 6, "txn_version", 0, PG_INT64_MAX, 0);
	if (!PG_ARGISNULL(7))
	{
		options.timestamp_ntz = PG_GETARG_BOOL(7);
		options.timestamp_ntz_given = true;
	}
	if ((value = text_arg(fcinfo, 8)) != NULL)
	{
		if (pg_strcasecmp(value, "string") == 0)
			options.numeric_as_string = true;
		else if (pg_strcasecmp(value, "decimal") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for parameter \"numeric_as\": \"%s\"", value),
					 errhint("Valid values are \"decimal\" and \"string\".")));
	}
	if (!PG_ARGISNULL(9))
	{
		int32		level = PG_GETARG_INT32(9);

		if (options.codec != PARQUET_CODEC_ZSTD)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"compression_level\" is only valid with compression \"zstd\"")));
		if (level < 1 || level > 22)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for parameter \"compression_level\": %d", level),
					 errdetail("The value must be between 1 and 22.")));
		options.compression_level = level;
	}
	options.row_group_size = positive_arg(fcinfo, 10, "row_group_size", 1,
										  PG_INT64_MAX, options.row_group_size);
	if (!PG_ARGISNULL(11))
	{
		int32		page_size = PG_GETARG_INT32(11);

		if (page_size < 1 || page_size > 256 * 1024 * 1024)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for parameter \"page_size\": %d", page_size),
					 errdetail("The value must be between 1 and %d.", 256 * 1024 * 1024)));
		options.page_size = page_size;
	}

	query = source_query(source, &relid);
	keyed = false;
	if (OidIsValid(relid) && delta_stream_source(relid, &incremental, &keyed))
	{
		if (options.app_id != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameters \"app_id\" and \"txn_version\" cannot be given for a streaming table"),
					 errdetail("A streaming table records its own export position.")));
		delta_export_incremental(&incremental, path, &options, &result);
	}
	else
	{
		if (keyed && options.mode == DELTA_EXPORT_APPEND)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot append the keyed streaming table \"%s\" to a Delta table", source),
					 errdetail("Its rows are updated and deleted in place: no offset marks the rows not exported yet."),
					 errhint("Export it with mode => 'overwrite', a snapshot of the whole table.")));
		delta_export_query(query, path, &options, &result);
	}

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Int64GetDatum(result.version);
	values[1] = Int32GetDatum(result.files);
	values[2] = Int64GetDatum(result.rows);
	values[3] = Int64GetDatum(result.bytes);
	if (result.version < 0)
		nulls[0] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
