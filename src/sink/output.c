/*
 * output.c - the output file; see output.h for the contract.
 *
 * Threads and ownership: the writer thread (the only caller of
 * output_write_batch(es)) owns the current fd, its size and the retry state.
 * The compression thread owns nothing but its job; the rotated names
 * (P.K, P.K.gz, P.K.gz.tmp) are shared, and every rename or unlink of them
 * happens under o->lock, by either thread.  Long work (reading, deflating,
 * writing, fsync) happens on open fds outside the lock, so the writer only
 * ever waits for a few renames.
 *
 * A rotated file is known by its sequence number: the value of o->rot_seq
 * right after the rotation that created it.  Its current index is
 * rot_seq - seq + 1, so later rotations shift it without telling the
 * compression thread; an index past maxFiles means the file was deleted.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/magic.h>

#include "base/buf.h"
#include "format.h"
#include "gz.h"

#define OUT_FILE_MODE 0640
#define OUT_DIR_MODE 0750
#define OUT_SUFFIX_MAX 18        /* strlen(".4294967295.gz.tmp") */
#define OUT_SCAN_GAP 64          /* startup scan stops after this many missing indexes */
#define OUTPUT_LINK_CHECK_MS 1000 /* how often a working file is checked for deletion */
#define OUT_IOV_MAX 64           /* batches in one writev(2) */

struct output {
	/* writer side */
	int fd;                  /* -1 while the current file could not be (re)opened */
	bool regular;            /* a regular file we opened: truncate and rotate */
	bool is_stdout;
	bool failing;            /* the last batch was dropped */
	bool tail_dirty;         /* a failed ftruncate left bytes past .size */
	bool need_header;        /* CSV: the file has no header row yet */
	bool prealloc;           /* ext4: blocks are reserved ahead of the writes */
	enum ht_format format;
	uint64_t size;           /* bytes of whole records (and header) in the file */
	uint64_t alloc_end;      /* with prealloc: fallocate()d up to here (or tried to) */
	uint64_t wb_end;         /* writeback started up to here (drop-behind) */
	uint64_t max_size;       /* rotation threshold in bytes; 0 = no rotation */
	uint32_t max_files;
	int gzip_level;          /* libdeflate level of the rotated files */
	uint32_t retry_ms;
	uint64_t rotate_hold_until_ms; /* a failed rotation is retried after this */
	uint64_t next_link_check_ms;   /* next check that the file still has a name */
	struct ht_stats *st;
	struct ht_buf header;    /* the CSV header row */
	char *path;              /* as configured, for messages */
	char *base;              /* file name within the directory */
	int dirfd;               /* the directory, for *at() calls; -1 for stdout */
	/* shared with the compression thread, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t zthread;
	bool zthread_started;
	bool stopping;
	int64_t rot_seq;         /* rotations so far (offset by the startup scan) */
	uint32_t top;            /* highest rotated index that may exist */
	int64_t *jobs;           /* sequence numbers waiting for compression, FIFO */
	size_t n_jobs, cap_jobs;
	int64_t *later;          /* failed compressions, requeued at the next rotation */
	size_t n_later, cap_later;
};

static const char *const rot_suffix[3] = { "", ".gz", ".gz.tmp" };

static inline void stat_add(struct output *o, enum ht_counter c, uint64_t n)
{
	if (o->st)
		ht_stat_add(&o->st->c[c], n);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Name of rotated file idx with suffix s (relative to dirfd). */
static void rot_name(const struct output *o, char *buf, size_t len, uint32_t idx, const char *s)
{
	snprintf(buf, len, "%s.%u%s", o->base, idx, s);
}

static int push_seq(int64_t **v, size_t *n, size_t *cap, int64_t seq)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		int64_t *p = realloc(*v, nc * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = nc;
	}
	(*v)[(*n)++] = seq;
	return 0;
}

