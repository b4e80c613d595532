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
    """Outcome of debiasing one item."""

    CLEAN = "clean"
    REVISED = "revised"
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


class Round(BaseModel):
    """One iteration of the judge → detect → decide loop.

    Attributes:
        index: 0 for the first judgement, then 1, 2, ... for revisions.
        verdict: The verdict produced in this round.
        findings: Findings of every detector on this verdict.
        decision: What ``decide`` returned after this round.
        feedback: Feedback sent to the judge for the next round, if any.
    """

    index: int
    verdict: ValidVerdict
    findings: list[Finding] = Field(default_factory=list)
    decision: str = ""
    feedback: Feedback | None = None


class ProbeRecord(BaseModel):
    """A counterfactual re-judgement requested by a detector.

    Attributes:
        key: Cache key of the probe within the item (e.g. ``swap``, ``no_cue``).
        detector: Detector that asked for it.
        verdict: The verdict obtained (None on error).
        cached: Whether it was answered from the per-item probe cache.
        error: Error message when the probe failed.
    """

    key: str
    detector: str
    verdict: ValidVerdict | None = None
    cached: bool = False
    error: str | None = None


class Result(BaseModel):
    """What debiasing produced for one item.

    Attributes:
        verdict: The final verdict (None on error).
        status: ``clean`` | ``revised`` | ``unresolved`` | ``error``.
        stop_reason: Why the loop stopped.
        rounds: Every round, in order.
        probes: Every probe made.
        flagged: Bias types flagged by ``flag``-policy detectors on the final verdict.
        usage: Total model usage (judge, probes and detectors).
        error: Error message when status is ``error``.
        elapsed_s: Wall time spent on the item.
    """

    verdict: ValidVerdict | None = None
    status: Status
    stop_reason: str = ""
    rounds: list[Round] = Field(default_factory=list)
    probes: list[ProbeRecord] = Field(default_factory=list)
    flagged: list[str] = Field(default_factory=list)
    usage: Usage = NO_USAGE
    error: str | None = None
    elapsed_s: float = 0.0

    @property
    def flipped(self) -> bool:
        """Whether the final decision differs from the first round's."""
        if not self.rounds or self.verdict is None:
            return False
        return not self.verdict.same_decision(self.rounds[0].verdict)


class ResultRecord(Item):
    """An input item with its debiasing ``result`` (one line of ``debias run`` output)."""

    result: Result
