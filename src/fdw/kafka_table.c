/*-------------------------------------------------------------------------
 *
 * kafka_table.c
 *	  A kafka foreign table as a description of how to read and decode a
 *	  topic: table options, the role of each column, and the decoders.
 *
 * Foreign-table scans, INSERT and streaming tables all start from
 * kafka_table_open() (kafka_table_open_to_produce() for INSERT, which also
 * takes a table routed by its topic column), so a table's options and
 * column roles mean the same thing everywhere.  Payload columns are filled
 * by the value decoder (the codec); the key, a raw value of another type
 * and single headers ("header:<name>") get a one-column decoder of their
 * own, so their type rules (UTF-8 checks, text input) are the codec's too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "datatype/timestamp.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "fdw/kafka_table.h"
#include "options.h"
#include "read/read_kafka.h"

static const struct
{
	const char *name;
	KafkaColumnRole role;
}			role_names[] =
{
	{"key", KAFKA_COLUMN_KEY},
	{"value", KAFKA_COLUMN_VALUE},
	{"partition", KAFKA_COLUMN_PARTITION},
	{"offset", KAFKA_COLUMN_OFFSET},
	{"timestamp", KAFKA_COLUMN_TIMESTAMP},
	{"timestamp_type", KAFKA_COLUMN_TIMESTAMP_TYPE},
	{"headers", KAFKA_COLUMN_HEADERS},
	{"topic", KAFKA_COLUMN_TOPIC},
	{"error", KAFKA_COLUMN_ERROR},
	{"op", KAFKA_COLUMN_OP},
	{"source_ts", KAFKA_COLUMN_SOURCE_TS},
	{"source_lsn", KAFKA_COLUMN_SOURCE_LSN},
	{"rescued", KAFKA_COLUMN_RESCUED},
};

static void
column_type_error(KafkaTable *table, Form_pg_attribute att, const char *kind,
				  const char *allowed)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("column \"%s\" of foreign table \"%s\" cannot hold kafka '%s': its type is %s",
					NameStr(att->attname), table->relname, kind,
					format_type_be(att->atttypid)),
			 errhint("Declare it as %s.", allowed)));
}

static bool
is_integer_type(Oid typid)
{
	return typid == INT2OID || typid == INT4OID || typid == INT8OID;
}

/* Check that a metadata column's type can hold what we put in it. */
static void
check_role_type(KafkaTable *table, int attnum, const char *kind)
{
	Form_pg_attribute att = TupleDescAttr(table->desc, attnum);
	Oid			typid = att->atttypid;

	switch (table->roles[attnum])
	{
		case KAFKA_COLUMN_PARTITION:
			if (typid != INT4OID && typid != INT8OID)
				column_type_error(table, att, kind, "integer or bigint");
			break;
		case KAFKA_COLUMN_OFFSET:
			if (typid != INT8OID && typid != NUMERICOID)
				column_type_error(table, att, kind, "bigint");
			break;
		case KAFKA_COLUMN_TIMESTAMP:
			if (typid != TIMESTAMPTZOID && typid != TIMESTAMPOID && typid != INT8OID)
				column_type_error(table, att, kind,
								  "timestamptz, timestamp (UTC) or bigint (milliseconds since 1970)");
			break;
		case KAFKA_COLUMN_TIMESTAMP_TYPE:
			if (!is_integer_type(typid) && typid != TEXTOID)
				column_type_error(table, att, kind,
								  "integer (0 CreateTime, 1 LogAppendTime) or text");
			break;
		case KAFKA_COLUMN_HEADERS:
			{
				Oid			elem = get_element_type(typid);

				if (!OidIsValid(elem) || elem != table->header_type)
					column_type_error(table, att, kind, "kafka.header[]");
				break;
			}
		case KAFKA_COLUMN_TOPIC:
		case KAFKA_COLUMN_ERROR:
			if (typid != TEXTOID)
				column_type_error(table, att, kind, "text");
			break;
		case KAFKA_COLUMN_RESCUED:
			if (typid != JSONBOID)
				column_type_error(table, att, kind, "jsonb");
			if ((table->format->flags & KAFKA_FORMAT_UNKNOWN_FIELDS) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("column \"%s\" of foreign table \"%s\" has kafka 'rescued', which needs format %s",
								NameStr(att->attname), table->relname,
								kafka_format_list(KAFKA_FORMAT_UNKNOWN_FIELDS, "'", "or")),
						 errdetail("Only formats with fields have fields without a column.")));
			table->report_unknown = true;
			table->has_rescued = true;
			break;
		case KAFKA_COLUMN_OP:
			if (typid != TEXTOID && typid != VARCHAROID && typid != BPCHAROID)
				column_type_error(table, att, kind, "text, varchar or char");
			break;
		case KAFKA_COLUMN_SOURCE_TS:
			if (typid != TIMESTAMPTZOID && typid != INT8OID)
				column_type_error(table, att, kind,
								  "timestamptz or bigint (milliseconds since 1970)");
			break;
		case KAFKA_COLUMN_SOURCE_LSN:
			if (typid != INT8OID && typid != NUMERICOID && typid != PG_LSNOID)
				column_type_error(table, att, kind, "bigint, numeric or pg_lsn");
			break;
		default:
			break;
	}
	if ((table->roles[attnum] == KAFKA_COLUMN_OP ||
		 table->roles[attnum] == KAFKA_COLUMN_SOURCE_TS ||
		 table->roles[attnum] == KAFKA_COLUMN_SOURCE_LSN) &&
		table->envelope != KAFKA_ENVELOPE_DEBEZIUM)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("column \"%s\" of foreign table \"%s\" has kafka '%s', which needs the table option envelope 'debezium'",
						NameStr(att->attname), table->relname, kind),
				 errdetail("Only change events carry an operation, a source timestamp and a source LSN.")));
}

