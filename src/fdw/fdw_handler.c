/*-------------------------------------------------------------------------
 *
 * fdw_handler.c
 *	  The kafka_fdw foreign-data wrapper handler: which callbacks implement
 *	  which part (scans in fdw_scan.c, INSERT in fdw_modify.c, IMPORT
 *	  FOREIGN SCHEMA in fdw_import.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "foreign/fdwapi.h"

#include "fdw/fdw_import.h"
#include "fdw/fdw_modify.h"
#include "fdw/fdw_scan.h"

PG_FUNCTION_INFO_V1(kafka_fdw_handler);

Datum
kafka_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	kafka_fdw_set_scan_routines(routine);
	kafka_fdw_set_modify_routines(routine);
	routine->ImportForeignSchema = kafka_import_foreign_schema;
	PG_RETURN_POINTER(routine);
}
