"""doctor_ipython - report notebook errors to doctor's daemon and show its answer.

An IPython extension (terminal IPython and every Jupyter kernel built on
ipykernel). Loaded with ``%load_ext doctor_ipython`` - or for every kernel of
the user with ``python3 -m doctor_ipython --enable`` - it

- opens one source of kind "notebook" on doctord's Unix socket (the same
  socket rule as common/paths.c: $DOCTOR_SOCKET, else
  $XDG_RUNTIME_DIR/doctor/doctord.sock, else /tmp/doctor-$UID/doctord.sock);
- installs a custom exception handler: IPython's own traceback is shown
  first, exactly as without doctor, then the error goes to the daemon as a
  structured ``source.error`` (ename, evalue, the traceback lines, the cell);
- waits a short, bounded time (``DOCTOR_WAIT`` seconds, default 2;
  ``%doctor wait N``) for the daemon's ``diagnosis.done`` about that incident
  and shows it under the traceback (HTML in Jupyter, plain text elsewhere),
  with the remedies and their ids. A daemon without diagnoses gets no wait:
  the incident id alone is shown;
- when the daemon's agent (an LLM) takes the error instead
  (``diagnosis.started`` within that wait), shows its answer as the model
  writes it - in a kernel one output updated in place, in a terminal the
  text as it comes - for up to ``DOCTOR_AGENT_WAIT`` seconds (default 120;
  ``%doctor agent-wait N``) or until interrupted, then the diagnosis with
  the pages it cites and its remedies. An interrupt stops the waiting only:
  the diagnosis continues in the daemon, and ``%doctor show ID`` picks it
  up again;
- adds the ``%doctor`` line magic: status, show an incident, confirm/
  dry-run/reject/undo a remedy by id (a confirmed remedy's output streams
  into the cell).

Nothing here may break the user's cell: without a daemon, or when it goes
away, the traceback still shows, one short warning is printed per session,
and reconnecting is retried with a growing delay.

Only the standard library is used (IPython itself is where it runs); the
protocol is docs/protocol.md, JSON-RPC 2.0, one object per line.
"""
import html
import json
import os
import re
import shlex
import socket
import sys
import time

__all__ = ["load_ipython_extension", "unload_ipython_extension", "main"]

DEFAULT_WAIT = 2.0          # seconds to wait for a diagnosis after an error
MAX_WAIT = 60.0
DEFAULT_AGENT_WAIT = 120.0  # seconds to follow the agent's answer once it started
MAX_AGENT_WAIT = 3600.0
REPLY_TIMEOUT = 2.0         # a reply to a request made from the error path
MAGIC_TIMEOUT = 10.0        # a reply to a request made by %doctor
RETRY_FIRST = 1.0           # reconnect backoff: first delay, then doubled
RETRY_MAX = 60.0
TRACEBACK_MAX = 512 * 1024  # bytes of traceback sent (the daemon takes 1 MiB lines)
CELL_MAX = 64 * 1024
NOTES_MAX = 1000            # notifications kept while nobody asks for them
BUFFER_MAX = 16 * 1024 * 1024

ERR_METHOD_NOT_FOUND = -32601
ERR_UNKNOWN_SOURCE = -32002
ERR_SOURCE_CLOSED = -32007

# ---------------------------------------------------------------------------
# Where the daemon is and how to talk to it
# ---------------------------------------------------------------------------


def socket_path():
    """The daemon's socket, by the rule of common/paths.c."""
    v = os.environ.get("DOCTOR_SOCKET")
    if v:
        return v
    v = os.environ.get("XDG_RUNTIME_DIR")
    if v and v.startswith("/"):
        return os.path.join(v, "doctor", "doctord.sock")
    return "/tmp/doctor-%d/doctord.sock" % os.getuid()


class Unavailable(Exception):
    """The daemon cannot be reached, or the connection broke."""


class RpcError(Exception):
    """The daemon answered a request with a JSON-RPC error."""

    def __init__(self, err):
        self.code = err.get("code") if isinstance(err, dict) else None
        self.message = err.get("message", "") if isinstance(err, dict) else str(err)
        super().__init__("%s (error %s)" % (self.message, self.code))


class Connection:
    """One JSON-RPC connection: requests with replies matched by id, and the
    daemon's notifications collected in arrival order in ``notes``."""

    def __init__(self, path, timeout=1.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.buf = b""
        self.next_id = 1
        self.notes = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _send(self, obj):
        try:
            self.sock.settimeout(REPLY_TIMEOUT)
            self.sock.sendall(json.dumps(obj).encode("utf-8") + b"\n")
        except OSError as e:
            raise Unavailable("cannot write to the daemon: %s" % e)

    def _read(self, deadline):
        """Next message, or None when the deadline passes first."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError as e:
                raise Unavailable("connection to the daemon lost: %s" % e)
            if not chunk:
                raise Unavailable("the daemon closed the connection")
            self.buf += chunk
            if len(self.buf) > BUFFER_MAX:
                raise Unavailable("the daemon sent an oversized message")
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return json.loads(line.decode("utf-8", "replace"))
        except ValueError:
            return {}

    def _keep(self, msg):
        if isinstance(msg, dict) and "method" in msg and "id" not in msg:
            self.notes.append(msg)
            del self.notes[:-NOTES_MAX]

    def call(self, method, params=None, timeout=REPLY_TIMEOUT):
        """Send a request and return its result; RpcError for an error reply,
        Unavailable when the daemon is gone or silent past the timeout."""
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self._send(msg)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m is None:
                raise Unavailable("the daemon did not answer %s within %g s" % (method, timeout))
            if isinstance(m, dict) and m.get("id") == rid:
                if "error" in m:
                    raise RpcError(m["error"])
                return m.get("result")
            self._keep(m)

    def wait_note(self, pred, timeout):
        """The first collected or arriving notification for which pred(msg)
        holds (removed from ``notes``), or None after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.notes):
                if pred(m):
                    return self.notes.pop(i)
            m = self._read(deadline)
            if m is None:
                return None
            self._keep(m)

    def drain(self):
        """Collect what has already arrived, without waiting."""
        self.wait_note(lambda m: False, 0.0001)


