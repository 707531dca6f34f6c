/*
 * addr.h - one binary address type for the whole collector.
 *
 * An address is a family (AF_INET or AF_INET6, 0 if unknown) and 16 bytes:
 * IPv4 in the first 4, the rest zero.  It stays binary from the kernel event
 * through the connection, the record and the filters; only encoders make
 * text (ht_addr_format).  IPv4-mapped IPv6 (::ffff:a.b.c.d) is kept as
 * written and matched as IPv4 by ht_cidr_match.
 */
#ifndef HT_ADDR_H
#define HT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* AF_INET, AF_INET6: the one family convention */

struct ht_addr {
	uint8_t family;   /* AF_INET, AF_INET6, or 0: unknown */
	uint8_t bytes[16];
};

struct ht_cidr {
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t prefix;   /* bits */
	uint8_t bytes[16]; /* host bits cleared */
};

/* Room for the text of any address, NUL included (ht_addr_format writes at
 * most 40: eight 4-digit groups and 7 colons, or ::ffff: and a dotted quad). */
#define HT_ADDR_TEXT_MAX 46

/* Text (dotted IPv4 or IPv6, an IPv6 zone ignored) -> address; 0 or -EINVAL. */
int ht_addr_parse(const char *s, struct ht_addr *out);

/* Address -> text into buf[HT_ADDR_TEXT_MAX], NUL-terminated: dotted IPv4,
 * RFC 5952 IPv6 (::ffff:a.b.c.d when IPv4-mapped); "" for an unknown family.
 * The text is plain ASCII that no encoder needs to escape.  Returns the length. */
size_t ht_addr_format(const struct ht_addr *a, char *buf);

/* Parse "a.b.c.d", "a.b.c.d/n", "v6", "v6/n" into *out (host bits cleared;
 * ::ffff:a.b.c.d/96+n becomes a.b.c.d/n).  Returns 0 or -EINVAL. */
int ht_cidr_parse(const char *s, struct ht_cidr *out);

/* True if a is inside c; an IPv4-mapped IPv6 address also matches IPv4 rules. */
bool ht_cidr_match(const struct ht_cidr *c, const struct ht_addr *a);

#endif
