/* test_redact.c - redaction: headers, JSON, forms, query strings, userinfo;
 * a canary secret must never survive anywhere in the record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "base/record.h"
#include "sink/redact.h"

#define CANARY "Zk7QcanaryQ7kZ"

static struct ht_config *cfg;

static int setup(void **state)
{
	cfg = ht_config_defaults();
	return cfg ? 0 : -1;
}

static int teardown(void **state)
{
	ht_config_free(cfg);
	return 0;
}

static void put(struct ht_record *r, struct ht_str *f, const char *s)
{
	assert_int_equal(ht_record_set(r, f, s, strlen(s)), 0);
}

static void hdr(struct ht_record *r, struct ht_headers *h, const char *name, const char *value)
{
	assert_int_equal(ht_record_add_header(r, h, name, strlen(name), value, strlen(value)), 0);
}

static void expect_str(const struct ht_record *r, struct ht_str s, const char *want)
{
	size_t n = strlen(want);

	if (s.len != n || memcmp(ht_str_ptr(r, s), want, n) != 0)
		fail_msg("got '%.*s'\nwant '%s'", (int)s.len, ht_str_ptr(r, s), want);
}

static const char *hval(struct ht_record *r, struct ht_headers *h, const char *name, char *buf,
			size_t size)
{
	struct ht_kv *kv = ht_record_find_header(r, h, name);

	assert_non_null(kv);
	snprintf(buf, size, "%.*s", (int)kv->value.len, ht_str_ptr(r, kv->value));
	return buf;
}

static bool str_has(const struct ht_record *r, struct ht_str s, const char *needle)
{
	return s.len && memmem(ht_str_ptr(r, s), s.len, needle, strlen(needle)) != NULL;
}

/* True if needle appears in any field of r (every string the encoders see). */
static bool record_has(const struct ht_record *r, const char *needle)
{
	const struct ht_str f[] = {
		r->method, r->target, r->path, r->host, r->reason, r->req_body, r->resp_body,
		r->container_id, r->pod, r->namespace_, r->node, r->container, r->workload_kind,
		r->workload, r->remote_pod, r->remote_namespace, r->remote_service,
	};
	const struct ht_headers *hs[] = { &r->req_headers, &r->resp_headers };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (str_has(r, f[i], needle))
			return true;
	for (size_t k = 0; k < 2; k++)
		for (uint32_t i = 0; i < hs[k]->n; i++)
			if (str_has(r, hs[k]->v[i].name, needle) || str_has(r, hs[k]->v[i].value, needle))
				return true;
	return memmem(r->comm, sizeof(r->comm), needle, strlen(needle)) != NULL;
}

static void strlist_push(struct ht_strlist *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	assert_non_null(v);
	l->v = v;
	l->v[l->n] = strdup(s);
	assert_non_null(l->v[l->n]);
	l->n++;
}

static const char *const default_headers[] = {
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Auth-Token", "X-API-Key",
};

