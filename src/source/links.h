/*
 * links.h - detaching many BPF links at once.
 *
 * Releasing a tracepoint's or a uprobe's link waits for the kernel's RCU
 * grace periods (about 70 ms each on the dev VM), so destroying the
 * tracer's twenty links one after another made every shutdown take more
 * than a second.  links_destroy() releases them from parallel threads, so
 * the waits overlap.
 */
#ifndef HT_SOURCE_LINKS_H
#define HT_SOURCE_LINKS_H

#include <stddef.h>

struct bpf_link;

/* Destroy v[0..n) (NULL entries skipped) and set them to NULL; returns
 * when every link is gone.  Falls back to one at a time when no thread
 * can be started. */
void links_destroy(struct bpf_link **v, size_t n);

#endif
