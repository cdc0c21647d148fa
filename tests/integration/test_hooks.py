"""test_hooks.py - the IPython extension and the bash/zsh hooks, for real.

A notebook runs through a real Jupyter kernel (nbclient, Debian's
/usr/bin/python3 and ipykernel) with scripts/ipython on its path: its error
must reach the daemon as a structured notebook incident while the cell still
shows the normal traceback; without a daemon the cells still work and warn
once; --enable/--disable write and remove exactly one startup file. bash and
zsh run interactively on a pseudo-terminal with the hook sourced: a failing
command becomes an incident, a succeeding one sends nothing, the terminal
shows the shell's own messages, and nothing is left behind. What is not
installed is skipped with the reason.

Then the daemon gets an LLM (tests/servers/openai_server.py playing
chat_scripts/hooks_agent.json and hooks_slow.json) and a small documentation
index (tests/cases/hooks/docs): in a real kernel, driven message by message
through jupyter_client, an error no plugin knows shows the agent's answer as
it is written (one output updated in place, its first part before the rest
is written), then the diagnosis citing widgets.md#calibration with its
remedy's id; the same error again shows the cached diagnosis at once; an
interrupt while the model writes stops the waiting only, says so, and
%doctor show ID follows the run again; a bounded wait (%doctor agent-wait)
gives up saying where to look. Terminal IPython on a pseudo-terminal prints
the text as it comes, once. The shell hooks print nothing of the agent.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, SLOW, SRC, ChatServer, Daemon, Pty, llm_config, run_tests,  # noqa: E402
                     wait_for)

IPYDIR = os.path.join(SRC, "scripts", "ipython")
EXTENSION = os.path.join(IPYDIR, "doctor_ipython.py")
BASH_HOOK = os.path.join(SRC, "scripts", "shell", "doctor.bash")
ZSH_HOOK = os.path.join(SRC, "scripts", "shell", "doctor.zsh")
SYSPY = "/usr/bin/python3"

sys.path.insert(0, IPYDIR)
import doctor_ipython  # noqa: E402  (stdlib only: importable anywhere)

d = Daemon(env={"OPENAI_BASE_URL": "", "OPENAI_MODEL": ""})
CONFIG = os.path.join(d.tmp, "doctor.yaml")
DOCS = os.path.join(SRC, "tests", "cases", "hooks", "docs")
chat = {}

# Run by /usr/bin/python3: execute cells in a real kernel, print the outputs.
NB_RUNNER = r"""
import json, sys, nbformat
from nbclient import NotebookClient
from jupyter_client import KernelManager
import os
cells = json.loads(sys.argv[1])
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
km = KernelManager(kernel_name="doctor-test")
NotebookClient(nb, km=km, timeout=60, startup_timeout=60, allow_errors=True).execute(env=dict(os.environ))
print(json.dumps([c.get("outputs", []) for c in nb.cells]))
"""


# Run by /usr/bin/python3: one real kernel, its cells executed one by one
# through jupyter_client, every IOPub message of a cell kept with the time it
# arrived (seconds since the cell was sent). A cell with "interrupt_on" has
# the kernel interrupted (as Jupyter's stop button does) once an output
# shows that text.
KERNEL_RUNNER = r"""
import json, os, sys, time
from jupyter_client import KernelManager
cells = json.loads(sys.argv[1])
km = KernelManager(kernel_name="doctor-test")
km.start_kernel(env=dict(os.environ))
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=60)
results = []
try:
    for cell in cells:
        t0 = time.monotonic()
        msgs, state = [], {"interrupted": None}
        def hook(msg, cell=cell, msgs=msgs, state=state, t0=t0):
            kind = msg["msg_type"]
            msgs.append({"t": time.monotonic() - t0, "type": kind, "content": msg["content"]})
            want = cell.get("interrupt_on")
            if (want and state["interrupted"] is None and
                    kind in ("stream", "display_data", "update_display_data") and
                    want in json.dumps(msg["content"])):
                state["interrupted"] = time.monotonic() - t0
                km.interrupt_kernel()
        reply = kc.execute_interactive(cell["code"], output_hook=hook, timeout=cell.get("timeout", 120),
                                       stop_on_error=False)
        results.append({"status": reply["content"]["status"], "elapsed": time.monotonic() - t0,
                        "interrupted": state["interrupted"], "msgs": msgs})
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print(json.dumps(results))
"""


def notebook_tools():
    """None when a real kernel can be run, else the reason."""
    if not os.access(SYSPY, os.X_OK):
        return "no %s" % SYSPY
    r = subprocess.run([SYSPY, "-c", "import IPython, ipykernel, nbclient, nbformat"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "IPython/ipykernel/nbclient not importable by %s (apt-get install python3-ipykernel " \
               "python3-nbclient)" % SYSPY
    return None


def kernel_env(extra=None, pythonpath=True):
    """An environment whose kernel spec, IPython dir and Jupyter dirs are ours."""
    jup = os.path.join(d.tmp, "jupyter")
    spec = os.path.join(jup, "kernels", "doctor-test")
    os.makedirs(spec, exist_ok=True)
    with open(os.path.join(spec, "kernel.json"), "w") as f:
        json.dump({"argv": [SYSPY, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                   "display_name": "doctor test", "language": "python"}, f)
    e = dict(d.env)
    for k in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "JPY_SESSION_NAME"):
        e.pop(k, None)
    e.update({"JUPYTER_PATH": jup, "JUPYTER_DATA_DIR": os.path.join(d.tmp, "jupyter-data"),
              "JUPYTER_RUNTIME_DIR": os.path.join(d.tmp, "jupyter-run"),
              "JUPYTER_CONFIG_DIR": os.path.join(d.tmp, "jupyter-config"),
              "IPYTHONDIR": os.path.join(d.tmp, "ipython"), "PYDEVD_DISABLE_FILE_VALIDATION": "1",
              "DOCTOR_SOCKET": d.socket, "DOCTOR_WAIT": "1"})
    if pythonpath:
        e["PYTHONPATH"] = IPYDIR
    e.update(extra or {})
    return e


def run_notebook(cells, env):
    r = subprocess.run([SYSPY, "-c", NB_RUNNER, json.dumps(cells)], capture_output=True, text=True,
                       env=env, timeout=180 * SLOW)
    if r.returncode != 0:
        raise RuntimeError("notebook run failed:\n" + r.stderr[-4000:])
    return json.loads(r.stdout)


def run_kernel(cells, env):
    """cells: [{"code", "interrupt_on"?, "timeout"?}] -> per cell {status, elapsed,
    interrupted, msgs}."""
    r = subprocess.run([SYSPY, "-c", KERNEL_RUNNER, json.dumps(cells)], capture_output=True, text=True,
                       env=env, timeout=300 * SLOW)
    if r.returncode != 0:
        raise RuntimeError("kernel run failed:\n" + r.stderr[-4000:])
    return json.loads(r.stdout)


def plain(content):
    return ((content.get("data") or {}).get("text/plain") or "") if isinstance(content, dict) else ""


def final_outputs(msgs):
    """The cell's outputs as a notebook keeps them: updates applied in place.
    [(type, text/plain or stream text, display_id)]"""
    outs = []
    for m in msgs:
        c = m["content"]
        did = (c.get("transient") or {}).get("display_id")
        if m["type"] == "stream":
            outs.append(("stream", c.get("text", ""), None))
        elif m["type"] == "display_data":
            outs.append(("display", plain(c), did))
        elif m["type"] == "update_display_data":
            outs = [(k, plain(c), i) if i == did and did else (k, t, i) for k, t, i in outs]
        elif m["type"] == "error":
            outs.append(("error", c.get("ename", ""), None))
    return outs


def cell_text(msgs):
    return "\n".join(t for _, t, _ in final_outputs(msgs))


def texts(outputs, kind=None):
    """All text of a cell's outputs (streams and text/plain of displays)."""
    out = []
    for o in outputs:
        if kind and o.get("output_type") != kind:
            continue
        out.append(o.get("text") or (o.get("data") or {}).get("text/plain") or "")
    return "".join(out)


