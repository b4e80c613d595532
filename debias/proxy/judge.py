"""The template-aware judge: every probe is the CLIENT's own prompt, re-rendered.

:class:`TemplateJudge` implements the :class:`~debias.judges.base.Judge` protocol for the
:class:`~debias.loop.Debiaser`. For a :class:`~debias.judges.base.JudgeRequest` it takes
the client's recognised chat (:class:`~debias.proxy.templates.Match`, carried by the
request's item under ``metadata["_proxy"]`` as a :class:`ProxyCall`), renders it in the
request's display order (cue section removed when the request hides the cue), appends the
judge's prior answer and the detector feedback as follow-up turns for a revision, sends
it to the upstream chat backend, and reads the reply in the template's own verdict format
(falling back to the common formats, then re-asking, when the upstream drifts).

One pure core (:meth:`TemplateJudge._core`) serves the sync and async drivers.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from debias.backends.base import ChatBackend, Completion, Message, Sampling
from debias.effects import adrive, drive
from debias.errors import JudgeError, VerdictParseError
from debias.judges.base import JudgeRequest
from debias.judges.chat import GenerateCall
from debias.judges.prompts import REVISION
from debias.ordering import probs_to_original, to_original, to_slot
from debias.proxy.formats import Parsed, VerdictFormat, lenient_parse
from debias.proxy.templates import Match
from debias.types import Feedback, Usage, Verdict

CONTEXT_KEY = "_proxy"


class BudgetExhaustedError(JudgeError):
    """The request's upstream-call budget is spent (``--budget``)."""


@dataclass
class ProxyCall:
    """Everything the judge needs about one client request.

    Attributes:
        match: The client's recognised chat.
        backend: The upstream chat backend for this request (its key).
        sampling: Sampling of upstream calls (the client's temperature, max_tokens,
            logprobs settings).
        first: The upstream's answer to the client's own prompt when it is already known
            (the litellm guardrail gets it from the proxy); used for the first judgement.
        budget: Upstream calls allowed for this request (None: no limit besides max_rounds).
        calls: Upstream calls made so far.
        error: The last upstream error (its HTTP status is returned to the client when the
            first judgement fails).
    """

    match: Match
    backend: ChatBackend
    sampling: Sampling
    first: Completion | None = None
    budget: int | None = None
    calls: int = field(default=0)
    error: BaseException | None = None

    def spend(self) -> None:
        """Count one upstream call.

        Raises:
            BudgetExhaustedError: The budget is spent.
        """
        if self.budget is not None and self.calls >= self.budget:
            raise BudgetExhaustedError(f"the budget of {self.budget} upstream calls per request is spent")
        self.calls += 1


def context_of(request: JudgeRequest) -> ProxyCall:
    """The :class:`ProxyCall` of a request.

    Raises:
        JudgeError: The item does not come from the proxy.
    """
    ctx = request.item.metadata.get(CONTEXT_KEY)
    if not isinstance(ctx, ProxyCall):
        raise JudgeError(f"item {request.item.id!r} carries no proxy context; TemplateJudge only "
                         "judges items built by debias.proxy")
    return ctx


def verdict_text(fmt: VerdictFormat, verdict: Verdict, order: list[int]) -> str:
    """A verdict as the template's answer, in the display ``order``."""
    if verdict.tie or verdict.choice is None:
        return fmt.reply("", Parsed(None))
    return fmt.reply("", Parsed(to_slot(order, verdict.choice), getattr(verdict, "strength", None)))


def revision_turns(fmt: VerdictFormat, feedback: Feedback, order: list[int]) -> list[Message]:
    """The judge's prior answer and the feedback, as follow-up turns of the client's chat."""
    prior = feedback.prior
    said = prior.raw if list(prior.order) == list(order) and prior.raw else verdict_text(fmt, prior, order)
    return [{"role": "assistant", "content": said},
            {"role": "user", "content": REVISION.format(feedback=feedback.text, what="answers",
                                                        answer_format=fmt.hint)}]


def reask_turn(fmt: VerdictFormat) -> Message:
    """The follow-up sent when a reply holds no verdict."""
    return {"role": "user", "content": f"I could not find your final verdict. {fmt.hint}"}


