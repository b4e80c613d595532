"""Fine-tuning configuration, validated on construction (messages name the bad value)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from debias.errors import ConfigError

DEFAULT_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TARGET_TEMPLATE = "<think>{trace}</think>\n{label}"

# Fields that may differ between a run and the run it resumes (they do not change what
# the finished steps computed).
RESUMABLE_FIELDS = ("max_steps", "save_every", "keep_checkpoints", "log_every", "out", "resume",
                    "device", "limit")


class TrainConfig(BaseModel):
    """LoRA fine-tuning settings of a reasoning detector.

    Attributes:
        data: Training data file (RBD CSV, teacher traces JSONL, or examples JSONL).
        out: Output directory: the final adapter, its card, the log and ``checkpoints/``.
        base_model: Base causal LM: an embedded model name (``smollm2``), a ``.gguf`` file
            (dequantised to float on load), a Hugging Face directory or hub id.
        lr: Peak learning rate (> 0).
        epochs: Passes over the data (> 0) when ``max_steps`` is not set.
        max_steps: Stop after this many optimizer steps (overrides ``epochs``).
        limit: Use only the first ``limit`` examples.
        batch_size: Examples per micro-batch.
        grad_accum: Micro-batches per optimizer step.
        max_seq_len: Longest tokenised example (prompt + target) in tokens.
        overflow: Longer examples: ``truncate`` cuts the middle of the prompt (keeping its
            start and its end), ``drop`` skips them. Examples whose target alone does not
            fit are always dropped.
        rank: LoRA rank (> 0).
        alpha: LoRA alpha (> 0).
        dropout: LoRA dropout in [0, 1).
        target_modules: Module names LoRA is applied to (non-empty), or ``["all-linear"]``.
        weight_decay: AdamW weight decay (>= 0).
        warmup_ratio: Share of steps with linear warm-up in [0, 1).
        scheduler: Learning-rate schedule after warm-up.
        max_grad_norm: Gradient clipping norm (> 0).
        quantization: ``auto`` (4-bit QLoRA when bitsandbytes and a GPU are available),
            ``4bit`` (QLoRA, required), or ``none``.
        dtype: Weight dtype: ``auto`` (bfloat16 on a GPU that supports it, else float32).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        gradient_checkpointing: Trade compute for memory.
        eval_fraction: Share of examples held out for an evaluation loss in [0, 0.5].
        save_every: Save a resumable checkpoint every this many steps (0: only at the end).
        keep_checkpoints: Checkpoints kept (oldest removed), >= 1.
        log_every: Append a log line every this many steps.
        seed: Seed of the data order, the held-out split and LoRA initialisation.
        resume: Continue from the latest checkpoint in ``out`` when there is one.
        keep_disagreeing: For the RBD CSV: keep rows whose teacher label disagrees with
            the gold label.
        target_template: Assistant target with ``{trace}`` and ``{label}``.
        chat_template: Jinja chat template to use when the tokenizer has none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: str
    out: str
    base_model: str = "smollm2"
    lr: float = 2e-4
    epochs: float = 2.0
    max_steps: int | None = None
    limit: int | None = None
    batch_size: int = 1
    grad_accum: int = 8
    max_seq_len: int = 2048
    overflow: Literal["truncate", "drop"] = "truncate"
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    target_modules: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    scheduler: Literal["linear", "cosine", "constant"] = "linear"
    max_grad_norm: float = 1.0
    quantization: Literal["auto", "4bit", "none"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    gradient_checkpointing: bool = False
    eval_fraction: float = 0.0
    save_every: int = 50
    keep_checkpoints: int = 2
    log_every: int = 1
    seed: int = 0
    resume: bool = True
    keep_disagreeing: bool = False
    target_template: str = TARGET_TEMPLATE
    chat_template: str | None = None

    @field_validator("lr", "alpha", "max_grad_norm", "epochs")
    @classmethod
    def _positive(cls, v: float, info) -> float:  # type: ignore[no-untyped-def]
        if not v > 0:
            raise ValueError(f"{info.field_name} must be > 0, got {v!r}")
        return v

    @field_validator("rank", "batch_size", "grad_accum", "keep_checkpoints", "log_every")
    @classmethod
    def _positive_int(cls, v: int, info) -> int:  # type: ignore[no-untyped-def]
        if v < 1:
            raise ValueError(f"{info.field_name} must be >= 1, got {v!r}")
        return v

    @field_validator("max_steps", "limit")
    @classmethod
    def _optional_positive(cls, v: int | None, info) -> int | None:  # type: ignore[no-untyped-def]
        if v is not None and v < 1:
            raise ValueError(f"{info.field_name} must be >= 1 when set, got {v!r}")
        return v

    @field_validator("max_seq_len")
    @classmethod
    def _seq(cls, v: int) -> int:
        if v < 32:
            raise ValueError(f"max_seq_len must be >= 32, got {v!r}")
        return v

    @field_validator("dropout", "warmup_ratio")
    @classmethod
    def _unit(cls, v: float, info) -> float:  # type: ignore[no-untyped-def]
        if not 0 <= v < 1:
            raise ValueError(f"{info.field_name} must be in [0, 1), got {v!r}")
        return v

    @field_validator("weight_decay", "save_every")
    @classmethod
    def _non_negative(cls, v: float, info) -> float:  # type: ignore[no-untyped-def]
        if v < 0:
            raise ValueError(f"{info.field_name} must be >= 0, got {v!r}")
        return v

    @field_validator("eval_fraction")
    @classmethod
    def _eval_fraction(cls, v: float) -> float:
        if not 0 <= v <= 0.5:
            raise ValueError(f"eval_fraction must be in [0, 0.5], got {v!r}")
        return v

    @field_validator("target_modules")
    @classmethod
    def _modules(cls, v: list[str]) -> list[str]:
        names = [m.strip() for m in v if m and m.strip()]
        if not names:
            raise ValueError(f"target_modules must name at least one module, got {v!r}")
        return names

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        d = v.strip().lower()
        if d in ("auto", "cpu", "cuda", "mps") or (d.startswith("cuda:") and d[5:].isdigit()):
            return d
        raise ValueError(f"device {v!r} is not one of auto, cpu, cuda, cuda:N, mps")

    @field_validator("data", "out", "base_model")
    @classmethod
    def _non_empty(cls, v: str, info) -> str:  # type: ignore[no-untyped-def]
        if not v or not v.strip():
            raise ValueError(f"{info.field_name} is empty")
        return v

    @field_validator("target_template")
    @classmethod
    def _target(cls, v: str) -> str:
        if "{trace}" not in v or "{label}" not in v:
            raise ValueError(f"target_template {v!r} needs the placeholders {{trace}} and {{label}}")
        try:
            v.format(trace="t", label="Yes")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"target_template {v!r} has an unknown placeholder ({exc})") from None
        return v

    @model_validator(mode="after")
    def _cross(self) -> TrainConfig:
        if self.quantization == "4bit" and self.dtype == "float32":
            raise ValueError("quantization '4bit' computes in bfloat16/float16; dtype 'float32' "
                             "contradicts it (use dtype auto)")
        return self

    def fingerprint(self) -> str:
        """Hash of the settings that determine the training result (resume check)."""
        data = self.model_dump(exclude=set(RESUMABLE_FIELDS))
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_file(cls, path: str | Path, **overrides: object) -> TrainConfig:
        """Load settings from a JSON file; keyword overrides win (None values ignored)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read training config {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"training config {path} must hold a JSON object")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return make_config(**data)


def make_config(**values: object) -> TrainConfig:
    """Build a :class:`TrainConfig`, turning validation errors into a :class:`ConfigError`
    whose message names the field and the bad value."""
    try:
        return TrainConfig(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err.get("loc", ())) or "config"
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
            if field != "config" and field not in msg:
                got = err.get("input")
                msg = f"{field}={got!r}: {msg}"
            parts.append(msg)
        raise ConfigError("invalid training config: " + "; ".join(parts)) from None
