"""The benchmark application: reproducible measurements behind ``debias bench``.

* :mod:`debias.bench.detect`: detection quality of the detectors on RBD-format labelled
  verdicts (``debias bench detect``, ``python benchmarks/detect.py``).

The end-to-end benchmark is :mod:`debias.bench_e2e` (``debias bench e2e``). Runner
scripts and their results live in the repository's ``benchmarks/`` folder; the package
writes only where its caller says.
"""
