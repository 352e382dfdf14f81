/*-------------------------------------------------------------------------
 *
 * read_kafka.c
 *	  kafka.read_kafka(): Spark's batch Kafka source as a set-returning
 *	  function.
 *
 * In FROM, the planner replaces the function scan with a streaming custom
 * scan (scan_node.c) so that rows flow one at a time: LIMIT stops the read
 * early and memory does not grow with the result.  Called elsewhere (e.g. in
 * a target list) it is an ordinary value-per-call function over the same
 * code.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/supportnodes.h"
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#endif
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "read/read_kafka.h"

PG_FUNCTION_INFO_V1(read_kafka);
PG_FUNCTION_INFO_V1(read_kafka_support);

static char *
text_arg(Datum *args, bool *argnulls, int i)
{
	return argnulls[i] ? NULL : TextDatumGetCString(args[i]);
}

/*
 * A timestamp as Kafka's milliseconds since 1970, rounded up: offsets for a
 * timestamp are those of the first record at or after it, so a record of
 * millisecond m counts as "at or after" ts exactly when m >= ceil(ts).
 * False when ts is infinite or before 1970.
 */
static bool
timestamptz_to_kafka_ms(TimestampTz ts, int64 *ms)
{
	if (TIMESTAMP_NOT_FINITE(ts) || ts < -KAFKA_UNIX_TO_POSTGRES_USECS)
		return false;
	ts += KAFKA_UNIX_TO_POSTGRES_USECS;
	*ms = ts / 1000 + (ts % 1000 != 0);
	return true;
}

/*
 * Milliseconds since 1970 written as digits, or a timestamptz literal (a
 * literal without a time zone is in the session's, as a timestamptz cast
 * reads it).  Does not throw (KafkaTimestampParser): ParseDateTime and
 * DecodeDateTime report errors as codes.
 */
static bool
parse_timestamp_text(const char *text, int64_t *ms, char *errbuf, size_t errlen)
{
	const char *p = text;
	TimestampTz ts;

	while (*p == ' ')
		p++;
	if (*p >= '0' && *p <= '9')
	{
		char	   *end;
		long long	v;

		errno = 0;
		v = strtoll(p, &end, 10);
		while (*end == ' ')
			end++;
		if (*end == '\0')
		{
			if (errno != 0)
			{
				snprintf(errbuf, errlen, "\"%.80s\" is out of range", text);
				return false;
			}
			*ms = v;
			return true;
		}
	}

	{
#if PG_VERSION_NUM >= 160000
		ErrorSaveContext escontext = {T_ErrorSaveContext};
		Datum		result;

		if (!DirectInputFunctionCallSafe(timestamptz_in, (char *) text, InvalidOid, -1,
										 (Node *) &escontext, &result))
		{
			snprintf(errbuf, errlen, "\"%.80s\" is neither milliseconds since 1970 nor a timestamp", text);
			return false;
		}
		ts = DatumGetTimestampTz(result);
#else
		fsec_t		fsec;
		struct pg_tm tt;
		int			tz;
		int			dtype;
		int			nf;
		char	   *field[MAXDATEFIELDS];
		int			ftype[MAXDATEFIELDS];
		char		workbuf[MAXDATELEN + MAXDATEFIELDS];
		int			dterr;

		dterr = ParseDateTime(text, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf);
		if (dterr == 0)
			dterr = DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz);
		if (dterr != 0 || (dtype != DTK_DATE && dtype != DTK_EPOCH &&
						   dtype != DTK_LATE && dtype != DTK_EARLY))
		{
			snprintf(errbuf, errlen, "\"%.80s\" is neither milliseconds since 1970 nor a timestamp", text);
			return false;
		}
		if (dtype == DTK_EPOCH)
			ts = SetEpochTimestamp();
		else if (dtype == DTK_LATE)
			TIMESTAMP_NOEND(ts);
		else if (dtype == DTK_EARLY)
			TIMESTAMP_NOBEGIN(ts);
		else if (tm2timestamp(&tt, fsec, &tz, &ts) != 0)
		{
			snprintf(errbuf, errlen, "\"%.80s\" is out of range", text);
			return false;
		}
#endif
	}
	if (!timestamptz_to_kafka_ms(ts, ms))
	{
		snprintf(errbuf, errlen, "\"%.80s\" is not a finite time since 1970-01-01 UTC", text);
		return false;
	}
	return true;
}

