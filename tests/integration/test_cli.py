"""test_cli.py - the doctor command against the real daemon.

doctor run must pass output through unchanged and in order and keep the
command's exit status; send/incidents/show/watch/watch-file work and give
JSON where asked; every subcommand has --help; a missing daemon is explained.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DOCTOR, SLOW, TRACEBACK, Daemon, run_tests, wait_for  # noqa: E402

d = Daemon()
PY = sys.executable


def no_daemon(tap):
    r = d.doctor("status")
    tap.eq(r.returncode, 3, "status without a daemon: exit 3")
    tap.ok(b"not running" in r.stderr, "with a clear message", r.stderr)
    r = d.doctor("run", "--", PY, "-c", "import sys; print('hi'); sys.exit(7)")
    tap.eq((r.returncode, r.stdout), (7, b"hi\n"), "run without a daemon still runs the command")
    tap.ok(b"not running" in r.stderr, "and warns once", r.stderr)


def helps(tap):
    r = subprocess.run([DOCTOR, "--help"], capture_output=True, text=True)
    tap.ok(r.returncode == 0 and "run" in r.stdout and "incidents" in r.stdout, "doctor --help")
    for sub in ("status", "incidents", "show", "watch", "send", "run", "watch-file", "unwatch-file"):
        r = subprocess.run([DOCTOR, sub, "--help"], capture_output=True, text=True)
        tap.ok(r.returncode == 0 and sub in r.stdout, "doctor %s --help" % sub, r.stdout + r.stderr)
    r = subprocess.run([DOCTOR, "frobnicate"], capture_output=True, text=True)
    tap.eq(r.returncode, 2, "unknown subcommand: exit 2")


def start(tap):
    d.start()
    r = d.doctor("status")
    tap.ok(r.returncode == 0 and d.socket.encode() in r.stdout, "doctor status", r.stdout + r.stderr)
    r = d.doctor("status", "--json")
    tap.eq(json.loads(r.stdout)["socket"], d.socket, "doctor status --json")


def run_passthrough(tap):
    r = d.doctor("run", "--quiet", "--", "sh", "-c", "echo out; echo err >&2; exit 42")
    tap.eq((r.returncode, r.stdout, r.stderr), (42, b"out\n", b"err\n"),
           "stdout and stderr passed through separately, exit status kept")
    r = d.doctor("run", "--quiet", "--", "printf", "a\\r\\nb\\033[31mc\\000d")
    tap.eq(r.stdout, b"a\r\nb\x1b[31mc\x00d", "bytes pass through unchanged (CR, ANSI, NUL, no final newline)")
    e = dict(d.env, DOCTOR_SOCKET=d.socket)
    script = "for i in 1 2 3 4 5 6; do echo o$i; echo e$i >&2; done"
    p = subprocess.run([DOCTOR, "run", "--quiet", "--", "sh", "-c", script],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e, timeout=20 * SLOW)
    want = b"".join(b"o%d\ne%d\n" % (i, i) for i in range(1, 7))
    tap.eq(p.stdout, want, "with 2>&1 the interleaving is kept exactly")
    big = d.doctor("run", "--quiet", "--", PY, "-c",
                   "import sys\nfor i in range(200000): sys.stdout.write('line %d\\n' % i)")
    tap.ok(big.returncode == 0 and big.stdout == b"".join(b"line %d\n" % i for i in range(200000)),
           "2.6 MB of output arrives complete and in order")


def run_exit_codes(tap):
    tap.eq(d.doctor("run", "--quiet", "--", "true").returncode, 0, "exit 0 kept")
    tap.eq(d.doctor("run", "--quiet", "--", "false").returncode, 1, "exit 1 kept")
    r = d.doctor("run", "--quiet", "--", "no-such-command-xyz")
    tap.eq(r.returncode, 127, "missing command: 127")
    notexec = os.path.join(d.tmp, "notexec.sh")
    with open(notexec, "w") as f:
        f.write("echo hi\n")
    os.chmod(notexec, 0o644)
    tap.eq(d.doctor("run", "--quiet", "--", notexec).returncode, 126, "not executable: 126")
    tap.eq(d.doctor("run", "--quiet", "--", "sh", "-c", "kill -TERM $$").returncode, 143,
           "killed by SIGTERM: 143")


def run_finds_incident(tap):
    r = d.doctor("run", "--", PY, "-c", "import nonexistent_module_for_doctor")
    tap.eq(r.returncode, 1, "python's exit status kept")
    tap.ok(b"ModuleNotFoundError: No module named 'nonexistent_module_for_doctor'" in r.stderr,
           "the traceback passed through on stderr")
    tap.ok(r.stderr.count(b"ModuleNotFoundError") >= 2, "and doctor lists the incident after it", r.stderr)
    listing = json.loads(d.doctor("incidents", "--json").stdout)
    mine = [i for i in listing if "nonexistent_module_for_doctor" in i["message"]]
    tap.eq(len(mine), 1, "doctor incidents --json has it")
    if mine:
        tap.eq(mine[0]["source"]["kind"], "command", "from a command source")
        show = d.doctor("show", str(mine[0]["id"]))
        tap.ok(show.returncode == 0 and b"nonexistent_module_for_doctor" in show.stdout, "doctor show ID")
        full = json.loads(d.doctor("show", str(mine[0]["id"]), "--json").stdout)
        tap.eq(full["exception"], "ModuleNotFoundError", "doctor show ID --json")
    r = d.doctor("show", "999999")
    tap.ok(r.returncode == 1 and r.stderr, "show of an unknown id fails clearly", r.stderr)
    tap.ok(d.doctor("incidents").returncode == 0, "doctor incidents (table)")


def send(tap):
    data = ("booting\n" + TRACEBACK.replace("cv2", "sent_mod") + "bash: gcc-99: command not found\n").encode()
    r = d.doctor("send", "--kind", "log", "--name", "build.log", "--json", input=data)
    tap.eq(r.returncode, 0, "doctor send exits 0")
    got = sorted(i["exception"] for i in json.loads(r.stdout))
    tap.eq(got, ["CommandNotFound", "ModuleNotFoundError"], "doctor send --json lists both incidents")
    r = d.doctor("send", "--kind", "log", "--name", "quiet.log", input=b"all good\n")
    tap.ok(r.returncode == 0, "send with no errors exits 0")


def watch(tap):
    e = dict(d.env, DOCTOR_SOCKET=d.socket)
    p = subprocess.Popen([DOCTOR, "watch", "--json"], stdout=subprocess.PIPE, env=e)
    try:
        time.sleep(0.3 * SLOW)
        d.doctor("send", "--kind", "log", "--name", "w.log",
                 input=TRACEBACK.replace("cv2", "watched_mod").encode())
        line = p.stdout.readline()
        m = json.loads(line)
        tap.eq((m["method"], m["params"]["incident"]["message"]),
               ("incident.new", "No module named 'watched_mod'"), "doctor watch --json streams incident.new")
    finally:
        p.send_signal(signal.SIGINT)
        rc = p.wait(10)
    tap.eq(rc, 0, "doctor watch exits 0 on SIGINT")


def watch_file(tap):
    path = os.path.join(d.tmp, "cli.log")
    open(path, "w").close()
    r = d.doctor("watch-file", path)
    tap.eq(r.returncode, 0, "doctor watch-file")
    with open(path, "a") as f:
        f.write(TRACEBACK.replace("cv2", "cli_watched"))
    tap.ok(wait_for(lambda: b"cli_watched" in d.doctor("incidents").stdout), "the watched file's error shows up")
    tap.eq(d.doctor("unwatch-file", path).returncode, 0, "doctor unwatch-file")
    tap.eq(d.doctor("unwatch-file", path).returncode, 1, "unwatching again fails")


def pty(tap):
    if not shutil.which("script"):
        tap.skip("a terminal is given to the command", "script(1) not installed")
        return
    e = dict(d.env, DOCTOR_SOCKET=d.socket)
    cmd = "%s run --quiet -- %s -c 'import sys; print(sys.stdout.isatty(), sys.stderr.isatty())'" % (DOCTOR, PY)
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, env=e, timeout=20 * SLOW,
                       stdin=subprocess.DEVNULL)
    tap.ok(b"True True" in r.stdout, "on a terminal the command gets a terminal too", r.stdout)


def stop(tap):
    tap.eq(d.stop(), 0, "clean exit")
    d.cleanup()


run_tests([no_daemon, helps, start, run_passthrough, run_exit_codes, run_finds_incident, send,
           watch, watch_file, pty, stop])