/* Drop sequence numbers whose file no longer exists (index past maxFiles). Under lock. */
static void prune_locked(struct output *o, int64_t *v, size_t *n)
{
	size_t k = 0;

	for (size_t i = 0; i < *n; i++)
		if (o->rot_seq - v[i] + 1 <= (int64_t)o->max_files)
			v[k++] = v[i];
	*n = k;
}

/* ------------------------------------------------------------ opening */

static const char *errno_hint(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
		return "fix the permissions, run as a user that may write there, or choose another path with -o PATH or output.path";
	case ENOSPC:
	case EDQUOT:
		return "free disk space or choose another path with -o PATH or output.path";
	case EROFS:
		return "choose a path on a writable file system with -o PATH or output.path";
	default:
		return "choose a writable path with -o PATH or output.path";
	}
}

/* mkdir -p for dir, new directories 0750 whatever the umask; 0 or -errno (err set). */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);
	struct stat sb;

	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "output directory %s: %s; %s", dir, strerror(ENAMETOOLONG),
			 errno_hint(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, OUT_DIR_MODE) == 0) {
			if (chmod(buf, OUT_DIR_MODE))
				goto err_errno;
		} else if (errno != EEXIST || stat(buf, &sb)) {
			goto err_errno;
		} else if (!S_ISDIR(sb.st_mode)) {
			errno = ENOTDIR;
			goto err_errno;
		}
		buf[i] = dir[i];
	}
	return 0;

err_errno:
	{
		int e = errno;

		snprintf(err, errlen, "cannot create output directory %s: %s; %s", buf, strerror(e),
			 errno_hint(e));
		return -e;
	}
}

/*
 * A file left by a run that was killed mid-write may end inside a record:
 * end that fragment with a newline (counted) before appending, so that the
 * first new record is a line of its own and every later line parses.  A
 * failure here is not fatal: the record written next still starts a line
 * of its own only if this worked, which the counter tells.
 */
static void end_partial_line(struct output *o)
{
	char last = '\n';
	int rfd;

	if (!o->regular || o->size == 0)
		return;
	rfd = openat(o->dirfd, o->base, O_RDONLY | O_CLOEXEC | O_NOCTTY); /* o->fd is write-only */
	if (rfd < 0)
		return;
	if (pread(rfd, &last, 1, (off_t)o->size - 1) != 1)
		last = '\n';
	close(rfd);
	if (last == '\n')
		return;
	if (write(o->fd, "\n", 1) == 1) {
		o->size++;
		stat_add(o, HT_C_OUTPUT_LINES_REPAIRED, 1);
	}
}

/*
 * Preallocation: on ext4, each appended 4 KiB page of a delayed-allocation
 * file takes a block reservation (ext4_da_write_begin, ~40% of write(2)'s
 * CPU); blocks fallocate()d ahead as unwritten extents skip it.  Only ext4,
 * where it was measured (bench/bench_write.c): tmpfs would pin the memory,
 * other file systems have their own schemes.
 */
static bool on_ext4(int fd)
{
	struct statfs sf;

	return OUTPUT_PREALLOC_BYTES != 0 && fstatfs(fd, &sf) == 0 && sf.f_type == EXT4_SUPER_MAGIC;
}

/* Keep at least half a step of unwritten blocks ahead of a write of len
 * bytes.  Best effort: a failure (a full disk) only costs the speed-up,
 * and the next try waits for the writes to pass what was asked for. */
static void prealloc_ahead(struct output *o, size_t len)
{
	uint64_t from, to;

	if (!o->prealloc || o->size + len + OUTPUT_PREALLOC_BYTES / 2 <= o->alloc_end)
		return;
	from = o->alloc_end > o->size ? o->alloc_end : o->size;
	to = (o->size + len + 2 * (uint64_t)OUTPUT_PREALLOC_BYTES - 1) / OUTPUT_PREALLOC_BYTES *
	     OUTPUT_PREALLOC_BYTES;
	if (fallocate(o->fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from)) &&
	    (errno == EOPNOTSUPP || errno == ENOSYS))
		o->prealloc = false;
	o->alloc_end = to;
}

