"""The Batch API over the openai SDK: upload, create, retrieve, download, cancel, list.

Uploads and creations are idempotent across crashes: a chunk whose upload (or creation) was
started but not recorded is looked for on the endpoint first — its file by the chunk's
file name, its batch by its input file — and adopted when found, never made twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from synthgen.errors import EndpointError
from synthgen.llm.policy import message

if TYPE_CHECKING:
    import openai

T = TypeVar("T")

CONNECT_ATTEMPTS = 3  # an upload cut midway, or a status poll that fails, is tried again
LIST_PAGES = 20  # pages of 100 looked through when adopting a file or batch


@dataclass(frozen=True)
class Remote:
    """What the endpoint says about one batch."""

    id: str
    status: str
    input_file_id: str
    output_file_id: str | None
    error_file_id: str | None
    counts: dict[str, int]
    errors: str | None  # why a batch failed validation, in the endpoint's words


def _remote(b: Any) -> Remote:
    rc = b.request_counts
    counts = {"total": rc.total, "completed": rc.completed, "failed": rc.failed} if rc else {}
    errors = None
    if b.errors is not None and b.errors.data:
        errors = "; ".join(
            f"line {e.line}: {e.message}" if e.line else str(e.message) for e in b.errors.data
        )
    return Remote(
        b.id, b.status, b.input_file_id, b.output_file_id, b.error_file_id, counts, errors
    )


async def _patient(
    what: str, call: Callable[[], Awaitable[T]], sleep: Callable[[float], Awaitable[None]]
) -> T:
    """A call retried on connection errors and 5xx, a few times with a short backoff."""
    import openai

    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return await call()
        except (openai.APIConnectionError, openai.InternalServerError) as e:
            if attempt == CONNECT_ATTEMPTS:
                raise EndpointError(
                    f"the Batch API did not answer {what}: {message(e)}",
                    hint="check the endpoint; rerun the same command: nothing is lost or made "
                    "twice",
                ) from e
            await sleep(0.5 * attempt)
        except openai.APIStatusError as e:
            raise EndpointError(
                f"the Batch API refused {what} ({e.status_code}): {message(e)}",
                hint="does this endpoint offer the Batch API (/v1/files, /v1/batches)? "
                "without --batch the same command runs online",
            ) from e
    raise AssertionError("unreachable")  # pragma: no cover


class BatchAPI:
    """One endpoint's Files and Batches, through the stage's own SDK client."""

    def __init__(self, sdk: openai.AsyncOpenAI, sleep: Callable[[float], Awaitable[None]]):
        self.sdk, self.sleep = sdk, sleep

    async def _first(self, first_page: Any, match: Callable[[Any], bool]) -> Any:
        """The first item of a paginated list (at most LIST_PAGES pages) that matches."""
        page = await first_page
        for _ in range(LIST_PAGES):
            found = next((x for x in page.data if match(x)), None)
            if found is not None or not page.has_next_page():
                return found
            page = await page.get_next_page()
        return None

    async def find_file(self, file_name: str) -> str | None:
        """The id of an uploaded batch input file named `file_name`, if the endpoint has one."""

        async def look() -> str | None:
            f = await self._first(
                self.sdk.files.list(purpose="batch"), lambda f: f.filename == file_name
            )
            return None if f is None else str(f.id)

        return await _patient("a list of files", look, self.sleep)

    async def upload(self, file_name: str, content: bytes) -> str:
        """Upload an input file; when the answer is lost, find the file that arrived."""
        import openai

        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                f = await self.sdk.files.create(file=(file_name, content), purpose="batch")
                return str(f.id)
            except openai.APIConnectionError as e:
                found = await self.find_file(file_name)  # stored, but the answer was lost
                if found is not None:
                    return found
                if attempt == CONNECT_ATTEMPTS:
                    raise EndpointError(
                        f"uploading the batch input file {file_name} failed: {message(e)}",
                        hint="rerun the same command: the file is uploaded once",
                    ) from e
                await self.sleep(0.5 * attempt)
            except openai.APIStatusError as e:
                raise EndpointError(
                    f"the endpoint refused the batch input file ({e.status_code}): {message(e)}",
                    hint="does this endpoint offer the Batch API? without --batch the same "
                    "command runs online",
                ) from e
        raise AssertionError("unreachable")  # pragma: no cover

    async def find_batch(self, input_file_id: str) -> Remote | None:
        """The batch made of `input_file_id`, if one was created."""

        async def look() -> Remote | None:
            b = await self._first(
                self.sdk.batches.list(limit=100), lambda b: b.input_file_id == input_file_id
            )
            return None if b is None else _remote(b)

        return await _patient("a list of batches", look, self.sleep)

    async def create(self, input_file_id: str, file_name: str) -> Remote:
        """Create the batch of an uploaded file; when the answer is lost, find the batch."""
        import openai

        async def make() -> Remote:
            b = await self.sdk.batches.create(
                input_file_id=input_file_id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata={"synthgen_file": file_name},
            )
            return _remote(b)

        try:
            return await make()
        except openai.APIConnectionError:
            found = await self.find_batch(input_file_id)  # made, but the answer was lost
            if found is not None:
                return found
        return await _patient("a new batch", make, self.sleep)

    async def retrieve(self, batch_id: str) -> Remote:
        """The batch's status and counts now."""

        async def get() -> Remote:
            return _remote(await self.sdk.batches.retrieve(batch_id))

        return await _patient(f"about batch {batch_id}", get, self.sleep)

    async def cancel(self, batch_id: str) -> Remote:
        """Ask the endpoint to cancel a batch (what completed stays in its output file)."""

        async def post() -> Remote:
            return _remote(await self.sdk.batches.cancel(batch_id))

        return await _patient(f"cancelling batch {batch_id}", post, self.sleep)

    async def lines(self, file_id: str | None) -> list[dict[str, Any]]:
        """The JSON lines of an output or error file (none for no file)."""
        if not file_id:
            return []

        async def get() -> bytes:
            resp = await self.sdk.files.content(file_id)
            return bytes(resp.content)

        content = await _patient(f"file {file_id}", get, self.sleep)
        out = []
        for raw in content.splitlines():
            if raw.strip():
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue  # a line we cannot read is a line not answered: it is asked again
                if isinstance(obj, dict) and isinstance(obj.get("custom_id"), str):
                    out.append(obj)
        return out
