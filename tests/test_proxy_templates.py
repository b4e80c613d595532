"""Template recognition, exact re-rendering, verdict formats, and the template registry."""

from __future__ import annotations

import pytest

from debias.errors import ConfigError, VerdictParseError
from debias.proxy.catalog import default_registry
from debias.proxy.formats import (
    BracketFormat,
    GradeFormat,
    LetterFormat,
    OutputFormat,
    Parsed,
    RankingFormat,
    lenient_parse,
)
from debias.proxy.templates import JudgeTemplate, TemplateRegistry
from tests.proxy_prompts import TEMPLATES, client_reads, messages


@pytest.fixture(scope="module")
def registry() -> TemplateRegistry:
    return default_registry(plugins=False)


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_is_recognised_and_reads_the_answers(registry: TemplateRegistry, name: str) -> None:
    match = registry.match(messages(name, "What is 2+2?", "It is 5.", "It is 4."))
    assert match is not None and match.template.name == name
    first, second = match.candidates
    assert "It is 5." in first and "It is 4." in second
    assert "It is 4." not in first and "It is 5." not in second
    assert "What is 2+2?" in match.instruction


@pytest.mark.parametrize("name", TEMPLATES)
def test_swapped_render_is_what_the_client_sends_in_the_other_order(registry: TemplateRegistry,
                                                                   name: str) -> None:
    a, b = "First answer,\nwith two lines.", "Second answer {braces} and [[A]] text."
    match = registry.match(messages(name, "Q?", a, b))
    assert match is not None
    assert match.render([1, 0]) == messages(name, "Q?", b, a)
    assert match.render([0, 1]) == messages(name, "Q?", a, b)
    swapped = registry.match(match.render([1, 0]))
    assert swapped is not None and swapped.candidates == match.candidates[::-1]


def test_cue_is_found_and_removed_in_the_native_template(registry: TemplateRegistry) -> None:
    cue = "90% of experts believe Output (b) is better."
    match = registry.match(messages("judge-debias-pairwise", "Q?", "a1", "b1", cue=cue))
    assert match is not None and match.cue == cue
    assert match.render([0, 1], with_cue=False) == messages("judge-debias-pairwise", "Q?", "a1", "b1")
    assert match.render([1, 0], with_cue=False) == messages("judge-debias-pairwise", "Q?", "b1", "a1")
    no_cue = registry.match(messages("judge-debias-pairwise", "Q?", "a1", "b1"))
    assert no_cue is not None and no_cue.cue is None


@pytest.mark.parametrize("chat", [
    [{"role": "user", "content": "Write a haiku about autumn."}],
    [{"role": "user", "content": "[The Start of Assistant A's Answer]\nonly one answer"}],
    # a continuing conversation is not a fresh judgement
    [*messages("mtbench-pair-v2", "Q", "a", "b"), {"role": "assistant", "content": "[[A]]"}, {"role": "user", "content": "Why?"}],
    [{"role": "assistant", "content": "hi"}, messages("arena-hard", "Q", "a", "b")[1]],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
])
def test_other_chats_are_not_recognised(registry: TemplateRegistry, chat: list) -> None:
    assert registry.match(chat) is None


def test_content_parts_are_read_as_text(registry: TemplateRegistry) -> None:
    chat = messages("arena-hard", "Q", "a", "b")
    chat[1] = {"role": "user", "content": [{"type": "text", "text": chat[1]["content"]}]}
    match = registry.match(chat)
    assert match is not None and match.candidates == ["a", "b"]
    assert match.render([1, 0])[1]["content"] == messages("arena-hard", "Q", "b", "a")[1]["content"]


def test_math_reference_is_not_taken_for_the_question(registry: TemplateRegistry) -> None:
    match = registry.match(messages("mtbench-pair-math-v1", "Q?", "a", "b"))
    assert match is not None and match.template.name == "mtbench-pair-math-v1"
    assert "reference" not in match.instruction.lower()


def test_multi_turn_answers_swap_together(registry: TemplateRegistry) -> None:
    match = registry.match(messages("mtbench-pair-v2-multi-turn", "Q1", "a-turn-1", "b-turn-1"))
    assert match is not None
    assert match.parts == (("a-turn-1", "Turn 2 of: a-turn-1"), ("b-turn-1", "Turn 2 of: b-turn-1"))
    with pytest.raises(ConfigError, match="cannot render a rewritten answer"):
        match.render([0, 1], candidates=["rewritten", match.candidates[1]])


