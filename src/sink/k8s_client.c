/*
 * k8s_client.c - list and watch the API server into a k8s_store; see
 * k8s_client.h.
 *
 * Threads: one watcher per kind, each owning its libcurl easy handle, its
 * stream splitter and its resourceVersion.  Shared: the store (written
 * under store_lock), the token (token_lock), the stop flag (atomic, with
 * lock + cond for the backoff sleeps) and the stats block (relaxed atomics).
 * A transfer notices stop within about a second (libcurl calls the progress
 * callback at least that often).
 */
#include "k8s_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <urcu.h>

#include "http.h"
#include "k8s_json.h"

#define K8S_TOKEN_MAX 16384
#define K8S_ERR_BODY_MAX 4096

static struct k8s_api_stats k8s_stats;

static void stat_add(uint64_t *slot, uint64_t n)
{
	__atomic_fetch_add(slot, n, __ATOMIC_RELAXED);
}

static void stat_set(uint64_t *slot, uint64_t v)
{
	__atomic_store_n(slot, v, __ATOMIC_RELAXED);
}

void k8s_api_stats_read(struct k8s_api_stats *out)
{
	const uint64_t *src = (const uint64_t *)&k8s_stats;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

uint64_t k8s_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void count_error(long code)
{
	stat_add(&k8s_stats.api_errors[code > 0 && code < K8S_HTTP_CODES ? code : 0], 1);
}

static void k8s_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void k8s_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "http-tracer: kubernetes: %s\n", line);
}

/* ---- state */

enum xfer { XF_OK, XF_GONE, XF_DENIED, XF_FAIL, XF_STOP };

struct k8s_client;

struct k8s_watcher {
	struct k8s_client *c;
	enum k8s_kind kind;
	pthread_t thr;
	bool started;
	CURL *h;
	char rv[K8S_RV_MAX];
	struct k8s_splitter sp;
	/* the transfer in progress */
	bool watching;
	long code;
	char *body;
	size_t body_len, body_cap, body_max;
	bool gone, abort;
	uint64_t got_events;
	/* logging: one line per streak */
	bool denied_logged[2];        /* list, watch */
	bool fail_logged;
	uint32_t backoff_ms;
	bool listed;
};

struct k8s_client {
	char *base, *token_file, *ca_file, *node;
	bool send_token, https;
	uint32_t backoff_max_ms, watch_timeout_s;
	struct k8s_store *st;
	pthread_mutex_t store_lock;
	pthread_mutex_t lock;         /* stop + cond */
	pthread_cond_t cond;
	int stop;
	pthread_mutex_t token_lock;
	char *auth;                   /* "Authorization: Bearer ..." or NULL */
	struct stat token_st;
	bool token_logged;
	struct k8s_watcher w[K8S_KIND_COUNT];
};

static const char *const kind_path[K8S_KIND_COUNT] = {
	"/api/v1/pods", "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices",
};
static const char *const kind_group[K8S_KIND_COUNT] = { "", "", "discovery.k8s.io" };

static bool stopping(struct k8s_client *c)
{
	return __atomic_load_n(&c->stop, __ATOMIC_RELAXED);
}

/* Sleeps ms unless stopped first; false if stopped. */
static bool nap(struct k8s_client *c, uint32_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->stop && pthread_cond_timedwait(&c->cond, &c->lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&c->lock);
	return !stopping(c);
}

/* ---- the token, read again when the file changes */

