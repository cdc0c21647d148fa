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
from harness import BUILD, SLOW, SRC, Daemon, Pty, run_tests, wait_for  # noqa: E402

IPYDIR = os.path.join(SRC, "scripts", "ipython")
EXTENSION = os.path.join(IPYDIR, "doctor_ipython.py")
BASH_HOOK = os.path.join(SRC, "scripts", "shell", "doctor.bash")
ZSH_HOOK = os.path.join(SRC, "scripts", "shell", "doctor.zsh")
SYSPY = "/usr/bin/python3"

sys.path.insert(0, IPYDIR)
import doctor_ipython  # noqa: E402  (stdlib only: importable anywhere)

d = Daemon()

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
    tap.eq(d.stop(), 0, "daemon exits cleanly")
    d.cleanup()


run_tests([start, render, notebook, notebook_diagnosis, notebook_without_daemon, enable_disable,
           bash, zsh, stop])
