"""judge-debias for promptfoo: the assertion and the grader provider.

promptfoo loads Python by file path; this file re-exports the adapter so a config can
say ``file://debias_promptfoo.py:get_assert`` (assertion) and
``file://debias_promptfoo.py`` (grader provider, ``call_api``). Run promptfoo with
``PROMPTFOO_PYTHON`` pointing at the Python that has judge-debias installed.
"""

from debias.integrations.promptfoo import call_api, get_assert

__all__ = ["call_api", "get_assert"]
