/*-------------------------------------------------------------------------
 *
 * message_buffer.h
 *	  The messages a transaction produced, held until pre-commit: an
 *	  append-only log in memory that spills to a temporary file past
 *	  kafka_fdw.produce_buffer_size, with marks so that ROLLBACK TO SAVEPOINT
 *	  drops exactly the messages of the subtransactions it undoes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_MESSAGE_BUFFER_H
#define KAFKA_MESSAGE_BUFFER_H

#include "postgres.h"

/* One header of a message; value NULL with value_len -1 for a NULL value. */
typedef struct KafkaHeaderData
{
	const char *name;
	int32		name_len;
	const char *value;
	int32		value_len;
} KafkaHeaderData;

/* A message as it goes in, and as it comes back out. */
typedef struct KafkaMessageData
{
	uint16		target;			/* index of the transaction's target */
	int32		partition;		/* -1: the partitioner chooses */
	int64		timestamp_ms;	/* 0: now */
	const char *key;			/* NULL: no key */
	int32		key_len;
	const char *value;			/* NULL: no value (a tombstone) */
	int32		value_len;
	int			nheaders;
	KafkaHeaderData *headers;
} KafkaMessageData;

typedef struct KafkaMessageBuffer KafkaMessageBuffer;

/* Create in mcxt (a transaction-lifetime context). */
extern KafkaMessageBuffer *kafka_message_buffer_create(MemoryContext mcxt,
													   int memory_limit_bytes);
extern void kafka_message_buffer_append(KafkaMessageBuffer *buffer,
										const KafkaMessageData *message);
extern int64 kafka_message_buffer_count(KafkaMessageBuffer *buffer);
extern uint64 kafka_message_buffer_bytes(KafkaMessageBuffer *buffer);

/* Subtransaction end: forget (abort) the messages of subid and its children. */
extern void kafka_message_buffer_abort_sub(KafkaMessageBuffer *buffer,
										   SubTransactionId subid);

/*
 * Read the messages back in order; returns false at the end.  The pointers
 * of the messages returned stay valid until a call to
 * kafka_message_buffer_next that kafka_message_buffer_next_refills
 * announces (it reads more of the temporary file over them), or until the
 * buffer is appended to or closed.
 */
extern void kafka_message_buffer_rewind(KafkaMessageBuffer *buffer);
extern bool kafka_message_buffer_next(KafkaMessageBuffer *buffer,
									  KafkaMessageData *message);
extern bool kafka_message_buffer_next_refills(KafkaMessageBuffer *buffer);

/* Release the temporary file (at commit; abort releases it by itself). */
extern void kafka_message_buffer_close(KafkaMessageBuffer *buffer);

/* At abort: stop the writer thread, without reporting errors. */
extern void kafka_message_buffer_discard(KafkaMessageBuffer *buffer);

#endif							/* KAFKA_MESSAGE_BUFFER_H */
