"""One async client over the openai SDK: cache, limits, retries, capability fallbacks."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from synthgen.llm.cache import Capabilities, ResponseCache, request_key, utc_seconds
from synthgen.llm.cost import Budget
from synthgen.llm.limits import Clock, Limiter, retry_after_seconds
from synthgen.llm.misses import MissPolicy, Online
from synthgen.llm.policy import (
    CONFIG_STRIKES,
    RATE_LIMIT_PATIENCE,
    RETRY_STATUS,
    UNREACHABLE_ATTEMPTS,
    UNREACHABLE_WAIT_S,
    RequestFailed,
    RequestRejected,
    access_error,
    access_errors,
    attempt_limit,
    backoff_base,
    connect_failure,
    invalid_response,
    is_content_filter,
    is_format_rejection,
    is_retryable,
    message,
    retry_wait,
    unexpected_status,
    unreachable,
    wrong_config,
    wrong_model_or_key,
)
from synthgen.llm.proxy import upstream_model
from synthgen.llm.stopping import StopFlag
from synthgen.llm.stream import LiveRequests, Reply, Streaming, exchange
from synthgen.llm.tokens import completion_tokens, estimate, messages_tokens
from synthgen.llm.types import (
    STANDIN_HEADER,
    Answer,
    ChatRequest,
    RequestStats,
    endpoint_host,
    is_local,
)
from synthgen.llm.wire import (
    STRUCTURED_ORDER,
    call_kwargs,
    completion_answers,
    schema_instruction,
)
from synthgen.records import StructuredPath, sha256_hex

if TYPE_CHECKING:
    import httpx2

    from synthgen.config import EndpointConfig

__all__ = [
    "RATE_LIMIT_PATIENCE",
    "RETRY_STATUS",
    "STRUCTURED_ORDER",
    "LLMClient",
    "RequestFailed",
    "RequestRejected",
    "schema_instruction",
]


class LLMClient:
    """Send chat requests once: replay what the cache holds, pay only for the rest."""

    def __init__(
        self,
        cfg: EndpointConfig,
        api_key: str,
        cache: ResponseCache,
        capabilities: Capabilities,
        budget: Budget,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        http_client: httpx2.AsyncClient | None = None,
        misses: MissPolicy | None = None,
        live: LiveRequests | None = None,
        stopping: StopFlag | None = None,
        answers_from: str = "",
    ) -> None:
        """`clock`, `rng` and `http_client` are for tests: fake time, jitter and transport.
        `misses`: what a request the cache cannot answer does (default: it is sent).
        `live`: the command's live counters, which its progress line reads.
        `stopping`: the command's stop flag; once set, no request starts (Stopping).
        `answers_from`: the stand-in's answer settings, folded into cache keys ("" elsewhere)."""
        self.stopping = stopping or StopFlag()
        self._misses = misses or Online()
        import httpx2
        import openai

        self.cfg = cfg
        self.model = cfg.model
        self.endpoint = endpoint_host(cfg.base_url)
        self.cache, self.caps, self.budget = cache, capabilities, budget
        self.clock = clock or Clock()
        self.rng = rng or random.Random(0)  # jitter only; never affects what is asked
        self.limiter = Limiter(cfg.concurrency, cfg.rpm, cfg.tpm, self.clock)
        self.stats = RequestStats()
        # Until something answers, a failure to connect means a wrong URL or no server, not a
        # blip: it gets UNREACHABLE_ATTEMPTS quick tries, then the command stops.
        self.connected = False
        # The stand-in's answer settings (core.runtime.make_client reads them): part of every
        # cache key, so other settings ask again. Empty, as for every real server: keys as ever.
        self.answers_from = answers_from
        # Streamed answers make the timeout the silence between chunks, not the whole answer.
        t = cfg.timeout_s
        self.stream = Streaming(capabilities, self.stats, is_local(cfg.base_url), live, t)
        self.sdk = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=cfg.base_url,
            max_retries=0,
            # httpx's read timeout is per read: with streaming, per chunk.
            timeout=httpx2.Timeout(connect=min(t, 30.0), read=t, write=t, pool=t),
            http_client=http_client,
        )

    @property
    def misses(self) -> MissPolicy:
        """The cache-miss policy this client was built with; it has no setter, by design."""
        return self._misses

    async def close(self) -> None:
        """Close the SDK's connections when the run is done with this client."""
        await self.sdk.close()

    def key(self, req: ChatRequest, sample: int) -> str:
        """The cache key of one sample of a request; ledger ids of its drops derive from it too."""
        identity = req.identity(self.model)
        if self.answers_from:
            identity = sha256_hex(f"{identity}\nstandin:{self.answers_from}")
        return request_key(self.endpoint, identity, sample)

    @property
    def standin(self) -> bool:
        """Whether this client talks to the bundled stand-in (its answers are made up)."""
        return bool(self.answers_from)

    def cached(self, req: ChatRequest, sample: int = 0) -> bool:
        """Whether a sample is answered in the cache, so planning can count it as free and fast."""
        return self.cache.get(self.key(req, sample)) is not None

    async def chat(self, req: ChatRequest, followup: bool = False) -> list[Answer]:
        """Exactly `req.n` answers, in sample order. `followup`: a re-ask that depends on an
        answer (a repair, a retry with more tokens), which batch mode sends online unless
        told to batch those too."""
        keys = [self.key(req, i) for i in range(req.n)]
        answers: list[Answer | None] = [None] * req.n
        for i, k in enumerate(keys):
            hit = self.cache.get(k)
            if hit is not None:
                a = Answer.model_validate({**hit, "cached": True, "key": k})
                answers[i] = a
                self.stats.cached += 1
                u = a.usage
                self.budget.replay(u.prompt_tokens + u.completion_tokens, u.cost_usd)
        missing = [i for i, a in enumerate(answers) if a is None]
        if missing:  # offline raises; batch mode raises Deferred, or returns to go online
            self._misses.on_miss(self, req, keys, missing, followup)
        while missing:
            ask = len(missing) if self.caps.get("n", "native") == "native" else 1
            got = await self._send(req, ask, missing[0])
            if ask > 1 and len(got) < ask and self.caps.get("n", "native") == "native":
                self.caps.learn("n", "separate", f"asked n={ask}, got {len(got)} choices")
                self.stats.fallbacks.append("n_ignored")
            sampling = "n" if len(got) > 1 else ("separate" if req.n > 1 else "single")
            kept = self.remember([keys[i] for i in missing], got, sampling)
            for i, a in zip(missing, kept, strict=False):
                answers[i] = a
            missing = missing[len(got) :]
        out = [a for a in answers if a is not None]
        for a in out:
            self.stats.count(a.usage)
        return out

    def remember(self, keys: list[str], got: list[Answer], sampling: str) -> list[Answer]:
        """Cache answers under their samples' keys (a batch's answers come this way too)."""
        received = utc_seconds(datetime.now(UTC))
        out = []
        for k, a in zip(keys, got, strict=False):
            a = a.model_copy(update={"sampling": sampling, "key": k, "received_at": received})
            self.cache.put(
                k,
                endpoint=self.endpoint,
                model=self.model,
                body=a.model_dump(exclude={"cached", "key"}),
                prompt_tokens=a.usage.prompt_tokens,
                completion_tokens=a.usage.completion_tokens,
                cost_usd=a.usage.cost_usd,
            )
            out.append(a)
        return out

    async def _send(self, req: ChatRequest, n: int, sample: int) -> list[Answer]:
        import openai

        while True:
            path: StructuredPath = "none"
            if req.json_schema is not None:
                path = self.caps.get("structured", "json_schema")  # type: ignore[assignment]
            kw = call_kwargs(self.model, req, n, sample, path)
            prompt_est = messages_tokens(kw["messages"], estimate)
            reservation = await self.budget.reserve_when_room(prompt_est, req.max_tokens * n)
            try:
                reply: Reply = await self._with_retries(kw, prompt_est + req.max_tokens * n)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
                self.budget.release(reservation)
                if path in ("json_schema", "json_object") and is_format_rejection(e):
                    nxt = STRUCTURED_ORDER[STRUCTURED_ORDER.index(path) + 1]
                    self.caps.learn("structured", nxt, f"{path} rejected: {message(e)}")
                    self.stats.fallbacks.append(f"{path}->{nxt}")
                    continue
                reason = "content_filter" if is_content_filter(e) else "request_rejected"
                raise RequestRejected(f"{e.status_code}: {message(e)}", reason) from e
            except BaseException:
                self.budget.release(reservation)
                raise
            if reply.usage_missing:
                self.stream.fall_back("stream_usage", "streamed answers carry no usage")
            completion = reply.completion
            if not completion.choices:
                # Nothing to cache or return: `chat` would ask again for ever.
                self.budget.release(reservation)
                raise invalid_response("it has no choices")
            usage = completion.usage
            pt = usage.prompt_tokens if usage else prompt_est
            texts = [
                c.message.content or "" for c in sorted(completion.choices, key=lambda c: c.index)
            ]
            ct, per_choice = completion_tokens(usage.completion_tokens if usage else None, texts)
            if per_choice and "usage_n->estimate" not in self.stats.fallbacks:
                self.stats.fallbacks.append("usage_n->estimate")  # the summary says so
            self.limiter.refund_tokens(req.max_tokens * n - ct)
            self.stats.tokens_streamed += ct - reply.counted  # the estimate becomes the count
            cost = self.budget.settle(reservation, pt, ct, usage.cached_tokens if usage else 0)
            upstream = upstream_model(reply.headers)
            return completion_answers(
                completion, self.model, reply.request_id, path, (pt, ct, cost), upstream
            )

    async def _with_retries(self, kw: dict[str, Any], tokens: int) -> Any:
        """The one retry layer: tenacity around the SDK (whose own retries are off)."""
        import openai
        from tenacity import AsyncRetrying, retry_if_exception

        first_failure: BaseException | None = None
        try:
            # Most requests succeed at once: try before building the retry machinery, then
            # hand a failure to tenacity as its attempt 1, so waits and limits stay its own.
            try:
                return await self._once(kw, tokens)
            except (openai.APIConnectionError, openai.APIStatusError) as e:
                if not is_retryable(e):
                    raise
                first_failure = e
            retrying = AsyncRetrying(
                stop=self._stop,
                retry=retry_if_exception(is_retryable),
                wait=self._wait,
                sleep=self.clock.sleep,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    if first_failure is not None:
                        failure, first_failure = first_failure, None
                        raise failure
                    return await self._once(kw, tokens, retry=True)
        except access_errors() as e:
            raise access_error(e, self.endpoint, self.model, self.cfg.api_key_env) from e
        except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
            kind = wrong_model_or_key(e)
            if kind is None:
                raise  # `_send` decides: a structured-output fallback, or a refused request
            if self.limiter.doubt() < CONFIG_STRIKES:
                return await self._with_retries(kw, tokens)  # believed once it repeats
            cfg = self.cfg
            self.limiter.broken = wrong_config(e, kind, self.endpoint, cfg.model, cfg.api_key_env)
            raise self.limiter.broken from e
        except openai.APIStatusError as e:
            if not is_retryable(e):
                raise unexpected_status(e) from e
            raise self._gave_up(e) from e
        except openai.APIConnectionError as e:
            reason = connect_failure(e)
            if reason is not None and not self.connected:
                self.stats.failed += 1
                self.limiter.broken = unreachable(self.cfg.base_url or self.endpoint, reason)
                raise self.limiter.broken from e
            raise self._gave_up(e) from e
        except openai.APIResponseValidationError as e:
            raise invalid_response(message(e)) from e
        except openai.OpenAIError as e:
            # Anything else the SDK may raise about an answer: fail this request readably.
            self.stats.failed += 1
            raise RequestFailed(f"the request failed: {type(e).__name__}: {message(e)}") from e
        raise AssertionError("unreachable")  # pragma: no cover

    def _gave_up(self, e: Exception) -> RequestFailed:
        self.stats.failed += 1
        return RequestFailed(f"gave up after retrying: {type(e).__name__}: {message(e)}")

    async def _once(self, kw: dict[str, Any], tokens: int, retry: bool = False) -> Reply:
        import openai

        self.stopping.check()
        await self.limiter.wait_turn(tokens)
        async with self.limiter.slots:
            self.stopping.check()  # set while this request waited its turn: it never starts
            if kw.get("n", 1) > 1 and self.caps.get("n", "native") != "native":
                # Learned while this request waited its turn: don't ask for n again.
                kw = {k: v for k, v in kw.items() if k != "n"}
            if retry:  # counted once it is really tried, not when the endpoint is given up
                self.stats.retried += 1
            while True:
                # Decided per attempt: a retry after a timeout streams, a refusal turns it off.
                flags = self.stream.flags()
                try:
                    reply = await self._exchange({**kw, **flags})
                    break
                except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
                    # Like a json_schema refusal, ask the same again at once, without it.
                    if not self.stream.refused(e, flags):
                        raise
        self.limiter.learn(reply.headers)
        if self.limiter.proxy and self.caps.get("proxy", "") != self.limiter.proxy:
            self.caps.learn("proxy", self.limiter.proxy, self.limiter.proxy_detail)
        if reply.headers.get(STANDIN_HEADER) and self.caps.get("standin", "") != "1":
            self.caps.learn("standin", "1", f"answered with {STANDIN_HEADER}: placeholder text")
        self.limiter.succeeded()
        self.limiter.probed.set()
        return reply

    async def _exchange(self, kw: dict[str, Any]) -> Reply:
        """One request and its whole answer, counted live and taught to the limiter."""
        import httpx2
        import openai

        self.stats.sent += 1
        self.stats.in_flight += 1
        try:
            reply = await exchange(self.sdk, kw, self.stream.arrived, self.stream.first_token)
            self.connected = True
            return reply
        except openai.APIConnectionError as e:
            self.limiter.probed.set()
            if connect_failure(e) is None:
                self.connected = True
            else:
                self.stats.sent -= 1  # it never reached the endpoint
            if isinstance(e, openai.APITimeoutError) and not isinstance(
                e.__cause__, httpx2.ConnectTimeout | httpx2.PoolTimeout
            ):
                self.stream.timed_out()  # an answer slower than the timeout, not a dead host
            raise
        except openai.APIStatusError as e:
            self.limiter.probed.set()
            self.connected = True
            if e.status_code >= 500:
                self.limiter.refusals.note("5xx")
            if e.status_code == 429:
                self.stats.rate_limited += 1
                wait = retry_after_seconds(e.response.headers)
                self.limiter.cool_down(wait if wait is not None else 1.0)
                self.limiter.rate_limited()
            self.limiter.learn(e.response.headers)
            raise
        except Exception:
            self.limiter.probed.set()  # requests queued behind the first must not hang
            raise
        finally:
            self.stats.in_flight -= 1

    def _stop(self, state: Any) -> bool:
        """Give up after max_attempts (a 429 gets RATE_LIMIT_PATIENCE times as many)."""
        exc = state.outcome.exception() if state.outcome else None
        limit = attempt_limit(exc, self.cfg.max_attempts)
        if not self.connected and connect_failure(exc) is not None:
            limit = min(limit, UNREACHABLE_ATTEMPTS)
        return bool(state.attempt_number >= limit)

    def _wait(self, state: Any) -> float:
        """Jittered exponential backoff, never shorter than the server's retry-after."""
        exc = state.outcome.exception() if state.outcome else None
        n, cfg = state.attempt_number, self.cfg
        base = backoff_base(exc, n, cfg.backoff_base_s, self.limiter.refusals)
        wait = retry_wait(exc, n, base, cfg.backoff_max_s, self.rng)
        if not self.connected and connect_failure(exc) is not None:
            return min(wait, UNREACHABLE_WAIT_S)
        return wait
