/* otlp_enc.c - a record as an OTLP span, protobuf or JSON; see otlp_enc.h. */
#include "otlp_enc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/route.h"
#include "format.h"
#include "ht_event.h"
#include "pb.h"
#include "traceid.h"

/* Field numbers of opentelemetry/proto/{collector/trace,trace,common,resource}/v1. */
enum {
	F_REQ_RESOURCE_SPANS = 1,
	F_RS_RESOURCE = 1, F_RS_SCOPE_SPANS = 2,
	F_RES_ATTRIBUTES = 1,
	F_SS_SCOPE = 1, F_SS_SPANS = 2,
	F_SCOPE_NAME = 1, F_SCOPE_VERSION = 2,
	F_SPAN_TRACE_ID = 1, F_SPAN_SPAN_ID = 2, F_SPAN_TRACE_STATE = 3, F_SPAN_PARENT_ID = 4,
	F_SPAN_NAME = 5, F_SPAN_KIND = 6, F_SPAN_START = 7, F_SPAN_END = 8,
	F_SPAN_ATTRIBUTES = 9, F_SPAN_STATUS = 15, F_SPAN_FLAGS = 16,
	F_STATUS_CODE = 3,
	F_KV_KEY = 1, F_KV_VALUE = 2,
	F_ANY_STRING = 1, F_ANY_ARRAY = 5,  /* int_value = 3: pb_kv_int */
	F_ARRAY_VALUES = 1,
};
enum { KIND_UNSPECIFIED = 0, KIND_SERVER = 2, KIND_CLIENT = 3 };
#define STATUS_ERROR 2
#define SPAN_FLAG_SAMPLED 0x01
#define SPAN_FLAG_HAS_IS_REMOTE 0x100
#define SPAN_FLAG_IS_REMOTE 0x200
#define SPAN_NAME_MAX (16 + ROUTE_MAX_LEN + 2)

static uint64_t n_malformed, n_joined;

uint64_t otlp_traceparent_malformed(void)
{
	return __atomic_load_n(&n_malformed, __ATOMIC_RELAXED);
}

uint64_t otlp_traceparent_joined(void)
{
	return __atomic_load_n(&n_joined, __ATOMIC_RELAXED);
}

/* What the span says before any byte is written. */
struct span_info {
	uint8_t trace_id[16], span_id[8], parent_id[8];
	bool has_parent;
	uint32_t flags;
	const char *state;       /* tracestate, joined spans only */
	size_t state_len;
	const char *method;      /* http.request.method: a known method, "_OTHER" or NULL */
	char route[ROUTE_MAX_LEN + 1];
	size_t route_len;        /* 0: no template (none/other) */
	char name[SPAN_NAME_MAX];
	size_t name_len;
	int kind;
	bool error;
};

/* One writer for both encodings: the attribute helpers switch on json. */
struct emit {
	bool json;
	struct pbw w;
	uint32_t attr_field;     /* protobuf: attributes field of the open message */
	int n;                   /* json: items written in the open list */
};

static const struct ht_kv *find_header(const struct ht_record *r, const struct ht_headers *h,
				       const char *lname)
{
	size_t n = strlen(lname);

	for (uint32_t i = 0; i < h->n; i++)
		if (h->v[i].name.len == n && !memcmp(ht_str_ptr(r, h->v[i].name), lname, n))
			return &h->v[i];
	return NULL;
}

static void jraw(struct emit *e, const char *s, size_t n)
{
	if (!e->w.err && ht_buf_put(e->w.b, s, n))
		e->w.err = -ENOMEM;
}
#define JLIT(e, s) jraw((e), (s), sizeof(s) - 1)

static void jstr(struct emit *e, const void *p, size_t n)
{
	if (!e->w.err && format_json_string(e->w.b, p, n))
		e->w.err = -ENOMEM;
}

/* A 64-bit integer as the OTLP JSON encoding wants it: a decimal string. */
static void ju64(struct emit *e, uint64_t v)
{
	char t[24];
	size_t k;

	t[0] = '"';
	k = format_u64(t + 1, v);
	t[k + 1] = '"';
	jraw(e, t, k + 2);
}

