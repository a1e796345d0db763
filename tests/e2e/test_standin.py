"""The offline stand-in endpoint, driven by the real openai SDK over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import BaseModel, Field
from support.helpers import wait_until

from synthgen.standin import StandinConfig, run_in_thread
from synthgen.standin.server import StandinHandle

REPO = Path(__file__).resolve().parents[2]
USER = "Write a classification task about shipping delays and refund requests."


@pytest.fixture(scope="module")
def handle() -> Iterator[StandinHandle]:
    with run_in_thread() as h:
        yield h


@pytest.fixture
def standin(handle: StandinHandle) -> StandinHandle:
    """The shared stand-in with default (fault-free) config and empty stats."""
    handle.set_faults(**StandinConfig().model_dump())
    handle.reset()
    return handle


def client(h: StandinHandle, key: str = "test") -> openai.OpenAI:
    return openai.OpenAI(base_url=h.base_url, api_key=key, max_retries=0, timeout=10)


def chat(c: openai.OpenAI, content: str = USER, **kw: Any) -> Any:
    messages = [
        {"role": "system", "content": "You write data."},
        {"role": "user", "content": content},
    ]
    return c.chat.completions.create(model="gpt-test", messages=messages, **kw)  # type: ignore[arg-type]


def admin(h: StandinHandle, path: str, payload: dict[str, Any] | None = None) -> Any:
    url = h.base_url.removesuffix("/v1") + path
    data = None if payload is None else json.dumps(payload).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as resp:
        return json.loads(resp.read())


class Level(StrEnum):
    low = "low"
    high = "high"


class Pair(BaseModel):
    instruction: str
    input: str
    output: str = Field(min_length=20)


class Batch(BaseModel):
    pairs: list[Pair] = Field(min_length=2, max_length=4)
    urgency: Level
    score: int = Field(ge=1, le=5)
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str
    tags: list[str]
    reviewed: bool
    note: str | None = None


def batch_schema() -> dict[str, Any]:
    return Batch.model_json_schema()


def test_plain_text_reply_usage_and_identity(standin: StandinHandle) -> None:
    raw = client(standin).chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": USER}]
    )
    r = raw.parse()
    assert raw.headers["x-request-id"].startswith("req_standin_")
    assert r.id.startswith("chatcmpl-standin-") and r.object == "chat.completion"
    assert r.model == "gpt-test-standin-0001"  # resolved model differs from the requested one
    assert r.system_fingerprint == "synthgen-standin-NOT-A-MODEL"
    (choice,) = r.choices
    text = choice.message.content
    assert choice.finish_reason == "stop" and choice.message.role == "assistant" and text
    assert 5 <= len(text.split()) <= 120
    assert r.usage is not None
    assert r.usage.prompt_tokens == math.ceil(len(USER) / 4)
    assert r.usage.completion_tokens == math.ceil(len(text) / 4)
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_determinism(standin: StandinHandle) -> None:
    c = client(standin)
    a, b = chat(c, n=2, seed=1), chat(c, n=2, seed=1)
    assert [x.message.content for x in a.choices] == [x.message.content for x in b.choices]
    assert a.id != b.id
    assert a.choices[0].message.content != a.choices[1].message.content
    assert chat(c, seed=2).choices[0].message.content != a.choices[0].message.content
    other = chat(c, "Draft questions about volcano monitoring and seismic sensors.", seed=1)
    assert other.choices[0].message.content != a.choices[0].message.content


def test_texts_are_varied(standin: StandinHandle) -> None:
    texts = [x.message.content for x in chat(client(standin), n=20, seed=3).choices]
    assert len(set(texts)) == 20
    first_words = {" ".join(t.split()[:4]) for t in texts}
    assert len(first_words) >= 15  # no shared boilerplate opening


def test_json_schema_reply_validates(standin: StandinHandle) -> None:
    c = client(standin)
    rf = {"type": "json_schema", "json_schema": {"name": "batch", "schema": batch_schema()}}
    r = chat(c, response_format=rf, n=8, seed=5)
    for choice in r.choices:
        batch = Batch.model_validate_json(choice.message.content)
        for pair in batch.pairs:
            assert pair.instruction.endswith((".", "?"))
    parsed = c.chat.completions.parse(
        model="gpt-test", messages=[{"role": "user", "content": USER}], response_format=Batch
    )
    assert isinstance(parsed.choices[0].message.parsed, Batch)


def test_json_object_with_schema_and_prompted_schema(standin: StandinHandle) -> None:
    c = client(standin)
    schema = batch_schema()
    r = chat(c, response_format={"type": "json_object", "schema": schema})
    Batch.model_validate_json(r.choices[0].message.content)
    prompt = f"{USER}\nJSON schema:\n```json\n{json.dumps(schema, indent=1)}\n```\nReply in JSON."
    r = chat(c, prompt)
    Batch.model_validate_json(r.choices[0].message.content)
    r = chat(c, prompt, response_format={"type": "json_object"})
    Batch.model_validate_json(r.choices[0].message.content)
    r = chat(c, response_format={"type": "json_object"})
    assert isinstance(json.loads(r.choices[0].message.content)["text"], str)


def test_random_429_has_retry_headers(standin: StandinHandle) -> None:
    standin.set_faults(p_429=1.0, retry_after_s=0.25)
    with pytest.raises(openai.RateLimitError) as ei:
        chat(client(standin))
    headers = ei.value.response.headers
    assert headers["retry-after"] == "1" and headers["retry-after-ms"] == "250"
    assert ei.value.code == "rate_limit_exceeded"


class BucketClock:
    """A fake for the `time` module of synthgen.standin.config, whose rate buckets read
    `time.monotonic()`: tests move it on by hand instead of sleeping."""

    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t


@pytest.fixture
def bucket_clock(monkeypatch: pytest.MonkeyPatch) -> BucketClock:
    import synthgen.standin.config as standin_config

    fake = BucketClock()
    monkeypatch.setattr(standin_config, "time", fake)
    return fake


def test_rpm_limit_burst_then_refill(standin: StandinHandle, bucket_clock: BucketClock) -> None:
    standin.set_faults(rpm_limit=240, rpm_burst=3)  # 4 requests/s, bucket of 3
    c = client(standin)
    for _ in range(3):
        chat(c)
    with pytest.raises(openai.RateLimitError) as ei:
        chat(c)
    headers = ei.value.response.headers  # one request refills in 1/4 s
    assert headers["retry-after-ms"] == "250" and headers["retry-after"] == "1"
    bucket_clock.t += 0.125  # half the refill: still refused, with the rest of the wait
    with pytest.raises(openai.RateLimitError) as ei:
        chat(c)
    headers = ei.value.response.headers
    assert headers["retry-after-ms"] == "125" and headers["retry-after"] == "1"
    bucket_clock.t += 0.125  # the advertised wait has passed
    chat(c)


def test_tpm_limit(standin: StandinHandle) -> None:
    standin.set_faults(tpm_limit=6000)  # bucket of 100 tokens
    c = client(standin)
    chat(c, max_tokens=80)
    with pytest.raises(openai.RateLimitError) as ei:
        chat(c, max_tokens=80)
    assert "tokens" in ei.value.message and int(ei.value.response.headers["retry-after-ms"]) > 0


def test_server_errors_are_seeded_and_repeatable(standin: StandinHandle) -> None:
    c = client(standin)

    def pattern() -> list[int]:
        out = []
        for _ in range(16):
            try:
                chat(c)
                out.append(200)
            except openai.APIStatusError as e:
                out.append(e.status_code)
        return out

    standin.set_faults(p_500=0.5, fault_seed=7)
    first = pattern()
    assert {200, 500, 502, 503} >= set(first) and 200 in first and len(set(first)) >= 3
    standin.reset()
    assert pattern() == first
    standin.reset()
    standin.set_faults(fault_seed=8)
    assert pattern() != first


def test_fail_first(standin: StandinHandle) -> None:
    standin.set_faults(fail_first=2)
    c = client(standin)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as ei:
            chat(c)
        assert ei.value.status_code == 503
    chat(c)
    standin.reset()
    with pytest.raises(openai.InternalServerError):
        chat(c)


def test_truncation_malformed_and_content_filter(standin: StandinHandle) -> None:
    c = client(standin)
    rf = {"type": "json_schema", "json_schema": {"name": "batch", "schema": batch_schema()}}
    full = chat(c, response_format=rf).choices[0].message.content
    standin.set_faults(p_truncate=1.0)
    cut = chat(c, response_format=rf).choices[0]
    assert cut.finish_reason == "length" and full.startswith(cut.message.content)
    assert 0.3 * len(full) < len(cut.message.content) < 0.7 * len(full)
    standin.set_faults(p_truncate=0.0, p_malformed=1.0)
    for choice in chat(c, response_format=rf, n=6).choices:
        assert choice.finish_reason == "stop"
        with pytest.raises(json.JSONDecodeError):
            json.loads(choice.message.content)
    standin.set_faults(p_malformed=0.0, p_content_filter=1.0)
    filtered = chat(c).choices[0]
    assert filtered.finish_reason == "content_filter" and filtered.message.content == ""


def test_ignore_n(standin: StandinHandle) -> None:
    c = client(standin)
    assert len(chat(c, n=3).choices) == 3
    standin.set_faults(ignore_n=True)
    assert len(chat(c, n=3).choices) == 1


def test_reject_response_formats_and_streaming(standin: StandinHandle) -> None:
    c = client(standin)
    rf = {"type": "json_schema", "json_schema": {"name": "batch", "schema": batch_schema()}}
    standin.set_faults(reject_json_schema=True)
    with pytest.raises(openai.BadRequestError) as ei:
        chat(c, response_format=rf)
    assert ei.value.param == "response_format" and "json_schema" in ei.value.message
    chat(c, response_format={"type": "json_object"})
    standin.set_faults(reject_json_schema=False, reject_json_object=True)
    with pytest.raises(openai.BadRequestError) as ei:
        chat(c, response_format={"type": "json_object"})
    assert ei.value.param == "response_format"
    chat(c, response_format=rf)
    standin.set_faults(reject_stream=True)
    with pytest.raises(openai.BadRequestError, match="streaming not supported"):
        chat(c, stream=True)


def test_ratelimit_headers(standin: StandinHandle) -> None:
    standin.set_faults(ratelimit_headers=True)
    c = client(standin)
    duration = re.compile(r"^(\d+ms|\d+(\.\d+)?s|\d+m\d+(\.\d+)?s)$")
    h = c.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    ).headers
    assert h["x-ratelimit-limit-requests"] == "10000"
    assert h["x-ratelimit-limit-tokens"] == "1000000"
    for kind in ("requests", "tokens"):
        assert int(h[f"x-ratelimit-remaining-{kind}"]) >= 0
        assert duration.match(h[f"x-ratelimit-reset-{kind}"]), h[f"x-ratelimit-reset-{kind}"]
    standin.set_faults(rpm_limit=600, rpm_burst=5)
    remaining = []
    for _ in range(3):
        h = c.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        ).headers
        assert h["x-ratelimit-limit-requests"] == "600"
        assert duration.match(h["x-ratelimit-reset-requests"])
        remaining.append(int(h["x-ratelimit-remaining-requests"]))
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] < 5


def test_require_api_key(standin: StandinHandle) -> None:
    standin.set_faults(require_api_key="sk-right")
    with pytest.raises(openai.AuthenticationError) as ei:
        chat(client(standin, key="sk-wrong"))
    assert ei.value.code == "invalid_api_key"
    chat(client(standin, key="sk-right"))
    stats = standin.stats()
    assert "sk-right" not in json.dumps(stats) and "sk-wrong" not in json.dumps(stats)
    assert all(e["had_auth"] for e in stats["log"])  # type: ignore[attr-defined]
    assert "sk-right" not in json.dumps(admin(standin, "/_standin/faults"))


def test_latency_does_not_block_other_connections(
    standin: StandinHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests are held in their latency delay at the same time (so one connection's
    delay does not block the other), and neither is answered before its delay ends."""
    import synthgen.standin.endpoint as endpoint

    delays: list[float] = []
    release = threading.Event()

    class HeldAsyncio:
        """endpoint's `asyncio`, whose `sleep` (the latency delay) records the delay asked
        for and holds the request until the test releases it."""

        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

        @staticmethod
        async def sleep(delay: float) -> None:
            delays.append(delay)
            await asyncio.to_thread(release.wait, 30)

    monkeypatch.setattr(endpoint, "asyncio", HeldAsyncio())
    standin.set_faults(latency_s=0.3)
    clients = [client(standin), client(standin)]
    for c in clients:  # open the connections first
        c.models.list()
    errors: list[BaseException] = []

    def one(c: openai.OpenAI) -> None:
        try:
            chat(c)
        except BaseException as exc:
            errors.append(exc)

    def chat_log() -> list[Any]:
        log: list[Any] = standin.stats()["log"]  # type: ignore[assignment]
        return [e for e in log if e["path"] == "/v1/chat/completions"]

    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    try:
        for t in threads:
            t.start()
        wait_until(lambda: len(delays) == 2, what="both requests in their delay at once")
        assert chat_log() == [] and all(t.is_alive() for t in threads)  # none answered yet
    finally:
        release.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors and delays == [0.3, 0.3]
    assert [e["status"] for e in chat_log()] == [200, 200]


