/*
 * config.c - YAML configuration (DESIGN §4), command-line overrides and
 * RCU-published reloads; see config.h.
 *
 * The file is read whole (at most HT_CONFIG_MAX_FILE bytes), parsed into a
 * libyaml document, and walked against a static key table: every key is
 * known, typed and range-checked, and the first problem is reported as
 * "FILE:LINE:COL: error: ..." with 1-based positions from libyaml's marks.
 * A config is immutable once installed; reload builds a new one on the side
 * and swaps the pointer, so a bad file never disturbs the running config.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <urcu.h>
#include <yaml.h>

#include "base/fdio.h"

#define HT_CONFIG_MAX_FILE (1u << 20) /* bytes of YAML accepted */
#define HT_VALUE_SHOW 60              /* bytes of a bad value quoted in a message */

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)

struct ht_config *ht_config_current;

/* Always redacted, whatever the file says: the file's lists extend these. */
static const char *const default_redact_headers[] = {
	"authorization", "proxy-authorization", "cookie", "set-cookie",
	"x-auth-token", "x-api-key", NULL,
};
static const char *const default_body_patterns[] = {
	"password", "token", "api_key", "secret", NULL,
};

/* ---- key table */

enum ktype {
	KT_MAP,
	KT_BOOL,
	KT_U32,      /* plain decimal integer in [min, max] */
	KT_RATE,     /* number in [0, 1] */
	KT_SIZE,     /* size with optional unit; bare number times `unit` */
	KT_PATH,     /* output.path ("" only with a network sink) */
	KT_FILE,     /* a file or directory path, "" = none */
	KT_URL,      /* http(s)://host[:port][/], "" = none */
	KT_IDENT,    /* an SQL identifier: [A-Za-z_][A-Za-z0-9_]* */
	KT_USER,     /* a user name: [A-Za-z0-9_.@-]+ */
	KT_FORMAT,   /* ndjson | json | csv */
	KT_COMPRESSION, /* gzip | none, into a bool (true: gzip) */
	KT_LISTEN,   /* host:port */
	KT_K8S_MODE, /* auto | true | false */
	KT_K8S_URL,  /* http:// or https:// URL, a path allowed, or "" */
	KT_K8S_FILE, /* a file path, never "" */
	KT_NODE,     /* a Kubernetes node name, or "" */
	KT_OTLP_URL,      /* output.otlp.endpoint: "" or http(s)://... */
	KT_OTLP_PROTOCOL, /* http/protobuf | http/json */
	KT_OTLP_TEXT,     /* a plain string (the service name) */
	KT_OTLP_HEADERS,  /* mapping of header name: value */
	KT_PORTS,    /* list of ports */
	KT_PIDS,     /* list of pids */
	KT_NAMES,    /* list of plain names (namespaces) */
	KT_HEALTH,   /* list of paths starting with '/' */
	KT_REGEXES,  /* list of POSIX EREs */
	KT_CIDRS,    /* list of addresses / CIDR ranges */
	KT_HEADERS,  /* list of header names, extends the defaults */
	KT_PATTERNS, /* list of name patterns, extends the defaults */
	KT_FILES,    /* list of absolute file paths */
};

struct kdesc {
	const char *name;
	enum ktype type;
	size_t off;          /* field in struct ht_config */
	uint8_t width;       /* KT_U32/KT_SIZE: 4 or 8 bytes */
	uint64_t min, max;   /* KT_U32/KT_SIZE range */
	uint64_t unit;       /* KT_SIZE: bytes per bare unit */
	const struct kdesc *sub; /* KT_MAP */
	size_t max_n;        /* lists: most entries (0: HT_CONFIG_LIST_MAX) */
	/* The include/ht_limits.h constant behind min / max (or max_n), and
	 * why, quoted when a value is past it; NULL: a plain range. */
	const char *lim_min, *lim_max;
};

#define OFF(f) offsetof(struct ht_config, f)
#define FW(f) ((uint8_t)sizeof(((struct ht_config *)0)->f))
#define K_MAP(n, s) { .name = (n), .type = KT_MAP, .sub = (s) }
#define K_FIELD(n, t, f) { .name = (n), .type = (t), .off = OFF(f) }
#define K_NUM(n, t, f, lo, hi, u) \
	{ .name = (n), .type = (t), .off = OFF(f), .width = FW(f), .min = (lo), .max = (hi), .unit = (u) }
