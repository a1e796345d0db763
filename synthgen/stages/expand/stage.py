"""The `expand` stage: seeds in; records, ledger and manifest out, through the skeleton."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthgen import prompts
from synthgen.config import Config, resolve_api_key
from synthgen.core.batchrun import BatchMode
from synthgen.core.runtime import RunSlot, price_of
from synthgen.core.sink import Sink
from synthgen.core.stage import ClientSpec, Outcome, Stage, StagePlan, StageRun, run_stage
from synthgen.errors import Interrupted, StoppedError, SynthgenError, UsageError
from synthgen.fingerprint import fingerprint_dump
from synthgen.llm.cost import Price, dearest
from synthgen.llm.stream import LiveRequests
from synthgen.llm.types import endpoint_host
from synthgen.records import Seed, StageSummary, Status, canonical_json, sha256_hex
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.expand.coverage import ChunkPlan
from synthgen.stages.expand.engine import Expander, ExpandResult, Progress, summary_counts
from synthgen.stages.expand.sources import (
    Sources,
    documents_dir,
    grounded_identity,
    load_sources,
    store_texts,
)
from synthgen.stages.expand.strategies import generation_of

TEMPLATES = ("self_instruct", "self_instruct_no_output", "paraphrase", "respond", "repair")


def job_sha256(cfg: Config, seeds: list[Seed], sources: Sources | None = None) -> str:
    """What determines the records; count, budget and throughput settings do not."""
    gen = fingerprint_dump(generation_of(cfg), "generation")
    templates = sorted((n, prompts.load(n).sha256) for n in TEMPLATES)
    # grounded: the prompt, the checks and every chunk shape the records too
    grounded: dict[str, Any] = {}
    if sources is not None:
        grounded["grounded"] = grounded_identity(cfg, sources)
    if grounded and any(s.messages for s in seeds):  # grounded conversations: their prompt
        grounded["grounded_conversation"] = prompts.load("grounded_conversation").sha256
    return sha256_hex(
        canonical_json(
            grounded
            | {
                "generation": gen,
                "model": cfg.endpoint.model,
                "endpoint": endpoint_host(cfg.endpoint.base_url),
                "task": cfg.task,
                "description": cfg.description,
                # a seed's turns only when it is a conversation: other seeds hash as before
                "seeds": [
                    s.model_dump(mode="json", exclude={"source"}, exclude_none=True) for s in seeds
                ],
                "templates": templates,
            }
        )
    )


def _dearest(cfg: Config, models: list[str]) -> Price | None:
    """One price for the generator and its responder models: the dearest known, so a budget
    is never passed (None when no price is known, as for one model)."""
    known = [p for m in dict.fromkeys(models) if (p := price_of(cfg, m)) is not None]
    if len(known) <= 1:
        return known[0] if known else None
    return dearest(known)


class ExpandStage(Stage):
    """Seeds × prompts × the client → records, with every dropped candidate ledgered."""

    def __init__(
        self,
        cfg: Config,
        output: str,
        ledger: Path | None,
        on_progress: Callable[[Progress], None] | None = None,
        batch: BatchMode | None = None,
    ) -> None:
        from synthgen.seeds.reader import read_seeds

        if not cfg.seeds:
            raise UsageError("no seed files given", hint="synthgen expand SEEDS.jsonl -n N -o OUT")
        self.cfg, self.on_progress = cfg, on_progress
        self.seeds = read_seeds(cfg.seeds, cfg.seed_format)  # type: ignore[arg-type]
        self.sources = load_sources(cfg) if cfg.generation.strategy == "grounded" else None
        if cfg.generation.strategy == "grounded" and self.sources is None:
            raise UsageError(
                "the grounded strategy needs documents",
                hint="synthgen expand SEEDS.jsonl --documents DOCS... -n N -o OUT",
            )
        # grounded: the verdict is a judge's, never the generator's own (none: not asked)
        judge = cfg.grounding.verdict_model if self.sources and cfg.grounding.verdict else None
        verdict = [ClientSpec(judge, role="judge")] if judge else []
        verdict_models = [judge] if judge else []
        self.plan = StagePlan(
            command="expand",
            output=output,
            ledger=ledger,
            job_sha256=job_sha256(cfg, self.seeds, self.sources),
            reads=[("a seed", p) for p in cfg.seeds],
            inputs=list(cfg.seeds),
            # the generator, then the models that answer in turn when K responses are asked
            models=[
                cfg.endpoint.model,
                *(ClientSpec(m, role="responder") for m in cfg.generation.models),
                *verdict,
            ],
            api_key=resolve_api_key(cfg),
            price=_dearest(cfg, [cfg.endpoint.model, *cfg.generation.models, *verdict_models]),
            batch=batch,
        )
        self.expander: Expander | None = None

    def open_sink(self, slot: RunSlot) -> Sink:
        """A sink that trims a file written with a larger -n to this run's count."""
        return Sink(
            slot.out_path,
            slot.ledger_path,
            slot.to_stdout,
            slot.resume,
            limit=self.cfg.generation.count,
        )

    async def execute(self, run: StageRun) -> Outcome:
        """Expand until the count is written, the budget is spent or the endpoint gives out."""
        cfg, sink = self.cfg, run.sink
        if run.slot.resume and sink.count:
            run.say(f"continuing {run.slot.run_id}: {sink.count} records already written")
        endpoint = endpoint_host(cfg.endpoint.base_url)
        gen, model = cfg.generation, cfg.endpoint.model
        judge = run.roles.judges[0] if run.roles.judges else None
        ctx = RunContext(
            run.slot.run_id, cfg.sha256(), cfg.task, gen, model, endpoint, verdict=judge
        )
        run.defer_misses()
        generator = run.roles.generator
        assert generator is not None  # the plan names it first
        responders = list(run.roles.responders)  # the models answering in turn (K responses)
        ground = None
        if self.sources is not None and cfg.grounding.verdict and judge is None:
            run.say(
                "grounded verdict: not asked (no --verdict-model); the quote, entity and copy "
                "checks decide, and `filter` judges what they keep"
            )
        if self.sources is not None and judge is not None:
            from synthgen.stages.expand.verdict import calibrate

            try:  # the verdict must tell a seed's own chunk from another before it decides
                calib = await calibrate(judge, self.seeds, self.sources)
            except StoppedError as e:
                return Outcome("stopped_calibration", e)
            right, pairs = calib["right"], calib["pairs"]
            run.say(f"grounded verdict ({judge.model}): {right} of {pairs} calibration pairs")
        if self.sources is not None:
            if not run.slot.to_stdout:  # the texts every span refers to, for `verify`
                store_texts(self.sources, documents_dir(run.slot.out_path))
            ground = ChunkPlan(self.sources, cfg.grounding)
        self.expander = Expander(
            cfg,
            self.seeds,
            generator,
            sink,
            ctx,
            self.on_progress,
            responders=responders,
            ground=ground,
        )
        return self._outcome(await self.expander.run())

    def stopped(self, run: StageRun, error: SynthgenError) -> Outcome:
        """Ctrl-C, SIGTERM or a fatal error: what was written so far stands."""
        status: Status = "interrupted" if isinstance(error, Interrupted) else "failed"
        progress = (
            self.expander.progress if self.expander else Progress(target=self.cfg.generation.count)
        )
        return self._outcome(ExpandResult(status, progress, error))

    def _outcome(self, result: ExpandResult) -> Outcome:
        self.result = result
        return Outcome(result.status, result.error)

    def finish(self, run: StageRun, outcome: Outcome) -> Outcome:
        """Counts over the whole output and ledger (earlier attempts included)."""
        outcome.counts = c = summary_counts(self.result, run.sink)
        shown = "-" if run.slot.to_stdout else str(run.slot.out_path)
        outcome.headline = (
            f"{c['written']}/{c['requested']} records → {shown} · "
            f"{sum(c['ledgered'].values())} ledgered"
        )
        outcome.details = {"capabilities": dict(run.clients[0].caps.values)}
        return outcome


def run_expand(
    cfg: Config,
    output: str,
    ledger: Path | None,
    say: Callable[[str], None],
    on_progress: Callable[[Progress], None] | None = None,
    batch: BatchMode | None = None,
    live: LiveRequests | None = None,
) -> StageSummary:
    """Expand the config's seeds into `output` (a path, or "-" for stdout); with `batch`,
    through the Batch API; `live` gets the clients' counters for a progress line."""
    return run_stage(ExpandStage(cfg, output, ledger, on_progress, batch), cfg, say, live)
