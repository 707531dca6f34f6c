/*
 * clickhouse.c - the ClickHouse sink: JSONEachRow encoder (shard threads),
 * submit into the delivery queue (writer thread), and the send function
 * (the delivery's sender thread: gzip, one keep-alive libcurl handle,
 * verdict from the HTTP status and ClickHouse's "Code: N").  See
 * clickhouse.h.
 */
#include "clickhouse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/park.h"
#include "delivery.h"
#include "format.h"
#include "gz.h"
#include "http.h"

#define CH_RESP_MAX 2048          /* bytes of a response body kept for the error */
#define CH_PASSWORD_MAX 1024

struct ch_sink {
	char *insert_url, *ddl_url;
	char *ddl;                    /* NULL: createTable false, or done */
	char node_json[300];          /* ,"node":"..."}\n */
	size_t node_json_len;
	struct curl_slist *headers;   /* the user and key */
	struct curl_slist *headers_gz; /* the same and Content-Encoding: gzip */
	CURL *curl;                   /* sender thread only, made on first use */
	struct gz *z;                 /* sender thread only, made on first use */
	struct ht_buf gz;             /* the compressed body being sent */
	bool gzip;                    /* compression: gzip (else none) */
	char resp[CH_RESP_MAX];
	size_t resp_len;
	uint64_t abort_at_ns;         /* close: cut a hanging send short (0: never) */
	struct delivery *dl;
};

/* ---- the encoder (pure) */

static int put_str(struct ht_buf *o, const struct ht_record *r, struct ht_str s)
{
	return format_json_string(o, ht_str_ptr(r, s), s.len);
}

static int put_u64(struct ht_buf *o, uint64_t v)
{
	if (ht_buf_reserve(o, 20))
		return -ENOMEM;
	o->len += format_u64(o->p + o->len, v);
	return 0;
}

/* ,"key": (a literal: its length is known at compile time) */
#define put_key(o, k) ht_buf_put((o), ",\"" k "\":", sizeof(",\"" k "\":") - 1)

static int put_addr(struct ht_buf *o, const struct ht_addr *a)
{
	char t[HT_ADDR_TEXT_MAX];
	size_t n = ht_addr_format(a, t);
	int rc = ht_buf_putc(o, '"');

	rc = rc ?: ht_buf_put(o, t, n); /* plain ASCII: nothing to escape */
	return rc ?: ht_buf_putc(o, '"');
}

/* The names (values false) or values (true) of h as a JSON array. */
static int put_header_array(struct ht_buf *o, const struct ht_record *r,
			    const struct ht_headers *h, bool values)
{
	uint32_t n = h->v ? h->n : 0;
	int rc = ht_buf_putc(o, '[');

	for (uint32_t i = 0; i < n && !rc; i++) {
		if (i)
			rc = ht_buf_putc(o, ',');
		rc = rc ?: put_str(o, r, values ? h->v[i].value : h->v[i].name);
	}
	return rc ?: ht_buf_putc(o, ']');
}

#define put_headers(o, r, which, h)                                  \
	(put_key((o), which "_header_names") ?:                     \
	 put_header_array((o), (r), (h), false) ?:                  \
	 put_key((o), which "_header_values") ?:                    \
	 put_header_array((o), (r), (h), true))

static int put_flags(struct ht_buf *o, uint32_t flags)
{
	bool any = false;
	int rc = ht_buf_putc(o, '[');

	for (int b = 0; b < HT_RF_COUNT && !rc; b++) {
		if (!(flags & (1u << b)) || (1u << b) == HT_RF_SAMPLED_OUT)
			continue;
		if (any)
			rc = ht_buf_putc(o, ',');
		rc = rc ?: ht_buf_putc(o, '"');
		rc = rc ?: ht_buf_puts(o, ht_record_flag_names[b]);
		rc = rc ?: ht_buf_putc(o, '"');
		any = true;
	}
	return rc ?: ht_buf_putc(o, ']');
}

#define KSTR(o, r, name, field) (put_key((o), name) ?: put_str((o), (r), (r)->field))
#define KU64(o, name, v) (put_key((o), name) ?: put_u64((o), (v)))