/*
 * startingTimestamp and endingTimestamp are declared "any": a whole number
 * is milliseconds since 1970 (Spark's form, and the bigint of releases
 * before 0.6), a timestamptz, timestamp (in the session time zone) or date
 * is a point in time, and text (or an untyped literal) is either.
 */
static int64
timestamp_arg(Datum value, Oid type, const char *option_name)
{
	int64		ms = 0;
	TimestampTz ts;
	char		typcategory;
	bool		preferred;
	char		err[256];

	switch (type)
	{
		case INT2OID:
			ms = DatumGetInt16(value);
			break;
		case INT4OID:
			ms = DatumGetInt32(value);
			break;
		case INT8OID:
		case InvalidOid:		/* called without an expression: bigint */
			ms = DatumGetInt64(value);
			break;
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
		case DATEOID:
			if (type == TIMESTAMPTZOID)
				ts = DatumGetTimestampTz(value);
			else if (type == TIMESTAMPOID)
				ts = DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, value));
			else
				ts = DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, value));
			if (!timestamptz_to_kafka_ms(ts, &ms))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for %s: %s", option_name,
								DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(ts)))),
						 errhint("Give a finite time since 1970-01-01 UTC.")));
			return ms;
		default:
			get_type_category_preferred(type, &typcategory, &preferred);
			if (typcategory == TYPCATEGORY_STRING || type == UNKNOWNOID)
			{
				Oid			output;
				bool		varlena;

				getTypeOutputInfo(type, &output, &varlena);
				if (!parse_timestamp_text(OidOutputFunctionCall(output, value), &ms, err, sizeof(err)))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for %s: %s", option_name, err),
							 errhint("Give a timestamptz such as '2024-05-01 12:00:00+00' or milliseconds since 1970-01-01 UTC.")));
				break;
			}
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s must be milliseconds since 1970 (an integer) or a timestamp, not type %s",
							option_name, format_type_be(type))));
	}
	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for %s: " INT64_FORMAT, option_name, ms),
				 errhint("Give milliseconds since 1970-01-01 UTC, or a timestamptz.")));
	return ms;
}

static void
apply_timestamps(List *ranges, const char *text, bool is_start, const char *option_name)
{
	KafkaOffsetSpec spec;
	char		err[256];
	ListCell   *lc;

	if (!kafka_parse_timestamp_spec(text, parse_timestamp_text, &spec, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for %s: %s", option_name, err),
				 errhint("Expected JSON such as {\"topic\":{\"0\":1700000000000}} (milliseconds since 1970) or {\"topic\":{\"0\":\"2024-05-01 12:00:00+00\"}}.")));
	foreach(lc, ranges)
	{
		KafkaPartitionRange *r = lfirst(lc);
		const KafkaOffsetSpecEntry *e = kafka_offset_spec_find(&spec, r->topic, r->partition);

		if (e == NULL)
			continue;
		if (is_start)
			r->start_timestamp = e->value;
		else
			r->end_timestamp = e->value;
	}
	kafka_offset_spec_free(&spec);
}

