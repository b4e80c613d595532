"""Parse a judge's free text into a display slot, a tie, or a score.

Accepted forms (case-insensitive): ``Output (a)``, ``(a)``, ``A``, ``[[A]]``,
``Response A``, ``Assistant B``, ``Choice 2``, ``Option 3``, ``2``, ``Answer: b``,
JSON such as ``{"choice": "a"}`` / ``{"winner": 2}`` / ``{"score": 7}``, and ties
(``tie``, ``[[C]]`` for pairwise). When several different slots are named, an explicit
final marker (``final answer: ...``, ``[[X]]``, JSON) wins; otherwise the reply is
ambiguous and a :class:`~debias.errors.VerdictParseError` is raised.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Literal

from debias.errors import VerdictParseError

TIE: Literal["tie"] = "tie"
SlotOrTie = int | Literal["tie"]

_WORD = r"(?:output|response|assistant|answer|choice|option|candidate|model)"
_TOKEN = r"\(?([a-j]|10|[1-9])\)?"
_JSON_KEYS = ("choice", "winner", "answer", "verdict", "better", "preferred", "decision", "best")
_SCORE_KEYS = ("score", "rating", "grade")

_RE_BRACKET = re.compile(r"\[\[\s*([a-j]|10|[1-9]|tie)\s*\]\]", re.I)
_RE_FINAL = re.compile(
    rf"(?:final\s+(?:answer|verdict|decision|choice)|verdict|decision|answer|winner)\s*(?:is|:|=|-)?\s*\**\s*"
    rf"(?:{_WORD}\s*)?{_TOKEN}(?![\w])",
    re.I,
)
_RE_NAMED = re.compile(rf"\b{_WORD}\s*{_TOKEN}(?![\w])", re.I)
_RE_BARE = re.compile(r"^\W*\(?([a-j]|10|[1-9])\)?\W*$", re.I)
_RE_TIE = re.compile(r"^\W*(?:tie|draw|equal|both(?: are)? (?:equally )?good)\W*$", re.I)
_RE_SCORE = re.compile(
    r"(?:score|rating|grade)\s*(?:is|:|=)?\s*\**\s*(-?\d+(?:\.\d+)?)|\[\[\s*(-?\d+(?:\.\d+)?)\s*\]\]"
    r"|(-?\d+(?:\.\d+)?)\s*/\s*\d+",
    re.I,
)
_RE_NUMBER = re.compile(r"^\W*(-?\d+(?:\.\d+)?)\W*$")


def _token_to_slot(token: str, n: int, letters: bool) -> int | None:
    t = token.lower()
    if t.isdigit():
        k = int(t) - 1
    elif len(t) == 1 and "a" <= t <= "j":
        k = ord(t) - ord("a")
    else:
        return None
    return k if 0 <= k < n else None


def _from_json(text: str, n: int) -> SlotOrTie | None:
    for match in re.finditer(r"\{[^{}]*\}", text):
        try:
            obj = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        lowered = {str(k).lower(): v for k, v in obj.items()}
        for key in _JSON_KEYS:
            if key in lowered:
                value = str(lowered[key]).strip()
                if value.lower() in ("tie", "draw", "equal"):
                    return TIE
                inner = parse_choice(value, n) if value else None
                if inner is not None:
                    return inner
    return None


def parse_choice(text: str, n: int) -> SlotOrTie:
    """Parse a reply into a 0-based display slot (or ``"tie"``).

    Args:
        text: The judge's reply.
        n: Number of displayed candidates.

    Returns:
        The display slot, or ``"tie"`` (pairwise ties).

    Raises:
        VerdictParseError: When no decision, or conflicting decisions, are found.
    """
    if not text or not text.strip():
        raise VerdictParseError("empty reply", text or "")
    stripped = text.strip()
    bare = _RE_BARE.match(stripped)
    if bare:
        slot = _token_to_slot(bare.group(1), n, letters=True)
        if slot is not None:
            return slot
    if _RE_TIE.match(stripped):
        return TIE
    found = _from_json(stripped, n)
    if found is not None:
        return found
    brackets = [m.group(1).lower() for m in _RE_BRACKET.finditer(stripped)]
    if brackets:
        last = brackets[-1]
        if last == "tie" or (n == 2 and last == "c"):
            return TIE
        slot = _token_to_slot(last, n, letters=True)
        if slot is not None:
            return slot
    finals = [_token_to_slot(m.group(1), n, True) for m in _RE_FINAL.finditer(stripped)]
    finals = [s for s in finals if s is not None]
    if finals:
        return finals[-1]
    named = {_token_to_slot(m.group(1), n, True) for m in _RE_NAMED.finditer(stripped)}
    named.discard(None)
    if len(named) == 1:
        return named.pop()  # type: ignore[return-value]
    first_line = stripped.splitlines()[0]
    first_named = {_token_to_slot(m.group(1), n, True) for m in _RE_NAMED.finditer(first_line)}
    first_named.discard(None)
    if len(first_named) == 1:
        return first_named.pop()  # type: ignore[return-value]
    if len(named) > 1:
        raise VerdictParseError(f"reply names several candidates ({len(named)}) without a final decision", text)
    if re.search(r"\b(?:tie|draw)\b", stripped, re.I):
        return TIE
    raise VerdictParseError(f"no decision found in reply {stripped[:80]!r}", text)


def parse_score(text: str, low: float, high: float) -> float:
    """Parse a score within ``[low, high]`` from a reply.

    Raises:
        VerdictParseError: When no score in range is found.
    """
    if not text or not text.strip():
        raise VerdictParseError("empty reply", text or "")
    stripped = text.strip()
    candidates: list[float] = []
    for match in re.finditer(r"\{[^{}]*\}", stripped):
        try:
            obj = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            for key in _SCORE_KEYS:
                if key in {str(k).lower() for k in obj}:
                    value = {str(k).lower(): v for k, v in obj.items()}[key]
                    with contextlib.suppress(TypeError, ValueError):
                        candidates.append(float(value))
    if not candidates:
        candidates = [float(next(g for g in m.groups() if g is not None))
                      for m in _RE_SCORE.finditer(stripped)]
    if not candidates:
        bare = _RE_NUMBER.match(stripped)
        if bare:
            candidates = [float(bare.group(1))]
    in_range = [c for c in candidates if low <= c <= high]
    if not in_range:
        what = f"scores {candidates} outside {low:g}..{high:g}" if candidates else "no score"
        raise VerdictParseError(f"{what} in reply {stripped[:80]!r}", text)
    return in_range[-1]
