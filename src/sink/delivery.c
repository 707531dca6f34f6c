/*
 * delivery.c - bounded memory queue, disk spool and sender thread of a
 * network sink; the promise is in delivery.h.
 *
 * One mutex guards the queue, the spool index and the counters; nobody
 * holds it across I/O: the sender copies out what it will send, sends
 * unlocked, then takes the lock again to settle the verdict.  The batch
 * being sent stays at the head of its queue until then, so a batch is
 * always in exactly one place (memory, a spool file, sent, or counted).
 */
#include "delivery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fdio.h"
#include "base/park.h"

const char *const dl_drop_names[DL_DROP_COUNT] = {
	[DL_DROP_QUEUE_FULL] = "queue_full",
	[DL_DROP_REJECTED] = "rejected",
	[DL_DROP_SPOOL_ERROR] = "spool_error",
	[DL_DROP_SHUTDOWN] = "shutdown",
};

#define SPOOL_MAGIC "HTSPOOL1"
#define SPOOL_HDR 24              /* magic, u32 records, u32 0, u64 payload bytes */
#define SPOOL_SUFFIX ".batch"
#define SPOOL_NAME_MAX 48

struct dl_item {                  /* a batch in the memory queue */
	struct dl_item *next;
	uint64_t seq;
	struct ht_buf buf;
	uint32_t n;
};

struct dl_spent {                 /* a batch in the spool directory */
	uint64_t seq, bytes;
	uint32_t n;
};

struct delivery {
	char *name, *spool_dir;
	uint64_t mem_max, spool_max, merge_max;
	uint32_t backoff_min_ms, backoff_max_ms;
	dl_send_fn send;
	void *send_ctx;
	pthread_t th;
	bool started;

	pthread_mutex_t mu;
	pthread_cond_t cv;            /* sender: work, or stop */
	pthread_cond_t room;          /* wait_when_full submitters: the queue shrank */
	bool wait_full;
	struct dl_item *head, *tail;
	struct dl_spent *sp;          /* spool index, oldest at sp[sp_head] */
	size_t sp_head, sp_len, sp_cap;
	uint64_t next_seq;
	bool stopping;
	uint64_t deadline_ns;         /* stopping: give up sending at this time */
	bool reject_logged, retry_logged, spool_err_logged;
	struct dl_stats st;
	struct delivery *next_open;
};

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct delivery *open_head;

/* ---- spool files */

static void spool_name(char *out, uint64_t seq)
{
	snprintf(out, SPOOL_NAME_MAX, "%020" PRIu64 SPOOL_SUFFIX, seq);
}

/* Write seq's file whole under a .tmp name, then rename it into place. */
static int spool_write(struct delivery *d, uint64_t seq, const struct ht_buf *b, uint32_t n)
{
	char name[SPOOL_NAME_MAX], tmp[SPOOL_NAME_MAX + 8], hdr[SPOOL_HDR];
	uint64_t len = b->len;
	uint32_t zero = 0;
	int dfd, fd, rc;

	spool_name(name, seq);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	memcpy(hdr, SPOOL_MAGIC, 8);
	memcpy(hdr + 8, &n, 4);
	memcpy(hdr + 12, &zero, 4);
	memcpy(hdr + 16, &len, 8);
	dfd = open(d->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	rc = ht_write_all(fd, hdr, sizeof(hdr));
	rc = rc ?: ht_write_all(fd, b->p, b->len);
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat(dfd, tmp, dfd, name))
		rc = -errno;
	if (rc)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return rc;
}

/* Read seq's file back into out; 0 or -errno (-EBADMSG: not a spool file). */
static int spool_read(struct delivery *d, uint64_t seq, struct ht_buf *out, uint32_t *n)
{
	char name[SPOOL_NAME_MAX], path[PATH_MAX], hdr[SPOOL_HDR];
	uint64_t len;
	struct stat st;
	ssize_t got;
	int fd, rc = 0;

	spool_name(name, seq);
	snprintf(path, sizeof(path), "%s/%s", d->spool_dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    memcmp(hdr, SPOOL_MAGIC, 8)) {
		close(fd);
		return -EBADMSG;
	}
	memcpy(n, hdr + 8, 4);
	memcpy(&len, hdr + 16, 8);
	if (len != (uint64_t)st.st_size - SPOOL_HDR || (rc = ht_buf_reserve(out, len))) {
		close(fd);
		return rc ? rc : -EBADMSG;
	}
	got = pread(fd, out->p, len, SPOOL_HDR);
	close(fd);
	if (got != (ssize_t)len)
		return -EBADMSG;
	out->len = len;
	return 0;
}

