"""test_agent.py - the LLM agent end to end, on a real daemon talking to the local
OpenAI-compatible test server (tests/servers/openai_server.py) over loopback.

The server plays scripted conversations (tests/servers/chat_scripts/): the model
named in llm.model, "script:NAME", plays NAME.json, and every request it receives
is logged (headers and body as received), which is how these tests see what left
the daemon. The configuration is rewritten and reloaded to switch scripts.

Covered: a Ray error no plugin knows, with the Ray corpus indexed, goes through the
loop (search_docs, propose_remedy, an answer citing a page), streamed as
diagnosis.delta, ended by diagnosis.done; the remedy waits for remedy.confirm and
then runs; the stored run has every step with tokens and cost. Secrets in the error
output, the source's context and the daemon's environment never reach a request
body (nor the store or the log). The cache answers the same error at no cost,
explain --fresh asks again. A model repeating a tool call is stopped, max_steps
ends the loop with a last request without tools, both still with a diagnosis. 429
then success, 401, a model that hangs (llm.timeout), cancellation, the prompt-only
JSON fallback (llm.tools false), and a daemon stopped in the middle of a run; the
daemon keeps serving other clients all along.
"""
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, SRC, ChatServer, Daemon, RpcError, run_tests, wait_for  # noqa: E402

CORPUS = os.environ.get("DOCTOR_CORPUS", os.path.join(SRC, "..", "shared", "corpus", "ray-docs"))
NO_LLM = -32015
UNKNOWN = -32003
UNKNOWN_RUN = -32016

# Secrets of several shapes, placed where a careless agent would leak them.
KEY = "sk-agent-test-Q2hhdEtleTAxMjM0NTY3ODlhYmNkZWY"       # the API key (header only)
ENV_TOKEN = "zq8Vt3mLp0Xw7Rk2Hs9Dnb41"                        # daemon env, printed by the program
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GH_TOKEN = "ghp_Abcdefghijklmnopqrstuvwxyz0123456789"
DB_PASSWORD = "Sup3rS3cretPw77"
CTX_TOKEN = "ctxTok-5f3e1a9b7c2d4e6f8a0b"
CTX_PASSWORD = "ctxPw-91827364554637"
SECRETS = [KEY, ENV_TOKEN, AWS_SECRET, GH_TOKEN, DB_PASSWORD, CTX_TOKEN, CTX_PASSWORD]

OUTPUT = (
    "starting training run 7\n"
    "export AWS_SECRET_ACCESS_KEY=%s\n"
    "cloning with token %s\n"
    "service token in use: %s\n"
    "connecting to postgres://trainer:%s@db.internal:5432/runs\n"
    "Traceback (most recent call last):\n"
    '  File "/home/u/proj/train.py", line 41, in <module>\n'
    "    result = ray.get(ref)\n"
    '  File "/usr/lib/python3/site-packages/ray/_private/worker.py", line 2667, in get\n'
    "    raise value\n"
    "ray.exceptions.OwnerDiedError: Failed to retrieve object 00ffffffffffffffffffffffff0100000001"
    "000000. To see information about where this ObjectRef was created in Python, set the "
    "environment variable RAY_record_ref_creation_sites=1 during `ray start` and `ray.init()`. "
    "The object's owner has exited. This is the Python worker that first created the ObjectRef "
    "via `.remote()` or `ray.put()`.\n"
    "done.\n"
) % (AWS_SECRET, GH_TOKEN, ENV_TOKEN, DB_PASSWORD)

RAY_PAGE = "ray-core/fault_tolerance/objects.rst"


d = Daemon(env={"AGENT_TEST_KEY": KEY, "DOCTOR_TEST_SERVICE_TOKEN": ENV_TOKEN})
server = None
CONFIG = os.path.join(d.tmp, "doctor.yaml")
PROJ = os.path.join(d.tmp, "proj")
state = {}


