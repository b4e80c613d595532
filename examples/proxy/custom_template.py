"""Serve the proxy with an extra judge template of your own.

    python examples/proxy/custom_template.py --judge openai/gpt-4o-mini

A template is its format string: placeholders name the instruction and each answer (one
placeholder per answer, or one per turn for multi-turn layouts); any other placeholder
(a reference answer) is matched as free text. ``optional`` sections (with ``cue_section``)
mark a cue the bandwagon probe may remove. The verdict format says how the judge answers;
the built-in ones are ``BracketFormat`` ([[A]]/[[B]]/[[C]]), ``GradeFormat`` (Arena-Hard),
``LetterFormat`` (one-token labels), ``RankingFormat`` (AlpacaEval ranking) and
``OutputFormat`` (Output (a)/(b)). Packages can ship templates through the
``judge_debias.proxy_templates`` entry-point group instead.
"""

from __future__ import annotations

import argparse

from debias.proxy import BracketFormat, JudgeTemplate, ProxyConfig, default_registry

HOUSE = ("Question: {question}\n\n{hint}"
         "<<Answer A>>\n{a}\n<</Answer A>>\n\n<<Answer B>>\n{b}\n<</Answer B>>\n\n"
         "Which answer is better? End with [[A]], [[B]] or [[C]] for a tie.")


def house_template() -> JudgeTemplate:
    """The house template (also usable as an entry point: it takes no arguments)."""
    return JudgeTemplate.from_format(
        "house-style", HOUSE, instruction=["question"], slots=(["a"], ["b"]),
        verdict=BracketFormat(), optional={"hint": "Note: {cue}\n\n"}, cue_section="hint",
        description="our internal pairwise judge prompt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judge", required=True)
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    from debias.proxy.server import serve

    registry = default_registry()
    registry.register(house_template())
    serve(ProxyConfig(judge=args.judge, api_base=args.api_base, detectors="position,bandwagon"),
          port=args.port, registry=registry)


if __name__ == "__main__":
    main()
