"""What importers hand to the audit: records to judge, or bad records to report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from debias.types import Item


@dataclass(slots=True)
class Pending:
    """One input record on its way to validation.

    Attributes:
        line: 1-based line of the record in the input (where the record starts).
        payload: The raw JSON text of a judged item (validated in the worker), an
            item-shaped dict built by a format importer, or an already valid item.
    """

    line: int
    payload: str | dict[str, Any] | Item

    def __reduce__(self) -> tuple[type[Pending], tuple[int, str | dict[str, Any] | Item]]:
        # Positional reconstruction pickles at half the cost of the default slots state;
        # chunks of records go to the worker processes in pickled form.
        return Pending, (self.line, self.payload)


@dataclass(slots=True)
class BadRecord:
    """A record that could not be used, with where and why.

    Attributes:
        line: 1-based line of the record in the input.
        message: What is wrong (names the field when known).
        source: The file the record came from.
    """

    line: int
    message: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}, " if self.source else ""
        return f"{where}line {self.line}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"line": self.line, "message": self.message, "source": self.source}
