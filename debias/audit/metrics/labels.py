"""Gold bias labels and the quality of detectors that predicted them.

Items may carry the RBD gold bias label (``metadata["bias_label"]``: ``Yes`` when the
judge was right without the bias cue and wrong with it) and labels recorded by other
detectors (``metadata["detector_labels"]``: detector name -> ``Yes``/``No``/anything
else = unparseable). The offline cheap detectors' findings are scored against the gold
label too (see :mod:`debias.audit.metrics.findings`).

Metrics: ``bias_label_rate.<bias>`` (share of Yes); per detector
``detector_accuracy.<name>``, ``detector_precision.<name>``, ``detector_recall.<name>``,
``detector_f1.<name>``. As in the RBD paper an unparseable prediction counts as wrong
(for precision/recall it counts as the opposite of the gold label).
"""

from __future__ import annotations

from collections.abc import Mapping

from debias.audit.metrics.base import Counts, Observations, Section, SummaryContext
from debias.audit.metrics.estimate import Estimate, bootstrap, get, proportion, ratio
from debias.audit.view import JudgeView
from debias.datasets.rbd import parse_yes_no

FAMILY = "labels"
#: Metadata keys :func:`classify` reads (part of the pattern key, see :mod:`debias.audit.patterns`).
METADATA_KEYS: tuple[str, ...] = ("bias", "bias_label", "detector_labels")
YES, NO, BAD = "yes", "no", "unparseable"


def yes_no(value: object) -> str | None:
    """``yes``/``no`` of a recorded label (:func:`debias.datasets.rbd.parse_yes_no`), else None."""
    parsed = parse_yes_no(value)
    return None if parsed is None else YES if parsed else NO


def bias_of(meta: Mapping[str, object]) -> str:
    """The item's bias type from ``metadata["bias"]`` (``unknown`` if absent)."""
    bias = meta.get("bias")
    if isinstance(bias, list) and len(bias) == 1:
        bias = bias[0]
    return bias if isinstance(bias, str) and bias else "unknown"


def classify(view: JudgeView) -> Observations:
    """Gold label by bias type, and (gold, prediction) per recorded detector."""
    meta = view.item.metadata
    gold = yes_no(meta.get("bias_label"))
    if gold is None:
        return []
    out: Observations = [(("gold", bias_of(meta), gold), 1)]
    recorded = meta.get("detector_labels")
    if isinstance(recorded, dict):
        for name, pred in recorded.items():
            out.append((("q", str(name), gold, yes_no(pred) or BAD), 1))
    return out


def quality(counts: Mapping[tuple[str, str], float], name: str, ctx: SummaryContext) -> dict[str, Estimate]:
    """Accuracy, precision, recall and F1 of one detector from ``(gold, pred)`` counts."""
    kw = {"seed": ctx.seed, "n_boot": ctx.n_boot}
    tp, fn, fp, tn = (YES, YES), (YES, NO), (NO, YES), (NO, NO)
    bad_yes, bad_no = (YES, BAD), (NO, BAD)
    sub = {k: counts.get(k, 0) for k in (tp, fn, fp, tn, bad_yes, bad_no)}
    n = int(sum(sub.values()))
    if n == 0:
        reason = f"no prediction of {name!r} on an item with a gold bias label"
        return {f"detector_{m}.{name}": Estimate.refused(reason)
                for m in ("accuracy", "precision", "recall", "f1")}
    out = {
        f"detector_accuracy.{name}": proportion(sub, (tp, tn), (fn, fp, bad_yes, bad_no),
                                                key=ctx.key(f"detector_accuracy.{name}"),
                                                empty="", **kw),
    }
    fps, fns = (fp, bad_no), (fn, bad_yes)
    specs = {
        "precision": (lambda c: ratio(get(c, tp), get(c, tp, *fps)),
                      "it never predicted Yes, so precision is undefined" if sub[tp] + sub[fp] + sub[bad_no] == 0 else None),
        "recall": (lambda c: ratio(get(c, tp), get(c, tp, *fns)),
                   "no item has the gold label Yes, so recall is undefined" if sub[tp] + sub[fn] + sub[bad_yes] == 0 else None),
        "f1": (lambda c: ratio(2 * get(c, tp), 2 * get(c, tp) + get(c, *fps) + get(c, *fns)),
               "no Yes among gold labels or predictions, so F1 is undefined" if sub[tp] + sub[fp] + sub[fn] + sub[bad_yes] + sub[bad_no] == 0 else None),
    }
    for metric, (stat, reason) in specs.items():
        key = f"detector_{metric}.{name}"
        out[key] = (Estimate.refused(reason, n) if reason
                    else bootstrap(sub, stat, key=ctx.key(key), **kw))
    return out


def summarize(counts: Counts, ctx: SummaryContext) -> Section:
    """Gold bias-label rates per bias type and recorded detectors' quality."""
    kw = {"seed": ctx.seed, "n_boot": ctx.n_boot}
    metrics: dict[str, Estimate] = {}
    details: dict[str, object] = {}
    for bias in sorted({k[1] for k in counts if k[0] == "gold"}):
        yes, no = ("gold", bias, YES), ("gold", bias, NO)
        metrics[f"bias_label_rate.{bias}"] = proportion(
            counts, (yes,), (no,), key=ctx.key(f"bias_label_rate.{bias}"), empty="", **kw)
    detectors = sorted({k[1] for k in counts if k[0] == "q"})
    for name in detectors:
        sub = {(k[2], k[3]): v for k, v in counts.items() if k[0] == "q" and k[1] == name}
        metrics.update(quality(sub, name, ctx))
        details[name] = {f"{g}/{p}": int(v) for (g, p), v in sorted(sub.items())}
    return Section(metrics, {"recorded_detectors": details})
