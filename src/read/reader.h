/*-------------------------------------------------------------------------
 *
 * reader.h
 *	  Bounded reads of partition ranges: the consumer core shared by
 *	  read_kafka, foreign-table scans and streaming tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_READER_H
#define KAFKA_READER_H

#include "client.h"
#include "common/offset_spec.h"

/* What to read of one partition: [start_offset, end_offset). */
typedef struct KafkaPartitionRange
{
	char	   *topic;
	int32		partition;
	int64		start_offset;	/* absolute, or -2/-1 before resolution */
	int64		end_offset;		/* exclusive; absolute or -1 before */
	int64		start_timestamp;	/* ms, or -1: resolve start by time */
	int64		end_timestamp;	/* ms, or -1 */
	/* filled by kafka_resolve_ranges */
	int64		low_watermark;
	int64		high_watermark;
	/* reader state */
	int64		next_offset;	/* position: next offset to return */
	/* records skipped because they aged out (fail_on_data_loss off) */
	int64		lost_from;		/* first lost offset, or -1 */
	int64		lost_to;		/* last lost offset (inclusive) */
	bool		done;
	bool		started;
	rd_kafka_topic_t *rkt;
	Datum		topic_datum;	/* text, built once */
} KafkaPartitionRange;

/* Partitions of the topics named by subscribe / subscribePattern / assign. */
typedef enum KafkaSourceKind
{
	KAFKA_SOURCE_SUBSCRIBE,
	KAFKA_SOURCE_PATTERN,
	KAFKA_SOURCE_ASSIGN
} KafkaSourceKind;

/*
 * Expand a source into ranges (start/end left unresolved: earliest/latest).
 * Unknown topics and partitions are errors naming them.
 */
extern List *kafka_source_partitions(KafkaClient *client, KafkaSourceKind kind,
									 const char *source_text,
									 const char *option_name);

/*
 * Resolve every range's start/end (offsets, -2/-1, timestamps) against the
 * watermarks, fixed now.  Aged-out starts fail (fail_on_data_loss) or move to
 * the low watermark with a WARNING naming the skipped range.
 */
extern void kafka_resolve_ranges(KafkaClient *client, List *ranges,
								 bool fail_on_data_loss);

/* Set a consumer's queue sizes so memory is bounded for this many partitions. */
extern void kafka_spec_bound_fetch_memory(KafkaConnectionSpec *spec, int partitions);

typedef struct KafkaReader KafkaReader;

extern KafkaReader *kafka_reader_start(KafkaClient *client, List *ranges,
									   bool fail_on_data_loss);

/*
 * Next record in range order of arrival, or NULL when every range is done.
 * The message stays valid until the next call.  Waits are interruptible.
 */
extern rd_kafka_message_t *kafka_reader_next(KafkaReader *reader,
											 KafkaPartitionRange **range);

/*
 * Like kafka_reader_next, but gives up after timeout_ms (>= 0) without a
 * record: returns NULL with *timed_out set.  For unbounded (streaming) reads.
 */
extern rd_kafka_message_t *kafka_reader_next_wait(KafkaReader *reader,
												  KafkaPartitionRange **range,
												  int timeout_ms,
												  bool *timed_out);

/*
 * Take ownership of the message the last kafka_reader_next returned: it
 * stays valid after the next call, and the caller must destroy it (before
 * the client is closed).  Lets a caller hold a whole batch.
 */
extern void kafka_reader_take(KafkaReader *reader);

extern void kafka_reader_stop(KafkaReader *reader);

/* Format ranges for EXPLAIN: "t[0]: 0..100, t[1]: 5..9" */
extern char *kafka_ranges_describe(List *ranges, int max_items);

#endif							/* KAFKA_READER_H */
