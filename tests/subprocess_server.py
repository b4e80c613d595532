"""Waiting for a server started as a subprocess (our proxy, litellm's proxy) to answer."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx
import pytest


def wait_until_healthy(url: str, proc: subprocess.Popen, *, timeout: float, poll: float,
                       output: Callable[[], str]) -> None:
    """Return once ``GET url`` answers 200; fail the test if ``proc`` exits or time runs out.

    Args:
        url: The health endpoint.
        proc: The server process.
        timeout: Seconds to wait at most.
        poll: Seconds between attempts.
        output: What the server printed (read after it is stopped), for the failure message.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=30)
            pytest.fail(f"the server behind {url} did not start:\n{output()[-3000:]}")
        time.sleep(poll)
