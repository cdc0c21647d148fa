"""test_protocol.py - doctord's JSON-RPC framing and errors on a real socket.

Malformed JSON, oversized lines, unknown methods, bad params: each gets the
documented error and the connection stays usable.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, RpcError, run_tests  # noqa: E402

d = Daemon()


def start(tap):
    d.start()
    c = d.client()
    hello = c.call("hello", {"client": "test"})
    tap.eq(hello["server"], "doctord", "hello names the server")
    tap.eq(hello["protocol"], 1, "hello gives the protocol version")
    st = c.call("status")
    tap.eq(st["socket"], d.socket, "status gives the socket path")
    tap.ok(st["database"].startswith(d.data), "database lives in the data dir")
    tap.eq(st["incidents"], 0, "a new daemon has no incidents")
    c.close()


def sock_mode(tap):
    st = os.stat(d.socket)
    tap.eq(st.st_mode & 0o777, 0o600, "socket is 0600")
    tap.eq(os.stat(os.path.dirname(d.socket)).st_mode & 0o777, 0o700, "socket dir is 0700")


def malformed(tap):
    c = d.client()
    c.send_raw(b"{not json\n")
    m = c.read_msg()
    tap.eq(m["error"]["code"], -32700, "invalid JSON gets -32700")
    tap.ok(m["id"] is None, "parse error has id null")
    c.send_raw(b"[1,2,3]\n")
    tap.eq(c.read_msg()["error"]["code"], -32600, "a batch/array gets -32600")
    c.send_raw(b'{"jsonrpc":"2.0","id":5}\n')
    m = c.read_msg()
    tap.eq((m["error"]["code"], m["id"]), (-32600, 5), "no method gets -32600 with the id")
    c.send_raw(b'{"jsonrpc":"1.0","id":6,"method":"status"}\n')
    tap.eq(c.read_msg()["error"]["code"], -32600, "wrong jsonrpc version gets -32600")
    c.send_raw(b'{"jsonrpc":"2.0","id":7,"method":"no.such"}\n')
    m = c.read_msg()
    tap.eq(m["error"]["code"], -32601, "unknown method gets -32601")
    c.send_raw(b'{"jsonrpc":"2.0","id":8,"method":"incident.get","params":{"id":"x"}}\n')
    m = c.read_msg()
    tap.eq(m["error"]["code"], -32602, "bad params get -32602")
    tap.eq(m["error"].get("data", {}).get("param"), "id", "error names the parameter")
    c.send_raw(b'{"jsonrpc":"2.0","id":9,"method":"status","params":[1]}\n')
    tap.eq(c.read_msg()["error"]["code"], -32602, "params must be an object")
    c.send_raw(b"\xff\xfe garbage \x00\x01\n")
    tap.eq(c.read_msg()["error"]["code"], -32700, "binary garbage gets -32700")
    c.send_raw(b'{"jsonrpc":"2.0","method":"no.such"}\n\n\r\n')
    tap.eq(c.call("hello")["server"], "doctord",
           "notification with unknown method and blank lines: no reply, still usable")
    try:
        c.call("incident.get", {"id": 999999})
        tap.ok(False, "unknown incident is an error")
    except RpcError as e:
        tap.eq(e.code, -32003, "unknown incident gets -32003")
    try:
        c.call("source.write", {"source": 4242, "text": "x"})
        tap.ok(False, "unknown source is an error")
    except RpcError as e:
        tap.eq(e.code, -32002, "unknown source gets -32002")
    try:
        c.call("source.open", {"kind": "spaceship", "name": "x"})
        tap.ok(False, "bad kind is an error")
    except RpcError as e:
        tap.eq(e.code, -32602, "unknown source kind gets -32602")
    c.close()


def oversized(tap):
    c = d.client()
    big = b'{"jsonrpc":"2.0","id":1,"method":"source.write","params":{"text":"' + b"x" * (1024 * 1024 + 10) + b'"}}\n'
    c.send_raw(big[:300000])
    c.send_raw(big[300000:])
    m = c.read_msg()
    tap.eq(m["error"]["code"], -32001, "a line over 1 MiB gets -32001")
    tap.eq(m["error"]["data"]["limit"], 1024 * 1024, "the error gives the limit")
    tap.eq(c.call("hello")["server"], "doctord", "connection usable after an oversized line")
    # the same line in one write, followed by a valid request in the same packet
    c.send_raw(big + b'{"jsonrpc":"2.0","id":77,"method":"hello"}\n')
    m = c.read_msg()
    tap.eq(m["error"]["code"], -32001, "oversized again")
    tap.eq(c.read_msg()["id"], 77, "request after it in the same packet is served")
    c.close()


def split_requests(tap):
    c = d.client()
    req = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "hello"}).encode() + b"\n"
    for b in req:
        c.send_raw(bytes([b]))
    tap.eq(c.read_msg()["id"], 3, "a request sent one byte at a time is served")
    many = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "hello"}).encode() + b"\n"
                    for i in range(100))
    c.send_raw(many)
    ids = [c.read_msg()["id"] for _ in range(100)]
    tap.eq(ids, list(range(100)), "100 pipelined requests answered in order")
    c.close()


def stop(tap):
    tap.eq(d.stop(), 0, "SIGTERM: clean exit with status 0")
    tap.ok(not os.path.exists(d.socket), "socket removed at exit")
    d.cleanup()


run_tests([start, sock_mode, malformed, oversized, split_requests, stop])
