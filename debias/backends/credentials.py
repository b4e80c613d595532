"""Pre-flight credential check: fail before the first item when a provider key is missing.

A backend that knows which credentials it needs implements
:class:`~debias.backends.base.CredentialCheck` (``missing_credentials()``: the names of the
unset environment variables; the litellm backend asks ``litellm.validate_environment``).
:func:`require_credentials` turns a non-empty answer into a
:class:`~debias.errors.ConfigError` naming the variables (never a value), which the CLI
reports with exit code 2. Wrappers that keep the wrapped backend in ``.backend`` (the call
cache) are looked through.
"""

from __future__ import annotations

from typing import Any

from debias.errors import ConfigError


def missing_credentials(backend: Any) -> list[str]:
    """The credential variables ``backend`` needs and finds unset (empty when it cannot tell)."""
    seen: set[int] = set()
    while backend is not None and id(backend) not in seen:
        seen.add(id(backend))
        check = getattr(backend, "missing_credentials", None)
        if callable(check):
            return [str(name) for name in check()]
        backend = getattr(backend, "backend", None)  # a wrapper (cache, judge): look inside
    return []


def require_credentials(backend: Any, *, role: str = "judge") -> None:
    """Raise before any model call when ``backend`` lacks its provider's key.

    Args:
        backend: A chat backend, a wrapper of one, or a judge holding one in ``.backend``
            (other judges pass: they need no credentials).
        role: What the backend is for, in the message (``--judge``, ``--rewriter``).

    Raises:
        ConfigError: Naming the backend and the unset variables.
    """
    missing = missing_credentials(backend)
    if not missing:
        return
    name = getattr(backend, "name", type(backend).__name__)
    names = ", ".join(missing)
    raise ConfigError(f"{role} {name!r} needs an API key from the environment, and "
                      f"{'it is' if len(missing) == 1 else 'these are'} not set: {names} "
                      "(export it, or pass the key explicitly); no item was judged")
