"""test_cli_agent.py - `doctor run` and `doctor watch` showing the agent's work.

A real daemon asks the LLM stand-in (tests/servers/openai_server.py) playing
chat_scripts/hooks_agent.json (a remedy, then an answer written in small
pieces with a 1.5 s pause, citing widgets.md#calibration of the small index
built from tests/cases/hooks/docs), hooks_slow.json (an answer paused for 8 s)
and unauthorized.json (a 401).

doctor run: after the command, the answer streams on stderr as it is written
(its first part before the rest exists), then one line with the run's end,
tokens and cost, then the diagnosis with its citation and remedy id, the
answer not printed twice; the exit status stays the command's. The same error
again is answered from the cache at once. --quiet prints nothing of it. Ctrl-C
(SIGINT) stops the waiting only: the run goes on in the daemon; --agent-wait
bounds the wait; a failed run is one line. doctor watch prints a line when a
run starts and one when it ends, --deltas the text between, --json the
notifications.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DOCTOR, SLOW, SRC, ChatServer, Daemon, Pty, llm_config, run_tests,  # noqa: E402
                     wait_for)

d = Daemon(env={"OPENAI_BASE_URL": "", "OPENAI_MODEL": ""})
CONFIG = os.path.join(d.tmp, "doctor.yaml")
DOCS = os.path.join(SRC, "tests", "cases", "hooks", "docs")
PY = sys.executable
chat = {}


def configure(tap, model):
    with open(CONFIG, "w") as f:
        f.write(llm_config(chat["server"].url, model))
    r = d.doctor("reload")
    tap.ok(r.returncode == 0, "the daemon asks %s now" % model, r.stderr)


def env():
    return dict(d.env, DOCTOR_SOCKET=d.socket)


class Streamed:
    """A doctor process whose output (stderr, or stdout) is read as it comes,
    with the time each piece arrived."""

    def __init__(self, args, stream="stderr"):
        self.t0 = time.time()
        self.proc = subprocess.Popen([DOCTOR] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=env())
        self.pieces = []
        self.lock = threading.Lock()
        src = self.proc.stderr if stream == "stderr" else self.proc.stdout
        other = self.proc.stdout if stream == "stderr" else self.proc.stderr
        self.other = b""
        self.reader = threading.Thread(target=self._read, args=(src,), daemon=True)
        self.reader.start()
        self.other_reader = threading.Thread(target=self._read_other, args=(other,), daemon=True)
        self.other_reader.start()

    def _read(self, f):
        while True:
            chunk = os.read(f.fileno(), 65536)
            if not chunk:
                return
            with self.lock:
                self.pieces.append((time.time() - self.t0, chunk))

    def _read_other(self, f):
        self.other = f.read()

    def text(self):
        with self.lock:
            return b"".join(c for _, c in self.pieces).decode("utf-8", "replace")

    def when(self, needle):
        """Seconds after start at which needle had fully arrived, or None."""
        acc = b""
        with self.lock:
            pieces = list(self.pieces)
        for t, c in pieces:
            acc += c
            if needle.encode() in acc:
                return t
        return None

    def wait_text(self, needle, timeout=20):
        return wait_for(lambda: needle in self.text(), timeout, 0.02)

    def finish(self, timeout=60):
        rc = self.proc.wait(timeout * SLOW)
        self.reader.join(5)
        self.other_reader.join(5)
        return rc


def start(tap):
    chat["server"] = ChatServer(d.tmp)
    with open(CONFIG, "w") as f:
        f.write(llm_config(chat["server"].url, "script:hooks_agent"))
    d.config = CONFIG
    d.start()
    r = d.doctor("index", DOCS)
    tap.ok(r.returncode == 0, "daemon started, the test documentation indexed", r.stderr)


def failing(message):
    return [PY, "-c", "raise LookupError(%r)" % message]


def run_streams(tap):
    p = Streamed(["run", "--"] + failing("flux gauge calibration drifted by 5 units"))
    rc = p.finish()
    err = p.text()
    tap.eq(rc, 1, "run: the command's exit status is kept")
    tap.ok("LookupError: flux gauge calibration drifted by 5 units" in err and
           "1 error in this run" in err, "run: the traceback, then the incident", err)
    tap.ok("asking script:hooks_agent" in err and "Ctrl-C stops waiting" in err,
           "run: says the agent is asked", err)
    part, whole = p.when("The flux wid"), p.when("then run the cell again.")
    tap.ok(part is not None and whole is not None and whole - part >= 1.0,
           "run: the answer streams as it is written (%s, %s)" % (part, whole), err)
    tap.ok("Checking what a drifted calibration means.\n\nThe flux widget" in err,
           "run: each turn's text its own paragraph", err)
    tap.ok("diagnosed by script:hooks_agent (run " in err and "[2300+85 tokens, $0.00127" in err,
           "run: one line for the run's end, with tokens and cost", err)
    tap.ok("see: widgets.md#calibration" in err, "run: the diagnosis cites the page (page#anchor)", err)
    tap.ok("Recalibrate the flux widget" in err and "to run it: doctor confirm " in err,
           "run: the agent's remedy with its id (no terminal: no question)", err)
    tap.eq(err.count("Its zero point moved"), 1, "run: the answer is not printed twice")
    tap.ok(err.index("then run the cell again.") < err.index("diagnosed by") < err.index("see: widgets.md"),
           "run: in that order", err)
    tap.eq(p.other, b"", "run: stdout is the command's only")
    # the same error again: from the cache, at once
    t0 = time.time()
    r = d.doctor("run", "--", *failing("flux gauge calibration drifted by 5 units"))
    took = time.time() - t0
    err = r.stderr.decode()
    tap.ok(("[from the cache, no cost]" in err or "answers from the cache" in err)
           and "see: widgets.md#calibration" in err and "Recalibrate the flux widget" in err,
           "run: the same error again: the diagnosis at once", err)
    tap.ok(took < 3 * SLOW, "run: without waiting (%.2f s)" % took)
    tap.eq(len(chat["server"].requests("script:hooks_agent")), 2, "run: no request for the second")


def run_terminal(tap):
    """On a terminal the agent's remedy is asked about like a plugin's."""
    term = Pty([DOCTOR, "run", "--"] + failing("terminal gauge calibration drifted"),
               dict(env(), TERM="dumb"))
    try:
        asked = term.wait_for("? [y/N]", 30)
        out = term.out.decode("utf-8", "replace")
        tap.ok(asked and "Its zero point moved" in out and "run remedy #" in out,
               "terminal: after the streamed answer, run remedy #N? [y/N]", out)
        term.write("y\n")
        ran = term.wait_for("succeeded", 30)
        out = term.out.decode("utf-8", "replace")
        tap.ok(ran and "recalibrated" in out, "terminal: yes runs the agent's remedy, its output shown", out)
        tap.ok(wait_for(lambda: term.proc.poll() is not None, 10) and term.proc.returncode == 1,
               "terminal: then doctor run ends with the command's status", term.proc.returncode)
    finally:
        term.close()


def run_quiet(tap):
    t0 = time.time()
    r = d.doctor("run", "--quiet", "--", *failing("quiet gauge calibration drifted"))
    took = time.time() - t0
    err = r.stderr.decode()
    tap.ok(r.returncode == 1 and "doctor:" not in err and "flux" not in err,
           "run --quiet: nothing of the agent", err)
    tap.ok(took < 3 * SLOW, "run --quiet: no waiting for it (%.2f s)" % took)
    c = d.client()
    incs = [i for i in c.call("incident.list", {"exception": "LookupError"})["incidents"]
            if "quiet gauge" in i["message"]]
    runs = wait_for(lambda: incs and c.call("incident.get", {"id": incs[0]["id"]})["incident"].get("runs"), 5)
    tap.ok(runs, "run --quiet: the daemon diagnoses it all the same", incs)
    c.close()


def run_interrupt(tap):
    configure(tap, "script:hooks_slow")
    p = Streamed(["run", "--"] + failing("slow gauge stuck"))
    seen = p.wait_text("Thinking about", 20)
    tap.ok(seen, "run: the slow answer starts streaming", p.text())
    t0 = time.time()
    p.proc.send_signal(signal.SIGINT)
    rc = p.finish(10)
    err = p.text()
    tap.ok(rc == 1 and time.time() - t0 < 2 * SLOW, "Ctrl-C: doctor run ends at once, with the "
           "command's status", (rc, err))
    tap.ok("stopped waiting; the diagnosis goes on in the daemon: doctor show " in err,
           "Ctrl-C: says where the diagnosis will be", err)
    tap.ok("run remedy" not in err and "diagnosed by" not in err, "Ctrl-C: nothing else after it", err)
    c = d.client()
    inc = [i for i in c.call("incident.list", {"exception": "LookupError"})["incidents"]
           if "slow gauge" in i["message"]][0]
    runs = c.call("incident.get", {"id": inc["id"]})["incident"]["runs"]
    tap.ok(runs and runs[-1]["state"] == "running", "Ctrl-C: the run goes on in the daemon", runs)
    done = wait_for(lambda: c.call("incident.get", {"id": inc["id"]})["incident"]["runs"][-1]["state"]
                    == "done", 20)
    tap.ok(done, "Ctrl-C: and ends there")
    c.close()
    # a bounded wait
    t0 = time.time()
    r = d.doctor("run", "--agent-wait", "1", "--", *failing("slow gauge stuck again"))
    took = time.time() - t0
    err = r.stderr.decode()
    tap.ok("the diagnosis is still running after 1 s; it goes on in the daemon: doctor show" in err
           and took < 4 * SLOW, "--agent-wait 1: gives up after a second (%.1f s)" % took, err)
    r = d.doctor("run", "--agent-wait", "x", "--", "true")
    tap.eq(r.returncode, 2, "--agent-wait takes seconds")


def run_failed(tap):
    configure(tap, "script:unauthorized")
    r = d.doctor("run", "--", *failing("unauthorized gauge"))
    err = r.stderr.decode()
    lines = [x for x in err.splitlines() if "the diagnosis by script:unauthorized" in x]
    tap.ok(len(lines) == 1 and " failed: " in lines[0], "a failed run: its error in one line", err)
    tap.eq(r.returncode, 1, "a failed run: the command's status all the same")


def watch(tap):
    configure(tap, "script:hooks_agent")
    text = Streamed(["watch", "--deltas"], stream="stdout")
    plain = Streamed(["watch"], stream="stdout")
    js = Streamed(["watch", "--json"], stream="stdout")
    try:
        time.sleep(0.5 * SLOW)
        tb = ("Traceback (most recent call last):\n"
              '  File "/home/u/proj/gauge.py", line 9, in <module>\n'
              "    read()\n"
              "LookupError: watched gauge calibration drifted\n")
        r = d.doctor("send", "--kind", "log", "--name", "gauge.log", input=tb.encode())
        tap.eq(r.returncode, 0, "watch: an error sent")
        ok = wait_for(lambda: "diagnosed by" in text.text() and "diagnosed by" in plain.text()
                      and '"diagnosis.done"' in js.text(), 30)
        tap.ok(ok, "watch: the run's end arrives", text.text() + plain.text() + js.text())
        out = plain.text()
        starts = [x for x in out.splitlines() if "asking script:hooks_agent (run" in x]
        ends = [x for x in out.splitlines() if "diagnosed by script:hooks_agent" in x]
        tap.ok(len(starts) == 1 and "agent" in starts[0] and "#" in starts[0],
               "watch: one line when the run starts (incident, model)", out)
        tap.ok(len(ends) == 1 and "The flux widget lost its calibration." in ends[0]
               and "$0.00127" in ends[0], "watch: one line when it ends (summary, cost)", out)
        tap.ok("Its zero point moved" not in out and "Recalibrate the flux widget" in out,
               "watch: without --deltas no text, the remedy below", out)
        out = text.text()
        tap.ok("Its zero point moved" in out and out.index("asking script:") < out.index("Its zero point")
               < out.index("diagnosed by"), "watch --deltas: the text between the two lines", out)
        tap.ok("[#" in out, "watch --deltas: headed by its incident", out)
        methods = [json.loads(x)["method"] for x in js.text().splitlines() if x.strip()]
        tap.ok(all(m in methods for m in ("incident.new", "diagnosis.started", "diagnosis.delta",
                                          "diagnosis.done", "remedy.proposed")),
               "watch --json: the agent's notifications", methods)
    finally:
        for p in (text, plain, js):
            p.proc.send_signal(signal.SIGINT)
            p.finish(10)


def stop(tap):
    chat["server"].stop()
    tap.eq(d.stop(), 0, "clean exit")
    d.cleanup()


run_tests([start, run_streams, run_terminal, run_quiet, run_interrupt, run_failed, watch, stop])
