/*-------------------------------------------------------------------------
 *
 * avro_decode.c
 *	  Format "avro" of the codec: Confluent-framed (or plain) Avro binary
 *	  into columns, through plans compiled from each writer schema.
 *
 * A plan maps the writer schema's fields to columns by name (exact match,
 * else the one column equal ignoring ASCII case) and marks the others to
 * be skipped; it is compiled once per schema id and kept by the decoder,
 * so a message costs a header check, a pointer comparison and one pass
 * over its bytes.  Messages written with different schema versions
 * resolve by field name: columns without a field take the default of the
 * reader schema (the latest under the decoder's subject, when it has one)
 * or are NULL, fields without a column are skipped, and values convert to the column's type where
 * Avro's promotions allow it (int -> long/float/double, string <-> bytes),
 * and further where PostgreSQL's types do so losslessly (int into numeric,
 * a decimal into float8, anything into text or jsonb).  A field whose type
 * cannot fill its column (a record into an integer, a boolean into a date)
 * makes every message of that schema fail to decode, naming the field,
 * both types and the schema id: the caller applies on_error.
 *
 * Type mapping: primitives to the matching types; enum -> text (or a
 * PostgreSQL enum, through its input function); bytes/fixed -> bytea;
 * decimal -> numeric; date -> date; time-millis/micros -> time;
 * timestamp-millis/micros -> timestamptz (local-timestamp-* -> timestamp);
 * uuid -> uuid; records -> composite types or jsonb; arrays -> PostgreSQL
 * arrays or jsonb; maps -> jsonb.  Nullable unions decode as their branch.
 *
 * Envelope 'debezium': the writer schema is Debezium's Envelope record.  Its
 * plan says which field is the row image ("before" and "after", both of the
 * Value record, whose own plan maps fields to columns as above), "op",
 * "source" (lsn, ts_ms) and "ts_ms"; the others are skipped.  "after" is
 * decoded in passing, "before" only when "after" is null.
 *
 * IDENTIFICATION
 *	  src/avro/avro_decode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "common/shortest_dec.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "avro/avro_values.h"

const AvroNode avro_string_node = {.type = AVRO_STRING};

/* The columns one record fills: a table's payload columns or a composite. */
typedef KafkaColumnSet AvroColumnSet;

/* A writer record (or a non-record root) compiled against a column set. */
typedef struct AvroPlan
{
	const AvroNode *node;
	int		   *field_columns;	/* per field: column index, or -1 to skip */
	int			single_column;	/* root not a record: its column, or -1 */
	char	   *incompatible;	/* the fields cannot fill the columns */
	/* columns the writer lacks, filled from the reader schema's defaults */
	bool		defaults_done;
	int			ndefaults;
	int		   *default_columns;
	Datum	   *default_values;
	int16	   *default_lengths;
	bool	   *default_byvals;
} AvroPlan;

/* What a field of a Debezium Envelope record (or of its source) is. */
typedef enum EnvelopeField
{
	ENVELOPE_SKIP,
	ENVELOPE_BEFORE,
	ENVELOPE_AFTER,
	ENVELOPE_SOURCE,
	ENVELOPE_OP,
	ENVELOPE_TS_MS,
	ENVELOPE_LSN				/* in the source record */
} EnvelopeField;

/* A writer's Envelope record compiled against the payload columns. */
typedef struct AvroEnvelopePlan
{
	const AvroNode *node;
	EnvelopeField *fields;		/* per field of node */
	const AvroNode *source;		/* the source record, or NULL */
	EnvelopeField *source_fields;	/* per field of source */
	char	   *incompatible;	/* not a change event these columns take */
} AvroEnvelopePlan;

typedef struct AvroSchemaPlan
{
	int32		schema_id;
	AvroPlan   *plan;
	AvroEnvelopePlan *envelope; /* envelope 'debezium': instead of plan */
	char	   *error;			/* schema unusable (not cached in registry) */
} AvroSchemaPlan;

typedef struct AvroDecodeState
{
	AvroSource	source;
	char	   *reader_subject;	/* its latest schema gives defaults */
	bool		reader_fetched;
	AvroNode   *reader;			/* that schema, or NULL */
	AvroColumnSet top;
	List	   *schema_plans;	/* AvroSchemaPlan * */
	AvroSchemaPlan *last;
	AvroPlan   *plain_plan;
	AvroEnvelopePlan *plain_envelope;
	KafkaChangeEvent *change;	/* envelope 'debezium', else NULL */
	KafkaDecoder *report_unknown;	/* report fields without a column */
	StringInfoData scratch;
} AvroDecodeState;

static AvroPlan *get_plan(AvroColumnSet *set, const AvroNode *node, int depth);
static bool read_into(AvroDecodeState *state, KafkaConvertState *convert,
					  AvroCursor *cursor, const AvroNode *node,
					  KafkaValueInput *input, Datum *value, bool *isnull,
					  int depth);

/* ---- sources: where the writer schema comes from ------------------------ */

void
avro_source_init(AvroSource *source, const KafkaCodecOptions *options)
{
	const char *plain_schema = avro_schema_option(options);

	memset(source, 0, sizeof(AvroSource));
	if (plain_schema != NULL)
	{
		char	   *error;
		char	   *detail;

		source->plain_schema = avro_schema_parse_detail(plain_schema,
														strlen(plain_schema),
														&error, &detail);
		if (source->plain_schema == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"avro_schema\": %s", error),
					 detail ? errdetail("libavro-c: %s.", detail) : 0));
		return;
	}
	if (options != NULL && options->server_name != NULL)
	{
		source->registry = kafka_registry_for_server(options->server_name,
													OidIsValid(options->userid) ?
													options->userid : GetUserId());
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
			 errmsg("format \"avro\" needs a schema registry or a writer schema"),
			 errhint("Give the server a schema_registry_url option, or the table an avro_schema option.")));
}

/*
 * Strips the Confluent header (when reading from a registry) and returns
 * the schema id; false with *error for a payload that cannot be framed.
 */
static bool
avro_source_frame(AvroSource *source, const char **data, size_t *len,
				  int32 *schema_id, char **error)
{
	const uint8 *bytes = (const uint8 *) *data;

	*schema_id = -1;
	if (source->registry == NULL)
		return true;
	if (*len < KAFKA_CONFLUENT_HEADER_SIZE)
	{
		*error = psprintf("Avro payload of %zu bytes is too short for the 5-byte Confluent header",
						  *len);
		return false;
	}
	if (bytes[0] != KAFKA_CONFLUENT_MAGIC)
	{
		*error = psprintf("Avro payload starts with byte 0x%02x, not the Confluent magic byte 0x00",
						  bytes[0]);
		return false;
	}
	*schema_id = kafka_confluent_schema_id(bytes);
	*data += KAFKA_CONFLUENT_HEADER_SIZE;
	*len -= KAFKA_CONFLUENT_HEADER_SIZE;
	return true;
}

bool
avro_source_writer_schema(AvroSource *source, const char **data, size_t *len,
						  AvroNode **schema, int32 *schema_id, char **error)
{
	if (!avro_source_frame(source, data, len, schema_id, error))
		return false;
	if (source->registry == NULL)
	{
		*schema = source->plain_schema;
		return true;
	}
	*schema = avro_registry_schema(source->registry, *schema_id, error);
	return *schema != NULL;
}

/* ---- plans -------------------------------------------------------------- */

