"""What one review serves, shared by the app and its routes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthgen.webui.labels import AuditBook
from synthgen.webui.seedsbook import SeedsBook

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"


@dataclass
class Review:
    """What one review serves: the runs or datasets, the audit sample, the seed file."""

    paths: tuple[Path, ...]
    audit: AuditBook
    seeds: SeedsBook | None
    token: str
    port: int

    @property
    def cookie(self) -> str:
        """The token's cookie, named per port (cookies ignore ports; two reviews may run)."""
        return f"synthgen_review_{self.port}"
