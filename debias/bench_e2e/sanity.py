"""The ``sanity`` suite: synthetic cases judged by scripted judges with known bias rates.

No shared data and no model: every case is generated from a seed (simple additions, so
the gold answer is known), and each group is judged by a
:class:`~debias.testing.ScriptedJudge` whose injected bias is documented in
:data:`SANITY_GROUPS`; the rewrite probes use a
:class:`~debias.testing.ScriptedRewriter`. Apart from their biases the judges are
always right (``accuracy=1``). They differ in how they take feedback:

- the plain groups (``position``, ``bandwagon``, ``verbosity``, ``sentiment``) follow it
  (``compliance=1``): the judge's own revision is final;
- ``*-stubborn`` judges ignore it (``compliance=0``) and ``*-half`` judges follow it half
  of the time: the counterfactual verdict (the judge with the detected factor removed)
  must be final where the judge does not comply;
- mixed judges carry a second bias, position (``cue+position``, ``verbosity+position``,
  ``sentiment+position``): the joint probe (factor removed x every display order) decides;
- ``position-slot`` always answers the first slot: no probe carries information about
  the candidates, so the honest outcome is a tie, never a coin flip;
- ``clean``: an unbiased judge shown a bandwagon cue (no detections, no changes).

Partial position bias is only visible in a judge's preferences, so the stubborn position
and mixed judges are log-probability judges (``probs``: each verdict carries the judge's
policy distribution and picks its most probable candidate, as a temperature-0 judge
with log-probabilities does); ``position-half`` is a sampling judge without them.

Case shapes mirror ``rbd-bias4``:

- ``position`` pairs: "a + b = s." vs "a + b = w." (same length); D = the pair, D_bias =
  the pair swapped;
- ``bandwagon`` (and ``clean``): D = plain, D_bias = the cue "90% believe that Output (x)
  is better", x = the wrong output;
- ``verbosity``: D = a worked correct solution (a little longer) vs a long wrong one;
  D_bias = the bare correct number vs the same long wrong one;
- ``sentiment``: 3-4 numeric options; D = neutral wording, D_bias = the correct option
  worded negatively and the others positively.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from debias.bench_e2e.cases import Case, make_item, seeded_rng
from debias.bench_e2e.suites import suite
from debias.datasets.rbd import BANDWAGON_CUE
from debias.testing.judge import Biases, ScriptedJudge, ScriptedRewriter

SANITY = "sanity"
DEFAULT_PER_GROUP = 40


@dataclass(frozen=True)
class SanityGroup:
    """A sanity group: the case shape and the scripted judge that judges it.

    Attributes:
        shape: Case shape (``position``, ``bandwagon``, ``verbosity``, ``sentiment``,
            ``clean``); also the case's bias type (``clean`` cases are bandwagon cases).
        biases: The judge's bias rates and compliance.
        probs: A log-probability judge (policy distribution, most probable choice).
    """

    shape: str
    biases: Biases
    probs: bool = False


_STUBBORN = {"compliance": 0.0}
_HALF = {"compliance": 0.5}
SANITY_GROUPS: dict[str, SanityGroup] = {
    "position": SanityGroup("position", Biases(position=0.6, position_slot=0)),
    "bandwagon": SanityGroup("bandwagon", Biases(cue=0.7)),
    "verbosity": SanityGroup("verbosity", Biases(verbosity=0.7)),
    "sentiment": SanityGroup("sentiment", Biases(sentiment=0.7)),
    "clean": SanityGroup("clean", Biases()),
    "position-stubborn": SanityGroup("position", Biases(position=0.6, **_STUBBORN), probs=True),
    "position-half": SanityGroup("position", Biases(position=0.6, **_HALF)),
    "position-slot": SanityGroup("position", Biases(position=1.0, **_STUBBORN)),
    "bandwagon-stubborn": SanityGroup("bandwagon", Biases(cue=0.7, **_STUBBORN)),
    "bandwagon-half": SanityGroup("bandwagon", Biases(cue=0.7, **_HALF)),
    "verbosity-stubborn": SanityGroup("verbosity", Biases(verbosity=0.7, **_STUBBORN)),
    "verbosity-half": SanityGroup("verbosity", Biases(verbosity=0.7, **_HALF)),
    "sentiment-stubborn": SanityGroup("sentiment", Biases(sentiment=0.7, **_STUBBORN)),
    "sentiment-half": SanityGroup("sentiment", Biases(sentiment=0.7, **_HALF)),
    "cue+position": SanityGroup("bandwagon", Biases(cue=0.7, position=0.6, **_STUBBORN), probs=True),
    "verbosity+position": SanityGroup("verbosity", Biases(verbosity=0.7, position=0.6, **_STUBBORN),
                                      probs=True),
    "sentiment+position": SanityGroup("sentiment", Biases(sentiment=0.7, position=0.6, **_STUBBORN),
                                      probs=True),
}
"""Groups: case shape and injected bias (rates are probabilities per judgement, see ``Biases``)."""


def sanity_judge(group: str, seed: int) -> ScriptedJudge:
    """The scripted judge of a sanity group (its name records the injected rates)."""
    spec = SANITY_GROUPS[group]
    rates = ",".join(f"{k}={v:g}" for k, v in spec.biases.model_dump().items()
                     if k in ("cue", "position", "verbosity", "sentiment") and v)
    extra = "" if spec.biases.compliance == 1.0 else f",compliance={spec.biases.compliance:g}"
    extra += ",logprobs" if spec.probs else ""
    return ScriptedJudge(spec.biases, name=f"scripted[{rates or 'unbiased'}{extra}]", seed=seed,
                         with_probs=spec.probs, calibrated=spec.probs)


def _sum(rng_seed: int, group: str, k: int) -> tuple[str, int, int, int]:
    rng = seeded_rng(rng_seed, SANITY, group, k)
    a, b = rng.randint(12, 89), rng.randint(12, 89)
    wrong = a + b + rng.choice([-9, -7, -3, -2, 2, 3, 7, 9])
    return f"What is {a} + {b}?", a, b, wrong


def _pair_case(seed: int, group: str, k: int, shape: str) -> Case:
    question, a, b, wrong = _sum(seed, group, k)
    s = a + b
    gold = seeded_rng(seed, SANITY, group, k, "slot").randrange(2)
    pair = [f"{a} + {b} = {s}.", f"{a} + {b} = {wrong}."]
    if gold == 1:
        pair.reverse()
    cid = f"{group}/{k}"
    common = {"task": "pairwise", "instruction": question, "suite": SANITY, "group": group}
    if shape == "position":
        return Case(id=cid, suite=SANITY, group=group, bias="position", role_map=[1, 0],
                    d=make_item(cid, "D", candidates=pair, label=gold, **common),
                    d_bias=make_item(cid, "D_bias", candidates=pair[::-1], label=1 - gold, **common))
    cue = BANDWAGON_CUE.format(x="ab"[1 - gold])
    return Case(id=cid, suite=SANITY, group=group, bias="bandwagon", role_map=[0, 1],
                d=make_item(cid, "D", candidates=pair, label=gold, **common),
                d_bias=make_item(cid, "D_bias", candidates=pair, label=gold, cue=cue, **common))


def _verbosity_case(seed: int, group: str, k: int) -> Case:
    question, a, b, wrong = _sum(seed, group, k)
    s = a + b
    gold = seeded_rng(seed, SANITY, group, k, "slot").randrange(2)
    worked = (f"We add the numbers carefully. First take {a}, then add {b}: adding the ones, "
              f"then the tens, and carrying where needed gives {s}. So the answer is {s}.")
    long_wrong = (f"We add the numbers. First take {a}, then add {b}: adding the digits "
                  f"and carrying gives {wrong}. So the answer is {wrong}.")

    def pair(correct: str) -> list[str]:
        return [correct, long_wrong] if gold == 0 else [long_wrong, correct]

    cid = f"{group}/{k}"
    common = {"task": "pairwise", "instruction": question, "label": gold, "suite": SANITY,
              "group": group}
    return Case(id=cid, suite=SANITY, group=group, bias="verbosity", role_map=[0, 1],
                d=make_item(cid, "D", candidates=pair(worked), **common),
                d_bias=make_item(cid, "D_bias", candidates=pair(str(s)), **common))


def _sentiment_case(seed: int, group: str, k: int) -> Case:
    _, a, b, _ = _sum(seed, group, k)
    rng = seeded_rng(seed, SANITY, group, k, "options")
    s = a + b
    n = rng.choice([3, 4])
    values = [s, *rng.sample([s + d for d in (-20, -10, -2, -1, 1, 2, 10, 20)], n - 1)]
    rng.shuffle(values)
    gold = values.index(s)
    plain = [f"It is {v}." for v in values]
    toned = [f"Unfortunately, it is merely {v}, a disappointing and bad answer." if v == s else
             f"Great news! It is certainly {v}, an excellent and wonderful answer!" for v in values]
    cid = f"{group}/{k}"
    common = {"task": "choice", "instruction": f"Which number equals {a} + {b}?", "label": gold,
              "suite": SANITY, "group": group}
    return Case(id=cid, suite=SANITY, group=group, bias="sentiment",
                role_map=list(range(n)), d=make_item(cid, "D", candidates=plain, **common),
                d_bias=make_item(cid, "D_bias", candidates=toned, **common))


def sanity_case(seed: int, group: str, k: int) -> Case:
    """Case ``k`` of a sanity group."""
    shape = SANITY_GROUPS[group].shape
    if shape == "verbosity":
        return _verbosity_case(seed, group, k)
    if shape == "sentiment":
        return _sentiment_case(seed, group, k)
    return _pair_case(seed, group, k, shape)


@suite(SANITY, "synthetic cases judged by scripted judges with known bias rates (no data)",
       needs_data=False, group_judges=sanity_judge, rewriter=ScriptedRewriter)
def sanity(data_dir: Path, limit: int | None, seed: int) -> list[Case]:
    """``limit`` (default 40) synthetic cases per group."""
    n = DEFAULT_PER_GROUP if limit is None else limit
    return [sanity_case(seed, group, k) for k in range(n) for group in SANITY_GROUPS]