static int encode_fields(const struct ht_record *r, struct ht_buf *o)
{
	int rc;

	rc = ht_buf_puts(o, "{\"time\":");
	rc = rc ?: put_u64(o, r->time_unix_nano / 1000000000ull);
	rc = rc ?: KU64(o, "time_unix_nano", r->time_unix_nano);
	rc = rc ?: KU64(o, "latency_ns", r->latency_ns);
	rc = rc ?: put_key(o, "role");
	rc = rc ?: ht_buf_putc(o, '"');
	rc = rc ?: ht_buf_puts(o, format_role_name(r->role)); /* plain ASCII */
	rc = rc ?: ht_buf_putc(o, '"');
	rc = rc ?: KU64(o, "pid", r->pid);
	rc = rc ?: KU64(o, "tid", r->tid);
	rc = rc ?: put_key(o, "comm");
	rc = rc ?: format_json_string(o, r->comm, strnlen(r->comm, sizeof(r->comm)));
	rc = rc ?: put_key(o, "local_addr");
	rc = rc ?: put_addr(o, &r->local);
	rc = rc ?: KU64(o, "local_port", r->local_port);
	rc = rc ?: put_key(o, "remote_addr");
	rc = rc ?: put_addr(o, &r->remote);
	rc = rc ?: KU64(o, "remote_port", r->remote_port);
	rc = rc ?: put_key(o, "version");
	rc = rc ?: ht_buf_puts(o, "\"1.");
	rc = rc ?: put_u64(o, r->version_minor);
	rc = rc ?: ht_buf_putc(o, '"');
	rc = rc ?: KSTR(o, r, "method", method);
	rc = rc ?: KSTR(o, r, "target", target);
	rc = rc ?: KSTR(o, r, "path", path);
	rc = rc ?: KSTR(o, r, "host", host);
	rc = rc ?: put_headers(o, r, "req", &r->req_headers);
	rc = rc ?: put_headers(o, r, "resp", &r->resp_headers);
	rc = rc ?: KSTR(o, r, "req_body", req_body);
	rc = rc ?: KSTR(o, r, "resp_body", resp_body);
	rc = rc ?: KU64(o, "req_body_size", r->req_body_size);
	rc = rc ?: KU64(o, "resp_body_size", r->resp_body_size);
	rc = rc ?: KU64(o, "status", r->status);
	rc = rc ?: KSTR(o, r, "reason", reason);
	rc = rc ?: put_key(o, "flags");
	rc = rc ?: put_flags(o, r->flags);
	rc = rc ?: KSTR(o, r, "container_id", container_id);
	rc = rc ?: KSTR(o, r, "pod", pod);
	rc = rc ?: KSTR(o, r, "namespace", namespace_);
	rc = rc ?: KSTR(o, r, "container", container);
	rc = rc ?: KSTR(o, r, "workload_kind", workload_kind);
	rc = rc ?: KSTR(o, r, "workload", workload);
	rc = rc ?: KSTR(o, r, "remote_pod", remote_pod);
	rc = rc ?: KSTR(o, r, "remote_namespace", remote_namespace);
	rc = rc ?: KSTR(o, r, "remote_service", remote_service);
	return rc ?: KU64(o, "tls", r->tls ? 1 : 0);
}

/* node_json: the row's end, `,"node":"..."}` and the newline. */
static int encode_row(const struct ht_record *r, const char *node_json, size_t node_len,
		      struct ht_buf *out)
{
	size_t len0 = out->len;
	int rc;

	/* one growth for the whole row (the NDJSON bound plus the longer keys
	 * and the node), so the puts below only check */
	if (ht_buf_reserve(out, format_record_bound(r) + 512 + node_len))
		return -ENOMEM;
	rc = encode_fields(r, out);
	if (r->node.len) /* the record's node (kubernetes.nodeName), else the sink's */
		rc = rc ?: KSTR(out, r, "node", node) ?: ht_buf_puts(out, "}\n");
	else
		rc = rc ?: ht_buf_put(out, node_json, node_len);
	if (rc)
		out->len = len0; /* never half a row */
	return rc;
}

static int make_node_json(const char *node, char *dst, size_t cap, size_t *len)
{
	struct ht_buf b = { 0 };
	int rc = ht_buf_puts(&b, ",\"node\":");

	rc = rc ?: format_json_string(&b, node, strlen(node));
	rc = rc ?: ht_buf_puts(&b, "}\n");
	if (!rc && b.len > cap)
		rc = -ENAMETOOLONG;
	if (!rc) {
		memcpy(dst, b.p, b.len);
		*len = b.len;
	}
	ht_buf_free(&b);
	return rc;
}

