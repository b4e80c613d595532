"""promptfoo adapter: a Python assertion and a Python grader provider (no extra needed).

promptfoo runs Python files through its Python bridge (set ``PROMPTFOO_PYTHON`` to the
interpreter that has judge-debias). Point it at a two-line file that re-exports these
functions (``examples/integrations/promptfoo/debias_promptfoo.py``)::

    from debias.integrations.promptfoo import call_api, get_assert  # noqa: F401

**Assertion** (``type: python``, ``value: file://debias_promptfoo.py:get_assert``):
judges the test's output against a baseline answer with a debiased pairwise judge and
returns ``pass``/``score``/``reason``, ``namedScores`` (``debias_win``,
``debias_<bias>_detected``) and ``metadata`` (every finding). Options go in the
assertion's ``config:`` block, see :class:`AssertConfig`.

**Grader provider** (``defaultTest.options.provider: {id: file://debias_promptfoo.py,
config: {judge: openai/gpt-4o-mini}}``): promptfoo's model-graded assertions call it
with their grading prompt. ``select-best`` prompts (several outputs, answer = an index)
and judge-debias-format prompts (``### Output (a)``) are debiased: the same prompt is
re-rendered with the outputs in other orders (and with feedback), and the debiased
index / label is returned; other grading prompts (``llm-rubric`` ...) pass through to
the judge model untouched. The response's ``metadata`` carries the findings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from debias.errors import ConfigError, JudgeError
from debias.integrations.common import (
    DebiasSettings,
    RequestJudge,
    build_debiaser,
    choice_letter,
    findings_metadata,
    make_item,
)
from debias.judges.base import ChatBackend, JudgeRequest, Message, Sampling
from debias.ordering import displayed, slot_letter, to_slot
from debias.testing.prompt_view import view_of_messages
from debias.types import Result, Status


class JudgeConfig(BaseModel):
    """The judge model and debiasing options shared by the assertion and the provider.

    Attributes:
        judge: Judge spec: a litellm model (``openai/gpt-4o-mini``), ``openai-compat:MODEL``
            (with ``api_base``), or for the assertion also ``scripted:...``.
        api_base: Server URL for OpenAI-compatible judges.
        detectors: Detector names (``"position,bandwagon"``).
        max_rounds: Revision rounds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str = Field(min_length=1)
    api_base: str | None = None
    detectors: str | list[str] = "position,bandwagon"
    max_rounds: int = Field(default=2, ge=0, le=10)

    def settings(self) -> DebiasSettings:
        """The validated debiasing settings."""
        return DebiasSettings(detectors=self.detectors, max_rounds=self.max_rounds)

    def create(self) -> Any:
        """The judge object."""
        from debias.judges import create_judge

        kwargs = {"api_base": self.api_base} if self.api_base else {}
        return create_judge(self.judge, **kwargs)


class AssertConfig(JudgeConfig):
    """Options of the :func:`get_assert` assertion (its ``config:`` block).

    Attributes:
        baseline_var: Test var holding the answer the output is compared with.
        instruction_var: Test var holding the question (default: the rendered prompt).
        cue_var: Test var holding a cue shown to the judge (a statement it may follow).
        tie_passes: Whether a debiased tie passes.
    """

    baseline_var: str = "baseline"
    instruction_var: str | None = None
    cue_var: str | None = None
    tie_passes: bool = False


#: Keys promptfoo itself adds to a Python provider's/assertion's config.
PROMPTFOO_KEYS = frozenset({"basePath"})


def _config(cls: type[JudgeConfig], raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: config must be a mapping with at least 'judge', got {raw!r}")
    try:
        return cls(**{k: v for k, v in raw.items() if k not in PROMPTFOO_KEYS})
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}: {why}") from exc


def _named_scores(meta: dict[str, Any]) -> dict[str, float]:
    """The numeric findings (promptfoo's namedScores must be numbers)."""
    return {k: float(v) for k, v in meta.items()
            if isinstance(v, bool | int | float) and v is not None
            and (k.endswith(("_detected", "_flipped", "_confidence"))
                 or k in ("debias_rounds", "debias_judge_calls"))}


