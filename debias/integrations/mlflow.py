"""MLflow (>= 3) adapter: a debiased pairwise scorer for ``mlflow.genai.evaluate``.

:func:`debiased_scorer` turns a pairwise judge into an MLflow ``Scorer`` that runs every
row through the middleware (:class:`~debias.loop.Debiaser`, built by
:mod:`debias.integrations.common`) and returns a ``Feedback``: the debiased value, the
judge's reason (prefixed by what the middleware changed) as its rationale, and the
findings (flat ``debias_*`` keys) in its metadata, where the MLflow UI and
``result.result_df`` show them.

The judge is either a pairwise judge function ``judge(question, answer_a, answer_b) ->
"A" | "B" | "tie"`` (anything :func:`~debias.integrations.common.to_judge` takes), or an
MLflow judge built with ``mlflow.genai.judges.make_judge`` (:func:`debiased_judge`). The
middleware calls it once per display order and cue setting it needs (first judgement,
swapped order, cue removed, revision with feedback).

A row is read as: the question from ``inputs`` (a string, or ``inputs["question"]``), the
candidate from ``outputs``, the answer it competes with from
``expectations["baseline"]``, and an optional cue from ``inputs["cue"]``; ``outputs`` may
instead be a list of 2-10 candidates. The value is the candidate's debiased win score
against the baseline (1.0 won, 0.5 tie, 0.0 lost; the mean over rows is a win rate),
or, for a list of candidates, the debiased choice letter (``"A"``, ..., ``"tie"``)::

    from debias.integrations.mlflow import debiased_judge, debiased_scorer

    @debiased_scorer(detectors="position")
    def preference(question, answer_a, answer_b):
        return call_my_model(question, answer_a, answer_b)      # "A" or "B"

    judge = make_judge(name="preference", model="openai:/gpt-4o-mini",
                       instructions="Which answer in {{ outputs }} answers {{ inputs }} "
                                    "better? Answer A or B.",
                       feedback_value_type=Literal["A", "B", "tie"])
    mlflow.genai.evaluate(data=rows, scorers=[preference, debiased_judge(judge)])

A ``make_judge`` judge gets the row's own ``inputs`` (without the cue key; plus
``"statement"`` when the cue is shown and ``"reviewer_feedback"`` in a revision round),
the row's other ``expectations`` (without the baseline), and ``outputs={"A": ..., "B":
...}`` in display order; its instructions should ask for the letter of the better answer.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from typing import Any

from debias.errors import ConfigError, VerdictParseError
from debias.integrations.common import (
    DebiasSettings,
    JudgeLike,
    build_debiaser,
    choice_letter,
    findings_metadata,
    make_item,
    require,
    to_judge,
)
from debias.integrations.reasons import debiased_reason
from debias.judges.base import Judge, JudgeRequest
from debias.loop import DEFAULT_DETECTORS, Debiaser
from debias.ordering import displayed, slot_letter, to_original
from debias.parsing import TIE, parse_choice
from debias.types import Item, Status, Usage, Verdict

require("mlflow", "mlflow")

from mlflow.entities import AssessmentSource, Feedback  # noqa: E402
from mlflow.genai.judges.base import Judge as MlflowJudge  # noqa: E402
from mlflow.genai.scorers import Scorer, scorer  # noqa: E402

QUESTION_KEY = "question"
BASELINE_KEY = "baseline"
CUE_KEY = "cue"
#: Item metadata key holding the row's own inputs/expectations (for MLflow judges).
ROW_KEY = "mlflow_row"


class MlflowJudgeAdapter:
    """A :class:`~debias.judges.base.Judge` backed by an MLflow judge (``make_judge``).

    Each request becomes one call ``judge(inputs=..., outputs=..., expectations=...)``:
    ``inputs`` is the row's inputs (or ``{"question": ...}``) plus ``statement`` when the
    cue is shown and ``reviewer_feedback`` in a revision round; ``outputs`` maps display
    letters ``"A"``, ``"B"``, ... to the candidates in display order; ``expectations`` are
    the row's other expectations, when there are any. The feedback value is read like any judge reply
    (``"A"``, ``"Output (b)"``, ``"tie"``); its rationale becomes the verdict's text.

    Args:
        judge: The MLflow judge.
    """

    def __init__(self, judge: MlflowJudge) -> None:
        self.mlflow_judge = judge
        self.name = str(getattr(judge, "model", None) or judge.name)

    def judge(self, request: JudgeRequest) -> Verdict:
        item = request.item
        row = item.metadata.get(ROW_KEY) or {}
        original = row.get("inputs")
        inputs: Any = dict(original) if isinstance(original, dict) else {"question": item.instruction}
        if request.shows_cue and item.cue:
            inputs["statement"] = item.cue
        if request.feedback is not None:
            inputs["reviewer_feedback"] = request.feedback.text
        if isinstance(original, str) and set(inputs) == {"question"}:
            inputs = original  # nothing added: the judge sees the row's inputs as they are
        cands = displayed(item.candidates, request.order)
        outputs = {slot_letter(s).upper(): c for s, c in enumerate(cands)}
        kwargs: dict[str, Any] = {"inputs": inputs, "outputs": outputs}
        if row.get("expectations"):
            kwargs["expectations"] = row["expectations"]
        fb = self.mlflow_judge(**kwargs)
        if fb.error is not None:
            raise VerdictParseError(f"row {item.id!r}: MLflow judge {self.mlflow_judge.name!r} failed: "
                                    f"{fb.error.error_message}", "")
        value = fb.value
        if isinstance(value, bool) or value is None:
            raise VerdictParseError(f"row {item.id!r}: MLflow judge {self.mlflow_judge.name!r} returned "
                                    f"{value!r}; a pairwise judge must answer a letter such as 'A' or 'B'",
                                    str(value))
        meta = fb.metadata or {}
        usage = Usage(calls=1, prompt_tokens=int(meta.get("mlflow.assessment.judgeInputTokens") or 0),
                      completion_tokens=int(meta.get("mlflow.assessment.judgeOutputTokens") or 0))
        slot = parse_choice(str(value), item.n)
        base = {"judge": self.name, "order": list(request.order), "with_cue": request.shows_cue,
                "raw": fb.rationale or str(value), "usage": usage}
        if slot == TIE:
            return Verdict(**base, tie=True)
        return Verdict(**base, choice=to_original(request.order, slot))

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        return await asyncio.to_thread(self.judge, request)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


class RowReader:
    """Reads an MLflow evaluation row (``inputs``, ``outputs``, ``expectations``) as an item.

    Args:
        question_key: Key of the question when ``inputs`` is a dict.
        baseline_key: Key of the baseline answer in ``expectations``.
        cue_key: Key of an optional cue statement in ``inputs``.
    """

    def __init__(self, question_key: str = QUESTION_KEY, baseline_key: str = BASELINE_KEY,
                 cue_key: str = CUE_KEY) -> None:
        self.question_key = question_key
        self.baseline_key = baseline_key
        self.cue_key = cue_key

    def __call__(self, inputs: Any, outputs: Any, expectations: Any) -> tuple[Item, bool]:
        """The item and whether it compares ``outputs`` with a baseline (else: a list)."""
        cue = None
        rest: Any = inputs
        if isinstance(inputs, dict):
            cue = inputs.get(self.cue_key)
            rest = {k: v for k, v in inputs.items() if k != self.cue_key}
            question = rest.get(self.question_key)
            if question is None:
                question = next(iter(rest.values())) if len(rest) == 1 else _text(rest)
        else:
            question = inputs
        question = _text(question if question is not None else "")
        row = f"row {question[:60]!r}"
        if isinstance(outputs, list | tuple):
            cands, versus = [_text(o) for o in outputs], False
            if not 2 <= len(cands) <= 10:
                raise ConfigError(f"{row}: outputs holds {len(cands)} candidates; give 2-10, or one "
                                  f"output and expectations[{self.baseline_key!r}]")
        else:
            baseline = (expectations or {}).get(self.baseline_key) if isinstance(expectations, dict) else None
            if baseline is None:
                raise ConfigError(f"{row}: a pairwise scorer compares outputs with "
                                  f"expectations[{self.baseline_key!r}], which is missing")
            cands, versus = [_text(outputs), _text(baseline)], True
        other = ({k: v for k, v in expectations.items() if k != self.baseline_key}
                 if isinstance(expectations, dict) else None)
        return make_item(question, cands, item_id=question[:60] or "row", cue=str(cue) if cue else None,
                         metadata={ROW_KEY: {"inputs": rest, "expectations": other or None}}), versus


def _feedback(debiaser: Debiaser, reader: RowReader, name: str, source_id: str, inputs: Any,
              outputs: Any, expectations: Any) -> Feedback:
    item, versus = reader(inputs, outputs, expectations)
    result = debiaser.judge(item)
    meta = findings_metadata(result, stringify=True)
    source = AssessmentSource(source_type="LLM_JUDGE", source_id=source_id)
    if result.status is Status.ERROR or result.verdict is None:
        return Feedback(name=name, error=f"judge failed: {result.error or result.stop.value}",
                        source=source, metadata=meta)
    v = result.verdict
    value: float | str
    if versus:
        value = 0.5 if v.tie or v.choice is None else (1.0 if v.choice == 0 else 0.0)
    else:
        value = choice_letter(v) or "tie"
    return Feedback(name=name, value=value, rationale=debiased_reason(result), source=source,
                    metadata=meta)


def debiased_scorer(judge: JudgeLike | MlflowJudge | None = None, *, name: str | None = None,
                    detectors: Sequence[str] | str = DEFAULT_DETECTORS, max_rounds: int = 2,
                    strict: bool = False, question_key: str = QUESTION_KEY,
                    baseline_key: str = BASELINE_KEY, cue_key: str = CUE_KEY,
                    aggregations: list[Any] | None = None) -> Any:
    """An MLflow scorer that judges each row through judge-debias.

    Usable as a decorator (``@debiased_scorer`` or ``@debiased_scorer(detectors=...)``)
    on a pairwise judge function, or called on a judge, a judge spec, or an MLflow judge.

    Args:
        judge: Pairwise judge function ``(question, answer_a, answer_b) -> "A"|"B"|"tie"``,
            a :class:`~debias.judges.base.Judge`, a judge spec, or a ``make_judge`` judge.
        name: Scorer name (default: the function's or MLflow judge's name).
        detectors: Detector names (``"position,bandwagon"`` or a list).
        max_rounds: Revision rounds after the first judgement (0 = detect and aggregate).
        strict: Re-raise detector errors instead of recording them as findings.
        question_key: Key of the question in a dict ``inputs``.
        baseline_key: Key of the baseline answer in ``expectations``.
        cue_key: Key of an optional cue statement in ``inputs``.
        aggregations: MLflow aggregations of the value (default MLflow's: mean).

    Returns:
        An MLflow ``Scorer`` returning ``Feedback`` (or, without ``judge``, a decorator).

    Raises:
        ConfigError: When a setting is invalid (the message names it).
    """
    if judge is None:
        return functools.partial(debiased_scorer, name=name, detectors=detectors,
                                 max_rounds=max_rounds, strict=strict, question_key=question_key,
                                 baseline_key=baseline_key, cue_key=cue_key, aggregations=aggregations)
    core: Judge
    if isinstance(judge, MlflowJudge):
        core = MlflowJudgeAdapter(judge)
        scorer_name = name or judge.name
    else:
        core = to_judge(judge)
        scorer_name = name or getattr(judge, "__name__", None) or core.name
    settings = DebiasSettings(detectors=detectors, max_rounds=max_rounds, strict=strict)
    debiaser = build_debiaser(core, settings)
    reader = RowReader(question_key, baseline_key, cue_key)
    run = functools.partial(_feedback, debiaser, reader, scorer_name, core.name)

    def debiased(inputs: Any, outputs: Any, expectations: Any = None) -> Feedback:
        return run(inputs, outputs, expectations)

    made: Scorer = scorer(debiased, name=scorer_name, aggregations=aggregations)
    return made


def debiased_judge(judge: MlflowJudge, **options: Any) -> Any:
    """:func:`debiased_scorer` for a ``make_judge`` judge (same options).

    Raises:
        ConfigError: When ``judge`` is not an MLflow judge.
    """
    if not isinstance(judge, MlflowJudge):
        raise ConfigError(f"debiased_judge wraps an MLflow judge (make_judge), got {type(judge).__name__}; "
                          "use debiased_scorer for a judge function")
    return debiased_scorer(judge, **options)


__all__ = ["BASELINE_KEY", "CUE_KEY", "QUESTION_KEY", "MlflowJudgeAdapter", "RowReader",
           "debiased_judge", "debiased_scorer"]
