"""Point estimates with bootstrap confidence intervals over category counts.

Every audit metric is a function of how many judged units fell into each of a few
discrete categories (consistent / flipped to the first slot / ..., or a length bin and
an outcome). For such statistics the nonparametric bootstrap is exact and cheap:
resampling ``n`` units with replacement is the same as drawing the category counts
from ``Multinomial(n, observed shares)``. So the bootstrap never needs the units
themselves, which keeps the audit in constant memory however large the input.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from debias.errors import MissingDependencyError

DEFAULT_BOOT = 2000
CI_LEVEL = 0.95
#: Above this share of undefined bootstrap replicates the interval is withheld.
MAX_UNDEFINED_SHARE = 0.05


def numpy() -> Any:
    """Import numpy lazily with a clear message when it is missing."""
    try:
        import numpy as np
    except ImportError as exc:  # pragma: no cover - numpy ships with the dev env
        raise MissingDependencyError(
            "the audit needs numpy: install judge-debias[report] (or `pip install numpy`)"
        ) from exc
    return np


@dataclass(frozen=True)
class Estimate:
    """A metric value with its bootstrap 95% interval and the number of units behind it.

    Attributes:
        value: Point estimate; None when the metric is refused (see ``note``).
        lo: Lower end of the 95% percentile bootstrap interval (None if unavailable).
        hi: Upper end of the interval.
        n: Number of units (judged items or pairs) the estimate rests on.
        note: Why the metric was refused, or a caveat about the interval.
    """

    value: float | None
    lo: float | None = None
    hi: float | None = None
    n: int = 0
    note: str | None = None

    @classmethod
    def refused(cls, reason: str, n: int = 0) -> Estimate:
        """An estimate that could not be computed, with the reason."""
        return cls(value=None, n=n, note=reason)

    @property
    def ok(self) -> bool:
        """Whether a value was computed."""
        return self.value is not None

    def field(self, name: str) -> float | None:
        """``value``, ``lo``, ``hi`` or ``n`` by name (used by CI gates)."""
        if name == "n":
            return float(self.n)
        return {"value": self.value, "lo": self.lo, "hi": self.hi}[name]

    def to_json(self) -> dict[str, Any]:
        """JSON form: ``{"value", "ci": [lo, hi] | null, "n", "note"?}``."""
        out: dict[str, Any] = {
            "value": _r(self.value),
            "ci": [_r(self.lo), _r(self.hi)] if self.lo is not None and self.hi is not None else None,
            "n": self.n,
        }
        if self.note:
            out["note"] = self.note
        return out

    def format(self, digits: int = 3) -> str:
        """``0.812 [0.790, 0.833]`` (or ``n/a (reason)``)."""
        if self.value is None:
            return f"n/a ({self.note})" if self.note else "n/a"
        text = f"{self.value:.{digits}f}"
        if self.lo is not None and self.hi is not None:
            text += f" [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"
        return text


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def rng_for(seed: int, key: str) -> Any:
    """A numpy Generator seeded from the audit seed and the metric's key.

    Seeding per metric (not one stream for all) keeps every interval reproducible
    whatever else was computed before it.
    """
    np = numpy()
    return np.random.default_rng([int(seed), zlib.crc32(key.encode("utf-8"))])


Stat = Callable[[Mapping[Hashable, Any]], Any]


def bootstrap(
    counts: Mapping[Hashable, int | float],
    stat: Stat,
    *,
    key: str,
    seed: int = 0,
    n_boot: int = DEFAULT_BOOT,
    n: int | None = None,
    refuse: Callable[[Mapping[Hashable, int | float]], str | None] | None = None,
) -> Estimate:
    """Estimate ``stat`` on category counts, with a multinomial bootstrap interval.

    Args:
        counts: Units per category (categories with 0 units may be omitted).
        stat: Vectorised statistic. It receives a mapping category -> numpy array of
            counts (one entry per replicate; unknown categories read as 0 via
            :func:`get`) and returns an array of values, NaN where undefined.
        key: Stable name of the metric (seeds its random stream).
        seed: Audit seed.
        n_boot: Bootstrap replicates (0 disables the interval).
        n: Units reported as ``n`` (default: the total of ``counts``).
        refuse: Optional check on the observed counts returning a reason to refuse.

    Returns:
        The estimate; refused (value None, with a note) when the statistic is
        undefined on the observed data.
    """
    np = numpy()
    cats = [c for c, v in counts.items() if v > 0]
    total = int(sum(counts[c] for c in cats))
    n_units = total if n is None else n
    if refuse is not None:
        reason = refuse(counts)
        if reason:
            return Estimate.refused(reason, n_units)
    observed = {c: np.asarray([float(counts[c])]) for c in cats}
    value = float(np.asarray(stat(_Counts(observed, 1)))[0])
    if not np.isfinite(value):
        return Estimate.refused("undefined on this data", n_units)
    if n_boot <= 0 or total == 0:
        return Estimate(value=value, n=n_units)
    draws = multinomial_draws(counts, cats, key=key, seed=seed, n_boot=n_boot)
    reps = {c: draws[:, i].astype(float) for i, c in enumerate(cats)}
    values = np.asarray(stat(_Counts(reps, n_boot)), dtype=float)
    return from_replicates(value, values, n_units)


def multinomial_draws(counts: Mapping[Hashable, int | float], cats: list[Hashable], *, key: str,
                      seed: int, n_boot: int) -> Any:
    """``n_boot`` x ``len(cats)`` bootstrap category counts (multinomial resampling)."""
    np = numpy()
    total = int(sum(counts[c] for c in cats))
    probs = np.asarray([counts[c] for c in cats], dtype=float) / total
    return rng_for(seed, key).multinomial(total, probs, size=n_boot)


def from_replicates(value: float, values: Any, n: int, note: str | None = None) -> Estimate:
    """An estimate with the percentile interval of the finite bootstrap ``values``."""
    np = numpy()
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    undefined = 1.0 - finite.size / max(values.size, 1)
    if values.size == 0 or undefined > MAX_UNDEFINED_SHARE:
        return Estimate(value=value, n=n,
                        note=f"no interval: the metric is undefined in {undefined:.0%} of "
                             "bootstrap resamples (too few units in a category)")
    alpha = (1.0 - CI_LEVEL) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return Estimate(value=value, lo=float(lo), hi=float(hi), n=n, note=note)


class _Counts(dict):  # type: ignore[type-arg]
    """Category -> count arrays; missing categories read as zeros."""

    def __init__(self, data: Mapping[Hashable, Any], size: int) -> None:
        super().__init__(data)
        self.size = size

    def __missing__(self, key: Hashable) -> Any:
        return numpy().zeros(self.size)


def get(c: Mapping[Hashable, Any], *keys: Hashable) -> Any:
    """Sum of the count arrays of ``keys`` (zeros for absent categories)."""
    total = 0.0
    for k in keys:
        total = total + c[k]
    return total


def ratio(num: Any, den: Any) -> Any:
    """Elementwise ``num / den`` with NaN where ``den`` is 0."""
    np = numpy()
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def proportion(
    counts: Mapping[Hashable, int | float],
    hits: tuple[Hashable, ...],
    misses: tuple[Hashable, ...],
    *,
    key: str,
    seed: int,
    n_boot: int,
    empty: str,
) -> Estimate:
    """Share of ``hits`` among ``hits + misses`` (other categories are ignored).

    Args:
        counts: Category counts.
        hits: Categories counted as successes.
        misses: Categories counted as failures.
        key: Metric key (seeds the bootstrap).
        seed: Audit seed.
        n_boot: Bootstrap replicates.
        empty: Reason given when there are no units at all.
    """
    sub = {c: counts.get(c, 0) for c in (*hits, *misses)}
    n = int(sum(sub.values()))
    if n == 0:
        return Estimate.refused(empty, 0)
    return bootstrap(sub, lambda c: ratio(get(c, *hits), get(c, *hits, *misses)),
                     key=key, seed=seed, n_boot=n_boot)