static char *read_token(const char *path)
{
	char *buf = malloc(K8S_TOKEN_MAX + 1), *auth = NULL;
	FILE *f = fopen(path, "re");
	size_t n = 0;

	if (f && buf)
		n = fread(buf, 1, K8S_TOKEN_MAX, f);
	if (f)
		fclose(f);
	while (buf && n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (buf && n && asprintf(&auth, "Authorization: Bearer %.*s", (int)n, buf) < 0)
		auth = NULL;
	free(buf);
	return auth;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The Authorization header line for the next request (caller frees), NULL if none. */
static char *auth_line(struct k8s_client *c)
{
	struct stat now;
	char *out = NULL;

	if (!c->send_token)
		return NULL;
	pthread_mutex_lock(&c->token_lock);
	if (stat(c->token_file, &now)) {
		if (!c->token_logged)
			k8s_log("cannot read the token file %s: %s (requests go without a token)",
				c->token_file, strerror(errno));
		c->token_logged = true;
		free(c->auth);
		c->auth = NULL;
		memset(&c->token_st, 0, sizeof(c->token_st));
	} else if (!c->auth || !same_file(&now, &c->token_st)) {
		free(c->auth);
		c->auth = read_token(c->token_file);   /* rotated (or first use) */
		c->token_st = now;
		c->token_logged = false;
	}
	if (c->auth)
		out = strdup(c->auth);
	pthread_mutex_unlock(&c->token_lock);
	return out;
}

/* ---- applying decoded objects (store_lock held) */

static void keep_rv(struct k8s_watcher *w, const char *rv)
{
	size_t n = rv ? strlen(rv) : 0;

	if (n && n < sizeof(w->rv))
		memcpy(w->rv, rv, n + 1);
}

static void apply_object(struct k8s_watcher *w, const struct k8s_event *ev)
{
	struct k8s_store *st = w->c->st;
	bool del = ev->type == K8S_EV_DELETED;
	int rc = 0;

	if (w->kind == K8S_POD)
		del ? k8s_store_delete_pod(st, &ev->pod.meta) : (void)(rc = k8s_store_upsert_pod(st, &ev->pod));
	else if (w->kind == K8S_SERVICE)
		del ? k8s_store_delete_service(st, &ev->svc.meta) : (void)(rc = k8s_store_upsert_service(st, &ev->svc));
	else
		del ? k8s_store_delete_slice(st, &ev->slice.meta) : (void)(rc = k8s_store_upsert_slice(st, &ev->slice));
	if (rc)
		stat_add(&k8s_stats.malformed[w->kind], 1);   /* no key (or no memory) */
	stat_set(&k8s_stats.objects[w->kind], k8s_store_count(st, w->kind));
}

static void on_event(const struct k8s_event *ev, void *ctx)
{
	struct k8s_watcher *w = ctx;

	if (ev->type == K8S_EV_ERROR) {
		count_error(ev->code);
		if (ev->code == 410) {
			w->gone = true;
		} else {
			k8s_log("watch %s: ERROR event %d %s: %s", k8s_kind_name(w->kind), ev->code,
				ev->reason ? ev->reason : "", ev->message ? ev->message : "");
			w->abort = true;
		}
		return;
	}
	if (ev->type != K8S_EV_BOOKMARK)
		apply_object(w, ev);
	keep_rv(w, ev->resource_version);
	w->got_events++;
	stat_add(&k8s_stats.events[w->kind], 1);
	stat_set(&k8s_stats.last_event_ns[w->kind], k8s_now_ns());
}

static void on_item(const struct k8s_event *ev, void *ctx)
{
	apply_object(ctx, ev);
}

static void on_line(void *ctx, const char *text, size_t len)
{
	struct k8s_watcher *w = ctx;

	if (w->gone || w->abort)
		return;
	pthread_mutex_lock(&w->c->store_lock);
	if (k8s_decode_event(w->kind, text, len, on_event, w))
		stat_add(&k8s_stats.malformed[w->kind], 1);
	pthread_mutex_unlock(&w->c->store_lock);
}

/* ---- one HTTP transfer */

static bool body_append(struct k8s_watcher *w, const char *p, size_t n)
{
	if (n > w->body_max - w->body_len)
		return false;
	if (w->body_len + n + 1 > w->body_cap) {
		size_t cap = w->body_cap ? w->body_cap : 65536;
		char *b;

		while (cap < w->body_len + n + 1)
			cap *= 2;
		b = realloc(w->body, cap);
		if (!b)
			return false;
		w->body = b;
		w->body_cap = cap;
	}
	memcpy(w->body + w->body_len, p, n);
	w->body_len += n;
	w->body[w->body_len] = '\0';
	return true;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct k8s_watcher *w = ud;
	size_t n = size * nmemb;

	if (!w->code)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->code);
	if (w->watching && w->code == 200) {
		k8s_split_feed(&w->sp, p, n, on_line, w);
		return w->gone || w->abort ? 0 : n;
	}
	if (w->code != 200 && w->body_len >= K8S_ERR_BODY_MAX)
		return n;               /* an error body: its start is enough */
	return body_append(w, p, n) ? n : 0;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct k8s_watcher *w = ud;

	return stopping(w->c);
}

static struct curl_slist *headers(struct k8s_client *c)
{
	struct curl_slist *hl = curl_slist_append(NULL, "Accept: application/json");
	char *auth = auth_line(c);

	if (auth) {
		struct curl_slist *t = curl_slist_append(hl, auth);

		hl = t ? t : hl;
		free(auth);
	}
	return hl;
}

static CURLcode perform(struct k8s_watcher *w, const char *url, bool watch)
{
	struct k8s_client *c = w->c;
	struct curl_slist *hl = headers(c);
	CURLcode rc;

	curl_easy_reset(w->h);
	w->watching = watch;
	w->code = 0;
	w->body_len = 0;
	w->body_max = watch ? K8S_ERR_BODY_MAX : K8S_LIST_MAX_BYTES;
	w->gone = w->abort = false;
	w->got_events = 0;
	curl_easy_setopt(w->h, CURLOPT_URL, url);
	curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, hl);
	http_easy_common(w->h, &(struct http_common){
		.write = on_data, .write_data = w,
		.progress = on_progress, .progress_data = w,
		.connect_timeout_ms = 10000,
	});
	curl_easy_setopt(w->h, CURLOPT_ACCEPT_ENCODING, "");
	/* a watch is quiet between events: only a silence longer than the
	 * server's own timeout (bookmarks come about once a minute) is dead */
	curl_easy_setopt(w->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(w->h, CURLOPT_LOW_SPEED_TIME, watch ? (long)c->watch_timeout_s + 60 : 60L);
	if (c->https && c->ca_file)
		curl_easy_setopt(w->h, CURLOPT_CAINFO, c->ca_file);
	rc = curl_easy_perform(w->h);
	if (!w->code)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->code);
	curl_slist_free_all(hl);
	return rc;
}

