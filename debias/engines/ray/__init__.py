"""The Ray engine (``--engine ray``): audits and batch runs on a Ray cluster.

Needs the ``judge-debias[ray]`` extra (Ray Data + pyarrow); ray is imported only when an
audit or run starts. See :mod:`debias.engines.ray.audit` and :mod:`debias.engines.ray.run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from debias.audit.config import AuditConfig
    from debias.audit.result import AuditResult
    from debias.engines.plan import RunPlan
    from debias.runner import Summary
    from debias.types import Item


class RayEngine:
    """Runs audits and batch runs on Ray (a local instance or a cluster)."""

    name = "ray"

    def audit(self, source: str, config: AuditConfig, *, address: str | None = None) -> AuditResult:
        """Audit ``source`` with Ray Data (see :func:`debias.engines.ray.audit.audit`)."""
        from debias.engines.ray.session import require_ray

        require_ray()
        from debias.engines.ray.audit import audit

        return audit(source, config, address=address)

    def run(self, items: Sequence[Item], plan: RunPlan, out: str, *, address: str | None = None,
            progress: bool = True, **options: Any) -> Summary:
        """Debias ``items`` with judge actors (see :func:`debias.engines.ray.run.run`)."""
        from debias.engines.ray.session import require_ray

        require_ray()
        from debias.engines.ray.run import run

        return run(items, plan, out, address=address, progress=progress, **options)