# ---------------------------------------------------------------------------
# Rendering diagnoses and remedies (text/plain and text/html, same content)
# ---------------------------------------------------------------------------


def command_line(argv):
    if not isinstance(argv, list):
        return ""
    return " ".join(shlex.quote(str(a)) for a in argv)


def _remedy_lines(r):
    """(id, title, command, notes) of a remedy object, as strings."""
    notes = []
    if r.get("cwd"):
        notes.append("in " + str(r["cwd"]))
    if r.get("changes_system"):
        notes.append("changes your system")
    if r.get("state") and r.get("state") != "proposed":
        notes.append(str(r["state"]))
    return (str(r.get("id", "?")), str(r.get("title", "")), command_line(r.get("argv")),
            ", ".join(notes))


def _reference(ref):
    """"page#anchor  title" of an agent's citation, or a plugin's URL."""
    if isinstance(ref, str):
        return ref
    if not isinstance(ref, dict) or not ref.get("page"):
        return ""
    out = str(ref["page"]) + ("#" + str(ref["anchor"]) if ref.get("anchor") else "")
    return out + ("  " + str(ref["title"]) if ref.get("title") else "")


def _meta(d):
    conf = d.get("confidence")
    return ", ".join(x for x in (str(d.get("plugin") or ""), str(d.get("model") or ""),
                                 ("stopped by the limit %s" % d["limit"]) if d.get("limit") else "",
                                 ("confidence %.2f" % conf) if isinstance(conf, (int, float)) else "")
                     if x)


def _shown_explanation(d, streamed):
    """The explanation, unless the agent's answer was streamed just above."""
    if streamed and d.get("plugin") == "agent":
        return ""
    return str(d.get("explanation") or "")


def render_text(incident, diagnoses, remedies, notes=(), streamed=False):
    """The plain-text box; incident is the summary dict (id, exception,
    message); notes are lines said at the end (how the agent's run went);
    streamed: the agent's answer was shown as it was written."""
    out = ["doctor: incident #%s  %s: %s" % (incident.get("id"), incident.get("exception", ""),
                                              incident.get("message", ""))]
    for d in diagnoses:
        meta = _meta(d)
        out.append("  " + str(d.get("summary", "")) + ("  (%s)" % meta if meta else ""))
        for line in _shown_explanation(d, streamed).splitlines():
            out.append("    " + line)
        for ref in filter(None, map(_reference, d.get("references") or [])):
            out.append("    see: " + ref)
    if remedies:
        out.append("  Remedies:")
        for rid, title, cmd, rnotes in map(_remedy_lines, remedies):
            out.append("    [%s] %s" % (rid, title))
            out.append("         $ %s%s" % (cmd, ("   (%s)" % rnotes) if rnotes else ""))
        first = remedies[0].get("id")
        out.append("  Run one with: %%doctor confirm %s   (preview: %%doctor dry-run %s, "
                   "decline: %%doctor reject %s)" % (first, first, first))
    elif not diagnoses and not notes:
        out.append("  no diagnosis yet; details: doctor show %s" % incident.get("id"))
    for n in notes:
        out.append("  " + n)
    return "\n".join(out)


def render_html(incident, diagnoses, remedies, notes=(), streamed=False):
    e = html.escape
    parts = ['<div class="doctor-box" style="border:1px solid #d0a030;border-left:4px solid #d0a030;'
             'padding:6px 10px;margin:4px 0;font-size:13px">',
             "<b>doctor</b> &middot; incident #%s &middot; <code>%s: %s</code>" % (
                 e(str(incident.get("id"))), e(str(incident.get("exception", ""))),
                 e(str(incident.get("message", ""))))]
    for d in diagnoses:
        parts.append('<div style="margin-top:4px"><b>%s</b> <small>%s</small></div>' % (
            e(str(d.get("summary", ""))), e(_meta(d)).replace(", ", " &middot; ")))
        if _shown_explanation(d, streamed):
            parts.append('<div style="white-space:pre-wrap">%s</div>' % e(_shown_explanation(d, streamed)))
        refs = list(filter(None, map(_reference, d.get("references") or [])))
        if refs:
            parts.append("<div>see: %s</div>" % ", ".join("<code>%s</code>" % e(r) for r in refs))
    if remedies:
        parts.append('<ul style="margin:4px 0">')
        for rid, title, cmd, rnotes in map(_remedy_lines, remedies):
            parts.append("<li><code>[%s]</code> %s<br><code>$ %s</code>%s</li>" % (
                e(rid), e(title), e(cmd), (" <i>(%s)</i>" % e(rnotes)) if rnotes else ""))
        parts.append("</ul>")
        first = e(str(remedies[0].get("id")))
        parts.append("<div>Run one with <code>%%doctor confirm %s</code> &middot; preview "
                     "<code>%%doctor dry-run %s</code> &middot; decline <code>%%doctor reject %s</code>"
                     "</div>" % (first, first, first))
    elif not diagnoses and not notes:
        parts.append("<div>no diagnosis yet; details: <code>doctor show %s</code></div>"
                     % e(str(incident.get("id"))))
    for n in notes:
        parts.append("<div><small>%s</small></div>" % e(n))
    parts.append("</div>")
    return "".join(parts)


