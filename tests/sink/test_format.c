/*
 * test_format.c - record encoders: golden lines, strict JSON validity and
 * exact decoding of hostile bytes (checked by a validator written here and
 * by Python's json and csv modules), integer and time formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sink/format.h"
#include "ht_event.h"
#include "base/record.h"
#include "ref_esc.h"

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* Code points a JSON decoder must produce for raw bytes: valid UTF-8 decoded,
 * every other byte as its latin-1 code point.  Written independently of the
 * encoder: by decoded value, not by byte ranges. */
static size_t ref_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	size_t i = 0, k = 0;

	while (i < n) {
		uint8_t c = s[i];
		int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		uint32_t v = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
		bool ok = len > 0 && i + (size_t)len <= n;

		for (int j = 1; ok && j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				ok = false;
			else
				v = (v << 6) | (s[i + j] & 0x3f);
		}
		if (ok && len > 1) {
			static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };

			if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
				ok = false;
		}
		if (ok) {
			cp[k++] = v;
			i += (size_t)len;
		} else {
			cp[k++] = c;
			i++;
		}
	}
	return k;
}

/* --- a strict JSON validator (RFC 8259) that also decodes strings --- */

struct jstr {
	uint32_t *cp;
	size_t n;
};

struct jp {
	const uint8_t *s;
	size_t n, i;
	struct jstr *strs; /* every string, in document order */
	size_t nstr, capstr;
	int depth;
};

static bool jp_value(struct jp *p);

static void jp_ws(struct jp *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
			       p->s[p->i] == '\r'))
		p->i++;
}

static int hexv(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool jp_string(struct jp *p)
{
	struct jstr js = { 0 };
	size_t cap = 16;

	if (p->i >= p->n || p->s[p->i] != '"')
		return false;
	p->i++;
	js.cp = malloc(cap * sizeof(*js.cp));
	for (;;) {
		uint32_t v;
		uint8_t c;

		if (p->i >= p->n)
			goto bad;
		c = p->s[p->i];
		if (c == '"') {
			p->i++;
			break;
		}
		if (c < 0x20)
			goto bad; /* raw control byte */
		if (c == '\\') {
			if (p->i + 1 >= p->n)
				goto bad;
			c = p->s[p->i + 1];
			p->i += 2;
			switch (c) {
			case '"': v = '"'; break;
			case '\\': v = '\\'; break;
			case '/': v = '/'; break;
			case 'b': v = 8; break;
			case 'f': v = 12; break;
			case 'n': v = 10; break;
			case 'r': v = 13; break;
			case 't': v = 9; break;
			case 'u':
				if (p->i + 4 > p->n)
					goto bad;
				v = 0;
				for (int j = 0; j < 4; j++) {
					int h = hexv(p->s[p->i + j]);

					if (h < 0)
						goto bad;
					v = v << 4 | (uint32_t)h;
				}
				p->i += 4;
				if (v >= 0xd800 && v <= 0xdfff)
					goto bad; /* the encoder never needs surrogate escapes */
				break;
			default:
				goto bad;
			}
		} else {
			/* raw bytes must be strictly valid UTF-8 */
			uint32_t one[4];
			int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;

			if (!len || p->i + (size_t)len > p->n)
				goto bad;
			if (ref_decode(p->s + p->i, (size_t)len, one) != 1)
				goto bad;
			v = one[0];
			p->i += (size_t)len;
		}
		if (js.n == cap) {
			cap *= 2;
			js.cp = realloc(js.cp, cap * sizeof(*js.cp));
		}
		js.cp[js.n++] = v;
	}
	if (p->nstr == p->capstr) {
		p->capstr = p->capstr ? p->capstr * 2 : 64;
		p->strs = realloc(p->strs, p->capstr * sizeof(*p->strs));
	}
	p->strs[p->nstr++] = js;
	return true;
bad:
	free(js.cp);
	return false;
}

static bool jp_number(struct jp *p)
{
	size_t st = p->i;

	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (p->i >= p->n)
		return false;
	if (p->s[p->i] == '0') {
		p->i++;
	} else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	} else {
		return false;
	}
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
			return false;
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	}
	return p->i > st;
}

static bool jp_container(struct jp *p, char open, char close)
{
	bool first = true;

	if (++p->depth > 64)
		return false;
	p->i++; /* open */
	jp_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		p->depth--;
		return true;
	}
	for (;;) {
		jp_ws(p);
		if (!first) {
			if (p->i >= p->n)
				return false;
			if (p->s[p->i] == close) {
				p->i++;
				p->depth--;
				return true;
			}
			if (p->s[p->i] != ',')
				return false;
			p->i++;
			jp_ws(p);
		}
		first = false;
		if (open == '{') {
			if (!jp_string(p))
				return false;
			jp_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return false;
			p->i++;
			jp_ws(p);
		}
		if (!jp_value(p))
			return false;
		jp_ws(p);
	}
}

