"""An OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks.

``GET /stats`` returns the request count, the statuses answered and the process's CPU
time (for benchmarks that run the server in its own process: ``python -m debias.testing``). It runs in a background thread (``ThreadingHTTPServer``, HTTP/1.1 keep-alive, one thread
per connection), so real clients (litellm, openai) exercise their real code paths against
it. What it answers is decided by a pluggable responder (see
:mod:`debias.testing.responders`); every request is logged for assertions.

Example:
    >>> from debias.testing import OpenAIServer, PositionBiased
    >>> with OpenAIServer(PositionBiased(), latency=0.05) as server:  # doctest: +SKIP
    ...     litellm.completion(model="openai/test", api_base=server.base_url,
    ...                        api_key="sk-test", messages=[...])
    ...     assert server.request_count == 1
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from debias.testing.responders import ChatRequest, PositionBiased, Reply, Responder

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}


def tokenize(text: str) -> list[str]:
    """The server's stand-in tokenizer: words and punctuation with their leading space.

    ``"Output (a)"`` -> ``["Output", " (", "a", ")"]``. Usage token counts are
    ``len(tokenize(...))``.
    """
    return _TOKEN.findall(text)


def count_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Prompt tokens the server reports for ``messages``."""
    total = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        total += len(tokenize(content if isinstance(content, str) else ""))
    return total


@dataclass
class LoggedRequest:
    """One request as the server saw it.

    Attributes:
        path: Request path.
        body: Parsed JSON body (``None`` when it was not valid JSON).
        headers: Request headers, lower-cased names.
        status: HTTP status answered (0 while in flight).
        text: Assistant text answered (after prefill stripping and truncation).
        started: ``time.perf_counter()`` at arrival.
        finished: ``time.perf_counter()`` when answered (0 while in flight).
    """

    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    status: int = 0
    text: str = ""
    started: float = 0.0
    finished: float = 0.0

    @property
    def request(self) -> ChatRequest:
        """The request as responders see it."""
        return ChatRequest(self.body or {}, self.headers, self.path)


@dataclass
class _Log:
    entries: list[LoggedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _logprob_entry(token: str, p: float, alternatives: list[tuple[str, float]],
                   top_n: int) -> dict[str, Any]:
    tops = sorted([(token, p), *alternatives], key=lambda tp: -tp[1])[:top_n]
    return {
        "token": token,
        "logprob": math.log(p),
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": math.log(q), "bytes": list(t.encode())}
                         for t, q in tops],
    }


def build_logprobs(req: ChatRequest, tokens: list[str], confidence: float,
                   top_n: int, labels: tuple[str, ...] = ()) -> dict[str, Any]:
    """OpenAI ``choices[0].logprobs`` for ``tokens``.

    A token that is a display label (``a``/``b`` or ``1``/``2``...) gets probability
    ``confidence`` and the other labels share the rest, so option scoring sees a real
    distribution; other tokens get 0.98 with two filler alternatives. ``labels`` replaces
    the display labels (case-sensitive), e.g. AlpacaEval's ``("m", "M")``.
    """
    exact = bool(labels)
    names = list(labels) if exact else [req.view.label(i) for i in range(req.view.n)]
    content = []
    for tok in tokens:
        bare = tok.strip() if exact else tok.strip().lower()
        if bare in names:
            others = [lab for lab in names if lab != bare]
            q = (1.0 - confidence) / max(len(others), 1)
            alts = [(tok.replace(bare, lab), q) for lab in others]
            content.append(_logprob_entry(tok, confidence, alts, top_n))
        else:
            content.append(_logprob_entry(tok, 0.98, [(" the", 0.01), (" I", 0.005)], top_n))
    return {"content": content}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # headers and body leave in one send (flushed per request)
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        with self.server.owner._log.lock:
            self.server.owner._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.owner._log.lock:
            self.server.owner._connections.discard(self.connection)
        with contextlib.suppress(OSError):  # connection already closed by stop()
            super().finish()

    def _send(self, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        self._send(status, {"error": {"message": message, "type": kind, "param": None,
                                      "code": str(status)}}, headers)

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [
                {"id": owner.model_name, "object": "model", "owned_by": "debias"}]})
        elif self.path.rstrip("/") == "/stats":  # for benchmarks running the server apart
            log = owner.requests
            self._send(200, {"requests": len(log),
                             "statuses": dict(Counter(r.status for r in log)),
                             "cpu_s": time.process_time()})  # the server process's CPU time
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry = LoggedRequest(self.path, body if isinstance(body, dict) else None, headers,
                              started=time.perf_counter())
        with owner._log.lock:
            owner._log.entries.append(entry)
        try:
            self._respond(entry)
        except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout test)
            self.close_connection = True
        finally:
            entry.finished = time.perf_counter()

    def _respond(self, entry: LoggedRequest) -> None:
        owner = self.server.owner
        if entry.path.split("?")[0].rstrip("/") not in CHAT_PATHS:
            entry.status = 404
            return self._error(404, f"no route {entry.path}; use POST /v1/chat/completions")
        if entry.body is None:
            entry.status = 400
            return self._error(400, "request body is not a JSON object")
        req = entry.request
        try:
            out = owner.responder(req)
        except Exception as exc:  # a broken responder is a test bug: report it as a 500
            entry.status = 500
            return self._error(500, f"responder raised {type(exc).__name__}: {exc}")
        reply = out if isinstance(out, Reply) else Reply(str(out))
        delay = owner.latency + reply.delay
        if delay > 0 and owner._stopping.wait(delay):
            self.close_connection = True
            return None
        if reply.status != 200:
            entry.status = reply.status
            return self._error(reply.status, reply.error or f"HTTP {reply.status}", reply.headers)
        self._complete(entry, req, reply)
        return None

    def _complete(self, entry: LoggedRequest, req: ChatRequest, reply: Reply) -> None:
        owner = self.server.owner
        body = req.body
        text = reply.text
        if req.prefill and text.startswith(req.prefill):
            text = text[len(req.prefill):]
        tokens = tokenize(text)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if isinstance(limit, int) and 0 < limit < len(tokens):
            tokens, finish = tokens[:limit], "length"
        text = "".join(tokens)
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None,
                                  "message": {"role": "assistant", "content": text}}
        if body.get("logprobs") and owner.logprobs and reply.logprobs:
            top_n = int(body.get("top_logprobs") or 0)
            choice["logprobs"] = build_logprobs(req, tokens, reply.confidence, top_n,
                                                reply.alternatives)
        prompt_tokens = count_prompt_tokens(req.messages)
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model") or owner.model_name),
            "choices": [choice],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens),
                      "total_tokens": prompt_tokens + len(tokens)},
        }
        entry.status, entry.text = 200, text
        if body.get("stream"):
            return self._stream(payload, reply.headers)
        self._send(200, payload, reply.headers)
        return None

    def _stream(self, payload: dict[str, Any], headers: dict[str, str]) -> None:
        """The completion as ``chat.completion.chunk`` server-sent events (one chunk per
        token, then the finish chunk and ``[DONE]``), sent with a Content-Length."""
        head = {k: payload[k] for k in ("id", "created", "model")}
        head["object"] = "chat.completion.chunk"
        choice = payload["choices"][0]
        events = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None}]}]
        events += [{**head, "choices": [{"index": 0, "delta": {"content": tok}, "finish_reason": None}]}
                   for tok in tokenize(choice["message"]["content"])]
        events.append({**head, "choices": [{"index": 0, "delta": {},
                                            "finish_reason": choice["finish_reason"]}]})
        data = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # a burst of concurrent connects must not overflow the backlog
    owner: OpenAIServer


