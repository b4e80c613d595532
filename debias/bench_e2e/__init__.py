"""End-to-end debiasing benchmark (``debias bench e2e``).

Measures what wrapping a judge with the middleware does to its verdicts: accuracy and
consistency before and after, detection quality against the RBD-style derived gold bias
labels, over-correction on biased and on unbiased (control) items, and cost per item.

Suites: ``rbd-bias4``, ``llmbar``, ``evalbiasbench`` (read from the shared benchmark data)
and ``sanity`` (synthetic items judged by scripted judges with known bias rates).
"""

from debias.bench_e2e import sanity as _sanity  # noqa: F401  (registers the synthetic suite)
from debias.bench_e2e.cases import Case
from debias.bench_e2e.runner import E2EConfig, run_e2e
from debias.bench_e2e.suites import SUITES, build_suite

__all__ = ["SUITES", "Case", "E2EConfig", "build_suite", "run_e2e"]
