"""Endpoint URLs as synthgen writes them down: a host name, never a key or a query."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def endpoint_host(base_url: str | None) -> str:
    """host[:port] of an endpoint, never its credentials, path or query."""
    if not base_url:
        return "api.openai.com"
    parts = urlsplit(base_url)
    host = parts.hostname or "unknown"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def scrub_url(url: str | None) -> str | None:
    """scheme://host[:port]/path of a URL: user info, query and fragment removed."""
    if not url:
        return url
    parts = urlsplit(url)
    return f"{parts.scheme}://{endpoint_host(url)}{parts.path}"


def is_local(base_url: str | None) -> bool:
    """Whether the endpoint runs on this machine, where no API key is needed."""
    return bool(base_url) and (urlsplit(base_url or "").hostname or "") in LOCAL_HOSTS


def scrub_urls(tree: Any) -> Any:
    """A settings tree with every `…base_url` value scrubbed, however deep it lies."""
    if isinstance(tree, dict):
        return {
            k: scrub_url(v) if k.endswith("base_url") and isinstance(v, str) else scrub_urls(v)
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [scrub_urls(v) for v in tree]
    return tree