/* One line for 401/403, once per streak and verb. */
static void denied(struct k8s_watcher *w, const char *verb)
{
	const char *res = k8s_kind_name(w->kind), *grp = kind_group[w->kind];
	bool *logged = &w->denied_logged[verb[0] == 'w'];

	count_error(w->code);
	if (*logged)
		return;
	*logged = true;
	if (w->code == 401)
		k8s_log("401 Unauthorized on %s %s: the API server does not accept the token%s%s "
			"(missing, expired or not a service account's)", verb, res,
			w->c->send_token ? " from " : "", w->c->send_token ? w->c->token_file : "");
	else
		k8s_log("403 Forbidden: RBAC does not allow verb \"%s\" on resource \"%s\" "
			"(apiGroups: [\"%s\"]) for this service account; the ClusterRole needs "
			"get, list, watch on it", verb, res, grp);
}

/* Any other failure: one line when a streak begins (the body's control
 * characters become spaces, so it stays one line). */
static void failed(struct k8s_watcher *w, const char *verb, CURLcode rc)
{
	if (w->fail_logged)
		return;
	w->fail_logged = true;
	for (size_t i = 0; i < w->body_len; i++)
		if ((unsigned char)w->body[i] < 0x20 || w->body[i] == 0x7f)
			w->body[i] = ' ';
	if (rc != CURLE_OK)
		k8s_log("%s %s: %s (HTTP %ld; retrying with backoff)", verb, k8s_kind_name(w->kind),
			curl_easy_strerror(rc), w->code);
	else
		k8s_log("%s %s: HTTP %ld%s%.200s (retrying with backoff)", verb, k8s_kind_name(w->kind),
			w->code, w->body_len ? ": " : "", w->body_len ? w->body : "");
}

/* Classifies a finished transfer (not a clean success). */
static enum xfer outcome(struct k8s_watcher *w, const char *verb, CURLcode rc)
{
	if (stopping(w->c))
		return XF_STOP;
	if (w->gone || w->code == 410) {
		if (w->code == 410)
			count_error(410);
		return XF_GONE;
	}
	if (w->code == 401 || w->code == 403) {
		denied(w, verb);
		return XF_DENIED;
	}
	if (w->abort)                   /* an ERROR event, counted and logged */
		return XF_FAIL;
	count_error(rc != CURLE_OK && !w->code ? 0 : w->code == 200 ? 0 : w->code);
	failed(w, verb, rc);
	return XF_FAIL;
}

/* ---- list, watch */

/* base + path + "?" + query (+ &fieldSelector for pods); caller frees. */
static char *make_url(struct k8s_watcher *w, const char *query)
{
	struct k8s_client *c = w->c;
	char *url = NULL, *sel = NULL;

	if (w->kind == K8S_POD && c->node) {
		char *raw;

		if (asprintf(&raw, "spec.nodeName=%s", c->node) < 0)
			return NULL;
		sel = curl_easy_escape(w->h, raw, 0);
		free(raw);
		if (!sel)
			return NULL;
	}
	if (asprintf(&url, "%s%s?%s%s%s", c->base, kind_path[w->kind], query,
		     sel ? "&fieldSelector=" : "", sel ? sel : "") < 0)
		url = NULL;
	curl_free(sel);
	return url;
}

