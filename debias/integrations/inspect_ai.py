"""Inspect AI adapter (``pip install "judge-debias[inspect]"``).

Three pieces, all thin layers over :mod:`debias.integrations.common`:

- :func:`debiased` wraps a model-graded scorer (a pairwise one such as
  :func:`pairwise_grader`, or a single-answer grader such as ``model_graded_qa``) and
  runs it through the middleware. Probes are re-graded *copies* of the task state
  (candidates swapped, cue blanked, revision feedback added); the returned
  :class:`~inspect_ai.scorer.Score` is the debiased one, with the findings in
  ``Score.metadata`` (``debias_status``, ``debias_position_detected``, ...)::

      from debias.integrations.inspect_ai import debiased, pairwise_grader, win_rate
      Task(dataset=..., solver=generate(), scorer=debiased(pairwise_grader(),
           detectors="position,bandwagon"))

- The ``debias`` model provider: ``--model-role grader=debias/openai/gpt-4o-mini`` makes
  the grader a debiased judge (pairwise/choice prompts in judge-debias's format are
  probed and revised; other prompts pass through to the inner model untouched). See
  :mod:`debias.integrations.inspect_provider`.

- The answer-order permutation helper asked for in inspect_ai #4304:
  :func:`permute_choices` turns a multiple-choice dataset into cyclic rotations (the
  correct answer visits every position) and :func:`order_consistency` reads the log back
  and reports whether correctness depends on where the answer was shown.

Inspect is imported lazily; without it every entry point raises
:class:`~debias.errors.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from debias.errors import ConfigError, JudgeError
from debias.integrations.common import (
    DebiasSettings,
    RequestJudge,
    build_debiaser,
    choice_letter,
    findings_metadata,
    make_item,
    require,
)
from debias.judges.base import JudgeRequest
from debias.judges.prompts import Templates, render_task
from debias.ordering import displayed, slot_letter
from debias.parsing import TIE, parse_choice
from debias.types import Result, Status

if TYPE_CHECKING:  # pragma: no cover
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import Metric, Score, Scorer, Target
    from inspect_ai.solver import TaskState

EXTRA = "inspect"
#: A candidate source naming the evaluated model's own answer (``state.output.completion``).
OUTPUT = "output"
#: Metadata keys the permutation helper writes on each rotated sample.
ORIGINAL_ID, ROTATION, TARGET_POSITION = "debias_original_id", "debias_rotation", "debias_target_position"


def _ia() -> Any:
    return require("inspect_ai", EXTRA)


def _scorer_mod() -> Any:
    return require("inspect_ai.scorer", EXTRA)


class StateView(BaseModel):
    """Where a sample's candidates and cue live in the task state.

    Attributes:
        candidates: A metadata key holding the list of candidates (original numbering),
            or one source per candidate, each a metadata key or ``"output"`` (the model's
            completion), e.g. ``("output", "baseline")`` compares the model's answer with a
            baseline stored in the sample metadata.
        cue: Metadata key of the cue (a statement a biased grader may follow); None: no cue.
        feedback: Metadata key under which revision feedback is put for the grader
            (empty string on first judgements).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    candidates: str | tuple[str, ...] = "candidates"
    cue: str | None = "cue"
    feedback: str = "debias_feedback"

    @field_validator("candidates", mode="before")
    @classmethod
    def _sources(cls, v: Any) -> Any:
        if isinstance(v, list):
            v = tuple(v)
        if isinstance(v, tuple) and not 1 <= len(v) <= 10:
            raise ValueError(f"candidates: give 1-10 sources, got {len(v)}")
        if isinstance(v, str) and v == OUTPUT:
            return (OUTPUT,)
        return v

    def read(self, state: TaskState) -> tuple[str, list[str], str | None]:
        """The instruction, candidates (original numbering) and cue of a state.

        Raises:
            ConfigError: Naming the sample and the key when candidates are missing.
        """
        meta = state.metadata or {}
        sid = state.sample_id
        if isinstance(self.candidates, str):
            cands = meta.get(self.candidates)
            if not isinstance(cands, list | tuple) or not cands:
                raise ConfigError(f"sample {sid!r}: metadata[{self.candidates!r}] should hold the "
                                  f"list of candidates, got {type(cands).__name__}")
            texts = [str(c) for c in cands]
        else:
            texts = []
            for src in self.candidates:
                if src == OUTPUT:
                    texts.append(state.output.completion if state.output else "")
                elif src in meta:
                    texts.append(str(meta[src]))
                else:
                    raise ConfigError(f"sample {sid!r}: candidate source metadata[{src!r}] is missing")
        cue = meta.get(self.cue) if self.cue else None
        return state.input_text, texts, (str(cue) if cue else None)

    def present(self, state: TaskState, request: JudgeRequest) -> TaskState:
        """A re-graded copy of ``state`` showing the request: candidates in display order,
        the cue blanked when not shown, the feedback under :attr:`feedback`."""
        shown = displayed(request.item.candidates, request.order)
        new = copy.copy(state)
        meta = dict(state.metadata or {})
        if isinstance(self.candidates, str):
            meta[self.candidates] = shown
        else:
            for src, text in zip(self.candidates, shown, strict=True):
                if src == OUTPUT:
                    model_output = _ia().model.ModelOutput
                    model = state.output.model if state.output else "unknown"
                    new.output = model_output.from_content(model=model, content=text)
                else:
                    meta[src] = text
        if self.cue and not request.shows_cue:
            meta[self.cue] = ""
        meta[self.feedback] = request.feedback.text if request.feedback is not None else ""
        new.metadata = meta
        return new