static bool jp_value(struct jp *p)
{
	if (p->i >= p->n)
		return false;
	switch (p->s[p->i]) {
	case '{':
		return jp_container(p, '{', '}');
	case '[':
		return jp_container(p, '[', ']');
	case '"':
		return jp_string(p);
	case 't':
		if (p->n - p->i >= 4 && !memcmp(p->s + p->i, "true", 4))
			return p->i += 4, true;
		return false;
	case 'f':
		if (p->n - p->i >= 5 && !memcmp(p->s + p->i, "false", 5))
			return p->i += 5, true;
		return false;
	case 'n':
		if (p->n - p->i >= 4 && !memcmp(p->s + p->i, "null", 4))
			return p->i += 4, true;
		return false;
	default:
		return jp_number(p);
	}
}

static void jp_free(struct jp *p)
{
	for (size_t i = 0; i < p->nstr; i++)
		free(p->strs[i].cp);
	free(p->strs);
	memset(p, 0, sizeof(*p));
}

/* Validate exactly one JSON object in s[0..n) followed by one '\n'; strings collected. */
static bool json_line_ok(struct jp *p, const char *s, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->s = (const uint8_t *)s;
	p->n = n;
	if (!n || s[0] != '{' || !jp_value(p))
		return false;
	return p->i + 1 == n && s[p->i] == '\n';
}

static bool jstr_is(const struct jstr *js, const char *lit)
{
	size_t n = strlen(lit);

	if (js->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (js->cp[i] != (uint8_t)lit[i])
			return false;
	return true;
}

/* The decoded string value that follows key `key` (first occurrence), or NULL. */
static const struct jstr *jp_field(const struct jp *p, const char *key)
{
	for (size_t i = 0; i + 1 < p->nstr; i++)
		if (jstr_is(&p->strs[i], key))
			return &p->strs[i + 1];
	return NULL;
}

static void assert_decodes_to(const struct jstr *js, const void *raw, size_t n)
{
	uint32_t *want = malloc((n + 1) * sizeof(*want));
	size_t k = ref_decode(raw, n, want);

	assert_non_null(js);
	assert_int_equal(js->n, k);
	assert_memory_equal(js->cp, want, k * sizeof(*want));
	free(want);
}

/* A fully populated record with fixed values. */
static struct ht_record *known_record(void)
{
	struct ht_record *r = ht_record_new();

	assert_non_null(r);
	r->time_unix_nano = 1795590062123456789ull;
	r->latency_ns = 1500;
	r->role = HT_ROLE_SERVER;
	r->version_minor = 1;
	r->pid = 42;
	r->tid = 43;
	strcpy(r->comm, "nginx");
	assert_int_equal(ht_addr_parse("127.0.0.1", &r->local), 0);
	r->local_port = 80;
	assert_int_equal(ht_addr_parse("127.0.0.1", &r->remote), 0);
	r->remote_port = 51234;
	r->status = 200;
	assert_int_equal(ht_record_set(r, &r->method, "GET", 3), 0);
	assert_int_equal(ht_record_set(r, &r->target, "/api/v1?x=1", 11), 0);
	assert_int_equal(ht_record_set(r, &r->path, "/api/v1", 7), 0);
	assert_int_equal(ht_record_set(r, &r->host, "example.com", 11), 0);
	assert_int_equal(ht_record_set(r, &r->reason, "OK", 2), 0);
	assert_int_equal(ht_record_add_header(r, &r->req_headers, "Host", 4, "example.com", 11), 0);
	assert_int_equal(ht_record_add_header(r, &r->req_headers, "Accept", 6, "*/*", 3), 0);
	assert_int_equal(ht_record_add_header(r, &r->req_headers, "accept", 6, "text/html", 9), 0);
	assert_int_equal(ht_record_add_header(r, &r->resp_headers, "Content-Length", 14, "5", 1), 0);
	assert_int_equal(ht_record_set(r, &r->resp_body, "hello", 5), 0);
	r->resp_body_size = 5;
	return r;
}

/* ------------------------------------------------------------ numbers */

static void test_u64(void **state)
{
	static const uint64_t v[] = { 0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535,
				      4294967295ull, 4294967296ull, 9999999999999999999ull,
				      10000000000000000000ull, UINT64_MAX };
	char got[32], want[32];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = format_u64(got, v[i]);

		snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
		assert_int_equal(n, strlen(want));
		assert_memory_equal(got, want, n);
	}
	/* every digit count: around each power of ten */
	for (uint64_t p10 = 10; p10 <= 10000000000000000000ull; p10 *= 10) {
		for (uint64_t x = p10 - 1; x <= p10; x++) {
			size_t n = format_u64(got, x);

			snprintf(want, sizeof(want), "%llu", (unsigned long long)x);
			assert_int_equal(n, strlen(want));
			assert_memory_equal(got, want, n);
		}
		if (p10 == 10000000000000000000ull)
			break;
	}
	for (int i = 0; i < 200000; i++) {
		uint64_t x = rnd() >> (rnd() % 64);
		size_t n = format_u64(got, x);

		snprintf(want, sizeof(want), "%llu", (unsigned long long)x);
		assert_int_equal(n, strlen(want));
		assert_memory_equal(got, want, n);
	}
}

