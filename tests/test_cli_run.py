"""``debias run`` / ``debias bench e2e`` fail fast: the provider key is checked before the
first item (exit 2, naming the variable, never a value), and a run in which every item
failed exits 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from debias.cli import main
from debias.testing import OpenAIServer, PositionBiased, Reply, Scripted, auth_error

SECRET = "sk-ant-secret-0123456789"
KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@pytest.fixture
def srv() -> Iterator[OpenAIServer]:
    with OpenAIServer(PositionBiased()) as server:
        yield server


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in KEYS:
        monkeypatch.delenv(var, raising=False)


def _input(tmp_path: Path, n: int = 2) -> Path:
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": f"i{k}", "task": "pairwise", "instruction": "q",
                                       "candidates": [f"a{k}", f"b{k}"]}) + "\n"
                           for k in range(n)))
    return inp


def _run(inp: Path, out: Path, judge: str, *extra: str) -> int:
    return main(["run", str(inp), "--judge", judge, "--detectors", "none", "--max-rounds", "0",
                 "--no-cache", "--quiet", "--out", str(out), *extra])


@pytest.mark.parametrize(("judge", "env"), [("openai/gpt-4o-mini", "OPENAI_API_KEY"),
                                            ("anthropic/claude-3-5-haiku-latest",
                                             "ANTHROPIC_API_KEY")])
def test_missing_key_exits_2_before_the_first_item(judge: str, env: str, no_keys: None,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    if env != "ANTHROPIC_API_KEY":
        monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)  # another provider's key is no help
    out = tmp_path / "out.jsonl"
    assert _run(_input(tmp_path), out, judge) == 2
    captured = capsys.readouterr()
    assert env in captured.err and "no item was judged" in captured.err
    assert SECRET not in captured.err + captured.out
    assert not out.exists()


def test_missing_key_of_the_rewriter_exits_2(no_keys: None, srv: OpenAIServer, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    code = _run(_input(tmp_path), out, "scripted", "--rewriter", "openai/gpt-4o-mini")
    assert code == 2 and "--rewriter 'openai/gpt-4o-mini'" in capsys.readouterr().err
    assert not out.exists()


def test_a_set_key_passes_the_check(no_keys: None, srv: OpenAIServer, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123456")
    out = tmp_path / "out.jsonl"
    assert _run(_input(tmp_path), out, "openai/test-judge", "--api-base", srv.base_url) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["result"]["verdict"]["choice"] for r in records] == [0, 0]
    assert srv.request_count == 2


def test_providers_without_keys_are_not_stopped(no_keys: None, srv: OpenAIServer,
                                                tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert _run(_input(tmp_path), out, "hosted_vllm/test-judge", "--api-base", srv.base_url) == 0
    assert srv.request_count == 2


def test_every_item_failed_exits_1(srv: OpenAIServer, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    srv.responder = auth_error()
    out = tmp_path / "out.jsonl"
    code = _run(_input(tmp_path, 3), out, "openai-compat:test-judge", "--api-base", srv.base_url)
    assert code == 1
    assert "every item failed (3 of 3)" in capsys.readouterr().err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["result"]["status"] for r in records] == ["error"] * 3
    assert srv.request_count == 3  # one request per item: a 401 is not retried


def test_some_items_failed_exits_0(srv: OpenAIServer, tmp_path: Path) -> None:
    srv.responder = Scripted([Reply(status=401, error="bad key"), "Output (b)"])
    out = tmp_path / "out.jsonl"
    code = _run(_input(tmp_path, 2), out, "openai-compat:test-judge", "--api-base", srv.base_url,
                "--concurrency", "1")
    assert code == 0
    statuses = sorted(json.loads(line)["result"]["status"] for line in out.read_text().splitlines())
    assert statuses == ["clean", "error"]


def test_a_fully_resumed_run_exits_0(tmp_path: Path) -> None:
    inp, out = _input(tmp_path), tmp_path / "out.jsonl"
    assert _run(inp, out, "scripted") == 0
    assert _run(inp, out, "scripted") == 0  # nothing left to judge is not a failure


def test_bench_e2e_checks_the_key_before_the_first_item(no_keys: None, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    code = main(["bench", "e2e", "--suite", "sanity", "--judge", "openai/gpt-4o-mini",
                 "--limit", "2", "--run-dir", str(run_dir), "--json", str(tmp_path / "s.json"),
                 "--quiet"])
    assert code == 2 and "OPENAI_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()
    assert not any(p.stat().st_size for p in run_dir.glob("results*"))
