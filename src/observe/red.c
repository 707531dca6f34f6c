/*
 * red.c - RED metrics tables; see red.h for the threading contract.
 *
 * Writer side (the owning shard): a private open-addressing set of
 * (role, service port, route) hashes and a per-(role, port) route count
 * enforce the cardinality caps; the series themselves live in a cds_lfht so
 * that the metrics thread can walk them concurrently.  A series is fully
 * built before cds_lfht_add publishes it, and is freed only by
 * red_table_free after it has been unregistered (so no scrape can see it).
 */
#include "red.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>
#include <urcu/rculfhash.h>
#include <xxhash.h>

#include "base/buf.h"
#include "ht_event.h"
#include "base/record.h"
#include "base/route.h"

const double red_bounds_s[RED_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
	1e300 /* +Inf */
};

static const char *const red_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
};
#define RED_N_METHODS (sizeof(red_methods) / sizeof(red_methods[0]))
#define RED_METHOD_OTHER RED_N_METHODS
#define RED_METHOD_NONE (RED_N_METHODS + 1)

static const char *const red_classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx", "none", "other" };
#define RED_CLASS_NONE 5
#define RED_CLASS_OTHER 6

static const char *const red_roles[] = { "unknown", "client", "server" };

struct red_series {
	struct cds_lfht_node node;
	struct red_series *next_free;   /* red_table_free only */
	int published;                  /* release-stored once the labels are set */
	uint8_t role, method, sclass;
	uint8_t route_len;
	char route[ROUTE_MAX_LEN + 1];
	/* written by the owner with relaxed atomics, read by scrapes */
	uint64_t count;
	uint64_t bucket[RED_BUCKETS];   /* not cumulative */
	uint64_t sum_ns;
};

/* Writer-private open-addressing table of nonzero 64-bit keys. */
struct red_u64map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, n;                  /* cap is a power of two or 0 */
};

struct red_table {
	struct cds_lfht *ht;
	uint32_t routes_per_port_cap;
	struct red_u64map routes;       /* hash(role, port, route) -> 1 */
	struct red_u64map ports;        /* (role, port) -> distinct routes */
	uint64_t n_series;
	uint64_t lost;
	struct red_table *next_registered;
	bool registered;
};

/*
 * The registry of tables a scrape merges.  red_write walks it, and reads the
 * series of every table on it, with red_registry_lock held; red_unregister
 * unlinks under the same lock, so after it returns no scrape is reading the
 * table and red_table_free may delete its series (it still waits a grace
 * period for RCU readers of the hash table before freeing them).
 */
static pthread_mutex_t red_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct red_table *red_registry;
static size_t red_registry_n;

/* ---- label helpers */

static uint8_t red_method_index(const char *m, size_t len)
{
	if (!m || len == 0)
		return RED_METHOD_NONE;
	for (size_t i = 0; i < RED_N_METHODS; i++)
		if (strlen(red_methods[i]) == len && memcmp(red_methods[i], m, len) == 0)
			return (uint8_t)i;
	return RED_METHOD_OTHER;
}

static const char *red_method_name(uint8_t i)
{
	if (i < RED_N_METHODS)
		return red_methods[i];
	return i == RED_METHOD_OTHER ? "other" : "none";
}

const char *red_method_label(const char *m, size_t len)
{
	return red_method_name(red_method_index(m, len));
}

static uint8_t red_class_index(unsigned status)
{
	if (status == 0)
		return RED_CLASS_NONE;
	if (status < 100 || status > 599)
		return RED_CLASS_OTHER;
	return (uint8_t)(status / 100 - 1);
}

const char *red_status_class(unsigned status)
{
	return red_classes[red_class_index(status)];
}

/* ---- writer-private u64 map */

static uint64_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static uint32_t *u64map_find(struct red_u64map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = mix64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return &m->vals[i];
		if (m->keys[i] == 0)
			return NULL;
	}
}

static void u64map_place(struct red_u64map *m, uint64_t key, uint32_t val)
{
	size_t i = mix64(key) & (m->cap - 1);

	while (m->keys[i] != 0 && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (m->keys[i] == 0)
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val;
}

/* Inserts or overwrites; key 0 is remapped by the callers.  0 or -ENOMEM. */
static int u64map_put(struct red_u64map *m, uint64_t key, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct red_u64map g = { .cap = m->cap ? m->cap * 2 : 64 };

		g.keys = calloc(g.cap, sizeof(*g.keys));
		g.vals = calloc(g.cap, sizeof(*g.vals));
		if (!g.keys || !g.vals) {
			free(g.keys);
			free(g.vals);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i])
				u64map_place(&g, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = g;
	}
	u64map_place(m, key, val);
	return 0;
}

