/*
 * main.c - command line (DESIGN §3): live tracing, record and replay.
 *
 *   http-tracer [--config FILE] [-o PATH|-] [--format F] [--pid PID]... [--duration SEC]
 *   http-tracer record -o FILE [--duration SEC]
 *   http-tracer replay FILE [-o PATH|-] [--workers N] [--batch-size N]
 *   http-tracer --check-config --config FILE
 *
 * Exit status: 0 success, 2 usage or config error, 1 anything else.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu.h>

#include "source/capture.h"
#include "config/config.h"
#include "ht_event.h"
#include "observe/metrics.h"
#include "sink/k8s_client.h"
#include "sink/k8s_store.h"
#include "sink/clickhouse.h"
#include "sink/otlp.h"
#include "sink/output.h"
#include "sink/sink.h"
#include "pipeline/pipeline.h"
#include "source/rfile.h"

#define HT_VERSION "0.1.0"

enum mode { MODE_LIVE, MODE_RECORD, MODE_REPLAY, MODE_CHECK };

struct args {
	enum mode mode;
	const char *config_path;
	const char *input;        /* replay file */
	int n_readers;            /* 0: automatic */
	double duration_s;        /* 0: until a signal */
	const char *output;       /* -o as given, NULL if absent */
	int verbose;
};

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wall_offset_ns(void)
{
	struct timespec rt, mt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	return ((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec) -
	       ((uint64_t)mt.tv_sec * 1000000000ull + (uint64_t)mt.tv_nsec);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: http-tracer [--config FILE] [-o PATH|-] [--format ndjson|json|csv] [--pid PID]... [--duration SEC]\n"
		"       http-tracer record -o FILE [--config FILE] [--duration SEC]\n"
		"       http-tracer replay FILE [--config FILE] [-o PATH|-] [--workers N] [--batch-size N] [--readers N]\n"
		"       http-tracer --check-config --config FILE\n");
}

/* Remember a CLI override (reapplied on every reload); exits 2 on a bad value. */
static void override(const char *key, const char *val)
{
	char err[512];

	if (ht_config_add_override(key, val, err, sizeof(err))) {
		fprintf(stderr, "http-tracer: %s\n", err);
		exit(2);
	}
}

/* record writes a file of its own format: it needs -o FILE, and FILE cannot
 * be standard output.  (Any other option, --pid say, is no -o.) */
static void check_record_output(const struct args *a)
{
	if (a->mode != MODE_RECORD)
		return;
	if (!a->output || !*a->output) {
		fprintf(stderr, "http-tracer: record needs -o FILE\n");
		exit(2);
	}
	if (strcmp(a->output, "-") == 0) {
		fprintf(stderr, "http-tracer: record writes a file, not standard output: give -o FILE\n");
		exit(2);
	}
}

