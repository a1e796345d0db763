"""`synthgen review`'s app over real HTTP on 127.0.0.1: the token, the same-origin check,
paths that stay inside, escaping, 20 concurrent reviewers, and the numbers `audit` prints."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.review_data import PLANTED, review_run

import synthgen
from synthgen.errors import UsageError
from synthgen.stages.audit.agreement import between_reviewers
from synthgen.stages.audit.store import read_verdicts, verdicts_by_auditor
from synthgen.webui.server import ReviewHandle


class Client:
    """Requests to one review, as its page's script would make them (or not)."""

    def __init__(self, handle: ReviewHandle) -> None:
        self.base = handle.url.split("/audit")[0]
        self.token = handle.token

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def authed(self, path: str) -> tuple[int, bytes]:
        return self.get(path, {"X-Synthgen-Token": self.token})

    def json(self, path: str) -> Any:
        status, body = self.authed(path)
        assert status == 200, body
        return json.loads(body)

    def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        sent = {"X-Synthgen-Token": self.token, "Origin": self.base}
        sent.update(headers or {})
        sent = {k: v for k, v in sent.items() if v}
        req = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **sent},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw.startswith(b"{") else raw

    def label(self, reviewer: str, rid: str, verdict: str, note: str = "") -> tuple[int, Any]:
        return self.post(
            "/api/label", {"reviewer": reviewer, "id": rid, "verdict": verdict, "note": note}
        )


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return review_run(tmp_path)


@pytest.fixture
def served(run: Path) -> Iterator[tuple[ReviewHandle, Client]]:
    handle = synthgen.review(run, sample=0)
    try:
        yield handle, Client(handle)
    finally:
        handle.stop()


def ids(client: Client) -> list[str]:
    return [i["id"] for i in client.json("/api/audit")["items"]]


def test_every_request_without_the_token_gets_403(served: tuple[ReviewHandle, Client]) -> None:
    handle, c = served
    assert handle.host == "127.0.0.1" and len(handle.token) >= 24
    for path in (
        "/",
        "/audit",
        "/seeds",
        "/drift",
        "/ledger",
        "/api/audit",
        "/static/review.js",
        "/api/labels.jsonl",
        "/nowhere",
    ):
        assert c.get(path)[0] == 403, path
        assert c.get(path, {"X-Synthgen-Token": "x" + c.token[1:]})[0] == 403, path
        assert c.get(path + "?token=wrong")[0] == 403, path
    assert c.get("/audit?token=" + c.token)[0] == 200
    assert c.label("ann", ids(c)[0], "accept")[0] == 200
    rid = ids(c)[1]
    assert (
        c.post(
            "/api/label",
            {"reviewer": "ann", "id": rid, "verdict": "accept"},
            {"X-Synthgen-Token": ""},
        )[0]
        == 403
    )


def test_the_first_visit_sets_a_cookie_that_later_pages_use(
    served: tuple[ReviewHandle, Client],
) -> None:
    handle, c = served
    with urllib.request.urlopen(handle.url, timeout=30) as r:
        cookie = r.headers["set-cookie"]
        page = r.read().decode()
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert (
        "Content-Security-Policy" in r.headers
        and "script-src 'self'" in r.headers["Content-Security-Policy"]
    )
    assert c.get("/drift", {"Cookie": cookie.split(";")[0]})[0] == 200
    assert "blind: the judge's verdict shows once you decide" in page
    assert f'<meta name="synthgen-token" content="{c.token}">' in page


def test_posts_need_the_same_origin(served: tuple[ReviewHandle, Client]) -> None:
    _, c = served
    rid = ids(c)[0]
    body = {"reviewer": "ann", "id": rid, "verdict": "reject", "note": "x"}
    assert c.post("/api/label", body, {"Origin": ""})[0] == 403  # neither Origin nor Referer
    assert c.post("/api/label", body, {"Origin": "http://evil.example"})[0] == 403
    assert (
        c.post("/api/label", body, {"Origin": c.base.replace("127.0.0.1", "localhost")})[0] == 403
    )
    assert c.post("/api/label", body, {"Origin": "", "Referer": "http://evil.example/x"})[0] == 403
    assert read_verdicts(verdicts_path(c)) == {}
    assert c.post("/api/label", body, {"Origin": "", "Referer": c.base + "/audit"})[0] == 200
    assert c.post("/api/label", body)[0] == 200


