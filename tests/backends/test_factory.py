"""The backend and judge registries: specs, defaults, option routing, errors, extension."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from debias.backends import backends, create_backend
from debias.backends.litellm_backend import LiteLLMBackend
from debias.backends.openai_compat import OpenAICompatBackend
from debias.errors import ConfigError
from debias.judges import ChatJudge, JudgeRequest, create_judge, judges
from debias.registry import Registry
from debias.testing import ScriptedBackend, ScriptedJudge
from debias.types import Item

PAIR = Item(id="p", task="pairwise", instruction="Pick one.", candidates=["x", "y"])


@pytest.fixture
def fake_local(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The local factory with model loading and fetching replaced (records what it loads)."""
    local = importlib.import_module("debias.backends.local")
    made: list[tuple[Any, ...]] = []

    class FakeLM:
        def __init__(self, spec: Any) -> None:
            made.append((spec.path, spec.gguf_file, spec.adapter, spec.device))
            self.name = spec.display_name
            self.device = spec.device
            self.load_seconds = 0.0

    monkeypatch.setattr(local, "LocalLM", FakeLM)
    monkeypatch.setattr(local, "resolve_local_spec",
                        lambda spec, **kw: spec or "/cache/smollm2/SmolLM2.gguf")
    return made


def test_specs_reach_their_factories(fake_local: list[tuple[Any, ...]]) -> None:
    assert isinstance(create_backend("openai/gpt-4o-mini"), LiteLLMBackend)
    explicit = create_backend("litellm:hosted_vllm/org/m", api_base="http://127.0.0.1:9/v1")
    assert isinstance(explicit, LiteLLMBackend) and explicit.model == "hosted_vllm/org/m"
    assert explicit.api_base == "http://127.0.0.1:9/v1"
    ollama = create_backend("ollama/llama3:8b")  # a colon inside a litellm model string
    assert isinstance(ollama, LiteLLMBackend) and ollama.model == "ollama/llama3:8b"
    compat = create_backend("openai-compat:Qwen/Qwen2.5-7B", api_base="http://127.0.0.1:9/v1")
    assert isinstance(compat, OpenAICompatBackend) and compat.model == "Qwen/Qwen2.5-7B"
    scripted = create_backend("scripted:Output (b)")
    assert isinstance(scripted, ScriptedBackend)
    embedded = create_backend("local", progress=None)
    assert embedded.name == "local/smollm2"
    create_backend("local:/models/rbd.gguf", adapter="/adapters/lora", device="cpu",
                   progress=None)
    assert fake_local == [("/cache/smollm2", "SmolLM2.gguf", None, "auto"),
                          ("/models", "rbd.gguf", "/adapters/lora", "cpu")]
    assert {"litellm", "local", "openai-compat", "scripted"} <= set(backends.names())


@pytest.mark.parametrize(("spec", "options", "match"), [
    (" ", {}, "backend spec ' ' is empty"),
    ("openai/gpt-4o-mini", {"adapter": "/a"}, "needs a local backend"),
    ("openai-compat:m", {"adapter": "/a", "api_base": "http://127.0.0.1:9/v1"},
     "needs a local backend"),
    ("local", {"api_base": "http://127.0.0.1:1"}, "not to 'local'"),
    ("local:/m.gguf", {"device": "tpu"}, "device 'tpu'"),
    ("litellm", {}, "needs a model"),
    ("scripted", {}, "exactly one of"),
    ("scripted:x", {"api_base": "http://127.0.0.1:9"}, "remote backends"),
])
def test_bad_specs_and_options_are_config_errors(spec: str, options: dict[str, Any], match: str,
                                                 fake_local: list[tuple[Any, ...]]) -> None:
    with pytest.raises(ConfigError, match=match):
        create_backend(spec, progress=None, **options) if spec.startswith("local") else \
            create_backend(spec, **options)
    assert fake_local == []  # nothing was loaded for a rejected spec


def test_judge_specs_route_options_and_pick_the_backend_mode(
        fake_local: list[tuple[Any, ...]]) -> None:
    api = create_judge("openai/gpt-4o-mini", max_reasks=1, timeout=7)
    assert isinstance(api, ChatJudge) and api.mode == "generate" and api.max_reasks == 1
    assert isinstance(api.backend, LiteLLMBackend) and api.backend.timeout == 7
    local = create_judge("local", progress=None)
    assert isinstance(local, ChatJudge) and local.mode == "auto"  # option scoring locally
    forced = create_judge("local", mode="generate", name="mine", progress=None)
    assert isinstance(forced, ChatJudge) and forced.mode == "generate" and forced.name == "mine"
    scripted = create_judge("scripted:position=1")
    assert isinstance(scripted, ScriptedJudge) and scripted.biases.position == 1
    assert isinstance(create_judge("scripted"), ScriptedJudge)  # a registered judge wins the name
    with pytest.raises(ConfigError, match="scripted judge option 'bogus=1'"):
        create_judge("scripted:bogus=1")
    with pytest.raises(TypeError, match="temprature"):  # an option no one takes is not dropped
        create_judge("local", progress=None, temprature=0.2)


def test_third_parties_extend_both_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    for registry in (backends, judges):  # restore the registries after the test
        monkeypatch.setattr(registry, "_factories", dict(registry._factories))

    @backends.register("echo")
    def echo(rest: str | None, **options: Any) -> ScriptedBackend:
        return ScriptedBackend(lambda m: rest or "Output (a)", name=f"echo:{rest}")

    @judges.register("always-b")
    def always_b(rest: str | None, **options: Any) -> ScriptedJudge:
        return ScriptedJudge(position=1.0, position_slot=1, name="always-b")

    judge = create_judge("echo:Output (b)")
    assert isinstance(judge, ChatJudge) and judge.name == "echo:Output (b)"
    assert judge.judge(JudgeRequest.first(PAIR)).choice == 1
    assert create_judge("always-b").judge(JudgeRequest.first(PAIR)).choice == 1
    assert "echo" in backends.names() and "always-b" in judges.names()


def test_registries_are_generic_registries_with_entry_point_groups() -> None:
    assert isinstance(backends, Registry) and backends.group == "judge_debias.backends"
    assert isinstance(judges, Registry) and judges.group == "judge_debias.judges"
