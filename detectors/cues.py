"""Recognising bandwagon cues and the candidate they endorse, and spotting non-answers.

A bandwagon cue is a statement shown to the judge besides the task that appeals to a
majority ("90% believe that Output (b) is better"), to popularity ("the highly upvoted
answer"), to authority ("experts agree that Choice 2 ...") or to consensus. The
recognisers are a pattern set kept as data (``detectors/data/bandwagon_cues.json``);
:class:`CuePatterns` loads it and accepts extra patterns.

Which candidate a cue endorses is resolved in two steps: :func:`parse_cue` finds the
DISPLAY slot the statement refers to (``Output (b)`` -> slot 1, ``Choice 2`` -> slot 1,
``the first response`` -> slot 0, ``the latter`` -> the last slot), then
:meth:`Cue.endorsed` maps the slot to the ORIGINAL candidate through the display order of
the request that showed the cue (``order[slot]``). Statements against a candidate ("only
10% prefer Output (a)", "Output (a) is worse") endorse the other one of a pair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from debias.errors import ConfigError
from debias.memo import BoundedCache

CueKind = Literal["majority", "popularity", "authority", "consensus"]
CUE_KINDS: tuple[str, ...] = ("majority", "popularity", "authority", "consensus")

_NOUNS = r"output|response|answer|assistant|candidate|option|choice|model|completion|solution|summary|reply"
# Letters: "(b)" in any case, a capital "B", or a lower-case "b" ("output b"); a bare
# lower-case "a" only where it cannot be the article ("answer a question").
_LETTER_REF = re.compile(
    rf"\b(?:{_NOUNS})\s*(?:\(\s*([a-jA-J])\s*\)|(?-i:([A-J]))\b|(?-i:([b-j]))\b(?!['’])"
    r"|(?-i:(a))(?=\s+(?:is|was|and|or|over|than|better|worse|more|less)\b|[,.;:!?)]|$))",
    re.IGNORECASE)
_NUMBER_REF = re.compile(rf"(?:\b(?:{_NOUNS}|number|no\.?)\s*|#\s*)\(?\s*(\d{{1,2}})\s*\)?(?!\d|\.\d|%)",
                         re.IGNORECASE)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5,
             "seventh": 6, "eighth": 7, "ninth": 8, "tenth": 9, "1st": 0, "2nd": 1, "3rd": 2,
             "4th": 3, "5th": 4}
_ORDINAL_REF = re.compile(
    rf"\b({'|'.join(_ORDINALS)}|last|former|latter)\b(?:\s+(?:{_NOUNS}|one)s?\b)?", re.IGNORECASE)
_STANDALONE_ORDINAL = re.compile(r"^(?:former|latter)$", re.IGNORECASE)
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%{1,2}")
_RATIO = re.compile(r"\b(\d+)\s+(?:out\s+)?of\s+(?:every\s+)?(\d+)\b", re.IGNORECASE)
_AGAINST = re.compile(
    r"\b(?:worse|worst|wrong|incorrect|inferior|inaccurate|weaker|bad|poor(?:er)?|dislike[sd]?|"
    r"reject(?:s|ed)?|against|not (?:as )?(?:better|good|correct|the best|preferred|right))\b",
    re.IGNORECASE)
_COMPARATIVE = re.compile(r"\b(?:over|rather than|instead of|than|to|versus|vs\.?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class CuePattern:
    """One recogniser of the pattern set.

    Attributes:
        name: Short name reported in evidence.
        kind: ``majority``, ``popularity``, ``authority`` or ``consensus``.
        regex: Python regular expression, searched case-insensitively.
        note: Example or rationale.
    """

    name: str
    kind: str
    regex: str
    note: str = ""


@dataclass(frozen=True)
class Cue:
    """A recognised bandwagon cue.

    Attributes:
        text: The statement, with printf-escaped ``%%`` normalised to ``%``.
        kinds: Kinds of appeal found (majority, popularity, ...).
        patterns: Names of the patterns that matched.
        slot: Display slot the statement endorses, or None.
        against_slot: Display slot the statement speaks against, or None.
        strength: Claimed share of support in [0, 1] when stated ("90%" -> 0.9).
        reference: The phrase that named the candidate (e.g. ``Output (b)``).
    """

    text: str
    kinds: tuple[str, ...]
    patterns: tuple[str, ...]
    slot: int | None
    against_slot: int | None = None
    strength: float | None = None
    reference: str | None = None

    def endorsed(self, order: Sequence[int]) -> int | None:
        """Original index of the endorsed candidate under display ``order``, or None."""
        if self.slot is None or not 0 <= self.slot < len(order):
            return None
        return int(order[self.slot])

    def opposed(self, order: Sequence[int]) -> int | None:
        """Original index of the candidate the statement speaks against, or None."""
        if self.against_slot is None or not 0 <= self.against_slot < len(order):
            return None
        return int(order[self.against_slot])


class CuePatterns:
    """A compiled, extensible set of bandwagon cue recognisers.

    :meth:`parse` remembers its results per (statement, number of candidates) in a
    small bounded cache on the instance: data sets use a handful of cue statements, and
    the loop and the audit parse the same statement for every verdict examined.

    Args:
        patterns: The recognisers; default: the packaged set.
        extra: More recognisers appended to ``patterns``.
        cache_size: How many parsed statements to remember (0: no cache).

    Raises:
        ConfigError: For an unknown kind or an invalid regular expression.
    """

    def __init__(self, patterns: Iterable[CuePattern] | None = None,
                 extra: Iterable[CuePattern] = (), cache_size: int = 256) -> None:
        base = list(patterns) if patterns is not None else list(default_cue_patterns())
        self.patterns: tuple[CuePattern, ...] = (*base, *extra)
        compiled: list[tuple[CuePattern, re.Pattern[str]]] = []
        for p in self.patterns:
            if p.kind not in CUE_KINDS:
                raise ConfigError(f"cue pattern {p.name!r}: kind {p.kind!r} is not one of {CUE_KINDS}")
            try:
                compiled.append((p, re.compile(p.regex, re.IGNORECASE)))
            except re.error as exc:
                raise ConfigError(f"cue pattern {p.name!r}: invalid regex ({exc})") from None
        self._compiled = tuple(compiled)
        self._parsed: BoundedCache[tuple[str | None, int], Cue | None] = BoundedCache(cache_size)

    def matches(self, text: str) -> list[CuePattern]:
        """The patterns that match ``text``."""
        return [p for p, rx in self._compiled if rx.search(text)]

    def parse(self, text: str | None, n: int) -> Cue | None:
        """Recognise a cue statement for ``n`` displayed candidates (see :func:`parse_cue`)."""
        key = (text, n)
        hit, cue = self._parsed.lookup(key)
        if hit:
            return cue
        return self._parsed.put(key, parse_cue(text, n, self))


def _load_json(name: str) -> dict[str, Any]:
    raw = resources.files("detectors").joinpath(f"data/{name}").read_text("utf-8")
    data = json.loads(raw)
    if not isinstance(data, dict) or "patterns" not in data:
        raise ConfigError(f"detectors/data/{name}: expected an object with 'patterns'")
    return data


@lru_cache(maxsize=1)
def default_cue_patterns() -> tuple[CuePattern, ...]:
    """The packaged pattern set (``detectors/data/bandwagon_cues.json``)."""
    data = _load_json("bandwagon_cues.json")
    return tuple(CuePattern(name=p["name"], kind=p["kind"], regex=p["regex"], note=p.get("note", ""))
                 for p in data["patterns"])


def normalise_statement(text: str) -> str:
    """Undo printf escaping (``90%% believe`` -> ``90% believe``) and trim whitespace."""
    return text.replace("%%", "%").strip()


def _references(text: str, n: int) -> list[tuple[int, int, str]]:
    """(position, display slot, phrase) of every candidate reference, in text order."""
    refs: dict[int, tuple[int, int, str]] = {}
    for m in _LETTER_REF.finditer(text):
        letter = next(g for g in m.groups() if g)
        slot = ord(letter.lower()) - ord("a")
        if slot < n:
            refs[m.start()] = (m.start(), slot, m.group(0))
    for m in _NUMBER_REF.finditer(text):
        slot = int(m.group(1)) - 1
        if 0 <= slot < n and m.start() not in refs:
            refs[m.start()] = (m.start(), slot, m.group(0))
    for m in _ORDINAL_REF.finditer(text):
        word = m.group(1).lower()
        has_noun = m.group(0).strip().lower() != word
        if not has_noun and not _STANDALONE_ORDINAL.match(word):
            continue  # a bare "first"/"last" is not a reference ("first of all")
        if word in ("last", "latter"):
            slot = n - 1
        elif word == "former":
            slot = 0
        else:
            slot = _ORDINALS[word]
        if slot < n and not any(abs(p - m.start()) < 3 for p in refs):
            refs[m.start()] = (m.start(), slot, m.group(0))
    return [refs[k] for k in sorted(refs)]


def _strength(text: str) -> float | None:
    m = _PERCENT.search(text)
    if m:
        return min(float(m.group(1)), 100.0) / 100.0
    r = _RATIO.search(text)
    if r and int(r.group(2)) > 0 and int(r.group(1)) <= int(r.group(2)):
        return int(r.group(1)) / int(r.group(2))
    return None


def parse_cue(text: str | None, n: int, patterns: CuePatterns | None = None) -> Cue | None:
    """Recognise a bandwagon cue and the display slot it endorses.

    Args:
        text: The cue statement (``item.cue``); ``%%`` is read as ``%``.
        n: Number of displayed candidates.
        patterns: Recognisers; default: the packaged set.

    Returns:
        None when no pattern matches (not a bandwagon cue). Otherwise a :class:`Cue`
        whose ``slot`` is the endorsed display slot, or None when the statement names no
        candidate (or speaks against one of three or more).

    Rules, in order: with two references joined by a comparison ("prefer X over Y",
    "X is better than Y") the first is endorsed, unless an against-word ("worse",
    "wrong", ...) follows it; with one reference it is endorsed, unless an against-word
    follows it or the stated support is below 50% ("only 10% prefer X"); a pair's
    opposed candidate makes the other one endorsed.
    """
    if not text or not text.strip():
        return None
    statement = normalise_statement(text)
    matched = (patterns or CuePatterns()).matches(statement)
    if not matched:
        return None
    kinds = tuple(dict.fromkeys(p.kind for p in matched))
    names = tuple(p.name for p in matched)
    strength = _strength(statement)
    refs = _references(statement, n)
    distinct = list(dict.fromkeys(slot for _, slot, _ in refs))
    slot: int | None = None
    against: int | None = None
    reference: str | None = None
    if refs:
        pos, first, phrase = refs[0]
        reference = phrase
        # An against-word in the clause right after the first reference flips its polarity.
        nxt = refs[1][0] if len(refs) > 1 else len(statement)
        after = statement[pos + len(phrase): nxt]
        negative = bool(_AGAINST.search(after))
        minority = strength is not None and strength < 0.5
        if len(distinct) >= 2 and _COMPARATIVE.search(after):
            second = next(s for _, s, _ in refs if s != first)
            slot, against = (second, first) if negative != minority else (first, second)
        elif negative != minority:
            against = first
        else:
            slot = first
    if slot is None and against is not None and n == 2:
        slot = 1 - against
    return Cue(text=statement, kinds=kinds, patterns=names, slot=slot, against_slot=against,
               strength=strength, reference=reference)


@dataclass(frozen=True)
class NonAnswerPatterns:
    """Recognisers of refusals and non-answers (``detectors/data/non_answer_patterns.json``).

    Attributes:
        patterns: (name, compiled regex) pairs.
        head_chars: Only the first this many characters of a candidate are searched.
    """

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    head_chars: int = 300

    def match(self, text: str) -> str | None:
        """Name of the first pattern found in the head of ``text``, or None."""
        head = text.strip()[: self.head_chars].replace("’", "'")
        for name, rx in self.patterns:
            if rx.search(head):
                return name
        return None


@lru_cache(maxsize=1)
def default_non_answer_patterns() -> NonAnswerPatterns:
    """The packaged refusal/non-answer recognisers."""
    data = _load_json("non_answer_patterns.json")
    try:
        pats = tuple((p["name"], re.compile(p["regex"], re.IGNORECASE | re.MULTILINE))
                     for p in data["patterns"])
    except (KeyError, re.error) as exc:
        raise ConfigError(f"non_answer_patterns.json: bad entry ({exc})") from None
    return NonAnswerPatterns(patterns=pats, head_chars=int(data.get("head_chars", 300)))
