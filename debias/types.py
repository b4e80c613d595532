"""The judged-item record and everything the loop records about it.

These models are the public contract documented in the README: field names are stable.
Indices in ``choice`` and ``label`` are always in the ORIGINAL candidate numbering;
``order`` says how candidates were displayed (``order[slot] = original index``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

TaskType = Literal["pairwise", "choice", "score"]
BiasType = Literal["position", "bandwagon", "verbosity", "sentiment", "other"]
#: What happens when a detector finds bias: ask the judge to revise, adopt the
#: detector's aggregated verdict, only flag it, or raise.
Policy = Literal["revise", "aggregate", "flag", "raise"]

CANDIDATE_LIMITS: dict[str, tuple[int, int]] = {
    "pairwise": (2, 2),
    "choice": (2, 10),
    "score": (1, 1),
}


class Status(str, Enum):
    """Outcome of debiasing one item. A status never claims more than happened.

    Attributes:
        CLEAN: No actionable bias on the judge's first verdict; it is final.
        REVISED: The judge revised its verdict after feedback and the revision passed the
            detectors; the judge's own revision is final.
        RESOLVED: Bias was found and the judge did not comply (it repeated or
            oscillated, the rounds ran out, or the policy is ``aggregate``); the final
            verdict is the judge's verdict with every detected bias factor removed
            (counterfactual probes, see :class:`Resolution`).
        UNRESOLVED: Bias was found and the counterfactual evidence disagrees (a tie), or
            no probe could remove a detected factor (the judge's last verdict is kept).
        ERROR: The judge failed on the first judgement (or the item raised).
    """

    CLEAN = "clean"
    REVISED = "revised"
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    ERROR = "error"


class Usage(BaseModel):
    """Model usage accumulated over calls.

    Attributes:
        calls: Number of model calls actually sent (cache hits excluded).
        cached_calls: Number of calls answered from the cache.
        prompt_tokens: Prompt tokens reported by the backend.
        completion_tokens: Completion tokens reported by the backend.
        cost: Cost in USD as reported by litellm's pricing table (0 when unknown).

    Immutable (sums are new objects, see :meth:`add`), so one zero usage is the shared
    default of every verdict and finding.
    """

    model_config = ConfigDict(frozen=True)

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, other: Usage) -> Usage:
        """Return the sum of two usages (neither is modified)."""
        return Usage(
            calls=self.calls + other.calls,
            cached_calls=self.cached_calls + other.cached_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost=self.cost + other.cost,
        )

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


#: The zero usage (immutable; the default of every ``usage`` field).
NO_USAGE = Usage()


class Verdict(BaseModel):
    """One judgement of an item by a judge, in one display order.

    Attributes:
        judge: Name of the judge (model string or function name).
        order: Display order as indices into ``candidates``: ``order[slot]`` is the
            original index shown in display slot ``slot``.
        choice: Chosen candidate as an index in the ORIGINAL numbering (never the
            display slot). ``None`` for a tie or for score tasks.
        score: The score, for score tasks.
        raw: The judge's raw text.
        with_cue: Whether the item's cue was shown to the judge.
        probs: Preference distribution over candidates in original numbering, when the
            judge exposes it (log-probability judges).
        confidence: Confidence of the choice in [0, 1] when known.
        tie: True when the judge declared a tie or aggregation produced one.
        usage: Model usage spent producing this verdict.
    """

    model_config = ConfigDict(extra="allow")

    judge: str = "unknown"
    order: list[int]
    choice: int | None = None
    score: float | None = None
    raw: str = ""
    with_cue: bool = True
    probs: list[float] | None = None
    confidence: float | None = None
    tie: bool = False
    usage: Usage = NO_USAGE

    @field_validator("order")
    @classmethod
    def _order_is_permutation(cls, v: list[int]) -> list[int]:
        if sorted(v) != list(range(len(v))):
            raise ValueError(f"order {v} is not a permutation of 0..{len(v) - 1}")
        return v

    @model_validator(mode="after")
    def _choice_in_range(self) -> Verdict:
        if self.choice is not None and not 0 <= self.choice < len(self.order):
            raise ValueError(f"choice {self.choice} out of range for {len(self.order)} candidates")
        return self

    def same_decision(self, other: Verdict | None) -> bool:
        """True when both verdicts pick the same candidate (or same score / both ties)."""
        if other is None:
            return False
        if self.score is not None or other.score is not None:
            return self.score == other.score
        return self.choice == other.choice and self.tie == other.tie


class Item(BaseModel):
    """A judged item: one line of the JSONL contract.

    Attributes:
        id: Unique identifier of the item.
        task: ``pairwise`` (2 candidates), ``choice`` (2-10) or ``score`` (1).
        instruction: The question or instruction the candidates answer.
        candidates: Candidate answers in their original numbering.
        cue: Optional extra statement shown to the judge besides the task, e.g.
            ``"90% believe that Output (b) is better"``.
        label: Optional gold: index of the better/correct candidate (0-based), or the
            gold score for score tasks.
        metadata: Free-form metadata, carried through untouched.
        verdicts: Verdicts already recorded for this item (for audits).
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    task: TaskType
    instruction: str
    candidates: list[str]
    cue: str | None = None
    label: float | int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    verdicts: list[Verdict] = Field(default_factory=list)

    @field_validator("id", mode="before")
    @classmethod
    def _id_to_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _check_counts(self) -> Item:
        lo, hi = CANDIDATE_LIMITS[self.task]
        n = len(self.candidates)
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo}-{hi}"
            raise ValueError(f"candidates: task {self.task!r} needs {want} candidates, got {n}")
        if self.label is not None and self.task != "score":
            if float(self.label) != int(self.label) or not 0 <= int(self.label) < n:
                raise ValueError(f"label: {self.label!r} is not a candidate index in 0..{n - 1}")
            self.label = int(self.label)
        for k, v in enumerate(self.verdicts):
            if len(v.order) != n:
                raise ValueError(f"verdicts[{k}].order: has {len(v.order)} entries, item has {n} candidates")
        return self

    @property
    def n(self) -> int:
        """Number of candidates."""
        return len(self.candidates)

    def identity_order(self) -> list[int]:
        """The display order that shows candidates in their original numbering."""
        return list(range(self.n))


