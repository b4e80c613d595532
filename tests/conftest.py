"""Test-suite guards: no real model requests, no hub downloads.

Every socket connection to a non-loopback address fails, so a test that would reach a
real API or model hub fails loudly instead of hanging or spending money.
"""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

from debias.backends import backends
from debias.judges import judges
from debias.testing.backend import scripted_backend
from debias.testing.judge import scripted_judge

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The scripted test doubles register through entry points (pyproject); an install made
# before they were declared lacks them, so the suite adds them the decorator way.
for _registry, _factory in ((judges, scripted_judge), (backends, scripted_backend)):
    if "scripted" not in _registry:
        _registry.add("scripted", _factory)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: object) -> bool:
    if isinstance(address, str | bytes):  # unix socket path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(real):  # type: ignore[no-untyped-def]
    def connect(self, address):  # type: ignore[no-untyped-def]
        if not _is_local(address):
            raise OSError(f"tests may not connect to {address!r}: only servers started on "
                          "127.0.0.1 inside the test are allowed")
        return real(self, address)

    return connect


@pytest.fixture(autouse=True)
def _no_external_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))
