"""A litellm proxy guardrail that debiases judge verdicts (``post_call``).

For teams that already run the litellm proxy: add the guardrail to its ``config.yaml`` and
judge prompts in a known template (MT-Bench, Arena-Hard-Auto, AlpacaEval, judge-debias)
are debiased after the model answered; other requests are left alone. See
``examples/proxy/litellm_config.yaml``::

    guardrails:
      - guardrail_name: judge-debias
        litellm_params:
          guardrail: debias.proxy.litellm_guardrail.DebiasGuardrail
          mode: post_call
          default_on: true
          debias_detectors: position,bandwagon
          debias_max_rounds: 2

How it works: the model's answer to the client's own prompt is the first judgement (no
second call); the probes (swapped order, cue removed) and revision rounds are the
client's prompt re-rendered by :class:`~debias.proxy.judge.TemplateJudge` and sent to the
SAME model group through the proxy's router (so its keys, fallbacks and budgets apply),
or to ``debias_judge`` (any litellm model string, with ``debias_api_base``) when set. The
answer's content is replaced by the final verdict in the template's own format; the
findings travel as ``x-debias-*`` response headers and a ``debias`` field of the body.

Options (``litellm_params``; prefixed ``debias_`` because litellm passes every guardrail
parameter to the class): ``debias_detectors``, ``debias_max_rounds``, ``debias_budget``,
``debias_templates`` (comma-separated names), ``debias_judge``, ``debias_api_base``.

Streamed judge requests are collected, debiased and sent on (the streaming iterator
hook); other streams pass through chunk by chunk.

litellm's proxy needs ``pip install 'litellm[proxy]'``; this module imports only
``litellm.integrations.custom_guardrail`` at import time (the proxy imports it anyway).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

from litellm.integrations.custom_guardrail import CustomGuardrail

from debias.backends.base import ChatBackend, Completion, Message, Sampling
from debias.errors import ConfigError
from debias.loop import DEFAULT_DETECTORS, Debiaser
from debias.proxy.app import BadRequest, judgement_of, sampling_of
from debias.proxy.catalog import default_registry
from debias.proxy.judge import CONTEXT_KEY, ProxyCall, TemplateJudge
from debias.proxy.reply import headers, is_error, reply_text, summary
from debias.retry import Retrier
from debias.types import Item, Usage

logger = logging.getLogger(__name__)
_HEADERS_KEY = "debias_headers"


class RouterBackend:
    """A :class:`~debias.backends.base.ChatBackend` calling a model group of the litellm
    proxy's router (the proxy's deployments, keys and fallbacks apply).

    Args:
        router: The proxy's ``litellm.Router``.
        model: The model group name (the client's ``model``).
    """

    def __init__(self, router: Any, model: str) -> None:
        self.router = router
        self.model = model
        self.name = model
        self._retrier = Retrier(target=f"{model} (litellm proxy router)")

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        raise ConfigError("RouterBackend is async only (the litellm proxy runs an event loop)")

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages,
                                  "temperature": sampling.temperature, "max_tokens": sampling.max_tokens}
        if sampling.logprobs:
            kwargs.update(logprobs=True, top_logprobs=sampling.top_logprobs or 5)
        response = await self._retrier.acall(self.router.acompletion, **kwargs)
        return completion_of(response)


def _delta(chunk: Any) -> Any:
    """The delta of a stream chunk's first choice (None when it has none)."""
    choices = getattr(chunk, "choices", None)
    return getattr(choices[0], "delta", None) if choices else None


def completion_of(response: Any) -> Completion:
    """A litellm ``ModelResponse`` as a :class:`~debias.backends.base.Completion`."""
    from debias.backends.logprob_scoring import top_logprobs_of

    choice = response.choices[0]
    usage = getattr(response, "usage", None)
    return Completion(text=choice.message.content or "", top_logprobs=top_logprobs_of(choice),
                      usage=Usage(calls=1, prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                                  completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0)))


