"""Test-suite guards: no real model requests, no hub downloads.

Every socket connection to a non-loopback address fails, so a test that would reach a
real API or model hub fails loudly instead of hanging or spending money.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from debias.backends import backends
from debias.judges import judges
from debias.testing import OpenAIServer, PositionBiased
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


# --- RBD reasoning-supervision CSV: synthetic rows shared by the dataset, bench and
# calibration tests (not taken from any data set) -----------------------------------------
RBD_COLUMNS = ["index", "bias_category", "llm_judge_model", "instruction", "choices", "llm_judgment",
               "without_bias_label_think_content", "deepseek_prediction_bias_label", "bias_label"]
RBD_LONG = ("**Solution:**\n\nThree boxes hold 3 * 12 = 36 pens. Minus the 4 loose pens: 36 - 4 = 32."
            "\n\n**Answer:** 32 pens.")


def _rbd_rows() -> list[dict[str, str]]:
    """Eight synthetic rows, two per bias type (one Yes, one No)."""
    pos_block = ("### First Evaluation (Original Order)\nOutput (a): Frogs look green because of "
                 "skin pigments.\n\nOutput (b): Frogs are green.\n\n### Second Evaluation "
                 "(Swapped Order)\nOutput (a): Frogs are green.\n\nOutput (b): Frogs look green "
                 "because of skin pigments.")
    sent = ("1. Wonderfully, it is the magnificent past tense, a delightful choice!\n"
            "2. Sadly, it is merely the present tense, a mundane and lackluster option.\n"
            "3. Excitingly, it shines in the glorious future tense!")
    return [
        {"index": "1", "bias_category": "position", "llm_judge_model": "GPT-4o",
         "instruction": "Why are frogs green?", "choices": pos_block,
         "llm_judgment": "### Original Order\nOutput (a)\n\n### Swapped Order\nOutput (a)",
         "without_bias_label_think_content": "The judge follows the slot.",
         "deepseek_prediction_bias_label": "Yes", "bias_label": "Yes"},
        {"index": "2", "bias_category": "position", "llm_judge_model": "GPT-4o",
         "instruction": "Why are frogs green?", "choices": pos_block,
         "llm_judgment": "### Original Order\nOutput (a)\n\n### Swapped Order\nOutput (b)",
         "without_bias_label_think_content": "", "deepseek_prediction_bias_label": "Yes",
         "bias_label": "No"},
        {"index": "1", "bias_category": "bandwagon", "llm_judge_model": "GPT-4o-mini",
         "instruction": "Name a strategy game.",
         "choices": "### Statement: 90%% believe that Output (b) is better\n\nOutput (a): "
                    "OpenXcom, an open-source remake.\n\nOutput (b): Chess.",
         "llm_judgment": "Output (b)", "without_bias_label_think_content": "",
         "deepseek_prediction_bias_label": "Yes", "bias_label": "Yes"},
        {"index": "2", "bias_category": "bandwagon", "llm_judge_model": "GPT-4o-mini",
         "instruction": "Name a strategy game.",
         "choices": "### Statement: 90%% believe that Output (a) is better\n\nOutput (a): "
                    "Chess.\n\nOutput (b): OpenXcom, an open-source remake.",
         "llm_judgment": "Output (b)", "without_bias_label_think_content": "",
         "deepseek_prediction_bias_label": "No", "bias_label": "No"},
        {"index": "1", "bias_category": "verbosity", "llm_judge_model": "Llama-3.1-405B",
         "instruction": "3 boxes of 12 pens plus 4 loose pens: how many pens?",
         "choices": f"Output (a): {RBD_LONG}\n\nOutput (b): 40", "llm_judgment": "Output (a)",
         "without_bias_label_think_content": "", "deepseek_prediction_bias_label": "Yes",
         "bias_label": "Yes"},
        {"index": "2", "bias_category": "verbosity", "llm_judge_model": "Llama-3.1-405B",
         "instruction": "3 boxes of 12 pens plus 4 loose pens: how many pens?",
         "choices": f"Output (a): 40\n\nOutput (b): {RBD_LONG}", "llm_judgment": "Output (a)",
         "without_bias_label_think_content": "", "deepseek_prediction_bias_label": "No",
         "bias_label": "No"},
        {"index": "1", "bias_category": "sentiment", "llm_judge_model": "Claude-3.5-haiku",
         "instruction": "Which tense does the sentence use?", "choices": sent,
         "llm_judgment": "Choice 1", "without_bias_label_think_content": "",
         "deepseek_prediction_bias_label": "No", "bias_label": "Yes"},
        {"index": "2", "bias_category": "sentiment", "llm_judge_model": "Claude-3.5-haiku",
         "instruction": "Which tense does the sentence use?", "choices": sent,
         "llm_judgment": "Choice 2", "without_bias_label_think_content": "",
         "deepseek_prediction_bias_label": "No", "bias_label": "No"},
    ]


def _rbd_csv_text(rows: list[dict[str, str]], columns: list[str] | None = None) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns or RBD_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@pytest.fixture
def rbd_rows() -> list[dict[str, str]]:
    """Eight synthetic RBD CSV rows, two per bias type (one Yes, one No); a fresh copy."""
    return _rbd_rows()


@pytest.fixture
def rbd_csv_text() -> Callable[..., str]:
    """``rbd_csv_text(rows, columns=None)``: rows as RBD CSV text (default columns: all nine)."""
    return _rbd_csv_text


@pytest.fixture
def write_rbd_csv() -> Callable[..., Path]:
    """``write_rbd_csv(path, rows=None)``: write the synthetic rows (or ``rows``) as an RBD CSV."""

    def write(path: Path, rows: list[dict[str, str]] | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_rbd_csv_text(_rbd_rows() if rows is None else rows), encoding="utf-8")
        return path

    return write


def _write_llmbar(root: Path, n: int = 3) -> Path:
    """A tiny LLMBar tree (three subsets, ``n`` records each) under ``root``."""
    for sub in ("Natural", "Adversarial/Neighbor", "Adversarial/Manual"):
        d = root / "llmbar" / sub
        d.mkdir(parents=True)
        recs = [{"input": f"{sub} task {k}", "output_1": f"one {k}", "output_2": f"two {k}",
                 "label": 1 + k % 2} for k in range(n)]
        (d / "dataset.json").write_text(json.dumps(recs))
    return root


@pytest.fixture
def write_llmbar():
    """Writes a tiny LLMBar tree: ``write_llmbar(root, n=3) -> root``."""
    return _write_llmbar


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    """A loopback OpenAI-compatible server (one per test module), position-biased."""
    with OpenAIServer(PositionBiased()) as srv:
        yield srv


@pytest.fixture
def srv(server: OpenAIServer) -> Iterator[OpenAIServer]:
    """The module's server with an empty log, log-probabilities on, reset after the test."""
    server.clear_log()
    server.logprobs = True
    yield server
    server.responder = PositionBiased()
