/*
 * k8s_store.c - the cluster objects of k8s_store.h, published with RCU.
 *
 * Two halves:
 *  - published (readers): two cds_lfht tables, pods by uid and peers by
 *    address.  An entry is one allocation (struct, arrays and strings) that
 *    never changes once added; an update swaps in a new one with
 *    cds_lfht_add_replace and retires the old one, freed after a grace
 *    period (call_rcu) when the writer call ends.
 *  - private (the one writer): the current objects in chained hash maps
 *    (struct kmap) and, per address, the list of sources that claim it
 *    (a Service clusterIP, an EndpointSlice endpoint, a pod IP).  A change
 *    to an object detaches its old sources, attaches the new ones, marks the
 *    addresses they touch dirty, and each dirty address is published again
 *    from its sources (or removed when none is left).
 * The writer takes rcu_read_lock around its table updates, as rculfhash
 * asks.
 */
#include "k8s_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>
#include <urcu/rculfhash.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

/* Buckets of the published tables: they start at K8S_STORE_MIN_BUCKETS and
 * the writer doubles them (cds_lfht_resize, synchronous) when the entries
 * outnumber the buckets.  rculfhash's own lazy resize is not used: it runs
 * in a worker that waits for grace periods, so under steady readers the
 * table stayed at its first size and chains grew to a hundred nodes. */
#define K8S_STORE_MIN_BUCKETS 256

/* ---- private chained hash map (writer only) */

struct kmap_node {
	struct kmap_node *next;
	uint64_t hash;
	const void *key;
	size_t klen;
};

struct kmap {
	struct kmap_node **b;
	size_t nb, n;
};

static uint64_t key_hash(const void *key, size_t len)
{
	return XXH3_64bits(key, len);
}

static struct kmap_node *kmap_find(const struct kmap *m, const void *key, size_t klen)
{
	uint64_t h = key_hash(key, klen);

	if (!m->nb)
		return NULL;
	for (struct kmap_node *n = m->b[h & (m->nb - 1)]; n; n = n->next)
		if (n->hash == h && n->klen == klen && memcmp(n->key, key, klen) == 0)
			return n;
	return NULL;
}

