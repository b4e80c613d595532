"""Running a suite through the middleware, resumably, and writing the summary JSON.

Every case contributes two items (D and D_bias), judged and debiased by the batch runner
(:func:`debias.runner.arun_batch`), which appends each finished item to
``<run_dir>/results.jsonl``: a re-run skips finished items, so an interrupted run resumes.
The run folder (default ``benchmarks/runs/<suite>-<judge>/``, git-ignored) also holds the
run's settings (``config.json``, checked on resume), the model-call cache
(``calls.sqlite``) and one line per invocation (``sessions.jsonl``, for wall time).

The items given to the middleware carry no gold label (see
:func:`~debias.bench_e2e.cases.blind`); "before" is each item's first judgement, which is
exactly what the judge answers without the middleware.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import platform
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from debias.bench_e2e.cases import Case, blind, item_id
from debias.bench_e2e.data import resolve_data_dir
from debias.bench_e2e.metrics import group_report
from debias.bench_e2e.outcomes import CaseOutcome, outcome
from debias.bench_e2e.suites import SUITES, build_suite
from debias.errors import ConfigError, InputError
from debias.judges.base import Judge
from debias.types import ResultRecord

DEFAULT_DETECTORS = ("position", "bandwagon", "verbosity", "sentiment")
"""Detectors used when ``--detectors`` is not given (those that are registered)."""
RESULTS = "results.jsonl"
CONFIG = "config.json"
SESSIONS = "sessions.jsonl"
CALL_CACHE = "calls.sqlite"
SETTINGS_CHECKED = ("suite", "judge", "api_base", "detectors", "max_rounds", "seed")


class E2EConfig(BaseModel):
    """Settings of one benchmark run (the CLI's options).

    Attributes:
        suite: Suite name (``rbd-bias4``, ``llmbar``, ``evalbiasbench``, ``sanity``).
        judge: Judge spec (``local``, a litellm model string, ``scripted:...``); None: the
            suite's own judges (``sanity``) or ``local``.
        api_base: API base URL for a litellm judge.
        limit: Cases per group (bias type / subset); None: all.
        detectors: Detector specs (``position,bandwagon:policy=flag,...``); None: the
            registered ones among :data:`DEFAULT_DETECTORS`; ``none``: no detectors.
        max_rounds: Revision rounds after the first judgement.
        concurrency: Items in flight; None: 1 for local judges, 8 otherwise.
        seed: Seed of the samples and of the bootstrap.
        n_boot: Bootstrap replicates per interval.
        data_dir: Benchmark data folder; None: ``$DEBIAS_BENCH_DATA`` or ``../shared/data``.
        run_dir: Run folder; None: ``benchmarks/runs/<suite>-<judge>``.
        json_out: Summary JSON; None: ``benchmarks/results/e2e_<suite>_<judge>.json``.
        cache: Cache model calls in the run folder (re-runs and D/D_bias overlaps are free).
        fresh: Discard the run folder's earlier results first.
        progress: Show a progress bar.
        command: The command line, recorded in the summary.
    """

    model_config = ConfigDict(extra="forbid")

    suite: str
    judge: str | None = None
    api_base: str | None = None
    limit: int | None = Field(default=None, ge=1)
    detectors: str | None = None
    max_rounds: int = Field(default=2, ge=0)
    concurrency: int | None = Field(default=None, ge=1)
    seed: int = 0
    n_boot: int = Field(default=2000, ge=0)
    data_dir: Path | None = None
    run_dir: Path | None = None
    json_out: Path | None = None
    cache: bool = True
    fresh: bool = False
    progress: bool = True
    command: str = ""

    @field_validator("suite")
    @classmethod
    def _known_suite(cls, v: str) -> str:
        if v not in SUITES:
            raise ValueError(f"unknown suite {v!r}; known: {', '.join(sorted(SUITES))}")
        return v


def judge_slug(judge: str) -> str:
    """A file-name-safe name for a judge spec (``local`` is the embedded SmolLM2)."""
    if judge == "local":
        return "smollm2"
    return re.sub(r"[^A-Za-z0-9.]+", "-", judge).strip("-").lower() or "judge"


def judge_label(cfg: E2EConfig) -> str:
    """The judge spec the run uses (``scripted`` for a suite's own scripted judges)."""
    if cfg.judge:
        return cfg.judge
    return "scripted" if SUITES[cfg.suite].group_judges else "local"


def run_dir_for(cfg: E2EConfig) -> Path:
    """The run folder."""
    return cfg.run_dir or Path("benchmarks") / "runs" / f"{cfg.suite}-{judge_slug(judge_label(cfg))}"


def json_out_for(cfg: E2EConfig) -> Path:
    """The summary JSON path."""
    if cfg.json_out:
        return cfg.json_out
    label = judge_label(cfg)
    name = f"e2e_{cfg.suite}.json" if label == "scripted" and SUITES[cfg.suite].group_judges \
        else f"e2e_{cfg.suite}_{judge_slug(label)}.json"
    return Path("benchmarks") / "results" / name


def detector_spec(cfg: E2EConfig) -> str:
    """The detector spec used (``""`` for none)."""
    if cfg.detectors is not None:
        return "" if cfg.detectors.strip() in ("", "none") else cfg.detectors
    from debias.contract import detector_registry

    known = set(detector_registry.names())
    return ",".join(d for d in DEFAULT_DETECTORS if d in known)


def make_judge(spec: str, api_base: str | None) -> Judge:
    """Build a judge from a spec (``local`` needs the local extra)."""
    from debias.judges import judges

    if spec.partition(":")[0] == "local" and "local" not in judges.names():
        importlib.import_module("debias.judges.local")
    kwargs: dict[str, Any] = {"api_base": api_base} if api_base else {}
    return judges.create(spec, **kwargs)


def _attach_cache(judge: Judge, path: Path) -> None:
    from debias.cache import CallCache, with_cache
    from debias.judges.chat import ChatJudge

    if isinstance(judge, ChatJudge):
        judge.backend = with_cache(judge.backend, CallCache(path))


def check_run_dir(run_dir: Path, settings: dict[str, Any], fresh: bool) -> None:
    """Make sure earlier results in ``run_dir`` were made with the same settings.

    Raises:
        ConfigError: Naming the settings that differ and how to proceed.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / CONFIG
    if fresh:
        for name in (RESULTS, CALL_CACHE, f"{CALL_CACHE}-wal", f"{CALL_CACHE}-shm", SESSIONS, CONFIG):
            (run_dir / name).unlink(missing_ok=True)
    if cfg_path.exists() and (run_dir / RESULTS).exists():
        try:
            old = json.loads(cfg_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise ConfigError(f"{cfg_path} is not valid JSON; use --fresh to start over") from None
        diffs = [f"{k}: {old.get(k)!r} -> {settings.get(k)!r}" for k in SETTINGS_CHECKED
                 if old.get(k) != settings.get(k)]
        if diffs:
            raise ConfigError(
                f"run folder {run_dir} holds results made with other settings ({'; '.join(diffs)}); "
                "pass --run-dir for a new folder, or --fresh to discard those results")
    cfg_path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def read_results(path: Path, wanted: set[str]) -> dict[str, ResultRecord]:
    """Result records of the wanted item ids (the last record of an id wins)."""
    out: dict[str, ResultRecord] = {}
    if not path.exists():
        return out
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rid = str(json.loads(line).get("id"))
                if rid in wanted:
                    out[rid] = ResultRecord.model_validate_json(line)
            except (ValueError, AttributeError) as exc:
                raise InputError(f"unreadable result record ({type(exc).__name__}); move the run "
                                 "folder away or pass --fresh", line=line_no, source=str(path)) from None
    return out


def outcomes_from(cases: list[Case], results: dict[str, ResultRecord], path: Path) -> list[CaseOutcome]:
    """Pair every case with its two results."""
    out = []
    for case in cases:
        ids = (item_id(case.id, "D"), item_id(case.id, "D_bias"))
        missing = [i for i in ids if i not in results]
        if missing:
            raise InputError(f"no result for {', '.join(missing)}; re-run the same command to "
                             "finish the run", source=str(path))
        out.append(outcome(case, results[ids[0]].result, results[ids[1]].result))
    return out


Part = tuple[str, Callable[[], Judge], list[Case]]


def _partitions(cfg: E2EConfig, cases: list[Case]) -> list[Part]:
    """``(name, judge factory, cases)``: one per group for a suite's own judges, else one."""
    spec = SUITES[cfg.suite]
    provider = spec.group_judges
    if cfg.judge is None and provider is not None:
        groups = list(dict.fromkeys(c.group for c in cases))
        return [(g, partial(provider, g, cfg.seed), [c for c in cases if c.group == g]) for g in groups]
    return [("all", partial(make_judge, judge_label(cfg), cfg.api_base), cases)]


async def _judge_all(cfg: E2EConfig, parts: list[Part], detectors: str, results_path: Path,
                     concurrency: int) -> dict[str, Any]:
    """Debias every pending item; judges are only built when a partition has work left."""
    from debias.io import finished_ids
    from debias.loop import Debiaser
    from debias.runner import arun_batch

    finished = finished_ids(results_path)
    done: dict[str, Any] = {"items": 0, "resumed": 0, "judge_load_s": 0.0, "elapsed_s": 0.0}
    for _, factory, cases in parts:
        items = [blind(it) for c in cases for it in c.items()]
        if all(it.id in finished for it in items):
            done["resumed"] += len(items)
            continue
        t0 = time.perf_counter()
        judge = factory()
        if cfg.cache:
            _attach_cache(judge, results_path.parent / CALL_CACHE)
        debiaser = Debiaser(judge, detectors or [], max_rounds=cfg.max_rounds)
        t1 = time.perf_counter()
        summary = await arun_batch(items, debiaser, results_path, concurrency=concurrency,
                                   progress=cfg.progress, total=len(items))
        done["judge_load_s"] += round(t1 - t0, 3)
        done["elapsed_s"] += round(time.perf_counter() - t1, 3)
        done["items"] += summary.items
        done["resumed"] += summary.resumed
    return done


def judge_names(parts: list[Part], results: dict[str, ResultRecord]) -> dict[str, str]:
    """The name of the judge that judged each partition, as recorded on its verdicts."""
    out: dict[str, str] = {}
    for name, _, cases in parts:
        for case in cases:
            rec = results.get(item_id(case.id, "D"))
            if rec is not None and rec.result.rounds:
                out[name] = rec.result.rounds[0].verdict.judge
                break
        else:
            out[name] = "unknown"
    return out


def _sessions(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_e2e(cfg: E2EConfig) -> dict[str, Any]:
    """Run (or resume) a suite and write its summary JSON.

    Returns:
        The summary (also written to :func:`json_out_for`).

    Raises:
        DataMissingError: The suite's data is not found.
        ConfigError: Bad settings, or a run folder made with other settings.
    """
    spec = SUITES[cfg.suite]
    data_dir = resolve_data_dir(cfg.data_dir)
    cases = build_suite(cfg.suite, data_dir, cfg.limit, cfg.seed)
    if not cases:
        raise ConfigError(f"suite {cfg.suite!r} produced no cases")
    label = judge_label(cfg)
    detectors = detector_spec(cfg)
    run_dir = run_dir_for(cfg)
    settings = {"suite": cfg.suite, "judge": label, "api_base": cfg.api_base,
                "detectors": detectors, "max_rounds": cfg.max_rounds, "seed": cfg.seed}
    check_run_dir(run_dir, settings, cfg.fresh)
    results_path = run_dir / RESULTS
    parts = _partitions(cfg, cases)
    concurrency = cfg.concurrency or (1 if label.startswith("local") else 8)
    done = asyncio.run(_judge_all(cfg, parts, detectors, results_path, concurrency))
    with open(run_dir / SESSIONS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"finished": _now(), **done}) + "\n")
    wanted = {item_id(c.id, v) for c in cases for v in ("D", "D_bias")}
    results = read_results(results_path, wanted)
    outcomes = outcomes_from(cases, results, results_path)
    report = build_report(cfg, cases, outcomes, detectors=detectors, judges=judge_names(parts, results),
                          run_dir=run_dir, data_dir=data_dir if spec.needs_data else None,
                          sessions=_sessions(run_dir / SESSIONS), concurrency=concurrency)
    out = json_out_for(cfg)
    write_json(out, report)
    report["_path"] = str(out)
    return report


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_report(cfg: E2EConfig, cases: list[Case], outcomes: list[CaseOutcome], *, detectors: str,
                 judges: dict[str, str], run_dir: Path, data_dir: Path | None,
                 sessions: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """The summary JSON: settings, sample, per-group and pooled metrics, wall time."""
    from debias import __version__

    groups = list(dict.fromkeys(c.group for c in cases))
    by_group = {g: [o for o in outcomes if o.group == g] for g in groups}
    wall = sum(float(s.get("elapsed_s", 0.0)) for s in sessions)
    load = sum(float(s.get("judge_load_s", 0.0)) for s in sessions)
    judged = sum(int(s.get("items", 0)) for s in sessions)
    return {
        "benchmark": "e2e",
        "suite": cfg.suite,
        "judge": judge_label(cfg),
        "judges": judges,
        "api_base": cfg.api_base,
        "detectors": detectors or "none",
        "max_rounds": cfg.max_rounds,
        "seed": cfg.seed,
        "limit_per_group": cfg.limit,
        "sample": {g: len(v) for g, v in by_group.items()},
        "command": cfg.command,
        "data_dir": str(data_dir) if data_dir else None,
        "run_dir": str(run_dir),
        "created": _now(),
        "versions": {"judge_debias": __version__, "python": platform.python_version()},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "concurrency": concurrency,
        "wall_time": {"seconds_total": round(wall, 2), "judge_load_seconds": round(load, 2),
                      "items_judged": judged,
                      "seconds_per_item": round(wall / judged, 4) if judged else None,
                      "sessions": len(sessions)},
        "groups": {g: group_report(v, scope=f"{cfg.suite}/{g}", seed=cfg.seed, n_boot=cfg.n_boot)
                   for g, v in by_group.items()},
        "all": group_report(outcomes, scope=f"{cfg.suite}/all", seed=cfg.seed, n_boot=cfg.n_boot),
        "definitions": "see debias/bench_e2e/metrics.py (module docstring)",
    }


def quote(arg: str) -> str:
    """Shell-quote ``arg`` when it needs it."""
    return arg if re.fullmatch(r"[\w@%+=:,./-]+", arg) else "'" + arg.replace("'", "'\"'\"'") + "'"
