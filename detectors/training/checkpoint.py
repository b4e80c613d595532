"""Resumable training checkpoints: adapter weights, optimizer, scheduler, RNG, step.

Layout: ``<out>/checkpoints/step-<N>/`` holding the peft adapter files,
``optimizer.pt``, ``scheduler.pt`` and ``state.json`` (step, config fingerprint, data
hash, losses so far). ``state.json`` is written last, so a checkpoint without it is
incomplete and ignored.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from debias.errors import ConfigError

STATE = "state.json"


def checkpoints_dir(out: str | Path) -> Path:
    """``<out>/checkpoints``."""
    return Path(out) / "checkpoints"


def complete_checkpoints(out: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of complete checkpoints, oldest first."""
    root = checkpoints_dir(out)
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        if d.is_dir() and d.name.startswith("step-") and (d / STATE).is_file():
            try:
                found.append((int(d.name[5:]), d))
            except ValueError:
                continue
    return sorted(found)


def save_checkpoint(out: str | Path, step: int, model: Any, optimizer: Any, scheduler: Any,
                    state: dict[str, Any], keep: int) -> Path:
    """Write a checkpoint for ``step`` and remove the oldest beyond ``keep``."""
    import torch

    path = checkpoints_dir(out) / f"step-{step}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    model.save_pretrained(str(path))
    torch.save(optimizer.state_dict(), path / "optimizer.pt")
    torch.save(scheduler.state_dict(), path / "scheduler.pt")
    torch.save(torch.get_rng_state(), path / "rng.pt")
    (path / STATE).write_text(json.dumps({**state, "step": step}, indent=2), encoding="utf-8")
    for _, old in complete_checkpoints(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any, *,
                    fingerprint: str, data_hash: str) -> dict[str, Any]:
    """Restore a checkpoint into a LoRA model, optimizer and scheduler; return its state.

    Raises:
        ConfigError: when the checkpoint was made with other settings or other data.
    """
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state = json.loads((path / STATE).read_text(encoding="utf-8"))
    if state.get("fingerprint") != fingerprint:
        raise ConfigError(f"checkpoint {path} was made with different training settings "
                          f"(fingerprint {state.get('fingerprint')} != {fingerprint}); use another "
                          "--out or --no-resume")
    if state.get("data_hash") != data_hash:
        raise ConfigError(f"checkpoint {path} was made with different training data; use another "
                          "--out or --no-resume")
    weights = path / "adapter_model.safetensors"
    if weights.is_file():
        adapter_state = load_file(str(weights))
    else:
        adapter_state = torch.load(path / "adapter_model.bin", map_location="cpu")
    set_peft_model_state_dict(model, adapter_state)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu",
                                         weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    torch.set_rng_state(torch.load(path / "rng.pt", weights_only=False))
    return state
