/*
 * k8s_json.c - decode Kubernetes API objects with jansson; split watch
 * streams.  See k8s_json.h.
 *
 * Only the fields the store needs are read; anything missing or of the
 * wrong type reads as absent (NULL / 0), never as an error, because the API
 * adds fields and omits empty ones.  Arrays of unbounded length (container
 * statuses, endpoints) get one allocation sized from the JSON array, freed
 * after the callback.  jansson caps nesting depth itself (2048), so a
 * hostile document cannot exhaust the stack.
 */
#include "k8s_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- field helpers: absent or mistyped reads as NULL */

static json_t *jobj(json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_object(v) ? v : NULL;
}

static json_t *jarr(json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_array(v) ? v : NULL;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void decode_meta(json_t *obj, struct k8s_meta *m)
{
	json_t *md = jobj(obj, "metadata");

	m->uid = jstr(md, "uid");
	m->name = jstr(md, "name");
	m->namespace_ = jstr(md, "namespace");
	m->resource_version = jstr(md, "resourceVersion");
}

static const char *label(json_t *obj, const char *key)
{
	return jstr(jobj(jobj(obj, "metadata"), "labels"), key);
}

/* ---- Pod */

static void pod_owner(json_t *obj, struct k8s_pod_obj *p)
{
	json_t *refs = jarr(jobj(obj, "metadata"), "ownerReferences"), *r;
	size_t i;

	json_array_foreach(refs, i, r) {
		if (!json_is_true(json_object_get(r, "controller")))
			continue;
		p->owner_kind = jstr(r, "kind");
		p->owner_name = jstr(r, "name");
		return;
	}
}

static void pod_ips(json_t *status, struct k8s_pod_obj *p)
{
	const char *ip0 = jstr(status, "podIP");
	json_t *ips = jarr(status, "podIPs"), *v;
	size_t i;

	if (ip0 && *ip0)
		p->ips[p->n_ips++] = ip0;
	json_array_foreach(ips, i, v) {
		const char *ip = jstr(v, "ip");

		if (!ip || !*ip || (ip0 && strcmp(ip, ip0) == 0))
			continue;
		if (p->n_ips == K8S_MAX_IPS)
			break;
		p->ips[p->n_ips++] = ip;
	}
}

static const char *const status_keys[] = {
	"containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses",
};

/* Container (name, id) pairs from every status list; the caller frees. */
static struct k8s_container_obj *pod_containers(json_t *status, size_t *n)
{
	struct k8s_container_obj *c;
	size_t total = 0, i;
	json_t *v;

	*n = 0;
	for (size_t k = 0; k < 3; k++)
		total += json_array_size(jarr(status, status_keys[k]));
	if (!total)
		return NULL;
	c = calloc(total, sizeof(*c));
	if (!c)
		return NULL;
	for (size_t k = 0; k < 3; k++) {
		json_array_foreach(jarr(status, status_keys[k]), i, v) {
			const char *name = jstr(v, "name");

			if (!name)
				continue;
			c[*n].name = name;
			c[*n].id = jstr(v, "containerID");
			(*n)++;
		}
	}
	return c;
}

static void *decode_pod(json_t *obj, struct k8s_pod_obj *p)
{
	json_t *spec = jobj(obj, "spec"), *status = jobj(obj, "status");
	struct k8s_container_obj *c;
	const char *phase;

	memset(p, 0, sizeof(*p));
	decode_meta(obj, &p->meta);
	p->node = jstr(spec, "nodeName");
	p->host_network = json_is_true(json_object_get(spec, "hostNetwork"));
	phase = jstr(status, "phase");
	p->finished = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
	p->pod_template_hash = label(obj, "pod-template-hash");
	pod_owner(obj, p);
	pod_ips(status, p);
	c = pod_containers(status, &p->n_containers);
	p->containers = c;
	return c;
}

/* ---- Service */

static void decode_service(json_t *obj, struct k8s_service_obj *s)
{
	json_t *spec = jobj(obj, "spec"), *ips = jarr(spec, "clusterIPs"), *v;
	const char *ip0 = jstr(spec, "clusterIP");
	size_t i;

	memset(s, 0, sizeof(*s));
	decode_meta(obj, &s->meta);
	if (ip0 && *ip0 && strcmp(ip0, "None"))
		s->cluster_ips[s->n_ips++] = ip0;
	json_array_foreach(ips, i, v) {
		const char *ip = json_string_value(v);

		if (!ip || !*ip || !strcmp(ip, "None") || (ip0 && !strcmp(ip, ip0)))
			continue;
		if (s->n_ips == K8S_MAX_IPS)
			break;
		s->cluster_ips[s->n_ips++] = ip;
	}
}

/* ---- EndpointSlice */

static void slice_endpoint(json_t *e, struct k8s_endpoint_obj *ep)
{
	json_t *addrs = jarr(e, "addresses"), *v, *ref = jobj(e, "targetRef");
	size_t i;

	json_array_foreach(addrs, i, v) {
		const char *a = json_string_value(v);

		if (!a)
			continue;
		if (ep->n_addrs == K8S_MAX_IPS)
			break;
		ep->addrs[ep->n_addrs++] = a;
	}
	if (ref && (!jstr(ref, "kind") || !strcmp(jstr(ref, "kind"), "Pod"))) {
		ep->pod_name = jstr(ref, "name");
		ep->pod_namespace = jstr(ref, "namespace");
	}
}

static void *decode_slice(json_t *obj, struct k8s_slice_obj *s)
{
	json_t *eps = jarr(obj, "endpoints"), *ports = jarr(obj, "ports"), *v;
	struct k8s_endpoint_obj *ep = NULL;
	size_t i, n = json_array_size(eps);

	memset(s, 0, sizeof(*s));
	decode_meta(obj, &s->meta);
	s->service = label(obj, "kubernetes.io/service-name");
	json_array_foreach(ports, i, v) {
		json_t *port = json_object_get(v, "port");
		json_int_t pn = json_is_integer(port) ? json_integer_value(port) : 0;

		if (s->n_ports == K8S_MAX_PORTS)
			break;
		s->ports[s->n_ports++] = pn > 0 && pn <= 65535 ? (uint16_t)pn : 0;
	}
	if (n)
		ep = calloc(n, sizeof(*ep));
	if (!ep)
		return NULL;
	json_array_foreach(eps, i, v)
		slice_endpoint(v, &ep[s->n_endpoints++]);
	s->endpoints = ep;
	return ep;
}

/* ---- events and lists */

static const char *const kind_names[K8S_KIND_COUNT] = { "Pod", "Service", "EndpointSlice" };

/* Decodes obj as kind into ev and calls fn; false if obj is not one. */
static bool emit_object(enum k8s_kind kind, json_t *obj, struct k8s_event *ev,
			k8s_event_fn fn, void *ctx)
{
	const char *k = jstr(obj, "kind");
	void *tmp = NULL;

	if (!json_is_object(obj) || (k && strcmp(k, kind_names[kind])))
		return false;
	ev->kind = kind;
	if (kind == K8S_POD)
		tmp = decode_pod(obj, &ev->pod);
	else if (kind == K8S_SERVICE)
		decode_service(obj, &ev->svc);
	else
		tmp = decode_slice(obj, &ev->slice);
	ev->resource_version = jstr(jobj(obj, "metadata"), "resourceVersion");
	fn(ev, ctx);
	free(tmp);
	return true;
}

static int event_type(const char *t)
{
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };

	for (int i = 0; t && i < 5; i++)
		if (!strcmp(t, names[i]))
			return i;
	return -1;
}

