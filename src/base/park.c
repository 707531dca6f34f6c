/* park.c - spinning, parking and waking; see park.h. */
#include "park.h"

#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

uint64_t ht_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* No sched_yield(): on a loaded node it turns every idle moment into a
 * context switch (measured: a fifth of the tracer's CPU under wrk). */
void relax(uint32_t *spins)
{
	uint32_t k = ++*spins;

	if (k < 64) {
		cpu_relax();
	} else {
		uint32_t shift = (k - 64) / 16;
		struct timespec ts = { 0, 50000L << (shift > 4 ? 4 : shift) };

		nanosleep(&ts, NULL);
	}
}

void unpark(struct parker *pk)
{
	/* order the producer's commit before reading the flag (StoreLoad) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&pk->parked, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&pk->parked, 0, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &pk->parked, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void park(struct parker *pk, uint64_t timeout_ns, bool (*has_work)(void *), void *arg)
{
	struct timespec ts = { (time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull) };

	__atomic_store_n(&pk->parked, 1, __ATOMIC_SEQ_CST);
	if (!has_work(arg))
		syscall(SYS_futex, &pk->parked, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0);
	__atomic_store_n(&pk->parked, 0, __ATOMIC_SEQ_CST);
}
