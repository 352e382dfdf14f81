/*-------------------------------------------------------------------------
 *
 * schema_registry.c
 *	  Confluent Schema Registry client (libcurl) for every format, and the
 *	  per-backend cache of schemas by id, so that decoding a message never
 *	  waits on HTTP once its schema id has been seen.
 *
 * Requests: GET /schemas/ids/{id} (decode), GET
 * /subjects/{subject}/versions/{latest or a version}, GET /subjects,
 * POST /subjects/{subject} (is this schema registered under the subject?)
 * and POST /subjects/{subject}/versions (register it) for produce.  A
 * format may add a query (Protobuf's format=serialized).
 *
 * Every request: http/https only, no redirects, connect and total
 * timeouts, a bounded response, basic auth from the user mapping.  Waits
 * go through the curl multi interface in slices of at most 100 ms with
 * CHECK_FOR_INTERRUPTS in between, so cancel and statement_timeout work.
 * An unreachable registry (connection failure, timeout, 5xx, 429) is
 * retried with exponential backoff until the statement's remaining
 * statement_timeout (or 60 s without one) is used up, then it is an
 * ERROR: a registry outage is not a property of the message, so streaming
 * tables retry the batch rather than dead-lettering it.  An id the
 * registry does not know is a property of the message: it comes back as a
 * KafkaRegistrySchema with an error.
 *
 * The password is never part of a message; neither is any user
 * information embedded in the URL.
 *
 * IDENTIFICATION
 *	  src/registry/schema_registry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <jansson.h>

#include "access/xact.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "codec/codec.h"
#include "options.h"
#include "registry/schema_registry.h"

#define REGISTRY_MAX_RESPONSE	(8 * 1024 * 1024)
#define REGISTRY_CONNECT_TIMEOUT_MS 5000
#define REGISTRY_REQUEST_TIMEOUT_MS 30000
#define REGISTRY_DEFAULT_BUDGET_MS 60000
#define REGISTRY_WAIT_SLICE_MS 100
#define REGISTRY_MAX_BACKOFF_MS 5000
#define REGISTRY_MIN_ATTEMPT_MS 250

/*
 * Schemas of one registry URL as seen with one set of credentials, by id
 * (and the query asked with): a schema fetched with someone's credentials
 * is not handed to someone else's in the same backend.
 */
typedef struct RegistryCache
{
	char	   *url;
	char	   *user;
	char	   *password;
	char	   *query;			/* or NULL */
	HTAB	   *by_id;			/* int32 -> SchemaByIdEntry */
} RegistryCache;

typedef struct SchemaByIdEntry
{
	int32		id;				/* hash key */
	KafkaRegistrySchema schema;
} SchemaByIdEntry;

/* Ids of schemas known to be registered under a subject. */
typedef struct SubjectEntry
{
	char	   *url;
	char	   *user;
	char	   *password;
	char	   *subject;
	char	   *body;			/* the schema, its type and references */
	int32		id;
} SubjectEntry;

/* The latest schema of a subject, or none. */
typedef struct LatestEntry
{
	char	   *url;
	char	   *user;
	char	   *password;
	char	   *subject;
	char	   *query;			/* or NULL */
	KafkaRegistrySchema schema; /* schema NULL: no such subject */
} LatestEntry;

static MemoryContext registry_context = NULL;
static List *latest_entries = NIL;
static List *registry_caches = NIL;
static List *subject_entries = NIL;
static bool curl_initialized = false;

KafkaRegistryRetryHook kafka_registry_retry_hook = NULL;

/* One HTTP exchange. */
typedef struct RegistryResponse
{
	char	   *data;			/* malloc'd: filled inside libcurl */
	size_t		len;
	bool		too_large;
	long		status;
	CURLcode	curl_code;
	char		curl_error[CURL_ERROR_SIZE];
} RegistryResponse;

static MemoryContext
get_registry_context(void)
{
	if (registry_context == NULL)
		registry_context = AllocSetContextCreate(TopMemoryContext,
												 "kafka_fdw schema registry cache",
												 ALLOCSET_DEFAULT_SIZES);
	return registry_context;
}

/*
 * The URL as it may appear in messages: without user information
 * (user:password@), whatever the administrator wrote.
 */
