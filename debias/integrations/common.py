"""The shared thin layer under every framework adapter.

An adapter does three things, all of them here so no adapter carries its own copy:

1. turn the framework's judge into a :class:`~debias.judges.base.Judge`
   (:func:`to_judge` for a judge function or spec, :class:`RequestJudge` for a callback
   that re-grades one probe request, :func:`chat_judge` for a "messages in, text out"
   grader model with our or the framework's grading prompt);
2. run :class:`~debias.loop.Debiaser` on an :class:`~debias.types.Item`
   (:func:`build_debiaser` from validated :class:`DebiasSettings`, :func:`make_item`);
3. turn the :class:`~debias.types.Result` into what the framework shows: the decision
   (:func:`answer_of`, :func:`choice_letter`) and a flat metadata dict of findings
   (:func:`findings_metadata`).

Frameworks are imported lazily with :func:`require`, which names the extra to install.

>>> from debias.integrations.common import build_debiaser, make_item, findings_metadata
>>> def first_slot(instruction, a, b):            # a judge that always picks the first slot
...     return "A"
>>> debiaser = build_debiaser(first_slot, detectors="position", max_rounds=1)
>>> result = debiaser.judge(make_item("2+2?", ["4", "5"], item_id="q1"))
>>> meta = findings_metadata(result)
>>> meta["debias_status"], meta["debias_position_detected"], meta["debias_final_choice"]
('unresolved', True, 'tie')
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from debias import optional
from debias.errors import ConfigError, JudgeError
from debias.judges import create_judge
from debias.judges.base import Judge, JudgeRequest, Message
from debias.judges.function import Convention, FunctionJudge
from debias.judges.prompts import Templates
from debias.loop import DEFAULT_DETECTORS, Debiaser, Rewriter
from debias.types import CANDIDATE_LIMITS, Item, Result, Verdict

#: Prefix of every key :func:`findings_metadata` writes.
PREFIX = "debias"

JudgeLike = Judge | str | Callable[..., Any]
"""A :class:`Judge`, a judge spec (``"openai/gpt-4o-mini"``, ``"scripted:position=1"``)
or a judge function (see :class:`~debias.judges.function.FunctionJudge`)."""


def require(module: str, extra: str) -> ModuleType:
    """Import a framework lazily, or fail with the extra to install.

    Args:
        module: Module to import (``"inspect_ai"``).
        extra: judge-debias extra that installs it (``"inspect"``).

    Raises:
        MissingDependencyError: When ``module`` cannot be imported; the message says
            ``pip install "judge-debias[EXTRA]"``.
    """
    return optional.require(module, extra, purpose="this adapter")


class DebiasSettings(BaseModel):
    """How an adapter debiases: which detectors, how many revision rounds.

    Attributes:
        detectors: Detector specs by name (``"position,bandwagon:policy=flag"`` or a list).
        max_rounds: Revision rounds after the first judgement (0 = detect and aggregate only).
        strict: Re-raise detector errors instead of recording them as findings.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    max_rounds: int = Field(default=2, ge=0, le=10)
    strict: bool = False

    @field_validator("detectors", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [part for part in (p.strip() for p in v.split(",")) if part]
        if isinstance(v, list | tuple) and not v:
            raise ValueError("detectors: give at least one detector name, e.g. 'position'")
        if isinstance(v, list | tuple):
            bad = [d for d in v if not isinstance(d, str) or not d.strip()]
            if bad:
                raise ValueError(f"detectors: {bad[0]!r} is not a detector name")
        return v


def to_judge(judge: JudgeLike, *, name: str | None = None, convention: Convention = "auto",
             templates: Templates | None = None) -> Judge:
    """A :class:`Judge` from a judge, a judge spec, or a judge function.

    Args:
        judge: The judge; a string is a spec for :func:`debias.judges.create_judge`; a
            function is wrapped in :class:`~debias.judges.function.FunctionJudge`.
        name: Judge name for a function (default: its ``__name__``).
        convention: Calling convention for a function (``auto`` reads its signature).
        templates: Prompt templates for ``messages``-convention functions.

    Raises:
        ConfigError: When ``judge`` is none of these.
    """
    if isinstance(judge, Judge):
        return judge
    if isinstance(judge, str):
        return create_judge(judge)
    if callable(judge):
        return FunctionJudge(judge, name=name, convention=convention, templates=templates)
    raise ConfigError(f"judge {judge!r} is neither a Judge, a judge spec string nor a function")


class RequestJudge(FunctionJudge):
    """A judge that hands each request (first judgement or probe) to a callback.

    This is how an adapter re-grades *copies* of the framework's sample: the callback
    gets the :class:`~debias.judges.base.JudgeRequest` (``request.order`` is the display
    order, ``request.shows_cue`` whether the cue is shown, ``request.feedback`` the
    revision feedback or None), builds the framework's input from it, runs the
    framework's grader and returns its answer, read as for a judge function: an ``int``
    display slot, a ``str`` reply (``"A"``, ``"Output (b)"``, ``"tie"``) or a ``float``
    score. The callback may be sync or async.

    Args:
        fn: ``fn(request) -> int | str | float`` (or an awaitable of one).
        name: Judge name recorded on verdicts.
        templates: Score range for score tasks.
    """

    def __init__(self, fn: Callable[[JudgeRequest], Any], *, name: str,
                 templates: Templates | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"request callback {fn!r} is not callable")
        super().__init__(fn, name=name, convention="candidates", templates=templates)

    def _call_args(self, request: JudgeRequest) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (request,), {}


def chat_judge(complete: Callable[[list[Message]], str | Awaitable[str]], *, name: str,
               templates: Templates | None = None) -> FunctionJudge:
    """A judge backed by a framework's grader model: chat messages in, reply text out.

    The request is rendered with ``templates`` (ours by default, or one built from the
    framework's grading prompt) and the reply parsed like any judge reply, with one
    re-ask when it cannot be parsed.

    Args:
        complete: ``complete(messages) -> reply`` (sync or async); ``messages`` is a list
            of ``{"role", "content"}`` dicts.
        name: Judge name recorded on verdicts (e.g. the grader model's name).
        templates: Prompt templates (default :class:`~debias.judges.prompts.Templates`).
    """
    return FunctionJudge(complete, name=name, convention="messages", templates=templates)


def build_debiaser(judge: JudgeLike, settings: DebiasSettings | None = None, *,
                   rewriter: Rewriter | None = None, **overrides: Any) -> Debiaser:
    """A :class:`~debias.loop.Debiaser` for an adapter.

    Args:
        judge: A judge, judge spec or judge function (see :func:`to_judge`).
        settings: Validated settings; keyword ``overrides`` (``detectors=``,
            ``max_rounds=``, ``strict=``) are applied on top and validated too.
        rewriter: Optional rewriter enabling length/tone rewrite probes.
    """
    settings = settings or DebiasSettings()
    if overrides:
        settings = DebiasSettings(**{**settings.model_dump(), **overrides})
    return Debiaser(to_judge(judge), list(settings.detectors), max_rounds=settings.max_rounds,
                    rewriter=rewriter, strict=settings.strict)


def make_item(instruction: str, candidates: Sequence[str], *, item_id: str,
              cue: str | None = None, metadata: dict[str, Any] | None = None,
              task: str | None = None) -> Item:
    """The item for one framework sample.

    Args:
        instruction: The question/input being judged.
        candidates: Candidate answers in their original numbering (1 = score task,
            2 = pairwise, 3-10 = multiple choice unless ``task`` says otherwise).
        item_id: The framework's sample/test id (named in errors).
        cue: A statement shown with the task that a biased judge may follow.
        metadata: Carried through untouched.
        task: ``pairwise``, ``choice`` or ``score`` (default from the count).

    Raises:
        ConfigError: Naming the sample when the candidates do not fit the task.
    """
    cands = [str(c) for c in candidates]
    if task is None:
        task = {1: "score", 2: "pairwise"}.get(len(cands), "choice")
    if task not in CANDIDATE_LIMITS:
        raise ConfigError(f"sample {item_id!r}: task {task!r} is not one of {sorted(CANDIDATE_LIMITS)}")
    try:
        return Item(id=str(item_id), task=task, instruction=str(instruction), candidates=cands,
                    cue=cue or None, metadata=dict(metadata or {}))
    except ValidationError as exc:
        why = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"sample {item_id!r}: {why}") from exc