def verdicts_path(c: Client) -> Path:
    return Path(c.json("/api/agreement")["verdicts_path"])


def test_request_paths_never_leave_the_review(
    served: tuple[ReviewHandle, Client], run: Path
) -> None:
    _, c = served
    for path in (
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e%2fserver.py",
        "/static/..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/review.js%00.py",
        "/static/templates",
        "/ledger?run=7",
        "/ledger?run=../x",
    ):
        status, body = c.authed(path)
        assert status in (400, 404), (path, status)
        assert b"import" not in body and b"root:" not in body
    seeds = run.parent / "seeds.jsonl"
    before = sorted(p.name for p in run.parent.rglob("*"))
    for name in (
        "../escaped.jsonl",
        "/tmp/escaped.jsonl",
        "sub/x.jsonl",
        ".hidden.jsonl",
        "seeds.jsonl",
        "x.txt",
        "..jsonl",
    ):
        for op in ("/api/seeds/diff", "/api/seeds/save"):
            status, body = c.post(op, {"name": name, "edits": {}})
            assert status == 400, (name, op, body)
    assert sorted(p.name for p in run.parent.rglob("*")) == before
    assert not Path("/tmp/escaped.jsonl").exists() and seeds.read_text().count("\n") == 12


def test_planted_html_reaches_pages_escaped(served: tuple[ReviewHandle, Client]) -> None:
    _, c = served
    for path in ("/ledger", "/drift", "/ledger?q=script", "/ledger?stage=rules"):
        status, body = c.authed(path)
        html = body.decode()
        assert status == 200
        assert "<script>window" not in html and "<img src" not in html
        assert 'href="javascript' not in html and 'onerror="' not in html
        assert "&lt;script&gt;" in html or "&lt;img" in html or "&lt;a href" in html, path
    items = c.json("/api/audit")["items"]  # JSON for the script, which uses textContent only
    assert any(p in i["output"] for i in items for p in PLANTED)
    status, query = c.authed("/ledger?q=%3Cscript%3E%3C%2Fscript%3E")
    assert b"<script></script>" not in query


def test_labels_land_in_the_audit_store_and_the_numbers_match_audit(
    served: tuple[ReviewHandle, Client], run: Path
) -> None:
    _, c = served
    rids = ids(c)
    assert c.json("/api/audit")["items"][0]["evidence"][0]["quote"] == "within 14 days"
    # ann accepts what the judge passed (even records) but rejects records 0 and 1;
    # bob accepts everything: kappa between them and with the judge both differ from 1.
    for k, rid in enumerate(rids[:12]):
        status, body = c.label("ann", rid, "reject" if k < 2 or k % 2 else "accept", "off_task")
        assert status == 200 and body["label"]["judge"]["passed"] == (k % 2 == 0)
    for rid in rids[:12]:
        assert c.label("bob", rid, "accept")[0] == 200
    status, skipped = c.label("bob", rids[12], "skip")
    assert status == 200 and "judge" not in skipped["label"]  # a skip decides nothing
    page = c.json("/api/agreement")
    printed = synthgen.audit(run, summary_only=True, sample=5).summary
    assert printed is not None
    for key in ("kappa", "reject_rate", "reject_rate_ci95", "paired_with_judge", "decided"):
        assert page[key] == printed[key], key
    assert page["kappa_text"] == f"{printed['kappa']:.2f}"
    pair = page["between"]["pairs"][0]
    assert (pair["a"], pair["b"], pair["shared"]) == ("ann", "bob", 12)
    assert pair["agreement"] == 5 / 12 and pair["kappa_text"] == "0.00"
    mine = c.json("/api/audit?reviewer=ann")["labels"]
    assert len(mine) == 12 and mine[rids[0]]["note"] == "off_task"
    assert "judge" in mine[rids[0]] and c.json("/api/audit?reviewer=cy")["labels"] == {}
    assert all("judge" not in i for i in c.json("/api/audit")["items"])  # blind until decided
    status, exported = c.authed("/api/labels.jsonl")
    lines = [json.loads(x) for x in exported.decode().splitlines()]
    assert status == 200 and len(lines) == 25 and {x["auditor"] for x in lines} == {"ann", "bob"}


