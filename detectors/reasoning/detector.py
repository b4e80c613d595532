"""The reasoning-based detector (RBD-style): a small LM writes a bias analysis, then Yes/No.

For a verdict, the detector decides which bias types to check (see
:meth:`ReasoningDetector.biases_for`), renders the RBD training format for each
(:mod:`detectors.reasoning.format`), asks its backend, parses ``<think>...</think>`` +
Yes/No (:mod:`detectors.reasoning.parse`), and returns one finding. The finding's
``analysis`` is the reasoning with explicit answer recommendations removed: this is what
the loop feeds back to the judge. An unparseable output gives an ``error`` finding.

Confidence: with a backend that scores options (local transformers), P(Yes) is read from
the log-probabilities of ``Yes``/``No`` after the generated reasoning (one extra forward
pass); with a backend returning top log-probabilities, from the last position offering
Yes or No; otherwise an uncalibrated default (``default_confidence`` for a well-formed
answer, 0.1 less for an answer found by a fallback rule).

The logic is one generator core (yielding model-call effects) driven synchronously,
asynchronously, or in lock-step over many items for batched local generation
(:meth:`ReasoningDetector.detect_many`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from debias.backends import (
    ChatBackend,
    Completion,
    GenerateCall,
    Message,
    OptionsCall,
    Sampling,
    ahandle,
    complete_many,
    create_backend,
    handle,
)
from debias.cascade import Band, decide_cascade
from debias.contract import DetectContext, errored, skipped
from debias.effects import adrive, drive
from debias.errors import ConfigError
from debias.options import DetectorOptions
from debias.types import Evidence, Finding, Usage, Verdict
from detectors.reasoning.confidence import (
    YES_NO,
    continues_prefix,
    p_yes_from_logprobs,
    p_yes_from_top_logprobs,
    scoring_prefix,
)
from detectors.reasoning.format import (
    DEFAULT_TEMPLATE,
    RBD_BIASES,
    RBDTemplate,
    input_from_verdicts,
    to_messages,
)
from detectors.reasoning.parse import ParsedDetection, feedback_analysis, parse_detection

VERSION = "1"
HINT_KEYS = ("bias", "bias_category", "bias_type")
VERBOSITY_RATIO = 2.0
"""Auto mode checks verbosity on a pair whose longer candidate has at least this many
times the characters of the shorter one, when no cheap verbosity finding exists (the RBD
verbosity items pair a short answer with a long one)."""


def _parse_biases(v: Any) -> tuple[str, ...]:
    if v is None or v == "" or v == "auto":
        return ()
    parts = [p for p in str(v).replace("|", "+").replace(" ", "+").split("+") if p] \
        if isinstance(v, str) else [str(p) for p in v]
    bad = [p for p in parts if p not in RBD_BIASES]
    if bad:
        raise ValueError(f"biases {bad} not among {RBD_BIASES} (join several with '+', or use 'auto')")
    return tuple(dict.fromkeys(parts))


class ReasoningOptions(DetectorOptions):
    """Options of the reasoning detector (the ones a detector spec string can set).

    Attributes:
        biases: Bias types to check; empty means ``auto`` (decided per item). A spec
            string joins several with ``+``.
        cascade: ``always``, ``never`` or ``on-signal``.
        adapter: peft LoRA adapter path for a local backend.
        api_base: Server URL for a remote backend.
        judge_model: Judge name shown to the detector (default: the verdict's judge).
        max_tokens: Generation budget.
        temperature: Sampling temperature.
        low: Lower bound of the ambiguous confidence band of cheap findings.
        high: Upper bound of that band.
        score_confidence: Score Yes/No log-probabilities after the reasoning.
        logprobs: Ask the backend for top log-probabilities of generated tokens.
        default_confidence: Confidence of a well-formed answer without log-probabilities.
        max_analysis_chars: Length limit of the analysis fed back to the judge.
        batch_size: Chats per batched generation.
        concurrency: Concurrent requests in async batches.
        strict: Let a failing model call raise.
        list_all_types: Use the prompt variant listing all four bias definitions.
    """

    biases: Annotated[tuple[str, ...], BeforeValidator(_parse_biases)] = ()
    cascade: Literal["always", "never", "on-signal"] = "on-signal"
    adapter: str | None = None
    api_base: str | None = None
    judge_model: str | None = None
    max_tokens: int = Field(default=1024, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    low: float = Field(default=0.35, ge=0.0, le=1.0)
    high: float = Field(default=0.65, ge=0.0, le=1.0)
    score_confidence: bool = True
    logprobs: bool = False
    default_confidence: float = Field(default=0.7, ge=0.1, le=1.0)
    max_analysis_chars: int = Field(default=2000, ge=0)
    batch_size: int = Field(default=4, ge=1)
    concurrency: int = Field(default=8, ge=1)
    strict: bool = False
    list_all_types: bool = False

    @model_validator(mode="after")
    def _band_ordered(self) -> ReasoningOptions:
        if self.low > self.high:
            raise ValueError(f"ambiguous band: low {self.low} is above high {self.high}")
        return self


class Check(BaseModel):
    """One planned bias check: the bias and the chat sent to the backend.

    Attributes:
        bias: Bias type checked.
        messages: The rendered chat (one user message).
    """

    model_config = ConfigDict(frozen=True)

    bias: str
    messages: list[dict[str, str]]


class CheckResult(BaseModel):
    """Outcome of one check.

    Attributes:
        bias: Bias type checked.
        parsed: The parsed output.
        confidence: Confidence in the parsed label.
        confidence_source: ``option_logprobs``, ``top_logprobs`` or ``default``.
        p_yes: P(Yes) when log-probabilities were available.
        text: The raw output.
        calls: Model calls made.
        usage: Usage of those calls.
        error: Why the model call failed (None when it answered).
    """

    bias: str
    parsed: ParsedDetection
    confidence: float = 0.0
    confidence_source: str = "default"
    p_yes: float | None = None
    text: str = ""
    calls: int = 0
    usage: Usage = Field(default_factory=Usage)
    error: str | None = None


class ReasoningDetector:
    """RBD-style reasoning detector (a :class:`~debias.contract.ModelDetector`).

    Args:
        backend: A :class:`~debias.backends.base.ChatBackend`, or a spec for
            :func:`~debias.backends.create_backend` (``local`` = embedded SmolLM2;
            ``local:/path`` or ``local:/path.gguf``; ``openai-compat:MODEL``; a litellm
            model string). A spec is built on first use.
        biases: Bias types to check, ``auto`` (default: decided per item, see
            :meth:`biases_for`) or names joined by ``+`` / a list.
        cascade: ``always``, ``never`` or ``on-signal`` (default): call the model only for
            biases whose cheap findings fired, are ambiguous, failed, or are missing.
        policy: On-bias policy (default ``revise``).
        adapter: peft LoRA adapter path for a local backend.
        api_base: Server URL for a remote (litellm, openai-compat) backend.
        judge_model: Judge name shown to the detector (default: the verdict's judge,
            provider prefix dropped).
        max_tokens: Generation budget (RBD traces average several hundred tokens).
        temperature: Sampling temperature (default greedy).
        low: Lower bound of the ambiguous confidence band of cheap findings.
        high: Upper bound of that band.
        score_confidence: Score Yes/No log-probabilities after the reasoning when the
            backend can continue a given prefix (local backends; litellm with
            ``prefill=True``): one extra forward pass.
        logprobs: Ask the backend for top log-probabilities of the generated tokens
            (remote servers that support it, e.g. vLLM); the answer token's
            alternatives then give the confidence without an extra call.
        default_confidence: Confidence of a well-formed answer without log-probabilities.
        max_analysis_chars: Length limit of the analysis fed back to the judge.
        batch_size: Chats per batched generation in :meth:`detect_many`.
        concurrency: Concurrent requests in :meth:`adetect_many`.
        template: Prompt wording (:class:`~detectors.reasoning.format.RBDTemplate`).
        backend_options: Extra keyword arguments for the backend's constructor.
        strict: Let a failing model call raise (default: it becomes an ``error`` finding
            about the bias being checked, so benchmarks count it as wrong).
        list_all_types: Use the generic prompt variant listing all four bias definitions
            (shorthand for ``template=RBDTemplate(list_all_types=True)``).
    """

    name = "reasoning"
    version = VERSION

    def __init__(
        self,
        backend: ChatBackend | str = "local",
        *,
        biases: str | Sequence[str] | None = "auto",
        cascade: str = "on-signal",
        policy: str = "revise",
        adapter: str | None = None,
        api_base: str | None = None,
        judge_model: str | None = None,
        max_tokens: int | str = 1024,
        temperature: float | str = 0.0,
        low: float | str = 0.35,
        high: float | str = 0.65,
        score_confidence: bool | str = True,
        logprobs: bool | str = False,
        default_confidence: float | str = 0.7,
        max_analysis_chars: int | str = 2000,
        batch_size: int | str = 4,
        concurrency: int | str = 8,
        template: RBDTemplate | None = None,
        backend_options: dict[str, Any] | None = None,
        strict: bool | str = False,
        list_all_types: bool | str = False,
    ) -> None:
        opts = ReasoningOptions.parse(
            self.name, policy=policy, biases=biases, cascade=cascade, adapter=adapter,
            api_base=api_base, judge_model=judge_model, max_tokens=max_tokens,
            temperature=temperature, low=low, high=high, score_confidence=score_confidence,
            logprobs=logprobs, default_confidence=default_confidence,
            max_analysis_chars=max_analysis_chars, batch_size=batch_size,
            concurrency=concurrency, strict=strict, list_all_types=list_all_types)
        self.options = opts
        self.policy = opts.policy
        self.cascade = opts.cascade
        self.biases = opts.biases
        self.bias = self.biases[0] if len(self.biases) == 1 else "other"
        self.band = Band(low=opts.low, high=opts.high)
        self.sampling = Sampling(temperature=opts.temperature, max_tokens=opts.max_tokens,
                                 logprobs=opts.logprobs, top_logprobs=5 if opts.logprobs else 0)
        self.score_confidence = opts.score_confidence
        self.default_confidence = opts.default_confidence
        self.max_analysis_chars = opts.max_analysis_chars
        self.batch_size = opts.batch_size
        self.concurrency = opts.concurrency
        self.judge_model = opts.judge_model
        self.strict = opts.strict
        self.template = template or DEFAULT_TEMPLATE
        if opts.list_all_types:
            self.template = self.template.model_copy(update={"list_all_types": True})
        if isinstance(backend, str):
            if not backend.strip():
                raise ConfigError("detector 'reasoning': backend spec is empty")
            self.backend_spec: str = backend
            self._backend: ChatBackend | None = None
        else:
            if not isinstance(backend, ChatBackend):
                raise ConfigError(f"detector 'reasoning': {type(backend).__name__} is not a "
                                  "ChatBackend (needs name, complete, acomplete)")
            self.backend_spec = getattr(backend, "name", type(backend).__name__)
            self._backend = backend
        self._backend_args = {"adapter": opts.adapter, "api_base": opts.api_base,
                              **(backend_options or {})}

    # ------------------------------------------------------------------ backend
    @property
    def backend(self) -> ChatBackend:
        """The backend (built from the spec on first use)."""
        if self._backend is None:
            self._backend = create_backend(self.backend_spec, **self._backend_args)
        return self._backend

    # --------------------------------------------------------------- planning
    def biases_for(self, ctx: DetectContext, findings: Sequence[Finding]) -> list[str]:
        """Bias types that apply to this verdict (before the cascade filter).

        Configured biases are used as given (those that cannot be rendered drop out).
        ``auto``: an explicit per-item hint (``item.metadata`` key ``bias``,
        ``bias_category`` or ``bias_type`` naming an RBD bias) wins; otherwise bandwagon
        when the verdict was made with a cue shown, position when a verdict in another
        display order is known, verbosity when a cheap verbosity finding exists or the
        pair's lengths differ by :data:`VERBOSITY_RATIO`, sentiment when a cheap
        sentiment finding exists.
        """
        item, verdict = ctx.item, ctx.verdict
        if item.task not in ("pairwise", "choice"):
            return []
        if self.biases:
            wanted = list(self.biases)
        else:
            hint = next((str(item.metadata[k]).lower() for k in HINT_KEYS
                         if k in item.metadata), None)
            if hint in RBD_BIASES:
                wanted = [hint]
            else:
                cheap = {f.bias for f in findings if f.status == "ok" and f.calls == 0}
                lengths = [len(c) for c in item.candidates]
                wanted = [
                    b for b, applies in (
                        ("bandwagon", True),
                        ("position", True),
                        ("verbosity", "verbosity" in cheap or (
                            item.task == "pairwise"
                            and max(lengths) >= VERBOSITY_RATIO * max(min(lengths), 1))),
                        ("sentiment", "sentiment" in cheap),
                    ) if applies
                ]
        out = []
        for b in wanted:
            if b == "bandwagon" and not (verdict.with_cue and item.cue):
                continue
            if b == "position" and other_order_verdict(ctx, findings) is None:
                continue
            if verdict.choice is None and not verdict.tie:
                continue
            out.append(b)
        return out

    def plan(self, ctx: DetectContext, findings: Sequence[Finding]) -> tuple[list[Check], str]:
        """The checks to run for this verdict and the cascade's reason (pure)."""
        candidates = self.biases_for(ctx, findings)
        if not candidates:
            return [], "no applicable bias type for this verdict"
        decision = decide_cascade(self.cascade, findings, candidates, self.band)
        if not decision.call:
            return [], decision.reason
        chosen = [b for b in candidates if b in decision.biases] if decision.biases else candidates
        other = other_order_verdict(ctx, findings)
        checks = []
        for b in chosen:
            inp = input_from_verdicts(ctx.item, b, ctx.verdict, other if b == "position" else None,
                                      judge_model=self.judge_model)
            checks.append(Check(bias=b, messages=to_messages(inp, self.template)))
        return checks, decision.reason

    # ------------------------------------------------------------------- core
    def _core(self, ctx: DetectContext, findings: Sequence[Finding]) -> Generator[Any, Any, Finding]:
        checks, why = self.plan(ctx, findings)
        if not checks:
            return skipped(self, why)
        results = []
        for check in checks:
            try:
                completion: Completion = yield GenerateCall(check.messages, self.sampling)
            except Exception as exc:
                if self.strict:
                    raise
                failure = f"model call failed: {type(exc).__name__}: {exc}"
                results.append(CheckResult(bias=check.bias, calls=1, error=failure,
                                           parsed=ParsedDetection(label=None, reason=failure)))
                continue
            result = CheckResult(bias=check.bias, parsed=parse_detection(completion.text),
                                 text=completion.text, calls=1, usage=completion.usage)
            result = yield from self._confidence(check.messages, completion, result)
            results.append(result)
        return self._finding(results, why)

    def _confidence(self, messages: list[Message], completion: Completion,
                    result: CheckResult) -> Generator[Any, Any, CheckResult]:
        parsed = result.parsed
        if not parsed.ok:
            return result
        p_yes: float | None = None
        source = "default"
        usage, calls = result.usage, result.calls
        prefix = scoring_prefix(completion.text, parsed)
        if self.score_confidence and prefix is not None and continues_prefix(self.backend):
            calls += 1
            try:
                logprobs, extra = yield OptionsCall(messages, prefix, list(YES_NO))
                usage = usage.add(extra)
                p_yes, source = p_yes_from_logprobs(logprobs), "option_logprobs"
            except Exception:  # scoring is optional: fall back to the other sources
                p_yes = None
        if p_yes is None:
            p_yes = p_yes_from_top_logprobs(completion.top_logprobs)
            source = "top_logprobs" if p_yes is not None else "default"
        if p_yes is not None:
            conf = p_yes if parsed.label == "Yes" else 1.0 - p_yes
        else:
            conf = self.default_confidence - (0.0 if parsed.well_formed else 0.1)
        return result.model_copy(update={"confidence": min(max(conf, 0.0), 1.0), "p_yes": p_yes,
                                         "confidence_source": source, "usage": usage,
                                         "calls": calls})

    def _finding(self, results: list[CheckResult], cascade_reason: str) -> Finding:
        calls = sum(r.calls for r in results)
        usage = Usage()
        for r in results:
            usage = usage.add(r.usage)
        checked = [
            {"bias": r.bias, "label": r.parsed.label, "found_in": r.parsed.found_in,
             "confidence": round(r.confidence, 4), "confidence_source": r.confidence_source,
             "p_yes": r.p_yes, "well_formed": r.parsed.well_formed}
            for r in results
        ]
        values: dict[str, Any] = {"backend": self.backend_spec, "format": self.template.version,
                                  "cascade": cascade_reason, "checked": checked}
        base = {"detector": self.name, "version": self.version, "policy": self.policy,
                "calls": calls, "usage": usage}
        yes = [r for r in results if r.parsed.label == "Yes"]
        failed = [r for r in results if not r.parsed.ok]
        if yes:
            top = max(yes, key=lambda r: r.confidence)
            chosen, detected = top, True
        elif failed:
            bad = failed[0]
            values["output"] = bad.text[:2000]
            reason = (f"{bad.bias} check: {bad.error}" if bad.error else
                      f"unparseable detector output for {bad.bias}: {bad.parsed.reason}")
            return Finding(**base, bias=bad.bias, status="error", reason=reason,  # type: ignore[arg-type]
                           evidence=Evidence(compared=_compared(self.backend_spec, [bad.bias]),
                                             values=values))
        else:
            chosen, detected = min(results, key=lambda r: r.confidence), False
        analysis, removed = feedback_analysis(chosen.parsed.analysis,
                                              max_chars=self.max_analysis_chars)
        values["removed_recommendations"] = removed
        return Finding(**base, bias=chosen.bias, detected=detected,  # type: ignore[arg-type]
                       confidence=chosen.confidence, analysis=analysis,
                       evidence=Evidence(compared=_compared(self.backend_spec,
                                                            [r.bias for r in results]),
                                         values=values))

    # --------------------------------------------------------------- drivers
    def _handle(self, effect: GenerateCall | OptionsCall) -> Any:
        return handle(self.backend, effect)

    async def _ahandle(self, effect: GenerateCall | OptionsCall) -> Any:
        return await ahandle(self.backend, effect)

    def detect(self, ctx: DetectContext, findings: list[Finding]) -> Finding:
        """Examine ``ctx.verdict`` given the cheap findings.

        A failed model call or an unparseable output gives an ``error`` finding (with
        ``strict``, a failed call raises instead).
        """
        return drive(self._core(ctx, findings), self._handle)

    async def adetect(self, ctx: DetectContext, findings: list[Finding]) -> Finding:
        """Async variant of :meth:`detect`."""
        return await adrive(self._core(ctx, findings), self._ahandle)

    def detect_many(self, contexts: Sequence[DetectContext],
                    findings: Sequence[Sequence[Finding]] | None = None,
                    *, strict: bool = False) -> list[Finding]:
        """Detect on many verdicts, generating in batches of ``batch_size`` (offline use).

        All items advance in lock-step: every pending generation is sent to the backend
        together (batched when it has ``complete_many``), then every pending Yes/No
        scoring. A failing item yields an error finding (``strict`` re-raises).
        """
        return _drive_many(self, contexts, findings, strict)

    async def adetect_many(self, contexts: Sequence[DetectContext],
                           findings: Sequence[Sequence[Finding]] | None = None,
                           *, strict: bool = False) -> list[Finding]:
        """Async :meth:`detect_many`: up to ``concurrency`` requests in flight."""
        sem = asyncio.Semaphore(self.concurrency)
        lists = findings if findings is not None else [[] for _ in contexts]

        async def one(ctx: DetectContext, fs: Sequence[Finding]) -> Finding:
            async with sem:
                try:
                    return await self.adetect(ctx, list(fs))
                except Exception as exc:
                    if strict:
                        raise
                    return errored(self, exc)

        return list(await asyncio.gather(*(one(c, f) for c, f in zip(contexts, lists, strict=True))))


def _compared(backend: str, biases: list[str]) -> str:
    return (f"a reasoning model ({backend}) read the instruction, the candidates as displayed "
            f"and the judge's decision, and checked for {', '.join(biases)} bias")


def other_order_verdict(ctx: DetectContext, findings: Sequence[Finding]) -> Verdict | None:
    """A verdict on the same item in another display order, if one is known.

    Sources, in order: the cheap position finding's evidence (``orders``/``choices``, as
    written by :class:`~detectors.position.PositionDetector`), then the item's recorded
    verdicts with the same cue setting. Among several, one whose decision differs from
    ``ctx.verdict`` is preferred (the informative one).
    """
    verdict = ctx.verdict
    found: list[Verdict] = []
    for f in findings:
        if f.bias != "position" or f.status != "ok":
            continue
        orders = f.evidence.values.get("orders") or []
        choices = f.evidence.values.get("choices") or []
        for order, choice in zip(orders, choices, strict=False):
            if list(order) == list(verdict.order):
                continue
            try:
                found.append(Verdict(judge=verdict.judge, order=list(order), choice=choice,
                                     tie=choice is None, with_cue=verdict.with_cue))
            except ValueError:
                continue
    for v in ctx.item.verdicts:
        if list(v.order) != list(verdict.order) and v.with_cue == verdict.with_cue \
                and (v.choice is not None or v.tie):
            found.append(v)
    if not found:
        return None
    differing = [v for v in found if not v.same_decision(verdict)]
    return (differing or found)[0]


def _drive_many(det: ReasoningDetector, contexts: Sequence[DetectContext],
                findings: Sequence[Sequence[Finding]] | None, strict: bool) -> list[Finding]:
    lists = findings if findings is not None else [[] for _ in contexts]
    if len(lists) != len(contexts):
        raise ConfigError(f"detect_many: {len(contexts)} contexts but {len(lists)} finding lists")
    results: list[Finding | None] = [None] * len(contexts)
    pending: dict[int, tuple[Generator[Any, Any, Finding], Any]] = {}

    def advance(i: int, core: Generator[Any, Any, Finding], value: Any, throw: bool) -> None:
        try:
            effect = core.throw(value) if throw else (next(core) if value is _START else core.send(value))
        except StopIteration as stop:
            results[i] = stop.value
            pending.pop(i, None)
            return
        except Exception as exc:
            if strict:
                raise
            results[i] = errored(det, exc)
            pending.pop(i, None)
            return
        pending[i] = (core, effect)

    for i, (ctx, fs) in enumerate(zip(contexts, lists, strict=True)):
        advance(i, det._core(ctx, list(fs)), _START, False)
    while pending:
        gens = [(i, c, e) for i, (c, e) in pending.items() if isinstance(e, GenerateCall)]
        if gens:
            sampling = gens[0][2].sampling
            outs = complete_many(det.backend, [e.messages for _, _, e in gens], sampling,
                                 batch_size=det.batch_size)
            for (i, core, _), out in zip(gens, outs, strict=True):
                advance(i, core, out, isinstance(out, BaseException))
            continue
        for i, (core, effect) in list(pending.items()):
            try:
                value, throw = det._handle(effect), False
            except Exception as exc:
                value, throw = exc, True
            advance(i, core, value, throw)
    return [r if r is not None else errored(det, RuntimeError("no result")) for r in results]


_START = object()
