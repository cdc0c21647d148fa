"""harness.py - shared pieces of doctor's integration tests.

Starts the real doctord on a temporary socket and data dir, talks to it over
the real Unix socket, and reports results as TAP so automake's tap-driver
counts every check. Each test file is a list of functions run in order; an
exception in one is a failed check, never a crash of the whole file.
Nothing here fakes the daemon: the binaries come from $DOCTOR_BUILDDIR.
"""
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time
import traceback

# realpath: automake's abs_top_srcdir may read /x/build/dev/../..
BUILD = os.path.realpath(os.environ.get("DOCTOR_BUILDDIR", os.path.join(os.path.dirname(__file__), "..", "..")))
SRC = os.path.realpath(os.environ.get("DOCTOR_SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..")))
DOCTORD = os.path.join(BUILD, "doctord")
DOCTOR = os.path.join(BUILD, "doctor")
# Sanitizer builds are slower; timeouts scale with this.
SLOW = float(os.environ.get("DOCTOR_TEST_SLOW", "1"))


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print(("ok" if cond else "not ok"), self.n, "-", name)
        if not cond and diag:
            self.diag(diag)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got %r, want %r" % (got, want))

    def diag(self, text):
        for line in str(text).splitlines():
            print("#", line)

    def skip(self, name, reason):
        self.n += 1
        print("ok", self.n, "-", name, "# SKIP", reason)

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 1 if self.failed else 0


def wait_for(pred, timeout=5.0, step=0.01):
    """Poll pred() until it is truthy or timeout*SLOW passes; return its value."""
    end = time.time() + timeout * SLOW
    while True:
        v = pred()
        if v or time.time() > end:
            return v
        time.sleep(step)


class Daemon:
    """A doctord on its own temporary socket and data dir."""

    def __init__(self, tmp=None, config=None, extra_args=(), env=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="doctor-test-")
        self.socket = os.path.join(self.tmp, "run", "doctord.sock")
        self.data = os.path.join(self.tmp, "data")
        self.config = config
        self.extra_args = list(extra_args)
        self.env = dict(os.environ)
        self.env.pop("DOCTOR_SOCKET", None)
        self.env.pop("DOCTOR_DATA_DIR", None)
        self.env["XDG_CONFIG_HOME"] = os.path.join(self.tmp, "config-home")
        # the shipped plugins, from the source tree
        self.env["DOCTOR_PLUGIN_PATH"] = os.path.join(SRC, "plugins")
        if env:
            self.env.update(env)
        self.proc = None
        self.log_path = os.path.join(self.tmp, "doctord.stderr")

    def args(self):
        a = [DOCTORD, "--foreground", "--socket", self.socket, "--data-dir", self.data,
             "--log-level", "debug"]
        if self.config:
            a += ["--config", self.config]
        return a + self.extra_args

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=self.log,
                                     env=self.env, stdin=subprocess.DEVNULL)
        if wait and not wait_for(self.ready, 10):
            raise RuntimeError("doctord did not start:\n" + self.stderr())
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("doctord exited with %s:\n%s" % (self.proc.returncode, self.stderr()))
        try:
            c = Client(self.socket, timeout=1)
            c.close()
            return True
        except OSError:
            return False

    def stderr(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stop and return the exit status (86 means a sanitizer report)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            rc = "hung (killed)"
        self.log.close()
        self.proc = None
        if rc != 0:   # a sanitizer report or a crash: show it in the test log
            for line in self.stderr().splitlines()[-80:]:
                print("# doctord:", line)
        return rc

    def client(self, **kw):
        return Client(self.socket, **kw)

    def doctor(self, *args, input=None, timeout=20, env=None):
        """Run the doctor command against this daemon."""
        e = dict(self.env)
        e["DOCTOR_SOCKET"] = self.socket
        if env:
            e.update(env)
        return subprocess.run([DOCTOR] + list(args), input=input, capture_output=True,
                              env=e, timeout=timeout * SLOW)

    def cleanup(self):
        if self.proc is not None:
            self.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)


