"""Local causal language models on transformers (CPU or GPU), with optional LoRA adapters.

:class:`LocalLM` loads a Hugging Face model directory (or hub id) or a single ``.gguf`` file
(dequantized by transformers; needs the ``gguf`` package), optionally with a peft LoRA
adapter, and offers two operations:

- :meth:`LocalLM.generate`: batched generation (left padding, chat template) returning texts
  and token counts;
- :meth:`LocalLM.option_logprobs`: ONE forward pass giving the log-probability of each
  option (``"a"``, ``"b"`` / ``"1"``, ``"2"`` ...) as the next token after the rendered
  prompt plus an assistant prefix, with tokenization boundaries handled exactly.

Sharing: :class:`LocalModelPool` hands out :class:`LocalLM` instances by spec. Views of the
same base model (same path, device and dtype) share one copy of the weights, even when they
use different LoRA adapters: adapters are attached to the shared model and switched per call
under the base model's lock (a view without adapter runs with adapters disabled). So the
local judge and a reasoning detector built on the same model do not double memory when they
come from the same pool. There is no module-level cache: create one pool per application (or
run) and pass it to the factories that load models.

torch, transformers and peft are imported lazily; a missing one raises
:class:`~debias.errors.MissingDependencyError` naming ``pip install "judge-debias[local]"``.

Chat rendering: the tokenizer's chat template when it has one; otherwise the documented
fallback :data:`FALLBACK_TEMPLATE` (``"System: ...\\n\\nUser: ...\\n\\nAssistant:"``; the
assistant's text follows after one space).

All model calls hold a lock, so a :class:`LocalLM` may be used from several threads (async
callers use :func:`asyncio.to_thread`); calls on one base model run one at a time.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from debias import optional
from debias.backends.base import Message
from debias.errors import ConfigError, FatalModelError
from debias.types import Usage

log = logging.getLogger(__name__)

FALLBACK_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}\n\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
"""Chat template used when a tokenizer has none: ``Role: content`` blocks separated by blank
lines, then ``Assistant:``. The assistant's text follows after ONE space (generation prompts
end at ``Assistant:`` and the reply is left-stripped; scoring contexts end with
``"Assistant: " + prefix``). Special tokens (BOS) are added by the tokenizer as for plain text."""

Device = str
DType = Literal["auto", "float32", "float16", "bfloat16"]


def require(module: str) -> Any:
    """Import an optional dependency of the local stack, or fail with an install hint.

    Raises:
        MissingDependencyError: When ``module`` cannot be imported.
    """
    return optional.require(module, "local", purpose="local models")


class LocalLMSpec(BaseModel):
    """What to load: a model plus device/dtype and an optional LoRA adapter.

    A ``path`` ending in ``.gguf`` is split into its directory and ``gguf_file``.
    Local paths are made absolute, so equal specs mean the same model.

    Attributes:
        path: Hugging Face model directory, hub id, or a ``.gguf`` file.
        gguf_file: Name of the GGUF file inside ``path`` (set automatically for .gguf paths).
        adapter: Directory of a peft LoRA adapter to apply, or None.
        device: ``auto`` (cuda if available, then mps, else cpu), ``cpu``, ``cuda``,
            ``cuda:N`` or ``mps``.
        dtype: ``auto`` (float32 on CPU, bfloat16/float16 on GPU) or an explicit dtype.
    """

    model_config = ConfigDict(frozen=True)

    path: str = Field(min_length=1)
    gguf_file: str | None = None
    adapter: str | None = None
    device: Device = "auto"
    dtype: DType = "auto"

    @model_validator(mode="before")
    @classmethod
    def _split_gguf(cls, data: Any) -> Any:
        if isinstance(data, dict) and str(data.get("path", "")).endswith(".gguf"):
            if data.get("gguf_file"):
                raise ValueError(f"path {data['path']!r} is a .gguf file and gguf_file is also set")
            p = Path(str(data["path"])).expanduser()
            data = {**data, "path": str(p.parent), "gguf_file": p.name}
        return data

    @field_validator("path", "adapter")
    @classmethod
    def _absolute(cls, v: str | None) -> str | None:
        if v is None:
            return v
        p = Path(v).expanduser()
        return str(p.resolve()) if p.exists() else v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        head, _, index = v.partition(":")
        if head not in ("auto", "cpu", "cuda", "mps") or (index and not (head == "cuda" and index.isdigit())):
            raise ValueError(f"device {v!r} is not one of auto, cpu, cuda, cuda:N, mps")
        return v

    @property
    def base(self) -> LocalLMSpec:
        """The same spec without adapter (what shares weights)."""
        return self.model_copy(update={"adapter": None})

    @property
    def display_name(self) -> str:
        """Short name: GGUF file stem or directory name, plus ``+adapter`` name."""
        base = Path(self.gguf_file).stem if self.gguf_file else Path(self.path).name
        return f"{base}+{Path(self.adapter).name}" if self.adapter else base

    def resolved(self) -> LocalLMSpec:
        """A copy with ``device`` and ``dtype`` made concrete (imports torch).

        Raises:
            ConfigError: When the requested device is not available.
        """
        torch = require("torch")
        device = self.device
        if device == "auto":
            if torch.cuda.is_available():
                device = "cuda"
            elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
                device = "mps"
            else:
                device = "cpu"
        elif device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise ConfigError(f"device {self.device!r} requested but torch sees no CUDA GPU "
                                  f"(torch {torch.__version__})")
            index = int(device.partition(":")[2] or 0)
            if index >= torch.cuda.device_count():
                raise ConfigError(f"device {self.device!r}: only {torch.cuda.device_count()} "
                                  "CUDA device(s) visible")
        elif device == "mps" and not torch.backends.mps.is_available():
            raise ConfigError("device 'mps' requested but it is not available")
        dtype = self.dtype
        if dtype == "auto":
            if device.startswith("cuda"):
                dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
            elif device == "mps":
                dtype = "float16"
            else:
                dtype = "float32"
        return self.model_copy(update={"device": device, "dtype": dtype})


class Generation(BaseModel):
    """One generated reply.

    Attributes:
        text: The reply, special tokens removed.
        prompt_tokens: Tokens in the rendered prompt.
        completion_tokens: Tokens generated (including the end-of-turn token when emitted).
        finish_reason: ``stop`` (end-of-turn token) or ``length`` (``max_new_tokens`` hit).
        top_logprobs: When asked for, for each generated token a map token text -> logprob
            of the most likely alternatives (raw model distribution, before sampling settings).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]
    top_logprobs: list[dict[str, float]] | None = None


