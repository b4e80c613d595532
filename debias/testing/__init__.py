"""Test doubles shipped with the library, in one public place.

- :class:`ScriptedJudge`: a judge with programmable biases (position, cue, verbosity,
  sentiment, accuracy, compliance with feedback); ``create_judge("scripted:position=1")``.
- :class:`ScriptedBackend` / :class:`ScriptedScoringBackend`: chat backends replaying
  scripted replies (and option scores); ``create_backend("scripted:REPLY")``.
- :class:`OpenAIServer`: a loopback OpenAI-compatible HTTP server with scripted
  responders (position-biased, cue-following, flaky, failing ...), for the litellm and
  openai-compat backends; ``python -m debias.testing`` runs it in its own process.
"""

import importlib
from typing import Any

from debias.testing.backend import ScriptedBackend, ScriptedScoringBackend
from debias.testing.judge import Biases, ScriptedJudge, ScriptedRewriter

# The server side (http.server, responders) loads on first use: ``import debias`` exports
# ScriptedJudge from here and must not pay for the HTTP server.
_LAZY = {
    **dict.fromkeys(("LoggedRequest", "OpenAIServer", "tokenize"), "debias.testing.openai_server"),
    **dict.fromkeys(("PromptView", "parse_prompt"), "debias.testing.prompt_view"),
    **dict.fromkeys(("PRESETS", "AlwaysError", "ChatRequest", "ContentFair", "CueFollowing",
                     "Flaky", "Garbage", "PositionBiased", "Reply", "Responder", "Scripted",
                     "Slow", "StubbornCue", "always_500", "auth_error", "bad_request"),
                    "debias.testing.responders"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'debias.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "PRESETS",
    "AlwaysError",
    "Biases",
    "ChatRequest",
    "ContentFair",
    "CueFollowing",
    "Flaky",
    "Garbage",
    "LoggedRequest",
    "OpenAIServer",
    "PositionBiased",
    "PromptView",
    "Reply",
    "Responder",
    "Scripted",
    "ScriptedBackend",
    "ScriptedJudge",
    "ScriptedRewriter",
    "ScriptedScoringBackend",
    "Slow",
    "StubbornCue",
    "always_500",
    "auth_error",
    "bad_request",
    "parse_prompt",
    "tokenize",
]
