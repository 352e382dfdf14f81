/*-------------------------------------------------------------------------
 *
 * row_encoder.c
 *	  A row of a kafka foreign table as the message it produces.  See
 *	  row_encoder.h.
 *
 * offset, timestamp_type and error columns describe consumed records and
 * are not encoded; neither is a topic column, which routes the row when
 * the table has no topic option.
 *
 * A format with the Schema Registry (KAFKA_FORMAT_REGISTRY: avro registers
 * its schema, protobuf writes with the latest one) uses the topic's subject
 * (<topic>-value, <topic>-key), so a routed table gets those encoders per
 * topic, when a row first goes there.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "codec/codec.h"
#include "common/kafka_properties.h"
#include "produce/producer.h"
#include "produce/row_encoder.h"

/* A routed table's registry encoders for one topic. */
typedef struct TopicEncoders
{
	char		topic[KAFKA_TOPIC_NAME_MAX + 1];	/* hash key */
	KafkaEncoder *value_encoder;
	KafkaEncoder *key_encoder;
} TopicEncoders;

struct KafkaRowEncoder
{
	KafkaTable *table;
	MemoryContext mcxt;			/* where it lives */
	int			topic_attnum;	/* the routing column, or -1: the table's
								 * topic */
	char		topic[KAFKA_TOPIC_NAME_MAX + 1];	/* the last routed row's */
	/* routed tables with a registry format: encoders per topic */
	bool	   *payload_mask;	/* value encoders' columns, or NULL */
	bool		key_per_topic;
	HTAB	   *topic_encoders; /* of TopicEncoders */
	KafkaEncoder *value_encoder;	/* payload columns; NULL if none */
	KafkaEncoder **column_encoders; /* key, value, header:<name> columns */
	int			key_attnum;		/* 0-based, or -1 */
	int			value_attnum;
	int			partition_attnum;
	int			timestamp_attnum;
	int			headers_attnum;
	int			nheader_columns;
	StringInfoData key;
	StringInfoData value;
	StringInfoData *header_values;	/* per attribute, header:<name> only */
};

/*
 * The payload columns (the key column: key) in format, with the Schema
 * Registry of the table's server and the subject of TopicNameStrategy
 * (<topic>-value, <topic>-key) for formats that use it; values also with
 * the table's own options (avro_schema for plain Avro values...).
 */
static KafkaEncoder *
record_encoder(KafkaTable *table, const KafkaFormatDef *format,
			   const char *topic, TupleDesc desc, const bool *mask, bool key)
{
	KafkaCodecOptions options = {0};

	options.server_name = table->server->servername;
	if (topic != NULL)
		options.subject = psprintf("%s-%s", topic, key ? "key" : "value");
	options.single_value = key;
	options.key = key;
	options.format_options = table->options;
	return kafka_encoder_create_with(format->id, desc, mask, CurrentMemoryContext,
									 &options);
}

/*
 * A column holding a whole key, value or header: format is the key_format,
 * or NULL for the plain format of the column's type.  A bytea column of a
 * format without fields is its bytes.
 */
static KafkaEncoder *
single_column_encoder(KafkaTable *table, TupleDesc desc, int attnum,
					  const KafkaFormatDef *format, bool key)
{
	Oid			typid = TupleDescAttr(desc, attnum)->atttypid;
	bool	   *mask = palloc0(sizeof(bool) * desc->natts);
	KafkaCodecOptions options = {0};
	KafkaEncoder *encoder;

	format = kafka_format_for_column(format, typid);
	if ((format->flags & KAFKA_FORMAT_RECORD) == 0 && typid == BYTEAOID)
		format = kafka_format_for_column(NULL, typid);
	mask[attnum] = true;
	options.single_value = true;
	options.key = key;
	options.format_options = table->options;
	encoder = kafka_encoder_create_with(format->id, desc, mask,
										CurrentMemoryContext, &options);
	pfree(mask);
	return encoder;
}

