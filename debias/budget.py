"""A probe budget: which counterfactual probes to run, within a number of judge calls per item.

Every item costs one judge call (its first judgement). Probes (re-judging the item
without the cue, in another order, with rewritten candidates) and revision rounds cost
more. A :class:`Budget` says how many judge calls per item, on average over a run, the
user accepts:

* a number ``N >= 1``: the running average of judge calls per item never exceeds ``N``
  (allowance accounting: every item that starts adds ``N`` calls to the run's allowance,
  every call made is taken from it). Probes where an offline signal says the verdict
  may be biased, and revision rounds of items already found biased, are paid first;
  the remaining allowance is spread over a deterministic sample of the other items.
* ``auto``: always probe where an offline signal says the verdict may be biased, and
  elsewhere probe a sample of items whose rate follows a sequential estimate of the
  judge's bias rate (per detector): the rate is the upper confidence bound of the
  estimate divided by :attr:`Budget.full_rate_at`, clipped to
  ``[Budget.floor, 1]``, and 1 as soon as the lower confidence bound exceeds
  :attr:`Budget.tolerance` (the judge proved biased). With no evidence yet every item
  is probed; while the judge proves consistent the rate falls (with no bias found in
  ``n`` sampled probes the Wilson bound falls like ``z**2 / n``).

Offline signals (no judge call):

* a detector's own ``signal(ctx)`` hook (see :class:`SignalingDetector`): the
  bandwagon detector signals a verdict that follows a shown cue, the verbosity and
  sentiment detectors a strong length or tone asymmetry in favour of the chosen
  candidate. Detectors without the hook have no signal of their own (their probes are
  sampled).
* a low preference margin of the verdict itself (:func:`margin_signal`): when the
  verdict carries a preference distribution (log-probability judges) or a confidence,
  a small gap between the chosen candidate and the runner-up means the verdict may
  flip under any counterfactual, so every detector's probes are run.

Sampling is deterministic per item: an item is in the sample of a detector when a hash
of (seed, item id, detector name) falls below the current rate, so a resumed run or a
run with another concurrency makes the same choices as far as the rate is the same.
The state of a run (:class:`BudgetRun`) lives on the run, never in a module global, and
is guarded by a lock (the async runner interleaves items; threads may share a
:class:`~debias.loop.Debiaser`).

Probes and revisions that the budget skips are recorded with the reason (a
:class:`~debias.types.ProbeRecord` with ``skipped`` set), so an audit of a run shows
what was and was not checked. Only judge calls are counted: calls of a rewriter model
and of model-backed detectors (the reasoning detector) are not judge calls.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from debias.errors import ConfigError
from debias.types import Finding, ProbeRecord, Result, Verdict

Gate = Literal["signal", "sample", "recheck", "resolution"]


class Budget(BaseModel):
    """How many judge calls per item a run may spend on average, and how ``auto`` samples.

    Attributes:
        calls: ``"auto"`` or the average number of judge calls per item (>= 1; 1 means
            the first judgement only: no probe, no revision).
        seed: Seed of the per-item sampling hash.
        level: One-sided confidence level of the bias-rate bound that sets the ``auto``
            sampling rate, and of the interval in the run summary (two-sided there).
        full_rate_at: ``auto`` probes every item while the upper bound of the judge's
            bias rate is at least this rate (below it, a proportional share of items).
        tolerance: ``auto`` probes every item once the lower bound of the judge's bias
            rate exceeds this rate (the judge proved biased).
        floor: Lowest ``auto`` sampling rate (keeps watching a judge that looks consistent).
        margin: A verdict whose preference margin (chosen minus runner-up probability)
            is below this is a signal.

    Raises:
        pydantic.ValidationError: For a value out of range (the message names it); use
            :meth:`parse` for a :class:`~debias.errors.ConfigError` instead.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    calls: Literal["auto"] | float = "auto"
    seed: int = 0
    level: float = Field(default=0.9, gt=0.5, lt=1.0)
    full_rate_at: float = Field(default=0.25, gt=0.0, le=1.0)
    tolerance: float = Field(default=0.03, ge=0.0, lt=1.0)
    floor: float = Field(default=0.05, ge=0.0, le=1.0)
    margin: float = Field(default=0.2, ge=0.0, le=1.0)

    @field_validator("calls", mode="before")
    @classmethod
    def _calls(cls, v: Any) -> Any:
        if isinstance(v, str):
            text = v.strip().lower()
            if text == "auto":
                return "auto"
            try:
                v = float(text)
            except ValueError:
                raise ValueError(f"budget {v!r} is not a number or 'auto'") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"budget {v!r} is not a number or 'auto'")
        if not math.isfinite(v):
            raise ValueError(f"budget {v!r} is not a finite number")
        if v < 1:
            raise ValueError(f"budget {v:g} is below 1: it is the average number of judge calls per "
                             "item and every item needs its first judgement (use a number >= 1 or 'auto')")
        return float(v)

    @property
    def auto(self) -> bool:
        """Whether the budget is ``auto``."""
        return self.calls == "auto"

    @property
    def limit(self) -> float | None:
        """The numeric cap on judge calls per item (None for ``auto``)."""
        return None if self.calls == "auto" else float(self.calls)

    @classmethod
    def parse(cls, value: Budget | str | float | None, **settings: Any) -> Budget | None:
        """A budget from ``auto``, a number, ``full``/None (no budget) or a Budget.

        Raises:
            ConfigError: For a value that is not ``auto``, ``full`` or a number >= 1.
        """
        if value is None or isinstance(value, Budget):
            return value
        if isinstance(value, str) and value.strip().lower() in ("full", "none"):
            return None
        try:
            return cls(calls=value, **settings)  # type: ignore[arg-type]
        except ValidationError as exc:
            err = exc.errors()[0]
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
            raise ConfigError(msg.removeprefix("Value error, ")) from None

    def describe(self) -> str:
        """``auto`` or the number."""
        return "auto" if self.auto else f"{self.calls:g}"


