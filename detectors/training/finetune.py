"""Step 4: LoRA fine-tuning of a causal LM into a reasoning bias detector.

A plain torch loop (AdamW, warm-up + decay, gradient accumulation, clipping) over
examples tokenised with the chat template, the loss on the response only. Logits are
computed only from the first response position on (``logits_to_keep``) when the model
supports it: the prompt's logits are never needed, which saves most of the
vocabulary projection on long prompts.

Outputs in ``config.out``: the final adapter (peft files), the tokenizer, ``card.json`` +
``README.md``, ``train_log.jsonl`` (one line per logged step) and ``checkpoints/``. A
re-run with the same settings and data resumes from the latest checkpoint, and does
nothing when the final adapter is already there.
"""

from __future__ import annotations

import inspect
import json
import math
import random
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from debias.errors import ConfigError
from detectors.reasoning.format import DEFAULT_TEMPLATE
from detectors.training.card import CARD, read_card, write_card
from detectors.training.checkpoint import (
    checkpoints_dir,
    complete_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from detectors.training.config import TrainConfig
from detectors.training.encode import IGNORE, Encoded, collate, encode_example
from detectors.training.records import TrainExample
from detectors.training.sources import LoadReport, examples_hash

Progress = Callable[[str], None]
LOG = "train_log.jsonl"


class TrainReport(BaseModel):
    """What a fine-tuning run did.

    Attributes:
        out: Output directory (the adapter).
        steps: Optimizer steps completed in total.
        total_steps: Steps planned.
        resumed_from: Step the run resumed from (0 for a fresh run).
        skipped: True when the final adapter already existed (nothing trained).
        train_examples: Examples trained on.
        eval_examples: Held-out examples.
        too_long: Examples dropped because they did not fit ``max_seq_len``.
        truncated: Examples whose prompt was shortened in the middle.
        first_loss: Loss of the first step of this run.
        final_loss: Loss of the last step.
        eval_loss: Mean token loss on the held-out examples (None without any).
        s_per_step: Mean seconds per optimizer step in this run.
        tokens_per_s: Processed tokens (prompt + response) per second.
        load_s: Seconds to load the model (0 when the caller passed it in).
        train_s: Seconds spent in the training loop.
        losses: Loss per step of this run.
    """

    out: str
    steps: int = 0
    total_steps: int = 0
    resumed_from: int = 0
    skipped: bool = False
    train_examples: int = 0
    eval_examples: int = 0
    too_long: int = 0
    truncated: int = 0
    first_loss: float | None = None
    final_loss: float | None = None
    eval_loss: float | None = None
    s_per_step: float | None = None
    tokens_per_s: float | None = None
    load_s: float = 0.0
    train_s: float = 0.0
    losses: list[float] = Field(default_factory=list)

    def render(self) -> str:
        """Human-readable summary."""
        if self.skipped:
            return f"finetune: adapter already complete at {self.out} ({self.steps} steps); nothing to do"
        sps = f"{self.s_per_step:.2f}s/step" if self.s_per_step is not None else "-"
        return "\n".join([
            f"finetune: {self.steps}/{self.total_steps} steps (resumed from {self.resumed_from}), "
            f"{sps}, {self.tokens_per_s or 0:.0f} tokens/s",
            f"  examples: {self.train_examples} train, {self.eval_examples} held out, "
            f"{self.too_long} too long (dropped), {self.truncated} truncated",
            f"  loss: first {self.first_loss}, final {self.final_loss}, eval {self.eval_loss}",
            f"  adapter: {self.out}",
        ])


def _say(message: str) -> None:
    print(f"debias: {message}", file=sys.stderr, flush=True)


def _keep_logits(model: Any) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


def token_loss_sum(model: Any, batch: dict[str, Any], device: str, keep_logits: bool) -> tuple[Any, int]:
    """Summed cross-entropy over response tokens and their count, for one micro-batch."""
    import torch.nn.functional as F

    ids = batch["input_ids"].to(device)
    labels = batch["labels"].to(device)
    mask = batch["attention_mask"].to(device)
    width = ids.shape[1]
    kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
    keep = width
    if keep_logits:
        keep = max(width - int(batch["min_prompt_len"]) + 1, 2)
        kwargs["logits_to_keep"] = keep
    logits = model(**kwargs).logits[:, :-1, :]
    targets = labels[:, width - keep + 1:]
    n = int((targets != IGNORE).sum())
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
    return loss, n


def _scheduler(config: TrainConfig, optimizer: Any, total: int) -> Any:
    from transformers import get_scheduler

    name = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}[config.scheduler]
    warmup = int(config.warmup_ratio * total)
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total)