static void check_time(uint64_t ns)
{
	char got[FORMAT_TIME_LEN + 1], want[64];
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;

	assert_non_null(gmtime_r(&secs, &tm));
	snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ns % 1000000000u));
	format_time(got, ns);
	got[FORMAT_TIME_LEN] = '\0';
	assert_string_equal(got, want);
}

static void test_time(void **state)
{
	static const struct {
		uint64_t ns;
		const char *want;
	} known[] = {
		{ 0, "1970-01-01T00:00:00.000000000Z" },
		{ 1795590062123456789ull, "2026-11-25T07:01:02.123456789Z" },
		{ 951782400000000001ull, "2000-02-29T00:00:00.000000001Z" },  /* leap day */
		{ 4107542399999999999ull, "2100-02-28T23:59:59.999999999Z" }, /* 2100: no leap */
		{ 4107542400000000000ull, "2100-03-01T00:00:00.000000000Z" },
		{ UINT64_MAX, "2554-07-21T23:34:33.709551615Z" },
	};
	char got[FORMAT_TIME_LEN + 1];

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		format_time(got, known[i].ns);
		got[FORMAT_TIME_LEN] = '\0';
		assert_string_equal(got, known[i].want);
		check_time(known[i].ns);
	}
	for (int i = 0; i < 100000; i++)
		check_time(rnd());
}

/* ------------------------------------------------------------- golden */

static const char golden_ndjson[] =
	"{\"time\":\"2026-11-25T07:01:02.123456789Z\",\"time_unix_nano\":1795590062123456789,"
	"\"latency_ns\":1500,\"role\":\"server\",\"pid\":42,\"tid\":43,\"comm\":\"nginx\","
	"\"local_addr\":\"127.0.0.1\",\"local_port\":80,\"remote_addr\":\"127.0.0.1\","
	"\"remote_port\":51234,\"version\":\"1.1\",\"method\":\"GET\",\"target\":\"/api/v1?x=1\","
	"\"path\":\"/api/v1\",\"host\":\"example.com\","
	"\"req_headers\":{\"host\":\"example.com\",\"accept\":\"*/*, text/html\"},"
	"\"resp_headers\":{\"content-length\":\"5\"},\"req_body\":\"\",\"resp_body\":\"hello\","
	"\"req_body_size\":0,\"resp_body_size\":5,\"status\":200,\"reason\":\"OK\",\"flags\":[]}\n";

static void test_golden_ndjson(void **state)
{
	struct ht_record *r = known_record();
	struct ht_buf b = { 0 };

	assert_int_equal(format_record(HT_FMT_NDJSON, r, &b), 0);
	assert_int_equal(b.len, strlen(golden_ndjson));
	assert_memory_equal(b.p, golden_ndjson, b.len);
	/* appends: a second record follows the first unchanged */
	assert_int_equal(format_record(HT_FMT_NDJSON, r, &b), 0);
	assert_int_equal(b.len, 2 * strlen(golden_ndjson));
	assert_memory_equal(b.p + b.len / 2, golden_ndjson, b.len / 2);
	ht_buf_free(&b);
	ht_record_free(r);
}

/* tls: written only when true (JSON), "true" or an empty CSV field. */
static void test_tls_field(void **state)
{
	struct ht_record *r = known_record();
	struct ht_buf b = { 0 };

	assert_int_equal(format_record(HT_FMT_NDJSON, r, &b), 0);
	assert_null(memmem(b.p, b.len, "\"tls\"", 5));
	b.len = 0;
	r->tls = true;
	assert_int_equal(format_record(HT_FMT_NDJSON, r, &b), 0);
	assert_true(b.len > 13 && !memcmp(b.p + b.len - 13, ",\"tls\":true}\n", 13));
	assert_true(b.len <= format_record_bound(r));
	b.len = 0;
	assert_int_equal(format_record(HT_FMT_JSON, r, &b), 0);
	assert_non_null(memmem(b.p, b.len, ",\n  \"tls\": true\n}\n", 18));
	b.len = 0;
	assert_int_equal(format_record(HT_FMT_CSV, r, &b), 0);
	assert_true(b.len > 7 && !memcmp(b.p + b.len - 7, ",true\r\n", 7));
	ht_buf_free(&b);
	ht_record_free(r);
}

