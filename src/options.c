/*-------------------------------------------------------------------------
 *
 * options.c
 *	  The one option parser of kafka_fdw.
 *
 * Options arrive from five places: CREATE SERVER, CREATE USER MAPPING,
 * CREATE FOREIGN TABLE, column options and read_kafka(options => jsonb).  All
 * of them go through the table below (named options, with their Spark
 * spellings as aliases; the table options a format reads, with their
 * checks, come from the format table) or, for "kafka.<property>" names,
 * through the librdkafka property policy in common/kafka_properties.c.  Secrets are only
 * accepted in user mappings and never appear in a message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_collation.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/syscache.h"

#include <librdkafka/rdkafka.h>

#include "codec/codec.h"
#include "common/offset_spec.h"
#include "options.h"

#define SRV		KAFKA_CTX_SERVER
#define UM		KAFKA_CTX_USER_MAPPING
#define TBL		KAFKA_CTX_TABLE
#define COL		KAFKA_CTX_COLUMN

char	   *kafka_direct_connect_role = NULL;

typedef void (*OptionCheck) (const char *name, const char *value);

typedef struct KafkaOptionDef
{
	const char *name;
	const char *alias;			/* Spark/Databricks spelling, or NULL */
	unsigned	contexts;
	bool		secret;
	OptionCheck check;
} KafkaOptionDef;

static void check_bootstrap_servers(const char *name, const char *value);
static void check_security_protocol(const char *name, const char *value);
static void check_sasl_mechanism(const char *name, const char *value);
static void check_positive_int(const char *name, const char *value);
static void check_bool(const char *name, const char *value);
static void check_http_url(const char *name, const char *value);
static void check_server_file(const char *name, const char *value);
static void check_jaas(const char *name, const char *value);
static void check_password_required(const char *name, const char *value);
static void check_format(const char *name, const char *value);
static void check_on_error(const char *name, const char *value);
static void check_envelope(const char *name, const char *value);
static void check_offsets(const char *name, const char *value);
static void check_column_kind(const char *name, const char *value);

static const KafkaOptionDef option_defs[] = {
	/* servers */
	{"bootstrap_servers", "kafka.bootstrap.servers", SRV, false, check_bootstrap_servers},
	{"security_protocol", "kafka.security.protocol", SRV, false, check_security_protocol},
	{"sasl_mechanism", "kafka.sasl.mechanism", SRV, false, check_sasl_mechanism},
	{"connect_timeout", NULL, SRV, false, check_positive_int},
	{"message_timeout", NULL, SRV | TBL, false, check_positive_int},
	{"schema_registry_url", NULL, SRV, false, check_http_url},
	{"schema_registry_ca_location", NULL, SRV, false, check_server_file},
	/* user mappings */
	{"sasl_username", "kafka.sasl.username", UM, false, kafka_check_nonempty},
	{"sasl_password", "kafka.sasl.password", UM, true, NULL},
	{"kafka.sasl.jaas.config", NULL, UM, true, check_jaas},
	{"schema_registry_user", NULL, UM, false, kafka_check_nonempty},
	{"schema_registry_password", NULL, UM, true, NULL},
	{"password_required", NULL, UM, false, check_password_required},
	/* foreign tables */
	{"topic", NULL, TBL, false, kafka_check_nonempty},
	{"format", NULL, TBL, false, check_format},
	{"key_format", NULL, TBL, false, check_format},
	{"on_error", NULL, TBL, false, check_on_error},
	{"starting_offsets", NULL, TBL, false, check_offsets},
	{"ending_offsets", NULL, TBL, false, check_offsets},
	{"envelope", NULL, TBL, false, check_envelope},
	/* columns */
	{"kafka", NULL, COL, false, check_column_kind},
};

/*
 * A table option some format reads (the format table lists them with
 * their checks), as an entry of the table above.
 */
static const KafkaOptionDef *
find_format_option(const char *name)
{
	static KafkaOptionDef def;
	const KafkaFormatOption *option = kafka_format_table_option(name);

	if (option == NULL)
		return NULL;
	def.name = option->name;
	def.alias = NULL;
	def.contexts = TBL;
	def.secret = false;
	def.check = option->check;
	return &def;
}

