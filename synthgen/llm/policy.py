"""What the client does with a failed request: retry it (and how long to wait), ledger it as
refused, or give up; plus the readable message of an endpoint's error answer."""

from __future__ import annotations

import random
import re
import socket
from typing import TYPE_CHECKING, Any

import orjson

from synthgen.errors import EndpointConfigError, EndpointError, EndpointUnreachable
from synthgen.llm.limits import retry_after_seconds
from synthgen.llm.pacing import Refusals

if TYPE_CHECKING:
    import openai

RETRY_STATUS = {408, 409, 429}
# An endpoint that has never answered gets this many quick tries, waits of at most
# UNREACHABLE_WAIT_S, before the command stops: a wrong URL must not cost minutes of backoff.
UNREACHABLE_ATTEMPTS = 2
UNREACHABLE_WAIT_S = 1.0
RATE_LIMIT_PATIENCE = 4
# The backoff base of a first retry after an isolated 5xx (see `is_blip`).
BLIP_BASE_S = 0.05
# Statuses with their own handling: 400/422 may be a structured-output refusal to fall back
# from, 401/403/404 are configuration the user must fix. Any other non-retryable status
# refuses this one request (see `unexpected_status`).
HANDLED_STATUS = {400, 401, 403, 404, 422}


class RequestRejected(EndpointError):
    """The endpoint refused this one request (400/422, content filter): ledger it, go on."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class RequestFailed(EndpointError):
    """Retries ran out for this request (429s, 5xx, timeouts, connection errors)."""


def is_retryable(exc: BaseException) -> bool:
    """408/409/429/5xx, timeouts and connection errors may succeed on a later try."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return False


def connect_failure(exc: BaseException | None) -> str | None:
    """Why the connection itself failed (refused, host not found, timed out), or None when
    `exc` is not a failure to connect (a status, a slow answer, a dropped stream)."""
    import httpx2
    import openai

    if not isinstance(exc, openai.APIConnectionError):
        return None
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if not any(isinstance(c, httpx2.ConnectError | httpx2.ConnectTimeout) for c in chain):
        return None
    for c in chain:
        if isinstance(c, ConnectionRefusedError):
            return "connection refused"
        if isinstance(c, socket.gaierror):
            return "host not found"
        if isinstance(c, httpx2.ConnectTimeout | TimeoutError):
            return "connection timed out"
    return str(chain[-1]) or type(chain[-1]).__name__


def unreachable(base_url: str, reason: str) -> EndpointUnreachable:
    """The exit-2 error for an endpoint nothing in this process has connected to."""
    return EndpointUnreachable(
        f"cannot connect to {base_url}: {reason}",
        hint="is the server running? check --base-url / endpoint.base_url",
    )


def is_blip(exc: BaseException | None, refusals: Refusals) -> bool:
    """A 5xx while other requests are answered: a blip, whose first retry comes soon (work
    committed in job order means a request held back holds back the ones after it). 5xx
    answers that cluster, as an outage's do, back off as configured."""
    import openai

    return (
        isinstance(exc, openai.APIStatusError)
        and exc.status_code >= 500
        and "ok" in refusals.recent
        and not refusals.clustered("5xx")
    )


def backoff_base(exc: BaseException | None, attempt: int, base_s: float, r: Refusals) -> float:
    """The backoff base after failed attempt `attempt`: short while the failures are blips
    (the endpoint answers the other requests), so one unlucky request that fails twice does
    not hold back the work committed after it; the configured base once they cluster."""
    return min(base_s, BLIP_BASE_S) if is_blip(exc, r) else base_s


def attempt_limit(exc: BaseException | None, max_attempts: int) -> int:
    """Attempts allowed for a request failing with `exc`; a 429 says "later", not "broken"."""
    import openai

    if isinstance(exc, openai.RateLimitError):
        return max_attempts * RATE_LIMIT_PATIENCE
    return max_attempts


