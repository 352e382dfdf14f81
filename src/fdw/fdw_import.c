/*-------------------------------------------------------------------------
 *
 * fdw_import.c
 *	  IMPORT FOREIGN SCHEMA for kafka servers.
 *
 * A kafka server has two remote schemas:
 *
 *	"registry"	one foreign table per topic whose <topic>-value subject
 *				(TopicNameStrategy) is in the server's Schema Registry,
 *				with a column per field of the subject's latest schema, the
 *				format that schema type is read with, and a key column
 *				typed from the <topic>-key subject when there is one;
 *	"topics"	one foreign table per topic with the raw key and value
 *				(bytea), for topics without a schema.
 *
 * Both add the metadata columns (<prefix>partition, <prefix>offset,
 * <prefix>timestamp; the key is <prefix>key in "registry").  Topics come
 * from the brokers' metadata, internal ones (a name starting with "_", such
 * as __consumer_offsets or _schemas) left out.  A topic without a value
 * subject, a subject without a topic and a schema that cannot be imported
 * are skipped with a NOTICE, so one odd topic does not stop the import of
 * the others.  Table names are the topic names; LIMIT TO and EXCEPT name
 * topics, and are applied before the registry is asked about them.
 *
 * Columns from a registered schema: the format table's entry for its
 * schemaType (KafkaFormatDef.schema_columns, in the format's own folder).
 * The column types are those the format's decoder reads every value of the
 * schema into exactly.
 *
 * The importing user's user mapping gives the Kafka and registry
 * credentials, as reading does.
 *
 * IDENTIFICATION
 *	  src/fdw/fdw_import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "client.h"
#include "codec/codec.h"
#include "fdw/fdw_import.h"
#include "options.h"
#include "registry/schema_registry.h"

/* What IMPORT FOREIGN SCHEMA ... OPTIONS (...) asked for. */
typedef struct ImportOptions
{
	bool		registry;		/* remote schema "registry", else "topics" */
	const char *format;			/* option format, or NULL */
	const char *key_format;		/* option key_format, or NULL */
	const char *metadata_prefix;
	bool		include_metadata;
} ImportOptions;

/* ---- options ------------------------------------------------------------- */

/* Formats a registered schema can be imported in ("registry"). */
static bool
importable_format(const KafkaFormatDef *format, uint32 arg)
{
	return format->registry_schema_type != NULL;
}

/* Formats of a whole value in one column ("topics"). */
static bool
single_column_format(const KafkaFormatDef *format, uint32 arg)
{
	return (format->flags & KAFKA_FORMAT_RECORD) == 0;
}

static bool
any_format(const KafkaFormatDef *format, uint32 arg)
{
	return true;
}

/*
 * A format option's value: one of the formats keep keeps, else an ERROR
 * whose hint (a format string) gets their names.
 */
static const char *
check_format(const char *option, const char *value,
			 bool (*keep) (const KafkaFormatDef *format, uint32 arg),
			 const char *last_word, const char *hint)
{
	const KafkaFormatDef *format = kafka_format_find(value, false);

	if (format == NULL || !keep(format, 0))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for IMPORT FOREIGN SCHEMA option \"%s\": \"%s\"",
						option, value),
				 errhint(hint, kafka_format_list_where(keep, 0, "", last_word))));
	return format->name;
}

static void
parse_import_options(ImportForeignSchemaStmt *stmt, ImportOptions *options)
{
	ListCell   *lc;

	memset(options, 0, sizeof(ImportOptions));
	options->metadata_prefix = "_";
	options->include_metadata = true;

	if (strcmp(stmt->remote_schema, "registry") == 0)
		options->registry = true;
	else if (strcmp(stmt->remote_schema, "topics") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("kafka server \"%s\" has no remote schema \"%s\"",
						stmt->server_name, stmt->remote_schema),
				 errhint("Import from \"registry\" (topics with a schema in the Schema Registry, typed columns) or \"topics\" (every topic, raw key and value).")));

	foreach(lc, stmt->options)
	{
		DefElem    *def = lfirst(lc);
		const char *value = defGetString(def);

		if (strcmp(def->defname, "format") == 0)
		{
			if (options->registry)
				options->format =
					check_format("format", value, importable_format, "or",
								 "From \"registry\" the payload format is %s (the default is the subject's schema type).");
			else
				options->format =
					check_format("format", value, single_column_format, "or",
								 "From \"topics\" the value is %s (raw, bytea, is the default).");
		}
		else if (strcmp(def->defname, "key_format") == 0)
			options->key_format =
				check_format("key_format", value, any_format, "and",
							 "Valid key formats are %s.");
		else if (strcmp(def->defname, "metadata_prefix") == 0)
			options->metadata_prefix = value;
		else if (strcmp(def->defname, "include_metadata") == 0)
		{
			if (!parse_bool(value, &options->include_metadata))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for IMPORT FOREIGN SCHEMA option \"include_metadata\": \"%s\"",
								value),
						 errhint("Give a boolean: true or false.")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid IMPORT FOREIGN SCHEMA option \"%s\"", def->defname),
					 errhint("Valid options are format, key_format, metadata_prefix and include_metadata.")));
	}
}

