/*
 * http.c - libcurl's process-wide initialisation and our handles' common
 * options (http.h).
 */
#include <pthread.h>
#include <stdio.h>

#include "http.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int http_global_init(const char *who, char *err, size_t errlen)
{
	pthread_once(&global_once, global_init);
	if (global_rc == CURLE_OK)
		return 0;
	snprintf(err, errlen, "%s: libcurl: %s", who, curl_easy_strerror(global_rc));
	return -1;
}

void http_easy_common(CURL *h, const struct http_common *o)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (o->write) {
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, o->write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, o->write_data);
	}
	if (o->progress) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, o->progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, o->progress_data);
	}
	if (o->connect_timeout_ms)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	if (o->timeout_ms)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
}
