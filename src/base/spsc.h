/*
 * spsc.h - bounded single-producer/single-consumer queues.
 *
 * spsc_bytes: variable-length entries copied into a power-of-two byte ring
 * (one per reader x shard pair): the producer reserves, fills and commits;
 * the consumer peeks, uses in place and releases.  No allocation per entry.
 * Entries are 8-byte aligned with a 8-byte header; an entry that would wrap
 * leaves a skip marker and starts again at offset 0.
 *
 * spsc_ptr: a ring of pointers (shard -> writer).
 *
 * Producer and consumer indexes sit on separate cache lines; each side keeps
 * a cached copy of the other's index and reloads it only when the ring looks
 * full/empty, so the common case touches no shared line.
 */
#ifndef HT_SPSC_H
#define HT_SPSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define SPSC_CACHELINE 64
#define SPSC_SKIP 0xffffffffu

struct spsc_bytes {
	/* consumer side */
	uint64_t head __attribute__((aligned(SPSC_CACHELINE))); /* bytes consumed */
	uint64_t tail_cache;
	/* producer side */
	uint64_t tail __attribute__((aligned(SPSC_CACHELINE))); /* bytes produced */
	uint64_t head_cache;
	uint64_t pending;     /* reserved size (producer only) */
	/* read-only after init */
	uint8_t *buf __attribute__((aligned(SPSC_CACHELINE)));
	uint64_t mask;
};

static inline int spsc_bytes_init(struct spsc_bytes *q, size_t size_pow2)
{
	q->head = q->tail = q->tail_cache = q->head_cache = q->pending = 0;
	q->buf = aligned_alloc(SPSC_CACHELINE, size_pow2);
	q->mask = size_pow2 - 1;
	return q->buf ? 0 : -1;
}

static inline void spsc_bytes_free(struct spsc_bytes *q)
{
	free(q->buf);
	q->buf = NULL;
}

static inline size_t spsc_round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Producer: space for len bytes, or NULL if the ring is full now. */
static inline void *spsc_bytes_reserve(struct spsc_bytes *q, uint32_t len)
{
	uint64_t size = q->mask + 1;
	uint64_t need = 8 + spsc_round8(len);
	uint64_t off = q->tail & q->mask;
	uint64_t skip = 0;

	if (need > size / 2)
		return NULL;
	if (off + need > size)
		skip = size - off; /* wrap: skip to the start */
	if (q->tail + skip + need - q->head_cache > size) {
		q->head_cache = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
		if (q->tail + skip + need - q->head_cache > size)
			return NULL;
	}
	if (skip) {
		/* the skip marker becomes visible with the entry's commit */
		*(uint32_t *)(q->buf + off) = SPSC_SKIP;
		off = 0;
	}
	*(uint32_t *)(q->buf + off) = len;
	q->pending = skip + need; /* tail moves only in commit, atomically */
	return q->buf + off + 8;
}

static inline void spsc_bytes_commit(struct spsc_bytes *q)
{
	__atomic_store_n(&q->tail, q->tail + q->pending, __ATOMIC_RELEASE);
	q->pending = 0;
}

/* Consumer: the next entry (len in *len) or NULL if empty. */
static inline void *spsc_bytes_peek(struct spsc_bytes *q, uint32_t *len)
{
	for (;;) {
		uint64_t off;
		uint32_t l;

		if (q->head == q->tail_cache) {
			q->tail_cache = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
			if (q->head == q->tail_cache)
				return NULL;
		}
		off = q->head & q->mask;
		l = *(uint32_t *)(q->buf + off);
		if (l == SPSC_SKIP) {
			__atomic_store_n(&q->head, q->head + (q->mask + 1) - off, __ATOMIC_RELEASE);
			continue;
		}
		*len = l;
		return q->buf + off + 8;
	}
}

static inline void spsc_bytes_release(struct spsc_bytes *q, uint32_t len)
{
	__atomic_store_n(&q->head, q->head + 8 + spsc_round8(len), __ATOMIC_RELEASE);
}

static inline uint64_t spsc_bytes_used(const struct spsc_bytes *q)
{
	return __atomic_load_n(&q->tail, __ATOMIC_RELAXED) - __atomic_load_n(&q->head, __ATOMIC_RELAXED);
}

struct spsc_ptr {
	uint64_t head __attribute__((aligned(SPSC_CACHELINE)));
	uint64_t tail_cache;
	uint64_t tail __attribute__((aligned(SPSC_CACHELINE)));
	uint64_t head_cache;
	void **slots __attribute__((aligned(SPSC_CACHELINE)));
	uint64_t mask;
};

static inline int spsc_ptr_init(struct spsc_ptr *q, size_t n_pow2)
{
	q->head = q->tail = q->tail_cache = q->head_cache = 0;
	q->slots = calloc(n_pow2, sizeof(*q->slots));
	q->mask = n_pow2 - 1;
	return q->slots ? 0 : -1;
}

static inline void spsc_ptr_free(struct spsc_ptr *q)
{
	free(q->slots);
	q->slots = NULL;
}

static inline bool spsc_ptr_push(struct spsc_ptr *q, void *p)
{
	if (q->tail - q->head_cache > q->mask) {
		q->head_cache = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
		if (q->tail - q->head_cache > q->mask)
			return false;
	}
	q->slots[q->tail & q->mask] = p;
	__atomic_store_n(&q->tail, q->tail + 1, __ATOMIC_RELEASE);
	return true;
}

static inline void *spsc_ptr_pop(struct spsc_ptr *q)
{
	void *p;

	if (q->head == q->tail_cache) {
		q->tail_cache = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
		if (q->head == q->tail_cache)
			return NULL;
	}
	p = q->slots[q->head & q->mask];
	__atomic_store_n(&q->head, q->head + 1, __ATOMIC_RELEASE);
	return p;
}

static inline uint64_t spsc_ptr_used(const struct spsc_ptr *q)
{
	return __atomic_load_n(&q->tail, __ATOMIC_RELAXED) - __atomic_load_n(&q->head, __ATOMIC_RELAXED);
}

#endif
