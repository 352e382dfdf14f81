/*-------------------------------------------------------------------------
 *
 * avro_reference.c
 *	  libavro-c, the Avro project's C implementation, as the reference
 *	  kafka_fdw's Avro decoder is checked against (test/t/057_avro_reference.pl).
 *
 *	  avro_reference generate SEED SCHEMAS VALUES
 *		prints SCHEMAS random schemas (nested records, unions, arrays, maps,
 *		enums, fixed, every primitive; bounded depth and size), each with
 *		VALUES random values written by libavro-c, one case a line:
 *		<schema JSON> TAB <payload in hex>
 *
 *	  avro_reference decode
 *		reads such lines and prints, one a line, libavro-c's reading of each
 *		payload as avro_value_to_json renders it (one line), or "ERROR: "
 *		and libavro-c's reason
 *
 * The same seed gives the same cases.  Values are chosen so that both
 * renderings can express them: strings are valid UTF-8 without NUL (our
 * decoder refuses NUL, which PostgreSQL's text cannot hold), bytes and
 * fixed have no zero byte (avro_value_to_json renders them through a C
 * string, cut at the first zero), and floats and doubles are finite
 * (jansson, under avro_value_to_json, has no NaN or Infinity).  Two
 * libavro-c 1.11 limits shape the schemas: no fixed of size 0 (it cannot
 * read one) and no array or map of zero-sized items (null, a record of
 * nulls: it cannot grow one).
 *
 * IDENTIFICATION
 *	  test/verify/avro_reference.c
 *
 *-------------------------------------------------------------------------
 */
#include <avro.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 5
#define MAX_ITEMS 4

static uint64_t rng_state;
static int	next_name;

static void
die(const char *what)
{
	fprintf(stderr, "avro_reference: %s: %s\n", what, avro_strerror());
	exit(2);
}

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return n ? (uint32_t) ((rng_state * 2685821657736338717ULL) >> 32) % n : 0;
}

static uint64_t
rnd64(void)
{
	return ((uint64_t) rnd(0xffffffffu) << 32) | rnd(0xffffffffu);
}

/* ---- schemas ------------------------------------------------------------ */

static const char *const primitives[] = {
	"null", "boolean", "int", "long", "float", "double", "bytes", "string"
};

enum
{
	KIND_PRIMITIVE, KIND_RECORD, KIND_ENUM, KIND_FIXED, KIND_ARRAY, KIND_MAP,
	KIND_UNION
};

static json_t *random_schema(int depth, int allow_union);

/*
 * The named types of the schema being generated, once complete, for later
 * references: full name, namespace, definition.
 */
typedef struct Defined
{
	char		full_name[64];
	const char *namespace;
	json_t	   *schema;
} Defined;

static Defined defined[1024];
static int	ndefined;

/* Values of the schema take no bytes in libavro-c's generic values. */
static int
zero_sized(json_t *schema)
{
	const char *type;
	json_t	   *fields;

	if (json_is_string(schema))
	{
		const char *name = json_string_value(schema);

		for (int i = 0; i < ndefined; i++)
		{
			if (strcmp(name, defined[i].full_name) == 0 ||
				strcmp(name, json_string_value(json_object_get(defined[i].schema, "name"))) == 0)
				return zero_sized(defined[i].schema);
		}
		return strcmp(name, "null") == 0;
	}
	if (!json_is_object(schema))
		return 0;				/* a union has its discriminant */
	type = json_string_value(json_object_get(schema, "type"));
	if (strcmp(type, "null") == 0)
		return 1;
	if (strcmp(type, "record") != 0)
		return 0;
	fields = json_object_get(schema, "fields");
	for (size_t i = 0; i < json_array_size(fields); i++)
	{
		if (!zero_sized(json_object_get(json_array_get(fields, i), "type")))
			return 0;
	}
	return 1;
}

/* The namespace names inside the record being generated resolve in. */
static const char *current_namespace = "";