def _keep_instances_of(cls: type[BaseModel]) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    def keep(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        return value if isinstance(value, cls) else handler(value)

    return keep


#: An :class:`Item` field for internal models (requests, detector contexts): an Item
#: instance is taken as it is, because it was validated when it was built (pydantic
#: would re-run the item's after-validator every time the instance is passed on);
#: dicts and JSON are validated in full as before.
ValidItem = Annotated[Item, WrapValidator(_keep_instances_of(Item))]
#: The same for :class:`Verdict` fields.
ValidVerdict = Annotated[Verdict, WrapValidator(_keep_instances_of(Verdict))]


class Evidence(BaseModel):
    """What a detector compared and what changed.

    Attributes:
        compared: Human-readable description of the comparison made.
        values: Measured numbers or labels (e.g. lengths, verdicts per order).
        probes: Keys of the probes whose verdicts were used.
    """

    model_config = ConfigDict(frozen=True)

    compared: str = ""
    values: dict[str, Any] = Field(default_factory=dict)
    probes: list[str] = Field(default_factory=list)


class Finding(BaseModel):
    """A detector's report on one verdict.

    Attributes:
        detector: Registered detector name.
        version: Detector version (bumped whenever its logic changes).
        bias: Bias type checked.
        detected: Whether bias was found.
        confidence: Confidence in ``detected`` in [0, 1].
        evidence: What was compared and what changed.
        analysis: Short analysis addressed to the judge. Never names the answer to pick.
        status: ``ok``, ``skipped`` (see ``reason``) or ``error``.
        reason: Why the detector skipped or failed.
        policy: On-bias policy of the detector that produced this finding.
        suggested: For ``aggregate`` policies: the aggregated verdict the detector proposes.
        calls: Detector model calls made (reasoning detectors).

    Findings are immutable: a detector may hand out the same instance for the same
    input (skipped findings, memoised assessments of a verdict pattern).
    """

    model_config = ConfigDict(frozen=True)

    detector: str
    version: str = "1"
    bias: BiasType
    detected: bool = False
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    evidence: Evidence = Field(default_factory=Evidence)
    analysis: str = ""
    status: Literal["ok", "skipped", "error"] = "ok"
    reason: str | None = None
    policy: Policy = "revise"
    suggested: ValidVerdict | None = None
    calls: int = 0
    usage: Usage = NO_USAGE

    @property
    def actionable(self) -> bool:
        """A successful finding that detected bias."""
        return self.status == "ok" and self.detected


class Feedback(BaseModel):
    """What goes back to the judge for a revision: evidence and analysis, never the answer.

    Attributes:
        prior: The judge's previous verdict.
        findings: The findings that triggered the revision.
        text: The rendered feedback message.
    """

    prior: ValidVerdict
    findings: list[Finding]
    text: str


class Action(str, Enum):
    """What the loop does after a round (see :func:`debias.loop.decide`)."""

    ACCEPT = "accept"
    REVISE = "revise"
    RESOLVE = "resolve"
    RAISE = "raise"


class Reason(str, Enum):
    """Why a round ended as it did, and why the loop stopped.

    Attributes:
        NO_BIAS: No actionable finding (a first verdict, or a revision that complied).
        FLAGGED_ONLY: Only ``flag``-policy findings: the verdict stands, flagged.
        BIAS_FOUND: Bias found; the judge gets feedback (action ``revise``).
        AGGREGATE_POLICY: Bias found by ``aggregate``-policy detectors only: resolve
            counterfactually without asking the judge to revise.
        UNCHANGED: The revision repeated the previous verdict (feedback ignored).
        OSCILLATION: The revision went back to an earlier verdict.
        MAX_ROUNDS: The revision rounds are spent.
        RAISE_POLICY: A ``raise``-policy detector found bias.
        JUDGE_FAILED: The first judgement failed.
        REVISION_FAILED: A revision request failed (the judge could not comply).
        EXCEPTION: An unexpected exception ended the item (recorded by the runner).
        LEGACY: Read from an old record whose free-text reason has no equivalent.
    """

    NO_BIAS = "no_bias"
    FLAGGED_ONLY = "flagged_only"
    BIAS_FOUND = "bias_found"
    AGGREGATE_POLICY = "aggregate_policy"
    UNCHANGED = "unchanged"
    OSCILLATION = "oscillation"
    MAX_ROUNDS = "max_rounds"
    RAISE_POLICY = "raise_policy"
    JUDGE_FAILED = "judge_failed"
    REVISION_FAILED = "revision_failed"
    EXCEPTION = "exception"
    LEGACY = "legacy"


#: Free-text reasons of records written before :class:`Reason` existed.
_LEGACY_REASONS: dict[str, Reason] = {
    "no actionable bias": Reason.NO_BIAS, "flagged only": Reason.FLAGGED_ONLY,
    "bias found": Reason.BIAS_FOUND, "aggregate policy": Reason.AGGREGATE_POLICY,
    "revision changed nothing": Reason.UNCHANGED, "oscillation": Reason.OSCILLATION,
    "max_rounds": Reason.MAX_ROUNDS, "judge failed": Reason.JUDGE_FAILED,
    "revision failed": Reason.REVISION_FAILED, "exception": Reason.EXCEPTION,
    "bias found by a detector with policy 'raise'": Reason.RAISE_POLICY,
    "bias detected (policy raise)": Reason.RAISE_POLICY,
}
_LEGACY_ACTIONS = {"accept": Action.ACCEPT, "revise": Action.REVISE, "aggregate": Action.RESOLVE,
                   "unresolved": Action.RESOLVE, "raise": Action.RAISE}


def legacy_reason(text: str) -> Reason:
    """The :class:`Reason` of an old free-text reason (``aggregated (max_rounds)``, ...)."""
    text = text.strip()
    if text.startswith("aggregated (") and text.endswith(")"):
        text = text[len("aggregated ("):-1]
    text = text.split(":", 1)[0].strip() if text.startswith("revision failed") else text
    return _LEGACY_REASONS.get(text, Reason.LEGACY)


class Decision(BaseModel):
    """What :func:`debias.loop.decide` returned after a round (recorded on the round).

    Attributes:
        action: ``accept``, ``revise``, ``resolve`` (stop; the counterfactual decides) or
            ``raise``.
        reason: Why.
        detectors: Names of the detectors whose findings are behind the decision (sorted).
        biases: Their bias types (sorted, unique).
        findings: The findings themselves (in memory only: the round records them).
    """

    action: Action
    reason: Reason
    detectors: list[str] = Field(default_factory=list)
    biases: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, str):  # "action: reason", as records before 0.3 wrote it
            action, _, reason = data.partition(":")
            return {"action": _LEGACY_ACTIONS.get(action.strip(), Action.ACCEPT),
                    "reason": legacy_reason(reason)}
        return data


