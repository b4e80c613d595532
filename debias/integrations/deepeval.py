"""DeepEval adapter: debias an ``ArenaGEval`` (pairwise / multi-contestant) or a ``GEval`` metric.

:class:`DebiasedMetric` is a DeepEval ``BaseMetric`` that runs an inner metric through
the middleware (:class:`~debias.loop.Debiaser`, built by
:mod:`debias.integrations.common`). Every judgement the middleware asks for, first
judgement and counterfactual probes alike, is a fresh copy of the inner metric measured
on a rebuilt test case: contestants in the requested display order, the cue statement
shown or removed, revision feedback added as an extra evaluation step. The debiased
winner/score and reason are set on the metric as DeepEval reads them (``score``,
``reason``, ``success``), the findings go to ``verbose_logs`` (which DeepEval keeps in
its test results) and to :attr:`DebiasedMetric.debias_metadata`.

``ArenaGEval`` shuffles the contestants itself on every call. That spreads position bias
over a test run but leaves each verdict as biased as before, and it makes a
swapped-order probe meaningless. The adapter therefore shows contestants in exactly the
order the middleware requests (a template subclass renders them unshuffled; names stay
masked as DeepEval masks them).

Three ways to use it::

    from debias.integrations.deepeval import DebiasedMetric
    arena = ArenaGEval(name="Helpfulness", criteria="...", evaluation_params=[INPUT, ACTUAL_OUTPUT])
    metric = DebiasedMetric(arena, detectors="position")

    metric.measure(ArenaTestCase(contestants=[...]))      # -> debiased winner name (or None: tie)
    evaluate(test_cases=[LLMTestCase(input=q, actual_output=new,
                                     metadata={"baseline": old})],
             metrics=[metric])                             # score 1 / 0.5 / 0: new beats baseline
    DebiasedMetric(GEval(...)).measure(LLMTestCase(...))   # G-Eval score with findings

A cue (e.g. ``"90% of reviewers prefer Output (b)"``) is read from the test case's
``metadata["cue"]`` (first contestant's for an arena) and shown as a
``### Statement:`` line before the input.

DeepEval sends telemetry by default; set ``DEEPEVAL_TELEMETRY_OPT_OUT=YES`` to stop it.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from debias.errors import ConfigError, JudgeError, VerdictParseError
from debias.integrations.common import (
    DebiasSettings,
    build_debiaser,
    findings_metadata,
    make_item,
    require,
)
from debias.integrations.reasons import debiased_reason, default_label
from debias.judges.base import JudgeRequest
from debias.loop import DEFAULT_DETECTORS, Debiaser
from debias.types import Item, Result, Status, Usage, Verdict

require("deepeval", "deepeval")

from deepeval.errors import MissingTestCaseParamsError  # noqa: E402
from deepeval.metrics import ArenaGEval, BaseMetric, GEval  # noqa: E402
from deepeval.metrics.arena_g_eval.utils import FormattedArenaTestCase  # noqa: E402
from deepeval.metrics.utils import construct_verbose_logs  # noqa: E402
from deepeval.test_case import (  # noqa: E402
    ArenaTestCase,
    Contestant,
    LLMTestCase,
    SingleTurnParams,
)

#: Where the test case's metadata holds the cue statement and the baseline answer.
CUE_KEY = "cue"
BASELINE_KEY = "baseline"
#: Contestant names of an LLMTestCase compared against its baseline.
CANDIDATE_NAME = "actual_output"
BASELINE_NAME = "baseline"


def _render_in_order(case: FormattedArenaTestCase) -> str:
    """DeepEval's contestant block, with contestants in the order given (no shuffle)."""
    data: dict[str, Any] = {}
    if case.input is not None:
        data["input"] = case.input
    if case.expected_output is not None:
        data["expected_output"] = case.expected_output
    real_to_dummy = {real: dummy for dummy, real in case.dummy_to_real_names.items()}
    data["arena_test_cases"] = {real_to_dummy.get(name, name): repr(c)
                                for name, c in case.contestants.items()}
    return json.dumps(data, indent=2)


