/*
 * links.c - see links.h.  Up to LINKS_THREADS threads each destroy every
 * LINKS_THREADS-th link of the array; the caller's thread takes part too.
 */
#include <pthread.h>
#include <stdbool.h>

#include <bpf/libbpf.h>

#include "links.h"

#define LINKS_THREADS 32

struct links_part {
	struct bpf_link **v;
	size_t n, first, step;
};

static void *links_part_run(void *arg)
{
	const struct links_part *p = arg;

	for (size_t i = p->first; i < p->n; i += p->step) {
		bpf_link__destroy(p->v[i]); /* NULL is a no-op */
		p->v[i] = NULL;
	}
	return NULL;
}

void links_destroy(struct bpf_link **v, size_t n)
{
	size_t step = n < LINKS_THREADS ? n : LINKS_THREADS;
	struct links_part part[LINKS_THREADS];
	pthread_t th[LINKS_THREADS];
	bool started[LINKS_THREADS] = { false };

	if (!n)
		return;
	for (size_t t = 0; t < step; t++) {
		part[t] = (struct links_part){ .v = v, .n = n, .first = t, .step = step };
		/* part 0 runs on the caller's thread, after the others started */
		if (t && !pthread_create(&th[t], NULL, links_part_run, &part[t]))
			started[t] = true;
	}
	links_part_run(&part[0]);
	for (size_t t = 1; t < step; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			links_part_run(&part[t]); /* no thread: do its share here */
	}
}
