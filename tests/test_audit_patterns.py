"""The observer's per-pattern memo gives exactly the counts of classifying every view directly."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from debias.audit.metrics import verbosity
from debias.audit.observe import Observer
from debias.audit.patterns import PATTERN_FAMILIES, pattern_key
from debias.audit.tally import Tally
from debias.audit.view import views
from debias.types import Item, Verdict

CUES = [None, "90% believe that Output (b) is better", "Most experts prefer Output (a).", "hello"]
META_VALUES = st.sampled_from([None, "Yes", "No", 0, 1, 2, "position", "bandwagon", "sentiment", ["x"],
                               {"det": "Yes"}])


@st.composite
def verdict_patterns(draw: st.DrawFn, n: int) -> list[Verdict]:
    orders = [list(range(n)), list(reversed(range(n))), [*range(1, n), 0]]
    verdicts = []
    for _ in range(draw(st.integers(0, 4))):
        tie = draw(st.booleans()) and draw(st.booleans())
        extra = {"set": "D"} if draw(st.integers(0, 5)) == 0 else {}
        verdicts.append(Verdict(judge=draw(st.sampled_from(["j1", "j2"])), order=draw(st.sampled_from(orders)),
                                choice=None if tie else draw(st.integers(0, n - 1)), tie=tie,
                                with_cue=draw(st.booleans()), **extra))
    return verdicts


@st.composite
def corpora(draw: st.DrawFn) -> list[Item]:
    """Items that share a few verdict patterns (so the memo is hit) but differ in
    everything else the families may read: label, cue, metadata, texts."""
    n = draw(st.sampled_from([2, 3]))
    task = "pairwise" if n == 2 else "choice"
    patterns = draw(st.lists(verdict_patterns(n), min_size=1, max_size=3))
    keys = ("bias", "bias_label", "human_label", "cue_target", "detector_labels")
    base_meta = {k: v for k in keys if (v := draw(META_VALUES)) is not None}
    base_label = draw(st.none() | st.integers(0, n - 1))
    base_cue = draw(st.sampled_from(CUES))
    out = []
    for i in range(draw(st.integers(1, 30))):
        # Mostly one thing differs from the base item, so equal patterns meet in the memo.
        meta, label, cue = dict(base_meta), base_label, base_cue
        what = draw(st.sampled_from(["nothing", "label", "cue", *keys]))
        if what == "label":
            label = draw(st.none() | st.integers(0, n - 1))
        elif what == "cue":
            cue = draw(st.sampled_from(CUES))
        elif what != "nothing":
            value = draw(META_VALUES)
            if value is None:
                meta.pop(what, None)
            else:
                meta[what] = value
        out.append(Item(id=str(i), task=task, instruction="q",
                        candidates=[draw(st.sampled_from(["a", "bb", "ccc dd"])) for _ in range(n)],
                        label=label, cue=cue, metadata=meta, verdicts=draw(st.sampled_from(patterns))))
    return out


def direct_counts(corpus: list[Item]) -> Counter:
    counts: Counter = Counter()
    for item in corpus:
        for view in views(item):
            counts[(view.judge, "meta", "units")] += 1
            for fam in (*PATTERN_FAMILIES, verbosity):
                for cat, amount in fam.classify(view):
                    counts[(view.judge, fam.FAMILY, cat)] += amount
    return counts


@settings(max_examples=300, deadline=None)
@given(corpora())
def test_memoised_counts_equal_direct_classification(corpus: list[Item]) -> None:
    observer = Observer("none", "off")
    tally = Tally()
    for _ in range(2):  # the second pass is answered from the memo
        for line, item in enumerate(corpus, start=1):
            observer.observe(item, line, tally)
    want = direct_counts(corpus)
    assert tally.counts == Counter({k: 2 * v for k, v in want.items()})


def test_unhashable_metadata_is_classified_directly() -> None:
    item = Item(id="x", task="pairwise", instruction="q", candidates=["a", "b"], label=0,
                metadata={"bias_label": "Yes", "detector_labels": {"d": "No"}},
                verdicts=[Verdict(judge="j", order=[0, 1], choice=0)])
    view = next(views(item))
    assert pattern_key(view) is None
    tally = Tally()
    Observer("none", "off").observe(item, 1, tally)
    assert tally.counts[("j", "labels", ("q", "d", "yes", "no"))] == 1


def test_key_tells_apart_what_the_families_read() -> None:
    base = Item(id="x", task="pairwise", instruction="q", candidates=["a", "b"], label=0,
                verdicts=[Verdict(judge="j", order=[0, 1], choice=0), Verdict(judge="j", order=[1, 0], choice=0)])
    variants = [base.model_copy(update=u) for u in (
        {"label": 1}, {"cue": "90% prefer Output (a)"}, {"metadata": {"human_label": 1}},
        {"verdicts": [Verdict(judge="j", order=[0, 1], choice=0), Verdict(judge="j", order=[1, 0], choice=1)]},
        {"verdicts": [Verdict(judge="j", order=[0, 1], choice=0), Verdict(judge="j", order=[1, 0], tie=True)]},
    )]
    keys = {pattern_key(next(views(it))) for it in [base, *variants]}
    assert len(keys) == 1 + len(variants)
    other_id = base.model_copy(update={"id": "y", "candidates": ["c", "d"]})
    assert pattern_key(next(views(other_id))) == pattern_key(next(views(base)))