/*
 * Drop-behind: every OUTPUT_BEHIND_BYTES appended, start the writeback of
 * them (sync_file_range, no waiting) and drop the pages of what was
 * written back earlier (POSIX_FADV_DONTNEED skips pages still dirty or
 * under writeback; each range is asked three times).  The file's page
 * cache stays a few steps long instead of growing through the node's free
 * memory: the writes reuse recently freed, cache-warm pages, and the
 * node's other cached files are not pushed out by trace output nobody
 * reads back (the gzip of a rotated file reads it from disk).
 */
static void drop_behind(struct output *o)
{
	const uint64_t step = OUTPUT_BEHIND_BYTES;

	if (!step || !o->regular || o->size < o->wb_end + step)
		return;
	sync_file_range(o->fd, (off_t)o->wb_end, (off_t)(o->size - o->wb_end), SYNC_FILE_RANGE_WRITE);
	o->wb_end = o->size;
	if (o->wb_end > 2 * step) {
		uint64_t to = o->wb_end - step, from = to > 3 * step ? to - 3 * step : 0;

		posix_fadvise(o->fd, (off_t)from, (off_t)(to - from), POSIX_FADV_DONTNEED);
	}
}

/* Close the current file, first giving back the blocks preallocated past
 * its end (ext4 truncates them even when the size does not change). */
static void close_current(struct output *o)
{
	if (o->fd < 0)
		return;
	if (o->prealloc && o->alloc_end > o->size && ftruncate(o->fd, (off_t)o->size) == 0)
		o->alloc_end = o->size;
	close(o->fd);
	o->fd = -1;
}

/* Open (creating 0640 if missing) the current file; 0 or -errno. */
static int open_current(struct output *o)
{
	int fl = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY;
	struct stat sb;
	int fd;

	for (int tries = 0; tries < 8; tries++) {
		fd = openat(o->dirfd, o->base, fl);
		if (fd >= 0 || errno != ENOENT)
			break;
		fd = openat(o->dirfd, o->base, fl | O_CREAT | O_EXCL, OUT_FILE_MODE);
		if (fd >= 0) {
			if (fchmod(fd, OUT_FILE_MODE))
				goto err_close;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb))
		goto err_close;
	o->fd = fd;
	o->regular = S_ISREG(sb.st_mode);
	o->size = o->regular ? (uint64_t)sb.st_size : 0;
	o->need_header = o->format == HT_FMT_CSV && o->size == 0;
	o->tail_dirty = false;
	o->prealloc = o->regular && on_ext4(fd);
	o->alloc_end = o->size;
	o->wb_end = o->size;
	end_partial_line(o);
	return 0;

err_close:
	{
		int e = errno;

		close(fd);
		return -e;
	}
}

/* Split path into its directory (opened as o->dirfd) and o->base. */
static int open_dir(struct output *o, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	size_t dlen;

	if (!slash) {
		strcpy(dir, ".");
	} else {
		dlen = slash == path ? 1 : (size_t)(slash - path);
		if (dlen >= sizeof(dir)) {
			snprintf(err, errlen, "output path %s: %s; %s", path, strerror(ENAMETOOLONG),
				 errno_hint(ENAMETOOLONG));
			return -ENAMETOOLONG;
		}
		memcpy(dir, path, dlen);
		dir[dlen] = '\0';
	}
	o->base = strdup(slash ? slash + 1 : path);
	if (!o->base) {
		snprintf(err, errlen, "output %s: out of memory", path);
		return -ENOMEM;
	}
	if (!o->base[0] || !strcmp(o->base, ".") || !strcmp(o->base, "..")) {
		snprintf(err, errlen, "output path %s names a directory; give a file name, e.g. %s%straces.log",
			 path, path, slash && slash[1] == '\0' ? "" : "/");
		return -EISDIR;
	}
	if (strlen(o->base) + OUT_SUFFIX_MAX > NAME_MAX) {
		snprintf(err, errlen, "output file name %s is too long for rotation suffixes; choose a name of at most %d bytes",
			 o->base, NAME_MAX - OUT_SUFFIX_MAX);
		return -ENAMETOOLONG;
	}
	if (make_dirs(dir, err, errlen))
		return -1;
	o->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dirfd < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot open output directory %s: %s; %s", dir, strerror(e),
			 errno_hint(e));
		return -e;
	}
	return 0;
}

