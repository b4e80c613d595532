"""The upstream judge model: chat backends for debiased judgements, forwarders for pass-through.

The backend comes from the judge registry (``openai-compat:MODEL`` -> the lean HTTP
backend, any litellm model string -> litellm), so every provider the library supports is
an upstream, with its retry layer (:mod:`debias.retry`: 408/409/425/429/5xx, connection
errors and timeouts retried with backoff; other statuses fail at once).

Keys: the server's environment (``api_key_env``) by default; with ``forward_auth`` the
client's ``Authorization: Bearer`` key, per request. A key is held only inside the
backend built for it (a small LRU keyed by the key's SHA-256), never logged, never part of
a cache key, never echoed (errors are redacted).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from debias.backends.base import ChatBackend
from debias.cache import CallCache, with_cache
from debias.errors import ConfigError, JudgeError
from debias.retry import HTTPStatusError, Retrier, RetryPolicy, redact, status_of

_KEYED_BACKENDS = 32
logger = logging.getLogger(__name__)


class UpstreamError(Exception):
    """An upstream failure to report to the client with the upstream's HTTP status.

    Attributes:
        status: HTTP status to answer (the upstream's, or 502 when it sent none).
        message: Redacted message.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def upstream_error(exc: BaseException, secrets: list[str]) -> UpstreamError:
    """The client-facing form of an upstream exception: the upstream's status (504 for a
    timeout, 502 when there is none), the message with the key redacted."""
    status = status_of(exc)
    if status is None:
        status = getattr(exc, "status_code", None)
    timed_out = "Timeout" in str(getattr(exc, "error_type", "")) or isinstance(exc, TimeoutError)
    code = status if isinstance(status, int) and 400 <= status < 600 else 504 if timed_out else 502
    return UpstreamError(code, redact(f"upstream error: {exc}", secrets))


@dataclass(frozen=True)
class Forwarded:
    """A pass-through answer: a JSON body, or an async stream of SSE bytes."""

    status: int
    body: dict[str, Any] | None = None
    stream: AsyncIterator[bytes] | None = None
    headers: dict[str, str] | None = None


class Forwarder(Protocol):
    """Sends a client's request body upstream unchanged (but for the model name)."""

    async def forward(self, body: dict[str, Any]) -> Forwarded:
        """Forward ``body``; a ``stream: true`` body gets a streamed answer.

        Raises:
            UpstreamError: The upstream failed (after retries for transient statuses).
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class HTTPForwarder:
    """Forwards to an OpenAI-compatible ``/chat/completions`` URL with httpx.

    Args:
        url: The upstream chat-completions URL.
        model: Model name sent upstream.
        key: Bearer key (None: no Authorization header).
        retry: Retry policy for transient statuses (non-streamed, and streamed before the
            first byte).
        timeout: Seconds per request.
    """

    def __init__(self, url: str, model: str, key: str | None, retry: RetryPolicy,
                 timeout: float) -> None:
        self.url = url
        self.model = model
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._secrets = [key] if key else []
        self._retrier = Retrier(retry, target=f"{model} at {url}", secrets=self._secrets)
        self._timeout = timeout
        self._client: Any = None

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(headers=self._headers, timeout=self._timeout,
                                             limits=httpx.Limits(max_connections=512,
                                                                 max_keepalive_connections=512))
        return self._client

    async def _open(self, payload: bytes, stream: bool) -> Any:
        from debias.backends.openai_compat import _error_message

        client = self._http()
        resp = await client.send(client.build_request("POST", self.url, content=payload), stream=stream)
        if resp.status_code >= 400:
            raw = await resp.aread()
            await resp.aclose()
            raise HTTPStatusError(resp.status_code, _error_message(raw), resp.headers)
        return resp

    async def forward(self, body: dict[str, Any]) -> Forwarded:
        payload = json.dumps({**body, "model": self.model}, ensure_ascii=False).encode()
        stream = bool(body.get("stream"))
        try:
            resp = await self._retrier.acall(self._open, payload, stream)
        except Exception as exc:
            if isinstance(exc, JudgeError) or status_of(exc) is not None:
                raise upstream_error(exc, self._secrets) from None
            raise
        if not stream:
            try:
                data = json.loads(resp.content)
            except ValueError:
                raise UpstreamError(502, "upstream answered with a body that is not JSON") from None
            return Forwarded(resp.status_code, body=data)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in resp.aiter_raw():
                    yield chunk
            finally:
                await resp.aclose()

        return Forwarded(resp.status_code, stream=relay(),
                         headers={"content-type": resp.headers.get("content-type", "text/event-stream")})

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class LiteLLMForwarder:
    """Forwards through ``litellm.acompletion`` (any litellm provider).

    Args:
        model: litellm model string.
        api_base: Server URL, if any.
        key: API key (None: litellm reads the provider's environment variable).
        retry: Retry policy.
        timeout: Seconds per request.
    """

    def __init__(self, model: str, api_base: str | None, key: str | None, retry: RetryPolicy,
                 timeout: float) -> None:
        self.model = model
        self.api_base = api_base
        self._key = key
        self._secrets = [key] if key else []
        self._retrier = Retrier(retry, target=model, secrets=self._secrets)
        self._timeout = timeout

    async def forward(self, body: dict[str, Any]) -> Forwarded:
        from debias.backends.litellm_backend import import_litellm

        litellm = import_litellm()
        kwargs = {**body, "model": self.model, "timeout": self._timeout, "num_retries": 0,
                  "max_retries": 0}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._key:
            kwargs["api_key"] = self._key
        try:
            out = await self._retrier.acall(litellm.acompletion, **kwargs)
        except Exception as exc:
            if isinstance(exc, JudgeError) or status_of(exc) is not None:
                raise upstream_error(exc, self._secrets) from None
            raise
        if not body.get("stream"):
            return Forwarded(200, body=out.model_dump(exclude_none=True))

        async def relay() -> AsyncIterator[bytes]:
            async for chunk in out:
                yield f"data: {chunk.model_dump_json(exclude_none=True)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return Forwarded(200, stream=relay(), headers={"content-type": "text/event-stream"})

    async def aclose(self) -> None:
        return None


def _forwarder_for(backend: Any, key: str | None, retry: RetryPolicy, timeout: float) -> Forwarder:
    """The pass-through forwarder matching a backend (by the backend's own attributes: an
    HTTP backend has a chat-completions ``url``, a litellm one a ``model`` string)."""
    url = getattr(backend, "url", None)
    if isinstance(url, str):
        return HTTPForwarder(url, backend.model, key, retry, timeout)
    return LiteLLMForwarder(backend.model, getattr(backend, "api_base", None), key, retry, timeout)


@dataclass
class _Keyed:
    backend: ChatBackend
    forwarder: Forwarder

    async def aclose(self) -> None:
        await self.forwarder.aclose()
        inner = getattr(self.backend, "backend", self.backend)  # under a cache wrapper
        closer = getattr(inner, "aclose", None)
        if closer is not None:
            await closer()


def _close_later(keyed: _Keyed) -> None:
    """Close an evicted key's connections on the running loop (if any)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(keyed.aclose())
    task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("closing an evicted upstream client failed: %s", type(task.exception()).__name__)


class Upstream:
    """Builds and keeps the upstream backend and forwarder per API key.

    Args:
        judge: Judge spec of the upstream model (``openai-compat:MODEL``, ``openai/gpt-4o``...).
        api_base: Server URL (required by ``openai-compat``).
        api_key_env: Environment variable with the key when not forwarding (None: none).
        forward_auth: Use the client's ``Authorization`` bearer key instead.
        retry: Retry policy for upstream calls.
        timeout: Seconds per upstream call.
        cache: Call cache for judgement calls (keyed by model, messages and sampling only).
        factory: Judge factory (default: :func:`debias.judges.create_judge`).
    """

    def __init__(self, judge: str, *, api_base: str | None = None,
                 api_key_env: str | None = "OPENAI_API_KEY", forward_auth: bool = False,
                 retry: RetryPolicy | None = None, timeout: float = 60,
                 cache: CallCache | None = None,
                 factory: Callable[..., Any] | None = None) -> None:
        from debias.judges import create_judge

        self.judge = judge
        self.api_base = api_base
        self.api_key_env = api_key_env
        self.forward_auth = forward_auth
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.cache = cache
        self._factory = factory or create_judge
        self._keyed: OrderedDict[str, _Keyed] = OrderedDict()
        self.model = self._build(None).backend.name  # validates the spec at start-up

    def _build(self, key: str | None) -> _Keyed:
        kwargs: dict[str, Any] = {"retry": self.retry, "timeout": self.timeout}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if key:
            kwargs["api_key"] = key
        elif self.judge.startswith("openai-compat:"):
            kwargs["api_key_env"] = self.api_key_env
        judge = self._factory(self.judge, **kwargs)
        backend = getattr(judge, "backend", None)
        if backend is None:
            raise ConfigError(f"--judge {self.judge!r} is not a chat model the proxy can call "
                              "(use openai-compat:MODEL with --api-base, or a litellm model string)")
        if key is None and self.judge.startswith("openai-compat:") and self.api_key_env:
            key = os.environ.get(self.api_key_env) or None  # litellm reads its own env vars
        forwarder = _forwarder_for(backend, key, self.retry, self.timeout)
        return _Keyed(with_cache(backend, self.cache), forwarder)

    def key_for(self, authorization: str | None) -> str | None:
        """The upstream key of a request.

        Raises:
            UpstreamError: 401 when forwarding auth and the client sent no bearer key.
        """
        if not self.forward_auth:
            return None
        if not authorization or not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            raise UpstreamError(401, "this proxy forwards the client's key (--forward-auth): send "
                                     "'Authorization: Bearer <upstream key>'")
        return authorization[7:].strip()

    def resolve(self, authorization: str | None) -> tuple[ChatBackend, Forwarder]:
        """The backend and forwarder for a request's key."""
        key = self.key_for(authorization)
        slot = "" if key is None else hashlib.sha256(key.encode()).hexdigest()
        found = self._keyed.get(slot)
        if found is None:
            found = self._keyed[slot] = self._build(key)
            while len(self._keyed) > _KEYED_BACKENDS:
                _, evicted = self._keyed.popitem(last=False)
                _close_later(evicted)
        else:
            self._keyed.move_to_end(slot)
        return found.backend, found.forwarder

    async def aclose(self) -> None:
        """Close every backend's and forwarder's connections."""
        for keyed in self._keyed.values():
            await keyed.aclose()
        self._keyed.clear()
