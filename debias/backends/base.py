"""What every chat backend shares: messages, sampling, completions and the protocols.

A backend is a chat model behind one interface: messages in, a :class:`Completion` out
(:class:`ChatBackend`). Backends that can score a fixed set of continuations in one pass
are also :class:`OptionScorer`\\ s; backends that generate for several chats at once
(local transformers) are :class:`BatchChatBackend`\\ s. Judges
(:class:`~debias.judges.chat.ChatJudge`), the reasoning detector, the rewriter and the
training tools all talk to backends through these protocols only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from debias.types import Usage

Message = dict[str, str]


class Sampling(BaseModel):
    """Sampling settings of a model call (part of the cache key).

    Attributes:
        temperature: Sampling temperature; 0 for greedy.
        max_tokens: Maximum completion tokens.
        logprobs: Ask the backend for log-probabilities of the first tokens.
        top_logprobs: How many alternatives per token when ``logprobs`` is set.
    """

    model_config = ConfigDict(frozen=True)

    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)
    logprobs: bool = False
    top_logprobs: int = Field(default=0, ge=0, le=20)


class Completion(BaseModel):
    """A chat backend's answer.

    Attributes:
        text: Generated text.
        top_logprobs: For each of the first generated tokens, a map token -> logprob
            (only when asked for and supported).
        usage: Usage of this call.
        cached: Whether it came from the cache.
    """

    text: str
    top_logprobs: list[dict[str, float]] | None = None
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False


@runtime_checkable
class ChatBackend(Protocol):
    """A chat model: messages in, text out (litellm, local transformers, test doubles)."""

    name: str

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Generate a completion."""
        ...

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Generate a completion asynchronously."""
        ...


@runtime_checkable
class OptionScorer(Protocol):
    """A backend that can score a fixed set of continuations in one forward pass."""

    def option_logprobs(
        self, messages: list[Message], prefix: str, options: list[str]
    ) -> tuple[list[float], Usage]:
        """Log-probability of each option as the continuation of the assistant ``prefix``."""
        ...

    async def aoption_logprobs(
        self, messages: list[Message], prefix: str, options: list[str]
    ) -> tuple[list[float], Usage]:
        """Async variant of :meth:`option_logprobs`."""
        ...


@runtime_checkable
class BatchChatBackend(Protocol):
    """A backend that generates for several chats at once (local batched generation)."""

    def complete_many(self, batch: list[list[Message]], sampling: Sampling) -> list[Completion]:
        """One completion per chat, in order."""
        ...


@runtime_checkable
class CredentialCheck(Protocol):
    """A backend that can tell, before its first call, which credentials it lacks."""

    def missing_credentials(self) -> list[str]:
        """Names of the environment variables the backend needs but finds unset
        (empty when it has what it needs). Never the values."""
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
