"""Send an MT-Bench pairwise judge prompt through ``debias serve`` with the openai SDK.

    debias serve --judge openai-compat:gpt-4o --api-base https://api.openai.com/v1 &
    python examples/proxy/client.py [--base-url http://127.0.0.1:8000/v1]

The prompt is exactly what FastChat's ``gen_judgment.py`` sends (``pair-v2``); only the
base URL differs. The reply's verdict token is the debiased one; the findings are in the
``x-debias-*`` headers and the ``debias`` field.
"""

from __future__ import annotations

import argparse
import os

import openai

SYSTEM = ("Please act as an impartial judge and evaluate the quality of the responses provided by "
          "two AI assistants to the user question displayed below. [...] output your final verdict "
          'by strictly following this format: "[[A]]" if assistant A is better, "[[B]]" if '
          'assistant B is better, and "[[C]]" for a tie.')
USER = ("[User Question]\n{question}\n\n"
        "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
        "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key=os.environ.get("OPENAI_API_KEY", "unused"))
    user = USER.format(question="What is the capital of Australia?",
                       answer_a="Sydney, the largest and best-known city of Australia.",
                       answer_b="Canberra.")
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4", temperature=0, max_tokens=1024,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}])
    completion = raw.parse()
    print(completion.choices[0].message.content)
    print({k: v for k, v in raw.headers.items() if k.startswith("x-debias")})
    print((completion.model_extra or {}).get("debias", {}).get("stop_reason"))


if __name__ == "__main__":
    main()
