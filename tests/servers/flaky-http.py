#!/usr/bin/env python3
"""A misbehaving HTTP/1.1 server for the HTTP client's tests (python3 stdlib only).

Binds 127.0.0.1 on port 0 and writes the port to --port-file (atomically);
with --tls-cert and --tls-key it also serves HTTPS on a second port, written
after the first on the same line.
Exits on SIGTERM, when its parent goes away, or after --idle seconds without
a request (default 60).

Every response carries X-Attempt: how many requests the same ?key= has seen,
so a test can count retries, and X-Seen-Range: the Range header it got.

  /hello                         200 "hello world\\n"
  /blob?size=N                   N bytes of a fixed pattern; honours Range
  /status?code=C[&retry_after=V] always status C (error JSON body)
  /flaky?fail=N&code=C[&retry_after=V|&retry_date=S]
                                 C for the first N requests of the key, then
                                 200 with the request body echoed ("ok\\n" if none)
  /cut?size=N&cut=M&range=honour|ignore|refuse
                                 first request of the key: 200 with
                                 Content-Length N, M bytes, then the connection
                                 is dropped; later: Range honoured (206), ignored
                                 (200, whole body) or refused (416)
  /echo                          200 with the request body; X-Method,
                                 X-Content-Length, X-Transfer-Encoding, X-Content-Type
  /headers                       200, the request headers, one per line
  /redirect?to=URL[&code=C][&ms=N]
                                 C (default 302) to URL, after N ms
  /loop                          302 to itself
  /sleep?ms=N                    waits, then 200

A path with a segment "slow-headers" or "slow-body" anywhere (so that a tool
pointed at http://127.0.0.1:PORT/slow-body, or at a registry repository
named slow-body/x, meets it), whatever the method, dribbles its answer: one
byte every 0.2 s (5 bytes/s, more than curl's 1 byte/s low-speed floor), for
at most --dribble-for seconds (default 120), then the connection is dropped:
  slow-headers                   the status line and headers, byte by byte
  slow-body                      200 with Content-Length 1000000 at once,
                                 then the body byte by byte (a HEAD gets
                                 its headers dribbled instead)
"""

import argparse
import re
import socket
import ssl
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from serverlib import Activity, serve

COUNTS = {}
LOCK = threading.Lock()
ACTIVITY = Activity()
PATTERNS = {}
DRIBBLE = {"for": 120.0, "interval": 0.2}
SLOW = re.compile(r"(?:^|/)(slow-headers|slow-body)(?:/|$)")


def pattern(n):
    with LOCK:
        data = PATTERNS.get(n)
    if data is None:
        data = bytes(((i * 131) + (i >> 8)) & 0xFF for i in range(n))
        with LOCK:
            PATTERNS[n] = data
    return data