def test_a_restarted_review_resumes_with_the_labels_given(run: Path) -> None:
    first = synthgen.review(run, sample=10)
    c = Client(first)
    rids = ids(c)
    assert len(rids) == 10
    for rid in rids[:4]:
        assert c.label("ann", rid, "accept")[0] == 200
    first.stop()
    again = synthgen.review(run, sample=10)
    try:
        c2 = Client(again)
        assert again.token != first.token and c2.get("/api/audit?token=" + first.token)[0] == 403
        assert ids(c2) == rids
        assert set(c2.json("/api/audit?reviewer=ann")["labels"]) == set(rids[:4])
    finally:
        again.stop()


def test_twenty_concurrent_reviewers_lose_no_label(served: tuple[ReviewHandle, Client]) -> None:
    _, c = served
    rids = ids(c)[:5]
    errors: list[Any] = []
    barrier = threading.Barrier(20)

    def reviewer(n: int) -> None:
        barrier.wait()
        for k, rid in enumerate(rids):
            status, body = c.label(f"r{n:02d}", rid, "accept" if (n + k) % 3 else "reject")
            if status != 200:
                errors.append((n, rid, status, body))

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    path = verdicts_path(c)
    assert len(path.read_text().splitlines()) == 100
    got = verdicts_by_auditor(path)
    assert len(got) == 100
    assert all(
        got[(f"r{n:02d}", rid)]["verdict"] == ("accept" if (n + k) % 3 else "reject")
        for n in range(20)
        for k, rid in enumerate(rids)
    )
    page = c.json("/api/agreement")
    assert len(page["between"]["reviewers"]) == 20 and len(page["between"]["pairs"]) == 190


def test_a_terminal_audit_writing_meanwhile_is_seen(
    served: tuple[ReviewHandle, Client], run: Path
) -> None:
    _, c = served
    rids = ids(c)
    assert c.label("ann", rids[0], "accept")[0] == 200
    answers = iter(["r", "a"])
    synthgen.audit(run, sample=50, auditor="tom", ask=lambda _p: next(answers, None))
    page = c.json("/api/agreement")  # the terminal resumed after the web's label: one store
    assert page["verdicts"] == 3 and page["counts"] == {"accept": 2, "reject": 1, "skip": 0}
    assert set(c.json("/api/audit?reviewer=tom")["labels"]) == set(rids[1:3])


def test_bad_labels_are_user_errors(served: tuple[ReviewHandle, Client]) -> None:
    _, c = served
    rid = ids(c)[0]
    for body in (
        {"reviewer": "a", "id": "sg_nope", "verdict": "accept"},
        {"reviewer": "a", "id": rid, "verdict": "maybe"},
        {"reviewer": " ", "id": rid, "verdict": "accept"},
        {"reviewer": ["a"], "id": rid, "verdict": "accept"},
    ):
        status, answer = c.post("/api/label", body)
        assert status == 400 and answer["error"], body
    status, answer = c.post("/api/label", {}, {"Content-Type": "text/plain"})
    assert status == 400


def test_seeds_save_as_shows_the_diff_and_never_overwrites(
    served: tuple[ReviewHandle, Client], run: Path
) -> None:
    _, c = served
    seeds = run.parent / "seeds.jsonl"
    original = seeds.read_bytes()
    state = c.json("/api/seeds")
    assert state["file"] == "seeds.jsonl" and len(state["rows"]) == 12
    edits = {"2": {"drop": True}, "3": {"fields": {"output": "A <b>new</b> answer."}}}
    status, diff = c.post("/api/seeds/diff", {"name": "curated.jsonl", "edits": edits})
    assert status == 200
    assert diff["diff"].startswith("--- seeds.jsonl\n+++ curated.jsonl")
    assert '+{"id": "s03"' in diff["diff"] and "A <b>new</b> answer." in diff["diff"]
    assert not (run.parent / "curated.jsonl").exists()  # the diff writes nothing
    status, saved = c.post("/api/seeds/save", {"name": "curated.jsonl", "edits": edits})
    assert status == 200 and saved == {"saved": "curated.jsonl"}
    out = [json.loads(x) for x in (run.parent / "curated.jsonl").read_text().splitlines()]
    assert [r["id"] for r in out] == [f"s{i:02d}" for i in range(1, 13) if i != 2]
    assert out[1]["output"] == "A <b>new</b> answer." and seeds.read_bytes() == original
    assert c.post("/api/seeds/save", {"name": "curated.jsonl", "edits": {}})[0] == 400
    bad = {"3": {"fields": {"nonexistent": "x"}}}
    assert c.post("/api/seeds/diff", {"name": "other.jsonl", "edits": bad})[0] == 400


