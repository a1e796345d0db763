"""`synthgen dedup` end to end: planted duplicates against exact ground truth, ledger and
manifest, references (seeds, eval sets), keep policies, errors, crash safety, semantic."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.dedup_corpus import greedy_truth, planted_texts
from support.helpers import read_jsonl, run, spawn

from synthgen.core.manifest import file_sha256
from synthgen.text.normalise import jaccard, word_shingles, words


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def alpaca(texts: list[str]) -> list[dict[str, Any]]:
    return [{"instruction": t, "input": "", "output": f"answer {i}"} for i, t in enumerate(texts)]


def test_planted_corpus_recall_and_precision_against_all_pairs(tmp_path: Path) -> None:
    texts = list(planted_texts(2000, seed=11))
    src = write_jsonl(tmp_path / "raw.jsonl", alpaca(texts))
    out = tmp_path / "out.jsonl"
    r = run(["dedup", str(src), "-o", str(out), "--threshold", "0.5", "--json"])
    assert r.code == 0, r.stderr
    truth = greedy_truth(texts, 0.5)
    ledger = read_jsonl(tmp_path / "out.ledger.jsonl")
    dropped = {e["provenance"]["source"]["line"] - 1 for e in ledger}
    tp = len(dropped & truth.keys())
    assert len(truth) > 400
    assert tp / len(truth) >= 0.97, "recall"
    assert tp / len(dropped) >= 0.99, "precision"
    by_id = {rec["id"]: rec for rec in read_jsonl(out)}
    text_of = {e["id"]: e["instruction"] for e in ledger} | {
        i: rec["instruction"] for i, rec in by_id.items()
    }
    for e in ledger:  # every drop was verified: recompute its similarity from the texts
        assert e["dropped"]["stage"] == "dedup"
        mine = word_shingles(words(e["instruction"]))
        theirs = word_shingles(words(text_of[e["match"]["id"]]))
        assert e["match"]["id"] in by_id or e["dropped"]["reason"] == "exact_duplicate"
        if e["dropped"]["reason"] == "near_duplicate":
            assert jaccard(mine, theirs) == pytest.approx(e["match"]["similarity"], abs=1e-4)
            assert e["match"]["similarity"] >= 0.5
        else:
            assert e["dropped"]["reason"] == "exact_duplicate" and mine == theirs
    counts = r.json()["counts"]
    assert counts["input"] == 2000 == counts["kept"] + sum(counts["dropped"].values())
    assert counts["kept"] == len(by_id) and len(ledger) == 2000 - len(by_id)
    for rec in by_id.values():
        dd = rec["provenance"]["dedup"]
        assert set(dd) == {"nearest", "similarity"}
        assert (dd["nearest"] is None) == (dd["similarity"] == 0.0)


def test_exact_mode_json_summary_manifest_and_rejected_path(tmp_path: Path) -> None:
    texts = ["Write a haiku about rain.", "write a HAIKU about  rain!", "Write a haiku about snow."]
    src = write_jsonl(tmp_path / "raw.jsonl", alpaca(texts))
    out, rej = tmp_path / "out.jsonl", tmp_path / "drops.jsonl"
    r = run(["dedup", str(src), "-o", str(out), "--method", "exact", "--rejected", str(rej)])
    assert r.code == 0, r.stderr
    r = run(
        ["dedup", str(src), "-o", str(out), "--method", "exact", "--rejected", str(rej), "--json"]
    )
    s = r.json()
    assert s["counts"] == {"input": 3, "kept": 2, "dropped": {"exact_duplicate": 1}}
    assert s["method"] == "exact" and s["threshold"] is None
    assert set(s["timings"]) == {"read", "decide", "write", "total"}
    (drop,) = read_jsonl(rej)
    assert drop["instruction"] == texts[1]
    assert drop["match"] == {
        "id": read_jsonl(out)[0]["id"],
        "similarity": 1.0,
        "source": str(src),
    }
    manifest = json.loads((tmp_path / "out.manifest.json").read_text())
    assert manifest["output_sha256"] == file_sha256(out)
    assert manifest["inputs"][0]["sha256"] == file_sha256(src)
    assert manifest["counts"] == s["counts"]
    assert not list(tmp_path.glob("*.partial"))


def test_whole_record_fields_and_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    recs = [
        {"instruction": "Add the numbers.", "input": "2 3", "output": "5"},
        {"instruction": "Add the numbers.", "input": "2 3", "output": "five"},
    ]
    src = write_jsonl(tmp_path / "raw.jsonl", recs)
    r = run(
        ["dedup", str(src), "-o", "-", "--fields", "instruction,input,output", "--method", "exact"]
    )
    assert r.code == 0, r.stderr
    assert [json.loads(line)["output"] for line in r.stdout.splitlines()] == ["5", "five"]
    r = run(["dedup", str(src), "-o", "-", "--method", "exact"])
    assert [json.loads(line)["output"] for line in r.stdout.splitlines()] == ["5"]
    assert read_jsonl(tmp_path / ".synthgen" / "stdout" / "dedup.ledger.jsonl")[0]["output"] == (
        "five"
    )


def test_against_seeds_and_decontaminate_eval_set(tmp_path: Path) -> None:
    seeds = write_jsonl(
        tmp_path / "seeds.jsonl",
        [{"instruction": "Summarise the customer's complaint in one sentence.", "output": "x"}],
    )
    question = (
        "A train leaves the station at nine and travels at sixty miles per hour towards "
        "a city two hundred miles away; when does it arrive"
    )
    evalset = write_jsonl(
        tmp_path / "eval.jsonl", [{"id": "gsm-1", "question": question, "answer": "12:20"}]
    )
    texts = [
        "summarise the customer's complaint in ONE sentence",  # copies a seed
        "Solve: " + question + "? Show your work.",  # leaks the eval item (13-grams)
        "Translate the following sentence into French.",
        "Translate the following sentence into German.",
    ]
    src = write_jsonl(tmp_path / "raw.jsonl", alpaca(texts))
    out = tmp_path / "out.jsonl"
    args = ["dedup", str(src), "-o", str(out), "--against", str(seeds)]
    args += ["--decontaminate", str(evalset), "--json"]
    # an eval set in its own shape (GSM8K's question/answer) is read as its text fields
    r = run([*args, "--format", "alpaca"])
    assert r.code == 0, r.stderr
    leaked = next(
        e for e in read_jsonl(tmp_path / "out.ledger.jsonl") if "Solve" in e["instruction"]
    )
    assert leaked["dropped"]["reason"] == "contaminated"
    assert leaked["match"]["source"] == str(evalset) and leaked["match"]["line"] == 1
    assert leaked["match"]["source_id"] == "gsm-1"
    # ...and one in a known format as that format
    write_jsonl(evalset, [{"prompt": question, "completion": "12:20"}])
    r = run(args)
    assert r.code == 0, r.stderr
    assert r.json()["counts"]["dropped"] == {
        "against_match": 1,
        "contaminated": 1,
        "near_duplicate": 1,
    }
    assert r.json()["references"] == {"decontaminate": 1, "against": 1}
    by_reason = {e["dropped"]["reason"]: e for e in read_jsonl(tmp_path / "out.ledger.jsonl")}
    seed_id = read_jsonl(seeds)[0]
    assert by_reason["against_match"]["match"]["source"] == str(seeds)
    assert by_reason["against_match"]["match"]["similarity"] == 1.0
    assert seed_id["instruction"].startswith("Summarise")
    leak = by_reason["contaminated"]["match"]
    assert leak["source"] == str(evalset) and 0 < leak["similarity"] <= 1
    assert [rec["instruction"] for rec in read_jsonl(out)] == [texts[2]]


@pytest.mark.parametrize(
    ("keep", "survivor"), [("first", 0), ("best", 1), ("shortest", 2), ("longest", 0)]
)
def test_keep_policy_chooses_the_survivor(tmp_path: Path, keep: str, survivor: int) -> None:
    base = "Write a short story about a lighthouse keeper who finds a message in a bottle"
    variants = [base + " tonight", base, base + " tonight please"]
    outputs = ["a much longer answer than the others", "a medium-length answer here", "short"]
    scores = [3.0, 4.5, 2.0]
    recs = [
        {
            "id": f"sg_{i}",
            "instruction": v,
            "input": "",
            "output": o,
            "provenance": {"run_id": "r", "judge": {"score": s}},
        }
        for i, (v, o, s) in enumerate(zip(variants, outputs, scores, strict=True))
    ]
    recs.append({**recs[0], "id": "sg_other", "instruction": "Name three primes."})
    src = write_jsonl(tmp_path / "raw.jsonl", recs)
    out = tmp_path / "out.jsonl"
    r = run(["dedup", str(src), "-o", str(out), "--keep", keep, "--threshold", "0.6"])
    assert r.code == 0, r.stderr
    kept = [rec["id"] for rec in read_jsonl(out)]
    assert kept == [f"sg_{survivor}", "sg_other"]
    for e in read_jsonl(tmp_path / "out.ledger.jsonl"):
        assert e["match"]["id"] == f"sg_{survivor}"


def test_bad_input_is_exit_2_with_file_line_field(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "raw.jsonl",
        [{"instruction": "a", "output": "b"}, {"instruction": "c", "answer": "d"}],
    )
    r = run(["dedup", str(src), "-o", str(tmp_path / "o.jsonl")])
    assert r.code == 2
    assert "raw.jsonl:2" in r.stderr and "output" in r.stderr and "how to fix" in r.stderr
    mixed = write_jsonl(
        tmp_path / "mixed.jsonl",
        [{"instruction": "a", "output": "b"}, {"messages": [{"role": "user", "content": "c"}]}],
    )
    r = run(["dedup", str(mixed), "-o", str(tmp_path / "o.jsonl")])
    assert r.code == 2 and "mixed.jsonl:2" in r.stderr and "one format per file" in r.stderr
    for extra, says in (
        (["--fields", "instruction,title"], "unknown field 'title'"),
        (["--fields", " , "], "no field given"),
        (["--threshold", "1.5"], "out of range"),
        (["--threshold", "0", "--method", "rouge-l"], "out of range"),
        (["--threshold", "7", "--method", "exact"], "out of range"),
    ):
        r = run(["dedup", str(src), "-o", str(tmp_path / "o.jsonl"), *extra])
        assert r.code == 2 and says in r.stderr and "how to fix" in r.stderr, extra
    r = run(["dedup", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")])
    assert r.code == 2 and "file not found" in r.stderr
    assert "Traceback" not in r.stderr


def writing(proc: Any, out: Path) -> None:
    """Wait until the run is in its second pass, writing the partial output."""
    partial = out.with_name(out.name + ".partial")
    for _ in range(3000):
        if partial.exists() and partial.stat().st_size > 0:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be stopped mid-way"


def test_failed_or_killed_run_leaves_the_old_output(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"old": true}\n')
    (tmp_path / "out.ledger.jsonl").write_text('{"old": true}\n')
    texts = list(planted_texts(60000, seed=2))
    recs = alpaca(texts)
    bad = write_jsonl(tmp_path / "bad.jsonl", [*recs[:100], {"instruction": 3, "output": "x"}])
    assert run(["dedup", str(bad), "-o", str(out)]).code == 2
    assert out.read_text() == '{"old": true}\n'
    big = write_jsonl(tmp_path / "big.jsonl", recs)
    proc = spawn(["dedup", str(big), "-o", str(out)], cwd=tmp_path)
    writing(proc, out)
    workers = [
        int(c)
        for t in Path(f"/proc/{proc.pid}/task").iterdir()
        for c in (t / "children").read_text().split()
    ]
    assert workers, "the minhash worker process runs beside the reader"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for _ in range(50):  # the worker does not outlive a killed dedup
        if not any(Path(f"/proc/{w}").exists() for w in workers):
            break
        time.sleep(0.1)
    assert not any(Path(f"/proc/{w}").exists() for w in workers)
    assert out.read_text() == '{"old": true}\n'
    assert (tmp_path / "out.ledger.jsonl").read_text() == '{"old": true}\n'
    # the killed run left its partial file; the next run starts it afresh
    out.with_name(out.name + ".partial").unlink()
    proc = spawn(["dedup", str(big), "-o", str(out)], cwd=tmp_path)
    writing(proc, out)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert out.read_text() == '{"old": true}\n'
    assert not list(tmp_path.glob("*.partial")), "an interrupted run cleans up after itself"
    r = run(["dedup", str(big), "-o", str(out), "--json"])  # a rerun redoes the work
    assert r.code == 0 and r.json()["counts"]["input"] == 60000
    assert len(read_jsonl(out)) == r.json()["counts"]["kept"]


def test_semantic_with_bundled_wordllama(tmp_path: Path) -> None:
    pytest.importorskip("wordllama")
    from synthgen.stages.dedup.semantic import wordllama_embedder

    texts = [
        "Write a short poem about the ocean at night.",
        "Compose a brief poem about the sea at night.",  # a paraphrase: same meaning
        "Explain how a compiler turns source code into machine code.",
    ]
    vecs = wordllama_embedder()(texts)
    paraphrase, unrelated = float(vecs[0] @ vecs[1]), float(vecs[1] @ vecs[2])
    assert paraphrase > 0.6 > unrelated  # the model sees meaning, not just shared words
    src = write_jsonl(tmp_path / "raw.jsonl", alpaca(texts))
    out = tmp_path / "out.jsonl"
    r = run(["dedup", str(src), "-o", str(out), "--method", "semantic", "--threshold", "0.6"])
    assert r.code == 0, r.stderr
    (drop,) = read_jsonl(tmp_path / "out.ledger.jsonl")
    assert drop["instruction"] == texts[1]
    assert drop["dropped"]["reason"] == "semantic_duplicate"
    assert drop["match"]["similarity"] == pytest.approx(paraphrase, abs=1e-3)
    assert [x["instruction"] for x in read_jsonl(out)] == [texts[0], texts[2]]
    # the index path, forced on a small file, decides the same
    r = run(
        [
            "dedup",
            str(src),
            "-o",
            str(out),
            "--method",
            "semantic",
            "--threshold",
            "0.6",
            "--semantic-index",
            "ivf",
            "--json",
        ]
    )
    assert r.code == 0, r.stderr
    assert [x["instruction"] for x in read_jsonl(out)] == [texts[0], texts[2]]
    assert r.json()["counts"]["dropped"] == {"semantic_duplicate": 1}
    manifest = json.loads((tmp_path / "out.manifest.json").read_text())
    assert manifest["config"]["semantic_index"] == "ivf"


def test_semantic_with_endpoint_embeddings(tmp_path: Path, standin: Any) -> None:
    import numpy as np
    import openai

    texts = [f"Instruction number {i} about topic {i * 7 % 5}" for i in range(30)]
    src = write_jsonl(tmp_path / "raw.jsonl", alpaca(texts))
    out = tmp_path / "out.jsonl"
    args = ["dedup", str(src), "-o", str(out), "--method", "semantic", "--threshold", "0.05"]
    args += ["--embeddings", "endpoint", "--model", "emb", "--base-url", standin.base_url]
    args += ["--state-dir", str(tmp_path / "state")]
    r = run(args, env={"OPENAI_API_KEY": "sk-test"})
    assert r.code == 0, r.stderr
    sent = standin.stats()["requests_total"]
    assert sent >= 1
    again = run(args, env={"OPENAI_API_KEY": "sk-test"})  # answered from the response cache
    assert again.code == 0 and again.stdout == r.stdout
    assert standin.stats()["requests_total"] == sent
    assert b"sk-test" not in (tmp_path / "state" / "state.db").read_bytes()
    client = openai.OpenAI(base_url=standin.base_url, api_key="sk-test")
    data = client.embeddings.create(model="emb", input=texts).data
    vecs = np.array([d.embedding for d in data])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    index = {f"answer {i}": i for i in range(30)}
    ledger = read_jsonl(tmp_path / "out.ledger.jsonl")
    assert ledger, "threshold 0.05 on unrelated vectors drops some"
    kept = read_jsonl(out)
    ids = {rec["id"]: index[rec["output"]] for rec in [*kept, *ledger]}
    for e in ledger:
        i, j = index[e["output"]], ids[e["match"]["id"]]
        assert j < i and float(vecs[i] @ vecs[j]) == pytest.approx(
            e["match"]["similarity"], abs=1e-3
        )
        assert e["match"]["similarity"] >= 0.05
    assert len(kept) + len(ledger) == 30


def test_stdin_input_and_empty_input(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from synthgen.cli.app import cli

    data = b"".join(orjson.dumps(r) + b"\n" for r in alpaca(["Say hi.", "say HI!", "Say bye."]))
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(cli, ["dedup", "-", "-o", str(out), "--json"], input=data)
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["counts"] == {
        "input": 3,
        "kept": 2,
        "dropped": {"exact_duplicate": 1},
    }
    assert json.loads((tmp_path / "out.manifest.json").read_text())["inputs"][0]["path"] == "-"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for method in ("exact", "minhash", "rouge-l"):
        r = run(["dedup", str(empty), "-o", str(out), "--method", method, "--json"])
        assert r.code == 0, r.stderr
        assert r.json()["counts"] == {"input": 0, "kept": 0, "dropped": {}}
        assert out.read_text() == ""


def test_json_array_and_bom_jsonl_of_synthgen_records(tmp_path: Path) -> None:
    recs = [
        {"id": f"sg_{i}", "instruction": t, "output": "o", "provenance": {"run_id": "r"}}
        for i, t in enumerate(["Name a colour.", "name a colour", "Name a fruit."])
    ]
    src = tmp_path / "raw.json"
    src.write_bytes(orjson.dumps(recs, option=orjson.OPT_INDENT_2))
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + b"".join(orjson.dumps(r) + b"\n" for r in recs))
    out = tmp_path / "out.jsonl"
    for path in (bom, src):
        r = run(["dedup", str(path), "-o", str(out), "--method", "exact"])
        assert r.code == 0, r.stderr
        assert [rec["id"] for rec in read_jsonl(out)] == ["sg_0", "sg_2"]
    assert read_jsonl(out)[0]["provenance"] == {
        "run_id": "r",
        "dedup": {"nearest": "sg_1", "similarity": 1.0},
    }


@pytest.mark.parametrize("method", ["minhash", "semantic"])
def test_a_copy_of_a_dropped_record_shares_its_fate(tmp_path: Path, method: str) -> None:
    """A restyled copy of a leak is a leak too: it is ledgered as contaminated (with the eval
    item as its match), not as the exact duplicate of a record that is not in the output."""
    if method == "semantic":
        pytest.importorskip("wordllama")
    item = "Write a short poem about the quiet rain on old roofs"  # < 13 words: no 13-grams
    evalset = write_jsonl(
        tmp_path / "eval.jsonl",
        [
            {"id": "other", "instruction": "Add 2 and 2.", "output": "4"},
            {"id": "eval-7", "instruction": item, "output": "E"},
        ],
    )
    seeds = write_jsonl(
        tmp_path / "seeds.jsonl", [{"instruction": "Name three primes.", "output": "2"}]
    )
    texts = [
        item + " tonight",  # a near copy of the eval item
        "WRITE a short poem, about the quiet rain on old roofs tonight!",  # same text as [0]
        "Name three primes please.",  # a near copy of a seed
        "name THREE primes, please",  # same text as [2]
        "Something else entirely different here.",
    ]
    src = write_jsonl(tmp_path / "raw.jsonl", alpaca(texts))
    out = tmp_path / "out.jsonl"
    args = ["dedup", str(src), "-o", str(out), "--method", method, "--threshold", "0.6"]
    r = run([*args, "--decontaminate", str(evalset), "--against", str(seeds), "--json"])
    assert r.code == 0, r.stderr
    assert r.json()["counts"]["dropped"] == {"against_match": 2, "contaminated": 2}
    ledger = read_jsonl(tmp_path / "out.ledger.jsonl")
    assert [e["output"] for e in ledger] == ["answer 0", "answer 1", "answer 2", "answer 3"]
    assert ledger[0]["match"] == ledger[1]["match"]
    assert ledger[0]["match"]["source"] == str(evalset)
    assert ledger[0]["match"]["line"] == 2 and ledger[0]["match"]["source_id"] == "eval-7"
    assert ledger[2]["match"] == ledger[3]["match"]
    assert ledger[2]["match"]["source"] == str(seeds)
    assert ledger[2]["match"]["line"] == 1 and "source_id" not in ledger[2]["match"]
    assert [rec["output"] for rec in read_jsonl(out)] == ["answer 4"]


@pytest.mark.parametrize("method", ["exact", "minhash", "rouge-l", "semantic"])
def test_texts_without_words_are_nobodys_duplicates(tmp_path: Path, method: str) -> None:
    """Records whose compared fields are empty (or only punctuation) are all kept: there is
    nothing to compare, and they are not copies of one another."""
    if method == "semantic":
        pytest.importorskip("wordllama")
    recs = [
        {"instruction": "Add the numbers.", "input": "", "output": "a"},
        {"instruction": "Sort the list.", "input": "", "output": "b"},
        {"instruction": "Reverse the word.", "input": "!!!", "output": "c"},
        {"instruction": "Reverse the word.", "input": "hello there", "output": "d"},
        {"instruction": "Sort the list.", "input": "HELLO, there", "output": "e"},
    ]
    src = write_jsonl(tmp_path / "raw.jsonl", recs)
    out = tmp_path / "out.jsonl"
    r = run(["dedup", str(src), "-o", str(out), "--method", method, "--fields", "input", "--json"])
    assert r.code == 0, r.stderr
    counts = r.json()["counts"]
    dropped = "near_duplicate" if method == "rouge-l" else "exact_duplicate"
    assert counts == {"input": 5, "kept": 4, "dropped": {dropped: 1}}
    assert [rec["output"] for rec in read_jsonl(out)] == ["a", "b", "c", "d"]
    for rec in read_jsonl(out):
        sim = rec["provenance"]["dedup"]["similarity"]
        assert sim == sim  # never NaN


def test_outputs_may_not_be_inputs_or_each_other(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "raw.jsonl", alpaca(["Say hi.", "say HI!"]))
    seeds = write_jsonl(tmp_path / "seeds.jsonl", alpaca(["Say bye."]))
    before = src.read_bytes(), seeds.read_bytes()
    out = str(tmp_path / "out.jsonl")
    for extra, says in (
        (["-o", str(src)], "is the input file"),
        (["-o", out, "--rejected", str(src)], "is the input file"),
        (["-o", str(seeds), "--against", str(seeds)], "is the --against file"),
        (["-o", out, "--decontaminate", str(seeds), "--rejected", str(seeds)], "--decontaminate"),
        (["-o", out, "--rejected", out], "also the output"),
    ):
        r = run(["dedup", str(src), *extra])
        assert r.code == 2 and says in r.stderr and "how to fix" in r.stderr, extra
    assert (src.read_bytes(), seeds.read_bytes()) == before
    r = run(["dedup", str(src), "-o", out, "--rejected", str(tmp_path / "drops.jsonl")])
    assert r.code == 0 and len(read_jsonl(tmp_path / "drops.jsonl")) == 1


def test_rouge_l_compares_instructions_by_default_as_self_instruct(tmp_path: Path) -> None:
    """Self-Instruct's filter scores instructions only: the same instruction with another
    input is a duplicate for rouge-l unless --fields says otherwise."""
    recs = [
        {"instruction": "Classify the sentiment of the review.", "input": i, "output": o}
        for i, o in (("Great phone, love it.", "positive"), ("Broke in a day.", "negative"))
    ]
    src = write_jsonl(tmp_path / "raw.jsonl", recs)
    out = str(tmp_path / "out.jsonl")
    r = run(["dedup", src.as_posix(), "-o", out, "--method", "rouge-l", "--json"])
    assert r.code == 0 and r.json()["fields"] == ["instruction"]
    assert r.json()["counts"]["dropped"] == {"near_duplicate": 1}
    r = run(["dedup", str(src), "-o", out, "--method", "rouge-l", "--fields", "instruction,input"])
    assert r.code == 0 and len(read_jsonl(tmp_path / "out.jsonl")) == 2
    r = run(["dedup", str(src), "-o", out, "--json"])  # other methods: instruction + input
    assert r.json()["fields"] == ["instruction", "input"] and r.json()["counts"]["kept"] == 2


def test_instructions_without_outputs_yet(tmp_path: Path) -> None:
    """Instructions are often deduplicated before responses exist: a blank output is fine
    (a missing output field is still an error that names the line)."""
    recs = [{"instruction": t, "output": ""} for t in ("Say hi.", "say HI!", "Say bye.")]
    src = write_jsonl(tmp_path / "raw.jsonl", recs)
    out = tmp_path / "out.jsonl"
    r = run(["dedup", str(src), "-o", str(out), "--json"])
    assert r.code == 0, r.stderr
    assert r.json()["counts"] == {"input": 3, "kept": 2, "dropped": {"exact_duplicate": 1}}
    assert [rec["instruction"] for rec in read_jsonl(out)] == ["Say hi.", "Say bye."]
    write_jsonl(src, [{"instruction": "Say hi."}])
    r = run(["dedup", str(src), "-o", str(out)])
    assert r.code == 2 and "raw.jsonl:1" in r.stderr and '"output"' in r.stderr