/* A new named type; *namespace is its namespace (given or inherited). */
static json_t *
named(const char *type, const char **namespace)
{
	json_t	   *schema = json_object();
	char		name[32];

	snprintf(name, sizeof(name), "%s%d", rnd(4) == 0 ? "_t" : "T", next_name++);
	json_object_set_new(schema, "type", json_string(type));
	json_object_set_new(schema, "name", json_string(name));
	*namespace = current_namespace;
	if (rnd(4) == 0)
	{
		*namespace = rnd(2) ? "org.example" : "ns";
		json_object_set_new(schema, "namespace", json_string(*namespace));
	}
	if (rnd(6) == 0)
		json_object_set_new(schema, "doc", json_string("a \"doc\"\twith\\escapes"));
	return schema;
}

static void
define(json_t *schema, const char *namespace)
{
	Defined    *d;

	if (ndefined == sizeof(defined) / sizeof(defined[0]))
		return;
	d = &defined[ndefined++];
	snprintf(d->full_name, sizeof(d->full_name), "%s%s%s", namespace,
			 namespace[0] ? "." : "", json_string_value(json_object_get(schema, "name")));
	d->namespace = namespace;
	d->schema = schema;
}

/*
 * A reference to a complete named type: by its name when it is in the
 * current namespace, else by its full name (a type of the null namespace
 * only from the null namespace: libavro-c resolves no other way).  NULL
 * when there is none.
 */
static json_t *
random_reference(void)
{
	for (int tries = 0; ndefined > 0 && tries < 4; tries++)
	{
		Defined    *d = &defined[rnd(ndefined)];

		if (strcmp(d->namespace, current_namespace) == 0)
			return json_string(json_string_value(json_object_get(d->schema, "name")));
		if (d->namespace[0] != '\0')
			return json_string(d->full_name);
	}
	return NULL;
}

static json_t *
random_of_kind(int kind, int depth)
{
	json_t	   *schema;

	switch (kind)
	{
		case KIND_RECORD:
			{
				json_t	   *fields = json_array();
				int			n = rnd(depth < 2 ? 5 : 3);
				const char *namespace;
				const char *outer_namespace = current_namespace;

				schema = named("record", &namespace);
				current_namespace = namespace;
				for (int i = 0; i < n; i++)
				{
					json_t	   *field = json_object();
					char		name[32];

					snprintf(name, sizeof(name), "%s%d", rnd(3) ? "f" : "_F", i);
					json_object_set_new(field, "name", json_string(name));
					json_object_set_new(field, "type", random_schema(depth + 1, 1));
					json_array_append_new(fields, field);
				}
				json_object_set_new(schema, "fields", fields);
				current_namespace = outer_namespace;
				define(schema, namespace);
				return schema;
			}
		case KIND_ENUM:
			{
				json_t	   *symbols = json_array();
				int			n = 1 + rnd(6);
				const char *namespace;

				schema = named("enum", &namespace);
				for (int i = 0; i < n; i++)
				{
					char		symbol[32];

					snprintf(symbol, sizeof(symbol), "%s%d", rnd(2) ? "S" : "sym_", i);
					json_array_append_new(symbols, json_string(symbol));
				}
				json_object_set_new(schema, "symbols", symbols);
				define(schema, namespace);
				return schema;
			}
		case KIND_FIXED:
			/* libavro-c 1.11 cannot read a fixed of size 0 */
			{
				const char *namespace;

				schema = named("fixed", &namespace);
				json_object_set_new(schema, "size", json_integer(1 + rnd(20)));
				define(schema, namespace);
				return schema;
			}
		case KIND_ARRAY:
		case KIND_MAP:
			{
				int			ndefined_before = ndefined;
				json_t	   *items = random_schema(depth + 1, 1);

				/*
				 * libavro-c 1.11 cannot grow an array or map of zero-sized
				 * items (null, a record of nulls): it fails to write them
				 */
				while (zero_sized(items))
				{
					ndefined = ndefined_before;
					json_decref(items);
					items = random_schema(depth + 1, 1);
				}
				schema = json_object();
				json_object_set_new(schema, "type", json_string(kind == KIND_ARRAY ? "array" : "map"));
				json_object_set_new(schema, kind == KIND_ARRAY ? "items" : "values", items);
				return schema;
			}
		default:
			break;
	}
	/* a primitive, bare or as an object */
	{
		const char *name = primitives[rnd(8)];

		if (rnd(5) == 0)
		{
			schema = json_object();
			json_object_set_new(schema, "type", json_string(name));
			return schema;
		}
		return json_string(name);
	}
}

