"""Run the proxy app with uvicorn: in the foreground (``debias serve``) or in a background
thread on a free loopback port (:class:`ProxyServer`, for tests, benchmarks and notebooks)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from debias.optional import require
from debias.proxy.app import create_app
from debias.proxy.config import ProxyConfig
from debias.proxy.templates import TemplateRegistry


def _uvicorn_config(app: Any, host: str, port: int, log_level: str) -> Any:
    uvicorn = require("uvicorn", "proxy", purpose="debias serve")
    # access logs off: they would record every request line (never keys, but noise)
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                          timeout_keep_alive=30, lifespan="on")


def serve(config: ProxyConfig, *, host: str = "127.0.0.1", port: int = 8000,
          log_level: str = "info", registry: TemplateRegistry | None = None) -> None:
    """Serve the proxy until interrupted."""
    uvicorn = require("uvicorn", "proxy", purpose="debias serve")
    uvicorn.Server(_uvicorn_config(create_app(config, registry=registry), host, port, log_level)).run()


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ProxyServer:
    """The proxy on 127.0.0.1 in a background thread (context manager).

    Args:
        config: Proxy settings.
        host: Interface to bind.
        port: Port (0: a free one).
        registry: Templates (default: built-in ones).
        start_timeout: Seconds to wait for the server to listen.
    """

    def __init__(self, config: ProxyConfig, *, host: str = "127.0.0.1", port: int = 0,
                 registry: TemplateRegistry | None = None, start_timeout: float = 30) -> None:
        self.config = config
        self.host = host
        self.port = port or free_port(host)
        self.app = create_app(config, registry=registry)
        self._start_timeout = start_timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL: ``http://HOST:PORT/v1``."""
        return f"{self.url}/v1"

    def start(self) -> ProxyServer:
        """Start serving; returns once the server listens.

        Raises:
            RuntimeError: The server did not start in time.
        """
        uvicorn = require("uvicorn", "proxy", purpose="debias serve")
        self._server = uvicorn.Server(_uvicorn_config(self.app, self.host, self.port, "warning"))
        self._server.install_signal_handlers = lambda: None  # not the main thread
        self._thread = threading.Thread(target=self._server.run, name=f"debias-proxy-{self.port}",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the proxy did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (closes upstream connections)."""
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server, self._thread = None, None

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