ReadKafkaState *
read_kafka_begin(Datum *args, bool *argnulls, Oid *argtypes,
				 TupleDesc result_desc, MemoryContext parent)
{
	MemoryContext context = AllocSetContextCreate(parent, "kafka read",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(context);
	ReadKafkaState *state = palloc0(sizeof(ReadKafkaState));
	char	   *server = text_arg(args, argnulls, RK_ARG_SERVER);
	char	   *bootstrap = text_arg(args, argnulls, RK_ARG_BOOTSTRAP_SERVERS);
	KafkaSourceKind source_kind = KAFKA_SOURCE_SUBSCRIBE;
	const char *source_name = NULL;
	char	   *source_text = NULL;
	int			nsources = 0;
	bool		fail_on_data_loss;
	KafkaClient *probe;
	char	   *text;
	int64		starting_timestamp = 0;
	int64		ending_timestamp = 0;

	state->context = context;

	if (!argnulls[RK_ARG_SUBSCRIBE])
	{
		nsources++;
		source_kind = KAFKA_SOURCE_SUBSCRIBE;
		source_name = "subscribe";
		source_text = text_arg(args, argnulls, RK_ARG_SUBSCRIBE);
	}
	if (!argnulls[RK_ARG_SUBSCRIBE_PATTERN])
	{
		nsources++;
		source_kind = KAFKA_SOURCE_PATTERN;
		source_name = "subscribePattern";
		source_text = text_arg(args, argnulls, RK_ARG_SUBSCRIBE_PATTERN);
	}
	if (!argnulls[RK_ARG_ASSIGN])
	{
		nsources++;
		source_kind = KAFKA_SOURCE_ASSIGN;
		source_name = "assign";
		source_text = text_arg(args, argnulls, RK_ARG_ASSIGN);
	}
	if (nsources != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(nsources == 0 ? "read_kafka needs a source: subscribe, subscribePattern or assign"
						: "read_kafka takes exactly one of subscribe, subscribePattern and assign"),
				 errhint("For example: kafka.read_kafka(server => 'k', subscribe => 'orders').")));
	if ((server == NULL) == (bootstrap == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(server == NULL ? "read_kafka needs server or bootstrapServers"
						: "read_kafka takes server or bootstrapServers, not both")));

	if (server != NULL)
		state->spec = kafka_connection_for_server(GetForeignServerByName(server, false), GetUserId());
	else
		state->spec = kafka_connection_for_bootstrap(bootstrap);
	if (!argnulls[RK_ARG_OPTIONS])
		kafka_connection_apply_call_options(state->spec, DatumGetJsonbP(args[RK_ARG_OPTIONS]));

	state->include_headers = !argnulls[RK_ARG_INCLUDE_HEADERS] &&
		DatumGetBool(args[RK_ARG_INCLUDE_HEADERS]);
	fail_on_data_loss = argnulls[RK_ARG_FAIL_ON_DATA_LOSS] ||
		DatumGetBool(args[RK_ARG_FAIL_ON_DATA_LOSS]);

	if (!argnulls[RK_ARG_STARTING_TIMESTAMP])
		starting_timestamp = timestamp_arg(args[RK_ARG_STARTING_TIMESTAMP],
										   argtypes[RK_ARG_STARTING_TIMESTAMP], "startingTimestamp");
	if (!argnulls[RK_ARG_ENDING_TIMESTAMP])
		ending_timestamp = timestamp_arg(args[RK_ARG_ENDING_TIMESTAMP],
										 argtypes[RK_ARG_ENDING_TIMESTAMP], "endingTimestamp");

	/* a short-lived client learns the partitions and their offsets */
	probe = kafka_client_create(state->spec, KAFKA_CLIENT_CONSUMER);
	state->ranges = kafka_source_partitions(probe, source_kind, source_text, source_name);

	/* Spark's precedence: timestamp > offsets-by-timestamp > offsets */
	if ((text = text_arg(args, argnulls, RK_ARG_STARTING_OFFSETS)) != NULL)
		kafka_ranges_apply_offsets(state->ranges, text, true, "startingOffsets");
	if ((text = text_arg(args, argnulls, RK_ARG_ENDING_OFFSETS)) != NULL)
		kafka_ranges_apply_offsets(state->ranges, text, false, "endingOffsets");
	if ((text = text_arg(args, argnulls, RK_ARG_STARTING_OFFSETS_BY_TIMESTAMP)) != NULL)
		apply_timestamps(state->ranges, text, true, "startingOffsetsByTimestamp");
	if ((text = text_arg(args, argnulls, RK_ARG_ENDING_OFFSETS_BY_TIMESTAMP)) != NULL)
		apply_timestamps(state->ranges, text, false, "endingOffsetsByTimestamp");
	if (!argnulls[RK_ARG_STARTING_TIMESTAMP] || !argnulls[RK_ARG_ENDING_TIMESTAMP])
	{
		ListCell   *lc;

		foreach(lc, state->ranges)
		{
			KafkaPartitionRange *r = lfirst(lc);

			if (!argnulls[RK_ARG_STARTING_TIMESTAMP])
				r->start_timestamp = starting_timestamp;
			if (!argnulls[RK_ARG_ENDING_TIMESTAMP])
				r->end_timestamp = ending_timestamp;
		}
	}
	kafka_resolve_ranges(probe, state->ranges, fail_on_data_loss);
	kafka_client_close(probe);
	kafka_ranges_notice_beyond_end(state->ranges, "startingOffsets");

	/* the reading client's queues are sized for this many partitions */
	kafka_spec_bound_fetch_memory(state->spec, list_length(state->ranges));
	state->client = kafka_client_create(state->spec, KAFKA_CLIENT_CONSUMER);
	state->reader = kafka_reader_start(state->client, state->ranges, fail_on_data_loss);

	if (state->include_headers)
	{
		state->header_type = get_element_type(TupleDescAttr(result_desc, RK_COL_HEADERS)->atttypid);
		if (!OidIsValid(state->header_type))
			elog(ERROR, "read_kafka headers column is not an array");
		state->header_desc = lookup_rowtype_tupdesc_copy(state->header_type, -1);
	}
	MemoryContextSwitchTo(old);
	return state;
}

