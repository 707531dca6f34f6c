/*
 * k8s_store.h - the cluster objects a node needs, published with RCU (liburcu).
 *
 * One writer (the API client thread, or a test) applies decoded objects:
 * pods of this node, all Services, all EndpointSlices.  Readers (shard
 * threads) look up inside rcu_read_lock() with no lock and no allocation.
 * Every published entry is immutable: an update builds a new entry and
 * swaps it into a liburcu lock-free hash table (cds_lfht_add_replace); the
 * old one is freed after a grace period (call_rcu).  Threads that read or
 * write must be registered with liburcu (rcu_register_thread).
 *
 * Published tables:
 *   pods   pod uid -> struct k8s_pod_view (+ its containers)
 *   peers  address -> who owns it: a Service clusterIP, EndpointSlice
 *          endpoints (pod + the slice's Service, with the slice's ports),
 *          the IP of a known pod.  Rebuilt per address when one of its
 *          sources changes, from the writer's private index.
 * Owner resolution happens when a pod is applied: a controller ReplicaSet
 * whose name ends in "-<pod-template-hash>" is shown as its Deployment.
 *
 * Writer calls are not thread safe against each other (one writer).
 */
#ifndef HT_K8S_STORE_H
#define HT_K8S_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"

enum k8s_kind { K8S_POD, K8S_SERVICE, K8S_SLICE, K8S_KIND_COUNT };

/* "pods", "services", "endpointslices" (the API resource names). */
const char *k8s_kind_name(enum k8s_kind kind);

struct k8s_store;
struct k8s_store *k8s_store_new(void);
/* Frees everything; no reader may be inside the store any more. */
void k8s_store_free(struct k8s_store *st);

/* ---- reader side (data path) */

struct k8s_container_view {
	const char *id;                   /* 64 hex digits, no "containerd://" */
	const char *name;
};

struct k8s_pod_view {                 /* immutable once published */
	const char *uid, *name, *namespace_, *node;
	const char *workload_kind, *workload;  /* owner; ReplicaSet+pod-template-hash -> Deployment; NULL if none */
	const char *ip;                   /* status.podIP (text); NULL if none yet */
	size_t n_containers;
	const struct k8s_container_view *containers;
};

/* Inside rcu_read_lock(); the pointers stay valid until rcu_read_unlock().
 * NULL if unknown. */
const struct k8s_pod_view *k8s_pod_by_uid(struct k8s_store *st, const char *uid);
/* The container's name in that pod, for a 64-hex container id (as found in
 * the cgroup path; status.containerStatuses[].containerID is
 * "containerd://<id>", "cri-o://<id>", "docker://<id>"); NULL if unknown. */
const char *k8s_container_name(const struct k8s_pod_view *pod, const char *container_id);

struct k8s_peer_view { const char *pod, *namespace_, *service; }; /* any may be NULL */
/* The peer at addr:port: a Service clusterIP gives service (+namespace); an
 * EndpointSlice endpoint address gives pod, namespace and the slice's
 * service (kubernetes.io/service-name), the slice whose ports hold port
 * first; a pod IP of a known pod gives pod and namespace.  Inside
 * rcu_read_lock(); false if none. */
bool k8s_peer_by_addr(struct k8s_store *st, const struct ht_addr *addr, uint16_t port,
		      struct k8s_peer_view *out);

/* ---- writer side: decoded objects (k8s_json.c fills them; the strings
 * belong to the caller and are copied by the store) */

#define K8S_MAX_IPS 8        /* clusterIPs / podIPs / addresses kept per object */

struct k8s_meta {
	const char *uid, *name, *namespace_, *resource_version;
};

struct k8s_container_obj {
	const char *name;
	const char *id;             /* as in the API: "containerd://<hex>"; may be NULL */
};

struct k8s_pod_obj {
	struct k8s_meta meta;
	const char *node;           /* spec.nodeName */
	const char *ips[K8S_MAX_IPS]; /* status.podIPs (status.podIP first) */
	size_t n_ips;
	const char *owner_kind, *owner_name; /* the controller ownerReference */
	const char *pod_template_hash;        /* labels["pod-template-hash"] */
	bool host_network;          /* spec.hostNetwork: its IPs are the node's, not indexed as peers */
	bool finished;              /* status.phase Succeeded or Failed: its IPs may be another
				     * pod's by now, not indexed as peers */
	size_t n_containers;        /* containers, initContainers, ephemeralContainers statuses */
	const struct k8s_container_obj *containers;
};

struct k8s_service_obj {
	struct k8s_meta meta;
	const char *cluster_ips[K8S_MAX_IPS]; /* spec.clusterIPs ("None" left out) */
	size_t n_ips;
};

struct k8s_endpoint_obj {
	const char *addrs[K8S_MAX_IPS];
	size_t n_addrs;
	const char *pod_name, *pod_namespace; /* targetRef when kind Pod; may be NULL */
};

#define K8S_MAX_PORTS 32
struct k8s_slice_obj {
	struct k8s_meta meta;
	const char *service;        /* labels["kubernetes.io/service-name"]; may be NULL */
	uint16_t ports[K8S_MAX_PORTS]; /* ports[].port (0: all ports) */
	size_t n_ports;
	size_t n_endpoints;
	const struct k8s_endpoint_obj *endpoints;
};

/* Add or replace one object (keyed by uid for pods, namespace/name for the
 * others).  0, -EINVAL (no key) or -ENOMEM. */
int k8s_store_upsert_pod(struct k8s_store *st, const struct k8s_pod_obj *pod);
int k8s_store_upsert_service(struct k8s_store *st, const struct k8s_service_obj *svc);
int k8s_store_upsert_slice(struct k8s_store *st, const struct k8s_slice_obj *sl);
/* Remove one object (unknown: nothing happens). */
void k8s_store_delete_pod(struct k8s_store *st, const struct k8s_meta *meta);
void k8s_store_delete_service(struct k8s_store *st, const struct k8s_meta *meta);
void k8s_store_delete_slice(struct k8s_store *st, const struct k8s_meta *meta);

/* Relist (replace all objects of a kind): relist_begin, then upsert every
 * listed object, then relist_end, which deletes the objects of that kind
 * that were not upserted since relist_begin.  Lookups keep answering from
 * the old objects until each is replaced or deleted. */
void k8s_store_relist_begin(struct k8s_store *st, enum k8s_kind kind);
void k8s_store_relist_end(struct k8s_store *st, enum k8s_kind kind);

/* Objects of a kind currently held (metrics, tests). */
size_t k8s_store_count(struct k8s_store *st, enum k8s_kind kind);

#endif
