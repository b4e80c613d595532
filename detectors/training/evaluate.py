"""Step 5: evaluate a detector (e.g. a fine-tuned adapter) on labelled detector inputs.

Each example's prompt (the RBD detector format) is sent to a chat backend, the output
parsed with :func:`detectors.reasoning.parse.parse_detection`, and compared with the gold
label. Per-example records are appended to the output JSONL as they finish (a re-run
skips finished ids); the metrics (accuracy, precision, recall, F1 of the Yes class, an
unparseable output counting as wrong) are computed over every record of the output with
:func:`debias.datasets.label_metrics.binary_metrics`, overall and per bias type.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from debias.backends.base import ChatBackend, Completion, Sampling
from debias.io import JsonlAppender, finished_ids
from detectors.reasoning.parse import parse_detection
from detectors.training.batch import errors_path
from detectors.training.records import ErrorRecord, Label, TrainExample, read_records

Progress = Callable[[str], None]


class EvalRecord(BaseModel):
    """One evaluated example.

    Attributes:
        id: Example id.
        bias: Bias type.
        gold: Gold label.
        predicted: Parsed label (None: unparseable, counted wrong).
        found_in: Which parse rule found the label.
        well_formed: Closed think block followed directly by the answer.
        output: The detector's raw output.
        seconds: Generation time per example (batch time / batch size).
    """

    id: str
    bias: str
    gold: Label
    predicted: Label | None
    found_in: str = "none"
    well_formed: bool = False
    output: str = ""
    seconds: float = 0.0


class EvalReport(BaseModel):
    """Detection quality over an evaluation output.

    Attributes:
        out: The per-example JSONL.
        n: Examples scored.
        evaluated: Examples evaluated in this run (the rest were resumed).
        errors: Examples whose generation failed in this run (retried on re-run).
        metrics: Overall metrics (accuracy, precision, recall, f1, counts, CI).
        per_bias: Metrics per bias type.
        unparseable: Outputs without a Yes/No.
        well_formed: Outputs in the trained format.
        seconds_per_example: Mean generation seconds per example.
        backend: Backend name.
    """

    out: str
    n: int = 0
    evaluated: int = 0
    errors: int = 0
    metrics: dict[str, Any] = Field(default_factory=dict)
    per_bias: dict[str, dict[str, Any]] = Field(default_factory=dict)
    unparseable: int = 0
    well_formed: int = 0
    seconds_per_example: float | None = None
    backend: str = ""

    def render(self) -> str:
        """Human-readable summary."""
        m = self.metrics
        lines = [f"evaluate: {self.n} examples ({self.evaluated} this run, {self.errors} errors) "
                 f"with {self.backend}",
                 f"  accuracy {m.get('accuracy')} (95% CI {m.get('accuracy_ci95')}), precision "
                 f"{m.get('precision')}, recall {m.get('recall')}, F1 {m.get('f1')}",
                 f"  unparseable {self.unparseable}, well-formed {self.well_formed}"]
        for bias, bm in sorted(self.per_bias.items()):
            lines.append(f"  {bias}: n={bm['n']} acc {bm['accuracy']} F1 {bm['f1']}")
        if self.seconds_per_example is not None:
            lines.append(f"  {self.seconds_per_example:.2f}s per example")
        lines.append(f"  records: {self.out}")
        return "\n".join(lines)


def eval_record(example: TrainExample, text: str, seconds: float) -> EvalRecord:
    """Score one output against its example (pure)."""
    parsed = parse_detection(text)
    return EvalRecord(id=example.id, bias=example.bias, gold=example.label, predicted=parsed.label,
                      found_in=parsed.found_in, well_formed=parsed.well_formed, output=text,
                      seconds=round(seconds, 4))


def summarize_records(records: list[EvalRecord], out: str, backend: str = "") -> EvalReport:
    """Metrics over evaluation records."""
    from debias.datasets.label_metrics import binary_metrics

    def pairs(rs: list[EvalRecord]) -> list[tuple[bool, bool | None]]:
        return [(r.gold == "Yes", None if r.predicted is None else r.predicted == "Yes") for r in rs]

    groups: dict[str, list[EvalRecord]] = defaultdict(list)
    for r in records:
        groups[r.bias].append(r)
    secs = [r.seconds for r in records if r.seconds > 0]
    return EvalReport(out=out, n=len(records), metrics=binary_metrics(pairs(records)).model_dump(),
                      per_bias={b: binary_metrics(pairs(rs)).model_dump() for b, rs in sorted(groups.items())},
                      unparseable=sum(r.predicted is None for r in records),
                      well_formed=sum(r.well_formed for r in records),
                      seconds_per_example=sum(secs) / len(secs) if secs else None, backend=backend)


def evaluate(examples: list[TrainExample], backend: ChatBackend, out: str | Path, *,
             sampling: Sampling | None = None, batch_size: int = 4,
             progress: Progress | None = None) -> EvalReport:
    """Run ``backend`` as the detector on every example and score it.

    Args:
        examples: Labelled examples (prompts in the RBD format).
        backend: The detector model (e.g. a local backend with the adapter).
        out: Per-example JSONL (appended; finished ids are skipped on a re-run).
        sampling: Generation settings (default greedy, 1024 new tokens).
        batch_size: Prompts per batched generation (local backends batch them).
        progress: Called with progress lines.

    Returns:
        The report over all records of ``out`` that belong to ``examples``; it is also
        written to ``<out stem>.summary.json``.
    """
    from debias.backends import complete_many

    sampling = sampling or Sampling(temperature=0.0, max_tokens=1024)
    out = Path(out)
    done = finished_ids(out)
    todo = [e for e in examples if e.id not in done]
    err_file = errors_path(out)
    err_file.parent.mkdir(parents=True, exist_ok=True)
    err_file.write_text("", encoding="utf-8")
    evaluated = errors = 0
    with JsonlAppender(out) as writer, JsonlAppender(err_file) as err_w:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            t0 = time.perf_counter()
            outs = complete_many(backend, [[{"role": "user", "content": e.prompt}] for e in chunk],
                                 sampling, batch_size=batch_size)
            per = (time.perf_counter() - t0) / len(chunk)
            for ex, res in zip(chunk, outs, strict=True):
                if isinstance(res, Completion):
                    writer.write(eval_record(ex, res.text, per))
                    evaluated += 1
                else:
                    err_w.write(ErrorRecord(id=ex.id, stage="evaluate",
                                            error=f"{type(res).__name__}: {res}"))
                    errors += 1
            if progress is not None:
                progress(f"evaluated {start + len(chunk)}/{len(todo)} ({per:.1f}s per example)")
    wanted = {e.id for e in examples}
    records = [r for _, r in read_records(out, EvalRecord) if r.id in wanted] if out.exists() else []
    latest = {r.id: r for r in records}
    report = summarize_records(list(latest.values()), str(out), getattr(backend, "name", ""))
    report.evaluated, report.errors = evaluated, errors
    summary = out.with_name(out.name.removesuffix(".jsonl") + ".summary.json")
    summary.write_text(json.dumps(report.model_dump(), indent=2) + "\n", encoding="utf-8")
    return report


def adapter_backend(adapter: str | Path, *, base: str | None = None, **options: Any) -> ChatBackend:
    """The reasoning detector's local backend with a fine-tuned adapter.

    The base model defaults to the one recorded in the adapter's card (``card.json``).
    """
    from debias.backends import create_backend
    from debias.errors import ConfigError
    from detectors.training.card import read_card

    if base is None:
        card = read_card(adapter)
        if card is None:
            raise ConfigError(f"adapter {str(adapter)!r} has no card.json; pass the base model "
                              "(--base)")
        base = str(card.get("base_model", {}).get("spec", "smollm2"))
    spec = "local" if base == "smollm2" else f"local:{base}"
    return create_backend(spec, adapter=str(adapter), **options)
