"""test_lifecycle.py - starting, refusing, reloading and restarting doctord.

A live socket is not stolen by a second daemon; a stale one is replaced;
restarting keeps incidents; bad config files are named by file and line;
SIGHUP reloads (and keeps the old config when the new one is bad); another
user is refused by SO_PEERCRED.
"""
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DOCTORD, TRACEBACK, Daemon, RpcError, run_tests, wait_for  # noqa: E402


def help_version(tap):
    r = subprocess.run([DOCTORD, "--help"], capture_output=True, text=True)
    tap.ok(r.returncode == 0 and "--socket" in r.stdout and "--foreground" in r.stdout, "doctord --help")
    r = subprocess.run([DOCTORD, "--version"], capture_output=True, text=True)
    tap.ok(r.returncode == 0 and r.stdout.startswith("doctord "), "doctord --version")
    r = subprocess.run([DOCTORD, "--bogus"], capture_output=True, text=True)
    tap.eq(r.returncode, 2, "unknown option: exit 2")
    r = subprocess.run([DOCTORD, "--log-level", "loud", "--foreground"], capture_output=True, text=True)
    tap.ok(r.returncode == 1 and "--log-level" in r.stderr, "bad --log-level is named")


def second_daemon(tap):
    d = Daemon().start()
    try:
        r = subprocess.run(d.args(), capture_output=True, text=True, env=d.env, timeout=10)
        tap.eq(r.returncode, 1, "a second daemon on the same socket exits 1")
        tap.ok("already" in r.stderr, "with a clear message", r.stderr)
        tap.eq(d.client().call("hello")["server"], "doctord", "the first keeps serving")
    finally:
        tap.eq(d.stop(), 0, "first daemon exits cleanly")
        d.cleanup()


def stale_socket(tap):
    d = Daemon()
    os.makedirs(os.path.dirname(d.socket), mode=0o700)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.socket)           # a socket nobody listens on: stale
    s.close()
    try:
        d.start()
        tap.eq(d.client().call("hello")["server"], "doctord", "a stale socket is replaced")
        tap.eq(os.stat(d.socket).st_mode & 0o777, 0o600, "the new socket is 0600")
    finally:
        d.stop()
        d.cleanup()


def restart_keeps(tap):
    d = Daemon().start()
    try:
        c = d.client()
        src = c.call("source.open", {"kind": "command", "name": "keep"})["source"]
        c.call("source.write", {"source": src, "text": TRACEBACK})
        first = c.call("source.close", {"source": src})["incidents"][0]
        c.close()
        tap.eq(d.stop(), 0, "stopped")
        d.start()
        c = d.client()
        got = c.call("incident.get", {"id": first["id"]})["incident"]
        tap.eq((got["exception"], got["count"]), ("ModuleNotFoundError", 1), "incident survives a restart")
        src = c.call("source.open", {"kind": "command", "name": "keep2"})["source"]
        c.call("source.write", {"source": src, "text": TRACEBACK})
        again = c.call("source.close", {"source": src})["incidents"][0]
        tap.eq((again["id"], again["count"]), (first["id"], 2), "and dedups with new occurrences")
        tap.ok(os.path.exists(os.path.join(d.data, "doctor.db-wal")) or
               os.path.exists(os.path.join(d.data, "doctor.db")), "database in the data dir")
        mode = subprocess.run(["sqlite3", os.path.join(d.data, "doctor.db"), "PRAGMA journal_mode"],
                              capture_output=True, text=True)
        if mode.returncode == 0:
            tap.eq(mode.stdout.strip(), "wal", "the store is in WAL mode")
        else:
            tap.skip("the store is in WAL mode", "sqlite3 command not installed")
        c.close()
    finally:
        tap.eq(d.stop(), 0, "clean exit after restart")
        d.cleanup()


def bad_config(tap):
    d = Daemon()
    cfg = os.path.join(d.tmp, "bad.yaml")
    with open(cfg, "w") as f:
        f.write("log_level: info\nlimits:\n  max_mesage_bytes: 10\n")
    d.config = cfg
    r = subprocess.run(d.args(), capture_output=True, text=True, env=d.env, timeout=10)
    tap.eq(r.returncode, 1, "unknown key: doctord refuses to start")
    tap.ok("bad.yaml:3" in r.stderr and "limits.max_mesage_bytes" in r.stderr,
           "the error names file, line and key", r.stderr)
    with open(cfg, "w") as f:
        f.write("sources:\n  context_lines: lots\n")
    r = subprocess.run(d.args(), capture_output=True, text=True, env=d.env, timeout=10)
    tap.ok(r.returncode == 1 and "bad.yaml:2" in r.stderr and "sources.context_lines" in r.stderr,
           "a wrong type names file, line and key", r.stderr)
    d.config = os.path.join(d.tmp, "missing.yaml")
    r = subprocess.run(d.args(), capture_output=True, text=True, env=d.env, timeout=10)
    tap.ok(r.returncode == 1 and "missing.yaml" in r.stderr, "an explicit missing config is an error")
    d.cleanup()


