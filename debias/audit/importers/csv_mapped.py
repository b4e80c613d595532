"""Any CSV/TSV of judge verdicts, with a column mapping (``--map field=column``).

One row is one item with up to three verdicts of one judge. Mapping keys (values are
column names unless noted):

* ``candidates`` (required): the candidate columns in order, comma-separated
  (``candidates=response_a,response_b``);
* ``choice``: the verdict with candidates in that order (and the cue shown, if any);
* ``choice_swapped``: the verdict with the order reversed, as the judge answered it
  (``A``/``1`` = the first candidate *shown*, i.e. the last column);
* ``choice_plain``: the verdict without the cue (candidates in order);
* ``id``, ``instruction``, ``label`` (gold), ``human_label``, ``cue``, ``judge``,
  ``task``, ``bias``, ``bias_label``: optional columns;
* ``judge_name`` (a name, not a column), ``base`` (``1`` default: numbers count from 1,
  so ``1`` = first candidate and ``0`` = tie; ``0``: numbers are 0-based indices),
  ``delimiter`` (default ``,``; ``\\t`` for .tsv files).

Decisions may be numbers, letters (``A``/``b``), ``A>B``/``B>A``, ``Output (b)``,
``Choice 2``, ``model_a`` or tie words (``tie``, ``A=B``). An unreadable gold label
makes the row bad; an unreadable judge decision is kept as a verdict without a
decision (counted as invalid).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from debias.audit.importers.build import csv_header, iter_csv_rows, judge_from_path, verdict
from debias.audit.importers.registry import ImportOptions, register_importer
from debias.audit.importers.values import TIE, parse_slot
from debias.audit.records import BadRecord, Pending
from debias.errors import ConfigError

COLUMN_KEYS = ("id", "instruction", "label", "human_label", "cue", "judge", "task", "bias",
               "bias_label", "choice", "choice_swapped", "choice_plain")
DECISIONS = ("choice", "choice_swapped", "choice_plain")


def _delimiter(path: Path, options: ImportOptions) -> str:
    d = options.get("delimiter")
    if d is None:
        return "\t" if path.suffix.lower() == ".tsv" else ","
    d = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";"}.get(d, d)
    if len(d) != 1:
        raise ConfigError(f"--map delimiter={d!r} must be one character (or tab/comma/semicolon)")
    return d


@register_importer("csv")
class MappedCsvImporter:
    """Generic CSV/TSV with a column mapping."""

    name = "csv"
    fallback = True  # any .csv file: sniffed after the specific CSV formats
    summary = "any CSV/TSV of verdicts with --map candidates=colA,colB choice=col [choice_swapped=col ...]"
    example = (
        "id,question,response_a,response_b,gold,verdict,verdict_swapped\n"
        'q1,"What is 2+2?",4,5,A,A,B\n'
        'q2,"Capital of France?",Paris,Lyon,A,B,B      (--map candidates=response_a,response_b '
        "instruction=question label=gold choice=verdict choice_swapped=verdict_swapped)"
    )
    options: ClassVar[dict[str, str]] = {
        **{k: f"column holding {k}" for k in COLUMN_KEYS},
        "candidates": "candidate columns, comma-separated (required)",
        "judge_name": "judge name when there is no judge column",
        "base": "1 (default: 1 = first candidate, 0 = tie) or 0 (0-based indices)",
        "delimiter": "field separator (default , or tab for .tsv)",
    }

    def sniff(self, path: Path, first: Any) -> bool:
        return path.suffix.lower() in (".csv", ".tsv")

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        delim = _delimiter(path, options)
        m = options.mapping
        cand_cols = [c.strip() for c in (m.get("candidates") or "").split(",") if c.strip()]
        if len(cand_cols) < 1 or not any(k in m for k in DECISIONS):
            raise ConfigError(
                "format 'csv' needs a column mapping: --map candidates=COL1,COL2 and at least one of "
                "choice=COL, choice_swapped=COL, choice_plain=COL (see `debias audit --list-formats`)")
        base_s = m.get("base", "1")
        if base_s not in ("0", "1"):
            raise ConfigError(f"--map base={base_s!r} must be 0 or 1")
        base = int(base_s)
        header = csv_header(path, delim)
        wanted = cand_cols + [m[k] for k in COLUMN_KEYS if k in m]
        absent = [c for c in wanted if c not in header]
        if absent:
            raise ConfigError(f"--map names column {absent[0]!r} which is not in {path.name} "
                              f"(columns: {', '.join(header)})")
        default_judge = m.get("judge_name") or judge_from_path(path)
        source = str(path)
        n = len(cand_cols)
        for rec in iter_csv_rows(path, delim):
            if isinstance(rec, BadRecord):
                yield rec
                continue
            line, row = rec
            out = _item(row, line, m, cand_cols, n, base, default_judge)
            yield BadRecord(line, out, source) if isinstance(out, str) else Pending(line, out)


def _item(row: dict[str, str], line: int, m: Any, cand_cols: list[str], n: int, base: int,
          default_judge: str) -> dict[str, Any] | str:
    def col(key: str) -> str:
        return row[m[key]].strip() if key in m else ""

    label: int | None = None
    if col("label"):
        try:
            slot = parse_slot(col("label"), n, base=base, zero_is_tie=True)
        except ValueError as exc:
            return f"column {m['label']!r} (label): {exc}"
        label = None if slot in (None, TIE) else int(slot)
    judge = col("judge") or default_judge
    cue = col("cue") or None
    verdicts = []
    identity = list(range(n))
    for key, order, with_cue in (("choice", identity, True), ("choice_swapped", identity[::-1], True),
                                 ("choice_plain", identity, False)):
        if key not in m:
            continue
        value = col(key)
        if not value:
            continue  # no verdict recorded in this condition
        try:
            slot = parse_slot(value, n, base=base, zero_is_tie=True)
        except ValueError:
            slot = None
        verdicts.append(verdict(judge, order, slot, raw=value, with_cue=with_cue))
    meta: dict[str, Any] = {"source": "csv"}
    if col("human_label"):
        try:
            h = parse_slot(col("human_label"), n, base=base, zero_is_tie=True)
        except ValueError as exc:
            return f"column {m['human_label']!r} (human_label): {exc}"
        if h is not None:
            meta["human_label"] = h
    for key in ("bias", "bias_label"):
        if col(key):
            meta[key] = col(key)
    task = col("task") or ("pairwise" if n == 2 else "choice")
    return {"id": col("id") or str(line), "task": task, "instruction": col("instruction"),
            "candidates": [row[c] for c in cand_cols], "cue": cue, "label": label,
            "metadata": meta, "verdicts": verdicts}
