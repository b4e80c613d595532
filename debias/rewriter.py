"""A rewriter model for rewrite probes: length-equalised or tone-neutralised candidates.

Detectors plan probes such as ``ProbeSpec(rewrite="equalize_length")``; the loop runs
them only when a rewriter is configured (``Debiaser(rewriter=ChatRewriter(backend))``,
``debias run --rewriter MODEL``). Each candidate is rewritten by one model call; the
judge is then re-asked on the rewritten item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from debias.backends.base import ChatBackend, Message, Sampling
from debias.errors import ConfigError
from debias.types import Item

EQUALIZE = (
    "Rewrite the answer below so that it is at most about {target} words long. Keep its "
    "claims, final answer and correctness exactly as they are (do not fix or add anything); "
    "only remove elaboration and repetition. Reply with the rewritten answer only.\n\n"
    "### Question:\n{instruction}\n\n### Answer:\n{text}"
)
NEUTRALIZE = (
    "Rewrite the answer below in a neutral, matter-of-fact tone: remove enthusiasm, "
    "praise, apologies and negative or positive framing. Keep its claims and final answer "
    "exactly as they are (do not fix or add anything). Reply with the rewritten answer only."
    "\n\n### Question:\n{instruction}\n\n### Answer:\n{text}"
)
OPS = ("equalize_length", "neutralize_tone")


class ChatRewriter:
    """Rewrites candidates with a chat backend (any litellm model or a local model).

    Args:
        backend: The chat backend doing the rewriting.
        sampling: Sampling settings (default greedy, 512 tokens).
    """

    def __init__(self, backend: ChatBackend, sampling: Sampling | None = None) -> None:
        self.backend = backend
        self.sampling = sampling or Sampling(temperature=0.0, max_tokens=512)

    @staticmethod
    def prompts(op: str, item: Item) -> list[Message | None]:
        """One prompt per candidate, or None where the candidate is kept as is."""
        if op not in OPS:
            raise ConfigError(f"unknown rewrite {op!r}; known: {', '.join(OPS)}")
        if op == "neutralize_tone":
            return [{"role": "user", "content": NEUTRALIZE.format(instruction=item.instruction, text=c)}
                    for c in item.candidates]
        words = [len(c.split()) for c in item.candidates]
        target = max(1, min(words))
        return [None if w <= target * 1.2 else
                {"role": "user", "content": EQUALIZE.format(target=target, instruction=item.instruction, text=c)}
                for c, w in zip(item.candidates, words, strict=True)]

    def _core(self, op: str, item: Item) -> Generator[list[Message | None], list[str | None], list[str]]:
        texts = yield self.prompts(op, item)
        return [t.strip() if t is not None else c for t, c in zip(texts, item.candidates, strict=True)]

    def rewrite(self, op: str, item: Item) -> list[str]:
        """Rewritten candidates (original numbering)."""
        core = self._core(op, item)
        prompts = next(core)
        texts = [None if p is None else self.backend.complete([p], self.sampling).text for p in prompts]
        return _finish(core, texts)

    async def arewrite(self, op: str, item: Item) -> list[str]:
        """Async variant of :meth:`rewrite` (candidates rewritten concurrently)."""
        core = self._core(op, item)
        prompts = next(core)

        async def one(p: Message | None) -> str | None:
            return None if p is None else (await self.backend.acomplete([p], self.sampling)).text

        texts = list(await asyncio.gather(*(one(p) for p in prompts)))
        return _finish(core, texts)


def _finish(core: Generator[Any, Any, list[str]], texts: list[str | None]) -> list[str]:
    try:
        core.send(texts)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("rewriter core did not finish")  # pragma: no cover
