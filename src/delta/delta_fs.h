/*-------------------------------------------------------------------------
 *
 * delta_fs.h
 *	  Safe file system access for Delta Lake export: path validation,
 *	  symlink-free directory opening, exclusive file creation, atomic
 *	  put-if-absent commits, and removal of uncommitted files on error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_DELTA_FS_H
#define KAFKA_DELTA_FS_H

#include "postgres.h"

#include "nodes/pg_list.h"

#define DELTA_UUID_LENGTH 36

typedef struct DeltaTableDir DeltaTableDir;

/*
 * Validates a user-given table path and returns it canonicalized (absolute,
 * no "..", no "file://" prefix); errors name the offending path.
 */
extern char *delta_canonical_path(const char *path);

/*
 * Opens (creating if asked, like mkdir -p) the table directory, refusing
 * symbolic links anywhere on the way.  Every file created through the
 * handle is removed again if the current (sub)transaction aborts before
 * delta_dir_commit() succeeds; file descriptors are closed then too.
 * Returns NULL if the directory does not exist and create is false.
 */
extern DeltaTableDir *delta_dir_open(const char *canonical_path, bool create);

/* Opens _delta_log; returns false if it does not exist and create is false. */
extern bool delta_dir_open_log(DeltaTableDir *dir, bool create);

extern const char *delta_dir_path(DeltaTableDir *dir);

/* Names of the entries of _delta_log. */
extern List *delta_dir_list_log(DeltaTableDir *dir);

/*
 * Whole content of a _delta_log file, NUL-terminated; NULL if it does not
 * exist and missing_ok.
 */
extern char *delta_dir_read_log(DeltaTableDir *dir, const char *name,
								bool missing_ok, size_t *length);

/* A new data file in the table directory (O_EXCL, O_NOFOLLOW). */
extern int	delta_dir_create_data_file(DeltaTableDir *dir, const char *name);

/* fsyncs and closes a data file; returns its modification time in ms. */
extern int64 delta_dir_finish_data_file(DeltaTableDir *dir, int fd,
										const char *name);

/*
 * Publishes a commit as _delta_log/<version>.json if no such version exists
 * yet: write a temporary file, fsync, link() it to the version name, fsync
 * the directory.  Returns false if another writer got the version first.
 * On success the data files created so far belong to the table and are no
 * longer removed on error.
 */
extern bool delta_dir_commit(DeltaTableDir *dir, int64 version,
							 const char *content, size_t length);

/* Closes descriptors and removes uncommitted files now. */
extern void delta_dir_close(DeltaTableDir *dir);

/* A random (version 4) UUID in its 36-character text form. */
extern void delta_random_uuid(char *out);

/* Writes all of data to fd or raises an ERROR naming what. */
extern void delta_write_fully(int fd, const char *data, size_t length,
							  const char *what);

#endif							/* KAFKA_DELTA_FS_H */
