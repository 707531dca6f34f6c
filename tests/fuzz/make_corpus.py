#!/usr/bin/env python3
"""make_corpus.py - (re)generate the seed corpora in tests/fuzz/corpus/NAME/.

Run from the repository root: python3 tests/fuzz/make_corpus.py.  Each seed
is small and meant to reach one feature of its target; the input layouts
are described at the top of tests/fuzz/fuzz_NAME.c.
"""
import ctypes
import ctypes.util
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(name, seed, data):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, seed), "wb") as f:
        f.write(data)


# ---- httpp: split byte, options byte, limits byte, then the stream
REQUESTS = {
    "get": b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "get10": b"GET /x HTTP/1.0\r\n\r\n",
    "post_cl": b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "post_chunked": b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nHEAD /3 HTTP/1.1\r\n\r\n",
    "connect": b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01",
    "upgrade": b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    "expect": b"PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    "cl_te": b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "cl_conflict": b"POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
    "obs_fold": b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
    "bare_cr": b"GET / HTTP/1.1\rHost: a\r\n\r\n",
    "garbage_then_get": b"\x00\xffxyz\r\nGET / HTTP/1.1\r\n\r\n",
    "many_headers": b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(140)) + b"\r\n",
}
RESPONSES = {
    "ok_cl": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    "close": b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    "interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: x\r\n\r\n"
               b"HTTP/1.1 204 No Content\r\n\r\n",
    "head_answer": b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
    "switch": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
    "not_modified": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    "bad_version": b"HTTP/2.0 200 OK\r\n\r\n",
    "big_chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
}


def httpp_seeds():
    for i, (k, v) in enumerate(REQUESTS.items()):
        write("httpp", "req_" + k, bytes([(i * 37) % 256, (i % 2) << 2, 8]) + v)
    for i, (k, v) in enumerate(RESPONSES.items()):
        peer = 1 if k == "head_answer" else 0
        write("httpp", "resp_" + k, bytes([(i * 53) % 256, peer, 16]) + v)
    write("httpp", "hole_in_body", bytes([200, 0x30, 8]) + RESPONSES["ok_cl"] + b"0123456789")
    write("httpp", "tunnel_hold", bytes([128, 8, 8]) + REQUESTS["connect"])


# ---- conn: header byte, then (op, fate) pairs; see fuzz_conn.c
def op(side, size, rq=0, rs=0):
    return side | (size << 1) | (rq << 4) | (rs << 6)


