"""LocalLM, LocalModelPool, LocalBackend and the local judge on a tiny model built in the test.

The model is a 2-layer Llama with hidden size 16 and random weights; the tokenizer is a
byte-level BPE trained here on a few strings (so ``" a"`` and ``"a"`` are different tokens),
with a ChatML chat template. Nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from debias.backends import Sampling, create_backend  # noqa: E402
from debias.backends.local import LocalBackend  # noqa: E402
from debias.backends.local_lm import LocalLM, LocalLMSpec, LocalModelPool, convert_gguf  # noqa: E402
from debias.errors import ConfigError, FatalModelError, MissingDependencyError  # noqa: E402
from debias.judges import ChatJudge, JudgeRequest, create_judge  # noqa: E402
from debias.types import Item  # noqa: E402
from tests.tiny_lm import CHATML, MSGS, build_tokenizer, save_model, write_tiny_gguf  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-llama")
    tok = build_tokenizer(CHATML)
    vocab = tok.get_vocab()
    for needed in ("Ġa", "Ġb", "Ġ1", "Ġ2"):
        assert needed in vocab, f"test tokenizer lacks the merge {needed!r}"
    assert "Ġ%" not in vocab
    save_model(directory, tok)
    return directory


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of model with a tokenizer that has no chat template."""
    directory = tmp_path_factory.mktemp("tiny-llama-plain")
    save_model(directory, build_tokenizer(None), seed=1)
    return directory


