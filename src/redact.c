/* redact.c - secrets out of records; see redact.h. */
#include "redact.h"

void ht_redact(const struct ht_config *c, struct ht_record *r)
{
	(void)c; (void)r;
}

bool ht_redact_name_matches(const struct ht_strlist *patterns, const char *name, size_t len)
{
	(void)patterns; (void)name; (void)len;
	return false;
}
