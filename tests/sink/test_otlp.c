/*
 * test_otlp.c - the OTLP sink's response handling: Retry-After, the
 * receiver's message (google.rpc.Status, JSON, text), partial success; and
 * the whole sink (delivery, libcurl, gzip) against a small HTTP server on a
 * loopback socket in this test, answering a script of statuses: 503 with
 * Retry-After then 200 delivers the batch once, 400 rejects it without a
 * retry, and the body that arrives gunzips to our protobuf.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>

#include <zlib.h>

#include "base/record.h"
#include "config/config.h"
#include "ht_event.h"
#include "sink/delivery.h"
#include "sink/otlp.h"
#include "sink/pb.h"

static void test_retry_after(void **state)
{
	assert_int_equal(otlp_retry_after_ms(" 3\r\n", 4, 0, 60000), 3000);
	assert_int_equal(otlp_retry_after_ms("0", 1, 0, 60000), 0);
	assert_int_equal(otlp_retry_after_ms("999999", 6, 0, 60000), 60000);
	assert_int_equal(otlp_retry_after_ms("3s", 2, 0, 60000), 0);
	assert_int_equal(otlp_retry_after_ms("", 0, 0, 60000), 0);
	/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
	assert_int_equal(otlp_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 29, 784111770, 60000), 7000);
	assert_int_equal(otlp_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 29, 784111800, 60000), 1);
	assert_int_equal(otlp_retry_after_ms("soon", 4, 0, 60000), 0);
}

static void test_response_message(void **state)
{
	struct ht_buf b = { 0 };
	struct pbw w = { .b = &b };
	char msg[OTLP_MESSAGE_MAX + 1];

	pb_uint(&w, 1, 3);
	pb_bytes(&w, 2, "bad span\n\x01 id", 13);
	otlp_response_message("application/x-protobuf", b.p, b.len, msg, sizeof(msg));
	assert_string_equal(msg, "bad span  id"); /* the run \n\x01 is one space */
	otlp_response_message("application/json; charset=utf-8",
			      "{\"code\":3, \"message\" : \"too \\\"big\\\"\"}", 37, msg, sizeof(msg));
	assert_string_equal(msg, "too \\\"big\\\"");
	otlp_response_message("text/plain", "quota exceeded\nmore", 19, msg, sizeof(msg));
	assert_string_equal(msg, "quota exceeded");
	otlp_response_message(NULL, "", 0, msg, sizeof(msg));
	assert_string_equal(msg, "");
	otlp_response_message("application/x-protobuf", "\xff\xff", 2, msg, sizeof(msg));
	assert_string_equal(msg, "");
	ht_buf_free(&b);
}

static void test_partial_success(void **state)
{
	struct ht_buf b = { 0 };
	struct pbw w = { .b = &b };
	char msg[OTLP_MESSAGE_MAX + 1];
	size_t m;

	m = pb_begin(&w, 1);
	pb_uint(&w, 1, 7);
	pb_bytes(&w, 2, "dropped 7", 9);
	pb_end(&w, m);
	assert_int_equal(otlp_partial_success("application/x-protobuf", b.p, b.len, msg, sizeof(msg)), 7);
	assert_string_equal(msg, "dropped 7");
	assert_int_equal(otlp_partial_success("application/x-protobuf", "", 0, msg, sizeof(msg)), 0);
	assert_int_equal(otlp_partial_success("application/json",
		"{\"partialSuccess\":{\"rejectedSpans\":\"12\",\"errorMessage\":\"x\"}}", 61, msg, sizeof(msg)), 12);
	assert_string_equal(msg, "x");
	assert_int_equal(otlp_partial_success("application/json",
		"{\"partialSuccess\":{\"rejectedSpans\":5}}", 38, msg, sizeof(msg)), 5);
	assert_int_equal(otlp_partial_success("application/json", "{}", 2, msg, sizeof(msg)), 0);
	ht_buf_free(&b);
}

/* ---- a scripted HTTP/1.1 server on 127.0.0.1 (keep-alive) */

struct srv {
	int fd, port;
	pthread_t th;
	const char *const *script; /* one raw response head per request, then 200 */
	int n_script;
	int requests;
	char last_ctype[64], last_enc[32];
	struct ht_buf last_body;
};

static size_t hdr_value(const char *head, const char *name, char *out, size_t outlen)
{
	const char *p = strcasestr(head, name);
	size_t n;

	out[0] = '\0';
	if (!p)
		return 0;
	p += strlen(name);
	while (*p == ' ')
		p++;
	n = strcspn(p, "\r\n");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return n;
}

