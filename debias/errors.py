"""Exception hierarchy. Every error names what went wrong and where."""

from __future__ import annotations


class DebiasError(Exception):
    """Base class of all judge-debias errors."""


class ConfigError(DebiasError, ValueError):
    """A configuration value is invalid (the message names the value)."""


class InputError(DebiasError, ValueError):
    """A record of an input file is invalid.

    Attributes:
        line: 1-based line (or row) number in the input, when known.
        field: Field that is wrong, when known.
    """

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None,
                 source: str | None = None) -> None:
        self.line = line
        self.field = field
        self.source = source
        where = []
        if source:
            where.append(source)
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field {field!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class JudgeError(DebiasError):
    """A judge failed to produce a verdict."""


class VerdictParseError(JudgeError):
    """The judge's text could not be parsed into a verdict.

    Attributes:
        text: The text that failed to parse.
    """

    def __init__(self, message: str, text: str = "") -> None:
        self.text = text
        super().__init__(message)


class LogprobsUnavailableError(JudgeError):
    """The backend cannot return log-probabilities for the answer options."""


class TransientModelError(JudgeError):
    """Rate limit, timeout, 5xx or connection error: retried with backoff."""


class FatalModelError(JudgeError):
    """Auth, bad request, missing model: never retried."""


class BiasDetectedError(DebiasError):
    """Raised by detectors whose policy is ``raise`` when they find bias.

    Attributes:
        findings: The findings that triggered it.
    """

    def __init__(self, message: str, findings: list | None = None) -> None:
        self.findings = findings or []
        super().__init__(message)


class DetectorError(DebiasError):
    """A detector failed (only raised in strict mode; otherwise recorded as a finding)."""


class MissingDependencyError(DebiasError, ImportError):
    """An optional dependency is missing; the message says which extra to install."""
