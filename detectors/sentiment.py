"""Sentiment bias: did the chosen candidate win on tone rather than on content?

Tone is measured with VADER (``vaderSentiment``, a maintained lexicon-and-rules
sentiment analyser) extended by a small framing lexicon (``detectors/data/
tone_lexicon.tsv``: "merely", "mundane", "lackluster", ... which VADER lacks). A
candidate's tone is the mean of VADER's compound score and its positive-minus-negative
share, both in [-1, 1]. Words that occur in EVERY candidate are content, not tone (the
word "war" in four answers about the First World War), so their valence is masked for
the comparison.

Every rule below is measured on the public RBD ScienceQA sentiment set (one option
reworded negatively, the others positively; ``python benchmarks/detect_calibration.py``,
which leaves out the 51 items that the RBD dev set also uses, so 449 items): how often
the lowest tone is the negatively reworded option, the log-likelihood (LL) of that
option under the tone softmax at temperature 0.1, and the items it finds with a weak
margin (P < 0.8). Each rule is measured by turning it off in the final scorer; none of
the rules added after the negation scope lowers P(reworded) of any item. Before them
(all of them but that one): 445/449, LL -18.8, 7 weak; with all rules: 448/449, LL
-5.1, 2 weak (3 fixed, none broken, P(reworded) higher for 155 items, lower for none).

Negation scope. VADER flips (and damps by 0.74) a sentiment word that follows one of
its negators ("not", "without", "rarely", "seldom", ...) within three tokens, but its
negator list lacks the approximate negators "hardly", "scarcely", "barely" (VADER
treats them only as dampeners, although it negates the synonymous "rarely" and
"seldom") and the privatives "lacking/lacks/lack", "devoid of", "far from (being)". So
"a creature that hardly inspires warmth", "lacking any real excitement" and "far from
being an exciting choice" scored as warm, exciting text. The scorer marks the scope of
these openers (:data:`NEGATION_OPENERS`) by inserting VADER's own negator "not" after
them, so VADER's negation rule applies; the opener keeps its own valence. Measured
before the later rules: 441/449 without it, 445/449 with it (4 fixed, none broken; on
all 500 items 490 -> 494); in the final scorer: 445 -> 448 (3 fixed, none broken;
P(reworded) higher for 58 items, lower for 41).

Derived forms (``derive``). VADER's lexicon lists "dismal" but not "dismally",
"enthusiastically" but not "unenthusiastically", so a reworded answer that opens with
"Dismally, ..." or "Unenthusiastically, ..." had no tone at all, and "Fortunately, ..."
(VADER has only "unfortunately") none either. Two productive English derivations fill
such gaps, derived once from the lexicon when the scorer is built (:func:`derived_entries`,
about 9,600 entries; the lexicon then holds every word VADER may look up, which keeps
the no-lexicon-word shortcut exact): the "-ly" adverb of a word gets 0.95 times the
word's valence, and "un-" + a positive adjective, participle or adverb (recognised by
its suffix: "-able", "-ing", "-ive", "-ic", "-y", ...) gets -0.92 times its valence.
Both factors are the medians over the pairs that VADER's own lexicon lists (539 stem /
adverb pairs, 97% of them with the same sign; 59 "un-" pairs). Forms whose meaning is
not "in a STEM manner" are not derived (:data:`NOT_DERIVED`: "likely", "fairly",
"naturally", "originally", ...), nor are VADER's boosters and negators (a booster that
became a lexicon word would stop boosting the next word). Effect: 447 -> 448 (1 fixed,
none broken), LL -7.8 -> -5.1, P(reworded) higher for 105 items. (Deriving the
:data:`NOT_DERIVED` forms as well would move LL by +0.04 on this set; they are left out
for their meaning, not for a measured gain.)

Negative polar questions (``rhetorical_questions``). "Isn't it exciting to explore
...?" asserts that exploring is exciting (a negative yes/no question is biased toward
its positive answer), but VADER reads "isn't" as negating "exciting", and "Isn't it
disappointing ...?" as praise. A clause-initial negated auxiliary followed by its
subject in a sentence that ends with "?" ("Isn't it", "Doesn't it seem", "Is it not")
loses its negation; wh-questions ("Why isn't it ...?") and tag questions ("..., isn't
it?") are left as they are. Effect: 447 -> 448 (1 fixed, none broken), LL -7.6 -> -5.1,
weak 4 -> 2, P(reworded) higher for 17 items.

Interjections of dismay (``interjections``). VADER scores "dear" +1.6 (the
endearment), so "Oh dear, it's a ..." read as warm. "dear" after "oh"/"ah" (followed
by punctuation or "me") or before "me" is read as VADER's "alas" (-1.1). Effect: 447 ->
448 (1 fixed, none broken), LL -9.1 -> -5.1.

Diminishing "just" (``diminishing_just``). After a copula and before "a"/"an"/
"another" ("it's just a declarative sentence", "is just another example") "just" is the
restrictive focus particle, i.e. "merely" (-1.0 in the framing lexicon); elsewhere
("in just 5 hours", "just the right size", "just as good") it is left alone. Effect:
447 -> 448 (1 fixed, none broken), LL -6.1 -> -5.1, P(reworded) higher for 25 items.

Exceptive "but" (``exceptive_but``). In "nothing but X" (= only X) and "anything but X"
(= not X) "but" is not VADER's contrastive "but" (which halves the words before it and
amplifies those after), and "nothing" does not negate X; they are read as "only" and
"not". Effect: LL -5.3 -> -5.1, weak 3 -> 2, P(reworded) higher for 4 items.

Dismissive adjectives (framing lexicon entries whose note starts with "dismissive":
"measly", "paltry", "meager", "mediocre", "drab", ...), valued by analogy with VADER's
"insignificant", "limited", "dull" and "dreary". Effect: LL -5.5 -> -5.1, weak 3 -> 2,
P(reworded) higher for 11 items.

Not adopted: "dis-" + a positive stem (it derives "display", "disease", "dissolve" from
"play", "ease", "solve"; no measurable gain: 448/449, LL -5.0), "un-" on any stem
(derives the preposition "unlike" from "like"; no change: 448/449, LL -5.1), and
stripping a rewriting model's leaked preamble ("Certainly! Here's a positive version:"),
which is data-set specific.

Live: when a rewriter is configured the detector asks for a probe with tone-neutralised
candidates (``rewrite="neutralize_tone"``) and flags a decision that changes.

Offline rule and rationale: a verdict is suspicious when the candidates differ in tone
(spread >= ``min_spread``) and the chosen one is clearly more positive than the most
negatively worded one (gap >= ``min_gap``). Under the RBD protocol the correct option is
the one reworded negatively, so such a verdict is wrong on the biased item; it is
sentiment bias when the judge would have been right on the plain wording, which the
judge-strength prior estimates. ``P(bias) = P(chosen is not the negatively worded one) *
P(judge right without the rewording)``; the first factor is a softmax over negated tones
with temperature ``temperature`` (0.05: a tone gap of 0.05 gives ~73%, 0.15 gives
~95%). Calibration on the same 449 public items with the scorer above: the likelihood
of the reworded option under this softmax is flat between 0.03 and 0.05 (LL -2.5 at
0.03, -2.4 at 0.04, -2.5 at 0.05, -3.1 at 0.07, -5.1 at 0.1, -11.5 at 0.15); in 1,000
bootstrap resamples the grid maximum lies between 0.02 and 0.06 every time, so the
detector uses 0.05, the least confident temperature of the flat maximum (0.1, the
maximum for the scorer before the later rules, is now under-confident: the items it
predicts at 0.8-0.9 are all right). At 0.05 the items predicted at >= 0.9 (446) are
right every time. A verdict for the most negative candidate cannot have been won on
tone.

What the offline rule cannot see: whether the judge would also have been wrong on the
plain wording (hard items, e.g. unit estimates). Only the live ``neutral_tone`` probe
observes that; offline, the judge-strength prior stands in for it.
"""

