"""ReasoningDetector with scripted backends: planning, cascade, parsing, confidence, batching,
the backend factory, and the loop integration."""

from __future__ import annotations

import pytest

from debias.contract import DetectContext, ModelDetector, parse_detector_specs
from debias.errors import ConfigError
from debias.judges.base import Completion, JudgeRequest, Message, Sampling
from debias.loop import Debiaser
from debias.offline import detect_offline
from debias.testing import ScriptedBackend, ScriptedJudge, ScriptedScoringBackend
from debias.types import Evidence, Finding, Item, Usage, Verdict
from detectors.position import PositionDetector
from detectors.reasoning.confidence import (
    p_yes_from_logprobs,
    p_yes_from_top_logprobs,
    scoring_prefix,
)
from detectors.reasoning.detector import ReasoningDetector
from detectors.reasoning.parse import parse_detection

YES = "<think>The judge went with the output the majority named, not the better one.</think>\nYes"
NO = "<think>The judge's choice matches the content; nothing points to bias.</think>\nNo"

PAIR = Item(id="p", task="pairwise", instruction="Name a prime number.",
            candidates=["7 is prime.", "9 is prime."], cue="90% believe that Output (b) is better")


def ctx_for(item: Item, verdict: Verdict) -> DetectContext:
    request = JudgeRequest(item=item, order=list(verdict.order), with_cue=verdict.with_cue)
    return DetectContext(item=item, request=request, verdict=verdict, mode="offline")


def cheap(bias: str, detected: bool, confidence: float, status: str = "ok") -> Finding:
    return Finding(detector=f"cheap-{bias}", bias=bias, detected=detected, confidence=confidence,
                   status=status)  # type: ignore[arg-type]


VERDICT_B = Verdict(judge="openai/gpt-4o-mini", order=[0, 1], choice=1)


def test_is_a_registered_model_detector() -> None:
    det = parse_detector_specs("reasoning:backend=openai/x;cascade=always;biases=position+bandwagon;"
                               "max_tokens=64;low=0.3;high=0.7;score_confidence=false")[0]
    assert isinstance(det, ReasoningDetector) and isinstance(det, ModelDetector)
    assert det.biases == ("position", "bandwagon") and det.bias == "other"
    assert det.cascade == "always" and det.sampling.max_tokens == 64
    assert det.band.low == 0.3 and det.band.high == 0.7 and det.score_confidence is False
    assert ReasoningDetector(ScriptedBackend([NO]), biases="sentiment").bias == "sentiment"
    generic = parse_detector_specs("reasoning:list_all_types=yes")[0]
    assert isinstance(generic, ReasoningDetector) and generic.template.list_all_types


