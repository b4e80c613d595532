"""Execution engines for ``debias audit`` and ``debias run`` (``--engine local|ray``).

An engine decides where the per-item work runs; what is computed is shared: the audit's
per-chunk classification and tally merge (:mod:`debias.audit.engine`) and the batch
runner's debiaser (:mod:`debias.engines.plan`). ``local`` (the default) uses this
machine's processes; ``ray`` runs on a Ray cluster (optional extra ``judge-debias[ray]``,
imported only when chosen). Engines are looked up by name; their modules load lazily.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from debias.errors import ConfigError

if TYPE_CHECKING:
    from debias.audit.config import AuditConfig
    from debias.audit.result import AuditResult
    from debias.engines.plan import RunPlan
    from debias.runner import Summary
    from debias.types import Item

#: Engine name -> module defining ``ENGINE`` (imported on first use).
ENGINE_MODULES = MappingProxyType({
    "local": "debias.engines.local",
    "ray": "debias.engines.ray",
})
DEFAULT_ENGINE = "local"


class Engine(Protocol):
    """Runs audits and batch runs somewhere.

    Attributes:
        name: Registered name (``--engine NAME``).
    """

    name: str

    def audit(self, source: str, config: AuditConfig, *, address: str | None = None) -> AuditResult:
        """Audit the recorded verdicts in ``source`` (a path or URI)."""
        ...

    def run(self, items: Sequence[Item], plan: RunPlan, out: str, *, address: str | None = None,
            progress: bool = True, **options: Any) -> Summary:
        """Debias ``items``, appending results to ``out`` as they finish (resumable)."""
        ...


def engine_names() -> list[str]:
    """Registered engine names."""
    return list(ENGINE_MODULES)


def get_engine(name: str) -> Engine:
    """The engine called ``name`` (its module is imported now).

    Raises:
        ConfigError: Unknown engine name.
        MissingDependencyError: The engine's extra is not installed.
    """
    try:
        module = ENGINE_MODULES[name]
    except KeyError:
        raise ConfigError(f"unknown engine {name!r}; known: {', '.join(engine_names())}") from None
    return importlib.import_module(module).ENGINE  # type: ignore[no-any-return]
