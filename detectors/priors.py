"""Judge-strength priors for the cheap detectors' offline estimates.

The gold bias label of the RBD protocol is "the judge was right on the unbiased item and
wrong on the biased one". Offline, a cheap detector sees only the biased verdict, so it
estimates ``P(bias) = P(the seen verdict is the wrong, biased one) * P(the judge would
have been right without the bias)``. The second factor depends on how strong the judge
is (weaker and smaller judges are wrong more often even without a bias, RBD.md) and on
the kind of task: this module supplies it from a small documented table
(``detectors/data/judge_tiers.json``). The table is data: pass your own to
:class:`JudgePriors` to change tiers or figures.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from debias.errors import ConfigError

Tier = Literal["strong", "medium", "weak", "unknown"]
TaskKind = Literal["objective", "preference"]
_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*b\b", re.IGNORECASE)


@dataclass(frozen=True)
class JudgePriors:
    """Tier patterns and priors of being right on the unbiased item.

    Attributes:
        tiers: Tier name -> regular expressions (case-insensitive search) on the judge name.
        order: Order in which tiers are tried.
        weak_max_b: Judges whose name states at most this many billion parameters are weak.
        medium_max_b: ... at most this many are medium (above: strong).
        prior: Task kind -> tier -> P(right on the unbiased item).
    """

    tiers: dict[str, list[str]]
    order: list[str]
    weak_max_b: float
    medium_max_b: float
    prior: dict[str, dict[str, float]]
    _compiled: dict[str, list[re.Pattern[str]]] = field(default_factory=dict, repr=False,
                                                       compare=False)

    def __post_init__(self) -> None:
        for tier in self.order:
            if tier not in self.tiers:
                raise ConfigError(f"judge priors: tier {tier!r} in 'order' has no patterns")
        for kind, table in self.prior.items():
            for tier, p in table.items():
                if not 0.0 < p < 1.0:
                    raise ConfigError(f"judge priors: prior[{kind!r}][{tier!r}]={p!r} must be in (0, 1)")
        try:
            compiled = {t: [re.compile(p, re.IGNORECASE) for p in pats] for t, pats in self.tiers.items()}
        except re.error as exc:
            raise ConfigError(f"judge priors: bad pattern {exc.pattern!r}: {exc}") from None
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JudgePriors:
        """Build from the JSON layout of ``detectors/data/judge_tiers.json``."""
        try:
            size = data.get("size_rule", {})
            return cls(tiers={k: list(v) for k, v in data["tiers"].items()},
                       order=list(data.get("order", list(data["tiers"]))),
                       weak_max_b=float(size.get("weak_max_b", 13)),
                       medium_max_b=float(size.get("medium_max_b", 40)),
                       prior={k: dict(v) for k, v in data["prior_correct_unbiased"].items()})
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"judge priors: malformed table ({type(exc).__name__}: {exc})") from None

    def tier(self, judge: str | None) -> Tier:
        """Strength tier of a judge name such as ``openai/gpt-4o-mini`` or ``Llama-3.1-405B``."""
        if not judge:
            return "unknown"
        name = judge.strip().lower().replace("_", "-").replace(" ", "-")
        for tier in self.order:
            if any(p.search(name) for p in self._compiled[tier]):
                return tier  # type: ignore[return-value]
        sizes = [float(m.group(1)) for m in _SIZE.finditer(name)]
        if sizes:
            b = max(sizes)
            return "weak" if b <= self.weak_max_b else "medium" if b <= self.medium_max_b else "strong"
        return "unknown"

    def p_right(self, judge: str | None, kind: TaskKind) -> float:
        """P(the judge is right on the unbiased version of an item of this kind)."""
        table = self.prior.get(kind)
        if table is None:
            raise ConfigError(f"judge priors: no priors for task kind {kind!r}")
        return table.get(self.tier(judge), table.get("unknown", 0.5))


@lru_cache(maxsize=1)
def default_priors() -> JudgePriors:
    """The packaged table (immutable, loaded once)."""
    text = resources.files("detectors").joinpath("data/judge_tiers.json").read_text("utf-8")
    return JudgePriors.from_dict(json.loads(text))


def logit(p: float) -> float:
    """Log-odds of ``p`` (clipped away from 0 and 1)."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    """Inverse of :func:`logit`."""
    return 1.0 / (1.0 + math.exp(-x))
