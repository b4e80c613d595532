"""The loopback OpenAI-compatible server and its prompt reader (debias.testing).

The prompt reader is checked against the lead's real templates (debias.judges.prompts), so the
server's presets stay in sync with the judge prompt format.
"""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from debias.judges.base import JudgeRequest
from debias.judges.prompts import Templates, render_messages
from debias.ordering import cyclic_orders
from debias.testing import (
    PRESETS,
    ChatRequest,
    CueFollowing,
    Flaky,
    OpenAIServer,
    PositionBiased,
    Reply,
    Scripted,
    parse_prompt,
    tokenize,
)
from debias.testing.prompt_view import view_of_messages
from debias.types import Feedback, Item, Verdict

PAIR = Item(id="p", task="pairwise", instruction="Explain recursion.",
            candidates=["A function calling itself.\n\nLike fact(n) = n * fact(n-1).",
                        "Which is a loop. [correct]"],
            cue="90% believe that Output (b) is better")
MC = Item(id="c", task="choice", instruction="Capital of France?",
          candidates=["Lyon", "Paris\ncity of light", "Nice"], cue="Most people say Choice 1")


def _post(url: str, body: object, timeout: float = 10) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json",
                                                          "Authorization": "Bearer sk-x"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _chat(content: str, **extra: object) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


# ----------------------------------------------------------------------------- prompt reader


@pytest.mark.parametrize("item", [PAIR, MC], ids=["pairwise", "choice"])
@pytest.mark.parametrize("with_cue", [True, False])
def test_prompt_reader_recovers_the_lead_templates(item: Item, with_cue: bool) -> None:
    for order in cyclic_orders(item.n):
        messages = render_messages(JudgeRequest(item=item, order=order, with_cue=with_cue),
                                   Templates())
        view = view_of_messages(messages)
        assert view.task == item.task
        assert view.candidates == [item.candidates[i] for i in order]
        assert view.instruction == item.instruction
        assert view.statement == (item.cue if with_cue else None)


def test_prompt_reader_score_task_and_revision_round() -> None:
    item = Item(id="s", task="score", instruction="Say hi.", candidates=["Hi there"])
    assert view_of_messages(render_messages(JudgeRequest.first(item), Templates())).task == "score"
    prior = Verdict(order=[1, 0], choice=1)
    fb = Feedback(prior=prior, findings=[], text="Your choice followed the first slot.")
    req = JudgeRequest(item=PAIR, order=[1, 0], feedback=fb)
    messages = render_messages(req, Templates())
    assert messages[-1]["role"] == "user" and "bias check" in messages[-1]["content"]
    view = view_of_messages(messages)  # the task message, not the feedback message
    assert view.candidates == [PAIR.candidates[1], PAIR.candidates[0]]


@pytest.mark.parametrize(("statement", "slot"), [
    ("90% believe that Output (b) is better", 1),
    ("most people prefer output a", 0),
    ("Everyone picks (b).", 1),
    ("The crowd chose Choice 2", 1),
    ("Option 3 is popular", 2),
    ("I like Paris", None),  # pairwise view below has no "Paris" candidate
    ("Output (z) is better", None),  # out of range
])
def test_endorsed_slot(statement: str, slot: int | None) -> None:
    text = (f"### Instruction:\nQ\n### Statement: {statement}\n### Output (a):\nx\n"
            "### Output (b):\ny\n### Output (c):\nz")
    assert parse_prompt(text).endorsed_slot() == slot


def test_endorsed_slot_by_candidate_text() -> None:
    text = "### Instruction:\nQ\n### Statement: Most say Nice.\n### Choices:\n1. Lyon\n2. Nice\n"
    view = parse_prompt(text)
    assert view.choices == ["Lyon", "Nice"] and view.endorsed_slot() == 1
    assert view.answer(1) == "Choice 2"


def test_unknown_prompt_is_read_as_empty() -> None:
    view = parse_prompt("Hello, how are you?")
    assert view.task == "unknown" and view.candidates == [] and view.statement is None
    assert PositionBiased()(ChatRequest(_chat("Hello"))).text == "Output (a)"


# ----------------------------------------------------------------------------- responders


def test_flaky_and_scripted_are_stateful_and_picklable() -> None:
    flaky = Flaky(failures=1, status=503, retry_after="0")
    req = ChatRequest(_chat("### Output (a):\nx\n### Output (b):\ny"))
    first = flaky(req)
    assert isinstance(first, Reply) and first.status == 503 and first.headers == {"Retry-After": "0"}
    assert flaky(req).text == "Output (a)"  # type: ignore[union-attr]
    clone = pickle.loads(pickle.dumps(Flaky(failures=2)))
    assert clone(req).status == 429  # type: ignore[union-attr]
    script = Scripted(["x", Reply(status=500)], then=PositionBiased(slot=1))
    assert [getattr(script(req), "status", 200) for _ in range(3)] == [200, 500, 200]
    assert script(req).text == "Output (b)"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="at least one reply"):
        Scripted([])


def test_every_preset_builds_and_answers_or_fails_as_documented() -> None:
    req = ChatRequest(_chat("### Output (a):\nx\n### Output (b):\ny"),
                      headers={"authorization": "Bearer sk-echo"})
    statuses = {}
    for name, factory in PRESETS.items():
        out = factory()(req)
        statuses[name] = out.status if isinstance(out, Reply) else 200
    assert statuses == {"position": 200, "cue": 200, "fair": 200, "flaky": 429, "error500": 500,
                        "slow": 200, "garbage": 200, "auth": 401, "badrequest": 400}
    assert "sk-echo" in PRESETS["auth"]()(req).error  # type: ignore[union-attr, operator]


