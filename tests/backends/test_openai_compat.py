"""The lean OpenAI-compatible backend (aiohttp async, httpx sync) against the loopback server.

What every backend must do (verdicts in ORIGINAL numbering, re-asks) is in
``test_contract.py``; here: transient errors (429, 5xx, timeouts, refused connections) are
retried through debias.retry with exact request counts; fatal ones (401, 400, 403, 404)
fail after one request without leaking the key; logprobs, usage, cost, the spec and CLI,
and the session life cycle across event loops.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from debias.backends import ChatBackend, OptionScorer, Sampling, backends
from debias.backends.openai_compat import OpenAICompatBackend
from debias.cli import main
from debias.errors import (
    ConfigError,
    FatalModelError,
    JudgeError,
    LogprobsUnavailableError,
    TransientModelError,
)
from debias.judges import ChatJudge, JudgeRequest, create_judge
from debias.loop import Debiaser
from debias.retry import ErrorKind, HTTPStatusError, RetryPolicy, classify
from debias.runner import arun_batch
from debias.testing import (
    AlwaysError,
    Flaky,
    OpenAIServer,
    PositionBiased,
    Scripted,
    Slow,
    always_500,
    auth_error,
    bad_request,
    tokenize,
)
from debias.testing.openai_server import count_prompt_tokens
from debias.types import Item
from tests.backends.items import FAST, MSGS, PAIR, all_text

KEY = "sk-compat-0123456789abcdef"
MODEL = "test-judge"


def _backend(srv: OpenAIServer, **kw: object) -> OpenAICompatBackend:
    kw.setdefault("retry", FAST)
    kw.setdefault("api_key", KEY)
    return OpenAICompatBackend(MODEL, srv.base_url, **kw)  # type: ignore[arg-type]


def _judge(srv: OpenAIServer, **kw: object) -> ChatJudge:
    kw.setdefault("retry", FAST)
    kw.setdefault("api_key", KEY)
    return create_judge(f"openai-compat:{MODEL}", api_base=srv.base_url, **kw)  # type: ignore[return-value]


def _req(item: Item, order: list[int], with_cue: bool = True) -> JudgeRequest:
    return JudgeRequest(item=item, order=order, with_cue=with_cue)


def _sync_or_async(backend: OpenAICompatBackend, way: str) -> object:
    if way == "sync":
        return backend.complete(MSGS, Sampling(max_tokens=16))
    return asyncio.run(backend.acomplete(MSGS, Sampling(max_tokens=16)))


# ----------------------------------------------------------------------------- construction


def test_spec_builds_a_generate_chat_judge(srv: OpenAIServer) -> None:
    judge = _judge(srv, max_reasks=1, timeout=7, seed=3)
    assert isinstance(judge, ChatJudge) and judge.mode == "generate"
    backend = judge.backend
    assert isinstance(backend, OpenAICompatBackend)
    assert isinstance(backend, ChatBackend) and isinstance(backend, OptionScorer)
    assert judge.name == MODEL and judge.max_reasks == 1
    assert backend.timeout == 7 and backend.url == f"{srv.base_url}/chat/completions"
    assert backend.extra_body == {"seed": 3}
    assert "openai-compat" in backends.names()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": ""}, "model name the server serves"),
    ({"api_base": "127.0.0.1:8000/v1"}, "must be an http"),
    ({"api_base": "ftp://host/v1"}, "must be an http"),
    ({"timeout": 0}, "timeout must be"),
    ({"retry": {"max_attempts": 2}}, "RetryPolicy"),
    ({"scan_tokens": 0}, "scan_tokens"),
    ({"max_connections": 0}, "max_connections"),
    ({"input_cost_per_token": -1e-6}, "input_cost_per_token"),
    ({"output_cost_per_token": float("nan")}, "output_cost_per_token"),
    ({"temperature": 0.7}, "Sampling"),
    ({"num_retries": 2}, "retry=RetryPolicy"),
    ({"stream": True}, "streaming"),
    ({"messages": []}, "per call"),
])
def test_backend_config_is_validated(kwargs: dict, match: str) -> None:
    kwargs = {"model": MODEL, "api_base": "http://127.0.0.1:1/v1", **kwargs}
    with pytest.raises(ConfigError, match=match):
        OpenAICompatBackend(**kwargs)


def test_spec_errors_name_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="openai-compat:MODEL"):
        create_judge("openai-compat", api_base="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigError, match="--api-base"):
        create_judge("openai-compat:m")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert create_judge("openai-compat:m").backend.api_base == "http://127.0.0.1:9/v1"  # type: ignore[attr-defined]


def test_key_from_env_explicit_or_none(srv: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-123456")
    monkeypatch.setenv("MY_VLLM_KEY", "tok-vllm-123456")
    OpenAICompatBackend(MODEL, srv.base_url).complete(MSGS, Sampling(max_tokens=4))
    OpenAICompatBackend(MODEL, srv.base_url, api_key_env="MY_VLLM_KEY").complete(MSGS, Sampling(max_tokens=4))
    OpenAICompatBackend(MODEL, srv.base_url, api_key=KEY).complete(MSGS, Sampling(max_tokens=4))
    OpenAICompatBackend(MODEL, srv.base_url, api_key_env=None).complete(MSGS, Sampling(max_tokens=4))
    auth = [r.headers.get("authorization") for r in srv.requests]
    assert auth == ["Bearer sk-from-env-123456", "Bearer tok-vllm-123456", f"Bearer {KEY}", None]


def test_repr_never_shows_the_key(srv: OpenAIServer) -> None:
    backend = _backend(srv, headers={"X-Trace": "t1"})
    assert "0123456789abcdef" not in repr(backend) and "0123456789abcdef" not in repr(backend._retrier)


def test_http_clients_are_not_imported_at_module_import() -> None:
    code = ("import sys, debias.judges, debias.backends.openai_compat; "
            "bad = [m for m in ('aiohttp', 'httpx', 'litellm') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- requests and usage


def test_request_body_and_headers(srv: OpenAIServer) -> None:
    judge = _judge(srv, sampling=Sampling(temperature=0.3, max_tokens=40), seed=11,
                   headers={"X-Trace": "t1"})
    judge.judge(_req(PAIR, [0, 1]))
    (logged,) = srv.requests
    assert logged.path == "/v1/chat/completions"
    assert logged.body is not None
    assert {k: logged.body[k] for k in ("model", "temperature", "max_tokens", "seed")} == {
        "model": MODEL, "temperature": 0.3, "max_tokens": 40, "seed": 11}
    assert "logprobs" not in logged.body and "stream" not in logged.body
    assert logged.body["messages"][-1]["role"] == "user"
    assert logged.headers["x-trace"] == "t1"
    assert logged.headers["content-type"] == "application/json"


def test_full_endpoint_url_is_used_as_is(srv: OpenAIServer) -> None:
    backend = OpenAICompatBackend(MODEL, f"{srv.base_url}/chat/completions/", api_key=KEY)
    assert backend.complete(MSGS, Sampling(max_tokens=8)).text == "Output (a)"
    assert srv.requests[0].path == "/v1/chat/completions"


@pytest.mark.parametrize("way", ["sync", "async"])
def test_usage_is_recorded_and_priced(srv: OpenAIServer, way: str) -> None:
    judge = _judge(srv, input_cost_per_token=1e-6, output_cost_per_token=4e-6)
    request = _req(PAIR, [1, 0])
    verdict = judge.judge(request) if way == "sync" else asyncio.run(judge.ajudge(request))
    (logged,) = srv.requests
    prompt_tokens = count_prompt_tokens(logged.body["messages"])  # type: ignore[index]
    assert verdict.usage.calls == 1 and prompt_tokens > 20
    assert verdict.usage.prompt_tokens == prompt_tokens
    assert verdict.usage.completion_tokens == len(tokenize("Output (a)")) == 4
    assert verdict.usage.cost == pytest.approx(prompt_tokens * 1e-6 + 4 * 4e-6)
    assert _judge(srv).judge(request).usage.cost == 0.0  # no prices given: cost 0


# ----------------------------------------------------------------------------- retries


@pytest.mark.parametrize("way", ["sync", "async"])
def test_429_then_200_is_retried(srv: OpenAIServer, way: str) -> None:
    srv.responder = Flaky(failures=2, status=429)
    out = _sync_or_async(_backend(srv), way)
    assert out.text == "Output (a)"  # type: ignore[attr-defined]
    assert [r.status for r in srv.requests] == [429, 429, 200]


@pytest.mark.parametrize("way", ["sync", "async"])
def test_retry_after_is_honoured(srv: OpenAIServer, way: str) -> None:
    srv.responder = Flaky(failures=1, status=429, retry_after="0.3")
    policy = RetryPolicy(max_attempts=2, initial_wait=0.001, max_wait=5, jitter=0)
    t0 = time.perf_counter()
    _sync_or_async(_backend(srv, retry=policy), way)
    assert time.perf_counter() - t0 >= 0.3
    assert [r.status for r in srv.requests] == [429, 200]


@pytest.mark.parametrize("way", ["sync", "async"])
def test_500s_exhaust_to_a_transient_error(srv: OpenAIServer, way: str) -> None:
    srv.responder = always_500()
    with pytest.raises(TransientModelError, match="gave up after 3 attempts") as info:
        _sync_or_async(_backend(srv), way)
    assert srv.request_count == 3
    assert info.value.status_code == 500  # type: ignore[attr-defined]
    assert f"{MODEL} at {srv.base_url}" in str(info.value) and "HTTP 500" in str(info.value)


@pytest.mark.parametrize("status", [408, 409, 425, 502, 503])
def test_other_transient_statuses_are_retried(srv: OpenAIServer, status: int) -> None:
    srv.responder = Flaky(failures=1, status=status)
    assert _backend(srv).complete(MSGS, Sampling(max_tokens=16)).text == "Output (a)"
    assert [r.status for r in srv.requests] == [status, 200]


@pytest.mark.parametrize("way", ["sync", "async"])
def test_timeouts_are_retried_then_fail(srv: OpenAIServer, way: str) -> None:
    srv.responder = Slow(delay=3.0)
    policy = RetryPolicy(max_attempts=2, initial_wait=0.001, max_wait=0.01, jitter=0)
    t0 = time.perf_counter()
    with pytest.raises(TransientModelError, match="timed out") as info:
        _sync_or_async(_backend(srv, timeout=0.25, retry=policy), way)
    assert srv.request_count == 2 and info.value.attempts == 2  # type: ignore[attr-defined]
    assert "timeout=0.25 s" in str(info.value)
    assert time.perf_counter() - t0 < 2.5  # each attempt was cut at the client timeout


@pytest.mark.parametrize("way", ["sync", "async"])
def test_connection_refused_is_transient(way: str) -> None:
    with OpenAIServer() as tmp:
        dead = tmp.base_url  # the port is free again once the server stops
    backend = OpenAICompatBackend(MODEL, dead, api_key=KEY, timeout=2,
                                  retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0,
                                                    jitter=0))
    with pytest.raises(TransientModelError, match="gave up after 2 attempts") as info:
        _sync_or_async(backend, way)
    assert "could not connect" in str(info.value)


@pytest.mark.parametrize("way", ["sync", "async"])
@pytest.mark.parametrize(("responder", "status", "hint"), [
    (auth_error, 401, "authentication failed"),
    (bad_request, 400, "rejected the request"),
    (lambda: AlwaysError(404, "The model `test-judge` does not exist"), 404, "check the model name"),
    (lambda: AlwaysError(403, "no access for {api_key}"), 403, "permission denied"),
])
def test_fatal_errors_fail_fast_without_leaking_the_key(srv: OpenAIServer, responder, status: int,
                                                        hint: str, way: str) -> None:
    srv.responder = responder()
    with pytest.raises(FatalModelError) as info:
        _sync_or_async(_backend(srv), way)
    assert srv.request_count == 1
    assert srv.requests[0].headers["authorization"] == f"Bearer {KEY}"  # the key was sent ...
    text = all_text(info.value)
    assert "0123456789abcdef" not in text  # ... and never shown, even when echoed back
    msg = str(info.value)
    assert f"HTTP {status}" in msg and hint in msg and MODEL in msg and srv.base_url in msg
    assert info.value.status_code == status  # type: ignore[attr-defined]


def test_auth_error_names_the_key_variable(srv: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_VLLM_KEY", "tok-vllm-abcdef123456")
    srv.responder = auth_error()
    backend = OpenAICompatBackend(MODEL, srv.base_url, api_key_env="MY_VLLM_KEY", retry=FAST)
    with pytest.raises(FatalModelError, match=r"check MY_VLLM_KEY.*Incorrect API key provided: "
                                              r"\[redacted\]") as info:
        backend.complete(MSGS, Sampling(max_tokens=8))
    assert "abcdef123456" not in all_text(info.value)


def test_credential_headers_replace_the_bearer_and_are_redacted(srv: OpenAIServer) -> None:
    srv.responder = auth_error()  # echoes the api-key header back
    backend = OpenAICompatBackend(MODEL, srv.base_url, api_key_env=None, retry=FAST,
                                  headers={"api-key": "azure-secret-987654"})
    with pytest.raises(FatalModelError, match="HTTP 401") as info:
        backend.complete(MSGS, Sampling(max_tokens=8))
    assert "azure-secret-987654" not in all_text(info.value)
    assert srv.requests[0].headers["api-key"] == "azure-secret-987654"
    assert "authorization" not in srv.requests[0].headers
    own = OpenAICompatBackend(MODEL, srv.base_url, api_key=KEY, headers={"Authorization": "Token t-1"})
    assert own._headers["Authorization"] == "Token t-1"


def test_fatal_error_in_the_loop_is_recorded_as_data(srv: OpenAIServer, tmp_path: Path) -> None:
    srv.responder = auth_error()
    debiaser = Debiaser(_judge(srv), [], max_rounds=0)
    out = tmp_path / "o.jsonl"
    summary = asyncio.run(arun_batch([PAIR], debiaser, out, concurrency=2, progress=False))
    assert summary.statuses == {"error": 1} and srv.request_count == 1
    record = json.loads(out.read_text())
    assert "FatalModelError" in record["result"]["error"] and "0123456789abcdef" not in out.read_text()


# ----------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(("status", "kind"), [
    (429, ErrorKind.TRANSIENT), (408, ErrorKind.TRANSIENT), (409, ErrorKind.TRANSIENT),
    (425, ErrorKind.TRANSIENT), (500, ErrorKind.TRANSIENT), (503, ErrorKind.TRANSIENT),
    (400, ErrorKind.FATAL), (401, ErrorKind.FATAL), (404, ErrorKind.FATAL),
    (422, ErrorKind.FATAL), (307, ErrorKind.FATAL),
])
def test_classify_http_status_error(status: int, kind: ErrorKind) -> None:
    exc = HTTPStatusError(status, "x", {"Retry-After": "2"})
    assert classify(exc) is kind
    assert exc.headers == {"retry-after": "2"}


def test_non_json_or_choiceless_success_is_a_judge_error(srv: OpenAIServer) -> None:
    backend = _backend(srv)
    with pytest.raises(JudgeError, match="not a JSON object") as info:
        backend._decode(200, b"<html>proxy login</html>", {})
    assert not isinstance(info.value, (TransientModelError, FatalModelError))
    with pytest.raises(JudgeError, match="has no choices"):
        backend._completion({"object": "chat.completion", "choices": []})
    with pytest.raises(HTTPStatusError, match=r"moved \(redirected to https://x/v1\)"):
        backend._decode(301, b'{"detail": "moved"}', {"location": "https://x/v1"})
    assert backend._completion({"choices": [{"message": {"content": None}}]}).text == ""


# ----------------------------------------------------------------------------- logprobs


@pytest.mark.parametrize("way", ["sync", "async"])
@pytest.mark.parametrize("prefill", [False, True])
@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_logprobs_mode_reads_a_distribution(srv: OpenAIServer, order: list[int], prefill: bool,
                                            way: str) -> None:
    srv.responder = PositionBiased(confidence=0.8)
    judge = _judge(srv, mode="logprobs", prefill=prefill)
    request = _req(PAIR, order)
    verdict = judge.judge(request) if way == "sync" else asyncio.run(judge.ajudge(request))
    assert verdict.choice == order[0]
    assert verdict.confidence == pytest.approx(0.8)
    expected = [0.0, 0.0]
    expected[order[0]], expected[order[1]] = 0.8, 0.2
    assert verdict.probs == pytest.approx(expected)
    assert verdict.usage.calls == 1 and verdict.usage.prompt_tokens > 0
    body = srv.requests[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 20  # type: ignore[index]
    assert body["max_tokens"] == (1 if prefill else judge.backend.scan_tokens)  # type: ignore[index, attr-defined]
    assert (body["messages"][-1]["role"] == "assistant") is prefill  # type: ignore[index]


def test_server_refusing_logprobs_is_a_logprobs_error_and_auto_falls_back(srv: OpenAIServer) -> None:
    refuse = AlwaysError(400, "logprobs is not supported by this server")
    srv.responder = Scripted([refuse], then=PositionBiased())
    backend = _backend(srv)
    with pytest.raises(LogprobsUnavailableError, match="mode='generate'"):
        backend.option_logprobs(MSGS, "Output (", ["a", "b"])
    assert srv.request_count == 1  # fatal: not retried
    srv.responder = Scripted([refuse], then=PositionBiased())
    auto = ChatJudge(_backend(srv), mode="auto")
    assert auto.judge(_req(PAIR, [1, 0])).choice == 1  # fell back to generating
    assert "logprobs" not in srv.requests[-1].body  # type: ignore[operator]
    srv.responder = bad_request()
    with pytest.raises(FatalModelError):  # other 400s stay fatal errors
        _backend(srv).option_logprobs(MSGS, "Output (", ["a", "b"])


# ----------------------------------------------------------------------------- sessions


def test_one_session_per_loop_closed_with_each_asyncio_run(srv: OpenAIServer) -> None:
    backend = _backend(srv)
    seen = []

    async def many() -> list:
        out = await asyncio.gather(*(backend.acomplete(MSGS, Sampling(max_tokens=8))
                                     for _ in range(20)))
        seen.append(backend._sessions[asyncio.get_running_loop()].session)
        assert len(backend._sessions) == 1
        return out

    for _ in range(3):
        assert {c.text for c in asyncio.run(many())} == {"Output (a)"}
        assert len(backend._sessions) == 0  # closed when asyncio.run shut the loop down
    assert len(seen) == 3 and len({id(s) for s in seen}) == 3
    assert all(s.closed for s in seen)
    assert srv.request_count == 60


def test_loops_in_several_threads_share_the_backend(srv: OpenAIServer) -> None:
    backend = _backend(srv)
    judge = ChatJudge(backend, mode="generate")
    results: list[int | None] = []
    errors: list[BaseException] = []

    def worker(order: list[int]) -> None:
        try:
            verdicts = asyncio.run(_gather(judge, [_req(PAIR, order)] * 5))
            results.extend(v.choice for v in verdicts)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(o,)) for o in ([0, 1], [1, 0], [0, 1], [1, 0])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(results) == [0] * 10 + [1] * 10
    assert len(backend._sessions) == 0


async def _gather(judge: ChatJudge, requests: list[JudgeRequest]) -> list:
    return await asyncio.gather(*(judge.ajudge(r) for r in requests))


def test_aclose_and_context_managers(srv: OpenAIServer) -> None:
    backend = _backend(srv)

    async def run() -> None:
        async with backend:
            await backend.acomplete(MSGS, Sampling(max_tokens=8))
            session = backend._sessions[asyncio.get_running_loop()].session
        assert session.closed and not backend._sessions
        await backend.acomplete(MSGS, Sampling(max_tokens=8))  # reopens on demand
        await backend.aclose()

    loop = asyncio.new_event_loop()  # a loop closed by hand, without shutdown_asyncgens
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
    assert not backend._sessions
    with backend:
        backend.complete(MSGS, Sampling(max_tokens=8))
        assert backend._client is not None
    assert backend._client is None
    assert srv.request_count == 3


# ----------------------------------------------------------------------------- full stack


def test_runner_with_position_detector_probes_through_the_backend(srv: OpenAIServer,
                                                                  tmp_path: Path) -> None:
    items = [Item(id=f"i{k}", task="pairwise", instruction=f"q{k}",
                  candidates=[f"first {k}", f"second {k}"]) for k in range(6)]
    debiaser = Debiaser(_judge(srv), ["position:policy=flag"], max_rounds=0)
    out = tmp_path / "o.jsonl"
    summary = asyncio.run(arun_batch(items, debiaser, out, concurrency=4, progress=False))
    assert summary.items == 6 and summary.usage.calls == 12 == srv.request_count
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for rec in records:
        (probe,) = rec["result"]["probes"]
        assert probe["verdict"]["order"] == [1, 0] and probe["verdict"]["choice"] == 1
        assert rec["result"]["verdict"]["choice"] == 0 and rec["result"]["flagged"] == ["position"]


def test_cli_run_with_openai_compat_judge(srv: OpenAIServer, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": f"i{k}", "task": "pairwise", "instruction": "q",
                                       "candidates": [f"a{k}", f"b{k}"]}) + "\n" for k in range(3)))
    out = tmp_path / "out.jsonl"
    code = main(["run", str(inp), "--judge", f"openai-compat:{MODEL}", "--api-base", srv.base_url,
                 "--detectors", "none", "--no-cache", "--quiet", "--out", str(out)])
    assert code == 0
    assert "items: 3 debiased" in capsys.readouterr().out
    assert srv.request_count == 3
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in srv.requests)
    assert [json.loads(line)["result"]["verdict"]["judge"] for line in out.read_text().splitlines()] \
        == [MODEL] * 3
