"""A lean backend for OpenAI-compatible chat-completions servers.

vLLM, TGI, llama.cpp's server, LM Studio, Ollama's ``/v1``, OpenAI itself and most
proxies speak ``POST {api_base}/chat/completions``. Talking to them directly costs a
fraction of a millisecond of client CPU per call, where litellm plus the openai SDK
cost several (see ``benchmarks/throughput.py``): at high concurrency the client CPU,
not the server, caps throughput.

- Async calls go through ONE :class:`aiohttp.ClientSession` per backend and event loop,
  created on first use with a large connection pool and closed when the loop shuts down
  (``asyncio.run`` finalises it) or by :meth:`OpenAICompatBackend.aclose`.
- Sync calls go through one pooled :class:`httpx.Client` (thread-safe), closed by
  :meth:`OpenAICompatBackend.close`.
- HTTP errors become :class:`~debias.retry.HTTPStatusError` and go through the same
  :class:`~debias.retry.Retrier` as every other backend: 408/409/425/429/5xx, connection
  errors and timeouts are retried (``Retry-After`` honoured); other statuses fail fast with
  a message naming the model, the api base and the status, never the key.
- Option scoring (``mode="logprobs"``) reads ``top_logprobs`` exactly like the litellm
  backend (:mod:`debias.backends.logprob_scoring`).

aiohttp and httpx are imported on first use. Importing this module registers the backend
spec ``openai-compat``: ``create_backend("openai-compat:MODEL", api_base=URL)``,
``create_judge("openai-compat:MODEL", api_base=URL)`` or
``debias run ... --judge openai-compat:MODEL --api-base URL``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import threading
import weakref
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from debias.backends.base import Completion, Message, Sampling
from debias.backends.factory import backends, reject
from debias.backends.logprob_scoring import CompletionOptionScorer, top_logprobs_of
from debias.errors import (
    ConfigError,
    FatalModelError,
    JudgeError,
    LogprobsUnavailableError,
    MissingDependencyError,
)
from debias.retry import HTTPStatusError, Retrier, RetryPolicy, redact
from debias.types import Usage

if TYPE_CHECKING:
    import aiohttp
    import httpx

__all__ = ["OpenAICompatBackend", "openai_compat_backend"]

_RESERVED = {
    "model": "the model is the first argument",
    "messages": "messages are given per call",
    "stream": "streaming is not supported by the judge backend",
    "temperature": "sampling is set per call: ChatJudge(..., sampling=Sampling(...))",
    "max_tokens": "sampling is set per call: ChatJudge(..., sampling=Sampling(...))",
    "logprobs": "log-probabilities are asked for by ChatJudge(..., mode='logprobs')",
    "top_logprobs": "log-probabilities are asked for by ChatJudge(..., mode='logprobs')",
    "num_retries": "retries are configured with retry=RetryPolicy(...)",
    "max_retries": "retries are configured with retry=RetryPolicy(...)",
    "base_url": "pass the server URL as api_base=",
    "extra_headers": "pass extra HTTP headers as headers={...}",
}
_ERROR_SNIPPET = 300
_SECRET_HEADER = re.compile(r"(?i)authorization|key|token|secret|cookie")


def _error_message(raw: bytes) -> str:
    """The server's error message: OpenAI ``{"error": {"message"}}``, ``{"error": str}``,
    FastAPI ``{"detail"}``, ``{"message"}``, else the start of the body."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        for value in (err, body.get("detail"), body.get("message")):
            if isinstance(value, str) and value:
                return value
            if value:
                return json.dumps(value)[:_ERROR_SNIPPET]
    return text[:_ERROR_SNIPPET] or "(empty body)"


def _check_price(name: str, value: float) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number of USD per token >= 0, got {value!r}")
    return float(value)


@dataclass
class _LoopSession:
    """The aiohttp session of one event loop and the async generator that closes it."""

    session: aiohttp.ClientSession
    keeper: AsyncGenerator[None, None]


