/* output.c - output file (skeleton). */
#include "output.h"

#include <stdio.h>

struct output *output_open(const struct ht_config *c, struct ht_stats *st, char *err,
			   size_t errlen)
{
	snprintf(err, errlen, "output: not implemented yet");
	return NULL;
}

int output_write_batch(struct output *o, const char *data, size_t len, uint32_t n_records)
{
	return -1;
}

void output_set_retry_ms(struct output *o, uint32_t retry_ms)
{
}

void output_close(struct output *o)
{
}
