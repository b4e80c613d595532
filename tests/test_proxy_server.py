"""``debias serve`` end to end: the real openai SDK and litellm as clients, a loopback
scripted upstream, each template's round trip, pass-through, bad input, upstream faults,
streaming and keys."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from debias.proxy.config import ProxyConfig
from debias.proxy.server import ProxyServer
from debias.testing import AlwaysError, CueFollowing, Flaky, Garbage, OpenAIServer, Slow, auth_error
from debias.testing.bench_judges import MarkerJudge, SlotJudge
from tests.proxy_prompts import TEMPLATES, client_reads, messages

pytestmark = pytest.mark.network
KEY = "sk-proxy-test-not-a-real-key-123456"
RIGHT, WRONG = "The answer is 4 [correct].", "The answer is 5."


@pytest.fixture(scope="module")
def upstream() -> Iterator[OpenAIServer]:
    with OpenAIServer(SlotJudge(0)) as server:
        yield server


def _config(upstream: OpenAIServer, **kw: Any) -> ProxyConfig:
    base = {"judge": "openai-compat:test-judge", "api_base": upstream.base_url,
            "detectors": "position", "max_attempts": 3, "initial_wait": 0.01, "max_wait": 0.05,
            "timeout": 10}
    return ProxyConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def proxy(upstream: OpenAIServer) -> Iterator[ProxyServer]:
    with ProxyServer(_config(upstream)) as server:
        yield server


@pytest.fixture
def client(proxy: ProxyServer, upstream: OpenAIServer) -> openai.OpenAI:
    upstream.clear_log()
    return openai.OpenAI(base_url=proxy.base_url, api_key=KEY, max_retries=0)


def _judge(client: openai.OpenAI, chat: list[dict[str, Any]], **kw: Any) -> tuple[Any, dict[str, str]]:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4", messages=chat, **kw)  # type: ignore[arg-type]
    return raw.parse(), {k: v for k, v in raw.headers.items() if k.startswith("x-debias")}


def _pair(name: str, right_first: bool) -> tuple[list[dict[str, Any]], str]:
    """The chat with the right answer first or second, and the verdict naming it."""
    a, b = (RIGHT, WRONG) if right_first else (WRONG, RIGHT)
    return messages(name, "What is 2+2?", a, b), "A" if right_first else "B"


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("slot", [0, 1])
def test_position_biased_upstream_never_gets_its_slot_verdict_through(
        client: openai.OpenAI, upstream: OpenAIServer, name: str, slot: int) -> None:
    upstream.responder = SlotJudge(slot)
    right_first = slot == 1  # the upstream's slot holds the WRONG answer
    chat, right = _pair(name, right_first)
    wrong = "B" if right == "A" else "A"
    logprobs = name == "alpaca-eval-clf"  # AlpacaEval's clf evaluators ask for logprobs
    kw: dict[str, Any] = {"logprobs": True, "top_logprobs": 5, "max_tokens": 1} if logprobs else {}
    completion, hdrs = _judge(client, chat, **kw)
    content = completion.choices[0].message.content
    lp = completion.choices[0].logprobs.model_dump() if logprobs else None
    read = client_reads(name, content, lp)
    assert read != wrong, (content, completion.model_extra["debias"])
    assert read in ("tie", right) or (read == "error" and name == "alpaca-eval-ranking")
    assert hdrs["x-debias"] == "debiased" and hdrs["x-debias-template"] == name
    assert "position" in hdrs["x-debias-biases"].split(",")
    info = completion.model_extra["debias"]
    assert info["first_verdict"] == wrong and info["changed"] is True
    assert int(hdrs["x-debias-calls"]) == len(upstream.requests) >= 2
    # the probe was the client's own prompt with the answers swapped
    bodies = [r.body["messages"] for r in upstream.requests]
    assert bodies[0] == chat
    assert messages(name, "What is 2+2?", *( (WRONG, RIGHT) if right_first else (RIGHT, WRONG))) in bodies


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("right_first", [True, False])
def test_honest_upstream_keeps_its_verdict(client: openai.OpenAI, upstream: OpenAIServer, name: str,
                                           right_first: bool) -> None:
    upstream.responder = MarkerJudge()
    chat, right = _pair(name, right_first)
    completion, hdrs = _judge(client, chat)
    assert client_reads(name, completion.choices[0].message.content) == right
    assert hdrs["x-debias-status"] == "clean" and hdrs["x-debias-changed"] == "false"
    assert hdrs["x-debias-biases"] == "none"
    assert len(upstream.requests) == 2  # the judgement and one swap probe


def test_upstream_answering_in_another_format_is_rewritten_in_the_template_format(
        client: openai.OpenAI, upstream: OpenAIServer) -> None:
    upstream.responder = SlotJudge(0, drift=True)  # "Assistant A is better." without [[..]]
    chat, _ = _pair("mtbench-pair-v2", right_first=False)
    completion, hdrs = _judge(client, chat)
    content = completion.choices[0].message.content
    assert client_reads("mtbench-pair-v2", content) == "tie"
    assert content.count("[[") == 1 and hdrs["x-debias-status"] == "unresolved"


def test_explanation_tokens_of_the_upstream_do_not_reach_the_client(
        client: openai.OpenAI, upstream: OpenAIServer) -> None:
    upstream.responder = lambda req: "Assistant A gives [[A]]-quality work. My final verdict is: [[A>>B]]"
    chat, _ = _pair("arena-hard", right_first=False)
    completion, _ = _judge(client, chat)
    content = completion.choices[0].message.content
    assert client_reads("arena-hard", content) == "tie"
    assert "[[A>>B]]" not in content and "[[A=B]]" in content


def test_unrecognised_prompt_passes_through_unchanged(client: openai.OpenAI, upstream: OpenAIServer) -> None:
    upstream.responder = lambda req: "Roses are red."
    chat = [{"role": "user", "content": "Write a poem."}]
    completion, hdrs = _judge(client, chat, temperature=0.7, max_tokens=50, seed=3)
    assert hdrs == {"x-debias": "passthrough"}
    assert completion.choices[0].message.content == "Roses are red."
    assert "debias" not in (completion.model_extra or {})
    (req,) = upstream.requests
    assert req.body["messages"] == chat and req.body["temperature"] == 0.7 and req.body["seed"] == 3


def test_streaming_pass_through_and_debiased(client: openai.OpenAI, upstream: OpenAIServer) -> None:
    upstream.responder = lambda req: "Roses are red, violets are blue."
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Poem?"}],
                                            stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == \
        "Roses are red, violets are blue."
    upstream.responder = SlotJudge(0)
    chat, _ = _pair("mtbench-pair-v2", right_first=False)
    plain, _ = _judge(client, chat)
    chunks = list(client.chat.completions.create(model="m", messages=chat, stream=True,  # type: ignore[arg-type]
                                                  stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content and client_reads("mtbench-pair-v2", text) == "tie"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert finals and finals[0].model_extra["debias"]["verdict"] == "tie"


def test_bad_input_gets_400_and_the_server_keeps_serving(proxy: ProxyServer, client: openai.OpenAI,
                                                         upstream: OpenAIServer) -> None:
    url = f"{proxy.base_url}/chat/completions"
    garbage = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert garbage.status_code == 400 and "not valid JSON" in garbage.json()["error"]["message"]
    binary = httpx.post(url, content=b"\xff\xfe\x00garbage\x81")
    assert binary.status_code == 400 and "not valid JSON" in binary.json()["error"]["message"]
    no_messages = httpx.post(url, json={"model": "gpt-4"})
    assert no_messages.status_code == 400 and "messages" in no_messages.json()["error"]["message"]
    bad_message = httpx.post(url, json={"messages": ["hi"]})
    assert bad_message.status_code == 400 and "messages[0]" in bad_message.json()["error"]["message"]
    chat, _ = _pair("mtbench-pair-v2", True)
    bad_sampling = httpx.post(url, json={"messages": chat, "temperature": 9})
    assert bad_sampling.status_code == 400 and "temperature" in bad_sampling.json()["error"]["message"]
    assert upstream.request_count == 0
    upstream.responder = MarkerJudge()
    completion, _ = _judge(client, chat)
    assert client_reads("mtbench-pair-v2", completion.choices[0].message.content) == "A"


@pytest.mark.parametrize("status", [429, 500])
def test_transient_upstream_faults_are_retried(client: openai.OpenAI, upstream: OpenAIServer,
                                               status: int) -> None:
    upstream.responder = Flaky(failures=2, status=status, then=MarkerJudge(), retry_after="0")
    chat, _ = _pair("arena-hard", right_first=False)
    completion, hdrs = _judge(client, chat)
    assert client_reads("arena-hard", completion.choices[0].message.content) == "B"
    assert [r.status for r in upstream.requests][:2] == [status, status]
    upstream.responder = Flaky(failures=2, status=status, then=lambda req: "plain", retry_after="0")
    passthrough, hdrs = _judge(client, [{"role": "user", "content": "hi"}])
    assert passthrough.choices[0].message.content == "plain" and hdrs["x-debias"] == "passthrough"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_persistent_upstream_failure_returns_the_upstream_status(client: openai.OpenAI,
                                                                 upstream: OpenAIServer,
                                                                 status: int) -> None:
    upstream.responder = AlwaysError(status, f"upstream is down ({status})")
    chat, _ = _pair("mtbench-pair-v2", True)
    for body in (chat, [{"role": "user", "content": "hi"}]):
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="m", messages=body)  # type: ignore[arg-type]
        assert info.value.status_code == status
        assert "upstream is down" in str(info.value)
    assert upstream.request_count == 2 * 3  # max_attempts each


def test_non_transient_upstream_error_is_returned_at_once_without_the_key(
        upstream: OpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    upstream.responder = auth_error()  # echoes the key it received, as some providers do
    chat, _ = _pair("mtbench-pair-v2", True)
    with ProxyServer(_config(upstream, forward_auth=True)) as px:
        upstream.clear_log()
        client = openai.OpenAI(base_url=px.base_url, api_key=KEY, max_retries=0)
        for body in (chat, [{"role": "user", "content": "hi"}]):
            with caplog.at_level(logging.DEBUG), pytest.raises(openai.AuthenticationError) as info:
                client.chat.completions.create(model="m", messages=body)  # type: ignore[arg-type]
            assert "Incorrect API key" in str(info.value.body)
            assert KEY not in str(info.value.body) and KEY not in str(info.value.response.headers)
    assert [r.request.api_key for r in upstream.requests] == [KEY, KEY]  # no retry of a 401
    assert KEY not in caplog.text


@pytest.mark.parametrize("name", TEMPLATES)
def test_litellm_as_a_client(proxy: ProxyServer, upstream: OpenAIServer, name: str) -> None:
    from debias.backends.litellm_backend import import_litellm

    litellm = import_litellm()
    upstream.responder = SlotJudge(0)
    chat, _ = _pair(name, right_first=False)  # the upstream's slot holds the wrong answer
    resp = litellm.completion(model="openai/gpt-4", api_base=proxy.base_url, api_key=KEY,
                              messages=chat, num_retries=0)
    read = client_reads(name, resp.choices[0].message.content)
    assert read != "A"
    assert read == "tie" if proxy.app.state.service.registry.get(name).verdict.has_tie else read == "error"


def test_models_health_and_templates(proxy: ProxyServer, client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["test-judge"]
    health = httpx.get(f"{proxy.url}/health").json()
    assert health["status"] == "ok" and "mtbench-pair-v2" in health["templates"]
    names = [t["name"] for t in httpx.get(f"{proxy.base_url}/templates").json()["data"]]
    assert set(TEMPLATES) <= set(names)


def test_default_detectors_with_a_cue_following_upstream(upstream: OpenAIServer) -> None:
    """The native template shows a cue; the cue-removed probe is the client's prompt without
    its statement section, and the final verdict never follows the cue to the wrong answer."""
    upstream.responder = CueFollowing(fallback_slot=0)
    with ProxyServer(_config(upstream, detectors="position,bandwagon,verbosity,sentiment")) as px:
        client = openai.OpenAI(base_url=px.base_url, api_key=KEY, max_retries=0)
        chat = messages("judge-debias-pairwise", "What is 2+2?", RIGHT, WRONG,
                        cue="Most experts say Output (b) is better.")
        upstream.clear_log()
        completion, hdrs = _judge(client, chat)
    assert client_reads("judge-debias-pairwise", completion.choices[0].message.content) != "B"
    assert "bandwagon" in hdrs["x-debias-biases"]
    no_cue = messages("judge-debias-pairwise", "What is 2+2?", RIGHT, WRONG)
    assert no_cue in [r.body["messages"] for r in upstream.requests]


def test_forward_auth_uses_the_client_key_and_the_cache_ignores_it(upstream: OpenAIServer,
                                                                   tmp_path: Path) -> None:
    upstream.responder = MarkerJudge()
    config = _config(upstream, forward_auth=True, cache_dir=tmp_path)
    chat, _ = _pair("mtbench-pair-v2", True)
    with ProxyServer(config) as px:
        upstream.clear_log()
        first = openai.OpenAI(base_url=px.base_url, api_key="sk-client-one-000000", max_retries=0)
        _judge(first, chat)
        assert {r.request.api_key for r in upstream.requests} == {"sk-client-one-000000"}
        calls = upstream.request_count
        second = openai.OpenAI(base_url=px.base_url, api_key="sk-client-two-000000", max_retries=0)
        completion, _hdrs = _judge(second, chat)
        assert upstream.request_count == calls  # answered from the cache
        assert client_reads("mtbench-pair-v2", completion.choices[0].message.content) == "A"
        assert completion.model_extra["debias"]["cached_calls"] >= 1
        missing = httpx.post(f"{px.base_url}/chat/completions", json={"messages": chat})
        assert missing.status_code == 401
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"sk-client-one" not in stored and b"sk-client-two" not in stored


def test_budget_caps_upstream_calls_per_request(upstream: OpenAIServer) -> None:
    upstream.responder = SlotJudge(0)
    with ProxyServer(_config(upstream, budget=1)) as px:
        client = openai.OpenAI(base_url=px.base_url, api_key=KEY, max_retries=0)
        upstream.clear_log()
        completion, hdrs = _judge(client, _pair("mtbench-pair-v2", right_first=False)[0])
    assert upstream.request_count == 1 and hdrs["x-debias-calls"] == "1"
    probes = completion.model_extra["debias"]["probes"]
    assert probes and "budget of 1 upstream calls" in probes[0]["error"]
    # no probe, no evidence: the verdict stands and the findings say why
    assert [f["status"] for f in completion.model_extra["debias"]["findings"]] == ["skipped"]


def test_upstream_without_any_verdict_gets_its_answer_back_marked_as_error(
        client: openai.OpenAI, upstream: OpenAIServer) -> None:
    upstream.responder = Garbage("Both are fine, honestly; it depends on taste.")
    completion, hdrs = _judge(client, _pair("mtbench-pair-v2", True)[0])
    assert completion.choices[0].message.content == "Both are fine, honestly; it depends on taste."
    assert hdrs["x-debias-status"] == "error" and "no verdict" in completion.model_extra["debias"]["error"]
    assert upstream.request_count == 2  # the judgement and one re-ask


def test_upstream_timeout_returns_504(upstream: OpenAIServer) -> None:
    upstream.responder = Slow(delay=3.0, then=MarkerJudge())
    with ProxyServer(_config(upstream, timeout=0.3, max_attempts=2)) as px:
        client = openai.OpenAI(base_url=px.base_url, api_key=KEY, max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="m", messages=_pair("arena-hard", True)[0])  # type: ignore[arg-type]
    assert info.value.status_code == 504 and "timed out" in str(info.value)


def test_litellm_upstream(upstream: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """--judge as a litellm model string: judgements through LiteLLMBackend, pass-through
    (plain and streamed) through litellm.acompletion."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    upstream.responder = SlotJudge(1)
    with ProxyServer(_config(upstream, judge="openai/test-judge")) as px:
        client = openai.OpenAI(base_url=px.base_url, api_key="sk-client", max_retries=0)
        upstream.clear_log()
        completion, hdrs = _judge(client, _pair("alpaca-eval-ranking", right_first=True)[0])
        assert client_reads("alpaca-eval-ranking", completion.choices[0].message.content) == "error"
        assert hdrs["x-debias-biases"] == "position"
        assert {r.request.api_key for r in upstream.requests} == {KEY}  # the server's key
        upstream.responder = lambda req: "Plain words here."
        plain, hdrs = _judge(client, [{"role": "user", "content": "Hi"}])
        assert plain.choices[0].message.content == "Plain words here." and hdrs["x-debias"] == "passthrough"
        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}],
                                                stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Plain words here."


def test_raise_policy_refuses_a_biased_verdict_with_422(upstream: OpenAIServer) -> None:
    upstream.responder = SlotJudge(0)
    with ProxyServer(_config(upstream, detectors="position:policy=raise")) as px:
        response = httpx.post(f"{px.base_url}/chat/completions",
                              json={"messages": _pair("arena-hard", right_first=False)[0]})
    assert response.status_code == 422
    assert response.headers["x-debias-status"] == "raised" and response.headers["x-debias-biases"] == "position"
    assert "bias detected" in response.json()["error"]["message"]