def find_incident(c, exception, name):
    for inc in c.call("incident.list", {"exception": exception})["incidents"]:
        if inc["source"] and inc["source"]["name"] == name:
            return inc
    return None


def start(tap):
    with open(CONFIG, "w") as f:
        f.write("agent:\n  cache: true\n")     # no LLM until agent_setup
    d.config = CONFIG
    d.start()
    tap.ok(True, "daemon started")


def render(tap):
    inc = {"id": 3, "exception": "ModuleNotFoundError", "message": "No module named '<cv2>'"}
    diag = [{"plugin": "python.missing_module", "summary": "Module cv2 <missing>",
             "explanation": "a & b", "confidence": 0.9}]
    rem = [{"id": 12, "incident": 3, "title": "Install <opencv>",
            "argv": ["/usr/bin/python3", "-m", "pip", "install", "opencv python"],
            "changes_system": True, "state": "proposed"}]
    h = doctor_ipython.render_html(inc, diag, rem)
    tap.ok("<opencv>" not in h and "&lt;opencv&gt;" in h and "a &amp; b" in h,
           "HTML box escapes what the daemon sent", h)
    t = doctor_ipython.render_text(inc, diag, rem)
    for want in ("incident #3", "Module cv2 <missing>", "[12]", "Install <opencv>",
                 "$ /usr/bin/python3 -m pip install 'opencv python'", "%doctor confirm 12",
                 "changes your system"):
        tap.ok(want in t and doctor_ipython.html.escape(want) in h,
               "text and HTML both carry %r" % want, t + "\n" + h)


