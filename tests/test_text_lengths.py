"""Length statistics and final-answer extraction."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debias.text.lengths import (
    compare_lengths,
    count_tokens,
    final_number,
    is_bare_answer,
    numbers,
    same_number,
    standardize,
)


def test_count_tokens_approximation_grows_with_text() -> None:
    short = count_tokens("The answer is 42.", exact=False)
    long = count_tokens("The answer is 42. " * 10, exact=False)
    assert 4 <= short <= 8
    assert long == pytest.approx(10 * short, rel=0.05)
    assert count_tokens("", exact=False) == 0


def _regex_count(text: str) -> int:
    return len(re.findall(r"[A-Za-z]{1,6}|\d{1,3}|[^\sA-Za-z\d]", text))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcXYZ0123 \t\n\x0b\x1c.,$-_'\"é٣\u00a0")), max_size=60)
       | st.text(max_size=40))
def test_fast_ascii_count_equals_the_regex(text: str) -> None:
    assert count_tokens(text, exact=False) == _regex_count(text)


@pytest.mark.parametrize("text", ["", "a", "abcdef", "abcdefg", "x" * 13, "1234567", "a1b22c333dddd4444",
                                  "  ..  ", "Hello, world! 3.14159 is pi." * 50, "word " * 5000])
def test_fast_ascii_count_on_edge_cases(text: str) -> None:
    assert count_tokens(text, exact=False) == _regex_count(text)


def test_compare_lengths_values() -> None:
    cands = ["word " * 100, "word " * 10]
    cmp = compare_lengths(cands, 0)
    assert cmp.chars == [500, 50]
    assert cmp.ratio == pytest.approx(cmp.tokens[0] / cmp.tokens[1])
    assert cmp.ratio > 5
    assert cmp.extra_tokens == cmp.tokens[0] - cmp.tokens[1]
    assert 0 < cmp.rel_diff <= 1
    assert cmp.longest == 0
    other = compare_lengths(cands, 1)
    assert other.ratio < 1 and other.rel_diff < 0
    values = cmp.as_values()
    assert {"chars", "tokens", "ratio", "rel_diff", "tokenizer"} <= set(values)


def test_compare_lengths_uses_median_of_rejected() -> None:
    cmp = compare_lengths(["a " * 50, "b " * 10, "c " * 20, "d " * 30], 0)
    assert cmp.rejected_tokens == sorted(cmp.tokens[1:])[1]


def test_compare_lengths_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        compare_lengths(["only one"], 0)
    with pytest.raises(ValueError):
        compare_lengths(["a", "b"], 2)


@given(st.lists(st.text(min_size=1, max_size=60), min_size=2, max_size=5), st.data())
def test_ratio_is_reciprocal_for_pairs(texts: list[str], data: st.DataObject) -> None:
    a, b = texts[0], texts[1]
    r1 = compare_lengths([a, b], 0)
    r2 = compare_lengths([a, b], 1)
    if r1.tokens[0] >= 1 and r1.tokens[1] >= 1:
        assert r1.ratio * r2.ratio == pytest.approx(1.0)
    assert r1.rel_diff == pytest.approx(-r2.rel_diff)


def test_standardize() -> None:
    assert standardize([]) == []
    assert standardize([3.0]) == [0.0]
    assert standardize([2.0, 2.0]) == [0.0, 0.0]
    z = standardize([-1.0, 1.0])
    assert z == [pytest.approx(-1.0), pytest.approx(1.0)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Step one: 3 + 4 = <<3+4=7>>7 apples.\n#### 7", 7.0),
        ("So the total is $1,200.50.\n\n#### $1,200.50", 1200.5),
        ("We get \\boxed{36} as the result.", 36.0),
        ("Then 5 * 4 = 20.\n\nTherefore, Tracy got 8 pieces from the 4-foot wire.", 8.0),
        ("Andy planted 90 and 50, for a total of 90 + 50 = 140 flowers.", 140.0),
        ("x = 35 / 0.01 = 3500 candy bars.\n\nI hope this helps!", 3500.0),
        ("The temperature dropped to -3 degrees.", -3.0),
        ("No numbers here.", None),
        ("#### \nSo there are 36 - 12 = 24 left.", 24.0),
    ],
)
def test_final_number(text: str, expected: float | None) -> None:
    assert final_number(text) == expected


def test_numbers_and_bare_answers() -> None:
    assert numbers("a 1,000 b 2.5 c -7") == [1000.0, 2.5, -7.0]
    for bare in ("17", "$9", "-3", "3000", "9 dollars", "25%", " 42. "):
        assert is_bare_answer(bare), bare
    for not_bare in ("The answer is 17 because 10 + 7 = 17.", "seventeen", ""):
        assert not is_bare_answer(not_bare), not_bare
    assert same_number(9.0, 9.000000001)
    assert not same_number(9.0, 9.5)
    assert not same_number(None, 1.0)


def test_concise_answers() -> None:
    from debias.text.lengths import is_concise_answer

    assert is_concise_answer("17")
    assert is_concise_answer("The answer is 17.")
    assert not is_concise_answer("The answer is seventeen.")
    assert not is_concise_answer("First we add 3 and 4 to get 7, then multiply by 6 to get 42, "
                                 "and finally subtract 2 to reach 40 in total.")


def test_token_count_is_the_same_in_every_process(tmp_path: Path) -> None:
    """A fresh process (a Ray worker, say) without litellm imported, without a tiktoken
    cache and without network counts as this one does, approximate and exact: the exact
    encoding comes from the copy litellm ships, not from whatever cache an import set."""
    pytest.importorskip("tiktoken")
    code = ("import sys, json; from debias.text.lengths import count_tokens, tokenizer_name; "
            "t = sys.argv[1]; print(json.dumps([tokenizer_name(), tokenizer_name(exact=True), "
            "count_tokens(t), count_tokens(t, exact=True), 'litellm' in sys.modules]))")
    text = "Résumé: naïve café costs $1,234.56 <|endoftext|> — def f(x): return x**2"
    env = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")}
    env["TMPDIR"] = str(tmp_path)  # tiktoken's default cache lives under the temp dir: empty here
    out = subprocess.run([sys.executable, "-c", code, text], env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    name, exact_name, approx, exact, imported_litellm = json.loads(out.stdout)
    assert (name, exact_name) == ("regex-approximation", "tiktoken:cl100k_base")
    assert not imported_litellm
    assert approx == count_tokens(text) and approx != exact
    assert exact == count_tokens(text, exact=True) == 29  # tiktoken.get_encoding("cl100k_base")
