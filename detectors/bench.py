"""Detection-quality benchmark on RBD-format labelled verdicts.

Each labelled row (see :mod:`detectors.rbd_csv`) asks "does this recorded verdict show
<bias>?"; the gold answer is Yes when the judge was right without the bias and wrong
with it. The benchmark runs the selected detectors OFFLINE on the row's recorded
verdict(s): the cheap detectors of the row's bias type first (probes answered from the
recorded verdicts), then model-backed detectors covering that bias as the cascade rule of
:mod:`debias.cascade` decides. The row's prediction is the model detector's finding
when one ran successfully, else the cheap finding; a ``skipped`` finding means "No", an
``error`` finding counts as wrong (as an unparseable detector output does in the paper).
Rows whose bias no selected detector covers are left out of the metrics and counted.

Metrics: accuracy (with a Wilson 95% interval), precision, recall and F1 of the Yes
class, overall, per bias type and per judge model, plus the same metrics for the file's
teacher labels as a reference row; detector model calls; time per item.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from debias.cascade import covered_biases, plan_model_detectors
from debias.contract import AnyDetector, DetectContext, ModelDetector, errored, skipped
from debias.errors import ConfigError, InputError
from debias.offline import detect_offline
from debias.types import Finding
from detectors.rbd_csv import RBDRecord

DEFAULT_DETECTORS = ("position", "bandwagon", "verbosity", "sentiment")


class Metrics(BaseModel):
    """Binary detection metrics of the Yes (bias) class.

    Attributes:
        n: Rows scored.
        accuracy: Share of rows predicted correctly (a missing prediction is wrong).
        precision: TP / (TP + FP), 0 when nothing was predicted Yes.
        recall: TP / (TP + FN), 0 when there is no Yes row.
        f1: Harmonic mean of precision and recall.
        tp: True positives.
        fp: False positives.
        tn: True negatives.
        fn: False negatives.
        missing: Rows without a usable prediction (errors), counted as wrong.
        accuracy_ci95: Wilson 95% interval of the accuracy.
    """

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    tn: int
    fn: int
    missing: int = 0
    accuracy_ci95: tuple[float, float] = (0.0, 0.0)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (round(max(0.0, mid - half), 4), round(min(1.0, mid + half), 4))


def binary_metrics(pairs: Iterable[tuple[bool, bool | None]]) -> Metrics:
    """Metrics from ``(gold, predicted)`` pairs; ``predicted=None`` is a wrong answer."""
    tp = fp = tn = fn = missing = 0
    for gold, pred in pairs:
        if pred is None:
            missing += 1
            pred = not gold  # counted as wrong
        if pred and gold:
            tp += 1
        elif pred:
            fp += 1
        elif gold:
            fn += 1
        else:
            tn += 1
    n = tp + fp + tn + fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(n=n, accuracy=round((tp + tn) / n, 4) if n else 0.0, precision=round(precision, 4),
                   recall=round(recall, 4), f1=round(f1, 4), tp=tp, fp=fp, tn=tn, fn=fn,
                   missing=missing, accuracy_ci95=wilson(tp + tn, n))


class RowOutcome(BaseModel):
    """The benchmark's view of one row.

    Attributes:
        row: Data row number.
        index: The row's index column.
        bias: Bias category of the row.
        judge_model: Judge whose verdict was checked.
        gold: Gold label (None: unlabelled).
        teacher: Teacher label (None: absent).
        predicted: Detector prediction (None: error, counted wrong).
        confidence: Confidence of the deciding finding.
        status: Status of the deciding finding (``uncovered`` when no detector applies).
        detector: Name of the deciding detector.
        rule: The rule that decided (``evidence.values["rule"]``), when reported.
        calls: Detector model calls spent on the row.
        elapsed_s: Detection time of the row.
    """

    row: int
    index: str
    bias: str
    judge_model: str
    gold: bool | None
    teacher: bool | None
    predicted: bool | None
    confidence: float = 0.0
    status: str = "ok"
    detector: str | None = None
    rule: str | None = None
    calls: int = 0
    elapsed_s: float = 0.0


def detect_record(record: RBDRecord, detectors: Sequence[AnyDetector]) -> tuple[list[Finding], Finding | None]:
    """Run the detectors that cover ``record.bias`` offline on the record's verdict.

    Returns:
        All findings (cheap first, then model detectors) and the deciding finding (None
        when no detector covers the bias).
    """
    cheap = [d for d in detectors if not isinstance(d, ModelDetector) and d.bias == record.bias]
    models = [d for d in detectors if isinstance(d, ModelDetector)
              and (not covered_biases(d) or record.bias in covered_biases(d))]
    findings = detect_offline(record.item, record.verdict, cheap)
    cheap_findings = list(findings)
    ctx = DetectContext(item=record.item, verdict=record.verdict, mode="offline")
    for mdet, decision in plan_model_detectors(models, cheap_findings):
        if not decision.call:
            findings.append(skipped(mdet, decision.reason or "cascade: no cheap signal"))
            continue
        try:
            findings.append(mdet.detect(ctx, cheap_findings))
        except Exception as exc:
            findings.append(errored(mdet, exc))
    mine = [f for f in findings if f.bias == record.bias]
    model_ok = [f for f in mine if f.calls > 0 and f.status in ("ok", "error")]
    deciding = model_ok[-1] if model_ok else next((f for f in mine if f.status != "skipped"),
                                                   mine[0] if mine else None)
    return findings, deciding


def _outcome(record: RBDRecord, findings: list[Finding], deciding: Finding | None,
             elapsed: float) -> RowOutcome:
    calls = sum(f.calls for f in findings)
    base = {"row": record.row, "index": record.index, "bias": record.bias,
            "judge_model": record.judge_model, "gold": record.gold, "teacher": record.teacher,
            "calls": calls, "elapsed_s": elapsed}
    if deciding is None:
        return RowOutcome(**base, predicted=None, status="uncovered")
    predicted: bool | None
    if deciding.status == "error":
        predicted = None
    elif deciding.status == "skipped":
        predicted = False
    else:
        predicted = deciding.detected
    rule = deciding.evidence.values.get("rule") if deciding.evidence else None
    return RowOutcome(**base, predicted=predicted, confidence=deciding.confidence,
                      status=deciding.status, detector=deciding.detector,
                      rule=str(rule) if rule is not None else (deciding.reason or deciding.detector))


def _group(rows: Sequence[RowOutcome], key: Callable[[RowOutcome], str],
           pred: Callable[[RowOutcome], bool | None]) -> dict[str, Metrics]:
    groups: dict[str, list[RowOutcome]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return {k: binary_metrics((r.gold, pred(r)) for r in v)  # type: ignore[misc]
            for k, v in sorted(groups.items())}


def summarize(rows: Sequence[RowOutcome], detectors: Sequence[AnyDetector], *,
              include_rows: bool = False) -> dict[str, Any]:
    """The benchmark report (JSON-ready) from per-row outcomes."""
    scored = [r for r in rows if r.gold is not None and r.status != "uncovered"]
    overall = binary_metrics((r.gold, r.predicted) for r in scored)  # type: ignore[misc]
    with_teacher = [r for r in rows if r.gold is not None and r.teacher is not None]
    teacher = binary_metrics((r.gold, r.teacher) for r in with_teacher)  # type: ignore[misc]
    errors: Counter[str] = Counter()
    for r in scored:
        if r.predicted is None:
            errors[f"{r.bias}:{r.status}:{r.rule}"] += 1
        elif r.predicted != r.gold:
            errors[f"{r.bias}:{r.rule}:{'fp' if r.predicted else 'fn'}"] += 1
    total_time = sum(r.elapsed_s for r in rows)
    calls = sum(r.calls for r in rows)
    report: dict[str, Any] = {
        **overall.model_dump(),
        "per_bias": {k: m.model_dump() for k, m in _group(scored, lambda r: r.bias, lambda r: r.predicted).items()},
        "per_judge": {k: m.model_dump() for k, m in _group(scored, lambda r: r.judge_model,
                                                           lambda r: r.predicted).items()},
        "teacher": {
            "label_column": "deepseek_prediction_bias_label",
            **teacher.model_dump(),
            "per_bias": {k: m.model_dump() for k, m in _group(with_teacher, lambda r: r.bias,
                                                              lambda r: r.teacher).items()},
        },
        "rows": len(rows),
        "unlabelled_rows": sum(1 for r in rows if r.gold is None),
        "uncovered_rows": sum(1 for r in rows if r.status == "uncovered"),
        "status_counts": dict(Counter(r.status for r in rows)),
        "detectors": [{"name": d.name, "version": d.version, "bias": d.bias, "policy": d.policy}
                      for d in detectors],
        "model_calls": calls,
        "model_calls_per_item": round(calls / len(rows), 4) if rows else 0.0,
        "time_total_s": round(total_time, 4),
        "time_per_item_s": round(total_time / len(rows), 6) if rows else 0.0,
        "errors_by_rule": dict(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))),
        "rules_used": dict(sorted(Counter(f"{r.bias}:{r.rule}" for r in scored).items())),
    }
    if include_rows:
        report["row_outcomes"] = [r.model_dump() for r in rows]
    return report


def run_detection_benchmark(
    records: Iterable[RBDRecord],
    detectors: Sequence[AnyDetector],
    *,
    include_rows: bool = False,
    on_row: Callable[[RowOutcome], None] | None = None,
) -> dict[str, Any]:
    """Run the detectors on every record and summarise detection quality.

    Args:
        records: Labelled rows (e.g. from :func:`detectors.rbd_csv.iter_rbd_csv`).
        detectors: Cheap and/or model detectors.
        include_rows: Add per-row outcomes (labels and predictions, no texts) to the report.
        on_row: Called with each row's outcome as soon as it is known (progress, logging).

    Returns:
        The report: ``accuracy``, ``precision``, ``recall``, ``f1`` (and counts) at top
        level, ``per_bias``, ``per_judge``, ``teacher``, ``model_calls``,
        ``time_per_item_s``, ``errors_by_rule`` and more.
    """
    rows: list[RowOutcome] = []
    for record in records:
        start = time.perf_counter()
        findings, deciding = detect_record(record, detectors)
        outcome = _outcome(record, findings, deciding, time.perf_counter() - start)
        rows.append(outcome)
        if on_row is not None:
            on_row(outcome)
    return summarize(rows, detectors, include_rows=include_rows)



def bench_detect_file(
    path: str | Path,
    detectors: str | Sequence[str] | Sequence[AnyDetector] = DEFAULT_DETECTORS,
    *,
    limit: int | None = None,
    include_rows: bool = False,
    skip_invalid: bool = False,
    on_row: Callable[[RowOutcome], None] | None = None,
) -> dict[str, Any]:
    """Run the detection benchmark on an RBD-format CSV file.

    Args:
        path: The CSV file.
        detectors: Detector specs (``"position,bandwagon:policy=flag"``), names, or instances.
        limit: Only the first ``limit`` rows.
        include_rows: Add per-row outcomes to the report.
        skip_invalid: Skip (and count) malformed rows instead of failing.
        on_row: Progress callback, called with each row's outcome.

    Returns:
        The report of :func:`run_detection_benchmark` plus ``data``, ``invalid_rows``,
        ``tokenizer`` and ``created_utc``.

    Raises:
        InputError: For an unreadable file, a malformed row (unless ``skip_invalid``), or
            a file without labelled rows.
    """
    from debias.contract import parse_detector_specs
    from detectors.lengths import tokenizer_name
    from detectors.rbd_csv import iter_rbd_csv

    if isinstance(detectors, str) or (detectors and isinstance(detectors[0], str)):
        dets: list[AnyDetector] = parse_detector_specs(detectors)  # type: ignore[arg-type]
    else:
        dets = list(detectors)  # type: ignore[arg-type]
    if not dets:
        raise ConfigError("no detectors selected")
    invalid: list[InputError] = []
    records: Iterable[RBDRecord] = iter_rbd_csv(path, skip_invalid=skip_invalid, errors=invalid)
    if limit is not None:
        records = itertools.islice(records, limit)
    report = run_detection_benchmark(records, dets, include_rows=include_rows, on_row=on_row)
    if report["n"] == 0:
        raise InputError("no labelled rows (bias_label Yes/No) to score", source=str(path))
    report["data"] = str(path)
    report["invalid_rows"] = len(invalid)
    report["invalid_examples"] = [str(e) for e in invalid[:5]]
    report["tokenizer"] = tokenizer_name()
    report["created_utc"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return report


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table of the report: overall, per bias, and the teacher reference."""
    head = f"{'':<22}{'n':>5}{'acc':>8}{'prec':>8}{'rec':>8}{'f1':>8}"
    lines = [head, "-" * len(head)]

    def row(name: str, m: dict[str, Any]) -> str:
        return (f"{name:<22}{m['n']:>5}{m['accuracy']:>8.3f}{m['precision']:>8.3f}"
                f"{m['recall']:>8.3f}{m['f1']:>8.3f}")

    lines.append(row("detectors (all)", report))
    for bias, m in report.get("per_bias", {}).items():
        lines.append(row(f"  {bias}", m))
    teacher = report.get("teacher", {})
    if teacher.get("n"):
        lines.append(row("teacher (all)", teacher))
        for bias, m in teacher.get("per_bias", {}).items():
            lines.append(row(f"  {bias}", m))
    lines.append("")
    lines.append(f"model calls: {report.get('model_calls', 0)} "
                 f"({report.get('model_calls_per_item', 0.0)} per item); "
                 f"time per item: {report.get('time_per_item_s', 0.0) * 1000:.2f} ms")
    if report.get("errors_by_rule"):
        lines.append("errors by rule: " + ", ".join(f"{k} x{v}" for k, v in report["errors_by_rule"].items()))
    return "\n".join(lines)
