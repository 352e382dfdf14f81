/*-------------------------------------------------------------------------
 *
 * message_buffer.c
 *	  The messages a transaction produced, held until pre-commit.
 *
 * Messages are appended as self-contained records to one logical log: the
 * first part (possibly empty) in a temporary BufFile, the rest in memory.
 * When the memory part would grow past the limit it is written to the end of
 * the file, so memory stays bounded whatever the transaction produces.
 *
 * A savepoint costs nothing until a message is produced inside it: then a
 * mark (subtransaction id, log position, message count) is pushed.
 * Subtransaction ids grow, so when subtransaction S aborts every mark with an
 * id >= S belongs to S or to a child of S that committed into it, and
 * truncating the log to the first such mark drops exactly their messages.
 * Truncating inside the file just moves its logical end: later writes
 * overwrite what follows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "storage/buffile.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "produce/message_buffer.h"

/* Fixed part of a record; the key, value and headers follow. */
typedef struct RecordHeader
{
	uint32		length;			/* of the whole record */
	uint16		target;
	uint16		nheaders;
	int32		partition;
	int32		key_len;		/* -1: NULL */
	int32		value_len;		/* -1: NULL */
	int32		unused;
	int64		timestamp_ms;
} RecordHeader;

/* Each header: two int32 lengths (value -1: NULL), then the bytes. */
#define HEADER_LENGTHS_SIZE (2 * sizeof(int32))

typedef struct SavepointMark
{
	SubTransactionId subid;
	uint64		position;
	int64		count;
} SavepointMark;

struct KafkaMessageBuffer
{
	MemoryContext mcxt;
	int			memory_limit;
	StringInfoData memory;		/* the log after file_length */
	BufFile    *file;			/* NULL until the first spill */
	uint64		file_length;	/* logical end of the file part */
	int64		count;
	SavepointMark *marks;
	int			nmarks;
	int			maxmarks;
	/* reading back */
	uint64		read_position;
	StringInfoData record;		/* a record read from the file */
	KafkaHeaderData *headers;
	int			maxheaders;
};

KafkaMessageBuffer *
kafka_message_buffer_create(MemoryContext mcxt, int memory_limit_bytes)
{
	KafkaMessageBuffer *buffer = MemoryContextAllocZero(mcxt, sizeof(KafkaMessageBuffer));
	MemoryContext oldcontext = MemoryContextSwitchTo(mcxt);

	buffer->mcxt = mcxt;
	buffer->memory_limit = memory_limit_bytes;
	initStringInfo(&buffer->memory);
	MemoryContextSwitchTo(oldcontext);
	return buffer;
}

int64
kafka_message_buffer_count(KafkaMessageBuffer *buffer)
{
	return buffer->count;
}

uint64
kafka_message_buffer_bytes(KafkaMessageBuffer *buffer)
{
	return buffer->file_length + buffer->memory.len;
}

bool
kafka_message_buffer_spilled(KafkaMessageBuffer *buffer)
{
	return buffer->file != NULL;
}

static void
seek_file(KafkaMessageBuffer *buffer, uint64 position)
{
	/* BufFileSeek carries an offset past a segment over to the next ones */
	if (BufFileSeek(buffer->file, 0, (off_t) position, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not seek in the temporary file of produced kafka messages")));
}

/* Move the memory part to the end of the file. */
static void
spill(KafkaMessageBuffer *buffer)
{
	if (buffer->file == NULL)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(buffer->mcxt);
		ResourceOwner oldowner = CurrentResourceOwner;

		/*
		 * The file belongs to the whole transaction: a subtransaction's
		 * resource owner would close it when that subtransaction aborts,
		 * while it holds messages of its parents too.
		 */
		CurrentResourceOwner = TopTransactionResourceOwner;
		buffer->file = BufFileCreateTemp(false);
		CurrentResourceOwner = oldowner;
		MemoryContextSwitchTo(oldcontext);
	}
	BufFileWrite(buffer->file, buffer->memory.data, buffer->memory.len);
	buffer->file_length += buffer->memory.len;
	resetStringInfo(&buffer->memory);
	/* an oversized message made the buffer grow: give that memory back */
	if (buffer->memory.maxlen > 2 * buffer->memory_limit)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(buffer->mcxt);

		pfree(buffer->memory.data);
		initStringInfo(&buffer->memory);
		MemoryContextSwitchTo(oldcontext);
	}
}