char *
kafka_registry_url_for_message(const char *url)
{
	const char *scheme_end = strstr(url, "://");
	const char *host;
	const char *at;
	const char *slash;

	if (scheme_end == NULL)
		return pstrdup(url);
	host = scheme_end + 3;
	slash = strchr(host, '/');
	at = strchr(host, '@');
	if (at == NULL || (slash != NULL && at > slash))
		return pstrdup(url);
	return psprintf("%.*s%s", (int) (host - url), url, at + 1);
}

KafkaRegistry *
kafka_registry_for_server(const char *server_name, Oid userid)
{
	ForeignServer *server = GetForeignServerByName(server_name, false);
	KafkaConnectionSpec *spec = kafka_connection_for_server(server, userid);
	KafkaRegistry *registry;
	int			len;

	if (spec->schema_registry_url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no schema_registry_url option",
						server->servername),
				 errhint("Set schema_registry_url on the server, or give the table the option holding its schema (%s) to go without one.",
						 kafka_format_schema_options())));
	registry = palloc0(sizeof(KafkaRegistry));
	registry->url = pstrdup(spec->schema_registry_url);
	len = strlen(registry->url);
	while (len > 0 && registry->url[len - 1] == '/')
		registry->url[--len] = '\0';
	registry->user = spec->schema_registry_user ? pstrdup(spec->schema_registry_user) : NULL;
	registry->password = spec->schema_registry_password ? pstrdup(spec->schema_registry_password) : NULL;
	registry->ca_location = spec->schema_registry_ca_location ?
		pstrdup(spec->schema_registry_ca_location) : NULL;
	registry->server_name = pstrdup(server->servername);
	return registry;
}

static size_t
write_response(char *data, size_t size, size_t nmemb, void *arg)
{
	RegistryResponse *response = arg;
	size_t		bytes = size * nmemb;
	char	   *grown;

	/* no palloc or elog here: this runs inside libcurl */
	if (response->len + bytes > REGISTRY_MAX_RESPONSE)
	{
		response->too_large = true;
		return 0;
	}
	grown = realloc(response->data, response->len + bytes + 1);
	if (grown == NULL)
		return 0;
	response->data = grown;
	memcpy(response->data + response->len, data, bytes);
	response->len += bytes;
	response->data[response->len] = '\0';
	return bytes;
}

/* Milliseconds left for retries in this statement. */
static long
retry_budget_end_ms(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz end;

	/*
	 * Give up a little before statement_timeout fires, so that the error
	 * says what was waited for.
	 */
	if (StatementTimeout > 0 && IsTransactionState())
		end = TimestampTzPlusMilliseconds(GetCurrentStatementStartTimestamp(),
										  StatementTimeout -
										  Min(StatementTimeout / 4, 1000));
	else
		end = TimestampTzPlusMilliseconds(now, REGISTRY_DEFAULT_BUDGET_MS);
	return (long) Max((end - now) / 1000, 0);
}

static void
release_request(CURLM *multi, CURL *easy, struct curl_slist *headers)
{
	if (multi != NULL && easy != NULL)
		curl_multi_remove_handle(multi, easy);
	if (easy != NULL)
		curl_easy_cleanup(easy);
	if (multi != NULL)
		curl_multi_cleanup(multi);
	curl_slist_free_all(headers);
}

/*
 * One request, waiting in short cancellable slices.  Fills response; never
 * throws except for interrupts (the handles are freed on the way out).
 */
