/*-------------------------------------------------------------------------
 *
 * pb_message_indexes.c
 *	  Confluent's message-index array (see pb_message_indexes.h).
 *
 * Plain C on purpose: no palloc, no ereport, so that the unit tests can
 * fuzz it outside a server.
 *
 * IDENTIFICATION
 *	  src/protobuf/pb_message_indexes.c
 *
 *-------------------------------------------------------------------------
 */
#include "protobuf/pb_message_indexes.h"

/* A zigzag varint that fits in 32 bits, or false. */
static int
read_zigzag32(const uint8_t **p, const uint8_t *end, int32_t *value)
{
	uint64_t	raw = 0;
	int			shift = 0;

	for (;;)
	{
		uint8_t		byte;

		if (*p >= end || shift >= 64)
			return 0;
		byte = *(*p)++;
		raw |= (uint64_t) (byte & 0x7f) << shift;
		if ((byte & 0x80) == 0)
			break;
		shift += 7;
	}
	if (raw > UINT32_MAX)
		return 0;
	*value = (int32_t) ((raw >> 1) ^ (~(raw & 1) + 1));
	return 1;
}

int
pb_parse_message_indexes(const uint8_t *data, size_t len, int32_t *indexes,
						 int max_indexes, int *count)
{
	const uint8_t *p = data;
	const uint8_t *end = data + len;
	int32_t		n;

	*count = 0;
	if (!read_zigzag32(&p, end, &n) || n < 0)
		return -1;
	if (n == 0)
	{
		/* the shorthand for the first message */
		if (max_indexes < 1)
			return -1;
		indexes[0] = 0;
		*count = 1;
		return (int) (p - data);
	}
	if (n > max_indexes)
		return -1;
	for (int32_t i = 0; i < n; i++)
	{
		int32_t		index;

		if (!read_zigzag32(&p, end, &index) || index < 0)
			return -1;
		indexes[i] = index;
	}
	*count = n;
	return (int) (p - data);
}
