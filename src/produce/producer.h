/*-------------------------------------------------------------------------
 *
 * producer.h
 *	  Transactional produce: messages are held for the transaction and
 *	  delivered at pre-commit; a delivery failure fails the commit.
 *
 * INSERT into a kafka foreign table and kafka.produce() both go through
 * here: ask for a target (a topic through a server as a user) once, then
 * hand it messages.  Nothing is sent before the transaction commits;
 * ROLLBACK, an error and ROLLBACK TO SAVEPOINT drop the messages they undo;
 * PREPARE TRANSACTION with held messages is refused.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_PRODUCER_H
#define KAFKA_PRODUCER_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "foreign/foreign.h"

#include "produce/message_buffer.h"

typedef struct KafkaProduceTarget KafkaProduceTarget;

/* GUC kafka_fdw.produce_buffer_size, in kB. */
extern int	kafka_produce_buffer_size;

/* GUCs and transaction callbacks; called once from _PG_init. */
extern void kafka_produce_init(void);

/*
 * The target for topic through server as userid in the current transaction
 * (checks USAGE and the user mapping the first time).  message_timeout_ms
 * overrides the server's message_timeout when > 0.  The target lives until
 * the end of the transaction.
 */
extern KafkaProduceTarget *kafka_produce_target(ForeignServer *server, Oid userid,
												const char *topic,
												int message_timeout_ms);

/* Is target still usable (same transaction)? */
extern bool kafka_produce_target_is_current(KafkaProduceTarget *target);

/* Hold one message for delivery at commit (message->target is ignored). */
extern void kafka_produce_message(KafkaProduceTarget *target,
								  KafkaMessageData *message);

/* Conversions shared by kafka.produce() and INSERT. */
extern int64 kafka_produce_timestamp_ms(TimestampTz timestamp);
extern int32 kafka_produce_partition(int32 partition);
extern const char *kafka_produce_utf8(const char *text, int len, int32 *utf8_len);
extern KafkaHeaderData *kafka_produce_headers_from_array(Datum array, int *nheaders);

#endif							/* KAFKA_PRODUCER_H */