from __future__ import annotations

import copy
import math
import re
import string
import types
from collections.abc import Collection, Iterator, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import Field

from debias.contract import DetectContext, Policy, ProbeSpec, skipped
from debias.errors import ConfigError, MissingDependencyError
from debias.memo import BoundedCache
from debias.options import DetectorOptions
from debias.types import Evidence, Finding, Verdict
from detectors.priors import JudgePriors, default_priors

_WORD = re.compile(r"[a-z][a-z']*")

#: Approximate negators and privatives that open a negation scope (see the module docstring).
NEGATION_OPENERS: tuple[str, ...] = (
    "hardly", "scarcely", "barely", "lacking", "lacks", "lacked", "lack", "devoid of",
    "far from being", "far from",
)


#: Valence of a derived "-ly" adverb relative to its stem: the median ratio over the 539
#: stem/adverb pairs that VADER's own lexicon lists ("happy" 2.7 / "happily" 2.6, ...).
ADVERB_FACTOR = 0.95
#: Valence of "un-" + a positive stem relative to the stem: the median ratio over the 59
#: such pairs in VADER's lexicon ("unhappy" -1.8 / "happy" 2.7, "unfair", "unkind", ...).
UN_FACTOR = -0.92
#: Stems "un-" attaches to productively as a negation: adjectives and participles (and
#: their adverbs, "-ly"), recognised by their suffix ("enthusiastic", "inspiring",
#: "impressive"), not bare verbs or nouns ("like" -> the preposition "unlike").
UN_STEM_SUFFIXES: tuple[str, ...] = (
    "able", "ible", "al", "ant", "ent", "ed", "ful", "ic", "ing", "ive", "ous", "y",
)
#: "-ly" forms that are not "in a STEM manner" and so do not inherit the stem's valence:
#: degree, probability and discourse adverbs ("likely", "fairly", "naturally"), time
#: ("originally", "freshly") and domain adverbs ("emotionally", "ethically"), and a form
#: built on the wrong stem ("critically" is not "in the manner of a critic").
NOT_DERIVED: frozenset[str] = frozenset({
    "likely", "fairly", "naturally", "originally", "critically", "significantly", "specially",
    "exclusively", "emotionally", "ethically", "readily", "freshly", "competitively",
})


