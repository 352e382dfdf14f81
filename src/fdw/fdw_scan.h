/*-------------------------------------------------------------------------
 *
 * fdw_scan.h
 *	  The read side of kafka foreign tables: scan, EXPLAIN, ANALYZE.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_FDW_SCAN_H
#define KAFKA_FDW_SCAN_H

#include "foreign/fdwapi.h"

/* Fill the scan callbacks of the kafka_fdw handler's routine. */
extern void kafka_fdw_set_scan_routines(FdwRoutine *routine);

/* GUCs of foreign-table scans (from _PG_init). */
extern void kafka_fdw_scan_init(void);

#endif							/* KAFKA_FDW_SCAN_H */
