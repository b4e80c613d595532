"""The built-in bias detectors: position, bandwagon, verbosity, sentiment, reasoning.

They implement the detector contract in :mod:`debias.contract` and register exactly as
third-party detectors do: through the ``judge_debias.detectors`` entry-point group that
this distribution declares in ``pyproject.toml``. Nothing here needs importing to use
them; ask the registry by name (``parse_detector_specs("position,bandwagon")``).
"""
