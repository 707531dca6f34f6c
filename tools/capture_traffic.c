/*
 * capture_traffic.c - loopback HTTP/1.1 traffic with the syscalls that the
 * conformance script (Python) cannot make, for tools/capture_check.sh:
 * the client sends one request with sendmmsg (3 messages, the second with
 * 100 one-byte iovecs: more than the kernel walks), peeks at the response
 * with recv(MSG_PEEK), then reads it; the server reads with recvmmsg and
 * answers with one writev of 71 iovecs.
 *
 *   capture_traffic PORT     exit 0 when the exchange completed
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define CT_HDR_IOVS 100
#define CT_BODY_IOVS 70

static const char ct_line[] = "GET /capture_traffic HTTP/1.1\r\n";
static const char ct_tail[] = "X: y\r\n\r\n";
static const char ct_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 70\r\n\r\n";

static int ct_client(const struct sockaddr_in *a)
{
	static char hdr[CT_HDR_IOVS];
	struct iovec v1[2], v2[CT_HDR_IOVS], v3[1];
	struct mmsghdr m[3];
	char buf[4096];
	ssize_t r, got = 0;
	int c = socket(AF_INET, SOCK_STREAM, 0);

	if (c < 0 || connect(c, (const void *)a, sizeof(*a)))
		return 1;
	memset(hdr, 'h', sizeof(hdr));
	memset(m, 0, sizeof(m));
	v1[0] = (struct iovec){ (void *)ct_line, 4 };
	v1[1] = (struct iovec){ (void *)(ct_line + 4), strlen(ct_line) - 4 };
	for (int i = 0; i < CT_HDR_IOVS; i++)
		v2[i] = (struct iovec){ hdr + i, 1 };
	v3[0] = (struct iovec){ (void *)ct_tail, strlen(ct_tail) };
	m[0].msg_hdr.msg_iov = v1;
	m[0].msg_hdr.msg_iovlen = 2;
	m[1].msg_hdr.msg_iov = v2;
	m[1].msg_hdr.msg_iovlen = CT_HDR_IOVS;
	m[2].msg_hdr.msg_iov = v3;
	m[2].msg_hdr.msg_iovlen = 1;
	if (sendmmsg(c, m, 3, 0) != 3)
		return 1;
	if (recv(c, buf, sizeof(buf), MSG_PEEK) <= 0)
		return 1;
	while ((r = recv(c, buf, sizeof(buf), 0)) > 0)
		got += r;
	close(c);
	return got == (ssize_t)(strlen(ct_resp) + CT_BODY_IOVS) ? 0 : 1;
}

static int ct_server(int ls)
{
	size_t want = strlen(ct_line) + CT_HDR_IOVS + strlen(ct_tail), got = 0;
	static char b1[64], b2[4096], body[CT_BODY_IOVS];
	struct iovec w[1 + CT_BODY_IOVS];
	int s = accept(ls, NULL, NULL);

	if (s < 0)
		return 1;
	while (got < want) {
		struct iovec r1 = { b1, sizeof(b1) }, r2 = { b2, sizeof(b2) };
		struct mmsghdr m[2];
		int n;

		memset(m, 0, sizeof(m));
		m[0].msg_hdr.msg_iov = &r1;
		m[0].msg_hdr.msg_iovlen = 1;
		m[1].msg_hdr.msg_iov = &r2;
		m[1].msg_hdr.msg_iovlen = 1;
		n = recvmmsg(s, m, 2, MSG_WAITFORONE, NULL);
		if (n <= 0)
			return 1;
		for (int i = 0; i < n; i++)
			got += m[i].msg_len;
	}
	memset(body, 'b', sizeof(body));
	w[0] = (struct iovec){ (void *)ct_resp, strlen(ct_resp) };
	for (int i = 0; i < CT_BODY_IOVS; i++)
		w[i + 1] = (struct iovec){ body + i, 1 };
	if (writev(s, w, 1 + CT_BODY_IOVS) != (ssize_t)(strlen(ct_resp) + CT_BODY_IOVS))
		return 1;
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int ls, one = 1, status = 0, rc;
	pid_t pid;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (void *)&a, sizeof(a)) || listen(ls, 4)) {
		perror("capture_traffic: listen");
		return 1;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(ct_client(&a));
	rc = ct_server(ls);
	waitpid(pid, &status, 0);
	close(ls);
	if (rc || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "capture_traffic: exchange failed (server %d, client status %d)\n", rc, status);
		return 1;
	}
	return 0;
}
