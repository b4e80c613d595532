"""Candidate tone scores for the sentiment metrics.

Tone comes from the sentiment detector's scorer
(:class:`detectors.sentiment.ToneScorer`: VADER plus a framing lexicon, with words
shared by all candidates masked), so the audit and the detector agree on what sounds
negative. Scores are in [-1, 1].
"""

from __future__ import annotations

from typing import Any, Literal

from debias.types import Item

SentimentMode = Literal["auto", "all", "off"]


def tagged_sentiment(item: Item) -> bool:
    """Whether the item says it probes sentiment bias (``metadata["bias"]``)."""
    bias = item.metadata.get("bias")
    if isinstance(bias, str):
        return bias == "sentiment"
    return isinstance(bias, list) and "sentiment" in bias


class ToneScorer:
    """Scores candidate texts, creating the scorer on first use.

    Args:
        mode: ``auto`` scores items tagged ``metadata.bias = "sentiment"`` (scoring
            every item is slow), ``all`` scores every item, ``off`` none.
        source: A sentiment detector whose scorer (and its cache) to use instead of a
            scorer of our own; it must score with the default settings.
    """

    def __init__(self, mode: SentimentMode = "auto", source: Any = None) -> None:
        self.mode = mode
        self._scorer: Any = None
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
            if self._source is not None:
                self._scorer = self._source.scorer
            else:
                from detectors.sentiment import ToneScorer as DetectorTone

                self._scorer = DetectorTone()
        return [float(t) for t in self._scorer.tones(item.candidates)]
