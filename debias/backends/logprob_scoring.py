"""Option scoring from an OpenAI-style completion's ``top_logprobs``, shared by API backends.

API backends cannot run a forward pass over a fixed set of continuations, but OpenAI's
chat-completions API (and vLLM, TGI, llama.cpp server, ...) can return, per generated
token, the top-20 alternatives with their log-probabilities. Scoring ``options`` then is:
ask for a short greedy completion with ``logprobs=True, top_logprobs=20``, find the
position where the answer token was generated, and read the options' log-probabilities
there (:func:`score_options`, pure).

:class:`CompletionOptionScorer` turns any backend with ``complete``/``acomplete`` into an
:class:`~debias.backends.base.OptionScorer` this way; the litellm and the OpenAI-compatible
backends both use it, so the logic exists once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from debias.backends.base import Completion, Message, Sampling
from debias.errors import ConfigError, FatalModelError, JudgeError, LogprobsUnavailableError
from debias.types import Usage

#: Top alternatives asked for when scoring options (the OpenAI maximum).
TOP_LOGPROBS = 20


def get_field(obj: Any, key: str, default: Any = None) -> Any:
    """Attribute or mapping access (SDK objects and plain JSON dicts alike)."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _norm_token(token: str) -> str:
    """A token or option reduced to its letters/digits, lower-cased: ``" (A"`` -> ``"a"``."""
    return re.sub(r"[\W_]+", "", token).lower()


