"""What a batch run does to each item, independent of where it runs.

:class:`RunPlan` is the picklable description of ``debias run``'s debiaser (judge spec,
detectors, rounds, cache); :func:`build_debiaser` turns it into a
:class:`~debias.loop.Debiaser`. The local engine builds one in this process; the Ray
engine builds one per actor (so a local model loads once per actor).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from debias.backends.base import Completion, Message, Sampling
from debias.errors import ConfigError
from debias.loop import Debiaser
from debias.types import Usage


class RunPlan(BaseModel):
    """How every item of a batch run is judged and debiased.

    Attributes:
        judge: Judge spec (``local``, ``local:PATH``, ``openai-compat:MODEL``, a litellm
            model string, ``scripted:...``).
        api_base: API base URL for API judges (and the rewriter).
        detectors: Detector specs, comma-separated; ``none`` or empty for none.
        max_rounds: Revision rounds after the first judgement.
        strict: Raise on detector errors.
        rewriter: Model that rewrites candidates for length/tone probes (optional).
        cache_dir: Folder of the model-call cache; None for no cache.
        judge_factory: Builds the judge instead of ``judge`` (library use and tests; must
            be picklable for the Ray engine).
        budget: Judge calls per item the run may spend: ``auto`` or a number >= 1 (see
            :class:`~debias.budget.Budget`); None probes everything. With the Ray engine
            each actor keeps its own budget state.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    judge: str = "local"
    api_base: str | None = None
    detectors: str = "position,bandwagon,verbosity,sentiment"
    max_rounds: int = Field(default=2, ge=0, le=20)
    strict: bool = False
    rewriter: str | None = None
    cache_dir: Path | None = None
    judge_factory: Callable[[], Any] | None = None
    budget: str | None = None

    @field_validator("judge")
    @classmethod
    def _judge_named(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("judge spec is empty")
        return v

    @property
    def local_model(self) -> bool:
        """Whether the judge is a local model (one item at a time per process by default)."""
        return self.judge_factory is None and self.judge.startswith("local")


class Gate(Protocol):
    """Waited for before every model call (e.g. a rate limit shared by many processes)."""

    async def wait(self) -> None:
        """Return when the next call may start."""
        ...

    def wait_sync(self) -> None:
        """Blocking form of :meth:`wait` (for synchronous backends)."""
        ...


class GatedBackend:
    """A chat backend whose calls each wait for a gate first.

    Args:
        backend: The backend to wrap.
        gate: The gate.
    """

    def __init__(self, backend: Any, gate: Gate) -> None:
        self.backend = backend
        self.gate = gate
        self.name = backend.name

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        self.gate.wait_sync()
        return self.backend.complete(messages, sampling)  # type: ignore[no-any-return]

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        await self.gate.wait()
        return await self.backend.acomplete(messages, sampling)  # type: ignore[no-any-return]


class GatedScoringBackend(GatedBackend):
    """A :class:`GatedBackend` over a backend that also scores options."""

    def option_logprobs(self, messages: list[Message], prefix: str,
                        options: list[str]) -> tuple[list[float], Usage]:
        self.gate.wait_sync()
        return self.backend.option_logprobs(messages, prefix, options)  # type: ignore[no-any-return]

    async def aoption_logprobs(self, messages: list[Message], prefix: str,
                               options: list[str]) -> tuple[list[float], Usage]:
        await self.gate.wait()
        return await self.backend.aoption_logprobs(messages, prefix, options)  # type: ignore[no-any-return]


def gated(backend: Any, gate: Gate) -> GatedBackend:
    """``backend`` with every call waiting for ``gate`` (keeps option scoring if it has it)."""
    from debias.judges.base import OptionScorer

    cls = GatedScoringBackend if isinstance(backend, OptionScorer) else GatedBackend
    return cls(backend, gate)


def build_debiaser(plan: RunPlan, *, gate: Gate | None = None) -> Debiaser:
    """The debiaser a plan describes.

    Args:
        plan: The plan.
        gate: Waited for before every model call of a chat judge (cache hits skip it).

    Raises:
        ConfigError: Unknown judge spec, or a rewriter that is not a chat model.
    """
    from debias.backends import require_credentials
    from debias.budget import Budget
    from debias.cache import CallCache, with_cache
    from debias.judges import create_judge
    from debias.judges.chat import ChatJudge

    kwargs = {"api_base": plan.api_base} if plan.api_base else {}
    judge = plan.judge_factory() if plan.judge_factory is not None else create_judge(plan.judge, **kwargs)
    require_credentials(judge, role="--judge")  # before the first item, not 5 retries per item
    if isinstance(judge, ChatJudge):
        if gate is not None:
            judge.backend = gated(judge.backend, gate)
        if plan.cache_dir is not None:
            judge.backend = with_cache(judge.backend, CallCache(Path(plan.cache_dir) / "calls.sqlite"))
    rewriter = None
    if plan.rewriter:
        from debias.rewriter import ChatRewriter

        rewriter_judge = create_judge(plan.rewriter, **kwargs)
        if not isinstance(rewriter_judge, ChatJudge):
            raise ConfigError(f"--rewriter {plan.rewriter!r} is not a chat model")
        require_credentials(rewriter_judge, role="--rewriter")
        rewriter = ChatRewriter(rewriter_judge.backend)
    detectors: Any = [] if plan.detectors.strip() in ("", "none") else plan.detectors
    return Debiaser(judge, detectors, max_rounds=plan.max_rounds, strict=plan.strict, rewriter=rewriter,
                    budget=Budget.parse(plan.budget))
