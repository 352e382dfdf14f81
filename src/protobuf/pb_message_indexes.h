/*-------------------------------------------------------------------------
 *
 * pb_message_indexes.h
 *	  Confluent's message-index array of Protobuf payloads, parsed without
 *	  PostgreSQL (the unit tests and fuzzing link it alone).
 *
 * In the Confluent wire format a Protobuf payload is the magic byte 0, the
 * 4-byte big-endian schema id, then the path of the message type within
 * the schema's file: a zigzag varint count followed by that many zigzag
 * varint indexes ([1, 0] is the first nested type of the second top-level
 * message).  The single byte 0 (count 0) is the shorthand for [0], the
 * first message.
 *
 * IDENTIFICATION
 *	  src/protobuf/pb_message_indexes.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_PB_MESSAGE_INDEXES_H
#define KAFKA_PB_MESSAGE_INDEXES_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses the array at data (len bytes left) into indexes (room for
 * max_indexes), setting *count.  Returns the number of bytes read, or -1
 * when the array is malformed: truncated, a varint longer than 10 bytes or
 * beyond 32 bits, a negative count or index, more than max_indexes.
 */
extern int	pb_parse_message_indexes(const uint8_t *data, size_t len,
									 int32_t *indexes, int max_indexes,
									 int *count);

#endif							/* KAFKA_PB_MESSAGE_INDEXES_H */
