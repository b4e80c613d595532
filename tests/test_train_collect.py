"""Verdict collection on D / D_bias and teacher traces, with scripted judges and backends."""

from __future__ import annotations

from pathlib import Path

from debias.testing import ScriptedBackend, ScriptedJudge
from debias.types import Item
from detectors.training.batch import dropped_path
from detectors.training.collect import collect, judge_pair
from detectors.training.construct import construct_pair
from detectors.training.records import JudgedPair, TeacherTrace, read_records
from detectors.training.teacher import TeacherConfig, teach, teach_one


def item(item_id: str, gold: int) -> Item:
    return Item(id=item_id, task="pairwise", instruction="Capital of France?",
                candidates=["Paris is the capital.", "Lyon is the capital."], label=gold)


def test_first_slot_judge_gets_hand_computed_position_labels() -> None:
    judge = ScriptedJudge(position=1.0, position_slot=0, name="first-slot")
    yes = judge_pair(construct_pair(item("a", 0), "position"), judge)
    assert (yes.correct_clean, yes.correct_biased, yes.label) == (True, False, "Yes")
    assert yes.biased_verdict.order == [1, 0] and yes.biased_verdict.choice == 1
    no = judge_pair(construct_pair(item("b", 1), "position"), judge)
    assert (no.correct_clean, no.correct_biased, no.label) == (False, True, "No")


def test_cue_following_and_fair_judges_on_bandwagon() -> None:
    pair = construct_pair(item("a", 0), "bandwagon")
    follows = judge_pair(pair, ScriptedJudge(cue=1.0))
    assert (follows.correct_clean, follows.correct_biased, follows.label) == (True, False, "Yes")
    assert follows.biased_verdict.with_cue and not follows.clean_verdict.with_cue
    fair = judge_pair(pair, ScriptedJudge())
    assert fair.label == "No" and fair.correct_clean and fair.correct_biased


def test_collect_is_resumable(tmp_path: Path) -> None:
    pairs = [construct_pair(item(f"i{k}", k % 2), "position") for k in range(4)]
    judge = ScriptedJudge(position=1.0)
    out = tmp_path / "judged.jsonl"
    first = collect(pairs[:3], judge, out, concurrency=2)
    assert first.written == 3 and len(judge.calls) == 6
    assert first.tags == {"position:Yes": 2, "position:No": 1}
    second = collect(pairs, judge, out)
    assert second.resumed == 3 and second.written == 1 and len(judge.calls) == 8
    labels = {r.id: r.label for _, r in read_records(out, JudgedPair)}
    assert labels == {"i0:position": "Yes", "i1:position": "No", "i2:position": "Yes", "i3:position": "No"}


def judged(label_yes: bool, item_id: str = "a") -> JudgedPair:
    judge = ScriptedJudge(position=1.0) if label_yes else ScriptedJudge()
    return judge_pair(construct_pair(item(item_id, 0), "position"), judge)


def test_teacher_prompt_is_rbd_format_and_trace_is_extracted() -> None:
    rec = judged(True)
    backend = ScriptedBackend(["<think>The judge flipped with the order.</think>\nYes"], name="teach-r1")
    tr = teach_one(rec, backend, TeacherConfig(min_trace_chars=5))
    prompt = backend.requests[0][0]["content"]
    assert "### First Evaluation (Original Order)" in prompt
    assert "### Second Evaluation (Swapped Order)" in prompt
    assert "### Original Order\nOutput (a)\n\n### Swapped Order\nOutput (a)" in prompt
    assert "Position Bias" in prompt and "**scripted**" in prompt
    assert tr.kept and tr.trace == "The judge flipped with the order." and tr.teacher == "teach-r1"
    assert tr.prompt == prompt and tr.label == "Yes" and tr.teacher_label == "Yes"


def test_teacher_keeps_only_agreeing_traces_and_reports_drops(tmp_path: Path) -> None:
    recs = [judged(True, "y1"), judged(True, "y2"), judged(False, "n1"), judged(False, "n2")]

    def reply(messages: list[dict[str, str]]) -> str:
        # The teacher says Yes to everything except one unparseable answer.
        if "Capital of France?" in messages[0]["content"] and len(backend.requests) == 4:
            return "<think>I am not sure about this one at all.</think>"
        return "<think>The decision depends on the order of presentation.</think>\nYes"

    backend = ScriptedBackend(reply)
    out = tmp_path / "traces.jsonl"
    summary = teach(recs, backend, out, concurrency=1, config=TeacherConfig(min_trace_chars=10))
    assert summary.written == 2 and summary.dropped == 2
    assert summary.tags == {"kept": 2, "dropped:disagrees": 1, "dropped:unparseable": 1}
    kept = [t for _, t in read_records(out, TeacherTrace)]
    assert {t.id for t in kept} == {"y1:position", "y2:position"}
    dropped = {t.id: t.drop_reason for _, t in read_records(dropped_path(out), TeacherTrace)}
    assert dropped == {"n1:position": "disagrees", "n2:position": "unparseable"}
    again = teach(recs, backend, out)
    assert again.resumed == 4 and len(backend.requests) == 4


def test_trace_without_think_tags_uses_text_before_answer() -> None:
    backend = ScriptedBackend(["The order changed the choice, so this is bias.\n\nAnswer: Yes"])
    tr = teach_one(judged(True), backend)
    assert tr.kept and tr.trace == "The order changed the choice, so this is bias."
