"""End-to-end debiasing benchmark: the committed runs, and the README table.

Runs ``debias bench e2e`` with the exact settings behind the committed results in
``benchmarks/results/`` and rewrites ``benchmarks/results/e2e_table.md`` (a Markdown
snippet for the README) from their summaries:

1. ``sanity``: synthetic cases, scripted judges with known bias rates (seconds);
2. ``rbd-bias4``, ``llmbar``, ``evalbiasbench`` with the embedded local judge (SmolLM2-135M on
   CPU) on fixed seeded samples sized to finish in about 30 minutes in total on a 2-core
   machine. They read the public data in ``../shared/data`` (or ``$DEBIAS_BENCH_DATA``);
   without it they are skipped with a message.

Per-item results go to ``benchmarks/runs/<suite>-<judge>/`` (git-ignored; passed as ``--run-dir``:
the package itself writes only where it is told); an interrupted
run resumes where it stopped when the same command is run again.

Usage (from the project root)::

    python benchmarks/e2e.py                 # every run, then the table
    python benchmarks/e2e.py --only sanity   # one run (repeatable), then the table
    python benchmarks/e2e.py --table-only    # only rebuild e2e_table.md
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path("benchmarks") / "results"
TABLE = RESULTS / "e2e_table.md"

LOCAL = ("--judge", "local", "--max-rounds", "1", "--seed", "0")
RUNS_DIR = Path("benchmarks") / "runs"  # git-ignored; the package writes only where it is told
RUNS: dict[str, list[str]] = {
    "sanity": ["--suite", "sanity", "--limit", "100", "--json", str(RESULTS / "e2e_sanity.json"),
               "--run-dir", str(RUNS_DIR / "sanity-scripted")],
    "rbd-bias4-stubborn-cue": ["--suite", "rbd-bias4", "--judge", "scripted:cue=1,compliance=0", "--limit", "20",
                               "--json", str(RESULTS / "e2e_rbd-bias4_scripted-cue-1-compliance-0.json")],
    "rbd-bias4": ["--suite", "rbd-bias4", *LOCAL, "--limit", "12",
                  "--json", str(RESULTS / "e2e_rbd-bias4_smollm2.json"),
                  "--run-dir", str(RUNS_DIR / "rbd-bias4-smollm2")],
    "llmbar": ["--suite", "llmbar", *LOCAL, "--limit", "5",
               "--json", str(RESULTS / "e2e_llmbar_smollm2.json"),
               "--run-dir", str(RUNS_DIR / "llmbar-smollm2")],
    "evalbiasbench": ["--suite", "evalbiasbench", *LOCAL, "--limit", "4",
                      "--json", str(RESULTS / "e2e_evalbiasbench_smollm2.json"),
                      "--run-dir", str(RUNS_DIR / "evalbiasbench-smollm2")],
}
"""The committed runs: ``debias bench e2e <args>``."""

HOW_TO = """
### Run it yourself

Every run appends per-item results to its run folder (`--run-dir`; default
`~/.cache/judge-debias/bench-e2e/<suite>-<judge>/`) and resumes when re-run; the summary
(all rates with seeded bootstrap 95% intervals, cost per item) goes to `--json`. `--limit N` takes a fixed sample of N cases per bias type / subset (seeded by
`--seed`; a larger N extends a smaller one). The data suites read `../shared/data`
(or `--data-dir`, `$DEBIAS_BENCH_DATA`).