KafkaRowEncoder *
kafka_row_encoder_create(KafkaTable *table)
{
	KafkaRowEncoder *encoder = palloc0(sizeof(KafkaRowEncoder));
	TupleDesc	desc = table->desc;
	bool	   *payload;
	bool		has_payload = false;
	bool		key_registry;
	int			i;

	if (table->envelope != KAFKA_ENVELOPE_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot insert into foreign table \"%s\": it reads change events (envelope 'debezium')",
						table->relname),
				 errhint("Produce through another foreign table on the topic, without the envelope option.")));
	encoder->table = table;
	encoder->mcxt = CurrentMemoryContext;
	encoder->topic_attnum = table->topic == NULL ? table->topic_attnum : -1;
	encoder->key_attnum = encoder->value_attnum = encoder->partition_attnum = -1;
	encoder->timestamp_attnum = encoder->headers_attnum = -1;
	encoder->column_encoders = palloc0(sizeof(KafkaEncoder *) * Max(desc->natts, 1));
	encoder->header_values = palloc0(sizeof(StringInfoData) * Max(desc->natts, 1));
	payload = palloc0(sizeof(bool) * Max(desc->natts, 1));
	/* a key's schema is never a table option: always the registry's */
	key_registry = table->key_format != NULL &&
		kafka_format_uses_registry(table->key_format, NIL);

	for (i = 0; i < desc->natts; i++)
	{
		switch (table->roles[i])
		{
			case KAFKA_COLUMN_PAYLOAD:
				payload[i] = true;
				has_payload = true;
				break;
			case KAFKA_COLUMN_KEY:
				if (encoder->key_attnum < 0)
				{
					encoder->key_attnum = i;
					if (key_registry && table->topic == NULL)
						encoder->key_per_topic = true;
					else if (key_registry)
					{
						bool	   *mask = palloc0(sizeof(bool) * desc->natts);

						mask[i] = true;
						encoder->column_encoders[i] = record_encoder(table, table->key_format,
																	 table->topic, desc,
																	 mask, true);
					}
					else
						encoder->column_encoders[i] =
							single_column_encoder(table, desc, i, table->key_format, true);
				}
				break;
			case KAFKA_COLUMN_VALUE:
				if (encoder->value_attnum < 0)
				{
					encoder->value_attnum = i;
					encoder->column_encoders[i] = single_column_encoder(table, desc, i, NULL, false);
				}
				break;
			case KAFKA_COLUMN_HEADER:
				encoder->column_encoders[i] = single_column_encoder(table, desc, i, NULL, false);
				initStringInfo(&encoder->header_values[i]);
				encoder->nheader_columns++;
				break;
			case KAFKA_COLUMN_PARTITION:
				if (encoder->partition_attnum < 0)
					encoder->partition_attnum = i;
				break;
			case KAFKA_COLUMN_TIMESTAMP:
				/* bigint: milliseconds since 1970, as the scan gives them */
				if (encoder->timestamp_attnum < 0)
					encoder->timestamp_attnum = i;
				break;
			case KAFKA_COLUMN_HEADERS:
				if (encoder->headers_attnum < 0)
					encoder->headers_attnum = i;
				break;
			default:
				break;
		}
	}
	/* with its schema in a table option (avro_schema), no subject */
	if (has_payload && table->topic == NULL &&
		kafka_format_uses_registry(table->format, table->options))
		encoder->payload_mask = payload;
	else if (has_payload)
		encoder->value_encoder = record_encoder(table, table->format, table->topic,
												desc, payload, false);
	if (encoder->payload_mask == NULL)
		pfree(payload);
	initStringInfo(&encoder->key);
	initStringInfo(&encoder->value);
	return encoder;
}

/*
 * What is wrong with a topic name, or NULL: Kafka's own rule (1 to 249
 * characters of ASCII letters, digits, '.', '_' and '-', neither "." nor
 * "..").
 */
static const char *
topic_name_problem(const char *name, Size len)
{
	char		copy[KAFKA_TOPIC_NAME_MAX + 1];

	if (len == 0)
		return "A topic name must not be empty.";
	if (len > KAFKA_TOPIC_NAME_MAX)
		return "A topic name is at most 249 characters long.";
	memcpy(copy, name, len);
	copy[len] = '\0';
	if (strlen(copy) != len || !kafka_topic_name_valid(copy))
		return "A topic name consists of ASCII letters, digits, '.', '_' and '-', and is neither \".\" nor \"..\".";
	return NULL;
}

