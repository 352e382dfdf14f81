/*-------------------------------------------------------------------------
 *
 * keyed.h
 *	  Internals shared by the keyed target (keyed.c, SCD type 1) and its SCD
 *	  type 2 variant (scd2.c): the changes of a batch per key, the key and
 *	  sequence columns, the functions both use.  Not for other files: they see
 *	  target.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_STREAM_KEYED_H
#define KAFKA_STREAM_KEYED_H

#include "postgres.h"

#include "executor/execExpr.h"
#include "fmgr.h"
#include "utils/sortsupport.h"

#include "stream/target.h"

/* One change of a key, as put (input-shaped values). */
typedef struct KeyedChange
{
	uint32		hash;
	StreamChangeKind kind;
	Datum	   *values;
	bool	   *nulls;
	bool	   *keep;			/* per input column: no value given, keep
								 * the stored one (ignore_null_updates,
								 * Debezium's unavailable) */
	bool		any_keep;
	Datum		sequence;		/* when sequenced */
	bool		after_delete;	/* a delete of this batch precedes it */
	Datum		delete_sequence;	/* that delete's sequence */
	const char *topic;
	int32		partition;
	int64		offset;
	/* the record's key and value, kept when a write may reject it */
	char	   *record_key;		/* NULL: none (or not kept) */
	char	   *record_value;	/* NULL: none (or not kept) */
	int32		record_key_len;
	int32		record_value_len;
	int64		ordinal;		/* put order within the batch */
	struct KeyedChange *next;	/* SCD type 2: the key's later puts */
	struct KeyedChange *tail;	/* SCD type 2, in the first: the last put */
} KeyedChange;

typedef struct KeyedEntry
{
	KeyedChange *change;
	uint32		hash;
	char		status;
} KeyedEntry;

typedef struct KeyedTarget KeyedTarget;

extern bool stream_keyed_keys_equal(KeyedTarget *keyed, KeyedChange *a, KeyedChange *b);

#define SH_PREFIX keyed
#define SH_ELEMENT_TYPE KeyedEntry
#define SH_KEY_TYPE KeyedChange *
#define SH_KEY change
#define SH_HASH_KEY(tb, key) ((key)->hash)
#define SH_EQUAL(tb, a, b) stream_keyed_keys_equal((KeyedTarget *) (tb)->private_data, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* A key column: where it is in the input, how to hash, compare, look up. */
typedef struct KeyColumn
{
	char	   *name;
	int			input;			/* input column (0-based) */
	Oid			collation;
	FmgrInfo	hash;
	FmgrInfo	equal;
	FmgrInfo	output;
	SortSupportData sort;		/* btree order, when the type has one */
	int			target;			/* target attribute (0-based) */
	int			index_column;	/* in the unique index (0-based) */
	Oid			scan_subtype;	/* right-hand type of the index's = */
	RegProcedure scan_procedure;
} KeyColumn;

struct KeyedTarget
{
	StreamTarget base;
	MemoryContext cxt;			/* the batch's changes */
	StreamSink *sink;
	int			ninput;
	int			nkeys;
	KeyColumn  *keys;
	Oid			index;
	/* sequence (NULL sequence_name: the Kafka position) */
	char	   *sequence_name;
	int			sequence_input;
	int			sequence_target;	/* target attribute (0-based) */
	FmgrInfo	sequence_cmp;
	Oid			sequence_collation;
	Oid			sequence_type;
	int16		sequence_typlen;
	bool		sequence_byval;
	FmgrInfo	sequence_output;
	Oid			sequence_input_function;
	Oid			sequence_ioparam;
	/* mode cdc: compiled over the input row, or NULL */
	ExprState  *delete_expr;
	ExprState  *truncate_expr;
	ExprContext *econtext;
	TupleTableSlot *expr_slot;
	bool	   *writable;		/* per input column: written to the target */
	keyed_hash *changes;
	bool		truncate;		/* a TRUNCATE in the batch */
	bool		sortable;		/* every key type has a btree order */
	int64		puts;
	bool		keep_records;	/* keep the records' bytes (for rejects) */
	KeyedChange **sorted;		/* SCD type 1, while ending: the changes */
	uint32		nsorted;
	uint32		find_next;		/* where keyed_record looks first */
	/* SCD type 2 (scd2.c): every change of a key is kept, in put order */
	bool		scd2;
	struct Scd2State *scd2_state;
};

/* keyed.c */
extern int	stream_keyed_compare_sequences(KeyedTarget *keyed, Datum a, Datum b);
extern char *stream_keyed_key_text(KeyedTarget *keyed, KeyedChange *change);

/*
 * scd2.c: set up (in the keyed target's begin, after the keys, sequence and
 * sink fields are set; may replace keyed->sink), and apply a batch: changes
 * holds, per key, the first change put (a chain through next), in key
 * order.  Runs inside SPI_connect; fills counts.
 */
extern void stream_scd2_begin(KeyedTarget *keyed, TupleDesc written);
extern void stream_scd2_apply(KeyedTarget *keyed, KeyedChange **changes, uint32 nchanges,
							  Snapshot snapshot, TimestampTz live_after,
							  StreamTargetCounts *counts);

#endif							/* KAFKA_STREAM_KEYED_H */
