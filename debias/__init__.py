"""judge-debias: detect and correct bias in LLM-as-a-judge verdicts.

Quickstart::

    from debias import Debiaser, Item, create_judge
    debiaser = Debiaser(create_judge("local"), detectors=["position", "bandwagon"])
    result = debiaser.judge(Item(id="1", task="pairwise", instruction="...", candidates=["a", "b"]))
"""

from debias.budget import Budget
from debias.judges import ChatJudge, FunctionJudge, JudgeRequest, create_judge
from debias.loop import Debiaser, decide
from debias.runner import arun_batch, run_batch
from debias.testing.judge import ScriptedJudge
from debias.types import (
    Action,
    Decision,
    Finding,
    Item,
    Reason,
    Resolution,
    ResolutionKind,
    Result,
    Round,
    Status,
    Usage,
    Verdict,
)
from debias.wrap import wrap

__all__ = [
    "Action",
    "Budget",
    "ChatJudge",
    "Debiaser",
    "Decision",
    "Finding",
    "FunctionJudge",
    "Item",
    "JudgeRequest",
    "Reason",
    "Resolution",
    "ResolutionKind",
    "Result",
    "Round",
    "ScriptedJudge",
    "Status",
    "Usage",
    "Verdict",
    "arun_batch",
    "create_judge",
    "decide",
    "run_batch",
    "wrap",
]
__version__ = "0.1.0"
