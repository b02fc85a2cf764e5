#!/usr/bin/env python3
"""N parallel clients, each GETting every blob of a registry's images once
(in a different order) and checking its sha256. Prints "ERRORS BYTES SECONDS".
Usage: serve-clients.py HOST:PORT PAIRS N [TIMEOUT]  (PAIRS: lines "REPOSITORY
DIGEST"; TIMEOUT: seconds a connection may wait, default 120). Used by make
bench and by tests/85-serve.bats."""
import hashlib
import http.client
import sys
import threading
import time

host, pairs, n = sys.argv[1], [l.split() for l in open(sys.argv[2]) if l.strip()], int(sys.argv[3])
timeout = int(sys.argv[4]) if len(sys.argv) > 4 else 120
errors, total = [], [0]
lock = threading.Lock()


def client(k):
    c = http.client.HTTPConnection(host, timeout=timeout)
    for repo, d in pairs[k % len(pairs):] + pairs[:k % len(pairs)]:
        c.request("GET", f"/v2/{repo}/blobs/{d}")
        r = c.getresponse()
        h = hashlib.sha256()
        size = 0
        while True:
            b = r.read(1 << 16)
            if not b:
                break
            h.update(b)
            size += len(b)
        with lock:
            total[0] += size
            if r.status != 200 or "sha256:" + h.hexdigest() != d:
                errors.append(f"{repo} {d}: {r.status}")
    c.close()


t0 = time.monotonic()
ts = [threading.Thread(target=client, args=(k,)) for k in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(len(errors), total[0], round(time.monotonic() - t0, 2))
for e in errors[:5]:
    print(e, file=sys.stderr)