class Client:
    """A JSON-RPC client on the Unix socket; collects notifications."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout * SLOW)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1
        self.notes = []

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def read_msg(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method, params=None, raw_reply=False):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.wait_reply(rid, raw_reply)

    def wait_reply(self, rid, raw_reply=True):
        while True:
            m = self.read_msg()
            if "id" in m and m["id"] == rid:
                if raw_reply:
                    return m
                if "error" in m:
                    raise RpcError(m["error"])
                return m["result"]
            if "method" in m:
                self.notes.append(m)
            elif m.get("id") is None and "error" in m:
                self.notes.append(m)

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def wait_note(self, method, pred=lambda m: True, timeout=5):
        """Next notification of that method satisfying pred."""
        end = time.time() + timeout * SLOW
        while True:
            for i, m in enumerate(self.notes):
                if m.get("method") == method and pred(m):
                    return self.notes.pop(i)
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no %s notification" % method)
            self.sock.settimeout(left)
            try:
                self.notes.append(self.read_msg())
            finally:
                self.sock.settimeout(10 * SLOW)

    def close(self):
        self.sock.close()


def _take_terminal():
    """In the child, after setsid: stdin becomes the controlling terminal (/dev/tty opens)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Pty:
    """A program on a pseudo-terminal of its own session, which is its controlling
    terminal as in a terminal emulator; everything it prints is kept."""

    def __init__(self, argv, env, cwd=None):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                     start_new_session=True, close_fds=True, preexec_fn=_take_terminal)
        os.close(slave)
        self.out = b""

    def pump(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.out += chunk

    def wait_for(self, text, timeout=10, start=0):
        """True once text shows (after byte offset start), within timeout*SLOW s."""
        end = time.time() + timeout * SLOW
        while text.encode() not in self.out[start:] and time.time() < end:
            self.pump(0.05)
        return text.encode() in self.out[start:]

    def write(self, text):
        os.write(self.master, text.encode())

    def session(self):
        """The processes of its session: it and whatever it started (background jobs too)."""
        found = []
        for pid in os.listdir("/proc"):
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == self.proc.pid:    # field 6, the session id
                found.append(int(pid))
        return found

    def close(self):
        for pid in self.session():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait()
        os.close(self.master)


class ChatServer:
    """tests/servers/openai_server.py (the LLM and embeddings stand-in) on a free
    port, logging each request to tmp/<log>; url is its base URL, up to /v1."""

    def __init__(self, tmp, log="chat.log"):
        self.log = os.path.join(tmp, log)
        self.proc = subprocess.Popen([sys.executable, os.path.join(SRC, "tests", "servers",
                                                                   "openai_server.py"),
                                      "--log", self.log], stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError("the test server did not start: %r" % line)
        self.url = "http://127.0.0.1:%d/v1" % int(line.split()[1])

    def requests(self, model=None, path="/v1/chat/completions"):
        """The requests received on path (None: any), for model if given."""
        try:
            with open(self.log) as f:
                reqs = [json.loads(line) for line in f]
        except OSError:
            return []
        return [r for r in reqs if (not path or r["path"] == path) and
                (not model or (isinstance(r["body"], dict) and r["body"].get("model") == model))]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


def llm_config(url, model, idle_timeout=60):
    """A doctord configuration (YAML) asking the model at url, priced, for the
    hooks' and the CLI's tests of the agent."""
    return ("llm:\n  base_url: %s\n  model: \"%s\"\n  api_key_env: null\n"
            "  timeout: 120\n  idle_timeout: %d\n  max_retries: 1\n  retry_after_cap: 1\n"
            "  prices:\n    \"%s\": {input: 0.5, output: 1.5}\n"
            "agent:\n  max_steps: 4\n  docs_k: 2\n" % (url, model, idle_timeout, model))


class RpcError(Exception):
    def __init__(self, err):
        super().__init__("%s: %s" % (err.get("code"), err.get("message")))
        self.code = err.get("code")
        self.error = err


def run_tests(tests):
    """Run test functions f(tap); each gets a fresh Tap context but one plan."""
    tap = Tap()
    for t in tests:
        try:
            t(tap)
        except Exception:
            tap.ok(False, "%s raised" % t.__name__, traceback.format_exc())
    sys.exit(tap.done())


TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/home/u/proj/app.py", line 3, in <module>\n'
    "    import cv2\n"
    "ModuleNotFoundError: No module named 'cv2'\n"
)
