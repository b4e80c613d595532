"""Tone of candidate texts relative to each other: VADER plus a framing lexicon.

A candidate's tone is the mean of VADER's compound score and its positive-minus-negative
share, both in [-1, 1]. VADER (``vaderSentiment``) is extended by a small framing lexicon
(``debias/text/data/tone_lexicon.tsv``: "merely", "mundane", "lackluster", ... which VADER
lacks) and by a few rewriting rules for constructions VADER misreads, each applied before
scoring (:meth:`ToneScorer.prepare`):

* negation scope: approximate negators and privatives ("hardly", "lacking", "far from")
  open a negation scope as VADER's own negators do;
* derived forms: the "-ly" adverb and the "un-" negation of lexicon words the lexicon
  lacks ("dismally", "unenthusiastic"), valued by the median ratios of VADER's own pairs;
* negative polar questions ("Isn't it exciting ...?") assert, not negate, their
  proposition; "oh dear" is dismay; "is just a" is "merely"; "nothing but" is "only".

Words that occur in EVERY candidate are content, not tone (the word "war" in four answers
about the First World War), so their valence is masked when candidates are compared.
Used by the sentiment detector and by the audit's tone metrics, so both agree on what
sounds negative. Each rule is measured (turned off in the final scorer) on the public RBD
ScienceQA sentiment set; the figures are in ``docs/detection-calibration.md``.
"""

from __future__ import annotations

import copy
import re
import string
import types
from collections.abc import Collection, Iterator, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from debias.errors import ConfigError, MissingDependencyError
from debias.memo import BoundedCache

_WORD = re.compile(r"[a-z][a-z']*")

#: Approximate negators and privatives that open a negation scope (see the module docstring;
#: measurements in docs/detection-calibration.md).
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
    text = resources.files("debias.text").joinpath("data/tone_lexicon.tsv").read_text("utf-8")
    out: dict[str, float] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            out[parts[0].strip().lower()] = float(parts[1])
        except (IndexError, ValueError):
            raise ConfigError(f"debias/text/data/tone_lexicon.tsv line {n}: expected word<TAB>valence") from None
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
