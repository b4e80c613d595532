"""The backend registry and :func:`create_backend`: a backend from a spec string.

A spec is ``NAME`` or ``NAME:REST`` for a registered name (``local``, ``local:/models/x.gguf``,
``openai-compat:Qwen/Qwen2.5-7B-Instruct``, ``scripted:Output (a)``, ``litellm:openai/gpt-4o``),
or any other string, which is a litellm model string (``openai/gpt-4o-mini``,
``hosted_vllm/joyfine/RBD-8B``). A factory is called as
``factory(rest, *, adapter=None, api_base=None, **options)`` with ``rest`` the part after
``NAME:`` (None when absent; the whole spec for litellm model strings) and must reject the
arguments it cannot honour with a :class:`~debias.errors.ConfigError`.

Built-in backends register here in code (they are part of the core); installed packages
add backends through the ``judge_debias.backends`` entry-point group. Heavy libraries are
imported when a backend is built, never when it is registered.
"""

from __future__ import annotations

from typing import Any

from debias.backends.base import ChatBackend
from debias.errors import ConfigError
from debias.registry import Registry

ENTRY_POINT_GROUP = "judge_debias.backends"
DEFAULT = "litellm"
"""The backend that serves specs without a registered ``NAME:`` (litellm model strings)."""

backends: Registry[ChatBackend] = Registry("backend", group=ENTRY_POINT_GROUP)


def split_spec(spec: str, registry: Registry[Any]) -> tuple[str | None, str | None]:
    """``(name, rest)`` for a spec whose ``NAME`` is registered in ``registry``, else
    ``(None, spec)`` (pure apart from the registry lookup)."""
    head, sep, rest = spec.partition(":")
    if head in registry:
        return head, (rest if sep and rest else None)
    return None, spec


def create_backend(spec: str, /, **options: Any) -> ChatBackend:
    """Build the backend for ``spec`` (see the module docstring for the forms).

    Args:
        spec: ``local``, ``local:PATH``, ``openai-compat:MODEL``, ``scripted[:REPLY]``,
            ``litellm:MODEL`` or a litellm model string.
        **options: Passed to the factory (``adapter``, ``api_base``, ``timeout``, ...).

    Raises:
        ConfigError: An empty spec, or options the backend does not accept.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"backend spec {spec!r} is empty; use 'local', 'local:/path', "
                          "'openai-compat:MODEL' or a litellm model string")
    name, rest = split_spec(spec.strip(), backends)
    return backends.get(name or DEFAULT)(rest, **options)  # type: ignore[no-any-return]


def reject(backend: str, **given: Any) -> None:
    """Raise a ConfigError for options a backend cannot use that were given anyway.

    Args:
        backend: What is being built (for the message).
        **given: ``name=(value, why)``; a ``value`` that is not None is an error.
    """
    for key, (value, why) in given.items():
        if value is not None:
            raise ConfigError(f"{backend}: {key}={value!r} {why}")
