/*-------------------------------------------------------------------------
 *
 * pb_schema.c
 *	  The Protobuf schema model: messages and enums of a descriptor set
 *	  (google.protobuf.FileDescriptorSet, parsed with protobuf-c), with the
 *	  well-known types bundled.
 *
 * Every type reference is resolved when the set is loaded, so a set that
 * names a type it does not carry is refused then, not at the first
 * message.  protobuf-c allocates through palloc in a scratch context that
 * is deleted once the model is built: an ERROR in between leaks nothing.
 *
 * IDENTIFICATION
 *	  src/protobuf/pb_schema.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "options.h"
#include "protobuf/descriptor.pb-c.h"
#include "protobuf/protobuf.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/memutils.h"

/* Largest descriptor set file read from the server's disk. */
#define PB_MAX_DESCRIPTOR_FILE (64 * 1024 * 1024)

/*
 * Deepest nesting of message types (DescriptorProto.nested_type) a
 * descriptor set may have: protobuf-c unpacks recursively, without a limit
 * of its own, and the set may come from a query's argument.
 */
#define PB_MAX_TYPE_NESTING 100

/* Largest field number for which the lookup is a direct array. */
#define PB_DIRECT_LOOKUP_LIMIT 1024

typedef struct SchemaBuilder
{
	List	   *messages;		/* PbMessage * */
	List	   *enums;			/* PbEnum * */
	MemoryContext mcxt;
	char	   *error;
} SchemaBuilder;

/* ---- protobuf-c allocation through palloc ------------------------------- */

static void *
pb_alloc(void *allocator_data, size_t size)
{
	return MemoryContextAllocHuge((MemoryContext) allocator_data, Max(size, 1));
}

static void
pb_free(void *allocator_data, void *pointer)
{
	if (pointer != NULL)
		pfree(pointer);
}

/* ---- the model ---------------------------------------------------------- */

const char *
pb_type_name(PbType type)
{
	switch (type)
	{
		case PB_DOUBLE:
			return "double";
		case PB_FLOAT:
			return "float";
		case PB_INT64:
			return "int64";
		case PB_UINT64:
			return "uint64";
		case PB_INT32:
			return "int32";
		case PB_FIXED64:
			return "fixed64";
		case PB_FIXED32:
			return "fixed32";
		case PB_BOOL:
			return "bool";
		case PB_STRING:
			return "string";
		case PB_GROUP:
			return "group";
		case PB_MESSAGE:
			return "message";
		case PB_BYTES:
			return "bytes";
		case PB_UINT32:
			return "uint32";
		case PB_ENUM:
			return "enum";
		case PB_SFIXED32:
			return "sfixed32";
		case PB_SFIXED64:
			return "sfixed64";
		case PB_SINT32:
			return "sint32";
		case PB_SINT64:
			return "sint64";
	}
	return "unknown";
}

bool
pb_type_is_packable(PbType type)
{
	return type != PB_STRING && type != PB_BYTES && type != PB_MESSAGE &&
		type != PB_GROUP;
}

static PbWellKnown
well_known_of(const char *full_name)
{
	static const struct
	{
		const char *name;
		PbWellKnown kind;
	}			known[] =
	{
		{"google.protobuf.Timestamp", PB_WKT_TIMESTAMP},
		{"google.protobuf.Duration", PB_WKT_DURATION},
		{"google.protobuf.DoubleValue", PB_WKT_WRAPPER},
		{"google.protobuf.FloatValue", PB_WKT_WRAPPER},
		{"google.protobuf.Int64Value", PB_WKT_WRAPPER},
		{"google.protobuf.UInt64Value", PB_WKT_WRAPPER},
		{"google.protobuf.Int32Value", PB_WKT_WRAPPER},
		{"google.protobuf.UInt32Value", PB_WKT_WRAPPER},
		{"google.protobuf.BoolValue", PB_WKT_WRAPPER},
		{"google.protobuf.StringValue", PB_WKT_WRAPPER},
		{"google.protobuf.BytesValue", PB_WKT_WRAPPER},
		{"google.protobuf.Struct", PB_WKT_STRUCT},
		{"google.protobuf.Value", PB_WKT_VALUE},
		{"google.protobuf.ListValue", PB_WKT_LIST_VALUE},
		{"google.protobuf.Any", PB_WKT_ANY},
		{"google.protobuf.Empty", PB_WKT_EMPTY},
	};

	for (int i = 0; i < lengthof(known); i++)
		if (strcmp(full_name, known[i].name) == 0)
			return known[i].kind;
	return PB_WKT_NONE;
}

