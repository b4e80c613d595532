"""Model backends of the reasoning detector, and Yes/No confidence from log-probabilities.

The detector talks to any :class:`~debias.judges.base.ChatBackend`. :func:`reasoning_backend`
builds one from a spec through a small registry (no per-provider branching):

* ``local`` -- the embedded SmolLM2 model on CPU/GPU through transformers;
* ``local:/path/to/hf-model-dir`` or ``local:/path/model.gguf`` -- any local model
  (optionally with a peft LoRA ``adapter``);
* anything else -- a litellm model string (``openai/gpt-4o-mini``,
  ``hosted_vllm/joyfine/RBD-8B`` with ``api_base=http://host:8000/v1``, ...).

Third parties add prefixes with ``@backends.register("name")``. Heavy libraries (torch,
transformers, litellm) are imported only when a backend is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from debias.errors import ConfigError
from debias.judges.base import ChatBackend, Completion, Message, OptionScorer, Sampling
from debias.types import Usage
from detectors.reasoning.parse import ParsedDetection

BackendFactory = Callable[..., ChatBackend]
YES_NO: tuple[str, str] = ("Yes", "No")


class BackendRegistry:
    """Maps a spec prefix (``local``) to a backend factory; other specs go to the default.

    A factory is called as ``factory(rest, adapter=..., api_base=..., **options)`` where
    ``rest`` is the part after ``prefix:`` (None when absent); the default factory gets
    the whole spec.
    """

    def __init__(self) -> None:
        self._factories: dict[str, BackendFactory] = {}
        self._default: BackendFactory | None = None

    def register(self, name: str) -> Callable[[BackendFactory], BackendFactory]:
        """Decorator registering a factory for specs ``name`` and ``name:...``."""

        def deco(fn: BackendFactory) -> BackendFactory:
            self._factories[name] = fn
            return fn

        return deco

    def default(self, fn: BackendFactory) -> BackendFactory:
        """Decorator registering the factory for every other spec."""
        self._default = fn
        return fn

    def names(self) -> list[str]:
        """Registered prefixes."""
        return sorted(self._factories)

    def create(self, spec: str, **options: Any) -> ChatBackend:
        """Build the backend for ``spec``."""
        if not isinstance(spec, str) or not spec.strip():
            raise ConfigError(f"reasoning backend spec {spec!r} is empty; use 'local', "
                              "'local:/path', or a litellm model string")
        spec = spec.strip()
        head, sep, rest = spec.partition(":")
        if head in self._factories:
            return self._factories[head](rest if sep and rest else None, **options)
        if self._default is None:  # pragma: no cover - the module registers one
            raise ConfigError(f"unknown reasoning backend {spec!r}; known: {self.names()}")
        return self._default(spec, **options)


backends = BackendRegistry()


@backends.register("local")
def _local_backend(path: str | None, *, adapter: str | None = None, api_base: str | None = None,
                   device: str = "auto", dtype: str = "auto", pool: Any = None,
                   cache_dir: str | None = None, progress: Any = None) -> ChatBackend:
    """A batching backend on a local transformers model (embedded SmolLM2 when no path)."""
    if api_base:
        raise ConfigError("api_base applies to remote (litellm) backends, not to 'local'")
    from debias.judges.local import LocalBackend, resolve_local_spec  # lazy: model stack
    from debias.local_lm import LocalLM, LocalLMSpec

    where = resolve_local_spec(path, cache_dir=cache_dir, progress=progress)
    try:
        spec = LocalLMSpec(path=where, adapter=adapter, device=device, dtype=dtype)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(f"reasoning backend 'local:{path or ''}': {exc}") from exc
    lm = pool.get(spec) if pool is not None else LocalLM(spec)
    return BatchingLocalBackend(LocalBackend(lm, name=f"local/{lm.name}"))


class BatchingLocalBackend:
    """Adds batched generation (``complete_many``) to a local backend that has an ``lm``
    (:class:`~debias.local_lm.LocalLM`); everything else is delegated unchanged.

    Args:
        inner: A :class:`~debias.judges.local.LocalBackend`.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name: str = inner.name

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """One generation (see the inner backend)."""
        return self.inner.complete(messages, sampling)

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Async generation (see the inner backend)."""
        return await self.inner.acomplete(messages, sampling)

    def option_logprobs(self, messages: list[Message], prefix: str,
                        options: list[str]) -> tuple[list[float], Usage]:
        """Option scores after ``prefix`` (see the inner backend)."""
        return self.inner.option_logprobs(messages, prefix, options)

    async def aoption_logprobs(self, messages: list[Message], prefix: str,
                               options: list[str]) -> tuple[list[float], Usage]:
        """Async option scores (see the inner backend)."""
        return await self.inner.aoption_logprobs(messages, prefix, options)

    def complete_many(self, batch: list[list[Message]], sampling: Sampling) -> list[Completion]:
        """One completion per chat, generated together (left-padded batches)."""
        outs = self.inner.lm.generate(
            batch, max_new_tokens=sampling.max_tokens, temperature=sampling.temperature,
            batch_size=max(1, len(batch)),
            top_logprobs=sampling.top_logprobs if sampling.logprobs else 0,
        )
        return [Completion(text=o.text, top_logprobs=o.top_logprobs,
                           usage=Usage(calls=1, prompt_tokens=o.prompt_tokens,
                                       completion_tokens=o.completion_tokens))
                for o in outs]


@backends.default
def _litellm_backend(spec: str, *, adapter: str | None = None, api_base: str | None = None,
                     **options: Any) -> ChatBackend:
    if adapter:
        raise ConfigError(f"adapter={adapter!r} needs a local backend ('local:/path'); the "
                          f"remote model {spec!r} must have the adapter merged or served")
    from debias.judges.litellm_judge import LiteLLMBackend  # lazy: litellm

    if api_base:
        options["api_base"] = api_base
    return LiteLLMBackend(spec, **options)


def reasoning_backend(spec: str, adapter: str | None = None, api_base: str | None = None,
                      **options: Any) -> ChatBackend:
    """Build the reasoning detector's backend from a spec.

    Args:
        spec: ``local``, ``local:/path`` (HF directory or ``.gguf`` file) or a litellm
            model string.
        adapter: Path of a peft LoRA adapter (local backends only).
        api_base: Server URL for litellm (e.g. a vLLM server hosting an RBD checkpoint).
        **options: Passed to the backend's constructor.
    """
    return backends.create(spec, adapter=adapter, api_base=api_base, **options)


# --------------------------------------------------------------------------- batching


@runtime_checkable
class BatchChatBackend(Protocol):
    """A backend that generates for several chats at once (local batched generation)."""

    def complete_many(self, batch: list[list[Message]], sampling: Sampling) -> list[Completion]:
        """One completion per chat, in order."""
        ...


def complete_many(backend: ChatBackend, batch: Sequence[list[Message]], sampling: Sampling,
                  *, batch_size: int = 4) -> list[Completion | BaseException]:
    """Generate for many chats: batched when the backend supports it, else one by one.

    A failure is returned in place of its completion (a failed batch fails each of its
    chats), so one bad chat does not lose the others' results.
    """
    out: list[Completion | BaseException] = []
    batched = getattr(backend, "complete_many", None)
    if callable(batched) and batch_size > 1:
        for start in range(0, len(batch), batch_size):
            chunk = list(batch[start:start + batch_size])
            try:
                out.extend(batched(chunk, sampling))
            except Exception as exc:
                out.extend([exc] * len(chunk))
        return out
    for messages in batch:
        try:
            out.append(backend.complete(messages, sampling))
        except Exception as exc:
            out.append(exc)
    return out


# ------------------------------------------------------------------------- confidence


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
    :class:`~debias.judges.litellm_judge.LiteLLMBackend` lists it, or the most likely
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

    Local backends do. :class:`~debias.judges.litellm_judge.LiteLLMBackend` does only with
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
