"""Overhead of the debiasing proxy (``debias serve``) against calling the upstream directly,
and its throughput against the in-process middleware.

Three processes: the loopback upstream (``python -m debias.testing``, fixed latency,
position-biased), the proxy (``python -m debias serve``, uvicorn) and this client.

1. Added latency per request (one client, sequential requests): the median round trip of
   the same judge prompt (this project's pairwise template) sent
   - directly to the upstream (``direct``),
   - through the proxy as a prompt no template recognises (``passthrough``: one upstream call),
   - through the proxy as a recognised judge prompt with no detectors (``debiased, no
     detectors``: one upstream call plus recognition, the loop and re-rendering),
   - through the proxy with ``position:policy=flag`` (two sequential upstream calls: the
     judgement, then the swap probe), compared with two direct calls in a row.
   Added latency = proxy median - direct median for the same number of upstream calls.
2. Throughput at ``--concurrency`` clients (default 32) with ``--latency`` (default 50 ms):
   items/s through the proxy (an aiohttp load generator, one item = one request) versus
   the in-process middleware on the same upstream (``benchmarks/throughput.py``'s
   ``run_debias``: runner -> Debiaser -> ChatJudge -> openai-compat backend), same detector
   set and ``max_rounds=1``. Goal: proxy >= 0.85 of in-process.

Reproduce::

    python benchmarks/proxy_overhead.py                    # defaults: 300 sequential, 1280 concurrent
    python benchmarks/proxy_overhead.py --repeat 3 --items 1280

Results: ``benchmarks/results/proxy_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import LoopbackServer, machine, make_items, run_debias, server_stats

from debias.judges.base import JudgeRequest
from debias.judges.prompts import Templates, render_messages
from debias.proxy.server import free_port

RESULTS = Path(__file__).parent / "results" / "proxy_overhead.json"
ROOT = Path(__file__).resolve().parents[1]


class ProxyProcess:
    """``python -m debias serve`` in a child process."""

    def __init__(self, upstream: str, detectors: str) -> None:
        self.port = free_port()
        self.cmd = [sys.executable, "-m", "debias", "serve", "--judge", "openai-compat:test-judge",
                    "--api-base", upstream, "--detectors", detectors or "none", "--max-rounds", "1",
                    "--port", str(self.port), "--log-level", "warning"]

    def __enter__(self) -> str:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        self.proc = subprocess.Popen(self.cmd, env=env, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return f"{url}/v1"
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"proxy did not start: {shlex.join(self.cmd)}")
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def cpu_s(self) -> float:
        """CPU seconds the proxy process has used (Linux ``/proc``; NaN elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def judge_messages(n: int, prefix: str = "i") -> list[list[dict[str, str]]]:
    """The judge prompts of ``n`` synthetic items (this project's template, half with a cue)."""
    return [render_messages(JudgeRequest.first(item), Templates()) for item in make_items(n, prefix)]


def sequential_ms(url: str, chats: list[list[dict[str, str]]], calls_each: int = 1) -> list[float]:
    """Round-trip milliseconds per request (``calls_each`` requests in a row count as one)."""
    times = []
    with httpx.Client(timeout=30) as client:
        for chat in chats[:5]:  # warm-up
            client.post(f"{url}/chat/completions", json={"model": "test-judge", "messages": chat})
        for chat in chats:
            t0 = time.perf_counter()
            for _ in range(calls_each):
                resp = client.post(f"{url}/chat/completions",
                                   json={"model": "test-judge", "messages": chat, "max_tokens": 256})
                resp.raise_for_status()
            times.append(1000 * (time.perf_counter() - t0))
    return times


async def load(url: str, chats: list[list[dict[str, str]]], concurrency: int,
               warmup: int = 64) -> dict[str, Any]:
    """Post every chat with ``concurrency`` in flight (one shared aiohttp session), after
    ``warmup`` untimed ones."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one(chat: list[dict[str, str]]) -> None:
            nonlocal errors
            async with sem, session.post(f"{url}/chat/completions",
                                         json={"model": "test-judge", "messages": chat,
                                               "max_tokens": 256}) as resp:
                body = await resp.json()
                if resp.status != 200 or not body["choices"][0]["message"]["content"]:
                    errors += 1

        await asyncio.gather(*(one(c) for c in chats[:warmup]))
        c0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(c) for c in chats))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"items": len(chats), "wall_s": wall, "items_per_s": len(chats) / wall,
            "load_generator_cpu_s": cpu, "errors": errors}


def _summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"median_ms": statistics.median(ms), "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
            "mean_ms": statistics.fmean(ms), "requests": len(ms)}


def latency_section(upstream: str, n: int) -> dict[str, Any]:
    chats = judge_messages(n, "lat")
    plain = [[{"role": "user", "content": f"Say something about the number {k}."}] for k in range(n)]
    out: dict[str, Any] = {"direct, 1 call": _summary(sequential_ms(upstream, chats)),
                           "direct, 2 calls in a row": _summary(sequential_ms(upstream, chats, 2))}
    with ProxyProcess(upstream, "") as proxy:
        out["proxy passthrough, 1 call"] = _summary(sequential_ms(proxy, plain))
        out["proxy debiased, no detectors, 1 call"] = _summary(sequential_ms(proxy, chats))
    with ProxyProcess(upstream, "position:policy=flag") as proxy:
        out["proxy debiased, position:flag, 2 calls"] = _summary(sequential_ms(proxy, chats))
    one = out["direct, 1 call"]["median_ms"]
    two = out["direct, 2 calls in a row"]["median_ms"]
    out["added_latency_ms"] = {
        "passthrough": out["proxy passthrough, 1 call"]["median_ms"] - one,
        "debiased, no detectors": out["proxy debiased, no detectors, 1 call"]["median_ms"] - one,
        "debiased, position:flag (vs 2 direct calls)":
            out["proxy debiased, position:flag, 2 calls"]["median_ms"] - two,
    }
    return out


def throughput_section(upstream: str, args: argparse.Namespace, detectors: str) -> dict[str, Any]:
    chats = judge_messages(args.items)
    load_before = os.getloadavg()[0]
    inproc = asyncio.run(run_debias(upstream, args.items, args.concurrency, 64,
                                    spec="openai-compat:test-judge", detectors=detectors))
    inproc_rate = inproc["items"] / inproc["wall_s"]
    process = ProxyProcess(upstream, detectors)
    with process as proxy:
        asyncio.run(load(proxy, chats[:64], args.concurrency, warmup=0))  # warm-up (imports, caches)
        before, cpu0 = server_stats(upstream), process.cpu_s()
        proxied = asyncio.run(load(proxy, chats, args.concurrency, warmup=0))
        after, cpu1 = server_stats(upstream), process.cpu_s()
    proxied["proxy_cpu_ms_per_item"] = 1000 * (cpu1 - cpu0) / len(chats)
    proxied["upstream_calls"] = after["requests"] - before["requests"]
    proxied["calls_per_item"] = proxied["upstream_calls"] / proxied["items"]
    ideal = args.concurrency / args.latency / max(proxied["calls_per_item"], 1e-9)
    proxied["ideal_items_per_s"] = ideal
    # the share of one core the proxy process needs to keep up with the ideal rate
    proxied["core_share_at_ideal"] = proxied["proxy_cpu_ms_per_item"] * ideal / 1000
    return {"detectors": detectors or "none", "loadavg_1m_before": load_before,
            "in_process": {"items_per_s": inproc_rate, "model_calls": inproc["model_calls"],
                           "cpu_ms_per_item": 1000 * inproc["cpu_s"] / inproc["items"],
                           "errors": inproc["errors"], "statuses": inproc["statuses"]},
            "proxy": proxied, "ratio": proxied["items_per_s"] / inproc_rate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="upstream latency (s)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--items", type=int, default=1280, help="items per throughput run")
    parser.add_argument("--sequential", type=int, default=300, help="requests per latency series")
    parser.add_argument("--detector-sets", default="none;position:policy=flag")
    parser.add_argument("--repeat", type=int, default=1, help="throughput repetitions")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sets = ["" if d.strip() in ("", "none") else d.strip() for d in args.detector_sets.split(";")]
    load_start = os.getloadavg()
    with LoopbackServer(args.latency) as upstream:
        latency = latency_section(upstream, args.sequential)
        for k, v in latency["added_latency_ms"].items():
            print(f"added latency {k:45s} {v:7.2f} ms", flush=True)
        runs = []
        for rep in range(args.repeat):
            for detectors in sets:
                res = throughput_section(upstream, args, detectors)
                res["repetition"] = rep
                runs.append(res)
                print(f"throughput [{res['detectors']:22s}] in-process {res['in_process']['items_per_s']:7.1f} "
                      f"items/s ({res['in_process']['cpu_ms_per_item']:.2f} ms CPU/item)  proxy "
                      f"{res['proxy']['items_per_s']:7.1f} items/s ({res['proxy']['proxy_cpu_ms_per_item']:.2f} "
                      f"ms CPU/item in the proxy)  ratio {res['ratio']:.3f}  load "
                      f"{res['loadavg_1m_before']:.2f}", flush=True)
    def med(d: str, pick: Any) -> float:
        return statistics.median(pick(r) for r in runs if r["detectors"] == (d or "none"))

    ratios = {d or "none": med(d, lambda r: r["ratio"]) for d in sets}
    cpu = {d or "none": {"in_process_cpu_ms_per_item": med(d, lambda r: r["in_process"]["cpu_ms_per_item"]),
                         "proxy_cpu_ms_per_item": med(d, lambda r: r["proxy"]["proxy_cpu_ms_per_item"]),
                         "proxy_core_share_at_ideal": med(d, lambda r: r["proxy"]["core_share_at_ideal"])}
           for d in sets}
    result = {
        "benchmark": "proxy_overhead",
        "command": "python " + shlex.join(["benchmarks/proxy_overhead.py",
                                           *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "loadavg_at_start": dict(zip(("1m", "5m", "15m"), load_start, strict=True)),
        "upstream": {"latency_s": args.latency, "process": "separate (python -m debias.testing)",
                     "responder": "position"},
        "proxy": {"process": "separate (python -m debias serve, uvicorn, one worker)",
                  "max_rounds": 1},
        "latency": latency,
        "throughput": {"concurrency": args.concurrency, "items": args.items, "runs": runs,
                       "median_ratio_proxy_over_in_process": ratios, "goal_ratio": 0.85,
                       "median_cpu": cpu},
        "note": ("Latency: one sequential httpx client; added latency is the proxy's median minus "
                 "the direct median for the same number of upstream calls. Throughput: the proxy "
                 "gets one HTTP request per item from an aiohttp load generator; the in-process "
                 "number is benchmarks/throughput.py's full stack (runner, Debiaser, ChatJudge, "
                 "openai-compat backend) in this process. Client, proxy and upstream share the "
                 "machine's cores (see machine.cpus and loadavg): on a small shared machine the "
                 "proxy's extra process competes for CPU and wall-clock ratios swing with the "
                 "load; CPU per item is the steadier number. core_share_at_ideal = proxy CPU per "
                 "item x the ideal item rate (concurrency / latency / calls per item): the "
                 "fraction of one core the proxy needs to keep up with the upstream."),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
