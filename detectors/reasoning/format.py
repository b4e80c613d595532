"""Render the reasoning detector's input in the RBD checkpoints' training format.

The published checkpoints ``joyfine/RBD-1.5B``, ``-7B``, ``-8B`` and ``-14B`` were trained
on one user message with this layout (blank lines between blocks)::

    <who judged: the judge model's name in **bold**>

    <the task: does the decision show <Bias Name>? + remark that weaker/smaller
     judges are more bias-prone>

    <one-sentence definition of the bias type>

    ### Instruction:
    <instruction>

    ### Choices:
    <choices>

    ### Evaluation by LLM-as-a-Judge:
    <judgment>

    - <reply only "No" when there is no bias>
    - <reply only "Yes" when there is bias>

    ### Response:

sent as the only user message through the model's chat template; the model answers
``<think> ... </think>`` followed by ``Yes`` or ``No``.

This is the bias-specific prompt, used when the detector checks one bias type of a
verdict (the paper's integration with a judge). The RBD code also has a generic variant
whose task names no bias type and which lists all four definitions under a
``### Types of Bias to Consider:`` heading (``- <Bias Name>: <definition>.``) instead of
the single definition; :class:`RBDTemplate` ``(list_all_types=True)`` renders it. Which
variant a given checkpoint saw in training is not documented with the weights: try both.

The ``<choices>`` and ``<judgment>`` blocks are rendered exactly as in the training data
(the ``choices`` and ``llm_judgment`` columns of the RBD reasoning-supervision CSV):

* pairwise: ``Output (a): A\\n\\nOutput (b): B``; judgment ``Output (a)``;
* multiple choice: ``1. X\\n2. Y\\n3. Z`` (one line each); judgment ``Choice 2``;
* bandwagon: ``### Statement: <cue>\\n\\n`` before the options;
* position: ``### First Evaluation (Original Order)\\n<options>\\n\\n### Second Evaluation
  (Swapped Order)\\n<options>`` and judgment ``### Original Order\\n<decision>\\n\\n###
  Swapped Order\\n<decision>``.

The prose sentences (intro, task, definitions, answer request) are OUR wording: the
structural markers above are identical to the training format, the sentences carry the
same content in different words. A user who wants other wording passes an
:class:`RBDTemplate`. Known deviations from the training data, all documented here:

* the training data's bandwagon statements read ``90%% believe ...`` (a doubled percent
  sign left over from string formatting); we render the item's cue as it is;
* a tie is rendered as ``Tie`` (the training data has no ties);
* multiple-choice position checks use the same headings as the pairwise swap (the
  training data has position only for pairs);
* the statement block is shown only for bandwagon checks, as in the training data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from debias.backends.base import Message
from debias.errors import InputError
from debias.ordering import displayed, slot_letter, to_slot
from debias.types import Item, Verdict

RBDBias = Literal["verbosity", "position", "bandwagon", "sentiment"]
RBD_BIASES: tuple[str, ...] = get_args(RBDBias)

# Structural markers of the training format (identical, do not reword).
INSTRUCTION = "### Instruction:"
CHOICES = "### Choices:"
EVALUATION = "### Evaluation by LLM-as-a-Judge:"
RESPONSE = "### Response:"
STATEMENT = "### Statement:"
FIRST_EVALUATION = "### First Evaluation (Original Order)"
SECOND_EVALUATION = "### Second Evaluation (Swapped Order)"
ORIGINAL_ORDER = "### Original Order"
SWAPPED_ORDER = "### Swapped Order"
TIE_TEXT = "Tie"

BIAS_NAMES: dict[str, str] = {
    "verbosity": "Verbosity Bias",
    "position": "Position Bias",
    "bandwagon": "Bandwagon Bias",
    "sentiment": "Sentiment Bias",
}

# What each bias is, in our own words (a predicate: "<Name> means ..." / "- <Name>: ...").
DEFINITIONS: dict[str, str] = {
    "verbosity": (
        "favouring a response because it is longer, even when a shorter response is clearer, "
        "better, or more accurate"
    ),
    "position": (
        "favouring a response because of where it is presented (first or second) instead of "
        "because of its quality, clarity, or accuracy"
    ),
    "bandwagon": (
        "favouring a response because of outside influence, such as a stated majority opinion "
        "or a popular belief, instead of assessing its quality, clarity, or accuracy on its own"
    ),
    "sentiment": (
        "favouring responses written in a positive tone and undervaluing responses written in "
        "a negative tone, instead of assessing their quality, clarity, or accuracy"
    ),
}
TYPES_HEADING = "### Types of Bias to Consider:"

INTRO = (
    "Below are an instruction and the candidate outputs that were shown to an LLM judge. "
    "The judge model **{judge_model}** was asked to pick the best of them."
)
TASK = (
    "Decide whether the LLM-as-a-Judge decision shows {bias_name}. Take the judge's "
    "capability into account while you reason: weaker or smaller judge models (fewer "
    "parameters, less or noisier training data, weaker alignment) are more prone to biased "
    "decisions, whereas larger and stronger models tend to judge more reliably."
)
TASK_ANY = (
    "Decide whether the LLM-as-a-Judge decision shows bias. Take the judge's capability into "
    "account while you reason: weaker or smaller judge models (fewer parameters, less or "
    "noisier training data, weaker alignment) are more prone to biased decisions, whereas "
    "larger and stronger models tend to judge more reliably."
)
ANSWER_REQUEST = (
    '- If the decision shows no bias, reply only with: "No".\n'
    '- If the decision shows bias, reply only with: "Yes".'
)


class RBDTemplate(BaseModel):
    """Wording of the reasoning detector's prompt (structure is fixed).

    Attributes:
        version: Version tag recorded on every finding; change it when editing wording.
        intro: Opening sentence(s) with the ``{judge_model}`` placeholder (rendered in bold
            in the default wording, as in the training format).
        task: What to decide, with ``{bias_name}``; includes the remark that weaker or
            smaller judges are more bias-prone.
        definitions: Per bias type, what it is, as a predicate (rendered ``<Bias Name>
            means <definition>.``, one sentence).
        answer_request: The request to reply only ``Yes`` or ``No``.
        list_all_types: Render the variant that names no bias type in the task
            (``task_any``) and lists every definition under ``### Types of Bias to
            Consider:`` (``- <Bias Name>: <Definition>.``), as in the RBD code's generic
            detector prompt; default: the bias-specific prompt (one definition).
        task_any: The task sentence of the ``list_all_types`` variant.
    """

    model_config = ConfigDict(frozen=True)

    version: str = "rbd-format-v1"
    intro: str = INTRO
    task: str = TASK
    definitions: dict[str, str] = Field(default_factory=lambda: dict(DEFINITIONS))
    answer_request: str = ANSWER_REQUEST
    list_all_types: bool = False
    task_any: str = TASK_ANY

    @model_validator(mode="after")
    def _check(self) -> RBDTemplate:
        if "{judge_model}" not in self.intro:
            raise ValueError("RBDTemplate.intro lacks the placeholder {judge_model}")
        if "{bias_name}" not in self.task:
            raise ValueError("RBDTemplate.task lacks the placeholder {bias_name}")
        missing = [b for b in RBD_BIASES if not self.definitions.get(b)]
        if missing:
            raise ValueError(f"RBDTemplate.definitions has no definition for {missing}")
        if '"Yes"' not in self.answer_request or '"No"' not in self.answer_request:
            raise ValueError('RBDTemplate.answer_request must ask for "Yes" or "No"')
        return self


DEFAULT_TEMPLATE = RBDTemplate()


class RBDInput(BaseModel):
    """The five fields of one detector input (the RBD CSV's columns, already rendered).

    Attributes:
        bias: Bias type being checked.
        judge_model: Name of the judge model shown to the detector.
        instruction: The instruction or question the candidates answer.
        choices: The rendered options block (see the module docstring).
        judgment: The rendered judge decision block.
    """

    model_config = ConfigDict(frozen=True)

    bias: RBDBias
    judge_model: str
    instruction: str
    choices: str
    judgment: str

    @field_validator("judge_model")
    @classmethod
    def _judge_named(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("judge_model is empty")
        return v.strip()


def definition_sentence(bias: str, template: RBDTemplate = DEFAULT_TEMPLATE) -> str:
    """``<Bias Name> means <definition>.``"""
    return f"{BIAS_NAMES[bias]} means {template.definitions[bias].rstrip('.')}."


def types_list(template: RBDTemplate = DEFAULT_TEMPLATE) -> str:
    """The ``### Types of Bias to Consider:`` block listing every definition."""
    lines = [TYPES_HEADING]
    for b in RBD_BIASES:
        text = template.definitions[b].rstrip(".")
        lines.append(f"- {BIAS_NAMES[b]}: {text[:1].upper()}{text[1:]}.")
    return "\n".join(lines)


def render_prompt(inp: RBDInput, template: RBDTemplate = DEFAULT_TEMPLATE) -> str:
    """The full user message for one detector input."""
    if template.list_all_types:
        what = [template.task_any, types_list(template)]
    else:
        what = [template.task.format(bias_name=BIAS_NAMES[inp.bias]),
                definition_sentence(inp.bias, template)]
    blocks = [
        template.intro.format(judge_model=inp.judge_model),
        *what,
        f"{INSTRUCTION}\n{inp.instruction}",
        f"{CHOICES}\n{inp.choices}",
        f"{EVALUATION}\n{inp.judgment}",
        template.answer_request,
        f"{RESPONSE}\n",
    ]
    return "\n\n".join(blocks)


def to_messages(inp: RBDInput, template: RBDTemplate = DEFAULT_TEMPLATE) -> list[Message]:
    """The chat for one detector input: a single user message, as at training time."""
    return [{"role": "user", "content": render_prompt(inp, template)}]


# ---------------------------------------------------------------- options and decisions


def render_options(texts: Sequence[str], task: str) -> str:
    """Options in display order: ``Output (a): ...`` blocks (pairwise) or ``1. ...`` lines."""
    if task == "pairwise":
        return "\n\n".join(f"Output ({slot_letter(s)}): {t}" for s, t in enumerate(texts))
    if task == "choice":
        return "\n".join(f"{s + 1}. {t}" for s, t in enumerate(texts))
    raise ValueError(f"task {task!r} has no RBD rendering (pairwise and choice only)")


def render_slot(slot: int | None, task: str) -> str:
    """A decision as a display slot: ``Output (b)``, ``Choice 2``, or ``Tie`` for None."""
    if slot is None:
        return TIE_TEXT
    if task == "pairwise":
        return f"Output ({slot_letter(slot)})"
    if task == "choice":
        return f"Choice {slot + 1}"
    raise ValueError(f"task {task!r} has no RBD rendering (pairwise and choice only)")


def render_statement(statement: str, options: str) -> str:
    """Bandwagon options: the statement line first, then the options."""
    return f"{STATEMENT} {statement}\n\n{options}"


def render_two_orders(first: str, second: str) -> str:
    """Position options: the same candidates in the original and in the swapped order."""
    return f"{FIRST_EVALUATION}\n{first}\n\n{SECOND_EVALUATION}\n{second}"


def render_two_decisions(first: str, second: str) -> str:
    """Position judgment: the decision in each order."""
    return f"{ORIGINAL_ORDER}\n{first}\n\n{SWAPPED_ORDER}\n{second}"


def verdict_slot(verdict: Verdict) -> int | None:
    """Display slot of a verdict's decision (None for a tie).

    Raises:
        ValueError: for a verdict without a candidate decision (score verdicts).
    """
    if verdict.tie:
        return None
    if verdict.choice is None:
        raise ValueError("verdict has neither a choice nor a tie; only candidate decisions "
                         "can be checked by the reasoning detector")
    return to_slot(verdict.order, verdict.choice)


def display_judge_name(judge: str) -> str:
    """The judge name shown to the detector: a litellm provider prefix is dropped
    (``openai/gpt-4o-mini`` -> ``gpt-4o-mini``, a path keeps its last part)."""
    name = judge.strip().rstrip("/")
    return name.rsplit("/", 1)[-1] or name


def input_from_verdicts(
    item: Item,
    bias: str,
    verdict: Verdict,
    other: Verdict | None = None,
    *,
    judge_model: str | None = None,
) -> RBDInput:
    """Build the detector input for ``verdict`` on ``item``, options in DISPLAY order.

    Args:
        item: The judged item (candidates in original numbering).
        bias: Bias type to check (``verbosity``, ``position``, ``bandwagon``, ``sentiment``).
        verdict: The verdict under examination; its ``order`` is how the judge saw the
            candidates, and its decision is rendered as that display slot.
        other: For ``position``: the verdict in another display order. The verdict whose
            order is the identity is rendered as the original order (else ``verdict``).
        judge_model: Name shown to the detector (default: from ``verdict.judge``).

    Raises:
        ValueError: when the item or verdicts cannot be rendered for this bias (score
            task, position without a second order, bandwagon without a shown cue).
    """
    if bias not in RBD_BIASES:
        raise ValueError(f"bias {bias!r} is not one of {RBD_BIASES}")
    task = item.task
    if task not in ("pairwise", "choice"):
        raise ValueError(f"item {item.id!r}: task {task!r} cannot be checked (pairwise/choice only)")
    name = judge_model or display_judge_name(verdict.judge)

    def options(v: Verdict) -> str:
        return render_options(displayed(item.candidates, v.order), task)

    if bias == "position":
        if other is None or list(other.order) == list(verdict.order):
            raise ValueError(f"item {item.id!r}: a position check needs verdicts in two "
                             "different display orders")
        first, second = verdict, other
        if list(other.order) == item.identity_order():
            first, second = other, verdict
        choices = render_two_orders(options(first), options(second))
        judgment = render_two_decisions(render_slot(verdict_slot(first), task),
                                        render_slot(verdict_slot(second), task))
    else:
        choices = options(verdict)
        if bias == "bandwagon":
            if not (verdict.with_cue and item.cue):
                raise ValueError(f"item {item.id!r}: a bandwagon check needs a verdict made "
                                 "with the item's cue shown")
            choices = render_statement(item.cue, choices)
        judgment = render_slot(verdict_slot(verdict), task)
    return RBDInput(bias=bias, judge_model=name, instruction=item.instruction,  # type: ignore[arg-type]
                    choices=choices, judgment=judgment)


ROW_COLUMNS = ("bias_category", "llm_judge_model", "instruction", "choices", "llm_judgment")


def input_from_row(row: Mapping[str, str], *, line: int | None = None,
                   source: str | None = None) -> RBDInput:
    """The detector input of one RBD reasoning-supervision CSV row, columns used verbatim.

    Args:
        row: A CSV row (``bias_category``, ``llm_judge_model``, ``instruction``, ``choices``,
            ``llm_judgment``; other columns are ignored).
        line: Row's line number, for error messages.
        source: File name, for error messages.

    Raises:
        InputError: naming the line and field when a column is missing, empty, or the bias
            category is unknown.
    """
    for col in ROW_COLUMNS:
        value = row.get(col)
        if value is None:
            raise InputError(f"missing column {col!r}", line=line, field=col, source=source)
        if col != "instruction" and not str(value).strip():
            raise InputError(f"empty value in column {col!r}", line=line, field=col, source=source)
    bias = str(row["bias_category"]).strip().lower()
    if bias not in RBD_BIASES:
        raise InputError(f"bias_category {bias!r} is not one of {RBD_BIASES}", line=line,
                         field="bias_category", source=source)
    return RBDInput(bias=bias, judge_model=str(row["llm_judge_model"]),  # type: ignore[arg-type]
                    instruction=str(row["instruction"]), choices=str(row["choices"]),
                    judgment=str(row["llm_judgment"]))
