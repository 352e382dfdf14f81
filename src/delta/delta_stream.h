/*-------------------------------------------------------------------------
 *
 * delta_stream.h
 *	  Delta export of streaming tables: only the rows not exported yet.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_DELTA_STREAM_H
#define KAFKA_DELTA_STREAM_H

#include "postgres.h"

#include "delta/delta_export.h"

/*
 * If relid is the target of a streaming table (kafka.streaming_tables),
 * fills *source for delta_export_incremental() and returns true.  Errors
 * if the target cannot be exported incrementally (no _partition/_offset).
 * A keyed stream's target (mode upsert or cdc) is exported as a plain
 * table: returns false with *keyed set.
 */
extern bool delta_stream_source(Oid relid, DeltaIncrementalSource *source,
								bool *keyed);

#endif							/* KAFKA_DELTA_STREAM_H */
