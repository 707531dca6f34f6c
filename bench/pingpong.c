/*
 * pingpong.c - the four data syscalls of one wrk -> nginx exchange, made
 * by one thread on one loopback TCP connection as fast as it can, for
 * bench/bpf_pingpong.sh: the client write(2)s an 80-byte GET, the server
 * read(2)s it and writev(2)s a 1 KiB response as head + body, then reads
 * again and gets EAGAIN (as nginx does before it waits in epoll), the
 * client recvfrom(2)s the response.  With the tracer loaded these calls
 * outnumber the rest of the host's by far, so the probes' ns per call
 * (bpf_stats) is theirs: a hot-cache figure, next to bench/cpu.sh's
 * cold-cache one under a paced load.
 *
 *   pingpong PORT SECONDS     prints the exchanges made; exit 0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const char pp_req[] = "GET /bench.html HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			     "User-Agent: pingpong\r\nAccept: */*\r\n\r\n";
static const char pp_head[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
			      "Date: Tue, 01 Dec 2026 15:00:00 GMT\r\n"
			      "Content-Type: text/html\r\nContent-Length: 1024\r\n"
			      "Last-Modified: Tue, 01 Dec 2026 14:00:00 GMT\r\n"
			      "Connection: keep-alive\r\nETag: \"6749a0e0-400\"\r\n"
			      "Accept-Ranges: bytes\r\n\r\n";

/* A connected pair on 127.0.0.1:port: *c the client's end, *s the server's. */
static int pp_pair(int port, int *c, int *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (void *)&a, sizeof(a)) || listen(l, 1))
		return -1;
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (void *)&a, sizeof(a)))
		return -1;
	*s = accept(l, NULL, NULL);
	close(l);
	if (*s < 0)
		return -1;
	setsockopt(*c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fcntl(*s, F_SETFL, O_NONBLOCK); /* the server's end, as nginx's */
}

/* Reads exactly n bytes from fd with f (read or recvfrom); 0 or -1. */
static int pp_full(int fd, char *buf, size_t n, int use_recv)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = use_recv ? recvfrom(fd, buf + got, 4096 - got, 0, NULL, NULL) :
				       read(fd, buf + got, 4096 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char body[1024], buf[4096];
	struct iovec v[2] = { { (void *)pp_head, sizeof(pp_head) - 1 }, { body, sizeof(body) } };
	struct timespec t0, t;
	unsigned long n = 0;
	int c, s;

	if (argc != 3) {
		fprintf(stderr, "usage: pingpong PORT SECONDS\n");
		return 2;
	}
	memset(body, 'a', sizeof(body));
	if (pp_pair(atoi(argv[1]), &c, &s)) {
		perror("pingpong: loopback connection");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (write(c, pp_req, sizeof(pp_req) - 1) != (ssize_t)sizeof(pp_req) - 1 ||
		    pp_full(s, buf, sizeof(pp_req) - 1, 0) ||
		    writev(s, v, 2) != (ssize_t)(v[0].iov_len + v[1].iov_len) ||
		    read(s, buf, sizeof(buf)) != -1 || errno != EAGAIN ||
		    pp_full(c, buf, v[0].iov_len + v[1].iov_len, 1)) {
			perror("pingpong: exchange");
			return 1;
		}
		n++;
		if (n % 1024 == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec >= atoi(argv[2]))
				break;
		}
	}
	printf("%lu\n", n);
	return 0;
}
