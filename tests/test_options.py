"""Detector options: validated on construction, errors name the detector and the option."""

from __future__ import annotations

import pytest

from debias.cli import main
from debias.contract import parse_detector_specs
from debias.errors import ConfigError
from detectors.position import PositionDetector


@pytest.mark.parametrize(("spec", "words"), [
    ("position:max_orders=x", ["'position'", "max_orders='x'", "integer"]),
    ("position:max_orders=0", ["'position'", "max_orders", "greater than or equal to 1"]),
    ("position:policy=bogus", ["'position'", "bogus"]),
    ("bandwagon:threshold=2", ["'bandwagon'", "threshold"]),
    ("verbosity:min_ratio=0.5", ["'verbosity'", "min_ratio='0.5'"]),
    ("sentiment:judge_prior=maybe", ["'sentiment'", "judge_prior='maybe'", "boolean"]),
    ("bandwagon:foo=1", ["'bandwagon' has no option 'foo'", "threshold"]),
    ("nosuch", ["unknown detector 'nosuch'", "position"]),
])
def test_bad_options_name_detector_and_option(spec: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_detector_specs(spec)
    for w in words:
        assert w in str(info.value)


def test_options_from_strings_are_coerced() -> None:
    pos, verb, sent = parse_detector_specs(
        "position:max_orders=2;policy=flag,verbosity:min_ratio=2;length_only=false,"
        "sentiment:judge_prior=no")
    assert (pos.policy, pos.max_orders) == ("flag", 2)
    assert (verb.min_ratio, verb.length_only) == (2.0, False)
    assert sent.judge_prior is False


def test_constructor_refuses_unknown_policy() -> None:
    with pytest.raises(ConfigError, match="policy='bogus'"):
        PositionDetector(policy="bogus")  # type: ignore[arg-type]


def test_cli_exits_2_with_a_message(tmp_path, capsys) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text('{"id": "1", "task": "pairwise", "instruction": "q", "candidates": ["a", "b"]}\n')
    code = main(["run", str(data), "--judge", "scripted", "--no-cache", "--quiet",
                 "--detectors", "position:max_orders=x"])
    err = capsys.readouterr().err
    assert code == 2
    assert "detector 'position': option max_orders='x'" in err
    assert "Traceback" not in err
