/*
 * record.h - one finished HTTP transaction (DESIGN §2).
 *
 * A record owns one growable byte arena; every string field is an
 * (offset, length) pair into it, so a record is freed with one call and a
 * field can be replaced (redaction) by appending the new value and moving
 * the pair.  Strings are raw bytes as captured: the encoders escape them.
 */
#ifndef HT_RECORD_H
#define HT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* record.flags bits; names in ht_record_flag_names[] (same order). */
enum ht_rflag {
	HT_RF_REQ_BODY_TRUNCATED = 1u << 0,
	HT_RF_RESP_BODY_TRUNCATED = 1u << 1,
	HT_RF_GAP = 1u << 2,            /* bytes missing from a captured message */
	HT_RF_INCOMPLETE = 1u << 3,     /* no (complete) response at close/timeout */
	HT_RF_NO_REQUEST = 1u << 4,     /* a response with no request seen */
	HT_RF_REDACTED = 1u << 5,
	HT_RF_FRAMING_ERROR = 1u << 6,  /* malformed or ambiguous framing */
	HT_RF_HEADER_TRUNCATED = 1u << 7, /* a header value cut at maxHeaderSize or count cap */
	HT_RF_UPGRADE = 1u << 8,        /* 101 or CONNECT tunnel followed */
	HT_RF_SAMPLED_OUT = 1u << 9,    /* internal: never written */
};
#define HT_RF_COUNT 10
extern const char *const ht_record_flag_names[HT_RF_COUNT];

struct ht_str {
	uint32_t off; /* offset in record.arena */
	uint32_t len; /* bytes; 0 means empty/absent */
};

struct ht_kv {
	struct ht_str name;  /* lower-cased header name */
	struct ht_str value; /* repeated headers already joined with ", " */
};

struct ht_headers {
	struct ht_kv *v;
	uint32_t n;
	uint32_t cap;
	uint64_t seen; /* bit per name hash (record.c): a name whose bit is clear is not in v */
};

struct ht_record {
	uint64_t time_unix_nano; /* wall clock of the first request byte */
	uint64_t latency_ns;     /* first request byte to last response byte */
	uint8_t role;            /* enum ht_role */
	uint8_t version_minor;   /* HTTP/1.x: 0 or 1 */
	uint16_t status;         /* final status; 0 if none */
	uint32_t flags;          /* enum ht_rflag bits */
	uint32_t pid, tid;
	char comm[16];           /* NUL-terminated */
	uint16_t local_port, remote_port;
	bool tls;                /* read inside a TLS library (DESIGN §8) */
	struct ht_addr local, remote; /* binary; family 0 if unknown (encoders print "") */
	struct ht_str method, target, path, host, reason;
	struct ht_headers req_headers, resp_headers;
	struct ht_str req_body, resp_body;   /* first maxBodySize decoded bytes */
	uint64_t req_body_size, resp_body_size; /* full decoded sizes */
	struct ht_str container_id, pod, namespace_;
	struct ht_str node, container, workload_kind, workload; /* DESIGN §7 */
	struct ht_str remote_pod, remote_namespace, remote_service;
	uint64_t sample_key;     /* internal: per-transaction hash (connection id + sequence) */
	uint64_t mono_first_ns;  /* internal: monotonic ts of the first request byte */
	uint64_t done_mono_ns;   /* internal: when the record was finished */
	uint64_t anchor_pos;     /* internal (correlator): the response stream's
				  * position when the request's first byte moved;
				  * valid with CORR_ANCHORED */
	uint32_t skip_after;     /* internal (correlator): requests dropped right
				  * after this one (queue full) */
	/* arena */
	char *arena;
	uint32_t arena_len, arena_cap;
	struct ht_record *next;  /* intrusive link for queues and batches */
};

struct ht_record *ht_record_new(void);
void ht_record_free(struct ht_record *r);
/* Make room for extra more arena bytes at once (a size hint: growing by
 * doubling copies the arena each time); 0 or -ENOMEM. */
int ht_record_reserve(struct ht_record *r, size_t extra);
/* Append bytes to the arena; returns the string, or len 0 on allocation failure. */
struct ht_str ht_record_put(struct ht_record *r, const void *p, size_t len);
/* Set *dst to a copy of p[0..len). Returns 0 or -ENOMEM. */
int ht_record_set(struct ht_record *r, struct ht_str *dst, const void *p, size_t len);
/* Pointer to a string's bytes (valid until the next put). */
static inline const char *ht_str_ptr(const struct ht_record *r, struct ht_str s)
{
	return r->arena ? r->arena + s.off : "";
}
/* Add a header: name lower-cased; if the name exists, the value is appended with ", ". */
int ht_record_add_header(struct ht_record *r, struct ht_headers *h, const char *name,
			 size_t name_len, const char *value, size_t value_len);
/* Find a header by lower-case name; NULL if absent. */
struct ht_kv *ht_record_find_header(struct ht_record *r, struct ht_headers *h,
				    const char *lname);
/* Append bytes to a body field (must be the last string put for it to grow in place). */
int ht_record_body_append(struct ht_record *r, struct ht_str *body, const void *p, size_t len);
bool ht_str_eq(const struct ht_record *r, struct ht_str s, const char *lit);

#endif
