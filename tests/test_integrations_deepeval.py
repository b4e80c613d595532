"""The DeepEval adapter, end to end: real DeepEval metrics (ArenaGEval, GEval), DeepEval's
own OpenAI-compatible model client (``LocalModel``), a loopback server answering as a
scripted grader; ``metric.measure``, ``metric.a_measure`` and ``deepeval.evaluate``."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

for _k, _v in {"DEEPEVAL_TELEMETRY_OPT_OUT": "YES", "DEEPEVAL_UPDATE_WARNING_OPT_IN": "NO",
               "DEEPEVAL_DISABLE_DOTENV": "1", "ERROR_REPORTING": "NO",
               # DeepEval's .deepeval/ folder (cache, last run) is resolved at import time
               "DEEPEVAL_CACHE_FOLDER": os.path.join(tempfile.gettempdir(), "judge-debias-tests-deepeval")}.items():
    os.environ.setdefault(_k, _v)

deepeval = pytest.importorskip("deepeval")

from deepeval.evaluate.configs import AsyncConfig, CacheConfig, DisplayConfig, ErrorConfig  # noqa: E402
from deepeval.metrics import ArenaGEval, GEval  # noqa: E402
from deepeval.metrics.arena_g_eval import ArenaGEvalTemplate  # noqa: E402
from deepeval.metrics.utils import copy_metrics  # noqa: E402
from deepeval.models import LocalModel  # noqa: E402
from deepeval.test_case import ArenaTestCase, Contestant, LLMTestCase, SingleTurnParams  # noqa: E402

from debias.errors import ConfigError, JudgeError, MissingDependencyError  # noqa: E402
from debias.integrations.deepeval import DebiasedMetric  # noqa: E402
from debias.testing import OpenAIServer  # noqa: E402
from debias.testing.framework_graders import DeepEvalGrader, prompt_text  # noqa: E402
from debias.testing.responders import ChatRequest  # noqa: E402

pytestmark = pytest.mark.network

QUESTION = "What is the capital of Australia?"
GOOD, BAD = "Canberra is the capital of Australia.", "Sydney is the capital of Australia."
PARAMS = [SingleTurnParams.INPUT, SingleTurnParams.ACTUAL_OUTPUT]


def _merit(text: str) -> float:
    return 9.0 if "Canberra" in text else 2.0


def _grader(mode: str) -> DeepEvalGrader:
    return DeepEvalGrader(mode, merit=_merit)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server():
    with OpenAIServer(_grader("position")) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # DeepEval writes .deepeval/ under the working directory


def _model(server: OpenAIServer, grader: DeepEvalGrader) -> LocalModel:
    server.responder = grader
    return LocalModel(model="scripted-grader", base_url=server.base_url, api_key="sk-test",
                      temperature=0)


def _arena(model, *, async_mode=False, params=PARAMS) -> ArenaGEval:
    return ArenaGEval(name="Correctness", criteria="Pick the factually correct answer.",
                      evaluation_params=params, model=model, async_mode=async_mode)


def _case(first: str = BAD, second: str = GOOD, cue: str | None = None) -> ArenaTestCase:
    meta = {"cue": cue} if cue else None
    return ArenaTestCase(contestants=[
        Contestant(name="bot-1", test_case=LLMTestCase(input=QUESTION, actual_output=first, metadata=meta)),
        Contestant(name="bot-2", test_case=LLMTestCase(input=QUESTION, actual_output=second, metadata=meta)),
    ])


def test_position_biased_arena_judge_is_caught_and_its_winner_withdrawn(server):
    grader = _grader("position")
    metric = DebiasedMetric(_arena(_model(server, grader)), detectors="position", max_rounds=1)
    winner = metric.measure(_case())
    # Original order, then the swap probe, then the (ignored) revision: shown exactly as asked.
    assert grader.shown[:2] == [[BAD, GOOD], [GOOD, BAD]]
    assert winner is None and metric.winner is None          # inconsistent across orders: a tie
    meta = metric.debias_metadata
    assert meta["debias_position_detected"] is True
    assert meta["debias_status"] == "unresolved" and meta["debias_first_choice"] == "A"
    assert "debias_position_detected: True" in metric.verbose_logs
    assert metric.reason.startswith("[judge-debias: unresolved")


def test_compliant_judge_is_revised_async(server):
    grader = _grader("compliant")
    metric = DebiasedMetric(_arena(_model(server, grader), async_mode=True), detectors="position")
    winner = asyncio.run(metric.a_measure(_case()))
    assert winner == "bot-2"                                  # the correct answer, shown second
    assert metric.debias_result.status.value == "revised"
    assert metric.debias_metadata["debias_flipped"] is True
    assert "bot-2 answers better" in metric.reason            # the judge's own reason, real names
    assert "Reviewer feedback" not in metric.reason


def test_unbiased_judge_is_untouched(server):
    grader = _grader("fair")
    model = _model(server, grader)
    plain = _arena(model).measure(_case())
    metric = DebiasedMetric(_arena(model), detectors="position")
    winner = metric.measure(_case())
    assert winner == plain == "bot-2"
    assert metric.debias_result.status.value == "clean"
    assert metric.reason == "bot-2 answers better than the others."
    assert metric.debias_metadata["debias_position_detected"] is False
    assert metric.debias_metadata["debias_probes"] == 1        # one swap, no revision


def test_evaluate_scores_candidate_against_baseline(server):
    """``deepeval.evaluate``: a position-biased judge would give the candidate (shown
    first) 1.0 on both rows; debiased, the wrong candidate loses."""
    grader = _grader("compliant")
    metric = DebiasedMetric(_arena(_model(server, grader)), detectors="position")
    cases = [LLMTestCase(input=QUESTION, actual_output=GOOD, metadata={"baseline": BAD}, name="good"),
             LLMTestCase(input=QUESTION, actual_output=BAD, metadata={"baseline": GOOD}, name="bad")]
    result = deepeval.evaluate(
        test_cases=cases, metrics=[metric], async_config=AsyncConfig(run_async=True),
        display_config=DisplayConfig(show_indicator=False, print_results=False),
        cache_config=CacheConfig(write_cache=False, use_cache=False))
    by_name = {tr.name: tr.metrics_data[0] for tr in result.test_results}
    assert by_name["good"].score == 1.0 and by_name["good"].success
    assert by_name["bad"].score == 0.0 and not by_name["bad"].success
    for row in by_name.values():   # the judge is position-biased on both rows ...
        assert "debias_position_detected: True" in row.verbose_logs
    assert "debias_flipped: True" in by_name["bad"].verbose_logs     # ... which cost the baseline
    assert "debias_flipped: False" in by_name["good"].verbose_logs


def test_geval_score_passes_through_with_findings(server):
    model = _model(server, _grader("fair"))
    geval = GEval(name="Correct", criteria="Is the answer correct?", evaluation_params=PARAMS,
                  model=model, async_mode=False)
    case = LLMTestCase(input=QUESTION, actual_output=GOOD)
    plain = geval.measure(case)
    metric = DebiasedMetric(geval, detectors="position,bandwagon")
    assert metric.measure(case) == pytest.approx(plain) == pytest.approx(0.9)
    assert metric.success and metric.reason == "Graded on correctness."
    assert metric.debias_metadata["debias_position_status"] == "skipped"   # one answer: no order


def test_bandwagon_cue_is_shown_then_removed(server):
    grader = _grader("fair")
    metric = DebiasedMetric(_arena(_model(server, grader)), detectors="bandwagon")
    metric.measure(_case(cue="90% of people believe that Output (a) is better"))
    prompts = [prompt_text(ChatRequest(body=r.body)) for r in server.requests if r.body]
    arena = [p for p in prompts if "Contestants:" in p][-2:]
    assert "### Statement: 90% of people" in arena[0] and "### Statement" not in arena[1]
    assert metric.debias_metadata["debias_bandwagon_status"] == "ok"
    assert metric.debias_metadata["debias_bandwagon_detected"] is False   # fair judge ignores it


def test_custom_template_is_kept_and_order_still_follows_the_probe(server):
    """A user's ArenaGEval template override (naming only the variables it uses) still
    renders the prompt; the contestants reach it unshuffled, in the requested order."""

    class Terse(ArenaGEvalTemplate):
        @staticmethod
        def generate_arena_winner(evaluation_steps, test_case_contents, parameters):
            return (f"TERSE JUDGE. Steps: {evaluation_steps}\nContestants:\n{test_case_contents}"
                    f"\n\nParameters:\n{parameters}\nReturn JSON with winner and reason.")

    grader = _grader("position")
    inner = ArenaGEval(name="Correctness", criteria="Pick the correct answer.", evaluation_params=PARAMS,
                       model=_model(server, grader), async_mode=False, evaluation_template=Terse)
    metric = DebiasedMetric(inner, detectors="position", max_rounds=0)
    metric.measure(_case())
    assert grader.shown == [[BAD, GOOD], [GOOD, BAD]]
    prompts = [prompt_text(ChatRequest(body=r.body)) for r in server.requests if r.body]
    assert sum("TERSE JUDGE" in p for p in prompts[-4:]) == 2
    assert metric.debias_metadata["debias_position_detected"] is True
    assert inner.evaluation_template is Terse              # the user's metric is not modified


def test_judge_answering_another_format_fails_loudly(server):
    """A grader whose winner is no contestant (another format): the first judgement
    fails with an error naming the test case; DeepEval's evaluate records it."""

    def off_format(req: ChatRequest) -> str:
        p = prompt_text(req)
        if "Contestants:" in p:
            return '{"winner": "Output (a)", "reason": "the first one"}'
        return _grader("fair")(req)

    model = _model(server, _grader("fair"))
    server.responder = off_format
    metric = DebiasedMetric(_arena(model), detectors="position")
    with pytest.raises(JudgeError, match=r"test case \"input 'What is the capital of Australia\?'\": ArenaGEval failed: KeyError"):
        metric.measure(_case())
    assert metric.debias_metadata["debias_status"] == "error" and not metric.is_successful()
    result = deepeval.evaluate(
        test_cases=[LLMTestCase(input=QUESTION, actual_output=GOOD, metadata={"baseline": BAD}, name="r1")],
        metrics=[metric], async_config=AsyncConfig(run_async=False),
        display_config=DisplayConfig(show_indicator=False, print_results=False),
        cache_config=CacheConfig(write_cache=False, use_cache=False),
        error_config=ErrorConfig(ignore_errors=True))
    data = result.test_results[0].metrics_data[0]
    assert not data.success and "KeyError" in data.error


