/*-------------------------------------------------------------------------
 *
 * kafka_test_broker.c
 *	  Loopback Kafka broker for the kafka_fdw test suite, demo and benchmarks.
 *
 * A thin shell around librdkafka's mock cluster (rdkafka_mock.h): a real
 * Kafka protocol implementation listening on 127.0.0.1 that kcat,
 * confluent-kafka, kafkajs and kafka_fdw itself talk to like any broker.
 * On top of it this program adds what tests need and the mock API offers:
 * explicit topic creation, broker down/up, leader moves, latency and error
 * injection, all driven at run time over a line-based control socket so a
 * test can break the cluster in the middle of a query.
 *
 * Usage:
 *	  kafka_test_broker [--brokers N] --state-dir DIR [--topic NAME:PARTITIONS]...
 *						[--exit-with-parent] [--log-level N]
 *	  kafka_test_broker ctl DIR COMMAND [ARG...]
 *
 * Once the cluster is up, DIR/control_port and then DIR/bootstrap are
 * written (each atomically: temporary file + rename), so a reader that sees
 * DIR/bootstrap can rely on both.  Both are removed on a clean exit.
 *
 * Control protocol: one command per line on 127.0.0.1:<control_port>, one
 * reply line per command starting with "ok" or "error".  See usage() for
 * the commands.
 *
 * Behaviour of librdkafka 2.0.2's mock cluster worth knowing when writing
 * tests (observed with this program, kcat and confluent-kafka):
 *
 * - Topic auto-creation: a Metadata request naming an unknown topic creates
 *	 it, with 4 partitions, whatever the client's allow.auto.create.topics
 *	 says: producers, kcat -C, and confluent-kafka consumers (list_topics,
 *	 subscribe, assign) all do.  So naming a missing topic never yields
 *	 UNKNOWN_TOPIC_OR_PART; to test that path use
 *	 "topic_error NAME UNKNOWN_TOPIC_OR_PART" (the topic then exists but
 *	 Metadata reports the error for it; "topic_error NAME 0" clears it).
 *	 Create topics explicitly (--topic or create_topic) before any client
 *	 looks at them, so the partition count is the one the test expects.
 * - There is no CreateTopics/DeleteTopics/DeleteRecords admin API, and no
 *	 way to delete a topic at all: use fresh topic names per test.
 * - Retention: each partition keeps at most ~5 MiB or 100000 message sets;
 *	 beyond that the oldest segments are dropped and the low watermark
 *	 moves forward (12000 records of 1 kB: low watermark 6982).  That is how
 *	 to provoke "offsets aged out" (data loss).
 * - broker_down closes the broker's listener and connections: clients get
 *	 "Connection refused".  It does NOT move partition leadership: a
 *	 partition led by a down broker stays unavailable (fetches hang and time
 *	 out, metadata still names the down leader) until broker_up or
 *	 "leader TOPIC PARTITION OTHER_BROKER"; the data survives a leader move.
 * - ListOffsets by timestamp returns -1 (offsetsForTimes finds nothing).
 * - Produce responses carry LogAppendTime 1234, so a producer's delivery
 *	 report shows that timestamp; consumers see the CreateTime the producer
 *	 set.
 * - No SASL or TLS: a client configured for SASL fails with "SASL Handshake
 *	 not supported by broker (required by mechanism PLAIN)".
 * - Transactions are accepted but aborted records are served to
 *	 read_committed consumers and no control records are written.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_CLIENTS 32
#define MAX_LINE 4096
#define MAX_ARGS 16

typedef struct ControlClient
{
	int			fd;
	size_t		used;
	char		buf[MAX_LINE];
} ControlClient;

static rd_kafka_mock_cluster_t *cluster;
static int	broker_count = 3;
static const char *state_dir;
static volatile sig_atomic_t stop_requested = 0;
static int	wakeup_pipe[2] = {-1, -1};

/* Kafka protocol request types, for request_errors and friends. */
static const struct
{
	const char *name;
	int			key;
}			api_keys[] =
{
	{"Produce", 0},
	{"Fetch", 1},
	{"ListOffsets", 2},
	{"Metadata", 3},
	{"OffsetCommit", 8},
	{"OffsetFetch", 9},
	{"FindCoordinator", 10},
	{"JoinGroup", 11},
	{"Heartbeat", 12},
	{"LeaveGroup", 13},
	{"SyncGroup", 14},
	{"DescribeGroups", 15},
	{"ListGroups", 16},
	{"SaslHandshake", 17},
	{"ApiVersions", 18},
	{"CreateTopics", 19},
	{"DeleteTopics", 20},
	{"DeleteRecords", 21},
	{"InitProducerId", 22},
	{"OffsetForLeaderEpoch", 23},
	{"AddPartitionsToTxn", 24},
	{"AddOffsetsToTxn", 25},
	{"EndTxn", 26},
	{"TxnOffsetCommit", 28},
	{"DescribeConfigs", 32},
	{"SaslAuthenticate", 36},
	{"OffsetDelete", 47},
};

