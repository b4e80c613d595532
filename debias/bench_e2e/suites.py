"""Suite builders: public benchmark records -> :class:`~debias.bench_e2e.cases.Case` lists.

Every builder takes ``(data_dir, limit, seed)`` and returns a fixed, seeded sample of at
most ``limit`` cases per group (bias type or subset); see
:func:`~debias.bench_e2e.cases.seeded_sample`. The files are read, never copied.

``rbd-bias4`` (``rbd-bias4-eval/``, as the RBD paper builds its sets):

- ``position``: Arena pairs; D = the ``original`` order, D_bias = the ``reversed`` order.
- ``bandwagon``: the same Arena pairs (same sample as ``position``); D = plain prompt,
  D_bias = the cue "90% believe that Output (x) is better", x = the worse output.
- ``verbosity``: GSM8K; D = the full worked solution (``answer``) vs the long
  ``gemma_answer``; D_bias = the short ``single_correct_answer`` vs the same long
  answer. The correct answer's slot is drawn per record (seeded) and is the same in D
  and D_bias, so verbosity is not confounded with position. Records whose long answer
  ends with the gold number (both answers correct) are left out.
- ``sentiment``: ScienceQA multiple choice; D = ``choices``, D_bias =
  ``sentiment_choices`` (the correct option worded negatively, the others positively);
  a non-empty ``hint`` is shown as context under the question.

``llmbar`` (``llmbar/Natural`` and each ``llmbar/Adversarial/*`` subset) and
``evalbiasbench`` (``evalbiasbench/biasbench.json``, grouped by bias type): each pair is
judged in both orders; D = the order in the file, D_bias = swapped. The derived gold
label is then the RBD position label (right in the file's order, wrong swapped).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from debias.bench_e2e.cases import Case, make_item, seeded_rng, seeded_sample
from debias.bench_e2e.data import field, gold_index, load_json, records, require
from debias.datasets.rbd import ARENA_FILE as ARENA
from debias.datasets.rbd import BANDWAGON_CUE
from debias.datasets.rbd import GSM8K_FILE as GSM8K
from debias.datasets.rbd import SCIENCEQA_FILE as SCIENCEQA
from debias.errors import ConfigError, InputError
from debias.judges.base import Judge

Builder = Callable[[Path, "int | None", int], list[Case]]
JudgeProvider = Callable[[str, int], Judge]


@dataclass(frozen=True)
class SuiteSpec:
    """A registered suite.

    Attributes:
        name: Suite name (``--suite``).
        build: ``build(data_dir, limit, seed) -> cases``.
        needs_data: Whether it reads the shared benchmark data.
        description: One line for ``--help``.
        group_judges: For suites that bring their own judges (``sanity``): ``(group,
            seed) -> judge``, used when no ``--judge`` is given.
        rewriter: For suites that bring their own judges: a factory of the rewriter used
            for rewrite probes with them (``sanity``: a scripted rewriter).
    """

    name: str
    build: Builder
    needs_data: bool
    description: str
    group_judges: JudgeProvider | None = None
    rewriter: Callable[[], Any] | None = None


SUITES: dict[str, SuiteSpec] = {}


def suite(name: str, description: str, *, needs_data: bool = True, group_judges: JudgeProvider | None = None,
          rewriter: Callable[[], Any] | None = None) -> Callable[[Builder], Builder]:
    """Decorator registering a suite builder under ``name``."""

    def deco(fn: Builder) -> Builder:
        SUITES[name] = SuiteSpec(name, fn, needs_data, description, group_judges, rewriter)
        return fn

    return deco


def build_suite(name: str, data_dir: Path, limit: int | None = None, seed: int = 0) -> list[Case]:
    """Cases of suite ``name`` (a seeded sample of ``limit`` per group)."""
    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r}; known: {', '.join(sorted(SUITES))}")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    return SUITES[name].build(data_dir, limit, seed)


def _letter(slot: int) -> str:
    return "ab"[slot]


# ---------------------------------------------------------------------------- rbd-bias4
RBD = "rbd-bias4"


def _arena_pair(rec: dict[str, Any], path: Path, k: int, which: str) -> tuple[list[str], int]:
    side = field(rec, which, path, k, dict)
    cands = [field(side, f"response_{s}", path, k) for s in ("a", "b")]
    gold = gold_index(rec.get(f"ground_truth_{which}"), 2, path, k, f"ground_truth_{which}", 1)
    return cands, gold


def arena_cases(path: Path, limit: int | None, seed: int) -> list[Case]:
    """Position and bandwagon cases from the Arena pairs (one shared sample)."""
    recs = records(load_json(path), path)
    out: list[Case] = []
    for k, rec in seeded_sample(recs, limit, seed, RBD, "arena"):
        rid = str(rec.get("id", k))
        prompt = field(rec, "prompt", path, k)
        d_cands, d_gold = _arena_pair(rec, path, k, "original")
        b_cands, b_gold = _arena_pair(rec, path, k, "reversed")
        if sorted(d_cands) != sorted(b_cands) or d_cands[0] == d_cands[1]:
            raise InputError(f"record {k}: 'reversed' is not the 'original' pair swapped",
                             source=str(path), field="reversed")
        role = [1, 0] if b_cands[0] == d_cands[1] else [0, 1]
        src = {"file": ARENA, "record": k, "id": rid}
        cid = f"position/{rid}"
        out.append(Case(
            id=cid, suite=RBD, group="position", bias="position", role_map=role,
            d=make_item(cid, "D", task="pairwise", instruction=prompt, candidates=d_cands,
                        label=d_gold, suite=RBD, group="position", source=src),
            d_bias=make_item(cid, "D_bias", task="pairwise", instruction=prompt, candidates=b_cands,
                             label=b_gold, suite=RBD, group="position", source=src)))
        cid = f"bandwagon/{rid}"
        cue = BANDWAGON_CUE.format(x=_letter(1 - d_gold))
        out.append(Case(
            id=cid, suite=RBD, group="bandwagon", bias="bandwagon", role_map=[0, 1],
            d=make_item(cid, "D", task="pairwise", instruction=prompt, candidates=d_cands,
                        label=d_gold, suite=RBD, group="bandwagon", source=src),
            d_bias=make_item(cid, "D_bias", task="pairwise", instruction=prompt, candidates=d_cands,
                             label=d_gold, suite=RBD, group="bandwagon", cue=cue, source=src)))
    return out


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def final_number(text: str) -> str | None:
    """The last number in ``text`` (commas dropped), or None."""
    found = _NUMBER.findall(text)
    return found[-1].replace(",", "") if found else None


def verbosity_cases(path: Path, limit: int | None, seed: int) -> list[Case]:
    """Verbosity cases from GSM8K (both-correct records left out)."""
    recs = records(load_json(path), path)
    usable = []
    for k, rec in enumerate(recs):
        gold = field(rec, "single_correct_answer", path, k).strip()
        long_wrong = field(rec, "gemma_answer", path, k)
        field(rec, "answer", path, k)
        field(rec, "question", path, k)
        if final_number(long_wrong) == gold.replace(",", ""):
            continue
        usable.append((k, rec))
    out: list[Case] = []
    for _, (k, rec) in seeded_sample(usable, limit, seed, RBD, "verbosity"):
        slot = 0 if seeded_rng(seed, RBD, "verbosity-slot", k).random() < 0.5 else 1

        def pair(correct: str, wrong: str, slot: int = slot) -> list[str]:
            return [correct, wrong] if slot == 0 else [wrong, correct]

        cid = f"verbosity/{k}"
        src = {"file": GSM8K, "record": k}
        common = {"task": "pairwise", "instruction": rec["question"], "label": slot, "suite": RBD,
                  "group": "verbosity", "source": src}
        out.append(Case(
            id=cid, suite=RBD, group="verbosity", bias="verbosity", role_map=[0, 1],
            d=make_item(cid, "D", candidates=pair(rec["answer"], rec["gemma_answer"]), **common),
            d_bias=make_item(cid, "D_bias", candidates=pair(rec["single_correct_answer"].strip(),
                                                            rec["gemma_answer"]), **common)))
    return out


def sentiment_cases(path: Path, limit: int | None, seed: int) -> list[Case]:
    """Sentiment cases from ScienceQA multiple choice."""
    recs = records(load_json(path), path)
    out: list[Case] = []
    for k, rec in seeded_sample(recs, limit, seed, RBD, "sentiment"):
        question = field(rec, "question", path, k)
        hint = rec.get("hint") or ""
        choices = field(rec, "choices", path, k, list)
        rewritten = field(rec, "sentiment_choices", path, k, list)
        if len(choices) != len(rewritten) or not 2 <= len(choices) <= 10:
            raise InputError(f"record {k}: {len(choices)} choices but {len(rewritten)} "
                             "sentiment_choices (need the same number, 2-10)",
                             source=str(path), field="sentiment_choices")
        if not all(isinstance(c, str) for c in [*choices, *rewritten]):
            raise InputError(f"record {k}: choices must be strings", source=str(path), field="choices")
        gold = gold_index(rec.get("answer"), len(choices), path, k, "answer", 0)
        instruction = f"{question}\n\nContext: {hint.strip()}" if str(hint).strip() else question
        cid = f"sentiment/{k}"
        common = {"task": "choice", "instruction": instruction, "label": gold, "suite": RBD,
                  "group": "sentiment", "source": {"file": SCIENCEQA, "record": k}}
        out.append(Case(
            id=cid, suite=RBD, group="sentiment", bias="sentiment", role_map=list(range(len(choices))),
            d=make_item(cid, "D", candidates=list(choices), **common),
            d_bias=make_item(cid, "D_bias", candidates=list(rewritten), **common)))
    return out


@suite(RBD, "RBD's four bias sets: position, bandwagon, verbosity, sentiment (D vs D_bias)")
def rbd_bias4(data_dir: Path, limit: int | None, seed: int) -> list[Case]:
    """The four RBD bias sets (see the module docstring)."""
    arena = require(data_dir, ARENA, RBD)
    gsm = require(data_dir, GSM8K, RBD)
    sqa = require(data_dir, SCIENCEQA, RBD)
    return [*arena_cases(arena, limit, seed), *verbosity_cases(gsm, limit, seed),
            *sentiment_cases(sqa, limit, seed)]


# ------------------------------------------------------------------- pairs, both orders
def swapped_case(suite_name: str, group: str, cid: str, instruction: str, pair: list[str],
                 gold: int, source: dict[str, Any]) -> Case:
    """A pair judged in the file's order (D) and swapped (D_bias)."""
    common = {"task": "pairwise", "instruction": instruction, "suite": suite_name, "group": group,
              "source": source}
    return Case(id=cid, suite=suite_name, group=group, bias="position", role_map=[1, 0],
                d=make_item(cid, "D", candidates=list(pair), label=gold, **common),
                d_bias=make_item(cid, "D_bias", candidates=[pair[1], pair[0]], label=1 - gold,
                                 **common))