def conn_seeds():
    ALL = 7
    seq = [op(0, ALL), 0, op(1, ALL), 0] * 4
    write("conn", "seq_server", bytes([0x08] + seq))
    write("conn", "seq_client", bytes([0x09] + seq))
    write("conn", "seq_unknown", bytes([0x0a] + seq))
    kinds = []
    for rq in range(4):
        for rs in range(4):
            kinds += [op(0, ALL, rq, rs), 0, op(1, ALL), 0]
    write("conn", "seq_all_kinds", bytes([0x08] + kinds))
    pipe = [op(0, ALL, 1), 0] * 4 + [op(1, 3), 0] * 20
    write("conn", "pipelined", bytes([0x0c | (3 << 5)] + pipe))
    write("conn", "pipelined_small_reads", bytes([0x0c | (3 << 5)] + [op(0, 1, 2), 0, op(1, 2), 0] * 30))
    lost_resp = [op(0, ALL), 0, op(1, ALL), 8, op(0, ALL), 0, op(1, ALL), 0, op(0, ALL), 0, op(1, ALL), 0]
    write("conn", "lost_response", bytes([0x08] + lost_resp))
    write("conn", "lost_response_reported_later", bytes([0x08] + [b if b != 8 else 9 for b in lost_resp]))
    write("conn", "lost_request", bytes([0x08, op(0, ALL), 8, op(1, ALL), 0] + seq))
    write("conn", "truncated_body", bytes([0x08, op(0, ALL, 1), 0, op(1, ALL), 10] + seq))
    write("conn", "length_only", bytes([0x09, op(0, ALL), 0, op(1, ALL), 11] + seq))
    write("conn", "late_request", bytes([0x08, op(0, ALL), 13, op(1, ALL), 0] + seq))
    write("conn", "late_response", bytes([0x08, op(0, ALL), 0, op(1, 3), 12, op(1, ALL), 0] + seq))
    write("conn", "reorder_timeout", bytes([0x08, op(0, 3), 14, op(0, ALL), 15, op(1, ALL), 0] + seq))
    write("conn", "max_pending", bytes([0x1c | (5 << 5)] + [op(0, ALL, 3), 0] * 6 + [op(1, ALL), 0] * 6))
    write("conn", "open_at_close", bytes([0x00, op(0, ALL, 1), 0, op(0, 2, 1), 0]))
    write("conn", "pipelined_client", bytes([0x0d | (2 << 5)] + [op(0, ALL, 2, 1), 0] * 3 + [op(1, 4), 0] * 12))
    write("conn", "pipelined_unknown", bytes([0x0f | (2 << 5)] + [op(0, ALL, 0, 3), 0] * 3 + [op(1, 5), 0] * 8))
    write("conn", "head_requests", bytes([0x08] + [op(0, ALL, 3, rs) if k == 0 else x
                                                   for rs in range(4) for k, x in enumerate(
                                                       [0, 0, op(1, ALL), 0])]))
    write("conn", "small_syscalls", bytes([0x08] + [op(0, 2, 2, 1), 0, op(1, 2), 0] * 40))
    write("conn", "interim_split", bytes([0x08] + [op(0, ALL, 1, 3), 0, op(1, 3), 0, op(1, 4), 0,
                                                   op(1, ALL), 0] * 3))
    write("conn", "lost_inside_body", bytes([0x08, op(0, ALL, 1), 0, op(1, 5), 0, op(1, 1), 8,
                                             op(1, ALL), 0] + seq))
    write("conn", "lost_two_responses", bytes([0x08] + [op(0, ALL), 0, op(1, ALL), 8] * 2 + seq))
    write("conn", "pipelined_lost_middle", bytes([0x0c | (3 << 5)] + [op(0, ALL), 0] * 3 +
                                                 [op(1, 5), 0, op(1, 5), 8] + [op(1, ALL), 0] * 3))
    write("conn", "late_then_timeout", bytes([0x08, op(0, 3), 12, op(0, 3), 0, op(0, ALL), 15,
                                              op(1, ALL), 0] + seq))
    write("conn", "cut_request_head", bytes([0x08, op(0, 3), 10, op(0, ALL), 0, op(1, ALL), 0] + seq))


# ---- config: YAML files
CONFIGS = {
    "empty.yaml": b"",
    "comment.yaml": b"# nothing\n",
    "output.yaml": b"output:\n  path: /tmp/x.ndjson\n  format: csv\n  rotation:\n    enabled: true\n"
                   b"    maxSize: 10MiB\n    maxFiles: 3\n",
    "filters.yaml": b"filtering:\n  kernel:\n    excludePorts: [22, 9090]\n    healthCheckPaths: [/healthz]\n"
                    b"    pids: [1, 2]\n  excludePaths: ['^/metrics$']\n  excludeIPs: [10.0.0.0/8, '::1/128']\n",
    "sampling.yaml": b"filtering:\n  sampling:\n    enabled: true\n    rate: 0.25\n",
    "perf.yaml": b"performance:\n  ringBufferSize: 8MB\n  workerThreads: 4\n  batchSize: 10\n",
    "metrics.yaml": b"metrics:\n  listen: 127.0.0.1:9100\n",
    "flow.yaml": b"{output: {path: '-', format: json}, metrics: {listen: ':9090'}}\n",
    "anchors.yaml": b"a: &p [80, 443]\nfiltering:\n  kernel:\n    excludePorts: *p\n",
    "unknown_key.yaml": b"output:\n  paht: x\n",
    "wrong_type.yaml": b"performance:\n  workerThreads: many\n",
    "tab.yaml": b"output:\n\tpath: x\n",
    "two_docs.yaml": b"output: {}\n---\nmetrics: {}\n",
    "crlf.yaml": b"output:\r\n  format: ndjson\r\n",
    "bad_utf8.yaml": b"output:\n  path: \xff\xfe\n",
    "deep.yaml": b"[" * 40 + b"]" * 40 + b"\n",
    "null_values.yaml": b"output:\n  path: ~\nmetrics: null\n",
    "quoted_number.yaml": b"performance:\n  workerThreads: '4'\n",
    "negative.yaml": b"performance:\n  batchSize: -1\n",
    "huge_size.yaml": b"performance:\n  ringBufferSize: 99999999TB\n",
    "bad_cidr.yaml": b"filtering:\n  excludeIPs: [10.0.0.0/33]\n",
    "bad_regex.yaml": b"filtering:\n  excludePaths: ['(']\n",
    "duplicate_key.yaml": b"output:\n  format: csv\n  format: json\n",
    "alias_loop.yaml": b"a: &x [*x]\n",
    "redaction.yaml": b"filtering:\n  redaction:\n    headers: [Authorization, X-Api-Key]\n"
                      b"    bodyPatterns: [password, 'card_number']\n  maxBodySize: 1KiB\n",
    "kubernetes.yaml": b"kubernetes:\n  enabled: true\n  apiServer: \"https://10.96.0.1:443\"\n"
                       b"  tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n"
                       b"  caFile: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n  nodeName: worker-1\n",
}


