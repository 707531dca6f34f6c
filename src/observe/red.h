/*
 * red.h - RED metrics (rate, errors, duration) of the traced HTTP traffic.
 *
 *   http_tracer_requests_total{role,method,status_class,route}
 *   http_tracer_request_duration_seconds{role,method,status_class,route}
 *
 * Ownership: every shard owns one red_table and is its only writer
 * (red_observe).  A table is a liburcu lock-free hash (cds_lfht) of series;
 * series are added by the owner and never removed while the table is
 * registered, and their counters are relaxed atomics, so the metrics thread
 * reads them at any time without a lock.  The scrape (red_write) merges the
 * series of every registered table, sorted by labels.
 *
 * Cardinality: routes come from route_template(); per service port (local
 * port for a server, remote port for a client) at most routes_per_port_cap
 * distinct routes are kept, and at most RED_MAX_ROUTES (port, route) pairs
 * per table; past either cap a new route is counted as route="other".
 * Methods outside the standard nine are "other", absent ones "none";
 * status_class is 1xx..5xx, "none" without a response, "other" otherwise.
 *
 * Threads calling red_observe, red_write or red_table_free must be
 * registered with liburcu (rcu_register_thread).
 */
#ifndef HT_RED_H
#define HT_RED_H

#include <stddef.h>
#include <stdint.h>

struct ht_buf;
struct ht_record;
struct red_table;

#define RED_DEFAULT_ROUTES_PER_PORT 100
#ifndef RED_MAX_ROUTES
#define RED_MAX_ROUTES 5000    /* (service port, route) pairs per table */
#endif
#define RED_BUCKETS 14         /* duration histogram, +Inf last */

/* Upper bounds in seconds of the duration buckets (last is +Inf). */
extern const double red_bounds_s[RED_BUCKETS];

/* routes_per_port_cap 0 means RED_DEFAULT_ROUTES_PER_PORT.  NULL on ENOMEM. */
struct red_table *red_table_new(uint32_t routes_per_port_cap);
/* Unregisters (if registered) and frees; the owner must have stopped. */
void red_table_free(struct red_table *t);

/* Counts one finished record: one request, and its latency in the duration
 * histogram when it has a final status.  Single writer per table, no lock;
 * on allocation failure the record is counted as route "other" (or lost if
 * even that fails: red_table_lost()). */
void red_observe(struct red_table *t, const struct ht_record *r);
uint64_t red_table_lost(const struct red_table *t);
/* Number of series in the table (for tests and sizing). */
uint64_t red_table_series(const struct red_table *t);

/* Make a table visible to scrapes / hide it again (cold path, mutex). */
void red_register(struct red_table *t);
void red_unregister(struct red_table *t);
/* Number of registered tables (tests: a stopped pipeline leaves none). */
size_t red_registered(void);

/* Appends the two families (HELP, TYPE, samples) merged over every
 * registered table to b.  Returns 0 or -ENOMEM. */
int red_write(struct ht_buf *b);

/* Label value helpers shared with metrics.c. */
const char *red_method_label(const char *m, size_t len);
const char *red_status_class(unsigned status);

/* Append s as a Prometheus label value: backslash, quote and newline escaped. */
int red_put_label_value(struct ht_buf *b, const char *s);

#endif
