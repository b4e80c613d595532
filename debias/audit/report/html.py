"""The self-contained HTML report (inline CSS, plots as base64 PNG, no network needed)."""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from debias.audit.gates import GateResult
from debias.audit.headline import headline_rows
from debias.audit.metrics.estimate import Estimate
from debias.audit.report import plots
from debias.audit.result import OVERALL, AuditResult

CSS = """
:root{--ink:#1d2125;--muted:#5f6b76;--line:#e3e6ea;--bg:#f6f7f9;--accent:#3566a8;--bad:#b3261e;--ok:#2e7d32}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1120px;margin:0 auto;padding:28px 28px 60px}
header.top{background:#1f2a37;color:#fff;padding:26px 0 22px}
header.top .in{max-width:1120px;margin:0 auto;padding:0 28px}
header.top h1{margin:0 0 4px;font-size:24px;font-weight:650;letter-spacing:.2px}
header.top .sub{color:#c5cdd6;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:18px 0 4px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:130px}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.5px}
.card .v{font-size:22px;font-weight:650}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:18px 0}
h2{font-size:18px;margin:0 0 6px}h3{font-size:15px;margin:16px 0 6px}
p.lead{color:var(--muted);margin:0 0 12px;max-width:880px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5;font-weight:600;color:#374048;position:sticky;top:0}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
td.num b{font-size:14px}.ci{color:var(--muted);font-size:12px}.n{color:#8a939c;font-size:11px}
td.na{color:#9aa3ab;font-style:italic}
.desc{color:var(--muted);font-size:12px}
img.plot{max-width:100%;height:auto;display:block;margin:10px auto;border:1px solid #eef0f2;border-radius:6px}
.gate{padding:8px 12px;border-radius:6px;margin:6px 0;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.gate.fail{background:#fdecea;color:var(--bad);border:1px solid #f5c2bd}
.gate.pass{background:#edf7ee;color:var(--ok);border:1px solid #c3e6c5}
.na-box{color:var(--muted);background:#f7f8fa;border:1px dashed #d5dae0;border-radius:6px;padding:8px 12px}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-word;margin:0;background:#f7f8fa;padding:6px 8px;border-radius:4px}
nav.toc{font-size:13px;margin:10px 0 0}nav.toc a{color:#c5cdd6;margin-right:14px;text-decoration:none}
footer{color:var(--muted);font-size:12px;margin-top:26px}
"""

POSITION_LABELS = {"consistent": "same decision", "first": "flipped to the first slot",
                   "later": "flipped to a later slot", "mixed": "other inconsistency"}


def esc(x: Any) -> str:
    """HTML-escaped text."""
    return html.escape(str(x), quote=True)


def _est_cell(est: Estimate | None, name: str, scope: str) -> str:
    attrs = f'data-metric="{esc(name)}" data-scope="{esc(scope)}"'
    if est is None:
        return f'<td class="num na" {attrs}>–</td>'
    if not est.ok:
        return f'<td class="num na" {attrs} title="{esc(est.note or "")}">n/a</td>'
    ci = f'<div class="ci">[{est.lo:.3f}, {est.hi:.3f}]</div>' if est.lo is not None and est.hi is not None else ""
    return (f'<td class="num" {attrs} data-value="{est.value:.6f}"><b>{est.value:.3f}</b>{ci}'
            f'<div class="n">n = {est.n:,}</div></td>')


