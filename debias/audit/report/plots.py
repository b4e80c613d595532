"""Plots of the audit report, rendered with matplotlib (Agg) to base64 PNG strings.

matplotlib is imported lazily, only when a report is written; it is part of the
``report`` extra.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from debias.audit.metrics.estimate import Estimate
from debias.errors import MissingDependencyError

PALETTE = ("#3566a8", "#e07b39", "#4c9a5b", "#c4464f", "#7d62b3", "#8c6d4f", "#d16fb0", "#6f7f8f")
OUTCOME_COLORS = {"consistent": "#4c9a5b", "first": "#e07b39", "later": "#3566a8", "mixed": "#b8bec6"}
STYLE = {
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e8eb",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "axes.edgecolor": "#8a929b",
    "legend.frameon": False,
    "figure.dpi": 110,
}


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError(
            "the HTML report needs matplotlib: install judge-debias[report]") from exc
    return plt


def _png(fig: Any) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _short(name: str, width: int = 22) -> str:
    """A label for matplotlib: shortened, with ``$`` escaped (no accidental mathtext)."""
    name = name if len(name) <= width else name[: width - 1] + "…"
    return name.replace("$", r"\$")


def outcome_bars(rows: Sequence[tuple[str, dict[str, int]]], labels: dict[str, str]) -> str:
    """Horizontal stacked bars of outcome shares per scope (position consistency)."""
    plt = _plt()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.6, 0.55 * len(rows) + 1.3))
        names = [_short(r[0], 28) for r in rows]
        lefts = [0.0] * len(rows)
        for key, label in labels.items():
            shares = []
            for _name, counts in rows:
                total = sum(counts.get(k, 0) for k in labels) or 1
                shares.append(counts.get(key, 0) / total)
            bars = ax.barh(names, shares, left=lefts, color=OUTCOME_COLORS.get(key, "#999"),
                           label=label, height=0.6, edgecolor="white", linewidth=0.6)
            for bar, share in zip(bars, shares, strict=True):
                if share >= 0.07:
                    ax.text(bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2,
                            f"{share:.0%}", ha="center", va="center", color="white", fontsize=8.5,
                            fontweight="bold")
            lefts = [a + b for a, b in zip(lefts, shares, strict=True)]
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: f"{v:.0%}"))
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_title("Decisions across display orders")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.25 / max(len(rows), 1)),
                  ncol=len(labels))
        return _png(fig)


def _color(colors: dict[str, str] | None, scope: str, k: int) -> str:
    if colors and scope in colors:
        return colors[scope]
    return PALETTE[k % len(PALETTE)]


def rate_bars(groups: Sequence[str], series: Sequence[tuple[str, Sequence[Estimate | None]]],
              title: str, ylabel: str = "rate", reference: float | None = None,
              ylim: tuple[float, float] | None = (0.0, 1.0), colors: dict[str, str] | None = None) -> str:
    """Grouped bars with 95% interval whiskers: one group per metric, one bar per scope.

    Scopes without any value are left out (and out of the legend).
    """
    plt = _plt()
    series = [(scope, ests) for scope, ests in series if any(e is not None and e.ok for e in ests)]
    with plt.rc_context(STYLE):
        width_in = min(10.5, 2.2 + len(groups) * (1.0 + 0.35 * len(series)))
        fig, ax = plt.subplots(figsize=(max(5.2, width_in), 3.4))
        k = len(series)
        width = 0.8 / max(k, 1)
        for s, (scope, ests) in enumerate(series):
            xs, ys, lo, hi = [], [], [], []
            for g, est in enumerate(ests):
                if est is None or est.value is None:
                    continue
                x = g - 0.4 + width * (s + 0.5)
                xs.append(x)
                ys.append(est.value)
                lo.append(est.value - est.lo if est.lo is not None else 0.0)
                hi.append(est.hi - est.value if est.hi is not None else 0.0)
            color = _color(colors, scope, s)
            ax.bar(xs, ys, width=width * 0.92, color=color, label=_short(scope, 30), alpha=0.9)
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor="#2b2f33", elinewidth=1.1, capsize=3)
            for x, y, up in zip(xs, ys, hi, strict=True):
                ax.text(x, y + up + 0.015, f"{y:.2f}", ha="center", va="bottom", fontsize=7.5,
                        color="#2b2f33")
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups)
        if ylim:
            ax.set_ylim(ylim[0], ylim[1] + 0.08)
        if reference is not None:
            ax.axhline(reference, color="#8a929b", linestyle="--", linewidth=1)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="x", visible=False)
        if k > 1 or (k == 1 and series[0][0] != "overall"):
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(k, 4))
        return _png(fig)


def length_curves(curves: Sequence[tuple[str, list[dict[str, Any]]]],
                  fits: Sequence[tuple[str, dict[str, float]]], colors: dict[str, str] | None = None) -> str:
    """Left: P(longer wins) per |length difference| bin; right: fitted length-controlled curve."""
    plt = _plt()
    import numpy as np

    with plt.rc_context(STYLE):
        panels = 2 if fits else 1
        fig, axes = plt.subplots(1, panels, figsize=(9.6 if panels == 2 else 6.4, 3.5), squeeze=False)
        ax = axes[0][0]
        labels: list[str] = []
        for _scope, bins in curves:
            for b in bins:
                if b["bin"] not in labels:
                    labels.append(b["bin"])
        for s, (scope, bins) in enumerate(curves):
            pts = [(labels.index(b["bin"]), b) for b in bins if b.get("value") is not None]
            if not pts:
                continue
            xs = [p[0] + (s - (len(curves) - 1) / 2) * 0.08 for p in pts]
            ys = [p[1]["value"] for p in pts]
            lo = [y - (p[1]["ci"][0] if p[1].get("ci") else y) for y, p in zip(ys, pts, strict=True)]
            hi = [(p[1]["ci"][1] if p[1].get("ci") else y) - y for y, p in zip(ys, pts, strict=True)]
            color = _color(colors, scope, s)
            ax.errorbar(xs, ys, yerr=[lo, hi], color=color, marker="o", markersize=4.5, capsize=3,
                        linewidth=1.6, label=_short(scope, 30))
        ax.axhline(0.5, color="#8a929b", linestyle="--", linewidth=1)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=20)
        ax.set_ylim(0, 1)
        ax.set_xlabel("|length difference| (characters)")
        ax.set_ylabel("P(longer candidate wins)")
        ax.set_title("Length vs win rate")
        if sum(1 for _s, bins in curves if bins) > 1:
            ax.legend(loc="lower right", fontsize=8)
        if fits:
            ax2 = axes[0][1]
            span = max(f["sd"] for _s, f in fits) * 3
            d = np.linspace(-span, span, 200)
            for s, (scope, f) in enumerate(fits):
                y = 1.0 / (1.0 + np.exp(-(f["a"] + f["b"] * np.tanh(d / f["sd"]))))
                color = _color(colors, scope, s)
                ax2.plot(d, y, color=color, linewidth=1.8, label=_short(scope, 30))
                ax2.plot([0], [1.0 / (1.0 + np.exp(-f["a"]))], marker="o", color=color)
            ax2.axhline(0.5, color="#8a929b", linestyle="--", linewidth=1)
            ax2.axvline(0, color="#c9ced4", linewidth=1)
            ax2.set_ylim(0, 1)
            ax2.set_xlabel("length of candidate 2 - candidate 1 (characters)")
            ax2.set_ylabel("P(candidate 2 preferred)")
            ax2.set_title("Length-controlled fit (dot: at equal length)")
            if len(fits) > 1:
                ax2.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        return _png(fig)


def matrices(panels: Sequence[tuple[str, list[str], list[str], list[list[int]]]], title: str,
             xlabel: str, ylabel: str) -> str:
    """Confusion-matrix heatmaps with counts, one panel per (title, rows, cols, matrix)."""
    plt = _plt()
    import numpy as np

    with plt.rc_context({**STYLE, "axes.grid": False}):
        k = len(panels)
        cols = min(k, 3)
        rows_n = (k + cols - 1) // cols
        fig, axes = plt.subplots(rows_n, cols, figsize=(3.3 * cols + 0.4, 3.0 * rows_n + 0.5),
                                 squeeze=False)
        for idx, (name, row_labels, col_labels, m) in enumerate(panels):
            ax = axes[idx // cols][idx % cols]
            arr = np.asarray(m, dtype=float)
            total = arr.sum() or 1.0
            ax.imshow(arr / total, cmap="Blues", vmin=0, vmax=max(arr.max() / total, 1e-9))
            for i in range(arr.shape[0]):
                for j in range(arr.shape[1]):
                    share = arr[i, j] / total
                    ax.text(j, i, f"{int(arr[i, j])}\n{share:.0%}", ha="center", va="center",
                            fontsize=8.5, color="white" if share > 0.55 * (arr.max() / total) else "#1d2125")
            ax.set_xticks(range(len(col_labels)))
            ax.set_xticklabels(col_labels)
            ax.set_yticks(range(len(row_labels)))
            ax.set_yticklabels(row_labels)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(_short(name, 34), fontsize=10)
        for idx in range(k, rows_n * cols):
            axes[idx // cols][idx % cols].axis("off")
        fig.suptitle(title, fontweight="bold", fontsize=11)
        fig.tight_layout()
        return _png(fig)
