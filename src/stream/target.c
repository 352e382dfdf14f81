/*-------------------------------------------------------------------------
 *
 * target.c
 *	  A streaming table's target: the dispatch on the stream's mode, and the
 *	  append target, which inserts every row through the bulk-insert sink
 *	  (sink.c).  See target.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "stream/kafka_target.h"
#include "stream/target.h"

typedef struct AppendTarget
{
	StreamTarget base;
	StreamSink *sink;
} AppendTarget;

static void
append_put(StreamTarget *target, Datum *values, bool *nulls,
		   const bool *unavailable, StreamChangeKind kind,
		   const StreamRecord *record)
{
	AppendTarget *append = (AppendTarget *) target;

	if (record)
		stream_sink_put(append->sink, values, nulls, record->topic,
						record->partition, record->offset);
	else
		stream_sink_put(append->sink, values, nulls, NULL, 0, 0);
}

static void
append_end(StreamTarget *target, StreamTargetCounts *counts)
{
	AppendTarget *append = (AppendTarget *) target;

	counts->inserted = stream_sink_end(append->sink);
	counts->updated = 0;
	counts->deleted = 0;
}

static const StreamTargetMethods append_methods = {
	append_put,
	append_end,
	NULL,						/* holds every row */
	NULL						/* whose records the caller holds */
};

StreamTarget *
stream_target_begin(StreamDef *def, Relation rel, TupleDesc input,
					const char *input_name, StreamSinkRejectCallback reject,
					void *reject_arg, StreamOutput *output)
{
	StreamTarget *target;

	if (output)
		target = stream_kafka_target_begin(def, rel, input, input_name, output);
	else if (def->mode == STREAM_MODE_APPEND)
	{
		AppendTarget *append = palloc0(sizeof(AppendTarget));

		append->sink = stream_sink_begin(rel, stream_sink_written_columns(def, input),
										 input_name);
		if (reject)
			stream_sink_on_reject(append->sink, reject, reject_arg);
		append->base.methods = &append_methods;
		target = &append->base;
	}
	else
		target = stream_keyed_target_begin(def, rel, input, input_name,
										   reject, reject_arg);
	target->def = def;
	target->rel = rel;
	target->input = input;
	target->input_name = input_name;
	target->reject = reject;
	target->reject_arg = reject_arg;
	return target;
}

void
stream_target_end(StreamTarget *target, StreamTargetCounts *counts)
{
	memset(counts, 0, sizeof(*counts));
	target->methods->end(target, counts);
}
