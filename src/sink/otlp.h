/*
 * otlp.h - the OTLP traces sink (DESIGN §10): each record as one span
 * (otlp_enc.h), one `POST {endpoint}/v1/traces` per batch over OTLP/HTTP,
 * through the delivery queue of delivery.h (bounded memory queue, optional
 * spool, retries with capped backoff, counted drops).
 *
 * Request: Content-Type application/x-protobuf (or application/json),
 * Content-Encoding gzip unless compression is none, the configured headers
 * (output.otlp.headers over OTEL_EXPORTER_OTLP_HEADERS), timeoutMs for the
 * whole exchange.  One libcurl easy handle on the delivery's sender thread,
 * so the connection is kept alive between batches.
 *
 * Verdicts (the OTLP/HTTP specification's retryable set):
 *   2xx                    sent; a partial_success with rejected_spans is
 *                          counted (and its message logged once);
 *   429, 502, 503, 504     retry, after Retry-After when the receiver gives
 *                          one (seconds or an HTTP date), else the backoff;
 *   connection errors,     retry;
 *   timeouts
 *   anything else          rejected: not retried, logged with the
 *                          receiver's message (google.rpc.Status message,
 *                          JSON "message", or the body's first line), counted.
 */
#ifndef HT_OTLP_H
#define HT_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sink.h"

#define OTLP_BACKOFF_MIN_MS 100
#define OTLP_BACKOFF_MAX_MS 10000
#define OTLP_CONNECT_TIMEOUT_MS 5000
#define OTLP_MESSAGE_MAX 256        /* bytes of a receiver's message kept */
#define OTLP_MERGE_MAX (4u << 20)   /* protobuf batches queued while the receiver was
				     * away go out together up to this size (repeated
				     * fields concatenate; JSON batches never merge) */

/*
 * If OTLP export is configured (output.otlp.endpoint or the OTEL_*
 * variables): starts the delivery and fills *out; returns 1.  0 if it is
 * not configured, -1 with one line in err on failure.  replay: a sink that
 * cannot keep up slows the replay down instead of dropping (delivery.h
 * wait_when_full).
 */
int otlp_sink_open(const struct ht_config *c, bool replay, struct sink *out, char *err,
		   size_t errlen);

/* Counters of every OTLP sink of the process (metrics, tests). */
struct otlp_stats {
	uint64_t spans_rejected;      /* rejected_spans of partial-success responses */
	uint64_t partial_responses;   /* responses that carried a partial_success */
	uint64_t traceparent_joined;  /* spans joined to an incoming traceparent */
	uint64_t traceparent_malformed; /* traceparent headers ignored */
};
void otlp_stats_get(struct otlp_stats *out);

/* Parse a Retry-After value (delta-seconds or an HTTP date, relative to
 * now_s) into milliseconds, capped at max_ms; 0 if it is neither. */
uint32_t otlp_retry_after_ms(const char *v, size_t n, int64_t now_s, uint32_t max_ms);
/* The receiver's message in a response body of the given content type,
 * printable ASCII, at most OTLP_MESSAGE_MAX bytes, into out; "" if none. */
void otlp_response_message(const char *ctype, const char *body, size_t n, char *out,
			   size_t outlen);
/* rejected_spans of a 2xx response body (protobuf or JSON); 0 if none.
 * *msg gets its error_message like otlp_response_message. */
uint64_t otlp_partial_success(const char *ctype, const char *body, size_t n, char *msg,
			      size_t msglen);

#endif