/* The canary in every redactable place at once. */
static void test_canary_everywhere(void **state)
{
	struct ht_record *r = ht_record_new();
	char b[256];

	put(r, &r->method, "POST");
	put(r, &r->target, "/login?user=bob&password=" CANARY "&api%5Fkey=" CANARY
			   "&Pass%77ord=" CANARY "&x=1&access+token=" CANARY);
	put(r, &r->path, "/login");
	put(r, &r->host, "example.com");
	put(r, &r->reason, "OK");
	for (size_t i = 0; i < 6; i++) {
		hdr(r, &r->req_headers, default_headers[i], "Bearer " CANARY);
		hdr(r, &r->resp_headers, default_headers[i], "sid=" CANARY "; Path=/");
	}
	hdr(r, &r->req_headers, "Accept", "text/html");
	hdr(r, &r->req_headers, "X-Csrf-Token", CANARY);
	hdr(r, &r->req_headers, "Referer", "https://idp.example/cb?code=1&access_token=" CANARY "#x");
	hdr(r, &r->resp_headers, "Location", "/next?id_token=" CANARY "&state=s");
	hdr(r, &r->resp_headers, "Content-Type", "application/x-www-form-urlencoded");
	put(r, &r->req_body,
	    "{\"user\": \"bob\", \"password\": \"" CANARY "\",\n"
	    " \"nested\": {\"deeper\": {\"api_key\": \"" CANARY "\", \"list\": [{\"token\": \"" CANARY "\"}]}},\n"
	    " \"secret\": {\"a\": \"" CANARY "\", \"b\": [\"" CANARY "\"]},\n"
	    " \"k\\\"password\": \"" CANARY "\", \"apiKey\": 12345" CANARY ",\n"
	    " \"pass\\u0077ord\": \"" CANARY "\", \"esc\": \"a\\\"b\", \"n\": 1}");
	put(r, &r->resp_body, "a=1&password=" CANARY "&token=" CANARY "&b=2&user%5Fsecret=" CANARY);
	r->req_body_size = r->req_body.len;
	assert_true(record_has(r, CANARY));

	ht_redact(cfg, r);

	assert_false(record_has(r, CANARY));
	/* not even in the arena's dead bytes */
	assert_null(memmem(r->arena, r->arena_len, CANARY, strlen(CANARY)));
	assert_true(r->flags & HT_RF_REDACTED);
	/* what is not secret is kept */
	expect_str(r, r->method, "POST");
	expect_str(r, r->path, "/login");
	expect_str(r, r->target, "/login?user=bob&password=[REDACTED]&api%5Fkey=[REDACTED]"
				 "&Pass%77ord=[REDACTED]&x=1&access+token=[REDACTED]");
	assert_string_equal(hval(r, &r->req_headers, "accept", b, sizeof(b)), "text/html");
	assert_string_equal(hval(r, &r->req_headers, "authorization", b, sizeof(b)), "[REDACTED]");
	assert_string_equal(hval(r, &r->resp_headers, "set-cookie", b, sizeof(b)), "[REDACTED]");
	assert_string_equal(hval(r, &r->req_headers, "x-csrf-token", b, sizeof(b)), "[REDACTED]");
	assert_string_equal(hval(r, &r->req_headers, "referer", b, sizeof(b)),
			    "https://idp.example/cb?code=1&access_token=[REDACTED]#x");
	assert_string_equal(hval(r, &r->resp_headers, "location", b, sizeof(b)),
			    "/next?id_token=[REDACTED]&state=s");
	expect_str(r, r->req_body,
		   "{\"user\": \"bob\", \"password\": \"[REDACTED]\",\n"
		   " \"nested\": {\"deeper\": {\"api_key\": \"[REDACTED]\", \"list\": [{\"token\": \"[REDACTED]\"}]}},\n"
		   " \"secret\": \"[REDACTED]\",\n"
		   " \"k\\\"password\": \"[REDACTED]\", \"apiKey\": \"[REDACTED]\",\n"
		   " \"pass\\u0077ord\": \"[REDACTED]\", \"esc\": \"a\\\"b\", \"n\": 1}");
	expect_str(r, r->resp_body, "a=1&password=[REDACTED]&token=[REDACTED]&b=2&user%5Fsecret=[REDACTED]");
	/* sizes describe the original body and stay */
	assert_true(r->req_body_size > r->req_body.len);
	ht_record_free(r);
}

static void run_body(const char *in, const char *want, bool flagged)
{
	struct ht_record *r = ht_record_new();

	if (*in)
		put(r, &r->req_body, in);
	ht_redact(cfg, r);
	expect_str(r, r->req_body, want);
	assert_int_equal(!!(r->flags & HT_RF_REDACTED), flagged);
	ht_record_free(r);
}