static int kmap_grow(struct kmap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct kmap_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nb; i++) {
		struct kmap_node *n = m->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

/* n->key and n->klen set by the caller; the key must not be present. */
static int kmap_insert(struct kmap *m, struct kmap_node *n)
{
	if (m->n >= m->nb && kmap_grow(m))
		return -ENOMEM;
	n->hash = key_hash(n->key, n->klen);
	n->next = m->b[n->hash & (m->nb - 1)];
	m->b[n->hash & (m->nb - 1)] = n;
	m->n++;
	return 0;
}

static void kmap_remove(struct kmap *m, struct kmap_node *n)
{
	struct kmap_node **pp = &m->b[n->hash & (m->nb - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			m->n--;
			return;
		}
	}
}

/* ---- published entries */

/* A replaced or removed entry, freed after a grace period (reclaim). */
struct retired {
	struct retired *next;
	void *mem;                    /* the entry's allocation */
	struct rcu_head rcu;
};

struct pod_entry {
	struct cds_lfht_node node;
	struct retired ret;
	struct k8s_pod_view v;
	struct k8s_container_view c[]; /* then the strings */
};

enum src_kind { SRC_SERVICE, SRC_SLICE, SRC_POD };

struct peer_src {                     /* published copy of one source */
	const char *pod, *ns, *svc;
	const uint16_t *ports;
	uint16_t n_ports;
	uint8_t kind;
};

struct peer_entry {
	struct cds_lfht_node node;
	struct retired ret;
	struct ht_addr addr;
	size_t n;
	struct peer_src s[];           /* then the ports, then the strings */
};

/* ---- private objects */

struct waddr;

struct wsrc {                         /* one object's claim on one address */
	struct wsrc *next;            /* in waddr->srcs */
	struct waddr *a;
	const char *pod, *ns, *svc;   /* owned by the object */
	const uint16_t *ports;
	uint16_t n_ports;
	uint8_t kind;
};

struct waddr {
	struct kmap_node node;        /* key: addr */
	struct ht_addr addr;
	struct wsrc *srcs;
	struct waddr *next_dirty;
	bool dirty;
};

struct wobj {                         /* a pod, a Service or an EndpointSlice */
	struct kmap_node node;        /* key: uid (pods) or "namespace/name" */
	enum k8s_kind kind;
	uint64_t gen;
	char *key;
	char *strings;                /* every string of the object, one block */
	size_t n_src;
	struct wsrc *src;
	uint16_t ports[K8S_MAX_PORTS];
	struct pod_entry *pub;        /* pods: the published entry */
};

struct k8s_store {
	struct cds_lfht *pods, *peers;
	struct kmap objs[K8S_KIND_COUNT];
	struct kmap addrs;
	uint64_t gen[K8S_KIND_COUNT];
	struct waddr *dirty;          /* addresses to publish again */
	struct retired *retired;      /* entries to free after a grace period */
	unsigned long pod_buckets, peer_buckets;
};

const char *k8s_kind_name(enum k8s_kind kind)
{
	static const char *const names[K8S_KIND_COUNT] = { "pods", "services", "endpointslices" };

	return (unsigned)kind < K8S_KIND_COUNT ? names[kind] : "unknown";
}

struct k8s_store *k8s_store_new(void)
{
	struct k8s_store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->pod_buckets = K8S_STORE_MIN_BUCKETS;
	st->peer_buckets = K8S_STORE_MIN_BUCKETS;
	st->pods = cds_lfht_new(st->pod_buckets, K8S_STORE_MIN_BUCKETS, 0, 0, NULL);
	st->peers = cds_lfht_new(st->peer_buckets, K8S_STORE_MIN_BUCKETS, 0, 0, NULL);
	if (!st->pods || !st->peers) {
		k8s_store_free(st);
		return NULL;
	}
	return st;
}

static void free_retired(struct retired *r)
{
	for (struct retired *next; r; r = next) {
		next = r->next;
		free(r->mem);
	}
}

#ifndef K8S_STORE_SYNC_RECLAIM
/* The whole batch of one writer call hangs off its first entry. */
static void free_retired_rcu(struct rcu_head *h)
{
	free_retired(caa_container_of(h, struct retired, rcu));
}
#endif

static void retire(struct k8s_store *st, struct retired *r, void *mem)
{
	r->mem = mem;
	r->next = st->retired;
	st->retired = r;
}

/* Ends a writer call: grows the tables if needed and frees what the call
 * replaced, once no reader can hold it.  Outside rcu_read_lock.  With K8S_STORE_SYNC_RECLAIM (the fuzz build,
 * whose leak check wants every input to free what it allocated) it waits
 * for the grace period itself; otherwise liburcu's call_rcu thread does. */
static void grow(struct cds_lfht *ht, unsigned long *buckets, size_t entries)
{
	unsigned long want = *buckets;

	while (want < entries)
		want *= 2;
	if (want != *buckets) {
		cds_lfht_resize(ht, want);
		*buckets = want;
	}
}

static void reclaim(struct k8s_store *st)
{
	struct retired *r = st->retired;

	grow(st->pods, &st->pod_buckets, st->objs[K8S_POD].n);
	grow(st->peers, &st->peer_buckets, st->addrs.n);
	if (!r)
		return;
	st->retired = NULL;
#ifdef K8S_STORE_SYNC_RECLAIM
	synchronize_rcu();
	free_retired(r);
#else
	call_rcu(&r->rcu, free_retired_rcu);   /* one callback per writer call */
#endif
}

static void free_wobj(struct wobj *o)
{
	if (!o)
		return;
	free(o->key);
	free(o->strings);
	free(o->src);
	free(o);
}

static void drain_table(struct cds_lfht *ht, size_t node_off)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (!ht)
		return;
	rcu_read_lock();
	cds_lfht_for_each(ht, &it, n) {
		if (cds_lfht_del(ht, n) == 0)
			free((char *)n - node_off);
	}
	rcu_read_unlock();
	cds_lfht_destroy(ht, NULL);
}

