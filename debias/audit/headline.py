"""Which metrics lead the summaries, and how to describe them."""

from __future__ import annotations

from debias.audit.metrics.estimate import Estimate
from debias.audit.result import AuditResult

#: (metric, short description) in display order; dotted families are expanded from data.
HEADLINE: tuple[tuple[str, str], ...] = (
    ("accuracy", "main verdict equals the gold label"),
    ("position_consistency", "same decision in both display orders"),
    ("first_slot_preference", "slot-driven flips that went to the first slot (0.5 = none)"),
    ("delta_bias", "JudgeLM delta: (to first - to second) / pairs"),
    ("robustness_rate", "decision unchanged by the cue"),
    ("reask_consistency", "same decision when asked again identically"),
    ("flip_toward_endorsed", "decision moved to the candidate the cue endorses"),
    ("longer_chosen_rate", "chosen candidate is the longer one"),
    ("lc_win_rate", "length-controlled preference for candidate 2"),
    ("length_coef", "log-odds per unit tanh(standardised length difference)"),
    ("positive_chosen_rate", "chosen candidate is the most positive one"),
    ("negative_correct_accuracy_gap", "accuracy when the right answer sounds negative, minus otherwise"),
    ("human_agreement", "raw agreement with the reference label (ties explicit)"),
    ("cohen_kappa", "chance-corrected agreement with the reference label"),
)
DOTTED: tuple[tuple[str, str], ...] = (
    ("rbd_accuracy", "RBD accuracy on D_bias"),
    ("rbd_consistency", "RBD: correct on D and on D_bias"),
    ("bias_label_rate", "share of items with gold bias label Yes"),
    ("findings_rate", "verdicts flagged by the offline cheap detectors"),
)


def headline_rows(result: AuditResult) -> list[tuple[str, str]]:
    """``(metric, description)`` rows with a value in at least one scope."""
    scopes = result.scopes()
    names: dict[str, str] = {}
    for name, desc in HEADLINE:
        names[name] = desc
    for prefix, desc in DOTTED:
        found = sorted({k for s in scopes for k in result.metrics(s) if k.startswith(prefix + ".")})
        for k in found:
            names[k] = f"{desc} ({k.split('.', 1)[1]})"
    rows = []
    for name, desc in names.items():
        if any((e := result.metric(name, None if s == "overall" else s)) is not None and e.ok
               for s in scopes):
            rows.append((name, desc))
    return rows


def unavailable(result: AuditResult) -> dict[str, str]:
    """Headline metrics that could not be computed overall, with the reason."""
    out: dict[str, str] = {}
    for name, _desc in HEADLINE:
        est: Estimate | None = result.metric(name)
        if est is not None and not est.ok:
            out[name] = est.note or "n/a"
    return out
