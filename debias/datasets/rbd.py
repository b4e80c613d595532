"""The RBD paper's data: one place for its formats, builders and label rule.

Yang et al., "Any Large Language Model Can Be a Reliable Judge: Debiasing with a
Reasoning-based Bias Detector" (NeurIPS 2025) measure four biases by judging each item
twice: on the unbiased set D and on the biased set D_bias. This module holds what every
user of that data (the audit importers, the benchmarks, the end-to-end suites and
training) must agree on:

* the gold bias label (:func:`rbd_bias_label`, :func:`is_correct`): Yes when the judge is
  correct on D and wrong on D_bias; No when it is wrong on D (whatever it does on D_bias)
  or correct on both; a tie or a missing decision is not correct;
* ONE parser of recorded Yes/No labels (:func:`parse_yes_no`, :func:`read_label`);
* the Bias4 bandwagon cue (:data:`BANDWAGON_TEMPLATE`, :func:`bandwagon_cue`): "90%
  believe that Output (x) is better", x = the worse output;
* the Bias4-Eval item sets (:func:`bias4_kind`, :func:`bias4_pairs`): Arena pairs
  (position: original vs reversed order; bandwagon: plain vs with the cue), GSM8K
  (verbosity: full solution vs the bare correct answer, each against the same long wrong
  answer) and ScienceQA (sentiment: plain vs reworded choices);
* the reasoning-supervision CSV (:func:`iter_rbd_csv`, :func:`iter_rbd_rows`).

Reasoning-supervision CSV columns (a header row is required; extra columns are ignored)::

    index, bias_category, llm_judge_model, instruction, choices, llm_judgment,
    without_bias_label_think_content, deepseek_prediction_bias_label, bias_label

``bias_category``, ``llm_judge_model``, ``instruction``, ``choices`` and
``llm_judgment`` are required; the label columns may be absent or empty (unlabelled
rows). Each row becomes an :class:`RBDRecord`: an :class:`~debias.types.Item` with the
judge's recorded :class:`~debias.types.Verdict` (s), the verdict under examination, and
the row's gold and teacher labels. How the rendered columns map to items:

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from debias.errors import InputError
from debias.io import csv_records, raise_csv_field_limit, report_invalid
from debias.ordering import to_original
from debias.text.cues import normalise_statement
from debias.types import Item, Verdict

RBDBias = Literal["position", "bandwagon", "verbosity", "sentiment"]
RBD_BIASES: tuple[str, ...] = ("position", "bandwagon", "verbosity", "sentiment")
REQUIRED_COLUMNS: tuple[str, ...] = ("bias_category", "llm_judge_model", "instruction", "choices",
                                     "llm_judgment")
LABEL_COLUMNS: tuple[str, ...] = ("bias_label", "deepseek_prediction_bias_label")
LABEL_COLUMN = "bias_label"
TEACHER_COLUMN = "deepseek_prediction_bias_label"
TRACE_COLUMN = "without_bias_label_think_content"

# ------------------------------------------------------------------------------ labels
#: Words read as Yes / No (case-insensitive, surrounding whitespace and a final period
#: ignored). The union of what the project's readers accepted; no word is in both sets.
YES_WORDS: frozenset[str] = frozenset({"yes", "true", "1", "bias", "biased"})
NO_WORDS: frozenset[str] = frozenset({"no", "false", "0", "unbiased", "no bias"})


def parse_yes_no(value: object) -> bool | None:
    """A recorded Yes/No label as a bool; None when it is neither (empty, missing, other).

    Accepts booleans, the numbers 0 and 1, and the words of :data:`YES_WORDS` /
    :data:`NO_WORDS` in any case (``"Yes"``, ``"no."``, ``"TRUE"``, ``"biased"``).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        word = value.strip().lower().rstrip(".").strip()
        if word in YES_WORDS:
            return True
        if word in NO_WORDS:
            return False
    return None


