"""The judge protocol and judge requests.

Chat backends (``ChatBackend``, ``Completion``, ``Sampling`` ...) live in
:mod:`debias.backends.base`; they are re-exported here for code written against the old
location.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from debias.backends.base import ChatBackend, Completion, Message, OptionScorer, Sampling
from debias.ordering import check_order
from debias.types import Feedback, Item, ValidItem, Verdict

__all__ = ["ChatBackend", "Completion", "Judge", "JudgeRequest", "Message", "OptionScorer",
           "Sampling", "SyncJudge"]


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
