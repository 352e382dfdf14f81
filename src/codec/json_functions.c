/*-------------------------------------------------------------------------
 *
 * json_functions.c
 *	  SQL functions kafka.from_json and kafka.to_json, Spark's from_json and
 *	  to_json over the same codec as foreign and streaming tables.
 *
 * kafka.from_json(value bytea|text, rowtype anyelement) returns a row of
 * rowtype's type, decoded by the rules of the json format (see
 * json_decode.c).  A NULL value gives NULL.  A malformed payload, or a value
 * that does not fit its column, raises an ERROR: invalid_text_representation
 * (22P02) for bad JSON, character_not_in_repertoire (22021) for bad UTF-8,
 * and the type's own SQLSTATE (e.g. numeric_value_out_of_range) for values;
 * the message names the field and column.  Callers who want to skip or keep
 * bad messages use a foreign table's on_error instead.
 *
 * kafka.to_json(anyelement) returns the compact JSON text that format json
 * produces for a row (see json_encode.c); other values give their JSON
 * value.  It returns text, like Spark's to_json returns a string.
 *
 * IDENTIFICATION
 *	  src/codec/json_functions.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "codec/codec_internal.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(kafka_from_json_bytea);
PG_FUNCTION_INFO_V1(kafka_from_json_text);
PG_FUNCTION_INFO_V1(kafka_to_json);

/* Kept in fn_extra: one decoder per call site, rebuilt if the type changes. */
typedef struct FromJsonCache
{
	Oid			typid;
	int32		typmod;
	KafkaRowDecoder *row;
} FromJsonCache;

typedef struct ToJsonCache
{
	Oid			typid;
	int32		typmod;
	KafkaJsonWriter *writer;
} ToJsonCache;

/*
 * The row type given as argument argno of a from_json / from_avro style
 * function (NULL::my_table or a record value), with its typmod.
 */
Oid
kafka_rowtype_argument(FunctionCallInfo fcinfo, int argno, const char *funcname,
					   int32 *typmod)
{
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, argno);

	*typmod = -1;
	if (!OidIsValid(typid))
		elog(ERROR, "could not determine the type of the rowtype argument");
	if (typid == RECORDOID)
	{
		if (PG_ARGISNULL(argno))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not determine the row type for %s", funcname),
					 errhint("Pass NULL cast to a table or composite type, e.g. NULL::my_table, as the second argument.")));
		*typmod = HeapTupleHeaderGetTypMod(PG_GETARG_HEAPTUPLEHEADER(argno));
	}
	else if (get_typtype(typid) != TYPTYPE_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s needs a row type, not type %s",
						funcname, format_type_be(typid)),
				 errhint("Pass NULL cast to a table or composite type, e.g. NULL::my_table, as the second argument.")));
	return typid;
}

KafkaRowDecoder *
kafka_row_decoder_create(KafkaFormat format, Oid typid, int32 typmod,
						 MemoryContext mcxt, const KafkaCodecOptions *options)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(mcxt);
	KafkaRowDecoder *row = palloc0(sizeof(KafkaRowDecoder));
	int			natts;

	row->desc = lookup_rowtype_tupdesc_copy(typid, typmod);
	natts = Max(row->desc->natts, 1);
	row->decoder = kafka_decoder_create_with(format, row->desc, NULL, mcxt, options);
	/* any failure becomes an ERROR anyway: no subtransactions needed */
	kafka_decoder_allow_throw(row->decoder);
	row->values = palloc0(sizeof(Datum) * natts);
	row->nulls = palloc(sizeof(bool) * natts);
	/* dropped columns stay NULL */
	memset(row->nulls, true, sizeof(bool) * natts);
	MemoryContextSwitchTo(oldcontext);
	return row;
}

Datum
kafka_row_decoder_decode(KafkaRowDecoder *row, const char *data, size_t len)
{
	char	   *error;

	if (!kafka_decoder_decode(row->decoder, data, len, row->values, row->nulls,
							  &error))
		ereport(ERROR,
				(errcode(kafka_decoder_error_code(row->decoder)),
				 errmsg("%s", error)));
	return HeapTupleGetDatum(heap_form_tuple(row->desc, row->values, row->nulls));
}