def configure(model, tools=True, max_steps=6, timeout=30, retries=2, stream=True, budget=0.10,
              daily=2.0):
    with open(CONFIG, "w") as f:
        f.write("llm:\n  base_url: %s\n  model: \"%s\"\n  api_key_env: AGENT_TEST_KEY\n"
                "  tools: %s\n  stream: %s\n  timeout: %d\n  idle_timeout: %d\n"
                "  max_retries: %d\n  retry_after_cap: 5\n"
                "  prices:\n    \"%s\": {input: 0.5, output: 1.5}\n"
                "agent:\n  max_steps: %d\n  budget_per_diagnosis: %s\n  budget_daily: %s\n"
                "  docs_k: 3\n"
                % (server.url, model, "true" if tools else "false",
                   "true" if stream else "false", timeout, timeout, retries, model, max_steps,
                   budget, daily))


def reload(tap, what):
    r = d.doctor("reload")
    tap.ok(r.returncode == 0, "reload: " + what, r.stderr)


def feed(client, text, name="train"):
    """A command source showing text; returns the source id."""
    src = client.call("source.open", {"kind": "command", "name": name, "context": {
        "cwd": PROJ, "python": sys.executable,
        "argv": ["python", "train.py", "--token", CTX_TOKEN],
        "env": {"DB_PASSWORD": CTX_PASSWORD}}})["source"]
    client.call("source.write", {"source": src, "text": text})
    return src


def done_of(client, run, timeout=30):
    return client.wait_note("diagnosis.done", lambda m: m["params"].get("run") == run,
                            timeout)["params"]


def explain(client, incident, fresh=False, timeout=30):
    """explain, then its diagnosis.done: (run, done params, notifications seen)."""
    run = client.call("explain", {"id": incident, "fresh": fresh})["run"]
    done = done_of(client, run, timeout)
    return run, done


def agent_run(run):
    """The stored run with its steps: agent.run, else the database read-only."""
    try:
        return d.client().call("agent.run", {"id": run})["run"]
    except RpcError as e:
        if e.code != -32601:
            raise
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(d.data, "doctor.db"), uri=True)
    db.row_factory = sqlite3.Row
    row = dict(db.execute("SELECT * FROM agent_runs WHERE id = ?", (run,)).fetchone())
    row["steps"] = [dict(s) for s in db.execute(
        "SELECT * FROM agent_steps WHERE run_id = ? ORDER BY seq", (run,))]
    for s in row["steps"]:
        s["body"] = json.loads(s["body"]) if s.get("body") else None
    db.close()
    return row


def setup(tap):
    global server
    server = ChatServer(d.tmp)
    os.makedirs(PROJ, exist_ok=True)
    with open(os.path.join(PROJ, "train.py"), "w") as f:
        f.write("import ray\nref = make()\nresult = ray.get(ref)\n")
    configure("script:agent_ray")
    d.config = CONFIG
    d.start()
    st = d.client().call("status")
    ag = st.get("agent", {})
    tap.ok(ag.get("configured") and ag.get("enabled") and ag.get("model") == "script:agent_ray"
           and ag.get("base_url") == server.url and ag.get("in_flight") == 0 and ag.get("priced")
           and ag.get("spent_today_usd") == 0 and ag.get("budget_daily_usd") == 2.0,
           "the daemon starts with an LLM configured: status shows it", ag)
    r = d.doctor("status")
    tap.ok(b"script:agent_ray at " + server.url.encode() in r.stdout and b"of a daily budget"
           in r.stdout, "doctor status shows the model, the endpoint and the budget", r.stdout)


