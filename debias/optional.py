"""Optional dependencies: imported on first use, or a clear error naming the extra.

Every lazily imported package goes through :func:`require`, so a missing one always
reads the same way: what needs it, which package, why the import failed, and the
``pip install "judge-debias[EXTRA]"`` line that fixes it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from debias.errors import MissingDependencyError


def require(module: str, extra: str, *, purpose: str) -> ModuleType:
    """Import ``module``, or fail with the judge-debias extra that installs it.

    Args:
        module: Module to import (``"pyarrow.parquet"``).
        extra: judge-debias extra that installs it (``"parquet"``).
        purpose: What needs it, the start of the message (``"reading Parquet"``).

    Raises:
        MissingDependencyError: When ``module`` cannot be imported (also an ImportError).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the Python package {module!r}, which could not be imported "
            f"({exc}); install it with: pip install \"judge-debias[{extra}]\""
        ) from exc


__all__ = ["require"]