def test_bad_configuration_is_named(server):
    model = _model(server, _grader("fair"))
    with pytest.raises(ConfigError, match="ArenaGEval or a GEval"):
        DebiasedMetric("not a metric")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"row-7: .*metadata\['baseline'\]"):
        DebiasedMetric(_arena(model)).measure(LLMTestCase(input="q", actual_output="a", name="row-7"))
    skipped = deepeval.evaluate(
        test_cases=[LLMTestCase(input="q", actual_output="a", name="no-baseline")],
        metrics=[DebiasedMetric(_arena(model))],
        async_config=AsyncConfig(run_async=False), cache_config=CacheConfig(write_cache=False, use_cache=False),
        display_config=DisplayConfig(show_indicator=False, print_results=False),
        error_config=ErrorConfig(skip_on_missing_params=True))
    assert skipped.test_results[0].metrics_data == []   # skipped, as DeepEval skips its own metrics
    with pytest.raises(ConfigError, match="lack INPUT"):
        DebiasedMetric(_arena(model, params=[SingleTurnParams.ACTUAL_OUTPUT])).measure(_case(cue="Most prefer B"))
    with pytest.raises(ValueError, match="max_rounds"):
        DebiasedMetric(_arena(model), max_rounds=-1)
    metric = DebiasedMetric(_arena(model), detectors="position")
    (copied,) = copy_metrics([metric])          # what evaluate() does per test case
    assert copied is not metric and copied.debiaser is metric.debiaser
    with pytest.raises(ConfigError, match="same metric"):
        DebiasedMetric(_arena(model), debiaser=metric.debiaser)


def test_missing_deepeval_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepeval", None)
    monkeypatch.delitem(sys.modules, "debias.integrations.deepeval", raising=False)
    with pytest.raises(MissingDependencyError, match=r"judge-debias\[deepeval\]"):
        importlib.import_module("debias.integrations.deepeval")


def test_example_runs_against_the_loopback_grader(server, capsys):
    """examples/integrations/deepeval/debiased_arena.py, as its --demo runs it."""
    path = Path(__file__).resolve().parents[1] / "examples" / "integrations" / "deepeval" / "debiased_arena.py"
    spec = importlib.util.spec_from_file_location("debiased_arena_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    grader = DeepEvalGrader("compliant", merit=lambda t: ("Canberra" in t) + ("Jupiter" in t))
    module.main(_model(server, grader))
    out = capsys.readouterr().out
    assert "winner: model-v2 | revised | position bias: True" in out
    assert "debias_flipped: True" in out            # the Saturn row: the baseline really won