/* ---- topics -------------------------------------------------------------- */

static int
compare_names(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/* The server's topics, internal ones left out, sorted by name. */
static List *
list_topics(ForeignServer *server)
{
	KafkaConnectionSpec *spec = kafka_connection_for_server(server, GetUserId());
	KafkaClient *client = kafka_client_create(spec, KAFKA_CLIENT_CONSUMER);
	const struct rd_kafka_metadata *md = kafka_client_metadata(client);
	List	   *topics = NIL;

	PG_TRY();
	{
		for (int i = 0; i < md->topic_cnt; i++)
		{
			const struct rd_kafka_metadata_topic *t = &md->topics[i];

			if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR || t->topic == NULL ||
				t->topic[0] == '_' || t->topic[0] == '\0')
				continue;
			topics = lappend(topics, pstrdup(t->topic));
		}
	}
	PG_FINALLY();
	{
		rd_kafka_metadata_destroy(md);
	}
	PG_END_TRY();
	kafka_client_close(client);
	list_sort(topics, compare_names);
	return topics;
}

/* The name of a topic's table: the topic, cut as identifiers are. */
static char *
table_name_for(const char *topic)
{
	/* topic names are ASCII: a byte is a character */
	return pnstrdup(topic, NAMEDATALEN - 1);
}

