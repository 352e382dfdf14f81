/*-------------------------------------------------------------------------
 *
 * message_buffer.c
 *	  The messages a transaction produced, held until pre-commit.
 *
 * Messages are appended as self-contained records to one logical log: the
 * first part (possibly empty) in a temporary file, the rest in memory.  When
 * the memory part would grow past the limit it is written to the end of the
 * file, so memory stays bounded whatever the transaction produces; after
 * that first spill, the memory part goes to the file every WRITE_CHUNK_SIZE
 * bytes.  The writes are made by a thread of the buffer's own (the spill
 * writer), so the backend goes on encoding rows meanwhile: the backend hands
 * it a full memory part and takes a written one back to fill, with at most
 * SPILL_JOBS parts queued.  The writer only writes, through a descriptor of
 * its own (a PostgreSQL File may be closed and reopened by the backend at
 * any time); errors are reported by the backend when it next hands over or
 * waits.  Everything else waits for the queued writes first: savepoint
 * truncation, reading back, closing.  The file is read back in chunks of
 * READ_CHUNK_SIZE bytes (more for a larger record), and records are handed
 * out straight from the chunk.
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

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "access/xact.h"
#include "commands/tablespace.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/guc.h"
#include "utils/wait_event.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "client.h"
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

/* How much of the file is read, and at most written, at a time. */
#define READ_CHUNK_SIZE (1024 * 1024)
#define WRITE_CHUNK_SIZE (1024 * 1024)

/* Memory parts handed to the spill writer and not yet written, at most. */
#define SPILL_JOBS 3

typedef struct SpillJob
{
	char	   *data;			/* palloc'd by the backend */
	int			maxlen;
	int			len;			/* bytes to write */
	uint64		offset;			/* where in the file */
} SpillJob;

/*
 * Shared by the backend and the writer thread, under lock: jobs number
 * submitted - done wait in slots [done % SPILL_JOBS ...], oldest first.
 */
typedef struct SpillWriter
{
	pthread_t	thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int			fd;				/* the writer's own descriptor of the file */
	SpillJob	jobs[SPILL_JOBS];
	uint64		submitted;
	uint64		done;
	bool		stop;
	int			error;			/* errno of the first failed write */
} SpillWriter;

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
	File		file;			/* -1 until the first spill */
	SpillWriter *writer;		/* started with the file */
	uint64		file_length;	/* logical end of the file part */
	int64		count;
	SavepointMark *marks;
	int			nmarks;
	int			maxmarks;
	/* reading back */
	uint64		read_position;	/* of the next record */
	StringInfoData chunk;		/* file bytes from chunk_start */
	uint64		chunk_start;	/* file position of chunk.data[0] */
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
	buffer->file = -1;
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

/* The writer thread: write each queued part, in order, until told to stop. */
static void *
spill_writer_main(void *arg)
{
	SpillWriter *writer = arg;

	pthread_mutex_lock(&writer->lock);
	for (;;)
	{
		SpillJob	job;
		const char *data;
		size_t		left;
		off_t		offset;
		int			error = 0;

		while (writer->done == writer->submitted && !writer->stop)
			pthread_cond_wait(&writer->changed, &writer->lock);
		if (writer->stop)
			break;
		job = writer->jobs[writer->done % SPILL_JOBS];
		pthread_mutex_unlock(&writer->lock);

		data = job.data;
		left = job.len;
		offset = (off_t) job.offset;
		while (left > 0)
		{
			ssize_t		written = pwrite(writer->fd, data, left, offset);

			if (written < 0 && errno == EINTR)
				continue;
			if (written <= 0)
			{
				error = written < 0 ? errno : ENOSPC;
				break;
			}
			data += written;
			left -= written;
			offset += written;
		}

		pthread_mutex_lock(&writer->lock);
		if (error != 0 && writer->error == 0)
			writer->error = error;
		writer->done++;
		pthread_cond_broadcast(&writer->changed);
	}
	pthread_mutex_unlock(&writer->lock);
	return NULL;
}

/*
 * Wait until at most max_pending parts are still queued, then report a failed
 * write if asked to (a failure stays recorded: commit reports it whatever
 * happens in between).  Cancellable where interrupts are allowed.
 */
