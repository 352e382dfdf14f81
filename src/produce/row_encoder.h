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
 * The topic: the table's topic option, or, without one, each row's kafka
 * 'topic' column (a topic option wins over a topic column, as in Spark).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_ROW_ENCODER_H
#define KAFKA_ROW_ENCODER_H

#include "postgres.h"

#include "fdw/kafka_table.h"
#include "produce/message_buffer.h"

typedef struct KafkaRowEncoder KafkaRowEncoder;

/* Kafka's longest topic name. */
#define KAFKA_TOPIC_NAME_MAX 249

/*
 * An encoder for rows of table (shaped like table->desc), allocated in the
 * current memory context.  Refuses a table with an envelope (it reads
 * change events).
 */
extern KafkaRowEncoder *kafka_row_encoder_create(KafkaTable *table);

/*
 * The topic the row goes to: the table's topic option, else the row's
 * kafka 'topic' column, checked as Kafka checks a topic name.  A NULL, an
 * empty or an invalid name is an error of class 22 (data exception) naming
 * the column and the table: a bad row, never a name handed to librdkafka.
 * The string lives until the next call.
 */
extern const char *kafka_row_encoder_topic(KafkaRowEncoder *encoder,
										   Datum *values, bool *nulls);

/* Does the table route rows by its kafka 'topic' column (no topic option)? */
extern bool kafka_row_encoder_routes(KafkaRowEncoder *encoder);

/*
 * Encode one row into message (for the row's topic: a routed table's Avro
 * subjects depend on it).  The message's bytes live until the next call;
 * its header array is allocated in the current memory context.
 */
extern void kafka_row_encoder_encode(KafkaRowEncoder *encoder, Datum *values,
									 bool *nulls, KafkaMessageData *message);

#endif							/* KAFKA_ROW_ENCODER_H */