def plan_steps(config: TrainConfig, n_train: int) -> tuple[int, int]:
    """``(micro-batches per epoch, total optimizer steps)``."""
    per_epoch = math.ceil(n_train / config.batch_size)
    if config.max_steps is not None:
        return per_epoch, config.max_steps
    return per_epoch, max(1, math.ceil(config.epochs * per_epoch / config.grad_accum))


def micro_batch(train: list[Encoded], k: int, per_epoch: int, batch_size: int, seed: int) -> list[Encoded]:
    """The ``k``-th micro-batch of the run: epochs are reshuffled deterministically."""
    epoch, pos = divmod(k, per_epoch)
    order = list(range(len(train)))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [train[i] for i in order[pos * batch_size:(pos + 1) * batch_size]]


def encode_all(tokenizer: Any, examples: list[TrainExample], config: TrainConfig) -> tuple[list[Encoded], int, int]:
    """Tokenise examples: ``(encoded, dropped as too long, truncated)``."""
    encoded, too_long, truncated = [], 0, 0
    for ex in examples:
        enc = encode_example(tokenizer, ex, max_len=config.max_seq_len, overflow=config.overflow,
                             target_template=config.target_template,
                             chat_template=config.chat_template)
        if enc is None:
            too_long += 1
            continue
        truncated += int(enc.truncated)
        encoded.append(enc)
    return encoded, too_long, truncated


def split_eval(encoded: list[Encoded], fraction: float, seed: int) -> tuple[list[Encoded], list[Encoded]]:
    """Deterministic held-out split: ``(train, eval)``."""
    if fraction <= 0 or len(encoded) < 2:
        return encoded, []
    idx = list(range(len(encoded)))
    random.Random(seed).shuffle(idx)
    n_eval = min(max(1, round(fraction * len(encoded))), len(encoded) - 1)
    held = set(idx[:n_eval])
    return ([e for i, e in enumerate(encoded) if i not in held],
            [e for i, e in enumerate(encoded) if i in held])


def eval_loss(model: Any, data: list[Encoded], pad_id: int, device: str, keep_logits: bool) -> float | None:
    """Mean token loss on held-out examples."""
    import torch

    if not data:
        return None
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for e in data:
            loss, n = token_loss_sum(model, collate([e], pad_id), device, keep_logits)
            total += float(loss)
            count += n
    model.train()
    return total / max(count, 1)


