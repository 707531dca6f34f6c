/* enrich.c - the Kubernetes fields of a record; see enrich.h. */
#include "enrich.h"

#include <string.h>

/* Set an empty field from a C string (NULL or "" leaves it empty). */
static void put(struct ht_record *r, struct ht_str *dst, const char *s)
{
	if (s && *s && !dst->len)
		ht_record_set(r, dst, s, strlen(s)); /* out of memory: left empty */
}

static void enrich_peer(struct ht_record *r, struct k8s_store *st)
{
	struct k8s_peer_view pv;

	if (!r->remote.family || !k8s_peer_by_addr(st, &r->remote, r->remote_port, &pv))
		return;
	put(r, &r->remote_pod, pv.pod);
	put(r, &r->remote_namespace, pv.namespace_);
	put(r, &r->remote_service, pv.service);
}

enum enrich_outcome enrich_record(struct ht_record *r, const struct meta_info *mi,
				  struct k8s_store *st, const char *node)
{
	const struct k8s_pod_view *pod;

	if (mi)
		put(r, &r->container_id, mi->container_id);
	put(r, &r->node, node);
	if (!st)
		return ENRICH_NOT_A_POD; /* no API: nothing to wait for */
	enrich_peer(r, st);
	if (!mi || !*mi->pod_uid)
		return ENRICH_NOT_A_POD;
	pod = k8s_pod_by_uid(st, mi->pod_uid);
	if (!pod)
		return ENRICH_POD_UNKNOWN;
	put(r, &r->pod, pod->name);
	put(r, &r->namespace_, pod->namespace_);
	put(r, &r->workload_kind, pod->workload_kind);
	put(r, &r->workload, pod->workload);
	if (*mi->container_id)
		put(r, &r->container, k8s_container_name(pod, mi->container_id));
	return ENRICH_POD;
}
