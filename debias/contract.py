"""The detector contract: protocols, the detection context, probe specs, the registry.

A detector is pure: :meth:`Detector.plan` says which counterfactual probes it wants
(re-judge with swapped order, without the cue, with rewritten candidates, ...), and
:meth:`Detector.assess` turns the verdict plus the probe verdicts into a
:class:`~debias.types.Finding`. The loop (sync or async) or the offline audit executes
probes; offline, probes are answered from the item's recorded verdicts when one
matches, and are missing (``None``) otherwise.

Model-backed detectors (the reasoning detector) implement :class:`ModelDetector`
instead and run after the cheap ones, as the cascade setting says.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from debias.errors import ConfigError
from debias.judges.base import JudgeRequest
from debias.registry import Registry
from debias.types import BiasType, Finding, Item, Policy, Round, Verdict

Mode = Literal["live", "offline"]
Cascade = Literal["always", "never", "on-signal"]
POLICIES: tuple[str, ...] = ("revise", "aggregate", "flag", "raise")
ENTRY_POINT_GROUP = "judge_debias.detectors"


class ProbeSpec(BaseModel):
    """A counterfactual re-judgement a detector asks for.

    Attributes:
        key: Name of the probe, unique per item and round (e.g. ``swap``, ``no_cue``,
            ``rot1``); probes with the same key are made once.
        order: Display order to use; None keeps the round's order.
        with_cue: Show the cue; None keeps the round's setting.
        candidates: Replacement candidate texts in original numbering (e.g. length
            equalised); None keeps the item's.
        rewrite: Name of a rewrite the configured rewriter must apply to the candidates
            first (``equalize_length``, ``neutralize_tone``); the loop only runs such
            probes when a rewriter is configured.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    order: list[int] | None = None
    with_cue: bool | None = None
    candidates: list[str] | None = None
    rewrite: str | None = None

    def apply(self, request: JudgeRequest) -> JudgeRequest:
        """The probe's request derived from the round's request."""
        item = request.item
        if self.candidates is not None:
            item = item.model_copy(update={"candidates": list(self.candidates)})
        return request.variant(
            item=item,
            order=list(self.order) if self.order is not None else request.order,
            with_cue=self.with_cue if self.with_cue is not None else request.with_cue,
        )

    def matches(self, verdict: Verdict, request: JudgeRequest | DetectContext) -> bool:
        """Whether a recorded verdict answers this probe (offline mode).

        Args:
            verdict: A recorded verdict.
            request: The round's request, or a detection context (its ``order`` and
                ``with_cue`` are the request's).
        """
        if self.candidates is not None or self.rewrite is not None:
            return False
        order = self.order if self.order is not None else request.order
        with_cue = self.with_cue if self.with_cue is not None else request.with_cue
        # Orders are lists in validated models; a sequence of another type is compared as a list.
        mine = verdict.order if type(verdict.order) is list else list(verdict.order)
        want = order if type(order) is list else list(order)
        return verdict.with_cue == with_cue and mine == want


class DetectContext:
    """Everything a detector may look at.

    A plain slotted class rather than a pydantic model: it is built once per examined
    verdict (millions of times in an audit) from parts that are already validated. Item
    and verdict given as dicts are still validated into models.

    Args:
        item: The item (original numbering).
        request: The request that produced ``verdict``. Offline it may be omitted: it is
            then the request the recorded verdict answered (the verdict's order and cue
            setting), built only if a detector reads it.
        verdict: The verdict under examination.
        history: Earlier rounds of the loop (empty offline and in round 0).
        mode: ``live`` (probes go to the judge) or ``offline`` (recorded verdicts only).
        can_rewrite: Whether a rewriter model is configured for rewrite probes.

    Attributes:
        order: Display order of the request (``request.order``, without building it).
        with_cue: Whether the request showed the cue setting (``request.with_cue``).
        shows_cue: Whether a cue was actually displayed (``request.shows_cue``).

    Raises:
        pydantic.ValidationError: For an item or verdict dict that is not valid.
        TypeError: For a request that is not a :class:`~debias.judges.base.JudgeRequest`.
        ValueError: For an unknown mode, or a live context without a request.
    """

    __slots__ = ("_request", "can_rewrite", "history", "item", "mode", "order", "verdict", "with_cue")

    def __init__(self, item: Item, request: JudgeRequest | None = None, *, verdict: Verdict,
                 history: Sequence[Round] = (), mode: Mode = "live", can_rewrite: bool = False) -> None:
        self.item = item if isinstance(item, Item) else Item.model_validate(item)
        self.verdict = verdict if isinstance(verdict, Verdict) else Verdict.model_validate(verdict)
        if mode not in ("live", "offline"):
            raise ValueError(f"DetectContext.mode must be 'live' or 'offline', got {mode!r}")
        if request is None:
            if mode == "live":
                raise ValueError("a live DetectContext needs the request that produced the verdict")
            self.order, self.with_cue = self.verdict.order, self.verdict.with_cue
        elif isinstance(request, JudgeRequest):
            self.order, self.with_cue = request.order, request.with_cue
        else:
            raise TypeError(f"DetectContext.request must be a JudgeRequest, got {type(request).__name__}")
        self._request = request
        self.history = history
        self.mode = mode
        self.can_rewrite = can_rewrite

    @property
    def request(self) -> JudgeRequest:
        """The request that produced the verdict."""
        if self._request is None:
            self._request = JudgeRequest(item=self.item, order=list(self.order), with_cue=self.with_cue)
        return self._request

    @property
    def shows_cue(self) -> bool:
        """Whether a cue was actually displayed."""
        return self.with_cue and bool(self.item.cue)

    def __repr__(self) -> str:
        return (f"DetectContext(item={self.item.id!r}, order={self.order}, with_cue={self.with_cue}, "
                f"verdict={self.verdict!r}, mode={self.mode!r})")