def test_models_embeddings_and_unknown_path(standin: StandinHandle) -> None:
    c = client(standin)
    assert [m.id for m in c.models.list()] == ["standin-fake"]
    e = c.embeddings.create(model="emb", input=["alpha", "beta", "alpha"])
    vecs = [d.embedding for d in e.data]
    assert all(len(v) == 64 and abs(sum(x * x for x in v) - 1) < 1e-6 for v in vecs)
    assert vecs[0] == vecs[2] != vecs[1]
    with pytest.raises(urllib.error.HTTPError) as ei:
        admin(standin, "/v1/nope")
    assert ei.value.code == 404 and "message" in json.loads(ei.value.read())["error"]


def test_admin_stats_faults_and_reset(standin: StandinHandle) -> None:
    c = client(standin)
    first = chat(c, n=2)
    stats = admin(standin, "/_standin/stats")
    assert stats["requests_total"] == 1 and stats["by_status"] == {"200": 1}
    (entry,) = stats["log"]
    assert entry["path"] == "/v1/chat/completions" and entry["status"] == 200
    assert entry["model"] == "gpt-test" and entry["n"] == 2 and entry["choices"] == 2
    assert entry["response_id"] == first.id and len(entry["body_sha256"]) == 64
    config = admin(standin, "/_standin/faults", {"ignore_n": True, "p_429": 0.0})
    assert config["ignore_n"] is True and standin.config.ignore_n
    with pytest.raises(urllib.error.HTTPError) as ei:
        admin(standin, "/_standin/faults", {"no_such_switch": 1})
    assert ei.value.code == 400
    with pytest.raises(urllib.error.HTTPError):
        admin(standin, "/_standin/faults", {"p_500": 2.0})
    admin(standin, "/_standin/reset", {})
    assert admin(standin, "/_standin/stats")["requests_total"] == 0
    second = chat(c)
    seq = (int(x.rsplit("-", 1)[1]) for x in (first.id, second.id))
    assert next(seq) < next(seq)  # the sequence survives reset


