/*-------------------------------------------------------------------------
 *
 * json_schema.c
 *	  The columns of a foreign table from a JSON Schema registered in the
 *	  Schema Registry, for IMPORT FOREIGN SCHEMA (format json's entry in the
 *	  format table).
 *
 * Property types map to the types the JSON decoder reads them into
 * (string formats date-time, date and uuid included); the rest is jsonb.
 * Every column is nullable: a later version of the schema may leave it
 * out.
 *
 * IDENTIFICATION
 *	  src/codec/json_schema.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <jansson.h>

#include "codec/codec_internal.h"
#include "registry/schema_registry.h"

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

bool
kafka_json_schema_columns(KafkaRegistry *registry,
						  const KafkaRegistrySchema *schema, List **columns,
						  char **why)
{
	json_error_t error;
	json_t	   *root = json_loads(schema->schema, 0, &error);
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
							   kafka_schema_column(name,
												   json_property_type(property)));
		}
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();
	return true;
}

const char *
kafka_json_schema_value_type(KafkaRegistry *registry,
							 const KafkaRegistrySchema *schema)
{
	return "jsonb";
}
