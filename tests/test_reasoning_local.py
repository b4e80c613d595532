"""The reasoning detector on a real (tiny) transformers model through LocalLM.

The model is built in the test, nothing is downloaded: a word-level tokenizer made with
the ``tokenizers`` library and a one-layer Llama whose attention and MLP outputs are
zeroed, so the logits depend only on the last token through ``lm_head``. Its weights
encode a bigram table, which makes greedy generation deterministic: after the chat
template's ``<think>`` it writes ``judge </think> Yes`` (or whatever the table says).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from debias.backends import BatchChatBackend, create_backend
from debias.backends.local import LocalBackend
from debias.contract import DetectContext
from debias.judges.base import JudgeRequest
from debias.types import Item, Verdict
from detectors.reasoning.detector import ReasoningDetector
from tests.tiny_lm import Table, build_bigram_model

WORDS = ["<unk>", "<s>", "</s>", "<pad>", "<think>", "</think>", "judge", "Yes", "No", "again"]
YES_TABLE: Table = {"<think>": {"judge": 1.0}, "judge": {"</think>": 1.0},
                    "</think>": {"Yes": 1.0, "No": 0.5}, "Yes": {"</s>": 1.0}, "No": {"</s>": 1.0}}
NO_TABLE: Table = {**YES_TABLE, "</think>": {"No": 1.0, "Yes": 0.2}}
RAMBLE_TABLE: Table = {"<think>": {"judge": 1.0}, "judge": {"again": 1.0}, "again": {"judge": 1.0}}


def build_model(path: Path, table: Table) -> Path:
    """Save a tiny deterministic bigram 'LM' (HF directory) to ``path``."""
    return build_bigram_model(path, table, assistant="<think>", words=WORDS)


def expected_p_first(w_first: float, w_second: float) -> float:
    """P(first | {first, second}) for the bigram model: the final RMSNorm scales the
    one-hot hidden state to sqrt(n), so logits are weight * sqrt(n)."""
    gap = (w_first - w_second) * math.sqrt(len(WORDS))
    return 1.0 / (1.0 + math.exp(-gap))


ITEM = Item(id="bw", task="pairwise", instruction="Name a prime number.",
            candidates=["7 is prime.", "9 is prime."], cue="90% believe that Output (b) is better")
VERDICT = Verdict(judge="tiny-judge", order=[0, 1], choice=1)


def ctx(item: Item = ITEM) -> DetectContext:
    return DetectContext(item=item, request=JudgeRequest(item=item, order=[0, 1]), verdict=VERDICT,
                         mode="offline")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-rbd")
    return {name: build_model(root / name, table)
            for name, table in (("yes", YES_TABLE), ("no", NO_TABLE), ("ramble", RAMBLE_TABLE))}


def test_yes_with_confidence_from_token_scores(models: dict[str, Path]) -> None:
    backend = create_backend(f"local:{models['yes']}", device="cpu")
    assert isinstance(backend, LocalBackend) and isinstance(backend, BatchChatBackend)
    det = ReasoningDetector(backend, cascade="always", max_tokens=8)
    finding = det.detect(ctx(), [])
    assert finding.status == "ok" and finding.detected and finding.bias == "bandwagon"
    assert finding.analysis == "judge"
    checked = finding.evidence.values["checked"][0]
    assert checked["found_in"] == "answer" and checked["confidence_source"] == "option_logprobs"
    assert finding.confidence == pytest.approx(expected_p_first(1.0, 0.5), rel=1e-3)
    assert finding.calls == 2 and finding.usage.calls == 2
    assert finding.usage.prompt_tokens > 0 and finding.usage.completion_tokens == 4


def test_no_and_unparseable(models: dict[str, Path]) -> None:
    no = ReasoningDetector(create_backend(f"local:{models['no']}", device="cpu"),
                           cascade="always", max_tokens=8).detect(ctx(), [])
    assert no.status == "ok" and not no.detected
    assert no.confidence == pytest.approx(expected_p_first(1.0, 0.2), rel=1e-3)
    ramble = ReasoningDetector(create_backend(f"local:{models['ramble']}", device="cpu"),
                               cascade="always", max_tokens=6).detect(ctx(), [])
    assert ramble.status == "error" and "unparseable" in (ramble.reason or "")
    assert ramble.calls == 1 and ramble.evidence.values["output"].startswith("judge again")


def test_batched_detection_equals_one_by_one(models: dict[str, Path]) -> None:
    det = ReasoningDetector(create_backend(f"local:{models['yes']}", device="cpu"),
                            cascade="always", max_tokens=8, batch_size=3)
    items = [ITEM.model_copy(update={"id": str(k), "instruction": "word " * k + "Name a prime."})
             for k in range(5)]
    contexts = [ctx(it) for it in items]
    batched = det.detect_many(contexts)
    single = [det.detect(c, []) for c in contexts]
    assert [f.detected for f in batched] == [True] * 5
    assert [round(f.confidence, 6) for f in batched] == [round(f.confidence, 6) for f in single]
    assert [f.usage.prompt_tokens for f in batched] == [f.usage.prompt_tokens for f in single]


def test_lora_adapter_changes_the_answer(models: dict[str, Path], tmp_path: Path) -> None:
    peft = pytest.importorskip("peft")
    import torch
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(models["yes"])
    lora = peft.get_peft_model(base, peft.LoraConfig(r=1, lora_alpha=1, target_modules=["lm_head"],
                                                      lora_dropout=0.0))
    vocab = {w: i for i, w in enumerate(WORDS)}
    with torch.no_grad():
        layer = lora.base_model.model.lm_head
        a = torch.zeros(1, len(WORDS))
        a[0, vocab["</think>"]] = 1.0
        b = torch.zeros(len(WORDS), 1)
        b[vocab["Yes"], 0], b[vocab["No"], 0] = -1.0, 1.0  # </think>: Yes 1.0 -> 0.0, No 0.5 -> 1.5
        layer.lora_A["default"].weight.copy_(a)
        layer.lora_B["default"].weight.copy_(b)
    lora.save_pretrained(tmp_path / "adapter")
    det = ReasoningDetector(f"local:{models['yes']}", adapter=str(tmp_path / "adapter"),
                            backend_options={"device": "cpu"}, cascade="always", max_tokens=8)
    finding = det.detect(ctx(), [])
    assert finding.status == "ok" and not finding.detected
    assert finding.confidence == pytest.approx(expected_p_first(1.5, 0.0), rel=1e-3)
