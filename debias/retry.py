"""Retries of model API calls, in one place.

Only transient errors (rate limits, timeouts, connection errors, 5xx) are retried, with
exponential backoff and jitter (tenacity). Authentication, permission, bad-request,
not-found and context-window errors fail fast with a :class:`~debias.errors.FatalModelError`
whose message says what to check. Messages never contain API keys: every message built
here goes through :func:`redact`.

The synchronous and asynchronous wrappers share one pure core: :func:`classify`,
:func:`to_model_error` and the wait computation of :class:`RetryPolicy`.

Example:
    >>> retrier = Retrier(RetryPolicy(max_attempts=3), target="openai/gpt-4o-mini")
    >>> retrier.call(litellm.completion, model="openai/gpt-4o-mini", messages=msgs)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import random
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar

import tenacity
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from debias.errors import FatalModelError, JudgeError, TransientModelError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP statuses below 500 that are worth retrying (timeout, conflict, too early, rate limit).
TRANSIENT_4XX = frozenset({408, 409, 425, 429})


class ErrorKind(str, Enum):
    """How a failed model call should be handled."""

    TRANSIENT = "transient"
    FATAL = "fatal"


class RetryPolicy(BaseModel):
    """How transient model errors are retried.

    The wait before retry ``n`` (1-based) is
    ``min(initial_wait * 2 ** (n - 1) + uniform(0, jitter), max_wait)``, raised to the
    server's ``Retry-After`` (capped at ``max_wait``) when ``respect_retry_after`` is set.

    Attributes:
        max_attempts: Total attempts including the first call (1 disables retrying).
        initial_wait: Seconds to wait before the first retry.
        max_wait: Upper bound in seconds on any single wait.
        jitter: Maximum random seconds added to each wait (0 for deterministic waits).
        respect_retry_after: Wait at least the ``Retry-After`` the server sent with a 429/503.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=5, description="Total attempts including the first call.")
    initial_wait: float = Field(default=0.5, description="Seconds before the first retry.")
    max_wait: float = Field(default=30.0, description="Upper bound on a single wait (s).")
    jitter: float = Field(default=1.0, description="Maximum random seconds added to a wait.")
    respect_retry_after: bool = Field(default=True, description="Honour Retry-After headers.")

    @field_validator("max_attempts")
    @classmethod
    def _attempts(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"max_attempts must be at least 1, got {v!r}")
        return v

    @field_validator("initial_wait", "max_wait", "jitter")
    @classmethod
    def _non_negative(cls, v: float, info: Any) -> float:
        if not v >= 0:  # also rejects NaN
            raise ValueError(f"{info.field_name} must be a number of seconds >= 0, got {v!r}")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> RetryPolicy:
        if self.max_wait < self.initial_wait:
            raise ValueError(
                f"max_wait ({self.max_wait!r}) must be >= initial_wait ({self.initial_wait!r})"
            )
        return self

    def wait_seconds(self, retry_number: int, retry_after: float | None = None,
                     rand: float = 0.0) -> float:
        """Seconds to wait before retry ``retry_number`` (pure; ``rand`` in [0, 1) is the jitter draw)."""
        base = self.initial_wait * 2 ** (retry_number - 1) + rand * self.jitter
        wait = min(base, self.max_wait)
        if self.respect_retry_after and retry_after is not None:
            wait = max(wait, min(retry_after, self.max_wait))
        return wait


