/*
 * httpp.h - incremental, zero-copy HTTP/1.x message parser (one direction).
 *
 * The caller owns a contiguous buffer of reassembled bytes starting at the
 * parser's position and calls httpp_parse() repeatedly.  Each call consumes
 * some prefix of the buffer and reports at most one event:
 *
 *   HTTPP_EV_NONE   nothing to report; if the return value is 0, more input
 *                   is needed (keep the unconsumed bytes and call again later)
 *   HTTPP_EV_HEAD   a complete head; ev->head points into the caller's buffer
 *                   and is valid only until the caller changes that buffer
 *   HTTPP_EV_BODY   decoded body bytes (chunk framing removed): ev->data/len,
 *                   inside the caller's buffer
 *   HTTPP_EV_END    the message is complete (ev->msg_flags, ev->body_size)
 *   HTTPP_EV_ERROR  malformed or ambiguous framing (ev->err); the current
 *                   message, if any, is abandoned and the parser resyncs: it
 *                   skips bytes until a line that starts a new message.
 *                   For framing errors of a complete head (CL_*, CL_AND_TE,
 *                   TE_NOT_CHUNKED) ev->head is that head, valid like a HEAD
 *                   event's; otherwise it is NULL.
 *
 * Contract: returns the number of bytes consumed from buf (the caller drops
 * them); `ret == 0 && ev->type == HTTPP_EV_NONE` means "need more bytes".
 * Never reads past buf+len, never allocates, never fails on any input.
 */
#ifndef HT_HTTPP_H
#define HT_HTTPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef HTTPP_MAX_HEADERS
#define HTTPP_MAX_HEADERS 128 /* headers kept per message; later ones still frame */
#endif

enum httpp_kind { HTTPP_REQUEST = 0, HTTPP_RESPONSE = 1 };

/* Error reasons; names in httpp_err_name(). Counted per reason by the caller. */
enum httpp_err {
	HTTPP_ERR_NONE = 0,
	HTTPP_ERR_START_LINE,      /* bad request line / status line */
	HTTPP_ERR_VERSION,         /* not HTTP/1.0 or HTTP/1.1 */
	HTTPP_ERR_HEADER_SYNTAX,   /* no colon, space before colon, bad token char */
	HTTPP_ERR_NUL,             /* NUL byte in the head */
	HTTPP_ERR_BARE_CR,         /* CR not followed by LF */
	HTTPP_ERR_OBS_FOLD,        /* obsolete line folding */
	HTTPP_ERR_HEAD_TOO_LARGE,  /* no end of head within max_head_bytes */
	HTTPP_ERR_CL_INVALID,      /* Content-Length not a decimal number / overflow */
	HTTPP_ERR_CL_CONFLICT,     /* several Content-Length values */
	HTTPP_ERR_CL_AND_TE,       /* both Content-Length and Transfer-Encoding */
	HTTPP_ERR_TE_NOT_CHUNKED,  /* Transfer-Encoding whose last coding is not chunked (request) */
	HTTPP_ERR_CHUNK_SIZE,      /* chunk size missing or not hex */
	HTTPP_ERR_CHUNK_OVERFLOW,  /* chunk size does not fit in 64 bits / too many digits */
	HTTPP_ERR_CHUNK_END,       /* chunk data not followed by CRLF */
	HTTPP_ERR_TRAILER,         /* malformed trailer section */
	HTTPP_ERR_GAP,             /* bytes missing where the framing cannot skip them */
	HTTPP_ERR_EOF,             /* connection ended inside a message */
	HTTPP_ERR__COUNT
};

enum httpp_ev_type {
	HTTPP_EV_NONE = 0,
	HTTPP_EV_HEAD,
	HTTPP_EV_BODY,
	HTTPP_EV_END,
	HTTPP_EV_ERROR,
};

enum httpp_body_kind {
	HTTPP_BODY_NONE = 0, /* no body (HEAD response, 1xx, 204, 304, GET without CL) */
	HTTPP_BODY_LENGTH,   /* Content-Length bytes */
	HTTPP_BODY_CHUNKED,  /* chunked transfer coding */
	HTTPP_BODY_CLOSE,    /* response delimited by connection close */
	HTTPP_BODY_TUNNEL,   /* 101 / CONNECT 2xx: the rest is not HTTP */
};

/* Response framing depends on the request it answers (RFC 9112 §6.3). */
enum httpp_peer {
	HTTPP_PEER_NORMAL = 0,  /* any method but HEAD and CONNECT */
	HTTPP_PEER_HEAD,        /* answering HEAD: no body whatever the headers */
	HTTPP_PEER_CONNECT,     /* answering CONNECT: 2xx starts a tunnel */
};

/* HTTPP_EV_END msg_flags */
#define HTTPP_MF_GAP            0x1 /* a hole was skipped inside the body */
#define HTTPP_MF_HEADER_TRUNC   0x2 /* header count cap or value cap hit */

struct httpp_slice {
	const char *p;
	uint32_t len;
};

struct httpp_header {
	struct httpp_slice name;
	struct httpp_slice value; /* OWS trimmed; cut at max_value_bytes (then truncated) */
};

struct httpp_head {
	bool is_request;
	uint8_t version_minor;       /* 0 or 1 */
	uint16_t status;             /* responses */
	struct httpp_slice method;   /* requests */
	struct httpp_slice target;   /* requests */
	struct httpp_slice reason;   /* responses */
	uint32_t n_headers;          /* stored in headers[] */
	bool headers_truncated;      /* more than HTTPP_MAX_HEADERS, or a value was cut */
	enum httpp_body_kind body_kind;
	uint64_t content_length;     /* HTTPP_BODY_LENGTH */
	bool conn_close;             /* Connection: close (or 1.0 without keep-alive) */
	bool expect_continue;        /* Expect: 100-continue */
	bool upgrade;                /* Upgrade header present (request) */
	uint32_t head_len;           /* bytes of start line + headers + CRLF */
	struct httpp_header headers[HTTPP_MAX_HEADERS];
};

