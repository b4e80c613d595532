"""The Markdown summary printed to the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from debias.audit.gates import GateResult
from debias.audit.headline import headline_rows, unavailable
from debias.audit.result import OVERALL, AuditResult

MAX_JUDGE_COLUMNS = 6


def _cell(result: AuditResult, name: str, scope: str) -> str:
    est = result.metric(name, None if scope == OVERALL else scope)
    if est is None or not est.ok:
        return "n/a"
    return f"{est.format()} (n={est.n})"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(result: AuditResult, gates: Sequence[GateResult] = (),
                    outputs: Sequence[str] = ()) -> str:
    """A Markdown summary: counts, headline table, flags, bad lines, gates."""
    judges = result.judges[:MAX_JUDGE_COLUMNS]
    scopes = [OVERALL] + ([] if len(result.judges) == 1 else judges)
    lines = [
        f"## Judge bias audit: `{result.source}` (format `{result.format}`)",
        "",
        f"{result.records:,} records, {result.items:,} items, {result.bad_count:,} bad records, "
        f"{len(result.judges)} judge(s): {', '.join(result.judges) or 'none'} "
        f"({result.elapsed_s:.1f} s). Values: estimate [95% bootstrap CI] (n).",
        "",
    ]
    rows = headline_rows(result)
    if rows:
        header = ["metric", *[("overall" if s == OVERALL else _escape(s)) for s in scopes]]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for name, _desc in rows:
            lines.append("| " + " | ".join([f"`{name}`", *(_cell(result, name, s) for s in scopes)]) + " |")
        if len(result.judges) > MAX_JUDGE_COLUMNS:
            lines.append(f"\n({len(result.judges) - MAX_JUDGE_COLUMNS} more judges in the JSON/HTML output)")
    else:
        lines.append("No metric could be computed from this input.")
    missing = unavailable(result)
    if missing:
        lines += ["", "Not available: " + "; ".join(f"`{k}`: {v}" for k, v in missing.items())]
    if result.flagged_count:
        flags = ", ".join(f"{b} {n:,}" for b, n in sorted(result.flagged_count.items()))
        lines += ["", f"Flagged by the offline detectors: {flags}."]
    if result.bad_count:
        shown = result.bad[:5]
        lines += ["", f"Bad records: {result.bad_count:,} (not used; first {len(shown)}):"]
        lines += [f"- line {b.line}: {b.message}" for b in shown]
    if gates:
        failed = [g for g in gates if g.failed]
        lines += ["", f"Gates: {len(gates) - len(failed)} passed, {len(failed)} failed"]
        lines += [f"- {g.message}" for g in gates]
    if outputs:
        lines += ["", "Wrote " + ", ".join(outputs) + "."]
    return "\n".join(lines) + "\n"