def no_llm(tap):
    """A daemon without an LLM: explain says so; errors go through plugins only."""
    e = Daemon(env={"OPENAI_BASE_URL": "", "OPENAI_MODEL": ""})
    try:
        e.start()
        c = e.client()
        tap.eq(c.call("status")["agent"], {"configured": False, "enabled": False},
               "status: no LLM configured")
        r = e.doctor("status")
        tap.ok(b"no LLM configured" in r.stdout, "doctor status says so", r.stdout)
        src = feed(c, OUTPUT)
        done = c.wait_note("diagnosis.done", timeout=10)["params"]
        tap.ok(done["diagnoses"] == [] and "run" not in done,
               "no LLM: diagnosis.done at once, without a run", done)
        try:
            c.call("explain", {"id": done["incident"]})
            tap.ok(False, "explain without an LLM is refused")
        except RpcError as err:
            tap.ok(err.code == NO_LLM and "llm.base_url" in err.error["message"],
                   "explain without an LLM: -32015 saying what to set", err.error)
        r = e.doctor("explain", str(done["incident"]))
        tap.ok(r.returncode == 1 and b"no LLM" in r.stderr, "doctor explain says so, exit 1",
               r.stderr)
        c.call("source.close", {"source": src})
    finally:
        tap.eq(e.stop(), 0, "that daemon exits cleanly")
        e.cleanup()


