"""Small shared builders for tests (not fixtures data from ../shared)."""

from __future__ import annotations

import re

from debias.types import Item

MARK = "GOLD"


def gold_item(n: int, gold: int, task: str | None = None, cue: str | None = None, item_id: str = "x") -> Item:
    """An item whose candidate ``gold`` contains the marker, others do not."""
    cands = [f"candidate {k} {'GOLD' if k == gold else 'plain'}" for k in range(n)]
    task = task or ("pairwise" if n == 2 else "choice")
    return Item(id=item_id, task=task, instruction="Which is best?", candidates=cands, label=gold, cue=cue)


def displayed_gold_slot(prompt: str) -> int:
    """The display slot of the GOLD candidate in a rendered judge prompt."""
    outputs = re.findall(r"### Output \(([a-j])\):\n(.*)", prompt)
    if outputs:
        return next(ord(letter) - ord("a") for letter, text in outputs if MARK in text)
    choices = re.findall(r"^(\d+)\. (.*)$", prompt, re.M)
    return next(int(num) - 1 for num, text in choices if MARK in text)
