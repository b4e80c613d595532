"""Memoising the metric families that only look at a view's verdict pattern.

Most metric families classify a :class:`~debias.audit.view.JudgeView` from its verdict
pattern alone: which orders were shown, what was chosen, ties, cue settings, the item's
task, size, gold label, cue statement and a few metadata keys. An audit of a million
pairs holds a few dozen such patterns, so the observer classifies each pattern once and
replays the observations (:func:`pattern_key` is the memo key). Families that read the
candidate texts (``verbosity``: lengths) are not in :data:`PATTERN_FAMILIES` and always
run. A family joins :data:`PATTERN_FAMILIES` only if its ``classify`` reads nothing but
the fields in the key and the metadata keys it declares in ``METADATA_KEYS``; the audit
tests compare memoised and direct classification on generated views.
"""

from __future__ import annotations

from debias.audit.metrics import accuracy, agreement, cues, labels, position, rbd
from debias.audit.view import JudgeView
from debias.types import Verdict

#: Families whose observations are a function of :func:`pattern_key`.
PATTERN_FAMILIES = (accuracy, position, cues, rbd, agreement, labels)
#: Every metadata key those families read.
METADATA_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for fam in PATTERN_FAMILIES for k in fam.METADATA_KEYS))

PatternKey = tuple[object, ...]


def _verdict_key(v: Verdict) -> tuple[object, ...]:
    return (tuple(v.order), v.choice, v.tie, v.with_cue, v.score)


def pattern_key(view: JudgeView) -> PatternKey | None:
    """Everything the pattern families read of ``view``, or None when it is not hashable.

    Metadata values that are lists or dicts (e.g. ``detector_labels``) make the key
    unhashable; such views are classified directly.
    """
    item = view.item
    meta = item.metadata
    key = (item.task, len(item.candidates), item.label, item.cue,
           tuple(meta.get(k) for k in METADATA_KEYS) if meta else None,
           tuple(_verdict_key(v) for v in view.verdicts),
           tuple(_verdict_key(v) for v in view.unbiased) if view.unbiased else None)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def classify_pattern(view: JudgeView) -> tuple[tuple[str, object, float], ...]:
    """``(family, category, amount)`` observations of every pattern family for ``view``."""
    return tuple((fam.FAMILY, cat, amount) for fam in PATTERN_FAMILIES for cat, amount in fam.classify(view))