class Round(BaseModel):
    """One iteration of the judge → detect → decide loop.

    Attributes:
        index: 0 for the first judgement, then 1, 2, ... for revisions.
        verdict: The verdict produced in this round.
        findings: Findings of every detector on this verdict.
        decision: What ``decide`` returned after this round (None: the round failed).
        feedback: Feedback sent to the judge for the next round, if any.
    """

    index: int
    verdict: ValidVerdict
    findings: list[Finding] = Field(default_factory=list)
    decision: Decision | None = None
    feedback: Feedback | None = None

    @field_validator("decision", mode="before")
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if v == "" else v


class ResolutionKind(str, Enum):
    """How the final verdict was reached.

    Attributes:
        ACCEPTED: The judge's first verdict, with no actionable bias.
        REVISED: The judge's own revision after feedback, which passed the detectors.
        COUNTERFACTUAL: The judge's verdict in the one condition with every detected
            bias factor removed (e.g. the same item without the cue).
        AGGREGATE: The judge's verdicts with every detected factor removed, in several
            display orders, combined (mean preference, or a majority of orders).
        TIE: The counterfactual verdicts disagree: no candidate is supported.
        KEPT: Bias was found but no probe could remove it (no rewriter, failed probes):
            the judge's last verdict is kept, status ``unresolved``.
    """

    ACCEPTED = "accepted"
    REVISED = "revised"
    COUNTERFACTUAL = "counterfactual"
    AGGREGATE = "aggregate"
    TIE = "tie"
    KEPT = "kept"