static bool
is_textual(KafkaValueInput *input)
{
	switch (input->kind)
	{
		case KAFKA_VALUE_TEXT:
		case KAFKA_VALUE_BOUNDED_TEXT:
		case KAFKA_VALUE_TOTAL_INPUT:
		case KAFKA_VALUE_JSON:
		case KAFKA_VALUE_JSONB:
			return true;
		case KAFKA_VALUE_GENERIC:
			/* bytea and time have their own rules below */
			return input->typid != BYTEAOID && input->typid != TIMEOID;
		default:
			return false;
	}
}

/*
 * NULL when values of node can fill input's type, else why not.  Unions
 * need one usable non-null branch (the others fail when they occur).
 */
static char *
incompatibility(const AvroNode *node, KafkaValueInput *input, MemoryContext mcxt,
				int depth)
{
	bool		ok = false;

	if (depth > AVRO_MAX_DEPTH)
		return pstrdup("nested too deeply");
	if (node->type == AVRO_NULL)
		return NULL;
	if (node->type == AVRO_UNION)
	{
		char	   *first = NULL;

		for (int i = 0; i < node->nchildren; i++)
		{
			char	   *why;

			if (node->children[i]->type == AVRO_NULL)
				continue;
			why = incompatibility(node->children[i], input, mcxt, depth + 1);
			if (why == NULL)
				return NULL;
			if (first == NULL)
				first = why;
		}
		return first;
	}
	/* strings carry any type's text form */
	if (node->type == AVRO_STRING || is_textual(input))
		return NULL;

	switch (input->kind)
	{
		case KAFKA_VALUE_INT2:
		case KAFKA_VALUE_INT4:
		case KAFKA_VALUE_INT8:
			ok = (node->type == AVRO_INT || node->type == AVRO_LONG) &&
				node->logical == AVRO_LOGICAL_NONE;
			break;
		case KAFKA_VALUE_FLOAT4:
		case KAFKA_VALUE_FLOAT8:
		case KAFKA_VALUE_NUMERIC:
			ok = ((node->type == AVRO_INT || node->type == AVRO_LONG) &&
				  node->logical == AVRO_LOGICAL_NONE) ||
				node->type == AVRO_FLOAT || node->type == AVRO_DOUBLE ||
				node->logical == AVRO_LOGICAL_DECIMAL;
			break;
		case KAFKA_VALUE_BOOL:
			ok = node->type == AVRO_BOOLEAN;
			break;
		case KAFKA_VALUE_UUID:
			ok = node->type == AVRO_FIXED && node->fixed_size == 16;
			break;
		case KAFKA_VALUE_DATE:
		case KAFKA_VALUE_TIMESTAMP:
		case KAFKA_VALUE_TIMESTAMPTZ:
			ok = node->logical == AVRO_LOGICAL_DATE ||
				node->logical == AVRO_LOGICAL_TIMESTAMP_MILLIS ||
				node->logical == AVRO_LOGICAL_TIMESTAMP_MICROS ||
				node->logical == AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS ||
				node->logical == AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS;
			break;
		case KAFKA_VALUE_ARRAY:
			if (node->type == AVRO_ARRAY)
				return incompatibility(node->children[0], input->element, mcxt,
									   depth + 1);
			break;
		case KAFKA_VALUE_COMPOSITE:
			if (node->type == AVRO_RECORD)
			{
				AvroPlan   *plan = get_plan(kafka_composite_columns(input, mcxt), node,
											depth + 1);

				return plan->incompatible;
			}
			break;
		case KAFKA_VALUE_GENERIC:
			if (input->typid == BYTEAOID)
				ok = node->type == AVRO_BYTES || node->type == AVRO_FIXED;
			else if (input->typid == TIMEOID)
				ok = node->logical == AVRO_LOGICAL_TIME_MILLIS ||
					node->logical == AVRO_LOGICAL_TIME_MICROS;
			break;
		default:
			break;
	}
	if (ok)
		return NULL;
	return psprintf("Avro type %s cannot be read into type %s",
					avro_type_name(node), input->type_name);
}

static AvroPlan *
get_plan(AvroColumnSet *set, const AvroNode *node, int depth)
{
	ListCell   *lc;
	AvroPlan   *plan;
	MemoryContext oldcontext;
	bool	   *taken;

	foreach(lc, set->plans)
	{
		plan = lfirst(lc);
		if (plan->node == node)
			return plan;
	}

	oldcontext = MemoryContextSwitchTo(set->mcxt);
	plan = palloc0(sizeof(AvroPlan));
	plan->node = node;
	plan->single_column = -1;
	/* registered before compiling: a recursive schema finds it */
	set->plans = lappend(set->plans, plan);

	if (node->type != AVRO_RECORD || set->single_value)
	{
		if (set->ncolumns == 1)
		{
			plan->single_column = 0;
			plan->incompatible = incompatibility(node, &set->inputs[0], set->mcxt,
												 depth + 1);
			if (plan->incompatible)
				plan->incompatible = psprintf("the Avro value cannot be read into column \"%s\": %s",
											  set->names[0], plan->incompatible);
		}
		else if (set->ncolumns > 1)
			plan->incompatible = psprintf("the Avro value is a %s, not a record: it fills a single column, but there are %d",
										  avro_type_name(node), set->ncolumns);
		MemoryContextSwitchTo(oldcontext);
		return plan;
	}

	taken = palloc0(sizeof(bool) * Max(set->ncolumns, 1));
	plan->field_columns = palloc(sizeof(int) * Max(node->nchildren, 1));
	for (int i = 0; i < node->nchildren; i++)
	{
		int			column = kafka_column_set_match(set, node->field_names[i], taken);

		plan->field_columns[i] = column;
		if (column < 0)
			continue;
		taken[column] = true;
		if (plan->incompatible == NULL)
		{
			char	   *why = incompatibility(node->children[i],
											  &set->inputs[column], set->mcxt,
											  depth + 1);

			if (why != NULL)
				plan->incompatible = psprintf("field \"%s\" cannot be read into column \"%s\": %s",
											  node->field_names[i],
											  set->names[column], why);
		}
	}
	pfree(taken);
	MemoryContextSwitchTo(oldcontext);
	return plan;
}

/* ---- values ------------------------------------------------------------- */

static bool
malformed(KafkaConvertState *convert)
{
	return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
							 "truncated or malformed Avro data");
}

static bool
nested_too_deeply(KafkaConvertState *convert)
{
	return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
							 "Avro value nested too deeply (more than %d levels)",
							 AVRO_MAX_DEPTH);
}

/* After avro_skip_value failed: why. */
static bool
skip_failed(KafkaConvertState *convert, AvroCursor *cursor)
{
	if (cursor->too_deep)
		return nested_too_deeply(convert);
	return malformed(convert);
}

static bool
out_of_range(KafkaConvertState *convert, int code, const char *what,
			 KafkaValueInput *input)
{
	return kafka_decode_fail(convert, code, "%s is out of range for type %s",
							 what, input->type_name);
}

static bool
cannot_read(KafkaConvertState *convert, const AvroNode *node,
			KafkaValueInput *input)
{
	return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
							 "Avro type %s cannot be read into type %s",
							 avro_type_name(node), input->type_name);
}

/* Text in state->scratch through the column type's text rules. */
static bool
from_scratch(AvroDecodeState *state, KafkaConvertState *convert,
			 KafkaValueInput *input, KafkaTextOrigin origin, Datum *value)
{
	return kafka_value_from_text(convert, input, state->scratch.data,
								 state->scratch.len, origin, value);
}

