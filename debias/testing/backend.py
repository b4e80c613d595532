"""Scripted chat backends (test doubles shipped with the library).

:class:`ScriptedBackend` replays replies (a list, cycled) or a function of the messages;
:class:`ScriptedScoringBackend` also scores options. They make no model calls and record
every request for assertions. ``create_backend("scripted:Output (a)")`` builds a backend
that always answers ``Output (a)``; ``create_backend("scripted", replies=[...])`` one that
cycles through replies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from debias.backends.base import Completion, Message, Sampling
from debias.backends.factory import reject
from debias.errors import ConfigError
from debias.types import Usage

ReplyFn = Callable[[list[Message]], str]


class ScriptedBackend:
    """A chat backend replaying scripted replies (a list, cycled) or a function of the messages.

    Args:
        replies: Replies returned in turn, or a function ``messages -> reply``.
        name: Backend/model name.
    """

    def __init__(self, replies: Sequence[str] | ReplyFn, *, name: str = "scripted-backend") -> None:
        self._replies = replies
        self._i = 0
        self.name = name
        self.requests: list[list[Message]] = []

    def _next(self, messages: list[Message]) -> str:
        self.requests.append(messages)
        if callable(self._replies):
            return self._replies(messages)
        reply = self._replies[self._i % len(self._replies)]
        self._i += 1
        return reply

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        text = self._next(messages)
        return Completion(text=text, usage=Usage(calls=1, prompt_tokens=sum(len(m["content"].split()) for m in messages),
                                                 completion_tokens=len(text.split())))

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        return self.complete(messages, sampling)


OptionFn = Callable[[list[Message], str, list[str]], list[float]]


class ScriptedScoringBackend(ScriptedBackend):
    """A :class:`ScriptedBackend` that also scores options (an OptionScorer).

    Args:
        replies: As for :class:`ScriptedBackend` (used by ``complete``).
        option_logprobs_fn: ``(messages, prefix, options) -> logprobs``.
        name: Backend/model name.
    """

    def __init__(self, replies: Sequence[str] | ReplyFn, option_logprobs_fn: OptionFn, *,
                 name: str = "scripted-scorer") -> None:
        super().__init__(replies, name=name)
        self._option_fn = option_logprobs_fn

    def option_logprobs(self, messages: list[Message], prefix: str, options: list[str]) -> tuple[list[float], Usage]:
        self.requests.append(messages)
        return list(self._option_fn(messages, prefix, options)), Usage(calls=1)

    async def aoption_logprobs(self, messages: list[Message], prefix: str, options: list[str]) -> tuple[list[float], Usage]:
        return self.option_logprobs(messages, prefix, options)


def scripted_backend(spec: str | None, *, adapter: str | None = None,
                     api_base: str | None = None, replies: Sequence[str] | ReplyFn | None = None,
                     name: str = "scripted-backend") -> ScriptedBackend:
    """Backend factory for ``scripted:REPLY`` (always ``REPLY``) or ``scripted`` with
    ``replies=[...]`` (cycled) or ``replies=fn`` (a function of the messages).

    Raises:
        ConfigError: Neither a reply nor replies, both, or an adapter/api_base.
    """
    reject("scripted backend", adapter=(adapter, "is for local backends"),
           api_base=(api_base, "is for remote backends"))
    if (spec is None) == (replies is None):
        raise ConfigError("the scripted backend needs exactly one of 'scripted:REPLY' or "
                          "replies=[...]")
    return ScriptedBackend([spec] if spec is not None else replies, name=name)  # type: ignore[arg-type]
