"""Where templates come from: the built-in ones and installed plugins' (entry-point group
``judge_debias.proxy_templates``), assembled into a :class:`TemplateRegistry`."""

from __future__ import annotations

from debias.errors import ConfigError
from debias.proxy.builtin import builtin_templates
from debias.proxy.templates import ENTRY_POINT_GROUP, JudgeTemplate, TemplateRegistry
from debias.registry import Registry


def template_factories() -> Registry[JudgeTemplate | list[JudgeTemplate]]:
    """A registry of template factories: the built-in ones, plus those of installed plugins
    (entry-point group ``judge_debias.proxy_templates``; each value is a zero-argument
    callable returning a :class:`JudgeTemplate` or a list of them)."""
    factories: Registry[JudgeTemplate | list[JudgeTemplate]] = Registry("proxy template",
                                                                         group=ENTRY_POINT_GROUP)
    factories.add("builtin", builtin_templates)
    return factories


def default_registry(*, plugins: bool = True) -> TemplateRegistry:
    """A new registry with the built-in templates first, then installed plugins' ones.

    Raises:
        ConfigError: A plugin's factory does not return templates, or reuses a name.
    """
    factories = template_factories()
    registry = TemplateRegistry()
    names = ["builtin", *(n for n in factories.names() if n != "builtin")] if plugins else ["builtin"]
    for name in names:
        made = factories.create(name)
        for template in made if isinstance(made, list | tuple) else [made]:
            if not isinstance(template, JudgeTemplate):
                raise ConfigError(f"proxy template plugin {name!r} returned "
                                  f"{type(template).__name__}, not a JudgeTemplate")
            registry.register(template)
    return registry