/* Serves one connection until it closes. */
static void serve(struct srv *s, int c)
{
	static char buf[1 << 20];
	size_t have = 0;

	for (;;) {
		char *end, cl[32];
		size_t head, body;
		ssize_t r;
		const char *resp;

		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			r = read(c, buf + have, sizeof(buf) - have);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		head = (size_t)(end - buf) + 4;
		buf[head - 2] = '\0';
		hdr_value(buf, "\ncontent-length:", cl, sizeof(cl));
		hdr_value(buf, "\ncontent-type:", s->last_ctype, sizeof(s->last_ctype));
		hdr_value(buf, "\ncontent-encoding:", s->last_enc, sizeof(s->last_enc));
		body = strtoul(cl, NULL, 10);
		while (have < head + body) {
			r = read(c, buf + have, sizeof(buf) - have);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		s->last_body.len = 0;
		ht_buf_put(&s->last_body, buf + head, body);
		resp = s->requests < s->n_script ? s->script[s->requests] :
		       "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
		__atomic_add_fetch(&s->requests, 1, __ATOMIC_RELEASE);
		if (write(c, resp, strlen(resp)) < 0)
			return;
		memmove(buf, buf + head + body, have - head - body);
		have -= head + body;
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		serve(s, c);
		close(c);
	}
	return NULL;
}

static void srv_start(struct srv *s, const char *const *script, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->n_script = n;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0); /* port 0: any free one */
	assert_int_equal(listen(s->fd, 4), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->th, NULL);
	ht_buf_free(&s->last_body);
}

struct find { struct dl_stats st; };

static void find_otlp(const char *name, const struct dl_stats *st, void *ctx)
{
	if (!strcmp(name, "otlp"))
		((struct find *)ctx)->st = *st;
}

/* The otlp delivery's counters once sent + dropped reach n (at most 20 s). */
static struct dl_stats wait_done(uint64_t n)
{
	struct find f;

	for (int i = 0; i < 2000; i++) {
		uint64_t done;

		memset(&f, 0, sizeof(f));
		delivery_foreach(find_otlp, &f);
		done = f.st.records_sent;
		for (int k = 0; k < DL_DROP_COUNT; k++)
			done += f.st.records_dropped[k];
		if (done >= n)
			break;
		usleep(10000);
	}
	return f.st;
}

static struct sink open_sink(int port, bool json)
{
	struct ht_config *c = ht_config_defaults();
	struct sink k;
	char url[64], err[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	free(c->otlp_endpoint);
	c->otlp_endpoint = strdup(url);
	c->otlp_endpoint_is_traces = false;
	c->otlp_json = json;
	c->otlp_gzip = true;
	if (otlp_sink_open(c, false, &k, err, sizeof(err)) != 1)
		fail_msg("%s", err);
	ht_config_free(c);
	return k;
}

static void submit_records(struct sink *k, int n)
{
	struct ht_record *r = ht_record_new();
	struct ht_buf b = { 0 };

	r->role = HT_ROLE_CLIENT;
	r->status = 200;
	ht_record_set(r, &r->method, "GET", 3);
	ht_record_set(r, &r->path, "/x", 2);
	for (int i = 0; i < n; i++)
		assert_int_equal(k->ops->encode(k->ctx, r, &b), 0);
	k->ops->submit(k->ctx, &b, (uint32_t)n);
	ht_record_free(r);
}

/* n ResourceSpans in the gzip body the server got. */
static int gunzip_count(const struct ht_buf *gz)
{
	static unsigned char out[1 << 20];
	z_stream zs = { 0 };
	struct pbr r;
	struct pb_field f;
	int n = 0;

	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)gz->p;
	zs.avail_in = (uInt)gz->len;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	r.p = out;
	r.end = out + zs.total_out;
	inflateEnd(&zs);
	while (pb_next(&r, &f) == 1) {
		assert_int_equal(f.num, 1);
		n++;
	}
	return n;
}

static void test_send_retry_then_ok(void **state)
{
	static const char *const script[] = {
		"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n",
	};
	struct srv s;
	struct sink k;
	struct dl_stats st;

	srv_start(&s, script, 2);
	k = open_sink(s.port, false);
	submit_records(&k, 3);
	st = wait_done(3);
	assert_int_equal(st.records_sent, 3);
	assert_int_equal(st.batches_sent, 1);
	assert_int_equal(st.retries, 2);
	assert_int_equal(__atomic_load_n(&s.requests, __ATOMIC_ACQUIRE), 3);
	assert_string_equal(s.last_ctype, "application/x-protobuf");
	assert_string_equal(s.last_enc, "gzip");
	assert_int_equal(gunzip_count(&s.last_body), 3);
	k.ops->close(k.ctx, 1000);
	srv_stop(&s);
}

static void test_send_reject(void **state)
{
	static const char *const script[] = {
		"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{\"code\":3,\"message\":\"no\"}\n",
	};
	struct srv s;
	struct sink k;
	struct dl_stats st;
	uint64_t before;

	srv_start(&s, script, 1);
	k = open_sink(s.port, true);
	before = wait_done(0).records_dropped[DL_DROP_REJECTED];
	submit_records(&k, 2);
	st = wait_done(2);
	assert_int_equal(st.records_dropped[DL_DROP_REJECTED] - before, 2);
	assert_int_equal(st.retries, 0);
	assert_int_equal(__atomic_load_n(&s.requests, __ATOMIC_ACQUIRE), 1); /* never retried */
	assert_string_equal(s.last_ctype, "application/json");
	k.ops->close(k.ctx, 1000);
	srv_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_response_message),
		cmocka_unit_test(test_partial_success),
		cmocka_unit_test(test_send_retry_then_ok),
		cmocka_unit_test(test_send_reject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
