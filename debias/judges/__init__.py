"""Judges: the protocol, the registry, and the built-in adapters.

Importing this package registers the built-in judge specs (``scripted``, ``local``,
``openai-compat``, and litellm model strings as the default). Heavy dependencies are
imported lazily.
"""

from debias.judges import litellm_judge as _litellm  # noqa: F401  (registers the default factory)
from debias.judges import local as _local  # noqa: F401  (registers "local"; torch loads lazily)
from debias.judges import openai_compat as _openai_compat  # noqa: F401  (registers openai-compat)
from debias.judges import scripted_factory as _scripted  # noqa: F401
from debias.judges.base import Judge, JudgeRequest, judges
from debias.judges.chat import ChatJudge
from debias.judges.function import FunctionJudge
from debias.judges.testing import ScriptedBackend, ScriptedJudge


def create_judge(spec: str, **kwargs: object) -> Judge:
    """Build a judge from a spec: ``local``, ``local:PATH``, ``scripted:position=1``,
    ``openai-compat:MODEL`` or any litellm model string (``openai/gpt-4o-mini``).

    Keyword arguments go to the factory (e.g. ``api_base=``).
    """
    return judges.create(spec, **kwargs)


__all__ = ["ChatJudge", "FunctionJudge", "Judge", "JudgeRequest", "ScriptedBackend",
           "ScriptedJudge", "create_judge", "judges"]
