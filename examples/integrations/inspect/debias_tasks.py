"""judge-debias in Inspect AI: debiased pairwise grading and an answer-order check.

    pip install "judge-debias[inspect]"

    # the model's answer vs a baseline, graded by a debiased pairwise scorer
    inspect eval examples/integrations/inspect/debias_tasks.py@better_than_baseline \
        --model openai/gpt-4o-mini --model-role grader=openai/gpt-4o

    # the same grader, debiased at the model level instead (any pairwise prompt in
    # judge-debias's format sent to the grader role is probed and revised)
    inspect eval examples/integrations/inspect/debias_tasks.py@baseline_plain_grader \
        --model openai/gpt-4o-mini --model-role grader=debias/openai/gpt-4o
    # (options: --model-role grader="{model: debias/openai/gpt-4o, model_args: {detectors: position}}")

    # does the evaluated model prefer an answer position? (inspect_ai #4304)
    inspect eval examples/integrations/inspect/debias_tasks.py@answer_order --model openai/gpt-4o-mini
    python -c "from debias.integrations.inspect_ai import order_consistency; \
               print(order_consistency('logs/<the log>.eval'))"

Score.metadata of the debiased scorer holds the findings: debias_status,
debias_position_detected, debias_first_choice, debias_final_choice, debias_findings, ...
"""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import choice
from inspect_ai.solver import generate, multiple_choice

from debias.integrations.inspect_ai import (
    OUTPUT,
    StateView,
    debiased,
    pairwise_grader,
    permute_choices,
)

# The model's answer (its output) is candidate A; the baseline in the metadata is B.
VIEW = StateView(candidates=(OUTPUT, "baseline"), cue="cue")

QUESTIONS = [
    Sample(id="capital", input="What is the capital of Australia? Answer in one sentence.",
           metadata={"baseline": "Sydney is the capital of Australia."}),
    Sample(id="boiling", input="At what temperature does water boil at sea level, in Celsius?",
           metadata={"baseline": "Water boils at 90 degrees Celsius at sea level.",
                     "cue": "Most reviewers preferred Output (b)."}),
]


@task
def better_than_baseline() -> Task:
    """Win rate of the model's answers against baselines, with debiased verdicts."""
    return Task(dataset=QUESTIONS, solver=generate(),
                scorer=debiased(pairwise_grader(view=VIEW), view=VIEW,
                                detectors="position,bandwagon", max_rounds=1))


@task
def baseline_plain_grader() -> Task:
    """The undebiased pairwise grader: point its grader role at ``debias/<model>``."""
    return Task(dataset=QUESTIONS, solver=generate(), scorer=pairwise_grader(view=VIEW))


@task
def answer_order() -> Task:
    """Each question in every rotation of its choices (the correct one visits each slot)."""
    base = [Sample(id="planet", input="Which planet is largest?",
                   choices=["Jupiter", "Mars", "Venus", "Mercury"], target="A"),
            Sample(id="ocean", input="Which ocean is largest?",
                   choices=["Atlantic", "Pacific", "Indian", "Arctic"], target="B")]
    return Task(dataset=permute_choices(base), solver=multiple_choice(), scorer=choice())
