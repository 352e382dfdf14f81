/*-------------------------------------------------------------------------
 *
 * plain_formats.c
 *	  The "text" and "raw" formats: the whole payload is one column.
 *
 * text: the payload is UTF-8 text (checked, and converted to the database
 * encoding) read by the column type's input rules, so a text payload can
 * fill a text, varchar, json, jsonb, integer, timestamptz... column.
 * raw: the payload bytes as they are, into a bytea column.
 *
 * IDENTIFICATION
 *	  src/codec/plain_formats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "codec/codec_internal.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

typedef struct PlainColumn
{
	char	   *name;
	KafkaValueInput input;
	FmgrInfo	output_function;
	bool		is_varlena_text;	/* text, varchar, bpchar: no output call */
} PlainColumn;

/* text and raw give the payload to one column; refuse more. */
static void
check_single_payload_column(const KafkaFormatDef *format, int npayload)
{
	if (npayload > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("format \"%s\" fills exactly one payload column, but %d columns are payload columns",
						format->name, npayload),
				 errhint("Declare the other columns as Kafka metadata columns, or use format \"json\".")));
}

static bool
text_decode(KafkaDecoder *decoder, const char *data, size_t len,
			Datum *values, bool *nulls)
{
	KafkaConvertState *state = &decoder->convert;
	PlainColumn *column = decoder->format_state;
	int			attnum;
	int			invalid;
	bool		ok;

	if (len > (size_t) MaxAllocSize - VARHDRSZ)
		return kafka_decode_fail(state, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
								 "text payload of %zu bytes is too large", len);
	invalid = kafka_utf8_invalid_offset(data, len, true);
	if (invalid >= 0)
	{
		if (data[invalid] == '\0')
			return kafka_decode_fail(state, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
									 "text payload contains a zero byte at byte offset %d",
									 invalid);
		return kafka_decode_fail(state, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
								 "invalid UTF-8 byte sequence in text payload at byte offset %d",
								 invalid);
	}
	if (column == NULL)
		return true;

	attnum = decoder->payload_attnums[0];
	state->context_column = column->name;
	nulls[attnum] = false;
	if (column->input.kind == KAFKA_VALUE_JSON ||
		column->input.kind == KAFKA_VALUE_JSONB)
	{
		bool		jsonb_safe;

		ok = kafka_json_validate(state, data, len, &jsonb_safe);
		if (ok && column->input.kind == KAFKA_VALUE_JSON)
		{
			const char *converted;
			int			converted_length;

			ok = kafka_utf8_to_server(state, data, (int) len, &converted,
									  &converted_length);
			if (ok)
				values[attnum] = PointerGetDatum(cstring_to_text_with_len(converted,
																		  converted_length));
		}
		else if (ok && jsonb_safe)
		{
			const char *converted;
			int			converted_length;

			ok = kafka_utf8_to_server(state, data, (int) len, &converted,
									  &converted_length);
			if (ok)
				values[attnum] = DirectFunctionCall1(jsonb_in,
													 CStringGetDatum(pnstrdup(converted,
																			  converted_length)));
		}
		else if (ok)
			ok = kafka_value_call_input(state, &column->input, data, (int) len,
										&values[attnum]);
	}
	else
		ok = kafka_value_from_text(state, &column->input, data, (int) len,
								   KAFKA_TEXT_STRING, &values[attnum]);
	state->context_column = NULL;

	if (!ok)
		return kafka_decode_fail(state, state->error_code,
								 "cannot decode the text payload into column \"%s\": %s",
								 column->name, state->error);
	return true;
}

void
kafka_text_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
						const KafkaCodecOptions *options)
{
	check_single_payload_column(decoder->format, decoder->npayload);
	if (decoder->npayload == 1)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, decoder->payload_attnums[0]);
		PlainColumn *column = palloc0(sizeof(PlainColumn));

		column->name = pstrdup(NameStr(attr->attname));
		kafka_value_input_init(&column->input, attr->atttypid, attr->atttypmod,
							   decoder->mcxt);
		decoder->format_state = column;
	}
	decoder->decode = text_decode;
}