static bool
read_integer(AvroDecodeState *state, KafkaConvertState *convert,
			 AvroCursor *cursor, const AvroNode *node, KafkaValueInput *input,
			 Datum *value)
{
	int64		v;
	int64		micros;
	Timestamp	timestamp;

	if (!avro_read_long(cursor, &v))
		return malformed(convert);
	if (node->type == AVRO_INT && (v < PG_INT32_MIN || v > PG_INT32_MAX))
		return malformed(convert);

	switch (node->logical)
	{
		case AVRO_LOGICAL_DATE:
			if (input->kind == KAFKA_VALUE_DATE)
			{
				int64		date = v - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE);

				if (!IS_VALID_DATE(date))
					return out_of_range(convert, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
										"date", input);
				*value = DateADTGetDatum((DateADT) date);
				return true;
			}
			if (input->kind == KAFKA_VALUE_TIMESTAMP ||
				input->kind == KAFKA_VALUE_TIMESTAMPTZ)
			{
				if (v > PG_INT64_MAX / USECS_PER_DAY || v < PG_INT64_MIN / USECS_PER_DAY ||
					!avro_unix_micros_to_timestamp(v * USECS_PER_DAY, &timestamp))
					return out_of_range(convert, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
										"date", input);
				if (input->kind == KAFKA_VALUE_TIMESTAMPTZ)
				{
					/* midnight of that day in the session time zone, as date::timestamptz */
					*value = DirectFunctionCall1(date_timestamptz,
												 DateADTGetDatum((DateADT) (v - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE))));
					return true;
				}
				*value = TimestampGetDatum(timestamp);
				return true;
			}
			resetStringInfo(&state->scratch);
			if (!avro_append_date(&state->scratch, v))
				return out_of_range(convert, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
									"date", input);
			return from_scratch(state, convert, input, KAFKA_TEXT_STRING, value);

		case AVRO_LOGICAL_TIME_MILLIS:
		case AVRO_LOGICAL_TIME_MICROS:
			if (!avro_logical_micros(node, v, &micros) || micros < 0 ||
				micros > USECS_PER_DAY)
				return out_of_range(convert, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
									"time of day", input);
			if (input->typid == TIMEOID)
			{
				*value = TimeADTGetDatum((TimeADT) micros);
				return true;
			}
			resetStringInfo(&state->scratch);
			avro_append_time(&state->scratch, micros);
			return from_scratch(state, convert, input, KAFKA_TEXT_STRING, value);

		case AVRO_LOGICAL_TIMESTAMP_MILLIS:
		case AVRO_LOGICAL_TIMESTAMP_MICROS:
		case AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
		case AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
			if (!avro_logical_micros(node, v, &micros) ||
				!avro_unix_micros_to_timestamp(micros, &timestamp))
				return out_of_range(convert, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
									"timestamp", input);
			if (input->kind == KAFKA_VALUE_TIMESTAMPTZ ||
				input->kind == KAFKA_VALUE_TIMESTAMP)
			{
				*value = TimestampGetDatum(timestamp);
				return true;
			}
			if (input->kind == KAFKA_VALUE_DATE)
			{
				int64		days = timestamp / USECS_PER_DAY;

				if (timestamp < 0 && timestamp % USECS_PER_DAY != 0)
					days--;
				*value = DateADTGetDatum((DateADT) days);
				return true;
			}
			resetStringInfo(&state->scratch);
			avro_append_timestamp(&state->scratch, timestamp,
								  node->logical == AVRO_LOGICAL_TIMESTAMP_MILLIS ||
								  node->logical == AVRO_LOGICAL_TIMESTAMP_MICROS);
			return from_scratch(state, convert, input, KAFKA_TEXT_STRING, value);

		default:
			break;
	}

	switch (input->kind)
	{
		case KAFKA_VALUE_INT2:
			if (v < PG_INT16_MIN || v > PG_INT16_MAX)
				return out_of_range(convert, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									"value", input);
			*value = Int16GetDatum((int16) v);
			return true;
		case KAFKA_VALUE_INT4:
			if (v < PG_INT32_MIN || v > PG_INT32_MAX)
				return out_of_range(convert, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									"value", input);
			*value = Int32GetDatum((int32) v);
			return true;
		case KAFKA_VALUE_INT8:
			*value = Int64GetDatum(v);
			return true;
		case KAFKA_VALUE_FLOAT4:
			*value = Float4GetDatum((float4) v);
			return true;
		case KAFKA_VALUE_FLOAT8:
			*value = Float8GetDatum((float8) v);
			return true;
		case KAFKA_VALUE_NUMERIC:
			if (input->typmod < 0)
			{
				*value = NumericGetDatum(int64_to_numeric(v));
				return true;
			}
			break;				/* the text path checks the typmod */
		case KAFKA_VALUE_BOOL:
			return cannot_read(convert, node, input);
		default:
			if (!is_textual(input) && input->kind != KAFKA_VALUE_GENERIC)
				return cannot_read(convert, node, input);
			break;
	}
	resetStringInfo(&state->scratch);
	appendStringInfo(&state->scratch, INT64_FORMAT, v);
	return from_scratch(state, convert, input, KAFKA_TEXT_NUMBER, value);
}

static bool
read_floating(AvroDecodeState *state, KafkaConvertState *convert,
			  AvroCursor *cursor, const AvroNode *node, KafkaValueInput *input,
			  Datum *value)
{
	float8		d;
	float4		f = 0;

	if (node->type == AVRO_FLOAT)
	{
		if (!avro_read_float(cursor, &f))
			return malformed(convert);
		d = f;
	}
	else if (!avro_read_double(cursor, &d))
		return malformed(convert);

	switch (input->kind)
	{
		case KAFKA_VALUE_FLOAT8:
			*value = Float8GetDatum(d);
			return true;
		case KAFKA_VALUE_FLOAT4:
			if (node->type == AVRO_FLOAT)
				*value = Float4GetDatum(f);
			else
			{
				float4		narrowed = (float4) d;

				if (isinf(narrowed) && !isinf(d))
					return out_of_range(convert, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
										"value", input);
				*value = Float4GetDatum(narrowed);
			}
			return true;
		case KAFKA_VALUE_INT2:
		case KAFKA_VALUE_INT4:
		case KAFKA_VALUE_INT8:
		case KAFKA_VALUE_BOOL:
			return cannot_read(convert, node, input);
		default:
			break;
	}
	resetStringInfo(&state->scratch);
	if (node->type == AVRO_FLOAT && !isnan(f) && !isinf(f))
	{
		char		buffer[FLOAT_SHORTEST_DECIMAL_LEN];

		float_to_shortest_decimal_buf(f, buffer);
		appendStringInfoString(&state->scratch, buffer);
	}
	else
		avro_append_double(&state->scratch, d, false);
	return from_scratch(state, convert, input, KAFKA_TEXT_STRING, value);
}

