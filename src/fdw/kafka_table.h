/*-------------------------------------------------------------------------
 *
 * kafka_table.h
 *	  A kafka foreign table as a description of how to read and decode a
 *	  topic: shared by foreign-table scans, INSERT (produce) and streaming
 *	  tables, which use a foreign table as their source.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_TABLE_H
#define KAFKA_TABLE_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "foreign/foreign.h"

#include "codec/codec.h"
#include "read/reader.h"

/* What a column of a kafka foreign table holds (column option "kafka"). */
typedef enum KafkaColumnRole
{
	KAFKA_COLUMN_PAYLOAD,		/* a field of the decoded value (default) */
	KAFKA_COLUMN_KEY,			/* kafka 'key' */
	KAFKA_COLUMN_VALUE,			/* kafka 'value': the raw value */
	KAFKA_COLUMN_PARTITION,
	KAFKA_COLUMN_OFFSET,
	KAFKA_COLUMN_TIMESTAMP,
	KAFKA_COLUMN_TIMESTAMP_TYPE,
	KAFKA_COLUMN_HEADERS,		/* kafka.header[] */
	KAFKA_COLUMN_HEADER,		/* kafka 'header:<name>': one header's value */
	KAFKA_COLUMN_TOPIC,
	KAFKA_COLUMN_ERROR,			/* decode error text (on_error 'null') */
	KAFKA_COLUMN_OP,			/* envelope 'debezium': c, u, d, r or t */
	KAFKA_COLUMN_SOURCE_TS,		/* envelope 'debezium': source.ts_ms */
	KAFKA_COLUMN_SOURCE_LSN,	/* envelope 'debezium': source.lsn */
	KAFKA_COLUMN_RESCUED,		/* jsonb: the payload's fields no column
								 * takes (formats json and avro) */
	KAFKA_COLUMN_DROPPED
} KafkaColumnRole;

typedef enum KafkaOnError
{
	KAFKA_ON_ERROR_FAIL,
	KAFKA_ON_ERROR_NULL,
	KAFKA_ON_ERROR_SKIP
} KafkaOnError;

typedef struct KafkaTable
{
	Oid			relid;
	MemoryContext mcxt;			/* where the table and its decoders live */
	char	   *relname;		/* for messages */
	ForeignServer *server;
	char	   *topic;			/* table option topic; NULL: routed by the
								 * topic column (produce only) */
	int			topic_attnum;	/* first kafka 'topic' column (0-based), or
								 * -1 */
	KafkaFormat format;			/* of the value */
	KafkaFormat key_format;		/* of the key (text by default) */
	KafkaOnError on_error;
	char	   *starting_offsets;	/* table option, or NULL (earliest) */
	char	   *ending_offsets; /* table option, or NULL (latest) */
	TupleDesc	desc;
	KafkaColumnRole *roles;		/* per attribute */
	char	  **header_names;	/* per attribute, for KAFKA_COLUMN_HEADER */
	KafkaDecoder *value_decoder;	/* for the payload columns */
	KafkaDecoder *key_decoder;	/* for the key column */
	/* decoding details (kafka_table.c) */
	char	   *key_format_name;	/* table option key_format, or NULL */
	KafkaDecoder **column_decoders; /* per attribute: key, value, header:<name> */
	bool	   *needed;			/* per attribute: fill it (default all) */
	int			error_attnum;	/* first error column (0-based), or -1 */
	Oid			header_type;	/* kafka.header */
	TupleDesc	header_desc;
	bool		allow_throw;
	int			error_code;		/* SQLSTATE of the last failed decode */
	char	   *avro_schema;	/* table option avro_schema, or NULL */
	/* format protobuf: table options, and the descriptor set file's bytes */
	char	   *protobuf_message;
	char	   *protobuf_key_message;
	char	   *protobuf_descriptor_file;
	char	   *protobuf_descriptor;
	size_t		protobuf_descriptor_len;
	KafkaEnvelope envelope;		/* table option envelope */

	/*
	 * After kafka_table_decode, envelope 'debezium': the record is no row
	 * (Debezium's tombstone after a delete), and the columns whose value
	 * it did not carry (an unchanged TOASTed value; NULL in the row),
	 * per attribute, looked at only when any_unavailable.
	 */
	bool		skip_record;
	bool		any_unavailable;
	const bool *unavailable;

	/*
	 * The payload's fields no column takes (codec.h): reported when the
	 * table has a kafka 'rescued' column or report_unknown was asked for
	 * (kafka_table_report_unknown_fields); then, after kafka_table_decode,
	 * unknown holds them.
	 */
	bool		report_unknown;
	bool		has_rescued;	/* a kafka 'rescued' column */
	const KafkaUnknownFields *unknown;
} KafkaTable;