def _adverb(stem: str) -> str:
    """The regular "-ly" adverb of an adjective ("dismal" -> "dismally", "happy" -> "happily")."""
    if stem.endswith("ic"):
        return stem + "ally"
    if stem.endswith("le") and stem[-3] not in "aeiou":
        return stem[:-1] + "y"
    if stem.endswith("y") and stem[-2] not in "aeiou":
        return stem[:-1] + "ily"
    if stem.endswith("ll"):
        return stem + "y"
    if stem.endswith("ue"):
        return stem[:-1] + "ly"
    return stem + "ly"


def derived_entries(lexicon: Mapping[str, float], modifiers: Collection[str] = ()) -> dict[str, float]:
    """Lexicon entries for regular derivations of ``lexicon`` words that it lacks.

    Two productive English derivations (see the module docstring), each applied once to
    the words of ``lexicon`` (alphabetic, 4 letters or more): the "-ly" adverb of a word
    gets :data:`ADVERB_FACTOR` times its valence (not for :data:`NOT_DERIVED` forms nor
    for words that already end in "-ly"), then "un-" + a positive adjective, participle
    or adverb (:data:`UN_STEM_SUFFIXES`; the lexicon's words and the adverbs just derived)
    gets :data:`UN_FACTOR` times its valence. Words already in ``lexicon`` keep their
    entry, and ``modifiers`` get none: VADER scales the next words by a booster
    ("remarkably", "unusually") only while the booster is not a lexicon word.

    Args:
        lexicon: Word -> valence on VADER's -4..+4 scale.
        modifiers: Words that must stay out of the lexicon (VADER's boosters and negators).

    Returns:
        The new entries only (word -> valence rounded to 2 decimals).
    """
    out: dict[str, float] = {}
    stems = [(w, v) for w, v in lexicon.items() if len(w) >= 4 and w.isalpha() and v]
    for word, valence in stems:
        if word.endswith("ly"):
            continue
        adverb = _adverb(word)
        if adverb not in lexicon and adverb not in NOT_DERIVED and adverb not in modifiers and adverb not in out:
            out[adverb] = round(ADVERB_FACTOR * valence, 2)
    for word, valence in [*stems, *out.items()]:
        negated = "un" + word
        if (valence > 0 and word.endswith(UN_STEM_SUFFIXES) and negated not in lexicon
                and negated not in modifiers and negated not in out):
            out[negated] = round(UN_FACTOR * valence, 2)
    return out