def notebook(tap):
    why = notebook_tools()
    if why:
        tap.skip("notebook error reaches the daemon", why)
        return
    name = "hooks-test-%s.ipynb" % uuid.uuid4().hex[:8]
    cells = ["%load_ext doctor_ipython", "import nonexistent_mod_for_doctor", "print(6 * 7)",
             "%doctor", "%doctor confirm 999999", "def broken(:\n    pass"]
    outs = run_notebook(cells, kernel_env({"JPY_SESSION_NAME": name}))
    errors = [o for o in outs[1] if o.get("output_type") == "error"]
    tap.eq([e.get("ename") for e in errors], ["ModuleNotFoundError"],
           "the cell shows exactly one normal error output")
    tb = "\n".join(errors[0].get("traceback", [])) if errors else ""
    tap.ok("nonexistent_mod_for_doctor" in tb and "----> 1" in tb,
           "with IPython's own traceback", tb)
    tap.eq(texts(outs[0]), "", "loading the extension prints nothing")
    tap.eq(texts(outs[2]), "42\n", "the next cell runs normally")
    c = d.client()
    inc = wait_for(lambda: find_incident(c, "ModuleNotFoundError", name), 5)
    tap.ok(inc is not None, "the daemon recorded a ModuleNotFoundError from the notebook")
    if not inc:
        return
    tap.eq(inc["detector"], "python.structured", "as a structured error")
    tap.eq(inc["source"]["kind"], "notebook", "from a notebook source")
    full = c.call("incident.get", {"id": inc["id"]})["incident"]
    ctx = full["source"].get("context") or {}
    tap.eq(ctx.get("python"), SYSPY, "context python is the kernel's interpreter")
    tap.eq(ctx.get("kernel"), True, "context says it is a kernel")
    tap.ok(isinstance(ctx.get("pid"), int) and ctx.get("cwd"), "context has pid and cwd", ctx)
    note = texts(outs[1], "display_data")
    tap.ok("incident #%d" % inc["id"] in note, "the cell names the incident under the traceback", note)
    status = texts(outs[3])
    tap.ok("connected to %s" % d.socket in status and "incident #%d" % inc["id"] in status,
           "%doctor shows the connection and the last incident", status)
    confirm = texts(outs[4])
    tap.ok(confirm.startswith("doctor: ") and not [o for o in outs[4] if o.get("output_type") == "error"],
           "%doctor confirm of an unknown remedy explains, without an error", confirm)
    tap.eq([o.get("ename") for o in outs[5] if o.get("output_type") == "error"], ["SyntaxError"],
           "a cell that does not compile shows IPython's SyntaxError")
    syn = wait_for(lambda: find_incident(c, "SyntaxError", name), 5)
    tap.ok(syn is not None, "and the SyntaxError reaches the daemon too")
    c.close()