def end_to_end(tap):
    if not os.path.isdir(CORPUS):
        tap.skip("the agent end to end on the Ray corpus", "no corpus at %s" % CORPUS)
        return
    t0 = time.time()
    r = d.doctor("index", CORPUS, timeout=900)
    tap.ok(r.returncode == 0, "the Ray corpus is indexed (%.0f s)" % (time.time() - t0),
           r.stderr[-2000:])
    w = d.client(timeout=60)
    w.call("subscribe")
    s = d.client(timeout=60)
    feed(s, OUTPUT)
    started = w.wait_note("diagnosis.started", timeout=20)["params"]
    run = started["run"]
    state["run"] = run
    state["incident"] = started["incident"]
    tap.ok(started["model"] == "script:agent_ray" and started["cached"] is False,
           "diagnosis.started names the run and the model", started)
    done = done_of(w, run, 60)
    state["done"] = done
    deltas = "".join(m["params"]["text"] for m in w.notes
                     if m.get("method") == "diagnosis.delta" and m["params"]["run"] == run)
    tap.ok("The worker that owned the object died" in deltas and
           "Let me look at the documentation" in deltas,
           "the answer streams as diagnosis.delta", deltas[:300])
    tap.eq(done["state"], "done", "the run is done")
    diag = (done.get("diagnoses") or [{}])[0]
    tap.ok(diag.get("plugin") == "agent" and diag.get("summary", "").startswith(
        "The worker that owned the object died"), "a diagnosis by plugin agent, its summary "
           "the answer's first line", diag)
    tap.ok(any(c.get("page") == RAY_PAGE for c in done.get("citations", [])),
           "it cites the Ray page it found", done.get("citations"))
    remedies = diag.get("remedies") or []
    fix = [x for x in remedies if x.get("argv") == ["python3", "-c", "print('fixed')"]]
    tap.ok(len(fix) == 1 and fix[0].get("state") == "proposed" and fix[0].get("id"),
           "the remedy proposed through propose_remedy has an id and waits", remedies)
    tap.eq(done.get("usage"), {"prompt_tokens": 6000, "completion_tokens": 110},
           "usage sums the three responses")
    want = (6000 * 0.5 + 110 * 1.5) / 1e6
    tap.ok(abs(done.get("cost_usd", 0) - want) < 1e-9, "cost from llm.prices: %r" %
           done.get("cost_usd"))
    tap.ok(done.get("cached") is False and done.get("limit") is None and done.get("steps") == 3,
           "not cached, no limit, three requests", done)
    # the source's own client was told too, without subscribing
    sd = done_of(s, run, 10)
    tap.eq(sd["run"], run, "the source's client gets diagnosis.done")
    proposed = w.wait_note("remedy.proposed", lambda m: fix and m["params"]["remedy"]["id"] ==
                           fix[0]["id"], 10)["params"]["remedy"]
    tap.ok(proposed["plugin"] == "agent" and proposed["incident"] == state["incident"],
           "remedy.proposed, by plugin agent", proposed)
    reqs = server.requests("script:agent_ray")
    tap.eq(len(reqs), 3, "three chat requests reached the server")
    first = reqs[0]["body"] if reqs else {}
    names = [t["function"]["name"] for t in first.get("tools", [])]
    tap.ok({"search_docs", "read_file", "environment", "propose_remedy"} <= set(names),
           "the built-in tools are offered", names)
    tap.ok(any(n.startswith("ray__") for n in names), "with the plugins' tools", names)
    msgs = first.get("messages", [])
    tap.ok(len(msgs) == 2 and msgs[0]["role"] == "system" and "OwnerDiedError" in msgs[1]["content"]
           and "<<<DATA-" in msgs[1]["content"] and RAY_PAGE in msgs[1]["content"],
           "system prompt, then the incident with the documentation found, in data blocks",
           [m.get("content", "")[:200] for m in msgs])
    tap.ok(first.get("stream") is True and first.get("max_tokens") == 2048,
           "streamed, with agent.max_tokens", {k: first.get(k) for k in ("stream", "max_tokens")})
    last = reqs[-1]["body"]["messages"] if reqs else []
    tool_msgs = [m for m in last if m.get("role") == "tool"]
    tap.ok(len(tool_msgs) == 2 and "<<<DATA-" in tool_msgs[0]["content"] and
           RAY_PAGE in tool_msgs[0]["content"] and "propose_remedy" in tool_msgs[1]["content"],
           "the tool results go back wrapped as data", [m["content"][:200] for m in tool_msgs])
    tap.ok(reqs and reqs[0]["headers"].get("Authorization") == "Bearer " + KEY,
           "the key goes in the Authorization header")
    # nothing ran yet
    inc = d.client().call("incident.get", {"id": state["incident"]})["incident"]
    rem = [x for x in inc.get("remedies", []) if fix and x["id"] == fix[0]["id"]]
    tap.ok(rem and rem[0]["state"] == "proposed" and not any(
        a["event"] in ("run", "confirmed", "succeeded") for a in inc.get("audit", [])),
        "the remedy has not run", inc.get("audit"))
    if fix:
        c = d.client(timeout=60)
        c.call("remedy.confirm", {"id": fix[0]["id"]})
        rd = c.wait_note("remedy.done", lambda m: m["params"]["remedy"]["id"] == fix[0]["id"],
                         30)["params"]
        out = "".join(m["params"]["text"] for m in c.notes if m.get("method") == "remedy.output")
        tap.ok(rd["result"] == "succeeded" and "fixed" in out,
               "confirmed, the remedy runs: %s" % rd["result"], out)
    trace = agent_run(run)
    kinds = [st["kind"] for st in trace["steps"]]
    tap.eq(kinds.count("request"), 3, "the trace has the three requests")
    resp = [st for st in trace["steps"] if st["kind"] == "response"]
    tap.ok(len(resp) == 3 and all(st["prompt_tokens"] > 0 and st["completion_tokens"] > 0 and
                                  st["cost_usd"] > 0 and st["latency_ms"] is not None
                                  for st in resp),
           "each response step has tokens, cost and latency", resp)
    tools = [st["name"] for st in trace["steps"] if st["kind"] == "tool_call"]
    tap.eq(tools, ["search_docs", "search_docs", "propose_remedy"],
           "tool calls: the prompt's search, the model's search, the remedy")
    tap.ok(all(st["latency_ms"] is not None for st in trace["steps"] if st["kind"] == "tool_result"),
           "tool results have their latency")
    tap.ok(trace["state"] == "done" and abs(trace["cost_usd"] - want) < 1e-9 and
           trace["prompt_tokens"] == 6000, "the run's totals", {k: trace[k] for k in
                                                             ("state", "cost_usd", "prompt_tokens")})
    for c in (w, s):
        c.close()