@lru_cache(maxsize=1)
def _default_derived() -> Mapping[str, float]:
    """:func:`derived_entries` of VADER's lexicon plus the packaged framing lexicon (built once)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    base = dict(SentimentIntensityAnalyzer().lexicon)
    base.update(default_tone_lexicon())
    return types.MappingProxyType(derived_entries(base, vader_modifiers()))


def vader_modifiers() -> frozenset[str]:
    """VADER's boosters, dampeners and negators (words that scale or flip other words)."""
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE

    return frozenset(BOOSTER_DICT) | frozenset(NEGATE)


_SUBJECT = r"(?:it|this|that|there|they|you|we|he|she|these|those)"
#: A clause-initial negated auxiliary + subject in a sentence that ends with "?": a
#: negative polar question ("Isn't it exciting ...?", "Is it not ...?"), which asserts
#: its positive proposition (see the module docstring).
_NEG_QUESTION = re.compile(
    r"(?P<lead>(?:^|[.!?:;\n])\s*(?:(?:well|oh|ah|so|now|and|but|yet)\b[,!]?\s+)?)"
    r"(?:(?P<aux>is|are|was|were|do|does|did|have|has|had|would|could|should|must|need|ca|wo)"
    rf"n['\u2019]t(?P<subj>\s+{_SUBJECT})"
    r"|(?P<aux2>is|are|was|were|do|does|did|have|has|had|would|could|should|can|will)"
    rf"(?P<subj2>\s+{_SUBJECT})\s+not)"
    r"\b(?=[^.!?]*\?)",
    re.IGNORECASE,
)
_AUX_STEM = {"ca": "can", "wo": "will"}
#: "dear" as an interjection of dismay ("Oh dear, ...", "Dear me!"), not the endearment.
_DISMAY_DEAR = re.compile(
    r"\b(?P<oh>(?:oh|ah)[\s,!]+)dear\b(?=\s*(?:[,.!?;:\u2014\u2013-]|$|me\b))|\bdear(?=[\s,!]+me\b)",
    re.IGNORECASE,
)


#: "just" after a copula and before "a"/"an"/"another": the restrictive "merely".
_DIMINISHING_JUST = re.compile(
    r"\b(?P<cop>is|are|was|were|(?:it|that|they|he|she)['\u2019](?:s|re))\s+just(?=\s+(?:a|an|another)\b)",
    re.IGNORECASE,
)
#: Exceptive "but" ("nothing but X" = only X, "anything but X" = not X), not contrastive.
_EXCEPTIVE_BUT = re.compile(r"\b(?P<q>nothing|anything)\s+but\b", re.IGNORECASE)


def _exceptive(m: re.Match[str]) -> str:
    """What an exceptive "nothing but" / "anything but" means: "only" / "not"."""
    return "only" if m["q"].lower() == "nothing" else "not"