/* Secret named options may never be echoed; neither may these aliases. */
static const KafkaOptionDef *
find_option(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(option_defs); i++)
	{
		if (strcmp(option_defs[i].name, name) == 0)
			return &option_defs[i];
		if (option_defs[i].alias && strcmp(option_defs[i].alias, name) == 0)
			return &option_defs[i];
	}
	/* Spark also spells the mechanism in the plural, as librdkafka does */
	if (strcmp(name, "kafka.sasl.mechanisms") == 0)
		return find_option("sasl_mechanism");
	return find_format_option(name);
}

unsigned
kafka_context_for_catalog(Oid catalog)
{
	switch (catalog)
	{
		case ForeignServerRelationId:
			return SRV;
		case UserMappingRelationId:
			return UM;
		case ForeignTableRelationId:
			return TBL;
		case AttributeRelationId:
			return COL;
		default:
			return 0;
	}
}

void
kafka_check_nonempty(const char *name, const char *value)
{
	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" must not be empty", name)));
}

static void
check_bootstrap_servers(const char *name, const char *value)
{
	char	   *copy = pstrdup(value);
	char	   *item;
	char	   *save;

	kafka_check_nonempty(name, value);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		char	   *colon;
		char	   *end;
		long		port;

		while (*item == ' ')
			item++;
		colon = strrchr(item, ':');
		if (colon == NULL || colon == item)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\" is not host:port", name, item),
					 errhint("Give a comma-separated list such as \"broker1:9092,broker2:9092\".")));
		port = strtol(colon + 1, &end, 10);
		while (*end == ' ')
			end++;
		if (*end != '\0' || port <= 0 || port > 65535)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"%s\": bad port in \"%s\"", name, item)));
	}
	pfree(copy);
}

/*
 * value must be one of valid[]; the hint lists them ("a, b and c").  Protocol
 * and mechanism names are case-insensitive like librdkafka's, our own
 * keywords are not.
 */
/* value is not one of valid_list ("a, b and c"). */
static void
invalid_value(const char *name, const char *value, const char *valid_list)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
			 errhint("Valid values are %s.", valid_list)));
}

static void
check_one_of(const char *name, const char *value, const char *const *valid,
			 int nvalid, bool ignore_case)
{
	StringInfoData list;
	int			i;

	for (i = 0; i < nvalid; i++)
		if ((ignore_case ? pg_strcasecmp(value, valid[i]) : strcmp(value, valid[i])) == 0)
			return;
	initStringInfo(&list);
	for (i = 0; i < nvalid; i++)
		appendStringInfo(&list, "%s%s", i == 0 ? "" : i == nvalid - 1 ? " and " : ", ",
						 valid[i]);
	invalid_value(name, value, list.data);
}

static void
check_security_protocol(const char *name, const char *value)
{
	static const char *const protocols[] = {
		"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"
	};

	check_one_of(name, value, protocols, lengthof(protocols), true);
}

static void
check_sasl_mechanism(const char *name, const char *value)
{
	static const char *const mechanisms[] = {
		"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER"
	};

	check_one_of(name, value, mechanisms, lengthof(mechanisms), true);
}

static void
check_positive_int(const char *name, const char *value)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || end == value || v <= 0 || v > 3600)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errhint("Give a whole number of seconds between 1 and 3600.")));
}

static void
check_bool(const char *name, const char *value)
{
	bool		b;

	if (!parse_bool(value, &b))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" requires a Boolean value", name)));
}

static void
check_http_url(const char *name, const char *value)
{
	if (pg_strncasecmp(value, "http://", 7) != 0 && pg_strncasecmp(value, "https://", 8) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": only http and https URLs are allowed", name)));

	/* user:password@host would put a secret in a server option */
	{
		const char *authority = strstr(value, "://") + 3;
		size_t		length = strcspn(authority, "/?#");

		if (memchr(authority, '@', length) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"%s\": credentials are not allowed in the URL", name),
					 errhint("Put schema_registry_user and schema_registry_password in a user mapping.")));
	}
}

