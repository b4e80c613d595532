"""Verdict formats of judge templates: how a reply names the winner, and how to write one.

Each format parses a judge reply the way the client's own parser reads it (FastChat's
``[[A]]``-first rule, Arena-Hard's "exactly one distinct ``[[...]]`` label" rule,
AlpacaEval's last character / ranking list), strips verdict tokens from explanation text,
and renders the FINAL verdict so that the client's parser reads exactly that verdict.

A decision is a :class:`Parsed`: a display slot (0 = the first shown answer) or a tie
(``slot is None``), with an optional strength (``strong``/``slight``, Arena-Hard).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from debias.errors import VerdictParseError
from debias.parsing import TIE, parse_choice


@dataclass(frozen=True)
class Parsed:
    """A decision read from a reply.

    Attributes:
        slot: Display slot of the winner (0 or 1); None for a tie.
        strength: ``strong`` or ``slight`` where the format grades (Arena-Hard), else None.
    """

    slot: int | None
    strength: str | None = None


@runtime_checkable
class VerdictFormat(Protocol):
    """How a template's judge answers.

    Attributes:
        name: Format name (shown in ``x-debias-format``).
        has_tie: Whether the format can express a tie.
        hint: How to answer, for re-asks and feedback ("... end with [[A]], [[B]] or [[C]]").
        labels: Single-token answer labels by display slot when the answer is one token
            (AlpacaEval's ``m``/``M``: log-probabilities of these give a preference); else ().
    """

    name: str
    has_tie: bool
    hint: str
    labels: tuple[str, ...]

    def parse(self, text: str) -> Parsed:
        """The decision the client's own parser reads from ``text``.

        Raises:
            VerdictParseError: When the client's parser would find no decision.
        """
        ...

    def strip(self, text: str) -> str:
        """``text`` without any verdict token (so only the final one is read)."""
        ...

    def reply(self, explanation: str, decision: Parsed) -> str:
        """The full reply: explanation (verdict tokens already stripped) and final verdict."""
        ...


def lenient_parse(fmt: VerdictFormat, text: str) -> Parsed:
    """Read a decision from a reply in the template's format, else in any common format.

    Upstream judges drift from the requested format ("Assistant A is better", "Output (b)",
    JSON); :func:`debias.parsing.parse_choice` reads those. The reply the client gets is
    always re-rendered in the template's own format.

    Raises:
        VerdictParseError: When neither reading finds a decision.
    """
    try:
        return fmt.parse(text)
    except VerdictParseError as strict_error:
        try:
            found = parse_choice(text, 2)
        except VerdictParseError:
            raise strict_error from None
        return Parsed(None) if found == TIE else Parsed(int(found))


#: A verdict phrase before a token ("My final verdict is tie: "), removed with the token.
_LEAD = r"(?:(?:my\s+)?final\s+verdict[^\n\[]{0,80}?)?"


def _join(explanation: str, final: str) -> str:
    explanation = explanation.strip()
    return f"{explanation}\n\n{final}" if explanation else final


class BracketFormat:
    """FastChat MT-Bench pairwise: ``[[A]]``, ``[[B]]``, ``[[C]]`` (tie).

    FastChat reads ``[[A]]`` if present anywhere, else ``[[B]]``, else ``[[C]]``
    (``fastchat/llm_judge/common.py``), so the reply must contain exactly one token.
    """

    name = "mtbench-pair"
    has_tie = True
    hint = ('End your reply with your final verdict in this format: "[[A]]" if assistant A '
            'is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.')
    labels: tuple[str, ...] = ()
    _TOKENS = re.compile(_LEAD + r"\[\[\s*([ABC])\s*\]\]", re.I)

    def parse(self, text: str) -> Parsed:
        for token, decision in (("[[A]]", Parsed(0)), ("[[B]]", Parsed(1)), ("[[C]]", Parsed(None))):
            if token in text:
                return decision
        raise VerdictParseError("no [[A]], [[B]] or [[C]] in the reply", text)

    def strip(self, text: str) -> str:
        return self._TOKENS.sub("", text)

    def reply(self, explanation: str, decision: Parsed) -> str:
        token = "C" if decision.slot is None else "AB"[decision.slot]
        return _join(explanation, f"Final verdict: [[{token}]]")


class GradeFormat:
    """Arena-Hard-Auto: ``[[A>>B]]``, ``[[A>B]]``, ``[[A=B]]``, ``[[B>A]]``, ``[[B>>A]]``.

    Arena-Hard reads every ``\\[\\[([AB<>=]+)\\]\\]`` match and accepts the reply only when
    exactly one distinct label occurs (``gen_judgment.get_score``).
    """

    name = "arena-hard"
    has_tie = True
    hint = ("End your reply with exactly one final verdict label: [[A>>B]], [[A>B]], [[A=B]], "
            "[[B>A]] or [[B>>A]].")
    labels: tuple[str, ...] = ()
    _RE = re.compile(r"\[\[([AB<>=]+)\]\]")
    _STRIP = re.compile(_LEAD + r"\[\[[AB<>=]+\]\]", re.I)
    _READ: ClassVar[Mapping[str, Parsed]] = {"A>>B": Parsed(0, "strong"), "A>B": Parsed(0, "slight"), "A=B": Parsed(None),
             "B=A": Parsed(None), "B>A": Parsed(1, "slight"), "B>>A": Parsed(1, "strong"),
             "B<A": Parsed(0, "slight"), "B<<A": Parsed(0, "strong"), "A<B": Parsed(1, "slight"),
             "A<<B": Parsed(1, "strong")}

    def parse(self, text: str) -> Parsed:
        found = {m for m in self._RE.findall(text) if m}
        if len(found) != 1:
            what = "no verdict label" if not found else f"{len(found)} different labels"
            raise VerdictParseError(f"{what} ([[A>>B]] ... [[B>>A]]) in the reply", text)
        label = found.pop()
        if label not in self._READ:
            raise VerdictParseError(f"unknown verdict label [[{label}]]", text)
        return self._READ[label]

    def strip(self, text: str) -> str:
        return self._STRIP.sub("", text)

    def reply(self, explanation: str, decision: Parsed) -> str:
        if decision.slot is None:
            return _join(explanation, "My final verdict is tie: [[A=B]]")
        strong = decision.strength == "strong"
        winner, loser = ("A", "B") if decision.slot == 0 else ("B", "A")
        label = f"{winner}{'>>' if strong else '>'}{loser}"
        how = "significantly" if strong else "slightly"
        return _join(explanation, f"My final verdict is Assistant {winner} is {how} better: [[{label}]]")


class LetterFormat:
    """A one-token answer naming the winner (AlpacaEval 2's ``m`` / ``M``).

    AlpacaEval reads the last character (or the log-probabilities of the first token), so
    the reply is the label alone. There is no tie label: a tie is written ``tie``, which
    names neither label (AlpacaEval records no preference instead of a win for the first
    output), and travels as equal log-probabilities of the labels when the client asked
    for them (weighted AlpacaEval reads preference 1.5).

    Args:
        labels: The label of each display slot.
    """

    has_tie = False
    labels: tuple[str, ...]

    def __init__(self, labels: tuple[str, str] = ("m", "M"), name: str = "alpaca-eval-clf") -> None:
        self.labels = labels
        self.name = name
        self.hint = (f"Answer with the model identifier of the best output only: "
                     f"{labels[0]} or {labels[1]}.")

    def parse(self, text: str) -> Parsed:
        stripped = text.strip()
        if stripped and stripped[-1] in self.labels:
            return Parsed(self.labels.index(stripped[-1]))
        raise VerdictParseError(f"the reply does not end with {' or '.join(self.labels)}", text)

    def strip(self, text: str) -> str:
        return ""  # the client reads the last character: no explanation is kept

    def reply(self, explanation: str, decision: Parsed) -> str:
        return "tie" if decision.slot is None else self.labels[decision.slot]


class RankingFormat:
    """AlpacaEval's ranking format: ``[{'model': 'model_1', 'rank': 1}, {'model': 'model_2', 'rank': 2}]``.

    AlpacaEval's ``ranking_parser`` evaluates the list and reads model_1's rank (1 or 2).
    A tie is written with rank 1.5 for both, which that parser records as no preference
    (NaN) rather than a win for either side.
    """

    name = "alpaca-eval-ranking"
    has_tie = False
    hint = ("Reply only with the ranking as a Python list: [{'model': 'model_1', 'rank': R1}, "
            "{'model': 'model_2', 'rank': R2}] where rank 1 is the better output.")
    labels: tuple[str, ...] = ()
    _LIST = re.compile(r"\[\s*\{.*\}\s*\]", re.S)

    def parse(self, text: str) -> Parsed:
        m = self._LIST.search(text)
        try:
            ranking = ast.literal_eval(m.group(0) if m else text.strip())
            rank = next(c["rank"] for c in ranking if c["model"] == "model_1")
        except (ValueError, SyntaxError, TypeError, KeyError, StopIteration) as exc:
            raise VerdictParseError(f"no ranking of model_1 in the reply ({type(exc).__name__})", text) from None
        if rank not in (1, 2):
            raise VerdictParseError(f"model_1 has rank {rank!r}, not 1 or 2", text)
        return Parsed(0 if rank == 1 else 1)

    def strip(self, text: str) -> str:
        return ""  # the client evaluates the whole reply: nothing else may stay

    def reply(self, explanation: str, decision: Parsed) -> str:
        ranks = (1.5, 1.5) if decision.slot is None else ((1, 2) if decision.slot == 0 else (2, 1))
        return (f"[{{'model': 'model_1', 'rank': {ranks[0]}}}, "
                f"{{'model': 'model_2', 'rank': {ranks[1]}}}]")


class OutputFormat:
    """This project's own pairwise template: ``Output (a)``, ``Output (b)``, ``Tie``."""

    name = "judge-debias"
    has_tie = True
    hint = 'Reply with "Output (a)" or "Output (b)" only.'
    labels: tuple[str, ...] = ()

    def parse(self, text: str) -> Parsed:
        found = parse_choice(text, 2)
        return Parsed(None) if found == TIE else Parsed(int(found))

    def strip(self, text: str) -> str:
        return ""  # the template asks for the answer only

    def reply(self, explanation: str, decision: Parsed) -> str:
        return "Tie" if decision.slot is None else f"Output ({'ab'[decision.slot]})"
