"""Wrap an existing judge function so pipelines keep their code.

Three calling conventions are recognised from the function's signature (or forced with
``convention=``):

- ``pair``: ``fn(instruction, answer_a, answer_b, **kw)`` (three positional parameters)
- ``candidates``: ``fn(instruction, candidates, **kw)`` (two positional parameters)
- ``messages``: ``fn(messages) -> str`` (one positional parameter): the function is a chat
  model; our templates and parser are used, exactly as for API judges.

For ``pair``/``candidates`` functions, candidates are passed in DISPLAY order and the
return value is read as: an ``int`` = 0-based index into the candidates you received,
a ``str`` = parsed like any judge reply (``"A"``, ``"Output (b)"``, ``"Choice 2"``,
``"tie"``), a ``float`` = a score for score tasks. If the function accepts ``cue`` or
``feedback`` keyword arguments they are passed; otherwise a shown cue is prepended to
the instruction as ``### Statement: ...`` and revision feedback is appended to it.
The function may be sync or async.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal

from debias.backends.base import Completion, Message, Sampling
from debias.errors import ConfigError, JudgeError, VerdictParseError
from debias.judges.base import JudgeRequest
from debias.judges.chat import ChatJudge
from debias.judges.prompts import Templates
from debias.ordering import displayed, to_original
from debias.parsing import TIE, parse_choice, parse_score
from debias.types import Verdict

Convention = Literal["auto", "pair", "candidates", "messages"]


def _positional_count(fn: Callable[..., Any]) -> int:
    params = inspect.signature(fn).parameters.values()
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               and p.default is p.empty)


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    params = inspect.signature(fn).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _run_coroutine(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    raise JudgeError("an async judge function was called synchronously inside a running "
                     "event loop; use ajudge() instead")


class _MessagesBackend:
    """Adapts ``fn(messages) -> str`` to the ChatBackend protocol."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.fn = fn
        self.name = name
        self._is_async = inspect.iscoroutinefunction(fn)

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        out = self.fn(messages)
        if self._is_async:
            out = _run_coroutine(out)
        return Completion(text=str(out))

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        if self._is_async:
            return Completion(text=str(await self.fn(messages)))
        return Completion(text=str(await asyncio.to_thread(self.fn, messages)))


class FunctionJudge:
    """A judge backed by a user's function.

    Args:
        fn: The judge function (sync or async).
        name: Judge name recorded on verdicts (default: the function's name).
        convention: ``auto`` (from the signature), ``pair``, ``candidates`` or ``messages``.
        templates: Templates for the ``messages`` convention and score ranges.
    """

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None,
                 convention: Convention = "auto", templates: Templates | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"judge function {fn!r} is not callable")
        if convention == "auto":
            count = _positional_count(fn)
            convention = {1: "messages", 2: "candidates", 3: "pair"}.get(count)  # type: ignore[assignment]
            if convention is None:
                raise ConfigError(
                    f"cannot tell how to call {getattr(fn, '__name__', fn)!r}: it takes {count} "
                    "required positional parameters; expected 1 (messages), 2 (instruction, "
                    "candidates) or 3 (instruction, a, b). Pass convention= explicitly."
                )
        self.fn = fn
        self.convention = convention
        self.name = name or getattr(fn, "__name__", "function")
        self.templates = templates or Templates()
        self._is_async = inspect.iscoroutinefunction(fn)
        self._chat = (ChatJudge(_MessagesBackend(fn, self.name), name=self.name, mode="generate",
                                templates=self.templates)
                      if convention == "messages" else None)

    def _call_args(self, request: JudgeRequest) -> tuple[tuple[Any, ...], dict[str, Any]]:
        item = request.item
        instruction = item.instruction
        kwargs: dict[str, Any] = {}
        if request.shows_cue:
            if _accepts(self.fn, "cue"):
                kwargs["cue"] = item.cue
            else:
                instruction = f"### Statement: {item.cue}\n\n{instruction}"
        if request.feedback is not None:
            if _accepts(self.fn, "feedback"):
                kwargs["feedback"] = request.feedback.text
            else:
                instruction = f"{instruction}\n\n### Reviewer feedback on an earlier decision:\n{request.feedback.text}"
        cands = displayed(item.candidates, request.order)
        if self.convention == "pair":
            if len(cands) != 2:
                raise JudgeError(f"pairwise judge function got item {item.id!r} with {len(cands)} candidates")
            return (instruction, cands[0], cands[1]), kwargs
        return (instruction, cands), kwargs

    def _to_verdict(self, request: JudgeRequest, out: Any) -> Verdict:
        item = request.item
        base = {"judge": self.name, "order": list(request.order), "with_cue": request.shows_cue,
                "raw": str(out)}
        if item.task == "score":
            score = float(out) if isinstance(out, int | float) else parse_score(
                str(out), self.templates.score_low, self.templates.score_high)
            return Verdict(**base, score=score)
        if isinstance(out, bool):
            raise VerdictParseError(f"judge function returned a bool ({out}) for item {item.id!r}", str(out))
        if isinstance(out, int):
            if not 0 <= out < item.n:
                raise VerdictParseError(
                    f"judge function returned index {out} for item {item.id!r} with {item.n} candidates", str(out))
            return Verdict(**base, choice=to_original(request.order, out))
        parsed = parse_choice(str(out), item.n)
        if parsed == TIE:
            return Verdict(**base, tie=True)
        return Verdict(**base, choice=to_original(request.order, parsed))

    def judge(self, request: JudgeRequest) -> Verdict:
        """Judge one request by calling the function."""
        if self._chat is not None:
            return self._chat.judge(request)
        args, kwargs = self._call_args(request)
        out = self.fn(*args, **kwargs)
        if self._is_async:
            out = _run_coroutine(out)
        return self._to_verdict(request, out)

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        """Judge one request; sync functions run in a worker thread."""
        if self._chat is not None:
            return await self._chat.ajudge(request)
        args, kwargs = self._call_args(request)
        if self._is_async:
            out = await self.fn(*args, **kwargs)
        else:
            out = await asyncio.to_thread(functools.partial(self.fn, *args, **kwargs))
        return self._to_verdict(request, out)
