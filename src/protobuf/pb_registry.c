/*-------------------------------------------------------------------------
 *
 * pb_registry.c
 *	  Protobuf schemas from the Confluent Schema Registry: a schema id's
 *	  serialized FileDescriptorProto with the files its references name,
 *	  as one PbSchema, and the Confluent framing of Protobuf payloads.
 *
 * A schema is asked for with "format=serialized": its text is then the
 * base64 of one FileDescriptorProto, which imports other files by the
 * names of its references.  Each reference is a subject version, fetched
 * the same way, with references of its own: they are followed depth first,
 * each file loaded once by its reference name, at most PB_MAX_REFERENCE_
 * DEPTH deep and PB_MAX_REFERENCE_FILES in all; a reference back to a
 * subject version being loaded is a cycle and refused.  Imports of
 * google/protobuf/ files need no reference: the well-known types are
 * bundled (pb_schema.c).  Schemas are kept per backend by the registry's
 * entry of the id (schema_registry.c caches those for the backend's life).
 *
 * IDENTIFICATION
 *	  src/protobuf/pb_registry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "protobuf/protobuf.h"
#include "registry/schema_registry.h"

#define PB_MAX_REFERENCE_DEPTH 32
#define PB_MAX_REFERENCE_FILES 256

typedef struct FileLoader
{
	KafkaRegistry *registry;
	int32		id;				/* of the main schema, for messages */
	int			nfiles;
	const uint8 *data[PB_MAX_REFERENCE_FILES];
	size_t		lens[PB_MAX_REFERENCE_FILES];
	char	   *names[PB_MAX_REFERENCE_FILES];
	/* the subject versions being loaded, outermost first */
	int			depth;
	const char *path_subjects[PB_MAX_REFERENCE_DEPTH + 1];
	int32		path_versions[PB_MAX_REFERENCE_DEPTH + 1];
	char	   *error;
} FileLoader;

/* The FileDescriptorProto in a serialized schema's base64 text. */
static bool
decode_serialized(const char *text, uint8 **data, size_t *len)
{
	int			text_len = strlen(text);
	int			max_len = pg_b64_dec_len(text_len);
	uint8	   *out = palloc(Max(max_len, 1));
	int			n;

	n = pg_b64_decode(text, text_len, (char *) out, max_len);
	if (n < 0)
	{
		pfree(out);
		return false;
	}
	*data = out;
	*len = n;
	return true;
}

static bool add_file(FileLoader *loader, const KafkaRegistrySchema *schema,
					 const char *name);

static bool
add_references(FileLoader *loader, const KafkaRegistrySchema *schema)
{
	for (int r = 0; r < schema->nreferences; r++)
	{
		const KafkaSchemaReference *ref = &schema->references[r];
		KafkaRegistrySchema *referenced;
		bool		seen = false;

		if (ref->name == NULL || ref->subject == NULL)
		{
			loader->error = psprintf("schema id %d has a reference without a name or subject",
									 loader->id);
			return false;
		}
		for (int d = 0; d < loader->depth; d++)
		{
			if (strcmp(loader->path_subjects[d], ref->subject) == 0 &&
				loader->path_versions[d] == ref->version)
			{
				loader->error = psprintf("the references of schema id %d form a cycle through version %d of subject \"%s\"",
										 loader->id, ref->version, ref->subject);
				return false;
			}
		}
		for (int f = 0; f < loader->nfiles; f++)
			if (strcmp(loader->names[f], ref->name) == 0)
				seen = true;
		if (seen)
			continue;
		if (loader->depth >= PB_MAX_REFERENCE_DEPTH)
		{
			loader->error = psprintf("the references of schema id %d nest more than %d levels deep",
									 loader->id, PB_MAX_REFERENCE_DEPTH);
			return false;
		}
		referenced = kafka_registry_subject_version(loader->registry,
													ref->subject, ref->version,
													"format=serialized");
		if (referenced == NULL || referenced->schema == NULL)
		{
			loader->error = psprintf("reference \"%s\" of schema id %d names version %d of subject \"%s\", which is not in the schema registry",
									 ref->name, loader->id, ref->version,
									 ref->subject);
			return false;
		}
		if (strcmp(referenced->schema_type, "PROTOBUF") != 0)
		{
			loader->error = psprintf("reference \"%s\" of schema id %d is a %.20s schema, not Protobuf",
									 ref->name, loader->id,
									 referenced->schema_type);
			return false;
		}
		loader->path_subjects[loader->depth] = ref->subject;
		loader->path_versions[loader->depth] = ref->version;
		loader->depth++;
		if (!add_file(loader, referenced, ref->name))
			return false;
		loader->depth--;
	}
	return true;
}

