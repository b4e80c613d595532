"""``python -m debias.testing``: run the loopback OpenAI-compatible server."""

from debias.testing.openai_server import main

raise SystemExit(main())