static void test_golden_pretty_json(void **state)
{
	static const char want[] =
		"{\n"
		"  \"time\": \"2026-11-25T07:01:02.123456789Z\",\n"
		"  \"time_unix_nano\": 1795590062123456789,\n"
		"  \"latency_ns\": 1500,\n"
		"  \"role\": \"client\",\n"
		"  \"pid\": 42,\n"
		"  \"tid\": 43,\n"
		"  \"comm\": \"nginx\",\n"
		"  \"local_addr\": \"127.0.0.1\",\n"
		"  \"local_port\": 80,\n"
		"  \"remote_addr\": \"127.0.0.1\",\n"
		"  \"remote_port\": 51234,\n"
		"  \"version\": \"1.0\",\n"
		"  \"method\": \"GET\",\n"
		"  \"target\": \"/api/v1?x=1\",\n"
		"  \"path\": \"/api/v1\",\n"
		"  \"host\": \"example.com\",\n"
		"  \"req_headers\": {\n"
		"    \"host\": \"example.com\",\n"
		"    \"accept\": \"*/*, text/html\"\n"
		"  },\n"
		"  \"resp_headers\": {},\n"
		"  \"req_body\": \"\",\n"
		"  \"resp_body\": \"hello\",\n"
		"  \"req_body_size\": 0,\n"
		"  \"resp_body_size\": 5,\n"
		"  \"status\": 200,\n"
		"  \"reason\": \"OK\",\n"
		"  \"flags\": [\n"
		"    \"gap\",\n"
		"    \"redacted\"\n"
		"  ],\n"
		"  \"container_id\": \"c0ffee\",\n"
		"  \"namespace\": \"prod\",\n"
		"  \"workload_kind\": \"Deployment\",\n"
		"  \"remote_service\": \"cart\"\n"
		"}\n";
	struct ht_record *r = known_record();
	struct ht_buf b = { 0 };

	r->role = HT_ROLE_CLIENT;
	r->version_minor = 0;
	free(r->resp_headers.v);
	r->resp_headers.v = NULL;
	r->resp_headers.n = r->resp_headers.cap = 0;
	r->flags = HT_RF_GAP | HT_RF_REDACTED | HT_RF_SAMPLED_OUT;
	assert_int_equal(ht_record_set(r, &r->container_id, "c0ffee", 6), 0);
	assert_int_equal(ht_record_set(r, &r->namespace_, "prod", 4), 0);
	assert_int_equal(ht_record_set(r, &r->workload_kind, "Deployment", 10), 0);
	assert_int_equal(ht_record_set(r, &r->remote_service, "cart", 4), 0);
	assert_int_equal(format_record(HT_FMT_JSON, r, &b), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	ht_buf_free(&b);
	ht_record_free(r);
}

static void test_golden_csv(void **state)
{
	static const char head[] =
		"time,time_unix_nano,latency_ns,role,pid,tid,comm,local_addr,local_port,"
		"remote_addr,remote_port,version,method,target,path,host,req_headers,resp_headers,"
		"req_body,resp_body,req_body_size,resp_body_size,status,reason,flags,container_id,"
		"pod,namespace,node,container,workload_kind,workload,remote_pod,remote_namespace,"
		"remote_service,tls\r\n";
	static const char row[] =
		"2026-11-25T07:01:02.123456789Z,1795590062123456789,1500,unknown,42,43,nginx,"
		"127.0.0.1,80,127.0.0.1,51234,1.1,GET,/api/v1?x=1,/api/v1,example.com,"
		"\"{\"\"host\"\":\"\"example.com\"\",\"\"accept\"\":\"\"*/*, text/html\"\"}\","
		"\"{\"\"content-length\"\":\"\"5\"\"}\",,"
		"\"say \"\"hi\"\",\\n\\\\ \\u0000\\u00ff\",0,5,200,OK,"
		"\"[\"\"req_body_truncated\"\",\"\"upgrade\"\"]\",,pod-1,,,,,web,,,,\r\n";
	struct ht_record *r = known_record();
	struct ht_buf b = { 0 };

	r->role = 7; /* not a known role */
	r->flags = HT_RF_REQ_BODY_TRUNCATED | HT_RF_UPGRADE | (1u << 20);
	assert_int_equal(ht_record_set(r, &r->resp_body, "say \"hi\",\n\\ \0\xff", 14), 0);
	assert_int_equal(ht_record_set(r, &r->pod, "pod-1", 5), 0);
	assert_int_equal(ht_record_set(r, &r->workload, "web", 3), 0);
	assert_int_equal(format_csv_header(&b), 0);
	assert_int_equal(b.len, strlen(head));
	assert_memory_equal(b.p, head, b.len);
	b.len = 0;
	assert_int_equal(format_record(HT_FMT_CSV, r, &b), 0);
	assert_int_equal(b.len, strlen(row));
	assert_memory_equal(b.p, row, b.len);
	ht_buf_free(&b);
	ht_record_free(r);
}

/* Every flag in bit order; sampled_out and unknown bits never printed. */
static void test_flags(void **state)
{
	struct ht_record *r = known_record();
	struct ht_buf b = { 0 };
	struct jp p;
	size_t k = 0;

	r->flags = 0xffffffffu;
	assert_int_equal(format_record(HT_FMT_NDJSON, r, &b), 0);
	assert_true(json_line_ok(&p, b.p, b.len));
	assert_null(memmem(b.p, b.len, "sampled_out", 11));
	for (size_t i = 0; i < p.nstr; i++) {
		if (!jstr_is(&p.strs[i], "flags"))
			continue;
		for (int bit = 0; bit < HT_RF_COUNT; bit++) {
			if ((1u << bit) == HT_RF_SAMPLED_OUT)
				continue;
			assert_true(jstr_is(&p.strs[i + 1 + k], ht_record_flag_names[bit]));
			k++;
		}
	}
	assert_int_equal(k, HT_RF_COUNT - 1);
	jp_free(&p);
	ht_buf_free(&b);
	ht_record_free(r);
}

/* Corrupt string offsets, an unterminated comm and an unknown address family
 * never read out of bounds. */
static void test_bad_record_fields(void **state)
{
	struct ht_record *r = known_record();
	struct ht_buf b = { 0 };
	struct jp p;

	memset(r->comm, 'A', sizeof(r->comm));             /* no NUL */
	memset(&r->local, 0xff, sizeof(r->local));        /* family 255: unknown */
	r->method.off = r->arena_len;                     /* one past the end */
	r->method.len = 1;
	r->target.off = UINT32_MAX;
	r->target.len = UINT32_MAX;
	r->req_headers.v[0].value.off = r->arena_len - 1;
	r->req_headers.v[0].value.len = 2;
	for (int f = 0; f <= HT_FMT_CSV; f++) {
		b.len = 0;
		assert_int_equal(format_record(f, r, &b), 0);
		if (f == HT_FMT_NDJSON) {
			assert_true(json_line_ok(&p, b.p, b.len));
			assert_true(jstr_is(jp_field(&p, "comm"), "AAAAAAAAAAAAAAAA"));
			assert_true(jstr_is(jp_field(&p, "method"), ""));
			assert_true(jstr_is(jp_field(&p, "target"), ""));
			assert_true(jstr_is(jp_field(&p, "local_addr"), ""));
			jp_free(&p);
		}
	}
	/* an unknown format changes nothing */
	b.len = 3;
	assert_int_equal(format_record((enum ht_format)9, r, &b), -EINVAL);
	assert_int_equal(b.len, 3);
	assert_int_equal(format_record(HT_FMT_NDJSON, NULL, &b), -EINVAL);
	ht_buf_free(&b);
	ht_record_free(r);
}

/* ----------------------------------------------------- hostile strings */

/* Encode raw into req_body, a header name and value, comm-free fields; validate and decode. */
static void check_hostile(const void *raw, size_t n)
{
	struct ht_record *r = known_record();
	struct ht_buf b = { 0 };
	struct jp p;

	assert_int_equal(ht_record_set(r, &r->req_body, raw, n), 0);
	assert_int_equal(ht_record_set(r, &r->reason, raw, n), 0);
	if (n)
		assert_int_equal(ht_record_add_header(r, &r->resp_headers, "x-h", 3, (const char *)raw, n), 0);
	for (int f = 0; f < 2; f++) {
		b.len = 0;
		assert_int_equal(format_record(f, r, &b), 0);
		if (f == HT_FMT_NDJSON) {
			assert_true(json_line_ok(&p, b.p, b.len));
			/* one line per record: no raw newline inside */
			assert_ptr_equal(memchr(b.p, '\n', b.len), b.p + b.len - 1);
		} else {
			memset(&p, 0, sizeof(p));
			p.s = (const uint8_t *)b.p;
			p.n = b.len;
			assert_true(jp_value(&p));
			assert_int_equal(p.i + 1, b.len);
		}
		assert_decodes_to(jp_field(&p, "req_body"), raw, n);
		assert_decodes_to(jp_field(&p, "reason"), raw, n);
		if (n)
			assert_decodes_to(jp_field(&p, "x-h"), raw, n);
		jp_free(&p);
	}
	ht_buf_free(&b);
	ht_record_free(r);
}

static void test_every_byte(void **state)
{
	uint8_t all[256];

	for (int c = 0; c < 256; c++) {
		uint8_t one = (uint8_t)c;

		all[c] = (uint8_t)c;
		check_hostile(&one, 1);
	}
	check_hostile(all, sizeof(all));
	check_hostile("", 0);
}

/* Exact escapes of the UTF-8 shapes that must and must not pass through. */
static void test_utf8_shapes(void **state)
{
	static const struct {
		const char *label, *in, *out;
	} cases[] = {
		{ "ascii", "GET /", "GET /" },
		{ "quote+backslash", "a\"b\\c", "a\\\"b\\\\c" },
		{ "shortcuts", "\n\r\t", "\\n\\r\\t" },
		{ "other controls", "\x01\x08\x0c\x1f", "\\u0001\\u0008\\u000c\\u001f" },
		{ "DEL", "\x7f", "\\u007f" },
		{ "2-byte", "\xc3\xa9", "\xc3\xa9" },
		{ "3-byte", "\xe2\x82\xac", "\xe2\x82\xac" },
		{ "4-byte", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "U+10FFFF", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },
		{ "U+FFFF", "\xef\xbf\xbf", "\xef\xbf\xbf" },
		{ "overlong 2", "\xc0\xaf", "\\u00c0\\u00af" },
		{ "overlong 2 c1", "\xc1\xbf", "\\u00c1\\u00bf" },
		{ "overlong 3", "\xe0\x80\xaf", "\\u00e0\\u0080\\u00af" },
		{ "overlong 4", "\xf0\x80\x80\xaf", "\\u00f0\\u0080\\u0080\\u00af" },
		{ "surrogate lo", "\xed\xa0\x80", "\\u00ed\\u00a0\\u0080" },
		{ "surrogate hi", "\xed\xbf\xbf", "\\u00ed\\u00bf\\u00bf" },
		{ "before surrogates", "\xed\x9f\xbf", "\xed\x9f\xbf" },
		{ "above U+10FFFF", "\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080" },
		{ "f5 lead", "\xf5\x80\x80\x80", "\\u00f5\\u0080\\u0080\\u0080" },
		{ "ff", "\xff", "\\u00ff" },
		{ "truncated 2 at end", "a\xc3", "a\\u00c3" },
		{ "truncated 3", "\xe2\x82z", "\\u00e2\\u0082z" },
		{ "truncated 4 at end", "\xf0\x9f\x98", "\\u00f0\\u009f\\u0098" },
		{ "stray continuation", "\x80x\xbf", "\\u0080x\\u00bf" },
		{ "lead then ascii", "\xc3(", "\\u00c3(" },
		{ "valid after invalid", "\xff\xc3\xa9", "\\u00ff\xc3\xa9" },
		{ "latin-1 body", "caf\xe9", "caf\\u00e9" },
	};
	struct ht_buf b = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);

		b.len = 0;
		assert_int_equal(format_json_string(&b, cases[i].in, n), 0);
		assert_int_equal(b.len, strlen(cases[i].out) + 2);
		if (memcmp(b.p + 1, cases[i].out, b.len - 2)) {
			print_error("case %s: got %.*s\n", cases[i].label, (int)b.len, b.p);
			fail();
		}
		check_hostile(cases[i].in, n);
	}
	/* NUL inside */
	b.len = 0;
	assert_int_equal(format_json_string(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.p, "\"a\\u0000b\"", 10);
	ht_buf_free(&b);
}

