"""Tokenise examples for causal-LM fine-tuning with the loss on the response only.

The prompt is the tokenizer's chat template applied to one user message with the
generation prompt appended (exactly what the detector sees at inference time); the
response is the target text followed by the end-of-sequence token. Prompt tokens get the
label ``-100`` so the loss ignores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from debias.errors import ConfigError
from detectors.training.records import TrainExample

IGNORE = -100
TRUNCATION_MARK = "\n[...]\n"


@dataclass
class Encoded:
    """One tokenised example.

    Attributes:
        id: Example id.
        input_ids: Prompt then response token ids.
        labels: ``-100`` on the prompt, the response ids elsewhere.
        prompt_len: Number of prompt tokens.
        truncated: Whether the prompt's middle was cut to fit.
    """

    id: str
    input_ids: list[int]
    labels: list[int]
    prompt_len: int
    truncated: bool = False

    @property
    def target_tokens(self) -> int:
        """Tokens the loss is computed on."""
        return sum(1 for t in self.labels if t != IGNORE)


def render_target(example: TrainExample, template: str) -> str:
    """The assistant target text, e.g. ``<think>...</think>\\nYes``."""
    return template.format(trace=example.trace.strip(), label=example.label)


def prompt_ids(tokenizer: Any, prompt: str, chat_template: str | None = None) -> list[int]:
    """Token ids of the chat-templated user message plus the generation prompt."""
    template = chat_template or getattr(tokenizer, "chat_template", None)
    if not template:
        raise ConfigError(f"tokenizer {getattr(tokenizer, 'name_or_path', '?')!r} has no chat "
                          "template; pass chat_template (a Jinja template) in the training config")
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True, chat_template=template)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def response_ids(tokenizer: Any, target: str) -> list[int]:
    """Token ids of the response followed by the end-of-sequence token."""
    ids = list(tokenizer(target, add_special_tokens=False)["input_ids"])
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is None:
        raise ConfigError(f"tokenizer {getattr(tokenizer, 'name_or_path', '?')!r} has no "
                          "end-of-sequence token; the detector could not learn to stop")
    return [*ids, int(eos)]


def encode_example(tokenizer: Any, example: TrainExample, *, max_len: int,
                   overflow: str = "truncate", target_template: str = "<think>{trace}</think>\n{label}",
                   chat_template: str | None = None, min_prompt: int = 32) -> Encoded | None:
    """Tokenise one example; None when it cannot fit ``max_len`` (see ``overflow``).

    With ``overflow="truncate"``, a prompt that is too long keeps its first and last
    tokens (the task description and the judge's decision with the answer request) and
    loses its middle, marked by ``[...]``.
    """
    p_ids = prompt_ids(tokenizer, example.prompt, chat_template)
    r_ids = response_ids(tokenizer, render_target(example, target_template))
    truncated = False
    if len(p_ids) + len(r_ids) > max_len:
        budget = max_len - len(r_ids)
        if overflow != "truncate" or budget < min_prompt:
            return None
        mark = list(tokenizer(TRUNCATION_MARK, add_special_tokens=False)["input_ids"])
        keep = budget - len(mark)
        head = keep // 2
        tail = keep - head
        p_ids = p_ids[:head] + mark + p_ids[len(p_ids) - tail:]
        truncated = True
    return Encoded(id=example.id, input_ids=p_ids + r_ids,
                   labels=[IGNORE] * len(p_ids) + r_ids, prompt_len=len(p_ids), truncated=truncated)


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors ``input_ids``, ``attention_mask``, ``labels`` and the first
    label position over the batch (``min_prompt_len``)."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels,
            "min_prompt_len": min(e.prompt_len for e in batch)}
