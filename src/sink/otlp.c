/* otlp.c - the OTLP/HTTP traces sink; see otlp.h. */
#include "otlp.h"

#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "delivery.h"
#include "gz.h"
#include "otlp_enc.h"
#include "http.h"
#include "pb.h"

#define RESP_MAX (64u << 10)   /* response bytes kept: a Status or a partial success */

struct otlp_sink {
	struct otlp_enc_opts enc;
	char host[256];
	char *service;
	char url[4096];
	bool gzip;
	long timeout_ms;
	struct curl_slist *headers;
	struct delivery *dl;
	/* sender thread only */
	CURL *curl;
	struct gz *gz;             /* made on the first gzipped body */
	struct ht_buf body;        /* the request body when it is not the payload itself */
	struct ht_buf resp;
	uint32_t retry_after_ms;   /* from the last response */
	bool partial_logged;
};

static uint64_t n_spans_rejected, n_partial;

void otlp_stats_get(struct otlp_stats *out)
{
	out->spans_rejected = __atomic_load_n(&n_spans_rejected, __ATOMIC_RELAXED);
	out->partial_responses = __atomic_load_n(&n_partial, __ATOMIC_RELAXED);
	out->traceparent_joined = otlp_traceparent_joined();
	out->traceparent_malformed = otlp_traceparent_malformed();
}

/* ---- response parsing (pure) */

uint32_t otlp_retry_after_ms(const char *v, size_t n, int64_t now_s, uint32_t max_ms)
{
	char tmp[128];
	uint64_t s = 0;
	size_t i = 0;
	time_t t;

	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	while (i < n && isspace((unsigned char)v[i]))
		i++;
	if (i == n || n - i >= sizeof(tmp))
		return 0;
	if (isdigit((unsigned char)v[i])) {
		for (; i < n; i++) {
			if (!isdigit((unsigned char)v[i]))
				return 0;
			if (s < 100000000)
				s = s * 10 + (uint64_t)(v[i] - '0');
		}
	} else {
		memcpy(tmp, v + i, n - i);
		tmp[n - i] = '\0';
		t = curl_getdate(tmp, NULL);
		if (t < 0)
			return 0;
		s = t > now_s ? (uint64_t)(t - now_s) : 0;
		if (!s)
			return 1; /* a date in the past: retry now, but say it was given */
	}
	return s * 1000 > max_ms ? max_ms : (uint32_t)(s * 1000);
}