def reload(tap):
    d = Daemon()
    cfg = os.path.join(d.tmp, "doctor.yaml")
    with open(cfg, "w") as f:
        f.write("limits:\n  max_message_bytes: 64KiB\n")
    d.config = cfg
    d.start()
    try:
        c = d.client()
        c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"source.open","params":{"kind":"log","name":"' + b"n" * 70000 + b'"}}\n')
        tap.eq(c.read_msg()["error"]["code"], -32001, "configured 64 KiB limit applies")
        with open(cfg, "w") as f:
            f.write("limits:\n  max_message_bytes: 1MiB\n")
        d.proc.send_signal(signal.SIGHUP)
        tap.ok(wait_for(lambda: "configuration reloaded" in d.stderr()), "SIGHUP reloads")
        c.send_raw(b'{"jsonrpc":"2.0","id":2,"method":"source.open","params":{"kind":"log","name":"' + b"n" * 70000 + b'"}}\n')
        tap.eq(c.read_msg().get("id"), 2, "the new limit applies after reload")
        with open(cfg, "w") as f:
            f.write("limits: [oops\n")
        d.proc.send_signal(signal.SIGHUP)
        tap.ok(wait_for(lambda: "keeping the running configuration" in d.stderr()),
               "a bad config on reload is reported and the old one kept")
        tap.eq(c.call("hello")["server"], "doctord", "daemon still serving")
        c.close()
    finally:
        tap.eq(d.stop(), 0, "clean exit")
        d.cleanup()


def background(tap):
    d = Daemon()
    args = [a for a in d.args() if a != "--foreground"]
    r = subprocess.run(args, capture_output=True, text=True, env=d.env, timeout=20)
    tap.eq(r.returncode, 0, "doctord without --foreground returns once ready")
    try:
        c = d.client()
        pid = c.call("hello")["pid"]
        tap.ok(pid > 0, "the background daemon answers at once")
        c.close()
        os.kill(pid, signal.SIGTERM)
        tap.ok(wait_for(lambda: not os.path.exists(d.socket), 10), "and stops on SIGTERM")
        tap.ok(os.path.exists(os.path.join(d.data, "doctord.log")), "it logs to the data dir")
    finally:
        d.cleanup()


def other_uid(tap):
    if os.geteuid() != 0:
        tap.skip("another uid is refused", "needs root to switch uid")
        return
    d = Daemon().start()
    try:
        # open the path up so only SO_PEERCRED stands in the way
        os.chmod(d.tmp, 0o755)
        os.chmod(os.path.dirname(d.socket), 0o755)
        os.chmod(d.socket, 0o777)
        code = ("import socket,os,json;os.setgid(65534);os.setuid(65534);"
                "s=socket.socket(socket.AF_UNIX);s.connect(%r);"
                "s.sendall(b'{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\\n');"
                "d=b''\nwhile True:\n c=s.recv(4096)\n if not c: break\n d+=c\n"
                "print(d.decode())" % d.socket)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=10)
        tap.ok(r.returncode == 0, "nobody could connect (file permissions opened)", r.stderr)
        tap.ok('"code":-32004' in r.stdout and '"result"' not in r.stdout,
               "another uid gets -32004 and nothing else", r.stdout)
        tap.eq(d.client().call("hello")["server"], "doctord", "daemon keeps serving its user")
    finally:
        tap.eq(d.stop(), 0, "clean exit")
        d.cleanup()


def env_socket(tap):
    d = Daemon()
    d.env["DOCTOR_SOCKET"] = d.socket
    d.env["DOCTOR_DATA_DIR"] = d.data
    args = [DOCTORD, "--foreground"]
    log = open(d.log_path, "ab")
    proc = subprocess.Popen(args, env=d.env, stdout=log, stderr=log)
    d.proc, d.log = proc, log
    try:
        tap.ok(wait_for(d.ready, 10), "DOCTOR_SOCKET and DOCTOR_DATA_DIR are honoured")
    finally:
        tap.eq(d.stop(), 0, "clean exit")
        d.cleanup()


run_tests([help_version, second_daemon, stale_socket, restart_keeps, bad_config, reload,
           background, other_uid, env_socket])
