"""JudgeBench output files: two judgments per pair, the second in swapped order.

Each line is a pair (``pair_id``, ``question``, ``response_A``, ``response_B``, gold
``label`` ``A>B``/``B>A``, ``judge_name``) with ``judgments``: the first judged A then
B, the second B then A, each with a ``decision`` (``A>B``, ``B>A``, ``A=B`` tie) in the
order it was shown. A null judgment or unreadable decision is kept as a verdict without
a decision (counted as invalid).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from debias.audit.importers.build import text, verdict
from debias.audit.importers.jsonstream import iter_json
from debias.audit.importers.registry import ImportOptions, register_importer
from debias.audit.importers.values import TIE, parse_slot
from debias.audit.records import BadRecord, Pending

ORDERS = ([0, 1], [1, 0])


def _judge(row: dict[str, Any]) -> str:
    name = text(row.get("judge_name")) or "judge"
    for j in row.get("judgments") or []:
        inner = j.get("judgment") if isinstance(j, dict) else None
        if isinstance(inner, dict) and text(inner.get("judge_model")):
            return f"{name}:{inner['judge_model']}"
    return name


@register_importer("judgebench")
class JudgeBenchImporter:
    """JudgeBench ``outputs/*.jsonl`` files."""

    name = "judgebench"
    summary = "JudgeBench outputs: pairs with two judgments (A,B then B,A), decisions A>B/B>A"
    example = (
        '{"pair_id": "b5ce...", "question": "...", "response_A": "...", "response_B": "...", "label": "A>B",\n'
        ' "judge_name": "arena_hard", "judgments": [{"judgment": {...}, "decision": "B>A"},\n'
        '                                           {"judgment": {...}, "decision": "A=B"}]}'
    )
    options: ClassVar[dict[str, str]] = {"judge": "judge name (default: judge_name:judge_model from the file)"}

    def sniff(self, path: Path, first: Any) -> bool:
        return (isinstance(first, dict) and "judgments" in first
                and ("response_A" in first or "pair_id" in first))

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        source = str(path)
        for rec in iter_json(path):
            if isinstance(rec, BadRecord):
                yield rec
                continue
            line, row = rec
            if not isinstance(row, dict):
                yield BadRecord(line, "expected a JSON object", source)
                continue
            judgments = row.get("judgments")
            if not isinstance(judgments, list) or not judgments:
                yield BadRecord(line, "field 'judgments' is missing or empty", source)
                continue
            if len(judgments) > 2:
                yield BadRecord(line, f"{len(judgments)} judgments; JudgeBench pairs have one or two",
                                source)
                continue
            judge = options.get("judge") or _judge(row)
            try:
                label = parse_slot(row.get("label"), 2)
            except ValueError as exc:
                yield BadRecord(line, f"field 'label': {exc}", source)
                continue
            verdicts = []
            for order, j in zip(ORDERS, judgments, strict=False):
                decision = j.get("decision") if isinstance(j, dict) else None
                try:
                    slot = parse_slot(decision, 2)
                except ValueError:
                    slot = None
                verdicts.append(verdict(judge, list(order), slot, raw=decision))
            meta = {"source": text(row.get("source")) or "judgebench"}
            for k in ("pair_id", "original_id", "response_model"):
                if row.get(k) is not None:
                    meta[k] = row[k]
            yield Pending(line, {
                "id": text(row.get("pair_id")) or str(line),
                "task": "pairwise",
                "instruction": text(row.get("question")),
                "candidates": [text(row.get("response_A")), text(row.get("response_B"))],
                "label": None if label in (None, TIE) else label,
                "metadata": meta,
                "verdicts": verdicts,
            })
