"""A persistent on-disk cache of model calls (SQLite), keyed by model, messages and sampling.

:class:`CachedBackend` wraps any chat backend; both ``complete`` and option scoring are
cached. APIs are nondeterministic, so a cache also makes re-runs reproducible. Entries
store the completion text, logprobs and the original usage; hits are counted as
``cached_calls`` with zero cost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from debias.judges.base import ChatBackend, Completion, Message, OptionScorer, Sampling
from debias.types import Usage

SCHEMA = "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def cache_key(model: str, kind: str, payload: Any) -> str:
    """Stable key of a call."""
    blob = json.dumps({"model": model, "kind": kind, "payload": payload}, sort_keys=True,
                      ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class CallCache:
    """A thread-safe SQLite key/value store of model call results.

    Args:
        path: Database file (created with its parent folder).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store a value (last write wins)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)",
                             (key, json.dumps(value, ensure_ascii=False)))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def _hit_usage() -> Usage:
    return Usage(cached_calls=1)


class CachedBackend:
    """Wraps a chat backend with a :class:`CallCache`.

    Args:
        backend: The backend to wrap.
        cache: The cache.
    """

    def __init__(self, backend: ChatBackend, cache: CallCache) -> None:
        self.backend = backend
        self.cache = cache
        self.name = backend.name

    def _key(self, messages: list[Message], sampling: Sampling) -> str:
        return cache_key(self.name, "complete", {"messages": messages,
                                                 "sampling": sampling.model_dump()})

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        key = self._key(messages, sampling)
        hit = self.cache.get(key)
        if hit is not None:
            return Completion(**{**hit, "usage": _hit_usage(), "cached": True})
        out = self.backend.complete(messages, sampling)
        self.cache.put(key, out.model_dump(exclude={"cached"}))
        return out

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        key = self._key(messages, sampling)
        hit = await asyncio.to_thread(self.cache.get, key)
        if hit is not None:
            return Completion(**{**hit, "usage": _hit_usage(), "cached": True})
        out = await self.backend.acomplete(messages, sampling)
        await asyncio.to_thread(self.cache.put, key, out.model_dump(exclude={"cached"}))
        return out


class CachedScoringBackend(CachedBackend):
    """A :class:`CachedBackend` over a backend that also scores options."""

    def _okey(self, messages: list[Message], prefix: str, options: list[str]) -> str:
        return cache_key(self.name, "options", {"messages": messages, "prefix": prefix,
                                                "options": options})

    def option_logprobs(self, messages: list[Message], prefix: str,
                        options: list[str]) -> tuple[list[float], Usage]:
        key = self._okey(messages, prefix, options)
        hit = self.cache.get(key)
        if hit is not None:
            return hit["logprobs"], _hit_usage()
        logprobs, usage = self.backend.option_logprobs(messages, prefix, options)  # type: ignore[attr-defined]
        self.cache.put(key, {"logprobs": logprobs, "usage": usage.model_dump()})
        return logprobs, usage

    async def aoption_logprobs(self, messages: list[Message], prefix: str,
                               options: list[str]) -> tuple[list[float], Usage]:
        key = self._okey(messages, prefix, options)
        hit = await asyncio.to_thread(self.cache.get, key)
        if hit is not None:
            return hit["logprobs"], _hit_usage()
        logprobs, usage = await self.backend.aoption_logprobs(messages, prefix, options)  # type: ignore[attr-defined]
        await asyncio.to_thread(self.cache.put, key, {"logprobs": logprobs, "usage": usage.model_dump()})
        return logprobs, usage


def with_cache(backend: ChatBackend, cache: CallCache | None) -> ChatBackend:
    """Wrap ``backend`` in the right cached class (or return it unchanged without a cache)."""
    if cache is None:
        return backend
    if isinstance(backend, OptionScorer):
        return CachedScoringBackend(backend, cache)
    return CachedBackend(backend, cache)


def default_cache_dir() -> Path:
    """The model-call cache folder: ``$DEBIAS_CACHE_DIR`` or ``~/.cache/judge-debias``."""
    env = os.environ.get("DEBIAS_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "judge-debias"
