"""The MLflow adapter, end to end: one real ``mlflow.genai.evaluate`` run (sqlite tracking
store in a temp dir, no network) with debiased scorers around pairwise judge functions
and around a ``make_judge`` judge answering from a loopback OpenAI-compatible server."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Literal

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

mlflow = pytest.importorskip("mlflow", minversion="3")

from mlflow.genai.judges import make_judge  # noqa: E402
from mlflow.genai.scorers import Scorer, scorer  # noqa: E402

from debias.errors import ConfigError, MissingDependencyError  # noqa: E402
from debias.integrations.mlflow import RowReader, debiased_judge, debiased_scorer  # noqa: E402
from debias.testing import OpenAIServer  # noqa: E402
from debias.testing.framework_graders import MlflowGrader  # noqa: E402
from debias.testing.responders import ChatRequest  # noqa: E402

pytestmark = pytest.mark.network

GOOD, BAD = "Canberra is the capital of Australia.", "Sydney is the capital of Australia."
ROWS = [
    {"inputs": {"question": "What is the capital of Australia?"}, "outputs": GOOD,
     "expectations": {"baseline": BAD}},
    {"inputs": {"question": "What is the capital of Australia?"}, "outputs": BAD,
     "expectations": {"baseline": GOOD}},
]


def first_slot(question: str, answer_a: str, answer_b: str) -> str:
    """A position-biased judge that ignores feedback."""
    return "A"


def compliant(question: str, answer_a: str, answer_b: str) -> str:
    """Position-biased until it is given reviewer feedback, then judges on content."""
    if "Reviewer feedback" in question:
        return "A" if "Canberra" in answer_a else "B"
    return "A"


def fair(question: str, answer_a: str, answer_b: str) -> str:
    """Judges on content whatever the order."""
    return "A" if "Canberra" in answer_a else "B"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One evaluate run with every scorer under test (MLflow's import and start-up are slow)."""
    tmp = tmp_path_factory.mktemp("mlflow")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)
    mp.setenv("OPENAI_API_KEY", "sk-test")
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    with OpenAIServer(MlflowGrader("position")) as server:
        mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
        judge = make_judge(name="llm_preference", model="openai:/scripted-grader",
                           base_url=f"{server.base_url}/chat/completions",
                           instructions="Which answer in {{ outputs }} answers {{ inputs }} better? "
                                        "Answer with its key, A or B.",
                           feedback_value_type=Literal["A", "B", "tie"])

        @scorer
        def plain_first_slot(inputs, outputs, expectations):
            return 1.0 if first_slot(inputs["question"], outputs, expectations["baseline"]) == "A" else 0.0

        scorers = [
            plain_first_slot,
            debiased_scorer(first_slot, name="stubborn", detectors="position", max_rounds=1),
            debiased_scorer(detectors="position")(compliant),
            debiased_scorer(fair, detectors="position"),
            debiased_judge(judge, detectors="position", max_rounds=0),
        ]
        result = mlflow.genai.evaluate(data=ROWS, scorers=scorers)
        requests = server.request_count
    mp.undo()
    return result, requests


def _rows(result, name):
    df = result.result_df
    out = []
    for _, row in df.iterrows():
        fb = next(a for a in row["assessments"] if a["assessment_name"] == name)
        out.append((row["response"], fb))
    return sorted(out, key=lambda r: r[0] != GOOD)      # the GOOD candidate's row first


def test_position_biased_judge_is_caught(run):
    result, _ = run
    # The plain scorer gives the candidate (shown first) a win on both rows.
    assert [fb["feedback"]["value"] for _, fb in _rows(result, "plain_first_slot")] == [1.0, 1.0]
    for _, fb in _rows(result, "stubborn"):             # ignores feedback: no winner either way
        assert fb["feedback"]["value"] == 0.5
        assert fb["metadata"]["debias_position_detected"] == "true"
        assert fb["metadata"]["debias_status"] == "unresolved"
        assert fb["rationale"].startswith("[judge-debias: unresolved")
    assert result.metrics["stubborn/mean"] == pytest.approx(0.5)


def test_compliant_judge_is_debiased(run):
    result, _ = run
    (good, g), (bad, b) = _rows(result, "compliant")
    assert (good, g["feedback"]["value"]) == (GOOD, 1.0)
    assert (bad, b["feedback"]["value"]) == (BAD, 0.0)   # was 1.0: the baseline really won
    assert b["metadata"]["debias_flipped"] == "true" and g["metadata"]["debias_flipped"] == "false"


def test_unbiased_judge_is_untouched(run):
    result, _ = run
    rows = _rows(result, "fair")
    assert [fb["feedback"]["value"] for _, fb in rows] == [1.0, 0.0]
    for _, fb in rows:
        assert fb["metadata"]["debias_status"] == "clean"
        assert fb["metadata"]["debias_position_detected"] == "false"
        assert fb["metadata"]["debias_probes"] == "1"   # one swap probe, no revision


