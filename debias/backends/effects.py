"""The model-call effects of sans-I/O cores, and the one handler that performs them.

Pure cores (:meth:`~debias.judges.chat.ChatJudge._core`, the reasoning detector's) yield
:class:`GenerateCall` / :class:`OptionsCall` and receive the backend's answer;
:func:`handle` (sync) and :func:`ahandle` (async) perform an effect on a backend. Judges
and detectors pass them to :func:`debias.effects.drive` / :func:`~debias.effects.adrive`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from debias.backends.base import ChatBackend, Message, Sampling


@dataclass(frozen=True)
class GenerateCall:
    """Effect: generate a completion for ``messages``."""

    messages: list[Message]
    sampling: Sampling


@dataclass(frozen=True)
class OptionsCall:
    """Effect: score ``options`` as continuations of the assistant ``prefix``."""

    messages: list[Message]
    prefix: str
    options: list[str]


ModelCall = GenerateCall | OptionsCall


def handle(backend: ChatBackend, effect: ModelCall) -> Any:
    """Perform ``effect`` on ``backend``: a :class:`~debias.backends.base.Completion` for a
    :class:`GenerateCall`, ``(logprobs, usage)`` for an :class:`OptionsCall` (the backend
    must be an :class:`~debias.backends.base.OptionScorer`)."""
    if isinstance(effect, OptionsCall):
        return backend.option_logprobs(effect.messages, effect.prefix, effect.options)  # type: ignore[attr-defined]
    return backend.complete(effect.messages, effect.sampling)  # type: ignore[union-attr]


async def ahandle(backend: ChatBackend, effect: ModelCall) -> Any:
    """Async :func:`handle`."""
    if isinstance(effect, OptionsCall):
        return await backend.aoption_logprobs(effect.messages, effect.prefix, effect.options)  # type: ignore[attr-defined]
    return await backend.acomplete(effect.messages, effect.sampling)  # type: ignore[union-attr]
