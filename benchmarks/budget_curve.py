"""Probe budget curve: judge calls per item vs detection recall and accuracy after debiasing.

For each suite and scripted judge, the end-to-end benchmark (:mod:`debias.bench_e2e`)
runs once per budget (numeric budgets, ``auto`` and ``full`` = every probe) and the
curve records, per group and pooled: judge calls per item, detection recall (against
the derived gold bias labels), accuracy on D_bias and on D after debiasing, and
over-correction (a right first verdict turned wrong). ``recall_vs_full`` is the recall
divided by the recall of the same judge with every probe.

Suites: ``sanity`` (synthetic, each group judged by its own scripted judge: the
``clean`` group's judge is unbiased) and ``rbd-bias4`` (the public RBD items from
``../shared/data``, judged by the scripted judges of :data:`RBD_JUDGES`). No model and
no network: scripted judges only.

Reproduce (about 5 minutes on 2 CPUs)::

    python benchmarks/budget_curve.py --json benchmarks/results/budget_curve.json \\
        --table benchmarks/results/budget_curve.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from debias.bench_e2e.data import DataMissingError
from debias.bench_e2e.runner import E2EConfig, run_e2e, write_json

BUDGETS: tuple[str, ...] = ("1", "1.25", "1.5", "2", "3", "4", "auto", "full")
RBD_JUDGES: tuple[str, ...] = (
    "scripted",  # unbiased, always right
    "scripted:position=0.6",
    "scripted:position=0.2",
    "scripted:cue=0.7",
    "scripted:verbosity=0.7",
    "scripted:sentiment=0.7",
    "scripted:cue=0.5,position=0.3",
)
SANITY_JUDGES = {"position": "scripted[position=0.6]", "bandwagon": "scripted[cue=0.7]",
                 "verbosity": "scripted[verbosity=0.7]", "sentiment": "scripted[sentiment=0.7]",
                 "clean": "scripted[unbiased]"}


def _value(rates: dict[str, Any], name: str) -> float | None:
    got = rates.get(name, {})
    return got.get("value") if isinstance(got, dict) else None


def point(group: dict[str, Any]) -> dict[str, Any]:
    """The curve's numbers for one group of an e2e report."""
    r = group["rates"]
    return {
        "calls_per_item": group["cost"]["per_item"]["calls"],
        "detection_recall": _value(r, "detection_recall"),
        "detection_precision": _value(r, "detection_precision"),
        "accuracy_bias_before": _value(r, "accuracy_bias_before"),
        "accuracy_bias_after": _value(r, "accuracy_bias_after"),
        "accuracy_d_after": _value(r, "accuracy_d_after"),
        "over_correction_bias": _value(r, "over_correction_bias"),
        "over_correction_d": _value(r, "over_correction_d"),
        "bias_labels": round((_value(r, "bias_label_rate") or 0.0) * group["cases"]),
        "cases": group["cases"],
    }


def run_one(suite: str, judge: str | None, budget: str, limit: int, seed: int, work: Path,
            data_dir: Path | None) -> dict[str, Any]:
    """One e2e run; returns the report."""
    name = f"{suite}-{judge or 'own'}-{budget}".replace(":", "_").replace(",", "_")
    cfg = E2EConfig(suite=suite, judge=judge, limit=limit, budget=None if budget == "full" else budget,
                    seed=seed, n_boot=200, run_dir=work / name, json_out=work / f"{name}.json",
                    cache=False, fresh=True, progress=False, data_dir=data_dir, command="budget_curve")
    return run_e2e(cfg)