```bash
# scripted judges with known bias rates (no data, no model): expected recall ~1, no over-correction
debias bench e2e --suite sanity --limit 100 --json benchmarks/results/e2e_sanity.json
# the embedded local judge (SmolLM2-135M on CPU)
debias bench e2e --suite rbd-bias4 --judge local --max-rounds 1 --limit 6
# an API judge through litellm; keys come from the provider's usual environment variable
export OPENAI_API_KEY=...            # or ANTHROPIC_API_KEY, ...
debias bench e2e --suite rbd-bias4 --judge openai/gpt-4o-mini --limit 100 --concurrency 8
debias bench e2e --suite llmbar --judge anthropic/claude-3-5-haiku-latest --limit 50
# any OpenAI-compatible server (vLLM, Ollama, a proxy) as the judge
debias bench e2e --suite evalbiasbench --judge hosted_vllm/Qwen/Qwen2.5-7B-Instruct \\
    --api-base http://127.0.0.1:8000/v1
# a served RBD checkpoint as the reasoning detector (after the cheap detectors)
vllm serve joyfine/RBD-8B --port 8001 --max-model-len 8192
debias bench e2e --suite rbd-bias4 --judge openai/gpt-4o-mini --limit 100 \\
    --detectors 'position,bandwagon,verbosity,sentiment,reasoning:backend=hosted_vllm/joyfine/RBD-8B;api_base=http://127.0.0.1:8001/v1;cascade=always'
```

Suites (`debias/bench_e2e/suites.py`): `rbd-bias4` builds D and D_bias as the RBD paper
does: position = Arena pair in its original vs swapped order; bandwagon = the same pairs
plain vs with "90% believe that Output (x) is better" naming the worse output;
verbosity = GSM8K worked solution vs a long wrong answer, then the bare correct number vs
the same long answer (correct answer's slot drawn per record, the same in D and D_bias;
records whose long answer is also right are left out); sentiment = ScienceQA options vs
their `sentiment_choices` rewording. `llmbar` (Natural and each Adversarial subset) and
`evalbiasbench` (per bias type) judge each pair in the file's order (D) and swapped
(D_bias). `sanity` is synthetic, judged by scripted judges with known bias rates. The
middleware never sees the gold label (some detectors would use it).

Reading small samples: with a handful of cases per group the 95% intervals span most
of [0, 1], so the control check rarely fails there unless the judge was right on every D
item (a zero-width interval). In `evalbiasbench` every pair lists the better response
first, so a judge that prefers the first slot is right on D by position alone; an
order-independent verdict (the position detector's aggregate over both orders) loses
those lucky verdicts, which counts as over-correction on D. Wall time is judging time on
the machine named in the summary (model loading excluded) and depends on its load.

The reasoning detector's options (`detectors/reasoning/detector.py`): `backend` (`local`,
`local:PATH`, or a litellm model string), `api_base`, `cascade` (`on-signal` default:
only where the cheap detectors saw a signal; `always`; `never`), `biases` (`auto` or
e.g. `position+bandwagon`), `max_tokens` (default 1024), `temperature`, `policy`.
Columns: accuracy on the unbiased control D and on the biased D_bias before (the judge
alone) → after (the middleware's final verdict); consistency = correct on both; agreement
= the same candidate chosen on D and D_bias (position consistency for order swaps);
detection precision/recall against the derived gold label (right on D, wrong on D_bias);
over-correction = share of cases right before and wrong after; control D = accuracy on D
after wrapping is not below the lower 95% bound of the judge's own accuracy on D; calls
and seconds per judged item. A tie counts as wrong in the accuracy columns; "tie = ½" counts
it as half right (what a fair coin would score, without flipping one), and "ties" is the
share of D_bias verdicts that are ties. Summaries written before these two columns existed
show n/a there.
"""


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and rebuild the table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(RUNS), help="run only these")
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    from debias.bench_e2e.data import resolve_data_dir
    from debias.bench_e2e.report import load_reports, render_table
    from debias.bench_e2e.suites import SUITES
    from debias.cli import main as debias_main

    if not args.table_only:
        for name in args.only or list(RUNS):
            if SUITES[RUNS[name][1]].needs_data and not resolve_data_dir().exists():
                print(f"skipping {name}: no benchmark data at {resolve_data_dir()}", file=sys.stderr)
                continue
            print(f"$ debias bench e2e {' '.join(RUNS[name])}", flush=True)
            code = debias_main(["bench", "e2e", *RUNS[name]])
            if code:
                return code
    paths = [Path(RUNS[n][RUNS[n].index("--json") + 1]) for n in RUNS]
    reports = load_reports(paths)
    if not reports:
        print("no e2e summaries to tabulate", file=sys.stderr)
        return 0
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(render_table(reports) + HOW_TO, encoding="utf-8")
    print(f"wrote {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
