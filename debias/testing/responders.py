"""Scripted behaviours of the loopback OpenAI-compatible server.

A responder is any callable ``(ChatRequest) -> str | Reply``: a string is the assistant's
text; a :class:`Reply` can also ask for an HTTP error, an extra delay, headers or a
confidence for the emitted log-probabilities. The presets below simulate the judges the
tests need: biased ones (position, cue), a fair one, and failing ones (429s, 500s, slow,
garbage, 401, 400). Presets read prompts only through :mod:`debias.testing.prompt_view`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from debias.testing.prompt_view import PromptView, view_of_messages


@dataclass
class ChatRequest:
    """One chat-completions request as the server received it.

    Attributes:
        body: The parsed JSON body.
        headers: Request headers with lower-cased names.
        path: The request path.
    """

    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    path: str = "/v1/chat/completions"

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages."""
        msgs = self.body.get("messages")
        return msgs if isinstance(msgs, list) else []

    @cached_property
    def view(self) -> PromptView:
        """The judge prompt, parsed."""
        return view_of_messages(self.messages)

    @property
    def prefill(self) -> str:
        """Content of a trailing assistant message (a prefill the answer continues), or ""."""
        msgs = self.messages
        if msgs and msgs[-1].get("role") == "assistant":
            content = msgs[-1].get("content")
            return content if isinstance(content, str) else ""
        return ""

    @property
    def api_key(self) -> str:
        """The bearer token the client sent ("" when none)."""
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else self.headers.get("api-key", "")


@dataclass
class Reply:
    """What the server should answer.

    Attributes:
        text: Assistant text (for status 200).
        status: HTTP status; anything but 200 produces an OpenAI-style error body.
        error: Error message for non-200 replies.
        delay: Extra seconds to wait before answering (on top of the server latency).
        headers: Extra response headers (e.g. ``{"Retry-After": "0"}``).
        confidence: Probability given to the emitted answer label in log-probabilities.
        logprobs: False to omit log-probabilities even when requested.
        alternatives: Answer labels that share the rest of the probability in
            log-probabilities when the emitted token is one of them (e.g. ``("m", "M")``);
            empty: the prompt's display labels (``a``/``b`` ...).
    """

    text: str = ""
    status: int = 200
    error: str | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    confidence: float = 0.9
    logprobs: bool = True
    alternatives: tuple[str, ...] = ()


Responder = Callable[[ChatRequest], "str | Reply"]


def _answer(view: PromptView, slot: int, score: float) -> str:
    if view.task == "score":
        return f"Score: {score:g}"
    if view.n == 0:
        return "Output (a)"
    return view.answer(min(max(slot, 0), view.n - 1))


@dataclass
class PositionBiased:
    """Always answers display slot ``slot`` (the first by default), whatever the content.

    Attributes:
        slot: Display slot to answer (clipped to the number of candidates).
        score: Score given for score tasks.
        confidence: Probability of the answer label in log-probabilities.
    """

    slot: int = 0
    score: float = 5.0
    confidence: float = 0.9

    def __call__(self, req: ChatRequest) -> Reply:
        return Reply(_answer(req.view, self.slot, self.score), confidence=self.confidence)


@dataclass
class CueFollowing:
    """Answers whatever the ``### Statement:`` cue endorses; else display slot ``fallback_slot``.

    Attributes:
        fallback_slot: Slot answered when no cue is shown or it names no candidate.
        score: Score given for score tasks.
    """

    fallback_slot: int = 0
    score: float = 5.0

    def __call__(self, req: ChatRequest) -> Reply:
        slot = req.view.endorsed_slot()
        return Reply(_answer(req.view, self.fallback_slot if slot is None else slot, self.score))


@dataclass
class StubbornCue:
    """Follows a shown ``### Statement:`` cue whatever the feedback says; without a cue it
    answers the candidate containing ``marker`` (content-fair), else ``fallback_slot``.

    Like many real judges it keeps its answer after feedback, so only the counterfactual
    (the same item without the cue) reveals its own judgement.

    Attributes:
        marker: Substring that marks the better candidate.
        fallback_slot: Slot answered without a cue when no candidate contains the marker.
        score: Score given for score tasks.
    """

    marker: str = "[correct]"
    fallback_slot: int = 0
    score: float = 5.0

    def __call__(self, req: ChatRequest) -> Reply:
        view = req.view
        slot = view.endorsed_slot()
        if slot is None:
            slot = view.slot_containing(self.marker)
        return Reply(_answer(view, self.fallback_slot if slot is None else slot, self.score))


