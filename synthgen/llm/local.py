"""Local endpoints: how many requests a server on this machine serves at once, asked of the
server itself, so a run does not queue 16 requests behind the 2 slots of a llama.cpp server."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import httpx2

    from synthgen.llm.cache import Capabilities

PROBE_TIMEOUT_S = 2.0
# Without a slot count: local servers (llama.cpp, Ollama, LM Studio) serve a few requests at
# once; more only wait in their queue, where the client's timeouts run.
DEFAULT_LOCAL_CONCURRENCY = 4
MAX_CONCURRENCY = 1024  # EndpointConfig.concurrency's bound


@dataclass(frozen=True)
class LocalConcurrency:
    """The concurrency chosen for a local endpoint, and why."""

    concurrency: int
    why: str  # e.g. "2 slots (llama.cpp /props)"

    def message(self, endpoint: str) -> str:
        """What the person running the command is told, once per run."""
        return (
            f"local endpoint {endpoint}: {self.why} → concurrency {self.concurrency} "
            "(--concurrency N to choose)"
        )


def props_url(base_url: str) -> str:
    """llama.cpp's GET /props beside its OpenAI-compatible API: the base URL without /v1."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    path = path.removesuffix("/v1")
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/props", "", ""))


def probe_slots(
    base_url: str,
    api_key: str | None = None,
    *,
    timeout: float = PROBE_TIMEOUT_S,
    transport: httpx2.BaseTransport | None = None,
) -> tuple[int | None, str]:
    """(slots, how they were learned) from the server's /props; (None, why not) otherwise."""
    import httpx2

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        # trust_env=False: a proxy from the environment has no business with 127.0.0.1.
        with httpx2.Client(timeout=timeout, trust_env=False, transport=transport) as http:
            resp = http.get(props_url(base_url), headers=headers)
        if resp.status_code != 200:
            return None, f"/props answered HTTP {resp.status_code}"
        data = resp.json()
        slots = data.get("total_slots") if isinstance(data, dict) else None
    except Exception as e:  # a probe is advice: whatever goes wrong, the run goes on
        return None, f"no answer from /props ({type(e).__name__})"
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        return None, "/props gives no total_slots"
    return slots, f"{slots} slot{'s' if slots > 1 else ''} (llama.cpp /props)"


def local_concurrency(
    caps: Capabilities,
    base_url: str,
    api_key: str | None = None,
    *,
    transport: httpx2.BaseTransport | None = None,
) -> LocalConcurrency:
    """The concurrency for a local endpoint given none: what this state dir learned before,
    else the server's slot count, else a small default. It is learned in `caps`, so the run's
    summary shows it and a rerun (which may replay everything) sends no probe again."""
    known = caps.get("concurrency", "")
    if known.isdigit() and int(known) >= 1:
        return LocalConcurrency(int(known), "learned on an earlier run")
    slots, how = probe_slots(base_url, api_key, transport=transport)
    if slots is None:
        chosen = LocalConcurrency(DEFAULT_LOCAL_CONCURRENCY, f"no slot count ({how})")
    else:
        chosen = LocalConcurrency(min(slots, MAX_CONCURRENCY), how)
    caps.learn("concurrency", str(chosen.concurrency), chosen.why)
    return chosen


def first_mention(db: sqlite3.Connection, endpoint: str) -> bool:
    """True only the first time in this run that `endpoint` is mentioned. A run holds one
    state connection, and a TEMP table lives exactly as long as its connection."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS local_mentioned (endpoint TEXT PRIMARY KEY)")
    cur = db.execute("INSERT OR IGNORE INTO local_mentioned VALUES (?)", (endpoint,))
    return cur.rowcount == 1


def standin_answers(
    caps: Capabilities,
    base_url: str,
    api_key: str | None = None,
    *,
    online: bool = True,
    transport: httpx2.BaseTransport | None = None,
) -> str:
    """The bundled stand-in's fingerprint of what decides its answers ("" for any other
    server), which the client folds into its cache keys, so that a stand-in restarted with
    another judge_score asks again instead of replaying verdicts it no longer gives. Asked
    of the server when online (an unlogged admin path); offline, what was learned last."""
    known = caps.get("standin_answers", "")
    if not online:
        return known
    import httpx2

    url = props_url(base_url).removesuffix("/props") + "/_standin/identity"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx2.Client(timeout=PROBE_TIMEOUT_S, trust_env=False, transport=transport) as http:
            resp = http.get(url, headers=headers)
        data = resp.json() if resp.status_code == 200 else {}
    except Exception:  # unreachable: the run will say so; keep what was learned
        return known
    seen = data.get("answers") if isinstance(data, dict) and data.get("standin") else None
    found = seen if isinstance(seen, str) else ""
    if found != known:
        caps.learn(
            "standin_answers", found, "the stand-in's answer settings (GET /_standin/identity)"
        )
    return found