def ordered_template(base: type) -> type:
    """A subclass of an ArenaGEval template class that shows contestants unshuffled.

    Only ``generate_arena_winner`` changes: its ``test_case_contents`` is rendered in the
    test case's contestant order before the base template (DeepEval's own or the user's
    override) renders the prompt.
    """
    render = base.generate_arena_winner
    params = inspect.signature(render).parameters.values()
    accepted = (None if any(p.kind is p.VAR_KEYWORD for p in params)
                else {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)})

    def generate_arena_winner(**kwargs: Any) -> str:
        contents = kwargs.get("test_case_contents")
        if isinstance(contents, FormattedArenaTestCase):
            kwargs["test_case_contents"] = _render_in_order(contents)
        if accepted is not None:  # an override that names only the variables it uses
            kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        return render(**kwargs)

    return type(f"Ordered{base.__name__}", (base,),
                {"generate_arena_winner": staticmethod(generate_arena_winner)})


@dataclass
class _Case:
    """One measured test case, as the judge callback needs it.

    Attributes:
        names: Contestant names in original order (empty for a G-Eval score).
        cases: The contestants' LLMTestCases (or the one G-Eval test case).
        steps: Evaluation steps, fixed after the first judgement so every probe and
            revision is graded against the same steps.
    """

    names: list[str]
    cases: list[LLMTestCase]
    steps: list[str] | None = None


class MetricJudge:
    """A :class:`~debias.judges.base.Judge` that grades each request with a copy of a metric.

    The copy is measured on a test case rebuilt from the request (contestants in display
    order, the cue shown or not, feedback as an extra evaluation step). Stateless across
    items (per-item state travels in the item's metadata), so one instance, and the
    Debiaser around it, serves every copy DeepEval makes of a :class:`DebiasedMetric`.

    Args:
        metric: The inner ``ArenaGEval`` or ``GEval``.
    """

    def __init__(self, metric: ArenaGEval | GEval) -> None:
        self.metric = metric
        self.is_arena = isinstance(metric, ArenaGEval)
        self.template = ordered_template(metric.evaluation_template) if self.is_arena else None
        self.name = str(metric.evaluation_model or type(metric).__name__)

    def _criteria_step(self) -> list[str]:
        criteria = getattr(self.metric, "criteria", None)
        return [f"Evaluate against these criteria: {criteria}"] if criteria else []

    def _copy(self, request: JudgeRequest) -> tuple[Any, Any]:
        case: _Case = request.item.metadata["deepeval_case"]
        inner = copy.copy(self.metric)
        inner.verbose_mode = False
        steps = case.steps if case.steps is not None else self.metric.evaluation_steps
        steps = list(steps) if steps else None
        if request.feedback is not None:
            note = ("Reviewer feedback on an earlier decision (advice; the decision is yours): "
                    + request.feedback.text)
            steps = [*(steps or self._criteria_step()), note]
        inner.evaluation_steps = steps
        cue = request.item.cue if request.shows_cue else None
        if self.is_arena:
            inner.evaluation_template = self.template
            contestants = [Contestant(name=case.names[i], test_case=_with_cue(case.cases[i], cue))
                           for i in request.order]
            return inner, ArenaTestCase(contestants=contestants)
        return inner, _with_cue(case.cases[0], cue)

    def _verdict(self, request: JudgeRequest, inner: Any, out: Any) -> Verdict:
        case: _Case = request.item.metadata["deepeval_case"]
        if case.steps is None and request.feedback is None:
            case.steps = list(inner.evaluation_steps or [])
        usage = Usage(calls=1, prompt_tokens=inner.input_tokens or 0,
                      completion_tokens=inner.output_tokens or 0,
                      cost=float(inner.evaluation_cost or 0.0))
        base = {"judge": self.name, "order": list(request.order), "with_cue": request.shows_cue,
                "raw": str(inner.reason or ""), "usage": usage}
        if not self.is_arena:
            if out is None:
                raise JudgeError(f"test case {request.item.id!r}: {type(inner).__name__} gave no "
                                 f"score ({inner.error or 'no error recorded'})")
            return Verdict(**base, score=float(out))
        if out not in case.names:
            raise VerdictParseError(f"test case {request.item.id!r}: the judge named winner {out!r}, "
                                    f"not one of the contestants {case.names}", str(out))
        return Verdict(**base, choice=case.names.index(out))

    def _failed(self, request: JudgeRequest, inner: Any, exc: Exception) -> JudgeError:
        return JudgeError(f"test case {request.item.id!r}: {type(inner).__name__} failed: "
                          f"{type(exc).__name__}: {exc}")

    def judge(self, request: JudgeRequest) -> Verdict:
        inner, tc = self._copy(request)
        try:
            out = inner.measure(tc, _show_indicator=False)
        except (JudgeError, MissingTestCaseParamsError):
            raise  # DeepEval's evaluate() skips cases on missing params: keep the type
        except Exception as exc:
            raise self._failed(request, inner, exc) from exc
        return self._verdict(request, inner, out)

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        inner, tc = self._copy(request)
        try:
            out = await inner.a_measure(tc, _show_indicator=False)
        except (JudgeError, MissingTestCaseParamsError):
            raise
        except Exception as exc:
            raise self._failed(request, inner, exc) from exc
        return self._verdict(request, inner, out)


