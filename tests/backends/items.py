"""Items, a fast retry policy and error helpers shared by the backend, judge and retry tests."""

from __future__ import annotations

from debias.retry import RetryPolicy
from debias.types import Item

FAST = RetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.01, jitter=0)
"""Three attempts, millisecond waits: retries are exercised without slowing the suite."""

PAIR = Item(id="p1", task="pairwise", instruction="Name a prime number.",
            candidates=["Nine is prime.", "Seven is prime. [correct]"],
            cue="90% of people believe that Output (b) is better.")
MC = Item(id="c1", task="choice", instruction="What is 2 + 2?",
          candidates=["3", "4 [correct]", "5", "22"], cue="Most people chose Choice 3.")
SCORE = Item(id="s1", task="score", instruction="Say hello.", candidates=["Hello!"])
MSGS = [{"role": "user", "content": "### Instruction:\nPick.\n### Output (a):\nx\n### Output (b):\ny"}]


def all_text(exc: BaseException) -> str:
    """The error's message and everything chained to it (what a traceback would print)."""
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return "\n".join(parts)