static void spool_unlink(struct delivery *d, uint64_t seq)
{
	char name[SPOOL_NAME_MAX], path[PATH_MAX];

	spool_name(name, seq);
	snprintf(path, sizeof(path), "%s/%s", d->spool_dir, name);
	unlink(path);
}

/* Append to the spool index (under mu, or before the sender starts). */
static int spool_push(struct delivery *d, uint64_t seq, uint64_t bytes, uint32_t n)
{
	if (d->sp_head + d->sp_len == d->sp_cap) {
		if (d->sp_head) { /* slide down before growing */
			memmove(d->sp, d->sp + d->sp_head, d->sp_len * sizeof(*d->sp));
			d->sp_head = 0;
		} else {
			size_t cap = d->sp_cap ? d->sp_cap * 2 : 64;
			struct dl_spent *p = realloc(d->sp, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			d->sp = p;
			d->sp_cap = cap;
		}
	}
	d->sp[d->sp_head + d->sp_len++] = (struct dl_spent){ .seq = seq, .bytes = bytes, .n = n };
	d->st.spool_bytes += bytes;
	d->st.spool_batches++;
	return 0;
}

static void spool_pop(struct delivery *d)
{
	pthread_cond_broadcast(&d->room);
	d->st.spool_bytes -= d->sp[d->sp_head].bytes;
	d->st.spool_batches--;
	d->sp_head++;
	if (!--d->sp_len)
		d->sp_head = 0;
}

static int cmp_spent(const void *a, const void *b)
{
	const struct dl_spent *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Parse "<20 digits>.batch"; false for anything else. */
static bool spool_parse_name(const char *s, uint64_t *seq)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 20; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (strcmp(s + 20, SPOOL_SUFFIX))
		return false;
	*seq = v;
	return true;
}

/* mkdir -p with 0750 for the missing parts. */
static int mkdirs(const char *dir)
{
	char p[PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0750) && errno != EEXIST)
			return -errno;
		p[i] = i < len ? '/' : '\0';
	}
	return 0;
}

/* Index the batches an earlier run left, oldest first; drop stale .tmp files. */
static int spool_scan(struct delivery *d, char *err, size_t errlen)
{
	DIR *dir;
	struct dirent *e;
	int rc = mkdirs(d->spool_dir);

	if (rc || !(dir = opendir(d->spool_dir))) {
		snprintf(err, errlen, "%s: cannot open the spool directory %s: %s (check spoolDir)",
			 d->name, d->spool_dir, strerror(rc ? -rc : errno));
		return -1;
	}
	while ((e = readdir(dir))) {
		size_t l = strlen(e->d_name);
		struct stat st;
		uint64_t seq;

		if (l > 4 && !strcmp(e->d_name + l - 4, ".tmp")) {
			unlinkat(dirfd(dir), e->d_name, 0); /* a write a crash cut short */
			continue;
		}
		if (!spool_parse_name(e->d_name, &seq) ||
		    fstatat(dirfd(dir), e->d_name, &st, 0) || !S_ISREG(st.st_mode))
			continue;
		if (spool_push(d, seq, (uint64_t)st.st_size, 0)) {
			closedir(dir);
			snprintf(err, errlen, "%s: out of memory indexing the spool", d->name);
			return -1;
		}
		if (seq >= d->next_seq)
			d->next_seq = seq + 1;
	}
	closedir(dir);
	if (d->sp_len)
		qsort(d->sp, d->sp_len, sizeof(*d->sp), cmp_spent);
	return 0;
}

/* ---- counters */

static void count_drop(struct delivery *d, enum dl_drop why, uint32_t n)
{
	d->st.batches_dropped[why]++;
	d->st.records_dropped[why] += n;
}

static void observe_latency(struct dl_stats *st, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;

	while (i < HT_LAT_BUCKETS - 1 && s > ht_lat_bounds_s[i])
		i++;
	st->lat_bucket[i]++;
	st->lat_sum_ns += ns;
}

/* ---- the sender */

static uint64_t ms_ns(uint64_t ms)
{
	return ms * 1000000ull;
}

/* Wait on cv until abs_ns (CLOCK_MONOTONIC) or a signal; under mu. */
static void wait_until(struct delivery *d, uint64_t abs_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(abs_ns / 1000000000ull),
			       .tv_nsec = (long)(abs_ns % 1000000000ull) };

	pthread_cond_timedwait(&d->cv, &d->mu, &ts);
}

static bool give_up(struct delivery *d)
{
	return d->stopping && ht_now_ns() >= d->deadline_ns;
}