LLMBAR = "llmbar"


def llmbar_subsets(root: Path) -> list[tuple[str, Path]]:
    """``(group, dataset.json)`` for Natural and each Adversarial subset, in a fixed order."""
    found = []
    natural = root / "Natural" / "dataset.json"
    if natural.exists():
        found.append(("Natural", natural))
    adv = root / "Adversarial"
    if adv.is_dir():
        for sub in sorted(p for p in adv.iterdir() if (p / "dataset.json").exists()):
            found.append((f"Adversarial/{sub.name}", sub / "dataset.json"))
    return found


@suite(LLMBAR, "LLMBar Natural + Adversarial pairs with gold, judged in both orders")
def llmbar(data_dir: Path, limit: int | None, seed: int) -> list[Case]:
    """LLMBar pairs, ``limit`` per subset."""
    root = require(data_dir, LLMBAR, LLMBAR)
    subsets = llmbar_subsets(root)
    if not subsets:
        raise InputError("no Natural/dataset.json or Adversarial/*/dataset.json found",
                         source=str(root))
    out: list[Case] = []
    for group, path in subsets:
        recs = records(load_json(path), path)
        for k, rec in seeded_sample(recs, limit, seed, LLMBAR, group):
            pair = [field(rec, "output_1", path, k), field(rec, "output_2", path, k)]
            gold = gold_index(rec.get("label"), 2, path, k, "label", 1)
            out.append(swapped_case(LLMBAR, group, f"{group}/{k}", field(rec, "input", path, k),
                                    pair, gold, {"file": str(path.relative_to(data_dir)), "record": k}))
    return out


EVALBIASBENCH = "evalbiasbench"
EBB_FILE = "evalbiasbench/biasbench.json"


@suite(EVALBIASBENCH, "OffsetBias EvalBiasBench pairs grouped by bias type, judged in both orders")
def evalbiasbench(data_dir: Path, limit: int | None, seed: int) -> list[Case]:
    """EvalBiasBench pairs, ``limit`` per bias type."""
    path = require(data_dir, EBB_FILE, EVALBIASBENCH)
    data = load_json(path)
    if not isinstance(data, dict):
        raise InputError(f"expected an object of bias type -> records, got {type(data).__name__}",
                         source=str(path))
    out: list[Case] = []
    for group in sorted(data):
        recs = records(data[group], path, f"a list of records under {group!r}")
        for k, rec in seeded_sample(recs, limit, seed, EVALBIASBENCH, group):
            pair = [field(rec, "response1", path, k), field(rec, "response2", path, k)]
            gold = gold_index(rec.get("label"), 2, path, k, f"{group}[{k}].label", 1)
            out.append(swapped_case(EVALBIASBENCH, group, f"{group}/{k}",
                                    field(rec, "instruction", path, k), pair, gold,
                                    {"file": EBB_FILE, "group": group, "record": k}))
    return out

