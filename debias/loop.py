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
from typing import Any, Protocol, runtime_checkable

from debias.budget import (
    Budget,
    BudgetRun,
    GateDecision,
    detector_signal,
    margin_signal,
    skipped_probe,
)
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
from debias.resolution import REWRITE_SEP, factor_specs, plan_counterfactual, resolve
from debias.types import (
    Action,
    Decision,
    Feedback,
    Finding,
    Item,
    ProbeRecord,
    Reason,
    Resolution,
    ResolutionKind,
    Result,
    Round,
    Status,
    Usage,
    Verdict,
)

DEFAULT_DETECTORS = ("position", "bandwagon", "verbosity", "sentiment")


def _canonical(findings: Sequence[Finding]) -> list[Finding]:
    """Findings in a canonical order, so that nothing depends on the detectors' order."""
    return sorted(findings, key=lambda f: (f.bias, f.detector, f.policy, f.model_dump_json()))


def _decision(action: Action, reason: Reason, findings: Sequence[Finding] = ()) -> Decision:
    found = _canonical(findings)
    return Decision(action=action, reason=reason, findings=found,
                    detectors=sorted({f.detector for f in found}), biases=sorted({f.bias for f in found}))


def decide(
    findings: Sequence[Finding],
    verdict: Verdict,
    previous: Sequence[Verdict],
    round_index: int,
    max_rounds: int,
) -> Decision:
    """Decide what follows a round. Pure; the result does not depend on the order of findings.

    Args:
        findings: This round's findings (all detectors together).
        verdict: This round's verdict.
        previous: Verdicts of the earlier rounds, oldest first.
        round_index: 0 for the first judgement.
        max_rounds: Maximum number of revision rounds.

    Returns:
        ``raise`` when a ``raise``-policy finding detected bias; ``accept`` when no
        ``revise``/``aggregate`` finding did (``flag`` findings never change the verdict);
        ``revise`` (send feedback) while ``revise`` findings remain and the judge still
        can comply; ``resolve`` (the counterfactual decides, see
        :mod:`debias.resolution`) when the revision repeated the previous verdict,
        oscillated back to an earlier one, the rounds are spent, or only ``aggregate``
        findings acted. The decision lists its findings in a canonical order.
    """
    actionable = [f for f in findings if f.actionable]
    raising = [f for f in actionable if f.policy == "raise"]
    if raising:
        return _decision(Action.RAISE, Reason.RAISE_POLICY, raising)
    acting = [f for f in actionable if f.policy in ("revise", "aggregate")]
    if not acting:
        flagged = [f for f in actionable if f.policy == "flag"]
        return _decision(Action.ACCEPT, Reason.FLAGGED_ONLY if flagged else Reason.NO_BIAS, flagged)
    revise = [f for f in acting if f.policy == "revise"]
    if not revise:
        return _decision(Action.RESOLVE, Reason.AGGREGATE_POLICY, acting)
    if round_index > 0 and previous and verdict.same_decision(previous[-1]):
        return _decision(Action.RESOLVE, Reason.UNCHANGED, acting)
    if any(verdict.same_decision(p) for p in previous[:-1]):
        return _decision(Action.RESOLVE, Reason.OSCILLATION, acting)
    if round_index >= max_rounds:
        return _decision(Action.RESOLVE, Reason.MAX_ROUNDS, acting)
    return _decision(Action.REVISE, Reason.BIAS_FOUND, revise)


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

    def key(self, request: JudgeRequest, rewrite: str | None = None) -> tuple[Any, ...]:
        """The cache key of ``request`` (with the candidates rewritten by ``rewrite``)."""
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
                tuple(request.order), fb_json, rewrite)

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
    """Wrap a judge with detectors, a revision loop and counterfactual resolution.

    A revision that passes the detectors is final; when the judge does not comply, the
    final verdict is its verdict with every detected bias factor removed (see
    :mod:`debias.resolution`).

    Args:
        judge: Any :class:`~debias.judges.base.Judge`.
        detectors: Detector instances or specs (``"position,bandwagon:policy=flag"``).
        max_rounds: Maximum revision rounds after the first judgement (0 = no feedback:
            detect, then resolve counterfactually).
        rewriter: Optional rewriter enabling rewrite probes (length/tone).
        strict: Re-raise detector errors instead of recording error findings.
        budget: Average judge calls per item the run may spend: ``"auto"``, a number
            >= 1, a :class:`~debias.budget.Budget`, or None (default: every probe is
            made). See :mod:`debias.budget`. The budget's state (calls spent, bias-rate
            estimates) belongs to a run: :meth:`begin_run` starts a new one (the batch
            runner does); until then the debiaser's first run is used.

    Raises:
        ConfigError: For a bad judge, ``max_rounds`` or ``budget`` (the message names it).
    """

    def __init__(
        self,
        judge: Judge,
        detectors: Sequence[AnyDetector | str] | str | None = DEFAULT_DETECTORS,
        *,
        max_rounds: int = 2,
        rewriter: Rewriter | None = None,
        strict: bool = False,
        budget: Budget | str | float | None = None,
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
        self.budget = Budget.parse(budget)
        self.budget_run: BudgetRun | None = None
        self.begin_run()
        specs: list[AnyDetector] = []
        for d in [detectors] if isinstance(detectors, str) else (detectors or []):
            specs.extend(parse_detector_specs(d) if isinstance(d, str) else [d])
        self.detectors: list[Detector] = [d for d in specs if not isinstance(d, ModelDetector)]
        self.model_detectors: list[ModelDetector] = [d for d in specs if isinstance(d, ModelDetector)]

    def begin_run(self) -> BudgetRun | None:
        """Start a new run of the probe budget (fresh allowance and estimates); None without a budget."""
        self.budget_run = BudgetRun(self.budget) if self.budget is not None else None
        return self.budget_run

    # ------------------------------------------------------------------ the core
    def _core(self, item: Item) -> Generator[Any, Any, Result]:
        started = time.perf_counter()
        run = self.budget_run
        ticket = run.begin_item() if run is not None else 0
        item = hide_gold(item)
        first = request = JudgeRequest.first(item)
        rounds: list[Round] = []
        probe_log: list[ProbeRecord] = []
        probe_cache = ProbeCache()
        usage = Usage()
        verdicts: list[Verdict] = []
        factors: list[tuple[Finding, Verdict]] = []  # acting findings of every round, with their verdict
        asked: str | None = None  # the budget's label of the revision asked for, until it is answered

        def finish(status: Status, verdict: Verdict | None, stop: Reason, resolution: Resolution | None, *,
                   flagged: Sequence[Finding] = (), error: str | None = None) -> Result:
            if run is not None:
                run.end_item(ticket)
            total = usage
            for probe in probe_log:
                if probe.verdict is not None and not probe.cached:
                    total = total.add(probe.verdict.usage)
            return Result(verdict=verdict, status=status, stop=stop, resolution=resolution, rounds=rounds,
                          probes=probe_log, flagged=sorted({f.bias for f in flagged}),
                          usage=total, error=error, elapsed_s=time.perf_counter() - started)

        for index in range(self.max_rounds + 1):
            try:
                verdict = yield JudgeCall(request)
            except JudgeError as exc:
                if index == 0:
                    return finish(Status.ERROR, None, Reason.JUDGE_FAILED, None,
                                  error=f"{type(exc).__name__}: {exc}")
                status, final, resolution = yield from self._resolve(first, factors, rounds, probe_cache,
                                                                     probe_log, ticket)
                return finish(status, final, Reason.REVISION_FAILED, resolution,
                              error=f"revision failed: {type(exc).__name__}: {exc}")
            usage = usage.add(verdict.usage)
            probe_cache.put(probe_cache.key(request), verdict)
            ctx = DetectContext(item=item, request=request, verdict=verdict, history=list(rounds),
                                mode="live", can_rewrite=self.rewriter is not None)
            findings = yield from self._detect(ctx, index, probe_cache, probe_log, ticket)
            for f in findings:
                usage = usage.add(f.usage)
            decision = decide(findings, verdict, verdicts, index, self.max_rounds)
            if run is not None and asked is not None:
                run.observe_revision(asked, not verdict.same_decision(verdicts[-1]))
                asked = None
            if decision.action is Action.REVISE and run is not None:
                offline = tuple(sorted({f.detector for f in decision.findings}))
                if any(f.evidence.probes for f in decision.findings):
                    offline = ()
                allowed = run.allow_revision(ticket, item.id, offline)
                if allowed.run:
                    asked = allowed.reason
                else:  # the budget declines the round: stop as when the rounds are spent
                    decision = decide(findings, verdict, verdicts, index, index)
                    probe_log.append(skipped_probe(index + 1, "revision", "budget", allowed.reason))
            verdicts.append(verdict)
            this_round = Round(index=index, verdict=verdict, findings=findings, decision=decision)
            rounds.append(this_round)
            flags = [f for f in findings if f.actionable and f.policy == "flag"]
            if decision.action is Action.RAISE:
                if run is not None:
                    run.end_item(ticket)
                raise BiasDetectedError(
                    f"item {item.id!r}: bias detected ({', '.join(f.bias for f in decision.findings)})",
                    decision.findings)
            if decision.action is Action.ACCEPT:
                kind = ResolutionKind.ACCEPTED if index == 0 else ResolutionKind.REVISED
                rests_on = [f"r{index}", *(p.key for p in probe_log
                                           if p.key.startswith(f"r{index}:") and p.verdict is not None)]
                return finish(Status.CLEAN if index == 0 else Status.REVISED, verdict, decision.reason,
                              Resolution(kind=kind, probes=rests_on), flagged=flags)
            factors.extend((f, verdict) for f in findings
                           if f.actionable and f.policy in ("revise", "aggregate"))
            if decision.action is Action.RESOLVE:
                status, final, resolution = yield from self._resolve(first, factors, rounds, probe_cache,
                                                                     probe_log, ticket)
                return finish(status, final, decision.reason, resolution, flagged=flags)
            feedback = Feedback(prior=verdict, findings=decision.findings,
                                text=feedback_text(decision.findings))
            this_round.feedback = feedback
            request = request.variant(feedback=feedback)
        raise AssertionError("unreachable: decide() stops at max_rounds")  # pragma: no cover

    def _factor_specs(self, finding: Finding, ctx: DetectContext) -> list[ProbeSpec]:
        """The probe conditions of the detector behind ``finding`` (see :mod:`debias.resolution`)."""
        det = next((d for d in (*self.detectors, *self.model_detectors)
                    if d.name == finding.detector and d.bias == finding.bias), None)
        return [] if det is None else self._plan_specs(det, ctx)

    def _plan_specs(self, det: Any, ctx: DetectContext) -> list[ProbeSpec]:
        """A detector's factor conditions for ``ctx``. As in :meth:`_detect`, a detector
        whose plan fails contributes nothing (its bias, if detected, is then reported as
        unremoved) unless ``strict``."""
        try:
            specs = factor_specs(det, ctx)
        except Exception:
            if self.strict:
                raise
            return []
        return [s for s in specs if s.rewrite is None or self.rewriter is not None]

    def _resolve(self, first: JudgeRequest, factors: Sequence[tuple[Finding, Verdict]], rounds: Sequence[Round],
                 cache: ProbeCache, log: list[ProbeRecord],
                 ticket: int = 0) -> Generator[Any, Any, tuple[Status, Verdict, Resolution]]:
        """The judge's verdict with every detected factor removed (joint probes, reusing made ones).

        Yields one :class:`ProbeCall` for the joint probes not made yet. Returns the status,
        the final verdict and its resolution; without counterfactual evidence the judge's
        last verdict is kept (``unresolved``, kind ``kept``).
        """
        live = self.rewriter is not None

        def ctx_of(verdict: Verdict) -> DetectContext:
            req = first if verdict is rounds[0].verdict else first.variant(order=list(verdict.order),
                                                                           with_cue=verdict.with_cue)
            return DetectContext(item=first.item, request=req, verdict=verdict, mode="live", can_rewrite=live)

        detected = [(f.bias, self._factor_specs(f, DetectContext(
            item=first.item, request=first, verdict=v, mode="live", can_rewrite=live))) for f, v in factors]
        # What the detectors would test on every verdict of the first round (the judgement and
        # its probes): used only when the order is a detected factor (see plan_counterfactual).
        seen = [rounds[0].verdict, *(p.verdict for p in log if p.verdict is not None and not p.cached
                                     and p.key.startswith("r0:"))]
        tested = [(d.bias, self._plan_specs(d, ctx_of(v))) for v in seen for d in self.detectors
                  if d.policy in ("revise", "aggregate")]
        plan = plan_counterfactual(first.order, detected, tested)
        sources: dict[int, str] = {id(r.verdict): f"r{r.index}" for r in rounds}
        for p in log:
            if p.verdict is not None and not p.cached:
                sources.setdefault(id(p.verdict), p.key)
        evidence: dict[str, Verdict | None] = {}
        to_run: list[tuple[ProbeSpec, JudgeRequest, tuple[Any, ...]]] = []
        for spec in plan.specs:
            req = spec.apply(first)
            fp = cache.key(req, spec.rewrite)
            hit = cache.get(fp)
            if hit is not None:
                evidence[sources.get(id(hit), spec.key)] = hit
            else:
                to_run.append((spec, req, fp))
        if to_run and self.budget_run is not None:
            gate = self.budget_run.gate_resolution(ticket, len(to_run))
            if not gate.run:
                log.extend(skipped_probe(None, spec.key, "resolution", gate.reason) for spec, _, _ in to_run)
                to_run = []
        if to_run:
            outcomes = yield ProbeCall([(spec, req) for spec, req, _ in to_run])
            for (spec, _req, fp), out in zip(to_run, outcomes, strict=True):
                if isinstance(out, Failure):
                    evidence[spec.key] = None
                    log.append(ProbeRecord(key=spec.key, detector="resolution",
                                           error=f"{type(out.exc).__name__}: {out.exc}"))
                else:
                    evidence[spec.key] = out
                    cache.put(fp, out)
                    log.append(ProbeRecord(key=spec.key, detector="resolution", verdict=out,
                                           gate="resolution" if self.budget_run is not None else None))
        found = resolve(list(evidence.items()), plan)
        if found.verdict is None:
            return Status.UNRESOLVED, rounds[-1].verdict, found.resolution
        done = found.resolution.kind is not ResolutionKind.TIE and not found.resolution.unremoved
        return (Status.RESOLVED if done else Status.UNRESOLVED), found.verdict, found.resolution

    def _detect(self, ctx: DetectContext, index: int, cache: ProbeCache,
                log: list[ProbeRecord], ticket: int = 0) -> Generator[Any, Any, list[Finding]]:
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
            fp = cache.key(req, spec.rewrite)
            hit = cache.get(fp) if fp is not None else None
            if hit is not None:
                results[key] = hit
                log.append(ProbeRecord(key=f"r{index}:{key}", detector=det_name, verdict=hit, cached=True))
            else:
                to_run.append((key, det_name, spec, req, fp))
        gates: dict[str, GateDecision] = {}
        if to_run and self.budget_run is not None:
            to_run = self._gate(ctx, index, ticket, plans, to_run, gates, log)
        if to_run:
            outcomes = yield ProbeCall([(spec, req) for _, _, spec, req, _ in to_run])
            for (key, det_name, _spec, _req, fp), out in zip(to_run, outcomes, strict=True):
                gate = gates[det_name].gate if det_name in gates else None
                if isinstance(out, Failure):
                    results[key] = None
                    log.append(ProbeRecord(key=f"r{index}:{key}", detector=det_name, gate=gate,
                                           error=f"{type(out.exc).__name__}: {out.exc}"))
                else:
                    results[key] = out
                    if fp is not None:
                        cache.put(fp, out)
                    log.append(ProbeRecord(key=f"r{index}:{key}", detector=det_name, verdict=out, gate=gate))
        ordered: list[Finding] = []
        for k, (det, specs) in enumerate(plans):
            if k not in findings:
                try:
                    findings[k] = det.assess(ctx, {s.key: results.get(s.key) for s in specs})
                except Exception as exc:
                    if self.strict:
                        raise
                    findings[k] = errored(det, exc)
                gate = gates.get(det.name)
                if gate is not None and not gate.run and findings[k].status == "skipped":
                    findings[k] = skipped(det, gate.reason)
                elif gate is not None and index == 0 and self.budget_run is not None:
                    self.budget_run.observe(det.name, gate.gate, findings[k])
            ordered.append(findings[k])
        for mdet, plan in plan_model_detectors(self.model_detectors, ordered):
            if not plan.call:
                ordered.append(skipped(mdet, plan.reason))
                continue
            ordered.append((yield ModelDetectCall(mdet, ctx, list(ordered))))
        return ordered

    def _gate(self, ctx: DetectContext, index: int, ticket: int, plans: list[tuple[Detector, list[ProbeSpec]]],
              to_run: list[tuple[str, str, ProbeSpec, JudgeRequest, tuple[Any, ...] | None]],
              gates: dict[str, GateDecision], log: list[ProbeRecord],
              ) -> list[tuple[str, str, ProbeSpec, JudgeRequest, tuple[Any, ...] | None]]:
        """The probes the budget lets run; the others are logged as skipped with the reason."""
        run = self.budget_run
        assert run is not None
        by_name = {det.name: det for det, _ in reversed(plans)}
        generic = margin_signal(ctx.verdict, run.budget.margin)
        found = {f.detector for r in ctx.history for f in r.findings if f.actionable}
        for det_name in dict.fromkeys(name for _, name, _, _, _ in to_run):
            cost = sum(1 for _, name, _, _, _ in to_run if name == det_name)
            signal = generic
            if signal is None and det_name in by_name:
                try:
                    signal = detector_signal(by_name[det_name], ctx)
                except Exception as exc:
                    if self.strict:
                        raise
                    signal = f"signal check failed ({type(exc).__name__}: {exc})"
            required = bool(getattr(by_name.get(det_name), "signal_required", False))
            gates[det_name] = run.gate(ticket, ctx.item.id, det_name, cost, signal, index,
                                       recheck=det_name in found, signal_required=required)
        kept = []
        for entry in to_run:
            gate = gates[entry[1]]
            if gate.run:
                kept.append(entry)
            else:
                log.append(skipped_probe(index, entry[0], entry[1], gate.reason))
        return kept

    # ------------------------------------------------------------------ drivers
    def _probe_request(self, spec: ProbeSpec, req: JudgeRequest) -> JudgeRequest:
        """The probe's request with its rewrites (``a+b``: chained in turn) applied."""
        if spec.rewrite is None:
            return req
        assert self.rewriter is not None
        item = req.item
        for op in spec.rewrite.split(REWRITE_SEP):
            item = item.model_copy(update={"candidates": self.rewriter.rewrite(op, item)})
        return req.variant(item=item)

    async def _aprobe_request(self, spec: ProbeSpec, req: JudgeRequest) -> JudgeRequest:
        if spec.rewrite is None:
            return req
        assert self.rewriter is not None
        item = req.item
        for op in spec.rewrite.split(REWRITE_SEP):
            item = item.model_copy(update={"candidates": await self.rewriter.arewrite(op, item)})
        return req.variant(item=item)

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