static bool
raw_decode(KafkaDecoder *decoder, const char *data, size_t len,
		   Datum *values, bool *nulls)
{
	bytea	   *bytes;
	int			attnum;

	if (decoder->npayload == 0)
		return true;
	if (len > (size_t) MaxAllocSize - VARHDRSZ)
		return kafka_decode_fail(&decoder->convert, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
								 "raw payload of %zu bytes is too large", len);
	attnum = decoder->payload_attnums[0];
	bytes = (bytea *) palloc(VARHDRSZ + len);
	SET_VARSIZE(bytes, VARHDRSZ + len);
	memcpy(VARDATA(bytes), data, len);
	values[attnum] = PointerGetDatum(bytes);
	nulls[attnum] = false;
	return true;
}

static void
check_raw_column(const KafkaFormatDef *format, TupleDesc desc, int npayload,
				 const int *attnums)
{
	check_single_payload_column(format, npayload);
	if (npayload == 1)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, attnums[0]);

		if (attr->atttypid != BYTEAOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("format \"raw\" needs a bytea payload column, but column \"%s\" is of type %s",
							NameStr(attr->attname),
							format_type_be(attr->atttypid)),
					 errhint("Use format \"text\" or \"json\" to decode the payload into other types.")));
	}
}

void
kafka_raw_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
					   const KafkaCodecOptions *options)
{
	check_raw_column(decoder->format, desc, decoder->npayload,
					 decoder->payload_attnums);
	decoder->decode = raw_decode;
}

static bool
text_encode(KafkaEncoder *encoder, Datum *values, bool *nulls, StringInfo out)
{
	PlainColumn *column = encoder->format_state;
	int			attnum;

	if (column == NULL)
		return false;
	attnum = encoder->payload_attnums[0];
	if (nulls[attnum])
		return false;
	if (column->is_varlena_text)
	{
		text	   *value = DatumGetTextPP(values[attnum]);

		kafka_append_server_text_as_utf8(out, VARDATA_ANY(value),
										 VARSIZE_ANY_EXHDR(value));
	}
	else
	{
		char	   *value = OutputFunctionCall(&column->output_function,
											   values[attnum]);

		kafka_append_server_text_as_utf8(out, value, strlen(value));
	}
	return true;
}

void
kafka_text_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
						const KafkaCodecOptions *options)
{
	check_single_payload_column(encoder->format, encoder->npayload);
	if (encoder->npayload == 1)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, encoder->payload_attnums[0]);
		PlainColumn *column = palloc0(sizeof(PlainColumn));
		Oid			output_function;
		bool		is_varlena;

		column->name = pstrdup(NameStr(attr->attname));
		column->is_varlena_text = (attr->atttypid == TEXTOID ||
								   attr->atttypid == VARCHAROID ||
								   attr->atttypid == BPCHAROID);
		getTypeOutputInfo(attr->atttypid, &output_function, &is_varlena);
		fmgr_info_cxt(output_function, &column->output_function, encoder->mcxt);
		encoder->format_state = column;
	}
	encoder->encode = text_encode;
}

static bool
raw_encode(KafkaEncoder *encoder, Datum *values, bool *nulls, StringInfo out)
{
	bytea	   *value;
	int			attnum;

	if (encoder->npayload == 0)
		return false;
	attnum = encoder->payload_attnums[0];
	if (nulls[attnum])
		return false;
	value = DatumGetByteaPP(values[attnum]);
	appendBinaryStringInfo(out, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	return true;
}

void
kafka_raw_encoder_init(KafkaEncoder *encoder, TupleDesc desc,
					   const KafkaCodecOptions *options)
{
	check_raw_column(encoder->format, desc, encoder->npayload,
					 encoder->payload_attnums);
	encoder->encode = raw_encode;
}