def retry_wait(
    exc: BaseException | None,
    attempt: int,
    base_s: float,
    max_s: float,
    rng: random.Random,
) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): jittered exponential backoff
    in [0.5, 1.0] × min(max_s, base_s·2^(attempt-1)), or the server's retry-after plus a
    little jitter (so a crowd of clients does not return in step), never less than it."""
    import openai

    backoff = min(max_s, base_s * 2 ** (attempt - 1))
    # Drawn even when the server says how long, so the jitter stream does not depend on it.
    backoff *= 0.5 + rng.random() / 2
    if isinstance(exc, openai.APIStatusError):
        server = retry_after_seconds(exc.response.headers)
        if server is not None:
            return float(server + rng.random() * min(0.05, server / 10 + 0.001))
    return float(backoff)


def unexpected_status(e: openai.APIStatusError) -> RequestRejected:
    """A status the client has no policy for (405, 413, 415, 451, ...): refuse this request
    only, so the stage ledgers it like a 400 instead of the run dying on it."""
    return RequestRejected(
        f"the endpoint answered HTTP {e.status_code}: {message(e)}", "request_rejected"
    )


def invalid_response(detail: str) -> RequestRejected:
    """A reply that is not a chat completion (not JSON, wrong shape, no choices)."""
    return RequestRejected(
        f"the endpoint's reply is not a chat completion: {detail}", "invalid_response"
    )


_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def json_message(e: Exception) -> str | None:
    """The `error.message` of an OpenAI-shaped error body, if there is one."""
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
    return None


def message(e: Exception) -> str:
    """What the endpoint said: its JSON message, else its (de-HTMLed) text body, else the
    HTTP reason phrase; proxies in front of endpoints answer 413 or 502 with an HTML page."""
    found = json_message(e)
    if found:
        return found
    body = getattr(e, "body", None)
    if isinstance(body, str):
        text = _SPACE.sub(" ", _TAG.sub(" ", body)).strip()
        if text:
            return text[:300]
    response: Any = getattr(e, "response", None)
    phrase = getattr(response, "reason_phrase", None)
    if isinstance(phrase, str) and phrase:
        return phrase
    return str(e)[:300]


def is_format_rejection(e: Exception) -> bool:
    """Does a 400/422 refuse the structured-output request itself (not, say, its length)?"""
    body = getattr(e, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(err, dict) and err.get("param") == "response_format":
        return True
    text = (json_message(e) or "").lower()
    return any(w in text for w in ("response_format", "json_schema", "json_object", "schema"))


# Answers that say the model name or the API key is wrong (LiteLLM answers an unknown model
# with a 400, and a key it cannot check without its database with "No connected db.").
_WRONG_MODEL = re.compile(
    r"invalid model name|unknown model|no such model|model_not_found|model[^.]{0,80}?"
    r"(?:does not exist|not found|is not (?:available|served|supported by this))",
    re.IGNORECASE,
)
_WRONG_KEY = re.compile(
    r"invalid[_ ]api[_ ]key|incorrect api key|api key (?:is )?(?:invalid|not valid)|"
    r"invalid proxy server token|authentication ?error|no connected db",
    re.IGNORECASE,
)
CONFIG_STRIKES = 3  # such answers in a row, none answered in between, before giving up
_SECRET = re.compile(r"\b(sk-|key-)[A-Za-z0-9_\-.]{6,}")


def wrong_model_or_key(e: Exception) -> str | None:
    """Does a 400/422 say the model name ("model") or the API key ("key") is wrong?"""
    if is_format_rejection(e):
        return None
    body = getattr(e, "body", None)
    text = message(e) + " " + (orjson.dumps(body).decode() if isinstance(body, dict) else "")
    if _WRONG_KEY.search(text):
        return "key"
    if _WRONG_MODEL.search(text):
        return "model"
    return None


def wrong_config(
    e: openai.APIStatusError, kind: str, endpoint: str, model: str, key_env: str
) -> EndpointConfigError:
    """The exit-2 error for an endpoint that keeps saying the model or the key is wrong."""
    said = _SECRET.sub(r"\1…", message(e))
    if kind == "model":
        return EndpointConfigError(
            f"{endpoint} does not serve model {model!r} (HTTP {e.status_code}: {said})",
            hint="check --model against the names the endpoint lists at <base-url>/models "
            "(behind a LiteLLM proxy: the model_name entries of its config)",
        )
    return EndpointConfigError(
        f"{endpoint} rejected the API key for model {model!r} (HTTP {e.status_code}: {said})",
        hint=f"check {key_env} (or SYNTHGEN_API_KEY); behind a LiteLLM proxy, use its master "
        "key or a virtual key it issued",
    )


def is_content_filter(e: Exception) -> bool:
    """Was the request refused by the provider's content filter?"""
    body = getattr(e, "body", None)
    text = orjson.dumps(body).decode() if isinstance(body, dict | list) else str(body)
    return "content_filter" in text or "content_management_policy" in text


def access_errors() -> tuple[type[Exception], ...]:
    """The SDK's errors that `access_error` explains (401, 403, 404)."""
    import openai

    return (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)


def access_error(e: Exception, endpoint: str, model: str, key_env: str) -> EndpointConfigError:
    """A 401, 403 or 404 as what to fix: the key, its permissions, or the model and URL."""
    import openai

    if isinstance(e, openai.AuthenticationError):
        return EndpointConfigError(
            f"{endpoint} rejected the API key (401): {message(e)}",
            hint=f"check {key_env} (or SYNTHGEN_API_KEY)",
        )
    if isinstance(e, openai.PermissionDeniedError):
        return EndpointConfigError(
            f"{endpoint} denied access (403): {message(e)}",
            hint="check the key's project and model permissions",
        )
    return EndpointConfigError(
        f"{endpoint}: model {model!r} or the chat endpoint was not found (404)",
        hint="check --model and --base-url (an OpenAI-compatible base URL ends in /v1)",
    )
