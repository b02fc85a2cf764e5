"""What the test servers share (python3 stdlib only): the port file the
tests wait for, the watchdog that ends a server left running, and the
JSON-lines request log the tests read."""

import json
import os
import signal
import threading
import time


class Activity:
    """When the server last handled a request: touch() on each one."""

    def __init__(self):
        self.last = time.monotonic()

    def touch(self):
        self.last = time.monotonic()

    def idle(self):
        return time.monotonic() - self.last


class JsonLog:
    """log(entry): appends entry to the file at .path (set once the options
    are parsed; no log when it is empty) as one JSON line, sorted keys,
    whole, under lock (the server's own, shared with its counters)."""

    def __init__(self, lock):
        self.lock = lock
        self.path = None

    def __call__(self, entry):
        if not self.path:
            return
        with self.lock:
            with open(self.path, "a") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")


def write_port_file(path, *ports):
    """Writes the ports, on one line, whole: a temp file beside PATH,
    fsynced, then renamed, so a test never reads half a number."""
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        f.write(" ".join("%d" % p for p in ports) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def start_watchdog(idle_for, limit, parent=None, on_idle=None, interval=0.2):
    """A daemon thread that calls on_idle() (default: exit at once) when
    idle_for() -- seconds without a request, or None while busy -- reaches
    limit, or when the parent process (a pid) is gone."""

    def run():
        while True:
            time.sleep(interval)
            if parent is not None and os.getppid() != parent:
                break
            idle = idle_for()
            if idle is not None and idle >= limit:
                break
        if on_idle is None:
            os._exit(0)
        on_idle()

    threading.Thread(target=run, daemon=True).start()


def serve(srv, port_file, activity, idle, ports=None):
    """Runs srv until SIGTERM or SIGINT, its parent going away, or idle
    seconds without a request: the port file (srv's port, or ports) is
    written once srv listens."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    write_port_file(port_file, *(ports or [srv.server_address[1]]))
    start_watchdog(activity.idle, idle, parent=os.getppid())
    srv.serve_forever(poll_interval=0.2)
