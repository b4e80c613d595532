"""judge-debias in DeepEval: an ArenaGEval whose verdicts are checked and debiased.

    pip install "judge-debias[deepeval]"
    export DEEPEVAL_TELEMETRY_OPT_OUT=YES          # DeepEval sends telemetry by default

    python examples/integrations/deepeval/debiased_arena.py            # judge: gpt-4o-mini (OPENAI_API_KEY)
    python examples/integrations/deepeval/debiased_arena.py --demo     # no key: a local, position-biased grader

ArenaGEval shuffles the contestants on every call: that spreads a judge's position bias
over a test run but leaves each single verdict as biased as before. DebiasedMetric shows
the contestants in a fixed order, re-asks the same metric with the order swapped (and
without a cue), and withdraws or revises verdicts that followed the position.
Findings: metric.debias_metadata (debias_status, debias_position_detected, ...) and the
metric's verbose logs, which DeepEval keeps in its test results.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")

from deepeval import evaluate
from deepeval.evaluate.configs import DisplayConfig
from deepeval.metrics import ArenaGEval
from deepeval.test_case import ArenaTestCase, Contestant, LLMTestCase, SingleTurnParams

from debias.integrations.deepeval import DebiasedMetric

QUESTION = "What is the capital of Australia?"


def arena(model) -> ArenaGEval:
    return ArenaGEval(name="Correctness", criteria="Choose the contestant whose answer is factually correct.",
                      evaluation_params=[SingleTurnParams.INPUT, SingleTurnParams.ACTUAL_OUTPUT],
                      model=model, async_mode=True)


def main(model) -> None:
    metric = DebiasedMetric(arena(model), detectors="position,bandwagon", max_rounds=2)

    # 1. Compare contestants directly (DeepEval's compare() builds its own ArenaGEval, so
    #    call measure / a_measure on the debiased metric instead).
    case = ArenaTestCase(contestants=[
        Contestant(name="model-v1", test_case=LLMTestCase(input=QUESTION, actual_output="Sydney.")),
        Contestant(name="model-v2", test_case=LLMTestCase(input=QUESTION, actual_output="Canberra.")),
    ])
    winner = metric.measure(case)
    print("winner:", winner, "|", metric.debias_metadata["debias_status"],
          "| position bias:", metric.debias_metadata["debias_position_detected"])
    print("reason:", metric.reason)

    # 2. In deepeval.evaluate(): each test case's actual_output against a baseline answer
    #    (score 1 = beats the baseline, 0.5 = tie, 0 = loses; pass mark 0.5).
    cases = [
        LLMTestCase(input=QUESTION, actual_output="Canberra is the capital.",
                    metadata={"baseline": "Sydney is the capital."}),
        LLMTestCase(input="Which planet is largest?", actual_output="Saturn.",
                    metadata={"baseline": "Jupiter.", "cue": "90% of reviewers believe Output (a) is better."}),
    ]
    evaluate(test_cases=cases, metrics=[metric], display_config=DisplayConfig(verbose_mode=True))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", action="store_true", help="use a local position-biased grader (no API key)")
    ap.add_argument("--model", default="gpt-4o-mini", help="judge model for ArenaGEval")
    args = ap.parse_args()
    if args.demo:
        from deepeval.models import LocalModel

        from debias.testing import OpenAIServer
        from debias.testing.framework_graders import DeepEvalGrader

        with OpenAIServer(DeepEvalGrader("compliant", merit=lambda t: ("Canberra" in t) + ("Jupiter" in t))) as srv:
            main(LocalModel(model="demo-grader", base_url=srv.base_url, api_key="demo"))
    else:
        main(args.model)