int clickhouse_encode_row(const struct ht_record *r, const char *node, struct ht_buf *out)
{
	char nj[300];
	size_t nl = 0;

	if (make_node_json(node, nj, sizeof(nj), &nl))
		return -ENOMEM;
	return encode_row(r, nj, nl, out);
}

static int ch_encode(void *ctx, const struct ht_record *r, struct ht_buf *out)
{
	const struct ch_sink *s = ctx;

	return encode_row(r, s->node_json, s->node_json_len, out);
}

/* ---- the DDL */

int clickhouse_ddl(const char *db, const char *table, struct ht_buf *out)
{
#define CH_COL_(name, type) "    " #name " " type ",\n"
	static const char cols[] = CH_COLUMNS(CH_COL_);
#undef CH_COL_
	int rc = ht_buf_puts(out, "CREATE TABLE IF NOT EXISTS ");

	rc = rc ?: ht_buf_puts(out, db);
	rc = rc ?: ht_buf_putc(out, '.');
	rc = rc ?: ht_buf_puts(out, table);
	rc = rc ?: ht_buf_puts(out, "\n(\n");
	rc = rc ?: ht_buf_put(out, cols, sizeof(cols) - 3); /* without the last ",\n" */
	rc = rc ?: ht_buf_puts(out,
			       "\n)\nENGINE = MergeTree()\nPARTITION BY toDate(time)\n"
			       "ORDER BY (toStartOfHour(time), namespace, pod, comm, path, time)\n");
	return rc;
}

/* ---- sending (the delivery's sender thread) */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct ch_sink *s = ctx;
	size_t len = size * n, room = sizeof(s->resp) - 1 - s->resp_len;

	memcpy(s->resp + s->resp_len, p, len < room ? len : room);
	s->resp_len += len < room ? len : room;
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct ch_sink *s = ctx;
	uint64_t at = __atomic_load_n(&s->abort_at_ns, __ATOMIC_ACQUIRE);

	return at && ht_now_ns() >= at; /* non-zero aborts the transfer */
}

/* ClickHouse error codes about the data, the table or the credentials: the
 * same batch would fail again, so it is not retried. */
static bool code_is_permanent(long code)
{
	static const long perm[] = {
		6,   /* CANNOT_PARSE_TEXT */
		16,  /* NO_SUCH_COLUMN_IN_TABLE */
		26, 27, /* CANNOT_PARSE_QUOTED_STRING, CANNOT_PARSE_INPUT_ASSERTION_FAILED */
		38, 41, /* CANNOT_PARSE_DATE, CANNOT_PARSE_DATETIME */
		53,  /* TYPE_MISMATCH */
		60,  /* UNKNOWN_TABLE */
		62,  /* SYNTAX_ERROR */
		70, 72, /* CANNOT_CONVERT_TYPE, CANNOT_PARSE_NUMBER */
		81,  /* UNKNOWN_DATABASE */
		117, /* INCORRECT_DATA (unknown field, bad JSON) */
		192, 193, 194, 195, /* UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, IP_ADDRESS_NOT_ALLOWED */
		497, 516, /* ACCESS_DENIED, AUTHENTICATION_FAILED */
	};

	for (size_t i = 0; i < sizeof(perm) / sizeof(perm[0]); i++)
		if (perm[i] == code)
			return true;
	return false;
}

/* "Code: N, e.displayText() = DB::Exception: ..." -> N, or -1. */
static long resp_code(const char *body)
{
	const char *p = strstr(body, "Code: ");

	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* The server's message on one line, trimmed. */
static void resp_message(struct ch_sink *s, long http, char *err, size_t errlen)
{
	char *p;

	s->resp[s->resp_len] = '\0';
	for (p = s->resp; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	while (p > s->resp && p[-1] == ' ')
		*--p = '\0';
	snprintf(err, errlen, "HTTP %ld: %s", http, s->resp[0] ? s->resp : "(no message)");
}

static enum dl_verdict post(struct ch_sink *s, const char *url, const void *body, size_t len,
			    bool gzipped, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	long http = 0, code;
	CURLcode rc;

	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, gzipped ? s->headers_gz : s->headers);
	s->resp_len = 0;
	rc = curl_easy_perform(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, NULL); /* cerr is on this stack */
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", curl_easy_strerror(rc), cerr[0] ? cerr : url);
		return DL_RETRY;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &http);
	if (http >= 200 && http < 300)
		return DL_SENT;
	resp_message(s, http, err, errlen);
	code = resp_code(s->resp);
	if (http == 408 || http == 429)
		return DL_RETRY;
	if (http >= 400 && http < 500)
		return DL_REJECT;
	return code_is_permanent(code) ? DL_REJECT : DL_RETRY;
}

