"""A stage's clients by the part each plays, fixed once they are built: who generates, who
judges, and who answers in turn when K responses are asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from synthgen.llm.client import LLMClient

Role = Literal["generator", "judge", "responder"]


@dataclass(frozen=True)
class Clients:
    """The clients by role; `generator` is None for a stage that generates nothing."""

    generator: LLMClient | None = None
    judges: tuple[LLMClient, ...] = ()
    responders: tuple[LLMClient, ...] = ()

    @classmethod
    def by_role(cls, roles: Sequence[Role], clients: Sequence[LLMClient]) -> Clients:
        """Group `clients` by `roles` (one each, in the same order); the first generator
        generates."""
        pairs = list(zip(roles, clients, strict=True))
        gens = [c for r, c in pairs if r == "generator"]
        return cls(
            gens[0] if gens else None,
            tuple(c for r, c in pairs if r == "judge"),
            tuple(c for r, c in pairs if r == "responder"),
        )
