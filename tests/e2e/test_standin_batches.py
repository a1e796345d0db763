"""The stand-in's Files and Batches API, driven by the real openai SDK over HTTP on 127.0.0.1.

A batch advances only when it is retrieved, so these tests count retrieves instead of waiting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

import openai
import pytest
from openai.types import Batch
from openai.types.chat import ChatCompletion

from synthgen.standin import StandinConfig, run_in_thread
from synthgen.standin.server import StandinHandle

ENDPOINT: Final = "/v1/chat/completions"
FINAL = {"completed", "failed", "expired", "cancelled"}
TOPICS = ["refund delays", "volcano sensors", "tide tables", "rail timetables", "bee colonies"]


@pytest.fixture(scope="module")
def handle() -> Iterator[StandinHandle]:
    with run_in_thread() as h:
        yield h


@pytest.fixture
def standin(handle: StandinHandle) -> StandinHandle:
    """The shared stand-in with default (fault-free) config and no files, batches or stats."""
    handle.set_faults(**StandinConfig().model_dump())
    handle.reset()
    return handle


def client(h: StandinHandle, key: str = "test") -> openai.OpenAI:
    return openai.OpenAI(base_url=h.base_url, api_key=key, max_retries=0, timeout=10)


def body(topic: str, **extra: Any) -> dict[str, Any]:
    content = f"Write one short question about {topic}."
    return {"model": "gpt-test", "messages": [{"role": "user", "content": content}], **extra}


def line(custom_id: str, topic: str = "refund delays", **extra: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body(topic, **extra)}


def lines(n: int, prefix: str = "req") -> list[dict[str, Any]]:
    return [line(f"{prefix}-{i}", TOPICS[i % len(TOPICS)]) for i in range(n)]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def submit(c: openai.OpenAI, rows: list[dict[str, Any]], name: str = "in.jsonl") -> Batch:
    uploaded = c.files.create(file=(name, jsonl(rows)), purpose="batch")
    return c.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h")


def poll(c: openai.OpenAI, batch_id: str, limit: int = 20) -> tuple[Batch, list[str]]:
    """Retrieve until the batch is final: (the final batch, the status each retrieve saw)."""
    seen: list[str] = []
    for _ in range(limit):
        batch = c.batches.retrieve(batch_id)
        seen.append(batch.status)
        if batch.status in FINAL:
            return batch, seen
    raise AssertionError(f"batch {batch_id} not final after {limit} retrieves: {seen}")


def records(c: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(x) for x in c.files.content(file_id).content.splitlines()]


def batch_stats(h: StandinHandle) -> dict[str, Any]:
    stats = h.stats()["batch"]
    assert isinstance(stats, dict)
    return stats


def test_upload_create_poll_and_download(standin: StandinHandle) -> None:
    standin.set_faults(batch_polls=3)
    c = client(standin)
    rows = lines(3)
    data = jsonl(rows)
    uploaded = c.files.create(file=("questions.jsonl", data), purpose="batch")
    assert uploaded.id.startswith("file-standin-") and uploaded.object == "file"
    assert uploaded.bytes == len(data) and uploaded.filename == "questions.jsonl"
    assert uploaded.purpose == "batch" and uploaded.status == "processed"
    assert c.files.retrieve(uploaded.id) == uploaded
    raw = c.files.with_raw_response.content(uploaded.id)
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.parse().content == data

    created = c.batches.create(
        input_file_id=uploaded.id,
        endpoint=ENDPOINT,
        completion_window="24h",
        metadata={"run": "t1"},
    )
    assert created.status == "validating" and created.metadata == {"run": "t1"}
    assert created.expires_at == created.created_at + 24 * 3600
    done, seen = poll(c, created.id)
    assert seen == ["in_progress", "in_progress", "completed"]  # batch_polls=3 retrieves
    assert done.request_counts is not None
    assert done.request_counts.model_dump() == {"total": 3, "completed": 3, "failed": 0}
    assert done.error_file_id is None and done.errors is None and done.model == "gpt-test"
    for stamp in (done.in_progress_at, done.finalizing_at, done.completed_at):
        assert isinstance(stamp, int) and stamp >= done.created_at
    assert done.usage is not None and done.usage.total_tokens > 0
    assert c.batches.retrieve(done.id) == done  # a finished batch stays as it is

    out = records(c, done.output_file_id)
    assert [r["custom_id"] for r in out] == ["req-0", "req-1", "req-2"]
    assert len({r["id"] for r in out}) == 3 and all(r["id"].startswith("batch_req_") for r in out)
    online = c.chat.completions.create(**rows[1]["body"])
    for r in out:
        assert r["error"] is None and r["response"]["status_code"] == 200
        assert r["response"]["request_id"].startswith("req_")
        ChatCompletion.model_validate(r["response"]["body"])
    answer = ChatCompletion.model_validate(out[1]["response"]["body"])
    assert answer.choices[0].message.content == online.choices[0].message.content
    output_file = c.files.retrieve(done.output_file_id or "")
    assert output_file.purpose == "batch_output"

    stats = batch_stats(standin)
    assert stats["files_uploaded"] == 1 and stats["bytes_uploaded"] == len(data)
    assert stats["batches_created"] == 1 and stats["lines_answered"] == 3
    assert stats["line_answers"] == {"req-0": 1, "req-1": 1, "req-2": 1}
    assert stats["uploads_failed"] == 0 and stats["batches_cancelled"] == 0


def test_batches_and_files_are_listed_newest_first(standin: StandinHandle) -> None:
    c = client(standin)
    ids = [submit(c, lines(1, f"b{i}"), f"in-{i}.jsonl").id for i in range(3)]
    first = c.batches.list(limit=2)
    assert [b.id for b in first.data] == ids[:0:-1] and first.has_more
    assert [b.id for b in c.batches.list(limit=2)] == ids[::-1]  # follows `after` pages
    assert [b.id for b in c.batches.list()] == ids[::-1]
    names = [f.filename for f in c.files.list(purpose="batch")]
    assert names == ["in-2.jsonl", "in-1.jsonl", "in-0.jsonl"]
    poll(c, ids[0])
    assert [f.purpose for f in c.files.list()] == ["batch_output"] + ["batch"] * 3
    assert len(list(c.files.list(purpose="batch"))) == 3
    gone = c.files.delete(c.files.list(purpose="batch").data[0].id)
    assert gone.deleted
    assert len(list(c.files.list(purpose="batch"))) == 2
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve(gone.id)
    with pytest.raises(openai.NotFoundError):
        c.batches.retrieve("batch_nope")


def test_failed_and_expired_lines_then_resubmitted(standin: StandinHandle) -> None:
    standin.set_faults(batch_fail_lines=0.3, batch_expire_lines=0.2, fault_seed=7)
    c = client(standin)
    rows = lines(10)
    done, _ = poll(c, submit(c, rows).id)
    assert done.status == "completed" and done.request_counts is not None
    counts = done.request_counts
    out, err = records(c, done.output_file_id), records(c, done.error_file_id)
    assert counts.total == 10 and counts.completed == len(out) and counts.failed == len(err)
    failed = [r for r in err if r["response"] is not None]
    expired = [r for r in err if r["response"] is None]
    assert failed and expired and out  # the seed gives all three outcomes
    for r in failed:
        assert r["response"]["status_code"] == 500 and r["error"] is None
        assert r["response"]["body"]["error"]["type"] == "server_error"
    for r in expired:
        assert r["error"]["code"] == "batch_expired"
    stats = batch_stats(standin)
    assert stats["lines_failed"] == len(failed) and stats["lines_expired"] == len(expired)

    by_id = {r["custom_id"]: r for r in rows}
    todo = sorted(r["custom_id"] for r in err)
    for _ in range(10):  # resubmit what did not succeed; each attempt draws its faults afresh
        again, _ = poll(c, submit(c, [by_id[x] for x in todo]).id)
        if again.output_file_id is not None:
            succeeded = {r["custom_id"] for r in records(c, again.output_file_id)}
            todo = [x for x in todo if x not in succeeded]
        if not todo:
            break
    assert not todo, f"lines still failing after 10 resubmissions: {todo}"
    assert batch_stats(standin)["line_answers"] == {x: 1 for x in by_id}  # none paid twice

    standin.reset()  # forgets the attempts: the same draws again
    repeat, _ = poll(c, submit(c, rows).id)
    assert sorted(r["custom_id"] for r in records(c, repeat.error_file_id)) == sorted(
        r["custom_id"] for r in err
    )


def test_whole_batch_expiry_keeps_partial_output(standin: StandinHandle) -> None:
    standin.set_faults(batch_expire=True, batch_polls=3, batch_lines_per_poll=2)
    c = client(standin)
    done, seen = poll(c, submit(c, lines(5)).id)
    assert seen == ["in_progress", "in_progress", "expired"]
    assert isinstance(done.expired_at, int) and done.completed_at is None
    assert done.request_counts is not None
    assert done.request_counts.model_dump() == {"total": 5, "completed": 4, "failed": 1}
    assert [r["custom_id"] for r in records(c, done.output_file_id)] == [
        f"req-{i}" for i in range(4)
    ]
    (late,) = records(c, done.error_file_id)
    assert late["custom_id"] == "req-4" and late["response"] is None
    assert late["error"]["code"] == "batch_expired"

    standin.set_faults(batch_polls=1, batch_lines_per_poll=None)
    nothing, seen = poll(c, submit(c, lines(2, "x")).id)
    assert seen == ["expired"] and nothing.output_file_id is None
    assert len(records(c, nothing.error_file_id)) == 2


def test_cancel_after_partial_progress_keeps_completed_lines(standin: StandinHandle) -> None:
    standin.set_faults(batch_polls=10, batch_lines_per_poll=1)
    c = client(standin)
    batch = submit(c, lines(4))
    for done_lines in (1, 2):
        now = c.batches.retrieve(batch.id)
        assert now.status == "in_progress" and now.request_counts is not None
        assert now.request_counts.completed == done_lines
    cancelling = c.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and isinstance(cancelling.cancelling_at, int)
    done, seen = poll(c, batch.id)
    assert seen == ["cancelled"] and isinstance(done.cancelled_at, int)
    assert done.request_counts is not None
    assert done.request_counts.model_dump() == {"total": 4, "completed": 2, "failed": 0}
    assert [r["custom_id"] for r in records(c, done.output_file_id)] == ["req-0", "req-1"]
    assert done.error_file_id is None
    with pytest.raises(openai.ConflictError):
        c.batches.cancel(batch.id)
    stats = batch_stats(standin)
    assert stats["batches_cancelled"] == 1 and stats["line_answers"] == {"req-0": 1, "req-1": 1}


def test_upload_fail_first_stores_nothing(standin: StandinHandle) -> None:
    standin.set_faults(upload_fail_first=1)
    c = client(standin)
    with pytest.raises(openai.APIConnectionError):
        c.files.create(file=("lost.jsonl", jsonl(lines(2))), purpose="batch")
    assert list(c.files.list()) == []
    stats = batch_stats(standin)
    assert stats["uploads_failed"] == 1 and stats["files_uploaded"] == 0
    kept = c.files.create(file=("kept.jsonl", jsonl(lines(2))), purpose="batch")
    assert [f.id for f in c.files.list()] == [kept.id]


def test_upload_lost_reply_stores_the_file(standin: StandinHandle) -> None:
    standin.set_faults(upload_lost_reply_first=1)
    c = client(standin)
    data = jsonl(lines(2))
    with pytest.raises(openai.APIConnectionError):
        c.files.create(file=("run-42-chunk-0.jsonl", data), purpose="batch")
    (found,) = [f for f in c.files.list(purpose="batch") if f.filename == "run-42-chunk-0.jsonl"]
    assert found.bytes == len(data) and c.files.content(found.id).content == data
    batch = c.batches.create(input_file_id=found.id, endpoint=ENDPOINT, completion_window="24h")
    assert poll(c, batch.id)[0].status == "completed"
    stats = batch_stats(standin)
    assert stats["uploads_reply_lost"] == 1 and stats["files_uploaded"] == 1
    assert stats["uploads_failed"] == 0


def test_invalid_input_file_fails_the_batch(standin: StandinHandle) -> None:
    c = client(standin)
    bad = [
        jsonl([line("a")]),
        b"{not json\n",
        jsonl([line("a")]),  # duplicate custom_id
        jsonl([{**line("c"), "url": "/v1/embeddings"}]),
        jsonl([{**line("d"), "method": "GET"}]),
        jsonl([{**line("e"), "body": "text"}]),
        jsonl([{"method": "POST", "url": ENDPOINT, "body": {}}]),
    ]
    uploaded = c.files.create(file=("bad.jsonl", b"".join(bad)), purpose="batch")
    batch = c.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h")
    done, seen = poll(c, batch.id)
    assert seen == ["failed"] and isinstance(done.failed_at, int)
    assert done.output_file_id is None and done.error_file_id is None
    assert done.errors is not None and done.errors.data is not None
    found = [(e.line, e.code, e.param) for e in done.errors.data]
    assert found == [
        (2, "invalid_json_line", None),
        (3, "duplicate_custom_id", "custom_id"),
        (4, "invalid_url", "url"),
        (5, "invalid_method", "method"),
        (6, "invalid_body", "body"),
        (7, "missing_required_parameter", "custom_id"),
    ]
    assert all(e.message for e in done.errors.data)

    empty = c.files.create(file=("empty.jsonl", b"\n"), purpose="batch")
    batch = c.batches.create(input_file_id=empty.id, endpoint=ENDPOINT, completion_window="24h")
    done, _ = poll(c, batch.id)
    assert done.status == "failed" and done.errors is not None and done.errors.data is not None
    assert [e.code for e in done.errors.data] == ["empty_file"]

    with pytest.raises(openai.BadRequestError):
        c.batches.create(input_file_id="file-nope", endpoint=ENDPOINT, completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        c.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
        )


def test_line_bodies_are_answered_as_online(standin: StandinHandle) -> None:
    standin.set_faults(p_truncate=1.0, require_api_key="sk-batch")
    with pytest.raises(openai.AuthenticationError):
        client(standin).files.list()
    c = client(standin, "sk-batch")
    rows = [line("ok"), {**line("no-model"), "body": {"messages": []}}]
    done, _ = poll(c, submit(c, rows).id)
    (ok,) = records(c, done.output_file_id)
    assert ok["response"]["body"]["choices"][0]["finish_reason"] == "length"
    (refused,) = records(c, done.error_file_id)
    assert refused["custom_id"] == "no-model" and refused["response"]["status_code"] == 400
    assert refused["response"]["body"]["error"]["param"] == "model"
    with pytest.raises(openai.BadRequestError):
        c.files.create(file=("x.jsonl", b"{}\n"), purpose="no-such-purpose")  # type: ignore[arg-type]
