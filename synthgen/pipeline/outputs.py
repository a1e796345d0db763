"""What a run leaves beside data.jsonl and dropped.jsonl: the report with samples to look at,
the configured exports, the dataset card, and the sha256 of each for the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthgen.config import Config
from synthgen.core.manifest import file_sha256, tidy_path
from synthgen.core.stage import Outcome, StageRun
from synthgen.errors import StoppedError
from synthgen.records import Seed
from synthgen.version import __version__


def answered_by_standin(run: StageRun) -> bool:
    """Did synthgen's stand-in answer any of the run's clients (now or when it was cached)?"""
    return any(c.caps.get("standin", "") == "1" for c in run.clients)


def write_outputs(
    cfg: Config, seeds: list[Seed], run: StageRun, outcome: Outcome, run_dir: Path
) -> tuple[dict[str, str], list[str]]:
    """Write the report, exports and card; return {file: sha256} and the report's warnings.
    The report and card also carry what the run warned (`outcome.warnings`) and whether the
    stand-in answered. A report warning named in gates.fail_on stops a complete run as a
    tripped gate."""
    from synthgen.stages.report.card import STANDIN_NOTE

    data, dropped = run.slot.out_path, run.slot.ledger_path
    kept = int(outcome.counts.get("kept", 0))
    report = None
    warnings: list[str] = []
    written = [data, dropped]
    notes = [STANDIN_NOTE] if answered_by_standin(run) else []
    notes += outcome.warnings
    if kept:
        report = _report(cfg, data, dropped, run_dir / "report.html", notes)
        written.append(run_dir / "report.html")
        warnings = [f"{w.code}: {w.message}" for w in report.warnings]
        fired = sorted({w.code for w in report.warnings} & set(cfg.gates.fail_on))
        if fired and outcome.status == "complete":
            outcome.status = "stopped_gate"
            outcome.error = StoppedError(
                f"quality gate fail_on tripped: report warning {', '.join(fired)}",
                hint="read report.html; remove the code from gates.fail_on only if it is fine",
            )
            codes = ", ".join(fired)
            outcome.details["gate"] = {"gate": "fail_on", "threshold": codes, "measured": codes}
    data_files = {"train": data.name}
    for i, fmt in enumerate(cfg.outputs.formats):
        files = export_format(cfg, data, run_dir / f"{fmt}.jsonl", fmt)
        written += files.values()
        if i == 0:  # the card points datasets.load_dataset at the first export's splits
            data_files = {split: path.name for split, path in files.items()}
    written.append(_card(cfg, seeds, run, outcome, run_dir, data_files, report))
    return {p.name: file_sha256(p) or "" for p in written if p.exists()}, warnings


def _report(cfg: Config, data: Path, dropped: Path, html: Path, notes: list[str]) -> Any:
    from synthgen.stages.report.build import ReportInputs, build_report
    from synthgen.stages.report.html import write_html
    from synthgen.stages.report.samples import draw_samples
    from synthgen.stages.report.warnings import load_thresholds

    seed_files = tuple(Path(tidy_path(p)) for p in cfg.seeds)
    inputs = ReportInputs(data, seed_files=seed_files, ledger=dropped, seed=0)
    built = build_report(inputs, load_thresholds(None, []))
    samples = draw_samples(data, dropped, seed=cfg.generation.seed)
    write_html(built, html, samples=samples, notes=notes)
    return built.report


def export_format(cfg: Config, data: Path, out: Path, fmt: str) -> dict[str, Path]:
    """One trainer format of the run's data, with the split and last-turn settings of `outputs`."""
    from synthgen.stages.export import ONE_EXCHANGE, ConversationError, PreferenceError, export

    split = dict(cfg.outputs.split) or None
    last_turn = cfg.outputs.last_turn and fmt in ONE_EXCHANGE
    try:
        summary = export(
            data, out, fmt, split=split, split_seed=cfg.outputs.split_seed, last_turn=last_turn
        )
    except ConversationError as e:  # the fix is in the config, not a flag
        e.hint = (
            "set outputs.last_turn: true to export each conversation's last exchange, "
            "or list messages/sharegpt in outputs.formats instead"
        )
        raise
    except PreferenceError as e:
        e.hint = (
            "dpo needs preference pairs: set generation.responses_per_instruction (2 or more), "
            "or remove dpo from outputs.formats"
        )
        raise
    return {f.split: Path(f.path) for f in summary.files}


def _card(
    cfg: Config,
    seeds: list[Seed],
    run: StageRun,
    outcome: Outcome,
    run_dir: Path,
    data_files: dict[str, str],
    report: Any,
) -> Path:
    from synthgen.stages.report.card import CardFacts, write_card

    judges = [c.model for c in run.roles.judges] if cfg.filter.judge.enabled else []
    stats = [c.stats for c in run.clients]
    counts = outcome.counts
    facts = CardFacts(
        synthgen_version=__version__,
        generator_models=[cfg.endpoint.model],
        judge_models=judges,
        strategy=cfg.generation.strategy,
        seed_files=[tidy_path(p) for p in cfg.seeds],
        seeds=len(seeds),
        candidates=int(counts.get("candidates", 0)),
        kept=int(counts.get("kept", 0)),
        drops=counts.get("dropped", {}),
        cost_usd=round(run.budget.spent_cost_usd, 6),
        price_known=run.budget.price is not None,
        prompt_tokens=sum(s.prompt_tokens for s in stats),
        completion_tokens=sum(s.completion_tokens for s in stats),
        run_id=run.slot.run_id,
        records_run_id=outcome.details.get("records_run_id"),
        stop_reason=None if outcome.status == "complete" else outcome.status,
        report=report,
        stage_warnings=list(outcome.warnings),
        standin=answered_by_standin(run),
    )
    return write_card(
        run_dir,
        task=cfg.task,
        description=cfg.description,
        license=cfg.outputs.license,
        language=list(cfg.outputs.language),
        data_files=data_files,
        facts=facts,
        task_categories=cfg.outputs.task_categories,
    )
