"""AlpacaEval-style length-controlled preference: a logistic fit on the length difference.

Model: ``P(candidate 2 preferred) = sigmoid(a + b * tanh(d / sd))`` where ``d`` is the
length of candidate 2 minus candidate 1 (characters) and ``sd`` its standard deviation
over the audited pairs; a tie counts as half a preference. ``sigmoid(a)`` is the
preference predicted at zero length difference (the length-controlled win rate of
candidate 2, the ``output_2``/model side in AlpacaEval files); ``b`` is the judge's
length sensitivity in log-odds. AlpacaEval's per-instruction terms are left out: an
audit usually has one pair per instruction.

Length differences are kept as counts in fine logarithmic bins (5% resolution), so the
fit and its bootstrap need constant memory; the bootstrap refits on multinomial
resamples of those counts. Ill-posed fits are refused with the reason: too few pairs,
constant lengths, candidate 2 longer (or shorter) in every pair (the equal-length value
would be extrapolated), outcomes that never vary, or a length difference that separates
the outcomes (the maximum-likelihood slope is then infinite).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from debias.audit.metrics.estimate import (
    Estimate,
    from_replicates,
    multinomial_draws,
    numpy,
    rng_for,
)

BIN_WIDTH = 0.05
MIN_PAIRS = 20
MAX_ITER = 60
#: Fitted coefficients beyond this are treated as divergence (separation).
MAX_COEF = 25.0
#: Bootstrap refits run in batches of at most this many (replicate x category) cells.
BATCH_CELLS = 250_000


def fine_bin(d: int) -> int:
    """Signed logarithmic bin of a length difference ``d``."""
    if d == 0:
        return 0
    b = round(math.log1p(abs(d)) / BIN_WIDTH)
    return b if d > 0 else -b


def bin_center(b: int) -> float:
    """Representative length difference of bin ``b``."""
    c = math.expm1(abs(b) * BIN_WIDTH)
    return c if b >= 0 else -c


def fit(x: Any, y: Any, w: Any) -> tuple[Any, Any]:
    """Weighted logistic regression of fractional ``y`` on ``x`` (Newton-Raphson).

    Args:
        x: Covariate per category, shape (K,).
        y: Outcome per category in [0, 1], shape (K,).
        w: Weights (counts), shape (K,) or (B, K) for B fits at once.

    Returns:
        ``(a, b)`` arrays of shape (B,); NaN where the fit diverged or did not converge.
    """
    np = numpy()
    w = np.atleast_2d(np.asarray(w, dtype=float))
    x = np.asarray(x, dtype=float)[None, :]
    y = np.asarray(y, dtype=float)[None, :]
    a = np.zeros(w.shape[0])
    b = np.zeros(w.shape[0])
    done = np.zeros(w.shape[0], dtype=bool)
    for _ in range(MAX_ITER):
        eta = a[:, None] + b[:, None] * x
        p = 1.0 / (1.0 + np.exp(-eta))
        r = w * (y - p)
        g0, g1 = r.sum(1), (r * x).sum(1)
        v = w * p * (1.0 - p)
        h00, h01, h11 = v.sum(1), (v * x).sum(1), (v * x * x).sum(1)
        det = h00 * h11 - h01 * h01
        with np.errstate(divide="ignore", invalid="ignore"):
            da = (h11 * g0 - h01 * g1) / det
            db = (h00 * g1 - h01 * g0) / det
        bad = ~np.isfinite(da) | ~np.isfinite(db)
        da = np.where(bad, 0.0, np.clip(da, -5.0, 5.0))
        db = np.where(bad, 0.0, np.clip(db, -5.0, 5.0))
        a = np.where(done, a, a + da)
        b = np.where(done, b, b + db)
        done |= (np.abs(da) < 1e-9) & (np.abs(db) < 1e-9) & ~bad
        if done.all():
            break
    ok = done & (np.abs(a) < MAX_COEF) & (np.abs(b) < MAX_COEF)
    return np.where(ok, a, np.nan), np.where(ok, b, np.nan)


def _separation(x: Any, y: Any) -> bool:
    above = x[y > 0]
    below = x[y < 1]
    if above.size == 0 or below.size == 0:
        return True
    return bool(below.max() <= above.min() or above.max() <= below.min())


def length_controlled(
    counts: Mapping[tuple[int, int], float],
    sd: float,
    *,
    key: str,
    seed: int,
    n_boot: int,
) -> dict[str, Estimate]:
    """Fit the length-controlled preference on binned counts.

    Args:
        counts: ``(fine_bin, outcome)`` -> pairs, outcome 0 = candidate 1 preferred,
            1 = tie, 2 = candidate 2 preferred.
        sd: Standard deviation of the raw length differences.
        key: Seed key prefix.
        seed: Audit seed.
        n_boot: Bootstrap replicates.

    Returns:
        ``lc_win_rate``, ``length_coef`` and ``raw_win_rate`` estimates.
    """
    np = numpy()
    cats = [c for c, v in counts.items() if v > 0]
    n = int(sum(counts[c] for c in cats))
    raw = _raw(counts, cats, n, key=key, seed=seed, n_boot=n_boot)
    reason = None
    x = y = None
    if n < MIN_PAIRS:
        reason = f"too few pairs for a length-controlled fit ({n} < {MIN_PAIRS})"
    elif not sd > 0:
        reason = ("every pair has the same length difference, so a length effect cannot be "
                  "separated from the preference")
    else:
        x = np.tanh(np.asarray([bin_center(c[0]) for c in cats]) / sd)
        y = np.asarray([c[1] / 2.0 for c in cats])
        w0 = np.asarray([counts[c] for c in cats], dtype=float)
        longer2, shorter2 = float(w0[x > 0].sum()), float(w0[x < 0].sum())
        if np.unique(x).size < 2:
            reason = "all length differences fall in one bin; the length term is not identifiable"
        elif np.all(y == y[0]) and y[0] in (0.0, 1.0):
            reason = (f"the judge preferred candidate {int(y[0]) + 1} in every pair; the logistic "
                      "fit has no finite solution")
        elif longer2 == 0 or shorter2 == 0:
            side = "longer" if shorter2 == 0 else "shorter"
            reason = (f"candidate 2 is {side} in every pair with a length difference, so the "
                      "preference at equal length would be pure extrapolation")
        elif _separation(x, y):
            reason = ("the length difference separates the preferences perfectly (complete "
                      "separation); the fitted length effect would be infinite")
    if reason is not None:
        return {"lc_win_rate": Estimate.refused(reason, n), "length_coef": Estimate.refused(reason, n),
                "raw_win_rate": raw}
    w = np.asarray([counts[c] for c in cats], dtype=float)
    a0, b0 = fit(x, y, w)
    if not (np.isfinite(a0[0]) and np.isfinite(b0[0])):
        reason = "the logistic fit did not converge (near-separation of outcomes by length)"
        return {"lc_win_rate": Estimate.refused(reason, n), "length_coef": Estimate.refused(reason, n),
                "raw_win_rate": raw}
    a_val, b_val = float(a0[0]), float(b0[0])
    lc_value = 1.0 / (1.0 + math.exp(-a_val))
    minority = min(longer2, shorter2) / (longer2 + shorter2)
    note = (f"only {minority:.0%} of pairs have candidate 2 on the minority side of the length "
            "difference; the equal-length value leans on extrapolation") if minority < 0.1 else None
    if n_boot <= 0:
        return {"lc_win_rate": Estimate(lc_value, n=n, note=note), "length_coef": Estimate(b_val, n=n),
                "raw_win_rate": raw}
    a_b, b_b = _boot_fits(counts, cats, x, y, key=f"{key}/lc", seed=seed, n_boot=n_boot)
    return {
        "lc_win_rate": from_replicates(lc_value, 1.0 / (1.0 + np.exp(-a_b)), n, note=note),
        "length_coef": from_replicates(b_val, b_b, n),
        "raw_win_rate": raw,
    }


def _boot_fits(counts: Mapping[tuple[int, int], float], cats: list[tuple[int, int]], x: Any, y: Any, *,
               key: str, seed: int, n_boot: int) -> tuple[Any, Any]:
    """Refit on multinomial resamples, in batches so memory stays bounded (B x K arrays)."""
    np = numpy()
    rng = rng_for(seed, key)
    total = int(sum(counts[c] for c in cats))
    probs = np.asarray([counts[c] for c in cats], dtype=float) / total
    batch = max(1, min(n_boot, BATCH_CELLS // max(len(cats), 1)))
    a_all, b_all = [], []
    for start in range(0, n_boot, batch):
        draws = rng.multinomial(total, probs, size=min(batch, n_boot - start))
        a_b, b_b = fit(x, y, draws)
        a_all.append(a_b)
        b_all.append(b_b)
    return np.concatenate(a_all), np.concatenate(b_all)


def _raw(counts: Mapping[tuple[int, int], float], cats: list[tuple[int, int]], n: int, *, key: str,
         seed: int, n_boot: int) -> Estimate:
    """Observed preference for candidate 2 (ties count 1/2), bootstrapped over the 3 outcomes."""
    np = numpy()
    if n == 0:
        return Estimate.refused("no pairwise verdict with known candidate lengths")
    by_outcome = {o: sum(counts[c] for c in cats if c[1] == o) for o in (0, 1, 2)}
    outcomes = [o for o in (0, 1, 2) if by_outcome[o] > 0]
    y = np.asarray([o / 2.0 for o in outcomes])
    w = np.asarray([by_outcome[o] for o in outcomes], dtype=float)
    value = float((w * y).sum() / n)
    if n_boot <= 0:
        return Estimate(value, n=n)
    draws = multinomial_draws(by_outcome, outcomes, key=f"{key}/raw", seed=seed, n_boot=n_boot)
    return from_replicates(value, (draws * y[None, :]).sum(1) / n, n)


def curve(a: float, b: float, sd: float, d: Any) -> Any:
    """Fitted preference for candidate 2 at length differences ``d``."""
    np = numpy()
    return 1.0 / (1.0 + np.exp(-(a + b * np.tanh(np.asarray(d, dtype=float) / sd))))
