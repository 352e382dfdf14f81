/*-------------------------------------------------------------------------
 *
 * offset_spec.h
 *	  Spark-style offset, assignment and timestamp specifications.
 *
 * startingOffsets / endingOffsets: "earliest", "latest" or
 *   {"topic":{"0":23,"1":-2}}  (-2 earliest, -1 latest)
 * assign: {"topic":[0,1]}
 * starting/endingOffsetsByTimestamp: {"topic":{"0":1700000000000}}, or
 *   {"topic":{"0":"2024-05-01 12:00:00+00"}} (a string the caller parses)
 *
 * Free of PostgreSQL headers so it can be unit-tested (test/unit).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_OFFSET_SPEC_H
#define KAFKA_OFFSET_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KAFKA_OFFSET_EARLIEST	(-2)
#define KAFKA_OFFSET_LATEST		(-1)

typedef enum KafkaOffsetSpecKind
{
	KAFKA_SPEC_EARLIEST,
	KAFKA_SPEC_LATEST,
	KAFKA_SPEC_PER_PARTITION
} KafkaOffsetSpecKind;

typedef struct KafkaOffsetSpecEntry
{
	char	   *topic;
	int32_t		partition;
	int64_t		value;			/* offset, -2/-1, or a timestamp in ms */
} KafkaOffsetSpecEntry;

typedef struct KafkaOffsetSpec
{
	KafkaOffsetSpecKind kind;
	size_t		count;
	KafkaOffsetSpecEntry *entries;	/* malloc'd; kafka_offset_spec_free */
} KafkaOffsetSpec;

/*
 * Parse an offsets specification.  keywords: accept "earliest"/"latest".
 * timestamps: the numbers are timestamps (must be >= 0) rather than offsets
 * (>= -2).  On error returns false with a message in errbuf that quotes at
 * most the offending JSON fragment.
 */
extern bool kafka_parse_offset_spec(const char *text, bool keywords,
									bool timestamps, KafkaOffsetSpec *out,
									char *errbuf, size_t errlen);

/*
 * Turns a timestamp written as a string into milliseconds since 1970; on
 * failure returns false with a message in errbuf.  It must not throw: the
 * parser holds memory of its own while it calls it.
 */
typedef bool (*KafkaTimestampParser) (const char *text, int64_t *ms,
									  char *errbuf, size_t errlen);

/*
 * Parse a timestamp specification: numbers are milliseconds since 1970
 * (>= 0), strings go through parse_timestamp.
 */
extern bool kafka_parse_timestamp_spec(const char *text,
									   KafkaTimestampParser parse_timestamp,
									   KafkaOffsetSpec *out,
									   char *errbuf, size_t errlen);

/* Parse {"topic":[0,1]}; entries' value is unused (0). */
extern bool kafka_parse_assign_spec(const char *text, KafkaOffsetSpec *out,
									char *errbuf, size_t errlen);

extern void kafka_offset_spec_free(KafkaOffsetSpec *spec);

/* Find the entry for topic/partition, or NULL. */
extern const KafkaOffsetSpecEntry *kafka_offset_spec_find(const KafkaOffsetSpec *spec,
														  const char *topic,
														  int32_t partition);

/*
 * Resolution against a partition's watermarks [low, high).
 *
 * Start: earliest -> low, latest -> high; an offset below low has aged out
 * (*data_loss set, low returned); an offset above high reads nothing.
 * End: latest -> high; an offset above high is capped at high, so a bounded
 * read never waits for records that don't exist yet.
 * Timestamps: offsets-for-times answers -1 when no record is at or after the
 * timestamp; that means "latest" (Spark's rule), i.e. high.
 */
extern int64_t kafka_resolve_start_offset(int64_t requested, int64_t low,
										  int64_t high, bool *data_loss);
extern int64_t kafka_resolve_end_offset(int64_t requested, int64_t low,
										int64_t high);
extern int64_t kafka_resolve_timestamp_offset(int64_t found, int64_t low,
											  int64_t high);

#endif							/* KAFKA_OFFSET_SPEC_H */