static void u64map_free(struct red_u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- tables */

struct red_table *red_table_new(uint32_t routes_per_port_cap)
{
	struct red_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->routes_per_port_cap = routes_per_port_cap ? routes_per_port_cap
						     : RED_DEFAULT_ROUTES_PER_PORT;
	t->ht = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!t->ht) {
		free(t);
		return NULL;
	}
	return t;
}

void red_table_free(struct red_table *t)
{
	struct cds_lfht_iter it;
	struct red_series *s, *dead = NULL;

	if (!t)
		return;
	red_unregister(t);
	rcu_read_lock();
	cds_lfht_for_each_entry(t->ht, &it, s, node) {
		if (cds_lfht_del(t->ht, &s->node) == 0) {
			s->next_free = dead;
			dead = s;
		}
	}
	rcu_read_unlock();
	synchronize_rcu();
	while (dead) {
		s = dead->next_free;
		free(dead);
		dead = s;
	}
	cds_lfht_destroy(t->ht, NULL);
	u64map_free(&t->routes);
	u64map_free(&t->ports);
	free(t);
}

uint64_t red_table_lost(const struct red_table *t)
{
	return __atomic_load_n(&t->lost, __ATOMIC_RELAXED);
}

uint64_t red_table_series(const struct red_table *t)
{
	return __atomic_load_n(&t->n_series, __ATOMIC_RELAXED);
}

void red_register(struct red_table *t)
{
	pthread_mutex_lock(&red_registry_lock);
	if (!t->registered) {
		t->next_registered = red_registry;
		red_registry = t;
		t->registered = true;
		red_registry_n++;
	}
	pthread_mutex_unlock(&red_registry_lock);
}

void red_unregister(struct red_table *t)
{
	pthread_mutex_lock(&red_registry_lock);
	for (struct red_table **pp = &red_registry; *pp; pp = &(*pp)->next_registered) {
		if (*pp == t) {
			*pp = t->next_registered;
			red_registry_n--;
			break;
		}
	}
	t->registered = false;
	pthread_mutex_unlock(&red_registry_lock);
}

size_t red_registered(void)
{
	size_t n;

	pthread_mutex_lock(&red_registry_lock);
	n = red_registry_n;
	pthread_mutex_unlock(&red_registry_lock);
	return n;
}

/* ---- observe (data path) */

struct red_key {
	uint8_t role, method, sclass;
	const char *route;
	size_t route_len;
};

static uint64_t red_key_hash(const struct red_key *k)
{
	uint64_t seed = (uint64_t)k->role << 16 | (uint64_t)k->method << 8 | k->sclass;

	return XXH3_64bits_withSeed(k->route, k->route_len, seed);
}

static int red_match(struct cds_lfht_node *node, const void *key)
{
	const struct red_series *s = caa_container_of(node, struct red_series, node);
	const struct red_key *k = key;

	return s->role == k->role && s->method == k->method && s->sclass == k->sclass &&
	       s->route_len == k->route_len && memcmp(s->route, k->route, k->route_len) == 0;
}

/* Whether route may be used for the record's service port; records it as
 * used when there is room under both caps.  Writer only. */
static bool red_route_admit(struct red_table *t, uint8_t role, uint16_t port,
			    const char *route, size_t len)
{
	uint64_t pk = ((uint64_t)role << 16 | port) + 1;
	uint64_t rk = XXH3_64bits_withSeed(route, len, pk) | 1;
	uint32_t *cnt;

	if (u64map_find(&t->routes, rk))
		return true;
	cnt = u64map_find(&t->ports, pk);
	if ((cnt && *cnt >= t->routes_per_port_cap) || t->routes.n >= RED_MAX_ROUTES)
		return false;
	if (u64map_put(&t->routes, rk, 1))
		return false;
	if (cnt) {
		(*cnt)++;
		return true;
	}
	/* A failed port insert only loses the count: the route stays admitted. */
	u64map_put(&t->ports, pk, 1);
	return true;
}

static struct red_series *red_series_get(struct red_table *t, const struct red_key *k)
{
	uint64_t h = red_key_hash(k);
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	struct red_series *s;

	cds_lfht_lookup(t->ht, h, red_match, k, &it);
	n = cds_lfht_iter_get_node(&it);
	if (n)
		return caa_container_of(n, struct red_series, node);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	cds_lfht_node_init(&s->node);
	s->role = k->role;
	s->method = k->method;
	s->sclass = k->sclass;
	s->route_len = (uint8_t)k->route_len;
	memcpy(s->route, k->route, k->route_len);
	/* cds_lfht_add publishes the node with its own barriers; the explicit
	 * release/acquire pair also states it in C11 terms (and to TSan). */
	__atomic_store_n(&s->published, 1, __ATOMIC_RELEASE);
	/* Single writer: nobody else can add this key meanwhile. */
	cds_lfht_add(t->ht, h, &s->node);
	__atomic_store_n(&t->n_series, t->n_series + 1, __ATOMIC_RELAXED);
	return s;
}