def config_seeds():
    for k, v in CONFIGS.items():
        write("config", k, v)
    with open(os.path.join(os.path.dirname(ROOT), "..", "data", "design.yaml"), "rb") as f:
        write("config", "design.yaml", f.read())


# ---- rfile: record files
def hdr(typ, flags=0, d=0, role=0, ts=1000):
    return struct.pack("<BBBBIQIiQ", typ, flags, d, role, 0, ts, 42, 7, 1)


def data_ev(d, pos, payload, length=None, flags=0, peer=0):
    length = len(payload) if length is None else length
    return (hdr(1, flags, d) + struct.pack("<QQQIIII16s", pos, 0, peer, length, len(payload),
                                           length, 43, b"curl") + payload)


def open_ev():
    return hdr(2, 0, 0, 1) + bytes([127, 0, 0, 1] + [0] * 12) * 2 + struct.pack("<HHHHII16s", 5000, 80, 2, 0, 43, 0, b"curl")


def close_ev(a, b):
    return hdr(3) + struct.pack("<QQ", a, b)


def loss_ev(d, start, n):
    return hdr(4, 0, d) + struct.pack("<QQ", start, n)


def entries(recs):
    out = b""
    for r in recs:
        out += struct.pack("<II", len(r), 0) + r + b"\0" * (-len(r) % 8)
    return out


# Version 3 blocks need LZ4 and XXH3: the system's liblz4 and libxxhash
# (the libraries the tracer links), through ctypes.
def _lib(name):
    return ctypes.CDLL(ctypes.util.find_library(name))


LZ4 = _lib("lz4")
XXH = _lib("xxhash")
XXH.XXH3_64bits.restype = ctypes.c_uint64
XXH.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def lz4_block(raw):
    cap = len(raw) + len(raw) // 255 + 16
    out = ctypes.create_string_buffer(cap)
    n = LZ4.LZ4_compress_default(raw, out, len(raw), cap)
    assert n > 0
    return out.raw[:n]


def block(raw, count, version=3):
    if version == 2:
        comp = zlib.compressobj(1, zlib.DEFLATED, -15)
        c = comp.compress(raw) + comp.flush()
        return struct.pack("<IIIII", 0x4b425448, len(c), len(raw), count, zlib.crc32(raw)) + c
    c = lz4_block(raw)
    return struct.pack("<IIIIQ", 0x4b425448, len(c), len(raw), count, XXH.XXH3_64bits(c, len(c))) + c


def rfile(blocks, version=3):
    out = b"HTTRACE\0" + struct.pack("<IIIIQ", version, 32, 0, 0, 1)
    for recs in blocks:
        out += block(entries(recs), len(recs), 2 if version == 2 else 3)
    return out


