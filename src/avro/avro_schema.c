/*-------------------------------------------------------------------------
 *
 * avro_schema.c
 *	  Avro schemas from their JSON text into AvroNode trees, logical types
 *	  included.
 *
 * Named types (record, enum, fixed) may be referred to by name later in
 * the schema, also recursively; a reference points at the same node.
 * Nesting deeper than AVRO_MAX_DEPTH is refused.  A logicalType that does
 * not fit its underlying type is ignored, as the specification says.
 * Errors come back as a message: a schema from a registry is data.
 *
 * A schema our parser accepts is also given to libavro-c's parser
 * (avro_libavro.c) and refused when libavro-c refuses it, its reason kept
 * as the error's detail.  Two forms that the Java and Python
 * implementations and our parser accept but libavro-c 1.11 refuses skip
 * that check: a type "error" (a record, as in protocols) and an
 * unqualified reference to a type of the null namespace from inside
 * another namespace.  A schema object whose "type" is itself a schema
 * ({"type": {"type": "int"}}) is refused: libavro-c and Python's parser
 * refuse it.
 *
 * IDENTIFICATION
 *	  src/avro/avro_schema.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include <jansson.h>

#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "avro/avro.h"
#include "options.h"
#include "avro/avro_libavro.h"

typedef struct SchemaParser
{
	char	   *error;
	List	   *named;			/* AvroNode * of every named type so far */
	bool		beyond_libavro; /* a form libavro-c refuses but we accept */
} SchemaParser;

static AvroNode *parse_node(SchemaParser *parser, json_t *json,
							const char *namespace, int depth);

static AvroNode *
parse_fail(SchemaParser *parser, const char *fmt,...) pg_attribute_printf(2, 3);

static AvroNode *
parse_fail(SchemaParser *parser, const char *fmt,...)
{
	va_list		args;
	char		buffer[512];

	if (parser->error != NULL)
		return NULL;
	va_start(args, fmt);
	vsnprintf(buffer, sizeof(buffer), fmt, args);
	va_end(args);
	parser->error = pstrdup(buffer);
	return NULL;
}

static const struct
{
	const char *name;
	AvroType	type;
}			primitive_names[] =
{
	{"null", AVRO_NULL},
	{"boolean", AVRO_BOOLEAN},
	{"int", AVRO_INT},
	{"long", AVRO_LONG},
	{"float", AVRO_FLOAT},
	{"double", AVRO_DOUBLE},
	{"bytes", AVRO_BYTES},
	{"string", AVRO_STRING}
};

static const char *const type_names[] = {
	"null", "boolean", "int", "long", "float", "double", "bytes", "string",
	"record", "enum", "array", "map", "union", "fixed"
};

const char *
avro_type_name(const AvroNode *node)
{
	switch (node->logical)
	{
		case AVRO_LOGICAL_DECIMAL:
			return "decimal";
		case AVRO_LOGICAL_UUID:
			return "uuid";
		case AVRO_LOGICAL_DATE:
			return "date";
		case AVRO_LOGICAL_TIME_MILLIS:
			return "time-millis";
		case AVRO_LOGICAL_TIME_MICROS:
			return "time-micros";
		case AVRO_LOGICAL_TIMESTAMP_MILLIS:
			return "timestamp-millis";
		case AVRO_LOGICAL_TIMESTAMP_MICROS:
			return "timestamp-micros";
		case AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS:
			return "local-timestamp-millis";
		case AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS:
			return "local-timestamp-micros";
		case AVRO_LOGICAL_NONE:
			break;
	}
	return type_names[node->type];
}

/* Names: [A-Za-z_][A-Za-z0-9_]*, dot-separated in full names. */
static bool
valid_name(const char *name, bool allow_dots)
{
	bool		start = true;

	if (*name == '\0')
		return false;
	for (const char *p = name; *p; p++)
	{
		if (*p == '.' && allow_dots && !start)
		{
			start = true;
			continue;
		}
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_' ||
			  (!start && *p >= '0' && *p <= '9')))
			return false;
		start = false;
	}
	return !start;
}

