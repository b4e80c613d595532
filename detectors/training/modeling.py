"""Loading the base model, attaching LoRA (QLoRA where possible), loading adapters.

torch, transformers and peft are imported only inside these functions; a missing one
raises :class:`~debias.errors.MissingDependencyError` naming the ``train`` extra.

Base model specs: an embedded model name (``smollm2``: fetched by
:func:`debias.models.ensure_model`), a ``.gguf`` file (transformers dequantises GGUF
weights to float on load, so a Q4 file trains as a float model), a Hugging Face model
directory, or a hub id.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from debias.errors import ConfigError, MissingDependencyError


class BaseSpec(BaseModel):
    """A resolved base model.

    Attributes:
        spec: What the user asked for.
        path: Directory (or hub id) passed to ``from_pretrained``.
        gguf_file: File name inside ``path`` for GGUF models.
        kind: ``embedded``, ``gguf``, ``hf`` (a local directory) or ``hub``.
    """

    spec: str
    path: str
    gguf_file: str | None = None
    kind: str

    @property
    def dequantized(self) -> bool:
        """Whether the weights come from a quantised GGUF file: dequantised on load, or an
        embedded model's dequantised copy (``debias models pull NAME --convert``)."""
        return self.gguf_file is not None or self.kind == "embedded"

    @property
    def display(self) -> str:
        """Path of the model file or directory."""
        return str(Path(self.path) / self.gguf_file) if self.gguf_file else self.path

    def kwargs(self) -> dict[str, Any]:
        """Extra ``from_pretrained`` keyword arguments."""
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def require(*modules: str) -> None:
    """Import-check optional dependencies, raising a clear error for the first missing one."""
    for name in modules:
        if importlib.util.find_spec(name) is None:
            raise MissingDependencyError(
                f"fine-tuning needs the '{name}' package: pip install 'judge-debias[train]'")


def resolve_base(spec: str) -> BaseSpec:
    """Resolve a base model spec (embedded name, ``.gguf`` path, HF dir or hub id).

    Embedded names and local paths go through :func:`debias.backends.local.resolve_local_spec`
    (which fetches the embedded model on first use and prefers a converted directory made by
    ``debias models pull NAME --convert``); anything else is taken as a hub id.
    """
    from debias.backends.local import resolve_local_spec
    from debias.models import MODELS

    if spec in MODELS or Path(spec).expanduser().exists():
        path = Path(resolve_local_spec(spec))
        kind = "embedded" if spec in MODELS else ("gguf" if path.suffix == ".gguf" else "hf")
        if path.suffix.lower() == ".gguf":
            return BaseSpec(spec=spec, path=str(path.parent), gguf_file=path.name, kind=kind)
        return BaseSpec(spec=spec, path=str(path), kind=kind)
    if spec.lower().endswith(".gguf"):
        raise ConfigError(f"base_model {spec!r}: GGUF file not found")
    return BaseSpec(spec=spec, path=spec, kind="hub")


def pick_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; explicit devices are checked."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but no CUDA device is available")
    return device


def pick_dtype(dtype: str, device: str) -> Any:
    """The torch dtype: ``auto`` is bfloat16 on a GPU that supports it, else float32."""
    import torch

    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def use_4bit(quantization: str, device: str) -> bool:
    """Whether to load 4-bit (QLoRA): ``auto`` needs bitsandbytes and a GPU."""
    has_bnb = importlib.util.find_spec("bitsandbytes") is not None
    if quantization == "4bit":
        if not has_bnb:
            raise MissingDependencyError("quantization '4bit' (QLoRA) needs bitsandbytes: "
                                         "pip install bitsandbytes")
        if not device.startswith("cuda"):
            raise ConfigError(f"quantization '4bit' needs a CUDA device, got device {device!r}")
        return True
    return quantization == "auto" and has_bnb and device.startswith("cuda")


def _dtype_kw(dtype: Any) -> dict[str, Any]:
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def load_tokenizer(base: BaseSpec) -> Any:
    """The base model's tokenizer (pad token set to EOS when missing)."""
    require("transformers")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base.path, **base.kwargs())
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_base_model(base: BaseSpec, *, device: str, dtype: Any, four_bit: bool,
                    gradient_checkpointing: bool = False) -> Any:
    """Load the causal LM for training (frozen; LoRA is attached by :func:`attach_lora`)."""
    require("torch", "transformers", "peft")
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {**base.kwargs(), **_dtype_kw(dtype)}
    if four_bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": device}
    model = AutoModelForCausalLM.from_pretrained(base.path, **kwargs)
    if four_bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=gradient_checkpointing)
    else:
        model.to(device)
        if gradient_checkpointing:
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()
    model.config.use_cache = False
    return model


def linear_module_names(model: Any) -> list[str]:
    """Names (last component) of the model's linear layers, for error messages."""
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
                   if isinstance(mod, torch.nn.Linear) and name})


def attach_lora(model: Any, *, rank: int, alpha: float, dropout: float,
                target_modules: list[str]) -> Any:
    """Wrap ``model`` in a peft LoRA model; only the LoRA weights are trainable.

    Raises:
        ConfigError: when a target module does not exist in the model (the message lists
            the model's linear layers).
    """
    require("peft")
    from peft import LoraConfig, get_peft_model

    targets: str | list[str] = "all-linear" if target_modules == ["all-linear"] else list(target_modules)
    if isinstance(targets, list):
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        missing = [t for t in targets if t not in present]
        if missing:
            raise ConfigError(f"target_modules {missing} not found in the base model; its "
                              f"linear layers are {linear_module_names(model)}")
    cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
                     bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def load_adapter(model: Any, adapter: str | Path, *, trainable: bool = False) -> Any:
    """Load a saved LoRA adapter onto a base model (inference by default).

    Raises:
        ConfigError: when ``adapter`` holds no adapter.
    """
    require("peft")
    from peft import PeftModel

    path = Path(adapter)
    if not (path / "adapter_config.json").is_file():
        raise ConfigError(f"adapter {str(path)!r} has no adapter_config.json (not a saved "
                          "LoRA adapter)")
    return PeftModel.from_pretrained(model, str(path), is_trainable=trainable)


def versions() -> dict[str, str]:
    """Versions of the libraries that shaped a run."""
    out: dict[str, str] = {}
    for name in ("torch", "transformers", "peft", "bitsandbytes"):
        try:
            out[name] = str(importlib.import_module(name).__version__)
        except Exception:  # not installed or broken: simply not recorded
            continue
    try:
        from debias import __version__

        out["judge-debias"] = __version__
    except ImportError:  # pragma: no cover
        pass
    return out