/*
 * Describe a kafka foreign table to read from: options, column roles,
 * decoders.  Lives in mcxt.  Errors name the table and the offending
 * option.  A table without a topic option is refused: it routes the rows
 * inserted into it by its kafka 'topic' column, so it has no topic to read.
 */
extern KafkaTable *kafka_table_open(Oid relid, MemoryContext mcxt);

/*
 * The codec options of format protobuf for the table's value (or key): the
 * message type and the descriptor set.
 */
extern void kafka_table_protobuf_options(KafkaTable *table, bool key,
										 KafkaCodecOptions *options);

/*
 * The same, for producing into the table: without a topic option, a
 * kafka 'topic' column names each row's topic (table->topic is then NULL
 * and table->topic_attnum the column).
 */
extern KafkaTable *kafka_table_open_to_produce(Oid relid, MemoryContext mcxt);

/*
 * Decode one record into a row of the table (values/nulls sized
 * desc->natts, allocated in CurrentMemoryContext).  Metadata columns are
 * always filled.  Returns true when the payload decoded; on a malformed
 * payload returns false with *error set (the payload columns are NULL and
 * the error column, if any, holds the text) and never throws for bad data:
 * the caller applies its own policy (the table's on_error for scans;
 * dead_letter/fail/skip for streaming tables).  Every caller then drops a
 * record with table->skip_record set: it is not a row (envelope
 * 'debezium').
 */
extern bool kafka_table_decode(KafkaTable *table, rd_kafka_message_t *msg,
							   KafkaPartitionRange *range,
							   Datum *values, bool *nulls, char **error);

/*
 * Only fill the columns in attrs_used (attribute numbers minus offset, as
 * pull_varattnos gives them with FirstLowInvalidHeapAttributeNumber; a
 * whole-row reference means every column); the others come back NULL.
 * Leaving out payload columns makes decoding cheaper; the payload is still
 * checked as a whole.
 */
/*
 * Report the fields of each payload that no column takes, in table->unknown
 * after kafka_table_decode (schema evolution; formats json and avro).
 */
extern void kafka_table_report_unknown_fields(KafkaTable *table);
extern void kafka_table_set_needed(KafkaTable *table, Bitmapset *attrs_used,
								   int offset);

/*
 * For callers that raise the ERROR on any decode failure (on_error 'fail'):
 * no subtransactions for slow-path types (see kafka_decoder_allow_throw);
 * kafka_table_decode may then throw for a bad value of such a type.
 */
extern void kafka_table_allow_throw(KafkaTable *table);

/* ERROR for a failed decode, with the record's topic/partition/offset. */
extern void kafka_table_report_error(KafkaTable *table, rd_kafka_message_t *msg,
									 const char *error) pg_attribute_noreturn();

/*
 * Can decoding the needed columns without throwing need subtransactions
 * (a column type without a fast path in the codec)?
 */
extern bool kafka_table_needs_subtransactions(KafkaTable *table);

extern const char *kafka_on_error_name(KafkaOnError on_error);

/* The type kafka.header[]. */
extern Oid	kafka_header_array_type(void);

#endif							/* KAFKA_TABLE_H */
