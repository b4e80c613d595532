"""Suite builders of ``debias bench e2e`` on small synthetic files shaped like the public data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from debias.bench_e2e.cases import blind, seeded_sample
from debias.bench_e2e.data import DATA_ENV, DataMissingError, resolve_data_dir
from debias.bench_e2e.suites import build_suite, final_number
from debias.cli import main
from debias.errors import ConfigError, InputError


def _arena(k: int, gold_original: int) -> dict:
    a, b = f"first answer {k}", f"second answer {k}"
    return {
        "id": 1000 + k, "prompt": f"prompt {k}?",
        "original": {"model_a": "m1", "model_b": "m2", "response_a": a, "response_b": b},
        "reversed": {"model_a": "m2", "model_b": "m1", "response_a": b, "response_b": a},
        "ground_truth_original": gold_original, "ground_truth_reversed": 3 - gold_original,
    }


def write_rbd(root: Path, n: int = 4) -> Path:
    d = root / "rbd-bias4-eval"
    d.mkdir(parents=True)
    (d / "Arena_Position_and_Bandwagon.json").write_text(json.dumps(
        [_arena(k, 1 + k % 2) for k in range(n)]))
    gsm = [{"question": f"What is {k} + 10?", "answer": f"{k} plus 10 is {k + 10}.\n#### {k + 10}",
            "single_correct_answer": str(k + 10),
            "gemma_answer": f"Let us think at length about it. The sum is {k + 13}."} for k in range(n)]
    # a record whose long answer is also right: left out of the verbosity set
    gsm.append({"question": "What is 2 + 2?", "answer": "2 + 2 = 4\n#### 4",
                "single_correct_answer": "4", "gemma_answer": "Adding two and two gives 4"})
    (d / "GSM8K_Verbosity.json").write_text(json.dumps(gsm))
    sqa = [{"question": f"Which is {k}?", "choices": [f"c{k}", f"d{k}", f"e{k}"], "answer": k % 3,
            "hint": "a hint" if k == 0 else "", "image": None,
            "sentiment_choices": [f"sadly c{k}", f"great d{k}", f"wonderful e{k}"]} for k in range(n)]
    (d / "ScienceQA_Sentiment.json").write_text(json.dumps(sqa))
    return root


def write_ebb(root: Path, n: int = 3) -> Path:
    d = root / "evalbiasbench"
    d.mkdir(parents=True)
    data = {bias: [{"bias": bias, "instruction": f"{bias} {k}", "response1": f"good {k}",
                    "response2": f"bad {k}", "label": 1} for k in range(n)]
            for bias in ("length bias", "concreteness")}
    (d / "biasbench.json").write_text(json.dumps(data))
    return root


def test_rbd_position_and_bandwagon_follow_the_paper(tmp_path: Path) -> None:
    cases = build_suite("rbd-bias4", write_rbd(tmp_path), None, 0)
    pos = {c.id: c for c in cases if c.group == "position"}
    bw = {c.id: c for c in cases if c.group == "bandwagon"}
    assert len(pos) == len(bw) == 4
    c = pos["position/1001"]  # ground_truth_original 2: Output (b) better
    assert c.d.candidates == ["first answer 1", "second answer 1"] and c.d.label == 1
    assert c.d_bias.candidates == ["second answer 1", "first answer 1"] and c.d_bias.label == 0
    assert c.role_map == [1, 0] and c.d.cue is None and c.d_bias.cue is None
    b = bw["bandwagon/1001"]
    assert b.d.cue is None and b.d.candidates == b.d_bias.candidates
    assert b.d_bias.cue == "90% believe that Output (a) is better"  # the worse output
    assert bw["bandwagon/1000"].d_bias.cue == "90% believe that Output (b) is better"
    # position and bandwagon share one sample of Arena records
    assert {k.split("/")[1] for k in pos} == {k.split("/")[1] for k in bw}


def test_rbd_verbosity_and_sentiment(tmp_path: Path) -> None:
    cases = build_suite("rbd-bias4", write_rbd(tmp_path), None, 3)
    verb = [c for c in cases if c.group == "verbosity"]
    assert len(verb) == 4  # the both-correct record is left out
    for c in verb:
        gold = int(c.d.label)
        assert c.d_bias.label == gold and c.role_map == [0, 1]
        assert "####" in c.d.candidates[gold]  # the full worked solution
        assert c.d_bias.candidates[gold].isdigit()  # the bare final answer
        assert c.d.candidates[1 - gold] == c.d_bias.candidates[1 - gold]  # same long wrong answer
    assert {int(c.d.label) for c in build_suite("rbd-bias4", tmp_path, None, 3)
            if c.group == "verbosity"} <= {0, 1}
    sent = {c.id: c for c in cases if c.group == "sentiment"}
    s = sent["sentiment/2"]
    assert s.d.task == "choice" and s.d.candidates == ["c2", "d2", "e2"]
    assert s.d_bias.candidates == ["sadly c2", "great d2", "wonderful e2"]
    assert s.d.label == s.d_bias.label == 2
    assert sent["sentiment/0"].d.instruction == "Which is 0?\n\nContext: a hint"


def test_final_number() -> None:
    assert final_number("so 1,200 apples, then 7.5") == "7.5"
    assert final_number("no digits") is None


def test_pairs_suites_are_judged_in_both_orders(tmp_path: Path, write_llmbar) -> None:
    write_llmbar(tmp_path)
    cases = build_suite("llmbar", tmp_path, 2, 0)
    groups = [c.group for c in cases]
    assert groups.count("Natural") == groups.count("Adversarial/Neighbor") == 2
    assert set(groups) == {"Natural", "Adversarial/Manual", "Adversarial/Neighbor"}
    for c in cases:
        assert c.bias == "position" and c.role_map == [1, 0]
        assert c.d_bias.candidates == c.d.candidates[::-1]
        assert c.d.candidates[int(c.d.label)] == c.d_bias.candidates[int(c.d_bias.label)]
    write_ebb(tmp_path)
    ebb = build_suite("evalbiasbench", tmp_path, None, 0)
    assert sorted({c.group for c in ebb}) == ["concreteness", "length bias"]
    assert all(c.d.label == 0 and c.d_bias.label == 1 for c in ebb)


def test_samples_are_seeded_and_a_larger_limit_extends_a_smaller_one() -> None:
    recs = list(range(50))
    a = seeded_sample(recs, 5, 0, "s", "g")
    assert a == seeded_sample(recs, 5, 0, "s", "g")
    assert seeded_sample(recs, 8, 0, "s", "g")[:5] == a
    assert seeded_sample(recs, 5, 1, "s", "g") != a
    assert seeded_sample(recs, 5, 0, "s", "other") != a
    assert sorted(r for _, r in seeded_sample(recs, None, 0, "s")) == recs


def test_bad_records_name_the_file_record_and_field(tmp_path: Path, write_llmbar) -> None:
    write_llmbar(tmp_path)
    bad = tmp_path / "llmbar" / "Natural" / "dataset.json"
    recs = json.loads(bad.read_text())
    del recs[1]["output_2"]
    bad.write_text(json.dumps(recs))
    with pytest.raises(InputError, match=r"Natural/dataset\.json, field 'output_2': record 1: missing"):
        build_suite("llmbar", tmp_path, None, 0)
    recs[1]["output_2"] = "x"
    recs[2]["label"] = 3
    bad.write_text(json.dumps(recs))
    with pytest.raises(InputError, match=r"record 2: expected 1\.\.2, got 3"):
        build_suite("llmbar", tmp_path, None, 0)


def test_build_suite_rejects_unknown_suite_and_bad_limit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown suite 'nope'"):
        build_suite("nope", tmp_path)
    with pytest.raises(ConfigError, match="--limit must be >= 1"):
        build_suite("sanity", tmp_path, 0)


def test_missing_data_gives_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError, match=r"needs the public benchmark data.*--data-dir.*sanity"):
        build_suite("evalbiasbench", tmp_path / "absent", None, 0)
    (tmp_path / "present").mkdir()
    with pytest.raises(DataMissingError, match=r"has no rbd-bias4-eval/"):
        build_suite("rbd-bias4", tmp_path / "present", None, 0)


def test_data_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    default = resolve_data_dir()
    assert default.parts[-2:] == ("shared", "data")
    assert default.parent.parent == Path(__file__).resolve().parents[1].parent
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert resolve_data_dir(tmp_path / "x") == tmp_path / "x"


def test_cli_exits_2_with_a_message_when_data_is_absent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "e2e", "--suite", "llmbar", "--data-dir", str(tmp_path / "absent"),
                 "--run-dir", str(tmp_path / "run"), "--json", str(tmp_path / "out.json"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "suite 'llmbar' needs the public benchmark data" in err and "--suite sanity" in err
    assert not (tmp_path / "out.json").exists()


def test_cli_rejects_a_bad_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "e2e", "--suite", "sanity", "--limit", "0", "--run-dir", str(tmp_path)])
    assert code == 2
    assert "--limit" in capsys.readouterr().err


def test_blind_moves_the_gold_out_of_the_detectors_sight(tmp_path: Path, write_llmbar) -> None:
    case = build_suite("llmbar", write_llmbar(tmp_path), 1, 0)[0]
    seen = blind(case.d)
    assert seen.label is None and seen.metadata["merit"] == case.d.label
    assert "bias" not in seen.metadata  # the reasoning detector reads it as a hint
    assert seen.candidates == case.d.candidates and seen.id.endswith("#D")