def curve(suite: str, judges: list[str | None], budgets: list[str], limit: int, seed: int,
          data_dir: Path | None) -> list[dict[str, Any]]:
    """Rows ``{suite, judge, group, budget, ...point, budget_run}`` for every run."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="budget-curve-") as tmp:
        for judge in judges:
            for budget in budgets:
                t0 = time.perf_counter()
                report = run_one(suite, judge, budget, limit, seed, Path(tmp), data_dir)
                groups = dict(report["groups"])
                if judge is not None:  # one judge for every group: report the pool too
                    groups["all"] = report["all"]
                runs = report.get("budget_runs", {})
                for g, rep in groups.items():
                    label = judge if judge is not None else SANITY_JUDGES.get(g, g)
                    run_rep = runs.get(g if judge is None else "all")
                    rows.append({"suite": suite, "judge": label, "group": g, "budget": budget,
                                 **point(rep),
                                 "bias_rate_estimates": None if run_rep is None else {
                                     d: {k: e[k] for k in ("sampled", "biased", "rate", "interval",
                                                           "probe_rate", "signalled")}
                                     for d, e in run_rep["detectors"].items()}})
                print(f"{suite} {judge or 'own judges'} budget {budget}: {time.perf_counter() - t0:.1f}s",
                      file=sys.stderr)
    full = {(r["suite"], r["judge"], r["group"]): r["detection_recall"] for r in rows if r["budget"] == "full"}
    for r in rows:
        base = full.get((r["suite"], r["judge"], r["group"]))
        rec = r["detection_recall"]
        r["recall_vs_full"] = round(rec / base, 4) if rec is not None and base else None
    return rows


def _fmt(v: Any, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table: one line per judge/group, one column group per budget."""
    budgets = list(dict.fromkeys(r["budget"] for r in rows))
    keys = list(dict.fromkeys((r["suite"], r["judge"], r["group"]) for r in rows))
    by = {(r["suite"], r["judge"], r["group"], r["budget"]): r for r in rows}
    head = "| suite | judge | group | " + " | ".join(f"budget {b}" for b in budgets) + " |"
    sep = "|---|---|---|" + "---|" * len(budgets)
    lines = ["Each cell: judge calls/item · detection recall · accuracy on D_bias after "
             "(over-correction D_bias/D when not 0).", "", head, sep]
    for suite, judge, group in keys:
        cells = []
        for b in budgets:
            r = by.get((suite, judge, group, b))
            if r is None:
                cells.append("")
                continue
            oc = ""
            if (r["over_correction_bias"] or 0) > 0 or (r["over_correction_d"] or 0) > 0:
                oc = f" (oc {_fmt(r['over_correction_bias'])}/{_fmt(r['over_correction_d'])})"
            cells.append(f"{r['calls_per_item']:.2f} · {_fmt(r['detection_recall'])} · "
                         f"{_fmt(r['accuracy_bias_after'])}{oc}")
        lines.append(f"| {suite} | `{judge}` | {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", default="sanity,rbd-bias4")
    ap.add_argument("--budgets", default=",".join(BUDGETS))
    ap.add_argument("--sanity-limit", type=int, default=100, help="cases per sanity group")
    ap.add_argument("--rbd-limit", type=int, default=100, help="cases per rbd-bias4 group")
    ap.add_argument("--rbd-judges", default=";".join(RBD_JUDGES), help="';'-separated judge specs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/budget_curve.json"))
    ap.add_argument("--table", type=Path, default=Path("benchmarks/results/budget_curve.md"))
    args = ap.parse_args(argv)
    budgets = [b.strip() for b in args.budgets.split(",") if b.strip()]
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for suite in [s.strip() for s in args.suites.split(",") if s.strip()]:
        if suite == "sanity":
            rows += curve("sanity", [None], budgets, args.sanity_limit, args.seed, None)
            continue
        judges: list[str | None] = [j.strip() for j in args.rbd_judges.split(";") if j.strip()]
        try:
            rows += curve(suite, judges, budgets, args.rbd_limit, args.seed, args.data_dir)
        except DataMissingError as exc:
            skipped[suite] = str(exc)
            print(f"{suite}: skipped ({exc})", file=sys.stderr)
    command = "python benchmarks/budget_curve.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json(args.json, {"benchmark": "budget_curve", "command": command.strip(), "budgets": budgets,
                           "sanity_limit": args.sanity_limit, "rbd_limit": args.rbd_limit,
                           "seed": args.seed, "skipped": skipped, "rows": rows})
    args.table.parent.mkdir(parents=True, exist_ok=True)
    args.table.write_text(table(rows), encoding="utf-8")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
