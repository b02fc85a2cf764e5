#!/usr/bin/env python3
"""A fault-injecting reverse proxy in front of a plain-HTTP registry (python3 stdlib only).

  fault-proxy.py --upstream http://127.0.0.1:PORT --port-file F [--log L]
                 [--mode MODE[,MODE...]] [--every N] [--spare-retries] [--match REGEX]
                 [--min-size BYTES] [--idle-timeout S] [--delay MS]
                 [--delay-match REGEX]

Forwards every request to --upstream (HTTP/1.1, keep-alive and chunked
request bodies accepted from clients) and passes the reply back with its
headers; a Location that names the upstream is rewritten to name the proxy.
Faults apply only to requests whose path matches --match (default: all):

  503         every Nth request (--every, default 3) gets 503, Retry-After: 0
  429         likewise with 429, Retry-After: 1 (with both, they alternate);
              with --spare-retries, a request that repeats one just faulted
              (the same method and path) passes and is not counted: with
              several workers in step, a retry can otherwise land on every
              Nth request again and again until the client gives up
  cut         the first GET of each blob (--min-size, default 64 KiB and more)
              sends the headers with the full Content-Length and half the
              body, then drops the connection; later GETs, Range ones
              included, pass through (distribution answers Range with 206)
  flip        every blob GET has the byte at offset size/2 of the blob XORed
              with 0xff (also inside a 206 range that covers it): a permanent
              corruption, the same on every try
  cut-upload  the first PATCH or PUT with a body to each upload URL
              (/v2/NAME/blobs/uploads/UUID) reads half of the body, then drops
              the connection; nothing reaches the upstream, so the upload is
              as it was before the request
  no-range    the Range header of blob GETs is dropped before the upstream
              sees it: a registry that ignores Range (answers 200, whole body)
  foreign-location
              a second listener (another port: another origin) proxies the
              same way, and every upload Location (/v2/NAME/blobs/uploads/…)
              names it instead of the proxy: what a registry that sends its
              uploads to another host looks like
  none        no faults (the default)

--delay MS holds every request that long before it is served (all of them,
--match or not): a registry MS milliseconds away, one round trip per request.
--delay-match REGEX holds only the requests whose path matches it: one slow
repository makes a long transfer of a few requests (a test that needs a
push to last seconds no longer pays for a hundred delayed requests).

Binds 127.0.0.1 on an ephemeral port, written (atomically) to --port-file
(with foreign-location, the second listener's port follows on the same line).
--log gets one JSON object per request: n, listener ("main" or "foreign"),
method, path, range, chunked (the request body was chunked), authorization
(the scheme of the request's Authorization header, e.g. "Basic", or null;
never the credentials), status (a number, or "dropped"), fault,
bytes (body bytes sent to the client). Exits after --idle-timeout
seconds without a request (default 120), when its parent goes away, and on
SIGTERM/SIGINT.
"""

import argparse
import http.client
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from serverlib import Activity, JsonLog, serve

ARGS = None
LOCK = threading.Lock()
log = JsonLog(LOCK)  # the --log file
STATE = {"n": 0, "faults": 0, "cut": set(), "cut_upload": set(), "faulted": set()}
FOREIGN = {"port": None}  # the second listener of foreign-location
ACTIVITY = Activity()
HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
       "trailer", "trailers", "transfer-encoding", "upgrade", "expect", "proxy-connection"}
BLOB_GET = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")
UPLOAD = re.compile(r"^(/v2/.+/blobs/uploads/[^/?]+)")
CHUNK = 64 * 1024


def touch():
    ACTIVITY.touch()


