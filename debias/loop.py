"""The judge → detect → decide → revise loop.

:class:`Debiaser` runs one pure core (:meth:`Debiaser._core`, a generator that yields
effects) under a sync or an async driver. Every round is recorded; :func:`decide` is a
pure function of the round's findings and the verdict history.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from debias.cascade import plan_model_detectors
from debias.contract import (
    AnyDetector,
    DetectContext,
    Detector,
    ModelDetector,
    ProbeSpec,
    errored,
    parse_detector_specs,
    skipped,
)
from debias.effects import Failure, adrive, drive
from debias.errors import BiasDetectedError, ConfigError, JudgeError
from debias.judges.base import Judge, JudgeRequest
from debias.types import (
    Feedback,
    Finding,
    Item,
    ProbeRecord,
    Result,
    Round,
    Status,
    Usage,
    Verdict,
)

Action = Literal["accept", "revise", "aggregate", "unresolved", "raise"]
DEFAULT_DETECTORS = ("position", "bandwagon", "verbosity", "sentiment")


class Decision(BaseModel):
    """What to do after a round.

    Attributes:
        action: ``accept``, ``revise`` (send feedback), ``aggregate`` (adopt a detector's
            aggregated verdict), ``unresolved`` (stop, bias remains) or ``raise``.
        reason: Why (e.g. ``no actionable bias``, ``max_rounds``, ``oscillation``).
        findings: The actionable findings behind the decision.
        verdict: The aggregated verdict for ``aggregate``.
    """

    action: Action
    reason: str
    findings: list[Finding] = Field(default_factory=list)
    verdict: Verdict | None = None


def decide(
    findings: Sequence[Finding],
    verdict: Verdict,
    previous: Sequence[Verdict],
    round_index: int,
    max_rounds: int,
) -> Decision:
    """Decide what follows a round. Pure.

    Args:
        findings: This round's findings.
        verdict: This round's verdict.
        previous: Verdicts of the earlier rounds, oldest first.
        round_index: 0 for the first judgement.
        max_rounds: Maximum number of revision rounds.

    Returns:
        The decision. ``flag`` findings never change the verdict; ``raise`` findings win;
        ``revise`` findings ask for another round until max rounds are spent, the verdict
        oscillates back to an earlier one, or a revision changes nothing; then a
        detector's aggregated verdict is adopted when there is one.
    """
    actionable = [f for f in findings if f.actionable]
    raising = [f for f in actionable if f.policy == "raise"]
    if raising:
        return Decision(action="raise", reason="bias found by a detector with policy 'raise'",
                        findings=raising)
    acting = [f for f in actionable if f.policy in ("revise", "aggregate")]
    if not acting:
        flagged = [f for f in actionable if f.policy == "flag"]
        return Decision(action="accept", reason="flagged only" if flagged else "no actionable bias",
                        findings=flagged)
    revise = [f for f in acting if f.policy == "revise"]
    suggestion = next((f.suggested for f in acting if f.suggested is not None), None)
    if revise:
        if round_index > 0 and previous and verdict.same_decision(previous[-1]):
            stop = "revision changed nothing"
        elif any(verdict.same_decision(p) for p in previous[:-1]):
            stop = "oscillation"
        elif round_index >= max_rounds:
            stop = "max_rounds"
        else:
            return Decision(action="revise", reason="bias found", findings=revise)
    else:
        stop = "aggregate policy"
    if suggestion is not None:
        return Decision(action="aggregate", reason=stop, findings=acting, verdict=suggestion)
    return Decision(action="unresolved", reason=stop, findings=acting)


def feedback_text(findings: Sequence[Finding]) -> str:
    """Render findings as feedback: evidence and analysis, never the answer."""
    parts = []
    for f in findings:
        head = f"[{f.bias} check by {f.detector}, confidence {f.confidence:.2f}]"
        evidence = f"Evidence: {f.evidence.compared}." if f.evidence.compared else ""
        parts.append(" ".join(p for p in (head, evidence, f.analysis) if p))
    return "\n\n".join(parts)


@runtime_checkable
class Rewriter(Protocol):
    """Rewrites candidates for rewrite probes (``equalize_length``, ``neutralize_tone``)."""

    def rewrite(self, op: str, item: Item) -> list[str]:
        """Rewritten candidates, original numbering."""
        ...

    async def arewrite(self, op: str, item: Item) -> list[str]:
        """Async variant of :meth:`rewrite`."""
        ...


class ProbeCache:
    """Verdicts already obtained for one item, by request (answers identical probes).

    Two requests share an entry exactly when their
    :meth:`~debias.judges.base.JudgeRequest.fingerprint` is equal: the key holds the
    same fields as a tuple (task, instruction, candidates, the cue when shown, order,
    feedback as JSON), so no JSON is encoded and hashed per request, and each feedback
    object is dumped once.
    """

    def __init__(self) -> None:
        self._verdicts: dict[tuple[Any, ...], Verdict] = {}
        self._feedback: dict[int, tuple[Feedback, str]] = {}

    def key(self, request: JudgeRequest) -> tuple[Any, ...]:
        """The cache key of ``request``."""
        fb = request.feedback
        fb_json: str | None = None
        if fb is not None:
            got = self._feedback.get(id(fb))
            if got is None or got[0] is not fb:
                got = self._feedback[id(fb)] = (fb, json.dumps(fb.model_dump(mode="json"), sort_keys=True,
                                                               ensure_ascii=False))
            fb_json = got[1]
        item = request.item
        return (item.task, item.instruction, tuple(item.candidates), item.cue if request.with_cue else None,
                tuple(request.order), fb_json)

    def get(self, key: tuple[Any, ...]) -> Verdict | None:
        """The verdict stored under ``key``, or None."""
        return self._verdicts.get(key)

    def put(self, key: tuple[Any, ...], verdict: Verdict) -> None:
        """Store ``verdict`` under ``key``."""
        self._verdicts[key] = verdict


@dataclass(frozen=True)
class JudgeCall:
    """Effect: judge one request."""

    request: JudgeRequest


@dataclass(frozen=True)
class ProbeCall:
    """Effect: run probes; the result is a list of ``Verdict | Failure`` in order."""

    probes: list[tuple[ProbeSpec, JudgeRequest]]


@dataclass(frozen=True)
class ModelDetectCall:
    """Effect: run a model-backed detector; the result is a Finding."""

    detector: ModelDetector
    ctx: DetectContext
    findings: list[Finding] = field(default_factory=list)


def hide_gold(item: Item) -> Item:
    """The item as the live loop sees it: without its gold ``label``.

    A gold label is for evaluating the judge, never for debiasing it: live detectors must
    not be able to read it (offline audits may). It is kept under
    ``metadata["merit"]`` for test doubles such as the scripted judge, which real judges
    never see (prompts do not render metadata).
    """
    if item.label is None:
        return item
    return item.model_copy(update={"label": None, "metadata": {**item.metadata, "merit": item.label}})


class Debiaser:
    """Wrap a judge with detectors and a revision loop.

    Args:
        judge: Any :class:`~debias.judges.base.Judge`.
        detectors: Detector instances or specs (``"position,bandwagon:policy=flag"``).
        max_rounds: Maximum revision rounds after the first judgement (0 = detect only).
        rewriter: Optional rewriter enabling rewrite probes (length/tone).
        strict: Re-raise detector errors instead of recording error findings.
    """

    def __init__(
        self,
        judge: Judge,
        detectors: Sequence[AnyDetector | str] | str | None = DEFAULT_DETECTORS,
        *,
        max_rounds: int = 2,
        rewriter: Rewriter | None = None,
        strict: bool = False,
    ) -> None:
        if not isinstance(judge, Judge):
            raise ConfigError(f"judge {judge!r} does not implement judge()/ajudge(); wrap a "
                              "function with FunctionJudge or debias.wrap")
        if max_rounds < 0:
            raise ConfigError(f"max_rounds must be >= 0, got {max_rounds}")
        self.judge_ = judge
        self.max_rounds = max_rounds
        self.rewriter = rewriter
        self.strict = strict
        specs: list[AnyDetector] = []
        for d in [detectors] if isinstance(detectors, str) else (detectors or []):
            specs.extend(parse_detector_specs(d) if isinstance(d, str) else [d])
        self.detectors: list[Detector] = [d for d in specs if not isinstance(d, ModelDetector)]
        self.model_detectors: list[ModelDetector] = [d for d in specs if isinstance(d, ModelDetector)]

    # ------------------------------------------------------------------ the core
    def _core(self, item: Item) -> Generator[Any, Any, Result]:
        started = time.perf_counter()
        item = hide_gold(item)
        request = JudgeRequest.first(item)
        rounds: list[Round] = []
        probe_log: list[ProbeRecord] = []
        probe_cache = ProbeCache()
        usage = Usage()
        verdicts: list[Verdict] = []

        def finish(status: Status, verdict: Verdict | None, reason: str, *,
                   flagged: Sequence[Finding] = (), error: str | None = None) -> Result:
            total = usage
            for probe in probe_log:
                if probe.verdict is not None and not probe.cached:
                    total = total.add(probe.verdict.usage)
            return Result(verdict=verdict, status=status, stop_reason=reason, rounds=rounds,
                          probes=probe_log, flagged=sorted({f.bias for f in flagged}),
                          usage=total, error=error, elapsed_s=time.perf_counter() - started)

        for index in range(self.max_rounds + 1):
            try:
                verdict = yield JudgeCall(request)
            except JudgeError as exc:
                if index == 0:
                    return finish(Status.ERROR, None, "judge failed", error=f"{type(exc).__name__}: {exc}")
                return finish(Status.UNRESOLVED, verdicts[-1], f"revision failed: {exc}")
            usage = usage.add(verdict.usage)
            probe_cache.put(probe_cache.key(request), verdict)
            ctx = DetectContext(item=item, request=request, verdict=verdict, history=list(rounds),
                                mode="live", can_rewrite=self.rewriter is not None)
            findings = yield from self._detect(ctx, index, probe_cache, probe_log)
            for f in findings:
                usage = usage.add(f.usage)
            decision = decide(findings, verdict, verdicts, index, self.max_rounds)
            verdicts.append(verdict)
            this_round = Round(index=index, verdict=verdict, findings=findings,
                               decision=f"{decision.action}: {decision.reason}")
            rounds.append(this_round)
            flags = [f for f in findings if f.actionable and f.policy == "flag"]
            if decision.action == "raise":
                raise BiasDetectedError(
                    f"item {item.id!r}: bias detected ({', '.join(f.bias for f in decision.findings)})",
                    decision.findings)
            if decision.action == "accept":
                status = Status.CLEAN if index == 0 else Status.REVISED
                return finish(status, verdict, decision.reason, flagged=flags)
            if decision.action == "aggregate":
                agg = decision.verdict
                assert agg is not None
                status = Status.UNRESOLVED if agg.tie or (agg.choice is None and agg.score is None) else Status.REVISED
                return finish(status, agg, f"aggregated ({decision.reason})", flagged=flags)
            if decision.action == "unresolved":
                return finish(Status.UNRESOLVED, verdict, decision.reason, flagged=flags)
            feedback = Feedback(prior=verdict, findings=decision.findings,
                                text=feedback_text(decision.findings))
            this_round.feedback = feedback
            request = request.variant(feedback=feedback)
        raise AssertionError("unreachable: decide() stops at max_rounds")  # pragma: no cover

    def _detect(self, ctx: DetectContext, index: int, cache: ProbeCache,
                log: list[ProbeRecord]) -> Generator[Any, Any, list[Finding]]:
        plans: list[tuple[Detector, list[ProbeSpec]]] = []
        findings: dict[int, Finding] = {}
        for k, det in enumerate(self.detectors):
            try:
                specs = [s for s in det.plan(ctx) if s.rewrite is None or self.rewriter is not None]
            except Exception as exc:
                if self.strict:
                    raise
                findings[k] = errored(det, exc)
                specs = []
            plans.append((det, specs))
        wanted: dict[str, tuple[str, ProbeSpec, JudgeRequest]] = {}
        for det, specs in plans:
            for spec in specs:
                req = spec.apply(ctx.request)
                wanted.setdefault(spec.key, (det.name, spec, req))
        results: dict[str, Verdict | None] = {}
        to_run: list[tuple[str, str, ProbeSpec, JudgeRequest, tuple[Any, ...] | None]] = []
        for key, (det_name, spec, req) in wanted.items():
            fp = cache.key(req) if spec.rewrite is None else None
            hit = cache.get(fp) if fp is not None else None
            if hit is not None:
                results[key] = hit
                log.append(ProbeRecord(key=f"r{index}:{key}", detector=det_name, verdict=hit, cached=True))
            else:
                to_run.append((key, det_name, spec, req, fp))
        if to_run:
            outcomes = yield ProbeCall([(spec, req) for _, _, spec, req, _ in to_run])
            for (key, det_name, _spec, _req, fp), out in zip(to_run, outcomes, strict=True):
                if isinstance(out, Failure):
                    results[key] = None
                    log.append(ProbeRecord(key=f"r{index}:{key}", detector=det_name,
                                           error=f"{type(out.exc).__name__}: {out.exc}"))
                else:
                    results[key] = out
                    if fp is not None:
                        cache.put(fp, out)
                    log.append(ProbeRecord(key=f"r{index}:{key}", detector=det_name, verdict=out))
        ordered: list[Finding] = []
        for k, (det, specs) in enumerate(plans):
            if k not in findings:
                try:
                    findings[k] = det.assess(ctx, {s.key: results.get(s.key) for s in specs})
                except Exception as exc:
                    if self.strict:
                        raise
                    findings[k] = errored(det, exc)
            ordered.append(findings[k])
        for mdet, plan in plan_model_detectors(self.model_detectors, ordered):
            if not plan.call:
                ordered.append(skipped(mdet, plan.reason))
                continue
            ordered.append((yield ModelDetectCall(mdet, ctx, list(ordered))))
        return ordered

    # ------------------------------------------------------------------ drivers
    def _probe_request(self, spec: ProbeSpec, req: JudgeRequest) -> JudgeRequest:
        if spec.rewrite is None:
            return req
        assert self.rewriter is not None
        cands = self.rewriter.rewrite(spec.rewrite, req.item)
        return req.variant(item=req.item.model_copy(update={"candidates": cands}))

    async def _aprobe_request(self, spec: ProbeSpec, req: JudgeRequest) -> JudgeRequest:
        if spec.rewrite is None:
            return req
        assert self.rewriter is not None
        cands = await self.rewriter.arewrite(spec.rewrite, req.item)
        return req.variant(item=req.item.model_copy(update={"candidates": cands}))

    def _handle(self, effect: Any) -> Any:
        if isinstance(effect, JudgeCall):
            return self.judge_.judge(effect.request)
        if isinstance(effect, ProbeCall):
            out: list[Verdict | Failure] = []
            for spec, req in effect.probes:
                try:
                    out.append(self.judge_.judge(self._probe_request(spec, req)))
                except Exception as exc:
                    out.append(Failure(exc))
            return out
        if isinstance(effect, ModelDetectCall):
            try:
                return effect.detector.detect(effect.ctx, effect.findings)
            except Exception as exc:
                if self.strict:
                    raise
                return errored(effect.detector, exc)
        raise TypeError(f"unknown effect {effect!r}")  # pragma: no cover

    async def _ahandle(self, effect: Any) -> Any:
        if isinstance(effect, JudgeCall):
            return await self.judge_.ajudge(effect.request)
        if isinstance(effect, ProbeCall):
            async def one(spec: ProbeSpec, req: JudgeRequest) -> Verdict | Failure:
                try:
                    return await self.judge_.ajudge(await self._aprobe_request(spec, req))
                except Exception as exc:
                    return Failure(exc)

            return list(await asyncio.gather(*(one(s, r) for s, r in effect.probes)))
        if isinstance(effect, ModelDetectCall):
            try:
                return await effect.detector.adetect(effect.ctx, effect.findings)
            except Exception as exc:
                if self.strict:
                    raise
                return errored(effect.detector, exc)
        raise TypeError(f"unknown effect {effect!r}")  # pragma: no cover

    def judge(self, item: Item) -> Result:
        """Debias one item synchronously."""
        return drive(self._core(item), self._handle)

    async def ajudge(self, item: Item) -> Result:
        """Debias one item asynchronously (probes run concurrently)."""
        return await adrive(self._core(item), self._ahandle)
