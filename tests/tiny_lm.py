"""Tiny transformers models built in the test process (random or hand-set weights, no download).

- :func:`build_tokenizer` / :func:`save_model`: a 2-layer Llama with hidden size 16 and random
  weights, with a byte-level BPE trained here on a few strings (so ``" a"`` and ``"a"`` are
  different tokens) and an optional ChatML template; :func:`write_tiny_gguf` writes it as a
  GGUF file.
- :func:`build_bigram_model`: a word-level model whose greedy output is set by a bigram
  table (attention and MLP outputs zeroed, so the logits depend only on the last token),
  for backends that must answer a known text.

Import only after ``pytest.importorskip("torch")`` / ``("transformers")``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import transformers

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CORPUS = [
    "Which output is better? Output (a) or Output (b). Answer: a",
    "Answer: b. Choice 1 or Choice 2 or Choice 3. The answer is a and b.",
    "Output (a) is better. Output (b) is worse. Choice 2 wins over Choice 1.",
    "User: hello there. Assistant: hi, how can I help with the question?",
    "a b a b a b 1 2 3 1 2 3 the cat sat on the mat and the dog ran",
] * 20

MSGS = [{"role": "system", "content": "You judge outputs."},
        {"role": "user", "content": "Which output is better? Output (a) the cat. Output (b) the dog."}]


def build_tokenizer(chat_template: str | None) -> transformers.PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>")
    if chat_template:
        fast.chat_template = chat_template
    return fast


def save_model(directory: Path, tok: transformers.PreTrainedTokenizerFast, seed: int = 0) -> None:
    config = transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
        initializer_range=0.4, tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)


def _permute_for_gguf(w, n_head: int, n_head_kv: int):  # type: ignore[no-untyped-def]
    """llama.cpp's q/k row permutation (transformers reverses it when loading a GGUF)."""
    if n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_gguf(hf_dir: Path, out: Path) -> Path:
    """Write the tiny HF llama in ``hf_dir`` as an F32 GGUF file (tokenizer included)."""
    import json

    import gguf
    import numpy as np

    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir)
    tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
    c = model.config
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(c.vocab_size)
    w.add_tokenizer_model("gpt2")
    vocab = tok.get_vocab()
    tokens = sorted(vocab, key=vocab.__getitem__)
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if t.startswith("<|") else gguf.TokenType.NORMAL
                       for t in tokens])
    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    w.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in merges])
    w.add_bos_token_id(tok.bos_token_id)
    w.add_eos_token_id(tok.eos_token_id)
    w.add_chat_template(tok.chat_template)
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    w.add_tensor("output.weight", sd["lm_head.weight"])
    names = {"attn_norm": "input_layernorm", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    heads, kv = c.num_attention_heads, c.num_key_value_heads
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}."
        for g, h in names.items():
            w.add_tensor(f"blk.{i}.{g}.weight", sd[f"{p}{h}.weight"])
        w.add_tensor(f"blk.{i}.attn_q.weight", _permute_for_gguf(sd[p + "self_attn.q_proj.weight"], heads, heads))
        w.add_tensor(f"blk.{i}.attn_k.weight", _permute_for_gguf(sd[p + "self_attn.k_proj.weight"], heads, kv))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


Table = dict[str, dict[str, float]]
ASSISTANT = "<assistant>"


def build_bigram_model(path: Path, table: Table, *, assistant: str = ASSISTANT,
                       words: list[str] | None = None) -> Path:
    """Save a word-level 'LM' whose next token depends only on the current one.

    The chat template ends the generation prompt with ``assistant``; ``table[cur][nxt]``
    is the logit weight of ``nxt`` after ``cur``; words not in the table's vocabulary are
    ``<unk>``. Greedy generation from ``assistant`` follows the table's best edges.

    Args:
        path: Directory to write (a Hugging Face model directory).
        table: The bigram weights.
        assistant: The token that ends the generation prompt.
        words: A fixed vocabulary (``<unk> <s> </s> <pad>`` first, even length) when a
            test needs to know it; by default the specials, ``assistant`` and the table's words.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    if words is None:
        words = ["<unk>", "<s>", "</s>", "<pad>", assistant]
        for cur, nexts in table.items():
            words += [w for w in (cur, *nexts) if w not in words]
        if len(words) % 2:
            words.append("<filler>")  # the hidden size is the vocabulary size; RoPE wants it even
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>",
                                                bos_token="<s>", eos_token="</s>",
                                                pad_token="<pad>")
    fast.chat_template = ("{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}" + assistant + "{% endif %}")
    n = len(vocab)
    config = transformers.LlamaConfig(
        vocab_size=n, hidden_size=n, intermediate_size=4, num_hidden_layers=1,
        num_attention_heads=1, num_key_value_heads=1, max_position_embeddings=8192,
        bos_token_id=1, eos_token_id=2, pad_token_id=3, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(torch.eye(n))
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        head = torch.zeros(n, n)
        for cur, nexts in table.items():
            for nxt, weight in nexts.items():
                head[vocab[nxt], vocab[cur]] = weight
        model.lm_head.weight.copy_(head)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path
