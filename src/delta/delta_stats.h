/*-------------------------------------------------------------------------
 *
 * delta_stats.h
 *	  Per-file statistics of the Delta log's "add" actions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_DELTA_STATS_H
#define KAFKA_DELTA_STATS_H

#include "postgres.h"

#include "delta/parquet_writer.h"
#include "delta/type_map.h"

/*
 * The stats JSON document (numRecords, minValues, maxValues, nullCount) of a
 * data file, from the writer's column statistics.
 */
extern char *delta_file_stats(const DeltaColumn *columns, int ncolumns,
							  ParquetWriter *writer, int64 num_records);

#endif							/* KAFKA_DELTA_STATS_H */