static bool
read_bytes(AvroDecodeState *state, KafkaConvertState *convert,
		   AvroCursor *cursor, const AvroNode *node, KafkaValueInput *input,
		   Datum *value)
{
	size_t		length;
	const uint8 *bytes;

	if (node->type == AVRO_FIXED)
	{
		length = node->fixed_size;
		if ((size_t) (cursor->end - cursor->p) < length)
			return malformed(convert);
	}
	else if (!avro_read_length(cursor, &length))
		return malformed(convert);
	bytes = cursor->p;
	cursor->p += length;

	if (input->typid == BYTEAOID)
	{
		bytea	   *result = palloc(length + VARHDRSZ);

		SET_VARSIZE(result, length + VARHDRSZ);
		memcpy(VARDATA(result), bytes, length);
		*value = PointerGetDatum(result);
		return true;
	}
	if (input->kind == KAFKA_VALUE_UUID && length == UUID_LEN &&
		node->logical != AVRO_LOGICAL_DECIMAL)
	{
		pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));

		memcpy(uuid->data, bytes, UUID_LEN);
		*value = UUIDPGetDatum(uuid);
		return true;
	}
	resetStringInfo(&state->scratch);
	if (node->logical == AVRO_LOGICAL_DECIMAL)
	{
		if (length > AVRO_MAX_DECIMAL_BYTES)
			return out_of_range(convert, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
								"decimal", input);
		avro_append_decimal(&state->scratch, bytes, length, node->scale);
		switch (input->kind)
		{
			case KAFKA_VALUE_NUMERIC:
			case KAFKA_VALUE_FLOAT4:
			case KAFKA_VALUE_FLOAT8:
				return from_scratch(state, convert, input, KAFKA_TEXT_NUMBER, value);
			default:
				if (!is_textual(input) && input->kind != KAFKA_VALUE_GENERIC)
					return cannot_read(convert, node, input);
				return from_scratch(state, convert, input, KAFKA_TEXT_NUMBER, value);
		}
	}
	if (!is_textual(input) && input->kind != KAFKA_VALUE_GENERIC)
		return cannot_read(convert, node, input);
	avro_append_hex(&state->scratch, bytes, length);
	return from_scratch(state, convert, input, KAFKA_TEXT_STRING, value);
}

static bool
read_array(AvroDecodeState *state, KafkaConvertState *convert,
		   AvroCursor *cursor, const AvroNode *node, KafkaValueInput *input,
		   Datum *value, int depth)
{
	KafkaValueInput *element = input->element;
	int			capacity = 8;
	int			count = 0;
	Datum	   *elements = palloc(sizeof(Datum) * capacity);
	bool	   *element_nulls = palloc(sizeof(bool) * capacity);
	int			dims[1];
	int			lbs[1] = {1};

	for (;;)
	{
		int64		block;

		if (!avro_read_block_count(cursor, &block))
			return malformed(convert);
		if (block == 0)
			break;
		for (int64 i = 0; i < block; i++)
		{
			if (count >= AVRO_MAX_ITEMS)
				return malformed(convert);
			if (count == capacity)
			{
				capacity *= 2;
				elements = repalloc(elements, sizeof(Datum) * capacity);
				element_nulls = repalloc(element_nulls, sizeof(bool) * capacity);
			}
			element_nulls[count] = false;
			if (!read_into(state, convert, cursor, node->children[0], element,
						   &elements[count], &element_nulls[count], depth + 1))
				return false;
			count++;
		}
	}
	if (count == 0)
	{
		*value = PointerGetDatum(construct_empty_array(element->typid));
		return true;
	}
	dims[0] = count;
	*value = PointerGetDatum(construct_md_array(elements, element_nulls, 1, dims,
												lbs, element->typid,
												input->element_length,
												input->element_byval,
												input->element_align));
	return true;
}

static bool read_record(AvroDecodeState *state, KafkaConvertState *convert,
						AvroCursor *cursor, AvroPlan *plan, AvroColumnSet *set,
						Datum *values, bool *nulls, int depth,
						KafkaChangeEvent *change);

static bool
read_complex_as_json(AvroDecodeState *state, KafkaConvertState *convert,
					 AvroCursor *cursor, const AvroNode *node,
					 KafkaValueInput *input, Datum *value, int depth)
{
	char	   *error;
	const char *converted;
	int			converted_length;

	if (!is_textual(input) && input->kind != KAFKA_VALUE_GENERIC)
		return cannot_read(convert, node, input);
	resetStringInfo(&state->scratch);
	if (!kafka_avro_value_to_json(cursor, node, &state->scratch, depth, &error))
		return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								 "%s", error);
	if (input->kind == KAFKA_VALUE_JSONB || input->kind == KAFKA_VALUE_JSON)
	{
		if (!kafka_utf8_to_server(convert, state->scratch.data, state->scratch.len,
								  &converted, &converted_length))
			return false;
		if (input->kind == KAFKA_VALUE_JSON)
			*value = PointerGetDatum(cstring_to_text_with_len(converted,
															  converted_length));
		else
			/* our own JSON text: valid, no \u0000, so jsonb_in cannot fail */
			*value = DirectFunctionCall1(jsonb_in,
										 CStringGetDatum(pnstrdup(converted,
																  converted_length)));
		return true;
	}
	return from_scratch(state, convert, input, KAFKA_TEXT_STRING, value);
}

static bool
read_into(AvroDecodeState *state, KafkaConvertState *convert,
		  AvroCursor *cursor, const AvroNode *node, KafkaValueInput *input,
		  Datum *value, bool *isnull, int depth)
{
	int64		index;
	size_t		length;

	/* recursive schemas can describe values of any depth */
	if (depth > AVRO_MAX_DEPTH || stack_is_too_deep())
		return nested_too_deeply(convert);
	*isnull = false;
	switch (node->type)
	{
		case AVRO_NULL:
			*isnull = true;
			*value = (Datum) 0;
			return true;
		case AVRO_UNION:
			if (!avro_read_long(cursor, &index) || index < 0 ||
				index >= node->nchildren)
				return malformed(convert);
			return read_into(state, convert, cursor, node->children[index],
							 input, value, isnull, depth + 1);
		case AVRO_BOOLEAN:
			if (cursor->p >= cursor->end || *cursor->p > 1)
				return malformed(convert);
			if (input->kind == KAFKA_VALUE_BOOL)
			{
				*value = BoolGetDatum(*cursor->p++ != 0);
				return true;
			}
			if (!is_textual(input) && input->kind != KAFKA_VALUE_GENERIC)
				return cannot_read(convert, node, input);
			if (*cursor->p++)
				return kafka_value_from_text(convert, input, "true", 4,
											 KAFKA_TEXT_LITERAL, value);
			return kafka_value_from_text(convert, input, "false", 5,
										 KAFKA_TEXT_LITERAL, value);
		case AVRO_INT:
		case AVRO_LONG:
			return read_integer(state, convert, cursor, node, input, value);
		case AVRO_FLOAT:
		case AVRO_DOUBLE:
			return read_floating(state, convert, cursor, node, input, value);
		case AVRO_STRING:
			if (!avro_read_length(cursor, &length))
				return malformed(convert);
			if (input->typid == BYTEAOID)
			{
				bytea	   *result = palloc(length + VARHDRSZ);

				SET_VARSIZE(result, length + VARHDRSZ);
				memcpy(VARDATA(result), cursor->p, length);
				cursor->p += length;
				*value = PointerGetDatum(result);
				return true;
			}
			if (kafka_utf8_invalid_offset((const char *) cursor->p, length, true) >= 0)
			{
				cursor->p += length;
				return kafka_decode_fail(convert, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
										 "Avro string is not valid UTF-8 or contains a zero byte");
			}
			cursor->p += length;
			return kafka_value_from_text(convert, input,
										 (const char *) cursor->p - length,
										 (int) length, KAFKA_TEXT_STRING, value);
		case AVRO_BYTES:
		case AVRO_FIXED:
			return read_bytes(state, convert, cursor, node, input, value);
		case AVRO_ENUM:
			if (!avro_read_long(cursor, &index) || index < 0 ||
				index >= node->nsymbols)
				return malformed(convert);
			if (input->typid == BYTEAOID ||
				(!is_textual(input) && input->kind != KAFKA_VALUE_GENERIC))
				return cannot_read(convert, node, input);
			return kafka_value_from_text(convert, input, node->symbols[index],
										 strlen(node->symbols[index]),
										 KAFKA_TEXT_STRING, value);
		case AVRO_RECORD:
			if (input->kind == KAFKA_VALUE_COMPOSITE)
			{
				AvroColumnSet *set = kafka_composite_columns(input, state->top.mcxt);
				AvroPlan   *plan = get_plan(set, node, depth);
				TupleDesc	desc = input->composite_desc;
				Datum	   *values;
				bool	   *nulls;

				if (plan->incompatible)
					return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
											 "%s", plan->incompatible);
				values = palloc0(sizeof(Datum) * Max(desc->natts, 1));
				nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
				memset(nulls, true, sizeof(bool) * Max(desc->natts, 1));
				if (!read_record(state, convert, cursor, plan, set, values, nulls,
								 depth + 1, NULL))
					return false;
				*value = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
				return true;
			}
			return read_complex_as_json(state, convert, cursor, node, input,
										value, depth);
		case AVRO_ARRAY:
			if (input->kind == KAFKA_VALUE_ARRAY)
				return read_array(state, convert, cursor, node, input, value,
								  depth);
			return read_complex_as_json(state, convert, cursor, node, input,
										value, depth);
		case AVRO_MAP:
			return read_complex_as_json(state, convert, cursor, node, input,
										value, depth);
	}
	return malformed(convert);
}