class HTTPStatusError(Exception):
    """A model server answered with an HTTP error status.

    Raised by backends that speak HTTP themselves
    (:class:`~debias.backends.openai_compat.OpenAICompatBackend`); :func:`classify` maps it
    by status: 408/409/425/429 and 5xx are transient (``Retry-After`` honoured), anything
    else fatal.

    Args:
        status_code: The HTTP status.
        message: The server's error message (from its JSON error body when it sent one).
        headers: Response headers; names are lower-cased on the way in.

    Attributes:
        status_code: The HTTP status.
        message: The server's error message.
        headers: Response headers with lower-case names (``retry-after`` is read from here).
    """

    def __init__(self, status_code: int, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = int(status_code)
        self.message = message
        self.headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def _kind_of_status(status: int) -> ErrorKind:
    return ErrorKind.TRANSIENT if status >= 500 or status in TRANSIENT_4XX else ErrorKind.FATAL


def status_of(exc: BaseException) -> int | None:
    """HTTP status carried by an API exception (``status_code`` or ``response.status_code``)."""
    for obj in (exc, getattr(exc, "response", None)):
        code = getattr(obj, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def _classes(module: str, names: Sequence[str]) -> tuple[type[BaseException], ...]:
    """Exception classes of an already-imported module (nothing is imported here)."""
    mod = sys.modules.get(module)
    if mod is None:
        return ()
    found = (getattr(mod, n, None) for n in names)
    return tuple(c for c in found if isinstance(c, type) and issubclass(c, BaseException))


_TRANSIENT_NAMES = ("RateLimitError", "APITimeoutError", "Timeout", "APIConnectionError",
                    "InternalServerError", "ServiceUnavailableError", "BadGatewayError")
_FATAL_NAMES = ("AuthenticationError", "PermissionDeniedError", "BadRequestError",
                "NotFoundError", "UnprocessableEntityError", "ContextWindowExceededError",
                "ContentPolicyViolationError", "UnsupportedParamsError")


_MISSING_CREDENTIALS = re.compile(
    r"(?i)\bmissing\b[^.\n]{0,40}?\b(?:credentials|api[ _-]?key)\b"
    r"|api_key client option must be set|\bno api[ _-]?key\b")


def missing_credentials(exc: BaseException) -> bool:
    """Whether an API client's exception says the key is missing.

    litellm reports a missing key of some providers as a status-500
    ``InternalServerError`` ("OpenAIException - Missing credentials") or an
    ``APIConnectionError`` ("Missing Gemini API key"); by status they would look transient.
    Only exceptions raised by the openai/litellm clients are read this way.
    """
    module = type(exc).__module__ or ""
    if not module.startswith(("openai", "litellm")):
        return False
    return bool(_MISSING_CREDENTIALS.search(str(exc)))


def classify(exc: BaseException) -> ErrorKind | None:
    """Classify an exception raised by a model call.

    litellm and openai exception classes are recognised by type (litellm's subclass
    openai's), then any exception carrying an HTTP status by that status: 408/409/425/429
    and 5xx are transient, other 4xx fatal; :class:`HTTPStatusError` (raised by the
    OpenAI-compatible backend) the same way, any other status it carries (a redirect)
    fatal. A client error saying the API key is missing is fatal whatever status litellm
    gave it (:func:`missing_credentials`). Plain ``TimeoutError``/``ConnectionError`` and
    httpx/aiohttp transport errors (connection refused or reset, truncated body) are
    transient.

    Args:
        exc: The exception.

    Returns:
        ``ErrorKind.TRANSIENT``, ``ErrorKind.FATAL``, or ``None`` for exceptions that are
        not API errors (programming errors, our own errors): those must propagate unchanged.
    """
    if isinstance(exc, JudgeError):
        return None
    if isinstance(exc, HTTPStatusError):  # our own HTTP clients: by status, 3xx included
        return _kind_of_status(exc.status_code)
    # Fatal first: litellm's ContextWindowExceededError is a BadRequestError, and a
    # status-less APIConnectionError wrapping a 4xx must not be retried.
    fatal = _classes("openai", _FATAL_NAMES) + _classes("litellm.exceptions", _FATAL_NAMES)
    if (fatal and isinstance(exc, fatal)) or missing_credentials(exc):
        return ErrorKind.FATAL
    transient = (_classes("openai", _TRANSIENT_NAMES)
                 + _classes("litellm.exceptions", _TRANSIENT_NAMES)
                 + _classes("httpx", ("TimeoutException", "NetworkError", "RemoteProtocolError"))
                 + _classes("aiohttp", ("ClientConnectionError", "ServerTimeoutError",
                                          "ClientPayloadError")))
    status = status_of(exc)
    if status is not None and 400 <= status < 600:
        return _kind_of_status(status)
    if isinstance(exc, (TimeoutError, ConnectionError)) or (transient and isinstance(exc, transient)):
        return ErrorKind.TRANSIENT
    return None


_KEY_PATTERNS = (
    (re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-*]{3,}"), r"\1-[redacted]"),  # sk-..., sk-proj-...
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9_\-.~+/=*]{6,}"), r"\1[redacted]"),
    (re.compile(r"(?i)\b((?:x-)?api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"),
     r"\1[redacted]"),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{10,}"), "[redacted]"),  # Google keys
)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """Remove API keys from ``text``: the given ``secrets`` and anything key-shaped
    (``sk-...``, ``Bearer ...``, ``api_key=...``, ``AIza...``)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    for pattern, repl in _KEY_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def _hint(exc: BaseException, status: int | None, key_env: str | None) -> str:
    name = type(exc).__name__
    key = f"check {key_env} or pass api_key=" if key_env else "check the API key (pass api_key=)"
    if "ContextWindow" in name:
        return "the prompt is longer than the model's context window; shorten the candidates"
    if missing_credentials(exc):
        return f"no API key was found: {key}"
    if status == 401 or name == "AuthenticationError":
        return f"authentication failed: {key}"
    if status == 403 or name == "PermissionDeniedError":
        return f"permission denied: the key may not have access to this model; {key}"
    if status == 404 or name == "NotFoundError":
        return "not found: check the model name and api_base"
    if status in (400, 422) or name in ("BadRequestError", "UnprocessableEntityError"):
        return "the provider rejected the request: check the model name and its parameters"
    if status is not None and 300 <= status < 400:
        return "the server redirected the request: use the final URL as api_base"
    if status == 429 or name == "RateLimitError":
        return "rate limited: lower --concurrency or raise the retry policy's waits"
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return "the call timed out: raise timeout= or check the server"
    if "Connect" in name or isinstance(exc, ConnectionError):  # httpx ConnectError too
        return "could not connect: check api_base and that the server is up"
    return "the provider failed"


def _first_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_model_error(exc: BaseException, kind: ErrorKind, *, target: str, attempts: int,
                   secrets: Sequence[str] = (), key_env: str | None = None) -> JudgeError:
    """Turn a classified API exception into a ``TransientModelError``/``FatalModelError``.

    The message names the target (model string, api base), the HTTP status, the exception
    type, a hint, and the provider's own message, all with keys redacted.

    Args:
        exc: The exception raised by the last attempt.
        kind: Its classification.
        target: What was called, e.g. ``"openai/gpt-4o-mini at https://..."``.
        attempts: How many attempts were made.
        secrets: Exact strings to redact (the API key in use).
        key_env: Environment variable holding the key, named in the hint.

    Returns:
        The error to raise; attributes ``status_code``, ``error_type``, ``attempts``,
        ``kind`` and ``target`` are set on it.
    """
    status = status_of(exc)
    # a missing key is not an HTTP answer, whatever status litellm put on it
    code = f"HTTP {status} " if status is not None and not missing_credentials(exc) else ""
    detail = _first_line(redact(str(exc), secrets)) or "(no message)"
    hint = _hint(exc, status, key_env)
    if kind is ErrorKind.TRANSIENT:
        msg = (f"{target}: gave up after {attempts} attempt{'s' if attempts != 1 else ''}: "
               f"{code}{type(exc).__name__}: {hint}. Provider said: {detail}")
        err: JudgeError = TransientModelError(redact(msg, secrets))
    else:
        msg = (f"{target}: {code}{type(exc).__name__}, not retried: {hint}. "
               f"Provider said: {detail}")
        err = FatalModelError(redact(msg, secrets))
    err.status_code = status  # type: ignore[attr-defined]
    err.error_type = type(exc).__name__  # type: ignore[attr-defined]
    err.attempts = attempts  # type: ignore[attr-defined]
    err.kind = kind  # type: ignore[attr-defined]
    err.target = target  # type: ignore[attr-defined]
    return err


def _retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms`` / numeric ``retry-after``)."""
    candidates = (getattr(exc, "litellm_response_headers", None), getattr(exc, "headers", None),
                  getattr(getattr(exc, "response", None), "headers", None))
    for headers in candidates:
        if not headers or not hasattr(headers, "get"):
            continue
        for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
            value = headers.get(name)
            if value is None:
                continue
            try:
                return max(0.0, float(value) * scale)
            except (TypeError, ValueError):  # HTTP-date form: ignored, the backoff applies
                continue
    return None


def _is_transient(exc: BaseException) -> bool:
    return classify(exc) is ErrorKind.TRANSIENT


class Retrier:
    """Calls a function, retrying transient API errors per a :class:`RetryPolicy`.

    Args:
        policy: The retry policy (default ``RetryPolicy()``).
        target: Name of what is called, used in error messages (model string, api base).
        secrets: Strings that must never appear in messages (the API key in use).
        key_env: Environment variable of the API key, named in authentication hints.
    """

    def __init__(self, policy: RetryPolicy | None = None, *, target: str = "model",
                 secrets: Sequence[str] = (), key_env: str | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self.target = target
        self._secrets = tuple(s for s in secrets if s)
        self.key_env = key_env

    def __repr__(self) -> str:
        return f"Retrier(policy={self.policy!r}, target={self.target!r})"

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        rand = random.random() if self.policy.jitter else 0.0
        return self.policy.wait_seconds(state.attempt_number, _retry_after(exc), rand)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.info("%s: attempt %d/%d failed (%s); retrying in %.2fs", self.target,
                       state.attempt_number, self.policy.max_attempts,
                       _first_line(redact(f"{type(exc).__name__}: {exc}", self._secrets), 200),
                       wait)

    def _options(self) -> dict[str, Any]:
        return {
            "stop": tenacity.stop_after_attempt(self.policy.max_attempts),
            "wait": self._wait,
            "retry": tenacity.retry_if_exception(_is_transient),
            "before_sleep": self._before_sleep,
            "reraise": True,
        }

    def _translate(self, exc: BaseException, attempts: int) -> BaseException:
        kind = classify(exc)
        if kind is None:
            return exc
        return to_model_error(exc, kind, target=self.target, attempts=attempts,
                              secrets=self._secrets, key_env=self.key_env)

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Call ``fn(*args, **kwargs)`` with retries.

        The first attempt runs directly (tenacity's per-call set-up costs ~50-100 us, a
        large share of a fast HTTP call); only after a transient failure does tenacity take
        over, its attempt 1 replaying that failure, so waits, logging, attempt counts and
        errors are the same as if tenacity had made every attempt.

        Raises:
            TransientModelError: Transient errors persisted for ``max_attempts`` attempts.
            FatalModelError: A non-retryable API error (raised on the first occurrence).
        """
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if self.policy.max_attempts == 1 or not _is_transient(exc):
                err = self._translate(exc, 1)
                if err is exc:
                    raise
                raise err from None
            pending = [exc]  # tenacity's attempt 1 replays this failure

        def attempt() -> T:
            if pending:
                raise pending.pop()
            return fn(*args, **kwargs)

        retrying = tenacity.Retrying(**self._options())
        try:
            return retrying(attempt)
        except Exception as exc:
            err = self._translate(exc, retrying.statistics.get("attempt_number", 1))
            if err is exc:
                raise
            raise err from None

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Async variant of :meth:`call` (waits with ``asyncio.sleep``)."""
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            if self.policy.max_attempts == 1 or not _is_transient(exc):
                err = self._translate(exc, 1)
                if err is exc:
                    raise
                raise err from None
            pending = [exc]  # tenacity's attempt 1 replays this failure

        async def attempt() -> T:
            if pending:
                raise pending.pop()
            return await fn(*args, **kwargs)

        retrying = tenacity.AsyncRetrying(**self._options())
        try:
            return await retrying(attempt)
        except Exception as exc:
            err = self._translate(exc, retrying.statistics.get("attempt_number", 1))
            if err is exc:
                raise
            raise err from None
