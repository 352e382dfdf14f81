/*-------------------------------------------------------------------------
 *
 * kafka_target.h
 *	  Streams whose target is a kafka foreign table: the rows of each batch
 *	  produced in one Kafka transaction with the batch's input offsets.
 *	  See kafka_target.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_STREAM_KAFKA_TARGET_H
#define KAFKA_STREAM_KAFKA_TARGET_H

#include "postgres.h"

#include "fdw/kafka_table.h"
#include "read/reader.h"
#include "stream/target.h"

/* GUCs; called once from kafka_stream_init. */
extern void stream_output_init(void);

/* Is the stream's target a (kafka) foreign table? */
extern bool stream_target_is_kafka(Oid target);

/*
 * The transactional producer of a stream into a kafka foreign table, for
 * as long as the ingest (the current memory context).  Opening it fences
 * an earlier producer of the stream and aborts its open transaction.
 */
extern StreamOutput *stream_output_open(StreamDef *def, KafkaTable *source);

/*
 * Where the output is ahead of the catalog (a crash after the Kafka
 * transaction of batch batch_id + 1 committed, before PostgreSQL did), raise
 * committed[i] (the catalog's next offsets of ranges) to the offsets
 * committed with it, and remember them: the batch's dead letters are not
 * produced again.  True when that batch committed in Kafka.
 */
extern bool stream_output_resume(StreamOutput *output, KafkaPartitionRange **ranges,
								 int nranges, int64 batch_id, int64 *committed);

/* Begin a batch's Kafka transaction (aborting one a failed batch left). */
extern void stream_output_begin(StreamOutput *output);

/*
 * Commit it with the ranges' next offsets as the stream's consumer group's
 * offsets, marked as batch batch_id's (the count of committed batches once
 * it commits); an ERROR when any record could not be delivered.
 */
extern void stream_output_commit(StreamOutput *output, KafkaPartitionRange **ranges,
								 int nranges, int64 batch_id);

/* A bad record for the dead-letter topic (bytes NULL: none). */
typedef struct StreamDeadLetter
{
	const char *topic;
	int32		partition;
	int64		offset;
	const char *key;
	size_t		key_len;
	const char *value;
	size_t		value_len;
	int			nheaders;		/* the record's own headers */
	char	  **header_names;
	char	  **header_values;	/* NULL: a header without a value */
	int		   *header_lens;
	const char *error;
} StreamDeadLetter;

/* Has the stream a dead-letter topic (output may be NULL)? */
extern bool stream_output_has_dead_letter_topic(StreamOutput *output);

/*
 * Produce a bad record to the dead-letter topic in the batch's transaction:
 * its key, value and headers, and headers naming the error, its topic,
 * partition and offset and the stream.  One that an earlier transaction
 * committed (a batch PostgreSQL redoes after a crash) is not produced again.
 */
extern void stream_output_dead_letter(StreamOutput *output, const StreamDeadLetter *dead);

/* The target of one batch (stream_target_begin calls it). */
extern StreamTarget *stream_kafka_target_begin(StreamDef *def, Relation rel,
											   TupleDesc input, const char *input_name,
											   StreamOutput *output);

/* Per target column, the input column it takes (or -1); refuses other types. */
extern int *stream_kafka_target_map(Relation rel, TupleDesc input, const char *input_name);

#endif							/* KAFKA_STREAM_KAFKA_TARGET_H */