/*
 * A union of distinct branches: each primitive at most once, at most one
 * array and one map, named types (distinct by construction), no union.
 */
static json_t *
random_union(int depth)
{
	json_t	   *branches = json_array();
	int			n = 1 + rnd(4);
	int			used_primitive[8] = {0};
	int			used_array = 0,
				used_map = 0;

	if (rnd(2))
	{
		json_array_append_new(branches, json_string("null"));
		used_primitive[0] = 1;
	}
	for (int i = 0; i < n; i++)
	{
		int			kind = rnd(depth >= MAX_DEPTH ? 1 : 6);

		if (kind == KIND_PRIMITIVE)
		{
			int			p = rnd(8);

			if (used_primitive[p])
				continue;
			used_primitive[p] = 1;
			json_array_append_new(branches, json_string(primitives[p]));
		}
		else if ((kind == KIND_ARRAY && used_array++) ||
				 (kind == KIND_MAP && used_map++))
			continue;
		else
			json_array_append_new(branches, random_of_kind(kind, depth));
	}
	if (json_array_size(branches) == 0)
		json_array_append_new(branches, json_string("long"));
	return branches;
}

static json_t *
random_schema(int depth, int allow_union)
{
	int			kind;

	if (depth >= MAX_DEPTH)
		kind = KIND_PRIMITIVE;
	else
		kind = rnd(allow_union ? 9 : 8);
	if (kind >= 7)
		kind = depth == 0 ? KIND_RECORD : KIND_PRIMITIVE;
	if (kind == KIND_UNION)
		return random_union(depth);
	if (depth > 0 && rnd(6) == 0)
	{
		json_t	   *reference = random_reference();

		if (reference != NULL)
			return reference;
	}
	return random_of_kind(kind, depth);
}

/* ---- values ------------------------------------------------------------- */

/* Valid UTF-8 without NUL: ASCII (control characters too) to 4 bytes. */
static size_t
random_string(char *buffer, size_t max)
{
	size_t		len = 0;
	size_t		chars = rnd(8) == 0 ? rnd(200) : rnd(12);

	for (size_t i = 0; i < chars && len + 4 < max; i++)
	{
		uint32_t	c;

		switch (rnd(6))
		{
			case 0:
				c = 1 + rnd(0x1f);
				break;
			case 1:
				c = "\"\\/'"[rnd(4)];
				break;
			case 2:
				c = 0x80 + rnd(0x800 - 0x80);
				break;
			case 3:
				do
					c = 0x800 + rnd(0x10000 - 0x800);
				while (c >= 0xd800 && c <= 0xdfff);
				break;
			case 4:
				c = 0x10000 + rnd(0x110000 - 0x10000);
				break;
			default:
				c = 0x20 + rnd(0x5f);
				break;
		}
		if (c < 0x80)
			buffer[len++] = (char) c;
		else if (c < 0x800)
		{
			buffer[len++] = (char) (0xc0 | (c >> 6));
			buffer[len++] = (char) (0x80 | (c & 0x3f));
		}
		else if (c < 0x10000)
		{
			buffer[len++] = (char) (0xe0 | (c >> 12));
			buffer[len++] = (char) (0x80 | ((c >> 6) & 0x3f));
			buffer[len++] = (char) (0x80 | (c & 0x3f));
		}
		else
		{
			buffer[len++] = (char) (0xf0 | (c >> 18));
			buffer[len++] = (char) (0x80 | ((c >> 12) & 0x3f));
			buffer[len++] = (char) (0x80 | ((c >> 6) & 0x3f));
			buffer[len++] = (char) (0x80 | (c & 0x3f));
		}
	}
	buffer[len] = '\0';
	return len;
}

