#!/usr/bin/env python3
"""openai_server.py - a local OpenAI-compatible HTTP server, for tests only.

Python standard library only. It listens on 127.0.0.1, on the port given by
--port (0, the default: any free port), prints "PORT <n>" as the first line
of its standard output, and serves until SIGTERM or SIGINT, then exits 0.

  python3 openai_server.py [--port N] [--log FILE]

--log FILE appends one JSON object per request, written before the answer
is sent: {"method", "path", "headers": {name: value, as received, nothing
redacted}, "body": the parsed JSON body, or the raw text when it is not
JSON}. Tests count requests and look at what arrived through it.

Routes live in ROUTES (path -> handler method name); a new endpoint (such
as /v1/chat/completions) is a method of Handler and a line there.

POST /v1/embeddings
  Request as OpenAI's: {"model", "input": string | [string, ...],
  "encoding_format": "float" (default) | "base64", "dimensions": n > 0}.
  Anything else is refused with 400 and an OpenAI error object, as is an
  empty input string. The vector of a text depends on the text and the
  dimension only, never on the model: a feature-hashed bag of its lower-
  cased word tokens ([a-z0-9_]+, weight 1) and the character trigrams of
  each word framed by '#' (weight 0.5), each feature adding its weight with
  a sign at crc32(feature) mod dim, then L2-normalised; 256 dimensions
  unless "dimensions" says otherwise. Text that shares words has a high
  cosine; text that shares none, near 0. Values are rounded to float32, so
  the float and base64 encodings carry the very same numbers.

  The model name chooses a behaviour: the part before any ':' is the
  behaviour, the rest only names a separate counter for the "once"/"twice"
  models (e.g. "fail-429-once:a" and "fail-429-once:b" each fail once).
  Any other model answers normally.

    echo              each input is whitespace-separated numbers, which are
                      the vector sent back as is (float32): exact values
    reverse           the data[] entries in reverse order (index still right)
    floats-only       floats even when base64 is asked (as some servers do)
    fail-429-once     429 with Retry-After: 0 on the first request, then OK
    fail-503-twice    503 (no Retry-After) twice, then OK
    retry-after-long  always 429 with Retry-After: 3600
    fail-500          always 500 with an OpenAI error object
    html-502          always 502 with an nginx-style HTML page
    fail-401          401 {"error": {"message": "Incorrect API key provided:
                      <the key received>", "type", "code": "invalid_api_key"}}
                      - it echoes the key, as careless servers do
    string-error      404 {"error": "model ... not found ..."} (Ollama's form)
    detail-error      422 {"detail": [{"loc", "msg", "type"}]} (FastAPI's form)
    vllm-error        400 {"object": "error", "message", "type", "code": 400}
    bad-json          200 with a body that is not JSON
    slow              waits 5 s before answering (longer than a client's
                      timeout in the tests), then answers normally
    wrong-count       one vector fewer than there are inputs
    mixed-dim         the second vector one dimension short
"""

import argparse
import base64
import json
import re
import signal
import struct
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_DIM = 256
SLOW_SECONDS = 5.0
WORD = re.compile(r"[a-z0-9_]+")


# ---------------------------------------------------------------- vectors

def _feature(vec, feature, weight):
    h = zlib.crc32(feature.encode("utf-8"))
    sign = 1.0 if (h >> 31) & 1 == 0 else -1.0
    vec[h % len(vec)] += sign * weight


def _float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def embed_text(text, dim):
    """The deterministic vector of text (see the module comment)."""
    vec = [0.0] * dim
    for word in WORD.findall(text.lower()):
        _feature(vec, "w:" + word, 1.0)
        framed = "#" + word + "#"
        for i in range(len(framed) - 2):
            _feature(vec, "t:" + framed[i:i + 3], 0.5)
    norm = sum(v * v for v in vec) ** 0.5
    if norm > 0:
        vec = [v / norm for v in vec]
    return [_float32(v) for v in vec]


def encode_vector(vec, as_base64):
    if not as_base64:
        return vec
    return base64.b64encode(struct.pack("<%df" % len(vec), *vec)).decode("ascii")


# ---------------------------------------------------------------- server

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, log_path):
        super().__init__(("127.0.0.1", port), Handler)
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.lock = threading.Lock()
        self.counters = {}          # model name -> requests seen
        self.stopping = threading.Event()

    def count(self, model):
        """How many requests this model name made before this one."""
        with self.lock:
            n = self.counters.get(model, 0)
            self.counters[model] = n + 1
            return n

    def log(self, entry):
        if not self.log_file:
            return
        with self.lock:
            self.log_file.write(json.dumps(entry) + "\n")
            self.log_file.flush()


