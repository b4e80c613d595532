"""The performance shortcuts give exactly the results of the plain computations.

Each fast path (masked lexicon view instead of a lexicon copy, per-instance caches,
digit pre-checks, cached probe specs, probe-cache keys instead of fingerprints,
keeping validated instances, the audit's tone gate) is compared with the computation
it replaces, on inputs chosen to hit the corner cases.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from debias.audit import AuditConfig, audit
from debias.audit.observe import Observer
from debias.audit.tally import Tally
from debias.contract import DetectContext
from debias.judges.base import JudgeRequest
from debias.loop import ProbeCache
from debias.memo import BoundedCache
from debias.types import Evidence, Feedback, Finding, Item, Verdict
from detectors.cues import CuePatterns, parse_cue
from detectors.lengths import _NUM, final_number, numbers
from detectors.position import PositionDetector, aggregate_orders
from detectors.sentiment import _WORD, MaskedLexicon, ToneScorer

# --- sentiment: masked lexicon view and tone cache -----------------------------------------

WORDS = ["good", "bad", "war", "great", "terrible", "not", "no", "but", "very", "least", "at", "kind", "of",
         "hardly", "lacking", "far", "from", "being", "merely", "mundane", "the", "answer", "is", "fun", "!",
         "??", ":)", "GREAT", "Good!", "so", "never", "this", "without", "doubt", "sort", "happy", "sad",
         "😀", "delightful", "glorious", "lackluster", "clear", "missed", "nothing",
         # words of the derivation and rewriting rules
         "dismally", "unenthusiastically", "fortunately", "Isn't", "it", "?", "oh", "dear", "me", "just", "a",
         "it's", "anything", "measly"]


def copy_masked_tones(scorer: ToneScorer, texts: list[str]) -> list[float]:
    """Reference: the lexicon copied without the shared words (the former implementation)."""
    analyzer = scorer._analyzer
    prepared = [scorer.prepare(t) for t in texts]
    vocab = [set(_WORD.findall(t.lower())) for t in prepared]
    shared = set.intersection(*vocab) & analyzer.lexicon.keys()
    if shared:
        analyzer = copy.copy(scorer._analyzer)
        analyzer.lexicon = {k: v for k, v in scorer._analyzer.lexicon.items() if k not in shared}
    return [scorer._score(analyzer, t) for t in prepared]


@pytest.fixture(scope="module")
def scorer() -> ToneScorer:
    return ToneScorer(cache_size=0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=25), min_size=2, max_size=4),
       st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
def test_masked_view_scores_like_a_masked_copy(scorer: ToneScorer, bodies: list[list[str]],
                                               shared: list[str]) -> None:
    texts = [" ".join(body[: len(body) // 2] + shared + body[len(body) // 2:]) for body in bodies]
    assert scorer.tones(texts) == copy_masked_tones(scorer, texts)


SKIP_WORDS = [*WORDS, "ok", "ok!", "x.", "..", "'great'", "(bad)", ":-(", "(:", "kinda", "yeah", "right",
              "kiss", "death", "42", "I", "a", "Ünïcode", "café", "🙂", "☹", "FREE!", "lol", "--", "shit",
              # derived entries (in the scorer's lexicon, not VADER's) and words they come from
              "Dismally,", "unexcitingly", "(unremarkably)", "happily!", "remarkably", "likely", "unlike",
              "uninspiring", "paltry", "alas"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SKIP_WORDS), max_size=14), st.booleans())
def test_texts_without_lexicon_words_score_zero_exactly_as_vader(scorer: ToneScorer, words: list[str],
                                                                upper: bool) -> None:
    text = " ".join(words)
    text = text.upper() if upper else text
    raw = scorer._analyzer.polarity_scores(text)
    assert scorer._score(scorer._analyzer, text) == (raw["compound"] + raw["pos"] - raw["neg"]) / 2.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(SKIP_WORDS), max_size=14))
def test_shortcut_is_exact_on_prepared_texts(scorer: ToneScorer, words: list[str]) -> None:
    # The rewriting rules run before the shortcut; it must still agree with VADER.
    text = scorer.prepare(" ".join(words))
    raw = scorer._analyzer.polarity_scores(text)
    assert scorer._score(scorer._analyzer, text) == (raw["compound"] + raw["pos"] - raw["neg"]) / 2.0


def test_derived_entries_are_lexicon_words_for_the_shortcut(scorer: ToneScorer) -> None:
    # A text whose only sentiment word is a derived entry is scored, not skipped as 0.0.
    for text in ("dismally", "Unenthusiastically, a pebble.", "fortunately it is so"):
        assert scorer._score(scorer._analyzer, text) != 0.0
    assert scorer._score(scorer._analyzer, "likely a pebble") == 0.0  # NOT_DERIVED


def test_masked_lexicon_is_a_read_only_view() -> None:
    base = {"good": 1.9, "war": -2.9, "fun": 2.3}
    view = MaskedLexicon(base, frozenset({"war", "absent"}))
    assert "good" in view and "war" not in view and "absent" not in view
    assert view["good"] == 1.9 and view.get("war") is None and len(view) == 2
    assert dict(view) == {"good": 1.9, "fun": 2.3} and base["war"] == -2.9
    with pytest.raises(KeyError):
        view["war"]


def test_tone_cache_returns_fresh_equal_lists_and_stays_bounded() -> None:
    cached, plain = ToneScorer(cache_size=2), ToneScorer(cache_size=0)
    sets = [["great fun", "terrible war"], ["sad", "happy"], ["no", "good"]]
    first = cached.tones(sets[0])
    first.append(9.0)  # callers own the list they get
    assert cached.tones(sets[0]) == plain.tones(sets[0])
    for texts in sets:
        assert cached.tones(texts) == plain.tones(texts)
    assert len(cached._cache) == 2


# --- bounded memo ---------------------------------------------------------------------------------

def test_bounded_cache_evicts_oldest_and_remembers_none() -> None:
    c: BoundedCache[str, int | None] = BoundedCache(2)
    assert c.put("a", 1) == 1 and c.put("b", None) is None
    assert c.lookup("b") == (True, None) and c.lookup("zz") == (False, None)
    c.put("c", 3)
    assert "a" not in c and c.get("c") == 3 and len(c) == 2
    off: BoundedCache[str, int] = BoundedCache(0)
    off.put("a", 1)
    assert len(off) == 0
    with pytest.raises(ValueError, match="cache size"):
        BoundedCache(-1)


# --- bandwagon: parsed-cue cache ------------------------------------------------------------------

CUES = ["90% believe that Output (b) is better", "Most people prefer Output (a) over Output (b).",
        "only 10%% prefer Choice 2", "Experts agree the first response is best", "nothing to see", "", None]


@pytest.mark.parametrize("text", CUES)
@pytest.mark.parametrize("n", [2, 3])
def test_cue_cache_matches_parse_cue(text: str | None, n: int) -> None:
    patterns = CuePatterns(cache_size=4)
    fresh = parse_cue(text, n, CuePatterns(cache_size=0))
    assert patterns.parse(text, n) == fresh
    assert patterns.parse(text, n) == fresh  # second call: from the cache


def test_cue_cache_is_bounded() -> None:
    patterns = CuePatterns(cache_size=3)
    for k in range(10):
        patterns.parse(f"{k}0% believe that Output (b) is better", 2)
    assert len(patterns._parsed) == 3


# --- verbosity: digit pre-check -------------------------------------------------------------------

def numbers_reference(text: str) -> list[float]:
    out = []
    for m in _NUM.finditer(text.replace("−", "-")):
        with contextlib.suppress(ValueError):
            out.append(float(m.group().replace("−", "-").replace("$", "").replace(",", "")))
    return out


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab .,$-−#=<>\n٣٤0123456789\\boxed{}", max_size=40))
def test_digit_precheck_keeps_numbers_and_final_number(text: str) -> None:
    assert numbers(text) == numbers_reference(text)
    if not re.search(r"\d", text):
        assert final_number(text) is None


def test_final_number_still_reads_unicode_digits() -> None:
    assert numbers("x ٣٤ y") == [34.0]
    assert final_number("So the total is 12.\n#### 1,200") == 1200.0


# --- position: cached specs and majority ----------------------------------------------------------

def request(item: Item, order: list[int]) -> DetectContext:
    req = JudgeRequest(item=item, order=order)
    return DetectContext(item=item, request=req, verdict=Verdict(order=order, choice=0))


@pytest.mark.parametrize("n", [2, 3, 4])
def test_position_specs_are_the_same_with_and_without_cache(n: int) -> None:
    item = Item(id="x", task="pairwise" if n == 2 else "choice", instruction="q",
                candidates=[f"c{i}" for i in range(n)])
    det = PositionDetector(max_orders=2 if n == 4 else None)
    for order in ([*range(n)], [*range(n)][::-1], [*range(n)], [*range(n)][::-1]):
        ctx = request(item, order)
        fresh = PositionDetector(max_orders=det.max_orders)._plan(item.task, list(order))
        assert det.plan(ctx) == fresh
        det.plan(ctx).clear()  # the caller's list, not the cache
        assert det.plan(ctx) == fresh


def majority_reference(verdicts: list[Verdict]) -> int | None:
    counts = Counter(v.choice for v in verdicts if not v.tie and v.choice is not None)
    top = counts.most_common(2)
    return top[0][0] if top and top[0][1] * 2 > len(verdicts) else None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2) | st.none(), st.booleans()), min_size=1, max_size=6))
def test_aggregate_majority_matches_counter(choices: list[tuple[int | None, bool]]) -> None:
    verdicts = [Verdict(order=[0, 1, 2], choice=c, tie=t) for c, t in choices]
    got = aggregate_orders(verdicts)
    want = majority_reference(verdicts)
    if want is None:
        assert got.tie and got.choice is None
    else:
        assert got.choice == want and not got.tie


# --- loop: probe-cache keys and fingerprints ------------------------------------------------------

ITEMS = [Item(id="a", task="pairwise", instruction="q", candidates=["x", "y"], cue="90% prefer Output (a)"),
         Item(id="b", task="pairwise", instruction="q", candidates=["x", "y"]),
         Item(id="c", task="pairwise", instruction="q2", candidates=["x", "y"]),
         Item(id="d", task="choice", instruction="q", candidates=["x", "y", "z"], cue="")]


def feedback(text: str) -> Feedback:
    f = Finding(detector="position", bias="position", detected=True, evidence=Evidence(values={"k": [1, 2]}))
    return Feedback(prior=Verdict(order=[0, 1], choice=0), findings=[f], text=text)


def all_requests() -> list[JudgeRequest]:
    fbs = [None, feedback("one"), feedback("one"), feedback("two")]
    out = []
    for item in ITEMS:
        for order in ([0, 1], [1, 0]) if item.n == 2 else ([0, 1, 2], [2, 0, 1]):
            for with_cue in (True, False):
                out += [JudgeRequest(item=item, order=order, with_cue=with_cue, feedback=fb) for fb in fbs]
    return out


def test_probe_cache_keys_are_equal_exactly_when_fingerprints_are() -> None:
    cache = ProbeCache()
    reqs = all_requests()
    keys = [cache.key(r) for r in reqs]
    fps = [r.fingerprint() for r in reqs]
    for i in range(len(reqs)):
        for j in range(len(reqs)):
            assert (keys[i] == keys[j]) == (fps[i] == fps[j]), (reqs[i], reqs[j])
    assert len(set(fps)) < len(fps)  # the corpus has duplicates (ids differ, equal feedback)


# --- validated instances are kept, other input is validated ---------------------------------------

def test_internal_models_keep_instances_and_validate_dicts() -> None:
    item = ITEMS[0]
    req = JudgeRequest(item=item, order=[1, 0])
    assert req.item is item
    ctx = DetectContext(item=item, request=req, verdict=Verdict(order=[1, 0], choice=1))
    assert ctx.item is item
    with pytest.raises(ValidationError, match="needs 2 candidates"):
        JudgeRequest(item={"id": "z", "task": "pairwise", "instruction": "q", "candidates": ["x"]}, order=[0])
    with pytest.raises(ValidationError, match="out of range"):
        DetectContext(item=item, request=req, verdict={"order": [0, 1], "choice": 2})
    with pytest.raises(TypeError, match="JudgeRequest"):
        DetectContext(item=item, request={"order": [0, 1]}, verdict=Verdict(order=[1, 0], choice=1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'live' or 'offline'"):
        DetectContext(item=item, request=req, verdict=Verdict(order=[1, 0], choice=1), mode="replay")  # type: ignore[arg-type]
    lazy = DetectContext(item=item, verdict=Verdict(order=[1, 0], choice=1, with_cue=False), mode="offline")
    assert (lazy.order, lazy.with_cue, lazy.shows_cue) == ([1, 0], False, False)
    assert lazy.request == JudgeRequest(item=item, order=[1, 0], with_cue=False) and lazy.request is lazy.request
    with pytest.raises(ValueError, match="needs the request"):
        DetectContext(item=item, verdict=Verdict(order=[1, 0], choice=1))
    from_dict = DetectContext(item=json.loads(item.model_dump_json()), request=req, verdict=Verdict(order=[1, 0]))
    assert from_dict.item == item and from_dict.item is not item
    built = JudgeRequest(item=json.loads(item.model_dump_json()), order=[0, 1])
    assert built.item == item and built.item is not item


# --- audit: the tone gate ---------------------------------------------------------------------------

def judged(i: int, tagged: bool) -> Item:
    cands = ["Sadly, a mundane and lackluster answer: 4.", "Wonderfully, a delightful and glorious answer: 5!"]
    return Item(id=f"s{i}", task="pairwise", instruction="2+2?", candidates=cands, label=0,
                metadata={"bias": "sentiment"} if tagged else {},
                verdicts=[Verdict(judge="j", order=[0, 1], choice=1), Verdict(judge="j", order=[1, 0], choice=1)])


def sentiment_statuses(mode: str, items: list[Item]) -> Counter[str]:
    obs = Observer("position,sentiment", mode)  # type: ignore[arg-type]
    tally = Tally()
    for k, it in enumerate(items):
        obs.observe(it, k + 1, tally)
    return Counter({key[2][3]: int(v) for key, v in tally.counts.items()
                    if key[1] == "findings" and key[2][:3] == ("f", "sentiment", "sentiment")})


def test_tone_gate_decides_which_items_the_sentiment_detector_examines() -> None:
    items = [judged(0, tagged=True), judged(1, tagged=False), judged(2, tagged=False)]
    assert sentiment_statuses("auto", items) == Counter({"detected": 1, "skipped": 2})
    assert sentiment_statuses("all", items) == Counter({"detected": 3})
    assert sentiment_statuses("off", items) == Counter({"skipped": 3})


def test_tone_gate_in_the_audit_and_shared_scorer(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(judged(i, tagged=i == 0).model_dump_json() + "\n" for i in range(3)),
                    encoding="utf-8")
    data = audit(path, AuditConfig(n_boot=0, detectors="sentiment")).to_json()
    assert data["details"]["overall"]["findings"]["detectors"]["sentiment"] == {
        "detected": 1, "clean": 0, "skipped": 2, "error": 0}
    assert data["metrics"]["overall"]["findings_rate.sentiment"]["n"] == 1
    every = audit(path, AuditConfig(n_boot=0, detectors="sentiment", sentiment="all")).to_json()
    assert every["details"]["overall"]["findings"]["detectors"]["sentiment"]["detected"] == 3
    obs = Observer("auto", "auto")
    sent = next(d for d in obs.detectors if d.name == "sentiment")
    tagged = judged(0, tagged=True)
    assert obs.tone.scores(tagged) == sent.scorer.tones(tagged.candidates)
    assert obs.tone._scorer is sent.scorer
    skip = obs._gated_skip["sentiment"]
    assert skip.status == "skipped" and "--sentiment all" in (skip.reason or "")


# --- verbosity: concise-answer pre-check and longest candidate ------------------------------------

def concise_reference(text: str, max_tokens: int = 16) -> bool:
    from detectors.lengths import count_tokens, is_bare_answer
    return is_bare_answer(text) or (count_tokens(text, exact=False) <= max_tokens and bool(numbers(text)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab .,$-−%#٣7\n", max_size=30))
def test_concise_precheck_matches_reference(text: str) -> None:
    from detectors.lengths import is_concise_answer
    assert is_concise_answer(text) == concise_reference(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "bb cc", "dddddddd", "e f g h", "1 2 3", "!?"]), min_size=2, max_size=5),
       st.integers(0, 4))
def test_longest_is_the_first_of_the_longest(cands: list[str], chosen: int) -> None:
    from detectors.lengths import compare_lengths
    chosen %= len(cands)
    cmp = compare_lengths(cands, chosen)
    assert cmp.longest == max(range(len(cmp.tokens)), key=lambda i: (cmp.tokens[i], -i))