/*
 * Is the value at the cursor Debezium's placeholder for a value it did not
 * read (an unchanged TOASTed value): the string, its bytes, or an array of
 * just the string?  If so, moves past it.
 */
static bool
at_unavailable_value(AvroCursor *cursor, const AvroNode *node,
					 KafkaValueInput *input)
{
	AvroCursor	peek = *cursor;
	bool		in_array = false;
	int64		index;
	int64		count;
	size_t		length;

	if (node->type == AVRO_UNION)
	{
		/* a bad index is the ordinary path's error to report */
		if (!avro_read_long(&peek, &index) || index < 0 || index >= node->nchildren)
			return false;
		node = node->children[index];
	}
	if (node->type == AVRO_ARRAY && input->kind == KAFKA_VALUE_ARRAY)
	{
		if (!avro_read_block_count(&peek, &count) || count != 1)
			return false;
		node = node->children[0];
		if (node->type == AVRO_UNION)
		{
			if (!avro_read_long(&peek, &index) || index < 0 || index >= node->nchildren)
				return false;
			node = node->children[index];
		}
		if (node->type != AVRO_STRING)
			return false;
		in_array = true;
	}
	else if (node->type != AVRO_STRING && node->type != AVRO_BYTES)
		return false;
	if (!avro_read_length(&peek, &length) ||
		length != KAFKA_DEBEZIUM_UNAVAILABLE_LENGTH ||
		memcmp(peek.p, KAFKA_DEBEZIUM_UNAVAILABLE, length) != 0)
		return false;
	peek.p += length;
	/* the array ends after its one item */
	if (in_array && (!avro_read_block_count(&peek, &count) || count != 0))
		return false;
	*cursor = peek;
	return true;
}

/*
 * The PostgreSQL type of a value of the writer's type node as the decoder
 * renders it: the type of a rescued field (see kafka_decoder_unknown_fields)
 * and, for the scalars, of a column IMPORT FOREIGN SCHEMA declares.  Unions
 * with null are the other branch's type, unions of several types and
 * records, arrays and maps are jsonb (their JSON); NULL for the null type.
 */
const char *
avro_pg_type_name(const AvroNode *node)
{
	if (node->type == AVRO_UNION)
	{
		const AvroNode *branch = NULL;

		for (int i = 0; i < node->nchildren; i++)
		{
			if (node->children[i]->type == AVRO_NULL)
				continue;
			if (branch != NULL)
				return "jsonb";	/* several types: their JSON */
			branch = node->children[i];
		}
		return branch ? avro_pg_type_name(branch) : NULL;
	}
	switch (node->logical)
	{
		case AVRO_LOGICAL_DECIMAL:
			return psprintf("numeric(%d,%d)", node->precision, node->scale);
		case AVRO_LOGICAL_UUID:
			return "uuid";
		case AVRO_LOGICAL_DATE:
			return "date";
		case AVRO_LOGICAL_TIME_MILLIS:
		case AVRO_LOGICAL_TIME_MICROS:
			return "time";
		case AVRO_LOGICAL_TIMESTAMP_MILLIS:
		case AVRO_LOGICAL_TIMESTAMP_MICROS:
			return "timestamptz";
		case AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
		case AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
			return "timestamp";
		case AVRO_LOGICAL_NONE:
			break;
	}
	switch (node->type)
	{
		case AVRO_NULL:
			return NULL;
		case AVRO_BOOLEAN:
			return "boolean";
		case AVRO_INT:
			return "integer";
		case AVRO_LONG:
			return "bigint";
		case AVRO_FLOAT:
			return "real";
		case AVRO_DOUBLE:
			return "double precision";
		case AVRO_BYTES:
		case AVRO_FIXED:
			return "bytea";
		case AVRO_STRING:
		case AVRO_ENUM:
			return "text";
		case AVRO_RECORD:
		case AVRO_ARRAY:
		case AVRO_MAP:
		case AVRO_UNION:
			return "jsonb";
	}
	return NULL;
}

/* The type of a rescued value (json is its rendering): NULL for null. */
static const char *
avro_type_for_unknown(const AvroNode *node, const char *json)
{
	if (node->type == AVRO_UNION && strcmp(json, "null") == 0)
		return NULL;
	return avro_pg_type_name(node);
}

/* Field i of record node has no column: report it, its value as JSON. */
static bool
report_unknown_field(AvroDecodeState *state, KafkaConvertState *convert,
					 AvroCursor *cursor, const AvroNode *node, int i, int depth)
{
	const char *name = node->field_names[i];
	char	   *error;

	resetStringInfo(&state->scratch);
	if (!kafka_avro_value_to_json(cursor, node->children[i], &state->scratch, depth, &error))
	{
		if (cursor->too_deep)
			return nested_too_deeply(convert);
		return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								 "truncated or malformed Avro data in field \"%s\": %s",
								 name, error);
	}
	kafka_unknown_field_add(state->report_unknown, name, strlen(name), state->scratch.data,
							state->scratch.len,
							avro_type_for_unknown(node->children[i], state->scratch.data));
	return true;
}

/*
 * The fields of a record into the columns of set.  change: the record is
 * the row image of a Debezium change event (placeholders are looked for).
 */
