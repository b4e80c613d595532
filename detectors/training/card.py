"""The adapter card: ``card.json`` (machine-readable) and ``README.md`` (for people).

It records the base model, a hash of exactly the examples trained on, the
hyperparameters, the metrics and the timings, and says how to plug the adapter in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD = "card.json"
CARD_FORMAT = "judge-debias-adapter-card/1"


def write_card(out: str | Path, card: dict[str, Any]) -> Path:
    """Write ``card.json`` and ``README.md`` into ``out``; return the JSON path."""
    out = Path(out)
    card = {"format": CARD_FORMAT, **card}
    path = out / CARD
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n",
                    encoding="utf-8")
    (out / "README.md").write_text(render_readme(card, out), encoding="utf-8")
    return path


def read_card(adapter: str | Path) -> dict[str, Any] | None:
    """The card of an adapter directory, or None when it has none."""
    path = Path(adapter) / CARD
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def render_readme(card: dict[str, Any], out: Path) -> str:
    """The human-readable card."""
    base = card.get("base_model", {})
    data = card.get("data", {})
    hp = card.get("hyperparameters", {})
    metrics = card.get("metrics", {})
    timings = card.get("timings", {})
    spec = base.get("spec", "?")
    backend = "local" if spec == "smollm2" else f"local:{base.get('path', spec)}"
    lines = [
        f"# Reasoning bias detector adapter ({spec} + LoRA)",
        "",
        "A LoRA adapter that turns the base model into an RBD-style reasoning bias detector: "
        "given an LLM judge's decision in the RBD detector format, it writes an analysis in "
        "`<think>...</think>` and answers `Yes` (biased) or `No`.",
        "",
        "## Base model",
        f"- spec: `{spec}`",
        f"- file: `{base.get('path', '?')}`",
        f"- dequantised from GGUF: {base.get('dequantized', False)}",
        f"- dtype: {base.get('dtype', '?')}, quantization: {base.get('quantization', 'none')}",
        "",
        "## Data",
        f"- source: `{data.get('source', '?')}` ({data.get('kind', '?')}, sha256 `{data.get('sha256', '?')}`)",
        f"- examples hash: `{data.get('examples_hash', '?')}`",
        f"- examples: {data.get('train', '?')} train, {data.get('eval', 0)} held out; "
        f"skipped: {data.get('skipped', {})}; dropped as too long: {data.get('too_long', 0)}; "
        f"prompt truncated: {data.get('truncated', 0)}",
        f"- by bias: {data.get('by_bias', {})}; by label: {data.get('by_label', {})}",
        f"- prompt format: {data.get('prompt_format', '?')}",
        "",
        "## Hyperparameters",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in hp.items() if k not in ("data", "out")],
        "",
        "## Metrics",
        "",
        *[f"- {k}: {_fmt(v)}" for k, v in metrics.items()],
        "",
        "## Timings",
        "",
        *[f"- {k}: {_fmt(v)}" for k, v in timings.items()],
        f"- device: {card.get('device', '?')}",
        "",
        "## Use",
        "",
        "Evaluate on an RBD-format CSV or on judged pairs:",
        "",
        "```",
        f"debias train evaluate --adapter {out} --data dev.csv --out eval.jsonl",
        "```",
        "",
        "Plug it into the reasoning detector:",
        "",
        "```",
        f"debias run items.jsonl --detectors 'position,reasoning:backend={backend};adapter={out}'",
        "```",
        "",
        "or in Python: `ReasoningDetector(backend=\"" + backend + f"\", adapter=\"{out}\")`.",
        "",
        f"Versions: {card.get('versions', {})}. Created {card.get('created_at', '?')}.",
        "",
    ]
    return "\n".join(lines)
