/*
 * redact.c - secrets out of records; see redact.h.
 *
 * Runs in the shard that owns the record, after the filters.  What is
 * replaced with "[REDACTED]":
 *   - header values whose name is in redaction.headers, or whose name
 *     contains a bodyPattern (e.g. "x-csrf-token"), in both directions;
 *   - in the target, the referer/location/content-location headers and
 *     form bodies: values of parameters whose (percent-decoded) names
 *     contain a pattern, and URL userinfo ("http://user:pw@host/");
 *   - in JSON bodies: the whole value (string, number, object, ...) of any
 *     key that contains a pattern, at any depth.
 * Every scanner works on the captured bytes only (bodies may be cut at
 * maxBodySize anywhere, even inside an escape) and never reads past them.
 * The record arena is append-only: a new value is appended and the field
 * moved; the old bytes that no live field still uses are then zeroed so the
 * secret is not left in memory that is later dumped or reused.
 */
#include "redact.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

/* A rewrite of one string: copy s, replacing some [from, to) spans. */
struct splice {
	const char *s;
	size_t len;
	size_t done;      /* s[0..done) already handled */
	struct ht_buf out;
	int n;            /* spans replaced */
	int err;
};

static void splice_init(struct splice *sp, const char *s, size_t len)
{
	memset(sp, 0, sizeof(*sp));
	sp->s = s;
	sp->len = len;
}

static void splice_replace(struct splice *sp, size_t from, size_t to, const char *with)
{
	if (ht_buf_put(&sp->out, sp->s + sp->done, from - sp->done) ||
	    ht_buf_puts(&sp->out, with))
		sp->err = -ENOMEM;
	sp->done = to;
	sp->n++;
}

/* Copy the tail; returns 0 or -ENOMEM. */
static int splice_finish(struct splice *sp)
{
	if (sp->n && !sp->err && ht_buf_put(&sp->out, sp->s + sp->done, sp->len - sp->done))
		sp->err = -ENOMEM;
	return sp->err;
}

/* ---- names */

#define HT_NAME_STACK 256 /* name bytes normalized on the stack before a malloc */

/* ASCII letter or digit, lower-cased; 0 for anything else. */
static inline char alnum_lower(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return (char)(ch + ('a' - 'A'));
	if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
		return (char)ch;
	return 0;
}

/* A name reduced to its lower-cased letters and digits. */
struct nbuf {
	char *p;
	size_t len, cap;
	bool oom;
	char st[HT_NAME_STACK];
};

static void nb_init(struct nbuf *b)
{
	b->p = b->st;
	b->len = 0;
	b->cap = sizeof(b->st);
	b->oom = false;
}

static void nb_free(struct nbuf *b)
{
	if (b->p != b->st)
		free(b->p);
	nb_init(b);
}

static void nb_push(struct nbuf *b, unsigned char ch)
{
	char lc = alnum_lower(ch);
	char *p;

	if (!lc || b->oom)
		return;
	if (b->len == b->cap) {
		p = b->p == b->st ? malloc(b->cap * 2) : realloc(b->p, b->cap * 2);
		if (!p) {
			b->oom = true;
			return;
		}
		if (b->p == b->st)
			memcpy(p, b->st, b->len);
		b->p = p;
		b->cap *= 2;
	}
	b->p[b->len++] = lc;
}

/* Patterns ready to match: letters and digits only, lower-case. */
struct pats {
	const struct ht_strlist *l;
	struct ht_strlist own;  /* when the config has no derived list */
	size_t min_len;
	bool oom;
};

static void pats_init(struct pats *p, const struct ht_strlist *raw, const struct ht_strlist *alnum);

static size_t min_len_of(const struct ht_strlist *l)
{
	size_t m = SIZE_MAX;

	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->v[i]);

		if (n && n < m)
			m = n;
	}
	return m;
}

/* The config's derived list and its shortest pattern, per thread and
 * config generation: a record does not measure the patterns again. */
static __thread struct {
	uint64_t gen;
	const struct ht_strlist *l;
	size_t min_len;
} pats_memo;

