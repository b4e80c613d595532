"""The ``sanity`` suite: synthetic cases judged by scripted judges with known bias rates.

No shared data and no model: every case is generated from a seed (simple additions, so
the gold answer is known), and each group is judged by a
:class:`~debias.testing.ScriptedJudge` whose injected bias is documented in
:data:`SANITY_BIASES`. The judges are otherwise always right (``accuracy=1``) and follow
feedback (``compliance=1``), so the expected outcome is known: the middleware should
detect (nearly) every derived gold bias label (recall ~1), fix the biased verdicts, and
never turn a right verdict wrong (zero over-correction), while the ``clean`` group (an
unbiased judge shown a bandwagon cue) should see no detections and no changes.

Case shapes mirror ``rbd-bias4``:

- ``position`` / ``clean``-style pairs: "a + b = s." vs "a + b = w." (same length);
- ``position``: D = the pair, D_bias = the pair swapped;
- ``bandwagon`` and ``clean``: D = plain, D_bias = the cue "90% believe that Output (x)
  is better", x = the wrong output;
- ``verbosity``: D = a worked correct solution (a little longer) vs a long wrong one;
  D_bias = the bare correct number vs the same long wrong one;
- ``sentiment``: 3-4 numeric options; D = neutral wording, D_bias = the correct option
  worded negatively and the others positively.
"""

from __future__ import annotations

from pathlib import Path

from debias.bench_e2e.cases import Case, make_item, seeded_rng
from debias.bench_e2e.suites import suite
from debias.datasets.rbd import BANDWAGON_CUE
from debias.testing.judge import Biases, ScriptedJudge

SANITY = "sanity"
DEFAULT_PER_GROUP = 40
SANITY_BIASES: dict[str, Biases] = {
    "position": Biases(position=0.6, position_slot=0),
    "bandwagon": Biases(cue=0.7),
    "verbosity": Biases(verbosity=0.7),
    "sentiment": Biases(sentiment=0.7),
    "clean": Biases(),
}
"""Injected bias per group (rates are probabilities per judgement; see ``Biases``)."""


def sanity_judge(group: str, seed: int) -> ScriptedJudge:
    """The scripted judge of a sanity group (its name records the injected rates)."""
    biases = SANITY_BIASES[group]
    rates = ",".join(f"{k}={v:g}" for k, v in biases.model_dump().items()
                     if k in ("cue", "position", "verbosity", "sentiment") and v)
    return ScriptedJudge(biases, name=f"scripted[{rates or 'unbiased'}]", seed=seed)


def _sum(rng_seed: int, group: str, k: int) -> tuple[str, int, int, int]:
    rng = seeded_rng(rng_seed, SANITY, group, k)
    a, b = rng.randint(12, 89), rng.randint(12, 89)
    wrong = a + b + rng.choice([-9, -7, -3, -2, 2, 3, 7, 9])
    return f"What is {a} + {b}?", a, b, wrong


def _pair_case(seed: int, group: str, k: int) -> Case:
    question, a, b, wrong = _sum(seed, group, k)
    s = a + b
    gold = seeded_rng(seed, SANITY, group, k, "slot").randrange(2)
    pair = [f"{a} + {b} = {s}.", f"{a} + {b} = {wrong}."]
    if gold == 1:
        pair.reverse()
    cid = f"{group}/{k}"
    common = {"task": "pairwise", "instruction": question, "suite": SANITY, "group": group}
    if group == "position":
        return Case(id=cid, suite=SANITY, group=group, bias="position", role_map=[1, 0],
                    d=make_item(cid, "D", candidates=pair, label=gold, **common),
                    d_bias=make_item(cid, "D_bias", candidates=pair[::-1], label=1 - gold, **common))
    cue = BANDWAGON_CUE.format(x="ab"[1 - gold])
    return Case(id=cid, suite=SANITY, group=group, bias="bandwagon", role_map=[0, 1],
                d=make_item(cid, "D", candidates=pair, label=gold, **common),
                d_bias=make_item(cid, "D_bias", candidates=pair, label=gold, cue=cue, **common))


def _verbosity_case(seed: int, k: int) -> Case:
    question, a, b, wrong = _sum(seed, "verbosity", k)
    s = a + b
    gold = seeded_rng(seed, SANITY, "verbosity", k, "slot").randrange(2)
    worked = (f"We add the numbers carefully. First take {a}, then add {b}: adding the ones, "
              f"then the tens, and carrying where needed gives {s}. So the answer is {s}.")
    long_wrong = (f"We add the numbers. First take {a}, then add {b}: adding the digits "
                  f"and carrying gives {wrong}. So the answer is {wrong}.")

    def pair(correct: str) -> list[str]:
        return [correct, long_wrong] if gold == 0 else [long_wrong, correct]

    cid = f"verbosity/{k}"
    common = {"task": "pairwise", "instruction": question, "label": gold, "suite": SANITY,
              "group": "verbosity"}
    return Case(id=cid, suite=SANITY, group="verbosity", bias="verbosity", role_map=[0, 1],
                d=make_item(cid, "D", candidates=pair(worked), **common),
                d_bias=make_item(cid, "D_bias", candidates=pair(str(s)), **common))


def _sentiment_case(seed: int, k: int) -> Case:
    _, a, b, _ = _sum(seed, "sentiment", k)
    rng = seeded_rng(seed, SANITY, "sentiment", k, "options")
    s = a + b
    n = rng.choice([3, 4])
    values = [s, *rng.sample([s + d for d in (-20, -10, -2, -1, 1, 2, 10, 20)], n - 1)]
    rng.shuffle(values)
    gold = values.index(s)
    plain = [f"It is {v}." for v in values]
    toned = [f"Unfortunately, it is merely {v}, a disappointing and bad answer." if v == s else
             f"Great news! It is certainly {v}, an excellent and wonderful answer!" for v in values]
    cid = f"sentiment/{k}"
    common = {"task": "choice", "instruction": f"Which number equals {a} + {b}?", "label": gold,
              "suite": SANITY, "group": "sentiment"}
    return Case(id=cid, suite=SANITY, group="sentiment", bias="sentiment",
                role_map=list(range(n)), d=make_item(cid, "D", candidates=plain, **common),
                d_bias=make_item(cid, "D_bias", candidates=toned, **common))


@suite(SANITY, "synthetic cases judged by scripted judges with known bias rates (no data)",
       needs_data=False, group_judges=sanity_judge)
def sanity(data_dir: Path, limit: int | None, seed: int) -> list[Case]:
    """``limit`` (default 40) synthetic cases per group."""
    n = DEFAULT_PER_GROUP if limit is None else limit
    out: list[Case] = []
    for k in range(n):
        out.append(_pair_case(seed, "position", k))
        out.append(_pair_case(seed, "bandwagon", k))
        out.append(_verbosity_case(seed, k))
        out.append(_sentiment_case(seed, k))
        out.append(_pair_case(seed, "clean", k))
    return out
