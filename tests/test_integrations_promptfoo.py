"""promptfoo adapter: the real ``npx promptfoo eval`` against loopback judge servers.

The Python assertion and grader provider run inside promptfoo's Python bridge; the judge
is an OpenAI-compatible server on 127.0.0.1 with a scripted responder. The in-process
tests below cover the same functions without promptfoo.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from debias.errors import ConfigError
from debias.integrations import promptfoo as pf
from debias.testing import ContentFair, OpenAIServer, PositionBiased, Reply, auth_error

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "integrations" / "promptfoo"
GOLD = "[correct]"
NPX = shutil.which("npx")
HAS_PROMPTFOO = NPX is not None and shutil.which("promptfoo") is not None
needs_promptfoo = pytest.mark.skipif(
    not HAS_PROMPTFOO, reason="promptfoo is not installed (npm install -g promptfoo; .ci/run does it)")


def _select_best_responder(kind: str):  # type: ignore[no-untyped-def]
    """A grader for promptfoo's select-best prompt (``<Text index="k">`` blocks) and,
    for anything else (llm-rubric), a passing JSON grade."""

    def respond(req) -> Reply:  # type: ignore[no-untyped-def]
        text = "\n".join(str(m.get("content", "")) for m in req.messages)
        blocks = re.findall(r'<Text index="(\d+)">\n(.*?)\n</Text>', text, re.S)
        if not blocks:
            return Reply(json.dumps({"pass": True, "score": 1, "reason": "rubric ok"}))
        if kind == "first":
            return Reply("0")
        return Reply(next(i for i, body in blocks if GOLD in body))

    return respond


def _run_promptfoo(tmp_path: Path, config: dict) -> dict:  # type: ignore[type-arg]
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text(json.dumps(config))  # JSON is YAML
    out = tmp_path / "out.json"
    env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
           "PROMPTFOO_DISABLE_SHARING": "1", "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
           "PROMPTFOO_PYTHON": sys.executable, "PROMPTFOO_CONFIG_DIR": str(tmp_path / ".promptfoo"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OPENAI_API_KEY": "sk-test-not-used"}
    proc = subprocess.run([NPX, "promptfoo", "eval", "-c", str(cfg), "-o", str(out), "--no-cache",
                           "--no-progress-bar", "--no-table", "-j", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    # exit 100 = some assertion failed (expected in the biased runs)
    assert proc.returncode in (0, 100), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def _pairwise_config(api_base: str) -> dict:  # type: ignore[type-arg]
    return {
        "prompts": ["{{answer}}"],
        "providers": ["echo"],  # the "model under test" returns the prompt: our fixed answer
        "defaultTest": {"assert": [{
            "type": "python", "value": f"file://{EXAMPLE / 'debias_promptfoo.py'}:get_assert",
            "config": {"judge": "openai-compat:judge", "api_base": api_base,
                       "detectors": "position", "max_rounds": 1, "instruction_var": "question"}}]},
        "tests": [
            {"description": "good", "vars": {"question": "q1", "answer": f"{GOLD} good answer",
                                             "baseline": "plain baseline"}},
            {"description": "bad", "vars": {"question": "q2", "answer": "plain answer",
                                            "baseline": f"{GOLD} better baseline"}},
        ],
    }


def _components(results: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    rows = results["results"]["results"]
    return {r["testCase"]["description"]: r["gradingResult"]["componentResults"][0] for r in rows}


@needs_promptfoo
@pytest.mark.network
def test_assertion_catches_position_biased_judge(tmp_path):
    with OpenAIServer(PositionBiased()) as server:
        comps = _components(_run_promptfoo(tmp_path, _pairwise_config(server.base_url)))
        assert server.request_count >= 4  # first judgement + swap probe (+ revision) per test
    for name in ("good", "bad"):
        c = comps[name]
        # a judge that always picks the first slot would pass both; debiased it is a tie
        assert c["pass"] is False and c["score"] == 0.5, c
        assert c["metadata"]["debias_position_detected"] is True
        assert c["metadata"]["debias_first_choice"] == "A"
        assert c["metadata"]["debias_final_choice"] == "tie"
        assert c["namedScores"]["debias_position_detected"] == 1.0
        assert "biases detected: position" in c["reason"]


@needs_promptfoo
@pytest.mark.network
def test_assertion_leaves_unbiased_judge_untouched(tmp_path):
    with OpenAIServer(ContentFair(marker=GOLD)) as server:
        comps = _components(_run_promptfoo(tmp_path, _pairwise_config(server.base_url)))
        assert server.request_count == 4  # one judgement + one swap probe per test, no revision
    assert comps["good"]["pass"] is True and comps["good"]["score"] == 1.0
    assert comps["bad"]["pass"] is False and comps["bad"]["score"] == 0.0
    for c in comps.values():
        assert c["metadata"]["debias_status"] == "clean"
        assert c["metadata"]["debias_position_detected"] is False


def _grader_config(api_base: str) -> dict:  # type: ignore[type-arg]
    return {
        "prompts": ["{{a}}", "{{b}}"],
        "providers": ["echo"],
        "defaultTest": {"options": {"provider": {
            "id": f"file://{EXAMPLE / 'debias_promptfoo.py'}",
            "config": {"judge": "openai-compat:judge", "api_base": api_base,
                       "detectors": "position", "max_rounds": 1}}}},
        "tests": [
            {"description": "pick", "vars": {"a": "plain text", "b": f"{GOLD} text"},
             "assert": [{"type": "select-best", "value": "the correct one"}]},
            {"description": "rubric", "vars": {"a": "x", "b": "y"},
             "assert": [{"type": "llm-rubric", "value": "is a letter"}]},
        ],
    }


def _by_test_and_prompt(results: dict) -> dict[tuple[str, int], dict]:  # type: ignore[type-arg]
    return {(r["testCase"]["description"], r["promptIdx"]): r["gradingResult"]
            for r in results["results"]["results"]}


@needs_promptfoo
@pytest.mark.network
def test_grader_provider_debiases_select_best(tmp_path):
    with OpenAIServer(_select_best_responder("first")) as server:
        res = _by_test_and_prompt(_run_promptfoo(tmp_path, _grader_config(server.base_url)))
        select_best_calls = [r for r in server.requests if "<Text index" in json.dumps(r.body)]
        assert len(select_best_calls) >= 2  # the original order and the swapped one
    # always-"0" grader: its pick follows the order, so no output is reported best
    for idx in (0, 1):
        grading = res[("pick", idx)]
        assert grading["pass"] is False
        assert "changed with the display order" in grading["reason"]
    # other grading prompts pass through untouched
    assert res[("rubric", 0)]["pass"] is True and res[("rubric", 1)]["pass"] is True

    with OpenAIServer(_select_best_responder("content")) as server:
        res = _by_test_and_prompt(_run_promptfoo(tmp_path, _grader_config(server.base_url)))
    assert res[("pick", 1)]["pass"] is True and res[("pick", 0)]["pass"] is False


# ------------------------------------------------------- in-process (no promptfoo needed)
@pytest.mark.network
def test_grade_in_process_and_config_errors():
    with OpenAIServer(PositionBiased()) as server:
        ctx = {"vars": {"baseline": f"{GOLD} b", "question": "q"}, "prompt": "q",
               "config": {"judge": "openai-compat:j", "api_base": server.base_url,
                          "detectors": "position", "max_rounds": 0}}
        got = pf.get_assert("plain", ctx)
    assert got["pass"] is False and got["metadata"]["debias_position_detected"] is True
    with pytest.raises(ConfigError, match="judge-debias assertion: detectorz"):
        pf.get_assert("x", {"vars": {"baseline": "b"}, "config": {"judge": "scripted", "detectorz": "x"}})
    with pytest.raises(ConfigError, match="var 'baseline'"):
        pf.get_assert("x", {"vars": {}, "config": {"judge": "scripted"}})
    with pytest.raises(ConfigError, match="config must be a mapping"):
        pf.get_assert("x", {"vars": {"baseline": "b"}})


def test_scripted_judge_assertion_tie_passes_option():
    ctx = {"vars": {"baseline": "b"}, "prompt": "q",
           "config": {"judge": "scripted:position=1,compliance=0", "detectors": "position",
                      "tie_passes": True}}
    got = pf.get_assert("a", ctx)
    assert got["score"] == 0.5 and got["pass"] is True


def test_select_best_prompt_is_re_rendered_faithfully():
    prompt = json.dumps([{"role": "system", "content": (
        "You are comparing multiple pieces of text to see which best fits the following criteria: "
        "be right\n\nHere are the pieces of text:\n\n\n<Text index=\"0\">\nfirst\n</Text>\n\n"
        "<Text index=\"1\">\nsecond\n</Text>\n\nOutput the index of the text that best fits the "
        "criteria. You must output a single integer.")}])
    grading = pf.PROMPT_FORMATS["select-best"](pf._messages(prompt))
    assert grading is not None and grading.candidates == ["first", "second"]
    assert grading.instruction == "be right"
    swapped = grading.render(["second", "first"], None)[0]["content"]
    assert swapped.index("second") < swapped.index("first")
    assert swapped.replace("second", "X").replace("first", "second").replace("X", "first") == \
        json.loads(prompt)[0]["content"]
    assert pf.PROMPT_FORMATS["select-best"]([{"role": "user", "content": "grade this"}]) is None


def test_provider_rejects_non_chat_judge():
    with pytest.raises(ConfigError, match="not a chat model"):
        pf.call_api("x", {"config": {"judge": "scripted"}}, {})


@pytest.mark.network
def test_failing_judge_fails_the_assertion_with_the_reason_and_never_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-4711")
    with OpenAIServer(auth_error()) as server:
        ctx = {"vars": {"baseline": "b"}, "prompt": "q",
               "config": {"judge": "openai-compat:j", "api_base": server.base_url}}
        got = pf.get_assert("a", ctx)
        assert server.request_count == 1  # an auth error is not retried
    assert got["pass"] is False and got["score"] == 0.0
    assert "judge failed" in got["reason"] and "401" in got["reason"]
    assert got["metadata"]["debias_status"] == "error"
    assert "sk-secret-4711" not in json.dumps(got)
    assert server.requests[0].headers.get("authorization") == "Bearer sk-secret-4711"


@pytest.mark.network
def test_grader_provider_passthrough_and_judge_format():
    with OpenAIServer(ContentFair(marker=GOLD)) as server:
        cfg = {"config": {"judge": "openai-compat:j", "api_base": server.base_url,
                          "detectors": "position"}}
        plain = pf.call_api("Grade this output: hello", cfg, {})
        ours = pf.call_api(json.dumps([{"role": "user", "content": (
            "### Instruction:\nq\n\n### Output (a):\nplain\n\n### Output (b):\n"
            f"{GOLD} text\n\nWhich output is better?")}]), cfg, {})
    assert plain["metadata"] == {"debias_status": "passthrough"}
    assert ours["output"] == "Output (b)" and ours["metadata"]["debias_status"] == "clean"
    assert ours["metadata"]["debias_prompt_format"] == "judge-debias"