static void pats_init_cfg(struct pats *p, const struct ht_config *c)
{
	const struct ht_strlist *raw = &c->redact_body_patterns, *alnum = &c->redact_patterns_alnum;

	if (!c->generation || alnum->n != raw->n) {
		pats_init(p, raw, alnum);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->l = alnum;
	if (pats_memo.gen != c->generation || pats_memo.l != alnum) {
		pats_memo.min_len = min_len_of(alnum);
		pats_memo.l = alnum;
		pats_memo.gen = c->generation;
	}
	p->min_len = pats_memo.min_len;
}

static void pats_init(struct pats *p, const struct ht_strlist *raw, const struct ht_strlist *alnum)
{
	memset(p, 0, sizeof(*p));
	if (alnum && raw && alnum->n == raw->n) {
		p->l = alnum;
	} else if (raw && raw->n) {
		p->own.v = calloc(raw->n, sizeof(*p->own.v));
		p->oom = !p->own.v;
		for (size_t i = 0; !p->oom && i < raw->n; i++) {
			size_t n = 0, len = strlen(raw->v[i]);
			char *q = malloc(len + 1);

			if (!q) {
				p->oom = true;
				break;
			}
			for (size_t k = 0; k < len; k++)
				if (alnum_lower((unsigned char)raw->v[i][k]))
					q[n++] = alnum_lower((unsigned char)raw->v[i][k]);
			q[n] = '\0';
			p->own.v[p->own.n++] = q;
		}
		p->l = &p->own;
	} else {
		p->l = &p->own;
	}
	p->min_len = min_len_of(p->l);
	if (p->oom)
		p->min_len = 0; /* every name goes to pats_match, which says yes */
}

static void pats_free(struct pats *p)
{
	if (!p->own.v)
		return; /* the config's list: nothing of ours */
	for (size_t i = 0; i < p->own.n; i++)
		free(p->own.v[i]);
	free(p->own.v);
	memset(p, 0, sizeof(*p));
}

/* Naive search for short names (no setup cost); memmem (linear) for long ones. */
static bool contains(const char *h, size_t hn, const char *nd, size_t nn)
{
	if (hn > 64)
		return memmem(h, hn, nd, nn) != NULL;
	for (size_t i = 0; i + nn <= hn; i++)
		if (h[i] == nd[0] && memcmp(h + i + 1, nd + 1, nn - 1) == 0)
			return true;
	return false;
}

/* Does the normalized name in b contain a pattern?  Out of memory: yes (safe side). */
static bool pats_match(const struct pats *p, const struct nbuf *b)
{
	if (p->oom || b->oom)
		return true;
	if (b->len < p->min_len)
		return false;
	for (size_t i = 0; i < p->l->n; i++) {
		size_t n = strlen(p->l->v[i]);

		if (n && contains(b->p, b->len, p->l->v[i], n))
			return true;
	}
	return false;
}

static void nb_set_raw(struct nbuf *b, const char *s, size_t len)
{
	b->len = 0;
	b->oom = false;
	for (size_t i = 0; i < len; i++)
		nb_push(b, (unsigned char)s[i]);
}

bool ht_redact_name_matches(const struct ht_strlist *patterns, const char *name, size_t len)
{
	struct pats p;
	struct nbuf b;
	bool hit;

	if (!patterns || !patterns->n || !len)
		return false;
	pats_init(&p, patterns, NULL);
	nb_init(&b);
	nb_set_raw(&b, name, len);
	hit = pats_match(&p, &b);
	nb_free(&b);
	pats_free(&p);
	return hit;
}

static bool header_listed(const struct ht_strlist *l, const char *name, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && strncasecmp(l->v[i], name, len) == 0)
			return true;
	return false;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A form/query name, percent-decoded ('+' is a space), into b. */
static void nb_set_url(struct nbuf *b, const char *s, size_t len)
{
	b->len = 0;
	b->oom = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '%' && i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			ch = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 +
					     hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		nb_push(b, ch);
	}
}

/* The content of a JSON string s[from..to), escapes decoded, into b. */
static void nb_set_json(struct nbuf *b, const char *s, size_t from, size_t to)
{
	b->len = 0;
	b->oom = false;
	for (size_t i = from; i < to; i++) {
		unsigned char ch = (unsigned char)s[i];
		int v = 0;

		if (ch != '\\' || i + 1 >= to) {
			nb_push(b, ch);
			continue;
		}
		ch = (unsigned char)s[++i];
		if (ch != 'u') {
			if (!strchr("bfnrt", ch)) /* \" \\ \/ and unknown escapes: the char */
				nb_push(b, ch);
			continue;
		}
		for (int k = 1; k <= 4 && v >= 0; k++) {
			int h = i + (size_t)k < to ? hexval((unsigned char)s[i + (size_t)k]) : -1;

			v = h < 0 ? -1 : v * 16 + h;
		}
		if (v < 0) {
			nb_push(b, ch);
			continue;
		}
		i += 4;
		if (v < 0x80)
			nb_push(b, (unsigned char)v);
	}
}

