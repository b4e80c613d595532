"""The litellm chat backend: any litellm model string.

``openai/gpt-4o-mini``, ``anthropic/claude-3-5-haiku-latest``,
``hosted_vllm/Qwen/Qwen2.5-7B-Instruct`` with ``api_base=http://host:8000/v1``,
``ollama/llama3`` ... all go through the same code: litellm resolves the provider, this
module only builds the request, retries transient errors through :mod:`debias.retry`
(litellm's own retries are switched off so nothing is retried twice) and reads text,
log-probabilities, token usage and cost back.

litellm is imported on first use, never at module import. Importing this module
registers the ``litellm`` backend, which also serves every spec without a registered
``NAME:`` prefix: ``create_backend("openai/gpt-4o-mini")`` builds a :class:`LiteLLMBackend`
and ``create_judge("openai/gpt-4o-mini")`` a :class:`~debias.judges.chat.ChatJudge` on one.
"""

from __future__ import annotations

import os
import re
from typing import Any

from debias.backends.base import Completion, Message, Sampling
from debias.backends.factory import backends, reject
from debias.backends.logprob_scoring import (
    TOP_LOGPROBS,
    CompletionOptionScorer,
    get_field,
    score_options,
    top_logprobs_of,
)
from debias.errors import (
    ConfigError,
    FatalModelError,
    JudgeError,
    LogprobsUnavailableError,
    MissingDependencyError,
)
from debias.retry import Retrier, RetryPolicy
from debias.types import Usage

__all__ = ["TOP_LOGPROBS", "LiteLLMBackend", "LogprobsUnavailableError", "import_litellm",
           "litellm_backend", "score_options"]

_CREDENTIAL = re.compile(r"KEY|TOKEN|SECRET|CREDENTIAL")

_RESERVED = {
    "num_retries": "retries are configured with retry=RetryPolicy(...)",
    "max_retries": "retries are configured with retry=RetryPolicy(...)",
    "messages": "messages are given per call",
    "stream": "streaming is not supported by the judge backend",
}



def import_litellm() -> Any:
    """Import litellm on first use.

    litellm's price table is read from its bundled copy unless
    ``LITELLM_LOCAL_MODEL_COST_MAP`` is already set (otherwise litellm fetches it from
    GitHub at import, which stalls for seconds without internet).
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError as exc:  # pragma: no cover - litellm is a core dependency
        raise MissingDependencyError("the litellm judge needs litellm: pip install judge-debias "
                                     "(or pip install litellm)") from exc
    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on errors
    return litellm


class LiteLLMBackend(CompletionOptionScorer):
    """A :class:`~debias.backends.base.ChatBackend` and
    :class:`~debias.backends.base.OptionScorer` for any litellm model string.

    Args:
        model: litellm model string (``openai/gpt-4o-mini``, ``hosted_vllm/<name>``, ...).
        api_base: Server URL (OpenAI-compatible servers, vLLM, Ollama, proxies).
        timeout: Seconds per request before it counts as a (transient) timeout.
        retry: Retry policy for transient errors (default ``RetryPolicy()``).
        prefill: Send the answer prefix as an assistant prefill message
            (``{"role": "assistant", "content": prefix, "prefix": True}``) when scoring
            options, so a 1-token completion lands on the answer token. Only for providers
            that support prefill AND logprobs (e.g. DeepSeek, vLLM); otherwise the prefix
            is not sent and the answer token is found within ``scan_tokens`` tokens.
        scan_tokens: Completion length used to find the answer token without prefill.
        **completion_kwargs: Passed to ``litellm.completion`` on every call (``api_key``,
            ``api_version``, ``extra_headers``, ``drop_params`` ...). Sampling settings
            of each call take precedence.

    Raises:
        ConfigError: Empty model string, a provider litellm does not know, a non-positive
            timeout, or a reserved keyword (``num_retries``/``max_retries``: use ``retry=``).
    """

    judge_mode = "generate"  # the ChatJudge mode that works with every provider

    def __init__(self, model: str, api_base: str | None = None, timeout: float = 60,
                 retry: RetryPolicy | None = None, *, prefill: bool = False,
                 scan_tokens: int = 8, **completion_kwargs: Any) -> None:
        if not isinstance(model, str) or not model.strip() or any(c.isspace() for c in model):
            raise ConfigError(f"model {model!r} is not a litellm model string such as "
                              "'openai/gpt-4o-mini'")
        if not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        if not isinstance(scan_tokens, int) or scan_tokens < 1:
            raise ConfigError(f"scan_tokens must be an integer >= 1, got {scan_tokens!r}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        for key, why in _RESERVED.items():
            if key in completion_kwargs:
                raise ConfigError(f"LiteLLMBackend does not accept {key}=: {why}")
        self.name = model
        self.model = model
        self.api_base = api_base
        self.timeout = float(timeout)
        self.prefill = prefill
        self.scan_tokens = scan_tokens
        self._kwargs = dict(completion_kwargs)
        provider = _provider(model, api_base, completion_kwargs.get("custom_llm_provider"))
        key_env = f"{re.sub(r'[^A-Za-z0-9]', '_', provider).upper()}_API_KEY"
        # keys that must never appear in messages: the explicit one and the provider's env var
        secrets = [str(completion_kwargs.get("api_key") or ""), os.environ.get(key_env, "")]
        target = model + (f" at {api_base}" if api_base else "")
        self._retrier = Retrier(retry, target=target, secrets=secrets, key_env=key_env)

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in use."""
        return self._retrier.policy

    def missing_credentials(self) -> list[str]:
        """The provider's key variables that are unset, as litellm reports them
        (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY`` ...); empty when an ``api_key`` was given
        or the provider needs none (``hosted_vllm``, ``ollama``).

        Only credential variables count (names with KEY, TOKEN, SECRET or CREDENTIAL):
        litellm also lists settings such as ``OLLAMA_API_BASE`` that have defaults.
        """
        if self._kwargs.get("api_key"):
            return []
        litellm = import_litellm()
        try:
            report = litellm.validate_environment(self.model, api_base=self.api_base)
        except Exception:
            return []
        if report.get("keys_in_environment", True):
            return []
        return [k for k in report.get("missing_keys") or [] if _CREDENTIAL.search(str(k))]

    def __repr__(self) -> str:  # never shows completion kwargs (they may hold api_key)
        return (f"LiteLLMBackend(model={self.model!r}, api_base={self.api_base!r}, "
                f"timeout={self.timeout!r})")

    # ------------------------------------------------------------------ requests
    def _request(self, messages: list[Message], sampling: Sampling) -> dict[str, Any]:
        req: dict[str, Any] = {
            **self._kwargs,
            "model": self.model,
            "messages": messages,
            "temperature": sampling.temperature,
            "max_tokens": sampling.max_tokens,
            "timeout": self.timeout,
            "num_retries": 0,  # debias.retry is the only retry loop
            "max_retries": 0,  # ... and the openai client inside litellm must not retry either
        }
        if self.api_base:
            req["api_base"] = self.api_base
        if sampling.logprobs:
            req["logprobs"] = True
            if sampling.top_logprobs:
                req["top_logprobs"] = sampling.top_logprobs
        return req

    def _cost(self, litellm: Any, response: Any) -> float:
        """USD cost from litellm's price table; 0 for models it does not price."""
        hidden = getattr(response, "_hidden_params", None) or {}
        if "response_cost" in hidden:  # litellm already ran completion_cost on this response
            return float(hidden["response_cost"] or 0.0)
        not_mapped = getattr(litellm, "ModelNotMappedError", None) or getattr(
            getattr(litellm, "exceptions", None), "ModelNotMappedError", None)
        if not_mapped is None:  # pragma: no cover - very old litellm
            return 0.0
        try:
            return float(litellm.completion_cost(completion_response=response) or 0.0)
        except not_mapped:
            return 0.0

    def _completion(self, litellm: Any, response: Any) -> Completion:
        choices = get_field(response, "choices") or []
        if not choices:
            raise JudgeError(f"{self.model}: the response has no choices")
        choice = choices[0]
        text = get_field(get_field(choice, "message"), "content") or ""
        usage = get_field(response, "usage")
        return Completion(
            text=text,
            top_logprobs=top_logprobs_of(choice),
            usage=Usage(calls=1,
                        prompt_tokens=int(get_field(usage, "prompt_tokens", 0) or 0),
                        completion_tokens=int(get_field(usage, "completion_tokens", 0) or 0),
                        cost=self._cost(litellm, response)),
        )

    def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Generate a completion (retrying transient errors).

        Raises:
            TransientModelError: Transient errors outlasted the retry policy.
            FatalModelError: Authentication, bad request, unknown model, ...
        """
        litellm = import_litellm()
        response = self._retrier.call(litellm.completion, **self._request(messages, sampling))
        return self._completion(litellm, response)

    async def acomplete(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Async variant of :meth:`complete`."""
        litellm = import_litellm()
        response = await self._retrier.acall(litellm.acompletion,
                                             **self._request(messages, sampling))
        return self._completion(litellm, response)

    def _logprobs_refused(self, exc: FatalModelError) -> JudgeError:
        return _unsupported(exc)


