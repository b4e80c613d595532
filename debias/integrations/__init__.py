"""Adapters for the eval frameworks users already run.

Each adapter is a thin layer over the same core (:mod:`debias.integrations.common`
turns the framework's judge into a :class:`~debias.judges.base.Judge`, runs
:class:`~debias.loop.Debiaser` and flattens the :class:`~debias.types.Result` into
metadata), imports its framework lazily, and lives in its own module:

- :mod:`debias.integrations.inspect_ai` (``judge-debias[inspect]``)
- :mod:`debias.integrations.promptfoo` (no extra: promptfoo runs it through its Python bridge)
- :mod:`debias.integrations.deepeval` (``judge-debias[deepeval]``)
- :mod:`debias.integrations.mlflow` (``judge-debias[mlflow]``)

Importing this package imports no framework.
"""
