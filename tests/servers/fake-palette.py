#!/usr/bin/env python3
"""fake-palette.py: a minimal fake of Palette's cluster-definition export API
for the edge-fetchdef tests (python3 stdlib only).

Serves exactly one endpoint, POST /v1/spectroclusters/spc/download, and checks
that the request is what SPEC §8 says edge-fetchdef sends:

  headers  ProjectUid: P, ApiKey: KEY, Content-Type: application/json
  body     {"metadata":{"name":NAME},
            "spec":{"cloudType":"edge-native","profiles":[{"uid":A},{"uid":B}]}}
           (a profile given --pack-values also has "packs":[{"name","values"}])
           (parsed and compared as JSON values; profile order matters)

A wrong or missing ApiKey is 401; anything else wrong is 400 with
{"code":"BadRequest","message":"..."}; the mismatch goes to --log. Only a
request that passes every check gets the --mode behaviour:

  ok           200 application/octet-stream, Content-Disposition, the TGZ bytes
  401, 403     that status with a JSON error
  404          404 {"code":"ResourceNotFound",...}
  500-then-ok  the first valid request gets 500 with Retry-After: 0, later ok
  500          always 500 (with Retry-After: 0)
  garbage      200 with random bytes that are not gzip
  empty        200 with an empty body
  slow         200, headers at once, then the TGZ in small pieces over ~3 s

Binds 127.0.0.1 on an ephemeral port, written (atomically) to --port-file.
--log gets one JSON object per line: every request (ApiKey and Authorization
redacted), every rejection and every response status. Exits by itself after
--idle-timeout seconds (default 120) without a request, and on SIGTERM/SIGINT.
"""

import argparse
import http.server
import json
import os
import random
import signal
import sys
import threading
import time

from serverlib import start_watchdog, write_port_file

PATH = "/v1/spectroclusters/spc/download"
MODES = ("ok", "401", "403", "404", "500-then-ok", "500", "garbage", "empty", "slow")
REDACTED = "<redacted>"
MAX_BODY = 1 << 20


