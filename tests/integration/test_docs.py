"""test_docs.py - documentation retrieval end to end: doctor index, doctor search,
doctor eval retrieval and the methods docs.index / docs.search on a real daemon.

A small handwritten corpus (Markdown, reStructuredText, a notebook, and bad files)
is indexed and searched (human and JSON output), re-indexed (unchanged files),
changed (a deleted file disappears) and evaluated with exact expected figures.
Then the hostile side: odd queries and parameters over the raw socket, a
relative path, a second indexing while one runs (busy), a client that leaves
in the middle of indexing the Ray corpus ($DOCTOR_CORPUS), and a daemon
stopped while it indexes. Last, the Ray corpus is indexed whole and the
evaluation set tests/retrieval/ray_questions.jsonl is run.
"""
import json
import os
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DOCTOR, SLOW, SRC, ChatServer, Daemon, Pty, RpcError, run_tests, wait_for  # noqa: E402

CORPUS = os.environ.get("DOCTOR_CORPUS", os.path.join(SRC, "..", "shared", "corpus", "ray-docs"))
RAY_QUESTIONS = os.path.join(SRC, "tests", "retrieval", "ray_questions.jsonl")
BUSY = -32014
SUMMARY = re.compile(r"^indexed (\d+) files \((\d+) unchanged, (\d+) removed, (\d+) skipped\), "
                     r"(\d+) chunks in [0-9.]+ s", re.M)

d = Daemon()
DOCS = os.path.join(d.tmp, "docs")

INSTALL_MD = """# Installing Widgets

Widgets install in a minute on any machine.

## Installing with pip

Run `pip install widgets` and then import it. The wheel is small.

## Troubleshooting

If you see `WidgetImportError: cannot load frobnicator`, the frobnicator
plugin is missing: install `widgets[frobnicator]`.
"""

CONFIG_RST = """Configuration
=============

Widgets read their settings at start.

Setting the cache size
----------------------

Call ``widgets.set_cache_size(nbytes)`` to size the zorblax cache. A larger
zorblax cache keeps more rendered frames in memory.

.. code-block:: python

   import widgets
   widgets.set_cache_size(64 << 20)

Tuning the scheduler
--------------------

The scheduler's time slice is ``scheduler_quantum_ms``; lower values make the
interface more responsive and the throughput lower.
"""

