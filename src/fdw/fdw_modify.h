/*-------------------------------------------------------------------------
 *
 * fdw_modify.h
 *	  INSERT (and COPY FROM) into a kafka foreign table: each row becomes a
 *	  message held by the transaction and delivered at commit.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_FDW_MODIFY_H
#define KAFKA_FDW_MODIFY_H

#include "postgres.h"

#include "foreign/fdwapi.h"

/* Fill the modify callbacks of the kafka_fdw handler's routine. */
extern void kafka_fdw_set_modify_routines(FdwRoutine *routine);

#endif							/* KAFKA_FDW_MODIFY_H */
