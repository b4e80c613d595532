"""A scripted judge with programmable biases (a test double shipped with the library).

It makes no model calls, is deterministic for a given seed, and is what the test suite
and the sanity benchmark use; ``create_judge("scripted:position=0.8,cue=1")`` builds one. Randomness is derived from a hash of the request
(item, order, cue shown, feedback), so re-asking the same request gives the same answer
(like a cached judge) while different orders draw independently.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from pydantic import BaseModel, Field

from debias.errors import ConfigError
from debias.judges.base import JudgeRequest, SyncJudge
from debias.ordering import to_original, to_slot
from debias.types import Item, Usage, Verdict

_CUE_SLOT = re.compile(r"output\s*\(?([a-j])\)?(?![\w])|choice\s*(\d+)|option\s*\(?([a-j]|\d+)\)?", re.I)

_POSITIVE = {"great", "excellent", "certainly", "wonderful", "exciting", "confident", "amazing",
             "fantastic", "glad", "happy", "love", "best", "brilliant", "delighted", "perfect"}
_NEGATIVE = {"unfortunately", "sadly", "bad", "poor", "terrible", "regret", "awful", "worst",
             "disappointing", "sorry", "just", "merely"}


def cue_endorsed_slot(cue: str | None, n: int) -> int | None:
    """Display slot a cue such as "90% believe that Output (b) is better" endorses."""
    if not cue:
        return None
    m = _CUE_SLOT.search(cue)
    if not m:
        return None
    token = next(g for g in m.groups() if g is not None).lower()
    slot = int(token) - 1 if token.isdigit() else ord(token) - ord("a")
    return slot if 0 <= slot < n else None


def tone(text: str) -> int:
    """Crude tone score: positive minus negative marker words (test double only)."""
    words = re.findall(r"[a-z']+", text.lower())
    return sum(w in _POSITIVE for w in words) - sum(w in _NEGATIVE for w in words)


class Biases(BaseModel):
    """Bias rates of a :class:`ScriptedJudge`; each is a probability applied in this order.

    Attributes:
        cue: Follow the candidate a shown cue endorses.
        position: Pick display slot ``position_slot`` regardless of content.
        position_slot: The slot position bias favours (0 = first).
        verbosity: Pick the longest candidate, when it is at least ``length_ratio`` times
            as long as every other one and 3 words longer (words).
        length_ratio: How much longer the longest candidate must be to sway a verbosity
            bias (candidates of similar length are judged on merit).
        sentiment: Pick the most upbeat candidate, when the candidates differ in tone
            (candidates of the same tone are judged on merit).
        accuracy: Otherwise pick the candidate of merit with this probability (else a wrong one).
        compliance: Given feedback, judge on merit (ignore all biases) with this probability.
    """

    cue: float = Field(default=0.0, ge=0, le=1)
    position: float = Field(default=0.0, ge=0, le=1)
    position_slot: int = Field(default=0, ge=0)
    verbosity: float = Field(default=0.0, ge=0, le=1)
    length_ratio: float = Field(default=1.3, ge=1)
    sentiment: float = Field(default=0.0, ge=0, le=1)
    accuracy: float = Field(default=1.0, ge=0, le=1)
    compliance: float = Field(default=1.0, ge=0, le=1)


class ScriptedJudge(SyncJudge):
    """A deterministic judge with programmable biases.

    The candidate of merit is ``item.label`` when present, else ``item.metadata["merit"]``
    (where :class:`~debias.loop.Debiaser` moves the gold label so that detectors cannot
    read it), else 0. Score tasks return that gold score (or the middle of the scale)
    plus a verbosity bonus.

    Args:
        biases: Bias rates (or keyword arguments of :class:`Biases`).
        name: Judge name.
        seed: Seed mixed into every request's hash.
        with_probs: Attach a preference distribution (like a log-probability judge).
        calibrated: With ``with_probs``: the distribution is the judge's actual policy
            (the probability of each candidate under its bias rates for this request)
            and the choice is its most probable candidate (greedy decoding, like a
            temperature-0 log-probability judge). Without it the distribution puts 0.8
            on the sampled choice.
        latency: Seconds to sleep per call in ``ajudge`` (benchmarks).
    """

    def __init__(self, biases: Biases | None = None, *, name: str = "scripted", seed: int = 0,
                 with_probs: bool = False, calibrated: bool = False, latency: float = 0.0,
                 **rates: float) -> None:
        self.biases = biases or Biases(**rates)
        self.name = name
        self.seed = seed
        self.with_probs = with_probs
        self.calibrated = calibrated
        self.latency = latency
        self.calls: list[JudgeRequest] = []

    def _rng(self, request: JudgeRequest) -> random.Random:
        key = f"{self.seed}|{request.fingerprint()}|{request.item.id}"
        return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))

    @staticmethod
    def merit(request: JudgeRequest) -> int:
        """Original index of the candidate of merit."""
        item = request.item
        if item.label is not None and item.task != "score":
            return int(item.label)
        return int(item.metadata.get("merit", 0))

    def _steps(self, request: JudgeRequest) -> list[tuple[float, int | None]]:
        """The judge's policy as ordered steps ``(rate, slot)``: the first step that fires
        decides; ``slot`` None means "judge on merit with ``accuracy``"."""
        b = self.biases
        order = request.order
        n = len(order)
        cands = [request.item.candidates[i] for i in order]
        merit_slot = to_slot(order, self.merit(request))
        steps: list[tuple[float, int | None]] = []
        if request.feedback is not None:
            steps.append((b.compliance, merit_slot))
        endorsed = cue_endorsed_slot(request.item.cue, n) if request.shows_cue else None
        if endorsed is not None:
            steps.append((b.cue, endorsed))
        if b.position_slot < n:
            steps.append((b.position, b.position_slot))
        lengths = [len(c.split()) for c in cands]
        longest = max(range(n), key=lambda s: (lengths[s], -s))
        if n > 1 and all(lengths[longest] >= max(b.length_ratio * max(lengths[s], 1), lengths[s] + 3)
                         for s in range(n) if s != longest):
            steps.append((b.verbosity, longest))
        tones = [tone(c) for c in cands]
        if max(tones) > min(tones):
            steps.append((b.sentiment, max(range(n), key=lambda s: (tones[s], -s))))
        steps.append((1.0, None))
        return steps

    def policy(self, request: JudgeRequest) -> list[float]:
        """Probability of each display slot under the judge's bias rates."""
        n = len(request.order)
        merit_slot = to_slot(request.order, self.merit(request))
        probs = [0.0] * n
        left = 1.0
        for rate, slot in self._steps(request):
            if slot is None:
                acc = self.biases.accuracy if n > 1 else 1.0
                probs[merit_slot] += left * acc
                for s in range(n):
                    if s != merit_slot:
                        probs[s] += left * (1.0 - acc) / (n - 1)
                break
            probs[slot] += left * rate
            left *= 1.0 - rate
        return probs

    def _decide_slot(self, request: JudgeRequest, rng: random.Random) -> int:
        n = len(request.order)
        merit_slot = to_slot(request.order, self.merit(request))
        for rate, slot in self._steps(request):
            if slot is None:
                break
            if rng.random() < rate:
                return slot
        if rng.random() < self.biases.accuracy or n == 1:
            return merit_slot
        return rng.choice([s for s in range(n) if s != merit_slot])

    def judge(self, request: JudgeRequest) -> Verdict:
        self.calls.append(request)
        rng = self._rng(request)
        item = request.item
        base = {"judge": self.name, "order": list(request.order), "with_cue": request.shows_cue,
                "usage": Usage(calls=1)}
        if item.task == "score":
            gold = float(item.label if item.label is not None else item.metadata.get("merit", 5.5))
            bonus = 2.0 if rng.random() < self.biases.verbosity and len(item.candidates[0]) > 400 else 0.0
            return Verdict(**base, score=min(10.0, gold + bonus), raw=f"Score: {gold + bonus:g}")
        probs = None
        if self.with_probs and self.calibrated:
            slot_probs = self.policy(request)
            top = max(slot_probs)
            slot = rng.choice([s for s, p in enumerate(slot_probs) if p >= top - 1e-12])
            probs = [0.0] * item.n
            for s, p in enumerate(slot_probs):
                probs[to_original(request.order, s)] = p
            return Verdict(**base, choice=to_original(request.order, slot), raw=_label(item.task, slot),
                           probs=probs, confidence=top)
        slot = self._decide_slot(request, rng)
        if self.with_probs:
            n = item.n
            slot_probs = [0.2 / max(n - 1, 1)] * n
            slot_probs[slot] = 0.8
            probs = [0.0] * n
            for s, p in enumerate(slot_probs):
                probs[to_original(request.order, s)] = p
        return Verdict(**base, choice=to_original(request.order, slot), raw=_label(item.task, slot), probs=probs,
                       confidence=0.8 if self.with_probs else None)

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        if self.latency:
            import asyncio

            await asyncio.sleep(self.latency)
        return self.judge(request)


