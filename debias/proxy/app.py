"""The OpenAI-compatible HTTP app: ``POST /v1/chat/completions``, ``GET /v1/models``,
``GET /health`` (and ``GET /v1/templates``).

A chat that a registered template recognises is debiased: the :class:`~debias.loop.Debiaser`
runs around a :class:`~debias.proxy.judge.TemplateJudge`, and the reply carries the final
verdict in the template's own format, with ``x-debias-*`` headers and a ``debias`` object.
Anything else passes through to the upstream unchanged (``x-debias: passthrough``),
streamed or not. FastAPI is imported lazily (extra ``judge-debias[proxy]``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from debias.backends.base import Sampling
from debias.errors import BiasDetectedError, ConfigError, VerdictParseError
from debias.loop import Debiaser
from debias.optional import require
from debias.proxy.catalog import default_registry
from debias.proxy.config import ProxyConfig
from debias.proxy.judge import CONTEXT_KEY, ProxyCall, TemplateJudge
from debias.proxy.reply import (
    completion_body,
    error_body,
    headers,
    is_error,
    sse_chunks,
    unparsed_body,
)
from debias.proxy.templates import Match, TemplateRegistry
from debias.proxy.upstream import Upstream, UpstreamError, upstream_error
from debias.retry import RetryPolicy
from debias.types import Item

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response

logger = logging.getLogger(__name__)
CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
#: Request fields that make a chat something other than one plain judgement.
_NOT_A_JUDGEMENT = ("tools", "functions", "tool_choice", "function_call", "response_format")


class BadRequest(Exception):
    """A client request the proxy cannot read (answered with HTTP 400)."""


def read_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a chat-completions request.

    Raises:
        BadRequest: Not JSON, not an object, or no non-empty ``messages`` list of objects.
    """
    try:
        body = json.loads(raw or b"")
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON ({exc.msg} at line {exc.lineno} "
                         f"column {exc.colno})") from None
    except ValueError as exc:  # not UTF-8/16/32
        raise BadRequest(f"the request body is not valid JSON text ({exc})") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a JSON object, got {type(body).__name__}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("the request needs 'messages': a non-empty list of chat messages")
    for k, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise BadRequest(f"messages[{k}] must be an object with a 'role'")
    return body


