/*
 * k8s_json.h - Kubernetes API JSON: list pages, watch events, watch streams.
 *
 * The decoder (jansson) turns a Pod, Service or discovery.k8s.io/v1
 * EndpointSlice into the plain structs of k8s_store.h, whose strings point
 * into the parsed document and are valid only during the callback.  A list
 * page calls back once per item (as ADDED) and returns the page's
 * resourceVersion and continue token.  A watch stream is newline-delimited
 * JSON sent in arbitrary chunks: k8s_split_feed cuts it at newlines and
 * caps one object's size (a longer one is skipped to its newline and
 * counted).  Nothing here does I/O or keeps state between calls but the
 * splitter's buffer.
 */
#ifndef HT_K8S_JSON_H
#define HT_K8S_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s_store.h"

enum k8s_ev_type { K8S_EV_ADDED, K8S_EV_MODIFIED, K8S_EV_DELETED, K8S_EV_BOOKMARK, K8S_EV_ERROR };

struct k8s_event {
	enum k8s_ev_type type;
	enum k8s_kind kind;
	const char *resource_version;   /* the object's or the bookmark's; may be NULL */
	union {                         /* ADDED, MODIFIED, DELETED */
		struct k8s_pod_obj pod;
		struct k8s_service_obj svc;
		struct k8s_slice_obj slice;
	};
	int code;                       /* ERROR: the Status's code (410: relist) */
	const char *reason, *message;   /* ERROR: may be NULL */
};

typedef void (*k8s_event_fn)(const struct k8s_event *ev, void *ctx);

/* One watch event ({"type":..., "object":...}).  0, or -EBADMSG when the
 * text is not JSON, not an event, or names an unknown type. */
int k8s_decode_event(enum k8s_kind kind, const char *text, size_t len,
		     k8s_event_fn fn, void *ctx);

#define K8S_RV_MAX 64
#define K8S_CONTINUE_MAX 2048

struct k8s_list_info {
	char resource_version[K8S_RV_MAX]; /* metadata.resourceVersion */
	char cont[K8S_CONTINUE_MAX];       /* metadata.continue ("" on the last page) */
	size_t items;                      /* items seen (decoded or not) */
	size_t bad_items;                  /* items that were not objects of kind */
};

/* One list page ({"kind":"PodList","metadata":{...},"items":[...]}): fn per
 * item, as ADDED.  0, or -EBADMSG (not JSON, no items array, or a token too
 * long for info). */
int k8s_decode_list(enum k8s_kind kind, const char *text, size_t len,
		    k8s_event_fn fn, void *ctx, struct k8s_list_info *info);

/* ---- watch stream splitter */

#define K8S_OBJECT_MAX_BYTES (4u << 20)  /* default cap on one watch event */

struct k8s_splitter {
	char *buf;
	size_t len, cap, max;
	bool skipping;               /* inside an oversize object: drop to its newline */
	uint64_t oversize;           /* objects skipped for size */
	uint64_t oversize_bytes;     /* their bytes */
};

void k8s_split_init(struct k8s_splitter *sp, size_t max_object_bytes);
/* Forgets a partial object (a new connection starts clean). */
void k8s_split_reset(struct k8s_splitter *sp);
void k8s_split_free(struct k8s_splitter *sp);
/* Appends data; calls line() for every complete, non-blank line (without
 * its newline).  Returns the number of lines.  An object longer than the
 * cap (or one that finds no memory) is dropped up to its newline and
 * counted in oversize. */
int k8s_split_feed(struct k8s_splitter *sp, const char *data, size_t len,
		   void (*line)(void *ctx, const char *text, size_t len), void *ctx);

#endif
