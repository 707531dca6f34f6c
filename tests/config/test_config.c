/* test_config.c - YAML config: every key, units, errors with positions, defaults,
 * command-line overrides, RCU reload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <urcu.h>

#include "config/config.h"
#include "ht_limits.h"

#define DATA "tests/data/"
#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)

static char tmp_path[64];

/* Write text to a fresh temp file; returns its path (static buffer). */
static const char *write_tmp(const char *text)
{
	int fd;

	if (tmp_path[0])
		unlink(tmp_path);
	strcpy(tmp_path, "/tmp/ht_cfg_XXXXXX.yaml");
	fd = mkstemps(tmp_path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return tmp_path;
}

static struct ht_config *load_text(const char *text, char *err, size_t errlen)
{
	return ht_config_load(write_tmp(text), err, errlen);
}

static bool strlist_has(const struct ht_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

static void check_default_redaction(const struct ht_config *c)
{
	static const char *const hdr[] = { "authorization", "proxy-authorization", "cookie",
					   "set-cookie", "x-auth-token", "x-api-key" };
	static const char *const pat[] = { "password", "token", "api_key", "secret" };

	for (size_t i = 0; i < 6; i++)
		assert_true(strlist_has(&c->redact_headers, hdr[i]));
	for (size_t i = 0; i < 4; i++)
		assert_true(strlist_has(&c->redact_body_patterns, pat[i]));
}

static void test_defaults(void **state)
{
	struct ht_config *c = ht_config_defaults();

	assert_non_null(c);
	assert_string_equal(c->source, "(defaults)");
	assert_string_equal(c->output_path, "-");
	assert_int_equal(c->format, HT_FMT_NDJSON);
	assert_false(c->rotation_enabled);
	assert_int_equal(c->worker_threads, 2);
	assert_int_equal(c->batch_size, 100);
	assert_int_equal(c->flush_interval_ms, 200);
	assert_int_equal(c->idle_timeout_ms, 60000);
	assert_int_equal(c->ringbuffer_bytes, 64 * MiB);
	assert_int_equal(c->ringbuffer_bytes, HT_RINGBUF_DEFAULT);
	assert_int_equal(c->max_body_size, 4096);
	assert_int_equal(c->max_header_size, 1024);
	assert_int_equal(c->capture_cap_bytes, 256 * 1024);
	assert_int_equal(c->capture_cap_bytes, HT_CAPTURE_CAP_DEFAULT);
	assert_int_equal(c->shard_memory_bytes, 256 * MiB);
	assert_string_equal(c->metrics_listen, "127.0.0.1:9090");
	assert_true(c->tls_enabled);
	assert_int_equal(c->tls_libraries.n, 0);
	assert_false(c->sampling_enabled);
	assert_true(c->sampling_rate == 1.0);
	assert_int_equal(c->n_exclude_ports, 0);
	assert_int_equal(c->n_pids, 0);
	assert_int_equal(c->health_paths.n, 0);
	assert_int_equal(c->exclude_namespaces.n, 0);
	assert_int_equal(c->exclude_pods.n, 0);
	assert_int_equal(c->exclude_paths.n, 0);
	assert_int_equal(c->n_exclude_ips, 0);
	assert_int_equal(c->redact_headers.n, 6);
	assert_int_equal(c->redact_body_patterns.n, 4);
	check_default_redaction(c);
	ht_config_free(c);
}

/* tests/data/design.yaml is DESIGN §4's block, byte for byte. */
static void test_design_block(void **state)
{
	static const uint16_t ports[] = { 8443, 6443, 2379, 2380, 10250, 10255, 10256, 9099, 9100 };
	static const char *const health[] = { "/health", "/healthz", "/readyz", "/livez", "/metrics" };
	char err[512] = "";
	struct ht_config *c = ht_config_load(DATA "design.yaml", err, sizeof(err));

	if (!c)
		fail_msg("%s", err);
	assert_string_equal(c->source, DATA "design.yaml");
	assert_int_equal(c->n_exclude_ports, 9);
	for (size_t i = 0; i < 9; i++)
		assert_int_equal(c->exclude_ports[i], ports[i]);
	assert_int_equal(c->health_paths.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(c->health_paths.v[i], health[i]);
	assert_int_equal(c->n_pids, 0);
	assert_int_equal(c->exclude_namespaces.n, 3);
	assert_string_equal(c->exclude_namespaces.v[0], "kube-system");
	assert_string_equal(c->exclude_namespaces.v[1], "kube-node-lease");
	assert_string_equal(c->exclude_namespaces.v[2], "kube-public");
	assert_int_equal(c->exclude_pods.n, 1);
	assert_string_equal(c->exclude_pods.src[0], "^coredns-.*");
	assert_int_equal(regexec(&c->exclude_pods.re[0], "coredns-abc", 0, NULL, 0), 0);
	assert_int_equal(c->exclude_paths.n, 2);
	assert_string_equal(c->exclude_paths.src[0], "^/debug/.*");
	assert_string_equal(c->exclude_paths.src[1], ".*\\.css$");
	assert_int_equal(regexec(&c->exclude_paths.re[1], "/x/site.css", 0, NULL, 0), 0);
	assert_int_not_equal(regexec(&c->exclude_paths.re[1], "/x/sitexcss", 0, NULL, 0), 0);
	assert_int_equal(c->n_exclude_ips, 1);
	assert_int_equal(c->exclude_ips[0].family, AF_INET);
	assert_int_equal(c->exclude_ips[0].prefix, 32);
	assert_memory_equal(c->exclude_ips[0].bytes, "\xa9\xfe\x01\x01", 4);
	assert_false(c->sampling_enabled);
	assert_true(c->sampling_rate == 1.0);
	assert_int_equal(c->max_body_size, 4096);
	assert_int_equal(c->max_header_size, 1024);
	/* the design's lists extend the defaults: Proxy-Authorization and secret stay */
	assert_int_equal(c->redact_headers.n, 6);
	assert_int_equal(c->redact_body_patterns.n, 4);
	check_default_redaction(c);
	assert_string_equal(c->output_path, "/var/log/http-tracer/traces.log");
	assert_int_equal(c->format, HT_FMT_NDJSON);
	assert_true(c->rotation_enabled);
	assert_int_equal(c->rotation_max_size, 100000000ull);
	assert_int_equal(c->rotation_max_files, 10);
	assert_int_equal(c->rotation_gzip_level, 1);
	assert_int_equal(c->ringbuffer_bytes, 256 * MiB);
	assert_int_equal(c->worker_threads, 4);
	assert_int_equal(c->batch_size, 100);
	assert_string_equal(c->metrics_listen, "127.0.0.1:9090");
	/* keys the design does not set keep their defaults */
	assert_int_equal(c->flush_interval_ms, 200);
	assert_int_equal(c->capture_cap_bytes, 256 * 1024);
	ht_config_free(c);
}

static void test_all_keys(void **state)
{
	char err[512] = "";
	struct ht_config *c = load_text(
		"filtering:\n"
		"  kernel:\n"
		"    excludePorts: [1, 65535]\n"
		"    healthCheckPaths: [/ping]\n"
		"    pids: [1, 4194304]\n"
		"  excludeNamespaces: [ns1]\n"
		"  excludePods: [\"^a\", \"b$\"]\n"
		"  excludePaths: ['^/x']\n"
		"  excludeIPs: [10.0.0.0/8, \"fd00::/8\", \"::ffff:192.168.0.0/112\"]\n"
		"  sampling:\n"
		"    enabled: yes\n"
		"    rate: 0.25\n"
		"  dataLimits: {maxBodySize: 0, maxHeaderSize: 2KiB}\n"
		"  redaction:\n"
		"    headers: [X-Custom-Secret, authorization]\n"
		"    bodyPatterns: [SSN]\n"
		"output:\n"
		"  path: \"-\"\n"
		"  format: csv\n"
		"  rotation: {enabled: false, maxSize: 1GiB, maxFiles: 1000, compressionLevel: 9}\n"
		"performance:\n"
		"  ringbufferSize: 1GiB\n"
		"  workerThreads: 64\n"
		"  batchSize: 100000\n"
		"  flushIntervalMs: 50\n"
		"  idleTimeoutMs: 5000\n"
		"  shardMemory: 64MiB\n"
		"  captureCap: 16KiB\n"
		"metrics:\n"
		"  listen: \"[::1]:0\"\n",
		err, sizeof(err));

	if (!c)
		fail_msg("%s", err);
	assert_int_equal(c->n_exclude_ports, 2);
	assert_int_equal(c->exclude_ports[1], 65535);
	assert_string_equal(c->health_paths.v[0], "/ping");
	assert_int_equal(c->n_pids, 2);
	assert_int_equal(c->pids[1], 4194304);
	assert_string_equal(c->exclude_namespaces.v[0], "ns1");
	assert_int_equal(c->exclude_pods.n, 2);
	assert_int_equal(c->exclude_paths.n, 1);
	assert_int_equal(c->n_exclude_ips, 3);
	assert_int_equal(c->exclude_ips[1].family, AF_INET6);
	assert_int_equal(c->exclude_ips[1].prefix, 8);
	/* the mapped range is stored as IPv4 192.168.0.0/16 */
	assert_int_equal(c->exclude_ips[2].family, AF_INET);
	assert_int_equal(c->exclude_ips[2].prefix, 16);
	assert_memory_equal(c->exclude_ips[2].bytes, "\xc0\xa8\0\0", 4);
	assert_true(c->sampling_enabled);
	assert_true(c->sampling_rate == 0.25);
	assert_int_equal(c->max_body_size, 0);
	assert_int_equal(c->max_header_size, 2048);
	assert_int_equal(c->redact_headers.n, 7); /* defaults + x-custom-secret, no duplicate */
	assert_true(strlist_has(&c->redact_headers, "x-custom-secret"));
	assert_true(strlist_has(&c->redact_body_patterns, "ssn"));
	check_default_redaction(c);
	assert_string_equal(c->output_path, "-");
	assert_int_equal(c->format, HT_FMT_CSV);
	assert_false(c->rotation_enabled);
	assert_int_equal(c->rotation_max_size, 1024 * MiB);
	assert_int_equal(c->rotation_max_files, 1000);
	assert_int_equal(c->rotation_gzip_level, 9);
	assert_int_equal(c->ringbuffer_bytes, 1024 * MiB);
	assert_int_equal(c->worker_threads, 64);
	assert_int_equal(c->batch_size, 100000);
	assert_int_equal(c->flush_interval_ms, 50);
	assert_int_equal(c->idle_timeout_ms, 5000);
	assert_int_equal(c->shard_memory_bytes, 64 * MiB);
	assert_int_equal(c->capture_cap_bytes, 16384);
	assert_string_equal(c->metrics_listen, "[::1]:0");
	ht_config_free(c);
}

/* DESIGN §8: tls.enabled and tls.libraries, from a file and the command line. */
static void test_tls(void **state)
{
	char err[512] = "";
	struct ht_config *c = load_text("tls:\n  enabled: false\n  libraries: [/opt/a/libssl.so.3, "
					"\"/opt/b c/libssl.so.1.1\", /opt/a/libssl.so.3]\n",
					err, sizeof(err));

	if (!c)
		fail_msg("%s", err);
	assert_false(c->tls_enabled);
	assert_int_equal(c->tls_libraries.n, 2); /* the duplicate is dropped */
	assert_string_equal(c->tls_libraries.v[0], "/opt/a/libssl.so.3");
	assert_string_equal(c->tls_libraries.v[1], "/opt/b c/libssl.so.1.1");
	assert_int_equal(ht_config_set(c, "tls.enabled", "true", err, sizeof(err)), 0);
	assert_true(c->tls_enabled);
	assert_int_equal(ht_config_set(c, "tls.libraries", "/x/libssl.so", err, sizeof(err)), 0);
	assert_int_equal(c->tls_libraries.n, 3);
	assert_int_equal(ht_config_set(c, "tls.libraries", "x/libssl.so", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "absolute file path"));
	assert_int_equal(c->tls_libraries.n, 3);
	ht_config_free(c);
}

/* DESIGN §7's kubernetes block, its defaults, and the environment rules. */
static void test_kubernetes(void **state)
{
	char err[512] = "", buf[300];
	struct ht_config *c = ht_config_defaults();

	assert_int_equal(c->k8s_mode, HT_K8S_AUTO);
	assert_string_equal(c->k8s_api_server, "");
	assert_string_equal(c->k8s_token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_string_equal(c->k8s_ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	assert_string_equal(c->k8s_node_name, "");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("NODE_NAME");
	/* auto, outside a pod: off, no server; the node is the host name */
	assert_false(ht_config_k8s_on(c));
	assert_int_equal(ht_config_k8s_api_server(c, buf, sizeof(buf)), -1);
	assert_int_equal(ht_config_k8s_node(c, buf, sizeof(buf)), 0);
	assert_true(strlen(buf) > 0);
	/* in a pod */
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	setenv("NODE_NAME", "node-a", 1);
	assert_true(ht_config_k8s_on(c));
	assert_int_equal(ht_config_k8s_api_server(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "https://10.96.0.1:6443");
	assert_int_equal(ht_config_k8s_node(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "node-a");
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(ht_config_k8s_api_server(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "https://[fd00::1]:443");
	assert_int_equal(ht_config_k8s_api_server(c, buf, 8), -1); /* does not fit */
	ht_config_free(c);

	/* DESIGN §7's block, byte for byte: the defaults again */
	c = ht_config_load(DATA "design_k8s.yaml", err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	assert_int_equal(c->k8s_mode, HT_K8S_AUTO);
	assert_string_equal(c->k8s_api_server, "");
	assert_string_equal(c->k8s_token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_string_equal(c->k8s_ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	assert_string_equal(c->k8s_node_name, "");
	ht_config_free(c);

	/* the file wins over the environment */
	c = load_text("kubernetes:\n"
		      "  enabled: auto\n"
		      "  apiServer: http://127.0.0.1:8001\n"
		      "  tokenFile: /run/t\n"
		      "  caFile: /run/ca.pem\n"
		      "  nodeName: worker-1.example\n", err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	assert_true(ht_config_k8s_on(c));
	assert_int_equal(ht_config_k8s_api_server(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "http://127.0.0.1:8001");
	assert_int_equal(ht_config_k8s_node(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "worker-1.example");
	assert_string_equal(c->k8s_token_file, "/run/t");
	assert_string_equal(c->k8s_ca_file, "/run/ca.pem");
	ht_config_free(c);

	/* apiServer alone turns auto on; false wins over everything; "" is the default */
	unsetenv("KUBERNETES_SERVICE_HOST");
	c = load_text("kubernetes: {apiServer: \"https://api.example:6443/prefix\"}\n", err, sizeof(err));
	assert_non_null(c);
	assert_true(ht_config_k8s_on(c));
	ht_config_free(c);
	c = load_text("kubernetes: {enabled: false, apiServer: \"https://h\"}\n", err, sizeof(err));
	assert_non_null(c);
	assert_false(ht_config_k8s_on(c));
	ht_config_free(c);
	c = load_text("kubernetes: {enabled: yes, apiServer: \"\", nodeName: }\n", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->k8s_mode, HT_K8S_ON);
	assert_true(ht_config_k8s_on(c)); /* on without a server: the caller says so */
	assert_int_equal(ht_config_k8s_api_server(c, buf, sizeof(buf)), -1);
	assert_int_equal(ht_config_k8s_node(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "node-a");
	ht_config_free(c);
	/* an override by its dotted name, as the command line would */
	c = ht_config_defaults();
	assert_int_equal(ht_config_set(c, "kubernetes.enabled", "false", err, sizeof(err)), 0);
	assert_int_equal(c->k8s_mode, HT_K8S_OFF);
	assert_int_equal(ht_config_set(c, "kubernetes.nodeName", "BAD", err, sizeof(err)), -1);
	ht_config_free(c);
	unsetenv("NODE_NAME");
}

static void test_parse_size(void **state)
{
	static const struct { const char *s; int rc; uint64_t v; } t[] = {
		{ "512", 0, 512 }, { "0", 0, 0 }, { "4KiB", 0, 4096 }, { "4kib", 0, 4096 },
		{ "4KIB", 0, 4096 }, { "4KB", 0, 4000 }, { "4kb", 0, 4000 }, { "100MB", 0, 100000000 },
		{ "100MiB", 0, 100 * MiB }, { "1 GiB", 0, 1024 * MiB }, { "2GB", 0, 2000000000 },
		{ "3TiB", 0, 3ull << 40 }, { "1TB", 0, 1000000000000ull }, { "7b", 0, 7 },
		{ " 7 KB ", 0, 7000 }, { "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -1, 0 }, { "20000000TiB", -1, 0 }, { "", -1, 0 },
		{ "KB", -1, 0 }, { "abc", -1, 0 }, { "12XB", -1, 0 }, { "1.5MB", -1, 0 },
		{ "-1", -1, 0 }, { "4 K", -1, 0 }, { "4KiBB", -1, 0 }, { "0x10", -1, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 12345;
		int rc = ht_parse_size(t[i].s, &v);

		if (rc != t[i].rc || (rc == 0 && v != t[i].v))
			fail_msg("'%s': rc %d v %llu", t[i].s, rc, (unsigned long long)v);
	}
	assert_int_equal(ht_parse_size(NULL, NULL), -1);
}

/* ringbufferSize: a bare number is MiB; units as everywhere else. */
static void test_ringbuffer_units(void **state)
{
	static const struct { const char *yaml; uint64_t v; } t[] = {
		{ "performance: {ringbufferSize: 256}\n", 256 * MiB },
		{ "performance: {ringbufferSize: 256MB}\n", 256000000ull },
		{ "performance: {ringbufferSize: \"2 GiB\"}\n", 2048 * MiB },
		{ "performance: {ringbufferSize: 1024KiB}\n", MiB },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ht_config *c = load_text(t[i].yaml, err, sizeof(err));

		if (!c)
			fail_msg("%s: %s", t[i].yaml, err);
		assert_int_equal(c->ringbuffer_bytes, t[i].v);
		ht_config_free(c);
	}
}

/* Each error: the YAML, and the exact text after "PATH:". */
static const struct {
	const char *yaml;
	const char *msg;
} error_cases[] = {
	/* syntax */
	{ "filtering:\n  kernel:\n    excludePorts: [1, 2\n",
	  "4:1: error: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 3)" },
	{ "a: b\n c: d\n", "2:3: error: invalid YAML: mapping values are not allowed in this context" },
	{ "output:\n\tpath: x\n",
	  "2:1: error: invalid YAML: found character that cannot start any token: a tab (indent with spaces)" },
	{ "output:\n  path: \"a\xff\"\n",
	  "2:11: error: invalid YAML: invalid leading UTF-8 octet (the file must be UTF-8 text)" },
	{ "output: {}\n---\nmetrics: {}\n",
	  "2:1: error: a second YAML document ('---'): put everything in one document" },
	/* unknown keys */
	{ "performance:\n  workerThreadz: 4\n",
	  "2:3: error: unknown key 'workerThreadz' in performance (expected one of: ringbufferSize, workerThreads, batchSize, flushIntervalMs, idleTimeoutMs, shardMemory, captureCap)" },
	{ "outptu: {}\n",
	  "1:1: error: unknown key 'outptu' in the top level (expected one of: filtering, output, performance, metrics, kubernetes, tls)" },
	{ "tls:\n  libraries: [lib/libssl.so.3]\n",
	  "2:15: error: expected an absolute file path (starting with '/', at most 4095 bytes) in tls.libraries, got 'lib/libssl.so.3'" },
	{ "tls:\n  enabled: sometimes\n",
	  "2:12: error: expected true or false for tls.enabled, got 'sometimes'" },
	{ "tls:\n  librarys: []\n",
	  "2:3: error: unknown key 'librarys' in tls (expected one of: enabled, libraries)" },
	{ "filtering:\n  sampling: {enabled: true, rat: 0.5}\n",
	  "2:29: error: unknown key 'rat' in filtering.sampling (expected one of: enabled, rate)" },
	{ "output:\n  format: ndjson\n  format: csv\n", "3:3: error: duplicate key 'format' in output" },
	{ "? [a]\n: 1\n", "1:3: error: expected a key name in the top level, got a list" },
	/* wrong types */
	{ "performance:\n  workerThreads: \"4\"\n",
	  "2:18: error: expected an integer in 1..64 for performance.workerThreads, got the quoted string \"4\" (remove the quotes)" },
	{ "performance:\n  batchSize: lots\n",
	  "2:14: error: expected an integer in 1..100000 for performance.batchSize, got 'lots'" },
	{ "filtering:\n  kernel:\n    excludePorts: {a: 1}\n",
	  "3:19: error: expected a list (e.g. [a, b]) for filtering.kernel.excludePorts, got a mapping" },
	{ "filtering:\n  excludeNamespaces: kube-system\n",
	  "2:22: error: expected a list (e.g. [a, b]) for filtering.excludeNamespaces, got a scalar" },
	{ "filtering:\n  sampling: [1]\n",
	  "2:13: error: expected a mapping of keys for filtering.sampling, got a list" },
	{ "output: 5\n", "1:9: error: expected a mapping of keys for output, got a scalar" },
	{ "output:\n  path: [a]\n", "2:9: error: expected a single value for output.path, got a list" },
	{ "filtering:\n  kernel:\n    pids: [[1]]\n",
	  "3:12: error: expected a scalar list entry in filtering.kernel.pids, got a list" },
	{ "filtering:\n  sampling:\n    enabled: maybe\n",
	  "3:14: error: expected true or false for filtering.sampling.enabled, got 'maybe'" },
	{ "filtering:\n  sampling:\n    rate: \"0.5\"\n",
	  "3:11: error: expected a number in 0..1 for filtering.sampling.rate, got the quoted string \"0.5\" (remove the quotes)" },
	{ "- a\n",
	  "1:1: error: expected a mapping with keys filtering, output, performance, metrics, kubernetes at the top level, got a list" },
	/* out of range */
	{ "performance:\n  workerThreads: 0\n",
	  "2:18: error: expected an integer in 1..64 for performance.workerThreads, got '0'" },
	{ "performance:\n  workerThreads: 65\n",
	  "2:18: error: expected an integer in 1..64 for performance.workerThreads, got '65'" },
	{ "performance:\n  batchSize: 100001\n",
	  "2:14: error: expected an integer in 1..100000 for performance.batchSize, got '100001'" },
	{ "filtering:\n  sampling:\n    rate: 1.5\n",
	  "3:11: error: expected a number in 0..1 for filtering.sampling.rate, got '1.5'" },
	{ "filtering:\n  sampling:\n    rate: -0.1\n",
	  "3:11: error: expected a number in 0..1 for filtering.sampling.rate, got '-0.1'" },
	{ "filtering:\n  sampling:\n    rate: .nan\n",
	  "3:11: error: expected a number in 0..1 for filtering.sampling.rate, got '.nan'" },
	{ "filtering:\n  kernel:\n    excludePorts: [80, 0]\n",
	  "3:24: error: expected a port in 1..65535 in filtering.kernel.excludePorts, got '0'" },
	{ "filtering:\n  kernel:\n    excludePorts: [65536]\n",
	  "3:20: error: expected a port in 1..65535 in filtering.kernel.excludePorts, got '65536'" },
	{ "filtering:\n  kernel:\n    pids: [0]\n",
	  "3:12: error: expected a pid in 1..4194304 in filtering.kernel.pids, got '0'" },
	{ "filtering:\n  kernel:\n    healthCheckPaths: [health]\n",
	  "3:24: error: expected a path starting with '/' in filtering.kernel.healthCheckPaths, got 'health'" },
	{ "filtering:\n  kernel:\n    healthCheckPaths: [\"/health?probe=1\"]\n",
	  "3:24: error: expected a path without '?' or spaces in filtering.kernel.healthCheckPaths (the kernel compares the path before the query), got '/health?probe=1'" },
	{ "output:\n  format: xml\n",
	  "2:11: error: expected one of ndjson|json|csv for output.format, got 'xml'" },
	{ "output:\n  path: ~\n",
	  "2:9: error: expected a file path, \"-\" (stdout) or \"\" (no file, with a network sink) for output.path, got nothing" },
	{ "output:\n  rotation: {maxFiles: 0}\n",
	  "2:24: error: expected an integer in 1..1000 for output.rotation.maxFiles, got '0'" },
	{ "output:\n  rotation: {compressionLevel: 10}\n",
	  "2:32: error: expected an integer in 1..9 for output.rotation.compressionLevel, got '10'" },
	{ "filtering:\n  dataLimits: {maxBodySize: 17MiB}\n",
	  "2:29: error: expected a size in 0..16MiB (bytes, or with a unit: 4KiB, 100MB) for filtering.dataLimits.maxBodySize, got '17MiB'" },
	{ "performance:\n  ringbufferSize: 10 parsecs\n",
	  "2:19: error: expected a size in 1MiB..64GiB (a bare number means MiB: 256, 1GiB, 512MB) for performance.ringbufferSize, got '10 parsecs'" },
	{ "metrics:\n  listen: localhost\n",
	  "2:11: error: expected host:port (e.g. 127.0.0.1:9090, [::1]:9090, 0.0.0.0:9090) for metrics.listen, got 'localhost'" },
	{ "metrics:\n  listen: 1.2.3.4:70000\n",
	  "2:11: error: expected host:port (e.g. 127.0.0.1:9090, [::1]:9090, 0.0.0.0:9090) for metrics.listen, got '1.2.3.4:70000'" },
	{ "filtering:\n  redaction:\n    headers: [\"bad header\"]\n",
	  "3:15: error: expected an HTTP header name in filtering.redaction.headers, got 'bad header'" },
	{ "filtering:\n  redaction:\n    bodyPatterns: [\"__\"]\n",
	  "3:20: error: expected a pattern with a letter or digit, at most 255 bytes, in filtering.redaction.bodyPatterns, got '__'" },
	/* regexes and addresses */
	{ "filtering:\n  excludePods: [\"(abc\"]\n",
	  "2:17: error: invalid regular expression '(abc' in filtering.excludePods: Unmatched ( or \\(" },
	{ "filtering:\n  excludePaths:\n    - ok\n    - \"a{2,1}\"\n",
	  "4:7: error: invalid regular expression 'a{2,1}' in filtering.excludePaths: Invalid content of \\{\\}" },
	{ "filtering:\n  excludeIPs: [\"1.2.3.4/33\"]\n",
	  "2:16: error: expected an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8) in filtering.excludeIPs, got '1.2.3.4/33'" },
	{ "filtering:\n  excludeIPs: [300.1.1.1]\n",
	  "2:16: error: expected an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8) in filtering.excludeIPs, got '300.1.1.1'" },
	{ "filtering:\n  excludeIPs: [\"fe80::/129\"]\n",
	  "2:16: error: expected an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8) in filtering.excludeIPs, got 'fe80::/129'" },
	{ "filtering:\n  excludeIPs: [\"10.0.0.0/\"]\n",
	  "2:16: error: expected an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8) in filtering.excludeIPs, got '10.0.0.0/'" },
	/* kubernetes */
	{ "kubernetes:\n  enabled: sometimes\n",
	  "2:12: error: expected auto, true or false for kubernetes.enabled, got 'sometimes'" },
	{ "kubernetes:\n  enabled: \"true\"\n",
	  "2:12: error: expected auto, true or false for kubernetes.enabled, got 'true'" },
	{ "kubernetes:\n  apiServer: 10.96.0.1:443\n",
	  "2:14: error: expected an http:// or https:// URL (e.g. https://10.96.0.1:443, http://127.0.0.1:8001 for kubectl proxy) or \"\" for kubernetes.apiServer, got '10.96.0.1:443'" },
	{ "kubernetes:\n  apiServer: \"https://a b\"\n",
	  "2:14: error: expected an http:// or https:// URL (e.g. https://10.96.0.1:443, http://127.0.0.1:8001 for kubectl proxy) or \"\" for kubernetes.apiServer, got 'https://a b'" },
	{ "kubernetes:\n  apiServer: https://\n",
	  "2:14: error: expected an http:// or https:// URL (e.g. https://10.96.0.1:443, http://127.0.0.1:8001 for kubectl proxy) or \"\" for kubernetes.apiServer, got 'https://'" },
	{ "kubernetes:\n  tokenFile: \"\"\n",
	  "2:14: error: expected a file path for kubernetes.tokenFile, got nothing" },
	{ "kubernetes:\n  caFile: [a]\n",
	  "2:11: error: expected a single value for kubernetes.caFile, got a list" },
	{ "kubernetes:\n  nodeName: Node_1\n",
	  "2:13: error: expected a node name (lower-case letters, digits, '-' and '.', at most 253 bytes) or \"\" for kubernetes.nodeName, got 'Node_1'" },
	{ "kubernetes:\n  nodeName: -node\n",
	  "2:13: error: expected a node name (lower-case letters, digits, '-' and '.', at most 253 bytes) or \"\" for kubernetes.nodeName, got '-node'" },
	{ "kubernetes:\n  apiserver: x\n",
	  "2:3: error: unknown key 'apiserver' in kubernetes (expected one of: enabled, apiServer, tokenFile, caFile, nodeName)" },
	/* nesting is bounded before libyaml's quadratic scanner gets going */
	{ "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", "1:35: error: nested more than 32 levels deep" },
	/* a self-referencing alias must not loop */
	{ "filtering: &x {kernel: *x}\n",
	  "1:16: error: unknown key 'kernel' in filtering.kernel (expected one of: excludePorts, healthCheckPaths, pids)" },
};

static void test_errors(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		char err[1024] = "";
		struct ht_config *c = load_text(error_cases[i].yaml, err, sizeof(err));
		size_t pl = strlen(tmp_path);

		if (c)
			fail_msg("case %zu loaded: %s", i, error_cases[i].yaml);
		if (strncmp(err, tmp_path, pl) != 0 || err[pl] != ':' ||
		    strcmp(err + pl + 1, error_cases[i].msg) != 0) {
			print_error("case %zu:\n got: %s\nwant: %s:%s\n", i, err, tmp_path,
				    error_cases[i].msg);
			bad++;
		}
		assert_null(strchr(err, '\n'));
	}
	assert_int_equal(bad, 0);
}

static void test_file_errors(void **state)
{
	char err[512];
	char small[24];

	assert_null(ht_config_load("/nonexistent/ht.yaml", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/ht.yaml: error: cannot open the config file: No such file or directory (check the path given to --config)");
	assert_null(ht_config_load("/tmp", err, sizeof(err)));
	assert_string_equal(err, "/tmp: error: not a regular file (give the path of a YAML file)");
	assert_null(ht_config_load(NULL, err, sizeof(err)));
	/* a short buffer truncates, never overflows */
	assert_null(ht_config_load("/nonexistent/ht.yaml", small, sizeof(small)));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_null(ht_config_load("/nonexistent/ht.yaml", NULL, 0));
}

/* Files that would make libyaml slow or big are refused up front. */
static void test_limits(void **state)
{
	size_t cap = 2u << 20, o = 0;
	char *text = malloc(cap), err[512];
	const char *path;

	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, "filtering:\n  excludeNamespaces: [");
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(text + o, cap - o, "%s&a%d x", i ? ", " : "", i);
	snprintf(text + o, cap - o, "]\n");
	assert_null(load_text(text, err, sizeof(err)));
	assert_non_null(strstr(err, ":2:2217: error: more than 256 anchors ('&name')"));

	memset(text, '#', cap - 1); /* a comment just over 1 MiB */
	text[(1u << 20) + 1] = '\0';
	path = write_tmp(text);
	assert_null(ht_config_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, ": error: config file larger than 1048576 bytes"));
	text[1u << 20] = '\0'; /* exactly 1 MiB is fine */
	path = write_tmp(text);
	{
		struct ht_config *c = ht_config_load(path, err, sizeof(err));

		if (!c)
			fail_msg("%s", err);
		ht_config_free(c);
	}
	free(text);
}

/* YAML of filtering.kernel.KEY with n entries, one per line ("      - " fmt
 * of i + 1): entry i (1-based) is at line 3 + i, column 9. */
static char *kernel_list(const char *key, int n, const char *fmt)
{
	size_t cap = 64 + (size_t)n * 96, o = 0;
	char *t = malloc(cap);

	assert_non_null(t);
	o += (size_t)snprintf(t + o, cap - o, "filtering:\n  kernel:\n    %s:\n", key);
	for (int i = 1; i <= n; i++) {
		o += (size_t)snprintf(t + o, cap - o, "      - ");
		o += (size_t)snprintf(t + o, cap - o, fmt, i);
		o += (size_t)snprintf(t + o, cap - o, "\n");
	}
	return t;
}

/* Loads text: it must fail with exactly "PATH:" want. */
static void expect_error(const char *text, const char *want)
{
	char err[1024] = "";
	struct ht_config *c = load_text(text, err, sizeof(err));
	size_t pl = strlen(tmp_path);

	if (c)
		fail_msg("loaded, want: %s", want);
	if (strncmp(err, tmp_path, pl) != 0 || err[pl] != ':' || strcmp(err + pl + 1, want) != 0)
		fail_msg("\n got: %s\nwant: %s:%s", err, tmp_path, want);
}

static struct ht_config *expect_load(const char *text)
{
	char err[1024] = "";
	struct ht_config *c = load_text(text, err, sizeof(err));

	if (!c)
		fail_msg("%s", err);
	return c;
}

/* Every limit the kernel has (include/ht_limits.h): a config exactly at
 * it loads, one past it is an error at the offending value that names the
 * limit.  The config is the only gate: capture.c clamps and drops nothing.
 * First the kernel's lists, one map each. */
static void test_kernel_list_limits(void **state)
{
	static const struct {
		const char *key, *fmt, *limit;
		int max;
	} lists[] = {
		{ "pids", "%d", "HT_PIDS_MAX, the size of the kernel map pid_allow", HT_PIDS_MAX },
		{ "excludePorts", "%d", "HT_PORTS_MAX, the size of the kernel map deny_ports", HT_PORTS_MAX },
		{ "healthCheckPaths", "/p%d", "HT_HEALTH_PATHS_MAX, the size of the kernel map health_paths",
		  HT_HEALTH_PATHS_MAX },
	};
	char want[512];
	struct ht_config *c;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		char *t = kernel_list(lists[i].key, lists[i].max, lists[i].fmt);
		size_t n;

		c = expect_load(t);
		n = i == 0 ? c->n_pids : i == 1 ? c->n_exclude_ports : c->health_paths.n;
		assert_int_equal(n, lists[i].max);
		ht_config_free(c);
		free(t);
		/* one more distinct entry: refused at its own line, column 9 */
		t = kernel_list(lists[i].key, lists[i].max + 1, lists[i].fmt);
		snprintf(want, sizeof(want), "%d:9: error: too many entries in filtering.kernel.%s: at most %d (%s)",
			 3 + lists[i].max + 1, lists[i].key, lists[i].max, lists[i].limit);
		expect_error(t, want);
		free(t);
		/* a duplicate is the same map entry: at the limit it still loads */
		t = kernel_list(lists[i].key, lists[i].max, lists[i].fmt);
		{
			size_t l = strlen(t);
			char *t2 = realloc(t, l + 32);

			assert_non_null(t2);
			t = t2;
			snprintf(t + l, 32, "      - %s\n", i == 2 ? "/p1" : "1");
		}
		c = expect_load(t);
		n = i == 0 ? c->n_pids : i == 1 ? c->n_exclude_ports : c->health_paths.n;
		assert_int_equal(n, lists[i].max);
		ht_config_free(c);
		free(t);
	}
}

/* Health path length: the kernel key is HT_PATH_MAX bytes with a NUL. */
static void test_health_path_limit(void **state)
{
	char want[512], path[HT_PATH_MAX + 8], text[512];
	struct ht_config *c;

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[HT_HEALTH_PATH_LEN_MAX] = '\0';
	snprintf(text, sizeof(text), "filtering:\n  kernel:\n    healthCheckPaths: [%s]\n", path);
	c = expect_load(text);
	assert_int_equal(strlen(c->health_paths.v[0]), HT_HEALTH_PATH_LEN_MAX);
	ht_config_free(c);
	path[HT_HEALTH_PATH_LEN_MAX] = 'a';
	path[HT_HEALTH_PATH_LEN_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "filtering:\n  kernel:\n    healthCheckPaths: [%s]\n", path);
	snprintf(want, sizeof(want), "3:24: error: expected a path of at most %d bytes in filtering.kernel.healthCheckPaths, got %d bytes (HT_HEALTH_PATH_LEN_MAX, the kernel's path key of HT_PATH_MAX bytes keeps a NUL)",
		 HT_HEALTH_PATH_LEN_MAX, HT_HEALTH_PATH_LEN_MAX + 1);
	expect_error(text, want);
}

/* captureCap: HT_CAPTURE_CAP_MIN..HT_CAPTURE_CAP_MAX, nothing clamped. */
static void test_capture_cap_limits(void **state)
{
	char want[512], text[512];
	struct ht_config *c;

	snprintf(text, sizeof(text), "performance:\n  captureCap: %u\n", HT_CAPTURE_CAP_MAX);
	c = expect_load(text);
	assert_int_equal(c->capture_cap_bytes, HT_CAPTURE_CAP_MAX);
	ht_config_free(c);
	snprintf(text, sizeof(text), "performance:\n  captureCap: %u\n", HT_CAPTURE_CAP_MIN);
	c = expect_load(text);
	assert_int_equal(c->capture_cap_bytes, HT_CAPTURE_CAP_MIN);
	ht_config_free(c);
	assert_int_equal(HT_CAPTURE_CAP_MAX, 4 * MiB); /* the README says 4MiB */
	snprintf(text, sizeof(text), "performance:\n  captureCap: %u\n", HT_CAPTURE_CAP_MAX + 1);
	snprintf(want, sizeof(want), "2:15: error: expected a size in 64..4MiB (bytes, or with a unit: 4KiB, 100MB) for performance.captureCap, got '%u': above HT_CAPTURE_CAP_MAX, the most the kernel captures of one syscall",
		 HT_CAPTURE_CAP_MAX + 1);
	expect_error(text, want);
	expect_error("performance:\n  captureCap: 64MiB\n",
		     "2:15: error: expected a size in 64..4MiB (bytes, or with a unit: 4KiB, 100MB) for performance.captureCap, got '64MiB': above HT_CAPTURE_CAP_MAX, the most the kernel captures of one syscall");
	expect_error("performance:\n  captureCap: 63\n",
		     "2:15: error: expected a size in 64..4MiB (bytes, or with a unit: 4KiB, 100MB) for performance.captureCap, got '63': below HT_CAPTURE_CAP_MIN, the smallest capture cap");
}

/* ringbufferSize: HT_RINGBUF_MIN..HT_RINGBUF_MAX, all CPUs together. */
static void test_ringbuffer_limits(void **state)
{
	char want[512], text[512];
	struct ht_config *c;

	snprintf(text, sizeof(text), "performance:\n  ringbufferSize: %lluB\n",
		 (unsigned long long)HT_RINGBUF_MAX);
	c = expect_load(text);
	assert_int_equal(c->ringbuffer_bytes, HT_RINGBUF_MAX);
	ht_config_free(c);
	snprintf(text, sizeof(text), "performance:\n  ringbufferSize: %lluB\n",
		 (unsigned long long)HT_RINGBUF_MIN);
	c = expect_load(text);
	assert_int_equal(c->ringbuffer_bytes, HT_RINGBUF_MIN);
	ht_config_free(c);
	snprintf(text, sizeof(text), "performance:\n  ringbufferSize: %lluB\n",
		 (unsigned long long)HT_RINGBUF_MAX + 1);
	snprintf(want, sizeof(want), "2:19: error: expected a size in 1MiB..64GiB (a bare number means MiB: 256, 1GiB, 512MB) for performance.ringbufferSize, got '%lluB': above HT_RINGBUF_MAX, the most ring buffer memory",
		 (unsigned long long)HT_RINGBUF_MAX + 1);
	expect_error(text, want);
	snprintf(text, sizeof(text), "performance:\n  ringbufferSize: %lluB\n",
		 (unsigned long long)HT_RINGBUF_MIN - 1);
	snprintf(want, sizeof(want), "2:19: error: expected a size in 1MiB..64GiB (a bare number means MiB: 256, 1GiB, 512MB) for performance.ringbufferSize, got '%lluB': below HT_RINGBUF_MIN, the least ring buffer memory",
		 (unsigned long long)HT_RINGBUF_MIN - 1);
	expect_error(text, want);
}

/* Command-line overrides hit the same limits (--pid appends to the pids). */
static void test_kernel_limits_cli(void **state)
{
	struct ht_config *c = ht_config_defaults();
	char err[512], want[512], v[16];

	assert_non_null(c);
	for (int i = 1; i <= HT_PIDS_MAX; i++) {
		snprintf(v, sizeof(v), "%d", i);
		assert_int_equal(ht_config_set(c, "filtering.kernel.pids", v, err, sizeof(err)), 0);
	}
	assert_int_equal(c->n_pids, HT_PIDS_MAX);
	assert_int_equal(ht_config_set(c, "filtering.kernel.pids", "1", err, sizeof(err)), 0);
	snprintf(v, sizeof(v), "1,%d", HT_PIDS_MAX + 1);
	assert_int_equal(ht_config_set(c, "filtering.kernel.pids", v, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "too many entries in filtering.kernel.pids: at most %d (HT_PIDS_MAX, the size of the kernel map pid_allow)",
		 HT_PIDS_MAX);
	assert_string_equal(err, want);
	assert_int_equal(c->n_pids, HT_PIDS_MAX);
	assert_int_equal(ht_config_set(c, "performance.captureCap", "4MiB", err, sizeof(err)), 0);
	assert_int_equal(ht_config_set(c, "performance.captureCap", "5MiB", err, sizeof(err)), -1);
	assert_string_equal(err, "expected a size in 64..4MiB (bytes, or with a unit: 4KiB, 100MB) for performance.captureCap, got '5MiB': above HT_CAPTURE_CAP_MAX, the most the kernel captures of one syscall");
	assert_int_equal(c->capture_cap_bytes, 4 * MiB);
	ht_config_free(c);
}

static void test_empty_and_nulls(void **state)
{
	static const char *const ok[] = {
		"", "# only a comment\n", "---\n", "~\n", "output:\n", "filtering:\n  kernel:\n    pids:\n",
		"filtering: {kernel: {pids: ~, excludePorts: null}}\n",
	};
	char err[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ht_config *c = load_text(ok[i], err, sizeof(err));

		if (!c)
			fail_msg("'%s': %s", ok[i], err);
		assert_int_equal(c->worker_threads, 2);
		assert_int_equal(c->n_pids, 0);
		check_default_redaction(c);
		ht_config_free(c);
	}
}

static void test_aliases_and_styles(void **state)
{
	char err[512];
	struct ht_config *c = load_text(
		"filtering:\n"
		"  kernel:\n"
		"    excludePorts: &p [80, 443]\n"
		"    pids: [7]\n"
		"  excludeNamespaces:\n"
		"    - 'single'\n"
		"    - \"double\"\n"
		"    - plain\n"
		"    - 123\n"
		"  sampling: {enabled: True, rate: 1}\n"
		"output:\n"
		"  path: |-\n"
		"    /tmp/literal.log\n"
		"  rotation: {enabled: off, maxSize: \"5 MB\"}\n",
		err, sizeof(err));

	if (!c)
		fail_msg("%s", err);
	assert_int_equal(c->n_exclude_ports, 2);
	assert_int_equal(c->exclude_namespaces.n, 4);
	assert_string_equal(c->exclude_namespaces.v[0], "single");
	assert_string_equal(c->exclude_namespaces.v[3], "123");
	assert_true(c->sampling_enabled);
	assert_true(c->sampling_rate == 1.0);
	assert_string_equal(c->output_path, "/tmp/literal.log");
	assert_false(c->rotation_enabled);
	assert_int_equal(c->rotation_max_size, 5000000);
	ht_config_free(c);
}

static void test_set(void **state)
{
	struct ht_config *c = ht_config_defaults();
	char err[512];

	assert_int_equal(ht_config_set(c, "output.path", "/tmp/x.log", err, sizeof(err)), 0);
	assert_string_equal(c->output_path, "/tmp/x.log");
	assert_int_equal(ht_config_set(c, "output.path", "-", err, sizeof(err)), 0);
	assert_string_equal(c->output_path, "-");
	assert_int_equal(ht_config_set(c, "output.format", "csv", err, sizeof(err)), 0);
	assert_int_equal(c->format, HT_FMT_CSV);
	assert_int_equal(ht_config_set(c, "filtering.kernel.pids", "42", err, sizeof(err)), 0);
	assert_int_equal(ht_config_set(c, "filtering.kernel.pids", "43,44", err, sizeof(err)), 0);
	assert_int_equal(c->n_pids, 3);
	assert_int_equal(c->pids[0], 42);
	assert_int_equal(c->pids[2], 44);
	assert_int_equal(ht_config_set(c, "performance.workerThreads", "8", err, sizeof(err)), 0);
	assert_int_equal(c->worker_threads, 8);
	assert_int_equal(ht_config_set(c, "performance.ringbufferSize", "128", err, sizeof(err)), 0);
	assert_int_equal(c->ringbuffer_bytes, 128 * MiB);
	assert_int_equal(ht_config_set(c, "filtering.sampling.rate", "0.5", err, sizeof(err)), 0);
	assert_true(c->sampling_rate == 0.5);
	assert_int_equal(ht_config_set(c, "filtering.excludeIPs", "10.0.0.0/8", err, sizeof(err)), 0);
	assert_int_equal(c->n_exclude_ips, 1);
	assert_int_equal(ht_config_set(c, "filtering.redaction.headers", "X-Mine", err, sizeof(err)), 0);
	assert_true(strlist_has(&c->redact_headers, "x-mine"));

	assert_int_equal(ht_config_set(c, "output.format", "xml", err, sizeof(err)), -1);
	assert_string_equal(err, "expected one of ndjson|json|csv for output.format, got 'xml'");
	assert_int_equal(c->format, HT_FMT_CSV);
	assert_int_equal(ht_config_set(c, "filtering.kernel.pids", "12,x", err, sizeof(err)), -1);
	assert_string_equal(err, "expected a pid in 1..4194304 in filtering.kernel.pids, got 'x'");
	assert_int_equal(ht_config_set(c, "filtering.kernel.pids", "", err, sizeof(err)), -1);
	assert_int_equal(ht_config_set(c, "filtering.kernel.pids", "99999999999999999999999999999999999999", err, sizeof(err)), -1);
	assert_int_equal(ht_config_set(c, "performance.workerThreadz", "8", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown key 'workerThreadz' in performance (expected one of: ringbufferSize, workerThreads, batchSize, flushIntervalMs, idleTimeoutMs, shardMemory, captureCap)");
	assert_int_equal(ht_config_set(c, "filtering", "x", err, sizeof(err)), -1);
	assert_string_equal(err, "'filtering' is a section, not a value: give a key under it");
	assert_int_equal(ht_config_set(c, "output.path.x", "x", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown key 'output.path.x': 'output.path' is not a section");
	assert_int_equal(ht_config_set(c, "output.path.x", "x", err, sizeof(err)), -1);
	assert_int_equal(ht_config_set(c, "output.", "x", err, sizeof(err)), -1);
	assert_int_equal(ht_config_set(c, "", "x", err, sizeof(err)), -1);
	assert_int_equal(ht_config_set(c, "output.path", NULL, err, sizeof(err)), -1);
	assert_int_equal(c->n_pids, 3);
	ht_config_free(c);
}

static void test_derived(void **state)
{
	struct ht_config *a = ht_config_defaults(), *b = ht_config_defaults();
	char err[256];
	uint64_t g;

	assert_true(a->generation != 0 && b->generation != 0 && a->generation != b->generation);
	assert_int_equal(a->redact_patterns_alnum.n, a->redact_body_patterns.n);
	assert_true(strlist_has(&a->redact_patterns_alnum, "apikey"));
	g = a->generation;
	assert_int_equal(ht_config_set(a, "filtering.redaction.bodyPatterns", "Client-ID", err, sizeof(err)), 0);
	assert_true(a->generation != g);
	assert_true(strlist_has(&a->redact_patterns_alnum, "clientid"));
	assert_true(strlist_has(&a->redact_body_patterns, "client-id"));
	g = a->generation;
	assert_int_equal(ht_config_set(a, "output.format", "bad", err, sizeof(err)), -1);
	assert_true(a->generation == g); /* a failed set changes nothing */
	ht_config_free(a);
	ht_config_free(b);
}

/* ---- reload */

static void test_install_reload(void **state)
{
	char err[512];
	const char *good = "performance: {workerThreads: 7}\n";
	struct ht_config *cur;
	char path[64];

	rcu_register_thread();
	assert_null(ht_config_current);
	ht_config_install(ht_config_defaults());
	rcu_read_lock();
	assert_int_equal(rcu_dereference(ht_config_current)->worker_threads, 2);
	rcu_read_unlock();

	/* command-line overrides survive reloads */
	assert_int_equal(ht_config_add_override("output.format", "json", err, sizeof(err)), 0);
	assert_int_equal(ht_config_add_override("output.format", "yaml", err, sizeof(err)), -1);

	write_tmp(good);
	strcpy(path, tmp_path);
	assert_int_equal(ht_config_reload(path, err, sizeof(err)), 0);
	rcu_read_lock();
	cur = rcu_dereference(ht_config_current);
	assert_int_equal(cur->worker_threads, 7);
	assert_int_equal(cur->format, HT_FMT_JSON);
	assert_string_equal(cur->source, path);
	rcu_read_unlock();

	/* a bad file leaves the old config in place */
	cur = ht_config_current;
	write_tmp("performance: {workerThreads: 700}\n");
	assert_int_equal(ht_config_reload(tmp_path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1:30: error: expected an integer in 1..64"));
	assert_ptr_equal(ht_config_current, cur);
	assert_int_equal(ht_config_current->worker_threads, 7);
	assert_int_equal(ht_config_reload("/nonexistent.yaml", err, sizeof(err)), -1);
	assert_ptr_equal(ht_config_current, cur);

	/* NULL path: the defaults, still with the overrides */
	assert_int_equal(ht_config_reload(NULL, err, sizeof(err)), 0);
	assert_int_equal(ht_config_current->worker_threads, 2);
	assert_int_equal(ht_config_current->format, HT_FMT_JSON);

	ht_config_clear_overrides();
	ht_config_install(NULL);
	assert_null(ht_config_current);
	unlink(path);
	rcu_unregister_thread();
}

/* A reader inside a read-side section keeps its config alive across a reload. */
struct reader_ctx {
	struct ht_config *seen;
	int phase;       /* 1: reader holds the config; 2: it read it after the swap */
	int workers;     /* what it read after the swap */
	int source_ok;
};

static void *reader(void *arg)
{
	struct reader_ctx *rc = arg;
	struct ht_config *c;

	rcu_register_thread();
	rcu_read_lock();
	c = rcu_dereference(ht_config_current);
	rc->seen = c;
	__atomic_store_n(&rc->phase, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&ht_config_current, __ATOMIC_ACQUIRE) == c)
		usleep(100); /* wait for the writer's swap */
	/* the writer is now in synchronize_rcu: c must still be readable (ASan) */
	rc->workers = (int)c->worker_threads;
	rc->source_ok = strcmp(c->source, "(defaults)") == 0;
	__atomic_store_n(&rc->phase, 2, __ATOMIC_RELEASE);
	rcu_read_unlock();
	rcu_unregister_thread();
	return NULL;
}

static void test_reload_with_reader(void **state)
{
	struct reader_ctx rc = { 0 };
	pthread_t th;
	char err[512];

	ht_config_install(ht_config_defaults());
	assert_int_equal(pthread_create(&th, NULL, reader, &rc), 0);
	while (__atomic_load_n(&rc.phase, __ATOMIC_ACQUIRE) < 1)
		usleep(100);
	write_tmp("performance: {workerThreads: 3}\n");
	/* returns only after the reader left its section */
	assert_int_equal(ht_config_reload(tmp_path, err, sizeof(err)), 0);
	assert_int_equal(__atomic_load_n(&rc.phase, __ATOMIC_ACQUIRE), 2);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(rc.workers, 2);
	assert_true(rc.source_ok);
	assert_int_equal(ht_config_current->worker_threads, 3);
	ht_config_install(NULL);
}

/* Every prefix of the design file and every byte of it replaced by a YAML
 * metacharacter: loads or fails with one "PATH:..." line, never crashes. */
static void check_loads_or_errs(const char *text)
{
	char err[1024] = "";
	struct ht_config *c = load_text(text, err, sizeof(err));

	if (c) {
		ht_config_free(c);
		return;
	}
	if (strncmp(err, tmp_path, strlen(tmp_path)) != 0 || strchr(err, '\n'))
		fail_msg("bad error line for:\n%s\n-> %s", text, err);
}

static void test_mutations(void **state)
{
	static const char meta[] = ":-[]{}\"'&*!|>#,\t\n x0\xff";
	char *text, *orig;
	FILE *f = fopen(DATA "design.yaml", "r");
	size_t len;

	assert_non_null(f);
	orig = calloc(1, 4096);
	assert_non_null(orig);
	len = fread(orig, 1, 4095, f);
	fclose(f);
	text = calloc(1, len + 1);
	assert_non_null(text);
	for (size_t n = 0; n <= len; n += 7) {
		memcpy(text, orig, n);
		text[n] = '\0';
		check_loads_or_errs(text);
	}
	for (size_t i = 0; i < len; i += 3) {
		for (size_t m = 0; m < sizeof(meta) - 1; m++) {
			memcpy(text, orig, len + 1);
			text[i] = meta[m];
			check_loads_or_errs(text);
		}
	}
	free(text);
	free(orig);
}

/* output.clickhouse (DESIGN §9): the block as the design writes it, each
 * key set, its errors at file:line:column, and output.path "". */
static const char ch_design[] =
	"output:\n"
	"  clickhouse:\n"
	"    url: \"\"            # e.g. http://127.0.0.1:8123 ; empty: no ClickHouse sink\n"
	"    database: default\n"
	"    table: http_events\n"
	"    user: default\n"
	"    passwordFile: \"\"\n"
	"    createTable: false # true: CREATE TABLE IF NOT EXISTS at start\n"
	"    spoolDir: \"\"       # empty: memory queue only\n"
	"    spoolMaxSize: 1GiB\n";

static void test_clickhouse(void **state)
{
	struct ht_config *c = ht_config_defaults();

	assert_non_null(c);
	assert_string_equal(c->ch_url, "");
	assert_string_equal(c->ch_database, "default");
	assert_string_equal(c->ch_table, "http_events");
	assert_string_equal(c->ch_user, "default");
	assert_string_equal(c->ch_password_file, "");
	assert_false(c->ch_create_table);
	assert_string_equal(c->ch_spool_dir, "");
	assert_int_equal(c->ch_spool_max, 1 * GiB);
	assert_true(c->ch_gzip);
	ht_config_free(c);

	c = expect_load(ch_design);
	assert_string_equal(c->ch_url, "");
	assert_int_equal(c->ch_spool_max, 1 * GiB);
	ht_config_free(c);

	c = expect_load("output:\n  path: \"\"\n  clickhouse:\n    url: http://ch.example:8123/\n"
			"    database: traces\n    table: http_events_dist\n    user: tracer@node-1\n"
			"    passwordFile: /etc/http-tracer/ch.pw\n    createTable: true\n"
			"    spoolDir: /var/spool/http-tracer\n    spoolMaxSize: 500MB\n"
			"    compression: none\n");
	assert_string_equal(c->output_path, "");
	assert_string_equal(c->ch_url, "http://ch.example:8123/");
	assert_string_equal(c->ch_database, "traces");
	assert_string_equal(c->ch_table, "http_events_dist");
	assert_string_equal(c->ch_user, "tracer@node-1");
	assert_string_equal(c->ch_password_file, "/etc/http-tracer/ch.pw");
	assert_true(c->ch_create_table);
	assert_string_equal(c->ch_spool_dir, "/var/spool/http-tracer");
	assert_int_equal(c->ch_spool_max, 500000000ull);
	assert_false(c->ch_gzip);
	ht_config_free(c);

	c = expect_load("output:\n  clickhouse: {url: \"https://[::1]:8443\", spoolDir: ~}\n");
	assert_string_equal(c->ch_url, "https://[::1]:8443");
	assert_string_equal(c->ch_spool_dir, "");
	ht_config_free(c);

	expect_error("output:\n  clickhouse:\n    url: ftp://x:21\n",
		     "3:10: error: expected an http:// or https:// URL of host and port (e.g. http://127.0.0.1:8123), or \"\" for none, for output.clickhouse.url, got 'ftp://x:21'");
	expect_error("output:\n  clickhouse:\n    url: http://h:8123/db?x=1\n",
		     "3:10: error: expected an http:// or https:// URL of host and port (e.g. http://127.0.0.1:8123), or \"\" for none, for output.clickhouse.url, got 'http://h:8123/db?x=1'");
	expect_error("output:\n  clickhouse:\n    table: \"events; DROP TABLE x\"\n",
		     "3:12: error: expected a name of letters, digits and '_' (not starting with a digit, at most 128) for output.clickhouse.table, got 'events; DROP TABLE x'");
	expect_error("output:\n  clickhouse:\n    database: 9db\n",
		     "3:15: error: expected a name of letters, digits and '_' (not starting with a digit, at most 128) for output.clickhouse.database, got '9db'");
	expect_error("output:\n  clickhouse:\n    user: \"a b\"\n",
		     "3:11: error: expected a user name of letters, digits, '_', '.', '@' and '-' (at most 128) for output.clickhouse.user, got 'a b'");
	expect_error("output:\n  clickhouse:\n    compression: zstd\n",
		     "3:18: error: expected gzip or none for output.clickhouse.compression, got 'zstd'");
	expect_error("output:\n  clickhouse:\n    createTable: maybe\n",
		     "3:18: error: expected true or false for output.clickhouse.createTable, got 'maybe'");
	expect_error("output:\n  clickhouse:\n    spoolMaxSize: 1KiB\n",
		     "3:19: error: expected a size in 1MiB..1TiB (bytes, or with a unit: 4KiB, 100MB) for output.clickhouse.spoolMaxSize, got '1KiB'");
	expect_error("output:\n  clickhouse:\n    tabel: x\n",
		     "3:5: error: unknown key 'tabel' in output.clickhouse (expected one of: url, database, table, user, passwordFile, createTable, spoolDir, spoolMaxSize, compression)");
}

static int cleanup(void **state)
{
	if (tmp_path[0])
		unlink(tmp_path);
	return 0;
}

/* ---- output.otlp and the OTEL_* environment (DESIGN §10) */

static const char *const otel_vars[] = {
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_SERVICE_NAME",
};

static void otel_clear(void)
{
	for (size_t i = 0; i < sizeof(otel_vars) / sizeof(otel_vars[0]); i++)
		unsetenv(otel_vars[i]);
}

static void test_otlp_keys(void **state)
{
	struct ht_config *c;
	char url[256];

	otel_clear();
	c = ht_config_defaults();
	assert_string_equal(c->otlp_endpoint, "");
	assert_string_equal(ht_config_otlp_url(c, url, sizeof(url)), "");
	assert_false(c->otlp_json);
	assert_true(c->otlp_gzip);
	assert_int_equal(c->otlp_timeout_ms, 10000);
	assert_int_equal(c->otlp_headers.n, 0);
	ht_config_free(c);

	c = expect_load("output:\n  otlp:\n    endpoint: http://127.0.0.1:4318/\n"
			"    protocol: http/json\n    compression: none\n    timeoutMs: 2500\n"
			"    headers: {authorization: \"Bearer abc\", X-Scope-OrgID: team-a}\n"
			"    serviceName: edge\n    queueMaxSize: 8MiB\n"
			"    spoolDir: /var/spool/ht-otlp\n    spoolMaxSize: 2GiB\n");
	assert_string_equal(ht_config_otlp_url(c, url, sizeof(url)), "http://127.0.0.1:4318/v1/traces");
	assert_true(c->otlp_json);
	assert_false(c->otlp_gzip);
	assert_int_equal(c->otlp_timeout_ms, 2500);
	assert_int_equal(c->otlp_headers.n, 2);
	assert_string_equal(c->otlp_headers.v[0], "authorization: Bearer abc");
	assert_string_equal(c->otlp_headers.v[1], "X-Scope-OrgID: team-a");
	assert_string_equal(c->otlp_service_name, "edge");
	assert_int_equal(c->otlp_queue_max_bytes, 8 * MiB);
	assert_string_equal(c->otlp_spool_dir, "/var/spool/ht-otlp");
	assert_int_equal(c->otlp_spool_max_bytes, 2048 * MiB);
	ht_config_free(c);

	expect_error("output:\n  otlp:\n    endpoint: ftp://x\n",
		     "3:15: error: expected \"\" (no OTLP export) or an http:// or https:// URL without spaces, at most 2048 bytes (e.g. http://127.0.0.1:4318), for output.otlp.endpoint, got 'ftp://x'");
	expect_error("output:\n  otlp:\n    protocol: grpc\n",
		     "3:15: error: grpc is not supported for output.otlp.protocol: use http/protobuf (an OTLP/HTTP receiver, port 4318) or http/json");
	expect_error("output:\n  otlp:\n    protocol: protobuf\n",
		     "3:15: error: expected http/protobuf or http/json for output.otlp.protocol, got 'protobuf'");
	expect_error("output:\n  otlp:\n    compression: zstd\n",
		     "3:18: error: expected gzip or none for output.otlp.compression, got 'zstd'");
	expect_error("output:\n  otlp:\n    timeoutMs: 0\n",
		     "3:16: error: expected an integer in 1..600000 for output.otlp.timeoutMs, got '0'");
	expect_error("output:\n  otlp:\n    headers: [a, b]\n",
		     "3:14: error: expected a mapping of header name: value (e.g. {authorization: \"Bearer ...\"}) for output.otlp.headers, got a list");
	expect_error("output:\n  otlp:\n    headers:\n      \"bad name\": x\n",
		     "4:7: error: expected an HTTP header name in output.otlp.headers, got 'bad name'");
	expect_error("output:\n  otlp:\n    headers:\n      a: \"x\\ny\"\n",
		     "4:10: error: expected a header value of at most 8192 bytes without CR, LF or NUL for output.otlp.headers.a");
	expect_error("output:\n  otlp:\n    endpoint2: x\n",
		     "3:5: error: unknown key 'endpoint2' in output.otlp (expected one of: endpoint, protocol, headers, timeoutMs, compression, serviceName, queueMaxSize, spoolDir, spoolMaxSize)");
}

/* The OTEL_* variables are the defaults; every key the file gives wins. */
static void test_otlp_env(void **state)
{
	struct ht_config *c;
	char url[256];

	otel_clear();
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", " api-key = s%3Dcr%2Cet , tenant=a ,broken", 1);
	setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", 1);
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "3000", 1);
	setenv("OTEL_SERVICE_NAME", "payments", 1);
	c = ht_config_defaults();
	assert_string_equal(ht_config_otlp_url(c, url, sizeof(url)), "http://collector:4318/v1/traces");
	assert_true(c->otlp_json);
	assert_int_equal(c->otlp_timeout_ms, 3000);
	assert_string_equal(c->otlp_service_name, "payments");
	assert_int_equal(c->otlp_headers.n, 2); /* "broken" has no '=': skipped */
	assert_string_equal(c->otlp_headers.v[0], "api-key: s=cr,et");
	assert_string_equal(c->otlp_headers.v[1], "tenant: a");
	ht_config_free(c);

	/* the traces endpoint is used as is and beats the generic one */
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://otlp.example/custom/path", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", 1);
	c = ht_config_defaults();
	assert_string_equal(ht_config_otlp_url(c, url, sizeof(url)), "https://otlp.example/custom/path");
	assert_false(c->otlp_json);
	ht_config_free(c);

	/* the file wins: endpoint (then /v1/traces is appended), protocol, one header */
	c = expect_load("output:\n  otlp:\n    endpoint: http://127.0.0.1:18200\n"
			"    protocol: http/json\n    headers: {TENANT: b}\n    serviceName: ''\n");
	assert_string_equal(ht_config_otlp_url(c, url, sizeof(url)), "http://127.0.0.1:18200/v1/traces");
	assert_true(c->otlp_json);
	assert_int_equal(c->otlp_headers.n, 2);
	assert_string_equal(c->otlp_headers.v[1], "TENANT: b");
	assert_string_equal(c->otlp_service_name, "");
	ht_config_free(c);

	/* a bad variable is ignored (with a warning), never fatal */
	otel_clear();
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318", 1);
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", 1);
	c = ht_config_defaults();
	assert_non_null(c);
	assert_string_equal(c->otlp_endpoint, "");
	assert_int_equal(c->otlp_timeout_ms, 10000);
	ht_config_free(c);
	otel_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_clickhouse),
		cmocka_unit_test(test_design_block),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_kubernetes),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_ringbuffer_units),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_kernel_list_limits),
		cmocka_unit_test(test_health_path_limit),
		cmocka_unit_test(test_capture_cap_limits),
		cmocka_unit_test(test_ringbuffer_limits),
		cmocka_unit_test(test_kernel_limits_cli),
		cmocka_unit_test(test_empty_and_nulls),
		cmocka_unit_test(test_aliases_and_styles),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_derived),
		cmocka_unit_test(test_install_reload),
		cmocka_unit_test(test_reload_with_reader),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_otlp_keys),
		cmocka_unit_test(test_otlp_env),
	};

	return cmocka_run_group_tests(tests, NULL, cleanup);
}
