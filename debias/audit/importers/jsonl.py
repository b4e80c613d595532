"""Judged items in the project's own JSONL contract (``debias.types.Item`` per line).

Lines go to the workers as raw text and are validated there by pydantic's JSON parser;
``debias run`` output lines (items with a ``result``) are accepted too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from debias.audit.importers.jsonstream import first_char, iter_json
from debias.audit.importers.registry import ImportOptions, register_importer
from debias.audit.records import BadRecord, Pending


@register_importer("jsonl")
class JudgedItemsImporter:
    """The README contract: one judged item with its ``verdicts`` per line."""

    name = "jsonl"
    summary = "judged items (README contract: debias.types.Item with verdicts), one per line"
    example = (
        '{"id": "q1", "task": "pairwise", "instruction": "2+2?", "candidates": ["4", "5"], "label": 0,\n'
        ' "verdicts": [{"judge": "gpt-4o", "order": [0, 1], "choice": 0},\n'
        '              {"judge": "gpt-4o", "order": [1, 0], "choice": 1}]}   (one such object per line)'
    )
    options: ClassVar[dict[str, str]] = {}

    def sniff(self, path: Path, first: Any) -> bool:
        return isinstance(first, dict) and "candidates" in first and "task" in first

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        if first_char(path) == "[":  # a JSON array of items
            for rec in iter_json(path):
                yield rec if isinstance(rec, BadRecord) else Pending(rec[0], rec[1])
            return
        with open(path, encoding="utf-8-sig") as fh:
            for line_no, line in enumerate(fh, start=1):
                if line.strip():
                    yield Pending(line_no, line)