def choice_letter(verdict: Verdict | None) -> str | None:
    """The verdict as the framework reads a pairwise/choice decision.

    ``"A"``, ``"B"``, ... for the candidate in ORIGINAL numbering, ``"tie"`` for a tie,
    None for a missing verdict or a score.
    """
    if verdict is None or verdict.score is not None:
        return None
    if verdict.tie or verdict.choice is None:
        return "tie"
    return chr(ord("A") + verdict.choice)


def answer_of(result: Result) -> str | float:
    """The debiased decision: a letter (``"A"``, ``"tie"``) or the score.

    Raises:
        JudgeError: When the judge failed (status ``error``), naming the error.
    """
    if result.verdict is None:
        raise JudgeError(f"judge failed: {result.error or result.stop.value}")
    if result.verdict.score is not None:
        return result.verdict.score
    letter = choice_letter(result.verdict)
    assert letter is not None
    return letter


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_flat(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def findings_metadata(result: Result, *, prefix: str = PREFIX,
                      stringify: bool = False) -> dict[str, Any]:
    """The middleware's findings as one flat dict for a framework's metadata field.

    Keys (all start with ``prefix + "_"``):

    - ``status`` (clean/revised/unresolved/error), ``stop_reason``, ``flipped``,
      ``rounds``, ``first_choice`` and ``final_choice`` (letters, ``tie``, or the score),
      ``biases_detected`` (every bias detected in any round), ``flagged``,
      ``judge_calls`` (model calls spent, probes included), ``probes``, ``error``;
    - per detector that ran on the first judgement: ``<bias>_detected`` (bool),
      ``<bias>_confidence`` (float), ``<bias>_status`` (ok/skipped/error);
    - ``findings``: one line per detected finding, ``"r0 position (0.95): <evidence>"``.

    Args:
        result: The debiasing result.
        prefix: Key prefix.
        stringify: Make every value a string (lists comma-joined, bools
            ``true``/``false``, None empty) for frameworks whose metadata are strings.
    """
    p = f"{prefix}_"
    first = result.rounds[0].verdict if result.rounds else None

    def decision(v: Verdict | None) -> str | float | None:
        if v is None:
            return None
        return v.score if v.score is not None else choice_letter(v)

    detected: list[str] = []
    lines: list[str] = []
    for rnd in result.rounds:
        for f in rnd.findings:
            if f.actionable:
                if f.bias not in detected:
                    detected.append(f.bias)
                what = f.evidence.compared or f.analysis
                lines.append(f"r{rnd.index} {f.bias} ({f.confidence:.2f}): {what}")
    meta: dict[str, Any] = {
        f"{p}status": result.status.value,
        f"{p}stop_reason": result.stop.value,
        f"{p}flipped": result.flipped,
        f"{p}rounds": len(result.rounds),
        f"{p}first_choice": decision(first),
        f"{p}final_choice": decision(result.verdict),
        f"{p}biases_detected": detected,
        f"{p}flagged": list(result.flagged),
        f"{p}judge_calls": result.usage.calls,
        f"{p}probes": len(result.probes),
        f"{p}error": result.error,
    }
    if result.rounds:
        for f in result.rounds[0].findings:
            meta[f"{p}{f.bias}_detected"] = f.actionable
            meta[f"{p}{f.bias}_confidence"] = f.confidence
            meta[f"{p}{f.bias}_status"] = f.status
    meta[f"{p}findings"] = lines
    if stringify:
        return {k: _flat(v) for k, v in meta.items()}
    return meta


def run_sync(coro: Awaitable[Any]) -> Any:
    """Run a coroutine from synchronous framework code (no event loop running).

    Raises:
        JudgeError: When called inside a running event loop (use the async path there).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    raise JudgeError("a synchronous adapter call was made inside a running event loop; "
                     "use the adapter's async method instead")


__all__ = [
    "PREFIX",
    "DebiasSettings",
    "JudgeLike",
    "RequestJudge",
    "answer_of",
    "build_debiaser",
    "chat_judge",
    "choice_letter",
    "findings_metadata",
    "make_item",
    "require",
    "run_sync",
    "to_judge",
]