static void
usage(FILE *out)
{
	fprintf(out,
			"usage: kafka_test_broker [--brokers N] --state-dir DIR\n"
			"                         [--topic NAME:PARTITIONS[:REPLICATION]]...\n"
			"                         [--exit-with-parent] [--log-level 0-7]\n"
			"       kafka_test_broker ctl DIR COMMAND [ARG...]\n"
			"\n"
			"control commands (one per line, reply \"ok ...\" or \"error ...\"):\n"
			"  ping\n"
			"  bootstrap                         print the bootstrap servers\n"
			"  create_topic NAME PARTITIONS [REPLICATION]\n"
			"  broker_down ID|all                refuse connections\n"
			"  broker_up ID|all\n"
			"  leader TOPIC PARTITION BROKER_ID  (-1: leaderless)\n"
			"  follower TOPIC PARTITION BROKER_ID\n"
			"  rtt ID|all MS                     delay every response\n"
			"  request_errors APIKEY COUNT ERRCODE\n"
			"                                    the next COUNT requests of APIKEY fail\n"
			"  broker_request_errors ID APIKEY COUNT ERRCODE [RTT_MS]\n"
			"  error_count ID APIKEY             pending broker_request_errors\n"
			"  clear_errors APIKEY               drop pending request_errors\n"
			"  topic_error TOPIC ERRCODE         Metadata error for TOPIC (0 clears)\n"
			"  coordinator group|transaction KEY BROKER_ID\n"
			"  apiversion APIKEY MIN MAX         (-1 -1 disables the API)\n"
			"  shutdown\n"
			"APIKEY is a number or a name (Fetch, Produce, Metadata, ListOffsets,\n"
			"OffsetCommit, ...); ERRCODE is a number or a librdkafka error name\n"
			"(NOT_LEADER_FOR_PARTITION, _TRANSPORT, RD_KAFKA_RESP_ERR_... also works).\n");
}