def label_probs(fmt: VerdictFormat, completion: Completion) -> list[float] | None:
    """Preference over display slots from the first token's log-probabilities, for formats
    answering with one label token (AlpacaEval's ``m``/``M``); None when unavailable."""
    if not fmt.labels or not completion.top_logprobs:
        return None
    first = completion.top_logprobs[0]
    found = [first.get(label) for label in fmt.labels]
    if all(lp is None for lp in found):
        return None
    weights = [0.0 if lp is None else math.exp(lp) for lp in found]
    total = sum(weights)
    return [w / total for w in weights] if total > 0 else None


class TemplateJudge:
    """A :class:`~debias.judges.base.Judge` that re-renders the client's own template.

    Args:
        name: Judge name recorded on verdicts.
        max_reasks: Follow-ups asking for the verdict when a reply has none (the sampling
            must leave room for an answer: no re-ask when the client allows one token).
    """

    def __init__(self, name: str = "proxy", max_reasks: int = 1) -> None:
        if max_reasks < 0:
            raise ValueError(f"max_reasks must be >= 0, got {max_reasks}")
        self.name = name
        self.max_reasks = max_reasks

    def _core(self, request: JudgeRequest) -> Generator[Any, Any, Verdict]:
        ctx = context_of(request)
        fmt = ctx.match.template.verdict
        order = list(request.order)
        candidates = request.item.candidates
        messages = ctx.match.render(order, request.with_cue, candidates)
        if request.feedback is not None:
            messages += revision_turns(fmt, request.feedback, order)
        original = (ctx.first is not None and request.feedback is None and request.with_cue
                    and order == list(range(len(order))) and candidates == ctx.match.candidates)
        usage = Usage()
        base = {"judge": self.name, "order": order, "with_cue": request.shows_cue}
        reasks = self.max_reasks if ctx.sampling.max_tokens > 8 else 0
        last: VerdictParseError | None = None
        for attempt in range(reasks + 1):
            if original and attempt == 0:
                completion = ctx.first
                assert completion is not None
            else:
                ctx.spend()
                completion = yield GenerateCall(messages, ctx.sampling)
            usage = usage.add(completion.usage)
            slot_probs = label_probs(fmt, completion)
            try:
                parsed = lenient_parse(fmt, completion.text)
            except VerdictParseError as exc:
                if slot_probs is None:
                    last = exc
                    messages = [*messages, {"role": "assistant", "content": completion.text},
                                reask_turn(fmt)]
                    continue
                parsed = Parsed(max(range(len(slot_probs)), key=lambda s: slot_probs[s]))
            extra: dict[str, Any] = {"strength": parsed.strength} if parsed.strength else {}
            if slot_probs is not None:
                best = max(range(len(slot_probs)), key=lambda s: slot_probs[s])
                extra.update(probs=probs_to_original(order, slot_probs), confidence=slot_probs[best])
            if parsed.slot is None:
                return Verdict(**base, tie=True, raw=completion.text, usage=usage, **extra)
            return Verdict(**base, choice=to_original(order, parsed.slot), raw=completion.text,
                           usage=usage, **extra)
        assert last is not None
        error = VerdictParseError(f"upstream gave no verdict in the {ctx.match.template.name!r} "
                                  f"format after {reasks + 1} attempt(s): {last}", last.text)
        ctx.error = error
        raise error

    def judge(self, request: JudgeRequest) -> Verdict:
        """Judge one request (blocking upstream calls)."""
        ctx = context_of(request)

        def handle(effect: GenerateCall) -> Completion:
            try:
                return ctx.backend.complete(effect.messages, effect.sampling)
            except Exception as exc:
                ctx.error = exc
                raise

        return drive(self._core(request), handle)

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        """Judge one request asynchronously."""
        ctx = context_of(request)

        async def handle(effect: GenerateCall) -> Completion:
            try:
                return await ctx.backend.acomplete(effect.messages, effect.sampling)
            except Exception as exc:
                ctx.error = exc
                raise

        return await adrive(self._core(request), handle)