@pytest.fixture(scope="module")
def adapter_dir(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from peft import LoraConfig, get_peft_model

    directory = tmp_path_factory.mktemp("lora")
    base = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    torch.manual_seed(3)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=16, init_lora_weights=False,
                                                 target_modules=["q_proj", "v_proj"]))
    peft_model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def gguf_file(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gguf")
    return write_tiny_gguf(model_dir, tmp_path_factory.mktemp("gguf") / "tiny.F32.gguf")


@pytest.fixture(scope="module")
def lm(model_dir: Path) -> LocalLM:
    return LocalLM(model_dir, device="cpu")


def _manual_logprobs(model_dir: Path, text: str, special: bool = False,
                     adapter: Path | None = None) -> tuple[list[int], torch.Tensor]:
    """Token ids of ``text`` and log_softmax at every position, computed independently."""
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    ids = tok(text, add_special_tokens=special)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    return ids, torch.log_softmax(logits.float(), dim=-1)


# ----------------------------------------------------------------------------- option scoring


def test_option_logprobs_equal_manual_log_softmax(lm: LocalLM, model_dir: Path) -> None:
    lps, usage = lm.option_logprobs(MSGS, "Output (", ["a", "b"])
    text = lm.render(MSGS) + "Output ("
    assert text.endswith("<|im_start|>assistant\nOutput (")
    ids, logp = _manual_logprobs(model_dir, text)
    tok = lm.tokenizer
    expected = [float(logp[-1, tok.convert_tokens_to_ids(t)]) for t in ("a", "b")]
    assert lps == pytest.approx(expected, abs=1e-5)
    assert usage.calls == 1 and usage.prompt_tokens == len(ids)
    assert 0 < sum(math.exp(x) for x in lps) <= 1 + 1e-6


def test_trailing_space_prefix_scores_the_space_letter_token(lm: LocalLM, model_dir: Path) -> None:
    # "Choice " + "1" tokenizes as ["Choice", "Ġ1"]: the option token is "Ġ1", predicted
    # from the context before the trailing space -- the same as prefix "Choice" + " 1".
    merged, _ = lm.option_logprobs(MSGS, "Choice ", ["1", "2"])
    explicit, _ = lm.option_logprobs(MSGS, "Choice", [" 1", " 2"])
    assert merged == pytest.approx(explicit, abs=1e-6)
    _, logp = _manual_logprobs(model_dir, lm.render(MSGS) + "Choice")
    tok = lm.tokenizer
    expected = [float(logp[-1, tok.convert_tokens_to_ids(t)]) for t in ("Ġ1", "Ġ2")]
    assert merged == pytest.approx(expected, abs=1e-5)
    # scoring the bare "1" token after a trailing-space token would give something else
    _, logp_space = _manual_logprobs(model_dir, lm.render(MSGS) + "Choice ")
    wrong = float(logp_space[-1, tok.convert_tokens_to_ids("1")])
    assert abs(merged[0] - wrong) > 1e-3


def test_mixed_boundaries_are_scored_from_a_common_position(lm: LocalLM, model_dir: Path) -> None:
    # After "Answer: ", option "a" merges with the space ("Ġa") but "%" does not
    # ("Ġ", "%"): "%" must include the probability of the space token itself.
    lps, _ = lm.option_logprobs(MSGS, "Answer: ", ["a", "%"])
    tok = lm.tokenizer
    ids, logp = _manual_logprobs(model_dir, lm.render(MSGS) + "Answer: ")
    assert tok.convert_ids_to_tokens(ids[-1]) == "Ġ"
    lp_a = float(logp[-2, tok.convert_tokens_to_ids("Ġa")])
    lp_pct = float(logp[-2, ids[-1]]) + float(logp[-1, tok.convert_tokens_to_ids("%")])
    assert lps == pytest.approx([lp_a, lp_pct], abs=1e-5)
    assert sum(math.exp(x) for x in lps) <= 1 + 1e-6


def test_option_scores_match_generation_first_token(lm: LocalLM) -> None:
    gen = lm.generate([MSGS], max_new_tokens=1, top_logprobs=3)[0]
    assert gen.top_logprobs is not None and len(gen.top_logprobs) == 1
    tops = gen.top_logprobs[0]
    assert len(tops) == 3 and list(tops.values()) == sorted(tops.values(), reverse=True)
    tok = lm.tokenizer
    for text, lp in tops.items():
        if len(tok(text, add_special_tokens=False)["input_ids"]) == 1 and not text.isspace():
            scored, _ = lm.option_logprobs(MSGS, "", [text])
            assert scored[0] == pytest.approx(lp, abs=1e-4)
            break
    else:
        pytest.fail(f"no single-token candidate among {tops}")


def test_option_errors(lm: LocalLM) -> None:
    with pytest.raises(ConfigError, match="same token"):
        lm.option_logprobs(MSGS, "Choice ", ["1", "1 or 2"])
    with pytest.raises(ConfigError, match="non-empty"):
        lm.option_logprobs(MSGS, "Output (", ["a", ""])
    with pytest.raises(ConfigError, match="options must not be empty"):
        lm.option_logprobs(MSGS, "Output (", [])
    with pytest.raises(ConfigError, match="messages"):
        lm.option_logprobs([], "Output (", ["a", "b"])
    long = [{"role": "user", "content": "the cat sat " * 1000}]
    with pytest.raises(FatalModelError, match="context window"):
        lm.option_logprobs(long, "Output (", ["a", "b"])


# ----------------------------------------------------------------------------- GGUF


def test_gguf_file_loads_like_the_hf_model(lm: LocalLM, gguf_file: Path) -> None:
    g = LocalLM(gguf_file, device="cpu")
    assert g.spec.gguf_file == gguf_file.name and g.name == "tiny.F32"
    assert g.render(MSGS) == lm.render(MSGS)
    assert g.option_logprobs(MSGS, "Choice ", ["1", "2"])[0] == \
        pytest.approx(lm.option_logprobs(MSGS, "Choice ", ["1", "2"])[0], abs=1e-5)
    assert [x.text for x in g.generate(CONVS[:2], max_new_tokens=5)] == \
        [x.text for x in lm.generate(CONVS[:2], max_new_tokens=5)]


def test_convert_gguf_writes_a_fast_loading_copy(lm: LocalLM, gguf_file: Path, tmp_path: Path) -> None:
    out = convert_gguf(gguf_file, tmp_path / "hf")
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert "quantization_config" not in (out / "config.json").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["hf"]  # no partial directories left
    assert (out.stat().st_mode & 0o077) != 0  # made with the umask, not mkdtemp's 0700
    copy = LocalLM(out, device="cpu")
    assert copy.option_logprobs(MSGS, "Output (", ["a", "b"])[0] == \
        pytest.approx(lm.option_logprobs(MSGS, "Output (", ["a", "b"])[0], abs=1e-5)
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert convert_gguf(gguf_file, out) == out  # already there: nothing rewritten
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="GGUF file not found"):
        convert_gguf(tmp_path / "missing.gguf", tmp_path / "other")


# ----------------------------------------------------------------------------- generation


CONVS = [
    [{"role": "user", "content": "hello"}],
    MSGS,
    [{"role": "user", "content": "the cat sat on the mat and the dog ran, which is better?"}],
    [{"role": "user", "content": "Choice 1 or Choice 2"}],
]


def test_batched_generation_equals_one_by_one(lm: LocalLM) -> None:
    batched = lm.generate(CONVS, max_new_tokens=6, batch_size=4)
    single = [lm.generate([c], max_new_tokens=6)[0] for c in CONVS]
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.completion_tokens for g in batched] == [g.completion_tokens for g in single]
    for conv, g in zip(CONVS, batched, strict=True):
        ids = lm.tokenizer(lm.render(conv), add_special_tokens=False)["input_ids"]
        assert g.prompt_tokens == len(ids)
        assert 1 <= g.completion_tokens <= 6
    # batches of 3 + 1 in length order give the same as one batch of 4
    assert [g.text for g in lm.generate(CONVS, max_new_tokens=6, batch_size=3)] == \
        [g.text for g in batched]


