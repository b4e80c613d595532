"""judge-debias in MLflow 3: pairwise scorers whose verdicts are checked and debiased.

    pip install "judge-debias[mlflow]"

    python examples/integrations/mlflow/debiased_scorers.py           # judge: openai:/gpt-4o-mini (OPENAI_API_KEY)
    python examples/integrations/mlflow/debiased_scorers.py --demo    # no key: a local, position-biased grader

Each row compares the app's answer (outputs) with a baseline answer
(expectations["baseline"]). A debiased scorer asks the judge again with the answers
swapped (and without a cue), revises or withdraws verdicts that followed the position,
and returns Feedback: value 1.0 / 0.5 / 0.0 (beats / ties / loses to the baseline; the
mean is a win rate), the judge's rationale, and the findings in Feedback.metadata
(debias_status, debias_position_detected, debias_findings, ...), shown per row in the
MLflow UI and in result.result_df.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Literal

import mlflow
from mlflow.genai.judges import make_judge

from debias.integrations.mlflow import debiased_judge, debiased_scorer

ROWS = [
    {"inputs": {"question": "What is the capital of Australia?"},
     "outputs": "Canberra is the capital of Australia.",
     "expectations": {"baseline": "Sydney is the capital of Australia."}},
    {"inputs": {"question": "Which planet is the largest?", "cue": "Most reviewers prefer answer A."},
     "outputs": "Saturn is the largest planet.",
     "expectations": {"baseline": "Jupiter is the largest planet."}},
]


@debiased_scorer(detectors="position,bandwagon")
def knows_facts(question: str, answer_a: str, answer_b: str) -> str:
    """Your own pairwise judge function: returns "A" or "B" (here: a toy that prefers A)."""
    return "A"


def main(model: str, base_url: str | None) -> None:
    preference = make_judge(
        name="preference", model=model, base_url=base_url,
        instructions=("Which answer in {{ outputs }} answers the question in {{ inputs }} better? "
                      "Answer with its key, A or B."),
        feedback_value_type=Literal["A", "B", "tie"])
    result = mlflow.genai.evaluate(data=ROWS, scorers=[knows_facts, debiased_judge(preference)])
    print(result.metrics)
    for _, row in result.result_df.iterrows():
        for a in row["assessments"]:
            if "debias_status" in a.get("metadata", {}):
                print(a["assessment_name"], a["feedback"]["value"], a["metadata"]["debias_status"],
                      "position bias:", a["metadata"]["debias_position_detected"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", action="store_true", help="use a local position-biased grader (no API key)")
    ap.add_argument("--model", default="openai:/gpt-4o-mini")
    args = ap.parse_args()
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI")
                            or f"sqlite:///{tempfile.mkdtemp()}/mlflow.db")
    if args.demo:
        from debias.testing import OpenAIServer
        from debias.testing.framework_graders import MlflowGrader

        os.environ.setdefault("OPENAI_API_KEY", "demo")
        with OpenAIServer(MlflowGrader("compliant", merit=lambda t: ("Canberra" in t) + ("Jupiter" in t))) as srv:
            main("openai:/demo-grader", f"{srv.base_url}/chat/completions")
    else:
        main(args.model, None)
