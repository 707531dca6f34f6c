/*
 * config.h - http-tracer configuration (DESIGN §4), loaded with libyaml.
 *
 * One immutable struct ht_config per loaded version.  Readers on the data
 * path get the current one with rcu_dereference(ht_config_current) inside an
 * RCU read-side section; SIGHUP builds a new one, validates it, swaps the
 * pointer with rcu_xchg_pointer and frees the old one after synchronize_rcu.
 */
#ifndef HT_CONFIG_H
#define HT_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "ht_limits.h"

enum ht_format { HT_FMT_NDJSON = 0, HT_FMT_JSON, HT_FMT_CSV };
enum ht_k8s_mode { HT_K8S_AUTO = 0, HT_K8S_ON, HT_K8S_OFF };

/* The service account's files in a pod (DESIGN §7 defaults). */
#define HT_K8S_TOKEN_FILE "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define HT_K8S_CA_FILE "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

struct ht_strlist {
	char **v;
	size_t n;
};

struct ht_regexlist {
	char **src;      /* the patterns as written */
	regex_t *re;     /* compiled once, REG_EXTENDED | REG_NOSUB */
	size_t n;
};

/* output.rotation.compressionLevel: gzip's levels.  libdeflate (sink/gz.c)
 * goes to 12, but 10-12 cost 23-30x level 6 for 10% smaller files. */
#define HT_ROTATION_LEVEL_MIN 1
#define HT_ROTATION_LEVEL_MAX 9

struct ht_config {
	char *source;                  /* file it came from, or "(defaults)" */
	/* filtering.kernel */
	uint16_t *exclude_ports; size_t n_exclude_ports;
	struct ht_strlist health_paths;
	uint32_t *pids; size_t n_pids; /* empty: all processes */
	/* filtering */
	struct ht_strlist exclude_namespaces;
	struct ht_regexlist exclude_pods;
	struct ht_regexlist exclude_paths;
	struct ht_cidr *exclude_ips; size_t n_exclude_ips;
	bool sampling_enabled;
	double sampling_rate;          /* 0..1 */
	uint32_t max_body_size;        /* bytes kept per body */
	uint32_t max_header_size;      /* bytes kept per header value */
	struct ht_strlist redact_headers;    /* lower-cased */
	struct ht_strlist redact_body_patterns; /* lower-cased */
	/* output */
	char *output_path;             /* "-" = stdout */
	enum ht_format format;
	bool rotation_enabled;
	uint64_t rotation_max_size;    /* bytes */
	uint32_t rotation_max_files;
	uint32_t rotation_gzip_level;  /* HT_ROTATION_LEVEL_MIN..MAX, for rotated files */
	/* output.clickhouse (DESIGN §9); ch_url "" = no ClickHouse sink */
	char *ch_url;                  /* http://host:port */
	char *ch_database, *ch_table;  /* identifiers */
	char *ch_user;
	char *ch_password_file;        /* "" = no password */
	bool ch_create_table;
	char *ch_spool_dir;            /* "" = memory queue only */
	uint64_t ch_spool_max;         /* bytes */
	bool ch_gzip;                  /* compression gzip (else none) */
	/* performance */
	uint64_t ringbuffer_bytes;     /* all CPUs together, default HT_RINGBUF_DEFAULT */
	uint32_t worker_threads;
	uint32_t batch_size;           /* records per write */
	uint32_t flush_interval_ms;    /* writer time bound, default 200 */
	uint32_t idle_timeout_ms;      /* connection expiry, default 60000 */
	uint64_t shard_memory_bytes;   /* per-shard buffered-bytes budget */
	uint32_t capture_cap_bytes;    /* per-syscall capture cap, default HT_CAPTURE_CAP_DEFAULT */
	/* output.otlp (DESIGN §10); defaults from the OTEL_* environment */
	char *otlp_endpoint;           /* "": no OTLP export */
	bool otlp_endpoint_is_traces;  /* from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the
					* whole URL; otherwise /v1/traces is appended */
	bool otlp_json;                /* protocol http/json (else http/protobuf) */
	struct ht_strlist otlp_headers; /* "Name: value" lines */
	uint32_t otlp_timeout_ms;
	bool otlp_gzip;                /* compression gzip (else none) */
	char *otlp_service_name;       /* "": each process's name */
	uint64_t otlp_queue_max_bytes; /* delivery memory queue */
	char *otlp_spool_dir;          /* "": memory queue only */
	uint64_t otlp_spool_max_bytes;
	/* metrics */
	char *metrics_listen;          /* host:port */
	/* kubernetes (DESIGN §7); read at start only */
	enum ht_k8s_mode k8s_mode;     /* kubernetes.enabled */
	char *k8s_api_server;          /* "": https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT */
	char *k8s_token_file;
	char *k8s_ca_file;
	char *k8s_node_name;           /* "": $NODE_NAME, else the host name */
	/* tls (DESIGN §8) */
	bool tls_enabled;              /* OpenSSL uprobes, default on */
	struct ht_strlist tls_libraries; /* extra libssl files to attach to */
	/* derived by config.c whenever the fields above change; 0/empty if the
	 * struct was built by hand */
	uint64_t generation;           /* unique per config version (per-thread caches) */
	struct ht_strlist redact_patterns_alnum; /* bodyPatterns, only [a-z0-9] kept */
};

