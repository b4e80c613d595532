"""Verbosity bias: does the judge prefer the longer candidate?

Unit: one judge's main verdict on a pairwise item whose candidate texts are known
(an empty candidate text means "unknown" and excludes the item). Lengths are in
characters. Observations:

* ``longer`` / ``shorter`` / ``equal_length`` / ``tie`` / ``invalid``: whether the chosen
  candidate is the longer one (``longer_chosen_rate`` = longer / (longer + shorter));
* ``("bin", k, won)``: whether the longer candidate won, per bin of absolute length
  difference (the length-vs-win curve);
* ``("lc", fine_bin, outcome)`` plus running moments of the difference: the input of
  the length-controlled fit (:mod:`debias.audit.metrics.length_control`).
"""

from __future__ import annotations

import math

from debias.audit.metrics.base import INVALID, Counts, Observations, Section, SummaryContext
from debias.audit.metrics.estimate import Estimate, proportion
from debias.audit.metrics.length_control import fine_bin, length_controlled
from debias.audit.view import TIE, JudgeView, decision

FAMILY = "verbosity"
#: Lower edges of the absolute length-difference bins (characters).
BIN_EDGES = (1, 10, 30, 100, 300, 1000, 3000)
MOMENTS = "moments"


def bin_label(k: int) -> str:
    """Human label of coarse bin ``k``."""
    lo = BIN_EDGES[k]
    if k + 1 < len(BIN_EDGES):
        return f"{lo}-{BIN_EDGES[k + 1] - 1}"
    return f">={lo}"


def coarse_bin(diff: int) -> int:
    """Index of the bin of absolute length difference ``diff`` (>= 1)."""
    k = 0
    for i, edge in enumerate(BIN_EDGES):
        if diff >= edge:
            k = i
    return k


def classify(view: JudgeView) -> Observations:
    """Longer-chosen category, length-bin outcome and length-control observations."""
    item = view.item
    main = view.main
    if main is None or item.task != "pairwise":
        return []
    c0, c1 = item.candidates
    if not c0 or not c1:
        return []
    d_choice = decision(main)
    if d_choice is None:
        return [(INVALID, 1)]
    d = len(c1) - len(c0)
    out: Observations = [
        (("lc", fine_bin(d), 1 if d_choice == TIE else 2 * int(d_choice)), 1),
        ((MOMENTS, "s1"), float(d)),
        ((MOMENTS, "s2"), float(d) * d),
    ]
    if d_choice == TIE:
        out.append(("tie", 1))
    elif d == 0:
        out.append(("equal_length", 1))
    else:
        won = (d > 0) == (d_choice == 1)
        out.append(("longer" if won else "shorter", 1))
        out.append((("bin", coarse_bin(abs(d)), won), 1))
    return out


def summarize(counts: Counts, ctx: SummaryContext) -> Section:
    """Longer-chosen rate, win rate per length-difference bin, length-controlled fit."""
    kw = {"seed": ctx.seed, "n_boot": ctx.n_boot}
    metrics: dict[str, Estimate] = {
        "longer_chosen_rate": proportion(
            counts, ("longer",), ("shorter",), key=ctx.key("longer_chosen_rate"),
            empty="no pairwise verdict between candidates of different lengths", **kw),
    }
    lc = {(k[1], k[2]): v for k, v in counts.items() if isinstance(k, tuple) and k[0] == "lc"}
    n = sum(lc.values())
    s1 = counts.get((MOMENTS, "s1"), 0.0)
    s2 = counts.get((MOMENTS, "s2"), 0.0)
    sd = math.sqrt(max(s2 / n - (s1 / n) ** 2, 0.0)) if n else 0.0
    metrics.update(length_controlled(lc, sd, key=ctx.key("lc"), **kw))
    bins = []
    for k in range(len(BIN_EDGES)):
        won, lost = ("bin", k, True), ("bin", k, False)
        if counts.get(won, 0) + counts.get(lost, 0) == 0:
            continue
        est = proportion(counts, (won,), (lost,), key=ctx.key(f"bin{k}"), empty="", **kw)
        bins.append({"bin": bin_label(k), "lo": BIN_EDGES[k], **est.to_json()})
    details = {
        "longer": int(counts.get("longer", 0)), "shorter": int(counts.get("shorter", 0)),
        "equal_length": int(counts.get("equal_length", 0)), "ties": int(counts.get("tie", 0)),
        "invalid": int(counts.get(INVALID, 0)), "length_bins": bins, "length_sd": sd,
    }
    if metrics["lc_win_rate"].ok:
        # The plot overlays the fitted curve; keep the point estimates it needs.
        lcw = metrics["lc_win_rate"].value
        details["fit"] = {"a": math.log(lcw / (1 - lcw)), "b": metrics["length_coef"].value, "sd": sd}
    return Section(metrics, details)
