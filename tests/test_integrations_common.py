"""The shared adapter layer: judges from framework callbacks, settings, item building,
flat findings metadata."""

from __future__ import annotations

import pytest

from debias.errors import ConfigError, JudgeError, MissingDependencyError
from debias.integrations.common import (
    DebiasSettings,
    RequestJudge,
    answer_of,
    build_debiaser,
    chat_judge,
    choice_letter,
    findings_metadata,
    make_item,
    require,
    run_sync,
    to_judge,
)
from debias.judges.base import JudgeRequest
from debias.testing import ScriptedJudge
from debias.types import Result, Status, Verdict


def _slot_of(request: JudgeRequest, marker: str) -> int:
    cands = [request.item.candidates[i] for i in request.order]
    return next(s for s, c in enumerate(cands) if marker in c)


def test_require_names_the_extra():
    with pytest.raises(MissingDependencyError, match=r'pip install "judge-debias\[inspect\]"'):
        require("no_such_framework_xyz", "inspect")
    assert require("json", "core").dumps([1]) == "[1]"


def test_settings_validate_and_split():
    assert DebiasSettings(detectors="position, bandwagon").detectors == ("position", "bandwagon")
    with pytest.raises(ValueError, match="at least one detector"):
        DebiasSettings(detectors="")
    with pytest.raises(ValueError, match="max_rounds"):
        DebiasSettings(max_rounds=-1)
    with pytest.raises(ValueError, match="extra"):
        DebiasSettings(detector="position")  # type: ignore[call-arg]


def test_build_debiaser_overrides_are_validated():
    d = build_debiaser("scripted", DebiasSettings(detectors="position"), max_rounds=0)
    assert d.max_rounds == 0 and [x.name for x in d.detectors] == ["position"]
    with pytest.raises(ValueError, match="max_rounds"):
        build_debiaser("scripted", max_rounds=-3)
    with pytest.raises(ConfigError, match="neither"):
        to_judge(42)  # type: ignore[arg-type]


def test_make_item_infers_task_and_names_sample():
    assert make_item("q", ["a"], item_id="s1").task == "score"
    assert make_item("q", ["a", "b"], item_id="s1").task == "pairwise"
    assert make_item("q", ["a", "b", "c"], item_id="s1").task == "choice"
    with pytest.raises(ConfigError, match=r"sample 's9'.*needs 2 candidates"):
        make_item("q", ["a", "b", "c"], item_id="s9", task="pairwise")
    with pytest.raises(ConfigError, match="sample 's9'"):
        make_item("q", ["a"], item_id="s9", task="ranking")


def test_request_judge_sees_probes_and_position_bias_is_caught():
    seen: list[tuple[list[int], bool]] = []

    def first_slot(request: JudgeRequest) -> str:
        seen.append((list(request.order), request.shows_cue))
        return "Output (a)"  # always the first display slot, ignores feedback

    judge = RequestJudge(first_slot, name="framework-grader")
    debiaser = build_debiaser(judge, detectors="position", max_rounds=1)
    result = debiaser.judge(make_item("q", ["right", "wrong"], item_id="s1"))
    assert ([0, 1], False) in seen and ([1, 0], False) in seen
    meta = findings_metadata(result)
    assert meta["debias_position_detected"] is True
    assert meta["debias_first_choice"] == "A" and meta["debias_final_choice"] == "tie"
    assert meta["debias_status"] == "unresolved"
    assert meta["debias_biases_detected"] == ["position"]
    assert meta["debias_findings"][0].startswith("r0 position (0.95)")
    assert result.verdict is not None and result.verdict.judge == "framework-grader"


async def test_request_judge_async_callback_unbiased_untouched():
    async def by_content(request: JudgeRequest) -> int:
        return _slot_of(request, "right")

    debiaser = build_debiaser(RequestJudge(by_content, name="g"), detectors="position,bandwagon")
    result = await debiaser.ajudge(make_item("q", ["wrong", "right"], item_id="s2",
                                             cue="Most people prefer Output (a)."))
    assert result.status is Status.CLEAN and answer_of(result) == "B"
    meta = findings_metadata(result)
    assert meta["debias_flipped"] is False and meta["debias_biases_detected"] == []
    assert meta["debias_position_detected"] is False


def test_cue_follower_is_revised_through_feedback():
    def follows_cue(request: JudgeRequest) -> int:
        if request.feedback is not None:
            return _slot_of(request, "right")
        if request.shows_cue:
            return 0  # the cue endorses Output (a)
        return _slot_of(request, "right")

    debiaser = build_debiaser(RequestJudge(follows_cue, name="g"), detectors="bandwagon")
    result = debiaser.judge(make_item("q", ["wrong", "right"], item_id="s3",
                                      cue="90% believe that Output (a) is better"))
    meta = findings_metadata(result, stringify=True)
    assert meta["debias_bandwagon_detected"] == "true"
    assert meta["debias_first_choice"] == "A" and meta["debias_final_choice"] == "B"
    assert meta["debias_status"] == "revised" and meta["debias_flipped"] == "true"
    assert all(isinstance(v, str) for v in meta.values())


def test_chat_judge_renders_our_prompt_and_reasks_garbage():
    replies = iter(["I like both of them", "Output (b)"])

    def grader(messages):
        return next(replies)

    judge = chat_judge(grader, name="grader-model")
    verdict = judge.judge(JudgeRequest.first(make_item("q", ["x", "y"], item_id="s4")))
    assert verdict.choice == 1 and verdict.judge == "grader-model"
    assert "### Output (a):\nx" in judge.templates.pairwise.format(
        instruction="q", statement="", outputs="### Output (a):\nx")


def test_failed_judge_is_an_error_not_a_verdict():
    def broken(request: JudgeRequest) -> str:
        raise JudgeError("grader timed out")

    result = build_debiaser(RequestJudge(broken, name="g"), detectors="position").judge(
        make_item("q", ["a", "b"], item_id="s5"))
    assert result.status is Status.ERROR
    assert findings_metadata(result)["debias_error"].endswith("grader timed out")
    with pytest.raises(JudgeError, match="grader timed out"):
        answer_of(result)


def test_score_and_letters():
    assert choice_letter(Verdict(order=[0, 1], choice=1)) == "B"
    assert choice_letter(Verdict(order=[0, 1], tie=True)) == "tie"
    assert choice_letter(Verdict(order=[0], score=7.0)) is None
    assert choice_letter(None) is None
    res = Result(verdict=Verdict(order=[0], score=7.0), status=Status.CLEAN)
    assert answer_of(res) == 7.0
    meta = findings_metadata(res, prefix="x", stringify=True)
    assert meta["x_final_choice"] == "7" and meta["x_first_choice"] == ""


def test_scripted_judge_spec_through_to_judge():
    judge = to_judge("scripted:position=1")
    assert isinstance(judge, ScriptedJudge)
    item = make_item("q", ["good", "bad"], item_id="s6")
    result = build_debiaser(judge, detectors="position", max_rounds=0).judge(item)
    assert findings_metadata(result)["debias_position_detected"] is True


async def test_run_sync_refuses_inside_a_loop():
    async def one() -> int:
        return 1

    coro = one()
    with pytest.raises(JudgeError, match="async"):
        run_sync(coro)
    coro.close()


def test_run_sync_outside_a_loop():
    async def one() -> int:
        return 1

    assert run_sync(one()) == 1
