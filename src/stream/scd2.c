/*-------------------------------------------------------------------------
 *
 * scd2.c
 *	  The keyed target of streaming tables stored as SCD type 2: each key's
 *	  history as versions [__start_at, __end_at) of its rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "stream/target.h"

StreamTarget *
stream_scd2_target_begin(StreamDef *def, Relation rel, TupleDesc input,
						 const char *input_name,
						 StreamSinkRejectCallback reject, void *reject_arg)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("stored_as_scd_type 2 of streaming table %s is not supported yet",
					def->target_name)));
	return NULL;
}
