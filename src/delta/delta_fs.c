/*-------------------------------------------------------------------------
 *
 * delta_fs.c
 *	  Safe file system access for Delta Lake export.
 *
 * delta_export writes wherever the server's OS user may write, on behalf of
 * roles trusted with pg_write_server_files, so it is careful the way COPY TO
 * ought to be: the path must be absolute and free of "..", every directory
 * on the way is opened with O_NOFOLLOW relative to its parent (so a symlink
 * swapped in between a check and a use cannot redirect us), and files are
 * only ever created with O_EXCL | O_NOFOLLOW relative to those directory
 * descriptors.
 *
 * Cleanup: the handle lives in a memory context under the current
 * (sub)transaction's context, with a reset callback.  If an ERROR, a query
 * cancel or a backend termination aborts the transaction, the callback
 * closes the descriptors and removes every data or temporary file created
 * and not yet committed, so a failed export leaves nothing behind.  A
 * SIGKILL can still leave unreferenced data files, which are invisible to
 * Delta readers (only the log says what the table holds) and are removed by
 * a Delta VACUUM of the table (Spark, delta-rs).
 *
 * Commits use link(), which fails with EEXIST if the version exists: the
 * put-if-absent the Delta protocol requires.  File systems without hard
 * links fall back to renameat2(RENAME_NOREPLACE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "delta/delta_fs.h"

#define MAX_TRANSIENT_FDS 4

typedef struct CreatedFile
{
	bool		in_log;			/* in _delta_log, else in the table directory */
	char	   *name;
} CreatedFile;

struct DeltaTableDir
{
	MemoryContext context;		/* holds this struct; its reset cleans up */
	char	   *path;
	int			table_fd;
	int			log_fd;
	int			transient_fds[MAX_TRANSIENT_FDS];
	int			transient_count;
	DIR		   *listing;
	List	   *uncommitted;	/* CreatedFile */
};

/* ----------------------------------------------------------------
 * Descriptor bookkeeping
 * ----------------------------------------------------------------
 */

static int
transient_openat(DeltaTableDir *dir, int dirfd, const char *name, int flags,
				 mode_t mode)
{
	int			fd;

	if (dir->transient_count >= MAX_TRANSIENT_FDS)
		elog(ERROR, "too many files open for a Delta export");

	/* tell fd.c, which budgets descriptors against max_files_per_process */
	ReserveExternalFD();
	fd = openat(dirfd, name, flags, mode);
	if (fd < 0)
	{
		int			save_errno = errno;

		ReleaseExternalFD();
		errno = save_errno;
		return -1;
	}
	dir->transient_fds[dir->transient_count++] = fd;
	return fd;
}

/* Stops tracking fd as transient, without closing it. */
static void
untrack(DeltaTableDir *dir, int fd)
{
	for (int i = 0; i < dir->transient_count; i++)
	{
		if (dir->transient_fds[i] == fd)
		{
			dir->transient_fds[i] = dir->transient_fds[--dir->transient_count];
			return;
		}
	}
}

static void
transient_close(DeltaTableDir *dir, int fd)
{
	untrack(dir, fd);
	close(fd);
	ReleaseExternalFD();
}

static void
remember_created(DeltaTableDir *dir, bool in_log, const char *name)
{
	MemoryContext old = MemoryContextSwitchTo(dir->context);
	CreatedFile *created = palloc(sizeof(CreatedFile));

	created->in_log = in_log;
	created->name = pstrdup(name);
	dir->uncommitted = lappend(dir->uncommitted, created);
	MemoryContextSwitchTo(old);
}

static void
forget_created(DeltaTableDir *dir, const char *name)
{
	ListCell   *cell;

	foreach(cell, dir->uncommitted)
	{
		CreatedFile *created = lfirst(cell);

		if (strcmp(created->name, name) == 0)
		{
			dir->uncommitted = foreach_delete_current(dir->uncommitted, cell);
			return;
		}
	}
}

/*
 * Runs when the handle's context goes away: normally from delta_dir_close(),
 * else from (sub)transaction abort or commit.  Must not throw.
 */
