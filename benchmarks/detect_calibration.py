"""Calibration of the cheap detectors' offline constants on public data (not on dev rows).

Measures, on the public reference data kept beside the project (``../shared/data``, or
``$DEBIAS_BENCH_DATA``), every figure that ``docs/detection-calibration.md`` and the
docstrings of :mod:`debias.text.tone`, :mod:`detectors.sentiment`,
:mod:`detectors.bandwagon` and :mod:`detectors.verbosity` quote, and writes them to
``benchmarks/results/detect_calibration.json``:

* ``sentiment`` (RBD ScienceQA sentiment set): how often the lowest tone is the
  negatively reworded option, its log-likelihood under the tone softmax and the items
  with a weak margin (P < 0.8), for the default tone scorer, for the scorer before the
  rules added after the negation scope, and with each rule turned off in turn (with the
  items each rule fixes or breaks); the log-likelihood per temperature (the detector's
  temperature should sit near the maximum), the grid maximum over 1,000 bootstrap
  resamples, and a reliability table at the detector's temperature.
* ``bandwagon_non_answer`` (RBD Arena pairs, human winners): when exactly one output is
  a refusal/non-answer, how often the human winner is the other one; its log-odds is the
  ``non_answer_shift`` of the bandwagon detector.
* ``length_prior``: how often the longer output is the better one, by absolute log
  token ratio (Arena human winners; LLMBar and EvalBiasBench gold labels), and how often
  two recorded judges agree with the human majority on PandaLM when the human winner is
  the longer vs the shorter output (the odds ratio is the evidence a length prior would
  add about a judge's cue-free choice).
* ``verbosity`` (RBD GSM8K verbosity set): how often the long answer reaches the
  reference's final number, and how often the reference is recognised as concise.

The RBD dev set's items are drawn from the same public pools, so by default every item
whose candidates also appear in ``rbd-reasoning-dev/dev.csv`` is left out (the counts
are reported under ``excluded``): the figures are independent of the dev rows the
benchmark scores. ``--exclude none`` uses every item.

Usage (from the project root)::

    python benchmarks/detect_calibration.py [--data-dir DIR] [--exclude CSV|none] [--out PATH]

Without the data the runner says so and exits with 0 without writing anything.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

Key = frozenset[str]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("DEBIAS_BENCH_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "detect_calibration.json"
LOG_RATIO_BINS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, math.inf)
TEMPERATURES = (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.12, 0.15, 0.2, 0.3)
BOOTSTRAP = 1000


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def _rate(k: int, n: int) -> dict[str, Any]:
    from debias.datasets.label_metrics import wilson

    return {"k": k, "n": n, "rate": round(k / n, 4) if n else None, "wilson95": wilson(k, n)}


def _log_ratio(a: str, b: str) -> float:
    from debias.text.lengths import count_tokens

    return math.log(max(count_tokens(a), 1) / max(count_tokens(b), 1))


def _bin(x: float) -> str:
    for lo, hi in itertools.pairwise(LOG_RATIO_BINS):
        if lo <= x < hi:
            return f"[{lo}, {hi})"
    return f">= {LOG_RATIO_BINS[-2]}"


def better_is_longer(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Share of (better, worse) pairs whose better output has more tokens, overall and by bin."""
    by_bin: dict[str, list[int]] = {}
    total = [0, 0]
    for better, worse in pairs:
        r = _log_ratio(better, worse)
        cell = by_bin.setdefault(_bin(abs(r)), [0, 0])
        cell[0] += r > 0
        cell[1] += 1
        total[0] += r > 0
        total[1] += 1
    order = [_bin(lo) for lo in LOG_RATIO_BINS[:-1]]
    return {"overall": _rate(*total),
            "by_abs_log_token_ratio": {b: _rate(*by_bin[b]) for b in order if b in by_bin}}


def _key(texts: Iterable[str]) -> Key:
    return frozenset(str(t).strip() for t in texts)