/*
 * A one-column decoder for the key, the raw value or one header: format is
 * the key_format, or NULL for the plain format of the column's type.
 */
static KafkaDecoder *
single_column_decoder(KafkaTable *table, int attnum,
					  const KafkaFormatDef *format, const char *kind,
					  MemoryContext mcxt)
{
	Form_pg_attribute att = TupleDescAttr(table->desc, attnum);
	bool	   *mask = palloc0(sizeof(bool) * Max(table->desc->natts, 1));
	KafkaCodecOptions options = {0};
	KafkaDecoder *decoder;

	if (format != NULL && format->single_column_type_ok != NULL &&
		!format->single_column_type_ok(att->atttypid))
		column_type_error(table, att, kind, format->single_column_types);
	format = kafka_format_for_column(format, att->atttypid);
	mask[attnum] = true;
	/* the whole value (a record too) fills the one column */
	options.server_name = table->server->servername;
	options.format_options = table->options;
	options.key = table->roles[attnum] == KAFKA_COLUMN_KEY;
	options.single_value = true;
	decoder = kafka_decoder_create_with(format->id, table->desc, mask, mcxt,
										&options);
	pfree(mask);
	return decoder;
}

static KafkaOnError
on_error_from_name(const char *name)
{
	if (name == NULL || strcmp(name, "fail") == 0)
		return KAFKA_ON_ERROR_FAIL;
	if (strcmp(name, "null") == 0)
		return KAFKA_ON_ERROR_NULL;
	return KAFKA_ON_ERROR_SKIP;
}

const char *
kafka_on_error_name(KafkaOnError on_error)
{
	switch (on_error)
	{
		case KAFKA_ON_ERROR_FAIL:
			return "fail";
		case KAFKA_ON_ERROR_NULL:
			return "null";
		case KAFKA_ON_ERROR_SKIP:
			return "skip";
	}
	return "fail";
}

/* (Re)build the value decoder for the payload columns in needed[]. */
static void
build_value_decoder(KafkaTable *table)
{
	bool	   *mask = palloc0(sizeof(bool) * Max(table->desc->natts, 1));
	KafkaCodecOptions options = {0};
	int			i;

	/* with unknown fields reported, every column's field is known */
	for (i = 0; i < table->desc->natts; i++)
		mask[i] = table->roles[i] == KAFKA_COLUMN_PAYLOAD &&
			(table->needed[i] || table->report_unknown);
	options.server_name = table->server->servername;
	options.format_options = table->options;
	/* TopicNameStrategy: the latest value schema gives field defaults */
	if (table->topic != NULL)
		options.subject = psprintf("%s-value", table->topic);
	options.envelope = table->envelope;
	options.unknown_fields = table->report_unknown;
	options.rescue_mismatches = table->has_rescued &&
		table->on_error == KAFKA_ON_ERROR_NULL;
	table->value_decoder = kafka_decoder_create_with(table->format->id,
													 table->desc, mask,
													 table->mcxt, &options);
	if (table->allow_throw)
		kafka_decoder_allow_throw(table->value_decoder);
	pfree(mask);
}