static void
perform_request(KafkaRegistry *registry, const char *url, const char *body,
				long timeout_ms, RegistryResponse *response)
{
	CURLM	   *volatile multi = NULL;
	CURL	   *volatile easy = NULL;
	struct curl_slist *volatile headers = NULL;

	memset(response, 0, sizeof(RegistryResponse));
	PG_TRY();
	{
		int			running = 1;
		CURLMsg    *message;
		int			pending;

		multi = curl_multi_init();
		easy = curl_easy_init();
		if (multi == NULL || easy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while contacting the schema registry")));
		curl_easy_setopt(easy, CURLOPT_URL, url);
		curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
						 Min((long) REGISTRY_CONNECT_TIMEOUT_MS, Max(timeout_ms, 1L)));
		curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, Max(timeout_ms, 1L));
		curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
						 (curl_off_t) REGISTRY_MAX_RESPONSE);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
		if (registry->ca_location != NULL)
			curl_easy_setopt(easy, CURLOPT_CAINFO, registry->ca_location);
		curl_easy_setopt(easy, CURLOPT_NETRC, (long) CURL_NETRC_IGNORED);
		curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, response->curl_error);
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_response);
		curl_easy_setopt(easy, CURLOPT_WRITEDATA, response);
		curl_easy_setopt(easy, CURLOPT_USERAGENT, "kafka_fdw");
		if (registry->user != NULL)
		{
			curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
			curl_easy_setopt(easy, CURLOPT_USERNAME, registry->user);
			curl_easy_setopt(easy, CURLOPT_PASSWORD,
							 registry->password ? registry->password : "");
		}
		headers = curl_slist_append(headers,
									"Accept: application/vnd.schemaregistry.v1+json, application/json");
		if (body != NULL)
		{
			headers = curl_slist_append(headers,
										"Content-Type: application/vnd.schemaregistry.v1+json");
			curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		}
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
		curl_multi_add_handle(multi, easy);

		response->curl_code = CURLE_OK;
		while (running > 0)
		{
			CURLMcode	code = curl_multi_perform(multi, &running);

			if (code != CURLM_OK)
			{
				response->curl_code = CURLE_FAILED_INIT;
				snprintf(response->curl_error, CURL_ERROR_SIZE, "%s",
						 curl_multi_strerror(code));
				break;
			}
			if (running == 0)
				break;
			curl_multi_poll(multi, NULL, 0, REGISTRY_WAIT_SLICE_MS, NULL);
			CHECK_FOR_INTERRUPTS();
		}
		while ((message = curl_multi_info_read(multi, &pending)) != NULL)
		{
			if (message->msg == CURLMSG_DONE)
				response->curl_code = message->data.result;
		}
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response->status);
		if (response->curl_code != CURLE_OK && response->curl_error[0] == '\0')
			snprintf(response->curl_error, CURL_ERROR_SIZE, "%s",
					 curl_easy_strerror(response->curl_code));
	}
	PG_CATCH();
	{
		release_request(multi, easy, headers);
		free(response->data);
		response->data = NULL;
		PG_RE_THROW();
	}
	PG_END_TRY();
	release_request(multi, easy, headers);
}

/* The "message" of a registry error body, quoted safely, or "". */
static char *
registry_error_message(RegistryResponse *response)
{
	json_t	   *json;
	const char *message;
	char	   *result = pstrdup("");

	if (response->data == NULL)
		return result;
	json = json_loadb(response->data, response->len, 0, NULL);
	if (json == NULL)
		return result;
	message = json_string_value(json_object_get(json, "message"));
	if (message != NULL)
		result = psprintf(": %.200s", message);
	json_decref(json);
	return result;
}

static int
registry_error_code(RegistryResponse *response)
{
	json_t	   *json;
	int			code = 0;

	if (response->data == NULL)
		return 0;
	json = json_loadb(response->data, response->len, 0, NULL);
	if (json == NULL)
		return 0;
	if (json_is_integer(json_object_get(json, "error_code")))
		code = (int) json_integer_value(json_object_get(json, "error_code"));
	json_decref(json);
	return code;
}

/*
 * Transport failures that waiting cannot cure: a certificate we do not
 * trust, a bad CA file, a URL libcurl will not use.  Everything else
 * (refused, reset, timed out, DNS) may be an outage and is retried.
 */
static bool
is_permanent_transport_error(CURLcode code)
{
	switch (code)
	{
		case CURLE_FAILED_INIT:
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_SSL_INVALIDCERTSTATUS:
		case CURLE_SSL_CRL_BADFILE:
		case CURLE_TOO_MANY_REDIRECTS:
			return true;
		default:
			return false;
	}
}

static bool
is_retryable(RegistryResponse *response)
{
	if (response->curl_code != CURLE_OK)
		return !response->too_large &&
			!is_permanent_transport_error(response->curl_code);
	return response->status >= 500 || response->status == 429 ||
		response->status == 408;
}

/*
 * A request with retries.  Returns the HTTP status of the final answer
 * (2xx or a 4xx that retrying will not change) with the body in
 * response (free with free()); throws when the registry stays unreachable.
 */