static void jhex(struct emit *e, const uint8_t *p, size_t n)
{
	char t[2 * 16 + 2];

	t[0] = '"';
	traceid_hex(p, n, t + 1);
	t[2 * n + 1] = '"';
	jraw(e, t, 2 * n + 2);
}

/* Opens one KeyValue; the caller writes the AnyValue's member. */
static size_t attr_open(struct emit *e, const char *key, size_t *any)
{
	size_t kv;

	if (e->json) {
		if (e->n++)
			JLIT(e, ",");
		JLIT(e, "{\"key\":");
		jstr(e, key, strlen(key));
		JLIT(e, ",\"value\":{");
		return 0;
	}
	kv = pb_begin(&e->w, e->attr_field);
	pb_bytes(&e->w, F_KV_KEY, key, strlen(key));
	*any = pb_begin(&e->w, F_KV_VALUE);
	return kv;
}

static void attr_close(struct emit *e, size_t kv, size_t any)
{
	if (e->json) {
		JLIT(e, "}}");
		return;
	}
	pb_end(&e->w, any);
	pb_end(&e->w, kv);
}

static void attr_str(struct emit *e, const char *key, const void *v, size_t n)
{
	size_t any = 0, kv;

	if (!e->json) {
		pb_kv_string(&e->w, e->attr_field, key, strlen(key), v, n);
		return;
	}
	kv = attr_open(e, key, &any);
	JLIT(e, "\"stringValue\":");
	jstr(e, v, n);
	attr_close(e, kv, any);
}

static void attr_cstr(struct emit *e, const char *key, const char *v)
{
	attr_str(e, key, v, strlen(v));
}

static void attr_int(struct emit *e, const char *key, uint64_t v)
{
	size_t any = 0, kv;

	if (!e->json) {
		pb_kv_int(&e->w, e->attr_field, key, strlen(key), v);
		return;
	}
	kv = attr_open(e, key, &any);
	JLIT(e, "\"intValue\":");
	ju64(e, v);
	attr_close(e, kv, any);
}

static void attr_addr(struct emit *e, const char *key, const struct ht_addr *a)
{
	char t[HT_ADDR_TEXT_MAX];
	size_t n = ht_addr_format(a, t);

	if (n)
		attr_str(e, key, t, n);
}

/* The record's flags as an array of strings (sampled_out is internal). */
static void attr_flags(struct emit *e, const char *key, uint32_t flags)
{
	size_t any = 0, kv = attr_open(e, key, &any), arr = 0;
	int first = 1;

	if (e->json)
		JLIT(e, "\"arrayValue\":{\"values\":[");
	else
		arr = pb_begin(&e->w, F_ANY_ARRAY);
	for (int i = 0; i < HT_RF_COUNT; i++) {
		const char *nm = ht_record_flag_names[i];

		if (!(flags & (1u << i)) || (1u << i) == HT_RF_SAMPLED_OUT)
			continue;
		if (e->json) {
			if (!first)
				JLIT(e, ",");
			JLIT(e, "{\"stringValue\":");
			jstr(e, nm, strlen(nm));
			JLIT(e, "}");
		} else {
			size_t v = pb_begin(&e->w, F_ARRAY_VALUES);

			pb_bytes(&e->w, F_ANY_STRING, nm, strlen(nm));
			pb_end(&e->w, v);
		}
		first = 0;
	}
	if (e->json)
		JLIT(e, "]}");
	else
		pb_end(&e->w, arr);
	attr_close(e, kv, any);
}

/* The host part of a Host header value: "[v6]:port" -> "v6", "name:port" -> "name". */
static size_t host_part(const char *h, size_t n, const char **out)
{
	const char *c;

	if (n && h[0] == '[') {
		c = memchr(h, ']', n);
		*out = h + 1;
		return c ? (size_t)(c - h - 1) : n - 1;
	}
	*out = h;
	c = memchr(h, ':', n);
	if (c && !memchr(c + 1, ':', n - (size_t)(c - h) - 1))
		return (size_t)(c - h);
	return n;
}