/*
 * Without a topic option a table needs a kafka 'topic' column, and then it
 * only produces: each row goes to the topic its column names (Spark's rule
 * for a sink, where a topic option wins over a topic column), so there is
 * no one topic to read.
 */
static void
check_topic(KafkaTable *table, bool to_produce)
{
	if (table->topic != NULL)
		return;
	if (table->topic_attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no topic option and no kafka 'topic' column",
						table->relname),
				 errhint("Give it a topic option (ALTER FOREIGN TABLE %s OPTIONS (ADD topic '...')), or a text column with OPTIONS (kafka 'topic') to route each inserted row to its topic.",
						 quote_identifier(table->relname))));
	if (!to_produce)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read from foreign table \"%s\": it has no topic option",
						table->relname),
				 errdetail("It routes each inserted row to the topic in its kafka 'topic' column \"%s\", so it is produce-only.",
						   NameStr(TupleDescAttr(table->desc, table->topic_attnum)->attname)),
				 errhint("Give it a topic option to read one topic, or read through another foreign table with that topic option.")));
}

static KafkaTable *
open_table(Oid relid, MemoryContext mcxt, bool to_produce)
{
	MemoryContext old = MemoryContextSwitchTo(mcxt);
	KafkaTable *table = palloc0(sizeof(KafkaTable));
	ForeignTable *ft = GetForeignTable(relid);
	Relation	rel;
	char	   *value;
	int			natts;
	int			npayload = 0;
	int			i;

	table->relid = relid;
	table->mcxt = mcxt;
	table->relname = get_rel_name(relid);
	table->server = GetForeignServer(ft->serverid);

	table->topic = kafka_option_value(ft->options, "topic");
	table->topic_attnum = -1;
	value = kafka_option_value(ft->options, "format");
	table->format = kafka_format_by_name(value ? value : "json");
	table->key_format_name = kafka_option_value(ft->options, "key_format");
	table->key_format = table->key_format_name ?
		kafka_format_by_name(table->key_format_name) : NULL;
	table->on_error = on_error_from_name(kafka_option_value(ft->options, "on_error"));
	table->starting_offsets = kafka_option_value(ft->options, "starting_offsets");
	table->ending_offsets = kafka_option_value(ft->options, "ending_offsets");
	table->options = list_copy(ft->options);
	table->envelope = kafka_envelope_from_name(kafka_option_value(ft->options, "envelope"));
	if (table->envelope != KAFKA_ENVELOPE_NONE &&
		(table->format->flags & KAFKA_FORMAT_ENVELOPES) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("foreign table \"%s\" has envelope 'debezium', which needs format %s",
						table->relname,
						kafka_format_list(KAFKA_FORMAT_ENVELOPES, "'", "or"))));
	table->header_type = get_element_type(kafka_header_array_type());
	table->header_desc = lookup_rowtype_tupdesc_copy(table->header_type, -1);

	rel = table_open(relid, AccessShareLock);
	table->desc = CreateTupleDescCopy(RelationGetDescr(rel));
	table_close(rel, AccessShareLock);
	natts = table->desc->natts;

	table->roles = palloc0(sizeof(KafkaColumnRole) * Max(natts, 1));
	table->header_names = palloc0(sizeof(char *) * Max(natts, 1));
	table->column_decoders = palloc0(sizeof(KafkaDecoder *) * Max(natts, 1));
	table->needed = palloc(sizeof(bool) * Max(natts, 1));
	table->error_attnum = -1;

	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(table->desc, i);
		List	   *options;
		char	   *kind;
		int			r;

		table->needed[i] = true;
		if (att->attisdropped)
		{
			table->roles[i] = KAFKA_COLUMN_DROPPED;
			continue;
		}
		options = GetForeignColumnOptions(relid, i + 1);
		kind = kafka_option_value(options, "kafka");
		if (kind == NULL)
		{
			table->roles[i] = KAFKA_COLUMN_PAYLOAD;
			npayload++;
			continue;
		}
		if (strncmp(kind, "header:", 7) == 0 && kind[7] != '\0')
		{
			table->roles[i] = KAFKA_COLUMN_HEADER;
			table->header_names[i] = pstrdup(kind + 7);
			table->column_decoders[i] = single_column_decoder(table, i, NULL,
															  kind, mcxt);
			continue;
		}
		table->roles[i] = KAFKA_COLUMN_DROPPED;
		for (r = 0; r < lengthof(role_names); r++)
			if (strcmp(kind, role_names[r].name) == 0)
				table->roles[i] = role_names[r].role;
		if (table->roles[i] == KAFKA_COLUMN_DROPPED)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for column option \"kafka\" of column \"%s\": \"%s\"",
							NameStr(att->attname), kind)));
		check_role_type(table, i, kind);
		switch (table->roles[i])
		{
			case KAFKA_COLUMN_KEY:
				table->column_decoders[i] = single_column_decoder(table, i,
																  table->key_format,
																  kind, mcxt);
				if (table->key_decoder == NULL)
					table->key_decoder = table->column_decoders[i];
				break;
			case KAFKA_COLUMN_VALUE:
				table->column_decoders[i] = single_column_decoder(table, i, NULL,
																  kind, mcxt);
				break;
			case KAFKA_COLUMN_ERROR:
				if (table->error_attnum < 0)
					table->error_attnum = i;
				break;
			case KAFKA_COLUMN_TOPIC:
				if (table->topic_attnum < 0)
					table->topic_attnum = i;
				break;
			default:
				break;
		}
	}
	check_topic(table, to_produce);

	if ((table->format->flags & KAFKA_FORMAT_RECORD) == 0 && npayload > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("foreign table \"%s\" has format \"%s\", which fills exactly one payload column, but it has %d",
						table->relname, table->format->name, npayload),
				 errhint("Give the other columns a kafka option (e.g. OPTIONS (kafka 'key')), or use format \"json\".")));
	build_value_decoder(table);
	MemoryContextSwitchTo(old);
	return table;
}