static void
table_dir_cleanup(void *arg)
{
	DeltaTableDir *dir = (DeltaTableDir *) arg;
	ListCell   *cell;

	if (dir->listing)
	{
		closedir(dir->listing);
		ReleaseExternalFD();
		dir->listing = NULL;
	}
	while (dir->transient_count > 0)
		transient_close(dir, dir->transient_fds[0]);

	foreach(cell, dir->uncommitted)
	{
		CreatedFile *created = lfirst(cell);
		int			dirfd = created->in_log ? dir->log_fd : dir->table_fd;

		if (dirfd >= 0)
			(void) unlinkat(dirfd, created->name, 0);
	}
	dir->uncommitted = NIL;

	if (dir->log_fd >= 0)
	{
		close(dir->log_fd);
		ReleaseExternalFD();
		dir->log_fd = -1;
	}
	if (dir->table_fd >= 0)
	{
		close(dir->table_fd);
		ReleaseExternalFD();
		dir->table_fd = -1;
	}
}

/* write() until done; a short write without errno means the disk is full */
void
delta_write_fully(int fd, const char *data, size_t length, const char *what)
{
	while (length > 0)
	{
		ssize_t		written;

		errno = 0;
		written = write(fd, data, length);
		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
		{
			if (errno == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", what)));
		}
		data += written;
		length -= written;
	}
}

/* ----------------------------------------------------------------
 * Paths and directories
 * ----------------------------------------------------------------
 */

char *
delta_canonical_path(const char *path)
{
	const char *local = path;
	char	   *copy;
	char	   *component;
	char	   *position;
	char	   *result;

	if (strncmp(local, "file://", 7) == 0)
		local += 7;
	else if (strstr(local, "://") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("path \"%s\" is not a local path", path),
				 errhint("Only local file system paths are supported; export to a local or mounted directory.")));

	if (local[0] != '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path \"%s\" must be absolute", path)));

	copy = pstrdup(local);
	for (component = strtok_r(copy, "/", &position); component != NULL;
		 component = strtok_r(NULL, "/", &position))
	{
		if (strcmp(component, "..") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path \"%s\" must not contain \"..\"", path)));
	}
	pfree(copy);

	result = pstrdup(local);
	canonicalize_path(result);
	if (strcmp(result, "/") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path \"%s\" must not be the root directory", path)));
	return result;
}

static void
refuse_component(const char *canonical, const char *walked, int parent_fd,
				 const char *component, int open_errno)
{
	struct stat st;

	if (fstatat(parent_fd, component, &st, AT_SYMLINK_NOFOLLOW) == 0)
	{
		if (S_ISLNK(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path \"%s\" goes through a symbolic link", canonical),
					 errdetail("\"%s\" is a symbolic link.", walked),
					 errhint("Give the path without symbolic links.")));
		if (!S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path \"%s\" is not a directory path", canonical),
					 errdetail("\"%s\" is not a directory.", walked)));
	}
	errno = open_errno;
	ereport(ERROR,
			(errcode_for_file_access(),
			 errmsg("could not open directory \"%s\": %m", walked)));
}

/*
 * Opens the directory at an absolute canonical path one component at a
 * time, each relative to its parent and without following links.  Returns
 * -1 if a component is missing and create is false.
 */
static int
open_directory_path(DeltaTableDir *dir, const char *canonical, bool create)
{
	char	   *copy = pstrdup(canonical);
	char	   *component;
	char	   *position;
	StringInfoData walked;
	int			fd;

	initStringInfo(&walked);
	fd = transient_openat(dir, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open directory \"/\": %m")));

	for (component = strtok_r(copy, "/", &position); component != NULL;
		 component = strtok_r(NULL, "/", &position))
	{
		int			flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
		int			next;

		appendStringInfo(&walked, "/%s", component);
		next = transient_openat(dir, fd, component, flags, 0);
		if (next < 0 && errno == ENOENT)
		{
			if (!create)
			{
				transient_close(dir, fd);
				return -1;
			}
			if (mkdirat(fd, component, 0777) != 0 && errno != EEXIST)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not create directory \"%s\": %m", walked.data)));
			/* make the new entry durable before anything refers to it */
			(void) pg_fsync(fd);
			next = transient_openat(dir, fd, component, flags, 0);
		}
		if (next < 0)
			refuse_component(canonical, walked.data, fd, component, errno);
		transient_close(dir, fd);
		fd = next;
	}
	untrack(dir, fd);
	return fd;
}