static size_t put_utf8(uint8_t *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (uint8_t)(0xc0 | cp >> 6);
		p[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (uint8_t)(0xe0 | cp >> 12);
		p[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (uint8_t)(0xf0 | cp >> 18);
	p[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Valid UTF-8 without characters JSON must escape comes out byte for byte. */
static void test_utf8_passthrough(void **state)
{
	static const uint32_t edges[] = { 0x20, 0x7e, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000,
					  0xfffd, 0xffff, 0x10000, 0x10ffff };
	uint8_t s[4096];
	struct ht_buf b = { 0 };

	for (int round = 0; round < 2000; round++) {
		size_t n = 0;

		if (round == 0) {
			for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
				n += put_utf8(s + n, edges[i]);
		}
		while (n + 4 < sizeof(s) && rnd() % 300) {
			uint32_t cp;

			do {
				uint64_t x = rnd();

				cp = x % 4 == 0 ? (uint32_t)(x >> 8) % 0x110000 :
				     x % 4 == 1 ? (uint32_t)(x >> 8) % 0x800 :
				     x % 4 == 2 ? (uint32_t)(x >> 8) % 0x10000 : 0x20 + (uint32_t)(x >> 8) % 95;
			} while (cp < 0x20 || cp == '"' || cp == '\\' || cp == 0x7f ||
				 (cp >= 0xd800 && cp <= 0xdfff));
			n += put_utf8(s + n, cp);
		}
		b.len = 0;
		assert_int_equal(format_json_string(&b, s, n), 0);
		assert_int_equal(b.len, n + 2);
		assert_memory_equal(b.p + 1, s, n);
		check_hostile(s, n);
	}
	ht_buf_free(&b);
}

/* Random byte strings (UTF-8-ish and not) at every split; SWAR boundaries included. */
static void fill_random(uint8_t *s, size_t n)
{
	static const uint8_t pick[] = { 'a', '"', '\\', 0, '\n', 0x7f, 0x80, 0xbf, 0xc0, 0xc2,
					0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f,
					0x90, 0x8f, ',', ' ' };

	for (size_t i = 0; i < n; i++) {
		uint64_t x = rnd();

		s[i] = (x & 3) == 0 ? pick[(x >> 8) % sizeof(pick)] :
		       (x & 3) == 1 ? (uint8_t)(x >> 16) : (uint8_t)(0x20 + (x >> 16) % 95);
	}
}

static void test_fuzz(void **state)
{
	uint8_t s[80];

	for (int i = 0; i < 20000; i++) {
		size_t n = rnd() % sizeof(s);

		fill_random(s, n);
		check_hostile(s, n);
	}
}

/* ASCII text dense with escapes (JSON bodies are full of quotes), long enough
 * for the vector path, in all three escaping modes, against the reference. */
static void test_dense_ascii_escapes(void **state)
{
	static const uint8_t pick[] = { '"', '\\', '\n', '\r', '\t', 1, 0x1f, 0x7f, ',', ':', '{' };
	uint8_t s[200];
	char want[200 * 6 + 128], field[200 * 6 + 64];

	for (int it = 0; it < 5000; it++) {
		size_t n = rnd() % sizeof(s);
		unsigned density = 1 + (unsigned)(rnd() % 8);
		struct ht_record *r = known_record();
		struct ht_buf b = { 0 };
		bool quoted;

		for (size_t i = 0; i < n; i++) {
			uint64_t x = rnd();

			s[i] = x % density == 0 ? pick[(x >> 8) % sizeof(pick)] : (uint8_t)('a' + (x >> 16) % 26);
		}
		/* JSON */
		want[0] = '"';
		ref_esc(want + 1, s, n, 0);
		strcat(want, "\"");
		assert_int_equal(format_json_string(&b, s, n), 0);
		assert_int_equal(b.len, strlen(want));
		assert_memory_equal(b.p, want, b.len);
		/* CSV: req_body is text, a header value is JSON text inside the field */
		assert_int_equal(ht_record_set(r, &r->req_body, s, n), 0);
		assert_int_equal(ht_record_add_header(r, &r->resp_headers, "x-h", 3, (const char *)s, n), 0);
		b.len = 0;
		assert_int_equal(format_record(HT_FMT_CSV, r, &b), 0);
		assert_int_equal(ht_buf_putc(&b, '\0'), 0);
		quoted = memchr(s, '"', n) || memchr(s, ',', n);
		ref_esc(field, s, n, 1);
		snprintf(want, sizeof(want), ",%s%s%s,", quoted ? "\"" : "", field, quoted ? "\"" : "");
		assert_non_null(strstr(b.p, want));
		ref_esc(field, s, n, 2);
		snprintf(want, sizeof(want), "\"\"x-h\"\":\"\"%s\"\"}\",", field);
		assert_non_null(strstr(b.p, want));
		ht_buf_free(&b);
		ht_record_free(r);
	}
}

static void test_huge_string(void **state)
{
	size_t n = 4u << 20;
	uint8_t *s = malloc(n);
	struct ht_buf b = { 0 };
	struct jp p;

	fill_random(s, n);
	check_hostile(s, n);
	/* all-ASCII huge body comes out verbatim */
	memset(s, 'x', n);
	assert_int_equal(format_json_string(&b, s, n), 0);
	assert_int_equal(b.len, n + 2);
	memset(&p, 0, sizeof(p));
	p.s = (const uint8_t *)b.p;
	p.n = b.len;
	assert_true(jp_string(&p));
	assert_int_equal(p.strs[0].n, n);
	jp_free(&p);
	ht_buf_free(&b);
	free(s);
}

/* ------------------------------------------------ Python cross-checks */

static const char py_json[] =
	"import codecs, json, sys\n"
	"codecs.register_error('latin1', lambda e: (''.join(chr(b) for b in e.object[e.start:e.end]), e.end))\n"
	"lines = open(sys.argv[1], 'rb').read().split(b'\\n')[:-1]\n"
	"hexes = open(sys.argv[2]).read().split()\n"
	"assert len(lines) == len(hexes) > 0, (len(lines), len(hexes))\n"
	"objs = []\n"
	"for l, h in zip(lines, hexes):\n"
	"    o = json.loads(l.decode('utf-8'))\n"
	"    raw = bytes.fromhex(h) if h != '-' else b''\n"
	"    want = raw.decode('utf-8', 'latin1')\n"
	"    assert o['req_body'] == want, (o['req_body'], want)\n"
	"    assert o['reason'] == want\n"
	"    assert o['resp_headers'].get('x-h', want) == want\n"
	"    objs.append(o)\n"
	"text = open(sys.argv[3], 'rb').read().decode('utf-8')\n"
	"dec, i, k = json.JSONDecoder(), 0, 0\n"
	"while i < len(text):\n"
	"    assert text[i] == '{'\n"
	"    o, i = dec.raw_decode(text, i)\n"
	"    assert text[i - 2:i + 1] == '\\n}\\n'; i += 1\n"
	"    assert o == objs[k]; k += 1\n"
	"assert k == len(objs)\n"
	"print('ok', k)\n";

static const char py_csv[] =
	"import codecs, csv, json, sys\n"
	"codecs.register_error('latin1', lambda e: (''.join(chr(b) for b in e.object[e.start:e.end]), e.end))\n"
	"hexes = open(sys.argv[2]).read().split()\n"
	"nd = [json.loads(l) for l in open(sys.argv[3], encoding='utf-8')]\n"
	"raw = open(sys.argv[1], 'rb').read()\n"
	"assert raw.count(b'\\r\\n') == len(hexes) + 1 and raw.endswith(b'\\r\\n')\n"
	"rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8'), strict=True))\n"
	"cols = rows[0]\n"
	"assert len(cols) == 36 and cols[0] == 'time' and cols[-1] == 'tls', cols\n"
	"assert len(rows) == len(hexes) + 1\n"
	"def text(f): return json.loads('\"' + f.replace('\"', '\\\\\"') + '\"')\n"
	"for row, h, o in zip(rows[1:], hexes, nd):\n"
	"    assert len(row) == 36, len(row)\n"
	"    want = (bytes.fromhex(h) if h != '-' else b'').decode('utf-8', 'latin1')\n"
	"    d = dict(zip(cols, row))\n"
	"    assert text(d['req_body']) == want, (d['req_body'], want)\n"
	"    assert text(d['reason']) == want\n"
	"    for k in ('req_headers', 'resp_headers', 'flags'):\n"
	"        assert json.loads(d[k]) == o[k], k\n"
	"    for k, v in o.items():\n"
	"        if isinstance(v, int): assert d[k] == str(v), k\n"
	"        elif isinstance(v, str): assert text(d[k]) == v, k\n"
	"print('ok', len(rows) - 1)\n";

static int run_python(const char *script, const char *a, const char *b, const char *c)
{
	char path[] = "/tmp/test_format_py_XXXXXX";
	char cmd[512], out[256] = "";
	int fd = mkstemp(path), rc;
	FILE *f;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, script, strlen(script)), (ssize_t)strlen(script));
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 %s %s %s %s 2>&1", path, a, b, c);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(out, sizeof(out), f))
		fputs(out, stderr);
	rc = pclose(f);
	unlink(path);
	return rc;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Hostile records through Python's json (NDJSON and the pretty stream) and csv modules. */
static void test_python_roundtrip(void **state)
{
	char dir[] = "/tmp/test_format_XXXXXX";
	char nd_path[300], pj_path[300], csv_path[300], hex_path[300];
	struct ht_buf nd = { 0 }, pj = { 0 }, csv = { 0 }, hex = { 0 };
	uint8_t s[300];

	assert_non_null(mkdtemp(dir));
	snprintf(nd_path, sizeof(nd_path), "%s/a.ndjson", dir);
	snprintf(pj_path, sizeof(pj_path), "%s/a.json", dir);
	snprintf(csv_path, sizeof(csv_path), "%s/a.csv", dir);
	snprintf(hex_path, sizeof(hex_path), "%s/a.hex", dir);
	assert_int_equal(format_csv_header(&csv), 0);
	for (int i = 0; i < 3000; i++) {
		size_t n = i < 256 ? 1 : rnd() % sizeof(s);
		struct ht_record *r = known_record();

		if (i < 256)
			s[0] = (uint8_t)i;
		else
			fill_random(s, n);
		assert_int_equal(ht_record_set(r, &r->req_body, s, n), 0);
		assert_int_equal(ht_record_set(r, &r->reason, s, n), 0);
		assert_int_equal(ht_record_set(r, &r->method, s, n > 5 ? 5 : n), 0);
		assert_int_equal(ht_record_set(r, &r->pod, s, n > 7 ? 7 : n), 0);
		if (n)
			assert_int_equal(ht_record_add_header(r, &r->resp_headers, "x-h", 3, (const char *)s, n), 0);
		r->flags = (uint32_t)rnd();
		r->latency_ns = rnd();
		assert_int_equal(format_record(HT_FMT_NDJSON, r, &nd), 0);
		assert_int_equal(format_record(HT_FMT_JSON, r, &pj), 0);
		assert_int_equal(format_record(HT_FMT_CSV, r, &csv), 0);
		if (!n)
			ht_buf_putc(&hex, '-');
		for (size_t k = 0; k < n; k++) {
			char h[3];

			snprintf(h, sizeof(h), "%02x", s[k]);
			ht_buf_put(&hex, h, 2);
		}
		ht_buf_putc(&hex, '\n');
		ht_record_free(r);
	}
	write_file(nd_path, nd.p, nd.len);
	write_file(pj_path, pj.p, pj.len);
	write_file(csv_path, csv.p, csv.len);
	write_file(hex_path, hex.p, hex.len);
	assert_int_equal(run_python(py_json, nd_path, hex_path, pj_path), 0);
	assert_int_equal(run_python(py_csv, csv_path, hex_path, nd_path), 0);
	unlink(nd_path);
	unlink(pj_path);
	unlink(csv_path);
	unlink(hex_path);
	rmdir(dir);
	ht_buf_free(&nd);
	ht_buf_free(&pj);
	ht_buf_free(&csv);
	ht_buf_free(&hex);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_golden_ndjson),
		cmocka_unit_test(test_golden_pretty_json),
		cmocka_unit_test(test_golden_csv),
		cmocka_unit_test(test_tls_field),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_bad_record_fields),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_utf8_shapes),
		cmocka_unit_test(test_utf8_passthrough),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_dense_ascii_escapes),
		cmocka_unit_test(test_huge_string),
		cmocka_unit_test(test_python_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