class _Base:
    """A loaded model and tokenizer shared by every :class:`LocalLM` view of it."""

    def __init__(self, spec: LocalLMSpec) -> None:
        torch = require("torch")
        transformers = require("transformers")
        if spec.gguf_file:
            require("gguf")
        self.spec = spec
        self.lock = threading.RLock()
        self.adapters: dict[str, str] = {}  # adapter path -> adapter name in the peft model
        started = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if spec.gguf_file:
            kwargs["gguf_file"] = spec.gguf_file
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(spec.path, **kwargs)
            dtype_key = "dtype" if _version_at_least(transformers.__version__, (4, 56)) else "torch_dtype"
            model = transformers.AutoModelForCausalLM.from_pretrained(
                spec.path, **kwargs, **{dtype_key: getattr(torch, spec.dtype)}
            )
        except (OSError, ValueError) as exc:
            where = f"{spec.path}/{spec.gguf_file}" if spec.gguf_file else spec.path
            raise ConfigError(f"could not load a causal LM from {where}: {exc}") from exc
        self.model = model.to(spec.device).eval()
        self.load_seconds = time.perf_counter() - started
        tok = self.tokenizer
        if spec.gguf_file:
            _align_gguf_special_tokens(tok, self.model)
        tok.padding_side = "left"
        if tok.pad_token is None:
            if tok.eos_token is None:
                raise ConfigError(f"tokenizer of {spec.path} has neither a pad nor an eos token")
            tok.pad_token = tok.eos_token
        self.has_template = bool(getattr(tok, "chat_template", None))
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tok.eos_token_id is not None:
            eos_ids.add(tok.eos_token_id)
        self.eos_ids = sorted(eos_ids)
        self.max_positions = getattr(self.model.config, "max_position_embeddings", None)
        self.keeps_logits = "logits_to_keep" in _forward_params(self.model)

    def attach_adapter(self, path: str) -> str:
        """Load a LoRA adapter onto the shared model (once); return its adapter name."""
        with self.lock:
            if path in self.adapters:
                return self.adapters[path]
            peft = require("peft")
            name = f"adapter{len(self.adapters)}"
            try:
                if not self.adapters:
                    self.model = peft.PeftModel.from_pretrained(self.model, path, adapter_name=name)
                else:
                    self.model.load_adapter(path, adapter_name=name)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"could not load LoRA adapter from {path}: {exc}") from exc
            self.model.to(self.spec.device).eval()
            self.adapters[path] = name
            return name