class MissingBaselineError(ConfigError, MissingTestCaseParamsError):
    """An LLMTestCase compared by an ArenaGEval lacks its baseline answer.

    A DeepEval missing-parameters error too, so ``evaluate(...,
    error_config=ErrorConfig(skip_on_missing_params=True))`` skips such test cases.
    """


def _with_cue(tc: LLMTestCase, cue: str | None) -> LLMTestCase:
    if not cue:
        return tc
    return tc.model_copy(update={"input": f"### Statement: {cue}\n\n{tc.input}"})


class DebiasedMetric(BaseMetric):
    """A DeepEval metric that runs ``ArenaGEval`` or ``GEval`` through judge-debias.

    Args:
        metric: The inner metric: an ``ArenaGEval`` (pairwise or 3-10 contestants) or a
            ``GEval`` (one score).
        detectors: Detector names (``"position,bandwagon"`` or a list).
        max_rounds: Revision rounds after the first judgement (0 = detect and aggregate).
        threshold: Pass mark of :attr:`score`; default the G-Eval's own threshold, or 0.5
            for an arena (a candidate that ties its baseline passes).
        cue_key: test case ``metadata`` key holding the cue statement.
        baseline_key: test case ``metadata`` key holding the baseline answer that an
            ``LLMTestCase``'s ``actual_output`` is compared against (arena only).
        strict: Re-raise detector errors instead of recording them as findings.
        verbose_mode: Print the verbose logs (findings included) after measuring.
        debiaser: The Debiaser of another DebiasedMetric around the same metric: DeepEval
            copies a metric per test case (re-calling ``__init__`` with its attributes),
            and the copies share the Debiaser instead of building one each.

    After :meth:`measure` / :meth:`a_measure`: ``score``, ``reason``, ``success`` as DeepEval
    reads them; ``winner`` (arena: the debiased winner's name, None for a tie);
    ``verbose_logs`` with the findings; ``debias_metadata`` (flat findings, see
    :func:`~debias.integrations.common.findings_metadata`) and ``debias_result`` (the full
    :class:`~debias.types.Result`).

    Raises:
        ConfigError: When ``metric`` is neither an ArenaGEval nor a GEval, or a setting
            is invalid (the message names it).
    """

    def __init__(self, metric: ArenaGEval | GEval, *,
                 detectors: Sequence[str] | str = DEFAULT_DETECTORS, max_rounds: int = 2,
                 threshold: float | None = None, cue_key: str = CUE_KEY,
                 baseline_key: str = BASELINE_KEY, strict: bool = False,
                 verbose_mode: bool = False, debiaser: Debiaser | None = None) -> None:
        if not isinstance(metric, ArenaGEval | GEval):
            raise ConfigError(f"DebiasedMetric wraps an ArenaGEval or a GEval metric, got "
                              f"{type(metric).__name__}")
        self.metric = metric
        self.is_arena = isinstance(metric, ArenaGEval)
        self.detectors = detectors
        self.max_rounds = max_rounds
        self.strict = strict
        self.cue_key = cue_key
        self.baseline_key = baseline_key
        self.verbose_mode = verbose_mode
        default = 0.5 if self.is_arena else float(getattr(metric, "threshold", 0.5))
        self.threshold = default if threshold is None else float(threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], got {threshold!r}")
        self.settings = DebiasSettings(detectors=detectors, max_rounds=max_rounds, strict=strict)
        if debiaser is None:
            debiaser = build_debiaser(MetricJudge(metric), self.settings)
        elif not (isinstance(debiaser.judge_, MetricJudge) and debiaser.judge_.metric is metric
                  and debiaser.max_rounds == self.settings.max_rounds):
            raise ConfigError("debiaser= takes the Debiaser of a DebiasedMetric around the same metric "
                              "(DeepEval's copies of the metric pass it on); leave it out otherwise")
        self.debiaser = debiaser
        self.evaluation_model = metric.evaluation_model
        self.async_mode = metric.async_mode
        self.winner: str | None = None
        self.debias_metadata: dict[str, Any] = {}
        self.debias_result: Result | None = None

    @property
    def __name__(self) -> str:  # type: ignore[override]
        return f"{self.metric.__name__} (debiased)"

    # ---------------------------------------------------------------- test case -> item
    def _item(self, test_case: Any) -> tuple[Item, bool]:
        """The item for ``test_case`` and whether it is a candidate-vs-baseline comparison."""
        first = test_case.contestants[0].test_case if isinstance(test_case, ArenaTestCase) else test_case
        name = getattr(test_case, "name", None) or getattr(first, "name", None)
        tid = str(name or f"input {str(getattr(first, 'input', ''))[:50]!r}")
        if isinstance(test_case, ArenaTestCase):
            if not self.is_arena:
                raise ConfigError(f"{tid}: an ArenaTestCase needs an ArenaGEval inner metric, "
                                  f"got {type(self.metric).__name__}")
            names = [c.name for c in test_case.contestants]
            cases = [c.test_case for c in test_case.contestants]
            meta = cases[0].metadata or {}
            return self._make(tid, cases[0].input, names, cases, meta), False
        if not isinstance(test_case, LLMTestCase):
            raise ConfigError(f"{tid}: DebiasedMetric measures an LLMTestCase or an ArenaTestCase, "
                              f"got {type(test_case).__name__}")
        meta = test_case.metadata or {}
        if not self.is_arena:
            return self._make(tid, test_case.input, [], [test_case], meta), False
        if meta.get(self.baseline_key) is None:
            raise MissingBaselineError(f"{tid}: an ArenaGEval compares actual_output with a baseline answer "
                              f"in metadata[{self.baseline_key!r}], which is missing")
        shared = {"input": test_case.input, "expected_output": test_case.expected_output,
                  "context": test_case.context, "retrieval_context": test_case.retrieval_context}
        cases = [LLMTestCase(actual_output=test_case.actual_output, **shared),
                 LLMTestCase(actual_output=str(meta[self.baseline_key]), **shared)]
        return self._make(tid, test_case.input, [CANDIDATE_NAME, BASELINE_NAME], cases, meta), True

    def _make(self, tid: str, instruction: str, names: list[str], cases: list[LLMTestCase],
              meta: dict[str, Any]) -> Item:
        cue = meta.get(self.cue_key)
        if cue and SingleTurnParams.INPUT not in self.metric.evaluation_params:
            raise ConfigError(f"{tid}: metadata[{self.cue_key!r}] holds a cue, but the "
                              "metric's evaluation_params lack INPUT, so the judge would never see it")
        texts = [c.actual_output or "" for c in cases]
        return make_item(instruction or "", texts, item_id=tid, cue=str(cue) if cue else None,
                         metadata={"deepeval_case": _Case(names=names, cases=cases)})

    # ---------------------------------------------------------------- result -> metric state
    def _record(self, item: Item, result: Result, versus_baseline: bool) -> Any:
        self.debias_result = result
        self.debias_metadata = meta = findings_metadata(result)
        case: _Case = item.metadata["deepeval_case"]
        self.evaluation_cost = result.usage.cost if self.metric.using_native_model else None
        self.input_tokens = result.usage.prompt_tokens
        self.output_tokens = result.usage.completion_tokens
        if result.status is Status.ERROR or result.verdict is None:
            self.error = f"judge failed: {result.error or result.stop.value}"
            self.success = False
            self.score = None
            self.reason = None
            self.winner = None
            self._logs(meta, case)
            raise JudgeError(f"{item.id}: {self.error}")
        v = result.verdict
        self.error = None
        self.reason = self._reason(result, case)
        if self.is_arena:
            self.winner = None if v.tie or v.choice is None else case.names[v.choice]
            if versus_baseline:
                self.score = 0.5 if self.winner is None else (1.0 if v.choice == 0 else 0.0)
            else:
                self.score = None
        else:
            self.score = v.score
        self.success = self.score is None or self.score >= self.threshold
        self._logs(meta, case)
        if self.is_arena and not versus_baseline:
            return self.winner
        return self.score

    def _reason(self, result: Result, case: _Case) -> str:
        def label(x: Verdict) -> str:
            if x.choice is not None and not x.tie and case.names:
                return case.names[x.choice]
            return default_label(x)

        return debiased_reason(result, label)

    def _logs(self, meta: dict[str, Any], case: _Case) -> None:
        lines = [f"{k}: {', '.join(map(str, x)) if isinstance(x, list) else x}" for k, x in meta.items()]
        self.verbose_logs = construct_verbose_logs(self, steps=[
            f"Inner metric: {self.metric.__name__}",
            f"Evaluation Steps:\n{json.dumps(case.steps or [], indent=2)}",
            "judge-debias findings:\n" + "\n".join(lines),
            f"Score: {self.score}" + (f" (winner: {self.winner})" if self.is_arena else ""),
            f"Reason: {self.reason}",
        ])

    # ---------------------------------------------------------------- DeepEval API
    def measure(self, test_case: Any, _show_indicator: bool = True, *args: Any, **kwargs: Any) -> Any:
        """Measure ``test_case`` through the middleware.

        Returns:
            For an ``ArenaTestCase``: the debiased winner's name (None for a tie). For an
            ``LLMTestCase``: the score (arena vs baseline: 1.0 won, 0.5 tie, 0.0 lost).

        Raises:
            ConfigError: When the test case does not fit the metric (names what is missing).
            JudgeError: When the first judgement failed.
        """
        item, versus = self._item(test_case)
        return self._record(item, self.debiaser.judge(item), versus)

    async def a_measure(self, test_case: Any, _show_indicator: bool = True, *args: Any,
                        **kwargs: Any) -> Any:
        """Async variant of :meth:`measure` (probes run concurrently)."""
        item, versus = self._item(test_case)
        return self._record(item, await self.debiaser.ajudge(item), versus)

    def is_successful(self) -> bool:
        """Whether the last measurement passed (False after an error)."""
        if self.error is not None:
            return False
        return bool(self.success)


__all__ = ["BASELINE_KEY", "CUE_KEY", "DebiasedMetric", "MetricJudge", "MissingBaselineError", "ordered_template"]