def sampling_of(body: dict[str, Any], default_max_tokens: int) -> Sampling:
    """The client's sampling settings for upstream calls.

    Raises:
        BadRequest: A setting out of range (the message names it).
    """
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    temperature = body.get("temperature")
    top = body.get("top_logprobs") or 0
    try:
        return Sampling(temperature=0.0 if temperature is None else temperature,
                        max_tokens=max_tokens, logprobs=bool(body.get("logprobs")),
                        top_logprobs=max(int(top), 5 if body.get("logprobs") else 0))
    except (ValidationError, TypeError, ValueError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": ("?",), "msg": str(exc)}
        raise BadRequest(f"invalid sampling setting {first['loc'][0]!r}: {first['msg']}") from None


def judgement_of(body: dict[str, Any], registry: TemplateRegistry) -> Match | None:
    """The recognised judge prompt of a request, or None to pass it through."""
    if any(body.get(k) for k in _NOT_A_JUDGEMENT) or (body.get("n") or 1) != 1:
        return None
    return registry.match(body["messages"])


class ProxyService:
    """The proxy's request handling, independent of the web framework.

    Args:
        config: The proxy settings.
        registry: Templates to recognise (default: the built-in ones and plugins').
        upstream: The upstream (default: built from ``config``).
    """

    def __init__(self, config: ProxyConfig, *, registry: TemplateRegistry | None = None,
                 upstream: Upstream | None = None) -> None:
        registry = registry if registry is not None else default_registry()
        self.registry = registry.select(config.templates) if config.templates else registry
        self.config = config
        cache = None
        if config.cache_dir is not None:
            from debias.cache import CallCache

            cache = CallCache(config.cache_dir / "proxy_calls.sqlite")
        self.upstream = upstream or Upstream(
            config.judge, api_base=config.api_base, api_key_env=config.api_key_env,
            forward_auth=config.forward_auth, timeout=config.timeout, cache=cache,
            retry=RetryPolicy(max_attempts=config.max_attempts, initial_wait=config.initial_wait,
                              max_wait=max(config.max_wait, config.initial_wait)))
        self.debiaser = Debiaser(TemplateJudge(name=self.upstream.model), config.detectors or [],
                                 max_rounds=config.max_rounds)

    async def debias(self, body: dict[str, Any], match: Match,
                     authorization: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Debias one recognised judgement: (status, body, headers).

        Raises:
            BadRequest: Invalid sampling settings.
            UpstreamError: The upstream failed on the client's own prompt.
        """
        sampling = sampling_of(body, self.config.default_max_tokens)
        backend, _ = self.upstream.resolve(authorization)
        call = ProxyCall(match=match, backend=backend, sampling=sampling, budget=self.config.budget)
        item = Item(id=f"req-{uuid.uuid4().hex[:16]}", task="pairwise", instruction=match.instruction,
                    candidates=match.candidates, cue=match.cue, metadata={CONTEXT_KEY: call})
        result = await self.debiaser.ajudge(item)
        if is_error(result):
            if isinstance(call.error, VerdictParseError) or call.error is None:
                # the upstream answered but named no verdict: its answer goes back unchanged
                # (the client's own parser and re-ask logic decide), marked as not debiased
                text = call.error.text if isinstance(call.error, VerdictParseError) else ""
                return 200, unparsed_body(text, result, match, model=self.upstream.model), {
                    "x-debias": "debiased", "x-debias-status": "error",
                    "x-debias-template": match.template.name}
            raise upstream_error(call.error, [])
        out = completion_body(result, match, model=self.upstream.model,
                              want_logprobs=bool(body.get("logprobs")))
        return 200, out, headers(result, match)

    async def aclose(self) -> None:
        """Close upstream connections."""
        await self.upstream.aclose()


def create_app(config: ProxyConfig, *, registry: TemplateRegistry | None = None,
               upstream: Upstream | None = None) -> FastAPI:
    """The FastAPI app of the proxy.

    Raises:
        MissingDependencyError: FastAPI is not installed.
        ConfigError: Bad settings (unknown template or detector, bad judge spec).
    """
    fastapi = require("fastapi", "proxy", purpose="debias serve")
    from fastapi.responses import JSONResponse, StreamingResponse

    service = ProxyService(config, registry=registry, upstream=upstream)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        await service.aclose()

    app = fastapi.FastAPI(title="judge-debias proxy", lifespan=lifespan, docs_url=None,
                          redoc_url=None, openapi_url=None)
    app.state.service = service

    def error(status: int, message: str, kind: str, extra: dict[str, str] | None = None) -> Response:
        return JSONResponse(error_body(message, status, kind), status_code=status,
                            headers={"x-debias": "error", **(extra or {})})

    async def chat(request: Request) -> Response:
        try:
            body = read_body(await request.body())
        except BadRequest as exc:
            return error(400, str(exc), "invalid_request_error")
        authorization = request.headers.get("authorization")
        stream = bool(body.get("stream"))
        match = judgement_of(body, service.registry)
        try:
            if match is None:
                _, forwarder = service.upstream.resolve(authorization)
                got = await forwarder.forward(body)
                if got.stream is not None:
                    return StreamingResponse(got.stream, status_code=got.status,
                                             media_type="text/event-stream",
                                             headers={"x-debias": "passthrough"})
                return JSONResponse(got.body, status_code=got.status, headers={"x-debias": "passthrough"})
            status, out, hdrs = await service.debias(body, match, authorization)
        except BadRequest as exc:
            return error(400, str(exc), "invalid_request_error")
        except UpstreamError as exc:
            logger.info("upstream error %d: %s", exc.status, exc.message)
            kind = "upstream_error" if exc.status >= 500 or exc.status == 429 else "invalid_request_error"
            return error(exc.status, exc.message, kind,
                         {"x-debias-status": "error"} if match is not None else {"x-debias": "passthrough"})
        except ConfigError as exc:
            return error(400, str(exc), "invalid_request_error")
        except BiasDetectedError as exc:  # a detector with policy 'raise' found bias
            biases = ",".join(sorted({f.bias for f in exc.findings})) or "unknown"
            return error(422, f"judge-debias refused the verdict: {exc}", "bias_detected",
                         {"x-debias-status": "raised", "x-debias-biases": biases})
        if stream:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(iter(list(sse_chunks(out, include_usage=include_usage))),
                                     status_code=status, media_type="text/event-stream", headers=hdrs)
        return JSONResponse(out, status_code=status, headers=hdrs)

    # plain request -> response endpoints (no FastAPI parameter injection or validation)
    for path in CHAT_PATHS:
        app.add_route(path, chat, methods=["POST"])

    async def models(_request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": service.upstream.model, "object": "model", "owned_by": "judge-debias"}]})

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "judge": service.upstream.model,
                             "templates": service.registry.names(), "detectors": config.detectors,
                             "max_rounds": config.max_rounds})

    async def templates(_request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"name": t.name, "format": t.verdict.name, "description": t.description,
             "source": t.source} for t in service.registry]})

    app.add_route("/v1/models", models, methods=["GET"])
    app.add_route("/models", models, methods=["GET"])
    app.add_route("/health", health, methods=["GET"])
    app.add_route("/v1/templates", templates, methods=["GET"])
    return app