def notebook_diagnosis(tap):
    why = notebook_tools()
    c = d.client()
    try:
        c.call("incident.diagnosis", {"id": 1})
    except Exception as e:
        if getattr(e, "code", None) == -32601:
            why = why or "the daemon has no diagnoses yet (incident.diagnosis unknown)"
    c.close()
    if why:
        tap.skip("a diagnosis and its remedies are shown inline", why)
        return
    name = "hooks-diag-%s.ipynb" % uuid.uuid4().hex[:8]
    outs = run_notebook(["%load_ext doctor_ipython", "%doctor wait 10", "import nonexistent_mod_for_doctor2",
                         "import doctor_ipython\nr = doctor_ipython.status()['remedies']\n"
                         "get_ipython().run_line_magic('doctor', 'dry-run %d' % r[0]['id'])"],
                        kernel_env({"JPY_SESSION_NAME": name}))
    box = texts(outs[2], "display_data")
    tap.ok("%doctor confirm" in box and "pip" in box, "the remedy is shown with its command", box)
    html = "".join((o.get("data") or {}).get("text/html", "") for o in outs[2])
    tap.ok("doctor-box" in html, "as HTML too", html)
    dry = texts(outs[3])
    tap.ok("would run" in dry and "nothing was run" in dry, "%doctor dry-run says what would run", dry)


def notebook_without_daemon(tap):
    why = notebook_tools()
    if why:
        tap.skip("a notebook without a daemon", why)
        return
    env = kernel_env({"DOCTOR_SOCKET": os.path.join(d.tmp, "no-such.sock")})
    outs = run_notebook(["%load_ext doctor_ipython", "1/0", "{}['k']", "print('still fine')"], env)
    tap.eq([[o.get("ename") for o in outs[i] if o.get("output_type") == "error"] for i in (1, 2)],
           [["ZeroDivisionError"], ["KeyError"]], "tracebacks still show without a daemon")
    warn = "".join(texts(o) for o in outs)
    tap.eq(warn.count("doctor:"), 1, "one warning in the whole session")
    tap.ok("no daemon at" in warn, "which says why", warn)
    tap.eq(texts(outs[3]), "still fine\n", "later cells run")


def enable_disable(tap):
    why = notebook_tools()
    ipy = os.path.join(d.tmp, "ipython-enable")
    env = dict(kernel_env(pythonpath=False), IPYTHONDIR=ipy)
    startup = os.path.join(ipy, "profile_default", "startup", "50-doctor.py")

    def cli(*args):
        return subprocess.run([sys.executable, EXTENSION] + list(args), capture_output=True, text=True,
                              env=env, timeout=30)
    r = cli("--enable")
    tap.ok(r.returncode == 0 and os.path.isfile(startup), "--enable writes the startup file", r.stderr)
    first = open(startup).read() if os.path.isfile(startup) else ""
    r = cli("--enable")
    tap.ok(r.returncode == 0 and open(startup).read() == first, "--enable again: same file")
    tap.ok(repr(IPYDIR) in first, "the file knows where the extension is", first)
    if why:
        tap.skip("an enabled kernel reports without %load_ext", why)
    else:
        name = "hooks-enabled-%s.ipynb" % uuid.uuid4().hex[:8]
        outs = run_notebook(["raise KeyError('doctor-enable-check')"], dict(env, JPY_SESSION_NAME=name))
        tap.eq([o.get("ename") for o in outs[0] if o.get("output_type") == "error"], ["KeyError"],
               "the error shows in the enabled kernel")
        c = d.client()
        tap.ok(wait_for(lambda: find_incident(c, "KeyError", name), 5) is not None,
               "and reached the daemon with no %load_ext and no PYTHONPATH")
        c.close()
    r = cli("--disable")
    tap.ok(r.returncode == 0 and not os.path.exists(startup), "--disable removes it", r.stderr)
    r = cli("--disable")
    tap.ok(r.returncode == 0 and "not enabled" in r.stdout, "--disable again: nothing to do", r.stdout)
    with open(startup, "w") as f:
        f.write("print('mine')\n")
    r = cli("--enable")
    tap.ok(r.returncode == 1 and open(startup).read() == "print('mine')\n",
           "a file that is not ours is left alone", r.stderr)
    r = cli("--disable")
    tap.ok(r.returncode == 1 and os.path.exists(startup), "also by --disable")


# ---------------------------------------------------------------- the agent