DeltaTableDir *
delta_dir_open(const char *canonical_path, bool create)
{
	MemoryContext context;
	MemoryContextCallback *callback;
	DeltaTableDir *dir;

	context = AllocSetContextCreate(CurTransactionContext,
									"Delta export files",
									ALLOCSET_SMALL_SIZES);
	dir = MemoryContextAllocZero(context, sizeof(DeltaTableDir));
	dir->context = context;
	dir->path = MemoryContextStrdup(context, canonical_path);
	dir->table_fd = -1;
	dir->log_fd = -1;

	callback = MemoryContextAlloc(context, sizeof(MemoryContextCallback));
	callback->func = table_dir_cleanup;
	callback->arg = dir;
	MemoryContextRegisterResetCallback(context, callback);

	dir->table_fd = open_directory_path(dir, canonical_path, create);
	if (dir->table_fd < 0)
	{
		MemoryContextDelete(context);
		return NULL;
	}
	return dir;
}

bool
delta_dir_open_log(DeltaTableDir *dir, bool create)
{
	int			flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int			fd;

	if (dir->log_fd >= 0)
		return true;

	fd = transient_openat(dir, dir->table_fd, "_delta_log", flags, 0);
	if (fd < 0 && errno == ENOENT)
	{
		if (!create)
			return false;
		if (mkdirat(dir->table_fd, "_delta_log", 0777) != 0 && errno != EEXIST)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create directory \"%s/_delta_log\": %m",
							dir->path)));
		(void) pg_fsync(dir->table_fd);
		fd = transient_openat(dir, dir->table_fd, "_delta_log", flags, 0);
	}
	if (fd < 0)
	{
		char	   *walked = psprintf("%s/_delta_log", dir->path);

		refuse_component(dir->path, walked, dir->table_fd, "_delta_log", errno);
	}
	untrack(dir, fd);
	dir->log_fd = fd;
	return true;
}

const char *
delta_dir_path(DeltaTableDir *dir)
{
	return dir->path;
}

List *
delta_dir_list_log(DeltaTableDir *dir)
{
	List	   *names = NIL;
	struct dirent *entry;
	int			fd;

	Assert(dir->log_fd >= 0);
	ReserveExternalFD();
	fd = dup(dir->log_fd);
	if (fd < 0 || (dir->listing = fdopendir(fd)) == NULL)
	{
		int			save_errno = errno;

		if (fd >= 0)
			close(fd);
		ReleaseExternalFD();
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read directory \"%s/_delta_log\": %m", dir->path)));
	}
	/* the dup shares the offset with log_fd, which may have been read before */
	rewinddir(dir->listing);

	errno = 0;
	while ((entry = readdir(dir->listing)) != NULL)
	{
		if (entry->d_name[0] != '.')
			names = lappend(names, pstrdup(entry->d_name));
		errno = 0;
	}
	if (errno != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read directory \"%s/_delta_log\": %m", dir->path)));
	closedir(dir->listing);
	dir->listing = NULL;
	ReleaseExternalFD();
	return names;
}

char *
delta_dir_read_log(DeltaTableDir *dir, const char *name, bool missing_ok,
				   size_t *length)
{
	struct stat st;
	char	   *buffer;
	size_t		capacity;
	size_t		used = 0;
	int			fd;

	fd = transient_openat(dir, dir->log_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0 && errno == ENOENT && missing_ok)
		return NULL;
	if (fd < 0 || fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s/_delta_log/%s\": %m", dir->path, name)));

	capacity = (size_t) st.st_size + 1;
	buffer = MemoryContextAllocHuge(CurrentMemoryContext, capacity);
	for (;;)
	{
		ssize_t		got;

		if (used + 1 >= capacity)
		{
			/* the file grew since fstat(): keep reading */
			capacity *= 2;
			buffer = repalloc_huge(buffer, capacity);
		}
		got = read(fd, buffer + used, capacity - used - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s/_delta_log/%s\": %m", dir->path, name)));
		if (got == 0)
			break;
		used += got;
	}
	transient_close(dir, fd);
	buffer[used] = '\0';
	*length = used;
	return buffer;
}