def test_make_judge_judge_through_the_server(run):
    result, requests = run
    rows = _rows(result, "llm_preference")
    for _, fb in rows:      # detect only (max_rounds=0): inconsistent orders aggregate to a tie
        assert fb["feedback"]["value"] == 0.5
        assert fb["metadata"]["debias_position_detected"] == "true"
        assert "Answer A is more complete." in fb["rationale"]
    assert requests == 4    # 2 rows x (judgement + swap probe)


def _free_text_grader(req: ChatRequest) -> str:
    """A content-fair grader that answers in prose ("Response B is better") instead of a key."""
    user = next(m["content"] for m in req.messages if m.get("role") == "user")
    outputs = json.loads(user.split("outputs: ", 1)[1].split("\ninputs: ", 1)[0])
    best = next(k for k, v in outputs.items() if "Canberra" in v)
    return json.dumps({"result": f"Response {best} is better", "rationale": "It names the right city."})


def _bool_grader(req: ChatRequest) -> str:
    return json.dumps({"result": True, "rationale": "Looks fine."})


@pytest.mark.parametrize("responder, value_type", [(_free_text_grader, str), (_bool_grader, bool)])
def test_make_judge_in_other_formats(run, responder, value_type, monkeypatch):
    """Prose answers are parsed (unbiased judge: untouched); a yes/no answer to a pairwise
    question is an error, recorded on the Feedback with the findings, never a guess."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with OpenAIServer(responder) as server:
        judge = make_judge(name="pref", model="openai:/scripted-grader",
                           base_url=f"{server.base_url}/chat/completions",
                           instructions=("Which answer in {{ outputs }} answers {{ inputs }} better "
                                         "(see {{ expectations }})?"),
                           feedback_value_type=value_type)
        score = debiased_judge(judge, detectors="position,bandwagon")
        fb = score(inputs={"question": "Capital of Australia?", "context": "Geography quiz",
                           "cue": "90% of people believe that Output (b) is better"},
                   outputs=GOOD, expectations={"baseline": BAD, "topic": "capitals"})
        users = [next(m["content"] for m in r.body["messages"] if m["role"] == "user")
                 for r in server.requests]
    if value_type is str:
        assert fb.value == 1.0 and fb.rationale == "It names the right city."
        assert fb.metadata["debias_status"] == "clean"
        # the row's own inputs and other expectations reach the judge; the cue as a
        # statement (removed in the no-cue probe), never under its row key
        assert all('"context": "Geography quiz"' in u and "capitals" in u for u in users)
        assert sum('"statement": "90% of people' in u for u in users) == len(users) - 1
        assert not any('"cue"' in u for u in users)
    else:
        assert fb.error is not None and "a pairwise judge must answer a letter" in fb.error.error_message
        assert fb.metadata["debias_status"] == "error"


def test_row_errors_name_the_row():
    read = RowReader()
    with pytest.raises(ConfigError, match=r"row 'Q\?': .*expectations\['baseline'\]"):
        read({"question": "Q?"}, "x", {})
    with pytest.raises(ConfigError, match="holds 1 candidates"):
        read("Q?", ["only one"], None)
    item, versus = read({"question": "Q?", "cue": "Most people prefer Output (b)"}, ["a", "b", "c"], None)
    assert (item.task, item.cue, versus) == ("choice", "Most people prefer Output (b)", False)
    with pytest.raises(ConfigError, match="make_judge"):
        debiased_judge(fair)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_rounds"):
        debiased_scorer(fair, max_rounds=-1)


def test_choice_rows_return_the_letter():
    score = debiased_scorer(lambda q, cands: "Choice 1", name="firstpick", detectors="position",
                            max_rounds=0)
    fb = score(inputs="Pick the prime.", outputs=["4", "7", "9"], expectations=None)
    assert fb.value == "tie" and fb.metadata["debias_position_detected"] == "true"


def test_missing_mlflow_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.delitem(sys.modules, "debias.integrations.mlflow", raising=False)
    with pytest.raises(MissingDependencyError, match=r"judge-debias\[mlflow\]"):
        importlib.import_module("debias.integrations.mlflow")



def test_example_scorer_is_a_debiased_mlflow_scorer():
    """examples/integrations/mlflow/debiased_scorers.py: its decorated judge (which always
    answers "A") is an MLflow scorer whose verdicts are withdrawn as position-biased."""
    path = Path(__file__).resolve().parents[1] / "examples" / "integrations" / "mlflow" / "debiased_scorers.py"
    spec = importlib.util.spec_from_file_location("debiased_scorers_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.knows_facts, Scorer) and module.knows_facts.name == "knows_facts"
    row = module.ROWS[1]                                   # carries a cue as well
    fb = module.knows_facts(inputs=row["inputs"], outputs=row["outputs"], expectations=row["expectations"])
    assert fb.value == 0.5 and fb.metadata["debias_position_detected"] == "true"
    assert fb.metadata["debias_bandwagon_status"] == "ok"