static bool name_exists(const struct output *o, uint32_t idx, const char *suf)
{
	char name[NAME_MAX + 1];
	struct stat sb;

	rot_name(o, name, sizeof(name), idx, suf);
	return fstatat(o->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * Look at rotated files left by an earlier run: remove stale .gz.tmp files,
 * drop an uncompressed copy whose .gz is complete, queue the others.
 */
static void startup_scan(struct output *o)
{
	char name[NAME_MAX + 1];
	uint32_t last = 0;

	o->rot_seq = (int64_t)o->max_files; /* seq of index K is rot_seq + 1 - K */
	for (uint32_t k = 1; k <= o->max_files && k - last <= OUT_SCAN_GAP; k++) {
		bool plain = name_exists(o, k, ""), gz = name_exists(o, k, ".gz");

		if (name_exists(o, k, ".gz.tmp")) {
			rot_name(o, name, sizeof(name), k, ".gz.tmp");
			unlinkat(o->dirfd, name, 0);
		}
		if (plain && gz) {
			rot_name(o, name, sizeof(name), k, "");
			unlinkat(o->dirfd, name, 0);
		} else if (plain) {
			push_seq(&o->jobs, &o->n_jobs, &o->cap_jobs, o->rot_seq + 1 - k);
		}
		if (plain || gz)
			last = k;
	}
	o->top = last;
}

static void *zthread_main(void *arg);

static int start_zthread(struct output *o, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the application's threads */
	rc = pthread_create(&o->zthread, NULL, zthread_main, o);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "output %s: cannot start the compression thread: %s", o->path,
			 strerror(rc));
		return -rc;
	}
	o->zthread_started = true;
	return 0;
}