def _answer(score: Score, task: str) -> Any:
    """A grader's score as the judge answer: a display letter / slot, or a float."""
    value = score.answer if score.answer not in (None, "") else score.value
    if task == "score":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return float(_scorer_mod().value_to_float()(score.value))
    if isinstance(value, bool):
        raise JudgeError(f"pairwise grader returned a boolean score ({value}); it should name a "
                         "candidate (\"A\"/\"B\"/\"tie\") in Score.answer or Score.value")
    if isinstance(value, float) and task == "pairwise":  # a preference value, see preference_value
        by_value = {1.0: "A", 0.0: "B", 0.5: "tie"}
        if value not in by_value:
            raise JudgeError(f"pairwise grader returned value {value}; expected 1 (first shown "
                             "wins), 0 (second) or 0.5 (tie), or a letter in Score.answer")
        return by_value[value]
    return value


def _key(order: Sequence[int], with_cue: bool, feedback: str | None) -> tuple[Any, ...]:
    return tuple(order), with_cue, feedback


def _round_score(result: Result, scores: dict[tuple[Any, ...], Score]) -> Score | None:
    """The inner Score of the round whose verdict is final (None for an aggregate)."""
    feedback: str | None = None
    for rnd in result.rounds:
        if result.verdict is rnd.verdict:
            return scores.get(_key(rnd.verdict.order, rnd.verdict.with_cue, feedback))
        feedback = rnd.feedback.text if rnd.feedback is not None else None
    return None


def _name(inner: Any) -> str:
    registry = require("inspect_ai._util.registry", EXTRA)
    if registry.is_registry_object(inner):
        return str(registry.registry_unqualified_name(inner))
    return str(getattr(inner, "__name__", "scorer"))