def secrets(tap):
    if "run" not in state:
        tap.skip("no secret leaves the machine", "no run")
        return
    bodies = [json.dumps(r["body"]) for r in server.requests()]
    leaked = [x for x in SECRETS if any(x in b for b in bodies)]
    tap.ok(bodies and not leaked, "no secret in any request body (%d requests)" % len(bodies),
           leaked)
    text = " ".join(bodies)
    tap.ok("[REDACTED" in text, "they were replaced by [REDACTED...]")
    with open(os.path.join(d.data, "doctor.db"), "rb") as f:
        db = f.read()
    trace = json.dumps(agent_run(state["run"]))
    tap.ok(not [x for x in SECRETS if x in trace], "nor in the stored trace")
    tap.ok(KEY.encode() not in db, "the API key is nowhere in the database")
    log = d.stderr()
    tap.ok(not [x for x in SECRETS if x in log], "nor in the daemon's log",
           [x for x in SECRETS if x in log])


def cache(tap):
    if "run" not in state:
        tap.skip("the cache", "no run")
        return
    n = len(server.requests())
    c = d.client(timeout=60)
    feed(c, OUTPUT, name="again")
    done = c.wait_note("diagnosis.done", timeout=30)["params"]
    tap.ok(done["cached"] is True and done.get("cached_from") == state["run"] and
           done["cost_usd"] == 0 and done["state"] == "done",
           "the same error again: answered from the cache", done)
    tap.eq(len(server.requests()), n, "and no request was made")
    diag = (done.get("diagnoses") or [{}])[0]
    tap.ok(diag.get("summary") == state["done"]["diagnoses"][0]["summary"] and
           [x["argv"] for x in diag.get("remedies", [])] == [["python3", "-c", "print('fixed')"]],
           "with the same diagnosis and remedy", diag)
    r = d.doctor("explain", "--json", str(state["incident"]), timeout=60)
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    tap.ok(j.get("cached") is True and len(server.requests()) == n,
           "doctor explain: cached too", r.stdout[-500:] + r.stderr[-500:])
    r = d.doctor("explain", "--fresh", "--json", str(state["incident"]), timeout=60)
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    tap.ok(j.get("cached") is False and j.get("state") == "done" and
           len(server.requests()) == n + 3, "doctor explain --fresh asks again (%d requests)"
           % (len(server.requests()) - n), r.stderr)
    r = d.doctor("explain", "--fresh", str(state["incident"]), timeout=60)
    out = r.stdout.decode()
    tap.ok(r.returncode == 0 and "The worker that owned the object died" in out and
           "Diagnosis (run" in out and "[remedy #" in out and RAY_PAGE in out and
           "completion tokens" in out, "doctor explain prints the answer, citations, remedies, "
           "tokens and cost", "exit %d\n%s%s" % (r.returncode, out, r.stderr.decode()))
    c.close()