static int curl_setup(struct ch_sink *s)
{
	if (s->curl)
		return 0;
	s->curl = curl_easy_init();
	if (!s->curl)
		return -ENOMEM;
	http_easy_common(s->curl, &(struct http_common){
		.write = on_body, .write_data = s,
		.progress = on_progress, .progress_data = s,
		.connect_timeout_ms = CH_CONNECT_TIMEOUT_MS,
		.timeout_ms = CH_TIMEOUT_MS,
	});
	return 0;
}

static enum dl_verdict ch_send(void *ctx, const void *payload, size_t len, uint32_t n_records,
			       uint32_t *retry_after_ms, char *err, size_t errlen)
{
	struct ch_sink *s = ctx;
	enum dl_verdict v;

	if (curl_setup(s)) {
		snprintf(err, errlen, "out of memory (libcurl handle)");
		return DL_RETRY;
	}
	if (s->ddl) { /* createTable: before the first insert */
		v = post(s, s->ddl_url, s->ddl, strlen(s->ddl), false, err, errlen);
		if (v != DL_SENT) {
			char e2[512];

			snprintf(e2, sizeof(e2), "CREATE TABLE failed: %s", err);
			snprintf(err, errlen, "%s", e2);
			return v == DL_REJECT ? DL_REJECT : DL_RETRY;
		}
		free(s->ddl);
		s->ddl = NULL;
	}
	if (!s->gzip)
		return post(s, s->insert_url, payload, len, false, err, errlen);
	if ((!s->z && !(s->z = gz_new(GZ_LEVEL_BODY))) || gz_pieces(s->z, &payload, &len, 1, &s->gz)) {
		snprintf(err, errlen, "cannot gzip a batch of %zu bytes (out of memory)", len);
		return DL_RETRY;
	}
	return post(s, s->insert_url, s->gz.p, s->gz.len, true, err, errlen);
}

/* ---- the sink */

static void ch_submit(void *ctx, struct ht_buf *buf, uint32_t n_records)
{
	struct ch_sink *s = ctx;

	delivery_submit(s->dl, buf, n_records);
}

static void ch_free(struct ch_sink *s)
{
	if (s->curl)
		curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->headers);
	curl_slist_free_all(s->headers_gz);
	ht_buf_free(&s->gz);
	gz_free(s->z);
	free(s->insert_url);
	free(s->ddl_url);
	free(s->ddl);
	free(s);
}

static void ch_close(void *ctx, uint32_t drain_ms)
{
	struct ch_sink *s = ctx;

	/* a send hanging on a stopped server gives up at the same deadline */
	__atomic_store_n(&s->abort_at_ns, ht_now_ns() + drain_ms * 1000000ull, __ATOMIC_RELEASE);
	delivery_close(s->dl, drain_ms);
	ch_free(s);
}

static const struct sink_ops ch_ops = {
	.name = "clickhouse",
	.encode = ch_encode,
	.submit = ch_submit,
	.close = ch_close,
};

/* The password: the file's first line (no newline); "" for no file. */
static int read_password(const char *path, char *pw, size_t cap, char *err, size_t errlen)
{
	ssize_t n;
	int fd;

	pw[0] = '\0';
	if (!path || !*path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "clickhouse: cannot read output.clickhouse.passwordFile %s: %s",
			 path, strerror(errno));
		return -1;
	}
	n = read(fd, pw, cap - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "clickhouse: cannot read output.clickhouse.passwordFile %s: %s",
			 path, strerror(errno));
		return -1;
	}
	pw[n] = '\0';
	pw[strcspn(pw, "\r\n")] = '\0';
	return 0;
}

/* base (a trailing '/' dropped) + "/" + rest; the SQL of rest is escaped by the caller. */
static char *url_join(const char *base, const char *rest)
{
	size_t bl = strlen(base);
	char *u;

	if (bl && base[bl - 1] == '/')
		bl--;
	return asprintf(&u, "%.*s/%s", (int)bl, base, rest) < 0 ? NULL : u;
}

