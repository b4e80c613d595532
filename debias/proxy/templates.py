"""Judge prompt templates: recognise a client's judge prompt, re-render it with the order
swapped or the cue removed, and know the template's verdict format.

A :class:`JudgeTemplate` is data: a regular expression over the user message with named
groups for the instruction parts, each answer slot's parts and an optional removable cue
section, plus a :class:`~debias.proxy.formats.VerdictFormat`. :meth:`JudgeTemplate.from_format`
builds one from the benchmark's own ``str.format``-style prompt template (FastChat's
``prompt_template``, Arena-Hard's, AlpacaEval's ``{output_1}``...), so a user adds a
template by pasting theirs.

Re-rendering replaces the text spans of the answers in the client's own message, so the
swapped prompt is the client's message, byte for byte, with the answers exchanged: what
the client would have sent with the order swapped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from debias.errors import ConfigError
from debias.proxy.formats import VerdictFormat

Message = dict[str, Any]
ENTRY_POINT_GROUP = "judge_debias.proxy_templates"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SPACE = re.compile(r"\s+")


def _literal(text: str) -> str:
    """A regex for template text: exact, except that any whitespace run matches any run."""
    parts = _SPACE.split(text)
    return r"\s+".join(re.escape(p) for p in parts)


def format_to_regex(template: str, fields: Iterable[str], optional: Mapping[str, str] | None = None) -> str:
    """Turn a ``{field}`` template into a regex with one named group per field.

    Args:
        template: The prompt template; ``{name}`` is a placeholder when ``name`` is in
            ``fields`` or ``optional``, any other brace text is literal (AlpacaEval's
            templates contain literal ``{`` ``}``).
        fields: Placeholder names; a repeated one must repeat the same text (backreference).
        optional: Placeholders standing for an optional section, by name -> the section's
            own template (e.g. ``{"statement": "### Statement: {cue}\\n\\n"}``).

    Returns:
        The regex source (whitespace-tolerant literals, lazy groups).
    """
    known = set(fields)
    optional = dict(optional or {})
    seen: set[str] = set()
    out: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        name = m.group(1)
        if name not in known and name not in optional:
            continue
        out.append(_literal(template[pos:m.start()]))
        if name in optional:
            inner = set(_PLACEHOLDER.findall(optional[name]))
            out.append(f"(?P<{name}>{format_to_regex(optional[name], inner)})?")
            seen |= inner
        elif name in seen:
            out.append(f"(?P={name})")
        else:
            out.append(f"(?P<{name}>.*?)")
        seen.add(name)
        pos = m.end()
    out.append(_literal(template[pos:]))
    return "".join(out)


def _content(message: Message) -> str | None:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    return None


@dataclass(frozen=True)
class JudgeTemplate:
    """A recognisable pairwise judge template.

    Attributes:
        name: Registry name (``mtbench-pair-v2``, ``arena-hard`` ...).
        pattern: Regex over the whole user message (whitespace around it ignored).
        instruction: Group names whose texts form the instruction, in order.
        slots: Per display slot, the group names of that answer's parts (one part for a
            single answer; one per turn for multi-turn templates).
        verdict: The template's verdict format.
        marker: A literal that every prompt of this template contains (fast pre-filter).
        cue_section: Group spanning a removable cue section (with an inner ``cue`` group),
            or None when the template shows no cue.
        system: Regex the system message must contain (``search``), or None (any or none).
        description: One line for ``GET /v1/templates`` and the docs.
        source: Where the template comes from.
    """

    name: str
    pattern: re.Pattern[str]
    instruction: tuple[str, ...]
    slots: tuple[tuple[str, ...], tuple[str, ...]]
    verdict: VerdictFormat
    marker: str = ""
    cue_section: str | None = None
    system: re.Pattern[str] | None = None
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        groups = set(self.pattern.groupindex)
        needed = set(self.instruction) | {g for s in self.slots for g in s}
        if self.cue_section:
            needed |= {self.cue_section, "cue"}
        missing = sorted(needed - groups)
        if missing:
            raise ConfigError(f"template {self.name!r}: the pattern lacks the groups {missing}")
        if len(self.slots) != 2 or len(self.slots[0]) != len(self.slots[1]) or not self.slots[0]:
            raise ConfigError(f"template {self.name!r}: slots must be two equal, non-empty "
                              f"tuples of group names, got {self.slots!r}")
        if not isinstance(self.verdict, VerdictFormat):
            raise ConfigError(f"template {self.name!r}: verdict {self.verdict!r} is not a VerdictFormat")

    @classmethod
    def from_format(cls, name: str, template: str, *, instruction: Sequence[str],
                    slots: tuple[Sequence[str], Sequence[str]], verdict: VerdictFormat,
                    optional: Mapping[str, str] | None = None, cue_section: str | None = None,
                    system: str | None = None, marker: str | None = None,
                    description: str = "", source: str = "") -> JudgeTemplate:
        """Build a template from a ``str.format``-style prompt template.

        Args:
            name: Registry name.
            template: The user-message template, e.g. FastChat's ``prompt_template``.
            instruction: Placeholders forming the instruction (``["question"]``).
            slots: Placeholders of each answer slot (``(["answer_a"], ["answer_b"])``).
            verdict: The verdict format.
            optional: Optional sections (see :func:`format_to_regex`).
            cue_section: The optional section that shows the cue (must contain ``{cue}``).
            system: Text the system message must contain (matched literally,
                whitespace-tolerant), or None.
            marker: Pre-filter literal; default: the longest literal line of the template.
            description: One line of description.
            source: Where the template comes from.

        Raises:
            ConfigError: A placeholder named in ``instruction``/``slots`` is not in the template.
        """
        fields = [*instruction, *slots[0], *slots[1]]
        present = set(_PLACEHOLDER.findall(template))
        absent = [f for f in fields if f not in present]
        if absent:
            raise ConfigError(f"template {name!r}: placeholders {absent} do not occur in it")
        # other placeholders (reference answers ...) are matched as free text
        extra = sorted(present - set(fields) - set(optional or {}))
        regex = format_to_regex(template, [*fields, *extra], optional)
        if marker is None:
            lines = [ln.strip() for ln in _PLACEHOLDER.sub("\n", template).splitlines()]
            marker = max(lines, key=len, default="")
        return cls(name=name, pattern=re.compile(rf"\A\s*{regex}\s*\Z", re.S),
                   instruction=tuple(instruction), slots=(tuple(slots[0]), tuple(slots[1])),
                   verdict=verdict, marker=marker, cue_section=cue_section,
                   system=re.compile(_literal(system)) if system else None,
                   description=description, source=source)

    def match(self, messages: Sequence[Message]) -> Match | None:
        """The match of a chat, or None when this template does not recognise it.

        Recognised chats are a fresh judgement: an optional system message and one user
        message whose text the pattern matches (no assistant turns: a continuing
        conversation is not a new judgement).
        """
        if not messages or len(messages) > 2 or messages[-1].get("role") != "user":
            return None
        if len(messages) == 2 and messages[0].get("role") not in ("system", "developer"):
            return None
        text = _content(messages[-1])
        if text is None or (self.marker and self.marker not in text):
            return None
        if self.system is not None:
            sys_text = _content(messages[0]) if len(messages) == 2 else None
            if sys_text is None or not self.system.search(sys_text):
                return None
        m = self.pattern.match(text)
        if m is None:
            return None
        parts = tuple(tuple(m.group(g) for g in slot) for slot in self.slots)
        spans = {g: m.span(g) for slot in self.slots for g in slot}
        cue = None
        if self.cue_section and m.group(self.cue_section) is not None:
            spans[self.cue_section] = m.span(self.cue_section)
            cue = (m.group("cue") or "").strip() or None
        instruction = "\n\n".join(m.group(g).strip() for g in self.instruction)
        return Match(template=self, messages=[dict(x) for x in messages], text=text,
                     spans=spans, parts=(parts[0], parts[1]), instruction=instruction, cue=cue)


def join_parts(parts: Sequence[str]) -> str:
    """One candidate text from an answer's parts (multi-turn: the turns, labelled)."""
    if len(parts) == 1:
        return parts[0]
    return "\n\n".join(f"[Turn {k + 1}]\n{p}" for k, p in enumerate(parts))