static void test_json(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "{\"password\": \"x\"}", "{\"password\": \"[REDACTED]\"}" },
		{ "{\"a\":{\"b\":{\"token\":123}}}", "{\"a\":{\"b\":{\"token\":\"[REDACTED]\"}}}" },
		{ "{\"password\":\"a\\\"b\",\"x\":\"y\"}", "{\"password\":\"[REDACTED]\",\"x\":\"y\"}" },
		{ "{\"secret\": {\"a\": [1,2,{\"b\":\"}\"}]}, \"x\": 1}", "{\"secret\": \"[REDACTED]\", \"x\": 1}" },
		{ "{ \"password\" : \"x\" , \"n\" : 1 }", "{ \"password\" : \"[REDACTED]\" , \"n\" : 1 }" },
		{ "{\"Password\":true,\"TOKEN\":null,\"api-key\":-1.5e3}",
		  "{\"Password\":\"[REDACTED]\",\"TOKEN\":\"[REDACTED]\",\"api-key\":\"[REDACTED]\"}" },
		{ "  [{\"token\":\"x\"},{\"token\":[\"y\",\"z\"]}]",
		  "  [{\"token\":\"[REDACTED]\"},{\"token\":\"[REDACTED]\"}]" },
		{ "{\"pass\\u0077ord\":\"x\"}", "{\"pass\\u0077ord\":\"[REDACTED]\"}" },
		{ "{\"a\":\"x\\\":\\\"\",\"b\":\"password\"}", "{\"a\":\"x\\\":\\\"\",\"b\":\"password\"}" },
		{ "{\"a\":\"password\",\"b\":[\"token\",\"x\"]}", "{\"a\":\"password\",\"b\":[\"token\",\"x\"]}" },
		{ "{\"password\":\"[REDACTED]\"}", "{\"password\":\"[REDACTED]\"}" },
		/* cut short: everything after the key goes */
		{ "{\"password\": \"abc", "{\"password\": \"[REDACTED]\"" },
		{ "{\"password\": \"a\\", "{\"password\": \"[REDACTED]\"" },
		{ "{\"password\": 12", "{\"password\": \"[REDACTED]\"" },
		{ "{\"password\": {\"a\": [1, 2", "{\"password\": \"[REDACTED]\"" },
		{ "{\"password\":", "{\"password\":" },
		{ "{\"passw", "{\"passw" },
		{ "{\"password\"", "{\"password\"" },
		{ "{\"password\": ,\"x\":1}", "{\"password\": ,\"x\":1}" },
		{ "{\"password\": abc def}", "{\"password\": \"[REDACTED]\"}" },
		{ "{", "{" }, { "[", "[" }, { "\"", "\"" }, { "{\"\\", "{\"\\" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		run_body(t[i].in, t[i].out, strcmp(t[i].in, t[i].out) != 0);
}

static void test_form_and_text(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "a=1&password=x&b=2", "a=1&password=[REDACTED]&b=2" },
		{ "password=x", "password=[REDACTED]" },
		{ "pass%77ord=x&pass%7word=y", "pass%77ord=[REDACTED]&pass%7word=y" },
		{ "my+secret+thing=x", "my+secret+thing=[REDACTED]" },
		{ "password=&token", "password=&token" },
		{ "a=1&passw", "a=1&passw" },
		{ "a=b=c&token=x=y", "a=b=c&token=[REDACTED]" },
		{ "&&=&password=%", "&&=&password=[REDACTED]" },
		/* not a form: the word before '=' is the name, the value ends at a space */
		{ "Your password=hunter2 expires", "Your password=[REDACTED] expires" },
		{ "<input token=\"abc\" x=1>", "<input token=[REDACTED] x=1>" },
		{ "<a secret='abc", "<a secret=[REDACTED]" },
		{ "no secrets here", "no secrets here" },
		{ "", "" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		run_body(t[i].in, t[i].out, strcmp(t[i].in, t[i].out) != 0);
}