/* Printable ASCII of s[0..n) into out, runs of other bytes as one space. */
static void printable(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	if (!outlen)
		return;
	if (n > OTLP_MESSAGE_MAX)
		n = OTLP_MESSAGE_MAX;
	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else if (o && out[o - 1] != ' ')
			out[o++] = ' ';
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* The raw text of the JSON string after "key": in body (escapes kept), or NULL. */
static const char *json_field(const char *body, size_t n, const char *key, size_t *len)
{
	size_t kl = strlen(key);

	for (const char *p = body; (p = memmem(p, n - (size_t)(p - body), key, kl)); p += kl) {
		const char *q = p + kl, *end = body + n;

		if (p == body || p[-1] != '"' || q >= end || *q != '"')
			continue;
		for (q++; q < end && (isspace((unsigned char)*q) || *q == ':'); q++)
			;
		if (q < end && *q == '"') {
			const char *s = ++q;

			while (q < end && *q != '"')
				q += *q == '\\' ? 2 : 1;
			*len = (size_t)((q < end ? q : end) - s);
			return s;
		}
		*len = 0;
		while (q + *len < end && (isdigit((unsigned char)q[*len]) || q[*len] == '-'))
			(*len)++;
		return q; /* a bare number */
	}
	return NULL;
}

static bool is_protobuf(const char *ctype)
{
	return ctype && !strncasecmp(ctype, "application/x-protobuf", 22);
}

static bool is_json(const char *ctype)
{
	return ctype && !strncasecmp(ctype, "application/json", 16);
}

void otlp_response_message(const char *ctype, const char *body, size_t n, char *out,
			   size_t outlen)
{
	struct pbr r = { (const uint8_t *)body, (const uint8_t *)body + n };
	struct pb_field f;
	const char *s;
	size_t len;

	if (outlen)
		out[0] = '\0';
	if (is_protobuf(ctype)) { /* google.rpc.Status: 1 code, 2 message, 3 details */
		while (pb_next(&r, &f) == 1)
			if (f.num == 2 && f.wire == PB_LEN) {
				printable((const char *)f.p, f.n, out, outlen);
				return;
			}
		return;
	}
	if (is_json(ctype) && (s = json_field(body, n, "message", &len))) {
		printable(s, len, out, outlen);
		return;
	}
	printable(body, strcspn(body, "\n") < n ? strcspn(body, "\n") : n, out, outlen);
}

static uint64_t digits(const char *s, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && isdigit((unsigned char)s[i]); i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

uint64_t otlp_partial_success(const char *ctype, const char *body, size_t n, char *msg,
			      size_t msglen)
{
	struct pbr r = { (const uint8_t *)body, (const uint8_t *)body + n };
	struct pb_field f, g;
	uint64_t rejected = 0;
	const char *s;
	size_t len;

	if (msglen)
		msg[0] = '\0';
	if (is_protobuf(ctype)) { /* ExportTraceServiceResponse: 1 partial_success */
		while (pb_next(&r, &f) == 1) {
			struct pbr ps = { f.p, f.p + f.n };

			if (f.num != 1 || f.wire != PB_LEN)
				continue;
			while (pb_next(&ps, &g) == 1) {
				if (g.num == 1 && g.wire == PB_VARINT)
					rejected = g.v;
				else if (g.num == 2 && g.wire == PB_LEN)
					printable((const char *)g.p, g.n, msg, msglen);
			}
		}
		return rejected;
	}
	if (!is_json(ctype))
		return 0;
	if ((s = json_field(body, n, "rejectedSpans", &len)))
		rejected = digits(s, len);
	if ((s = json_field(body, n, "errorMessage", &len)))
		printable(s, len, msg, msglen);
	return rejected;
}

/* ---- request body */

/* Gzip the pieces into s->body as one member; 0 or -1. */
static int gzip_pieces(struct otlp_sink *s, const void *const *p, const size_t *n, int k)
{
	if (!s->gz && !(s->gz = gz_new(GZ_LEVEL_BODY)))
		return -1;
	return gz_pieces(s->gz, p, n, k, &s->body) ? -1 : 0;
}

/* The bytes to POST for one payload: JSON gets its framing, gzip compresses. */
static int build_body(struct otlp_sink *s, const void *payload, size_t len,
		      const void **out, size_t *out_len)
{
	const void *p[3] = { OTLP_JSON_HEAD, payload, OTLP_JSON_TAIL };
	size_t n[3] = { strlen(OTLP_JSON_HEAD), len, strlen(OTLP_JSON_TAIL) };

	if (s->gzip) {
		if (s->enc.json ? gzip_pieces(s, p, n, 3) : gzip_pieces(s, &p[1], &n[1], 1))
			return -1;
	} else if (s->enc.json) {
		s->body.len = 0;
		if (ht_buf_put(&s->body, p[0], n[0]) || ht_buf_put(&s->body, p[1], n[1]) ||
		    ht_buf_put(&s->body, p[2], n[2]))
			return -1;
	} else {
		*out = payload;
		*out_len = len;
		return 0;
	}
	*out = s->body.p;
	*out_len = s->body.len;
	return 0;
}

/* ---- HTTP */

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct otlp_sink *s = arg;
	size_t n = size * nmemb, room = s->resp.len < RESP_MAX ? RESP_MAX - s->resp.len : 0;

	if (room)
		ht_buf_put(&s->resp, p, n < room ? n : room); /* out of memory: no message */
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct otlp_sink *s = arg;
	size_t n = size * nmemb;

	if (n > 12 && !strncasecmp(p, "retry-after:", 12))
		s->retry_after_ms = otlp_retry_after_ms(p + 12, n - 12, (int64_t)time(NULL),
							OTLP_BACKOFF_MAX_MS);
	return n;
}

static CURL *easy(struct otlp_sink *s)
{
	CURL *c;

	if (s->curl)
		return s->curl;
	c = curl_easy_init();
	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, s->url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
	http_easy_common(c, &(struct http_common){
		.write = on_body, .write_data = s,
		.connect_timeout_ms = s->timeout_ms < OTLP_CONNECT_TIMEOUT_MS ?
				      s->timeout_ms : OTLP_CONNECT_TIMEOUT_MS,
		.timeout_ms = s->timeout_ms,
	});
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	s->curl = c;
	return c;
}

static bool retryable(long code)
{
	return code == 429 || code == 502 || code == 503 || code == 504;
}

static void note_partial(struct otlp_sink *s, const char *ctype)
{
	char msg[OTLP_MESSAGE_MAX + 1];
	uint64_t rej = otlp_partial_success(ctype, s->resp.p ? s->resp.p : "", s->resp.len, msg,
					    sizeof(msg));

	if (!rej && !msg[0])
		return;
	__atomic_add_fetch(&n_partial, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&n_spans_rejected, rej, __ATOMIC_RELAXED);
	if (!s->partial_logged) {
		fprintf(stderr, "http-tracer: otlp: %s accepted a batch partially: %" PRIu64 " span(s) rejected: %s (logged once; counted in http_tracer_otlp_spans_rejected_total)\n",
			s->url, rej, msg[0] ? msg : "(no message)");
		s->partial_logged = true;
	}
}

static enum dl_verdict otlp_send(void *ctx, const void *payload, size_t len, uint32_t n_records,
				 uint32_t *retry_after_ms, char *err, size_t errlen)
{
	struct otlp_sink *s = ctx;
	char msg[OTLP_MESSAGE_MAX + 1];
	const void *body;
	size_t body_len;
	char *ctype = NULL;
	long code = 0;
	CURL *c = easy(s);
	CURLcode rc;

	if (!c || build_body(s, payload, len, &body, &body_len)) {
		snprintf(err, errlen, "otlp: out of memory building a request of %u span(s)", n_records);
		return DL_RETRY;
	}
	s->resp.len = 0;
	s->retry_after_ms = 0;
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "otlp: POST %s: %s", s->url, curl_easy_strerror(rc));
		return DL_RETRY;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	if (ht_buf_reserve(&s->resp, 1) == 0)
		s->resp.p[s->resp.len] = '\0';
	if (code >= 200 && code < 300) {
		note_partial(s, ctype);
		return DL_SENT;
	}
	otlp_response_message(ctype, s->resp.p ? s->resp.p : "", s->resp.len, msg, sizeof(msg));
	snprintf(err, errlen, "otlp: POST %s: HTTP %ld: %s", s->url, code,
		 msg[0] ? msg : "(no message)");
	if (retryable(code)) {
		*retry_after_ms = s->retry_after_ms;
		return DL_RETRY;
	}
	return DL_REJECT;
}