@runtime_checkable
class SignalingDetector(Protocol):
    """A detector that can say, without any judge call, whether its probes are worth running.

    ``signal(ctx)`` returns a short reason when an offline signal says the verdict may
    be biased in the way the detector checks (a cue the verdict follows, a strong length
    or tone asymmetry in favour of the chosen candidate), and None otherwise. It must be
    cheap and pure. Detectors without it count as having no offline signal.

    A detector whose probes cannot show bias where it has no signal (the bandwagon
    detector flags only a verdict that follows the cue) sets the class attribute
    ``signal_required = True``: its probes are then skipped without a signal instead of
    being sampled (sampling them would only ever measure a bias rate of 0).
    """

    signal_required: bool

    def signal(self, ctx: Any) -> str | None:
        """Why the verdict may be biased, or None."""
        ...


def margin_signal(verdict: Verdict, threshold: float) -> str | None:
    """A low preference margin of the verdict (None when it is not low or not known).

    The margin is the chosen candidate's probability minus the runner-up's, from
    ``probs`` when the verdict has them, else ``2 * confidence - 1`` (a pairwise
    reading of the confidence).
    """
    if verdict.tie or verdict.choice is None:
        return None
    if verdict.probs is not None and len(verdict.probs) > 1 and verdict.choice < len(verdict.probs):
        others = [p for i, p in enumerate(verdict.probs) if i != verdict.choice]
        margin = verdict.probs[verdict.choice] - max(others)
    elif verdict.confidence is not None:
        margin = 2.0 * verdict.confidence - 1.0
    else:
        return None
    if margin < threshold:
        return f"low preference margin {margin:.2f} < {threshold:g}"
    return None


