"""The backend contract: what every chat backend must do, run against each of them.

Backends: ``litellm`` and ``openai-compat`` against the loopback OpenAI server, ``scripted``
(the test double of :mod:`debias.testing`, answering through the same responders as the
server), and ``local`` on tiny transformers models built here (a random-weight Llama for
the protocol checks, word-level bigram models that must answer ``Output (a)`` or ramble
for the judge checks; nothing is downloaded).

Every backend: is a :class:`~debias.backends.ChatBackend`, gives the same completion sync,
async, through the shared effect handler and in a batch; under a
:class:`~debias.judges.ChatJudge` maps the answered display slot back to the ORIGINAL
numbering in every order, re-asks a bounded number of times on an unparseable reply and
sums the usage of the attempts. Scriptable backends (all but ``local``) also follow a cue,
stay content-fair across orders and answer score tasks. Network backends retry a transient
error and fail fast, without retrying, on a rejected key.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from debias.backends import (
    ChatBackend,
    Completion,
    GenerateCall,
    OptionScorer,
    Sampling,
    ahandle,
    complete_many,
    create_backend,
    handle,
)
from debias.errors import FatalModelError, JudgeError, LogprobsUnavailableError, VerdictParseError
from debias.judges import ChatJudge, JudgeRequest
from debias.ordering import cyclic_orders
from debias.testing import (
    ContentFair,
    CueFollowing,
    Flaky,
    Garbage,
    OpenAIServer,
    PositionBiased,
    Reply,
    Scripted,
    ScriptedBackend,
    auth_error,
)
from debias.testing.responders import ChatRequest, Responder
from debias.types import Item
from tests.backends.items import FAST, MC, MSGS, PAIR, SCORE

KEY = "sk-contract-0123456789abcdef"
OTHER = [{"role": "user", "content": "### Instruction:\nPick.\n### Output (a):\nb\n### Output (b):\na"}]
BACKENDS = ["litellm", "openai-compat", "scripted", "local"]
NETWORK = ["litellm", "openai-compat"]


@dataclass
class Case:
    """One backend under test and how to make it behave.

    Attributes:
        name: Backend kind.
        make: Builds the backend that behaves as the given responder.
        sent: The message lists the backend's model received so far.
        scriptable: Whether any responder can be played (else only ``position``/``garbage``).
        server: The loopback server (network backends).
    """

    name: str
    make: Callable[[Responder], ChatBackend]
    sent: Callable[[], list[list[dict[str, Any]]]]
    scriptable: bool = True
    server: OpenAIServer | None = None
    made: list[ChatBackend] = field(default_factory=list)

    def backend(self, responder: Responder | None = None) -> ChatBackend:
        responder = responder or PositionBiased()
        if not self.scriptable and not isinstance(responder, PositionBiased | Garbage):
            pytest.skip(f"the {self.name} backend cannot play {type(responder).__name__}")
        backend = self.make(responder)
        self.made.append(backend)
        return backend


def _text(reply: str | Reply) -> str:
    return reply if isinstance(reply, str) else reply.text


# ----------------------------------------------------------------------------- the cases


@pytest.fixture(scope="module")
def bigram_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.tiny_lm import ASSISTANT, build_bigram_model

    root = tmp_path_factory.mktemp("contract-bigram")
    answer = {ASSISTANT: {"Output": 1.0}, "Output": {"(a)": 1.0}, "(a)": {"</s>": 1.0}}
    ramble = {ASSISTANT: {"hmm,": 1.0}, "hmm,": {"hard": 1.0}, "hard": {"to": 1.0},
              "to": {"say.": 1.0}, "say.": {"</s>": 1.0}}
    return {"position": build_bigram_model(root / "answer", answer),
            "garbage": build_bigram_model(root / "ramble", ramble)}


@pytest.fixture(scope="module")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.tiny_lm import CHATML, build_tokenizer, save_model

    path = tmp_path_factory.mktemp("contract-random")
    save_model(path, build_tokenizer(CHATML))
    return path


@pytest.fixture(params=BACKENDS)
def case(request: pytest.FixtureRequest, server: OpenAIServer) -> Iterator[Case]:
    kind = request.param
    server.clear_log()
    server.logprobs = True
    server.responder = PositionBiased()

    def on_server(make: Callable[[], ChatBackend]) -> Callable[[Responder], ChatBackend]:
        def build(responder: Responder) -> ChatBackend:
            server.responder = responder
            return make()
        return build

    def server_sent() -> list[list[dict[str, Any]]]:
        return [r.body["messages"] for r in server.requests]  # type: ignore[index]

    if kind == "litellm":
        yield Case(kind, on_server(lambda: create_backend(
            "openai/test-judge", api_base=server.base_url, api_key=KEY, retry=FAST)),
            server_sent, server=server)
    elif kind == "openai-compat":
        yield Case(kind, on_server(lambda: create_backend(
            "openai-compat:test-judge", api_base=server.base_url, api_key=KEY, retry=FAST)),
            server_sent, server=server)
    elif kind == "scripted":
        log: list[list[dict[str, Any]]] = []

        def scripted(responder: Responder) -> ChatBackend:
            backend = create_backend("scripted", replies=lambda m: _text(
                responder(ChatRequest(body={"messages": m}))))
            assert isinstance(backend, ScriptedBackend)
            backend.requests = log  # one log across the backends of a test
            return backend

        yield Case(kind, scripted, lambda: log)
    else:
        models = request.getfixturevalue("bigram_models")
        from debias.backends.local_lm import LocalModelPool

        pool = LocalModelPool()
        log = []

        def local(responder: Responder) -> ChatBackend:
            which = "garbage" if isinstance(responder, Garbage) else "position"
            backend = create_backend(f"local:{models[which]}", pool=pool, device="cpu",
                                     progress=None)
            inner_complete = backend.complete_many  # type: ignore[attr-defined]

            def logged(batch: list[list[dict[str, str]]], sampling: Sampling) -> list[Completion]:
                log.extend(batch)
                return inner_complete(batch, sampling)

            backend.complete_many = logged  # type: ignore[attr-defined]
            return backend

        yield Case(kind, local, lambda: log, scriptable=False)


def _judge(case: Case, responder: Responder | None = None, **kw: Any) -> ChatJudge:
    return ChatJudge(case.backend(responder), mode="generate", **kw)


def _req(item: Item, order: list[int], with_cue: bool = True) -> JudgeRequest:
    return JudgeRequest(item=item, order=order, with_cue=with_cue)


# ----------------------------------------------------------------------------- protocol


def test_is_a_chat_backend_with_a_name_and_a_judge_mode(case: Case) -> None:
    backend = case.backend()
    assert isinstance(backend, ChatBackend)
    assert isinstance(backend.name, str) and backend.name
    assert getattr(backend, "judge_mode", "generate") in ("auto", "generate")


def test_sync_async_effect_handler_and_batch_give_the_same_completion(case: Case) -> None:
    backend = case.backend()
    sampling = Sampling(max_tokens=8)
    sync = backend.complete(MSGS, sampling)
    assert isinstance(sync, Completion) and sync.text
    assert sync.usage.calls == 1 and sync.usage.prompt_tokens > 0
    assert sync.usage.completion_tokens > 0

    async def both() -> tuple[Completion, Completion]:
        return (await backend.acomplete(MSGS, sampling),
                await ahandle(backend, GenerateCall(MSGS, sampling)))

    via_async, via_ahandle = asyncio.run(both())
    via_handle = handle(backend, GenerateCall(MSGS, sampling))
    batch = complete_many(backend, [MSGS, OTHER, MSGS], sampling, batch_size=2)
    assert [c.text for c in (via_async, via_ahandle, via_handle)] == [sync.text] * 3
    assert [c.text for c in batch] == [sync.text, backend.complete(OTHER, sampling).text,  # type: ignore[union-attr]
                                       sync.text]
    assert len(case.sent()) == 8


def test_option_scores_are_log_probabilities_sync_and_async(case: Case,
                                                           request: pytest.FixtureRequest) -> None:
    backend = case.backend(PositionBiased(confidence=0.8))
    if not isinstance(backend, OptionScorer):
        assert case.name == "scripted"  # the plain scripted backend only generates
        with pytest.raises(Exception, match="scores options"):
            ChatJudge(backend, mode="logprobs")
        return
    if case.name == "local":
        # the bigram models' word-level tokenizer cannot split "Output (a"; the random-weight
        # Llama's byte-level BPE scores single letters after a prefix
        model = request.getfixturevalue("random_model")
        backend = create_backend(f"local:{model}", device="cpu", progress=None)
    scores, usage = backend.option_logprobs(MSGS, "Output (", ["a", "b"])
    again, _ = asyncio.run(backend.aoption_logprobs(MSGS, "Output (", ["a", "b"]))  # type: ignore[attr-defined]
    assert len(scores) == 2 and all(math.isfinite(s) and s <= 0 for s in scores)
    assert sum(math.exp(s) for s in scores) <= 1 + 1e-6
    assert again == pytest.approx(scores, abs=1e-6) and usage.calls == 1


def test_logprobs_multiple_choice_concurrently(case: Case) -> None:
    if case.name not in NETWORK:
        pytest.skip("log-probabilities of a served model")
    judge = ChatJudge(case.backend(CueFollowing()), mode="logprobs")

    async def run() -> list:
        return await asyncio.gather(*(judge.ajudge(_req(MC, o)) for o in cyclic_orders(4)))

    for order, verdict in zip(cyclic_orders(4), asyncio.run(run()), strict=True):
        assert verdict.choice == order[2]
        assert verdict.probs is not None and max(verdict.probs) == verdict.probs[order[2]]
        assert math.isclose(sum(verdict.probs), 1.0)


def test_no_logprobs_from_the_server_is_a_clear_error(case: Case) -> None:
    if case.name not in NETWORK:
        pytest.skip("log-probabilities of a served model")
    judge = ChatJudge(case.backend(), mode="logprobs")
    assert case.server is not None
    case.server.logprobs = False
    with pytest.raises(LogprobsUnavailableError, match="mode='generate'") as info:
        judge.judge(_req(PAIR, [0, 1]))
    assert isinstance(info.value, JudgeError)


# ----------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize("way", ["sync", "async"])
@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_answered_slot_maps_to_the_original_numbering(case: Case, order: list[int],
                                                      way: str) -> None:
    judge = _judge(case, PositionBiased())
    request = _req(PAIR, order)
    verdict = judge.judge(request) if way == "sync" else asyncio.run(judge.ajudge(request))
    assert verdict.raw == "Output (a)"
    assert verdict.choice == order[0]  # the first DISPLAYED candidate, in original numbering
    assert verdict.order == order and verdict.judge == judge.backend.name
    assert verdict.usage.calls == 1 and verdict.usage.prompt_tokens > 0
    (sent,) = case.sent()
    shown = sent[-1]["content"]
    assert shown.index(PAIR.candidates[order[0]]) < shown.index(PAIR.candidates[order[1]])


@pytest.mark.parametrize("way", ["sync", "async"])
def test_garbage_fails_after_bounded_reasks(case: Case, way: str) -> None:
    judge = _judge(case, Garbage(), max_reasks=2)
    with pytest.raises(VerdictParseError, match="3 attempts") as info:
        if way == "sync":
            judge.judge(_req(PAIR, [0, 1]))
        else:
            asyncio.run(judge.ajudge(_req(PAIR, [0, 1])))
    sent = case.sent()
    assert len(sent) == 3 and info.value.text
    assert [m["role"] for m in sent[-1][-2:]] == ["assistant", "user"]  # the re-ask conversation
    assert len(sent[-1]) == len(sent[0]) + 4  # two re-asks: reply + re-ask message each


def test_reask_recovers_and_sums_usage(case: Case) -> None:
    judge = _judge(case, Scripted(["I am not sure.", "Output (b)"]))
    verdict = judge.judge(_req(PAIR, [1, 0]))
    assert verdict.choice == 0 and verdict.raw == "Output (b)"
    assert verdict.usage.calls == 2 and len(case.sent()) == 2


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_cue_following_judge(case: Case, order: list[int]) -> None:
    judge = _judge(case, CueFollowing())
    with_cue = judge.judge(_req(PAIR, order))
    assert with_cue.raw == "Output (b)" and with_cue.choice == order[1] and with_cue.with_cue
    without = judge.judge(_req(PAIR, order, with_cue=False))
    assert without.choice == order[0] and without.with_cue is False
    first, second = case.sent()
    assert PAIR.cue in first[-1]["content"] and PAIR.cue not in second[-1]["content"]


@pytest.mark.parametrize("order", [*cyclic_orders(4), [3, 2, 1, 0]])
def test_multiple_choice_cue_and_content_fair(case: Case, order: list[int]) -> None:
    verdict = _judge(case, CueFollowing()).judge(_req(MC, order))
    assert verdict.raw == "Choice 3" and verdict.choice == order[2]
    assert _judge(case, ContentFair(marker="[correct]")).judge(_req(MC, order)).choice == 1


def test_score_task(case: Case) -> None:
    if not case.scriptable:
        pytest.skip(f"the {case.name} backend's models answer pairwise items only")
    verdict = _judge(case, PositionBiased(score=7)).judge(JudgeRequest.first(SCORE))
    assert verdict.score == 7 and verdict.choice is None


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("way", ["sync", "async"])
def test_a_transient_error_is_retried(case: Case, way: str) -> None:
    if case.name not in NETWORK:
        pytest.skip("no transport to fail")
    backend = case.backend(Flaky(failures=1, status=500))
    sampling = Sampling(max_tokens=8)
    out = backend.complete(MSGS, sampling) if way == "sync" else asyncio.run(
        backend.acomplete(MSGS, sampling))
    assert out.text == "Output (a)"
    assert case.server is not None and [r.status for r in case.server.requests] == [500, 200]


@pytest.mark.parametrize("way", ["sync", "async"])
def test_a_rejected_key_fails_fast_without_showing_it(case: Case, way: str) -> None:
    if case.name not in NETWORK:
        pytest.skip("no key to reject")
    backend = case.backend(auth_error())
    with pytest.raises(FatalModelError) as info:
        if way == "sync":
            backend.complete(MSGS, Sampling(max_tokens=8))
        else:
            asyncio.run(backend.acomplete(MSGS, Sampling(max_tokens=8)))
    assert case.server is not None and case.server.request_count == 1  # not retried
    assert "authentication failed" in str(info.value) and "not retried" in str(info.value)
    assert "0123456789abcdef" not in str(info.value)
