"""Training and evaluation examples from the pipeline's files or the RBD CSV.

Accepted inputs (``kind="auto"`` decides from the file):

* ``rbd-csv``: the RBD reasoning-supervision CSV (columns ``index, bias_category,
  llm_judge_model, instruction, choices, llm_judgment, without_bias_label_think_content,
  deepseek_prediction_bias_label, bias_label``). The prompt is the RBD format rendered from
  the columns (:func:`detectors.reasoning.format.input_from_row`); the trace is
  ``without_bias_label_think_content`` and the label ``bias_label`` (rows read by
  :func:`debias.datasets.rbd.iter_rbd_rows`, labels by its Yes/No parser). For training, rows
  whose teacher label (``deepseek_prediction_bias_label``) disagrees with the gold label
  are skipped, as in step 3 (``keep_disagreeing=True`` keeps them).
* ``traces``: the teacher step's JSONL (:class:`~detectors.training.records.TeacherTrace`;
  only kept traces are used).
* ``judged``: the collect step's JSONL (evaluation only: no traces).
* ``examples``: :class:`~detectors.training.records.TrainExample` JSONL.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from debias.datasets.rbd import (
    LABEL_COLUMN,
    TEACHER_COLUMN,
    TRACE_COLUMN,
    iter_rbd_rows,
    read_label,
    yes_no_text,
)
from debias.errors import InputError
from detectors.reasoning.format import (
    DEFAULT_TEMPLATE,
    ROW_COLUMNS,
    RBDTemplate,
    input_from_row,
    render_prompt,
)
from detectors.training.records import (
    JudgedPair,
    TeacherTrace,
    TrainExample,
    read_records,
)

Kind = Literal["auto", "rbd-csv", "traces", "judged", "examples"]


class LoadReport(BaseModel):
    """What loading a data file did.

    Attributes:
        source: The file.
        kind: The detected kind.
        sha256: SHA-256 of the file's bytes.
        rows: Records read.
        used: Examples produced.
        skipped: Records skipped, per reason.
    """

    source: str
    kind: str
    sha256: str
    rows: int = 0
    used: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def examples_hash(examples: list[TrainExample]) -> str:
    """A hash of exactly what is trained on (ids, prompts, traces, labels, in order)."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.id, ex.prompt, ex.trace, ex.label], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def normalise_label(value: object, *, line: int | None, field: str, source: str) -> Literal["Yes", "No"]:
    """A required Yes/No label (:func:`debias.datasets.rbd.parse_yes_no`) as ``Yes``/``No``.

    Raises:
        InputError: When the value is empty or not a Yes/No word.
    """
    label = read_label(value, field=field, line=line, source=source)
    if label is None:
        raise InputError(f"label {value!r} is not Yes or No", line=line, field=field, source=source)
    return yes_no_text(label)