static char *
join_name(const char *scope, const char *name)
{
	if (scope == NULL || scope[0] == '\0')
		return pstrdup(name);
	return psprintf("%s.%s", scope, name);
}

static void
add_enum(SchemaBuilder *builder, const char *scope,
		 const Google__Protobuf__EnumDescriptorProto *proto, bool proto3)
{
	PbEnum	   *en = palloc0(sizeof(PbEnum));

	en->full_name = join_name(scope, proto->name ? proto->name : "");
	en->nvalues = (int) proto->n_value;
	en->names = palloc(sizeof(char *) * Max(en->nvalues, 1));
	en->numbers = palloc(sizeof(int32) * Max(en->nvalues, 1));
	en->closed = !proto3;
	for (int i = 0; i < en->nvalues; i++)
	{
		en->names[i] = pstrdup(proto->value[i]->name ? proto->value[i]->name : "");
		en->numbers[i] = proto->value[i]->number;
	}
	builder->enums = lappend(builder->enums, en);
}

static void
add_message(SchemaBuilder *builder, const char *scope,
			const Google__Protobuf__DescriptorProto *proto, bool proto3)
{
	PbMessage  *message = palloc0(sizeof(PbMessage));
	int			nfields = 0;

	message->full_name = join_name(scope, proto->name ? proto->name : "");
	message->proto3 = proto3;
	message->map_entry = proto->options != NULL && proto->options->has_map_entry &&
		proto->options->map_entry;
	message->well_known = well_known_of(message->full_name);
	message->noneofs = (int) proto->n_oneof_decl;
	message->oneof_names = palloc(sizeof(char *) * Max(message->noneofs, 1));
	for (int i = 0; i < message->noneofs; i++)
		message->oneof_names[i] = pstrdup(proto->oneof_decl[i]->name ?
										  proto->oneof_decl[i]->name : "");
	message->fields = palloc0(sizeof(PbField) * Max(proto->n_field, 1));
	for (size_t i = 0; i < proto->n_field; i++)
	{
		const Google__Protobuf__FieldDescriptorProto *fp = proto->field[i];
		PbField    *field = &message->fields[nfields];

		if (fp->name == NULL || !fp->has_number || !fp->has_type ||
			fp->number <= 0 || fp->number > 536870911 ||
			(int) fp->type < (int) PB_DOUBLE || (int) fp->type > (int) PB_SINT64)
		{
			if (builder->error == NULL)
				builder->error = psprintf("message \"%s\" has an invalid field",
										  message->full_name);
			continue;
		}
		field->name = pstrdup(fp->name);
		field->name_length = strlen(field->name);
		field->number = fp->number;
		field->type = (PbType) fp->type;
		field->repeated = fp->has_label &&
			fp->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
		field->oneof_index = -1;
		if (fp->has_oneof_index && fp->oneof_index >= 0 &&
			fp->oneof_index < message->noneofs &&
			!(fp->has_proto3_optional && fp->proto3_optional))
			field->oneof_index = fp->oneof_index;
		field->has_presence = !field->repeated &&
			(!proto3 || field->type == PB_MESSAGE || field->type == PB_GROUP ||
			 field->oneof_index >= 0 ||
			 (fp->has_proto3_optional && fp->proto3_optional));
		if (field->repeated && pb_type_is_packable(field->type))
		{
			if (fp->options != NULL && fp->options->has_packed)
				field->packed = fp->options->packed;
			else
				field->packed = proto3;
		}
		if (fp->default_value != NULL)
			field->default_value = pstrdup(fp->default_value);
		if (fp->type_name != NULL)
			field->type_name = pstrdup(fp->type_name[0] == '.' ?
									   fp->type_name + 1 : fp->type_name);
		nfields++;
	}
	message->nfields = nfields;
	builder->messages = lappend(builder->messages, message);

	for (size_t i = 0; i < proto->n_nested_type; i++)
		add_message(builder, message->full_name, proto->nested_type[i], proto3);
	for (size_t i = 0; i < proto->n_enum_type; i++)
		add_enum(builder, message->full_name, proto->enum_type[i], proto3);
}