static long
registry_request(KafkaRegistry *registry, const char *path, const char *body,
				 RegistryResponse *response)
{
	char	   *url = psprintf("%s%s", registry->url, path);
	TimestampTz end;
	long		backoff_ms = 100;
	long		budget_ms = retry_budget_end_ms();

	if (!curl_initialized)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not initialize libcurl")));
		curl_initialized = true;
	}

	end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), budget_ms);
	for (;;)
	{
		long		left = (long) ((end - GetCurrentTimestamp()) / 1000);
		char	   *detail;

		perform_request(registry, url,
						body, Min(left, (long) REGISTRY_REQUEST_TIMEOUT_MS),
						response);

		/*
		 * A Content-Length beyond the limit stops libcurl before any byte is
		 * written: as large as a body that overflowed, and no outage to
		 * wait out.
		 */
		if (response->curl_code == CURLE_FILESIZE_EXCEEDED)
			response->too_large = true;
		if (response->too_large)
		{
			free(response->data);
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("schema registry response from \"%s\" is larger than %d bytes",
							kafka_registry_url_for_message(registry->url),
							REGISTRY_MAX_RESPONSE)));
		}
		if (!is_retryable(response))
			break;

		if (response->curl_code != CURLE_OK)
			detail = pstrdup(response->curl_error);
		else
			detail = psprintf("HTTP status %ld%s", response->status,
							  registry_error_message(response));
		free(response->data);
		response->data = NULL;

		/* an attempt squeezed into the last milliseconds would only time out */
		left = (long) ((end - GetCurrentTimestamp()) / 1000) - REGISTRY_MIN_ATTEMPT_MS;
		if (left <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("schema registry \"%s\" of server \"%s\" is unavailable",
							kafka_registry_url_for_message(registry->url),
							registry->server_name),
					 errdetail("%s", detail),
					 errhint("Requests were retried for %ld ms (the rest of statement_timeout, or 60 s without one).",
							 budget_ms)));
		ereport(DEBUG1,
				(errmsg("schema registry \"%s\" unavailable, retrying in %ld ms: %s",
						kafka_registry_url_for_message(registry->url),
						Min(backoff_ms, left), detail)));
		if (kafka_registry_retry_hook != NULL)
			kafka_registry_retry_hook(psprintf("schema registry \"%s\" of server \"%s\" is unavailable, retrying: %s",
											  kafka_registry_url_for_message(registry->url),
											  registry->server_name, detail));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(backoff_ms, left), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		backoff_ms = Min(backoff_ms * 2, (long) REGISTRY_MAX_BACKOFF_MS);
	}

	if (response->curl_code != CURLE_OK)
	{
		char	   *detail = pstrdup(response->curl_error);
		bool		tls = response->curl_code != CURLE_FAILED_INIT &&
			response->curl_code != CURLE_UNSUPPORTED_PROTOCOL &&
			response->curl_code != CURLE_URL_MALFORMAT &&
			response->curl_code != CURLE_TOO_MANY_REDIRECTS;

		free(response->data);
		response->data = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not connect to schema registry \"%s\" of server \"%s\"",
						kafka_registry_url_for_message(registry->url),
						registry->server_name),
				 errdetail("%s", detail),
				 tls ? errhint("The registry's TLS certificate must be signed by a CA in schema_registry_ca_location (or the system's CA store) and name its host.") : 0));
	}

	if (response->status == 401 || response->status == 403)
	{
		free(response->data);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("schema registry \"%s\" of server \"%s\" refused the request (HTTP status %ld)",
						kafka_registry_url_for_message(registry->url),
						registry->server_name, response->status),
				 errhint("Check schema_registry_user and schema_registry_password in the user mapping.")));
	}
	return response->status;
}

