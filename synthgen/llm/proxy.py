"""Telltales of a router or proxy between synthgen and the model (LiteLLM, gateways): its
rate-limit headers describe one upstream, not the pool, and it may hide which model answered."""

from __future__ import annotations

from collections.abc import Mapping

# Header-name prefixes a router adds to its answers, by router (documented by each).
_TELLTALES: tuple[tuple[str, str], ...] = (
    ("x-litellm-", "litellm"),
    ("llm_provider-", "litellm"),  # LiteLLM's copy of each upstream header
    ("ngrok-aig-", "ngrok-ai-gateway"),
    ("cf-aig-", "cloudflare-ai-gateway"),
    ("x-portkey-", "portkey"),
)
# Headers that name the upstream model which produced an answer, best first.
_UPSTREAM_MODEL = ("x-litellm-model-name", "ngrok-aig-model")
# Where LiteLLM keeps the upstream's own headers when it passes them on.
UPSTREAM_PREFIX = "llm_provider-"


def router_of(headers: Mapping[str, str]) -> str | None:
    """The router whose telltale headers an answer carries, or None for a direct answer."""
    for name in headers:
        low = name.lower()
        for prefix, router in _TELLTALES:
            if low.startswith(prefix):
                return router
    return None


def upstream_model(headers: Mapping[str, str]) -> str | None:
    """The upstream model a router says answered (it may put its own alias in the body)."""
    for name in _UPSTREAM_MODEL:
        value = headers.get(name)
        if value and value.strip():
            return value.strip()[:200]
    return None


def limit_is_upstreams(headers: Mapping[str, str], name: str) -> bool:
    """Does the `name` limit a router announces come from one upstream (not its own key
    limit)? LiteLLM passes an upstream's limit on under both names; its own only plain."""
    plain = headers.get(name)
    relayed = headers.get(UPSTREAM_PREFIX + name)
    return relayed is None or plain is None or relayed.strip() == plain.strip()