def test_seed_findings_name_duplicates_and_outliers(tmp_path: Path) -> None:
    from synthgen.webui.seedsbook import SeedsBook

    rows = [
        {"instruction": f"Say hello to person number {i} today", "output": "Hello there."}
        for i in range(6)
    ]
    rows.append({"instruction": "Say hello to person number 0 today", "output": "Hi."})
    rows.append({"instruction": "List fruit", "output": '{"a": 1}'})
    rows.append({"instruction": "Long one", "output": "word " * 60})
    rows.append({"instruction": "No output here"})
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = SeedsBook(path).findings()
    assert any("exact duplicate of line 7" in f for f in found[1])
    assert any("format outlier: json" in f for f in found[8])
    assert any("output length outlier" in f for f in found[9])
    assert any("output" in f for f in found[10])


def test_between_reviewers_is_cohens_kappa_per_pair() -> None:
    lines = {("a", str(i)): {"verdict": v} for i, v in enumerate("AARRA")}
    lines |= {("b", str(i)): {"verdict": v} for i, v in enumerate("ARRRS")}
    for key, line in lines.items():
        lines[key] = {"verdict": {"A": "accept", "R": "reject", "S": "skip"}[line["verdict"]]}
    out = between_reviewers(lines)
    (pair,) = out["pairs"]
    assert pair["shared"] == 4 and pair["agreement"] == 0.75
    assert pair["kappa"] == pytest.approx(0.5)


def test_drift_shows_rounds_as_svg_and_two_runs_side_by_side(tmp_path: Path) -> None:
    a = review_run(tmp_path / "a", rounds=3)
    b = review_run(tmp_path / "b", rounds=5)
    handle = synthgen.review(a, b, sample=5)
    try:
        c = Client(handle)
        status, body = c.authed("/drift")
        html = body.decode()
        assert status == 200 and html.count("<svg") == 4 and "runs-2" in html
        assert html.count("<polyline") == 8 and "seed_skew: planted" in html
        assert "keep rate and distinct-2 per round" in html and "distinct_2" in html
        status, body = c.authed("/ledger?run=1&stage=rules")
        assert status == 200 and b"4 entries" in body
        status, body = c.authed("/ledger?run=1&q=nothing-matches-this")
        assert b"0 entries" in body
    finally:
        handle.stop()


def test_drift_still_shows_when_the_seeds_no_longer_read(run: Path) -> None:
    seeds = run.parent / "seeds.jsonl"
    first = seeds.read_text().splitlines()[0]
    seeds.write_text(seeds.read_text() + first + "\n")  # a duplicate id: strict reading fails
    handle = synthgen.review(run, sample=5)
    try:
        status, body = Client(handle).authed("/drift")
        assert status == 200 and b"seeds not compared" in body and b"duplicate id" in body
    finally:
        handle.stop()


def test_other_hosts_need_an_explicit_token_and_get_a_warning(run: Path) -> None:
    with pytest.raises(UsageError, match="needs an explicit --token"):
        synthgen.review(run, host="0.0.0.0")
    said: list[str] = []
    handle = synthgen.review(run, host="0.0.0.0", token="t" * 20, say=said.append)
    try:
        assert handle.token == "t" * 20 and "0.0.0.0" in handle.url
        assert said and said[0].startswith("warning: serving on 0.0.0.0")
    finally:
        handle.stop()


def test_a_negative_sample_or_dropped_without_a_ledger_are_usage_errors(run: Path) -> None:
    with pytest.raises(UsageError, match="--sample"):
        synthgen.review(run, sample=-1)
    (run / "dropped.jsonl").unlink()
    with pytest.raises(UsageError, match="no ledger") as e:
        synthgen.review(run, include_dropped=True)
    assert e.value.exit_code == 2