@runtime_checkable
class Detector(Protocol):
    """A cheap detector: no model of its own, pure plan/assess."""

    name: str
    version: str
    bias: BiasType
    policy: Policy

    def plan(self, ctx: DetectContext) -> list[ProbeSpec]:
        """Probes wanted for this verdict (may be empty; offline ones are looked up)."""
        ...

    def assess(self, ctx: DetectContext, probes: Mapping[str, Verdict | None]) -> Finding:
        """Turn the verdict and probe verdicts (None = unavailable/failed) into a finding."""
        ...


@runtime_checkable
class ModelDetector(Protocol):
    """A detector backed by its own model (e.g. the reasoning-based detector)."""

    name: str
    version: str
    bias: BiasType
    policy: Policy
    cascade: Cascade

    def detect(self, ctx: DetectContext, findings: list[Finding]) -> Finding:
        """Examine the verdict given the cheap detectors' findings."""
        ...

    async def adetect(self, ctx: DetectContext, findings: list[Finding]) -> Finding:
        """Async variant of :meth:`detect`."""
        ...


AnyDetector = Detector | ModelDetector

#: Detector factories by name. Built-in and third-party detectors register the same way:
#: an entry point in the ``judge_debias.detectors`` group (value: a factory callable,
#: usually the class), or :func:`register_detector` for code imported at run time.
detector_registry: Registry[AnyDetector] = Registry("detector", group=ENTRY_POINT_GROUP)
register_detector = detector_registry.register


def create_detector(name: str, **options: Any) -> AnyDetector:
    """Instantiate detector ``name`` with options (e.g. ``policy="flag"``).

    Raises:
        ConfigError: For an unknown detector, or a policy that is not one of
            :data:`POLICIES` (the message names the detector and the value).
    """
    policy = options.get("policy")
    if policy is not None and policy not in POLICIES:
        raise ConfigError(f"detector {name!r}: policy {policy!r} is not one of {POLICIES}")
    factory = detector_registry.get(name)
    try:
        inspect.signature(factory).bind(**options)
    except TypeError:
        params = inspect.signature(factory).parameters
        known = [p for p, v in params.items() if v.kind is not inspect.Parameter.VAR_KEYWORD]
        unknown = [k for k in options if k not in params]
        raise ConfigError(f"detector {name!r} has no option {', '.join(map(repr, unknown)) or '?'}; "
                          f"its options: {', '.join(known)}") from None
    return factory(**options)  # type: ignore[no-any-return]


def parse_detector_specs(spec: str | list[str] | None) -> list[AnyDetector]:
    """Build detectors from ``"position,bandwagon:policy=flag"`` style specs."""
    if spec is None:
        return []
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[AnyDetector] = []
    for raw in parts:
        raw = raw.strip()
        if not raw:
            continue
        name, _, opts = raw.partition(":")
        options: dict[str, Any] = {}
        for kv in filter(None, opts.split(";")):
            k, eq, v = kv.partition("=")
            if not eq:
                raise ConfigError(f"detector option {kv!r} in {raw!r} is not key=value")
            options[k.strip()] = v.strip()
        out.append(create_detector(name.strip(), **options))
    return out


def skipped(det: Any, reason: str) -> Finding:
    """A ``skipped`` finding for detector ``det``.

    Findings are immutable, so the same instance serves every verdict that a detector
    skips for the same reason (a few distinct reasons; most audit items are skipped by
    some detector).
    """
    return _skipped(det.name, det.version, det.bias, det.policy, reason)


@lru_cache(maxsize=1024)
def _skipped(name: str, version: str, bias: BiasType, policy: Policy, reason: str) -> Finding:
    return Finding(detector=name, version=version, bias=bias, status="skipped", reason=reason, policy=policy)


def errored(det: Any, exc: BaseException) -> Finding:
    """An ``error`` finding for detector ``det``."""
    return Finding(detector=det.name, version=det.version, bias=det.bias, status="error",
                   reason=f"{type(exc).__name__}: {exc}", policy=det.policy)