static void span_attrs(struct emit *e, const struct ht_record *r, const struct span_info *si)
{
	bool server = r->role == HT_ROLE_SERVER;
	const char *tgt = ht_str_ptr(r, r->target), *q, *host;
	const struct ht_kv *ua = find_header(r, &r->req_headers, "user-agent");
	size_t hn;

	if (si->method) {
		attr_cstr(e, "http.request.method", si->method);
		if (!strcmp(si->method, "_OTHER"))
			attr_str(e, "http.request.method_original", ht_str_ptr(r, r->method), r->method.len);
	}
	if (r->path.len)
		attr_str(e, "url.path", ht_str_ptr(r, r->path), r->path.len);
	q = r->target.len ? memchr(tgt, '?', r->target.len) : NULL;
	if (q)
		attr_str(e, "url.query", q + 1, r->target.len - (size_t)(q + 1 - tgt));
	if (si->route_len)
		attr_str(e, "http.route", si->route, si->route_len);
	if (r->status)
		attr_int(e, "http.response.status_code", r->status);
	hn = r->host.len ? host_part(ht_str_ptr(r, r->host), r->host.len, &host) : 0;
	if (hn)
		attr_str(e, "server.address", host, hn);
	else
		attr_addr(e, "server.address", server ? &r->local : &r->remote);
	if (server ? r->local_port : r->remote_port)
		attr_int(e, "server.port", server ? r->local_port : r->remote_port);
	if (server) {
		attr_addr(e, "client.address", &r->remote);
		if (r->remote_port)
			attr_int(e, "client.port", r->remote_port);
	}
	attr_addr(e, "network.peer.address", &r->remote);
	if (r->remote_port)
		attr_int(e, "network.peer.port", r->remote_port);
	attr_cstr(e, "network.protocol.version", r->version_minor ? "1.1" : "1.0");
	if (ua && ua->value.len)
		attr_str(e, "user_agent.original", ht_str_ptr(r, ua->value), ua->value.len);
	if (r->method.len)
		attr_int(e, "http.request.body.size", r->req_body_size);
	if (r->status)
		attr_int(e, "http.response.body.size", r->resp_body_size);
	if (si->error) {
		char code[8];

		attr_str(e, "error.type", code, (size_t)snprintf(code, sizeof(code), "%u", r->status));
	}
	if (r->flags & ~(uint32_t)HT_RF_SAMPLED_OUT)
		attr_flags(e, "http_tracer.flags", r->flags);
}

/* The resource attribute naming a workload of this kind (semantic
 * conventions: k8s.deployment.name, ...); NULL for a kind they lack. */
static const char *workload_key(const struct ht_record *r)
{
	static const struct { const char *kind, *key; } keys[] = {
		{ "Deployment", "k8s.deployment.name" }, { "ReplicaSet", "k8s.replicaset.name" },
		{ "StatefulSet", "k8s.statefulset.name" }, { "DaemonSet", "k8s.daemonset.name" },
		{ "Job", "k8s.job.name" }, { "CronJob", "k8s.cronjob.name" },
	};
	const char *k = ht_str_ptr(r, r->workload_kind);

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (r->workload_kind.len == strlen(keys[i].kind) &&
		    memcmp(k, keys[i].kind, r->workload_kind.len) == 0)
			return keys[i].key;
	return NULL;
}

/* The k8s.* resource attributes the record knows (DESIGN §7 fields). */
static void k8s_attrs(struct emit *e, const struct ht_record *r)
{
	const char *wk = r->workload.len ? workload_key(r) : NULL;

	if (r->namespace_.len)
		attr_str(e, "k8s.namespace.name", ht_str_ptr(r, r->namespace_), r->namespace_.len);
	if (r->pod.len)
		attr_str(e, "k8s.pod.name", ht_str_ptr(r, r->pod), r->pod.len);
	if (r->container.len)
		attr_str(e, "k8s.container.name", ht_str_ptr(r, r->container), r->container.len);
	if (r->node.len)
		attr_str(e, "k8s.node.name", ht_str_ptr(r, r->node), r->node.len);
	if (wk)
		attr_str(e, wk, ht_str_ptr(r, r->workload), r->workload.len);
}