KafkaTable *
kafka_table_open(Oid relid, MemoryContext mcxt)
{
	return open_table(relid, mcxt, false);
}

KafkaTable *
kafka_table_open_to_produce(Oid relid, MemoryContext mcxt)
{
	return open_table(relid, mcxt, true);
}

void
kafka_table_set_needed(KafkaTable *table, Bitmapset *attrs_used, int offset)
{
	MemoryContext old = MemoryContextSwitchTo(table->mcxt);
	bool		whole_row = bms_is_member(0 - offset, attrs_used);
	int			i;

	for (i = 0; i < table->desc->natts; i++)
		table->needed[i] = whole_row || bms_is_member(i + 1 - offset, attrs_used);
	build_value_decoder(table);
	MemoryContextSwitchTo(old);
}

void
kafka_table_report_unknown_fields(KafkaTable *table)
{
	MemoryContext old;

	if (table->report_unknown ||
		(table->format->flags & KAFKA_FORMAT_UNKNOWN_FIELDS) == 0)
		return;
	old = MemoryContextSwitchTo(table->mcxt);
	table->report_unknown = true;
	build_value_decoder(table);
	MemoryContextSwitchTo(old);
}

void
kafka_table_allow_throw(KafkaTable *table)
{
	int			i;

	table->allow_throw = true;
	kafka_decoder_allow_throw(table->value_decoder);
	for (i = 0; i < table->desc->natts; i++)
		if (table->column_decoders[i])
			kafka_decoder_allow_throw(table->column_decoders[i]);
}

bool
kafka_table_needs_subtransactions(KafkaTable *table)
{
	int			i;

	for (i = 0; i < table->desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(table->desc, i);
		KafkaColumnRole role = table->roles[i];
		bool		decoded;

		if (!table->needed[i])
			continue;
		decoded = (role == KAFKA_COLUMN_PAYLOAD &&
				   (table->format->flags & KAFKA_FORMAT_BYTES) == 0) ||
			((role == KAFKA_COLUMN_KEY || role == KAFKA_COLUMN_VALUE ||
			  role == KAFKA_COLUMN_HEADER) && att->atttypid != BYTEAOID);
		if (decoded && !kafka_type_has_fast_path(att->atttypid, att->atttypmod))
			return true;
	}
	return false;
}

Oid
kafka_header_array_type(void)
{
	Oid			nsp = get_namespace_oid("kafka", false);
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum("_header"),
										ObjectIdGetDatum(nsp));

	if (!OidIsValid(typid))
		elog(ERROR, "type kafka.header[] does not exist");
	return typid;
}