def excluded_keys(csv_path: Path | None) -> set[Key]:
    """Candidate sets of the rows of an RBD-format CSV (items to leave out)."""
    if csv_path is None:
        return set()
    from debias.datasets.rbd import iter_rbd_csv

    return {_key(r.item.candidates) for r in iter_rbd_csv(csv_path, skip_invalid=True)}


def _keep(items: list[dict[str, Any]], texts: Callable[[dict[str, Any]], Iterable[str]],
          exclude: set[Key], counts: dict[str, int], name: str) -> list[dict[str, Any]]:
    kept = [x for x in items if _key(texts(x)) not in exclude]
    counts[name] = len(items) - len(kept)
    return kept


#: The tone scorer's rules (see :mod:`debias.text.tone`), each with the ``ToneScorer``
#: keywords that turn it off; ``None`` marks the lexicon group measured by note prefix.
SENTIMENT_RULES: dict[str, dict[str, Any] | None] = {
    "negation_scope": {"negation_openers": ()},
    "derived_forms": {"derive": False},
    "rhetorical_questions": {"rhetorical_questions": False},
    "dismay_interjections": {"interjections": False},
    "diminishing_just": {"diminishing_just": False},
    "exceptive_but": {"exceptive_but": False},
    "dismissive_adjectives": None,
}
#: The rules added after the negation scope (all off: the scorer as it was before them).
LATER_RULES = ("derived_forms", "rhetorical_questions", "dismay_interjections", "diminishing_just",
               "exceptive_but", "dismissive_adjectives")
REFERENCE_TEMPERATURE = 0.1
WEAK_MARGIN = 0.8


def _lexicon_without(prefix: str) -> dict[str, float]:
    """The packaged framing lexicon without the entries whose note starts with ``prefix``."""
    from importlib import resources

    from debias.text.tone import default_tone_lexicon

    text = resources.files("debias.text").joinpath("data/tone_lexicon.tsv").read_text("utf-8")
    drop = {parts[0].strip().lower() for parts in (line.split("\t") for line in text.splitlines())
            if len(parts) > 2 and parts[2].startswith(prefix)}
    return {w: v for w, v in default_tone_lexicon().items() if w not in drop}