class OpenAIServer:
    """OpenAI-compatible ``POST /v1/chat/completions`` on 127.0.0.1, in a background thread.

    Args:
        responder: Decides each answer: ``(ChatRequest) -> str | Reply``. Default:
            :class:`~debias.testing.responders.PositionBiased`. May be replaced while
            running (``server.responder = ...``).
        latency: Fixed seconds added to every response (simulated model time).
        host: Interface to bind (loopback by default).
        port: Port to bind; 0 picks a free one.
        logprobs: Whether log-probabilities are returned when a request asks for them.
        model_name: Model id reported by ``GET /v1/models``.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, responder: Responder | None = None, *, latency: float = 0.0,
                 host: str = "127.0.0.1", port: int = 0, logprobs: bool = True,
                 model_name: str = "test-judge") -> None:
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {latency!r}")
        self.responder: Responder = responder if responder is not None else PositionBiased()
        self.latency = latency
        self.logprobs = logprobs
        self.model_name = model_name
        self._host, self._port = host, port
        self._log = _Log()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> OpenAIServer:
        """Bind and start serving; returns self."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        httpd = _HTTPServer((self._host, self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"openai-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (in-flight slow responses are cut short)."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._log.lock:
            open_connections = list(self._connections)
        for conn in open_connections:  # idle keep-alive connections: unblock their threads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI ``api_base``: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of the request log, in arrival order."""
        with self._log.lock:
            return list(self._log.entries)

    @property
    def request_count(self) -> int:
        """Number of requests received so far."""
        with self._log.lock:
            return len(self._log.entries)

    def clear_log(self) -> None:
        """Forget the logged requests."""
        with self._log.lock:
            self._log.entries.clear()


def main(argv: list[str] | None = None) -> int:
    """Serve from the command line (benchmarks run the server in its own process so it
    does not compete with the client for the GIL).

    Prints one JSON line ``{"base_url": ..., "port": ...}`` once listening, then serves
    until interrupted or until stdin closes.
    """
    import argparse
    import sys

    from debias.testing.responders import PRESETS

    parser = argparse.ArgumentParser(prog="python -m debias.testing",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--responder", choices=sorted(PRESETS), default="position")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every reply")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-logprobs", action="store_true", help="never return logprobs")
    args = parser.parse_args(argv)
    server = OpenAIServer(PRESETS[args.responder](), latency=args.latency, port=args.port,
                          logprobs=not args.no_logprobs)
    with server:
        print(json.dumps({"base_url": server.base_url, "port": server.port}), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            sys.stdin.read()  # returns when the parent closes our stdin (or at EOF)
    return 0
