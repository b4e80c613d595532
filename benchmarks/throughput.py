"""Throughput of the litellm judge against the loopback server (fixed latency, concurrency K).

The server (``python -m debias.testing``) runs in its own process with a fixed latency
(default 50 ms) so it does not compete with the client for the GIL. Items go through the
real stack: ``debias.runner.arun_batch`` -> ``Debiaser`` -> ``ChatJudge`` ->
``LiteLLMBackend`` -> litellm -> HTTP. Ideal throughput is ``concurrency / latency`` model
calls per second (32 / 0.05 = 640); the target is >= 0.9 of ideal.

Reference clients isolate where time goes: ``litellm`` (bare ``litellm.acompletion`` at
the same concurrency, no middleware), ``openai`` (the official SDK alone, one shared
client) and ``raw`` (one shared aiohttp session posting JSON: what the server and the
machine sustain). Each run also records the client's CPU time per call.

Reproduce::

    python benchmarks/throughput.py                       # middleware, no detectors
    python benchmarks/throughput.py --detectors position  # adds the swap probe
    python benchmarks/throughput.py --clients debias,litellm,openai,raw
    python benchmarks/throughput.py --model hosted_vllm/test-judge

Results: ``benchmarks/results/throughput.json`` (one entry per client).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from debias.judges import judges
from debias.judges.base import JudgeRequest
from debias.judges.litellm_judge import import_litellm
from debias.loop import Debiaser
from debias.prompts import Templates, render_messages
from debias.retry import RetryPolicy
from debias.runner import arun_batch
from debias.types import Item

RESULTS = Path(__file__).parent / "results" / "throughput.json"
MODEL = "openai/test-judge"
KEY = "sk-bench-not-a-real-key"


def make_items(n: int, prefix: str = "i") -> list[Item]:
    """Synthetic pairwise items (half with a bandwagon cue)."""
    return [Item(id=f"{prefix}{k}", task="pairwise", instruction=f"Question {k}: which answer is right?",
                 candidates=[f"A first answer of moderate length, number {k}. " * 3,
                             f"A second, different answer {k}. " * 4],
                 cue="90% believe that Output (b) is better" if k % 2 else None)
            for k in range(n)]


class LoopbackServer:
    """The loopback server in a child process (``python -m debias.testing``)."""

    def __init__(self, latency: float, responder: str = "position") -> None:
        self.cmd = [sys.executable, "-m", "debias.testing", "--latency", str(latency),
                    "--responder", responder]

    def __enter__(self) -> str:
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError(f"server did not start: {shlex.join(self.cmd)}")
        return json.loads(line)["base_url"]

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(timeout=10)


async def run_debias(base_url: str, n: int, concurrency: int, warmup: int, *, model: str,
                     detectors: list[str]) -> dict[str, Any]:
    """Items through runner -> Debiaser -> ChatJudge -> LiteLLMBackend -> litellm."""
    judge = judges.create(model, api_base=base_url, api_key=KEY, timeout=30,
                          retry=RetryPolicy(max_attempts=3, initial_wait=0.05, max_wait=1))
    debiaser = Debiaser(judge, detectors, max_rounds=1)
    with tempfile.TemporaryDirectory() as tmp:
        await arun_batch(make_items(warmup, "w"), debiaser, Path(tmp) / "warm.jsonl",
                         concurrency=concurrency, progress=False)
        out = Path(tmp) / "out.jsonl"
        before = server_requests(base_url)
        c0, t0 = time.process_time(), time.perf_counter()
        summary = await arun_batch(make_items(n), debiaser, out, concurrency=concurrency,
                                   progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        calls = server_requests(base_url) - before
        records = [json.loads(line) for line in out.read_text().splitlines()]
    probes = sum(len(r["result"]["probes"]) for r in records)
    errors = sum(r["result"]["status"] == "error" for r in records)
    return {"items": summary.items, "wall_s": wall, "cpu_s": cpu, "model_calls": calls,
            "usage_calls": summary.usage.calls, "probes": probes, "errors": errors,
            "statuses": summary.statuses}


async def _timed(base_url: str, one: Any, payloads: list[Any], warmup: int) -> dict[str, Any]:
    await asyncio.gather(*(one(p) for p in payloads[:warmup]))
    before = server_requests(base_url)
    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(p) for p in payloads))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"items": len(payloads), "wall_s": wall, "cpu_s": cpu,
            "model_calls": server_requests(base_url) - before}


def _messages(n: int) -> list[list[dict[str, str]]]:
    return [render_messages(JudgeRequest.first(item), Templates()) for item in make_items(n)]


async def run_litellm(base_url: str, n: int, concurrency: int, warmup: int, *, model: str,
                      **_: Any) -> dict[str, Any]:
    """Bare ``litellm.acompletion`` at the same concurrency (no middleware)."""
    litellm = import_litellm()
    sem = asyncio.Semaphore(concurrency)

    async def one(messages: list[dict[str, str]]) -> None:
        async with sem:
            await litellm.acompletion(model=model, api_base=base_url, api_key=KEY,
                                      messages=messages, temperature=0.0, max_tokens=256,
                                      timeout=30, num_retries=0, max_retries=0)

    return await _timed(base_url, one, _messages(n), warmup)


async def run_openai(base_url: str, n: int, concurrency: int, warmup: int, **_: Any) -> dict[str, Any]:
    """The official openai SDK alone (one shared AsyncOpenAI client), no litellm."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=30)
    sem = asyncio.Semaphore(concurrency)

    async def one(messages: list[dict[str, str]]) -> None:
        async with sem:
            await client.chat.completions.create(model="test-judge", messages=messages,  # type: ignore[arg-type]
                                                 temperature=0.0, max_tokens=256)

    try:
        return await _timed(base_url, one, _messages(n), warmup)
    finally:
        await client.close()