def _provider(model: str, api_base: str | None, custom: str | None) -> str:
    """The litellm provider of ``model`` (imports litellm), or a ConfigError naming the model."""
    litellm = import_litellm()
    try:
        return str(litellm.get_llm_provider(model, custom_llm_provider=custom,
                                            api_base=api_base)[1])
    except Exception as exc:  # litellm raises BadRequestError for unknown providers
        if not isinstance(exc, getattr(litellm, "BadRequestError", ())) and not isinstance(exc, ValueError):
            raise
        raise ConfigError(
            f"model {model!r}: litellm cannot tell its provider; prefix the model with one, e.g. "
            f"'openai/{model}' (any OpenAI-compatible server, with api_base), "
            f"'hosted_vllm/{model}', 'ollama/{model}', 'anthropic/{model}'") from None


def _unsupported(exc: FatalModelError) -> JudgeError:
    """litellm refusing the logprobs parameters means: no logprobs for this provider."""
    if getattr(exc, "error_type", "") == "UnsupportedParamsError":
        return LogprobsUnavailableError(f"{exc} (logprobs are not supported; use mode='generate')")
    return exc


@backends.register("litellm")
def litellm_backend(spec: str | None, *, adapter: str | None = None,
                    api_base: str | None = None, **options: Any) -> LiteLLMBackend:
    """Backend factory for litellm model strings (``openai/gpt-4o-mini``) and ``litellm:MODEL``.

    Every keyword (``timeout``, ``retry``, ``api_key``, ``prefill`` ...) goes to
    :class:`LiteLLMBackend`.

    Raises:
        ConfigError: No model, or an ``adapter`` (LoRA adapters need a local backend).
    """
    if not spec:
        raise ConfigError("the litellm backend needs a model: 'litellm:openai/gpt-4o-mini' or "
                          "just 'openai/gpt-4o-mini'")
    reject(f"model {spec!r}", adapter=(adapter, "needs a local backend ('local:/path'); a "
                                       "remote model must have the adapter merged or served"))
    return LiteLLMBackend(spec, api_base=api_base, **options)