class Rule(str, Enum):
    """How counterfactual verdicts were combined.

    Attributes:
        SINGLE: One counterfactual verdict, taken as it is.
        MEAN_PROBS: The mean preference distribution over display orders (argmax).
        MAJORITY: A strict majority of the display orders chose the same candidate.
        DISAGREE: The orders chose different candidates (a tie).
        SAME_SLOT: Every order's verdict went to the same display slot: the judge follows
            the slot, so its verdicts carry no information about the candidates (a tie).
        NO_EVIDENCE: No counterfactual verdict could be obtained.
    """

    SINGLE = "single"
    MEAN_PROBS = "mean_probs"
    MAJORITY = "majority"
    DISAGREE = "disagree"
    SAME_SLOT = "same_slot"
    NO_EVIDENCE = "no_evidence"


class Resolution(BaseModel):
    """How the final verdict was reached, and what it rests on.

    Attributes:
        kind: ``accepted`` | ``revised`` | ``counterfactual`` | ``aggregate`` | ``tie`` |
            ``kept``.
        probes: Keys of the verdicts it rests on, as in ``Result.probes`` (``r0`` is
            round 0's own verdict, ``r0:no_cue`` a detector's probe, ``cf:...`` a joint
            probe planned by the resolution).
        removed: Bias factors removed in the counterfactual condition (``cue``,
            ``order``, ``rewrite:equalize_length``, ``candidates``).
        unremoved: Bias types detected that no probe could remove.
        rule: How several counterfactual verdicts were combined (None for accepted or
            revised verdicts).
    """

    kind: ResolutionKind
    probes: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    unremoved: list[str] = Field(default_factory=list)
    rule: Rule | None = None


