"""A benchmark case: one item in its unbiased form D and its biased form D_bias."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

from debias.types import BiasType, Item

VARIANTS: tuple[str, str] = ("D", "D_bias")
T = TypeVar("T")


class Case(BaseModel):
    """One benchmark unit: the same judging problem without and with a bias.

    Both forms are judged (and debiased) as separate items. ``D`` is the unbiased
    control; ``D_bias`` differs from it only by the injected bias (a swapped order, a
    bandwagon cue, a shorter correct answer, sentiment-rewritten options).

    Attributes:
        id: Case id, unique within the suite (``<group>/<record>``).
        suite: Suite name.
        group: Bias type or data subset the case belongs to (metrics are per group).
        bias: The bias type whose counterfactual separates D from D_bias; the derived
            gold label and the detection metrics are about this bias.
        d: The unbiased item (its ``label`` is the gold answer).
        d_bias: The biased item (its ``label`` is the gold answer).
        role_map: ``role_map[k]`` is the index in ``d.candidates`` of the candidate that
            ``d_bias.candidates[k]`` stands for (``[1, 0]`` when D_bias lists the pair
            swapped; the identity otherwise). Used to compare decisions across forms.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    suite: str
    group: str
    bias: BiasType
    d: Item
    d_bias: Item
    role_map: list[int]

    @model_validator(mode="after")
    def _check(self) -> Case:
        if self.d.n != self.d_bias.n:
            raise ValueError(f"case {self.id!r}: D has {self.d.n} candidates, D_bias {self.d_bias.n}")
        if sorted(self.role_map) != list(range(self.d.n)):
            raise ValueError(f"case {self.id!r}: role_map {self.role_map} is not a permutation")
        if self.d.label is None or self.d_bias.label is None:
            raise ValueError(f"case {self.id!r}: both forms need a gold label")
        if self.role_map[int(self.d_bias.label)] != int(self.d.label):
            raise ValueError(f"case {self.id!r}: the gold answers of D and D_bias are not the same candidate")
        return self

    def items(self) -> tuple[Item, Item]:
        """``(d, d_bias)``."""
        return self.d, self.d_bias

    def to_d(self, choice: int | None) -> int | None:
        """Map a D_bias candidate index to the D candidate it stands for."""
        return None if choice is None else self.role_map[choice]


def blind(item: Item) -> Item:
    """The item as the middleware sees it: gold label removed.

    Detectors may read ``item.label`` (the verbosity detector trusts a gold label when
    one is present), so judging labelled items would hand them the answer. The gold
    moves to ``metadata["merit"]``, which only the scripted test-double judges read
    (they need to know which candidate deserves to win).
    """
    if item.label is None:
        return item
    meta = {**item.metadata, "merit": int(item.label)}
    return item.model_copy(update={"label": None, "metadata": meta})


def item_id(case_id: str, variant: str) -> str:
    """Id of a case's item in the run's result file (``<case>#D`` / ``<case>#D_bias``)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {VARIANTS}")
    return f"{case_id}#{variant}"


def make_item(case_id: str, variant: str, *, task: str, instruction: str, candidates: list[str],
              label: int, suite: str, group: str, cue: str | None = None,
              source: dict[str, object] | None = None) -> Item:
    """Build one form of a case with the benchmark's metadata attached.

    The metadata key is ``e2e`` (never ``bias``: the reasoning detector reads
    ``metadata["bias"]`` as a hint, and the benchmark must not tell it the answer).
    """
    meta: dict[str, object] = {"e2e": {"suite": suite, "group": group, "case": case_id,
                                       "variant": variant}}
    if source:
        meta["source"] = source
    return Item(id=item_id(case_id, variant), task=task, instruction=instruction,  # type: ignore[arg-type]
                candidates=candidates, label=label, cue=cue, metadata=meta)


def seeded_rng(seed: int, *keys: object) -> random.Random:
    """A random generator seeded from ``seed`` and names (stable across Python runs)."""
    blob = "|".join(str(k) for k in (seed, *keys)).encode()
    return random.Random(int.from_bytes(hashlib.sha256(blob).digest()[:8], "big"))


def seeded_sample(records: Sequence[T], limit: int | None, seed: int, *keys: object) -> list[tuple[int, T]]:
    """A fixed, seeded sample of ``(index, record)`` pairs.

    The records are shuffled with a generator seeded from ``seed`` and ``keys`` (suite
    and group) and the first ``limit`` are kept, so a larger limit extends a smaller
    one (a run can be resumed with a bigger ``--limit``). ``None`` keeps all, shuffled.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    indexed = list(enumerate(records))
    seeded_rng(seed, "sample", *keys).shuffle(indexed)
    return indexed if limit is None else indexed[:limit]