static bool
same_credential(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
same_query(const char *a, const char *b)
{
	return same_credential(a, b);
}

static RegistryCache *
cache_for_registry(KafkaRegistry *registry, const char *query)
{
	ListCell   *lc;
	RegistryCache *cache;
	HASHCTL		ctl;
	MemoryContext oldcontext;

	foreach(lc, registry_caches)
	{
		cache = lfirst(lc);
		if (strcmp(cache->url, registry->url) == 0 &&
			same_credential(cache->user, registry->user) &&
			same_credential(cache->password, registry->password) &&
			same_query(cache->query, query))
			return cache;
	}
	oldcontext = MemoryContextSwitchTo(get_registry_context());
	cache = palloc0(sizeof(RegistryCache));
	cache->url = pstrdup(registry->url);
	cache->user = registry->user ? pstrdup(registry->user) : NULL;
	cache->password = registry->password ? pstrdup(registry->password) : NULL;
	cache->query = query ? pstrdup(query) : NULL;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int32);
	ctl.entrysize = sizeof(SchemaByIdEntry);
	ctl.hcxt = get_registry_context();
	cache->by_id = hash_create("kafka_fdw registry schemas by id", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	registry_caches = lappend(registry_caches, cache);
	MemoryContextSwitchTo(oldcontext);
	return cache;
}

/*
 * A path with the query (e.g. "format=serialized"), if any.
 */
static char *
path_with_query(const char *path, const char *query)
{
	if (query == NULL)
		return pstrdup(path);
	return psprintf("%s?%s", path, query);
}

/*
 * Fills schema from a registry answer {"schema", "schemaType", "id",
 * "version", "references"}, copying into CurrentMemoryContext.  False when
 * the answer has no schema or malformed references, with what is wrong.
 */
static bool
read_schema_answer(json_t *json, KafkaRegistrySchema *schema, char **problem)
{
	const char *text = json_string_value(json_object_get(json, "schema"));
	const char *type = json_string_value(json_object_get(json, "schemaType"));
	json_t	   *id = json_object_get(json, "id");
	json_t	   *version = json_object_get(json, "version");
	json_t	   *references = json_object_get(json, "references");
	size_t		i;

	if (text == NULL)
	{
		*problem = pstrdup(", no \"schema\" in the answer");
		return false;
	}
	if (references != NULL && !json_is_array(references) && !json_is_null(references))
	{
		*problem = pstrdup(", \"references\" is not an array");
		return false;
	}
	schema->nreferences = json_is_array(references) ? (int) json_array_size(references) : 0;
	schema->references = palloc0(sizeof(KafkaSchemaReference) * Max(schema->nreferences, 1));
	for (i = 0; i < (size_t) schema->nreferences; i++)
	{
		json_t	   *reference = json_array_get(references, i);
		const char *name = json_string_value(json_object_get(reference, "name"));
		const char *subject = json_string_value(json_object_get(reference, "subject"));
		json_t	   *ref_version = json_object_get(reference, "version");

		if (name == NULL || subject == NULL || !json_is_integer(ref_version) ||
			json_integer_value(ref_version) < 0 ||
			json_integer_value(ref_version) > PG_INT32_MAX)
		{
			*problem = pstrdup(", a malformed reference in the answer");
			return false;
		}
		schema->references[i].name = pstrdup(name);
		schema->references[i].subject = pstrdup(subject);
		schema->references[i].version = (int32) json_integer_value(ref_version);
	}
	schema->schema = pstrdup(text);
	schema->schema_type = pstrdup(type != NULL ? type : "AVRO");
	schema->id = -1;
	if (json_is_integer(id) && json_integer_value(id) >= 0 &&
		json_integer_value(id) <= PG_INT32_MAX)
		schema->id = (int32) json_integer_value(id);
	schema->version = 0;
	if (json_is_integer(version) && json_integer_value(version) >= 0 &&
		json_integer_value(version) <= PG_INT32_MAX)
		schema->version = (int32) json_integer_value(version);
	schema->error = NULL;
	return true;
}

/*
 * Reads a 200 answer into schema, in CurrentMemoryContext; false with
 * what is wrong (for the HTTP status detail) when it holds none.
 */
static bool
read_schema_response(RegistryResponse *response, KafkaRegistrySchema *schema,
					 char **problem)
{
	json_t	   *volatile json;
	volatile bool ok = false;

	*problem = pstrdup(", no \"schema\" in the answer");
	if (response->data == NULL)
		return false;
	json = json_loadb(response->data, response->len, 0, NULL);
	if (json == NULL)
		return false;
	PG_TRY();
	{
		ok = read_schema_answer(json, schema, problem);
	}
	PG_FINALLY();
	{
		json_decref(json);
	}
	PG_END_TRY();
	return ok;
}

/* A copy of schema in the long-lived registry context. */
static KafkaRegistrySchema
copy_schema(const KafkaRegistrySchema *schema)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(get_registry_context());
	KafkaRegistrySchema copy = *schema;

	copy.schema = schema->schema ? pstrdup(schema->schema) : NULL;
	copy.schema_type = schema->schema_type ? pstrdup(schema->schema_type) : NULL;
	copy.references = palloc0(sizeof(KafkaSchemaReference) *
							  Max(schema->nreferences, 1));
	for (int i = 0; i < schema->nreferences; i++)
	{
		copy.references[i].name = pstrdup(schema->references[i].name);
		copy.references[i].subject = pstrdup(schema->references[i].subject);
		copy.references[i].version = schema->references[i].version;
	}
	copy.error = schema->error ? pstrdup(schema->error) : NULL;
	MemoryContextSwitchTo(oldcontext);
	return copy;
}

