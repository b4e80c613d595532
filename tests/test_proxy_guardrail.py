"""The litellm proxy guardrail: its hook with litellm's own response classes, and (when
litellm's proxy can run here) a real litellm proxy with the guardrail in its config."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from debias.proxy.server import free_port
from debias.testing import OpenAIServer
from debias.testing.bench_judges import MarkerJudge, SlotJudge
from tests.proxy_prompts import client_reads, messages
from tests.subprocess_server import wait_until_healthy

pytestmark = pytest.mark.network
guardrail = pytest.importorskip("debias.proxy.litellm_guardrail",
                                reason="litellm.integrations.custom_guardrail is not importable")
ROOT = Path(__file__).resolve().parents[1]
MASTER = "sk-master-test-0123456789abcdef0123456789"


def _response(text: str) -> object:
    from litellm.types.utils import ModelResponse

    return ModelResponse(choices=[{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": text}}],
                         model="judge")


async def test_hook_replaces_a_slot_following_verdict_with_the_final_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-upstream-test")  # litellm's key for debias_judge
    with OpenAIServer(SlotJudge(0)) as upstream:
        hook = guardrail.DebiasGuardrail(guardrail_name="judge-debias", event_hook="post_call",
                                         default_on=True, debias_detectors="position",
                                         debias_judge="openai/test-judge",
                                         debias_api_base=upstream.base_url)
        chat = messages("arena-hard", "2+2?", "5", "4 [correct]")
        first = SlotJudge(0)  # what the model answered to the client's own prompt
        from debias.testing.responders import ChatRequest

        text = first(ChatRequest({"messages": chat})).text
        out = await hook.async_post_call_success_hook(data={"model": "judge", "messages": chat},
                                                      user_api_key_dict=None, response=_response(text))
        content = out.choices[0].message.content
        assert client_reads("arena-hard", text) == "A"  # the slot-following wrong answer
        assert client_reads("arena-hard", content) == "tie", out.debias
        assert out.debias["biases"] == ["position"] and out.debias["first_verdict"] == "A"
        assert out._hidden_params["additional_headers"]["x-debias-verdict"] == "tie"
        headers = await hook.async_post_call_response_headers_hook({}, None, out)
        assert headers is not None and headers["x-debias-status"] == "unresolved"
        # the first judgement was the model's own answer: only probes went upstream
        assert upstream.requests[0].body["messages"] == messages("arena-hard", "2+2?", "4 [correct]", "5")

        plain = _response("Roses are red.")
        same = await hook.async_post_call_success_hook(
            data={"model": "judge", "messages": [{"role": "user", "content": "A poem?"}]},
            user_api_key_dict=None, response=plain)
        assert same.choices[0].message.content == "Roses are red." and not hasattr(same, "debias")


def _proxy_runs() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import litellm.proxy.proxy_server"],
                           capture_output=True, timeout=300,
                           env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    return probe.returncode == 0


@pytest.fixture(scope="module")
def litellm_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, OpenAIServer]]:
    if not _proxy_runs():
        pytest.skip("litellm's proxy cannot start here (pip install 'litellm[proxy]')")
    folder = tmp_path_factory.mktemp("litellm-proxy")
    with OpenAIServer(SlotJudge(0)) as upstream:
        config = folder / "config.yaml"
        config.write_text(
            "model_list:\n  - model_name: judge\n    litellm_params:\n      model: openai/test-judge\n"
            f"      api_base: {upstream.base_url}\n      api_key: sk-upstream-test\n"
            "guardrails:\n  - guardrail_name: judge-debias\n    litellm_params:\n"
            "      guardrail: debias.proxy.litellm_guardrail.DebiasGuardrail\n"
            "      mode: post_call\n      default_on: true\n      debias_detectors: position\n")
        port = free_port()
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_EVENT_LOOP": "asyncio",
               "LITELLM_MASTER_KEY": MASTER, "PYTHONPATH": str(ROOT)}
        log = (folder / "proxy.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "litellm.proxy.proxy_cli", "--config",
                                 str(config), "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(f"{url}/health/liveliness", proc, timeout=240, poll=1,
                               output=lambda: (folder / "proxy.log").read_text())
            yield url, upstream
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def test_litellm_proxy_with_the_guardrail_debiases_judge_prompts(
        litellm_proxy: tuple[str, OpenAIServer]) -> None:
    url, upstream = litellm_proxy
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=MASTER, max_retries=0)
    upstream.responder = SlotJudge(0)
    chat = messages("mtbench-pair-v2", "What is 2+2?", "5", "4 [correct]")
    raw = client.chat.completions.with_raw_response.create(model="judge", messages=chat)  # type: ignore[arg-type]
    content = raw.parse().choices[0].message.content
    assert client_reads("mtbench-pair-v2", content) == "tie"
    assert raw.headers["x-debias-biases"] == "position"
    assert raw.parse().model_extra["debias"]["first_verdict"] == "A"

    upstream.responder = MarkerJudge()
    honest = client.chat.completions.create(model="judge", messages=chat)  # type: ignore[arg-type]
    assert client_reads("mtbench-pair-v2", honest.choices[0].message.content) == "B"

    # streamed: collected, debiased, sent on
    upstream.responder = SlotJudge(0)
    stream = client.chat.completions.create(model="judge", messages=chat, stream=True)  # type: ignore[arg-type]
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert client_reads("mtbench-pair-v2", streamed) == "tie"
    upstream.responder = lambda req: "Roses are red, violets are blue."
    stream = client.chat.completions.create(model="judge", stream=True,
                                            messages=[{"role": "user", "content": "Poem?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == \
        "Roses are red, violets are blue."

    upstream.responder = lambda req: "Roses are red."
    plain = client.chat.completions.create(model="judge", messages=[{"role": "user", "content": "Poem?"}])
    assert plain.choices[0].message.content == "Roses are red."


async def test_streaming_hook_sends_the_final_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    from litellm.types.utils import ModelResponseStream

    monkeypatch.setenv("OPENAI_API_KEY", "sk-upstream-test")
    with OpenAIServer(SlotJudge(1)) as upstream:
        hook = guardrail.DebiasGuardrail(guardrail_name="judge-debias", event_hook="post_call",
                                         debias_detectors="position", debias_judge="openai/test-judge",
                                         debias_api_base=upstream.base_url)
        chat = messages("mtbench-pair-v2", "2+2?", "4 [correct]", "5")

        async def model_stream(pieces: list[str]):  # type: ignore[no-untyped-def]
            for k, piece in enumerate(pieces):
                yield ModelResponseStream(choices=[{"index": 0, "delta": {"content": piece},
                                                    "finish_reason": "stop" if k == len(pieces) - 1 else None}])

        out = [c async for c in hook.async_post_call_streaming_iterator_hook(
            None, model_stream(["Assistant B is better. ", "[[B]]"]), {"model": "judge", "messages": chat})]
        text = "".join(c.choices[0].delta.content or "" for c in out)
        assert client_reads("mtbench-pair-v2", text) == "tie" and out[-1].debias["first_verdict"] == "B"
        plain = [c async for c in hook.async_post_call_streaming_iterator_hook(
            None, model_stream(["Roses ", "are red."]), {"model": "judge",
                                                        "messages": [{"role": "user", "content": "Poem?"}]})]
        assert "".join(c.choices[0].delta.content for c in plain) == "Roses are red."