/* ---- the bundled well-known types --------------------------------------- */

typedef struct BundledField
{
	const char *message;
	const char *name;
	int32		number;
	PbType		type;
	bool		repeated;
	const char *type_name;
	int			oneof_index;
} BundledField;

static const char *const bundled_messages[] = {
	"google.protobuf.Timestamp", "google.protobuf.Duration",
	"google.protobuf.DoubleValue", "google.protobuf.FloatValue",
	"google.protobuf.Int64Value", "google.protobuf.UInt64Value",
	"google.protobuf.Int32Value", "google.protobuf.UInt32Value",
	"google.protobuf.BoolValue", "google.protobuf.StringValue",
	"google.protobuf.BytesValue", "google.protobuf.Struct",
	"google.protobuf.Struct.FieldsEntry", "google.protobuf.Value",
	"google.protobuf.ListValue", "google.protobuf.Any", "google.protobuf.Empty",
};

static const BundledField bundled_fields[] = {
	{"google.protobuf.Timestamp", "seconds", 1, PB_INT64, false, NULL, -1},
	{"google.protobuf.Timestamp", "nanos", 2, PB_INT32, false, NULL, -1},
	{"google.protobuf.Duration", "seconds", 1, PB_INT64, false, NULL, -1},
	{"google.protobuf.Duration", "nanos", 2, PB_INT32, false, NULL, -1},
	{"google.protobuf.DoubleValue", "value", 1, PB_DOUBLE, false, NULL, -1},
	{"google.protobuf.FloatValue", "value", 1, PB_FLOAT, false, NULL, -1},
	{"google.protobuf.Int64Value", "value", 1, PB_INT64, false, NULL, -1},
	{"google.protobuf.UInt64Value", "value", 1, PB_UINT64, false, NULL, -1},
	{"google.protobuf.Int32Value", "value", 1, PB_INT32, false, NULL, -1},
	{"google.protobuf.UInt32Value", "value", 1, PB_UINT32, false, NULL, -1},
	{"google.protobuf.BoolValue", "value", 1, PB_BOOL, false, NULL, -1},
	{"google.protobuf.StringValue", "value", 1, PB_STRING, false, NULL, -1},
	{"google.protobuf.BytesValue", "value", 1, PB_BYTES, false, NULL, -1},
	{"google.protobuf.Struct", "fields", 1, PB_MESSAGE, true,
	"google.protobuf.Struct.FieldsEntry", -1},
	{"google.protobuf.Struct.FieldsEntry", "key", 1, PB_STRING, false, NULL, -1},
	{"google.protobuf.Struct.FieldsEntry", "value", 2, PB_MESSAGE, false,
	"google.protobuf.Value", -1},
	{"google.protobuf.Value", "null_value", 1, PB_ENUM, false,
	"google.protobuf.NullValue", 0},
	{"google.protobuf.Value", "number_value", 2, PB_DOUBLE, false, NULL, 0},
	{"google.protobuf.Value", "string_value", 3, PB_STRING, false, NULL, 0},
	{"google.protobuf.Value", "bool_value", 4, PB_BOOL, false, NULL, 0},
	{"google.protobuf.Value", "struct_value", 5, PB_MESSAGE, false,
	"google.protobuf.Struct", 0},
	{"google.protobuf.Value", "list_value", 6, PB_MESSAGE, false,
	"google.protobuf.ListValue", 0},
	{"google.protobuf.ListValue", "values", 1, PB_MESSAGE, true,
	"google.protobuf.Value", -1},
	{"google.protobuf.Any", "type_url", 1, PB_STRING, false, NULL, -1},
	{"google.protobuf.Any", "value", 2, PB_BYTES, false, NULL, -1},
};

static bool
builder_has_message(SchemaBuilder *builder, const char *name)
{
	ListCell   *lc;

	foreach(lc, builder->messages)
		if (strcmp(((PbMessage *) lfirst(lc))->full_name, name) == 0)
			return true;
	return false;
}

