/*-------------------------------------------------------------------------
 *
 * codec.c
 *	  The format-independent half of the codec interface: choosing payload
 *	  columns, dispatching to a format from the format table, and turning a
 *	  failure into the (false, message) result callers act on.
 *
 * IDENTIFICATION
 *	  src/codec/codec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/fmgrprotos.h"

#include "codec/codec_internal.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"

KafkaEnvelope
kafka_envelope_from_name(const char *name)
{
	if (name == NULL || strcmp(name, "none") == 0)
		return KAFKA_ENVELOPE_NONE;
	if (strcmp(name, "debezium") == 0)
		return KAFKA_ENVELOPE_DEBEZIUM;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid envelope \"%s\"", name),
			 errhint("Valid envelopes are none and debezium.")));
	pg_unreachable();
}

/*
 * Records a decode failure and returns false, so that format code can write
 * "return kafka_decode_fail(...)".  The message goes to the caller's memory
 * context: it is handed back to the caller.
 */
bool
kafka_decode_fail(KafkaConvertState *state, int error_code, const char *fmt,...)
{
	StringInfoData message;

	initStringInfo(&message);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&message, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&message, needed);
	}
	state->error = message.data;
	state->error_code = error_code;
	return false;
}

/* A malformed Debezium change event: the record's error. */
bool
kafka_change_event_error(KafkaConvertState *state, const char *fmt,...)
{
	StringInfoData message;

	initStringInfo(&message);
	appendStringInfoString(&message, "invalid Debezium change event: ");
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&message, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&message, needed);
	}
	return kafka_decode_fail(state, ERRCODE_INVALID_TEXT_REPRESENTATION, "%s",
							 message.data);
}

bool
kafka_change_set_op(KafkaConvertState *state, KafkaChangeEvent *change,
					const char *op, size_t length)
{
	if (length == 1 && op[0] != '\0' && strchr("cudrt", op[0]) != NULL)
	{
		change->op = op[0];
		return true;
	}
	/* quote it only when it is text */
	if (length <= PG_INT32_MAX && kafka_utf8_invalid_offset(op, length, true) < 0)
		return kafka_change_event_error(state,
										"\"op\" is \"%s\", not one of c, u, d, r, t",
										kafka_payload_text_for_message(state, op,
																	   (int) length));
	return kafka_change_event_error(state, "\"op\" is not one of c, u, d, r, t");
}

void
kafka_column_set_init(KafkaColumnSet *set, TupleDesc desc, int *attnums,
					  int n, MemoryContext mcxt)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(mcxt);

	set->mcxt = mcxt;
	if (attnums == NULL)
	{
		attnums = palloc(sizeof(int) * Max(desc->natts, 1));
		n = 0;
		for (int i = 0; i < desc->natts; i++)
			if (!TupleDescAttr(desc, i)->attisdropped)
				attnums[n++] = i;
	}
	set->ncolumns = n;
	set->attnums = attnums;
	set->names = palloc(sizeof(char *) * Max(n, 1));
	set->inputs = palloc0(sizeof(KafkaValueInput) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, attnums[i]);

		set->names[i] = pstrdup(NameStr(attr->attname));
		kafka_value_input_init(&set->inputs[i], attr->atttypid, attr->atttypmod,
							   mcxt);
	}
	MemoryContextSwitchTo(oldcontext);
}

KafkaColumnSet *
kafka_composite_columns(KafkaValueInput *input, MemoryContext mcxt)
{
	KafkaColumnSet *set = input->composite_state;

	if (set == NULL)
	{
		set = MemoryContextAllocZero(mcxt, sizeof(KafkaColumnSet));
		kafka_column_set_init(set, input->composite_desc, NULL, 0, mcxt);
		input->composite_state = set;
	}
	return set;
}

int
kafka_column_set_match(const KafkaColumnSet *set, const char *name,
					   const bool *taken)
{
	int			found = -1;

	for (int i = 0; i < set->ncolumns; i++)
	{
		if (!taken[i] && strcmp(set->names[i], name) == 0)
			return i;
	}
	for (int i = 0; i < set->ncolumns; i++)
	{
		if (!taken[i] && pg_strcasecmp(set->names[i], name) == 0)
		{
			if (found >= 0)
				return -1;		/* ambiguous: leave it */
			found = i;
		}
	}
	return found;
}