/* Everything one ht_redact call needs. */
struct rctx {
	const struct ht_config *c;
	struct ht_record *r;
	struct pats pats;
	struct nbuf name;
	struct dead *dead;
};

/* ---- key=value lists: query strings, form bodies, loose text */

static bool is_loose_name_char(unsigned char ch)
{
	return alnum_lower(ch) || (ch && strchr("_.-%+[]", ch));
}

static bool is_loose_value_end(unsigned char ch)
{
	return ch && strchr("&; \t\r\n<>\"'", ch);
}

/* True if s looks like application/x-www-form-urlencoded data. */
static bool looks_like_form(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' ||
		    s[i] == '<' || s[i] == '>' || s[i] == '"')
			return false;
	return true;
}

/* End of the value that starts at v (see kv_scan). */
static size_t kv_value_end(const char *s, size_t v, size_t end, bool strict)
{
	const char *close;

	if (strict) {
		close = memchr(s + v, '&', end - v);
		return close ? (size_t)(close - s) : end;
	}
	if (v < end && (s[v] == '"' || s[v] == '\'')) { /* token="abc" */
		close = memchr(s + v + 1, s[v], end - v - 1);
		return close ? (size_t)(close - s) + 1 : end;
	}
	while (v < end && !is_loose_value_end((unsigned char)s[v]))
		v++;
	return v;
}

/*
 * Redact the values of name=value pairs in s[start..end) whose names match.
 * strict: pairs are separated by '&' (a form or a query); otherwise names
 * are the word just before '=' and values stop at space, quote, '<', ';',
 * or are quoted (name="value", through the closing quote).  Linear: a
 * value is only measured when its name matched (or to skip a form pair).
 */
static void kv_scan(struct rctx *x, struct splice *sp, size_t start, size_t end, bool strict)
{
	const char *s = sp->s;
	size_t i = start;

	while (i < end) {
		const char *eq = memchr(s + i, '=', end - i);
		size_t e, ns, ve;
		bool hit;

		if (!eq)
			break;
		e = (size_t)(eq - s);
		ns = e;
		while (ns > i && (strict ? s[ns - 1] != '&' : is_loose_name_char((unsigned char)s[ns - 1])))
			ns--;
		hit = ns < e && e - ns >= x->pats.min_len &&
		      (nb_set_url(&x->name, s + ns, e - ns), pats_match(&x->pats, &x->name));
		if (!hit) {
			/* a form value ends at '&'; loose text may hide a pair inside one */
			i = strict ? kv_value_end(s, e + 1, end, true) + 1 : e + 1;
			continue;
		}
		ve = kv_value_end(s, e + 1, end, strict);
		if (ve > e + 1 &&
		    !(ve - e - 1 == strlen(HT_REDACTED) && !memcmp(s + e + 1, HT_REDACTED, ve - e - 1)))
			splice_replace(sp, e + 1, ve, HT_REDACTED);
		i = ve > e + 1 ? ve : e + 1;
	}
}

/* "scheme://user:pw@host..." -> "scheme://[REDACTED]@host..." */
static void userinfo_scan(struct splice *sp)
{
	const char *s = sp->s;
	size_t len = sp->len, a = 0, e, at = 0;

	while (a < len && (alnum_lower((unsigned char)s[a]) || s[a] == '+' || s[a] == '-' || s[a] == '.'))
		a++;
	if (a == 0 || a + 3 > len || memcmp(s + a, "://", 3) != 0)
		return;
	a += 3;
	for (e = a; e < len && s[e] != '/' && s[e] != '?' && s[e] != '#'; e++)
		if (s[e] == '@')
			at = e;
	if (!at)
		return;
	if (at - a == strlen(HT_REDACTED) && !memcmp(s + a, HT_REDACTED, at - a))
		return;
	splice_replace(sp, a, at, HT_REDACTED);
}

/* ---- JSON */

/* Index just past the string starting with the quote at i (len if cut). */
static size_t json_string_end(const char *s, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return len;
}

static size_t skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i;
}

