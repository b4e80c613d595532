from __future__ import annotations

import pytest

from debias.errors import VerdictParseError
from debias.parsing import TIE, parse_choice, parse_score


@pytest.mark.parametrize(
    ("text", "n", "slot"),
    [
        ("Output (a)", 2, 0), ("(b)", 2, 1), ("A", 2, 0), ("b.", 2, 1), ("[[B]]", 2, 1),
        ("Response A", 2, 0), ("Assistant B is better.", 2, 1), ("Choice 2", 4, 1), ("2", 4, 1),
        ("Option 3", 4, 2), ('{"choice": "a"}', 2, 0), ('{"winner": 2}', 3, 1),
        ("Output (a) is vague while Output (b) is precise. Final answer: Output (b)", 2, 1),
        ("After comparing both... [[A]]", 2, 0), ("I think Output (b) is better.", 2, 1),
        ("**Answer: c**", 3, 2), ("Choice 10", 10, 9),
    ],
)
def test_accepts_common_forms(text, n, slot):
    assert parse_choice(text, n) == slot


@pytest.mark.parametrize("text", ["tie", "Tie.", "[[C]]", '{"winner": "tie"}'])
def test_ties(text):
    assert parse_choice(text, 2) == TIE


@pytest.mark.parametrize("text", ["", "   ", "I cannot decide between them", "Output (a) and Output (b) both have merit",
                                  "Choice 7"])
def test_rejects(text):
    with pytest.raises(VerdictParseError):
        parse_choice(text, 3 if "Choice" in text else 2)


@pytest.mark.parametrize(("text", "score"), [("Score: 7", 7), ("8/10", 8), ('{"score": 3}', 3), ("[[9]]", 9),
                                             ("6", 6), ("Rating: 4.5", 4.5)])
def test_scores(text, score):
    assert parse_score(text, 1, 10) == score


def test_score_out_of_range():
    with pytest.raises(VerdictParseError, match="outside"):
        parse_score("Score: 42", 1, 10)