def _trim_log(out: Path, step: int) -> None:
    path = out / LOG
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def train_lora(model: Any, tokenizer: Any, examples: list[TrainExample], config: TrainConfig, *,
               data_report: LoadReport | None = None, base_info: dict[str, Any] | None = None,
               device: str = "cpu", load_s: float = 0.0,
               progress: Progress | None = _say) -> TrainReport:
    """Attach LoRA to ``model`` and train it on ``examples``; save the adapter and its card.

    Args:
        model: A causal LM (frozen base weights; LoRA is attached here).
        tokenizer: Its tokenizer (with a chat template, or ``config.chat_template``).
        examples: Training examples (prompt, trace, label).
        config: Settings (``config.out`` receives the adapter).
        data_report: How the data file was read (recorded in the card).
        base_info: Base model description for the card.
        device: Device the model is on.
        load_s: Seconds spent loading the model (for the card).
        progress: Called with progress lines; None silences them.

    Raises:
        ConfigError: No example fits, or a checkpoint in ``out`` was made differently.
    """
    import torch

    from detectors.training.modeling import attach_lora, versions

    say = progress or (lambda _m: None)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    encoded, too_long, truncated = encode_all(tokenizer, examples, config)
    if not encoded:
        raise ConfigError(f"no training example fits max_seq_len={config.max_seq_len} "
                          f"({too_long} too long); raise max_seq_len or use overflow='truncate'")
    data_hash = examples_hash(examples)
    train, held = split_eval(encoded, config.eval_fraction, config.seed)
    per_epoch, total = plan_steps(config, len(train))
    fingerprint = config.fingerprint()
    report = TrainReport(out=str(out), total_steps=total, train_examples=len(train),
                         eval_examples=len(held), too_long=too_long, truncated=truncated,
                         load_s=load_s)

    card = read_card(out)
    if config.resume and card and card.get("fingerprint") == fingerprint \
            and card.get("data", {}).get("examples_hash") == data_hash \
            and card.get("steps", 0) == total:
        report.steps, report.skipped = int(card["steps"]), True
        return report

    torch.manual_seed(config.seed)
    model = attach_lora(model, rank=config.rank, alpha=config.alpha, dropout=config.dropout,
                        target_modules=config.target_modules)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = _scheduler(config, optimizer, total)
    start, history = 0, []
    ckpts = complete_checkpoints(out) if config.resume else []
    if ckpts:
        step, path = ckpts[-1]
        if step > total:
            raise ConfigError(f"checkpoint {path} is at step {step}, beyond the {total} steps "
                              "planned now; raise max_steps or use --no-resume")
        state = load_checkpoint(path, model, optimizer, scheduler, fingerprint=fingerprint,
                                data_hash=data_hash)
        start, history = int(state["step"]), list(state.get("losses", []))
        _trim_log(out, start)
        say(f"resuming from checkpoint {path} (step {start}/{total})")
    else:
        if not config.resume:
            shutil.rmtree(checkpoints_dir(out), ignore_errors=True)
            (out / CARD).unlink(missing_ok=True)
        _trim_log(out, 0)
    report.resumed_from = start

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    keep_logits = _keep_logits(model)
    state_base = {"fingerprint": fingerprint, "data_hash": data_hash}
    model.train()
    t_train = time.perf_counter()
    step_times: list[float] = []
    tokens_seen = 0
    with open(out / LOG, "a", encoding="utf-8") as log:
        for step in range(start, total):
            t0 = time.perf_counter()
            window = [collate(micro_batch(train, step * config.grad_accum + m, per_epoch,
                                          config.batch_size, config.seed), pad_id)
                      for m in range(config.grad_accum)]
            n_tokens = sum(int((b["labels"] != IGNORE).sum()) for b in window)
            loss_total = 0.0
            for batch in window:
                loss_sum, _ = token_loss_sum(model, batch, device, keep_logits)
                (loss_sum / max(n_tokens, 1)).backward()
                loss_total += float(loss_sum.detach())
                tokens_seen += int(batch["attention_mask"].sum())
            torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm)
            lr = float(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss = loss_total / max(n_tokens, 1)
            if not math.isfinite(loss):
                raise ConfigError(f"loss became {loss} at step {step + 1}; lower lr ({config.lr})")
            dt = time.perf_counter() - t0
            step_times.append(dt)
            history.append(loss)
            report.losses.append(loss)
            done = step + 1
            if done % config.log_every == 0 or done == total:
                line = {"step": done, "loss": round(loss, 6), "lr": lr,
                        "target_tokens": n_tokens, "seconds": round(dt, 3),
                        "epoch": round(done * config.grad_accum / per_epoch, 4)}
                log.write(json.dumps(line) + "\n")
                log.flush()
                say(f"step {done}/{total} loss {loss:.4f} lr {line['lr']:.2e} {dt:.1f}s")
            if config.save_every and done % config.save_every == 0 and done < total:
                save_checkpoint(out, done, model, optimizer, scheduler,
                                {**state_base, "losses": history}, config.keep_checkpoints)
    report.train_s = time.perf_counter() - t_train
    report.steps = total
    if report.losses:
        report.first_loss, report.final_loss = report.losses[0], report.losses[-1]
        report.s_per_step = sum(step_times) / len(step_times)
        report.tokens_per_s = tokens_seen / max(sum(step_times), 1e-9)
    report.eval_loss = eval_loss(model, held, pad_id, device, keep_logits)

    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    save_checkpoint(out, total, model, optimizer, scheduler, {**state_base, "losses": history},
                    config.keep_checkpoints)
    by_bias = Counter(e.bias for e in examples)
    by_label = Counter(e.label for e in examples)
    tail = history[-10:]
    write_card(out, {
        "base_model": base_info or {"spec": config.base_model},
        "data": {
            **(data_report.model_dump() if data_report else {"source": config.data}),
            "examples_hash": data_hash, "train": len(train), "eval": len(held),
            "too_long": too_long, "truncated": truncated, "by_bias": dict(by_bias),
            "by_label": dict(by_label), "prompt_format": DEFAULT_TEMPLATE.version,
            "target_template": config.target_template,
        },
        "hyperparameters": config.model_dump(),
        "fingerprint": fingerprint,
        "steps": total,
        "metrics": {"first_loss": history[0] if history else None,
                    "final_loss": history[-1] if history else None,
                    "mean_loss_last_10": sum(tail) / len(tail) if tail else None,
                    "eval_loss": report.eval_loss},
        "timings": {"load_s": round(load_s, 2), "train_s": round(report.train_s, 2),
                    "s_per_step": report.s_per_step, "tokens_per_s": report.tokens_per_s,
                    "steps_this_run": total - start},
        "device": device,
        "versions": versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return report


def finetune(config: TrainConfig, *, examples: list[TrainExample] | None = None,
             progress: Progress | None = _say) -> TrainReport:
    """Load the data and the base model named in ``config`` and run :func:`train_lora`.

    Args:
        config: Settings (data file, base model, output directory, hyperparameters).
        examples: Use these examples instead of reading ``config.data``.
        progress: Called with progress lines; None silences them.
    """
    from detectors.training.modeling import (
        load_base_model,
        load_tokenizer,
        pick_device,
        pick_dtype,
        require,
        resolve_base,
        use_4bit,
    )
    from detectors.training.sources import load_examples

    require("torch", "transformers", "peft")
    say = progress or (lambda _m: None)
    report = None
    if examples is None:
        examples, report = load_examples(config.data, training=True, limit=config.limit,
                                         keep_disagreeing=config.keep_disagreeing)
        say(f"data: {report.used} examples from {report.source} ({report.kind}); "
            f"skipped {report.skipped or 'none'}")
    elif config.limit is not None:
        examples = examples[: config.limit]
    if not examples:
        raise ConfigError(f"no training examples in {config.data}")
    device = pick_device(config.device)
    dtype = pick_dtype(config.dtype, device)
    four_bit = use_4bit(config.quantization, device)
    base = resolve_base(config.base_model)
    say(f"loading {base.display} on {device} ({dtype}, {'4-bit QLoRA' if four_bit else 'LoRA'})"
        + (" - GGUF weights are dequantised to float" if base.dequantized else ""))
    t0 = time.perf_counter()
    tokenizer = load_tokenizer(base)
    model = load_base_model(base, device=device, dtype=dtype, four_bit=four_bit,
                            gradient_checkpointing=config.gradient_checkpointing)
    load_s = time.perf_counter() - t0
    info = {"spec": config.base_model, "path": base.display, "kind": base.kind,
            "dequantized": base.dequantized, "dtype": str(dtype).removeprefix("torch."),
            "quantization": "4bit" if four_bit else "none"}
    return train_lora(model, tokenizer, examples, config, data_report=report, base_info=info,
                      device=device, load_s=load_s, progress=progress)