static enum xfer list_page(struct k8s_watcher *w, const char *cont, struct k8s_list_info *info)
{
	char *esc = cont[0] ? curl_easy_escape(w->h, cont, 0) : NULL, *q = NULL, *url;
	CURLcode rc;
	int drc;

	if (asprintf(&q, "limit=%d%s%s", K8S_LIST_PAGE, esc ? "&continue=" : "", esc ? esc : "") < 0)
		q = NULL;
	curl_free(esc);
	url = q ? make_url(w, q) : NULL;
	free(q);
	if (!url)
		return XF_FAIL;
	rc = perform(w, url, false);
	free(url);
	if (rc != CURLE_OK || w->code != 200)
		return outcome(w, "list", rc);
	pthread_mutex_lock(&w->c->store_lock);
	if (!cont[0])
		k8s_store_relist_begin(w->c->st, w->kind);
	drc = k8s_decode_list(w->kind, w->body, w->body_len, on_item, w, info);
	pthread_mutex_unlock(&w->c->store_lock);
	stat_add(&k8s_stats.malformed[w->kind], info->bad_items + (drc ? 1 : 0));
	if (drc) {
		failed(w, "list (a page that is not a list)", CURLE_OK);
		return XF_FAIL;
	}
	return XF_OK;
}

/* Every page, then the objects not listed are dropped; w->rv is the list's. */
static enum xfer do_list(struct k8s_watcher *w)
{
	struct k8s_list_info *info = malloc(sizeof(*info));
	char *cont = calloc(1, K8S_CONTINUE_MAX);
	enum xfer r = XF_FAIL;

	if (!info || !cont)
		goto out;
	for (;;) {
		r = list_page(w, cont, info);
		if (r != XF_OK)
			goto out;
		if (!info->cont[0])
			break;
		memcpy(cont, info->cont, sizeof(info->cont));
	}
	pthread_mutex_lock(&w->c->store_lock);
	k8s_store_relist_end(w->c->st, w->kind);
	stat_set(&k8s_stats.objects[w->kind], k8s_store_count(w->c->st, w->kind));
	pthread_mutex_unlock(&w->c->store_lock);
	keep_rv(w, info->resource_version);
	stat_set(&k8s_stats.last_event_ns[w->kind], k8s_now_ns());
	if (w->listed)
		stat_add(&k8s_stats.relists[w->kind], 1);
	w->listed = true;
	w->backoff_ms = 0;
	w->denied_logged[0] = w->fail_logged = false;
out:
	free(info);
	free(cont);
	return r;
}

static enum xfer do_watch(struct k8s_watcher *w)
{
	uint64_t over = w->sp.oversize;
	char *q = NULL, *url = NULL;
	CURLcode rc;

	if (asprintf(&q, "watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%u",
		     w->rv, w->c->watch_timeout_s) >= 0)
		url = make_url(w, q);
	free(q);
	if (!url)
		return XF_FAIL;
	k8s_split_reset(&w->sp);
	rc = perform(w, url, true);
	free(url);
	stat_add(&k8s_stats.oversize[w->kind], w->sp.oversize - over);
	if (w->got_events)
		w->backoff_ms = 0;
	if (rc == CURLE_OK && w->code == 200 && !w->gone && !w->abort) {
		w->denied_logged[1] = w->fail_logged = false;
		w->backoff_ms = 0;
		return XF_OK;           /* the server's timeout: resume at once */
	}
	return outcome(w, "watch", rc);
}

static bool backoff(struct k8s_watcher *w)
{
	uint32_t max = w->c->backoff_max_ms;

	w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : K8S_BACKOFF_MIN_MS;
	if (w->backoff_ms > max)
		w->backoff_ms = max;
	return nap(w->c, w->backoff_ms);
}

static void *watcher_main(void *arg)
{
	struct k8s_watcher *w = arg;
	bool need_list = true;

	rcu_register_thread();
	while (!stopping(w->c)) {
		enum xfer r;

		if (need_list) {
			r = do_list(w);
			if (r == XF_STOP)
				break;
			if (r == XF_OK)
				need_list = false;
			else if (!backoff(w))
				break;
			continue;
		}
		r = do_watch(w);
		if (r == XF_STOP)
			break;
		stat_add(&k8s_stats.watch_restarts[w->kind], 1);
		if (r == XF_GONE)
			need_list = true;       /* relist at once, as client-go does */
		else if (r != XF_OK && !backoff(w))
			break;
	}
	rcu_unregister_thread();
	return NULL;
}