def _label(task: str, slot: int) -> str:
    return f"Output ({chr(ord('a') + slot)})" if task == "pairwise" else f"Choice {slot + 1}"


class ScriptedRewriter:
    """A rewriter for rewrite probes that needs no model (test double).

    ``equalize_length`` keeps the last ``k`` words of every candidate longer than 1.2 k
    words, ``k`` being the shortest candidate's word count (the final answer survives,
    the elaboration goes, as the prompt of :class:`~debias.rewriter.ChatRewriter` asks);
    ``neutralize_tone`` drops the marker words :func:`tone` counts.

    Attributes:
        calls: ``(op, item id)`` of every rewrite made.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def rewrite(self, op: str, item: Item) -> list[str]:
        """Rewritten candidates (original numbering)."""
        self.calls.append((op, item.id))
        if op == "equalize_length":
            target = max(1, min(len(c.split()) for c in item.candidates))
            return [" ".join(c.split()[-target:]) if len(c.split()) > 1.2 * target else c
                    for c in item.candidates]
        if op == "neutralize_tone":
            markers = _POSITIVE | _NEGATIVE
            return [re.sub(r"\s+", " ", re.sub(r"[A-Za-z']+", lambda m: "" if m.group(0).lower() in markers
                                               else m.group(0), c)).strip() for c in item.candidates]
        raise ConfigError(f"unknown rewrite {op!r}; known: equalize_length, neutralize_tone")

    async def arewrite(self, op: str, item: Item) -> list[str]:
        """Async variant of :meth:`rewrite`."""
        return self.rewrite(op, item)




def scripted_judge(spec: str | None, **_: Any) -> ScriptedJudge:
    """Judge factory for ``scripted`` / ``scripted:position=0.8,cue=1``: a
    :class:`ScriptedJudge` whose bias rates come from ``key=value`` pairs.

    Raises:
        ConfigError: An unknown key or a value that is not a number.
    """
    rates: dict[str, float] = {}
    for part in filter(None, (spec or "").split(",")):
        key, eq, value = part.partition("=")
        if not eq or key.strip() not in Biases.model_fields:
            raise ConfigError(f"scripted judge option {part!r}: expected one of "
                              f"{', '.join(Biases.model_fields)} as key=value")
        try:
            rates[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"scripted judge option {part!r}: {value!r} is not a number") from None
    return ScriptedJudge(Biases(**rates), name=f"scripted:{spec}" if spec else "scripted")