struct httpp_event {
	enum httpp_ev_type type;
	const struct httpp_head *head; /* HEAD */
	const uint8_t *data;           /* BODY */
	size_t len;                    /* BODY */
	enum httpp_err err;            /* ERROR */
	uint32_t msg_flags;            /* END: HTTPP_MF_* */
	uint64_t body_size;            /* END: decoded body bytes, holes included */
};

struct httpp_limits {
	uint32_t max_head_bytes;   /* default 65536: longer heads are HEAD_TOO_LARGE */
	uint32_t max_value_bytes;  /* default 1024 (maxHeaderSize): longer values cut */
};

/* Internal state; embed it, do not touch the fields. */
struct httpp {
	enum httpp_kind kind;
	struct httpp_limits lim;
	enum httpp_peer peer;
	int state;
	bool hold;              /* request after CONNECT/Upgrade: wait for httpp_tunnel/resume */
	uint32_t scan_off;      /* head bytes already scanned for the end of head */
	uint64_t remaining;     /* body or chunk bytes left */
	uint64_t body_size;
	uint32_t msg_flags;
	uint32_t chunk_digits;
	struct httpp_head head;
	/* added by httpp.c (private) */
	uint8_t sub;            /* sub-state within state */
	bool bol;               /* resync: the next byte starts a line */
	bool pause_at_begin;    /* resync: return before a message found after skipped
				 * bytes, so the caller sees where it starts */
	uint16_t fflags;        /* framing headers seen in the current head */
	uint8_t head_err;       /* Content-Length error, reported at the end of the head */
	uint32_t line_off;      /* head: start of the first line not yet parsed */
	uint32_t aux_bytes;     /* chunk-size line / trailer bytes so far (bounded) */
	const uint8_t *base;    /* buffer the unfinished head's slices point into */
};

void httpp_init(struct httpp *p, enum httpp_kind kind, const struct httpp_limits *lim);
/* Start in resync mode: the first bytes may be the middle of a message. */
void httpp_init_midstream(struct httpp *p, enum httpp_kind kind, const struct httpp_limits *lim);
/* While resyncing: a message may start at the next byte although it does
 * not start a line (the caller knows a write or read began there). */
void httpp_resync_boundary(struct httpp *p);
/* Responses: what the next response answers; set before each parse call. */
static inline void httpp_set_peer(struct httpp *p, enum httpp_peer peer) { p->peer = peer; }

size_t httpp_parse(struct httpp *p, const uint8_t *buf, size_t len, struct httpp_event *ev);

/*
 * A hole of n bytes at the parser's position (captured nowhere).  If it lies
 * inside a body (or chunk data) whose remaining length is known and n fits,
 * it is skipped (ev NONE, the message gets HTTPP_MF_GAP); if it ends exactly
 * at the end of a Content-Length body, ev is END with HTTPP_MF_GAP.
 * Otherwise ev is ERROR(HTTPP_ERR_GAP) and the parser resyncs.  A hole
 * between messages just resyncs (ev NONE).  n counts from the parser's
 * position: bytes the caller still keeps unconsumed before the hole (e.g. a
 * partial head) are dropped by the caller and included in n.
 */
void httpp_gap(struct httpp *p, uint64_t n, struct httpp_event *ev);

/* The connection ended: END for a close-delimited body, ERROR(EOF) inside a
 * message, NONE between messages. */
void httpp_finish(struct httpp *p, struct httpp_event *ev);

/* After a request with CONNECT or Upgrade the request parser holds (consumes
 * nothing) until the caller knows the answer: tunnel (all further bytes are
 * opaque) or resume (parse the next request). */
void httpp_tunnel(struct httpp *p);
void httpp_resume(struct httpp *p);
static inline bool httpp_is_holding(const struct httpp *p) { return p->hold; }
bool httpp_in_message(const struct httpp *p);
/* True while the parser is looking for the start of a message after a gap or
 * an error (bytes are being skipped). */
bool httpp_resyncing(const struct httpp *p);
/* True when httpp_parse() has an event to report without new bytes (e.g. the
 * END after the last body byte or after a body-less head): call it again,
 * with len 0 if the buffer is empty, until it returns 0 with HTTPP_EV_NONE. */
bool httpp_has_pending(const struct httpp *p);

const char *httpp_err_name(enum httpp_err err);

/*
 * How heads are scanned: 64-byte blocks into bit masks (AVX2 where the CPU
 * has it, picked when the program loads), or line by line (OFF).  The
 * result is the same whichever is used; tests and benchmarks switch it
 * (httpp_simd_set returns -1 if the CPU or the build lacks it).  Not to be
 * called while another thread parses.
 */
enum httpp_simd {
	HTTPP_SIMD_OFF = 0,   /* line by line, no block masks */
	HTTPP_SIMD_SWAR,      /* portable: 8 bytes per 64-bit word */
	HTTPP_SIMD_SSE2,      /* x86-64 baseline */
	HTTPP_SIMD_SSSE3,     /* x86-64 with SSSE3 (pshufb) */
	HTTPP_SIMD_AVX2,      /* x86-64 with AVX2 */
	HTTPP_SIMD_AVX512,    /* x86-64 with AVX-512BW */
	HTTPP_SIMD__COUNT
};
int httpp_simd_set(enum httpp_simd s);
enum httpp_simd httpp_simd_get(void);
const char *httpp_simd_name(enum httpp_simd s);

#endif