def configure(tap, model):
    with open(CONFIG, "w") as f:
        f.write(llm_config(chat["server"].url, model))
    r = d.doctor("reload")
    tap.ok(r.returncode == 0, "the daemon asks %s now" % model, r.stderr)


def agent_setup(tap):
    chat["server"] = ChatServer(d.tmp)
    r = d.doctor("index", DOCS)
    tap.ok(r.returncode == 0, "the test documentation is indexed", r.stderr)
    configure(tap, "script:hooks_agent")


def live_updates(msgs):
    """[(time, text/plain)] of the live output: its display and its updates."""
    did = None
    out = []
    for m in msgs:
        c = m["content"]
        if m["type"] == "display_data" and "asking script:" in plain(c):
            did = (c.get("transient") or {}).get("display_id")
            out.append((m["t"], plain(c)))
        elif m["type"] == "update_display_data" and did and (c.get("transient") or {}).get("display_id") == did:
            out.append((m["t"], plain(c)))
    return out


def remedy_ids(text):
    import re
    return [int(x) for x in re.findall(r"\[(\d+)\] Recalibrate the flux widget", text)]


def agent_notebook(tap):
    why = notebook_tools()
    if why:
        tap.skip("the agent's answer in a notebook", why)
        return
    name = "hooks-agent-%s.ipynb" % uuid.uuid4().hex[:8]
    define = ("class FluxWidgetError(Exception):\n    pass\n\n"
              "def read_widget():\n    raise FluxWidgetError('calibration drifted by 3 units')\n")
    cells = run_kernel([{"code": "%load_ext doctor_ipython"}, {"code": define},
                        {"code": "read_widget()"}, {"code": "read_widget()"},
                        {"code": "print(1 + 1)"}], kernel_env({"JPY_SESSION_NAME": name}))
    first, again = cells[2], cells[3]
    outs = final_outputs(first["msgs"])
    tap.eq([t for k, t, _ in outs if k == "error"], ["FluxWidgetError"],
           "agent: the cell shows its error as usual")
    live = live_updates(first["msgs"])
    tap.ok(len(live) >= 3, "agent: one output shown at once and updated as the model writes", live)
    part = [t for t, text in live if "The flux wid" in text and "Recalibrate it" not in text]
    whole = [t for t, text in live if "Recalibrate it, then run the cell again." in text]
    tap.ok(part and whole and whole[0] - part[0] >= 1.0,
           "agent: the first part of the answer shows before the rest is written", live)
    tap.ok(live and "Checking what a drifted calibration means." in live[-1][1],
           "agent: the text of every turn stays in that output", live[-1:] if live else live)
    boxes = [t for k, t, _ in outs if k == "display" and t.startswith("doctor: incident #")]
    box = boxes[-1] if boxes else ""
    tap.ok("The flux widget lost its calibration." in box and "agent" in box,
           "agent: then the diagnosis, by the agent", box)
    tap.ok("see: widgets.md#calibration" in box, "agent: citing the page it read (page#anchor)", box)
    ids = remedy_ids(box)
    tap.ok(len(ids) == 1 and ("%%doctor confirm %d" % ids[0]) in box,
           "agent: its remedy with the id to confirm it", box)
    tap.ok("Its zero point moved" not in box, "agent: the streamed answer is not repeated in the box", box)
    tap.ok("2300+85 tokens" in box and "$0.00127" in box, "agent: tokens and cost", box)
    tap.eq(first["status"], "error", "agent: the cell still ends in its error")
    c = d.client()
    inc = find_incident(c, "FluxWidgetError", name)
    c.close()
    tap.ok(inc and ("incident #%d" % inc["id"]) in box, "agent: the box names the incident", inc)
    # the same error again: the diagnosis is there already, no waiting
    again_box = cell_text(again["msgs"])
    tap.ok(again["elapsed"] < 1.5 * SLOW and not live_updates(again["msgs"]),
           "agent: the same error again shows at once (%.2f s)" % again["elapsed"], again_box)
    tap.ok("The flux widget lost its calibration." in again_box and remedy_ids(again_box) == ids
           and "see: widgets.md#calibration" in again_box,
           "agent: with the same diagnosis, citation and remedy", again_box)
    tap.eq(cell_text(cells[4]["msgs"]), "2\n", "agent: the next cell runs normally")
    tap.eq(len(chat["server"].requests("script:hooks_agent")), 2,
           "agent: two requests for the first error, none for the second")


