/*-------------------------------------------------------------------------
 *
 * produce_function.c
 *	  kafka.produce(server, topic, key, value, headers, partition, timestamp):
 *	  hold one message for delivery when the transaction commits.
 *
 * Two SQL signatures share this code: key and value as bytea (sent as
 * they are) or as text (sent as UTF-8).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "produce/producer.h"

PG_FUNCTION_INFO_V1(kafka_produce_bytea);
PG_FUNCTION_INFO_V1(kafka_produce_text);

enum
{
	ARG_SERVER,
	ARG_TOPIC,
	ARG_KEY,
	ARG_VALUE,
	ARG_HEADERS,
	ARG_PARTITION,
	ARG_TIMESTAMP
};

/* The target of the last call, reused while the transaction lasts. */
typedef struct ProduceCallCache
{
	char	   *server;
	char	   *topic;
	KafkaProduceTarget *target;
} ProduceCallCache;

static const char *
payload_arg(FunctionCallInfo fcinfo, int argno, bool as_text, int32 *len)
{
	if (PG_ARGISNULL(argno))
	{
		*len = 0;
		return NULL;
	}
	if (as_text)
	{
		text	   *value = PG_GETARG_TEXT_PP(argno);

		return kafka_produce_utf8(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), len);
	}
	else
	{
		bytea	   *value = PG_GETARG_BYTEA_PP(argno);

		*len = VARSIZE_ANY_EXHDR(value);
		return VARDATA_ANY(value);
	}
}

static Datum
produce_internal(FunctionCallInfo fcinfo, bool as_text)
{
	ProduceCallCache *cache = fcinfo->flinfo->fn_extra;
	KafkaMessageData message;
	char	   *server;
	char	   *topic;

	if (PG_ARGISNULL(ARG_SERVER))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server must not be null")));
	if (PG_ARGISNULL(ARG_TOPIC))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic must not be null")));
	server = text_to_cstring(PG_GETARG_TEXT_PP(ARG_SERVER));
	topic = text_to_cstring(PG_GETARG_TEXT_PP(ARG_TOPIC));

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ProduceCallCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	if (cache->target == NULL || !kafka_produce_target_is_current(cache->target) ||
		strcmp(cache->server, server) != 0 || strcmp(cache->topic, topic) != 0)
	{
		cache->target = kafka_produce_target(GetForeignServerByName(server, false),
											 GetUserId(), topic, 0);
		if (cache->server)
			pfree(cache->server);
		if (cache->topic)
			pfree(cache->topic);
		cache->server = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, server);
		cache->topic = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, topic);
	}

	memset(&message, 0, sizeof(message));
	message.key = payload_arg(fcinfo, ARG_KEY, as_text, &message.key_len);
	message.value = payload_arg(fcinfo, ARG_VALUE, as_text, &message.value_len);
	message.partition = PG_ARGISNULL(ARG_PARTITION) ? -1 :
		kafka_produce_partition(PG_GETARG_INT32(ARG_PARTITION));
	message.timestamp_ms = PG_ARGISNULL(ARG_TIMESTAMP) ? 0 :
		kafka_produce_timestamp_ms(PG_GETARG_TIMESTAMPTZ(ARG_TIMESTAMP));
	if (!PG_ARGISNULL(ARG_HEADERS))
		message.headers = kafka_produce_headers_from_array(PG_GETARG_DATUM(ARG_HEADERS),
														   &message.nheaders);
	kafka_produce_message(cache->target, &message);
	PG_RETURN_VOID();
}

Datum
kafka_produce_bytea(PG_FUNCTION_ARGS)
{
	return produce_internal(fcinfo, false);
}

Datum
kafka_produce_text(PG_FUNCTION_ARGS)
{
	return produce_internal(fcinfo, true);
}