@dataclass(frozen=True)
class Match:
    """A client's chat recognised by a template.

    Attributes:
        template: The template that matched.
        messages: The client's messages (copies).
        text: The user message text.
        spans: Text spans of every answer part (and of the cue section when shown).
        parts: Each slot's answer parts, in the client's display order.
        instruction: The instruction text.
        cue: The cue shown, if any.
    """

    template: JudgeTemplate
    messages: list[Message]
    text: str
    spans: dict[str, tuple[int, int]]
    parts: tuple[tuple[str, ...], tuple[str, ...]]
    instruction: str
    cue: str | None = None
    _joined: tuple[str, str] = field(default=("", ""), repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_joined", (join_parts(self.parts[0]), join_parts(self.parts[1])))

    @property
    def candidates(self) -> list[str]:
        """The two answers in the client's order (= the original numbering)."""
        return list(self._joined)

    def _parts_of(self, original: int, candidates: Sequence[str] | None) -> tuple[str, ...]:
        if candidates is None or candidates[original] == self._joined[original]:
            return self.parts[original]
        if len(self.parts[original]) == 1:
            return (candidates[original],)
        raise ConfigError(f"template {self.template.name!r} shows each answer in "
                          f"{len(self.parts[original])} parts and cannot render a rewritten answer")

    def render(self, order: Sequence[int], with_cue: bool = True,
               candidates: Sequence[str] | None = None) -> list[Message]:
        """The client's chat with the answers shown in ``order`` (``order[slot]`` = original
        index) and the cue section removed unless ``with_cue``.

        Args:
            order: Display order.
            with_cue: Keep the cue section.
            candidates: Replacement answer texts (rewrite probes), original numbering.
        """
        edits: list[tuple[int, int, str]] = []
        for slot, groups in enumerate(self.template.slots):
            shown = self._parts_of(order[slot], candidates)
            for group, text in zip(groups, shown, strict=True):
                start, end = self.spans[group]
                edits.append((start, end, text))
        section = self.template.cue_section
        if section and not with_cue and section in self.spans:
            start, end = self.spans[section]
            edits.append((start, end, ""))
        edits.sort()
        out, pos = [], 0
        for start, end, text in edits:
            out.append(self.text[pos:start])
            out.append(text)
            pos = end
        out.append(self.text[pos:])
        messages = [dict(m) for m in self.messages]
        messages[-1] = {**messages[-1], "content": "".join(out)}
        return messages


class TemplateRegistry:
    """Judge templates by name, tried in registration order.

    Third-party packages add templates through the ``judge_debias.proxy_templates``
    entry-point group (see :func:`debias.proxy.catalog.template_factories`); at run time,
    :meth:`register` adds one.
    """

    def __init__(self, templates: Iterable[JudgeTemplate] = ()) -> None:
        self._templates: dict[str, JudgeTemplate] = {}
        for t in templates:
            self.register(t)

    def register(self, template: JudgeTemplate, *, replace: bool = False) -> JudgeTemplate:
        """Add a template (tried after the ones already registered).

        Raises:
            ConfigError: The name is taken and ``replace`` is False, or it is not a template.
        """
        if not isinstance(template, JudgeTemplate):
            raise ConfigError(f"register() needs a JudgeTemplate, got {type(template).__name__}")
        if template.name in self._templates and not replace:
            raise ConfigError(f"a template named {template.name!r} is already registered")
        self._templates[template.name] = template
        return template

    def unregister(self, name: str) -> None:
        """Remove a template.

        Raises:
            ConfigError: No template has that name.
        """
        if name not in self._templates:
            raise ConfigError(f"no template named {name!r}; known: {self.names()}")
        del self._templates[name]

    def get(self, name: str) -> JudgeTemplate:
        """The template named ``name``.

        Raises:
            ConfigError: No template has that name.
        """
        try:
            return self._templates[name]
        except KeyError:
            raise ConfigError(f"no template named {name!r}; known: {self.names()}") from None

    def names(self) -> list[str]:
        """Template names in matching order."""
        return list(self._templates)

    def __iter__(self) -> Any:
        return iter(list(self._templates.values()))

    def __len__(self) -> int:
        return len(self._templates)

    def select(self, names: Iterable[str]) -> TemplateRegistry:
        """A registry with only the named templates (``--templates``), in the given order."""
        return TemplateRegistry(self.get(n) for n in names)

    def match(self, messages: Sequence[Message]) -> Match | None:
        """The first template's match of ``messages``, or None (pass through)."""
        for template in self._templates.values():
            found = template.match(messages)
            if found is not None:
                return found
        return None
