"""Configuration of the debiasing proxy (validated on construction)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from debias.loop import DEFAULT_DETECTORS


class ProxyConfig(BaseModel):
    """Settings of ``debias serve``.

    Attributes:
        judge: Upstream judge model spec: ``openai-compat:MODEL`` (with ``api_base``) or any
            litellm model string (``openai/gpt-4o``, ``anthropic/...``).
        api_base: Upstream server URL.
        api_key_env: Environment variable holding the upstream key (``openai-compat``;
            litellm models read their provider's usual variable).
        forward_auth: Use the client's ``Authorization: Bearer`` key upstream instead.
        detectors: Detector specs by name (``"position,bandwagon:policy=flag"``; ``""`` none).
        max_rounds: Revision rounds after the first judgement.
        budget: Upstream calls allowed per client request (None: bounded by max_rounds only).
        templates: Template names to recognise (None: all registered ones).
        timeout: Seconds per upstream call.
        max_attempts: Attempts per upstream call for transient errors (429, 5xx, timeouts).
        initial_wait: First retry wait in seconds (doubles each retry).
        max_wait: Longest retry wait in seconds.
        cache_dir: Folder of the on-disk call cache (None: no cache). Keyed by model,
            messages and sampling, never by the key.
        default_max_tokens: Upstream max_tokens when the client sets none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str
    api_base: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    forward_auth: bool = False
    detectors: str = ",".join(DEFAULT_DETECTORS)
    max_rounds: int = Field(default=2, ge=0, le=10)
    budget: int | None = Field(default=None, ge=1)
    templates: list[str] | None = None
    timeout: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=20)
    initial_wait: float = Field(default=1.0, ge=0)
    max_wait: float = Field(default=30.0, ge=0)
    cache_dir: Path | None = None
    default_max_tokens: int = Field(default=2048, ge=1)

    @field_validator("judge")
    @classmethod
    def _judge(cls, v: str) -> str:
        if not v.strip() or any(c.isspace() for c in v):
            raise ValueError(f"judge {v!r} must be a model spec such as 'openai-compat:MODEL' or "
                             "'openai/gpt-4o-mini'")
        if v.split(":", 1)[0] in ("local", "scripted"):
            raise ValueError(f"judge {v!r}: the proxy needs a chat model API as upstream, not a "
                             "local or scripted judge")
        return v

    @field_validator("detectors")
    @classmethod
    def _detectors(cls, v: str) -> str:
        return "" if v.strip() in ("", "none") else v