def _scorer_kwargs(off: Iterable[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for rule in off:
        kwargs.update(SENTIMENT_RULES[rule] or {"extra_lexicon": _lexicon_without("dismissive")})
    return kwargs


def _lowest(tones: list[float]) -> int:
    return min(range(len(tones)), key=lambda i: (tones[i], i))


def tone_figures(scored: list[tuple[list[float], int]], temperature: float = REFERENCE_TEMPERATURE
                 ) -> dict[str, Any]:
    """How well the lowest tone finds the reworded option: rate, log-likelihood, weak margins."""
    from detectors.sentiment import p_most_negative

    p = [p_most_negative(t, temperature)[a] for t, a in scored]
    hits = [_lowest(t) == a for t, a in scored]
    return {"lowest_tone_is_reworded": _rate(sum(hits), len(scored)),
            f"log_likelihood_at_{temperature}": round(sum(math.log(max(x, 1e-12)) for x in p), 2),
            f"weak_margin_at_{temperature}": sum(h and x < WEAK_MARGIN for h, x in zip(hits, p, strict=True))}


def _compare(without: list[tuple[list[float], int]], with_: list[tuple[list[float], int]]) -> dict[str, int]:
    """Items the rule fixes/breaks (lowest tone) and items whose P(reworded) rises/falls."""
    from detectors.sentiment import p_most_negative

    out = {"fixed": 0, "broken": 0, "p_reworded_up": 0, "p_reworded_down": 0}
    for (t0, a), (t1, _) in zip(without, with_, strict=True):
        h0, h1 = _lowest(t0) == a, _lowest(t1) == a
        out["fixed"] += h1 and not h0
        out["broken"] += h0 and not h1
        p0 = p_most_negative(t0, REFERENCE_TEMPERATURE)[a]
        p1 = p_most_negative(t1, REFERENCE_TEMPERATURE)[a]
        out["p_reworded_up"] += p1 > p0 + 1e-6
        out["p_reworded_down"] += p1 < p0 - 1e-6
    return out


def sentiment_calibration(data: Path, exclude: set[Key], excluded: dict[str, int]) -> dict[str, Any]:
    """Tone identification of the reworded option per scorer rule, and the softmax temperature."""
    import random

    from debias.text.tone import NEGATION_OPENERS, ToneScorer
    from detectors.sentiment import SentimentDetector, p_most_negative

    items = _keep(_load(data / "rbd-bias4-eval" / "ScienceQA_Sentiment.json"),
                  lambda x: x["sentiment_choices"], exclude, excluded, "ScienceQA_Sentiment")
    out: dict[str, Any] = {"items": len(items), "negation_openers": list(NEGATION_OPENERS),
                           "reference_temperature": REFERENCE_TEMPERATURE,
                           "weak_margin": f"lowest tone right but P(reworded) < {WEAK_MARGIN}"}

    def score(off: Iterable[str] = ()) -> list[tuple[list[float], int]]:
        scorer = ToneScorer(**_scorer_kwargs(off))
        return [(scorer.tones(x["sentiment_choices"]), int(x["answer"])) for x in items]

    scored = score()
    before = score(LATER_RULES)
    out["before_later_rules"] = tone_figures(before)
    out["default"] = tone_figures(scored)
    out["default"].update(_compare(before, scored))
    rules: dict[str, Any] = {}
    for rule in SENTIMENT_RULES:
        without = score([rule])
        rules[rule] = {"without": tone_figures(without), **_compare(without, scored)}
        if rule == "negation_scope":
            out["lowest_tone_is_reworded_without_negation_scope"] = rules[rule]["without"]["lowest_tone_is_reworded"]
            out["lowest_tone_is_reworded_with_negation_scope"] = out["default"]["lowest_tone_is_reworded"]
    out["rules_each_turned_off"] = rules
    logs = {temp: [math.log(max(p_most_negative(t, temp)[a], 1e-12)) for t, a in scored] for temp in TEMPERATURES}
    ll = {str(temp): round(sum(v), 2) for temp, v in logs.items()}
    out["log_likelihood_by_temperature"] = ll
    out["best_temperature_of_grid"] = float(max(ll, key=lambda k: ll[k]))
    rng = random.Random(0)
    best: Counter[str] = Counter()
    for _ in range(BOOTSTRAP if scored else 0):
        idx = [rng.randrange(len(scored)) for _ in scored]
        best[str(max(TEMPERATURES, key=lambda temp: sum(logs[temp][i] for i in idx)))] += 1
    out["best_temperature_bootstrap"] = {"resamples": BOOTSTRAP, "seed": 0,
                                         "argmax_counts": dict(sorted(best.items(), key=lambda kv: float(kv[0])))}
    default_t = SentimentDetector().temperature
    reliability: dict[str, list[float]] = {}
    for t, a in scored:
        p = p_most_negative(t, default_t)
        lo = _lowest(t)
        cell = reliability.setdefault(f"{min(int(p[lo] * 10), 9) / 10:.1f}", [0, 0, 0.0])
        cell[0] += lo == a
        cell[1] += 1
        cell[2] += p[lo]
    out["detector_temperature"] = default_t
    out[f"reliability_at_temperature_{default_t}"] = {
        k: {"n": int(v[1]), "observed": round(v[0] / v[1], 3), "predicted": round(v[2] / v[1], 3)}
        for k, v in sorted(reliability.items())}
    return out


def _arena_pairs(data: Path, exclude: set[Key], excluded: dict[str, int]) -> list[tuple[str, str]]:
    """(human winner, loser) texts of the RBD Arena pairs (original order)."""
    pairs = []
    items = _keep(_load(data / "rbd-bias4-eval" / "Arena_Position_and_Bandwagon.json"),
                  lambda x: (x["original"]["response_a"], x["original"]["response_b"]),
                  exclude, excluded, "Arena_Position_and_Bandwagon")
    for x in items:
        o = x["original"]
        a, b = o["response_a"], o["response_b"]
        pairs.append((a, b) if int(x["ground_truth_original"]) == 1 else (b, a))
    return pairs


def non_answer_calibration(data: Path, exclude: set[Key], excluded: dict[str, int]) -> dict[str, Any]:
    """P(the human winner is the answer | exactly one output is a non-answer) on Arena pairs."""
    from debias.text.cues import default_non_answer_patterns

    na = default_non_answer_patterns()
    k = n = 0
    pairs = _arena_pairs(data, exclude, excluded)
    for winner, loser in pairs:
        w, lo = bool(na.match(winner)), bool(na.match(loser))
        if w != lo:
            n += 1
            k += not w
    out = _rate(k, n)
    lo_ci, hi_ci = out["wilson95"]
    out["log_odds"] = round(math.log(k / (n - k)), 3) if 0 < k < n else None
    out["log_odds_ci95"] = [round(math.log(p / (1 - p)), 3) for p in (lo_ci, hi_ci)] if 0 < lo_ci < hi_ci < 1 else None
    out["pairs"] = len(pairs)
    return out


def _pandalm_agreement(data: Path, file: str, key: str) -> dict[str, Any]:
    items = _load(data / "pandalm" / "testset-v1.json")
    verdicts = {x["idx"]: str(x[key]) for x in _load(data / "pandalm" / file)}
    cells = {"winner_longer": [0, 0], "winner_shorter": [0, 0]}
    for x in items:
        votes = Counter(v for v in (x.get(f"annotator{i}") for i in (1, 2, 3))
                        if isinstance(v, int) and v in (1, 2))
        if not votes:
            continue
        human, count = votes.most_common(1)[0]
        verdict = verdicts.get(x["idx"])
        if count < 2 or verdict not in ("1", "2"):
            continue
        r1, r2 = str(x["response1"]), str(x["response2"])
        winner, loser = (r1, r2) if human == 1 else (r2, r1)
        r = _log_ratio(winner, loser)
        if r == 0:
            continue
        cell = cells["winner_longer" if r > 0 else "winner_shorter"]
        cell[0] += int(verdict) == human
        cell[1] += 1
    out: dict[str, Any] = {k: _rate(*v) for k, v in cells.items()}
    (a, n1), (b, n2) = cells["winner_longer"], cells["winner_shorter"]
    if 0 < a < n1 and 0 < b < n2:
        out["odds_ratio_agree_longer_vs_shorter"] = round((a / (n1 - a)) / (b / (n2 - b)), 3)
    return out


def length_calibration(data: Path, exclude: set[Key], excluded: dict[str, int]) -> dict[str, Any]:
    """Is the longer output the better one, and does it sway judges' agreement with humans?"""
    out: dict[str, Any] = {
        "arena_human_winner_is_longer": better_is_longer(_arena_pairs(data, exclude, excluded))}
    pandalm = data / "pandalm"
    if pandalm.is_dir():
        out["pandalm_judge_agrees_with_human_majority"] = {
            "gpt-3.5-turbo": _pandalm_agreement(data, "gpt-3.5-turbo-testset-v1.json", "gpt_result"),
            "pandalm-7b": _pandalm_agreement(data, "pandalm-7b-testset-v1.json", "pandalm_result"),
        }
    llmbar = data / "llmbar"
    if llmbar.is_dir():
        out["llmbar_better_is_longer"] = {
            str(p.parent.relative_to(llmbar)): better_is_longer(
                (x["output_1"], x["output_2"]) if int(x["label"]) == 1 else (x["output_2"], x["output_1"])
                for x in _load(p))["overall"]
            for p in sorted(llmbar.rglob("dataset.json"))}
    ebb = data / "evalbiasbench" / "biasbench.json"
    if ebb.is_file():
        out["evalbiasbench_better_is_longer"] = {
            group: better_is_longer(
                (x["response1"], x["response2"]) if int(x["label"]) == 1 else (x["response2"], x["response1"])
                for x in rows)["overall"]
            for group, rows in _load(ebb).items()}
    return out


def verbosity_calibration(data: Path, exclude: set[Key], excluded: dict[str, int]) -> dict[str, Any]:
    """How the RBD GSM8K verbosity pairs look to the verbosity detector's helpers."""
    from debias.text.lengths import final_number, is_concise_answer, same_number

    items = _keep(_load(data / "rbd-bias4-eval" / "GSM8K_Verbosity.json"),
                  lambda x: (x["gemma_answer"], x["single_correct_answer"]), exclude, excluded,
                  "GSM8K_Verbosity")
    same = sum(same_number(final_number(str(x["single_correct_answer"])), final_number(x["gemma_answer"]))
               for x in items)
    concise = sum(is_concise_answer(str(x["single_correct_answer"])) for x in items)
    return {"items": len(items), "long_answer_reaches_reference_number": _rate(same, len(items)),
            "reference_is_concise": _rate(concise, len(items))}


Section = Callable[[Path, set[Key], dict[str, int]], dict[str, Any]]
SECTIONS: dict[str, tuple[str, Section]] = {
    "sentiment": ("rbd-bias4-eval/ScienceQA_Sentiment.json", sentiment_calibration),
    "bandwagon_non_answer": ("rbd-bias4-eval/Arena_Position_and_Bandwagon.json", non_answer_calibration),
    "length_prior": ("rbd-bias4-eval/Arena_Position_and_Bandwagon.json", length_calibration),
    "verbosity": ("rbd-bias4-eval/GSM8K_Verbosity.json", verbosity_calibration),
}


def _shown(path: Path) -> str:
    """``path`` relative to the project's parent (``../shared/...``) when it lies there."""
    try:
        return f"../{path.resolve().relative_to(ROOT.parent)}"
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    """Run the calibration; returns the exit code."""
    from debias.cli.bench import write_json
    from debias.text.lengths import tokenizer_name

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="public data folder")
    parser.add_argument("--exclude", default=None,
                        help="RBD-format CSV whose items are left out (default: the dev set when "
                             "present under DATA_DIR); 'none' keeps every item")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="result JSON")
    args = parser.parse_args(argv)
    if args.exclude is None:
        dev = args.data_dir / "rbd-reasoning-dev" / "dev.csv"
        exclude_path = dev if dev.is_file() else None
    else:
        exclude_path = None if args.exclude == "none" else Path(args.exclude)
    exclude = excluded_keys(exclude_path)
    excluded: dict[str, int] = {}
    report: dict[str, Any] = {}
    for name, (needed, fn) in SECTIONS.items():
        if (args.data_dir / needed).is_file():
            report[name] = fn(args.data_dir, exclude, excluded)
        else:
            print(f"skipped {name}: {args.data_dir / needed} not found", file=sys.stderr)
    if not report:
        print(f"SKIPPED: no calibration data under {args.data_dir} (public reference data kept "
              "beside the project; pass --data-dir).", file=sys.stderr)
        return 0
    shown = "none" if exclude_path is None else _shown(exclude_path)
    report["excluded"] = {"source": shown, "items": excluded}
    report.update(command="python benchmarks/detect_calibration.py"
                  + (" --exclude none" if args.exclude == "none" else ""), tokenizer=tokenizer_name(),
                  created_utc=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    print(json.dumps(report, indent=2))
    write_json(args.out, report)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
