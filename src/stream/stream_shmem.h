/*-------------------------------------------------------------------------
 *
 * stream_shmem.h
 *	  Shared memory of the streaming-table launcher: one slot per known
 *	  stream (database, target, worker pid, state for kafka.stream_progress,
 *	  its place in the queue for a worker) and the databases held by a DROP
 *	  EXTENSION / DROP DATABASE in progress.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_STREAM_SHMEM_H
#define KAFKA_STREAM_SHMEM_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/lwlock.h"

#define STREAM_MAX_HOLDS 16

typedef struct StreamSlot
{
	bool		in_use;
	bool		wanted;			/* the last probe of its database listed it */
	bool		clean_exit;		/* the worker stopped on purpose */
	Oid			dboid;
	Oid			target;
	int			pid;			/* of its worker, or 0 */
	int			restarts;		/* consecutive failures */
	TimestampTz next_start;		/* backoff */
	char		state[32];		/* one of the states of kafka.stream_progress */
	TimestampTz state_until;	/* 'sleeping' / 'backoff' until, or 0 */
	double		rows_per_second;
	char		last_error[256];
	char		warning[256];	/* a trouble that does not stop it, or "" */
	/* scheduling */
	TimestampTz waiting_since;	/* queued for a worker since, or 0 */
	TimestampTz started_at;		/* its worker's start: the time slice */
	bool		yielding;		/* its worker gives way to a waiting stream */
	bool		wait_logged;	/* "waits for a worker" was logged */
	char		name[2 * NAMEDATALEN + 8];	/* for the log, set by the probe */
	char		dbname[NAMEDATALEN];
} StreamSlot;

typedef struct StreamHold
{
	Oid			dboid;
	int			holder_pid;		/* 0: free */
} StreamHold;

typedef struct StreamShared
{
	LWLock	   *lock;
	int			launcher_pid;
	bool		probe_requested;
	int			probe_pid;
	Oid			probe_dboid;
	StreamHold	holds[STREAM_MAX_HOLDS];
	int			streams_waiting;	/* yields wanted after a time slice */
	int			workers_over;	/* yields wanted at once: pool made smaller */
	int			nslots;
	StreamSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} StreamShared;

extern StreamShared *stream_shared;
extern int	stream_max_workers;
extern int	stream_max_streams;
extern int	stream_time_slice;
extern int	stream_my_slot;

extern void stream_poke_launcher(void);

/* progress.c: the high watermarks kafka.stream_progress was told lately */
extern Size stream_watermarks_shmem_size(void);
extern void stream_watermarks_shmem_init(LWLock *lock);

/* Set a slot's state (caller holds the lock); until: 0 when it has no end. */
extern void stream_slot_set_state(StreamSlot *slot, const char *state,
								  TimestampTz until);
extern bool stream_database_held(Oid dboid);	/* caller holds the lock */

/* for the stream worker, at points where nothing is fetched and uncommitted */
extern void stream_reload_config(void);
extern bool stream_worker_should_yield(TimestampTz idle_until);

#endif							/* KAFKA_STREAM_SHMEM_H */