def test_generation_stops_at_eos_and_counts_tokens(lm: LocalLM, monkeypatch: pytest.MonkeyPatch) -> None:
    tok = lm.tokenizer
    eos = tok.eos_token_id
    word = tok("cat", add_special_tokens=False)["input_ids"]
    seen: dict[str, object] = {}

    def fake_generate(input_ids, attention_mask, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(kwargs, width=input_ids.shape[1], mask=attention_mask.tolist())
        rows = [word + [eos] * (2 * len(word)), word * 3]  # stops / runs to the limit
        new = torch.tensor([r[:3 * len(word)] for r in rows])
        return SimpleNamespace(sequences=torch.cat([input_ids, new], dim=1))

    monkeypatch.setattr(lm._base.model, "generate", fake_generate)
    convs = [[{"role": "user", "content": "hi"}], MSGS]
    out = lm.generate(convs, max_new_tokens=3 * len(word), batch_size=2)
    assert [g.text for g in out] == ["cat", "catcatcat"]
    assert [g.finish_reason for g in out] == ["stop", "length"]
    assert [g.completion_tokens for g in out] == [len(word) + 1, 3 * len(word)]
    assert seen["do_sample"] is False and seen["pad_token_id"] == tok.pad_token_id
    short = len(tok(lm.render(convs[0]), add_special_tokens=False)["input_ids"])
    mask = seen["mask"]
    assert isinstance(mask, list) and sum(mask[0]) == short and mask[0][-1] == 1  # left padding
    assert mask[0][0] == 0


def test_sampling_with_seed_is_reproducible(lm: LocalLM) -> None:
    a = lm.generate(CONVS[:2], max_new_tokens=5, temperature=1.5, seed=7)
    b = lm.generate(CONVS[:2], max_new_tokens=5, temperature=1.5, seed=7)
    assert [g.text for g in a] == [g.text for g in b]


def test_generation_argument_errors(lm: LocalLM) -> None:
    with pytest.raises(ConfigError, match="max_new_tokens"):
        lm.generate(CONVS, max_new_tokens=0)
    with pytest.raises(ConfigError, match="batch_size"):
        lm.generate(CONVS, batch_size=0)
    with pytest.raises(FatalModelError, match="context window"):
        lm.generate([CONVS[0]], max_new_tokens=3000)


# ----------------------------------------------------------------------------- fallback template


def test_fallback_template_without_chat_template(plain_dir: Path) -> None:
    plain = LocalLM(plain_dir, device="cpu")
    msgs = [{"role": "system", "content": "Be fair."}, {"role": "user", "content": "a or b?"}]
    assert plain.render(msgs) == "System: Be fair.\n\nUser: a or b?\n\nAssistant:"
    assert plain.render(msgs, "Output (") == "System: Be fair.\n\nUser: a or b?\n\nAssistant: Output ("
    lps, _ = plain.option_logprobs(msgs, "Output (", ["a", "b"])
    _, logp = _manual_logprobs(plain_dir, plain.render(msgs, "Output ("), special=True)
    tok = plain.tokenizer
    assert lps == pytest.approx([float(logp[-1, tok.convert_tokens_to_ids(t)]) for t in "ab"],
                                abs=1e-5)
    out = plain.generate([msgs], max_new_tokens=4)[0]
    assert out.text == out.text.lstrip() and out.completion_tokens >= 1


# ----------------------------------------------------------------------------- adapters and pool


def test_lora_adapter_changes_logits_and_matches_peft(model_dir: Path, adapter_dir: Path) -> None:
    pool = LocalModelPool()
    base = pool.get(model_dir, device="cpu")
    before, _ = base.option_logprobs(MSGS, "Output (", ["a", "b"])
    tuned = pool.get(model_dir, device="cpu", adapter=str(adapter_dir))
    assert tuned.shares_weights_with(base) and len(pool) == 1
    with_lora, _ = tuned.option_logprobs(MSGS, "Output (", ["a", "b"])
    assert max(abs(x - y) for x, y in zip(before, with_lora, strict=True)) > 1e-3
    # base view still sees the base model (adapter disabled for it)
    after, _ = base.option_logprobs(MSGS, "Output (", ["a", "b"])
    assert after == pytest.approx(before, abs=1e-6)
    # and the adapter view matches peft applied by hand
    _, logp = _manual_logprobs(model_dir, tuned.render(MSGS) + "Output (", adapter=adapter_dir)
    tok = tuned.tokenizer
    assert with_lora == pytest.approx([float(logp[-1, tok.convert_tokens_to_ids(t)]) for t in "ab"],
                                      abs=1e-5)
    # generation goes through the adapter too
    g_base = base.generate([MSGS], max_new_tokens=4)[0].text
    g_lora = tuned.generate([MSGS], max_new_tokens=4)[0].text
    assert g_base == LocalLM(model_dir, device="cpu").generate([MSGS], max_new_tokens=4)[0].text
    assert isinstance(g_lora, str)


def test_pool_hands_out_shared_instances(model_dir: Path, adapter_dir: Path) -> None:
    pool = LocalModelPool()
    a = pool.get(model_dir)
    assert pool.get(LocalLMSpec(path=str(model_dir))) is a
    assert pool.get(model_dir, device="cpu", dtype="float32") is a  # "auto" resolved on CPU
    b = pool.get(model_dir, adapter=str(adapter_dir))
    assert b is not a and b.shares_weights_with(a) and len(pool) == 1
    assert b.name.endswith("+" + adapter_dir.name)
    c = a.with_adapter(adapter_dir)
    assert c.shares_weights_with(a) and c.option_logprobs(MSGS, "Output (", ["a", "b"])[0] == \
        pytest.approx(b.option_logprobs(MSGS, "Output (", ["a", "b"])[0], abs=1e-6)
    assert len(pool.specs()) == 2
    pool.clear()
    assert len(pool) == 0 and pool.get(model_dir) is not a


def test_concurrent_threads_give_sequential_results(lm: LocalLM) -> None:
    expected_scores = lm.option_logprobs(MSGS, "Output (", ["a", "b"])[0]
    expected_text = lm.generate([CONVS[2]], max_new_tokens=5)[0].text
    results: list[object] = []
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            if k % 2:
                results.append(("s", lm.option_logprobs(MSGS, "Output (", ["a", "b"])[0]))
            else:
                results.append(("g", lm.generate([CONVS[2]], max_new_tokens=5)[0].text))
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for kind, value in results:  # type: ignore[misc]
        if kind == "s":
            assert value == pytest.approx(expected_scores, abs=1e-6)
        else:
            assert value == expected_text


# ----------------------------------------------------------------------------- spec and deps


def test_spec_normalizes_gguf_paths_and_rejects_bad_values(tmp_path: Path) -> None:
    spec = LocalLMSpec(path=str(tmp_path / "m.Q4.gguf"))
    assert spec.path == str(tmp_path) and spec.gguf_file == "m.Q4.gguf"
    assert spec.display_name == "m.Q4"
    with pytest.raises(ValueError, match="device 'tpu'"):
        LocalLMSpec(path="x", device="tpu")
    with pytest.raises(ValueError, match="dtype"):
        LocalLMSpec(path="x", dtype="float8")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="device 'tpu'"):
        LocalLM(spec, device="tpu")
    with pytest.raises(ConfigError, match="could not load"):
        LocalLM(tmp_path / "missing-model-dir", device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_a_clear_error(model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        LocalLM(model_dir, device="cuda")


def test_missing_transformers_names_the_extra(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "judge-debias\[local\]"') as info:
        LocalLM(model_dir, device="cpu")
    assert "transformers" in str(info.value)
    assert isinstance(info.value, ImportError)


def test_missing_peft_only_matters_for_adapters(model_dir: Path, adapter_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pool = LocalModelPool()
    pool.get(model_dir, device="cpu")
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(MissingDependencyError, match="'peft'"):
        pool.get(model_dir, device="cpu", adapter=str(adapter_dir))


def test_gguf_spec_requires_gguf_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gguf", None)
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    with pytest.raises(MissingDependencyError, match="'gguf'"):
        LocalLM(tmp_path / "m.gguf", device="cpu")


# ----------------------------------------------------------------------------- backend and judge


def test_backend_sync_and_async_agree(lm: LocalLM) -> None:
    backend = LocalBackend(lm)
    assert backend.name == f"local/{lm.name}"
    comp = backend.complete(CONVS[0], Sampling(max_tokens=4))
    assert comp.usage.calls == 1 and 1 <= comp.usage.completion_tokens <= 4
    assert comp.top_logprobs is None
    with_top = backend.complete(CONVS[0], Sampling(max_tokens=2, logprobs=True, top_logprobs=2))
    assert with_top.text == backend.complete(CONVS[0], Sampling(max_tokens=2)).text
    assert with_top.top_logprobs is not None and all(len(t) == 2 for t in with_top.top_logprobs)

    async def both() -> tuple:
        return await asyncio.gather(
            backend.acomplete(CONVS[0], Sampling(max_tokens=4)),
            backend.aoption_logprobs(MSGS, "Output (", ["a", "b"]),
            backend.aoption_logprobs(MSGS, "Choice ", ["1", "2", "3"]),
        )

    acomp, (lp2, _), (lp3, _) = asyncio.run(both())
    assert acomp.text == comp.text
    assert lp2 == pytest.approx(backend.option_logprobs(MSGS, "Output (", ["a", "b"])[0], abs=1e-6)
    assert len(lp3) == 3


def _pairwise(item_id: str = "p1") -> Item:
    return Item(id=item_id, task="pairwise", instruction="Name a pet.",
                candidates=["the cat sat on the mat", "the dog ran"])


def test_local_judge_reads_verdicts_from_logprobs(model_dir: Path) -> None:
    pool = LocalModelPool()
    judge = create_judge(f"local:{model_dir}", pool=pool, device="cpu", progress=None)
    assert isinstance(judge, ChatJudge)
    assert judge.name == f"local/{model_dir.name}" and judge.mode == "auto"
    item = _pairwise()
    v = judge.judge(JudgeRequest.first(item))
    assert v.probs is not None and sum(v.probs) == pytest.approx(1.0)
    assert v.choice == max(range(2), key=lambda i: v.probs[i])
    assert v.confidence == pytest.approx(max(v.probs))
    assert v.usage.calls == 1
    swapped = judge.judge(JudgeRequest.first(item).variant(order=[1, 0]))
    assert swapped.order == [1, 0] and swapped.probs is not None
    assert sum(swapped.probs) == pytest.approx(1.0)
    # the judge's probabilities are the backend's option scores, renormalized
    backend = judge.backend
    assert isinstance(backend, LocalBackend)
    # a second judge from the same pool shares the loaded model
    again = judge_from_registry = create_judge(f"local:{model_dir}", pool=pool, device="cpu",
                                               progress=None)
    assert again.backend.lm is backend.lm  # type: ignore[attr-defined]
    v2 = asyncio.run(judge_from_registry.ajudge(JudgeRequest.first(item)))
    assert v2.probs == pytest.approx(v.probs, abs=1e-6)


def test_local_judge_rejects_unknown_spec(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an embedded model"):
        create_judge(f"local:{tmp_path / 'nope'}", progress=None)


def test_local_judge_prefers_converted_embedded_copy(model_dir: Path, tmp_path: Path) -> None:
    # an embedded model's dequantized copy in the cache is used without fetching the GGUF
    shutil.copytree(model_dir, tmp_path / "smollm2" / "hf")
    messages: list[str] = []
    judge = create_judge("local", cache_dir=tmp_path, device="cpu", progress=messages.append)
    assert isinstance(judge, ChatJudge) and judge.name == "local/smollm2"
    assert judge.backend.lm.spec.path == str((tmp_path / "smollm2" / "hf").resolve())  # type: ignore[attr-defined]
    assert any("loading local model" in m for m in messages)


def test_local_backend_refuses_an_api_base_and_names_adapters(model_dir: Path,
                                                              adapter_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"api_base.*not to 'local'"):
        create_backend(f"local:{model_dir}", api_base="http://127.0.0.1:1/v1", progress=None)
    backend = create_backend(f"local:{model_dir}", adapter=str(adapter_dir), device="cpu",
                             progress=None)
    assert isinstance(backend, LocalBackend)
    assert backend.name == f"local/{model_dir.name}+{adapter_dir.name}"
    assert backend.lm.spec.adapter == str(adapter_dir.resolve())


def test_gguf_header_decides_bos_and_eos(gguf_file: Path) -> None:
    """A tokenizer rebuilt with the wrong eos (transformers 5.17 gives the bos) is corrected
    from the config transformers read from the same GGUF header."""
    from debias.backends.local_lm import _align_gguf_special_tokens

    g = LocalLM(gguf_file, device="cpu")
    tok, model = g.tokenizer, g.model
    right_eos, right_bos = tok.eos_token_id, tok.bos_token_id
    assert right_eos != right_bos
    tok.eos_token = tok.convert_ids_to_tokens(right_bos)  # the misbuilt state
    model.generation_config.eos_token_id = right_bos
    _align_gguf_special_tokens(tok, model)
    assert (tok.eos_token_id, tok.bos_token_id) == (right_eos, right_bos)
    assert model.generation_config.eos_token_id == right_eos