/* A file on the database server: superuser only, absolute path. */
static void
check_server_file(const char *name, const char *value)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may set option \"%s\"", name),
				 errdetail("It reads a file on the database server.")));
	if (!is_absolute_path(value))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": the path must be absolute", name)));
}

static void
check_jaas(const char *name, const char *value)
{
	KafkaJaasModule module;
	char	   *user;
	char	   *password;
	const char *error;

	if (!kafka_parse_jaas_config(value, &module, &user, &password, &error))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": %s", name, error),
				 errhint("Expected e.g. org.apache.kafka.common.security.plain.PlainLoginModule required username=\"...\" password=\"...\";")));
	free(user);
	free(password);
}

static void
check_password_required(const char *name, const char *value)
{
	bool		required;

	check_bool(name, value);
	(void) parse_bool(value, &required);
	if (!required && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("password_required=false is superuser-only"),
				 errhint("User mappings with the password_required option set to false may only be created or modified by the superuser.")));
}

static void
check_format(const char *name, const char *value)
{
	if (kafka_format_find(value, false) == NULL)
		invalid_value(name, value, kafka_format_list(0, "", "and"));
}

static void
check_on_error(const char *name, const char *value)
{
	static const char *const policies[] = {"fail", "null", "skip"};

	check_one_of(name, value, policies, lengthof(policies), false);
}

static void
check_envelope(const char *name, const char *value)
{
	static const char *const envelopes[] = {"none", "debezium"};

	check_one_of(name, value, envelopes, lengthof(envelopes), false);
}

static void
check_offsets(const char *name, const char *value)
{
	KafkaOffsetSpec spec;
	char		err[256];

	if (!kafka_parse_offset_spec(value, true, false, &spec, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": %s", name, err)));
	kafka_offset_spec_free(&spec);
}

static void
check_column_kind(const char *name, const char *value)
{
	static const char *const kinds[] = {
		"key", "value", "partition", "offset", "timestamp", "timestamp_type",
		"headers", "topic", "error", "rescued", "op", "source_ts", "source_lsn"
	};
	int			i;

	for (i = 0; i < lengthof(kinds); i++)
		if (strcmp(value, kinds[i]) == 0)
			return;
	if (strncmp(value, "header:", 7) == 0 && value[7] != '\0')
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for column option \"%s\": \"%s\"", name, value),
			 errhint("Valid values are key, value, partition, offset, timestamp, timestamp_type, headers, topic, error, rescued, header:<name>, and for envelope 'debezium' op, source_ts and source_lsn.")));
}

/*
 * Check one "kafka.<property>" passthrough against the policy and against
 * librdkafka's own rules for its value; ereport with the property's name
 * (never a secret's value) when it is not allowed.  A Java client name is
 * checked as the librdkafka property it stands for, and the messages name
 * both.  Returns librdkafka's name for it, or NULL when there is nothing to
 * set (a value kafka_fdw always uses).
 */