/* Index just past the JSON value starting at i (len if cut). */
static size_t json_value_end(const char *s, size_t len, size_t i)
{
	size_t depth = 0, last;

	if (s[i] == '"')
		return json_string_end(s, len, i);
	if (s[i] == '{' || s[i] == '[') {
		while (i < len) {
			if (s[i] == '"') {
				i = json_string_end(s, len, i);
				continue;
			}
			if (s[i] == '{' || s[i] == '[')
				depth++;
			else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
				return i + 1;
			i++;
		}
		return len;
	}
	/* a scalar (or junk): up to the next delimiter, trailing space kept */
	last = i;
	while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']') {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			last = i + 1;
		i++;
	}
	return last;
}

static bool json_is_redacted(const char *s, size_t from, size_t to)
{
	static const char lit[] = "\"" HT_REDACTED "\"";

	return to - from == sizeof(lit) - 1 && memcmp(s + from, lit, to - from) == 0;
}

static void json_scan(struct rctx *x, struct splice *sp)
{
	const char *s = sp->s;
	size_t len = sp->len, i = 0;

	while (i < len) {
		const char *q = memchr(s + i, '"', len - i);
		size_t end, j, v, ve;

		if (!q)
			break;
		i = (size_t)(q - s);
		end = json_string_end(s, len, i);
		j = skip_ws(s, len, end);
		if (end >= len || j >= len || s[j] != ':') {
			i = end;
			continue;
		}
		v = skip_ws(s, len, j + 1);
		if (v >= len || end - 1 - (i + 1) < x->pats.min_len) { /* too short to match */
			i = j + 1;
			continue;
		}
		nb_set_json(&x->name, s, i + 1, end - 1);
		if (!pats_match(&x->pats, &x->name)) {
			i = j + 1;
			continue;
		}
		ve = json_value_end(s, len, v);
		if (ve > v && !json_is_redacted(s, v, ve))
			splice_replace(sp, v, ve, "\"" HT_REDACTED "\"");
		i = ve > v ? ve : v + 1;
	}
}

/* ---- record fields */

/* Old arena ranges that no longer back a field: wiped at the end. */
struct dead {
	struct ht_str *v;
	size_t n, cap;
	int err;
};

static void dead_add(struct dead *d, struct ht_str s)
{
	struct ht_str *v;

	if (!s.len)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;

		v = realloc(d->v, cap * sizeof(*v));
		if (!v) {
			d->err = -ENOMEM;
			return;
		}
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = s;
}

/* Point *dst at a copy of p[0..len); on failure the field is emptied. */
static void replace_field(struct ht_record *r, struct ht_str *dst, const char *p, size_t len,
			  struct dead *d)
{
	dead_add(d, *dst);
	if (ht_record_set(r, dst, p, len)) {
		dst->off = 0;
		dst->len = 0;
	}
}

/* Apply a finished splice of field *f (or empty the field on failure). */
static bool splice_apply(struct ht_record *r, struct ht_str *f, struct splice *sp, struct dead *d)
{
	bool changed = sp->n > 0;

	if (!changed)
		goto out;
	if (splice_finish(sp)) {
		dead_add(d, *f);
		f->off = f->len = 0;
	} else {
		replace_field(r, f, sp->out.p, sp->out.len, d);
	}
out:
	if (sp->out.p)
		ht_buf_free(&sp->out);
	return changed;
}

static bool is_url_header(const char *name, size_t len)
{
	return (len == 7 && !strncasecmp(name, "referer", 7)) ||
	       (len == 8 && !strncasecmp(name, "location", 8)) ||
	       (len == 16 && !strncasecmp(name, "content-location", 16));
}

/* URL userinfo and matching query parameters of field *f. */
static bool redact_url(struct rctx *x, struct ht_str *f)
{
	struct splice sp;
	const char *q;

	if (!f->len)
		return false;
	splice_init(&sp, ht_str_ptr(x->r, *f), f->len);
	userinfo_scan(&sp);
	q = memchr(sp.s, '?', sp.len);
	if (q) {
		size_t qs = (size_t)(q - sp.s) + 1;
		const char *hash = memchr(sp.s + qs, '#', sp.len - qs);
		size_t qe = hash ? (size_t)(hash - sp.s) : sp.len;

		if (qs >= sp.done)
			kv_scan(x, &sp, qs, qe, true);
	}
	return splice_apply(x->r, f, &sp, x->dead);
}

/*
 * What to do with a header, by name.  Records repeat the same few dozen
 * names, so each thread remembers its verdicts per config generation in a
 * small set-associative table (thread-local, no allocation): a name's hash
 * picks a set of HDR_CACHE_WAYS slots, so two common names that share a
 * set do not evict each other on every record; a miss costs the full
 * check.  Hand-built configs (generation 0) are never cached.
 */
