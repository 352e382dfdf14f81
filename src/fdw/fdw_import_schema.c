/*-------------------------------------------------------------------------
 *
 * fdw_import_schema.c
 *	  The columns of a foreign table from a schema registered in the Schema
 *	  Registry, for IMPORT FOREIGN SCHEMA: one function per schema type.
 *
 * A column's type is one the format's decoder reads every value of the
 * schema into exactly.  Avro uses the decoder's own mapping of writer
 * types (avro_pg_type_name: logical types to date, time, timestamptz,
 * timestamp, numeric(p,s), uuid; enums to text; records, maps and unions
 * of several types to jsonb), with arrays of scalars as PostgreSQL arrays.
 * JSON Schema maps property types (string formats date-time, date and uuid
 * included) and leaves the rest to jsonb.  Every column is nullable: a
 * tombstone, or a later version of the schema, may leave it out.
 *
 * IDENTIFICATION
 *	  src/fdw/fdw_import_schema.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "avro/avro.h"
#include "fdw/fdw_import.h"

/* ---- Avro ---------------------------------------------------------------- */

/*
 * The column type of an Avro value: the decoder's own mapping, and arrays
 * of a type with a column type of its own as arrays of it (the decoder
 * reads them into PostgreSQL arrays).
 */
/*
 * A union of several types.  The decoder reads the branch a value has into
 * the column: into jsonb only what it reads as JSON (records, arrays, maps,
 * integers, booleans); a string, an enum symbol, bytes, a float (NaN) or a
 * logical type's text is no JSON, so such a union is text.
 */
static const char *
union_column_type(const AvroNode *node)
{
	for (int i = 0; i < node->nchildren; i++)
	{
		const AvroNode *branch = node->children[i];

		switch (branch->type)
		{
			case AVRO_NULL:
			case AVRO_RECORD:
			case AVRO_ARRAY:
			case AVRO_MAP:
			case AVRO_BOOLEAN:
				break;
			case AVRO_INT:
			case AVRO_LONG:
				if (branch->logical != AVRO_LOGICAL_NONE)
					return "text";
				break;
			default:
				return "text";
		}
	}
	return "jsonb";
}

static const char *
avro_column_type(const AvroNode *node)
{
	const AvroNode *items;
	const char *item_type;

	if (node->type == AVRO_UNION)
	{
		const AvroNode *branch = NULL;
		int			branches = 0;

		for (int i = 0; i < node->nchildren; i++)
		{
			if (node->children[i]->type == AVRO_NULL)
				continue;
			branch = node->children[i];
			branches++;
		}
		if (branch == NULL)
			return "jsonb";		/* only null: any type takes it */
		if (branches > 1)
			return union_column_type(node);
		node = branch;
	}
	if (node->type != AVRO_ARRAY)
	{
		const char *type = avro_pg_type_name(node);

		return type ? type : "jsonb";
	}
	items = node->children[0];
	item_type = avro_pg_type_name(items);
	if (item_type == NULL || strcmp(item_type, "jsonb") == 0)
		return "jsonb";
	/* an array of arrays is no PostgreSQL array: its JSON */
	if (items->type == AVRO_UNION)
	{
		for (int i = 0; i < items->nchildren; i++)
			if (items->children[i]->type == AVRO_ARRAY)
				return "jsonb";
	}
	return psprintf("%s[]", item_type);
}

static AvroNode *
parse_avro(const char *schema_text, char **why)
{
	char	   *error = NULL;
	AvroNode   *root = avro_schema_parse(schema_text, strlen(schema_text), &error);

	if (root == NULL)
		*why = psprintf("its latest schema is not a valid Avro schema: %s",
						error ? error : "unknown error");
	return root;
}

static bool
avro_columns(const char *schema_text, List **columns, char **why)
{
	AvroNode   *root = parse_avro(schema_text, why);

	if (root == NULL)
		return false;
	*columns = NIL;
	if (root->type != AVRO_RECORD)
	{
		*columns = lappend(*columns,
						   kafka_import_column("value", avro_column_type(root),
											   NULL));
		return true;
	}
	for (int i = 0; i < root->nchildren; i++)
	{
		*columns = lappend(*columns,
						   kafka_import_column(root->field_names[i],
											   avro_column_type(root->children[i]),
											   NULL));
	}
	return true;
}

static const char *
avro_value_type(const char *schema_text)
{
	char	   *why;
	AvroNode   *root = parse_avro(schema_text, &why);

	return root ? avro_column_type(root) : NULL;
}

/* ---- JSON Schema --------------------------------------------------------- */

