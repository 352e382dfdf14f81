/*-------------------------------------------------------------------------
 *
 * pb_functions.c
 *	  SQL functions kafka.from_protobuf and kafka.to_protobuf, Spark's
 *	  from_protobuf and to_protobuf over the same Protobuf codec as foreign
 *	  tables of format protobuf.
 *
 * kafka.from_protobuf(value bytea, message text, descriptor bytea, options
 * jsonb) returns the message as jsonb; with NULL::rowtype as its second
 * argument, a row decoded as a foreign table of format protobuf decodes
 * it.  descriptor is a descriptor set (protoc --descriptor_set_out
 * --include_imports); message the full name of the message type.  Options
 * take Spark's names: mode FAILFAST (default: malformed payloads are an
 * ERROR) or PERMISSIVE (NULL), recursive.fields.max.depth, emit.default.values,
 * enums.as.ints.  A NULL value gives NULL.
 *
 * kafka.to_protobuf(record, message, descriptor) encodes a row (or a json/
 * jsonb value) as the message.
 *
 * Descriptor sets are parsed once per call site and kept while the same
 * bytes come back (the usual case: a constant or a column of one table).
 *
 * IDENTIFICATION
 *	  src/protobuf/pb_functions.c
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
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "codec/codec.h"
#include "protobuf/protobuf.h"

PG_FUNCTION_INFO_V1(kafka_from_protobuf_jsonb);
PG_FUNCTION_INFO_V1(kafka_from_protobuf_row);
PG_FUNCTION_INFO_V1(kafka_to_protobuf);

/* The arguments a cached decoder or encoder was made for. */
typedef struct PbCallKey
{
	char	   *message;
	bytea	   *descriptor;
	char	   *options;		/* jsonb text, or NULL */
	Oid			typid;
	int32		typmod;
} PbCallKey;

static bool
same_key(const PbCallKey *a, const PbCallKey *b)
{
	if (strcmp(a->message, b->message) != 0 || a->typid != b->typid ||
		a->typmod != b->typmod)
		return false;
	if ((a->options == NULL) != (b->options == NULL) ||
		(a->options != NULL && strcmp(a->options, b->options) != 0))
		return false;
	return VARSIZE_ANY_EXHDR(a->descriptor) == VARSIZE_ANY_EXHDR(b->descriptor) &&
		memcmp(VARDATA_ANY(a->descriptor), VARDATA_ANY(b->descriptor),
			   VARSIZE_ANY_EXHDR(a->descriptor)) == 0;
}

static PbCallKey *
copy_key(const PbCallKey *key, MemoryContext mcxt)
{
	PbCallKey  *copy = MemoryContextAlloc(mcxt, sizeof(PbCallKey));

	copy->message = MemoryContextStrdup(mcxt, key->message);
	copy->descriptor = MemoryContextAlloc(mcxt, VARSIZE_ANY(key->descriptor));
	memcpy(copy->descriptor, key->descriptor, VARSIZE_ANY(key->descriptor));
	copy->options = key->options ? MemoryContextStrdup(mcxt, key->options) : NULL;
	copy->typid = key->typid;
	copy->typmod = key->typmod;
	return copy;
}

static void
read_key(FunctionCallInfo fcinfo, int message_arg, const char *funcname,
		 PbCallKey *key)
{
	if (PG_ARGISNULL(message_arg) || PG_ARGISNULL(message_arg + 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s needs a message type and a descriptor set", funcname)));
	key->message = text_to_cstring(PG_GETARG_TEXT_PP(message_arg));
	key->descriptor = PG_GETARG_BYTEA_PP(message_arg + 1);
	key->options = NULL;
	if (PG_NARGS() > message_arg + 2 && !PG_ARGISNULL(message_arg + 2))
		key->options = JsonbToCString(NULL,
									  &PG_GETARG_JSONB_P(message_arg + 2)->root,
									  -1);
	key->typid = InvalidOid;
	key->typmod = -1;
}

/* ---- options ------------------------------------------------------------ */

static char *
option_text(JsonbValue *value, const char *name)
{
	switch (value->type)
	{
		case jbvString:
			return pnstrdup(value->val.string.val, value->val.string.len);
		case jbvBool:
			return pstrdup(value->val.boolean ? "true" : "false");
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(value->val.numeric)));
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" must be a string, a number or a boolean", name)));
	}
	return NULL;
}

static bool
option_bool(const char *name, const char *text)
{
	bool		result;

	if (!parse_bool(text, &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be true or false, not \"%s\"", name, text)));
	return result;
}