def agent_interrupt(tap):
    why = notebook_tools()
    if why:
        tap.skip("interrupting the wait for the agent", why)
        return
    configure(tap, "script:hooks_slow")
    name = "hooks-slow-%s.ipynb" % uuid.uuid4().hex[:8]
    show = ("import doctor_ipython\n"
            "get_ipython().run_line_magic('doctor', 'show %d' % doctor_ipython.status()['last_incident']['id'])")
    cells = run_kernel([{"code": "%load_ext doctor_ipython"},
                        {"code": "%doctor agent-wait 2\nraise ValueError('slow widget number 1')"},
                        {"code": "%doctor agent-wait 60\nraise RuntimeError('slow widget number 2')",
                         "interrupt_on": "Thinking about"},
                        {"code": show}], kernel_env({"JPY_SESSION_NAME": name}))
    bounded, stopped, shown = cells[1], cells[2], cells[3]
    text = cell_text(bounded["msgs"])
    tap.ok("still diagnosing after 2 s" in text and "%doctor show" in text and bounded["elapsed"] < 8 * SLOW,
           "agent-wait: the wait gives up after 2 s, saying where the diagnosis will be "
           "(%.1f s)" % bounded["elapsed"], text)
    text = cell_text(stopped["msgs"])
    tap.ok(stopped["interrupted"] is not None and stopped["elapsed"] - stopped["interrupted"] < 3 * SLOW,
           "interrupt: the kernel interrupt ends the wait at once", stopped)
    tap.ok("stopped waiting; the diagnosis continues in the daemon" in text and "%doctor show" in text
           and "doctor show" in text, "interrupt: the cell says the diagnosis continues and where", text)
    tap.eq([t for k, t, _ in final_outputs(stopped["msgs"]) if k == "error"], ["RuntimeError"],
           "interrupt: the cell's own error is still shown")
    text = cell_text(shown["msgs"])
    tap.ok("Thinking about this error for a long while. The rest of the answer comes much later." in text
           and "answer of script:hooks_slow" in text,
           "%doctor show ID follows the run again to its end", text)


def agent_terminal(tap):
    why = notebook_tools()
    if why:
        tap.skip("the agent's answer in terminal IPython", why)
        return
    configure(tap, "script:hooks_agent")
    env = kernel_env({"TERM": "dumb"})
    ipy = Pty([SYSPY, "-m", "IPython", "--simple-prompt", "--no-banner", "--colors=NoColor",
               "--no-confirm-exit"], env)
    try:
        tap.ok(ipy.wait_for("In [1]:", 30), "terminal IPython starts", ipy.out[-2000:])
        ipy.write("%load_ext doctor_ipython\n")
        ipy.wait_for("In [2]:", 10)
        start = len(ipy.out)
        ipy.write("raise ArithmeticError('the flux gauge drifted by 7 units')\n")
        seen = {}
        end = time.time() + 30 * SLOW
        while time.time() < end and "prompt" not in seen:
            ipy.pump(0.02)
            tail = ipy.out[start:]
            for key, text in (("part", b"The flux wid"), ("whole", b"then run the cell again."),
                              ("prompt", b"In [3]:")):
                if key not in seen and text in tail:
                    seen[key] = time.time()
        out = ipy.out[start:].decode("utf-8", "replace")
        tap.ok("asking script:hooks_agent" in out and "ArithmeticError" in out,
               "terminal: the traceback, then the agent is asked", out)
        tap.ok("part" in seen and "whole" in seen and seen["whole"] - seen["part"] >= 1.0,
               "terminal: the answer is printed as it is written", out)
        tap.eq(out.count("Its zero point moved"), 1, "terminal: the answer is printed once")
        tap.ok("see: widgets.md#calibration" in out and remedy_ids(out) and
               "%%doctor confirm %d" % remedy_ids(out)[0] in out,
               "terminal: then the citation and the remedy's id", out)
        ipy.write("exit\n")
        tap.ok(wait_for(lambda: ipy.proc.poll() is not None, 10), "terminal IPython exits")
    finally:
        ipy.close()