def show(incident, diagnoses, remedies, notes=(), streamed=False):
    """Display the box in the cell's output (HTML where the frontend can)."""
    text = render_text(incident, diagnoses, remedies, notes, streamed)
    try:
        from IPython.display import display
        display({"text/plain": text,
                 "text/html": render_html(incident, diagnoses, remedies, notes, streamed)}, raw=True)
    except Exception:
        print(text)


# ---------------------------------------------------------------------------
# The agent's answer as it is written
# ---------------------------------------------------------------------------

_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text):
    """Model text without escape sequences or control characters (but
    newline and tab): it is printed to a terminal."""
    return _UNSAFE.sub("", str(text))


class LiveAnswer:
    """The agent's answer shown while the model writes it.

    In a Jupyter kernel: one output updated in place (a display handle,
    text/plain and text/html), at most every UPDATE_EVERY seconds, so the
    notebook keeps one growing block and not a message per token. In a
    terminal IPython, where an update would print the whole block again,
    the text is printed as it comes."""

    UPDATE_EVERY = 0.15

    def __init__(self, incident_id, model, in_kernel, text=""):
        self.incident_id = incident_id
        self.model = model or "the LLM"
        self.in_kernel = in_kernel
        self.text = text
        self.status = "asking %s (%s stops waiting)..." % (
            self.model, "interrupting the kernel" if in_kernel else "Ctrl-C")
        self.handle = None
        self.shown_at = 0.0
        self.dirty = False

    def _bundle(self):
        head = "doctor: incident #%s: %s" % (self.incident_id, self.status)
        body = ('<div class="doctor-live" style="border-left:4px solid #d0a030;padding:4px 10px;'
                'margin:4px 0;font-size:13px"><b>doctor</b> &middot; incident #%s &middot; %s'
                '<div style="white-space:pre-wrap">%s</div></div>'
                % (html.escape(str(self.incident_id)), html.escape(self.status), html.escape(self.text)))
        return {"text/plain": head + ("\n" + self.text if self.text else ""), "text/html": body}

    def begin(self):
        if self.in_kernel:
            try:
                from IPython.display import display
                self.handle = display(self._bundle(), raw=True, display_id=True)
                self.shown_at = time.monotonic()
                return
            except Exception:
                self.in_kernel = False
        sys.stdout.write("doctor: incident #%s: %s\n" % (self.incident_id, self.status))
        if self.text:
            sys.stdout.write(terminal_safe(self.text))
        sys.stdout.flush()

    def add(self, text):
        text = terminal_safe(text)
        if self.text.endswith("\n\n"):
            text = text.lstrip("\n")     # a new turn's paragraph after one that ended a line
        elif self.text.endswith("\n") and text.startswith("\n\n"):
            text = text[1:]
        self.text += text
        if self.handle is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        self.dirty = True
        if time.monotonic() - self.shown_at >= self.UPDATE_EVERY:
            self.flush()

    def flush(self):
        if self.handle is not None and self.dirty:
            self.handle.update(self._bundle(), raw=True)
            self.shown_at = time.monotonic()
            self.dirty = False

    def restart(self, message, discard):
        """A retry: the request failed and is made again after a wait."""
        if discard:
            if self.handle is None and self.text:
                sys.stdout.write("\n[the text above is discarded; the answer starts again]\n")
            self.text = ""
        self.status = "asking %s again: %s" % (self.model, message)
        if self.handle is None:
            sys.stdout.write("doctor: %s\n" % self.status)
            sys.stdout.flush()
        self.dirty = True
        self.flush()

    def finish(self, status):
        self.status = status
        if self.handle is not None:
            self.dirty = True
            self.flush()
        else:
            if self.text and not self.text.endswith("\n"):
                sys.stdout.write("\n")
            sys.stdout.flush()


# ---------------------------------------------------------------------------
# The per-shell state: connection, source, last incident, remedies
# ---------------------------------------------------------------------------


def params_message(value):
    try:
        return str(value)[:300]
    except Exception:
        return ""


def _env_seconds(name, default, most):
    try:
        v = float(os.environ.get(name, default))
    except ValueError:
        return default
    return min(max(v, 0.0), most)


def _env_wait():
    return _env_seconds("DOCTOR_WAIT", DEFAULT_WAIT, MAX_WAIT)


def _env_agent_wait():
    return _env_seconds("DOCTOR_AGENT_WAIT", DEFAULT_AGENT_WAIT, MAX_AGENT_WAIT)


def _cut(text, limit):
    """text cut to about limit bytes, keeping its end (where errors are)."""
    b = text.encode("utf-8", "replace")
    if len(b) <= limit:
        return text
    return b[-limit:].decode("utf-8", "ignore")


def _cut_lines(lines, limit):
    """The traceback's lines within limit bytes: the first and last ones."""
    total = sum(len(x) for x in lines)
    if total <= limit:
        return lines
    head, tail, used = [], [], 0
    i, j = 0, len(lines) - 1
    while i <= j:
        for side in (0, 1):
            if i > j:
                break
            x = lines[i] if side == 0 else lines[j]
            if used + len(x) > limit:
                return head + ["... (%d lines omitted) ..." % (j - i + 1)] + tail[::-1]
            used += len(x)
            if side == 0:
                head.append(x)
                i += 1
            else:
                tail.append(x)
                j -= 1
    return head + tail[::-1]


