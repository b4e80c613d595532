"""FastChat MT-Bench pairwise judgment files (``gpt-4_pair.jsonl``).

Each line holds one pair judged twice: ``g1`` with model_1 shown first, ``g2`` with the
two answers swapped; ``g1_winner``/``g2_winner`` are already mapped back to
``model_1``/``model_2`` (or ``tie``; ``error`` = no decision). Candidate texts are taken
from the judge prompt (``[The Start of Assistant A's Answer]`` ... blocks, or the
multi-turn conversation blocks); when the prompt is missing they are unknown (empty)
and length/tone metrics skip the pair.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from debias.audit.importers.build import text, verdict
from debias.audit.importers.jsonstream import iter_json
from debias.audit.importers.registry import ImportOptions, register_importer
from debias.audit.importers.values import TIE
from debias.audit.records import BadRecord, Pending

WINNERS = {"model_1": 0, "model_2": 1, "tie": TIE, "tie (inconsistent)": TIE}
_ANSWER = {
    s: re.compile(rf"\[The Start of Assistant {s}'s Answer\]\n?(.*?)\n?\[The End of Assistant {s}'s Answer\]",
                  re.S)
    for s in "AB"
}
_CONVO = {
    s: re.compile(rf"<\|The Start of Assistant {s}'s Conversation with User\|>\n?(.*?)\n?"
                  rf"<\|The End of Assistant {s}'s Conversation with User\|>", re.S)
    for s in "AB"
}
_QUESTION = re.compile(r"\[User Question\]\n?(.*?)\n?\n?\[The Start of Assistant A", re.S)


def _answers(prompt: str) -> list[str]:
    for patterns in (_ANSWER, _CONVO):
        a, b = patterns["A"].search(prompt), patterns["B"].search(prompt)
        if a and b:
            return [a.group(1).strip(), b.group(1).strip()]
    return ["", ""]


@register_importer("mtbench")
class MTBenchImporter:
    """FastChat ``llm_judge`` pairwise judgments."""

    name = "mtbench"
    summary = "FastChat MT-Bench pairwise judgments (g1_winner / g2_winner, g2 in swapped order)"
    example = (
        '{"question_id": 81, "model_1": "gpt-4", "model_2": "vicuna-13b", "g1_winner": "model_1",\n'
        ' "g2_winner": "tie", "judge": ["gpt-4", "pair-v2"], "g1_user_prompt": "[User Question]...",\n'
        ' "g1_judgment": "... [[A]]", "g2_user_prompt": "...", "g2_judgment": "... [[C]]", "turn": 1}'
    )
    options: ClassVar[dict[str, str]] = {"judge": "judge name (default: the file's judge field, e.g. gpt-4/pair-v2)"}

    def sniff(self, path: Path, first: Any) -> bool:
        return isinstance(first, dict) and "g1_winner" in first

    def read(self, path: Path, options: ImportOptions) -> Iterator[Pending | BadRecord]:
        source = str(path)
        for rec in iter_json(path):
            if isinstance(rec, BadRecord):
                yield rec
                continue
            line, row = rec
            if not isinstance(row, dict) or "g1_winner" not in row:
                yield BadRecord(line, "record has no 'g1_winner'", source)
                continue
            judge_field = row.get("judge")
            judge = options.get("judge") or (
                "/".join(str(j) for j in judge_field) if isinstance(judge_field, list)
                else text(judge_field) or "judge")
            verdicts = []
            for key, order in (("g1_winner", [0, 1]), ("g2_winner", [1, 0])):
                if key not in row:
                    continue
                won = WINNERS.get(text(row[key]).strip().lower())
                verdicts.append(verdict(judge, order, won, raw=row[key], original=True))
            prompt = text(row.get("g1_user_prompt"))
            q = _QUESTION.search(prompt)
            turn = row.get("turn", 1)
            yield Pending(line, {
                "id": f"{row.get('question_id')}/{row.get('model_1')}/{row.get('model_2')}/turn{turn}",
                "task": "pairwise",
                "instruction": q.group(1).strip() if q else f"MT-Bench question {row.get('question_id')}",
                "candidates": _answers(prompt),
                "metadata": {"source": "mtbench", "question_id": row.get("question_id"),
                             "model_1": row.get("model_1"), "model_2": row.get("model_2"),
                             "turn": turn},
                "verdicts": verdicts,
            })