class PtyShell(Pty):
    """An interactive shell on a pseudo-terminal, typed into line by line."""

    def prompts(self):
        return self.out.count(b"HOOKPROMPT>")

    def type(self, line, timeout=10):
        """Type a line and wait for the next prompt."""
        n = self.prompts()
        os.write(self.master, line.encode() + b"\n")
        end = time.time() + timeout * SLOW
        while self.prompts() <= n and time.time() < end and self.proc.poll() is None:
            self.pump(0.05)


def tagged_processes(tag):
    """Processes (other than us) whose environment carries tag."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                if tag.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def shell_hook(tap, shell, argv, hook, not_found):
    label = os.path.basename(hook)
    path = shutil.which(shell)
    if not path:
        tap.skip("%s hook" % label, "%s is not installed" % shell)
        return
    tag = "DOCTOR_HOOK_TEST=" + uuid.uuid4().hex
    run = os.path.join(d.tmp, "run-" + shell)
    os.makedirs(run, mode=0o700, exist_ok=True)
    env = dict(d.env, DOCTOR_SOCKET=d.socket, XDG_RUNTIME_DIR=run, TERM="dumb", PS1="HOOKPROMPT> ",
               PROMPT="HOOKPROMPT> ", HISTFILE=os.path.join(d.tmp, "hist-" + shell),
               PATH=BUILD + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
               DOCTOR_HOOK_TEST=tag.split("=", 1)[1])
    cmd = "frobnicate-xyz%s" % shell
    okmsg = "%s: zzz-ok-%s: command not found" % (shell, shell)
    sh = PtyShell([path] + argv, env)
    c = d.client()
    try:
        tap.ok(sh.wait_for("HOOKPROMPT>"), "%s starts" % shell, sh.out[-2000:])
        sh.type("source " + hook)
        tap.ok(len(os.listdir(run)) == 1, "%s: one private folder while the shell runs" % label, os.listdir(run))
        sh.type("echo hook-ok")
        sh.type("echo '%s' >&2" % okmsg)
        sh.type(cmd)
        sh.type("false; echo status=$?")
        sh.type("sleep 30 &")
        sh.type("bgpid=$!")
        sh.type("echo bg=$(cat /proc/$bgpid/comm); kill $bgpid")
        tap.ok(sh.wait_for(not_found % cmd), "%s: the terminal shows the shell's own error" % label,
               sh.out[-2000:])
        typed = sh.out.find(cmd.encode())
        err = sh.out.find((not_found % cmd).encode(), typed)
        tap.ok(0 <= typed < err < sh.out.find(b"HOOKPROMPT>", typed),
               "%s: before the next prompt" % label, sh.out[-2000:])
        tap.ok(b"status=1" in sh.out and b"hook-ok" in sh.out, "%s: output and $? are intact" % label,
               sh.out[-2000:])
        tap.ok(b"bg=sleep" in sh.out, "%s: $! is still the last background job" % label, sh.out[-2000:])
        inc = wait_for(lambda: find_incident(c, "CommandNotFound", cmd), 10)
        tap.ok(inc is not None, "%s: the failing command became an incident" % label)
        if inc:
            full = c.call("incident.get", {"id": inc["id"]})["incident"]
            tap.eq((full["source"]["kind"], full["extra"].get("command")), ("shell", cmd),
                   "%s: a shell source, the missing command recorded" % label)
            ctx = full["source"].get("context") or {}
            tap.eq((ctx.get("command"), ctx.get("exit_status"), ctx.get("shell")), (cmd, 127, shell),
                   "%s: the command line, exit status and shell are the source's context" % label)
            tap.ok("python" not in ctx and ctx.get("cwd") == os.getcwd(),
                   "%s: with its directory, and no python for a command that is not one" % label, ctx)
            tap.ok("(exit 127)" not in (full.get("context") or ""),
                   "%s: no header line in the text sent" % label, full.get("context"))
        if os.access(SYSPY, os.X_OK):
            # a Python interpreter, named as on PATH after an assignment:
            # its absolute path goes with the output
            mod = "nonexistent_mod_for_%s_hook" % shell
            sh.type("DOCTOR_X=1 python3 -c 'import %s'" % mod)
            pinc = wait_for(lambda: [i for i in c.call("incident.list", {"exception": "ModuleNotFoundError"})[
                "incidents"] if mod in i["message"]], 10)
            pctx = c.call("incident.get", {"id": pinc[0]["id"]})["incident"]["source"].get("context") \
                if pinc else {}
            tap.eq((pctx.get("python"), pctx.get("exit_status"), pctx.get("shell")),
                   (shutil.which("python3", path=env["PATH"]), 1, shell),
                   "%s: a python command sends its interpreter's absolute path" % label)
        else:
            tap.skip("%s: a python command sends its interpreter" % label, "no %s" % SYSPY)
        if chat.get("server") and os.access(SYSPY, os.X_OK):
            # an error only the agent knows: the hook sends it, the agent
            # answers in the daemon, and the terminal shows nothing of it
            msg = "shell agent check %s" % shell
            mark = len(sh.out)
            sh.type("python3 -c 'raise LookupError(\"%s\")'" % msg)
            ainc = wait_for(lambda: [i for i in c.call("incident.list", {"exception": "LookupError"})[
                "incidents"] if msg in i["message"]], 10)
            runs = wait_for(lambda: ainc and [r for r in c.call("incident.get", {"id": ainc[0]["id"]})[
                "incident"].get("runs", []) if r["state"] != "running"], 20)
            tap.ok(runs and runs[-1]["state"] == "done",
                   "%s: the agent diagnosed an error the hook sent" % label, runs)
            sh.type("echo after-agent")
            seen = sh.out[mark:].decode("utf-8", "replace")
            tap.ok("after-agent" in seen and "doctor" not in seen.replace("doctor.bash", "")
                   and "flux" not in seen and "asking" not in seen,
                   "%s: the shell shows nothing of the agent's work" % label, seen)
            # doctor run in the hooked shell: not copied by the hook, so its
            # stderr is the terminal: the answer streams and it asks
            mark = len(sh.out)
            sh.write("doctor run -- python3 -c 'raise LookupError(\"shell doctor run %s\")'\n" % shell)
            asked = sh.wait_for("? [y/N]", 30, start=mark)
            seen = sh.out[mark:].decode("utf-8", "replace")
            tap.ok(asked and "asking script:hooks_agent" in seen and "Its zero point moved" in seen,
                   "%s: doctor run streams the agent's answer and asks on the terminal" % label, seen)
            sh.type("n")
            seen = sh.out[mark:].decode("utf-8", "replace")
            tap.ok("to run it later: doctor confirm" in seen, "%s: and no is no" % label, seen)
            names = [i["source"]["name"] for i in c.call("incident.list", {"exception": "LookupError"})[
                "incidents"] if "shell doctor run %s" % shell in i["message"]]
            tap.ok(len(names) == 1 and names[0].startswith("python3"),
                   "%s: the error reported once, by doctor run, not by the hook" % label, names)
        names = [i["source"]["name"] for i in c.call("incident.list", {"limit": 1000})["incidents"] if i["source"]]
        tap.ok(not any("zzz-ok" in n or "hook-ok" in n for n in names),
               "%s: nothing was sent for commands that succeeded" % label, names)
        sh.type("exit")
        tap.ok(wait_for(lambda: sh.proc.poll() is not None, 10), "%s exits" % shell)
        tap.ok(wait_for(lambda: not os.listdir(run), 10), "%s: its private folder is removed" % label,
               os.listdir(run))
        left = wait_for(lambda: not tagged_processes(tag.split("=", 1)[1]), 10)
        tap.ok(left, "%s: no process is left behind" % label, tagged_processes(tag.split("=", 1)[1]))
    finally:
        c.close()
        sh.close()
        for pid in tagged_processes(tag.split("=", 1)[1]):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def bash(tap):
    shell_hook(tap, "bash", ["--norc", "--noprofile", "-i"], BASH_HOOK, "bash: %s: command not found")


def zsh(tap):
    shell_hook(tap, "zsh", ["-f", "-i"], ZSH_HOOK, "zsh: command not found: %s")


def stop(tap):
    if chat.get("server"):
        chat["server"].stop()
    tap.eq(d.stop(), 0, "daemon exits cleanly")
    d.cleanup()


run_tests([start, render, notebook, notebook_diagnosis, notebook_without_daemon, enable_disable,
           agent_setup, agent_notebook, agent_interrupt, agent_terminal, bash, zsh, stop])
