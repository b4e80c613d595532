"""Throughput of the API judges against the loopback server (fixed latency, concurrency K).

The server (``python -m debias.testing``) runs in its own process with a fixed latency
(default 50 ms) so it does not compete with the client for the GIL. Items go through the
real stack: ``debias.runner.arun_batch`` -> ``Debiaser`` -> ``ChatJudge`` -> backend -> HTTP,
once per backend:

- ``openai-compat``: :class:`~debias.backends.openai_compat.OpenAICompatBackend`
  (``--judge openai-compat:test-judge``: one shared aiohttp session, no SDK);
- ``litellm``: :class:`~debias.backends.litellm_backend.LiteLLMBackend` (``openai/test-judge``
  through litellm and the openai SDK);

each with every detector set of ``--detector-sets`` (default: no detectors, then the
position detector with policy ``flag``: one swap probe per item, recorded in the result,
no revision, so 2 sequential calls per item). Ideal throughput is ``concurrency / latency``
model calls per second (32 / 0.05 = 640); the target is >= 0.9 of ideal.

Reference clients isolate where time goes: ``bare-openai-compat`` (the backend's
``acomplete`` alone), ``bare-litellm`` (bare ``litellm.acompletion``
at the same concurrency, no middleware), ``bare-openai`` (the official SDK alone, one
shared client) and ``raw`` (one shared aiohttp session posting JSON: what the server and
the machine sustain). Each run also records the client's CPU time per call and the 1-min
load average when it started (the numbers are only comparable at similar load).

Reproduce::

    python benchmarks/throughput.py                       # both backends, both detector sets, raw
    python benchmarks/throughput.py --clients openai-compat,raw --repeat 3
    python benchmarks/throughput.py --clients openai-compat,litellm,bare-litellm,bare-openai,raw
    python benchmarks/throughput.py --profile prof.out --clients openai-compat  # cProfile the client

Results: ``benchmarks/results/throughput.json`` (one entry per client, detector set and
repetition, plus the median per client and detector set).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from debias.backends.litellm_backend import import_litellm
from debias.judges import create_judge
from debias.judges.base import JudgeRequest
from debias.judges.prompts import Templates, render_messages
from debias.loop import Debiaser
from debias.retry import RetryPolicy
from debias.runner import arun_batch
from debias.types import Item

RESULTS = Path(__file__).parent / "results" / "throughput.json"
MODEL = "openai/test-judge"
KEY = "sk-bench-not-a-real-key"
#: Judge spec per full-stack client (``--model`` replaces the litellm one).
SPECS = {"openai-compat": "openai-compat:test-judge", "litellm": MODEL}


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


async def run_debias(base_url: str, n: int, concurrency: int, warmup: int, *, spec: str,
                     detectors: str) -> dict[str, Any]:
    """Items through runner -> Debiaser -> ChatJudge -> backend (``spec``) -> HTTP."""
    judge = create_judge(spec, api_base=base_url, api_key=KEY, timeout=30,
                          retry=RetryPolicy(max_attempts=3, initial_wait=0.05, max_wait=1))
    debiaser = Debiaser(judge, detectors or [], max_rounds=1)
    with tempfile.TemporaryDirectory() as tmp:
        await arun_batch(make_items(warmup, "w"), debiaser, Path(tmp) / "warm.jsonl",
                         concurrency=concurrency, progress=False)
        out = Path(tmp) / "out.jsonl"
        before = server_stats(base_url)
        c0, t0 = time.process_time(), time.perf_counter()
        summary = await arun_batch(make_items(n), debiaser, out, concurrency=concurrency,
                                   progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        after = server_stats(base_url)
        records = [json.loads(line) for line in out.read_text().splitlines()]
    aclose = getattr(judge.backend, "aclose", None)  # type: ignore[attr-defined]
    if aclose is not None:
        await aclose()
    probes = sum(len(r["result"]["probes"]) for r in records)
    errors = sum(r["result"]["status"] == "error" for r in records)
    return {"judge": spec, "items": summary.items, "wall_s": wall, "cpu_s": cpu,
            "model_calls": after["requests"] - before["requests"],
            "server_cpu_s": after["cpu_s"] - before["cpu_s"],
            "usage_calls": summary.usage.calls, "probes": probes, "errors": errors,
            "statuses": summary.statuses}


async def _timed(base_url: str, one: Any, payloads: list[Any], warmup: int) -> dict[str, Any]:
    await asyncio.gather(*(one(p) for p in payloads[:warmup]))
    before = server_stats(base_url)
    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(p) for p in payloads))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    after = server_stats(base_url)
    return {"items": len(payloads), "wall_s": wall, "cpu_s": cpu,
            "model_calls": after["requests"] - before["requests"],
            "server_cpu_s": after["cpu_s"] - before["cpu_s"]}


def _messages(n: int) -> list[list[dict[str, str]]]:
    return [render_messages(JudgeRequest.first(item), Templates()) for item in make_items(n)]


async def run_litellm(base_url: str, n: int, concurrency: int, warmup: int, *, spec: str,
                      **_: Any) -> dict[str, Any]:
    """Bare ``litellm.acompletion`` at the same concurrency (no middleware)."""
    litellm = import_litellm()
    sem = asyncio.Semaphore(concurrency)

    async def one(messages: list[dict[str, str]]) -> None:
        async with sem:
            await litellm.acompletion(model=spec, api_base=base_url, api_key=KEY,
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


async def run_backend(base_url: str, n: int, concurrency: int, warmup: int, **_: Any) -> dict[str, Any]:
    """``OpenAICompatBackend.acomplete`` alone at the same concurrency (no judge, no loop)."""
    from debias.backends.base import Sampling
    from debias.backends.openai_compat import OpenAICompatBackend

    backend = OpenAICompatBackend("test-judge", base_url, api_key=KEY, timeout=30)
    sampling = Sampling(temperature=0.0, max_tokens=256)
    sem = asyncio.Semaphore(concurrency)

    async def one(messages: list[dict[str, str]]) -> None:
        async with sem:
            assert (await backend.acomplete(messages, sampling)).text

    try:
        return await _timed(base_url, one, _messages(n), warmup)
    finally:
        await backend.aclose()


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


FULL_STACK = ("openai-compat", "litellm")
BARE = {"bare-openai-compat": run_backend, "bare-litellm": run_litellm, "bare-openai": run_openai,
        "raw": run_raw}
CLIENTS = (*FULL_STACK, *BARE)


def server_stats(base_url: str) -> dict[str, Any]:
    """The server's ``GET /stats``: requests so far (warm-up included) and its CPU seconds."""
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/stats", timeout=10) as resp:
        return json.loads(resp.read())


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    from importlib.metadata import version

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            **{pkg: version(pkg) for pkg in ("litellm", "openai", "aiohttp", "httpx")}}


