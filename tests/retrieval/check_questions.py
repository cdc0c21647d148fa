#!/usr/bin/env python3
"""check_questions.py - validate the retrieval evaluation set against the corpus.

Reads tests/retrieval/ray_questions.jsonl (or the file given as the first
argument) and checks, for every line, that it is a JSON object with a
question, a known kind and a source "PAGE#anchor" whose page exists in the
Ray documentation corpus ($DOCTOR_CORPUS, else ../shared/corpus/ray-docs
beside the source tree) and whose anchor is the docutils id of a heading
really present in that page. Speaks TAP: one check per question line, then
checks over the whole set (size, kinds, duplicates). Exits non-zero when
any check fails. Standard library only.

Headings recognised:
  - reStructuredText: a non-indented text line followed by an underline of
    one repeated punctuation character at least as long as the text, with or
    without a matching overline (an overlined title may be inset);
  - Markdown (.md files and notebook markdown cells): ATX headings "#" to
    "######", outside fenced code blocks.
Ids follow docutils: lower-case, every run of characters other than ASCII
letters and digits becomes one "-", leading and trailing "-" dropped.
"""
import json
import os
import re
import sys

KINDS = ("howto", "api", "error", "concept")
EXTENSIONS = (".rst", ".md", ".ipynb", ".txt")
MIN_QUESTIONS = 80
# Share of error questions the set aims at (about 20%); checked loosely.
MIN_ERROR_SHARE = 0.15

ADORNMENT = re.compile(r'^([!-/:-@\[-`{-~])\1*\s*$')
ATX = re.compile(r'^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$')
FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})')


def docutils_id(title):
    """The id docutils would give a section titled TITLE (see module doc)."""
    return re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')


def rst_headings(lines):
    """Titles of reStructuredText sections in LINES (list of str)."""
    titles = []
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i].rstrip('\n').rstrip()
        # Overline, inset-able title, underline of the same character.
        if ADORNMENT.match(line) and i + 2 < n:
            text = lines[i + 1].rstrip()
            under = lines[i + 2].rstrip()
            if (text.strip() and not ADORNMENT.match(text.strip())
                    and under == line and len(line) >= len(text.strip())):
                titles.append(text.strip())
                i += 3
                continue
        # Title followed by its underline.
        if (line and not line[0].isspace() and i + 1 < n
                and not ADORNMENT.match(line)):
            under = lines[i + 1].rstrip()
            if ADORNMENT.match(under) and len(under) >= len(line):
                titles.append(line.strip())
                i += 2
                continue
        i += 1
    return titles


def md_headings(lines):
    """Titles of Markdown ATX headings in LINES, skipping fenced code."""
    titles = []
    fence = None
    for raw in lines:
        line = raw.rstrip('\n')
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        m = ATX.match(line)
        if m and m.group(2):
            titles.append(m.group(2).strip())
    return titles


def notebook_headings(text):
    """Titles of Markdown headings in the markdown cells of a notebook."""
    nb = json.loads(text)
    titles = []
    for cell in nb.get('cells', []):
        if cell.get('cell_type') != 'markdown':
            continue
        src = cell.get('source', '')
        if isinstance(src, list):
            src = ''.join(src)
        titles.extend(md_headings(src.splitlines()))
    return titles


