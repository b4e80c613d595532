"""``debias serve`` from the command line: argument errors, and a real server process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from debias.cli import main
from debias.proxy.server import free_port
from debias.testing import OpenAIServer
from debias.testing.bench_judges import SlotJudge
from tests.proxy_prompts import client_reads, messages
from tests.subprocess_server import wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]


def test_serve_needs_a_judge(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve"])
    assert info.value.code == 2 and "--judge" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--judge", "local"], "needs a chat model API"),
    (["--judge", "openai-compat:x", "--api-base", "http://127.0.0.1:9/v1", "--max-rounds", "-1"],
     "--max-rounds"),
    (["--judge", "openai-compat:x", "--api-base", "http://127.0.0.1:9/v1", "--budget", "0"], "--budget"),
    (["--judge", "openai-compat:x", "--api-base", "http://127.0.0.1:9/v1", "--templates", "nope"],
     "no template named 'nope'"),
    (["--judge", "openai-compat:x", "--api-base", "http://127.0.0.1:9/v1", "--detectors", "positon"],
     "positon"),
    (["--judge", "openai-compat:x"], "needs the server URL"),
])
def test_bad_settings_exit_2_with_a_message(argv: list[str], message: str,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert main(["serve", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.network
def test_debias_serve_process_answers_a_judge_prompt() -> None:
    with OpenAIServer(SlotJudge(1)) as upstream:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        proc = subprocess.Popen([sys.executable, "-m", "debias", "serve", "--judge", "openai-compat:test-judge",
                                 "--api-base", upstream.base_url, "--detectors", "position",
                                 "--port", str(port), "--log-level", "warning"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(f"{url}/health", proc, timeout=120, poll=0.2,
                               output=lambda: proc.stdout.read() if proc.stdout else "")
            chat = messages("mtbench-pair-math-v1", "What is 3*3?", "9 [correct]", "6")
            resp = httpx.post(f"{url}/v1/chat/completions", json={"model": "gpt-4", "messages": chat},
                              timeout=30)
            assert resp.status_code == 200 and resp.headers["x-debias-template"] == "mtbench-pair-math-v1"
            assert client_reads("mtbench-pair-math-v1", resp.json()["choices"][0]["message"]["content"]) == "tie"
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
    assert "judging with openai-compat:test-judge" in out
