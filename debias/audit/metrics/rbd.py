"""RBD accuracy and consistency: the judge on the unbiased set D and the biased set D_bias.

Unit: one judge on one labelled item where both conditions were judged:

* ``position``: D = the main verdict's order, D_bias = another order (same cue setting);
* ``bandwagon``: D = the verdict without the cue, D_bias = the one with it (same order);
* the item's bias type (``metadata["bias"]``, e.g. ``verbosity``/``sentiment``): D = a
  verdict marked ``"set": "D"`` (given on the unbiased counterpart), D_bias = the main
  verdict.

Category: ``(kind, correct on D, correct on D_bias)``; a tie is not correct; a missing
decision excludes the unit. Metrics per kind: ``rbd_accuracy.<kind>`` (correct on
D_bias), ``rbd_consistency.<kind>`` (correct on both), ``rbd_bias_rate.<kind>`` (correct
on D and wrong on D_bias: the RBD gold bias label), ``rbd_unbiased_accuracy.<kind>``.
"""

from __future__ import annotations

from collections.abc import Iterable

from debias.audit.metrics.base import Counts, Observations, Section, SummaryContext
from debias.audit.metrics.estimate import bootstrap, get, ratio
from debias.audit.view import Decision, JudgeView, decision
from debias.types import Verdict

FAMILY = "rbd"
#: Metadata keys :func:`classify` reads (part of the pattern key, see :mod:`debias.audit.patterns`).
METADATA_KEYS: tuple[str, ...] = ("bias",)
KNOWN_BIASES = ("verbosity", "sentiment", "bandwagon", "position", "other")


def _bias_of(view: JudgeView) -> str:
    bias = view.item.metadata.get("bias")
    if isinstance(bias, list):
        bias = next((b for b in bias if b not in ("position", "bandwagon")), None)
    return bias if isinstance(bias, str) and bias in KNOWN_BIASES else "other"


def _pairs(view: JudgeView) -> Iterable[tuple[str, Verdict, Verdict]]:
    main = view.main
    if main is None:
        return
    others = view.main_other_orders()
    if others:
        yield "position", main, others[0]
    pair = view.cue_pair()
    if pair is not None:
        yield "bandwagon", pair[0], pair[1]
    if view.unbiased:
        yield _bias_of(view), view.unbiased[0], main


def classify(view: JudgeView) -> Observations:
    """One ``(kind, correct_D, correct_D_bias)`` category per available condition pair."""
    label = view.item.label
    if label is None or not view.comparable:
        return []
    out: Observations = []
    for kind, d, b in _pairs(view):
        dd: Decision = decision(d)
        db: Decision = decision(b)
        if dd is None or db is None:
            continue
        out.append(((kind, dd == label, db == label), 1))
    return out


def kinds(counts: Counts) -> list[str]:
    """Condition kinds present in the counts."""
    return sorted({k[0] for k in counts if isinstance(k, tuple)})


def summarize(counts: Counts, ctx: SummaryContext) -> Section:
    """Per kind: accuracy on D_bias, consistency, gold bias rate, accuracy on D."""
    metrics = {}
    details = {}
    for kind in kinds(counts):
        tt, tf, ft, ff = ((kind, True, True), (kind, True, False), (kind, False, True),
                          (kind, False, False))
        sub = {k: counts.get(k, 0) for k in (tt, tf, ft, ff)}
        details[kind] = {"both_correct": int(sub[tt]), "only_D_correct": int(sub[tf]),
                         "only_D_bias_correct": int(sub[ft]), "both_wrong": int(sub[ff])}
        stats = {
            "rbd_accuracy": (ft, tt),
            "rbd_consistency": (tt,),
            "rbd_bias_rate": (tf,),
            "rbd_unbiased_accuracy": (tt, tf),
        }
        for name, hits in stats.items():
            key = f"{name}.{kind}"
            metrics[key] = bootstrap(
                sub, lambda c, hits=hits, cells=(tt, tf, ft, ff): ratio(get(c, *hits), get(c, *cells)),
                key=ctx.key(key), seed=ctx.seed, n_boot=ctx.n_boot)
    return Section(metrics, details)