static void
wait_for_writer(SpillWriter *writer, uint64 max_pending, bool report)
{
	int			error;

	pthread_mutex_lock(&writer->lock);
	while (writer->submitted - writer->done > max_pending)
	{
		struct timespec until;

		pthread_mutex_unlock(&writer->lock);
		CHECK_FOR_INTERRUPTS();
		pthread_mutex_lock(&writer->lock);
		if (writer->submitted - writer->done <= max_pending)
			break;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000;
		if (until.tv_nsec >= 1000 * 1000 * 1000)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000 * 1000 * 1000;
		}
		pthread_cond_timedwait(&writer->changed, &writer->lock, &until);
	}
	error = writer->error;
	pthread_mutex_unlock(&writer->lock);
	if (report && error != 0)
	{
		errno = error;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write the temporary file of produced kafka messages: %m")));
	}
}

/* Wait for every queued part to be written. */
static void
drain_writer(KafkaMessageBuffer *buffer, bool report)
{
	if (buffer->writer)
		wait_for_writer(buffer->writer, 0, report);
}

/* Open the file and start its writer. */
static void
start_spill(KafkaMessageBuffer *buffer)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(buffer->mcxt);
	ResourceOwner oldowner = CurrentResourceOwner;
	SpillWriter *writer;
	int			fd;

	/*
	 * The file belongs to the whole transaction: a subtransaction's resource
	 * owner would close it when that subtransaction aborts, while it holds
	 * messages of its parents too.
	 */
	CurrentResourceOwner = TopTransactionResourceOwner;
	PrepareTempTablespaces();
	buffer->file = OpenTemporaryFile(false);
	CurrentResourceOwner = oldowner;

	writer = palloc0(sizeof(SpillWriter));
	writer->fd = -1;
	if (!AcquireExternalFD())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not open the temporary file of produced kafka messages: too many open files")));
	fd = dup(FileGetRawDesc(buffer->file));
	if (fd < 0)
	{
		ReleaseExternalFD();
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open the temporary file of produced kafka messages: %m")));
	}
	writer->fd = fd;
	pthread_mutex_init(&writer->lock, NULL);
	pthread_cond_init(&writer->changed, NULL);
	if (kafka_start_thread(spill_writer_main, writer, &writer->thread) != 0)
	{
		close(fd);
		ReleaseExternalFD();
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start the writer of the temporary file of produced kafka messages")));
	}
	buffer->writer = writer;
	MemoryContextSwitchTo(oldcontext);
}

/* Stop the writer (its current write finishes) and close its descriptor. */
static void
stop_writer(KafkaMessageBuffer *buffer)
{
	SpillWriter *writer = buffer->writer;

	if (writer == NULL)
		return;
	buffer->writer = NULL;
	pthread_mutex_lock(&writer->lock);
	writer->stop = true;
	pthread_cond_broadcast(&writer->changed);
	pthread_mutex_unlock(&writer->lock);
	pthread_join(writer->thread, NULL);
	pthread_mutex_destroy(&writer->lock);
	pthread_cond_destroy(&writer->changed);
	close(writer->fd);
	ReleaseExternalFD();
}