/* A number whose bounds are include/ht_limits.h constants lo and hi. */
#define K_LIM(n, t, f, lo, hi, u, why_lo, why_hi)                                      \
	{ .name = (n), .type = (t), .off = OFF(f), .width = FW(f), .min = (lo), .max = (hi), \
	  .unit = (u), .lim_min = #lo ", " why_lo, .lim_max = #hi ", " why_hi }
/* A list the kernel holds in a map of hi entries (an ht_limits.h constant). */
#define K_KLIST(n, t, f, hi, why) \
	{ .name = (n), .type = (t), .off = OFF(f), .max_n = (hi), .lim_max = #hi ", " why }

static const struct kdesc k_kernel[] = {
	K_KLIST("excludePorts", KT_PORTS, exclude_ports, HT_PORTS_MAX,
		"the size of the kernel map deny_ports"),
	K_KLIST("healthCheckPaths", KT_HEALTH, health_paths, HT_HEALTH_PATHS_MAX,
		"the size of the kernel map health_paths"),
	K_KLIST("pids", KT_PIDS, pids, HT_PIDS_MAX, "the size of the kernel map pid_allow"),
	{ NULL },
};
static const struct kdesc k_sampling[] = {
	K_FIELD("enabled", KT_BOOL, sampling_enabled),
	K_FIELD("rate", KT_RATE, sampling_rate),
	{ NULL },
};
static const struct kdesc k_limits[] = {
	K_NUM("maxBodySize", KT_SIZE, max_body_size, 0, 16 * MiB, 1),
	K_NUM("maxHeaderSize", KT_SIZE, max_header_size, 1, 1 * MiB, 1),
	{ NULL },
};
static const struct kdesc k_redaction[] = {
	K_FIELD("headers", KT_HEADERS, redact_headers),
	K_FIELD("bodyPatterns", KT_PATTERNS, redact_body_patterns),
	{ NULL },
};
static const struct kdesc k_filtering[] = {
	K_MAP("kernel", k_kernel),
	K_FIELD("excludeNamespaces", KT_NAMES, exclude_namespaces),
	K_FIELD("excludePods", KT_REGEXES, exclude_pods),
	K_FIELD("excludePaths", KT_REGEXES, exclude_paths),
	K_FIELD("excludeIPs", KT_CIDRS, exclude_ips),
	K_MAP("sampling", k_sampling),
	K_MAP("dataLimits", k_limits),
	K_MAP("redaction", k_redaction),
	{ NULL },
};
static const struct kdesc k_rotation[] = {
	K_FIELD("enabled", KT_BOOL, rotation_enabled),
	K_NUM("maxSize", KT_SIZE, rotation_max_size, 1, TiB, 1),
	K_NUM("maxFiles", KT_U32, rotation_max_files, 1, 1000, 0),
	K_NUM("compressionLevel", KT_U32, rotation_gzip_level, HT_ROTATION_LEVEL_MIN,
	      HT_ROTATION_LEVEL_MAX, 0),
	{ NULL },
};
static const struct kdesc k_otlp[] = {
	K_FIELD("endpoint", KT_OTLP_URL, otlp_endpoint),
	K_FIELD("protocol", KT_OTLP_PROTOCOL, otlp_json),
	K_FIELD("headers", KT_OTLP_HEADERS, otlp_headers),
	K_NUM("timeoutMs", KT_U32, otlp_timeout_ms, 1, 600000, 0),
	K_FIELD("compression", KT_COMPRESSION, otlp_gzip),
	K_FIELD("serviceName", KT_OTLP_TEXT, otlp_service_name),
	K_NUM("queueMaxSize", KT_SIZE, otlp_queue_max_bytes, 64 * KiB, TiB, 1),
	K_FIELD("spoolDir", KT_FILE, otlp_spool_dir),
	K_NUM("spoolMaxSize", KT_SIZE, otlp_spool_max_bytes, 1 * MiB, 16 * TiB, 1),
	{ NULL },
};
static const struct kdesc k_clickhouse[] = {
	K_FIELD("url", KT_URL, ch_url),
	K_FIELD("database", KT_IDENT, ch_database),
	K_FIELD("table", KT_IDENT, ch_table),
	K_FIELD("user", KT_USER, ch_user),
	K_FIELD("passwordFile", KT_FILE, ch_password_file),
	K_FIELD("createTable", KT_BOOL, ch_create_table),
	K_FIELD("spoolDir", KT_FILE, ch_spool_dir),
	K_NUM("spoolMaxSize", KT_SIZE, ch_spool_max, 1 * MiB, TiB, 1),
	K_FIELD("compression", KT_COMPRESSION, ch_gzip),
	{ NULL },
};
static const struct kdesc k_output[] = {
	K_FIELD("path", KT_PATH, output_path),
	K_FIELD("format", KT_FORMAT, format),
	K_MAP("rotation", k_rotation),
	K_MAP("otlp", k_otlp),
	K_MAP("clickhouse", k_clickhouse),
	{ NULL },
};
static const struct kdesc k_performance[] = {
	K_LIM("ringbufferSize", KT_SIZE, ringbuffer_bytes, HT_RINGBUF_MIN, HT_RINGBUF_MAX,
	      MiB /* bare = MiB */, "the least ring buffer memory",
	      "the most ring buffer memory"),
	K_NUM("workerThreads", KT_U32, worker_threads, 1, 64, 0),
	K_NUM("batchSize", KT_U32, batch_size, 1, 100000, 0),
	K_NUM("flushIntervalMs", KT_U32, flush_interval_ms, 1, 60000, 0),
	K_NUM("idleTimeoutMs", KT_U32, idle_timeout_ms, 100, 86400000, 0),
	K_NUM("shardMemory", KT_SIZE, shard_memory_bytes, 1 * MiB, TiB, 1),
	K_LIM("captureCap", KT_SIZE, capture_cap_bytes, HT_CAPTURE_CAP_MIN, HT_CAPTURE_CAP_MAX, 1,
	      "the smallest capture cap",
	      "the most the kernel captures of one syscall"),
	{ NULL },
};
static const struct kdesc k_metrics[] = {
	K_FIELD("listen", KT_LISTEN, metrics_listen),
	{ NULL },
};
static const struct kdesc k_kubernetes[] = {
	K_FIELD("enabled", KT_K8S_MODE, k8s_mode),
	K_FIELD("apiServer", KT_K8S_URL, k8s_api_server),
	K_FIELD("tokenFile", KT_K8S_FILE, k8s_token_file),
	K_FIELD("caFile", KT_K8S_FILE, k8s_ca_file),
	K_FIELD("nodeName", KT_NODE, k8s_node_name),
	{ NULL },
};
static const struct kdesc k_tls[] = {
	K_FIELD("enabled", KT_BOOL, tls_enabled),
	K_FIELD("libraries", KT_FILES, tls_libraries),
	{ NULL },
};
static const struct kdesc k_top[] = {
	K_MAP("filtering", k_filtering),
	K_MAP("output", k_output),
	K_MAP("performance", k_performance),
	K_MAP("metrics", k_metrics),
	K_MAP("kubernetes", k_kubernetes),
	K_MAP("tls", k_tls),
	{ NULL },
};

/* ---- parse context and errors */

struct pctx {
	struct ht_config *c;
	const char *file;      /* NULL: a command-line override */
	const char *cli_key;   /* the dotted key of an override */
	char *err;
	size_t errlen;
};

/* One scalar to convert: bytes (NUL-terminated at len), its style, place. */
struct sval {
	const char *s;
	size_t len;
	bool quoted;   /* any non-plain style: a string, never a number */
	bool is_null;  /* plain "", "~" or "null" */
	yaml_mark_t mark;
};

static int perr(struct pctx *x, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct pctx *x, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!x->err || !x->errlen)
		return -1;
	if (x->file && m)
		n = snprintf(x->err, x->errlen, "%s:%zu:%zu: error: ", x->file,
			     m->line + 1, m->column + 1);
	else if (x->file)
		n = snprintf(x->err, x->errlen, "%s: error: ", x->file);
	else
		n = 0; /* command line: the message names the key */
	if (n < 0 || (size_t)n >= x->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Printable, bounded rendering of a value for a message. */
static const char *show(const struct sval *v, char *buf, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < v->len && o + 5 < size; i++) {
		unsigned char ch = (unsigned char)v->s[i];

		if (i >= HT_VALUE_SHOW) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch >= 0x20 && ch < 0x7f && ch != '\'')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
	}
	buf[o] = '\0';
	return buf;
}

static void path_join(char *out, size_t size, const char *parent, const char *name)
{
	if (parent && *parent)
		snprintf(out, size, "%s.%s", parent, name);
	else
		snprintf(out, size, "%s", name);
}

/* Human form of a byte count for range messages: 16MiB, 1000, 64. */
static const char *show_size(uint64_t b, char *buf, size_t size)
{
	static const char *const bin[] = { "TiB", "GiB", "MiB", "KiB" };
	static const uint64_t mul[] = { TiB, GiB, MiB, KiB };

	for (int i = 0; i < 4; i++) {
		if (b && b % mul[i] == 0) {
			snprintf(buf, size, "%llu%s", (unsigned long long)(b / mul[i]), bin[i]);
			return buf;
		}
	}
	snprintf(buf, size, "%llu", (unsigned long long)b);
	return buf;
}

/* ---- strings and lists */

static char *dup_n(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

static void strlist_free(struct ht_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool strlist_has(const struct ht_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/* Append a copy of s[0..len); returns 0 or -ENOMEM. */
static int strlist_add(struct ht_strlist *l, const char *s, size_t len)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	char *p;

	if (!v)
		return -ENOMEM;
	l->v = v;
	p = dup_n(s, len);
	if (!p)
		return -ENOMEM;
	l->v[l->n++] = p;
	return 0;
}

static void regexlist_free(struct ht_regexlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->src[i]);
		regfree(&l->re[i]);
	}
	free(l->src);
	free(l->re);
	l->src = NULL;
	l->re = NULL;
	l->n = 0;
}

static void str_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* ---- scalar conversions */

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* "512", "4KiB", "100 MB" (case-insensitive) -> bytes; a bare number is
 * multiplied by bare_unit.  Returns 0, -EINVAL or -ERANGE. */
static int parse_size_unit(const char *s, size_t len, uint64_t bare_unit, uint64_t *out)
{
	static const struct { const char *name; uint64_t mul; } units[] = {
		{ "b", 1 }, { "kb", 1000ull }, { "mb", 1000000ull },
		{ "gb", 1000000000ull }, { "tb", 1000000000000ull },
		{ "kib", KiB }, { "mib", MiB }, { "gib", GiB }, { "tib", TiB },
	};
	size_t i = 0, d, u;
	uint64_t n, mul = bare_unit;
	int rc;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	d = i;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	rc = parse_u64(s + d, i - d, &n);
	if (rc)
		return rc;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	u = i;
	while (len > u && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (u < len) {
		mul = 0;
		for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
			if (strlen(units[k].name) == len - u &&
			    strncasecmp(units[k].name, s + u, len - u) == 0)
				mul = units[k].mul;
		}
		if (!mul)
			return -EINVAL;
	}
	if (n && mul > UINT64_MAX / n)
		return -ERANGE;
	*out = n * mul;
	return 0;
}

int ht_parse_size(const char *s, uint64_t *out)
{
	if (!s || !out)
		return -1;
	return parse_size_unit(s, strlen(s), 1, out) ? -1 : 0;
}

static void set_uint(struct ht_config *c, const struct kdesc *k, uint64_t v)
{
	char *p = (char *)c + k->off;

	if (k->width == 4) {
		uint32_t w = (uint32_t)v;

		memcpy(p, &w, sizeof(w));
	} else {
		memcpy(p, &v, sizeof(v));
	}
}

static bool plain_number_ok(struct pctx *x, const struct kdesc *k, const struct sval *v,
			    const char *key, const char *what)
{
	char b[256];

	if (v->quoted) {
		perr(x, &v->mark, "expected %s for %s, got the quoted string \"%s\" (remove the quotes)",
		     what, key, show(v, b, sizeof(b)));
		return false;
	}
	if (v->is_null) {
		perr(x, &v->mark, "expected %s for %s, got nothing", what, key);
		return false;
	}
	return true;
}

/* true/yes/on or false/no/off, any case: false if s is none of them. */
static bool bool_word(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };

	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*out = strcasecmp(s, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

static int conv_bool(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	char b[256];
	bool *dst = (bool *)((char *)x->c + k->off);

	if (!plain_number_ok(x, k, v, key, "true or false"))
		return -1;
	if (bool_word(v->s, dst))
		return 0;
	return perr(x, &v->mark, "expected true or false for %s, got '%s'", key,
		    show(v, b, sizeof(b)));
}

static int conv_u32(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	char what[96], b[256];
	uint64_t n;

	snprintf(what, sizeof(what), "an integer in %llu..%llu", (unsigned long long)k->min,
		 (unsigned long long)k->max);
	if (!plain_number_ok(x, k, v, key, what))
		return -1;
	if (parse_u64(v->s, v->len, &n) || n < k->min || n > k->max)
		return perr(x, &v->mark, "expected %s for %s, got '%s'", what, key,
			    show(v, b, sizeof(b)));
	set_uint(x->c, k, n);
	return 0;
}

static int conv_rate(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	const char *what = "a number in 0..1";
	char b[256], *end;
	double d;

	if (!plain_number_ok(x, k, v, key, what))
		return -1;
	if (strspn(v->s, "0123456789.eE+-") != v->len)
		goto bad;
	errno = 0;
	d = strtod(v->s, &end);
	if (errno || end != v->s + v->len || !isfinite(d) || d < 0.0 || d > 1.0)
		goto bad;
	*(double *)((char *)x->c + k->off) = d;
	return 0;
bad:
	return perr(x, &v->mark, "expected %s for %s, got '%s'", what, key, show(v, b, sizeof(b)));
}

static int conv_size(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	char what[160], lo[32], hi[32], b[256];
	uint64_t n;

	snprintf(what, sizeof(what), "a size in %s..%s (%s)",
		 show_size(k->min, lo, sizeof(lo)), show_size(k->max, hi, sizeof(hi)),
		 k->unit == 1 ? "bytes, or with a unit: 4KiB, 100MB" :
				"a bare number means MiB: 256, 1GiB, 512MB");
	if (v->is_null)
		return perr(x, &v->mark, "expected %s for %s, got nothing", what, key);
	if (parse_size_unit(v->s, v->len, k->unit, &n))
		return perr(x, &v->mark, "expected %s for %s, got '%s'", what, key,
			    show(v, b, sizeof(b)));
	if ((n < k->min && k->lim_min) || (n > k->max && k->lim_max))
		return perr(x, &v->mark, "expected %s for %s, got '%s': %s %s", what, key,
			    show(v, b, sizeof(b)), n < k->min ? "below" : "above",
			    n < k->min ? k->lim_min : k->lim_max);
	if (n < k->min || n > k->max)
		return perr(x, &v->mark, "expected %s for %s, got '%s'", what, key,
			    show(v, b, sizeof(b)));
	set_uint(x->c, k, n);
	return 0;
}

static bool has_nul(const struct sval *v)
{
	return memchr(v->s, '\0', v->len) != NULL;
}

static int replace_str(struct pctx *x, const struct kdesc *k, const struct sval *v)
{
	char **dst = (char **)((char *)x->c + k->off);
	char *p = dup_n(v->s, v->len);

	if (!p)
		return perr(x, &v->mark, "out of memory");
	free(*dst);
	*dst = p;
	return 0;
}

/* output.path: "" (no file) is allowed only with a network sink, which
 * main.c checks once every key is known. */
static int conv_path(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	if (v->is_null)
		return perr(x, &v->mark, "expected a file path, \"-\" (stdout) or \"\" (no file, with a network sink) for %s, got nothing", key);
	if (has_nul(v) || v->len >= PATH_MAX)
		return perr(x, &v->mark, "expected a file path or \"-\" (stdout) for %s, got a NUL byte or more than %d bytes",
			    key, PATH_MAX - 1);
	return replace_str(x, k, v);
}

static int conv_file(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	if (v->is_null)
		return replace_str(x, k, &(struct sval){ .s = "", .len = 0, .mark = v->mark });
	if (has_nul(v) || v->len >= PATH_MAX)
		return perr(x, &v->mark, "expected a path (or \"\" for none) for %s, got a NUL byte or more than %d bytes",
			    key, PATH_MAX - 1);
	return replace_str(x, k, v);
}

/* http://host[:port][/] or https://...; no path, query, user info or spaces. */
static bool url_valid(const char *s, size_t len)
{
	size_t i = !strncmp(s, "http://", 7) ? 7 : !strncmp(s, "https://", 8) ? 8 : 0;
	size_t host = i;

	if (!i || len > 255)
		return false;
	if (len > i && s[i] == '[') { /* [v6] */
		while (i < len && s[i] != ']')
			i++;
		if (i == len)
			return false;
		i++;
	} else {
		while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-' || s[i] == '_'))
			i++;
	}
	if (i == host)
		return false;
	if (i < len && s[i] == ':') {
		size_t d = ++i;

		while (i < len && isdigit((unsigned char)s[i]))
			i++;
		if (i == d || i - d > 5)
			return false;
	}
	return i == len || (i + 1 == len && s[i] == '/');
}

static int conv_url(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	char b[256];

	if (v->is_null || !v->len)
		return replace_str(x, k, &(struct sval){ .s = "", .len = 0, .mark = v->mark });
	if (has_nul(v) || !url_valid(v->s, v->len))
		return perr(x, &v->mark, "expected an http:// or https:// URL of host and port (e.g. http://127.0.0.1:8123), or \"\" for none, for %s, got '%s'",
			    key, show(v, b, sizeof(b)));
	return replace_str(x, k, v);
}

static int conv_name(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	bool ident = k->type == KT_IDENT;
	bool ok = !v->is_null && v->len && v->len <= 128 && !has_nul(v);
	char b[256];

	for (size_t i = 0; ok && i < v->len; i++) {
		unsigned char ch = (unsigned char)v->s[i];

		ok = isalnum(ch) || ch == '_' || (!ident && (ch == '.' || ch == '@' || ch == '-'));
	}
	if (ok && ident && isdigit((unsigned char)v->s[0]))
		ok = false;
	if (!ok)
		return perr(x, &v->mark, ident ? "expected a name of letters, digits and '_' (not starting with a digit, at most 128) for %s, got '%s'"
					       : "expected a user name of letters, digits, '_', '.', '@' and '-' (at most 128) for %s, got '%s'",
			    key, show(v, b, sizeof(b)));
	return replace_str(x, k, v);
}

static int conv_format(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	char b[256];
	enum ht_format *dst = (enum ht_format *)((char *)x->c + k->off);

	for (int f = HT_FMT_NDJSON; f <= HT_FMT_CSV; f++) {
		if (!v->is_null && strcmp(v->s, ht_format_name((enum ht_format)f)) == 0) {
			*dst = (enum ht_format)f;
			return 0;
		}
	}
	return perr(x, &v->mark, "expected one of ndjson|json|csv for %s, got '%s'", key,
		    show(v, b, sizeof(b)));
}

/* A sink's request bodies: "gzip" (true) or "none"; 0, or -1 for anything else. */
static int set_gzip(bool *gzip, const char *s)
{
	if (!strcmp(s, "gzip"))
		*gzip = true;
	else if (!strcmp(s, "none"))
		*gzip = false;
	else
		return -1;
	return 0;
}

static int conv_compression(struct pctx *x, const struct kdesc *k, const struct sval *v,
			    const char *key)
{
	char b[256];

	if (v->is_null || set_gzip((bool *)((char *)x->c + k->off), v->s))
		return perr(x, &v->mark, "expected gzip or none for %s, got '%s'", key,
			    show(v, b, sizeof(b)));
	return 0;
}

/* host:port, [v6]:port or :port; port 0..65535 (0: any free port). */
static bool listen_valid(const char *s, size_t len)
{
	const char *colon = memrchr(s, ':', len);
	uint64_t port;
	size_t hlen;

	if (!colon || parse_u64(colon + 1, len - (size_t)(colon + 1 - s), &port) || port > 65535)
		return false;
	hlen = (size_t)(colon - s);
	if (hlen && s[0] == '[')
		return hlen > 2 && s[hlen - 1] == ']';
	for (size_t i = 0; i < hlen; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static int conv_listen(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	char b[256];

	if (v->is_null || has_nul(v) || v->len > 255 || !listen_valid(v->s, v->len))
		return perr(x, &v->mark, "expected host:port (e.g. 127.0.0.1:9090, [::1]:9090, 0.0.0.0:9090) for %s, got '%s'",
			    key, show(v, b, sizeof(b)));
	return replace_str(x, k, v);
}

static int conv_k8s_mode(struct pctx *x, const struct kdesc *k, const struct sval *v,
			 const char *key)
{
	enum ht_k8s_mode *dst = (enum ht_k8s_mode *)((char *)x->c + k->off);
	char b[256];
	bool on;

	if (!v->quoted && strcmp(v->s, "auto") == 0) {
		*dst = HT_K8S_AUTO;
		return 0;
	}
	if (v->quoted || v->is_null || !bool_word(v->s, &on))
		return perr(x, &v->mark, "expected auto, true or false for %s, got '%s'", key,
			    show(v, b, sizeof(b)));
	*dst = on ? HT_K8S_ON : HT_K8S_OFF;
	return 0;
}

/* A URL of the API server: http:// (kubectl proxy) or https://, a host, an
 * optional port and path (an API server behind a proxy prefix); "" keeps
 * the in-cluster default. */
static int conv_k8s_url(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	size_t scheme = 0;
	char b[256];

	if (v->is_null || !v->len)
		return replace_str(x, k, &(struct sval){ .s = "", .len = 0 });
	if (!strncmp(v->s, "https://", 8))
		scheme = 8;
	else if (!strncmp(v->s, "http://", 7))
		scheme = 7;
	if (!scheme || v->len == scheme || v->len > 1024 || has_nul(v) ||
	    v->s[scheme] == '/' || v->s[scheme] == ':')
		goto bad;
	for (size_t i = scheme; i < v->len; i++)
		if ((unsigned char)v->s[i] <= ' ' || v->s[i] == 0x7f || v->s[i] == '?' ||
		    v->s[i] == '#')
			goto bad;
	return replace_str(x, k, v);
bad:
	return perr(x, &v->mark, "expected an http:// or https:// URL (e.g. https://10.96.0.1:443, http://127.0.0.1:8001 for kubectl proxy) or \"\" for %s, got '%s'",
		    key, show(v, b, sizeof(b)));
}

static int conv_k8s_file(struct pctx *x, const struct kdesc *k, const struct sval *v,
			 const char *key)
{
	if (v->is_null || !v->len)
		return perr(x, &v->mark, "expected a file path for %s, got nothing", key);
	if (has_nul(v) || v->len >= PATH_MAX)
		return perr(x, &v->mark, "expected a file path for %s, got a NUL byte or more than %d bytes",
			    key, PATH_MAX - 1);
	return replace_str(x, k, v);
}

/* A node name is a DNS subdomain (RFC 1123): at most 253 bytes of lower-case
 * letters, digits, '-' and '.'; "" keeps the default. */
static bool node_name_valid(const char *s, size_t len)
{
	if (len > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
		      s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

static int conv_node(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	char b[256];

	if (v->is_null || !v->len)
		return replace_str(x, k, &(struct sval){ .s = "", .len = 0 });
	if (has_nul(v) || !node_name_valid(v->s, v->len))
		return perr(x, &v->mark, "expected a node name (lower-case letters, digits, '-' and '.', at most 253 bytes) or \"\" for %s, got '%s'",
			    key, show(v, b, sizeof(b)));
	return replace_str(x, k, v);
}

/* ---- output.otlp (DESIGN §10) */

#define OTLP_HEADERS_MAX 64

/* An http:// or https:// URL of printable ASCII without spaces, or "". */
static bool otlp_url_valid(const char *s, size_t len)
{
	if (!len)
		return true;
	if (len > 2048 || (strncmp(s, "http://", 7) && strncmp(s, "https://", 8)))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return len > (s[4] == 's' ? 8u : 7u);
}

static int otlp_set_protocol(struct ht_config *c, const char *s)
{
	if (!strcmp(s, "http/protobuf"))
		c->otlp_json = false;
	else if (!strcmp(s, "http/json"))
		c->otlp_json = true;
	else
		return -1;
	return 0;
}

static int conv_otlp(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	const char *s = v->is_null ? "" : v->s;
	char b[256];

	if (has_nul(v))
		return perr(x, &v->mark, "expected text without NUL bytes for %s", key);
	switch (k->type) {
	case KT_OTLP_URL:
		if (!otlp_url_valid(s, v->is_null ? 0 : v->len))
			return perr(x, &v->mark, "expected \"\" (no OTLP export) or an http:// or https:// URL without spaces, at most 2048 bytes (e.g. http://127.0.0.1:4318), for %s, got '%s'",
				    key, show(v, b, sizeof(b)));
		x->c->otlp_endpoint_is_traces = false; /* the file's endpoint is a base URL */
		break;
	case KT_OTLP_PROTOCOL:
		if (!strcmp(s, "grpc"))
			return perr(x, &v->mark, "grpc is not supported for %s: use http/protobuf (an OTLP/HTTP receiver, port 4318) or http/json", key);
		if (otlp_set_protocol(x->c, s))
			return perr(x, &v->mark, "expected http/protobuf or http/json for %s, got '%s'",
				    key, show(v, b, sizeof(b)));
		return 0;
	default:
		if (v->len > 4096)
			return perr(x, &v->mark, "expected at most 4096 bytes for %s", key);
		break;
	}
	if (v->is_null) {
		struct sval empty = *v;

		empty.s = "";
		empty.len = 0;
		return replace_str(x, k, &empty);
	}
	return replace_str(x, k, v);
}

/* Name matches the header line "Name: value" (case-insensitive). */
static bool header_line_is(const char *line, const char *name, size_t n)
{
	return !strncasecmp(line, name, n) && line[n] == ':';
}

/* Set header name to value in the list of "Name: value" lines, replacing
 * an entry of the same name.  0 or -ENOMEM. */
static int header_set(struct ht_strlist *l, const char *name, size_t n, const char *value,
		      size_t vn)
{
	char *line = malloc(n + vn + 3);

	if (!line)
		return -ENOMEM;
	memcpy(line, name, n);
	memcpy(line + n, ": ", 2);
	memcpy(line + n + 2, value, vn);
	line[n + 2 + vn] = '\0';
	for (size_t i = 0; i < l->n; i++)
		if (header_line_is(l->v[i], name, n)) {
			free(l->v[i]);
			l->v[i] = line;
			return 0;
		}
	if (strlist_add(l, line, n + vn + 2)) {
		free(line);
		return -ENOMEM;
	}
	free(line);
	return 0;
}

static bool header_value_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

static int set_scalar(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	switch (k->type) {
	case KT_BOOL: return conv_bool(x, k, v, key);
	case KT_U32: return conv_u32(x, k, v, key);
	case KT_RATE: return conv_rate(x, k, v, key);
	case KT_SIZE: return conv_size(x, k, v, key);
	case KT_PATH: return conv_path(x, k, v, key);
	case KT_FILE: return conv_file(x, k, v, key);
	case KT_URL: return conv_url(x, k, v, key);
	case KT_IDENT:
	case KT_USER: return conv_name(x, k, v, key);
	case KT_FORMAT: return conv_format(x, k, v, key);
	case KT_COMPRESSION: return conv_compression(x, k, v, key);
	case KT_LISTEN: return conv_listen(x, k, v, key);
	case KT_K8S_MODE: return conv_k8s_mode(x, k, v, key);
	case KT_K8S_URL: return conv_k8s_url(x, k, v, key);
	case KT_K8S_FILE: return conv_k8s_file(x, k, v, key);
	case KT_NODE: return conv_node(x, k, v, key);
	case KT_OTLP_URL:
	case KT_OTLP_PROTOCOL:
	case KT_OTLP_TEXT: return conv_otlp(x, k, v, key);
	default: break;
	}
	return perr(x, &v->mark, "internal: %s is not a scalar key", key);
}

/* ---- list items */

static int list_count(struct ht_config *c, const struct kdesc *k)
{
	void *f = (char *)c + k->off;

	switch (k->type) {
	case KT_PORTS: return (int)c->n_exclude_ports;
	case KT_PIDS: return (int)c->n_pids;
	case KT_CIDRS: return (int)c->n_exclude_ips;
	case KT_REGEXES: return (int)((struct ht_regexlist *)f)->n;
	default: return (int)((struct ht_strlist *)f)->n;
	}
}

/* Whether list k is full (error reported at v): checked right before an
 * entry is appended, after duplicates are dropped, so a kernel list holds
 * as many distinct entries as its map. */
static bool list_full(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	size_t max = k->max_n ? k->max_n : HT_CONFIG_LIST_MAX;

	if ((size_t)list_count(x->c, k) < max)
		return false;
	perr(x, &v->mark, "too many entries in %s: at most %zu (%s)", key, max,
	     k->lim_max ? k->lim_max : "HT_CONFIG_LIST_MAX");
	return true;
}

static bool number_has(const struct ht_config *c, bool ports, uint64_t n)
{
	size_t cnt = ports ? c->n_exclude_ports : c->n_pids;

	for (size_t i = 0; i < cnt; i++)
		if ((ports ? c->exclude_ports[i] : c->pids[i]) == n)
			return true;
	return false;
}

static int add_number(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	bool ports = k->type == KT_PORTS;
	uint64_t max = ports ? 65535 : 4194304; /* PID_MAX_LIMIT */
	char what[64], b[256];
	uint64_t n;

	snprintf(what, sizeof(what), ports ? "a port in 1..%llu" : "a pid in 1..%llu",
		 (unsigned long long)max);
	if (!plain_number_ok(x, k, v, key, what))
		return -1;
	if (parse_u64(v->s, v->len, &n) || n < 1 || n > max)
		return perr(x, &v->mark, "expected %s in %s, got '%s'", what, key, show(v, b, sizeof(b)));
	if (number_has(x->c, ports, n))
		return 0; /* one map entry: a duplicate costs nothing */
	if (list_full(x, k, v, key))
		return -1;
	if (ports) {
		uint16_t *p = realloc(x->c->exclude_ports, (x->c->n_exclude_ports + 1) * sizeof(*p));

		if (!p)
			return perr(x, &v->mark, "out of memory");
		p[x->c->n_exclude_ports++] = (uint16_t)n;
		x->c->exclude_ports = p;
	} else {
		uint32_t *p = realloc(x->c->pids, (x->c->n_pids + 1) * sizeof(*p));

		if (!p)
			return perr(x, &v->mark, "out of memory");
		p[x->c->n_pids++] = (uint32_t)n;
		x->c->pids = p;
	}
	return 0;
}

static int add_regex(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	struct ht_regexlist *l = (struct ht_regexlist *)((char *)x->c + k->off);
	char msg[256], b[256];
	regex_t re;
	char **src;
	regex_t *res;
	int rc;

	if (v->is_null || !v->len || has_nul(v))
		return perr(x, &v->mark, "expected a regular expression in %s, got nothing", key);
	rc = regcomp(&re, v->s, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, &re, msg, sizeof(msg));
		return perr(x, &v->mark, "invalid regular expression '%s' in %s: %s",
			    show(v, b, sizeof(b)), key, msg);
	}
	if (list_full(x, k, v, key)) {
		regfree(&re);
		return -1;
	}
	src = realloc(l->src, (l->n + 1) * sizeof(*src));
	if (src)
		l->src = src;
	res = src ? realloc(l->re, (l->n + 1) * sizeof(*res)) : NULL;
	if (res)
		l->re = res;
	if (!src || !res || !(l->src[l->n] = dup_n(v->s, v->len))) {
		regfree(&re);
		return perr(x, &v->mark, "out of memory");
	}
	l->re[l->n++] = re;
	return 0;
}

static int add_cidr(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	struct ht_cidr cidr, *p;
	char b[256];

	if (v->is_null || has_nul(v) || v->len > 64 || ht_cidr_parse(v->s, &cidr))
		return perr(x, &v->mark, "expected an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8) in %s, got '%s'",
			    key, show(v, b, sizeof(b)));
	if (list_full(x, k, v, key))
		return -1;
	p = realloc(x->c->exclude_ips, (x->c->n_exclude_ips + 1) * sizeof(*p));
	if (!p)
		return perr(x, &v->mark, "out of memory");
	p[x->c->n_exclude_ips++] = cidr;
	x->c->exclude_ips = p;
	return 0;
}

static bool is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Names, health paths, header names and patterns: validate, then append. */
static int add_string(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	struct ht_strlist *l = (struct ht_strlist *)((char *)x->c + k->off);
	bool any_alnum = false;
	char b[256], *p;
	int rc;

	if (v->is_null || !v->len || has_nul(v))
		return perr(x, &v->mark, "expected a non-empty string in %s, got nothing", key);
	for (size_t i = 0; i < v->len; i++) {
		unsigned char ch = (unsigned char)v->s[i];

		any_alnum |= isalnum(ch) != 0;
		if (k->type == KT_HEADERS && !is_tchar(ch))
			return perr(x, &v->mark, "expected an HTTP header name in %s, got '%s'", key,
				    show(v, b, sizeof(b)));
	}
	if (k->type == KT_HEALTH && v->s[0] != '/')
		return perr(x, &v->mark, "expected a path starting with '/' in %s, got '%s'",
			    key, show(v, b, sizeof(b)));
	if (k->type == KT_HEALTH && v->len > HT_HEALTH_PATH_LEN_MAX)
		return perr(x, &v->mark, "expected a path of at most %d bytes in %s, got %zu bytes (HT_HEALTH_PATH_LEN_MAX, the kernel's path key of HT_PATH_MAX bytes keeps a NUL)",
			    HT_HEALTH_PATH_LEN_MAX, key, v->len);
	/* the kernel's path ends at '?' or ' ': such an entry could never match */
	if (k->type == KT_HEALTH && strpbrk(v->s, "? "))
		return perr(x, &v->mark, "expected a path without '?' or spaces in %s (the kernel compares the path before the query), got '%s'",
			    key, show(v, b, sizeof(b)));
	if (k->type == KT_FILES && (v->s[0] != '/' || v->len > 4095))
		return perr(x, &v->mark, "expected an absolute file path (starting with '/', at most 4095 bytes) in %s, got '%s'",
			    key, show(v, b, sizeof(b)));
	if (k->type == KT_NAMES && v->len > 253)
		return perr(x, &v->mark, "expected a name of at most 253 bytes in %s", key);
	if (k->type == KT_PATTERNS && (!any_alnum || v->len > 255))
		return perr(x, &v->mark, "expected a pattern with a letter or digit, at most 255 bytes, in %s, got '%s'",
			    key, show(v, b, sizeof(b)));
	p = dup_n(v->s, v->len);
	if (!p)
		return perr(x, &v->mark, "out of memory");
	if (k->type == KT_HEADERS || k->type == KT_PATTERNS)
		str_lower(p);
	if (strlist_has(l, p)) {
		free(p);
		return 0;
	}
	if (list_full(x, k, v, key)) {
		free(p);
		return -1;
	}
	rc = strlist_add(l, p, v->len);
	free(p);
	if (rc)
		return perr(x, &v->mark, "out of memory");
	return 0;
}

static int add_item(struct pctx *x, const struct kdesc *k, const struct sval *v, const char *key)
{
	switch (k->type) {
	case KT_PORTS:
	case KT_PIDS: return add_number(x, k, v, key);
	case KT_REGEXES: return add_regex(x, k, v, key);
	case KT_CIDRS: return add_cidr(x, k, v, key);
	case KT_NAMES:
	case KT_HEALTH:
	case KT_HEADERS:
	case KT_PATTERNS:
	case KT_FILES: return add_string(x, k, v, key);
	default: break;
	}
	return perr(x, &v->mark, "internal: %s is not a list key", key);
}

/* A file's list replaces the default, except redaction lists: they extend. */
static void list_clear(struct ht_config *c, const struct kdesc *k)
{
	void *f = (char *)c + k->off;

	switch (k->type) {
	case KT_PORTS:
		free(c->exclude_ports);
		c->exclude_ports = NULL;
		c->n_exclude_ports = 0;
		break;
	case KT_PIDS:
		free(c->pids);
		c->pids = NULL;
		c->n_pids = 0;
		break;
	case KT_CIDRS:
		free(c->exclude_ips);
		c->exclude_ips = NULL;
		c->n_exclude_ips = 0;
		break;
	case KT_REGEXES:
		regexlist_free(f);
		break;
	case KT_NAMES:
	case KT_HEALTH:
	case KT_FILES:
		strlist_free(f);
		break;
	default:
		break;
	}
}

static bool is_list(enum ktype t)
{
	return t >= KT_PORTS;
}

/* ---- YAML walk */

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_SCALAR_NODE: return "a scalar";
	default: return "nothing";
	}
}

static void scalar_sval(const yaml_node_t *n, struct sval *v)
{
	v->s = (const char *)n->data.scalar.value;
	v->len = n->data.scalar.length;
	v->quoted = n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	v->is_null = !v->quoted && (v->len == 0 || strcmp(v->s, "~") == 0 ||
				    strcmp(v->s, "null") == 0 || strcmp(v->s, "Null") == 0 ||
				    strcmp(v->s, "NULL") == 0);
	v->mark = n->start_mark;
}

static bool is_null_node(const yaml_node_t *n)
{
	struct sval v;

	if (n->type != YAML_SCALAR_NODE)
		return false;
	scalar_sval(n, &v);
	return v.is_null;
}

static int walk(struct pctx *x, yaml_document_t *doc, const struct kdesc *k, yaml_node_t *n,
		const char *key);

static void expected_keys(const struct kdesc *sub, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; sub[i].name && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", sub[i].name);
}

static int walk_map(struct pctx *x, yaml_document_t *doc, const struct kdesc *sub,
		    yaml_node_t *n, const char *key)
{
	const char *where = *key ? key : "the top level";
	char names[512], child[256], b[256];
	uint32_t seen = 0;

	if (is_null_node(n))
		return 0; /* "output:" with nothing under it */
	if (n->type != YAML_MAPPING_NODE)
		return perr(x, &n->start_mark, "expected a mapping of keys for %s, got %s",
			    where, node_kind(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(doc, p->value);
		struct sval kv;
		int i;

		if (!kn || !vn)
			return perr(x, NULL, "internal: broken YAML document");
		if (kn->type != YAML_SCALAR_NODE)
			return perr(x, &kn->start_mark, "expected a key name in %s, got %s",
				    where, node_kind(kn));
		scalar_sval(kn, &kv);
		for (i = 0; sub[i].name; i++)
			if (kv.len == strlen(sub[i].name) && strcmp(kv.s, sub[i].name) == 0)
				break;
		if (!sub[i].name) {
			expected_keys(sub, names, sizeof(names));
			return perr(x, &kn->start_mark, "unknown key '%s' in %s (expected one of: %s)",
				    show(&kv, b, sizeof(b)), where, names);
		}
		if (seen & (1u << i))
			return perr(x, &kn->start_mark, "duplicate key '%s' in %s", sub[i].name, where);
		seen |= 1u << i;
		path_join(child, sizeof(child), key, sub[i].name);
		if (walk(x, doc, &sub[i], vn, child))
			return -1;
	}
	return 0;
}

static int walk_list(struct pctx *x, yaml_document_t *doc, const struct kdesc *k,
		     yaml_node_t *n, const char *key)
{
	if (k->type != KT_HEADERS && k->type != KT_PATTERNS)
		list_clear(x->c, k);
	if (is_null_node(n))
		return 0; /* "pids:" or "pids: ~": empty */
	if (n->type != YAML_SEQUENCE_NODE)
		return perr(x, &n->start_mark, "expected a list (e.g. [a, b]) for %s, got %s",
			    key, node_kind(n));
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *in = yaml_document_get_node(doc, *it);
		struct sval v;

		if (!in)
			return perr(x, NULL, "internal: broken YAML document");
		if (in->type != YAML_SCALAR_NODE)
			return perr(x, &in->start_mark, "expected a scalar list entry in %s, got %s",
				    key, node_kind(in));
		scalar_sval(in, &v);
		if (add_item(x, k, &v, key))
			return -1;
	}
	return 0;
}

/* output.otlp.headers: a mapping of header name to value; each entry is
 * added to (or replaces the same name from) OTEL_EXPORTER_OTLP_HEADERS. */
static int walk_headers(struct pctx *x, yaml_document_t *doc, const struct kdesc *k,
			yaml_node_t *n, const char *key)
{
	struct ht_strlist *l = (struct ht_strlist *)((char *)x->c + k->off);
	char b[256];

	if (is_null_node(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return perr(x, &n->start_mark, "expected a mapping of header name: value (e.g. {authorization: \"Bearer ...\"}) for %s, got %s",
			    key, node_kind(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(doc, p->value);
		struct sval kv, vv;

		if (!kn || !vn)
			return perr(x, NULL, "internal: broken YAML document");
		if (kn->type != YAML_SCALAR_NODE || vn->type != YAML_SCALAR_NODE)
			return perr(x, kn->type != YAML_SCALAR_NODE ? &kn->start_mark : &vn->start_mark,
				    "expected header name: value scalars in %s, got %s", key,
				    node_kind(kn->type != YAML_SCALAR_NODE ? kn : vn));
		scalar_sval(kn, &kv);
		scalar_sval(vn, &vv);
		if (!kv.len || kv.len > 256)
			return perr(x, &kn->start_mark, "expected an HTTP header name of 1..256 bytes in %s", key);
		for (size_t i = 0; i < kv.len; i++)
			if (!is_tchar((unsigned char)kv.s[i]))
				return perr(x, &kn->start_mark, "expected an HTTP header name in %s, got '%s'",
					    key, show(&kv, b, sizeof(b)));
		if (vv.len > 8192 || !header_value_ok(vv.s, vv.len))
			return perr(x, &vn->start_mark, "expected a header value of at most 8192 bytes without CR, LF or NUL for %s.%s",
				    key, show(&kv, b, sizeof(b)));
		if (header_set(l, kv.s, kv.len, vv.is_null ? "" : vv.s, vv.is_null ? 0 : vv.len))
			return perr(x, &kn->start_mark, "out of memory");
		if (l->n > OTLP_HEADERS_MAX)
			return perr(x, &kn->start_mark, "expected at most %d headers in %s (with those of OTEL_EXPORTER_OTLP_HEADERS)",
				    OTLP_HEADERS_MAX, key);
	}
	return 0;
}

static int walk(struct pctx *x, yaml_document_t *doc, const struct kdesc *k, yaml_node_t *n,
		const char *key)
{
	struct sval v;

	if (k->type == KT_MAP)
		return walk_map(x, doc, k->sub, n, key);
	if (k->type == KT_OTLP_HEADERS)
		return walk_headers(x, doc, k, n, key);
	if (is_list(k->type))
		return walk_list(x, doc, k, n, key);
	if (n->type != YAML_SCALAR_NODE)
		return perr(x, &n->start_mark, "expected a single value for %s, got %s", key,
			    node_kind(n));
	scalar_sval(n, &v);
	return set_scalar(x, k, &v, key);
}

/* ---- the kubernetes block against the environment */

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

bool ht_config_k8s_on(const struct ht_config *c)
{
	if (c->k8s_mode != HT_K8S_AUTO)
		return c->k8s_mode == HT_K8S_ON;
	return (c->k8s_api_server && *c->k8s_api_server) ||
	       env_nonempty("KUBERNETES_SERVICE_HOST");
}

static int put_str(char *buf, size_t size, int n)
{
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int ht_config_k8s_api_server(const struct ht_config *c, char *buf, size_t size)
{
	const char *host = env_nonempty("KUBERNETES_SERVICE_HOST");
	const char *port = env_nonempty("KUBERNETES_SERVICE_PORT");

	if (!size)
		return -1;
	buf[0] = '\0';
	if (c->k8s_api_server && *c->k8s_api_server)
		return put_str(buf, size, snprintf(buf, size, "%s", c->k8s_api_server));
	if (!host)
		return -1;
	return put_str(buf, size, snprintf(buf, size, strchr(host, ':') ? "https://[%s]:%s" :
				       "https://%s:%s", host, port ? port : "443"));
}

int ht_config_k8s_node(const struct ht_config *c, char *buf, size_t size)
{
	const char *env = env_nonempty("NODE_NAME");

	if (!size)
		return -1;
	buf[0] = '\0';
	if (c->k8s_node_name && *c->k8s_node_name)
		return put_str(buf, size, snprintf(buf, size, "%s", c->k8s_node_name));
	if (env)
		return put_str(buf, size, snprintf(buf, size, "%s", env));
	if (gethostname(buf, size) || !memchr(buf, '\0', size) || !buf[0]) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* ---- defaults, free */

const char *ht_format_name(enum ht_format f)
{
	switch (f) {
	case HT_FMT_NDJSON: return "ndjson";
	case HT_FMT_JSON: return "json";
	case HT_FMT_CSV: return "csv";
	}
	return "?";
}

void ht_config_free(struct ht_config *c)
{
	if (!c)
		return;
	free(c->source);
	free(c->exclude_ports);
	strlist_free(&c->health_paths);
	free(c->pids);
	strlist_free(&c->exclude_namespaces);
	regexlist_free(&c->exclude_pods);
	regexlist_free(&c->exclude_paths);
	free(c->exclude_ips);
	strlist_free(&c->redact_headers);
	strlist_free(&c->redact_body_patterns);
	free(c->output_path);
	free(c->ch_url);
	free(c->ch_database);
	free(c->ch_table);
	free(c->ch_user);
	free(c->ch_password_file);
	free(c->ch_spool_dir);
	free(c->metrics_listen);
	free(c->k8s_api_server);
	free(c->k8s_token_file);
	free(c->k8s_ca_file);
	free(c->k8s_node_name);
	free(c->otlp_endpoint);
	strlist_free(&c->otlp_headers);
	free(c->otlp_service_name);
	free(c->otlp_spool_dir);
	strlist_free(&c->tls_libraries);
	strlist_free(&c->redact_patterns_alnum);
	free(c);
}

static uint64_t generation_counter;

/* Recompute the derived fields after any change; 0 or -ENOMEM. */
static int derive(struct ht_config *c)
{
	struct ht_strlist *d = &c->redact_patterns_alnum;

	strlist_free(d);
	for (size_t i = 0; i < c->redact_body_patterns.n; i++) {
		const char *p = c->redact_body_patterns.v[i];
		char buf[256];
		size_t n = 0;

		for (; *p && n < sizeof(buf); p++)
			if (isalnum((unsigned char)*p))
				buf[n++] = (char)tolower((unsigned char)*p);
		if (strlist_add(d, buf, n))
			goto err_free;
	}
	c->generation = __atomic_add_fetch(&generation_counter, 1, __ATOMIC_RELAXED);
	return 0;

err_free:
	strlist_free(d);
	return -ENOMEM;
}

/* ---- the OTEL_* environment: defaults of output.otlp, the file wins */

/* One warning per variable and process: defaults are built often. */
static void env_warn(const char *var, const char *fmt, const char *what)
{
	static char warned[8][40];

	for (int i = 0; i < 8; i++) {
		if (!strcmp(warned[i], var))
			return;
		if (!warned[i][0]) {
			snprintf(warned[i], sizeof(warned[i]), "%s", var);
			break;
		}
	}
	fprintf(stderr, "http-tracer: warning: %s: ", var);
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
}

/* The signal-specific variable, else the generic one; NULL if neither is set. */
static const char *env_pick(const char *traces, const char *all, const char **name)
{
	const char *v = getenv(traces);

	*name = traces;
	if (v && *v)
		return v;
	*name = all;
	v = getenv(all);
	return v && *v ? v : NULL;
}

static int unhex1(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Trim blanks and percent-decode s[0..n) into out (n + 1 bytes); returns the length. */
static size_t env_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && unhex1(s[i + 1]) >= 0 && unhex1(s[i + 2]) >= 0) {
			out[o++] = (char)(unhex1(s[i + 1]) << 4 | unhex1(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

/* OTEL_EXPORTER_OTLP_HEADERS: "k=v,k=v" with URL-encoded values (W3C
 * baggage syntax); a malformed entry is skipped with a warning, as the
 * OpenTelemetry SDKs do. */
static int env_headers(struct ht_config *c, const char *var)
{
	const char *v = getenv(var), *p;

	if (!v || !*v)
		return 0;
	for (p = v; *p;) {
		size_t n = strcspn(p, ","), kn, vn;
		const char *eq = memchr(p, '=', n);
		char *k = malloc(n + 1), *val = malloc(n + 1);
		bool ok;

		if (!k || !val) {
			free(k);
			free(val);
			return -ENOMEM;
		}
		kn = eq ? env_decode(p, (size_t)(eq - p), k) : 0;
		vn = eq ? env_decode(eq + 1, n - (size_t)(eq + 1 - p), val) : 0;
		ok = kn > 0 && kn <= 256 && header_value_ok(val, vn);
		for (size_t i = 0; ok && i < kn; i++)
			ok = is_tchar((unsigned char)k[i]);
		if (ok && c->otlp_headers.n < OTLP_HEADERS_MAX) {
			if (header_set(&c->otlp_headers, k, kn, val, vn)) {
				free(k);
				free(val);
				return -ENOMEM;
			}
		} else if (n) {
			env_warn(var, "%s", "an entry is not name=value (URL-encoded value) or there are too many; skipped");
		}
		free(k);
		free(val);
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int otel_env(struct ht_config *c)
{
	const char *name, *v;

	if ((v = env_pick("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", &name))) {
		if (!otlp_url_valid(v, strlen(v))) {
			env_warn(name, "'%s' is not an http:// or https:// URL; ignored", v);
		} else {
			char *d = strdup(v);

			if (!d)
				return -ENOMEM;
			free(c->otlp_endpoint);
			c->otlp_endpoint = d;
			c->otlp_endpoint_is_traces = name[strlen("OTEL_EXPORTER_OTLP_")] == 'T';
		}
	}
	if ((v = env_pick("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &name)) &&
	    otlp_set_protocol(c, v))
		env_warn(name, "'%s' is not supported (http/protobuf or http/json); using http/protobuf", v);
	if ((v = env_pick("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION", &name)) &&
	    set_gzip(&c->otlp_gzip, v))
		env_warn(name, "'%s' is not gzip or none; ignored", v);
	if ((v = env_pick("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", &name))) {
		uint64_t ms;

		if (parse_u64(v, strlen(v), &ms) || ms < 1 || ms > 600000)
			env_warn(name, "'%s' is not a timeout in 1..600000 ms; ignored", v);
		else
			c->otlp_timeout_ms = (uint32_t)ms;
	}
	if (env_headers(c, "OTEL_EXPORTER_OTLP_HEADERS") ||
	    env_headers(c, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"))
		return -ENOMEM;
	if ((v = getenv("OTEL_SERVICE_NAME")) && *v) {
		char *d = strndup(v, 4096);

		if (!d)
			return -ENOMEM;
		free(c->otlp_service_name);
		c->otlp_service_name = d;
	}
	return 0;
}

static int add_defaults(struct ht_strlist *l, const char *const *v)
{
	for (; *v; v++)
		if (strlist_add(l, *v, strlen(*v)))
			return -ENOMEM;
	return 0;
}

struct ht_config *ht_config_defaults(void)
{
	struct ht_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->source = strdup("(defaults)");
	c->sampling_enabled = false;
	c->sampling_rate = 1.0;
	c->max_body_size = 4096;
	c->max_header_size = 1024;
	c->output_path = strdup("-");
	c->format = HT_FMT_NDJSON;
	c->rotation_enabled = false;
	c->rotation_max_size = 100000000ull; /* 100MB */
	c->rotation_max_files = 10;
	c->rotation_gzip_level = 1;
	c->ringbuffer_bytes = HT_RINGBUF_DEFAULT;
	c->worker_threads = 2;
	c->batch_size = 100;
	c->flush_interval_ms = 200;
	c->idle_timeout_ms = 60000;
	c->shard_memory_bytes = 256 * MiB;
	c->capture_cap_bytes = HT_CAPTURE_CAP_DEFAULT;
	c->metrics_listen = strdup("127.0.0.1:9090");
	c->k8s_mode = HT_K8S_AUTO;
	c->k8s_api_server = strdup("");
	c->k8s_token_file = strdup(HT_K8S_TOKEN_FILE);
	c->k8s_ca_file = strdup(HT_K8S_CA_FILE);
	c->k8s_node_name = strdup("");
	c->otlp_endpoint = strdup("");
	c->otlp_timeout_ms = 10000;
	c->otlp_gzip = true;
	c->otlp_service_name = strdup("");
	c->otlp_queue_max_bytes = 64 * MiB;
	c->otlp_spool_dir = strdup("");
	c->otlp_spool_max_bytes = 1 * GiB;
	c->tls_enabled = true;
	c->ch_url = strdup("");
	c->ch_database = strdup("default");
	c->ch_table = strdup("http_events");
	c->ch_user = strdup("default");
	c->ch_password_file = strdup("");
	c->ch_create_table = false;
	c->ch_spool_dir = strdup("");
	c->ch_spool_max = GiB;
	c->ch_gzip = true;
	if (!c->source || !c->output_path || !c->metrics_listen || !c->k8s_api_server ||
	    !c->k8s_token_file || !c->k8s_ca_file || !c->k8s_node_name || !c->ch_url ||
	    !c->ch_database || !c->ch_table || !c->ch_user || !c->ch_password_file ||
	    !c->ch_spool_dir || !c->otlp_endpoint || !c->otlp_service_name ||
	    !c->otlp_spool_dir || otel_env(c) ||
	    add_defaults(&c->redact_headers, default_redact_headers) ||
	    add_defaults(&c->redact_body_patterns, default_body_patterns) || derive(c))
		goto err_free;
	return c;

err_free:
	ht_config_free(c);
	return NULL;
}

/* ---- file loading */

/* Read the whole file into a NUL-terminated buffer. */
static char *read_file(struct pctx *x, const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t got;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perr(x, NULL, "cannot open the config file: %s (check the path given to --config)",
		     strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		perr(x, NULL, "not a regular file (give the path of a YAML file)");
		goto err_close;
	}
	if (st.st_size > HT_CONFIG_MAX_FILE) {
		perr(x, NULL, "config file larger than %u bytes", HT_CONFIG_MAX_FILE);
		goto err_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		perr(x, NULL, "out of memory");
		goto err_close;
	}
	got = ht_read_full(fd, buf, (size_t)st.st_size); /* shorter if it shrank meanwhile */
	if (got < 0) {
		perr(x, NULL, "cannot read the config file: %s", strerror((int)-got));
		goto err_free;
	}
	buf[got] = '\0';
	*len = (size_t)got;
	close(fd);
	return buf;

err_free:
	free(buf);
err_close:
	close(fd);
	return NULL;
}

/* Line/column (0-based) of a byte offset, for reader errors libyaml reports by offset. */
static yaml_mark_t mark_of_offset(const char *buf, size_t len, size_t off)
{
	yaml_mark_t m = { 0 };

	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			m.column++;
		}
	}
	m.index = off;
	return m;
}

static int syntax_error(struct pctx *x, yaml_parser_t *p, const char *buf, size_t len)
{
	yaml_mark_t m = p->problem_mark;
	const char *problem = p->problem ? p->problem : "malformed YAML";

	if (p->error == YAML_MEMORY_ERROR)
		return perr(x, NULL, "out of memory while parsing");
	if (p->error == YAML_READER_ERROR) {
		m = mark_of_offset(buf, len, p->problem_offset);
		return perr(x, &m, "invalid YAML: %s (the file must be UTF-8 text)", problem);
	}
	if (m.index < len && buf[m.index] == '\t')
		return perr(x, &m, "invalid YAML: %s: a tab (indent with spaces)", problem);
	if (p->context)
		return perr(x, &m, "invalid YAML: %s (%s at line %zu)", problem,
			    p->context, p->context_mark.line + 1);
	return perr(x, &m, "invalid YAML: %s", problem);
}

#define HT_CONFIG_MAX_DEPTH 32    /* nesting accepted; the schema needs 5 */
#define HT_CONFIG_MAX_ANCHORS 256 /* '&name' anchors accepted */

/*
 * A first pass over the events, stopping at the first one nested deeper
 * than HT_CONFIG_MAX_DEPTH (libyaml's scanner is quadratic in the nesting
 * depth: a 1 MiB file of '[' would keep it busy for minutes) or past
 * HT_CONFIG_MAX_ANCHORS anchors (aliases are resolved by linear search).
 * Syntax errors are left for the real pass to report.
 */
static int depth_check(struct pctx *x, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, anchors = 0, rc = 0;

	if (!yaml_parser_initialize(&parser))
		return perr(x, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (yaml_parser_parse(&parser, &ev)) {
		yaml_event_type_t t = ev.type;

		anchors += (t == YAML_SCALAR_EVENT && ev.data.scalar.anchor) ||
			   (t == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor) ||
			   (t == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor);
		if (anchors > HT_CONFIG_MAX_ANCHORS) { /* libyaml resolves aliases by linear search */
			rc = perr(x, &ev.start_mark, "more than %d anchors ('&name')",
				  HT_CONFIG_MAX_ANCHORS);
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
			if (++depth > HT_CONFIG_MAX_DEPTH) {
				rc = perr(x, &ev.start_mark, "nested more than %d levels deep",
					  HT_CONFIG_MAX_DEPTH);
				yaml_event_delete(&ev);
				break;
			}
		} else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* Parse buf into x->c.  Returns 0 or -1 with x->err set. */
static int load_yaml(struct pctx *x, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	int rc = -1;

	if (depth_check(x, buf, len))
		return -1;
	if (!yaml_parser_initialize(&parser))
		return perr(x, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(x, &parser, buf, len);
		goto out_parser;
	}
	root = yaml_document_get_root_node(&doc);
	if (root && !is_null_node(root)) {
		if (root->type != YAML_MAPPING_NODE) {
			perr(x, &root->start_mark, "expected a mapping with keys filtering, output, performance, metrics, kubernetes at the top level, got %s",
			     node_kind(root));
			goto out_doc;
		}
		if (walk_map(x, &doc, k_top, root, ""))
			goto out_doc;
	}
	if (!root)
		goto ok; /* empty stream: defaults */
	if (!yaml_parser_load(&parser, &extra)) {
		syntax_error(x, &parser, buf, len);
		goto out_doc;
	}
	if (yaml_document_get_root_node(&extra)) {
		perr(x, &extra.start_mark, "a second YAML document ('---'): put everything in one document");
		yaml_document_delete(&extra);
		goto out_doc;
	}
	yaml_document_delete(&extra);
ok:
	rc = 0;
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	return rc;
}

static struct ht_config *load_common(struct pctx *x, const char *name, const char *buf, size_t len)
{
	struct ht_config *c = ht_config_defaults();

	if (!c) {
		perr(x, NULL, "out of memory");
		return NULL;
	}
	x->c = c;
	if (load_yaml(x, buf, len))
		goto err_free;
	free(c->source);
	c->source = strdup(name);
	if (!c->source || derive(c)) {
		perr(x, NULL, "out of memory");
		goto err_free;
	}
	return c;

err_free:
	ht_config_free(c);
	return NULL;
}

struct ht_config *ht_config_load(const char *path, char *err, size_t errlen)
{
	struct pctx x = { .file = path ? path : "(null)", .err = err, .errlen = errlen };
	struct ht_config *c;
	size_t len = 0;
	char *buf;

	if (err && errlen)
		err[0] = '\0';
	if (!path) {
		perr(&x, NULL, "no config file given");
		return NULL;
	}
	buf = read_file(&x, path, &len);
	if (!buf)
		return NULL;
	c = load_common(&x, path, buf, len);
	free(buf);
	return c;
}

/* ---- command-line overrides */

static const struct kdesc *find_key(struct pctx *x, const char *dotted)
{
	const struct kdesc *tab = k_top, *k = NULL;
	char part[128], names[512], where[256] = "";
	const char *p = dotted;

	while (*p) {
		size_t n = strcspn(p, ".");
		int i;

		if (!tab)
			return perr(x, NULL, "unknown key '%s': '%s' is not a section", dotted, where), NULL;
		if (!n || n >= sizeof(part))
			return perr(x, NULL, "malformed key '%s'", dotted), NULL;
		memcpy(part, p, n);
		part[n] = '\0';
		for (i = 0; tab[i].name; i++)
			if (strcmp(tab[i].name, part) == 0)
				break;
		if (!tab[i].name) {
			expected_keys(tab, names, sizeof(names));
			return perr(x, NULL, "unknown key '%s' in %s (expected one of: %s)", part,
				    *where ? where : "the top level", names), NULL;
		}
		k = &tab[i];
		if (*where)
			snprintf(where + strlen(where), sizeof(where) - strlen(where), ".%s", part);
		else
			snprintf(where, sizeof(where), "%s", part);
		tab = k->type == KT_MAP ? k->sub : NULL;
		p += n;
		if (*p == '.' && !*++p)
			return perr(x, NULL, "malformed key '%s'", dotted), NULL;
	}
	if (!k || k->type == KT_MAP)
		return perr(x, NULL, "'%s' is a section, not a value: give a key under it", dotted), NULL;
	return k;
}

static void cli_sval(const char *s, size_t len, struct sval *v)
{
	memset(v, 0, sizeof(*v));
	v->s = s;
	v->len = len;
}

static int config_set(struct ht_config *c, const char *dotted_key, const char *value,
		      char *err, size_t errlen);

int ht_config_set(struct ht_config *c, const char *dotted_key, const char *value,
		  char *err, size_t errlen)
{
	if (config_set(c, dotted_key, value, err, errlen))
		return -1;
	if (derive(c)) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", dotted_key);
		return -1;
	}
	return 0;
}

static int config_set(struct ht_config *c, const char *dotted_key, const char *value,
		      char *err, size_t errlen)
{
	struct pctx x = { .c = c, .cli_key = dotted_key, .err = err, .errlen = errlen };
	const struct kdesc *k;
	struct sval v;
	size_t n_before;

	if (err && errlen)
		err[0] = '\0';
	if (!c || !dotted_key || !value)
		return perr(&x, NULL, "missing key or value for a command-line override");
	k = find_key(&x, dotted_key);
	if (!k)
		return -1;
	if (!is_list(k->type)) {
		cli_sval(value, strlen(value), &v);
		return set_scalar(&x, k, &v, dotted_key);
	}
	if (k->type != KT_PORTS && k->type != KT_PIDS) {
		cli_sval(value, strlen(value), &v);
		return add_item(&x, k, &v, dotted_key);
	}
	n_before = k->type == KT_PORTS ? c->n_exclude_ports : c->n_pids;
	for (const char *p = value;; p++) {
		size_t n = strcspn(p, ",");
		char item[32];

		if (n >= sizeof(item))
			n = sizeof(item) - 1; /* too long to be valid: rejected below */
		memcpy(item, p, n);
		item[n] = '\0';
		cli_sval(item, n, &v);
		if (add_item(&x, k, &v, dotted_key))
			goto err_rollback;
		p += strcspn(p, ",");
		if (!*p)
			break;
	}
	return 0;

err_rollback: /* all or nothing: drop the entries this call added */
	if (k->type == KT_PORTS)
		c->n_exclude_ports = n_before;
	else
		c->n_pids = n_before;
	return -1;
}

struct override {
	char *key, *value;
};
static struct override *overrides;
static size_t n_overrides;

int ht_config_add_override(const char *dotted_key, const char *value, char *err, size_t errlen)
{
	struct ht_config *scratch = ht_config_defaults();
	struct override *o;
	int rc;

	if (!scratch)
		goto err_nomem;
	rc = ht_config_set(scratch, dotted_key, value, err, errlen);
	ht_config_free(scratch);
	if (rc)
		return -1;
	o = realloc(overrides, (n_overrides + 1) * sizeof(*o));
	if (!o)
		goto err_nomem;
	overrides = o;
	o[n_overrides].key = strdup(dotted_key);
	o[n_overrides].value = strdup(value);
	if (!o[n_overrides].key || !o[n_overrides].value) {
		free(o[n_overrides].key);
		free(o[n_overrides].value);
		goto err_nomem;
	}
	n_overrides++;
	return 0;

err_nomem:
	if (err && errlen)
		snprintf(err, errlen, "%s: out of memory", dotted_key ? dotted_key : "override");
	return -1;
}

int ht_config_apply_overrides(struct ht_config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < n_overrides; i++)
		if (ht_config_set(c, overrides[i].key, overrides[i].value, err, errlen))
			return -1;
	return 0;
}

void ht_config_clear_overrides(void)
{
	for (size_t i = 0; i < n_overrides; i++) {
		free(overrides[i].key);
		free(overrides[i].value);
	}
	free(overrides);
	overrides = NULL;
	n_overrides = 0;
}

/* ---- publication */

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

void ht_config_install(struct ht_config *c)
{
	struct ht_config *old;

	pthread_mutex_lock(&install_lock);
	old = rcu_xchg_pointer(&ht_config_current, c);
	if (old && old != c) {
		synchronize_rcu(); /* no reader still holds old */
		ht_config_free(old);
	}
	pthread_mutex_unlock(&install_lock);
}

int ht_config_reload_apply(const char *path, ht_config_apply_fn apply, void *ctx, char *err,
			   size_t errlen)
{
	struct ht_config *c = path ? ht_config_load(path, err, errlen) : ht_config_defaults();

	if (!c) {
		if (!path && err && errlen)
			snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (ht_config_apply_overrides(c, err, errlen) || (apply && apply(ctx, c, err, errlen))) {
		ht_config_free(c);
		return -1;
	}
	ht_config_install(c);
	return 0;
}

int ht_config_reload(const char *path, char *err, size_t errlen)
{
	return ht_config_reload_apply(path, NULL, NULL, err, errlen);
}

const char *ht_config_otlp_url(const struct ht_config *c, char *buf, size_t size)
{
	const char *e = c->otlp_endpoint ? c->otlp_endpoint : "";
	size_t n = strlen(e);

	if (!n || c->otlp_endpoint_is_traces) {
		snprintf(buf, size, "%s", e);
		return buf;
	}
	while (n && e[n - 1] == '/')
		n--;
	snprintf(buf, size, "%.*s/v1/traces", (int)n, e);
	return buf;
}
