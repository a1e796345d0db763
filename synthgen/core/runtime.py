"""What every stage command shares at run time: run ids, prices, clients, the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import signal
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from synthgen.core.manifest import now_iso
from synthgen.core.sink import check_outputs, ledger_path_for, manifest_path_for
from synthgen.core.store import open_state, run_status, set_run_status
from synthgen.errors import UsageError
from synthgen.llm.cost import DEFAULT_PRICES, Budget, Price, find_price
from synthgen.records import Status, sha256_hex

if TYPE_CHECKING:
    from synthgen.config import Config
    from synthgen.llm.client import LLMClient
    from synthgen.llm.misses import MissPolicy
    from synthgen.llm.stopping import StopFlag
    from synthgen.llm.stream import LiveRequests

T = TypeVar("T")


@contextmanager
def gc_tuned() -> Iterator[None]:
    """Fewer collections while requests run: the SDK makes many short-lived objects per
    call, and collections that rescan everything already built cost ~10% of throughput."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def new_run_id() -> str:
    """A fresh run id that sorts by start time and stays unique within the same second."""
    return f"run_{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}_{secrets.token_hex(3)}"


def price_of(cfg: Config, model: str) -> Price | None:
    """The price of `model`: the config's `prices:` first, then the built-in table."""
    price = find_price(model, {**DEFAULT_PRICES, **cfg.prices})
    if cfg.budget.max_cost_usd is not None and price is None:
        raise UsageError(
            f"--max-cost-usd needs a price for model {model!r}, and none is known",
            hint="add `prices: {" + model + ": {input: USD_PER_1M, output: "
            "USD_PER_1M}}` to a config file, or cap with --max-tokens",
        )
    return price


def make_client(
    cfg: Config,
    api_key: str,
    db: sqlite3.Connection,
    budget: Budget,
    model: str | None = None,
    *,
    base_url: str | None = None,
    misses: MissPolicy | None = None,
    say: Callable[[str], None] | None = None,
    live: LiveRequests | None = None,
    stopping: StopFlag | None = None,
) -> LLMClient:
    """A client for `model` (default: the configured one) over the state dir's cache, at
    `base_url` (default: the configured endpoint), with its cache-miss policy for good
    (default: online). A local endpoint given no concurrency gets its server's own (said
    once via `say`), unless the client sends nothing (offline). `stopping`: the command's stop
    flag, shared by all its clients."""
    from synthgen.llm.cache import Capabilities, ResponseCache
    from synthgen.llm.client import LLMClient
    from synthgen.llm.local import first_mention, local_concurrency, standin_answers
    from synthgen.llm.misses import Offline
    from synthgen.llm.types import endpoint_host, is_local

    update: dict[str, str] = {}
    if model is not None:
        update["model"] = model
    if base_url is not None:
        update["base_url"] = base_url
    ep = cfg.endpoint.model_copy(update=update) if update else cfg.endpoint
    caps = Capabilities(db, endpoint_host(ep.base_url), ep.model)
    if "concurrency" in cfg.endpoint.model_fields_set:
        caps.values.pop("concurrency", None)  # an earlier run's choice: the user's number rules
    elif is_local(ep.base_url) and not isinstance(misses, Offline):
        chosen = local_concurrency(caps, ep.base_url or "", api_key)
        ep = ep.model_copy(update={"concurrency": chosen.concurrency})
        if say is not None and first_mention(db, caps.endpoint):
            say(chosen.message(caps.endpoint))
    standin = ""
    if is_local(ep.base_url):  # the bundled stand-in's answer settings: another cache space
        online = not isinstance(misses, Offline)
        server = Capabilities(db, caps.endpoint, "")  # the server's, whichever model is asked
        standin = standin_answers(server, ep.base_url or "", api_key, online=online)
    return LLMClient(
        ep,
        api_key,
        ResponseCache(db),
        caps,
        budget,
        misses=misses,
        live=live,
        stopping=stopping,
        answers_from=standin,
    )