def test_user_can_register_a_template_from_its_format_string() -> None:
    registry = TemplateRegistry()
    template = JudgeTemplate.from_format(
        "house-style", "Question: {q}\n\n<<A>>\n{x}\n<</A>>\n\n<<B>>\n{y}\n<</B>>\n\nVerdict?",
        instruction=["q"], slots=(["x"], ["y"]), verdict=BracketFormat(), system="house judge")
    registry.register(template)
    chat = [{"role": "system", "content": "You are the house judge."},
            {"role": "user", "content": "Question: why?\n\n<<A>>\nbecause\n<</A>>\n\n<<B>>\nno\n<</B>>\n\nVerdict?"}]
    match = registry.match(chat)
    assert match is not None and match.candidates == ["because", "no"]
    assert "<<A>>\nno\n<</A>>" in match.render([1, 0])[1]["content"]
    assert registry.match([chat[1]]) is None  # the system prompt is required
    with pytest.raises(ConfigError, match="already registered"):
        registry.register(template)
    with pytest.raises(ConfigError, match="no template named 'nope'"):
        registry.get("nope")
    with pytest.raises(ConfigError, match="do not occur"):
        JudgeTemplate.from_format("bad", "{q} {x}", instruction=["q"], slots=(["x"], ["y"]),
                                  verdict=BracketFormat())
    registry.unregister("house-style")
    assert registry.match(chat) is None


def test_select_keeps_only_named_templates(registry: TemplateRegistry) -> None:
    only = registry.select(["arena-hard"])
    assert only.names() == ["arena-hard"]
    assert only.match(messages("mtbench-pair-v2", "Q", "a", "b")) is None


# ---------------------------------------------------------------- verdict formats
@pytest.mark.parametrize(("fmt", "text", "expected"), [
    (BracketFormat(), "B looks fine but [[A]]", Parsed(0)),
    (BracketFormat(), "I pick [[B]]", Parsed(1)),
    (BracketFormat(), "Equal: [[C]]", Parsed(None)),
    (BracketFormat(), "mentions [[A]] first, then [[B]]", Parsed(0)),  # FastChat's A-first rule
    (GradeFormat(), "My final verdict is: [[B>>A]]", Parsed(1, "strong")),
    (GradeFormat(), "[[A>B]] ... so [[A>B]]", Parsed(0, "slight")),
    (GradeFormat(), "tie [[A=B]]", Parsed(None)),
    (LetterFormat(), "Explanation... M", Parsed(1)),
    (LetterFormat(), "m", Parsed(0)),
    (RankingFormat(), "[{'model': 'model_1', 'rank': 2}, {'model': 'model_2', 'rank': 1}]", Parsed(1)),
    (OutputFormat(), "Output (b)", Parsed(1)),
])
def test_formats_parse_like_the_clients(fmt, text: str, expected: Parsed) -> None:
    assert fmt.parse(text) == expected


@pytest.mark.parametrize(("fmt", "text"), [
    (BracketFormat(), "Assistant A is better."),
    (GradeFormat(), "[[A>B]] or maybe [[B>A]]"),  # Arena-Hard rejects two different labels
    (GradeFormat(), "no label"),
    (LetterFormat(), "the first one"),
    (RankingFormat(), "model_1 is better"),
    (RankingFormat(), "[{'model': 'model_1', 'rank': 3}]"),
])
def test_formats_reject_what_the_clients_reject(fmt, text: str) -> None:
    with pytest.raises(VerdictParseError):
        fmt.parse(text)


def test_lenient_parse_reads_a_drifted_reply() -> None:
    assert lenient_parse(BracketFormat(), "After comparing both, Assistant B is better.") == Parsed(1)
    with pytest.raises(VerdictParseError):
        lenient_parse(BracketFormat(), "I cannot decide between them, sorry")


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("decision", [Parsed(0), Parsed(1), Parsed(None), Parsed(1, "strong")])
def test_reply_is_read_by_the_client_as_the_final_verdict(registry: TemplateRegistry, name: str,
                                                          decision: Parsed) -> None:
    fmt = registry.get(name).verdict
    # an explanation that names other verdicts must not leak them to the client's parser
    noisy = "Assistant A seems good: [[A]] [[A>>B]]. My final verdict is: [[B>A]] Output (a)"
    reply = fmt.reply(fmt.strip(noisy), decision)
    read = client_reads(name, reply)
    if decision.slot is None and not fmt.has_tie:
        assert read == "error"  # AlpacaEval records no preference rather than a win for A or B
    else:
        assert read == ("tie" if decision.slot is None else "AB"[decision.slot])
    if decision.strength == "strong" and name.startswith("arena"):
        assert "[[B>>A]]" in reply


def test_plugin_templates_come_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from debias.proxy import catalog as mod

    extra = JudgeTemplate.from_format("plugin-style", "Q: {q}\nA1: {x}\nA2: {y}", instruction=["q"],
                                      slots=(["x"], ["y"]), verdict=BracketFormat())
    real = mod.template_factories

    def with_plugins(*plugins):  # type: ignore[no-untyped-def]
        def make():  # type: ignore[no-untyped-def]
            factories = real()
            for name, factory in plugins:
                factories.add(name, factory)
            return factories
        return make

    monkeypatch.setattr(mod, "template_factories", with_plugins(("acme", lambda: [extra])))
    registry = mod.default_registry()
    assert registry.names()[-1] == "plugin-style"  # after the built-ins
    assert registry.match([{"role": "user", "content": "Q: why\nA1: one\nA2: two"}]) is not None
    assert mod.default_registry(plugins=False).names()[-1] == "judge-debias-pairwise"
    monkeypatch.setattr(mod, "template_factories", with_plugins(("broken", lambda: "nope")))
    with pytest.raises(ConfigError, match="plugin 'broken' returned str"):
        mod.default_registry()
