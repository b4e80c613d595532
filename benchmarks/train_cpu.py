"""Seconds per LoRA optimizer step on the embedded SmolLM2-135M model, and full-run estimates.

Builds synthetic training examples in the RBD detector format whose tokenised length is
exactly ``--seq-len`` tokens (about 55% prompt, 45% response, like the RBD reasoning
CSV's median row), loads the base model exactly as ``debias train finetune`` does, attaches
LoRA with the default settings (rank 16, attention + MLP projections), and times
``--steps`` optimizer steps at batch size 1 (plus one untimed warm-up step) with the same
loss function the trainer uses (response-only, logits from the first response position).

Wall and CPU seconds are recorded per step with the 1-minute load average: on a shared
machine other processes inflate both many times over (torch's worker threads spin while
they wait), so read the fastest step as the least-contended one. The full-run estimate
multiplies seconds per example by the examples of a run; everything under ``estimates``
is an ESTIMATE.

Reproduce: ``python benchmarks/train_cpu.py [--seq-len 1024] [--steps 3] [--device cpu]``
Writes ``benchmarks/results/train_cpu.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from detectors.reasoning.format import RBDInput, render_prompt
from detectors.training.config import make_config
from detectors.training.encode import collate, encode_example
from detectors.training.finetune import _keep_logits, token_loss_sum
from detectors.training.modeling import (
    attach_lora,
    load_base_model,
    load_tokenizer,
    pick_device,
    pick_dtype,
    resolve_base,
    versions,
)
from detectors.training.records import TrainExample

FILLER = ("The response explains the steps carefully, checks each intermediate result, and "
          "states the final answer clearly at the end. ")


def example_of_length(seq_len: int, response_share: float = 0.45) -> TrainExample:
    """A synthetic RBD-format example longer than ``seq_len`` tokens; encoding it with
    ``max_len=seq_len`` cuts the prompt's middle so it is exactly ``seq_len`` tokens, with a
    response of roughly ``response_share`` of them (about 1.2 tokens per word)."""
    words = FILLER.split()
    body = " ".join(words[i % len(words)] for i in range(seq_len))
    inp = RBDInput(bias="verbosity", judge_model="GPT-4o-mini", instruction="What is 12 * 7?",
                   choices=f"Output (a): 84\n\nOutput (b): {body}", judgment="Output (b)")
    trace = " ".join(words[i % len(words)] for i in range(int(seq_len * response_share / 1.2)))
    return TrainExample(id="bench", bias="verbosity", prompt=render_prompt(inp), label="Yes",
                        trace=trace)


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="smollm2", help="base model (default: embedded SmolLM2-135M)")
    ap.add_argument("--seq-len", type=int, nargs="+", default=[1024], help="sequence lengths to time")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per length (after 1 warm-up)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/train_cpu.json"))
    args = ap.parse_args(argv)

    import torch

    cfg = make_config(data="synthetic", out="unused", base_model=args.base, device=args.device,
                      dtype=args.dtype)
    load_before = load_average()
    device = pick_device(cfg.device)
    dtype = pick_dtype(cfg.dtype, device)
    base = resolve_base(cfg.base_model)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    tok = load_tokenizer(base)
    model = load_base_model(base, device=device, dtype=dtype, four_bit=False)
    load = {"wall_s": round(time.perf_counter() - wall0, 2), "cpu_s": round(time.process_time() - cpu0, 2)}
    torch.manual_seed(0)
    model = attach_lora(model, rank=cfg.rank, alpha=cfg.alpha, dropout=cfg.dropout,
                        target_modules=cfg.target_modules)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr)
    keep = _keep_logits(model)
    model.train()
    results = []
    for seq_len in args.seq_len:
        ex = example_of_length(seq_len)
        enc = encode_example(tok, ex, max_len=seq_len)
        assert enc is not None
        batch = collate([enc], tok.pad_token_id)
        walls, cpus, loads = [], [], []
        for k in range(args.steps + 1):
            w, c = time.perf_counter(), time.process_time()
            loss, n = token_loss_sum(model, batch, device, keep)
            (loss / max(n, 1)).backward()
            torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if k:  # the first step is a warm-up
                walls.append(time.perf_counter() - w)
                cpus.append(time.process_time() - c)
                loads.append(load_average()[:1])
            print(f"seq {seq_len} step {k} loss {loss.item() / max(n, 1):.3f} "
                  f"{time.perf_counter() - w:.1f}s", file=sys.stderr, flush=True)
        results.append({"seq_len": len(enc.input_ids), "prompt_tokens": enc.prompt_len,
                        "response_tokens": enc.target_tokens, "steps_timed": args.steps,
                        "wall_s_per_step": [round(x, 2) for x in walls],
                        "median_wall_s_per_step": round(statistics.median(walls), 2),
                        "min_wall_s_per_step": round(min(walls), 2),
                        "load_average_1min_after_each_step": loads,
                        "cpu_s_per_step": [round(x, 2) for x in cpus],
                        "median_cpu_s_per_step": round(statistics.median(cpus), 2)})
    load_after = load_average()

    threads = torch.get_num_threads()
    by_len = {r["seq_len"]: r for r in results}

    def hours(n_examples: float, seconds: float) -> float:
        return round(n_examples * seconds / 3600, 2)

    estimates: dict[str, object] = {
        "note": "ESTIMATES, not measurements. A timed step is one example (batch 1): forward, "
                "backward, optimizer step. On a shared machine other processes inflate wall "
                "(and CPU) time many times over: 'best' is the fastest timed step (least "
                "contended), 'median' the median; read them with the load averages recorded. "
                "Run = examples x epochs x seconds per example (gradient accumulation changes "
                "the number of optimizer steps, not the compute).",
        "full_run": "RBD reasoning CSV (dev.csv): the 168 of 200 rows whose teacher label agrees "
                    "with the gold label, 2 epochs = 336 examples; rows have a median of ~1,000 "
                    "and a mean of ~1,340 SmolLM2 tokens (cut at max_seq_len 2048)",
    }
    for n, r in sorted(by_len.items()):
        estimates[f"seq{n}"] = {
            "s_per_example_best": r["min_wall_s_per_step"],
            "s_per_example_median": r["median_wall_s_per_step"],
            "cpu_full_run_h_best": hours(336, r["min_wall_s_per_step"]),
            "cpu_full_run_h_median": hours(336, r["median_wall_s_per_step"]),
            "cpu_h_per_1000_examples_per_epoch_best": hours(1000, r["min_wall_s_per_step"]),
        }
    estimates["gpu"] = (
        "NOT MEASURED (no GPU was lent to this session). One H100, bf16 LoRA: the 135M model "
        "is bound by kernel launches at roughly 0.05-0.1 s per 1k-token example, so the full "
        "run above takes ~1 min; a 7-8B base at ~2k tokens costs ~6 x 8e9 x 2048 = ~1e14 FLOP "
        "per example, ~0.3-0.5 s at 20-35% utilisation: ~2-3 min for the full run above and "
        "~5-8 min per 1,000 examples per epoch; 4-bit QLoRA runs ~1.3-1.5x slower than bf16 "
        "LoRA and fits 14B bases in well under 40 GB.")

    report = {
        "command": "python benchmarks/train_cpu.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "what": "seconds per LoRA optimizer step, batch 1, response-only loss, default LoRA "
                "settings (rank 16, q/k/v/o/gate/up/down), AdamW",
        "base_model": {"spec": args.base, "path": base.display, "kind": base.kind,
                       "dequantized_from_gguf": base.dequantized,
                       "dtype": str(dtype).removeprefix("torch."),
                       "trainable_params": sum(p.numel() for p in trainable),
                       "total_params": sum(p.numel() for p in model.parameters())},
        "device": device,
        "measured": {"load": load, "steps": results, "logits_to_keep": keep},
        "environment": {"cpus": os.cpu_count(), "torch_threads": threads,
                        "machine": platform.processor() or platform.machine(),
                        "load_average_before": load_before, "load_average_after": load_after,
                        "versions": versions()},
        "estimates": estimates,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["measured"]["steps"], indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