/* Adds the well-known types the set does not carry itself. */
static void
add_bundled(SchemaBuilder *builder)
{
	bool		has_null_value = false;
	ListCell   *lc;

	for (int m = 0; m < lengthof(bundled_messages); m++)
	{
		const char *name = bundled_messages[m];
		PbMessage  *message;
		int			n = 0;

		if (builder_has_message(builder, name))
			continue;
		message = palloc0(sizeof(PbMessage));
		message->full_name = pstrdup(name);
		message->proto3 = true;
		message->well_known = well_known_of(name);
		message->map_entry = strcmp(name, "google.protobuf.Struct.FieldsEntry") == 0;
		message->fields = palloc0(sizeof(PbField) * 6);
		for (int f = 0; f < lengthof(bundled_fields); f++)
		{
			const BundledField *bf = &bundled_fields[f];
			PbField    *field;

			if (strcmp(bf->message, name) != 0)
				continue;
			field = &message->fields[n++];
			field->name = pstrdup(bf->name);
			field->name_length = strlen(field->name);
			field->number = bf->number;
			field->type = bf->type;
			field->repeated = bf->repeated;
			field->oneof_index = bf->oneof_index;
			field->has_presence = bf->oneof_index >= 0 || bf->type == PB_MESSAGE;
			field->type_name = bf->type_name ? pstrdup(bf->type_name) : NULL;
		}
		message->nfields = n;
		if (strcmp(name, "google.protobuf.Value") == 0)
		{
			message->noneofs = 1;
			message->oneof_names = palloc(sizeof(char *));
			message->oneof_names[0] = pstrdup("kind");
		}
		builder->messages = lappend(builder->messages, message);
	}
	foreach(lc, builder->enums)
		if (strcmp(((PbEnum *) lfirst(lc))->full_name, "google.protobuf.NullValue") == 0)
			has_null_value = true;
	if (!has_null_value)
	{
		PbEnum	   *en = palloc0(sizeof(PbEnum));

		en->full_name = pstrdup("google.protobuf.NullValue");
		en->nvalues = 1;
		en->names = palloc(sizeof(char *));
		en->names[0] = pstrdup("NULL_VALUE");
		en->numbers = palloc(sizeof(int32));
		en->numbers[0] = 0;
		builder->enums = lappend(builder->enums, en);
	}
}

/* ---- lookups ------------------------------------------------------------ */

static int
compare_messages(const void *a, const void *b)
{
	return strcmp((*(PbMessage *const *) a)->full_name,
				  (*(PbMessage *const *) b)->full_name);
}

static int
compare_enums(const void *a, const void *b)
{
	return strcmp((*(PbEnum *const *) a)->full_name,
				  (*(PbEnum *const *) b)->full_name);
}

PbMessage *
pb_schema_message(PbSchema *schema, const char *name)
{
	int			low = 0;
	int			high = schema->nmessages - 1;

	if (name[0] == '.')
		name++;
	while (low <= high)
	{
		int			middle = (low + high) / 2;
		int			cmp = strcmp(schema->messages[middle]->full_name, name);

		if (cmp == 0)
			return schema->messages[middle];
		if (cmp < 0)
			low = middle + 1;
		else
			high = middle - 1;
	}
	return NULL;
}

static PbEnum *
schema_enum(PbSchema *schema, const char *name)
{
	int			low = 0;
	int			high = schema->nenums - 1;

	while (low <= high)
	{
		int			middle = (low + high) / 2;
		int			cmp = strcmp(schema->enums[middle]->full_name, name);

		if (cmp == 0)
			return schema->enums[middle];
		if (cmp < 0)
			low = middle + 1;
		else
			high = middle - 1;
	}
	return NULL;
}

static const PbMessage *sort_context;

static int
compare_field_numbers(const void *a, const void *b)
{
	int32		x = sort_context->fields[*(const int *) a].number;
	int32		y = sort_context->fields[*(const int *) b].number;

	return x < y ? -1 : x > y ? 1 : 0;
}

