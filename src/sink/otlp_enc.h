/*
 * otlp_enc.h - one record as one OpenTelemetry span (DESIGN §10).
 *
 * Each record becomes a whole ResourceSpans (its resource, the scope
 * "http-tracer" and the one span), so a batch needs no regrouping:
 *   protobuf  each record appends field 1 of ExportTraceServiceRequest
 *             (tag, length, ResourceSpans); repeated fields concatenate,
 *             so the batch buffer is the request body as it stands.
 *   json      each record appends one ResourceSpans object in the OTLP
 *             JSON encoding (lowerCamelCase keys, hex ids, enums as
 *             integers, 64-bit integers as decimal strings), preceded by
 *             ',' unless the buffer is empty; the sender wraps the batch
 *             in OTLP_JSON_HEAD .. OTLP_JSON_TAIL.
 *
 * The mapping (see README "OTLP traces"): kind SERVER/CLIENT from the role;
 * start at the first request byte, end at the last response byte; name
 * "{method} {route}" with the route template of base/route.h ("{method}"
 * alone when the path has no template); the stable HTTP semantic
 * convention attributes; status ERROR for 5xx, and 4xx on CLIENT spans;
 * resource service.name (the configured name, else the process name),
 * host.name, process.pid, process.executable.name, container.id, k8s.*.
 * A request carrying a valid W3C traceparent gives the span that trace id
 * and parent span id (and its tracestate); a malformed one is ignored and
 * counted.
 *
 * Pure apart from the per-thread id generator: any number of threads may
 * encode at once.  On failure (-ENOMEM) out is as it was.
 */
#ifndef HT_OTLP_ENC_H
#define HT_OTLP_ENC_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/record.h"

#define OTLP_JSON_HEAD "{\"resourceSpans\":["
#define OTLP_JSON_TAIL "]}"
#define OTLP_SCOPE_NAME "http-tracer"

struct otlp_enc_opts {
	bool json;
	const char *service_name;  /* NULL or "": each record's process name */
	const char *host_name;     /* resource host.name; NULL or "": left out */
	const char *scope_version; /* NULL: left out */
};

int otlp_encode_record(const struct otlp_enc_opts *o, const struct ht_record *r,
		       struct ht_buf *out);

/* traceparent headers found malformed (and ignored), all threads. */
uint64_t otlp_traceparent_malformed(void);
/* ... and found valid: spans joined to the caller's trace. */
uint64_t otlp_traceparent_joined(void);

#endif
