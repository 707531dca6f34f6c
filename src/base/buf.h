/* buf.h - a growable byte buffer for encoders and batches. */
#ifndef HT_BUF_H
#define HT_BUF_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ht_buf {
	char *p;
	size_t len, cap;
};

static inline int ht_buf_reserve(struct ht_buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->len + extra <= b->cap)
		return 0;
	while (cap < b->len + extra)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static inline int ht_buf_put(struct ht_buf *b, const void *p, size_t n)
{
	if (ht_buf_reserve(b, n))
		return -ENOMEM;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static inline int ht_buf_putc(struct ht_buf *b, char c)
{
	return ht_buf_put(b, &c, 1);
}

static inline int ht_buf_puts(struct ht_buf *b, const char *s)
{
	return ht_buf_put(b, s, strlen(s));
}

static inline void ht_buf_free(struct ht_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

#endif
