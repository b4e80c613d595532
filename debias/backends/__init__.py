"""Chat backends, shared by judges, the reasoning detector, the rewriter and training.

Built-in backends: ``litellm`` (any litellm model string, the default for unprefixed
specs), ``openai-compat`` (a lean client for OpenAI-compatible servers), ``local``
(transformers models, LoRA adapters, batched generation), registered here, and
``scripted`` (the test double of :mod:`debias.testing`), which registers through the
``judge_debias.backends`` entry-point group like any installed package's backend.
:func:`create_backend` builds one from a spec. Heavy libraries
(litellm, aiohttp/httpx, torch, transformers) are imported when a backend is used.
"""

from debias.backends import litellm_backend as _litellm  # noqa: F401  (registers "litellm")
from debias.backends import local as _local  # noqa: F401  (registers "local")
from debias.backends import openai_compat as _openai_compat  # noqa: F401  (registers it)
from debias.backends.base import (
    BatchChatBackend,
    ChatBackend,
    Completion,
    CredentialCheck,
    Message,
    OptionScorer,
    Sampling,
    complete_many,
)
from debias.backends.credentials import missing_credentials, require_credentials
from debias.backends.effects import GenerateCall, OptionsCall, ahandle, handle
from debias.backends.factory import backends, create_backend

__all__ = ["BatchChatBackend", "ChatBackend", "Completion", "CredentialCheck", "GenerateCall",
           "Message", "OptionScorer", "OptionsCall", "Sampling", "ahandle", "backends",
           "complete_many", "create_backend", "handle", "missing_credentials",
           "require_credentials"]
