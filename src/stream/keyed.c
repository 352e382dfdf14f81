/*-------------------------------------------------------------------------
 *
 * keyed.c
 *	  The keyed target of streaming tables (modes upsert and cdc).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "stream/target.h"

StreamTarget *
stream_keyed_target_begin(StreamDef *def, Relation rel, TupleDesc input,
						  const char *input_name,
						  StreamSinkRejectCallback reject, void *reject_arg)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("mode of streaming table %s is not supported yet", def->target_name)));
	return NULL;
}
