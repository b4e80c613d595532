"""The RBD reasoning-supervision CSV (``bias_category``, ``llm_judge_model``, ``choices``,
``llm_judgment``, ``bias_label``, ...), read by :func:`debias.datasets.rbd.iter_rbd_csv`.

Each row is one judge verdict under a bias condition (both orders for position rows;
the statement becomes the item's cue for bandwagon rows). The gold ``bias_label``
becomes ``metadata.bias_label`` and the teacher model's label
(``deepseek_prediction_bias_label``) ``metadata.detector_labels["teacher"]``, so the
audit reports the gold bias rate per bias type and the teacher's accuracy/F1. The rows
carry no answer key, so accuracy is not available from this format.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from debias.audit.importers.build import csv_header
from debias.audit.importers.registry import ImportOptions, register_importer
from debias.audit.records import BadRecord, Pending
from debias.datasets.rbd import iter_rbd_csv, yes_no_text
from debias.errors import InputError

TEACHER = "teacher"


def _bad(exc: InputError, source: str) -> BadRecord:
    msg = str(exc)
    prefix = f"{source}, line {exc.line}"
    msg = msg.removeprefix(prefix + ", ").removeprefix(prefix + ": ")
    return BadRecord(exc.line or 0, msg, source)


@register_importer("rbd-csv")
class RBDCsvImporter:
    """RBD reasoning-supervision rows (e.g. ``rbd-reasoning-dev/dev.csv``)."""

    name = "rbd-csv"
    summary = "RBD reasoning-supervision CSV (bias_category, llm_judge_model, choices, llm_judgment, bias_label)"
    example = (
        "index,bias_category,llm_judge_model,instruction,choices,llm_judgment,...,bias_label\n"
        '12,sentiment,Claude-3.5-haiku,"Which tense...","1. ...\\n2. ...\\n3. ...",Choice 2,...,No\n'
        '16,position,GPT-4o,"Why are frogs green?","### First Evaluation (Original Order)\\nOutput (a): ...",...,Yes'
    )
    options: ClassVar[dict[str, str]] = {}

    def sniff(self, path: Path, first: Any) -> bool:
        header = csv_header(path)
        return "bias_category" in header and "llm_judgment" in header

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        source = str(path)
        errors: list[InputError] = []
        for rec in iter_rbd_csv(path, skip_invalid=True, errors=errors):
            while errors:  # rows that failed before this one, in file order
                yield _bad(errors.pop(0), source)
            meta = dict(rec.item.metadata)
            meta["bias"] = rec.bias
            if rec.gold is not None:
                meta["bias_label"] = yes_no_text(rec.gold)
            if rec.teacher is not None:
                meta["detector_labels"] = {TEACHER: yes_no_text(rec.teacher)}
            yield Pending(rec.line, rec.item.model_copy(update={"metadata": meta}))
        for exc in errors:
            yield _bad(exc, source)
