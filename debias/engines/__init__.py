"""Execution engines for ``debias audit`` and ``debias run`` (``--engine local|ray``).

An engine decides where the per-item work runs; what is computed is shared: the audit's
per-chunk classification and tally merge (:mod:`debias.audit.engine`) and the batch
runner's debiaser (:mod:`debias.engines.plan`). ``local`` (the default) uses this
machine's processes; ``ray`` runs on a Ray cluster (optional extra ``judge-debias[ray]``,
imported only when chosen). Engines are looked up by name; their modules load lazily.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from debias.registry import Registry

if TYPE_CHECKING:
    from debias.audit.config import AuditConfig
    from debias.audit.result import AuditResult
    from debias.engines.plan import RunPlan
    from debias.runner import Summary
    from debias.types import Item

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


#: Engines by name; installed packages add more through the ``judge_debias.engines``
#: entry-point group (a class or factory building an :class:`Engine`).
engines: Registry[Engine] = Registry("engine", group="judge_debias.engines")


def _lazy(module: str, attr: str) -> Callable[[], Engine]:
    def build() -> Engine:
        return getattr(importlib.import_module(module), attr)()  # type: ignore[no-any-return]

    return build


engines.add("local", _lazy("debias.engines.local", "LocalEngine"))
engines.add("ray", _lazy("debias.engines.ray", "RayEngine"))


def engine_names() -> list[str]:
    """Registered engine names."""
    return engines.names()


def get_engine(name: str) -> Engine:
    """The engine called ``name`` (its module is imported now; ray itself only when it runs).

    Raises:
        ConfigError: Unknown engine name (the message lists the known ones).
    """
    return engines.create(name)