KafkaValueEncoder *
kafka_value_encoder_create(KafkaFormat format, Oid typid, int32 typmod,
						   MemoryContext mcxt, const KafkaCodecOptions *options)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(mcxt);
	KafkaValueEncoder *value = palloc0(sizeof(KafkaValueEncoder));
	KafkaCodecOptions scalar_options = {0};

	value->scalar = !type_is_rowtype(typid);
	if (value->scalar)
	{
		/* the value itself, not a record of fields */
		value->desc = CreateTemplateTupleDesc(1);
		TupleDescInitEntry(value->desc, 1, "value", typid, -1, 0);
		if (options != NULL)
			scalar_options = *options;
		scalar_options.single_value = true;
		options = &scalar_options;
	}
	else
		value->desc = lookup_rowtype_tupdesc_copy(typid, typmod);
	value->encoder = kafka_encoder_create_with(format, value->desc, NULL, mcxt,
											   options);
	MemoryContextSwitchTo(oldcontext);
	return value;
}

bytea *
kafka_value_encoder_encode(KafkaValueEncoder *value, Datum datum)
{
	StringInfoData out;
	bytea	   *result;

	initStringInfo(&out);
	if (value->scalar)
	{
		bool		isnull = false;

		kafka_encoder_encode(value->encoder, &datum, &isnull, &out);
	}
	else
	{
		Datum	   *values = palloc(sizeof(Datum) * Max(value->desc->natts, 1));
		bool	   *nulls = palloc(sizeof(bool) * Max(value->desc->natts, 1));

		kafka_deform_composite(DatumGetHeapTupleHeader(datum), value->desc, values, nulls);
		kafka_encoder_encode(value->encoder, values, nulls, &out);
		pfree(values);
		pfree(nulls);
	}
	result = palloc(out.len + VARHDRSZ);
	SET_VARSIZE(result, out.len + VARHDRSZ);
	memcpy(VARDATA(result), out.data, out.len);
	pfree(out.data);
	return result;
}

static Datum
from_json(FunctionCallInfo fcinfo, const char *data, size_t len)
{
	FromJsonCache *cache = fcinfo->flinfo->fn_extra;
	int32		typmod;
	Oid			typid = kafka_rowtype_argument(fcinfo, 1, "kafka.from_json", &typmod);

	if (cache == NULL || cache->typid != typid || cache->typmod != typmod)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FromJsonCache));
		cache->typid = typid;
		cache->typmod = typmod;
		cache->row = kafka_row_decoder_create(KAFKA_FORMAT_JSON, typid, typmod,
											  fcinfo->flinfo->fn_mcxt, NULL);
		fcinfo->flinfo->fn_extra = cache;
	}
	return kafka_row_decoder_decode(cache->row, data, len);
}

Datum
kafka_from_json_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *value;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	value = PG_GETARG_BYTEA_PP(0);
	return from_json(fcinfo, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

Datum
kafka_from_json_text(PG_FUNCTION_ARGS)
{
	text	   *value;
	const char *data;
	size_t		len;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	value = PG_GETARG_TEXT_PP(0);
	data = VARDATA_ANY(value);
	len = VARSIZE_ANY_EXHDR(value);

	/* payloads are UTF-8: text of another database encoding is converted */
	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII)
	{
		char	   *utf8 = pg_server_to_any(data, (int) len, PG_UTF8);

		if (utf8 != data)
		{
			data = utf8;
			len = strlen(utf8);
		}
	}
	return from_json(fcinfo, data, len);
}

Datum
kafka_to_json(PG_FUNCTION_ARGS)
{
	ToJsonCache *cache = fcinfo->flinfo->fn_extra;
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);
	int32		typmod = -1;
	Datum		value = PG_GETARG_DATUM(0);
	StringInfoData json;
	char	   *converted;

	if (!OidIsValid(typid))
		elog(ERROR, "could not determine the type of the kafka.to_json argument");
	if (typid == RECORDOID)
		typmod = HeapTupleHeaderGetTypMod(DatumGetHeapTupleHeader(value));

	if (cache == NULL || cache->typid != typid || cache->typmod != typmod)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		cache = palloc0(sizeof(ToJsonCache));
		cache->typid = typid;
		cache->typmod = typmod;
		cache->writer = kafka_json_writer_create(typid, typmod,
												 fcinfo->flinfo->fn_mcxt);
		MemoryContextSwitchTo(oldcontext);
		fcinfo->flinfo->fn_extra = cache;
	}

	initStringInfo(&json);
	kafka_json_write(cache->writer, value, &json);
	converted = pg_any_to_server(json.data, json.len, PG_UTF8);
	if (converted != json.data)
		PG_RETURN_TEXT_P(cstring_to_text(converted));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(json.data, json.len));
}