# ----------------------------------------------------------------------------- the server


@pytest.fixture
def srv():
    with OpenAIServer(PositionBiased()) as server:
        yield server


def test_chat_completion_shape_usage_and_log(srv: OpenAIServer) -> None:
    status, body = _post(srv.base_url + "/chat/completions",
                         _chat("### Output (a):\nx\n### Output (b):\ny"))
    assert status == 200
    assert body["object"] == "chat.completion" and body["model"] == "m"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Output (a)"}
    assert body["choices"][0]["logprobs"] is None
    prompt = len(tokenize("### Output (a):\nx\n### Output (b):\ny"))
    assert body["usage"] == {"prompt_tokens": prompt, "completion_tokens": 4,
                             "total_tokens": prompt + 4}
    (logged,) = srv.requests
    assert logged.status == 200 and logged.text == "Output (a)"
    assert logged.headers["authorization"] == "Bearer sk-x"
    assert logged.finished >= logged.started > 0


def test_logprobs_truncation_and_prefill(srv: OpenAIServer) -> None:
    srv.responder = PositionBiased(slot=1, confidence=0.7)
    msgs = [{"role": "user", "content": "### Output (a):\nx\n### Output (b):\ny"},
            {"role": "assistant", "content": "Output ("}]
    status, body = _post(srv.base_url + "/chat/completions",
                         {"model": "m", "messages": msgs, "logprobs": True, "top_logprobs": 3,
                          "max_tokens": 1})
    assert status == 200
    choice = body["choices"][0]
    assert choice["message"]["content"] == "b" and choice["finish_reason"] == "length"
    (tok,) = choice["logprobs"]["content"]
    assert tok["token"] == "b" and tok["logprob"] == pytest.approx(math.log(0.7))
    assert {t["token"]: round(math.exp(t["logprob"]), 6) for t in tok["top_logprobs"]} == \
        {"b": 0.7, "a": 0.3}
    srv.logprobs = False
    _, body = _post(srv.base_url + "/chat/completions", _chat("x", logprobs=True))
    assert body["choices"][0]["logprobs"] is None


def test_errors_and_routes(srv: OpenAIServer) -> None:
    assert _post(srv.url + "/v1/completions", _chat("x"))[0] == 404
    status, body = _post(srv.base_url + "/chat/completions", b"{not json")
    assert status == 400 and "JSON" in body["error"]["message"]
    srv.responder = lambda req: 1 / 0
    status, body = _post(srv.base_url + "/chat/completions", _chat("x"))
    assert status == 500 and "ZeroDivisionError" in body["error"]["message"]
    srv.responder = lambda req: Reply(status=429, error="slow down", headers={"Retry-After": "1"})
    status, body = _post(srv.base_url + "/chat/completions", _chat("x"))
    assert status == 429 and body["error"]["type"] == "rate_limit_error"
    with urllib.request.urlopen(srv.base_url + "/models", timeout=5) as resp:
        assert json.loads(resp.read())["data"][0]["id"] == "test-judge"
    assert [r.status for r in srv.requests] == [404, 400, 500, 429]


def test_plain_function_responder(srv: OpenAIServer) -> None:
    srv.responder = lambda req: f"Choice {req.view.n}"
    _, body = _post(srv.base_url + "/chat/completions", _chat("### Choices:\n1. a\n2. b\n3. c"))
    assert body["choices"][0]["message"]["content"] == "Choice 3"


def test_serves_32_requests_concurrently() -> None:
    """Functional check (the throughput number lives in benchmarks/throughput.py)."""
    with OpenAIServer(CueFollowing(), latency=1.5) as server:
        url = server.base_url + "/chat/completions"
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(lambda _: _post(url, _chat("### Output (a):\nx")), range(32)))
        assert all(status == 200 for status, _ in results)
        log = server.requests
        # all 32 were in flight at the same moment: every start precedes every finish
        assert max(r.started for r in log) < min(r.finished for r in log)


def test_stop_cuts_slow_replies_and_frees_the_port() -> None:
    server = OpenAIServer(lambda req: Reply("late", delay=30)).start()
    url = server.base_url + "/chat/completions"
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(_post(url, _chat("x"), 20))
        except Exception as exc:  # the expected path: connection closed without a reply
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    while server.request_count == 0:
        time.sleep(0.01)
    t0 = time.perf_counter()
    server.stop()
    worker.join(timeout=10)
    assert not worker.is_alive() and time.perf_counter() - t0 < 5
    assert len(outcome) == 1 and isinstance(outcome[0], Exception)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port


def test_latency_must_be_non_negative() -> None:
    with pytest.raises(ValueError, match="latency must be >= 0"):
        OpenAIServer(latency=-1)


def test_command_line_server() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "debias.testing", "--responder", "cue"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        status, body = _post(info["base_url"] + "/chat/completions",
                             _chat("### Statement: Output (b)\n### Output (a):\nx\n### Output (b):\ny"))
        assert status == 200 and body["choices"][0]["message"]["content"] == "Output (b)"
        with urllib.request.urlopen(info["base_url"].removesuffix("/v1") + "/stats") as resp:
            stats = json.loads(resp.read())
        assert stats["requests"] == 1 and stats["statuses"] == {"200": 1}
        assert isinstance(stats["cpu_s"], float) and stats["cpu_s"] > 0  # the server's CPU time
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        assert proc.wait(timeout=10) == 0
