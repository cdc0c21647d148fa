#!/usr/bin/env python3
"""check_cases.py - validate the diagnosis evaluation set against the corpus.

Reads tests/eval/diagnose_cases.jsonl (or the file given as the first
argument) and checks every line: a JSON object with the fields of
`doctor eval diagnose` (docs/evaluation.md) and nothing else, a unique name,
a known kind, an exception (or null for an output without error), a remedy
as a non-empty string or argv array, and, for a case with a "page", a page
that exists in the Ray documentation corpus ($DOCTOR_CORPUS, else
../shared/corpus/ray-docs beside the source tree) whose #anchor is the
docutils id of a heading really present in that page, plus a reference
answer. The heading and corpus rules are those of
tests/retrieval/check_questions.py, imported from there.

Then checks over the whole set: its size and its mix (errors the plugins
know with remedies, Ray errors with pages, outputs without errors,
notebooks). Speaks TAP; exits non-zero when a check fails. Standard
library only.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "retrieval"))
from check_questions import candidates, docutils_id, find_corpus, headings, resolve  # noqa: E402

KEYS = {"name", "text", "kind", "exception", "remedy", "page", "reference", "context", "note"}
KINDS = ("command", "notebook", "log")
MIN_CASES = 30
MIN_REMEDIES = 10        # cases whose remedy a shipped plugin proposes
MIN_PAGES = 10           # Ray cases with a page and a reference answer
MIN_CLEAN = 5            # outputs without any error
MIN_NOTEBOOKS = 3
MIN_REFERENCE_WORDS = 15


def check_remedy(remedy):
    if isinstance(remedy, str):
        return [] if remedy.strip() else ["'remedy' is an empty string"]
    if (isinstance(remedy, list) and remedy
            and all(isinstance(a, str) and a for a in remedy)):
        return []
    return ["'remedy' must be a non-empty string or an array of non-empty strings"]


def check_page(page, corpus):
    if not isinstance(page, str) or not page or page.startswith(("/", "#")):
        return ["'page' must be a path relative to the corpus root"]
    path_part, _, anchor = page.partition("#")
    if ".." in path_part.split("/"):
        return ["page %r leaves the corpus" % page]
    if anchor and not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", anchor):
        return ["anchor %r is not a docutils id" % anchor]
    if corpus is None:
        return []
    path = resolve(corpus, path_part)
    if path is None:
        return ["page not found in corpus (tried %s)" % ", ".join(candidates(path_part))]
    if anchor:
        try:
            ids = [docutils_id(t) for t in headings(path)]
        except (OSError, ValueError) as e:
            return ["cannot read %s: %s" % (path, e)]
        if anchor not in ids:
            return ["no heading with id %r in %s" % (anchor, os.path.relpath(path, corpus))]
    return []


def check_case(obj, corpus):
    """Problems with one parsed line (list of str, empty when fine)."""
    if not isinstance(obj, dict):
        return ["not a JSON object"]
    problems = []
    extra = set(obj) - KEYS
    if extra:
        problems.append("unknown keys: %s" % ", ".join(sorted(extra)))
    for key in ("name", "text"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            problems.append("'%s' must be a non-empty string" % key)
    if obj.get("kind", "command") not in KINDS:
        problems.append("'kind' %r not one of %s" % (obj.get("kind"), ", ".join(KINDS)))
    if "exception" not in obj:
        problems.append("'exception' is required")
    exc = obj.get("exception")
    if exc is not None and (not isinstance(exc, str) or not exc):
        problems.append("'exception' must be a non-empty string or null")
    if exc is None and any(k in obj for k in ("remedy", "page", "reference")):
        problems.append("remedy, page and reference need an exception")
    if "remedy" in obj:
        problems += check_remedy(obj["remedy"])
    if "page" in obj:
        problems += check_page(obj["page"], corpus)
        ref = obj.get("reference")
        if not isinstance(ref, str) or len(ref.split()) < MIN_REFERENCE_WORDS:
            problems.append("a case with a page needs a reference answer of %d words or more"
                            % MIN_REFERENCE_WORDS)
    if "context" in obj and not isinstance(obj["context"], dict):
        problems.append("'context' must be an object")
    return problems


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(HERE, "diagnose_cases.jsonl")
    corpus = find_corpus()
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        print("1..1")
        print("not ok 1 - read %s: %s" % (path, e))
        return 1

    entries = [(i + 1, l) for i, l in enumerate(lines) if l.strip()]
    totals = [
        ("cases", MIN_CASES, lambda o: True),
        ("cases with a remedy", MIN_REMEDIES, lambda o: "remedy" in o),
        ("cases with a page and a reference", MIN_PAGES, lambda o: "page" in o),
        ("outputs without an error", MIN_CLEAN, lambda o: o.get("exception", 0) is None),
        ("notebook outputs", MIN_NOTEBOOKS, lambda o: o.get("kind") == "notebook"),
    ]
    print("1..%d" % (len(entries) + len(totals)))
    if corpus is None:
        print("# corpus not found: pages and anchors are not checked")
    failed, n, names, good = 0, 0, {}, []
    for lineno, raw in entries:
        n += 1
        try:
            obj = json.loads(raw)
        except ValueError as e:
            obj, problems = None, ["not JSON: %s" % e]
        else:
            problems = check_case(obj, corpus)
        name = obj.get("name") if isinstance(obj, dict) else None
        if isinstance(name, str):
            if name in names:
                problems.append("same name as line %d" % names[name])
            names.setdefault(name, lineno)
        label = "line %d %s" % (lineno, name if isinstance(name, str) else "?")
        if problems:
            failed += 1
            print("not ok %d - %s" % (n, label))
            for p in problems:
                print("#   %s" % p)
        else:
            good.append(obj)
            skip = " # SKIP corpus not found" if corpus is None and "page" in obj else ""
            print("ok %d - %s%s" % (n, label, skip))

    for what, least, pred in totals:
        n += 1
        count = sum(1 for o in good if pred(o))
        if count >= least:
            print("ok %d - %d %s (at least %d)" % (n, count, what, least))
        else:
            failed += 1
            print("not ok %d - %d %s, want at least %d" % (n, count, what, least))
    if failed:
        print("# %d check(s) failed" % failed, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
