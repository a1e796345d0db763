"""`synthgen documents inspect` and `synthgen.api.documents_inspect` on the bundled example
and on files that cannot be used; the `documents:` section of a run config."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from support.helpers import run

import synthgen.api as api
from synthgen.config import Config, load_config
from synthgen.documents import load_corpus
from synthgen.documents.inspect import DocumentsReport
from synthgen.errors import ConfigError, UsageError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "documents"


def test_inspect_the_bundled_example_as_json() -> None:
    r = run(["documents", "inspect", str(EXAMPLE), "--json", "--chunk-tokens", "300"])
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    docs = {Path(d["path"]).name: d for d in out["documents"]}
    assert sorted(docs) == [
        "kestrel-kp40-manual.md",
        "kestrel-troubleshooting.md",
        "kestrel-warranty.html",
        "rainwater-harvesting.md",
    ]  # LICENSE is not a document
    assert docs["kestrel-warranty.html"]["parser"] == "html"
    for d in docs.values():
        spans = [(c["start"], c["end"]) for c in d["chunks"]]
        assert spans[0][0] == 0 and spans[-1][1] == d["chars"]
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
        assert d["tokens"]["max"] <= 300 and d["headings"]
    assert out["tokens"]["chunks"] == sum(len(d["chunks"]) for d in docs.values())
    assert out["problems"] == [] and out["chunk_tokens"] == 300


def test_the_report_names_every_file_that_cannot_be_used_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("# Fine\n\nSome text.\n")
    (tmp_path / "empty.txt").write_text("\n")
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    (tmp_path / "notes.rtf").write_text("{\\rtf1}")
    args = [str(tmp_path / n) for n in ("ok.md", "empty.txt", "latin.txt", "notes.rtf")]
    r = run(["documents", "inspect", *args], env={"COLUMNS": "300"})
    assert r.code == 2
    for name in ("empty.txt", "latin.txt", "notes.rtf", "not UTF-8", "how to fix"):
        assert name in r.stderr
    assert "ok.md" in r.stderr  # the usable one is still reported
    r = run(["documents", "inspect", *args, "--json"])
    assert r.code == 2
    assert [Path(p["path"]).name for p in json.loads(r.stdout)["problems"]] == [
        "empty.txt",
        "latin.txt",
        "notes.rtf",
    ]


def test_a_bad_chunk_size_is_a_usage_error() -> None:
    r = run(["documents", "inspect", str(EXAMPLE), "--chunk-tokens", "4"])
    assert r.code == 2 and "chunk_tokens" in r.stderr and "Traceback" not in r.stderr
    r = run(["documents", "inspect", str(EXAMPLE), "--chunk-tokens", "30", "--json"])
    assert r.code == 0 and json.loads(r.stdout)["min_chunk_tokens"] == 7


def test_the_python_api_returns_the_typed_report() -> None:
    report = api.documents_inspect(["*.md"], base=EXAMPLE, chunk_tokens=200)
    assert isinstance(report, DocumentsReport)
    assert [d.path for d in report.documents] == [
        "kestrel-kp40-manual.md",
        "kestrel-troubleshooting.md",
        "rainwater-harvesting.md",
    ]
    corpus = load_corpus(["*.md"], base=EXAMPLE, chunk_tokens=200)
    assert [c.id for c in corpus.chunks] == [c.id for d in report.documents for c in d.chunks]
    with pytest.raises(UsageError):
        api.documents_inspect([EXAMPLE], min_chunk_tokens=500)
    assert len(api.documents_inspect(str(EXAMPLE)).documents) == 4


def test_the_documents_section_of_a_run_config(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("documents: [docs/, 'manuals/*.pdf']\n")
    assert load_config(cfg, {}).documents.paths == ["docs/", "manuals/*.pdf"]
    cfg.write_text("documents: {paths: [a.md], chunk_tokens: 256, min_chunk_tokens: 0}\n")
    loaded = load_config(cfg, {})
    assert (loaded.documents.chunk_tokens, loaded.documents.min_chunk_tokens) == (256, 0)
    # Content-shaping: other documents, other records; no documents, the hashes of before.
    assert loaded.sha256() != load_config(None, {}).sha256()
    assert Config().sha256() == Config(documents={"paths": []}).sha256()  # type: ignore[arg-type]
    cfg.write_text("documents: {paths: [a.md], chunk_tokens: 40}\n")
    assert load_config(cfg, {}).documents.min_chunk_tokens == 10  # a quarter, not 50
    cfg.write_text("documents: {paths: [a.md], chunk_tokens: 40, min_chunk_tokens: 41}\n")
    with pytest.raises(ConfigError, match="above chunk_tokens"):
        load_config(cfg, {})
    cfg.write_text("documents: {path: [a.md]}\n")
    with pytest.raises(ConfigError, match=r"documents\.path"):
        load_config(cfg, {})


def test_inspect_a_configs_documents_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "configs").mkdir()
    cfg = tmp_path / "configs" / "g.yaml"
    cfg.write_text(f"documents: {{paths: ['{EXAMPLE}/*.md'], chunk_tokens: 200}}\n")
    monkeypatch.chdir(tmp_path)
    r = run(["documents", "inspect", "--config", "configs/g.yaml", "--json"])
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["documents"]) == 3 and out["chunk_tokens"] == 200
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\ntext\n")
    cfg.write_text("documents: [../docs]\n")
    r = run(["documents", "inspect", "--config", str(cfg), "--json", "--chunk-tokens", "99"])
    out = json.loads(r.stdout)
    assert [d["path"] for d in out["documents"]] == ["docs/a.md"] and out["chunk_tokens"] == 99
    r = run(["documents", "inspect"])
    assert r.code == 2 and "no documents to inspect" in r.stderr