void
kafka_message_buffer_append(KafkaMessageBuffer *buffer,
							const KafkaMessageData *message)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	RecordHeader header;
	uint64		length;
	int			i;
	char	   *out;

	if (message->nheaders > PG_UINT16_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a kafka message can have at most %d headers", PG_UINT16_MAX)));

	length = sizeof(RecordHeader) + Max(message->key_len, 0) + Max(message->value_len, 0);
	for (i = 0; i < message->nheaders; i++)
		length += HEADER_LENGTHS_SIZE + message->headers[i].name_len +
			Max(message->headers[i].value_len, 0);
	if (length >= MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("kafka message of %llu bytes is too large",
						(unsigned long long) length)));

	if (subid != TopSubTransactionId &&
		(buffer->nmarks == 0 || buffer->marks[buffer->nmarks - 1].subid < subid))
	{
		if (buffer->nmarks == buffer->maxmarks)
		{
			buffer->maxmarks = Max(8, buffer->maxmarks * 2);
			buffer->marks = buffer->marks
				? repalloc(buffer->marks, buffer->maxmarks * sizeof(SavepointMark))
				: MemoryContextAlloc(buffer->mcxt, buffer->maxmarks * sizeof(SavepointMark));
		}
		buffer->marks[buffer->nmarks].subid = subid;
		buffer->marks[buffer->nmarks].position = kafka_message_buffer_bytes(buffer);
		buffer->marks[buffer->nmarks].count = buffer->count;
		buffer->nmarks++;
	}

	if (buffer->memory.len > 0 && buffer->memory.len + length > buffer->memory_limit)
		spill(buffer);

	memset(&header, 0, sizeof(header));
	header.length = (uint32) length;
	header.target = message->target;
	header.nheaders = (uint16) message->nheaders;
	header.partition = message->partition;
	header.key_len = message->key ? message->key_len : -1;
	header.value_len = message->value ? message->value_len : -1;
	header.timestamp_ms = message->timestamp_ms;

	enlargeStringInfo(&buffer->memory, (int) length);
	out = buffer->memory.data + buffer->memory.len;
	memcpy(out, &header, sizeof(header));
	out += sizeof(header);
	if (message->key)
	{
		memcpy(out, message->key, message->key_len);
		out += message->key_len;
	}
	if (message->value)
	{
		memcpy(out, message->value, message->value_len);
		out += message->value_len;
	}
	for (i = 0; i < message->nheaders; i++)
	{
		const KafkaHeaderData *h = &message->headers[i];
		int32		value_len = h->value ? h->value_len : -1;

		memcpy(out, &h->name_len, sizeof(int32));
		memcpy(out + sizeof(int32), &value_len, sizeof(int32));
		out += HEADER_LENGTHS_SIZE;
		memcpy(out, h->name, h->name_len);
		out += h->name_len;
		if (h->value)
		{
			memcpy(out, h->value, h->value_len);
			out += h->value_len;
		}
	}
	buffer->memory.len += (int) length;
	buffer->memory.data[buffer->memory.len] = '\0';
	buffer->count++;
}

/* Cut the log back to position, which holds count messages. */
static void
truncate_log(KafkaMessageBuffer *buffer, uint64 position, int64 count)
{
	if (position >= buffer->file_length)
		buffer->memory.len = (int) (position - buffer->file_length);
	else
	{
		buffer->file_length = position;
		resetStringInfo(&buffer->memory);
		seek_file(buffer, position);
	}
	buffer->count = count;
}