static const char *
check_property(const char *display_name, const char *property,
			   const char *value, unsigned context)
{
	KafkaPropertyCheck c = kafka_property_check(property, value, context, superuser());
	const char *as = "";

	if (c.property != NULL && strcmp(c.property, property) != 0)
		as = psprintf(" (librdkafka's \"%s\"%s%s)", c.property,
					  c.unit ? ", " : "", c.unit ? c.unit : "");

	switch (c.verdict)
	{
		case KAFKA_PROPERTY_OK:
			return c.property;
		case KAFKA_PROPERTY_UNKNOWN:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("librdkafka property \"%s\" is not supported by kafka_fdw", display_name),
					 errhint("Only properties on the kafka_fdw allowlist can be passed through; see \"librdkafka properties\" in doc/security.md.")));
			break;
		case KAFKA_PROPERTY_NO_EQUIVALENT:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("Kafka client property \"%s\" has no equivalent in kafka_fdw", display_name),
					 errhint("%s", c.why)));
			break;
		case KAFKA_PROPERTY_OWNED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("librdkafka property \"%s\" cannot be set", display_name),
					 errdetail("kafka_fdw sets it itself: %s.", c.why)));
			break;
		case KAFKA_PROPERTY_REFUSED:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("librdkafka property \"%s\"%s is not allowed", display_name, as),
					 errdetail("It is refused for every user because %s.", c.why)));
			break;
		case KAFKA_PROPERTY_SUPERUSER:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only superusers may set librdkafka property \"%s\"%s%s", display_name, as,
							c.value_rule ? " to this value" : ""),
					 errdetail("It is restricted because %s.", c.why)));
			break;
		case KAFKA_PROPERTY_WRONG_PLACE:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("librdkafka property \"%s\"%s is not allowed in %s", display_name, as,
							kafka_context_names(context)),
					 errhint("It may be set in: %s.", kafka_context_names(c.allowed_contexts))));
			break;
		case KAFKA_PROPERTY_SECRET_PLACE:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("librdkafka property \"%s\"%s is a secret and is only accepted in a user mapping",
							display_name, as)));
			break;
		case KAFKA_PROPERTY_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("value for librdkafka property \"%s\"%s exceeds the limit for non-superusers",
							display_name, as),
					 errdetail("The limit is " INT64_FORMAT ".", (int64) c.bound)));
			break;
		case KAFKA_PROPERTY_BAD_VALUE:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for librdkafka property \"%s\"%s: a whole number is required",
							display_name, as)));
			break;
		case KAFKA_PROPERTY_INVALID:
			/* librdkafka's words may quote the value: none for a secret */
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for librdkafka property \"%s\"%s", display_name, as),
					 c.detail[0] != '\0' ? errdetail("%s.", c.detail) :
					 errdetail("The value is not shown because the property is a secret.")));
			break;
		case KAFKA_PROPERTY_UNSUPPORTED:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("librdkafka property \"%s\"%s is not supported by the installed librdkafka",
							display_name, as),
					 errdetail("librdkafka %s says: %s.", rd_kafka_version_str(), c.detail)));
			break;
		case KAFKA_PROPERTY_CONFLICT:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for librdkafka property \"%s\"%s: \"%s\"", display_name, as, value),
					 errdetail("It contradicts what kafka_fdw sets itself: %s.", c.why)));
			break;
	}
	return NULL;				/* keep compiler quiet */
}

/* Foreign-table options that are valid alone but not together. */
static void
check_table_combinations(List *options)
{
	char	   *envelope = kafka_option_value(options, "envelope");
	char	   *format = kafka_option_value(options, "format");

	/* a change event is a record: only formats with records carry one */
	if (envelope != NULL && strcmp(envelope, "none") != 0 && format != NULL &&
		(kafka_format_by_name(format)->flags & KAFKA_FORMAT_ENVELOPES) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"envelope\" '%s' needs format %s, not '%s'",
						envelope, kafka_format_list(KAFKA_FORMAT_ENVELOPES, "'", "or"),
						format)));
	kafka_format_check_table_options(options);
}

void
kafka_validate_options(List *options, unsigned context)
{
	ListCell   *lc;
	List	   *seen = NIL;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const KafkaOptionDef *opt = find_option(def->defname);
		char	   *value = defGetString(def);
		const char *canonical;

		if (opt != NULL)
		{
			if ((opt->contexts & context) == 0)
			{
				if (opt->secret)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
							 errmsg("option \"%s\" is a secret and is only accepted in a user mapping",
									def->defname)));
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is not allowed in %s options", def->defname,
								kafka_context_names(context)),
						 errhint("It belongs in the %s options.", kafka_context_names(opt->contexts))));
			}
			if (opt->check)
				opt->check(def->defname, value);
			canonical = opt->name;
		}
		else if (strncmp(def->defname, "kafka.", 6) == 0 &&
				 (context & (SRV | UM)) != 0)
		{
			canonical = check_property(def->defname, def->defname + 6, value, context);
			if (canonical == NULL)
				canonical = def->defname + 6;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("invalid option \"%s\" for %s", def->defname, kafka_context_names(context)),
					 (context & (SRV | UM)) ?
					 errhint("librdkafka properties are written with a \"kafka.\" prefix, e.g. \"kafka.client.id\".") : 0));

		/* an option and its alias are the same option */
		if (list_member(seen, makeString((char *) canonical)))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" is given more than once", def->defname)));
		seen = lappend(seen, makeString((char *) canonical));
	}
	if (context == TBL)
		check_table_combinations(options);
}