class ReportBuilder:
    """Builds the report HTML for one result."""

    def __init__(self, result: AuditResult, gates: Sequence[GateResult] = (), title: str | None = None,
                 command: str | None = None) -> None:
        self.r = result
        self.gates = list(gates)
        self.title = title or "Judge bias audit"
        self.command = command
        self.scopes = result.scopes() if len(result.judges) > 1 else [OVERALL]
        self.plot_scopes = result.judges or [OVERALL]
        self.colors = {self.scope_name(sc): plots.PALETTE[k % len(plots.PALETTE)]
                       for k, sc in enumerate(self.plot_scopes)}

    def scope_name(self, scope: str) -> str:
        return "overall" if scope == OVERALL else scope

    def est(self, name: str, scope: str) -> Estimate | None:
        return self.r.metric(name, None if scope == OVERALL else scope)

    def metric_table(self, names: Sequence[tuple[str, str]]) -> str:
        head = "".join(f"<th>{esc(self.scope_name(s))}</th>" for s in self.scopes)
        rows = []
        for name, desc in names:
            cells = "".join(_est_cell(self.est(name, s), name, s) for s in self.scopes)
            rows.append(f'<tr><td><code>{esc(name)}</code><div class="desc">{esc(desc)}</div></td>{cells}</tr>')
        return f'<table class="metrics"><thead><tr><th>metric</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'

    def has(self, name: str) -> bool:
        return any((e := self.est(name, s)) is not None and e.ok for s in self.r.scopes())

    def reason(self, name: str) -> str:
        e = self.est(name, OVERALL)
        return (e.note if e is not None and e.note else "not computed from this input")

    def img(self, b64: str, alt: str, key: str) -> str:
        return f'<img class="plot" data-plot="{esc(key)}" alt="{esc(alt)}" src="data:image/png;base64,{b64}">'

    # --- sections -------------------------------------------------------------------
    def headline(self) -> str:
        rows = headline_rows(self.r)
        body = self.metric_table(rows) if rows else '<div class="na-box">No metric could be computed from this input.</div>'
        return (f'<section id="headline"><h2>Headline</h2><p class="lead">Each cell: estimate, '
                f'95% bootstrap interval, and the number of judged units it rests on.</p>{body}</section>')

    def gates_section(self) -> str:
        if not self.gates:
            return ""
        failed = sum(g.failed for g in self.gates)
        items = "".join(f'<div class="gate {"fail" if g.failed else "pass"}">{esc(g.message)}</div>'
                        for g in self.gates)
        return (f'<section id="gates"><h2>CI gates: {len(self.gates) - failed} passed, {failed} failed</h2>'
                f"{items}</section>")

    def position(self) -> str:
        names = [("position_consistency", "same decision in every display order"),
                 ("first_slot_preference", "slot-driven flips that went to the first slot (0.5 = none)"),
                 ("position_bias_first", "JudgeLM bias toward the first slot (share of pairs)"),
                 ("position_bias_later", "JudgeLM bias toward a later slot (share of pairs)"),
                 ("delta_bias", "JudgeLM delta bias (first - later), signed")]
        head = ('<section id="position"><h2>Position bias</h2><p class="lead">The same candidates judged '
                "in different display orders. A content-based judge picks the same candidate in every "
                "order; a flip that follows a display slot reveals position bias.</p>")
        if not self.has("position_consistency"):
            return head + f'<div class="na-box">Not available: {esc(self.reason("position_consistency"))}.</div></section>'
        rows = []
        for s in self.plot_scopes:
            d = self.r.details("position", s)
            if sum(d.get(k, 0) for k in POSITION_LABELS):
                rows.append((self.scope_name(s), {k: d.get(k, 0) for k in POSITION_LABELS}))
        img = self.img(plots.outcome_bars(rows, POSITION_LABELS), "Position preference bars", "position")
        return head + img + self.metric_table(names) + "</section>"

    def cues(self) -> str:
        names = [("robustness_rate", "decision unchanged by the cue"),
                 ("reask_consistency", "same decision on an identical re-ask (noise ceiling)"),
                 ("flip_toward_endorsed", "decision moved to the endorsed candidate"),
                 ("flip_toward_share", "share of cue-induced flips that went the cue's way")]
        head = ('<section id="cues"><h2>Cue effects (bandwagon)</h2><p class="lead">Verdicts with and '
                "without a statement such as “90% believe that Output (b) is better”. Read the robustness "
                "rate against the plain re-ask consistency: a noisy judge caps both.</p>")
        avail = [(n, d) for n, d in names if self.has(n)]
        if not avail:
            return head + f'<div class="na-box">Not available: {esc(self.reason("robustness_rate"))}.</div></section>'
        series = [(self.scope_name(s), [self.est(n, s) for n, _ in avail]) for s in self.plot_scopes]
        img = self.img(plots.rate_bars([n.replace("_", " ") for n, _ in avail], series,
                                       "Flip rates with 95% intervals", colors=self.colors),
                       "Cue flip rates", "cues")
        return head + img + self.metric_table(names) + "</section>"

    def verbosity(self) -> str:
        names = [("longer_chosen_rate", "chosen candidate is the longer one"),
                 ("raw_win_rate", "observed preference for candidate 2 (ties = 1/2)"),
                 ("lc_win_rate", "length-controlled preference for candidate 2 (at equal length)"),
                 ("length_coef", "length sensitivity: log-odds per unit tanh(standardised difference)")]
        head = ('<section id="verbosity"><h2>Verbosity</h2><p class="lead">Does the judge prefer the '
                "longer candidate? Left: how often the longer candidate wins, by absolute length "
                "difference. Right: the AlpacaEval-style logistic fit of the preference on "
                "tanh(standardised length difference); its value at zero difference is the "
                "length-controlled preference.</p>")
        if not self.has("longer_chosen_rate") and not self.has("raw_win_rate"):
            return head + f'<div class="na-box">Not available: {esc(self.reason("longer_chosen_rate"))}.</div></section>'
        curves = [(self.scope_name(s), self.r.details("verbosity", s).get("length_bins", []))
                  for s in self.plot_scopes]
        fits = [(self.scope_name(s), f) for s in self.plot_scopes
                if (f := self.r.details("verbosity", s).get("fit"))]
        body = ""
        if any(c[1] for c in curves):
            body = self.img(plots.length_curves(curves, fits, self.colors), "Length vs win curve", "verbosity")
        lc = self.est("lc_win_rate", OVERALL)
        note = ""
        if lc is not None and not lc.ok:
            note = f'<div class="na-box">Length-controlled fit refused: {esc(lc.note)}.</div>'
        return head + body + note + self.metric_table(names) + "</section>"

    def sentiment(self) -> str:
        names = [("positive_chosen_rate", "chosen candidate is the most positive one"),
                 ("accuracy_negative_correct", "accuracy when the correct option sounds negative"),
                 ("accuracy_other", "accuracy on the other items"),
                 ("negative_correct_accuracy_gap", "difference of the two (negative = tone hurts)")]
        head = ('<section id="sentiment"><h2>Sentiment</h2><p class="lead">Tone of each candidate '
                "(VADER with the detector's framing lexicon). Scored for items tagged "
                "<code>metadata.bias = \"sentiment\"</code>, or every item with "
                "<code>--sentiment all</code>.</p>")
        avail = [(n, d) for n, d in names if self.has(n)]
        if not avail:
            return head + f'<div class="na-box">Not available: {esc(self.reason("positive_chosen_rate"))}.</div></section>'
        rates = [(n, d) for n, d in avail if n != "negative_correct_accuracy_gap"]
        chance = self.r.details("sentiment", OVERALL).get("chance_rate")
        series = [(self.scope_name(s), [self.est(n, s) for n, _ in rates]) for s in self.plot_scopes]
        img = self.img(plots.rate_bars([n.replace("_", " ") for n, _ in rates], series,
                                       "Tone effects with 95% intervals", reference=chance,
                                       colors=self.colors),
                       "Sentiment rates", "sentiment")
        extra = f'<p class="desc">Dashed line: chance rate of picking the most positive option ({chance:.2f}).</p>' if chance else ""
        return head + img + extra + self.metric_table(names) + "</section>"

    def accuracy(self) -> str:
        kinds = sorted({k.split(".", 1)[1] for s in self.r.scopes() for k in self.r.metrics(s)
                        if k.startswith("rbd_accuracy.")})
        names = [("accuracy", "main verdict equals the gold label")]
        for k in kinds:
            names += [(f"rbd_accuracy.{k}", f"correct on D_bias ({k})"),
                      (f"rbd_consistency.{k}", f"correct on D and D_bias ({k})"),
                      (f"rbd_bias_rate.{k}", f"correct on D, wrong on D_bias = gold bias label Yes ({k})")]
        head = ('<section id="accuracy"><h2>Accuracy and RBD consistency</h2><p class="lead">Against gold '
                "labels. RBD pairs the unbiased set D (original order / no cue / unbiased candidates) "
                "with the biased set D_bias; consistency = correct on both.</p>")
        if not self.has("accuracy") and not kinds:
            return head + f'<div class="na-box">Not available: {esc(self.reason("accuracy"))}.</div></section>'
        body = ""
        if kinds:
            panels = []
            for s in self.plot_scopes:
                det = self.r.details("rbd", s)
                for k in kinds:
                    c = det.get(k)
                    if c:
                        panels.append((f"{self.scope_name(s)}: {k}", ["D right", "D wrong"],
                                       ["D_bias right", "D_bias wrong"],
                                       [[c["both_correct"], c["only_D_correct"]],
                                        [c["only_D_bias_correct"], c["both_wrong"]]]))
            if panels:
                body = self.img(plots.matrices(panels[:12], "Correct on D vs on D_bias", "biased set",
                                               "unbiased set"), "RBD confusion matrices", "rbd")
        return head + body + self.metric_table(names) + "</section>"

    def agreement(self) -> str:
        names = [("human_agreement", "raw agreement with the reference label"),
                 ("cohen_kappa", "Cohen's kappa (ties are a class of their own)")]
        head = ('<section id="agreement"><h2>Agreement with human labels</h2><p class="lead">Judge '
                "decisions against the human label (or the gold label when no human label is given). "
                "Ties are an explicit class.</p>")
        if not self.has("human_agreement"):
            return head + f'<div class="na-box">Not available: {esc(self.reason("human_agreement"))}.</div></section>'
        panels = []
        refs: dict[str, int] = {}
        for s in self.plot_scopes:
            d = self.r.details("agreement", s)
            for k, v in d.get("reference", {}).items():
                refs[k] = refs.get(k, 0) + v
            if d.get("matrix"):
                panels.append((self.scope_name(s), d["classes"], d["classes"], d["matrix"]))
        img = self.img(plots.matrices(panels[:12], "Confusion matrices (rows: reference, columns: judge)",
                                      "judge", "reference"), "Agreement confusion matrices", "agreement")
        src = ", ".join(f"{k}: {v:,}" for k, v in refs.items() if v)
        return head + img + f'<p class="desc">Reference labels used: {esc(src)}.</p>' + self.metric_table(names) + "</section>"

    def findings(self) -> str:
        biases = sorted({k.split(".", 1)[1] for s in self.r.scopes() for k in self.r.metrics(s)
                         if k.startswith("findings_rate.")})
        quality = sorted({k for s in self.r.scopes() for k in self.r.metrics(s) if k.startswith("detector_")})
        labels = sorted({k for s in self.r.scopes() for k in self.r.metrics(s) if k.startswith("bias_label_rate.")})
        head = ('<section id="findings"><h2>Detector findings</h2><p class="lead">The cheap detectors run '
                "offline on the recorded verdicts (other orders / verdicts without the cue answer their "
                "probes). A detector that needs a probe the data lacks is counted as skipped; so is the "
                "sentiment detector on items that <code>--sentiment</code> does not tone-score.</p>")
        if not biases and not quality and not labels:
            return head + '<div class="na-box">No detector ran (see <code>--detectors</code>).</div></section>'
        body = ""
        if biases:
            series = [(self.scope_name(s), [self.est(f"findings_rate.{b}", s) for b in biases])
                      for s in self.plot_scopes]
            body += self.img(plots.rate_bars(biases, series, "Flagged share of assessed verdicts, by bias type",
                                             colors=self.colors),
                             "Findings per bias type", "findings")
            body += self.metric_table([(f"findings_rate.{b}", f"flagged / assessed ({b})") for b in biases])
            det = self.r.details("findings", OVERALL).get("detectors", {})
            if det:
                rows = "".join(f"<tr><td><code>{esc(n)}</code></td>" + "".join(
                    f'<td class="num">{c.get(k, 0):,}</td>' for k in ("detected", "clean", "skipped", "error"))
                    + "</tr>" for n, c in sorted(det.items()))
                body += ("<h3>Detector outcomes</h3><table><thead><tr><th>detector</th><th>flagged</th>"
                         f"<th>clean</th><th>skipped</th><th>error</th></tr></thead><tbody>{rows}</tbody></table>")
        if labels or quality:
            body += "<h3>Gold bias labels and detector quality</h3>"
            body += self.metric_table([(k, "") for k in labels + quality])
        body += self.flagged()
        return head + body + "</section>"

    def flagged(self) -> str:
        if not self.r.flagged:
            return ""
        parts = ["<h3>Flagged items</h3>"]
        for bias, entries in sorted(self.r.flagged.items()):
            total = self.r.flagged_count.get(bias, len(entries))
            rows = []
            for e in entries:
                values = json.dumps(e.get("values", {}), ensure_ascii=False)
                if len(values) > 400:
                    values = values[:400] + " …"
                analysis = e.get("analysis", "")
                if len(analysis) > 500:
                    analysis = analysis[:500] + " …"
                rows.append(
                    f'<tr data-flagged="{esc(bias)}"><td><code>{esc(e["id"])}</code><div class="n">line {e["line"]}</div></td>'
                    f'<td>{esc(e["judge"])}</td><td>{esc(e["detector"])}<div class="n">conf. {e["confidence"]:.2f}</div></td>'
                    f'<td>{esc(e.get("compared", ""))}<pre>{esc(values)}</pre></td><td class="desc">{esc(analysis)}</td></tr>')
            parts.append(
                f"<details><summary>{esc(bias)}: {total:,} flagged (showing {len(entries)})</summary>"
                "<table><thead><tr><th>item</th><th>judge</th><th>detector</th><th>evidence</th>"
                f"<th>analysis sent to the judge</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>")
        return "".join(parts)

    def data_quality(self) -> str:
        r = self.r
        if not r.bad_count:
            return ('<section id="data"><h2>Input</h2><p class="lead">Every record was read.</p></section>')
        rows = "".join(f"<tr><td class=\"num\">{b.line}</td><td>{esc(b.message)}</td></tr>" for b in r.bad)
        return (f'<section id="data"><h2>Input: {r.bad_count:,} bad records</h2><p class="lead">Records that '
                f"could not be used are counted and listed (first {len(r.bad)}), never dropped silently."
                f"</p><table><thead><tr><th>line</th><th>problem</th></tr></thead><tbody>{rows}</tbody></table></section>")

    def method(self) -> str:
        s = self.r.settings
        cmd = f"<p><code>{esc(self.command)}</code></p>" if self.command else ""
        return ('<section id="method"><h2>Method</h2><p class="lead">Intervals are 95% percentile '
                f"bootstrap intervals ({s.get('n_boot', '?')} resamples, seed {s.get('seed', '?')}). "
                "Every metric is a function of per-unit category counts, so resampling units is done "
                "exactly by multinomial draws of the counts; the audit therefore needs constant memory. "
                "A unit is one judge on one item. Metrics that are ill-posed on the data (no units, a fit "
                "with separated outcomes, kappa with a single class) are refused with the reason instead "
                f"of a number.</p>{cmd}"
                f"<pre>{esc(json.dumps(s, indent=1, default=str))}</pre></section>")

    def build(self) -> str:
        r = self.r
        flagged = sum(r.flagged_count.values())
        cards = "".join(
            f'<div class="card"><div class="k">{esc(k)}</div><div class="v" data-card="{esc(k)}">{esc(v)}</div></div>'
            for k, v in (("items", f"{r.items:,}"), ("judges", f"{len(r.judges)}"),
                         ("bad records", f"{r.bad_count:,}"), ("flagged verdicts", f"{flagged:,}")))
        sections = [self.gates_section(), self.headline(), self.position(), self.cues(), self.verbosity(),
                    self.sentiment(), self.accuracy(), self.agreement(), self.findings(),
                    self.data_quality(), self.method()]
        toc = "".join(f'<a href="#{k}">{v}</a>' for k, v in (
            ("headline", "Headline"), ("position", "Position"), ("cues", "Cues"), ("verbosity", "Verbosity"),
            ("sentiment", "Sentiment"), ("accuracy", "Accuracy"), ("agreement", "Agreement"),
            ("findings", "Findings"), ("data", "Input"), ("method", "Method")))
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return (
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(self.title)}</title>"
            f"<style>{CSS}</style></head><body>"
            f'<header class="top"><div class="in"><h1>{esc(self.title)}</h1>'
            f'<div class="sub">{esc(r.source)} · format <b>{esc(r.format)}</b> · judges: {esc(", ".join(r.judges) or "none")} · {now}</div>'
            f'<nav class="toc">{toc}</nav></div></header>'
            f'<main><div class="cards">{cards}</div>{"".join(sections)}'
            "<footer>Generated by judge-debias <code>debias audit</code>. Self-contained: no network "
            "access needed to view.</footer></main></body></html>"
        )


def write_report(result: AuditResult, path: str | Path, gates: Sequence[GateResult] = (),
                 command: str | None = None) -> Path:
    """Write the HTML report and return its path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(ReportBuilder(result, gates, command=command).build(), encoding="utf-8")
    return p