static void
index_fields(PbMessage *message)
{
	int32		max_number = 0;

	message->sorted = palloc(sizeof(int) * Max(message->nfields, 1));
	for (int i = 0; i < message->nfields; i++)
	{
		message->sorted[i] = i;
		max_number = Max(max_number, message->fields[i].number);
	}
	sort_context = message;
	qsort(message->sorted, message->nfields, sizeof(int), compare_field_numbers);
	sort_context = NULL;
	if (max_number < PB_DIRECT_LOOKUP_LIMIT)
	{
		message->by_number_size = max_number + 1;
		message->by_number = palloc(sizeof(int) * message->by_number_size);
		for (int i = 0; i < message->by_number_size; i++)
			message->by_number[i] = -1;
		for (int i = 0; i < message->nfields; i++)
			message->by_number[message->fields[i].number] = i;
	}
}

const PbField *
pb_message_field(const PbMessage *message, int32 number)
{
	int			low = 0;
	int			high = message->nfields - 1;

	if (number < message->by_number_size)
	{
		int			index = message->by_number[number];

		return index >= 0 ? &message->fields[index] : NULL;
	}
	if (message->by_number != NULL)
		return NULL;
	while (low <= high)
	{
		int			middle = (low + high) / 2;
		const PbField *field = &message->fields[message->sorted[middle]];

		if (field->number == number)
			return field;
		if (field->number < number)
			low = middle + 1;
		else
			high = middle - 1;
	}
	return NULL;
}

/* ---- loading ------------------------------------------------------------ */

static bool
resolve(PbSchema *schema, char **error)
{
	for (int m = 0; m < schema->nmessages; m++)
	{
		PbMessage  *message = schema->messages[m];

		for (int f = 0; f < message->nfields; f++)
		{
			PbField    *field = &message->fields[f];

			if (field->type == PB_MESSAGE || field->type == PB_GROUP)
			{
				field->message = field->type_name ?
					pb_schema_message(schema, field->type_name) : NULL;
				if (field->message == NULL)
				{
					*error = psprintf("field \"%s\" of message \"%s\" has type \"%s\", which the descriptor set does not define",
									  field->name, message->full_name,
									  field->type_name ? field->type_name : "");
					return false;
				}
			}
			else if (field->type == PB_ENUM)
			{
				field->enumeration = field->type_name ?
					schema_enum(schema, field->type_name) : NULL;
				if (field->enumeration == NULL)
				{
					*error = psprintf("field \"%s\" of message \"%s\" has enum type \"%s\", which the descriptor set does not define",
									  field->name, message->full_name,
									  field->type_name ? field->type_name : "");
					return false;
				}
			}
		}
		if (message->map_entry &&
			(message->nfields != 2 || message->fields[0].number != 1 ||
			 message->fields[1].number != 2))
		{
			*error = psprintf("map entry message \"%s\" does not have a key 1 and a value 2",
							  message->full_name);
			return false;
		}
		index_fields(message);
	}
	return true;
}

/*
 * Is the message type nesting in a DescriptorProto (nested_type, field 3)
 * within the limit?  Only that field recurses without bound in
 * descriptor.proto; the rest is left to protobuf-c.
 */
static bool
nesting_ok(const uint8 *data, size_t len, int depth)
{
	PbCursor	cursor = {data, data + len};

	if (depth > PB_MAX_TYPE_NESTING)
		return false;
	while (cursor.p < cursor.end)
	{
		int32		number;
		int			wire_type;
		uint64		length;
		bool		too_deep = false;

		if (!pb_read_tag(&cursor, &number, &wire_type))
			return true;		/* malformed: protobuf-c refuses it */
		if (wire_type != PB_WIRE_LEN || number != 3)
		{
			if (!pb_skip_value(&cursor, wire_type, number, depth, &too_deep))
				return !too_deep;
			continue;
		}
		if (!pb_read_varint(&cursor, &length) ||
			length > (uint64) (cursor.end - cursor.p))
			return true;
		if (!nesting_ok(cursor.p, (size_t) length, depth + 1))
			return false;
		cursor.p += length;
	}
	return true;
}

