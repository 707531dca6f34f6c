/*
 * route.h - turn a request path into a low-cardinality route template.
 *
 * Used for the `route` label of the RED metrics and for the name and
 * http.route of OTLP spans (a pure function, so it lives in base/ where
 * both observe/ and sink/ reach it): identifiers in the path (numbers,
 * UUIDs, long hex strings, long tokens, dates, e-mail addresses) become
 * `{id}`, the query and fragment are stripped, matrix parameters
 * (`;jsessionid=...`) are dropped, and the result is bounded in length.
 */
#ifndef HT_ROUTE_H
#define HT_ROUTE_H

#include <stddef.h>

#ifndef ROUTE_MAX_LEN
#define ROUTE_MAX_LEN 128      /* bytes of template, NUL excluded */
#endif
#ifndef ROUTE_MAX_SEGMENTS
#define ROUTE_MAX_SEGMENTS 16  /* later segments are cut to "/..." */
#endif
#define ROUTE_SEG_LONG 64      /* a segment this long or longer is an id */
#define ROUTE_HEX_MIN 16       /* all-hex segments this long are ids */
#define ROUTE_TOKEN_MIN 20     /* letter+digit tokens this long are ids */

#define ROUTE_ID "{id}"
#define ROUTE_OTHER "other"    /* cardinality cap reached, or not a path */
#define ROUTE_NONE "none"      /* no request seen */

/*
 * Writes the template of path[0..len) into out (always NUL-terminated when
 * outlen > 0) and returns its length (< outlen).  An origin-form path
 * ("/a/b"), an absolute-form target ("http://host/a/b": scheme and
 * authority dropped) and "*" are templated; anything else (authority-form
 * CONNECT targets, garbage) gives ROUTE_OTHER, an empty path ROUTE_NONE.
 * Bytes outside printable ASCII become '_'.  Never reads past path+len.
 */
size_t route_template(const char *path, size_t len, char *out, size_t outlen);

#endif
