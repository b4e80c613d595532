"""Prompt templates for judges: one per task, plus the revision template.

Templates are plain ``str.format`` strings in a validated :class:`Templates` object whose
``version`` is recorded with every verdict. Candidates are rendered in DISPLAY order:
``Output (a)``, ``Output (b)`` for pairwise, ``1.``, ``2.`` ... for multiple choice.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from debias.backends.base import Message
from debias.judges.base import JudgeRequest
from debias.ordering import displayed, slot_letter, to_slot
from debias.types import Feedback

SYSTEM = (
    "You are an expert evaluator. You compare candidate answers to an instruction and "
    "decide carefully and impartially."
)

PAIRWISE = """Decide which output better follows the instruction: which is more helpful, accurate, and relevant.

### Instruction:
{instruction}

{statement}{outputs}

Which output is better? Reply with "Output (a)" or "Output (b)" only."""

CHOICE = """Answer the multiple-choice question.

### Instruction:
{instruction}

{statement}### Choices:
{choices}

Which choice is correct? Reply with "Choice N" only, where N is the number of the correct choice."""

SCORE = """Rate how well the response follows the instruction: helpfulness, accuracy, relevance.

### Instruction:
{instruction}

{statement}### Response:
{response}

Rate the response on a scale of {low} to {high}. Reply with "Score: N" only."""

REVISION = """An automatic bias check looked at your decision and reported the following.

{feedback}

This analysis is advice, not an instruction: you make the final decision. Re-examine the {what} on their merits and decide again. Reply in the same format as before: {answer_format}."""

STATEMENT = "### Statement: {cue}\n\n"


class Templates(BaseModel):
    """Prompt templates used by chat judges.

    Attributes:
        version: Version tag recorded with every verdict (change it when editing).
        system: System message.
        pairwise: Pairwise template with ``{instruction}``, ``{statement}``, ``{outputs}``.
        choice: Multiple-choice template with ``{instruction}``, ``{statement}``, ``{choices}``.
        score: Score template with ``{instruction}``, ``{statement}``, ``{response}``,
            ``{low}``, ``{high}``.
        revision: Revision template with ``{feedback}``, ``{what}``, ``{answer_format}``.
        statement: How a cue is shown, with ``{cue}``.
        score_low: Lowest score of the scale.
        score_high: Highest score of the scale.
    """

    model_config = ConfigDict(frozen=True)

    version: str = "judge-v1"
    system: str = SYSTEM
    pairwise: str = PAIRWISE
    choice: str = CHOICE
    score: str = SCORE
    revision: str = REVISION
    statement: str = STATEMENT
    score_low: float = 1
    score_high: float = 10

    @model_validator(mode="after")
    def _check(self) -> Templates:
        needs = {
            "pairwise": ("{instruction}", "{outputs}"),
            "choice": ("{instruction}", "{choices}"),
            "score": ("{instruction}", "{response}"),
            "revision": ("{feedback}",),
            "statement": ("{cue}",),
        }
        for field, placeholders in needs.items():
            for ph in placeholders:
                if ph not in getattr(self, field):
                    raise ValueError(f"template {field!r} lacks the placeholder {ph}")
        if self.score_low >= self.score_high:
            raise ValueError(f"score_low {self.score_low} must be below score_high {self.score_high}")
        return self


class AnswerSpec(BaseModel):
    """How the judge is asked to answer, for parsing and log-probability scoring.

    Attributes:
        prefix: Assistant text before the slot token (``Output (``, ``Choice ``).
        options: Slot tokens in display order (``a``, ``b`` or ``1``, ``2`` ...).
        suffix: Text after the slot token (``)`` for pairwise).
        text: Human description of the expected format.
    """

    prefix: str
    options: list[str] = Field(default_factory=list)
    suffix: str = ""
    text: str

    def render(self, slot: int) -> str:
        """The canonical answer for a display slot, e.g. ``Output (b)``."""
        return f"{self.prefix}{self.options[slot]}{self.suffix}"


def answer_spec(request: JudgeRequest, templates: Templates) -> AnswerSpec:
    """The answer format for a request's task."""
    task = request.item.task
    if task == "pairwise":
        return AnswerSpec(prefix="Output (", options=["a", "b"], suffix=")",
                          text='"Output (a)" or "Output (b)"')
    if task == "choice":
        return AnswerSpec(prefix="Choice ", options=[str(k + 1) for k in range(request.item.n)],
                          text='"Choice N"')
    return AnswerSpec(prefix="Score: ", text=f'"Score: N" with N from {templates.score_low:g} '
                      f"to {templates.score_high:g}")


def render_task(request: JudgeRequest, templates: Templates) -> str:
    """The user message asking for the judgement, candidates in display order."""
    item = request.item
    cands = displayed(item.candidates, request.order)
    statement = templates.statement.format(cue=item.cue) if request.shows_cue else ""
    if item.task == "pairwise":
        outputs = "\n\n".join(
            f"### Output ({slot_letter(s)}):\n{text}" for s, text in enumerate(cands)
        )
        return templates.pairwise.format(instruction=item.instruction, statement=statement,
                                         outputs=outputs)
    if item.task == "choice":
        choices = "\n".join(f"{s + 1}. {text}" for s, text in enumerate(cands))
        return templates.choice.format(instruction=item.instruction, statement=statement,
                                       choices=choices)
    return templates.score.format(instruction=item.instruction, statement=statement,
                                  response=cands[0], low=f"{templates.score_low:g}",
                                  high=f"{templates.score_high:g}")


def render_prior(feedback: Feedback, request: JudgeRequest, spec: AnswerSpec) -> str:
    """The judge's prior decision, re-expressed in the request's display order."""
    prior = feedback.prior
    if prior.score is not None:
        return f"{spec.prefix}{prior.score:g}"
    if prior.tie or prior.choice is None:
        return "Tie"
    return spec.render(to_slot(request.order, prior.choice))


def render_messages(request: JudgeRequest, templates: Templates) -> list[Message]:
    """Full chat for a request: system, task, and for revisions the prior answer and feedback."""
    messages: list[Message] = [
        {"role": "system", "content": templates.system},
        {"role": "user", "content": render_task(request, templates)},
    ]
    if request.feedback is not None:
        spec = answer_spec(request, templates)
        what = {"pairwise": "outputs", "choice": "choices", "score": "response"}[request.item.task]
        messages.append({"role": "assistant", "content": render_prior(request.feedback, request, spec)})
        messages.append({"role": "user", "content": templates.revision.format(
            feedback=request.feedback.text, what=what, answer_format=spec.text)})
    return messages


def reask_message(spec: AnswerSpec) -> Message:
    """The follow-up sent when a reply could not be parsed."""
    return {"role": "user",
            "content": f"I could not find a decision in your reply. Reply with {spec.text} only."}
