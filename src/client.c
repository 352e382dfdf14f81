/*-------------------------------------------------------------------------
 *
 * client.c
 *	  The one librdkafka wrapper.
 *
 * Rules this file enforces for the whole extension:
 * - librdkafka threads never call into PostgreSQL: logs and errors are
 *   routed to a queue (log.queue) and drained here, in the backend.
 * - Every wait is sliced (<= 100 ms) and interruptible.  librdkafka's
 *   synchronous calls (metadata, offsets-for-times) run on a helper thread
 *   that only calls librdkafka; the backend waits for it in slices and may
 *   abandon it on cancel: whoever finishes last frees the shared state.
 * - A handle is tied to a memory context, so an ERROR frees it.
 * - Properties the extension owns are applied last and cannot be overridden.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "utils/memutils.h"

#include "client.h"

/*
 * Everything librdkafka-side of a client, malloc'd and shared with helper
 * threads; the last reference tears it down.  Teardown stops every
 * consume-started partition and destroys topics and queues before the
 * handle: rd_kafka_destroy waits for as long as anything still references a
 * broker, which with a broker down can be forever.  So teardown never runs in
 * the backend: it goes to a detached thread.
 */
typedef struct StartedPartition
{
	rd_kafka_topic_t *rkt;
	int32_t		partition;
} StartedPartition;

struct KafkaClientCore
{
	rd_kafka_t *rk;
	int			refcount;		/* __atomic */
	rd_kafka_queue_t *main_queue;
	rd_kafka_topic_t **topics;
	int			ntopics;
	rd_kafka_queue_t **queues;
	int			nqueues;
	StartedPartition *started;
	int			nstarted;
};

typedef enum JobKind
{
	JOB_METADATA,
	JOB_OFFSETS_FOR_TIMES,
	JOB_TXN_INIT,
	JOB_TXN_COMMIT,
	JOB_TXN_ABORT,
	JOB_TXN_SEND_OFFSETS,
	JOB_GROUP_OFFSETS,
	JOB_GROUP_COMMIT
} JobKind;

enum
{
	JOB_RUNNING = 0,
	JOB_DONE = 1,
	JOB_ABANDONED = 2
};

typedef struct KafkaJob
{
	JobKind		kind;
	KafkaClientCore *core;
	int			timeout_ms;
	int			state;			/* __atomic */
	rd_kafka_resp_err_t err;
	rd_kafka_topic_t *topic;	/* metadata of this topic only, or NULL */
	const struct rd_kafka_metadata *metadata;
	rd_kafka_topic_partition_list_t *partitions;
	char	   *group;			/* malloc'd: send offsets, group offsets */
	rd_kafka_error_t *error;	/* transactions */
} KafkaJob;

static void *
core_teardown(void *arg)
{
	KafkaClientCore *core = arg;
	int			i;

	for (i = 0; i < core->nstarted; i++)
		rd_kafka_consume_stop(core->started[i].rkt, core->started[i].partition);
	for (i = 0; i < core->ntopics; i++)
		rd_kafka_topic_destroy(core->topics[i]);
	for (i = 0; i < core->nqueues; i++)
		rd_kafka_queue_destroy(core->queues[i]);
	rd_kafka_queue_destroy(core->main_queue);
	rd_kafka_destroy(core->rk);
	free(core->started);
	free(core->topics);
	free(core->queues);
	free(core);
	/* give the fetch buffers back to the OS, not to idle arenas */
	malloc_trim(0);
	return NULL;
}

/*
 * Start a thread that never receives the backend's signals: detached, or
 * joinable through *joinable.  Returns pthread_create's result.
 */
