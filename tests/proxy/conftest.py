"""The LiteLLM proxy suite's session: the proxy and its two stand-in replicas (see
support/litellm.py). Without LiteLLM installed every test here skips and says why; installed
but failing to start, every test here fails with LiteLLM's log tail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.litellm import Pool, ProxyFailed, missing, running_pool


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    """LiteLLM on a free 127.0.0.1 port, routing "pool" to two rate-limited stand-ins."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    try:
        with running_pool(tmp_path_factory.mktemp("litellm")) as pool:
            yield pool
    except ProxyFailed as e:
        pytest.fail(f"LiteLLM is installed but did not start: {e}", pytrace=False)