/* The head batch to send: from memory (true) or the spool (false). */
static bool head_is_memory(const struct delivery *d)
{
	return d->head && (!d->sp_len || d->head->seq < d->sp[d->sp_head].seq);
}

/* Drop the k oldest memory batches (sent or settled); under mu. */
static void pop_memory(struct delivery *d, int k)
{
	while (k-- > 0) {
		struct dl_item *it = d->head;

		d->head = it->next;
		if (!d->head)
			d->tail = NULL;
		d->st.queue_bytes -= it->buf.len;
		d->st.queue_batches--;
		ht_buf_free(&it->buf);
		free(it);
	}
	pthread_cond_broadcast(&d->room);
}

/* Settle the verdict on what was sent: the k oldest memory batches, or
 * (k 0) the oldest spool file; under mu.  Returns the backoff to sleep
 * (ns), 0 to go on at once. */
static uint64_t settle(struct delivery *d, int k, uint32_t n, enum dl_verdict v,
		       uint64_t took_ns, uint32_t retry_after_ms, uint64_t *backoff_ms,
		       const char *err)
{
	if (v == DL_RETRY) {
		uint64_t ms = retry_after_ms ? retry_after_ms : *backoff_ms;

		d->st.retries++;
		if (!d->retry_logged) {
			fprintf(stderr, "http-tracer: %s: cannot deliver, retrying with backoff: %s\n",
				d->name, err);
			d->retry_logged = true;
		}
		*backoff_ms = *backoff_ms * 2 > d->backoff_max_ms ? d->backoff_max_ms : *backoff_ms * 2;
		return ms_ns(ms > d->backoff_max_ms ? d->backoff_max_ms : ms);
	}
	if (k) {
		pop_memory(d, k);
	} else {
		spool_unlink(d, d->sp[d->sp_head].seq);
		spool_pop(d);
		k = 1;
	}
	*backoff_ms = d->backoff_min_ms;
	if (v == DL_SENT) {
		if (d->retry_logged)
			fprintf(stderr, "http-tracer: %s: delivering again\n", d->name);
		d->retry_logged = d->reject_logged = false;
		d->st.batches_sent += (uint64_t)k;
		d->st.records_sent += n;
		d->st.sends++;
		observe_latency(&d->st, took_ns);
		return 0;
	}
	d->st.batches_dropped[DL_DROP_REJECTED] += (uint64_t)k;
	d->st.records_dropped[DL_DROP_REJECTED] += n;
	if (!d->reject_logged)
		fprintf(stderr, "http-tracer: %s: batch of %u records rejected, not retried (counted in http_tracer_sink_records_dropped_total{reason=\"rejected\"}): %s\n",
			d->name, n, err);
	d->reject_logged = true;
	return 0;
}

/* What to send from memory: the head batch, and with merge_max the
 * batches after it (older than the spool's head) joined into scratch up
 * to merge_max bytes.  Sets *k, *n; returns the bytes to send. */
static const struct ht_buf *take_memory(struct delivery *d, struct ht_buf *scratch, int *k,
					uint32_t *n)
{
	uint64_t limit = d->sp_len ? d->sp[d->sp_head].seq : UINT64_MAX;
	struct dl_item *it = d->head;

	*k = 1;
	*n = it->n;
	if (!d->merge_max || !it->next || it->next->seq > limit ||
	    it->buf.len + it->next->buf.len > d->merge_max)
		return &it->buf;
	scratch->len = 0;
	for (; it && it->seq < limit && scratch->len + it->buf.len <= d->merge_max; it = it->next) {
		if (ht_buf_put(scratch, it->buf.p, it->buf.len))
			break;
		if (it != d->head) {
			(*k)++;
			*n += it->n;
		}
	}
	if (!scratch->len) /* out of memory: the head alone */
		return &d->head->buf;
	return scratch;
}

/* Send the head once; under mu (released while sending). */
static uint64_t send_head(struct delivery *d, struct ht_buf *scratch, uint64_t *backoff_ms)
{
	const struct ht_buf *b;
	uint32_t n = 0, retry_after = 0;
	char err[512] = "";
	enum dl_verdict v;
	uint64_t t0;
	int k = 0;

	if (head_is_memory(d)) {
		b = take_memory(d, scratch, &k, &n);
	} else {
		uint64_t seq = d->sp[d->sp_head].seq;
		int rc;

		pthread_mutex_unlock(&d->mu);
		scratch->len = 0;
		rc = spool_read(d, seq, scratch, &n);
		pthread_mutex_lock(&d->mu);
		if (rc) {
			if (!d->spool_err_logged)
				fprintf(stderr, "http-tracer: %s: spool file %" PRIu64 " unreadable, dropped: %s\n",
					d->name, seq, strerror(-rc));
			d->spool_err_logged = true;
			count_drop(d, DL_DROP_SPOOL_ERROR, 0);
			spool_pop(d);
			spool_unlink(d, seq);
			return 0;
		}
		b = scratch;
	}
	/* the batches stay where they are while unlocked: only this thread pops */
	pthread_mutex_unlock(&d->mu);
	t0 = ht_now_ns();
	v = d->send(d->send_ctx, b->p, b->len, n, &retry_after, err, sizeof(err));
	t0 = ht_now_ns() - t0;
	pthread_mutex_lock(&d->mu);
	if (!k && v == DL_SENT)
		d->st.batches_replayed++;
	return settle(d, k, n, v, t0, retry_after, backoff_ms, err);
}