/* Built-in defaults (secure: redaction on). Never NULL unless out of memory. */
struct ht_config *ht_config_defaults(void);
/*
 * Load and validate a YAML file on top of the defaults.  On error returns
 * NULL and writes one line "FILE:LINE:COL: error: what was expected" into err
 * (or "FILE: error: ..." when the file cannot be read).
 */
struct ht_config *ht_config_load(const char *path, char *err, size_t errlen);
void ht_config_free(struct ht_config *c);

/* Parse "100MB", "4KiB", "512" into bytes; -1 on error.  KB/MB/GB/TB are
 * powers of 1000, KiB/MiB/GiB/TiB powers of 1024, case-insensitive; a bare
 * number is bytes. */
int ht_parse_size(const char *s, uint64_t *out);

/* Most entries accepted in a user-space list of the config; the kernel's
 * lists (filtering.kernel.*) hold what their maps hold: include/ht_limits.h. */
#define HT_CONFIG_LIST_MAX 4096

/*
 * Set one key by its dotted YAML name from a string (command-line flags):
 * "output.path" "-", "output.format" "csv", "performance.workerThreads" "8".
 * List keys append ("filtering.kernel.pids" "1234"; numeric lists also take
 * "1,2,3").  All or nothing: returns 0, or -1 with one line naming the key
 * and what was expected in err (c unchanged).
 */
int ht_config_set(struct ht_config *c, const char *dotted_key, const char *value,
		  char *err, size_t errlen);

/*
 * The current config, RCU-protected: readers use
 * rcu_read_lock(); cfg = rcu_dereference(ht_config_current); ... rcu_read_unlock();
 * NULL until the first ht_config_install().
 */
extern struct ht_config *ht_config_current;
/* Publish c (may be NULL at exit); waits for readers, then frees the old one.
 * Never call inside an RCU read-side section. */
void ht_config_install(struct ht_config *c);
/*
 * Load path (NULL: the defaults), apply the remembered overrides, and
 * install it.  Returns 0, or -1 with the reason in err and the old config
 * still current.
 */
int ht_config_reload(const char *path, char *err, size_t errlen);
/*
 * The same, with a step that must succeed before the new config is
 * installed (the kernel filter maps, say): apply(ctx, next, err, errlen)
 * returns 0, or non-zero with its reason in err, and then next is freed and
 * the old config stays current.  apply must leave its own state as it was
 * when it fails.
 */
typedef int (*ht_config_apply_fn)(void *ctx, const struct ht_config *next, char *err,
				  size_t errlen);
int ht_config_reload_apply(const char *path, ht_config_apply_fn apply, void *ctx, char *err,
			   size_t errlen);
/*
 * Remember a command-line override so that every reload applies it again
 * (validated now; same arguments as ht_config_set).  Call before threads
 * start.  ht_config_apply_overrides() applies them all, in order, to c.
 */
int ht_config_add_override(const char *dotted_key, const char *value, char *err, size_t errlen);
int ht_config_apply_overrides(struct ht_config *c, char *err, size_t errlen);
void ht_config_clear_overrides(void);

/*
 * The kubernetes block resolved against the environment (DESIGN §7):
 * enabled auto is on when KUBERNETES_SERVICE_HOST is set or apiServer is
 * given.  The API server is apiServer, else
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (443 when the
 * port is unset; an IPv6 host in brackets); the node is nodeName, else
 * $NODE_NAME, else the host name.  Each writes a NUL-terminated string and
 * returns 0, or -1 when there is none (or it does not fit).
 */
bool ht_config_k8s_on(const struct ht_config *c);
int ht_config_k8s_api_server(const struct ht_config *c, char *buf, size_t size);
int ht_config_k8s_node(const struct ht_config *c, char *buf, size_t size);

/* The URL OTLP traces are POSTed to ({endpoint}/v1/traces, or the traces
 * endpoint as given) into buf; "" when OTLP export is off.  Returns buf. */
const char *ht_config_otlp_url(const struct ht_config *c, char *buf, size_t size);

/* "ndjson", "json", "csv". */
const char *ht_format_name(enum ht_format f);

#endif
