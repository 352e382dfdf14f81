/*-------------------------------------------------------------------------
 *
 * pb_import.c
 *	  IMPORT FOREIGN SCHEMA of PROTOBUF subjects: the columns of a
 *	  registered schema's first message, typed as the Protobuf decoder reads
 *	  them.
 *
 * The schema is the subject version's id asked for with format=serialized,
 * its references loaded (pb_registry.c).  The table's message is the first
 * message of the schema's file, as Confluent's serializer writes by
 * default; a table reading another one names it in protobuf_message.
 *
 * Types, each read exactly by pb_decode.c: int32, sint32, sfixed32 ->
 * integer; int64, sint64, sfixed64, uint32, fixed32 -> bigint; uint64,
 * fixed64 -> numeric; float -> real; double -> double precision; bool ->
 * boolean; string and enums (by name) -> text; bytes -> bytea; Timestamp
 * -> timestamptz; Duration -> interval; a wrapper -> its value's type
 * (NULL when absent); other messages, maps, Struct, Value, ListValue, Any,
 * Empty -> jsonb; repeated scalars, enums, Timestamps, Durations ->
 * arrays of those, other repeated fields -> jsonb.  Groups (proto2) are
 * left out: the decoder does not read them.
 *
 * IDENTIFICATION
 *	  src/protobuf/pb_import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "protobuf/protobuf.h"
#include "registry/schema_registry.h"

/*
 * The SQL type one value of field reads into (not repeated), or NULL (a
 * group): for imported columns and the decoder's report of fields no column
 * takes.
 */
const char *
pb_value_pg_type(const PbField *field, int depth)
{
	switch (field->type)
	{
		case PB_INT32:
		case PB_SINT32:
		case PB_SFIXED32:
			return "integer";
		case PB_INT64:
		case PB_SINT64:
		case PB_SFIXED64:
		case PB_UINT32:
		case PB_FIXED32:
			return "bigint";
		case PB_UINT64:
		case PB_FIXED64:
			return "numeric";
		case PB_FLOAT:
			return "real";
		case PB_DOUBLE:
			return "double precision";
		case PB_BOOL:
			return "boolean";
		case PB_STRING:
		case PB_ENUM:
			return "text";
		case PB_BYTES:
			return "bytea";
		case PB_GROUP:
			return NULL;
		case PB_MESSAGE:
			break;
	}
	if (field->message == NULL || field->message->map_entry)
		return "jsonb";
	switch (field->message->well_known)
	{
		case PB_WKT_TIMESTAMP:
			return "timestamptz";
		case PB_WKT_DURATION:
			return "interval";
		case PB_WKT_WRAPPER:
			if (depth < 2 && field->message->nfields == 1)
				return pb_value_pg_type(&field->message->fields[0], depth + 1);
			return "jsonb";
		default:
			return "jsonb";
	}
}

static const char *
field_type(const PbField *field)
{
	const char *type = pb_value_pg_type(field, 0);

	if (type == NULL || !field->repeated)
		return type;
	/* maps, messages and wrappers in a list: one JSON array */
	if (field->type == PB_MESSAGE &&
		(field->message == NULL ||
		 (field->message->well_known != PB_WKT_TIMESTAMP &&
		  field->message->well_known != PB_WKT_DURATION)))
		return "jsonb";
	return psprintf("%s[]", type);
}

/* The first message of a registered schema's file; NULL with *why. */
static PbMessage *
first_message(KafkaRegistry *registry, const KafkaRegistrySchema *schema,
			  char **why)
{
	PbSchema   *pb;
	char	   *error;

	if (schema->id < 0)
	{
		*why = pstrdup("the schema registry did not give the schema's id");
		return NULL;
	}
	pb = pb_registry_schema_by_id(registry, schema->id, &error);
	if (pb == NULL)
	{
		*why = psprintf("its latest schema cannot be read: %s", error);
		return NULL;
	}
	if (pb->nfile_messages == 0)
	{
		*why = psprintf("its latest schema (id %d) defines no message",
						schema->id);
		return NULL;
	}
	return pb->file_messages[0].message;
}

bool
kafka_protobuf_schema_columns(KafkaRegistry *registry,
							  const KafkaRegistrySchema *schema,
							  List **columns, char **why)
{
	PbMessage  *message = first_message(registry, schema, why);

	*columns = NIL;
	if (message == NULL)
		return false;
	for (int f = 0; f < message->nfields; f++)
	{
		const PbField *field = &message->fields[f];
		const char *type = field_type(field);

		if (type != NULL)
			*columns = lappend(*columns, kafka_schema_column(field->name, type));
	}
	return true;
}

const char *
kafka_protobuf_schema_value_type(KafkaRegistry *registry,
								 const KafkaRegistrySchema *schema)
{
	char	   *why;

	/* a whole message: its JSON */
	return first_message(registry, schema, &why) ? "jsonb" : NULL;
}