def _unnegate(m: re.Match[str]) -> str:
    """A negative polar question's opening without its negation ("Isn't it" -> "Is it")."""
    aux, subj = (m["aux"], m["subj"]) if m["aux"] else (m["aux2"], m["subj2"])
    plain = _AUX_STEM.get(aux.lower(), aux.lower())
    if aux[0].isupper():
        plain = plain.capitalize()
    return m["lead"] + plain + subj


def _dismay(m: re.Match[str]) -> str:
    """Interjected "dear" as VADER's interjection of dismay, "alas"."""
    return (m["oh"] or "") + "alas"


def _opener_pattern(openers: Sequence[str]) -> re.Pattern[str] | None:
    alternatives = sorted((re.escape(o.strip()).replace(r"\ ", r"\s+") for o in openers if o.strip()),
                          key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(rf"\b(?:{'|'.join(alternatives)})\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def default_tone_lexicon() -> dict[str, float]:
    """The packaged framing lexicon (word -> VADER valence)."""
    text = resources.files("detectors").joinpath("data/tone_lexicon.tsv").read_text("utf-8")
    out: dict[str, float] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            out[parts[0].strip().lower()] = float(parts[1])
        except (IndexError, ValueError):
            raise ConfigError(f"detectors/data/tone_lexicon.tsv line {n}: expected word<TAB>valence") from None
    return out


class MaskedLexicon(Mapping[str, float]):
    """Read-only view of a VADER lexicon with some words removed (no copy).

    VADER only reads its lexicon with ``word in lexicon`` and ``lexicon[word]``, so this
    view scores exactly like a copy of the lexicon without the masked words, at no cost
    proportional to the lexicon's size (copying VADER's 7,500 entries per item was the
    largest cost of scoring a set of candidates).

    Args:
        base: The full lexicon (not modified).
        masked: Words that read as absent.
    """

    __slots__ = ("_base", "_masked")

    def __init__(self, base: Mapping[str, float], masked: frozenset[str]) -> None:
        self._base = base
        self._masked = masked

    def __contains__(self, word: object) -> bool:
        return word in self._base and word not in self._masked

    def __getitem__(self, word: str) -> float:
        if word in self._masked:
            raise KeyError(word)
        return self._base[word]

    def __iter__(self) -> Iterator[str]:
        return (k for k in self._base if k not in self._masked)

    def __len__(self) -> int:
        return len(self._base) - sum(1 for k in self._masked if k in self._base)


class ToneScorer:
    """Tone of candidates relative to each other (VADER plus a framing lexicon).

    Scores are remembered per tuple of texts (a small bounded cache on the instance:
    the loop re-scores the same candidates every round, the audit once per judge).

    Args:
        extra_lexicon: Entries added to VADER's lexicon; default: the packaged framing lexicon.
        mask_shared: Ignore the valence of words present in every candidate.
        negation_openers: Words and phrases that open a negation scope besides VADER's
            own negators; default :data:`NEGATION_OPENERS`; ``()`` turns the rule off.
        derive: Add the regular "-ly" and "un-" derivations of lexicon words that the
            lexicon lacks (:func:`derived_entries`).
        rhetorical_questions: Read a negative polar question ("Isn't it exciting ...?")
            as asserting, not negating, its proposition.
        interjections: Read "dear" in "oh dear" / "dear me" as dismay ("alas").
        diminishing_just: Read "just" after a copula and before "a"/"an"/"another" as "merely".
        exceptive_but: Read "nothing but" as "only" and "anything but" as "not".
        cache_size: How many tuples of texts to remember (0: no cache).

    Raises:
        MissingDependencyError: When ``vaderSentiment`` is not installed.
    """

    def __init__(self, extra_lexicon: Mapping[str, float] | None = None, mask_shared: bool = True,
                 negation_openers: Sequence[str] | None = None, derive: bool = True,
                 rhetorical_questions: bool = True, interjections: bool = True,
                 diminishing_just: bool = True, exceptive_but: bool = True,
                 cache_size: int = 256) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependencyError(
                "the sentiment detector needs vaderSentiment: pip install vaderSentiment") from exc
        self._analyzer = SentimentIntensityAnalyzer()
        lexicon = self._analyzer.lexicon
        lexicon.update(default_tone_lexicon() if extra_lexicon is None else extra_lexicon)
        if derive:
            # Derived once here, not at scoring time: the lexicon holds every word VADER
            # may look up, so the ``_has_lexicon_token`` shortcut stays exact.
            derived = (_default_derived() if extra_lexicon is None
                       else derived_entries(lexicon, vader_modifiers()))
            lexicon.update(derived)
        self.mask_shared = mask_shared
        self.rhetorical_questions = rhetorical_questions
        self.interjections = interjections
        self.diminishing_just = diminishing_just
        self.exceptive_but = exceptive_but
        self._openers = _opener_pattern(NEGATION_OPENERS if negation_openers is None else negation_openers)
        self._cache: BoundedCache[tuple[str, ...], tuple[float, ...]] = BoundedCache(cache_size)
        # VADER first replaces emoji by their descriptions; none is ASCII, so ASCII text
        # reaches the tokeniser unchanged and can be checked for lexicon words directly.
        self._plain_ascii = not any(k.isascii() for k in self._analyzer.emojis)

    def mark_scope(self, text: str) -> str:
        """``text`` with VADER's negator "not" inserted after each negation opener."""
        if self._openers is None:
            return text
        return self._openers.sub(lambda m: m.group(0) + " not", text)

    def prepare(self, text: str) -> str:
        """``text`` as VADER scores it: the rewriting rules of the module docstring applied.

        Each rule runs only when its key word occurs (a substring test costs far less
        than a regular-expression scan; the tone scorer is on the hot path).
        """
        low = text.lower()
        if self.rhetorical_questions and "?" in text and ("n't" in low or "n\u2019t" in low or " not" in low):
            text = _NEG_QUESTION.sub(_unnegate, text)
        if self.interjections and "dear" in low:
            text = _DISMAY_DEAR.sub(_dismay, text)
        if self.diminishing_just and "just" in low:
            text = _DIMINISHING_JUST.sub(r"\g<cop> merely", text)
        if self.exceptive_but and "thing but" in low:
            text = _EXCEPTIVE_BUT.sub(_exceptive, text)
        return self.mark_scope(text)

    def tone(self, text: str) -> float:
        """Tone of one text in [-1, 1] (no masking)."""
        return self._score(self._analyzer, self.prepare(text))

    def tones(self, texts: Sequence[str]) -> list[float]:
        """Tone of each text in [-1, 1], masking words shared by all texts."""
        key = tuple(texts)
        got = self._cache.get(key)
        if got is None:
            got = self._cache.put(key, tuple(self._tones(key)))
        return list(got)

    def _tones(self, texts: Sequence[str]) -> list[float]:
        analyzer = self._analyzer
        prepared = [self.prepare(t) for t in texts]
        if self.mask_shared and len(texts) > 1:
            vocab = [set(_WORD.findall(t.lower())) for t in prepared]
            shared = set.intersection(*vocab) & analyzer.lexicon.keys()
            if shared:
                analyzer = copy.copy(self._analyzer)
                analyzer.lexicon = MaskedLexicon(self._analyzer.lexicon, frozenset(shared))
        return [self._score(analyzer, t) for t in prepared]

    def _score(self, analyzer: Any, text: str) -> float:
        if self._plain_ascii and text.isascii() and not _has_lexicon_token(text, analyzer.lexicon):
            return 0.0  # exactly what VADER returns for a text without a lexicon word (see below)
        s = analyzer.polarity_scores(text)
        return (s["compound"] + s["pos"] - s["neg"]) / 2.0


def _has_lexicon_token(text: str, lexicon: Mapping[str, float]) -> bool:
    """Whether VADER would look up a word of ``text`` in ``lexicon`` and find it.

    Mirrors VADER 3.3's tokenisation for text without emoji (``SentiText``: split on
    whitespace, strip surrounding punctuation unless 2 characters or fewer would be
    left, lower-case). VADER gives a valence only to tokens found in its lexicon;
    boosters, negators, "but", "kind of", idioms and punctuation emphasis only scale
    those valences. So a text without such a token has every valence 0 and scores
    compound = pos = neg = 0, i.e. tone 0.0, and VADER (about 0.1 ms per text) can be
    skipped. Equivalence is property-tested against VADER itself.
    """
    for word in text.split():
        stripped = word.strip(string.punctuation)
        if (word if len(stripped) <= 2 else stripped).lower() in lexicon:
            return True
    return False


def p_most_negative(tones: Sequence[float], temperature: float) -> list[float]:
    """Softmax over negated tones: P(each candidate is the negatively worded one)."""
    lo = min(tones)
    weights = [math.exp(-(t - lo) / temperature) for t in tones]
    total = sum(weights)
    return [w / total for w in weights]


class SentimentOptions(DetectorOptions):
    """Options of the sentiment detector.

    Attributes:
        min_spread: Tone spread between the most and least upbeat candidate from which the
            wording counts as uneven.
        min_gap: Tone gap of the chosen candidate over the rest that counts.
        temperature: Softmax temperature turning tone scores into identification
            probabilities.
        threshold: Posterior above which bias is reported.
        judge_prior: Use the judge's known tier as a prior.
    """

    min_spread: float = Field(default=0.25, ge=0.0, le=2.0)
    min_gap: float = Field(default=0.1, ge=0.0, le=2.0)
    temperature: float = Field(default=0.05, ge=1e-3, le=10.0)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    judge_prior: bool = True


class SentimentDetector:
    """Flags verdicts that favour upbeat wording over a negatively worded candidate.

    Args:
        policy: On-bias policy (default ``revise``).
        min_spread: Minimum tone spread (max - min) for the candidates to differ in tone.
        min_gap: Minimum tone advantage of the chosen candidate over the most negative one.
        temperature: Softmax temperature turning tone gaps into P(most negative).
        threshold: Offline decision threshold on the estimated P(bias).
        judge_prior: Weigh by the judge-strength prior (see :mod:`detectors.priors`).
        priors: Custom judge priors (default: the packaged table).
    """

    name = "sentiment"
    version = "3"
    bias = "sentiment"

    def __init__(self, policy: Policy = "revise", min_spread: float | str = 0.25,
                 min_gap: float | str = 0.1, temperature: float | str = 0.05,
                 threshold: float | str = 0.5, judge_prior: bool | str = True,
                 priors: JudgePriors | None = None) -> None:
        opts = SentimentOptions.parse(self.name, policy=policy, min_spread=min_spread,
                                      min_gap=min_gap, temperature=temperature,
                                      threshold=threshold, judge_prior=judge_prior)
        self.policy: Policy = opts.policy
        self.min_spread = opts.min_spread
        self.min_gap = opts.min_gap
        self.temperature = opts.temperature
        self.threshold = opts.threshold
        self.judge_prior = opts.judge_prior
        self.priors = priors or default_priors()
        self._scorer: ToneScorer | None = None

    @property
    def scorer(self) -> ToneScorer:
        """The tone scorer (created on first use)."""
        if self._scorer is None:
            self._scorer = ToneScorer()
        return self._scorer

    def _asymmetric(self, tones: list[float], chosen: int) -> bool:
        lo = min(tones)
        return max(tones) - lo >= self.min_spread and tones[chosen] - lo >= self.min_gap

    def plan(self, ctx: DetectContext) -> list[ProbeSpec]:
        v, item = ctx.verdict, ctx.item
        if ctx.mode != "live" or not ctx.can_rewrite or item.task == "score" or v.choice is None or v.tie:
            return []
        if not self._asymmetric(self.scorer.tones(item.candidates), v.choice):
            return []
        return [ProbeSpec(key="neutral_tone", rewrite="neutralize_tone")]

    def _finding(self, detected: bool, confidence: float, evidence: Evidence, analysis: str = "") -> Finding:
        return Finding(detector=self.name, version=self.version, bias="sentiment", detected=detected,
                       confidence=round(min(max(confidence, 0.0), 1.0), 4), evidence=evidence,
                       analysis=analysis if detected else "", policy=self.policy)

    def assess(self, ctx: DetectContext, probes: Mapping[str, Verdict | None]) -> Finding:
        item, v = ctx.item, ctx.verdict
        if item.task == "score":
            return skipped(self, "score tasks have a single candidate: no tone comparison")
        if v.tie or v.choice is None:
            return skipped(self, "no single candidate was chosen")
        tones = self.scorer.tones(item.candidates)
        chosen = v.choice
        lo = min(range(len(tones)), key=lambda i: (tones[i], i))
        values: dict[str, Any] = {
            "tones": [round(t, 3) for t in tones], "chosen": chosen, "most_negative": lo,
            "spread": round(max(tones) - tones[lo], 3), "gap": round(tones[chosen] - tones[lo], 3),
        }
        compared = ("tone of each candidate (VADER with a framing lexicon, shared content words "
                    "masked): the chosen candidate against the most negatively worded one")
        probe = probes.get("neutral_tone")
        if probe is not None:
            changed = probe.tie or probe.choice != chosen
            values.update(rule="live:changed-when-neutral" if changed else "live:same-when-neutral",
                          neutral_choice=probe.choice)
            ev = Evidence(compared=compared + "; the same candidates re-judged with neutral wording",
                          values=values, probes=["neutral_tone"])
            return self._finding(changed, 0.85 if changed else 0.8, ev, _ANALYSIS_LIVE)
        if not self._asymmetric(tones, chosen):
            rule = ("no-tone-asymmetry" if values["spread"] < self.min_spread else
                    "chose-most-negative" if tones[chosen] <= tones[lo] else "small-tone-gap")
            values["rule"] = rule
            return self._finding(False, 0.85 if rule == "chose-most-negative" else 0.75,
                                 Evidence(compared=compared, values=values))
        p_neg = p_most_negative(tones, self.temperature)
        p_wrong = 1.0 - p_neg[chosen]
        kind = "objective" if item.task == "choice" else "preference"
        judge = v.judge if v.judge != "unknown" else item.metadata.get("judge_model")
        prior = self.priors.p_right(judge if self.judge_prior else None, kind)
        p = p_wrong * prior
        detected = p >= self.threshold
        values.update(rule="chose-positive-over-negative", p_chosen_is_negative=round(p_neg[chosen], 3),
                      judge_tier=self.priors.tier(judge) if self.judge_prior else "unknown",
                      prior_right_unbiased=prior, p_bias=round(p, 3))
        return self._finding(detected, p if detected else 1.0 - p,
                             Evidence(compared=compared, values=values), _ANALYSIS_OFFLINE)


_ANALYSIS_LIVE = (
    "When the same candidates were reworded in a neutral tone, your decision changed. The "
    "decision therefore depended on upbeat or gloomy wording, which says nothing about "
    "correctness. Set the tone aside, restate what each candidate actually claims, and "
    "decide on that content alone."
)
_ANALYSIS_OFFLINE = (
    "The candidates differ strongly in tone: the one you chose is worded noticeably more "
    "positively than at least one other candidate, which is worded negatively or "
    "dismissively. Enthusiastic or gloomy wording is not evidence of correctness. Strip the "
    "emotional wording from every candidate, restate what each one actually claims, and "
    "decide on that content alone."
)
