"""Audit metrics: one module per family, each a pure ``classify`` (per judged unit ->
categories) and a pure ``summarize`` (category counts -> estimates with bootstrap CIs)."""

from debias.audit.metrics.base import Section, SummaryContext
from debias.audit.metrics.estimate import Estimate

__all__ = ["Estimate", "Section", "SummaryContext"]