static void test_target_and_userinfo(void **state)
{
	struct ht_record *r = ht_record_new();

	put(r, &r->target, "http://alice:pw@proxy.example:8080/x?y=1&token=t#frag&password=z");
	put(r, &r->path, "http://alice:pw@proxy.example:8080/x");
	ht_redact(cfg, r);
	expect_str(r, r->target, "http://[REDACTED]@proxy.example:8080/x?y=1&token=[REDACTED]#frag&password=z");
	expect_str(r, r->path, "http://[REDACTED]@proxy.example:8080/x");
	assert_true(r->flags & HT_RF_REDACTED);
	ht_record_free(r);

	/* path stays as it was when only the query has secrets; path may share the target's bytes */
	r = ht_record_new();
	put(r, &r->target, "/a/b?password=" CANARY);
	r->path = r->target;
	r->path.len = 4;
	ht_redact(cfg, r);
	expect_str(r, r->path, "/a/b");
	expect_str(r, r->target, "/a/b?password=[REDACTED]");
	assert_null(memmem(r->arena, r->arena_len, CANARY, strlen(CANARY)));
	ht_record_free(r);

	/* nothing to do: no flag */
	r = ht_record_new();
	put(r, &r->target, "/a?b=c&d");
	put(r, &r->path, "/a");
	ht_redact(cfg, r);
	expect_str(r, r->target, "/a?b=c&d");
	assert_false(r->flags & HT_RF_REDACTED);
	ht_record_free(r);
}

static void test_header_config(void **state)
{
	struct ht_config *c = ht_config_defaults();
	struct ht_record *r = ht_record_new();
	char err[256], b[128];
	struct ht_kv *kv;

	assert_int_equal(ht_config_set(c, "filtering.redaction.headers", "X-Custom", err, sizeof(err)), 0);
	hdr(r, &r->req_headers, "x-custom", "v1");
	hdr(r, &r->req_headers, "X-Other", "v2");
	hdr(r, &r->req_headers, "Cookie", "");
	/* the comparison ignores case on the record side too */
	hdr(r, &r->resp_headers, "authorization", "v3");
	kv = ht_record_find_header(r, &r->resp_headers, "authorization");
	put(r, &kv->name, "AuThOrIzAtIoN");
	ht_redact(c, r);
	assert_string_equal(hval(r, &r->req_headers, "x-custom", b, sizeof(b)), "[REDACTED]");
	assert_string_equal(hval(r, &r->req_headers, "x-other", b, sizeof(b)), "v2");
	assert_string_equal(hval(r, &r->req_headers, "cookie", b, sizeof(b)), "");
	kv = &r->resp_headers.v[0];
	expect_str(r, kv->value, "[REDACTED]");
	ht_record_free(r);
	ht_config_free(c);
}

/* Per-thread header verdicts must follow the config they were made for. */
static void test_header_cache_generations(void **state)
{
	struct ht_config *a = ht_config_defaults(), *b = ht_config_defaults();
	char err[256], buf[64];

	assert_int_equal(ht_config_set(a, "filtering.redaction.headers", "X-Custom", err, sizeof(err)), 0);
	assert_int_not_equal(a->generation, b->generation);
	for (int round = 0; round < 3; round++) {
		struct ht_record *ra = ht_record_new(), *rb = ht_record_new();

		hdr(ra, &ra->req_headers, "X-Custom", "v");
		hdr(rb, &rb->req_headers, "X-Custom", "v");
		ht_redact(a, ra);
		ht_redact(b, rb);
		assert_string_equal(hval(ra, &ra->req_headers, "x-custom", buf, sizeof(buf)), "[REDACTED]");
		assert_string_equal(hval(rb, &rb->req_headers, "x-custom", buf, sizeof(buf)), "v");
		ht_record_free(ra);
		ht_record_free(rb);
	}
	/* a hand-built config (generation 0) is never served from the cache */
	b->generation = 0;
	strlist_push(&b->redact_headers, "x-custom");
	{
		struct ht_record *r = ht_record_new();

		hdr(r, &r->req_headers, "X-Custom", "v");
		ht_redact(b, r);
		assert_string_equal(hval(r, &r->req_headers, "x-custom", buf, sizeof(buf)), "[REDACTED]");
		ht_record_free(r);
	}
	ht_config_free(a);
	ht_config_free(b);
}

/*
 * The verdict cache tells names apart by length and first and last 8
 * bytes, and by their middle when longer than 16: names that differ only
 * there (or only in one of 1-16 bytes) get their own verdicts, in any order.
 */
