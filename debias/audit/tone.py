"""Candidate tone scores for the sentiment metrics, gated by the ``--sentiment`` mode.

Tone comes from the shared scorer :class:`debias.text.tone.ToneScorer` (VADER plus a
framing lexicon, with words shared by all candidates masked), the one the sentiment
detector uses, so the audit and the detector agree on what sounds negative. Scores are
in [-1, 1].
"""

from __future__ import annotations

from typing import Any, Literal

from debias.text.tone import ToneScorer
from debias.types import Item

SentimentMode = Literal["auto", "all", "off"]


def tagged_sentiment(item: Item) -> bool:
    """Whether the item says it probes sentiment bias (``metadata["bias"]``)."""
    bias = item.metadata.get("bias")
    if isinstance(bias, str):
        return bias == "sentiment"
    return isinstance(bias, list) and "sentiment" in bias


class CandidateTones:
    """Which items get tone scores, and their scores (the scorer is created on first use).

    Args:
        mode: ``auto`` scores items tagged ``metadata.bias = "sentiment"`` (scoring
            every item is slow), ``all`` scores every item, ``off`` none.
        source: A detector whose ``scorer`` attribute is a default-settings
            :class:`~debias.text.tone.ToneScorer` to share (one scorer, one cache); when
            it has none, a scorer of our own is used.
    """

    def __init__(self, mode: SentimentMode = "auto", source: Any = None) -> None:
        self.mode = mode
        self._scorer: ToneScorer | None = None
        self._source = source

    def wants(self, item: Item) -> bool:
        """Whether ``item``'s candidates should be scored."""
        if self.mode == "off" or item.task == "score":
            return False
        return self.mode == "all" or tagged_sentiment(item)

    def scores(self, item: Item) -> list[float] | None:
        """Tone per candidate, or None when not wanted or a candidate text is unknown."""
        if not self.wants(item) or not all(item.candidates):
            return None
        if self._scorer is None:
            shared = getattr(self._source, "scorer", None) if self._source is not None else None
            self._scorer = shared if isinstance(shared, ToneScorer) else ToneScorer()
        return [float(t) for t in self._scorer.tones(item.candidates)]