def loop_stopped(tap):
    if "incident" not in state:
        tap.skip("the loop script", "no incident")
        return
    configure("script:loop")
    reload(tap, "a model that repeats a tool call")
    c = d.client(timeout=60)
    run, done = explain(c, state["incident"])
    tap.ok(done["state"] == "limited" and done["limit"] == "repeated_tool_call",
           "the repeated tool call is stopped", done)
    diag = (done.get("diagnoses") or [{}])[0]
    tap.ok("repeat" in diag.get("summary", "") and diag.get("limit") == "repeated_tool_call",
           "and the diagnosis says so", diag.get("summary"))
    reqs = server.requests("script:loop")
    tap.ok(len(reqs) == 4 and reqs[-1]["body"].get("tool_choice") == "none" and
           reqs[-1]["body"].get("tools"),
           "three turns, then one last request where no tool may be called (%d)" % len(reqs))
    tool_msgs = [m["content"] for m in reqs[-1]["body"]["messages"] if m.get("role") == "tool"]
    tap.ok(len(tool_msgs) == 3 and "Not executed" in tool_msgs[1],
           "the model was told its repeat was not executed", tool_msgs[1:2])
    trace = agent_run(run)
    tap.ok(trace["limit_hit"] == "repeated_tool_call" and trace["state"] == "limited",
           "the stored run says limited, repeated_tool_call")
    configure("script:agent_steps", max_steps=2)
    reload(tap, "max_steps 2")
    run, done = explain(c, state["incident"])
    diag = (done.get("diagnoses") or [{}])[0]
    reqs = server.requests("script:agent_steps")
    tap.ok(done["state"] == "limited" and done["limit"] == "max_steps" and len(reqs) == 3,
           "max_steps: two turns and a last one (%d requests)" % len(reqs), done)
    tap.ok(reqs and reqs[-1]["body"].get("tool_choice") == "none" and "limit" in
           reqs[-1]["body"]["messages"][-1]["content"],
           "the last asks for the answer, tool_choice none")
    tap.ok(diag.get("summary", "").startswith("The object's owner died") and
           "Stopped early" in diag.get("explanation", "") and "max_steps" in diag["explanation"],
           "the diagnosis is the model's, saying which limit stopped it", diag)
    c.close()


def budget(tap):
    if "incident" not in state:
        tap.skip("the budget", "no incident")
        return
    configure("script:agent_ray:budget", budget=0.0001)
    reload(tap, "a budget of $0.0001 a diagnosis")
    c = d.client(timeout=60)
    run, done = explain(c, state["incident"], fresh=True)
    reqs = server.requests("script:agent_ray:budget")
    diag = (done.get("diagnoses") or [{}])[0]
    tap.ok(done["state"] == "limited" and done["limit"] == "budget_per_diagnosis" and
           len(reqs) == 1, "the first response spends the budget: one request only (%d)"
           % len(reqs), done)
    tap.ok("budget" in diag.get("summary", "") and RAY_PAGE in diag.get("explanation", ""),
           "the diagnosis is composed from what was learned", diag)
    configure("script:agent_ray:daily", daily=0)
    reload(tap, "a daily budget of $0")
    run, done = explain(c, state["incident"])
    tap.ok(done["state"] == "limited" and done["limit"] == "budget_daily" and
           not server.requests("script:agent_ray:daily") and done["diagnoses"],
           "a daily budget of 0: no request, a diagnosis saying why", done)
    configure("script:agent_ray:free", budget=0, daily=0)
    with open(CONFIG) as f:
        text = f.read()
    with open(CONFIG, "w") as f:     # a model without a price is free
        f.write(text.replace('    "script:agent_ray:free": {input: 0.5, output: 1.5}\n',
                             '    "other": {input: 1, output: 1}\n'))
    reload(tap, "a free model with budgets of 0")
    run, done = explain(c, state["incident"])
    tap.ok(done["state"] == "done" and done["cost_usd"] == 0 and
           len(server.requests("script:agent_ray:free")) == 3, "a free model is not limited",
           done)
    c.close()