class Doctor:
    """Everything the extension keeps for one IPython shell."""

    def __init__(self, shell):
        self.shell = shell
        self.conn = None
        self.source = None
        self.wait = _env_wait()
        self.agent_wait = _env_agent_wait()
        self.warned = False
        self.retry_at = 0.0
        self.retry_delay = RETRY_FIRST
        self.last_error = None        # why the daemon is unavailable
        self.diagnoses_supported = None  # unknown until the daemon is asked
        self.last_incident = None     # summary dict of the last incident
        self.diagnoses = {}           # incident id -> [diagnosis]
        self.remedies = {}            # remedy id -> remedy
        self.following = {}           # incident id -> (connection, run, model, text so
                                      # far) of an agent run left before its end
        self.cell = ""

    # -- the source -------------------------------------------------------

    def name(self):
        name = os.environ.get("JPY_SESSION_NAME")
        if not name:
            name = self.shell.user_ns.get("__vsc_ipynb_file__") if self.shell else None
        return str(name) if name else "ipython-%d" % os.getpid()

    def context(self):
        ctx = {"cwd": os.getcwd(), "python": sys.executable, "pid": os.getpid(),
               "kernel": hasattr(self.shell, "kernel")}
        venv = os.environ.get("VIRTUAL_ENV")
        if not venv and sys.prefix != getattr(sys, "base_prefix", sys.prefix):
            venv = sys.prefix
        if venv:
            ctx["virtualenv"] = venv
        if os.environ.get("CONDA_PREFIX"):
            ctx["conda"] = os.environ["CONDA_PREFIX"]
        return ctx

    def warn(self, why):
        """One short line per session, no more."""
        self.last_error = why
        if self.warned:
            return
        self.warned = True
        print("doctor: %s; errors are not reported (%%doctor for status)" % why, file=sys.stderr)

    def drop(self, why):
        if self.conn:
            self.conn.close()
        self.conn = None
        self.source = None
        self.last_error = why
        self.retry_at = time.monotonic() + self.retry_delay
        self.retry_delay = min(self.retry_delay * 2, RETRY_MAX)

    def connect(self, force=False):
        """True when connected with an open source; tries at most once per
        backoff period unless forced (the user asked, with %doctor)."""
        if self.conn:
            return True
        if not force and time.monotonic() < self.retry_at:
            return False
        path = socket_path()
        try:
            self.conn = Connection(path)
            self.conn.call("hello", {"client": "doctor_ipython", "pid": os.getpid()})
            self.source = self.conn.call("source.open", {"kind": "notebook", "name": self.name(),
                                                         "context": self.context()})["source"]
        except (OSError, Unavailable, RpcError, KeyError, TypeError) as e:
            if isinstance(e, OSError) and not isinstance(e, socket.timeout):
                why = "no daemon at %s (%s)" % (path, e.strerror or e)
            else:
                why = "the daemon at %s: %s" % (path, e)
            self.drop(why)
            self.warn(why)
            return False
        self.retry_delay = RETRY_FIRST
        self.last_error = None
        return True

    def call(self, method, params=None, timeout=REPLY_TIMEOUT, force=False):
        """A request on the connection; Unavailable when there is none."""
        if not self.connect(force):
            raise Unavailable(self.last_error or "not connected")
        try:
            return self.conn.call(method, params, timeout)
        except RpcError:
            raise
        except BaseException as e:
            # A broken or interrupted exchange leaves the stream unusable.
            self.drop(str(e) or type(e).__name__)
            if isinstance(e, Unavailable):
                self.warn(str(e))
            raise

    # -- errors -----------------------------------------------------------

    def report(self, etype, value, tb, tb_offset):
        """Send the error; return the source.error result or None."""
        try:
            if hasattr(value, "_render_traceback_"):
                stb = value._render_traceback_()
            elif issubclass(etype, SyntaxError) and tb is None:
                # raised while compiling the cell: IPython's syntax formatter
                stb = self.shell.SyntaxTB.structured_traceback(etype, value, [])
            else:
                stb = self.shell.InteractiveTB.structured_traceback(etype, value, tb,
                                                                    tb_offset=tb_offset)
        except Exception:
            import traceback
            stb = traceback.format_exception(etype, value, tb)
        try:
            evalue = str(value)
        except Exception:
            evalue = "<unprintable %s>" % etype.__name__
        params = {"ename": etype.__name__, "evalue": evalue,
                  "traceback": _cut_lines([str(x) for x in stb], TRACEBACK_MAX),
                  "cell": _cut(self.cell or "", CELL_MAX)}
        for attempt in (0, 1):
            if not self.connect():
                return None
            params["source"] = self.source
            try:
                return self.call("source.error", params)
            except RpcError as e:
                if attempt == 0 and e.code in (ERR_UNKNOWN_SOURCE, ERR_SOURCE_CLOSED):
                    self.drop(str(e))
                    self.retry_at = 0.0
                    continue
                self.warn("the daemon refused the error: %s" % e)
                return None
            except Unavailable:
                return None
        return None

    def known_diagnosis(self, incident_id):
        """Ask the daemon what it already has; None when it has no diagnoses
        at all (an older daemon), else (diagnoses, remedies)."""
        if self.diagnoses_supported is False:
            return None
        try:
            r = self.call("incident.diagnosis", {"id": incident_id})
        except Unavailable:
            return None
        except RpcError as e:
            if e.code == ERR_METHOD_NOT_FOUND:
                self.diagnoses_supported = False
                return None
            return [], []
        self.diagnoses_supported = True
        return list(r.get("diagnoses") or []), list(r.get("remedies") or [])

    def await_diagnosis(self, incident_id):
        """Within self.wait seconds, the incident's diagnosis.done (the
        plugins' or a cached agent answer's) or diagnosis.started (the
        agent took it), as a notification; None when neither came."""
        def is_ours(m):
            return (m.get("method") in ("diagnosis.done", "diagnosis.started")
                    and (m.get("params") or {}).get("incident") == incident_id)
        try:
            return self.conn.wait_note(is_ours, self.wait) if self.conn else None
        except Unavailable as e:
            self.drop(str(e))
            return None

    # -- the agent ----------------------------------------------------------

    def follow_agent(self, incident_id, run, model, cached=False, text=""):
        """Show the agent's run on the incident as it is written, until its
        diagnosis.done (returned) or self.agent_wait seconds or an interrupt
        (None; self.following remembers the run for %doctor show). A cached
        answer is not streamed: it comes at once."""
        def ours(m):
            p = m.get("params") or {}
            return (m.get("method") in ("diagnosis.delta", "diagnosis.retry", "diagnosis.done")
                    and p.get("incident") == incident_id and (run is None or p.get("run") == run))
        live = None
        if not cached:
            live = LiveAnswer(incident_id, model, hasattr(self.shell, "kernel"), text)
            live.begin()
        deadline = time.monotonic() + self.agent_wait
        conn = self.conn
        try:
            while conn is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                m = conn.wait_note(ours, min(left, LiveAnswer.UPDATE_EVERY) if live and live.dirty else left)
                if m is None:
                    if live:
                        live.flush()
                    continue
                p = m.get("params") or {}
                if m["method"] == "diagnosis.delta":
                    if live:
                        live.add(str(p.get("text") or ""))
                elif m["method"] == "diagnosis.retry":
                    if live:
                        live.restart("%s; retrying in %.1f s" % (p.get("message") or "the request failed",
                                                                (p.get("wait_ms") or 0) / 1000.0),
                                     bool(p.get("discard")))
                else:
                    self.following.pop(incident_id, None)
                    if live:
                        live.finish("answer of %s (run %s)" % (p.get("model") or model, p.get("run")))
                    return p
        except KeyboardInterrupt:
            self.following[incident_id] = (conn, run, model, live.text if live else text)
            if live:
                live.finish("stopped waiting; the diagnosis continues in the daemon")
            return None
        except Unavailable as e:
            self.drop(str(e))
            if live:
                live.finish("the connection to the daemon was lost")
            return None
        self.following[incident_id] = (conn, run, model, live.text if live else text)
        if live:
            live.finish("still diagnosing after %g s; the diagnosis continues in the daemon"
                        % self.agent_wait)
        return None

    def agent_outcome(self, incident_id, done, streamed):
        """(diagnoses, remedies, notes) of the agent's diagnosis.done (None:
        it did not end while we waited)."""
        if done is None:
            return [], [], ["the diagnosis continues in the daemon: %%doctor show %s "
                            "(or doctor show %s in a terminal)" % (incident_id, incident_id)]
        try:
            self.conn.drain()   # the remedy.proposed that follow diagnosis.done
        except (Unavailable, AttributeError):
            pass
        diagnoses = list(done.get("diagnoses") or [])
        remedies = []
        for d in diagnoses:
            remedies += list(d.get("remedies") or [])
        notes = []
        state = done.get("state")
        if state in ("failed", "cancelled"):
            notes.append("the diagnosis by %s %s: %s" % (
                done.get("model") or "the LLM", "failed" if state == "failed" else "was cancelled",
                " ".join(str(done.get("error") or state).split())))
        elif done.get("cached"):
            notes.append("answered from the cache by %s: no cost" % (done.get("model") or "the LLM"))
        else:
            usage = done.get("usage") or {}
            notes.append("%s, run %s: %s request%s, %s+%s tokens, $%.6f" % (
                done.get("model") or "the LLM", done.get("run"), done.get("steps"),
                "" if done.get("steps") == 1 else "s", usage.get("prompt_tokens", 0),
                usage.get("completion_tokens", 0), float(done.get("cost_usd") or 0)))
        return diagnoses, remedies, notes

    def remember(self, remedies):
        for r in remedies:
            if isinstance(r, dict) and "id" in r:
                self.remedies[r["id"]] = r

    def proposed_for(self, incident_id):
        """remedy.proposed notifications collected for the incident."""
        out = []
        if self.conn:
            keep = []
            for m in self.conn.notes:
                r = (m.get("params") or {}).get("remedy") if m.get("method") == "remedy.proposed" else None
                if isinstance(r, dict) and r.get("incident") == incident_id:
                    out.append(r)
                else:
                    keep.append(m)
            self.conn.notes[:] = keep
        return out

    def remedies_of(self, incident_id, extra=()):
        self.remember(list(extra) + self.proposed_for(incident_id))
        return sorted((r for r in self.remedies.values() if r.get("incident") == incident_id),
                      key=lambda r: r.get("id", 0))

    def after_error(self, etype, value, tb, tb_offset):
        """The whole error path after the traceback was shown."""
        if issubclass(etype, KeyboardInterrupt):
            return  # the user stopped the cell: not an error to diagnose
        res = self.report(etype, value, tb, tb_offset)
        if not isinstance(res, dict) or "incident" not in res:
            return
        iid = res["incident"]
        self.last_incident = {"id": iid, "exception": etype.__name__,
                              "message": params_message(value),
                              "count": res.get("count")}
        diagnoses, remedies, notes, streamed = [], [], [], False
        known = self.known_diagnosis(iid)
        if known is not None:
            diagnoses, remedies = known
            m = self.await_diagnosis(iid) if not diagnoses and self.wait > 0 else None
            p = (m or {}).get("params") or {}
            if m and m.get("method") == "diagnosis.started":
                if self.agent_wait > 0 or p.get("cached"):
                    done = self.follow_agent(iid, p.get("run"), p.get("model"), bool(p.get("cached")))
                    streamed = not p.get("cached")
                else:
                    self.following[iid] = (self.conn, p.get("run"), p.get("model"), "")
                    done = None
                diagnoses, remedies, notes = self.agent_outcome(iid, done, streamed)
            elif m:
                diagnoses = list(p.get("diagnoses") or [])
        if diagnoses:
            self.diagnoses[iid] = diagnoses
        for d in diagnoses:
            remedies = list(remedies) + list(d.get("remedies") or [])
        show(self.last_incident, diagnoses, self.remedies_of(iid, remedies), notes, streamed)

    def show_incident(self, iid):
        """%doctor show ID: the incident's diagnosis; an agent run this
        session left before its end is followed again from where it was."""
        if self.conn:
            try:
                self.conn.drain()
            except Unavailable as e:
                self.drop(str(e))
        try:
            inc = self.call("incident.get", {"id": iid}, MAGIC_TIMEOUT, force=True)["incident"]
        except RpcError as e:
            print("doctor: incident #%s: %s" % (iid, e))
            return
        except (Unavailable, KeyError, TypeError) as e:
            print("doctor: %s" % e)
            return
        summary = {"id": iid, "exception": inc.get("exception", ""), "message": inc.get("message", "")}
        diagnoses = list(inc.get("diagnoses") or [])
        remedies = list(inc.get("remedies") or [])
        runs = [r for r in inc.get("runs") or [] if isinstance(r, dict)]
        notes, streamed = [], False
        left = self.following.get(iid)
        running = [r for r in runs if r.get("state") == "running"]
        if not diagnoses and left and left[0] is self.conn and self.conn is not None:
            # the run's notifications kept coming to this connection
            done = self.follow_agent(iid, left[1], left[2], False, left[3])
            diagnoses, remedies, notes = self.agent_outcome(iid, done, True)
            streamed = True
        elif running:
            notes.append("the agent is diagnosing it (run %s, %s); %%doctor show %s again later"
                         % (running[-1].get("id"), running[-1].get("model"), iid))
        elif runs and runs[-1].get("state") in ("failed", "cancelled"):
            notes.append("the last diagnosis by %s %s: %s" % (
                runs[-1].get("model"), runs[-1].get("state"),
                " ".join(str(runs[-1].get("error") or "").split())))
        self.remember(remedies)
        if diagnoses:
            self.diagnoses[iid] = diagnoses
        show(summary, diagnoses, self.remedies_of(iid, remedies), notes, streamed)

    # -- remedies ---------------------------------------------------------

    def remedy_request(self, method, rid, dry_run=False):
        params = {"id": rid}
        if dry_run:
            params["dry_run"] = True
        try:
            r = self.call(method, params, MAGIC_TIMEOUT, force=True)
        except RpcError as e:
            if e.code == ERR_METHOD_NOT_FOUND:
                print("doctor: this daemon does not run remedies yet (%s is unknown to it)" % method)
            else:
                print("doctor: remedy #%s: %s" % (rid, e))
            return None
        except Unavailable as e:
            print("doctor: %s" % e)
            return None
        self.remember([r.get("remedy")] if isinstance(r, dict) else [])
        return r

    def stream_remedy(self, remedy):
        """Print remedy.output as it comes, until remedy.done or timeout."""
        rid = remedy.get("id")
        limit = float(remedy.get("timeout") or 600) * 2 + 30

        def ours(m):
            p = m.get("params") or {}
            if m.get("method") == "remedy.output":
                return p.get("id") == rid
            return m.get("method") == "remedy.done" and (p.get("remedy") or {}).get("id") == rid

        deadline = time.monotonic() + limit
        try:
            while time.monotonic() < deadline:
                m = self.conn.wait_note(ours, deadline - time.monotonic()) if self.conn else None
                if m is None:
                    break
                p = m["params"]
                if m["method"] == "remedy.output":
                    stream = sys.stderr if p.get("stream") == "stderr" else sys.stdout
                    stream.write(str(p.get("text", "")))
                    stream.flush()
                    continue
                self.remember([p.get("remedy")])
                verified = p.get("verified")
                print("doctor: remedy #%s %s (exit %s%s)" % (
                    rid, p.get("result", "done"), p.get("exit_code"),
                    "" if verified is None else (", verified" if verified else ", NOT verified")))
                return
            print("doctor: no end of remedy #%s seen; it may still run in the daemon" % rid)
        except KeyboardInterrupt:
            print("doctor: stopped watching; remedy #%s keeps running in the daemon" % rid)
        except Unavailable as e:
            self.drop(str(e))
            print("doctor: %s" % e)

    def confirm(self, rid, dry_run):
        r = self.remedy_request("remedy.confirm", rid, dry_run)
        if not r:
            return
        remedy = r.get("remedy") or {}
        if dry_run:
            would = r.get("would_run") or remedy
            print("doctor: remedy #%s would run: $ %s" % (rid, command_line(would.get("argv"))))
            if would.get("cwd"):
                print("  in %s" % would["cwd"])
            if would.get("verify"):
                print("  then verify: $ %s" % command_line(would["verify"]))
            if would.get("timeout"):
                print("  timeout %s s" % would["timeout"])
            print("nothing was run; %%doctor confirm %s runs it" % rid)
            return
        print("doctor: running remedy #%s: $ %s" % (rid, command_line(remedy.get("argv"))))
        sys.stdout.flush()
        self.stream_remedy(remedy)

    def status(self):
        """A dict of what %doctor shows (also handy for scripts and tests)."""
        if self.conn:
            try:
                self.conn.drain()
            except Unavailable as e:
                self.drop(str(e))
        connected = self.connect(force=True)
        st = {"socket": socket_path(), "connected": connected, "source": self.source,
              "name": self.name(), "wait": self.wait, "agent_wait": self.agent_wait,
              "error": None if connected else self.last_error,
              "last_incident": self.last_incident, "diagnoses": [], "remedies": []}
        inc = self.last_incident
        if inc:
            known = self.known_diagnosis(inc["id"]) if connected else None
            if known:
                st["diagnoses"] = known[0]
                self.remember(known[1])
            st["diagnoses"] = st["diagnoses"] or self.diagnoses.get(inc["id"], [])
            st["remedies"] = self.remedies_of(inc["id"]) if self.conn else sorted(
                (r for r in self.remedies.values() if r.get("incident") == inc["id"]),
                key=lambda r: r.get("id", 0))
        return st

    def print_status(self):
        st = self.status()
        if st["connected"]:
            print("doctor: connected to %s (source #%s, %s)" % (st["socket"], st["source"], st["name"]))
        else:
            print("doctor: not connected: %s" % st["error"])
        print("waiting up to %g s for a diagnosis after an error, and up to %g s for the agent's "
              "answer once it started" % (st["wait"], st["agent_wait"]))
        inc = st["last_incident"]
        if not inc:
            print("no error reported in this session")
            return
        show(inc, st["diagnoses"], st["remedies"])

    def magic(self, line):
        words = line.split()
        verb = words[0] if words else "status"
        if verb == "status" and len(words) <= 1:
            return self.print_status()
        if verb == "wait" and len(words) == 2:
            try:
                self.wait = min(max(float(words[1]), 0.0), MAX_WAIT)
            except ValueError:
                print("doctor: wait takes a number of seconds")
                return
            print("doctor: waiting up to %g s for a diagnosis after an error" % self.wait)
            return
        if verb == "agent-wait" and len(words) == 2:
            try:
                self.agent_wait = min(max(float(words[1]), 0.0), MAX_AGENT_WAIT)
            except ValueError:
                print("doctor: agent-wait takes a number of seconds")
                return
            print("doctor: following the agent's answer for up to %g s" % self.agent_wait)
            return
        if verb == "show" and len(words) == 2:
            try:
                iid = int(words[1].lstrip("#"))
            except ValueError:
                print("doctor: show takes an incident id (a number)")
                return
            return self.show_incident(iid)
        if verb in ("confirm", "dry-run", "reject", "undo") and len(words) == 2:
            try:
                rid = int(words[1].lstrip("#"))
            except ValueError:
                print("doctor: %s takes a remedy id (a number)" % verb)
                return
            if verb in ("confirm", "dry-run"):
                return self.confirm(rid, verb == "dry-run")
            r = self.remedy_request("remedy." + verb, rid)
            if r:
                print("doctor: remedy #%s is now %s" % (rid, (r.get("remedy") or {}).get("state", "?")))
            return
        print(USAGE)


