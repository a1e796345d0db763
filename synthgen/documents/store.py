"""Extracted texts stored once by their sha256, so every span can be recomputed later."""

from __future__ import annotations

import re
from pathlib import Path

from synthgen.core.jsonl import write_atomic
from synthgen.errors import InputError
from synthgen.records import sha256_hex

_SHA = re.compile(r"[0-9a-f]{64}")


class TextStore:
    """`<root>/<sha256>.txt` in UTF-8: write-once, atomic, named by the text's own hash."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, text_sha256: str) -> Path:
        """Where a text with this sha256 is (or would be) stored."""
        if not _SHA.fullmatch(text_sha256):
            raise ValueError(f"not a sha256: {text_sha256!r}")
        return self.root / f"{text_sha256}.txt"

    def put(self, text: str) -> str:
        """Store `text` unless it is there already (a stored copy that no longer matches its
        name is written again); its sha256."""
        data = text.encode("utf-8")
        digest = sha256_hex(data)
        target = self.path(digest)
        try:
            intact = sha256_hex(target.read_bytes()) == digest
        except OSError:
            intact = False
        if not intact:
            # Bytes, not text mode: newlines are kept as they are, so offsets stay exact.
            write_atomic(target, data)
        return digest

    def get(self, text_sha256: str) -> str:
        """The stored text; an InputError if it is missing or no longer hashes to its name."""
        target = self.path(text_sha256)
        try:
            data = target.read_bytes()
        except OSError as e:
            raise InputError(
                str(target),
                f"the stored document text is missing ({e.strerror})",
                hint="rerun to store it again, or restore the documents folder",
            ) from e
        if sha256_hex(data) != text_sha256:
            raise InputError(
                str(target),
                "the stored document text was changed: its sha256 no longer matches its name",
                hint="delete the file and rerun to store it again",
            )
        return data.decode("utf-8")

    def __contains__(self, text_sha256: object) -> bool:
        return isinstance(text_sha256, str) and self.path(text_sha256).exists()