static void red_add(uint64_t *slot, uint64_t n)
{
	__atomic_store_n(slot, __atomic_load_n(slot, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

void red_observe(struct red_table *t, const struct ht_record *r)
{
	char route[ROUTE_MAX_LEN + 1];
	struct red_key k;
	struct red_series *s;
	struct ht_str p = r->path.len ? r->path : r->target;
	bool other = false;
	uint16_t port;

	k.role = r->role <= HT_ROLE_SERVER ? r->role : HT_ROLE_UNKNOWN;
	k.method = red_method_index(ht_str_ptr(r, r->method), r->method.len);
	k.sclass = red_class_index(r->status);
	k.route_len = route_template(p.len ? ht_str_ptr(r, p) : NULL, p.len, route, sizeof(route));
	k.route = route;
	port = k.role == HT_ROLE_CLIENT ? r->remote_port : r->local_port;
	if (strcmp(route, ROUTE_OTHER) == 0) {
		other = true;
	} else if (strcmp(route, ROUTE_NONE) != 0 &&
		   !red_route_admit(t, k.role, port, route, k.route_len)) {
		k.route = ROUTE_OTHER;
		k.route_len = sizeof(ROUTE_OTHER) - 1;
		other = true;
	}

	rcu_read_lock();
	s = red_series_get(t, &k);
	if (!s && !other) {
		k.route = ROUTE_OTHER;
		k.route_len = sizeof(ROUTE_OTHER) - 1;
		s = red_series_get(t, &k);
	}
	if (!s) {
		rcu_read_unlock();
		red_add(&t->lost, 1);
		return;
	}
	red_add(&s->count, 1);
	if (r->status && !(r->flags & HT_RF_INCOMPLETE)) {
		double sec = (double)r->latency_ns / 1e9;
		int i = 0;

		while (i < RED_BUCKETS - 1 && sec > red_bounds_s[i])
			i++;
		red_add(&s->bucket[i], 1);
		red_add(&s->sum_ns, r->latency_ns);
	}
	rcu_read_unlock();
}

/* ---- scrape */

struct red_agg {
	const struct red_series *key;   /* labels */
	uint64_t count;
	uint64_t bucket[RED_BUCKETS];
	uint64_t sum_ns;
};

static int red_cmp(const void *a, const void *b)
{
	const struct red_series *x = *(const struct red_series *const *)a;
	const struct red_series *y = *(const struct red_series *const *)b;
	int c = strcmp(x->route, y->route);

	if (c)
		return c;
	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	if (x->method != y->method)
		return x->method < y->method ? -1 : 1;
	if (x->sclass != y->sclass)
		return x->sclass < y->sclass ? -1 : 1;
	return 0;
}

static bool red_same(const struct red_series *x, const struct red_series *y)
{
	return red_cmp(&x, &y) == 0;
}

int red_put_label_value(struct ht_buf *b, const char *s)
{
	for (; *s; s++) {
		int rc;

		if (*s == '\\')
			rc = ht_buf_puts(b, "\\\\");
		else if (*s == '"')
			rc = ht_buf_puts(b, "\\\"");
		else if (*s == '\n')
			rc = ht_buf_puts(b, "\\n");
		else
			rc = ht_buf_putc(b, *s);
		if (rc)
			return rc;
	}
	return 0;
}

/* Writes name{role=..,method=..,status_class=..,route=..[,le=..]} */
static int put_series(struct ht_buf *b, const char *name, const struct red_series *k,
		      const char *le)
{
	char tmp[160];
	int rc;

	snprintf(tmp, sizeof(tmp), "%s{role=\"%s\",method=\"%s\",status_class=\"%s\",route=\"",
		 name, red_roles[k->role], red_method_name(k->method), red_classes[k->sclass]);
	rc = ht_buf_puts(b, tmp);
	rc = rc ?: red_put_label_value(b, k->route);
	rc = rc ?: ht_buf_putc(b, '"');
	if (!rc && le) {
		rc = ht_buf_puts(b, ",le=\"");
		rc = rc ?: ht_buf_puts(b, le);
		rc = rc ?: ht_buf_putc(b, '"');
	}
	return rc ?: ht_buf_puts(b, "} ");
}

static int put_u64_line(struct ht_buf *b, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%" PRIu64 "\n", v);
	return ht_buf_puts(b, tmp);
}

static int red_write_hist(struct ht_buf *b, const struct red_agg *a)
{
	const char *name = "http_tracer_request_duration_seconds";
	char nm[64], le[32];
	uint64_t cum = 0;
	int rc = 0;

	snprintf(nm, sizeof(nm), "%s_bucket", name);
	for (int i = 0; i < RED_BUCKETS && !rc; i++) {
		cum += a->bucket[i];
		if (i == RED_BUCKETS - 1)
			snprintf(le, sizeof(le), "+Inf");
		else
			snprintf(le, sizeof(le), "%g", red_bounds_s[i]);
		rc = put_series(b, nm, a->key, le);
		rc = rc ?: put_u64_line(b, cum);
	}
	snprintf(nm, sizeof(nm), "%s_sum", name);
	rc = rc ?: put_series(b, nm, a->key, NULL);
	if (!rc) {
		snprintf(le, sizeof(le), "%" PRIu64 ".%09" PRIu64 "\n",
			 a->sum_ns / 1000000000u, a->sum_ns % 1000000000u);
		rc = ht_buf_puts(b, le);
	}
	snprintf(nm, sizeof(nm), "%s_count", name);
	rc = rc ?: put_series(b, nm, a->key, NULL);
	return rc ?: put_u64_line(b, cum);
}

static int red_emit(struct ht_buf *b, const struct red_agg *agg, size_t n)
{
	int rc;

	rc = ht_buf_puts(b,
		"# HELP http_tracer_requests_total HTTP requests seen, by role, method, status class and route template.\n"
		"# TYPE http_tracer_requests_total counter\n");
	for (size_t i = 0; i < n && !rc; i++) {
		rc = put_series(b, "http_tracer_requests_total", agg[i].key, NULL);
		rc = rc ?: put_u64_line(b, agg[i].count);
	}
	rc = rc ?: ht_buf_puts(b,
		"# HELP http_tracer_request_duration_seconds Latency from the first request byte to the last response byte, for requests with a final response.\n"
		"# TYPE http_tracer_request_duration_seconds histogram\n");
	for (size_t i = 0; i < n && !rc; i++) {
		uint64_t total = 0;

		for (int j = 0; j < RED_BUCKETS; j++)
			total += agg[i].bucket[j];
		if (total)
			rc = red_write_hist(b, &agg[i]);
	}
	return rc;
}

static size_t red_collect(struct red_series ***out, size_t *cap)
{
	struct cds_lfht_iter it;
	struct red_series *s;
	size_t n = 0;

	for (struct red_table *t = red_registry; t; t = t->next_registered) {
		cds_lfht_for_each_entry(t->ht, &it, s, node) {
			if (!__atomic_load_n(&s->published, __ATOMIC_ACQUIRE))
				continue;
			if (n == *cap) {
				size_t nc = *cap ? *cap * 2 : 256;
				struct red_series **v = realloc(*out, nc * sizeof(**out));

				if (!v)
					return SIZE_MAX;
				*out = v;
				*cap = nc;
			}
			(*out)[n++] = s;
		}
	}
	return n;
}

int red_write(struct ht_buf *b)
{
	struct red_series **v = NULL;
	struct red_agg *agg = NULL;
	size_t cap = 0, n, na = 0;
	int rc = -ENOMEM;

	pthread_mutex_lock(&red_registry_lock);
	rcu_read_lock();
	n = red_collect(&v, &cap);
	rcu_read_unlock();
	if (n == SIZE_MAX)
		goto err_unlock;
	if (n) {
		qsort(v, n, sizeof(*v), red_cmp);
		agg = calloc(n, sizeof(*agg));
		if (!agg)
			goto err_unlock;
	}
	for (size_t i = 0; i < n; i++) {
		struct red_agg *a;

		if (na == 0 || !red_same(agg[na - 1].key, v[i]))
			agg[na++].key = v[i];
		a = &agg[na - 1];
		a->count += __atomic_load_n(&v[i]->count, __ATOMIC_RELAXED);
		a->sum_ns += __atomic_load_n(&v[i]->sum_ns, __ATOMIC_RELAXED);
		for (int j = 0; j < RED_BUCKETS; j++)
			a->bucket[j] += __atomic_load_n(&v[i]->bucket[j], __ATOMIC_RELAXED);
	}
	/* Series stay allocated while their table is registered: the lock
	 * keeps red_table_free out until the labels are written. */
	rc = red_emit(b, agg, na);
err_unlock:
	pthread_mutex_unlock(&red_registry_lock);
	free(agg);
	free(v);
	return rc;
}
