"""Agreement with human labels: raw agreement and Cohen's kappa, ties as their own class.

The reference is ``metadata["human_label"]`` (a 0-based candidate index or ``"tie"``)
when present, otherwise the gold ``label`` (no ties); the details say which was used.
Classes are the candidate numbers (1-based, as people read them) plus ``tie``; a
verdict without a decision is excluded and counted as ``invalid``.

``cohen_kappa`` = (p_o - p_e) / (1 - p_e) with p_e from the two raters' marginal class
shares; it is refused when p_e = 1 (both raters used one and the same class only).
"""

from __future__ import annotations

from collections.abc import Hashable

from debias.audit.metrics.base import INVALID, Counts, Observations, Section, SummaryContext
from debias.audit.metrics.estimate import Estimate, bootstrap, numpy
from debias.audit.view import TIE, JudgeView, decision

FAMILY = "agreement"
#: Metadata keys :func:`classify` reads (part of the pattern key, see :mod:`debias.audit.patterns`).
METADATA_KEYS: tuple[str, ...] = ("human_label",)


def _class(value: object, n: int) -> str | None:
    if value == TIE:
        return TIE
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n:
        return str(value + 1)
    return None


def classify(view: JudgeView) -> Observations:
    """``("m", reference_class, judge_class)`` and the reference source."""
    main = view.main
    item = view.item
    if main is None or not view.comparable:
        return []
    if "human_label" in item.metadata:
        ref, source = _class(item.metadata["human_label"], item.n), "human"
    else:
        ref, source = _class(item.label, item.n), "gold"
    if ref is None:
        return []
    d = decision(main)
    if d is None:
        return [(INVALID, 1)]
    return [(("m", ref, _class(d, item.n)), 1), (("src", source), 1)]


def classes(counts: Counts) -> list[str]:
    """Classes present, candidates in numeric order then ``tie``."""
    found = {k[i] for k in counts if isinstance(k, tuple) and k[0] == "m" for i in (1, 2)}
    return sorted((c for c in found if c != TIE), key=int) + ([TIE] if TIE in found else [])


def summarize(counts: Counts, ctx: SummaryContext) -> Section:
    """Raw agreement and Cohen's kappa with the confusion matrix in the details."""
    np = numpy()
    cells = {k: v for k, v in counts.items() if isinstance(k, tuple) and k[0] == "m"}
    labels = classes(counts)
    n = int(sum(cells.values()))
    empty = "no verdict on an item with a human or gold label"
    if n == 0:
        return Section({"human_agreement": Estimate.refused(empty),
                        "cohen_kappa": Estimate.refused(empty)},
                       {"invalid": int(counts.get(INVALID, 0))})

    def agree(c: dict[Hashable, object]) -> object:
        return sum(c[("m", k, k)] for k in labels) / n

    def kappa(c: dict[Hashable, object]) -> object:
        po = sum(c[("m", k, k)] for k in labels) / n
        pe = 0.0
        for k in labels:
            row = sum(c[("m", k, j)] for j in labels) / n
            col = sum(c[("m", i, k)] for i in labels) / n
            pe = pe + row * col
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isclose(pe, 1.0), np.nan, (po - pe) / (1.0 - pe))

    def refuse_kappa(c: Counts) -> str | None:
        used = {k[1] for k in c if c[k]} | {k[2] for k in c if c[k]}
        if len(used) < 2:
            return (f"Cohen's kappa is undefined: both the judge and the reference used only "
                    f"the class {next(iter(used))!r}, so chance agreement is 1")
        return None

    kw = {"seed": ctx.seed, "n_boot": ctx.n_boot}
    metrics = {
        "human_agreement": bootstrap(cells, agree, key=ctx.key("human_agreement"), **kw),
        "cohen_kappa": bootstrap(cells, kappa, key=ctx.key("cohen_kappa"), refuse=refuse_kappa,
                                 **kw),
    }
    matrix = [[int(cells.get(("m", r, j), 0)) for j in labels] for r in labels]
    details = {
        "classes": labels,
        "matrix": matrix,
        "reference": {s: int(counts.get(("src", s), 0)) for s in ("human", "gold")},
        "judge_ties": int(sum(cells.get(("m", r, TIE), 0) for r in labels)),
        "reference_ties": int(sum(cells.get(("m", TIE, j), 0) for j in labels)),
        "invalid": int(counts.get(INVALID, 0)),
    }
    return Section(metrics, details)