static bool
read_record(AvroDecodeState *state, KafkaConvertState *convert,
			AvroCursor *cursor, AvroPlan *plan, AvroColumnSet *set,
			Datum *values, bool *nulls, int depth, KafkaChangeEvent *change)
{
	const AvroNode *node = plan->node;
	AvroCursor	start;

	if (plan->single_column >= 0)
	{
		int			column = plan->single_column;

		convert->context_column = set->names[column];
		if (!read_into(state, convert, cursor, node, &set->inputs[column],
					   &values[set->attnums[column]],
					   &nulls[set->attnums[column]], depth))
			return kafka_decode_fail(convert, convert->error_code,
									 "cannot decode the Avro value into column \"%s\": %s",
									 set->names[column], convert->error);
		return true;
	}
	if (node->type != AVRO_RECORD)
		return avro_skip_value(cursor, node, depth) ? true :
			skip_failed(convert, cursor);

	for (int i = 0; i < node->nchildren; i++)
	{
		int			column = plan->field_columns[i];

		if (column < 0 && state->report_unknown != NULL && set == &state->top)
		{
			if (!report_unknown_field(state, convert, cursor, node, i, depth + 1))
				return false;
			continue;
		}
		if (column < 0)
		{
			if (!avro_skip_value(cursor, node->children[i], depth + 1))
			{
				if (cursor->too_deep)
					return nested_too_deeply(convert);
				return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
										 "truncated or malformed Avro data in field \"%s\"",
										 node->field_names[i]);
			}
			continue;
		}
		if (change != NULL &&
			at_unavailable_value(cursor, node->children[i], &set->inputs[column]))
		{
			/* NULL already: the caller starts with every column NULL */
			kafka_change_mark_unavailable(change, set->attnums[column]);
			continue;
		}
		convert->context_field = node->field_names[i];
		convert->context_field_length = strlen(node->field_names[i]);
		convert->context_column = set->names[column];
		start = *cursor;
		if (!read_into(state, convert, cursor, node->children[i],
					   &set->inputs[column], &values[set->attnums[column]],
					   &nulls[set->attnums[column]], depth + 1))
		{
			if (state->report_unknown != NULL && state->report_unknown->rescue_mismatches &&
				set == &state->top && !cursor->too_deep)
			{
				/* the value its column cannot take is rescued instead */
				values[set->attnums[column]] = (Datum) 0;
				nulls[set->attnums[column]] = true;
				kafka_convert_forget_error(convert);
				*cursor = start;
				if (!report_unknown_field(state, convert, cursor, node, i, depth + 1))
					return false;
				continue;
			}
			convert->context_in_message = true;
			return kafka_decode_fail(convert, convert->error_code,
									 "cannot decode field \"%s\" into column \"%s\": %s",
									 node->field_names[i], set->names[column],
									 convert->error);
		}
	}
	convert->context_field = NULL;
	convert->context_column = NULL;
	return true;
}

/* ---- reader defaults ---------------------------------------------------- */

/*
 * The value of a reader field's default for a column, or false when the
 * column's type does not accept it (the column then stays NULL).
 */
static bool
default_value(KafkaConvertState *convert, const char *text, char kind,
			  KafkaValueInput *input, Datum *value)
{
	bool		ok = false;

	if (kafka_utf8_invalid_offset(text, strlen(text), true) < 0)
		ok = kafka_value_from_text(convert, input, text, (int) strlen(text),
								   kind == 'n' ? KAFKA_TEXT_NUMBER :
								   kind == 'b' ? KAFKA_TEXT_LITERAL :
								   KAFKA_TEXT_STRING, value);
	convert->error = NULL;
	convert->error_code = 0;
	return ok;
}

/*
 * Columns that the writer schema of plan lacks but the reader schema (the
 * subject's latest) has with a default get that default, as a reader with
 * that schema would see them.
 */
static void
compute_defaults(AvroDecodeState *state, KafkaConvertState *convert,
				 AvroPlan *plan, MemoryContext mcxt)
{
	AvroColumnSet *set = &state->top;
	const AvroNode *reader = state->reader;
	bool	   *taken;
	MemoryContext oldcontext;

	plan->defaults_done = true;
	if (reader == NULL || reader->type != AVRO_RECORD ||
		plan->node->type != AVRO_RECORD || set->single_value)
		return;
	oldcontext = MemoryContextSwitchTo(mcxt);
	taken = palloc0(sizeof(bool) * Max(set->ncolumns, 1));
	for (int i = 0; i < plan->node->nchildren; i++)
	{
		if (plan->field_columns[i] >= 0)
			taken[plan->field_columns[i]] = true;
	}
	plan->default_columns = palloc(sizeof(int) * Max(set->ncolumns, 1));
	plan->default_values = palloc(sizeof(Datum) * Max(set->ncolumns, 1));
	plan->default_lengths = palloc(sizeof(int16) * Max(set->ncolumns, 1));
	plan->default_byvals = palloc(sizeof(bool) * Max(set->ncolumns, 1));
	for (int f = 0; f < reader->nchildren; f++)
	{
		int			column;
		Datum		value;

		if (reader->field_defaults[f] == NULL)
			continue;
		column = kafka_column_set_match(set, reader->field_names[f], taken);
		if (column < 0)
			continue;
		taken[column] = true;
		if (!default_value(convert, reader->field_defaults[f],
						   reader->field_default_kinds[f],
						   &set->inputs[column], &value))
			continue;
		plan->default_columns[plan->ndefaults] = column;
		plan->default_values[plan->ndefaults] = value;
		get_typlenbyval(set->inputs[column].typid,
						&plan->default_lengths[plan->ndefaults],
						&plan->default_byvals[plan->ndefaults]);
		plan->ndefaults++;
	}
	pfree(taken);
	MemoryContextSwitchTo(oldcontext);
}

/* ---- Debezium change events --------------------------------------------- */

/* node, or each non-null branch of a union node, passes accept */
static bool
nullable_of(const AvroNode *node, bool (*accept) (const AvroNode *node))
{
	if (node->type != AVRO_UNION)
		return accept(node);
	for (int i = 0; i < node->nchildren; i++)
	{
		if (node->children[i]->type != AVRO_NULL && !accept(node->children[i]))
			return false;
	}
	return true;
}

static bool
is_integer(const AvroNode *node)
{
	return node->type == AVRO_INT || node->type == AVRO_LONG;
}

static bool
is_string(const AvroNode *node)
{
	return node->type == AVRO_STRING;
}

static bool
is_record(const AvroNode *node)
{
	return node->type == AVRO_RECORD;
}

/* The record branch of a nullable record (the only one), or NULL. */
static const AvroNode *
record_branch(const AvroNode *node)
{
	const AvroNode *found = NULL;

	if (node->type == AVRO_RECORD)
		return node;
	if (node->type != AVRO_UNION)
		return NULL;
	for (int i = 0; i < node->nchildren; i++)
	{
		if (node->children[i]->type == AVRO_RECORD)
		{
			if (found != NULL)
				return NULL;
			found = node->children[i];
		}
	}
	return found;
}