def unit_draw(seed: int, item_id: str, key: str) -> float:
    """A deterministic number in [0, 1) for (seed, item, key)."""
    digest = hashlib.blake2b(f"{seed}\x1f{item_id}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a rate with ``k`` successes in ``n`` trials (``(0, 1)`` for n = 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


class RateEstimate(BaseModel):
    """Sequential estimate of a judge's bias rate as seen by one detector's sampled probes.

    Attributes:
        sampled: Items whose probes ran because they were sampled (no offline signal).
        biased: Of those, items where the detector found bias.
        rate: ``biased / sampled`` (None before any sample).
        interval: Two-sided Wilson interval at the budget's ``level``.
        probe_rate: The sampling rate the run ended with.
        signalled: Items probed because of an offline signal.
        signalled_biased: Of those, items where the detector found bias.
        skipped: Items whose probes were skipped.
    """

    sampled: int = 0
    biased: int = 0
    rate: float | None = None
    interval: tuple[float, float] = (0.0, 1.0)
    probe_rate: float = 1.0
    signalled: int = 0
    signalled_biased: int = 0
    skipped: int = 0


class BudgetReport(BaseModel):
    """What the budget did in a run (written in the run summary).

    Attributes:
        budget: ``auto`` or the number of judge calls per item.
        items: Items started.
        calls: Judge calls made (first judgements, probes, revisions).
        calls_per_item: ``calls / items``.
        probes_run: Probe calls made, by gate (``signal``, ``sample``, ``recheck``: probes
            of a revised verdict, ``resolution``: joint counterfactual probes of an item
            found biased whose judge did not comply).
        probes_skipped: Probe calls skipped by the budget.
        revisions_run: Revision rounds (one judge call each).
        revisions_skipped: Revision rounds skipped by the budget.
        detectors: Per detector, the sequential bias-rate estimate.
        revisions: Per set of detectors whose offline evidence alone asked for a revision
            (``auto``), how often such revisions changed the verdict (``biased`` counts
            the changes, ``rate`` their share).
    """

    budget: str
    items: int = 0
    calls: int = 0
    calls_per_item: float = 0.0
    probes_run: dict[str, int] = Field(default_factory=dict)
    probes_skipped: int = 0
    revisions_run: int = 0
    revisions_skipped: int = 0
    detectors: dict[str, RateEstimate] = Field(default_factory=dict)
    revisions: dict[str, RateEstimate] = Field(default_factory=dict)

    def render(self) -> str:
        """Human-readable lines for the run summary."""
        run = ", ".join(f"{k} {v}" for k, v in sorted(self.probes_run.items())) or "none"
        lines = [f"budget {self.budget}: {self.calls_per_item:.2f} judge calls/item ({self.calls} calls, "
                 f"{self.items} items); probes run: {run}; skipped: {self.probes_skipped} probes; "
                 f"revisions: {self.revisions_run} run, {self.revisions_skipped} skipped"]
        for name, est in sorted(self.detectors.items()):
            if est.sampled:
                lo, hi = est.interval
                lines.append(f"  {name}: bias rate {est.rate:.2f} [{lo:.2f}, {hi:.2f}] from {est.sampled} "
                             f"sampled items; probe rate {est.probe_rate:.2f}; {est.signalled} signalled "
                             f"({est.signalled_biased} biased)")
            else:
                lines.append(f"  {name}: no sampled items; {est.signalled} signalled "
                             f"({est.signalled_biased} biased), {est.skipped} skipped")
        for name, est in sorted(self.revisions.items()):
            lines.append(f"  {name.removeprefix('revision:')} (offline evidence only): revisions changed the "
                         f"verdict {est.biased} of {est.sampled} times; {est.skipped} revisions skipped")
        return "\n".join(lines)


@dataclass
class _Tally:
    sampled: int = 0
    biased: int = 0
    signalled: int = 0
    signalled_biased: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class GateDecision:
    """Whether to run a detector's probes on an item.

    Attributes:
        run: Run them.
        gate: Why they run (``signal``, ``sample``, ``recheck``), or None when skipped.
        reason: Human-readable reason (why they run, or why they are skipped).
    """

    run: bool
    gate: Gate | None
    reason: str


@dataclass
class BudgetRun:
    """The budget's state for one run (items, calls spent, bias-rate estimates).

    Args:
        budget: The budget.

    All methods are safe to call from several threads and from interleaved coroutines.
    """

    budget: Budget
    items: int = 0
    calls: int = 0
    priority_calls: int = 0
    demand_calls: int = 0
    priority_items: int = 0
    priority_need: int = 0
    probes_run: dict[str, int] = field(default_factory=dict)
    probes_skipped: int = 0
    revisions_run: int = 0
    revisions_skipped: int = 0
    _tallies: dict[str, _Tally] = field(default_factory=dict)
    _revisions: dict[str, _Tally] = field(default_factory=dict)
    _held: dict[int, int] = field(default_factory=dict)
    _held_total: int = 0
    _tickets: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._z = NormalDist().inv_cdf(self.budget.level)

    # ---------------------------------------------------------------- accounting
    def begin_item(self) -> int:
        """An item starts: its allowance is added and its first judgement is paid.

        Returns:
            The item's ticket for :meth:`gate`, :meth:`allow_revision` and :meth:`end_item`.
        """
        with self._lock:
            self.items += 1
            self.calls += 1
            self._tickets += 1
            return self._tickets

    def end_item(self, ticket: int) -> None:
        """An item finished: calls held for its follow-up and not used return to the run."""
        with self._lock:
            self._held_total -= self._held.pop(ticket, 0)

    def _allowance(self) -> float:
        """Calls the run may still spend (numeric budgets), not counting calls held by items."""
        limit = self.budget.limit
        return math.inf if limit is None else limit * self.items - self.calls - self._held_total

    def _pay(self, ticket: int, cost: int) -> bool:
        """Take ``cost`` calls: first from the item's held calls, then from the allowance."""
        held = self._held.get(ticket, 0)
        from_held = min(held, cost)
        if cost - from_held > self._allowance():
            return False
        if from_held:
            self._held[ticket] = held - from_held
            self._held_total -= from_held
        self.calls += cost
        return True

    def _hold(self, ticket: int, calls: int) -> None:
        if self.budget.limit is not None and calls:
            self._held[ticket] = self._held.get(ticket, 0) + calls
            self._held_total += calls

    def _reserve(self) -> float:
        """Calls kept for the next item with a signal when sampling others (numeric budgets)."""
        return self.priority_need / self.priority_items if self.priority_items else 0.0

    # ---------------------------------------------------------------- rates
    def rate(self, detector: str) -> float:
        """The current sampling rate of items without a signal for ``detector``."""
        with self._lock:
            return self._rate(detector)

    def _rate(self, detector: str) -> float:
        b = self.budget
        if b.auto:
            t = self._tallies.get(detector, _Tally())
            if t.sampled == 0:
                return 1.0
            lo, hi = wilson(t.biased, t.sampled, self._z)
            if lo > b.tolerance:  # the judge proved biased: probe every item
                return 1.0
            return min(1.0, max(b.floor, hi / b.full_rate_at))
        limit = b.limit
        assert limit is not None
        if self.items == 0 or self.demand_calls == 0:
            return 1.0
        spare = limit - 1.0 - self.priority_calls / self.items
        return min(1.0, max(0.0, spare / (self.demand_calls / self.items)))

    # ---------------------------------------------------------------- gates
    def gate(self, ticket: int, item_id: str, detector: str, cost: int, signal: str | None,
             round_index: int, *, recheck: bool = False, signal_required: bool = False) -> GateDecision:
        """Decide whether to run ``cost`` probe calls that ``detector`` wants on an item.

        The calls are taken when the answer is yes. Under a numeric budget a first-round
        probe also needs room for its follow-up (one revision round and the same probes
        on the revised verdict), which is held for the item until it ends: a probe that
        finds bias without the means to act on it would only turn verdicts into ties.

        Args:
            ticket: The item's ticket (:meth:`begin_item`).
            item_id: The item's id (sampling hash).
            detector: The detector that wants the probes.
            cost: Judge calls the probes need.
            signal: Offline signal for this detector and verdict, or None.
            round_index: The loop round.
            recheck: The probes check a revised verdict for a bias this detector found
                on the item in an earlier round: they are paid first, like signals.
                Other detectors' probes of a revised verdict are gated as in round 0.
            signal_required: The detector's probes cannot show bias without a signal:
                skip them rather than sample them.
        """
        with self._lock:
            t = self._tallies.setdefault(detector, _Tally())
            limit = self.budget.limit
            follow_up = 1 + cost if round_index == 0 else 0
            if recheck or signal is not None:
                gate: Gate = "recheck" if recheck else "signal"
                why = "re-check of a revised verdict" if recheck else f"signal: {signal}"
                if gate == "signal":
                    self.priority_items += 1
                    self.priority_need += cost + follow_up
                if limit is not None and follow_up and cost + follow_up > self._allowance():
                    return self._skip(t, cost, f"budget {limit:g} calls/item spent ({why})")
                if not self._pay(ticket, cost):
                    return self._skip(t, cost, f"budget {limit:g} calls/item spent ({why})")
                self._hold(ticket, follow_up)
                self._count(cost, gate, priority=True)
                if gate == "signal":
                    t.signalled += 1
                return GateDecision(True, gate, why)
            if signal_required:
                return self._skip(t, cost, f"budget {self.budget.describe()}: no offline signal, "
                                  f"and without one the {detector} probe cannot show bias")
            if limit is not None:
                self.demand_calls += cost
            rate = self._rate(detector)
            draw = unit_draw(self.budget.seed, item_id, detector)
            if draw >= rate:
                what = (f"bias rate of {detector} so far {t.biased}/{t.sampled}" if self.budget.auto
                        else "spare allowance for items without a signal")
                return self._skip(t, cost, f"budget {self.budget.describe()}: no offline signal, "
                                  f"not sampled (rate {rate:.2f}; {what})")
            if limit is not None and cost + follow_up > self._allowance() - self._reserve():
                return self._skip(t, cost, f"budget {limit:g} calls/item: allowance kept for items "
                                  "with a signal")
            self._pay(ticket, cost)
            self._hold(ticket, follow_up)
            self._count(cost, "sample", priority=False)
            return GateDecision(True, "sample", f"sampled (rate {rate:.2f})")

    def _skip(self, t: _Tally, cost: int, reason: str) -> GateDecision:
        t.skipped += 1
        self.probes_skipped += cost
        return GateDecision(False, None, reason)

    def _count(self, cost: int, gate: Gate, *, priority: bool) -> None:
        self.probes_run[gate] = self.probes_run.get(gate, 0) + cost
        if priority:
            self.priority_calls += cost

    def gate_resolution(self, ticket: int, cost: int) -> GateDecision:
        """Whether the ``cost`` joint counterfactual probes of an item found biased fit.

        All or none: a partial set of display orders could not be combined. ``auto``
        always makes them (the item proved biased).
        """
        with self._lock:
            if not self._pay(ticket, cost):
                self.probes_skipped += cost
                return GateDecision(False, None, f"budget {self.budget.describe()} calls/item spent: "
                                    "counterfactual probes not made")
            self._count(cost, "resolution", priority=True)
            return GateDecision(True, "resolution", "counterfactual resolution of an item found biased")

    def allow_revision(self, ticket: int, item_id: str = "", offline: tuple[str, ...] = ()) -> GateDecision:
        """Whether to ask the judge for one more revision round (one judge call).

        The call is taken when the answer is yes. Under a numeric budget the round must
        fit the allowance. Under ``auto`` a revision is always asked when a probe showed
        the bias; when only offline evidence did (``offline``: the detectors behind the
        decision, none of which made a probe, e.g. the verbosity rule without a
        rewriter), revisions are sampled like probes, at a rate that follows how often
        such revisions changed the judge's verdict in this run (:meth:`observe_revision`):
        asking a judge that keeps its verdict costs a call and changes nothing.

        Args:
            ticket: The item's ticket.
            item_id: The item's id (sampling hash).
            offline: Sorted names of the detectors behind the decision when none of their
                findings rests on a probe; empty otherwise.
        """
        with self._lock:
            label = "revision"
            if self.budget.auto and offline:
                label = "revision:" + "+".join(offline)
                rate = self._revision_rate(label)
                if unit_draw(self.budget.seed, item_id, label) >= rate:
                    t = self._revisions.setdefault(label, _Tally())
                    t.skipped += 1
                    self.revisions_skipped += 1
                    return GateDecision(False, None, f"budget auto: bias shown by offline evidence only "
                                        f"({', '.join(offline)}), and revisions on such evidence changed "
                                        f"the verdict {t.biased} of {t.sampled} times (rate {rate:.2f})")
            if not self._pay(ticket, 1):
                self.revisions_skipped += 1
                return GateDecision(False, None, f"budget {self.budget.describe()} calls/item spent: "
                                    "revision round not made")
            self.priority_calls += 1
            self.revisions_run += 1
            return GateDecision(True, "recheck", label)

    def _revision_rate(self, label: str) -> float:
        t = self._revisions.get(label)
        if t is None or t.sampled == 0:
            return 1.0
        lo, hi = wilson(t.biased, t.sampled, self._z)
        if lo > self.budget.tolerance:
            return 1.0
        return min(1.0, max(self.budget.floor, hi / self.budget.full_rate_at))

    def observe_revision(self, label: str, changed: bool) -> None:
        """Whether a revision asked on offline evidence (``label`` from :meth:`allow_revision`) changed the verdict."""
        if not label.startswith("revision:"):
            return
        with self._lock:
            t = self._revisions.setdefault(label, _Tally())
            t.sampled += 1
            t.biased += int(changed)

    def observe(self, detector: str, gate: Gate | None, finding: Finding) -> None:
        """Feed a round-0 finding whose probes ran under ``gate`` into the estimate."""
        if gate not in ("sample", "signal") or finding.status != "ok":
            return
        with self._lock:
            t = self._tallies.setdefault(detector, _Tally())
            if gate == "sample":
                t.sampled += 1
                t.biased += int(finding.detected)
            else:
                t.signalled_biased += int(finding.detected)

    # ---------------------------------------------------------------- resume
    def replay(self, result: Result) -> None:
        """Account for an item finished in an earlier session of the same run (resume).

        Restores the allowance (items, calls, paid-first calls) and the bias-rate
        estimates from the item's probe records; the estimates of revisions asked on
        offline evidence restart (the records do not say which revisions were sampled).
        """
        made = [p for p in result.probes if not p.cached and p.skipped is None
                and (p.verdict is not None or p.error is not None)]
        gates = {p.detector: p.gate for p in result.probes if p.key.startswith("r0:") and p.gate}
        revisions = max(len(result.rounds) - 1, 0)
        with self._lock:
            self.items += 1
            self.calls += max(len(result.rounds), 1) + len(made)
            self.revisions_run += revisions
            self.priority_calls += revisions + sum(1 for p in made if p.gate in ("signal", "recheck", "resolution"))
            self.demand_calls += sum(1 for p in made if p.gate == "sample")
            for p in result.probes:
                if p.skipped is None:
                    continue
                if p.key.endswith(":revision") and p.detector == "budget":
                    self.revisions_skipped += 1
                else:
                    self.probes_skipped += 1
                    self.demand_calls += int("not sampled" in p.skipped)
        if result.rounds:
            for f in result.rounds[0].findings:
                gate = gates.get(f.detector)
                if gate is not None:
                    self.observe(f.detector, gate, f)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- report
    def report(self) -> BudgetReport:
        """The run's budget report (calls, skips, bias-rate estimates with intervals)."""
        z2 = NormalDist().inv_cdf(0.5 + self.budget.level / 2)
        with self._lock:
            dets = {}
            for name, t in self._tallies.items():
                lo, hi = wilson(t.biased, t.sampled, z2)
                dets[name] = RateEstimate(
                    sampled=t.sampled, biased=t.biased, rate=(t.biased / t.sampled) if t.sampled else None,
                    interval=(round(lo, 4), round(hi, 4)), probe_rate=round(self._rate(name), 4),
                    signalled=t.signalled, signalled_biased=t.signalled_biased, skipped=t.skipped)
            revs = {}
            for name, t in self._revisions.items():
                lo, hi = wilson(t.biased, t.sampled, z2)
                revs[name] = RateEstimate(
                    sampled=t.sampled, biased=t.biased, rate=(t.biased / t.sampled) if t.sampled else None,
                    interval=(round(lo, 4), round(hi, 4)), probe_rate=round(self._revision_rate(name), 4),
                    skipped=t.skipped)
            return BudgetReport(
                budget=self.budget.describe(), items=self.items, calls=self.calls,
                calls_per_item=round(self.calls / self.items, 4) if self.items else 0.0,
                probes_run=dict(self.probes_run), probes_skipped=self.probes_skipped,
                revisions_run=self.revisions_run, revisions_skipped=self.revisions_skipped, detectors=dets,
                revisions=revs)


def skipped_probe(index: int | None, key: str, detector: str, reason: str) -> ProbeRecord:
    """The record of a probe the budget skipped (key ``r{index}:{key}``, or ``key`` for None)."""
    return ProbeRecord(key=key if index is None else f"r{index}:{key}", detector=detector, skipped=reason)


def detector_signal(detector: Any, ctx: Any) -> str | None:
    """The detector's offline signal (None for detectors without the hook)."""
    hook = getattr(detector, "signal", None)
    if hook is None or not callable(hook):
        return None
    out = hook(ctx)
    return None if out is None or out is False else str(out) if out is not True else "detector signal"