static char *
full_name(const char *name, const char *namespace)
{
	if (strchr(name, '.') != NULL || namespace == NULL || namespace[0] == '\0')
		return pstrdup(name);
	return psprintf("%s.%s", namespace, name);
}

static AvroNode *
find_named(SchemaParser *parser, const char *name, const char *namespace)
{
	char	   *qualified = full_name(name, namespace);
	ListCell   *lc;

	foreach(lc, parser->named)
	{
		AvroNode   *node = lfirst(lc);

		if (strcmp(node->name, qualified) == 0)
			return node;
	}
	/* else the null namespace's type, from inside another namespace */
	foreach(lc, parser->named)
	{
		AvroNode   *node = lfirst(lc);

		if (strcmp(node->name, name) == 0)
		{
			parser->beyond_libavro = true;
			return node;
		}
	}
	return NULL;
}

static AvroNode *
new_node(AvroType type)
{
	AvroNode   *node = palloc0(sizeof(AvroNode));

	node->type = type;
	return node;
}

/* Declares a named type; its namespace is the one for names inside it. */
static AvroNode *
declare_named(SchemaParser *parser, json_t *json, AvroType type,
			  const char *namespace, const char **inner_namespace)
{
	const char *name = json_string_value(json_object_get(json, "name"));
	const char *own_namespace = json_string_value(json_object_get(json, "namespace"));
	AvroNode   *node;
	char	   *dot;

	if (name == NULL || !valid_name(name, true))
		return parse_fail(parser, "%s schema without a valid \"name\"",
						  type_names[type]);
	if (own_namespace != NULL && own_namespace[0] != '\0' &&
		!valid_name(own_namespace, true))
		return parse_fail(parser, "invalid namespace \"%s\"", own_namespace);
	if (own_namespace != NULL)
		namespace = own_namespace;
	node = new_node(type);
	node->name = full_name(name, namespace);
	if (find_named(parser, node->name, NULL) != NULL)
		return parse_fail(parser, "type \"%s\" is defined twice", node->name);
	parser->named = lappend(parser->named, node);
	dot = strrchr(node->name, '.');
	*inner_namespace = dot ? pnstrdup(node->name, dot - node->name) : "";
	return node;
}

static void
parse_logical_type(json_t *json, AvroNode *node)
{
	const char *logical = json_string_value(json_object_get(json, "logicalType"));

	if (logical == NULL)
		return;
	if (strcmp(logical, "decimal") == 0 &&
		(node->type == AVRO_BYTES || node->type == AVRO_FIXED))
	{
		json_t	   *precision = json_object_get(json, "precision");
		json_t	   *scale = json_object_get(json, "scale");
		json_int_t	p,
					s = 0;

		if (!json_is_integer(precision))
			return;
		p = json_integer_value(precision);
		if (scale != NULL)
		{
			if (!json_is_integer(scale))
				return;
			s = json_integer_value(scale);
		}
		/* numeric's own limits; anything else stays plain bytes */
		if (p < 1 || p > 1000 || s < 0 || s > p)
			return;
		if (node->type == AVRO_FIXED &&
			(double) p > floor(log10(pow(2, 8.0 * node->fixed_size - 1) - 1)))
			return;
		node->logical = AVRO_LOGICAL_DECIMAL;
		node->precision = (int) p;
		node->scale = (int) s;
	}
	else if (strcmp(logical, "uuid") == 0 && node->type == AVRO_STRING)
		node->logical = AVRO_LOGICAL_UUID;
	else if (strcmp(logical, "date") == 0 && node->type == AVRO_INT)
		node->logical = AVRO_LOGICAL_DATE;
	else if (strcmp(logical, "time-millis") == 0 && node->type == AVRO_INT)
		node->logical = AVRO_LOGICAL_TIME_MILLIS;
	else if (strcmp(logical, "time-micros") == 0 && node->type == AVRO_LONG)
		node->logical = AVRO_LOGICAL_TIME_MICROS;
	else if (strcmp(logical, "timestamp-millis") == 0 && node->type == AVRO_LONG)
		node->logical = AVRO_LOGICAL_TIMESTAMP_MILLIS;
	else if (strcmp(logical, "timestamp-micros") == 0 && node->type == AVRO_LONG)
		node->logical = AVRO_LOGICAL_TIMESTAMP_MICROS;
	else if (strcmp(logical, "local-timestamp-millis") == 0 && node->type == AVRO_LONG)
		node->logical = AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS;
	else if (strcmp(logical, "local-timestamp-micros") == 0 && node->type == AVRO_LONG)
		node->logical = AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS;
}

