"""Records written by the training pipeline (one JSONL line each).

``construct`` writes :class:`BiasPair` (the unbiased set D and the biased set D_bias of
one item and one bias type), ``collect`` writes :class:`JudgedPair` (a judge's verdicts on
both sides and the derived gold bias label), ``teacher`` writes :class:`TeacherTrace`
(a reasoning model's analysis in the RBD detector format), and the fine-tuning data is a
list of :class:`TrainExample`. Every record has an ``id`` so a re-run skips finished ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from debias.errors import InputError
from debias.io import repair_tail, validation_message
from debias.judges.base import JudgeRequest
from debias.ordering import check_order
from debias.types import Item, Usage, Verdict

TrainBias = Literal["position", "bandwagon", "verbosity", "sentiment"]
TRAIN_BIASES: tuple[str, ...] = ("position", "bandwagon", "verbosity", "sentiment")
Label = Literal["Yes", "No"]


class Side(BaseModel):
    """One side of a pair (D or D_bias): exactly what the judge is shown.

    Attributes:
        item: The item as shown (its candidates may be rewritten; the gold ``label`` is the
            same original index on both sides).
        order: Display order, ``order[slot] = original index``.
        with_cue: Whether the item's cue is shown.
    """

    model_config = ConfigDict(extra="forbid")

    item: Item
    order: list[int]
    with_cue: bool = False

    @model_validator(mode="after")
    def _check(self) -> Side:
        check_order(self.order, self.item.n)
        return self

    def request(self) -> JudgeRequest:
        """The judge request for this side."""
        return JudgeRequest(item=self.item, order=list(self.order), with_cue=self.with_cue)


class Provenance(BaseModel):
    """Where a pair came from and how it was made.

    Attributes:
        source_id: Id of the clean item.
        source: Input file the clean item was read from (when known).
        method: How the biased side was made: ``swap``, ``cue``, ``generator`` or ``metadata``.
        layout: For verbosity: ``paper`` (D = full correct answer vs the long wrong one,
            D_bias = short correct vs the long wrong one) or ``lengthen`` (D = the clean
            item, D_bias = the wrong candidates lengthened).
        generator: Name of the generator model when one rewrote candidates.
        template: The cue template (bandwagon) or rewrite prompt version used.
        rewritten: Original indices of candidates whose text was rewritten on the biased side.
        construct_version: Version of the construction code.
        created_at: ISO timestamp (UTC).
        usage: Generator usage spent on this pair.
    """

    source_id: str
    source: str | None = None
    method: Literal["swap", "cue", "generator", "metadata"]
    layout: str | None = None
    generator: str | None = None
    template: str | None = None
    rewritten: list[int] = Field(default_factory=list)
    construct_version: str = "1"
    created_at: str = ""
    usage: Usage = Field(default_factory=Usage)


class BiasPair(BaseModel):
    """The unbiased and the biased presentation of one item for one bias type.

    Attributes:
        id: ``<source id>:<bias>``.
        bias: The bias type provoked on the biased side.
        gold: Index of the correct candidate (original numbering, both sides).
        clean: The unbiased side D.
        biased: The biased side D_bias.
        provenance: How the pair was made.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    bias: TrainBias
    gold: int
    clean: Side
    biased: Side
    provenance: Provenance

    @model_validator(mode="after")
    def _check(self) -> BiasPair:
        for name, side in (("clean", self.clean), ("biased", self.biased)):
            if not 0 <= self.gold < side.item.n:
                raise ValueError(f"gold: {self.gold} is not a candidate index of the {name} side")
        return self


class JudgedPair(BaseModel):
    """A judge's verdicts on both sides of a pair and the derived gold bias label.

    Attributes:
        id: The pair's id.
        bias: Bias type.
        judge: Judge name.
        gold: Index of the correct candidate.
        clean_verdict: Verdict on D.
        biased_verdict: Verdict on D_bias.
        correct_clean: Whether the judge was right on D.
        correct_biased: Whether the judge was right on D_bias.
        label: Gold bias label: ``Yes`` when right on D and wrong on D_bias, else ``No``.
        pair: The pair that was judged (for rendering and provenance).
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    bias: TrainBias
    judge: str
    gold: int
    clean_verdict: Verdict
    biased_verdict: Verdict
    correct_clean: bool
    correct_biased: bool
    label: Label
    pair: BiasPair


class TeacherTrace(BaseModel):
    """A teacher model's analysis of one judged pair, in the RBD detector format.

    Attributes:
        id: The pair's id.
        bias: Bias type.
        judge_model: Judge name shown in the prompt.
        prompt: The detector's user message (RBD format).
        label: The derived gold bias label.
        teacher: Teacher model name.
        teacher_label: The teacher's Yes/No (None when unparseable).
        trace: The reasoning (think content) to train on.
        kept: Whether the trace is kept for training (its label agrees with ``label``).
        drop_reason: Why it was dropped (``disagrees``, ``unparseable``, ``no-reasoning``).
        raw: The teacher's full output.
        usage: Teacher usage.
    """

    id: str
    bias: TrainBias
    judge_model: str
    prompt: str
    label: Label
    teacher: str
    teacher_label: Label | None = None
    trace: str = ""
    kept: bool = False
    drop_reason: str | None = None
    raw: str = ""
    usage: Usage = Field(default_factory=Usage)


class TrainExample(BaseModel):
    """One fine-tuning (or evaluation) example: the detector prompt and its target.

    Attributes:
        id: Example id.
        bias: Bias type (or ``unknown``).
        prompt: The user message (RBD format).
        label: Gold bias label.
        trace: Reasoning to train on (empty for evaluation-only data).
        meta: Extra fields (judge model, source line, teacher label).
    """

    id: str
    bias: str = "unknown"
    prompt: str
    label: Label
    trace: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)


class ErrorRecord(BaseModel):
    """A failure stored as data (the id is retried on the next run).

    Attributes:
        id: Record id.
        stage: Pipeline stage (``construct``, ``collect``, ``teacher``, ``evaluate``).
        error: ``ExceptionType: message``.
    """

    id: str
    stage: str
    error: str


R = TypeVar("R", bound=BaseModel)


def read_records(path: str | Path, model: type[R]) -> Iterator[tuple[int, R]]:
    """Stream ``(line, record)`` of a pipeline JSONL (pairs, judged pairs, traces).

    Raises:
        InputError: naming the line and field of an invalid record.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", source=str(p))
    repair_tail(p)
    with open(p, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON ({exc.msg} at column {exc.colno})", line=line_no,
                                 source=str(p)) from None
            try:
                yield line_no, model.model_validate(data)
            except ValidationError as exc:
                field, msg = validation_message(exc)
                raise InputError(f"not a {model.__name__} record: {msg}", line=line_no,
                                 field=field, source=str(p)) from None