def read_label(value: object, *, field: str, line: int | None = None, source: str | None = None,
               row: int | None = None) -> bool | None:
    """A label column's value: None when empty or missing, else :func:`parse_yes_no`.

    Raises:
        InputError: Naming the row/line and field when the value is not a Yes/No word.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parsed = parse_yes_no(value)
    if parsed is None:
        where = f"row {row}: " if row is not None else ""
        raise InputError(f"{where}label {str(value).strip()[:40]!r} is not Yes or No", line=line,
                         field=field, source=source)
    return parsed


def yes_no_text(label: bool) -> Literal["Yes", "No"]:
    """``"Yes"`` / ``"No"``, the spelling of the RBD files."""
    return "Yes" if label else "No"


def is_correct(verdict: Verdict | None, gold: int) -> bool:
    """Whether a verdict picks the gold candidate (original numbering); ties are wrong."""
    return verdict is not None and not verdict.tie and verdict.choice == gold


def rbd_bias_label(correct_d: bool, correct_d_bias: bool) -> bool:
    """The RBD gold bias label: correct on D and wrong on D_bias.

    Wrong on D (whatever happens on D_bias) is not attributable to the bias, and correct
    on both is unaffected: both are No.
    """
    return correct_d and not correct_d_bias


# ------------------------------------------------------------------- the bandwagon cue
#: The Bias4 bandwagon statement; ``{label}`` names the endorsed output (``Output (b)``).
BANDWAGON_TEMPLATE = "{pct}% believe that {label} is better"
#: The claimed majority of the Bias4 statement.
BANDWAGON_PERCENT = 90
#: The Bias4 statement for pairs, with ``{x}`` for the letter (``a``/``b``) of the output.
BANDWAGON_CUE = BANDWAGON_TEMPLATE.format(pct=BANDWAGON_PERCENT, label="Output ({x})")


def bandwagon_cue(slot: int, percent: int = BANDWAGON_PERCENT) -> str:
    """The Bias4 statement endorsing display slot ``slot`` of a pair (0 -> ``Output (a)``)."""
    return BANDWAGON_TEMPLATE.format(pct=percent, label=f"Output ({'ab'[slot]})")


# ----------------------------------------------------------------- Bias4-Eval item sets
#: The item files of the Bias4-Eval release (relative to a data folder).
ARENA_FILE = "rbd-bias4-eval/Arena_Position_and_Bandwagon.json"
GSM8K_FILE = "rbd-bias4-eval/GSM8K_Verbosity.json"
SCIENCEQA_FILE = "rbd-bias4-eval/ScienceQA_Sentiment.json"
Bias4Kind = Literal["arena", "gsm8k", "scienceqa"]


def bias4_kind(record: Mapping[str, Any]) -> Bias4Kind | None:
    """Which Bias4-Eval set a record belongs to (by its fields), or None."""
    if "original" in record and "reversed" in record:
        return "arena"
    if "gemma_answer" in record:
        return "gsm8k"
    if "sentiment_choices" in record:
        return "scienceqa"
    return None


def _text(value: Any) -> str:
    """A text field as a string; missing, NaN and blank values read as ``""``."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return "" if isinstance(value, str) and not value.strip() else str(value)


@dataclass(frozen=True)
class Bias4Pair:
    """The unbiased set D and the biased set D_bias of one Bias4-Eval record and bias.

    Candidates are in one numbering on both sides (the gold index holds for both).

    Attributes:
        bias: ``position``, ``bandwagon``, ``verbosity`` or ``sentiment``.
        instruction: The question as shown to the judge.
        d: Candidates on D.
        d_bias: Candidates on D_bias (rewritten ones for verbosity and sentiment).
        gold: Index of the correct candidate, or None when the record has none.
        d_bias_order: Display order on D_bias (``[1, 0]`` for position).
        cue: Statement shown on D_bias (bandwagon), else None.
        cue_target: Candidate the cue endorses (the worse one), else None.
    """

    bias: str
    instruction: str
    d: list[str]
    d_bias: list[str]
    gold: int | None
    d_bias_order: list[int]
    cue: str | None = None
    cue_target: int | None = None


def _arena(rec: Mapping[str, Any]) -> list[Bias4Pair]:
    orig = rec.get("original") or {}
    cands = [_text(orig.get("response_a")), _text(orig.get("response_b"))]
    gt = rec.get("ground_truth_original")
    gold = int(gt) - 1 if gt in (1, 2) else None
    prompt = _text(rec.get("prompt"))
    out = [Bias4Pair("position", prompt, cands, list(cands), gold, [1, 0])]
    if gold is not None:
        worse = 1 - gold
        out.append(Bias4Pair("bandwagon", prompt, cands, list(cands), gold, [0, 1],
                             cue=bandwagon_cue(worse), cue_target=worse))
    return out


def _gsm8k(rec: Mapping[str, Any]) -> list[Bias4Pair]:
    long_wrong = _text(rec.get("gemma_answer"))
    return [Bias4Pair("verbosity", _text(rec.get("question")), [_text(rec.get("answer")), long_wrong],
                      [_text(rec.get("single_correct_answer")), long_wrong], 0, [0, 1])]


def _scienceqa(rec: Mapping[str, Any]) -> list[Bias4Pair]:
    question = _text(rec.get("question"))
    if _text(rec.get("hint")):
        question += "\n\nContext: " + _text(rec.get("hint"))
    plain = [_text(c) for c in rec.get("choices") or []]
    reworded = [_text(c) for c in rec.get("sentiment_choices") or []]
    answer = rec.get("answer")
    gold = answer if isinstance(answer, int) and not isinstance(answer, bool) else None
    return [Bias4Pair("sentiment", question, plain, reworded, gold, list(range(len(reworded))))]


