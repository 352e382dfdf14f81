/*
 * protobuf_indexes.c
 *	  Unit tests and bounded fuzzing of Confluent's Protobuf message-index
 *	  array parser (src/protobuf/pb_message_indexes.c).
 *
 * The fuzzing feeds random bytes and mutations of valid arrays with a
 * fixed seed: every input must parse within its bounds or be refused; the
 * parser may never read past the length it is given (the input is copied
 * into an exactly sized heap buffer, so a sanitizer build catches it).
 */
#include "protobuf/pb_message_indexes.h"
#include "unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_FUZZ_ITERATIONS 20000

static uint64_t index_rng = UINT64_C(0x70726f746f627566);

static uint64_t
next_random(void)
{
	index_rng ^= index_rng >> 12;
	index_rng ^= index_rng << 25;
	index_rng ^= index_rng >> 27;
	return index_rng * UINT64_C(2685821657736338717);
}

static int
parse(const uint8_t *bytes, size_t len, int32_t *indexes, int max, int *count)
{
	uint8_t    *copy = malloc(len ? len : 1);
	int			used;

	memcpy(copy, bytes, len);
	used = pb_parse_message_indexes(copy, len, indexes, max, count);
	free(copy);
	return used;
}

static void
known_arrays(void)
{
	int32_t		indexes[8];
	int			count;
	static const uint8_t shorthand[] = {0x00, 0x0a};
	static const uint8_t one[] = {0x02, 0x02};
	static const uint8_t nested[] = {0x04, 0x02, 0x00, 0x08};
	static const uint8_t big[] = {0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f};
	static const uint8_t negative_count[] = {0x01};
	static const uint8_t negative_index[] = {0x02, 0x03};
	static const uint8_t truncated[] = {0x04, 0x02};
	static const uint8_t overlong[] = {0x82, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x01};
	static const uint8_t too_many[] = {0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0};

	check(parse(shorthand, sizeof(shorthand), indexes, 8, &count) == 1 &&
		  count == 1 && indexes[0] == 0,
		  "protobuf indexes: the byte 0 is [0], the rest left alone");
	check(parse(one, sizeof(one), indexes, 8, &count) == 2 &&
		  count == 1 && indexes[0] == 1,
		  "protobuf indexes: [1]");
	check(parse(nested, sizeof(nested), indexes, 8, &count) == 3 &&
		  count == 2 && indexes[0] == 1 && indexes[1] == 0,
		  "protobuf indexes: [1, 0] (a nested type), bytes after it left");
	check(parse(big, sizeof(big), indexes, 8, &count) == 6 &&
		  count == 1 && indexes[0] == INT32_MAX,
		  "protobuf indexes: the largest index");
	check(parse(negative_count, sizeof(negative_count), indexes, 8, &count) < 0,
		  "protobuf indexes: a negative count refused");
	check(parse(negative_index, sizeof(negative_index), indexes, 8, &count) < 0,
		  "protobuf indexes: a negative index refused");
	check(parse(truncated, sizeof(truncated), indexes, 8, &count) < 0,
		  "protobuf indexes: truncated refused");
	check(parse(overlong, sizeof(overlong), indexes, 8, &count) < 0,
		  "protobuf indexes: a count beyond 32 bits refused");
	check(parse(too_many, sizeof(too_many), indexes, 8, &count) < 0,
		  "protobuf indexes: more indexes than room refused");
	check(parse(shorthand, 0, indexes, 8, &count) < 0,
		  "protobuf indexes: nothing at all refused");
}

static void
fuzz_indexes(void)
{
	static const uint8_t seeds[][6] = {
		{0x00}, {0x02, 0x02}, {0x04, 0x02, 0x00}, {0x06, 0x04, 0x02, 0x00},
		{0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f},
	};
	static const size_t seed_lengths[] = {1, 2, 3, 4, 6};
	uint8_t		input[64];
	int32_t		indexes[16];
	int			bad = 0;

	for (int i = 0; i < INDEX_FUZZ_ITERATIONS; i++)
	{
		size_t		len;
		int			count = -1;
		int			used;
		int			max = 1 + (int) (next_random() % 16);

		if (next_random() % 4 == 0)
		{
			len = next_random() % sizeof(input);
			for (size_t b = 0; b < len; b++)
				input[b] = (uint8_t) next_random();
		}
		else
		{
			int			seed = (int) (next_random() % 5);

			len = seed_lengths[seed];
			memcpy(input, seeds[seed], len);
			/* flip bits, truncate, or append */
			switch (next_random() % 3)
			{
				case 0:
					input[next_random() % len] ^= (uint8_t) (1 << (next_random() % 8));
					break;
				case 1:
					len = next_random() % (len + 1);
					break;
				default:
					while (len < sizeof(input) && next_random() % 3 != 0)
						input[len++] = (uint8_t) next_random();
			}
		}
		used = parse(input, len, indexes, max, &count);
		if (used >= 0)
		{
			if (used > (int) len || count < 1 || count > max)
				bad++;
			for (int k = 0; k < count && count <= max; k++)
				if (indexes[k] < 0)
					bad++;
		}
		else if (count != 0)
			bad++;
	}
	check(bad == 0, "protobuf indexes: 20000 fuzzed arrays parse within bounds or are refused");
}

void
test_protobuf_indexes(void)
{
	known_arrays();
	fuzz_indexes();
}