def detect_kind(path: str | Path) -> str:
    """The kind of a data file, from its suffix and first record."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return "rbd-csv"
    with open(p, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                keys = set(json.loads(line))
            except (json.JSONDecodeError, TypeError):
                raise InputError("invalid JSON record", line=line_no, source=str(p)) from None
            if {"teacher", "trace", "prompt"} <= keys:
                return "traces"
            if {"pair", "biased_verdict", "label"} <= keys:
                return "judged"
            if {"prompt", "label"} <= keys:
                return "examples"
            raise InputError("cannot tell the kind of this file (expected teacher traces, "
                             "judged pairs, or examples with 'prompt' and 'label')",
                             line=line_no, source=str(p))
    raise InputError("file is empty", source=str(p))


def _from_csv(path: Path, training: bool, keep_disagreeing: bool, template: RBDTemplate,
              skipped: Counter[str]) -> tuple[list[TrainExample], int]:
    src = str(path)
    out: list[TrainExample] = []
    seen: set[str] = set()
    rows = 0
    needed = [*ROW_COLUMNS, LABEL_COLUMN] + ([TRACE_COLUMN] if training else [])
    for got in iter_rbd_rows(path, required=needed):
        rows += 1
        row, line = got.fields, got.line
        inp = input_from_row(row, line=line, source=src)
        label = normalise_label(row.get(LABEL_COLUMN), line=line, field=LABEL_COLUMN, source=src)
        trace = (row.get(TRACE_COLUMN) or "").strip()
        teacher = (row.get(TEACHER_COLUMN) or "").strip()
        if training:
            if not trace:
                skipped["no-trace"] += 1
                continue
            if teacher and not keep_disagreeing:
                tl = normalise_label(teacher, line=line, field=TEACHER_COLUMN, source=src)
                if tl != label:
                    skipped["teacher-disagrees"] += 1
                    continue
        ident = f"{inp.bias}-{(row.get('index') or '').strip() or line}"
        if ident in seen:
            ident = f"{ident}@{line}"
        seen.add(ident)
        out.append(TrainExample(id=ident, bias=inp.bias, prompt=render_prompt(inp, template),
                                label=label, trace=trace,
                                meta={"line": line, "judge_model": inp.judge_model,
                                      "teacher_label": teacher or None}))
    return out, rows


def _from_traces(path: Path, training: bool, skipped: Counter[str]) -> tuple[list[TrainExample], int]:
    out: list[TrainExample] = []
    rows = 0
    for line, tr in read_records(path, TeacherTrace):
        rows += 1
        if not tr.kept:
            skipped[f"dropped:{tr.drop_reason}"] += 1
            continue
        if training and not tr.trace.strip():
            skipped["no-trace"] += 1
            continue
        out.append(TrainExample(id=tr.id, bias=tr.bias, prompt=tr.prompt, label=tr.label,
                                trace=tr.trace, meta={"line": line, "judge_model": tr.judge_model,
                                                      "teacher": tr.teacher}))
    return out, rows


def _from_judged(path: Path, training: bool, template: RBDTemplate,
                 skipped: Counter[str]) -> tuple[list[TrainExample], int]:
    from detectors.training.teacher import detector_input

    if training:
        raise InputError("judged pairs have no reasoning traces to train on; run "
                         "'debias train teacher' first", source=str(path))
    out: list[TrainExample] = []
    rows = 0
    for line, rec in read_records(path, JudgedPair):
        rows += 1
        try:
            inp = detector_input(rec)
        except ValueError:  # e.g. a score verdict: counted, not trained on
            skipped["not-renderable"] += 1
            continue
        out.append(TrainExample(id=rec.id, bias=rec.bias, prompt=render_prompt(inp, template),
                                label=rec.label, meta={"line": line, "judge_model": inp.judge_model}))
    return out, rows


def _from_examples(path: Path, training: bool, skipped: Counter[str]) -> tuple[list[TrainExample], int]:
    out: list[TrainExample] = []
    rows = 0
    for _, ex in read_records(path, TrainExample):
        rows += 1
        if training and not ex.trace.strip():
            skipped["no-trace"] += 1
            continue
        out.append(ex)
    return out, rows


def load_examples(path: str | Path, *, kind: Kind = "auto", training: bool = True,
                  keep_disagreeing: bool = False, template: RBDTemplate = DEFAULT_TEMPLATE,
                  limit: int | None = None) -> tuple[list[TrainExample], LoadReport]:
    """Read training (``training=True``: traces required) or evaluation examples.

    Args:
        path: Data file (see the module docstring for the kinds).
        kind: File kind, or ``auto``.
        training: Require a reasoning trace per example (and skip CSV rows whose teacher
            label disagrees with the gold label unless ``keep_disagreeing``).
        keep_disagreeing: Keep CSV rows whose teacher label disagrees with the gold one.
        template: Detector prompt wording (must match between training and use).
        limit: Keep only the first ``limit`` examples.

    Raises:
        InputError: naming the file, line and field of a bad record.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", source=str(p))
    kind = detect_kind(p) if kind == "auto" else kind  # type: ignore[assignment]
    skipped: Counter[str] = Counter()
    readers: dict[str, Callable[[], tuple[list[TrainExample], int]]] = {
        "rbd-csv": lambda: _from_csv(p, training, keep_disagreeing, template, skipped),
        "traces": lambda: _from_traces(p, training, skipped),
        "judged": lambda: _from_judged(p, training, template, skipped),
        "examples": lambda: _from_examples(p, training, skipped),
    }
    if kind not in readers:
        raise InputError(f"unknown data kind {kind!r}; one of {sorted(readers)}", source=str(p))
    examples, rows = readers[kind]()
    if limit is not None:
        if limit < 1:
            raise InputError(f"limit must be >= 1, got {limit}", source=str(p))
        examples = examples[:limit]
    report = LoadReport(source=str(p), kind=kind, sha256=file_sha256(p), rows=rows,
                        used=len(examples), skipped=dict(skipped))
    return examples, report