static int decode_event_doc(enum k8s_kind kind, json_t *doc, k8s_event_fn fn, void *ctx)
{
	json_t *obj = jobj(doc, "object");
	int type = event_type(jstr(doc, "type"));
	struct k8s_event ev;
	json_t *code;

	if (type < 0 || !obj)
		return -EBADMSG;
	memset(&ev, 0, sizeof(ev));
	ev.type = (enum k8s_ev_type)type;
	ev.kind = kind;
	if (ev.type == K8S_EV_ERROR || ev.type == K8S_EV_BOOKMARK) {
		code = json_object_get(obj, "code");
		ev.code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
		ev.reason = jstr(obj, "reason");
		ev.message = jstr(obj, "message");
		ev.resource_version = jstr(jobj(obj, "metadata"), "resourceVersion");
		fn(&ev, ctx);
		return 0;
	}
	return emit_object(kind, obj, &ev, fn, ctx) ? 0 : -EBADMSG;
}

int k8s_decode_event(enum k8s_kind kind, const char *text, size_t len,
		     k8s_event_fn fn, void *ctx)
{
	json_t *doc;
	int rc;

	if ((unsigned)kind >= K8S_KIND_COUNT)
		return -EINVAL;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!doc)
		return -EBADMSG;
	rc = decode_event_doc(kind, doc, fn, ctx);
	json_decref(doc);
	return rc;
}

