"""Human-readable renderings of e2e summaries: a terminal summary and a Markdown table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _v(rate: dict[str, Any] | None, digits: int = 2) -> str:
    if not rate or rate.get("value") is None:
        return "n/a"
    return f"{rate['value']:.{digits}f}"


def _ci(rate: dict[str, Any] | None, digits: int = 2) -> str:
    if not rate or rate.get("value") is None:
        return "n/a"
    ci = rate.get("ci")
    text = f"{rate['value']:.{digits}f}"
    return text + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "")


def _signed(rate: dict[str, Any] | None) -> str:
    if not rate or rate.get("value") is None:
        return "n/a"
    ci = rate.get("ci")
    return f"{rate['value']:+.2f}" + (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")


def _arrow(rates: dict[str, Any], before: str, after: str) -> str:
    return f"{_v(rates.get(before))} → {_v(rates.get(after))}"


TABLE_HEAD = (
    "| suite | group | n | acc D (before → after) | acc D_bias (before → after) | "
    "acc D_bias, tie = ½ (before → after) | ties D_bias (before → after) | "
    "Δ acc D_bias [95% CI] | consistency (before → after) | agreement (before → after) | "
    "detect P / R | over-corr. D / D_bias | control D | calls/item | s/item |"
)
TABLE_RULE = "|" + "---|" * (TABLE_HEAD.count("|") - 1)


def table_rows(report: dict[str, Any], *, include_all: bool = True) -> list[str]:
    """One Markdown row per group (plus the pooled ``all`` row)."""
    rows = []
    blocks = list(report["groups"].items())
    if include_all and len(blocks) > 1:
        blocks.append(("all", report["all"]))
    for group, block in blocks:
        r = block["rates"]
        ctrl = block["control_check"]["ok"]
        cost = block["cost"]["per_item"]
        judge = report.get("judge", "")
        name = report["suite"] if judge in ("", "scripted") else f"{report['suite']} ({judge})"
        rows.append(
            f"| {name} | {group} | {block['cases']} | "
            f"{_arrow(r, 'accuracy_d_before', 'accuracy_d_after')} | "
            f"{_arrow(r, 'accuracy_bias_before', 'accuracy_bias_after')} | "
            f"{_arrow(r, 'accuracy_bias_half_before', 'accuracy_bias_half_after')} | "
            f"{_arrow(r, 'tie_rate_bias_before', 'tie_rate_bias_after')} | "
            f"{_signed(r.get('delta_accuracy_bias'))} | "
            f"{_arrow(r, 'consistency_before', 'consistency_after')} | "
            f"{_arrow(r, 'agreement_before', 'agreement_after')} | "
            f"{_v(r.get('detection_precision'))} / {_v(r.get('detection_recall'))} | "
            f"{_v(r.get('over_correction_d'))} / {_v(r.get('over_correction_bias'))} | "
            f"{'ok' if ctrl else 'n/a' if ctrl is None else 'LOWER'} | "
            f"{cost['calls']:.1f} | {cost['seconds']:.2f} |"
        )
    return rows


def render_table(reports: Sequence[dict[str, Any]]) -> str:
    """A Markdown table over several summaries, with each summary's command underneath."""
    lines = [TABLE_HEAD, TABLE_RULE]
    for rep in reports:
        lines += table_rows(rep)
    lines.append("")
    lines.append("Judges, detectors and commands:")
    lines.append("")
    for rep in reports:
        judges = ", ".join(sorted(set(rep["judges"].values())))
        lines.append(f"- `{rep['suite']}`: judge {judges}; detectors `{rep['detectors']}`; "
                     f"max rounds {rep['max_rounds']}; seed {rep['seed']}; "
                     f"{sum(rep['sample'].values())} cases; wall time "
                     f"{rep['wall_time']['seconds_total']:.0f} s "
                     f"({rep['machine']['cpus']} CPUs) — `{rep['command']}`")
    return "\n".join(lines) + "\n"


def load_reports(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Read summary JSON files (missing ones are skipped)."""
    return [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths if Path(p).exists()]


def render_summary(report: dict[str, Any]) -> str:
    """A short terminal summary of one run, with 95% intervals on the headline rates."""
    out = [f"e2e {report['suite']} | judge {report['judge']} | detectors {report['detectors']} | "
           f"max rounds {report['max_rounds']} | seed {report['seed']}"]
    blocks = list(report["groups"].items())
    if len(blocks) > 1:
        blocks.append(("all", report["all"]))
    for group, block in blocks:
        r = block["rates"]
        cost = block["cost"]["per_item"]
        ctrl = block["control_check"]["ok"]
        out.append(f"\n[{group}] {block['cases']} cases")
        out.append(f"  accuracy D       {_ci(r['accuracy_d_before'])} -> {_ci(r['accuracy_d_after'])}")
        out.append(f"  accuracy D_bias  {_ci(r['accuracy_bias_before'])} -> {_ci(r['accuracy_bias_after'])}")
        if "accuracy_bias_half_after" in r:
            out.append(f"  tie = 1/2        D {_v(r['accuracy_d_half_before'])} -> {_v(r['accuracy_d_half_after'])}, "
                       f"D_bias {_v(r['accuracy_bias_half_before'])} -> {_v(r['accuracy_bias_half_after'])}; "
                       f"ties D {_v(r['tie_rate_d_before'])} -> {_v(r['tie_rate_d_after'])}, "
                       f"D_bias {_v(r['tie_rate_bias_before'])} -> {_v(r['tie_rate_bias_after'])}")
        if block.get("resolution"):
            paths = ", ".join(f"{k} {v}" for k, v in sorted(block["resolution"].get("D_bias", {}).items()))
            out.append(f"  final verdicts   D_bias from: {paths}")
        out.append(f"  consistency      {_ci(r['consistency_before'])} -> {_ci(r['consistency_after'])}")
        out.append(f"  agreement        {_ci(r['agreement_before'])} -> {_ci(r['agreement_after'])}")
        out.append(f"  bias labels      {_ci(r['bias_label_rate'])}; detection precision "
                   f"{_ci(r['detection_precision'])}, recall {_ci(r['detection_recall'])}")
        out.append(f"  over-correction  D {_ci(r['over_correction_d'])}, D_bias "
                   f"{_ci(r['over_correction_bias'])}; control check "
                   f"{'ok' if ctrl else 'n/a' if ctrl is None else 'FAILED (accuracy on D fell below its CI)'}")
        out.append(f"  per item         {cost['calls']:.2f} calls ({cost['sent_calls']:.2f} sent), "
                   f"{cost['tokens']:.0f} tokens, ${cost['cost']:.5f}, {cost['seconds']:.2f} s")
        if block["errors"]["count"]:
            out.append(f"  errors           {block['errors']['count']} (e.g. {block['errors']['examples'][0]})")
    return "\n".join(out)
