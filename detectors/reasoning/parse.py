"""Parse a reasoning detector's output: ``<think>analysis</think>`` then ``Yes`` or ``No``.

Real outputs are messy: the chat template may already have opened ``<think>`` (so the
text lacks it), generation may stop before ``</think>``, the answer may be in bold, in
``\\boxed{}``, after ``Answer:``, inside a sentence ("yes." in prose), or both words may
occur. :func:`parse_detection` never raises; it returns the label (or None) and WHERE it
was found, so callers can tell a well-formed answer from a fallback.

Precedence (first rule that yields a label wins):

1. ``answer``: the text after the last ``</think>`` (the whole text when there are no
   think tags) STARTS with the answer, after markdown/punctuation and an optional
   ``Answer:``/``Final answer:`` label (``**Yes**``, ``No.``, ``Answer: yes``).
2. ``answer_marker``: an explicit marker in that answer text (``answer is no``,
   ``Final answer: **Yes**``, ``\\boxed{No}``, ``**Yes**``); the last one wins.
3. ``answer_prose``: a standalone ``yes``/``no`` word in the answer text. One kind only: that
   one. Both kinds: the last occurrence that forms its own sentence (``... . No.``), else
   the last occurrence: the final answer after the reasoning counts.
4. ``think_marker``: an explicit marker (rule 2) inside the reasoning, the last one (used
   when nothing follows ``</think>``, or ``</think>`` is missing).
5. ``final_line``: the reasoning's last non-empty line is only ``Yes`` or ``No``.
6. otherwise unparseable (``label`` None): the detector reports an error finding, and
   benchmarks count it as wrong.

The analysis is the reasoning: the text inside the think block (from the last ``<think>``
before ``</think>``; from the start when ``<think>`` is missing; to the end when
``</think>`` is missing), or the whole text when there are no tags.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

Label = Literal["Yes", "No"]
FoundIn = Literal["answer", "answer_marker", "answer_prose", "think_marker", "final_line", "none"]

_OPEN = re.compile(r"<think>", re.I)
_CLOSE = re.compile(r"</think>", re.I)
_LEAD = re.compile(
    r"^[\W_]*(?:(?:final\s+)?(?:answer|verdict|response|label|decision|conclusion)[\W_]*)?"
    r"(?:\\boxed\{\s*)?(?:\\text\{\s*)?(yes|no)\b",
    re.I,
)
_MARKER = re.compile(
    r"(?:(?:final\s+)?(?:answer|verdict|label|decision|conclusion)\s*(?:is\s*:?|:|=|-)\s*[*_`\"'\s]*"
    r"(?:\\boxed\{\s*)?(yes|no)\b)"
    r"|\\boxed\{\s*(?:\\text\{\s*)?(yes|no)\s*\}?"
    r"|\*\*\s*(yes|no)\s*[.!]?\s*\*\*",
    re.I,
)
_WORD = re.compile(r"\b(yes|no)\b", re.I)
_SENTENCE_WORD = re.compile(
    r"(?:^|[.!?:;\n])[\s*_\"'`]*(yes|no)[\s*_\"'`]*(?=[.!]|\n|$)", re.I | re.M
)
_ONLY_WORD = re.compile(r"^[\W_]*(yes|no)[\W_]*$", re.I)


class ParsedDetection(BaseModel):
    """What a detector output says.

    Attributes:
        label: ``Yes`` (bias), ``No`` (no bias), or None when unparseable.
        analysis: The reasoning text (think content), stripped.
        answer_text: The text after the last ``</think>`` (the whole text without tags).
        found_in: Which precedence rule found the label (see the module docstring), or
            ``none``.
        label_start: Character offset of the label word in the raw text (None if none).
        think_open: Whether ``<think>`` occurs in the text.
        think_closed: Whether ``</think>`` occurs in the text.
        reason: Why no label was found (None when one was).
    """

    model_config = ConfigDict(frozen=True)

    label: Label | None
    analysis: str = ""
    answer_text: str = ""
    found_in: FoundIn = "none"
    label_start: int | None = None
    think_open: bool = False
    think_closed: bool = False
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether a label was found."""
        return self.label is not None

    @property
    def detected(self) -> bool | None:
        """True for ``Yes``, False for ``No``, None when unparseable."""
        return None if self.label is None else self.label == "Yes"

    @property
    def well_formed(self) -> bool:
        """A closed think block followed directly by the answer (the trained format)."""
        return self.think_closed and self.found_in == "answer"


def _label(word: str) -> Label:
    return "Yes" if word.lower() == "yes" else "No"


def _last_marker(text: str) -> re.Match[str] | None:
    matches = list(_MARKER.finditer(text))
    return matches[-1] if matches else None


def _marker_word(m: re.Match[str]) -> tuple[str, int]:
    for g in (1, 2, 3):
        if m.group(g):
            return m.group(g), m.start(g)
    raise AssertionError("marker without a word")  # pragma: no cover


def _in_answer(text: str) -> tuple[str, int, FoundIn] | None:
    """Rules 1-3 on the answer text; returns (word, offset, rule)."""
    lead = _LEAD.match(text)
    if lead:
        return lead.group(1), lead.start(1), "answer"
    marker = _last_marker(text)
    if marker:
        word, pos = _marker_word(marker)
        return word, pos, "answer_marker"
    words = list(_WORD.finditer(text))
    if not words:
        return None
    if len({w.group(1).lower() for w in words}) == 1:
        return words[0].group(1), words[0].start(1), "answer_prose"
    sentences = list(_SENTENCE_WORD.finditer(text))
    last = sentences[-1] if sentences else words[-1]
    return last.group(1), last.start(1), "answer_prose"


