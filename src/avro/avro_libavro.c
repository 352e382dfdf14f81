/*-------------------------------------------------------------------------
 *
 * avro_libavro.c
 *	  Avro schemas checked by libavro-c's parser as well as by ours.
 *
 * Our parser (avro_schema.c) builds the trees the decoder and encoder use;
 * libavro-c, the Avro project's C implementation, is the reference they
 * are checked against (test/t/057_avro_reference.pl decodes random
 * payloads with both).  A schema libavro-c refuses is refused here too,
 * with its reason, so that a schema kafka_fdw accepts can be read by the
 * other Avro clients of a topic.
 *
 * libavro-c allocates with malloc, keeps its last error in a thread-local
 * buffer and knows nothing of PostgreSQL's error handling, so nothing here
 * may ereport between the parse and the release of its schema: the schema
 * is released at once and only the error text is copied into palloc'd
 * memory.  Called from the backend's main thread only.
 *
 * IDENTIFICATION
 *	  src/avro/avro_libavro.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <avro.h>

#include "avro/avro_libavro.h"

/*
 * NULL when libavro-c parses the schema JSON, else its error text
 * (palloc'd in CurrentMemoryContext).
 */
char *
kafka_avro_libavro_schema_error(const char *json, size_t len)
{
	avro_schema_t schema = NULL;
	const char *reason;

	if (avro_schema_from_json_length(json, len, &schema) == 0)
	{
		avro_schema_decref(schema);
		return NULL;
	}
	reason = avro_strerror();
	return pstrdup(reason != NULL && reason[0] != '\0' ? reason : "unknown error");
}
