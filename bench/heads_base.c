/*
 * heads_base.c - bench_heads.c's loop over another tree's parser: compiled
 * against that tree's headers with bench/heads_rename.h forced in, and
 * linked with that tree's httpp.c built the same way (bench/heads.mk).
 */
#define HEADS_RUN base_run_static
#include "heads_run.h"

long run_base(const uint8_t *buf, size_t len, int kind, uint64_t *sum)
{
	return base_run_static(buf, len, kind, sum);
}
