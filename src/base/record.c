/* record.c - arena-backed transaction records; see record.h. */
#include "record.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "swar.h"

const char *const ht_record_flag_names[HT_RF_COUNT] = {
	"req_body_truncated", "resp_body_truncated", "gap", "incomplete", "no_request",
	"redacted", "framing_error", "header_truncated", "upgrade", "sampled_out",
};

#define HT_ARENA_MIN 512u
#define HT_ARENA_MAX (64u << 20) /* one record never holds more than 64 MiB */

/*
 * Freed records are kept per thread (a shard builds, emits and frees its
 * own) with their arena and header arrays, and handed out again zeroed but
 * for those buffers: a record then costs no malloc/free pair per buffer.
 * A thread's kept records are freed when it exits (a pthread key's
 * destructor).  Arenas that grew past POOL_ARENA_MAX are not kept.
 */
#define POOL_MAX 64
#define POOL_ARENA_MAX (32u << 10)

struct pool {
	struct ht_record *head;
	unsigned n;
	bool keyed; /* the thread's destructor is registered */
};

static __thread struct pool pool;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static bool pool_key_ok;

/* Under AddressSanitizer a kept record's buffers (arena, header arrays)
 * are poisoned, so a string used after ht_record_free is still reported.
 * The struct itself is not: LeakSanitizer does not look for pointers in
 * poisoned memory, and the pool's records must stay reachable. */
#if defined(__SANITIZE_ADDRESS__)
#define HT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HT_ASAN 1
#endif
#endif
#ifdef HT_ASAN
#include <sanitizer/asan_interface.h>

static void poison(void *p, size_t n, bool on)
{
	if (p && on)
		ASAN_POISON_MEMORY_REGION(p, n);
	else if (p)
		ASAN_UNPOISON_MEMORY_REGION(p, n);
}

static void pool_poison(struct ht_record *r, bool on)
{
	poison(r->arena, r->arena_cap, on);
	poison(r->req_headers.v, r->req_headers.cap * sizeof(struct ht_kv), on);
	poison(r->resp_headers.v, r->resp_headers.cap * sizeof(struct ht_kv), on);
}
#else
static inline void pool_poison(struct ht_record *r, bool on)
{
	(void)r;
	(void)on;
}
#endif

static void record_release(struct ht_record *r)
{
	free(r->arena);
	free(r->req_headers.v);
	free(r->resp_headers.v);
	free(r);
}

static void pool_drain(void *arg)
{
	struct pool *p = arg;

	while (p->head) {
		struct ht_record *r = p->head;

		pool_poison(r, false);
		p->head = r->next;
		record_release(r);
	}
	p->n = 0;
	p->keyed = false; /* a record freed after this registers the key again */
}

/* The exiting thread's kept records (the main thread's key destructor does
 * not run at exit), so that leak checkers see nothing left. */
__attribute__((destructor)) static void pool_exit(void)
{
	pool_drain(&pool);
}

static void pool_key_init(void)
{
	pool_key_ok = pthread_key_create(&pool_key, pool_drain) == 0;
}

struct ht_record *ht_record_new(void)
{
	struct ht_record *r = pool.head;
	char *arena;
	struct ht_headers q, s;
	uint32_t cap;

	if (!r)
		return calloc(1, sizeof(struct ht_record));
	pool_poison(r, false);
	pool.head = r->next;
	pool.n--;
	arena = r->arena;
	cap = r->arena_cap;
	q = r->req_headers;
	s = r->resp_headers;
	memset(r, 0, sizeof(*r));
	r->arena = arena;
	r->arena_cap = cap;
	r->req_headers.v = q.v;
	r->req_headers.cap = q.cap;
	r->resp_headers.v = s.v;
	r->resp_headers.cap = s.cap;
	return r;
}

void ht_record_free(struct ht_record *r)
{
	if (!r)
		return;
	if (!pool.keyed) {
		pthread_once(&pool_once, pool_key_init);
		pool.keyed = pool_key_ok && pthread_setspecific(pool_key, &pool) == 0;
	}
	if (!pool.keyed || pool.n >= POOL_MAX || r->arena_cap > POOL_ARENA_MAX) {
		record_release(r);
		return;
	}
	r->next = pool.head;
	pool.head = r;
	pool.n++;
	pool_poison(r, true);
}

static __attribute__((noinline)) int arena_grow(struct ht_record *r, size_t need)
{
	size_t cap = r->arena_cap ? r->arena_cap : HT_ARENA_MIN;
	char *p;

	if (need > HT_ARENA_MAX)
		return -ENOMEM;
	while (cap < need)
		cap *= 2;
	if (cap > HT_ARENA_MAX)
		cap = HT_ARENA_MAX;
	p = realloc(r->arena, cap);
	if (!p)
		return -ENOMEM;
	r->arena = p;
	r->arena_cap = (uint32_t)cap;
	return 0;
}

/* Inlined: nearly every call finds the room already there (the correlator
 * reserves a message's head and body at once). */
static inline int arena_reserve(struct ht_record *r, size_t extra)
{
	size_t need = (size_t)r->arena_len + extra;

	return need <= r->arena_cap ? 0 : arena_grow(r, need);
}

int ht_record_reserve(struct ht_record *r, size_t extra)
{
	return arena_reserve(r, extra);
}

struct ht_str ht_record_put(struct ht_record *r, const void *p, size_t len)
{
	struct ht_str s = { 0, 0 };

