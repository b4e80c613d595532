"""Settings of an offline audit, validated on construction."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from debias.audit.metrics.estimate import DEFAULT_BOOT


class AuditConfig(BaseModel):
    """How to read the input and what to compute.

    Attributes:
        format: Input format name, or ``auto`` to recognise it.
        mapping: ``--map`` pairs: CSV column mapping or importer options.
        join: Second file for formats that join two files (PandaLM test set, Bias4 items).
        detectors: Cheap detectors to run offline: ``auto`` (all registered cheap ones),
            ``none``, or a spec such as ``"position,bandwagon"``.
        sentiment: Which items get tone scores, for the sentiment metrics and the
            sentiment-bias detectors: ``auto`` (items tagged ``metadata.bias =
            "sentiment"``; on the others those detectors report ``skipped``), ``all``
            (every item; tone scoring costs about twice as much as the rest of the
            audit per item) or ``off``.
        n_boot: Bootstrap replicates per metric (0 = no intervals).
        seed: Seed of the bootstrap.
        jobs: Worker processes; 0 = automatic (1 for inputs under 8 MB, else one per core).
        chunk_size: Records per unit of work.
        max_flagged: Flagged verdicts kept per bias type for the report and JSON.
        max_bad: Bad records kept (with line numbers) for the report and JSON.
        flagged_path: Write every flagged verdict with its evidence to this JSONL file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = "auto"
    mapping: dict[str, str] = Field(default_factory=dict)
    join: Path | None = None
    detectors: str = "auto"
    sentiment: Literal["auto", "all", "off"] = "auto"
    n_boot: int = Field(default=DEFAULT_BOOT, ge=0, le=100_000)
    seed: int = 0
    jobs: int = Field(default=0, ge=0, le=64)
    chunk_size: int = Field(default=1000, ge=1, le=1_000_000)
    max_flagged: int = Field(default=50, ge=0)
    max_bad: int = Field(default=100, ge=0)
    flagged_path: Path | None = None

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        from debias.audit.importers import importers

        if v != "auto" and v not in importers.names():
            raise ValueError(f"unknown format {v!r}; known: auto, {', '.join(importers.names())}")
        return v
