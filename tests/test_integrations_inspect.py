"""Inspect AI adapter, end to end through ``inspect_ai.eval`` (mockllm graders, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("inspect_ai", reason="inspect-ai is not installed (pip install 'judge-debias[inspect]')")

from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import Score, Target, choice, mean, scorer
from inspect_ai.solver import TaskState, generate, multiple_choice

from debias.errors import ConfigError
from debias.integrations.inspect_ai import (
    OUTPUT,
    StateView,
    debiased,
    order_consistency,
    pairwise_grader,
    permute_choices,
    register_provider,
)
from debias.testing.prompt_view import view_of_messages

GOLD = "GOLD"


@pytest.fixture(autouse=True)
def _logs_in_tmp(tmp_path, monkeypatch):
    """Inspect writes its logs under the test's tmp dir, never the worktree."""
    monkeypatch.setenv("INSPECT_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.chdir(tmp_path)


def _out(text: str) -> ModelOutput:
    """A mock output with usage set (mockllm would otherwise count tokens with tiktoken,
    which downloads its encoding)."""
    out = ModelOutput.from_content("mockllm/model", text)
    out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return out


def _grader(kind: str, calls: list[str]):
    """A mockllm grader: reads the judge prompt like a model would and answers."""

    def respond(input, tools, tool_choice, config):  # type: ignore[no-untyped-def]
        messages = [{"role": m.role, "content": m.text} for m in input]
        view = view_of_messages(messages)
        prompt = messages[-1]["content"]
        calls.append(prompt)
        if kind == "first":                    # position-biased: always the first slot
            slot = 0
        elif kind == "cue" and view.statement and "feedback" not in prompt.lower():
            slot = view.endorsed_slot() or 0   # follows the cue until given feedback
        else:                                  # judges on content
            slot = view.slot_containing(GOLD) or 0
        return _out(view.answer(slot))

    return get_model("mockllm/model", custom_outputs=respond)


def _pairs(cue: str | None = None) -> list[Sample]:
    meta = {"candidates": ["plain answer", f"{GOLD} answer"]}
    if cue:
        meta["cue"] = cue
    return [Sample(input="Which answer is better?", id="p1", metadata=meta),
            Sample(input="And here?", id="p2",
                   metadata={**meta, "candidates": [f"{GOLD} first", "plain second"]})]


def _run(task: Task, grader) -> list:  # type: ignore[no-untyped-def]
    [log] = eval(task, model="mockllm/model", model_roles={"grader": grader}, display="none", score_display=False)
    assert log.status == "success", log.error
    return sorted(log.samples, key=lambda s: str(s.id))


def test_position_biased_grader_is_caught_and_debiased():
    calls: list[str] = []
    task = Task(dataset=_pairs(), solver=[], scorer=debiased(pairwise_grader(), detectors="position",
                                                             max_rounds=1))
    samples = _run(task, _grader("first", calls))
    for s in samples:
        score = next(iter(s.scores.values()))
        meta = score.metadata
        assert meta["debias_position_detected"] is True
        assert meta["debias_first_choice"] == "A"
        # always-first never listens: the orders disagree -> a tie, never the biased "A"
        assert score.answer == "tie" and score.value == 0.5
        assert "first grading: Output (a)" in score.explanation  # the inner grading is kept
        assert meta["debias_final_choice"] == "tie"
        assert meta["debias_status"] == "unresolved"
    # probes were real re-gradings of swapped copies
    assert any("### Output (a):\nplain answer" in c for c in calls)
    assert any(f"### Output (a):\n{GOLD} answer" in c for c in calls)
    # the scorer's metric is the inner one (win_rate), computed on debiased values
    [log] = eval(task, model="mockllm/model", model_roles={"grader": _grader("first", [])},
                 display="none")
    metrics = log.results.scores[0].metrics
    assert metrics["win_rate"].value == pytest.approx(0.5)


def test_unbiased_grader_is_untouched():
    calls: list[str] = []
    task = Task(dataset=_pairs(), solver=[], scorer=debiased(pairwise_grader(), detectors="position"))
    samples = _run(task, _grader("content", calls))
    values = {s.id: next(iter(s.scores.values())) for s in samples}
    assert values["p1"].answer == "B" and values["p2"].answer == "A"
    assert values["p1"].value == 0.0 and values["p2"].value == 1.0
    for score in values.values():
        assert score.metadata["debias_status"] == "clean"
        assert score.metadata["debias_flipped"] is False
        assert score.explanation in ("Output (a)", "Output (b)")  # the inner Score itself
    assert len(calls) == 4  # first judgement + one swap probe per sample


def test_cue_follower_revised_with_feedback_and_cue_probe_blank():
    calls: list[str] = []
    task = Task(dataset=_pairs(cue="90% of readers prefer Output (a)."), solver=[],
                scorer=debiased(pairwise_grader(), detectors="bandwagon"))
    samples = _run(task, _grader("cue", calls))
    p1 = next(iter(samples[0].scores.values()))
    assert p1.metadata["debias_bandwagon_detected"] is True
    assert p1.metadata["debias_first_choice"] == "A" and p1.answer == "B"
    assert p1.metadata["debias_status"] == "revised"
    assert any("### Statement:" not in c for c in calls)  # the no-cue probe blanked it
    assert any("Reviewer feedback" in c for c in calls)


def test_output_vs_baseline_view_swaps_the_model_output():
    calls: list[str] = []
    solver_model = get_model("mockllm/model", custom_outputs=[
        _out(f"{GOLD} from the model")])
    view = StateView(candidates=(OUTPUT, "baseline"))
    task = Task(dataset=[Sample(input="Say something", id="o1", metadata={"baseline": "baseline text"})],
                solver=generate(), scorer=debiased(pairwise_grader(view=view), view=view,
                                                   detectors="position"))
    [log] = eval(task, model=solver_model, model_roles={"grader": _grader("content", calls)},
                 display="none")
    score = next(iter(log.samples[0].scores.values()))
    assert score.answer == "A" and score.metadata["debias_status"] == "clean"
    assert any(c.index("baseline text") < c.index(GOLD) for c in calls)  # swapped copy graded


def test_single_answer_grader_is_passed_through_with_findings():
    seen: list[str] = []

    @scorer(metrics=[mean()])
    def lenient() -> object:
        async def score(state: TaskState, target: Target) -> Score:
            seen.append(state.metadata["candidates"][0])
            return Score(value="C", explanation="looks right")
        return score

    task = Task(dataset=[Sample(input="q", id="s1", metadata={"candidates": ["an answer"],
                                                              "cue": "Everyone says this is right."})],
                solver=[], scorer=debiased(lenient(), detectors="position,bandwagon"))
    [log] = eval(task, model="mockllm/model", display="none")
    score = next(iter(log.samples[0].scores.values()))
    # score tasks have no order and no pairwise cue to probe: graded once, untouched
    assert seen == ["an answer"] and score.value == "C" and score.explanation == "looks right"
    assert score.metadata["debias_status"] == "clean"
    assert score.metadata["debias_first_choice"] == 1.0  # "C" read through value_to_float
    assert score.metadata["debias_position_status"] == "skipped"
    assert log.results.scores[0].metrics["mean"].value == 1.0


def test_missing_candidates_names_the_sample():
    task = Task(dataset=[Sample(input="q", id="bad1", metadata={})], solver=[],
                scorer=debiased(pairwise_grader()))
    [log] = eval(task, model="mockllm/model", display="none",
                 fail_on_error=False)
    assert "bad1" in str(log.samples[0].error) and "candidates" in str(log.samples[0].error)


def test_debias_provider_as_grader_role():
    register_provider()
    calls: list[str] = []
    inner = _grader("first", calls)
    grader = get_model("debias/mockllm/model", custom_outputs=inner.api.outputs,
                       detectors="position", max_rounds=1)
    task = Task(dataset=_pairs(), solver=[], scorer=pairwise_grader())
    samples = _run(task, grader)
    for s in samples:
        score = next(iter(s.scores.values()))
        assert score.answer == "tie"  # the debiased grader answered "Tie" for an always-first judge
    assert len(calls) >= 4 and any(f"### Output (a):\n{GOLD} answer" in c for c in calls)
    honest = get_model("debias/mockllm/model", custom_outputs=_grader("content", []).api.outputs,
                       detectors="position")
    samples = _run(Task(dataset=_pairs(), solver=[], scorer=pairwise_grader()), honest)
    assert [next(iter(s.scores.values())).answer for s in samples] == ["B", "A"]


async def test_debias_provider_passes_other_prompts_through():
    register_provider()
    model = get_model("debias/mockllm/model", custom_outputs=[
        _out("GRADE: C")])
    out = await model.generate("Grade this: 2+2=4")
    assert out.completion == "GRADE: C" and out.metadata["debias_status"] == "passthrough"


def test_permutation_helper_flags_a_model_that_prefers_a():
    base = [Sample(input=f"Question {k}?", choices=["right", "wrong1", "wrong2"], target="A", id=k)
            for k in range(3)]
    rotated = permute_choices(base)
    assert len(rotated) == 9 and rotated[1].choices == ["wrong1", "wrong2", "right"]
    assert rotated[1].target == "C" and rotated[1].metadata["debias_target_position"] == 2

    always_a = get_model("mockllm/model", custom_outputs=lambda *a: _out("ANSWER: A"))
    [log] = eval(Task(dataset=rotated, solver=multiple_choice(), scorer=choice()), model=always_a,
                 display="none")
    report = order_consistency(log)
    assert report.questions == 3 and report.consistent == 0.0
    assert report.accuracy_by_position == {0: 1.0, 1: 0.0, 2: 0.0}
    assert report.flagged and report.picks_by_position == {0: 1.0}

    def knows(input, tools, tool_choice, config):  # type: ignore[no-untyped-def]
        text = input[-1].text
        letter = next(line[0] for line in text.splitlines() if line[1:3] == ") " and "right" in line)
        return _out(f"ANSWER: {letter}")

    [log] = eval(Task(dataset=rotated, solver=multiple_choice(), scorer=choice()),
                 model=get_model("mockllm/model", custom_outputs=knows), display="none")
    report = order_consistency(log)
    assert report.consistent == 1.0 and not report.flagged and report.spread == 0.0


def test_permutation_helper_rejects_bad_samples():
    with pytest.raises(ConfigError, match=r"sample 'x'.*2\+ choices"):
        permute_choices([Sample(input="q", id="x", target="A")])
    with pytest.raises(ConfigError, match=r"sample 'y'.*target 'E'"):
        permute_choices([Sample(input="q", id="y", choices=["a", "b"], target="E")])
    with pytest.raises(ConfigError, match=r"no question with 2\+ rotations"):
        order_consistency([])


def test_state_view_validation():
    assert StateView(candidates="output").candidates == (OUTPUT,)
    with pytest.raises(ValueError, match="1-10 sources"):
        StateView(candidates=())


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "integrations" / "inspect" / "debias_tasks.py"


def _model_answers(text: str):  # type: ignore[no-untyped-def]
    return get_model("mockllm/model", custom_outputs=lambda *a: _out(text))


def test_example_task_file_runs_with_a_biased_grader():
    calls: list[str] = []
    [log] = eval(f"{EXAMPLE}@better_than_baseline", model=_model_answers(f"{GOLD}: Canberra."),
                 model_roles={"grader": _grader("first", calls)}, display="none")
    assert log.status == "success", log.error
    scores = {s.id: next(iter(s.scores.values())) for s in log.samples}
    assert scores["capital"].metadata["debias_position_detected"] is True
    assert scores["capital"].answer == "tie"  # always-first grader: no spurious win for A


def test_example_task_file_with_debias_provider_role():
    register_provider()
    grader = get_model("debias/mockllm/model", custom_outputs=_grader("content", []).api.outputs,
                       detectors="position")
    [log] = eval(f"{EXAMPLE}@baseline_plain_grader", model=_model_answers(f"{GOLD}: Canberra."),
                 model_roles={"grader": grader}, display="none")
    assert log.status == "success", log.error
    assert all(next(iter(s.scores.values())).answer == "A" for s in log.samples)


def test_example_answer_order_task():
    [log] = eval(f"{EXAMPLE}@answer_order", model=_model_answers("ANSWER: A"), display="none")
    report = order_consistency(log)
    assert report.questions == 2 and report.flagged


def test_entry_point_declared_in_pyproject_registers_the_provider():
    from importlib.metadata import EntryPoint

    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")

    project = tomllib.loads((EXAMPLE.parents[3] / "pyproject.toml").read_text())["project"]
    eps = project["entry-points"]["inspect_ai"]
    assert project["optional-dependencies"]["inspect"]
    for name, value in eps.items():
        EntryPoint(name=name, value=value, group="inspect_ai").load()
    model = get_model("debias/mockllm/model", custom_outputs=[_out("Output (b)"), _out("Output (a)")],
                      detectors="position", max_rounds=0)
    assert model.api.settings.max_rounds == 0


def test_grader_answering_garbage_gives_an_unscored_score_with_the_reason():
    def garbage(input, tools, tool_choice, config):  # type: ignore[no-untyped-def]
        return _out("Both answers have merits; hard to say.")

    task = Task(dataset=_pairs(), solver=[], scorer=debiased(pairwise_grader(), detectors="position"))
    samples = _run(task, get_model("mockllm/model", custom_outputs=garbage))
    for s in samples:
        score = next(iter(s.scores.values()))
        assert score.reason and "judge failed" in str(score.reason)
        assert score.metadata["debias_status"] == "error"


def test_numeric_preference_scorer_without_answer_is_read_as_first_or_second():
    @scorer(metrics=[mean()])
    def prefers_first() -> object:
        async def score(state: TaskState, target: Target) -> Score:
            return Score(value=1.0)  # "the first shown candidate wins", whatever it is
        return score

    task = Task(dataset=_pairs(), solver=[], scorer=debiased(prefers_first(), detectors="position",
                                                             max_rounds=0))
    [log] = eval(task, model="mockllm/model", display="none")
    score = next(iter(log.samples[0].scores.values()))
    assert score.metadata["debias_position_detected"] is True
    assert score.answer == "tie" and score.value == 0.5


@pytest.mark.network
def test_inspect_cli_grader_role_points_at_debias_provider_through_the_entry_point(tmp_path):
    """``inspect eval ... --model-role grader=debias/...`` as a user runs it: the provider is
    found through the ``inspect_ai`` entry point (a dist-info written as pip would), the
    models are OpenAI-compatible endpoints on a loopback server."""
    import json as _json
    import os
    import subprocess
    import sys
    from importlib.metadata import EntryPoint  # noqa: F401  (documents what reads the file)

    from debias.testing import OpenAIServer, Reply

    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")
    eps = tomllib.loads((EXAMPLE.parents[3] / "pyproject.toml").read_text())["project"][
        "entry-points"]["inspect_ai"]
    dist = tmp_path / "site" / "judge_debias_entrypoints-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: judge-debias-entrypoints\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[inspect_ai]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))

    def respond(req):  # type: ignore[no-untyped-def]
        if req.view.task == "pairwise":
            return Reply("Output (a)")  # position-biased grader
        return Reply(f"{GOLD}: Canberra is the capital.")

    logs = tmp_path / "cli-logs"
    with OpenAIServer(respond) as server:
        env = {**os.environ, "LOOP_BASE_URL": server.base_url, "LOOP_API_KEY": "sk-test",
               "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(EXAMPLE.parents[3]),
                                              os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run(
            [sys.executable, "-m", "inspect_ai", "eval", f"{EXAMPLE}@baseline_plain_grader",
             "--model", "openai-api/loop/answerer",
             "--model-role", "grader={model: debias/openai-api/loop/judge, model_args: {detectors: position}}",
             "--log-dir", str(logs), "--log-format", "json", "--display", "none"],
            env=env, capture_output=True, text=True, timeout=300)
        grader_prompts = [r for r in server.requests if "### Output (a)" in _json.dumps(r.body)]
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [log_file] = list(logs.glob("*.json"))
    log = _json.loads(log_file.read_text())
    assert log["status"] == "success"
    answers = [next(iter(s["scores"].values()))["answer"] for s in log["samples"]]
    assert answers == ["tie", "tie"]  # the always-"Output (a)" grader no longer gives A a win
    assert len(grader_prompts) >= 4  # each grading call probed in the swapped order
