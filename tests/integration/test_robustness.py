"""test_robustness.py - hostile and unlucky clients (regressions found in review).

A subscriber that stops reading while its own source floods errors; nested
drops while connections close; a FIFO watched; a null source; scalar JSON;
a last request without newline; unsafe socket directories; a second daemon
that must not delete the first one's socket.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Daemon, RpcError, run_tests, wait_for  # noqa: E402


def small_daemon(cfg):
    d = Daemon()
    path = os.path.join(d.tmp, "cfg.yaml")
    with open(path, "w") as f:
        f.write(cfg)
    d.config = path
    return d.start()


def lazy_client(d):
    c = Client.__new__(Client)
    c.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.sock.settimeout(10)
    c.sock.connect(d.socket)
    c.buf, c.next_id, c.notes = b"", 1, []
    return c


def self_flooding_subscriber(tap):
    d = small_daemon("limits:\n  max_output_bytes: 64KiB\n")
    try:
        c = lazy_client(d)
        c.call("subscribe")
        src = c.call("source.open", {"kind": "shell", "name": "x"})["source"]
        text = "".join("bash: cmd%d: command not found\n" % i for i in range(3000))
        try:
            for _ in range(10):
                c.notify("source.write", {"source": src, "text": text})
                time.sleep(0.02)
        except OSError:
            pass        # dropped by the daemon, as it should be
        time.sleep(0.5)
        tap.ok(d.proc.poll() is None, "a subscriber flooding itself and not reading: daemon alive")
        tap.eq(d.client().call("hello")["server"], "doctord", "and serving")
        n = d.client().call("status")["incidents"]
        tap.ok(n >= 1, "the errors it sent before being dropped were recorded (%d)" % n)
    finally:
        tap.eq(d.stop(), 0, "clean exit (no sanitizer report)")
        d.cleanup()


def nested_drops(tap):
    d = small_daemon("limits:\n  max_output_bytes: 64KiB\n  max_message_bytes: 16MiB\n"
                     "sources:\n  settle_ms: 60000\n")
    try:
        big = "n" * 300000       # big names make each event big
        a = lazy_client(d)
        a.call("subscribe")
        sa = a.call("source.open", {"kind": "notebook", "name": big})["source"]
        b = lazy_client(d)
        b.call("subscribe")
        a.notify("source.write", {"source": sa, "text": 'Traceback (most recent call last):\n'
                                  '  File "/a.py", line 1, in <module>\nValueError: boom\n'})
        time.sleep(0.2)
        c = d.client()
        sc = c.call("source.open", {"kind": "shell", "name": big})["source"]
        c.notify("source.write", {"source": sc, "text": "bash: foo: command not found\nnext\n"})
        time.sleep(0.5)
        tap.eq(d.client(timeout=5).call("hello")["server"], "doctord",
               "connections dropped while others close: daemon still answers")
    finally:
        tap.eq(d.stop(), 0, "clean exit")
        d.cleanup()


def odd_requests(tap):
    d = Daemon().start()
    try:
        c = d.client()
        r = c.call("source.error", {"source": None, "ename": "ValueError", "evalue": "x"})
        tap.ok(r["incident"] > 0, "source.error with source null records without a source")
        for scalar in (b"1\n", b'"x"\n', b"null\n"):
            c.send_raw(scalar)
            tap.eq(c.read_msg()["error"]["code"], -32600, "scalar %r is an invalid request" % scalar)
        fifo = os.path.join(d.tmp, "fifo")
        os.mkfifo(fifo)
        try:
            c.call("source.watch_file", {"path": fifo})
            tap.ok(False, "watching a FIFO is refused")
        except RpcError as e:
            tap.eq(e.code, -32008, "watching a FIFO is refused, without blocking")
        try:
            c.call("source.watch_file", {"path": "/" + "é" * 3000})
            tap.ok(False, "a huge non-ASCII path is refused")
        except RpcError as e:
            tap.eq(e.code, -32008, "a huge non-ASCII path gets an answer")
        tap.eq(c.call("hello")["server"], "doctord", "still serving")
        c.close()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        s.sendall(b'{"jsonrpc":"2.0","id":9,"method":"hello"}')   # no newline
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        tap.eq(json.loads(data)["id"], 9, "a last request without newline is served at EOF")
    finally:
        tap.eq(d.stop(), 0, "clean exit")
        d.cleanup()


def unsafe_dirs(tap):
    d = Daemon()
    rundir = os.path.dirname(d.socket)
    os.makedirs(rundir)
    os.chmod(rundir, 0o777)
    r = subprocess.run(d.args(), capture_output=True, text=True, env=d.env, timeout=10)
    tap.ok(r.returncode == 1 and "writable by others" in r.stderr,
           "a world-writable, non-sticky socket dir is refused", r.stderr)
    if os.geteuid() == 0:
        os.chmod(rundir, 0o755)
        os.chown(rundir, 65534, 65534)
        r = subprocess.run(d.args(), capture_output=True, text=True, env=d.env, timeout=10)
        tap.ok(r.returncode == 1 and "not to you" in r.stderr,
               "a socket dir owned by another user is refused", r.stderr)
    else:
        tap.skip("a socket dir owned by another user is refused", "needs root to chown")
    d.cleanup()


def second_start_keeps_socket(tap):
    d = Daemon().start()
    try:
        os.unlink(d.socket + ".lock")          # e.g. a tmp cleaner removed it
        r = subprocess.run(d.args(), capture_output=True, text=True, env=d.env, timeout=10)
        tap.eq(r.returncode, 1, "a second daemon still refuses a live socket")
        tap.ok(os.path.exists(d.socket), "and does not delete the first one's socket")
        tap.eq(d.client().call("hello")["server"], "doctord", "the first keeps serving")
    finally:
        tap.eq(d.stop(), 0, "clean exit")
        d.cleanup()


run_tests([self_flooding_subscriber, nested_drops, odd_requests, unsafe_dirs,
           second_start_keeps_socket])