Datum
kafka_bytes_datum(const void *data, size_t len)
{
	bytea	   *b;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("kafka record of %zu bytes is too large", len)));
	b = (bytea *) palloc(len + VARHDRSZ);
	SET_VARSIZE(b, len + VARHDRSZ);
	memcpy(VARDATA(b), data, len);
	return PointerGetDatum(b);
}

void
kafka_record_metadata(rd_kafka_message_t *msg, KafkaPartitionRange *range,
					  Datum *values, bool *nulls)
{
	rd_kafka_timestamp_type_t tstype;
	int64		ts = rd_kafka_message_timestamp(msg, &tstype);

	values[RK_COL_TOPIC] = range->topic_datum;
	nulls[RK_COL_TOPIC] = false;
	values[RK_COL_PARTITION] = Int32GetDatum(msg->partition);
	nulls[RK_COL_PARTITION] = false;
	values[RK_COL_OFFSET] = Int64GetDatum(msg->offset);
	nulls[RK_COL_OFFSET] = false;
	if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0)
	{
		nulls[RK_COL_TIMESTAMP] = true;
		nulls[RK_COL_TIMESTAMP_TYPE] = true;
	}
	else
	{
		values[RK_COL_TIMESTAMP] = TimestampTzGetDatum(ts * 1000 - KAFKA_UNIX_TO_POSTGRES_USECS);
		nulls[RK_COL_TIMESTAMP] = false;
		/* Spark's numbering: 0 CreateTime, 1 LogAppendTime */
		values[RK_COL_TIMESTAMP_TYPE] = Int32GetDatum(tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME ? 0 : 1);
		nulls[RK_COL_TIMESTAMP_TYPE] = false;
	}
}

