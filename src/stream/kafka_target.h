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
 * transaction committed, before PostgreSQL did), raise committed[i] (the
 * catalog's next offsets of ranges) to the offsets committed with it.
 */
extern void stream_output_resume(StreamOutput *output, KafkaPartitionRange **ranges,
								 int nranges, int64 *committed);

/* Begin a batch's Kafka transaction (aborting one a failed batch left). */
extern void stream_output_begin(StreamOutput *output);

/*
 * Commit it with the ranges' next offsets as the stream's consumer group's
 * offsets; an ERROR when any record could not be delivered.
 */
extern void stream_output_commit(StreamOutput *output, KafkaPartitionRange **ranges,
								 int nranges);

/* The target of one batch (stream_target_begin calls it). */
extern StreamTarget *stream_kafka_target_begin(StreamDef *def, Relation rel,
											   TupleDesc input, const char *input_name,
											   StreamOutput *output);

/* Per target column, the input column it takes (or -1); refuses other types. */
extern int *stream_kafka_target_map(Relation rel, TupleDesc input, const char *input_name);

#endif							/* KAFKA_STREAM_KAFKA_TARGET_H */
