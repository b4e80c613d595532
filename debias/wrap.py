"""``@debias.wrap``: debias an existing judge function without changing its callers.

>>> @wrap(detectors=["position"], max_rounds=1)
... def my_judge(question, answer_a, answer_b):
...     return "A" if len(answer_a) >= len(answer_b) else "B"
>>> my_judge("2+2?", "4", "four")        # same call, debiased answer
'B'
>>> my_judge.result("2+2?", "4", "four").status.value   # the full record
'clean'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from debias.contract import AnyDetector
from debias.errors import ConfigError, JudgeError
from debias.judges.function import Convention, FunctionJudge
from debias.loop import DEFAULT_DETECTORS, Debiaser, Rewriter
from debias.types import Item, Result, Verdict


class DebiasedFunction:
    """A judge function wrapped by :func:`wrap`.

    Calling it returns the debiased decision in the function's own style: an ``int``
    index when the function returns ints, otherwise ``"A"``, ``"B"``, ... (or ``"tie"``),
    or the score for a score task. :meth:`result` / :meth:`aresult` return the full
    :class:`~debias.types.Result` with every round.
    """

    def __init__(self, fn: Callable[..., Any], *, detectors: Sequence[AnyDetector | str] | str,
                 max_rounds: int, convention: Convention, name: str | None,
                 rewriter: Rewriter | None) -> None:
        self.judge = FunctionJudge(fn, name=name, convention=convention)
        if self.judge.convention == "messages":
            raise ConfigError("wrap() needs a function taking (instruction, a, b) or "
                              "(instruction, candidates); for a chat function use "
                              "Debiaser(FunctionJudge(fn)) with Item records")
        self.debiaser = Debiaser(self.judge, detectors, max_rounds=max_rounds, rewriter=rewriter)
        self._is_async = inspect.iscoroutinefunction(fn)
        self._counter = 0
        functools.update_wrapper(self, fn)

    def _item(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Item:
        kwargs = dict(kwargs)
        cue = kwargs.pop("cue", None)
        item_id = str(kwargs.pop("item_id", "")) or None
        if self.judge.convention == "pair":
            instruction, a, b = args[:3]
            task, cands = "pairwise", [a, b]
        else:
            instruction, cands = args[:2]
            cands = list(cands)
            task = "pairwise" if len(cands) == 2 else ("score" if len(cands) == 1 else "choice")
        self._counter += 1
        return Item(id=item_id or f"call-{self._counter}", task=task, instruction=instruction,
                    candidates=cands, cue=cue)

    @staticmethod
    def _answer(result: Result) -> Any:
        if result.verdict is None:
            raise JudgeError(f"judge failed: {result.error}")
        v: Verdict = result.verdict
        if v.score is not None:
            return v.score
        if v.tie or v.choice is None:
            return "tie"
        first_raw = result.rounds[0].verdict.raw.strip() if result.rounds else ""
        if first_raw.lstrip("-").isdigit():
            return v.choice
        return chr(ord("A") + v.choice)

    def result(self, *args: Any, **kwargs: Any) -> Result:
        """Debias one call and return the full record."""
        return self.debiaser.judge(self._item(args, kwargs))

    async def aresult(self, *args: Any, **kwargs: Any) -> Result:
        """Async variant of :meth:`result`."""
        return await self.debiaser.ajudge(self._item(args, kwargs))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._is_async:
            return self._acall(*args, **kwargs)
        return self._answer(self.result(*args, **kwargs))

    async def _acall(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer(await self.aresult(*args, **kwargs))


def wrap(fn: Callable[..., Any] | None = None, *,
         detectors: Sequence[AnyDetector | str] | str = DEFAULT_DETECTORS, max_rounds: int = 2,
         convention: Convention = "auto", name: str | None = None,
         rewriter: Rewriter | None = None) -> Any:
    """Decorate a judge function so its verdicts are debiased.

    Usable bare (``@wrap``) or configured (``@wrap(detectors=[...], max_rounds=2)``).
    Call the result with an extra ``cue=`` keyword to show a cue, ``item_id=`` to name
    the record.
    """

    def deco(f: Callable[..., Any]) -> DebiasedFunction:
        return DebiasedFunction(f, detectors=detectors, max_rounds=max_rounds,
                                convention=convention, name=name, rewriter=rewriter)

    return deco(fn) if fn is not None else deco