Datum
kafka_headers_datum(rd_kafka_message_t *msg, Oid header_type, TupleDesc header_desc)
{
	rd_kafka_headers_t *headers;
	size_t		count;
	Datum	   *elems;
	size_t		i;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (rd_kafka_message_headers(msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return PointerGetDatum(construct_empty_array(header_type));
	count = rd_kafka_header_cnt(headers);
	elems = palloc(sizeof(Datum) * Max(count, 1));
	for (i = 0; i < count; i++)
	{
		const char *name;
		const void *value;
		size_t		size;
		Datum		fields[2];
		bool		fieldnulls[2] = {false, false};

		if (rd_kafka_header_get_all(headers, i, &name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		fields[0] = CStringGetTextDatum(name);
		if (value == NULL)
			fieldnulls[1] = true;
		else
			fields[1] = kafka_bytes_datum(value, size);
		elems[i] = HeapTupleGetDatum(heap_form_tuple(header_desc, fields, fieldnulls));
	}
	get_typlenbyvalalign(header_type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_array(elems, (int) i, header_type, typlen, typbyval, typalign));
}

bool
read_kafka_next(ReadKafkaState *state, Datum *values, bool *nulls)
{
	KafkaPartitionRange *range;
	rd_kafka_message_t *msg = kafka_reader_next(state->reader, &range);

	if (msg == NULL)
		return false;

	if (msg->key == NULL)
		nulls[RK_COL_KEY] = true;
	else
	{
		values[RK_COL_KEY] = kafka_bytes_datum(msg->key, msg->key_len);
		nulls[RK_COL_KEY] = false;
	}
	if (msg->payload == NULL)
		nulls[RK_COL_VALUE] = true;
	else
	{
		values[RK_COL_VALUE] = kafka_bytes_datum(msg->payload, msg->len);
		nulls[RK_COL_VALUE] = false;
	}
	kafka_record_metadata(msg, range, values, nulls);
	if (state->include_headers)
	{
		values[RK_COL_HEADERS] = kafka_headers_datum(msg, state->header_type, state->header_desc);
		nulls[RK_COL_HEADERS] = false;
	}
	else
		nulls[RK_COL_HEADERS] = true;
	state->rows++;
	return true;
}

void
read_kafka_end(ReadKafkaState *state)
{
	if (state == NULL)
		return;
	if (state->reader)
		kafka_reader_stop(state->reader);
	/* deleting the context closes the clients (memory-context callbacks) */
	MemoryContextDelete(state->context);
}

static void
read_kafka_shutdown(Datum arg)
{
	read_kafka_end((ReadKafkaState *) DatumGetPointer(arg));
}

/*
 * The plain function: value-per-call, used where the planner cannot put the
 * streaming scan (target lists, LATERAL arguments).
 */
Datum
read_kafka(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	ReadKafkaState *state;
	Datum		values[RK_NCOLS];
	bool		nulls[RK_NCOLS];

	if (SRF_IS_FIRSTCALL())
	{
		TupleDesc	desc;
		Datum		args[RK_NARGS];
		bool		argnulls[RK_NARGS];
		Oid			argtypes[RK_NARGS];
		int			i;
		MemoryContext old;
		ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "read_kafka must return a composite type");
		funcctx->tuple_desc = BlessTupleDesc(desc);
		for (i = 0; i < RK_NARGS; i++)
		{
			argnulls[i] = PG_ARGISNULL(i);
			args[i] = argnulls[i] ? (Datum) 0 : PG_GETARG_DATUM(i);
			argtypes[i] = get_fn_expr_argtype(fcinfo->flinfo, i);
		}
		state = read_kafka_begin(args, argnulls, argtypes, desc,
								 funcctx->multi_call_memory_ctx);
		funcctx->user_fctx = state;
		if (rsinfo && IsA(rsinfo, ReturnSetInfo) && rsinfo->econtext)
		{
			/* end the read, not only the memory, when the query stops early */
			RegisterExprContextCallback(rsinfo->econtext, read_kafka_shutdown,
										PointerGetDatum(state));
		}
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	state = funcctx->user_fctx;
	if (read_kafka_next(state, values, nulls))
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, values, nulls)));

	/* finished: end the read now and drop the early-stop callback */
	{
		ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

		if (rsinfo && IsA(rsinfo, ReturnSetInfo) && rsinfo->econtext)
			UnregisterExprContextCallback(rsinfo->econtext, read_kafka_shutdown,
										  PointerGetDatum(state));
		read_kafka_end(state);
	}
	SRF_RETURN_DONE(funcctx);
}

/*
 * Planner support: a row estimate, and, because the planner calls it while
 * planning a query that uses read_kafka, it loads this library before path
 * generation, so the streaming scan is offered even without
 * shared_preload_libraries.
 */
Datum
read_kafka_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestRows))
	{
		SupportRequestRows *req = (SupportRequestRows *) rawreq;

		req->rows = 10000;
		PG_RETURN_POINTER(req);
	}
	PG_RETURN_POINTER(NULL);
}