class DebiasGuardrail(CustomGuardrail):
    """litellm ``CustomGuardrail`` debiasing judge verdicts after the call.

    Args:
        debias_detectors: Detector specs by name (default: position, bandwagon,
            verbosity, sentiment; ``none`` for none).
        debias_max_rounds: Revision rounds after the first judgement.
        debias_budget: Extra model calls allowed per request (None: bounded by rounds).
        debias_templates: Comma-separated template names (default: all registered).
        debias_judge: litellm model string for probes instead of the proxy's router.
        debias_api_base: Server URL for ``debias_judge``.
        **kwargs: litellm's guardrail parameters (``guardrail_name``, ``event_hook``,
            ``default_on`` ...), passed to :class:`CustomGuardrail`.
    """

    def __init__(self, *, debias_detectors: str | None = None, debias_max_rounds: int = 2,
                 debias_budget: int | None = None, debias_templates: str | None = None,
                 debias_judge: str | None = None, debias_api_base: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        detectors = ",".join(DEFAULT_DETECTORS) if debias_detectors is None else debias_detectors
        registry = default_registry()
        names = [n.strip() for n in (debias_templates or "").split(",") if n.strip()]
        self.registry = registry.select(names) if names else registry
        self.debiaser = Debiaser(TemplateJudge(name="litellm-proxy"),
                                 [] if detectors.strip() in ("", "none") else detectors,
                                 max_rounds=int(debias_max_rounds))
        self.budget = None if debias_budget is None else int(debias_budget)
        self._judge_backend: ChatBackend | None = None
        if debias_judge:
            from debias.backends.litellm_backend import LiteLLMBackend

            self._judge_backend = LiteLLMBackend(debias_judge, api_base=debias_api_base)

    def _backend(self, data: dict[str, Any]) -> ChatBackend:
        if self._judge_backend is not None:
            return self._judge_backend
        from litellm.proxy import proxy_server

        router = getattr(proxy_server, "llm_router", None)
        if router is None:
            raise ConfigError("the litellm proxy has no router; set debias_judge to a model string")
        return RouterBackend(router, str(data.get("model")))

    async def _debias(self, data: dict[str, Any], first: Completion) -> tuple[Any, Any] | None:
        """(result, match) for a recognised judge request whose model answered ``first``;
        None when the request is not a judgement or no debiased verdict came out."""
        if not isinstance(data.get("messages"), list):
            return None
        match = judgement_of(data, self.registry)
        if match is None:
            return None
        try:
            sampling = sampling_of(data, default_max_tokens=2048)
        except BadRequest:
            return None
        call = ProxyCall(match=match, backend=self._backend(data), sampling=sampling, first=first,
                         budget=self.budget)
        item = Item(id=str(data.get("litellm_call_id") or "judgement"), task="pairwise",
                    instruction=match.instruction, candidates=match.candidates, cue=match.cue,
                    metadata={CONTEXT_KEY: call})
        result = await self.debiaser.ajudge(item)
        if is_error(result):  # the first judgement is the model's own answer: kept as it is
            logger.warning("judge-debias guardrail: no debiased verdict (%s)", result.error)
            return None
        return result, match

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: Any,
                                           response: Any) -> Any:
        """Replace a judge verdict by its debiased one (other responses are returned as is)."""
        if not getattr(response, "choices", None):
            return response
        done = await self._debias(data, completion_of(response))
        if done is None:
            return response
        result, match = done
        response.choices[0].message.content = reply_text(result, match.template.verdict)
        response.debias = summary(result, match)
        hidden = getattr(response, "_hidden_params", None)
        if isinstance(hidden, dict):
            hidden.setdefault("additional_headers", {}).update(headers(result, match))
            hidden[_HEADERS_KEY] = headers(result, match)
        return response

    async def async_post_call_streaming_iterator_hook(self, user_api_key_dict: Any, response: Any,
                                                      request_data: dict) -> AsyncGenerator[Any, None]:
        """Streamed judge requests: the model's stream is collected, debiased, and sent on
        with the final verdict as its content (other streams pass through chunk by chunk)."""
        if not isinstance(request_data.get("messages"), list) or judgement_of(request_data, self.registry) is None:
            async for chunk in response:
                yield chunk
            return
        chunks = [chunk async for chunk in response]
        deltas = [_delta(c) for c in chunks]
        text = "".join(d.content for d in deltas if d is not None and d.content)
        done = await self._debias(request_data, Completion(text=text, usage=Usage(calls=1)))
        if done is not None:
            result, match = done
            final = reply_text(result, match.template.verdict)
            for delta in (d for d in deltas if d is not None and d.content is not None):
                delta.content, final = final, ""
            if chunks:
                chunks[-1].debias = summary(result, match)
        for chunk in chunks:
            yield chunk
    async def async_post_call_response_headers_hook(self, data: dict, user_api_key_dict: Any,
                                                    response: object,
                                                    request_headers: dict[str, str] | None = None,
                                                    litellm_call_info: dict[str, object] | None = None,
                                                    ) -> dict[str, str] | None:
        """The ``x-debias-*`` headers of a debiased response."""
        hidden = getattr(response, "_hidden_params", None)
        found = hidden.get(_HEADERS_KEY) if isinstance(hidden, dict) else None
        return dict(found) if found else None