def headings(path):
    """Heading titles of the page at PATH, by its extension."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if path.endswith('.ipynb'):
        return notebook_headings(text)
    lines = text.splitlines()
    if path.endswith('.md'):
        return md_headings(lines)
    return rst_headings(lines)


def resolve(corpus, page):
    """Path of PAGE under CORPUS, trying the known extensions, or None."""
    for c in candidates(page):
        p = os.path.join(corpus, c)
        if os.path.isfile(p):
            return p
    return None


def candidates(page):
    """Relative paths PAGE may name: itself if it has a known extension,
    else PAGE with each known extension appended."""
    if os.path.splitext(page)[1] in EXTENSIONS:
        return [page]
    return [page + ext for ext in EXTENSIONS]


def check_line(raw, corpus):
    """Problems with one JSONL line (list of str, empty when fine)."""
    try:
        obj = json.loads(raw)
    except ValueError as e:
        return ['not JSON: %s' % e]
    if not isinstance(obj, dict):
        return ['not a JSON object']
    problems = []
    q = obj.get('question')
    if not isinstance(q, str) or len(q.strip()) < 8:
        problems.append('question missing or too short')
    if obj.get('kind') not in KINDS:
        problems.append('kind %r not one of %s' % (obj.get('kind'), ', '.join(KINDS)))
    extra = set(obj) - {'question', 'source', 'kind'}
    if extra:
        problems.append('unknown keys: %s' % ', '.join(sorted(extra)))
    src = obj.get('source')
    if not isinstance(src, str) or '#' not in src:
        problems.append('source must be "PAGE#anchor"')
        return problems
    page, anchor = src.split('#', 1)
    if not page or page.startswith('/') or '..' in page.split('/'):
        problems.append('page %r must be relative to the corpus root' % page)
        return problems
    if not re.fullmatch(r'[a-z0-9]+(?:-[a-z0-9]+)*', anchor):
        problems.append('anchor %r is not a docutils id' % anchor)
        return problems
    if corpus is None:
        return problems
    path = resolve(corpus, page)
    if path is None:
        problems.append('page not found in corpus (tried %s)' % ', '.join(candidates(page)))
        return problems
    try:
        ids = [docutils_id(t) for t in headings(path)]
    except (OSError, ValueError) as e:
        problems.append('cannot read %s: %s' % (path, e))
        return problems
    if anchor not in ids:
        near = [i for i in ids if anchor[:6] in i][:5]
        problems.append('no heading with id %r in %s%s' % (
            anchor, os.path.relpath(path, corpus),
            ' (similar: %s)' % ', '.join(near) if near else ''))
    return problems


def find_corpus():
    corpus = os.environ.get('DOCTOR_CORPUS')
    if not corpus:
        src = os.environ.get('DOCTOR_SRCDIR',
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
        corpus = os.path.join(src, '..', 'shared', 'corpus', 'ray-docs')
    return corpus if os.path.isdir(corpus) else None


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    qfile = argv[1] if len(argv) > 1 else os.path.join(here, 'ray_questions.jsonl')
    corpus = find_corpus()
    try:
        with open(qfile, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except OSError as e:
        print('1..1')
        print('not ok 1 - read %s: %s' % (qfile, e))
        return 1

    entries = [(i + 1, l) for i, l in enumerate(lines) if l.strip()]
    print('1..%d' % (len(entries) + 3))
    if corpus is None:
        print('# corpus not found: pages and anchors are not checked')
    failed = 0
    n = 0
    kinds = {}
    seen = {}
    for lineno, raw in entries:
        n += 1
        problems = check_line(raw, corpus)
        try:
            obj = json.loads(raw)
            label = obj.get('source', '?') if isinstance(obj, dict) else '?'
        except ValueError:
            obj, label = None, '?'
        if isinstance(obj, dict):
            kinds[obj.get('kind')] = kinds.get(obj.get('kind'), 0) + 1
            key = str(obj.get('question', '')).strip().lower()
            if key in seen:
                problems.append('same question as line %d' % seen[key])
            else:
                seen[key] = lineno
        if problems:
            failed += 1
            print('not ok %d - line %d %s' % (n, lineno, label))
            for p in problems:
                print('#   %s' % p)
        elif corpus is None:
            print('ok %d - line %d %s # SKIP corpus not found' % (n, lineno, label))
        else:
            print('ok %d - line %d %s' % (n, lineno, label))

    n += 1
    if len(entries) >= MIN_QUESTIONS:
        print('ok %d - %d questions (at least %d)' % (n, len(entries), MIN_QUESTIONS))
    else:
        failed += 1
        print('not ok %d - %d questions, want at least %d' % (n, len(entries), MIN_QUESTIONS))

    n += 1
    missing = [k for k in KINDS if not kinds.get(k)]
    if missing:
        failed += 1
        print('not ok %d - every kind present' % n)
        print('#   no question of kind %s' % ', '.join(missing))
    else:
        print('ok %d - every kind present (%s)' % (
            n, ', '.join('%s %d' % (k, kinds[k]) for k in KINDS)))

    n += 1
    share = kinds.get('error', 0) / len(entries) if entries else 0.0
    if share >= MIN_ERROR_SHARE:
        print('ok %d - error questions are %.0f%% of the set' % (n, 100 * share))
    else:
        failed += 1
        print('not ok %d - error questions are %.0f%% of the set, want at least %.0f%%'
              % (n, 100 * share, 100 * MIN_ERROR_SHARE))

    if failed:
        print('# %d check(s) failed' % failed, file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