/* Spark's from_protobuf options from a jsonb object (NULL: defaults). */
static void
parse_options(Jsonb *jsonb, PbFunctionOptions *options)
{
	JsonbIterator *it;
	JsonbValue	value;
	JsonbIteratorToken token;
	char	   *key = NULL;

	memset(options, 0, sizeof(*options));
	options->json.max_recursion = -1;
	if (jsonb == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(jsonb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object, e.g. '{\"mode\": \"PERMISSIVE\"}'")));
	it = JsonbIteratorInit(&jsonb->root);
	while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE)
	{
		char	   *text;

		if (token == WJB_KEY)
		{
			key = pnstrdup(value.val.string.val, value.val.string.len);
			continue;
		}
		if (token != WJB_VALUE)
			continue;
		text = option_text(&value, key);
		if (strcmp(key, "mode") == 0)
		{
			if (pg_strcasecmp(text, "PERMISSIVE") == 0)
				options->permissive = true;
			else if (pg_strcasecmp(text, "FAILFAST") == 0)
				options->permissive = false;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"mode\": \"%s\"", text),
						 errhint("Valid values are FAILFAST and PERMISSIVE.")));
		}
		else if (strcmp(key, "recursive.fields.max.depth") == 0)
		{
			char	   *end;
			long		depth;

			errno = 0;
			depth = strtol(text, &end, 10);
			if (errno != 0 || end == text || *end != '\0' || depth < -1 ||
				depth == 0 || depth > PB_MAX_DEPTH)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"recursive.fields.max.depth\": \"%s\"", text),
						 errhint("Use -1 (no limit but the nesting limit) or 1 to %d.",
								 PB_MAX_DEPTH)));
			options->json.max_recursion = (int) depth;
		}
		else if (strcmp(key, "emit.default.values") == 0)
			options->json.emit_defaults = option_bool(key, text);
		else if (strcmp(key, "enums.as.ints") == 0)
			options->json.enums_as_ints = option_bool(key, text);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("Valid options are mode, recursive.fields.max.depth, emit.default.values and enums.as.ints.")));
	}
}

/* ---- from_protobuf(value, message, descriptor, options) -> jsonb ------- */

typedef struct FromProtobufJsonCache
{
	PbCallKey  *key;
	PbSchema   *schema;
	PbMessage  *message;
	PbFunctionOptions options;
	const PbMessage **path;
} FromProtobufJsonCache;

Datum
kafka_from_protobuf_jsonb(PG_FUNCTION_ARGS)
{
	FromProtobufJsonCache *cache = fcinfo->flinfo->fn_extra;
	PbCallKey	key;
	bytea	   *value;
	StringInfoData json;
	char	   *error;
	char	   *converted;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	read_key(fcinfo, 1, "kafka.from_protobuf", &key);
	if (cache == NULL || !same_key(cache->key, &key))
	{
		MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
		MemoryContext oldcontext;
		KafkaCodecOptions codec = {0};

		if (cache != NULL)
			MemoryContextDelete(GetMemoryChunkContext(cache));
		mcxt = AllocSetContextCreate(mcxt, "kafka.from_protobuf",
									 ALLOCSET_SMALL_SIZES);
		oldcontext = MemoryContextSwitchTo(mcxt);
		cache = palloc0(sizeof(FromProtobufJsonCache));
		cache->key = copy_key(&key, mcxt);
		codec.protobuf_message = cache->key->message;
		codec.protobuf_descriptor = VARDATA_ANY(cache->key->descriptor);
		codec.protobuf_descriptor_len = VARSIZE_ANY_EXHDR(cache->key->descriptor);
		cache->message = pb_message_from_options(&codec, &cache->schema, mcxt);
		parse_options(PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3), &cache->options);
		cache->options.json.schema = cache->schema;
		if (cache->options.json.max_recursion > 0)
		{
			cache->path = palloc0(sizeof(PbMessage *) * (PB_MAX_DEPTH + 2));
			cache->options.json.path = cache->path;
		}
		MemoryContextSwitchTo(oldcontext);
		fcinfo->flinfo->fn_extra = cache;
	}

	value = PG_GETARG_BYTEA_PP(0);
	initStringInfo(&json);
	if (!pb_message_to_json(cache->message, (const uint8 *) VARDATA_ANY(value),
							VARSIZE_ANY_EXHDR(value), &cache->options.json,
							&json, 0, &error))
	{
		if (cache->options.permissive)
			PG_RETURN_NULL();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("%s", error)));
	}
	converted = pg_any_to_server(json.data, json.len, PG_UTF8);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(converted));
}

/* ---- from_protobuf(value, rowtype, message, descriptor, options) -> row - */

typedef struct FromProtobufRowCache
{
	PbCallKey  *key;
	bool		permissive;
	TupleDesc	desc;
	KafkaDecoder *decoder;
	Datum	   *values;
	bool	   *nulls;
} FromProtobufRowCache;