/* Adds schema's file under name, after the files it references. */
static bool
add_file(FileLoader *loader, const KafkaRegistrySchema *schema,
		 const char *name)
{
	int			slot;
	uint8	   *data;
	size_t		len;

	if (loader->nfiles >= PB_MAX_REFERENCE_FILES)
	{
		loader->error = psprintf("schema id %d references more than %d files",
								 loader->id, PB_MAX_REFERENCE_FILES);
		return false;
	}
	if (!decode_serialized(schema->schema, &data, &len))
	{
		loader->error = psprintf("the schema registry gave %s of schema id %d not as base64 (format=serialized)",
								 name[0] != '\0' ? psprintf("reference \"%s\"", name) : "the file",
								 loader->id);
		return false;
	}
	/* claimed before the references: a file is loaded once */
	slot = loader->nfiles++;
	loader->data[slot] = data;
	loader->lens[slot] = len;
	loader->names[slot] = pstrdup(name);
	return add_references(loader, schema);
}

/*
 * kafka_registry_parsed's parse: the file and its references, as one
 * schema.  The files fetched are scratch: only the schema is kept.
 */
static void *
load_files(KafkaRegistry *registry, const KafkaRegistrySchema *schema,
		   char **error)
{
	MemoryContext keep = CurrentMemoryContext;
	MemoryContext scratch = AllocSetContextCreate(keep, "kafka_fdw protobuf schema files",
												  ALLOCSET_DEFAULT_SIZES);
	FileLoader *loader;
	PbSchema   *pb = NULL;
	char	   *why = NULL;
	bool		fetched;

	MemoryContextSwitchTo(scratch);
	loader = palloc0(sizeof(FileLoader));
	loader->registry = registry;
	loader->id = schema->id;
	/* the main file is named by no reference */
	fetched = add_file(loader, schema, "");
	if (fetched)
		pb = pb_schema_from_files(loader->data, loader->lens, loader->nfiles,
								  keep, &why);
	MemoryContextSwitchTo(keep);
	if (!fetched)
		*error = pstrdup(loader->error ? loader->error : "unknown error");
	else if (pb == NULL)
		*error = psprintf("schema id %d is not a valid Protobuf schema: %s",
						  schema->id, why ? why : "unknown error");
	MemoryContextDelete(scratch);
	return pb;
}

PbSchema *
pb_registry_load(KafkaRegistry *registry, const KafkaRegistrySchema *schema,
				 char **error)
{
	return kafka_registry_parsed(registry, schema, "PROTOBUF", load_files, error);
}

PbSchema *
pb_registry_schema_by_id(KafkaRegistry *registry, int32 id, char **error)
{
	return pb_registry_load(registry,
							kafka_registry_schema_by_id(registry, id,
														"format=serialized"),
							error);
}

int
pb_frame(const uint8 *data, size_t len, int32 *schema_id, int32 *indexes,
		 int *count, char **error)
{
	int			n;

	if (len < KAFKA_CONFLUENT_HEADER_SIZE)
	{
		*error = psprintf("Protobuf payload of %zu bytes is too short for the 5-byte Confluent header",
						  len);
		return -1;
	}
	if (data[0] != KAFKA_CONFLUENT_MAGIC)
	{
		*error = psprintf("Protobuf payload starts with byte 0x%02x, not the Confluent magic byte 0x00",
						  data[0]);
		return -1;
	}
	*schema_id = kafka_confluent_schema_id(data);
	if (*schema_id < 0)
	{
		/* the registry's ids are positive: no request for it */
		*error = psprintf("Protobuf payload names schema id %d, which is not a schema registry id",
						  *schema_id);
		return -1;
	}
	n = pb_parse_message_indexes(data + KAFKA_CONFLUENT_HEADER_SIZE,
								 len - KAFKA_CONFLUENT_HEADER_SIZE, indexes,
								 PB_MAX_MESSAGE_INDEXES, count);
	if (n < 0)
	{
		*error = psprintf("Protobuf payload of schema id %d has a malformed message-index array",
						  *schema_id);
		return -1;
	}
	if (*count == 0)
	{
		/* the single byte 0: the first message */
		indexes[0] = 0;
		*count = 1;
	}
	return KAFKA_CONFLUENT_HEADER_SIZE + n;
}

void
pb_append_frame(StringInfo out, int32 schema_id, const int32 *indexes,
				int count)
{
	kafka_confluent_append_header(out, schema_id);
	if (count == 1 && indexes[0] == 0)
	{
		appendStringInfoChar(out, 0);
		return;
	}
	for (int i = -1; i < count; i++)
	{
		uint32		v = i < 0 ? (uint32) count : (uint32) indexes[i];
		uint64		z = (uint64) v << 1;	/* zigzag of a non-negative */

		while (z >= 0x80)
		{
			appendStringInfoChar(out, (char) ((z & 0x7f) | 0x80));
			z >>= 7;
		}
		appendStringInfoChar(out, (char) z);
	}
}

/* A message named by indexes as text for messages: "[1, 0]". */
char *
pb_indexes_text(const int32 *indexes, int count)
{
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	for (int i = 0; i < count; i++)
		appendStringInfo(&out, "%s%d", i > 0 ? ", " : "", indexes[i]);
	appendStringInfoChar(&out, ']');
	return out.data;
}
