"""Step 1: build biased data (D and D_bias pairs) from clean items with gold labels.

For each clean item (the judged-item JSONL format, ``label`` = index of the correct
candidate) and each bias type:

* ``position``: D shows the candidates in their original order, D_bias in reversed order
  (the swap, for pairs).
* ``bandwagon``: D has no cue; D_bias shows a majority/authority statement endorsing a
  wrong candidate (templates configurable: :attr:`ConstructConfig.bandwagon_templates`).
* ``verbosity``: the wrong candidates are lengthened (by a generator model, or supplied
  as ``metadata["long_candidates"]``). When a short form of the correct answer is
  supplied (``metadata["short_candidates"]``), the paper's layout is used: D = full
  correct answer vs the long wrong one, D_bias = short correct answer vs the long wrong
  one. Otherwise D is the clean item and D_bias has the wrong candidates lengthened.
* ``sentiment``: D_bias has the correct candidate rewritten in a negative tone and the
  wrong ones in a positive tone (by a generator model, or supplied as
  ``metadata["sentiment_candidates"]``).

Each pair's construction is one generator core yielding model-call effects, driven
synchronously (:func:`construct_pair`) or asynchronously (:func:`aconstruct_pair`);
:func:`construct` runs a whole file resumably.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Generator, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from debias.backends.base import ChatBackend, Completion, Sampling
from debias.backends.effects import GenerateCall
from debias.datasets.rbd import BANDWAGON_PERCENT, BANDWAGON_TEMPLATE
from debias.effects import adrive, drive
from debias.errors import ConfigError, InputError
from debias.ordering import reversed_order, slot_letter
from debias.types import Item, Usage
from detectors.training.batch import Outcome, StageSummary, run_jobs
from detectors.training.records import TRAIN_BIASES, BiasPair, Provenance, Side, TrainBias

VERSION = "1"
REWRITE_KEYS = ("long_candidates", "short_candidates", "sentiment_candidates")

LENGTHEN_PROMPT = """Rewrite the answer below so that it becomes much longer (roughly {factor} times its length): add restatements, elaboration and plausible-sounding detail. Keep its conclusion and final answer exactly as they are, even if they are wrong; do not fix or question anything. Reply with the rewritten answer only.

### Question:
{instruction}

### Answer:
{text}"""

NEGATIVE_PROMPT = """Rewrite the answer below in a negative, reluctant and pessimistic tone. Keep its content and its final answer exactly the same; change only the tone. Reply with the rewritten answer only, about as long as the original.

### Question:
{instruction}

### Answer:
{text}"""

POSITIVE_PROMPT = """Rewrite the answer below in an upbeat, enthusiastic and confident tone. Keep its content and its final answer exactly the same; change only the tone. Reply with the rewritten answer only, about as long as the original.

### Question:
{instruction}

