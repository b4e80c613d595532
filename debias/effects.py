"""Drive a generator-based pure core synchronously or asynchronously.

Judges and the debiasing loop are written as generators that *yield* requests for I/O
(a model call, a batch of probes) and receive the results. The same generator is
driven by :func:`drive` (blocking handlers) or :func:`adrive` (async handlers), so
sync and async share one core and differ only in how effects are executed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")
Core = Generator[Any, Any, T]


class Failure:
    """Wraps an exception raised while executing an effect, sent back into the core."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def drive(core: Core[T], handle: Callable[[Any], Any]) -> T:
    """Run ``core`` to completion, executing each yielded effect with ``handle``.

    Exceptions raised by ``handle`` are thrown into the core at the yield point.
    """
    try:
        effect = next(core)
        while True:
            try:
                value = handle(effect)
            except Exception as exc:
                effect = core.throw(exc)
                continue
            effect = core.send(value)
    except StopIteration as stop:
        return stop.value


async def adrive(core: Core[T], handle: Callable[[Any], Awaitable[Any]]) -> T:
    """Async twin of :func:`drive`."""
    try:
        effect = next(core)
        while True:
            try:
                value = await handle(effect)
            except Exception as exc:
                effect = core.throw(exc)
                continue
            effect = core.send(value)
    except StopIteration as stop:
        return stop.value
