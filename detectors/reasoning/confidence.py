"""Yes/No confidence of the reasoning detector, read from log-probabilities (pure).

The detector's backend comes from the shared backend registry
(:func:`debias.backends.create_backend`); what is specific to reasoning detection is how
P(Yes) is read from option scores or from a completion's top log-probabilities, and after
which prefix Yes/No is scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from debias.backends.base import OptionScorer
from detectors.reasoning.parse import ParsedDetection

YES_NO: tuple[str, str] = ("Yes", "No")


def p_yes_from_logprobs(logprobs: Sequence[float]) -> float:
    """P(Yes) from the log-probabilities of ``["Yes", "No"]`` (renormalised over the two)."""
    lp_yes, lp_no = float(logprobs[0]), float(logprobs[1])
    top = max(lp_yes, lp_no)
    if math.isinf(top):
        raise ValueError(f"both Yes and No have zero probability ({list(logprobs)})")
    w_yes, w_no = math.exp(lp_yes - top), math.exp(lp_no - top)
    return w_yes / (w_yes + w_no)


def _norm_token(token: str) -> str:
    return token.strip().strip("*_`\"'.:!").lower()


def p_yes_from_top_logprobs(top_logprobs: Sequence[dict[str, float]] | None) -> float | None:
    """P(Yes) from a completion's per-token top alternatives.

    Uses the LAST generated position whose generated token (the first entry, as
    :class:`~debias.backends.litellm_backend.LiteLLMBackend` lists it, or the most likely
    one) is Yes-like or No-like (``Yes``, `` yes``, ``**No`` ...): the final answer comes
    after the reasoning. The probabilities of all Yes-like and all No-like alternatives
    there are summed and renormalised. None when no position qualifies.
    """
    if not top_logprobs:
        return None
    for alternatives in reversed(top_logprobs):
        if not alternatives:
            continue
        first = next(iter(alternatives))
        best = max(alternatives, key=lambda t: alternatives[t])
        if not {_norm_token(first), _norm_token(best)} & {"yes", "no"}:
            continue
        yes = sum(math.exp(lp) for tok, lp in alternatives.items() if _norm_token(tok) == "yes")
        no = sum(math.exp(lp) for tok, lp in alternatives.items() if _norm_token(tok) == "no")
        return yes / (yes + no)
    return None


def continues_prefix(backend: Any) -> bool:
    """Whether an option-scoring backend conditions on an arbitrary assistant prefix.

    Local backends do. :class:`~debias.backends.litellm_backend.LiteLLMBackend` does only with
    ``prefill=True``; without it the prefix (here: the whole reasoning) is not sent, so
    scoring Yes/No after it would be meaningless and is not attempted.
    """
    return isinstance(backend, OptionScorer) and bool(getattr(backend, "prefill", True))


def scoring_prefix(text: str, parsed: ParsedDetection) -> str | None:
    """The assistant text after which ``Yes``/``No`` is scored, or None when unknown.

    When the label was found in the answer after ``</think>``, the prefix is the text up to
    the label (so markdown or ``Answer:`` before it is kept). When it was found elsewhere
    but the think block is closed, the prefix is the reasoning with ``</think>`` and a
    newline (the trained layout). Without a closed think block, the text up to the label.
    """
    if parsed.label_start is None:
        return None
    if parsed.found_in in ("answer", "answer_marker", "answer_prose") or not parsed.think_closed:
        return text[: parsed.label_start]
    close = text.lower().rfind("</think>")
    return text[: close + len("</think>")] + "\n"