static char *insert_url(const char *base, const char *db, const char *table)
{
	char sql[400], *q, *rest = NULL, *u = NULL;

	snprintf(sql, sizeof(sql), "INSERT INTO %s.%s FORMAT JSONEachRow", db, table);
	q = curl_easy_escape(NULL, sql, 0);
	if (q && asprintf(&rest, "?query=%s&enable_http_compression=1&input_format_skip_unknown_fields=1",
			  q) >= 0)
		u = url_join(base, rest);
	curl_free(q);
	free(rest);
	return u;
}

/* Both header lists: user and key, then the same with the gzip encoding. */
static int make_headers(struct ch_sink *s, const char *user, const char *pw)
{
	char h[CH_PASSWORD_MAX + 32];
	struct curl_slist **l[2] = { &s->headers, &s->headers_gz };
	int rc = 0;

	for (int i = 0; i < 2 && !rc; i++) {
		struct curl_slist *x;

		snprintf(h, sizeof(h), "X-ClickHouse-User: %s", user);
		x = curl_slist_append(NULL, h);
		if (x && pw[0]) {
			snprintf(h, sizeof(h), "X-ClickHouse-Key: %s", pw);
			x = curl_slist_append(x, h) ?: (curl_slist_free_all(x), NULL);
		}
		if (x && i)
			x = curl_slist_append(x, "Content-Encoding: gzip") ?: (curl_slist_free_all(x), NULL);
		*l[i] = x;
		rc = x ? 0 : -ENOMEM;
	}
	explicit_bzero(h, sizeof(h));
	return rc;
}

static int ch_setup(struct ch_sink *s, const struct ht_config *c, char *err, size_t errlen)
{
	char pw[CH_PASSWORD_MAX], node[256] = "";
	const char *env = getenv("NODE_NAME");
	struct ht_buf ddl = { 0 };
	int rc;

	if (read_password(c->ch_password_file, pw, sizeof(pw), err, errlen))
		return -1;
	rc = make_headers(s, c->ch_user, pw);
	explicit_bzero(pw, sizeof(pw));
	if (env && *env)
		snprintf(node, sizeof(node), "%s", env);
	else
		gethostname(node, sizeof(node) - 1);
	s->gzip = c->ch_gzip;
	s->insert_url = insert_url(c->ch_url, c->ch_database, c->ch_table);
	s->ddl_url = url_join(c->ch_url, ""); /* the DDL goes as the POST body */
	if (rc || !s->insert_url || !s->ddl_url ||
	    make_node_json(node, s->node_json, sizeof(s->node_json), &s->node_json_len))
		goto err_nomem;
	if (c->ch_create_table) {
		if (clickhouse_ddl(c->ch_database, c->ch_table, &ddl) || ht_buf_putc(&ddl, '\0'))
			goto err_nomem;
		s->ddl = ddl.p;
	}
	return 0;

err_nomem:
	ht_buf_free(&ddl);
	snprintf(err, errlen, "clickhouse: out of memory");
	return -1;
}

int clickhouse_sink_open(const struct ht_config *c, bool replay, struct sink *out, char *err,
			 size_t errlen)
{
	struct delivery_cfg dc = {
		.name = "clickhouse",
		.mem_max_bytes = CH_QUEUE_BYTES,
		.spool_dir = c->ch_spool_dir,
		.spool_max_bytes = c->ch_spool_max,
		.backoff_min_ms = CH_BACKOFF_MIN_MS,
		.backoff_max_ms = CH_BACKOFF_MAX_MS,
		.merge_max_bytes = CH_INSERT_MAX_BYTES,
		.wait_when_full = replay,
	};
	struct ch_sink *s;

	if (!c->ch_url || !*c->ch_url)
		return 0;
	if (http_global_init("clickhouse", err, errlen))
		return -1;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "clickhouse: out of memory");
		return -1;
	}
	if (ch_setup(s, c, err, errlen))
		goto err_free;
	s->dl = delivery_new(&dc, ch_send, s, err, errlen);
	if (!s->dl)
		goto err_free;
	*out = (struct sink){ .ops = &ch_ops, .ctx = s };
	return 1;

err_free:
	ch_free(s);
	return -1;
}
