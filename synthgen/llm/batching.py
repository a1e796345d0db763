"""Batch mode: requests the cache cannot answer wait for the Batch API instead of going online.

A stage runs as it would online. Where `LLMClient.chat` misses the cache, its miss policy
(`BatchMisses`, given to the client when it was built) records the request (its custom_id is
its cache key) and raises `Deferred`; the stage leaves that job undecided and goes on with
what it can. After the pass, `BatchQueue.submit` packs
the waiting requests into input files and batches; a later pass first `sync`s — joins the
answers of finished batches into the cache by custom_id and queues failed or expired lines
again — and then runs the stage again, which now replays those answers from the cache exactly
as the online path would, until nothing waits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import orjson

from synthgen.errors import SynthgenError
from synthgen.llm.batchapi import BatchAPI, Remote
from synthgen.llm.batchstore import FINAL_REMOTE, BatchStore, Chunk, Line
from synthgen.llm.cost import cost_of
from synthgen.llm.misses import Asker, MissPolicy
from synthgen.llm.policy import RequestRejected
from synthgen.llm.tokens import estimate, messages_tokens
from synthgen.llm.types import ChatRequest, scrub_url
from synthgen.llm.wire import call_kwargs, completion_answers, parse_completion

if TYPE_CHECKING:
    from synthgen.config import BatchConfig
    from synthgen.llm.client import LLMClient
    from synthgen.records import StructuredPath

# A line's answer with one of these statuses is the request's fault: asking again is no use.
_REFUSED = range(400, 500)
_TRANSIENT = {408, 409, 429}


class Deferred(Exception):
    """A request waits for the Batch API: its job is left undecided in this pass."""


class BatchMisses(MissPolicy):
    """Batch mode: once the stage's online phase is over, a miss is queued for the Batch API
    and raises `Deferred`; its job waits for the next pass.

    The online phase is whatever a stage must have answered before it can go on (a judge's
    calibration); it ends once, by `end_online_phase`, and never comes back.
    """

    __slots__ = ("_deferring", "followups", "queue")

    def __init__(self, queue: BatchQueue, followups: bool = False) -> None:
        """`followups`: repairs and retries wait for a batch too (--batch-repairs)."""
        self.queue = queue
        self.followups = followups
        self._deferring = False

    @property
    def defers(self) -> bool:
        """Whether a miss now waits for a batch: after the online phase."""
        return self._deferring

    def end_online_phase(self) -> None:
        """From now on, misses wait for a batch (the calibration, if any, was answered)."""
        self._deferring = True

    def on_miss(
        self, client: Asker, req: ChatRequest, keys: list[str], missing: list[int], followup: bool
    ) -> None:
        """Online before the phase ends, and for follow-ups unless told to batch them;
        else queue the missing samples (once) and raise Deferred, or say what became of
        them: refused in a batch (RequestRejected), or failed `max_attempts` times, when
        this returns and the request is sent online."""
        if self._deferring and (self.followups or not followup):
            self.defer(client, req, keys, missing)

    def defer(self, client: Asker, req: ChatRequest, keys: list[str], missing: list[int]) -> None:
        """Queue the missing samples of `req` (once) and raise Deferred, or return when every
        submission of them failed (they then go online, as a last resort)."""
        native = client.caps.get("n", "native") == "native"
        groups = [missing] if native else [[i] for i in missing]
        path = client.caps.get("structured", "json_schema") if req.json_schema else "none"
        waits = False
        for group in groups:
            custom_id = keys[group[0]]
            line = self.queue.store.line(custom_id)
            if line is None:
                kw = call_kwargs(client.model, req, len(group), group[0], path)  # type: ignore[arg-type]
                prompt_est = messages_tokens(kw["messages"], estimate)
                self.queue.store.add_line(
                    custom_id,
                    client.endpoint,
                    client.model,
                    [keys[i] for i in group],
                    req.n,
                    kw,
                    path,
                    prompt_est,
                )
                waits = True
            elif line.state == "rejected":
                raise RequestRejected(f"(in a batch) {line.error}", "request_rejected")
            elif line.state != "failed":
                waits = True
        if not waits:
            self.queue.online += 1
            return
        self.queue.deferred += 1
        raise Deferred(keys[missing[0]])


@dataclass
class BatchQueue:
    """One stage run's view of batch mode over the state directory's tables."""

    store: BatchStore
    cfg: BatchConfig
    say: Callable[[str], None]
    deferred: int = 0  # requests this pass left waiting
    online: int = 0  # requests sent online after their batch submissions ran out
    submitted: list[int] = field(default_factory=list)  # chunks created in this run
    joined: int = 0  # batches whose answers this run took into the cache
    held_back: int = 0  # lines the budget kept out of a batch

    def api(self, client: LLMClient) -> BatchAPI:
        """The Batch API at this client's endpoint."""
        return BatchAPI(client.sdk, client.clock.sleep)

    @staticmethod
    def _client_for(chunk: Chunk, clients: Sequence[LLMClient]) -> LLMClient | None:
        return next(
            (c for c in clients if c.endpoint == chunk.endpoint and c.model == chunk.model), None
        )

    # --- after a pass: pack the waiting requests into batches -------------------------------

    async def submit(self, clients: Sequence[LLMClient]) -> None:
        """Finish any submission a crash cut short, then batch every queued line."""
        for chunk in self.store.chunks(open_only=True):
            client = self._client_for(chunk, clients)
            if client is not None and chunk.state in ("prepared", "uploaded"):
                await self._send_chunk(client, chunk)
        for client in clients:
            lines = self.store.queued(client.endpoint, client.model)
            while lines:
                take, worst = self.fit(client, lines)
                if not take:
                    self.held_back += len(lines)
                    break
                content = b"".join(ln.jsonl() for ln in take)
                chunk = self.store.new_chunk(
                    client.endpoint,
                    scrub_url(client.cfg.base_url),
                    client.model,
                    take,
                    content,
                    hashlib.sha256(content).hexdigest(),
                    worst,
                )
                await self._send_chunk(client, chunk)
                lines = lines[len(take) :]

    def fit(self, client: LLMClient, lines: list[Line]) -> tuple[list[Line], float]:
        """The next lines that fit one input file and the budget's room, with their worst case."""
        budget, price = client.budget, self.price(client)
        room = None
        if budget.max_cost_usd is not None:
            room = budget.max_cost_usd - budget.spent_cost_usd - self.store.reserved_cost()
        take: list[Line] = []
        size = worst = 0.0
        for ln in lines:
            n = len(ln.keys)
            w = cost_of(price, ln.prompt_est, int(ln.body.get("max_tokens") or 0) * n)
            b = len(ln.jsonl())
            if len(take) >= self.cfg.max_lines or size + b > self.cfg.max_mb * 1024 * 1024:
                break
            if room is not None and worst + w > room:
                break
            take.append(ln)
            size, worst = size + b, worst + w
        return take, worst

    def price(self, client: LLMClient) -> Any:
        """The batch price: the online price times the configured discount."""
        p = client.budget.price
        if p is None:
            return None
        d = self.cfg.discount
        return p.model_copy(update={"input": p.input * d, "output": p.output * d})

    async def _send_chunk(self, client: LLMClient, chunk: Chunk) -> None:
        """Upload and create, recording each id before the next step (adopting on a rerun)."""
        api, store = self.api(client), self.store
        if chunk.input_file_id is None:
            found = await api.find_file(chunk.file_name) if chunk.upload_started else None
            if found is None:
                store.update_chunk(chunk.id, upload_started=1)
                lines = store.chunk_lines(chunk.id)
                content = b"".join(ln.jsonl() for ln in lines)
                if hashlib.sha256(content).hexdigest() != chunk.file_sha256:
                    raise SynthgenError(f"batch file {chunk.file_name} changed since it was made")
                found = await api.upload(chunk.file_name, content)
            chunk = store.update_chunk(chunk.id, input_file_id=found, state="uploaded")
        if chunk.batch_id is None:
            assert chunk.input_file_id is not None
            remote = await api.find_batch(chunk.input_file_id) if chunk.create_started else None
            if remote is None:
                store.update_chunk(chunk.id, create_started=1)
                remote = await api.create(chunk.input_file_id, chunk.file_name)
            chunk = store.update_chunk(
                chunk.id, batch_id=remote.id, state="created", remote_status=remote.status
            )
            self.submitted.append(chunk.id)
            worst = (
                f"≤ ${chunk.worst_cost_usd:.4f} at batch prices"
                if client.budget.price is not None
                else "price unknown"
            )
            self.say(f"batch {remote.id}: {chunk.lines} requests submitted ({worst})")

    # --- before a pass: take in what finished ------------------------------------------------

    async def sync(self, clients: Sequence[LLMClient]) -> list[Chunk]:
        """Poll every open batch of these clients; join the finished ones. The still open."""
        still: list[Chunk] = []
        for chunk in self.store.chunks(open_only=True):
            client = self._client_for(chunk, clients)
            if client is None or chunk.batch_id is None:
                continue
            remote = await self.api(client).retrieve(chunk.batch_id)
            chunk = self.store.update_chunk(
                chunk.id, remote_status=remote.status, counts=remote.counts
            )
            if remote.status in FINAL_REMOTE:
                await self.join(client, chunk, remote)
            else:
                still.append(chunk)
        return still

    async def join(self, client: LLMClient, chunk: Chunk, remote: Remote) -> None:
        """Answers into the cache by custom_id, failed and expired lines queued again: all of
        it in one transaction, so a kill during the join leaves the batch to join again."""
        api = self.api(client)
        answered = await api.lines(remote.output_file_id)
        errors = await api.lines(remote.error_file_id)
        lines = {ln.custom_id: ln for ln in self.store.chunk_lines(chunk.id)}
        db = self.store.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for obj in [*answered, *errors]:
                line = lines.pop(obj["custom_id"], None)
                if line is not None and line.state == "chunked":
                    self._settle(client, line, obj)
            for line in lines.values():
                if line.state != "chunked":
                    continue
                if remote.status == "cancelled":  # never run: not an attempt
                    self.store.uncount_attempt(line.custom_id)
                    self.store.settle_line(line.custom_id, "queued")
                else:
                    why = remote.errors or f"the batch ended {remote.status} without it"
                    self._retry_or_fail(line, why)
            self.store.update_chunk(chunk.id, state="joined")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.joined += 1

    def _settle(self, client: LLMClient, line: Line, obj: dict[str, Any]) -> None:
        resp = obj.get("response") if isinstance(obj.get("response"), dict) else None
        status = resp.get("status_code") if resp else None
        body = resp.get("body") if resp else None
        if status == 200 and isinstance(body, dict):
            try:
                self._take(client, line, body, resp.get("request_id") if resp else None)
            except SynthgenError as e:
                self._retry_or_fail(line, e.message)
            else:
                self.store.settle_line(line.custom_id, "answered")
            return
        err = obj.get("error") or (body.get("error") if isinstance(body, dict) else None)
        text = str(err.get("message") or err.get("code")) if isinstance(err, dict) else str(err)
        if isinstance(status, int) and status in _REFUSED and status not in _TRANSIENT:
            self.store.settle_line(line.custom_id, "rejected", f"{status}: {text}"[:500])
        else:
            self._retry_or_fail(line, (f"{status}: " if status else "") + text)

    def _retry_or_fail(self, line: Line, why: str) -> None:
        state = "failed" if line.attempts >= self.cfg.max_attempts else "queued"
        self.store.settle_line(line.custom_id, state, why[:500])

    def _take(
        self, client: LLMClient, line: Line, body: dict[str, Any], request_id: str | None
    ) -> None:
        """One answered line's choices, cached under its samples' keys at the batch price."""
        completion = parse_completion(orjson.dumps(body))
        if not completion.choices:
            raise SynthgenError("the batch answer has no choices")
        usage = completion.usage
        pt = usage.prompt_tokens if usage else line.prompt_est
        ct = usage.completion_tokens if usage else 0
        cost = cost_of(self.price(client), pt, ct, usage.cached_tokens if usage else 0)
        path = cast("StructuredPath", line.path)
        got = completion_answers(completion, client.model, request_id, path, (pt, ct, cost))
        sampling = "n" if len(got) > 1 else ("separate" if line.req_n > 1 else "single")
        client.remember(line.keys, got, sampling)
        if len(got) < len(line.keys):  # n ignored: the other samples are asked one by one
            client.caps.learn("n", "separate", f"a batch asked n={len(line.keys)}, got {len(got)}")