/*
 * The schema with this id: from the cache, else from the registry.  An id
 * the registry does not know comes back with schema NULL and error set
 * (and is not cached, so a schema registered later is found).
 */
const KafkaRegistrySchema *
kafka_registry_schema_by_id(KafkaRegistry *registry, int32 id,
							const char *query)
{
	HTAB	   *by_id = cache_for_registry(registry, query)->by_id;
	SchemaByIdEntry *entry;
	KafkaRegistrySchema *schema;
	RegistryResponse response;
	bool		found;
	char		path[64];
	long		status;
	char	   *problem = NULL;
	bool		unknown_id = false;
	bool		have_schema = false;
	char	   *detail = NULL;

	entry = hash_search(by_id, &id, HASH_FIND, NULL);
	if (entry != NULL)
		return &entry->schema;

	snprintf(path, sizeof(path), "/schemas/ids/%d", id);
	status = registry_request(registry, path_with_query(path, query), NULL,
							  &response);
	schema = palloc0(sizeof(KafkaRegistrySchema));
	PG_TRY();
	{
		/*
		 * Only Confluent's "schema not found" (40403) says the message names
		 * an unknown id, a fault of that message.  Any other answer (a bare
		 * 404, other statuses, a 200 that is not a schema) means the URL or
		 * the registry is wrong: every message would fail the same way, so
		 * it is an ERROR for the statement, never a reason to dead-letter.
		 */
		if (status == 404 && registry_error_code(&response) == 40403)
			unknown_id = true;
		else if (status == 200)
			have_schema = read_schema_response(&response, schema, &problem);
		if (!unknown_id && !have_schema)
			detail = psprintf("HTTP status %ld%s%s", status,
							  status == 200 ? problem : "",
							  registry_error_message(&response));
	}
	PG_FINALLY();
	{
		free(response.data);
	}
	PG_END_TRY();

	if (detail != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("schema registry \"%s\" of server \"%s\" gave no schema for id %d",
						kafka_registry_url_for_message(registry->url),
						registry->server_name, id),
				 errdetail("%s", detail),
				 errhint("Check schema_registry_url: it must point at a Confluent-compatible Schema Registry.")));
	schema->id = id;
	if (unknown_id)
	{
		/* not cached: a transient answer must not stick */
		schema->error = psprintf("schema id %d is not in the schema registry", id);
		return schema;
	}
	entry = hash_search(by_id, &id, HASH_ENTER, &found);
	entry->schema = copy_schema(schema);
	return &entry->schema;
}