USAGE = """usage:
  %doctor                 status: connection, last incident, its remedies
  %doctor confirm ID      run remedy ID (its output streams here)
  %doctor dry-run ID      show what remedy ID would run, run nothing
  %doctor reject ID       decline remedy ID
  %doctor undo ID         undo remedy ID
  %doctor show ID         incident ID's diagnosis (an agent's answer still being
                          written is followed again)
  %doctor wait SECONDS    how long to wait for a diagnosis after an error
  %doctor agent-wait SECONDS
                          how long to follow the agent's answer once it started"""

# ---------------------------------------------------------------------------
# IPython wiring
# ---------------------------------------------------------------------------

_state = {}  # id(shell) -> (Doctor, previous custom exceptions, previous CustomTB)


def _handler_for(doc, prev_exc, prev_tb):
    def handler(shell, etype, value, tb, tb_offset=None):
        # The traceback first, as IPython (or a handler installed before us
        # for these exceptions) would have shown it without doctor.
        if prev_exc and issubclass(etype, prev_exc):
            prev_tb(etype, value, tb, tb_offset=tb_offset)
        else:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        try:
            doc.after_error(etype, value, tb, tb_offset)
        except KeyboardInterrupt:
            pass
        except Exception as e:  # never let the hook break the cell
            doc.warn("internal error in the hook: %s: %s" % (type(e).__name__, e))
        return None
    return handler


