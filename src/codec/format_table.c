/*-------------------------------------------------------------------------
 *
 * format_table.c
 *	  The table of payload formats: the one place that knows them all.
 *
 * Each entry gives a format's name, its decoder and encoder, the table
 * options it reads (with their checks, which the one option parser calls)
 * and what kind of payload it is, as flags.  Everyone else looks formats up
 * here and tests flags: foreign tables, INSERT, streams, the option
 * validator and the hints that list the valid names.  Adding a format is
 * its own folder plus one entry below (and its id in codec.h).
 *
 * IDENTIFICATION
 *	  src/codec/format_table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"

#include "avro/avro.h"
#include "codec/codec_internal.h"
#include "options.h"
#include "protobuf/protobuf.h"

static bool
is_json_type(Oid typid)
{
	return typid == JSONOID || typid == JSONBOID;
}

static bool
is_bytea_type(Oid typid)
{
	return typid == BYTEAOID;
}

static const KafkaFormatOption no_table_options[] = {
	{NULL, NULL}
};

static const KafkaFormatOption avro_table_options[] = {
	{"avro_schema", kafka_avro_check_schema_option},
	{NULL, NULL}
};

static const KafkaFormatOption protobuf_table_options[] = {
	{"protobuf_message", kafka_check_nonempty},
	{"protobuf_key_message", kafka_check_nonempty},
	{"protobuf_descriptor_file", kafka_protobuf_check_descriptor_file_option},
	{NULL, NULL}
};

/* In the order the hints list them. */
static const KafkaFormatDef kafka_formats[] = {
	{
		.name = "json",
		.id = KAFKA_FORMAT_JSON,
		.flags = KAFKA_FORMAT_RECORD | KAFKA_FORMAT_ENVELOPES |
		KAFKA_FORMAT_UNKNOWN_FIELDS,
		.decoder_init = kafka_json_decoder_init,
		.encoder_init = kafka_json_encoder_init,
		.table_options = no_table_options,
		.registry_schema_type = "JSON",
		.schema_columns = kafka_json_schema_columns,
		.schema_value_type = kafka_json_schema_value_type,
		/* a JSON key is kept as a document; its fields are not columns */
		.single_column_type_ok = is_json_type,
		.single_column_types = "json or jsonb (key_format json)",
		.single_column_as = "text",
	},
	{
		.name = "avro",
		.id = KAFKA_FORMAT_AVRO,
		.flags = KAFKA_FORMAT_RECORD | KAFKA_FORMAT_ENVELOPES |
		KAFKA_FORMAT_UNKNOWN_FIELDS | KAFKA_FORMAT_REGISTRY,
		.decoder_init = kafka_avro_decoder_init,
		.encoder_init = kafka_avro_encoder_init,
		.table_options = avro_table_options,
		.schema_option = "avro_schema",
		.registry_schema_type = "AVRO",
		.schema_columns = kafka_avro_schema_columns,
		.schema_value_type = kafka_avro_schema_value_type,
		/* the whole Avro key (a record too) fills the one column */
	},
	{
		.name = "protobuf",
		.id = KAFKA_FORMAT_PROTOBUF,
		.flags = KAFKA_FORMAT_RECORD | KAFKA_FORMAT_UNKNOWN_FIELDS |
		KAFKA_FORMAT_REGISTRY,
		.decoder_init = kafka_protobuf_decoder_init,
		.encoder_init = kafka_protobuf_encoder_init,
		.table_options = protobuf_table_options,
		.schema_option = "protobuf_descriptor_file",
		.registry_schema_type = "PROTOBUF",
		.schema_columns = kafka_protobuf_schema_columns,
		.schema_value_type = kafka_protobuf_schema_value_type,
		.check_table_options = kafka_protobuf_check_table_options,
		/* the whole message (a composite or jsonb column) fills the one column */
	},
	{
		.name = "text",
		.id = KAFKA_FORMAT_TEXT,
		.decoder_init = kafka_text_decoder_init,
		.encoder_init = kafka_text_encoder_init,
		.table_options = no_table_options,
	},
	{
		.name = "raw",
		.id = KAFKA_FORMAT_RAW,
		.flags = KAFKA_FORMAT_BYTES,
		.decoder_init = kafka_raw_decoder_init,
		.encoder_init = kafka_raw_encoder_init,
		.table_options = no_table_options,
		.single_column_type_ok = is_bytea_type,
		.single_column_types = "bytea (format raw)",
	},
};

const KafkaFormatDef *
kafka_format_find(const char *name, bool ignore_case)
{
	for (int i = 0; i < lengthof(kafka_formats); i++)
	{
		if ((ignore_case ? pg_strcasecmp(name, kafka_formats[i].name) :
			 strcmp(name, kafka_formats[i].name)) == 0)
			return &kafka_formats[i];
	}
	return NULL;
}

const KafkaFormatDef *
kafka_format_by_name(const char *name)
{
	const KafkaFormatDef *format = kafka_format_find(name, true);

	if (format != NULL)
		return format;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid format \"%s\"", name),
			 errhint("Valid formats are %s.", kafka_format_list(0, "", "and"))));
	pg_unreachable();
}