/* The message types (field 4) of a FileDescriptorProto checked. */
static bool
file_nesting_ok(const uint8 *data, size_t len)
{
	PbCursor	file = {data, data + len};

	while (file.p < file.end)
	{
		int32		number;
		int			wire_type;
		uint64		message_length;
		bool		too_deep = false;

		if (!pb_read_tag(&file, &number, &wire_type))
			break;
		if (wire_type != PB_WIRE_LEN || number != 4)
		{
			if (!pb_skip_value(&file, wire_type, number, 0, &too_deep))
				return !too_deep;
			continue;
		}
		if (!pb_read_varint(&file, &message_length) ||
			message_length > (uint64) (file.end - file.p))
			break;
		if (!nesting_ok(file.p, (size_t) message_length, 1))
			return false;
		file.p += message_length;
	}
	return true;
}

/* The message types of a FileDescriptorSet, each file's checked. */
static bool
descriptor_set_nesting_ok(const uint8 *data, size_t len)
{
	PbCursor	set = {data, data + len};

	while (set.p < set.end)
	{
		int32		number;
		int			wire_type;
		uint64		length;
		bool		too_deep = false;

		if (!pb_read_tag(&set, &number, &wire_type))
			return true;
		if (wire_type != PB_WIRE_LEN || number != 1)
		{
			if (!pb_skip_value(&set, wire_type, number, 0, &too_deep))
				return !too_deep;
			continue;
		}
		if (!pb_read_varint(&set, &length) || length > (uint64) (set.end - set.p))
			return true;
		if (!file_nesting_ok(set.p, (size_t) length))
			return false;
		set.p += length;
	}
	return true;
}

/* The messages of a file's level (not map entries), for message indexes. */
static PbFileMessage *
file_messages(PbSchema *schema, const char *scope,
			  Google__Protobuf__DescriptorProto *const *protos, size_t n,
			  int *count)
{
	PbFileMessage *out = palloc0(sizeof(PbFileMessage) * Max(n, 1));
	int			k = 0;

	for (size_t i = 0; i < n; i++)
	{
		const Google__Protobuf__DescriptorProto *proto = protos[i];
		char	   *name;

		if (proto->options != NULL && proto->options->has_map_entry &&
			proto->options->map_entry)
			continue;
		name = join_name(scope, proto->name ? proto->name : "");
		out[k].message = pb_schema_message(schema, name);
		out[k].nested = file_messages(schema, name, proto->nested_type,
									  proto->n_nested_type, &out[k].nnested);
		k++;
	}
	*count = k;
	return out;
}

/*
 * The schema of files (already unpacked in a scratch context): the first
 * one's messages also by their message indexes.
 */
static PbSchema *
build_schema(Google__Protobuf__FileDescriptorProto *const *files, size_t nfiles,
			 bool refuse_duplicates, MemoryContext mcxt, char **error)
{
	MemoryContext oldcontext;
	SchemaBuilder builder = {0};
	PbSchema   *schema;
	ListCell   *lc;
	int			i;

	oldcontext = MemoryContextSwitchTo(mcxt);
	builder.mcxt = mcxt;
	for (size_t f = 0; f < nfiles; f++)
	{
		const Google__Protobuf__FileDescriptorProto *file = files[f];
		bool		proto3 = file->syntax != NULL && strcmp(file->syntax, "proto3") == 0;

		for (size_t m = 0; m < file->n_message_type; m++)
			add_message(&builder, file->package, file->message_type[m], proto3);
		for (size_t e = 0; e < file->n_enum_type; e++)
			add_enum(&builder, file->package, file->enum_type[e], proto3);
	}
	add_bundled(&builder);

	schema = palloc0(sizeof(PbSchema));
	schema->nmessages = list_length(builder.messages);
	schema->messages = palloc(sizeof(PbMessage *) * Max(schema->nmessages, 1));
	i = 0;
	foreach(lc, builder.messages)
		schema->messages[i++] = lfirst(lc);
	qsort(schema->messages, schema->nmessages, sizeof(PbMessage *), compare_messages);
	schema->nenums = list_length(builder.enums);
	schema->enums = palloc(sizeof(PbEnum *) * Max(schema->nenums, 1));
	i = 0;
	foreach(lc, builder.enums)
		schema->enums[i++] = lfirst(lc);
	qsort(schema->enums, schema->nenums, sizeof(PbEnum *), compare_enums);
	/* files from several places: a type defined twice is ambiguous */
	for (i = 1; refuse_duplicates && i < schema->nmessages && builder.error == NULL; i++)
		if (strcmp(schema->messages[i - 1]->full_name,
				   schema->messages[i]->full_name) == 0)
			builder.error = psprintf("message type \"%s\" is defined twice",
									 schema->messages[i]->full_name);
	for (i = 1; refuse_duplicates && i < schema->nenums && builder.error == NULL; i++)
		if (strcmp(schema->enums[i - 1]->full_name,
				   schema->enums[i]->full_name) == 0)
			builder.error = psprintf("enum type \"%s\" is defined twice",
									 schema->enums[i]->full_name);

	if (builder.error == NULL)
		resolve(schema, &builder.error);
	if (builder.error == NULL)
		schema->file_messages = file_messages(schema, files[0]->package,
											  files[0]->message_type,
											  files[0]->n_message_type,
											  &schema->nfile_messages);
	MemoryContextSwitchTo(oldcontext);
	if (builder.error != NULL)
	{
		*error = builder.error;
		return NULL;
	}
	return schema;
}

