"""test_incidents.py - output in, incidents out, seen live by a watcher.

A client streams output with errors (JSON mode and raw mode, in odd pieces);
a subscribed watcher must receive incident.new, then incident.updated for a
repeat; structured errors skip parsing; 50 clients at once; clients that
vanish in the middle of a message do not hurt the daemon.
"""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRACEBACK, Daemon, run_tests, wait_for  # noqa: E402

d = Daemon()
watcher = None


def start(tap):
    global watcher
    d.start()
    watcher = d.client()
    tap.eq(watcher.call("subscribe"), {}, "subscribe")


def stream_json(tap):
    c = d.client()
    src = c.call("source.open", {"kind": "command", "name": "app.py",
                                 "context": {"cwd": "/home/u/proj", "python": "/usr/bin/python3"}})["source"]
    tap.ok(isinstance(src, int) and src > 0, "source.open gives an id")
    text = "starting\nloading config\n" + TRACEBACK + "after\n"
    # odd pieces: partial lines across writes
    for i in range(0, len(text), 7):
        c.notify("source.write", {"source": src, "text": text[i:i + 7]})
    m = watcher.wait_note("incident.new")
    inc = m["params"]["incident"]
    tap.eq(inc["exception"], "ModuleNotFoundError", "watcher gets incident.new with the exception")
    tap.eq(inc["message"], "No module named 'cv2'", "and the message")
    tap.eq(inc["source"]["name"], "app.py", "and the source name")
    tap.eq(inc["count"], 1, "count 1")
    full = c.call("incident.get", {"id": inc["id"]})["incident"]
    tap.eq(full["frames"][0]["file"], "/home/u/proj/app.py", "full incident has frames")
    tap.eq(full["frames"][0]["line"], 3, "with line numbers")
    tap.ok("loading config" in full["context"], "context holds the lines before the error")
    tap.eq(full["source"].get("cwd"), "/home/u/proj", "source context kept")
    # a repeat of the same error (other addresses) is the same incident
    c.call("source.write", {"source": src, "text": TRACEBACK})
    m = watcher.wait_note("incident.updated")
    tap.eq((m["params"]["incident"]["id"], m["params"]["incident"]["count"]), (inc["id"], 2),
           "the repeat updates the same incident, count 2")
    res = c.call("source.close", {"source": src})
    tap.eq([i["id"] for i in res["incidents"]], [inc["id"]], "source.close lists its incidents")
    c.close()


def stream_raw(tap):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket)
    tb = ("Traceback (most recent call last):\r\n"
          '  File "/srv/job.py", line 10, in run\r\n'
          "    1/0\r\n"
          "ZeroDivisionError: division by zero")       # no trailing newline
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"source.open","params":{"kind":"command","name":"raw-job","raw":true}}\n'
              + b"\x1b[32mok\x1b[0m\n" + tb.encode())
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    import json
    msgs = [json.loads(line) for line in data.splitlines()]
    tap.eq(msgs[0].get("id"), 1, "raw source.open is answered")
    closed = [m for m in msgs if m.get("method") == "source.closed"]
    tap.ok(len(closed) == 1, "source.closed arrives at EOF", repr(msgs))
    if closed:
        incs = closed[0]["params"]["incidents"]
        tap.eq([i["exception"] for i in incs], ["ZeroDivisionError"],
               "raw bytes with CRLF and no final newline give the incident")
    m = watcher.wait_note("incident.new", lambda m: m["params"]["incident"]["exception"] == "ZeroDivisionError")
    tap.ok(m is not None, "watcher sees the raw source's incident")


def notebook_ansi(tap):
    c = d.client()
    src = c.call("source.open", {"kind": "notebook", "name": "demo.ipynb"})["source"]
    text = ("\x1b[0;31m---------------------------------------------------------------------------\x1b[0m\n"
            "\x1b[0;31mKeyError\x1b[0m                                  Traceback (most recent call last)\n"
            "Cell \x1b[0;32mIn[4]\x1b[0m, line \x1b[0;32m2\x1b[0m\n"
            "\x1b[1;32m      1\x1b[0m d \x1b[38;5;241m=\x1b[39m {}\n"
            "\x1b[0;32m----> 2\x1b[0m d[\x1b[38;5;124m'missing'\x1b[39m]\n"
            "\n"
            "\x1b[0;31mKeyError\x1b[0m: 'missing'\n")
    c.call("source.write", {"source": src, "text": text})
    m = watcher.wait_note("incident.new", lambda m: m["params"]["incident"]["exception"] == "KeyError")
    inc = c.call("incident.get", {"id": m["params"]["incident"]["id"]})["incident"]
    tap.eq(inc["message"], "'missing'", "Jupyter ANSI traceback parsed")
    tap.ok("\x1b[0;31m" in inc["raw"] and "\x1b" not in inc["text"], "raw keeps colours, text has none")
    c.call("source.close", {"source": src})
    c.close()


