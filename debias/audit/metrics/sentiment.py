"""Sentiment bias: does the judge prefer upbeat wording?

Candidate tone is scored once per item by :class:`debias.audit.tone.CandidateTones`
(-1 very negative .. +1 very positive).
Observations for one judge's main verdict on a pairwise/multiple-choice item:

* ``most_positive`` / ``not_most``: whether the chosen candidate is the single most
  positive one (items whose top score is shared are ``no_unique_max``); a running sum
  of 1/n gives the chance rate to read it against;
* ``("gap", negative, correct)``: for labelled items, whether the correct option sounds
  negative (tone <= -0.05) and whether the judge was right.

Metrics: ``positive_chosen_rate``; ``accuracy_negative_correct`` and
``accuracy_other`` and their difference ``negative_correct_accuracy_gap`` (negative =
the judge is worse when the right answer sounds negative).
"""

from __future__ import annotations

from collections.abc import Sequence

from debias.audit.metrics.base import INVALID, Counts, Observations, Section, SummaryContext
from debias.audit.metrics.estimate import Estimate, bootstrap, get, proportion, ratio
from debias.audit.view import TIE, JudgeView, decision

FAMILY = "sentiment"
NEGATIVE = -0.05


def classify(view: JudgeView, scores: Sequence[float] | None) -> Observations:
    """Observations of the main verdict given per-candidate tone ``scores``."""
    main = view.main
    if main is None or scores is None or not view.comparable:
        return []
    d = decision(main)
    if d is None:
        return [(INVALID, 1)]
    out: Observations = []
    if d != TIE:
        top = max(scores)
        if sum(1 for s in scores if s == top) == 1:
            out.append(("most_positive" if scores[d] == top else "not_most", 1))
            out.append(("chance_sum", 1.0 / len(scores)))
        else:
            out.append(("no_unique_max", 1))
    label = view.item.label
    if label is not None:
        out.append((("gap", scores[label] <= NEGATIVE, d == label), 1))
    return out


def summarize(counts: Counts, ctx: SummaryContext) -> Section:
    """Positive-chosen rate and the accuracy gap for negative-sounding correct options."""
    kw = {"seed": ctx.seed, "n_boot": ctx.n_boot}
    metrics = {
        "positive_chosen_rate": proportion(
            counts, ("most_positive",), ("not_most",), key=ctx.key("positive_chosen_rate"),
            empty="no verdict on candidates with a single most positive option", **kw),
    }
    nt, nf, ot, of = (("gap", True, True), ("gap", True, False), ("gap", False, True),
                      ("gap", False, False))
    sub = {k: counts.get(k, 0) for k in (nt, nf, ot, of)}
    metrics["accuracy_negative_correct"] = proportion(
        sub, (nt,), (nf,), key=ctx.key("accuracy_negative_correct"),
        empty="no labelled item whose correct option sounds negative", **kw)
    metrics["accuracy_other"] = proportion(
        sub, (ot,), (of,), key=ctx.key("accuracy_other"),
        empty="no labelled item whose correct option sounds neutral or positive", **kw)
    if sub[nt] + sub[nf] == 0 or sub[ot] + sub[of] == 0:
        missing = "negative-sounding" if sub[nt] + sub[nf] == 0 else "neutral/positive-sounding"
        metrics["negative_correct_accuracy_gap"] = Estimate.refused(
            f"the gap needs both groups; no labelled item has a {missing} correct option",
            int(sum(sub.values())))
    else:
        metrics["negative_correct_accuracy_gap"] = bootstrap(
            sub, lambda c: ratio(get(c, nt), get(c, nt, nf)) - ratio(get(c, ot), get(c, ot, of)),
            key=ctx.key("negative_correct_accuracy_gap"), **kw)
    judged = counts.get("most_positive", 0) + counts.get("not_most", 0)
    details = {
        "most_positive": int(counts.get("most_positive", 0)),
        "not_most": int(counts.get("not_most", 0)),
        "no_unique_max": int(counts.get("no_unique_max", 0)),
        "chance_rate": counts.get("chance_sum", 0.0) / judged if judged else None,
        "invalid": int(counts.get(INVALID, 0)),
    }
    return Section(metrics, details)
