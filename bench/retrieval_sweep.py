#!/usr/bin/env python3
"""retrieval_sweep.py - how the docs.* settings change retrieval quality.

Starts the real doctord of a build tree on a temporary socket and data dir,
and for each setting below writes a config, reloads the daemon, (re)indexes
the corpus with `doctor index` and scores the evaluation set with `doctor
eval retrieval --lexical --json`. Prints one row per setting: page and
section recall@1/5 and MRR, chunks and index time. This is how the defaults
of docs_options_init were chosen (docs/retrieval.md, "Measured").

Usage: bench/retrieval_sweep.py [--build DIR] [--corpus DIR] [--questions FILE]
  --build      a configured and built tree (default: the current directory)
  --corpus     default $DOCTOR_CORPUS, else ../shared/corpus/ray-docs
  --questions  default tests/retrieval/ray_questions.jsonl of the sources
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)

BASE = {"strategy": "section", "max_chars": 1500, "overlap": 0,
        "title": 4, "headings": 4, "body": 1, "per_page": 2}

# (label, changes to BASE): one axis at a time around the defaults.
SETTINGS = [
    ("defaults", {}),
    ("max_chars 500", {"max_chars": 500}),
    ("max_chars 800", {"max_chars": 800}),
    ("max_chars 3000", {"max_chars": 3000}),
    ("max_chars 6000", {"max_chars": 6000}),
    ("overlap 200", {"overlap": 200}),
    ("strategy paragraph", {"strategy": "paragraph"}),
    ("paragraph 800", {"strategy": "paragraph", "max_chars": 800}),
    ("weights 1/1/1", {"title": 1, "headings": 1}),
    ("weights 2/2/1", {"title": 2, "headings": 2}),
    ("weights 8/8/1", {"title": 8, "headings": 8}),
    ("weights 4/1/1", {"headings": 1}),
    ("weights 1/4/1", {"title": 1}),
    ("per_page 0 (off)", {"per_page": 0}),
    ("per_page 1", {"per_page": 1}),
    ("per_page 3", {"per_page": 3}),
]


def config_text(s, db):
    return ("docs:\n  db: %s\n  chunk:\n    strategy: %s\n    max_chars: %d\n"
            "    overlap: %d\n  weights:\n    title: %g\n    headings: %g\n"
            "    body: %g\n  per_page: %d\n"
            % (db, s["strategy"], s["max_chars"], s["overlap"], s["title"],
               s["headings"], s["body"], s["per_page"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=".")
    ap.add_argument("--corpus", default=os.environ.get("DOCTOR_CORPUS") or
                    os.path.join(SRC, "..", "shared", "corpus", "ray-docs"))
    ap.add_argument("--questions", default=os.path.join(SRC, "tests", "retrieval",
                                                        "ray_questions.jsonl"))
    a = ap.parse_args()
    doctord = os.path.join(a.build, "doctord")
    doctor = os.path.join(a.build, "doctor")
    for p in (doctord, doctor, a.questions):
        if not os.path.exists(p):
            sys.exit("retrieval_sweep: %s not found" % p)
    if not os.path.isdir(a.corpus):
        sys.exit("retrieval_sweep: no corpus at %s (set --corpus)" % a.corpus)

    tmp = tempfile.mkdtemp(prefix="doctor-sweep-")
    sock = os.path.join(tmp, "s.sock")
    cfg = os.path.join(tmp, "doctor.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCTOR_")}
    env.update(XDG_CONFIG_HOME=os.path.join(tmp, "config"), DOCTOR_SOCKET=sock)
    with open(cfg, "w") as f:
        f.write(config_text(BASE, os.path.join(tmp, "docs.db")))
    daemon = subprocess.Popen([doctord, "--foreground", "--socket", sock, "--data-dir",
                               os.path.join(tmp, "data"), "--config", cfg,
                               "--log-level", "error"], env=env)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)

        def run(*args):
            r = subprocess.run([doctor, "--timeout", "120"] + list(args), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if r.returncode != 0:
                sys.exit("retrieval_sweep: doctor %s: %s" % (" ".join(args),
                                                             r.stderr.decode()))
            return json.loads(r.stdout) if "--json" in args else None

        print("%-20s %7s %7s %7s %7s %7s %7s %7s %7s" %
              ("setting", "p@1", "p@5", "s@1", "s@5", "MRR p", "MRR s", "chunks", "index s"))
        for label, change in SETTINGS:
            s = dict(BASE, **change)
            with open(cfg, "w") as f:
                f.write(config_text(s, os.path.join(tmp, "docs.db")))
            run("reload")
            t0 = time.monotonic()
            idx = run("index", "--json", a.corpus)
            took = time.monotonic() - t0
            ev = run("eval", "retrieval", "--lexical", "--json", "--k", "1,5", a.questions)
            k = ev["k"]
            # a run that re-chunked nothing (only search settings changed)
            # writes no chunks: the count is the previous row's
            chunks = "%d" % idx["chunks"] if idx.get("indexed") else "same"
            print("%-20s %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f %7s %7.2f" %
                  (label, k["1"]["page"], k["5"]["page"], k["1"]["section"],
                   k["5"]["section"], ev["mrr"]["page"], ev["mrr"]["section"],
                   chunks, took), flush=True)
    finally:
        daemon.terminate()
        daemon.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