/* The SQL type of a JSON Schema type name, or NULL. */
static const char *
json_schema_type(const char *type, json_t *schema, int depth)
{
	if (strcmp(type, "string") == 0)
	{
		const char *format = json_string_value(json_object_get(schema, "format"));

		if (format != NULL && strcmp(format, "date-time") == 0)
			return "timestamptz";
		if (format != NULL && strcmp(format, "date") == 0)
			return "date";
		if (format != NULL && strcmp(format, "uuid") == 0)
			return "uuid";
		return "text";
	}
	if (strcmp(type, "integer") == 0)
		return "bigint";
	if (strcmp(type, "number") == 0)
		return "numeric";		/* JSON numbers as written, exactly */
	if (strcmp(type, "boolean") == 0)
		return "boolean";
	if (strcmp(type, "array") == 0 && depth == 0)
	{
		json_t	   *items = json_object_get(schema, "items");
		json_t	   *item_type = json_object_get(items, "type");
		const char *element = NULL;

		if (json_is_string(item_type))
			element = json_schema_type(json_string_value(item_type), items,
									   depth + 1);
		else if (json_is_array(item_type) && json_array_size(item_type) == 2)
		{
			/* ["null", T] or [T, "null"]: elements of T, NULL allowed */
			const char *a = json_string_value(json_array_get(item_type, 0));
			const char *b = json_string_value(json_array_get(item_type, 1));

			if (a != NULL && b != NULL && strcmp(a, "null") == 0)
				element = json_schema_type(b, items, depth + 1);
			else if (a != NULL && b != NULL && strcmp(b, "null") == 0)
				element = json_schema_type(a, items, depth + 1);
		}
		if (element != NULL && strcmp(element, "jsonb") != 0)
			return psprintf("%s[]", element);
	}
	return NULL;
}

/*
 * The column type of a property: its one type other than null, else jsonb
 * (objects, arrays of objects, several types, $ref, oneOf...).
 */
static const char *
json_property_type(json_t *schema)
{
	json_t	   *type = json_object_get(schema, "type");
	const char *name = NULL;
	const char *result;

	if (json_is_string(type))
		name = json_string_value(type);
	else if (json_is_array(type))
	{
		size_t		i;
		json_t	   *item;

		json_array_foreach(type, i, item)
		{
			const char *one = json_string_value(item);

			if (one == NULL)
				return "jsonb";
			if (strcmp(one, "null") == 0)
				continue;
			if (name != NULL)
				return "jsonb";
			name = one;
		}
	}
	else if (type == NULL && json_is_array(json_object_get(schema, "enum")))
	{
		size_t		i;
		json_t	   *item;

		/* an enum of strings is text */
		json_array_foreach(json_object_get(schema, "enum"), i, item)
		{
			if (!json_is_string(item) && !json_is_null(item))
				return "jsonb";
		}
		return "text";
	}
	if (name == NULL)
		return "jsonb";
	result = json_schema_type(name, schema, 0);
	return result ? result : "jsonb";
}

static bool
json_schema_columns(const char *schema_text, List **columns, char **why)
{
	json_error_t error;
	json_t	   *root = json_loads(schema_text, 0, &error);
	json_t	   *properties;
	json_t	   *type;
	const char *name;
	json_t	   *property;

	*columns = NIL;
	if (root == NULL)
	{
		*why = psprintf("its latest schema is not valid JSON: %s", error.text);
		return false;
	}
	type = json_object_get(root, "type");
	properties = json_object_get(root, "properties");
	if (!json_is_object(properties) ||
		(type != NULL && !(json_is_string(type) &&
						   strcmp(json_string_value(type), "object") == 0)))
	{
		json_decref(root);
		*why = pstrdup("its latest JSON Schema does not describe an object with \"properties\"");
		return false;
	}
	PG_TRY();
	{
		json_object_foreach(properties, name, property)
		{
			*columns = lappend(*columns,
							   kafka_import_column(pstrdup(name),
												   json_property_type(property),
												   NULL));
		}
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();
	return true;
}

static const char *
json_value_type(const char *schema_text)
{
	return "jsonb";
}

/*
 * Schema types IMPORT FOREIGN SCHEMA reads.  A new format adds its entry
 * here (PROTOBUF with format 'protobuf'); a subject of a type not listed
 * is skipped with a NOTICE.
 */
static const SchemaImporter schema_importers[] = {
	{"AVRO", "avro", avro_columns, avro_value_type},
	{"JSON", "json", json_schema_columns, json_value_type},
};

const SchemaImporter *
kafka_schema_importer(const char *schema_type)
{
	for (int i = 0; i < lengthof(schema_importers); i++)
		if (pg_strcasecmp(schema_importers[i].schema_type, schema_type) == 0)
			return &schema_importers[i];
	return NULL;
}

