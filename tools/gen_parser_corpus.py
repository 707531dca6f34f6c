#!/usr/bin/env python3
"""gen_parser_corpus.py - write a deterministic HTTP/1.1 corpus for bench_parser.

The corpus is a sequence of records, each a text line followed by raw bytes:

    REQ <n>\\n<n bytes: one request message>
    RESP <n>\\n<n bytes: one response message>

Requests look like browser page/asset loads and API calls (5-30 headers,
GET mostly, POST/PUT/PATCH with JSON or form bodies, some chunked);
responses carry 0 B to 64 KiB bodies with Content-Length or chunked coding,
plus 204/304 without a body.  Same seed, same bytes.

With --shape wrk-nginx the messages are instead what bench/cpu.sh puts on
the wire: wrk's ~50-byte GET and nginx's static-file 200 (8 headers,
~240-byte head) with a 1 KiB body, the heads the tracer parses live.

usage: gen_parser_corpus.py [-o FILE] [-n MESSAGES] [--seed N] [--max-body BYTES]
                            [--shape mixed|wrk-nginx]
"""
import argparse
import random
import string
import sys

UAS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "curl/7.88.1",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
]
HOSTS = ["www.example.com", "api.example.com", "cdn.example.net", "shop.internal:8080",
         "orders.default.svc.cluster.local", "10.0.3.17:9000"]
PAGES = ["/", "/index.html", "/products", "/products/12345", "/search", "/cart",
         "/account/settings", "/blog/2024/05/http-parsing-at-scale"]
ASSETS = ["/static/app.3f9a2c.js", "/static/vendor.81bd.js", "/static/main.css",
          "/img/logo.svg", "/img/hero-1920.webp", "/fonts/inter-var.woff2", "/favicon.ico"]
APIS = ["/api/v1/users", "/api/v1/users/8812", "/api/v1/orders", "/api/v2/orders/9923/items",
        "/api/v1/search", "/graphql", "/v1/metrics/ingest", "/healthz"]
CTYPES = ["text/html; charset=utf-8", "application/json", "text/css",
          "application/javascript", "image/webp", "image/svg+xml", "font/woff2",
          "application/octet-stream"]
SERVERS = ["nginx/1.22.1", "envoy", "gunicorn", "Apache/2.4.57 (Debian)", "cloudflare"]


def token(rng, n):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def query(rng):
    if rng.random() < 0.6:
        return ""
    return "?" + "&".join(f"{token(rng, rng.randint(1, 8))}={token(rng, rng.randint(1, 16))}"
                          for _ in range(rng.randint(1, 4)))


MAX_BODY = 65536


def body_size(rng):
    r = rng.random()
    if MAX_BODY == 0:
        return 0
    if r < 0.30:
        return 0
    if r < 0.65:
        return rng.randint(1, 1024)
    if r < 0.90:
        return rng.randint(1025, 16384)
    return rng.randint(16385, 65536) if MAX_BODY > 16384 else rng.randint(0, MAX_BODY)


