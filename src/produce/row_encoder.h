/*-------------------------------------------------------------------------
 *
 * row_encoder.h
 *	  A row of a kafka foreign table as the message it produces: the
 *	  payload columns encoded in the table's format by the codec (or a
 *	  kafka 'value' column taken as it is), the key column in key_format,
 *	  and the partition, timestamp, headers and header:<name> columns as the
 *	  message's metadata.
 *
 * INSERT into a kafka foreign table and streams whose target is one both
 * encode their rows here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_ROW_ENCODER_H
#define KAFKA_ROW_ENCODER_H

#include "postgres.h"

#include "fdw/kafka_table.h"
#include "produce/message_buffer.h"

typedef struct KafkaRowEncoder KafkaRowEncoder;

/*
 * An encoder for rows of table (shaped like table->desc), allocated in the
 * current memory context.  Refuses a table with an envelope (it reads
 * change events).
 */
extern KafkaRowEncoder *kafka_row_encoder_create(KafkaTable *table);

/*
 * Encode one row into message.  The message's bytes live until the next
 * call; its header array is allocated in the current memory context.
 */
extern void kafka_row_encoder_encode(KafkaRowEncoder *encoder, Datum *values,
									 bool *nulls, KafkaMessageData *message);

#endif							/* KAFKA_ROW_ENCODER_H */