def debiased(inner: Scorer, *, view: StateView | None = None,
             settings: DebiasSettings | None = None, task: str | None = None,
             value_map: dict[str, Any] | None = None, name: str | None = None,
             **overrides: Any) -> Scorer:
    """Run a model-graded scorer through the middleware.

    Each sample is judged by ``inner`` on the state as it is, then on re-graded copies
    the detectors ask for (candidates swapped/rotated, cue blanked), and re-graded with
    feedback when bias is found. ``inner`` must name the preferred candidate in
    ``Score.answer`` or ``Score.value`` (``"A"``, ``"Output (b)"``, ``"tie"``, an int
    slot) for pairwise/choice tasks, or give a gradeable value (number, ``C``/``P``/``I``)
    for single-answer tasks.

    Returned score: the inner Score of the round whose verdict stands (so an unbiased
    grader's score is untouched), or, when the middleware aggregated several orders, a
    new Score with ``answer`` the letter (``"A"``, ``"tie"``) and ``value``
    ``value_map[letter]``, else the letter when the inner scorer's values are strings,
    else :func:`preference_value` (1 = the first candidate wins, 0.5 tie, 0 otherwise).
    Either way ``Score.metadata`` carries the findings
    (:func:`~debias.integrations.common.findings_metadata`). A grader failure gives an
    unscored Score with the error in its reason and metadata.

    Args:
        inner: The Inspect scorer to debias.
        view: Where candidates and cue live in the state (default: ``metadata["candidates"]``
            and ``metadata["cue"]``).
        settings: Detectors and rounds; keyword ``overrides`` (``detectors=``,
            ``max_rounds=``) are applied on top.
        task: ``pairwise``, ``choice`` or ``score`` (default: from the candidate count).
        value_map: Score value per debiased letter for aggregated verdicts.
        name: Scorer name (default ``debiased_<inner>``).
    """
    scorer_mod = _scorer_mod()
    view = view or StateView()
    settings = settings or DebiasSettings()
    if overrides:
        settings = DebiasSettings(**{**settings.model_dump(), **overrides})
    inner_name = _name(inner)
    registry = require("inspect_ai._util.registry", EXTRA)
    metrics = (require("inspect_ai.scorer._scorer", EXTRA).scorer_metrics(inner)
               if registry.is_registry_object(inner) else [scorer_mod.mean()])

    @scorer_mod.scorer(metrics=metrics, name=name or f"debiased_{inner_name}")
    def debiased_scorer() -> Scorer:
        async def score(state: TaskState, target: Target) -> Score:
            instruction, cands, cue = view.read(state)
            item = make_item(instruction, cands, item_id=str(state.sample_id), cue=cue, task=task)
            scores: dict[tuple[Any, ...], Score] = {}

            async def grade(request: JudgeRequest) -> Any:
                got = await inner(view.present(state, request), target)
                if got is None:
                    raise JudgeError(f"scorer {inner_name!r} returned no score for sample "
                                     f"{state.sample_id!r}")
                fb = request.feedback.text if request.feedback is not None else None
                scores[_key(request.order, request.shows_cue, fb)] = got
                return _answer(got, item.task)

            debiaser = build_debiaser(RequestJudge(grade, name=inner_name), settings)
            result = await debiaser.ajudge(item)
            return to_score(result, scores, value_map)

        return score

    return debiased_scorer()


def to_score(result: Result, scores: dict[tuple[Any, ...], Score],
             value_map: dict[str, Any] | None = None) -> Score:
    """The debiased Inspect Score of a result (see :func:`debiased`)."""
    score_cls = _scorer_mod().Score
    meta = findings_metadata(result)
    first_verdict = result.rounds[0].verdict if result.rounds else None
    first = (scores.get(_key(first_verdict.order, first_verdict.with_cue, None))
             if first_verdict is not None else None)
    base_meta = dict(first.metadata or {}) if first is not None else {}
    if result.status is Status.ERROR or result.verdict is None:
        return score_cls.unscored(reason=f"judge failed: {result.error}",
                                  metadata={**base_meta, **meta})
    src = _round_score(result, scores)
    if src is not None:
        return src.model_copy(update={"metadata": {**(src.metadata or {}), **meta}})
    verdict = result.verdict
    if verdict.score is not None:
        value: Any = verdict.score
        answer = f"{verdict.score:g}"
    else:
        answer = choice_letter(verdict) or "tie"
        if value_map is not None:
            value = value_map.get(answer, answer)
        elif first is not None and isinstance(first.value, str):
            value = answer
        else:
            value = preference_value(answer)
    first_expl = first.explanation if first is not None and first.explanation else ""
    explanation = (f"judge-debias: {result.stop.value}; {verdict.raw}"
                   + (f"\n\nfirst grading: {first_expl}" if first_expl else ""))
    return score_cls(value=value, answer=answer, explanation=explanation,
                     metadata={**base_meta, **meta})


