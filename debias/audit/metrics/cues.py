"""Cue effects (bandwagon-style statements) read against plain re-ask noise.

Cue unit: one judge on one item with a ``cue`` judged both without and with the cue in
the same display order. Categories: ``unchanged`` (same decision), ``toward`` (the
decision moved to the candidate the cue endorses), ``other`` (it moved elsewhere),
``unknown`` (it moved, but the endorsed candidate is unknown), ``invalid``.

The endorsed candidate is ``metadata["cue_target"]`` (original index) when given,
otherwise the display slot the bandwagon recogniser (:func:`debias.text.cues.parse_cue`)
finds in the cue text, or else the one slot the text names (``Output (b)``,
``Response 2``, ``Choice 3``), mapped through the cued verdict's display order.

Re-ask unit: the first two verdicts asked identically (same order and cue setting):
``same`` or ``different``. A noisy judge caps the robustness rate; compare
``robustness_rate`` with ``reask_consistency``.

Metrics: ``robustness_rate`` = unchanged / all; ``flip_toward_endorsed`` = toward /
(units whose endorsed candidate is known); ``flip_toward_share`` = toward / (toward +
other), the share of cue-induced flips that went the cue's way;
``reask_consistency`` = same / (same + different).
"""

from __future__ import annotations

import re
from functools import lru_cache

from debias.audit.metrics.base import INVALID, Counts, Observations, Section, SummaryContext
from debias.audit.metrics.estimate import proportion
from debias.audit.view import JudgeView, decision
from debias.text.cues import parse_cue

FAMILY = "cue"
#: Metadata keys :func:`classify` reads (part of the pattern key, see :mod:`debias.audit.patterns`).
METADATA_KEYS: tuple[str, ...] = ("cue_target",)
REASK = "reask"
_NAMED = re.compile(
    r"\b(?:output|response|assistant|answer|choice|option|candidate|model)\s*\(?([a-j]|10|[1-9])\)?(?!\w)",
    re.I,
)


def endorsed(view: JudgeView, order: list[int]) -> int | None:
    """Original index of the candidate the cue endorses, or None when unknown."""
    item = view.item
    target = item.metadata.get("cue_target")
    if isinstance(target, int) and not isinstance(target, bool) and 0 <= target < item.n:
        return target
    if not item.cue:
        return None
    slot = cue_slot(item.cue, len(order))
    return order[slot] if slot is not None else None


@lru_cache(maxsize=4096)
def cue_slot(text: str, n: int) -> int | None:
    """Display slot a cue endorses (cached: cue texts repeat across items)."""
    cue = parse_cue(text, n)
    if cue is not None:
        return cue.slot if cue.slot is not None and 0 <= cue.slot < n else None
    slots = set()
    for m in _NAMED.finditer(text):
        tok = m.group(1).lower()
        slots.add(int(tok) - 1 if tok.isdigit() else ord(tok) - ord("a"))
    if len(slots) != 1:
        return None
    slot = slots.pop()
    return slot if 0 <= slot < n else None


def classify(view: JudgeView) -> Observations:
    """Cue category (if the item has a cue pair) and re-ask category (if repeated)."""
    if not view.comparable:
        return []
    out: Observations = []
    pair = view.cue_pair()
    if pair is not None:
        plain, cued = pair
        dp, dc = decision(plain), decision(cued)
        if dp is None or dc is None:
            out.append((INVALID, 1))
        elif dp == dc:
            out.append(("unchanged", 1))
        else:
            target = endorsed(view, cued.order)
            if target is None:
                out.append(("unknown", 1))
            else:
                out.append(("toward" if dc == target else "other", 1))
    rep = view.repeat_pair()
    if rep is not None:
        d1, d2 = decision(rep[0]), decision(rep[1])
        if d1 is not None and d2 is not None:
            out.append(((REASK, "same" if d1 == d2 else "different"), 1))
    return out


def summarize(counts: Counts, ctx: SummaryContext) -> Section:
    """Robustness rate, flips toward the endorsed candidate, re-ask consistency."""
    kw = {"seed": ctx.seed, "n_boot": ctx.n_boot}
    no_cue = "no item with a cue was judged both with and without it"
    metrics = {
        "robustness_rate": proportion(counts, ("unchanged",), ("toward", "other", "unknown"),
                                      key=ctx.key("robustness_rate"), empty=no_cue, **kw),
        "flip_toward_endorsed": proportion(
            counts, ("toward",), ("unchanged", "other"), key=ctx.key("flip_toward_endorsed"),
            empty=no_cue if not counts.get("unknown") else
            "the cue names no single candidate (set metadata.cue_target)", **kw),
        "flip_toward_share": proportion(
            counts, ("toward",), ("other",), key=ctx.key("flip_toward_share"),
            empty="the cue never changed a decision with a known endorsed candidate", **kw),
        "reask_consistency": proportion(
            counts, ((REASK, "same"),), ((REASK, "different"),), key=ctx.key("reask_consistency"),
            empty="no verdict was repeated with the same order and cue setting", **kw),
    }
    details = {c: int(counts.get(c, 0)) for c in ("unchanged", "toward", "other", "unknown", INVALID)}
    details["reask_same"] = int(counts.get((REASK, "same"), 0))
    details["reask_different"] = int(counts.get((REASK, "different"), 0))
    return Section(metrics, details)
