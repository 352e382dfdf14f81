/*-------------------------------------------------------------------------
 *
 * kafka_fdw.c
 *	  Module entry point: GUCs, hooks and the FDW validator.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "client.h"
#include "fdw/fdw_scan.h"
#include "options.h"
#include "produce/producer.h"
#include "read/read_kafka.h"
#include "stream/stream.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(kafka_fdw_validator);
PG_FUNCTION_INFO_V1(kafka_client_config);

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("kafka_fdw.direct_connect_role",
							   "Role whose members may give bootstrapServers to read_kafka directly.",
							   "Everyone else must name a kafka_fdw server they have USAGE on. Empty: superusers only.",
							   &kafka_direct_connect_role,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	kafka_scan_node_init();
	kafka_fdw_scan_init();
	kafka_produce_init();
	kafka_stream_init();

	/*
	 * Last: reserving the prefix drops the settings of every kafka_fdw.*
	 * variable not defined yet, those of postgresql.conf included.
	 */
	MarkGUCPrefixReserved("kafka_fdw");
}

Datum
kafka_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	unsigned	context = kafka_context_for_catalog(catalog);

	if (context == 0)
	{
		if (options != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("the kafka_fdw foreign-data wrapper takes no options"),
					 errhint("Put connection options on a server: CREATE SERVER ... FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '...').")));
		PG_RETURN_VOID();
	}
	kafka_validate_options(options, context);
	PG_RETURN_VOID();
}

/*
 * kafka.client_config(server, options): the librdkafka configuration a read
 * through this server would use, secrets masked.  Lets users (and tests) see
 * that SASL/SSL settings arrive and that owned properties are forced.
 */
Datum
kafka_client_config(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KafkaConnectionSpec *spec;
	List	   *pairs;
	ListCell   *lc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	spec = kafka_connection_for_server(GetForeignServerByName(text_to_cstring(PG_GETARG_TEXT_PP(0)), false),
									   GetUserId());
	if (!PG_ARGISNULL(1))
		kafka_connection_apply_call_options(spec, PG_GETARG_JSONB_P(1));
	pairs = kafka_client_config_dump(spec, KAFKA_CLIENT_CONSUMER);
	foreach(lc, pairs)
	{
		List	   *pair = lfirst(lc);
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(linitial(pair));
		values[1] = CStringGetTextDatum(lsecond(pair));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