class ApiError(Exception):
    """An answer other than 200: status, JSON body (or raw bytes), headers."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def openai_error(status, message, type_="invalid_request_error", code=None):
    return ApiError(status, {"error": {"message": message, "type": type_,
                                       "param": None, "code": code}})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-test-server/1"

    ROUTES = {
        "/v1/embeddings": "handle_embeddings",
    }

    def log_message(self, format, *args):  # noqa: A002 - the base's name
        pass

    def do_GET(self):
        self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error",
                                       "param": None, "code": None}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        self.server.log({"method": "POST", "path": self.path,
                         "headers": dict(self.headers.items()),
                         "body": body if body is not None else text})
        handler = self.ROUTES.get(self.path.split("?", 1)[0])
        try:
            if handler is None:
                raise openai_error(404, "Unknown path %s" % self.path)
            if not isinstance(body, dict):
                raise openai_error(400, "The body is not a JSON object")
            status, answer, headers = getattr(self, handler)(body)
        except ApiError as e:
            status, answer, headers = e.status, e.body, e.headers
        if isinstance(answer, (bytes, str)):
            data = answer.encode("utf-8") if isinstance(answer, str) else answer
            ctype = headers.pop("Content-Type", "text/plain")
            self.send_bytes(status, data, ctype, headers)
        else:
            self.send_json(status, answer, headers)

    def send_json(self, status, obj, headers=None):
        self.send_bytes(status, json.dumps(obj).encode("utf-8"), "application/json", headers)

    def send_bytes(self, status, data, ctype, headers=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass    # the client gave up (a timeout test)

    # ------------------------------------------------------ /v1/embeddings

    def embeddings_request(self, body):
        """Check the request as OpenAI does: (model, inputs, base64, dim)."""
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise openai_error(400, "you must provide a model parameter")
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if (not isinstance(inputs, list) or not inputs or
                not all(isinstance(t, str) for t in inputs)):
            raise openai_error(400, "'input' must be a string or an array of strings")
        if any(t == "" for t in inputs):
            raise openai_error(400, "'$.input' is invalid: empty strings are not allowed")
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise openai_error(400, "'encoding_format' must be float or base64")
        dim = body.get("dimensions", DEFAULT_DIM)
        if not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0:
            raise openai_error(400, "'dimensions' must be a positive integer")
        return model, inputs, fmt == "base64", dim

    def handle_embeddings(self, body):
        model, inputs, as_base64, dim = self.embeddings_request(body)
        behaviour = model.split(":", 1)[0]
        seen = self.server.count(model)
        self.scripted_failure(behaviour, seen)
        if behaviour == "bad-json":
            return 200, '{"object": "list", "data": [', {"Content-Type": "application/json"}
        if behaviour == "slow":
            self.server.stopping.wait(SLOW_SECONDS)
        if behaviour == "echo":
            try:
                vectors = [[_float32(float(x)) for x in t.split()] for t in inputs]
            except ValueError:
                raise openai_error(400, "echo: the input must be numbers")
        else:
            vectors = [embed_text(t, dim) for t in inputs]
        if behaviour == "wrong-count":
            vectors = vectors[:-1]
        if behaviour == "mixed-dim" and len(vectors) > 1:
            vectors[1] = vectors[1][:-1]
        if behaviour == "floats-only":
            as_base64 = False
        data = [{"object": "embedding", "index": i, "embedding": encode_vector(v, as_base64)}
                for i, v in enumerate(vectors)]
        if behaviour == "reverse":
            data.reverse()
        tokens = sum(len(WORD.findall(t.lower())) for t in inputs)
        return 200, {"object": "list", "data": data, "model": model,
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, {}

    def scripted_failure(self, behaviour, seen):
        """Raise the failure the model name asks for on this request."""
        if behaviour == "fail-429-once" and seen == 0:
            raise ApiError(429, {"error": {"message": "Rate limit reached, retry shortly",
                                           "type": "requests", "param": None,
                                           "code": "rate_limit_exceeded"}},
                           {"Retry-After": "0"})
        if behaviour == "fail-503-twice" and seen < 2:
            raise ApiError(503, {"error": {"message": "The engine is currently overloaded",
                                           "type": "server_error", "param": None,
                                           "code": None}})
        if behaviour == "retry-after-long":
            raise ApiError(429, {"error": {"message": "You exceeded your current quota",
                                           "type": "insufficient_quota", "param": None,
                                           "code": "insufficient_quota"}},
                           {"Retry-After": "3600"})
        if behaviour == "fail-500":
            raise openai_error(500, "The server had an error while processing your request",
                               "server_error")
        if behaviour == "html-502":
            page = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                    "<center><h1>502 Bad Gateway</h1></center>\r\n"
                    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
            raise ApiError(502, page, {"Content-Type": "text/html"})
        if behaviour == "fail-401":
            sent = self.headers.get("Authorization", "")
            key = sent[len("Bearer "):] if sent.startswith("Bearer ") else sent
            raise openai_error(401, "Incorrect API key provided: %s. You can find your "
                               "API key at https://platform.openai.com/account/api-keys."
                               % key, "invalid_request_error", "invalid_api_key")
        if behaviour == "string-error":
            raise ApiError(404, {"error": "model \"%s\" not found, try pulling it first"
                                 % behaviour})
        if behaviour == "detail-error":
            raise ApiError(422, {"detail": [{"loc": ["body", "input"],
                                             "msg": "field required",
                                             "type": "value_error.missing"}]})
        if behaviour == "vllm-error":
            raise ApiError(400, {"object": "error",
                                 "message": "This model's maximum context length is 512 "
                                            "tokens",
                                 "type": "BadRequestError", "param": None, "code": 400})


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="local OpenAI-compatible server for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="append one JSON line per request to this file")
    args = ap.parse_args()

    server = Server(args.port, args.log)

    def stop(signum, frame):
        server.stopping.set()
        # shutdown() waits for serve_forever, which runs in this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        if server.log_file:
            server.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