def grade(output: str, context: dict[str, Any]) -> dict[str, Any]:
    """The assertion's grading result (see :func:`get_assert`)."""
    cfg: AssertConfig = _config(AssertConfig, context.get("config"), "judge-debias assertion")
    test_vars = context.get("vars") or {}
    test_id = (context.get("test") or {}).get("description") or str(test_vars)[:60]
    if cfg.baseline_var not in test_vars:
        raise ConfigError(f"test {test_id!r}: var {cfg.baseline_var!r} (the baseline answer) is missing")
    instruction = (str(test_vars[cfg.instruction_var]) if cfg.instruction_var
                   else str(context.get("prompt") or ""))
    cue = str(test_vars.get(cfg.cue_var) or "") if cfg.cue_var else None
    item = make_item(instruction, [str(output), str(test_vars[cfg.baseline_var])],
                     item_id=test_id, cue=cue)
    result = build_debiaser(cfg.create(), cfg.settings()).judge(item)
    meta = findings_metadata(result)
    if result.status is Status.ERROR or result.verdict is None:
        return {"pass": False, "score": 0.0, "reason": f"judge-debias: judge failed: {result.error}",
                "metadata": meta}
    letter = choice_letter(result.verdict)
    score = 1.0 if letter == "A" else 0.5 if letter == "tie" else 0.0
    passed = letter == "A" or (letter == "tie" and cfg.tie_passes)
    biases = ", ".join(meta["debias_biases_detected"]) or "none"
    verdict_word = {"A": "output preferred", "B": "baseline preferred"}.get(letter or "", "tie")
    reason = (f"judge-debias: {verdict_word} ({result.status.value}: {result.stop.value}); "
              f"first verdict {meta['debias_first_choice']}, biases detected: {biases}")
    return {"pass": passed, "score": score, "reason": reason,
            "namedScores": {"debias_win": score, **_named_scores(meta)}, "metadata": meta}


def get_assert(output: str, context: dict[str, Any]) -> dict[str, Any]:
    """promptfoo Python assertion: debiased pairwise judgement of ``output`` vs a baseline.

    Candidate A is the test's output, B the baseline var. Passes when the debiased
    verdict prefers the output (a tie passes only with ``tie_passes: true``); score 1 /
    0.5 (tie) / 0. Bad configuration raises :class:`~debias.errors.ConfigError` naming
    the key, which promptfoo reports as the assertion's error.
    """
    return grade(output, context)


# --------------------------------------------------------------------- the grader provider
@dataclass(frozen=True)
class GradingPrompt:
    """A grading prompt read back into an item, and how to re-render it.

    Attributes:
        instruction: What the candidates are judged on.
        candidates: Candidates in the order promptfoo showed them.
        render: ``render(shown) -> messages``: the same prompt with ``shown`` candidates.
        answer: ``answer(slot) -> reply`` in the prompt's own answer format.
        cue: A cue statement shown in the prompt, if any.
    """

    instruction: str
    candidates: list[str]
    render: Callable[[list[str], str | None], list[Message]]
    answer: Callable[[int | None], str]
    cue: str | None = None


_TEXT_BLOCK = re.compile(r'<Text index="(\d+)">\n(.*?)\n</Text>', re.S)
_CRITERIA = re.compile(r"criteria:\s*(.*?)\n\s*\n", re.S)


def _select_best(messages: list[Message]) -> GradingPrompt | None:
    """promptfoo's ``select-best`` prompt: ``<Text index="k">`` blocks, reply = an integer."""
    for pos, msg in enumerate(messages):
        content = msg.get("content", "")
        blocks = list(_TEXT_BLOCK.finditer(content))
        if len(blocks) < 2 or [int(b.group(1)) for b in blocks] != list(range(len(blocks))):
            continue
        crit = _CRITERIA.search(content)

        def render(shown: list[str], cue: str | None, pos: int = pos, content: str = content,
                   blocks: list[re.Match[str]] = blocks) -> list[Message]:
            out, last = [], 0
            for b, text in zip(blocks, shown, strict=True):
                out.append(content[last:b.start(2)] + text)
                last = b.end(2)
            out.append(content[last:])
            return [*messages[:pos], {**messages[pos], "content": "".join(out)}, *messages[pos + 1:]]

        return GradingPrompt(instruction=crit.group(1).strip() if crit else "",
                             candidates=[b.group(2) for b in blocks], render=render,
                             answer=lambda slot: "tie" if slot is None else str(slot))
    return None


def _debias_format(messages: list[Message]) -> GradingPrompt | None:
    """judge-debias's own prompt format (``### Output (a):`` / ``### Choices:``)."""
    view = view_of_messages(messages)
    if view.task not in ("pairwise", "choice"):
        return None
    from debias.judges.prompts import Templates, render_task

    system = next((m["content"] for m in messages if m["role"] == "system"), None)
    templates = Templates(system=system) if system else Templates()
    task = view.task

    def render(shown: list[str], cue: str | None) -> list[Message]:
        item = make_item(view.instruction, shown, item_id="grader-call", cue=cue, task=task)
        return [{"role": "system", "content": templates.system},
                {"role": "user", "content": render_task(JudgeRequest.first(item), templates)}]

    def answer(slot: int | None) -> str:
        if slot is None:
            return "Tie"
        return f"Choice {slot + 1}" if view.choices else f"Output ({slot_letter(slot)})"

    return GradingPrompt(instruction=view.instruction, candidates=view.candidates, render=render,
                         answer=answer, cue=view.statement)


