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
#include "datatype/timestamp.h"
#include "common/offset_spec.h"

/*
 * Kafka timestamps are milliseconds since 1970; PostgreSQL's count
 * microseconds since 2000: ts_ms * 1000 - KAFKA_UNIX_TO_POSTGRES_USECS.
 */
#define KAFKA_UNIX_TO_POSTGRES_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* One piece of a partition to read: [start, end). */
typedef struct KafkaOffsetSegment
{
	int64		start;
	int64		end;
} KafkaOffsetSegment;

/*
 * What to read of one partition: [start_offset, end_offset), or, when
 * segments is set, only those sorted, disjoint pieces of it (start_offset
 * and end_offset are then the first start and the last end): the reader
 * skips the gaps, seeking over the long ones.
 */
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
	/* an explicit start offset past the high watermark: nothing to read */
	bool		start_beyond_end;
	int64		requested_start;	/* that offset, when start_beyond_end */
	/* reader state */
	int64		next_offset;	/* position: next offset to return */
	/* records skipped because they aged out (fail_on_data_loss off) */
	int64		lost_from;		/* first lost offset, or -1 */
	int64		lost_to;		/* last lost offset (inclusive) */
	bool		done;
	bool		started;
	rd_kafka_topic_t *rkt;
	Datum		topic_datum;	/* text, built once */
	/* seek ranges (NULL: the whole [start_offset, end_offset)) */
	KafkaOffsetSegment *segments;
	int			nsegments;
	int			segment;		/* the current one */
	int			sought_segment; /* the last one we seeked to */
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

/*
 * One NOTICE for the ranges whose explicit start offset lay beyond the high
 * watermark (they read nothing, which is otherwise silent), naming topic,
 * partition, offset and watermark of the first few; option_name is the
 * option that gave the offsets.  Nothing when there are none.
 */
extern void kafka_ranges_notice_beyond_end(List *ranges, const char *option_name);

/* Set a consumer's queue sizes so memory is bounded for this many partitions. */
extern void kafka_spec_bound_fetch_memory(KafkaConnectionSpec *spec, int partitions);

/*
 * Apply a startingOffsets/endingOffsets specification ("earliest", "latest"
 * or per-partition JSON) to unresolved ranges.
 */
extern void kafka_ranges_apply_offsets(List *ranges, const char *text,
									   bool is_start, const char *option_name);

/*
 * For resolved ranges: out[i] is the first offset of range i whose
 * timestamp is >= timestamp_ms (offsets-for-times), the high watermark when
 * there is none.
 */
extern void kafka_ranges_offsets_for_time(KafkaClient *client, List *ranges,
										  int64 timestamp_ms, int64 *out);

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

/*
 * While the queue is dry the reader wakes idle fetchers (a small request
 * per wake, 50 ms apart by default).  An unbounded read that mostly waits
 * for new records spaces them out to interval_ms, except right after pulls
 * that filled whole batches: a backlog being drained, whose fetchers
 * librdkafka parks whenever the queue is full.
 */
extern void kafka_reader_set_wake_interval(KafkaReader *reader, int interval_ms);

extern void kafka_reader_stop(KafkaReader *reader);

/*
 * While retain is on, records returned by kafka_reader_next stay valid
 * until kafka_reader_release (memory: the records held, plus one fetch
 * batch), so a caller can decode a run of records and, should that fail,
 * decode them again.
 */
extern void kafka_reader_retain(KafkaReader *reader, bool retain);
extern void kafka_reader_release(KafkaReader *reader);

/* Format ranges for EXPLAIN: "t[0]: 0..100, t[1]: 5..9" */
extern char *kafka_ranges_describe(List *ranges, int max_items);

#endif							/* KAFKA_READER_H */