static void
die(const char *fmt,...)
{
	va_list		ap;

	fputs("kafka_test_broker: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
handle_stop_signal(int signo)
{
	int			saved_errno = errno;

	(void) signo;
	stop_requested = 1;
	if (wakeup_pipe[1] >= 0)
	{
		ssize_t		rc = write(wakeup_pipe[1], "x", 1);

		(void) rc;
	}
	errno = saved_errno;
}

static int
parse_int(const char *s, long min, long max, long *out)
{
	char	   *end;
	long		v;

	if (s == NULL || *s == '\0')
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return 0;
	*out = v;
	return 1;
}

/* Broker id argument: a number in 1..broker_count, or "all"/-1. */
static int
parse_broker_id(const char *s, int allow_all, int32_t *out)
{
	long		v;

	if (allow_all && (strcmp(s, "all") == 0 || strcmp(s, "-1") == 0))
	{
		*out = -1;
		return 1;
	}
	if (!parse_int(s, 1, broker_count, &v))
		return 0;
	*out = (int32_t) v;
	return 1;
}

static int
parse_api_key(const char *s, int16_t *out)
{
	long		v;
	size_t		i;

	if (parse_int(s, 0, 100, &v))
	{
		*out = (int16_t) v;
		return 1;
	}
	for (i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++)
	{
		if (strcasecmp(s, api_keys[i].name) == 0)
		{
			*out = (int16_t) api_keys[i].key;
			return 1;
		}
	}
	return 0;
}

static int
parse_error_code(const char *s, rd_kafka_resp_err_t *out)
{
	const struct rd_kafka_err_desc *descs;
	size_t		count;
	size_t		i;
	long		v;

	if (parse_int(s, INT_MIN, INT_MAX, &v))
	{
		*out = (rd_kafka_resp_err_t) v;
		return 1;
	}
	if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
		s += 18;
	rd_kafka_get_err_descs(&descs, &count);
	for (i = 0; i < count; i++)
	{
		if (descs[i].name && strcasecmp(s, descs[i].name) == 0)
		{
			*out = descs[i].code;
			return 1;
		}
	}
	return 0;
}

/* Topic names as Kafka allows them: [A-Za-z0-9._-], at most 249 bytes. */
static int
valid_topic_name(const char *s)
{
	size_t		n = strlen(s);
	size_t		i;

	if (n == 0 || n > 249)
		return 0;
	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return 0;
	}
	return 1;
}

static int	reply_error(char *reply, size_t reply_size, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* Formats an "error ..." reply; returns 0 (keep serving) for brevity. */
static int
reply_error(char *reply, size_t reply_size, const char *fmt,...)
{
	va_list		ap;
	int			n = snprintf(reply, reply_size, "error ");

	va_start(ap, fmt);
	vsnprintf(reply + n, reply_size - (size_t) n, fmt, ap);
	va_end(ap);
	return 0;
}

static rd_kafka_resp_err_t
create_topic(const char *name, int partitions, int replication)
{
	return rd_kafka_mock_topic_create(cluster, name, partitions, replication);
}

/*
 * Runs one control command; writes the reply line (without newline) into
 * reply.  Returns 1 if the broker should shut down.
 */
static int
run_command(char *line, char *reply, size_t reply_size)
{
	char	   *argv[MAX_ARGS];
	int			argc = 0;
	char	   *save = NULL;
	char	   *tok;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	const char *cmd;
	long		n1,
				n2;
	int32_t		broker;
	int16_t		api_key;
	rd_kafka_resp_err_t code;

#define REPLY(...) snprintf(reply, reply_size, __VA_ARGS__)
#define NEED_ARGS(lo, hi, syntax) \
	do { \
		if (argc - 1 < (lo) || argc - 1 > (hi)) \
		{ \
			REPLY("error usage: %s", syntax); \
			return 0; \
		} \
	} while (0)

	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
		 tok = strtok_r(NULL, " \t\r\n", &save))
	{
		if (argc == MAX_ARGS)
		{
			REPLY("error too many arguments");
			return 0;
		}
		argv[argc++] = tok;
	}
	if (argc == 0)
	{
		REPLY("error empty command");
		return 0;
	}
	cmd = argv[0];

	if (strcmp(cmd, "ping") == 0)
	{
		NEED_ARGS(0, 0, "ping");
		REPLY("ok pong");
	}
	else if (strcmp(cmd, "bootstrap") == 0)
	{
		NEED_ARGS(0, 0, "bootstrap");
		REPLY("ok %s", rd_kafka_mock_cluster_bootstraps(cluster));
	}
	else if (strcmp(cmd, "create_topic") == 0)
	{
		n2 = broker_count < 3 ? broker_count : 3;
		NEED_ARGS(2, 3, "create_topic NAME PARTITIONS [REPLICATION]");
		if (!valid_topic_name(argv[1]))
			return reply_error(reply, reply_size, "invalid topic name \"%s\"", argv[1]);
		if (!parse_int(argv[2], 1, 100000, &n1))
			return reply_error(reply, reply_size, "invalid partition count \"%s\"", argv[2]);
		if (argc > 3 && !parse_int(argv[3], 1, broker_count, &n2))
			return reply_error(reply, reply_size, "replication factor must be 1..%d", broker_count);
		err = create_topic(argv[1], (int) n1, (int) n2);
		if (!err)
			REPLY("ok created %s with %ld partitions", argv[1], n1);
	}
	else if (strcmp(cmd, "broker_down") == 0 || strcmp(cmd, "broker_up") == 0)
	{
		NEED_ARGS(1, 1, "broker_down|broker_up ID|all");
		if (!parse_broker_id(argv[1], 1, &broker))
			return reply_error(reply, reply_size, "unknown broker \"%s\" (1..%d or all)", argv[1], broker_count);
		if (cmd[7] == 'd')
			err = rd_kafka_mock_broker_set_down(cluster, broker);
		else
			err = rd_kafka_mock_broker_set_up(cluster, broker);
		if (!err)
			REPLY("ok broker %s %s", argv[1], cmd[7] == 'd' ? "down" : "up");
	}
	else if (strcmp(cmd, "leader") == 0 || strcmp(cmd, "follower") == 0)
	{
		NEED_ARGS(3, 3, "leader|follower TOPIC PARTITION BROKER_ID");
		if (!parse_int(argv[2], 0, INT32_MAX, &n1))
			return reply_error(reply, reply_size, "invalid partition \"%s\"", argv[2]);
		if (!parse_int(argv[3], -1, INT32_MAX, &n2))
			return reply_error(reply, reply_size, "invalid broker id \"%s\"", argv[3]);
		if (cmd[0] == 'l')
			err = rd_kafka_mock_partition_set_leader(cluster, argv[1],
													 (int32_t) n1, (int32_t) n2);
		else
			err = rd_kafka_mock_partition_set_follower(cluster, argv[1],
													   (int32_t) n1, (int32_t) n2);
		if (!err)
			REPLY("ok %s of %s [%ld] is %ld", cmd, argv[1], n1, n2);
	}
	else if (strcmp(cmd, "rtt") == 0)
	{
		NEED_ARGS(2, 2, "rtt ID|all MS");
		if (!parse_broker_id(argv[1], 1, &broker))
			return reply_error(reply, reply_size, "unknown broker \"%s\" (1..%d or all)", argv[1], broker_count);
		if (!parse_int(argv[2], 0, 3600000, &n1))
			return reply_error(reply, reply_size, "invalid rtt \"%s\"", argv[2]);
		err = rd_kafka_mock_broker_set_rtt(cluster, broker, (int) n1);
		if (!err)
			REPLY("ok rtt of broker %s is %ld ms", argv[1], n1);
	}
	else if (strcmp(cmd, "request_errors") == 0)
	{
		rd_kafka_resp_err_t *codes;
		long		i;

		NEED_ARGS(3, 3, "request_errors APIKEY COUNT ERRCODE");
		if (!parse_api_key(argv[1], &api_key))
			return reply_error(reply, reply_size, "unknown api key \"%s\"", argv[1]);
		if (!parse_int(argv[2], 1, 1000000, &n1))
			return reply_error(reply, reply_size, "invalid count \"%s\"", argv[2]);
		if (!parse_error_code(argv[3], &code))
			return reply_error(reply, reply_size, "unknown error code \"%s\"", argv[3]);
		codes = malloc(sizeof(*codes) * (size_t) n1);
		if (codes == NULL)
			return reply_error(reply, reply_size, "out of memory");
		for (i = 0; i < n1; i++)
			codes[i] = code;
		rd_kafka_mock_push_request_errors_array(cluster, api_key, (size_t) n1, codes);
		free(codes);
		REPLY("ok next %ld requests of api %d fail with %s", n1, api_key,
			  rd_kafka_err2name(code));
	}
	else if (strcmp(cmd, "broker_request_errors") == 0)
	{
		long		rtt = 0;
		long		i;

		NEED_ARGS(4, 5, "broker_request_errors ID APIKEY COUNT ERRCODE [RTT_MS]");
		if (!parse_broker_id(argv[1], 0, &broker))
			return reply_error(reply, reply_size, "unknown broker \"%s\" (1..%d)", argv[1], broker_count);
		if (!parse_api_key(argv[2], &api_key))
			return reply_error(reply, reply_size, "unknown api key \"%s\"", argv[2]);
		if (!parse_int(argv[3], 1, 100000, &n1))
			return reply_error(reply, reply_size, "invalid count \"%s\"", argv[3]);
		if (!parse_error_code(argv[4], &code))
			return reply_error(reply, reply_size, "unknown error code \"%s\"", argv[4]);
		if (argc > 5 && !parse_int(argv[5], 0, 3600000, &rtt))
			return reply_error(reply, reply_size, "invalid rtt \"%s\"", argv[5]);
		for (i = 0; i < n1 && !err; i++)
			err = rd_kafka_mock_broker_push_request_error_rtts(cluster, broker, api_key,
															   1, code, (int) rtt);
		if (!err)
			REPLY("ok next %ld requests of api %d to broker %d fail with %s",
				  n1, api_key, broker, rd_kafka_err2name(code));
	}
	else if (strcmp(cmd, "error_count") == 0)
	{
		size_t		count = 0;

		NEED_ARGS(2, 2, "error_count ID APIKEY");
		if (!parse_broker_id(argv[1], 0, &broker))
			return reply_error(reply, reply_size, "unknown broker \"%s\" (1..%d)", argv[1], broker_count);
		if (!parse_api_key(argv[2], &api_key))
			return reply_error(reply, reply_size, "unknown api key \"%s\"", argv[2]);
		err = rd_kafka_mock_broker_error_stack_cnt(cluster, broker, api_key, &count);
		if (!err)
			REPLY("ok %zu", count);
	}
	else if (strcmp(cmd, "clear_errors") == 0)
	{
		NEED_ARGS(1, 1, "clear_errors APIKEY");
		if (!parse_api_key(argv[1], &api_key))
			return reply_error(reply, reply_size, "unknown api key \"%s\"", argv[1]);
		rd_kafka_mock_clear_request_errors(cluster, api_key);
		REPLY("ok cleared errors of api %d", api_key);
	}
	else if (strcmp(cmd, "topic_error") == 0)
	{
		NEED_ARGS(2, 2, "topic_error TOPIC ERRCODE");
		if (!parse_error_code(argv[2], &code))
			return reply_error(reply, reply_size, "unknown error code \"%s\"", argv[2]);
		rd_kafka_mock_topic_set_error(cluster, argv[1], code);
		REPLY("ok topic %s error %s", argv[1], rd_kafka_err2name(code));
	}
	else if (strcmp(cmd, "coordinator") == 0)
	{
		NEED_ARGS(3, 3, "coordinator group|transaction KEY BROKER_ID");
		if (strcmp(argv[1], "group") != 0 && strcmp(argv[1], "transaction") != 0)
			return reply_error(reply, reply_size, "coordinator type must be group or transaction");
		if (!parse_int(argv[3], -1, INT32_MAX, &n1))
			return reply_error(reply, reply_size, "invalid broker id \"%s\"", argv[3]);
		err = rd_kafka_mock_coordinator_set(cluster, argv[1], argv[2], (int32_t) n1);
		if (!err)
			REPLY("ok %s coordinator of %s is %ld", argv[1], argv[2], n1);
	}
	else if (strcmp(cmd, "apiversion") == 0)
	{
		NEED_ARGS(3, 3, "apiversion APIKEY MIN MAX");
		if (!parse_api_key(argv[1], &api_key))
			return reply_error(reply, reply_size, "unknown api key \"%s\"", argv[1]);
		if (!parse_int(argv[2], -1, 32767, &n1) || !parse_int(argv[3], -1, 32767, &n2))
			return reply_error(reply, reply_size, "invalid version range");
		err = rd_kafka_mock_set_apiversion(cluster, api_key, (int16_t) n1, (int16_t) n2);
		if (!err)
			REPLY("ok api %d versions %ld..%ld", api_key, n1, n2);
	}
	else if (strcmp(cmd, "shutdown") == 0)
	{
		NEED_ARGS(0, 0, "shutdown");
		REPLY("ok shutting down");
		return 1;
	}
	else if (strcmp(cmd, "help") == 0)
	{
		REPLY("ok commands: ping bootstrap create_topic broker_down broker_up leader "
			  "follower rtt request_errors broker_request_errors error_count "
			  "clear_errors topic_error coordinator apiversion shutdown");
	}
	else
		REPLY("error unknown command \"%s\" (try help)", cmd);

	if (err)
		REPLY("error %s: %s", rd_kafka_err2name(err), rd_kafka_err2str(err));
	return 0;

#undef NEED_ARGS
#undef REPLY
}

/* Writes DIR/name atomically: readers see the old file, none, or all of it. */
static void
write_state_file(const char *name, const char *content)
{
	char		path[PATH_MAX];
	char		tmp[PATH_MAX];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", state_dir, name, (long) getpid());
	f = fopen(tmp, "w");
	if (f == NULL)
		die("cannot create \"%s\": %s", tmp, strerror(errno));
	if (fprintf(f, "%s\n", content) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
		die("cannot write \"%s\": %s", tmp, strerror(errno));
	if (fclose(f) != 0)
		die("cannot write \"%s\": %s", tmp, strerror(errno));
	if (rename(tmp, path) != 0)
		die("cannot rename \"%s\" to \"%s\": %s", tmp, path, strerror(errno));
}

static void
remove_state_file(const char *name)
{
	char		path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	unlink(path);
}

static int
open_control_listener(int *port)
{
	struct sockaddr_in addr;
	socklen_t	len = sizeof(addr);
	int			fd;
	int			one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	if (bind(fd, (struct sockaddr *) &addr, sizeof(addr)) != 0)
		die("bind: %s", strerror(errno));
	if (listen(fd, 16) != 0)
		die("listen: %s", strerror(errno));
	if (getsockname(fd, (struct sockaddr *) &addr, &len) != 0)
		die("getsockname: %s", strerror(errno));
	*port = ntohs(addr.sin_port);
	return fd;
}

static void
send_all(int fd, const char *data, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;				/* the client went away; nothing to do */
		data += n;
		len -= (size_t) n;
	}
}

/*
 * Reads what a client sent and answers every complete line.  Returns 0 when
 * the client should be dropped, 1 to keep it, 2 on shutdown.
 */
static int
serve_client(ControlClient *client)
{
	ssize_t		n;
	char	   *nl;

	n = recv(client->fd, client->buf + client->used,
			 sizeof(client->buf) - 1 - client->used, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	client->used += (size_t) n;
	client->buf[client->used] = '\0';

	while ((nl = strchr(client->buf, '\n')) != NULL)
	{
		char		reply[MAX_LINE + 256];
		size_t		consumed = (size_t) (nl - client->buf) + 1;
		int			shutdown_now;

		*nl = '\0';
		shutdown_now = run_command(client->buf, reply, sizeof(reply) - 1);
		fprintf(stderr, "kafka_test_broker: %s\n", reply);
		strcat(reply, "\n");
		send_all(client->fd, reply, strlen(reply));
		memmove(client->buf, client->buf + consumed, client->used - consumed + 1);
		client->used -= consumed;
		if (shutdown_now)
			return 2;
	}
	if (client->used == sizeof(client->buf) - 1)
	{
		static const char msg[] = "error line too long\n";

		send_all(client->fd, msg, sizeof(msg) - 1);
		return 0;
	}
	return 1;
}

static void
serve_control(int listen_fd)
{
	ControlClient clients[MAX_CLIENTS];
	int			nclients = 0;
	int			i;

	while (!stop_requested)
	{
		struct pollfd pfds[MAX_CLIENTS + 2];
		int			rc;

		pfds[0].fd = wakeup_pipe[0];
		pfds[0].events = POLLIN;
		pfds[1].fd = listen_fd;
		pfds[1].events = nclients < MAX_CLIENTS ? POLLIN : 0;
		for (i = 0; i < nclients; i++)
		{
			pfds[i + 2].fd = clients[i].fd;
			pfds[i + 2].events = POLLIN;
		}
		rc = poll(pfds, (nfds_t) nclients + 2, 1000);
		if (rc < 0)
		{
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (rc == 0)
			continue;
		if (pfds[0].revents)
			break;

		/* Serve existing clients first; indexes shift when one is dropped. */
		for (i = nclients - 1; i >= 0; i--)
		{
			int			status;

			if (!pfds[i + 2].revents)
				continue;
			status = serve_client(&clients[i]);
			if (status == 2)
			{
				stop_requested = 1;
				break;
			}
			if (status == 0)
			{
				close(clients[i].fd);
				clients[i] = clients[nclients - 1];
				nclients--;
			}
		}
		if (stop_requested)
			break;

		if (pfds[1].revents & POLLIN)
		{
			int			fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0)
			{
				clients[nclients].fd = fd;
				clients[nclients].used = 0;
				clients[nclients].buf[0] = '\0';
				nclients++;
			}
		}
	}

	for (i = 0; i < nclients; i++)
		close(clients[i].fd);
}

static int
run_broker(int argc, char **argv)
{
	char		errstr[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	int			listen_fd;
	int			control_port;
	char		text[64];
	const char *log_level = "3";
	int			exit_with_parent = 0;
	struct sigaction sa;
	int			i;
	const char *topics[256];
	int			ntopics = 0;

	for (i = 1; i < argc; i++)
	{
		long		v;

		if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
		{
			if (!parse_int(argv[++i], 1, 64, &v))
				die("--brokers must be 1..64");
			broker_count = (int) v;
		}
		else if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc)
			state_dir = argv[++i];
		else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
		{
			if (ntopics == (int) (sizeof(topics) / sizeof(topics[0])))
				die("too many --topic options");
			topics[ntopics++] = argv[++i];
		}
		else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc)
			log_level = argv[++i];
		else if (strcmp(argv[i], "--exit-with-parent") == 0)
			exit_with_parent = 1;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			usage(stdout);
			return 0;
		}
		else
		{
			usage(stderr);
			return 2;
		}
	}
	if (state_dir == NULL)
	{
		usage(stderr);
		return 2;
	}

#ifdef __linux__
	if (exit_with_parent)
	{
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			return 0;			/* the parent is already gone */
	}
#else
	(void) exit_with_parent;
#endif

	if (pipe2(wakeup_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		die("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * The mock cluster needs a client handle for its bookkeeping.  A producer
	 * with no bootstrap servers never connects anywhere.
	 */
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", log_level, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		die("%s", errstr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		die("cannot create client handle: %s", errstr);
	cluster = rd_kafka_mock_cluster_new(rk, broker_count);
	if (cluster == NULL)
		die("cannot create mock cluster");

	for (i = 0; i < ntopics; i++)
	{
		char		spec[512];
		char	   *name;
		char	   *parts;
		char	   *repl;
		long		partitions = 1;
		long		replication = broker_count < 3 ? broker_count : 3;
		rd_kafka_resp_err_t err;

		snprintf(spec, sizeof(spec), "%s", topics[i]);
		name = spec;
		parts = strchr(spec, ':');
		if (parts)
		{
			*parts++ = '\0';
			repl = strchr(parts, ':');
			if (repl)
				*repl++ = '\0';
			if (!parse_int(parts, 1, 100000, &partitions))
				die("invalid partition count in --topic %s", topics[i]);
			if (repl && !parse_int(repl, 1, broker_count, &replication))
				die("invalid replication factor in --topic %s", topics[i]);
		}
		if (!valid_topic_name(name))
			die("invalid topic name in --topic %s", topics[i]);
		err = create_topic(name, (int) partitions, (int) replication);
		if (err)
			die("cannot create topic %s: %s", name, rd_kafka_err2str(err));
	}

	listen_fd = open_control_listener(&control_port);
	snprintf(text, sizeof(text), "%d", control_port);
	write_state_file("control_port", text);
	write_state_file("bootstrap", rd_kafka_mock_cluster_bootstraps(cluster));
	fprintf(stderr, "kafka_test_broker: %d brokers at %s, control port %d\n",
			broker_count, rd_kafka_mock_cluster_bootstraps(cluster), control_port);

	serve_control(listen_fd);

	close(listen_fd);
	remove_state_file("bootstrap");
	remove_state_file("control_port");
	rd_kafka_mock_cluster_destroy(cluster);
	rd_kafka_destroy(rk);
	fprintf(stderr, "kafka_test_broker: stopped\n");
	return 0;
}

/* kafka_test_broker ctl DIR COMMAND [ARG...]: one command, print the reply. */
static int
run_ctl(int argc, char **argv)
{
	char		path[PATH_MAX];
	char		line[MAX_LINE];
	char		reply[MAX_LINE + 256];
	size_t		used = 0;
	FILE	   *f;
	long		port;
	int			fd;
	int			i;
	struct sockaddr_in addr;

	if (argc < 4)
	{
		usage(stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/control_port", argv[2]);
	f = fopen(path, "r");
	if (f == NULL)
	{
		fprintf(stderr, "kafka_test_broker: cannot read \"%s\": %s (is the broker running?)\n",
				path, strerror(errno));
		return 2;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (!parse_int(line, 1, 65535, &port))
	{
		fprintf(stderr, "kafka_test_broker: bad control port in \"%s\"\n", path);
		return 2;
	}

	line[0] = '\0';
	for (i = 3; i < argc; i++)
	{
		if (strlen(line) + strlen(argv[i]) + 3 >= sizeof(line))
		{
			fprintf(stderr, "kafka_test_broker: command too long\n");
			return 2;
		}
		if (i > 3)
			strcat(line, " ");
		strcat(line, argv[i]);
	}
	strcat(line, "\n");

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
	{
		fprintf(stderr, "kafka_test_broker: socket: %s\n", strerror(errno));
		return 2;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((uint16_t) port);
	if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) != 0)
	{
		fprintf(stderr, "kafka_test_broker: cannot connect to control port %ld: %s\n",
				port, strerror(errno));
		close(fd);
		return 2;
	}
	send_all(fd, line, strlen(line));
	while (used < sizeof(reply) - 1)
	{
		ssize_t		n = recv(fd, reply + used, sizeof(reply) - 1 - used, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t) n;
		reply[used] = '\0';
		if (strchr(reply, '\n'))
			break;
	}
	close(fd);
	reply[used] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	if (used == 0)
	{
		fprintf(stderr, "kafka_test_broker: no reply from the broker\n");
		return 2;
	}
	printf("%s\n", reply);
	return strncmp(reply, "ok", 2) == 0 && (reply[2] == '\0' || reply[2] == ' ') ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return run_ctl(argc, argv);
	return run_broker(argc, argv);
}
