/*-------------------------------------------------------------------------
 *
 * client.h
 *	  The one librdkafka wrapper: handle creation from a connection spec,
 *	  events drained in the backend, cancellable blocking calls, cleanup on
 *	  ERROR.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_CLIENT_H
#define KAFKA_CLIENT_H

#include "postgres.h"

#include <pthread.h>

#include <librdkafka/rdkafka.h>

#include "options.h"

typedef enum KafkaClientRole
{
	KAFKA_CLIENT_CONSUMER,
	KAFKA_CLIENT_PRODUCER
} KafkaClientRole;

typedef struct KafkaClientCore KafkaClientCore;

/*
 * Called for each message of a delivery report, in the backend, while the
 * client's events are drained (kafka_client_poll_events and the waits).  It
 * must not ereport or allocate: record what it needs in plain memory.
 */
typedef void (*KafkaDeliveryReportHandler) (const rd_kafka_message_t *message,
											void *arg);

typedef struct KafkaClient
{
	rd_kafka_t *rk;
	KafkaClientRole role;
	KafkaConnectionSpec *spec;
	rd_kafka_queue_t *main_queue;	/* logs and errors */
	KafkaClientCore *core;		/* shared with helper threads */
	char		last_error[512];	/* scrubbed; "" if none */
	bool		brokers_down;	/* librdkafka said all brokers are down; the
								 * caller clears it when it hears from them */
	bool		closed;
	KafkaDeliveryReportHandler delivery_report;	/* producers */
	void	   *delivery_report_arg;
	MemoryContextCallback callback;
} KafkaClient;

/*
 * Create a client.  The handle lives as long as the current memory context:
 * a callback destroys it when the context is reset or deleted (so an ERROR
 * frees it), or earlier with kafka_client_close.
 */
extern KafkaClient *kafka_client_create(KafkaConnectionSpec *spec,
										KafkaClientRole role);
extern void kafka_client_close(KafkaClient *client);

/* The librdkafka configuration a spec produces, as (name, value) pairs with
 * secrets masked: for kafka.client_config() and tests. */
extern List *kafka_client_config_dump(KafkaConnectionSpec *spec,
									  KafkaClientRole role);

/* Topic handle and queue owned by the client (freed with it). */
extern rd_kafka_topic_t *kafka_client_topic(KafkaClient *client, const char *topic);
extern rd_kafka_queue_t *kafka_client_new_queue(KafkaClient *client);

/* rd_kafka_consume_start_queue, remembered so teardown can stop it. */
extern void kafka_client_consume_start(KafkaClient *client, rd_kafka_topic_t *rkt,
									   int32 partition, int64 offset,
									   rd_kafka_queue_t *queue);

/*
 * Drain log and error events; raises an ERROR for fatal and authentication
 * errors.  Call it from every wait loop.
 */
extern void kafka_client_poll_events(KafkaClient *client);

/* Sleep up to timeout_ms (<= 100), interruptibly, then poll events. */
extern void kafka_client_wait(KafkaClient *client, int timeout_ms);

/*
 * Wait up to timeout_ms (<= 100) for the client's next event (a delivery
 * report, a log line), handle every event queued, then check for interrupts.
 * Returns as soon as an event arrives, so a producer waiting for queue space
 * or delivery reports loses no time.
 */
extern void kafka_client_wait_events(KafkaClient *client, int timeout_ms);

/*
 * Producers: drop every message not yet delivered (queued or in flight) so
 * that none is sent after this call; a message already sent may still be
 * acknowledged by the broker.  Never throws: usable on abort.
 */
extern void kafka_client_purge(KafkaClient *client);

/*
 * Blocking requests, run on a helper thread while the backend waits in
 * cancellable slices.  Metadata for all topics: free with
 * rd_kafka_metadata_destroy.  The partitions' offset fields go in as
 * timestamps (-2 earliest, -1 latest, or ms) and come out as offsets.
 * Errors name the brokers and the connect timeout; a topic's partition count
 * is -1 instead when it cannot be learned within timeout_ms.
 */
extern const struct rd_kafka_metadata *kafka_client_metadata(KafkaClient *client);
extern int	kafka_client_partition_count(KafkaClient *client, rd_kafka_topic_t *topic,
										 int timeout_ms);
