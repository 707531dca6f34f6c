/*
 * enrich.h - the Kubernetes fields of a finished record (DESIGN §2, §7).
 *
 * A shard calls enrich_record on each record it finishes, with what the
 * cgroup file says of the record's process (meta.h) and the cluster
 * objects of the store (k8s_store.h), inside its RCU read-side section.
 * It fills, where known:
 *   container_id                  from the cgroup path
 *   node                          the node name given (config or env)
 *   pod, namespace, workload_kind,
 *   workload, container           the pod whose UID the cgroup path names
 *   remote_pod, remote_namespace,
 *   remote_service                the peer address: a Service clusterIP, an
 *                                 EndpointSlice endpoint, a known pod's IP
 * Nothing waits: a pod the store does not hold yet leaves its fields empty
 * and the caller counts the record (ENRICH_POD_UNKNOWN).  Costs one hash
 * lookup per table and no allocation beyond the record's own arena.
 */
#ifndef HT_ENRICH_H
#define HT_ENRICH_H

#include "base/record.h"
#include "k8s_store.h"
#include "meta.h"

enum enrich_outcome {
	ENRICH_NOT_A_POD,   /* the process is in no pod, or nothing is known of it */
	ENRICH_POD,         /* its pod was found */
	ENRICH_POD_UNKNOWN, /* in a pod that the store does not hold (yet) */
};

/* mi may be NULL (no local lookup), st NULL (no API), node NULL or "". */
enum enrich_outcome enrich_record(struct ht_record *r, const struct meta_info *mi,
				  struct k8s_store *st, const char *node);

#endif