# ---------------------------------------------------------------- a pairwise grader
def pairwise_grader(*, view: StateView | None = None, templates: Templates | None = None,
                    model: str | None = None, model_role: str = "grader",
                    name: str = "pairwise_grader") -> Scorer:
    """A model-graded pairwise (or multiple-choice) scorer.

    Renders the candidates of the state (see :class:`StateView`) with judge-debias's
    judge prompt (``### Instruction`` / ``### Statement`` / ``### Output (a)``),
    appends revision feedback when the state carries some, asks the grader model
    (``model``, else the ``model_role`` role, else the evaluated model) and returns
    ``Score(answer=letter, value=preference_value(letter))`` where the letter names the
    DISPLAY slot (``"A"``, ``"B"``, ... or ``"tie"``) and the value is 1 when the first
    candidate wins (0.5 tie, else 0), so the mean is the first candidate's win rate.
    Undebiased on its own; wrap it in
    :func:`debiased`, or point the grader role at the ``debias/`` provider.
    """
    ia = _ia()
    scorer_mod = _scorer_mod()
    view = view or StateView()
    templates = templates or Templates()

    @scorer_mod.scorer(metrics=[win_rate()], name=name)
    def grader() -> Scorer:
        async def score(state: TaskState, target: Target) -> Score:
            instruction, cands, cue = view.read(state)
            item = make_item(instruction, cands, item_id=str(state.sample_id), cue=cue)
            if item.task == "score":
                raise ConfigError(f"sample {state.sample_id!r}: pairwise_grader needs 2+ candidates")
            request = JudgeRequest.first(item)
            prompt = render_task(request, templates)
            feedback = (state.metadata or {}).get(view.feedback)
            if feedback:
                prompt = (f"{prompt}\n\n### Reviewer feedback on an earlier decision:\n{feedback}\n\n"
                          "Decide again, in the same format.")
            grader_model = ia.model.get_model(model, role=model_role if model is None else None)
            out = await grader_model.generate([ia.model.ChatMessageSystem(content=templates.system),
                                               ia.model.ChatMessageUser(content=prompt)])
            text = out.completion
            try:
                slot = parse_choice(text, item.n)
            except JudgeError as exc:
                return scorer_mod.Score.unscored(reason=f"unparseable grader reply: {exc}",
                                                 explanation=text)
            letter = "tie" if slot == TIE else slot_letter(int(slot)).upper()
            return scorer_mod.Score(value=preference_value(letter), answer=letter, explanation=text)

        return score

    return grader()


def preference_value(letter: str) -> float:
    """Pairwise score value of a decision letter: 1.0 for ``"A"`` (the first candidate
    wins), 0.5 for ``"tie"``, 0.0 otherwise (numeric, so Inspect's reducers keep it)."""
    return 1.0 if letter == "A" else 0.5 if letter == "tie" else 0.0


def win_rate() -> Metric:
    """Mean pairwise value: the first candidate's win rate, ties counting half."""
    scorer_mod = _scorer_mod()

    @scorer_mod.metric(name="win_rate")
    def win_rate_metric() -> Metric:
        def compute(scores: list[Any]) -> float:
            values = [s.score.as_float() for s in scores]
            return sum(values) / len(values) if values else 0.0

        return compute

    return win_rate_metric()


# ------------------------------------------------- answer-order permutation (#4304)
def permute_choices(samples: Iterable[Sample], *, rotations: int | None = None) -> list[Sample]:
    """Cyclic rotations of multiple-choice samples: the correct answer visits every position.

    Sample ``s`` with n choices becomes n samples ``s@rot0`` ... ``s@rot{n-1}`` (or the
    first ``rotations``): rotation k shows ``choices[k:] + choices[:k]``, its target
    letters remapped; metadata gains ``debias_original_id``, ``debias_rotation`` and
    ``debias_target_position`` (0-based position of the first target). Run the task on
    the result and read the log with :func:`order_consistency`.

    Raises:
        ConfigError: Naming the sample when it has no choices or a target that is not a
            choice letter.
    """
    sample_cls = _ia().dataset.Sample
    out = []
    for idx, s in enumerate(samples):
        sid = s.id if s.id is not None else idx + 1
        if not s.choices or len(s.choices) < 2:
            raise ConfigError(f"sample {sid!r}: permute_choices needs 2+ choices")
        n = len(s.choices)
        targets = [s.target] if isinstance(s.target, str) else list(s.target)
        idxs = []
        for t in targets:
            t = t.strip().upper()
            if len(t) != 1 or not 0 <= ord(t) - ord("A") < n:
                raise ConfigError(f"sample {sid!r}: target {t!r} is not one of the {n} choice letters")
            idxs.append(ord(t) - ord("A"))
        for k in range(min(n, rotations or n)):
            choices = list(s.choices[k:]) + list(s.choices[:k])
            new_idx = [(i - k) % n for i in idxs]
            letters = [chr(ord("A") + i) for i in new_idx]
            meta = {**(s.metadata or {}), ORIGINAL_ID: sid, ROTATION: k, TARGET_POSITION: new_idx[0]}
            out.append(sample_cls(input=s.input, choices=choices,
                                  target=letters[0] if isinstance(s.target, str) else letters,
                                  id=f"{sid}@rot{k}", metadata=meta, sandbox=s.sandbox,
                                  files=s.files, setup=s.setup))
    return out