static int copy_token(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap)
		return -EBADMSG;
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

int k8s_decode_list(enum k8s_kind kind, const char *text, size_t len,
		    k8s_event_fn fn, void *ctx, struct k8s_list_info *info)
{
	json_t *doc, *items, *md, *it;
	struct k8s_event ev;
	int rc = -EBADMSG;
	size_t i;

	memset(info, 0, sizeof(*info));
	if ((unsigned)kind >= K8S_KIND_COUNT)
		return -EINVAL;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	items = jarr(doc, "items");
	md = jobj(doc, "metadata");
	if (!items || copy_token(info->resource_version, sizeof(info->resource_version),
				 jstr(md, "resourceVersion")) ||
	    copy_token(info->cont, sizeof(info->cont), jstr(md, "continue")))
		goto out;
	json_array_foreach(items, i, it) {
		memset(&ev, 0, sizeof(ev));
		ev.type = K8S_EV_ADDED;
		info->items++;
		if (!emit_object(kind, it, &ev, fn, ctx))
			info->bad_items++;
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* ---- watch stream splitter */

void k8s_split_init(struct k8s_splitter *sp, size_t max_object_bytes)
{
	memset(sp, 0, sizeof(*sp));
	sp->max = max_object_bytes ? max_object_bytes : K8S_OBJECT_MAX_BYTES;
}

void k8s_split_reset(struct k8s_splitter *sp)
{
	sp->len = 0;
	sp->skipping = false;
}

void k8s_split_free(struct k8s_splitter *sp)
{
	free(sp->buf);
	sp->buf = NULL;
	sp->len = sp->cap = 0;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Appends n bytes of a partial line; false if that passes the cap. */
static bool split_append(struct k8s_splitter *sp, const char *d, size_t n)
{
	if (n > sp->max - sp->len)
		return false;
	if (sp->len + n > sp->cap) {
		size_t cap = sp->cap ? sp->cap : 4096;
		char *b;

		while (cap < sp->len + n)
			cap *= 2;
		if (cap > sp->max)
			cap = sp->max;
		b = realloc(sp->buf, cap);
		if (!b)
			return false;
		sp->buf = b;
		sp->cap = cap;
	}
	memcpy(sp->buf + sp->len, d, n);
	sp->len += n;
	return true;
}

static void split_skip(struct k8s_splitter *sp, size_t n)
{
	if (!sp->skipping) {
		sp->skipping = true;
		sp->oversize++;
		sp->oversize_bytes += sp->len;
		sp->len = 0;
	}
	sp->oversize_bytes += n;
}

int k8s_split_feed(struct k8s_splitter *sp, const char *data, size_t len,
		   void (*line)(void *ctx, const char *text, size_t len), void *ctx)
{
	int lines = 0;

	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		if (sp->skipping)
			sp->oversize_bytes += n;
		else if (!nl && !split_append(sp, data, n))
			split_skip(sp, n);
		else if (nl && sp->len == 0 && n <= sp->max) {
			if (!blank(data, n)) {     /* a whole line in place: no copy */
				line(ctx, data, n);
				lines++;
			}
		} else if (nl && !split_append(sp, data, n))
			split_skip(sp, n);
		else if (nl) {
			if (!blank(sp->buf, sp->len)) {
				line(ctx, sp->buf, sp->len);
				lines++;
			}
			sp->len = 0;
		}
		if (nl)
			sp->skipping = false;
		data += n + (nl ? 1 : 0);
		len -= n + (nl ? 1 : 0);
	}
	return lines;
}