static void resource_attrs(struct emit *e, const struct otlp_enc_opts *o,
			   const struct ht_record *r)
{
	size_t comm = strnlen(r->comm, sizeof(r->comm));

	/* the configured name, else the workload, else the process name */
	if (o->service_name && *o->service_name)
		attr_cstr(e, "service.name", o->service_name);
	else if (r->workload.len)
		attr_str(e, "service.name", ht_str_ptr(r, r->workload), r->workload.len);
	else if (comm)
		attr_str(e, "service.name", r->comm, comm);
	else
		attr_cstr(e, "service.name", "unknown_service");
	if (o->host_name && *o->host_name)
		attr_cstr(e, "host.name", o->host_name);
	attr_int(e, "process.pid", r->pid);
	if (comm)
		attr_str(e, "process.executable.name", r->comm, comm);
	if (r->container_id.len)
		attr_str(e, "container.id", ht_str_ptr(r, r->container_id), r->container_id.len);
	k8s_attrs(e, r);
}

static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

/* Ids: the caller's trace from a valid traceparent, else a new one. */
static void span_ids(const struct ht_record *r, struct span_info *si)
{
	const struct ht_kv *tp = find_header(r, &r->req_headers, "traceparent");
	struct trace_parent p;

	traceid_random(si->span_id, sizeof(si->span_id));
	if (tp) {
		if (!traceparent_parse(ht_str_ptr(r, tp->value), tp->value.len, &p)) {
			const struct ht_kv *ts = find_header(r, &r->req_headers, "tracestate");

			memcpy(si->trace_id, p.trace_id, sizeof(si->trace_id));
			memcpy(si->parent_id, p.span_id, sizeof(si->parent_id));
			si->has_parent = true;
			si->flags = p.flags | SPAN_FLAG_HAS_IS_REMOTE | SPAN_FLAG_IS_REMOTE;
			if (ts && ts->value.len) {
				si->state = ht_str_ptr(r, ts->value);
				si->state_len = ts->value.len;
			}
			__atomic_add_fetch(&n_joined, 1, __ATOMIC_RELAXED);
			return;
		}
		__atomic_add_fetch(&n_malformed, 1, __ATOMIC_RELAXED);
	}
	traceid_random(si->trace_id, sizeof(si->trace_id));
	si->flags = SPAN_FLAG_SAMPLED | SPAN_FLAG_HAS_IS_REMOTE;
}

static void span_prepare(const struct ht_record *r, struct span_info *si)
{
	const char *name_m = "HTTP";
	size_t n;

	memset(si, 0, sizeof(*si));
	span_ids(r, si);
	if (r->method.len) {
		si->method = "_OTHER";
		for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
			if (ht_str_eq(r, r->method, known_methods[i]))
				si->method = name_m = known_methods[i];
	}
	n = route_template(r->path.len ? ht_str_ptr(r, r->path) : NULL, r->path.len,
			   si->route, sizeof(si->route));
	if (strcmp(si->route, ROUTE_NONE) && strcmp(si->route, ROUTE_OTHER))
		si->route_len = n;
	si->name_len = (size_t)snprintf(si->name, sizeof(si->name), "%s%s%.*s", name_m,
					si->route_len ? " " : "", (int)si->route_len, si->route);
	si->kind = r->role == HT_ROLE_SERVER ? KIND_SERVER :
		   r->role == HT_ROLE_CLIENT ? KIND_CLIENT : KIND_UNSPECIFIED;
	si->error = r->status >= 500 ||
		    (r->role == HT_ROLE_CLIENT && r->status >= 400 && r->status < 500);
}