static AvroNode *
parse_record(SchemaParser *parser, json_t *json, const char *namespace,
			 int depth)
{
	const char *inner_namespace;
	AvroNode   *node = declare_named(parser, json, AVRO_RECORD, namespace,
									 &inner_namespace);
	json_t	   *fields = json_object_get(json, "fields");
	size_t		i;

	if (node == NULL)
		return NULL;
	if (!json_is_array(fields))
		return parse_fail(parser, "record \"%s\" has no \"fields\" array",
						  node->name);
	node->nchildren = (int) json_array_size(fields);
	node->children = palloc0(sizeof(AvroNode *) * Max(node->nchildren, 1));
	node->field_names = palloc0(sizeof(char *) * Max(node->nchildren, 1));
	node->field_defaults = palloc0(sizeof(char *) * Max(node->nchildren, 1));
	node->field_default_kinds = palloc0(Max(node->nchildren, 1));
	for (i = 0; i < json_array_size(fields); i++)
	{
		json_t	   *field = json_array_get(fields, i);
		const char *name = json_string_value(json_object_get(field, "name"));
		json_t	   *type = json_object_get(field, "type");

		if (name == NULL || !valid_name(name, false))
			return parse_fail(parser, "a field of record \"%s\" has no valid \"name\"",
							  node->name);
		for (size_t j = 0; j < i; j++)
		{
			if (strcmp(node->field_names[j], name) == 0)
				return parse_fail(parser, "record \"%s\" has two fields named \"%s\"",
								  node->name, name);
		}
		if (type == NULL)
			return parse_fail(parser, "field \"%s\" of record \"%s\" has no \"type\"",
							  name, node->name);
		node->field_names[i] = pstrdup(name);
		{
			json_t	   *def = json_object_get(field, "default");

			if (json_is_string(def))
			{
				node->field_defaults[i] = pnstrdup(json_string_value(def),
												   json_string_length(def));
				node->field_default_kinds[i] = 's';
			}
			else if (def != NULL && !json_is_null(def))
			{
				char	   *text = json_dumps(def, JSON_ENCODE_ANY | JSON_COMPACT);

				if (text != NULL)
				{
					node->field_defaults[i] = pstrdup(text);
					node->field_default_kinds[i] = json_is_number(def) ? 'n' :
						json_is_boolean(def) ? 'b' : 'j';
					free(text);
				}
			}
		}
		node->children[i] = parse_node(parser, type, inner_namespace, depth + 1);
		if (node->children[i] == NULL)
			return NULL;
	}
	return node;
}