def run_cancellable(
    main: Callable[[], Awaitable[T]],
    stop: StopFlag | None = None,
    say: Callable[[str], None] | None = None,
) -> T:
    """asyncio.run(main()) with GC tuned. Without `stop`, SIGTERM (a cancelled CI job, `kill`)
    cancels the main task as cleanly as Ctrl-C does. With it, the first SIGINT or SIGTERM
    sets it (clients start no new request; what is in flight has `stop.grace_s` to land) and
    says so; the second, or the grace running out, cancels everything. A cancelled main task
    ends as KeyboardInterrupt, whichever signal cancelled it."""

    async def guarded() -> T:
        task = asyncio.current_task()
        if task is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                _handle_signals(asyncio.get_running_loop(), task, stop, say or (lambda s: None))
        return await main()

    with gc_tuned():
        try:
            return asyncio.run(guarded())
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None


def _handle_signals(
    loop: asyncio.AbstractEventLoop,
    task: asyncio.Task[T],
    stop: StopFlag | None,
    say: Callable[[str], None],
) -> None:
    if stop is None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return

    def abort() -> None:
        if not stop.aborted:
            stop.aborted = True
            say("aborted: requests in flight are cancelled; rerun the same command to resume")
            task.cancel()

    def on_signal() -> None:
        if stop.request():
            say("stopping… (Ctrl-C again to abort)")
            loop.call_later(stop.grace_s, abort)
        else:
            abort()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


@dataclass(frozen=True)
class RunSlot:
    """Where a stage run writes, and whether it continues an earlier attempt at the same job."""

    output: str
    to_stdout: bool
    out_path: Path
    ledger_path: Path
    manifest_path: Path
    db: sqlite3.Connection
    run_key: str
    run_id: str
    job_sha256: str
    resume: bool

    def files(self) -> dict[str, str]:
        """Where the records, the ledger and the manifest are, as summaries show them."""
        return {
            "output": self.output if self.to_stdout else str(self.out_path),
            "ledger": str(self.ledger_path),
            "manifest": str(self.manifest_path),
        }

    def set_status(self, status: Status | Literal["running"]) -> None:
        """Record this run's status, so a later run on the same output knows to resume or not."""
        set_run_status(self.db, self.run_key, self.run_id, self.job_sha256, status, now_iso())


def claim_run(
    cfg: Config,
    command: str,
    output: str,
    ledger: Path | None,
    job_sha256: str,
    say: Callable[[str], None],
    reads: Sequence[tuple[str, str | Path]] = (),
    announce_restart: bool = True,
    manifest: Path | None = None,
) -> RunSlot:
    """Resolve the output files and continue the same job on the same output (a finished
    one is left as it is), or start afresh when the settings changed. None of the outputs
    may be one of the `reads` (role, path) files, nor another output."""
    to_stdout = output == "-"
    out_path = cfg.state_dir / "stdout" / f"{command}.jsonl" if to_stdout else Path(output)
    ledger = ledger or ledger_path_for(out_path)
    manifest = manifest or manifest_path_for(out_path)
    writes = [("the output (-o)", out_path), ("--ledger", ledger), ("the manifest", manifest)]
    check_outputs(command, reads, writes)
    db = open_state(cfg.state_dir)
    # expand's key predates other stages; theirs carry the command's name.
    prefix = "" if command == "expand" else f"{command}:"
    run_key = sha256_hex(prefix + str(out_path.resolve()))
    prev = run_status(db, run_key)
    resume = prev is not None and prev[1] == job_sha256
    if prev is not None and not resume and announce_restart:
        say(
            f"note: {output} was written with other settings; starting afresh "
            "(answers already received stay cached)"
        )
    return RunSlot(
        output,
        to_stdout,
        out_path,
        ledger,
        manifest,
        db,
        run_key,
        prev[0] if resume and prev else new_run_id(),
        job_sha256,
        resume,
    )