Datum
kafka_from_protobuf_row(PG_FUNCTION_ARGS)
{
	FromProtobufRowCache *cache = fcinfo->flinfo->fn_extra;
	PbCallKey	key;
	int32		typmod;
	Oid			typid = kafka_rowtype_argument(fcinfo, 1, "kafka.from_protobuf", &typmod);
	bytea	   *value;
	char	   *error;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	read_key(fcinfo, 2, "kafka.from_protobuf", &key);
	key.typid = typid;
	key.typmod = typmod;
	if (cache == NULL || !same_key(cache->key, &key))
	{
		MemoryContext mcxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												   "kafka.from_protobuf",
												   ALLOCSET_SMALL_SIZES);
		MemoryContext oldcontext;
		KafkaCodecOptions codec = {0};
		PbFunctionOptions options;

		if (cache != NULL)
			MemoryContextDelete(GetMemoryChunkContext(cache));
		oldcontext = MemoryContextSwitchTo(mcxt);
		cache = palloc0(sizeof(FromProtobufRowCache));
		cache->key = copy_key(&key, mcxt);
		parse_options(PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), &options);
		cache->permissive = options.permissive;
		codec.protobuf_message = cache->key->message;
		codec.protobuf_descriptor = VARDATA_ANY(cache->key->descriptor);
		codec.protobuf_descriptor_len = VARSIZE_ANY_EXHDR(cache->key->descriptor);
		codec.protobuf_emit_defaults = options.json.emit_defaults;
		cache->desc = lookup_rowtype_tupdesc_copy(typid, typmod);
		cache->decoder = kafka_decoder_create_with(KAFKA_FORMAT_PROTOBUF,
												   cache->desc, NULL, mcxt,
												   &codec);
		if (!cache->permissive)
			kafka_decoder_allow_throw(cache->decoder);
		cache->values = palloc(sizeof(Datum) * Max(cache->desc->natts, 1));
		cache->nulls = palloc(sizeof(bool) * Max(cache->desc->natts, 1));
		MemoryContextSwitchTo(oldcontext);
		fcinfo->flinfo->fn_extra = cache;
	}

	value = PG_GETARG_BYTEA_PP(0);
	for (int i = 0; i < cache->desc->natts; i++)
		cache->nulls[i] = true;
	if (!kafka_decoder_decode(cache->decoder, VARDATA_ANY(value),
							  VARSIZE_ANY_EXHDR(value), cache->values,
							  cache->nulls, &error))
	{
		if (cache->permissive)
			PG_RETURN_NULL();
		ereport(ERROR,
				(errcode(kafka_decoder_error_code(cache->decoder)),
				 errmsg("%s", error)));
	}
	return HeapTupleGetDatum(heap_form_tuple(cache->desc, cache->values,
											 cache->nulls));
}

/* ---- to_protobuf(record, message, descriptor) -> bytea ------------------ */

typedef struct ToProtobufCache
{
	PbCallKey  *key;
	KafkaValueEncoder *encoder;
} ToProtobufCache;

Datum
kafka_to_protobuf(PG_FUNCTION_ARGS)
{
	ToProtobufCache *cache = fcinfo->flinfo->fn_extra;
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Datum		value;
	PbCallKey	key;
	bytea	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	value = PG_GETARG_DATUM(0);
	read_key(fcinfo, 1, "kafka.to_protobuf", &key);
	if (!OidIsValid(typid))
		elog(ERROR, "could not determine the type of the kafka.to_protobuf argument");
	key.typid = typid;
	if (typid == RECORDOID)
		key.typmod = HeapTupleHeaderGetTypMod(DatumGetHeapTupleHeader(value));

	if (cache == NULL || !same_key(cache->key, &key))
	{
		MemoryContext mcxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												   "kafka.to_protobuf",
												   ALLOCSET_SMALL_SIZES);
		MemoryContext oldcontext;
		KafkaCodecOptions codec = {0};

		if (cache != NULL)
			MemoryContextDelete(GetMemoryChunkContext(cache));
		oldcontext = MemoryContextSwitchTo(mcxt);
		cache = palloc0(sizeof(ToProtobufCache));
		cache->key = copy_key(&key, mcxt);
		codec.protobuf_message = cache->key->message;
		codec.protobuf_descriptor = VARDATA_ANY(cache->key->descriptor);
		codec.protobuf_descriptor_len = VARSIZE_ANY_EXHDR(cache->key->descriptor);
		cache->encoder = kafka_value_encoder_create(KAFKA_FORMAT_PROTOBUF, typid,
													key.typmod, mcxt, &codec);
		MemoryContextSwitchTo(oldcontext);
		fcinfo->flinfo->fn_extra = cache;
	}

	result = kafka_value_encoder_encode(cache->encoder, value);
	PG_RETURN_BYTEA_P(result);
}
