"""Judges: the protocol, the registry, and the judge layer over chat backends.

:func:`create_judge` builds a judge from a spec (``local``, ``scripted:position=1``,
``openai-compat:MODEL``, any litellm model string); chat judges run on the backends of
:mod:`debias.backends`. Heavy dependencies are imported lazily.
"""

from debias.judges.base import Judge, JudgeRequest
from debias.judges.chat import ChatJudge
from debias.judges.factory import create_judge, judges
from debias.judges.function import FunctionJudge

__all__ = ["ChatJudge", "FunctionJudge", "Judge", "JudgeRequest", "create_judge", "judges"]