static void test_header_cache_near_names(void **state)
{
	static const char *const pairs[][2] = {
		{ "x-abcdef-secret-ghijklm", "x-abcdef-secrex-ghijklm" }, /* middle */
		{ "x-secret", "x-secrex" },                               /* 8 bytes */
		{ "xsecret", "xsecreu" },                                 /* 4..7 */
		{ "secret-at-the-bgn", "sexret-at-the-bgn" },             /* 17 bytes */
	};
	char buf[64];

	(void)state;
	for (int order = 0; order < 2; order++) {
		for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
			for (int round = 0; round < 2; round++) {
				struct ht_record *r = ht_record_new();
				const char *hit = pairs[i][0], *miss = pairs[i][1];

				hdr(r, &r->req_headers, order ? miss : hit, "v");
				hdr(r, &r->req_headers, order ? hit : miss, "v");
				ht_redact(cfg, r);
				assert_string_equal(hval(r, &r->req_headers, hit, buf, sizeof(buf)),
						    "[REDACTED]");
				assert_string_equal(hval(r, &r->req_headers, miss, buf, sizeof(buf)), "v");
				ht_record_free(r);
			}
		}
	}
}

/* Twice is the same as once. */
static void test_idempotent(void **state)
{
	struct ht_record *r = ht_record_new();
	char *t1, *b1;

	put(r, &r->target, "/?token=x");
	put(r, &r->req_body, "{\"token\": 5}");
	hdr(r, &r->req_headers, "Cookie", "a=b");
	ht_redact(cfg, r);
	t1 = strndup(ht_str_ptr(r, r->target), r->target.len);
	b1 = strndup(ht_str_ptr(r, r->req_body), r->req_body.len);
	r->flags = 0;
	ht_redact(cfg, r);
	expect_str(r, r->target, t1);
	expect_str(r, r->req_body, b1);
	assert_false(r->flags & HT_RF_REDACTED); /* nothing new was found */
	free(t1);
	free(b1);
	ht_record_free(r);
}

/* A body cut at every byte never leaks a piece of the secret. */
static void test_every_truncation(void **state)
{
	static const char *const bodies[] = {
		"{\"a\": {\"b\\\"\": [1, {\"password\": \"" CANARY "\"}]}, \"token\": \"" CANARY "\\\"x\"}",
		"{\"secret\": {\"x\": \"" CANARY "\"}, \"api_key\": " CANARY "}",
		"x=1&password=" CANARY "&b=2&api%5fkey=" CANARY,
		"text password=" CANARY " and token=" CANARY ";",
	};

	for (size_t k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++) {
		size_t len = strlen(bodies[k]);

		for (size_t n = 0; n <= len; n++) {
			struct ht_record *r = ht_record_new();

			assert_int_equal(ht_record_set(r, &r->resp_body, bodies[k], n), 0);
			ht_redact(cfg, r);
			if (str_has(r, r->resp_body, "Zk7"))
				fail_msg("body %zu cut at %zu leaks: %.*s", k, n, (int)r->resp_body.len,
					 ht_str_ptr(r, r->resp_body));
			ht_record_free(r);
		}
	}
}

/* Bodies built to be slow for a quadratic scanner finish at once (a hang here is the failure). */
static void test_large_inputs(void **state)
{
	static const char *const unit[] = { "=", " =", "a=", "=\"", "x='", "password=", "&=",
					    "\"a\":", "{\"password\":[", "\"\\", "%", "token" };
	const size_t size = 1u << 20;
	char *body = malloc(size);

	assert_non_null(body);
	for (size_t k = 0; k < 2 * sizeof(unit) / sizeof(unit[0]); k++) {
		size_t u = k / 2, ul = strlen(unit[u]);
		struct ht_record *r = ht_record_new();

		for (size_t i = 0; i < size; i++)
			body[i] = unit[u][i % ul];
		if (k % 2)
			body[0] = ' '; /* free text rather than a form */
		assert_int_equal(ht_record_set(r, &r->req_body, body, size), 0);
		assert_int_equal(ht_record_set(r, &r->target, body, 65536), 0);
		assert_int_equal(ht_record_add_header(r, &r->req_headers, body, 200, "v", 1), 0);
		ht_redact(cfg, r);
		assert_true(r->req_body.len > 0);
		ht_record_free(r);
	}
	free(body);
}

