"""CI gates: ``--fail-on "position_consistency<0.8"`` style conditions on audit metrics.

A gate names a failure condition; the audit exits 1 when any gate's condition holds.
Grammar (parsed with regular expressions, never evaluated as code)::

    METRIC[JUDGE].FIELD OP NUMBER

* ``METRIC``: a metric name from the JSON output (``position_consistency``,
  ``rbd_accuracy.position``, ``findings_rate.verbosity``, ...);
* ``[JUDGE]`` (optional): one judge's value; ``[*]`` checks every judge; default: overall;
* ``.FIELD`` (optional): ``value`` (default), ``lo``/``hi`` (the 95% interval), or ``n``;
* ``OP``: ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``; ``NUMBER`` may end in ``%``.

A gate whose metric is not available in the data (refused, or no such judge) fails
too, with the reason: a gate that cannot be checked must not pass silently.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from debias.audit.result import OVERALL, AuditResult, known_metric
from debias.errors import ConfigError

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt,
}
_EXPR = re.compile(
    r"^\s*(?P<lhs>[^<>=!]+?)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<pct>%?)\s*$")
_LHS = re.compile(r"^(?P<metric>[A-Za-z_][\w.\-]*?)(?:\[(?P<judge>[^\[\]]+)\])?"
                  r"(?:\.(?P<field>value|lo|hi|n))?$")


@dataclass(frozen=True)
class Gate:
    """A parsed failure condition.

    Attributes:
        text: The expression as written.
        metric: Metric name.
        judge: Judge name, ``*`` for every judge, or None for the overall value.
        field: ``value``, ``lo``, ``hi`` or ``n``.
        op: Comparison operator.
        threshold: Right-hand side.
    """

    text: str
    metric: str
    judge: str | None
    field: str
    op: str
    threshold: float

    def describe(self, scope: str) -> str:
        """``position_consistency[gpt-4o].lo`` style name of the checked number."""
        name = self.metric if scope == OVERALL else f"{self.metric}[{scope}]"
        return name if self.field == "value" else f"{name}.{self.field}"


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate in one scope.

    Attributes:
        gate: The gate.
        scope: ``overall`` or the judge checked.
        value: The number compared (None when unavailable).
        failed: Whether the failure condition holds (or the number is unavailable).
        message: Human-readable outcome.
    """

    gate: Gate
    scope: str
    value: float | None
    failed: bool
    message: str


def parse_gate(text: str) -> Gate:
    """Parse one ``--fail-on`` expression.

    Raises:
        ConfigError: Malformed expression or unknown metric (the message says which).
    """
    m = _EXPR.match(text)
    if not m:
        raise ConfigError(f"--fail-on {text!r}: expected METRIC OP NUMBER, e.g. "
                          "'position_consistency<0.8' or 'accuracy[gpt-4o].lo<0.7'")
    lhs = _LHS.match(m.group("lhs").strip())
    if not lhs:
        raise ConfigError(f"--fail-on {text!r}: {m.group('lhs').strip()!r} is not METRIC[JUDGE].FIELD")
    metric = lhs.group("metric")
    if not known_metric(metric):
        from debias.audit.result import DOTTED_PREFIXES, METRIC_NAMES

        raise ConfigError(f"--fail-on {text!r}: unknown metric {metric!r}; known: "
                          f"{', '.join(METRIC_NAMES)}, and {', '.join(p + '.<name>' for p in DOTTED_PREFIXES)}")
    number = float(m.group("num")) / (100.0 if m.group("pct") else 1.0)
    return Gate(text=text.strip(), metric=metric, judge=lhs.group("judge"),
                field=lhs.group("field") or "value", op=m.group("op"), threshold=number)


def _check(gate: Gate, result: AuditResult, scope: str) -> GateResult:
    where = gate.describe(scope)
    if scope != OVERALL and scope not in result.judges:
        return GateResult(gate, scope, None, True,
                          f"FAIL {gate.text}: no judge {scope!r} in the input "
                          f"(judges: {', '.join(result.judges) or 'none'})")
    est = result.metric(gate.metric, None if scope == OVERALL else scope)
    if est is None or est.value is None:
        why = est.note if est is not None and est.note else "not computed from this input"
        return GateResult(gate, scope, None, True, f"FAIL {gate.text}: {where} is unavailable ({why})")
    value = est.field(gate.field)
    if value is None:
        return GateResult(gate, scope, None, True,
                          f"FAIL {gate.text}: {where} has no interval ({est.note or 'n/a'})")
    failed = OPS[gate.op](value, gate.threshold)
    verdict = "FAIL" if failed else "pass"
    shown = f"{value:g}" if gate.field == "n" else f"{value:.4f}"
    detail = f" (estimate {est.format()}, n={est.n})" if gate.field != "n" else ""
    relation = gate.op if failed else f"not {gate.op}"
    return GateResult(gate, scope, value, failed,
                      f"{verdict} {gate.text}: {where} = {shown}{detail} {relation} {gate.threshold:g}")


def check_gates(gates: Iterable[Gate], result: AuditResult) -> list[GateResult]:
    """Evaluate gates on a result (``[*]`` expands to every judge)."""
    out: list[GateResult] = []
    for gate in gates:
        if gate.judge is None:
            out.append(_check(gate, result, OVERALL))
        elif gate.judge == "*":
            out.extend(_check(gate, result, j) for j in (result.judges or [OVERALL]))
        else:
            out.append(_check(gate, result, gate.judge))
    return out
