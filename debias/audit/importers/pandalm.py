"""PandaLM verdict files judged against the human-annotated PandaLM test set.

INPUT is a judge's verdict file (a JSON array of ``{"idx", "<x>_result", "<x>_reason"}``);
``--join`` is the test set (``testset-v1.json``: ``idx``, ``instruction``, ``input``,
``response1``, ``response2``, ``annotator1..3`` with 0 = tie, 1, 2; may contain bare
``NaN``). Without ``--join`` the importer looks for ``testset-v1.json`` next to INPUT.

Verdict results ``1``/``2`` pick a response, ``0``/``Tie`` is a tie, anything else
(e.g. ``garbage``) is kept as a verdict without a decision and counted as invalid. The
human label is the majority of the annotators (a tie when the majority says 0); it is
both ``metadata.human_label`` and, when not a tie, the gold ``label``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from debias.audit.importers.build import judge_from_path, majority, text, verdict
from debias.audit.importers.jsonstream import iter_json, missing
from debias.audit.importers.registry import ImportOptions, register_importer
from debias.audit.importers.values import TIE, parse_slot
from debias.audit.records import BadRecord, Pending
from debias.errors import ConfigError

TESTSET = "testset-v1.json"


def _result_key(record: dict[str, Any]) -> str | None:
    return next((k for k in record if k.endswith("_result")), None)


def _load_testset(path: Path) -> dict[int, dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for rec in iter_json(path):
        if isinstance(rec, BadRecord):
            continue
        row = rec[1]
        if isinstance(row, dict) and not missing(row.get("idx")):
            rows[int(row["idx"])] = row
    if not rows:
        raise ConfigError(f"--join {str(path)!r} has no PandaLM test-set rows (with 'idx')")
    return rows


@register_importer("pandalm")
class PandaLMImporter:
    """A PandaLM judge's verdict file joined with the human-annotated test set."""

    name = "pandalm"
    summary = "PandaLM verdict file (idx, <judge>_result) + --join testset-v1.json (human labels)"
    example = (
        '[{"idx": 0, "gpt_result": "2", "gpt_reason": "Response 2 is more concise ..."},\n'
        ' {"idx": 1, "gpt_result": "Tie", "gpt_reason": "Both responses ..."},\n'
        ' {"idx": 2, "gpt_result": "1", "gpt_reason": "Response 1 ..."}, ...]'
    )
    options: ClassVar[dict[str, str]] = {"judge": "judge name (default: the file name without -testset-v1)"}

    def sniff(self, path: Path, first: Any) -> bool:
        return isinstance(first, dict) and "idx" in first and _result_key(first) is not None

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        join = options.join or path.with_name(TESTSET)
        if not join.exists():
            raise ConfigError(f"format 'pandalm' needs the test set: pass --join {TESTSET} "
                              f"(not found next to {path})")
        testset = _load_testset(join)
        judge = options.get("judge") or judge_from_path(path, "-testset-v1", "_testset-v1")
        source = str(path)
        for rec in iter_json(path):
            if isinstance(rec, BadRecord):
                yield rec
                continue
            line, row = rec
            if not isinstance(row, dict) or missing(row.get("idx")):
                yield BadRecord(line, "record has no 'idx'", source)
                continue
            key = _result_key(row)
            if key is None:
                yield BadRecord(line, "record has no '<judge>_result' field", source)
                continue
            base = testset.get(int(row["idx"]))
            if base is None:
                yield BadRecord(line, f"idx {row['idx']} is not in the test set {join.name}", source)
                continue
            yield Pending(line, _item(base, row[key], judge))


def _item(base: dict[str, Any], result: Any, judge: str) -> dict[str, Any]:
    try:
        slot = parse_slot(result, 2, base=1, zero_is_tie=True)
    except ValueError:
        slot = None  # the judge's output was unusable: a verdict without a decision
    annotators = [base.get(f"annotator{k}") for k in (1, 2, 3) if f"annotator{k}" in base]
    vote = majority([int(a) for a in annotators if not missing(a)])
    meta: dict[str, Any] = {"source": "pandalm", "annotators": [None if missing(a) else int(a)
                                                                  for a in annotators]}
    for k in ("motivation_app", "cmp_key"):
        if not missing(base.get(k)):
            meta[k] = base[k]
    label = None
    if vote in (1, 2):
        label = vote - 1
        meta["human_label"] = label
    elif vote == 0:
        meta["human_label"] = TIE
    instruction = text(base.get("instruction"))
    if text(base.get("input")):
        instruction += "\n\n" + text(base.get("input"))
    return {
        "id": str(base["idx"]),
        "task": "pairwise",
        "instruction": instruction,
        "candidates": [text(base.get("response1")), text(base.get("response2"))],
        "label": label,
        "metadata": meta,
        "verdicts": [verdict(judge, [0, 1], slot, raw=result)],
    }