class State:
    def __init__(self, args, tgz):
        self.args = args
        self.tgz = tgz
        self.lock = threading.Lock()
        self.valid_requests = 0
        self.last_activity = time.monotonic()
        self.busy = 0
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None

    def log(self, **event):
        if not self.log_file:
            return
        event = dict(time=round(time.time(), 3), **event)
        with self.lock:
            self.log_file.write(json.dumps(event, sort_keys=True) + "\n")
            self.log_file.flush()

    def touch(self, delta=0):
        with self.lock:
            self.last_activity = time.monotonic()
            self.busy += delta


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-palette/1"
    sys_version = ""

    # Keep-alive connections idle for too long are closed.
    timeout = 30

    def log_message(self, fmt, *args):  # silence the default stderr log
        pass

    # ------------------------------------------------------------ helpers
    @property
    def st(self):
        return self.server.state

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ValueError("truncated chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline(1024)
                if len(data) > MAX_BODY:
                    raise ValueError("body too large")
        cl = self.headers.get_all("Content-Length") or []
        if len(cl) > 1:
            raise ValueError("several Content-Length headers")
        if not cl:
            return b""
        n = int(cl[0])
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length %d" % n)
        data = self.rfile.read(n)
        if len(data) != n:
            raise ValueError("truncated body")
        return data

    def redacted_headers(self):
        out = []
        for k, v in self.headers.items():
            if k.lower() in ("apikey", "authorization"):
                v = REDACTED
            out.append([k, v])
        return out

    def send(self, status, body=b"", ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            body = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.st.log(event="response", status=status, length=len(body))

    def error(self, status, code, message):
        self.send(status, {"code": code, "message": message})

    def reject(self, status, code, reason):
        self.st.log(event="reject", status=status, reason=reason)
        self.error(status, code, reason)

    # ------------------------------------------------------------ checks
    def one_header(self, name):
        vals = self.headers.get_all(name) or []
        if len(vals) > 1:
            return None, "header %s given %d times" % (name, len(vals))
        if not vals:
            return None, "header %s missing" % name
        return vals[0], None

    def check(self, body):
        """Returns (status, code, reason) for a bad request, else None."""
        a = self.st.args
        if self.command != "POST":
            return 400, "BadRequest", "method %s, want POST" % self.command
        if self.path != PATH:
            return 400, "BadRequest", "path %r, want %r" % (self.path, PATH)
        key, why = self.one_header("ApiKey")
        if why:
            return 401, "Unauthorized", why
        if key != a.api_key:
            return 401, "Unauthorized", "ApiKey does not match"
        puid, why = self.one_header("ProjectUid")
        if why:
            return 400, "BadRequest", why
        if puid != a.project_id:
            return 400, "BadRequest", "ProjectUid %r, want %r" % (puid, a.project_id)
        ctype, why = self.one_header("Content-Type")
        if why:
            return 400, "BadRequest", why
        if ctype.strip() != "application/json":
            return 400, "BadRequest", "Content-Type %r, want 'application/json'" % ctype
        try:
            got = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            return 400, "BadRequest", "body is not JSON: %s" % e
        profiles = [{"uid": u} for u in a.profile_ids]
        for uid, pack, text in a.pack_values:
            for p in profiles:
                if p["uid"] == uid:
                    p.setdefault("packs", []).append({"name": pack, "values": text})
        want = {
            "metadata": {"name": a.name},
            "spec": {
                "cloudType": "edge-native",
                "profiles": profiles,
            },
        }
        if got != want:
            return (400, "BadRequest", "body %s, want %s"
                    % (json.dumps(got, sort_keys=True), json.dumps(want, sort_keys=True)))
        return None

    # ------------------------------------------------------------ modes
    def reply_tgz(self, slow=False):
        data = self.st.tgz
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Disposition",
                         "attachment; filename=%s.tgz" % self.st.args.name)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not slow:
            self.wfile.write(data)
        else:
            self.wfile.flush()
            pieces = 30
            step = max(1, -(-len(data) // pieces))
            delay = 3.0 / max(1, -(-len(data) // step))
            for i in range(0, len(data), step):
                time.sleep(delay)
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
                self.st.touch()
        self.st.log(event="response", status=200, length=len(data), slow=slow)

    def handle_any(self):
        self.st.touch(+1)
        try:
            try:
                body = self.read_body()
            except ValueError as e:
                self.st.log(event="request", method=self.command, path=self.path,
                            headers=self.redacted_headers(), body=None)
                self.close_connection = True
                return self.reject(400, "BadRequest", "cannot read body: %s" % e)
            self.st.log(event="request", method=self.command, path=self.path,
                        headers=self.redacted_headers(),
                        body=body.decode("utf-8", "backslashreplace"))
            bad = self.check(body)
            if bad:
                return self.reject(*bad)

            with self.st.lock:
                self.st.valid_requests += 1
                nth = self.st.valid_requests
            mode = self.st.args.mode
            if mode == "ok":
                self.reply_tgz()
            elif mode == "slow":
                self.reply_tgz(slow=True)
            elif mode == "401":
                self.error(401, "Unauthorized", "Invalid API key")
            elif mode == "403":
                self.error(403, "Forbidden",
                           "Operation not allowed for the user in project %s"
                           % self.st.args.project_id)
            elif mode == "404":
                self.error(404, "ResourceNotFound",
                           "Cluster profile '%s' not found" % self.st.args.profile_ids[0])
            elif mode == "500" or (mode == "500-then-ok" and nth == 1):
                self.send(500, {"code": "InternalError",
                                "message": "Internal server error (request %d)" % nth},
                          extra={"Retry-After": "0"})
            elif mode == "500-then-ok":
                self.reply_tgz()
            elif mode == "garbage":
                rnd = random.Random(nth)
                data = b"GARBAGE\n" + bytes(rnd.getrandbits(8) for _ in range(4088))
                self.send(200, data, ctype="application/octet-stream",
                          extra={"Content-Disposition":
                                 "attachment; filename=%s.tgz" % self.st.args.name})
            elif mode == "empty":
                self.send(200, b"", ctype="application/octet-stream",
                          extra={"Content-Disposition":
                                 "attachment; filename=%s.tgz" % self.st.args.name})
        except (BrokenPipeError, ConnectionResetError) as e:
            self.st.log(event="disconnect", reason=str(e))
            self.close_connection = True
        finally:
            self.st.touch(-1)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description="fake Palette spc/download API")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--definition", required=True, help="TGZ served on success")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--project-id", required=True)
    ap.add_argument("--profile-ids", required=True, help="A,B,... in request order")
    ap.add_argument("--name", required=True)
    ap.add_argument("--pack-values", action="append", default=[],
                    metavar="UID:PACK=FILE",
                    help="expect pack PACK of profile UID to carry FILE's text as its values "
                         "(the API's v1PackValuesEntity), in this order")
    ap.add_argument("--mode", default="ok", choices=MODES)
    ap.add_argument("--log")
    ap.add_argument("--idle-timeout", type=float, default=120.0)
    args = ap.parse_args()
    args.profile_ids = [p.strip() for p in args.profile_ids.split(",") if p.strip()]
    pv = []
    for spec in args.pack_values:
        uid, rest = spec.split(":", 1)
        pack, path = rest.split("=", 1)
        with open(path, encoding="utf-8") as f:
            pv.append((uid, pack, f.read()))
    args.pack_values = pv
    if not args.profile_ids:
        ap.error("--profile-ids: empty list")

    with open(args.definition, "rb") as f:
        tgz = f.read()

    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args, tgz)
    srv.state.log(event="start", port=srv.server_address[1], mode=args.mode, pid=os.getpid())

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def idle_for():
        st = srv.state
        with st.lock:
            return None if st.busy else time.monotonic() - st.last_activity

    def idle_exit():
        srv.state.log(event="idle-exit")
        srv.shutdown()

    start_watchdog(idle_for, args.idle_timeout, on_idle=idle_exit, interval=0.5)
    write_port_file(args.port_file, srv.server_address[1])
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        srv.state.log(event="stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