static void test_name_matches(void **state)
{
	static const struct { const char *name; bool hit; } t[] = {
		{ "password", true }, { "userPassword", true }, { "PASS_WORD", true },
		{ "api_key", true }, { "apiKey", true }, { "X-Api-Key", true }, { "x_api-key", true },
		{ "refresh_token", true }, { "client-secret", true }, { "pass", false },
		{ "key", false }, { "user", false }, { "tok en", true }, { "", false }, { "__", false },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (ht_redact_name_matches(&cfg->redact_body_patterns, t[i].name, strlen(t[i].name)) != t[i].hit)
			fail_msg("'%s'", t[i].name);
	/* a long name is handled past the stack buffer */
	{
		char big[2000];

		memset(big, 'a', sizeof(big));
		memcpy(big + 1900, "token", 5);
		assert_true(ht_redact_name_matches(&cfg->redact_body_patterns, big, sizeof(big)));
		big[1900] = 'x';
		assert_false(ht_redact_name_matches(&cfg->redact_body_patterns, big, sizeof(big)));
	}
	assert_false(ht_redact_name_matches(NULL, "password", 8));
}

/* Random JSON-ish, form-ish and text bodies: no crash, no read past the
 * body (ASan), obvious secrets gone. */
static bool loose_text(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\n'))
		i++;
	if (i < len && (s[i] == '{' || s[i] == '['))
		return false;
	for (i = 0; i < len; i++)
		if (strchr(" \t\r\n<>\"", s[i]))
			return true;
	return false;
}

static void test_random_bodies(void **state)
{
	static const char *const tok[] = {
		"{", "}", "[", "]", "\"", ":", ",", "\\", " ", "\n", "=", "&", "%", "+", ";", "'",
		"<", "\"password\"", "password", "token", "x", "1", "\\\"", "\\u0077", "pass%77ord",
		"http://", "@", "/", "?", "#", "[REDACTED]", "\"[REDACTED]\"", "Secret", "null",
	};
	const size_t ntok = sizeof(tok) / sizeof(tok[0]);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int iter = 0; iter < 20000; iter++) {
		struct ht_record *r = ht_record_new();
		char body[512], *once;
		size_t len = 0, want, once_len;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		want = x % 64;
		for (size_t t = 0; t < want; t++) {
			const char *p;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			p = tok[x % ntok];
			memcpy(body + len, p, strlen(p));
			len += strlen(p);
		}
		assert_int_equal(ht_record_set(r, &r->req_body, body, len), 0);
		assert_int_equal(ht_record_set(r, &r->target, body, len), 0);
		ht_redact(cfg, r);
		once_len = r->req_body.len;
		once = malloc(once_len + 1);
		assert_non_null(once);
		memcpy(once, ht_str_ptr(r, r->req_body), once_len);
		/* a second pass may redact more in garbage text, never restore */
		ht_redact(cfg, r);
		assert_true(r->req_body.len <= once_len || r->req_body.len <= len + 16);
		/* free text: a name=value pair is found wherever it is */
		if (loose_text(body, len) && memmem(once, once_len, "pass%77ord=x", 12))
			fail_msg("left: '%.*s' -> '%.*s'", (int)len, body, (int)once_len, once);
		free(once);
		ht_record_free(r);
	}
}

static void test_empty_record(void **state)
{
	struct ht_record *r = ht_record_new();

	ht_redact(cfg, r);
	assert_int_equal(r->flags, 0);
	ht_redact(NULL, r);
	ht_redact(cfg, NULL);
	ht_record_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary_everywhere),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_form_and_text),
		cmocka_unit_test(test_target_and_userinfo),
		cmocka_unit_test(test_header_config),
		cmocka_unit_test(test_header_cache_generations),
		cmocka_unit_test(test_header_cache_near_names),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_large_inputs),
		cmocka_unit_test(test_name_matches),
		cmocka_unit_test(test_random_bodies),
		cmocka_unit_test(test_empty_record),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