extern void kafka_client_offsets_for_times(KafkaClient *client,
										   rd_kafka_topic_partition_list_t *partitions);

/*
 * The high watermarks of partitions into their offset fields (-1 and err
 * set where unknown); false when the brokers did not answer within
 * timeout_ms.  Only a cancel raises an error.
 */
extern bool kafka_client_high_watermarks(KafkaClient *client,
										 rd_kafka_topic_partition_list_t *partitions,
										 int timeout_ms);

/* Fire-and-forget request that wakes the partitions' broker threads. */
extern void kafka_client_wake_fetchers(KafkaClient *client,
									   rd_kafka_topic_partition_list_t *partitions);

/*
 * Transactions of a producer whose spec has a transactional_id.  Each call
 * returns true on success, or false with the error classified in *result
 * (fatal: the producer is fenced or broken and must be recreated;
 * abortable: abort the transaction, then retry; retriable: the same call may
 * be retried).  Only a cancel throws.
 */
typedef struct KafkaTxnResult
{
	rd_kafka_resp_err_t code;
	bool		fatal;
	bool		abortable;
	bool		retriable;
	char		message[512];	/* scrubbed */
} KafkaTxnResult;

extern bool kafka_client_init_transactions(KafkaClient *client, int timeout_ms,
										   KafkaTxnResult *result);
extern bool kafka_client_begin_transaction(KafkaClient *client, KafkaTxnResult *result);
extern bool kafka_client_send_offsets(KafkaClient *client, const char *group,
									  rd_kafka_topic_partition_list_t *offsets,
									  int timeout_ms, KafkaTxnResult *result);
extern bool kafka_client_commit_transaction(KafkaClient *client, int timeout_ms,
											KafkaTxnResult *result);
extern bool kafka_client_abort_transaction(KafkaClient *client, int timeout_ms,
										   KafkaTxnResult *result);

/*
 * The offsets group committed on partitions (each offset and its metadata
 * set, or RD_KAFKA_OFFSET_INVALID where it has none); an ERROR when the
 * brokers do not answer.
 */
extern void kafka_client_group_offsets(KafkaClient *client, const char *group,
									   rd_kafka_topic_partition_list_t *partitions);

/* Commit group's offsets outside any transaction (tests only: see
 * kafka_target.c); an ERROR when the brokers refuse. */
extern void kafka_client_commit_group_offsets(KafkaClient *client, const char *group,
											  rd_kafka_topic_partition_list_t *offsets);

/*
 * Commits of a consumer group's offsets that nobody waits for: a
 * committer's helper thread commits what was posted last, in the order
 * posted, one at a time (a post made while a commit is in flight replaces
 * any still waiting).  Posting never blocks and never fails but for memory;
 * the outcome of the last commit that ended since the previous call is
 * 1 (committed), -1 (failed: *message, scrubbed with client's secrets) or
 * 0 (none ended).  A committer outlives the clients it commits through.
 */
typedef struct KafkaGroupCommitter KafkaGroupCommitter;

extern KafkaGroupCommitter *kafka_group_committer_create(void);
extern void kafka_group_committer_release(KafkaGroupCommitter *committer);
extern void kafka_client_commit_group_offsets_async(KafkaClient *client,
													KafkaGroupCommitter *committer,
													const char *group,
													rd_kafka_topic_partition_list_t *offsets);
extern int	kafka_group_committer_outcome(KafkaGroupCommitter *committer,
										  KafkaClient *client, char **message);
/* Is a commit posted or in flight? */
extern bool kafka_group_committer_busy(KafkaGroupCommitter *committer);

/* ereport(ERROR) for a librdkafka error code, naming the brokers. */
extern void kafka_client_error(KafkaClient *client, rd_kafka_resp_err_t err,
							   const char *what) pg_attribute_noreturn();

/* Replace secrets in a string (palloc'd copy). */
extern char *kafka_client_scrub(KafkaClient *client, const char *text);

/*
 * Start a thread that never receives the backend's signals (detached when
 * joinable is NULL).  It must not call PostgreSQL: no palloc, no ereport.
 */
extern int	kafka_start_thread(void *(*fn) (void *), void *arg, pthread_t *joinable);

#endif							/* KAFKA_CLIENT_H */
