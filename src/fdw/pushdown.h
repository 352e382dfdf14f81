/*-------------------------------------------------------------------------
 *
 * pushdown.h
 *	  WHERE clauses on partition, offset and timestamp columns of a kafka
 *	  foreign table as per-partition seek ranges.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_PUSHDOWN_H
#define KAFKA_PUSHDOWN_H

#include "postgres.h"

#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"

#include "fdw/kafka_table.h"

/*
 * One box of records: partitions [partition_min, partition_max], offsets
 * [offset_min, offset_max] (inclusive), and timestamps >= timestamp_min (ms
 * since 1970; -1: no bound).  A condition is a union of boxes.
 */
typedef struct KafkaSeekBox
{
	int32		partition_min;
	int32		partition_max;
	int64		offset_min;
	int64		offset_max;
	int64		timestamp_min;
} KafkaSeekBox;

/* GUC kafka_fdw.enable_pushdown */
extern bool kafka_enable_pushdown;

/*
 * Planner: does this clause (of baserestrictinfo) constrain partitions,
 * offsets or timestamps in a way seeks can use?  Such clauses are still
 * rechecked as filters.
 */
extern bool kafka_pushdown_usable(KafkaTable *table, Index relid, Expr *clause);

/*
 * Planner: the boxes the clauses give when only their constants are known
 * (other operands count as unbounded).  *exact is set when no clause needed
 * anything but constants and none involves a timestamp, so the boxes hold
 * exactly the records the clauses select; *constant when every operand
 * was a constant.
 */
extern List *kafka_pushdown_const_boxes(KafkaTable *table, Index relid,
										List *clauses, bool *exact,
										bool *constant);

/* Executor: prepare the clauses' operands for evaluation. */
typedef struct KafkaPushdown KafkaPushdown;

extern KafkaPushdown *kafka_pushdown_init(KafkaTable *table, Index relid,
										  List *clauses, PlanState *parent);

/* Executor: the boxes with every operand evaluated (parameters included). */
extern List *kafka_pushdown_boxes(KafkaPushdown *pushdown, ExprContext *econtext);

/*
 * Restrict resolved ranges to the boxes: partitions outside them are done,
 * the others get seek segments (timestamps through offsets-for-times).
 */
extern void kafka_pushdown_apply(KafkaClient *client, List *ranges, List *boxes);

/* Rows of resolved-or-not watermark ranges that the boxes can select. */
extern double kafka_pushdown_count(List *ranges, List *boxes);

/* "partition 1, offsets 10 to 19; partitions 0 to 3, timestamp >= 1700000000000 ms" */
extern char *kafka_seek_boxes_describe(List *boxes);

#endif							/* KAFKA_PUSHDOWN_H */