/* Collects the 0-based numbers of the payload columns of desc. */
static int
collect_payload_columns(TupleDesc desc, const bool *is_payload_column,
						int **attnums)
{
	int			count = 0;

	*attnums = palloc(sizeof(int) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		if (TupleDescAttr(desc, i)->attisdropped)
			continue;
		if (is_payload_column != NULL && !is_payload_column[i])
			continue;
		(*attnums)[count++] = i;
	}
	return count;
}

KafkaDecoder *
kafka_decoder_create(KafkaFormat format, TupleDesc desc,
					 const bool *is_payload_column, MemoryContext mcxt)
{
	return kafka_decoder_create_with(format, desc, is_payload_column, mcxt,
									 NULL);
}

KafkaDecoder *
kafka_decoder_create_with(KafkaFormat format, TupleDesc desc,
						  const bool *is_payload_column, MemoryContext mcxt,
						  const KafkaCodecOptions *options)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(mcxt);
	KafkaDecoder *decoder = palloc0(sizeof(KafkaDecoder));

	decoder->format = kafka_format_by_id(format);
	decoder->mcxt = mcxt;
	decoder->natts = desc->natts;
	decoder->npayload = collect_payload_columns(desc, is_payload_column,
												&decoder->payload_attnums);
	kafka_convert_state_init(&decoder->convert, mcxt);
	if (options != NULL && options->envelope == KAFKA_ENVELOPE_DEBEZIUM)
	{
		if ((decoder->format->flags & KAFKA_FORMAT_ENVELOPES) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("envelope 'debezium' needs format %s, not %s",
							kafka_format_list(KAFKA_FORMAT_ENVELOPES, "", "or"),
							decoder->format->name)));
		decoder->change = palloc0(sizeof(KafkaChangeEvent));
		decoder->change->unavailable = palloc0(sizeof(bool) * Max(desc->natts, 1));
	}
	if (options != NULL && options->unknown_fields &&
		(decoder->format->flags & KAFKA_FORMAT_UNKNOWN_FIELDS) != 0)
	{
		decoder->unknown = palloc0(sizeof(KafkaUnknownFields));
		decoder->rescue_mismatches = options->rescue_mismatches;
	}

	decoder->format->decoder_init(decoder, desc, options);

	MemoryContextSwitchTo(oldcontext);
	return decoder;
}

/*
 * Names the field and column being decoded in errors that are not about the
 * data (say, out of memory) and so pass through the decoder.
 */
static void
decode_error_context(void *arg)
{
	KafkaConvertState *state = (KafkaConvertState *) arg;

	if (state->context_column == NULL || state->context_in_message)
		return;
	if (state->context_field != NULL)
		errcontext("decoding field \"%.*s\" into column \"%s\"",
				   state->context_field_length, state->context_field,
				   state->context_column);
	else
		errcontext("decoding the payload into column \"%s\"",
				   state->context_column);
}

/*
 * Messages quote payload text, which is UTF-8, next to names in the server
 * encoding.  Where the two differ, bytes that do not make a valid message in
 * the server encoding become '?', so reporting the error cannot fail.
 */
static void
make_message_encoding_safe(char *message)
{
	int			encoding = GetDatabaseEncoding();

	if (encoding == PG_UTF8 || encoding == PG_SQL_ASCII)
		return;
	if (pg_verify_mbstr(encoding, message, strlen(message), true))
		return;
	for (char *p = message; *p; p++)
	{
		if (IS_HIGHBIT_SET(*p))
			*p = '?';
	}
}

/* Forget what the envelope said of the record before. */
static void
reset_change(KafkaDecoder *decoder)
{
	KafkaChangeEvent *change = decoder->change;

	change->skip = false;
	change->op = 0;
	change->has_lsn = false;
	change->has_ts = false;
	if (change->any_unavailable)
		memset(change->unavailable, 0, sizeof(bool) * Max(decoder->natts, 1));
	change->any_unavailable = false;
}

const KafkaChangeEvent *
kafka_decoder_change(const KafkaDecoder *decoder)
{
	return decoder->change;
}

