"""The judge registry and :func:`create_judge`: a judge from a spec string.

A spec whose ``NAME`` (before an optional ``:REST``) is a registered judge builds that judge
(``scripted:position=0.8``); any other spec is a backend spec
(:func:`~debias.backends.create_backend`: ``local``, ``local:PATH``,
``openai-compat:MODEL``, a litellm model string) and becomes a
:class:`~debias.judges.chat.ChatJudge` on that backend, in the backend's ``judge_mode``
(``auto`` for local models, ``generate`` for APIs) unless ``mode=`` says otherwise.

Installed packages add judges through the ``judge_debias.judges`` entry-point group (the
package declares its own ``scripted`` test double there); a judge factory is called as
``factory(rest, **options)``.
"""

from __future__ import annotations

from typing import Any

from debias.backends import create_backend
from debias.backends.factory import split_spec
from debias.errors import ConfigError
from debias.judges.base import Judge
from debias.registry import Registry

ENTRY_POINT_GROUP = "judge_debias.judges"
JUDGE_OPTIONS = ("name", "mode", "sampling", "max_reasks", "templates")
"""Keywords of :func:`create_judge` that configure the :class:`ChatJudge`; every other
keyword goes to the backend factory."""

judges: Registry[Judge] = Registry("judge", group=ENTRY_POINT_GROUP)


def create_judge(spec: str, /, **options: Any) -> Judge:
    """Build a judge from a spec: ``local``, ``local:PATH``, ``scripted:position=1``,
    ``openai-compat:MODEL`` or any litellm model string (``openai/gpt-4o-mini``).

    Args:
        spec: The judge spec.
        **options: ``name``, ``mode``, ``sampling``, ``max_reasks`` and ``templates`` go to
            the :class:`ChatJudge`; the rest to the backend factory (``api_base=``,
            ``timeout=``, ``adapter=``, ``pool=`` ...) or to a registered judge's factory.

    Raises:
        ConfigError: An empty or unknown spec, or options the backend does not accept.
    """
    from debias.judges.chat import ChatJudge

    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"judge spec {spec!r} is empty; use 'local', 'scripted', "
                          "'openai-compat:MODEL' or a litellm model string")
    name, rest = split_spec(spec.strip(), judges)
    if name is not None:
        return judges.get(name)(rest, **options)  # type: ignore[no-any-return]
    judge_options = {k: options.pop(k) for k in JUDGE_OPTIONS if k in options}
    backend = create_backend(spec, **options)
    judge_options.setdefault("mode", getattr(backend, "judge_mode", "generate"))
    return ChatJudge(backend, **judge_options)