const KafkaFormatDef *
kafka_format_by_id(KafkaFormat format)
{
	for (int i = 0; i < lengthof(kafka_formats); i++)
	{
		if (kafka_formats[i].id == format)
			return &kafka_formats[i];
	}
	elog(ERROR, "unrecognized kafka format %d", (int) format);
	pg_unreachable();
}

/* Appends the count-th of total names of a list joined as "a, b and c". */
static void
append_list_name(StringInfo list, int count, int total, const char *quote,
				 const char *name, const char *last_word)
{
	if (count > 0)
		appendStringInfo(list, count == total - 1 ? " %s " : ", ", last_word);
	appendStringInfo(list, "%s%s%s", quote, name, quote);
}

/*
 * The names (name_of) of the formats keep keeps, joined as "a, b and c"
 * for messages.
 */
static char *
join_formats(bool (*keep) (const KafkaFormatDef *format, uint32 arg),
			 uint32 arg, const char *(*name_of) (const KafkaFormatDef *format),
			 const char *quote, const char *last_word)
{
	StringInfoData list;
	int			count = 0;
	int			total = 0;

	for (int i = 0; i < lengthof(kafka_formats); i++)
		if (keep(&kafka_formats[i], arg))
			total++;
	initStringInfo(&list);
	for (int i = 0; i < lengthof(kafka_formats); i++)
	{
		if (keep(&kafka_formats[i], arg))
			append_list_name(&list, count++, total, quote,
							 name_of(&kafka_formats[i]), last_word);
	}
	return list.data;
}

static const char *
format_name(const KafkaFormatDef *format)
{
	return format->name;
}

char *
kafka_format_list_where(bool (*keep) (const KafkaFormatDef *format, uint32 arg),
						uint32 arg, const char *quote, const char *last_word)
{
	return join_formats(keep, arg, format_name, quote, last_word);
}

static bool
has_flags(const KafkaFormatDef *format, uint32 flags)
{
	return (format->flags & flags) == flags;
}

char *
kafka_format_list(uint32 flags, const char *quote, const char *last_word)
{
	return kafka_format_list_where(has_flags, flags, quote, last_word);
}

const KafkaFormatOption *
kafka_format_table_option(const char *name)
{
	for (int i = 0; i < lengthof(kafka_formats); i++)
	{
		for (const KafkaFormatOption *option = kafka_formats[i].table_options;
			 option->name != NULL; option++)
		{
			if (strcmp(option->name, name) == 0)
				return option;
		}
	}
	return NULL;
}

void
kafka_format_check_table_options(List *options)
{
	for (int i = 0; i < lengthof(kafka_formats); i++)
	{
		if (kafka_formats[i].check_table_options != NULL)
			kafka_formats[i].check_table_options(options);
	}
}

const KafkaFormatDef *
kafka_format_for_column(const KafkaFormatDef *format, Oid typid)
{
	if (format == NULL)
		return kafka_format_by_id(typid == BYTEAOID ? KAFKA_FORMAT_RAW :
								  KAFKA_FORMAT_TEXT);
	if (format->single_column_as != NULL)
		return kafka_format_by_name(format->single_column_as);
	return format;
}

bool
kafka_format_uses_registry(const KafkaFormatDef *format, List *table_options)
{
	if ((format->flags & KAFKA_FORMAT_REGISTRY) == 0)
		return false;
	return format->schema_option == NULL ||
		kafka_option_value(table_options, format->schema_option) == NULL;
}

const KafkaFormatDef *
kafka_format_for_schema_type(const char *schema_type)
{
	for (int i = 0; i < lengthof(kafka_formats); i++)
	{
		if (kafka_formats[i].registry_schema_type != NULL &&
			pg_strcasecmp(kafka_formats[i].registry_schema_type, schema_type) == 0)
			return &kafka_formats[i];
	}
	return NULL;
}

KafkaSchemaColumn *
kafka_schema_column(const char *name, const char *type)
{
	KafkaSchemaColumn *column = palloc(sizeof(KafkaSchemaColumn));

	column->name = pstrdup(name);
	column->type = type;
	return column;
}

static bool
has_schema_type(const KafkaFormatDef *format, uint32 arg)
{
	return format->registry_schema_type != NULL;
}

static const char *
schema_type_name(const KafkaFormatDef *format)
{
	return format->registry_schema_type;
}

/* The registry schema types IMPORT FOREIGN SCHEMA reads, for messages. */
char *
kafka_format_schema_types(void)
{
	return join_formats(has_schema_type, 0, schema_type_name, "", "and");
}

static bool
has_schema_option(const KafkaFormatDef *format, uint32 arg)
{
	return format->schema_option != NULL;
}

static const char *
schema_option_phrase(const KafkaFormatDef *format)
{
	return psprintf("%s for format %s", format->schema_option, format->name);
}

char *
kafka_format_schema_options(void)
{
	return join_formats(has_schema_option, 0, schema_option_phrase, "", "or");
}