#: Grading-prompt formats the provider can debias, tried in order.
PROMPT_FORMATS: dict[str, Callable[[list[Message]], GradingPrompt | None]] = {
    "select-best": _select_best,
    "judge-debias": _debias_format,
}


def _messages(prompt: str) -> list[Message]:
    try:
        parsed = json.loads(prompt)
    except (json.JSONDecodeError, TypeError):
        return [{"role": "user", "content": prompt}]
    if isinstance(parsed, list) and all(isinstance(m, dict) and "content" in m for m in parsed):
        return [{"role": str(m.get("role", "user")), "content": str(m["content"])} for m in parsed]
    return [{"role": "user", "content": prompt}]


def _prompt_judge(backend: ChatBackend, grading: GradingPrompt, name: str) -> RequestJudge:
    """A judge that re-renders the framework's grading prompt for each request."""
    sampling = Sampling()

    def ask(request: JudgeRequest) -> str:
        shown = displayed(request.item.candidates, request.order)
        messages = grading.render(shown, request.item.cue if request.shows_cue else None)
        if request.feedback is not None:
            prior = request.feedback.prior
            slot = None if prior.choice is None else to_slot(request.order, prior.choice)
            messages = [*messages, {"role": "assistant", "content": grading.answer(slot)},
                        {"role": "user", "content": (
                            f"An automatic bias check looked at your decision and reported:\n\n"
                            f"{request.feedback.text}\n\nThis is advice, not an instruction. "
                            "Re-examine them on their merits and answer again in the same format.")}]
        return backend.complete(messages, sampling).text

    def read(request: JudgeRequest) -> Any:
        text = ask(request).strip()
        if grading.answer(0) == "0":  # index answers: the first integer, as select-best reads it
            m = re.search(r"\d+", text)
            if m is None:
                raise JudgeError(f"grader reply {text[:80]!r} has no index")
            return int(m.group(0))
        return text

    return RequestJudge(read, name=name)


def respond(prompt: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """The provider's response (see :func:`call_api`)."""
    cfg: JudgeConfig = _config(JudgeConfig, (options or {}).get("config"), "judge-debias grader provider")
    judge = cfg.create()
    backend = getattr(judge, "backend", None)
    if backend is None:
        raise ConfigError(f"judge-debias grader provider: judge {cfg.judge!r} is not a chat model; "
                          "use a litellm model string or openai-compat:MODEL with api_base")
    messages = _messages(prompt)
    found = next(((fmt, g) for fmt, parse in PROMPT_FORMATS.items()
                  if (g := parse(messages)) is not None), None)
    if found is None:
        reply = backend.complete(messages, Sampling())
        return {"output": reply.text, "metadata": {"debias_status": "passthrough"},
                "tokenUsage": {"prompt": reply.usage.prompt_tokens,
                               "completion": reply.usage.completion_tokens,
                               "total": reply.usage.tokens}}
    fmt, grading = found
    item = make_item(grading.instruction, grading.candidates, item_id="grader-call", cue=grading.cue,
                     task="pairwise" if len(grading.candidates) == 2 else "choice")
    result: Result = build_debiaser(_prompt_judge(backend, grading, cfg.judge), cfg.settings()).judge(item)
    meta = {**findings_metadata(result), "debias_prompt_format": fmt}
    if result.status is Status.ERROR or result.verdict is None:
        return {"error": f"judge-debias: judge failed: {result.error}", "metadata": meta}
    verdict = result.verdict
    if (verdict.tie or verdict.choice is None) and grading.answer(0) == "0":
        return {"error": "judge-debias: the grader's choice changed with the display order "
                         f"({meta['debias_stop_reason']}); no output is reliably the best",
                "metadata": meta}
    return {"output": grading.answer(None if verdict.tie else verdict.choice), "metadata": meta,
            "tokenUsage": {"prompt": result.usage.prompt_tokens,
                           "completion": result.usage.completion_tokens,
                           "total": result.usage.tokens, "numRequests": result.usage.calls}}


def call_api(prompt: str, options: dict[str, Any] | None = None,
             context: dict[str, Any] | None = None) -> dict[str, Any]:
    """promptfoo Python provider: a debiased grader (``defaultTest.options.provider``).

    ``options["config"]`` is a :class:`JudgeConfig` (``judge`` must be a chat model).
    Returns ``{"output", "metadata", "tokenUsage"}`` (or ``{"error"}``).
    """
    return respond(prompt, options)


__all__ = ["PROMPT_FORMATS", "AssertConfig", "GradingPrompt", "JudgeConfig", "call_api",
           "get_assert", "grade", "respond"]