static char *
subject_path(const char *subject, const char *suffix)
{
	char	   *escaped;
	char	   *path;
	CURL	   *easy = curl_easy_init();

	if (easy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	escaped = curl_easy_escape(easy, subject, (int) strlen(subject));
	curl_easy_cleanup(easy);
	if (escaped == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	path = psprintf("/subjects/%s%s", escaped, suffix);
	curl_free(escaped);
	return path;
}

static int32
response_id(RegistryResponse *response, bool *ok)
{
	json_t	   *json;
	int32		id = 0;

	*ok = false;
	if (response->data == NULL)
		return 0;
	json = json_loadb(response->data, response->len, 0, NULL);
	if (json != NULL && json_is_integer(json_object_get(json, "id")))
	{
		json_int_t	value = json_integer_value(json_object_get(json, "id"));

		if (value >= 0 && value <= PG_INT32_MAX)
		{
			id = (int32) value;
			*ok = true;
		}
	}
	if (json != NULL)
		json_decref(json);
	return id;
}

/*
 * A subject's version ("latest" or a number) into schema, in
 * CurrentMemoryContext; false when the subject or version does not exist
 * or the answer holds no schema (*status says which).
 */
static bool
fetch_subject_version(KafkaRegistry *registry, const char *subject,
					  const char *version, const char *query,
					  KafkaRegistrySchema *schema, long *status,
					  char **problem)
{
	RegistryResponse response;
	char	   *suffix = psprintf("/versions/%s", version);
	bool		ok = false;

	*status = registry_request(registry,
							   path_with_query(subject_path(subject, suffix), query),
							   NULL, &response);
	*problem = pstrdup("");
	PG_TRY();
	{
		if (*status == 200)
			ok = read_schema_response(&response, schema, problem);
		else
			*problem = registry_error_message(&response);
	}
	PG_FINALLY();
	{
		free(response.data);
	}
	PG_END_TRY();
	return ok;
}

/*
 * The latest schema registered under subject (for Avro the reader schema
 * whose field defaults fill columns that older writer schemas lack).
 * Asked once per backend: a newer version is seen by new sessions.
 */
const KafkaRegistrySchema *
kafka_registry_latest(KafkaRegistry *registry, const char *subject,
					  const char *query)
{
	ListCell   *lc;
	LatestEntry *entry;
	KafkaRegistrySchema schema = {0};
	MemoryContext oldcontext;
	long		status;
	char	   *problem;

	foreach(lc, latest_entries)
	{
		entry = lfirst(lc);
		if (strcmp(entry->url, registry->url) == 0 &&
			same_credential(entry->user, registry->user) &&
			same_credential(entry->password, registry->password) &&
			same_query(entry->query, query) &&
			strcmp(entry->subject, subject) == 0)
			return &entry->schema;
	}

	if (!fetch_subject_version(registry, subject, "latest", query, &schema,
							   &status, &problem))
	{
		memset(&schema, 0, sizeof(schema));
		schema.id = -1;
	}
	oldcontext = MemoryContextSwitchTo(get_registry_context());
	entry = palloc(sizeof(LatestEntry));
	entry->url = pstrdup(registry->url);
	entry->user = registry->user ? pstrdup(registry->user) : NULL;
	entry->password = registry->password ? pstrdup(registry->password) : NULL;
	entry->subject = pstrdup(subject);
	entry->query = query ? pstrdup(query) : NULL;
	entry->schema = copy_schema(&schema);
	latest_entries = lappend(latest_entries, entry);
	MemoryContextSwitchTo(oldcontext);
	return &entry->schema;
}

KafkaRegistrySchema *
kafka_registry_subject_version(KafkaRegistry *registry, const char *subject,
							   int32 version, const char *query)
{
	KafkaRegistrySchema *schema = palloc0(sizeof(KafkaRegistrySchema));
	long		status;
	char	   *problem;

	char	   *version_text = version < 0 ? pstrdup("latest") : psprintf("%d", version);

	if (fetch_subject_version(registry, subject, version_text, query,
							  schema, &status, &problem))
		return schema;
	if (status == 404)
		return NULL;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("schema registry \"%s\" of server \"%s\" gave no schema for version %s of subject \"%s\"",
					kafka_registry_url_for_message(registry->url),
					registry->server_name, version_text, subject),
			 errdetail("HTTP status %ld%s", status, problem),
			 errhint("Check schema_registry_url: it must point at a Confluent-compatible Schema Registry.")));
	pg_unreachable();
}

void *
kafka_registry_parsed(KafkaRegistry *registry, const KafkaRegistrySchema *schema,
					  const char *schema_type, KafkaRegistryParse parse,
					  char **error)
{
	KafkaRegistrySchema *entry = (KafkaRegistrySchema *) schema;
	MemoryContext oldcontext;
	void	   *parsed;

	if (schema->parsed != NULL)
		return schema->parsed;
	if (schema->schema == NULL)
	{
		*error = pstrdup(schema->error ? schema->error : "no schema");
		return NULL;
	}
	if (strcmp(schema->schema_type, schema_type) != 0)
	{
		*error = psprintf("schema id %d is a %.20s schema, not %s",
						  schema->id, schema->schema_type, schema_type);
		return NULL;
	}
	oldcontext = MemoryContextSwitchTo(get_registry_context());
	parsed = parse(registry, schema, error);
	MemoryContextSwitchTo(oldcontext);
	entry->parsed = parsed;
	return parsed;
}

List *
kafka_registry_subjects(KafkaRegistry *registry)
{
	RegistryResponse response;
	long		status;
	json_t	   *volatile json = NULL;
	List	   *volatile subjects = NIL;
	volatile bool ok = false;

	status = registry_request(registry, "/subjects", NULL, &response);
	PG_TRY();
	{
		if (status == 200 && response.data != NULL)
			json = json_loadb(response.data, response.len, 0, NULL);
		if (json_is_array(json))
		{
			size_t		i;

			ok = true;
			for (i = 0; i < json_array_size(json); i++)
			{
				const char *subject = json_string_value(json_array_get(json, i));

				if (subject == NULL)
				{
					ok = false;
					break;
				}
				subjects = lappend(subjects, pstrdup(subject));
			}
		}
	}
	PG_FINALLY();
	{
		if (json != NULL)
			json_decref(json);
	}
	PG_END_TRY();
	if (!ok)
	{
		char	   *message = registry_error_message(&response);

		free(response.data);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("schema registry \"%s\" of server \"%s\" gave no list of subjects",
						kafka_registry_url_for_message(registry->url),
						registry->server_name),
				 errdetail("HTTP status %ld%s%s", status,
						   status == 200 ? ", not an array of names" : "",
						   message),
				 errhint("Check schema_registry_url: it must point at a Confluent-compatible Schema Registry.")));
	}
	free(response.data);
	return subjects;
}

