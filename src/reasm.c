/* reasm.c - byte-position reassembler (skeleton; implementation in progress). */
#include <errno.h>
#include <string.h>
#include "reasm.h"

void reasm_init(struct reasm *r, const struct reasm_limits *lim) { memset(r, 0, sizeof(*r)); if (lim) r->lim = *lim; }
void reasm_free(struct reasm *r) { }
int reasm_add(struct reasm *r, uint64_t pos, const uint8_t *data, uint32_t cap,
	      uint64_t len, uint64_t ts_ns) { return -ENOSYS; }
void reasm_add_lost(struct reasm *r, uint64_t start, uint64_t len, uint64_t ts_ns) { }
void reasm_flush_to(struct reasm *r, uint64_t pos) { }
void reasm_peek(struct reasm *r, struct reasm_view *v) { memset(v, 0, sizeof(*v)); v->pos = r->cursor; }
void reasm_consume(struct reasm *r, uint64_t n) { }
uint64_t reasm_ts_at(const struct reasm *r, uint64_t pos) { return r->last_ts; }
bool reasm_waiting(const struct reasm *r) { return false; }
uint64_t reasm_next_pos(const struct reasm *r) { return r->cursor; }
size_t reasm_buffered(const struct reasm *r) { return 0; }