class OrderReport(BaseModel):
    """Does correctness depend on where the answer is shown?

    Attributes:
        scorer: Scorer read from the log.
        questions: Original samples found with 2+ rotations.
        consistent: Share of questions scored the same in every rotation.
        accuracy_by_position: Accuracy per 0-based position of the correct answer.
        picks_by_position: How often each answer position was picked (from
            ``Score.answer`` letters), as shares.
        spread: Max minus min of ``accuracy_by_position``.
        threshold: Spread above which ``flagged`` is set.
        flagged: Whether the spread exceeds the threshold.
        inconsistent_ids: Original ids scored differently across rotations.
    """

    scorer: str
    questions: int
    consistent: float
    accuracy_by_position: dict[int, float]
    picks_by_position: dict[int, float] = Field(default_factory=dict)
    spread: float
    threshold: float
    flagged: bool
    inconsistent_ids: list[str] = Field(default_factory=list)


def order_consistency(log_or_samples: Any, *, scorer: str | None = None,
                      threshold: float = 0.1) -> OrderReport:
    """Read back a run of :func:`permute_choices` samples (an ``EvalLog``, its path, or
    its ``samples``) and report position dependence of the scores.

    Raises:
        ConfigError: When the log has no rotated samples or lacks the scorer.
    """
    ia = _ia()
    if isinstance(log_or_samples, str):
        log_or_samples = ia.log.read_eval_log(log_or_samples)
    samples = getattr(log_or_samples, "samples", log_or_samples) or []
    to_float = _scorer_mod().value_to_float()
    groups: dict[str, list[tuple[int, float, str | None]]] = defaultdict(list)
    used = scorer
    for s in samples:
        meta = s.metadata or {}
        if ORIGINAL_ID not in meta:
            continue
        if not s.scores:
            raise ConfigError(f"sample {s.id!r} has no scores")
        used = used or next(iter(s.scores))
        if used not in s.scores:
            raise ConfigError(f"sample {s.id!r} has no score from scorer {used!r}; "
                              f"it has {sorted(s.scores)}")
        sc = s.scores[used]
        groups[str(meta[ORIGINAL_ID])].append((int(meta[TARGET_POSITION]), float(to_float(sc.value)),
                                               sc.answer))
    groups = {k: v for k, v in groups.items() if len(v) >= 2}
    if not groups:
        raise ConfigError("no question with 2+ rotations in the log: run the task on "
                          "permute_choices(...) samples")
    by_pos: dict[int, list[float]] = defaultdict(list)
    picks: dict[int, int] = defaultdict(int)
    n_picks = 0
    inconsistent = []
    for oid, rows in groups.items():
        if len({v for _, v, _ in rows}) > 1:
            inconsistent.append(oid)
        for pos, v, answer in rows:
            by_pos[pos].append(v)
            if answer and len(answer.strip()) == 1 and answer.strip().isalpha():
                picks[ord(answer.strip().upper()) - ord("A")] += 1
                n_picks += 1
    acc = {p: sum(v) / len(v) for p, v in sorted(by_pos.items())}
    spread = max(acc.values()) - min(acc.values())
    return OrderReport(
        scorer=str(used), questions=len(groups), consistent=1 - len(inconsistent) / len(groups),
        accuracy_by_position=acc,
        picks_by_position={p: c / n_picks for p, c in sorted(picks.items())} if n_picks else {},
        spread=spread, threshold=threshold, flagged=spread > threshold,
        inconsistent_ids=sorted(inconsistent))


def register_provider() -> None:
    """Register the ``debias/`` model provider with Inspect (done automatically through
    the ``inspect_ai`` entry point when judge-debias is installed)."""
    _ia()
    require("debias.integrations.inspect_provider", EXTRA)


__all__ = [
    "OUTPUT",
    "OrderReport",
    "StateView",
    "debiased",
    "order_consistency",
    "pairwise_grader",
    "permute_choices",
    "preference_value",
    "register_provider",
    "to_score",
    "win_rate",
]
