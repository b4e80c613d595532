"""Reader of the RBD reasoning-supervision CSV format.

Columns (a header row is required; extra columns are ignored)::

    index, bias_category, llm_judge_model, instruction, choices, llm_judgment,
    without_bias_label_think_content, deepseek_prediction_bias_label, bias_label

``bias_category``, ``llm_judge_model``, ``instruction``, ``choices`` and
``llm_judgment`` are required; the label columns may be absent or empty (unlabelled
rows). Each row becomes an :class:`RBDRecord`: an :class:`~debias.types.Item` with the
judge's recorded :class:`~debias.types.Verdict` (s), the verdict under examination, and
the row's gold and teacher labels.

How the rendered columns map to items:

* ``Output (a): A\\n\\nOutput (b): B`` -> a ``pairwise`` item; judgment ``Output (b)``
  -> one verdict, identity order, choice 1.
* ``1. X\\n2. Y\\n3. Z`` (sentiment rows) -> a ``choice`` item; judgment ``Choice 2`` ->
  choice 1.
* bandwagon rows start with ``### Statement: ...``: the statement becomes ``item.cue``
  (the printf-escaped ``90%%`` is read as ``90%``; the raw line is kept in
  ``metadata["statement_raw"]``) and the verdict is recorded with the cue shown.
* position rows hold ``### First Evaluation (Original Order)`` and ``### Second
  Evaluation (Swapped Order)`` blocks and a judgment with ``### Original Order`` /
  ``### Swapped Order`` parts -> two verdicts, orders ``[0, 1]`` and ``[1, 0]``, choices
  mapped to the original numbering; the swapped-order verdict (the biased condition of
  the RBD protocol) is the one under examination.

Bad rows raise :class:`~debias.errors.InputError` naming the row, the line where it
starts, and the field. The reader streams: :func:`iter_rbd_csv` yields one record at a
time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from debias.errors import InputError
from debias.io import csv_records, raise_csv_field_limit
from debias.ordering import to_original
from debias.text.cues import normalise_statement
from debias.types import Item, Verdict

RBDBias = Literal["position", "bandwagon", "verbosity", "sentiment"]
RBD_BIASES: tuple[str, ...] = ("position", "bandwagon", "verbosity", "sentiment")
REQUIRED_COLUMNS: tuple[str, ...] = ("bias_category", "llm_judge_model", "instruction", "choices",
                                     "llm_judgment")
LABEL_COLUMNS: tuple[str, ...] = ("bias_label", "deepseek_prediction_bias_label")

_STATEMENT = re.compile(r"\A\s*###\s*Statement:[ \t]*(?P<cue>[^\n]*)\n?", re.IGNORECASE)
_FIRST_EVAL = re.compile(r"###\s*First Evaluation[^\n]*\n", re.IGNORECASE)
_SECOND_EVAL = re.compile(r"\n?\s*###\s*Second Evaluation[^\n]*\n", re.IGNORECASE)
_OUT_A = re.compile(r"\A\s*Output\s*\(a\):[ \t]?", re.IGNORECASE)
_OUT_B = re.compile(r"\n[ \t]*Output\s*\(b\):[ \t]?", re.IGNORECASE)
_OUT_DECISION = re.compile(r"Output\s*\(([ab])\)", re.IGNORECASE)
_CHOICE_DECISION = re.compile(r"Choice\s*(\d+)", re.IGNORECASE)
_TIE = re.compile(r"^\W*tie\W*$", re.IGNORECASE)
_ORIG_ORDER = re.compile(r"###\s*Original Order\s*(?P<orig>.*?)\s*###\s*Swapped Order\s*(?P<swap>.*)\Z",
                         re.IGNORECASE | re.DOTALL)


class RBDRecord(BaseModel):
    """One row of an RBD reasoning-supervision CSV.

    Attributes:
        row: 1-based data row number (the header is row 0).
        line: Physical line of the file where the row starts.
        index: The row's ``index`` column (may repeat across bias categories).
        bias: Bias category checked by the row.
        judge_model: The judge model whose decision the row records.
        item: The judged item, with the recorded verdict(s) in ``item.verdicts``.
        verdict: The verdict under examination (for position: the swapped-order one).
        judgment: The raw ``llm_judgment`` text.
        gold: Gold bias label (``bias_label``: Yes -> True), None when absent.
        teacher: The teacher model's label (``deepseek_prediction_bias_label``), None when absent.
        teacher_reasoning: The teacher's reasoning trace, when present.
    """

    model_config = ConfigDict(frozen=True)

    row: int
    line: int
    index: str
    bias: RBDBias
    judge_model: str
    item: Item
    verdict: Verdict
    judgment: str
    gold: bool | None = None
    teacher: bool | None = None
    teacher_reasoning: str | None = Field(default=None, repr=False)


def _err(msg: str, row: int, line: int, field: str, source: str | None) -> InputError:
    return InputError(f"row {row}: {msg}", line=line, field=field, source=source)


def _label(value: str | None, row: int, line: int, field: str, source: str | None) -> bool | None:
    if value is None or not value.strip():
        return None
    v = value.strip().lower().rstrip(".")
    if v in ("yes", "true", "1"):
        return True
    if v in ("no", "false", "0"):
        return False
    raise _err(f"label {value.strip()[:40]!r} is not Yes or No", row, line, field, source)


def _split_pair(text: str) -> list[str] | None:
    """``Output (a): A\\n\\nOutput (b): B`` -> [A, B]; None when the layout differs."""
    a = _OUT_A.match(text)
    if not a:
        return None
    b = _OUT_B.search(text, a.end())
    if not b:
        return None
    return [text[a.end():b.start()].strip(), text[b.end():].strip()]


def _split_numbered(text: str) -> list[str] | None:
    """``1. X\\n2. Y`` -> [X, Y] (markers must run 1, 2, 3, ... at line starts)."""
    body = text.strip()
    if not re.match(r"1\.\s", body):
        return None
    starts = [(0, len("1."))]
    k = 2
    while True:
        m = re.compile(rf"\n[ \t]*{k}\.\s").search(body, starts[-1][1])
        if not m:
            break
        starts.append((m.start(), m.end()))
        k += 1
    if len(starts) < 2:
        return None
    out = []
    for j, (_, end) in enumerate(starts):
        stop = starts[j + 1][0] if j + 1 < len(starts) else len(body)
        out.append(body[end:stop].strip())
    return out


def _pair_decision(text: str, row: int, line: int, source: str | None, what: str) -> tuple[int | None, bool]:
    """(display slot, tie) of a pairwise decision such as ``Output (b)``."""
    letters = {m.group(1).lower() for m in _OUT_DECISION.finditer(text)}
    if len(letters) == 1:
        return "ab".index(letters.pop()), False
    if not letters and _TIE.match(text.strip()):
        return None, True
    problem = "names both outputs" if letters else "names no output"
    raise _err(f"{what} {text.strip()[:60]!r} {problem}", row, line, "llm_judgment", source)


def parse_rbd_row(fields: Mapping[str, str | None], row: int, line: int = 0,
                  source: str | None = None) -> RBDRecord:
    """Turn one CSV row (a column -> value mapping) into an :class:`RBDRecord`.

    Raises:
        InputError: Naming the row, line and field that is wrong.
    """

    def get(name: str, required: bool = True) -> str:
        value = fields.get(name)
        if value is None or (required and not value.strip()):
            if required:
                raise _err(f"{name} is missing or empty", row, line, name, source)
            return ""
        return value

    bias = get("bias_category").strip().lower()
    if bias not in RBD_BIASES:
        raise _err(f"unknown bias category {bias!r} (expected one of {', '.join(RBD_BIASES)})",
                   row, line, "bias_category", source)
    judge = get("llm_judge_model").strip()
    instruction = get("instruction")
    choices = get("choices")
    judgment = get("llm_judgment")
    index = (fields.get("index") or "").strip() or str(row)
    metadata: dict[str, object] = {"source": "rbd-csv", "row": row, "index": index,
                                   "bias_category": bias, "judge_model": judge}
    cue: str | None = None
    body = choices
    st = _STATEMENT.match(body)
    if st:
        metadata["statement_raw"] = st.group("cue").strip()
        cue = normalise_statement(st.group("cue")) or None
        body = body[st.end():]
    if bias == "bandwagon" and cue is None:
        raise _err("bandwagon row has no '### Statement:' line", row, line, "choices", source)

    verdicts: list[Verdict]
    if bias == "position":
        task = "pairwise"
        parts = _SECOND_EVAL.split(_FIRST_EVAL.sub("", body, count=1), maxsplit=1)
        if len(parts) != 2:
            raise _err("position row needs '### First Evaluation' and '### Second Evaluation' blocks",
                       row, line, "choices", source)
        first, second = _split_pair(parts[0]), _split_pair(parts[1])
        if first is None or second is None:
            raise _err("an evaluation block is not 'Output (a): ...' / 'Output (b): ...'",
                       row, line, "choices", source)
        if [second[1], second[0]] != first:
            raise _err("the swapped block does not show the original outputs in reverse order",
                       row, line, "choices", source)
        candidates = first
        m = _ORIG_ORDER.search(judgment)
        if not m:
            raise _err("position judgment needs '### Original Order' and '### Swapped Order' parts",
                       row, line, "llm_judgment", source)
        verdicts = []
        for order, part, name in (([0, 1], m.group("orig"), "original-order decision"),
                                  ([1, 0], m.group("swap"), "swapped-order decision")):
            slot, tie = _pair_decision(part, row, line, source, name)
            verdicts.append(Verdict(judge=judge, order=order, tie=tie, raw=part.strip(),
                                    choice=None if slot is None else to_original(order, slot)))
        examined = verdicts[1]
    else:
        pair = _split_pair(body)
        if pair is not None:
            task, candidates = "pairwise", pair
            slot, tie = _pair_decision(judgment, row, line, source, "decision")
            choice = slot
        else:
            numbered = _split_numbered(body)
            if numbered is None:
                raise _err("choices are neither 'Output (a): ... Output (b): ...' nor numbered "
                           "'1. ...' lines", row, line, "choices", source)
            task, candidates = "choice", numbered
            nums = {int(x) for x in _CHOICE_DECISION.findall(judgment)}
            tie = not nums and bool(_TIE.match(judgment.strip()))
            if len(nums) != 1 and not tie:
                raise _err(f"decision {judgment.strip()[:60]!r} does not name exactly one choice",
                           row, line, "llm_judgment", source)
            choice = None
            if nums:
                k = nums.pop()
                if not 1 <= k <= len(candidates):
                    raise _err(f"decision names choice {k} but there are {len(candidates)} choices",
                               row, line, "llm_judgment", source)
                choice = k - 1
        order = list(range(len(candidates)))
        examined = Verdict(judge=judge, order=order, choice=choice, tie=tie, raw=judgment.strip(),
                           with_cue=True)
        verdicts = [examined]
    try:
        item = Item(id=f"{bias}-{index}", task=task, instruction=instruction.strip(),
                    candidates=candidates, cue=cue, metadata=metadata, verdicts=verdicts)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _err(str(err.get("msg", exc)).removeprefix("Value error, "), row, line, "choices",
                   source) from None
    return RBDRecord(
        row=row, line=line, index=index, bias=bias, judge_model=judge, item=item,  # type: ignore[arg-type]
        verdict=item.verdicts[verdicts.index(examined)], judgment=judgment,
        gold=_label(fields.get("bias_label"), row, line, "bias_label", source),
        teacher=_label(fields.get("deepseek_prediction_bias_label"), row, line,
                       "deepseek_prediction_bias_label", source),
        teacher_reasoning=fields.get("without_bias_label_think_content") or None,
    )


def iter_rbd_csv(source: str | Path | IO[str], *, skip_invalid: bool = False,
                 errors: list[InputError] | None = None) -> Iterator[RBDRecord]:
    """Stream the records of an RBD reasoning-supervision CSV.

    Args:
        source: A path or an open text file.
        skip_invalid: Collect bad rows into ``errors`` and go on instead of raising.
        errors: Receives the errors of skipped rows.

    Yields:
        One :class:`RBDRecord` per data row, in file order.

    Raises:
        InputError: For a missing file, a missing required column, or (unless
            ``skip_invalid``) the first bad row.
    """
    name = str(source) if isinstance(source, (str, Path)) else getattr(source, "name", None)
    if isinstance(source, (str, Path)):
        try:
            fh: IO[str] = open(source, encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror or exc}", source=str(source)) from None
        close = True
    else:
        fh, close = source, False
    raise_csv_field_limit()
    try:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError("empty file: no header row", line=1, source=name) from None
        except csv.Error as exc:
            raise InputError(f"unreadable CSV header: {exc}", line=1, source=name) from None
        columns = [h.strip().lstrip("\ufeff") for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}; found {', '.join(columns)}",
                             line=1, field=missing[0], source=name)
        for row, start, values in csv_records(reader, source=name, name_rows=True):
            if len(values) != len(columns):
                exc = InputError(f"row {row}: {len(values)} fields, header has {len(columns)}",
                                 line=start, source=name)
            else:
                try:
                    yield parse_rbd_row(dict(zip(columns, values, strict=True)), row, start, name)
                    continue
                except InputError as e:
                    exc = e
            if not skip_invalid:
                raise exc
            if errors is not None:
                errors.append(exc)
    finally:
        if close:
            fh.close()


def read_rbd_csv(source: str | Path | IO[str]) -> list[RBDRecord]:
    """All records of an RBD CSV (see :func:`iter_rbd_csv`)."""
    return list(iter_rbd_csv(source))


def parse_rbd_text(text: str) -> list[RBDRecord]:
    """Records of CSV text held in memory (handy in tests)."""
    return read_rbd_csv(io.StringIO(text))