PbSchema *
pb_schema_from_descriptor_set(const uint8 *data, size_t len,
							  MemoryContext mcxt, char **error)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext,
												  "kafka protobuf descriptor",
												  ALLOCSET_DEFAULT_SIZES);
	ProtobufCAllocator allocator = {pb_alloc, pb_free, scratch};
	Google__Protobuf__FileDescriptorSet *set;
	PbSchema   *schema;

	*error = NULL;
	if (!descriptor_set_nesting_ok(data, len))
	{
		MemoryContextDelete(scratch);
		*error = psprintf("message types are nested more than %d levels deep",
						  PB_MAX_TYPE_NESTING);
		return NULL;
	}
	set = google__protobuf__file_descriptor_set__unpack(&allocator, len, data);
	if (set == NULL || set->n_file == 0)
	{
		MemoryContextDelete(scratch);
		*error = pstrdup(set == NULL ?
						 "not a Protobuf descriptor set (google.protobuf.FileDescriptorSet)" :
						 "the descriptor set has no files");
		return NULL;
	}
	schema = build_schema(set->file, set->n_file, false, mcxt, error);
	MemoryContextDelete(scratch);
	return schema;
}

PbSchema *
pb_schema_from_files(const uint8 *const *data, const size_t *lens, int nfiles,
					 MemoryContext mcxt, char **error)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext,
												  "kafka protobuf descriptor",
												  ALLOCSET_DEFAULT_SIZES);
	ProtobufCAllocator allocator = {pb_alloc, pb_free, scratch};
	Google__Protobuf__FileDescriptorProto **files;
	PbSchema   *schema;

	*error = NULL;
	Assert(nfiles > 0);
	files = MemoryContextAlloc(scratch, sizeof(void *) * nfiles);
	for (int f = 0; f < nfiles; f++)
	{
		if (!file_nesting_ok(data[f], lens[f]))
		{
			MemoryContextDelete(scratch);
			*error = psprintf("message types are nested more than %d levels deep",
							  PB_MAX_TYPE_NESTING);
			return NULL;
		}
		files[f] = google__protobuf__file_descriptor_proto__unpack(&allocator,
																   lens[f],
																   data[f]);
		if (files[f] == NULL)
		{
			MemoryContextDelete(scratch);
			*error = pstrdup("not a serialized Protobuf file descriptor (google.protobuf.FileDescriptorProto)");
			return NULL;
		}
	}
	schema = build_schema(files, nfiles, true, mcxt, error);
	MemoryContextDelete(scratch);
	return schema;
}

PbMessage *
pb_schema_message_by_indexes(const PbSchema *schema, const int32 *indexes,
							 int count)
{
	const PbFileMessage *level = schema->file_messages;
	int			nlevel = schema->nfile_messages;
	const PbFileMessage *found = NULL;

	for (int i = 0; i < count; i++)
	{
		if (indexes[i] < 0 || indexes[i] >= nlevel)
			return NULL;
		found = &level[indexes[i]];
		level = found->nested;
		nlevel = found->nnested;
	}
	return found ? found->message : NULL;
}

