"""What a grounded run adds to its run dir: the extracted texts its spans refer to (listed
in the manifest), the coverage block, and the `grounding.min_chunk_coverage` gate."""

from __future__ import annotations

from pathlib import Path

from synthgen.config import Config
from synthgen.core.manifest import file_sha256
from synthgen.core.stage import Outcome, StageRun
from synthgen.errors import StoppedError, UsageError
from synthgen.llm.client import LLMClient
from synthgen.records import Seed, canonical_json, sha256_hex
from synthgen.stages.expand.sources import Sources, grounded_identity, load_sources, store_texts

DOCUMENTS_DIR = "documents"  # in the run dir: <text sha256>.txt, one per document


def run_sources(cfg: Config) -> Sources | None:
    """The documents of a grounded run (None for other strategies); an error when a
    grounded run names none."""
    if cfg.generation.strategy != "grounded":
        return None
    sources = load_sources(cfg)
    if sources is None:
        raise UsageError(
            "the grounded strategy needs documents",
            hint="add a documents: section (paths: [docs/]) to the config",
        )
    return sources


def run_job_suffix(cfg: Config, sources: Sources | None) -> str:
    """What a grounded run adds to run's job hash (nothing for other runs, whose hash stays)."""
    if sources is None:
        return ""
    return "\n" + sha256_hex(canonical_json(grounded_identity(cfg, sources)))


def store_run_texts(sources: Sources | None, run: StageRun, run_dir: Path) -> dict[str, str]:
    """Each document's extracted text in the run dir's documents/ (when the run dir is
    written), as {name: sha256} for the manifest's files."""
    if sources is None or not run.delivered:
        return {}
    root = run_dir / DOCUMENTS_DIR
    store_texts(sources, root)
    names = (f"{doc.text_sha256}.txt" for doc in sources.corpus.documents)
    return {f"{DOCUMENTS_DIR}/{n}": file_sha256(root / n) or "" for n in names}


def finish_grounded(
    cfg: Config, sources: Sources | None, run: StageRun, outcome: Outcome, run_dir: Path
) -> None:
    """Add the coverage block to the run's details, and stop a complete run whose chunk
    coverage is under the gate (exit 3)."""
    from synthgen.stages.report.coverage import coverage

    if sources is None:
        return
    docs, chunks = sources.corpus.documents, sources.chunks
    block = coverage(run.slot.out_path, run.slot.ledger_path, docs, chunks)
    outcome.details["coverage"] = block.model_dump(mode="json")
    floor = cfg.grounding.min_chunk_coverage
    if floor is not None and outcome.status == "complete" and block.chunk_coverage < floor:
        outcome.status = "stopped_gate"
        outcome.error = StoppedError(
            f"quality gate min_chunk_coverage tripped: {block.chunk_coverage:.2%} of chunks "
            f"kept a record, threshold {floor:.2%}",
            hint="see the coverage block (empty_chunks) and the ledger: a larger target, "
            "longer chunks, or fewer documents",
        )
        measured = block.chunk_coverage
        outcome.details["gate"] = {
            "gate": "min_chunk_coverage",
            "threshold": floor,
            "measured": measured,
        }


async def calibrate_verdict(
    cfg: Config, sources: Sources | None, seeds: list[Seed], run: StageRun
) -> Outcome | None:
    """The grounded verdict's calibration on the seeds (stages/expand/verdict.py) before
    anything is generated; a stop when it cannot tell a seed's chunk from another."""
    from synthgen.stages.expand.verdict import calibrate

    judge = verdict_client(cfg, sources, run)
    if sources is None or not cfg.grounding.verdict:
        return None
    if judge is None:
        run.say("grounded verdict: not asked (the judge is off); the deterministic checks decide")
        return None
    try:
        summary = await calibrate(judge, seeds, sources)
    except StoppedError as e:
        return Outcome("stopped_calibration", e)
    right, pairs = summary["right"], summary["pairs"]
    run.say(f"grounded verdict ({judge.model}): {right} of {pairs} calibration pairs right")
    return None


def verdict_client(cfg: Config, sources: Sources | None, run: StageRun) -> LLMClient | None:
    """Who gives a grounded run's verdict on the raw chunk: its judge (the first model of a
    panel), never the generator, whose blind spots it would share; None without one."""
    if sources is None or not cfg.grounding.verdict or not run.roles.judges:
        return None
    return run.roles.judges[0]
