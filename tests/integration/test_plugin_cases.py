"""test_plugin_cases.py - every shipped plugin against its own cases.

Runs `doctor plugin test plugins/<name>.lua tests/plugins/<name>` (no
daemon: the plugin host, the detectors and the cases only) for each folder of
cases, and reports every case as one check.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DOCTOR, SRC, run_tests  # noqa: E402

CASES = os.path.join(SRC, "tests", "plugins")


def make_test(name):
    def test(tap):
        plugin = os.path.join(SRC, "plugins", name + ".lua")
        r = subprocess.run([DOCTOR, "plugin", "test", plugin, os.path.join(CASES, name)],
                           capture_output=True, text=True, timeout=120)
        lines = r.stdout.splitlines()
        results = [l for l in lines if re.match(r"^(not )?ok \d+", l)]
        tap.ok(results != [], "%s: cases ran" % name, r.stdout + r.stderr)
        for i, line in enumerate(results):
            ok = line.startswith("ok")
            detail = []
            if not ok:   # the diagnostics that follow a failed case
                start = lines.index(line) + 1
                while start < len(lines) and lines[start].startswith("#"):
                    detail.append(lines[start])
                    start += 1
            tap.ok(ok, "%s: %s" % (name, line.split(" - ", 1)[-1]), "\n".join(detail))
        tap.eq(r.returncode, 0 if all(l.startswith("ok") for l in results) else 1,
               "%s: exit status agrees with the cases" % name)
    test.__name__ = "plugin_" + name
    return test


run_tests([make_test(n) for n in sorted(os.listdir(CASES))
           if os.path.isdir(os.path.join(CASES, n)) and
           os.path.exists(os.path.join(SRC, "plugins", n + ".lua"))])
