/*
 * filter.h - user-space filters and sampling (DESIGN §1, §4 filtering.*).
 *
 * Applied by a shard to each finished record, after the in-kernel filters.
 * Reads only the immutable struct ht_config (RCU-protected by the caller)
 * and the record; safe from any number of threads.
 */
#ifndef HT_FILTER_H
#define HT_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "base/record.h"
#include "base/stats.h"

/*
 * Returns true if the record must be dropped and sets *reason to the
 * HT_C_FILTERED_* counter to bump.  Order: excludeIPs (local or remote
 * address), excludeNamespaces, excludePods, excludePaths, sampling.
 * Namespace and pod rules match the local or the remote pod (DESIGN §7:
 * namespace_ / pod, remote_namespace / remote_pod) and only when the record
 * has that metadata.
 */
bool ht_filter_should_drop(const struct ht_config *c, const struct ht_record *r,
			   enum ht_counter *reason);

/* Sampling decision alone: true to keep.  Same key, same rate: same answer. */
bool ht_filter_sample_keep(double rate, uint64_t sample_key);

/* True if address a is in the excludeIPs list (an IPv4-mapped IPv6 address
 * also matches IPv4 rules); never for NULL or family 0 (unknown). */
bool ht_filter_ip_excluded(const struct ht_config *c, const struct ht_addr *a);

#endif