/* Hand the memory part to the writer, to go at the end of the file. */
static void
spill(KafkaMessageBuffer *buffer)
{
	SpillWriter *writer;
	SpillJob   *job;
	char	   *data;
	int			maxlen;

	if (buffer->file < 0)
		start_spill(buffer);
	writer = buffer->writer;

	/* the writer doesn't go through fd.c, which enforces this */
	if (temp_file_limit >= 0 &&
		buffer->file_length + buffer->memory.len > (uint64) temp_file_limit * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("temporary file size exceeds temp_file_limit (%dkB)", temp_file_limit)));

	/* a free slot: the one written longest ago */
	wait_for_writer(writer, SPILL_JOBS - 1, true);
	job = &writer->jobs[writer->submitted % SPILL_JOBS];

	/* swap buffers: the memory part goes, the slot's written one comes back */
	data = job->data;
	maxlen = job->maxlen;
	job->data = buffer->memory.data;
	job->maxlen = buffer->memory.maxlen;
	job->len = buffer->memory.len;
	job->offset = buffer->file_length;
	buffer->file_length += buffer->memory.len;

	/* an oversized message made a part grow: give that memory back */
	if (data != NULL && maxlen > 2 * Min(buffer->memory_limit, WRITE_CHUNK_SIZE))
	{
		pfree(data);
		data = NULL;
	}
	if (data == NULL)
	{
		maxlen = Min(buffer->memory_limit, WRITE_CHUNK_SIZE) + 1;
		data = MemoryContextAlloc(buffer->mcxt, maxlen);
	}
	buffer->memory.data = data;
	buffer->memory.maxlen = maxlen;
	resetStringInfo(&buffer->memory);

	pthread_mutex_lock(&writer->lock);
	writer->submitted++;
	pthread_cond_broadcast(&writer->changed);
	pthread_mutex_unlock(&writer->lock);
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

	/*
	 * Once the log has spilled, the rest goes to the file in pieces of
	 * WRITE_CHUNK_SIZE: written while still in the CPU's caches.
	 */
	if (buffer->memory.len > 0 &&
		buffer->memory.len + length > (buffer->file >= 0 ?
									   Min(buffer->memory_limit, WRITE_CHUNK_SIZE) :
									   buffer->memory_limit))
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
	/* a queued write must not land after the truncation (at subtransaction
	 * abort: no error here, the next write or the commit reports it) */
	drain_writer(buffer, false);
	if (position >= buffer->file_length)
		buffer->memory.len = (int) (position - buffer->file_length);
	else
	{
		/* later spills overwrite the rest */
		buffer->file_length = position;
		resetStringInfo(&buffer->memory);
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
	drain_writer(buffer, true);
	buffer->read_position = 0;
	buffer->chunk_start = 0;
	if (buffer->chunk.data)
		resetStringInfo(&buffer->chunk);
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

/* Is the whole record at read_position in the chunk? */
static bool
record_in_chunk(KafkaMessageBuffer *buffer)
{
	uint64		offset = buffer->read_position - buffer->chunk_start;
	uint64		available = buffer->chunk.len - Min(offset, (uint64) buffer->chunk.len);
	RecordHeader header;

	if (available < sizeof(RecordHeader))
		return false;
	memcpy(&header, buffer->chunk.data + offset, sizeof(header));
	return available >= header.length;
}

/*
 * Read the file from read_position on into the chunk: at least need bytes,
 * and as many more as fit in a chunk (up to the end of the file part).
 */
static void
fill_chunk(KafkaMessageBuffer *buffer, uint64 need)
{
	uint64		offset = buffer->read_position - buffer->chunk_start;
	int			kept = 0;
	uint64		want;

	if (buffer->chunk.data == NULL)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(buffer->mcxt);

		initStringInfo(&buffer->chunk);
		MemoryContextSwitchTo(oldcontext);
	}
	/* keep the unread tail */
	if (offset < buffer->chunk.len)
	{
		kept = buffer->chunk.len - (int) offset;
		memmove(buffer->chunk.data, buffer->chunk.data + offset, kept);
	}
	buffer->chunk.len = kept;
	buffer->chunk_start = buffer->read_position;
	want = Min(Max(need, READ_CHUNK_SIZE), buffer->file_length - buffer->read_position);
	if (want < need)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the temporary file of produced kafka messages is truncated")));
	if (want > buffer->chunk.len)
		enlargeStringInfo(&buffer->chunk, (int) (want - buffer->chunk.len));
	while (buffer->chunk.len < want)
	{
		int			got = FileRead(buffer->file, buffer->chunk.data + buffer->chunk.len,
								   (int) want - buffer->chunk.len,
								   (off_t) (buffer->chunk_start + buffer->chunk.len),
								   WAIT_EVENT_BUFFILE_READ);

		if (got <= 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the temporary file of produced kafka messages: %m")));
		buffer->chunk.len += got;
	}
}

bool
kafka_message_buffer_next_refills(KafkaMessageBuffer *buffer)
{
	return buffer->read_position < buffer->file_length && !record_in_chunk(buffer);
}

bool
kafka_message_buffer_next(KafkaMessageBuffer *buffer, KafkaMessageData *message)
{
	if (buffer->read_position < buffer->file_length)
	{
		RecordHeader header;
		const char *data;

		if (!record_in_chunk(buffer))
		{
			fill_chunk(buffer, sizeof(RecordHeader));
			memcpy(&header, buffer->chunk.data, sizeof(header));
			if (header.length > buffer->chunk.len)
				fill_chunk(buffer, header.length);
		}
		data = buffer->chunk.data + (buffer->read_position - buffer->chunk_start);
		memcpy(&header, data, sizeof(header));
		if (header.length < sizeof(RecordHeader))
			elog(ERROR, "invalid record in the temporary file of produced kafka messages");
		buffer->read_position += header.length;
		parse_record(buffer, data, message);
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
	stop_writer(buffer);
	if (buffer->file >= 0)
		FileClose(buffer->file);
	buffer->file = -1;
	buffer->file_length = 0;
	resetStringInfo(&buffer->memory);
	buffer->count = 0;
	buffer->nmarks = 0;
}

void
kafka_message_buffer_discard(KafkaMessageBuffer *buffer)
{
	/* the file itself goes with the transaction's resource owner */
	stop_writer(buffer);
}