def test_raw_http_keep_alive_chunked_and_close(standin: StandinHandle) -> None:
    port = int(standin.base_url.rsplit(":", 1)[1].split("/")[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    socks = []
    for chunked in (False, True):
        payload: Any = iter([body[:10], body[10:]]) if chunked else body
        conn.request("POST", "/v1/chat/completions", body=payload, encode_chunked=chunked)
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["choices"]
        socks.append(conn.sock)
    assert socks[0] is socks[1]  # one keep-alive connection served both
    conn.request("GET", "/v1/chat/completions")
    resp = conn.getresponse()
    assert resp.status == 405 and json.loads(resp.read())["error"]["type"]
    conn.request("GET", "/v1/models", headers={"Connection": "close"})
    resp = conn.getresponse()
    assert resp.getheader("connection") == "close" and json.loads(resp.read())["data"]
    conn.close()


def test_subprocess_entry_point(tmp_path: Path, standin: StandinHandle) -> None:
    port_file = tmp_path / "port"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "synthgen.standin", "--port", "0", "--port-file", str(port_file)]
    cmd += ["--faults-json", '{"ignore_n": true}']
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        port = int(port_file.read_text())
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
        reply = chat(c, n=2, seed=11)
        assert len(reply.choices) == 1
        in_thread = chat(client(standin), n=1, seed=11).choices[0].message.content
        assert reply.choices[0].message.content == in_thread  # deterministic across processes
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert f"http://127.0.0.1:{port}/v1" in err and "NOT A MODEL" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_faults_json_exits_2() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "synthgen.standin", "--faults-json", '{"bogus": 1}']
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=20)
    assert done.returncode == 2 and "bogus" in done.stderr


def test_reply_variants_repeat_replies_word_for_word_across_prompts(
    standin: StandinHandle,
) -> None:
    c = client(standin)
    prompts = [f"Write task number {i} about {w}." for i, w in enumerate(("tea", "ships", "rain"))]
    assert len({chat(c, p, seed=1).choices[0].message.content for p in prompts}) == 3
    standin.set_faults(reply_variants=1)  # one reply for every request
    assert len({chat(c, p, seed=i).choices[0].message.content for i, p in enumerate(prompts)}) == 1
    standin.set_faults(reply_variants=64)
    replies = [chat(c, USER, seed=i).choices[0].message.content for i in range(200)]
    assert 40 <= len(set(replies)) <= 64  # drawn from 64, so most of them met, and repeated


def test_reply_variants_enter_the_answers_fingerprint_only_when_set() -> None:
    import hashlib

    # the fingerprint clients fold into their cache keys, as it was before the setting existed
    before = {"judge_low_marker": None, "judge_score": None, "judge_score_by_length": None}
    old = hashlib.sha256(repr(sorted(before.items())).encode()).hexdigest()
    assert StandinConfig().answers_sha256() == old
    assert StandinConfig(reply_variants=5).answers_sha256() != old