static struct ht_config *parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "pid", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "workers", required_argument, NULL, 'w' },
		{ "batch-size", required_argument, NULL, 'b' },
		{ "readers", required_argument, NULL, 'r' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	/* Overrides are applied after the file is loaded, in command-line order. */
	const char *ov_key[64], *ov_val[64];
	int n_ov = 0, opt;
	struct ht_config *c;
	char err[1024];

	memset(a, 0, sizeof(*a));
	if (argc > 1 && strcmp(argv[1], "record") == 0) {
		a->mode = MODE_RECORD;
		argv++, argc--;
	} else if (argc > 1 && strcmp(argv[1], "replay") == 0) {
		a->mode = MODE_REPLAY;
		argv++, argc--;
	}
	while ((opt = getopt_long(argc, argv, "c:o:f:p:d:w:b:r:vh", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (opt) {
		case 'c': a->config_path = optarg; break;
		case 'o': key = "output.path"; a->output = optarg; break;
		case 'f': key = "output.format"; break;
		case 'p': key = "filtering.kernel.pids"; break;
		case 'w': key = "performance.workerThreads"; break;
		case 'b': key = "performance.batchSize"; break;
		case 'r': a->n_readers = atoi(optarg); break;
		case 'd': a->duration_s = atof(optarg); break;
		case 'C': a->mode = MODE_CHECK; break;
		case 'v': a->verbose++; break;
		case 'V': printf("http-tracer %s\n", HT_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
		if (key && n_ov < 64) {
			ov_key[n_ov] = key;
			ov_val[n_ov++] = optarg;
		}
	}
	if (a->mode == MODE_REPLAY) {
		if (optind >= argc) {
			fprintf(stderr, "http-tracer: replay needs a FILE (http-tracer replay FILE)\n");
			exit(2);
		}
		a->input = argv[optind++];
	}
	if (optind < argc) {
		fprintf(stderr, "http-tracer: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (a->config_path) {
		c = ht_config_load(a->config_path, err, sizeof(err));
		if (!c) {
			fprintf(stderr, "http-tracer: %s\n", err);
			exit(2);
		}
	} else {
		c = ht_config_defaults();
		if (!c) {
			fprintf(stderr, "http-tracer: out of memory\n");
			exit(1);
		}
	}
	for (int i = 0; i < n_ov; i++)
		override(ov_key[i], ov_val[i]);
	if (ht_config_apply_overrides(c, err, sizeof(err))) {
		fprintf(stderr, "http-tracer: %s\n", err);
		exit(2);
	}
	check_record_output(a);
	return c;
}

static int auto_readers(int ncpu)
{
	int r = (ncpu + 3) / 4; /* one reader drains up to four CPUs' rings */

	return r < 1 ? 1 : r;
}

/*
 * Kubernetes metadata in live mode (DESIGN §7): the node name of the
 * records, and the store the API client keeps in step for the shards.
 * Each part is optional; the client runs on its own threads and an
 * unreachable API server only delays the metadata.
 */
struct kube {
	char node[256];              /* "" : no node field */
	struct k8s_store *st;
	struct k8s_client *cl;
};

/* 0, or -1 after saying why (the settings cannot work). */
static int kube_start(const struct ht_config *c, struct kube *k)
{
	struct k8s_client_cfg cc = { 0 };
	char api[1100], err[512];
	bool on = ht_config_k8s_on(c);

	if (c->k8s_mode == HT_K8S_OFF || (!on && !*c->k8s_node_name))
		return 0;
	if (ht_config_k8s_node(c, k->node, sizeof(k->node)))
		k->node[0] = '\0'; /* no host name either: records without node */
	if (!on)
		return 0; /* nodeName alone: the node field, no API */
	if (ht_config_k8s_api_server(c, api, sizeof(api))) {
		fprintf(stderr, "http-tracer: kubernetes.enabled is true but no API server is known: set kubernetes.apiServer (http://127.0.0.1:8001 for kubectl proxy) or run in a pod (KUBERNETES_SERVICE_HOST)\n");
		return -1;
	}
	k->st = k8s_store_new();
	if (!k->st) {
		fprintf(stderr, "http-tracer: kubernetes: out of memory\n");
		return -1;
	}
	cc.api_server = api;
	/* kubectl proxy (http://) authenticates for us: the token only if asked */
	cc.token_file = strncmp(api, "http://", 7) || strcmp(c->k8s_token_file, HT_K8S_TOKEN_FILE) ?
			c->k8s_token_file : NULL;
	cc.ca_file = c->k8s_ca_file;
	cc.node_name = k->node[0] ? k->node : NULL;
	k->cl = k8s_client_start(&cc, k->st, err, sizeof(err));
	if (!k->cl) {
		fprintf(stderr, "http-tracer: kubernetes: %s\n", err);
		return -1;
	}
	fprintf(stderr, "http-tracer: kubernetes: watching pods of node %s, services and endpointslices at %s\n",
		k->node[0] ? k->node : "(any)", api);
	return 0;
}

/* After the pipeline is stopped: no shard reads the store any more. */
static void kube_stop(struct kube *k)
{
	k8s_client_stop(k->cl);
	k->cl = NULL;
	if (k->st)
		k8s_store_free(k->st);
	k->st = NULL;
}

/* ---------------------------------------------------- network sinks */

#define SINKS_MAX 4
#define SINK_DRAIN_MS 5000   /* live mode, at exit: time to deliver what is queued */
#define SINK_DRAIN_REPLAY_MS 600000 /* replay loses nothing: wait for the sinks */

static struct sink sinks[SINKS_MAX];
static int n_sinks;

/* Every configured network sink (DESIGN §9, §10); exits 1 on failure.
 * replay: a sink that cannot keep up slows the replay down (nothing lost). */
static void close_sinks(uint32_t drain_ms);

static void open_sinks(const struct ht_config *c, bool replay)
{
	char err[512];
	int rc = clickhouse_sink_open(c, replay, &sinks[n_sinks], err, sizeof(err));

	if (rc >= 0) {
		n_sinks += rc;
		rc = otlp_sink_open(c, replay, &sinks[n_sinks], err, sizeof(err));
	}
	if (rc < 0) {
		fprintf(stderr, "http-tracer: %s\n", err);
		close_sinks(0);
		exit(1);
	}
	n_sinks += rc;
}

/* After the pipeline has stopped: each sink delivers what it can, then
 * spools or counts the rest. */
static void close_sinks(uint32_t drain_ms)
{
	for (int i = 0; i < n_sinks; i++)
		sinks[i].ops->close(sinks[i].ctx, drain_ms);
	n_sinks = 0;
}

static struct pipeline *start_pipeline(const struct ht_config *c, struct output *out,
				       int n_readers, int64_t wait_us, const struct kube *k)
{
	struct pipeline_opts o = {
		.event_clock = wait_us < 0, /* replay */
		.n_readers = n_readers,
		.n_shards = (int)c->worker_threads,
		.batch_size = c->batch_size,
		.flush_interval_ms = c->flush_interval_ms,
		.idle_timeout_ms = c->idle_timeout_ms,
		.shard_memory_bytes = c->shard_memory_bytes,
		.queue_bytes = 16u << 20,
		.queue_wait_us = wait_us,
		.wall_offset_ns = wall_offset_ns(),
		.out = out,
		.sinks = sinks,
		.n_sinks = n_sinks,
		.format = (int)c->format,
		.pin_cpus = 1,
		.lookup_metadata = k != NULL,
		.k8s = k ? k->st : NULL,
		.node_name = k && k->node[0] ? k->node : NULL,
	};
	char err[512];
	struct pipeline *p = pipeline_start(&o, err, sizeof(err));

	if (!p)
		fprintf(stderr, "http-tracer: %s\n", err);
	return p;
}

/* ------------------------------------------------------------- replay */

static int run_replay(const struct args *a, const struct ht_config *c, struct output *out)
{
	char err[512];
	struct rfile_reader *rf = rfile_reader_open(a->input, err, sizeof(err));
	struct pipeline *p;
	const uint8_t *blk, *cur, *end;
	size_t len;
	uint32_t count;
	double t0, secs;
	uint64_t events = 0, written;
	int rc, status = 0;

	if (!rf) {
		fprintf(stderr, "http-tracer: %s\n", err);
		return 1;
	}
	/* inflate ahead on other threads; the reader still sees file order */
	rfile_reader_prefetch(rf, a->n_readers > 0 ? (unsigned)a->n_readers : 2);
	metrics_set_probes_attached(true);
	p = start_pipeline(c, out, 1, -1, NULL);
	if (!p) {
		rfile_reader_close(rf);
		return 1;
	}
	t0 = mono_s();
	while ((rc = rfile_reader_next_block(rf, &blk, &len, &count)) == 1) {
		const void *rec;
		uint32_t rec_len;

		cur = blk;
		end = blk + len;
		while (rfile_next_record(&cur, end, &rec, &rec_len) == 1) {
			pipeline_dispatch(p, 0, rec, rec_len);
			events++;
		}
		pipeline_reader_flush(p, 0);
		if (stop_requested)
			break;
	}
	if (rc < 0) {
		fprintf(stderr, "http-tracer: %s\n", rfile_reader_error(rf));
		status = 1;
	}
	written = pipeline_stop(p);
	secs = mono_s() - t0;
	rfile_reader_close(rf);
	printf("{\"events\":%llu,\"transactions\":%llu,\"records_written\":%llu,"
	       "\"seconds\":%.6f,\"transactions_per_sec\":%.0f,\"workers\":%u,\"batch_size\":%u}\n",
	       (unsigned long long)events, (unsigned long long)pipeline_records_emitted(p),
	       (unsigned long long)written, secs,
	       secs > 0 ? (double)pipeline_records_emitted(p) / secs : 0.0, c->worker_threads,
	       c->batch_size);
	fflush(stdout);
	pipeline_free(p);
	return status;
}

/* --------------------------------------------------------- live/record */

struct reader_arg {
	struct capture *cap;
	struct pipeline *pipe;      /* live */
	struct rfile_writer *rw;    /* record */
	pthread_mutex_t *rw_lock;
	int idx, n;
	int ok;
};

static volatile int readers_stop;

static int on_live(void *ctx, const void *rec, size_t len)
{
	struct reader_arg *ra = ctx;

	pipeline_dispatch(ra->pipe, ra->idx, rec, len);
	return 0;
}

static uint64_t record_failures;

/* record mode is not a hot path: one mutex serialises the readers */
static int on_record(void *ctx, const void *rec, size_t len)
{
	struct reader_arg *ra = ctx;
	int rc;

	pthread_mutex_lock(ra->rw_lock);
	rc = rfile_writer_add(ra->rw, rec, len);
	if (rc && record_failures++ == 0)
		fprintf(stderr, "http-tracer: writing the recording failed: %s; events are being lost\n",
			strerror(-rc));
	pthread_mutex_unlock(ra->rw_lock);
	return 0;
}

static void *reader_main(void *arg)
{
	struct reader_arg *ra = arg;
	capture_cb cb = ra->rw ? on_record : on_live;
	int hb = metrics_thread_register("reader", ra->idx);

	if (capture_reader_init(ra->cap, ra->idx)) {
		fprintf(stderr, "http-tracer: reader %d cannot watch its ring buffers\n", ra->idx);
		metrics_thread_unregister(hb);
		return NULL;
	}
	while (!__atomic_load_n(&readers_stop, __ATOMIC_ACQUIRE)) {
		/* short: records of one connection wait in the other CPUs' rings
		 * at most this long, which bounds the reordering each
		 * reassembler must absorb */
		capture_reader_poll(ra->cap, ra->idx, 10, cb, ra);
		if (ra->pipe)
			pipeline_reader_flush(ra->pipe, ra->idx);
		metrics_thread_alive(hb);
	}
	/* drain what the kernel wrote before we were told to stop */
	while (capture_reader_poll(ra->cap, ra->idx, 0, cb, ra) > 0)
		if (ra->pipe)
			pipeline_reader_flush(ra->pipe, ra->idx);
	metrics_thread_unregister(hb);
	return NULL;
}

static int kernel_counters(void *ctx, struct capture_counters *out)
{
	return capture_read_counters(ctx, out);
}

/* Reload step: the kernel filter maps switch to next, or stay as they were. */
static int apply_kernel_filters(void *cap, const struct ht_config *next, char *err, size_t errlen)
{
	return capture_update_filters(cap, next, err, errlen);
}

/* Starts the n reader threads; returns how many started (n, or fewer after
 * saying why). */
static int start_readers(struct reader_arg *ra, pthread_t *th, int n)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 0; i < n; i++) {
		cpu_set_t set;
		int rc = pthread_create(&th[i], NULL, reader_main, &ra[i]);

		if (rc) { /* the error is returned, errno is not set */
			fprintf(stderr, "http-tracer: cannot start reader thread %d: %s\n", i,
				strerror(rc));
			return i;
		}
		pthread_setname_np(th[i], "ht-reader");
		CPU_ZERO(&set);
		CPU_SET(i % (ncpu > 0 ? (int)ncpu : 1), &set);
		pthread_setaffinity_np(th[i], sizeof(set), &set);
	}
	return n;
}

static void stop_readers(pthread_t *th, int n)
{
	__atomic_store_n(&readers_stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

/* Until SIGINT/SIGTERM or --duration; SIGHUP reloads the config. */
static void wait_for_stop(const struct args *a, struct capture *cap)
{
	double t_end = a->duration_s > 0 ? mono_s() + a->duration_s : 0;
	char err[512];

	while (!stop_requested && (!t_end || mono_s() < t_end)) {
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
		if (!reload_requested || !a->config_path)
			continue;
		reload_requested = 0;
		/* kernel maps first, all or nothing; user space only if they took it */
		if (ht_config_reload_apply(a->config_path, apply_kernel_filters, cap, err,
					   sizeof(err))) {
			fprintf(stderr, "http-tracer: reload failed, keeping the old config: %s\n", err);
			metrics_count_reload(false);
			continue;
		}
		fprintf(stderr, "http-tracer: config reloaded from %s\n", a->config_path);
		metrics_count_reload(true);
	}
}

/* What run_live started, stopped and freed in reverse (any part may be
 * missing: an error stops the start half way). */
struct live {
	struct metrics_server *ms;
	struct pipeline *p;
	struct capture *cap;
	struct rfile_writer *rw;
	pthread_t *th;
	struct reader_arg *ra;
	int n_started;
	struct kube k;
};

static int live_stop(struct live *l, const struct ht_config *c, int status)
{
	int rc;

	metrics_set_probes_attached(false);
	/* no new records after this: the readers' final drain is bounded */
	capture_detach(l->cap);
	stop_readers(l->th, l->n_started);
	if (l->p) {
		pipeline_stop(l->p);
		pipeline_free(l->p);
	}
	kube_stop(&l->k);
	if (record_failures) {
		fprintf(stderr, "http-tracer: %llu events could not be written to %s\n",
			(unsigned long long)record_failures, c->output_path);
		status = 1;
	}
	if (l->rw && (rc = rfile_writer_close(l->rw))) { /* -errno, not errno */
		fprintf(stderr, "http-tracer: writing %s failed: %s\n", c->output_path, strerror(-rc));
		status = 1;
	}
	metrics_stop(l->ms);
	metrics_set_kernel_source(NULL, NULL);
	capture_close(l->cap);
	free(l->th);
	free(l->ra);
	return status;
}

static int run_live(const struct args *a, const struct ht_config *c, struct output *out)
{
	struct capture_opts co = { .cfg = c, .self_pid = (uint32_t)getpid(), .verbose = a->verbose };
	pthread_mutex_t rw_lock = PTHREAD_MUTEX_INITIALIZER;
	struct live l = { 0 };
	char err[512];
	int n;

	n = a->n_readers > 0 ? a->n_readers : auto_readers((int)sysconf(_SC_NPROCESSORS_ONLN));
	co.n_readers = n;
	if (a->mode == MODE_LIVE) {
		/* /health answers 503 from here until every probe is attached */
		l.ms = metrics_start(c->metrics_listen, err, sizeof(err));
		if (!l.ms)
			fprintf(stderr, "http-tracer: metrics disabled: %s\n", err);
		if (kube_start(c, &l.k))
			return live_stop(&l, c, 2);
		l.p = start_pipeline(c, out, n, 50000, &l.k); /* 50 ms: the kernel rings absorb the rest */
		if (!l.p)
			return live_stop(&l, c, 1);
	}
	l.cap = capture_open(&co);
	if (!l.cap)
		return live_stop(&l, c, 1);
	if (a->mode == MODE_RECORD) {
		l.rw = rfile_writer_open(c->output_path, err, sizeof(err));
		if (!l.rw) {
			fprintf(stderr, "http-tracer: %s\n", err);
			return live_stop(&l, c, 1);
		}
	} else {
		metrics_set_kernel_filter_names(capture_filter_name);
		metrics_set_kernel_source(kernel_counters, l.cap);
	}
	l.th = calloc((size_t)n, sizeof(*l.th));
	l.ra = calloc((size_t)n, sizeof(*l.ra));
	if (!l.th || !l.ra) {
		fprintf(stderr, "http-tracer: out of memory starting %d reader(s)\n", n);
		return live_stop(&l, c, 1);
	}
	for (int i = 0; i < n; i++)
		l.ra[i] = (struct reader_arg){ .cap = l.cap, .pipe = l.p, .rw = l.rw,
					       .rw_lock = &rw_lock, .idx = i, .n = n };
	l.n_started = start_readers(l.ra, l.th, n);
	if (l.n_started < n)
		return live_stop(&l, c, 1);
	metrics_set_probes_attached(true);
	fprintf(stderr, "http-tracer: ready: probes attached on %d CPUs, %d reader(s), %u shard(s), output %s, %d network sink(s)\n",
		capture_nr_cpus(l.cap), n, c->worker_threads,
		*c->output_path ? c->output_path : "(no file)", n_sinks);
	wait_for_stop(a, l.cap);
	return live_stop(&l, c, 0);
}

int main(int argc, char **argv)
{
	struct args a;
	struct ht_config *c = parse_args(argc, argv, &a);
	struct output *out = NULL;
	struct ht_stats out_st;
	char err[512];
	int status;

	if (a.mode == MODE_CHECK) {
		printf("%s: ok\n", a.config_path ? a.config_path : "(defaults)");
		/* what live mode will say about the rings on this host */
		if (capture_ring_note(c->ringbuffer_bytes, err, sizeof(err)))
			fprintf(stderr, "http-tracer: note: %s\n", err);
		if (*c->otlp_endpoint)
			fprintf(stderr, "http-tracer: note: OTLP traces go to %s (%s%s)\n",
				ht_config_otlp_url(c, err, sizeof(err)),
				c->otlp_json ? "http/json" : "http/protobuf", c->otlp_gzip ? ", gzip" : "");
		ht_config_free(c);
		return 0;
	}
	install_signals();
	rcu_register_thread();
	ht_config_install(c);
	if (a.mode != MODE_RECORD)
		open_sinks(c, a.mode == MODE_REPLAY);
	memset(&out_st, 0, sizeof(out_st));
	if (a.mode != MODE_RECORD && !*c->output_path && !n_sinks) {
		fprintf(stderr, "http-tracer: output.path is empty and no network sink is configured (set output.path, or output.clickhouse.url)\n");
		return 2;
	}
	if (a.mode != MODE_RECORD && *c->output_path) {
		ht_stats_register(&out_st, "output", 0);
		out = output_open(c, &out_st, err, sizeof(err));
		if (!out) {
			fprintf(stderr, "http-tracer: %s\n", err);
			close_sinks(0);
			return 1;
		}
	}
	if (a.mode == MODE_REPLAY)
		status = run_replay(&a, c, out);
	else
		status = run_live(&a, c, out);
	close_sinks(a.mode == MODE_REPLAY ? SINK_DRAIN_REPLAY_MS : SINK_DRAIN_MS);
	if (out)
		output_close(out);
	ht_stats_unregister(&out_st); /* nothing if it was never registered */
	rcu_unregister_thread();
	return status;
}