/* The value of the last header named name, or NULL (absent or null). */
static bool
find_header(rd_kafka_message_t *msg, const char *name, const void **value,
			size_t *size)
{
	rd_kafka_headers_t *headers;

	if (rd_kafka_message_headers(msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return false;
	if (rd_kafka_header_get_last(headers, name, value, size) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return false;
	return *value != NULL;
}

static bool
unix_millis_to_timestamptz(int64 millis, TimestampTz *result)
{
	/* far beyond timestamptz's range either way, and no overflow below */
	if (millis > PG_INT64_MAX / 2000 || millis < -(PG_INT64_MAX / 2000))
		return false;
	*result = millis * 1000 - KAFKA_UNIX_TO_POSTGRES_USECS;
	return IS_VALID_TIMESTAMP(*result);
}

static void
set_error(KafkaTable *table, KafkaDecoder *decoder, char **error,
		  const char *what, char *message)
{
	if (*error != NULL)
		return;
	*error = what ? psprintf("%s: %s", what, message) : message;
	table->error_code = kafka_decoder_error_code(decoder);
}

bool
kafka_table_decode(KafkaTable *table, rd_kafka_message_t *msg,
				   KafkaPartitionRange *range,
				   Datum *values, bool *nulls, char **error)
{
	TupleDesc	desc = table->desc;
	const KafkaChangeEvent *change;
	bool		ok = true;
	char	   *message = NULL;
	Datum		rescued = (Datum) 0;
	bool		rescued_isnull;
	int			i;

	*error = NULL;

	/* the payload first: its failure is the error most worth reporting */
	if (!kafka_decoder_decode(table->value_decoder, msg->payload, msg->len,
							  values, nulls, &message))
	{
		ok = false;
		set_error(table, table->value_decoder, error, NULL, message);
	}
	table->unknown = kafka_decoder_unknown_fields(table->value_decoder);
	rescued_isnull = true;
	if (ok && table->has_rescued && table->unknown->count > 0)
	{
		if (kafka_decoder_rescued_jsonb(table->value_decoder, &rescued, &message))
			rescued_isnull = false;
		else
		{
			/* as when a jsonb column refuses a value: the record's error */
			ok = false;
			set_error(table, table->value_decoder, error, NULL, message);
			for (i = 0; i < desc->natts; i++)
				if (table->roles[i] == KAFKA_COLUMN_PAYLOAD)
				{
					values[i] = (Datum) 0;
					nulls[i] = true;
				}
		}
	}
	change = kafka_decoder_change(table->value_decoder);
	if (change != NULL)
	{
		table->skip_record = change->skip;
		table->any_unavailable = change->any_unavailable;
		table->unavailable = change->unavailable;
		/* no row, so nothing else of it can be wrong */
		if (change->skip)
		{
			memset(values, 0, sizeof(Datum) * desc->natts);
			memset(nulls, true, sizeof(bool) * desc->natts);
			return true;
		}
	}

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att;
		KafkaColumnRole role = table->roles[i];

		if (role == KAFKA_COLUMN_PAYLOAD)
		{
			if (!table->needed[i])
				nulls[i] = true;
			continue;
		}
		nulls[i] = true;
		values[i] = (Datum) 0;
		if (!table->needed[i] || role == KAFKA_COLUMN_DROPPED)
			continue;
		att = TupleDescAttr(desc, i);
		switch (role)
		{
			case KAFKA_COLUMN_KEY:
				if (!kafka_decoder_decode(table->column_decoders[i], msg->key,
										  msg->key_len, values, nulls, &message))
				{
					ok = false;
					set_error(table, table->column_decoders[i], error, "key", message);
				}
				break;
			case KAFKA_COLUMN_VALUE:
				if (!kafka_decoder_decode(table->column_decoders[i], msg->payload,
										  msg->len, values, nulls, &message))
				{
					ok = false;
					set_error(table, table->column_decoders[i], error, "value", message);
				}
				break;
			case KAFKA_COLUMN_HEADER:
				{
					const void *hvalue;
					size_t		hsize;

					if (!find_header(msg, table->header_names[i], &hvalue, &hsize))
						break;
					if (!kafka_decoder_decode(table->column_decoders[i], hvalue,
											  hsize, values, nulls, &message))
					{
						ok = false;
						set_error(table, table->column_decoders[i], error, psprintf("header \"%s\"", table->header_names[i]),
								  message);
					}
					break;
				}
			case KAFKA_COLUMN_PARTITION:
				values[i] = att->atttypid == INT8OID ? Int64GetDatum(msg->partition) :
					Int32GetDatum(msg->partition);
				nulls[i] = false;
				break;
			case KAFKA_COLUMN_OFFSET:
				values[i] = att->atttypid == NUMERICOID ?
					NumericGetDatum(int64_to_numeric(msg->offset)) :
					Int64GetDatum(msg->offset);
				nulls[i] = false;
				break;
			case KAFKA_COLUMN_TIMESTAMP:
			case KAFKA_COLUMN_TIMESTAMP_TYPE:
				{
					rd_kafka_timestamp_type_t tstype;
					int64		ts = rd_kafka_message_timestamp(msg, &tstype);

					if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0)
						break;
					nulls[i] = false;
					if (role == KAFKA_COLUMN_TIMESTAMP)
					{
						if (att->atttypid == INT8OID)
							values[i] = Int64GetDatum(ts);
						else
							values[i] = TimestampTzGetDatum(ts * 1000 - KAFKA_UNIX_TO_POSTGRES_USECS);
					}
					else
					{
						/* Spark's numbering: 0 CreateTime, 1 LogAppendTime */
						int			type = tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME ? 0 : 1;

						if (att->atttypid == TEXTOID)
							values[i] = CStringGetTextDatum(type == 0 ? "CreateTime" : "LogAppendTime");
						else if (att->atttypid == INT2OID)
							values[i] = Int16GetDatum(type);
						else if (att->atttypid == INT8OID)
							values[i] = Int64GetDatum(type);
						else
							values[i] = Int32GetDatum(type);
					}
					break;
				}
			case KAFKA_COLUMN_HEADERS:
				values[i] = kafka_headers_datum(msg, table->header_type, table->header_desc);
				nulls[i] = false;
				break;
			case KAFKA_COLUMN_TOPIC:
				if (range != NULL)
					values[i] = range->topic_datum;
				else
					values[i] = CStringGetTextDatum(rd_kafka_topic_name(msg->rkt));
				nulls[i] = false;
				break;
			case KAFKA_COLUMN_ERROR:
				/* filled below, once every column had its chance */
				break;
			case KAFKA_COLUMN_RESCUED:
				values[i] = rescued;
				nulls[i] = rescued_isnull;
				break;
			case KAFKA_COLUMN_OP:
				if (change != NULL && change->op != 0)
				{
					char		op[2] = {change->op, '\0'};

					values[i] = att->atttypid == BPCHAROID ?
						DirectFunctionCall3(bpcharin, CStringGetDatum(op),
											ObjectIdGetDatum(InvalidOid),
											Int32GetDatum(att->atttypmod)) :
						CStringGetTextDatum(op);
					nulls[i] = false;
				}
				break;
			case KAFKA_COLUMN_SOURCE_TS:
				if (change != NULL && change->has_ts)
				{
					TimestampTz ts;

					if (att->atttypid == INT8OID)
						values[i] = Int64GetDatum(change->ts_ms);
					else if (unix_millis_to_timestamptz(change->ts_ms, &ts))
						values[i] = TimestampTzGetDatum(ts);
					else
						break;	/* beyond timestamptz: NULL, not a wrong time */
					nulls[i] = false;
				}
				break;
			case KAFKA_COLUMN_SOURCE_LSN:
				if (change != NULL && change->has_lsn)
				{
					if (att->atttypid == NUMERICOID)
						values[i] = NumericGetDatum(int64_to_numeric(change->lsn));
					else if (att->atttypid == PG_LSNOID)
						values[i] = LSNGetDatum((XLogRecPtr) change->lsn);
					else
						values[i] = Int64GetDatum(change->lsn);
					nulls[i] = false;
				}
				break;
			default:
				break;
		}
	}

	if (!ok && table->error_attnum >= 0 && table->needed[table->error_attnum])
	{
		for (i = 0; i < desc->natts; i++)
		{
			if (table->roles[i] == KAFKA_COLUMN_ERROR && table->needed[i])
			{
				values[i] = CStringGetTextDatum(*error);
				nulls[i] = false;
			}
		}
	}
	return ok;
}

/*
 * The error a failed decode raises under on_error 'fail', naming where the
 * record is.
 */
void
kafka_table_report_error(KafkaTable *table, rd_kafka_message_t *msg,
						 const char *error)
{
	ereport(ERROR,
			(errcode(table->error_code != 0 ? table->error_code :
					 ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("%s", error),
			 errcontext("kafka record %s[%d] at offset " INT64_FORMAT " of foreign table \"%s\"",
						rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset,
						table->relname),
			 errhint("Set the foreign table's on_error option to null or skip to read past malformed records.")));
}
