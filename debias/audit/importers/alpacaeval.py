"""AlpacaEval annotation files (``annotations.json``).

Each record compares ``output_1`` (the baseline, ``generator_1``) with ``output_2``
(the model, ``generator_2``) for one ``instruction``; ``preference`` is 1 or 2, 1.5 for
a draw, a fraction in between for weighted annotators (kept as ``probs``), and missing
or NaN when the annotator failed (a verdict without a decision). The judge is the
``annotator``. The length-controlled win rate is that of ``output_2``, as in AlpacaEval.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from debias.audit.importers.build import text
from debias.audit.importers.jsonstream import iter_json, missing
from debias.audit.importers.registry import ImportOptions, register_importer
from debias.audit.records import BadRecord, Pending


def _verdict(judge: str, pref: Any) -> dict[str, Any] | str:
    out: dict[str, Any] = {"judge": judge, "order": [0, 1], "raw": "" if missing(pref) else str(pref)}
    if missing(pref):
        return out
    try:
        p = float(pref)
    except (TypeError, ValueError):
        return f"preference {pref!r} is not a number"
    if math.isnan(p):
        return out
    if not 1.0 <= p <= 2.0:
        if p == 0.0:  # some versions write 0 for a draw
            out["tie"] = True
            return out
        return f"preference {pref!r} is outside 1..2"
    if p == 1.5:
        out["tie"] = True
    else:
        out["choice"] = 1 if p > 1.5 else 0
        if p not in (1.0, 2.0):
            out["probs"] = [2.0 - p, p - 1.0]
    return out


@register_importer("alpacaeval")
class AlpacaEvalImporter:
    """AlpacaEval ``annotations.json`` (JSON array or JSON Lines)."""

    name = "alpacaeval"
    summary = "AlpacaEval annotations: instruction, output_1 (baseline), output_2, preference 1/2/1.5"
    example = (
        '[{"instruction": "Give three tips...", "output_1": "...", "generator_1": "gpt4_1106_preview",\n'
        '  "output_2": "...", "generator_2": "my-model", "annotator": "weighted_alpaca_eval_gpt4_turbo",\n'
        '  "preference": 1.73}, ...]'
    )
    options: ClassVar[dict[str, str]] = {"judge": "judge name (default: each record's annotator)"}

    def sniff(self, path: Path, first: Any) -> bool:
        return isinstance(first, dict) and "preference" in first and "output_1" in first

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        source = str(path)
        for rec in iter_json(path):
            if isinstance(rec, BadRecord):
                yield rec
                continue
            line, row = rec
            if not isinstance(row, dict) or "output_1" not in row or "output_2" not in row:
                yield BadRecord(line, "record needs 'output_1' and 'output_2'", source)
                continue
            judge = options.get("judge") or text(row.get("annotator")) or "annotator"
            v = _verdict(judge, row.get("preference"))
            if isinstance(v, str):
                yield BadRecord(line, f"field 'preference': {v}", source)
                continue
            instruction = text(row.get("instruction"))
            if text(row.get("input")):
                instruction += "\n\n" + text(row["input"])
            meta = {k: row[k] for k in ("generator_1", "generator_2", "dataset") if not missing(row.get(k))}
            meta["source"] = "alpacaeval"
            yield Pending(line, {
                "id": text(row.get("id")) or f"{line}",
                "task": "pairwise",
                "instruction": instruction,
                "candidates": [text(row["output_1"]), text(row["output_2"])],
                "metadata": meta,
                "verdicts": [v],
            })
