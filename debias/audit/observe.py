"""Turning one validated item into category counts (the per-item hot path).

For every judge with verdicts on the item, each metric family classifies the judge's
verdicts (:mod:`debias.audit.metrics`), the selected cheap detectors run offline on
them, and flagged verdicts are kept with their evidence. Nothing here keeps the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from debias.audit.metrics import findings, sentiment, verbosity
from debias.audit.metrics.labels import bias_of
from debias.audit.patterns import PatternKey, classify_pattern, pattern_key

if TYPE_CHECKING:
    from debias.audit.fastpath import LightItem
from debias.audit.tally import Tally
from debias.audit.tone import SentimentMode, ToneScorer
from debias.audit.view import JudgeView, views
from debias.errors import ConfigError
from debias.memo import BoundedCache
from debias.types import Finding, Item

#: Families that read the candidate texts (always classified; the pattern families are
#: memoised per verdict pattern, see :mod:`debias.audit.patterns`).
TEXT_FAMILIES = (verbosity,)
DEFAULT_DETECTORS = "auto"


def cheap_detectors(spec: str | None) -> list[Any]:
    """Detectors the offline audit runs.

    Args:
        spec: ``auto`` (every registered cheap detector), ``none``/empty, or a
            detector spec such as ``"position,bandwagon:policy=flag"``.

    Raises:
        ConfigError: For unknown names or model-backed detectors (they need a model;
            the offline audit only replays recorded verdicts).
    """
    from debias.contract import Detector, ModelDetector, detector_registry, parse_detector_specs

    if spec is None or spec.strip().lower() in ("", "none"):
        return []
    if spec.strip().lower() == DEFAULT_DETECTORS:
        out = []
        for name in detector_registry.names():
            factory = detector_registry.get(name)
            # A model-backed detector class (no ``plan``) is not built (that could load a
            # model) and is not part of "auto".
            if isinstance(factory, type) and not hasattr(factory, "plan"):
                continue
            det = factory()
            if isinstance(det, Detector) and not isinstance(det, ModelDetector):
                out.append(det)
        return out
    dets = parse_detector_specs(spec)
    for det in dets:
        if isinstance(det, ModelDetector) or not isinstance(det, Detector):
            raise ConfigError(f"detector {det.name!r} needs a model; the offline audit runs cheap "
                              "detectors only (plan/assess on recorded verdicts)")
    return dets


class Observer:
    """Classifies items into a :class:`Tally` (one observer per worker process).

    Tone scoring (VADER, about 0.3 ms per item) costs about four times as much as
    everything else the audit does per item, so the ``sentiment`` mode decides both which items get
    the tone metrics and which items the sentiment-bias detectors examine: with ``auto`` only
    items tagged ``metadata.bias = "sentiment"``, with ``all`` every item, with ``off``
    none. On the other items those detectors report ``skipped`` with the reason.

    Args:
        detector_spec: Which cheap detectors to run (see :func:`cheap_detectors`).
        sentiment: Which items get candidate tone scores (``auto``/``all``/``off``).
    """

    def __init__(self, detector_spec: str | None = DEFAULT_DETECTORS,
                 sentiment: SentimentMode = "auto") -> None:
        self.detectors = cheap_detectors(detector_spec)
        self._names = list(dict.fromkeys(d.name for d in self.detectors))
        self._tone_gated = [d for d in self.detectors if d.bias == "sentiment"]
        self._gated_skip: dict[str, Finding] = {}
        shared = None
        if self.detectors:
            from debias.contract import skipped
            from debias.offline import detect_offline
            from detectors.sentiment import SentimentDetector

            self._detect_offline = detect_offline
            # The tone metrics reuse the built-in sentiment detector's scorer (same settings, one cache).
            shared = next((d for d in self.detectors if type(d) is SentimentDetector), None)
            reason = ("tone scoring is off (--sentiment off)" if sentiment == "off" else
                      "not tagged metadata.bias=sentiment (--sentiment auto scores only tagged items; "
                      "--sentiment all scores every item)")
            # One finding per gated detector, reused for every item it skips (never modified).
            self._gated_skip = {d.name: skipped(d, reason) for d in self._tone_gated}
        self._ungated = [d for d in self.detectors if d.name not in self._gated_skip]
        self.tone = ToneScorer(sentiment, source=shared)
        self._patterns: BoundedCache[PatternKey, tuple[tuple[str, object, float], ...]] = BoundedCache(4096)

    def observe(self, item: Item | LightItem, line: int, tally: Tally) -> None:
        """Add one item's observations to ``tally``."""
        counts = tally.counts
        tally.items += 1
        scores: list[float] | None = None
        scored = False
        for view in views(item, line):
            judge = view.judge
            counts[(judge, "meta", "units")] += 1
            key = pattern_key(view)
            observed = self._patterns.get(key) if key is not None else None
            if observed is None:
                observed = classify_pattern(view)
                if key is not None:
                    self._patterns.put(key, observed)
            for name, cat, amount in observed:
                counts[(judge, name, cat)] += amount
            for fam in TEXT_FAMILIES:
                name = fam.FAMILY
                for cat, amount in fam.classify(view):
                    counts[(judge, name, cat)] += amount
            if not scored:
                scores, scored = self.tone.scores(item), True
            if scores is not None:
                for cat, amount in sentiment.classify(view, scores):
                    counts[(judge, sentiment.FAMILY, cat)] += amount
            if self.detectors:
                self._detect(view, tally)

    def _detect(self, view: JudgeView, tally: Tally) -> None:
        item = view.item
        if view.unbiased or len(view.verdicts) != len(item.verdicts):
            # Probes must be answered by this judge's verdicts on these candidates only.
            item = item.model_copy(update={"verdicts": view.verdicts})
        chosen: dict[str, Finding] = {}
        pending = self.detectors
        examined = view.examined()
        if examined and self._tone_gated and item.task != "score" and not self.tone.wants(item):
            chosen.update(self._gated_skip)
            pending = self._ungated
        for verdict in examined:
            if not pending:
                break
            # Later verdicts (e.g. the cued one) only go to detectors that could not assess yet.
            for det, f in zip(pending, self._detect_offline(item, verdict, pending), strict=True):
                if det.name not in chosen or f.status == "ok":
                    chosen[det.name] = f
            pending = [d for d in pending if chosen[d.name].status != "ok"]
            if not pending:
                break
        found: Sequence[Finding] = [chosen[n] for n in self._names if n in chosen]
        counts = tally.counts
        meta = item.metadata
        for cat, amount in findings.classify(found, meta.get("bias_label"), bias_of(meta)):
            counts[(view.judge, findings.FAMILY, cat)] += amount
        for f in found:
            if f.actionable:
                tally.add_flagged(f.bias, lambda f=f: flagged_entry(view, f))


def flagged_entry(view: JudgeView, f: Finding) -> dict[str, Any]:
    """A JSON-ready record of a flagged verdict with its evidence."""
    return {
        "id": view.item.id,
        "line": view.line,
        "judge": view.judge,
        "detector": f.detector,
        "bias": f.bias,
        "confidence": round(f.confidence, 4),
        "compared": f.evidence.compared,
        "values": f.evidence.model_dump(mode="json")["values"],
        "analysis": f.analysis,
    }
