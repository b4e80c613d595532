"""The HTML report of an audit (matplotlib plots embedded as base64 PNG)."""

from debias.audit.report.html import ReportBuilder, write_report

__all__ = ["ReportBuilder", "write_report"]