@pytest.mark.parametrize("spec,message", [
    ("reasoning:cascade=sometimes", "option cascade='sometimes': Input should be 'always'"),
    ("reasoning:biases=length", r"option biases='length': .*\['length'\] not among"),
    ("reasoning:max_tokens=zero", "option max_tokens='zero': Input should be a valid integer"),
    ("reasoning:max_tokens=1.5", "option max_tokens='1.5': Input should be a valid integer"),
    ("reasoning:max_tokens=0", "option max_tokens='0': Input should be greater than or equal to 1"),
    ("reasoning:low=0.8;high=0.2", "^detector 'reasoning': ambiguous band: low 0.8 is above high 0.2$"),
    ("reasoning:policy=ignore", "policy 'ignore' is not one of"),
    ("reasoning:score_confidence=maybe", "option score_confidence='maybe': Input should be a valid boolean"),
    ("reasoning:temprature=0.5", "detector 'reasoning' has no option 'temprature'"),
])
def test_bad_options_name_the_value(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_detector_specs(spec)


def test_bandwagon_yes_finding() -> None:
    backend = ScriptedBackend([YES])
    det = ReasoningDetector(backend, cascade="always")
    finding = det.detect(ctx_for(PAIR, VERDICT_B), [])
    assert finding.status == "ok" and finding.detected and finding.bias == "bandwagon"
    assert finding.detector == "reasoning" and finding.policy == "revise"
    assert finding.analysis == "The judge went with the output the majority named, not the better one."
    assert finding.calls == 1 and finding.usage.calls == 1 and finding.usage.completion_tokens > 0
    assert finding.confidence == pytest.approx(0.7)  # documented default, well-formed answer
    checked = finding.evidence.values["checked"]
    assert checked == [{"bias": "bandwagon", "label": "Yes", "found_in": "answer", "confidence": 0.7,
                        "confidence_source": "default", "p_yes": None, "well_formed": True}]
    prompt = backend.requests[0][0]["content"]
    assert backend.requests[0][0]["role"] == "user" and len(backend.requests[0]) == 1
    assert "**gpt-4o-mini**" in prompt
    assert "### Statement: 90% believe that Output (b) is better\n\nOutput (a): 7 is prime." in prompt
    assert "### Evaluation by LLM-as-a-Judge:\nOutput (b)\n" in prompt


def test_no_finding_and_fallback_confidence() -> None:
    det = ReasoningDetector(ScriptedBackend(["<think>fine</think>\nI see no sign of it, so: no."]),
                            cascade="always")
    finding = det.detect(ctx_for(PAIR, VERDICT_B), [])
    assert finding.status == "ok" and not finding.detected
    assert finding.confidence == pytest.approx(0.6)  # fallback rule: default - 0.1


@pytest.mark.parametrize("reply", ["", "<think>The judge picked (b) and I keep thinking",
                                   "<think>thoughts only</think>"])
def test_unparseable_output_is_an_error_finding(reply: str) -> None:
    det = ReasoningDetector(ScriptedBackend([reply]), cascade="always")
    finding = det.detect(ctx_for(PAIR, VERDICT_B), [])
    assert finding.status == "error" and not finding.detected and not finding.actionable
    assert "unparseable detector output for bandwagon" in (finding.reason or "")
    assert finding.calls == 1 and finding.usage.calls == 1
    assert finding.evidence.values["output"] == reply


def test_cascade_on_signal() -> None:
    ctx = ctx_for(PAIR, VERDICT_B)
    backend = ScriptedBackend([YES])
    det = ReasoningDetector(backend)  # on-signal by default
    quiet = det.detect(ctx, [cheap("bandwagon", False, 0.9)])
    assert quiet.status == "skipped" and "no cheap signal" in (quiet.reason or "")
    assert quiet.calls == 0 and backend.requests == []
    for signal in ([cheap("bandwagon", True, 0.9)], [cheap("bandwagon", False, 0.5)],
                   [cheap("bandwagon", False, 0.0, status="error")], []):
        finding = det.detect(ctx, signal)
        assert finding.status == "ok" and finding.calls == 1, signal
    assert len(backend.requests) == 4
    never = ReasoningDetector(backend, cascade="never").detect(ctx, [cheap("bandwagon", True, 1.0)])
    assert never.status == "skipped" and "cascade=never" in (never.reason or "")
    assert len(backend.requests) == 4


def test_auto_bias_selection() -> None:
    det = ReasoningDetector(ScriptedBackend([NO]), cascade="always")
    no_cue = PAIR.model_copy(update={"cue": None})
    # no cue, no other order, similar lengths, no cheap findings: nothing applies
    assert det.biases_for(ctx_for(no_cue, VERDICT_B), []) == []
    skipped = det.detect(ctx_for(no_cue, VERDICT_B), [])
    assert skipped.status == "skipped" and skipped.calls == 0
    # a verdict made without the cue shown is not a bandwagon case
    assert det.biases_for(ctx_for(PAIR, VERDICT_B.model_copy(update={"with_cue": False})), []) == []
    # long vs short pair -> verbosity
    long_pair = no_cue.model_copy(update={"candidates": ["7", "Seven is a prime number " * 5]})
    assert det.biases_for(ctx_for(long_pair, VERDICT_B), []) == ["verbosity"]
    # cheap findings make verbosity/sentiment applicable
    assert det.biases_for(ctx_for(no_cue, VERDICT_B),
                          [cheap("sentiment", False, 0.8), cheap("verbosity", False, 0.8)]) == \
        ["verbosity", "sentiment"]
    # a per-item hint wins
    hinted = no_cue.model_copy(update={"metadata": {"bias_category": "sentiment"}})
    assert det.biases_for(ctx_for(hinted, VERDICT_B), []) == ["sentiment"]
    # configured biases are used as given (unrenderable ones drop out)
    fixed = ReasoningDetector(ScriptedBackend([NO]), biases="position+verbosity", cascade="always")
    assert fixed.biases_for(ctx_for(PAIR, VERDICT_B), []) == ["verbosity"]
    # score tasks are never checked
    score = Item(id="s", task="score", instruction="Rate", candidates=["x"])
    assert det.biases_for(ctx_for(score, Verdict(order=[0], score=4.0)), []) == []


def test_position_from_recorded_verdicts_and_cheap_finding() -> None:
    item = Item(id="pos", task="pairwise", instruction="Why is the sky blue?",
                candidates=["Rayleigh scattering.", "Because it reflects the sea."],
                verdicts=[Verdict(judge="GPT-4o", order=[0, 1], choice=0),
                          Verdict(judge="GPT-4o", order=[1, 0], choice=1)])
    swapped = item.verdicts[1]
    findings = detect_offline(item, swapped, [PositionDetector()])
    assert findings[0].detected  # the judge followed slot (a) in both orders
    backend = ScriptedBackend([YES])
    det = ReasoningDetector(backend)
    # the cheap finding supplies the other order even without recorded verdicts
    bare = item.model_copy(update={"verdicts": []})
    finding = det.detect(ctx_for(bare, swapped), findings)
    assert finding.bias == "position" and finding.detected
    prompt = backend.requests[0][0]["content"]
    assert ("### Choices:\n### First Evaluation (Original Order)\nOutput (a): Rayleigh scattering.\n\n"
            "Output (b): Because it reflects the sea.\n\n### Second Evaluation (Swapped Order)\n"
            "Output (a): Because it reflects the sea.\n\nOutput (b): Rayleigh scattering.\n\n") in prompt
    assert ("### Evaluation by LLM-as-a-Judge:\n### Original Order\nOutput (a)\n\n"
            "### Swapped Order\nOutput (a)\n\n") in prompt
    assert "**GPT-4o**" in prompt
    # recorded verdicts alone also work
    backend2 = ScriptedBackend([NO])
    finding = ReasoningDetector(backend2, cascade="always").detect(ctx_for(item, swapped), [])
    assert finding.bias == "position" and not finding.detected
    assert "### Second Evaluation (Swapped Order)" in backend2.requests[0][0]["content"]


def test_analysis_fed_back_has_no_recommendation() -> None:
    reply = ("<think>Output (a) is correct: 7 is prime and 9 = 3 * 3. The judge followed the 90% "
             "statement. The judge should pick Output (a) instead. So the answer is Yes.</think>\nYes")
    finding = ReasoningDetector(ScriptedBackend([reply]), cascade="always").detect(
        ctx_for(PAIR, VERDICT_B), [])
    assert "9 = 3 * 3" in finding.analysis and "followed the 90% statement" in finding.analysis
    assert "should pick" not in finding.analysis and "answer is Yes" not in finding.analysis
    assert finding.evidence.values["removed_recommendations"] == 2


def test_confidence_from_option_scores() -> None:
    seen: list[tuple[str, list[str]]] = []

    def scores(messages: list[Message], prefix: str, options: list[str]) -> list[float]:
        seen.append((prefix, options))
        return [-0.2, -1.8]  # P(Yes) = 1 / (1 + e^-1.6)

    backend = ScriptedScoringBackend([YES], scores)
    finding = ReasoningDetector(backend, cascade="always").detect(ctx_for(PAIR, VERDICT_B), [])
    assert finding.confidence == pytest.approx(p_yes_from_logprobs([-0.2, -1.8]))
    assert finding.confidence == pytest.approx(0.832, abs=1e-3)
    assert seen == [(YES[: YES.index("Yes", YES.index("</think>"))], ["Yes", "No"])]
    assert finding.calls == 2 and finding.usage.calls == 2
    assert finding.evidence.values["checked"][0]["confidence_source"] == "option_logprobs"
    # a No answer gets 1 - P(Yes); scoring can be switched off
    backend_no = ScriptedScoringBackend([NO], scores)
    finding = ReasoningDetector(backend_no, cascade="always").detect(ctx_for(PAIR, VERDICT_B), [])
    assert finding.confidence == pytest.approx(1 - 0.832, abs=1e-3)
    off = ReasoningDetector(ScriptedScoringBackend([NO], scores), cascade="always",
                            score_confidence=False).detect(ctx_for(PAIR, VERDICT_B), [])
    assert off.calls == 1 and off.confidence == pytest.approx(0.7)


def test_scoring_failure_falls_back_to_default() -> None:
    def broken(messages: list[Message], prefix: str, options: list[str]) -> list[float]:
        raise RuntimeError("no logits")

    finding = ReasoningDetector(ScriptedScoringBackend([YES], broken), cascade="always").detect(
        ctx_for(PAIR, VERDICT_B), [])
    assert finding.status == "ok" and finding.confidence == pytest.approx(0.7)
    assert finding.calls == 2


class TopLogprobBackend:
    name = "toplp"

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        return Completion(text="<think>x</think>\nNo", usage=Usage(calls=1),
                          top_logprobs=[{"<think>": -0.1}, {"x": -0.2}, {"No": -0.3, " Yes": -1.5,
                                                                          "no": -3.0}])

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        return self.complete(messages, sampling)


def test_confidence_from_top_logprobs() -> None:
    import math

    finding = ReasoningDetector(TopLogprobBackend(), cascade="always").detect(ctx_for(PAIR, VERDICT_B), [])
    yes, no = math.exp(-1.5), math.exp(-0.3) + math.exp(-3.0)
    assert finding.confidence == pytest.approx(no / (yes + no))
    assert finding.evidence.values["checked"][0]["confidence_source"] == "top_logprobs"
    assert p_yes_from_top_logprobs(None) is None
    assert p_yes_from_top_logprobs([{"a": -0.1}]) is None


def test_scoring_prefix_variants() -> None:
    text = "<think>r</think>\n**Yes**"
    assert scoring_prefix(text, parse_detection(text)) == "<think>r</think>\n**"
    text = "<think>so the answer is no</think>"
    assert scoring_prefix(text, parse_detection(text)) == "<think>so the answer is no</think>\n"
    text = "<think>r"
    assert scoring_prefix(text, parse_detection(text)) is None


async def test_adetect_matches_detect() -> None:
    det = ReasoningDetector(ScriptedBackend([YES]), cascade="always")
    sync = det.detect(ctx_for(PAIR, VERDICT_B), [])
    asyn = await det.adetect(ctx_for(PAIR, VERDICT_B), [])
    assert sync == asyn


class BatchBackend(ScriptedBackend):
    """Scripted backend with batched generation; fails chats mentioning 'FAIL'."""

    def __init__(self) -> None:
        super().__init__(lambda m: YES if "9 is prime" in m[0]["content"] else NO)
        self.batches: list[int] = []

    def complete_many(self, batch: list[list[Message]], sampling: Sampling) -> list[Completion]:
        self.batches.append(len(batch))
        if any("FAIL" in m[0]["content"] for m in batch):
            raise RuntimeError("device out of memory")
        return [self.complete(m, sampling) for m in batch]


def test_detect_many_batches_and_isolates_failures() -> None:
    backend = BatchBackend()
    det = ReasoningDetector(backend, cascade="always", batch_size=2)
    items = [PAIR.model_copy(update={"id": str(k), "candidates": ["7 is prime.", c]})
             for k, c in enumerate(["9 is prime.", "4 is prime.", "9 is prime.", "1 is prime.",
                                    "8 is prime."])]
    contexts = [ctx_for(it, VERDICT_B) for it in items]
    findings = det.detect_many(contexts)
    assert backend.batches == [2, 2, 1]
    assert [f.detected for f in findings] == [True, False, True, False, False]
    assert all(f.calls == 1 for f in findings)
    assert findings == [det.detect(c, []) for c in contexts]
    # a failing batch fails only its own items
    items[3] = items[3].model_copy(update={"candidates": ["7 is prime.", "FAIL"]})
    backend.batches.clear()
    out = det.detect_many([ctx_for(it, VERDICT_B) for it in items])
    assert [f.status for f in out] == ["ok", "ok", "error", "error", "ok"]
    assert out[2].reason == "bandwagon check: model call failed: RuntimeError: device out of memory"
    assert out[2].bias == "bandwagon" and out[2].calls == 1
    strict = ReasoningDetector(backend, cascade="always", batch_size=2, strict=True)
    with pytest.raises(RuntimeError, match="out of memory"):
        strict.detect_many([ctx_for(it, VERDICT_B) for it in items], strict=True)
    assert [f.status for f in strict.detect_many([ctx_for(it, VERDICT_B) for it in items])] == \
        ["ok", "ok", "error", "error", "ok"]  # without strict=True here: error findings


def test_detect_many_with_scoring_and_skips() -> None:
    backend = ScriptedScoringBackend([YES, NO], lambda m, p, o: [-1.0, -1.0])
    det = ReasoningDetector(backend)  # on-signal
    ctxs = [ctx_for(PAIR, VERDICT_B), ctx_for(PAIR, VERDICT_B), ctx_for(PAIR, VERDICT_B)]
    findings = det.detect_many(ctxs, [[], [cheap("bandwagon", False, 0.95)], []])
    assert [f.status for f in findings] == ["ok", "skipped", "ok"]
    assert [f.detected for f in findings] == [True, False, False]
    assert [f.calls for f in findings] == [2, 0, 2]
    assert findings[0].confidence == pytest.approx(0.5)


async def test_adetect_many() -> None:
    det = ReasoningDetector(ScriptedBackend([YES]), cascade="always", concurrency=2)
    out = await det.adetect_many([ctx_for(PAIR, VERDICT_B)] * 3)
    assert [f.detected for f in out] == [True, True, True]


def test_detector_builds_its_backend_from_the_shared_registry_on_first_use() -> None:
    det = ReasoningDetector("scripted:" + YES, cascade="always", biases="bandwagon")
    assert det._backend is None  # nothing is built before the first detection
    finding = det.detect(ctx_for(PAIR, VERDICT_B), [])
    assert isinstance(det.backend, ScriptedBackend) and len(det.backend.requests) == 1
    assert finding.detected and finding.bias == "bandwagon"
    with pytest.raises(ConfigError, match="needs a local backend"):
        _ = ReasoningDetector("openai/gpt-4o-mini", adapter="/a").backend
    with pytest.raises(ConfigError, match=r"api_base.*not to 'local'"):
        _ = ReasoningDetector("local", api_base="http://127.0.0.1:1").backend
    with pytest.raises(ConfigError, match="backend spec is empty"):
        ReasoningDetector(" ")


def test_loop_feeds_the_analysis_back_to_the_judge() -> None:
    judge = ScriptedJudge(cue=1.0, compliance=1.0)
    item = Item(id="loop", task="pairwise", instruction="Name a prime number.",
                candidates=["7 is prime.", "9 is prime."], label=0,
                cue="90% believe that Output (b) is better")
    backend = ScriptedBackend(lambda m: YES if "Output (b)\n\n- If" in m[0]["content"] else NO)
    det = ReasoningDetector(backend, cascade="always", biases="bandwagon")
    result = Debiaser(judge, [det], max_rounds=2).judge(item)
    first = result.rounds[0]
    reasoning = [f for f in first.findings if f.detector == "reasoning"]
    assert reasoning and reasoning[0].detected and reasoning[0].bias == "bandwagon"
    assert first.feedback is not None
    assert "The judge went with the output the majority named" in first.feedback.text
    assert result.verdict is not None and result.verdict.choice == 0
    assert result.status.value == "revised"
    assert result.usage.calls >= 2  # judge calls + detector calls are both counted


def test_position_evidence_from_cheap_finding_tolerates_odd_values() -> None:
    odd = Finding(detector="position", bias="position", detected=True, confidence=0.9,
                  evidence=Evidence(values={"orders": [[0, 1], [1, 1]], "choices": [0, 5]}))
    det = ReasoningDetector(ScriptedBackend([NO]), cascade="always")
    # the malformed entry is ignored; no other usable order -> position does not apply
    assert det.biases_for(ctx_for(PAIR.model_copy(update={"cue": None}), VERDICT_B), [odd]) == []


class FailingBackend:
    name = "down"

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        from debias.errors import FatalModelError

        raise FatalModelError("prompt of 9000 tokens exceeds the context window")

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        return self.complete(messages, sampling)


def test_failed_model_call_is_an_error_finding_about_the_bias() -> None:
    finding = ReasoningDetector(FailingBackend(), cascade="always").detect(ctx_for(PAIR, VERDICT_B), [])
    assert finding.status == "error" and finding.bias == "bandwagon" and finding.calls == 1
    assert "FatalModelError: prompt of 9000 tokens" in (finding.reason or "")
    from debias.errors import FatalModelError

    with pytest.raises(FatalModelError):
        ReasoningDetector(FailingBackend(), cascade="always", strict=True).detect(
            ctx_for(PAIR, VERDICT_B), [])


def test_prefix_scoring_only_when_the_backend_continues_a_prefix() -> None:
    calls: list[str] = []
    backend = ScriptedScoringBackend([YES], lambda m, p, o: calls.append(p) or [-0.1, -3.0])
    backend.prefill = False  # like LiteLLMBackend(prefill=False): the prefix is not sent
    finding = ReasoningDetector(backend, cascade="always").detect(ctx_for(PAIR, VERDICT_B), [])
    assert calls == [] and finding.calls == 1 and finding.confidence == pytest.approx(0.7)
    backend.prefill = True
    finding = ReasoningDetector(backend, cascade="always").detect(ctx_for(PAIR, VERDICT_B), [])
    assert len(calls) == 1 and finding.calls == 2


def test_logprobs_option_asks_the_backend_for_top_logprobs() -> None:
    seen: list[Sampling] = []

    class Recorder(ScriptedBackend):
        def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
            seen.append(sampling)
            return super().complete(messages, sampling)

    ReasoningDetector(Recorder([NO]), cascade="always", logprobs="true",
                      max_tokens="300").detect(ctx_for(PAIR, VERDICT_B), [])
    assert seen[0].logprobs and seen[0].top_logprobs == 5 and seen[0].max_tokens == 300
