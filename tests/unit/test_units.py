"""Small pieces with exact answers: buckets, header parsing, torn tails, config precedence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from synthgen.config import load_config, resolve_api_key
from synthgen.core.jsonl import AppendLog, read_ids, repair_torn_tail
from synthgen.errors import BudgetExceeded, ConfigError, UsageError
from synthgen.llm.cost import Budget, Price, cost_of, find_price
from synthgen.llm.limits import (
    Clock,
    Limiter,
    TokenBucket,
    parse_duration,
    retry_after_seconds,
)
from synthgen.llm.types import endpoint_host, scrub_url


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s

    def clock(self) -> Clock:
        return Clock(now=self.now, sleep=self.sleep)


def test_token_bucket_paces_at_its_rate() -> None:
    fc = FakeClock()
    bucket = TokenBucket(600, fc.clock())  # 10/s, burst 10

    async def go() -> None:
        for _ in range(30):
            await bucket.take(1)

    asyncio.run(go())
    # 10 from the burst, 20 more at 10/s: two seconds.
    assert fc.t == pytest.approx(2.0, abs=1e-6)


def test_limiter_learns_from_headers_and_cools_down() -> None:
    fc = FakeClock()
    lim = Limiter(4, None, None, fc.clock())
    lim.learn({"x-ratelimit-limit-requests": "120", "x-ratelimit-remaining-requests": "0"})
    assert lim.requests is not None and lim.requests.rate == pytest.approx(2.0)
    for _ in range(4):  # refusals in a row: a limit's, so every request is held
        lim.cool_down(3.0)

    async def go() -> None:
        await lim.wait_turn(10)

    asyncio.run(go())
    assert fc.t >= 3.0


def test_fixed_rpm_is_not_overridden_by_headers() -> None:
    lim = Limiter(4, 60, None, FakeClock().clock())
    lim.learn({"x-ratelimit-limit-requests": "10000"})
    assert lim.requests is not None and lim.requests.rate == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("250ms", 0.25), ("1h2m3.5s", 3723.5), ("x", None)],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_retry_after_prefers_ms() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_budget_reserves_worst_case_and_settles() -> None:
    price = Price(input=1.0, output=2.0)
    b = Budget(price, max_cost_usd=0.01)
    r = b.reserve(1000, 2000)  # worst case $0.005
    b.reserve(1000, 2000)
    with pytest.raises(BudgetExceeded):
        b.reserve(1000, 2000)
    b.settle(r, 1000, 100)
    assert b.spent_cost_usd == pytest.approx(cost_of(price, 1000, 100))
    assert b.stopped_by == "max_cost_usd"


def test_budget_waits_for_requests_in_flight_before_stopping() -> None:
    """Worst cases that do not fit beside those in flight wait for them to settle: requests
    whose worst case is $0.005 but which really cost $0.0012 go on under a $0.02 cap until
    spent + one worst case would pass it; the stop comes only when nothing is in flight."""
    price = Price(input=1.0, output=2.0)
    b = Budget(price, max_cost_usd=0.02)
    done: list[int] = []

    async def request(i: int) -> None:
        r = await b.reserve_when_room(1000, 2000)  # worst case $0.005
        await asyncio.sleep(0)  # in flight: let the other requests run up to their reserve
        b.settle(r, 1000, 100)  # real cost $0.0012
        done.append(i)

    async def main() -> BaseException | None:
        results = await asyncio.gather(*(request(i) for i in range(20)), return_exceptions=True)
        return next((e for e in results if isinstance(e, BaseException)), None)

    stop = asyncio.run(main())
    # after 13: $0.0156 spent + a $0.005 worst case > $0.02 (reserving without waiting
    # stopped at 4, the cap full of worst cases in flight)
    assert len(done) == 13
    assert isinstance(stop, BudgetExceeded) and b.outstanding == 0
    assert b.spent_cost_usd == pytest.approx(13 * cost_of(price, 1000, 100))
    assert f"${b.spent_cost_usd:.4f} spent" in str(stop)


def test_find_price_matches_dated_snapshots() -> None:
    table = {"gpt-4o": Price(input=2.5, output=10), "gpt-4o-mini": Price(input=0.15, output=0.6)}
    assert find_price("gpt-4o-mini-2024-07-18", table) == table["gpt-4o-mini"]
    assert find_price("gpt-4o-2024-08-06", table) == table["gpt-4o"]
    assert find_price("llama3", table) is None


def test_torn_tail_is_cut_and_appends_continue(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    log = AppendLog(p)
    log.write([{"id": "a"}, {"id": "b"}])
    log.close()
    with p.open("ab") as fh:
        fh.write(b'{"id": "c", "half')
    assert repair_torn_tail(p) == len(b'{"id": "c", "half')
    log = AppendLog(p)
    log.write([{"id": "d"}])
    log.close()
    assert read_ids(p) == ["a", "b", "d"]


def test_config_precedence_cli_over_env_over_file(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("endpoint: {model: from-file, concurrency: 3}\ngeneration: {count: 7}\n")
    env = {"SYNTHGEN_MODEL": "from-env", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    cfg = load_config(f, {"generation.count": 9}, env)
    assert cfg.endpoint.model == "from-env"
    assert cfg.endpoint.concurrency == 3
    assert cfg.generation.count == 9
    cfg = load_config(f, {"endpoint.model": "from-cli"}, env)
    assert cfg.endpoint.model == "from-cli"


def test_bad_config_values_name_the_setting(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("endpoint: {concurrency: 0}\n")
    with pytest.raises(ConfigError) as e:
        load_config(f, {})
    assert "endpoint.concurrency" in e.value.render() and str(f) in e.value.render()
    f.write_text("endpoint: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        load_config(f, {})
    assert "invalid YAML" in e.value.render()
    f.write_text("genration: {}\n")
    with pytest.raises(ConfigError) as e:
        load_config(f, {})
    assert "genration" in e.value.render()


def test_api_key_resolution() -> None:
    cfg = load_config(None, {}, {})
    with pytest.raises(UsageError):
        resolve_api_key(cfg, {})
    assert resolve_api_key(cfg, {"OPENAI_API_KEY": "k1"}) == "k1"
    assert resolve_api_key(cfg, {"SYNTHGEN_API_KEY": "k2", "OPENAI_API_KEY": "k1"}) == "k2"
    local = load_config(None, {"endpoint.base_url": "http://localhost:11434/v1"}, {})
    assert resolve_api_key(local, {})


def test_endpoint_host_never_keeps_credentials() -> None:
    url = "https://user:secret@example.com:8443/v1?api-key=zzz#frag"
    assert endpoint_host(url) == "example.com:8443"
    assert scrub_url(url) == "https://example.com:8443/v1"
    assert endpoint_host(None) == "api.openai.com"


def test_request_identity_follows_content_not_the_copied_memo() -> None:
    from synthgen.llm.types import ChatRequest

    r = ChatRequest(messages=[{"role": "user", "content": "a"}])
    k = r.identity("m")
    assert r.identity("m") == k
    repaired = r.model_copy(update={"messages": [{"role": "user", "content": "b"}]})
    assert repaired.identity("m") != k
    assert r.identity("other-model") != k
    same = ChatRequest(messages=[{"role": "user", "content": "a"}])
    assert same.identity("m") == k


def test_iter_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    from synthgen.core.jsonl import iter_jsonl
    from synthgen.errors import InputError

    p = tmp_path / "d.jsonl"
    p.write_text('{"a": 1}\n\n[1]\n')
    it = iter_jsonl(p)
    assert next(it) == (1, {"a": 1})
    with pytest.raises(InputError) as e:
        next(it)
    assert e.value.line == 3 and e.value.exit_code == 2
