"""Test doubles shipped with the library, in one public place.

- :class:`ScriptedJudge`: a judge with programmable biases (position, cue, verbosity,
  sentiment, accuracy, compliance with feedback); ``create_judge("scripted:position=1")``.
- :class:`ScriptedBackend` / :class:`ScriptedScoringBackend`: chat backends replaying
  scripted replies (and option scores); ``create_backend("scripted:REPLY")``.
- :class:`OpenAIServer`: a loopback OpenAI-compatible HTTP server with scripted
  responders (position-biased, cue-following, flaky, failing ...), for the litellm and
  openai-compat backends; ``python -m debias.testing`` runs it in its own process.
"""

from debias.testing.backend import ScriptedBackend, ScriptedScoringBackend
from debias.testing.judge import Biases, ScriptedJudge
from debias.testing.openai_server import LoggedRequest, OpenAIServer, tokenize
from debias.testing.prompt_view import PromptView, parse_prompt
from debias.testing.responders import (
    PRESETS,
    AlwaysError,
    ChatRequest,
    ContentFair,
    CueFollowing,
    Flaky,
    Garbage,
    PositionBiased,
    Reply,
    Responder,
    Scripted,
    Slow,
    always_500,
    auth_error,
    bad_request,
)

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
    "ScriptedScoringBackend",
    "Slow",
    "always_500",
    "auth_error",
    "bad_request",
    "parse_prompt",
    "tokenize",
]
