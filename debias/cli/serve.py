"""``debias serve``: a debiasing OpenAI-compatible proxy in front of a judge API."""

from __future__ import annotations

import argparse
from pathlib import Path

from debias.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve", help="serve an OpenAI-compatible proxy that debiases judge prompts",
        description="Serve POST /v1/chat/completions, GET /v1/models and GET /health. Judge "
        "prompts in a known template (MT-Bench, Arena-Hard-Auto, AlpacaEval, judge-debias) are "
        "debiased and answered in their own verdict format; anything else passes through to "
        "the upstream. Clients change only their base URL.")
    p.add_argument("--judge", required=True,
                   help="upstream model: 'openai-compat:MODEL' (with --api-base) or any litellm "
                   "model string, e.g. openai/gpt-4o-mini")
    p.add_argument("--api-base", default=None, help="upstream server URL, e.g. https://api.openai.com/v1")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the upstream key (openai-compat; litellm "
                   "models read their provider's variable); default OPENAI_API_KEY")
    p.add_argument("--forward-auth", action="store_true",
                   help="use each client's 'Authorization: Bearer KEY' as the upstream key")
    p.add_argument("--detectors", default="position,bandwagon,verbosity,sentiment",
                   help="detector specs by name, e.g. 'position,bandwagon:policy=flag' ('none': off)")
    p.add_argument("--max-rounds", type=int, default=2, help="revision rounds after the first judgement")
    p.add_argument("--budget", type=int, default=None,
                   help="upstream calls allowed per client request (default: bounded by --max-rounds)")
    p.add_argument("--templates", default=None,
                   help="comma-separated template names to recognise (default: all; see GET /v1/templates)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per upstream call")
    p.add_argument("--max-attempts", type=int, default=4,
                   help="attempts per upstream call on 429/5xx/timeouts (default 4)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="cache upstream judgement calls on disk here (never keyed by the API key)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from debias.proxy.config import ProxyConfig
    from debias.proxy.server import serve

    try:
        config = ProxyConfig(
            judge=args.judge, api_base=args.api_base, api_key_env=args.api_key_env or None,
            forward_auth=args.forward_auth, detectors=args.detectors, max_rounds=args.max_rounds,
            budget=args.budget, timeout=args.timeout, max_attempts=args.max_attempts,
            templates=[t.strip() for t in args.templates.split(",") if t.strip()] if args.templates else None,
            cache_dir=args.cache_dir)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg']}") from None
    print(f"debias serve: judging with {config.judge} on http://{args.host}:{args.port}/v1 "
          f"(detectors: {config.detectors or 'none'})", flush=True)
    serve(config, host=args.host, port=args.port, log_level=args.log_level)
    return 0