static void free_kmap(struct kmap *m, bool objs)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct kmap_node *n = m->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			if (objs)
				free_wobj(caa_container_of(n, struct wobj, node));
			else
				free(caa_container_of(n, struct waddr, node));
		}
	}
	free(m->b);
}

void k8s_store_free(struct k8s_store *st)
{
	if (!st)
		return;
	/* No reader is left (contract), so published entries go at once; the
	 * call_rcu callbacks already queued only free their own entry. */
	reclaim(st);
	drain_table(st->pods, offsetof(struct pod_entry, node));
	drain_table(st->peers, offsetof(struct peer_entry, node));
	for (int k = 0; k < K8S_KIND_COUNT; k++)
		free_kmap(&st->objs[k], true);
	free_kmap(&st->addrs, false);
	free(st);
}

/* ---- reader side */

static int match_pod(struct cds_lfht_node *n, const void *key)
{
	return strcmp(caa_container_of(n, struct pod_entry, node)->v.uid, key) == 0;
}

static int match_peer(struct cds_lfht_node *n, const void *key)
{
	const struct ht_addr *a = &caa_container_of(n, struct peer_entry, node)->addr;

	return memcmp(a, key, sizeof(*a)) == 0;
}

const struct k8s_pod_view *k8s_pod_by_uid(struct k8s_store *st, const char *uid)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (!st || !uid)
		return NULL;
	cds_lfht_lookup(st->pods, key_hash(uid, strlen(uid)), match_pod, uid, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? &caa_container_of(n, struct pod_entry, node)->v : NULL;
}

const char *k8s_container_name(const struct k8s_pod_view *pod, const char *container_id)
{
	if (!pod || !container_id)
		return NULL;
	for (size_t i = 0; i < pod->n_containers; i++)
		if (strcmp(pod->containers[i].id, container_id) == 0)
			return pod->containers[i].name;
	return NULL;
}

static bool src_has_port(const struct peer_src *s, uint16_t port)
{
	if (!s->n_ports)
		return true;
	for (uint16_t i = 0; i < s->n_ports; i++)
		if (s->ports[i] == port || s->ports[i] == 0)
			return true;
	return false;
}

/* A Service clusterIP wins; then the slice whose ports hold port (else the
 * first slice); a pod IP names the pod when the slice did not. */
bool k8s_peer_by_addr(struct k8s_store *st, const struct ht_addr *addr, uint16_t port,
		      struct k8s_peer_view *out)
{
	const struct peer_src *svc = NULL, *slice = NULL, *any_slice = NULL, *pod = NULL;
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	const struct peer_entry *e;
	struct ht_addr key;

	if (!st || !addr || !out)
		return false;
	key = *addr;
	cds_lfht_lookup(st->peers, key_hash(&key, sizeof(key)), match_peer, &key, &it);
	n = cds_lfht_iter_get_node(&it);
	if (!n)
		return false;
	e = caa_container_of(n, struct peer_entry, node);
	for (size_t i = 0; i < e->n; i++) {
		const struct peer_src *s = &e->s[i];

		if (s->kind == SRC_SERVICE && !svc)
			svc = s;
		else if (s->kind == SRC_SLICE && !slice && src_has_port(s, port))
			slice = s;
		else if (s->kind == SRC_SLICE && !any_slice)
			any_slice = s;
		else if (s->kind == SRC_POD && !pod)
			pod = s;
	}
	if (!slice)
		slice = any_slice;
	memset(out, 0, sizeof(*out));
	if (svc) {
		out->service = svc->svc;
		out->namespace_ = svc->ns;
		return true;
	}
	if (slice) {
		out->pod = slice->pod ? slice->pod : (pod ? pod->pod : NULL);
		out->namespace_ = slice->ns;
		out->service = slice->svc;
		return true;
	}
	out->pod = pod->pod;
	out->namespace_ = pod->ns;
	return true;
}