const KafkaUnknownFields *
kafka_decoder_unknown_fields(const KafkaDecoder *decoder)
{
	return decoder->unknown;
}

/* The rescued fields cannot be jsonb: the record's error, as a decode's. */
static bool
kafka_decoder_rescued_failed(KafkaDecoder *decoder, char **error)
{
	*error = psprintf("rescued fields: %s", decoder->convert.error ?
					  decoder->convert.error : "not valid jsonb");
	return false;
}

bool
kafka_decoder_rescued_jsonb(KafkaDecoder *decoder, Datum *result, char **error)
{
	const KafkaUnknownFields *unknown = decoder->unknown;
	KafkaConvertState *state = &decoder->convert;
	StringInfoData buf;
	const char *converted;
	int			converted_length;
	bool		safe;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (i = 0; i < unknown->count; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, unknown->fields[i].name);
		appendStringInfoString(&buf, ": ");
		appendStringInfoString(&buf, unknown->fields[i].json);
	}
	appendStringInfoChar(&buf, '}');

	if (decoder->rescued_input == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(decoder->mcxt);

		decoder->rescued_input = palloc0(sizeof(KafkaValueInput));
		kafka_value_input_init(decoder->rescued_input, JSONBOID, -1, decoder->mcxt);
		MemoryContextSwitchTo(old);
	}
	kafka_convert_forget_error(state);
	state->context_field = NULL;
	state->context_column = NULL;
	/* as a jsonb column takes a value: the fast path when jsonb_in cannot fail */
	if (!kafka_json_validate(state, buf.data, buf.len, &safe))
		return kafka_decoder_rescued_failed(decoder, error);
	if (!safe)
	{
		if (!kafka_value_call_input(state, decoder->rescued_input, buf.data, buf.len, result))
			return kafka_decoder_rescued_failed(decoder, error);
		return true;
	}
	if (!kafka_utf8_to_server(state, buf.data, buf.len, &converted, &converted_length))
		return kafka_decoder_rescued_failed(decoder, error);
	*result = DirectFunctionCall1(jsonb_in,
								  CStringGetDatum(pnstrdup(converted, converted_length)));
	return true;
}

void
kafka_convert_forget_error(KafkaConvertState *state)
{
	state->error = NULL;
	state->error_code = 0;
	if (state->pending_error != NULL)
		FreeErrorData(state->pending_error);
	state->pending_error = NULL;
}

void
kafka_unknown_field_add(KafkaDecoder *decoder, const char *name, int name_len,
						const char *json, int json_len, const char *type_name)
{
	KafkaUnknownFields *unknown = decoder->unknown;
	KafkaUnknownField *field;

	if (unknown->count == unknown->capacity)
	{
		MemoryContext old = MemoryContextSwitchTo(decoder->mcxt);

		unknown->capacity = unknown->capacity ? unknown->capacity * 2 : 8;
		unknown->fields = unknown->fields ?
			repalloc(unknown->fields, sizeof(KafkaUnknownField) * unknown->capacity) :
			palloc(sizeof(KafkaUnknownField) * unknown->capacity);
		MemoryContextSwitchTo(old);
	}
	field = &unknown->fields[unknown->count++];
	field->name = pnstrdup(name, name_len);
	field->json = pnstrdup(json, json_len);
	field->type_name = type_name;
}