def _norm_text(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def score_options(top_logprobs: Sequence[dict[str, float]], prefix: str,
                  options: Sequence[str]) -> list[float]:
    """Log-probabilities of ``options`` read from a completion's per-token alternatives.

    Pure. ``top_logprobs[i]`` maps the alternatives at generated position ``i`` to their
    log-probabilities, the SAMPLED token first (as :func:`top_logprobs_of` builds it).
    The answer position is the first whose sampled token is one of the options (compared
    by letters/digits, case-insensitively: ``" (a"`` counts as ``a``) and whose preceding
    text is compatible with ``prefix`` (``"Output ("`` accepts ``""``, ``"("``, ``"Output ("``,
    ``"**Output ("``); failing that, the first whose sampled token is an option. At that
    position each option's log-probability is the log-sum-exp over the alternatives that
    normalise to it; an option absent from the alternatives gets the smallest listed
    log-probability (an upper bound on its true value).

    Raises:
        LogprobsUnavailableError: No logprobs, or no position names an option.
        ConfigError: Options that are empty or equal after normalisation.
    """
    keys = [_norm_token(o) for o in options]
    if not keys or any(not k for k in keys) or len(set(keys)) != len(keys):
        raise ConfigError(f"options {list(options)!r} must be distinct and contain letters or "
                          "digits")
    if not top_logprobs:
        raise LogprobsUnavailableError("the completion carries no log-probabilities")
    want = _norm_text(prefix)
    sampled = [next(iter(alts), "") for alts in top_logprobs]

    def is_option(i: int) -> bool:
        return _norm_token(sampled[i]) in keys

    def compatible(i: int) -> bool:
        before = _norm_text("".join(sampled[:i]))
        return before.endswith(want) or want.endswith(before)

    positions = range(len(top_logprobs))
    at = next((i for i in positions if is_option(i) and compatible(i)), None)
    if at is None:
        at = next((i for i in positions if is_option(i)), None)
    if at is None:
        text = "".join(sampled)
        raise LogprobsUnavailableError(
            f"no generated token is one of the options {list(options)!r} (the model began "
            f"its answer with {text!r}); use mode='generate' for this model")
    alts = top_logprobs[at]
    floor = min(alts.values())
    out = []
    for key in keys:
        hits = [lp for tok, lp in alts.items() if _norm_token(tok) == key]
        out.append(_logsumexp(hits) if hits else floor)
    return out


def top_logprobs_of(choice: Any) -> list[dict[str, float]] | None:
    """Per generated token of an OpenAI ``choices[i]``: ``{sampled: lp, alternative: lp, ...}``.

    Works on SDK objects and on the plain JSON dict. None when the choice has no
    ``logprobs.content``.
    """
    content = get_field(get_field(choice, "logprobs"), "content")
    if not content:
        return None
    out: list[dict[str, float]] = []
    for tok in content:
        entry = {str(get_field(tok, "token", "")): float(get_field(tok, "logprob", -math.inf))}
        for alt in get_field(tok, "top_logprobs") or []:
            entry.setdefault(str(get_field(alt, "token", "")),
                             float(get_field(alt, "logprob", -math.inf)))
        out.append(entry)
    return out


class CompletionOptionScorer:
    """Mixin: an :class:`~debias.backends.base.OptionScorer` built on ``complete``/``acomplete``.

    One greedy call with ``logprobs=True, top_logprobs=20`` per scoring; see
    :func:`score_options`. The class using it provides ``model`` (for messages),
    ``prefill`` and ``scan_tokens`` attributes and the two completion methods.

    With ``prefill`` the answer prefix is sent as an assistant prefill message
    (``{"role": "assistant", "content": prefix, "prefix": True}``) and a 1-token completion
    lands on the answer token; otherwise the prefix is not sent and the answer token is
    looked for within ``scan_tokens`` generated tokens.
    """

    model: str
    prefill: bool
    scan_tokens: int

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:  # pragma: no cover
        raise NotImplementedError

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:  # pragma: no cover
        raise NotImplementedError

    def _scoring_call(self, messages: list[Message], prefix: str) -> tuple[list[Message], Sampling]:
        if self.prefill and prefix:
            messages = [*messages, {"role": "assistant", "content": prefix,
                                      "prefix": True}]  # type: ignore[dict-item]
        one_token = self.prefill or not prefix
        return messages, Sampling(temperature=0.0, max_tokens=1 if one_token else self.scan_tokens,
                                  logprobs=True, top_logprobs=TOP_LOGPROBS)

    def _scores(self, completion: Completion, prefix: str, options: list[str]) -> list[float]:
        if not completion.top_logprobs:
            raise LogprobsUnavailableError(
                f"{self.model} returned no log-probabilities (the provider or model does not "
                "support logprobs); use ChatJudge(..., mode='generate') with this model")
        try:
            return score_options(completion.top_logprobs, "" if self.prefill else prefix, options)
        except LogprobsUnavailableError as exc:
            raise LogprobsUnavailableError(f"{self.model}: {exc}") from None

    def _logprobs_refused(self, exc: FatalModelError) -> JudgeError:
        """The error to raise when a scoring call fails fatally (hook).

        Backends return a :class:`~debias.errors.LogprobsUnavailableError` when ``exc``
        says the provider does not accept the logprobs parameters, else ``exc``.
        """
        return exc

    def option_logprobs(self, messages: list[Message], prefix: str,
                        options: list[str]) -> tuple[list[float], Usage]:
        """Log-probability of each option as the answer after ``prefix``.

        Raises:
            LogprobsUnavailableError: The provider returned no logprobs or no option token.
        """
        msgs, sampling = self._scoring_call(messages, prefix)
        try:
            completion = self.complete(msgs, sampling)
        except FatalModelError as exc:
            raise self._logprobs_refused(exc) from None
        return self._scores(completion, prefix, options), completion.usage

    async def aoption_logprobs(self, messages: list[Message], prefix: str,
                               options: list[str]) -> tuple[list[float], Usage]:
        """Async variant of :meth:`option_logprobs`."""
        msgs, sampling = self._scoring_call(messages, prefix)
        try:
            completion = await self.acomplete(msgs, sampling)
        except FatalModelError as exc:
            raise self._logprobs_refused(exc) from None
        return self._scores(completion, prefix, options), completion.usage
