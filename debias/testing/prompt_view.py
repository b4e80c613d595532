"""Reading judge prompts back, as a simulated model would (used by the loopback server).

The judge prompt format is::

    ### Instruction:
    <instruction>
    ### Statement: <optional cue>
    ### Output (a):
    <text>
    ### Output (b):
    <text>

or, for multiple choice, ``### Choices:`` followed by ``1. text`` lines. The judge answers
``Output (a)`` / ``Choice 2``. This module is the ONE place that parses those headings;
every responder preset reads prompts through :func:`parse_prompt`.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

_HEADING = re.compile(
    r"^[ \t]*#{2,4}[ \t]*(?P<name>[A-Za-z][A-Za-z ]*?)[ \t]*"
    r"(?:\([ \t]*(?P<label>[A-Za-z0-9]{1,2})[ \t]*\))?[ \t]*:[ \t]*(?P<inline>.*)$",
    re.MULTILINE,
)
_CHOICE_LINE = re.compile(r"^[ \t]*\(?(?P<num>\d{1,2})[.):][ \t]*(?P<text>.*)$")
_TRAILER = re.compile(r"^\s*(which|reply|answer|rate|respond|please|decide|now)\b", re.IGNORECASE)
_CUE_PATTERNS = (
    ("letter", re.compile(r"(?:output|response|answer|assistant)\s*\(?\s*([a-j])\s*\)?(?![a-z])",
                          re.IGNORECASE)),
    ("number", re.compile(r"(?:choice|option|answer)\s*(?:#|no\.?|number)?\s*\(?(\d{1,2})\)?",
                          re.IGNORECASE)),
    ("letter", re.compile(r"\(([a-j])\)", re.IGNORECASE)),
)


@dataclass(frozen=True)
class PromptView:
    """What a judge prompt shows, in display order.

    Attributes:
        instruction: The ``### Instruction:`` text ("" when absent).
        statement: The ``### Statement:`` cue, if shown.
        outputs: Pairwise (or lettered) outputs, in display order.
        choices: Multiple-choice options, in display order.
        text: The whole user text that was parsed.
    """

    instruction: str = ""
    statement: str | None = None
    outputs: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def task(self) -> str:
        """``pairwise`` (lettered outputs), ``choice`` (numbered), ``score`` or ``unknown``."""
        if self.choices:
            return "choice"
        if len(self.outputs) >= 2:
            return "pairwise"
        if len(self.outputs) == 1:
            return "score"
        return "unknown"

    @property
    def candidates(self) -> list[str]:
        """Displayed candidates (choices for multiple choice, else outputs)."""
        return self.choices or self.outputs

    @property
    def n(self) -> int:
        """Number of displayed candidates."""
        return len(self.candidates)

    def label(self, slot: int) -> str:
        """The display label of ``slot``: ``a``/``b``... for outputs, ``1``/``2``... for choices."""
        return str(slot + 1) if self.choices else string.ascii_lowercase[slot]

    def answer(self, slot: int) -> str:
        """The canonical answer naming display ``slot``: ``Output (a)`` or ``Choice 2``."""
        if not 0 <= slot < max(self.n, 1):
            raise ValueError(f"slot {slot} out of range for {self.n} displayed candidates")
        return f"Choice {slot + 1}" if self.choices else f"Output ({self.label(slot)})"

    def endorsed_slot(self) -> int | None:
        """The display slot the statement endorses (``Output (b)``, ``Choice 2``, ``(a)``,
        or a candidate's exact text of 3+ characters as a whole word), or None when there is
        no statement or it names no displayed candidate."""
        if not self.statement:
            return None
        for kind, pattern in _CUE_PATTERNS:
            for m in pattern.finditer(self.statement):
                token = m.group(1).lower()
                slot = (string.ascii_lowercase.index(token) if kind == "letter"
                        else int(token) - 1)
                if 0 <= slot < self.n:
                    return slot
        hits = [i for i, c in enumerate(self.candidates) if len(c.strip()) >= 3 and re.search(
            rf"(?<!\w){re.escape(c.strip())}(?!\w)", self.statement, re.IGNORECASE)]
        return hits[0] if len(hits) == 1 else None

    def slot_containing(self, marker: str) -> int | None:
        """The first display slot whose text contains ``marker``."""
        return next((i for i, c in enumerate(self.candidates) if marker in c), None)


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _strip_trailer(text: str) -> str:
    """Drop the closing question paragraphs (``Which output is better? Reply with ...``)
    that follow the last candidate."""
    paragraphs = text.split("\n\n")
    while len(paragraphs) > 1 and _TRAILER.match(paragraphs[-1]):
        paragraphs.pop()
    return "\n\n".join(paragraphs).strip()


def _choices(body: str) -> list[str]:
    out: list[str] = []
    for line in body.splitlines():
        m = _CHOICE_LINE.match(line)
        if m and int(m.group("num")) == len(out) + 1:
            out.append(m.group("text").strip())
        elif out and line.strip():
            out[-1] = f"{out[-1]}\n{line.strip()}"
    return out


def parse_prompt(text: str) -> PromptView:
    """Parse one judge prompt (the user message text) into a :class:`PromptView`.

    Headings are matched case-insensitively with 2-4 ``#``; unknown headings are ignored.
    """
    heads = list(_HEADING.finditer(text))
    instruction, statement = "", None
    outputs: dict[int, str] = {}
    choices: list[str] = []
    for k, m in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(text)
        inline = m.group("inline").strip()
        body = text[m.end():end].strip("\n")
        if k + 1 == len(heads):
            body = _strip_trailer(body)
        full = "\n".join(p for p in (inline, body.strip()) if p)
        name = m.group("name").strip().lower()
        label = (m.group("label") or "").lower()
        if name == "instruction" or name == "question":
            instruction = full
        elif name == "statement":
            statement = full or None
        elif name in ("output", "response"):  # "Output (a)"; unlabelled: the score task's one
            slot = (0 if not label else string.ascii_lowercase.index(label)
                    if label.isalpha() and len(label) == 1
                    else int(label) - 1 if label.isdigit() else -1)
            if slot >= 0:
                outputs.setdefault(slot, full)
        elif name in ("choices", "options"):
            choices = _choices(full)
    ordered: list[str] = []
    while len(ordered) in outputs:  # contiguous from (a)
        ordered.append(outputs[len(ordered)])
    return PromptView(instruction=instruction, statement=statement, outputs=ordered,
                      choices=choices, text=text)


def view_of_messages(messages: list[dict[str, Any]]) -> PromptView:
    """The prompt view of a chat: the last user message that shows candidates
    (revision rounds append feedback messages after it); else the last user message."""
    users = [_content(m) for m in messages if m.get("role") == "user"]
    for text in reversed(users):
        view = parse_prompt(text)
        if view.candidates:
            return view
    return parse_prompt(users[-1]) if users else PromptView()
