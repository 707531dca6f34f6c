/*
 * k8s_client.h - keeps a k8s_store in step with the API server, as
 * client-go's informers do.
 *
 * One thread per kind (pods of this node, all Services, all
 * discovery.k8s.io/v1 EndpointSlices), each with its own libcurl handle:
 * list with paging (limit, continue), then watch from the list's
 * resourceVersion with allowWatchBookmarks=true; a watch that ends resumes
 * from the last resourceVersion seen (at once after a clean end, after a
 * capped exponential backoff after an error); 410 Gone, as an HTTP status
 * or an ERROR event, means relist.  401/403 log one line naming the RBAC
 * verb and resource that are missing.  The three threads write the store
 * under one mutex (the store has one writer at a time); readers never wait.
 *
 * Defaults are in-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
 * the service account token and CA under /var/run/secrets/kubernetes.io/
 * serviceaccount/, node name from $NODE_NAME.  The token file is read again
 * whenever its inode, size or mtime changes (projected tokens rotate).  An
 * http:// server (kubectl proxy) gets no token unless token_file is set.
 */
#ifndef HT_K8S_CLIENT_H
#define HT_K8S_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "k8s_store.h"

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount/"
#define K8S_LIST_PAGE 500              /* limit= of one list page */
#define K8S_LIST_MAX_BYTES (256u << 20) /* cap on one list page's body */
#define K8S_WATCH_TIMEOUT_S 300        /* timeoutSeconds= of a watch */
#define K8S_BACKOFF_MIN_MS 200
#define K8S_BACKOFF_MAX_MS 30000

struct k8s_client_cfg {
	const char *api_server;   /* "https://host:port" or "http://..."; NULL: in-cluster */
	const char *token_file;   /* NULL: K8S_SA_DIR "token" (https only) */
	const char *ca_file;      /* NULL: K8S_SA_DIR "ca.crt" */
	const char *node_name;    /* NULL: $NODE_NAME; none: every pod of the cluster */
	uint32_t backoff_max_ms;  /* 0: K8S_BACKOFF_MAX_MS (tests make it short) */
	uint32_t watch_timeout_s; /* 0: K8S_WATCH_TIMEOUT_S */
};

struct k8s_client;

/* Starts the threads; NULL with one line in err when the settings are
 * unusable (no server known, no memory).  An unreachable server is not an
 * error: the threads retry with backoff. */
struct k8s_client *k8s_client_start(const struct k8s_client_cfg *cfg, struct k8s_store *st,
				    char *err, size_t errlen);
/* Stops the threads (at most about a second) and frees c; NULL is fine. */
void k8s_client_stop(struct k8s_client *c);

/* ---- metrics: one process-wide block (relaxed atomics), rendered by
 * src/observe/metrics.c while a client runs */

#define K8S_HTTP_CODES 600             /* api_errors[] index: HTTP status; 0: transport error */

struct k8s_api_stats {
	uint64_t running;                  /* clients started and not stopped */
	uint64_t objects[K8S_KIND_COUNT];  /* gauge: objects in the store */
	uint64_t events[K8S_KIND_COUNT];   /* watch events applied (bookmarks too) */
	uint64_t watch_restarts[K8S_KIND_COUNT];
	uint64_t relists[K8S_KIND_COUNT];  /* lists after the first one */
	uint64_t last_event_ns[K8S_KIND_COUNT]; /* CLOCK_MONOTONIC of the last event or bookmark (or list) */
	uint64_t malformed[K8S_KIND_COUNT];     /* objects or events that did not decode */
	uint64_t oversize[K8S_KIND_COUNT];      /* watch events over K8S_OBJECT_MAX_BYTES, skipped */
	uint64_t api_errors[K8S_HTTP_CODES];
};

/* A copy of the counters (relaxed loads). */
void k8s_api_stats_read(struct k8s_api_stats *out);
/* CLOCK_MONOTONIC in ns, the clock of last_event_ns. */
uint64_t k8s_now_ns(void);

#endif