static bool
find_indexes(const PbFileMessage *level, int nlevel, const PbMessage *message,
			 int32 *indexes, int max_indexes, int depth, int *count)
{
	if (depth >= max_indexes)
		return false;
	for (int i = 0; i < nlevel; i++)
	{
		indexes[depth] = i;
		if (level[i].message == message)
		{
			*count = depth + 1;
			return true;
		}
		if (find_indexes(level[i].nested, level[i].nnested, message, indexes,
						 max_indexes, depth + 1, count))
			return true;
	}
	return false;
}

bool
pb_schema_message_indexes(const PbSchema *schema, const PbMessage *message,
						  int32 *indexes, int max_indexes, int *count)
{
	return find_indexes(schema->file_messages, schema->nfile_messages, message,
						indexes, max_indexes, 0, count);
}

/*
 * Reads a descriptor set file of the server's file system.  Who may name
 * one is checked where the option is set (options.c).
 */
bool
pb_read_server_descriptor_file(const char *path, char **data, size_t *len)
{
	FILE	   *file;
	struct stat st;
	size_t		got;

	file = AllocateFile(path, PG_BINARY_R);
	if (file == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open Protobuf descriptor file \"%s\": %m", path)));
	if (fstat(fileno(file), &st) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat Protobuf descriptor file \"%s\": %m", path)));
	if (st.st_size > PB_MAX_DESCRIPTOR_FILE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Protobuf descriptor file \"%s\" is larger than %d bytes",
						path, PB_MAX_DESCRIPTOR_FILE)));
	*data = palloc(Max(st.st_size, 1));
	got = fread(*data, 1, st.st_size, file);
	if (got != (size_t) st.st_size)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read Protobuf descriptor file \"%s\": %m", path)));
	FreeFile(file);
	*len = got;
	return true;
}

static void
check_message_named(PbSchema *schema, const char *option, const char *path,
					const char *message_option, const char *message)
{
	PbMessage  *found;

	if (message == NULL)
		return;
	found = pb_schema_message(schema, message);
	if (found == NULL || found->map_entry)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": message type \"%s\" is not in the descriptor set of option \"%s\" (\"%s\")",
						message_option, message, option, path),
				 errhint("Give the full name with its package, e.g. 'shop.Order'.")));
}

void
kafka_protobuf_check_descriptor_file(const char *option, const char *path,
									 const char *message,
									 const char *key_message)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext,
												  "kafka protobuf check",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcontext = MemoryContextSwitchTo(scratch);
	char	   *data;
	size_t		len;
	char	   *error;
	PbSchema   *schema;

	pb_read_server_descriptor_file(path, &data, &len);
	schema = pb_schema_from_descriptor_set((const uint8 *) data, len, scratch,
										   &error);
	if (schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\" is not a valid descriptor set: %s",
						option, path, error),
				 errhint("Write it with protoc --descriptor_set_out=FILE --include_imports.")));
	check_message_named(schema, option, path, "protobuf_message", message);
	check_message_named(schema, option, path, "protobuf_key_message", key_message);
	MemoryContextSwitchTo(oldcontext);
	MemoryContextDelete(scratch);
}

/*
 * Table option protobuf_descriptor_file: a descriptor set on the server's
 * disk.  As for pg_read_binary_file, only superusers and members of
 * pg_read_server_files may name one.  Read and parsed now, so that a table
 * never names a file its scans would refuse.
 */
void
kafka_protobuf_check_descriptor_file_option(const char *name, const char *value)
{
	if (!superuser() && !has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers and members of pg_read_server_files may set option \"%s\"", name),
				 errdetail("It reads a file on the database server.")));
	if (!is_absolute_path(value))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": the path must be absolute", name)));
	kafka_protobuf_check_descriptor_file(name, value, NULL, NULL);
}

/* The message types a table names must be in its descriptor set. */
void
kafka_protobuf_check_table_options(List *options)
{
	char	   *descriptor_file = kafka_option_value(options, "protobuf_descriptor_file");

	if (descriptor_file != NULL)
		kafka_protobuf_check_descriptor_file("protobuf_descriptor_file", descriptor_file,
											 kafka_option_value(options, "protobuf_message"),
											 kafka_option_value(options, "protobuf_key_message"));
}