int
delta_dir_create_data_file(DeltaTableDir *dir, const char *name)
{
	int			fd;

	fd = transient_openat(dir, dir->table_fd, name,
						  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s/%s\": %m", dir->path, name)));
	remember_created(dir, false, name);
	return fd;
}

int64
delta_dir_finish_data_file(DeltaTableDir *dir, int fd, const char *name)
{
	struct stat st;

	if (pg_fsync(fd) != 0 || fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s/%s\": %m", dir->path, name)));
	transient_close(dir, fd);
	return (int64) st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

bool
delta_dir_commit(DeltaTableDir *dir, int64 version, const char *content,
				 size_t length)
{
	char		uuid[DELTA_UUID_LENGTH + 1];
	char		temporary[64];
	char		version_name[32];
	char	   *what;
	bool		published;
	bool		temporary_gone = false;
	int			fd;

	Assert(dir->log_fd >= 0);
	delta_random_uuid(uuid);
	snprintf(temporary, sizeof(temporary), "_commit_%s.json.tmp", uuid);
	snprintf(version_name, sizeof(version_name), "%020lld.json", (long long) version);
	what = psprintf("%s/_delta_log/%s", dir->path, temporary);

	fd = transient_openat(dir, dir->log_fd, temporary,
						  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", what)));
	remember_created(dir, true, temporary);
	delta_write_fully(fd, content, length, what);
	if (pg_fsync(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s\": %m", what)));
	transient_close(dir, fd);

	/* data files must be durable in their directory before a commit names them */
	if (pg_fsync(dir->table_fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync directory \"%s\": %m", dir->path)));

	if (linkat(dir->log_fd, temporary, dir->log_fd, version_name, 0) == 0)
		published = true;
	else if (errno == EEXIST)
		published = false;
	else if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS)
	{
		/* no hard links here (some FUSE and network file systems) */
		if (renameat2(dir->log_fd, temporary, dir->log_fd, version_name,
					  RENAME_NOREPLACE) == 0)
		{
			published = true;
			temporary_gone = true;
		}
		else if (errno == EEXIST)
			published = false;
		else
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not publish Delta commit \"%s/_delta_log/%s\": %m",
							dir->path, version_name),
					 errdetail("The file system supports neither link() nor renameat2() with RENAME_NOREPLACE, which atomic commits need.")));
	}
	else
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not publish Delta commit \"%s/_delta_log/%s\": %m",
						dir->path, version_name)));

	if (published)
	{
		/* from here on the data files belong to the table */
		list_free_deep(dir->uncommitted);
		dir->uncommitted = NIL;
		if (!temporary_gone)
			remember_created(dir, true, temporary);
	}
	if (!temporary_gone)
	{
		(void) unlinkat(dir->log_fd, temporary, 0);
		forget_created(dir, temporary);
	}

	if (published && pg_fsync(dir->log_fd) != 0)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not fsync directory \"%s/_delta_log\": %m", dir->path),
				 errdetail("Version %lld was committed but may not survive a crash of the operating system.",
						   (long long) version)));
	return published;
}

void
delta_dir_close(DeltaTableDir *dir)
{
	MemoryContextDelete(dir->context);
}

void
delta_random_uuid(char *out)
{
	/* the server's gen_random_uuid(): version 4 from pg_strong_random() */
	Datum		uuid = DirectFunctionCall1(gen_random_uuid, (Datum) 0);
	char	   *text = DatumGetCString(DirectFunctionCall1(uuid_out, uuid));

	strlcpy(out, text, DELTA_UUID_LENGTH + 1);
	pfree(text);
}