def structured(tap):
    c = d.client()
    src = c.call("source.open", {"kind": "notebook", "name": "hooked.ipynb"})["source"]
    r = c.call("source.error", {"source": src, "ename": "ValueError", "evalue": "bad value 0x7f3a2b",
                                "traceback": ["\x1b[0;31mValueError\x1b[0m Traceback (most recent call last)",
                                              "Cell In[1], line 1\n----> 1 raise ValueError('bad')"]})
    tap.ok(r["new"] is True and r["count"] == 1, "structured error makes a new incident")
    r2 = c.call("source.error", {"source": src, "ename": "ValueError", "evalue": "bad value 0x55aa00",
                                 "traceback": ["Cell In[7], line 1\n----> 1 raise ValueError('bad')"]})
    tap.eq((r2["incident"], r2["count"]), (r["incident"], 2),
           "same error with another address is the same incident")
    m = watcher.wait_note("incident.new", lambda m: m["params"]["incident"]["exception"] == "ValueError")
    tap.eq(m["params"]["incident"]["detector"], "python.structured", "detector is python.structured")
    c.call("source.close", {"source": src})
    c.close()


def negatives(tap):
    c = d.client()
    before = c.call("status")["incidents"]
    src = c.call("source.open", {"kind": "log", "name": "noise.log"})["source"]
    noise = ("2024-05-01 12:00:00 INFO request error_rate=0.01\n"
             "WARNING: pip is being invoked by an old script wrapper\n"
             "/x/y.py:3: DeprecationWarning: use z instead\n"
             " 45%|████▌     | 45/100 [00:01<00:02, 30.1it/s]\r 100%|██████████| 100/100\n"
             "0 errors, 3 warnings\n"
             "ERROR: something logged at error level\n")
    c.call("source.write", {"source": src, "text": noise})
    res = c.call("source.close", {"source": src})
    tap.eq(res["incidents"], [], "warnings, progress bars and 'error' in logs are not incidents")
    tap.eq(c.call("status")["incidents"], before, "no incident was added")
    c.close()


def shell_errors(tap):
    c = d.client()
    src = c.call("source.open", {"kind": "shell", "name": "bash"})["source"]
    c.call("source.write", {"source": src, "text": "bash: frobnicate: command not found\n"})
    res = c.call("source.close", {"source": src})
    tap.eq([i["exception"] for i in res["incidents"]], ["CommandNotFound"], "command not found detected")
    c.close()


def many_clients(tap):
    errors = []
    results = []

    def one(i):
        try:
            c = d.client()
            src = c.call("source.open", {"kind": "command", "name": "job-%d" % i})["source"]
            tb = TRACEBACK.replace("cv2", "mod%d" % (i % 10))
            for part in ("line a\n", tb[:40], tb[40:], "tail\n"):
                c.notify("source.write", {"source": src, "text": part})
            res = c.call("source.close", {"source": src})
            results.append(len(res["incidents"]))
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    tap.eq(errors, [], "50 clients at once: no errors")
    tap.eq(results, [1] * 50, "each of the 50 sources found its incident")
    st = d.client().call("status")
    incs = d.client().call("incident.list", {"exception": "ModuleNotFoundError", "limit": 1000})["incidents"]
    tap.eq(len([i for i in incs if i["message"].startswith("No module named 'mod")]), 10,
           "deduplicated into 10 distinct incidents")
    tap.eq(sum(i["count"] for i in incs if i["message"].startswith("No module named 'mod")), 50,
           "whose counts add up to 50")
    tap.ok(wait_for(lambda: d.client().call("status")["connections"] <= 2, 5),
           "their connections are gone", repr(st))


def vanishing(tap):
    for cut in (b'{"jsonrpc":"2.0","id":1,"method":"sta',
                b'{"jsonrpc":"2.0","id":1,"method":"source.open","params":{"kind":"log","name":"v","raw":true}}\nTraceback (most recent call last):\n  File "x.py", line 1, in <module>\nNameError: name \'y\' is not defined'):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        s.sendall(cut)
        s.close()
    c = d.client()
    tap.eq(c.call("hello")["server"], "doctord", "daemon alive after clients vanished mid-message")
    tap.ok(wait_for(lambda: any(i["exception"] == "NameError" for i in
                                c.call("incident.list")["incidents"])),
           "a raw source cut off still yields its error")
    c.close()


def slow_subscriber(tap):
    lazy = d.client()
    lazy.call("subscribe")
    # the lazy subscriber never reads; flood incidents to it
    c = d.client()
    src = c.call("source.open", {"kind": "command", "name": "flood"})["source"]
    for i in range(300):
        c.notify("source.write", {"source": src, "text": TRACEBACK.replace("cv2", "flood%d" % i)})
    c.call("source.close", {"source": src})
    tap.eq(c.call("hello")["server"], "doctord", "daemon fine with a subscriber that does not read")
    c.close()
    lazy.close()


def no_secrets_in_log(tap):
    c = d.client()
    src = c.call("source.open", {"kind": "command",
                                 "name": "curl -H 'Authorization: Bearer SECRETTOKEN123'",
                                 "context": {"argv": ["curl", "SECRETTOKEN123"]}})["source"]
    c.call("source.write", {"source": src, "text": TRACEBACK.replace(
        "No module named 'cv2'", "No module named 'SECRETTOKEN123'")})
    c.call("source.error", {"source": src, "ename": "KeyError", "evalue": "'SECRETTOKEN123'"})
    c.call("source.close", {"source": src})
    c.close()
    tap.ok("SECRETTOKEN123" not in d.stderr(),
           "source names, messages and context never reach the log (debug level)")


def stop(tap):
    watcher.close()
    tap.eq(d.stop(), 0, "clean exit")
    d.cleanup()


run_tests([start, stream_json, stream_raw, notebook_ansi, structured, negatives, shell_errors,
           many_clients, vanishing, slow_subscriber, no_secrets_in_log, stop])
