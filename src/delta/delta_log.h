/*-------------------------------------------------------------------------
 *
 * delta_log.h
 *	  Reading a Delta table's transaction log into a snapshot, checking we
 *	  may write to it, and rendering commits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_DELTA_LOG_H
#define KAFKA_DELTA_LOG_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/hsearch.h"

#include "delta/delta_fs.h"
#include "delta/type_map.h"

/* A data file of the snapshot (added and not removed since). */
typedef struct DeltaLiveFile
{
	char	   *path;			/* hash key: as written in the add action */
	int64		size;			/* -1 if the add action had none */
} DeltaLiveFile;

typedef struct DeltaTxn
{
	char	   *app_id;
	int64		version;
	/* commitInfo.kafkaOffsets of the commit that recorded version, or NULL */
	char	   *kafka_offsets;
} DeltaTxn;

typedef struct DeltaSnapshot
{
	MemoryContext context;
	int64		version;		/* -1: no commit yet (a new table) */

	/* protocol */
	int			min_reader_version;
	int			min_writer_version;
	List	   *reader_features;	/* char * */
	List	   *writer_features;

	/* metaData */
	bool		has_metadata;
	char	   *table_id;
	char	   *name_json;		/* JSON values kept verbatim, or NULL */
	char	   *description_json;
	char	   *format_json;
	char	   *configuration_json;
	char	   *schema_string;
	int64		created_time;	/* -1 if absent */
	bool		partitioned;
	bool		append_only;
	bool		column_mapping;
	DeltaField *fields;
	int			nfields;

	/* txn: newest version per application */
	List	   *txns;			/* DeltaTxn * */

	/* files, only when asked for (overwrite needs them) */
	bool		track_files;
	HTAB	   *live_files;

	/* what delta_log_catch_up() saw */
	bool		protocol_changed;
	bool		metadata_changed;
} DeltaSnapshot;

/*
 * Reads the table's log into a snapshot allocated in CurrentMemoryContext.
 * Without a log (has_log false; dir may then be NULL: no directory yet) the
 * snapshot is that of a new table.
 */
extern DeltaSnapshot *delta_log_load(DeltaTableDir *dir, bool has_log,
									 bool track_files);

/*
 * Applies the commits published after the snapshot's version (by another
 * writer); returns how many were read and sets the *_changed flags.
 */
extern int	delta_log_catch_up(DeltaTableDir *dir, DeltaSnapshot *snapshot);

/* Refuses, with a clear error, tables this writer must not write to. */
extern void delta_log_check_writable(const DeltaSnapshot *snapshot,
									 const char *path, bool overwrite);

/* The newest txn version recorded for an application, if any. */
extern bool delta_log_txn_version(const DeltaSnapshot *snapshot,
								  const char *app_id, int64 *version);

/*
 * The Kafka offsets (commitInfo member kafkaOffsets, JSON text) of the
 * commit that recorded the application's newest txn version; NULL if none.
 */
extern const char *delta_log_txn_offsets(const DeltaSnapshot *snapshot,
										 const char *app_id);

typedef struct DeltaAddedFile
{
	char	   *path;
	int64		size;
	int64		modification_time;	/* ms since 1970 */
	int64		rows;
	char	   *stats;			/* JSON document */
} DeltaAddedFile;

typedef struct DeltaCommit
{
	bool		overwrite;		/* remove every live file of the snapshot */

	bool		write_protocol;
	int			min_reader_version;
	int			min_writer_version;
	List	   *reader_features;	/* char *; only with version 3 / 7 */
	List	   *writer_features;

	bool		write_metadata;
	const char *schema_string;

	const char *app_id;			/* NULL: no txn action */
	int64		txn_version;
	const char *kafka_offsets;	/* JSON object for commitInfo, or NULL */

	List	   *added_files;	/* DeltaAddedFile * */
	int64		rows;
	int64		bytes;
} DeltaCommit;

/* The newline-delimited JSON of a commit on top of a snapshot. */
extern char *delta_commit_render(const DeltaCommit *commit,
								 const DeltaSnapshot *snapshot,
								 size_t *length);

/* Milliseconds since 1970, as the log counts time. */
extern int64 delta_now_ms(void);

#endif							/* KAFKA_DELTA_LOG_H */