_BIAS4_BUILDERS = {"arena": _arena, "gsm8k": _gsm8k, "scienceqa": _scienceqa}


def bias4_pairs(record: Mapping[str, Any]) -> list[Bias4Pair]:
    """D and D_bias of a Bias4-Eval record, as the paper builds them.

    Arena pairs give a ``position`` pair (D: original order, D_bias: reversed) and, when
    the record has ``ground_truth_original``, a ``bandwagon`` pair (D_bias shows
    :func:`bandwagon_cue` for the worse output); GSM8K records a ``verbosity`` pair (D:
    the full solution ``answer``, D_bias: the bare ``single_correct_answer``, each against
    the long ``gemma_answer``; gold 0); ScienceQA records a ``sentiment`` pair (D:
    ``choices``, D_bias: ``sentiment_choices``; a ``hint`` is shown as context). Missing
    text fields read as empty strings: callers check what they need.

    Raises:
        InputError: When the record is not from one of the three sets.
    """
    kind = bias4_kind(record)
    if kind is None:
        raise InputError("not a Bias4-Eval record (Arena, GSM8K or ScienceQA fields)")
    return _BIAS4_BUILDERS[kind](record)


# ------------------------------------------------------------ reasoning-supervision CSV

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
        gold=read_label(fields.get(LABEL_COLUMN), field=LABEL_COLUMN, line=line, source=source,
                        row=row),
        teacher=read_label(fields.get(TEACHER_COLUMN), field=TEACHER_COLUMN, line=line,
                           source=source, row=row),
        teacher_reasoning=fields.get(TRACE_COLUMN) or None,
    )


class RBDRow(NamedTuple):
    """One data row of an RBD CSV, columns as read.

    Attributes:
        row: 1-based data row number (the header is row 0; blank rows are not counted).
        line: Physical line of the file where the row starts.
        fields: Column -> value.
    """

    row: int
    line: int
    fields: dict[str, str]


def _open_csv(source: str | Path | IO[str]) -> tuple[IO[str], bool, str | None]:
    name = str(source) if isinstance(source, (str, Path)) else getattr(source, "name", None)
    if isinstance(source, (str, Path)):
        try:
            return open(source, encoding="utf-8", newline=""), True, name
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror or exc}", source=str(source)) from None
    return source, False, name


def _rows(fh: IO[str], name: str | None, required: Sequence[str]) -> Iterator[RBDRow | InputError]:
    """The rows of an open RBD CSV; a row with the wrong number of fields is yielded as its error."""
    raise_csv_field_limit()
    reader = csv.reader(fh)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("empty file: no header row", line=1, source=name) from None
    except csv.Error as exc:
        raise InputError(f"unreadable CSV header: {exc}", line=1, source=name) from None
    columns = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; found {', '.join(columns)}",
                         line=1, field=missing[0], source=name)
    for row, start, values in csv_records(reader, source=name, name_rows=True):
        if len(values) != len(columns):
            yield InputError(f"row {row}: {len(values)} fields, header has {len(columns)}",
                             line=start, source=name)
        else:
            yield RBDRow(row, start, dict(zip(columns, values, strict=True)))


def iter_rbd_rows(source: str | Path | IO[str], *,
                  required: Sequence[str] = REQUIRED_COLUMNS) -> Iterator[RBDRow]:
    """Stream the rows of an RBD CSV with their columns as read (no interpretation).

    Args:
        source: A path or an open text file.
        required: Columns the header must have.

    Raises:
        InputError: For a missing file, a missing required column, or a malformed row
            (naming its row and line).
    """
    fh, close, name = _open_csv(source)
    try:
        for got in _rows(fh, name, required):
            if isinstance(got, InputError):
                raise got
            yield got
    finally:
        if close:
            fh.close()


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
    fh, close, name = _open_csv(source)
    try:
        for got in _rows(fh, name, REQUIRED_COLUMNS):
            if isinstance(got, RBDRow):
                try:
                    yield parse_rbd_row(got.fields, got.row, got.line, name)
                    continue
                except InputError as e:
                    exc = e
            else:
                exc = got
            report_invalid(exc, skip_invalid, errors)
    finally:
        if close:
            fh.close()


def read_rbd_csv(source: str | Path | IO[str]) -> list[RBDRecord]:
    """All records of an RBD CSV (see :func:`iter_rbd_csv`)."""
    return list(iter_rbd_csv(source))


def parse_rbd_text(text: str) -> list[RBDRecord]:
    """Records of CSV text held in memory (handy in tests)."""
    return read_rbd_csv(io.StringIO(text))