enum hverdict { HV_KEEP = 1, HV_REDACT, HV_URL };

#define HDR_CACHE_SETS 64   /* power of two */
#define HDR_CACHE_WAYS 4
#define HDR_CACHE_NAME 30   /* longest name cached, bytes */

struct hdr_slot {
	uint64_t gen;
	uint64_t a, b;      /* the name's key words (name_key) */
	uint8_t len;
	uint8_t verdict;
	char name[HDR_CACHE_NAME];
};

struct hdr_set {
	struct hdr_slot way[HDR_CACHE_WAYS];
	unsigned next;      /* the way a miss replaces when none is stale */
};

static __thread struct hdr_set hdr_cache[HDR_CACHE_SETS];

static enum hverdict header_verdict_slow(struct rctx *x, const char *name, size_t len)
{
	nb_set_raw(&x->name, name, len);
	if (header_listed(&x->c->redact_headers, name, len) || pats_match(&x->pats, &x->name))
		return HV_REDACT;
	return is_url_header(name, len) ? HV_URL : HV_KEEP;
}

/* The slot a miss fills: a stale one (older generation) first, else round robin. */
static struct hdr_slot *hdr_victim(struct hdr_set *set, uint64_t gen)
{
	for (int w = 0; w < HDR_CACHE_WAYS; w++)
		if (set->way[w].gen != gen)
			return &set->way[w];
	return &set->way[set->next++ % HDR_CACHE_WAYS];
}

/* Two words that, with the length, are a name of up to 16 bytes exactly:
 * its first and last 8 (4, or for 1-3 bytes its first, middle and last)
 * bytes.  Longer names also need their middle compared. */
static inline void name_key(const char *p, size_t len, uint64_t *a, uint64_t *b)
{
	uint32_t x, y;

	*a = *b = 0;
	if (len >= 8) {
		memcpy(a, p, 8);
		memcpy(b, p + len - 8, 8);
	} else if (len >= 4) {
		memcpy(&x, p, 4);
		memcpy(&y, p + len - 4, 4);
		*a = x;
		*b = y;
	} else if (len) {
		*a = (unsigned char)p[0] | (unsigned)(unsigned char)p[len / 2] << 8 |
		     (unsigned)(unsigned char)p[len - 1] << 16;
	}
}

/* A cache index from the key: two multiplies, no loop over the bytes
 * (names sharing it only share a set; the slots compare the whole name). */
static inline unsigned name_set(uint64_t a, uint64_t b, size_t len)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + len) * 0xc2b2ae3d27d4eb4full;

	return (unsigned)(h >> 40) & (HDR_CACHE_SETS - 1);
}

static enum hverdict header_verdict(struct rctx *x, const char *name, size_t len)
{
	uint64_t gen = x->c->generation, a, b;
	struct hdr_set *set;
	struct hdr_slot *slot;
	enum hverdict v;

	if (!gen || len > HDR_CACHE_NAME)
		return header_verdict_slow(x, name, len);
	name_key(name, len, &a, &b);
	set = &hdr_cache[name_set(a, b, len)];
	for (int w = 0; w < HDR_CACHE_WAYS; w++) {
		slot = &set->way[w];
		if (slot->gen == gen && slot->len == len && slot->a == a && slot->b == b &&
		    (len <= 16 || memcmp(slot->name + 8, name + 8, len - 16) == 0))
			return (enum hverdict)slot->verdict;
	}
	v = header_verdict_slow(x, name, len);
	if (!x->name.oom && !x->pats.oom) {
		slot = hdr_victim(set, gen);
		slot->gen = gen;
		slot->a = a;
		slot->b = b;
		slot->len = (uint8_t)len;
		slot->verdict = (uint8_t)v;
		memcpy(slot->name, name, len);
	}
	return v;
}

static bool redact_headers(struct rctx *x, struct ht_headers *h)
{
	struct ht_record *r = x->r;
	bool changed = false;

	for (uint32_t i = 0; i < h->n; i++) {
		struct ht_kv *kv = &h->v[i];
		const char *val = ht_str_ptr(r, kv->value);
		enum hverdict v;

		if (!kv->value.len)
			continue;
		v = header_verdict(x, ht_str_ptr(r, kv->name), kv->name.len);
		if (v == HV_REDACT) {
			if (kv->value.len == strlen(HT_REDACTED) &&
			    !memcmp(val, HT_REDACTED, kv->value.len))
				continue;
			replace_field(r, &kv->value, HT_REDACTED, strlen(HT_REDACTED), x->dead);
			changed = true;
		} else if (v == HV_URL) {
			changed |= redact_url(x, &kv->value);
		}
	}
	return changed;
}