static AvroEnvelopePlan *
get_envelope_plan(AvroDecodeState *state, const AvroNode *node)
{
	AvroColumnSet *set = &state->top;
	MemoryContext oldcontext = MemoryContextSwitchTo(set->mcxt);
	AvroEnvelopePlan *plan = palloc0(sizeof(AvroEnvelopePlan));
	bool		has_op = false;

	plan->node = node;
	if (node->type != AVRO_RECORD)
	{
		plan->incompatible = psprintf("the Avro value is a %s, not a Debezium change event record",
									  avro_type_name(node));
		MemoryContextSwitchTo(oldcontext);
		return plan;
	}
	plan->fields = palloc0(sizeof(EnvelopeField) * Max(node->nchildren, 1));
	for (int i = 0; i < node->nchildren && plan->incompatible == NULL; i++)
	{
		const char *name = node->field_names[i];
		const AvroNode *field = node->children[i];

		if (strcmp(name, "before") == 0 || strcmp(name, "after") == 0)
		{
			plan->fields[i] = name[0] == 'b' ? ENVELOPE_BEFORE : ENVELOPE_AFTER;
			if (!nullable_of(field, is_record))
				plan->incompatible = psprintf("field \"%s\" is a %s, not a row record or null",
											  name, avro_type_name(field));
			for (int b = 0; b < (field->type == AVRO_UNION ? field->nchildren : 1) &&
				 plan->incompatible == NULL; b++)
			{
				const AvroNode *branch = field->type == AVRO_UNION ? field->children[b] : field;
				AvroPlan   *image;

				if (branch->type != AVRO_RECORD)
					continue;
				image = get_plan(set, branch, 1);
				if (image->incompatible)
					plan->incompatible = psprintf("field \"%s\": %s", name,
												  image->incompatible);
			}
		}
		else if (strcmp(name, "op") == 0)
		{
			plan->fields[i] = ENVELOPE_OP;
			has_op = true;
			if (!nullable_of(field, is_string))
				plan->incompatible = psprintf("field \"op\" is a %s, not a string",
											  avro_type_name(field));
		}
		else if (strcmp(name, "ts_ms") == 0)
		{
			plan->fields[i] = ENVELOPE_TS_MS;
			if (!nullable_of(field, is_integer))
				plan->incompatible = psprintf("field \"ts_ms\" is a %s, not an integer",
											  avro_type_name(field));
		}
		else if (strcmp(name, "source") == 0)
		{
			const AvroNode *source = record_branch(field);

			plan->fields[i] = ENVELOPE_SOURCE;
			if (source == NULL || !nullable_of(field, is_record))
			{
				plan->incompatible = psprintf("field \"source\" is a %s, not a record",
											  avro_type_name(field));
				break;
			}
			plan->source = source;
			plan->source_fields = palloc0(sizeof(EnvelopeField) * Max(source->nchildren, 1));
			for (int f = 0; f < source->nchildren; f++)
			{
				const char *source_name = source->field_names[f];

				if (strcmp(source_name, "lsn") == 0)
					plan->source_fields[f] = ENVELOPE_LSN;
				else if (strcmp(source_name, "ts_ms") == 0)
					plan->source_fields[f] = ENVELOPE_TS_MS;
				else
					continue;
				if (!nullable_of(source->children[f], is_integer))
					plan->incompatible = psprintf("field \"source.%s\" is a %s, not an integer",
												  source_name,
												  avro_type_name(source->children[f]));
			}
		}
	}
	if (plan->incompatible == NULL && !has_op)
		plan->incompatible = pstrdup("no field \"op\": not a Debezium change event");
	MemoryContextSwitchTo(oldcontext);
	return plan;
}

/* The branch a nullable value takes (the node itself if not a union). */
static bool
read_branch(AvroCursor *cursor, const AvroNode *node, const AvroNode **branch)
{
	int64		index;

	if (node->type != AVRO_UNION)
	{
		*branch = node;
		return true;
	}
	if (!avro_read_long(cursor, &index) || index < 0 || index >= node->nchildren)
		return false;
	*branch = node->children[index];
	return true;
}

/* An integer field of the event (ts_ms, source.lsn...): absent when null. */
static bool
read_change_integer(AvroCursor *cursor, const AvroNode *node, bool *present,
					int64 *value)
{
	const AvroNode *branch;

	*present = false;
	if (!read_branch(cursor, node, &branch))
		return false;
	if (branch->type == AVRO_NULL)
		return true;
	if (!avro_read_long(cursor, value) ||
		(branch->type == AVRO_INT && (*value < PG_INT32_MIN || *value > PG_INT32_MAX)))
		return false;
	*present = true;
	return true;
}

/*
 * A change event: its row image into the payload columns (NULL already),
 * the rest into state->change.
 */
static bool
read_change_event(AvroDecodeState *state, KafkaConvertState *convert,
				  AvroCursor *cursor, AvroEnvelopePlan *plan, Datum *values,
				  bool *nulls)
{
	KafkaChangeEvent *change = state->change;
	const AvroNode *node = plan->node;
	AvroCursor	before;
	const AvroNode *before_record = NULL;
	const AvroNode *after_record = NULL;
	bool		has_op = false;
	bool		has_ts = false;
	int64		ts_ms = 0;

	for (int i = 0; i < node->nchildren; i++)
	{
		const AvroNode *field = node->children[i];
		const AvroNode *branch;
		size_t		length;

		switch (plan->fields[i])
		{
			case ENVELOPE_SKIP:
			case ENVELOPE_LSN:
				if (!avro_skip_value(cursor, field, 1))
					return skip_failed(convert, cursor);
				break;
			case ENVELOPE_BEFORE:
				if (!read_branch(cursor, field, &branch))
					return malformed(convert);
				if (branch->type == AVRO_NULL)
					break;
				/* needed only if "after" is null: read it then */
				before = *cursor;
				before_record = branch;
				if (!avro_skip_value(cursor, branch, 1))
					return skip_failed(convert, cursor);
				break;
			case ENVELOPE_AFTER:
				if (!read_branch(cursor, field, &branch))
					return malformed(convert);
				if (branch->type == AVRO_NULL)
					break;
				after_record = branch;
				if (!read_record(state, convert, cursor, get_plan(&state->top, branch, 1),
								 &state->top, values, nulls, 1, change))
					return false;
				break;
			case ENVELOPE_OP:
				if (!read_branch(cursor, field, &branch))
					return malformed(convert);
				if (branch->type == AVRO_NULL)
					break;
				if (!avro_read_length(cursor, &length))
					return malformed(convert);
				if (!kafka_change_set_op(convert, change, (const char *) cursor->p, length))
					return false;
				cursor->p += length;
				has_op = true;
				break;
			case ENVELOPE_TS_MS:
				if (!read_change_integer(cursor, field, &has_ts, &ts_ms))
					return malformed(convert);
				break;
			case ENVELOPE_SOURCE:
				if (!read_branch(cursor, field, &branch))
					return malformed(convert);
				if (branch->type == AVRO_NULL)
					break;
				for (int f = 0; f < branch->nchildren; f++)
				{
					const AvroNode *source_field = branch->children[f];
					bool		ok = true;

					if (plan->source_fields[f] == ENVELOPE_LSN)
						ok = read_change_integer(cursor, source_field, &change->has_lsn,
												 &change->lsn);
					else if (plan->source_fields[f] == ENVELOPE_TS_MS)
						ok = read_change_integer(cursor, source_field, &change->has_ts,
												 &change->ts_ms);
					else if (!avro_skip_value(cursor, source_field, 2))
						return skip_failed(convert, cursor);
					if (!ok)
						return malformed(convert);
				}
				break;
		}
	}
	if (!has_op)
		return kafka_change_event_error(convert, "no \"op\"");
	if (!change->has_ts && has_ts)
	{
		change->has_ts = true;
		change->ts_ms = ts_ms;
	}
	/* a delete: the columns from "before" (a truncate has neither) */
	if (after_record == NULL && before_record != NULL)
		return read_record(state, convert, &before,
						   get_plan(&state->top, before_record, 1), &state->top,
						   values, nulls, 1, change);
	return true;
}
/* ---- the decoder -------------------------------------------------------- */

