"""Connecting to Ray: a local instance, or a cluster (``--ray-address auto|ray://...``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from debias.optional import require


def require_ray() -> Any:
    """The ``ray`` module, with Ray Data and pyarrow available.

    Raises:
        MissingDependencyError: Ray Data or pyarrow is missing (names the extra).
    """
    ray = require("ray", "ray", purpose="--engine ray")
    for module in ("ray.data", "pyarrow"):
        require(module, "ray", purpose="--engine ray")
    return ray


@contextmanager
def session(address: str | None = None) -> Iterator[Any]:
    """A connected Ray (the ``ray`` module), shut down afterwards if this call started it.

    Args:
        address: None to start a local instance on this machine's cores (or reuse the one
            this process already joined); ``auto`` for the cluster this machine belongs to
            (``ray start``); ``ray://HOST:10001`` for a remote cluster through Ray Client.
    """
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"address": address} if address else {"include_dashboard": False}
    ray.init(**kwargs, log_to_driver=True, logging_level="WARNING")
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus(ray: Any) -> int:
    """Whole CPUs of the connected cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
