#!/usr/bin/env python3
"""openai_server.py - a local OpenAI-compatible HTTP server, for tests only.

Python standard library only. It listens on 127.0.0.1, on the port given by
--port (0, the default: any free port), prints "PORT <n>" as the first line
of its standard output, and serves until SIGTERM or SIGINT, then exits 0.

  python3 openai_server.py [--port N] [--log FILE] [--scripts DIR]

--log FILE appends one JSON object per request, written before the answer
is sent: {"method", "path", "headers": {name: value, as received, nothing
redacted}, "body": the parsed JSON body, or the raw text when it is not
JSON}. Tests count requests and look at what arrived through it.

Routes live in ROUTES (path -> handler method name); an endpoint is a
method of Handler and a line there.

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

POST /v1/chat/completions
  Request as OpenAI's: {"model", "messages": [...] (non-empty), "stream":
  bool, "stream_options": {"include_usage": bool}, "tools", ...}; a missing
  model or messages is 400. The answer is streamed (text/event-stream,
  chunked, each event one "data: {chat.completion.chunk}" and a final
  "data: [DONE]") when "stream" is true, else one chat.completion object.

  A model named "script:NAME" (or "script:NAME:TAG") plays the scripted
  conversation in <scripts>/NAME.json, where <scripts> is --scripts DIR or
  else chat_scripts/ next to this file. Each request to the same model name
  (TAG included: "script:retry:a" and "script:retry:b" count apart) takes
  the next turn. Any other model answers "You said: <the last user
  message>" (usage counted in words).

  A script is a JSON object:
    {"description": "...", "turns": [TURN, ...],
     "after": "repeat-last" (default) | "cycle" | "fail"}
  "after" says what requests beyond the last turn get: the last turn again
  (a model that never stops, e.g. the "loop" script calling one tool with
  the same arguments forever), the turns from the first again, or a 500.

  A TURN is a response or a failure. A response:
    {"content": "text" | null,
     "reasoning": "text",         sent before the content, in the field
     "reasoning_field": "reasoning_content" (default) | "reasoning",
     "refusal": "text",
     "tool_calls": [{"id": "call_1" (default call_<n>), "name": "f",
                     "arguments": {...} | "raw text"}, ...],
     "omit_ids": true,            tool calls sent without ids
     "arguments_as_object": true, arguments sent as a JSON object, not text
     "finish_reason": "stop" | "tool_calls" | "length" (default: tool_calls
                      when there are tool calls, else stop),
     "usage": {"prompt_tokens", "completion_tokens", ...} (default: words),
     "usage_in_last_chunk": true, usage in the finish chunk rather than in
                      a chunk of its own with "choices": []
     "chunk": 7,                  bytes of text and of arguments per event
                                  (default 8)
     "delay": 1.5,                seconds before the headers (a slow server)
     "stall": {"after": 2, "seconds": 4},  stream: a pause after 2 events
     "truncate_after": 3,         stream: close the connection after 3
                                  events, the chunked body left unfinished
     "truncate_clean": true,      ... but end the chunked body properly
                                  (an answer without [DONE] or finish_reason)
     "invalid_chunk_after": 2,    stream: an event that is not JSON after 2
     "stream_error": {"after": 2, "error": {...}},  stream: after 2 events
                                  a data: {"error": {...}} event, then the end
     "bad_json": true}            not streamed: a 200 body that is not JSON
  In a stream, the text is cut into pieces of "chunk" bytes; the first
  event of each tool call carries its index, id, type and name, then the
  arguments' pieces of all calls are interleaved by index; then a chunk
  with finish_reason, and (stream_options.include_usage) a last chunk with
  "choices": [] and usage, then [DONE].

  A failure has a "status":
    {"status": 429, "body": {...} | "text", "headers": {"Retry-After": "1"},
     "content_type": "text/html", "delay": 0}
  Every "{api_key}" in the body's strings becomes the key received in the
  Authorization header (careless servers echo it). A body object is sent
  as JSON, a string as text/plain unless content_type says otherwise; a
  failure is never streamed. "status": 200 with an error body is an error
  inside a 200 answer.
"""

import argparse
import base64
import json
import os
import re
import signal
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_DIM = 256
SLOW_SECONDS = 5.0
SCRIPTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chat_scripts")
DEFAULT_CHUNK = 8
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


# ---------------------------------------------------------------- chat scripts

