/* traceid.c - traceparent parsing and random ids; see traceid.h. */
#include "traceid.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case is invalid too */
}

/* n bytes from 2n lower-case hex digits; -EINVAL on a bad digit or all zero. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
	uint8_t any = 0;

	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
		any |= out[i];
	}
	return any ? 0 : -EINVAL;
}

int traceparent_parse(const char *s, size_t n, struct trace_parent *out)
{
	uint8_t ver, fl;

	if (!s || n < TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return -EINVAL;
	if (hexval(s[0]) < 0 || hexval(s[1]) < 0 || hexval(s[53]) < 0 || hexval(s[54]) < 0)
		return -EINVAL;
	ver = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
	fl = (uint8_t)(hexval(s[53]) << 4 | hexval(s[54]));
	if (ver == 0xff || (ver == 0 && n != TRACEPARENT_LEN) ||
	    (n > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-'))
		return -EINVAL;
	if (unhex(s + 3, out->trace_id, 16) || unhex(s + 36, out->span_id, 8))
		return -EINVAL;
	out->flags = fl;
	return 0;
}

static __thread uint64_t rng[4];
static __thread int rng_seeded;

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(void)
{
	uint64_t seed[4];

	if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		/* no entropy yet (early boot): time and thread, still unique per thread */
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		x ^= (uint64_t)gettid() << 32;
		for (int i = 0; i < 4; i++)
			seed[i] = splitmix(&x);
	}
	memcpy(rng, seed, sizeof(rng));
	if (!(rng[0] | rng[1] | rng[2] | rng[3]))
		rng[0] = 1;
	rng_seeded = 1;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
	uint64_t r = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;

	rng[2] ^= rng[0];
	rng[3] ^= rng[1];
	rng[1] ^= rng[2];
	rng[0] ^= rng[3];
	rng[2] ^= t;
	rng[3] = rotl(rng[3], 45);
	return r;
}

void traceid_random(uint8_t *p, size_t n)
{
	uint8_t any;

	if (!rng_seeded)
		rng_seed();
	do {
		any = 0;
		for (size_t i = 0; i < n; i += 8) {
			uint64_t v = rng_next();
			size_t k = n - i < 8 ? n - i : 8;

			memcpy(p + i, &v, k);
		}
		for (size_t i = 0; i < n; i++)
			any |= p[i];
	} while (!any);
}

void traceid_hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
}