static void *sender_main(void *arg)
{
	struct delivery *d = arg;
	struct ht_buf scratch = { 0 };
	uint64_t backoff_ms = d->backoff_min_ms;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		uint64_t sleep_ns;

		while (!d->head && !d->sp_len && !d->stopping)
			pthread_cond_wait(&d->cv, &d->mu);
		if ((!d->head && !d->sp_len) || give_up(d))
			break;
		sleep_ns = send_head(d, &scratch, &backoff_ms);
		if (sleep_ns) {
			uint64_t until = ht_now_ns() + sleep_ns;

			/* new batches signal too: sleep the whole backoff, but
			 * close() cuts it short to its drain deadline */
			while (ht_now_ns() < until) {
				if (d->stopping && until > d->deadline_ns)
					until = d->deadline_ns;
				wait_until(d, until);
			}
		}
	}
	pthread_mutex_unlock(&d->mu);
	ht_buf_free(&scratch);
	return NULL;
}

/* ---- the API */

struct delivery *delivery_new(const struct delivery_cfg *cfg, dl_send_fn send, void *send_ctx,
			      char *err, size_t errlen)
{
	struct delivery *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int rc;

	if (!d || !(d->name = strdup(cfg->name ? cfg->name : "sink")))
		goto err_nomem;
	d->mem_max = cfg->mem_max_bytes;
	d->spool_max = cfg->spool_max_bytes;
	d->merge_max = cfg->merge_max_bytes;
	d->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : 1;
	d->backoff_max_ms = cfg->backoff_max_ms > d->backoff_min_ms ? cfg->backoff_max_ms
								    : d->backoff_min_ms;
	d->send = send;
	d->send_ctx = send_ctx;
	d->next_seq = 1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_cond_init(&d->room, &ca);
	pthread_condattr_destroy(&ca);
	d->wait_full = cfg->wait_when_full;
	if (cfg->spool_dir && *cfg->spool_dir) {
		if (!(d->spool_dir = strdup(cfg->spool_dir)))
			goto err_nomem;
		if (spool_scan(d, err, errlen))
			goto err_free;
		if (d->sp_len)
			fprintf(stderr, "http-tracer: %s: %zu spooled batches (%" PRIu64 " bytes) from an earlier run, sending them first\n",
				d->name, d->sp_len, d->st.spool_bytes);
	}
	rc = pthread_create(&d->th, NULL, sender_main, d);
	if (rc) {
		snprintf(err, errlen, "%s: cannot start the sender thread: %s", d->name, strerror(rc));
		goto err_free;
	}
	d->started = true;
	pthread_setname_np(d->th, "ht-sender");
	pthread_mutex_lock(&open_lock);
	d->next_open = open_head;
	open_head = d;
	pthread_mutex_unlock(&open_lock);
	return d;

err_nomem:
	snprintf(err, errlen, "%s: out of memory", cfg->name ? cfg->name : "sink");
err_free:
	if (d) {
		free(d->sp);
		free(d->spool_dir);
		free(d->name);
	}
	free(d);
	return NULL;
}

static bool mem_fits(const struct delivery *d, size_t len)
{
	return d->st.queue_bytes + len <= d->mem_max || !d->st.queue_batches;
}

static bool spool_fits(const struct delivery *d, size_t len)
{
	return d->spool_dir && d->st.spool_bytes + SPOOL_HDR + len <= d->spool_max;
}

/* Spool one batch (the caller holds mu; it is released while writing).
 * 0, or -1 if it does not fit (nothing counted), -2 on a write error (counted). */