def run_one(client: str, base_url: str, args: argparse.Namespace, detectors: str,
            profile: cProfile.Profile | None) -> dict[str, Any]:
    """One timed run of ``client`` (in a fresh event loop), with its rates."""
    spec = args.model if client == "litellm" and args.model else SPECS.get(client, args.model or MODEL)
    fn = run_debias if client in FULL_STACK else BARE[client]
    load_before = os.getloadavg()
    coro = fn(base_url, args.items, args.concurrency, args.warmup, spec=spec,
              detectors=detectors)
    if profile is not None:
        profile.enable()
    try:
        res = asyncio.run(coro)
    finally:
        if profile is not None:
            profile.disable()
    ideal_calls = args.concurrency / args.latency
    calls_per_item = res["model_calls"] / res["items"]
    res.update(client=client, detectors=detectors if client in FULL_STACK else None,
               loadavg_before=dict(zip(("1m", "5m", "15m"), load_before, strict=True)),
               items_per_s=res["items"] / res["wall_s"],
               calls_per_item=calls_per_item,
               calls_per_s=res["model_calls"] / res["wall_s"],
               ideal_items_per_s=ideal_calls / calls_per_item,
               client_cpu_ms_per_call=1000 * res["cpu_s"] / res["model_calls"],
               client_cpu_ms_per_item=1000 * res["cpu_s"] / res["items"],
               server_cpu_ms_per_call=1000 * res["server_cpu_s"] / res["model_calls"])
    res["fraction_of_ideal"] = res["calls_per_s"] / ideal_calls
    return res


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median rates per client and detector set (over ``--repeat`` repetitions)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        key = r["client"] + (f" [{r['detectors'] or 'no detectors'}]" if r["client"] in FULL_STACK
                             else "")
        groups.setdefault(key, []).append(r)
    keys = ("items_per_s", "calls_per_s", "fraction_of_ideal", "client_cpu_ms_per_call",
            "client_cpu_ms_per_item", "server_cpu_ms_per_call")
    return {k: {"repetitions": len(rs), "calls_per_item": rs[0]["calls_per_item"],
                "ideal_items_per_s": rs[0]["ideal_items_per_s"],
                **{f: statistics.median(r[f] for r in rs) for f in keys},
                "loadavg_1m_before": [r["loadavg_before"]["1m"] for r in rs]}
            for k, rs in groups.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1280, help="timed items per run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency (s)")
    parser.add_argument("--detector-sets", default="none;position:policy=flag",
                        help="';'-separated detector specs, one full-stack run each "
                        "('none' = no detectors)")
    parser.add_argument("--clients", default="openai-compat,litellm,raw",
                        help=f"comma list of: {', '.join(CLIENTS)}")
    parser.add_argument("--model", default=None,
                        help=f"litellm model string for the litellm clients (default {MODEL})")
    parser.add_argument("--warmup", type=int, default=64, help="untimed items first")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions of the whole set")
    parser.add_argument("--profile", type=Path, default=None,
                        help="write a cProfile of the client runs to this file")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    clients = [c for c in args.clients.split(",") if c]
    for client in clients:
        if client not in CLIENTS:
            parser.error(f"unknown client {client!r}; use {', '.join(CLIENTS)}")
    detector_sets = ["" if d.strip() in ("", "none") else d.strip()
                     for d in args.detector_sets.split(";")]
    if any(c in ("litellm", "bare-litellm") for c in clients):
        import_litellm()  # import cost kept out of the timings
    profile = cProfile.Profile() if args.profile else None
    load_start = os.getloadavg()
    runs: list[dict[str, Any]] = []
    with LoopbackServer(args.latency) as base_url:
        for rep in range(args.repeat):
            for client in clients:
                for detectors in detector_sets if client in FULL_STACK else [""]:
                    res = run_one(client, base_url, args, detectors, profile)
                    res["repetition"] = rep
                    runs.append(res)
                    label = f"{client}{' [' + detectors + ']' if detectors else ''}"
                    print(f"{label:36s} items/s {res['items_per_s']:7.1f}  calls/s "
                          f"{res['calls_per_s']:7.1f}  fraction of ideal "
                          f"{res['fraction_of_ideal']:.3f}  client CPU/call "
                          f"{res['client_cpu_ms_per_call']:.2f} ms  server CPU/call "
                          f"{res['server_cpu_ms_per_call']:.2f} ms  load "
                          f"{res['loadavg_before']['1m']:.2f}  errors {res.get('errors', 0)}",
                          flush=True)
    if profile is not None:
        profile.dump_stats(args.profile)
        print(f"wrote profile {args.profile}")
    result = {
        "benchmark": "throughput",
        "command": "python " + shlex.join(["benchmarks/throughput.py", *(argv if argv is not None
                                                                         else sys.argv[1:])]),
        "machine": machine(),
        "loadavg_at_start": dict(zip(("1m", "5m", "15m"), load_start, strict=True)),
        "server": {"latency_s": args.latency, "process": "separate (python -m debias.testing)",
                   "responder": "position"},
        "concurrency": args.concurrency,
        "items": args.items,
        "ideal_calls_per_s": args.concurrency / args.latency,
        "target_fraction": 0.9,
        "summary": medians(runs),
        "runs": runs,
        "note": ("model_calls are counted by the server (GET /stats); usage_calls is what "
                 "Result.usage reported. fraction_of_ideal = model calls/s divided by "
                 "concurrency/latency (= items/s divided by ideal_items_per_s, which accounts "
                 "for the calls_per_item a detector adds: its probe runs after the first "
                 "judgement, so items/s halves by design). client_cpu_ms_per_call is the "
                 "benchmark process's CPU time per call (one event loop sustains at most "
                 "1000/that calls/s); server_cpu_ms_per_call is the server process's (GET "
                 "/stats cpu_s). Client and server together need (client + server CPU per call) "
                 "x 640 CPU-seconds per second at the target; on a machine with few cores "
                 "shared with other jobs (see loadavg_before) they do not get it and wall-clock "
                 "rates are noisy, so CPU per call is the steadier number."),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