void
kafka_message_buffer_abort_sub(KafkaMessageBuffer *buffer, SubTransactionId subid)
{
	int			i;

	for (i = 0; i < buffer->nmarks; i++)
	{
		if (buffer->marks[i].subid >= subid)
		{
			truncate_log(buffer, buffer->marks[i].position, buffer->marks[i].count);
			buffer->nmarks = i;
			return;
		}
	}
}

void
kafka_message_buffer_rewind(KafkaMessageBuffer *buffer)
{
	buffer->read_position = 0;
	if (buffer->file)
		seek_file(buffer, 0);
}

/* Decode the record at data (length bytes, checked by the caller). */
static void
parse_record(KafkaMessageBuffer *buffer, const char *data, KafkaMessageData *message)
{
	RecordHeader header;
	const char *p = data + sizeof(RecordHeader);
	int			i;

	memcpy(&header, data, sizeof(header));
	message->target = header.target;
	message->partition = header.partition;
	message->timestamp_ms = header.timestamp_ms;
	message->key_len = Max(header.key_len, 0);
	message->key = header.key_len >= 0 ? p : NULL;
	p += message->key_len;
	message->value_len = Max(header.value_len, 0);
	message->value = header.value_len >= 0 ? p : NULL;
	p += message->value_len;
	message->nheaders = header.nheaders;
	if (header.nheaders > buffer->maxheaders)
	{
		buffer->maxheaders = Max(header.nheaders, 8);
		if (buffer->headers)
			pfree(buffer->headers);
		buffer->headers = MemoryContextAlloc(buffer->mcxt,
											 buffer->maxheaders * sizeof(KafkaHeaderData));
	}
	message->headers = buffer->headers;
	for (i = 0; i < header.nheaders; i++)
	{
		KafkaHeaderData *h = &buffer->headers[i];
		int32		value_len;

		memcpy(&h->name_len, p, sizeof(int32));
		memcpy(&value_len, p + sizeof(int32), sizeof(int32));
		p += HEADER_LENGTHS_SIZE;
		h->name = p;
		p += h->name_len;
		h->value_len = Max(value_len, 0);
		h->value = value_len >= 0 ? p : NULL;
		p += h->value_len;
	}
}

static void
read_file_exactly(KafkaMessageBuffer *buffer, void *into, size_t size)
{
	if (BufFileRead(buffer->file, into, size) != size)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read the temporary file of produced kafka messages")));
}

bool
kafka_message_buffer_next(KafkaMessageBuffer *buffer, KafkaMessageData *message)
{
	if (buffer->read_position < buffer->file_length)
	{
		RecordHeader header;

		read_file_exactly(buffer, &header, sizeof(header));
		if (buffer->record.data == NULL)
		{
			MemoryContext oldcontext = MemoryContextSwitchTo(buffer->mcxt);

			initStringInfo(&buffer->record);
			MemoryContextSwitchTo(oldcontext);
		}
		resetStringInfo(&buffer->record);
		enlargeStringInfo(&buffer->record, header.length);
		memcpy(buffer->record.data, &header, sizeof(header));
		read_file_exactly(buffer, buffer->record.data + sizeof(header),
						  header.length - sizeof(header));
		buffer->record.len = header.length;
		buffer->read_position += header.length;
		parse_record(buffer, buffer->record.data, message);
		return true;
	}
	else
	{
		uint64		offset = buffer->read_position - buffer->file_length;
		RecordHeader header;

		if (offset >= buffer->memory.len)
			return false;
		memcpy(&header, buffer->memory.data + offset, sizeof(header));
		buffer->read_position += header.length;
		parse_record(buffer, buffer->memory.data + offset, message);
		return true;
	}
}

void
kafka_message_buffer_close(KafkaMessageBuffer *buffer)
{
	if (buffer->file)
		BufFileClose(buffer->file);
	buffer->file = NULL;
	buffer->file_length = 0;
	resetStringInfo(&buffer->memory);
	buffer->count = 0;
	buffer->nmarks = 0;
}
