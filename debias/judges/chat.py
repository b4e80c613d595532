"""ChatJudge: a judge on top of any chat backend (litellm, local transformers, test doubles).

One pure core (:meth:`ChatJudge._core`) renders the prompt, asks the backend, parses the
reply into a verdict in ORIGINAL numbering, and re-asks a bounded number of times when
the reply cannot be parsed. It is driven synchronously or asynchronously.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any, Literal

from debias.backends.base import ChatBackend, Completion, OptionScorer, Sampling
from debias.backends.effects import GenerateCall, OptionsCall, ahandle, handle
from debias.effects import adrive, drive
from debias.errors import ConfigError, LogprobsUnavailableError, VerdictParseError
from debias.judges.base import JudgeRequest
from debias.judges.prompts import Templates, answer_spec, reask_message, render_messages
from debias.ordering import probs_to_original, to_original
from debias.parsing import TIE, parse_choice, parse_score
from debias.types import Usage, Verdict

Mode = Literal["auto", "generate", "logprobs"]


__all__ = ["ChatJudge", "GenerateCall", "Mode", "OptionsCall"]


class ChatJudge:
    """A judge that prompts a chat backend.

    Args:
        backend: Any :class:`~debias.backends.base.ChatBackend`.
        name: Judge name recorded on verdicts (default: the backend's name).
        mode: ``generate`` (parse the reply), ``logprobs`` (read the answer from next-token
            log-probabilities of the slot tokens: one forward pass, yields a confidence;
            needs an :class:`~debias.backends.base.OptionScorer` backend), or ``auto``
            (logprobs for pairwise/choice when the backend supports it, else generate; a
            backend that raises LogprobsUnavailableError switches the judge to generate).
        sampling: Sampling for generation (default greedy, 256 tokens).
        max_reasks: Re-asks after an unparseable reply before giving up.
        templates: Prompt templates.
    """

    def __init__(
        self,
        backend: ChatBackend,
        *,
        name: str | None = None,
        mode: Mode = "auto",
        sampling: Sampling | None = None,
        max_reasks: int = 2,
        templates: Templates | None = None,
    ) -> None:
        if mode not in ("auto", "generate", "logprobs"):
            raise ConfigError(f"mode {mode!r} is not one of auto, generate, logprobs")
        if max_reasks < 0:
            raise ConfigError(f"max_reasks must be >= 0, got {max_reasks}")
        if mode == "logprobs" and not isinstance(backend, OptionScorer):
            raise ConfigError(f"mode 'logprobs' needs a backend that scores options; "
                              f"{type(backend).__name__} does not")
        self.backend = backend
        self.name = name or getattr(backend, "name", type(backend).__name__)
        self.mode = mode
        self.sampling = sampling or Sampling(temperature=0.0, max_tokens=256)
        self.max_reasks = max_reasks
        self.templates = templates or Templates()
        self._logprobs_unavailable = False

    def _uses_logprobs(self, request: JudgeRequest) -> bool:
        if request.item.task == "score" or self.mode == "generate":
            return False
        if request.item.n > 9:  # "10" shares its first token with "1"
            return False
        return self.mode == "logprobs" or isinstance(self.backend, OptionScorer)

    def _core(self, request: JudgeRequest) -> Generator[Any, Any, Verdict]:
        messages = render_messages(request, self.templates)
        spec = answer_spec(request, self.templates)
        base = {"judge": self.name, "order": list(request.order), "with_cue": request.shows_cue}
        if self._uses_logprobs(request) and not self._logprobs_unavailable:
            try:
                logprobs, usage = yield OptionsCall(messages, spec.prefix, spec.options)
            except LogprobsUnavailableError:
                if self.mode == "logprobs":
                    raise
                self._logprobs_unavailable = True  # auto: remember and generate from now on
                return (yield from self._core(request))
            top = max(logprobs)
            weights = [math.exp(lp - top) for lp in logprobs]
            total = sum(weights)
            slot_probs = [w / total for w in weights]
            slot = max(range(len(slot_probs)), key=lambda s: slot_probs[s])
            return Verdict(**base, choice=to_original(request.order, slot),
                           probs=probs_to_original(request.order, slot_probs),
                           confidence=slot_probs[slot], raw=spec.render(slot), usage=usage,
                           prompt_version=self.templates.version)
        usage = Usage()
        history = list(messages)
        last_error: VerdictParseError | None = None
        for _attempt in range(self.max_reasks + 1):
            completion: Completion = yield GenerateCall(history, self.sampling)
            usage = usage.add(completion.usage)
            try:
                if request.item.task == "score":
                    score = parse_score(completion.text, self.templates.score_low,
                                        self.templates.score_high)
                    return Verdict(**base, score=score, raw=completion.text, usage=usage,
                                   prompt_version=self.templates.version)
                parsed = parse_choice(completion.text, request.item.n)
            except VerdictParseError as exc:
                last_error = exc
                history = [*history, {"role": "assistant", "content": completion.text},
                           reask_message(spec)]
                continue
            if parsed == TIE:
                return Verdict(**base, tie=True, raw=completion.text, usage=usage,
                               prompt_version=self.templates.version)
            return Verdict(**base, choice=to_original(request.order, parsed), raw=completion.text,
                           usage=usage, prompt_version=self.templates.version)
        assert last_error is not None
        raise VerdictParseError(
            f"judge {self.name!r} gave no parseable decision after {self.max_reasks + 1} "
            f"attempts on item {request.item.id!r}: {last_error}",
            last_error.text,
        )

    def _handle(self, effect: GenerateCall | OptionsCall) -> Any:
        return handle(self.backend, effect)  # the backend may be swapped (cache wrapper)

    async def _ahandle(self, effect: GenerateCall | OptionsCall) -> Any:
        return await ahandle(self.backend, effect)

    def judge(self, request: JudgeRequest) -> Verdict:
        """Judge one request."""
        return drive(self._core(request), self._handle)

    async def ajudge(self, request: JudgeRequest) -> Verdict:
        """Judge one request asynchronously."""
        return await adrive(self._core(request), self._ahandle)
