"""The importer interface and registry (``@register_importer("name")``).

An importer turns a file in some tool's format into judged items (the README contract:
:class:`debias.types.Item` with ``verdicts``), one record at a time, so the audit can
stream files of any size. Records it cannot use are yielded as
:class:`~debias.audit.records.BadRecord` with their line number, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from debias.audit.records import BadRecord, Pending
from debias.errors import ConfigError, InputError
from debias.registry import Registry


@dataclass(frozen=True)
class ImportOptions:
    """Options given to an importer.

    Attributes:
        mapping: ``--map key=value`` pairs: column names for CSV, or importer options
            (each importer lists the keys it accepts).
        join: A second file some formats join with (a test set, an items file).
    """

    mapping: Mapping[str, str] = field(default_factory=dict)
    join: Path | None = None

    def get(self, key: str, default: str | None = None) -> str | None:
        """An option value."""
        return self.mapping.get(key, default)


@runtime_checkable
class Importer(Protocol):
    """Reads one input format.

    Attributes:
        name: Registered name (``--format NAME``).
        summary: One line saying what the format is.
        example: Three lines showing what the input looks like.
        options: ``--map`` keys the importer accepts, with what they do.
    """

    name: str
    summary: str
    example: str
    options: Mapping[str, str]

    def sniff(self, path: Path, first: Any) -> bool:
        """Whether a file whose first record is ``first`` is in this format."""
        ...

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        """Records of the file, in order."""
        ...


class ImporterRegistry(Registry["Importer"]):
    """Importers by name, on the generic :class:`~debias.registry.Registry`.

    Built-in importers register with the ``@register_importer("name")`` class decorator;
    installed packages add theirs through the ``judge_debias.importers`` entry-point group
    (value: the importer class). Each importer is instantiated once. Names keep their
    registration order, which is the order in which ``auto`` sniffs formats.
    """

    def __init__(self) -> None:
        super().__init__("input format", group="judge_debias.importers")
        self._instances: dict[str, Importer] = {}
        self._order: list[str] = []

    def register(self, name: str) -> Callable[[type], type]:  # type: ignore[override]
        """Class decorator registering an importer (instantiated without arguments)."""

        def deco(cls: type) -> type:
            self.add(name, cls)
            self._instances.pop(name, None)
            if name not in self._order:
                self._order.append(name)
            return cls

        return deco

    def names(self) -> list[str]:
        """Registered names: decorated ones in registration order, then entry points."""
        return [*self._order, *(n for n in super().names() if n not in self._order)]

    def create(self, name: str, /, **options: Any) -> Importer:
        """The importer called ``name`` (one shared instance).

        Raises:
            ConfigError: Unknown name (the message lists the known ones).
        """
        inst = self._instances.get(name)
        if inst is None:
            try:
                factory = super().get(name)
            except ConfigError:
                raise ConfigError(f"unknown input format {name!r}; known: "
                                  f"{', '.join(['auto', *self.names()])}") from None
            inst = self._instances[name] = factory(**options)
            inst.name = name
        return inst

    def all(self) -> list[Importer]:
        """All importers, in sniffing order."""
        return [self.create(n) for n in self.names()]

    def detect(self, path: Path, first: Any) -> Importer:
        """The first importer whose ``sniff`` accepts the file.

        Specific formats are tried in registration order; catch-all importers (with a true
        ``fallback`` attribute, e.g. the generic CSV) only after all of them.

        Raises:
            InputError: When no importer recognises it.
        """
        ordered = sorted(self.all(), key=lambda imp: bool(getattr(imp, "fallback", False)))
        for imp in ordered:
            try:
                if imp.sniff(path, first):
                    return imp
            except Exception:  # a sniffer must never break detection of the others
                continue
        raise InputError("cannot tell the input format; pass --format (one of "
                         f"{', '.join(self.names())})", source=str(path))


importers = ImporterRegistry()
register_importer = importers.register


def check_options(imp: Importer, options: ImportOptions) -> None:
    """Reject ``--map`` keys the importer does not know.

    Raises:
        ConfigError: Naming the unknown key and the accepted ones.
    """
    unknown = sorted(set(options.mapping) - set(imp.options))
    if unknown:
        accepted = ", ".join(sorted(imp.options)) or "none"
        raise ConfigError(f"--map {unknown[0]!r} is not an option of format {imp.name!r} "
                          f"(accepted: {accepted})")
