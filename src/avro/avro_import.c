/*-------------------------------------------------------------------------
 *
 * avro_import.c
 *	  The columns of a foreign table from an Avro schema registered in the
 *	  Schema Registry, for IMPORT FOREIGN SCHEMA (format avro's entry in the
 *	  format table).
 *
 * A column's type is one the decoder reads every value of the schema into
 * exactly: the decoder's own mapping of writer types (avro_pg_type_name:
 * logical types to date, time, timestamptz, timestamp, numeric(p,s), uuid;
 * enums to text; records, maps and unions of several types to jsonb), with
 * arrays of scalars as PostgreSQL arrays.  Every column is nullable: a
 * tombstone, or a later version of the schema, may leave it out.
 *
 * IDENTIFICATION
 *	  src/avro/avro_import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "avro/avro.h"
#include "registry/schema_registry.h"

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

bool
kafka_avro_schema_columns(KafkaRegistry *registry,
						  const KafkaRegistrySchema *schema, List **columns,
						  char **why)
{
	AvroNode   *root = parse_avro(schema->schema, why);

	if (root == NULL)
		return false;
	*columns = NIL;
	if (root->type != AVRO_RECORD)
	{
		*columns = lappend(*columns,
						   kafka_schema_column("value", avro_column_type(root)));
		return true;
	}
	for (int i = 0; i < root->nchildren; i++)
	{
		*columns = lappend(*columns,
						   kafka_schema_column(root->field_names[i],
											   avro_column_type(root->children[i])));
	}
	return true;
}

const char *
kafka_avro_schema_value_type(KafkaRegistry *registry,
							 const KafkaRegistrySchema *schema)
{
	char	   *why;
	AvroNode   *root = parse_avro(schema->schema, &why);

	return root ? avro_column_type(root) : NULL;
}