bool
kafka_row_encoder_routes(KafkaRowEncoder *encoder)
{
	return encoder->topic_attnum >= 0;
}

const char *
kafka_row_encoder_topic(KafkaRowEncoder *encoder, Datum *values, bool *nulls)
{
	KafkaTable *table = encoder->table;
	int			attnum = encoder->topic_attnum;
	const char *column;
	text	   *name;
	Size		len;
	const char *problem;

	if (attnum < 0)
		return table->topic;
	column = NameStr(TupleDescAttr(table->desc, attnum)->attname);
	if (nulls[attnum])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("null kafka topic in column \"%s\" of foreign table \"%s\"",
						column, table->relname),
				 errdetail("The table has no topic option: each row goes to the topic its kafka 'topic' column names.")));

	/* a hostile value is judged by its first bytes, never read whole */
	len = toast_raw_datum_size(values[attnum]) - VARHDRSZ;
	name = DatumGetTextPSlice(values[attnum], 0, KAFKA_TOPIC_NAME_MAX + 1);
	problem = topic_name_problem(VARDATA_ANY(name), len);
	if (problem != NULL)
	{
		int			shown = pg_mbcliplen(VARDATA_ANY(name),
										 Min(len, VARSIZE_ANY_EXHDR(name)), 64);

		ereport(ERROR,
				(errcode(len == 0 ? ERRCODE_ZERO_LENGTH_CHARACTER_STRING :
						 ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kafka topic \"%.*s%s\" in column \"%s\" of foreign table \"%s\"",
						shown, VARDATA_ANY(name), (Size) shown < len ? "..." : "",
						column, table->relname),
				 errdetail("%s", problem)));
	}
	memcpy(encoder->topic, VARDATA_ANY(name), len);
	encoder->topic[len] = '\0';
	if ((Pointer) name != DatumGetPointer(values[attnum]))
		pfree(name);
	return encoder->topic;
}

/* A routed table's registry encoders for topic, made when first asked for. */
static TopicEncoders *
topic_encoders(KafkaRowEncoder *encoder, const char *topic)
{
	KafkaTable *table = encoder->table;
	TopicEncoders *entry;
	MemoryContext oldcontext;
	bool		found;

	if (encoder->topic_encoders == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = KAFKA_TOPIC_NAME_MAX + 1;
		ctl.entrysize = sizeof(TopicEncoders);
		ctl.hcxt = encoder->mcxt;
		encoder->topic_encoders = hash_create("kafka_fdw registry encoders per topic", 16, &ctl,
											  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	entry = hash_search(encoder->topic_encoders, topic, HASH_ENTER, &found);
	if (!found)
	{
		entry->value_encoder = NULL;
		entry->key_encoder = NULL;
	}
	/* made after the entry, so a registry error leaves it to be made again */
	oldcontext = MemoryContextSwitchTo(encoder->mcxt);
	if (encoder->payload_mask != NULL && entry->value_encoder == NULL)
		entry->value_encoder = record_encoder(table, table->format, topic,
											  table->desc, encoder->payload_mask,
											  false);
	if (encoder->key_per_topic && entry->key_encoder == NULL)
	{
		bool	   *mask = palloc0(sizeof(bool) * table->desc->natts);

		mask[encoder->key_attnum] = true;
		entry->key_encoder = record_encoder(table, table->key_format, topic,
											table->desc, mask, true);
		pfree(mask);
	}
	MemoryContextSwitchTo(oldcontext);
	return entry;
}

static int32
partition_value(KafkaRowEncoder *encoder, Datum value)
{
	int			attnum = encoder->partition_attnum;
	int64		partition = TupleDescAttr(encoder->table->desc, attnum)->atttypid == INT8OID ?
		DatumGetInt64(value) : DatumGetInt32(value);

	if (partition < 0 || partition > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kafka partition " INT64_FORMAT " in column \"%s\" of foreign table \"%s\"",
						partition, NameStr(TupleDescAttr(encoder->table->desc, attnum)->attname),
						encoder->table->relname),
				 errhint("Give NULL to let the partitioner choose.")));
	return (int32) partition;
}