class ProbeRecord(BaseModel):
    """A counterfactual re-judgement requested by a detector.

    Attributes:
        key: Cache key of the probe within the item (e.g. ``swap``, ``no_cue``).
        detector: Detector that asked for it.
        verdict: The verdict obtained (None on error).
        cached: Whether it was answered from the per-item probe cache.
        error: Error message when the probe failed.
        skipped: Why the probe was not made (a probe budget, see :mod:`debias.budget`);
            None for probes that were made.
        gate: Under a probe budget, why the probe was made: ``signal`` (an offline signal
            said the verdict may be biased), ``sample`` (the item was in the sample that
            estimates the judge's bias rate) or ``recheck`` (a revised verdict).
    """

    key: str
    detector: str
    verdict: ValidVerdict | None = None
    cached: bool = False
    error: str | None = None
    skipped: str | None = None
    gate: str | None = None


class Result(BaseModel):
    """What debiasing produced for one item.

    Attributes:
        verdict: The final verdict (None on error).
        status: ``clean`` | ``revised`` | ``resolved`` | ``unresolved`` | ``error``.
        stop: Why the loop stopped.
        resolution: How the final verdict was reached and the probes it rests on (None
            on error).
        rounds: Every round, in order.
        probes: Every probe made.
        flagged: Bias types flagged by ``flag``-policy detectors on the final verdict.
        usage: Total model usage (judge, probes and detectors).
        error: Error message when status is ``error``, or the failed revision's error.
        elapsed_s: Wall time spent on the item.

    Records written before ``stop`` and ``resolution`` existed (a free-text
    ``stop_reason``) are still read: the reason is mapped to :class:`Reason`, and an old
    ``revised`` status whose verdict was aggregated becomes ``resolved``.
    """

    verdict: ValidVerdict | None = None
    status: Status
    stop: Reason = Reason.NO_BIAS
    resolution: Resolution | None = None
    rounds: list[Round] = Field(default_factory=list)
    probes: list[ProbeRecord] = Field(default_factory=list)
    flagged: list[str] = Field(default_factory=list)
    usage: Usage = NO_USAGE
    error: str | None = None
    elapsed_s: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "stop_reason" not in data:
            return data
        data = dict(data)
        text = str(data.pop("stop_reason") or "")
        data.setdefault("stop", legacy_reason(text))
        aggregated = text.startswith("aggregated (")
        if aggregated and data.get("status") == Status.REVISED.value:
            data["status"] = Status.RESOLVED.value
        if "resolution" not in data and data.get("status") != Status.ERROR.value:
            verdict = data.get("verdict") or {}
            tie = bool(verdict.get("tie")) if isinstance(verdict, dict) else False
            kind = (ResolutionKind.TIE if tie and aggregated else ResolutionKind.AGGREGATE if aggregated
                    else {Status.CLEAN.value: ResolutionKind.ACCEPTED,
                          Status.REVISED.value: ResolutionKind.REVISED}.get(data.get("status"), ResolutionKind.KEPT))
            data["resolution"] = {"kind": kind}
        return data

    @property
    def flipped(self) -> bool:
        """Whether the final decision differs from the first round's."""
        if not self.rounds or self.verdict is None:
            return False
        return not self.verdict.same_decision(self.rounds[0].verdict)


class ResultRecord(Item):
    """An input item with its debiasing ``result`` (one line of ``debias run`` output)."""

    result: Result
