"""A small bounded memo for per-instance caches of pure computations.

Detectors recompute the same things for the same inputs: the loop re-assesses the same
candidates every round, the offline audit once per judge and examined verdict, and a
data set uses a handful of cue statements. A detector keeps a :class:`BoundedCache` on
its instance (never a module-level cache, and never ``functools.lru_cache`` on a
method, which would keep every instance alive) for results that depend only on the
key and the instance's fixed settings.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_MISSING = object()


class BoundedCache(Generic[K, V]):
    """A dict that holds at most ``size`` entries (the oldest entry is evicted first).

    Values should be immutable (tuples, frozen dataclasses): callers share them.

    Args:
        size: Maximum number of entries; 0 disables caching.

    Raises:
        ValueError: For a negative size.
    """

    __slots__ = ("_data", "size")

    def __init__(self, size: int = 256) -> None:
        if size < 0:
            raise ValueError(f"cache size must be >= 0, got {size}")
        self.size = size
        self._data: dict[K, V] = {}

    def get(self, key: K, default: V | None = None) -> V | None:
        """The cached value for ``key``, or ``default``."""
        return self._data.get(key, default)

    def lookup(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` when ``key`` is cached (the value may be None), else ``(False, None)``."""
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            return False, None
        return True, value  # type: ignore[return-value]

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` (evicting the oldest entry when full); returns ``value``."""
        if self.size:
            data = self._data
            if len(data) >= self.size and key not in data:
                data.pop(next(iter(data)), None)
            data[key] = value
        return value

    def clear(self) -> None:
        """Forget every entry."""
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data