def _in_reasoning(text: str) -> tuple[str, int, FoundIn] | None:
    """Rules 4-5 on the reasoning text."""
    marker = _last_marker(text)
    if marker:
        word, pos = _marker_word(marker)
        return word, pos, "think_marker"
    lines = [(m.start(), m.group(0)) for m in re.finditer(r"[^\n]+", text) if m.group(0).strip()]
    if lines:
        start, line = lines[-1]
        only = _ONLY_WORD.match(line)
        if only:
            return only.group(1), start + only.start(1), "final_line"
    return None


def parse_detection(text: str | None) -> ParsedDetection:
    """Parse a detector output into a label, the analysis, and where the label was found.

    Never raises: an unparseable output has ``label`` None and a ``reason``.
    """
    raw = text or ""
    if not raw.strip():
        return ParsedDetection(label=None, reason="empty output")
    closes = list(_CLOSE.finditer(raw))
    opens = list(_OPEN.finditer(raw))
    think_open, think_closed = bool(opens), bool(closes)
    if closes:
        close = closes[-1]
        before = [o for o in opens if o.end() <= close.start()]
        r_start = before[-1].end() if before else 0
        r_end = close.start()
        a_start = close.end()
    elif opens:
        r_start, r_end = opens[-1].end(), len(raw)
        a_start = len(raw)
    else:
        r_start, r_end, a_start = 0, len(raw), 0
    reasoning = raw[r_start:r_end]
    answer = raw[a_start:]
    analysis = _CLOSE.sub("", _OPEN.sub("", reasoning)).strip()

    found = _in_answer(answer)
    offset = a_start
    if found is None and (think_open or think_closed):
        found = _in_reasoning(reasoning)
        offset = r_start
    if found is None:
        if think_open and not think_closed:
            reason = "no answer: the think block was never closed and holds no explicit answer"
        elif think_closed and not answer.strip():
            reason = "no answer after </think> and none stated in the reasoning"
        else:
            reason = "no Yes/No answer found"
        return ParsedDetection(label=None, analysis=analysis, answer_text=answer.strip(),
                               think_open=think_open, think_closed=think_closed, reason=reason)
    word, pos, rule = found
    return ParsedDetection(label=_label(word), analysis=analysis, answer_text=answer.strip(),
                           found_in=rule, label_start=offset + pos, think_open=think_open,
                           think_closed=think_closed)


# ------------------------------------------------------------ analysis for the judge

_SLOT = r"(?:output|response|choice|option|candidate|answer)\s*\(?\s*(?:[a-j]|10|[1-9])\s*\)?(?![\w])"
_RECOMMEND = re.compile(
    r"\b(?:should|must|ought\s+to|needs?\s+to|better\s+to|would\s+do\s+well\s+to|"
    r"recommend\w*|suggest\w*|advis\w+|i\s+would)\b[^.!?\n]{0,80}?"
    r"\b(?:choose|chosen|pick|picked|select|selected|prefer|preferred|go\s+with|switch\w*|"
    r"change\w*|revis\w+|vote\w*)\b[^.!?\n]{0,40}?" + _SLOT,
    re.I,
)
_CORRECT_IS = re.compile(
    r"\b(?:correct|right|better|best|proper|true)\s+(?:answer|choice|output|option|response|"
    r"decision|pick)\s+(?:is|was|would\s+be|should\s+be)\s*[*_\"'`]*\s*(?:" + _SLOT
    + r"|\(\s*[a-j]\s*\)|\d+(?=[.!?\s]*$))",
    re.I,
)
_OWN_LABEL = re.compile(
    r"(?:\b(?:final\s+)?answer\s*(?:is|:)\s*[*_\"'`]*\s*(?:yes|no)\b)|^[\W_]*(?:yes|no)[\W_]*$",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def feedback_analysis(analysis: str, *, max_chars: int = 2000) -> tuple[str, int]:
    """The analysis as advice for the judge: explicit answer recommendations removed.

    Removed sentences: ones that tell the judge which slot to pick ("should choose
    Output (b)", "the correct answer is Choice 2") and the detector's own Yes/No
    statement ("the answer is Yes", a line holding only "No"). Reasoning about the
    candidates' content stays. A text longer than ``max_chars`` keeps its beginning and
    its end (where the conclusion is), joined by ``[...]``.

    Returns:
        The cleaned text and the number of removed sentences.
    """
    removed = 0
    lines: list[str] = []
    for line in analysis.split("\n"):
        kept: list[str] = []
        for sentence in _SENTENCE_END.split(line):
            s = sentence.strip()
            if s and (_RECOMMEND.search(s) or _CORRECT_IS.search(s) or _OWN_LABEL.search(s)):
                removed += 1
                continue
            if s:
                kept.append(s)
        lines.append(" ".join(kept) if kept else "")
    text = "\n".join(line.rstrip() for line in lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if max_chars > 0 and len(text) > max_chars:
        marker = "\n[...]\n"
        budget = max(max_chars - len(marker), 0)
        head = budget * 2 // 5
        tail = budget - head
        text = text[:head].rstrip() + marker + text[len(text) - tail:].lstrip()
    return text, removed