def load_ipython_extension(ip):
    """%load_ext doctor_ipython"""
    if id(ip) in _state:
        return
    doc = Doctor(ip)
    prev = (ip.custom_exceptions, ip.CustomTB)
    _state[id(ip)] = (doc, prev[0], prev[1])

    def pre_run_cell(info=None):
        doc.cell = getattr(info, "raw_cell", None) or ""
        if doc.conn:
            try:
                doc.conn.drain()   # events that came after a wait, and EOF
            except Unavailable as e:
                doc.drop(str(e))
    def post_run_cell(result=None):
        # A cell that does not compile never reaches the exception handler:
        # IPython shows the SyntaxError itself; report it here.
        err = getattr(result, "error_before_exec", None)
        if isinstance(err, SyntaxError):
            try:
                doc.after_error(type(err), err, None, None)
            except Exception as e:  # never let the hook break the session
                doc.warn("internal error in the hook: %s: %s" % (type(e).__name__, e))
    doc.pre_run_cell = pre_run_cell
    doc.post_run_cell = post_run_cell
    ip.events.register("pre_run_cell", pre_run_cell)
    ip.events.register("post_run_cell", post_run_cell)
    ip.set_custom_exc((BaseException,), _handler_for(doc, prev[0], prev[1]))
    ip.register_magic_function(doc.magic, "line", "doctor")
    doc.connect()


