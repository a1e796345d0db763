"""`run`'s progress moves during each step, over HTTP against the stand-in: candidates are
counted as the round's expansion makes them and verdicts as they come, not only at round
ends (a whole round used to show `0 candidates` until it was over)."""

from __future__ import annotations

from pathlib import Path

from support.runs import standin, write_config

import synthgen.api as api
from synthgen.llm.stream import LiveRequests
from synthgen.pipeline.run_loop import RunProgress


def test_run_reports_candidates_and_verdicts_as_they_happen(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen")
    seen: list[tuple[RunProgress, int]] = []
    live = LiveRequests()
    with standin() as s:
        summary = api.run(
            cfg,
            base_url=s.base_url,
            count=20,
            live=live,
            on_progress=lambda p: seen.append((p, live.sent())),
        )
    assert summary.status == "complete", summary.error
    first = [p for p, _ in seen if p.round == 0]
    made = [p.candidates for p in first if p.in_round == "expand"]
    assert len(set(made)) > 2 and made == sorted(made)  # moving within the expand step
    judged = [p.judged for p in first if p.in_round == "judge"]
    assert len(set(judged)) > 2 and judged == sorted(judged)  # and within the judge step
    assert [p.in_round for p in first].index("screen") < [p.in_round for p in first].index("judge")
    sent = [n for _, n in seen]
    assert sent == sorted(sent) and sent[-1] > sent[0]  # the live counters the line reads
