/*-------------------------------------------------------------------------
 *
 * avro_functions.c
 *	  SQL functions kafka.from_avro and kafka.to_avro, Spark's from_avro and
 *	  to_avro over the same Avro codec as foreign and streaming tables.
 *
 * kafka.from_avro(value bytea, server, schema) returns the Avro value as
 * jsonb; kafka.from_avro(value, NULL::rowtype, server, schema) returns a
 * row decoded like a foreign table of format avro.  With server (a
 * kafka_fdw server with schema_registry_url) the value is in the Confluent
 * wire format; with schema it is plain Avro written with that schema.  A
 * NULL value gives NULL; anything malformed is an ERROR.
 *
 * kafka.to_avro(record, server, subject) encodes a row in the Confluent
 * wire format with the schema derived from its columns, registered under
 * subject (or found there); a scalar is encoded as a bare Avro value.
 *
 * IDENTIFICATION
 *	  src/avro/avro_functions.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "avro/avro_values.h"

PG_FUNCTION_INFO_V1(kafka_from_avro_jsonb);
PG_FUNCTION_INFO_V1(kafka_from_avro_row);
PG_FUNCTION_INFO_V1(kafka_to_avro);

static char *
text_arg_or_null(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static bool
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_source_arguments(const char *server, const char *schema)
{
	if (server == NULL && schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kafka.from_avro needs server (for the Confluent wire format) or schema (for plain Avro)")));
}

/* ---- from_avro(value, server, schema) -> jsonb -------------------------- */

typedef struct FromAvroJsonCache
{
	char	   *server;
	char	   *schema;
	AvroSource	source;
} FromAvroJsonCache;

Datum
kafka_from_avro_jsonb(PG_FUNCTION_ARGS)
{
	FromAvroJsonCache *cache = fcinfo->flinfo->fn_extra;
	char	   *server = text_arg_or_null(fcinfo, 1);
	char	   *schema = text_arg_or_null(fcinfo, 2);
	bytea	   *value;
	const char *data;
	size_t		len;
	AvroNode   *writer;
	int32		id;
	char	   *error;
	AvroCursor	cursor;
	StringInfoData json;
	char	   *converted;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	check_source_arguments(server, schema);
	if (cache == NULL || !same_string(cache->server, server) ||
		!same_string(cache->schema, schema))
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		KafkaCodecOptions options = {0};

		cache = palloc0(sizeof(FromAvroJsonCache));
		cache->server = server ? pstrdup(server) : NULL;
		cache->schema = schema ? pstrdup(schema) : NULL;
		options.server_name = cache->server;
		if (cache->schema != NULL)
			options.format_options =
				list_make1(makeDefElem("avro_schema",
									   (Node *) makeString(cache->schema), -1));
		avro_source_init(&cache->source, &options);
		MemoryContextSwitchTo(oldcontext);
		fcinfo->flinfo->fn_extra = cache;
	}

	value = PG_GETARG_BYTEA_PP(0);
	data = VARDATA_ANY(value);
	len = VARSIZE_ANY_EXHDR(value);
	if (!avro_source_writer_schema(&cache->source, &data, &len, &writer, &id,
								   &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("%s", error)));
	cursor.p = (const uint8 *) data;
	cursor.end = cursor.p + len;
	cursor.too_deep = false;
	initStringInfo(&json);
	if (!kafka_avro_value_to_json(&cursor, writer, &json, 0, &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 id >= 0 ? errmsg("%s (schema id %d)", error, id) : errmsg("%s", error)));
	if (cursor.p != cursor.end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("%d bytes left after the Avro value",
						(int) (cursor.end - cursor.p))));
	converted = pg_any_to_server(json.data, json.len, PG_UTF8);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(converted));
}

/* ---- from_avro(value, rowtype, server, schema) -> row ------------------- */

typedef struct FromAvroRowCache
{
	Oid			typid;
	int32		typmod;
	char	   *server;
	char	   *schema;
	KafkaRowDecoder *row;
} FromAvroRowCache;

Datum
kafka_from_avro_row(PG_FUNCTION_ARGS)
{
	FromAvroRowCache *cache = fcinfo->flinfo->fn_extra;
	int32		typmod;
	Oid			typid = kafka_rowtype_argument(fcinfo, 1, "kafka.from_avro", &typmod);
	char	   *server = text_arg_or_null(fcinfo, 2);
	char	   *schema = text_arg_or_null(fcinfo, 3);
	bytea	   *value;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	check_source_arguments(server, schema);

	if (cache == NULL || cache->typid != typid || cache->typmod != typmod ||
		!same_string(cache->server, server) || !same_string(cache->schema, schema))
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		KafkaCodecOptions options = {0};

		cache = palloc0(sizeof(FromAvroRowCache));
		cache->typid = typid;
		cache->typmod = typmod;
		cache->server = server ? pstrdup(server) : NULL;
		cache->schema = schema ? pstrdup(schema) : NULL;
		options.server_name = cache->server;
		if (cache->schema != NULL)
			options.format_options =
				list_make1(makeDefElem("avro_schema",
									   (Node *) makeString(cache->schema), -1));
		cache->row = kafka_row_decoder_create(KAFKA_FORMAT_AVRO, typid, typmod,
											  fcinfo->flinfo->fn_mcxt, &options);
		MemoryContextSwitchTo(oldcontext);
		fcinfo->flinfo->fn_extra = cache;
	}

	value = PG_GETARG_BYTEA_PP(0);
	return kafka_row_decoder_decode(cache->row, VARDATA_ANY(value),
									VARSIZE_ANY_EXHDR(value));
}

/* ---- to_avro(record, server, subject) -> bytea -------------------------- */

typedef struct ToAvroCache
{
	Oid			typid;
	int32		typmod;
	char	   *server;
	char	   *subject;
	KafkaValueEncoder *encoder;
} ToAvroCache;

Datum
kafka_to_avro(PG_FUNCTION_ARGS)
{
	ToAvroCache *cache = fcinfo->flinfo->fn_extra;
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);
	int32		typmod = -1;
	char	   *server;
	char	   *subject;
	Datum		value = PG_GETARG_DATUM(0);
	bytea	   *result;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("kafka.to_avro needs a server and a subject")));
	server = text_to_cstring(PG_GETARG_TEXT_PP(1));
	subject = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (subject[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("subject must not be empty")));
	if (!OidIsValid(typid))
		elog(ERROR, "could not determine the type of the kafka.to_avro argument");
	if (typid == RECORDOID)
		typmod = HeapTupleHeaderGetTypMod(DatumGetHeapTupleHeader(value));

	if (cache == NULL || cache->typid != typid || cache->typmod != typmod ||
		strcmp(cache->server, server) != 0 || strcmp(cache->subject, subject) != 0)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		KafkaCodecOptions options = {0};

		cache = palloc0(sizeof(ToAvroCache));
		cache->typid = typid;
		cache->typmod = typmod;
		cache->server = pstrdup(server);
		cache->subject = pstrdup(subject);
		options.server_name = cache->server;
		options.subject = cache->subject;
		cache->encoder = kafka_value_encoder_create(KAFKA_FORMAT_AVRO, typid, typmod,
													fcinfo->flinfo->fn_mcxt,
													&options);
		MemoryContextSwitchTo(oldcontext);
		fcinfo->flinfo->fn_extra = cache;
	}

	result = kafka_value_encoder_encode(cache->encoder, value);
	PG_RETURN_BYTEA_P(result);
}