struct output *output_open(const struct ht_config *c, struct ht_stats *st, char *err,
			   size_t errlen)
{
	struct output *o;
	int rc;

	if (!c || !c->output_path || !c->output_path[0]) {
		snprintf(err, errlen, "output path is empty; set output.path or use -o PATH (\"-\" for stdout)");
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (!o || !(o->path = strdup(c->output_path))) {
		snprintf(err, errlen, "output %s: out of memory", c->output_path);
		free(o);
		return NULL;
	}
	o->fd = -1;
	o->dirfd = -1;
	o->st = st;
	o->format = c->format;
	o->retry_ms = OUTPUT_RETRY_MS;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	if (o->format == HT_FMT_CSV && format_csv_header(&o->header)) {
		snprintf(err, errlen, "output %s: out of memory", o->path);
		goto err_free;
	}
	if (!strcmp(o->path, "-")) {
		o->fd = STDOUT_FILENO;
		o->is_stdout = true;
		o->need_header = o->format == HT_FMT_CSV;
		return o;
	}
	if (open_dir(o, o->path, err, errlen))
		goto err_free;
	rc = open_current(o);
	if (rc) {
		snprintf(err, errlen, "cannot open output file %s: %s; %s", o->path, strerror(-rc),
			 errno_hint(-rc));
		goto err_free;
	}
	if (c->rotation_enabled && o->regular && c->rotation_max_size) {
		o->max_size = c->rotation_max_size;
		o->max_files = c->rotation_max_files;
		o->gzip_level = (int)c->rotation_gzip_level;
		startup_scan(o);
		if (start_zthread(o, err, errlen))
			goto err_free;
	}
	return o;

err_free:
	output_close(o);
	return NULL;
}

bool output_is_regular(const struct output *o)
{
	return o && o->regular;
}

void output_set_retry_ms(struct output *o, uint32_t retry_ms)
{
	if (o)
		o->retry_ms = retry_ms;
}

/* ------------------------------------------------------------ rotation */

/*
 * Shift P.K* to P.K+1* (deleting index maxFiles), then move P to P.1 and
 * queue it for compression.  Every call shifts (rot_seq counts shifts, so
 * queued jobs keep their index right); false if P could not be moved away.
 * Under lock.
 */
static bool shift_locked(struct output *o)
{
	char from[NAME_MAX + 1], to[NAME_MAX + 1];
	uint32_t i = o->top < o->max_files ? o->top : o->max_files;

	/* a directory we cannot change (permissions, read-only, immutable): shift nothing */
	if (faccessat(o->dirfd, ".", W_OK, AT_EACCESS))
		return false;
	if (!o->max_files)
		return unlinkat(o->dirfd, o->base, 0) == 0;
	for (; i >= 1; i--) {
		for (int s = 0; s < 3; s++) {
			rot_name(o, from, sizeof(from), i, rot_suffix[s]);
			if (i >= o->max_files) {
				unlinkat(o->dirfd, from, 0);
				continue;
			}
			rot_name(o, to, sizeof(to), i + 1, rot_suffix[s]);
			renameat(o->dirfd, from, o->dirfd, to);
		}
	}
	o->rot_seq++;
	if (o->top < o->max_files)
		o->top++;
	for (size_t k = 0; k < o->n_later; k++)
		push_seq(&o->jobs, &o->n_jobs, &o->cap_jobs, o->later[k]);
	o->n_later = 0;
	prune_locked(o, o->jobs, &o->n_jobs);
	rot_name(o, to, sizeof(to), 1, "");
	if (renameat(o->dirfd, o->base, o->dirfd, to))
		return false;
	push_seq(&o->jobs, &o->n_jobs, &o->cap_jobs, o->rot_seq);
	return true;
}

/*
 * Close the current file, rotate it away and open a fresh one (fd -1 if
 * that fails: the batch's attempts retry the open).  If P cannot be moved
 * away, writing continues in P (nothing is lost) and rotation is retried
 * after OUTPUT_ROTATE_RETRY_MS.
 */
static void rotate(struct output *o)
{
	bool ok;
	int e;

	close_current(o);
	pthread_mutex_lock(&o->lock);
	ok = shift_locked(o);
	e = errno;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
	if (!ok) {
		o->rotate_hold_until_ms = mono_ms() + OUTPUT_ROTATE_RETRY_MS;
		fprintf(stderr, "http-tracer: output %s: cannot rotate: %s; still appending to it, retrying in %d ms\n",
			o->path, strerror(e), OUTPUT_ROTATE_RETRY_MS);
	}
	open_current(o);
}

/* --------------------------------------------------------- compression */

/*
 * P.K.gz is complete (it is only ever renamed into place after its fsync),
 * so the P.K beside it is a copy: unlink it.  If that fails (the directory
 * stopped being writable right after the rename), the job is requeued and
 * its next run only retries this unlink.  Under lock.
 */
static void drop_copy_locked(struct output *o, int64_t seq, const char *src)
{
	if (unlinkat(o->dirfd, src, 0) && errno != ENOENT)
		push_seq(&o->later, &o->n_later, &o->cap_later, seq);
}

/* Compress the rotated file with sequence number seq (see the top comment). */
static void compress_one(struct output *o, int64_t seq, struct gz *z)
{
	char src[NAME_MAX + 1], tmp[NAME_MAX + 1], gz[NAME_MAX + 1];
	int64_t idx;
	int in, out, rc;

	pthread_mutex_lock(&o->lock);
	idx = o->rot_seq - seq + 1;
	if (idx < 1 || idx > (int64_t)o->max_files) {
		pthread_mutex_unlock(&o->lock);
		return;
	}
	rot_name(o, src, sizeof(src), (uint32_t)idx, "");
	rot_name(o, tmp, sizeof(tmp), (uint32_t)idx, ".gz.tmp");
	if (name_exists(o, (uint32_t)idx, ".gz")) { /* compressed; a copy may be left */
		drop_copy_locked(o, seq, src);
		pthread_mutex_unlock(&o->lock);
		return;
	}
	in = openat(o->dirfd, src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0) { /* gone */
		pthread_mutex_unlock(&o->lock);
		return;
	}
	out = openat(o->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		     OUT_FILE_MODE);
	if (out < 0 || fchmod(out, OUT_FILE_MODE)) {
		if (out >= 0)
			close(out);
		close(in);
		push_seq(&o->later, &o->n_later, &o->cap_later, seq);
		pthread_mutex_unlock(&o->lock);
		return;
	}
	pthread_mutex_unlock(&o->lock);

	rc = gz_file(z, in, out);
	if (!rc && fsync(out))
		rc = -errno;
	close(in);
	if (close(out) && !rc)
		rc = -errno;

	pthread_mutex_lock(&o->lock);
	idx = o->rot_seq - seq + 1; /* rotations may have shifted it meanwhile */
	if (idx <= (int64_t)o->max_files) {
		rot_name(o, src, sizeof(src), (uint32_t)idx, "");
		rot_name(o, tmp, sizeof(tmp), (uint32_t)idx, ".gz.tmp");
		rot_name(o, gz, sizeof(gz), (uint32_t)idx, ".gz");
		if (!rc && renameat(o->dirfd, tmp, o->dirfd, gz) == 0) {
			drop_copy_locked(o, seq, src);
		} else {
			unlinkat(o->dirfd, tmp, 0);
			push_seq(&o->later, &o->n_later, &o->cap_later, seq);
			rc = rc ? rc : -EIO;
		}
	}
	pthread_mutex_unlock(&o->lock);
	if (!rc)
		fsync(o->dirfd);
}

static void *zthread_main(void *arg)
{
	struct output *o = arg;
	struct gz *gz = gz_new(o->gzip_level);

	/* background work: lower this thread's priority (Linux nice is per thread) */
	pthread_setname_np(pthread_self(), "ht-gzip");
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	pthread_mutex_lock(&o->lock);
	for (;;) {
		int64_t seq;

		while (!o->n_jobs && !o->stopping)
			pthread_cond_wait(&o->cond, &o->lock);
		if (!o->n_jobs)
			break; /* stopping and nothing pending */
		seq = o->jobs[0];
		memmove(o->jobs, o->jobs + 1, (o->n_jobs - 1) * sizeof(*o->jobs));
		o->n_jobs--;
		pthread_mutex_unlock(&o->lock);
		if (gz)
			compress_one(o, seq, gz);
		pthread_mutex_lock(&o->lock);
	}
	pthread_mutex_unlock(&o->lock);
	gz_free(gz);
	return NULL;
}

/* -------------------------------------------------------------- writes */

/*
 * write(2) (writev(2) for several batches) until every byte of v[0..n) past
 * the first *done of them is out; *done advances; 0 or -errno.  Counts
 * HT_C_WRITES.
 */
static int write_some(struct output *o, const struct output_batch *v, int n, size_t *done)
{
	struct iovec iov[OUT_IOV_MAX];

	for (;;) {
		size_t skip = *done;
		ssize_t w;
		int k = 0;

		for (int i = 0; i < n && k < OUT_IOV_MAX; i++) {
			if (skip >= v[i].len) {
				skip -= v[i].len;
				continue;
			}
			iov[k].iov_base = (char *)v[i].data + skip;
			iov[k++].iov_len = v[i].len - skip;
			skip = 0;
		}
		if (!k)
			return 0;
		w = k == 1 ? write(o->fd, iov[0].iov_base, iov[0].iov_len) : writev(o->fd, iov, k);
		if (w > 0) {
			*done += (size_t)w;
			stat_add(o, HT_C_WRITES, 1);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) { /* non-blocking stdout: wait for room */
			struct pollfd pfd = { .fd = o->fd, .events = POLLOUT };

			if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		return w < 0 ? -errno : -EIO;
	}
}

/*
 * A failed attempt on a regular file: keep the batches that got out whole
 * (their count in *kept, the header with them), cut the rest off again.
 */
static void keep_whole(struct output *o, const struct output_batch *v, int n, size_t *hdone,
		       size_t *ddone, int *kept)
{
	size_t head = o->need_header ? o->header.len : 0, whole = 0;
	int k = 0;

	if (*hdone == head)
		while (k < n && whole + v[k].len <= *ddone)
			whole += v[k++].len;
	if (k) {
		o->size += head + whole;
		o->need_header = false;
	}
	if ((*hdone > (k ? head : 0) || *ddone > whole) && ftruncate(o->fd, (off_t)o->size))
		o->tail_dirty = true;
	*hdone = 0;
	*ddone = 0;
	*kept = k;
}

/*
 * One attempt at writing v[0..n) (and the CSV header first if needed).
 * *hdone / *ddone carry progress across attempts for outputs that cannot be
 * truncated; for regular files a failure keeps the batches written whole
 * (*kept of them) and cuts the file back to them, and the next attempt
 * starts with the next batch.  Returns 0 (*kept = n) or -errno.
 */
static int attempt(struct output *o, const struct output_batch *v, int n, size_t *hdone,
		   size_t *ddone, int *kept)
{
	struct output_batch hdr = { o->header.p, o->header.len, 0 };
	size_t len = 0;
	int rc;

	*kept = 0;
	if (o->fd < 0 && (rc = open_current(o)))
		return rc;
	if (o->tail_dirty) {
		if (ftruncate(o->fd, (off_t)o->size))
			return -errno;
		o->tail_dirty = false;
	}
	for (int i = 0; i < n; i++)
		len += v[i].len;
	prealloc_ahead(o, len);
	rc = 0;
	if (o->need_header)
		rc = write_some(o, &hdr, 1, hdone);
	if (!rc)
		rc = write_some(o, v, n, ddone);
	if (!rc) {
		o->size += (o->need_header ? o->header.len : 0) + len;
		o->need_header = false;
		*kept = n;
		drop_behind(o);
		return 0;
	}
	if (o->regular)
		keep_whole(o, v, n, hdone, ddone, kept);
	return rc;
}

/*
 * If the current file was deleted behind our back (e.g. to free space on a
 * full disk), drop it so that the next attempt creates a new one: writing
 * on into an unlinked inode would hold the space and hide the records.
 */
static bool reopen_if_unlinked(struct output *o)
{
	struct stat sb;

	if (!o->regular || o->fd < 0 || fstat(o->fd, &sb) || sb.st_nlink > 0)
		return false;
	close(o->fd);
	o->fd = -1;
	fprintf(stderr, "http-tracer: output %s was deleted; writing to a new file\n", o->path);
	return true;
}

static bool should_rotate(const struct output *o, size_t len)
{
	uint64_t head = o->format == HT_FMT_CSV ? o->header.len : 0;

	if (!o->max_size || o->fd < 0)
		return false;
	if (o->rotate_hold_until_ms && mono_ms() < o->rotate_hold_until_ms)
		return false;
	/* a file holding nothing but a header is never rotated: the batch goes in whole */
	return o->size > head && o->size + len > o->max_size;
}

static uint64_t records_of(const struct output_batch *v, int n)
{
	uint64_t r = 0;

	for (int i = 0; i < n; i++)
		r += v[i].n_records;
	return r;
}

/*
 * Write v[0..n), no rotation due between them, retrying a failure for the
 * retry budget; returns the number of batches dropped (counted), the
 * records written go to *written.
 */
static int write_group(struct output *o, const struct output_batch *v, int n, uint64_t *written)
{
	uint64_t start = mono_ms(), backoff = OUTPUT_BACKOFF_MIN_MS;
	size_t hdone = 0, ddone = 0;
	int rc, kept;

	for (;;) {
		uint64_t now, budget = o->failing ? 0 : o->retry_ms, got;

		rc = attempt(o, v, n, &hdone, &ddone, &kept);
		got = records_of(v, kept);
		stat_add(o, HT_C_RECORDS_WRITTEN, got);
		*written += got;
		v += kept;
		n -= kept;
		if (!rc)
			break;
		if (reopen_if_unlinked(o))
			continue; /* the new file gets a try of its own, whatever the budget */
		now = mono_ms();
		if (rc == -EPIPE || rc == -EBADF || now - start >= budget)
			goto drop;
		sleep_ms(backoff < budget - (now - start) ? backoff : budget - (now - start));
		if (backoff < OUTPUT_BACKOFF_MAX_MS)
			backoff *= 2;
	}
	if (o->failing)
		fprintf(stderr, "http-tracer: output %s: writing again after errors\n", o->path);
	o->failing = false;
	return 0;

drop:
	if (!o->failing)
		fprintf(stderr, "http-tracer: output %s: write failed: %s; dropping records until it succeeds (counted as http_tracer_events_dropped_total{reason=\"output_error\"}); %s\n",
			o->path, strerror(-rc), errno_hint(-rc));
	o->failing = true;
	stat_add(o, HT_C_DROP_OUTPUT_ERROR, records_of(v, n));
	return n;
}

int output_write_batches(struct output *o, const struct output_batch *v, int n, uint64_t *written)
{
	uint64_t now;
	int dropped = 0;

	if (!o) {
		for (int i = 0; i < n; i++)
			dropped += v[i].len > 0;
		return dropped;
	}
	now = mono_ms();
	if (now >= o->next_link_check_ms) {
		o->next_link_check_ms = now + OUTPUT_LINK_CHECK_MS;
		reopen_if_unlinked(o);
	}
	for (int i = 0, j; i < n; i = j) {
		size_t sum = v[i].len;

		j = i + 1;
		if (!sum) {
			*written += v[i].n_records; /* nothing to write */
			continue;
		}
		if (should_rotate(o, sum))
			rotate(o);
		/* the batches that fit before the next rotation go in one writev */
		while (j < n && j - i < OUT_IOV_MAX &&
		       (!o->max_size || o->size + sum + v[j].len <= o->max_size))
			sum += v[j++].len;
		dropped += write_group(o, v + i, j - i, written);
	}
	return dropped;
}

int output_write_batch(struct output *o, const char *data, size_t len, uint32_t n_records)
{
	struct output_batch b = { data, len, n_records };
	uint64_t written = 0;

	return output_write_batches(o, &b, 1, &written) ? -1 : 0;
}

/* --------------------------------------------------------------- close */

void output_close(struct output *o)
{
	if (!o)
		return;
	if (o->fd >= 0 && !o->is_stdout) {
		if (o->regular)
			fdatasync(o->fd);
		close_current(o);
	}
	o->fd = -1;
	if (o->zthread_started) {
		pthread_mutex_lock(&o->lock);
		/* one last try for compressions that failed (e.g. on a full disk) */
		for (size_t k = 0; k < o->n_later; k++)
			push_seq(&o->jobs, &o->n_jobs, &o->cap_jobs, o->later[k]);
		o->n_later = 0;
		o->stopping = true;
		pthread_cond_signal(&o->cond);
		pthread_mutex_unlock(&o->lock);
		pthread_join(o->zthread, NULL);
	}
	if (o->dirfd >= 0)
		close(o->dirfd);
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	ht_buf_free(&o->header);
	free(o->jobs);
	free(o->later);
	free(o->base);
	free(o->path);
	free(o);
}