bool
kafka_decoder_decode(KafkaDecoder *decoder, const char *data, size_t len,
					 Datum *values, bool *nulls, char **error)
{
	ErrorContextCallback callback;
	bool		ok;

	*error = NULL;
	if (decoder->unknown != NULL)
		decoder->unknown->count = 0;
	if (decoder->change != NULL)
	{
		reset_change(decoder);
		/* Debezium follows a delete with a tombstone for log compaction */
		decoder->change->skip = data == NULL;
	}
	if (data == NULL)
	{
		for (int i = 0; i < decoder->npayload; i++)
		{
			values[decoder->payload_attnums[i]] = (Datum) 0;
			nulls[decoder->payload_attnums[i]] = true;
		}
		return true;
	}

	decoder->convert.error = NULL;
	decoder->convert.error_code = 0;
	decoder->convert.pending_error = NULL;
	decoder->convert.context_field = NULL;
	decoder->convert.context_column = NULL;
	decoder->convert.context_in_message = false;

	callback.callback = decode_error_context;
	callback.arg = &decoder->convert;
	callback.previous = error_context_stack;
	error_context_stack = &callback;

	ok = decoder->decode(decoder, data, len, values, nulls);

	error_context_stack = callback.previous;

	if (!ok)
	{
		for (int i = 0; i < decoder->npayload; i++)
		{
			values[decoder->payload_attnums[i]] = (Datum) 0;
			nulls[decoder->payload_attnums[i]] = true;
		}
		if (decoder->change != NULL)
			reset_change(decoder);
		if (decoder->unknown != NULL)
			decoder->unknown->count = 0;
		*error = decoder->convert.error;
		if (*error == NULL)
			elog(ERROR, "kafka payload decoder failed without a message");
		make_message_encoding_safe(*error);

		/* a type input function failed where throwing was allowed */
		if (decoder->convert.pending_error != NULL)
		{
			ErrorData  *edata = decoder->convert.pending_error;

			edata->message = *error;
			decoder->convert.pending_error = NULL;
			ReThrowError(edata);
		}
	}
	return ok;
}

static bool
value_input_is_fast(KafkaValueInput *input, int depth)
{
	check_stack_depth();
	switch (input->kind)
	{
		case KAFKA_VALUE_GENERIC:
			return false;
		case KAFKA_VALUE_ARRAY:
			return value_input_is_fast(input->element, depth + 1);
		case KAFKA_VALUE_COMPOSITE:
			for (int i = 0; i < input->composite_desc->natts; i++)
			{
				Form_pg_attribute att = TupleDescAttr(input->composite_desc, i);
				KafkaValueInput field;

				if (att->attisdropped)
					continue;
				kafka_value_input_init(&field, att->atttypid, att->atttypmod,
									   CurrentMemoryContext);
				if (!value_input_is_fast(&field, depth + 1))
					return false;
			}
			return true;
		default:
			return true;
	}
}

bool
kafka_type_has_fast_path(Oid typid, int32 typmod)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext,
												  "kafka type check",
												  ALLOCSET_SMALL_SIZES);
	MemoryContext oldcontext = MemoryContextSwitchTo(scratch);
	KafkaValueInput input;
	bool		fast;

	kafka_value_input_init(&input, typid, typmod, scratch);
	fast = value_input_is_fast(&input, 0);
	MemoryContextSwitchTo(oldcontext);
	MemoryContextDelete(scratch);
	return fast;
}

int
kafka_decoder_error_code(const KafkaDecoder *decoder)
{
	return decoder->convert.error_code;
}

void
kafka_decoder_allow_throw(KafkaDecoder *decoder)
{
	decoder->convert.allow_throw = true;
}

KafkaEncoder *
kafka_encoder_create(KafkaFormat format, TupleDesc desc,
					 const bool *is_payload_column, MemoryContext mcxt)
{
	return kafka_encoder_create_with(format, desc, is_payload_column, mcxt,
									 NULL);
}

KafkaEncoder *
kafka_encoder_create_with(KafkaFormat format, TupleDesc desc,
						  const bool *is_payload_column, MemoryContext mcxt,
						  const KafkaCodecOptions *options)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(mcxt);
	KafkaEncoder *encoder = palloc0(sizeof(KafkaEncoder));

	encoder->format = kafka_format_by_id(format);
	encoder->mcxt = mcxt;
	encoder->npayload = collect_payload_columns(desc, is_payload_column,
												&encoder->payload_attnums);
	encoder->format->encoder_init(encoder, desc, options);

	MemoryContextSwitchTo(oldcontext);
	return encoder;
}

bool
kafka_encoder_encode(KafkaEncoder *encoder, Datum *values, bool *nulls,
					 StringInfo out)
{
	return encoder->encode(encoder, values, nulls, out);
}

void
kafka_deform_composite(HeapTupleHeader header, TupleDesc desc, Datum *values,
					   bool *nulls)
{
	HeapTupleData tuple;

	tuple.t_len = HeapTupleHeaderGetDatumLength(header);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = header;
	heap_deform_tuple(&tuple, desc, values, nulls);
}
