/*-------------------------------------------------------------------------
 *
 * read_kafka.h
 *	  kafka.read_kafka(): arguments, rows, and the streaming scan node.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_READ_KAFKA_H
#define KAFKA_READ_KAFKA_H

#include "postgres.h"

#include "access/tupdesc.h"

#include "read/reader.h"

/* Argument positions of kafka.read_kafka (see sql/install/10_read.sql). */
enum
{
	RK_ARG_SERVER,
	RK_ARG_BOOTSTRAP_SERVERS,
	RK_ARG_SUBSCRIBE,
	RK_ARG_SUBSCRIBE_PATTERN,
	RK_ARG_ASSIGN,
	RK_ARG_STARTING_OFFSETS,
	RK_ARG_ENDING_OFFSETS,
	RK_ARG_STARTING_TIMESTAMP,
	RK_ARG_ENDING_TIMESTAMP,
	RK_ARG_STARTING_OFFSETS_BY_TIMESTAMP,
	RK_ARG_ENDING_OFFSETS_BY_TIMESTAMP,
	RK_ARG_INCLUDE_HEADERS,
	RK_ARG_FAIL_ON_DATA_LOSS,
	RK_ARG_OPTIONS,
	RK_NARGS
};

/* Result columns. */
enum
{
	RK_COL_KEY,
	RK_COL_VALUE,
	RK_COL_TOPIC,
	RK_COL_PARTITION,
	RK_COL_OFFSET,
	RK_COL_TIMESTAMP,
	RK_COL_TIMESTAMP_TYPE,
	RK_COL_HEADERS,
	RK_NCOLS
};

typedef struct ReadKafkaState
{
	MemoryContext context;		/* owns everything below; deleting it frees
								 * the client */
	KafkaConnectionSpec *spec;
	KafkaClient *client;
	List	   *ranges;
	KafkaReader *reader;
	bool		include_headers;
	Oid			header_type;
	TupleDesc	header_desc;
	int64		rows;
} ReadKafkaState;

/*
 * Start a read: validate arguments (argtypes: their types, for the "any"
 * timestamps), connect, fix the ranges.
 */
extern ReadKafkaState *read_kafka_begin(Datum *args, bool *argnulls,
										Oid *argtypes,
										TupleDesc result_desc,
										MemoryContext parent);

/* Next row into values/nulls (allocated in CurrentMemoryContext). */
extern bool read_kafka_next(ReadKafkaState *state, Datum *values, bool *nulls);

extern void read_kafka_end(ReadKafkaState *state);

/* Fill the metadata columns of a record (shared with foreign tables). */
extern void kafka_record_metadata(rd_kafka_message_t *msg,
								  KafkaPartitionRange *range,
								  Datum *values, bool *nulls);
extern Datum kafka_bytes_datum(const void *data, size_t len);
extern Datum kafka_headers_datum(rd_kafka_message_t *msg, Oid header_type,
								 TupleDesc header_desc);

/* Planner integration (scan_node.c). */
extern void kafka_scan_node_init(void);

#endif							/* KAFKA_READ_KAFKA_H */