/* ---- start, stop */

static char *in_cluster_base(void)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	char *base;

	if (!host || !*host)
		return NULL;
	if (asprintf(&base, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		     port && *port ? port : "443") < 0)
		return NULL;
	return base;
}

static int client_settings(struct k8s_client *c, const struct k8s_client_cfg *cfg,
			   char *err, size_t errlen)
{
	const char *node = cfg->node_name && *cfg->node_name ? cfg->node_name : getenv("NODE_NAME");
	size_t n;

	c->base = cfg->api_server && *cfg->api_server ? strdup(cfg->api_server) : in_cluster_base();
	if (!c->base) {
		snprintf(err, errlen, "kubernetes: no API server: set kubernetes.apiServer or run in a pod "
			 "(KUBERNETES_SERVICE_HOST is not set)");
		return -EINVAL;
	}
	n = strlen(c->base);
	while (n && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->https = strncmp(c->base, "https://", 8) == 0;
	if (!c->https && strncmp(c->base, "http://", 7)) {
		snprintf(err, errlen, "kubernetes: apiServer '%s' is neither https:// nor http://", c->base);
		return -EINVAL;
	}
	c->send_token = c->https || (cfg->token_file && *cfg->token_file);
	c->token_file = strdup(cfg->token_file && *cfg->token_file ? cfg->token_file : K8S_SA_DIR "token");
	c->ca_file = strdup(cfg->ca_file && *cfg->ca_file ? cfg->ca_file : K8S_SA_DIR "ca.crt");
	c->node = node && *node ? strdup(node) : NULL;
	c->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : K8S_BACKOFF_MAX_MS;
	if (c->backoff_max_ms < K8S_BACKOFF_MIN_MS)
		c->backoff_max_ms = K8S_BACKOFF_MIN_MS;
	c->watch_timeout_s = cfg->watch_timeout_s ? cfg->watch_timeout_s : K8S_WATCH_TIMEOUT_S;
	if (!c->token_file || !c->ca_file || (node && *node && !c->node)) {
		snprintf(err, errlen, "kubernetes: out of memory");
		return -ENOMEM;
	}
	if (!c->node)
		k8s_log("no node name (kubernetes.nodeName, $NODE_NAME): watching the pods of every node");
	return 0;
}

static void client_free(struct k8s_client *c)
{
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		if (c->w[k].h)
			curl_easy_cleanup(c->w[k].h);
		k8s_split_free(&c->w[k].sp);
		free(c->w[k].body);
	}
	pthread_mutex_destroy(&c->store_lock);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->token_lock);
	pthread_cond_destroy(&c->cond);
	free(c->base);
	free(c->token_file);
	free(c->ca_file);
	free(c->node);
	free(c->auth);
	free(c);
}

struct k8s_client *k8s_client_start(const struct k8s_client_cfg *cfg, struct k8s_store *st,
				    char *err, size_t errlen)
{
	struct k8s_client *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;

	if (!c) {
		snprintf(err, errlen, "kubernetes: out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->store_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->token_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->st = st;
	if (http_global_init("kubernetes", err, errlen))
		goto fail;
	if (client_settings(c, cfg, err, errlen))
		goto fail;
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		struct k8s_watcher *w = &c->w[k];

		w->c = c;
		w->kind = (enum k8s_kind)k;
		k8s_split_init(&w->sp, K8S_OBJECT_MAX_BYTES);
		w->h = curl_easy_init();
		if (!w->h) {
			snprintf(err, errlen, "kubernetes: libcurl: cannot make a handle");
			goto fail;
		}
	}
	stat_add(&k8s_stats.running, 1);
	for (int k = 0; k < K8S_KIND_COUNT; k++) {
		if (pthread_create(&c->w[k].thr, NULL, watcher_main, &c->w[k])) {
			snprintf(err, errlen, "kubernetes: cannot start a thread");
			k8s_client_stop(c);
			return NULL;
		}
		c->w[k].started = true;
	}
	return c;
fail:
	client_free(c);
	return NULL;
}

void k8s_client_stop(struct k8s_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	for (int k = 0; k < K8S_KIND_COUNT; k++)
		if (c->w[k].started)
			pthread_join(c->w[k].thr, NULL);
	__atomic_fetch_sub(&k8s_stats.running, 1, __ATOMIC_RELAXED);
	client_free(c);
}