async def run_raw(base_url: str, n: int, concurrency: int, warmup: int, **_: Any) -> dict[str, Any]:
    """One shared aiohttp session posting the same JSON: the server's and machine's ceiling."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector,
                                     headers={"Authorization": f"Bearer {KEY}"}) as session:

        async def one(messages: list[dict[str, str]]) -> None:
            async with sem, session.post(f"{base_url}/chat/completions",
                                         json={"model": "test-judge", "messages": messages,
                                               "max_tokens": 256}) as resp:
                body = await resp.json()
                assert body["choices"][0]["message"]["content"]

        return await _timed(base_url, one, _messages(n), warmup)


CLIENTS = {"debias": run_debias, "litellm": run_litellm, "openai": run_openai, "raw": run_raw}


def server_requests(base_url: str) -> int:
    """Requests the server has received so far (warm-up included)."""
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats", timeout=10) as resp:
        return int(json.loads(resp.read())["requests"])


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    from importlib.metadata import version

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "litellm": version("litellm"), "openai": version("openai")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1280, help="timed items per client")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency (s)")
    parser.add_argument("--detectors", default="", help="e.g. 'position' (default: none)")
    parser.add_argument("--clients", default="debias,litellm,openai,raw",
                        help="comma list of: debias, litellm, openai, raw")
    parser.add_argument("--model", default=MODEL,
                        help="litellm model string for the debias/litellm clients")
    parser.add_argument("--warmup", type=int, default=64, help="untimed items first")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import_litellm()
    detectors = [d for d in args.detectors.split(",") if d]
    ideal = args.concurrency / args.latency
    runs: dict[str, Any] = {}
    with LoopbackServer(args.latency) as base_url:
        for client in [c for c in args.clients.split(",") if c]:
            if client not in CLIENTS:
                parser.error(f"unknown client {client!r}; use {', '.join(CLIENTS)}")
            load_before = os.getloadavg()[0]
            res = asyncio.run(CLIENTS[client](base_url, args.items, args.concurrency, args.warmup,
                                              model=args.model, detectors=detectors))
            res["loadavg_1m_before"] = load_before
            calls_per_s = res["model_calls"] / res["wall_s"]
            res.update(items_per_s=res["items"] / res["wall_s"], calls_per_s=calls_per_s,
                       fraction_of_ideal=calls_per_s / ideal,
                       client_cpu_ms_per_call=1000 * res["cpu_s"] / res["model_calls"])
            runs[client] = res
            print(f"{client:8s} items {res['items']:5d}  wall {res['wall_s']:6.2f}s  "
                  f"items/s {res['items_per_s']:7.1f}  calls/s {calls_per_s:7.1f}  "
                  f"fraction of ideal {res['fraction_of_ideal']:.3f}  "
                  f"client CPU/call {res['client_cpu_ms_per_call']:.2f} ms", flush=True)
    result = {
        "benchmark": "throughput",
        "command": "python " + shlex.join(["benchmarks/throughput.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "server": {"latency_s": args.latency, "process": "separate (python -m debias.testing)",
                   "responder": "position"},
        "concurrency": args.concurrency,
        "model": args.model,
        "items": args.items,
        "detectors": detectors,
        "ideal_calls_per_s": ideal,
        "target_fraction": 0.9,
        "runs": runs,
        "note": ("model_calls are counted by the server (GET /stats); usage_calls is what "
                 "Result.usage reported. fraction_of_ideal = model calls/s divided by "
                 "concurrency/latency; with "
                 "detectors an item costs several (sequential) calls, so items/s is lower "
                 "by design and calls/s is the comparable number. client_cpu_ms_per_call is "
                 "the client process's CPU time per call: one event loop can sustain at most "
                 "1000/that calls/s, whatever the latency. The machine was shared with other "
                 "jobs (see loadavg_1m_before), so wall-clock rates are noisy; CPU/call is the "
                 "steadier number."),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
