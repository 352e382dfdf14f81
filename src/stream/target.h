/*-------------------------------------------------------------------------
 *
 * target.h
 *	  Where a streaming table's batch goes: one small interface (begin a
 *	  batch, put changes, end the batch with what it did) with one
 *	  implementation per kind of target.
 *
 * target.c holds the dispatch and the append target (every row inserted
 * through the bulk-insert sink, sink.c); keyed.c the keyed target of modes
 * upsert and cdc (SCD type 1: collapse per key, then update / delete /
 * insert through the table and index access methods), which hands SCD type
 * 2 to scd2.c.  The ingest (ingest.c) decodes and transforms the records
 * and calls only the functions below, whatever the mode.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_STREAM_TARGET_H
#define KAFKA_STREAM_TARGET_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "utils/relcache.h"

#include "stream/stream.h"

/* What a change does to its key (an append target inserts every change). */
typedef enum StreamChangeKind
{
	STREAM_CHANGE_UPSERT,
	STREAM_CHANGE_DELETE,
	STREAM_CHANGE_TRUNCATE
} StreamChangeKind;

/* What a batch did to the target. */
typedef struct StreamTargetCounts
{
	int64		inserted;
	int64		updated;
	int64		deleted;
} StreamTargetCounts;

typedef struct StreamTarget StreamTarget;

/* The Kafka transaction of a stream into a kafka foreign table. */
typedef struct StreamOutput StreamOutput;

/* The Kafka record a change comes from: its coordinates and bytes. */
typedef struct StreamRecord
{
	const char *topic;
	int32		partition;
	int64		offset;
	const char *key;			/* NULL: no key */
	size_t		key_len;
	const char *value;			/* NULL: no value (a tombstone) */
	size_t		value_len;
	const void *headers;		/* its rd_kafka_headers_t, or NULL */
} StreamRecord;

/* One implementation of a target. */
typedef struct StreamTargetMethods
{
	void		(*put) (StreamTarget *target, Datum *values, bool *nulls,
						const bool *unavailable, StreamChangeKind kind,
						const StreamRecord *record);
	void		(*end) (StreamTarget *target, StreamTargetCounts *counts);
	/* optional: see stream_target_collapsed_bytes */
	int64		(*collapsed_bytes) (StreamTarget *target);
	/* optional: see stream_target_record */
	bool		(*record) (StreamTarget *target, const char *topic, int32 partition,
						   int64 offset, StreamRecord *record);
} StreamTargetMethods;

/* What every implementation shares (the first member of each). */
struct StreamTarget
{
	const StreamTargetMethods *methods;
	StreamDef  *def;
	Relation	rel;
	TupleDesc	input;			/* the rows put: the source's or the
								 * transform's */
	const char *input_name;		/* for messages */
	StreamSinkRejectCallback reject;	/* or NULL: bad records fail the batch */
	void	   *reject_arg;
};

/*
 * Begin a batch into rel (opened by the caller, kept open until end) for
 * rows shaped like input.  reject, when not NULL, receives the records
 * whose rows cannot be written (values that do not fit, a NULL key or
 * sequence), with their coordinates and error, as StreamSinkRejectCallback
 * documents; without it such a record fails the batch with its coordinates
 * in the context (and stream_record_error_raised set).  Keyed modes refuse
 * here what cannot work (stream_keyed_validate) with an error of class 42
 * or 0A, which stops the stream.  output: the stream's Kafka transaction
 * when rel is a kafka foreign table (kafka_target.h), else NULL.
 */
extern StreamTarget *stream_target_begin(StreamDef *def, Relation rel,
										 TupleDesc input, const char *input_name,
										 StreamSinkRejectCallback reject,
										 void *reject_arg, StreamOutput *output);

/*
 * Put one change.  Values are copied.  unavailable (per input column, or
 * NULL) marks columns whose value the source did not carry (Debezium's
 * unchanged-TOAST placeholder): a keyed target keeps the stored value.
 * record is NULL for rows without one record (transform output); such rows
 * are ordered by the order they are put.  The record's bytes need only last
 * for the call.  kind is UPSERT or DELETE as the record says (a Kafka
 * tombstone in mode upsert); mode cdc refines it with apply_as_deletes /
 * apply_as_truncates.
 */
static inline void
stream_target_put(StreamTarget *target, Datum *values, bool *nulls,
				  const bool *unavailable, StreamChangeKind kind,
				  const StreamRecord *record)
{
	target->methods->put(target, values, nulls, unavailable, kind, record);
}

/*
 * Can the caller let go of the records put so far and put more in the same
 * batch?  Yes when the target keeps what the records did to each key, not
 * the records (a keyed target of SCD type 1 collapses a key's changes to
 * the last as they come): then the bytes it holds, which grow with the
 * distinct keys only.  -1 when it keeps every row put (append, SCD type 2).
 */
static inline int64
stream_target_collapsed_bytes(StreamTarget *target)
{
	if (target->methods->collapsed_bytes == NULL)
		return -1;
	return target->methods->collapsed_bytes(target);
}

/*
 * For a reject callback whose record the caller has let go: the record of
 * a change the target still holds (a keyed target keeps the bytes of the
 * changes it may still reject when it writes them), or false.  The bytes
 * live until the target ends.
 */
static inline bool
stream_target_record(StreamTarget *target, const char *topic, int32 partition,
					 int64 offset, StreamRecord *record)
{
	if (target->methods->record == NULL)
		return false;
	return target->methods->record(target, topic, partition, offset, record);
}

/* Write what is left, fire statement triggers, close; fills counts. */
extern void stream_target_end(StreamTarget *target, StreamTargetCounts *counts);

/*
 * keyed.c: the keyed target (SCD type 1, and SCD type 2 with scd2.c), and
 * what it resolves from the stream's definition: its keys (keys, or the
 * default: the source's kafka 'key' column for upsert, the target's primary
 * key for cdc; an error asking for keys otherwise) and its sequence column
 * (sequence_by, or the source's kafka 'source_lsn' column, or NULL: the
 * Kafka position).  stream_keyed_validate is in stream.h.
 */
extern List *stream_keyed_keys(StreamDef *def, Relation target);
extern char *stream_keyed_sequence(StreamDef *def);
extern StreamTarget *stream_keyed_target_begin(StreamDef *def, Relation rel,
											   TupleDesc input,
											   const char *input_name,
											   StreamSinkRejectCallback reject,
											   void *reject_arg);

#endif							/* KAFKA_STREAM_TARGET_H */
