"""Token counts, length comparisons of candidates, and final-answer extraction.

Tokens are counted with a regex approximation (word pieces and punctuation marks) that
tracks BPE counts on English prose closely enough for length comparisons, is about 7x
faster than tiktoken and gives the same count in every process (``tiktoken``'s
``cl100k_base`` on request: ``count_tokens(text, exact=True)``). The standardised difference
follows AlpacaEval's length control: a length difference divided by the spread of
differences over a dataset (:func:`standardize`); for a single item, the relative
difference ``(chosen - rejected) / max(chosen, rejected)`` is reported instead.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import math
import re
import statistics
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

_APPROX_TOKEN = re.compile(r"[A-Za-z]{1,6}|\d{1,3}|[^\sA-Za-z\d]", re.UNICODE)


def _byte_class(pred: Callable[[str], bool]) -> bytes:
    """A ``bytes.translate`` table mapping ASCII bytes in a class to ``1``, others to ``0``."""
    return bytes(ord("1") if i < 128 and pred(chr(i)) else ord("0") for i in range(256))


_LETTER_BITS = _byte_class(lambda c: c.isalpha())
_DIGIT_BITS = _byte_class(lambda c: c.isdigit())
_OTHER_BITS = _byte_class(lambda c: not (c.isalnum() or c.isspace()))
_DIGIT = re.compile(r"\d")  # every number match contains one (same Unicode digit class as _NUM)
_NUM = re.compile(r"(?<![\w.])-?\$?\d[\d,]*(?:\.\d+)?(?![\w])|(?<![\w.])-?\$?\.\d+(?![\w])")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z*#(\[\"'$])|\n+")
_CALC = re.compile(r"<<[^>]*>>")
_HASHES = re.compile(r"####[ \t]*([^\n]*)")
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_BARE = re.compile(r"^\W{0,3}[-−]?\$?\d[\d,]*(?:\.\d+)?\s*(?:%|[A-Za-z]{0,12}\.?)?\W{0,3}$")


_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# cl100k_base's split pattern and special tokens, as tiktoken_ext.openai_public defines them.
_CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"""
                   r""" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
_CL100K_SPECIAL = {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                   "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}


def _bundled_cl100k_ranks() -> dict[bytes, int] | None:
    """cl100k_base's ranks from the copy litellm (a core dependency) ships, if intact.

    Found without importing litellm. tiktoken itself would fetch the file from the network
    (or find it only where ``TIKTOKEN_CACHE_DIR`` points, which importing litellm sets):
    reading the bundled copy makes the count the same in every process, online or not.
    """
    spec = importlib.util.find_spec("litellm")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    name = hashlib.sha1(_CL100K_URL.encode()).hexdigest()  # tiktoken's cache file name
    for root in roots:
        path = Path(root) / "litellm_core_utils" / "tokenizers" / name
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() != _CL100K_SHA256:
            continue
        ranks = {}
        for line in data.splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
        return ranks
    return None


@lru_cache(maxsize=1)
def _tiktoken_encoder() -> Callable[[str], list[int]] | None:
    try:
        import tiktoken  # optional; imported lazily
    except ImportError:
        return None
    ranks = _bundled_cl100k_ranks()
    if ranks is not None:
        return tiktoken.Encoding(name="cl100k_base", pat_str=_CL100K_PATTERN, mergeable_ranks=ranks,
                                 special_tokens=_CL100K_SPECIAL).encode_ordinary
    try:
        return tiktoken.get_encoding("cl100k_base").encode_ordinary
    except (OSError, ValueError):  # no bundled copy, no cache and no network
        return None


def count_tokens(text: str, *, exact: bool = False) -> int:
    """Number of tokens in ``text``.

    Args:
        text: The text.
        exact: Count cl100k_base tokens with tiktoken (about 7x slower; falls back to the
            approximation when tiktoken or its encoding file is missing). The default
            approximation is what every length statistic uses, so the same text gets the
            same count in every process, whatever tiktoken's cache holds.
    """
    if exact:
        enc = _tiktoken_encoder()
        if enc is not None:
            return len(enc(text))
    if text.isascii():
        return _approx_tokens_ascii(text)
    return len(_APPROX_TOKEN.findall(text))


def _chunks(bits: int, size: int) -> int:
    """Sum of ``ceil(run / size)`` over the runs of set bits (most significant = first character).

    Only ``size`` 6 (letters) and 3 (digits) occur.
    """
    starts = bits & ~(bits >> 1)  # first character of each run
    n = 0
    while starts:
        n += starts.bit_count()
        # Keep the positions followed by ``size`` more characters of the run (by doubling:
        # 2, 4 then 7 consecutive set bits for size 6; 2 then 4 for size 3).
        bits &= bits << 1
        bits &= bits << 2
        if size == 6:
            bits &= bits << 3
        starts &= bits  # runs long enough for one more chunk
    return n


def _approx_tokens_ascii(text: str) -> int:
    """``len(_APPROX_TOKEN.findall(text))`` for ASCII text, without the regex engine.

    The pattern's matches are: each run of ASCII letters in chunks of 6, each run of
    digits in chunks of 3, and every other non-space character. Mapping each character
    to a bit of a Python integer (``bytes.translate`` + ``int(..., 2)``, both C loops)
    counts the same matches with a few word-parallel shifts: about twice as fast as
    ``findall`` on typical answers, and the count is the verbosity detector's largest
    cost in an audit. Equality with the regex is property-tested.
    """
    if not text:
        return 0
    raw = text.encode("ascii")
    n = raw.translate(_OTHER_BITS).count(49) + _chunks(int(raw.translate(_LETTER_BITS), 2), 6)
    digits = raw.translate(_DIGIT_BITS)
    if 49 in digits:  # b"1"
        n += _chunks(int(digits, 2), 3)
    return n


def tokenizer_name(*, exact: bool = False) -> str:
    """Which token counter :func:`count_tokens` uses (with the same ``exact``)."""
    if exact and _tiktoken_encoder() is not None:
        return "tiktoken:cl100k_base"
    return "regex-approximation"


class LengthComparison(NamedTuple):
    """Length of the chosen candidate against the rejected ones.

    Attributes:
        chars: Characters per candidate (original numbering).
        tokens: Tokens per candidate.
        chosen: Original index of the chosen candidate.
        rejected_tokens: Median token count of the rejected candidates.
        ratio: Chosen tokens / rejected median tokens (>= 1 means the chosen is longer).
        char_ratio: The same ratio in characters.
        rel_diff: ``(chosen - rejected) / max(chosen, rejected)`` in tokens, in [-1, 1].
        extra_tokens: Chosen tokens minus the rejected median.
        longest: Original index of the longest candidate (by tokens).

    A named tuple (built once per examined verdict in audits: cheaper than a frozen dataclass).
    """

    chars: list[int]
    tokens: list[int]
    chosen: int
    rejected_tokens: float
    ratio: float
    char_ratio: float
    rel_diff: float
    extra_tokens: float
    longest: int

    def as_values(self) -> dict[str, object]:
        """Plain values for :class:`~debias.types.Evidence`."""
        return {"chars": self.chars, "tokens": self.tokens, "ratio": round(self.ratio, 3),
                "char_ratio": round(self.char_ratio, 3), "rel_diff": round(self.rel_diff, 3),
                "extra_tokens": round(self.extra_tokens, 1), "tokenizer": tokenizer_name()}


def compare_lengths(candidates: Sequence[str], chosen: int) -> LengthComparison:
    """Compare the chosen candidate's length with the rejected candidates'.

    Raises:
        ValueError: When ``chosen`` is not a candidate index or there is nothing to compare.
    """
    if len(candidates) < 2 or not 0 <= chosen < len(candidates):
        raise ValueError(f"need >= 2 candidates and a chosen index, got {len(candidates)}, {chosen}")
    chars = [len(c) for c in candidates]
    tokens = [count_tokens(c) for c in candidates]
    if len(tokens) == 2:  # pairwise: the median of one rejected value is that value
        med, med_chars = float(tokens[1 - chosen]), float(chars[1 - chosen])
    else:
        med = float(statistics.median([t for i, t in enumerate(tokens) if i != chosen]))
        med_chars = float(statistics.median([c for i, c in enumerate(chars) if i != chosen]))
    mine = float(tokens[chosen])
    return LengthComparison(
        chars, tokens, chosen, med, mine / max(med, 1.0), chars[chosen] / max(med_chars, 1.0),
        (mine - med) / max(mine, med, 1.0), mine - med,
        tokens.index(max(tokens)),  # the first of the longest
    )


def standardize(diffs: Sequence[float]) -> list[float]:
    """AlpacaEval-style standardised length differences: ``d / std(d)`` over a dataset.

    Returns zeros when the spread is 0 (all differences equal) or fewer than 2 values.
    """
    if len(diffs) < 2:
        return [0.0 for _ in diffs]
    sd = statistics.pstdev(diffs)
    if sd == 0 or math.isnan(sd):
        return [0.0 for _ in diffs]
    return [d / sd for d in diffs]


def _to_float(token: str) -> float | None:
    try:
        return float(token.replace("−", "-").replace("$", "").replace(",", ""))
    except ValueError:
        return None


def numbers(text: str) -> list[float]:
    """All numbers in ``text`` (``$1,200.50`` -> 1200.5), in order."""
    if not _DIGIT.search(text):
        return []  # both alternatives of _NUM need a digit; scanning digit-free text is slow
    out = []
    for m in _NUM.finditer(text.replace("−", "-")):
        v = _to_float(m.group())
        if v is not None:
            out.append(v)
    return out


def final_number(text: str) -> float | None:
    """The final numeric answer of a worked solution, or None.

    Order of evidence: the number after the last ``####`` marker (GSM8K style), a
    ``\\boxed{...}`` value, then the last sentence that contains a number: the value
    after its last ``=`` if it has one ("... = 140 flowers"), else its first number
    ("Therefore, Tracy got 8 pieces from the 4-foot wire"). Calculator annotations
    ``<<a*b=c>>`` are ignored.
    """
    if not _DIGIT.search(text):
        return None  # every branch below needs a number
    t = _CALC.sub(" ", text)
    for m in reversed(list(_HASHES.finditer(t))):
        found = numbers(m.group(1))
        if found:
            return found[0]
    boxed = list(_BOXED.finditer(t))
    if boxed:
        found = numbers(boxed[-1].group(1))
        if found:
            return found[0]
    sentences = [s for s in _SENTENCE_SPLIT.split(t) if s and numbers(s)]
    if not sentences:
        return None
    last = sentences[-1]
    if "=" in last:
        found = numbers(last.rsplit("=", 1)[1])
        if found:
            return found[0]
    return numbers(last)[0]


def is_bare_answer(text: str) -> bool:
    """Whether ``text`` is only a final answer (a number with at most a short unit)."""
    return bool(_BARE.match(text.strip()))


def is_concise_answer(text: str, max_tokens: int = 16) -> bool:
    """A bare final answer, or a very short text stating a number ("The answer is 17.")."""
    if not _DIGIT.search(text):
        return False  # both tests below need a digit; counting the tokens of long prose is not free
    if is_bare_answer(text):
        return True
    return count_tokens(text, exact=False) <= max_tokens and bool(numbers(text))


def same_number(a: float | None, b: float | None, rel_tol: float = 1e-6) -> bool:
    """Numeric equality with a small relative tolerance (None never equals)."""
    if a is None or b is None:
        return False
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-9)