def failures(tap):
    if "incident" not in state:
        tap.skip("LLM failures", "no incident")
        return
    inc = state["incident"]
    c = d.client(timeout=60)
    configure("script:rate_limit")
    reload(tap, "429 then an answer")
    run, done = explain(c, inc)
    retry = [m["params"] for m in c.notes if m.get("method") == "diagnosis.retry"
             and m["params"]["run"] == run]
    tap.ok(retry and retry[0]["attempt"] == 2 and 500 <= retry[0]["wait_ms"] <= 5000,
           "diagnosis.retry after the 429", retry)
    tap.ok(done["state"] == "done" and done["diagnoses"][0]["summary"] ==
           "Answer after the rate limit.", "then the answer", done)

    configure("script:unauthorized")
    reload(tap, "401")
    run, done = explain(c, inc)
    tap.ok(done["state"] == "failed" and "401" in (done.get("error") or "") and
           "API key" in done["error"] and KEY not in json.dumps(done),
           "401: a failed run with a clear message, without the key", done)
    tap.eq(len(server.requests("script:unauthorized")), 1, "401 is not retried")
    tap.eq(agent_run(run)["state"], "failed", "stored as failed")
    tap.ok(d.client().call("incident.get", {"id": inc})["incident"]["id"] == inc,
           "the incident is kept")

    configure("script:agent_hang", timeout=2, retries=0)
    reload(tap, "a model that hangs, llm.timeout 2")
    other = d.client(timeout=5)
    run = c.call("explain", {"id": inc})["run"]
    t0 = time.time()
    st = other.call("status")
    tap.ok(st and time.time() - t0 < 1, "other clients are served while the model hangs")
    done = done_of(c, run, 30)
    elapsed = time.time() - t0
    tap.ok(done["state"] == "failed" and "timeout" in (done.get("error") or "") and
           elapsed < 10 * SLOW, "it times out (%.1f s): %s" % (elapsed, done.get("error")), done)

    configure("script:agent_hang:c", timeout=60)
    reload(tap, "a model that hangs, to cancel")
    run = c.call("explain", {"id": inc})["run"]
    c.wait_note("diagnosis.started", lambda m: m["params"]["run"] == run, 10)
    wait_for(lambda: len(server.requests("script:agent_hang:c")) == 1, 10)
    t0 = time.time()
    res = other.call("diagnosis.cancel", {"run": run})
    done = done_of(c, run, 10)
    tap.ok(res.get("cancelled") is True and done["state"] == "cancelled" and
           time.time() - t0 < 2, "diagnosis.cancel ends it at once", done)
    try:
        other.call("diagnosis.cancel", {"run": run})
        tap.ok(False, "cancelling it again is refused")
    except RpcError as e:
        tap.eq(e.code, UNKNOWN_RUN, "cancelling it again: -32016")
    tap.eq(agent_run(run)["state"], "cancelled", "stored as cancelled")
    tap.ok(other.call("hello", {"client": "test", "protocol": 1}) is not None,
           "the daemon still answers")
    c.close()
    other.close()


def json_fallback(tap):
    if "incident" not in state:
        tap.skip("the JSON fallback", "no incident")
        return
    configure("script:agent_json", tools=False)
    reload(tap, "a model without tools")
    c = d.client(timeout=60)
    run, done = explain(c, state["incident"])
    reqs = server.requests("script:agent_json")
    body = reqs[0]["body"] if reqs else {}
    tap.ok("tools" not in body and body.get("response_format") == {"type": "json_object"},
           "no tools, JSON mode asked", {k: body.get(k) for k in ("tools", "response_format")})
    diag = (done.get("diagnoses") or [{}])[0]
    tap.ok(done["state"] == "done" and diag.get("summary", "").startswith(
        "The object's owner process died"), "the JSON answer is the diagnosis", done)
    tap.ok([x["argv"] for x in diag.get("remedies", [])] ==
           [["python3", "-c", "print('json remedy')"]] and
           diag["remedies"][0]["state"] == "proposed", "its remedy is proposed, checked",
           diag.get("remedies"))
    tap.ok(not [m for m in c.notes if m.get("method") == "diagnosis.delta" and
                m["params"]["run"] == run], "no diagnosis.delta: the JSON is not prose")
    c.close()


def bad_tool_calls(tap):
    """Tool calls a model gets wrong are refused, told to the model, and the run
    goes on: arguments that are not JSON, a tool that does not exist."""
    if "incident" not in state:
        tap.skip("bad tool calls", "no incident")
        return
    configure("script:agent_bad_args")
    reload(tap, "a model that calls tools wrongly")
    c = d.client(timeout=60)
    run, done = explain(c, state["incident"], fresh=True)
    reqs = server.requests("script:agent_bad_args")
    tools = [m["content"] for r in reqs for m in r["body"]["messages"] if m.get("role") == "tool"]
    tap.ok(done["state"] == "done" and len(reqs) == 3, "the run ends done after 3 requests",
           {"state": done["state"], "requests": len(reqs)})
    tap.ok(any("not a JSON object" in t for t in tools), "invalid arguments: not executed, and said",
           tools)
    tap.ok(any("rm_rf_everything" in t and "no such tool" in t for t in tools),
           "an unknown tool: refused, and said", tools)
    c.close()