char *
kafka_option_value(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const KafkaOptionDef *opt = find_option(def->defname);

		if (strcmp(def->defname, name) == 0 ||
			(opt != NULL && strcmp(opt->name, name) == 0))
			return defGetString(def);
	}
	return NULL;
}

void
kafka_spec_set_property(KafkaConnectionSpec *spec, const char *name,
						const char *value)
{
	ListCell   *lc;

	foreach(lc, spec->properties)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
		{
			def->arg = (Node *) makeString(pstrdup(value));
			return;
		}
	}
	spec->properties = lappend(spec->properties,
							   makeDefElem(pstrdup(name), (Node *) makeString(pstrdup(value)), -1));
}

const char *
kafka_spec_get_property(KafkaConnectionSpec *spec, const char *name)
{
	ListCell   *lc;

	foreach(lc, spec->properties)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return strVal(def->arg);
	}
	return NULL;
}

static void
add_secret(KafkaConnectionSpec *spec, const char *value)
{
	if (value && value[0] != '\0')
		spec->secrets = lappend(spec->secrets, pstrdup(value));
}

/*
 * Set one "kafka.<property>" option, already checked, in a spec: under
 * librdkafka's name, with its value in librdkafka's units.
 */
static void
set_passthrough(KafkaConnectionSpec *spec, const char *property, const char *value)
{
	char		buf[32];
	KafkaPropertyTranslation t = kafka_property_translate(property, value, buf, sizeof(buf));

	if (t.kind != KAFKA_TRANSLATION_SAME && t.kind != KAFKA_TRANSLATION_RENAMED)
		return;
	kafka_spec_set_property(spec, t.property, t.value);
	if (kafka_property_is_secret(t.property))
		add_secret(spec, value);
}

/* Copy "kafka.<property>" passthrough options of a catalog into the spec. */
static void
collect_passthrough(KafkaConnectionSpec *spec, List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (find_option(def->defname) == NULL && strncmp(def->defname, "kafka.", 6) == 0)
			set_passthrough(spec, def->defname + 6, defGetString(def));
	}
}

/*
 * The user mapping for userid on the server, falling back to PUBLIC; NULL when
 * there is none (GetUserMapping would raise an error instead).
 */
static List *
lookup_user_mapping_options(Oid userid, Oid serverid, bool *found)
{
	HeapTuple	tp;
	Datum		datum;
	bool		isnull;
	List	   *options = NIL;

	tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
						 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
	{
		*found = false;
		return NIL;
	}
	*found = true;
	datum = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp, Anum_pg_user_mapping_umoptions, &isnull);
	if (!isnull)
		options = untransformRelOptions(datum);
	ReleaseSysCache(tp);
	return options;
}

static KafkaConnectionSpec *
new_spec(void)
{
	KafkaConnectionSpec *spec = palloc0(sizeof(KafkaConnectionSpec));

	spec->connect_timeout_ms = 10000;
	spec->message_timeout_ms = 30000;
	return spec;
}

/* Is "kafka.<property>" set (non-empty) in a catalog's option list? */
static bool
has_passthrough(List *options, const char *property)
{
	char	   *name = psprintf("kafka.%s", property);
	char	   *value = kafka_option_value(options, name);

	pfree(name);
	return value != NULL && value[0] != '\0';
}

