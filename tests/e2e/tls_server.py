#!/usr/bin/env python3
"""tls_server.py PORT CERT KEY READY_FILE - a small HTTP/1.1 server over
Python's ssl (OpenSSL's SSL_read_ex / SSL_write_ex), for t_tls.sh.

Keep-alive; every response is written in pieces, each its own SSL write:
  /split    the head in two writes, then the body
  /chunked  a chunked body, one write per chunk
  other     head and Content-Length body in one write
Writes READY_FILE once it listens."""
import socket
import ssl
import sys
import threading

port, cert, key, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)


def respond(c, path):
    if path.startswith("/split"):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
        c.sendall(b"ngth: 5\r\nContent-Type: text/plain\r\n\r\n")
        c.sendall(b"hello")
    elif path.startswith("/chunked"):
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (b"hello", b" chunked", b" world"):
            c.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        c.sendall(b"0\r\n\r\n")
    else:
        body = b"k" * 100
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def serve(raw):
    try:
        c = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    buf = b""
    with c:
        while True:
            while b"\r\n\r\n" not in buf:
                try:
                    got = c.recv(65536)
                except (ssl.SSLError, OSError):
                    return
                if not got:
                    return
                buf += got
            head, buf = buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1].decode("latin1")
            respond(c, path)


srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
open(ready, "w").close()
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