def _forward_params(model: Any) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _version_at_least(version: str, wanted: tuple[int, int]) -> bool:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts) >= wanted


class LocalLM:
    """A local causal LM: batched chat generation and one-pass option scoring.

    Args:
        spec: A :class:`LocalLMSpec`, or a path / hub id (then ``overrides`` are spec fields:
            ``adapter``, ``device``, ``dtype``, ``gguf_file``).
        **overrides: Spec fields when ``spec`` is a path.

    Raises:
        MissingDependencyError: torch/transformers (or gguf, peft when needed) missing.
        ConfigError: The model, tokenizer, adapter or device cannot be used.

    Example:
        >>> lm = LocalLM("SmolLM2-135M-Instruct.Q4_1.gguf", device="cpu")  # doctest: +SKIP
        >>> lm.option_logprobs([{"role": "user", "content": "a or b?"}], "Output (", ["a", "b"])
    """

    def __init__(self, spec: LocalLMSpec | str | os.PathLike[str], **overrides: Any) -> None:
        full = _as_spec(spec, overrides).resolved()
        self._init_view(_Base(full.base), full)

    @classmethod
    def _view(cls, base: _Base, spec: LocalLMSpec) -> LocalLM:
        self = cls.__new__(cls)
        self._init_view(base, spec)
        return self

    def _init_view(self, base: _Base, spec: LocalLMSpec) -> None:
        self._base = base
        self.spec = spec
        self._adapter = base.attach_adapter(spec.adapter) if spec.adapter else None
        self.name = spec.display_name

    def with_adapter(self, adapter: str | os.PathLike[str] | None) -> LocalLM:
        """A view of the same loaded weights with another LoRA adapter (None: no adapter)."""
        spec = self.spec.model_copy(update={"adapter": None})
        if adapter is not None:
            spec = LocalLMSpec(**{**spec.model_dump(), "adapter": str(adapter)})
        return LocalLM._view(self._base, spec)

    @property
    def tokenizer(self) -> Any:
        """The (shared) tokenizer; left padding, pad token set."""
        return self._base.tokenizer

    @property
    def model(self) -> Any:
        """The (shared) torch model; a peft model once any adapter was attached."""
        return self._base.model

    @property
    def device(self) -> str:
        """The concrete device the weights live on."""
        return self.spec.device

    @property
    def load_seconds(self) -> float:
        """Seconds spent loading the base model and tokenizer."""
        return self._base.load_seconds

    def shares_weights_with(self, other: LocalLM) -> bool:
        """Whether both views use the same loaded base model."""
        return self._base is other._base

    # ----------------------------------------------------------------- rendering

    def render(self, messages: Sequence[Message], prefix: str | None = None) -> str:
        """The prompt text for ``messages``.

        With ``prefix=None`` this is the generation prompt; with a string it is the scoring
        context: the prompt followed by the start of the assistant's reply.
        """
        if not messages:
            raise ConfigError("messages must not be empty")
        tok = self.tokenizer
        if self._base.has_template:
            text = _apply_template(tok, list(messages))
            return text if prefix is None else text + prefix
        text = _render_fallback(tok, list(messages))
        return text if prefix is None else f"{text} {prefix}"

    def _encode(self, text: str) -> list[int]:
        special = not self._base.has_template  # templates already contain BOS etc.
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    # ----------------------------------------------------------------- scoring

    def option_logprobs(
        self, messages: Sequence[Message], prefix: str, options: Sequence[str]
    ) -> tuple[list[float], Usage]:
        """Log-probability of each option starting the assistant reply after ``prefix``.

        One forward pass over the context (prompt + ``prefix``). For each option, the text
        ``context + option`` is tokenized and compared with the context's tokens: the first
        token that differs is the option's token. When the boundary merges (``"Choice "`` +
        ``"1"`` tokenizes as ``"Choice", " 1"``), the option is scored from the last common
        token, and the context tokens it skips are included so that all options are scored
        as token sequences from the same starting position (exact, and the probabilities of
        distinct options sum to at most 1).

        Returns:
            (log-probabilities in the order of ``options``, usage of the call).

        Raises:
            ConfigError: An option is empty, or two options share their scored token (e.g.
                ``"1"`` and ``"10"`` with digit tokenization).
            FatalModelError: The context is longer than the model's context window.
        """
        if not options:
            raise ConfigError("options must not be empty")
        context = self.render(messages, prefix)
        ctx = self._encode(context)
        targets: list[tuple[int, int]] = []  # (k = common prefix length, option token id)
        seen: dict[tuple[int, int], str] = {}
        for option in options:
            if not option:
                raise ConfigError(f"options must be non-empty strings, got {list(options)!r}")
            full = self._encode(context + option)
            k = _common_prefix(ctx, full)
            if k == 0 or k >= len(full):
                raise ConfigError(f"cannot score option {option!r}: its tokens do not extend "
                                  "the context")
            key = (k, full[k])
            if key in seen:
                raise ConfigError(
                    f"options {seen[key]!r} and {option!r} start with the same token "
                    f"{self.tokenizer.decode([full[k]])!r}; use options that differ in their "
                    "first token (e.g. letters)"
                )
            seen[key] = option
            targets.append(key)
        self._check_length(len(ctx), 0)
        start = min(k for k, _ in targets)  # earliest scored position
        torch = require("torch")
        with self._base.lock, torch.inference_mode(), self._adapter_scope():
            ids = torch.tensor([ctx], device=self.device)
            kwargs: dict[str, Any] = {"use_cache": False}
            keep = len(ctx) - start + 1
            if self._base.keeps_logits:
                kwargs["logits_to_keep"] = keep
            logits = self.model(input_ids=ids, **kwargs).logits[0, -keep:].float()
            logp = torch.log_softmax(logits, dim=-1)
        # row r of logp predicts the token at position start + r (given ctx[: start + r])
        ctx_lp = [float(logp[j - start, ctx[j]]) for j in range(start, len(ctx))]
        scores = []
        for k, token in targets:
            skipped = sum(ctx_lp[: k - start])
            scores.append(skipped + float(logp[k - start, token]))
        return scores, Usage(calls=1, prompt_tokens=len(ctx), completion_tokens=0)

    # ----------------------------------------------------------------- generation

    def generate(
        self,
        conversations: Sequence[Sequence[Message]],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        batch_size: int = 8,
        top_logprobs: int = 0,
    ) -> list[Generation]:
        """Generate one reply per conversation, in batches (left padding).

        Args:
            conversations: Message lists (``{"role", "content"}`` dicts).
            max_new_tokens: Maximum tokens generated per reply.
            temperature: 0 for greedy decoding, else sampling temperature.
            top_p: Nucleus sampling threshold (sampling only).
            seed: Seed for torch's RNG before sampling (sampling only).
            batch_size: Conversations per forward batch (prompts are grouped by length).
            top_logprobs: When > 0, record that many alternatives per generated token.

        Returns:
            One :class:`Generation` per conversation, in input order.
        """
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {temperature}")
        prompts = [self.render(conv) for conv in conversations]
        encoded = [self._encode(p) for p in prompts]
        for ids in encoded:
            self._check_length(len(ids), max_new_tokens)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        results: list[Generation | None] = [None] * len(encoded)
        for lo in range(0, len(order), batch_size):
            chunk = order[lo: lo + batch_size]
            outs = self._generate_batch([encoded[i] for i in chunk], max_new_tokens,
                                        temperature, top_p, seed, top_logprobs)
            for i, out in zip(chunk, outs, strict=True):
                results[i] = out
        return [r for r in results if r is not None]

    def _generate_batch(self, batch: list[list[int]], max_new_tokens: int, temperature: float,
                        top_p: float, seed: int | None, top_logprobs: int) -> list[Generation]:
        torch = require("torch")
        tok = self.tokenizer
        width = max(len(ids) for ids in batch)
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch],
                                 device=self.device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch],
                            device=self.device)
        sample = temperature > 0
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "do_sample": sample,
            "pad_token_id": pad,
            "eos_token_id": self._base.eos_ids or None,
            "return_dict_in_generate": True,
            "output_logits": top_logprobs > 0,
        }
        if sample:
            gen_kwargs.update(temperature=temperature, top_p=top_p, top_k=0)
        else:
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        with self._base.lock, torch.inference_mode(), self._adapter_scope():
            if sample and seed is not None:
                torch.manual_seed(seed)
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, **gen_kwargs)
        new = out.sequences[:, width:].tolist()
        eos = set(self._base.eos_ids)
        results = []
        for row, ids in enumerate(new):
            stop = next((j for j, t in enumerate(ids) if t in eos), None)
            kept = ids if stop is None else ids[:stop]
            count = len(ids) if stop is None else stop + 1
            tops = None
            if top_logprobs > 0:
                tops = []
                for step in range(count):
                    lp = torch.log_softmax(out.logits[step][row].float(), dim=-1)
                    values, indices = lp.topk(top_logprobs)
                    tops.append({tok.decode([int(i)]): float(v)
                                 for v, i in zip(values.tolist(), indices.tolist(), strict=True)})
            text = tok.decode(kept, skip_special_tokens=True)
            if not self._base.has_template:
                text = text.lstrip()
            results.append(Generation(
                text=text, prompt_tokens=len(batch[row]), completion_tokens=count,
                finish_reason="length" if stop is None else "stop", top_logprobs=tops,
            ))
        return results

    # ----------------------------------------------------------------- helpers

    def _adapter_scope(self) -> Any:
        """Context that activates this view's adapter (or disables adapters) for one call."""
        import contextlib

        model = self.model
        if not self._base.adapters:
            return contextlib.nullcontext()
        if self._adapter is None:
            return model.disable_adapter()
        model.set_adapter(self._adapter)
        return contextlib.nullcontext()

    def _check_length(self, prompt_tokens: int, new_tokens: int) -> None:
        limit = self._base.max_positions
        if limit and prompt_tokens + new_tokens > limit:
            raise FatalModelError(
                f"prompt of {prompt_tokens} tokens + {new_tokens} new tokens exceeds the "
                f"context window of {self.name} ({limit} tokens)"
            )


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _apply_template(tok: Any, messages: list[Message]) -> str:
    try:
        return str(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    except Exception as exc:  # jinja2 TemplateError: e.g. templates that reject a system role
        if messages[0].get("role") == "system" and len(messages) > 1:
            merged = [{**messages[1], "content": f"{messages[0]['content']}\n\n{messages[1]['content']}"},
                      *messages[2:]]
            try:
                return str(tok.apply_chat_template(merged, tokenize=False,
                                                   add_generation_prompt=True))
            except Exception:
                pass
        raise ConfigError(f"the tokenizer's chat template failed on these messages: {exc}") from exc


def _render_fallback(tok: Any, messages: list[Message]) -> str:
    jinja2 = require("jinja2")
    template = jinja2.Environment(autoescape=False).from_string(FALLBACK_TEMPLATE)
    return template.render(messages=messages, add_generation_prompt=True)


def _as_spec(spec: LocalLMSpec | str | os.PathLike[str], overrides: dict[str, Any]) -> LocalLMSpec:
    try:
        if isinstance(spec, LocalLMSpec):
            return LocalLMSpec(**{**spec.model_dump(), **overrides}) if overrides else spec
        return LocalLMSpec(path=os.fspath(spec), **overrides)
    except ValueError as exc:
        raise ConfigError(f"invalid local model spec for {spec!r}: {exc}") from exc


class LocalModelPool:
    """Hands out shared :class:`LocalLM` instances by spec (no global state: one pool per app).

    ``pool.get(spec)`` returns the same instance for equal specs (after resolving ``auto``
    device/dtype), and views with different adapters of the same base model share its
    weights. The pool is thread-safe; loading happens at most once per base model.

    Example:
        >>> pool = LocalModelPool()
        >>> judge_lm = pool.get("model.gguf")  # doctest: +SKIP
        >>> detector_lm = pool.get("model.gguf", adapter="rbd-lora/")  # same weights
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bases: dict[LocalLMSpec, _Base] = {}
        self._views: dict[LocalLMSpec, LocalLM] = {}

    def get(self, spec: LocalLMSpec | str | os.PathLike[str], **overrides: Any) -> LocalLM:
        """The shared :class:`LocalLM` for ``spec`` (loading the base model on first use)."""
        full = _as_spec(spec, overrides).resolved()
        with self._lock:
            view = self._views.get(full)
            if view is not None:
                return view
            base = self._bases.get(full.base)
            if base is None:
                base = _Base(full.base)
                self._bases[full.base] = base
            view = LocalLM._view(base, full)
            self._views[full] = view
            return view

    def specs(self) -> list[LocalLMSpec]:
        """Specs of the views handed out so far."""
        with self._lock:
            return list(self._views)

    def __len__(self) -> int:
        """Number of distinct base models loaded."""
        with self._lock:
            return len(self._bases)

    def clear(self) -> None:
        """Forget every model (memory is freed once no caller holds a view)."""
        with self._lock:
            self._bases.clear()
            self._views.clear()


def _align_gguf_special_tokens(tok: Any, model: Any) -> None:
    """Give a GGUF tokenizer (and the generation config) the model config's bos/eos.

    transformers reads both from the GGUF header, but some releases (seen with 5.17)
    rebuild the tokenizer with the bos token as eos, so generation stopped at the first
    ``<|im_start|>``. The config built from the same header has them right: taking them
    from it costs no second parse of the file (about 2 s for SmolLM2's GGUF).
    """
    for role in ("bos", "eos"):
        token_id = getattr(model.config, f"{role}_token_id", None)
        if not isinstance(token_id, int) or not 0 <= token_id < len(tok):
            continue  # none, several, or one the vocabulary lacks: keep what transformers built
        if getattr(tok, f"{role}_token_id") != token_id:
            setattr(tok, f"{role}_token", tok.convert_ids_to_tokens(token_id))
        setattr(model.generation_config, f"{role}_token_id", token_id)


def convert_gguf(gguf_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """Dequantize a GGUF file once into a Hugging Face (safetensors, float32) directory.

    Loading the result takes well under a second instead of the GGUF parse and
    dequantization on every load; it costs about 5x the GGUF's size on disk. The directory
    appears atomically (written beside it, then renamed).

    Returns:
        ``out_dir``.
    """
    transformers = require("transformers")
    src = Path(gguf_path).expanduser().resolve()
    out = Path(out_dir).expanduser()
    if (out / "config.json").is_file():
        return out
    if not src.is_file():
        raise ConfigError(f"GGUF file not found: {src}")
    require("gguf")
    tok = transformers.AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    quantized = transformers.AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name)
    _align_gguf_special_tokens(tok, quantized)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = transformers.AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(quantized.state_dict())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex}.part"  # mkdir honours the umask
    tmp.mkdir()
    try:
        plain.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        os.replace(tmp, out)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if (out / "config.json").is_file():  # another process finished first
            return out
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


__all__ = [
    "FALLBACK_TEMPLATE",
    "Generation",
    "LocalLM",
    "LocalLMSpec",
    "LocalModelPool",
    "convert_gguf",
    "require",
]
