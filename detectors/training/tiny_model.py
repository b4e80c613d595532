"""Test doubles for the training pipeline: a tiny causal LM and tokenizer built locally.

Nothing is downloaded: the tokenizer is a byte-level BPE trained in memory with the
``tokenizers`` library on a few sentences, the model a randomly initialised Llama with a
few thousand parameters. Used by the test suite; handy for trying the pipeline quickly.
"""

from __future__ import annotations

from typing import Any

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<pad>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "Does the decision show position bias? Output (a) Output (b) Choice 1 Choice 2",
    "<think>The judge picked the longer answer although it is wrong.</think>\nYes",
    "<think>The judge chose the correct answer on its merits.</think>\nNo",
    "### Instruction: ### Choices: ### Evaluation by LLM-as-a-Judge: ### Response:",
    "The quick brown fox jumps over the lazy dog. 0123456789 [...]",
]


def tiny_tokenizer(vocab_size: int = 300) -> Any:
    """A byte-level BPE tokenizer with a ChatML template, EOS ``<|im_end|>`` and a pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<pad>",
                                   bos_token="<|im_start|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_model(tokenizer: Any, *, seed: int = 0, hidden: int = 32, layers: int = 2) -> Any:
    """A randomly initialised tiny Llama causal LM matching ``tokenizer``'s vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    model.eval()
    return model