class Dropped(Exception):
    """The client connection was dropped on purpose."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault-proxy/1"
    upstream = None  # one upstream connection per client connection

    def log_message(self, fmt, *args):  # quiet: the test's stderr is checked
        pass

    # --- client side ---------------------------------------------------
    def read_body(self, limit=None):
        """The request body (chunked or Content-Length); with limit, at most that many bytes."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise Dropped()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(1024)
                touch()
                if limit is not None and len(out) >= limit:
                    return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        if limit is not None:
            n = min(n, limit)
        out = bytearray()
        while len(out) < n:
            part = self.rfile.read(min(CHUNK, n - len(out)))
            if not part:
                raise Dropped()
            out += part
            touch()
        return bytes(out)

    def drop(self):
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise Dropped()

    def send_plain(self, code, body, headers):
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # --- upstream side -------------------------------------------------
    def forward(self, body):
        """Sends the request upstream, every header line kept (Accept comes in several)."""
        up = urlsplit(ARGS.upstream)
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP and k.lower() not in ("host", "content-length")]
        headers.append(("Host", up.netloc))
        headers.append(("X-Forwarded-For", self.client_address[0]))
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        for attempt in (1, 2):
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=60)
            try:
                self.upstream.putrequest(self.command, self.path, skip_host=True,
                                         skip_accept_encoding=True)
                for k, v in headers:
                    self.upstream.putheader(k, v)
                self.upstream.endheaders(body or None)
                return self.upstream.getresponse()
            except (ConnectionError, http.client.HTTPException, OSError):
                # a kept-alive upstream connection may have gone away
                self.upstream.close()
                self.upstream = None
                if attempt == 2:
                    raise
        return None

    def rewrite(self, name, value):
        if name.lower() == "location":
            up = urlsplit(ARGS.upstream)
            mine = "%s:%d" % self.server.server_address[:2]
            if FOREIGN["port"] is not None and UPLOAD.match(urlsplit(value).path):
                # uploads go to the other origin, whichever listener asked
                mine = "127.0.0.1:%d" % FOREIGN["port"]
                if value.startswith("/"):
                    return "http://" + mine + value
            for host in {up.netloc, "127.0.0.1:%d" % (up.port or 80),
                         "localhost:%d" % (up.port or 80)}:
                value = value.replace("//" + host + "/", "//" + mine + "/")
                if value.endswith("//" + host):
                    value = value[: -len(host)] + mine
        return value

    # --- the request -------------------------------------------------------
    def handle_any(self):
        touch()
        path = urlsplit(self.path).path
        with LOCK:
            STATE["n"] += 1
            n = STATE["n"]
        auth = self.headers.get("Authorization")
        entry = {"n": n, "method": self.command, "path": self.path,
                 "listener": "foreign" if getattr(self.server, "foreign", False) else "main",
                 "authorization": auth.split(" ", 1)[0] if auth else None,
                 "range": self.headers.get("Range"), "fault": None, "bytes": 0,
                 "chunked": self.headers.get("Transfer-Encoding", "").lower() == "chunked"}
        try:
            self.serve(path, entry)
        except Dropped:
            entry["status"] = entry.get("status", "dropped")
        except (ConnectionError, TimeoutError, OSError) as e:
            entry["status"] = entry.get("status", "error")
            entry["error"] = str(e)
            self.close_connection = True
        log(entry)

    def serve(self, path, entry):
        matched = ARGS.match.search(path) is not None
        modes = ARGS.modes if matched else set()
        if ARGS.delay > 0 and (ARGS.delay_match is None or ARGS.delay_match.search(path)):
            time.sleep(ARGS.delay / 1000.0)
        if "no-range" in modes and self.command == "GET" and BLOB_GET.match(path):
            if self.headers.get("Range") is not None:
                entry["fault"] = "no-range"
            del self.headers["Range"]

        # cut-upload: half the body, then hang up, the upstream sees nothing
        up = UPLOAD.match(path)
        if ("cut-upload" in modes and up and self.command in ("PATCH", "PUT")
                and (self.headers.get("Transfer-Encoding", "").lower() == "chunked"
                     or int(self.headers.get("Content-Length") or 0) > 0)):
            with LOCK:
                first = up.group(1) not in STATE["cut_upload"]
                STATE["cut_upload"].add(up.group(1))
            if first:
                total = int(self.headers.get("Content-Length") or 0)
                got = self.read_body(limit=max(1, total // 2) if total else 1)
                entry["fault"] = "cut-upload"
                entry["status"] = "dropped"
                entry["received"] = len(got)
                self.drop()

        body = self.read_body()  # always: keep-alive needs the body consumed

        # 503 / 429 every Nth matching request
        codes = [c for c in ("503", "429") if c in modes]
        if codes:
            key = (self.command, path)
            with LOCK:
                if ARGS.spare_retries and key in STATE["faulted"]:
                    STATE["faulted"].discard(key)
                    k = 0
                else:
                    STATE["faults"] += 1
                    k = STATE["faults"]
                    if k % ARGS.every == 0:
                        STATE["faulted"].add(key)
            if k and k % ARGS.every == 0:
                code = codes[(k // ARGS.every - 1) % len(codes)]
                entry["fault"] = code
                entry["status"] = int(code)
                msg = b'{"errors":[{"code":"%s","message":"fault-proxy says %s"}]}' % (
                    b"TOOMANYREQUESTS" if code == "429" else b"UNAVAILABLE", code.encode())
                entry["bytes"] = len(msg) if self.command != "HEAD" else 0
                return self.send_plain(int(code), msg, {
                    "Content-Type": "application/json",
                    "Retry-After": "1" if code == "429" else "0"})

        resp = self.forward(body)
        entry["status"] = resp.status
        blob = BLOB_GET.match(path) if self.command == "GET" else None
        length = resp.getheader("Content-Length")

        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() in HOP or k.lower() == "content-length":
                continue
            self.send_header(k, self.rewrite(k, v))

        if self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200:
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            resp.read()
            return None

        if not (blob and resp.status in (200, 206) and length is not None):
            data = resp.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            entry["bytes"] = len(data)
            return None

        # a blob body, streamed
        length = int(length)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        start, total = 0, length
        if resp.status == 206:
            m = re.match(r"bytes (\d+)-(\d+)/(\d+)", resp.getheader("Content-Range") or "")
            if m:
                start, total = int(m.group(1)), int(m.group(3))
        stop_at = None
        if "cut" in modes and total >= ARGS.min_size:
            with LOCK:
                first = blob.group(1) not in STATE["cut"]
                STATE["cut"].add(blob.group(1))
            if first:
                stop_at = length // 2
                entry["fault"] = "cut"
        flip_at = None
        if "flip" in modes and start <= total // 2 < start + length:
            flip_at = total // 2 - start
            entry["fault"] = "flip" if entry["fault"] is None else entry["fault"] + ",flip"
        sent = 0
        while sent < length:
            want = min(CHUNK, length - sent)
            if stop_at is not None:
                want = min(want, stop_at - sent)
            part = resp.read(want) if want > 0 else b""
            if not part:
                break
            if flip_at is not None and sent <= flip_at < sent + len(part):
                b = bytearray(part)
                b[flip_at - sent] ^= 0xFF
                part = bytes(b)
            self.wfile.write(part)
            sent += len(part)
            entry["bytes"] = sent
            touch()
        if sent < length:
            # cut (or a short upstream): hang up with the body unfinished
            if self.upstream is not None:
                self.upstream.close()
                self.upstream = None
            self.drop()
        return None

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any

    def finish(self):
        try:
            super().finish()
        finally:
            if self.upstream is not None:
                self.upstream.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # the default backlog of 5 drops the SYNs of a client that opens more
    # connections at once, and each dropped one costs a 1 s retransmit
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # a client that hangs up (timeouts, aborted transfers) is expected
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, Dropped)):
            return
        super().handle_error(request, client_address)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--mode", default="none")
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--spare-retries", action="store_true",
                    help="503/429: a request repeating one just faulted passes, uncounted")
    ap.add_argument("--match", default="", help="regex: faults only for matching paths")
    ap.add_argument("--min-size", type=int, default=64 * 1024, help="smallest blob cut mode cuts")
    ap.add_argument("--idle-timeout", type=float, default=120.0)
    ap.add_argument("--delay", type=float, default=0.0, help="milliseconds before each request")
    ap.add_argument("--delay-match", help="regex: --delay only for matching paths (default: all)")
    ARGS = ap.parse_args()
    log.path = ARGS.log
    ARGS.modes = {m.strip() for m in ARGS.mode.split(",") if m.strip()} - {"none"}
    bad = ARGS.modes - {"503", "429", "cut", "flip", "cut-upload", "foreign-location", "no-range"}
    if bad:
        ap.error("unknown mode: " + ",".join(sorted(bad)))
    if ARGS.every < 1:
        ap.error("--every must be at least 1")
    if not ARGS.upstream.startswith("http://"):
        ap.error("--upstream must be http://HOST:PORT")
    ARGS.match = re.compile(ARGS.match)
    if ARGS.delay_match is not None:
        ARGS.delay_match = re.compile(ARGS.delay_match)

    srv = Server(("127.0.0.1", 0), Handler)
    ports = [srv.server_address[1]]
    if "foreign-location" in ARGS.modes:
        other = Server(("127.0.0.1", 0), Handler)
        other.foreign = True
        FOREIGN["port"] = other.server_address[1]
        ports.append(FOREIGN["port"])
        threading.Thread(target=other.serve_forever, args=(0.2,), daemon=True).start()
    serve(srv, ARGS.port_file, ACTIVITY, ARGS.idle_timeout, ports)


if __name__ == "__main__":
    sys.exit(main())
