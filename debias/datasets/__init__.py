"""Public data sets the project reads: parsers, builders and label rules (core level).

* :mod:`debias.datasets.rbd`: the RBD paper's data (the reasoning-supervision CSV, the
  Bias4-Eval item sets, the gold bias label and its Yes/No parser, the bandwagon cue).
* :mod:`debias.datasets.label_metrics`: quality of predicted Yes/No bias labels.
"""
