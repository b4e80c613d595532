"""Loopback judges for the benchmark templates (MT-Bench, Arena-Hard-Auto, AlpacaEval, and
judge-debias's own), for testing the proxy against misbehaving upstreams.

They read a prompt the way a model sees it, by the layouts' literal markers, independently
of :mod:`debias.proxy` (whose recognition is what the tests check), and answer in the
layout's own verdict format: ``[[A]]`` / ``[[A>B]]`` / ``m`` / a ranking list /
``Output (a)``. Behaviours: biased to a display slot (and deaf to feedback), fair (picks the
answer containing a marker wherever it is shown), drifting to another answer format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from debias.testing.responders import ChatRequest, Reply

Layout = Literal["mtbench", "arena", "alpaca-clf", "alpaca-ranking", "native"]

_BLOCKS: dict[str, tuple[str, str]] = {
    # layout: (regex of slot A's text, regex of slot B's text); the first that matches wins
    "mtbench-multi": (r"<\|The Start of Assistant A's Conversation with User\|>(.*?)<\|The End of Assistant A's",
                      r"<\|The Start of Assistant B's Conversation with User\|>(.*?)<\|The End of Assistant B's"),
    "mtbench": (r"\[The Start of Assistant A's Answer\](.*?)\[The End of Assistant A's Answer\]",
                r"\[The Start of Assistant B's Answer\](.*?)\[The End of Assistant B's Answer\]"),
    "arena": (r"<\|The Start of Assistant A's Answer(?: with User)?\|>(.*?)<\|The End of Assistant A's",
              r"<\|The Start of Assistant B's Answer(?: with User)?\|>(.*?)<\|The End of Assistant B's"),
    "alpaca-clf": (r'"model_identifier":\s*"m",\s*"output":\s*"""(.*?)"""',
                   r'"model_identifier":\s*"M",\s*"output":\s*"""(.*?)"""'),
    "alpaca-ranking": (r'"model":\s*"model_1",\s*"answer":\s*"""(.*?)"""',
                       r'"model":\s*"model_2",\s*"answer":\s*"""(.*?)"""'),
    "native": (r"### Output \(a\):(.*?)### Output \(b\):", r"### Output \(b\):(.*?)(?:\n\n[A-Z][^\n]*\?|\Z)"),
}


def shown_answers(req: ChatRequest) -> tuple[str, str, str] | None:
    """(layout, text shown in slot A, text shown in slot B) of the chat's first user message."""
    users = [m.get("content") for m in req.messages if m.get("role") == "user"]
    if not users or not isinstance(users[0], str):
        return None
    text = users[0]
    for layout, (a, b) in _BLOCKS.items():
        ma, mb = re.search(a, text, re.S), re.search(b, text, re.S)
        if ma and mb:
            return layout.replace("mtbench-multi", "mtbench"), ma.group(1), mb.group(1)
    return None


def has_feedback(req: ChatRequest) -> bool:
    """Whether the chat continues after the judge's first answer (a revision or re-ask)."""
    return any(m.get("role") == "assistant" for m in req.messages)


def verdict(layout: str, slot: int | None, *, explain: bool = True) -> str:
    """A reply naming display ``slot`` (None: tie) in the layout's format."""
    letter = "C" if slot is None else "AB"[slot]
    why = ("Both answers address the question; comparing accuracy and helpfulness, "
           f"{'neither is clearly better' if slot is None else f'Assistant {letter} is better'}. ")
    if layout == "mtbench":
        return f"{why if explain else ''}[[{letter}]]"
    if layout == "arena":
        label = "A=B" if slot is None else ("A>B" if slot == 0 else "B>A")
        return f"{why if explain else ''}My final verdict is: [[{label}]]"
    if layout == "alpaca-clf":
        return "m" if slot in (None, 0) else "M"
    if layout == "alpaca-ranking":
        r1, r2 = (1, 2) if slot in (None, 0) else (2, 1)
        return f"[{{'model': 'model_1', 'rank': {r1}}}, {{'model': 'model_2', 'rank': {r2}}}]"
    return "Tie" if slot is None else f"Output ({'ab'[slot]})"


@dataclass
class SlotJudge:
    """Always picks display ``slot`` whatever the content, and ignores feedback.

    Attributes:
        slot: The display slot it picks.
        confidence: Probability of the emitted label in log-probabilities.
        drift: Answer in another format ("Assistant A is better.") instead of the layout's.
    """

    slot: int = 0
    confidence: float = 0.9
    drift: bool = False

    def __call__(self, req: ChatRequest) -> Reply | str:
        shown = shown_answers(req)
        if shown is None:
            return "I am not a judge prompt reader; here is a plain answer."
        if self.drift and shown[0] in ("mtbench", "arena"):
            return f"After comparing both, Assistant {'AB'[self.slot]} is better."
        return Reply(verdict(shown[0], self.slot), confidence=self.confidence,
                     alternatives=_alternatives(shown[0]))


@dataclass
class MarkerJudge:
    """Picks the answer containing ``marker`` wherever it is shown (an honest judge).

    Attributes:
        marker: Substring of the better answer.
        fallback: Slot picked when neither or both contain the marker (None: tie).
    """

    marker: str = "[correct]"
    fallback: int | None = None
    confidence: float = 0.9
    seen: list[str] = field(default_factory=list)

    def __call__(self, req: ChatRequest) -> Reply | str:
        shown = shown_answers(req)
        if shown is None:
            return "A plain answer."
        layout, a, b = shown
        hits = [self.marker in a, self.marker in b]
        slot = self.fallback if hits[0] == hits[1] else hits.index(True)
        self.seen.append(layout)
        return Reply(verdict(layout, slot), confidence=self.confidence,
                     alternatives=_alternatives(layout))


def _alternatives(layout: str) -> tuple[str, ...]:
    return ("m", "M") if layout == "alpaca-clf" else ()