/* For password_required: does the connection present the mapping's own credential? */
static bool
mapping_credential_used(KafkaConnectionSpec *spec, List *um_options)
{
	KafkaCredentialFacts facts = {0};
	const char *certificate_pem = kafka_spec_get_property(spec, "ssl.certificate.pem");
	const char *certificate_location = kafka_spec_get_property(spec, "ssl.certificate.location");

	facts.security_protocol = spec->security_protocol;
	facts.sasl_mechanism = spec->sasl_mechanism;
	facts.sasl_username = spec->sasl_username;
	facts.sasl_password = spec->sasl_password;
	facts.oauthbearer_method = kafka_spec_get_property(spec, "sasl.oauthbearer.method");
	facts.oauthbearer_client_secret = kafka_option_value(um_options, "kafka.sasl.oauthbearer.client.secret");
	facts.mapping_has_key = has_passthrough(um_options, "ssl.key.pem") ||
		has_passthrough(um_options, "ssl.key.location");
	facts.mapping_has_keystore = has_passthrough(um_options, "ssl.keystore.location");
	facts.has_certificate = (certificate_pem != NULL && certificate_pem[0] != '\0') ||
		(certificate_location != NULL && certificate_location[0] != '\0');
	return kafka_connection_uses_credential(&facts);
}

KafkaConnectionSpec *
kafka_connection_for_server(ForeignServer *server, Oid userid)
{
	KafkaConnectionSpec *spec = new_spec();
	List	   *um_options;
	bool		have_mapping;
	char	   *value;
	bool		password_required = true;
	AclResult	aclresult;

	aclresult = pg_foreign_server_aclcheck(server->serverid, userid, ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);

	spec->server_name = pstrdup(server->servername);
	spec->bootstrap_servers = kafka_option_value(server->options, "bootstrap_servers");
	if (spec->bootstrap_servers == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no bootstrap_servers option", server->servername)));
	spec->security_protocol = kafka_option_value(server->options, "security_protocol");
	if (spec->security_protocol)
		spec->security_protocol = str_tolower(spec->security_protocol, strlen(spec->security_protocol), C_COLLATION_OID);
	spec->sasl_mechanism = kafka_option_value(server->options, "sasl_mechanism");
	if (spec->sasl_mechanism)
		spec->sasl_mechanism = str_toupper(spec->sasl_mechanism, strlen(spec->sasl_mechanism), C_COLLATION_OID);
	if ((value = kafka_option_value(server->options, "connect_timeout")) != NULL)
		spec->connect_timeout_ms = atoi(value) * 1000;
	if ((value = kafka_option_value(server->options, "message_timeout")) != NULL)
		spec->message_timeout_ms = atoi(value) * 1000;
	spec->schema_registry_url = kafka_option_value(server->options, "schema_registry_url");
	spec->schema_registry_ca_location = kafka_option_value(server->options,
														   "schema_registry_ca_location");
	collect_passthrough(spec, server->options);

	um_options = lookup_user_mapping_options(userid, server->serverid, &have_mapping);
	spec->sasl_username = kafka_option_value(um_options, "sasl_username");
	spec->sasl_password = kafka_option_value(um_options, "sasl_password");
	spec->schema_registry_user = kafka_option_value(um_options, "schema_registry_user");
	spec->schema_registry_password = kafka_option_value(um_options, "schema_registry_password");
	if ((value = kafka_option_value(um_options, "password_required")) != NULL)
		(void) parse_bool(value, &password_required);
	if ((value = kafka_option_value(um_options, "kafka.sasl.jaas.config")) != NULL)
	{
		KafkaJaasModule module;
		char	   *user;
		char	   *password;
		const char *error;

		if (!kafka_parse_jaas_config(value, &module, &user, &password, &error))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"kafka.sasl.jaas.config\": %s", error)));
		spec->sasl_username = pstrdup(user);
		spec->sasl_password = pstrdup(password);
		free(user);
		free(password);
		if (module == KAFKA_JAAS_PLAIN)
		{
			if (spec->sasl_mechanism == NULL)
				spec->sasl_mechanism = "PLAIN";
			else if (strcmp(spec->sasl_mechanism, "PLAIN") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("kafka.sasl.jaas.config uses PlainLoginModule but server \"%s\" has sasl_mechanism %s",
								server->servername, spec->sasl_mechanism)));
		}
		else if (spec->sasl_mechanism == NULL ||
				 strncmp(spec->sasl_mechanism, "SCRAM-", 6) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("kafka.sasl.jaas.config uses ScramLoginModule but server \"%s\" has no SCRAM sasl_mechanism",
							server->servername),
					 errhint("Set sasl_mechanism to SCRAM-SHA-256 or SCRAM-SHA-512 on the server, as kafka.sasl.mechanism is set in Spark.")));
	}
	collect_passthrough(spec, um_options);
	add_secret(spec, spec->sasl_password);
	add_secret(spec, spec->schema_registry_password);

	if (spec->sasl_password != NULL &&
		(spec->security_protocol == NULL || strncmp(spec->security_protocol, "sasl_", 5) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("the user mapping gives SASL credentials but server \"%s\" has security_protocol %s",
						server->servername, spec->security_protocol ? spec->security_protocol : "plaintext"),
				 errhint("Set security_protocol to sasl_ssl (or sasl_plaintext) on the server.")));

	/*
	 * As postgres_fdw does: a non-superuser may not use the database server's
	 * own network position to reach a broker that asks for no credentials,
	 * unless a superuser said so on the mapping.  Only a credential the
	 * connection really presents counts: a key under a plaintext protocol,
	 * or a password for a mechanism that ignores it, proves nothing.
	 */
	if (!superuser_arg(userid))
	{
		if (!have_mapping)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("user mapping not found for user \"%s\" on server \"%s\"",
							GetUserNameFromId(userid, false), server->servername)));
		if (password_required && !mapping_credential_used(spec, um_options))
			ereport(ERROR,
					(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
					 errmsg("password is required"),
					 errdetail("Non-superusers must give credentials that the connection uses in the user mapping for server \"%s\": "
							   "sasl_username and sasl_password with sasl_mechanism PLAIN or SCRAM over security_protocol sasl_plaintext or sasl_ssl, "
							   "an OAUTHBEARER client secret with sasl.oauthbearer.method oidc, "
							   "or a TLS client key with its certificate over security_protocol ssl or sasl_ssl.",
							   server->servername),
					 errhint("A superuser may set password_required 'false' on the user mapping for a broker that needs no credentials.")));
	}
	return spec;
}