class OpenAICompatBackend(CompletionOptionScorer):
    """A :class:`~debias.backends.base.ChatBackend` and
    :class:`~debias.backends.base.OptionScorer` for any OpenAI-compatible chat-completions
    endpoint.

    Args:
        model: Model name as the server knows it (``Qwen/Qwen2.5-7B-Instruct``,
            ``gpt-4o-mini``, ``llama3:8b`` ...).
        api_base: Server URL, usually ending in ``/v1`` (``http://127.0.0.1:8000/v1``);
            requests go to ``{api_base}/chat/completions`` (a URL already ending in
            ``/chat/completions`` is used as is).
        api_key: Bearer token; default: the ``api_key_env`` environment variable; no
            ``Authorization`` header when neither is set (local servers).
        api_key_env: Environment variable read when ``api_key`` is None (None: never).
        timeout: Seconds per request (connection included) before it counts as a
            (transient) timeout.
        retry: Retry policy for transient errors (default ``RetryPolicy()``).
        prefill: Send the answer prefix as an assistant prefill message when scoring
            options (servers that continue a final assistant message, e.g. DeepSeek; vLLM
            also needs ``continue_final_message=True, add_generation_prompt=False``).
        scan_tokens: Completion length used to find the answer token without prefill.
        input_cost_per_token: USD per prompt token for ``Usage.cost`` (default 0).
        output_cost_per_token: USD per completion token for ``Usage.cost`` (default 0).
        headers: Extra HTTP headers sent with every request (an ``Authorization`` header
            here replaces the bearer token; values of credential-like headers are redacted
            from error messages like the key).
        max_connections: Connection pool size per event loop (and of the sync client).
        **extra_body: Extra JSON fields sent with every request (``seed``, ``top_p``,
            ``stop``, vLLM's ``top_k`` or ``chat_template_kwargs`` ...).

    Raises:
        ConfigError: Empty model, an api_base that is not an http(s) URL, a non-positive
            timeout, a negative price, or a reserved extra field (the message says where
            that setting goes instead).
    """

    judge_mode = "generate"  # the ChatJudge mode that works with every server

    def __init__(self, model: str, api_base: str, api_key: str | None = None, *,
                 api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 60,
                 retry: RetryPolicy | None = None, prefill: bool = False, scan_tokens: int = 8,
                 input_cost_per_token: float = 0.0, output_cost_per_token: float = 0.0,
                 headers: Mapping[str, str] | None = None, max_connections: int = 512,
                 **extra_body: Any) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model {model!r} must be the model name the server serves, "
                              "e.g. 'Qwen/Qwen2.5-7B-Instruct'")
        parts = urlsplit(api_base) if isinstance(api_base, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"api_base {api_base!r} must be an http(s) URL such as "
                              "'http://127.0.0.1:8000/v1'")
        if not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        if not isinstance(scan_tokens, int) or scan_tokens < 1:
            raise ConfigError(f"scan_tokens must be an integer >= 1, got {scan_tokens!r}")
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ConfigError(f"max_connections must be an integer >= 1, got {max_connections!r}")
        for key, why in _RESERVED.items():
            if key in extra_body:
                raise ConfigError(f"OpenAICompatBackend does not accept {key}=: {why}")
        self.name = model
        self.model = model
        self.api_base = api_base.rstrip("/")
        self.url = (self.api_base if self.api_base.endswith("/chat/completions")
                    else f"{self.api_base}/chat/completions")
        self.timeout = float(timeout)
        self.prefill = prefill
        self.scan_tokens = scan_tokens
        self.input_cost_per_token = _check_price("input_cost_per_token", input_cost_per_token)
        self.output_cost_per_token = _check_price("output_cost_per_token", output_cost_per_token)
        self.max_connections = max_connections
        self.extra_body = dict(extra_body)
        key = api_key if api_key is not None else (os.environ.get(api_key_env) if api_key_env
                                                   else None)
        extra_headers = {str(k): str(v) for k, v in (headers or {}).items()}
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         **extra_headers}
        if key and not any(k.lower() == "authorization" for k in extra_headers):
            self._headers["Authorization"] = f"Bearer {key}"
        self._target = f"{model} at {self.api_base}"
        # never shown in messages: the key and credential-like headers (Azure's api-key ...)
        self._secrets = [key] if key else []
        self._secrets += [v for k, v in extra_headers.items() if _SECRET_HEADER.search(k)]
        self._retrier = Retrier(retry, target=self._target, secrets=self._secrets,
                                key_env=None if api_key is not None else api_key_env)
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession] = (
            weakref.WeakKeyDictionary())
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in use."""
        return self._retrier.policy

    def __repr__(self) -> str:  # never shows headers (they hold the key)
        return (f"OpenAICompatBackend(model={self.model!r}, api_base={self.api_base!r}, "
                f"timeout={self.timeout!r})")

    # ------------------------------------------------------------------ pure parts
    def _payload(self, messages: list[Message], sampling: Sampling) -> bytes:
        body: dict[str, Any] = {**self.extra_body, "model": self.model, "messages": messages,
                                "temperature": sampling.temperature,
                                "max_tokens": sampling.max_tokens}
        if sampling.logprobs:
            body["logprobs"] = True
            if sampling.top_logprobs:
                body["top_logprobs"] = sampling.top_logprobs
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    def _decode(self, status: int, raw: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """The JSON body of a 2xx answer, or the error to raise (classified by the retrier)."""
        if not 200 <= status < 300:
            message = _error_message(raw)
            if 300 <= status < 400:
                message = f"{message} (redirected to {headers.get('location', '?')})"
            raise HTTPStatusError(status, message, headers)
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            snippet = redact(raw[:200].decode("utf-8", "replace"), self._secrets)
            raise JudgeError(f"{self._target}: HTTP {status} but the body is not a JSON "
                             f"object: {snippet!r}")
        return data

    def _completion(self, data: dict[str, Any]) -> Completion:
        choices = data.get("choices")
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise JudgeError(f"{self._target}: the response has no choices: "
                             f"{json.dumps(data)[:200]}")
        choice = choices[0]
        message = choice.get("message") or {}
        text = message.get("content") if isinstance(message, dict) else None
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        cost = (prompt_tokens * self.input_cost_per_token
                + completion_tokens * self.output_cost_per_token)
        return Completion(text=text if isinstance(text, str) else "",
                          top_logprobs=top_logprobs_of(choice),
                          usage=Usage(calls=1, prompt_tokens=prompt_tokens,
                                      completion_tokens=completion_tokens, cost=cost))

    def _timed_out(self) -> TimeoutError:
        return TimeoutError(f"no answer within timeout={self.timeout:g} s")

    # ------------------------------------------------------------------ sync (httpx)
    def _sync_client(self) -> httpx.Client:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                try:
                    import httpx
                except ImportError as exc:  # pragma: no cover - httpx comes with litellm
                    raise MissingDependencyError("the openai-compat judge needs httpx: pip "
                                                 "install httpx") from exc
                client = httpx.Client(
                    headers=self._headers, timeout=httpx.Timeout(self.timeout),
                    limits=httpx.Limits(max_connections=self.max_connections,
                                        max_keepalive_connections=self.max_connections))
                weakref.finalize(self, client.close)  # sockets closed with the backend
                self._client = client
            return self._client

    def _post(self, payload: bytes) -> dict[str, Any]:
        import httpx

        try:
            resp = self._sync_client().post(self.url, content=payload)
        except httpx.TimeoutException:
            raise self._timed_out() from None
        return self._decode(resp.status_code, resp.content, resp.headers)

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Generate a completion (retrying transient errors).

        Raises:
            TransientModelError: Transient errors outlasted the retry policy.
            FatalModelError: Authentication, bad request, unknown model, ...
            JudgeError: A 2xx answer that is not a chat completion.
        """
        data = self._retrier.call(self._post, self._payload(messages, sampling))
        return self._completion(data)

    # ------------------------------------------------------------------ async (aiohttp)
    def _new_session(self, loop: asyncio.AbstractEventLoop) -> _LoopSession:
        try:
            import aiohttp
        except ImportError as exc:  # pragma: no cover - aiohttp comes with litellm
            raise MissingDependencyError("the openai-compat judge needs aiohttp: pip install "
                                         "aiohttp") from exc
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0,
                                         ttl_dns_cache=300)
        session = aiohttp.ClientSession(connector=connector, headers=self._headers,
                                        timeout=aiohttp.ClientTimeout(total=self.timeout),
                                        cookie_jar=aiohttp.DummyCookieJar())  # stateless API
        entry = _LoopSession(session, self._keep(loop, session))
        with self._lock:
            for old in [lp for lp in self._sessions if lp.is_closed()]:  # loops closed by hand
                del self._sessions[old]
            self._sessions[loop] = entry
        return entry

    async def _keep(self, loop: asyncio.AbstractEventLoop,
                    session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
        """Lives as long as the loop: ``asyncio.run`` closes live async generators at the
        end (``loop.shutdown_asyncgens``), which closes the session on its own loop."""
        try:
            yield
        finally:
            with self._lock:
                if (entry := self._sessions.get(loop)) is not None and entry.session is session:
                    del self._sessions[loop]
            await session.close()

    async def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(loop)
        if entry is None or entry.session.closed:
            entry = self._new_session(loop)
            await entry.keeper.__anext__()  # registers with the loop; never suspends
        return entry.session

    async def _apost(self, payload: bytes) -> dict[str, Any]:
        session = await self._session()
        try:
            async with session.post(self.url, data=payload) as resp:
                raw = await resp.read()
                return self._decode(resp.status, raw, resp.headers)
        except (TimeoutError, asyncio.TimeoutError):  # aiohttp's timeouts derive from these
            raise self._timed_out() from None

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Async variant of :meth:`complete` (one shared aiohttp session per event loop)."""
        data = await self._retrier.acall(self._apost, self._payload(messages, sampling))
        return self._completion(data)

    # ------------------------------------------------------------------ option scoring
    def _logprobs_refused(self, exc: FatalModelError) -> JudgeError:
        """A 400/422 that mentions logprobs means: this server does not do logprobs."""
        if getattr(exc, "status_code", None) in (400, 422) and "logprob" in str(exc).lower():
            return LogprobsUnavailableError(f"{exc} (logprobs are not supported; use "
                                            "mode='generate')")
        return exc

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Close the sync client. Async sessions close with their event loop (or :meth:`aclose`)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the running loop's session and the sync client."""
        entry = self._sessions.get(asyncio.get_running_loop())
        if entry is not None:
            await entry.keeper.aclose()
        self.close()

    def __enter__(self) -> OpenAICompatBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> OpenAICompatBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@backends.register("openai-compat")
def openai_compat_backend(model: str | None, *, adapter: str | None = None,
                          api_base: str | None = None, **options: Any) -> OpenAICompatBackend:
    """Backend factory for ``openai-compat:MODEL``: an :class:`OpenAICompatBackend`.

    ``api_base`` defaults to ``$OPENAI_BASE_URL``; every other keyword goes to the backend.
    A judge on it (``create_judge("openai-compat:MODEL")``) runs in ``generate`` mode unless
    given ``mode="logprobs"`` (vLLM, llama.cpp server, OpenAI).

    Raises:
        ConfigError: No model after ``openai-compat:``, no api_base, or an ``adapter``.
    """
    if not model:
        raise ConfigError("the openai-compat judge needs a model: 'openai-compat:MODEL', e.g. "
                          "'openai-compat:Qwen/Qwen2.5-7B-Instruct'")
    reject(f"'openai-compat:{model}'", adapter=(adapter, "needs a local backend "
                                                 "('local:/path'); the server must serve the "
                                                 "adapter"))
    api_base = api_base or os.environ.get("OPENAI_BASE_URL")
    if not api_base:
        raise ConfigError(f"'openai-compat:{model}' needs the server URL: api_base= (CLI: "
                          "--api-base URL) or $OPENAI_BASE_URL, e.g. http://127.0.0.1:8000/v1 "
                          "(vLLM) or https://api.openai.com/v1")
    return OpenAICompatBackend(model, api_base, **options)
