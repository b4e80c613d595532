"""The ``debias`` Inspect model provider: a debiased grader behind any Inspect model.

``--model-role grader=debias/openai/gpt-4o-mini`` (or ``get_model("debias/...")``)
wraps the inner model ``openai/gpt-4o-mini``. A grading prompt in judge-debias's format
(``### Instruction:`` / optional ``### Statement:`` / ``### Output (a):`` ... or
``### Choices:``; :func:`~debias.integrations.inspect_ai.pairwise_grader` writes it) is
read back into an item, judged through :class:`~debias.loop.Debiaser` with the inner
model as the judge (probes and revisions are rendered with judge-debias's templates),
and answered with the debiased decision in the prompt's own display order
(``Output (b)``, ``Choice 2`` or ``Tie``). ``ModelOutput.metadata`` carries the findings.
Any other prompt passes through to the inner model untouched (metadata
``debias_status = "passthrough"``), so the role can serve other calls too.

Model args (``model_args`` of the role, e.g. ``--model-role grader="{model:
debias/openai/gpt-4o, model_args: {detectors: position, max_rounds: 1}}"``, or ``-M`` when
it is the evaluated model): ``detectors`` (``"position,bandwagon"``), ``max_rounds`` (int);
every other arg goes to the inner model.

This module imports Inspect at import time: Inspect loads it through the ``inspect_ai``
entry point of judge-debias, and :func:`debias.integrations.inspect_ai.register_provider`
imports it on demand.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    Model,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    get_model,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from debias.integrations.common import DebiasSettings, build_debiaser, chat_judge, findings_metadata
from debias.judges.base import Message
from debias.judges.prompts import Templates
from debias.ordering import slot_letter
from debias.testing.prompt_view import PromptView, view_of_messages
from debias.types import Item, Result, Status

_ROLES = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}


def _as_dicts(messages: list[ChatMessage]) -> list[Message]:
    return [{"role": m.role, "content": m.text} for m in messages]


def _reply(view: PromptView, result: Result) -> str:
    verdict = result.verdict
    if verdict is None or verdict.tie or verdict.choice is None:
        return "Tie"
    if view.choices:
        return f"Choice {verdict.choice + 1}"
    return f"Output ({slot_letter(verdict.choice)})"


class DebiasModelAPI(ModelAPI):
    """Inspect ``ModelAPI`` whose model name is another Inspect model to debias.

    Args:
        model_name: The inner Inspect model (``openai/gpt-4o-mini``, ``mockllm/model``).
        base_url: Passed to the inner model.
        api_key: Passed to the inner model (never logged or stored by us).
        config: Generation config.
        detectors: Detector specs (default: judge-debias's defaults).
        max_rounds: Revision rounds.
        **model_args: Passed to the inner model.
    """

    def __init__(self, model_name: str, base_url: str | None = None, api_key: str | None = None,
                 config: GenerateConfig | None = None, detectors: str | None = None,
                 max_rounds: int | str | None = None, **model_args: Any) -> None:
        config = config or GenerateConfig()
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        settings: dict[str, Any] = {}
        if detectors is not None:
            settings["detectors"] = detectors
        if max_rounds is not None:
            settings["max_rounds"] = int(max_rounds)
        self.settings = DebiasSettings(**settings)
        self.inner: Model = get_model(model_name, config=config, base_url=base_url,
                                      api_key=api_key, memoize=False, **model_args)

    async def generate(self, input: list[ChatMessage], tools: list[ToolInfo],
                       tool_choice: ToolChoice, config: GenerateConfig) -> ModelOutput:
        dicts = _as_dicts(input)
        view = view_of_messages(dicts)
        if tools or view.task not in ("pairwise", "choice"):
            out = await self.inner.generate(input, tools=tools, tool_choice=tool_choice, config=config)
            return out.model_copy(update={"metadata": {**(out.metadata or {}),
                                                       "debias_status": "passthrough"}})
        usage: list[ModelUsage] = []

        async def complete(messages: list[Message]) -> str:
            chat = [_ROLES[m["role"]](content=m["content"]) for m in messages]
            out = await self.inner.generate(chat, config=config)
            if out.usage is not None:
                usage.append(out.usage)
            return out.completion

        system = next((m["content"] for m in dicts if m["role"] == "system"), None)
        templates = Templates(system=system) if system else Templates()
        item = Item(id="grader-call", task=view.task, instruction=view.instruction,
                    candidates=view.candidates, cue=view.statement)
        judge = chat_judge(complete, name=str(self.inner), templates=templates)
        result = await build_debiaser(judge, self.settings).ajudge(item)
        meta = findings_metadata(result)
        total = None
        for u in usage:
            total = u if total is None else total + u
        if result.status is Status.ERROR:
            return ModelOutput.from_content(model=self.model_name, content="",
                                            error=f"judge-debias: {result.error}").model_copy(
                update={"metadata": meta, "usage": total})
        out = ModelOutput.from_content(model=self.model_name, content=_reply(view, result))
        return out.model_copy(update={"metadata": meta, "usage": total})


@modelapi(name="debias")
def debias_provider() -> type[ModelAPI]:
    """The ``debias/<inner model>`` provider."""
    return DebiasModelAPI
