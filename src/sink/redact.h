/*
 * redact.h - removal of secrets from a finished record (DESIGN §4
 * filtering.redaction).
 *
 * Header values whose name is in cfg->redact_headers (case-insensitive), and
 * the values of JSON keys, form fields, query parameters (and URL userinfo)
 * whose names contain one of cfg->redact_body_patterns are replaced with
 * "[REDACTED]".  Runs in the shard that owns the record; no shared state.
 */
#ifndef HT_REDACT_H
#define HT_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "base/record.h"

#define HT_REDACTED "[REDACTED]"

/* Redact r in place; sets HT_RF_REDACTED if anything was replaced.  On
 * allocation failure the affected field is emptied rather than left clear. */
void ht_redact(const struct ht_config *c, struct ht_record *r);

/* True if name[0..len) contains one of the patterns, comparing only letters
 * and digits, case-insensitively ("X-Api-Key" matches "api_key"). */
bool ht_redact_name_matches(const struct ht_strlist *patterns, const char *name, size_t len);

#endif
