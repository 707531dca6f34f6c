/*
 * metrics.h - Prometheus /metrics and /health endpoint (one thread).
 *
 * The metrics thread owns a non-blocking listening socket and at most
 * METRICS_MAX_CONNS client connections, all driven by one poll() loop; it is
 * the only thread that ever waits on a client, so a slow or hostile client
 * can delay other scrapes by at most one render, never the pipeline.  Each
 * connection gets one request: a head of at most METRICS_MAX_HEAD_BYTES
 * (else 431), only GET (else 405), METRICS_CONN_TIMEOUT_MS in total (then
 * it is closed), and "Connection: close".  When all slots are busy a new
 * connection evicts the oldest one.
 *
 * /metrics renders, at scrape time, the per-thread counters of stats.h
 * (summed over the stats registry, ht_stats_foreach()), the kernel counters from the registered
 * source, the RED tables (red.h) and process basics: nothing on the data
 * path takes a lock.  /health is 200 "ok" when the probes are attached and
 * every registered pipeline thread has called metrics_thread_alive() within
 * the staleness bound (default 5 s), else 503 with the reason.
 */
#ifndef HT_METRICS_H
#define HT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct capture_counters;
struct ht_buf;
struct metrics_server;

#define METRICS_DEFAULT_LISTEN "127.0.0.1:9090"
#ifndef METRICS_MAX_CONNS
#define METRICS_MAX_CONNS 32
#endif
#define METRICS_MAX_HEAD_BYTES 8192
#define METRICS_CONN_TIMEOUT_MS 2000
#define METRICS_MAX_THREADS 64        /* heartbeat slots */
#define METRICS_STALE_MS 5000         /* default heartbeat staleness */
#define METRICS_THREAD_NAME_MAX 32

/*
 * Binds listen ("host:port", "[ipv6]:port"; port 0 picks a free one; NULL
 * means METRICS_DEFAULT_LISTEN) and starts the server thread.  On failure
 * returns NULL with one line in err saying what is wrong.
 */
struct metrics_server *metrics_start(const char *listen, char *err, size_t errlen);
/* Stops the thread, closes every socket, frees m (NULL is fine). */
void metrics_stop(struct metrics_server *m);
/* The bound TCP port (useful after listening on port 0). */
int metrics_port(const struct metrics_server *m);

/* ---- health */
void metrics_set_probes_attached(bool attached);
/* Claims a heartbeat slot for pipeline thread `index` of its kind ("reader",
 * "shard", "writer"; named "shard-2" in /health and /metrics); the slot
 * starts alive.  Returns the slot or -ENOSPC. */
int metrics_thread_register(const char *kind, int index);
/* Heartbeat: call at least every second, idle or not.  Lock-free. */
void metrics_thread_alive(int slot);
/* Frees the slot (a thread that exits on purpose); a scrape in progress
 * never sees the slot half freed (see metrics.c). */
void metrics_thread_unregister(int slot);
/* Number of claimed slots (tests: a stopped pipeline leaves none). */
int metrics_threads_registered(void);
/* Heartbeat staleness bound (0 restores METRICS_STALE_MS). */
void metrics_set_stale_ms(uint32_t ms);
/* Clock used for heartbeats (tests); NULL restores CLOCK_MONOTONIC. */
void metrics_set_clock(uint64_t (*now_ns)(void));
/* true if healthy; otherwise writes the reason (one line) into reason. */
bool metrics_health(char *reason, size_t len);

/* ---- sources */
/* Kernel counters (capture_read_counters) and the names of their filter
 * slots (capture_filter_name, NULL past the last); called at scrape time
 * from the metrics thread.  fn NULL removes the source. */
void metrics_set_kernel_source(int (*fn)(void *ctx, struct capture_counters *out), void *ctx);
void metrics_set_kernel_filter_names(const char *(*name)(int i));
/* http_tracer_config_reloads_total{result="success"|"failure"}. */
void metrics_count_reload(bool ok);
/* http_tracer_build_info{version,commit}; defaults come from HT_VERSION
 * and HT_GIT_COMMIT at compile time. */
void metrics_set_build_info(const char *version, const char *commit);

/* Appends the whole exposition (text format 0.0.4) to b; 0 or -ENOMEM.
 * The server thread calls it per scrape; another caller must be registered
 * with liburcu (the RED tables are walked under rcu_read_lock). */
int metrics_render(struct ht_buf *b);

#endif
