"""Retries in one place: policy validation, error classification, redaction, and the real
litellm client against the loopback server (429s, 500s, timeouts, 401, 400)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from pydantic import ValidationError

from debias.backends.litellm_backend import LiteLLMBackend, import_litellm
from debias.errors import FatalModelError, JudgeError, TransientModelError
from debias.judges.base import Sampling
from debias.retry import ErrorKind, Retrier, RetryPolicy, classify, redact, status_of
from debias.testing import (
    AlwaysError,
    Flaky,
    OpenAIServer,
    Slow,
    always_500,
    auth_error,
    bad_request,
)
from tests.backends.items import FAST, MSGS, all_text

KEY = "sk-test-0123456789abcdef"
SAMPLING = Sampling(max_tokens=16)

# ----------------------------------------------------------------------------- policy


def test_policy_defaults_are_sane() -> None:
    p = RetryPolicy()
    assert p.max_attempts >= 2 and 0 < p.initial_wait <= p.max_wait


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"max_attempts": 0}, ["max_attempts", "0"]),
        ({"initial_wait": -1.0}, ["initial_wait", "-1.0"]),
        ({"jitter": float("nan")}, ["jitter", "nan"]),
        ({"initial_wait": 5.0, "max_wait": 1.0}, ["max_wait", "1.0", "5.0"]),
    ],
)
def test_policy_rejects_bad_values_naming_them(kwargs: dict, names: list[str]) -> None:
    with pytest.raises(ValidationError) as info:
        RetryPolicy(**kwargs)
    msg = str(info.value)
    for name in names:
        assert name in msg


def test_policy_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="max_tries"):
        RetryPolicy(max_tries=3)  # type: ignore[call-arg]


def test_wait_grows_exponentially_and_is_capped() -> None:
    p = RetryPolicy(initial_wait=0.5, max_wait=3.0, jitter=1.0)
    assert [p.wait_seconds(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert p.wait_seconds(1, rand=0.5) == pytest.approx(1.0)  # jitter draw scaled by `jitter`
    assert p.wait_seconds(10, rand=0.99) == 3.0


def test_wait_honours_retry_after_up_to_max_wait() -> None:
    p = RetryPolicy(initial_wait=0.1, max_wait=2.0, jitter=0)
    assert p.wait_seconds(1, retry_after=1.5) == 1.5
    assert p.wait_seconds(1, retry_after=60) == 2.0
    assert RetryPolicy(initial_wait=0.1, max_wait=2.0, jitter=0,
                       respect_retry_after=False).wait_seconds(1, retry_after=1.5) == 0.1


# ----------------------------------------------------------------------------- classify


def _response(status: int) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("POST", "http://127.0.0.1/v1/chat/completions"))


def _litellm_exc(name: str, status: int | None = None) -> Exception:
    litellm = import_litellm()
    cls = getattr(litellm, name)
    kw: dict = {"message": f"{name} happened", "llm_provider": "openai", "model": "m"}
    if name == "APIConnectionError":
        return cls(**kw)
    if name == "Timeout":
        return cls(**kw)
    if name == "APIError":
        return cls(status_code=status, **kw)
    return cls(response=_response(status or 400), **kw)


@pytest.mark.parametrize(
    ("name", "status", "kind"),
    [
        ("RateLimitError", 429, ErrorKind.TRANSIENT),
        ("Timeout", None, ErrorKind.TRANSIENT),
        ("APIConnectionError", None, ErrorKind.TRANSIENT),
        ("InternalServerError", 500, ErrorKind.TRANSIENT),
        ("ServiceUnavailableError", 503, ErrorKind.TRANSIENT),
        ("BadGatewayError", 502, ErrorKind.TRANSIENT),
        ("APIError", 529, ErrorKind.TRANSIENT),
        ("AuthenticationError", 401, ErrorKind.FATAL),
        ("PermissionDeniedError", 403, ErrorKind.FATAL),
        ("BadRequestError", 400, ErrorKind.FATAL),
        ("NotFoundError", 404, ErrorKind.FATAL),
        ("ContextWindowExceededError", 400, ErrorKind.FATAL),
        ("UnprocessableEntityError", 422, ErrorKind.FATAL),
        ("APIError", 418, ErrorKind.FATAL),
    ],
)
def test_classify_litellm_exceptions(name: str, status: int | None, kind: ErrorKind) -> None:
    assert classify(_litellm_exc(name, status)) is kind


def test_classify_openai_exceptions() -> None:
    import openai

    req = httpx.Request("POST", "http://127.0.0.1/v1")
    assert classify(openai.RateLimitError("slow", response=_response(429), body=None)) is ErrorKind.TRANSIENT
    assert classify(openai.APITimeoutError(request=req)) is ErrorKind.TRANSIENT
    assert classify(openai.APIConnectionError(request=req)) is ErrorKind.TRANSIENT
    assert classify(openai.InternalServerError("x", response=_response(500), body=None)) is ErrorKind.TRANSIENT
    assert classify(openai.AuthenticationError("x", response=_response(401), body=None)) is ErrorKind.FATAL
    assert classify(openai.BadRequestError("x", response=_response(400), body=None)) is ErrorKind.FATAL
    assert classify(openai.NotFoundError("x", response=_response(404), body=None)) is ErrorKind.FATAL


class _StatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"status {status}")
        self.status_code = status


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_StatusError(503), ErrorKind.TRANSIENT),
        (_StatusError(429), ErrorKind.TRANSIENT),
        (_StatusError(408), ErrorKind.TRANSIENT),
        (_StatusError(402), ErrorKind.FATAL),
        (_StatusError(451), ErrorKind.FATAL),
        (TimeoutError("slow"), ErrorKind.TRANSIENT),
        (ConnectionResetError("reset"), ErrorKind.TRANSIENT),
        (httpx.ConnectError("refused"), ErrorKind.TRANSIENT),
        (ValueError("bug"), None),
        (KeyError("bug"), None),
        (_StatusError(200), None),
        (TransientModelError("already ours"), None),
    ],
)
def test_classify_by_status_and_builtin_types(exc: Exception, kind: ErrorKind | None) -> None:
    assert classify(exc) is kind


def test_status_of_reads_response_status() -> None:
    class WithResponse(Exception):
        response = _response(502)

    assert status_of(WithResponse()) == 502
    assert status_of(ValueError()) is None


def test_redact_removes_keys() -> None:
    text = (f"Incorrect API key provided: {KEY}. header Authorization: Bearer abcdef123456 "
            "api_key=hunter2secret, secret zzzz9999, google AIzaSyA1234567890abcdef")
    out = redact(text, secrets=["zzzz9999"])
    for leaked in (KEY, "abcdef123456", "hunter2secret", "zzzz9999", "AIzaSyA1234567890abcdef"):
        assert leaked not in out
    assert "Incorrect API key provided" in out
    assert redact("check OPENAI_API_KEY or pass api_key=") == "check OPENAI_API_KEY or pass api_key="


# ----------------------------------------------------------------------------- Retrier (no network)


class _Script:
    """Raises the given exceptions in turn, then returns "ok"."""

    def __init__(self, *excs: BaseException) -> None:
        self.excs = list(excs)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.excs:
            raise self.excs.pop(0)
        return "ok"

    async def acall(self) -> str:
        return self()


def test_retrier_retries_transient_then_succeeds() -> None:
    fn = _Script(_StatusError(503), TimeoutError("t"))
    assert Retrier(FAST).call(fn) == "ok"
    assert fn.calls == 3


@pytest.mark.parametrize("way", ["sync", "async"])
def test_retrier_first_failure_counts_as_attempt_one(caplog: pytest.LogCaptureFixture, way: str) -> None:
    """The first attempt runs outside tenacity; its failure still gets the first wait and log."""
    fn = _Script(_StatusError(503), _StatusError(503))
    retrier = Retrier(RetryPolicy(max_attempts=3, initial_wait=0.05, max_wait=1, jitter=0), target="m")
    t0 = time.perf_counter()
    with caplog.at_level("INFO", logger="debias.retry"):
        out = retrier.call(fn) if way == "sync" else asyncio.run(retrier.acall(fn.acall))
    assert out == "ok" and fn.calls == 3
    assert time.perf_counter() - t0 >= 0.05 + 0.1  # waits before retries 1 and 2
    logged = [r.getMessage() for r in caplog.records]
    assert [m.split(" failed")[0] for m in logged] == ["m: attempt 1/3", "m: attempt 2/3"]


def test_retrier_gives_up_after_max_attempts() -> None:
    fn = _Script(*[_StatusError(500)] * 10)
    with pytest.raises(TransientModelError, match="gave up after 3 attempts") as info:
        Retrier(FAST, target="openai/x").call(fn)
    assert fn.calls == 3
    assert info.value.attempts == 3 and info.value.status_code == 500
    assert "openai/x" in str(info.value)


def test_retrier_fails_fast_on_fatal() -> None:
    fn = _Script(_StatusError(401), _StatusError(401))
    with pytest.raises(FatalModelError, match="HTTP 401") as info:
        Retrier(FAST, key_env="OPENAI_API_KEY").call(fn)
    assert fn.calls == 1
    assert "check OPENAI_API_KEY" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_retrier_lets_unrelated_errors_through_unchanged() -> None:
    bug = ValueError("a bug in the caller")
    fn = _Script(bug)
    with pytest.raises(ValueError) as info:
        Retrier(FAST).call(fn)
    assert info.value is bug and fn.calls == 1


def test_retrier_async_shares_the_logic() -> None:
    fn = _Script(_StatusError(429), _StatusError(429))
    assert asyncio.run(Retrier(FAST).acall(fn.acall)) == "ok"
    assert fn.calls == 3
    fatal = _Script(_StatusError(400))
    with pytest.raises(FatalModelError):
        asyncio.run(Retrier(FAST).acall(fatal.acall))
    assert fatal.calls == 1


# ----------------------------------------------------------------------------- through litellm


def _backend(srv: OpenAIServer, **kw) -> LiteLLMBackend:
    kw.setdefault("retry", FAST)
    return LiteLLMBackend("openai/test-judge", api_base=srv.base_url, api_key=KEY, **kw)


def test_429_then_200_is_retried_and_succeeds(srv: OpenAIServer) -> None:
    srv.responder = Flaky(failures=2, status=429)
    out = _backend(srv).complete(MSGS, SAMPLING)
    assert out.text == "Output (a)"
    assert srv.request_count == 3
    assert [r.status for r in srv.requests] == [429, 429, 200]


def test_retry_after_header_is_honoured(srv: OpenAIServer) -> None:
    srv.responder = Flaky(failures=1, status=429, retry_after="0.3")
    policy = RetryPolicy(max_attempts=2, initial_wait=0.001, max_wait=5, jitter=0)
    t0 = time.perf_counter()
    _backend(srv, retry=policy).complete(MSGS, SAMPLING)
    assert time.perf_counter() - t0 >= 0.3
    assert srv.request_count == 2


def test_500s_exhaust_to_transient_error_after_max_attempts(srv: OpenAIServer) -> None:
    srv.responder = always_500()
    with pytest.raises(TransientModelError, match="gave up after 3 attempts") as info:
        _backend(srv).complete(MSGS, SAMPLING)
    assert srv.request_count == 3  # no hidden retries inside litellm/openai
    assert info.value.status_code == 500
    assert "openai/test-judge" in str(info.value)


def test_503_is_transient_too(srv: OpenAIServer) -> None:
    srv.responder = AlwaysError(503, "overloaded")
    with pytest.raises(TransientModelError):
        _backend(srv, retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0, jitter=0)).complete(MSGS, SAMPLING)
    assert srv.request_count == 2


def test_timeouts_are_retried_then_fail(srv: OpenAIServer) -> None:
    srv.responder = Slow(delay=3.0)
    t0 = time.perf_counter()
    with pytest.raises(TransientModelError, match="timed out") as info:
        _backend(srv, timeout=0.25, retry=RetryPolicy(max_attempts=2, initial_wait=0.001,
                                                     max_wait=0.01, jitter=0)).complete(MSGS, SAMPLING)
    elapsed = time.perf_counter() - t0
    assert srv.request_count == 2
    assert info.value.attempts == 2
    assert elapsed < 2.5  # each attempt was cut at the client timeout, not the 3 s server delay


@pytest.mark.parametrize(("responder", "status", "hint"), [
    (auth_error, 401, "check OPENAI_API_KEY"),
    (bad_request, 400, "rejected the request"),
    (lambda: AlwaysError(404, "The model `test-judge` does not exist"), 404, "check the model name"),
    (lambda: AlwaysError(403, "no access"), 403, "permission denied"),
])
def test_fatal_errors_fail_fast_without_leaking_the_key(srv: OpenAIServer, responder, status: int,
                                                        hint: str) -> None:
    srv.responder = responder()
    with pytest.raises(FatalModelError) as info:
        _backend(srv).complete(MSGS, SAMPLING)
    assert srv.request_count == 1
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"  # the key was sent ...
    text = all_text(info.value)
    assert KEY not in text and "0123456789abcdef" not in text  # ... and never shown
    assert KEY not in repr(_backend(srv))
    assert f"HTTP {status}" in str(info.value) and hint in str(info.value)
    assert info.value.status_code == status


def test_auth_error_echoing_the_key_is_redacted(srv: OpenAIServer) -> None:
    srv.responder = auth_error()
    with pytest.raises(FatalModelError, match=r"Incorrect API key provided: \[redacted\]"):
        _backend(srv).complete(MSGS, SAMPLING)


def test_connection_refused_is_transient(srv: OpenAIServer) -> None:
    with OpenAIServer() as tmp:
        dead = tmp.base_url  # port is free again once the server stops
    backend = LiteLLMBackend("openai/test-judge", api_base=dead, api_key=KEY, timeout=2,
                             retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0, jitter=0))
    with pytest.raises(TransientModelError, match="gave up after 2 attempts"):
        backend.complete(MSGS, SAMPLING)


def test_async_path_retries_and_fails_fast(srv: OpenAIServer) -> None:
    backend = _backend(srv)
    srv.responder = Flaky(failures=2, status=429)
    out = asyncio.run(backend.acomplete(MSGS, SAMPLING))
    assert out.text == "Output (a)" and srv.request_count == 3
    srv.clear_log()
    srv.responder = always_500()
    with pytest.raises(TransientModelError):
        asyncio.run(backend.acomplete(MSGS, SAMPLING))
    assert srv.request_count == 3
    srv.clear_log()
    srv.responder = auth_error()
    with pytest.raises(FatalModelError) as info:
        asyncio.run(backend.acomplete(MSGS, SAMPLING))
    assert srv.request_count == 1 and KEY not in all_text(info.value)


def test_async_timeouts_are_retried(srv: OpenAIServer) -> None:
    srv.responder = Slow(delay=3.0)
    backend = _backend(srv, timeout=0.25, retry=RetryPolicy(max_attempts=2, initial_wait=0,
                                                            max_wait=0, jitter=0))
    with pytest.raises(TransientModelError):
        asyncio.run(backend.acomplete(MSGS, SAMPLING))
    assert srv.request_count == 2


def test_errors_are_judge_errors(srv: OpenAIServer) -> None:
    """The loop records JudgeError subclasses as data; both kinds must be JudgeErrors."""
    assert issubclass(TransientModelError, JudgeError) and issubclass(FatalModelError, JudgeError)


# ----------------------------------------------------------------------------- missing keys


@pytest.mark.parametrize(("model", "env", "reported_as"), [
    ("openai/gpt-4o-mini", "OPENAI_API_KEY", "InternalServerError"),  # litellm says "HTTP 500"
    ("gemini/gemini-1.5-flash", "GEMINI_API_KEY", "APIConnectionError"),
    ("anthropic/claude-3-5-haiku-latest", "ANTHROPIC_API_KEY", "AuthenticationError"),
])
@pytest.mark.parametrize("way", ["sync", "async"])
def test_a_missing_key_is_fatal_on_the_first_attempt(model: str, env: str, reported_as: str,
                                                     way: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    backend = LiteLLMBackend(model, retry=RetryPolicy(max_attempts=5, initial_wait=5, max_wait=5,
                                                      jitter=0))
    t0 = time.perf_counter()
    with pytest.raises(FatalModelError) as info:
        if way == "sync":
            backend.complete(MSGS, SAMPLING)
        else:
            asyncio.run(backend.acomplete(MSGS, SAMPLING))
    assert time.perf_counter() - t0 < 5  # no backoff wait: one attempt, not five
    err = info.value
    assert err.attempts == 1 and err.kind is ErrorKind.FATAL  # type: ignore[attr-defined]
    assert err.error_type == reported_as  # type: ignore[attr-defined]
    msg = str(err)
    assert "not retried" in msg and "no API key was found" in msg and env in msg
    assert "HTTP 500" not in msg and "provider failed" not in msg


def test_missing_key_wording_counts_only_from_api_clients() -> None:
    litellm = import_litellm()
    exc = litellm.InternalServerError(message="OpenAIException - Missing credentials. Please pass "
                                      "an `api_key`", llm_provider="openai", model="gpt-4o-mini")
    assert classify(exc) is ErrorKind.FATAL
    plain = litellm.InternalServerError(message="upstream overloaded", llm_provider="openai",
                                        model="gpt-4o-mini")
    assert classify(plain) is ErrorKind.TRANSIENT
    assert classify(ValueError("missing api key in my own config")) is None  # not an API error
