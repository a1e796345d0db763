"""The ordered judge window `filter` and `run` share: verdicts are asked concurrently, `size`
at a time, and every decision is committed strictly in the order the items were taken.

Decisions follow the answers, never their timing, so a rerun walks the same items, replays
the answered requests from the cache and decides the same. A request already in flight when
the window stops was paid for: it is let to land in the cache (unless the run is cancelled).
Once the command is stopping (the first Ctrl-C), a request not yet started raises Interrupted
instead of being sent: the window ends there as "interrupted", and what was in flight lands.
Items may come from an async source (`run` judges a round's candidates as they are made): a
take waits for the next item, so what is taken, and when, is the same as from a list.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from synthgen.errors import BudgetExceeded, EndpointError, Interrupted, SynthgenError
from synthgen.llm.batching import Deferred
from synthgen.llm.client import RequestFailed
from synthgen.records import Status

T = TypeVar("T")  # an item: a row, a candidate
V = TypeVar("V")  # its verdict
Items = Iterator[T] | AsyncIterator[T]


@dataclass(frozen=True)
class WindowEnd(Generic[T]):
    """How the window ended: its status, the error that ended it early, the items taken in
    but not committed (in order), and how many of them wait for a batch."""

    status: Status  # complete | stopped_budget | failed | interrupted | pending
    error: SynthgenError | None = None
    uncommitted: tuple[T, ...] = ()
    waiting: int = 0


def stop_error(e: BaseException) -> tuple[Status, SynthgenError]:
    """(status, error) of a budget stop, a request that kept failing, a request not sent
    because the command is stopping, or a cancellation."""
    if isinstance(e, Interrupted):
        return "interrupted", e
    if isinstance(e, BudgetExceeded):
        return "stopped_budget", e
    if isinstance(e, RequestFailed):
        return "failed", EndpointError(
            f"a judge request failed after retries: {e.message}",
            hint="check the endpoint; rerun the same command to resume",
        )
    return "interrupted", Interrupted(
        "interrupted; what was done is written", hint="run the same command to resume"
    )


def short_of(target: int, kept: int, in_flight: float, rate: float) -> bool:
    """The windows' rule (`run`'s generation and judge windows): one more request may go out
    while the kept plus the expected keeps of those in flight, at `rate`, may not reach the
    target, so what is in flight when the target is reached bounds the surplus."""
    return kept + in_flight * rate < target


async def _pull(items: Items[T]) -> list[T]:
    """The next item, as a list of one; [] once the items end (an async source may wait)."""
    if isinstance(items, AsyncIterator):
        try:
            return [await anext(items)]
        except StopAsyncIteration:
            return []
    for item in items:
        return [item]
    return []


def _always(in_flight: int) -> bool:
    return True


def _nothing() -> None:
    return None


@dataclass
class _Slot(Generic[T, V]):
    item: T
    task: asyncio.Task[V] | None


class JudgeWindow(Generic[T, V]):
    """Takes items in order while `may_ask(taken but uncommitted)` holds, `size` at a time;
    `ask(item)` is its verdict request (None: nothing to ask, e.g. a rule already failed it);
    `commit(item, verdict)` decides it, strictly in order. `on_wait` runs before the window
    waits on an unfinished answer (filter flushes what is committed)."""

    def __init__(
        self,
        ask: Callable[[T], Awaitable[V] | None],
        commit: Callable[[T, V | None], None],
        size: int,
        may_ask: Callable[[int], bool] = _always,
        on_wait: Callable[[], None] = _nothing,
    ) -> None:
        self.ask, self.commit, self.size = ask, commit, max(1, size)
        self.may_ask, self.on_wait = may_ask, on_wait

    async def _take(self, items: Items[T], pending: deque[_Slot[T, V]], held: int) -> bool:
        """Take one more item into the window if allowed; False once none may or can be."""
        if len(pending) >= self.size or not self.may_ask(held + len(pending)):
            return False
        got = await _pull(items)
        if not got:
            return False
        item = got[0]
        request = self.ask(item)
        task = None if request is None else asyncio.ensure_future(request)
        pending.append(_Slot(item, task))
        return True

    async def run(self, items: Items[T]) -> WindowEnd[T]:
        """Commit items in order until they end, `may_ask` says no more, or a stop; a
        cancellation cancels what is in flight and ends the window as "interrupted"."""
        pending: deque[_Slot[T, V]] = deque()
        taken: list[T] = []  # batch mode: left uncommitted behind a deferred verdict
        end: WindowEnd[T] = WindowEnd("complete")
        try:
            while True:
                while await self._take(items, pending, 0):
                    pass
                if not pending:
                    break
                head = pending[0]
                verdict: V | None = None
                if head.task is not None:
                    if not head.task.done():
                        self.on_wait()
                    try:
                        verdict = await head.task
                    except (BudgetExceeded, RequestFailed, Interrupted) as e:
                        status, error = stop_error(e)
                        end = WindowEnd(status, error, tuple(s.item for s in pending))
                        break
                    except Deferred:
                        return await self._queue_the_rest(items, pending, taken)
                pending.popleft()
                self.commit(head.item, verdict)
        except asyncio.CancelledError as e:
            tasks = [s.task for s in pending if s.task is not None]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return WindowEnd(*stop_error(e), (*taken, *(s.item for s in pending)))
        except Exception:  # bad input met on the way: what is in flight still lands
            await asyncio.gather(*(s.task for s in pending if s.task), return_exceptions=True)
            raise
        # Requests in flight were paid for: let them land in the cache for the rerun.
        await asyncio.gather(*(s.task for s in pending if s.task), return_exceptions=True)
        return end

    async def _queue_the_rest(
        self, items: Items[T], pending: deque[_Slot[T, V]], taken: list[T]
    ) -> WindowEnd[T]:
        """Batch mode, once a verdict waits for a batch: nothing after it commits in this pass,
        but every later item the window may take still gets its request queued (or replayed),
        a window at a time. What is cached is asked again, from the cache, by the pass that
        commits it."""
        waiting = 0
        while True:
            while await self._take(items, pending, len(taken)):
                pass
            if not pending:
                break
            head = pending.popleft()
            taken.append(head.item)
            if head.task is not None:
                try:
                    await head.task
                except Deferred:
                    waiting += 1
                except (BudgetExceeded, RequestFailed, Interrupted):
                    pass  # decided when this item is committed, by a later pass
        return WindowEnd("pending", None, tuple(taken), waiting)