static bool redact_body(struct rctx *x, struct ht_str *body)
{
	struct splice sp;
	size_t first;

	if (!body->len)
		return false;
	splice_init(&sp, ht_str_ptr(x->r, *body), body->len);
	first = skip_ws(sp.s, sp.len, 0);
	if (first < sp.len && (sp.s[first] == '{' || sp.s[first] == '['))
		json_scan(x, &sp);
	else if (memchr(sp.s, '=', sp.len)) /* no '=': no name=value pair to redact */
		kv_scan(x, &sp, 0, sp.len, looks_like_form(sp.s, sp.len));
	return splice_apply(x->r, body, &sp, x->dead);
}

/* ---- wiping dead bytes */

static int cmp_str_off(const void *a, const void *b)
{
	const struct ht_str *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Keep live range s if it overlaps a dead one (usually none does: no allocation). */
static void live_add(struct dead *l, struct ht_str s, const struct dead *d)
{
	for (size_t i = 0; i < d->n && s.len; i++) {
		if ((uint64_t)s.off < (uint64_t)d->v[i].off + d->v[i].len &&
		    (uint64_t)d->v[i].off < (uint64_t)s.off + s.len) {
			dead_add(l, s);
			return;
		}
	}
}

static void collect_live(struct ht_record *r, struct dead *l, const struct dead *d)
{
	struct ht_str *fields[] = {
		&r->method, &r->target, &r->path, &r->host, &r->reason, &r->req_body,
		&r->resp_body, &r->container_id, &r->pod, &r->namespace_, &r->node,
		&r->container, &r->workload_kind, &r->workload, &r->remote_pod,
		&r->remote_namespace, &r->remote_service,
	};
	struct ht_headers *hs[] = { &r->req_headers, &r->resp_headers };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		live_add(l, *fields[i], d);
	for (size_t k = 0; k < 2; k++) {
		for (uint32_t i = 0; i < hs[k]->n; i++) {
			live_add(l, hs[k]->v[i].name, d);
			live_add(l, hs[k]->v[i].value, d);
		}
	}
}

/* Zero the bytes of [from, to) that no live range covers (live sorted by off). */
static void wipe_gaps(struct ht_record *r, uint64_t from, uint64_t to, const struct dead *live)
{
	uint64_t pos = from;

	for (size_t i = 0; i < live->n && pos < to; i++) {
		uint64_t ls = live->v[i].off, le = ls + live->v[i].len;

		if (le <= pos)
			continue;
		if (ls >= to)
			break;
		if (ls > pos)
			memset(r->arena + pos, 0, ls - pos);
		if (le > pos)
			pos = le;
	}
	if (pos < to)
		memset(r->arena + pos, 0, to - pos);
}

static void wipe_dead(struct ht_record *r, struct dead *d)
{
	struct dead live = { 0 };

	if (!d->n || !r->arena)
		return;
	collect_live(r, &live, d);
	if (live.err)
		goto out; /* cannot tell what is still used: leave the bytes */
	if (live.n > 1)
		qsort(live.v, live.n, sizeof(*live.v), cmp_str_off);
	for (size_t i = 0; i < d->n; i++) {
		uint64_t from = d->v[i].off, to = from + d->v[i].len;

		if (to > r->arena_len)
			continue;
		wipe_gaps(r, from, to, &live);
	}
out:
	free(live.v);
}

void ht_redact(const struct ht_config *c, struct ht_record *r)
{
	struct dead d = { 0 };
	struct rctx x = { .c = c, .r = r, .dead = &d };
	bool changed = false;

	if (!c || !r)
		return;
	pats_init_cfg(&x.pats, c);
	nb_init(&x.name);
	changed |= redact_headers(&x, &r->req_headers);
	changed |= redact_headers(&x, &r->resp_headers);
	changed |= redact_url(&x, &r->target);
	changed |= redact_url(&x, &r->path);
	changed |= redact_body(&x, &r->req_body);
	changed |= redact_body(&x, &r->resp_body);
	if (changed) {
		r->flags |= HT_RF_REDACTED;
		wipe_dead(r, &d);
	}
	if (d.v)
		free(d.v);
	nb_free(&x.name);
	pats_free(&x.pats);
}