TOUR_IPYNB = {
    "cells": [
        {"cell_type": "markdown", "metadata": {},
         "source": ["# A Tour\n", "\n", "Welcome to the tour.\n"]},
        {"cell_type": "markdown", "metadata": {},
         "source": ["## Plotting histograms\n", "\n",
                    "Call `plot_histogram` with `bins` to draw a quuxinator chart.\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["done\n"]}],
         "source": ["plot_histogram(data, bins=10)\n"]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


def write(rel, data):
    path = os.path.join(DOCS, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def make_corpus():
    write("guide/install.md", INSTALL_MD)
    write("guide/config.rst", CONFIG_RST)
    write("notebooks/tour.ipynb", json.dumps(TOUR_IPYNB))
    write("bad/binary.md", b"# Binary\n\x00\x01\x02\xff\xfe" * 50)
    write("bad/broken.ipynb", '{"cells": [{"cell_type": "markdown", "source": ')
    # a file name that is not UTF-8: results must still be valid JSON
    path = os.path.join(os.fsencode(DOCS), b"bad", b"caf\xe9.md")
    with open(path, "wb") as f:
        f.write(b"# Caf\xe9 notes\n\nThe glorptastic recipe is here.\n")


def doctor_in(cwd, *args):
    """doctor run from another working directory."""
    e = dict(d.env, DOCTOR_SOCKET=d.socket)
    return subprocess.run([DOCTOR] + list(args), capture_output=True, env=e, cwd=cwd,
                          timeout=60 * SLOW)


def search_json(*args):
    r = d.doctor("search", "--json", *args)
    if r.returncode != 0:
        raise RuntimeError("doctor search failed: %r" % r.stderr)
    return json.loads(r.stdout)


def top(result):
    hits = result.get("hits") or [{}]
    return hits[0].get("page"), hits[0].get("anchor")


def summary(r):
    m = SUMMARY.search(r.stdout.decode())
    return tuple(int(x) for x in m.groups()) if m else None


def helps(tap):
    for sub in ("index", "search", "eval"):
        r = subprocess.run([DOCTOR, sub, "--help"], capture_output=True, text=True)
        tap.ok(r.returncode == 0 and r.stdout.startswith("usage: doctor " + sub),
               "doctor %s --help" % sub, r.stdout + r.stderr)
    r = subprocess.run([DOCTOR, "--help"], capture_output=True, text=True)
    tap.ok(all(w in r.stdout for w in ("index", "search", "eval")), "doctor --help lists them")
    r = d.doctor("search", "anything")
    tap.ok(r.returncode == 3 and b"not running" in r.stderr, "search without a daemon: exit 3")


def before_index(tap):
    d.start()
    res = d.client().call("docs.search", {"query": "anything"})
    tap.eq(res["hits"], [], "no index yet: docs.search gives no hits, not an error")
    tap.ok("doctor index" in res.get("hint", ""), "and a hint to index", res)
    r = d.doctor("search", "anything")
    tap.eq(r.returncode, 0, "doctor search without an index: exit 0")
    tap.ok(b"doctor index" in r.stderr and b"no results" in r.stdout, "with the hint",
           r.stdout + r.stderr)


def index_small(tap):
    make_corpus()
    r = doctor_in(d.tmp, "index", "docs")
    tap.eq(r.returncode, 0, "doctor index with a relative path (made absolute by doctor)",)
    s = summary(r)
    if not tap.ok(s is not None, "prints the summary line", r.stdout + r.stderr):
        return
    indexed, unchanged, removed, skipped, chunks = s
    tap.ok(indexed >= 3 and indexed + skipped == 6 and unchanged == 0 and removed == 0,
           "every file is indexed or skipped: %r" % (s,), r.stdout)
    tap.ok(chunks >= 5, "into chunks (%d)" % chunks)
    err = r.stderr.decode("utf-8", "replace")
    tap.ok("warning: bad/binary.md" in err and "warning: bad/broken.ipynb" in err,
           "warnings name the bad files, relative to the folder", err)
    tap.ok("\r" not in err and "[#" not in err, "no progress bar when stderr is not a terminal", err)
    tap.ok(d.proc.poll() is None, "the daemon keeps running after bad files")
    st = json.loads(d.doctor("status", "--json").stdout)["docs"]
    tap.ok(st.get("files", 0) >= 3 and st.get("chunks", 0) >= chunks and st.get("roots") == 1,
           "status shows the index: %r" % st)
    tap.eq(st.get("database"), os.path.join(d.data, "docs.db"), "in the data dir")
    tap.ok(b"docs" in d.doctor("status").stdout, "doctor status has a docs line")


def search_small(tap):
    res = search_json("zorblax", "cache", "size")
    tap.eq(top(res), ("guide/config.rst", "setting-the-cache-size"), "a reST section is found")
    h = res["hits"][0]
    for key in ("page", "root", "title", "section", "anchor", "text", "score", "lexical_rank",
                "vector_rank", "start", "end"):
        tap.ok(key in h, "a hit has %s" % key)
    tap.eq(h.get("root"), os.path.realpath(DOCS), "root is the folder indexed")
    tap.ok("Setting the cache size" in h.get("section", "") and "zorblax" in h.get("text", ""),
           "with its section path and text", h)
    tap.eq((h.get("lexical_rank"), h.get("vector_rank")), (1, 0), "ranked lexically only")
    src = open(os.path.join(DOCS, "guide", "config.rst"), "rb").read()
    tap.ok(0 <= h["start"] < h["end"] <= len(src) and b"zorblax" in src[h["start"]:h["end"]],
           "byte offsets point into the file", (h["start"], h["end"]))
    tap.eq(top(search_json("scheduler_quantum_ms")), ("guide/config.rst", "tuning-the-scheduler"),
           "an identifier with underscores")
    tap.eq(top(search_json("plot_histogram", "bins")), ("notebooks/tour.ipynb", "plotting-histograms"),
           "a notebook's markdown cell")
    tap.eq(top(search_json("WidgetImportError", "frobnicator")), ("guide/install.md", "troubleshooting"),
           "a pasted error message")
    res = search_json("glorptastic")
    tap.ok(res["hits"] and res["hits"][0]["page"] == "bad/caf\ufffd.md",
           "a file name that is not UTF-8 comes back repaired", res.get("hits"))
    res = search_json("--k", "1", "widgets")
    tap.eq(len(res["hits"]), 1, "--k 1: one hit")
    r = d.doctor("search", "zorblax", "cache")
    out = r.stdout.decode()
    first = out.splitlines()[0] if out else ""
    tap.ok(r.returncode == 0 and first.split()[0] == "1" and
           first.endswith("guide/config.rst#setting-the-cache-size"),
           "human output: rank, score, page#anchor", out)
    tap.ok("Setting the cache size" in out and "zorblax" in out, "then section and a snippet", out)
    r = d.doctor("search", "--lexical", "--json", "zorblax")
    tap.eq(top(json.loads(r.stdout)), ("guide/config.rst", "setting-the-cache-size"), "--lexical")
    tap.eq(d.doctor("search").returncode, 2, "search without a query: exit 2")
    tap.eq(d.doctor("search", "--k", "0", "x").returncode, 2, "--k 0: exit 2")


def reindex(tap):
    r = d.doctor("index", DOCS)
    s = summary(r)
    tap.ok(r.returncode == 0 and s and s[0] == 0 and s[1] >= 3 and s[2] == 0,
           "re-indexing: nothing indexed, the files unchanged: %r" % (s,), r.stdout + r.stderr)
    os.unlink(os.path.join(DOCS, "guide", "install.md"))
    r = d.doctor("index", DOCS)
    s = summary(r)
    tap.ok(r.returncode == 0 and s and s[2] == 1 and s[0] == 0,
           "a deleted file is removed: %r" % (s,), r.stdout + r.stderr)
    pages = [h["page"] for h in search_json("WidgetImportError", "frobnicator")["hits"]]
    tap.ok("guide/install.md" not in pages, "and no longer found", pages)
    r = d.doctor("index", "--strategy", "paragraph", "--max-chars", "300", "--overlap", "20", DOCS)
    s = summary(r)
    tap.ok(r.returncode == 0 and s and s[0] >= 2, "other chunk options re-index: %r" % (s,),
           r.stdout + r.stderr)
    tap.eq(top(search_json("zorblax", "cache")), ("guide/config.rst", "setting-the-cache-size"),
           "and search still finds the section")
    r = d.doctor("index", "--overlap", "300", "--max-chars", "300", DOCS)
    tap.eq(r.returncode, 2, "--overlap not below --max-chars: exit 2")
    tap.eq(d.doctor("index", "--strategy", "words", DOCS).returncode, 2, "a bad --strategy: exit 2")
    r = d.doctor("index", os.path.join(d.tmp, "no-such-folder"))
    tap.ok(r.returncode == 1 and b"no-such-folder" in r.stderr and b"-32008" in r.stderr,
           "a missing folder: an I/O error naming it", r.stderr)
    r = d.doctor("index", DOCS)   # back to the configured chunking for what follows
    tap.eq(r.returncode, 0, "index again with the defaults")


def progress_bar(tap):
    e = dict(d.env, DOCTOR_SOCKET=d.socket, COLUMNS="100")
    p = Pty([DOCTOR, "index", "--max-chars", "500", DOCS], e)
    try:
        done = p.wait_for("chunks in", 30)
        tap.ok(done, "doctor index on a terminal ends with its summary", p.out)
        tap.ok(b"\r[" in p.out and re.search(rb"\[[#.]{20}\] \d+/\d+", p.out),
               "and drew a progress bar with \\r", p.out)
    finally:
        p.close()
    d.doctor("index", DOCS)


QUESTIONS = [
    {"question": "zorblax cache size", "source": "guide/config#setting-the-cache-size"},
    {"question": "scheduler_quantum_ms", "source": "guide/config.rst"},
    "{\"question\": \"no source here\"}",
    "",
    {"question": "plot_histogram bins", "source": "notebooks/tour.ipynb#plotting-histograms"},
    {"question": "frobnicator WidgetImportError", "source": "guide/install.md#troubleshooting"},
    {"question": "zorblax cache", "source": "guide/config.rst#tuning-the-scheduler"},
]


def evaluate_small(tap):
    path = os.path.join(d.tmp, "questions.jsonl")
    with open(path, "w") as f:
        for q in QUESTIONS:
            f.write((q if isinstance(q, str) else json.dumps(q)) + "\n")
    r = d.doctor("eval", "retrieval", "--k", "1,3", "--json", path)
    tap.eq(r.returncode, 1, "a malformed line: figures, then exit 1")
    tap.ok(b"questions.jsonl:3:" in r.stderr and b"'source'" in r.stderr,
           "the malformed line is named with its number", r.stderr)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        tap.ok(False, "eval --json prints JSON", r.stdout)
        return
    # 5 questions, 4 with an anchor. Pages: 1, 1, 1, gone, 1. Sections: 1, -, 1, 0, 0.
    tap.eq((res["questions"], res["anchored"], res["malformed"]), (5, 4, 1), "counts")
    tap.eq(res["k"], {"1": {"page": 0.8, "section": 0.5}, "3": {"page": 0.8, "section": 0.5}},
           "recall per k, page and section level")
    tap.eq(res["mrr"], {"page": 0.8, "section": 0.5}, "MRR")
    r = d.doctor("eval", "retrieval", "--k", "1,3", "--show-misses", path)
    out = r.stdout.decode()
    tap.ok(re.search(r"^1\s+0\.800\s+0\.500", out, re.M) and "MRR" in out and "questions 5" in out,
           "the human table", out)
    tap.ok("misses (2)" in out and "frobnicator" in out, "--show-misses lists the two misses", out)
    empty = os.path.join(d.tmp, "empty.jsonl")
    open(empty, "w").close()
    r = d.doctor("eval", "retrieval", empty)
    tap.ok(r.returncode == 1 and b"empty" in r.stderr, "an empty file is an error", r.stderr)
    tap.eq(d.doctor("eval", "precision", path).returncode, 2, "eval of something else: exit 2")
    tap.eq(d.doctor("eval", "retrieval", "--k", "0,3", path).returncode, 2, "a bad --k: exit 2")


def embeddings_config(path, url, model):
    with open(path, "w") as f:
        f.write("docs:\n  embeddings:\n    base_url: %s\n    model: %s\n"
                "    api_key_env: DOCS_TEST_KEY\n    encoding: base64\n    batch: 4\n"
                % (url, model))


def embeddings(tap):
    """A second daemon whose config names an embeddings endpoint: dense retrieval
    fused with BM25, and a lexical fallback with a warning when the endpoint fails."""
    e = Daemon(env={"DOCS_TEST_KEY": "sk-docs-test"})
    server = ChatServer(e.tmp, "embeddings.log")
    try:
        cfg = os.path.join(e.tmp, "doctor.yaml")
        embeddings_config(cfg, server.url, "bag")
        e.config = cfg
        e.start()
        r = e.doctor("index", "--json", DOCS)
        res = json.loads(r.stdout) if r.returncode == 0 else {}
        tap.ok(res.get("embedded", 0) == res.get("chunks", -1) > 0,
               "every chunk is embedded: %r" % {k: res.get(k) for k in ("chunks", "embedded")},
               r.stderr)
        reqs = server.requests(path="/v1/embeddings")
        tap.ok(reqs and all(q["body"].get("encoding_format") == "base64" and
                            len(q["body"]["input"]) <= 4 for q in reqs),
               "in batches of 4, base64-encoded, as configured (%d requests)" % len(reqs))
        tap.ok(reqs and all(q["headers"].get("Authorization") == "Bearer sk-docs-test" for q in reqs),
               "with the key from the environment variable named in the config")
        st = e.client().call("status")["docs"]
        tap.ok(st.get("vectors", 0) >= res.get("chunks", 1), "status counts the vectors", st)
        hits = json.loads(e.doctor("search", "--json", "zorblax", "cache").stdout)["hits"]
        tap.ok(hits and hits[0]["page"] == "guide/config.rst" and hits[0]["vector_rank"] >= 1
               and hits[0]["lexical_rank"] >= 1, "a search fuses BM25 and vector ranks", hits[:1])
        lex = json.loads(e.doctor("search", "--json", "--lexical", "zorblax", "cache").stdout)["hits"]
        tap.ok(lex and all(h["vector_rank"] == 0 for h in lex), "--lexical leaves the vectors out")
        slow_endpoint(tap, e, server, cfg)
        # same model (its vectors are stored), but nothing listens there now
        embeddings_config(cfg, "http://127.0.0.1:1/v1", "bag")
        tap.eq(e.doctor("reload").returncode, 0, "reload with an endpoint that is down")
        r = e.doctor("search", "zorblax", "cache")
        tap.ok(r.returncode == 0 and b"guide/config.rst#setting-the-cache-size" in r.stdout
               and b"warning:" in r.stderr, "search falls back to BM25 with a warning",
               r.stdout + r.stderr)
        tap.ok(b"sk-docs-test" not in r.stderr and b"sk-docs-test" not in open(e.log_path, "rb").read(),
               "the key is in neither the warning nor the log")
    finally:
        server.stop()
        tap.eq(e.stop(), 0, "the daemon with embeddings exits cleanly")
        e.cleanup()


def slow_endpoint(tap, e, server, cfg):
    """Searches wait for their query's embedding on the daemon's loop, not on a
    worker thread: while more searches than libuv has threads (4) wait on an
    endpoint that takes 5 s (the model "slow"), another client's status and a
    lexical search (which needs a worker) answer at once."""
    embeddings_config(cfg, server.url, "slow")
    tap.eq(e.doctor("reload").returncode, 0, "reload with a slow endpoint")
    waiting = []
    for i in range(6):
        c = e.client(timeout=30)
        c.send({"jsonrpc": "2.0", "id": 1, "method": "docs.search",
                "params": {"query": "zorblax cache %d" % i, "k": 3}})
        waiting.append(c)
    asked = wait_for(lambda: sum(1 for q in server.requests(path=None)
                                 if q["body"].get("model") == "slow") >= 6, timeout=10)
    tap.ok(asked, "six searches wait on the slow endpoint")
    t0 = time.monotonic()
    c = e.client()
    st = c.call("status")
    lex = c.call("docs.search", {"query": "zorblax cache", "lexical_only": True})
    took = time.monotonic() - t0
    ready, _, _ = select.select([w.sock for w in waiting], [], [], 0)
    tap.ok("docs" in st and lex["hits"] and not ready and took < 3,
           "meanwhile status and a lexical search answer at once (%.2f s), before any of "
           "them" % took, {"ready": len(ready)})
    replies = [w.wait_reply(1) for w in waiting]
    tap.ok(all("result" in r and r["result"]["hits"] and "warning" not in r["result"]
               for r in replies), "then each search answers, with hits", replies[:1])
    after = time.monotonic() - t0
    tap.ok(after >= 3, "after the endpoint's 5 s (%.2f s after the status)" % after)
    for w in waiting + [c]:
        w.close()
    embeddings_config(cfg, server.url, "bag")
    tap.eq(e.doctor("reload").returncode, 0, "reload with the fast endpoint again")


def hostile_search(tap):
    c = d.client()
    queries = ['"', '""', "*", "NEAR(a b)", "title:zorblax", "AND OR NOT", "(((", ")", "^",
               "a" * 10000, "é中文😀 zorblax", "'; DROP TABLE chunks; --", "", "   ", "\\",
               "{}[]<>", "x" * 65536, "-zorblax", "zorblax*", "\u200b\u0301", "0x00 \x01\x7f"]
    ok = 0
    for q in queries:
        try:
            res = c.call("docs.search", {"query": q, "k": 5})
            ok += isinstance(res.get("hits"), list) and len(res["hits"]) <= 5
        except RpcError as e:
            tap.diag("query %r: %s" % (q[:40], e))
    tap.eq(ok, len(queries), "odd queries (FTS syntax, SQL, huge, empty, Unicode) give hit lists")
    bad = [({"query": "x" * 65537}, "query"), ({}, "query"), ({"query": 5}, "query"),
           ({"query": "x", "k": 0}, "k"), ({"query": "x", "k": 1001}, "k"),
           ({"query": "x", "k": "5"}, "k"), ({"query": "x", "lexical_only": "yes"}, "lexical_only")]
    for params, param in bad:
        try:
            c.call("docs.search", params)
            tap.ok(False, "docs.search %s refused" % param)
        except RpcError as e:
            tap.ok(e.code == -32602 and e.error.get("data", {}).get("param") == param,
                   "docs.search with a bad %s: -32602" % param, e.error)
    # pipelined: many searches at once, replies matched by id
    for i in range(30):
        c.send({"jsonrpc": "2.0", "id": 1000 + i, "method": "docs.search",
                "params": {"query": "zorblax %d" % i}})
    got = set()
    while len(got) < 30:
        m = c.read_msg()
        if m.get("id", 0) >= 1000:
            got.add(m["id"])
            if "error" in m and m["error"]["code"] != -32006:
                tap.diag(m)
    tap.eq(len(got), 30, "30 pipelined searches are all answered")
    tap.eq(d.client().call("hello")["server"], "doctord", "the daemon is fine")


def bad_index_params(tap):
    c = d.client()
    cases = [({"paths": ["docs"]}, "relative"), ({"paths": "/tmp"}, "list"),
             ({"paths": []}, "list"), ({}, "list"), ({"paths": [5]}, "path"),
             ({"paths": [DOCS], "chunk": {"strategy": "words"}}, "strategy"),
             ({"paths": [DOCS], "chunk": {"max_chars": 200, "overlap": 200}}, "overlap"),
             ({"paths": [DOCS], "chunk": {"max_chars": 50}}, "max_chars"),
             ({"paths": [DOCS], "chunk": "big"}, "chunk")]
    for params, word in cases:
        try:
            c.call("docs.index", params)
            tap.ok(False, "docs.index %r refused" % params)
        except RpcError as e:
            tap.ok(e.code == -32602 and word in e.error["message"],
                   "docs.index %s: -32602 mentioning %s" % (json.dumps(params)[:60], word), e.error)
    try:
        c.call("docs.index", {"paths": [os.path.join(DOCS, "nope")]})
        tap.ok(False, "a missing path is refused")
    except RpcError as e:
        tap.ok(e.code == -32008 and e.error.get("data", {}).get("path", "").endswith("/nope"),
               "a missing path: -32008 naming it", e.error)


def corpus_present(tap, what):
    if os.path.isdir(CORPUS):
        return True
    tap.skip(what, "no corpus at %s" % CORPUS)
    return False


def busy(tap):
    if not corpus_present(tap, "a second indexing while one runs is refused"):
        return
    a = d.client(timeout=300)
    a.send({"jsonrpc": "2.0", "id": 1, "method": "docs.index", "params": {"paths": [CORPUS]}})
    t0 = time.time()
    a.wait_note("docs.progress", timeout=60)
    try:
        d.client().call("docs.index", {"paths": [DOCS]})
        tap.ok(False, "a second docs.index while one runs is refused")
    except RpcError as e:
        tap.ok(e.code == BUSY and "busy" in e.error["message"] and "total" in e.error.get("data", {}),
               "a second docs.index while one runs: busy (-32014)", e.error)
    st = d.client().call("status")["docs"]
    tap.ok("indexing" in st and st["indexing"]["total"] > 0, "status shows the indexing", st)
    r = d.doctor("index", DOCS)
    tap.ok(r.returncode == 1 and b"-32014" in r.stderr, "doctor index says so", r.stderr)
    reply = a.wait_reply(1, raw_reply=True)
    elapsed = time.time() - t0
    res = reply.get("result", {})
    tap.ok(res.get("files", 0) >= 500 and res.get("indexed", 0) + res.get("skipped", 0)
           + res.get("unchanged", 0) == res.get("files", -1),
           "the Ray corpus is indexed: %s" % {k: res.get(k) for k in
                                              ("files", "indexed", "skipped", "chunks", "seconds")},
           reply)
    progress = [m["params"] for m in a.notes if m.get("method") == "docs.progress"]
    dones = [p["done"] for p in progress]
    tap.ok(dones == sorted(dones) and all(p["total"] >= p["done"] and p["path"] for p in progress),
           "progress counts up, with the file handled", progress[:3])
    tap.ok(len(progress) <= 20 * elapsed + 5,
           "progress is throttled: %d reports in %.1f s" % (len(progress), elapsed))
    tap.ok(progress and progress[-1]["done"] == progress[-1]["total"], "the last says all done",
           progress[-1:])
    tap.ok(search_json("ray.init", "address")["hits"], "the corpus is searchable")
    a.close()


def client_leaves(tap):
    if not corpus_present(tap, "a client leaving mid-index"):
        return
    c = d.client(timeout=120)
    c.send({"jsonrpc": "2.0", "id": 1, "method": "docs.index",
            "params": {"paths": [CORPUS], "chunk": {"max_chars": 900, "overlap": 50}}})
    c.wait_note("docs.progress", timeout=60)
    c.close()
    tap.ok(d.client().call("status")["docs"].get("indexing") is not None,
           "the client left; the indexing goes on")
    tap.ok(wait_for(lambda: "indexing" not in d.client().call("status")["docs"], 300, 0.1),
           "and finishes")
    tap.ok(d.proc.poll() is None, "the daemon is alive")
    tap.ok(search_json("ray.init", "address")["hits"], "and the index usable")
    tap.ok("indexed" in d.client(timeout=120).call("docs.index", {"paths": [DOCS]}),
           "a new indexing is accepted")


def ray_eval(tap):
    if not corpus_present(tap, "indexing the Ray corpus and evaluating retrieval"):
        return
    r = d.doctor("index", CORPUS, timeout=600)
    s = summary(r)
    tap.ok(r.returncode == 0 and s and s[0] + s[1] + s[3] >= 500,
           "doctor index of the whole Ray corpus: %s" % r.stdout.decode().strip(), r.stderr[-2000:])
    if not os.path.exists(RAY_QUESTIONS):
        tap.skip("doctor eval retrieval on the Ray questions", "no %s" % RAY_QUESTIONS)
        return
    r = d.doctor("eval", "retrieval", "--json", RAY_QUESTIONS, timeout=600)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        tap.ok(False, "eval retrieval --json on the Ray questions", r.stdout + r.stderr)
        return
    lines = sum(1 for line in open(RAY_QUESTIONS) if line.strip())
    tap.eq((r.returncode, res["questions"]), (0, lines), "every Ray question is evaluated")
    for k, v in sorted(res["k"].items(), key=lambda kv: int(kv[0])):
        tap.diag("recall@%s page %.3f section %.3f" % (k, v["page"], v["section"]))
    tap.diag("MRR page %.3f section %.3f" % (res["mrr"]["page"], res["mrr"]["section"]))
    tap.ok(res["k"]["10"]["page"] >= 0.4, "page recall@10 is at least 0.4 (%.3f)"
           % res["k"]["10"]["page"])
    r = d.doctor("eval", "retrieval", RAY_QUESTIONS, timeout=600)
    tap.ok(r.returncode == 0 and b"page recall" in r.stdout and b"MRR" in r.stdout,
           "the human table", r.stdout + r.stderr)


def stop_while_indexing(tap):
    try:
        restart_while_indexing(tap)
    finally:
        tap.eq(d.stop(), 0, "clean exit")
        d.cleanup()


def restart_while_indexing(tap):
    global d
    if corpus_present(tap, "a daemon stopped while indexing"):
        c = d.client(timeout=120)
        c.send({"jsonrpc": "2.0", "id": 1, "method": "docs.index",
                "params": {"paths": [CORPUS], "chunk": {"max_chars": 700}}})
        c.wait_note("docs.progress", timeout=60)
        tap.eq(d.stop(timeout=300), 0, "SIGTERM while indexing: the daemon waits and exits cleanly")
        tap.ok("waiting for the indexing" in d.stderr(), "and says it waits")
        c.close()
        d = Daemon(tmp=d.tmp).start()
        tap.ok(search_json("ray.init", "address")["hits"], "after a restart the index is usable")
        tap.ok(search_json("zorblax")["hits"], "with the other root too")


run_tests([helps, before_index, index_small, search_small, reindex, progress_bar, evaluate_small,
           embeddings, hostile_search, bad_index_params, busy, client_leaves, ray_eval, stop_while_indexing])
