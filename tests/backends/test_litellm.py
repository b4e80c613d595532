"""The litellm backend through the REAL litellm client against the loopback OpenAI server.

What every backend must do (verdicts in ORIGINAL numbering, re-asks, retries, sync/async)
is in ``test_contract.py``; here: construction and validation, what litellm sends and
reads back (sampling, no double retries, usage and cost), model strings, logprobs and
option scoring, the pre-flight credential check.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from debias.backends import ChatBackend, OptionScorer, Sampling
from debias.backends.litellm_backend import (
    LiteLLMBackend,
    LogprobsUnavailableError,
    import_litellm,
    score_options,
)
from debias.errors import ConfigError
from debias.judges import ChatJudge, JudgeRequest, create_judge
from debias.testing import (
    Garbage,
    OpenAIServer,
    PositionBiased,
    tokenize,
)
from debias.testing.openai_server import count_prompt_tokens
from debias.types import Item
from tests.backends.items import FAST, PAIR

KEY = "sk-test"


def _judge(srv: OpenAIServer, model: str = "openai/test-judge", **kw) -> ChatJudge:
    kw.setdefault("retry", FAST)
    return create_judge(model, api_base=srv.base_url, api_key=KEY, **kw)  # type: ignore[return-value]


def _req(item: Item, order: list[int], with_cue: bool = True) -> JudgeRequest:
    return JudgeRequest(item=item, order=order, with_cue=with_cue)


# ----------------------------------------------------------------------------- construction


def test_default_factory_builds_a_chat_judge_on_litellm(srv: OpenAIServer) -> None:
    judge = _judge(srv, max_reasks=1, timeout=7)
    assert isinstance(judge, ChatJudge)
    assert isinstance(judge.backend, LiteLLMBackend)
    assert isinstance(judge.backend, ChatBackend) and isinstance(judge.backend, OptionScorer)
    assert judge.name == "openai/test-judge" and judge.max_reasks == 1
    assert judge.backend.timeout == 7 and judge.backend.api_base == srv.base_url
    assert judge.mode == "generate"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": ""}, "not a litellm model string"),
    ({"model": "openai/gpt 4"}, "not a litellm model string"),
    ({"timeout": 0}, "timeout must be"),
    ({"num_retries": 3}, "retry=RetryPolicy"),
    ({"max_retries": 3}, "retry=RetryPolicy"),
    ({"scan_tokens": 0}, "scan_tokens"),
    ({"retry": {"max_attempts": 2}}, "RetryPolicy"),
    ({"model": "nosuchprovider/x"}, "cannot tell its provider"),
    ({"model": "bare-model-name"}, "'openai/bare-model-name'"),
])
def test_backend_config_is_validated(kwargs: dict, match: str) -> None:
    kwargs = {"model": "openai/x", **kwargs}
    with pytest.raises(ConfigError, match=match):
        LiteLLMBackend(**kwargs)


@pytest.mark.parametrize(("model", "env"), [("gpt-4o-mini", "OPENAI_API_KEY"),
                                            ("hosted_vllm/org/m", "HOSTED_VLLM_API_KEY"),
                                            ("anthropic/claude-x", "ANTHROPIC_API_KEY")])
def test_auth_hint_names_the_provider_key(model: str, env: str) -> None:
    assert LiteLLMBackend(model)._retrier.key_env == env


def test_repr_never_shows_the_key() -> None:
    backend = LiteLLMBackend("openai/x", api_key="sk-supersecret-123")
    assert "supersecret" not in repr(backend) and "supersecret" not in repr(backend._retrier)


def test_litellm_is_not_imported_at_module_import() -> None:
    code = ("import sys, debias, debias.judges, debias.backends.litellm_backend, debias.retry, "
            "debias.testing; assert 'litellm' not in sys.modules, 'litellm imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- requests and usage


def test_usage_tokens_are_recorded(srv: OpenAIServer) -> None:
    verdict = _judge(srv).judge(_req(PAIR, [1, 0]))
    (logged,) = srv.requests
    assert verdict.usage.calls == 1
    assert verdict.usage.prompt_tokens == count_prompt_tokens(logged.body["messages"]) > 20
    assert verdict.usage.completion_tokens == len(tokenize("Output (a)")) == 4
    assert verdict.usage.cost == 0.0  # litellm has no price for "test-judge"


def test_cost_of_a_priced_model_comes_from_litellm(srv: OpenAIServer) -> None:
    litellm = import_litellm()
    verdict = _judge(srv, model="openai/gpt-4o-mini").judge(_req(PAIR, [0, 1]))
    prompt_cost, completion_cost = litellm.cost_per_token(
        model="gpt-4o-mini", prompt_tokens=verdict.usage.prompt_tokens,
        completion_tokens=verdict.usage.completion_tokens)
    assert verdict.usage.cost == pytest.approx(prompt_cost + completion_cost)
    assert verdict.usage.cost > 0


def test_request_carries_sampling_and_no_litellm_retries(srv: OpenAIServer) -> None:
    judge = _judge(srv, sampling=Sampling(temperature=0.3, max_tokens=40))
    judge.judge(_req(PAIR, [0, 1]))
    body = srv.requests[0].body
    assert body["temperature"] == 0.3 and body["max_tokens"] == 40
    assert body["model"] == "test-judge"
    assert "num_retries" not in body and "max_retries" not in body
    # litellm's own retry loop (num_retries) and the openai client's (max_retries) are both off
    sent = judge.backend._request([{"role": "user", "content": "x"}], Sampling())
    assert sent["num_retries"] == 0 and sent["max_retries"] == 0


@pytest.mark.parametrize("model", ["hosted_vllm/test-judge", "openai/org/nested-name"])
def test_other_model_strings_reach_the_server(srv: OpenAIServer, model: str) -> None:
    verdict = _judge(srv, model=model).judge(_req(PAIR, [1, 0]))
    assert verdict.choice == 1 and srv.request_count == 1


# ----------------------------------------------------------------------------- logprobs


@pytest.mark.parametrize("prefill", [False, True])
@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_logprobs_mode_reads_a_distribution(srv: OpenAIServer, order: list[int], prefill: bool) -> None:
    srv.responder = PositionBiased(confidence=0.8)
    backend = LiteLLMBackend("openai/test-judge", api_base=srv.base_url, api_key=KEY,
                             retry=FAST, prefill=prefill)
    verdict = ChatJudge(backend, mode="logprobs").judge(_req(PAIR, order))
    assert verdict.choice == order[0]
    assert verdict.confidence == pytest.approx(0.8)
    expected = [0.0, 0.0]
    expected[order[0]], expected[order[1]] = 0.8, 0.2
    assert verdict.probs == pytest.approx(expected)
    body = srv.requests[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert body["max_tokens"] == (1 if prefill else backend.scan_tokens)
    assert (body["messages"][-1]["role"] == "assistant") is prefill


def test_provider_refusing_logprobs_params_is_a_logprobs_error(monkeypatch: pytest.MonkeyPatch) -> None:
    litellm = import_litellm()
    calls = []

    def refuse(**kwargs: object) -> None:
        calls.append(kwargs)
        raise litellm.UnsupportedParamsError(message="anthropic does not support parameters: "
                                             "['logprobs', 'top_logprobs']", llm_provider="anthropic",
                                             model="claude-x")

    monkeypatch.setattr(litellm, "completion", refuse)
    backend = LiteLLMBackend("anthropic/claude-x", api_key="sk-ant-test-123", retry=FAST)
    with pytest.raises(LogprobsUnavailableError, match="mode='generate'"):
        backend.option_logprobs([{"role": "user", "content": "hi"}], "Output (", ["a", "b"])
    assert len(calls) == 1 and calls[0]["logprobs"] is True  # fatal: not retried


def test_garbage_in_logprobs_mode_is_a_clear_error(srv: OpenAIServer) -> None:
    srv.responder = Garbage()
    backend = LiteLLMBackend("openai/test-judge", api_base=srv.base_url, api_key=KEY, retry=FAST)
    with pytest.raises(LogprobsUnavailableError, match="no generated token is one of the options"):
        backend.option_logprobs([{"role": "user", "content": "### Output (a):\nx\n### Output (b):\ny"}],
                                "Output (", ["a", "b"])


# ----------------------------------------------------------------------------- score_options (pure)


def _steps(*tokens: tuple[str, dict[str, float]]) -> list[dict[str, float]]:
    return [{tok: alts.get(tok, -0.01), **alts} for tok, alts in tokens]


def test_score_options_finds_the_answer_after_the_prefix() -> None:
    steps = _steps(("Output", {"The": -3.0}), (" (", {":": -4.0}),
                   ("a", {"a": math.log(0.7), "b": math.log(0.2), "A": math.log(0.05)}), (")", {}))
    got = score_options(steps, "Output (", ["a", "b"])
    assert got == pytest.approx([math.log(0.75), math.log(0.2)])


def test_score_options_ignores_option_lookalikes_before_the_prefix() -> None:
    steps = _steps(("The", {}), (" answer", {}), (" a", {" a": -0.1, " b": -5.0}), (" is", {}),
                   (" Output", {}), (" (", {}), ("b", {"b": -0.2, "a": -1.8}))
    assert score_options(steps, "Output (", ["a", "b"]) == pytest.approx([-1.8, -0.2])


def test_score_options_accepts_bare_and_bracketed_answers() -> None:
    assert score_options(_steps(("2", {"2": -0.1, "1": -2.5})), "Choice ", ["1", "2"]) == \
        pytest.approx([-2.5, -0.1])
    steps = _steps(("[[", {}), ("B", {"B": -0.3, "A": -1.4}), ("]]", {}))
    assert score_options(steps, "Output (", ["a", "b"]) == pytest.approx([-1.4, -0.3])


def test_score_options_missing_option_gets_the_floor() -> None:
    steps = _steps(("a", {"a": -0.05, "the": -4.0}))
    assert score_options(steps, "", ["a", "b"]) == pytest.approx([-0.05, -4.0])


def test_score_options_errors() -> None:
    with pytest.raises(LogprobsUnavailableError):
        score_options([], "Output (", ["a", "b"])
    with pytest.raises(LogprobsUnavailableError, match="began its answer with 'Hmm'"):
        score_options(_steps(("Hmm", {"Well": -2.0})), "Output (", ["a", "b"])
    with pytest.raises(ConfigError, match="distinct"):
        score_options(_steps(("a", {})), "", ["a", "A"])