def bump(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "flaky-http/1"

    def log_message(self, fmt, *args):  # quiet: the test's stderr is checked
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def reply(self, code, body=b"", headers=None, head_only=False):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("X-Attempt", str(self.attempt))
        self.send_header("X-Seen-Range", self.headers.get("Range", "none"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only and self.command != "HEAD":
            self.wfile.write(body)

    def ranged(self, data, mode):
        rng = self.headers.get("Range")
        if rng is None or mode == "ignore":
            return self.reply(200, data)
        if mode == "refuse":
            return self.reply(416, b"", {"Content-Range": "bytes */%d" % len(data)})
        first, last = rng.split("=", 1)[1].split("-", 1)
        start = int(first)
        end = min(int(last), len(data) - 1) if last.strip() else len(data) - 1
        if start >= len(data) or end < start:
            return self.reply(416, b"", {"Content-Range": "bytes */%d" % len(data)})
        part = data[start:end + 1]
        return self.reply(206, part, {
            "Content-Range": "bytes %d-%d/%d" % (start, end, len(data))})

    def dribble(self, data, start):
        """Sends data one byte per interval until done or --dribble-for ends."""
        for i in range(len(data)):
            if time.monotonic() - start > DRIBBLE["for"]:
                break
            ACTIVITY.touch()
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(DRIBBLE["interval"])
        self.close_connection = True

    def slow(self, kind):
        start = time.monotonic()
        if kind == "slow-headers" or self.command == "HEAD":
            head = ("HTTP/1.1 200 OK\r\nX-Attempt: %d\r\n" % self.attempt).encode()
            head += b"".join(b"X-Pad-%d: %s\r\n" % (i, b"x" * 64) for i in range(64))
            return self.dribble(head + b"Content-Length: 0\r\n\r\n", start)
        self.send_response(200)
        self.send_header("X-Attempt", str(self.attempt))
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.wfile.flush()
        return self.dribble(pattern(1000000), start)

    def handle_any(self):
        ACTIVITY.touch()
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = self.read_body()  # always: keep-alive needs the body consumed
        self.attempt = bump(q.get("key", url.path))
        path = url.path

        slow = SLOW.search(path)
        if slow:
            return self.slow(slow.group(1))

        if path == "/hello":
            return self.reply(200, b"hello world\n", {"Content-Type": "text/plain"})
        if path == "/blob":
            return self.ranged(pattern(int(q.get("size", "0"))), "honour")
        if path == "/status":
            hdrs = {"Content-Type": "application/json"}
            if "retry_after" in q:
                hdrs["Retry-After"] = q["retry_after"]
            return self.reply(int(q["code"]), b'{"errors":[{"code":"UNAVAILABLE","message":"nope"}]}', hdrs)
        if path == "/flaky":
            if self.attempt <= int(q.get("fail", "1")):
                hdrs = {}
                if "retry_after" in q:
                    hdrs["Retry-After"] = q["retry_after"]
                if "retry_date" in q:
                    hdrs["Retry-After"] = formatdate(time.time() + int(q["retry_date"]), usegmt=True)
                return self.reply(int(q.get("code", "503")), b"try later\n", hdrs)
            return self.reply(200, body or b"ok\n")
        if path == "/cut":
            data = pattern(int(q["size"]))
            if self.attempt == 1:
                cut = int(q["cut"])
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:cut])
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return None
            return self.ranged(data, q.get("range", "honour"))
        if path == "/echo":
            return self.reply(200, body, {
                "X-Method": self.command,
                "X-Content-Length": self.headers.get("Content-Length", "none"),
                "X-Transfer-Encoding": self.headers.get("Transfer-Encoding", "none"),
                "X-Content-Type": self.headers.get("Content-Type", "none"),
            })
        if path == "/headers":
            lines = "".join("%s: %s\n" % (k, v) for k, v in self.headers.items())
            return self.reply(200, lines.encode(), {"X-Method": self.command})
        if path == "/redirect":
            time.sleep(int(q.get("ms", "0")) / 1000.0)
            return self.reply(int(q.get("code", "302")), b"moved\n", {"Location": q["to"]})
        if path == "/loop":
            return self.reply(302, b"", {"Location": "/loop"})
        if path == "/sleep":
            time.sleep(int(q.get("ms", "1000")) / 1000.0)
            return self.reply(200, b"slept\n")
        return self.reply(404, b'{"errors":[{"code":"NOT_FOUND"}]}', {"Content-Type": "application/json"})

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client that hangs up (timeouts, aborted transfers) is expected
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--dribble-for", type=float, default=120.0)
    args = ap.parse_args()
    DRIBBLE["for"] = args.dribble_for

    srv = Server(("127.0.0.1", 0), Handler)
    ports = [srv.server_address[1]]
    if args.tls_cert:
        tls = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        ports.append(tls.server_address[1])
        threading.Thread(target=tls.serve_forever, args=(0.2,), daemon=True).start()
    serve(srv, args.port_file, ACTIVITY, args.idle, ports)


if __name__ == "__main__":
    sys.exit(main())
