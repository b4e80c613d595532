"""The judge protocol, judge requests, chat backends, and the judge registry."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from debias.errors import ConfigError
from debias.ordering import check_order
from debias.types import Feedback, Item, Usage, ValidItem, Verdict

Message = dict[str, str]


class JudgeRequest(BaseModel):
    """What a judge is asked: an item shown in one display order, with or without its cue.

    Attributes:
        item: The item to judge (candidates in original numbering).
        order: Display order, ``order[slot] = original index``.
        with_cue: Show the item's cue (if it has one).
        feedback: Detector feedback for a revision round; None for a first judgement.
    """

    model_config = ConfigDict(frozen=True)

    item: ValidItem
    order: list[int]
    with_cue: bool = True
    feedback: Feedback | None = None

    def model_post_init(self, __context: Any) -> None:
        check_order(self.order, self.item.n)

    @classmethod
    def first(cls, item: Item) -> JudgeRequest:
        """The plain first request: original order, cue shown."""
        return cls(item=item, order=item.identity_order(), with_cue=True)

    def variant(self, **changes: Any) -> JudgeRequest:
        """A copy with some fields changed (e.g. ``order=[1, 0]``, ``with_cue=False``)."""
        return self.model_copy(update=changes)

    @property
    def shows_cue(self) -> bool:
        """Whether a cue is actually displayed."""
        return self.with_cue and bool(self.item.cue)

    def fingerprint(self) -> str:
        """Stable hash of everything that can change the judge's answer."""
        payload = {
            "task": self.item.task,
            "instruction": self.item.instruction,
            "candidates": self.item.candidates,
            "cue": self.item.cue if self.with_cue else None,
            "order": self.order,
            "feedback": self.feedback.model_dump(mode="json") if self.feedback else None,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


@runtime_checkable
class Judge(Protocol):
    """Anything that can judge a request, synchronously and asynchronously.

    Implementations return a :class:`~debias.types.Verdict` whose ``choice`` is in the
    ORIGINAL candidate numbering, and raise :class:`~debias.errors.JudgeError` subclasses
    on failure.
    """

    name: str

    def judge(self, request: JudgeRequest) -> Verdict:
        """Judge one request."""
        ...

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        """Judge one request asynchronously."""
        ...


class SyncJudge:
    """Base class for judges that are naturally synchronous: ``ajudge`` runs in a thread."""

    name: str = "judge"

    def judge(self, request: JudgeRequest) -> Verdict:  # pragma: no cover - abstract
        raise NotImplementedError

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        return await asyncio.to_thread(self.judge, request)


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


JudgeFactory = Callable[..., Judge]


class JudgeRegistry:
    """Maps a judge spec prefix (``local``, ``scripted``, or a litellm provider) to a factory.

    A spec without a registered prefix is handed to the default factory (litellm),
    which accepts any litellm model string.
    """

    def __init__(self) -> None:
        self._factories: dict[str, JudgeFactory] = {}
        self._default: JudgeFactory | None = None

    def register(self, name: str) -> Callable[[JudgeFactory], JudgeFactory]:
        """Decorator registering a factory for the spec ``name`` (or ``name:...``)."""

        def deco(fn: JudgeFactory) -> JudgeFactory:
            self._factories[name] = fn
            return fn

        return deco

    def default(self, fn: JudgeFactory) -> JudgeFactory:
        """Decorator registering the fallback factory."""
        self._default = fn
        return fn

    def create(self, spec: str, **kwargs: Any) -> Judge:
        """Build a judge from a spec such as ``local``, ``openai/gpt-4o-mini``."""
        head, _, rest = spec.partition(":")
        if head in self._factories:
            return self._factories[head](rest or None, **kwargs)
        if self._default is None:
            raise ConfigError(f"unknown judge {spec!r}; known: {sorted(self._factories)}")
        return self._default(spec, **kwargs)

    def names(self) -> list[str]:
        """Registered spec prefixes."""
        return sorted(self._factories)


judges = JudgeRegistry()