static AvroNode *
parse_complex(SchemaParser *parser, json_t *json, const char *namespace,
			  int depth)
{
	const char *type = json_string_value(json_object_get(json, "type"));
	AvroNode   *node;

	if (type == NULL)
	{
		json_t	   *nested = json_object_get(json, "type");

		/*
		 * {"type": {"type": "int"}} and {"type": [..]}: parsed, but refused
		 * by libavro-c afterwards (see the top of the file)
		 */
		if (nested != NULL && (json_is_object(nested) || json_is_array(nested)))
			return parse_node(parser, nested, namespace, depth + 1);
		return parse_fail(parser, "schema object without a \"type\"");
	}

	if (strcmp(type, "record") == 0)
		return parse_record(parser, json, namespace, depth);
	if (strcmp(type, "error") == 0)
	{
		parser->beyond_libavro = true;
		return parse_record(parser, json, namespace, depth);
	}

	if (strcmp(type, "enum") == 0)
	{
		const char *inner_namespace;
		json_t	   *symbols = json_object_get(json, "symbols");

		node = declare_named(parser, json, AVRO_ENUM, namespace, &inner_namespace);
		if (node == NULL)
			return NULL;
		if (!json_is_array(symbols) || json_array_size(symbols) == 0)
			return parse_fail(parser, "enum \"%s\" has no \"symbols\"", node->name);
		node->nsymbols = (int) json_array_size(symbols);
		node->symbols = palloc(sizeof(char *) * node->nsymbols);
		for (int i = 0; i < node->nsymbols; i++)
		{
			const char *symbol = json_string_value(json_array_get(symbols, i));

			if (symbol == NULL || !valid_name(symbol, false))
				return parse_fail(parser, "enum \"%s\" has an invalid symbol",
								  node->name);
			node->symbols[i] = pstrdup(symbol);
		}
		return node;
	}

	if (strcmp(type, "fixed") == 0)
	{
		const char *inner_namespace;
		json_t	   *size = json_object_get(json, "size");

		node = declare_named(parser, json, AVRO_FIXED, namespace, &inner_namespace);
		if (node == NULL)
			return NULL;
		if (!json_is_integer(size) || json_integer_value(size) < 0 ||
			json_integer_value(size) > 1024 * 1024)
			return parse_fail(parser, "fixed \"%s\" has no valid \"size\"",
							  node->name);
		node->fixed_size = (int) json_integer_value(size);
		parse_logical_type(json, node);
		return node;
	}

	if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0)
	{
		json_t	   *inner = json_object_get(json, type[0] == 'a' ? "items" : "values");

		if (inner == NULL)
			return parse_fail(parser, "%s schema without \"%s\"", type,
							  type[0] == 'a' ? "items" : "values");
		node = new_node(type[0] == 'a' ? AVRO_ARRAY : AVRO_MAP);
		node->nchildren = 1;
		node->children = palloc(sizeof(AvroNode *));
		node->children[0] = parse_node(parser, inner, namespace, depth + 1);
		return node->children[0] ? node : NULL;
	}

	for (int i = 0; i < lengthof(primitive_names); i++)
	{
		if (strcmp(type, primitive_names[i].name) == 0)
		{
			node = new_node(primitive_names[i].type);
			parse_logical_type(json, node);
			return node;
		}
	}

	/* {"type": "SomeNamedType"} */
	node = find_named(parser, type, namespace);
	if (node != NULL)
		return node;
	return parse_fail(parser, "unknown type \"%s\"", type);
}

static AvroNode *
parse_node(SchemaParser *parser, json_t *json, const char *namespace, int depth)
{
	/* registry responses are hostile too: too deep is an error, not a throw */
	if (depth > AVRO_MAX_DEPTH || stack_is_too_deep())
		return parse_fail(parser, "schema is nested too deeply (more than %d levels)",
						  AVRO_MAX_DEPTH);

	if (json_is_string(json))
	{
		const char *name = json_string_value(json);
		AvroNode   *node;

		for (int i = 0; i < lengthof(primitive_names); i++)
		{
			if (strcmp(name, primitive_names[i].name) == 0)
				return new_node(primitive_names[i].type);
		}
		node = find_named(parser, name, namespace);
		if (node == NULL)
			return parse_fail(parser, "unknown type \"%s\"", name);
		return node;
	}
	if (json_is_array(json))
	{
		AvroNode   *node = new_node(AVRO_UNION);
		size_t		i;

		node->nchildren = (int) json_array_size(json);
		if (node->nchildren == 0)
			return parse_fail(parser, "union without branches");
		node->children = palloc(sizeof(AvroNode *) * node->nchildren);
		for (i = 0; i < json_array_size(json); i++)
		{
			node->children[i] = parse_node(parser, json_array_get(json, i),
										   namespace, depth + 1);
			if (node->children[i] == NULL)
				return NULL;
			if (node->children[i]->type == AVRO_UNION)
				return parse_fail(parser, "a union may not contain a union");
		}
		return node;
	}
	if (json_is_object(json))
		return parse_complex(parser, json, namespace, depth);
	return parse_fail(parser, "a schema must be a string, an object or an array");
}