static int64_t
random_integer(int bits)
{
	static const int64_t edges[] = {0, 1, -1, 63, 64, -64, -65, 127, 128,
	8191, 8192, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
	int64_t		value;

	if (rnd(3) == 0)
		value = edges[rnd(bits == 32 ? 13 : 15)];
	else
		value = (int64_t) (rnd64() >> rnd(64));
	if (rnd(2))
		value = -value;
	if (bits == 32)
		value = (int32_t) value;
	return value;
}

static double
random_real(int single)
{
	static const double edges[] = {0.0, -0.0, 1.0, -1.5, 0.1, 1e-45, 1e-310,
	3.4028234663852886e38, 1.7976931348623157e308, 2.2250738585072014e-308,
	123456789.125};

	for (;;)
	{
		double		value;

		if (rnd(3) == 0)
			value = edges[rnd(11)];
		else if (single)
		{
			uint32_t	bits = rnd(0xffffffffu);
			float		f;

			memcpy(&f, &bits, 4);
			value = f;
		}
		else
		{
			uint64_t	bits = rnd64();

			memcpy(&value, &bits, 8);
		}
		if (single)
			value = (float) value;
		if (isfinite(value))
			return value;
	}
}

static void
random_value(avro_value_t *value)
{
	avro_schema_t schema = avro_value_get_schema(value);
	char		buffer[1024];
	int			rc = 0;

	switch (avro_value_get_type(value))
	{
		case AVRO_NULL:
			rc = avro_value_set_null(value);
			break;
		case AVRO_BOOLEAN:
			rc = avro_value_set_boolean(value, rnd(2));
			break;
		case AVRO_INT32:
			rc = avro_value_set_int(value, (int32_t) random_integer(32));
			break;
		case AVRO_INT64:
			rc = avro_value_set_long(value, random_integer(64));
			break;
		case AVRO_FLOAT:
			rc = avro_value_set_float(value, (float) random_real(1));
			break;
		case AVRO_DOUBLE:
			rc = avro_value_set_double(value, random_real(0));
			break;
		case AVRO_STRING:
			{
				size_t		len = random_string(buffer, sizeof(buffer));

				rc = avro_value_set_string_len(value, buffer, len + 1);
				break;
			}
		case AVRO_BYTES:
		case AVRO_FIXED:
			{
				size_t		len;

				if (avro_value_get_type(value) == AVRO_FIXED)
					len = avro_schema_fixed_size(schema);
				else
					len = rnd(8) == 0 ? rnd(300) : rnd(10);
				/* avro_value_to_json cuts bytes at a zero byte: none here */
				for (size_t i = 0; i < len; i++)
					buffer[i] = (char) (1 + rnd(255));
				rc = avro_value_get_type(value) == AVRO_FIXED ?
					avro_value_set_fixed(value, buffer, len) :
					avro_value_set_bytes(value, buffer, len);
				break;
			}
		case AVRO_ENUM:
			rc = avro_value_set_enum(value,
									 rnd(avro_schema_enum_number_of_symbols(schema)));
			break;
		case AVRO_RECORD:
			{
				size_t		n;

				avro_value_get_size(value, &n);
				for (size_t i = 0; i < n; i++)
				{
					avro_value_t field;

					if (avro_value_get_by_index(value, i, &field, NULL))
						die("record field");
					random_value(&field);
				}
				break;
			}
		case AVRO_ARRAY:
			{
				int			n = rnd(MAX_ITEMS + 1);

				for (int i = 0; i < n; i++)
				{
					avro_value_t item;

					if (avro_value_append(value, &item, NULL))
						die("array item");
					random_value(&item);
				}
				break;
			}
		case AVRO_MAP:
			{
				int			n = rnd(MAX_ITEMS + 1);

				for (int i = 0; i < n; i++)
				{
					avro_value_t item;
					int			is_new;

					random_string(buffer, 40);
					if (avro_value_add(value, buffer, &item, NULL, &is_new))
						die("map item");
					random_value(&item);
				}
				break;
			}
		case AVRO_UNION:
			{
				avro_value_t branch;

				if (avro_value_set_branch(value, rnd(avro_schema_union_size(schema)),
										  &branch))
					die("union branch");
				random_value(&branch);
				break;
			}
		default:
			fprintf(stderr, "avro_reference: unexpected type\n");
			exit(2);
	}
	if (rc != 0)
		die("setting a value");
}

static void
print_hex(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		printf("%02x", (unsigned char) data[i]);
}

static int
generate(uint64_t seed, int nschemas, int nvalues)
{
	static char payload[1 << 20];

	rng_state = seed * 2654435761u + 88172645463325252ULL;
	for (int s = 0; s < nschemas; s++)
	{
		json_t	   *json;

		ndefined = 0;
		current_namespace = "";
		json = random_schema(0, 1);
		char	   *text = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
		avro_schema_t schema;
		avro_value_iface_t *iface;

		if (avro_schema_from_json_length(text, strlen(text), &schema))
			die(text);
		iface = avro_generic_class_from_schema(schema);
		if (iface == NULL)
			die("class");
		for (int v = 0; v < nvalues; v++)
		{
			avro_value_t value;
			avro_writer_t writer = avro_writer_memory(payload, sizeof(payload));

			if (avro_generic_value_new(iface, &value))
				die("value");
			random_value(&value);
			if (avro_value_write(writer, &value))
				die("write");
			printf("%s\t", text);
			print_hex(payload, avro_writer_tell(writer));
			printf("\n");
			avro_writer_free(writer);
			avro_value_decref(&value);
		}
		avro_value_iface_decref(iface);
		avro_schema_decref(schema);
		free(text);
		json_decref(json);
	}
	return 0;
}

static int
unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int
decode(void)
{
	size_t		size = 1 << 20;
	char	   *line = malloc(size);
	ssize_t		len;

	while ((len = getline(&line, &size, stdin)) > 0)
	{
		char	   *tab = strrchr(line, '\t');
		char	   *hex;
		size_t		nbytes = 0;
		avro_schema_t schema;
		avro_value_iface_t *iface;
		avro_value_t value;
		avro_reader_t reader;
		char	   *json;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (tab == NULL)
		{
			printf("ERROR: no tab\n");
			continue;
		}
		*tab = '\0';
		hex = tab + 1;
		/* the bytes replace their hex in place */
		for (char *p = hex; p[0] && p[1]; p += 2)
		{
			if (unhex(p[0]) < 0 || unhex(p[1]) < 0)
				break;
			hex[nbytes++] = (char) (unhex(p[0]) * 16 + unhex(p[1]));
		}
		if (avro_schema_from_json_length(line, strlen(line), &schema))
		{
			printf("ERROR: %s\n", avro_strerror());
			continue;
		}
		iface = avro_generic_class_from_schema(schema);
		if (iface == NULL || avro_generic_value_new(iface, &value))
			die("value");
		reader = avro_reader_memory(hex, nbytes);
		if (avro_value_read(reader, &value))
			printf("ERROR: %s\n", avro_strerror());
		else if (avro_value_to_json(&value, 1, &json) == 0)
		{
			printf("%s\n", json);
			free(json);
		}
		else
			printf("ERROR: %s\n", avro_strerror());
		avro_reader_free(reader);
		avro_value_decref(&value);
		avro_value_iface_decref(iface);
		avro_schema_decref(schema);
	}
	free(line);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "generate") == 0)
		return generate(strtoull(argv[2], NULL, 10), atoi(argv[3]), atoi(argv[4]));
	if (argc == 2 && strcmp(argv[1], "decode") == 0)
		return decode();
	fprintf(stderr, "usage: avro_reference generate SEED SCHEMAS VALUES | decode\n");
	return 2;
}