KafkaConnectionSpec *
kafka_connection_for_bootstrap(const char *servers)
{
	KafkaConnectionSpec *spec;

	if (!superuser())
	{
		Oid			roleid = InvalidOid;

		if (kafka_direct_connect_role && kafka_direct_connect_role[0] != '\0')
			roleid = get_role_oid(kafka_direct_connect_role, true);
		if (!OidIsValid(roleid) || !has_privs_of_role(GetUserId(), roleid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to use bootstrapServers directly"),
					 errhint("Use server => '<name>' with a kafka_fdw server you have USAGE on, or ask an administrator to grant you the role named in kafka_fdw.direct_connect_role.")));
	}
	check_bootstrap_servers("bootstrapServers", servers);
	spec = new_spec();
	spec->bootstrap_servers = pstrdup(servers);
	return spec;
}

void
kafka_connection_apply_call_options(KafkaConnectionSpec *spec, Jsonb *options)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object of librdkafka properties")));

	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			const char *property = strncmp(key, "kafka.", 6) == 0 ? key + 6 : key;
			char	   *value;

			switch (v.type)
			{
				case jbvString:
					value = pnstrdup(v.val.string.val, v.val.string.len);
					break;
				case jbvNumeric:
					value = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
					break;
				case jbvBool:
					value = v.val.boolean ? "true" : "false";
					break;
				default:
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("option \"%s\" needs a string, number or boolean value", key)));
			}
			/* named options (brokers, protocol, credentials) never per call */
			if (find_option(key) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" cannot be given per call", key),
						 errhint("Per-call options may only tune fetching; connection settings belong to the server and user mapping.")));
			(void) check_property(key, property, value, KAFKA_CTX_CALL);
			set_passthrough(spec, property, value);
		}
	}
}

void
kafka_check_topic_name(const char *name, const char *what)
{
	if (!kafka_topic_name_valid(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kafka topic name for %s: \"%s\"", what, name),
				 errhint("A topic name has 1 to 249 characters among letters, digits, '.', '_' and '-'.")));
}