def body_bytes(rng, n, kind):
    if kind == "application/json":
        unit = b'{"id":12345,"name":"widget","tags":["a","b"],"price":19.99},'
    elif kind.startswith("text/"):
        unit = b"<div class=\"item\"><a href=\"/p/1\">Lorem ipsum dolor sit amet</a></div>\n"
    else:
        unit = bytes(rng.randrange(256) for _ in range(61))
    return (unit * (n // len(unit) + 1))[:n]


def chunked(rng, body):
    out = []
    i = 0
    while i < len(body):
        k = min(len(body) - i, rng.choice([512, 1024, 4096, 8192, 16384]))
        out.append(b"%x\r\n" % k + body[i:i + k] + b"\r\n")
        i += k
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def extra_headers(rng, want):
    pool = [
        ("Accept-Language", "en-US,en;q=0.9,de;q=0.8"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Cache-Control", "no-cache"),
        ("Pragma", "no-cache"),
        ("Sec-Fetch-Dest", "document"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-User", "?1"),
        ("Sec-Ch-Ua", '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"'),
        ("Sec-Ch-Ua-Mobile", "?0"),
        ("Sec-Ch-Ua-Platform", '"Linux"'),
        ("Upgrade-Insecure-Requests", "1"),
        ("DNT", "1"),
        ("Referer", "https://www.example.com/products?page=2"),
        ("Origin", "https://www.example.com"),
        ("X-Request-Id", None),
        ("X-B3-TraceId", None),
        ("X-B3-SpanId", None),
        ("Traceparent", None),
        ("X-Forwarded-For", "203.0.113.7, 10.0.0.2"),
        ("X-Forwarded-Proto", "https"),
        ("X-Real-IP", "203.0.113.7"),
        ("If-None-Match", None),
        ("If-Modified-Since", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("Authorization", None),
        ("Cookie", None),
        ("Priority", "u=0, i"),
        ("Te", "trailers"),
    ]
    rng.shuffle(pool)
    out = []
    for name, val in pool[:max(0, want)]:
        if val is None:
            if name == "Cookie":
                val = "; ".join(f"{token(rng, 6)}={token(rng, rng.randint(8, 40))}"
                                for _ in range(rng.randint(1, 6)))
            elif name == "Authorization":
                val = "Bearer " + token(rng, rng.randint(40, 300))
            elif name == "Traceparent":
                val = f"00-{token(rng, 32).lower()}-{token(rng, 16).lower()}-01"
            else:
                val = token(rng, rng.randint(16, 36))
        out.append((name, val))
    return out


def request(rng):
    r = rng.random()
    host = rng.choice(HOSTS)
    body = b""
    te_chunked = False
    hdrs = [("Host", host), ("User-Agent", rng.choice(UAS))]
    if r < 0.35:
        method, path = "GET", rng.choice(PAGES) + query(rng)
        hdrs.append(("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,"
                               "image/avif,image/webp,*/*;q=0.8"))
    elif r < 0.65:
        method, path = "GET", rng.choice(ASSETS)
        hdrs.append(("Accept", "*/*"))
    elif r < 0.80:
        method, path = "GET", rng.choice(APIS) + query(rng)
        hdrs.append(("Accept", "application/json"))
    else:
        method = rng.choice(["POST", "POST", "PUT", "PATCH", "DELETE"])
        path = rng.choice(APIS)
        ctype = rng.choice(["application/json", "application/x-www-form-urlencoded"])
        hdrs.append(("Accept", "application/json"))
        if method != "DELETE":
            body = body_bytes(rng, min(body_size(rng), 16384) or 2, ctype)
            hdrs.append(("Content-Type", ctype))
            te_chunked = rng.random() < 0.15
    hdrs.append(("Connection", "keep-alive"))
    total = rng.randint(5, 30)
    hdrs += extra_headers(rng, total - len(hdrs) - (1 if body else 0))
    if body and te_chunked:
        hdrs.append(("Transfer-Encoding", "chunked"))
        body = chunked(rng, body)
    elif body:
        hdrs.append(("Content-Length", str(len(body))))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in hdrs) + "\r\n"
    return head.encode() + body


def response(rng):
    r = rng.random()
    status, reason = (200, "OK")
    if r < 0.06:
        status, reason = (304, "Not Modified")
    elif r < 0.09:
        status, reason = (204, "No Content")
    elif r < 0.13:
        status, reason = (404, "Not Found")
    elif r < 0.15:
        status, reason = (500, "Internal Server Error")
    elif r < 0.18:
        status, reason = (201, "Created")
    elif r < 0.20:
        status, reason = (301, "Moved Permanently")
    ctype = rng.choice(CTYPES)
    hdrs = [("Server", rng.choice(SERVERS)),
            ("Date", "Tue, 14 May 2024 10:%02d:%02d GMT" % (rng.randrange(60), rng.randrange(60)))]
    body = b""
    te_chunked = False
    if status not in (204, 304):
        body = body_bytes(rng, body_size(rng), ctype)
        hdrs.append(("Content-Type", ctype))
        te_chunked = rng.random() < 0.25
    if status == 301:
        hdrs.append(("Location", "https://www.example.com/new" + rng.choice(PAGES)))
    pool = [("Cache-Control", "public, max-age=31536000, immutable"), ("ETag", None),
            ("Last-Modified", "Mon, 13 May 2024 09:00:00 GMT"), ("Vary", "Accept-Encoding"),
            ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
            ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
            ("Content-Security-Policy", "default-src 'self'; img-src 'self' data: https:"),
            ("Access-Control-Allow-Origin", "*"), ("X-Request-Id", None),
            ("Set-Cookie", None), ("Set-Cookie", None), ("Age", "120"),
            ("Via", "1.1 varnish"), ("X-Cache", "HIT"), ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5, max=1000"), ("Alt-Svc", 'h3=":443"; ma=86400'),
            ("Referrer-Policy", "strict-origin-when-cross-origin"), ("Server-Timing", None),
            ("X-Envoy-Upstream-Service-Time", None), ("Accept-Ranges", "bytes")]
    rng.shuffle(pool)
    want = rng.randint(5, 30) - len(hdrs) - (1 if status not in (204, 304) else 0)
    for name, val in pool[:max(0, want)]:
        if val is None:
            if name == "Set-Cookie":
                val = f"{token(rng, 8)}={token(rng, 32)}; Path=/; HttpOnly; Secure; SameSite=Lax"
            elif name == "ETag":
                val = f'W/"{token(rng, 16)}"'
            elif name == "Server-Timing":
                val = f"db;dur={rng.randint(1, 90)}, app;dur={rng.randint(1, 200)}"
            else:
                val = token(rng, rng.randint(3, 36))
        hdrs.append((name, val))
    if status not in (204, 304):
        if te_chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
            body = chunked(rng, body)
        else:
            hdrs.append(("Content-Length", str(len(body))))
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in hdrs) + "\r\n"
    return head.encode() + body


def wrk_request(rng):
    return b"GET /bench.html HTTP/1.1\r\nHost: 127.0.0.1:18095\r\n\r\n"


def nginx_response(rng):
    n = min(1024, MAX_BODY)
    t = "Tue, 01 Dec 2026 15:%02d:%02d GMT" % (rng.randrange(60), rng.randrange(60))
    head = ("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: %s\r\n"
            "Content-Type: text/html\r\nContent-Length: %d\r\n"
            "Last-Modified: Tue, 01 Dec 2026 15:10:00 GMT\r\nConnection: keep-alive\r\n"
            "ETag: \"692d3c58-%x\"\r\nAccept-Ranges: bytes\r\n\r\n" % (t, n, n))
    return head.encode() + b"x" * n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("-n", "--messages", type=int, default=20000,
                    help="requests and responses each (default 20000)")
    ap.add_argument("--seed", type=int, default=20240514)
    ap.add_argument("--max-body", type=int, default=65536,
                    help="largest body in bytes (0: heads only, for a head-parsing benchmark)")
    ap.add_argument("--shape", choices=["mixed", "wrk-nginx"], default="mixed",
                    help="message shapes (default mixed; wrk-nginx: bench/cpu.sh's traffic)")
    args = ap.parse_args()
    global MAX_BODY
    MAX_BODY = args.max_body
    rng = random.Random(args.seed)
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")
    nbytes = 0
    req, resp = (wrk_request, nginx_response) if args.shape == "wrk-nginx" else (request, response)
    for _ in range(args.messages):
        for tag, msg in (("REQ", req(rng)), ("RESP", resp(rng))):
            out.write(f"{tag} {len(msg)}\n".encode())
            out.write(msg)
            nbytes += len(msg)
    if out is not sys.stdout.buffer:
        out.close()
    print(f"gen_parser_corpus: {args.messages} requests + {args.messages} responses, "
          f"{nbytes} bytes, seed {args.seed}", file=sys.stderr)


if __name__ == "__main__":
    main()
