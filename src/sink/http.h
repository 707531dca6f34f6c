/*
 * http.h - what the libcurl users of the sink stage (the ClickHouse and OTLP
 * senders, the Kubernetes API client) share: libcurl's global state,
 * initialised once per process, and the options every easy handle of ours
 * gets the same way.
 */
#ifndef HT_SINK_HTTP_H
#define HT_SINK_HTTP_H

#include <stddef.h>

#include <curl/curl.h>

#ifndef HT_VERSION
#define HT_VERSION "0.1.0"
#endif
#define HTTP_USER_AGENT "http-tracer/" HT_VERSION

/* Initialises libcurl for the process on the first call (later calls return
 * the first result; never cleaned up: the handles live until exit).  Returns
 * 0, or -1 with "who: libcurl: <reason>" in err. */
int http_global_init(const char *who, char *err, size_t errlen);

/* The options common to our handles; 0 / NULL fields are left unset. */
struct http_common {
	curl_write_callback write;        /* response body */
	void *write_data;
	curl_xferinfo_callback progress;  /* polled during transfers: abort */
	void *progress_data;
	long connect_timeout_ms;
	long timeout_ms;                  /* the whole exchange */
};

/* Applies o to h, plus: no signals (sender threads), our User-Agent, TCP
 * keep-alive, and http/https as the only protocols (redirects included). */
void http_easy_common(CURL *h, const struct http_common *o);

#endif /* HT_SINK_HTTP_H */
