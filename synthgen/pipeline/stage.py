"""`synthgen run` through the stage skeleton: the run dir's plan, the pipeline as its execute
step, and the files a person and a trainer read once it ends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from synthgen import fingerprint
from synthgen.config import Config, resolve_api_key
from synthgen.core.batchrun import BatchMode
from synthgen.core.runtime import RunSlot
from synthgen.core.sink import Sink
from synthgen.core.stage import ClientSpec, Outcome, Stage, StagePlan, StageRun, run_stage
from synthgen.errors import Interrupted, SynthgenError
from synthgen.llm.stream import LiveRequests
from synthgen.llm.types import endpoint_host
from synthgen.pipeline.grounding import (
    calibrate_verdict,
    finish_grounded,
    run_job_suffix,
    run_sources,
    store_run_texts,
    verdict_client,
)
from synthgen.pipeline.outputs import answered_by_standin, write_outputs
from synthgen.pipeline.rounds import GateTrip, RoundRecord, run_counts
from synthgen.pipeline.run_loop import Pipeline, RunProgress
from synthgen.records import Seed, StageSummary, sha256_hex


class RunSummary(StageSummary):
    """How a run ended: the stage summary plus its run dir, target, rounds and gate."""

    run_dir: str
    target: int
    rounds: list[RoundRecord] = Field(default_factory=list)
    gate: GateTrip | None = None


def run_dir_of(cfg: Config) -> Path:
    """Where the run writes: outputs.dir, else out/<task> (beside the config file, if any)."""
    return cfg.outputs.dir or (cfg.home or Path()) / "out" / cfg.task


def data_sha256(cfg: Config) -> str:
    """The settings that shape the records' content: the records' `config_sha256`, so a larger
    target or budget, another state dir or --offline write the same bytes."""
    return fingerprint.data_sha256(cfg, cfg.origin)


class RunStage(Stage):
    """Exactly N good records from one config, in rounds; see pipeline/run_loop.py."""

    def __init__(
        self,
        cfg: Config,
        *,
        offline: bool = False,
        on_progress: Callable[[RunProgress], None] | None = None,
        batch: BatchMode | None = None,
    ) -> None:
        from synthgen.seeds.reader import read_seeds
        from synthgen.stages.filter.plan import make_plan, panel_price

        self.cfg, self.on_progress = cfg, on_progress
        self.seeds: list[Seed] = read_seeds(cfg.seeds, cfg.seed_format)  # type: ignore[arg-type]
        self.run_dir = run_dir_of(cfg)
        fplan = make_plan(cfg)  # checks rubric, threshold, reference before anything is sent
        judge_url = cfg.filter.judge.base_url
        judges = [ClientSpec(m, judge_url, "judge") for m in fplan.models]
        self.data_sha = data_sha256(cfg)
        self.sources = run_sources(cfg)  # grounded: the documents, read and chunked
        reads: list[tuple[str, str | Path]] = [("a seed", p) for p in cfg.seeds]
        reads += [("a dedup reference", p) for p in (*cfg.dedup.against, *cfg.dedup.decontaminate)]
        self.plan = StagePlan(
            command="run",
            output=str(self.run_dir / "data.jsonl"),
            ledger=self.run_dir / "dropped.jsonl",
            job_sha256=sha256_hex(
                f"run\n{self.data_sha}\n{cfg.target.count}" + run_job_suffix(cfg, self.sources)
            ),
            reads=reads,
            inputs=[*cfg.seeds, *cfg.dedup.against, *cfg.dedup.decontaminate],
            # the generator, its judges, then the models answering in turn (K responses)
            models=[
                ClientSpec(cfg.endpoint.model),
                *judges,
                *(ClientSpec(m, role="responder") for m in cfg.generation.models),
            ],
            api_key="offline" if offline else resolve_api_key(cfg),
            price=panel_price(cfg, [cfg.endpoint.model, *fplan.models, *cfg.generation.models]),
            resumable=False,
            manifest=self.run_dir / "manifest.json",
            offline=offline,
            batch=batch,
        )
        self.pipeline: Pipeline | None = None
        self.judge_models = fplan.models
        self.records_run_id = f"run_{self.data_sha[:16]}"
        self.warnings: list[str] = []

    def open_sink(self, slot: RunSlot) -> Sink:
        """data.jsonl and dropped.jsonl, made afresh each time (answers replay from cache)."""
        return Sink(slot.out_path, slot.ledger_path, to_stdout=False, resume=False)

    async def execute(self, run: StageRun) -> Outcome:
        """The pipeline's loop, with the run's deterministic id (a function of the config)."""
        from synthgen.stages.expand.candidates import RunContext
        from synthgen.stages.filter.calibration import independence, independence_warning

        cfg = self.cfg
        # said before anything is spent, as `filter` says it; kept for the manifest and card
        pairs = independence(self.judge_models, [cfg.endpoint.model, *cfg.generation.models])
        self.warnings = [independence_warning(p) for p in pairs]
        for w in self.warnings:
            run.say(f"warning: {w}")
        ctx = RunContext(
            self.records_run_id,
            self.data_sha,
            cfg.task,
            cfg.generation,
            cfg.endpoint.model,
            endpoint_host(cfg.endpoint.base_url),
            sources=self.sources,
            verdict=verdict_client(cfg, self.sources, run),
        )
        stop = await calibrate_verdict(cfg, self.sources, self.seeds, run)
        if stop is not None:  # grounded: the verdict could not tell a seed's chunk apart
            return stop
        self.pipeline = Pipeline(cfg, self.seeds, run, ctx, self.on_progress)
        return await self.pipeline.loop()

    def stopped(self, run: StageRun, error: SynthgenError) -> Outcome:
        """An abort (the second Ctrl-C, or in-flight requests past the grace) or a fatal
        error: the earlier run dir stays as it was; rerun to finish. (The first Ctrl-C ends
        the loop its own way, and the run dir is written as it stands.)"""
        if isinstance(error, Interrupted):
            aborted = Interrupted(
                "aborted; the run dir was not written (an earlier one stays as it was)",
                hint="run the same command to finish: every answer received is cached",
            )
            return Outcome("interrupted", aborted)
        return Outcome("failed", error)

    def finish(self, run: StageRun, outcome: Outcome) -> Outcome:
        """Counts that add up, the report, the dataset card, exports, and their hashes."""
        p = self.pipeline
        if p is None:
            return outcome
        outcome.counts = run_counts(p.totals)
        t = p.totals
        outcome.headline = (
            f"{t.kept}/{self.cfg.target.count} kept of {t.input} candidates in "
            f"{len(p.rounds)} rounds → {self.run_dir}"
        )
        if not run.delivered:
            outcome.headline += " (not written)"
        outcome.details = {
            "run_dir": str(self.run_dir),
            "target": self.cfg.target.count,
            "rounds": [r.model_dump(mode="json") for r in p.rounds],
            "gate": p.gate.model_dump(mode="json") if p.gate else None,
            # the records' provenance.run_id, a function of the config (the manifest's `run_id`
            # is this session's): see the card's "How it was made"
            "records_run_id": self.records_run_id,
            "standin": answered_by_standin(run),
        }
        outcome.warnings = [*self.warnings, *outcome.warnings]
        if outcome.details["standin"]:
            run.say("note: synthgen's stand-in answered this run: not useful data")
        if p.calibration is not None:
            outcome.details["calibration"] = p.calibration.summary()
        if p.steer is not None:  # every cell's quota, kept and candidates (docs/axes.md)
            outcome.details["coverage"] = p.steer.summary()
        if p.screen.checks is not None:  # pass rates and messages of the checks that execute
            outcome.details["checks"] = p.screen.checks.report()
            if p.repairs is not None:  # filter.checks.repair: asked and passed, per check
                outcome.details["check_repairs"] = p.repairs.report()
        stored = store_run_texts(self.sources, run, self.run_dir)  # before the report reads
        if run.delivered and outcome.status != "pending":
            files, warnings = write_outputs(self.cfg, self.seeds, run, outcome, self.run_dir)
            outcome.details["files"] = files | stored
            for w in warnings:
                run.say(f"report warning: {w}")
            outcome.warnings = [*outcome.warnings, *warnings]
        finish_grounded(self.cfg, self.sources, run, outcome, self.run_dir)
        return outcome


def run_config(
    cfg: Config,
    say: Callable[[str], None],
    *,
    offline: bool = False,
    on_progress: Callable[[RunProgress], None] | None = None,
    batch: BatchMode | None = None,
    live: LiveRequests | None = None,
) -> RunSummary:
    """Run `cfg` to its target; whatever ends it, return the typed summary. With `batch`,
    generation and judging go through the Batch API, pass after pass; `live` as
    `run_stage`'s."""
    stage = RunStage(cfg, offline=offline, on_progress=on_progress, batch=batch)
    summary = run_stage(stage, cfg, say, live)
    d: dict[str, Any] = dict(summary.details)
    base = summary.model_dump(exclude={"details"})
    return RunSummary(
        **base,
        run_dir=d.pop("run_dir", str(run_dir_of(cfg))),
        target=d.pop("target", cfg.target.count),
        rounds=[RoundRecord.model_validate(r) for r in d.pop("rounds", [])],
        gate=GateTrip.model_validate(d["gate"]) if d.get("gate") else None,
        details={k: v for k, v in d.items() if k != "gate"},
    )