@dataclass
class ContentFair:
    """Answers the candidate containing ``marker`` wherever it is displayed; else ``fallback_slot``.

    Attributes:
        marker: Substring that marks the better candidate.
        fallback_slot: Slot answered when no candidate contains the marker.
        score: Score given for score tasks.
    """

    marker: str = "[correct]"
    fallback_slot: int = 0
    score: float = 5.0

    def __call__(self, req: ChatRequest) -> Reply:
        slot = req.view.slot_containing(self.marker)
        return Reply(_answer(req.view, self.fallback_slot if slot is None else slot, self.score))


@dataclass
class Flaky:
    """The first ``failures`` requests get HTTP ``status`` (429 by default), then ``then`` answers.

    Attributes:
        failures: How many requests fail before the server recovers.
        then: Responder used after the failures.
        status: HTTP status of the failures.
        retry_after: ``Retry-After`` header value sent with the failures, if any.
    """

    failures: int = 2
    then: Responder = field(default_factory=PositionBiased)
    status: int = 429
    retry_after: str | None = None
    _seen: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __call__(self, req: ChatRequest) -> str | Reply:
        with self._lock:
            self._seen += 1
            failing = self._seen <= self.failures
        if failing:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return Reply(status=self.status, error="Rate limit reached, slow down",
                         headers=headers)
        return self.then(req)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


@dataclass
class AlwaysError:
    """Every request gets HTTP ``status`` with ``message``.

    ``{api_key}`` in the message is replaced by the key the client sent, to simulate a
    provider echoing the key back (the client must redact it).

    Attributes:
        status: HTTP status.
        message: Error message.
    """

    status: int = 500
    message: str = "The server had an error while processing your request."

    def __call__(self, req: ChatRequest) -> Reply:
        return Reply(status=self.status, error=self.message.replace("{api_key}", req.api_key))


def always_500() -> AlwaysError:
    """Every request fails with HTTP 500."""
    return AlwaysError(500)


def auth_error() -> AlwaysError:
    """HTTP 401 whose message echoes the key sent (as some providers do)."""
    return AlwaysError(401, "Incorrect API key provided: {api_key}. You can find your API key "
                            "in your account settings.")


def bad_request() -> AlwaysError:
    """HTTP 400 invalid request."""
    return AlwaysError(400, "Invalid value for 'messages': this model does not accept it.")


@dataclass
class Slow:
    """Waits ``delay`` seconds (longer than the client timeout) before answering via ``then``.

    Attributes:
        delay: Seconds to wait.
        then: Responder that produces the (late) answer.
    """

    delay: float = 5.0
    then: Responder = field(default_factory=PositionBiased)

    def __call__(self, req: ChatRequest) -> Reply:
        out = self.then(req)
        reply = out if isinstance(out, Reply) else Reply(out)
        return replace(reply, delay=reply.delay + self.delay)  # never mutate a shared Reply


@dataclass
class Garbage:
    """Answers text that names no candidate.

    Attributes:
        text: The text.
    """

    text: str = "Well, hmm... both responses have merits; it is hard to say."

    def __call__(self, req: ChatRequest) -> Reply:
        return Reply(self.text)


@dataclass
class Scripted:
    """Answers ``replies`` in order, one per request, then delegates to ``then``.

    Attributes:
        replies: Texts or :class:`Reply` objects, in order.
        then: Responder after the script is exhausted (repeats the last reply if None).
    """

    replies: Sequence[str | Reply]
    then: Responder | None = None
    _next: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.replies:
            raise ValueError("Scripted needs at least one reply, got an empty list")

    def __call__(self, req: ChatRequest) -> str | Reply:
        with self._lock:
            k = self._next
            self._next += 1
        if k < len(self.replies):
            return self.replies[k]
        return self.then(req) if self.then else self.replies[-1]

    __getstate__ = Flaky.__getstate__
    __setstate__ = Flaky.__setstate__


PRESETS: dict[str, Callable[[], Responder]] = {
    "position": PositionBiased,
    "cue": CueFollowing,
    "fair": ContentFair,
    "flaky": Flaky,
    "error500": always_500,
    "slow": Slow,
    "garbage": Garbage,
    "auth": auth_error,
    "badrequest": bad_request,
}
"""Preset responders by name (used by the benchmark's ``--responder``)."""
