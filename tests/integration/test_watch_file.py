"""test_watch_file.py - following log files: appends, rotation, truncation,
a file that appears later, and watches remembered across restarts."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRACEBACK, Daemon, RpcError, run_tests, wait_for  # noqa: E402

d = Daemon()
log = os.path.join(d.tmp, "app.log")
w = None


def incidents_with(c, text):
    return [i for i in c.call("incident.list", {"limit": 1000})["incidents"] if text in i["message"]]


def start(tap):
    global w
    with open(log, "w") as f:
        f.write("old line\n" + TRACEBACK.replace("cv2", "old_error"))
    d.start()
    w = d.client()
    r = w.call("source.watch_file", {"path": log, "name": "app"})
    tap.ok(r["source"] > 0, "watch_file gives a source")
    try:
        w.call("source.watch_file", {"path": "relative.log"})
        tap.ok(False, "relative path refused")
    except RpcError as e:
        tap.eq(e.code, -32602, "relative path refused with -32602")
    try:
        w.call("source.watch_file", {"path": log})
        tap.ok(False, "double watch refused")
    except RpcError as e:
        tap.eq(e.code, -32008, "watching twice is refused")
    st = w.call("status")
    tap.eq([x["path"] for x in st["watches"]], [log], "status lists the watch")


def append(tap):
    with open(log, "a") as f:
        f.write("INFO fine\n" + TRACEBACK.replace("cv2", "appended_mod"))
    tap.ok(wait_for(lambda: incidents_with(w, "appended_mod")), "an appended error becomes an incident")
    tap.eq(incidents_with(w, "old_error"), [], "what was there before the watch is not replayed")


def rotation(tap):
    os.rename(log, log + ".1")
    with open(log + ".1", "a") as f:
        f.write(TRACEBACK.replace("cv2", "late_in_old_file"))
    with open(log, "w") as f:
        f.write(TRACEBACK.replace("cv2", "in_new_file"))
    tap.ok(wait_for(lambda: incidents_with(w, "in_new_file")), "after rotation the new file is followed from its start")
    tap.ok(incidents_with(w, "late_in_old_file"), "the rotated file was read to its end first")


def truncation(tap):
    with open(log, "w") as f:
        f.write(TRACEBACK.replace("cv2", "after_truncate"))
    tap.ok(wait_for(lambda: incidents_with(w, "after_truncate")), "after truncation reading restarts at 0")


def appears_later(tap):
    later = os.path.join(d.tmp, "later.log")
    w.call("source.watch_file", {"path": later})
    with open(later, "w") as f:
        f.write(TRACEBACK.replace("cv2", "from_later_file"))
    tap.ok(wait_for(lambda: incidents_with(w, "from_later_file")), "a file created after the watch is followed")


def restart_remembers(tap):
    w.close()
    tap.eq(d.stop(), 0, "stopped")
    d.start()
    c = d.client()
    paths = sorted(x["path"] for x in c.call("status")["watches"])
    tap.eq(paths, sorted([log, os.path.join(d.tmp, "later.log")]), "watches come back after a restart")
    with open(log, "a") as f:
        f.write(TRACEBACK.replace("cv2", "after_restart"))
    tap.ok(wait_for(lambda: incidents_with(c, "after_restart")), "and are followed")
    c.call("source.unwatch_file", {"path": log})
    tap.eq([x["path"] for x in c.call("status")["watches"]], [os.path.join(d.tmp, "later.log")],
           "unwatch_file removes it")
    c.close()


def config_watch(tap):
    cfg = os.path.join(d.tmp, "w.yaml")
    cl = os.path.join(d.tmp, "configured.log")
    with open(cfg, "w") as f:
        f.write("watch:\n  poll_ms: 50\n  files:\n    - path: %s\n      name: configured\n      from_start: true\n" % cl)
    with open(cl, "w") as f:
        f.write(TRACEBACK.replace("cv2", "configured_mod"))
    tap.eq(d.stop(), 0, "stopped")
    d.config = cfg
    d.start()
    c = d.client()
    tap.ok(wait_for(lambda: incidents_with(c, "configured_mod")), "a watch from the config file, from_start")
    c.close()


def stop(tap):
    tap.eq(d.stop(), 0, "clean exit")
    d.cleanup()


run_tests([start, append, rotation, truncation, appears_later, restart_remembers, config_watch, stop])
