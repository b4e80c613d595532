"""The local backend: a transformers model (embedded SmolLM2 by default) as a chat backend.

``create_backend("local")`` (the CLI's ``--judge local``) builds a backend on the embedded
SmolLM2-135M-Instruct, fetched on first use by :func:`debias.models.ensure_model`;
``local:PATH`` uses a Hugging Face model directory or a ``.gguf`` file instead, and
``local:NAME`` another embedded model, optionally with a peft LoRA ``adapter``. A judge on
it (``create_judge("local")``) reads the answer of pairwise and choice tasks from
next-token log-probabilities (``auto`` mode: one forward pass, no sampling, with a
confidence); score tasks are generated and parsed. The reasoning detector uses the batched
generation (:meth:`LocalBackend.complete_many`).

torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from debias.backends.base import Completion, Message, Sampling
from debias.backends.factory import backends, reject
from debias.backends.local_lm import LocalLM, LocalLMSpec, LocalModelPool
from debias.errors import ConfigError
from debias.models import MODELS, Progress, converted_dir, ensure_model, print_progress
from debias.types import Usage


class LocalBackend:
    """A :class:`~debias.backends.base.ChatBackend`,
    :class:`~debias.backends.base.OptionScorer` and
    :class:`~debias.backends.base.BatchChatBackend` on a
    :class:`~debias.backends.local_lm.LocalLM`.

    Async methods run the blocking model call in a worker thread
    (:func:`asyncio.to_thread`); the model's lock serializes calls.

    Args:
        lm: The loaded local model.
        name: Backend name (default ``local/<model name>``).
    """

    judge_mode = "auto"  # option scoring is exact locally: judges read logprobs by default

    def __init__(self, lm: LocalLM, *, name: str | None = None) -> None:
        self.lm = lm
        self.name = name or f"local/{lm.name}"

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Generate one reply (greedy when ``sampling.temperature`` is 0)."""
        return self.complete_many([messages], sampling)[0]

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Async :meth:`complete` (runs in a thread)."""
        return await asyncio.to_thread(self.complete, messages, sampling)

    def complete_many(self, batch: list[list[Message]], sampling: Sampling) -> list[Completion]:
        """One completion per chat, generated together (left-padded batches)."""
        outs = self.lm.generate(
            batch, max_new_tokens=sampling.max_tokens, temperature=sampling.temperature,
            batch_size=max(1, len(batch)),
            top_logprobs=sampling.top_logprobs if sampling.logprobs else 0,
        )
        return [Completion(text=o.text, top_logprobs=o.top_logprobs,
                           usage=Usage(calls=1, prompt_tokens=o.prompt_tokens,
                                       completion_tokens=o.completion_tokens))
                for o in outs]

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
            f"local model {spec!r}: not an embedded model ({', '.join(sorted(MODELS))}) and no "
            f"such file or directory"
        )
    return str(path)


@backends.register("local")
def local_backend(
    spec: str | None = None,
    *,
    adapter: str | None = None,
    api_base: str | None = None,
    pool: LocalModelPool | None = None,
    device: str = "auto",
    dtype: str = "auto",
    cache_dir: str | Path | None = None,
    progress: Progress | None = print_progress,
    name: str | None = None,
) -> LocalBackend:
    """A :class:`LocalBackend` on a local model.

    Args:
        spec: None (embedded SmolLM2), an embedded model name, a HF directory or a ``.gguf``.
        adapter: Optional peft LoRA adapter directory.
        api_base: Not accepted (a ConfigError says so): local models have no server.
        pool: Share loaded models with other components (e.g. a judge and a reasoning
            detector on the same base model); without one the model is loaded alone.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        dtype: ``auto``, ``float32``, ``float16`` or ``bfloat16``.
        cache_dir: Embedded-model cache directory.
        progress: Progress messages (fetching, loading); None silences them.
        name: Backend name (default ``local/<embedded name or directory>[+adapter]``).
    """
    reject(f"local backend {spec or 'local'!r}",
           api_base=(api_base, "applies to remote backends (litellm, openai-compat), not to "
                               "'local'"))
    path = resolve_local_spec(spec, cache_dir=cache_dir, progress=progress)
    try:
        lm_spec = LocalLMSpec(path=path, adapter=adapter, device=device, dtype=dtype)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(f"local backend {spec!r}: {exc}") from exc
    if progress is not None:
        progress(f"loading local model {lm_spec.display_name} ...")
    lm = pool.get(lm_spec) if pool is not None else LocalLM(lm_spec)
    if progress is not None:
        progress(f"local model {lm.name} on {lm.device} (loaded in {lm.load_seconds:.1f}s)")
    if name is None:
        wanted = spec or "smollm2"
        label = wanted if wanted in MODELS else Path(path).name
        name = f"local/{label}" + (f"+{Path(adapter).name}" if adapter else "")
    return LocalBackend(lm, name=name)
