"""One async client over the openai SDK: cache, limits, retries, capability fallbacks."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from synthgen.errors import EndpointConfigError, EndpointError
from synthgen.llm.cache import Capabilities, ResponseCache, request_key
from synthgen.llm.cost import Budget
from synthgen.llm.limits import Clock, Limiter, retry_after_seconds
from synthgen.llm.tokens import estimate, messages_tokens
from synthgen.llm.types import Answer, ChatRequest, RequestStats, WireCompletion, endpoint_host
from synthgen.records import StructuredPath, Usage

if TYPE_CHECKING:
    from synthgen.config import EndpointConfig

# Structured-output paths, best first; an endpoint that rejects one falls to the next.
STRUCTURED_ORDER: tuple[StructuredPath, ...] = ("json_schema", "json_object", "prompted")
RETRY_STATUS = {408, 409, 429}
RATE_LIMIT_PATIENCE = 4


class RequestRejected(EndpointError):
    """The endpoint refused this one request (400/422, content filter): ledger it, go on."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class RequestFailed(EndpointError):
    """Retries ran out for this request (429s, 5xx, timeouts, connection errors)."""


def schema_instruction(schema: dict[str, Any]) -> str:
    """How the prompted-JSON fallback asks for structure in plain words."""
    return (
        "Reply with a single JSON value that conforms to this JSON schema, and nothing else.\n"
        "JSON schema:\n```json\n" + orjson.dumps(schema).decode() + "\n```"
    )