static void encode_pb(struct emit *e, const struct otlp_enc_opts *o, const struct ht_record *r,
		      const struct span_info *si)
{
	struct pbw *w = &e->w;
	size_t rs, res, ss, sc, sp, st;

	rs = pb_begin_n(w, F_REQ_RESOURCE_SPANS, 2);
	res = pb_begin_n(w, F_RS_RESOURCE, 2);
	e->attr_field = F_RES_ATTRIBUTES;
	resource_attrs(e, o, r);
	pb_end(w, res);
	ss = pb_begin_n(w, F_RS_SCOPE_SPANS, 2);
	sc = pb_begin(w, F_SS_SCOPE);
	pb_bytes(w, F_SCOPE_NAME, OTLP_SCOPE_NAME, strlen(OTLP_SCOPE_NAME));
	if (o->scope_version)
		pb_string(w, F_SCOPE_VERSION, o->scope_version, strlen(o->scope_version));
	pb_end(w, sc);
	sp = pb_begin_n(w, F_SS_SPANS, 2);
	pb_bytes(w, F_SPAN_TRACE_ID, si->trace_id, sizeof(si->trace_id));
	pb_bytes(w, F_SPAN_SPAN_ID, si->span_id, sizeof(si->span_id));
	if (si->state_len)
		pb_string(w, F_SPAN_TRACE_STATE, si->state, si->state_len);
	if (si->has_parent)
		pb_bytes(w, F_SPAN_PARENT_ID, si->parent_id, sizeof(si->parent_id));
	pb_string(w, F_SPAN_NAME, si->name, si->name_len);
	if (si->kind)
		pb_uint(w, F_SPAN_KIND, (uint64_t)si->kind);
	pb_fixed64(w, F_SPAN_START, r->time_unix_nano);
	pb_fixed64(w, F_SPAN_END, r->time_unix_nano + r->latency_ns);
	e->attr_field = F_SPAN_ATTRIBUTES;
	span_attrs(e, r, si);
	if (si->error) {
		st = pb_begin(w, F_SPAN_STATUS);
		pb_uint(w, F_STATUS_CODE, STATUS_ERROR);
		pb_end(w, st);
	}
	pb_fixed32(w, F_SPAN_FLAGS, si->flags);
	pb_end(w, sp);
	pb_end(w, ss);
	pb_end(w, rs);
}

static void encode_json(struct emit *e, const struct otlp_enc_opts *o, const struct ht_record *r,
			const struct span_info *si)
{
	char num[16];

	if (e->w.b->len)
		JLIT(e, ",");
	JLIT(e, "{\"resource\":{\"attributes\":[");
	e->n = 0;
	resource_attrs(e, o, r);
	JLIT(e, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"" OTLP_SCOPE_NAME "\"");
	if (o->scope_version) {
		JLIT(e, ",\"version\":");
		jstr(e, o->scope_version, strlen(o->scope_version));
	}
	JLIT(e, "},\"spans\":[{\"traceId\":");
	jhex(e, si->trace_id, sizeof(si->trace_id));
	JLIT(e, ",\"spanId\":");
	jhex(e, si->span_id, sizeof(si->span_id));
	if (si->state_len) {
		JLIT(e, ",\"traceState\":");
		jstr(e, si->state, si->state_len);
	}
	if (si->has_parent) {
		JLIT(e, ",\"parentSpanId\":");
		jhex(e, si->parent_id, sizeof(si->parent_id));
	}
	JLIT(e, ",\"flags\":");
	jraw(e, num, (size_t)snprintf(num, sizeof(num), "%u", si->flags));
	JLIT(e, ",\"name\":");
	jstr(e, si->name, si->name_len);
	if (si->kind) {
		JLIT(e, ",\"kind\":");
		jraw(e, num, (size_t)snprintf(num, sizeof(num), "%d", si->kind));
	}
	JLIT(e, ",\"startTimeUnixNano\":");
	ju64(e, r->time_unix_nano);
	JLIT(e, ",\"endTimeUnixNano\":");
	ju64(e, r->time_unix_nano + r->latency_ns);
	JLIT(e, ",\"attributes\":[");
	e->n = 0;
	span_attrs(e, r, si);
	JLIT(e, "]");
	if (si->error)
		JLIT(e, ",\"status\":{\"code\":2}");
	JLIT(e, "}]}]}");
}

int otlp_encode_record(const struct otlp_enc_opts *o, const struct ht_record *r,
		       struct ht_buf *out)
{
	struct emit e = { .json = o->json, .w = { .b = out } };
	size_t start = out->len;
	struct span_info si;

	span_prepare(r, &si);
	if (e.json)
		encode_json(&e, o, r, &si);
	else
		encode_pb(&e, o, r, &si);
	if (e.w.err) {
		out->len = start;
		return e.w.err;
	}
	return 0;
}
