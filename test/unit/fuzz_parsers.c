/*
 * fuzz_parsers.c
 *	  Bounded, deterministic fuzzing of the PostgreSQL-free parsers of text
 *	  that comes from outside: offset and assignment specifications (JSON)
 *	  and JAAS configurations.
 *
 * Valid seeds are mutated (bit flips, truncation, splices, repeated
 * chunks, huge numbers, deep nesting, invalid UTF-8, NUL bytes) with a
 * fixed seed, so a failure is reproduced by running the binary again.
 * Every input must parse or fail cleanly: a result that keeps the parser's
 * promises, or an error message; no crash (the binary would die), no hang
 * (a watchdog fails the run when one input takes more than
 * FUZZ_INPUT_SECONDS).  Build with -fsanitize=address,undefined
 * (UNIT_CFLAGS) to catch memory errors the run survives.
 */
#include "common/kafka_properties.h"
#include "common/offset_spec.h"
#include "unit.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_SEED UINT64_C(0x6b61666b61666477)
#define FUZZ_ITERATIONS 20000
#define FUZZ_INPUT_SECONDS 20
#define FUZZ_MAX_INPUT (16 * 1024 * 1024)

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	/* xorshift64*: small, fast, the same sequence everywhere */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static size_t
rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t) (rng_next() % n);
}

/* ---- inputs -------------------------------------------------------------- */

typedef struct Input
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Input;

