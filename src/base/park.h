/*
 * park.h - how an idle thread waits: a short spin, then a futex.
 *
 * Parking: an idle consumer sleeps on a futex instead of polling, and its
 * producers wake it.  The consumer announces itself parked, re-checks its
 * input, then waits (with a timeout, for sweeps and flushes); a producer
 * that commits an entry and sees the flag clears it and wakes the sleeper.
 * Seq-cst on both sides: either the consumer's re-check sees the entry or
 * the producer sees the flag.
 */
#ifndef HT_PARK_H
#define HT_PARK_H

#include <stdbool.h>
#include <stdint.h>

struct parker {
	int parked __attribute__((aligned(64)));
};

/* One spin-wait hint to the CPU (PAUSE on x86, YIELD on arm64). */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Wake the consumer parked on pk, if it is parked. */
void unpark(struct parker *pk);

/* Sleep up to timeout_ns unless has_work(arg) says there is input. */
void park(struct parker *pk, uint64_t timeout_ns, bool (*has_work)(void *), void *arg);

/* Idle backoff for a producer waiting on a full queue: spin briefly, then
 * sleep 50 us doubling to 800 us.  *spins counts the calls. */
void relax(uint32_t *spins);

/* CLOCK_MONOTONIC in ns. */
uint64_t ht_now_ns(void);

#endif