def rfile_seeds():
    req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    conv = [open_ev(), data_ev(0, 0, req), data_ev(1, 0, resp, peer=len(req)),
            loss_ev(1, len(resp), 10), data_ev(1, len(resp) + 10, b"", 100, 0x04), close_ev(len(req), len(resp) + 110)]
    # verbatim files: byte 0 even
    write("rfile", "file_one_block", b"\x00" + rfile([conv]))
    write("rfile", "file_two_blocks", b"\x00" + rfile([conv[:3], conv[3:]]))
    write("rfile", "file_empty", b"\x00" + rfile([]))
    write("rfile", "file_v1", b"\x00" + rfile([conv], version=1))
    write("rfile", "file_truncated", b"\x00" + rfile([conv])[:-7])
    write("rfile", "file_bad_magic", b"\x00" + b"HTTRACX\0" + rfile([conv])[8:])
    write("rfile", "file_prefetch", b"\x08" + rfile([conv[:2], conv[2:4], conv[4:]]))
    # version 2 (zlib) files, still read
    write("rfile", "file_v2_one_block", b"\x00" + rfile([conv], version=2))
    write("rfile", "file_v2_two_blocks", b"\x08" + rfile([conv[:3], conv[3:]], version=2))
    write("rfile", "file_v2_truncated", b"\x00" + rfile([conv], version=2)[:-7])
    # wrapped: byte 0 odd, byte 1 block size / 8, then raw entries
    raw = entries(conv)
    write("rfile", "wrap_one", b"\x01\x00" + raw)
    write("rfile", "wrap_blocks", b"\x01\x02" + raw)
    write("rfile", "wrap_block_each", b"\x01\x01" + raw)
    write("rfile", "wrap_perturb_len", b"\x03\x02" + raw)
    write("rfile", "wrap_perturb_count", b"\x03\x22" + raw)
    write("rfile", "wrap_perturb_crc", b"\x03\x13" + raw)
    write("rfile", "wrap_cut_tail", b"\x05\x00" + raw)
    write("rfile", "wrap_v2_blocks", b"\x11\x02" + raw)
    write("rfile", "wrap_v2_perturb_crc", b"\x13\x13" + raw)
    write("rfile", "wrap_v2_cut_tail", b"\x15\x00" + raw)
    write("rfile", "wrap_bad_len", b"\x01\x00" + struct.pack("<II", 200, 0) + conv[1])
    write("rfile", "wrap_reserved", b"\x01\x00" + struct.pack("<II", 48, 1) + conv[-1])
    write("rfile", "wrap_unknown_type", b"\x01\x00" + entries([b"\x09" + conv[-1][1:]]))
    write("rfile", "wrap_cap_gt_len", b"\x01\x00" + entries([data_ev(0, 0, b"abcd", 2)]))


# ---- format: options byte, then (length byte, bytes) chunks; see fuzz_format.c
def chunks(*parts):
    out = b""
    for p in parts:
        out += bytes([len(p)]) + p
    return out


def format_seeds():
    nginx = [b"Server", b"nginx/1.22.1", b"Date", b"Tue, 01 Dec 2026 12:23:19 GMT",
             b"ETag", b'"6b0ebc36-400"', b"Content-Length", b"1024"]
    write("format", "nginx", b"\x00" + chunks(b"GET", b"/bench.html", b"127.0.0.1", b"OK",
                                             b"", b"a" * 200, *nginx))
    write("format", "json_body_redact", b"\x03" + chunks(
        b"POST", b"/login?user=bob&password=hunter2", b"h", b"OK",
        b'{"user":"bob","password":"p\\"w","n":[1,2]}', b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
        b"Authorization", b"Bearer x", b"Set-Cookie", b"a=1", b"Referer", b"http://u:p@h/?token=1"))
    write("format", "hostile_bytes", b"\x04" + chunks(
        bytes(range(0, 64)), bytes(range(64, 128)), bytes(range(128, 192)), bytes(range(192, 256)),
        b"\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf" * 8, b'"\\\n\r\t\x7f' * 30,
        b"X-A", b"\x00\x1f\"", b"x-a", b"dup"))
    write("format", "repeated_headers", b"\x06" + chunks(
        b"GET", b"/", b"", b"", b"", b"",
        *[b"Accept" if i % 2 == 0 else b"v%d" % i for i in range(40)]))


if __name__ == "__main__":
    httpp_seeds()
    conn_seeds()
    config_seeds()
    rfile_seeds()
    format_seeds()