static void
input_reserve(Input *in, size_t len)
{
	if (len + 1 > in->cap)
	{
		while (len + 1 > in->cap)
			in->cap = in->cap ? in->cap * 2 : 256;
		in->data = realloc(in->data, in->cap);
		if (in->data == NULL)
		{
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
	}
}

static void
input_set(Input *in, const char *data, size_t len)
{
	input_reserve(in, len);
	memcpy(in->data, data, len);
	in->len = len;
	in->data[len] = '\0';
}

static void
input_insert(Input *in, size_t at, const char *data, size_t len)
{
	if (in->len + len > FUZZ_MAX_INPUT)
		return;
	input_reserve(in, in->len + len);
	memmove(in->data + at + len, in->data + at, in->len - at);
	memcpy(in->data + at, data, len);
	in->len += len;
	in->data[in->len] = '\0';
}

static void
input_delete(Input *in, size_t at, size_t len)
{
	if (at + len > in->len)
		len = in->len - at;
	memmove(in->data + at, in->data + at + len, in->len - at - len);
	in->len -= len;
	in->data[in->len] = '\0';
}

/* Tokens that tend to reach parsers' corner cases. */
static const char *const special_tokens[] = {
	"99999999999999999999999", "-9223372036854775808", "-9223372036854775809",
	"9223372036854775807", "2147483648", "-1", "-2", "-3", "1e999", "0.5",
	"\"", "\\", "'", "{", "}", "[", "]", ",", ":", ";", "=", " ", "\t\n",
	"\xff", "\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\\u0000",
	"\\ud800", "\\uDFFF\\uD800", "null", "true", "{}", "[]", "\"\"",
	"required", "optional", "username=", "password=", "kafkashaded.",
	"earliest", "latest", "\"0\":", "\"t\":",
};

/* One random change to in; seeds are the valid inputs to splice from. */
static void
mutate_once(Input *in, const char *const *seeds, int nseeds)
{
	size_t		at = rng_below(in->len + 1);

	switch (rng_below(10))
	{
		case 0:					/* bit flip */
			if (in->len > 0)
				in->data[rng_below(in->len)] ^= (char) (1 << rng_below(8));
			break;
		case 1:					/* any byte, NUL included */
			if (in->len > 0)
				in->data[rng_below(in->len)] = (char) rng_below(256);
			break;
		case 2:					/* delete a range */
			if (in->len > 0)
				input_delete(in, rng_below(in->len), 1 + rng_below(16));
			break;
		case 3:					/* truncate */
			input_delete(in, at, in->len - at);
			break;
		case 4:					/* random bytes */
			{
				char		bytes[8];
				size_t		n = 1 + rng_below(sizeof(bytes));

				for (size_t i = 0; i < n; i++)
					bytes[i] = (char) (1 + rng_below(255));
				input_insert(in, at, bytes, n);
				break;
			}
		case 5:					/* splice: this prefix, another seed's suffix */
			{
				const char *other = seeds[rng_below(nseeds)];
				size_t		other_len = strlen(other);
				size_t		from = rng_below(other_len + 1);

				input_delete(in, at, in->len - at);
				input_insert(in, at, other + from, other_len - from);
				break;
			}
		case 6:					/* repeat a chunk many times */
			if (in->len > 0)
			{
				size_t		start = rng_below(in->len);
				size_t		len = 1 + rng_below(in->len - start < 32 ? in->len - start : 32);
				size_t		times = 1 + rng_below(rng_below(2) ? 8 : 2000);
				char	   *chunk = malloc(len * times);

				for (size_t i = 0; i < times; i++)
					memcpy(chunk + i * len, in->data + start, len);
				input_insert(in, start, chunk, len * times);
				free(chunk);
			}
			break;
		case 7:
		case 8:					/* a special token */
			{
				const char *token = special_tokens[rng_below(sizeof(special_tokens) /
															sizeof(special_tokens[0]))];

				input_insert(in, at, token, strlen(token));
				break;
			}
		case 9:					/* deep nesting around the rest */
			{
				size_t		depth = 1 + rng_below(rng_below(4) ? 64 : 20000);
				const char *open = rng_below(2) ? "[" : "{\"t\":";
				size_t		open_len = strlen(open);
				char	   *opens = malloc(depth * open_len);
				char	   *closes = malloc(depth);

				for (size_t i = 0; i < depth; i++)
				{
					memcpy(opens + i * open_len, open, open_len);
					closes[i] = open[0] == '[' ? ']' : '}';
				}
				input_insert(in, in->len, closes, depth);
				input_insert(in, at, opens, depth * open_len);
				free(opens);
				free(closes);
				break;
			}
	}
}

/* The next fuzz input: a seed with one to six random changes. */
static void
next_input(Input *in, const char *const *seeds, int nseeds)
{
	const char *seed = seeds[rng_below(nseeds)];
	int			changes = 1 + (int) rng_below(6);

	input_set(in, seed, strlen(seed));
	for (int i = 0; i < changes; i++)
		mutate_once(in, seeds, nseeds);
}

/* ---- the hang watchdog --------------------------------------------------- */

static const char *watchdog_what = "";

static void
watchdog_fired(int signo)
{
	static const char message[] = "not ok - a fuzz input did not finish in time: ";

	(void) signo;
	(void) !write(STDOUT_FILENO, message, sizeof(message) - 1);
	(void) !write(STDOUT_FILENO, watchdog_what, strlen(watchdog_what));
	(void) !write(STDOUT_FILENO, "\n", 1);
	_exit(1);
}

static void
watchdog_arm(const char *what)
{
	watchdog_what = what;
	alarm(FUZZ_INPUT_SECONDS);
}

/* ---- offset and assignment specifications -------------------------------- */

static const char *const offset_seeds[] = {
	"earliest",
	"latest",
	"{\"t\":{\"0\":23,\"1\":-2}}",
	"{\"orders\":{\"0\":-1},\"events\":{\"3\":1700000000000,\"12\":0}}",
	"{\"a\":[0,2],\"b\":[1]}",
	"{\"topic.with-dots_1\":{\"2147483647\":9223372036854775807}}",
	"{\"t\":[0,1,2,3,4,5,6,7]}",
	"  {\"t\" : { \"0\" : 5 } }  ",
};

/* Does a spec the parser accepted keep its promises? */
static int
offset_spec_sound(const KafkaOffsetSpec *spec, int timestamps)
{
	if (spec->kind != KAFKA_SPEC_PER_PARTITION)
		return spec->count == 0;
	for (size_t i = 0; i < spec->count; i++)
	{
		const KafkaOffsetSpecEntry *e = &spec->entries[i];

		if (e->topic == NULL || e->topic[0] == '\0' || e->partition < 0 ||
			e->value < (timestamps ? 0 : KAFKA_OFFSET_EARLIEST))
			return 0;
	}
	return 1;
}

static int
error_sound(const char *errbuf, size_t errlen)
{
	return errbuf[0] != '\0' && memchr(errbuf, '\0', errlen) != NULL;
}

static void
fuzz_offset_specs(void)
{
	Input		in = {0};
	int			bad = 0;
	int			accepted = 0;
	int			nseeds = sizeof(offset_seeds) / sizeof(offset_seeds[0]);

	rng_state = FUZZ_SEED;
	for (int i = 0; i < FUZZ_ITERATIONS; i++)
	{
		KafkaOffsetSpec spec;
		char		errbuf[256];
		int			keywords = (int) rng_below(2);
		int			timestamps = (int) rng_below(2);

		next_input(&in, offset_seeds, nseeds);
		watchdog_arm("offset specification");

		memset(errbuf, 'x', sizeof(errbuf));
		if (kafka_parse_offset_spec(in.data, keywords, timestamps, &spec,
									errbuf, sizeof(errbuf)))
		{
			accepted++;
			if (!offset_spec_sound(&spec, timestamps))
				bad++;
			kafka_offset_spec_free(&spec);
		}
		else if (!error_sound(errbuf, sizeof(errbuf)) || spec.count != 0)
			bad++;

		memset(errbuf, 'x', sizeof(errbuf));
		if (kafka_parse_assign_spec(in.data, &spec, errbuf, sizeof(errbuf)))
		{
			accepted++;
			if (!offset_spec_sound(&spec, 1) || spec.kind != KAFKA_SPEC_PER_PARTITION)
				bad++;
			kafka_offset_spec_free(&spec);
		}
		else if (!error_sound(errbuf, sizeof(errbuf)) || spec.count != 0)
			bad++;
	}
	alarm(0);
	free(in.data);
	if (bad)
		printf("# %d offset fuzz inputs broke a promise (%d accepted)\n", bad, accepted);
	check(bad == 0, "fuzz: 20000 mutated offset and assign specifications parse or fail cleanly");
}

/* Specifications far larger than anyone writes: linear work, not quadratic. */
static void
offset_specs_large(void)
{
	enum
	{
		PARTITIONS = 1000000
	};
	Input		in = {0};
	KafkaOffsetSpec spec;
	char		errbuf[256];
	char		item[32];
	int			ok;

	input_set(&in, "{\"t\":[", 6);
	for (int i = 0; i < PARTITIONS; i++)
	{
		int			n = snprintf(item, sizeof(item), "%s%d", i ? "," : "", i);

		input_insert(&in, in.len, item, n);
	}
	input_insert(&in, in.len, "]}", 2);
	watchdog_arm("assign specification with 1000000 partitions");
	ok = kafka_parse_assign_spec(in.data, &spec, errbuf, sizeof(errbuf)) &&
		spec.count == PARTITIONS && kafka_offset_spec_find(&spec, "t", PARTITIONS - 1) != NULL;
	alarm(0);
	if (ok)
		kafka_offset_spec_free(&spec);
	check(ok, "assign: 1000000 partitions parse in bounded time");

	/* a duplicate far apart is still found */
	input_delete(&in, in.len - 2, 2);
	input_insert(&in, in.len, ",7]}", 4);
	watchdog_arm("assign specification with a late duplicate");
	ok = !kafka_parse_assign_spec(in.data, &spec, errbuf, sizeof(errbuf)) &&
		strstr(errbuf, "partition 7 of topic \"t\" is listed twice") != NULL;
	alarm(0);
	check(ok, "assign: a duplicate among 1000000 partitions is refused");

	input_set(&in, "{\"t\":{", 6);
	for (int i = 0; i < PARTITIONS; i++)
	{
		int			n = snprintf(item, sizeof(item), "%s\"%d\":%d", i ? "," : "", i, i);

		input_insert(&in, in.len, item, n);
	}
	input_insert(&in, in.len, "}}", 2);
	watchdog_arm("offset specification with 1000000 partitions");
	ok = kafka_parse_offset_spec(in.data, 1, 0, &spec, errbuf, sizeof(errbuf)) &&
		spec.count == PARTITIONS;
	alarm(0);
	if (ok)
		kafka_offset_spec_free(&spec);
	check(ok, "offsets: 1000000 partitions parse in bounded time");

	input_set(&in, "", 0);
	for (int i = 0; i < 100000; i++)
		input_insert(&in, in.len, "[", 1);
	watchdog_arm("offset specification nested 100000 deep");
	ok = !kafka_parse_offset_spec(in.data, 1, 0, &spec, errbuf, sizeof(errbuf)) &&
		errbuf[0] != '\0';
	alarm(0);
	check(ok, "offsets: JSON nested 100000 deep is refused");
	free(in.data);
}

/* ---- JAAS ---------------------------------------------------------------- */

#define JAAS_SECRET "Zq7-top-secret"

static const char *const jaas_seeds[] = {
	"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" password=\"" JAAS_SECRET "\";",
	"kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\\\"b\" password=\"" JAAS_SECRET "\";",
	"org.apache.kafka.common.security.scram.ScramLoginModule required username='bob' password='" JAAS_SECRET "' tokenauth=true;",
	"org.apache.kafka.common.security.scram.ScramLoginModule optional\n  username=carol\n  password=" JAAS_SECRET ";",
	"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
};

static void
fuzz_jaas(void)
{
	Input		in = {0};
	int			bad = 0;
	int			accepted = 0;
	int			nseeds = sizeof(jaas_seeds) / sizeof(jaas_seeds[0]);

	rng_state = FUZZ_SEED ^ UINT64_C(0x6a616173);
	for (int i = 0; i < FUZZ_ITERATIONS; i++)
	{
		KafkaJaasModule module;
		char	   *username = (char *) 1;
		char	   *password = (char *) 1;
		const char *error = NULL;

		next_input(&in, jaas_seeds, nseeds);
		watchdog_arm("JAAS configuration");
		if (kafka_parse_jaas_config(in.data, &module, &username, &password, &error))
		{
			accepted++;
			if (username == NULL || password == NULL ||
				(module != KAFKA_JAAS_PLAIN && module != KAFKA_JAAS_SCRAM))
				bad++;
			free(username);
			free(password);
		}
		else if (error == NULL || error[0] == '\0' || username != NULL ||
				 password != NULL || strstr(error, JAAS_SECRET) != NULL)
			bad++;
	}
	alarm(0);
	free(in.data);
	if (bad)
		printf("# %d JAAS fuzz inputs broke a promise (%d accepted)\n", bad, accepted);
	check(bad == 0, "fuzz: 20000 mutated JAAS configurations parse or fail cleanly, never echoing the password");
}

static void
jaas_large(void)
{
	Input		in = {0};
	KafkaJaasModule module;
	char	   *username;
	char	   *password;
	const char *error = NULL;
	int			ok;
	static const char head[] = "org.apache.kafka.common.security.plain.PlainLoginModule required";
	static const char tail[] = " username=\"u\" password=\"p\";";

	/* many quoted values: each is copied, not the whole rest of the text */
	input_set(&in, head, strlen(head));
	for (int i = 0; i < 1000000; i++)
		input_insert(&in, in.len, " k=\"v\"", 6);
	input_insert(&in, in.len, tail, strlen(tail));
	watchdog_arm("JAAS configuration with 1000000 values");
	ok = kafka_parse_jaas_config(in.data, &module, &username, &password, &error) &&
		strcmp(username, "u") == 0 && strcmp(password, "p") == 0;
	alarm(0);
	if (ok)
	{
		free(username);
		free(password);
	}
	check(ok, "jaas: 1000000 quoted values parse in bounded time");
	free(in.data);
}

void
test_parser_fuzz(void)
{
	signal(SIGALRM, watchdog_fired);
	offset_specs_large();
	fuzz_offset_specs();
	jaas_large();
	fuzz_jaas();
}