static AvroSchemaPlan *
plan_for_schema_id(AvroDecodeState *state, KafkaDecoder *decoder, int32 id)
{
	ListCell   *lc;
	AvroSchemaPlan *entry;
	AvroNode   *root;
	char	   *error = NULL;
	MemoryContext oldcontext;

	foreach(lc, state->schema_plans)
	{
		entry = lfirst(lc);
		if (entry->schema_id == id)
			return entry;
	}
	root = avro_registry_schema(state->source.registry, id, &error);
	oldcontext = MemoryContextSwitchTo(decoder->mcxt);
	entry = palloc0(sizeof(AvroSchemaPlan));
	entry->schema_id = id;
	if (root == NULL)
	{
		/*
		 * Kept for this decoder (one scan, one statement) so that a topic
		 * full of such messages does not ask once per message; the backend's
		 * cache does not keep it, as the registry may learn the id later.
		 */
		entry->error = pstrdup(error);
	}
	else if (state->change != NULL)
		entry->envelope = get_envelope_plan(state, root);
	else
		entry->plan = get_plan(&state->top, root, 0);
	state->schema_plans = lappend(state->schema_plans, entry);
	MemoryContextSwitchTo(oldcontext);
	return entry;
}

/* Envelope 'debezium': a change event written with the envelope's schema. */
static bool
avro_decode_change_event(AvroDecodeState *state, KafkaDecoder *decoder,
						 const char *data, size_t len, int32 id,
						 AvroEnvelopePlan *envelope, Datum *values, bool *nulls)
{
	KafkaConvertState *convert = &decoder->convert;
	AvroCursor	cursor;

	if (envelope->incompatible)
	{
		if (id >= 0)
			return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
									 "Avro schema id %d is not a Debezium change event the columns can take: %s",
									 id, envelope->incompatible);
		return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
								 "Avro schema is not a Debezium change event the columns can take: %s",
								 envelope->incompatible);
	}
	for (int i = 0; i < decoder->npayload; i++)
	{
		values[decoder->payload_attnums[i]] = (Datum) 0;
		nulls[decoder->payload_attnums[i]] = true;
	}
	cursor.p = (const uint8 *) data;
	cursor.end = cursor.p + len;
	cursor.too_deep = false;
	if (!read_change_event(state, convert, &cursor, envelope, values, nulls))
	{
		if (id >= 0)
			return kafka_decode_fail(convert, convert->error_code,
									 "%s (schema id %d)", convert->error, id);
		return false;
	}
	if (cursor.p != cursor.end)
	{
		if (id >= 0)
			return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
									 "%d bytes left after the Avro record (schema id %d)",
									 (int) (cursor.end - cursor.p), id);
		return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								 "%d bytes left after the Avro record",
								 (int) (cursor.end - cursor.p));
	}
	return true;
}

static bool
avro_decode(KafkaDecoder *decoder, const char *data, size_t len,
			Datum *values, bool *nulls)
{
	AvroDecodeState *state = decoder->format_state;
	KafkaConvertState *convert = &decoder->convert;
	AvroPlan   *plan;
	AvroEnvelopePlan *envelope;
	AvroCursor	cursor;
	int32		id = -1;
	char	   *error;

	if (!avro_source_frame(&state->source, &data, &len, &id, &error))
		return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								 "%s", error);
	if (state->source.registry == NULL)
	{
		plan = state->plain_plan;
		envelope = state->plain_envelope;
	}
	else
	{
		AvroSchemaPlan *entry = state->last;

		if (entry == NULL || entry->schema_id != id)
		{
			entry = plan_for_schema_id(state, decoder, id);
			if (entry->error != NULL)
				return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
										 "%s", entry->error);
			state->last = entry;
		}
		plan = entry->plan;
		envelope = entry->envelope;
	}
	if (envelope != NULL)
		return avro_decode_change_event(state, decoder, data, len, id, envelope,
										values, nulls);
	if (!plan->defaults_done && state->reader_subject != NULL)
	{
		if (!state->reader_fetched)
		{
			state->reader = avro_registry_latest_schema(state->source.registry,
														state->reader_subject);
			state->reader_fetched = true;
		}
		compute_defaults(state, convert, plan, decoder->mcxt);
	}
	if (plan->incompatible)
	{
		if (id >= 0)
			return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
									 "Avro schema id %d does not fit the columns: %s",
									 id, plan->incompatible);
		return kafka_decode_fail(convert, ERRCODE_DATATYPE_MISMATCH,
								 "Avro schema does not fit the columns: %s",
								 plan->incompatible);
	}

	for (int i = 0; i < decoder->npayload; i++)
	{
		values[decoder->payload_attnums[i]] = (Datum) 0;
		nulls[decoder->payload_attnums[i]] = true;
	}
	cursor.p = (const uint8 *) data;
	cursor.end = cursor.p + len;
	cursor.too_deep = false;
	if (!read_record(state, convert, &cursor, plan, &state->top, values, nulls, 0,
					 NULL))
	{
		if (id >= 0)
			return kafka_decode_fail(convert, convert->error_code,
									 "%s (schema id %d)", convert->error, id);
		return false;
	}
	for (int i = 0; i < plan->ndefaults; i++)
	{
		int			attnum = state->top.attnums[plan->default_columns[i]];

		values[attnum] = datumCopy(plan->default_values[i],
								   plan->default_byvals[i],
								   plan->default_lengths[i]);
		nulls[attnum] = false;
	}
	if (cursor.p != cursor.end)
	{
		if (id >= 0)
			return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
									 "%d bytes left after the Avro record (schema id %d)",
									 (int) (cursor.end - cursor.p), id);
		return kafka_decode_fail(convert, ERRCODE_INVALID_BINARY_REPRESENTATION,
								 "%d bytes left after the Avro record",
								 (int) (cursor.end - cursor.p));
	}
	return true;
}

void
kafka_avro_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
						const KafkaCodecOptions *options)
{
	AvroDecodeState *state = palloc0(sizeof(AvroDecodeState));
	AvroColumnSet *set = &state->top;

	avro_source_init(&state->source, options);
	state->change = decoder->change;
	state->report_unknown = decoder->unknown ? decoder : NULL;
	/* the subject's latest schema is an Envelope: no defaults for columns */
	if (state->source.registry != NULL && options->subject != NULL &&
		state->change == NULL)
		state->reader_subject = pstrdup(options->subject);
	initStringInfo(&state->scratch);
	set->single_value = options != NULL && options->single_value;
	kafka_column_set_init(set, desc, decoder->payload_attnums,
						  decoder->npayload, decoder->mcxt);
	if (state->source.plain_schema != NULL && state->change != NULL)
	{
		state->plain_envelope = get_envelope_plan(state, state->source.plain_schema);
		if (state->plain_envelope->incompatible)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("option \"avro_schema\" is not a Debezium change event the columns can take: %s",
							state->plain_envelope->incompatible)));
	}
	else if (state->source.plain_schema != NULL)
	{
		state->plain_plan = get_plan(set, state->source.plain_schema, 0);
		/* a table whose own schema does not fit its columns is a mistake now */
		if (state->plain_plan->incompatible)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("option \"avro_schema\" does not fit the columns: %s",
							state->plain_plan->incompatible)));
	}
	decoder->format_state = state;
	decoder->decode = avro_decode;
}