static bool
list_has_name(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

/* ---- statements ---------------------------------------------------------- */

ImportColumn *
kafka_import_column(const char *name, const char *type, const char *kafka)
{
	ImportColumn *column = palloc0(sizeof(ImportColumn));

	column->name = (char *) name;
	column->type = type;
	column->kafka = kafka;
	return column;
}

static List *
add_metadata_columns(List *columns, const ImportOptions *options)
{
	const char *prefix = options->metadata_prefix;

	columns = lappend(columns, kafka_import_column(psprintf("%spartition", prefix),
										  "integer", "partition"));
	columns = lappend(columns, kafka_import_column(psprintf("%soffset", prefix),
										  "bigint", "offset"));
	columns = lappend(columns, kafka_import_column(psprintf("%stimestamp", prefix),
										  "timestamptz", "timestamp"));
	return columns;
}

/*
 * Why the columns cannot make a table, or NULL: a name given twice, or one
 * no column can have (empty, or longer than an identifier: a column cut
 * short would never match its field).
 */
static char *
unusable_columns(List *columns, bool *twice)
{
	ListCell   *a;
	ListCell   *b;

	*twice = false;
	foreach(a, columns)
	{
		ImportColumn *x = lfirst(a);

		if (x->name[0] == '\0')
			return pstrdup("a field has an empty name");
		if (strlen(x->name) >= NAMEDATALEN)
			return psprintf("column name \"%s\" is longer than %d bytes",
							x->name, NAMEDATALEN - 1);
	}
	foreach(a, columns)
	{
		ImportColumn *x = lfirst(a);

		for_each_cell(b, columns, lnext(columns, a))
		{
			ImportColumn *y = lfirst(b);

			*twice = strcmp(x->name, y->name) == 0;
			if (*twice)
				return psprintf("column \"%s\" would be declared twice", x->name);
		}
	}
	return NULL;
}

static char *
create_statement(const char *topic, List *columns, ForeignServer *server,
				 const char *format, const char *key_format)
{
	StringInfoData sql;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE FOREIGN TABLE %s (",
					 quote_identifier(table_name_for(topic)));
	foreach(lc, columns)
	{
		ImportColumn *column = lfirst(lc);

		appendStringInfo(&sql, "%s\n  %s %s", first ? "" : ",",
						 quote_identifier(column->name), column->type);
		if (column->kafka)
			appendStringInfo(&sql, " OPTIONS (kafka %s)",
							 quote_literal_cstr(column->kafka));
		first = false;
	}
	appendStringInfo(&sql, ")\n  SERVER %s OPTIONS (topic %s, format %s",
					 quote_identifier(server->servername),
					 quote_literal_cstr(topic), quote_literal_cstr(format));
	if (key_format != NULL)
		appendStringInfo(&sql, ", key_format %s", quote_literal_cstr(key_format));
	appendStringInfoString(&sql, ")");
	return sql.data;
}

/* The key column's type and key_format option (NULL: raw bytea). */
static const char *
key_column_type(const char *key_format, const char **table_key_format)
{
	const KafkaFormatDef *format;

	*table_key_format = NULL;
	if (key_format == NULL)
		return "bytea";
	format = kafka_format_by_name(key_format);
	if (format->flags & KAFKA_FORMAT_BYTES)
		return "bytea";			/* a bytea key column's default */
	*table_key_format = format->name;
	if ((format->flags & KAFKA_FORMAT_RECORD) == 0)
		return "text";
	return "jsonb";				/* a whole document without its schema */
}

static List *
import_topics(List *topics, ForeignServer *server, const ImportOptions *options)
{
	List	   *statements = NIL;
	ListCell   *lc;

	foreach(lc, topics)
	{
		char	   *topic = lfirst(lc);
		List	   *columns = NIL;
		const char *key_format;
		const char *key_type = key_column_type(options->key_format, &key_format);
		const char *format = options->format ? options->format : "raw";
		char	   *why;
		bool		twice;

		columns = lappend(columns, kafka_import_column("key", key_type, "key"));
		columns = lappend(columns, kafka_import_column("value",
											  (kafka_format_by_name(format)->flags & KAFKA_FORMAT_BYTES) ?
											  "bytea" : "text",
											  NULL));
		if (options->include_metadata)
			columns = add_metadata_columns(columns, options);
		if ((why = unusable_columns(columns, &twice)) != NULL)
		{
			ereport(NOTICE,
					(errmsg("topic \"%s\" skipped: %s", topic, why),
					 twice ? errhint("Give IMPORT FOREIGN SCHEMA a metadata_prefix option that no column name starts with.") : 0));
			continue;
		}
		statements = lappend(statements,
							 create_statement(topic, columns, server, format,
											  key_format));
	}
	return statements;
}

/*
 * The latest schema of subject as the registry stores it now (not cached:
 * an import wants the registry as it is); NULL when the subject is gone.
 */
static KafkaRegistrySchema *
latest_schema(KafkaRegistry *registry, const char *subject)
{
	KafkaRegistrySchema *schema = kafka_registry_subject_version(registry, subject,
																 -1, NULL);

	if (schema == NULL || schema->schema == NULL)
		return NULL;
	return schema;
}

/*
 * The key column from the <topic>-key subject (when key_format was not
 * given): its format's reading of the whole key, else the raw bytes.
 */
static const char *
registry_key_type(KafkaRegistry *registry, const char *topic,
				  List *subjects, const ImportOptions *options,
				  const char **table_key_format)
{
	char	   *subject = psprintf("%s-key", topic);
	KafkaRegistrySchema *schema = NULL;
	const KafkaFormatDef *importer = NULL;
	const char *type;

	if (list_has_name(subjects, subject))
		schema = latest_schema(registry, subject);
	if (schema != NULL)
		importer = kafka_format_for_schema_type(schema->schema_type);

	if (options->key_format != NULL)
	{
		/* a key in the format of its schema gets that schema's type */
		if (importer != NULL && strcmp(options->key_format, importer->name) == 0 &&
			(importer->flags & KAFKA_FORMAT_REGISTRY) &&
			(type = importer->schema_value_type(registry, schema)) != NULL)
		{
			*table_key_format = importer->name;
			return type;
		}
		return key_column_type(options->key_format, table_key_format);
	}
	if (importer == NULL || (type = importer->schema_value_type(registry, schema)) == NULL)
	{
		*table_key_format = NULL;
		return "bytea";
	}
	*table_key_format = importer->name;
	return type;
}

static List *
import_registry(List *topics, ForeignServer *server, ImportForeignSchemaStmt *stmt,
				const ImportOptions *options, List **all_subjects)
{
	KafkaRegistry *registry = kafka_registry_for_server(server->servername,
													  GetUserId());
	List	   *subjects = kafka_registry_subjects(registry);
	List	   *statements = NIL;
	ListCell   *lc;

	foreach(lc, topics)
	{
		char	   *topic = lfirst(lc);
		char	   *subject = psprintf("%s-value", topic);
		KafkaRegistrySchema *schema;
		const KafkaFormatDef *importer;
		List	   *schema_columns;
		List	   *columns = NIL;
		ListCell   *sc;
		char	   *why = NULL;
		const char *key_type;
		const char *key_format;
		bool		twice;

		if (!list_has_name(subjects, subject))
		{
			ereport(NOTICE,
					(errmsg("topic \"%s\" skipped: the schema registry has no subject \"%s\"",
							topic, subject),
					 errhint("Import it from \"topics\" to read its raw key and value.")));
			continue;
		}
		schema = latest_schema(registry, subject);
		if (schema == NULL)
		{
			ereport(NOTICE,
					(errmsg("topic \"%s\" skipped: subject \"%s\" was deleted during the import",
							topic, subject)));
			continue;
		}
		importer = kafka_format_for_schema_type(schema->schema_type);
		if (importer == NULL)
		{
			ereport(NOTICE,
					(errmsg("topic \"%s\" skipped: subject \"%s\" has a %s schema, which cannot be imported",
							topic, subject, schema->schema_type),
					 errdetail("Schema types imported: %s.", kafka_format_schema_types())));
			continue;
		}
		if (!importer->schema_columns(registry, schema, &schema_columns, &why))
		{
			ereport(NOTICE,
					(errmsg("topic \"%s\" skipped: subject \"%s\" cannot be imported",
							topic, subject),
					 errdetail("%s", why)));
			continue;
		}
		foreach(sc, schema_columns)
		{
			KafkaSchemaColumn *column = lfirst(sc);

			columns = lappend(columns, kafka_import_column(column->name,
														   column->type, NULL));
		}
		if (options->include_metadata)
		{
			key_type = registry_key_type(registry, topic, subjects, options,
										 &key_format);
			columns = lappend(columns,
							  kafka_import_column(psprintf("%skey", options->metadata_prefix),
										 key_type, "key"));
			columns = add_metadata_columns(columns, options);
		}
		else
			key_format = NULL;
		if ((why = unusable_columns(columns, &twice)) != NULL)
		{
			ereport(NOTICE,
					(errmsg("topic \"%s\" skipped: %s", topic, why),
					 twice ?
					 errhint("Give IMPORT FOREIGN SCHEMA a metadata_prefix option that no field name starts with.") : 0));
			continue;
		}
		statements = lappend(statements,
							 create_statement(topic, columns, server,
											  options->format ? options->format : importer->name,
											  key_format));
	}

	/* a value subject without its topic: nothing to read yet */
	foreach(lc, subjects)
	{
		char	   *subject = lfirst(lc);
		size_t		len = strlen(subject);
		char	   *topic;

		if (len <= 6 || strcmp(subject + len - 6, "-value") != 0)
			continue;
		topic = pnstrdup(subject, len - 6);
		if (topic[0] == '_' || list_has_name(topics, topic) ||
			!IsImportableForeignTable(table_name_for(topic), stmt))
			continue;
		ereport(NOTICE,
				(errmsg("subject \"%s\" skipped: server \"%s\" has no topic \"%s\"",
						subject, server->servername, topic),
				 errhint("Import it again once the topic exists.")));
	}
	*all_subjects = subjects;
	return statements;
}

List *
kafka_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid server_oid)
{
	ForeignServer *server = GetForeignServer(server_oid);
	ImportOptions options;
	List	   *all_topics;
	List	   *topics = NIL;
	List	   *table_names = NIL;
	List	   *subjects = NIL;
	List	   *statements;
	ListCell   *lc;

	parse_import_options(stmt, &options);
	if (options.registry)
	{
		KafkaConnectionSpec *spec = kafka_connection_for_server(server, GetUserId());

		if (spec->schema_registry_url == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("server \"%s\" has no schema_registry_url option",
							server->servername),
					 errhint("IMPORT FOREIGN SCHEMA \"registry\" types the tables from the Schema Registry: set schema_registry_url on the server, or import \"topics\" for raw tables.")));
	}

	all_topics = list_topics(server);
	foreach(lc, all_topics)
	{
		char	   *topic = lfirst(lc);
		char	   *name = table_name_for(topic);

		if (!IsImportableForeignTable(name, stmt))
			continue;
		/* two long topic names that PostgreSQL would cut to one table name */
		if (list_has_name(table_names, name))
		{
			ereport(NOTICE,
					(errmsg("topic \"%s\" skipped: its table name \"%s\" is taken by another topic",
							topic, name),
					 errdetail("Table names are cut to %d bytes.", NAMEDATALEN - 1)));
			continue;
		}
		table_names = lappend(table_names, name);
		topics = lappend(topics, topic);
	}

	if (options.registry)
		statements = import_registry(topics, server, stmt, &options, &subjects);
	else
		statements = import_topics(topics, server, &options);

	/* LIMIT TO a name that is no topic: say so, rather than import nothing */
	if (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO)
	{
		foreach(lc, stmt->table_list)
		{
			RangeVar   *rv = lfirst(lc);

			/* (a value subject without its topic had its NOTICE) */
			if (!list_has_name(table_names, rv->relname) &&
				!list_has_name(subjects, psprintf("%s-value", rv->relname)))
				ereport(NOTICE,
						(errmsg("server \"%s\" has no topic \"%s\"",
								server->servername, rv->relname)));
		}
	}
	return statements;
}