def _is_retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return False


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
    ) -> None:
        import openai

        self.cfg = cfg
        self.model = cfg.model
        self.endpoint = endpoint_host(cfg.base_url)
        self.cache, self.caps, self.budget = cache, capabilities, budget
        self.clock = clock or Clock()
        self.rng = rng or random.Random(0)  # jitter only; never affects what is asked
        self.limiter = Limiter(cfg.concurrency, cfg.rpm, cfg.tpm, self.clock)
        self.stats = RequestStats()
        self.sdk = openai.AsyncOpenAI(
            api_key=api_key, base_url=cfg.base_url, max_retries=0, timeout=cfg.timeout_s
        )

    async def close(self) -> None:
        await self.sdk.close()

    def key(self, req: ChatRequest, sample: int) -> str:
        return request_key(self.endpoint, req.identity(self.model), sample)

    def cached(self, req: ChatRequest, sample: int = 0) -> bool:
        return self.cache.get(self.key(req, sample)) is not None

    async def chat(self, req: ChatRequest) -> list[Answer]:
        """Exactly `req.n` answers, in sample order."""
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
        while missing:
            ask = len(missing) if self.caps.get("n", "native") == "native" else 1
            got = await self._send(req, ask, missing[0])
            if ask > 1 and len(got) < ask and self.caps.get("n", "native") == "native":
                self.caps.learn("n", "separate", f"asked n={ask}, got {len(got)} choices")
                self.stats.fallbacks.append("n_ignored")
            sampling = "n" if len(got) > 1 else ("separate" if req.n > 1 else "single")
            for i, a in zip(missing, got, strict=False):
                a = a.model_copy(update={"sampling": sampling, "key": keys[i]})
                self.cache.put(
                    keys[i],
                    endpoint=self.endpoint,
                    model=self.model,
                    body=a.model_dump(exclude={"cached", "key"}),
                    prompt_tokens=a.usage.prompt_tokens,
                    completion_tokens=a.usage.completion_tokens,
                    cost_usd=a.usage.cost_usd,
                )
                answers[i] = a
            missing = missing[len(got) :]
        out = [a for a in answers if a is not None]
        for a in out:
            self.stats.prompt_tokens += a.usage.prompt_tokens
            self.stats.completion_tokens += a.usage.completion_tokens
        return out

    def _kwargs(
        self, req: ChatRequest, n: int, sample: int, path: StructuredPath
    ) -> dict[str, Any]:
        messages = list(req.messages)
        kw: dict[str, Any] = {
            "model": self.model,
            "temperature": req.temperature,
            "top_p": req.top_p,
            "max_tokens": req.max_tokens,
        }
        if n > 1:
            kw["n"] = n
        if req.seed is not None:  # a separate sample needs its own seed to differ
            kw["seed"] = req.seed + sample
        schema = req.json_schema
        if schema is not None:
            if path == "json_schema":
                kw["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": req.schema_name, "schema": schema, "strict": False},
                }
            else:
                messages = [*messages, {"role": "system", "content": schema_instruction(schema)}]
                if path == "json_object":
                    # llama.cpp's server takes the schema inside json_object; others ignore it.
                    kw["response_format"] = {"type": "json_object", "schema": schema}
        kw["messages"] = messages
        return kw

    async def _send(self, req: ChatRequest, n: int, sample: int) -> list[Answer]:
        import openai

        while True:
            path: StructuredPath = "none"
            if req.json_schema is not None:
                path = self.caps.get("structured", "json_schema")  # type: ignore[assignment]
            kw = self._kwargs(req, n, sample, path)
            prompt_est = messages_tokens(kw["messages"], estimate)
            reservation = await self.budget.reserve_when_room(prompt_est, req.max_tokens * n)
            try:
                raw = await self._with_retries(kw, prompt_est + req.max_tokens * n)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
                self.budget.release(reservation)
                if path in ("json_schema", "json_object") and _is_format_rejection(e):
                    nxt = STRUCTURED_ORDER[STRUCTURED_ORDER.index(path) + 1]
                    self.caps.learn("structured", nxt, f"{path} rejected: {_message(e)}")
                    self.stats.fallbacks.append(f"{path}->{nxt}")
                    continue
                reason = "content_filter" if _is_content_filter(e) else "request_rejected"
                raise RequestRejected(f"{e.status_code}: {_message(e)}", reason) from e
            except BaseException:
                self.budget.release(reservation)
                raise
            try:
                completion = WireCompletion.model_validate_json(raw.http_response.content)
            except ValidationError as e:
                self.budget.release(reservation)
                raise RequestRejected(
                    f"the endpoint's reply is not a chat completion: {e.errors()[0]['msg']}",
                    "invalid_response",
                ) from e
            usage = completion.usage
            pt = usage.prompt_tokens if usage else prompt_est
            ct = (
                usage.completion_tokens
                if usage
                else sum(estimate(c.message.content or "") for c in completion.choices)
            )
            self.limiter.refund_tokens(req.max_tokens * n - ct)
            cost = self.budget.settle(reservation, pt, ct)
            return self._answers(completion, raw.request_id, path, pt, ct, cost)

    def _answers(
        self,
        completion: WireCompletion,
        request_id: str | None,
        path: StructuredPath,
        pt: int,
        ct: int,
        cost: float,
    ) -> list[Answer]:
        choices = sorted(completion.choices, key=lambda c: c.index)
        k = max(1, len(choices))
        lengths = [len(c.message.content or "") + 1 for c in choices]
        total = sum(lengths) or 1
        out = []
        for c, length in zip(choices, lengths, strict=True):
            share = length / total
            out.append(
                Answer(
                    content=c.message.content,
                    finish_reason=c.finish_reason,
                    request_id=request_id or completion.id,
                    resolved_model=completion.model or self.model,
                    structured=path,
                    sampling="single",
                    usage=Usage(
                        prompt_tokens=pt // k,
                        completion_tokens=round(ct * share),
                        cost_usd=cost * share,
                    ),
                )
            )
        return out

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
                if not _is_retryable(e):
                    raise
                first_failure = e
            retrying = AsyncRetrying(
                stop=self._stop,
                retry=retry_if_exception(_is_retryable),
                wait=self._wait,
                sleep=self.clock.sleep,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    if first_failure is not None:
                        failure, first_failure = first_failure, None
                        raise failure
                    self.stats.retried += 1
                    return await self._once(kw, tokens)
        except openai.AuthenticationError as e:
            raise EndpointConfigError(
                f"{self.endpoint} rejected the API key (401): {_message(e)}",
                hint=f"check {self.cfg.api_key_env} (or SYNTHGEN_API_KEY)",
            ) from e
        except openai.PermissionDeniedError as e:
            raise EndpointConfigError(
                f"{self.endpoint} denied access (403): {_message(e)}",
                hint="check the key's project and model permissions",
            ) from e
        except openai.NotFoundError as e:
            raise EndpointConfigError(
                f"{self.endpoint}: model {self.model!r} or the chat endpoint was not found (404)",
                hint="check --model and --base-url (an OpenAI-compatible base URL ends in /v1)",
            ) from e
        except (openai.APIConnectionError, openai.APIStatusError) as e:
            if not _is_retryable(e):
                raise
            self.stats.failed += 1
            raise RequestFailed(f"gave up after retrying: {type(e).__name__}: {_message(e)}") from e
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, kw: dict[str, Any], tokens: int) -> Any:
        import openai

        await self.limiter.wait_turn(tokens)
        async with self.limiter.slots:
            if kw.get("n", 1) > 1 and self.caps.get("n", "native") != "native":
                # Learned while this request waited its turn: don't ask for n again.
                kw = {k: v for k, v in kw.items() if k != "n"}
            self.stats.sent += 1
            try:
                raw = await self.sdk.chat.completions.with_raw_response.create(**kw)
            except openai.APIConnectionError:
                self.limiter.probed.set()
                raise
            except openai.APIStatusError as e:
                self.limiter.probed.set()
                if e.status_code == 429:
                    self.stats.rate_limited += 1
                    wait = retry_after_seconds(e.response.headers)
                    self.limiter.cool_down(wait if wait is not None else 1.0)
                    self.limiter.rate_limited()
                self.limiter.learn(e.response.headers)
                raise
        self.limiter.learn(raw.headers)
        self.limiter.succeeded()
        self.limiter.probed.set()
        return raw

    def _stop(self, state: Any) -> bool:
        """Give up after max_attempts; a 429 says "later", not "broken", so it gets 4x."""
        import openai

        exc = state.outcome.exception() if state.outcome else None
        limit = self.cfg.max_attempts
        if isinstance(exc, openai.RateLimitError):
            limit *= RATE_LIMIT_PATIENCE
        return bool(state.attempt_number >= limit)

    def _wait(self, state: Any) -> float:
        """Jittered exponential backoff, never shorter than the server's retry-after."""
        import openai

        exc = state.outcome.exception() if state.outcome else None
        backoff = min(
            self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2 ** (state.attempt_number - 1)
        )
        backoff *= 0.5 + self.rng.random() / 2
        if isinstance(exc, openai.APIStatusError):
            server = retry_after_seconds(exc.response.headers)
            if server is not None:
                return float(server + self.rng.random() * min(0.05, server / 10 + 0.001))
        return float(backoff)


def _message(e: Exception) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
    return str(e)[:300]


def _is_format_rejection(e: Exception) -> bool:
    """Does a 400/422 refuse the structured-output request itself (not, say, its length)?"""
    body = getattr(e, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(err, dict) and err.get("param") == "response_format":
        return True
    text = _message(e).lower()
    return any(w in text for w in ("response_format", "json_schema", "json_object", "schema"))


def _is_content_filter(e: Exception) -> bool:
    body = getattr(e, "body", None)
    text = orjson.dumps(body).decode() if isinstance(body, dict | list) else str(body)
    return "content_filter" in text or "content_management_policy" in text
