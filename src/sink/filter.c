/*
 * filter.c - user-space filters and sampling; see filter.h.
 *
 * Everything here reads an immutable config and one record and writes
 * nothing shared.  Regexes are matched with per-thread copies (see
 * cache_get); a field longer than 511 bytes that a regex must see costs one
 * malloc.
 */
#include "filter.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Binary match against the parsed rules: no text, no parse per record. */
bool ht_filter_ip_excluded(const struct ht_config *c, const struct ht_addr *a)
{
	if (!a || !a->family)
		return false;
	for (size_t i = 0; i < c->n_exclude_ips; i++)
		if (ht_cidr_match(&c->exclude_ips[i], a))
			return true;
	return false;
}

static bool str_in(const struct ht_strlist *l, const char *s, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && memcmp(l->v[i], s, len) == 0)
			return true;
	return false;
}

/*
 * Per-thread copies of the config's regexes.  glibc's regexec locks the
 * regex_t for the whole match, so shards sharing one compiled pattern would
 * serialize; each thread compiles its own copies the first time it sees a
 * config generation (configs built by hand, generation 0, use the shared
 * ones).  Freed when the thread exits or sees the next generation.
 */
struct re_copy {
	regex_t *re;
	size_t n;
};

struct re_cache {
	uint64_t gen;
	struct re_copy pods, paths;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_key_ok;
static __thread struct re_cache *tl_cache;

static void copy_free(struct re_copy *rc)
{
	for (size_t i = 0; i < rc->n; i++)
		regfree(&rc->re[i]);
	free(rc->re);
	rc->re = NULL;
	rc->n = 0;
}

static void cache_free(void *p)
{
	struct re_cache *rc = p;

	copy_free(&rc->pods);
	copy_free(&rc->paths);
	free(rc);
}

static void cache_key_init(void)
{
	cache_key_ok = pthread_key_create(&cache_key, cache_free) == 0;
}

static int copy_compile(struct re_copy *rc, const struct ht_regexlist *l)
{
	if (!l->n)
		return 0;
	rc->re = calloc(l->n, sizeof(*rc->re));
	if (!rc->re)
		return -ENOMEM;
	for (; rc->n < l->n; rc->n++)
		if (regcomp(&rc->re[rc->n], l->src[rc->n], REG_EXTENDED | REG_NOSUB))
			return -EINVAL;
	return 0;
}

/* This thread's copies for config c, or NULL to use the shared ones. */
static struct re_cache *cache_get(const struct ht_config *c)
{
	struct re_cache *rc = tl_cache;

	if (rc && rc->gen == c->generation)
		return rc;
	if (!c->generation)
		return NULL;
	if (!rc) {
		pthread_once(&cache_once, cache_key_init);
		if (!cache_key_ok)
			return NULL;
		rc = calloc(1, sizeof(*rc));
		if (!rc)
			return NULL;
		if (pthread_setspecific(cache_key, rc)) {
			free(rc);
			return NULL;
		}
		tl_cache = rc;
	}
	copy_free(&rc->pods);
	copy_free(&rc->paths);
	rc->gen = 0;
	if (copy_compile(&rc->pods, &c->exclude_pods) ||
	    copy_compile(&rc->paths, &c->exclude_paths)) {
		copy_free(&rc->pods);
		copy_free(&rc->paths);
		return NULL;
	}
	rc->gen = c->generation;
	return rc;
}

/*
 * True if any of the n regexes matches r's string s (searched, not anchored).
 * The bytes are copied with a terminator first: record strings are not
 * NUL-terminated, and although glibc honours REG_STARTEND's length, other
 * regexec implementations (and sanitizer interceptors) call strlen.  The
 * length still goes in through REG_STARTEND so that a NUL byte inside the
 * field does not cut it short.
 */
static bool regex_any(const regex_t *re, size_t n, const struct ht_record *r, struct ht_str s)
{
	char stack[512], *buf = stack;
	bool hit = false;

	if (s.len >= sizeof(stack)) {
		buf = malloc((size_t)s.len + 1);
		if (!buf)
			return false;
	}
	memcpy(buf, ht_str_ptr(r, s), s.len);
	buf[s.len] = '\0';
	for (size_t i = 0; i < n && !hit; i++) {
		regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t)s.len };

		hit = regexec(&re[i], buf, 1, &m, REG_STARTEND) == 0;
	}
	if (buf != stack)
		free(buf);
	return hit;
}

/* The local or the remote pod name matches one of excludePods (an empty
 * name never does). */
static bool pods_match(const struct ht_config *c, const struct ht_record *r)
{
	struct re_cache *rc = cache_get(c);
	const regex_t *re = rc ? rc->pods.re : c->exclude_pods.re;
	size_t n = rc ? rc->pods.n : c->exclude_pods.n;

	return (r->pod.len && regex_any(re, n, r, r->pod)) ||
	       (r->remote_pod.len && regex_any(re, n, r, r->remote_pod));
}

static bool namespace_in(const struct ht_config *c, const struct ht_record *r, struct ht_str s)
{
	return s.len && str_in(&c->exclude_namespaces, ht_str_ptr(r, s), s.len);
}

static bool paths_match(const struct ht_config *c, const struct ht_record *r)
{
	struct re_cache *rc = cache_get(c);

	if (rc)
		return regex_any(rc->paths.re, rc->paths.n, r, r->path);
	return regex_any(c->exclude_paths.re, c->exclude_paths.n, r, r->path);
}

bool ht_filter_sample_keep(double rate, uint64_t sample_key)
{
	uint64_t h;

	if (!(rate > 0.0)) /* also NaN */
		return false;
	if (rate >= 1.0)
		return true;
	h = XXH3_64bits(&sample_key, sizeof(sample_key));
	/* keep iff h / 2^64 < rate; rate < 1 so the bound fits in 64 bits */
	return h < (uint64_t)(rate * 18446744073709551616.0);
}

bool ht_filter_should_drop(const struct ht_config *c, const struct ht_record *r,
			   enum ht_counter *reason)
{
	enum ht_counter why;

	if (c->n_exclude_ips &&
	    (ht_filter_ip_excluded(c, &r->remote) || ht_filter_ip_excluded(c, &r->local))) {
		why = HT_C_FILTERED_IP;
		goto drop;
	}
	if (c->exclude_namespaces.n &&
	    (namespace_in(c, r, r->namespace_) || namespace_in(c, r, r->remote_namespace))) {
		why = HT_C_FILTERED_NAMESPACE;
		goto drop;
	}
	if (c->exclude_pods.n && pods_match(c, r)) {
		why = HT_C_FILTERED_POD;
		goto drop;
	}
	if (c->exclude_paths.n && paths_match(c, r)) {
		why = HT_C_FILTERED_PATH;
		goto drop;
	}
	if (c->sampling_enabled && !ht_filter_sample_keep(c->sampling_rate, r->sample_key)) {
		why = HT_C_FILTERED_SAMPLING;
		goto drop;
	}
	return false;
drop:
	if (reason)
		*reason = why;
	return true;
}