def unload_ipython_extension(ip):
    """%unload_ext doctor_ipython: put back what was there before."""
    entry = _state.pop(id(ip), None)
    if not entry:
        return
    doc, prev_exc, prev_tb = entry
    ip.custom_exceptions, ip.CustomTB = prev_exc, prev_tb
    for event, fn in (("pre_run_cell", doc.pre_run_cell), ("post_run_cell", doc.post_run_cell)):
        try:
            ip.events.unregister(event, fn)
        except ValueError:
            pass
    ip.magics_manager.magics["line"].pop("doctor", None)
    if doc.conn:
        doc.conn.close()   # the daemon closes the source with the connection


def status(ip=None):
    """The status dict of the extension in shell ip (default: the running one)."""
    if ip is None:
        from IPython import get_ipython
        ip = get_ipython()
    entry = _state.get(id(ip))
    return entry[0].status() if entry else None


# ---------------------------------------------------------------------------
# python3 -m doctor_ipython --enable | --disable
# ---------------------------------------------------------------------------
#
# Enabling writes one startup file, $IPYTHONDIR/profile_default/startup/
# 50-doctor.py (IPYTHONDIR defaults to ~/.ipython). Startup files are run by
# terminal IPython and by every ipykernel kernel of the profile, whatever
# config files the user keeps; the file is entirely ours, so enabling twice
# rewrites the same bytes and --disable removes exactly it, where editing
# the user's own ipython_kernel_config.py could not be undone as surely.
# The file adds the folder this module was enabled from to sys.path only
# when the module is not importable otherwise (make install puts it in
# $(datadir)/doctor/ipython, outside every Python's path).

