"""Text analysis shared by the detectors and the applications.

* :mod:`debias.text.tone`: tone of candidates (VADER plus a framing lexicon);
* :mod:`debias.text.cues`: bandwagon cue statements and the candidate they endorse,
  refusals and non-answers;
* :mod:`debias.text.lengths`: token counts, length comparisons and final answers.

The pattern sets and the lexicon are package data (``debias/text/data/``).
"""
