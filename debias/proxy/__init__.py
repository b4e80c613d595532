"""A debiasing OpenAI-compatible proxy for closed judge APIs (``debias serve``).

Clients (MT-Bench / FastChat ``llm_judge``, AlpacaEval, Arena-Hard-Auto, promptfoo, your
own scripts) change only their base URL. Judge prompts that a registered template
recognises are debiased (probes re-rendered in the client's own template) and answered
with the final verdict in the template's own format; everything else passes through.

Modules: :mod:`~debias.proxy.formats` (verdict formats), :mod:`~debias.proxy.templates`
(template registry), :mod:`~debias.proxy.builtin` (built-in templates),
:mod:`~debias.proxy.judge` (template-aware judge), :mod:`~debias.proxy.reply` (reply
rendering), :mod:`~debias.proxy.upstream`, :mod:`~debias.proxy.app`,
:mod:`~debias.proxy.server`, :mod:`~debias.proxy.litellm_guardrail`.

The web stack (FastAPI, uvicorn) is the optional extra ``judge-debias[proxy]``, imported
only when an app is built.
"""

from debias.proxy.catalog import default_registry
from debias.proxy.config import ProxyConfig
from debias.proxy.formats import (
    BracketFormat,
    GradeFormat,
    LetterFormat,
    OutputFormat,
    Parsed,
    RankingFormat,
    VerdictFormat,
)
from debias.proxy.judge import ProxyCall, TemplateJudge
from debias.proxy.templates import JudgeTemplate, Match, TemplateRegistry

__all__ = ["BracketFormat", "GradeFormat", "JudgeTemplate", "LetterFormat", "Match", "OutputFormat",
           "Parsed", "ProxyCall", "ProxyConfig", "RankingFormat", "TemplateJudge", "TemplateRegistry",
           "VerdictFormat", "default_registry"]