def load_script(scripts_dir, name):
    """The script NAME.json, or an ApiError 404 naming what is missing."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise openai_error(404, "bad script name %r" % name, code="model_not_found")
    path = os.path.join(scripts_dir, name + ".json")
    try:
        with open(path, encoding="utf-8") as f:
            script = json.load(f)
    except OSError:
        raise openai_error(404, "The model `script:%s` does not exist (no %s)" % (name, path),
                           code="model_not_found")
    if not isinstance(script.get("turns"), list) or not script["turns"]:
        raise openai_error(500, "script %s has no turns" % name, "server_error")
    return script


def pick_turn(script, name, seen):
    """The turn for the request number `seen` (0 = the first) of a model."""
    turns = script["turns"]
    if seen < len(turns):
        return turns[seen]
    after = script.get("after", "repeat-last")
    if after == "cycle":
        return turns[seen % len(turns)]
    if after == "fail":
        raise openai_error(500, "script %s has no turn %d" % (name, seen + 1), "server_error")
    return turns[-1]


def words(text):
    return len(WORD.findall((text or "").lower()))


def prompt_words(messages):
    n = 0
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            n += words(content)
        elif isinstance(content, list):
            n += sum(words(p.get("text")) for p in content if isinstance(p, dict))
    return n


def with_key(value, key):
    """value with "{api_key}" replaced by key in every string."""
    if isinstance(value, str):
        return value.replace("{api_key}", key)
    if isinstance(value, list):
        return [with_key(v, key) for v in value]
    if isinstance(value, dict):
        return {k: with_key(v, key) for k, v in value.items()}
    return value


def tool_calls_of(turn):
    """[(id or None, name, arguments as text or object)] of a turn."""
    calls = []
    for i, c in enumerate(turn.get("tool_calls") or []):
        args = c.get("arguments", {})
        if not turn.get("arguments_as_object") and not isinstance(args, str):
            args = json.dumps(args)
        call_id = None if turn.get("omit_ids") else c.get("id", "call_%d" % (i + 1))
        calls.append((call_id, c["name"], args))
    return calls


def usage_of(turn, messages):
    if isinstance(turn.get("usage"), dict):
        return turn["usage"]
    done = words(turn.get("content")) + sum(
        words(a if isinstance(a, str) else json.dumps(a)) for _, _, a in tool_calls_of(turn))
    prompt = prompt_words(messages)
    return {"prompt_tokens": prompt, "completion_tokens": done,
            "total_tokens": prompt + done}


def pieces(text, size):
    size = max(1, int(size))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def stream_events(turn, model, include_usage, messages):
    """The data of every event of a streamed answer, in order (no [DONE])."""
    size = turn.get("chunk", DEFAULT_CHUNK)
    base = {"id": "chatcmpl-script", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}

    def chunk(delta, finish=None, **extra):
        c = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])
        c.update(extra)
        return c

    events = [chunk({"role": "assistant", "content": ""})]
    reasoning_field = turn.get("reasoning_field", "reasoning_content")
    if turn.get("reasoning"):
        events += [chunk({reasoning_field: p}) for p in pieces(turn["reasoning"], size)]
    if turn.get("refusal"):
        events += [chunk({"refusal": p}) for p in pieces(turn["refusal"], size)]
    if turn.get("content"):
        events += [chunk({"content": p}) for p in pieces(turn["content"], size)]
    calls = tool_calls_of(turn)
    arg_pieces = []
    for i, (call_id, name, args) in enumerate(calls):
        first = {"index": i, "type": "function", "function": {"name": name, "arguments": ""}}
        if call_id is not None:
            first["id"] = call_id
        if isinstance(args, str):
            arg_pieces.append(pieces(args, size))
        else:
            first["function"]["arguments"] = args
            arg_pieces.append([])
        events.append(chunk({"tool_calls": [first]}))
    # The arguments of all calls interleaved by index, piece by piece.
    for k in range(max((len(p) for p in arg_pieces), default=0)):
        for i, p in enumerate(arg_pieces):
            if k < len(p):
                events.append(chunk({"tool_calls": [{"index": i,
                                                     "function": {"arguments": p[k]}}]}))
    finish = turn.get("finish_reason", "tool_calls" if calls else "stop")
    usage = usage_of(turn, messages)
    if include_usage and turn.get("usage_in_last_chunk"):
        events.append(chunk({}, finish, usage=usage))
    else:
        events.append(chunk({}, finish))
        if include_usage:
            events.append(dict(base, choices=[], usage=usage))
    return events


def completion(turn, model, messages):
    """The chat.completion object of a response turn (not streamed)."""
    message = {"role": "assistant", "content": turn.get("content")}
    if turn.get("reasoning"):
        message[turn.get("reasoning_field", "reasoning_content")] = turn["reasoning"]
    if turn.get("refusal"):
        message["refusal"] = turn["refusal"]
    calls = tool_calls_of(turn)
    if calls:
        message["tool_calls"] = []
        for call_id, name, args in calls:
            c = {"type": "function", "function": {"name": name, "arguments": args}}
            if call_id is not None:
                c["id"] = call_id
            message["tool_calls"].append(c)
    finish = turn.get("finish_reason", "tool_calls" if calls else "stop")
    return {"id": "chatcmpl-script", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message,
                                         "finish_reason": finish}],
            "usage": usage_of(turn, messages)}


# ---------------------------------------------------------------- server

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # many clients at once (50 diagnoses in flight): the default listen
    # backlog of 5 would drop connections and cost seconds of SYN retries
    request_queue_size = 128

    def __init__(self, port, log_path, scripts_dir=SCRIPTS_DIR):
        super().__init__(("127.0.0.1", port), Handler)
        self.scripts_dir = scripts_dir
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
    # headers and body go out in separate writes: without TCP_NODELAY,
    # Nagle's algorithm and the peer's delayed ACK add 40 ms to each answer
    disable_nagle_algorithm = True
    server_version = "openai-test-server/1"

    ROUTES = {
        "/v1/embeddings": "handle_embeddings",
        "/v1/chat/completions": "handle_chat",
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
        if status is None:
            return      # the handler answered by itself (a stream)
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

    # ------------------------------------------------ /v1/chat/completions

    def handle_chat(self, body):
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise openai_error(400, "you must provide a model parameter")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise openai_error(400, "'messages' must be a non-empty array")
        stream = body.get("stream") is True
        options = body.get("stream_options") or {}
        include_usage = stream and isinstance(options, dict) and \
            options.get("include_usage") is True
        if not model.startswith("script:"):
            last = next((m.get("content") for m in reversed(messages)
                         if isinstance(m, dict) and m.get("role") == "user"), "")
            turn = {"content": "You said: %s" % (last if isinstance(last, str) else "")}
        else:
            name = model.split(":")[1]
            script = load_script(self.server.scripts_dir, name)
            turn = pick_turn(script, name, self.server.count(model))
        if turn.get("delay"):
            self.server.stopping.wait(float(turn["delay"]))
        if "status" in turn:
            sent = self.headers.get("Authorization", "")
            key = sent[len("Bearer "):] if sent.startswith("Bearer ") else sent
            headers = dict(turn.get("headers") or {})
            answer = with_key(turn.get("body", ""), key)
            if isinstance(answer, str):
                headers["Content-Type"] = turn.get("content_type", "text/plain")
            elif turn.get("content_type"):
                answer = json.dumps(answer)
                headers["Content-Type"] = turn["content_type"]
            return int(turn["status"]), answer, headers
        if not stream:
            if turn.get("bad_json"):
                return 200, '{"id": "chatcmpl-script", "choices": [{"mess', \
                    {"Content-Type": "application/json"}
            return 200, completion(turn, model, messages), {}
        self.send_stream(turn, stream_events(turn, model, include_usage, messages))
        return None, None, None

    def send_stream(self, turn, events):
        """Send events as SSE in a chunked body, with the turn's faults."""
        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        stall = turn.get("stall") or {}
        error = turn.get("stream_error") or {}
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            for n, event in enumerate(events + ["[DONE]"]):
                if n == turn.get("truncate_after"):
                    if turn.get("truncate_clean"):
                        chunk(b"")      # the zero-length chunk: a proper end
                        self.wfile.flush()
                    self.close_connection = True
                    return
                if n == turn.get("invalid_chunk_after"):
                    chunk(b'data: {"choices": [{"delta": {"content": nope}}]}\n\n')
                if error and n == error.get("after"):
                    chunk(b"data: %s\n\n" % json.dumps({"error": error.get("error")}).encode())
                    chunk(b"")
                    return
                if stall and n == stall.get("after"):
                    self.server.stopping.wait(float(stall.get("seconds", 1)))
                data = event if isinstance(event, str) else json.dumps(event)
                chunk(b"data: %s\n\n" % data.encode("utf-8"))
            chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True    # the client gave up


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="local OpenAI-compatible server for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--scripts", default=SCRIPTS_DIR,
                    help="the folder of chat scripts (default: %(default)s)")
    args = ap.parse_args()

    server = Server(args.port, args.log, args.scripts)

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