/* ---- writer side: strings */

struct spack {
	char *p, *end;
};

static size_t slen(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copies s into the block (its size was counted with slen); NULL stays NULL. */
static const char *sp_put(struct spack *sp, const char *s)
{
	size_t n = slen(s);
	char *out = sp->p;

	if (!s || (size_t)(sp->end - sp->p) < n)
		return NULL;
	memcpy(out, s, n);
	sp->p += n;
	return out;
}

/* "containerd://<id>" -> "<id>" */
static const char *strip_scheme(const char *id)
{
	const char *p = id ? strstr(id, "://") : NULL;

	return p ? p + 3 : id;
}

/* ---- writer side: addresses and their sources */

static void mark_dirty(struct k8s_store *st, struct waddr *a)
{
	if (a->dirty)
		return;
	a->dirty = true;
	a->next_dirty = st->dirty;
	st->dirty = a;
}

/* The address's private entry, made (and marked dirty) if new; NULL on a bad
 * address or no memory. */
static struct waddr *waddr_get(struct k8s_store *st, const char *text)
{
	struct ht_addr addr;
	struct kmap_node *n;
	struct waddr *a;

	memset(&addr, 0, sizeof(addr));
	if (!text || ht_addr_parse(text, &addr))
		return NULL;
	n = kmap_find(&st->addrs, &addr, sizeof(addr));
	if (n)
		return caa_container_of(n, struct waddr, node);
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->addr = addr;
	a->node.key = &a->addr;
	a->node.klen = sizeof(a->addr);
	if (kmap_insert(&st->addrs, &a->node)) {
		free(a);
		return NULL;
	}
	mark_dirty(st, a);
	return a;
}

static void attach_sources(struct k8s_store *st, struct wobj *o)
{
	for (size_t i = 0; i < o->n_src; i++) {
		struct wsrc *s = &o->src[i];
		struct wsrc **pp = &s->a->srcs;

		while (*pp)             /* appended: the oldest claim comes first */
			pp = &(*pp)->next;
		s->next = NULL;
		*pp = s;
		mark_dirty(st, s->a);
	}
}

static void detach_sources(struct k8s_store *st, struct wobj *o)
{
	for (size_t i = 0; i < o->n_src; i++) {
		struct wsrc *s = &o->src[i];

		for (struct wsrc **pp = &s->a->srcs; *pp; pp = &(*pp)->next) {
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		}
		mark_dirty(st, s->a);
	}
}

static struct peer_entry *peer_build(const struct waddr *a)
{
	size_t n = 0, ports = 0, strs = 0, size;
	struct peer_entry *e;
	uint16_t *pp;
	struct spack sp;
	size_t i = 0;

	for (const struct wsrc *s = a->srcs; s; s = s->next) {
		n++;
		ports += s->n_ports;
		strs += slen(s->pod) + slen(s->ns) + slen(s->svc);
	}
	size = sizeof(*e) + n * sizeof(e->s[0]) + ports * sizeof(uint16_t) + strs;
	e = malloc(size);
	if (!e)
		return NULL;
	e->addr = a->addr;
	e->n = n;
	pp = (uint16_t *)&e->s[n];
	sp.p = (char *)(pp + ports);
	sp.end = (char *)e + size;
	for (const struct wsrc *s = a->srcs; s; s = s->next, i++) {
		struct peer_src *d = &e->s[i];

		d->kind = s->kind;
		d->pod = sp_put(&sp, s->pod);
		d->ns = sp_put(&sp, s->ns);
		d->svc = sp_put(&sp, s->svc);
		d->n_ports = s->n_ports;
		d->ports = pp;
		if (s->n_ports)
			memcpy(pp, s->ports, s->n_ports * sizeof(uint16_t));
		pp += s->n_ports;
	}
	return e;
}

/* Publishes a again from its sources, or removes it when none is left.
 * -ENOMEM leaves the old entry published. */
static int publish_addr(struct k8s_store *st, struct waddr *a)
{
	uint64_t h = key_hash(&a->addr, sizeof(a->addr));
	struct cds_lfht_node *old = NULL;
	struct cds_lfht_iter it;
	struct peer_entry *e;

	if (!a->srcs) {
		cds_lfht_lookup(st->peers, h, match_peer, &a->addr, &it);
		old = cds_lfht_iter_get_node(&it);
		if (old && cds_lfht_del(st->peers, old) == 0)
			retire(st, &caa_container_of(old, struct peer_entry, node)->ret,
			       caa_container_of(old, struct peer_entry, node));
		kmap_remove(&st->addrs, &a->node);
		free(a);
		return 0;
	}
	e = peer_build(a);
	if (!e)
		return -ENOMEM;
	old = cds_lfht_add_replace(st->peers, h, match_peer, &e->addr, &e->node);
	if (old)
		retire(st, &caa_container_of(old, struct peer_entry, node)->ret,
		       caa_container_of(old, struct peer_entry, node));
	return 0;
}

static int flush_dirty(struct k8s_store *st)
{
	int rc = 0;

	while (st->dirty) {
		struct waddr *a = st->dirty;

		st->dirty = a->next_dirty;
		a->dirty = false;
		rc = publish_addr(st, a) ?: rc;
	}
	return rc;
}

/* ---- writer side: objects */

static char *obj_key(enum k8s_kind kind, const struct k8s_meta *m)
{
	char *key;

	if (kind == K8S_POD)
		return m->uid && *m->uid ? strdup(m->uid) : NULL;
	if (!m->name || !*m->name || asprintf(&key, "%s/%s", m->namespace_ ? m->namespace_ : "",
					     m->name) < 0)
		return NULL;
	return key;
}

static struct wobj *wobj_new(enum k8s_kind kind, const struct k8s_meta *m,
			     size_t strbytes, size_t n_src)
{
	struct wobj *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->kind = kind;
	o->key = obj_key(kind, m);
	o->strings = malloc(strbytes ? strbytes : 1);
	o->src = calloc(n_src ? n_src : 1, sizeof(*o->src));
	if (!o->key || !o->strings || !o->src) {
		free_wobj(o);
		return NULL;
	}
	o->node.key = o->key;
	o->node.klen = strlen(o->key);
	return o;
}

/* Adds a source of o at the text address (a bad address is skipped). */
static void wobj_add_src(struct k8s_store *st, struct wobj *o, const char *text,
			 enum src_kind kind, const char *pod, const char *ns, const char *svc)
{
	struct waddr *a = waddr_get(st, text);
	struct wsrc *s;

	if (!a)
		return;
	s = &o->src[o->n_src++];
	s->a = a;
	s->kind = kind;
	s->pod = pod;
	s->ns = ns;
	s->svc = svc;
	if (kind == SRC_SLICE) {
		s->ports = o->ports;
		s->n_ports = 0;
	}
}

static struct wobj *find_obj(struct k8s_store *st, enum k8s_kind kind, const char *key)
{
	struct kmap_node *n = kmap_find(&st->objs[kind], key, strlen(key));

	return n ? caa_container_of(n, struct wobj, node) : NULL;
}

static void unpublish_pod(struct k8s_store *st, struct wobj *o)
{
	if (o->pub && cds_lfht_del(st->pods, &o->pub->node) == 0)
		retire(st, &o->pub->ret, o->pub);
	o->pub = NULL;
}

/* Removes o from every table and frees it. */
static void drop_obj(struct k8s_store *st, struct wobj *o)
{
	detach_sources(st, o);
	kmap_remove(&st->objs[o->kind], &o->node);
	if (o->kind == K8S_POD)
		unpublish_pod(st, o);
	free_wobj(o);
}

/* Swaps o in for the object of the same key (if any) and publishes it. */
static int install_obj(struct k8s_store *st, struct wobj *o)
{
	struct wobj *old = find_obj(st, o->kind, o->key);
	struct cds_lfht_node *prev;
	int rc;

	if (old) {
		detach_sources(st, old);
		kmap_remove(&st->objs[old->kind], &old->node);
	}
	rc = kmap_insert(&st->objs[o->kind], &o->node);
	if (rc) {                       /* cannot happen after a remove; be safe */
		if (old)
			drop_obj(st, old);
		free_wobj(o);
		return flush_dirty(st) ?: rc;
	}
	o->gen = st->gen[o->kind];
	if (o->pub) {
		prev = cds_lfht_add_replace(st->pods, key_hash(o->key, strlen(o->key)), match_pod,
					    o->key, &o->pub->node);
		if (prev)
			retire(st, &caa_container_of(prev, struct pod_entry, node)->ret,
			       caa_container_of(prev, struct pod_entry, node));
	}
	attach_sources(st, o);
	if (old) {
		old->pub = NULL;        /* replaced above, retired */
		free_wobj(old);
	}
	return flush_dirty(st);
}

/* Failure before install: the addresses the sources made are still dirty
 * (and empty), flushing removes them. */
static int abandon_obj(struct k8s_store *st, struct wobj *o, int rc)
{
	free_wobj(o);
	rcu_read_lock();
	flush_dirty(st);
	rcu_read_unlock();
	reclaim(st);
	return rc;
}

/* ---- pods */

/* The pod's workload: a controller ReplicaSet named "<d>-<pod-template-hash>"
 * is Deployment <d>; any other controller is shown as itself.  *len is the
 * length of the name to keep. */
static const char *pod_workload(const struct k8s_pod_obj *p, const char **kind, size_t *len)
{
	const char *h = p->pod_template_hash;
	size_t nl, hl;

	*kind = p->owner_kind;
	*len = p->owner_name ? strlen(p->owner_name) : 0;
	if (!p->owner_kind || !p->owner_name || !h || strcmp(p->owner_kind, "ReplicaSet"))
		return p->owner_name;
	nl = *len;
	hl = strlen(h);
	if (hl && nl > hl + 1 && p->owner_name[nl - hl - 1] == '-' &&
	    strcmp(p->owner_name + nl - hl, h) == 0) {
		*kind = "Deployment";
		*len = nl - hl - 1;
	}
	return p->owner_name;
}

static const char *sp_putn(struct spack *sp, const char *s, size_t n)
{
	char *out = sp->p;

	if (!s || (size_t)(sp->end - sp->p) < n + 1)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	sp->p += n + 1;
	return out;
}

static struct pod_entry *pod_build(const struct k8s_pod_obj *p)
{
	const char *wkind, *wname = NULL;
	size_t wlen, strs, nc = 0, size;
	struct pod_entry *e;
	struct spack sp;

	wname = pod_workload(p, &wkind, &wlen);
	strs = slen(p->meta.uid) + slen(p->meta.name) + slen(p->meta.namespace_) + slen(p->node) +
	       slen(wkind) + (wname ? wlen + 1 : 0) + (p->n_ips ? slen(p->ips[0]) : 0);
	for (size_t i = 0; i < p->n_containers; i++) {
		if (!p->containers[i].id || !p->containers[i].name)
			continue;
		strs += slen(strip_scheme(p->containers[i].id)) + slen(p->containers[i].name);
		nc++;
	}
	size = sizeof(*e) + nc * sizeof(e->c[0]) + strs;
	e = malloc(size);
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	sp.p = (char *)&e->c[nc];
	sp.end = (char *)e + size;
	e->v.uid = sp_put(&sp, p->meta.uid);
	e->v.name = sp_put(&sp, p->meta.name);
	e->v.namespace_ = sp_put(&sp, p->meta.namespace_);
	e->v.node = sp_put(&sp, p->node);
	e->v.workload_kind = sp_put(&sp, wkind);
	e->v.workload = wname ? sp_putn(&sp, wname, wlen) : NULL;
	e->v.ip = p->n_ips ? sp_put(&sp, p->ips[0]) : NULL;
	e->v.containers = e->c;
	for (size_t i = 0; i < p->n_containers; i++) {
		struct k8s_container_view *c = &e->c[e->v.n_containers];

		if (!p->containers[i].id || !p->containers[i].name)
			continue;
		c->id = sp_put(&sp, strip_scheme(p->containers[i].id));
		c->name = sp_put(&sp, p->containers[i].name);
		e->v.n_containers++;
	}
	return e;
}

int k8s_store_upsert_pod(struct k8s_store *st, const struct k8s_pod_obj *p)
{
	size_t n_ips = p->n_ips < K8S_MAX_IPS ? p->n_ips : K8S_MAX_IPS;
	struct wobj *o;
	struct spack sp;
	const char *name, *ns;
	int rc;

	if (!p->meta.uid || !*p->meta.uid)
		return -EINVAL;
	if (p->host_network || p->finished)
		n_ips = 0;
	o = wobj_new(K8S_POD, &p->meta, slen(p->meta.name) + slen(p->meta.namespace_), n_ips);
	if (!o)
		return -ENOMEM;
	sp.p = o->strings;
	sp.end = o->strings + slen(p->meta.name) + slen(p->meta.namespace_);
	name = sp_put(&sp, p->meta.name);
	ns = sp_put(&sp, p->meta.namespace_);
	o->pub = pod_build(p);
	if (!o->pub)
		return abandon_obj(st, o, -ENOMEM);
	rcu_read_lock();
	for (size_t i = 0; i < n_ips; i++)
		wobj_add_src(st, o, p->ips[i], SRC_POD, name, ns, NULL);
	rc = install_obj(st, o);
	rcu_read_unlock();
	reclaim(st);
	return rc;
}

/* ---- Services and EndpointSlices */

int k8s_store_upsert_service(struct k8s_store *st, const struct k8s_service_obj *svc)
{
	size_t n_ips = svc->n_ips < K8S_MAX_IPS ? svc->n_ips : K8S_MAX_IPS;
	size_t strs = slen(svc->meta.name) + slen(svc->meta.namespace_);
	struct wobj *o;
	struct spack sp;
	const char *name, *ns;
	int rc;

	if (!svc->meta.name || !*svc->meta.name)
		return -EINVAL;
	o = wobj_new(K8S_SERVICE, &svc->meta, strs, n_ips);
	if (!o)
		return -ENOMEM;
	sp.p = o->strings;
	sp.end = o->strings + strs;
	name = sp_put(&sp, svc->meta.name);
	ns = sp_put(&sp, svc->meta.namespace_);
	rcu_read_lock();
	for (size_t i = 0; i < n_ips; i++)
		wobj_add_src(st, o, svc->cluster_ips[i], SRC_SERVICE, NULL, ns, name);
	rc = install_obj(st, o);
	rcu_read_unlock();
	reclaim(st);
	return rc;
}

static size_t slice_strbytes(const struct k8s_slice_obj *sl, size_t *n_src)
{
	size_t strs = slen(sl->meta.namespace_) + slen(sl->service);

	*n_src = 0;
	for (size_t i = 0; i < sl->n_endpoints; i++) {
		const struct k8s_endpoint_obj *ep = &sl->endpoints[i];

		strs += slen(ep->pod_name);
		if (ep->pod_namespace && (!sl->meta.namespace_ ||
					  strcmp(ep->pod_namespace, sl->meta.namespace_)))
			strs += slen(ep->pod_namespace);
		*n_src += ep->n_addrs < K8S_MAX_IPS ? ep->n_addrs : K8S_MAX_IPS;
	}
	return strs;
}

int k8s_store_upsert_slice(struct k8s_store *st, const struct k8s_slice_obj *sl)
{
	size_t n_src, strs = slice_strbytes(sl, &n_src);
	size_t n_ports = sl->n_ports < K8S_MAX_PORTS ? sl->n_ports : K8S_MAX_PORTS;
	struct wobj *o;
	struct spack sp;
	const char *ns, *svc;
	int rc;

	if (!sl->meta.name || !*sl->meta.name)
		return -EINVAL;
	o = wobj_new(K8S_SLICE, &sl->meta, strs, n_src);
	if (!o)
		return -ENOMEM;
	memcpy(o->ports, sl->ports, n_ports * sizeof(uint16_t));
	sp.p = o->strings;
	sp.end = o->strings + strs;
	ns = sp_put(&sp, sl->meta.namespace_);
	svc = sp_put(&sp, sl->service);
	rcu_read_lock();
	for (size_t i = 0; i < sl->n_endpoints; i++) {
		const struct k8s_endpoint_obj *ep = &sl->endpoints[i];
		const char *pod = sp_put(&sp, ep->pod_name), *pns = ns;
		size_t na = ep->n_addrs < K8S_MAX_IPS ? ep->n_addrs : K8S_MAX_IPS;

		if (ep->pod_namespace && (!ns || strcmp(ep->pod_namespace, ns)))
			pns = sp_put(&sp, ep->pod_namespace);
		for (size_t j = 0; j < na; j++) {
			size_t k = o->n_src;

			wobj_add_src(st, o, ep->addrs[j], SRC_SLICE, pod, pns, svc);
			if (o->n_src > k)
				o->src[k].n_ports = (uint16_t)n_ports;
		}
	}
	rc = install_obj(st, o);
	rcu_read_unlock();
	reclaim(st);
	return rc;
}

/* ---- delete, relist, count */

static void delete_obj(struct k8s_store *st, enum k8s_kind kind, const struct k8s_meta *m)
{
	char *key = obj_key(kind, m);
	struct wobj *o;

	if (!key)
		return;
	rcu_read_lock();
	o = find_obj(st, kind, key);
	if (o) {
		drop_obj(st, o);
		flush_dirty(st);
	}
	rcu_read_unlock();
	reclaim(st);
	free(key);
}

void k8s_store_delete_pod(struct k8s_store *st, const struct k8s_meta *m)
{
	delete_obj(st, K8S_POD, m);
}

void k8s_store_delete_service(struct k8s_store *st, const struct k8s_meta *m)
{
	delete_obj(st, K8S_SERVICE, m);
}

void k8s_store_delete_slice(struct k8s_store *st, const struct k8s_meta *m)
{
	delete_obj(st, K8S_SLICE, m);
}

void k8s_store_relist_begin(struct k8s_store *st, enum k8s_kind kind)
{
	if ((unsigned)kind < K8S_KIND_COUNT)
		st->gen[kind]++;
}

void k8s_store_relist_end(struct k8s_store *st, enum k8s_kind kind)
{
	struct kmap *m;

	if ((unsigned)kind >= K8S_KIND_COUNT)
		return;
	m = &st->objs[kind];
	rcu_read_lock();
	for (size_t i = 0; i < m->nb; i++) {
		struct kmap_node *n = m->b[i], *next;

		for (; n; n = next) {
			struct wobj *o = caa_container_of(n, struct wobj, node);

			next = n->next;
			if (o->gen != st->gen[kind])
				drop_obj(st, o);
		}
	}
	flush_dirty(st);
	rcu_read_unlock();
	reclaim(st);
}

size_t k8s_store_count(struct k8s_store *st, enum k8s_kind kind)
{
	return st && (unsigned)kind < K8S_KIND_COUNT ? st->objs[kind].n : 0;
}