static int spool_batch(struct delivery *d, uint64_t seq, struct ht_buf *b, uint32_t n)
{
	uint64_t bytes = SPOOL_HDR + b->len;
	int rc;

	if (!spool_fits(d, b->len))
		return -1;
	d->st.spool_bytes += bytes; /* reserved while unlocked */
	pthread_mutex_unlock(&d->mu);
	rc = spool_write(d, seq, b, n);
	pthread_mutex_lock(&d->mu);
	d->st.spool_bytes -= bytes;
	if (!rc && spool_push(d, seq, bytes, n)) {
		spool_unlink(d, seq);
		rc = -ENOMEM;
	}
	if (rc) {
		if (!d->spool_err_logged)
			fprintf(stderr, "http-tracer: %s: cannot write a spool file in %s, batch dropped: %s\n",
				d->name, d->spool_dir, strerror(-rc));
		d->spool_err_logged = true;
		count_drop(d, DL_DROP_SPOOL_ERROR, n);
		return -2;
	}
	d->st.batches_spooled++;
	d->st.records_spooled += n;
	return 0;
}

void delivery_submit(struct delivery *d, struct ht_buf *payload, uint32_t n_records)
{
	struct dl_item *it;
	uint64_t seq;

	pthread_mutex_lock(&d->mu);
	if (d->wait_full && !mem_fits(d, payload->len) && !spool_fits(d, payload->len)) {
		uint64_t until = ht_now_ns() + ms_ns(DL_WAIT_FULL_MS);
		struct timespec ts = { .tv_sec = (time_t)(until / 1000000000ull),
				       .tv_nsec = (long)(until % 1000000000ull) };

		/* the sender makes room; a receiver down this long gets the drops */
		while (!mem_fits(d, payload->len) && !spool_fits(d, payload->len) &&
		       pthread_cond_timedwait(&d->room, &d->mu, &ts) != ETIMEDOUT)
			;
	}
	seq = d->next_seq++;
	if (mem_fits(d, payload->len)) {
		if ((it = malloc(sizeof(*it)))) {
			*it = (struct dl_item){ .seq = seq, .buf = *payload, .n = n_records };
			*payload = (struct ht_buf){ 0 };
			if (d->tail)
				d->tail->next = it;
			else
				d->head = it;
			d->tail = it;
			d->st.queue_bytes += it->buf.len;
			d->st.queue_batches++;
			pthread_cond_signal(&d->cv);
			pthread_mutex_unlock(&d->mu);
			return;
		}
	}
	switch (spool_batch(d, seq, payload, n_records)) {
	case 0: pthread_cond_signal(&d->cv); break;
	case -1: count_drop(d, DL_DROP_QUEUE_FULL, n_records); break; /* the newest goes */
	default: break;
	}
	pthread_mutex_unlock(&d->mu);
	ht_buf_free(payload);
}

void delivery_close(struct delivery *d, uint32_t drain_ms)
{
	struct delivery **pp;
	struct dl_item *it;

	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stopping = true;
	d->deadline_ns = ht_now_ns() + ms_ns(drain_ms);
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	if (d->started)
		pthread_join(d->th, NULL);
	/* what is still in memory: to the spool for the next run, or counted */
	pthread_mutex_lock(&d->mu);
	while ((it = d->head)) {
		d->head = it->next;
		d->st.queue_bytes -= it->buf.len;
		d->st.queue_batches--;
		if (spool_batch(d, it->seq, &it->buf, it->n) == -1)
			count_drop(d, DL_DROP_SHUTDOWN, it->n);
		ht_buf_free(&it->buf);
		free(it);
	}
	d->tail = NULL;
	if (d->sp_len)
		fprintf(stderr, "http-tracer: %s: %zu batches (%" PRIu64 " bytes) left in the spool %s for the next run\n",
			d->name, d->sp_len, d->st.spool_bytes, d->spool_dir);
	pthread_mutex_unlock(&d->mu);
	pthread_mutex_lock(&open_lock);
	for (pp = &open_head; *pp; pp = &(*pp)->next_open)
		if (*pp == d) {
			*pp = d->next_open;
			break;
		}
	pthread_mutex_unlock(&open_lock);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	pthread_cond_destroy(&d->room);
	free(d->sp);
	free(d->spool_dir);
	free(d->name);
	free(d);
}

void delivery_stats(struct delivery *d, struct dl_stats *out)
{
	pthread_mutex_lock(&d->mu);
	*out = d->st;
	pthread_mutex_unlock(&d->mu);
}

void delivery_foreach(void (*fn)(const char *name, const struct dl_stats *st, void *ctx),
		      void *ctx)
{
	pthread_mutex_lock(&open_lock);
	for (struct delivery *d = open_head; d; d = d->next_open) {
		struct dl_stats st;

		delivery_stats(d, &st);
		fn(d->name, &st, ctx);
	}
	pthread_mutex_unlock(&open_lock);
}
