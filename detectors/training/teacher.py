"""Step 3: teacher reasoning traces in the RBD detector format.

For each judged pair, the detector prompt is rendered with the reasoning detector's own
renderer (:mod:`detectors.reasoning.format`: the biased side's options and verdict, both
orders for position), a reasoning model is asked through any
:class:`~debias.judges.base.ChatBackend` (litellm for API models) WITHOUT being told the
gold label, and its output is parsed with :mod:`detectors.reasoning.parse`. A trace is
kept only when the teacher's Yes/No agrees with the derived gold label; others go to the
dropped file with the reason (``disagrees``, ``unparseable``, ``no-reasoning``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from debias.backends.base import ChatBackend, Completion, Sampling
from detectors.reasoning.format import (
    DEFAULT_TEMPLATE,
    RBDInput,
    RBDTemplate,
    input_from_verdicts,
    render_prompt,
)
from detectors.reasoning.parse import ParsedDetection, parse_detection
from detectors.training.batch import Outcome, StageSummary, run_jobs
from detectors.training.records import JudgedPair, TeacherTrace


class TeacherConfig(BaseModel):
    """How teacher traces are collected (validated on construction).

    Attributes:
        sampling: Teacher sampling (reasoning models need a large token budget).
        min_trace_chars: A trace shorter than this counts as no reasoning (dropped).
        judge_model: Judge name shown in the prompt (default: the verdict's judge,
            provider prefix dropped).
        template: Wording of the detector prompt (structure fixed by the RBD format).
    """

    model_config = ConfigDict(frozen=True)

    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.6, max_tokens=4096))
    min_trace_chars: int = Field(default=40, ge=0)
    judge_model: str | None = None
    template: RBDTemplate = DEFAULT_TEMPLATE


def detector_input(rec: JudgedPair, judge_model: str | None = None) -> RBDInput:
    """The RBD detector input of a judged pair: the biased side's verdict (with the clean
    verdict as the original order for position)."""
    other = rec.clean_verdict if rec.bias == "position" else None
    return input_from_verdicts(rec.pair.biased.item, rec.bias, rec.biased_verdict, other,
                               judge_model=judge_model)


_ANSWER_TAIL = re.compile(
    r"[\s*_`\"'#]*(?:(?:final\s+)?(?:answer|verdict|label|decision|conclusion)\s*(?:is)?\s*[:=\-]?)?"
    r"[\s*_`\"'\\{(]*(?:boxed\{)?[\s*_`\"']*$",
    re.I,
)


def extract_trace(text: str, parsed: ParsedDetection, reasoning: str | None = None) -> str:
    """The reasoning to train on: the think content; without think tags, the text before
    the final answer; a separately returned reasoning field (API reasoning models) when
    the text itself carries none."""
    if parsed.think_open or parsed.think_closed:
        trace = parsed.analysis
    elif parsed.label_start is not None:
        trace = _ANSWER_TAIL.sub("", text[: parsed.label_start]).strip()
    else:
        trace = text.strip()
    if reasoning and reasoning.strip() and len(trace) < len(reasoning.strip()):
        trace = reasoning.strip()
    return trace


def _reasoning_field(completion: Completion) -> str | None:
    extra = getattr(completion, "model_extra", None) or {}
    for key in ("reasoning", "reasoning_content"):
        value = getattr(completion, key, None) or extra.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def trace_record(rec: JudgedPair, prompt: str, judge_model: str, completion: Completion,
                 teacher: str, config: TeacherConfig) -> TeacherTrace:
    """Parse a teacher completion into a kept or dropped :class:`TeacherTrace` (pure)."""
    text = completion.text or ""
    parsed = parse_detection(text)
    trace = extract_trace(text, parsed, _reasoning_field(completion))
    if parsed.label is None:
        reason: str | None = "unparseable"
    elif len(trace) < config.min_trace_chars:
        reason = "no-reasoning"
    elif parsed.label != rec.label:
        reason = "disagrees"
    else:
        reason = None
    return TeacherTrace(id=rec.id, bias=rec.bias, judge_model=judge_model, prompt=prompt,
                        label=rec.label, teacher=teacher, teacher_label=parsed.label,
                        trace=trace, kept=reason is None, drop_reason=reason, raw=text,
                        usage=completion.usage)


def teacher_messages(rec: JudgedPair, config: TeacherConfig) -> tuple[list[dict[str, str]], str, str]:
    """``(messages, prompt, judge_model)`` for a judged pair."""
    inp = detector_input(rec, config.judge_model)
    prompt = render_prompt(inp, config.template)
    return [{"role": "user", "content": prompt}], prompt, inp.judge_model


def teach_one(rec: JudgedPair, backend: ChatBackend, config: TeacherConfig | None = None) -> TeacherTrace:
    """Ask the teacher about one judged pair (synchronously)."""
    config = config or TeacherConfig()
    messages, prompt, judge_model = teacher_messages(rec, config)
    completion = backend.complete(messages, config.sampling)
    return trace_record(rec, prompt, judge_model, completion, backend.name, config)


async def ateach_one(rec: JudgedPair, backend: ChatBackend,
                     config: TeacherConfig | None = None) -> TeacherTrace:
    """Async twin of :func:`teach_one`."""
    config = config or TeacherConfig()
    messages, prompt, judge_model = teacher_messages(rec, config)
    completion = await backend.acomplete(messages, config.sampling)
    return trace_record(rec, prompt, judge_model, completion, backend.name, config)


async def ateach(records: Iterable[JudgedPair], backend: ChatBackend, out: str | Path, *,
                 config: TeacherConfig | None = None, concurrency: int = 8,
                 progress: bool = False, total: int | None = None) -> StageSummary:
    """Collect teacher traces for judged pairs; kept ones go to ``out``, dropped ones to
    ``<out>.dropped.jsonl`` (the summary's ``dropped`` and tags say how many and why).

    Records already in either file are skipped on a re-run; failures are retried.
    """
    config = config or TeacherConfig()

    def jobs() -> Iterator[tuple[str, Any]]:
        for rec in records:

            async def job(rec: JudgedPair = rec) -> Outcome:
                tr = await ateach_one(rec, backend, config)
                tag = "kept" if tr.kept else f"dropped:{tr.drop_reason}"
                return Outcome(tr, kept=tr.kept, tag=tag, usage=tr.usage)

            yield rec.id, job

    return await run_jobs(jobs(), out, stage="teacher", concurrency=concurrency,
                          progress=progress, total=total)


def teach(records: Iterable[JudgedPair], backend: ChatBackend, out: str | Path,
          **kwargs: Any) -> StageSummary:
    """Blocking wrapper of :func:`ateach`."""
    return asyncio.run(ateach(records, backend, out, **kwargs))