### Answer:
{text}"""

BANDWAGON_TEMPLATES = [BANDWAGON_TEMPLATE]


class ConstructError(Exception):
    """An item could not be turned into a pair (stored in the errors file, retried on re-run)."""


def _check_template(name: str, template: str, needs: tuple[str, ...], **values: Any) -> None:
    try:
        template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{name} {template!r} has an unknown or malformed placeholder ({exc}); "
                         f"allowed: {', '.join('{' + k + '}' for k in values)}") from None
    if not any("{" + n + "}" in template for n in needs):
        raise ValueError(f"{name} {template!r} needs one of the placeholders "
                         f"{', '.join('{' + n + '}' for n in needs)}")


class ConstructConfig(BaseModel):
    """How biased data is built (validated on construction).

    Attributes:
        biases: Bias types to build pairs for.
        bandwagon_templates: Cue templates; placeholders ``{pct}``, ``{label}``
            (``Output (b)`` / ``Choice 2``), ``{letter}`` (``b``), ``{number}`` (``2``).
            One is picked per item, deterministically from the seed and the item id.
        bandwagon_percent: The percentage put into ``{pct}``.
        lengthen_prompt: Generator prompt lengthening a wrong answer; placeholders
            ``{text}`` (required), ``{instruction}``, ``{factor}``.
        lengthen_factor: Target length factor put into ``{factor}``.
        min_length_ratio: A lengthened answer must be at least this many times longer
            (in characters) than the original, else the item fails.
        negative_prompt: Generator prompt for the negative rewrite (``{text}`` required).
        positive_prompt: Generator prompt for the positive rewrite (``{text}`` required).
        sampling: Generator sampling settings.
        seed: Seed of the deterministic per-item choices (template, wrong candidate).
    """

    model_config = ConfigDict(frozen=True)

    biases: list[TrainBias] = Field(default_factory=lambda: list(TRAIN_BIASES))
    bandwagon_templates: list[str] = Field(default_factory=lambda: list(BANDWAGON_TEMPLATES))
    bandwagon_percent: int = Field(default=BANDWAGON_PERCENT, ge=1, le=100)
    lengthen_prompt: str = LENGTHEN_PROMPT
    lengthen_factor: float = Field(default=3.0, gt=1.0)
    min_length_ratio: float = Field(default=1.5, ge=1.0)
    negative_prompt: str = NEGATIVE_PROMPT
    positive_prompt: str = POSITIVE_PROMPT
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.7, max_tokens=1024))
    seed: int = 0

    @field_validator("biases")
    @classmethod
    def _biases(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError(f"biases is empty; choose from {TRAIN_BIASES}")
        return list(dict.fromkeys(v))

    @field_validator("bandwagon_templates")
    @classmethod
    def _bandwagon(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("bandwagon_templates is empty")
        for t in v:
            _check_template("bandwagon template", t, ("label", "letter", "number"),
                            pct=90, label="Output (b)", letter="b", number=2)
        return v

    @field_validator("lengthen_prompt", "negative_prompt", "positive_prompt")
    @classmethod
    def _prompts(cls, v: str) -> str:
        _check_template("generator prompt", v, ("text",), text="x", instruction="q", factor=3)
        return v


# ---------------------------------------------------------------------------- helpers


def _rng(config: ConstructConfig, item_id: str, bias: str) -> random.Random:
    digest = hashlib.sha256(f"{config.seed}|{item_id}|{bias}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _slot_label(task: str, slot: int) -> str:
    return f"Output ({slot_letter(slot)})" if task == "pairwise" else f"Choice {slot + 1}"


def _supplied(item: Item, key: str) -> list[str | None] | None:
    """A metadata list aligned with the candidates, or None when absent."""
    value = item.metadata.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != item.n:
        raise ConstructError(f"item {item.id!r}: metadata[{key!r}] must be a list of {item.n} "
                             "texts (null where not supplied) aligned with the candidates")
    if any(v is not None and not isinstance(v, str) for v in value):
        raise ConstructError(f"item {item.id!r}: metadata[{key!r}] holds a non-text entry")
    return list(value)


def _side_item(item: Item, bias: str, side: str, candidates: list[str],
               cue: str | None) -> Item:
    meta = {k: v for k, v in item.metadata.items() if k not in REWRITE_KEYS}
    meta.update({"bias": bias, "side": side, "source_id": item.id})
    return Item(id=f"{item.id}:{bias}:{side}", task=item.task, instruction=item.instruction,
                candidates=candidates, cue=cue, label=item.label, metadata=meta)


def check_clean_item(item: Item, line: int | None = None, source: str | None = None) -> int:
    """The gold index of a clean item, or an :class:`InputError` naming the line and field."""
    if item.task not in ("pairwise", "choice"):
        raise InputError(f"task {item.task!r} cannot be used to build biased pairs "
                         "(pairwise or choice only)", line=line, field="task", source=source)
    if item.label is None:
        raise InputError("a clean item needs a gold 'label' (index of the correct candidate)",
                         line=line, field="label", source=source)
    return int(item.label)


# ------------------------------------------------------------------------------ cores

Core = Generator[GenerateCall, Completion, BiasPair]


class _Ctx:
    """Per-pair construction state shared by the builders."""

    def __init__(self, item: Item, bias: str, config: ConstructConfig,
                 generator: str | None, source: str | None) -> None:
        self.item, self.bias, self.config = item, bias, config
        self.generator, self.source = generator, source
        self.gold = int(item.label)  # type: ignore[arg-type]
        self.usage = Usage()

    def wrong(self) -> list[int]:
        return [k for k in range(self.item.n) if k != self.gold]

    def rewrite(self, prompt: str, text: str) -> Generator[GenerateCall, Completion, str]:
        if self.generator is None:
            raise ConstructError(
                f"item {self.item.id!r}: {self.bias} needs a generator model (--generator) or "
                f"the rewritten texts in metadata ({', '.join(REWRITE_KEYS)})")
        content = prompt.format(text=text, instruction=self.item.instruction,
                                factor=f"{self.config.lengthen_factor:g}")
        completion = yield GenerateCall([{"role": "user", "content": content}], self.config.sampling)
        self.usage = self.usage.add(completion.usage)
        out = (completion.text or "").strip()
        if not out:
            raise ConstructError(f"item {self.item.id!r}: the generator returned an empty rewrite")
        return out

    def pair(self, clean: Side, biased: Side, **prov: Any) -> BiasPair:
        provenance = Provenance(source_id=self.item.id, source=self.source,
                                construct_version=VERSION, created_at=_now(), usage=self.usage,
                                **prov)
        return BiasPair(id=f"{self.item.id}:{self.bias}", bias=self.bias,  # type: ignore[arg-type]
                        gold=self.gold, clean=clean, biased=biased, provenance=provenance)


def _position(ctx: _Ctx) -> Core:
    yield from ()
    item = _side_item(ctx.item, "position", "D", list(ctx.item.candidates), None)
    biased_item = _side_item(ctx.item, "position", "D_bias", list(ctx.item.candidates), None)
    return ctx.pair(Side(item=item, order=item.identity_order()),
                    Side(item=biased_item, order=reversed_order(item.n)), method="swap")


def _bandwagon(ctx: _Ctx) -> Core:
    yield from ()
    rng = _rng(ctx.config, ctx.item.id, "bandwagon")
    target = rng.choice(ctx.wrong())
    template = rng.choice(ctx.config.bandwagon_templates)
    cue = template.format(pct=ctx.config.bandwagon_percent, label=_slot_label(ctx.item.task, target),
                          letter=slot_letter(target), number=target + 1)
    cands = list(ctx.item.candidates)
    clean = _side_item(ctx.item, "bandwagon", "D", cands, None)
    biased = _side_item(ctx.item, "bandwagon", "D_bias", cands, cue)
    order = clean.identity_order()  # display slot == original index, so the cue names `target`
    return ctx.pair(Side(item=clean, order=order, with_cue=False),
                    Side(item=biased, order=order, with_cue=True),
                    method="cue", template=template, rewritten=[])


def _verbosity(ctx: _Ctx) -> Core:
    item, cfg = ctx.item, ctx.config
    long_given = _supplied(item, "long_candidates") or [None] * item.n
    short_given = _supplied(item, "short_candidates") or [None] * item.n
    long = list(item.candidates)
    used_generator = False
    for k in ctx.wrong():
        given = long_given[k]
        if given is not None:
            long[k] = given
            continue
        text = yield from ctx.rewrite(cfg.lengthen_prompt, item.candidates[k])
        if len(text) < cfg.min_length_ratio * len(item.candidates[k]):
            raise ConstructError(
                f"item {item.id!r}: the lengthened candidate {k} has {len(text)} characters, "
                f"less than min_length_ratio={cfg.min_length_ratio:g} x {len(item.candidates[k])}")
        long[k] = text
        used_generator = True
    short = short_given[ctx.gold]
    if short is not None:
        layout = "paper"
        clean_cands = list(long)
        biased_cands = list(long)
        biased_cands[ctx.gold] = short
    else:
        layout = "lengthen"
        clean_cands = list(item.candidates)
        biased_cands = list(long)
    if biased_cands == clean_cands:
        raise ConstructError(f"item {item.id!r}: verbosity rewrite left the candidates unchanged")
    clean = _side_item(item, "verbosity", "D", clean_cands, None)
    biased = _side_item(item, "verbosity", "D_bias", biased_cands, None)
    order = clean.identity_order()
    rewritten = [k for k in range(item.n) if biased_cands[k] != item.candidates[k]]
    return ctx.pair(Side(item=clean, order=order), Side(item=biased, order=order),
                    method="generator" if used_generator else "metadata", layout=layout,
                    generator=ctx.generator if used_generator else None,
                    template="construct-lengthen-v1" if used_generator else None,
                    rewritten=rewritten)


def _sentiment(ctx: _Ctx) -> Core:
    item, cfg = ctx.item, ctx.config
    given = _supplied(item, "sentiment_candidates") or [None] * item.n
    toned = list(item.candidates)
    used_generator = False
    for k in range(item.n):
        if given[k] is not None:
            toned[k] = given[k]  # type: ignore[assignment]
            continue
        prompt = cfg.negative_prompt if k == ctx.gold else cfg.positive_prompt
        toned[k] = yield from ctx.rewrite(prompt, item.candidates[k])
        used_generator = True
    clean = _side_item(item, "sentiment", "D", list(item.candidates), None)
    biased = _side_item(item, "sentiment", "D_bias", toned, None)
    order = clean.identity_order()
    return ctx.pair(Side(item=clean, order=order), Side(item=biased, order=order),
                    method="generator" if used_generator else "metadata",
                    generator=ctx.generator if used_generator else None,
                    template="construct-tone-v1" if used_generator else None,
                    rewritten=[k for k in range(item.n) if toned[k] != item.candidates[k]])


BUILDERS = {"position": _position, "bandwagon": _bandwagon, "verbosity": _verbosity,
            "sentiment": _sentiment}


def pair_core(item: Item, bias: str, config: ConstructConfig, *, generator: str | None = None,
              source: str | None = None) -> Core:
    """The construction core of one pair: yields generator calls, returns the pair.

    Args:
        item: A clean item with a gold ``label`` (pairwise or choice).
        bias: Bias type to provoke.
        config: Construction settings.
        generator: Name of the generator model, or None when there is none (then rewrites
            must be supplied in the item's metadata).
        source: Input file name, recorded in the provenance.
    """
    if bias not in BUILDERS:
        raise ConfigError(f"bias {bias!r} is not one of {TRAIN_BIASES}")
    check_clean_item(item)
    if item.n < 2:
        raise ConstructError(f"item {item.id!r}: needs at least 2 candidates")
    return BUILDERS[bias](_Ctx(item, bias, config, generator, source))


def construct_pair(item: Item, bias: str, config: ConstructConfig | None = None,
                   generator: ChatBackend | None = None, *, source: str | None = None) -> BiasPair:
    """Build one pair synchronously (generator calls through ``generator.complete``)."""
    config = config or ConstructConfig()
    core = pair_core(item, bias, config, generator=generator.name if generator else None,
                     source=source)
    return drive(core, lambda e: generator.complete(e.messages, e.sampling))  # type: ignore[union-attr]


async def aconstruct_pair(item: Item, bias: str, config: ConstructConfig | None = None,
                          generator: ChatBackend | None = None, *,
                          source: str | None = None) -> BiasPair:
    """Async twin of :func:`construct_pair`."""
    config = config or ConstructConfig()
    core = pair_core(item, bias, config, generator=generator.name if generator else None,
                     source=source)

    async def handle(effect: GenerateCall) -> Completion:
        return await generator.acomplete(effect.messages, effect.sampling)  # type: ignore[union-attr]

    return await adrive(core, handle)


async def aconstruct(items: Iterable[Item], out: str | Path, *, config: ConstructConfig | None = None,
                     generator: ChatBackend | None = None, concurrency: int = 8,
                     source: str | None = None, progress: bool = False) -> StageSummary:
    """Build pairs for every item and configured bias, appending them to ``out``.

    Pairs already in ``out`` are skipped; failures go to ``<out>.errors.jsonl`` and are
    retried on the next run.
    """
    config = config or ConstructConfig()
    items = list(items)

    def jobs() -> Iterable[tuple[str, Any]]:
        for item in items:
            for bias in config.biases:

                async def job(item: Item = item, bias: str = bias) -> Outcome:
                    pair = await aconstruct_pair(item, bias, config, generator, source=source)
                    return Outcome(pair, tag=f"{bias}:{pair.provenance.method}",
                                   usage=pair.provenance.usage)

                yield f"{item.id}:{bias}", job

    return await run_jobs(jobs(), out, stage="construct", concurrency=concurrency,
                          progress=progress, total=len(items) * len(config.biases))


def construct(items: Iterable[Item], out: str | Path, **kwargs: Any) -> StageSummary:
    """Blocking wrapper of :func:`aconstruct` (not for use inside a running event loop)."""
    return asyncio.run(aconstruct(items, out, **kwargs))


def read_clean_items(path: str | Path, *, skip_invalid: bool = False,
                     errors: list[InputError] | None = None) -> list[Item]:
    """Read clean items, checking each has a gold label and a pairwise/choice task.

    Raises:
        InputError: naming the line and field of the first bad record (unless
            ``skip_invalid``, which collects errors into ``errors``).
    """
    from debias.io import iter_items, report_invalid

    out: list[Item] = []
    for line, item in iter_items(path, skip_invalid=skip_invalid, errors=errors):
        try:
            check_clean_item(item, line, str(path))
        except InputError as exc:
            report_invalid(exc, skip_invalid, errors)
            continue
        out.append(item)
    return out