/* The body of a registration: {"schema", "schemaType", "references"}. */
static char *
registration_body(const char *subject, const char *schema,
				  const char *schema_type,
				  const KafkaSchemaReference *references, int nreferences)
{
	json_t	   *body_json = json_pack("{s:s}", "schema", schema);
	char	   *body_text;
	char	   *body;
	bool		ok = body_json != NULL;

	if (ok && schema_type != NULL && strcmp(schema_type, "AVRO") != 0)
		ok = json_object_set_new(body_json, "schemaType",
								 json_string(schema_type)) == 0;
	if (ok && nreferences > 0)
	{
		json_t	   *array = json_array();

		ok = array != NULL &&
			json_object_set_new(body_json, "references", array) == 0;
		for (int i = 0; ok && i < nreferences; i++)
			ok = json_array_append_new(array,
									   json_pack("{s:s, s:s, s:i}",
												 "name", references[i].name,
												 "subject", references[i].subject,
												 "version", (int) references[i].version)) == 0;
	}
	if (!ok)
	{
		if (body_json != NULL)
			json_decref(body_json);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schema for subject \"%s\" cannot be sent to the schema registry",
						subject)));
	}
	body_text = json_dumps(body_json, JSON_COMPACT);
	json_decref(body_json);
	if (body_text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	body = pstrdup(body_text);
	free(body_text);
	return body;
}

/*
 * The id of schema under subject: looked up first (enough with read-only
 * credentials when the schema exists), registered otherwise.  Cached per
 * backend.
 */
int32
kafka_registry_register(KafkaRegistry *registry, const char *subject,
						const char *schema, const char *schema_type,
						const KafkaSchemaReference *references,
						int nreferences)
{
	ListCell   *lc;
	char	   *body;
	RegistryResponse response;
	long		status;
	int32		id;
	bool		ok;
	SubjectEntry *entry;
	MemoryContext oldcontext;

	body = registration_body(subject, schema, schema_type, references,
							 nreferences);
	foreach(lc, subject_entries)
	{
		entry = lfirst(lc);
		if (strcmp(entry->url, registry->url) == 0 &&
			same_credential(entry->user, registry->user) &&
			same_credential(entry->password, registry->password) &&
			strcmp(entry->subject, subject) == 0 &&
			strcmp(entry->body, body) == 0)
			return entry->id;
	}

	status = registry_request(registry, subject_path(subject, ""), body, &response);
	id = response_id(&response, &ok);
	free(response.data);
	if (status != 200 || !ok)
	{
		status = registry_request(registry, subject_path(subject, "/versions"),
								  body, &response);
		id = response_id(&response, &ok);
		if (status != 200 || !ok)
		{
			char	   *message = registry_error_message(&response);
			int			code = registry_error_code(&response);

			free(response.data);
			ereport(ERROR,
					(errcode(code == 409 || status == 409 ?
							 ERRCODE_INVALID_PARAMETER_VALUE :
							 ERRCODE_FDW_ERROR),
					 errmsg("schema registry \"%s\" did not register the schema for subject \"%s\" (HTTP status %ld%s)",
							kafka_registry_url_for_message(registry->url),
							subject, status, message)));
		}
		free(response.data);
	}

	oldcontext = MemoryContextSwitchTo(get_registry_context());
	entry = palloc(sizeof(SubjectEntry));
	entry->url = pstrdup(registry->url);
	entry->user = registry->user ? pstrdup(registry->user) : NULL;
	entry->password = registry->password ? pstrdup(registry->password) : NULL;
	entry->subject = pstrdup(subject);
	/* the whole body: the same schema with other references is another */
	entry->body = pstrdup(body);
	entry->id = id;
	subject_entries = lappend(subject_entries, entry);
	MemoryContextSwitchTo(oldcontext);
	return id;
}
