"""What the proxy answers for a recognised judge prompt: the final verdict in the template's
own format, the findings as ``x-debias-*`` headers and a ``debias`` object, as one
``chat.completion`` or as server-sent-event chunks.

Pure functions of the :class:`~debias.types.Result`; the app only sends what they build.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator
from typing import Any

from debias.proxy.formats import Parsed, VerdictFormat
from debias.proxy.templates import Match
from debias.types import Result, Status, Verdict

#: Added to an explanation whose verdict the debiasing replaced by an aggregate.
AGGREGATE_NOTE = ("(judge-debias: the verdict depended on the order in which the answers "
                  "were shown, so the final verdict combines both orders.)")
_CHUNK_WORDS = 16


def final_decision(result: Result) -> Parsed:
    """The final verdict as a decision in the client's display order (original numbering)."""
    v = result.verdict
    if v is None or v.tie or v.choice is None:
        return Parsed(None)
    strength = getattr(v, "strength", None)
    return Parsed(v.choice, strength if isinstance(strength, str) else None)


def _source_round(result: Result) -> Verdict | None:
    """The round verdict that became final (None for an aggregate)."""
    for rnd in reversed(result.rounds):
        if rnd.verdict is result.verdict:
            return rnd.verdict
    return None


def reply_text(result: Result, fmt: VerdictFormat) -> str:
    """The reply content: the upstream explanation (verdict tokens stripped) and the final
    verdict token, written so the client's own parser reads the final verdict only."""
    decision = final_decision(result)
    source = _source_round(result)
    if source is not None:
        explanation = fmt.strip(source.raw)
    else:
        first = result.rounds[0].verdict.raw if result.rounds else ""
        explanation = fmt.strip(first)
        if explanation.strip():
            explanation = f"{explanation.strip()}\n\n{AGGREGATE_NOTE}"
    return fmt.reply(explanation, decision)


def _label(decision: Parsed) -> str:
    return "tie" if decision.slot is None else "AB"[decision.slot]


def summary(result: Result, match: Match) -> dict[str, Any]:
    """The ``debias`` object of the reply body."""
    detected = sorted({f.bias for r in result.rounds for f in r.findings if f.actionable})
    first = result.rounds[0].verdict if result.rounds else None
    first_label = None
    if first is not None:
        first_label = "tie" if first.tie or first.choice is None else "AB"[first.choice]
    decision = final_decision(result)
    return {
        "status": result.status.value,
        "template": match.template.name,
        "format": match.template.verdict.name,
        "verdict": _label(decision) if result.verdict is not None else None,
        "first_verdict": first_label,
        "changed": result.flipped,
        "biases": detected,
        "flagged": list(result.flagged),
        "stop_reason": result.stop.value,
        "rounds": len(result.rounds),
        "probes": [{"key": p.key, "detector": p.detector, "cached": p.cached,
                    "verdict": None if p.verdict is None else
                    ("tie" if p.verdict.tie or p.verdict.choice is None else "AB"[p.verdict.choice]),
                    "error": p.error} for p in result.probes],
        "findings": [{"round": r.index, "detector": f.detector, "bias": f.bias,
                      "detected": f.detected, "status": f.status, "confidence": f.confidence,
                      "analysis": f.analysis} for r in result.rounds for f in r.findings],
        "calls": result.usage.calls,
        "cached_calls": result.usage.cached_calls,
        "error": result.error,
    }


def headers(result: Result, match: Match) -> dict[str, str]:
    """The ``x-debias-*`` response headers."""
    detected = sorted({f.bias for r in result.rounds for f in r.findings if f.actionable})
    return {
        "x-debias": "debiased",
        "x-debias-status": result.status.value,
        "x-debias-template": match.template.name,
        "x-debias-biases": ",".join(detected) or "none",
        "x-debias-calls": str(result.usage.calls),
        "x-debias-verdict": _label(final_decision(result)),
        "x-debias-changed": "true" if result.flipped else "false",
    }


def _logprobs(fmt: VerdictFormat, result: Result, content: str) -> dict[str, Any] | None:
    """OpenAI ``logprobs`` for one-token label formats: the final preference over labels."""
    if not fmt.labels:
        return None
    v = result.verdict
    n = len(fmt.labels)
    if v is not None and v.probs is not None and len(v.probs) == n:
        probs = list(v.probs)
    elif v is None or v.tie or v.choice is None:
        probs = [1.0 / n] * n
    else:
        probs = [1.0 if k == v.choice else 0.0 for k in range(n)]
    floor = 1e-9
    entries = [{"token": lab, "logprob": math.log(max(p, floor)), "bytes": list(lab.encode())}
               for lab, p in sorted(zip(fmt.labels, probs, strict=True), key=lambda lp: -lp[1])]
    chosen = next((e for e in entries if e["token"] == content), entries[0])
    return {"content": [{**chosen, "top_logprobs": entries}]}


def completion_body(result: Result, match: Match, *, model: str, want_logprobs: bool) -> dict[str, Any]:
    """A ``chat.completion`` body carrying the final verdict and the ``debias`` object."""
    fmt = match.template.verdict
    content = reply_text(result, fmt)
    usage = result.usage
    return {
        "id": f"chatcmpl-debias-{uuid.uuid4().hex[:20]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "logprobs": _logprobs(fmt, result, content) if want_logprobs else None,
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                  "total_tokens": usage.tokens},
        "debias": summary(result, match),
    }


def unparsed_body(text: str, result: Result, match: Match, *, model: str) -> dict[str, Any]:
    """A ``chat.completion`` carrying the upstream's own answer when it named no verdict."""
    usage = result.usage
    return {
        "id": f"chatcmpl-debias-{uuid.uuid4().hex[:20]}", "object": "chat.completion",
        "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                  "total_tokens": usage.tokens},
        "debias": {"status": "error", "template": match.template.name, "verdict": None,
                   "error": result.error, "calls": usage.calls},
    }


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [" ".join(words[k:k + _CHUNK_WORDS]) + (" " if k + _CHUNK_WORDS < len(words) else "")
            for k in range(0, len(words), _CHUNK_WORDS)] or [""]


def sse_chunks(body: dict[str, Any], *, include_usage: bool = False) -> Iterator[bytes]:
    """A completed body as ``chat.completion.chunk`` server-sent events, then ``[DONE]``.

    The content is split into word groups; the last chunk carries ``finish_reason`` and the
    ``debias`` object; with ``include_usage`` (``stream_options``) a usage chunk follows.
    """
    choice = body["choices"][0]
    head = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"],
            "model": body["model"]}

    def event(payload: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()

    yield event({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                      "logprobs": None, "finish_reason": None}]})
    for piece in _pieces(choice["message"]["content"]):
        yield event({**head, "choices": [{"index": 0, "delta": {"content": piece},
                                          "logprobs": choice["logprobs"], "finish_reason": None}]})
    yield event({**head, "choices": [{"index": 0, "delta": {}, "logprobs": None,
                                      "finish_reason": "stop"}], "debias": body["debias"]})
    if include_usage:
        yield event({**head, "choices": [], "usage": body["usage"]})
    yield b"data: [DONE]\n\n"


def error_body(message: str, status: int, kind: str = "invalid_request_error") -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


def is_error(result: Result) -> bool:
    """Whether the result has no verdict to send."""
    return result.status is Status.ERROR or result.verdict is None
