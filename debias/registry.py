"""One generic registry for every extension point (judges, detectors, importers, backends,
templates).

A registry maps names to factories. Factories come from two places, looked up the same
way: the ``register`` decorator (code that is imported) and an entry-point group
(installed packages, the built-in ones included), loaded once, on the first lookup.
There is no module-level state beyond the registry objects each extension point owns.

Example::

    from debias.registry import Registry

    widgets: Registry[Widget] = Registry("widget", group="judge_debias.widgets")

    @widgets.register("plain")
    def plain(**options: str) -> Widget: ...

    widgets.create("plain", size="3")
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from debias.errors import ConfigError

T = TypeVar("T")
Factory = Callable[..., Any]


class Registry(Generic[T]):
    """Named factories of one kind of extension.

    Args:
        kind: What is registered, for messages (``"detector"``, ``"judge"``).
        group: Entry-point group installed packages use to add factories
            (``judge_debias.detectors``); None for decorator registration only.
    """

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._factories: dict[str, Factory] = {}
        self._entry_points: dict[str, EntryPoint] | None = None

    def register(self, name: str) -> Callable[[Factory], Factory]:
        """Decorator registering a class or factory under ``name`` (replaces an entry point
        of the same name)."""

        def deco(fn: Factory) -> Factory:
            self._factories[name] = fn
            return fn

        return deco

    def add(self, name: str, factory: Factory) -> None:
        """Register ``factory`` under ``name`` (the non-decorator form)."""
        self._factories[name] = factory

    def _eps(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            found = entry_points(group=self.group) if self.group else ()
            self._entry_points = {ep.name: ep for ep in found}
        return self._entry_points

    def names(self) -> list[str]:
        """Every registered name (decorators and entry points), sorted."""
        return sorted({*self._factories, *self._eps()})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._factories or name in self._eps())

    def get(self, name: str) -> Factory:
        """The factory registered under ``name``.

        Raises:
            ConfigError: For an unknown name (the message lists the known ones).
        """
        factory = self._factories.get(name)
        if factory is not None:
            return factory
        ep = self._eps().get(name)
        if ep is None:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}")
        factory = self._factories[name] = ep.load()
        return factory

    def create(self, name: str, /, **options: Any) -> T:
        """Build the extension ``name`` with keyword ``options``."""
        return self.get(name)(**options)  # type: ignore[no-any-return]