/* ---- the sink */

static int otlp_encode(void *ctx, const struct ht_record *r, struct ht_buf *out)
{
	struct otlp_sink *s = ctx;

	return otlp_encode_record(&s->enc, r, out);
}

static void otlp_submit(void *ctx, struct ht_buf *buf, uint32_t n_records)
{
	struct otlp_sink *s = ctx;

	delivery_submit(s->dl, buf, n_records);
}

static void sink_free(struct otlp_sink *s)
{
	if (s->curl)
		curl_easy_cleanup(s->curl);
	gz_free(s->gz);
	curl_slist_free_all(s->headers);
	ht_buf_free(&s->body);
	ht_buf_free(&s->resp);
	free(s->service);
	free(s);
}

static void otlp_close(void *ctx, uint32_t drain_ms)
{
	struct otlp_sink *s = ctx;

	delivery_close(s->dl, drain_ms); /* joins the sender: its handle is ours again */
	sink_free(s);
}

static const struct sink_ops otlp_ops = {
	.name = "otlp",
	.encode = otlp_encode,
	.submit = otlp_submit,
	.close = otlp_close,
};

static int add_header(struct curl_slist **l, const char *h)
{
	struct curl_slist *n = curl_slist_append(*l, h);

	if (!n)
		return -1;
	*l = n;
	return 0;
}

/* host.name: $NODE_NAME (set by the DaemonSet), else the host name. */
static void node_name(char *buf, size_t size)
{
	const char *env = getenv("NODE_NAME");

	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return;
	}
	if (gethostname(buf, size - 1))
		buf[0] = '\0';
	buf[size - 1] = '\0';
}

static int sink_headers(struct otlp_sink *s, const struct ht_config *c)
{
	int rc = add_header(&s->headers, c->otlp_json ? "Content-Type: application/json" :
							"Content-Type: application/x-protobuf");

	rc = rc ?: add_header(&s->headers, "Expect:"); /* no 100-continue round trip */
	if (s->gzip)
		rc = rc ?: add_header(&s->headers, "Content-Encoding: gzip");
	for (size_t i = 0; i < c->otlp_headers.n; i++)
		rc = rc ?: add_header(&s->headers, c->otlp_headers.v[i]);
	return rc;
}

int otlp_sink_open(const struct ht_config *c, bool replay, struct sink *out, char *err,
		   size_t errlen)
{
	struct delivery_cfg dc = {
		.name = "otlp",
		.mem_max_bytes = c->otlp_queue_max_bytes,
		.spool_dir = c->otlp_spool_dir,
		.spool_max_bytes = c->otlp_spool_max_bytes,
		.backoff_min_ms = OTLP_BACKOFF_MIN_MS,
		.backoff_max_ms = OTLP_BACKOFF_MAX_MS,
		.merge_max_bytes = c->otlp_json ? 0 : OTLP_MERGE_MAX,
		.wait_when_full = replay,
	};
	struct otlp_sink *s;

	if (!c->otlp_endpoint || !*c->otlp_endpoint)
		return 0;
	if (http_global_init("otlp", err, errlen))
		return -1;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "otlp: out of memory");
		return -1;
	}
	ht_config_otlp_url(c, s->url, sizeof(s->url));
	node_name(s->host, sizeof(s->host));
	s->service = strdup(c->otlp_service_name ? c->otlp_service_name : "");
	s->gzip = c->otlp_gzip;
	s->timeout_ms = (long)c->otlp_timeout_ms;
	s->enc = (struct otlp_enc_opts){ .json = c->otlp_json, .service_name = s->service,
					 .host_name = s->host, .scope_version = HT_VERSION };
	if (!s->service || sink_headers(s, c)) {
		snprintf(err, errlen, "otlp: out of memory");
		goto err_free;
	}
	s->dl = delivery_new(&dc, otlp_send, s, err, errlen);
	if (!s->dl)
		goto err_free;
	out->ops = &otlp_ops;
	out->ctx = s;
	return 1;

err_free:
	sink_free(s);
	return -1;
}