def test_a_dataset_file_and_conversations_are_reviewed_too(tmp_path: Path) -> None:
    from support.report_data import record, write_jsonl

    turns = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi <b>there</b>"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Bye."},
    ]
    talk = record(0, {"instruction": "Hi <b>there</b>", "input": "", "output": "Hello."}, score=5)
    data = write_jsonl(tmp_path / "talks.jsonl", [{**talk, "messages": turns}])
    handle = synthgen.review(data)
    try:
        c = Client(handle)
        (item,) = c.json("/api/audit")["items"]
        assert item["messages"] == turns and "source" not in item
        status, body = c.authed("/drift")
        assert status == 200 and b"no rounds: a dataset file" in body and b"1 records" in body
        assert b"no ledger beside this data" in c.authed("/ledger")[1]
        status, _ = c.label("ann", item["id"], "accept")
        assert status == 200 and (tmp_path / "talks.verdicts.jsonl").is_file()
    finally:
        handle.stop()


def test_show_judge_unblinds_the_records(run: Path) -> None:
    handle = synthgen.review(run, sample=4, blind=False)
    try:
        items = Client(handle).json("/api/audit")["items"]
        assert len(items) == 4
        assert all(i["judge"]["passed"] == (int(i["id"][-6:]) % 2 == 0) for i in items)
        assert b"(--show-judge)" in Client(handle).authed("/audit")[1]
    finally:
        handle.stop()


def test_a_missing_extra_is_a_usage_error_naming_it(
    run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synthgen.webui.server as server

    monkeypatch.setattr(server, "NEEDS", (*server.NEEDS, "no_such_module_xyz"))
    with pytest.raises(UsageError, match=r"optional extra \[review\]") as e:
        synthgen.review(run)
    assert e.value.exit_code == 2 and "synthgen[review]" in (e.value.hint or "")


def test_the_default_port_is_kept_across_restarts_unless_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One port by default keeps the page's origin, and the name the browser remembers."""
    import socket

    import synthgen.webui.server as server

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    busy = taken.getsockname()[1]
    try:
        monkeypatch.setattr(server, "DEFAULT_PORT", busy)
        other = server._bind("127.0.0.1", None)  # taken: any free port instead
        assert other.getsockname()[1] not in (busy, 0)
        other.close()
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{busy}"):
            server._bind("127.0.0.1", busy)  # asked for by name: an error, not another port
    finally:
        taken.close()
    free = server._bind("127.0.0.1", 0)
    port = free.getsockname()[1]
    free.close()
    monkeypatch.setattr(server, "DEFAULT_PORT", port)
    again = server._bind("127.0.0.1", None)
    assert again.getsockname()[1] == port
    again.close()


def test_a_grounded_record_shows_its_chunk_with_the_evidence_spans(tmp_path: Path) -> None:
    from support.report_data import record, write_jsonl

    from synthgen.documents import TextStore
    from synthgen.records import sha256_hex

    text = "Intro line.\n\nThe pump restarts after 19 minutes of rest. Then it hums.\n"
    start = text.index("The pump")
    quote = "The pump restarts after 19 minutes of rest."
    q = text.index(quote)
    data_path = tmp_path / "qa.jsonl"
    TextStore(tmp_path / "qa.jsonl.documents").put(text)
    rec = record(0, {"instruction": "When?", "input": "", "output": "After 19 minutes."}, score=5)
    rec["provenance"]["source"] = {
        "document": "manual.md",
        "text_sha256": sha256_hex(text),
        "chunk_id": "abc#1",
        "chunk_span": [start, len(text)],
    }
    rec["provenance"]["evidence"] = [{"quote": quote, "start": q, "end": q + len(quote)}]
    data = write_jsonl(data_path, [rec])
    handle = synthgen.review(data)
    try:
        (item,) = Client(handle).json("/api/audit")["items"]
        assert item["source"]["chunk_text"] == text[start:]
        assert item["source"]["span"] == [start, len(text)]
        assert item["evidence"][0]["span"] == [q, q + len(quote)]
    finally:
        handle.stop()
