"""The RBD paper's Bias4-Eval item sets joined with a judge's verdicts on them.

``--join`` is one items file of the release: ``Arena_Position_and_Bandwagon.json``
(pairs with ``original``/``reversed`` orderings and ``ground_truth_original``),
``GSM8K_Verbosity.json`` (``answer`` full solution, ``single_correct_answer``,
``gemma_answer`` long and mostly wrong) or ``ScienceQA_Sentiment.json`` (``choices``,
``sentiment_choices``, ``answer``). INPUT is the verdicts file (JSON Lines, a JSON
array, or CSV), one row per item, in the layout of the paper's result tables:

* ``index`` (0-based position in the items file) or ``id`` (Arena pair id);
* ``judge`` (or ``model``; default: the verdict file's name);
* ``prediction_original``: the judge's answer on the unbiased set D (Arena: original
  order, no statement; GSM8K: full solution vs the long answer; ScienceQA: plain choices);
* ``prediction_position`` (Arena, swapped order, answer as displayed),
  ``prediction_bandwagon`` (Arena, with "90% believe that Output (x) is better" for the
  worse output x), ``prediction_verbosity``/``prediction_verbose`` (GSM8K: bare correct
  answer vs the long answer), ``prediction_sentiment`` (ScienceQA: the rewritten choices).

Predictions are 1-based (``1``/``2``, ``Output (a)``, ``Choice 3``); ``-1`` or
unreadable text is a verdict without a decision. GSM8K candidates are numbered
[correct, long answer] in both sets; ScienceQA keeps the file's choice order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from debias.audit.importers.build import get_ci, iter_csv_rows, judge_from_path, require_join, text
from debias.audit.importers.build import verdict as make_verdict
from debias.audit.importers.jsonstream import iter_json, missing
from debias.audit.importers.registry import ImportOptions, register_importer
from debias.audit.importers.values import parse_slot
from debias.audit.records import BadRecord, Pending
from debias.datasets.rbd import bias4_kind, bias4_pairs
from debias.errors import ConfigError

PREDICTIONS = ("prediction_original", "prediction_position", "prediction_bandwagon",
               "prediction_verbosity", "prediction_verbose", "prediction_sentiment")


def load_items(path: Path) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    """(kind, items, id -> index) of a Bias4-Eval items file.

    Raises:
        ConfigError: When the file is not one of the three item sets.
    """
    items = [rec[1] for rec in iter_json(path) if not isinstance(rec, BadRecord)]
    kinds = {bias4_kind(r) for r in items if isinstance(r, dict)}
    if len(kinds) != 1 or None in kinds:
        raise ConfigError(f"--join {str(path)!r} is not a Bias4-Eval items file (Arena, GSM8K or "
                          "ScienceQA records)")
    ids = {str(r["id"]): k for k, r in enumerate(items) if isinstance(r, dict) and "id" in r}
    return kinds.pop(), items, ids  # type: ignore[return-value]


def _slot(value: Any, n: int) -> int | str | None:
    if missing(value):
        return None
    try:
        return parse_slot(value, n, base=1)
    except ValueError:
        return None  # -1 and unreadable answers: a verdict without a decision


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]] | BadRecord]:
    if path.suffix.lower() in (".csv", ".tsv"):
        yield from iter_csv_rows(path, "\t" if path.suffix.lower() == ".tsv" else ",")
    else:
        yield from iter_json(path)


@register_importer("rbd-bias4")
class RBDBias4Importer:
    """A judge's predictions on a Bias4-Eval set, joined with the set's items."""

    name = "rbd-bias4"
    summary = "RBD Bias4-Eval predictions (index, prediction_original, prediction_<bias>) + --join items file"
    example = (
        '{"index": 0, "judge": "gpt-4o", "prediction_original": 1, "prediction_position": 2, "prediction_bandwagon": 2}\n'
        '{"index": 1, "judge": "gpt-4o", "prediction_original": 2, "prediction_position": 1, "prediction_bandwagon": -1}\n'
        '...   (with --join Arena_Position_and_Bandwagon.json; GSM8K/ScienceQA rows use prediction_verbosity/_sentiment)'
    )
    options: ClassVar[dict[str, str]] = {"judge": "judge name when rows have no judge column"}

    def sniff(self, path: Path, first: Any) -> bool:
        keys = first if isinstance(first, list) else list(first) if isinstance(first, dict) else []
        return any(str(k).lower() in PREDICTIONS for k in keys)

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        join = require_join(options.join, "a Bias4-Eval items file (e.g. Arena_Position_and_Bandwagon.json)",
                            self.name)
        kind, items, ids = load_items(join)
        default_judge = options.get("judge") or judge_from_path(path)
        source = str(path)
        for rec in _rows(path):
            if isinstance(rec, BadRecord):
                yield rec
                continue
            line, row = rec
            if not isinstance(row, dict):
                yield BadRecord(line, "expected an object/row", source)
                continue
            k = _index(row, ids, len(items))
            if isinstance(k, str):
                yield BadRecord(line, k, source)
                continue
            judge = text(get_ci(row, "judge", "model", "judge_model")) or default_judge
            built = BUILDERS[kind](items[k], k, row, judge)
            if isinstance(built, str):
                yield BadRecord(line, built, source)
            else:
                yield Pending(line, built)


def _index(row: dict[str, Any], ids: dict[str, int], n: int) -> int | str:
    idx = get_ci(row, "index", "idx")
    if not missing(idx):
        try:
            k = int(float(idx))
        except (TypeError, ValueError):
            return f"field 'index': {idx!r} is not a number"
        return k if 0 <= k < n else f"field 'index': {k} is outside the items file (0..{n - 1})"
    rid = get_ci(row, "id")
    if not missing(rid):
        return ids.get(str(rid), f"field 'id': {rid!r} is not in the items file")
    return "row has neither 'index' nor 'id'"


def _pred(row: dict[str, Any], *names: str) -> tuple[bool, Any]:
    for n in names:
        v = get_ci(row, n)
        if v is not None and not missing(v):
            return True, v
    return False, None


def _arena(src: dict[str, Any], k: int, row: dict[str, Any], judge: str) -> dict[str, Any] | str:
    pairs = {p.bias: p for p in bias4_pairs(src)}
    position = pairs["position"]
    has_o, p_o = _pred(row, "prediction_original")
    has_p, p_p = _pred(row, "prediction_position")
    has_b, p_b = _pred(row, "prediction_bandwagon")
    if not (has_o or has_p or has_b):
        return "row has no prediction_original/_position/_bandwagon value"
    cue = None
    meta: dict[str, Any] = {"source": "rbd-bias4/arena", "index": k,
                            "bias": [b for b, h in (("position", has_p), ("bandwagon", has_b)) if h]}
    if has_b:
        bandwagon = pairs.get("bandwagon")
        if bandwagon is None:
            return "bandwagon prediction needs the item's ground_truth_original (1 or 2)"
        cue = bandwagon.cue
        meta["cue_target"] = bandwagon.cue_target
    plain = not has_b  # without a statement the plain verdicts are 'with_cue' vacuously
    verdicts = []
    if has_o:
        verdicts.append(make_verdict(judge, [0, 1], _slot(p_o, 2), raw=p_o, with_cue=plain))
    if has_p:
        verdicts.append(make_verdict(judge, position.d_bias_order, _slot(p_p, 2), raw=p_p,
                                     with_cue=plain))
    if has_b:
        verdicts.append(make_verdict(judge, [0, 1], _slot(p_b, 2), raw=p_b, with_cue=True))
    return {"id": str(src.get("id", k)), "task": "pairwise", "instruction": position.instruction,
            "candidates": position.d, "cue": cue, "label": position.gold, "metadata": meta,
            "verdicts": verdicts}


def _with_unbiased(item: dict[str, Any], judge: str, n: int, biased: tuple[bool, Any],
                   original: tuple[bool, Any], what: str) -> dict[str, Any] | str:
    if not biased[0] and not original[0]:
        return f"row has no prediction_original or {what} value"
    order = list(range(n))
    verdicts = []
    if biased[0]:
        verdicts.append(make_verdict(judge, order, _slot(biased[1], n), raw=biased[1]))
    if original[0]:
        verdicts.append(make_verdict(judge, order, _slot(original[1], n), raw=original[1], set="D"))
    item["verdicts"] = verdicts
    return item


def _gsm8k(src: dict[str, Any], k: int, row: dict[str, Any], judge: str) -> dict[str, Any] | str:
    (pair,) = bias4_pairs(src)
    item = {"id": f"gsm8k-{k}", "task": "pairwise", "instruction": pair.instruction,
            "candidates": pair.d_bias, "label": pair.gold,
            "metadata": {"source": "rbd-bias4/gsm8k", "index": k, "bias": "verbosity",
                         "unbiased_candidates": pair.d}}
    return _with_unbiased(item, judge, 2, _pred(row, "prediction_verbosity", "prediction_verbose"),
                          _pred(row, "prediction_original"), "prediction_verbosity")


def _scienceqa(src: dict[str, Any], k: int, row: dict[str, Any], judge: str) -> dict[str, Any] | str:
    (pair,) = bias4_pairs(src)
    n = len(pair.d_bias)
    if n < 2 or len(pair.d) != n:
        return f"item {k} has {n} sentiment choices and {len(pair.d)} plain choices"
    item = {"id": f"scienceqa-{k}", "task": "pairwise" if n == 2 else "choice",
            "instruction": pair.instruction, "candidates": pair.d_bias,
            "label": src.get("answer"),  # as recorded: the item contract checks it
            "metadata": {"source": "rbd-bias4/scienceqa", "index": k, "bias": "sentiment",
                         "unbiased_candidates": pair.d}}
    return _with_unbiased(item, judge, n, _pred(row, "prediction_sentiment"),
                          _pred(row, "prediction_original"), "prediction_sentiment")


BUILDERS = {"arena": _arena, "gsm8k": _gsm8k, "scienceqa": _scienceqa}
