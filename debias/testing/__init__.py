"""Test doubles shipped with the library: a loopback OpenAI-compatible server and its
scripted responders (position-biased, cue-following, flaky, failing ...)."""

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
    StubbornCue,
    always_500,
    auth_error,
    bad_request,
)

__all__ = [
    "PRESETS",
    "AlwaysError",
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
    "Slow",
    "StubbornCue",
    "always_500",
    "auth_error",
    "bad_request",
    "parse_prompt",
    "tokenize",
]