int
kafka_start_thread(void *(*fn) (void *), void *arg, pthread_t *joinable)
{
	pthread_t	thread;
	pthread_attr_t attr;
	sigset_t	all,
				old;
	int			rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	if (joinable == NULL)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(joinable ? joinable : &thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* in_helper: called from a helper thread, which may tear down inline */
static void
core_release(KafkaClientCore *core, bool in_helper)
{
	if (__atomic_sub_fetch(&core->refcount, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (in_helper || kafka_start_thread(core_teardown, core, NULL) != 0)
		core_teardown(core);
}

/* Append to a malloc'd array, growing it by doubling. */
static void *
grow_array(void *array, int count, size_t elem_size)
{
	void	   *grown;

	if (count & (count - 1))
		return array;			/* not a power of two: room remains */
	grown = realloc(array, (count ? count * 2 : 4) * elem_size);
	if (grown == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return grown;
}

static void
job_free(KafkaJob *job)
{
	if (job->metadata)
		rd_kafka_metadata_destroy(job->metadata);
	if (job->partitions)
		rd_kafka_topic_partition_list_destroy(job->partitions);
	if (job->error)
		rd_kafka_error_destroy(job->error);
	free(job->group);
	core_release(job->core, true);
	free(job);
}

/*
 * The offsets committed for job->group on job->partitions (offset
 * RD_KAFKA_OFFSET_INVALID where none), through the admin API on the job's
 * own queue.  Helper thread.
 */
static rd_kafka_resp_err_t
group_offsets(KafkaJob *job)
{
	rd_kafka_queue_t *queue = rd_kafka_queue_new(job->core->rk);
	rd_kafka_ListConsumerGroupOffsets_t *request =
		rd_kafka_ListConsumerGroupOffsets_new(job->group, job->partitions);
	rd_kafka_AdminOptions_t *options =
		rd_kafka_AdminOptions_new(job->core->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	rd_kafka_event_t *ev;
	rd_kafka_resp_err_t err;

	rd_kafka_AdminOptions_set_request_timeout(options, job->timeout_ms, NULL, 0);
	rd_kafka_ListConsumerGroupOffsets(job->core->rk, &request, 1, options, queue);
	rd_kafka_ListConsumerGroupOffsets_destroy(request);
	rd_kafka_AdminOptions_destroy(options);
	ev = rd_kafka_queue_poll(queue, job->timeout_ms + 1000);
	if (ev == NULL)
		err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	else if ((err = rd_kafka_event_error(ev)) == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		const rd_kafka_ListConsumerGroupOffsets_result_t *result =
			rd_kafka_event_ListConsumerGroupOffsets_result(ev);
		size_t		ngroups = 0;
		const rd_kafka_group_result_t **groups =
			rd_kafka_ListConsumerGroupOffsets_result_groups(result, &ngroups);

		if (ngroups != 1)
			err = RD_KAFKA_RESP_ERR__BAD_MSG;
		else if (rd_kafka_group_result_error(groups[0]) != NULL)
			err = rd_kafka_error_code(rd_kafka_group_result_error(groups[0]));
		else
		{
			const rd_kafka_topic_partition_list_t *found =
				rd_kafka_group_result_partitions(groups[0]);
			int			i;

			for (i = 0; i < job->partitions->cnt; i++)
			{
				rd_kafka_topic_partition_t *want = &job->partitions->elems[i];
				rd_kafka_topic_partition_t *got = found ?
					rd_kafka_topic_partition_list_find(found, want->topic, want->partition) : NULL;

				want->offset = got && got->err == RD_KAFKA_RESP_ERR_NO_ERROR ?
					got->offset : RD_KAFKA_OFFSET_INVALID;
				free(want->metadata);
				want->metadata = NULL;
				want->metadata_size = 0;
				if (got && got->err == RD_KAFKA_RESP_ERR_NO_ERROR && got->metadata_size > 0 &&
					(want->metadata = malloc(got->metadata_size)) != NULL)
				{
					memcpy(want->metadata, got->metadata, got->metadata_size);
					want->metadata_size = got->metadata_size;
				}
			}
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(queue);
	return err;
}

/*
 * Commit job->partitions' offsets for job->group outside any transaction:
 * the request's error, else the group's, else the first partition's; what
 * it says in message (when not NULL).  Helper thread.
 */
static rd_kafka_resp_err_t
group_commit_detail(KafkaJob *job, char *message, size_t size)
{
	rd_kafka_queue_t *queue = rd_kafka_queue_new(job->core->rk);
	rd_kafka_AlterConsumerGroupOffsets_t *request =
		rd_kafka_AlterConsumerGroupOffsets_new(job->group, job->partitions);
	rd_kafka_AdminOptions_t *options =
		rd_kafka_AdminOptions_new(job->core->rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
	rd_kafka_event_t *ev;
	rd_kafka_resp_err_t err;

	if (message)
		message[0] = '\0';
	rd_kafka_AdminOptions_set_request_timeout(options, job->timeout_ms, NULL, 0);
	rd_kafka_AlterConsumerGroupOffsets(job->core->rk, &request, 1, options, queue);
	rd_kafka_AlterConsumerGroupOffsets_destroy(request);
	rd_kafka_AdminOptions_destroy(options);
	ev = rd_kafka_queue_poll(queue, job->timeout_ms + 1000);
	if (ev == NULL)
		err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	else if ((err = rd_kafka_event_error(ev)) != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		if (message && rd_kafka_event_error_string(ev))
			strlcpy(message, rd_kafka_event_error_string(ev), size);
	}
	else
	{
		size_t		ngroups = 0;
		const rd_kafka_group_result_t **groups =
			rd_kafka_AlterConsumerGroupOffsets_result_groups(rd_kafka_event_AlterConsumerGroupOffsets_result(ev),
															 &ngroups);

		if (ngroups == 1 && rd_kafka_group_result_error(groups[0]) != NULL)
		{
			const rd_kafka_error_t *error = rd_kafka_group_result_error(groups[0]);

			err = rd_kafka_error_code(error);
			if (message)
				strlcpy(message, rd_kafka_error_string(error), size);
		}
		else if (ngroups == 1 && rd_kafka_group_result_partitions(groups[0]) != NULL)
		{
			const rd_kafka_topic_partition_list_t *done =
				rd_kafka_group_result_partitions(groups[0]);
			int			i;

			for (i = 0; i < done->cnt; i++)
				if (done->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
				{
					err = done->elems[i].err;
					if (message)
						snprintf(message, size, "%s[%d]: %s", done->elems[i].topic,
								 done->elems[i].partition, rd_kafka_err2str(err));
					break;
				}
		}
	}
	if (message && err != RD_KAFKA_RESP_ERR_NO_ERROR && message[0] == '\0')
		strlcpy(message, rd_kafka_err2str(err), size);
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(queue);
	return err;
}

static rd_kafka_resp_err_t
group_commit(KafkaJob *job)
{
	return group_commit_detail(job, NULL, 0);
}

/* Helper thread: librdkafka calls only; no palloc, no elog, no signals. */
static void *
job_thread(void *arg)
{
	KafkaJob   *job = arg;
	int			expected = JOB_RUNNING;

	switch (job->kind)
	{
		case JOB_METADATA:
			job->err = rd_kafka_metadata(job->core->rk, job->topic == NULL, job->topic,
										 &job->metadata, job->timeout_ms);
			break;
		case JOB_OFFSETS_FOR_TIMES:
			job->err = rd_kafka_offsets_for_times(job->core->rk, job->partitions,
												  job->timeout_ms);
			break;
		case JOB_TXN_INIT:
			job->error = rd_kafka_init_transactions(job->core->rk, job->timeout_ms);
			break;
		case JOB_TXN_COMMIT:
			job->error = rd_kafka_commit_transaction(job->core->rk, job->timeout_ms);
			break;
		case JOB_TXN_ABORT:
			job->error = rd_kafka_abort_transaction(job->core->rk, job->timeout_ms);
			break;
		case JOB_TXN_SEND_OFFSETS:
			{
				rd_kafka_consumer_group_metadata_t *group =
					rd_kafka_consumer_group_metadata_new(job->group);

				job->error = rd_kafka_send_offsets_to_transaction(job->core->rk,
																  job->partitions, group,
																  job->timeout_ms);
				rd_kafka_consumer_group_metadata_destroy(group);
				break;
			}
		case JOB_GROUP_OFFSETS:
			job->err = group_offsets(job);
			break;
		case JOB_GROUP_COMMIT:
			job->err = group_commit(job);
			break;
	}
	if (!__atomic_compare_exchange_n(&job->state, &expected, JOB_DONE, false,
									 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		job_free(job);			/* the backend gave up on us */
	return NULL;
}

/*
 * Run a job and wait for it in cancellable slices.  On return the job is
 * done and belongs to the caller; on ERROR it is abandoned to the thread.
 */
static void
run_job(KafkaClient *client, KafkaJob *job)
{
	int			rc;

	job->core = client->core;
	__atomic_add_fetch(&client->core->refcount, 1, __ATOMIC_ACQ_REL);
	rc = kafka_start_thread(job_thread, job, NULL);
	if (rc != 0)
	{
		core_release(job->core, false);
		job->core = NULL;
		free(job);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a kafka request thread: %s", strerror(rc))));
	}

	PG_TRY();
	{
		while (__atomic_load_n(&job->state, __ATOMIC_ACQUIRE) == JOB_RUNNING)
			kafka_client_wait(client, 5);
	}
	PG_CATCH();
	{
		int			expected = JOB_RUNNING;

		if (!__atomic_compare_exchange_n(&job->state, &expected, JOB_ABANDONED, false,
										 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			job_free(job);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

char *
kafka_client_scrub(KafkaClient *client, const char *text)
{
	char	   *result = pstrdup(text);
	ListCell   *lc;

	if (client == NULL || client->spec == NULL)
		return result;
	foreach(lc, client->spec->secrets)
	{
		const char *secret = lfirst(lc);
		size_t		len = strlen(secret);
		char	   *hit;

		while (len > 0 && (hit = strstr(result, secret)) != NULL)
		{
			StringInfoData buf;

			initStringInfo(&buf);
			appendBinaryStringInfo(&buf, result, hit - result);
			appendStringInfoString(&buf, "********");
			appendStringInfoString(&buf, hit + len);
			pfree(result);
			result = buf.data;
		}
	}
	return result;
}

static const char *
servers_for_message(KafkaClient *client)
{
	return client->spec->bootstrap_servers;
}

void
kafka_client_error(KafkaClient *client, rd_kafka_resp_err_t err, const char *what)
{
	bool		connection = (err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
							   err == RD_KAFKA_RESP_ERR__TRANSPORT ||
							   err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
							   err == RD_KAFKA_RESP_ERR__RESOLVE);

	if (connection)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not reach kafka brokers \"%s\"%s%s: %s",
						servers_for_message(client),
						what ? " while " : "", what ? what : "",
						rd_kafka_err2str(err)),
				 client->last_error[0] ? errdetail("Last client error: %s", client->last_error) : 0,
				 errhint("Check that the brokers are reachable; the wait is bounded by the server option connect_timeout (%d s).",
						 client->spec->connect_timeout_ms / 1000)));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("kafka error%s%s: %s", what ? " while " : "", what ? what : "",
					rd_kafka_err2str(err)),
			 client->last_error[0] ? errdetail("Last client error: %s", client->last_error) : 0));
}

static void
remember_error(KafkaClient *client, const char *text)
{
	char	   *scrubbed = kafka_client_scrub(client, text);

	strlcpy(client->last_error, scrubbed, sizeof(client->last_error));
	pfree(scrubbed);
}

/* Handle one event and destroy it; may ereport (after destroying it). */
static void
handle_event(KafkaClient *client, rd_kafka_event_t *ev)
{
	switch (rd_kafka_event_type(ev))
	{
		case RD_KAFKA_EVENT_LOG:
			{
				const char *fac;
				const char *str;
				int			level;

				rd_kafka_event_log(ev, &fac, &str, &level);
				/* configuration dumps may hold secrets librdkafka doesn't redact */
				if (strcmp(fac, "CONF") != 0 && strcmp(fac, "CONFWARN") != 0)
				{
					char	   *scrubbed = kafka_client_scrub(client, str);

					if (level <= 4)
						strlcpy(client->last_error, scrubbed, sizeof(client->last_error));
					ereport(DEBUG1, (errmsg_internal("librdkafka %s: %s", fac, scrubbed)));
					pfree(scrubbed);
				}
				break;
			}
		case RD_KAFKA_EVENT_DR:
			{
				const rd_kafka_message_t *message;

				while ((message = rd_kafka_event_message_next(ev)) != NULL)
				{
					if (client->delivery_report)
						client->delivery_report(message, client->delivery_report_arg);
				}
				break;
			}
		case RD_KAFKA_EVENT_ERROR:
			{
				rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
				bool		fatal = rd_kafka_event_error_is_fatal(ev);

				remember_error(client, rd_kafka_event_error_string(ev));
				if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
					client->brokers_down = true;
				ereport(DEBUG1, (errmsg_internal("librdkafka error: %s", client->last_error)));
				if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
					err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
					err == RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM ||
					err == RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE)
				{
					rd_kafka_event_destroy(ev);
					ereport(ERROR,
							(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
							 errmsg("kafka authentication with mechanism %s failed for brokers \"%s\"",
									client->spec->sasl_mechanism ? client->spec->sasl_mechanism : "(none)",
									servers_for_message(client)),
							 errdetail("%s", client->last_error)));
				}
				if (fatal)
				{
					rd_kafka_event_destroy(ev);
					ereport(ERROR,
							(errcode(ERRCODE_FDW_ERROR),
							 errmsg("fatal kafka client error: %s", client->last_error)));
				}
				break;
			}
		default:
			break;
	}
	rd_kafka_event_destroy(ev);
}

void
kafka_client_poll_events(KafkaClient *client)
{
	rd_kafka_event_t *ev;

	if (client->closed)
		return;
	while ((ev = rd_kafka_queue_poll(client->main_queue, 0)) != NULL)
		handle_event(client, ev);
}

void
kafka_client_wait_events(KafkaClient *client, int timeout_ms)
{
	rd_kafka_event_t *ev;

	if (timeout_ms > 100)
		timeout_ms = 100;
	if (!client->closed)
	{
		/* librdkafka's own wait: it returns as soon as an event is queued */
		ev = rd_kafka_queue_poll(client->main_queue, timeout_ms);
		if (ev != NULL)
			handle_event(client, ev);
		kafka_client_poll_events(client);
	}
	if (!PostmasterIsAlive())
		proc_exit(1);
	CHECK_FOR_INTERRUPTS();
}

void
kafka_client_purge(KafkaClient *client)
{
	if (client->closed || client->role != KAFKA_CLIENT_PRODUCER)
		return;
	(void) rd_kafka_purge(client->rk, RD_KAFKA_PURGE_F_QUEUE |
						  RD_KAFKA_PURGE_F_INFLIGHT |
						  RD_KAFKA_PURGE_F_NON_BLOCKING);
}

void
kafka_client_wait(KafkaClient *client, int timeout_ms)
{
	if (timeout_ms > 100)
		timeout_ms = 100;
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 timeout_ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	kafka_client_poll_events(client);
}

static void
client_close_internal(KafkaClient *client)
{
	if (client->closed)
		return;
	client->closed = true;
	client->rk = NULL;
	core_release(client->core, false);
}

static void
client_context_callback(void *arg)
{
	client_close_internal((KafkaClient *) arg);
}

void
kafka_client_close(KafkaClient *client)
{
	client_close_internal(client);
}

static void
conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, bool secret)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for librdkafka property \"%s\"", name),
				 secret ? 0 : errdetail("%s", errstr)));
	}
}

/* librdkafka's producer queue, unless message.max.bytes needs more */
#define PRODUCER_QUEUE_KB	4096

/* Build a configuration; the caller owns (and must destroy or hand over) it. */
static rd_kafka_conf_t *
build_conf(KafkaConnectionSpec *spec, KafkaClientRole role)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ListCell   *lc;
	char		buf[32];

	/* defaults a server or call may override */
	conf_set(conf, "client.id", "kafka_fdw", false);
	conf_set(conf, "reconnect.backoff.ms", "50", false);
	conf_set(conf, "reconnect.backoff.max.ms", "1000", false);
	snprintf(buf, sizeof(buf), "%d", spec->connect_timeout_ms);
	conf_set(conf, "socket.connection.setup.timeout.ms", buf, false);
	if (role == KAFKA_CLIENT_CONSUMER)
	{
		conf_set(conf, "fetch.wait.max.ms", "100", false);
		conf_set(conf, "fetch.error.backoff.ms", "100", false);
	}
	else
	{
		/*
		 * The transaction's held messages wait in our buffer, not here.  A
		 * small queue keeps the messages being delivered in the CPU caches
		 * (COMMIT of a million small messages took ~15% longer through a 64
		 * MB queue); it still holds two of the largest messages allowed.
		 */
		const char *max_message = kafka_spec_get_property(spec, "message.max.bytes");
		int64		queue_kb = max_message ? 2 * (strtoll(max_message, NULL, 10) / 1024 + 1) : 0;

		snprintf(buf, sizeof(buf), INT64_FORMAT, Max(queue_kb, PRODUCER_QUEUE_KB));
		conf_set(conf, "queue.buffering.max.kbytes", buf, false);
		snprintf(buf, sizeof(buf), "%d", spec->message_timeout_ms);
		conf_set(conf, "message.timeout.ms", buf, false);
		/* a missing topic is reported as such, within the message timeout */
		snprintf(buf, sizeof(buf), "%d", Min(spec->message_timeout_ms / 2, 30000));
		conf_set(conf, "topic.metadata.propagation.max.ms", buf, false);
	}

	foreach(lc, spec->properties)
	{
		DefElem    *def = lfirst(lc);

		conf_set(conf, def->defname, strVal(def->arg), kafka_property_is_secret(def->defname));
	}

	if (spec->security_protocol)
		conf_set(conf, "security.protocol", spec->security_protocol, false);
	if (spec->sasl_mechanism)
		conf_set(conf, "sasl.mechanisms", spec->sasl_mechanism, false);
	if (spec->sasl_username)
		conf_set(conf, "sasl.username", spec->sasl_username, false);
	if (spec->sasl_password)
		conf_set(conf, "sasl.password", spec->sasl_password, true);

	/* owned by the extension: last, so nothing above can change them */
	conf_set(conf, "bootstrap.servers", spec->bootstrap_servers, false);
	conf_set(conf, "log.queue", "true", false);
	if (role == KAFKA_CLIENT_CONSUMER)
	{
		conf_set(conf, "enable.auto.commit", "false", false);
		conf_set(conf, "enable.auto.offset.store", "false", false);
		conf_set(conf, "auto.offset.reset", "error", false);
		conf_set(conf, "isolation.level", "read_committed", false);
		conf_set(conf, "enable.partition.eof", "true", false);
		conf_set(conf, "allow.auto.create.topics", "false", false);
	}
	else
	{
		conf_set(conf, "enable.idempotence", "true", false);
		if (spec->transactional_id)
		{
			conf_set(conf, "transactional.id", spec->transactional_id, false);
			snprintf(buf, sizeof(buf), "%d", spec->transaction_timeout_ms);
			conf_set(conf, "transaction.timeout.ms", buf, false);
		}
	}
	rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_LOG | RD_KAFKA_EVENT_ERROR |
							 (role == KAFKA_CLIENT_PRODUCER ? RD_KAFKA_EVENT_DR : 0));
	return conf;
}

List *
kafka_client_config_dump(KafkaConnectionSpec *spec, KafkaClientRole role)
{
	rd_kafka_conf_t *conf = build_conf(spec, role);
	size_t		count;
	const char **dump = rd_kafka_conf_dump(conf, &count);
	List	   *result = NIL;
	size_t		i;

	for (i = 0; i + 1 < count; i += 2)
	{
		const char *value = dump[i + 1];

		if (kafka_property_is_secret(dump[i]))
			value = "********";
		result = lappend(result, list_make2(pstrdup(dump[i]), pstrdup(value)));
	}
	rd_kafka_conf_dump_free(dump, count);
	rd_kafka_conf_destroy(conf);
	return result;
}

KafkaClient *
kafka_client_create(KafkaConnectionSpec *spec, KafkaClientRole role)
{
	rd_kafka_conf_t *conf = build_conf(spec, role);
	KafkaClient *client;
	KafkaClientCore *core;
	rd_kafka_t *rk;
	char		errstr[512];

	core = malloc(sizeof(KafkaClientCore));
	if (core == NULL)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	rk = rd_kafka_new(role == KAFKA_CLIENT_CONSUMER ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER,
					  conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		free(core);
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not create kafka client: %s", errstr)));
	}
	memset(core, 0, sizeof(KafkaClientCore));
	core->rk = rk;
	core->refcount = 1;
	core->main_queue = rd_kafka_queue_get_main(rk);

	client = palloc0(sizeof(KafkaClient));
	client->rk = rk;
	client->role = role;
	client->spec = spec;
	client->core = core;
	client->main_queue = core->main_queue;
	rd_kafka_set_log_queue(rk, client->main_queue);
	client->callback.func = client_context_callback;
	client->callback.arg = client;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &client->callback);
	return client;
}

rd_kafka_topic_t *
kafka_client_topic(KafkaClient *client, const char *topic)
{
	KafkaClientCore *core = client->core;
	rd_kafka_topic_t *rkt;

	core->topics = grow_array(core->topics, core->ntopics, sizeof(rd_kafka_topic_t *));
	rkt = rd_kafka_topic_new(client->rk, topic, NULL);
	if (rkt == NULL)
		kafka_client_error(client, rd_kafka_last_error(), "opening a topic");
	core->topics[core->ntopics++] = rkt;
	return rkt;
}

rd_kafka_queue_t *
kafka_client_new_queue(KafkaClient *client)
{
	KafkaClientCore *core = client->core;

	core->queues = grow_array(core->queues, core->nqueues, sizeof(rd_kafka_queue_t *));
	core->queues[core->nqueues] = rd_kafka_queue_new(client->rk);
	return core->queues[core->nqueues++];
}

void
kafka_client_consume_start(KafkaClient *client, rd_kafka_topic_t *rkt,
						   int32 partition, int64 offset, rd_kafka_queue_t *queue)
{
	KafkaClientCore *core = client->core;

	core->started = grow_array(core->started, core->nstarted, sizeof(StartedPartition));
	if (rd_kafka_consume_start_queue(rkt, partition, offset, queue) == -1)
		kafka_client_error(client, rd_kafka_last_error(), "starting to consume");
	core->started[core->nstarted].rkt = rkt;
	core->started[core->nstarted].partition = partition;
	core->nstarted++;
}

const struct rd_kafka_metadata *
kafka_client_metadata(KafkaClient *client)
{
	KafkaJob   *job = calloc(1, sizeof(KafkaJob));
	const struct rd_kafka_metadata *md;

	if (job == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	job->kind = JOB_METADATA;
	job->timeout_ms = client->spec->connect_timeout_ms;
	run_job(client, job);
	if (job->err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		rd_kafka_resp_err_t err = job->err;

		job_free(job);
		kafka_client_error(client, err, "fetching metadata");
	}
	md = job->metadata;
	job->metadata = NULL;
	job_free(job);
	return md;
}

/*
 * The number of partitions of a topic of the client (kafka_client_topic), or
 * -1 if the brokers could not tell within timeout_ms or have no such topic.
 * Only a cancel raises an error.
 */
int
kafka_client_partition_count(KafkaClient *client, rd_kafka_topic_t *topic,
							 int timeout_ms)
{
	KafkaJob   *job = calloc(1, sizeof(KafkaJob));
	int			count = -1;

	if (job == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	job->kind = JOB_METADATA;
	job->topic = topic;
	job->timeout_ms = timeout_ms;
	run_job(client, job);
	if (job->err == RD_KAFKA_RESP_ERR_NO_ERROR && job->metadata->topic_cnt == 1 &&
		job->metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
		job->metadata->topics[0].partition_cnt > 0)
		count = job->metadata->topics[0].partition_cnt;
	job_free(job);
	return count;
}

/*
 * Wake the fetchers: librdkafka 2.0 takes a partition off its broker's fetch
 * list when the consumer queue is full and looks at it again only when the
 * broker thread wakes, on an operation or once a second.  A consumer that
 * drains the queue quickly would wait up to that second.  Any request queued
 * to a broker wakes its thread, so an offsets lookup nobody waits for (one
 * ListOffsets per leader) puts the partitions back to fetching at once.
 */
void
kafka_client_wake_fetchers(KafkaClient *client,
						   rd_kafka_topic_partition_list_t *partitions)
{
	KafkaJob   *job = calloc(1, sizeof(KafkaJob));
	int			i;

	if (job == NULL)
		return;					/* an optimization only */
	job->kind = JOB_OFFSETS_FOR_TIMES;
	job->timeout_ms = 1000;
	job->partitions = rd_kafka_topic_partition_list_copy(partitions);
	for (i = 0; i < job->partitions->cnt; i++)
		job->partitions->elems[i].offset = RD_KAFKA_OFFSET_END;
	job->state = JOB_ABANDONED; /* the thread frees it */
	job->core = client->core;
	__atomic_add_fetch(&client->core->refcount, 1, __ATOMIC_ACQ_REL);
	if (kafka_start_thread(job_thread, job, NULL) != 0)
	{
		job->state = JOB_RUNNING;
		job_free(job);
	}
}

void
kafka_client_offsets_for_times(KafkaClient *client,
							   rd_kafka_topic_partition_list_t *partitions)
{
	KafkaJob   *job = calloc(1, sizeof(KafkaJob));
	int			i;

	if (job == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	job->kind = JOB_OFFSETS_FOR_TIMES;
	job->timeout_ms = client->spec->connect_timeout_ms;
	/* the thread works on its own copy, which it may outlive us with */
	job->partitions = rd_kafka_topic_partition_list_copy(partitions);
	run_job(client, job);
	if (job->err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		rd_kafka_resp_err_t err = job->err;

		job_free(job);
		kafka_client_error(client, err, "looking up offsets");
	}
	for (i = 0; i < partitions->cnt; i++)
	{
		partitions->elems[i].offset = job->partitions->elems[i].offset;
		partitions->elems[i].err = job->partitions->elems[i].err;
	}
	job_free(job);
}

/*
 * The high watermarks of partitions (offset fields in: ignored; out: the
 * next offset to be written, or -1 with err set for a partition without an
 * answer), one ListOffsets request per leader, within timeout_ms.  false
 * when the brokers did not answer in time; only a cancel raises an error.
 */
bool
kafka_client_high_watermarks(KafkaClient *client,
							 rd_kafka_topic_partition_list_t *partitions,
							 int timeout_ms)
{
	KafkaJob   *job = calloc(1, sizeof(KafkaJob));
	bool		ok;
	int			i;

	if (job == NULL)
		return false;
	job->kind = JOB_OFFSETS_FOR_TIMES;
	job->timeout_ms = timeout_ms;
	job->partitions = rd_kafka_topic_partition_list_copy(partitions);
	for (i = 0; i < job->partitions->cnt; i++)
		job->partitions->elems[i].offset = RD_KAFKA_OFFSET_END;
	run_job(client, job);
	ok = job->err == RD_KAFKA_RESP_ERR_NO_ERROR;
	for (i = 0; i < partitions->cnt; i++)
	{
		partitions->elems[i].offset = ok ? job->partitions->elems[i].offset : -1;
		partitions->elems[i].err = ok ? job->partitions->elems[i].err : job->err;
	}
	job_free(job);
	return ok;
}

/*
 * Transactions of a transactional producer (kafka_client_create with
 * spec->transactional_id), run on a helper thread while the backend waits
 * in cancellable slices and serves delivery reports.  A failure is
 * returned, classified, in *result (its message scrubbed); nothing throws
 * but a cancel.
 */
/*
 * A transaction call's outcome in *result: true for no error, else false
 * with error (which this destroys) classified and its message scrubbed.
 */
static bool
txn_result(KafkaClient *client, rd_kafka_error_t *error, KafkaTxnResult *result)
{
	char	   *scrubbed;

	memset(result, 0, sizeof(*result));
	if (error == NULL)
		return true;
	result->code = rd_kafka_error_code(error);
	result->fatal = rd_kafka_error_is_fatal(error);
	result->abortable = rd_kafka_error_txn_requires_abort(error);
	result->retriable = rd_kafka_error_is_retriable(error);
	scrubbed = kafka_client_scrub(client, rd_kafka_error_string(error));
	strlcpy(result->message, scrubbed, sizeof(result->message));
	pfree(scrubbed);
	rd_kafka_error_destroy(error);
	return false;
}

static bool
run_txn_job(KafkaClient *client, KafkaJob *job, KafkaTxnResult *result)
{
	rd_kafka_error_t *error;

	run_job(client, job);
	error = job->error;
	job->error = NULL;
	job_free(job);
	return txn_result(client, error, result);
}

static KafkaJob *
txn_job(KafkaClient *client, JobKind kind, int timeout_ms)
{
	KafkaJob   *job = calloc(1, sizeof(KafkaJob));

	if (job == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	job->kind = kind;
	job->timeout_ms = timeout_ms;
	return job;
}

bool
kafka_client_init_transactions(KafkaClient *client, int timeout_ms, KafkaTxnResult *result)
{
	return run_txn_job(client, txn_job(client, JOB_TXN_INIT, timeout_ms), result);
}

bool
kafka_client_begin_transaction(KafkaClient *client, KafkaTxnResult *result)
{
	return txn_result(client, rd_kafka_begin_transaction(client->rk), result);
}

bool
kafka_client_send_offsets(KafkaClient *client, const char *group,
						  rd_kafka_topic_partition_list_t *offsets, int timeout_ms,
						  KafkaTxnResult *result)
{
	KafkaJob   *job = txn_job(client, JOB_TXN_SEND_OFFSETS, timeout_ms);

	job->group = strdup(group);
	job->partitions = rd_kafka_topic_partition_list_copy(offsets);
	if (job->group == NULL)
	{
		job_free(job);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	return run_txn_job(client, job, result);
}

bool
kafka_client_commit_transaction(KafkaClient *client, int timeout_ms, KafkaTxnResult *result)
{
	return run_txn_job(client, txn_job(client, JOB_TXN_COMMIT, timeout_ms), result);
}

bool
kafka_client_abort_transaction(KafkaClient *client, int timeout_ms, KafkaTxnResult *result)
{
	return run_txn_job(client, txn_job(client, JOB_TXN_ABORT, timeout_ms), result);
}

/*
 * Run a job on group's offsets over a copy of partitions; the done job (the
 * caller frees it), or an ERROR saying what failed.
 */
static KafkaJob *
run_group_job(KafkaClient *client, JobKind kind, const char *group,
			  rd_kafka_topic_partition_list_t *partitions, const char *what)
{
	KafkaJob   *job = txn_job(client, kind, client->spec->connect_timeout_ms);

	job->group = strdup(group);
	job->partitions = rd_kafka_topic_partition_list_copy(partitions);
	if (job->group == NULL)
	{
		job_free(job);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	run_job(client, job);
	if (job->err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		rd_kafka_resp_err_t err = job->err;

		job_free(job);
		kafka_client_error(client, err, psprintf("%s the offsets of consumer group \"%s\"",
												 what, group));
	}
	return job;
}

void
kafka_client_group_offsets(KafkaClient *client, const char *group,
						   rd_kafka_topic_partition_list_t *partitions)
{
	KafkaJob   *job = run_group_job(client, JOB_GROUP_OFFSETS, group, partitions, "reading");
	int			i;

	for (i = 0; i < partitions->cnt; i++)
	{
		rd_kafka_topic_partition_t *want = &partitions->elems[i];
		rd_kafka_topic_partition_t *got = &job->partitions->elems[i];

		want->offset = got->offset;
		/* hand the metadata over: the list frees it */
		free(want->metadata);
		want->metadata = got->metadata;
		want->metadata_size = got->metadata_size;
		got->metadata = NULL;
		got->metadata_size = 0;
	}
	job_free(job);
}

void
kafka_client_commit_group_offsets(KafkaClient *client, const char *group,
								  rd_kafka_topic_partition_list_t *offsets)
{
	job_free(run_group_job(client, JOB_GROUP_COMMIT, group, offsets, "committing"));
}

/*
 * Group commits nobody waits for (kafka_client_commit_group_offsets_async):
 * malloc'd, shared with the one helper thread that works through them, the
 * last reference frees it.  The thread takes the offsets posted last, so
 * commits are made in order and one posted while another is in flight
 * replaces any still waiting.
 */
struct KafkaGroupCommitter
{
	pthread_mutex_t lock;
	int			refcount;		/* under lock */
	bool		running;		/* a thread works through the posts */
	/* the commit waiting for the thread, or pending NULL */
	KafkaClientCore *core;		/* a reference */
	char	   *group;
	rd_kafka_topic_partition_list_t *pending;
	int			timeout_ms;
	/* the last commit that ended and nobody asked about yet */
	int			outcome;		/* 0: none, 1: committed, -1: failed */
	char		message[256];
};

KafkaGroupCommitter *
kafka_group_committer_create(void)
{
	KafkaGroupCommitter *committer = calloc(1, sizeof(KafkaGroupCommitter));

	if (committer == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	pthread_mutex_init(&committer->lock, NULL);
	committer->refcount = 1;
	return committer;
}

/* Drop what is waiting (the caller holds the lock); the core to release. */
static KafkaClientCore *
committer_take_pending(KafkaGroupCommitter *committer)
{
	KafkaClientCore *core = committer->core;

	if (committer->pending)
		rd_kafka_topic_partition_list_destroy(committer->pending);
	free(committer->group);
	committer->pending = NULL;
	committer->group = NULL;
	committer->core = NULL;
	return core;
}

/* in_helper: as for core_release */
static void
committer_release(KafkaGroupCommitter *committer, bool in_helper)
{
	KafkaClientCore *core;

	pthread_mutex_lock(&committer->lock);
	if (--committer->refcount > 0)
	{
		pthread_mutex_unlock(&committer->lock);
		return;
	}
	core = committer_take_pending(committer);
	pthread_mutex_unlock(&committer->lock);
	if (core)
		core_release(core, in_helper);
	pthread_mutex_destroy(&committer->lock);
	free(committer);
}

void
kafka_group_committer_release(KafkaGroupCommitter *committer)
{
	if (committer)
		committer_release(committer, false);
}

/* Helper thread: commit what is posted until nothing is. */
static void *
committer_thread(void *arg)
{
	KafkaGroupCommitter *committer = arg;

	for (;;)
	{
		KafkaJob	job;
		rd_kafka_resp_err_t err;
		char		message[256];

		pthread_mutex_lock(&committer->lock);
		if (committer->pending == NULL)
		{
			committer->running = false;
			pthread_mutex_unlock(&committer->lock);
			break;
		}
		memset(&job, 0, sizeof(job));
		job.kind = JOB_GROUP_COMMIT;
		job.core = committer->core;
		job.group = committer->group;
		job.partitions = committer->pending;
		job.timeout_ms = committer->timeout_ms;
		committer->core = NULL;
		committer->group = NULL;
		committer->pending = NULL;
		pthread_mutex_unlock(&committer->lock);

		err = group_commit_detail(&job, message, sizeof(message));

		pthread_mutex_lock(&committer->lock);
		committer->outcome = err == RD_KAFKA_RESP_ERR_NO_ERROR ? 1 : -1;
		strlcpy(committer->message, message, sizeof(committer->message));
		pthread_mutex_unlock(&committer->lock);
		free(job.group);
		rd_kafka_topic_partition_list_destroy(job.partitions);
		core_release(job.core, true);
	}
	committer_release(committer, true);
	return NULL;
}

void
kafka_client_commit_group_offsets_async(KafkaClient *client, KafkaGroupCommitter *committer,
										const char *group,
										rd_kafka_topic_partition_list_t *offsets)
{
	rd_kafka_topic_partition_list_t *copy = rd_kafka_topic_partition_list_copy(offsets);
	char	   *name = strdup(group);
	KafkaClientCore *old;
	bool		start;

	if (name == NULL)
	{
		rd_kafka_topic_partition_list_destroy(copy);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	__atomic_add_fetch(&client->core->refcount, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&committer->lock);
	old = committer_take_pending(committer);
	committer->core = client->core;
	committer->group = name;
	committer->pending = copy;
	committer->timeout_ms = client->spec->connect_timeout_ms;
	start = !committer->running;
	if (start)
	{
		committer->running = true;
		committer->refcount++;
	}
	pthread_mutex_unlock(&committer->lock);
	if (old)
		core_release(old, false);
	if (start && kafka_start_thread(committer_thread, committer, NULL) != 0)
	{
		/* the next post tries again; say why this one went nowhere */
		pthread_mutex_lock(&committer->lock);
		committer->running = false;
		committer->refcount--;
		committer->outcome = -1;
		strlcpy(committer->message, "could not start a kafka request thread",
				sizeof(committer->message));
		pthread_mutex_unlock(&committer->lock);
	}
}

int
kafka_group_committer_outcome(KafkaGroupCommitter *committer, KafkaClient *client,
							  char **message)
{
	int			outcome;
	char		text[256];

	pthread_mutex_lock(&committer->lock);
	outcome = committer->outcome;
	strlcpy(text, committer->message, sizeof(text));
	committer->outcome = 0;
	pthread_mutex_unlock(&committer->lock);
	if (message)
		*message = outcome < 0 ? kafka_client_scrub(client, text) : NULL;
	return outcome;
}

bool
kafka_group_committer_busy(KafkaGroupCommitter *committer)
{
	bool		busy;

	pthread_mutex_lock(&committer->lock);
	busy = committer->running || committer->pending != NULL;
	pthread_mutex_unlock(&committer->lock);
	return busy;
}
