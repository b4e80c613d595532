"""The local judge: a :class:`ChatJudge` on a transformers model (embedded SmolLM2 by default).

``judges.create("local")`` (the CLI's ``--judge local``) builds a judge on the embedded
SmolLM2-135M-Instruct, fetched on first use by :func:`debias.models.ensure_model`;
``local:PATH`` uses a Hugging Face model directory or a ``.gguf`` file instead, and
``local:NAME`` another embedded model. For pairwise and choice tasks the judge reads the
answer from next-token log-probabilities (one forward pass, no sampling, with a
confidence); score tasks are generated and parsed.

torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from debias.errors import ConfigError
from debias.judges.base import Completion, Message, Sampling, judges
from debias.judges.chat import ChatJudge
from debias.local_lm import LocalLM, LocalLMSpec, LocalModelPool
from debias.models import MODELS, Progress, converted_dir, ensure_model, print_progress
from debias.types import Usage


class LocalBackend:
    """A :class:`~debias.judges.base.ChatBackend` and
    :class:`~debias.judges.base.OptionScorer` on a :class:`~debias.local_lm.LocalLM`.

    Async methods run the blocking model call in a worker thread
    (:func:`asyncio.to_thread`); the model's lock serializes calls.

    Args:
        lm: The loaded local model.
        name: Backend name (default ``local/<model name>``).
    """

    def __init__(self, lm: LocalLM, *, name: str | None = None) -> None:
        self.lm = lm
        self.name = name or f"local/{lm.name}"

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Generate one reply (greedy when ``sampling.temperature`` is 0)."""
        out = self.lm.generate(
            [messages],
            max_new_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_logprobs=sampling.top_logprobs if sampling.logprobs else 0,
        )[0]
        usage = Usage(calls=1, prompt_tokens=out.prompt_tokens,
                      completion_tokens=out.completion_tokens)
        return Completion(text=out.text, top_logprobs=out.top_logprobs, usage=usage)

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Async :meth:`complete` (runs in a thread)."""
        return await asyncio.to_thread(self.complete, messages, sampling)

    def option_logprobs(
        self, messages: list[Message], prefix: str, options: list[str]
    ) -> tuple[list[float], Usage]:
        """Log-probability of each option after the assistant ``prefix`` (one forward pass)."""
        return self.lm.option_logprobs(messages, prefix, options)

    async def aoption_logprobs(
        self, messages: list[Message], prefix: str, options: list[str]
    ) -> tuple[list[float], Usage]:
        """Async :meth:`option_logprobs` (runs in a thread)."""
        return await asyncio.to_thread(self.lm.option_logprobs, messages, prefix, options)


def resolve_local_spec(
    spec: str | None,
    *,
    cache_dir: str | Path | None = None,
    progress: Progress | None = print_progress,
) -> str:
    """The model path for a ``local`` judge spec (fetching the embedded model if needed).

    ``None`` or an embedded model name -> its cached dequantized directory when
    ``debias models pull NAME --convert`` made one, else its GGUF file (fetched on first
    use). Anything else must be an existing HF model directory or ``.gguf`` file.

    Raises:
        ConfigError: The path does not exist.
    """
    wanted = spec or "smollm2"
    if wanted in MODELS:
        converted = converted_dir(wanted, cache_dir)
        if (converted / "config.json").is_file():
            return str(converted)
        return str(ensure_model(wanted, cache_dir=cache_dir, progress=progress))
    path = Path(wanted).expanduser()
    if not path.exists():
        raise ConfigError(
            f"local judge {spec!r}: not an embedded model ({', '.join(sorted(MODELS))}) and no "
            f"such file or directory"
        )
    return str(path)


@judges.register("local")
def local_judge(
    spec: str | None = None,
    *,
    pool: LocalModelPool | None = None,
    adapter: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    cache_dir: str | Path | None = None,
    progress: Progress | None = print_progress,
    name: str | None = None,
    **judge_kwargs: Any,
) -> ChatJudge:
    """A :class:`ChatJudge` on a local model, in ``auto`` mode (log-probabilities for choices).

    Args:
        spec: None (embedded SmolLM2), an embedded model name, a HF directory or a ``.gguf``.
        pool: Share loaded models with other components (e.g. a reasoning detector on the
            same base model); without one the model is loaded for this judge alone.
        adapter: Optional peft LoRA adapter directory.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        dtype: ``auto``, ``float32``, ``float16`` or ``bfloat16``.
        cache_dir: Embedded-model cache directory.
        progress: Progress messages (fetching); None silences them.
        name: Judge name (default ``local/<model>``).
        **judge_kwargs: Passed to :class:`ChatJudge` (``mode``, ``sampling``, ``max_reasks``,
            ``templates``).
    """
    path = resolve_local_spec(spec, cache_dir=cache_dir, progress=progress)
    try:
        lm_spec = LocalLMSpec(path=path, adapter=adapter, device=device, dtype=dtype)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(f"local judge {spec!r}: {exc}") from exc
    if progress is not None:
        progress(f"loading local judge model {lm_spec.display_name} ...")
    lm = pool.get(lm_spec) if pool is not None else LocalLM(lm_spec)
    if progress is not None:
        progress(f"local judge model {lm.name} on {lm.device} (loaded in {lm.load_seconds:.1f}s)")
    if name is None:
        wanted = spec or "smollm2"
        label = wanted if wanted in MODELS else Path(path).name
        name = f"local/{label}" + (f"+{Path(adapter).name}" if adapter else "")
    judge_name = name
    judge_kwargs.setdefault("mode", "auto")
    return ChatJudge(LocalBackend(lm, name=judge_name), name=judge_name, **judge_kwargs)
