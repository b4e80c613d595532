"""LoRA fine-tuning on a tiny model built in the test (no download)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from debias.errors import ConfigError  # noqa: E402
from detectors.training.card import read_card  # noqa: E402
from detectors.training.config import make_config  # noqa: E402
from detectors.training.encode import IGNORE, encode_example  # noqa: E402
from detectors.training.finetune import LOG, train_lora  # noqa: E402
from detectors.training.modeling import attach_lora, load_adapter  # noqa: E402
from detectors.training.records import TrainExample  # noqa: E402
from detectors.training.tiny_model import tiny_model, tiny_tokenizer  # noqa: E402

LORA = {"rank": 4, "alpha": 8.0, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}


def examples(n: int = 4) -> list[TrainExample]:
    return [TrainExample(id=f"e{k}", bias="position",
                         prompt=f"Does the decision show position bias? Output (a) {k}",
                         label="Yes" if k % 2 else "No",
                         trace="The judge picked the longer answer.") for k in range(n)]


def config(out: Path, **kw: object):  # type: ignore[no-untyped-def]
    values = {"data": "mem", "out": str(out), "max_steps": 2, "grad_accum": 1, "warmup_ratio": 0.0,
              "lr": 5e-2, "save_every": 0, "max_seq_len": 256, **LORA, **kw}
    return make_config(**values)


@pytest.fixture(scope="module")
def tok():  # type: ignore[no-untyped-def]
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def trained(tok, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("adapter")
    model = tiny_model(tok, seed=0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    report = train_lora(model, tok, examples(), config(out), progress=None)
    return model, before, report, out


def test_response_only_masking_on_a_known_example(tok) -> None:  # type: ignore[no-untyped-def]
    ex = examples(1)[0]
    enc = encode_example(tok, ex, max_len=256)
    assert enc is not None and not enc.truncated
    prompt_text = tok.decode(enc.input_ids[: enc.prompt_len])
    assert prompt_text == f"<|im_start|>user\n{ex.prompt}<|im_end|>\n<|im_start|>assistant\n"
    assert enc.labels[: enc.prompt_len] == [IGNORE] * enc.prompt_len
    assert enc.labels[enc.prompt_len:] == enc.input_ids[enc.prompt_len:]
    target = tok.decode([t for t in enc.labels if t != IGNORE])
    assert target == "<think>The judge picked the longer answer.</think>\nNo<|im_end|>"


def test_too_long_prompts_are_cut_in_the_middle_or_dropped(tok) -> None:  # type: ignore[no-untyped-def]
    ex = TrainExample(id="long", prompt="HEAD " + "filler words " * 200 + " TAIL", label="Yes",
                      trace="short reason")
    full = encode_example(tok, ex, max_len=4096)
    cut = encode_example(tok, ex, max_len=96)
    assert full is not None and cut is not None and cut.truncated
    assert len(cut.input_ids) <= 96
    assert cut.input_ids[:10] == full.input_ids[:10]  # the start is kept
    assert cut.input_ids[-cut.target_tokens - 5:] == full.input_ids[-cut.target_tokens - 5:]  # the end too
    assert cut.target_tokens == full.target_tokens  # the response is never cut
    assert "[...]" in tok.decode(cut.input_ids)
    assert encode_example(tok, ex, max_len=96, overflow="drop") is None
    assert encode_example(tok, ex.model_copy(update={"trace": "x " * 300}), max_len=96) is None


def test_two_steps_change_lora_weights_only(trained, tok) -> None:  # type: ignore[no-untyped-def]
    model, before, report, _ = trained
    assert report.steps == 2 and len(report.losses) == 2
    assert all(math.isfinite(x) for x in report.losses)
    params = dict(model.named_parameters())
    lora = {n: p for n, p in params.items() if "lora_" in n}
    assert lora and all(p.requires_grad for p in lora.values())
    # B starts at zero; A starts from the seeded init: both must have moved.
    assert all(p.abs().sum() > 0 for n, p in lora.items() if "lora_B" in n)
    fresh = tiny_model(tok, seed=0)
    torch.manual_seed(0)
    fresh = attach_lora(fresh, **LORA)
    init = dict(fresh.named_parameters())
    moved = [n for n, p in lora.items() if "lora_A" in n
             and not torch.equal(p, next(v for k, v in init.items() if k.endswith(n)))]
    assert moved
    for name, p in params.items():
        if "lora_" in name:
            continue
        original = name.replace(".base_layer", "")
        assert not p.requires_grad
        assert torch.equal(p, before[original]), f"base weight {original} changed"


def test_save_load_generate_round_trip(trained, tok) -> None:  # type: ignore[no-untyped-def]
    model, _, report, out = trained
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    model.eval()
    reloaded = load_adapter(tiny_model(tok, seed=0), out)
    reloaded.eval()
    ids = torch.tensor([encode_example(tok, examples(1)[0], max_len=256).input_ids])
    with torch.no_grad():
        a = model(input_ids=ids).logits
        b = reloaded(input_ids=ids).logits
        base = tiny_model(tok, seed=0)(input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-6, rtol=0)
    assert not torch.allclose(a, base, atol=1e-4)  # the adapter does change the model
    g1 = model.generate(input_ids=ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    g2 = reloaded.generate(input_ids=ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    assert torch.equal(g1, g2) and g1.shape[1] > ids.shape[1]
    card = read_card(out)
    assert card is not None and card["steps"] == 2
    assert card["hyperparameters"]["lr"] == 5e-2 and card["hyperparameters"]["rank"] == 4
    assert len(card["data"]["examples_hash"]) == 64 and card["data"]["train"] == 4
    assert card["metrics"]["final_loss"] == report.final_loss
    assert card["timings"]["s_per_step"] > 0
    assert str(out) in (out / "README.md").read_text()


def test_resume_continues_from_checkpoint_and_skips_finished(tok, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    first = train_lora(tiny_model(tok), tok, examples(), config(out, save_every=1), progress=None)
    assert first.resumed_from == 0 and (out / "checkpoints" / "step-1").is_dir()
    longer = train_lora(tiny_model(tok), tok, examples(), config(out, save_every=1, max_steps=3),
                        progress=None)
    assert longer.resumed_from == 2 and longer.steps == 3 and len(longer.losses) == 1
    steps = [json.loads(line)["step"] for line in (out / LOG).read_text().splitlines()]
    assert steps == [1, 2, 3]
    again = train_lora(tiny_model(tok), tok, examples(), config(out, save_every=1, max_steps=3),
                       progress=None)
    assert again.skipped and again.steps == 3
    with pytest.raises(ConfigError, match="beyond the 2 steps"):
        train_lora(tiny_model(tok), tok, examples(), config(out, save_every=1, max_steps=2),
                   progress=None)
    with pytest.raises(ConfigError, match="different training settings"):
        train_lora(tiny_model(tok), tok, examples(), config(out, save_every=1, max_steps=4, lr=1e-3),
                   progress=None)


def test_unknown_target_module_is_a_clear_error(tok) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as exc:
        attach_lora(tiny_model(tok), rank=4, alpha=8, dropout=0.0, target_modules=["qkv_proj"])
    assert "qkv_proj" in str(exc.value) and "q_proj" in str(exc.value)


def test_no_example_fits_is_a_clear_error(tok, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    long = [examples(1)[0].model_copy(update={"trace": "x " * 400})]
    with pytest.raises(ConfigError, match="max_seq_len=64"):
        train_lora(tiny_model(tok), tok, long, config(tmp_path, max_seq_len=64), progress=None)


@pytest.mark.slow
def test_smollm2_one_step_then_evaluate_with_the_adapter(tmp_path: Path) -> None:
    """Real embedded model: one LoRA step, then the adapter runs as the reasoning detector."""
    from detectors.training.evaluate import adapter_backend, evaluate
    from detectors.training.finetune import finetune

    data = examples(2)
    out = tmp_path / "adapter"
    report = finetune(make_config(data="mem", out=str(out), max_steps=1, grad_accum=1,
                                  max_seq_len=256, device="cpu", save_every=0),
                      examples=data, progress=None)
    assert report.steps == 1 and math.isfinite(report.final_loss or math.nan)
    card = read_card(out)
    assert card is not None and card["base_model"]["dequantized"] is True
    backend = adapter_backend(out, device="cpu")
    from debias.judges.base import Sampling

    result = evaluate(data[:1], backend, tmp_path / "eval.jsonl",
                      sampling=Sampling(temperature=0.0, max_tokens=8), batch_size=1)
    assert result.n == 1 and result.metrics["n"] == 1