/*
 * Parses schema JSON into CurrentMemoryContext.  Returns NULL with *error
 * set when the text is not a valid Avro schema; *detail is then libavro-c's
 * reason when it is libavro-c that refused the schema, else NULL.
 */
AvroNode *
avro_schema_parse_detail(const char *json, size_t len, char **error,
						 char **detail)
{
	SchemaParser parser = {0};
	json_error_t json_error;
	json_t	   *root;
	AvroNode   *volatile node = NULL;

	*detail = NULL;
	root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
					  &json_error);
	if (root == NULL)
	{
		*error = psprintf("schema is not valid JSON: %s", json_error.text);
		return NULL;
	}
	PG_TRY();
	{
		node = parse_node(&parser, root, "", 0);
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();
	list_free(parser.named);
	if (node == NULL)
	{
		*error = parser.error ? parser.error : pstrdup("invalid schema");
		return NULL;
	}
	/* our parser bounded the nesting that libavro-c's recursion sees */
	if (!parser.beyond_libavro &&
		(*detail = kafka_avro_libavro_schema_error(json, len)) != NULL)
	{
		*error = pstrdup("schema is refused by libavro-c's parser");
		return NULL;
	}
	return node;
}

/*
 * avro_schema_parse_detail with libavro-c's reason, if any, appended to
 * the error: for schemas kept with their error until a message needs them.
 */
AvroNode *
avro_schema_parse(const char *json, size_t len, char **error)
{
	char	   *detail;
	AvroNode   *node = avro_schema_parse_detail(json, len, error, &detail);

	if (node == NULL && detail != NULL)
		*error = psprintf("%s: %s", *error, detail);
	return node;
}

/*
 * The writer schema of plain Avro values: parsed now with the parser the
 * decoder and encoder use, so a table never accepts a schema they refuse.
 */
void
kafka_avro_check_schema_option(const char *name, const char *value)
{
	char	   *error;
	char	   *detail;

	kafka_check_nonempty(name, value);
	if (avro_schema_parse_detail(value, strlen(value), &error, &detail) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": %s", name, error),
				 detail ? errdetail("libavro-c: %s.", detail) : 0));
}

const char *
avro_schema_option(const KafkaCodecOptions *options)
{
	/* the schema of the table's values, not of its keys */
	if (options == NULL || options->key)
		return NULL;
	return kafka_option_value(options->format_options, "avro_schema");
}

/* kafka_registry_parsed's parse: the schema's node tree */
static void *
parse_registry_schema(KafkaRegistry *registry, const KafkaRegistrySchema *schema,
					  char **error)
{
	AvroNode   *root = avro_schema_parse(schema->schema, strlen(schema->schema),
										 error);

	if (root == NULL)
		*error = psprintf("schema id %d is not a valid Avro schema: %s",
						  schema->id, *error);
	return root;
}

AvroNode *
avro_registry_schema(KafkaRegistry *registry, int32 id, char **error)
{
	const KafkaRegistrySchema *schema = kafka_registry_schema_by_id(registry,
																	id, NULL);

	return kafka_registry_parsed(registry, schema, "AVRO", parse_registry_schema,
								 error);
}

AvroNode *
avro_registry_latest_schema(KafkaRegistry *registry, const char *subject)
{
	const KafkaRegistrySchema *schema = kafka_registry_latest(registry, subject,
															  NULL);
	char	   *error;

	if (schema->schema == NULL)
		return NULL;
	return kafka_registry_parsed(registry, schema, "AVRO", parse_registry_schema,
								 &error);
}
