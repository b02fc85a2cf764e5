#!/usr/bin/env python3
"""A Docker registry token server for the registry tests (python3 stdlib only).

Implements distribution's docs/spec/auth/token.md (and the OAuth2 password
grant of docs/spec/auth/oauth.md) for one user:

  GET  /token?service=S&scope=SCOPE[&scope=SCOPE...]   Basic auth optional
  POST /token  (form: grant_type=password, username, password, service, scope)
  GET  /stats  {"requests": N, "anonymous": N, "authenticated": N, "denied": N}

Credentials: user --user (default edgeuser) with --password (or the first line
of --password-file). Wrong credentials are 401. Without credentials the
client is anonymous: it gets "pull" on repositories whose name starts with
--anonymous-pull PREFIX (when given), and nothing else. The user gets every
action it asks for. Missing rights are not an error (the spec says so): the
token simply grants less, and the registry then answers 401.

Reply: {"token": JWT, "access_token": JWT, "expires_in": --expires (default
300), "issued_at": RFC 3339}. The JWT is RS256: its header carries the
certificate chain of --cert (leaf first) as x5c, the registry checks it
against its rootcertbundle; claims iss (--issuer), sub, aud (the requested
service), iat, nbf, exp, jti, access. Signing runs `openssl dgst -sha256
-sign --key` (the stdlib has no RSA).

Binds 127.0.0.1 on an ephemeral port, written (atomically) to --port-file.
--log gets one JSON object per request (never a password or a token). Exits
after --idle-timeout seconds without a request (default 120), when its parent
goes away, and on SIGTERM/SIGINT.
"""

import argparse
import base64
import binascii
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from serverlib import Activity, JsonLog, serve

ARGS = None
LOCK = threading.Lock()
log = JsonLog(LOCK)  # the --log file
STATS = {"requests": 0, "anonymous": 0, "authenticated": 0, "denied": 0}
ACTIVITY = Activity()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_chain(path):
    """The DER certificates of a PEM file, base64 (standard) for x5c."""
    with open(path) as f:
        text = f.read()
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if not blocks:
        raise SystemExit("token-server: no certificate in %s" % path)
    return ["".join(b.split()) for b in blocks]


def sign(data):
    proc = subprocess.run(["openssl", "dgst", "-sha256", "-sign", ARGS.key],
                          input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise RuntimeError("openssl dgst failed: " + proc.stderr.decode(errors="replace"))
    return proc.stdout


def make_jwt(subject, service, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": ARGS.chain}
    claims = {
        "iss": ARGS.issuer,
        "sub": subject,
        "aud": service,
        "iat": now,
        "nbf": now - 5,
        "exp": now + ARGS.expires,
        "jti": binascii.hexlify(os.urandom(16)).decode(),
        "access": access,
    }
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    return signing_input + "." + b64url(sign(signing_input.encode()))


def parse_scope(scope):
    """'repository:a/b:pull,push' -> ('repository', 'a/b', ['pull', 'push'])."""
    parts = scope.split(":")
    if len(parts) < 3:
        return None
    return parts[0], ":".join(parts[1:-1]), [a for a in parts[-1].split(",") if a]


def grant(user, scopes):
    access = []
    for scope in scopes:
        # several scopes may come space-separated in one parameter
        for one in scope.split():
            parsed = parse_scope(one)
            if parsed is None:
                continue
            typ, name, actions = parsed
            if user is not None:
                allowed = actions
            elif (typ == "repository" and ARGS.anonymous_pull is not None
                  and name.startswith(ARGS.anonymous_pull)):
                allowed = [a for a in actions if a == "pull"]
            else:
                allowed = []
            if allowed:
                access.append({"type": typ, "name": name, "actions": allowed})
    return access


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "token-server/1"

    def log_message(self, fmt, *args):  # quiet: the test's stderr is checked
        pass

    def reply(self, code, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def credentials(self):
        """(user, password) from Basic auth, None if absent, False if malformed."""
        auth = self.headers.get("Authorization")
        if not auth:
            return None
        kind, _, value = auth.partition(" ")
        if kind.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (user, password) if sep else False

    def handle_any(self):
        ACTIVITY.touch()
        url = urlsplit(self.path)
        body = self.read_body()
        q = parse_qs(url.query)
        with LOCK:
            STATS["requests"] += 1
            n = STATS["requests"]
        entry = {"n": n, "method": self.command, "path": url.path}

        if url.path == "/stats":
            with LOCK:
                stats = dict(STATS)
            return self.reply(200, stats)
        if url.path != "/token" or self.command not in ("GET", "POST"):
            entry["status"] = 404
            log(entry)
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})

        creds = self.credentials()
        if self.command == "POST":
            form = parse_qs(body.decode(errors="replace"))
            for k, v in form.items():
                q.setdefault(k, []).extend(v)
            if form.get("grant_type", [""])[0] == "password":
                creds = (form.get("username", [""])[0], form.get("password", [""])[0])
        service = q.get("service", [""])[-1]
        scopes = q.get("scope", [])
        entry.update({"service": service, "scope": scopes,
                      "account": q.get("account", [None])[-1]})

        if creds is None:
            user = None
            entry["user"] = None
        elif creds is False or creds[0] != ARGS.user or creds[1] != ARGS.password:
            entry["user"] = creds[0] if creds else None
            entry["status"] = 401
            with LOCK:
                STATS["denied"] += 1
            log(entry)
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED",
                                                "message": "authentication required"}]},
                              {"WWW-Authenticate": 'Basic realm="edge-test-token"'})
        else:
            user = creds[0]
            entry["user"] = user
        with LOCK:
            STATS["authenticated" if user else "anonymous"] += 1

        access = grant(user, scopes)
        try:
            token = make_jwt(user or "", service, access)
        except RuntimeError as e:
            entry["status"] = 500
            log(entry)
            return self.reply(500, {"errors": [{"code": "UNKNOWN", "message": str(e)}]})
        entry["granted"] = access
        entry["status"] = 200
        log(entry)
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return self.reply(200, {"token": token, "access_token": token,
                                "expires_in": ARGS.expires, "issued_at": issued})

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--key", required=True, help="PEM RSA private key that signs tokens")
    ap.add_argument("--cert", required=True, help="PEM chain for x5c, the key's certificate first")
    ap.add_argument("--issuer", default="edge-test-issuer")
    ap.add_argument("--user", default="edgeuser")
    ap.add_argument("--password")
    ap.add_argument("--password-file")
    ap.add_argument("--anonymous-pull", metavar="PREFIX")
    ap.add_argument("--expires", type=int, default=300)
    ap.add_argument("--log")
    ap.add_argument("--idle-timeout", type=float, default=120.0)
    ARGS = ap.parse_args()
    log.path = ARGS.log
    if ARGS.password_file:
        with open(ARGS.password_file) as f:
            ARGS.password = f.readline().rstrip("\r\n")
    if ARGS.password is None:
        ap.error("--password or --password-file is required")
    ARGS.chain = load_chain(ARGS.cert)

    serve(Server(("127.0.0.1", 0), Handler), ARGS.port_file, ACTIVITY, ARGS.idle_timeout)


if __name__ == "__main__":
    sys.exit(main())
