"""Scripted grader models for eval frameworks' own judge prompts (loopback-server responders).

The presets in :mod:`debias.testing.responders` read judge-debias's prompts; these read
the prompts that DeepEval's ``ArenaGEval`` / ``GEval`` and MLflow's ``make_judge`` send,
and answer in the JSON those frameworks parse. They simulate the judges the adapter
tests, examples and benchmarks need: position-biased (always the first shown), compliant
(biased until it is given reviewer feedback), and fair (on content whatever the order).
Pure text handling: importing this module imports no framework.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from debias.testing.responders import ChatRequest

Mode = Literal["position", "compliant", "fair"]
FEEDBACK_MARKERS = ("Reviewer feedback", "reviewer_feedback")


def prompt_text(req: ChatRequest) -> str:
    """All string message contents of a request, joined by newlines."""
    return "\n".join(m["content"] for m in req.messages if isinstance(m.get("content"), str))


def _pick(mode: Mode, prompt: str, labels: list[str], outputs: list[str],
          merit: Callable[[str], float]) -> str:
    on_merit = mode == "fair" or (mode == "compliant" and any(m in prompt for m in FEEDBACK_MARKERS))
    if not on_merit:
        return labels[0]
    best = max(range(len(outputs)), key=lambda k: (merit(outputs[k]), -k))
    return labels[best]


@dataclass
class DeepEvalGrader:
    """Answers DeepEval's ArenaGEval (steps, winner, reason rewrite) and GEval prompts.

    Attributes:
        mode: ``position``, ``compliant`` or ``fair`` (see the module docstring).
        merit: Content score of an answer (fair picks the highest; G-Eval scores it 0-10).
        shown: Contestant outputs of every arena prompt, in display order.
    """

    mode: Mode = "position"
    merit: Callable[[str], float] = len
    shown: list[list[str]] = field(default_factory=list)

    def __call__(self, req: ChatRequest) -> str:
        p = prompt_text(req)
        if "rewritten_reason" in p:
            mapping = ast.literal_eval(p.split("Dummy-to-real mapping:\n", 1)[1].split("\n", 1)[0])
            reason = p.split("\nReason:\n", 1)[1].split("\n\n**Instructions", 1)[0].strip()
            reason = re.sub(r"\$(\w+)\$", lambda m: str(mapping.get(m.group(1), m.group(1))), reason)
            return json.dumps({"rewritten_reason": reason})
        if "Contestants:" in p:
            block = p.split("Contestants:\n", 1)[1].split("\n\nParameters:", 1)[0]
            cases = json.loads(block)["arena_test_cases"]
            names = list(cases)
            outputs = [str(json.loads(cases[n]).get("actual_output", "")) for n in names]
            self.shown.append(outputs)
            pick = _pick(self.mode, p, names, outputs, self.merit)
            return json.dumps({"winner": pick, "reason": f"${pick}$ answers better than the others."})
        if '"steps"' in p:
            return json.dumps({"steps": ["Check the answer is factually correct.",
                                         "Prefer the more accurate answer."]})
        if '"score"' in p:
            case = p.split("Test Case:\n", 1)[-1].split("\n\nParameters:", 1)[0]
            score = max(0, min(10, round(self.merit(case))))
            return json.dumps({"score": score, "reason": "Graded on correctness."})
        return "{}"


@dataclass
class MlflowGrader:
    """Answers MLflow ``make_judge`` prompts whose ``{{ outputs }}`` maps letters to answers.

    Attributes:
        mode: ``position``, ``compliant`` or ``fair``.
        merit: Content score of an answer (fair picks the highest).
    """

    mode: Mode = "position"
    merit: Callable[[str], float] = len

    def __call__(self, req: ChatRequest) -> str:
        user = next((m["content"] for m in req.messages if m.get("role") == "user"), "")
        outputs = json.loads(user.split("outputs: ", 1)[1].split("\ninputs: ", 1)[0])
        labels = list(outputs)
        pick = _pick(self.mode, user, labels, [str(outputs[k]) for k in labels], self.merit)
        return json.dumps({"result": pick, "rationale": f"Answer {pick} is more complete."})


__all__ = ["DeepEvalGrader", "MlflowGrader", "prompt_text"]