def secret_corpus(tap):
    """Every secret format of tests/cases/redact/secrets.jsonl, shown by a program
    whose error goes to the agent on its own (agent.enabled): none may reach the
    server. At most 40 lines of them per error, after a marker line that must arrive,
    so that nothing is left out of the prompt (the 50 lines of context, the size cap)
    instead of being redacted."""
    if "incident" not in state:
        tap.skip("the secret corpus", "no incident")
        return
    with open(os.path.join(SRC, "tests", "cases", "redact", "secrets.jsonl")) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    model = "script:hello:corpus"
    configure(model)
    reload(tap, "a plain model for the secret corpus")
    c = d.client(timeout=60)
    c.call("subscribe", {})
    # the incident keeps the 50 lines before the error: at most 40 a batch
    batches, lines = [[]], 0
    for x in cases:
        n = x["text"].count("\n") + 1
        if batches[-1] and lines + n > 40:
            batches.append([])
            lines = 0
        batches[-1].append(x)
        lines += n
    for n, batch in enumerate(batches):
        letters = chr(ord("a") + n // 26) + chr(ord("a") + n % 26)
        text = "corpus-batch-%s starts\n" % letters + "\n".join(x["text"] for x in batch)
        text += ("\nTraceback (most recent call last):\n  File \"leak.py\", line 1, in <module>\n"
                 "corpus.LeakCheck%sError: batch %s\n" % (letters.upper(), letters))
        src = feed(c, text, name="corpus-%s" % letters)
        c.call("source.close", {"source": src})
    wait_for(lambda: len(server.requests(model)) >= len(batches), 60)
    reqs = server.requests(model)
    bodies = [json.dumps(r["body"]) for r in reqs]
    tap.eq(len(reqs), len(batches), "one request per error (%d formats)" % len(cases))
    marked = [n for n in range(len(batches))
              if any("corpus-batch-%s%s" % (chr(ord("a") + n // 26), chr(ord("a") + n % 26))
                     in b for b in bodies)]
    tap.eq(len(marked), len(batches), "every batch reached the prompt whole (its marker is there)")
    leaked = sorted({x["format"] for x in cases for sec in x["secrets"]
                     if any(sec in b or json.dumps(sec)[1:-1] in b for b in bodies)})
    tap.ok(bodies and not leaked, "no secret of the %d formats in any request body" % len(cases),
           leaked)
    c.close()


def stop_mid_run(tap):
    try:
        if "incident" not in state:
            tap.skip("stopping the daemon mid-run", "no incident")
            return
        configure("script:agent_hang:stop", timeout=60)
        reload(tap, "a model that hangs, to stop the daemon")
        c = d.client(timeout=60)
        run = c.call("explain", {"id": state["incident"]})["run"]
        wait_for(lambda: len(server.requests("script:agent_hang:stop")) == 1, 10)
        t0 = time.time()
        tap.eq(d.stop(), 0, "SIGTERM during a run: a clean exit")
        tap.ok(time.time() - t0 < 5 * SLOW, "at once (%.1f s)" % (time.time() - t0))
        d.start()
        tap.eq(agent_run(run)["state"], "cancelled", "the run was cancelled")
        c.close()
    finally:
        tap.eq(d.stop(), 0, "clean exit")
        if server:
            server.stop()
        d.cleanup()


run_tests([setup, no_llm, end_to_end, secrets, cache, loop_stopped, budget, failures,
           json_fallback, bad_tool_calls, secret_corpus, stop_mid_run])