	if (len == 0 || arena_reserve(r, len))
		return s;
	memcpy(r->arena + r->arena_len, p, len);
	s.off = r->arena_len;
	s.len = (uint32_t)len;
	r->arena_len += (uint32_t)len;
	return s;
}

int ht_record_set(struct ht_record *r, struct ht_str *dst, const void *p, size_t len)
{
	struct ht_str s = ht_record_put(r, p, len);

	if (len && !s.len)
		return -ENOMEM;
	*dst = s;
	return 0;
}

int ht_record_body_append(struct ht_record *r, struct ht_str *body, const void *p, size_t len)
{
	if (!len)
		return 0;
	if (body->len && body->off + body->len == r->arena_len) {
		if (arena_reserve(r, len))
			return -ENOMEM;
		memcpy(r->arena + r->arena_len, p, len);
		r->arena_len += (uint32_t)len;
		body->len += (uint32_t)len;
		return 0;
	}
	if (body->len) { /* not at the end: move the old part first */
		struct ht_str old = *body;
		struct ht_str moved;

		if (arena_reserve(r, old.len + len))
			return -ENOMEM;
		moved = ht_record_put(r, r->arena + old.off, old.len);
		*body = moved;
		return ht_record_body_append(r, body, p, len);
	}
	return ht_record_set(r, body, p, len);
}

bool ht_str_eq(const struct ht_record *r, struct ht_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(ht_str_ptr(r, s), lit, n) == 0;
}

/* Lengths first: most names differ in length, and then no bytes are compared. */
static struct ht_kv *find_header_n(struct ht_record *r, struct ht_headers *h, const char *lname,
				   size_t n)
{
	for (uint32_t i = 0; i < h->n; i++) {
		struct ht_str s = h->v[i].name;

		if (s.len == n && memcmp(ht_str_ptr(r, s), lname, n) == 0)
			return &h->v[i];
	}
	return NULL;
}

struct ht_kv *ht_record_find_header(struct ht_record *r, struct ht_headers *h, const char *lname)
{
	return find_header_n(r, h, lname, strlen(lname));
}

static int headers_grow(struct ht_headers *h)
{
	uint32_t cap = h->cap ? h->cap * 2 : 16;
	struct ht_kv *v;

	if (h->n < h->cap)
		return 0;
	v = realloc(h->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	h->cap = cap;
	return 0;
}

/* x with its bytes 'A'..'Z' lower-cased (ASCII only, like tolower in "C"). */
static inline uint64_t lower8(uint64_t x)
{
	uint64_t h = x & ~HIGHS;                          /* each byte's low 7 bits */
	uint64_t ge_a = h + ONES * (0x80 - 'A');          /* high bit: >= 'A' */
	uint64_t gt_z = h + ONES * (0x80 - 'Z' - 1);      /* high bit: > 'Z' */

	return x | ((ge_a & ~gt_z & ~x & HIGHS) >> 2);    /* 0x80 >> 2 == 0x20 */
}

/* Lower-case name[0..n) into dst: 8 bytes at a time, the last word overlapping. */
static void copy_lower(char *dst, const char *name, size_t n)
{
	uint64_t x;
	size_t i = 0;

	if (n < 8) {
		for (; i < n; i++) {
			char c = name[i];

			dst[i] = c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
		}
		return;
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, name + i, 8);
		x = lower8(x);
		memcpy(dst + i, &x, 8);
	}
	if (i < n) {
		memcpy(&x, name + n - 8, 8);
		x = lower8(x);
		memcpy(dst + n - 8, &x, 8);
	}
}

/* The bit of ht_headers.seen for a lower-case name of n >= 1 bytes. */
static inline uint64_t seen_bit(const char *lname, size_t n)
{
	unsigned h = (unsigned)n * 7 + (unsigned char)lname[0] * 3 + (unsigned char)lname[n - 1];

	return 1ull << (h & 63);
}

/*
 * The name is lower-cased straight into the arena's free space and the
 * value copied after it, with one reservation for both; the bytes are only
 * committed (arena_len) when the header is new.  Most names are new: the
 * `seen` bits say so without comparing them with the kept ones.
 */
int ht_record_add_header(struct ht_record *r, struct ht_headers *h, const char *name,
			 size_t name_len, const char *value, size_t value_len)
{
	struct ht_kv *kv = NULL;
	char *lname;
	uint64_t bit;

	if (name_len == 0 || name_len >= 256)
		return -EINVAL;
	if (arena_reserve(r, name_len + value_len))
		return -ENOMEM;
	lname = r->arena + r->arena_len;
	copy_lower(lname, name, name_len);
	bit = seen_bit(lname, name_len);
	if (h->seen & bit)
		kv = find_header_n(r, h, lname, name_len);
	if (kv) {
		struct ht_str joined = kv->value;

		if (ht_record_body_append(r, &joined, ", ", 2) ||
		    ht_record_body_append(r, &joined, value, value_len))
			return -ENOMEM;
		kv->value = joined;
		return 0;
	}
	if (headers_grow(h))
		return -ENOMEM;
	h->seen |= bit;
	kv = &h->v[h->n++];
	kv->name.off = r->arena_len;
	kv->name.len = (uint32_t)name_len;
	kv->value.off = value_len ? r->arena_len + (uint32_t)name_len : 0;
	kv->value.len = (uint32_t)value_len;
	if (value_len)
		memcpy(lname + name_len, value, value_len);
	r->arena_len += (uint32_t)(name_len + value_len);
	return 0;
}