static int64
timestamp_value(KafkaRowEncoder *encoder, Datum value)
{
	int			attnum = encoder->timestamp_attnum;

	if (TupleDescAttr(encoder->table->desc, attnum)->atttypid == INT8OID)
	{
		int64		ms = DatumGetInt64(value);

		if (ms < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("kafka message timestamp must not be negative: " INT64_FORMAT, ms)));
		return ms;
	}
	/* timestamp without time zone is read as UTC, like the scan writes it */
	return kafka_produce_timestamp_ms(DatumGetTimestampTz(value));
}

void
kafka_row_encoder_encode(KafkaRowEncoder *encoder, Datum *values, bool *nulls,
						 KafkaMessageData *message)
{
	KafkaTable *table = encoder->table;
	TupleDesc	desc = table->desc;
	KafkaHeaderData *headers = NULL;
	KafkaEncoder *value_encoder = encoder->value_encoder;
	KafkaEncoder *key_encoder = NULL;
	int			nheaders = 0;
	int			i;

	memset(message, 0, sizeof(*message));
	message->partition = -1;

	if (encoder->key_attnum >= 0)
		key_encoder = encoder->column_encoders[encoder->key_attnum];
	if (encoder->payload_mask != NULL || encoder->key_per_topic)
	{
		TopicEncoders *per_topic =
			topic_encoders(encoder, kafka_row_encoder_topic(encoder, values, nulls));

		if (encoder->payload_mask != NULL)
			value_encoder = per_topic->value_encoder;
		if (encoder->key_per_topic)
			key_encoder = per_topic->key_encoder;
	}

	resetStringInfo(&encoder->value);
	if (encoder->value_attnum >= 0 && !nulls[encoder->value_attnum])
	{
		(void) kafka_encoder_encode(encoder->column_encoders[encoder->value_attnum],
									values, nulls, &encoder->value);
		message->value = encoder->value.data;
		message->value_len = encoder->value.len;
	}
	else if (value_encoder &&
			 kafka_encoder_encode(value_encoder, values, nulls, &encoder->value))
	{
		message->value = encoder->value.data;
		message->value_len = encoder->value.len;
	}

	resetStringInfo(&encoder->key);
	if (key_encoder &&
		kafka_encoder_encode(key_encoder, values, nulls, &encoder->key))
	{
		message->key = encoder->key.data;
		message->key_len = encoder->key.len;
	}

	if (encoder->partition_attnum >= 0 && !nulls[encoder->partition_attnum])
		message->partition = partition_value(encoder, values[encoder->partition_attnum]);
	if (encoder->timestamp_attnum >= 0 && !nulls[encoder->timestamp_attnum])
		message->timestamp_ms = timestamp_value(encoder, values[encoder->timestamp_attnum]);

	if (encoder->headers_attnum >= 0 && !nulls[encoder->headers_attnum])
		headers = kafka_produce_headers_from_array(values[encoder->headers_attnum], &nheaders);
	if (encoder->nheader_columns > 0)
	{
		KafkaHeaderData *all = palloc((nheaders + encoder->nheader_columns) * sizeof(KafkaHeaderData));

		if (nheaders > 0)
			memcpy(all, headers, nheaders * sizeof(KafkaHeaderData));
		for (i = 0; i < desc->natts; i++)
		{
			StringInfo	buf = &encoder->header_values[i];

			/* a NULL header:<name> column means no such header */
			if (table->roles[i] != KAFKA_COLUMN_HEADER || nulls[i])
				continue;
			resetStringInfo(buf);
			(void) kafka_encoder_encode(encoder->column_encoders[i], values, nulls, buf);
			all[nheaders].name = kafka_produce_utf8(table->header_names[i],
													strlen(table->header_names[i]),
													&all[nheaders].name_len);
			all[nheaders].value = buf->data;
			all[nheaders].value_len = buf->len;
			nheaders++;
		}
		headers = all;
	}
	message->headers = headers;
	message->nheaders = nheaders;
}