STARTUP_NAME = "50-doctor.py"
STARTUP_MARK = "# doctor-ipython-startup"
STARTUP_TEMPLATE = '''%(mark)s: written by `python3 -m doctor_ipython --enable`;
# `python3 -m doctor_ipython --disable` removes this file. Loads doctor's
# IPython extension (errors go to the local doctord) in every kernel.
def _doctor_load():
    import sys
    try:
        import doctor_ipython  # noqa: F401
    except ImportError:
        if %(dir)r not in sys.path:
            sys.path.append(%(dir)r)
    try:
        get_ipython().extension_manager.load_extension("doctor_ipython")
    except Exception as e:
        print("doctor: the IPython extension did not load:", e, file=sys.stderr)
_doctor_load()
del _doctor_load
'''


def ipython_dir():
    d = os.environ.get("IPYTHONDIR")
    return os.path.abspath(os.path.expanduser(d)) if d else os.path.join(os.path.expanduser("~"), ".ipython")


def startup_file():
    return os.path.join(ipython_dir(), "profile_default", "startup", STARTUP_NAME)


def _ours(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(len(STARTUP_MARK)) == STARTUP_MARK
    except OSError:
        return False


def enable(module_dir):
    path = startup_file()
    if os.path.lexists(path) and not _ours(path):
        print("doctor: %s exists and was not written by doctor; not touching it" % path, file=sys.stderr)
        return 1
    text = STARTUP_TEMPLATE % {"mark": STARTUP_MARK, "dir": module_dir}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        print("doctor: cannot write %s: %s" % (path, e.strerror), file=sys.stderr)
        return 1
    print("doctor: enabled for every IPython kernel of this user (%s)" % path)
    return 0


def disable():
    path = startup_file()
    if not os.path.lexists(path):
        print("doctor: not enabled (no %s)" % path)
        return 0
    if not _ours(path):
        print("doctor: %s was not written by doctor; not touching it" % path, file=sys.stderr)
        return 1
    try:
        os.unlink(path)
    except OSError as e:
        print("doctor: cannot remove %s: %s" % (path, e.strerror), file=sys.stderr)
        return 1
    print("doctor: disabled (removed %s)" % path)
    return 0


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(
        prog="python3 -m doctor_ipython",
        description="Load doctor's IPython extension in every kernel of this user, or stop that. "
                    "Honours IPYTHONDIR.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--enable", action="store_true", help="write %s to the default profile's startup folder" % STARTUP_NAME)
    g.add_argument("--disable", action="store_true", help="remove that file")
    a = p.parse_args(argv)
    if a.enable:
        return enable(os.path.dirname(os.path.abspath(__file__)))
    return disable()


if __name__ == "__main__":
    sys.exit(main())
